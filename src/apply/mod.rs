//! Carrying out a plan: exactly its changes, in its order, recording each in
//! the ledger as soon as it is done.
//!
//! Per site the plan is already ordered (links, revokes, invites, role
//! changes, removals last). Links are the ledger's alone. The Wix changes
//! go to the Wix provider as the core's changes ([`Provider::apply`]),
//! which sends invites as Bulk Invite calls, one per distinct role set and
//! at most 50 emails each, and the rest one call each; the ledger is kept
//! through its [`Journal`] ([`SiteJournal`]). Before a Bulk Invite is sent
//! its emails are written to the ledger as `unknown`; the answer turns them
//! into `pending` (with Wix's invite id) or `failed`, and a definite refusal
//! removes them again. So a crash or a timeout at any point leaves either a
//! record of what was sent, or an `unknown` record that the next plan shows
//! and never re-sends on its own. A site stops at its first failed call (a
//! revoke that failed must not be followed by the re-invite); other sites go
//! on. Sites run concurrently under a limit.
//!
//! A request-mode site's `request` changes are one message to its owner:
//! the [`Courier`] sends it once for all of them and, only when it went out,
//! records it in the ledger; a failed delivery fails every change of the
//! block and records nothing, so the next apply tries again.
//!
//! Nothing is swallowed. A change that took effect but could not be written
//! to the ledger is reported as [`Outcome::Unrecorded`], with what happened
//! and how a person settles it ([`Settle`]), and the site stops there. A
//! panic in a site's task is caught at the join: the site is reported as
//! failed by name, with the changes it had finished and the rest as
//! [`Outcome::Interrupted`]; the other sites go on. [`Tally`] counts every
//! change exactly once.

pub mod targets;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use time::{Duration, OffsetDateTime};
use tokio::sync::Semaphore;
use tokio::task::{Id, JoinSet};

use crate::failpoint::failpoint;
use crate::ledger::{
    self, INVITE_LIFETIME_DAYS, Identity, IdentitySource, InviteRecord, InviteState, SiteLedger,
};
use crate::plan::{Action, Change, SitePlan};
use crate::platform::{self, Journal, Platform, Provider as _, Settled, Target};
use crate::providers::wix::provider::WixProvider;
use crate::providers::wix::{SiteAccess, WixClient};
use crate::request::Courier;

/// How one change ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// Wix refused this email (`failedEmails`); recorded as failed.
    Refused(String),
    /// The call failed; nothing was recorded as done.
    Failed(String),
    /// The call may or may not have taken effect; recorded as `unknown`.
    Unknown(String),
    /// Not attempted because an earlier change on the site failed, or because
    /// accessctl cannot make this kind of change yet.
    Skipped(String),
    /// It took effect (or Wix gave a definite answer), but the ledger could
    /// not be written to say so.
    Unrecorded(Unrecorded),
    /// The site's task panicked before this change was reported; it may or
    /// may not have taken effect.
    Interrupted(String),
}

/// A change whose effect the ledger does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unrecorded {
    /// What happened, e.g. "invite to a@x.example sent (invite id inv-1)".
    pub state: String,
    /// Why the ledger could not be written.
    pub error: String,
    /// How a person brings the ledger in line.
    pub settle: Settle,
}

/// How to settle an unrecorded change, once the ledger can be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settle {
    /// `accessctl invite-status SITE EMAIL sent`: the ledger holds the
    /// invite as `unknown`, and it was sent.
    InviteSent { email: String },
    /// `accessctl invite-status SITE EMAIL not-sent`: the ledger holds the
    /// invite as `unknown`, and it was not sent.
    InviteNotSent { email: String },
    /// No command records it: what the next plan shows, and what to do.
    NextPlan(String),
}

impl Settle {
    /// The command to run, or what to do, for site `site`.
    pub fn describe(&self, site: &str) -> String {
        match self {
            Settle::InviteSent { email } => {
                format!("run `accessctl invite-status {site} {email} sent`")
            }
            Settle::InviteNotSent { email } => {
                format!("run `accessctl invite-status {site} {email} not-sent`")
            }
            Settle::NextPlan(what) => what.clone(),
        }
    }
}

/// Every change of a run counted once, by how it ended.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub done: usize,
    /// Failed or refused.
    pub failed: usize,
    pub unknown: usize,
    pub skipped: usize,
    pub unrecorded: usize,
    pub interrupted: usize,
    /// Calls made to Wix (not changes).
    pub calls: usize,
}

