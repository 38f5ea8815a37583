//! Who holds what on a site, and whether the config wants it: the
//! classification `accessctl who` (one principal) and `accessctl report`
//! (every principal) share. From what was observed (live reads or a
//! snapshot), the config and the site's ledger; pure.
//!
//! Wix lists collaborators by account id only, so a person is found there
//! through the accounts the config (`wix_account_id`) and the site's ledger
//! (identities, accepted invites) tie to them.

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::ledger::{InviteState, SiteLedger};
use crate::model::{Config, Principal, Site, SiteTarget};
use crate::observe::Observed;
use crate::plan::Observation;
use crate::platform::{Access, Binding, Platform};
use crate::state::LiveSite;

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Entry {
    pub site: String,
    pub platform: Platform,
    /// Wix: the site id; GA4/GTM: `properties/200`, `accounts/6000`.
    pub scope: String,
    /// `active`, `invited` (an open Wix invite), `granted-by-owner`
    /// (request mode, marked done), `removal-requested` or
    /// `change-requested` (request mode: marked done, and the open request
    /// asks the owner to remove it or change its roles) or `requested`
    /// (request mode, open).
    pub state: &'static str,
    /// Roles held (Wix titles; GA4/GTM roles, GTM containers as
    /// `GTM-XXXX: role`).
    pub roles: Vec<String>,
    /// The Wix account holding it, and what ties it to the principal:
    /// `config`, `ledger` or `principal` (typed as the account).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tied_by: Option<&'static str>,
    /// Since when (RFC 3339), from the ledger; absent when it has no record.
    pub since: Option<String>,
    /// Which record `since` comes from: `identity` (when the account was
    /// tied to the email), `invite` (when the invite was sent), `request`
    /// or `owner-confirmed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since_source: Option<&'static str>,
    /// The config's `until` for it (the last day), when it has one.
    pub until: Option<String>,
    /// An open invite's expiry (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invite_expires: Option<String>,
    /// `managed` (the config gives exactly this), `drifted` (the config
    /// gives other roles), `unmanaged` (the config gives nothing here) or
    /// `ended` (the config's grant ended: `until` passed).
    pub config: &'static str,
    /// The roles the config gives here, as written.
    pub wanted: Vec<String>,
    /// GA4/GTM: the email (or the platform's id) holding it; empty for Wix,
    /// where `account_id` says.
    #[serde(skip)]
    #[schemars(skip)]
    pub holder: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Unreadable {
    pub site: String,
    pub platform: Platform,
    pub scope: String,
    pub error: String,
}

/// Who the principal is, as far as the config knows.
#[derive(Debug, Clone, Default)]
pub struct Subject {
    pub person: Option<String>,
    pub email: Option<String>,
    pub account: Option<String>,
}

/// What was found for a subject: access held, sites and targets that could
/// not be read, and notes (accounts nothing ties to anyone, and the like).
#[derive(Debug, Default)]
pub struct Found {
    pub access: Vec<Entry>,
    pub unreadable: Vec<Unreadable>,
    pub notes: Vec<String>,
}

/// Who `principal` (a person's key, an email or a Wix account id) is, as
/// far as the config knows.
pub fn resolve(config: &Config, principal: &str) -> Subject {
    let index = config.people_index();
    let from_person = |key: &str| {
        config.people.get(key).map(|p| Subject {
            person: Some(p.key.clone()),
            email: Some(p.email.clone()),
            account: p.wix_account_id.clone(),
        })
    };
    if let Some(s) = from_person(principal) {
        return s;
    }
    if principal.contains('@') {
        let email = principal.trim().to_lowercase();
        if let Some(s) = index.person_with_email(&email).and_then(from_person) {
            return s;
        }
        return Subject {
            person: None,
            account: index.account_of_email(&email).map(str::to_string),
            email: Some(email),
        };
    }
    let account = principal.trim().to_string();
    if let Some(s) = index.person_with_account(&account).and_then(from_person) {
        return s;
    }
    Subject {
        person: None,
        email: None,
        account: Some(account),
    }
}

pub fn time_text(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// The config's Wix grants on `site` for the subject: role names in force,
/// their `until` (none when one has none), and whether any has ended.
struct Wanted {
    roles: Vec<String>,
    until: Option<String>,
    ended: bool,
}

fn wanted_on_wix(config: &Config, site: &Site, subject: &Subject, now: OffsetDateTime) -> Wanted {
    let today = now.date();
    let mut roles = BTreeSet::new();
    let mut untils = Vec::new();
    let mut open_ended = false;
    let mut ended = false;
    for grant in &site.grants {
        let (email, account) = config.identity_of(&grant.principal);
        let mine = match &grant.principal {
            Principal::Person(key) => subject.person.as_deref() == Some(&**key),
            _ => false,
        } || (email.is_some() && email == subject.email.as_deref())
            || (account.is_some() && account == subject.account.as_deref());
        if !mine {
            continue;
        }
        if grant.until.is_some_and(|u| u < today) {
            ended = true;
            continue;
        }
        roles.extend(grant.roles.iter().map(|r| r.name.to_string()));
        match grant.until {
            Some(u) => untils.push(u),
            None => open_ended = true,
        }
    }
    let until = if open_ended {
        None
    } else {
        untils.into_iter().max().map(|d| d.to_string())
    };
    Wanted {
        roles: roles.into_iter().collect(),
        until,
        ended,
    }
}

/// `managed`, `drifted`, `unmanaged` or `ended`, comparing role ids.
fn verdict(wanted: &Wanted, held: &BTreeSet<String>, live: Option<&LiveSite>) -> &'static str {
    if wanted.roles.is_empty() {
        return if wanted.ended { "ended" } else { "unmanaged" };
    }
    let want: Option<BTreeSet<String>> = match live {
        Some(live) => wanted
            .roles
            .iter()
            .map(|n| {
                crate::roles::resolve(n, &live.roles)
                    .ok()
                    .map(|r| r.id.clone())
            })
            .collect(),
        // Request mode: titles against names, by slug.
        None => Some(wanted.roles.iter().map(|n| crate::roles::slug(n)).collect()),
    };
    if want.as_ref() == Some(held) {
        "managed"
    } else {
        "drifted"
    }
}

/// The subject's Wix access on `site`: accounts tied to them, an open
/// invite, or (request mode) what the owner was asked for or granted. A
/// site whose Wix side or ledger could not be read is listed as unreadable.
pub fn wix_entries(
    config: &Config,
    site: &Site,
    o: &Observed,
    subject: &Subject,
    now: OffsetDateTime,
    report: &mut Found,
) {
    let wix = |state, roles, account_id, tied_by, since, since_source, invite_expires| Entry {
        site: site.key.clone(),
        platform: Platform::Wix,
        scope: site.wix.site_id.clone(),
        state,
        roles,
        account_id,
        tied_by,
        since,
        since_source,
        until: None,
        invite_expires,
        config: "",
        wanted: Vec::new(),
        holder: String::new(),
    };
    let wanted = wanted_on_wix(config, site, subject, now);
    let ledger = match (&o.observation, &o.ledger) {
        (Observation::Failed(_), _) | (_, None) => {
            report.unreadable.push(Unreadable {
                site: site.key.clone(),
                platform: Platform::Wix,
                scope: site.wix.site_id.clone(),
                error: match &o.observation {
                    Observation::Failed(e) => e.clone(),
                    _ => "the ledger could not be read".into(),
                },
            });
            return;
        }
        (_, Some(l)) => l,
    };
    let finish = |mut e: Entry, held: &BTreeSet<String>, live: Option<&LiveSite>| {
        e.config = verdict(&wanted, held, live);
        e.until = wanted.until.clone();
        e.wanted = wanted.roles.clone();
        e
    };
    match &o.observation {
        Observation::Failed(_) => {}
        Observation::RequestMode => {
            let Some(email) = &subject.email else { return };
            // What the owner confirmed granting (marked while the open
            // request asks to remove or change it), then what is asked of
            // them.
            let open = ledger.open_request();
            let confirmed = ledger.granted_by_owner.iter().map(|g| {
                let state = match open {
                    Some(r) if r.removal_of(&g.email).is_some() => "removal-requested",
                    Some(r) if r.change_of(&g.email).is_some() => "change-requested",
                    _ => "granted-by-owner",
                };
                (&g.email, &g.roles, state, g.marked_at, "owner-confirmed")
            });
            let asked = ledger.open_request().into_iter().flat_map(|r| {
                r.grants
                    .iter()
                    .map(move |g| (&g.email, &g.roles, "requested", r.sent_at, "request"))
            });
            for (who, roles, state, at, source) in confirmed.chain(asked) {
                if who != email {
                    continue;
                }
                let held: BTreeSet<String> = roles.iter().map(|r| crate::roles::slug(r)).collect();
                let e = wix(
                    state,
                    roles.clone(),
                    None,
                    None,
                    Some(time_text(at)),
                    Some(source),
                    None,
                );
                report.access.push(finish(e, &held, None));
            }
        }
        Observation::Live(live) => {
            // The accounts tied to the subject on this site, and by what.
            let mut accounts: BTreeMap<String, &'static str> = BTreeMap::new();
            if let Some(a) = &subject.account {
                let by = if subject.person.is_some() || subject.email.is_some() {
                    "config"
                } else {
                    "principal"
                };
                accounts.insert(a.clone(), by);
            }
            if let Some(email) = &subject.email {
                if let Some(a) = ledger.account_for(email) {
                    accounts.entry(a.to_string()).or_insert("ledger");
                }
                for i in &ledger.invites {
                    if &i.email == email
                        && i.state == InviteState::Accepted
                        && let Some(a) = &i.account_id
                    {
                        accounts.entry(a.clone()).or_insert("ledger");
                    }
                }
            }
            for (account, by) in &accounts {
                let Some(held) = live.contributors.get(account) else {
                    continue;
                };
                let (since, since_source) = since(ledger, subject, account);
                let e = wix(
                    "active",
                    live.titles(held),
                    Some(account.clone()),
                    Some(*by),
                    since,
                    since_source,
                    None,
                );
                let held: BTreeSet<String> = held.iter().map(str::to_string).collect();
                report.access.push(finish(e, &held, Some(live)));
            }
            let holds = accounts.keys().any(|a| live.contributors.contains_key(a));
            if let Some(email) = &subject.email {
                let open = ledger
                    .latest_invite(email)
                    .filter(|i| i.is_outstanding(now) && !holds);
                if let Some(i) = open {
                    let held: BTreeSet<String> = i.role_ids.iter().cloned().collect();
                    let e = wix(
                        "invited",
                        i.role_titles.clone(),
                        None,
                        None,
                        Some(time_text(i.sent_at)),
                        Some("invite"),
                        Some(time_text(i.expires_at)),
                    );
                    report.access.push(finish(e, &held, Some(live)));
                }
                // Only where the person is expected (granted here, or
                // invited) and no account of theirs is known at all: a
                // known account is theirs everywhere.
                let expected = !wanted.roles.is_empty() || ledger.latest_invite(email).is_some();
                if !holds && accounts.is_empty() && expected {
                    let untied = untied_accounts(config, site, ledger, live);
                    if !untied.is_empty() {
                        report.notes.push(format!(
                            "site {}: {} not tied to anyone by the config or the ledger ({}); one may be {} — Wix does not say whose account is whose (`accessctl link` records it)",
                            site.key,
                            crate::render::count(untied.len(), "collaborator is", "collaborators are"),
                            untied.join(", "),
                            subject.person.as_deref().unwrap_or(email)
                        ));
                    }
                }
            }
        }
    }
}

/// When the ledger first tied `account` to the subject: the identity
/// record, else the accepted invite's sending.
fn since(
    ledger: &SiteLedger,
    subject: &Subject,
    account: &str,
) -> (Option<String>, Option<&'static str>) {
    let identity = ledger
        .identities
        .iter()
        .filter(|i| i.account_id == account)
        .filter(|i| subject.email.as_ref().is_none_or(|e| &i.email == e))
        .map(|i| i.learned_at)
        .min();
    if let Some(t) = identity {
        return (Some(time_text(t)), Some("identity"));
    }
    let invite = ledger
        .invites
        .iter()
        .filter(|i| i.account_id.as_deref() == Some(account) && i.state == InviteState::Accepted)
        .map(|i| i.sent_at)
        .min();
    match invite {
        Some(t) => (Some(time_text(t)), Some("invite")),
        None => (None, None),
    }
}

/// Collaborators that neither the config (a person's `wix_account_id`, an
/// account grant) nor the ledger (identities, accepted invites) ties to
/// anyone.
fn untied_accounts(
    config: &Config,
    site: &Site,
    ledger: &SiteLedger,
    live: &LiveSite,
) -> Vec<String> {
    let index = config.people_index();
    live.contributors
        .keys()
        .filter(|a| {
            index.person_with_account(a).is_none()
                && ledger.email_for(a).is_none()
                && !ledger
                    .invites
                    .iter()
                    .any(|i| i.account_id.as_deref() == Some(a.as_str()))
                && !site
                    .grants
                    .iter()
                    .any(|g| matches!(&g.principal, Principal::Account(x) if **x == ***a))
        })
        .cloned()
        .collect()
}

pub fn target_entry(
    site: &Site,
    t: &SiteTarget,
    email: &str,
    held: &Access,
    now: OffsetDateTime,
) -> Entry {
    let today = now.date();
    let mut wanted: Option<Access> = None;
    let mut ended = false;
    let mut untils = Vec::new();
    let mut open_ended = false;
    for g in t.grants.iter().filter(|g| &*g.email == email) {
        if g.until.is_some_and(|u| u < today) {
            ended = true;
            continue;
        }
        match g.until {
            Some(u) => untils.push(u),
            None => open_ended = true,
        }
        wanted = Some(match (wanted, t.target.platform.vocabulary()) {
            (Some(w), Some(v)) => v.merge(&w, &g.access),
            (Some(w), None) => w,
            (None, _) => g.access.clone(),
        });
    }
    let config = match &wanted {
        None if ended => "ended",
        None => "unmanaged",
        Some(w) => {
            // Containers the config does not manage keep what they have.
            let managed = |a: &Access| -> Access {
                Access {
                    roles: a.roles.clone(),
                    children: a
                        .children
                        .iter()
                        .filter(|(c, _)| t.target.managed_children.contains(*c))
                        .map(|(c, r)| (c.clone(), r.clone()))
                        .collect(),
                }
            };
            if managed(w) == managed(held) {
                "managed"
            } else {
                "drifted"
            }
        }
    };
    let roles =
        |a: &Access| -> Vec<String> {
            a.roles
                .iter()
                .cloned()
                .chain(a.children.iter().map(|(c, r)| {
                    format!("{c}: {}", r.iter().cloned().collect::<Vec<_>>().join(", "))
                }))
                .collect()
        };
    Entry {
        site: site.key.clone(),
        platform: t.target.platform,
        scope: t.target.id.clone(),
        state: "active",
        roles: roles(held),
        account_id: None,
        tied_by: None,
        since: None,
        since_source: None,
        until: if open_ended {
            None
        } else {
            untils.into_iter().max().map(|d| d.to_string())
        },
        invite_expires: None,
        config,
        wanted: wanted.as_ref().map(roles).unwrap_or_default(),
        holder: email.to_string(),
    }
}

/// The site's GA4/GTM targets: each binding `pick` accepts, classified; a
/// target that could not be read is listed as unreadable.
pub fn target_entries(
    site: &Site,
    o: &Observed,
    pick: impl Fn(&Binding) -> bool,
    now: OffsetDateTime,
    found: &mut Found,
) {
    for (t, seen) in site.targets.iter().zip(&o.targets) {
        match seen {
            Err(error) => found.unreadable.push(Unreadable {
                site: site.key.clone(),
                platform: t.target.platform,
                scope: t.target.id.clone(),
                error: error.clone(),
            }),
            Ok(seen) => {
                for b in seen.state.bindings.iter().filter(|b| pick(b)) {
                    let who = b
                        .email
                        .as_deref()
                        .map(str::to_lowercase)
                        .or_else(|| b.platform_id.clone())
                        .unwrap_or_default();
                    let mut e = target_entry(site, t, &who, &b.access, now);
                    e.state = match b.lifecycle {
                        crate::platform::Lifecycle::Active => "active",
                        crate::platform::Lifecycle::Pending { .. } => "invited",
                        crate::platform::Lifecycle::Unknown => "unknown",
                    };
                    found.access.push(e);
                }
            }
        }
    }
}
