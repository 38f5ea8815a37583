//! `accessctl apply`: plan, confirm, carry the plan out, report.

use std::collections::BTreeMap;
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use tokio::runtime::Runtime;

use super::{
    Exit, GuardArgs, RemoteArgs, compute_plan, fail, load_config, now, report_refusals, runtime,
};
use crate::apply::{Executor, Outcome, Progress, SiteReport, SiteWork, Tally};
use crate::escape;
use crate::model::Config;
use crate::observe::{Observed, site_access};
use crate::plan::{Action, Change, Observation, Plan, safety};
use crate::render::{self, TextOptions};
use crate::request::Courier;

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan saved by `accessctl plan --out FILE`: apply exactly it, after
    /// checking that neither the config nor any site it touches has moved.
    /// Without it, apply plans afresh, shows the plan and asks.
    #[arg(value_name = "PLAN_FILE")]
    pub plan_file: Option<PathBuf>,

    #[command(flatten)]
    pub remote: RemoteArgs,

    #[command(flatten)]
    pub guards: GuardArgs,

    /// Apply without asking. Required when stdin is not a terminal (CI).
    #[arg(long)]
    pub auto_approve: bool,

    /// Apply only shard K of N of a saved whole plan (one merged with
    /// `accessctl plan merge`, or made without --shard): the guards are
    /// checked over the whole plan, then only this shard's sites change.
    /// Needs PLAN_FILE, so that caps on removals span every shard.
    #[arg(long, value_name = "K/N", value_parser = crate::scope::Shard::parse, requires = "plan_file")]
    pub shard: Option<crate::scope::Shard>,
}

pub fn run(path: &Path, args: &ApplyArgs) -> Exit {
    let Some(loaded) = load_config(path) else {
        return Exit::Error;
    };
    let config = loaded.config;
    // Before anything is read or changed: a config that breaks its own
    // error rules is not carried out.
    if super::print_policy(&config) {
        return refuse(
            "the config breaks policy rules of severity `error` (above); nothing was changed"
                .into(),
            "change the grants the errors point at (`accessctl validate` lists them), or mark a rule `severity: warn`",
        );
    }
    // Held from before the ledger is read until the last write: a second
    // apply on this ledger is refused, naming this one.
    let _lock = match super::lock_ledger(&config, "apply") {
        Ok(lock) => lock,
        Err(exit) => return exit,
    };
    let auth = match super::ledger_auth_for_writing() {
        Ok(auth) => auth,
        Err(exit) => return exit,
    };
    if matches!(auth, crate::ledger::Auth::Off) {
        eprintln!(
            "warning: the ledger is not authenticated (neither {} nor {} is set): a pull request that edits it can make apply change or remove access",
            crate::ledger::SIGNING_KEY_ENV,
            crate::ledger::PUBLIC_KEY_ENV
        );
        eprintln!(
            "  = hint: make a key pair with `accessctl ledger-keygen` (README, \"Security model\")"
        );
    }
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(exit) => return exit,
    };
    let (plan, mut observed) = match &args.plan_file {
        Some(file) => match saved_plan(&config, file, args, &auth, &rt) {
            Ok(p) => p,
            Err(exit) => return exit,
        },
        None => match fresh_plan(&config, args, &auth, &rt) {
            Ok(p) => p,
            Err(exit) => return exit,
        },
    };
    let broken = plan.sites_with_errors();
    let total = plan.change_count();
    if total == 0 {
        // Nothing to change; what the config now manages is still recorded.
        let unrecorded = crate::apply::targets::record_managed(&plan, &config, &[], &auth);
        for problem in &unrecorded {
            eprintln!("error: {problem}");
        }
        return if broken > 0 || !unrecorded.is_empty() {
            Exit::Error
        } else {
            record_guards(&config, &auth)
        };
    }
    let client = match args.remote.client() {
        Ok(c) => c,
        Err(e) => return fail(e, None),
    };
    let work: Vec<SiteWork> = plan
        .sites
        .iter()
        .filter(|s| s.errors.is_empty() && !s.changes.is_empty())
        .filter_map(|s| {
            let site = config.sites.get(&s.site)?;
            let observed = observed.remove(&s.site)?;
            let existing_accounts = match &observed.observation {
                Observation::Live(live) => live.contributors.keys().cloned().collect(),
                _ => Vec::new(),
            };
            Some(SiteWork {
                plan: s.clone(),
                access: site_access(site).and_then(Result::ok),
                ledger: observed.ledger?,
                existing_accounts,
            })
        })
        .collect();
    // The bar counts the Wix changes the executor reports; other
    // platforms print a line per change (`apply::targets`).
    let wix_total: usize = plan.sites.iter().map(|s| s.changes.len()).sum();
    let progress: Arc<dyn Progress> = if std::io::stderr().is_terminal() {
        Arc::new(BarProgress::new(wix_total))
    } else {
        Arc::new(LineProgress)
    };
    let executor = Executor {
        client,
        ledger_dir: config.ledger_dir.clone(),
        auth: auth.clone(),
        parallelism: usize::from(args.remote.parallelism),
        clock: Arc::new(now),
        progress,
        courier: Arc::new(Courier::new(
            config.requests.clone(),
            std::time::Duration::from_secs(args.remote.timeout),
        )),
    };
    let reports = rt.block_on(executor.run(work));
    let registry = args.remote.registry();
    let target_reports = rt.block_on(crate::apply::targets::apply_targets(
        &plan, &config, &registry, &auth,
    ));
    let unrecorded = crate::apply::targets::record_managed(&plan, &config, &target_reports, &auth);
    print!("{}", report_text(&reports, broken));
    print!("{}", crate::apply::targets::report_text(&target_reports));
    for problem in &unrecorded {
        eprintln!("error: {problem}");
    }
    if broken > 0
        || !unrecorded.is_empty()
        || reports.iter().any(SiteReport::failed)
        || target_reports
            .iter()
            .any(crate::apply::targets::TargetReport::failed)
    {
        Exit::Error
    } else {
        record_guards(&config, &auth)
    }
}

