//! `accessctl ledger-keygen` and `accessctl ledger-sign`: the keys that
//! authenticate the ledger (see `ledger::Auth` and README, "Security model").

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;

use super::{Exit, fail, load_config};
use crate::ledger::{self, Auth, PUBLIC_KEY_ENV, SIGNING_KEY_ENV};

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where to write the private key (created with mode 0600; never
    /// overwritten). Store its content as the apply job's secret
    /// `ACCESSCTL_LEDGER_KEY`, then delete the file.
    #[arg(long, value_name = "FILE")]
    pub private_key_file: PathBuf,
}

#[derive(Debug, Args)]
pub struct SignArgs {
    /// Only these sites (repeatable); all when absent.
    #[arg(long = "site", value_name = "KEY")]
    pub sites: Vec<String>,
}

/// Makes a key pair: the private key into a new file, the public key on
/// stdout. The private key is never printed.
pub fn keygen(args: &KeygenArgs) -> Exit {
    let (private, public) = match Auth::generate() {
        Ok(pair) => pair,
        Err(e) => return fail(e, None),
    };
    if let Err(e) = write_private(&args.private_key_file, &private) {
        return fail(
            format!(
                "cannot write the private key to {}: {e}",
                args.private_key_file.display()
            ),
            Some("name a file that does not exist yet, outside the repository"),
        );
    }
    eprintln!(
        "wrote the private key to {}: make it the apply job's secret {SIGNING_KEY_ENV}, then delete the file",
        args.private_key_file.display()
    );
    eprintln!(
        "the public key (not a secret) goes in {PUBLIC_KEY_ENV} for jobs that only plan, e.g. a repository variable:"
    );
    println!("{PUBLIC_KEY_ENV}={public}");
    Exit::Ok
}

fn write_private(path: &Path, hex: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    writeln!(file, "{hex}")?;
    file.sync_all()
}

/// Signs every record of the selected sites' ledgers as they stand, and
/// records the config's safety guards: for adopting a ledger written before
/// keys were set, or hand edits a person reviewed. Whatever is in the files
/// becomes trusted, so run it only on a ledger you have read.
pub fn sign(path: &Path, args: &SignArgs) -> Exit {
    let Some(loaded) = load_config(path) else {
        return Exit::Error;
    };
    let config = loaded.config;
    if let Err(exit) = super::check_selection(&config, &args.sites) {
        return exit;
    }
    let auth = match super::ledger_auth() {
        Ok(auth @ Auth::Sign(_)) => auth,
        Ok(_) => {
            return fail(
                format!("{SIGNING_KEY_ENV} is not set: signing needs the private key"),
                Some("run it where the apply job's secret is available"),
            );
        }
        Err(exit) => return exit,
    };
    let _lock = match super::lock_ledger(&config, "ledger-sign") {
        Ok(lock) => lock,
        Err(exit) => return exit,
    };
    let mut failed = false;
    for site in crate::observe::selected(&config, &args.sites) {
        let file = ledger::path_for(&config.ledger_dir, &site.key);
        if !file.exists() {
            continue;
        }
        // Read unchecked: every record, as written, is what gets signed.
        let l = match ledger::load(&config.ledger_dir, &site.key, &site.wix.site_id, &Auth::Off) {
            Ok(l) => l,
            Err(report) => {
                super::print_report(&report);
                failed = true;
                continue;
            }
        };
        let mut checked = l.clone();
        auth.check(&mut checked);
        let newly = checked.untrusted.describe();
        if let Err(e) = ledger::save(&config.ledger_dir, &l, &auth) {
            eprintln!("error: cannot write {}: {e}", file.display());
            failed = true;
            continue;
        }
        eprintln!(
            "site `{}`: {} newly signed in {}",
            site.key,
            crate::render::count(newly.len(), "record", "records"),
            file.display()
        );
        for record in newly {
            eprintln!("  signed: {}", crate::escape::text(&record));
        }
    }
    if failed {
        return Exit::Error;
    }
    // The guards a maintainer reviewed with the ledger become the record
    // later configs are compared with.
    let record = crate::plan::safety::record(&config, super::now());
    match ledger::guards::save(&config.ledger_dir, &record, &auth) {
        Ok(()) => Exit::Ok,
        Err(e) => fail(format!("cannot record the safety guards: {e}"), None),
    }
}
