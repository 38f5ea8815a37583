//! `accessctl plan`: read live access and show what `apply` would change.

use std::path::Path;

use clap::Args;

use super::{Exit, RemoteArgs, compute_plan, load_config, runtime};
use crate::render::{self, Format, TextOptions};

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub remote: RemoteArgs,

    /// Output format: text for people, json for machines, markdown for pull requests.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,

    /// Exit 2 when there are changes (0: none, 1: error).
    #[arg(long)]
    pub detailed_exitcode: bool,
}

pub fn run(path: &Path, args: &PlanArgs) -> Exit {
    let Some(loaded) = load_config(path) else {
        return Exit::Error;
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(exit) => return exit,
    };
    let (plan, _) = match compute_plan(&loaded.config, &args.remote, &rt) {
        Ok(p) => p,
        Err(exit) => return exit,
    };
    let text = match args.format {
        Format::Text => render::render_text(
            &plan,
            &TextOptions {
                color: render::color_enabled_for_stdout(),
            },
        ),
        Format::Json => render::render_json(&plan),
        Format::Markdown => render::render_markdown(&plan),
    };
    print!("{text}");
    if plan.has_errors() {
        let failed = plan.sites.iter().filter(|s| !s.errors.is_empty()).count();
        eprintln!("error: {failed} site(s) could not be planned; see the errors above");
        Exit::Error
    } else if args.detailed_exitcode && plan.change_count() > 0 {
        Exit::Changes
    } else {
        Exit::Ok
    }
}
