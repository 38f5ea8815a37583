//! The emulator's seed: the YAML file that fills its in-memory state at
//! start-up, and its validation into a [`State`].
//!
//! Format (every top-level key is optional; unknown keys are rejected so a
//! typo does not silently change the scenario):
//!
//! ```yaml
//! remove_method: POST          # POST (default) or DELETE: the one method Remove
//!                              # Contributor answers; the other gets 405
//! quirks:                      # optional; how the emulator reads each detail
//!                              # Wix's docs leave open (defaults first; see
//!                              # `quirks.rs`). They hold for the whole run.
//!   remove_param: body         # body | query: where Remove reads `accountId`
//!                              # (absent: body for POST, query for DELETE)
//!   change_role_method: PUT    # PUT | PATCH: the other gets 405
//!   revoke_not_found: wix      # wix (404 + NOT_FOUND body) | bare (empty 404)
//!   account_owner_id: site_account  # site_account | owner_user_id (one id that
//!                              # is not the account's) | per_contributor (each
//!                              # row its own id) | omitted
//!   owner_listed: listed       # listed | hidden: the owner in unfiltered queries
//!   role_filter: honoured      # honoured | ignored (`filter.policyIds` dropped)
//!   roles_id_header: either    # either | account | site: the id header Get
//!                              # Roles Info accepts; the other alone is a 400
//!   contributors_answer: full  # full | empty: `{}` for every contributor query
//! clock: "2025-01-01T00:00:00Z" # optional RFC 3339 instant; freezes the clock
//!                              # (else the system clock is used)
//! duplicate_invites: keep      # keep (default) or replace: what Bulk Invite does
//!                              # for an email that already has a pending invite
//!                              # on the site (see below)
//! predefined_roles:            # optional; absent = built-in list (see below)
//!   - { id: "role-admin", title: "Admin (Co-Owner)",
//!       description: "…", restrict_from_level: NoRestriction }  # or Site | Account
//! accounts:
//!   - id: 91f0c2d4-0000-4000-8000-000000000001
//!     api_keys: [ "emu-key-acme" ]   # keys of this account; valid for all its sites
//!     custom_roles:
//!       - { id: "custom-seo-reviewer", title: "SEO Reviewer", description: "…" }
//! sites:
//!   - id: 0d6b9a7e-0000-4000-8000-000000000001
//!     account: 91f0c2d4-0000-4000-8000-000000000001  # owner; also the owner
//!                                                     # contributor's accountId
//!     seat_limit: 10             # default 10; counts contributors (not the
//!                                # owner) plus pending invites
//!     contributors:
//!       - { account_id: "acct-bob", roles: ["Website Manager", "role-blog-editor"] }
//!     invites:                   # optional: invites sent "from the dashboard"
//!       - { email: "eve@example.com", roles: ["Blog Writer"] }
//!         # optional: id, status (Pending|Used|Deleted|Declined|Expired),
//!         # accepted_by_account_id
//! faults:                      # optional fault injection, as for
//!   seed: 42                   # PUT /_emulator/faults (see `faults.rs`)
//!   rules:
//!     - { endpoint: "bulkInvite", latencyMs: 200 }
//!     - { endpoint: "*", errorRate: 0.05, status: 503 }
//!   rateLimit: { perMinute: 200, scope: site }  # snake_case keys work too
//! ```
//!
//! Roles in `contributors` and `invites` may be given by id or by title
//! (case-insensitive; ambiguous titles are an error). The Wix API paths only
//! ever accept ids. Built-in predefined roles, with made-up stable ids:
//! `role-admin` "Admin (Co-Owner)", `role-website-manager`,
//! `role-website-designer`, `role-back-office-manager`, `role-billing-manager`,
//! `role-domain-manager`, `role-content-manager`, `role-payments-admin`,
//! `role-financial-manager`, `role-marketing-manager`,
//! `role-customer-relations-manager`, `role-blog-editor`, `role-blog-writer`,
//! `role-guest-writer` (titles as in the Wix UI, e.g. "Website Manager").
//!
//! `duplicate_invites`: what Wix does when Bulk Invite names an email that
//! already has a pending invite on the site is unconfirmed (`wix-api.md`).
//! `keep` (the default) sends a second, separate invite: both are pending
//! and each holds a seat, so an invite sent twice stays visible in the
//! state. `replace` deletes the earlier one (status `Deleted`, with
//! `replacedBy` in `GET /_emulator/invites`) and sends a new one in its
//! seat. Either way every invite ever sent is kept.
//!
//! Seed problems (unknown account or role, duplicate ids or keys, bad emails)
//! are all collected and reported together in one
//! [`EmulatorError::InvalidSeed`]. API keys are never quoted in messages.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::error::EmulatorError;
use super::faults::FaultConfig;
pub use super::quirks::Quirks;
use super::state::{Clock, Invite, Role, Site, State};
// Re-exported because seed fields use them and `state` is private.
pub use super::state::{DuplicateInvites, InviteStatus, RestrictFromLevel};

