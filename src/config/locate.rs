//! Where things are in the YAML text.
//!
//! serde turns the document into values and forgets positions; this module
//! keeps them. It builds a small tree of positions from the parser's events
//! (the same parser serde-saphyr uses, so both agree on what the text means)
//! and answers "where is the value at `/sites/acme/access/0/role`?" and
//! "where is the key `acess`?". Building the tree also finds duplicate
//! mapping keys, which serde-saphyr is told to tolerate so that they can be
//! reported together with every other problem.
//!
//! The tree is built only after serde-saphyr has accepted the document within
//! its budget, so its size and depth are bounded. Building uses an explicit
//! stack, and lookups are loops, so nothing here recurses on input.
//! Aliases are not expanded: an alias node points at its anchor's node, and a
//! lookup that passes through one reports positions inside the anchor.

use std::collections::HashMap;
use std::fmt;

use serde_saphyr::granit_parser::{Event, Parser, Span};

use crate::model::Pos;

/// One step of a path into the document.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A path into the document, e.g. `sites.acme.access[0].role`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YamlPath(pub Vec<Seg>);

impl YamlPath {
    pub fn root() -> Self {
        YamlPath(Vec::new())
    }

    pub fn key(&self, key: &str) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Key(key.to_string()));
        YamlPath(segs)
    }

    pub fn index(&self, index: usize) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Index(index));
        YamlPath(segs)
    }

    pub fn segs(&self) -> &[Seg] {
        &self.0
    }

    /// The last key with any list indexes after it: `roles`, `seo[1]`,
    /// `access[0]`. Names the thing in messages; the position says where.
    pub fn name(&self) -> String {
        let mut tail = String::new();
        for seg in self.0.iter().rev() {
            match seg {
                Seg::Index(i) => tail.insert_str(0, &format!("[{i}]")),
                Seg::Key(k) => return format!("{k}{tail}"),
            }
        }
        if tail.is_empty() {
            "the file".to_string()
        } else {
            tail
        }
    }

    /// The last key, if the path ends in one.
    pub fn last_key(&self) -> Option<&str> {
        match self.0.last() {
            Some(Seg::Key(k)) => Some(k),
            _ => None,
        }
    }
}

impl fmt::Display for YamlPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for seg in &self.0 {
            match seg {
                Seg::Key(k) if first => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(i) => write!(f, "[{i}]")?,
            }
            first = false;
        }
        Ok(())
    }
}

/// A key that appears twice in one mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    /// The mapping holding the key.
    pub parent: YamlPath,
    pub key: String,
    pub first: Pos,
    pub second: Pos,
}

#[derive(Debug)]
struct Entry {
    key_pos: Pos,
    value: usize,
}

#[derive(Debug)]
enum Kind {
    Scalar,
    Seq(Vec<usize>),
    /// Boxed: most nodes are scalars, and a node is as large as its largest
    /// kind (this halves the tree of a large config).
    Map(Box<MapNode>),
    /// An alias to the anchor with this id.
    Alias(usize),
}

/// Entries, and the index of the first entry for each key.
#[derive(Debug, Default)]
struct MapNode {
    entries: Vec<Entry>,
    index: HashMap<String, usize>,
}

#[derive(Debug)]
struct Node {
    pos: Pos,
    kind: Kind,
}

/// Positions of every node of the first document in a YAML text.
#[derive(Debug, Default)]
pub struct Tree {
    nodes: Vec<Node>,
    root: Option<usize>,
    anchors: HashMap<usize, usize>,
    duplicates: Vec<Duplicate>,
}

/// An open collection while building.
struct Frame {
    node: usize,
    /// Where this collection sits in its parent (`None` for the root or a
    /// complex key).
    seg: Option<Seg>,
    /// For mappings: the key read, waiting for its value.
    pending_key: Option<(String, Pos)>,
}

/// Converts the parser's 1-based line and 0-based column.
fn pos_of(span: &Span) -> Pos {
    Pos {
        line: span.start.line(),
        col: span.start.col() + 1,
    }
}

impl Tree {
    /// Builds the tree. Syntax errors end the build early, leaving what was
    /// read so far; callers learn about syntax errors from serde-saphyr.
    pub fn build(text: &str) -> Tree {
        Tree::build_within(text, usize::MAX, usize::MAX).unwrap_or_default()
    }

