//! The plan: pure data saying what `apply` would change, per site.
//!
//! A plan is computed by [`diff::plan_site`] from the validated config, what
//! a provider observed, the site's ledger and the current time, and nothing
//! else, so the same inputs give a byte-identical plan. Renderers turn it into
//! text, JSON or Markdown; `apply` executes its changes in order. The JSON
//! rendering is this structure serialized, versioned by `format_version`, with
//! its schema generated into `schemas/plan.schema.json`.

pub mod diff;
pub mod request;
pub mod safety;
pub mod targets;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub use diff::{Observation, plan_site};
pub use request::{RequestChange, RequestPreview, RequestStatus};

/// Bumped when the JSON shape changes incompatibly.
pub const FORMAT_VERSION: u32 = 2;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Version of this JSON format.
    pub format_version: u32,
    /// SHA-256 of the config file the plan was made from.
    pub config_digest: String,
    /// The day the plan was made for (UTC); `until` dates compare against it.
    pub today: String,
    /// One entry per site, sorted by site key.
    pub sites: Vec<SitePlan>,
    /// Safety guards this plan breaks; `apply` refuses it while any remain
    /// (each names the flag that overrides it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refusals: Vec<String>,
    /// Whether the ledger records this plan used were verified against the
    /// ledger key (README, "Security model").
    #[serde(default)]
    pub ledger: LedgerCheck,
    /// Sites the run's selection held but `--changed-from` left out: their
    /// desired state is the same as in the base config. Their drift is not
    /// checked; a full plan checks it. Absent when nothing was skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
    /// The slice of the config's sites this plan covers (`--shard K/N`);
    /// absent for a whole plan. `accessctl plan merge` joins the N shard
    /// plans into a whole one; `apply` refuses a shard plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<crate::scope::Shard>,
    /// The config's policy rules (`policies:`) that the sites' live access
    /// breaks, by site. Reported only: `apply` refuses a config that breaks
    /// an error rule itself, but live access that breaks one may be what
    /// the plan fixes. Absent when none is broken.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policy: Vec<crate::policy::Violation>,
}

/// How far the ledger's records could be checked in the job that planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LedgerCheck {
    /// No ledger key in this job: records were used unchecked.
    #[default]
    Unverified,
    /// Every record used carries a valid signature; the others were set
    /// aside and are listed as warnings.
    Verified,
}

/// Where the account id a change acts on comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Provenance {
    /// The config names the account (`wix_account_id`).
    Config,
    /// A new collaborator matched exactly one open invite, in this plan.
    InviteMatch,
    /// A ledger record whose signature verified.
    LedgerVerified,
    /// A ledger record used unchecked (no ledger key in this job).
    LedgerUnverified,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// The agency holds an API key: accessctl makes the changes itself.
    Managed,
    /// No API key: the site's owner is asked to make the changes.
    Request,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SitePlan {
    pub site: String,
    pub site_id: String,
    pub mode: Mode,
    /// SHA-256 over what was observed (contributors, role sets, ledger
    /// invites); absent when the site could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Collaborators observed on the site, the owner not counted.
    #[serde(default)]
    pub collaborators: usize,
    /// Changes in the order `apply` makes them.
    pub changes: Vec<Change>,
    /// Invites sent earlier that are still open and need nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<Pending>,
    /// Things a person should look at; they change nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Why the site could not be planned; a site with errors has no changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// Access on the site as observed, one line per principal, sorted.
    #[schemars(with = "Vec<String>")]
    pub before: Listing,
    /// Access after the changes, same format.
    #[schemars(with = "Vec<String>")]
    pub after: Listing,
    /// Request mode: the access request to the site's owner — its status
    /// and, when `apply` would send one, the exact message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestPreview>,
    /// The client's scopes on other platforms (GA4, GTM), each planned on
    /// its own; the fields above are the Wix site's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<targets::TargetPlan>,
}

