//! Observed state of a site, as a provider read it.
//!
//! Domain types only: the provider maps its wire types into these, and the
//! plan engine reads them. Nothing here knows about HTTP.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A role the site's account can grant, from Get Roles Info.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RoleDef {
    pub id: String,
    pub title: String,
    pub custom: bool,
}

/// What one read of a site returned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveSite {
    /// Roles grantable on the site (predefined and custom), sorted by title.
    /// Shared by every site of the account: they are the account's roles,
    /// read once per run.
    pub roles: Arc<Vec<RoleDef>>,
    /// Accounts that own the site; never touched.
    pub owners: BTreeSet<String>,
    /// Every other contributor's account id and the role ids it holds.
    pub contributors: BTreeMap<String, BTreeSet<String>>,
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
