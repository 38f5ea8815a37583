//! `accessctl request done|resend`: settle a request-mode site's access
//! request by a person's word. Both change only the site's ledger.
//!
//! Without a key nothing can tell accessctl that the owner acted on a
//! request, so a person says so: `done` records the grants and role
//! changes as made and the removals as removed by the owner (later plans
//! stop asking for them), `resend` closes the open request so the next
//! `apply` sends a fresh one.

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
    /// Record that the site's owner made the requested changes (grants, role
    /// changes, removals), so later plans stop asking for them.
    #[command(
        after_help = "Marks what `accessctl plan` lists as requested for the site (all of it, or what concerns the given emails) as done by the owner: grants as granted, role changes as made, removals as removed (they then leave the ledger). Run it once the owner has sent the invites, changed the roles or removed the people."
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
    /// Only what concerns this email (repeatable); everything outstanding
    /// when absent.
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
    let Some(request) = plan.request else {
        eprintln!(
            "nothing to mark on site `{}`: the access the config gives there is what the owner was confirmed to have granted",
            site.key
        );
        return Exit::Ok;
    };
    let wanted: Vec<String> = args
        .emails
        .iter()
        .map(|e| e.trim().to_lowercase())
        .collect();
    for email in &wanted {
        if !request.emails().any(|e| e == email) {
            let list: Vec<&str> = request.emails().collect();
            return fail(
                format!(
                    "`{email}` has no outstanding request on site `{}`",
                    site.key
                ),
                Some(&format!("outstanding: {}", list.join(", "))),
            );
        }
    }
    let chosen = |email: &String| wanted.is_empty() || wanted.contains(email);
    let mut said = Vec::new();
    // Grants and role changes: the owner gave these roles.
    let given = request
        .grants
        .iter()
        .map(|g| (&g.email, &g.roles, None))
        .chain(
            request
                .changes
                .iter()
                .map(|c| (&c.email, &c.roles, Some(&c.from))),
        );
    for (email, roles, from) in given.filter(|(e, _, _)| chosen(e)) {
        l.granted_by_owner.retain(|o| &o.email != email);
        l.granted_by_owner.push(OwnerGrant {
            email: email.clone(),
            roles: roles.clone(),
            marked_at: now,
        });
        said.push(match from {
            None => format!(
                "marked {email} ({}) as granted by the owner on site `{}`",
                roles.join(", "),
                site.key
            ),
            Some(from) => format!(
                "marked the role change of {email} ({} → {}) as made by the owner on site `{}`",
                from.join(", "),
                roles.join(", "),
                site.key
            ),
        });
    }
    for r in request.removals.iter().filter(|r| chosen(&r.email)) {
        l.granted_by_owner.retain(|o| o.email != r.email);
        said.push(format!(
            "marked {} ({}) as removed by the owner on site `{}`",
            r.email,
            r.roles.join(", "),
            site.key
        ));
    }
    l.granted_by_owner.sort_by(|a, b| a.email.cmp(&b.email));
    let granted = l.granted_by_owner.clone();
    let holds = |email: &str, roles: &[String]| {
        granted
            .iter()
            .any(|o| o.email == email && crate::plan::request::same_roles(&o.roles, roles))
    };
    if let Some(open) = l.open_request_mut() {
        let all_done = open.grants.iter().all(|g| holds(&g.email, &g.roles))
            && open.changes.iter().all(|c| holds(&c.email, &c.roles))
            && open
                .removals
                .iter()
                .all(|r| !granted.iter().any(|o| o.email == r.email));
        if all_done {
            open.state = RequestState::Done;
        }
    }
    if let Err(exit) = save(config, &l) {
        return exit;
    }
    for line in said {
        eprintln!("{}", crate::escape::text(&line));
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