/// After a successful apply, the config's guards become the record the
/// next config is compared with (README, "Safety guards").
fn record_guards(config: &Config, auth: &crate::ledger::Auth) -> Exit {
    let record = safety::record(config, now());
    let unchanged = matches!(
        crate::ledger::guards::load(&config.ledger_dir, auth),
        Ok(crate::ledger::guards::Recorded::Found { record: r, verified })
            if verified == auth.public_key().is_some() && r.same_guards(&record)
    );
    if unchanged {
        return Exit::Ok;
    }
    match crate::ledger::guards::save(&config.ledger_dir, &record, auth) {
        Ok(()) => Exit::Ok,
        Err(e) => fail(
            format!(
                "cannot record the safety guards in {}: {e}",
                crate::ledger::guards::path(&config.ledger_dir).display()
            ),
            Some(
                "the changes were made; fix the ledger directory and run `accessctl apply` again to record them",
            ),
        ),
    }
}

type Planned = (Plan, BTreeMap<String, Observed>);

/// Plan now, show it, and get a yes.
fn fresh_plan(
    config: &Config,
    args: &ApplyArgs,
    auth: &crate::ledger::Auth,
    rt: &Runtime,
) -> Result<Planned, Exit> {
    let (plan, observed) = compute_plan(config, &args.remote, &args.guards, auth, rt)?;
    print!(
        "{}",
        render::render_text(
            &plan,
            &TextOptions {
                color: render::color_enabled_for_stdout()
            }
        )
    );
    if let Some(exit) = report_refusals(&plan) {
        return Err(exit);
    }
    if plan.change_count() > 0 && !args.auto_approve {
        confirm(plan.change_count())?;
    }
    Ok((plan, observed))
}

