//! Planning a request-mode site: what to ask its owner, and whether a
//! request is due.
//!
//! Pure, like the rest of the plan engine: the ledger's request records and
//! the clock (`now`) are inputs. For the grants the config gives and the
//! owner has not been confirmed to have made, the plan is one of:
//!
//! - **new**: nothing was asked yet, or the open request does not cover what
//!   the config now asks (more people or other roles, or another
//!   recipient): one message goes out, replacing any open request;
//! - **sent**: the open request covers it and no reminder is due yet;
//! - **reminder**: the open request covers it, `reminder_after_days` have
//!   passed since it (or its last reminder) went out, and fewer than
//!   `max_reminders` reminders were sent: a reminder goes out;
//! - **stalled**: as for a reminder, but every reminder has been sent:
//!   nothing more is sent and the plan warns.
//!
//! New and reminder plans carry one `request` change per person and the
//! exact message `apply` sends ([`RequestPreview::message`]).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use time::{Duration, OffsetDateTime};

use crate::ledger::SiteLedger;
use crate::model::requests::{Channel, DEFAULT_MAX_REMINDERS, DEFAULT_REMINDER_AFTER_DAYS};
use crate::model::{Config, Contact, RoleName, Site};
use crate::plan::{Action, Change, Role, SitePlan, rfc3339, roles};
use crate::request::message::{self, Grant, Kind};

/// The access request of a request-mode site, as `apply` would send it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestPreview {
    pub status: RequestStatus,
    /// How it is (or was) delivered; absent when no channel is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    /// Who receives it; absent when the site names no contact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Recipient>,
    /// The people asked for and their roles, sorted by email.
    pub grants: Vec<RequestGrant>,
    /// When the open request was first sent (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<String>,
    /// When it or its latest reminder was sent (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sent_at: Option<String>,
    pub reminders_sent: u32,
    pub max_reminders: u32,
    /// When the next reminder becomes due (RFC 3339), while one is left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_reminder_at: Option<String>,
    /// When the request counts as stalled (RFC 3339), once no reminder is left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stalls_at: Option<String>,
    /// The message `apply` sends: present for `new` and `reminder`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<MessagePreview>,
    /// Why `apply` cannot send it as the config stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RequestStatus {
    /// `apply` sends a request (replacing an open one, if any).
    New,
    /// `apply` sends a reminder of the open request.
    Reminder,
    /// Sent; waiting for the owner. Nothing to do.
    Sent,
    /// Every reminder was sent without an answer; nothing more is sent.
    Stalled,
}