/// Default seats per site when the seed gives none.
pub const DEFAULT_SEAT_LIMIT: u32 = 10;

/// The whole seed file. Construct it from YAML with
/// [`parse_seed`](super::parse_seed) or build it in code (all fields public).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    #[serde(default)]
    pub remove_method: RemoveMethod,
    #[serde(default)]
    pub duplicate_invites: DuplicateInvites,
    /// Readings of the details Wix's docs leave open (see `quirks.rs`).
    #[serde(default)]
    pub quirks: Quirks,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predefined_roles: Option<Vec<SeedRole>>,
    #[serde(default)]
    pub accounts: Vec<SeedAccount>,
    #[serde(default)]
    pub sites: Vec<SeedSite>,
    /// Fault injection from the start (same object as `PUT
    /// /_emulator/faults`, see `faults.rs`); absent = no faults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<FaultConfig>,
    /// Google's side: service accounts, GA4 and GTM (`google/`).
    #[serde(default)]
    pub google: super::google::Seed,
}

/// The HTTP method Remove Contributor answers to (Wix's is unconfirmed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum RemoveMethod {
    #[default]
    #[serde(rename = "POST", alias = "post")]
    Post,
    #[serde(rename = "DELETE", alias = "delete")]
    Delete,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedRole {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub restrict_from_level: RestrictFromLevel,
}

/// An account: its API keys and custom roles. `Debug` hides the keys.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedAccount {
    pub id: String,
    #[serde(default)]
    pub api_keys: Vec<String>,
    #[serde(default)]
    pub custom_roles: Vec<SeedRole>,
}