impl Tally {
    pub fn of(reports: &[SiteReport]) -> Tally {
        let mut t = Tally::default();
        for report in reports {
            t.calls += report.calls;
            for r in &report.results {
                match r.outcome {
                    Outcome::Done => t.done += 1,
                    Outcome::Refused(_) | Outcome::Failed(_) => t.failed += 1,
                    Outcome::Unknown(_) => t.unknown += 1,
                    Outcome::Skipped(_) => t.skipped += 1,
                    Outcome::Unrecorded(_) => t.unrecorded += 1,
                    Outcome::Interrupted(_) => t.interrupted += 1,
                }
            }
        }
        t
    }

    /// How many changes were counted.
    pub fn changes(&self) -> usize {
        self.done + self.failed + self.unknown + self.skipped + self.unrecorded + self.interrupted
    }
}

#[derive(Debug, Clone)]
pub struct ChangeResult {
    pub change: Change,
    pub outcome: Outcome,
}

#[derive(Debug, Clone)]
pub struct SiteReport {
    pub site: String,
    pub results: Vec<ChangeResult>,
    /// Calls made to Wix, for the report.
    pub calls: usize,
    /// A problem with the site as a whole (ledger write failed, its task
    /// panicked).
    pub error: Option<String>,
    /// What was delivered to the site's owner (request mode), for the report.
    pub notes: Vec<String>,
}

impl SiteReport {
    /// Anything not done counts, access requests included.
    pub fn failed(&self) -> bool {
        self.error.is_some()
            || self
                .results
                .iter()
                .any(|r| !matches!(r.outcome, Outcome::Done))
    }
}

/// Receives a line per finished change (progress bar or plain log).
pub trait Progress: Send + Sync {
    fn done(&self, site: &str, change: &Change, outcome: &Outcome);
}

/// A clock, so tests can pin time.
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

pub struct Executor {
    pub client: WixClient,
    pub ledger_dir: PathBuf,
    /// Signs the ledger records this run writes (see `ledger::Auth`).
    pub auth: ledger::Auth,
    pub parallelism: usize,
    pub clock: Clock,
    pub progress: Arc<dyn Progress>,
    /// Delivers access requests (request mode).
    pub courier: Arc<Courier>,
}

/// A site's work: its plan, credentials and ledger.
pub struct SiteWork {
    pub plan: SitePlan,
    pub access: Option<SiteAccess>,
    pub ledger: SiteLedger,
    /// Collaborators observed when the site was planned; recorded with each
    /// invite so a later plan knows they cannot be its invitee.
    pub existing_accounts: Vec<String>,
}

impl Executor {
    pub async fn run(&self, work: Vec<SiteWork>) -> Vec<SiteReport> {
        let semaphore = Arc::new(Semaphore::new(self.parallelism.max(1)));
        let mut tasks = JoinSet::new();
        // What a task's report is made of if the task panics.
        let mut running: BTreeMap<Id, (SitePlan, ResultLog)> = BTreeMap::new();
        for item in work {
            // Sites start in the plan's order (a permit is taken before the
            // task exists), so `--parallelism 1` applies them one by one.
            let Ok(permit) = semaphore.clone().acquire_owned().await else {
                break;
            };
            let log = ResultLog::default();
            let site = SiteRun {
                client: self.client.clone(),
                ledger_dir: self.ledger_dir.clone(),
                auth: self.auth.clone(),
                clock: self.clock.clone(),
                progress: self.progress.clone(),
                courier: self.courier.clone(),
                log: log.clone(),
            };
            let plan = item.plan.clone();
            let handle = tasks.spawn(async move {
                let _permit = permit;
                site.apply(item).await
            });
            running.insert(handle.id(), (plan, log));
        }
        let mut reports = Vec::new();
        while let Some(joined) = tasks.join_next_with_id().await {
            match joined {
                Ok((_, report)) => reports.push(report),
                Err(e) => {
                    let Some((plan, log)) = running.remove(&e.id()) else {
                        continue;
                    };
                    let why = if e.is_panic() {
                        format!("panicked: {}", panic_message(e.into_panic()))
                    } else {
                        e.to_string()
                    };
                    reports.push(self.interrupted(&plan, &log, &why));
                }
            }
        }
        reports.sort_by(|a, b| a.site.cmp(&b.site));
        reports
    }

