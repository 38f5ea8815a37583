//! Applying the changes of targets on platforms other than Wix, through
//! their providers. These platforms list every binding, so the next plan
//! reads what happened; the ledger records only which emails accessctl
//! manages on each target, so that a person the config drops loses access
//! whatever the target's `unmanaged` says. That is written as each call's
//! changes are done ([`TargetJournal`], so an apply stopped part-way keeps
//! what it did), and once more for the whole plan afterwards
//! ([`record_managed`]: access the config names that needed no change).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::task::JoinSet;

use crate::escape;
use crate::ledger::{self, Auth, SiteLedger};
use crate::model::{Config, SiteTarget};
use crate::plan::Plan;
use crate::platform::{Change, ChangeKind, Journal, Outcome, Platform, Settled};
use crate::providers::registry::Registry;

/// How one target's changes ended.
#[derive(Debug, Clone)]
pub struct TargetReport {
    pub site: String,
    pub platform: Platform,
    pub target: String,
    pub outcomes: Vec<(Change, Outcome)>,
}

impl TargetReport {
    pub fn failed(&self) -> bool {
        self.outcomes
            .iter()
            .any(|(_, o)| !matches!(o, Outcome::Done))
    }

    fn label(&self) -> String {
        format!(
            "site {}, {} {}",
            escape::text(&self.site),
            self.platform.short_title(),
            escape::text(&self.target)
        )
    }
}

/// Targets changed at once; each provider keeps its own quota.
const TARGETS_AT_ONCE: usize = 4;

/// Carry out every target change of `plan` that has no errors. Each
/// outcome is printed to stderr as it is known, and what a call did to the
/// emails accessctl manages is written to the site's ledger before the
/// next call ([`TargetJournal`]).
pub async fn apply_targets(
    plan: &Plan,
    config: &Config,
    registry: &Registry,
    auth: &Auth,
) -> Vec<TargetReport> {
    let semaphore = Arc::new(tokio::sync::Semaphore::new(TARGETS_AT_ONCE));
    let mut tasks = JoinSet::new();
    // A site's targets run at once and share its ledger: read once, on
    // the first call that records something, and written by one at a time.
    let mut ledgers: HashMap<&str, SharedLedger> = HashMap::new();
    for site_plan in &plan.sites {
        let Some(site) = config.sites.get(&site_plan.site) else {
            continue;
        };
        for t in &site_plan.targets {
            if t.changes.is_empty() || !t.errors.is_empty() {
                continue;
            }
            let Some(site_target) = site
                .targets
                .iter()
                .find(|st| st.target.platform == t.platform && st.target.id == t.target)
            else {
                continue;
            };
            let target = site_target.target.clone();
            let provider = registry.connect(&target);
            let changes = t.changes.clone();
            let site_key = site.key.clone();
            let semaphore = semaphore.clone();
            let label = format!(
                "{} {} {}",
                escape::text(&site_key),
                target.platform.short_title(),
                escape::text(&target.id)
            );
            let journal = TargetJournal {
                label: label.clone(),
                ledger_dir: config.ledger_dir.clone(),
                site: site.key.clone(),
                site_id: site.wix.site_id.clone(),
                auth: auth.clone(),
                platform: target.platform,
                target: target.id.clone(),
                // Only what the config grants is recorded, whatever a
                // saved plan file says.
                managed: t
                    .managed
                    .iter()
                    .filter(|m| granted_here(site_target, m))
                    .cloned()
                    .collect(),
                ledger: ledgers.entry(&site_plan.site).or_default().clone(),
            };
            tasks.spawn(async move {
                let _permit = semaphore.acquire_owned().await;
                let outcomes = match provider {
                    Err(e) => changes
                        .iter()
                        .map(|_| Outcome::Failed(e.message.clone()))
                        .collect(),
                    Ok(provider) => {
                        if let Some(eta) = provider.eta(changes.len())
                            && eta.as_secs() >= 10
                        {
                            eprintln!(
                                "{label}: {} changes, about {} under {}'s quota",
                                changes.len(),
                                human_duration(eta),
                                target.platform.title()
                            );
                        }
                        provider.apply(&target, &changes, &journal).await
                    }
                };
                TargetReport {
                    site: site_key,
                    platform: target.platform,
                    target: target.id,
                    outcomes: changes.into_iter().zip(outcomes).collect(),
                }
            });
        }
    }
    let mut reports = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(report) => reports.push(report),
            Err(e) => tracing::error!("a target apply task failed: {e}"),
        }
    }
    reports.sort_by(|a, b| (&a.site, a.platform, &a.target).cmp(&(&b.site, b.platform, &b.target)));
    reports
}

