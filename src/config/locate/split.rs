//! Reading a large config in parts, on several threads.
//!
//! The parser is the slowest part of loading a large config, and it is
//! sequential; a tree of the whole file is also its largest use of memory. A
//! config is mostly its `sites:` mapping, and in block style every site
//! starts on a line indented exactly as much as the first one. Such a text
//! is cut there into parts: the text before the first site and the text
//! after `sites:` (joined into the root tree), and runs of whole sites, each
//! parsed on its own when it is checked (see `config::parts::check_runs`). A run's
//! tree holds what a single pass holds for those sites.
//!
//! The cut is a guess made on lines, so it is checked by the parts
//! themselves: each must parse cleanly, with nothing a part on its own
//! cannot read (anchors, aliases, document markers, tags). Anything else and
//! the caller reads the text in one pass, as it would a small text.

use std::ops::Range;

use super::{Duplicate, Entry, Kind, Limits, Node, Seg, Tree, YamlPath, text_str};

/// Where a text can be cut: byte ranges of the head (up to and including
/// the `sites:` line), of each run of sites, and of the tail; and the line
/// each starts on.
#[derive(Debug, PartialEq, Eq)]
struct Cut {
    head: Range<usize>,
    runs: Vec<(Range<usize>, usize)>,
    tail: (Range<usize>, usize),
}

/// Finds the cut into `parts` runs of sites, if the text has the shape for
/// one. One pass over the lines, keeping only where sites start.
fn cut(text: &str, parts: usize) -> Option<Cut> {
    let is_sites = |l: &str| {
        let rest = l.trim_end();
        rest == "sites:"
            || rest
                .strip_prefix("sites:")
                .is_some_and(|r| r.trim_start().starts_with('#') && r.starts_with([' ', '\t']))
    };
    let marker = |l: &str| l.starts_with("---") || l.starts_with("...") || l.starts_with('%');
    /// Where the scan is: before `sites:`, in its block (with the site
    /// keys' indentation once known), or after it.
    enum At {
        Before,
        Block(Option<usize>),
        After,
    }
    let mut state = At::Before;
    // Byte offset and 1-based line number of each site key, and of the
    // first line after the block.
    let mut starts: Vec<(usize, usize)> = Vec::new();
    let mut tail_start: Option<(usize, usize)> = None;
    let mut offset = 0;
    let mut lines = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let (at, number) = (offset, i + 1);
        offset += line.len();
        lines = number;
        // A second document, or a second `sites:`, is not cut.
        if marker(line) {
            return None;
        }
        let indent = match state {
            At::Before | At::After => {
                if is_sites(line) {
                    if matches!(state, At::After) {
                        return None;
                    }
                    state = At::Block(None);
                }
                continue;
            }
            At::Block(indent) => indent,
        };
        // The block: blank and comment lines, and lines indented with spaces.
        let content = line.trim_start_matches(' ');
        let spaces = line.len() - content.len();
        let blank = content.trim().is_empty() || content.starts_with('#');
        if blank {
            continue;
        }
        if spaces == 0 {
            tail_start = Some((at, number));
            state = At::After;
            if is_sites(line) {
                return None;
            }
            continue;
        }
        if content.starts_with('\t') {
            return None;
        }
        let indent = indent.unwrap_or(spaces);
        state = At::Block(Some(indent));
        if spaces < indent {
            return None;
        }
        if spaces == indent {
            // A site key: lower-case letters and digits start one.
            if !content.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit()) {
                return None;
            }
            starts.push((at, number));
        }
    }
    // At least two sites per run, and two runs.
    let parts = parts.min(starts.len() / 2);
    if parts < 2 {
        return None;
    }
    let tail_start = tail_start.unwrap_or((text.len(), lines + 1));
    let per_part = starts.len().div_ceil(parts);
    let runs = starts
        .chunks(per_part)
        .enumerate()
        .map(|(i, run)| {
            let (start, line) = run[0];
            let next = starts.get((i + 1) * per_part).map_or(tail_start.0, |s| s.0);
            (start..next, line)
        })
        .collect();
    Some(Cut {
        head: 0..starts[0].0,
        runs,
        tail: (tail_start.0..text.len(), tail_start.1),
    })
}

/// A large text cut at its site keys: the tree of everything but the sites
/// (`sites` an empty mapping where the first site starts), and the runs of
/// sites, each parsed on demand into a tree of its own whose paths start at
/// `sites`. Checking a run at a time keeps only a few runs' trees in memory.
pub struct Runs<'s> {
    /// Everything but the sites.
    pub root: Tree<'s>,
    source: &'s str,
    runs: Vec<(Range<usize>, usize)>,
    limits: Limits,
}

