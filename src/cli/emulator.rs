//! `accessctl emulator`: serve the Wix API emulator until Ctrl-C.
//!
//! Once listening it prints, on stdout, the `export` lines that point
//! accessctl at it: `ACCESSCTL_WIX_API_BASE`, and for each `api_key_env`
//! the config (`-c`) names, the seed's key for the account owning the site.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::Args;

use super::{Exit, fail, runtime};

#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// Seed file giving accounts, keys, sites, roles and contributors.
    #[arg(long, value_name = "FILE")]
    pub seed: PathBuf,

    /// Address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:8787", value_name = "ADDR")]
    pub listen: SocketAddr,
}

pub fn run(config: &Path, args: &EmulatorArgs) -> Exit {
    if !args.listen.ip().is_loopback() {
        return fail(
            format!(
                "refusing to listen on {}: the emulator serves loopback only",
                args.listen
            ),
            Some("use 127.0.0.1:PORT"),
        );
    }
    let seed = match crate::emulator::load_seed(&args.seed) {
        Ok(s) => s,
        Err(e) => {
            return fail(
                e,
                Some("see `src/emulator/seed.rs` or examples/*.seed.yaml for the format"),
            );
        }
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(exit) => return exit,
    };
    let exports = key_exports(&seed, config);
    let has_service_accounts = seed
        .google
        .service_accounts
        .iter()
        .any(|a| crate::emulator::google::token::EMULATOR_KEY_FILE.contains(&a.client_email));
    let ready = move |addr: SocketAddr| {
        // Data for `eval`: the lines that point accessctl at this emulator.
        let mut out = format!(
            "export {}=http://{addr}\n",
            crate::providers::wix::API_BASE_ENV
        );
        out.push_str(&exports);
        if has_service_accounts {
            out.push_str(&google_exports(addr));
        }
        print!("{out}");
        let _ = std::io::Write::flush(&mut std::io::stdout());
    };
    match rt.block_on(crate::emulator::serve(seed, args.listen, ready)) {
        Ok(()) => Exit::Ok,
        Err(e) => fail(e, None),
    }
}

/// The Google API bases, and the emulator-only key file written with this
/// emulator's token endpoint (into the temporary directory) for
/// `GOOGLE_APPLICATION_CREDENTIALS`.
fn google_exports(addr: SocketAddr) -> String {
    use crate::providers::google::{CREDENTIALS_ENV, GA4_API_BASE_ENV, GTM_API_BASE_ENV};
    let base = format!("http://{addr}");
    let mut out = format!("export {GA4_API_BASE_ENV}={base}\nexport {GTM_API_BASE_ENV}={base}\n");
    let path = std::env::temp_dir().join(format!("accessctl-emulator-{}.json", addr.port()));
    match std::fs::write(
        &path,
        crate::emulator::google::token::emulator_key_file(&base),
    ) {
        Ok(()) => out.push_str(&format!("export {CREDENTIALS_ENV}={}\n", path.display())),
        Err(e) => out.push_str(&format!(
            "# cannot write the emulator's key file {}: {e}\n",
            path.display()
        )),
    }
    out
}

/// `export VAR=KEY` for each key variable the config names, with the seed
/// key of the account that owns the site; a comment per account when the
/// config is absent or names none. These are the emulator's own made-up
/// keys, not secrets.
fn key_exports(seed: &crate::emulator::Seed, config: &Path) -> String {
    let key_of = |account: &str| {
        seed.accounts
            .iter()
            .find(|a| a.id == account)
            .and_then(|a| a.api_keys.first())
    };
    let mut lines = std::collections::BTreeSet::new();
    if let Ok(loaded) = crate::config::load(config) {
        for site in loaded.config.sites.values() {
            if let (Some(var), Some(key)) = (&site.wix.api_key_env, key_of(&site.wix.account_id)) {
                lines.insert(format!("export {var}={key}\n"));
            }
        }
    }
    if lines.is_empty() {
        for account in &seed.accounts {
            if let Some(key) = account.api_keys.first() {
                lines.insert(format!(
                    "# account {}: set your config's `api_key_env` variable to {key}\n",
                    account.id
                ));
            }
        }
    }
    lines.into_iter().collect()
}
