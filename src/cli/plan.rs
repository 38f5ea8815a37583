//! `accessctl plan`: read live access and show what `apply` would change.

use std::path::{Path, PathBuf};

use clap::Args;

use super::{
    Exit, GuardArgs, Readings, RemoteArgs, Scope, compute_plan_scoped, fail, load_config,
    report_refusals, runtime,
};
use crate::plan::Plan;
use crate::render::{self, Format, TextOptions};
use crate::scope::Shard;

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(subcommand)]
    pub command: Option<PlanCommand>,

    #[command(flatten)]
    pub remote: RemoteArgs,

    /// Plan only the sites whose desired state differs from this base config
    /// (`git show origin/main:access.yaml > base.yaml`): the site's own
    /// block, a person, team or level it uses, `requests:` for request-mode
    /// sites; every site when `safety` or `ledger_dir` changed. The other
    /// sites are listed as skipped: their drift is not checked.
    #[arg(long, value_name = "BASE_CONFIG")]
    pub changed_from: Option<PathBuf>,

    /// Plan one slice of the sites: shard K of N. Sites sharing an API key
    /// stay in one shard; shards are balanced by expected requests. Taken of
    /// the whole config, then narrowed by --site and --changed-from; join
    /// the N plans with `accessctl plan merge`.
    #[arg(long, value_name = "K/N", value_parser = Shard::parse)]
    pub shard: Option<Shard>,

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

#[derive(Debug, clap::Subcommand)]
pub enum PlanCommand {
    /// Join the JSON plans of shards (`plan --shard K/N --format json`) into
    /// one plan, as an unsharded plan would be: refuses plans of another
    /// config or day, overlapping sites and missing shards, and checks the
    /// safety guards over the whole.
    Merge(MergeArgs),
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shard plans, one per shard, in any order.
    #[arg(value_name = "SHARD_PLAN", required = true)]
    pub files: Vec<PathBuf>,

    /// The guard flags the shards were planned with.
    #[command(flatten)]
    pub guards: GuardArgs,

    /// Output format: text for people, json for machines, markdown for pull requests.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,

    /// Exit 2 when there are changes (0: none, 1: error, 3: refused by a guard).
    #[arg(long)]
    pub detailed_exitcode: bool,

    /// With `--format markdown`: split a plan too long for one GitHub comment
    /// into numbered parts (as `plan --split`).
    #[arg(long)]
    pub split: bool,

    /// Also save the merged plan for `accessctl apply FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// How a plan is shown and saved.
pub(super) struct Output<'a> {
    pub format: Format,
    pub split: bool,
    pub out: Option<&'a Path>,
    pub detailed_exitcode: bool,
}

pub fn run(path: &Path, args: &PlanArgs) -> Exit {
    if let Some(PlanCommand::Merge(merge)) = &args.command {
        return super::merge::run(path, merge);
    }
    if args.observed.is_some() && (args.shard.is_some() || args.changed_from.is_some()) {
        return super::fail(
            "`--observed` cannot be combined with `--shard` or `--changed-from`",
            Some("plan the whole snapshot, or narrow it with --site"),
        );
    }
    // Read while the config loads.
    let snapshot = args
        .observed
        .as_deref()
        .map(super::snapshot::SnapshotRead::start);
    let Some(loaded) = load_config(path) else {
        return Exit::Error;
    };
    // Reported, not fatal: the plan shows what the sites hold; `validate`
    // and `apply` fail on these.
    super::print_policy(&loaded.config);
    let changed = match &args.changed_from {
        Some(base) => match changed_from(base, path, &loaded.config) {
            Ok(changed) => Some(changed),
            Err(exit) => return exit,
        },
        None => None,
    };
    let scope = Scope {
        shard: args.shard,
        changed,
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(exit) => return exit,
    };
    let auth = match super::ledger_auth() {
        Ok(auth) => auth,
        Err(exit) => return exit,
    };
    let computed = match snapshot {
        Some(read) => super::snapshot::compute_plan_observed(
            &loaded.config,
            read,
            &args.remote,
            &args.guards,
            &auth,
            Readings::Drop,
        ),
        None => compute_plan_scoped(
            &loaded.config,
            &args.remote,
            &args.guards,
            &auth,
            &rt,
            &scope,
            Readings::Drop,
        ),
    };
    let (plan, _) = match computed {
        Ok(p) => p,
        Err(exit) => return exit,
    };
    let exit = emit(
        &plan,
        &Output {
            format: args.format,
            split: args.split,
            out: args.out.as_deref(),
            detailed_exitcode: args.detailed_exitcode,
        },
    );
    // The process ends next: freeing a large plan and config piece by piece
    // (hundreds of thousands of allocations) would only delay the exit.
    std::mem::forget(plan);
    std::mem::forget(loaded);
    exit
}