    /// The report of a site whose task died: the changes it reported, and
    /// every other change of its plan as interrupted.
    fn interrupted(&self, plan: &SitePlan, log: &ResultLog, why: &str) -> SiteReport {
        let mut results = log.take();
        // Match reported changes to the plan's (invites are reported in
        // batch order, not plan order). Quadratic, but only after a panic.
        let mut reported = vec![false; plan.changes.len()];
        for r in &results {
            if let Some(i) =
                (0..plan.changes.len()).find(|&i| !reported[i] && plan.changes[i] == r.change)
            {
                reported[i] = true;
            }
        }
        let outcome = Outcome::Interrupted(
            "the site's task stopped before reporting it; it may or may not have taken effect"
                .to_string(),
        );
        for (change, _) in plan.changes.iter().zip(&reported).filter(|(_, r)| !**r) {
            self.progress.done(&plan.site, change, &outcome);
            results.push(ChangeResult {
                change: change.clone(),
                outcome: outcome.clone(),
            });
        }
        SiteReport {
            site: plan.site.clone(),
            results,
            calls: log.calls(),
            error: Some(format!(
                "internal error: the site's task {why}; the next plan reads the site again and shows what is left"
            )),
            notes: Vec::new(),
        }
    }
}

/// A panic's message, when it has one.
fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

/// The results and calls a site's task has reported so far, shared with
/// the executor so that they survive a panic in the task.
#[derive(Clone, Default)]
struct ResultLog {
    results: Arc<Mutex<Vec<ChangeResult>>>,
    /// Calls made to Wix (counted by the provider).
    calls: Arc<AtomicUsize>,
}

impl ResultLog {
    /// Adds a result; returns how many there are now.
    fn push(&self, result: ChangeResult) -> usize {
        let mut results = self.results.lock().unwrap_or_else(PoisonError::into_inner);
        results.push(result);
        results.len()
    }

    fn take(&self) -> Vec<ChangeResult> {
        std::mem::take(&mut *self.results.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }
}

struct SiteRun {
    client: WixClient,
    ledger_dir: PathBuf,
    auth: ledger::Auth,
    clock: Clock,
    progress: Arc<dyn Progress>,
    courier: Arc<Courier>,
    log: ResultLog,
}

impl SiteRun {
    async fn apply(&self, work: SiteWork) -> SiteReport {
        let SiteWork {
            plan,
            access,
            mut ledger,
            existing_accounts,
        } = work;
        let mut report = SiteReport {
            site: plan.site.clone(),
            results: Vec::new(),
            calls: 0,
            error: None,
            notes: Vec::new(),
        };
        let mut stopped: Option<String> = None;
        let changes = plan.changes.clone();
        let mut i = 0;
        while i < changes.len() {
            let change = &changes[i];
            if let Some(why) = &stopped {
                self.record(&mut report, change.clone(), Outcome::Skipped(why.clone()));
                i += 1;
                continue;
            }
            if change.action.is_request() {
                // All requests of the site (grants, role changes, removals)
                // form the last block of the plan and go out as one message.
                let end = changes[i..]
                    .iter()
                    .position(|c| !c.action.is_request())
                    .map_or(changes.len(), |p| i + p);
                let outcome = self.request(&plan, &mut ledger, &mut report).await;
                for c in &changes[i..end] {
                    self.record(&mut report, c.clone(), outcome.clone());
                }
                i = end;
                continue;
            }
            if change.action == Action::Link {
                let mut outcome = self.link(change, &mut ledger);
                if let Err(e) = self.save(&ledger) {
                    if outcome == Outcome::Done
                        && let Some(unrecorded) = self.unrecorded(&plan.site, change, &e)
                    {
                        outcome = Outcome::Unrecorded(unrecorded);
                    }
                    report.error = Some(e);
                    stopped = Some(LEDGER_STOP.to_string());
                }
                self.record(&mut report, change.clone(), outcome);
                i += 1;
                continue;
            }
            let Some(access) = &access else {
                let why = "no API key for this site".to_string();
                self.record(&mut report, change.clone(), Outcome::Failed(why.clone()));
                stopped = Some(why);
                i += 1;
                continue;
            };
            // The site's Wix calls: every change up to the next link or
            // request (the plan puts links first and requests last).
            let end = changes[i..]
                .iter()
                .position(|c| c.action == Action::Link || c.action.is_request())
                .map_or(changes.len(), |p| i + p);
            let block = &changes[i..end];
            stopped = self
                .wix(access, block, &existing_accounts, &mut ledger, &mut report)
                .await;
            i = end;
        }
        report.results = self.log.take();
        report.calls = self.log.calls();
        report
    }

