//! `accessctl snapshot`: read every selected site and save what was seen
//! (`crate::snapshot`); and the reading of one, for `plan --observed` and
//! `who --observed`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;

use super::{Exit, RemoteArgs, Scope, check_selection, fail, load_config, runtime};
use crate::model::Config;
use crate::observe::Observed;

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    #[command(flatten)]
    pub remote: RemoteArgs,

    /// Snapshot one slice of the sites: shard K of N, the same slice
    /// `plan --shard K/N` plans (sites sharing an API key together,
    /// balanced by expected requests); narrowed further by --site. The N
    /// snapshots are disjoint and together hold every site.
    #[arg(long, value_name = "K/N", value_parser = crate::scope::Shard::parse)]
    pub shard: Option<crate::scope::Shard>,

    /// Where to write the snapshot (JSON, `schemas/snapshot.schema.json`);
    /// written atomically, replacing the file.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

pub fn run(path: &Path, args: &SnapshotArgs) -> Exit {
    let Some(loaded) = load_config(path) else {
        return Exit::Error;
    };
    let config = &loaded.config;
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(exit) => return exit,
    };
    let auth = match super::ledger_auth() {
        Ok(auth) => auth,
        Err(exit) => return exit,
    };
    let observed = match observe_scoped(config, args, &auth, &rt) {
        Ok(o) => o,
        Err(exit) => return exit,
    };
    let now = super::now();
    // The fingerprints are the plan's; guards play no part in them.
    let plan = crate::observe::build_plan(
        config,
        &observed,
        now,
        &crate::ledger::guards::Recorded::None,
        Default::default(),
    );
    let snapshot = crate::snapshot::take(config, &observed, &plan, now);
    if let Err(e) =
        super::plan::save_atomically(&args.out, |file| crate::snapshot::write(&snapshot, file))
    {
        return fail(
            format!("cannot write the snapshot to {}: {e}", args.out.display()),
            None,
        );
    }
    let unreadable = plan.sites_with_errors();
    eprintln!(
        "saved a snapshot of {}{} to {}{}",
        crate::render::count(snapshot.sites.len(), "site", "sites"),
        args.shard
            .map(|s| format!(" (shard {s})"))
            .unwrap_or_default(),
        args.out.display(),
        if unreadable > 0 {
            format!(
                " ({} could not be read; the snapshot says why)",
                crate::render::count(unreadable, "site", "sites")
            )
        } else {
            String::new()
        }
    );
    if unreadable > 0 {
        Exit::Error
    } else {
        Exit::Ok
    }
}

/// Read the sites a snapshot covers: the `--site` selection, narrowed to
/// `--shard` as `plan` narrows it (a shard with no site reads none).
fn observe_scoped(
    config: &Config,
    args: &SnapshotArgs,
    auth: &crate::ledger::Auth,
    rt: &tokio::runtime::Runtime,
) -> Result<BTreeMap<String, Observed>, Exit> {
    check_selection(config, &args.remote.sites)?;
    let scope = Scope {
        shard: args.shard,
        changed: None,
    };
    match scope.resolve(config, &args.remote.sites) {
        None => super::observe_live(config, &args.remote, &args.remote.sites, auth, rt),
        Some((sites, _)) if sites.is_empty() => Ok(BTreeMap::new()),
        Some((sites, _)) => super::observe_live(config, &args.remote, &sites, auth, rt),
    }
}

/// Read the selected sites live, Wix and the other platforms, as `plan` does.
pub(crate) fn observe_selected(
    config: &Config,
    remote: &RemoteArgs,
    auth: &crate::ledger::Auth,
    rt: &tokio::runtime::Runtime,
) -> Result<BTreeMap<String, Observed>, Exit> {
    check_selection(config, &remote.sites)?;
    super::observe_live(config, remote, &remote.sites, auth, rt)
}