impl SitePlan {
    /// Whether the site, or one of its targets, could not be planned.
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty() || self.targets.iter().any(|t| !t.errors.is_empty())
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Record in the ledger that a new contributor is the person an invite
    /// went to. No API call.
    Link,
    /// Revoke an outstanding invite.
    RevokeInvite,
    /// Send an invite by email (batched per role set by `apply`).
    Invite,
    /// Replace a contributor's role set.
    ChangeRole,
    /// Remove a contributor from the site.
    Remove,
    /// Ask the site owner to grant access (request mode).
    Request,
    /// Ask the site owner to change the roles of someone they granted
    /// access to (request mode).
    RequestChange,
    /// Ask the site owner to remove someone they granted access to
    /// (request mode).
    RequestRemoval,
}

impl Action {
    /// The symbol shown in text and Markdown plans.
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Link => "=",
            Action::RevokeInvite => "-",
            Action::Invite => "+",
            Action::ChangeRole => "~",
            Action::Remove => "-",
            Action::Request | Action::RequestChange | Action::RequestRemoval => "?",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Action::Link => "link",
            Action::RevokeInvite => "revoke-invite",
            Action::Invite => "invite",
            Action::ChangeRole => "change-role",
            Action::Remove => "remove",
            Action::Request => "request",
            Action::RequestChange => "request-change",
            Action::RequestRemoval => "request-removal",
        }
    }

    /// Whether it is something a request-mode site's owner is asked to do.
    pub fn is_request(self) -> bool {
        matches!(
            self,
            Action::Request | Action::RequestChange | Action::RequestRemoval
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Role {
    /// Wix role id; absent in request mode, where roles cannot be looked up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Change {
    pub action: Action,
    /// Who it concerns: a person's key, an email, or `account <id>`.
    pub who: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite_id: Option<String>,
    /// Roles held (or invited with) before the change, sorted by title.
    pub roles_before: Vec<Role>,
    /// Roles held after the change, sorted by title.
    pub roles_after: Vec<Role>,
    /// Why, in a short sentence.
    pub reason: String,
    /// Where the account id comes from, when the change acts on one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Provenance>,
}

impl Change {
    /// The change in the core's terms, as the Wix provider carries it out
    /// (the inverse of how the planner words the core's changes): an invite
    /// is an add by email, a role change an update of an account, a revoke
    /// the removal of an email's invite (its id the handle), a removal that
    /// of an account. `None` for what no Wix call does: a link (the
    /// ledger's alone) and requests (a message to the owner).
    pub fn to_core(&self) -> Option<crate::platform::Change> {
        use crate::platform::{Access, ChangeKind, Who};
        let ids = |roles: &[Role]| Access::roles(roles.iter().filter_map(|r| r.id.clone()));
        let (kind, who, handle) = match self.action {
            Action::Invite => (ChangeKind::Add, Who::Email(self.email.clone()?), None),
            Action::ChangeRole => {
                let account = self.account_id.clone()?;
                (
                    ChangeKind::Update,
                    Who::PlatformId(account.clone()),
                    Some(account),
                )
            }
            Action::RevokeInvite => (
                ChangeKind::Remove,
                Who::Email(self.email.clone()?),
                self.invite_id.clone(),
            ),
            Action::Remove => {
                let account = self.account_id.clone()?;
                (
                    ChangeKind::Remove,
                    Who::PlatformId(account.clone()),
                    Some(account),
                )
            }
            Action::Link | Action::Request | Action::RequestChange | Action::RequestRemoval => {
                return None;
            }
        };
        Some(crate::platform::Change {
            kind,
            who,
            from: (kind != ChangeKind::Add).then(|| ids(&self.roles_before)),
            to: (kind != ChangeKind::Remove).then(|| ids(&self.roles_after)),
            handle,
            reason: self.reason.clone(),
        })
    }

    /// The ids of the roles held after the change, sorted: what Wix is sent.
    pub fn role_ids_after(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .roles_after
            .iter()
            .filter_map(|r| r.id.clone())
            .collect();
        ids.sort();
        ids
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pending {
    pub who: String,
    pub email: String,
    pub roles: Vec<Role>,
    /// RFC 3339.
    pub sent_at: String,
    /// RFC 3339.
    pub expires_at: String,
}

impl Plan {
    /// Changes on every platform.
    pub fn change_count(&self) -> usize {
        self.sites
            .iter()
            .map(|s| s.changes.len() + s.targets.iter().map(|t| t.changes.len()).sum::<usize>())
            .sum()
    }

    pub fn has_errors(&self) -> bool {
        self.sites_with_errors() > 0
    }

    /// Sites that could not be planned, on Wix or on any of their targets.
    pub fn sites_with_errors(&self) -> usize {
        self.sites.iter().filter(|s| s.has_errors()).count()
    }

    /// Changes per platform, for the summary.
    pub fn platform_counts(&self) -> std::collections::BTreeMap<crate::platform::Platform, usize> {
        let mut counts = std::collections::BTreeMap::new();
        for site in &self.sites {
            if !site.changes.is_empty() {
                *counts.entry(crate::platform::Platform::Wix).or_insert(0) += site.changes.len();
            }
            for t in &site.targets {
                if !t.changes.is_empty() {
                    *counts.entry(t.platform).or_insert(0) += t.changes.len();
                }
            }
        }
        counts
    }

    /// Changes whose account comes from a ledger record nobody could verify
    /// (no ledger key in the job that planned).
    pub fn unverified_changes(&self) -> usize {
        self.sites
            .iter()
            .flat_map(|s| &s.changes)
            .filter(|c| c.identity == Some(Provenance::LedgerUnverified))
            .count()
    }

    /// The line renderers show when [`Plan::unverified_changes`] is not 0.
    pub fn unverified_note(&self) -> Option<String> {
        let n = self.unverified_changes();
        (n > 0).then(|| {
            let (what, verb) = if n == 1 {
                ("change", "rests")
            } else {
                ("changes", "rest")
            };
            format!(
                "{n} {what} {verb} on ledger records that were not verified: no ledger key in this job (README, \"Security model\")"
            )
        })
    }

    /// Counts per action over the whole plan.
    pub fn counts(&self) -> std::collections::BTreeMap<Action, usize> {
        let mut counts = std::collections::BTreeMap::new();
        for c in self.sites.iter().flat_map(|s| &s.changes) {
            *counts.entry(c.action).or_insert(0) += 1;
        }
        counts
    }
}

/// The JSON schema of the plan format, pretty-printed with a trailing newline.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(Plan);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// An access listing: one line per principal, sorted. Held as one shared
/// text (one allocation, not one per line: a 10,000-site plan has 440,000
/// lines; and a site whose access does not change holds one text for both
/// listings, see [`Listing::same_as`]); in JSON it is a list of lines.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Listing(std::sync::Arc<str>);

impl Listing {
    /// The lines, in order.
    pub fn lines(&self) -> impl Iterator<Item = &str> + '_ {
        (!self.0.is_empty())
            .then(|| self.0.split('\n'))
            .into_iter()
            .flatten()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The length of the text: the lines and the breaks between them.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// `self`, sharing `other`'s text when the two are equal.
    pub fn same_as(self, other: &Listing) -> Listing {
        if self == *other { other.clone() } else { self }
    }
}

impl<S: AsRef<str>> FromIterator<S> for Listing {
    /// Lines as given; a line break inside one (a role title could hold
    /// one) becomes a space.
    fn from_iter<I: IntoIterator<Item = S>>(lines: I) -> Self {
        // Sized exactly: ten thousand sites' listings leave no slack.
        let lines: Vec<S> = lines.into_iter().collect();
        let size = lines.iter().map(|l| l.as_ref().len() + 1).sum::<usize>();
        let mut text = String::with_capacity(size.saturating_sub(1));
        for (i, line) in lines.iter().enumerate() {
            if i > 0 {
                text.push('\n');
            }
            let line = line.as_ref();
            if line.contains('\n') {
                text.push_str(&line.replace('\n', " "));
            } else {
                text.push_str(line);
            }
        }
        Listing(text.into())
    }
}

impl From<Vec<String>> for Listing {
    fn from(lines: Vec<String>) -> Self {
        lines.into_iter().collect()
    }
}

impl std::fmt::Debug for Listing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.lines()).finish()
    }
}

impl Serialize for Listing {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.lines())
    }
}

impl<'de> Deserialize<'de> for Listing {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<String>::deserialize(deserializer).map(Listing::from)
    }
}

/// A time as the plan shows it (RFC 3339), for [`diff`] and [`request`]
/// alike.
fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}
