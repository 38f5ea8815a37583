//! `accessctl who PRINCIPAL`: every site and platform where a person, an
//! email or a Wix account holds access or a pending invite, with roles,
//! since when (the ledger's records), until when (the config's `until`) and
//! whether the config wants it. From live reads, or from a snapshot.
//!
//! Wix lists collaborators by account id only, so a person is found there
//! through the accounts the config (`wix_account_id`) and the site's ledger
//! (identities, accepted invites) tie to them; an account nothing ties to
//! anyone is named in a note rather than guessed at.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Exit, RemoteArgs, fail, load_config, runtime};
use crate::ledger::{InviteState, SiteLedger};
use crate::model::{Config, Principal, Site, SiteTarget};
use crate::observe::Observed;
use crate::plan::Observation;
use crate::platform::{Access, Platform};
use crate::state::LiveSite;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum WhoFormat {
    /// A table for people.
    #[default]
    Text,
    /// For programs (README, "Snapshots and who has access").
    Json,
}

#[derive(Debug, Args)]
pub struct WhoArgs {
    /// A person's key in the config, an email, or a Wix account id.
    #[arg(value_name = "PRINCIPAL")]
    pub principal: String,

    /// Read a snapshot (`accessctl snapshot`) instead of the live sites:
    /// offline, no API key or Google credentials needed.
    #[arg(long, value_name = "SNAPSHOT")]
    pub observed: Option<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: WhoFormat,

    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// The whole answer (`--format json`).
#[derive(Debug, Serialize)]
pub struct WhoReport {
    /// As typed.
    pub principal: String,
    /// The person's key, when the principal is (or resolves to) one.
    pub person: Option<String>,
    pub email: Option<String>,
    /// The Wix account id the config names for the principal.
    pub wix_account_id: Option<String>,
    /// `live`, or the snapshot file read.
    pub observed: String,
    /// The day `until` dates and invite expiry were compared against.
    pub today: String,
    /// One entry per site, platform and scope where the principal holds
    /// access or an invite, sorted.
    pub access: Vec<Entry>,
    /// Sites and targets that could not be read: the answer may miss them.
    pub unreadable: Vec<Unreadable>,
    /// Accounts that could not be tied to the principal, and the like.
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Entry {
    pub site: String,
    pub platform: Platform,
    /// Wix: the site id; GA4/GTM: `properties/200`, `accounts/6000`.
    pub scope: String,
    /// `active`, `invited` (an open Wix invite), `granted-by-owner`
    /// (request mode, marked done) or `requested` (request mode, open).
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
}

#[derive(Debug, Serialize)]
pub struct Unreadable {
    pub site: String,
    pub platform: Platform,
    pub scope: String,
    pub error: String,
}

/// Who the principal is, as far as the config knows.
struct Subject {
    person: Option<String>,
    email: Option<String>,
    account: Option<String>,
}

pub fn run(path: &Path, args: &WhoArgs) -> Exit {
    let Some(loaded) = load_config(path) else {
        return Exit::Error;
    };
    let config = &loaded.config;
    let auth = match super::ledger_auth() {
        Ok(auth) => auth,
        Err(exit) => return exit,
    };
    let observed = match &args.observed {
        Some(file) => super::snapshot::observe_snapshot(config, file, &args.remote, &auth),
        None => {
            let rt = match runtime() {
                Ok(rt) => rt,
                Err(exit) => return exit,
            };
            super::snapshot::observe_live(config, &args.remote, &auth, &rt)
        }
    };
    let observed = match observed {
        Ok(o) => o,
        Err(exit) => return exit,
    };
    let source = args
        .observed
        .as_ref()
        .map_or_else(|| "live".to_string(), |p| p.display().to_string());
    let report = who(config, &args.principal, &observed, super::now(), source);
    let printed = match args.format {
        WhoFormat::Json => serde_json::to_string_pretty(&report)
            .map(|mut t| {
                t.push('\n');
                t
            })
            .map_err(std::io::Error::other),
        WhoFormat::Text => Ok(render_text(&report)),
    };
    match printed {
        Ok(text) => {
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                return fail(format!("cannot print the answer: {e}"), None);
            }
        }
        Err(e) => return fail(format!("cannot print the answer: {e}"), None),
    }
    if report.unreadable.is_empty() {
        Exit::Ok
    } else {
        eprintln!(
            "error: {} could not be read; the answer may be incomplete",
            crate::render::count(
                report.unreadable.len(),
                "site or target",
                "sites or targets"
            )
        );
        Exit::Error
    }
}

fn resolve(config: &Config, principal: &str) -> Subject {
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

/// The answer, from what was observed. Pure.
pub fn who(
    config: &Config,
    principal: &str,
    observed: &BTreeMap<String, Observed>,
    now: OffsetDateTime,
    source: String,
) -> WhoReport {
    let mut subject = resolve(config, principal);
    let mut report = WhoReport {
        principal: principal.to_string(),
        person: subject.person.clone(),
        email: subject.email.clone(),
        wix_account_id: subject.account.clone(),
        observed: source,
        today: now.date().to_string(),
        access: Vec::new(),
        unreadable: Vec::new(),
        notes: Vec::new(),
    };
    if subject.person.is_none()
        && !principal.contains('@')
        && let Some(key) =
            crate::diag::did_you_mean(principal, config.people.keys().map(String::as_str))
    {
        report.notes.push(format!(
            "no person `{principal}` in the config, so it was taken as a Wix account id; did you mean `{key}`?"
        ));
    }
    // An account typed bare may still be named by a ledger's identity.
    if subject.email.is_none()
        && let Some(account) = &subject.account
    {
        let emails: BTreeSet<&str> = observed
            .values()
            .filter_map(|o| o.ledger.as_ref()?.email_for(account))
            .collect();
        match emails.len() {
            0 => report.notes.push(format!(
                "account {account} is not tied to any person or email by the config or the ledgers; only its Wix access is listed"
            )),
            1 => subject.email = emails.first().map(|e| e.to_string()),
            _ => report.notes.push(format!(
                "ledgers tie account {account} to several emails ({}); only its Wix access is listed",
                emails.into_iter().collect::<Vec<_>>().join(", ")
            )),
        }
        report.email = subject.email.clone();
    }
    for (key, o) in observed {
        let Some(site) = config.sites.get(key) else {
            continue;
        };
        wix_entries(config, site, o, &subject, now, &mut report);
        for (t, seen) in site.targets.iter().zip(&o.targets) {
            match seen {
                Err(error) => report.unreadable.push(Unreadable {
                    site: key.clone(),
                    platform: t.target.platform,
                    scope: t.target.id.clone(),
                    error: error.clone(),
                }),
                Ok(seen) => {
                    let Some(email) = &subject.email else {
                        continue;
                    };
                    for b in &seen.state.bindings {
                        if b.email.as_deref().map(str::to_lowercase).as_deref() != Some(email) {
                            continue;
                        }
                        let mut e = target_entry(site, t, email, &b.access, now);
                        e.state = match b.lifecycle {
                            crate::platform::Lifecycle::Active => "active",
                            crate::platform::Lifecycle::Pending { .. } => "invited",
                            crate::platform::Lifecycle::Unknown => "unknown",
                        };
                        report.access.push(e);
                    }
                }
            }
        }
    }
    report.access.sort_by(|a, b| {
        (&a.site, a.platform, &a.scope, a.state).cmp(&(&b.site, b.platform, &b.scope, b.state))
    });
    report
}

fn time_text(t: OffsetDateTime) -> String {
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
        } || (email.is_some() && email == subject.email)
            || (account.is_some() && account == subject.account);
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
                crate::plan::roles::resolve(n, &live.roles)
                    .ok()
                    .map(|r| r.id.clone())
            })
            .collect(),
        // Request mode: titles against names, by slug.
        None => Some(
            wanted
                .roles
                .iter()
                .map(|n| crate::plan::roles::slug(n))
                .collect(),
        ),
    };
    if want.as_ref() == Some(held) {
        "managed"
    } else {
        "drifted"
    }
}

