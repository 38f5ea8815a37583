//! Where things are in the YAML text, and what they are.
//!
//! serde turns the document into values and forgets positions; this module
//! keeps both. It builds a tree from the parser's events (the same parser
//! serde-saphyr uses, so both agree on what the text means) and answers
//! "where is the value at `/sites/acme/access/0/role`?", "where is the key
//! `acess`?" and "what is the value there?" ([`Tree::value`], read exactly
//! as serde-saphyr reads it into a JSON value, for documents the tree can
//! read: see [`Tree::readable`]). Building the tree also finds duplicate
//! mapping keys, which serde-saphyr is told to tolerate so that they can be
//! reported together with every other problem.
//!
//! The build is bounded by the same depth, node and alias limits as
//! serde-saphyr's, so it can run before serde-saphyr has seen the text. It
//! uses an explicit stack, and lookups are loops; reading a value recurses,
//! within the depth limit. An alias node points at its anchor's node, and a
//! lookup that passes through one reports positions inside the anchor.

use std::borrow::Cow;
use std::fmt;

use foldhash::{HashMap, HashMapExt};
use serde_json::{Map, Value};

use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, Span};

use crate::model::Pos;

mod split;

pub use split::Runs;

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
        self.with(Seg::Key(key.to_string()))
    }

    pub fn index(&self, index: usize) -> Self {
        self.with(Seg::Index(index))
    }

    /// This path and `seg`, allocated once at its size (a clone then a push
    /// would allocate twice; the config's reader makes a path per value).
    fn with(&self, seg: Seg) -> Self {
        let mut segs = Vec::with_capacity(self.0.len() + 1);
        segs.extend(self.0.iter().cloned());
        segs.push(seg);
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

/// Scalar text: a slice of the source when the parser could borrow it (no
/// escapes or folding), else its own copy. Most scalars are slices, which
/// keeps the tree of a large config small.
#[derive(Debug, Clone)]
enum Text {
    Source { start: u32, len: u32 },
    Owned(Box<str>),
}

/// A position as the tree stores it (half the size of [`Pos`]; the tree of
/// a large config holds millions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct At {
    line: u32,
    col: u32,
}

impl From<At> for Pos {
    fn from(at: At) -> Pos {
        Pos {
            line: at.line as usize,
            col: at.col as usize,
        }
    }
}

#[derive(Debug)]
struct Entry {
    key: Text,
    key_pos: At,
    value: usize,
}

#[derive(Debug)]
enum Kind {
    /// `typed` when written without quotes or block indicators and it
    /// might be read as null, a boolean or a number (see [`plain_scalar`]);
    /// otherwise it is a string.
    Scalar { text: Text, typed: bool },
    /// Items, filled in when the sequence ends.
    Seq(Box<[usize]>),
    /// Boxed: most nodes are scalars, and a node is as large as its largest
    /// kind.
    Map(Box<MapNode>),
    /// An alias to the anchor with this id.
    Alias(usize),
}

/// Entries in the order written; large mappings also get an index from key
/// to the first entry with it (small ones are searched, which is faster).
#[derive(Debug, Default)]
struct MapNode {
    entries: Vec<Entry>,
    /// Boxed: few mappings have one, and every mapping has the field (a
    /// pointer instead of a whole map, hundreds of thousands of times).
    #[allow(clippy::box_collection)]
    index: Option<Box<HashMap<Box<str>, usize>>>,
}

impl MapNode {
    /// The first entry with `key`.
    fn find(&self, source: &str, key: &str) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(key).copied(),
            None => self
                .entries
                .iter()
                .position(|e| text_str(source, &e.key) == key),
        }
    }

    /// Appends an entry, keeping the index of a large mapping.
    fn push_entry(&mut self, source: &str, entry: Entry) {
        let at = self.entries.len();
        if let Some(index) = &mut self.index {
            index
                .entry(text_str(source, &entry.key).into())
                .or_insert(at);
        }
        self.entries.push(entry);
        if self.index.is_none() && self.entries.len() > INDEX_ABOVE {
            self.build_index(source);
        }
    }

    fn build_index(&mut self, source: &str) {
        let mut index = HashMap::with_capacity(self.entries.len() * 2);
        for (i, e) in self.entries.iter().enumerate() {
            index.entry(text_str(source, &e.key).into()).or_insert(i);
        }
        self.index = Some(Box::new(index));
    }
}