fn confirm(total: usize) -> Result<(), Exit> {
    if !std::io::stdin().is_terminal() {
        return Err(fail(
            "refusing to apply without confirmation: stdin is not a terminal",
            Some(
                "review the plan, then run `accessctl apply --auto-approve` (as CI does after merge), or save it with `plan --out FILE` and run `accessctl apply FILE`",
            ),
        ));
    }
    eprint!("\nApply these {total} changes? Only `yes` is accepted: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    if answer.trim() != "yes" {
        eprintln!("apply cancelled; nothing was changed");
        return Err(Exit::Error);
    }
    Ok(())
}

/// Load a saved plan and prove it still describes the world: same config,
/// same day, and every site it changes reads as it did at plan time.
fn saved_plan(
    config: &Config,
    file: &Path,
    args: &ApplyArgs,
    auth: &crate::ledger::Auth,
    rt: &Runtime,
) -> Result<Planned, Exit> {
    let bytes = super::plan::read_plan_file(
        file,
        "the plan",
        "save a plan with `accessctl plan --out FILE`",
    )?;
    let mut plan: Plan = serde_json::from_slice(&bytes).map_err(|e| {
        fail(
            format!(
                "{}:{}:{}: not a saved accessctl plan: {e}",
                file.display(),
                e.line(),
                e.column()
            ),
            Some("save a plan with `accessctl plan --out FILE`"),
        )
    })?;
    let replan = "make a new plan with `accessctl plan --out FILE` and review it";
    if plan.format_version != crate::plan::FORMAT_VERSION {
        return Err(refuse(
            format!(
                "the plan has format version {}, this accessctl reads {}",
                plan.format_version,
                crate::plan::FORMAT_VERSION
            ),
            replan,
        ));
    }
    if plan.config_digest != config.digest {
        return Err(refuse(
            format!("{} changed since the plan was made", config.path.display()),
            replan,
        ));
    }
    let today = now().date().to_string();
    if plan.today != today {
        return Err(refuse(
            format!(
                "the plan was made for {}, today is {today}: `until` dates and invite expiry may have moved",
                plan.today
            ),
            replan,
        ));
    }
    if let Some(shard) = plan.shard {
        return Err(refuse(
            format!(
                "{} is the plan of shard {shard} alone: the safety guards were checked over that shard only",
                file.display()
            ),
            "join the shard plans with `accessctl plan merge --out FILE`, then apply that plan (with `--shard K/N` to apply one shard of it)",
        ));
    }
    let recorded = super::recorded_guards(config, auth)?;
    plan.refusals = safety::check(&plan, config, &recorded, args.guards.overrides());
    if let Some(exit) = report_refusals(&plan) {
        return Err(exit);
    }
    // Checked whole; applied in part.
    if let Some(shard) = args.shard {
        let mine = crate::scope::sites_of(config, shard);
        plan.sites.retain(|s| mine.contains(&s.site));
        plan.skipped.retain(|s| mine.contains(s));
        plan.shard = Some(shard);
        eprintln!(
            "applying shard {shard}: {} of the plan",
            crate::render::count(plan.sites.len(), "site", "sites")
        );
    }
    // Re-read exactly the sites the plan changes.
    let touched: Vec<String> = plan
        .sites
        .iter()
        .filter(|s| !s.changes.is_empty() || s.targets.iter().any(|t| !t.changes.is_empty()))
        .map(|s| s.site.clone())
        .collect();
    if touched.is_empty() {
        return Ok((plan, BTreeMap::new()));
    }
    let remote = RemoteArgs {
        sites: touched,
        ..args.remote.clone()
    };
    let unguarded = GuardArgs {
        allow_removals: true,
        allow_protected_changes: true,
        allow_safety_change: true,
        max_removals_per_site: None,
        max_removals_total: None,
    };
    let (fresh, observed) = compute_plan(config, &remote, &unguarded, auth, rt)?;
    let mut moved = Vec::new();
    let mut applied = 0;
    for now_site in &fresh.sites {
        let Some(then) = plan.sites.iter().find(|s| s.site == now_site.site) else {
            continue;
        };
        for (now_t, then_t) in now_site.targets.iter().zip(&then.targets) {
            if !then_t.changes.is_empty()
                && (now_t.fingerprint.is_none() || now_t.fingerprint != then_t.fingerprint)
            {
                if now_t.errors.is_empty() && now_t.before == then_t.after {
                    applied += 1;
                }
                moved.push(format!(
                    "site `{}`, {} {}: its bindings changed since the plan was made",
                    now_site.site,
                    now_t.platform.title(),
                    now_t.target
                ));
            }
        }
        if now_site.fingerprint.is_none() || now_site.fingerprint != then.fingerprint {
            // The site now reads as the plan would leave it: most likely
            // this plan (or an equal one) was applied already.
            if now_site.errors.is_empty() && now_site.before == then.after {
                applied += 1;
            }
            moved.push(describe_move(
                &then.before,
                &now_site.before,
                &now_site.site,
                &now_site.errors,
            ));
        }
    }
    if !moved.is_empty() && applied == moved.len() {
        return Err(refuse(
            "this plan was already applied: every site it changes now reads as the plan leaves it"
                .to_string(),
            "nothing to do; run `accessctl plan` to see whether anything else changed",
        ));
    }
    if !moved.is_empty() {
        for m in &moved {
            eprintln!("refused: {}", escape::lines(m, "\n  "));
        }
        return Err(refuse(
            format!(
                "{} changed since the plan was made",
                crate::render::count(moved.len(), "site", "sites")
            ),
            replan,
        ));
    }
    eprintln!(
        "{}: config and sites unchanged since the plan; applying it",
        file.display()
    );
    Ok((plan, observed))
}

