//! Delivering a site's planned access request, and recording it.
//!
//! `apply` hands the [`Courier`] a site's plan; the plan carries the exact
//! message (`SitePlan::request`), so what goes out is what the plan showed.
//! The courier reads the channel's credentials from the environment, sends,
//! and only on success records the request (or the reminder) in the site's
//! ledger; the caller writes the ledger to disk. A failure records nothing,
//! so the next `apply` tries again.
//!
//! Delivery is at least once: if the process dies after the server took the
//! message but before the ledger is written, the next `apply` sends it
//! again. For an access request a duplicate is a nuisance, not a harm; a
//! webhook receiver can drop it by its delivery id.

use std::time::Duration;

use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{smtp, webhook};
use crate::ledger::{
    ReminderRecord, RequestRecord, RequestState, RequestedChange, RequestedGrant, SiteLedger,
};
use crate::message::Message;
use crate::model::Contact;
use crate::model::requests::{Channel, Settings};
use crate::plan::{RequestPreview, RequestStatus, SitePlan};

/// Sends access requests through the configured channels.
#[derive(Debug, Clone)]
pub struct Courier {
    settings: Option<Settings>,
    timeout: Duration,
}

impl Courier {
    /// `settings` is the config's `requests:` block; `timeout` bounds each
    /// SMTP command and each webhook call.
    pub fn new(settings: Option<Settings>, timeout: Duration) -> Courier {
        Courier { settings, timeout }
    }

    /// Sends the request `plan` carries and records it in `ledger`. Returns
    /// a line for the report, or why nothing was sent.
    pub async fn deliver(
        &self,
        plan: &SitePlan,
        ledger: &mut SiteLedger,
        now: OffsetDateTime,
    ) -> Result<String, String> {
        let preview = plan
            .request
            .as_ref()
            .ok_or("the plan has request changes but no request message")?;
        if let Some(problem) = &preview.problem {
            return Err(problem.clone());
        }
        let settings = self
            .settings
            .as_ref()
            .ok_or("the config has no `requests:` block")?;
        let preview_message = preview
            .message
            .as_ref()
            .ok_or("the plan holds no message to send")?;
        let message = Message {
            subject: preview_message.subject.clone(),
            body: preview_message.body.clone(),
        };
        if message.digest() != preview_message.digest {
            return Err(
                "the message in the plan does not match its digest; make a new plan".to_string(),
            );
        }
        let to = preview.to.as_ref().ok_or("the request has no recipient")?;
        let to = Contact {
            name: to.name.clone(),
            email: to.email.clone(),
        };
        let channel = preview.channel.ok_or("no channel is configured")?;
        let reminder = match preview.status {
            RequestStatus::New => 0,
            RequestStatus::Reminder => {
                let open = ledger
                    .open_request()
                    .ok_or("the ledger holds no open request to remind of; make a new plan")?;
                u32::try_from(open.reminders.len()).unwrap_or(u32::MAX) + 1
            }
            RequestStatus::Sent | RequestStatus::Stalled => {
                return Err(format!(
                    "the request is {}; there is nothing to send",
                    preview.status.name()
                ));
            }
        };
        let sent_at = now.format(&Rfc3339).map_err(|e| e.to_string())?;
        let id = delivery_id(&plan.site_id, &sent_at, &preview_message.digest);
        let mut message_id = None;
        match channel {
            Channel::Email => {
                let email = settings
                    .email
                    .as_ref()
                    .ok_or("`requests.email` is not configured")?;
                let server = smtp::Server::resolve(&email.smtp)?;
                let domain = email.from.email.rsplit('@').next().unwrap_or("accessctl");
                let own_id = format!("accessctl.{id}@{domain}");
                let first_id = ledger.open_request().and_then(|r| r.message_id.clone());
                let mail = smtp::Mail {
                    from: &email.from,
                    reply_to: email.reply_to.as_deref(),
                    to: &to,
                    subject: &message.subject,
                    body: &message.body,
                    date: now,
                    message_id: &own_id,
                    in_reply_to: if reminder > 0 {
                        first_id.as_deref()
                    } else {
                        None
                    },
                };
                smtp::send(&server, &mail, self.timeout).await?;
                message_id = Some(own_id);
            }
            Channel::Webhook => {
                let hook = settings
                    .webhook
                    .as_ref()
                    .ok_or("`requests.webhook` is not configured")?;
                let endpoint = webhook::Endpoint::resolve(hook)?;
                let body = payload(plan, preview, settings, &id, reminder, &sent_at)?;
                webhook::send(&endpoint, body, now.unix_timestamp(), &id, self.timeout).await?;
            }
        }
        record(ledger, preview, channel, &to, message_id, reminder, now);
        let what = if reminder == 0 {
            preview.noun().to_string()
        } else {
            format!("reminder {reminder}")
        };
        Ok(format!("{what} sent to {} by {}", to.email, channel.name()))
    }
}