impl RequestStatus {
    pub fn name(self) -> &'static str {
        match self {
            RequestStatus::New => "new",
            RequestStatus::Reminder => "reminder",
            RequestStatus::Sent => "sent",
            RequestStatus::Stalled => "stalled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Recipient {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub email: String,
}

impl Recipient {
    /// `Sam Delta <sam@example.com>`, or the bare email.
    pub fn display(&self) -> String {
        match &self.name {
            Some(name) => format!("{name} <{}>", self.email),
            None => self.email.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestGrant {
    /// A person's key, or the email.
    pub who: String,
    pub email: String,
    /// Role titles as the config writes them, sorted.
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessagePreview {
    pub subject: String,
    /// Plain text, lines ending in `\n`.
    pub body: String,
    /// SHA-256 (hex) of the subject and body; recorded in the ledger.
    pub digest: String,
}

/// One principal the config grants access to on the site, with all its roles.
#[derive(Debug, Clone, Copy)]
pub struct Wanted<'a> {
    pub label: &'a str,
    pub email: Option<&'a str>,
    pub account: Option<&'a str>,
    pub roles: &'a [RoleName],
}

/// Plans a request-mode site into `plan` (changes, warnings, listings, the
/// request preview and the fingerprint).
pub fn plan_requests(
    config: &Config,
    site: &Site,
    wants: &[Wanted<'_>],
    ledger: &SiteLedger,
    now: OffsetDateTime,
    plan: &mut SitePlan,
) {
    let settings = config.requests.as_ref();
    let reminder_after = settings.map_or(DEFAULT_REMINDER_AFTER_DAYS, |s| s.reminder_after_days);
    let max_reminders = settings.map_or(DEFAULT_MAX_REMINDERS, |s| s.max_reminders);
    let recipient: Option<&Contact> = site.request.to.as_ref().or(site.owner.as_ref());
    plan.fingerprint = Some(fingerprint(ledger));
    if recipient.is_none() && !wants.is_empty() {
        plan.warnings.push(format!(
            "site `{}` has no API key and no `owner` contact: add `owner: {{ email: … }}` so the access request can be sent",
            site.key
        ));
    }

    // The access listings, built here and sorted at the end.
    let mut before: Vec<String> = plan.before.lines().map(String::from).collect();
    let mut after: Vec<String> = plan.after.lines().map(String::from).collect();
    // Which grants still need asking for.
    let mut outstanding: Vec<(Wanted<'_>, Grant)> = Vec::new();
    for want in wants {
        let titles = titles(want.roles);
        let Some(email) = want.email else {
            plan.warnings.push(format!(
                "`{}` has no known email, so the owner cannot be asked to invite it: give the person's email in the config",
                want.label
            ));
            continue;
        };
        if let Some(owner) = &site.owner
            && owner.email.eq_ignore_ascii_case(email)
        {
            plan.warnings.push(format!(
                "`{}` is the site owner's contact ({email}); the owner's access is never changed",
                want.label
            ));
            continue;
        }
        if ledger
            .granted_by_owner
            .iter()
            .any(|g| g.email == email && same_roles(&g.roles, &titles))
        {
            let line = format!("{email} (granted by the owner): {}", titles.join(", "));
            before.push(line.clone());
            after.push(line);
            continue;
        }
        outstanding.push((
            *want,
            Grant {
                email: email.to_string(),
                roles: titles,
            },
        ));
    }
    outstanding.sort_by(|a, b| a.1.email.cmp(&b.1.email));

    let open = ledger.open_request();
    if let Some(open) = open {
        for g in &open.grants {
            before.push(format!("{} (requested): {}", g.email, g.roles.join(", ")));
        }
    }
    for (_, g) in &outstanding {
        after.push(format!("{} (requested): {}", g.email, g.roles.join(", ")));
    }
    before.sort();
    before.dedup();
    after.sort();
    after.dedup();
    plan.before = before.into();
    plan.after = after.into();
    if outstanding.is_empty() {
        return;
    }

    let recipient_email = recipient.map(|c| c.email.as_str());
    let covers = |r: &crate::ledger::RequestRecord| {
        recipient_email == Some(r.to.as_str())
            && outstanding.iter().all(|(_, g)| {
                r.grants
                    .iter()
                    .any(|rg| rg.email == g.email && same_roles(&rg.roles, &g.roles))
            })
    };
    let mut preview = RequestPreview {
        status: RequestStatus::New,
        channel: settings.and_then(|s| s.channel_for(&site.request)),
        to: recipient.map(|c| Recipient {
            name: c.name.clone(),
            email: c.email.clone(),
        }),
        grants: outstanding
            .iter()
            .map(|(w, g)| RequestGrant {
                who: w.label.to_string(),
                email: g.email.clone(),
                roles: g.roles.clone(),
            })
            .collect(),
        sent_at: None,
        last_sent_at: None,
        reminders_sent: 0,
        max_reminders,
        next_reminder_at: None,
        stalls_at: None,
        message: None,
        problem: None,
    };
    let grants: Vec<Grant> = outstanding.iter().map(|(_, g)| g.clone()).collect();
    let mut ctx = message::Context {
        settings,
        site,
        site_request: &site.request,
        to: recipient,
        grants: &grants,
        kind: Kind::Request,
    };
    let reason = match open {
        Some(r) if covers(r) => {
            let reminders = u32::try_from(r.reminders.len()).unwrap_or(u32::MAX);
            let last = r.last_sent_at();
            // A hand-edited date near the end of time must not panic.
            let due = last
                .checked_add(Duration::days(i64::from(reminder_after)))
                .unwrap_or(last);
            preview.sent_at = Some(rfc3339(r.sent_at));
            preview.last_sent_at = Some(rfc3339(last));
            preview.reminders_sent = reminders;
            if reminders < max_reminders {
                preview.next_reminder_at = Some(rfc3339(due));
            } else {
                preview.stalls_at = Some(rfc3339(due));
            }
            if now < due {
                preview.status = RequestStatus::Sent;
                None
            } else if reminders < max_reminders {
                preview.status = RequestStatus::Reminder;
                ctx.kind = Kind::Reminder {
                    first_sent: r.sent_at.date(),
                };
                Some(format!(
                    "reminder {} of {max_reminders}: no answer to the request sent {}",
                    reminders + 1,
                    r.sent_at.date()
                ))
            } else {
                preview.status = RequestStatus::Stalled;
                plan.warnings.push(format!(
                    "the access request sent to {} on {} is stalled: no answer after {reminders} reminder(s), so nothing more is sent; contact the owner, then run `accessctl request done {}` once access is granted (or `accessctl request resend {}` to start again)",
                    r.to,
                    r.sent_at.date(),
                    site.key,
                    site.key
                ));
                None
            }
        }
        Some(r) if recipient_email != Some(r.to.as_str()) => Some(format!(
            "the recipient changed since the request sent to {} on {}: a new request replaces it",
            r.to,
            r.sent_at.date()
        )),
        Some(r) => Some(format!(
            "the config asks for more than the request sent {}: a new request replaces it",
            r.sent_at.date()
        )),
        None => Some("no API key for this site: the owner is asked to grant it".to_string()),
    };
    let Some(reason) = reason else {
        plan.request = Some(preview);
        return;
    };
    let composed = message::compose(&ctx);
    preview.message = Some(MessagePreview {
        digest: composed.digest(),
        subject: composed.subject,
        body: composed.body,
    });
    preview.problem = if settings.is_none() {
        Some("the config has no `requests:` block, so `apply` cannot send this request: add one with an `email` or `webhook` channel".to_string())
    } else if preview.channel.is_none() {
        Some("`requests:` configures no channel: add `email` or `webhook`".to_string())
    } else if recipient.is_none() {
        Some(format!(
            "there is nobody to send it to: add `owner: {{ email: … }}` to site `{}`",
            site.key
        ))
    } else {
        None
    };
    for (want, grant) in &outstanding {
        plan.changes.push(Change {
            action: Action::Request,
            who: want.label.to_string(),
            email: Some(grant.email.clone()),
            account_id: want.account.map(str::to_string),
            invite_id: None,
            identity: None,
            roles_before: Vec::new(),
            roles_after: grant
                .roles
                .iter()
                .map(|t| Role {
                    id: None,
                    title: t.clone(),
                })
                .collect(),
            reason: reason.clone(),
        });
    }
    plan.request = Some(preview);
}

/// Role titles as written, one per role: spellings of one role (title,
/// slug) are compared by slug, since without a key the site's role list
/// cannot be read.
fn titles(roles: &[RoleName]) -> Vec<String> {
    let mut titles: Vec<String> = roles.iter().map(|r| r.name.to_string()).collect();
    titles.sort_by_key(|t| roles::slug(t));
    titles.dedup_by_key(|t| roles::slug(t));
    titles.sort();
    titles
}

/// Whether two lists name the same roles, compared by slug.
pub fn same_roles(a: &[String], b: &[String]) -> bool {
    let slugs = |list: &[String]| {
        let mut s: Vec<String> = list.iter().map(|t| roles::slug(t)).collect();
        s.sort();
        s.dedup();
        s
    };
    slugs(a) == slugs(b)
}

/// A digest of the site's request records: what was observed in request
/// mode, so a saved plan can tell whether anything moved.
fn fingerprint(ledger: &SiteLedger) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"request-mode\n");
    for r in &ledger.requests {
        hasher.update(format!(
            "request {} {} {} {:?} {} {}\n",
            r.sent_at.unix_timestamp(),
            r.channel.name(),
            r.to,
            r.state,
            r.digest,
            r.reminders.len()
        ));
        for g in &r.grants {
            hasher.update(format!("  grant {} {}\n", g.email, g.roles.join(",")));
        }
    }
    for g in &ledger.granted_by_owner {
        hasher.update(format!("granted {} {}\n", g.email, g.roles.join(",")));
    }
    crate::hex::encode(&hasher.finalize())
}