impl<'s> Runs<'s> {
    /// Cuts `text` into `parts` runs of sites when it has the shape for it
    /// (see the module docs); `None` otherwise.
    pub fn cut(text: &'s str, limits: Limits, parts: usize) -> Option<Runs<'s>> {
        let cut = cut(text, parts)?;
        let head = Tree::build_part(text, cut.head.clone(), 1, limits)?;
        let tail = Tree::build_part(text, cut.tail.0.clone(), cut.tail.1, limits)?;
        let first = cut.runs.first()?;
        // Where the first site's key is: the sites mapping starts there.
        let first_site = first_key_pos(text, first.0.start, first.1)?;
        let root = join_root(head, tail, first_site)?;
        Some(Runs {
            root,
            source: text,
            runs: cut.runs,
            limits: Limits {
                // A run is a mapping one level down.
                max_depth: limits.max_depth.saturating_sub(1),
                ..limits
            },
        })
    }

    pub fn len(&self) -> usize {
        self.runs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// The tree of run `i`, or `None` when it cannot be read as its part of
    /// the document (the caller then reads the whole text in one pass).
    pub fn tree(&self, i: usize) -> Option<Tree<'s>> {
        let (range, line) = self.runs.get(i)?;
        let mut tree = Tree::build_part(self.source, range.clone(), *line, self.limits)?;
        if !joinable(&tree) || tree.root.is_none() {
            return None;
        }
        tree.under = Some("sites");
        for d in &mut tree.duplicates {
            d.parent.0.insert(0, Seg::Key("sites".into()));
        }
        Some(tree)
    }
}

/// The position of the first non-blank character on the line starting at
/// byte `at` (line `line`).
fn first_key_pos(text: &str, at: usize, line: usize) -> Option<super::At> {
    let rest = text.get(at..)?;
    let col = rest.chars().take_while(|c| *c == ' ').count() + 1;
    Some(super::At {
        line: u32::try_from(line).ok()?,
        col: u32::try_from(col).ok()?,
    })
}

/// Whether a part's tree can stand for its part of the document: parsed cleanly, one mapping (or
/// nothing, for a tail of comments), no anchors or aliases.
fn joinable(tree: &Tree<'_>) -> bool {
    tree.unreadable.is_none()
        && tree.aliases == 0
        && tree.anchors.is_empty()
        && tree
            .root
            .is_none_or(|r| matches!(tree.nodes.get(r).map(|n| &n.kind), Some(Kind::Map(_))))
}

/// The root mapping's entries of a part, taken out of it.
fn take_root_entries(tree: &mut Tree<'_>) -> Vec<Entry> {
    match tree
        .root
        .and_then(|r| tree.nodes.get_mut(r))
        .map(|n| &mut n.kind)
    {
        Some(Kind::Map(map)) => std::mem::take(&mut map.entries),
        _ => Vec::new(),
    }
}

/// Moves the nodes of `part` to the end of `into`; returns the offset added
/// to their ids.
fn append_nodes(into: &mut Tree<'_>, part: &mut Tree<'_>) -> usize {
    let offset = into.nodes.len();
    for mut node in part.nodes.drain(..) {
        match &mut node.kind {
            Kind::Seq(items) => items.iter_mut().for_each(|i| *i += offset),
            Kind::Map(map) => map.entries.iter_mut().for_each(|e| e.value += offset),
            Kind::Scalar { .. } | Kind::Alias(_) => {}
        }
        into.nodes.push(node);
    }
    offset
}

/// Adds an entry to the mapping `map_id`, recording a duplicate key as a
/// single pass would (the first entry wins).
fn add_entry(tree: &mut Tree<'_>, map_id: usize, parent: &YamlPath, entry: Entry) {
    let source = tree.source;
    let Some(Node {
        kind: Kind::Map(map),
        ..
    }) = tree.nodes.get_mut(map_id)
    else {
        return;
    };
    let key = text_str(source, &entry.key);
    if let Some(first) = map.find(source, key).and_then(|i| map.entries.get(i)) {
        tree.duplicates.push(Duplicate {
            parent: parent.clone(),
            key: key.to_string(),
            first: first.key_pos.into(),
            second: entry.key_pos.into(),
        });
    }
    map.push_entry(source, entry);
}

/// The head and tail joined into one root mapping, with `sites` (the end of
/// the head, so an empty scalar there) an empty mapping at `sites_pos`.
fn join_root<'s>(mut head: Tree<'s>, mut tail: Tree<'s>, sites_pos: super::At) -> Option<Tree<'s>> {
    if !joinable(&head) || !joinable(&tail) {
        return None;
    }
    let source = head.source;
    let root = head.root?;
    let sites_entry = match head.nodes.get(root).map(|n| &n.kind) {
        Some(Kind::Map(map)) => map
            .entries
            .iter()
            .rposition(|e| text_str(source, &e.key) == "sites")?,
        _ => return None,
    };
    let sites_id = head.nodes.len();
    head.nodes.push(Node {
        pos: sites_pos,
        kind: Kind::Map(Box::default()),
    });
    if let Some(Node {
        kind: Kind::Map(map),
        ..
    }) = head.nodes.get_mut(root)
    {
        map.entries.get_mut(sites_entry)?.value = sites_id;
    }
    let entries = take_root_entries(&mut tail);
    let offset = append_nodes(&mut head, &mut tail);
    for mut entry in entries {
        entry.value += offset;
        add_entry(&mut head, root, &YamlPath::root(), entry);
    }
    head.duplicates.append(&mut tail.duplicates);
    Some(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every node's path, position and value, and every key's position.
    fn listing(tree: &Tree<'_>) -> Vec<String> {
        let mut out = Vec::new();
        let mut todo = vec![(tree.root, String::new())];
        while let Some((id, path)) = todo.pop() {
            let Some(node) = id.and_then(|id| tree.nodes.get(id)) else {
                continue;
            };
            match &node.kind {
                Kind::Scalar { text, typed } => out.push(format!(
                    "{path} {:?} {:?} {typed}",
                    node.pos,
                    text_str(tree.source, text)
                )),
                Kind::Seq(items) => {
                    out.push(format!("{path} {:?} seq", node.pos));
                    for (i, item) in items.iter().enumerate() {
                        todo.push((Some(*item), format!("{path}[{i}]")));
                    }
                }
                Kind::Map(map) => {
                    out.push(format!("{path} {:?} map", node.pos));
                    for e in &map.entries {
                        let key = text_str(tree.source, &e.key);
                        out.push(format!("{path}.{key} key {:?}", e.key_pos));
                        todo.push((Some(e.value), format!("{path}.{key}")));
                    }
                }
                Kind::Alias(a) => out.push(format!("{path} alias {a}")),
            }
        }
        out.sort();
        out
    }

    /// The root tree and the runs' trees hold what a single pass holds.
    fn same_as_one_pass(text: &str) {
        let one = Tree::build(text);
        let runs =
            Runs::cut(text, Limits::UNBOUNDED, 3).unwrap_or_else(|| panic!("not cut:\n{text}"));
        let (mut ours, mut dups): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
        let in_sites = |l: &String| l.starts_with(".sites.");
        ours.extend(listing(&runs.root).into_iter().filter(|l| !in_sites(l)));
        let sites = YamlPath::root().key("sites");
        let listed = |d: &Duplicate| (d.parent != sites).then(|| format!("{d:?}"));
        dups.extend(runs.root.duplicates.iter().filter_map(listed));
        for i in 0..runs.len() {
            let mut run = runs.tree(i).expect("run");
            assert!(run.readable());
            ours.extend(
                listing(&run)
                    .into_iter()
                    .filter(|l| l.starts_with('.'))
                    .map(|l| format!(".sites{l}")),
            );
            dups.extend(run.take_duplicates().iter().filter_map(listed));
        }
        ours.sort();
        assert_eq!(ours, listing(&one), "{text}");
        // Duplicate site keys are found when the runs are checked (see
        // `config::parts::check_runs`).
        let mut expected: Vec<String> = one.duplicates.iter().filter_map(listed).collect();
        expected.sort();
        dups.sort();
        assert_eq!(dups, expected);
    }

    #[test]
    fn joins_into_the_tree_one_pass_builds() {
        same_as_one_pass(
            &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/agency.yaml"))
                .expect("example"),
        );
        same_as_one_pass(
            "version: 2\npeople:\n  a: {email: a@x.example}\nsites: # the sites\n\n  s1:\n    access: [{person: a, role: Admin}]\n  # a comment\n  s2:\n    access:\n      - person: a\n        roles: [\"Blog Writer\", 'x']\n  s3: {access: []}\n  s1:\n    access: []\n  s4:\n    note: >\n      folded\n      text\n    owner: {email: \"o@x.example\",\n       name: O}\n# after\nsafety:\n  max_removals_per_site: 3\npeople: {}\n",
        );
    }

    #[test]
    fn leaves_other_shapes_to_one_pass() {
        let sites = "  s1: {a: 1}\n  s2: {a: 1}\n  s3: {a: 1}\n  s4: {a: 1}\n";
        for text in [
            format!("sites:\n{sites}  s5: &x {{a: 1}}\n  s6: *x\n"),
            format!("sites:\n{sites}---\nb: 1\n"),
            format!("sites:\n{sites}  - x\n"),
            format!("sites:\n{sites}  s5: !!str x\n"),
            format!("sites:\n{sites}  s5: [1\n  s6: 2\n"),
            format!("sites: {{}}\nx:\n{sites}"),
            "sites:\n  s1: 1\n".to_string(),
        ] {
            assert!(
                Runs::cut(&text, Limits::UNBOUNDED, 2)
                    .is_none_or(|runs| (0..runs.len()).any(|i| runs.tree(i).is_none())),
                "{text}"
            );
        }
    }
}