/// The webhook body as bytes.
fn payload(
    plan: &SitePlan,
    preview: &RequestPreview,
    settings: &Settings,
    id: &str,
    reminder: u32,
    sent_at: &str,
) -> Result<Vec<u8>, String> {
    let message = preview
        .message
        .as_ref()
        .ok_or("the plan holds no message to send")?;
    let to = preview.to.as_ref().ok_or("the request has no recipient")?;
    let dashboard_url = crate::message::dashboard_url(&plan.site_id);
    fn grant(g: &crate::plan::request::RequestGrant) -> webhook::PayloadGrant<'_> {
        webhook::PayloadGrant {
            who: &g.who,
            email: &g.email,
            roles: &g.roles,
        }
    }
    let body = webhook::Payload {
        kind_of: webhook::PAYLOAD_TYPE,
        version: 1,
        id,
        kind: if reminder == 0 { "request" } else { "reminder" },
        reminder,
        sent_at,
        agency: &settings.agency,
        site: &plan.site,
        site_id: &plan.site_id,
        dashboard_url: &dashboard_url,
        to: webhook::PayloadContact {
            name: to.name.as_deref(),
            email: &to.email,
        },
        grants: preview.grants.iter().map(grant).collect(),
        changes: preview
            .changes
            .iter()
            .map(|c| webhook::PayloadChange {
                who: &c.who,
                email: &c.email,
                from: &c.from,
                roles: &c.roles,
            })
            .collect(),
        removals: preview.removals.iter().map(grant).collect(),
        subject: &message.subject,
        text: &message.body,
        digest: &message.digest,
    };
    serde_json::to_vec(&body).map_err(|e| format!("cannot write the webhook body: {e}"))
}

/// Records a delivered request or reminder in the ledger.
fn record(
    ledger: &mut SiteLedger,
    preview: &RequestPreview,
    channel: Channel,
    to: &Contact,
    message_id: Option<String>,
    reminder: u32,
    now: OffsetDateTime,
) {
    let digest = preview
        .message
        .as_ref()
        .map(|m| m.digest.clone())
        .unwrap_or_default();
    if reminder > 0
        && let Some(open) = ledger.open_request_mut()
    {
        open.reminders.push(ReminderRecord {
            sent_at: now,
            digest,
        });
        return;
    }
    for r in &mut ledger.requests {
        if r.state == RequestState::Open {
            r.state = RequestState::Superseded;
        }
    }
    ledger.requests.push(RequestRecord {
        sent_at: now,
        channel,
        to: to.email.clone(),
        grants: preview
            .grants
            .iter()
            .map(|g| RequestedGrant {
                email: g.email.clone(),
                roles: g.roles.clone(),
            })
            .collect(),
        changes: preview
            .changes
            .iter()
            .map(|c| RequestedChange {
                email: c.email.clone(),
                from: c.from.clone(),
                roles: c.roles.clone(),
            })
            .collect(),
        removals: preview
            .removals
            .iter()
            .map(|g| RequestedGrant {
                email: g.email.clone(),
                roles: g.roles.clone(),
            })
            .collect(),
        digest,
        message_id,
        reminders: Vec::new(),
        state: RequestState::Open,
    });
}

/// An id unique to one delivery: site, time and message.
fn delivery_id(site_id: &str, sent_at: &str, digest: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(format!("{site_id}\n{sent_at}\n{digest}"));
    crate::hex::encode(&hasher.finalize()[..16])
}
