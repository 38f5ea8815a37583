//! The `accessctl` binary: parse arguments, set up logging, run a command.
//! Exit codes are chosen in `cli::Exit`.

use std::process::ExitCode;

use clap::Parser as _;

use accessctl::cli::{Cli, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    accessctl::providers::wix::install_crypto_provider();
    run(cli).code()
}

/// Logs go to stderr; stdout stays for data. `RUST_LOG` overrides `-v`.
fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "accessctl=info",
        2 => "accessctl=debug",
        _ => "accessctl=trace,reqwest=debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
