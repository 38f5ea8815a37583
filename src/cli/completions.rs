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

/// The man page (roff) on stdout: `accessctl man > accessctl.1`.
pub fn man() -> Exit {
    let page = clap_mangen::Man::new(Cli::command());
    match page.render(&mut std::io::stdout()) {
        Ok(()) => Exit::Ok,
        Err(e) => fail(format!("cannot write the man page: {e}"), None),
    }
}