/// Hears a target's apply: prints each outcome and records in the site's
/// ledger, after each call, whom accessctl now manages there (an add or an
/// update done for an email the config grants) and whom no longer (a
/// removal, or a change leaving someone the config does not grant). A
/// ledger that cannot be written stops the target (`Journal`).
struct TargetJournal {
    label: String,
    ledger_dir: PathBuf,
    site: String,
    site_id: String,
    auth: Auth,
    platform: Platform,
    target: String,
    /// The emails the config grants here that hold access once the plan's
    /// changes are made.
    managed: Vec<String>,
    ledger: SharedLedger,
}

/// A site's ledger as its targets' journals share it: `None` until read.
type SharedLedger = Arc<Mutex<Option<SiteLedger>>>;

/// Whether the config grants `email` access on the target.
fn granted_here(site_target: &SiteTarget, email: &str) -> bool {
    site_target
        .grants
        .iter()
        .any(|g| g.email.eq_ignore_ascii_case(email))
}

impl TargetJournal {
    fn record(&self, results: &[Settled<'_>]) -> Result<(), String> {
        let done: Vec<(&str, bool)> = results
            .iter()
            .filter(|r| r.outcome == Outcome::Done)
            .filter_map(|r| {
                let email = r.change.who.email()?;
                let managed = r.change.kind != ChangeKind::Remove
                    && self.managed.iter().any(|m| m.eq_ignore_ascii_case(email));
                Some((email, managed))
            })
            .collect();
        if done.is_empty() {
            return Ok(());
        }
        let mut shared = self.ledger.lock().unwrap_or_else(PoisonError::into_inner);
        let l = match &mut *shared {
            Some(l) => l,
            slot => slot.insert(
                ledger::load(&self.ledger_dir, &self.site, &self.site_id, &self.auth)
                    .map_err(|report| report.render().trim_end().to_string())?,
            ),
        };
        let mut changed = false;
        for (email, managed) in done {
            changed |= if managed {
                l.mark_target_granted(self.platform, &self.target, email)
            } else {
                l.forget_target_granted(self.platform, &self.target, email)
            };
        }
        if changed {
            ledger::save(&self.ledger_dir, l, &self.auth).map_err(|e| {
                format!(
                    "cannot write the ledger {}: {e} (access this call granted is recorded by the next apply that can write it; a removal it made stays listed as granted by accessctl)",
                    ledger::path_for(&self.ledger_dir, &self.site).display()
                )
            })?;
            crate::failpoint::crash("after-target-record");
        }
        Ok(())
    }
}

impl Journal for TargetJournal {
    fn settled(&self, results: &[Settled<'_>]) -> Result<(), String> {
        for r in results {
            eprintln!(
                "{}: {} {}: {}",
                self.label,
                symbol(r.change.kind),
                escape::text(&r.change.who.to_string()),
                outcome_text(&r.outcome)
            );
        }
        self.record(results)
    }
}

fn symbol(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::Add => "+",
        ChangeKind::Update => "~",
        ChangeKind::Remove => "-",
    }
}

fn outcome_text(o: &Outcome) -> String {
    match o {
        Outcome::Done => "done".to_string(),
        Outcome::Failed(m) => format!("failed: {}", escape::text(m)),
        Outcome::Refused(m) => format!("refused: {}", escape::text(m)),
        Outcome::Unknown(m) => format!("outcome unknown: {}", escape::text(m)),
        Outcome::Skipped(m) => format!("skipped: {}", escape::text(m)),
    }
}

fn human_duration(d: std::time::Duration) -> String {
    let s = d.as_secs();
    if s < 120 {
        format!("{s} s")
    } else {
        format!("{} min", s.div_ceil(60))
    }
}

/// The report's lines: per target, counts and every change that did not
/// end as done, with what to do.
pub fn report_text(reports: &[TargetReport]) -> String {
    let mut out = String::new();
    for r in reports {
        let count = |f: fn(&Outcome) -> bool| r.outcomes.iter().filter(|(_, o)| f(o)).count();
        let done = count(|o| matches!(o, Outcome::Done));
        let failed = count(|o| matches!(o, Outcome::Failed(_) | Outcome::Refused(_)));
        let unknown = count(|o| matches!(o, Outcome::Unknown(_)));
        let skipped = count(|o| matches!(o, Outcome::Skipped(_)));
        let mut parts = vec![format!("{done} done")];
        for (n, what) in [
            (failed, "failed"),
            (unknown, "unknown"),
            (skipped, "skipped"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        out.push_str(&format!("{}: {}\n", r.label(), parts.join(", ")));
        for (c, o) in &r.outcomes {
            if !matches!(o, Outcome::Done) {
                out.push_str(&format!(
                    "  {} {}: {}\n",
                    symbol(c.kind),
                    escape::text(&c.who.to_string()),
                    outcome_text(o)
                ));
            }
        }
        if unknown + skipped > 0 {
            out.push_str("  = hint: run `accessctl plan`: it reads the target again and shows what is left\n");
        }
    }
    out
}

/// Record in each site's ledger the emails accessctl now manages on its
/// targets (the plan's `managed` whose changes, if any, were made) and
/// forget those it removed. Targets with errors are left as they were.
/// Returns what could not be recorded.
pub fn record_managed(
    plan: &Plan,
    config: &Config,
    reports: &[TargetReport],
    auth: &Auth,
) -> Vec<String> {
    let mut problems = Vec::new();
    for site_plan in &plan.sites {
        let Some(site) = config.sites.get(&site_plan.site) else {
            continue;
        };
        // Only what the config grants is recorded, whatever a saved plan
        // file says.
        let planned: Vec<_> = site_plan
            .targets
            .iter()
            .filter(|t| t.errors.is_empty() && (!t.managed.is_empty() || !t.changes.is_empty()))
            .filter_map(|t| {
                let st = site
                    .targets
                    .iter()
                    .find(|st| st.target.platform == t.platform && st.target.id == t.target)?;
                Some((t, st))
            })
            .collect();
        if planned.is_empty() {
            continue;
        }
        let mut l = match ledger::load(&config.ledger_dir, &site.key, &site.wix.site_id, auth) {
            Ok(l) => l,
            Err(report) => {
                problems.push(report.render().trim_end().to_string());
                continue;
            }
        };
        let mut changed = false;
        for (t, st) in planned {
            let outcomes = reports
                .iter()
                .find(|r| r.site == site.key && r.platform == t.platform && r.target == t.target)
                .map_or(&[][..], |r| r.outcomes.as_slice());
            let done = |email: &str| -> Option<bool> {
                outcomes
                    .iter()
                    .find(|(c, _)| c.who.is_email(email))
                    .map(|(_, o)| matches!(o, Outcome::Done))
            };
            // Removed, or left with only what the config does not manage.
            for c in &t.changes {
                let Some(email) = c.who.email() else { continue };
                if !t.managed.iter().any(|m| m == email) && done(email) == Some(true) {
                    changed |= l.forget_target_granted(t.platform, &t.target, email);
                }
            }
            for email in &t.managed {
                // A change planned for it that did not happen: the next
                // plan decides again.
                let planned_change = t.changes.iter().any(|c| c.who.is_email(email));
                if granted_here(st, email) && (!planned_change || done(email) == Some(true)) {
                    changed |= l.mark_target_granted(t.platform, &t.target, email);
                }
            }
        }
        if changed && let Err(e) = ledger::save(&config.ledger_dir, &l, auth) {
            problems.push(format!(
                "cannot write the ledger {}: {e}",
                ledger::path_for(&config.ledger_dir, &site.key).display()
            ));
        }
    }
    problems
}