impl fmt::Debug for SeedAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeedAccount")
            .field("id", &self.id)
            .field(
                "api_keys",
                &format_args!("[{} redacted]", self.api_keys.len()),
            )
            .field("custom_roles", &self.custom_roles)
            .finish()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedSite {
    pub id: String,
    pub account: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seat_limit: Option<u32>,
    #[serde(default)]
    pub contributors: Vec<SeedContributor>,
    #[serde(default)]
    pub invites: Vec<SeedInvite>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedContributor {
    pub account_id: String,
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedInvite {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub email: String,
    pub roles: Vec<String>,
    #[serde(default)]
    pub status: InviteStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_by_account_id: Option<String>,
}

/// The built-in predefined roles: titles as in the Wix UI, ids made up.
pub fn default_predefined_roles() -> Vec<SeedRole> {
    const ROLES: &[(&str, &str, &str)] = &[
        (
            "role-admin",
            "Admin (Co-Owner)",
            "Full access to the site, except deleting or transferring it.",
        ),
        (
            "role-website-manager",
            "Website Manager",
            "Manages the site's content, apps and settings.",
        ),
        (
            "role-website-designer",
            "Website Designer",
            "Edits the site's design in the editor.",
        ),
        (
            "role-back-office-manager",
            "Back Office Manager",
            "Manages the dashboard, but not the editor.",
        ),
        (
            "role-billing-manager",
            "Billing Manager",
            "Manages billing and premium plans.",
        ),
        (
            "role-domain-manager",
            "Domain Manager",
            "Manages the site's domains.",
        ),
        (
            "role-content-manager",
            "Content Manager",
            "Manages the site's content collections.",
        ),
        (
            "role-payments-admin",
            "Payments Admin",
            "Manages payment settings.",
        ),
        (
            "role-financial-manager",
            "Financial Manager",
            "Views and manages finances.",
        ),
        (
            "role-marketing-manager",
            "Marketing Manager",
            "Manages marketing tools and campaigns.",
        ),
        (
            "role-customer-relations-manager",
            "Customer Relations Manager",
            "Manages contacts and inbox.",
        ),
        ("role-blog-editor", "Blog Editor", "Manages all blog posts."),
        (
            "role-blog-writer",
            "Blog Writer",
            "Writes and publishes own blog posts.",
        ),
        (
            "role-guest-writer",
            "Guest Writer",
            "Writes blog posts for review.",
        ),
    ];
    ROLES
        .iter()
        .map(|(id, title, description)| SeedRole {
            id: (*id).to_owned(),
            title: (*title).to_owned(),
            description: (*description).to_owned(),
            restrict_from_level: RestrictFromLevel::NoRestriction,
        })
        .collect()
}

/// YAML nodes (scalars, sequences and mappings) a seed may hold. A site
/// with 20 contributors of one role each, written as in the format above,
/// is about 130 nodes, so this admits 10,000 × 20 (about 1.3 million)
/// three times over, and ~30,000 sites × 20 in all. The limit stays because
/// the seed is still a file that is parsed whole into memory.
pub const MAX_SEED_NODES: usize = 4_000_000;

/// Text in scalars (ids, emails, role names) a seed may hold: 10,000 × 20
/// with GUID account ids is about 20 MiB.
pub const MAX_SEED_SCALAR_BYTES: usize = 128 * 1024 * 1024;

/// The size limits a seed is parsed under.
#[derive(Debug, Clone, Copy)]
struct Limits {
    nodes: usize,
    scalar_bytes: usize,
}

const LIMITS: Limits = Limits {
    nodes: MAX_SEED_NODES,
    scalar_bytes: MAX_SEED_SCALAR_BYTES,
};

/// Parse YAML text into a seed and validate it (path-less errors).
pub(super) fn parse(text: &str) -> Result<Seed, EmulatorError> {
    parse_within(text, LIMITS)
}

fn parse_within(text: &str, limits: Limits) -> Result<Seed, EmulatorError> {
    // No source snippet in messages: the offending line could hold an API key.
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_nodes: limits.nodes,
            // One event per scalar, two per collection.
            max_events: 2 * limits.nodes,
            max_total_scalar_bytes: limits.scalar_bytes,
        },
        with_snippet: false,
    };
    let seed: Seed =
        serde_saphyr::from_str_with_options(text, options).map_err(|e| yaml_error(&e, limits))?;
    build_state(&seed)?;
    Ok(seed)
}

/// A seed over the size limits gets a message saying so and what the
/// limit is; anything else is invalid YAML, as the parser words it.
fn yaml_error(e: &serde_saphyr::Error, limits: Limits) -> EmulatorError {
    let mut inner = e;
    while let serde_saphyr::Error::WithSnippet { error, .. } = inner {
        inner = error;
    }
    use serde_saphyr::budget::BudgetBreach;
    let too_large = match inner {
        serde_saphyr::Error::Budget { breach, .. } => match breach {
            BudgetBreach::Nodes { .. } | BudgetBreach::Events { .. } => Some(format!(
                "more than {} YAML nodes (values, lists and mappings; a site with \
                 20 contributors is about 130)",
                limits.nodes
            )),
            BudgetBreach::ScalarBytes { .. } => Some(format!(
                "more than {} bytes of text in its values",
                limits.scalar_bytes
            )),
            _ => None,
        },
        _ => None,
    };
    match too_large {
        Some(limit) => EmulatorError::SeedTooLarge { path: None, limit },
        None => EmulatorError::ParseSeed {
            path: None,
            message: e.to_string(),
        },
    }
}

