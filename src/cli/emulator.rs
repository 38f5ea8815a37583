//! `accessctl emulator`: serve the Wix API emulator until Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;

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

pub fn run(args: &EmulatorArgs) -> Exit {
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
    match rt.block_on(crate::emulator::serve(seed, args.listen)) {
        Ok(()) => Exit::Ok,
        Err(e) => fail(e, None),
    }
}
