//! Planning a request-mode site: what to ask its owner, and whether a
//! request is due.
//!
//! Pure, like the rest of the plan engine: the ledger's request records and
//! the clock (`now`) are inputs. What the owner was confirmed to have
//! granted (`granted_by_owner`, marked by `accessctl request done`) is what
//! accessctl believes the site holds. Against it, the config asks for
//! grants (people it gives access the owner has not been confirmed to
//! give), role changes (confirmed people it gives other roles) and removals
//! (confirmed people it no longer gives access: removed, or their `until`
//! passed), as the platform-neutral diff (`platform::diff`) decides them
//! over that access, roles compared by slug. For those, the plan is one of:
//!
//! - **new**: nothing was asked yet, or the open request does not cover what
//!   the config now asks (more people, other roles, another change or
//!   removal, or another recipient): one message goes out, replacing any
//!   open request;
//! - **sent**: the open request covers it and no reminder is due yet;
//! - **reminder**: the open request covers it, `reminder_after_days` have
//!   passed since it (or its last reminder) went out, and fewer than
//!   `max_reminders` reminders were sent: a reminder goes out;
//! - **stalled**: as for a reminder, but every reminder has been sent:
//!   nothing more is sent and the plan warns.
//!
//! New and reminder plans carry one change per person (`request`,
//! `request-change` or `request-removal`) and the exact message `apply`
//! sends ([`RequestPreview::message`]): one message per site, whatever it
//! asks for.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use time::{Duration, OffsetDateTime};

use std::collections::{BTreeMap, BTreeSet};

use crate::ledger::SiteLedger;
use crate::message::{self, Grant, Kind, RoleChange};
use crate::model::requests::{Channel, DEFAULT_MAX_REMINDERS, DEFAULT_REMINDER_AFTER_DAYS};
use crate::model::{Config, Contact, RoleName, Site};
use crate::plan::{Action, Change, Role, SitePlan, rfc3339};
use crate::platform::diff::{self, Desired};
use crate::platform::{
    Access, Binding, Capabilities, ChangeKind, Lifecycle, Platform, PrincipalKey, Target,
    TargetState, Unmanaged, Who,
};
use crate::roles;

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
    /// People the owner granted access to whose roles the config now gives
    /// differently: the owner is asked to change them. Sorted by email.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<RequestChange>,
    /// People the owner granted access to whom the config no longer gives
    /// any: the owner is asked to remove them. Sorted by email.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removals: Vec<RequestGrant>,
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

impl RequestPreview {
    /// Whether it asks the owner to change or remove access, not only to
    /// add it.
    pub fn changes_access(&self) -> bool {
        !self.changes.is_empty() || !self.removals.is_empty()
    }

    /// `access request`, or `access change request` when it changes or
    /// removes access.
    pub fn noun(&self) -> &'static str {
        if self.changes_access() {
            "access change request"
        } else {
            "access request"
        }
    }

    /// Every email it asks something for.
    pub fn emails(&self) -> impl Iterator<Item = &str> + '_ {
        self.grants
            .iter()
            .chain(&self.removals)
            .map(|g| g.email.as_str())
            .chain(self.changes.iter().map(|c| c.email.as_str()))
    }
}