/// A snapshot file being read on a thread of its own: reading it needs
/// nothing from the config, so it is started before the config loads and
/// the two overlap. Dropped unfinished (the config did not load), the read
/// runs on and its result is discarded as the process ends.
pub(crate) struct SnapshotRead {
    file: PathBuf,
    thread: std::thread::JoinHandle<Result<crate::snapshot::Snapshot, crate::diag::Report>>,
}

impl SnapshotRead {
    pub(crate) fn start(file: &Path) -> SnapshotRead {
        let owned = file.to_path_buf();
        SnapshotRead {
            file: file.to_path_buf(),
            thread: std::thread::spawn(move || crate::snapshot::load(&owned)),
        }
    }

    /// The snapshot, once read; its errors printed.
    fn finish(self) -> Result<crate::snapshot::Snapshot, Exit> {
        let read = match self.thread.join() {
            Ok(read) => read,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        read.map_err(|report| {
            super::print_report(&report);
            Exit::Error
        })
    }
}

/// The selected sites as a snapshot file has them: no network, no API key,
/// no Google credentials. Its warnings go to stderr.
pub(crate) fn observe_snapshot(
    config: &Config,
    read: SnapshotRead,
    remote: &RemoteArgs,
    auth: &crate::ledger::Auth,
) -> Result<BTreeMap<String, Observed>, Exit> {
    check_selection(config, &remote.sites)?;
    let file = read.file.clone();
    let snapshot = read.finish()?;
    eprintln!(
        "reading {} (taken {}, accessctl {}), not the live sites",
        file.display(),
        crate::escape::text(&snapshot.taken_at),
        crate::escape::text(&snapshot.tool_version)
    );
    let restored = crate::snapshot::restore(snapshot, config, &remote.sites, auth, remote.gtm_rate);
    for w in &restored.warnings {
        eprintln!("warning: {}", crate::escape::lines(w, "\n  "));
    }
    Ok(restored.observed)
}

/// What `who` and `report` read: the config at `path`, and the snapshot
/// `observed` names, else the live sites; with the source to print (`live`
/// or the snapshot's path).
pub(crate) fn load_and_observe(
    path: &Path,
    observed: Option<&Path>,
    remote: &RemoteArgs,
) -> Result<(super::Loaded, BTreeMap<String, Observed>, String), Exit> {
    let read = observed.map(SnapshotRead::start);
    let loaded = super::load_config(path).ok_or(Exit::Error)?;
    let (observed, source) = observe_either(&loaded.config, read, remote)?;
    Ok((loaded, observed, source))
}

fn observe_either(
    config: &Config,
    read: Option<SnapshotRead>,
    remote: &RemoteArgs,
) -> Result<(BTreeMap<String, Observed>, String), Exit> {
    let auth = super::ledger_auth()?;
    match read {
        Some(read) => {
            let source = read.file.display().to_string();
            Ok((observe_snapshot(config, read, remote, &auth)?, source))
        }
        None => {
            let rt = super::runtime()?;
            Ok((observe_selected(config, remote, &auth, &rt)?, "live".into()))
        }
    }
}

/// `who`'s and `report`'s exit: 1, with an error naming how many sites or
/// targets could not be read, when any could not (`what`: what may be
/// incomplete).
pub(crate) fn exit_unless_all_read(unreadable: usize, what: &str) -> Exit {
    if unreadable == 0 {
        return Exit::Ok;
    }
    eprintln!(
        "error: {} could not be read; {what}",
        crate::render::count(unreadable, "site or target", "sites or targets")
    );
    Exit::Error
}

/// `plan --observed FILE`: the plan from a snapshot (as `compute_plan`
/// makes it from live reads).
pub(crate) fn compute_plan_observed(
    config: &Config,
    read: SnapshotRead,
    remote: &RemoteArgs,
    guards: &super::GuardArgs,
    auth: &crate::ledger::Auth,
    readings: super::Readings,
) -> Result<super::Computed, Exit> {
    let observed = observe_snapshot(config, read, remote, auth)?;
    let recorded = super::recorded_guards(config, auth)?;
    Ok(super::plan_readings(
        config, observed, &recorded, guards, readings,
    ))
}
