//! Commands for a person's decisions about what the ledger cannot settle:
//! `link` (prints the config line that names a collaborator's account) and
//! `invite-status` (settles an invite whose outcome is unknown, in the
//! ledger). Neither changes Wix.

use std::path::Path;

use clap::{Args, ValueEnum};

use super::{Exit, fail, load_config};
use crate::ledger::{self, InviteState};
use crate::model::Config;

#[derive(Debug, Args)]
pub struct LinkArgs {
    /// Site key in the config.
    pub site: String,
    /// The person's email.
    #[arg(long)]
    pub email: String,
    /// The Wix account id of the collaborator who is that person.
    #[arg(long)]
    pub account: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Sent {
    /// Wix did send it: keep it as a pending invite.
    Sent,
    /// It was not sent: forget it, so the next apply invites again.
    NotSent,
}

#[derive(Debug, Args)]
pub struct InviteStatusArgs {
    /// Site key in the config.
    pub site: String,
    /// The invited email.
    pub email: String,
    /// What a person found in Settings → Collaborators.
    #[arg(value_enum)]
    pub status: Sent,
}

/// The config, and the ledger of one of its sites.
fn open_ledger(
    path: &Path,
    site: &str,
    command: &str,
) -> Result<(Config, ledger::SiteLedger, ledger::Lock, ledger::Auth), Exit> {
    let config = load_config(path).ok_or(Exit::Error)?.config;
    super::check_selection(&config, &[site.to_string()])?;
    let lock = super::lock_ledger(&config, command)?;
    let auth = super::ledger_auth_for_writing()?;
    let s = &config.sites[site];
    let l = ledger::load(&config.ledger_dir, &s.key, &s.wix.site_id, &auth).map_err(|report| {
        super::print_report(&report);
        Exit::Error
    })?;
    Ok((config, l, lock, auth))
}

fn save(config: &Config, l: &ledger::SiteLedger, auth: &ledger::Auth) -> Exit {
    match ledger::save(&config.ledger_dir, l, auth) {
        Ok(()) => Exit::Ok,
        Err(e) => fail(format!("cannot write the ledger: {e}"), None),
    }
}

/// An identity a person asserts is reviewed like the rest of the config:
/// `link` never writes the ledger (whose records only `apply` makes), it
/// prints the `wix_account_id` to add to the person in the config. The next
/// plan links the open invite to that account, and apply records it.
pub fn link(path: &Path, args: &LinkArgs) -> Exit {
    let Some(loaded) = load_config(path) else {
        return Exit::Error;
    };
    let config = loaded.config;
    if let Err(exit) = super::check_selection(&config, std::slice::from_ref(&args.site)) {
        return exit;
    }
    let email = args.email.trim().to_lowercase();
    let account = args.account.trim();
    if account.is_empty() || account.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return fail(
            "the account id is empty or holds spaces or control characters",
            Some("copy the id from the plan's warning (`account <ID>`)"),
        );
    }
    let person = config.people.values().find(|p| p.email == email);
    match person {
        Some(p) if p.wix_account_id.as_deref() == Some(account) => {
            eprintln!(
                "`{}` already has `wix_account_id: {account}` in {}; nothing to do",
                p.key,
                config.path.display()
            );
            Exit::Ok
        }
        Some(p) if p.wix_account_id.is_some() => fail(
            format!(
                "the config says `{}` is account {}, not {account}",
                p.key,
                p.wix_account_id.as_deref().unwrap_or_default()
            ),
            Some("if the person has a new Wix account, change `wix_account_id` in the config"),
        ),
        Some(p) => {
            eprintln!(
                "add the account to `{}` in {} (reviewed like any change; the next apply links the invite and records it):",
                p.key,
                config.path.display()
            );
            println!(
                "people:\n  {}: {{ email: {email}, wix_account_id: {account} }}",
                p.key
            );
            Exit::Ok
        }
        None => {
            eprintln!(
                "no person in {} has the email {email}; add one, and grant by `person:` on site `{}`:",
                config.path.display(),
                args.site
            );
            println!("people:\n  <key>: {{ email: {email}, wix_account_id: {account} }}");
            Exit::Ok
        }
    }
}

pub fn invite_status(path: &Path, args: &InviteStatusArgs) -> Exit {
    let (config, mut l, _lock, auth) = match open_ledger(path, &args.site, "invite-status") {
        Ok(opened) => opened,
        Err(exit) => return exit,
    };
    let email = args.email.trim().to_lowercase();
    let Some(index) = l
        .invites
        .iter()
        .rposition(|i| i.email == email && i.state == InviteState::Unknown)
    else {
        return fail(
            format!(
                "no invite with an unknown outcome for {email} on site `{}`",
                args.site
            ),
            Some("`accessctl plan` lists the invites that need settling"),
        );
    };
    match args.status {
        Sent::Sent => {
            if let Some(invite) = l.invites.get_mut(index) {
                invite.state = InviteState::Pending;
            }
        }
        Sent::NotSent => {
            l.invites.remove(index);
        }
    }
    save(&config, &l, &auth)
}