/// Validate the seed and turn it into the emulator's starting state.
pub(super) fn build_state(seed: &Seed) -> Result<State, EmulatorError> {
    let mut problems: Vec<String> = Vec::new();

    let clock = match &seed.clock {
        None => Clock::System,
        Some(text) => match OffsetDateTime::parse(text, &Rfc3339) {
            Ok(t) => Clock::Fixed(t),
            Err(e) => {
                problems.push(format!("clock {text:?} is not an RFC 3339 timestamp: {e}"));
                Clock::System
            }
        },
    };

    // Roles: predefined ones are global, custom ones belong to an account.
    // Ids must be unique across all of them so a role id names one role.
    let predefined_src = seed
        .predefined_roles
        .clone()
        .unwrap_or_else(default_predefined_roles);
    let mut role_owner: HashMap<String, String> = HashMap::new();
    let mut predefined = Vec::new();
    for r in &predefined_src {
        if let Some(role) = check_role(r, "predefined_roles", &mut role_owner, &mut problems) {
            predefined.push(role);
        }
    }

    let mut accounts: BTreeMap<String, Vec<Role>> = BTreeMap::new();
    let mut keys: HashMap<String, String> = HashMap::new();
    for (i, acct) in seed.accounts.iter().enumerate() {
        if acct.id.trim().is_empty() {
            problems.push(format!("accounts[{i}]: id is empty"));
            continue;
        }
        if accounts.contains_key(&acct.id) {
            problems.push(format!("accounts[{i}]: duplicate account id {:?}", acct.id));
            continue;
        }
        for (k, key) in acct.api_keys.iter().enumerate() {
            if key.trim().is_empty() {
                problems.push(format!("account {:?}: api_keys[{k}] is empty", acct.id));
            } else if let Some(other) = keys.get(key) {
                // Name the accounts, never the key itself.
                problems.push(format!(
                    "account {:?}: api_keys[{k}] is also a key of account {other:?}",
                    acct.id
                ));
            } else {
                keys.insert(key.clone(), acct.id.clone());
            }
        }
        let place = format!("account {:?} custom_roles", acct.id);
        let custom = acct
            .custom_roles
            .iter()
            .filter_map(|r| check_role(r, &place, &mut role_owner, &mut problems))
            .collect();
        accounts.insert(acct.id.clone(), custom);
    }

    let mut state = State::new(clock, predefined, accounts, keys);
    state.duplicate_invites = seed.duplicate_invites;

    for (i, s) in seed.sites.iter().enumerate() {
        if s.id.trim().is_empty() {
            problems.push(format!("sites[{i}]: id is empty"));
            continue;
        }
        if state.sites.contains_key(&s.id) {
            problems.push(format!("sites[{i}]: duplicate site id {:?}", s.id));
            continue;
        }
        if !state.accounts.contains_key(&s.account) {
            problems.push(format!(
                "site {:?}: account {:?} is not listed under accounts",
                s.id, s.account
            ));
            continue;
        }
        let mut site = Site::new(
            s.id.clone(),
            s.account.clone(),
            s.seat_limit.unwrap_or(DEFAULT_SEAT_LIMIT),
        );
        let mut seen = BTreeSet::new();
        for c in &s.contributors {
            let what = format!("site {:?} contributor {:?}", s.id, c.account_id);
            if c.account_id.trim().is_empty() {
                problems.push(format!(
                    "site {:?}: a contributor has an empty account_id",
                    s.id
                ));
                continue;
            }
            if c.account_id == s.account {
                problems.push(format!(
                    "{what}: is the site owner; the owner is implied and has no roles"
                ));
                continue;
            }
            if !seen.insert(c.account_id.clone()) {
                problems.push(format!("{what}: listed twice"));
                continue;
            }
            let Some(roles) = resolve_all(&state, &s.account, &c.roles, &what, &mut problems)
            else {
                continue;
            };
            let assigned = state.assign(&roles, None);
            site.contributors.insert(c.account_id.clone(), assigned);
        }
        for (k, inv) in s.invites.iter().enumerate() {
            let what = format!("site {:?} invites[{k}]", s.id);
            if crate::email::problem(&inv.email).is_some() {
                problems.push(format!(
                    "{what}: {:?} is not a valid email address",
                    inv.email
                ));
                continue;
            }
            let Some(roles) = resolve_all(&state, &s.account, &inv.roles, &what, &mut problems)
            else {
                continue;
            };
            let id = match &inv.id {
                Some(id) if !state.claim_invite_id(id, &s.id) => {
                    problems.push(format!("{what}: duplicate invite id {id:?}"));
                    continue;
                }
                Some(id) => id.clone(),
                None => state.next_invite_id(&s.id),
            };
            let now = state.now();
            site.invites.push(Invite {
                id,
                email: inv.email.trim().to_owned(),
                policy_ids: roles,
                status: inv.status,
                accepted_by: inv.accepted_by_account_id.clone(),
                replaced_by: None,
                created: now,
                updated: now,
                expires: now + super::state::INVITE_VALIDITY,
            });
        }
        state.sites.insert(s.id.clone(), site);
    }

    if let Some(faults) = &seed.faults {
        problems.extend(faults.problems());
    }

    if problems.is_empty() {
        Ok(state)
    } else {
        Err(EmulatorError::InvalidSeed {
            path: None,
            problems,
        })
    }
}

