//! Command-line interface: clap types and one file per command.
//!
//! The clap structs mirror what was typed; each command resolves them into
//! what it needs (config, client, selection) and returns an [`Exit`]. Exit
//! codes are chosen here and nowhere else. Data goes to stdout; progress,
//! warnings, errors and logs go to stderr.

mod apply;
mod completions;
mod demo;
mod doctor;
mod doctor_google;
mod emulator;
mod github;
mod import;
mod ledger_cmds;
mod ledger_keys;
mod merge;
mod migrate;
mod offboard;
mod plan;
mod report;
mod request;
mod snapshot;
mod validate;
mod who;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::config::{self, Loaded};
use crate::diag::Report;
use crate::providers::wix::{API_BASE_ENV, DEFAULT_API_BASE, WixClient};

/// How a run ends. The numbers are documented in README.md ("Exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Success; with `--detailed-exitcode`, also "no changes".
    Ok,
    /// Anything went wrong: bad config, unreadable site, failed change.
    Error,
    /// With `--detailed-exitcode`: success, and changes are pending.
    Changes,
    /// A safety guard or a stale saved plan refused the run; nothing changed.
    Refused,
}

impl Exit {
    pub fn code(self) -> ExitCode {
        match self {
            Exit::Ok => ExitCode::from(0),
            Exit::Error => ExitCode::from(1),
            Exit::Changes => ExitCode::from(2),
            Exit::Refused => ExitCode::from(3),
        }
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "accessctl",
    version,
    about = "Manage who can access client websites as code: plan and apply Wix collaborator access from a YAML file",
    long_about = None,
    after_help = "Exit codes: 0 success (no changes, with --detailed-exitcode); 1 error, including a usage error; 2 changes pending (plan --detailed-exitcode); 3 refused by a safety guard, a stale saved plan or the ledger lock.\n\nStart with `accessctl demo` to see plan and apply against the built-in Wix emulator.\nDocs: README.md"
)]
pub struct Cli {
    /// Path of the access config.
    #[arg(
        short,
        long,
        global = true,
        default_value = "access.yaml",
        env = "ACCESSCTL_CONFIG"
    )]
    pub config: PathBuf,

    /// More logging on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Whether `-c/--config` was typed (not defaulted or from the
    /// environment); set by [`Cli::parse_args`].
    #[arg(skip)]
    pub config_typed: bool,

    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses the command line, noting whether `-c` was typed.
    pub fn parse_args() -> Result<Cli, clap::Error> {
        use clap::{CommandFactory as _, FromArgMatches as _};
        let matches = Cli::command().try_get_matches()?;
        let mut cli = Cli::from_arg_matches(&matches)?;
        cli.config_typed =
            matches.value_source("config") == Some(clap::parser::ValueSource::CommandLine);
        Ok(cli)
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the config file and report every problem in it; no network.
    ///
    /// Also checks the config against its own policy rules (`policies:`):
    /// each broken rule is reported where the config breaks it, and one of
    /// severity `error` fails the check (as it refuses `apply`).
    Validate,
    /// Upgrade the config file to the current format version, in place
    /// (only its `version:` line changes).
    Migrate,
    /// Read live access on each site and show what `apply` would change.
    #[command(
        args_conflicts_with_subcommands = true,
        mut_arg("parallelism", |a| a.help("How many requests to Wix may be in flight at once (see README, \"Performance\")")),
        mut_arg("timeout", |a| a.help("Seconds before a request to Wix or Google is abandoned"))
    )]
    Plan(plan::PlanArgs),
    /// Make the changes a plan shows: invites, role changes, removals, and
    /// access requests to owners of sites without a key.
    Apply(apply::ApplyArgs),
    /// Print the config's JSON schema (or the plan's, with --plan, or the
    /// snapshot's, with --snapshot).
    Schema(SchemaArgs),
    /// Run the Wix API emulator (for trying accessctl and for tests).
    Emulator(emulator::EmulatorArgs),
    /// Show plan and apply end to end against the built-in emulator.
    Demo(demo::DemoArgs),
    /// Print the config line that names the Wix account of a person (reviewed like any change).
    Link(ledger_cmds::LinkArgs),
    /// Settle an invite whose outcome is unknown.
    InviteStatus(ledger_cmds::InviteStatusArgs),
    /// Settle an access request (request mode): `done` when the owner made
    /// the requested changes (grants, role changes, removals), `resend` to
    /// start over.
    Request(request::RequestArgs),
    /// Make the key pair that authenticates the ledger: private key into a
    /// file, public key on stdout.
    LedgerKeygen(ledger_keys::KeygenArgs),
    /// Sign every record of the ledger as it stands (after a person has
    /// reviewed it), with the private key in `ACCESSCTL_LEDGER_KEY`.
    LedgerSign(ledger_keys::SignArgs),
    /// Print `access` entries for the current collaborators of sites: Wix
    /// collaborators, and one grant per email with GA4/GTM access.
    #[command(
        mut_arg("parallelism", |a| a.help("How many requests to Wix may be in flight at once (see README, \"Performance\")")),
        mut_arg("timeout", |a| a.help("Seconds before a request to Wix or Google is abandoned"))
    )]
    Import(import::ImportArgs),
    /// Check every site (read-only unless --probe-writes): key accepted,
    /// and which reading of each unconfirmed Wix API detail it gets.
    #[command(
        mut_arg("parallelism", |a| a.help("How many requests to Wix may be in flight at once (see README, \"Performance\")")),
        mut_arg("timeout", |a| a.help("Seconds before a request to Wix or Google is abandoned"))
    )]
    Doctor(doctor::DoctorArgs),
    /// Read every selected site (Wix, GA4, GTM) and save what was seen, with
    /// the time, the tool version, the config digest and fingerprints, as
    /// a JSON snapshot for `plan --observed` and `who --observed`.
    #[command(
        mut_arg("parallelism", |a| a.help("How many requests to Wix may be in flight at once (see README, \"Performance\")")),
        mut_arg("timeout", |a| a.help("Seconds before a request to Wix or Google is abandoned"))
    )]
    Snapshot(snapshot::SnapshotArgs),
    /// List every site and platform where a person, email or Wix account
    /// holds access or a pending invite, and whether the config wants it.
    #[command(
        mut_arg("parallelism", |a| a.help("How many requests to Wix may be in flight at once (see README, \"Performance\")")),
        mut_arg("timeout", |a| a.help("Seconds before a request to Wix or Google is abandoned"))
    )]
    Who(who::WhoArgs),
    /// Show everything removing a person would revoke across all clients
    /// (the plan of the config without them, restricted to them); with
    /// `--write`, edit the config in place to remove the person, their team
    /// memberships and their direct grants, touching only those lines. On
    /// request-mode sites, says while the owner's removal is still awaited.
    #[command(
        mut_arg("parallelism", |a| a.help("How many requests to Wix may be in flight at once (see README, \"Performance\")")),
        mut_arg("timeout", |a| a.help("Seconds before a request to Wix or Google is abandoned"))
    )]
    Offboard(offboard::OffboardArgs),
    /// Print the access review: every principal on every selected site and
    /// platform, each grant marked managed, expiring, drifted, unmanaged,
    /// ended or owner, as Markdown (one GitHub comment), CSV or JSON;
    /// request-mode access the owner was asked to remove or change and has
    /// not been confirmed to shows as removal-requested or change-requested.
    #[command(
        mut_arg("parallelism", |a| a.help("How many requests to Wix may be in flight at once (see README, \"Performance\")")),
        mut_arg("timeout", |a| a.help("Seconds before a request to Wix or Google is abandoned"))
    )]
    Report(report::ReportArgs),
    /// Print shell completions (bash, zsh, fish, elvish, powershell).
    Completions(completions::CompletionsArgs),
    /// Print the man page (roff): `accessctl man > accessctl.1`; with
    /// `--dir DIR`, one page per command.
    Man(completions::ManArgs),
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Print the JSON schema of `plan --format json` instead.
    #[arg(long, conflicts_with = "snapshot")]
    pub plan: bool,

    /// Print the JSON schema of snapshots (`accessctl snapshot`) instead.
    #[arg(long, conflicts_with = "report")]
    pub snapshot: bool,

    /// Print the JSON schema of `report --format json` instead.
    #[arg(long, conflicts_with = "plan")]
    pub report: bool,
}