fn text_str<'a>(source: &'a str, text: &'a Text) -> &'a str {
    match text {
        Text::Source { start, len } => {
            let start = *start as usize;
            source.get(start..start + *len as usize).unwrap_or("")
        }
        Text::Owned(s) => s,
    }
}

/// Mappings with more entries than this get an index.
const INDEX_ABOVE: usize = 12;

#[derive(Debug)]
struct Node {
    pos: At,
    kind: Kind,
}

/// Positions and values of every node of the first document in a YAML text.
#[derive(Debug, Default)]
pub struct Tree<'s> {
    source: &'s str,
    nodes: Vec<Node>,
    root: Option<usize>,
    anchors: HashMap<usize, usize>,
    duplicates: Vec<Duplicate>,
    aliases: usize,
    /// Per anchor: its node, its expanded size in events and its height.
    anchor_sizes: HashMap<usize, (usize, usize)>,
    /// Events that aliases replay, in total.
    replayed: usize,
    /// Why [`Tree::value`] cannot be trusted to read this document as
    /// serde-saphyr would, if it cannot (see [`Tree::readable`]).
    unreadable: Option<&'static str>,
    /// For the tree of a run of sites (see [`split::Runs`]): the key of the
    /// root mapping whose entries this tree holds. Paths start with it.
    under: Option<&'static str>,
}

/// An open collection while building.
struct Frame {
    node: usize,
    /// Where this collection sits in its parent (`None` for the root or a
    /// complex key).
    seg: Option<Seg>,
    /// For mappings: the key read, waiting for its value.
    pending_key: Option<(Text, At)>,
    /// The collection's own anchor (0 for none).
    anchor: usize,
    /// Events it expands to (aliases included), and its height, so far.
    size: usize,
    height: usize,
    /// For sequences: the items so far.
    items: Vec<usize>,
}

/// Converts the parser's 1-based line and 0-based column.
fn pos_of(span: &Span) -> At {
    At {
        line: u32::try_from(span.start.line()).unwrap_or(u32::MAX),
        col: u32::try_from(span.start.col() + 1).unwrap_or(u32::MAX),
    }
}

/// Limits on reading values out of the tree: the same as serde-saphyr's
/// (see `config::parse_options`), so that anything it would refuse is left
/// to it.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_depth: usize,
    pub max_nodes: usize,
    pub max_aliases: usize,
    /// Events an alias may replay, in total over the document.
    pub max_replayed: usize,
}

impl Limits {
    pub const UNBOUNDED: Limits = Limits {
        max_depth: usize::MAX,
        max_nodes: usize::MAX,
        max_aliases: usize::MAX,
        max_replayed: usize::MAX,
    };
}