fn check_role(
    r: &SeedRole,
    place: &str,
    role_owner: &mut HashMap<String, String>,
    problems: &mut Vec<String>,
) -> Option<Role> {
    if r.id.trim().is_empty() || r.title.trim().is_empty() {
        problems.push(format!(
            "{place}: role {:?} needs a non-empty id and title",
            r.id
        ));
        return None;
    }
    if let Some(prev) = role_owner.get(&r.id) {
        problems.push(format!(
            "{place}: duplicate role id {:?} (already in {prev})",
            r.id
        ));
        return None;
    }
    role_owner.insert(r.id.clone(), place.to_owned());
    Some(Role {
        id: r.id.clone(),
        title: r.title.clone(),
        description: r.description.clone(),
        restrict: r.restrict_from_level,
    })
}

/// Resolve role tokens (ids or titles). Every problem is recorded; `None`
/// when any token failed, so a half-resolved entry is not silently kept.
fn resolve_all(
    state: &State,
    owner: &str,
    tokens: &[String],
    what: &str,
    problems: &mut Vec<String>,
) -> Option<Vec<String>> {
    if tokens.is_empty() {
        problems.push(format!("{what}: needs at least one role"));
        return None;
    }
    let mut out: Vec<String> = Vec::new();
    let mut ok = true;
    for t in tokens {
        match state.resolve_role_token(owner, t) {
            Ok(id) => {
                if !out.contains(&id) {
                    out.push(id);
                }
            }
            Err(msg) => {
                problems.push(format!("{what}: {msg}"));
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::{Limits, parse_within};

    /// Past a limit the error says the seed is too large and what the
    /// limit is (small limits here; the real ones are millions of nodes).
    #[test]
    fn a_seed_over_the_limits_is_refused_plainly() {
        let mut yaml = String::from("accounts:\n  - id: a\n    api_keys:\n");
        for k in 0..100 {
            yaml.push_str(&format!("      - key-{k}\n"));
        }
        let roomy = Limits {
            nodes: 1_000,
            scalar_bytes: 10_000,
        };
        assert!(parse_within(&yaml, roomy).is_ok());
        let few_nodes = Limits { nodes: 50, ..roomy };
        let msg = parse_within(&yaml, few_nodes)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(msg.contains("is too large"), "{msg}");
        assert!(msg.contains("more than 50 YAML nodes"), "{msg}");
        assert!(!msg.contains("key-"), "no values quoted: {msg}");
        let little_text = Limits {
            scalar_bytes: 100,
            ..roomy
        };
        let msg = parse_within(&yaml, little_text)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(msg.contains("more than 100 bytes of text"), "{msg}");
    }
}