    /// Delivers the site's access request; records it only once it went out.
    async fn request(
        &self,
        plan: &SitePlan,
        ledger: &mut SiteLedger,
        report: &mut SiteReport,
    ) -> Outcome {
        let now = (self.clock)();
        match self.courier.deliver(plan, ledger, now).await {
            Ok(note) => {
                if let Err(e) = self.save(ledger) {
                    report.error = Some(e.clone());
                    return Outcome::Unrecorded(Unrecorded {
                        state: note,
                        error: e,
                        settle: Settle::NextPlan(format!(
                            "no command records a sent request: the next plan shows these grants as a new request and the next apply sends the message again; if the owner grants them first, run `accessctl request done {}` instead",
                            plan.site
                        )),
                    });
                }
                report.notes.push(note);
                Outcome::Done
            }
            Err(why) => Outcome::Failed(format!("not sent: {why}")),
        }
    }

    fn record(&self, report: &mut SiteReport, change: Change, outcome: Outcome) {
        self.progress.done(&report.site, &change, &outcome);
        let count = self.log.push(ChangeResult { change, outcome });
        if count == 1 && failpoint(&format!("apply-site-panic:{}", report.site)) {
            panic!("failpoint apply-site-panic:{}", report.site);
        }
    }

    /// What a done change (not an invite) left out of the ledger when the
    /// ledger could not be written after it; `None` when it records nothing.
    fn unrecorded(&self, site: &str, change: &Change, error: &str) -> Option<Unrecorded> {
        let email = change.email.clone().unwrap_or_else(|| change.who.clone());
        let (state, settle) = match change.action {
            Action::Link => {
                let account = change.account_id.clone()?;
                (
                    format!("{email} linked to account {account}"),
                    Settle::NextPlan(
                        "a link changes nothing at Wix: the next plan shows it again, and the next apply records it".to_string(),
                    ),
                )
            }
            Action::RevokeInvite => (
                format!(
                    "invite to {email} (invite id {}) revoked at Wix",
                    change.invite_id.as_deref().unwrap_or("?")
                ),
                Settle::NextPlan(
                    "no command records a revoke: the ledger still holds the invite as pending, so the next plan shows this revoke again; apply it once the ledger can be written (Wix answers that the invite is gone, and it is recorded as revoked)".to_string(),
                ),
            ),
            Action::Remove => {
                let account = change.account_id.clone()?;
                (
                    format!("account {account} removed from the site at Wix"),
                    Settle::NextPlan(format!(
                        "no command records a removal: the next plan shows nothing more for it (Wix no longer lists it), but the ledger still lists it under `granted:`, so if it is ever added back by hand the next plan removes it again; delete `- {account}` under `granted:` in {} by hand",
                        ledger::path_for(&self.ledger_dir, site).display()
                    )),
                )
            }
            // A role change writes nothing to the ledger; requests and
            // invites are settled where they are sent.
            Action::ChangeRole
            | Action::Invite
            | Action::Request
            | Action::RequestChange
            | Action::RequestRemoval => return None,
        };
        Some(Unrecorded {
            state,
            error: error.to_string(),
            settle,
        })
    }

    fn save(&self, ledger: &SiteLedger) -> Result<(), String> {
        ledger::save(&self.ledger_dir, ledger, &self.auth).map_err(|e| {
            format!(
                "cannot write the ledger {}: {e}",
                ledger::path_for(&self.ledger_dir, &ledger.site).display()
            )
        })
    }

    /// A link: the ledger learns who a new collaborator is. No Wix call.
    fn link(&self, change: &Change, ledger: &mut SiteLedger) -> Outcome {
        let (Some(email), Some(account)) = (&change.email, &change.account_id) else {
            return Outcome::Failed("a link needs an email and an account".to_string());
        };
        ledger.learn(Identity {
            email: email.clone(),
            account_id: account.clone(),
            source: match change.identity {
                Some(crate::plan::Provenance::Config) => IdentitySource::Config,
                _ => IdentitySource::InviteMatch,
            },
            learned_at: (self.clock)(),
            sig: None,
        });
        if let Some(invite) = ledger
            .invites
            .iter_mut()
            .rev()
            .find(|i| &i.email == email && i.id == change.invite_id)
        {
            invite.state = InviteState::Accepted;
            invite.account_id = Some(account.clone());
        }
        ledger.mark_granted(account);
        Outcome::Done
    }