/// Name the site and what moved between plan time and now.
fn describe_move(
    then: &crate::plan::Listing,
    now_lines: &crate::plan::Listing,
    site: &str,
    errors: &[String],
) -> String {
    if let Some(error) = errors.first() {
        return format!("site `{site}` cannot be read now: {error}");
    }
    let (then, now_lines): (Vec<&str>, Vec<&str>) =
        (then.lines().collect(), now_lines.lines().collect());
    let gone: Vec<&str> = then
        .iter()
        .copied()
        .filter(|l| !now_lines.contains(l))
        .collect();
    let new: Vec<&str> = now_lines
        .iter()
        .copied()
        .filter(|l| !then.contains(l))
        .collect();
    if gone.is_empty() && new.is_empty() {
        return format!("site `{site}` changed since the plan (its roles or its ledger)");
    }
    let mut parts = Vec::new();
    for l in gone {
        parts.push(format!("was `{l}`"));
    }
    for l in new {
        parts.push(format!("now `{l}`"));
    }
    format!("site `{site}` changed since the plan: {}", parts.join("; "))
}

fn refuse(message: String, hint: &str) -> Exit {
    fail(message, Some(hint));
    Exit::Refused
}

/// The closing report: per site what was done, then totals. Every change
/// is counted once ([`Tally`]); a change that took effect but is not in the
/// ledger is shown with what happened and how to settle it.
pub fn report_text(reports: &[SiteReport], broken_sites: usize) -> String {
    let mut out = String::from("\n");
    let mut delivered = 0;
    let mut failed_sites = Vec::new();
    for report in reports {
        out.push_str(&format!("site {}:\n", escape::text(&report.site)));
        if let Some(e) = &report.error {
            out.push_str(&format!("  error: {}\n", escape::lines(e, "\n    ")));
        }
        if report
            .results
            .iter()
            .any(|r| matches!(r.outcome, Outcome::Interrupted(_)))
        {
            failed_sites.push(report.site.as_str());
        }
        for r in &report.results {
            let (status, why) = match &r.outcome {
                Outcome::Done => ("done", None),
                Outcome::Refused(w) => ("REFUSED", Some(w.clone())),
                Outcome::Failed(w) => ("FAILED", Some(w.clone())),
                Outcome::Unknown(w) => ("UNKNOWN", Some(w.clone())),
                Outcome::Skipped(w) => ("skipped", Some(w.clone())),
                Outcome::Interrupted(w) => ("INTERRUPTED", Some(w.clone())),
                Outcome::Unrecorded(u) => (
                    "NOT RECORDED",
                    Some(format!(
                        "{}, NOT RECORDED in the ledger: {}",
                        u.state, u.error
                    )),
                ),
            };
            out.push_str(&format!("  {status:>8}  {}", describe(&r.change)));
            if let Some(why) = why {
                out.push_str(&format!(" ({})", escape::text(&why)));
            }
            out.push('\n');
            if let Outcome::Unrecorded(u) = &r.outcome {
                out.push_str(&format!(
                    "            to settle, once the ledger can be written: {}\n",
                    u.settle.describe(&report.site)
                ));
            }
        }
        for note in &report.notes {
            delivered += 1;
            out.push_str(&format!("  {:>8}  {}\n", "sent", escape::text(note)));
        }
    }
    let t = Tally::of(reports);
    out.push_str(&format!(
        "\nApply finished: {} done, {} failed, {} unknown, {} skipped, {} not recorded, {} interrupted ({} changes); {} calls to Wix.\n",
        t.done,
        t.failed,
        t.unknown,
        t.skipped,
        t.unrecorded,
        t.interrupted,
        t.changes(),
        t.calls
    ));
    if t.unrecorded > 0 {
        out.push_str(&format!(
            "{} took effect but {} NOT RECORDED in the ledger: make the ledger directory writable, then settle each as shown above before the next apply.\n",
            crate::render::count(t.unrecorded, "change", "changes"),
            if t.unrecorded == 1 { "is" } else { "are" }
        ));
    }
    if !failed_sites.is_empty() {
        out.push_str(&format!(
            "{} stopped on an internal error: {}; changes marked INTERRUPTED may or may not have taken effect, and the next plan shows what is left.\n",
            crate::render::count(failed_sites.len(), "site", "sites"),
            failed_sites.join(", ")
        ));
    }
    if delivered > 0 {
        out.push_str(&format!(
            "{} sent to site owners; `accessctl request done SITE` records when they have granted access.\n",
            crate::render::count(delivered, "message", "messages")
        ));
    }
    if t.unknown > 0 {
        out.push_str("Invites with an unknown outcome are never re-sent automatically; `accessctl plan` says how to settle them.\n");
    }
    if broken_sites > 0 {
        out.push_str(&format!(
            "{} not applied because {} could not be planned.\n",
            crate::render::count(broken_sites, "site was", "sites were"),
            if broken_sites == 1 { "it" } else { "they" }
        ));
    }
    out
}

