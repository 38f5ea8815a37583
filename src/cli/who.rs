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

use super::{Exit, RemoteArgs, fail};
use crate::access::{Entry, Found, Unreadable, resolve, target_entries, wix_entries};
use crate::model::Config;
use crate::observe::Observed;
use crate::platform::Binding;

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

pub fn run(path: &Path, args: &WhoArgs) -> Exit {
    let (loaded, observed, source) =
        match super::snapshot::load_and_observe(path, args.observed.as_deref(), &args.remote) {
            Ok(read) => read,
            Err(exit) => return exit,
        };
    let config = &loaded.config;
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
    super::snapshot::exit_unless_all_read(report.unreadable.len(), "the answer may be incomplete")
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
    let mut found = Found {
        notes: std::mem::take(&mut report.notes),
        ..Found::default()
    };
    for (key, o) in observed {
        let Some(site) = config.sites.get(key) else {
            continue;
        };
        wix_entries(config, site, o, &subject, now, &mut found);
        let email = subject.email.as_deref();
        let mine = |b: &Binding| {
            email.is_some() && b.email.as_deref().map(str::to_lowercase).as_deref() == email
        };
        target_entries(site, o, mine, now, &mut found);
    }
    report.access = found.access;
    report.unreadable = found.unreadable;
    report.notes = found.notes;
    report.access.sort_by(|a, b| {
        (&a.site, a.platform, &a.scope, a.state).cmp(&(&b.site, b.platform, &b.scope, b.state))
    });
    report
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
                    e.platform.short_title().to_string(),
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
            u.platform.short_title(),
            esc(&u.scope),
            esc(&u.error)
        );
    }
    for n in &r.notes {
        let _ = writeln!(out, "note: {}", esc(n));
    }
    out
}