    /// The site's Wix changes, carried out by the Wix provider with the
    /// ledger kept through its journal ([`SiteJournal`]). Returns why the
    /// site stops, when a change did not take effect.
    async fn wix(
        &self,
        access: &SiteAccess,
        block: &[Change],
        existing_accounts: &[String],
        ledger: &mut SiteLedger,
        report: &mut SiteReport,
    ) -> Option<String> {
        let Some(core) = block
            .iter()
            .map(Change::to_core)
            .collect::<Option<Vec<_>>>()
        else {
            let why = "internal: a change the Wix provider cannot carry out".to_string();
            for change in block {
                self.record(report, change.clone(), Outcome::Failed(why.clone()));
            }
            return Some(why);
        };
        let target = Target {
            platform: Platform::Wix,
            id: access.site_id.clone(),
            credentials_env: None,
            managed_children: Default::default(),
        };
        let provider =
            WixProvider::new(self.client.clone(), access.clone()).counting(self.log.calls.clone());
        let journal = SiteJournal {
            run: self,
            plan: block,
            existing_accounts,
            books: Mutex::new(Books {
                ledger,
                report,
                intent: None,
            }),
        };
        // The journal has recorded each outcome; a change that did not
        // take effect stops what follows.
        provider
            .apply(&target, &core, &journal)
            .await
            .into_iter()
            .find_map(|o| match o {
                platform::Outcome::Done | platform::Outcome::Refused(_) => None,
                platform::Outcome::Skipped(why) => Some(why),
                platform::Outcome::Failed(why) | platform::Outcome::Unknown(why) => {
                    Some(format!("an earlier change failed: {why}"))
                }
            })
    }
}

/// The ledger and report of a site while the Wix provider applies its
/// changes: invites are written as `unknown` before they are sent
/// ([`Journal::intend`]) and settled from Wix's answer; revokes and
/// removals are recorded once done; the ledger is saved after every call.
struct SiteJournal<'a> {
    run: &'a SiteRun,
    /// The plan's changes, in the order given to the provider.
    plan: &'a [Change],
    existing_accounts: &'a [String],
    books: Mutex<Books<'a>>,
}

struct Books<'a> {
    ledger: &'a mut SiteLedger,
    report: &'a mut SiteReport,
    /// Where the records of the invite batch in flight start.
    intent: Option<usize>,
}

impl Journal for SiteJournal<'_> {
    fn intend(&self, batch: &[(usize, &platform::Change)]) -> Result<(), String> {
        let mut books = self.books.lock().unwrap_or_else(PoisonError::into_inner);
        let sent_at = (self.run.clock)();
        let start = books.ledger.invites.len();
        for (index, change) in batch {
            let plan = &self.plan[*index];
            books.ledger.invites.push(InviteRecord {
                id: None,
                email: change.who.email().unwrap_or_default().to_string(),
                role_ids: plan.role_ids_after(),
                role_titles: plan.roles_after.iter().map(|r| r.title.clone()).collect(),
                sent_at,
                expires_at: sent_at + Duration::days(INVITE_LIFETIME_DAYS),
                state: InviteState::Unknown,
                account_id: None,
                existing_accounts: self.existing_accounts.to_vec(),
                sig: None,
            });
        }
        if let Err(e) = self.run.save(books.ledger) {
            // Nothing is sent, and the ledger on disk is as it was.
            books.ledger.invites.truncate(start);
            books.report.error = Some(e.clone());
            return Err(e);
        }
        books.intent = Some(start);
        Ok(())
    }

    fn settled(&self, results: &[Settled<'_>]) -> Result<(), String> {
        let mut guard = self.books.lock().unwrap_or_else(PoisonError::into_inner);
        let books = &mut *guard;
        let intent = books.intent.take();
        let ledger = &mut *books.ledger;
        // Records of invites that were not sent, to be dropped.
        let mut unsent = Vec::new();
        for r in results {
            if let Some(at) = record_result(ledger, intent, &self.plan[r.index], r) {
                unsent.push(at);
            }
        }
        let sent_ids: Vec<Option<String>> = results
            .iter()
            .map(|r| r.receipt.as_ref().map(|receipt| receipt.handle.clone()))
            .collect();
        unsent.sort_unstable();
        for at in unsent.into_iter().rev() {
            ledger.invites.remove(at);
        }
        // Saved after every call made, even one that records nothing (a
        // role change), so a ledger that cannot be written stops the site
        // before its next change; not for changes never sent (skipped, or
        // invites whose intent could not be written).
        let called = results.iter().any(|r| {
            !matches!(r.outcome, platform::Outcome::Skipped(_))
                && (self.plan[r.index].action != Action::Invite || intent.is_some())
        });
        let saved = if called {
            self.run.save(ledger)
        } else {
            Ok(())
        };
        let site = books.report.site.clone();
        for (r, sent_id) in results.iter().zip(sent_ids) {
            let change = &self.plan[r.index];
            let mut outcome = Outcome::from(&r.outcome);
            if let Err(e) = &saved {
                outcome = if change.action == Action::Invite {
                    // The ledger on disk holds the invite as `unknown`
                    // (written before the call).
                    let email = r.change.who.email().unwrap_or_default();
                    unrecorded_invite(email, sent_id, outcome, e)
                } else {
                    match self.run.unrecorded(&site, change, e) {
                        Some(unrecorded) if outcome == Outcome::Done => {
                            Outcome::Unrecorded(unrecorded)
                        }
                        _ => outcome,
                    }
                };
            }
            self.run.record(books.report, change.clone(), outcome);
        }
        saved.map_err(|e| {
            books.report.error = Some(e);
            LEDGER_STOP.to_string()
        })
    }
}

