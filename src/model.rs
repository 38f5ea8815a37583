//! The validated configuration: people, teams, sites and their grants.
//!
//! These types are what the rest of the program works with once `config` has
//! parsed and checked a file. Their invariants hold by construction: every
//! grant names a known principal, every email is lower-cased and well formed,
//! every site names its Wix ids. Roles are still names here; they are resolved
//! to Wix role ids against the live role list at plan time (`plan::roles`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use time::Date;

/// A position in a source file, 1-based line and column.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

/// The whole validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Path of the file it came from, as given on the command line.
    pub path: PathBuf,
    /// SHA-256 (hex) of the file's bytes; saved plans compare it.
    pub digest: String,
    pub people: BTreeMap<String, Person>,
    pub teams: BTreeMap<String, Vec<String>>,
    pub sites: BTreeMap<String, Site>,
    pub safety: Safety,
    /// Directory holding one ledger file per site.
    pub ledger_dir: PathBuf,
    /// How access requests reach owners of request-mode sites; `None` when
    /// the config has no `requests:` block.
    pub requests: Option<crate::request::Settings>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub key: String,
    /// Lower-cased.
    pub email: String,
    pub wix_account_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unmanaged {
    /// Leave collaborators the config does not mention alone, silently.
    Keep,
    /// Leave them, but list them as warnings in the plan.
    #[default]
    Warn,
    /// Remove them.
    Remove,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub key: String,
    pub wix: WixSite,
    pub owner: Option<Contact>,
    pub unmanaged: Unmanaged,
    pub grants: Vec<Grant>,
    /// The site's `request:` overrides (request mode).
    pub request: crate::request::SiteRequest,
    /// Where the site's key is in the file.
    pub pos: Pos,
}

impl Site {
    /// A site with no API key is in request mode: the client must grant access.
    pub fn is_request_mode(&self) -> bool {
        self.wix.api_key_env.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WixSite {
    pub site_id: String,
    pub account_id: String,
    /// Name of the environment variable holding the API key; never the key.
    pub api_key_env: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub name: Option<String>,
    pub email: String,
}

/// Who a grant is for, after teams have been expanded into their people.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Principal {
    /// A key of `people`.
    Person(String),
    /// A bare email (lower-cased) not tied to a person.
    Email(String),
    /// A bare Wix account id, typically imported; its email is unknown.
    Account(String),
}

/// A role as written in the config, with where it was written, so an unknown
/// role can be reported at its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleName {
    pub name: String,
    pub pos: Pos,
}

/// One principal's grant on one site. A `team:` grant becomes one `Grant`
/// per member, each remembering the team in `via_team`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub principal: Principal,
    pub roles: Vec<RoleName>,
    pub until: Option<Date>,
    pub via_team: Option<String>,
    pub pos: Pos,
}

/// Guards checked before anything is applied (see `plan::safety`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Safety {
    pub max_removals_per_site: Option<u32>,
    pub max_removals_total: Option<u32>,
    pub max_removal_percent: Option<u8>,
    /// People keys that are never removed or downgraded.
    pub protect: Vec<String>,
    /// The person the tool acts for; guarded like `protect`.
    pub self_person: Option<String>,
    /// Grants ending within this many days are warned about.
    pub expiry_warning_days: u32,
}

impl Default for Safety {
    /// Safe even when the config says nothing: Wix sites have few
    /// collaborators, so absolute caps matter more than percentages.
    fn default() -> Self {
        Safety {
            max_removals_per_site: Some(5),
            max_removals_total: Some(20),
            max_removal_percent: Some(50),
            protect: Vec::new(),
            self_person: None,
            expiry_warning_days: 14,
        }
    }
}

impl Safety {
    /// Keys of people who must never be removed or downgraded.
    pub fn guarded_people(&self) -> impl Iterator<Item = &String> {
        self.protect.iter().chain(self.self_person.iter())
    }
}

impl Config {
    /// The email and known account id of a principal.
    pub fn identity_of(&self, principal: &Principal) -> (Option<String>, Option<String>) {
        match principal {
            Principal::Person(key) => match self.people.get(key) {
                Some(p) => (Some(p.email.clone()), p.wix_account_id.clone()),
                None => (None, None),
            },
            Principal::Email(email) => (Some(email.clone()), None),
            Principal::Account(id) => (None, Some(id.clone())),
        }
    }

    /// A short human label: the person's key, the email, or the account id.
    pub fn label_of(&self, principal: &Principal) -> String {
        match principal {
            Principal::Person(key) => key.clone(),
            Principal::Email(email) => email.clone(),
            Principal::Account(id) => format!("account {id}"),
        }
    }
}