    /// Builds the tree unless it nests deeper than `max_depth` or has more
    /// than `max_nodes` nodes: a bounded build that can run before the
    /// parser has vetted the text (see `config::load_str`).
    pub fn build_within(text: &str, max_depth: usize, max_nodes: usize) -> Option<Tree> {
        // About one node per ten bytes of YAML; reserving up front saves
        // copying a large tree as it grows (pages never written are never
        // resident).
        let mut tree = Tree {
            nodes: Vec::with_capacity(text.len() / 8),
            ..Tree::default()
        };
        let mut stack: Vec<Frame> = Vec::new();
        let mut documents = 0usize;
        for item in Parser::new_from_str(text) {
            let Ok((event, span)) = item else { break };
            if stack.len() > max_depth || tree.nodes.len() > max_nodes {
                return None;
            }
            let pos = pos_of(&span);
            match event {
                Event::DocumentStart(..) => {
                    documents += 1;
                    if documents > 1 {
                        break;
                    }
                }
                Event::Scalar(value, _, anchor, _) => {
                    let id = tree.push(pos, Kind::Scalar, anchor);
                    tree.attach(&mut stack, id, pos, Some(value.into_owned()), false);
                }
                Event::Alias(anchor) => {
                    let id = tree.push(pos, Kind::Alias(anchor), 0);
                    tree.attach(&mut stack, id, pos, Some(String::new()), false);
                }
                Event::SequenceStart(_, anchor, _) => {
                    let id = tree.push(pos, Kind::Seq(Vec::new()), anchor);
                    let seg = tree.attach(&mut stack, id, pos, None, true);
                    stack.push(Frame {
                        node: id,
                        seg,
                        pending_key: None,
                    });
                }
                Event::MappingStart(_, anchor, _) => {
                    let id = tree.push(pos, Kind::Map(Box::default()), anchor);
                    let seg = tree.attach(&mut stack, id, pos, None, true);
                    stack.push(Frame {
                        node: id,
                        seg,
                        pending_key: None,
                    });
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    stack.pop();
                }
                Event::StreamEnd => break,
                _ => {}
            }
        }
        Some(tree)
    }

    fn push(&mut self, pos: Pos, kind: Kind, anchor: usize) -> usize {
        let id = self.nodes.len();
        self.nodes.push(Node { pos, kind });
        if anchor != 0 {
            self.anchors.insert(anchor, id);
        }
        id
    }

    /// Links a new node into the open collection on top of the stack.
    /// `scalar` is the node's text when it is a scalar (used when it is a
    /// key). Returns the segment under which the node sits, for containers.
    fn attach(
        &mut self,
        stack: &mut [Frame],
        id: usize,
        pos: Pos,
        scalar: Option<String>,
        container: bool,
    ) -> Option<Seg> {
        let path_of_stack = |stack: &[Frame]| {
            YamlPath(
                stack
                    .iter()
                    .filter_map(|f| f.seg.clone())
                    .collect::<Vec<_>>(),
            )
        };
        let Some(top) = stack.last_mut() else {
            if self.root.is_none() {
                self.root = Some(id);
            }
            return None;
        };
        let parent = top.node;
        match self.nodes.get_mut(parent).map(|n| &mut n.kind) {
            Some(Kind::Seq(items)) => {
                let index = items.len();
                items.push(id);
                Some(Seg::Index(index))
            }
            Some(Kind::Map(map)) => match top.pending_key.take() {
                None => {
                    // This node is a key. A collection used as a key has no
                    // name we can look up; it still takes the key's place.
                    let text = scalar.unwrap_or_default();
                    top.pending_key = Some((text, pos));
                    None
                }
                Some((key, key_pos)) => {
                    let MapNode { entries, index } = &mut **map;
                    let first = match index.get(&key).and_then(|i| entries.get(*i)) {
                        Some(first) => Some(first.key_pos),
                        None => {
                            index.insert(key.clone(), entries.len());
                            None
                        }
                    };
                    entries.push(Entry { key_pos, value: id });
                    if let Some(first) = first {
                        self.duplicates.push(Duplicate {
                            parent: path_of_stack(stack),
                            key: key.clone(),
                            first,
                            second: key_pos,
                        });
                    }
                    if container { Some(Seg::Key(key)) } else { None }
                }
            },
            _ => None,
        }
    }

    /// Keys that appear twice in one mapping, in document order.
    pub fn duplicates(&self) -> &[Duplicate] {
        &self.duplicates
    }

    /// Follows aliases (an anchor is never itself an alias, so one hop does).
    fn resolve(&self, id: usize) -> Option<&Node> {
        let node = self.nodes.get(id)?;
        match node.kind {
            Kind::Alias(anchor) => self.anchors.get(&anchor).and_then(|a| self.nodes.get(*a)),
            _ => Some(node),
        }
    }