/// `--parallelism` unless given: with a site's reads taking about 16
/// requests, 32 in flight plans 1,000 sites in about 500 round trips.
pub const DEFAULT_PARALLELISM: u16 = 32;

/// Options shared by commands that talk to Wix.
#[derive(Debug, Clone, Args)]
pub struct RemoteArgs {
    /// Base URL of the Wix API. Never read from the config, so a config
    /// change cannot send keys elsewhere. Plain http only for loopback.
    #[arg(long, env = API_BASE_ENV, default_value = DEFAULT_API_BASE, value_name = "URL")]
    pub wix_api_base: String,

    /// Base URL of the Google Analytics Admin API (GA4). Never read from the
    /// config; plain http only for loopback.
    #[arg(
        long,
        env = crate::providers::google::GA4_API_BASE_ENV,
        default_value = "https://analyticsadmin.googleapis.com",
        value_name = "URL"
    )]
    pub ga4_api_base: String,

    /// Base URL of the Tag Manager API (GTM). Never read from the config;
    /// plain http only for loopback.
    #[arg(
        long,
        env = crate::providers::google::GTM_API_BASE_ENV,
        default_value = "https://tagmanager.googleapis.com",
        value_name = "URL"
    )]
    pub gtm_api_base: String,

    /// GTM's quota per Cloud project, as requests per sliding window:
    /// Google's default is `25/100s` (0.25 per second). Raise it only when
    /// Google has raised your project's quota.
    #[arg(long, env = "ACCESSCTL_GTM_RATE", default_value = "25/100s", value_name = "N/WINDOW", value_parser = crate::providers::google::gtm::limiter::RateWindow::parse)]
    pub gtm_rate: crate::providers::google::gtm::limiter::RateWindow,

    /// How many requests to Wix may be in flight at once, and how many sites
    /// `apply` changes at once (see README, "Performance").
    #[arg(long, default_value_t = DEFAULT_PARALLELISM, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallelism: u16,

    /// Seconds before a request to Wix or Google (or a step of delivering
    /// an access request by SMTP or webhook) is abandoned.
    #[arg(long, default_value_t = 30, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=600))]
    pub timeout: u64,

    /// Most requests per minute per API key (Wix allows 200); calls wait
    /// for a slot rather than be throttled.
    #[arg(long, env = "ACCESSCTL_RATE_LIMIT", default_value_t = crate::providers::wix::limiter::DEFAULT_PER_MINUTE, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub rate_limit: u32,

    /// Seconds the whole command may spend on Wix: after it, calls not yet
    /// sent fail (as not sent) instead of waiting for a rate-limit slot or a
    /// retry. A run that can reach the API and keeps to the rate limit needs
    /// about a minute per `--rate-limit` requests of its busiest key.
    #[arg(long, env = "ACCESSCTL_DEADLINE", default_value_t = 6 * 3600, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=7 * 24 * 3600))]
    pub deadline: u64,

    /// Only these sites (repeatable); all when absent.
    #[arg(long = "site", value_name = "KEY")]
    pub sites: Vec<String>,
}

