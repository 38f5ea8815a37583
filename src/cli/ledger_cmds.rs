//! Commands that edit the ledger by a person's decision: `link` and
//! `invite-status`. Both change only the ledger file, never Wix.

use std::path::Path;

use clap::{Args, ValueEnum};

use super::{Exit, fail, load_config, now};
use crate::ledger::{self, Identity, IdentitySource, InviteState};
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
fn open_ledger(path: &Path, site: &str) -> Result<(Config, ledger::SiteLedger), Exit> {
    let config = load_config(path).ok_or(Exit::Error)?.config;
    super::check_selection(&config, &[site.to_string()])?;
    let s = &config.sites[site];
    let l = ledger::load(&config.ledger_dir, &s.key, &s.wix.site_id).map_err(|report| {
        super::print_report(&report);
        Exit::Error
    })?;
    Ok((config, l))
}

fn save(config: &Config, l: &ledger::SiteLedger) -> Exit {
    match ledger::save(&config.ledger_dir, l) {
        Ok(()) => Exit::Ok,
        Err(e) => fail(format!("cannot write the ledger: {e}"), None),
    }
}

pub fn link(path: &Path, args: &LinkArgs) -> Exit {
    let (config, mut l) = match open_ledger(path, &args.site) {
        Ok(opened) => opened,
        Err(exit) => return exit,
    };
    let email = args.email.trim().to_lowercase();
    l.learn(Identity {
        email: email.clone(),
        account_id: args.account.clone(),
        source: IdentitySource::Manual,
        learned_at: now(),
    });
    if let Some(invite) = l.latest_invite_mut(&email)
        && matches!(invite.state, InviteState::Pending | InviteState::Unknown)
    {
        invite.state = InviteState::Accepted;
        invite.account_id = Some(args.account.clone());
        l.mark_granted(&args.account);
    }
    let exit = save(&config, &l);
    if exit == Exit::Ok {
        eprintln!(
            "linked {email} to account {} on site `{}` in {}",
            args.account,
            args.site,
            ledger::path_for(&config.ledger_dir, &args.site).display()
        );
    }
    exit
}

pub fn invite_status(path: &Path, args: &InviteStatusArgs) -> Exit {
    let (config, mut l) = match open_ledger(path, &args.site) {
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
    save(&config, &l)
}
