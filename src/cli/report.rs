//! `accessctl report`: the access review of every selected site, from live
//! reads or a snapshot; see [`crate::report`].

use std::path::{Path, PathBuf};

use clap::Args;

use super::{Exit, RemoteArgs, fail};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// One GitHub comment (cut to fit, with a note).
    #[default]
    Markdown,
    /// One row per grant, for spreadsheets (RFC 4180, formulas defused).
    Csv,
    /// For programs; schema: `accessctl schema --report`.
    Json,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Read a snapshot (`accessctl snapshot`) instead of the live sites:
    /// offline, no API key or Google credentials needed.
    #[arg(long, value_name = "SNAPSHOT")]
    pub observed: Option<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value = "markdown")]
    pub format: ReportFormat,

    /// Write the report to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    #[command(flatten)]
    pub remote: RemoteArgs,
}

pub fn run(path: &Path, args: &ReportArgs) -> Exit {
    let (loaded, observed, source) =
        match super::snapshot::load_and_observe(path, args.observed.as_deref(), &args.remote) {
            Ok(read) => read,
            Err(exit) => return exit,
        };
    let config = &loaded.config;
    let report = crate::report::build(config, &observed, super::now(), source);
    let text = match args.format {
        ReportFormat::Markdown => crate::report::render_comment(&report),
        ReportFormat::Csv => crate::report::render_csv(&report),
        ReportFormat::Json => match serde_json::to_string_pretty(&report) {
            Ok(mut t) => {
                t.push('\n');
                t
            }
            Err(e) => return fail(format!("cannot print the report: {e}"), None),
        },
    };
    let written = match &args.out {
        Some(file) => std::fs::write(file, text.as_bytes())
            .map_err(|e| format!("cannot write the report to {}: {e}", file.display())),
        None => {
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .map_err(|e| format!("cannot print the report: {e}"))
        }
    };
    if let Err(e) = written {
        return fail(e, None);
    }
    if let Some(file) = &args.out {
        eprintln!(
            "wrote the access review of {} ({}) to {}",
            crate::render::count(report.summary.sites, "site", "sites"),
            crate::render::count(report.summary.rows, "row", "rows"),
            file.display()
        );
    }
    super::snapshot::exit_unless_all_read(report.unreadable.len(), "the report is incomplete")
}
