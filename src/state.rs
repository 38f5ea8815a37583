//! Observed state of a site, as a provider read it.
//!
//! Domain types only: the provider maps its wire types into these, and the
//! plan engine reads them. Nothing here knows about HTTP.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A role the site's account can grant, from Get Roles Info.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
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
#[derive(
    Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(from = "Vec<String>")]
pub struct RoleSet(Vec<String>);

impl From<Vec<String>> for RoleSet {
    fn from(ids: Vec<String>) -> Self {
        ids.into_iter().collect()
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

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<Vec<RoleDef>>, D::Error> {
        Vec::<RoleDef>::deserialize(d).map(Arc::new)
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
    pub fn insert(&mut self, id: String) -> bool {
        match self.0.binary_search(&id) {
            Ok(_) => false,
            Err(at) => {
                self.0.insert(at, id);
                true
            }
        }
    }

    pub fn contains(&self, id: &str) -> bool {
        self.0.binary_search_by(|r| r.as_str().cmp(id)).is_ok()
    }

    /// The ids in order.
    pub fn iter(&self) -> std::slice::Iter<'_, String> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<String> for RoleSet {
    fn from_iter<I: IntoIterator<Item = String>>(ids: I) -> Self {
        let mut ids: Vec<String> = ids.into_iter().collect();
        ids.sort();
        ids.dedup();
        ids.shrink_to_fit();
        RoleSet(ids)
    }
}

impl<'a> IntoIterator for &'a RoleSet {
    type Item = &'a String;
    type IntoIter = std::slice::Iter<'a, String>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl From<BTreeSet<String>> for RoleSet {
    fn from(ids: BTreeSet<String>) -> Self {
        ids.into_iter().collect()
    }
}

impl PartialEq<BTreeSet<String>> for RoleSet {
    fn eq(&self, other: &BTreeSet<String>) -> bool {
        self.0.len() == other.len() && self.0.iter().eq(other.iter())
    }
}

impl LiveSite {
    pub fn role(&self, id: &str) -> Option<&RoleDef> {
        self.roles.iter().find(|r| r.id == id)
    }

    /// Titles for a set of role ids; an id the account no longer defines
    /// shows as the id itself.
    pub fn titles<'a>(&self, ids: impl IntoIterator<Item = &'a String>) -> Vec<String> {
        let mut titles: Vec<String> = ids
            .into_iter()
            .map(|id| {
                self.role(id)
                    .map_or_else(|| id.clone(), |r| r.title.clone())
            })
            .collect();
        titles.sort();
        titles
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_sets_are_sorted_sets() {
        let mut set = RoleSet::new();
        assert!(set.insert("b".into()));
        assert!(set.insert("a".into()));
        assert!(!set.insert("b".into()));
        assert_eq!(set.iter().collect::<Vec<_>>(), ["a", "b"]);
        assert!(set.contains("a") && !set.contains("c"));
        let from: RoleSet = ["b", "a", "b"].map(String::from).into_iter().collect();
        assert_eq!(from, set);
        assert_eq!(set, BTreeSet::from(["a".to_string(), "b".to_string()]));
        assert_eq!(format!("{set:?}"), r#"{"a", "b"}"#);
    }
}