/// A role change asked of the owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestChange {
    /// A person's key, or the email.
    pub who: String,
    pub email: String,
    /// Role titles the owner was confirmed to have given, sorted.
    pub from: Vec<String>,
    /// Role titles to give instead, as the config writes them, sorted.
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
    // What still needs asking for (grants, role changes, removals) is
    // decided by the platform-neutral diff: what the owner confirmed
    // granting (`granted_by_owner`) is the site's access, roles compared by
    // slug; all of it was asked for by accessctl, so what the config no
    // longer gives is asked back; the owner's own access is never touched.
    let mut desired: BTreeMap<Who, Desired> = BTreeMap::new();
    let mut by_email: BTreeMap<&str, (Wanted<'_>, Vec<String>)> = BTreeMap::new();
    // Every email the config gives access to here, the owner's included.
    let mut wanted_emails: Vec<&str> = Vec::new();
    for want in wants {
        let Some(email) = want.email else {
            plan.warnings.push(format!(
                "`{}` has no known email, so the owner cannot be asked to invite it: give the person's email in the config",
                want.label
            ));
            continue;
        };
        wanted_emails.push(email);
        if let Some(owner) = &site.owner
            && owner.email.eq_ignore_ascii_case(email)
        {
            plan.warnings.push(format!(
                "`{}` is the site owner's contact ({email}); the owner's access is never changed",
                want.label
            ));
            continue;
        }
        let titles = titles(want.roles);
        desired.insert(
            Who::Email(email.to_string()),
            Desired::new(slugs(&titles), want.label),
        );
        by_email.insert(email, (*want, titles));
    }
    let state = TargetState {
        bindings: ledger
            .granted_by_owner
            .iter()
            .enumerate()
            .map(|(i, g)| Binding {
                email: Some(g.email.clone()),
                platform_id: None,
                access: slugs(&g.roles),
                lifecycle: Lifecycle::Active,
                // The entry's place in the ledger names it.
                handle: Some(i.to_string()),
            })
            .collect(),
        children: Default::default(),
    };
    // Every confirmed grant was asked for by accessctl, so what the config
    // drops is asked back whatever `unmanaged` says (the owner reads
    // `removal_reason`'s words, not this one).
    let ended: BTreeMap<Who, String> = ledger
        .granted_by_owner
        .iter()
        .map(|g| {
            let why = "granted by the owner at accessctl's request";
            (Who::Email(g.email.to_lowercase()), why.to_string())
        })
        .collect();
    let owner: Vec<&str> = site.owner.iter().map(|o| o.email.as_str()).collect();
    let target = Target {
        platform: Platform::Wix,
        id: site.wix.site_id.clone(),
        credentials_env: None,
        managed_children: Default::default(),
    };
    let d = diff::diff_ending(
        &target,
        &REQUEST,
        &desired,
        &state,
        Unmanaged::Keep,
        &owner,
        &ended,
    );
    // None arises from this state (no untouchable or unmanaged principal
    // reaches the diff), but none is dropped unsaid either.
    plan.warnings
        .extend(d.notes.iter().map(|n| n.describe(&target)));
    let entry = |change: &crate::platform::Change| {
        let i: usize = change.handle.as_deref()?.parse().ok()?;
        ledger.granted_by_owner.get(i)
    };
    let mut outstanding: Vec<(Wanted<'_>, Grant)> = Vec::new();
    let mut changes: Vec<(Wanted<'_>, RoleChange)> = Vec::new();
    let mut removals: Vec<(String, Grant)> = Vec::new();
    let mut changed: BTreeSet<String> = BTreeSet::new();
    for change in &d.changes {
        let email = change.who.to_string();
        changed.insert(email.clone());
        match (change.kind, by_email.get(email.as_str())) {
            (ChangeKind::Add, Some((want, titles))) => outstanding.push((
                *want,
                Grant {
                    email,
                    roles: titles.clone(),
                },
            )),
            (ChangeKind::Update, Some((want, titles))) => {
                let from = entry(change).map(|g| g.roles.clone()).unwrap_or_default();
                before.push(format!(
                    "{email} (granted by the owner): {}",
                    from.join(", ")
                ));
                changes.push((
                    *want,
                    RoleChange {
                        email,
                        from,
                        roles: titles.clone(),
                    },
                ));
            }
            // A second grant the owner confirmed to an email the config
            // wants: the first one stands for it.
            (ChangeKind::Remove, Some(_)) => {}
            // Asked back: one of the owner's grants.
            _ => {
                let Some(g) = entry(change) else { continue };
                before.push(format!(
                    "{} (granted by the owner): {}",
                    g.email,
                    g.roles.join(", ")
                ));
                let who = config
                    .people_index()
                    .person_with_email(&g.email)
                    .unwrap_or(&g.email)
                    .to_string();
                removals.push((
                    who,
                    Grant {
                        email: g.email.clone(),
                        roles: g.roles.clone(),
                    },
                ));
            }
        }
    }
    // Granted as the config wants: unchanged on both sides.
    for (email, (_, titles)) in &by_email {
        let granted = ledger
            .granted_by_owner
            .iter()
            .any(|g| crate::email::same(&g.email, email));
        if !changed.contains(*email) && granted {
            let line = format!("{email} (granted by the owner): {}", titles.join(", "));
            before.push(line.clone());
            after.push(line);
        }
    }
    outstanding.sort_by(|a, b| a.1.email.cmp(&b.1.email));
    changes.sort_by(|a, b| a.1.email.cmp(&b.1.email));
    removals.sort_by(|a, b| a.1.email.cmp(&b.1.email));

    let open = ledger.open_request();
    if let Some(open) = open {
        // A removal asked for, not yet confirmed, of someone the config
        // gives access again: the owner may still act on it.
        let moot: Vec<&str> = open
            .removals
            .iter()
            .map(|r| r.email.as_str())
            .filter(|e| wanted_emails.contains(e))
            .filter(|e| ledger.granted_by_owner.iter().any(|g| g.email == *e))
            .collect();
        if !moot.is_empty() {
            plan.warnings.push(format!(
                "the request sent to {} on {} asks the owner to remove {}, whom the config gives access again: tell the owner not to, then run `accessctl request resend {}` to close it",
                open.to,
                open.sent_at.date(),
                moot.join(", "),
                site.key
            ));
        }
        for g in &open.grants {
            before.push(format!("{} (requested): {}", g.email, g.roles.join(", ")));
        }
        for c in &open.changes {
            before.push(format!(
                "{} (change requested): {}",
                c.email,
                c.roles.join(", ")
            ));
        }
        for r in &open.removals {
            before.push(format!(
                "{} (removal requested): {}",
                r.email,
                r.roles.join(", ")
            ));
        }
    }
    for (_, g) in &outstanding {
        after.push(format!("{} (requested): {}", g.email, g.roles.join(", ")));
    }
    for (_, c) in &changes {
        after.push(format!(
            "{} (change requested): {}",
            c.email,
            c.roles.join(", ")
        ));
    }
    for (_, r) in &removals {
        after.push(format!(
            "{} (removal requested): {}",
            r.email,
            r.roles.join(", ")
        ));
    }
    before.sort();
    before.dedup();
    after.sort();
    after.dedup();
    plan.before = before.into();
    plan.after = after.into();
    if outstanding.is_empty() && changes.is_empty() && removals.is_empty() {
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
            && changes.iter().all(|(_, c)| {
                r.change_of(&c.email)
                    .is_some_and(|rc| same_roles(&rc.roles, &c.roles))
            })
            && removals
                .iter()
                .all(|(_, g)| r.removal_of(&g.email).is_some())
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
        changes: changes
            .iter()
            .map(|(w, c)| RequestChange {
                who: w.label.to_string(),
                email: c.email.clone(),
                from: c.from.clone(),
                roles: c.roles.clone(),
            })
            .collect(),
        removals: removals
            .iter()
            .map(|(who, g)| RequestGrant {
                who: who.clone(),
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
    let role_changes: Vec<RoleChange> = changes.iter().map(|(_, c)| c.clone()).collect();
    let removed: Vec<Grant> = removals.iter().map(|(_, g)| g.clone()).collect();
    let mut ctx = message::Context {
        settings,
        site,
        site_request: &site.request,
        to: recipient,
        grants: &grants,
        changes: &role_changes,
        removals: &removed,
        kind: Kind::Request,
    };
    let noun = preview.noun();
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
                    "the {noun} sent to {} on {} is stalled: no answer after {reminders} reminder(s), so nothing more is sent; contact the owner, then run `accessctl request done {}` once they have done it (or `accessctl request resend {}` to start again)",
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
        // Each change says why by itself.
        None => Some(String::new()),
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
    let why = |own: String| {
        if reason.is_empty() {
            own
        } else {
            reason.clone()
        }
    };
    let role = |t: &String| Role {
        id: None,
        title: t.clone(),
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
            roles_after: grant.roles.iter().map(role).collect(),
            reason: why("no API key for this site: the owner is asked to grant it".to_string()),
        });
    }
    for (want, change) in &changes {
        plan.changes.push(Change {
            action: Action::RequestChange,
            who: want.label.to_string(),
            email: Some(change.email.clone()),
            account_id: want.account.map(str::to_string),
            invite_id: None,
            identity: None,
            roles_before: change.from.iter().map(role).collect(),
            roles_after: change.roles.iter().map(role).collect(),
            reason: why(
                "the config gives other roles than the owner granted: the owner is asked to change them"
                    .to_string(),
            ),
        });
    }
    for (who, grant) in &removals {
        plan.changes.push(Change {
            action: Action::RequestRemoval,
            who: who.clone(),
            email: Some(grant.email.clone()),
            account_id: None,
            invite_id: None,
            identity: None,
            roles_before: grant.roles.iter().map(role).collect(),
            roles_after: Vec::new(),
            reason: why(removal_reason(config, site, &grant.email, now)),
        });
    }
    plan.request = Some(preview);
}

/// Why the config no longer gives `email` access on the site: a grant
/// whose `until` passed, or none at all.
fn removal_reason(config: &Config, site: &Site, email: &str, now: OffsetDateTime) -> String {
    let ended = site
        .grants
        .iter()
        .filter(|g| g.until.is_some_and(|until| until < now.date()))
        .filter(|g| config.identity_of(&g.principal).0 == Some(email))
        .filter_map(|g| g.until)
        .max();
    match ended {
        Some(until) => format!(
            "the grant ended on {until} (`until`): the owner is asked to remove the access they gave"
        ),
        None => "the config no longer gives this access: the owner is asked to remove the access they gave".to_string(),
    }
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

/// Request mode in the core's terms: Wix's (what is asked for is held
/// only once the owner confirms it; the owner is never asked to change
/// their own access), but keyed by email, the only name the ledger has for
/// what the owner granted, and one message carries every request.
const REQUEST: Capabilities = Capabilities {
    key: PrincipalKey::Email,
    batch_max: None,
    ..crate::providers::wix::CAPABILITIES
};

/// Role titles as the core compares them: by slug.
fn slugs(titles: &[String]) -> Access {
    Access::roles(titles.iter().map(|t| roles::slug(t)))
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
        for c in &r.changes {
            hasher.update(format!(
                "  change {} {} {}\n",
                c.email,
                c.from.join(","),
                c.roles.join(",")
            ));
        }
        for g in &r.removals {
            hasher.update(format!("  removal {} {}\n", g.email, g.roles.join(",")));
        }
    }
    for g in &ledger.granted_by_owner {
        hasher.update(format!("granted {} {}\n", g.email, g.roles.join(",")));
    }
    crate::hex::encode(&hasher.finalize())
}
