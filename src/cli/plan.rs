//! `accessctl plan`: read live access and show what `apply` would change.

use std::path::{Path, PathBuf};

use clap::Args;

use super::{
    Exit, GuardArgs, RemoteArgs, compute_plan, fail, load_config, report_refusals, runtime,
};
use crate::render::{self, Format, TextOptions};

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub remote: RemoteArgs,

    #[command(flatten)]
    pub guards: GuardArgs,

    /// Output format: text for people, json for machines, markdown for pull requests.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,

    /// Exit 2 when there are changes (0: none, 1: error, 3: refused by a guard).
    #[arg(long)]
    pub detailed_exitcode: bool,

    /// With `--format markdown`: split a plan too long for one GitHub comment
    /// (65,536 characters) into numbered parts, separated by a line
    /// `<!-- accessctl: next part -->`, instead of cutting it short.
    #[arg(long)]
    pub split: bool,

    /// Also save the plan (JSON, with the config digest and each site's
    /// fingerprint) for `accessctl apply FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Plan from a snapshot (`accessctl snapshot`) instead of reading the
    /// sites: offline, no API key or Google credentials needed. Not with
    /// `--out`: a saved plan is made from live state.
    #[arg(long, value_name = "SNAPSHOT", conflicts_with = "out")]
    pub observed: Option<PathBuf>,
}

pub fn run(path: &Path, args: &PlanArgs) -> Exit {
    let Some(loaded) = load_config(path) else {
        return Exit::Error;
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(exit) => return exit,
    };
    let auth = match super::ledger_auth() {
        Ok(auth) => auth,
        Err(exit) => return exit,
    };
    let computed = match &args.observed {
        Some(file) => super::snapshot::compute_plan_observed(
            &loaded.config,
            file,
            &args.remote,
            &args.guards,
            &auth,
        ),
        None => compute_plan(&loaded.config, &args.remote, &args.guards, &auth, &rt),
    };
    let (plan, _) = match computed {
        Ok(p) => p,
        Err(exit) => return exit,
    };
    let printed = match args.format {
        Format::Text => {
            let color = render::color_enabled_for_stdout();
            render::write_text(&plan, &TextOptions { color }, std::io::stdout().lock())
        }
        Format::Json => render::write_json(&plan, std::io::stdout().lock()),
        Format::Markdown => print_text(
            &render::render_markdown_limited(&plan, render::COMMENT_LIMIT, args.split)
                .join(render::PART_SEPARATOR),
        ),
    };
    if let Err(e) = printed {
        return fail(format!("cannot print the plan: {e}"), None);
    }
    super::github::report_plan(&plan);
    if let Some(out) = &args.out {
        if let Err(e) = save_atomically(out, |file| render::write_json(&plan, file)) {
            return fail(
                format!("cannot write the plan to {}: {e}", out.display()),
                None,
            );
        }
        eprintln!(
            "saved the plan to {}; run `accessctl apply {}` to make exactly these changes",
            out.display(),
            out.display()
        );
    }
    if plan.has_errors() {
        let failed = plan.sites_with_errors();
        eprintln!(
            "error: {} could not be planned; see the errors above",
            crate::render::count(failed, "site", "sites")
        );
        return Exit::Error;
    }
    if let Some(exit) = report_refusals(&plan) {
        return exit;
    }
    if args.detailed_exitcode && plan.change_count() > 0 {
        Exit::Changes
    } else {
        Exit::Ok
    }
}

fn print_text(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Writes a file through a temp file beside it, then renames it: a reader
/// never sees half a plan.
pub(crate) fn save_atomically(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("plan");
    // A unique name, created exclusively, removed on every error path.
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.tmp-"))
        .tempfile_in(dir)?;
    write(tmp.as_file_mut())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map(|_| ()).map_err(|e| e.error)
}
