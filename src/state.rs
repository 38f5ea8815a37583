//! Observed state of a site, as a provider read it.
//!
//! Domain types only: the provider maps its wire types into these, and the
//! plan engine reads them. Nothing here knows about HTTP.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A role the site's account can grant, from Get Roles Info.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct RoleDef {
    pub id: String,
    pub title: String,
    pub custom: bool,
}

/// What one read of a site returned. Also a snapshot's record of a Wix
/// site (`snapshot`): the field names are that JSON format.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LiveSite {
    /// Roles grantable on the site (predefined and custom), sorted by title.
    /// Shared by every site of the account: they are the account's roles,
    /// read once per run.
    #[serde(with = "shared_roles")]
    #[schemars(with = "Vec<RoleDef>")]
    pub roles: Arc<Vec<RoleDef>>,
    /// Accounts that own the site; never touched.
    pub owners: BTreeSet<String>,
    /// Every other contributor's account id and the role ids it holds.
    pub contributors: BTreeMap<String, RoleSet>,
}

/// A set of role ids, kept sorted. Most contributors hold one or two roles,
/// for which a `BTreeSet` node (288 bytes) is far too big: at 10,000 sites
/// this is the bulk of the observed state.
///
/// In JSON, a list of role ids; read back sorted and without repeats.
// The ids are shared (`Arc<str>`): a reader of many sites keeps one copy of
// each role id however many contributors hold it (`RoleIds`). (A comment,
// not documentation: the snapshot schema carries the doc text.)
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, JsonSchema)]
#[serde(from = "Vec<String>")]
pub struct RoleSet(#[schemars(with = "Vec<String>")] Vec<Arc<str>>);

impl Serialize for RoleSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// One shared copy of each role id, and of each site's list of roles
/// (every site of an account lists the same ones).
#[derive(Debug, Default, Clone)]
pub struct RoleIds {
    ids: foldhash::HashSet<Arc<str>>,
    lists: foldhash::HashSet<Arc<Vec<RoleDef>>>,
}

thread_local! {
    /// The pool role sets and role lists read on this thread share, while
    /// [`RoleIds::while_reading`] runs.
    static READING: std::cell::RefCell<Option<RoleIds>> = const { std::cell::RefCell::new(None) };
}

impl RoleIds {
    /// Runs `read` (a deserialization) with every [`RoleSet`] it reads on
    /// this thread taking its ids from one pool: a snapshot of 10,000 sites
    /// holds one copy of each role id, not one per contributor. (serde
    /// gives a derived `Deserialize` no context, hence the thread-local.)
    pub fn while_reading<T>(read: impl FnOnce() -> T) -> T {
        struct Reset;
        impl Drop for Reset {
            fn drop(&mut self) {
                READING.with(|pool| *pool.borrow_mut() = None);
            }
        }
        READING.with(|pool| *pool.borrow_mut() = Some(RoleIds::default()));
        let _reset = Reset;
        read()
    }

    /// The shared copy of `id`.
    pub fn get(&mut self, id: &str) -> Arc<str> {
        if let Some(shared) = self.ids.get(id) {
            return shared.clone();
        }
        let shared: Arc<str> = id.into();
        self.ids.insert(shared.clone());
        shared
    }

    /// The shared copy of a list of roles.
    fn list(&mut self, roles: Vec<RoleDef>) -> Arc<Vec<RoleDef>> {
        if let Some(shared) = self.lists.get(&roles) {
            return shared.clone();
        }
        let shared = Arc::new(roles);
        self.lists.insert(shared.clone());
        shared
    }
}

impl From<Vec<String>> for RoleSet {
    fn from(ids: Vec<String>) -> Self {
        READING.with(|pool| match pool.borrow_mut().as_mut() {
            Some(pool) => ids.iter().map(|id| pool.get(id)).collect(),
            None => ids.into_iter().collect(),
        })
    }
}

/// `LiveSite::roles` as a plain list (serde's `Arc` support needs its `rc`
/// feature, which would rebuild every crate using serde for one field).
mod shared_roles {
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::RoleDef;

    pub fn serialize<S: Serializer>(roles: &Arc<Vec<RoleDef>>, s: S) -> Result<S::Ok, S::Error> {
        roles.as_slice().serialize(s)
    }

    /// One copy per distinct list while [`super::RoleIds::while_reading`]
    /// runs (a snapshot of 10,000 sites of one account holds one).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<Vec<RoleDef>>, D::Error> {
        let roles = Vec::<RoleDef>::deserialize(d)?;
        Ok(
            super::READING.with(|pool| match pool.borrow_mut().as_mut() {
                Some(pool) => pool.list(roles),
                None => Arc::new(roles),
            }),
        )
    }
}

impl std::fmt::Debug for RoleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(&self.0).finish()
    }
}

impl RoleSet {
    pub fn new() -> Self {
        RoleSet(Vec::new())
    }

    /// Adds `id`; false when it was already there.
    pub fn insert(&mut self, id: impl Into<Arc<str>>) -> bool {
        let id = id.into();
        match self.0.binary_search(&id) {
            Ok(_) => false,
            Err(at) => {
                self.0.insert(at, id);
                true
            }
        }
    }