/// A change as one line; names, emails and titles escaped, as they come
/// from the config and from Wix.
fn describe(change: &Change) -> String {
    let titles: Vec<_> = change
        .roles_after
        .iter()
        .map(|r| escape::text(&r.title))
        .collect();
    let target = match (&change.email, &change.account_id) {
        (Some(e), _) if change.who != *e => {
            format!("{} ({})", escape::text(&change.who), escape::text(e))
        }
        _ => escape::text(&change.who).into_owned(),
    };
    let before = || {
        change
            .roles_before
            .iter()
            .map(|r| escape::text(&r.title))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match change.action {
        Action::RequestChange => format!(
            "{} {target}: {} → {}",
            change.action.name(),
            before(),
            titles.join(", ")
        ),
        Action::RequestRemoval => format!("{} {target}: {}", change.action.name(), before()),
        Action::Invite | Action::ChangeRole | Action::Request | Action::Link => {
            format!("{} {target}: {}", change.action.name(), titles.join(", "))
        }
        Action::Remove | Action::RevokeInvite => format!("{} {target}", change.action.name()),
    }
}

struct LineProgress;

impl Progress for LineProgress {
    fn done(&self, site: &str, change: &Change, outcome: &Outcome) {
        let status = match outcome {
            Outcome::Done => "done",
            Outcome::Refused(_) => "refused",
            Outcome::Failed(_) => "failed",
            Outcome::Unknown(_) => "unknown",
            Outcome::Skipped(_) => "skipped",
            Outcome::Unrecorded(_) => "NOT RECORDED in the ledger",
            Outcome::Interrupted(_) => "interrupted",
        };
        eprintln!("{}: {} … {status}", escape::line(site), describe(change));
    }
}

struct BarProgress(ProgressBar);

impl BarProgress {
    fn new(total: usize) -> Self {
        let bar = ProgressBar::new(total as u64);
        if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}") {
            bar.set_style(style);
        }
        BarProgress(bar)
    }
}