/// Flags that let a run go past a safety guard.
#[derive(Debug, Clone, Copy, Args)]
pub struct GuardArgs {
    /// Go past the removal caps in `safety` (per site, per run, percentage).
    #[arg(long)]
    pub allow_removals: bool,

    /// Allow removing or downgrading people in `safety.protect` or `safety.self`.
    #[arg(long)]
    pub allow_protected_changes: bool,

    /// Let the config weaken the guards recorded by the last apply (raise
    /// or drop a cap, unprotect someone, change `safety.self`). A
    /// maintainer's decision: never pass it on pull requests.
    #[arg(long)]
    pub allow_safety_change: bool,

    /// A lower cap on removals per site for this run. It can only tighten
    /// the guard in force, never loosen it.
    #[arg(long, value_name = "N")]
    pub max_removals_per_site: Option<u32>,

    /// A lower cap on removals across all sites for this run; only tightens.
    #[arg(long, value_name = "N")]
    pub max_removals_total: Option<u32>,
}

impl GuardArgs {
    pub fn overrides(&self) -> crate::plan::safety::Overrides {
        crate::plan::safety::Overrides {
            allow_removals: self.allow_removals,
            allow_protected: self.allow_protected_changes,
            allow_safety_change: self.allow_safety_change,
            max_removals_per_site: self.max_removals_per_site,
            max_removals_total: self.max_removals_total,
        }
    }
}

