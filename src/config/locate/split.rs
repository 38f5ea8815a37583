//! Building the tree of a large config on several threads.
//!
//! The parser is the slowest part of loading a large config, and it is
//! sequential. A config is mostly its `sites:` mapping, and in block style
//! every site starts on a line indented exactly as much as the first one.
//! Such a text is cut there into parts: the text before the first site, runs
//! of whole sites, and the text after `sites:`. Each part is parsed on its
//! own and the trees are joined: the same tree a single pass builds.
//!
//! The cut is a guess made on lines, so it is checked by the parts
//! themselves: each must parse cleanly, with nothing this joining does not
//! understand (anchors, aliases, document markers, tags). Anything else and
//! the caller builds the tree in one pass, as it would for a small text.

use std::ops::Range;

use super::{Duplicate, Entry, Kind, Limits, MapNode, Node, Seg, Tree, YamlPath, text_str};

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
/// one.
fn cut(text: &str, parts: usize) -> Option<Cut> {
    // Lines with their byte offset and 1-based number.
    let mut lines = Vec::new();
    let mut at = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        lines.push((at, i + 1, line));
        at += line.len();
    }
    let is_sites = |l: &str| {
        let rest = l.trim_end();
        rest == "sites:"
            || rest
                .strip_prefix("sites:")
                .is_some_and(|r| r.trim_start().starts_with('#') && r.starts_with([' ', '\t']))
    };
    let marker = |l: &str| l.starts_with("---") || l.starts_with("...") || l.starts_with('%');
    if lines.iter().any(|(_, _, l)| marker(l)) {
        return None;
    }
    let mut found = lines
        .iter()
        .enumerate()
        .filter(|(_, (_, _, l))| is_sites(l));
    let (sites_line, _) = found.next()?;
    if found.next().is_some() {
        return None;
    }
    // The block: blank and comment lines, and lines indented with spaces.
    let body_start = sites_line + 1;
    let mut end = body_start;
    let mut indent = None;
    let mut starts = Vec::new();
    while let Some((offset, number, line)) = lines.get(end) {
        let content = line.trim_start_matches(' ');
        let spaces = line.len() - content.len();
        let blank = content.trim().is_empty() || content.starts_with('#');
        if !blank && spaces == 0 {
            break;
        }
        if content.starts_with('\t') {
            return None;
        }
        if !blank {
            let indent = *indent.get_or_insert(spaces);
            if spaces < indent {
                return None;
            }
            if spaces == indent {
                // A site key: lower-case letters and digits start one.
                if !content.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit()) {
                    return None;
                }
                starts.push((*offset, *number));
            }
        }
        end += 1;
    }
    if starts.len() < parts * 2 {
        return None;
    }
    let tail_start = lines
        .get(end)
        .map_or((text.len(), lines.len() + 1), |(o, n, _)| (*o, *n));
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

