//! The `accessctl` binary: parse arguments, set up logging, run a command.
//! Exit codes are chosen in `cli::Exit`.

use std::io::IsTerminal as _;
use std::process::ExitCode;

use accessctl::cli::{Cli, Exit, run};

/// mimalloc, not glibc's malloc: a large plan frees millions of small
/// strings on two threads (ARCHITECTURE.md, Choices).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match Cli::parse_args() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // `--help` and `--version` succeed; every usage error exits 1,
            // never 2, which `--detailed-exitcode` means "changes pending".
            return if e.use_stderr() {
                Exit::Error.code()
            } else {
                Exit::Ok.code()
            };
        }
    };
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
    // Colour only on a terminal, and never with NO_COLOR.
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