impl RemoteArgs {
    /// Providers for the platforms other than Wix (built on first use),
    /// one set per process: the plan an apply makes and the apply itself
    /// share tokens, GTM's container ids and its quota.
    pub fn registry(&self) -> std::sync::Arc<crate::providers::registry::Registry> {
        use crate::providers::registry::{Endpoints, Registry};
        static SHARED: std::sync::Mutex<Option<std::sync::Arc<Registry>>> =
            std::sync::Mutex::new(None);
        let endpoints = Endpoints {
            ga4: self.ga4_api_base.clone(),
            gtm: self.gtm_api_base.clone(),
            timeout: Duration::from_secs(self.timeout),
            gtm_rate: self.gtm_rate,
        };
        let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
        match shared.as_ref() {
            Some(registry) if registry.endpoints() == &endpoints => registry.clone(),
            _ => {
                let registry = std::sync::Arc::new(Registry::new(endpoints));
                *shared = Some(registry.clone());
                registry
            }
        }
    }

    pub fn client(&self) -> Result<WixClient, String> {
        let retry = crate::providers::wix::retry::RetryPolicy::from_env()?;
        Ok(
            WixClient::new(&self.wix_api_base, Duration::from_secs(self.timeout))?
                .with_rate_limit(self.rate_limit)
                .with_retry(retry)
                .with_concurrency(usize::from(self.parallelism))
                .with_deadline(Duration::from_secs(self.deadline)),
        )
    }
}

pub fn run(cli: Cli) -> Exit {
    let reads_no_config = match &cli.command {
        Command::Schema(_) => Some("schema"),
        Command::Completions(_) => Some("completions"),
        Command::Man(_) => Some("man"),
        Command::Demo(_) => Some("demo"),
        _ => None,
    };
    if let (true, Some(name)) = (cli.config_typed, reads_no_config) {
        return fail(
            format!("`-c/--config` means nothing to `accessctl {name}`: it reads no config"),
            Some("leave `-c` out"),
        );
    }
    match cli.command {
        Command::Validate => validate::run(&cli.config),
        Command::Migrate => migrate::run(&cli.config),
        Command::Plan(args) => plan::run(&cli.config, &args),
        Command::Apply(args) => apply::run(&cli.config, &args),
        Command::Schema(args) => {
            if args.plan {
                print!("{}", crate::plan::schema_json());
            } else if args.snapshot {
                print!("{}", crate::snapshot::schema_json());
            } else if args.report {
                print!("{}", crate::report::schema_json());
            } else {
                print!("{}", config::schema_json());
            }
            Exit::Ok
        }
        Command::Emulator(args) => emulator::run(&cli.config, &args),
        Command::Demo(args) => demo::run(&args),
        Command::Link(args) => ledger_cmds::link(&cli.config, &args),
        Command::InviteStatus(args) => ledger_cmds::invite_status(&cli.config, &args),
        Command::Request(args) => request::run(&cli.config, &args),
        Command::Import(args) => import::run(&cli.config, &args),
        Command::LedgerKeygen(args) => ledger_keys::keygen(&args),
        Command::LedgerSign(args) => ledger_keys::sign(&cli.config, &args),
        Command::Doctor(args) => doctor::run(&cli.config, &args),
        Command::Snapshot(args) => snapshot::run(&cli.config, &args),
        Command::Who(args) => who::run(&cli.config, &args),
        Command::Offboard(args) => offboard::run(&cli.config, &args),
        Command::Report(args) => report::run(&cli.config, &args),
        Command::Completions(args) => completions::completions(&args),
        Command::Man(args) => completions::man(&args),
    }
}

