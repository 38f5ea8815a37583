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
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestedGrant {
    pub email: String,
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
    /// Every grant it asked for was marked as done.
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