impl Progress for BarProgress {
    fn done(&self, site: &str, change: &Change, _outcome: &Outcome) {
        self.0
            .set_message(format!("{}: {}", escape::text(site), describe(change)));
        self.0.inc(1);
        if self.0.position() >= self.0.length().unwrap_or(0) {
            self.0.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::{ChangeResult, Settle, Unrecorded};

    fn change(action: Action, who: &str) -> Change {
        Change {
            action,
            who: who.to_string(),
            email: Some(format!("{who}@x.example")),
            account_id: Some(format!("acct-{who}")),
            invite_id: Some(format!("inv-{who}")),
            roles_before: Vec::new(),
            roles_after: Vec::new(),
            reason: String::new(),
            identity: None,
        }
    }

    /// The closing line counts every change exactly once, whatever its
    /// outcome (hole 9: unrecorded changes were missing from the counts).
    #[test]
    fn counts_add_up_to_the_number_of_changes() {
        let why = || "why".to_string();
        let outcomes = [
            Outcome::Done,
            Outcome::Refused(why()),
            Outcome::Failed(why()),
            Outcome::Unknown(why()),
            Outcome::Skipped(why()),
            Outcome::Unrecorded(Unrecorded {
                state: "invite to a@x.example sent (invite id inv-1)".to_string(),
                error: "disk full".to_string(),
                settle: Settle::InviteSent {
                    email: "a@x.example".to_string(),
                },
            }),
            Outcome::Interrupted(why()),
        ];
        let results: Vec<ChangeResult> = outcomes
            .iter()
            .enumerate()
            .map(|(i, outcome)| ChangeResult {
                change: change(Action::Invite, &format!("p{i}")),
                outcome: outcome.clone(),
            })
            .collect();
        let (one, two) = results.split_at(3);
        let reports = [
            SiteReport {
                site: "a".to_string(),
                results: one.to_vec(),
                calls: 2,
                error: None,
                notes: Vec::new(),
            },
            SiteReport {
                site: "b".to_string(),
                results: two.to_vec(),
                calls: 1,
                error: Some("internal error".to_string()),
                notes: Vec::new(),
            },
        ];
        let tally = Tally::of(&reports);
        assert_eq!(tally.changes(), outcomes.len());
        let text = report_text(&reports, 0);
        let last = text
            .lines()
            .find(|l| l.starts_with("Apply finished:"))
            .expect("closing line");
        let counted: usize = last
            .trim_start_matches("Apply finished:")
            .split(';')
            .next()
            .expect("counts")
            .split(',')
            .map(|part| {
                part.split_whitespace()
                    .next()
                    .and_then(|n| n.parse::<usize>().ok())
                    .expect("a number")
            })
            .sum();
        assert_eq!(counted, outcomes.len(), "{last}");
        assert!(
            last.contains("1 done, 2 failed, 1 unknown, 1 skipped, 1 not recorded, 1 interrupted (7 changes); 3 calls"),
            "{last}"
        );
        assert!(
            text.contains("to settle, once the ledger can be written: run `accessctl invite-status b a@x.example sent`"),
            "{text}"
        );
        assert!(
            text.contains("1 site stopped on an internal error: b"),
            "{text}"
        );
    }
}