impl<'s> Tree<'s> {
    /// Builds the tree of `text` on `threads` threads when it has the shape
    /// for it (see the module docs); `None` otherwise.
    pub fn build_split(text: &'s str, limits: Limits, threads: usize) -> Option<Tree<'s>> {
        let cut = cut(text, threads.max(2))?;
        // A run is a mapping one level down.
        let run_limits = Limits {
            max_depth: limits.max_depth.saturating_sub(1),
            ..limits
        };
        let (head, runs, tail) = std::thread::scope(|scope| {
            let handles: Vec<_> = cut
                .runs
                .iter()
                .map(|(range, line)| {
                    let range = range.clone();
                    scope.spawn(move || Tree::build_part(text, range, *line, run_limits))
                })
                .collect();
            let head = Tree::build_part(text, cut.head.clone(), 1, limits);
            let tail = Tree::build_part(text, cut.tail.0.clone(), cut.tail.1, limits);
            let runs: Vec<Option<Tree<'s>>> = handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect();
            (head, runs, tail)
        });
        let runs: Vec<Tree<'s>> = runs.into_iter().collect::<Option<_>>()?;
        join(head?, runs, tail?, limits)
    }
}

/// Whether a part's tree can be joined: parsed cleanly, one mapping (or
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

fn join<'s>(
    mut head: Tree<'s>,
    runs: Vec<Tree<'s>>,
    mut tail: Tree<'s>,
    limits: Limits,
) -> Option<Tree<'s>> {
    if !joinable(&head) || !joinable(&tail) || !runs.iter().all(joinable) {
        return None;
    }
    let total: usize =
        head.nodes.len() + tail.nodes.len() + runs.iter().map(|r| r.nodes.len()).sum::<usize>();
    if total > limits.max_nodes {
        return None;
    }
    let source = head.source;
    let root = head.root?;
    // `sites:` ends the head, so its value is an empty scalar; the sites
    // mapping takes its place, where the first site starts (as a single
    // pass places it).
    let sites_entry = match head.nodes.get(root).map(|n| &n.kind) {
        Some(Kind::Map(map)) => map
            .entries
            .iter()
            .rposition(|e| text_str(source, &e.key) == "sites")?,
        _ => return None,
    };
    let first_pos = runs
        .first()
        .and_then(|r| r.root)
        .and_then(|id| runs.first()?.nodes.get(id))
        .map(|n| n.pos)?;
    let sites_id = head.nodes.len();
    head.nodes.push(Node {
        pos: first_pos,
        kind: Kind::Map(Box::default()),
    });
    if let Some(Node {
        kind: Kind::Map(map),
        ..
    }) = head.nodes.get_mut(root)
    {
        map.entries.get_mut(sites_entry)?.value = sites_id;
    }
    let sites_path = YamlPath::root().key("sites");
    head.nodes.reserve(total);
    // Each part is dropped once it is in: the nodes are never held twice
    // over.
    for mut run in runs {
        let run = &mut run;
        let entries = take_root_entries(run);
        let offset = append_nodes(&mut head, run);
        for mut entry in entries {
            entry.value += offset;
            add_entry(&mut head, sites_id, &sites_path, entry);
        }
        head.duplicates
            .extend(run.duplicates.drain(..).map(|mut d| {
                d.parent.0.insert(0, Seg::Key("sites".into()));
                d
            }));
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

impl MapNode {
    /// Appends an entry, keeping the index of a large mapping.
    pub(super) fn push_entry(&mut self, source: &str, entry: Entry) {
        let at = self.entries.len();
        let name: Box<str> = text_str(source, &entry.key).into();
        self.entries.push(entry);
        match &mut self.index {
            Some(index) => {
                index.entry(name).or_insert(at);
            }
            None if self.entries.len() > super::INDEX_ABOVE => self.build_index(source),
            None => {}
        }
    }
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

    fn same_as_one_pass(text: &str) {
        let one = Tree::build(text);
        let split = Tree::build_split(text, Limits::UNBOUNDED, 2)
            .unwrap_or_else(|| panic!("not split:\n{text}"));
        assert_eq!(listing(&split), listing(&one), "{text}");
        let dups = |t: &Tree<'_>| {
            let mut d: Vec<String> = t.duplicates.iter().map(|d| format!("{d:?}")).collect();
            d.sort();
            d
        };
        assert_eq!(dups(&split), dups(&one));
        assert_eq!(split.value(&YamlPath::root()), one.value(&YamlPath::root()));
        assert!(split.readable());
    }

    #[test]
    fn joins_into_the_tree_one_pass_builds() {
        same_as_one_pass(
            &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/agency.yaml"))
                .expect("example"),
        );
        same_as_one_pass(
            "version: 1\npeople:\n  a: {email: a@x.example}\nsites: # the sites\n\n  s1:\n    access: [{person: a, role: Admin}]\n  # a comment\n  s2:\n    access:\n      - person: a\n        roles: [\"Blog Writer\", 'x']\n  s3: {access: []}\n  s1:\n    access: []\n  s4:\n    note: >\n      folded\n      text\n    owner: {email: \"o@x.example\",\n       name: O}\n# after\nsafety:\n  max_removals_per_site: 3\npeople: {}\n",
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
                Tree::build_split(&text, Limits::UNBOUNDED, 2).is_none(),
                "{text}"
            );
        }
    }
}