/// Records in `ledger` what one of the Wix provider's results did: an
/// invite settled from Wix's answer (its records start at `intent`), a
/// revoke or a removal once done. Returns the index of an invite record to
/// drop, when the invite was not sent.
fn record_result(
    ledger: &mut SiteLedger,
    intent: Option<usize>,
    change: &Change,
    r: &Settled<'_>,
) -> Option<usize> {
    match (change.action, &r.outcome) {
        (Action::Invite, outcome) => {
            let email = r.change.who.email()?;
            let start = intent?;
            let at = (start..ledger.invites.len()).find(|&k| ledger.invites[k].email == email)?;
            let record = &mut ledger.invites[at];
            match outcome {
                platform::Outcome::Done => {
                    if let Some(receipt) = &r.receipt {
                        record.id = Some(receipt.handle.clone());
                        record.state = InviteState::Pending;
                        record.sent_at = receipt.sent_at.unwrap_or(record.sent_at);
                        record.expires_at = receipt.expires_at.unwrap_or(record.expires_at);
                    }
                }
                platform::Outcome::Refused(_) => record.state = InviteState::Failed,
                // What the ledger already says.
                platform::Outcome::Unknown(_) => {}
                platform::Outcome::Failed(_) | platform::Outcome::Skipped(_) => return Some(at),
            }
        }
        (Action::RevokeInvite, platform::Outcome::Done) => {
            if let Some(invite) = ledger
                .invites
                .iter_mut()
                .find(|i| i.id.is_some() && i.id == r.change.handle)
            {
                invite.state = InviteState::Revoked;
            }
        }
        (Action::Remove, platform::Outcome::Done) => {
            if let Some(account) = &change.account_id {
                ledger.forget_granted(account);
            }
        }
        _ => {}
    }
    None
}

impl From<&platform::Outcome> for Outcome {
    fn from(outcome: &platform::Outcome) -> Self {
        match outcome {
            platform::Outcome::Done => Outcome::Done,
            platform::Outcome::Refused(why) => Outcome::Refused(why.clone()),
            platform::Outcome::Failed(why) => Outcome::Failed(why.clone()),
            platform::Outcome::Unknown(why) => Outcome::Unknown(why.clone()),
            platform::Outcome::Skipped(why) => Outcome::Skipped(why.clone()),
        }
    }
}

/// Why a site stops after its ledger could not be written.
const LEDGER_STOP: &str = "the ledger could not be written, so the site stopped";

/// How an invite's outcome reads when the ledger, which holds it as
/// `unknown`, could not be updated after Wix answered.
fn unrecorded_invite(email: &str, id: Option<String>, outcome: Outcome, error: &str) -> Outcome {
    let email = email.to_string();
    let (state, settle) = match outcome {
        Outcome::Done => (
            format!(
                "invite to {email} sent (invite id {})",
                id.as_deref().unwrap_or("?")
            ),
            Settle::InviteSent { email },
        ),
        Outcome::Refused(why) => (
            format!("invite to {email} not sent: {why}"),
            Settle::InviteNotSent { email },
        ),
        Outcome::Failed(why) => (
            format!("invite to {email} not sent: Wix refused the call: {why}"),
            Settle::InviteNotSent { email },
        ),
        // `unknown` is what the ledger already says.
        other => return other,
    };
    Outcome::Unrecorded(Unrecorded {
        state,
        error: error.to_string(),
        settle,
    })
}