fn wix_entries(
    config: &Config,
    site: &Site,
    o: &Observed,
    subject: &Subject,
    now: OffsetDateTime,
    report: &mut WhoReport,
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
            for g in ledger.granted_by_owner.iter().filter(|g| &g.email == email) {
                let held: BTreeSet<String> = g
                    .roles
                    .iter()
                    .map(|r| crate::plan::roles::slug(r))
                    .collect();
                let e = wix(
                    "granted-by-owner",
                    g.roles.clone(),
                    None,
                    None,
                    Some(time_text(g.marked_at)),
                    Some("owner-confirmed"),
                    None,
                );
                report.access.push(finish(e, &held, None));
            }
            if let Some(r) = ledger.open_request() {
                for g in r.grants.iter().filter(|g| &g.email == email) {
                    let held: BTreeSet<String> = g
                        .roles
                        .iter()
                        .map(|r| crate::plan::roles::slug(r))
                        .collect();
                    let e = wix(
                        "requested",
                        g.roles.clone(),
                        None,
                        None,
                        Some(time_text(r.sent_at)),
                        Some("request"),
                        None,
                    );
                    report.access.push(finish(e, &held, None));
                }
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
                let held: BTreeSet<String> = held.iter().cloned().collect();
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

fn target_entry(
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
    }
}

fn render_text(r: &WhoReport) -> String {
    use std::fmt::Write as _;
    let esc = |s: &str| crate::escape::text(s).into_owned();
    let mut out = String::new();
    let mut about = Vec::new();
    if let Some(p) = &r.person {
        about.push(format!("person {}", esc(p)));
    }
    if let Some(e) = &r.email {
        about.push(esc(e));
    }
    if let Some(a) = &r.wix_account_id {
        about.push(format!("Wix account {}", esc(a)));
    }
    let _ = writeln!(
        out,
        "{}: {} ({}, {})",
        esc(&r.principal),
        if about.is_empty() {
            "not in the config".to_string()
        } else {
            about.join(", ")
        },
        if r.observed == "live" {
            "live".to_string()
        } else {
            format!("snapshot {}", esc(&r.observed))
        },
        r.today
    );
    if r.access.is_empty() {
        let _ = writeln!(out, "no access or pending invite found");
    } else {
        let header = [
            "SITE", "PLATFORM", "SCOPE", "STATE", "ROLES", "SINCE", "UNTIL", "CONFIG",
        ];
        let rows: Vec<[String; 8]> = r
            .access
            .iter()
            .map(|e| {
                [
                    esc(&e.site),
                    crate::render::short_title(e.platform).to_string(),
                    esc(&e.scope),
                    e.state.to_string(),
                    esc(&e.roles.join(", ")),
                    e.since
                        .as_deref()
                        .map_or_else(|| "-".to_string(), |s| s.get(..10).unwrap_or(s).to_string()),
                    e.until.clone().unwrap_or_else(|| "-".into()),
                    if e.config == "drifted" {
                        format!("drifted (config: {})", esc(&e.wanted.join(", ")))
                    } else {
                        e.config.to_string()
                    },
                ]
            })
            .collect();
        let mut widths = header.map(str::len);
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: &[&str]| {
            let mut l = String::new();
            for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
                if i + 1 == cells.len() {
                    l.push_str(cell);
                } else {
                    let _ = write!(l, "{cell:<w$}  ");
                }
            }
            l.trim_end().to_string()
        };
        let _ = writeln!(out, "{}", line(&header));
        for row in &rows {
            let cells: Vec<&str> = row.iter().map(String::as_str).collect();
            let _ = writeln!(out, "{}", line(&cells));
        }
    }
    for u in &r.unreadable {
        let _ = writeln!(
            out,
            "unreadable: {} {} {}: {}",
            esc(&u.site),
            crate::render::short_title(u.platform),
            esc(&u.scope),
            esc(&u.error)
        );
    }
    for n in &r.notes {
        let _ = writeln!(out, "note: {}", esc(n));
    }
    out
}
