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
    tune_allocator();
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

/// mimalloc (v3) keeps freed memory for a second before handing it back,
/// a setting for long-running servers. A run lasts about that long and
/// moves from phase to phase on different threads (the config, the
/// snapshot, the plan), so what one phase frees stayed resident through
/// the next: a `plan --observed` of 10,000 sites peaked about 20 MiB
/// higher than with 10 ms, mimalloc v2's delay, taken here (ARCHITECTURE.md,
/// Choices). Called first, before any other thread exists.
#[allow(unsafe_code)]
fn tune_allocator() {
    use std::ffi::{c_int, c_long};
    // `mi_option_purge_delay` in mimalloc.h's `mi_option_e` (retired
    // options keep their places, so the number does not move;
    // `tests/allocator.rs` holds it to the header Cargo.lock pins).
    const PURGE_DELAY: c_int = 15;
    const MILLISECONDS: c_long = 10;
    unsafe extern "C" {
        // mimalloc.h: `void mi_option_set(mi_option_t option, long value)`.
        fn mi_option_set(option: c_int, value: c_long);
    }
    // SAFETY: the function only stores a number in mimalloc's option
    // table; it reads no pointer and runs before any other thread.
    unsafe { mi_option_set(PURGE_DELAY, MILLISECONDS) }
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