    /// Walks `path` as far as it exists. Returns the position of the deepest
    /// node reached, the position of the key of the last step (when that step
    /// was a mapping key), and whether the whole path was found.
    fn walk(&self, path: &YamlPath) -> (Pos, Option<Pos>, bool) {
        let start = Pos { line: 1, col: 1 };
        let Some(mut node) = self.root.and_then(|r| self.resolve(r)) else {
            return (start, None, path.0.is_empty());
        };
        let mut pos = node.pos;
        let mut key_pos = None;
        for seg in &path.0 {
            let next = match (&node.kind, seg) {
                (Kind::Map(map), Seg::Key(k)) => map
                    .index
                    .get(k)
                    .and_then(|i| map.entries.get(*i))
                    .map(|e| (e.value, Some(e.key_pos))),
                (Kind::Seq(items), Seg::Index(i)) => items.get(*i).map(|v| (*v, None)),
                // JSON pointers cannot tell the key `7` from the index 7.
                (Kind::Map(map), Seg::Index(i)) => map
                    .index
                    .get(&i.to_string())
                    .and_then(|i| map.entries.get(*i))
                    .map(|e| (e.value, Some(e.key_pos))),
                _ => None,
            };
            let Some((child, kp)) = next else {
                return (pos, None, false);
            };
            // An alias's own position is where the user wrote it; positions
            // below it are inside the anchor.
            let Some(raw) = self.nodes.get(child) else {
                return (pos, None, false);
            };
            pos = raw.pos;
            key_pos = kp;
            match self.resolve(child) {
                Some(n) => node = n,
                None => return (pos, None, false),
            }
        }
        (pos, key_pos, true)
    }

    /// Where the value at `path` starts (or the nearest enclosing value that
    /// exists).
    pub fn value_pos(&self, path: &YamlPath) -> Pos {
        self.walk(path).0
    }

    /// Where the key of the last step of `path` is, falling back to
    /// [`Tree::value_pos`] when the path ends in a list index or is missing.
    pub fn key_pos(&self, path: &YamlPath) -> Pos {
        match self.walk(path) {
            (_, Some(key), true) => key,
            (pos, _, _) => pos,
        }
    }

    /// Whether `path` exists in the document.
    pub fn contains(&self, path: &YamlPath) -> bool {
        self.walk(path).2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: usize, col: usize) -> Pos {
        Pos { line, col }
    }

    const DOC: &str = "\
version: 1
people:
  alice: { email: a@x.example }
sites:
  acme:
    access:
      - team: seo
        roles: [A, \"B\"]
";

    #[test]
    fn finds_values_and_keys() {
        let tree = Tree::build(DOC);
        let roles = YamlPath::root()
            .key("sites")
            .key("acme")
            .key("access")
            .index(0)
            .key("roles");
        assert_eq!(tree.key_pos(&roles), p(8, 9));
        assert_eq!(tree.value_pos(&roles), p(8, 16));
        assert_eq!(tree.value_pos(&roles.index(1)), p(8, 20));
        let grant = YamlPath::root()
            .key("sites")
            .key("acme")
            .key("access")
            .index(0);
        assert_eq!(tree.value_pos(&grant), p(7, 9));
        assert_eq!(
            tree.value_pos(&YamlPath::root().key("people").key("alice").key("email")),
            p(3, 19)
        );
    }

    #[test]
    fn missing_paths_fall_back_to_the_nearest_value() {
        let tree = Tree::build(DOC);
        let path = YamlPath::root().key("sites").key("acme").key("owner");
        assert!(!tree.contains(&path));
        assert_eq!(tree.key_pos(&path), p(6, 5));
    }

    #[test]
    fn reports_duplicate_keys_at_the_second() {
        let tree = Tree::build("people:\n  a: 1\n  b: 2\n  a: 3\nx: {k: 1, k: 2}\n");
        let dups = tree.duplicates();
        assert_eq!(dups.len(), 2);
        assert_eq!(dups[0].key, "a");
        assert_eq!(dups[0].parent.to_string(), "people");
        assert_eq!((dups[0].first, dups[0].second), (p(2, 3), p(4, 3)));
        assert_eq!(dups[1].parent.to_string(), "x");
        assert_eq!(dups[1].second, p(5, 11));
    }

    #[test]
    fn looks_through_aliases() {
        let tree = Tree::build("a: &x {k: [1, 2]}\nb: *x\n");
        let path = YamlPath::root().key("b").key("k").index(1);
        assert_eq!(tree.value_pos(&path), p(1, 15));
    }

    #[test]
    fn names_paths() {
        let path = YamlPath::root().key("teams").key("seo").index(1);
        assert_eq!(path.name(), "seo[1]");
        assert_eq!(path.to_string(), "teams.seo[1]");
        assert_eq!(YamlPath::root().name(), "the file");
    }
}
