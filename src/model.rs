//! The validated configuration: people, teams, sites and their grants.
//!
//! These types are what the rest of the program works with once `config` has
//! parsed and checked a file. Their invariants hold by construction: every
//! grant names a known principal, every email is lower-cased and well formed,
//! every site names its Wix ids. Roles are still names here; they are resolved
//! to Wix role ids against the live role list at plan time (`roles`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::OnceLock;

use foldhash::HashMap;
use serde::{Deserialize, Serialize};
use time::Date;

pub mod policy;
pub mod requests;

pub use crate::diag::Pos;

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
    pub requests: Option<requests::Settings>,
    /// The `policies:` block (empty without one).
    pub policies: policy::Policies,
    /// `people` by email and by account id, built on first use (see
    /// [`Config::people_index`]), so planning a site does not scan every
    /// person.
    pub people_index: OnceLock<PeopleIndex>,
}

/// Lookups over [`Config::people`], with the answers a scan in key order
/// would give.
#[derive(Debug, Clone, Default)]
pub struct PeopleIndex {
    /// email → account id, for people with a known account (the last in key
    /// order wins, as inserting them in order would).
    account_by_email: HashMap<String, String>,
    /// account id → the emails that map to it above, sorted.
    emails_by_account: HashMap<String, Vec<String>>,
    /// email → key of the first person in key order with that email.
    person_by_email: HashMap<String, String>,
    /// account id → key of the first person in key order with that account.
    person_by_account: HashMap<String, String>,
}

impl PeopleIndex {
    fn new(people: &BTreeMap<String, Person>) -> Self {
        let mut index = PeopleIndex::default();
        for person in people.values() {
            index
                .person_by_email
                .entry(person.email.clone())
                .or_insert_with(|| person.key.clone());
            if let Some(account) = &person.wix_account_id {
                index
                    .account_by_email
                    .insert(person.email.clone(), account.clone());
                index
                    .person_by_account
                    .entry(account.clone())
                    .or_insert_with(|| person.key.clone());
            }
        }
        for (email, account) in &index.account_by_email {
            index
                .emails_by_account
                .entry(account.clone())
                .or_default()
                .push(email.clone());
        }
        for emails in index.emails_by_account.values_mut() {
            emails.sort();
        }
        index
    }

    /// The account id a person with this email has in the config.
    pub fn account_of_email(&self, email: &str) -> Option<&str> {
        self.account_by_email.get(email).map(String::as_str)
    }

    /// Emails of the people with this account id, sorted.
    pub fn emails_of_account(&self, account: &str) -> &[String] {
        self.emails_by_account
            .get(account)
            .map_or(&[], Vec::as_slice)
    }

    /// Key of the (first) person with this email.
    pub fn person_with_email(&self, email: &str) -> Option<&str> {
        self.person_by_email.get(email).map(String::as_str)
    }

    /// Key of the first person with this account id.
    pub fn person_with_account(&self, account: &str) -> Option<&str> {
        self.person_by_account.get(account).map(String::as_str)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub key: String,
    /// Lower-cased.
    pub email: String,
    pub wix_account_id: Option<String>,
}

/// What to do with principals the config does not mention (defined with
/// the platform-neutral core, which applies it).
pub use crate::platform::Unmanaged;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub key: String,
    pub wix: WixSite,
    pub owner: Option<Contact>,
    pub unmanaged: Unmanaged,
    pub grants: Vec<Grant>,
    /// The site's `request:` overrides (request mode).
    pub request: requests::SiteRequest,
    /// The client's scopes on other platforms (`ga4:`, `gtm:`), each with
    /// the grants the config gives there.
    pub targets: Vec<SiteTarget>,
    /// Where the site's key is in the file.
    pub pos: Pos,
}

impl Site {
    /// A site with no API key is in request mode: the client must grant access.
    pub fn is_request_mode(&self) -> bool {
        self.wix.api_key_env.is_none()
    }