    pub fn contains(&self, id: &str) -> bool {
        self.0.binary_search_by(|r| (**r).cmp(id)).is_ok()
    }

    /// The ids in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + Clone + '_ {
        self.0.iter().map(|id| &**id)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<S: Into<Arc<str>>> FromIterator<S> for RoleSet {
    fn from_iter<I: IntoIterator<Item = S>>(ids: I) -> Self {
        let mut ids: Vec<Arc<str>> = ids.into_iter().map(Into::into).collect();
        ids.sort();
        ids.dedup();
        ids.shrink_to_fit();
        RoleSet(ids)
    }
}

impl<'a> IntoIterator for &'a RoleSet {
    type Item = &'a str;
    type IntoIter = std::iter::Map<std::slice::Iter<'a, Arc<str>>, fn(&Arc<str>) -> &str>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|id| &**id)
    }
}

impl From<BTreeSet<String>> for RoleSet {
    fn from(ids: BTreeSet<String>) -> Self {
        ids.into_iter().collect()
    }
}

impl PartialEq<BTreeSet<String>> for RoleSet {
    fn eq(&self, other: &BTreeSet<String>) -> bool {
        self.0.len() == other.len() && self.iter().eq(other.iter().map(String::as_str))
    }
}

impl LiveSite {
    pub fn role(&self, id: &str) -> Option<&RoleDef> {
        self.roles.iter().find(|r| r.id == id)
    }

    /// A role id's title; an id the account no longer defines shows as the
    /// id itself.
    pub fn title<'a>(&'a self, id: &'a str) -> &'a str {
        self.role(id).map_or(id, |r| r.title.as_str())
    }

    /// Titles for a set of role ids, sorted (see [`LiveSite::title`]).
    pub fn titles<I: AsRef<str>>(&self, ids: impl IntoIterator<Item = I>) -> Vec<String> {
        let mut titles: Vec<String> = ids
            .into_iter()
            .map(|id| self.title(id.as_ref()).to_string())
            .collect();
        titles.sort();
        titles
    }

    /// [`LiveSite::titles`] as one text, `, ` between them: the titles are
    /// borrowed, only the text is made (listings hold it for every
    /// contributor of every site).
    pub fn titles_joined<I: AsRef<str>>(&self, ids: impl IntoIterator<Item = I>) -> String {
        let ids: Vec<I> = ids.into_iter().collect();
        let mut titles: Vec<&str> = ids.iter().map(|id| self.title(id.as_ref())).collect();
        titles.sort_unstable();
        titles.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_sets_are_sorted_sets() {
        let mut set = RoleSet::new();
        assert!(set.insert("b"));
        assert!(set.insert("a"));
        assert!(!set.insert("b"));
        assert_eq!(set.iter().collect::<Vec<_>>(), ["a", "b"]);
        assert!(set.contains("a") && !set.contains("c"));
        let from: RoleSet = ["b", "a", "b"].map(String::from).into_iter().collect();
        assert_eq!(from, set);
        assert_eq!(set, BTreeSet::from(["a".to_string(), "b".to_string()]));
        assert_eq!(format!("{set:?}"), r#"{"a", "b"}"#);
    }

    #[test]
    fn sets_read_together_share_one_copy_of_each_id() {
        let read = || -> Vec<RoleSet> {
            serde_json::from_str(r#"[["role-blog", "role-admin"], ["role-admin"]]"#).expect("reads")
        };
        let shared = RoleIds::while_reading(read);
        assert!(
            Arc::ptr_eq(&shared[0].0[0], &shared[1].0[0]),
            "one copy of role-admin"
        );
        let apart = read();
        assert!(
            !Arc::ptr_eq(&apart[0].0[0], &apart[1].0[0]),
            "outside, none shared"
        );
        assert_eq!(shared, apart, "sharing changes no id");
        assert_eq!(
            serde_json::to_string(&shared[0]).expect("JSON"),
            r#"["role-admin","role-blog"]"#
        );
    }

    #[test]
    fn sites_read_together_share_equal_lists_of_roles() {
        let role = |id: &str, title: &str| {
            format!(r#"{{"id": "{id}", "title": "{title}", "custom": false}}"#)
        };
        let site = |roles: &[String]| {
            format!(
                r#"{{"roles": [{}], "owners": [], "contributors": {{}}}}"#,
                roles.join(", ")
            )
        };
        let admin = role("role-admin", "Admin");
        let blog = role("role-blog", "Blog Writer");
        let text = format!(
            "[{}, {}, {}]",
            site(&[admin.clone(), blog.clone()]),
            site(&[admin.clone(), blog]),
            site(&[admin])
        );
        let read = || -> Vec<LiveSite> { serde_json::from_str(&text).expect("reads") };
        let shared = RoleIds::while_reading(read);
        assert!(
            Arc::ptr_eq(&shared[0].roles, &shared[1].roles),
            "one copy of the list two sites hold"
        );
        assert!(
            !Arc::ptr_eq(&shared[0].roles, &shared[2].roles),
            "a different list is its own"
        );
        assert_eq!(shared[2].roles.len(), 1);
        let apart = read();
        assert!(
            !Arc::ptr_eq(&apart[0].roles, &apart[1].roles),
            "outside, none shared"
        );
        assert_eq!(shared, apart, "sharing changes no role");
    }
}