impl<'s> Tree<'s> {
    /// Builds the tree. Syntax errors end the build early, leaving what was
    /// read so far; callers learn about syntax errors from serde-saphyr.
    pub fn build(text: &'s str) -> Tree<'s> {
        Tree::build_within(text, Limits::UNBOUNDED).unwrap_or_default()
    }

    /// Builds the tree unless it nests deeper than `max_depth` or has more
    /// than `max_nodes` nodes: a bounded build that can run before the
    /// parser has vetted the text (see `config::load_str`).
    pub fn build_within(text: &'s str, limits: Limits) -> Option<Tree<'s>> {
        Tree::build_part(text, 0..text.len(), 1, limits)
    }

    /// Builds the tree of `source[range]`, a part that starts a line (line
    /// `first_line` of `source`), with positions and texts in terms of
    /// `source`.
    pub(super) fn build_part(
        source: &'s str,
        range: std::ops::Range<usize>,
        first_line: usize,
        limits: Limits,
    ) -> Option<Tree<'s>> {
        let text = source.get(range)?;
        let line_offset = u32::try_from(first_line.saturating_sub(1)).unwrap_or(u32::MAX);
        // About one node per ten bytes of YAML; reserving up front saves
        // copying a large tree as it grows (pages never written are never
        // resident).
        let mut tree = Tree {
            source,
            nodes: Vec::with_capacity(text.len() / 8),
            ..Tree::default()
        };
        let mut stack: Vec<Frame> = Vec::new();
        let mut documents = 0usize;
        for item in Parser::new_from_str(text) {
            let Ok((event, span)) = item else {
                tree.unreadable = Some("a syntax error");
                break;
            };
            if stack.len() > limits.max_depth || tree.nodes.len() > limits.max_nodes {
                return None;
            }
            let mut pos = pos_of(&span);
            pos.line = pos.line.saturating_add(line_offset);
            let is_seq = matches!(event, Event::SequenceStart(..));
            match event {
                Event::DocumentStart(..) => {
                    documents += 1;
                    if documents > 1 {
                        tree.unreadable = Some("a second document");
                        break;
                    }
                }
                Event::Scalar(value, style, anchor, tag) => {
                    if tag.is_some() {
                        tree.unreadable = Some("a tag");
                    }
                    let text = tree.text(&value);
                    let typed = style == ScalarStyle::Plain
                        && (matches!(value.as_ref(), "" | "~" | "null" | "Null" | "NULL")
                            || may_be_typed(&value));
                    if typed && plain_scalar(&value).is_none() {
                        tree.unreadable = Some("a scalar serde-saphyr reads otherwise");
                    }
                    let id = tree.push(pos, Kind::Scalar { text, typed }, anchor);
                    if anchor != 0 {
                        tree.anchor_sizes.insert(anchor, (1, 0));
                    }
                    tree.attach(&mut stack, id, pos, false);
                    grow(&mut stack, 1, 0);
                }
                Event::Alias(anchor) => {
                    tree.aliases += 1;
                    // An alias replays its anchor; one still open is a
                    // recursive structure.
                    let (size, height) = tree.anchor_sizes.get(&anchor).copied().unwrap_or((
                        limits.max_replayed.saturating_add(1),
                        limits.max_depth.saturating_add(1),
                    ));
                    tree.replayed = tree.replayed.saturating_add(size);
                    if tree.aliases > limits.max_aliases
                        || tree.replayed > limits.max_replayed
                        || stack.len() + height > limits.max_depth
                    {
                        tree.unreadable = Some("aliases beyond the limits");
                    }
                    let id = tree.push(pos, Kind::Alias(anchor), 0);
                    tree.attach(&mut stack, id, pos, false);
                    grow(&mut stack, size, height);
                }
                Event::SequenceStart(_, anchor, tag) | Event::MappingStart(_, anchor, tag) => {
                    if tag.is_some() {
                        tree.unreadable = Some("a tag");
                    }
                    let kind = if is_seq {
                        Kind::Seq(Box::default())
                    } else {
                        Kind::Map(Box::default())
                    };
                    let id = tree.push(pos, kind, anchor);
                    let seg = tree.attach(&mut stack, id, pos, true);
                    stack.push(Frame {
                        node: id,
                        seg,
                        pending_key: None,
                        anchor,
                        size: 2,
                        height: 0,
                        items: Vec::new(),
                    });
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    if let Some(done) = stack.pop() {
                        if let Some(Node {
                            kind: Kind::Seq(items),
                            ..
                        }) = tree.nodes.get_mut(done.node)
                        {
                            *items = done.items.into_boxed_slice();
                        }
                        if done.anchor != 0 {
                            tree.anchor_sizes
                                .insert(done.anchor, (done.size, done.height + 1));
                        }
                        grow(&mut stack, done.size, done.height + 1);
                    }
                }
                // An explicit `...` (serde-saphyr and the parser's events
                // differ on what may follow it).
                Event::DocumentEnd if span.start.index() != span.end.index() => {
                    tree.unreadable = Some("an explicit document end");
                }
                Event::StreamEnd => break,
                _ => {}
            }
        }
        Some(tree)
    }

    /// The text of a scalar event: where it lies in the source when the
    /// parser borrowed it from there.
    #[allow(clippy::ptr_arg)] // Whether it is borrowed is the point.
    fn text(&self, value: &Cow<'_, str>) -> Text {
        if let Cow::Borrowed(b) = value {
            let base = self.source.as_ptr() as usize;
            let at = b.as_ptr() as usize;
            if at >= base
                && at + b.len() <= base + self.source.len()
                && let (Ok(start), Ok(len)) = (u32::try_from(at - base), u32::try_from(b.len()))
            {
                return Text::Source { start, len };
            }
        }
        Text::Owned(value.as_ref().into())
    }

    fn push(&mut self, pos: At, kind: Kind, anchor: usize) -> usize {
        let id = self.nodes.len();
        self.nodes.push(Node { pos, kind });
        if anchor != 0 {
            self.anchors.insert(anchor, id);
        }
        id
    }

    /// Links a new node into the open collection on top of the stack.
    /// Returns the segment under which the node sits, for containers.
    fn attach(&mut self, stack: &mut [Frame], id: usize, pos: At, container: bool) -> Option<Seg> {
        let Some(top) = stack.last_mut() else {
            if self.root.is_none() {
                self.root = Some(id);
            }
            return None;
        };
        let parent = top.node;
        if let Some(Node {
            kind: Kind::Seq(_), ..
        }) = self.nodes.get(parent)
        {
            let index = top.items.len();
            top.items.push(id);
            return Some(Seg::Index(index));
        }
        let Some((key, key_pos)) = top.pending_key.take() else {
            // This node is a key. A collection or an alias used as a key has
            // no name we can look up; it still takes the key's place.
            let text = match self.nodes.get(id).map(|n| &n.kind) {
                Some(Kind::Scalar { text, .. }) => Some(text.clone()),
                _ => None,
            };
            let text = match text {
                Some(text) => {
                    if matches!(text_str(self.source, &text), "" | "~" | "<<") {
                        self.unreadable = Some("an empty, null or merge key");
                    }
                    text
                }
                None => {
                    self.unreadable = Some("a complex key");
                    Text::Owned("".into())
                }
            };
            top.pending_key = Some((text, pos));
            return None;
        };
        let first = match self.nodes.get(parent).map(|n| &n.kind) {
            Some(Kind::Map(map)) => map
                .find(self.source, text_str(self.source, &key))
                .and_then(|i| map.entries.get(i))
                .map(|e| Pos::from(e.key_pos)),
            _ => return None,
        };
        let name = text_str(self.source, &key);
        let seg = container.then(|| Seg::Key(name.to_string()));
        if let Some(first) = first {
            let duplicate = Duplicate {
                parent: YamlPath(stack.iter().filter_map(|f| f.seg.clone()).collect()),
                key: name.to_string(),
                first,
                second: key_pos.into(),
            };
            self.duplicates.push(duplicate);
        }
        let source = self.source;
        if let Some(Node {
            kind: Kind::Map(map),
            ..
        }) = self.nodes.get_mut(parent)
        {
            map.push_entry(
                source,
                Entry {
                    key,
                    key_pos,
                    value: id,
                },
            );
        }
        seg
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
    /// The part of `path` below this tree's root: all of it, or for a run
    /// of sites what follows `sites`.
    fn own<'p>(&self, path: &'p YamlPath) -> Option<&'p [Seg]> {
        match (self.under, path.0.split_first()) {
            (None, _) => Some(&path.0),
            (Some(under), Some((Seg::Key(first), rest))) if first == under => Some(rest),
            _ => None,
        }
    }

