//! The document in parts, for checking one site at a time: the config
//! without its sites, and each site's body on demand, from one tree, from
//! serde-saphyr's value, or from runs of sites parsed as they are checked.

use serde_json::Value;

use super::locate;
use crate::model::Pos;

/// The document, split for checking one site at a time: the whole config
/// but the bodies of the sites, and each site's body on demand. Only one
/// site's value is held per thread, which keeps a large config's memory
/// close to the size of its text.
pub struct Parts<'t> {
    /// The document with `sites` empty (when it is a mapping; otherwise as
    /// written). Each site is checked on its own, its key included.
    pub root: Value,
    bodies: Bodies<'t>,
}

enum Bodies<'t> {
    /// The sites, in the order written, in this tree.
    Tree(&'t locate::Tree<'t>, Vec<String>),
    /// The sites as serde-saphyr read them, in the order written; the tree
    /// gives positions.
    Value(
        &'t locate::Tree<'t>,
        Vec<String>,
        serde_json::Map<String, Value>,
    ),
    /// Runs of sites, each parsed when it is checked.
    Runs(&'t locate::Runs<'t>),
}

/// What checking every site gave: per site in the order written, its key and
/// the check's result, and the duplicate keys found on the way.
pub struct Checked<T> {
    pub sites: Vec<(String, T)>,
    pub duplicates: Vec<locate::Duplicate>,
}

/// Sites from which checking runs on every core.
const PARALLEL_FROM: usize = 200;

impl<'t> Parts<'t> {
    pub(super) fn from_tree(tree: &'t locate::Tree<'t>) -> Parts<'t> {
        let sites = locate::YamlPath::root().key("sites");
        let keys = tree.keys(&sites).unwrap_or_default();
        Parts {
            root: tree.root_without("sites").unwrap_or(Value::Null),
            bodies: Bodies::Tree(tree, keys.into_iter().map(str::to_string).collect()),
        }
    }

    pub(super) fn from_value(mut doc: Value, tree: &'t locate::Tree<'t>) -> Parts<'t> {
        let sites = match doc.get_mut("sites") {
            Some(Value::Object(map)) => std::mem::take(map),
            _ => serde_json::Map::new(),
        };
        let path = locate::YamlPath::root().key("sites");
        let mut keys: Vec<String> = sites.keys().cloned().collect();
        keys.sort_by_cached_key(|k| (tree.key_pos(&path.key(k)), k.clone()));
        Parts {
            root: doc,
            bodies: Bodies::Value(tree, keys, sites),
        }
    }

    pub(super) fn from_runs(runs: &'t locate::Runs<'t>) -> Parts<'t> {
        Parts {
            root: runs.root.root_without("sites").unwrap_or(Value::Null),
            bodies: Bodies::Runs(runs),
        }
    }

    /// `check(tree, key, body)` for every site, with the tree that places
    /// it; on all cores for many sites. `None` when a run of sites cannot be
    /// read on its own (the caller then reads the whole text in one pass).
    pub fn check_sites<T: Send>(
        &self,
        check: impl Fn(&locate::Tree<'_>, &str, Value) -> T + Sync,
    ) -> Option<Checked<T>> {
        let sites = locate::YamlPath::root().key("sites");
        let (sites, duplicates) = match &self.bodies {
            Bodies::Tree(tree, keys) => (
                crate::parallel::ordered_flat_map(keys, PARALLEL_FROM, |k| {
                    let body = tree.value(&sites.key(k)).unwrap_or_default();
                    Some((k.clone(), check(tree, k, body)))
                }),
                Vec::new(),
            ),
            Bodies::Value(tree, keys, bodies) => (
                crate::parallel::ordered_flat_map(keys, PARALLEL_FROM, |k| {
                    let body = bodies.get(k).cloned().unwrap_or_default();
                    Some((k.clone(), check(tree, k, body)))
                }),
                Vec::new(),
            ),
            Bodies::Runs(runs) => return check_runs(runs, &check),
        };
        Some(Checked { sites, duplicates })
    }
}

/// Checks the sites of every run: each core takes the next run, parses it,
/// checks its sites and drops its tree. A site key already seen in an
/// earlier run is a duplicate (the first wins, as in a single pass).
fn check_runs<T: Send>(
    runs: &locate::Runs<'_>,
    check: &(impl Fn(&locate::Tree<'_>, &str, Value) -> T + Sync),
) -> Option<Checked<T>> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    type RunResult<T> = (Vec<(String, Pos, T)>, Vec<locate::Duplicate>);
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let sites = locate::YamlPath::root().key("sites");
    let work = || {
        let mut done: Vec<(usize, RunResult<T>)> = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= runs.len() || failed.load(Ordering::Relaxed) {
                return done;
            }
            let Some(mut tree) = runs.tree(i) else {
                failed.store(true, Ordering::Relaxed);
                return done;
            };
            let keys = tree.keys(&sites).unwrap_or_default();
            let checked = keys
                .iter()
                .map(|k| {
                    let path = sites.key(k);
                    let body = tree.value(&path).unwrap_or_default();
                    (k.to_string(), tree.key_pos(&path), check(&tree, k, body))
                })
                .collect();
            done.push((i, (checked, tree.take_duplicates())));
        }
    };
    // This thread takes runs too: what its trees free is then reused by
    // whatever it allocates next (the snapshot, the plan), where another
    // thread's freed memory would stay held by that thread's arena.
    let mut results: Vec<(usize, RunResult<T>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
        let own = work();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .chain(own)
            .collect()
    });
    if failed.load(Ordering::Relaxed) {
        return None;
    }
    results.sort_by_key(|(i, _)| *i);
    let mut first: std::collections::HashMap<String, Pos> = std::collections::HashMap::new();
    let mut checked = Checked {
        sites: Vec::new(),
        duplicates: Vec::new(),
    };
    for (_, (run, duplicates)) in results {
        checked.duplicates.extend(duplicates);
        for (key, pos, result) in run {
            match first.get(&key) {
                Some(earlier) => checked.duplicates.push(locate::Duplicate {
                    parent: sites.clone(),
                    key,
                    first: *earlier,
                    second: pos,
                }),
                None => {
                    first.insert(key.clone(), pos);
                    checked.sites.push((key, result));
                }
            }
        }
    }
    Some(checked)
}