/// Load the config, printing warnings, or print every error.
pub(crate) fn load_config(path: &std::path::Path) -> Option<Loaded> {
    shown(config::load(path).map(|loaded| (loaded, ()))).map(|(loaded, ())| loaded)
}

/// [`load_config`], with the text that was read and checked (once), for a
/// command that edits the file.
pub(crate) fn load_config_with_text(path: &std::path::Path) -> Option<(Loaded, String)> {
    shown(config::load_with_text(path))
}

/// A loaded config, its report printed; `None` when it did not load.
fn shown<T>(outcome: Result<(Loaded, T), Report>) -> Option<(Loaded, T)> {
    match outcome {
        Ok((mut loaded, with)) => {
            print_report(&loaded.warnings);
            // Printed: the report holds a copy of the config text for its
            // source lines (14 MiB for 10,000 sites), not needed any more.
            loaded.warnings = Report::default();
            Some((loaded, with))
        }
        Err(report) => {
            print_report(&report);
            None
        }
    }
}

/// The config's own breaches of its policy rules (`policies:`), printed as
/// located diagnostics; whether any is an error.
pub(crate) fn print_policy(config: &crate::model::Config) -> bool {
    let violations = crate::policy::check_config(config, now().date());
    if violations.is_empty() {
        return false;
    }
    let report = Report {
        diagnostics: crate::policy::diagnostics(config, &violations),
        // For the source lines the diagnostics point at.
        source: config::read_text(&config.path).ok(),
    };
    eprint!("{}", report.render_diagnostics());
    github::annotate_report(&report);
    crate::policy::has_errors(&violations)
}

pub(crate) fn print_report(report: &Report) {
    if !report.diagnostics.is_empty() {
        eprint!("{}", report.render());
        github::annotate_report(report);
    }
}

/// An error at the edge: message, then a hint line.
pub(crate) fn fail(message: impl std::fmt::Display, hint: Option<&str>) -> Exit {
    // Messages quote what the config, the ledger or Wix said.
    eprintln!(
        "error: {}",
        crate::escape::lines(&message.to_string(), "\n  ")
    );
    if let Some(hint) = hint {
        eprintln!("  = hint: {}", crate::escape::text(hint));
    }
    Exit::Error
}

/// Lock the config's ledger directory for a command that writes it; a
/// refusal names the process holding it.
pub(crate) fn lock_ledger(
    config: &crate::model::Config,
    command: &str,
) -> Result<crate::ledger::Lock, Exit> {
    crate::ledger::lock(&config.ledger_dir, command).map_err(|e| {
        let hint = e.hint();
        match e {
            crate::ledger::LockError::Held { .. } => {
                fail(e, Some(hint));
                Exit::Refused
            }
            crate::ledger::LockError::Io { .. } => fail(e, Some(hint)),
        }
    })
}

/// The ledger keys in the environment (`ledger::Auth`).
pub(crate) fn ledger_auth() -> Result<crate::ledger::Auth, Exit> {
    crate::ledger::Auth::from_env().map_err(|e| {
        fail(
            e,
            Some("make a key pair with `accessctl ledger-keygen`; README, \"Security model\", says which job holds which key"),
        )
    })
}

/// The ledger keys, for a command that writes signed records: the private
/// key is needed whenever records are verified.
pub(crate) fn ledger_auth_for_writing() -> Result<crate::ledger::Auth, Exit> {
    ledger_auth()?.for_writing().map_err(|e| {
        fail(
            e,
            Some("run it where the private key is (the apply job), or set both keys"),
        )
    })
}