    fn walk(&self, path: &YamlPath) -> (Pos, Option<Pos>, bool) {
        let start = Pos { line: 1, col: 1 };
        let Some(mut node) = self.root.and_then(|r| self.resolve(r)) else {
            return (start, None, path.0.is_empty());
        };
        let mut pos = Pos::from(node.pos);
        let mut key_pos = None;
        let Some(segs) = self.own(path) else {
            return (pos, None, false);
        };
        for seg in segs {
            let next = match (&node.kind, seg) {
                (Kind::Map(map), Seg::Key(k)) => map
                    .find(self.source, k)
                    .and_then(|i| map.entries.get(i))
                    .map(|e| (e.value, Some(Pos::from(e.key_pos)))),
                (Kind::Seq(items), Seg::Index(i)) => items.get(*i).map(|v| (*v, None)),
                // JSON pointers cannot tell the key `7` from the index 7.
                (Kind::Map(map), Seg::Index(i)) => map
                    .find(self.source, &i.to_string())
                    .and_then(|i| map.entries.get(i))
                    .map(|e| (e.value, Some(Pos::from(e.key_pos)))),
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
            pos = raw.pos.into();
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

    /// Whether [`Tree::value`] reads this document exactly as serde-saphyr
    /// would. It does for what configs are made of: one document of
    /// mappings, lists, plain and quoted scalars, anchors and aliases. For
    /// anything else (tags, merge keys, complex or null keys, a second
    /// document, a syntax error) the caller must ask serde-saphyr.
    pub fn readable(&self) -> bool {
        self.unreadable.is_none() && self.root.is_some()
    }

    /// The keys of the mapping at `path`, in the order written (first
    /// occurrences only), or `None` when there is no mapping there.
    pub fn keys(&self, path: &YamlPath) -> Option<Vec<&str>> {
        let id = self.node_at(path)?;
        match &self.resolve(id)?.kind {
            Kind::Map(map) => {
                let mut seen = std::collections::HashSet::new();
                Some(
                    map.entries
                        .iter()
                        .map(|e| text_str(self.source, &e.key))
                        .filter(|k| seen.insert(*k))
                        .collect(),
                )
            }
            _ => None,
        }
    }

    /// The node at `path` (a final alias not followed).
    fn node_at(&self, path: &YamlPath) -> Option<usize> {
        let mut id = self.root?;
        for seg in self.own(path)? {
            let node = self.resolve(id)?;
            id = match (&node.kind, seg) {
                (Kind::Map(map), Seg::Key(k)) => map.entries.get(map.find(self.source, k)?)?.value,
                (Kind::Seq(items), Seg::Index(i)) => *items.get(*i)?,
                _ => return None,
            };
        }
        Some(id)
    }

    /// The value at `path` as serde-saphyr reads it into a JSON value:
    /// aliases expanded, the first of duplicate keys kept, plain scalars
    /// typed as serde-saphyr types them. `None` when there is nothing there.
    /// Only meaningful when the tree is [`Tree::readable`], which also
    /// means the expansion of aliases is within the limits.
    pub fn value(&self, path: &YamlPath) -> Option<Value> {
        self.node_at(path).map(|id| self.value_of(id))
    }

    /// Keys that appear twice in one mapping, in document order.
    pub fn take_duplicates(&mut self) -> Vec<Duplicate> {
        std::mem::take(&mut self.duplicates)
    }

    /// Like [`Tree::value`] for the root, but where the entry `hollow` of
    /// the root mapping is a mapping, it is empty: the document without the
    /// sites, which are read one at a time.
    pub fn root_without(&self, hollow: &str) -> Option<Value> {
        let id = self.root?;
        let Some(Kind::Map(map)) = self.resolve(id).map(|n| &n.kind) else {
            return Some(self.value_of(id));
        };
        let mut out = Map::new();
        for e in &map.entries {
            let key = text_str(self.source, &e.key);
            if out.contains_key(key) {
                continue;
            }
            let value = match self.resolve(e.value).map(|n| &n.kind) {
                Some(Kind::Map(_)) if key == hollow => Value::Object(Map::new()),
                _ => self.value_of(e.value),
            };
            out.insert(key.to_string(), value);
        }
        Some(Value::Object(out))
    }

    /// Recursion is bounded: the tree's depth, aliases expanded, is within
    /// the limits it was built with.
    fn value_of(&self, id: usize) -> Value {
        let Some(node) = self.resolve(id) else {
            return Value::Null;
        };
        match &node.kind {
            Kind::Scalar { text, typed } => {
                let text = text_str(self.source, text);
                match typed {
                    true => plain_scalar(text).unwrap_or_else(|| Value::String(text.into())),
                    false => Value::String(text.to_string()),
                }
            }
            Kind::Seq(items) => Value::Array(items.iter().map(|i| self.value_of(*i)).collect()),
            Kind::Map(map) => {
                let mut out = Map::new();
                for e in &map.entries {
                    let key = text_str(self.source, &e.key);
                    if !out.contains_key(key) {
                        out.insert(key.to_string(), self.value_of(e.value));
                    }
                }
                Value::Object(out)
            }
            Kind::Alias(_) => Value::Null,
        }
    }

    /// Whether `path` exists in the document.
    pub fn contains(&self, path: &YamlPath) -> bool {
        self.walk(path).2
    }
}

/// Adds a finished child's size and height to the collection holding it.
fn grow(stack: &mut [Frame], size: usize, height: usize) {
    if let Some(top) = stack.last_mut() {
        top.size = top.size.saturating_add(size);
        top.height = top.height.max(height);
    }
}

/// A plain scalar as serde-saphyr types it: null, a boolean, a number or a
/// string. Text that cannot be anything but a string (most of a config:
/// names, emails, ids, dates) is decided here; the rest (`1`, `0x1f`, `yes`,
/// `.inf`, ...) is handed to serde-saphyr itself, so the two cannot
/// disagree. `None` when serde-saphyr does not read it as a scalar.
pub fn plain_scalar(text: &str) -> Option<Value> {
    if matches!(text, "" | "~" | "null" | "Null" | "NULL") {
        return Some(Value::Null);
    }
    if !may_be_typed(text) {
        return Some(Value::String(text.to_string()));
    }
    // As the value of a block mapping, where most values are written (and
    // where `...` is text, not the end of a document).
    let doc = format!("k: {text}\n");
    match serde_saphyr::from_str_with_options::<Value>(&doc, super::parse_options()) {
        Ok(Value::Object(mut map)) => match map.remove("k") {
            Some(v @ (Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_))) => {
                Some(v)
            }
            _ => None,
        },
        _ => None,
    }
}

/// Whether a plain scalar might be read as something other than a string:
/// a YAML 1.1 boolean word, or text made only of what numbers are made of
/// (digits, hex letters, `.`, `_`, radix letters, a sign at the start or
/// after an exponent).
fn may_be_typed(text: &str) -> bool {
    let b = text.as_bytes();
    if b.first().is_some_and(u8::is_ascii_alphabetic) {
        return ["y", "yes", "true", "on", "n", "no", "false", "off", "null"]
            .iter()
            .any(|w| text.eq_ignore_ascii_case(w));
    }
    b.iter().enumerate().all(|(i, &c)| {
        c.is_ascii_hexdigit()
            || matches!(
                c,
                b'.' | b'_'
                    | b'x'
                    | b'X'
                    | b'o'
                    | b'O'
                    | b':'
                    | b'n'
                    | b'N'
                    | b'i'
                    | b'I'
                    | b'f'
                    | b'F'
                    | b'a'
                    | b'A'
            )
            || (matches!(c, b'+' | b'-') && (i == 0 || matches!(b[i - 1], b'e' | b'E')))
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn p(line: usize, col: usize) -> Pos {
        Pos { line, col }
    }

    const DOC: &str = "\
version: 2
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

    /// The tree's values and serde-saphyr's agree.
    fn same_as_serde_saphyr(text: &str) {
        let tree = Tree::build(text);
        match serde_saphyr::from_str_with_options::<Value>(text, crate::config::parse_options()) {
            Ok(expected) => {
                assert!(tree.readable(), "{text:?}: {:?}", tree.unreadable);
                assert_eq!(tree.value(&YamlPath::root()), Some(expected), "{text:?}");
            }
            // What serde-saphyr refuses, the tree leaves to it.
            Err(_) => assert!(!tree.readable(), "{text:?}"),
        }
    }

    #[test]
    fn reads_scalars_as_serde_saphyr_does() {
        for scalar in [
            "1",
            "-1",
            "+1",
            "0",
            "007",
            "0x1F",
            "0X1F",
            "0o17",
            "0b101",
            "1_000",
            "1.5",
            "-1.5e3",
            ".5",
            "1e999",
            ".inf",
            "-.inf",
            ".nan",
            "+.nan",
            ".NaN",
            "1:20",
            "2026-12-31",
            "2026-12-31T10:00:00Z",
            "yes",
            "No",
            "ON",
            "off",
            "y",
            "N",
            "true",
            "False",
            "TRUE",
            "null",
            "Null",
            "NULL",
            "~",
            "nULL",
            "inf",
            "nan",
            "Infinity",
            "e",
            "E1",
            "1e",
            "1-2",
            "-",
            "--1",
            "1.2.3",
            "0x",
            "0xZ",
            "abc",
            "a b",
            "a@b.c",
            "123e4567-e89b-12d3-a456-426614174000",
            "ee-1",
            "_1",
            "1__0",
            ".",
            "..",
            "+",
            "12345678901234567890123",
            "-9223372036854775809",
            "fan",
            "o",
        ] {
            same_as_serde_saphyr(&format!("k: {scalar}\n"));
            same_as_serde_saphyr(&format!("k: [{scalar}]\n"));
            same_as_serde_saphyr(&format!("k: '{scalar}'\n"));
        }
    }

    #[test]
    fn reads_documents_as_serde_saphyr_does() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = vec![
            root.join("examples/agency.yaml"),
            root.join("examples/starter.yaml"),
        ];
        for dir in ["tests/fixtures/config", "tests/bad_input"] {
            for entry in std::fs::read_dir(root.join(dir))
                .into_iter()
                .flatten()
                .flatten()
            {
                files.push(entry.path());
            }
        }
        let mut compared = 0;
        for file in files {
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            let tree = Tree::build_within(&text, crate::config::tree_limits());
            let parsed =
                serde_saphyr::from_str_with_options::<Value>(&text, crate::config::parse_options());
            // Whatever the tree claims to read, serde-saphyr reads the same.
            if let Some(tree) = tree.filter(Tree::readable) {
                let parsed = parsed.unwrap_or_else(|e| panic!("{}: {e}", file.display()));
                assert_eq!(
                    tree.value(&YamlPath::root()),
                    Some(parsed),
                    "{}",
                    file.display()
                );
                compared += 1;
            }
        }
        assert!(compared > 20, "only {compared} documents compared");
    }

    #[test]
    fn leaves_what_it_does_not_read_to_serde_saphyr() {
        for text in [
            "a: !!str 1\n",
            "a: &x {b: 1}\nc:\n  <<: *x\n",
            "? [a]\n: 1\n",
            "a: 1\n---\nb: 2\n",
            "a: [1\n",
            "~: 1\n",
        ] {
            assert!(!Tree::build(text).readable(), "{text:?}");
        }
        same_as_serde_saphyr("a: &x {b: [1, yes]}\nc: *x\nd: {e: *x}\n");
    }

    proptest::proptest! {
        #[test]
        fn reads_any_plain_scalar_as_serde_saphyr_does(scalar in "[-+.0-9a-fA-FxXoObBeEinfaINFA_: ]{1,12}") {
            let text = format!("k: {scalar}\n");
            let expected = serde_saphyr::from_str_with_options::<Value>(&text, crate::config::parse_options());
            let tree = Tree::build(&text);
            if let (Ok(expected), true) = (expected, tree.readable()) {
                proptest::prop_assert_eq!(tree.value(&YamlPath::root()), Some(expected));
            }
        }
    }

    #[test]
    fn nodes_stay_small() {
        // Millions of them in a large config.
        assert!(
            std::mem::size_of::<Node>() <= 32,
            "{}",
            std::mem::size_of::<Node>()
        );
    }

    #[test]
    fn names_paths() {
        let path = YamlPath::root().key("teams").key("seo").index(1);
        assert_eq!(path.name(), "seo[1]");
        assert_eq!(path.to_string(), "teams.seo[1]");
        assert_eq!(YamlPath::root().name(), "the file");
    }
}