    /// The site as it bears on a plan: every position in the file cleared,
    /// so moving a block, or adding a line above it, changes nothing
    /// (`--changed-from` compares sites this way).
    pub fn without_positions(&self) -> Site {
        let mut s = self.clone();
        s.pos = Pos::default();
        for g in &mut s.grants {
            g.pos = Pos::default();
            g.roles = g
                .roles
                .iter()
                .map(|r| RoleName {
                    name: r.name.clone(),
                    pos: Pos::default(),
                })
                .collect();
        }
        for t in &mut s.targets {
            t.pos = Pos::default();
            for g in &mut t.grants {
                g.pos = Pos::default();
            }
        }
        s
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WixSite {
    pub site_id: String,
    pub account_id: String,
    /// Name of the environment variable holding the API key; never the key.
    pub api_key_env: Option<String>,
    /// Language of invitation emails (Bulk Invite's `defaultEmailLanguage`);
    /// `None` leaves it to Wix, which uses the site owner's.
    pub invite_language: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub name: Option<String>,
    pub email: String,
}

/// Who a grant is for, after teams have been expanded into their people.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
/// Shared text (`Arc<str>`): a person's key is named by grant after grant.
pub enum Principal {
    /// A key of `people`.
    Person(Arc<str>),
    /// A bare email (lower-cased) not tied to a person.
    Email(Arc<str>),
    /// A bare Wix account id, typically imported; its email is unknown.
    Account(Arc<str>),
}

/// A role as written in the config, with where it was written, so an unknown
/// role can be reported at its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleName {
    /// Shared by the grants of a site that name the same role.
    pub name: Arc<str>,
    pub pos: Pos,
}

/// One principal's grant on one site. A `team:` grant becomes one `Grant`
/// per member, each remembering the team in `via_team`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub principal: Principal,
    /// Shared by the grants a team grant becomes (a config of 10,000 sites
    /// holds hundreds of thousands of grants).
    pub roles: Arc<[RoleName]>,
    pub until: Option<Date>,
    pub via_team: Option<Arc<str>>,
    pub pos: Pos,
}

/// A scope on a platform other than Wix (a GA4 account or property, a GTM
/// account) and what the config grants on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteTarget {
    pub target: crate::platform::Target,
    pub unmanaged: Unmanaged,
    pub grants: Vec<TargetGrant>,
    /// Where the block is in the file.
    pub pos: Pos,
}

/// One principal's access on a target, from one grant (a team grant gives
/// one per member). Several for the same email are merged at plan time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetGrant {
    /// Lower-cased.
    pub email: Arc<str>,
    pub access: crate::platform::Access,
    pub until: Option<Date>,
    /// `person alice`, `team seo, level analytics`.
    pub reason: String,
    /// Whether it comes from a `team:` grant.
    pub via_team: bool,
    /// Where the grant is in the file.
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
    /// [`PeopleIndex`] of this config's people.
    pub fn people_index(&self) -> &PeopleIndex {
        self.people_index
            .get_or_init(|| PeopleIndex::new(&self.people))
    }

    /// The email and known account id of a principal.
    pub fn identity_of<'a>(
        &'a self,
        principal: &'a Principal,
    ) -> (Option<&'a str>, Option<&'a str>) {
        match principal {
            Principal::Person(key) => match self.people.get(&**key) {
                Some(p) => (Some(&p.email), p.wix_account_id.as_deref()),
                None => (None, None),
            },
            Principal::Email(email) => (Some(email), None),
            Principal::Account(id) => (None, Some(id)),
        }
    }

    /// A short human label: the person's key, the email, or the account id.
    pub fn label_of(&self, principal: &Principal) -> String {
        match principal {
            Principal::Person(key) => key.to_string(),
            Principal::Email(email) => email.to_string(),
            Principal::Account(id) => format!("account {id}"),
        }
    }
}