/// Unknown `--site` keys are an error with a suggestion.
pub(crate) fn check_selection(config: &crate::model::Config, sites: &[String]) -> Result<(), Exit> {
    for key in sites {
        if !config.sites.contains_key(key) {
            let hint = crate::diag::did_you_mean(key, config.sites.keys().map(String::as_str))
                .map(|s| format!("did you mean `{s}`?"))
                .unwrap_or_else(|| {
                    format!(
                        "sites in {}: {}",
                        config.path.display(),
                        config.sites.keys().cloned().collect::<Vec<_>>().join(", ")
                    )
                });
            return Err(fail(format!("no site `{key}` in the config"), Some(&hint)));
        }
    }
    Ok(())
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Exit> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| fail(format!("cannot start the async runtime: {e}"), None))
}

/// The current time; `ACCESSCTL_NOW` (RFC 3339) pins it, for tests and
/// reproducible demos.
pub(crate) fn now() -> time::OffsetDateTime {
    std::env::var("ACCESSCTL_NOW")
        .ok()
        .and_then(|t| {
            time::OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339).ok()
        })
        .unwrap_or_else(time::OffsetDateTime::now_utc)
}

/// Which of the `--site` selection a run plans: one shard of the config's
/// sites, and only the sites changed since a base config. The shard is
/// taken of the whole config, then filtered (`scope`'s module docs).
#[derive(Debug, Clone, Default)]
pub(crate) struct Scope {
    pub shard: Option<crate::scope::Shard>,
    /// `--changed-from`: the sites whose desired state changed.
    pub changed: Option<std::collections::BTreeSet<String>>,
}

impl Scope {
    /// The sites to plan and the sites `--changed-from` skipped, or `None`
    /// when the scope narrows nothing (the `--site` selection stands).
    fn resolve(
        &self,
        config: &crate::model::Config,
        sites: &[String],
    ) -> Option<(Vec<String>, Vec<String>)> {
        if self.shard.is_none() && self.changed.is_none() {
            return None;
        }
        let in_shard = self.shard.map(|s| crate::scope::sites_of(config, s));
        let mut planned = Vec::new();
        let mut skipped = Vec::new();
        for key in config.sites.keys() {
            if !sites.is_empty() && !sites.contains(key) {
                continue;
            }
            if in_shard.as_ref().is_some_and(|s| !s.contains(key)) {
                continue;
            }
            if self.changed.as_ref().is_some_and(|c| !c.contains(key)) {
                skipped.push(key.clone());
            } else {
                planned.push(key.clone());
            }
        }
        Some((planned, skipped))
    }
}

/// What [`compute_plan`] returns: the plan and what each site read as.
pub(crate) type Computed = (
    crate::plan::Plan,
    std::collections::BTreeMap<String, crate::observe::Observed>,
);

/// Whether a command needs the sites' readings once they are planned.
/// `plan` does not: each reading is freed as soon as its site is planned
/// ([`crate::observe::build_plan_consuming`]), which lowers the peak memory
/// of a large run, and the [`Computed`] readings come back empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Readings {
    Keep,
    Drop,
}

/// The plan of `observed`, with the readings when `readings` keeps them.
pub(crate) fn plan_readings(
    config: &crate::model::Config,
    observed: std::collections::BTreeMap<String, crate::observe::Observed>,
    recorded: &crate::ledger::guards::Recorded,
    guards: &GuardArgs,
    readings: Readings,
) -> Computed {
    match readings {
        Readings::Keep => {
            let plan =
                crate::observe::build_plan(config, &observed, now(), recorded, guards.overrides());
            (plan, observed)
        }
        Readings::Drop => {
            let plan = crate::observe::build_plan_consuming(
                config,
                observed,
                now(),
                recorded,
                guards.overrides(),
            );
            (plan, std::collections::BTreeMap::new())
        }
    }
}

