//! `accessctl completions SHELL` and `accessctl man`: generated from the clap
//! definitions, so they never drift from the real flags.

use clap::{Args, CommandFactory as _};
use clap_complete::Shell;

use super::{Cli, Exit, fail};

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

pub fn completions(args: &CompletionsArgs) -> Exit {
    let mut cmd = Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "accessctl", &mut std::io::stdout());
    Exit::Ok
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write one page per command into this directory (`accessctl.1`,
    /// `accessctl-plan.1`, …) instead of the main page on stdout.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<std::path::PathBuf>,
}

/// The man page (roff) on stdout (`accessctl man > accessctl.1`), or every
/// command's page into a directory.
pub fn man(args: &ManArgs) -> Exit {
    if let Some(dir) = &args.dir {
        let written = std::fs::create_dir_all(dir)
            .and_then(|()| clap_mangen::generate_to(Cli::command(), dir));
        return match written {
            Ok(()) => {
                eprintln!("wrote the man pages to {}", dir.display());
                Exit::Ok
            }
            Err(e) => fail(
                format!("cannot write the man pages to {}: {e}", dir.display()),
                None,
            ),
        };
    }
    let page = clap_mangen::Man::new(Cli::command());
    match page.render(&mut std::io::stdout()) {
        Ok(()) => Exit::Ok,
        Err(e) => fail(format!("cannot write the man page: {e}"), None),
    }
}
