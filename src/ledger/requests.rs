//! Ledger records of request mode: access requests sent to site owners, and
//! grants a person confirmed the owner made (`accessctl request done`).
//!
//! Wix cannot tell the agency whether an owner acted on a request (there is
//! no key to read the site with), so these records are the only memory of
//! what was asked, when, and what came of it. What they mean for the next
//! plan (sent, reminder due, stalled) is decided by `plan::request`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::model::requests::Channel;

/// One access request delivered to a site's owner, with its reminders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestRecord {
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String")]
    pub sent_at: OffsetDateTime,
    pub channel: Channel,
    /// The recipient's email.
    pub to: String,
    /// What was asked: each person and the role titles, sorted.
    pub grants: Vec<RequestedGrant>,
    /// Role changes asked for: people the owner granted access to whose
    /// roles the config now gives differently. Absent in ledgers written
    /// before removals were asked for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<RequestedChange>,
    /// People the owner was asked to remove (the config no longer gives
    /// them access), with the roles they held.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removals: Vec<RequestedGrant>,
    /// SHA-256 (hex) of the subject and body that were sent.
    pub digest: String,
    /// The email's Message-ID, so reminders can refer to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reminders: Vec<ReminderRecord>,
    pub state: RequestState,
}

impl RequestRecord {
    /// When the request or its latest reminder went out.
    pub fn last_sent_at(&self) -> OffsetDateTime {
        self.reminders
            .iter()
            .map(|r| r.sent_at)
            .max()
            .map_or(self.sent_at, |r| r.max(self.sent_at))
    }

    /// Every email the request names (grants, changes, removals).
    pub fn emails(&self) -> impl Iterator<Item = &str> + '_ {
        self.grants
            .iter()
            .map(|g| g.email.as_str())
            .chain(self.changes.iter().map(|c| c.email.as_str()))
            .chain(self.removals.iter().map(|r| r.email.as_str()))
    }

    /// The removal of `email` this request asks for, if any.
    pub fn removal_of(&self, email: &str) -> Option<&RequestedGrant> {
        self.removals.iter().find(|r| r.email == email)
    }

    /// The role change of `email` this request asks for, if any.
    pub fn change_of(&self, email: &str) -> Option<&RequestedChange> {
        self.changes.iter().find(|c| c.email == email)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestedGrant {
    pub email: String,
    pub roles: Vec<String>,
}

/// A role change asked of the owner: from the roles the owner was
/// confirmed to have given (`from`) to `roles`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestedChange {
    pub email: String,
    /// Role titles held, sorted.
    pub from: Vec<String>,
    /// Role titles to hold instead, sorted.
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReminderRecord {
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String")]
    pub sent_at: OffsetDateTime,
    pub digest: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RequestState {
    /// Sent; no answer recorded yet. At most one request per site is open.
    Open,
    /// Everything it asked for (grants, role changes, removals) was marked
    /// as done.
    Done,
    /// Replaced by a later request (the config asked for more, the
    /// recipient changed, or `accessctl request resend`).
    Superseded,
}

/// A grant a person confirmed the owner made (`accessctl request done`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnerGrant {
    pub email: String,
    /// Role titles, sorted.
    pub roles: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String")]
    pub marked_at: OffsetDateTime,
}

/// What in the request records cannot be put in a message to an owner, as
/// (top-level key, what is wrong): an email that is not one, or a role
/// title with a line break or another control character. These records
/// become the lists and steps of removal and change requests.
pub(super) fn problems(
    requests: &[RequestRecord],
    granted: &[OwnerGrant],
) -> Vec<(&'static str, String)> {
    let bad_title = |t: &String| t.trim().is_empty() || t.chars().any(char::is_control);
    let mut problems = Vec::new();
    for (i, r) in requests.iter().enumerate() {
        let named = std::iter::once(r.to.as_str()).chain(r.emails());
        if let Some(p) = named.filter_map(crate::email::problem).next() {
            problems.push((
                "requests",
                format!("request {} names an email that is not one: {p}", i + 1),
            ));
        }
        let titles = r
            .grants
            .iter()
            .chain(&r.removals)
            .flat_map(|g| &g.roles)
            .chain(r.changes.iter().flat_map(|c| c.from.iter().chain(&c.roles)));
        if titles.into_iter().any(bad_title) {
            problems.push((
                "requests",
                format!(
                    "request {} has a role title that is empty or holds a line break or control character",
                    i + 1
                ),
            ));
        }
    }
    for (i, g) in granted.iter().enumerate() {
        if let Some(p) = crate::email::problem(&g.email) {
            problems.push((
                "granted_by_owner",
                format!(
                    "entry {} of `granted_by_owner` has an email that is not one: {p}",
                    i + 1
                ),
            ));
        }
        if g.roles.iter().any(bad_title) {
            problems.push((
                "granted_by_owner",
                format!(
                    "entry {} of `granted_by_owner` has a role title that is empty or holds a line break or control character",
                    i + 1
                ),
            ));
        }
    }
    problems
}