/// Largest plan file `apply FILE` and `plan merge` read. A plan of 10,000
/// sites is tens of MiB; the cap keeps a hostile file (or `/dev/zero`)
/// from filling memory.
pub(crate) const PLAN_CAP: u64 = 512 * 1024 * 1024;

/// The bytes of a saved plan (`what`: "the plan", "the shard plan"): a
/// regular file (a symlink is followed) of at most [`PLAN_CAP`] bytes. A
/// FIFO or device is refused before it is opened, so nothing hangs.
pub(crate) fn read_plan_file(file: &Path, what: &str, hint: &str) -> Result<Vec<u8>, Exit> {
    crate::confine::read_regular(file, crate::confine::FollowLinks::Yes, PLAN_CAP).map_err(
        |refusal| {
            let larger = crate::confine::larger_than(PLAN_CAP);
            let hint = match &refusal {
                crate::confine::Refusal::TooLarge(_) => format!(
                    "a plan file {larger} is refused; plan fewer sites (`--site`, `--shard K/N`)"
                ),
                crate::confine::Refusal::NotRegular => {
                    "name the plan file itself, not a directory, pipe or device".to_string()
                }
                _ => hint.to_string(),
            };
            let why = match refusal {
                crate::confine::Refusal::TooLarge(_) => format!("it is {larger}"),
                other => refused_because(&other),
            };
            fail(
                format!("cannot read {what} {}: {why}", file.display()),
                Some(&hint),
            )
        },
    )
}

/// Why a file was not read, as the end of a sentence about it.
fn refused_because(refusal: &crate::confine::Refusal) -> String {
    match refusal {
        crate::confine::Refusal::Io(e) => e.clone(),
        other => format!("it {other}"),
    }
}

/// The sites changed since the base config at `base`, loaded like the
/// config itself (same loader, same limits: it is as untrusted).
fn changed_from(
    base: &Path,
    head_path: &Path,
    head: &crate::model::Config,
) -> Result<std::collections::BTreeSet<String>, Exit> {
    let hint = "--changed-from takes the config as it is on the base branch (`git show origin/main:access.yaml > base.yaml`); fix that file, or plan without --changed-from for a full plan";
    // A regular file of at most what the loader accepts: a FIFO, a device
    // or a directory is refused before it is opened (nothing hangs), and a
    // huge file is not read into memory.
    let bytes = crate::confine::read_regular(
        base,
        crate::confine::FollowLinks::Yes,
        crate::config::MAX_BYTES as u64,
    )
    .map_err(|refusal| {
        let why = match refusal {
            crate::confine::Refusal::TooLarge(cap) => format!(
                "it is {}, the limit of a config",
                crate::confine::larger_than(cap)
            ),
            other => refused_because(&other),
        };
        fail(
            format!(
                "the base config {} (--changed-from) does not load: {why}",
                base.display()
            ),
            Some(hint),
        )
    })?;
    match crate::config::load_str(base, &bytes) {
        Ok(loaded) => Ok(crate::scope::changed_sites(
            &loaded.config,
            base,
            head,
            head_path,
        )),
        Err(report) => {
            // Not annotated on the pull request: the file is not in it.
            eprint!("{}", report.render());
            Err(fail(
                format!(
                    "the base config {} (--changed-from) does not load, so the changed sites cannot be told apart",
                    base.display()
                ),
                Some(hint),
            ))
        }
    }
}

/// Print the plan in its format, save it with `--out`, and choose the exit.
pub(super) fn emit(plan: &Plan, args: &Output<'_>) -> Exit {
    let printed = match args.format {
        Format::Text => {
            let color = render::color_enabled_for_stdout();
            render::write_text(plan, &TextOptions { color }, std::io::stdout().lock())
        }
        Format::Json => render::write_json(plan, std::io::stdout().lock()),
        Format::Markdown => print_text(
            &render::render_markdown_limited(plan, render::COMMENT_LIMIT, args.split)
                .join(render::PART_SEPARATOR),
        ),
    };
    if let Err(e) = printed {
        return fail(format!("cannot print the plan: {e}"), None);
    }
    super::github::report_plan(plan);
    if let Some(out) = args.out {
        if let Err(e) = save_atomically(out, |file| render::write_json(plan, file)) {
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
    if let Some(exit) = report_refusals(plan) {
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