/// Read the selected sites and plan them.
pub(crate) fn compute_plan(
    config: &crate::model::Config,
    remote: &RemoteArgs,
    guards: &GuardArgs,
    auth: &crate::ledger::Auth,
    rt: &tokio::runtime::Runtime,
) -> Result<Computed, Exit> {
    compute_plan_scoped(
        config,
        remote,
        guards,
        auth,
        rt,
        &Scope::default(),
        Readings::Keep,
    )
}

/// [`compute_plan`] of the sites `scope` leaves of the selection.
pub(crate) fn compute_plan_scoped(
    config: &crate::model::Config,
    remote: &RemoteArgs,
    guards: &GuardArgs,
    auth: &crate::ledger::Auth,
    rt: &tokio::runtime::Runtime,
    scope: &Scope,
    readings: Readings,
) -> Result<Computed, Exit> {
    check_selection(config, &remote.sites)?;
    let resolved = scope.resolve(config, &remote.sites);
    let narrowed = resolved.is_some();
    let (selection, skipped) = resolved.unwrap_or_else(|| (remote.sites.clone(), Vec::new()));
    // An empty selection means every site; a scope that leaves none plans none.
    if narrowed && selection.is_empty() {
        let recorded = recorded_guards(config, auth)?;
        let mut plan = crate::observe::build_plan(
            config,
            &std::collections::BTreeMap::new(),
            now(),
            &recorded,
            guards.overrides(),
        );
        plan.skipped = skipped;
        plan.shard = scope.shard;
        return Ok((plan, std::collections::BTreeMap::new()));
    }
    let observed = observe_live(config, remote, &selection, auth, rt)?;
    let recorded = recorded_guards(config, auth)?;
    let (mut plan, observed) = plan_readings(config, observed, &recorded, guards, readings);
    plan.skipped = skipped;
    plan.shard = scope.shard;
    Ok((plan, observed))
}

/// Read the sites of `selection` (every site when it is empty) live, Wix
/// and the other platforms.
pub(crate) fn observe_live(
    config: &crate::model::Config,
    remote: &RemoteArgs,
    selection: &[String],
    auth: &crate::ledger::Auth,
    rt: &tokio::runtime::Runtime,
) -> Result<std::collections::BTreeMap<String, crate::observe::Observed>, Exit> {
    let client = remote.client().map_err(|e| {
        fail(
            e,
            Some("pass --wix-api-base https://… or set ACCESSCTL_WIX_API_BASE"),
        )
    })?;
    let registry = remote.registry();
    Ok(rt.block_on(async {
        let mut observed = crate::observe::observe(
            config,
            selection,
            &client,
            usize::from(remote.parallelism),
            auth,
        )
        .await;
        crate::observe::observe_targets(config, selection, &registry, &mut observed).await;
        observed
    }))
}

/// The guards the last successful apply recorded (`ledger::guards`).
pub(crate) fn recorded_guards(
    config: &crate::model::Config,
    auth: &crate::ledger::Auth,
) -> Result<crate::ledger::guards::Recorded, Exit> {
    crate::ledger::guards::load(&config.ledger_dir, auth).map_err(|e| {
        fail(
            e,
            Some("it is written by `accessctl apply`; restore it from git (`git checkout -- <file>`)"),
        )
    })
}

/// Print the guards a plan breaks; `Exit::Refused` when there are any.
pub(crate) fn report_refusals(plan: &crate::plan::Plan) -> Option<Exit> {
    if plan.refusals.is_empty() {
        return None;
    }
    // On one terminal the plan just printed them; in a pipeline stderr may
    // be all a person sees.
    use std::io::IsTerminal as _;
    let same_screen = std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
    if !same_screen {
        for refusal in &plan.refusals {
            eprintln!("refused: {}", crate::escape::lines(refusal, "\n  "));
        }
    }
    eprintln!(
        "error: this plan breaks {}; nothing will be applied as it is",
        crate::render::count(plan.refusals.len(), "safety guard", "safety guards")
    );
    Some(Exit::Refused)
}
