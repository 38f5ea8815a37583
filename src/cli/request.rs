//! `accessctl request done|resend`: settle a request-mode site's access
//! request by a person's word. Both change only the site's ledger.
//!
//! Without a key nothing can tell accessctl that the owner acted on a
//! request, so a person says so: `done` records the grants as made by the
//! owner (later plans stop asking for them), `resend` closes the open
//! request so the next `apply` sends a fresh one.

use std::path::Path;

use clap::{Args, Subcommand};

use super::{Exit, fail, load_config, now};
use crate::ledger::{self, OwnerGrant, RequestState, SiteLedger};
use crate::model::{Config, Site};
use crate::plan::{Observation, plan_site};

#[derive(Debug, Args)]
pub struct RequestArgs {
    #[command(subcommand)]
    pub command: RequestCommand,
}

#[derive(Debug, Subcommand)]
pub enum RequestCommand {
    /// Record that the site's owner granted the requested access, so later
    /// plans stop asking for it.
    #[command(
        after_help = "Marks the grants `accessctl plan` lists as requested for the site (all of them, or those of the given emails) as granted by the owner. Run it once the owner has sent the invites."
    )]
    Done(DoneArgs),
    /// Close the site's open request, so the next apply sends a new one
    /// (after a stalled request, say).
    Resend(ResendArgs),
}

#[derive(Debug, Args)]
pub struct DoneArgs {
    /// Site key in the config.
    pub site: String,
    /// Only this person's grants (repeatable); all outstanding grants when
    /// absent.
    #[arg(long = "email", value_name = "EMAIL")]
    pub emails: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ResendArgs {
    /// Site key in the config.
    pub site: String,
}

pub fn run(path: &Path, args: &RequestArgs) -> Exit {
    let Some(loaded) = load_config(path) else {
        return Exit::Error;
    };
    let config = loaded.config;
    let command = match &args.command {
        RequestCommand::Done(_) => "request done",
        RequestCommand::Resend(_) => "request resend",
    };
    let _lock = match super::lock_ledger(&config, command) {
        Ok(lock) => lock,
        Err(exit) => return exit,
    };
    match &args.command {
        RequestCommand::Done(a) => done(&config, a),
        RequestCommand::Resend(a) => resend(&config, a),
    }
}

/// The site, in request mode, and its ledger.
fn open<'c>(config: &'c Config, key: &str) -> Result<(&'c Site, SiteLedger), Exit> {
    super::check_selection(config, &[key.to_string()])?;
    let site = &config.sites[key];
    if !site.is_request_mode() {
        return Err(fail(
            format!("site `{key}` has an API key, so it is not in request mode"),
            Some("accessctl reads what was granted on it directly; `accessctl plan` shows it"),
        ));
    }
    // Request records are not signed (they cannot grant anything); the
    // signed records in the file are written back as they were.
    let l = ledger::load(
        &config.ledger_dir,
        &site.key,
        &site.wix.site_id,
        &ledger::Auth::Off,
    )
    .map_err(|report| {
        super::print_report(&report);
        Exit::Error
    })?;
    Ok((site, l))
}

fn save(config: &Config, l: &SiteLedger) -> Result<(), Exit> {
    ledger::save(&config.ledger_dir, l, &ledger::Auth::Off)
        .map_err(|e| fail(format!("cannot write the ledger: {e}"), None))
}

fn done(config: &Config, args: &DoneArgs) -> Exit {
    let (site, mut l) = match open(config, &args.site) {
        Ok(x) => x,
        Err(exit) => return exit,
    };
    let now = now();
    let plan = plan_site(config, site, &Observation::RequestMode, &l, now);
    let outstanding = plan.request.map(|r| r.grants).unwrap_or_default();
    if outstanding.is_empty() {
        eprintln!(
            "nothing to mark on site `{}`: every grant the config gives there is already marked as granted by the owner",
            site.key
        );
        return Exit::Ok;
    }
    let wanted: Vec<String> = args
        .emails
        .iter()
        .map(|e| e.trim().to_lowercase())
        .collect();
    for email in &wanted {
        if !outstanding.iter().any(|g| &g.email == email) {
            let list: Vec<&str> = outstanding.iter().map(|g| g.email.as_str()).collect();
            return fail(
                format!(
                    "`{email}` has no outstanding request on site `{}`",
                    site.key
                ),
                Some(&format!("outstanding: {}", list.join(", "))),
            );
        }
    }
    let chosen: Vec<_> = outstanding
        .into_iter()
        .filter(|g| wanted.is_empty() || wanted.contains(&g.email))
        .collect();
    for g in &chosen {
        l.granted_by_owner.retain(|o| o.email != g.email);
        l.granted_by_owner.push(OwnerGrant {
            email: g.email.clone(),
            roles: g.roles.clone(),
            marked_at: now,
        });
    }
    l.granted_by_owner.sort_by(|a, b| a.email.cmp(&b.email));
    let granted = l.granted_by_owner.clone();
    if let Some(request) = l.open_request_mut() {
        let all_done = request.grants.iter().all(|g| {
            granted
                .iter()
                .any(|o| o.email == g.email && crate::plan::request::same_roles(&o.roles, &g.roles))
        });
        if all_done {
            request.state = RequestState::Done;
        }
    }
    if let Err(exit) = save(config, &l) {
        return exit;
    }
    for g in &chosen {
        eprintln!(
            "marked {} ({}) as granted by the owner on site `{}`",
            g.email,
            g.roles.join(", "),
            site.key
        );
    }
    Exit::Ok
}

fn resend(config: &Config, args: &ResendArgs) -> Exit {
    let (site, mut l) = match open(config, &args.site) {
        Ok(x) => x,
        Err(exit) => return exit,
    };
    let Some(request) = l.open_request_mut() else {
        return fail(
            format!("site `{}` has no open access request", site.key),
            Some("`accessctl plan` shows what the next apply sends"),
        );
    };
    request.state = RequestState::Superseded;
    let to = request.to.clone();
    let sent = request.sent_at.date();
    if let Err(exit) = save(config, &l) {
        return exit;
    }
    eprintln!(
        "closed the request sent to {to} on {sent}; the next `accessctl apply` sends a new one for site `{}`",
        site.key
    );
    Exit::Ok
}
