//! Carrying out a plan: exactly its changes, in its order, recording each in
//! the ledger as soon as it is done.
//!
//! Per site the plan is already ordered (links, revokes, invites, role
//! changes, removals last). Invites are sent as Bulk Invite calls, one per
//! distinct role set and at most 50 emails each. Before a Bulk Invite is sent
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
use crate::providers::wix::endpoints::MAX_INVITES_PER_CALL;
use crate::providers::wix::{SiteAccess, WixClient, WixError};
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
struct ResultLog(Arc<(Mutex<Vec<ChangeResult>>, AtomicUsize)>);

impl ResultLog {
    /// Adds a result; returns how many there are now.
    fn push(&self, result: ChangeResult) -> usize {
        let mut results = self.0.0.lock().unwrap_or_else(PoisonError::into_inner);
        results.push(result);
        results.len()
    }

    fn take(&self) -> Vec<ChangeResult> {
        std::mem::take(&mut *self.0.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Counts a call to Wix.
    fn call(&self) {
        self.0.1.fetch_add(1, Ordering::Relaxed);
    }

    fn calls(&self) -> usize {
        self.0.1.load(Ordering::Relaxed)
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
            let Some(access) = &access else {
                let why = "no API key for this site".to_string();
                self.record(&mut report, change.clone(), Outcome::Failed(why.clone()));
                stopped = Some(why);
                i += 1;
                continue;
            };
            if change.action == Action::Invite {
                // All invites of the site form one block in the plan's order;
                // they go out batched by role set.
                let end = changes[i..]
                    .iter()
                    .position(|c| c.action != Action::Invite)
                    .map_or(changes.len(), |p| i + p);
                let block = &changes[i..end];
                if let Err(why) = self
                    .invite(access, block, &existing_accounts, &mut ledger, &mut report)
                    .await
                {
                    stopped = Some(why);
                }
                i = end;
                continue;
            }
            let mut outcome = self.single(access, change, &mut ledger).await;
            if let Outcome::Failed(why) | Outcome::Unknown(why) = &outcome {
                stopped = Some(format!("an earlier change failed: {why}"));
            }
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

    /// Every change but invites: one call (or none), then the ledger update.
    async fn single(
        &self,
        access: &SiteAccess,
        change: &Change,
        ledger: &mut SiteLedger,
    ) -> Outcome {
        let now = (self.clock)();
        match change.action {
            Action::Link => {
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
                    learned_at: now,
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
            Action::RevokeInvite => {
                let Some(id) = &change.invite_id else {
                    return Outcome::Failed("no invite id recorded".to_string());
                };
                self.log.call();
                match self.client.revoke_invite(access, id).await {
                    // Revoked now, or Wix's NOT_FOUND: it no longer holds
                    // the invite open (accepted, expired or revoked
                    // elsewhere); either way it is not pending.
                    Ok(_) => {
                        if let Some(invite) = ledger
                            .invites
                            .iter_mut()
                            .find(|i| i.id.as_ref() == Some(id))
                        {
                            invite.state = InviteState::Revoked;
                        }
                        Outcome::Done
                    }
                    Err(e) => failure(e),
                }
            }
            Action::ChangeRole => {
                let Some(account) = &change.account_id else {
                    return Outcome::Failed("no account id".to_string());
                };
                let ids = change.role_ids_after();
                self.log.call();
                match self.client.change_role(access, account, &ids).await {
                    Ok(_) => Outcome::Done,
                    Err(e) => failure(e),
                }
            }
            Action::Remove => {
                let Some(account) = &change.account_id else {
                    return Outcome::Failed("no account id".to_string());
                };
                self.log.call();
                match self.client.remove_contributor(access, account).await {
                    Ok(_) => {
                        ledger.forget_granted(account);
                        Outcome::Done
                    }
                    Err(e) => failure(e),
                }
            }
            Action::Invite | Action::Request | Action::RequestChange | Action::RequestRemoval => {
                Outcome::Failed("internal: handled elsewhere".to_string())
            }
        }
    }

    /// Send a block of invites: one Bulk Invite per role set, ≤ 50 emails.
    /// Returns `Err` (why the site stops) when a call failed.
    async fn invite(
        &self,
        access: &SiteAccess,
        block: &[Change],
        existing_accounts: &[String],
        ledger: &mut SiteLedger,
        report: &mut SiteReport,
    ) -> Result<(), String> {
        let mut batches: BTreeMap<Vec<String>, Vec<&Change>> = BTreeMap::new();
        for change in block {
            batches
                .entry(change.role_ids_after())
                .or_default()
                .push(change);
        }
        let mut stop: Option<String> = None;
        for (ids, changes) in batches {
            for chunk in changes.chunks(MAX_INVITES_PER_CALL) {
                if let Some(why) = &stop {
                    for c in chunk {
                        self.record(report, (*c).clone(), Outcome::Skipped(why.clone()));
                    }
                    continue;
                }
                let emails: Vec<String> = chunk.iter().filter_map(|c| c.email.clone()).collect();
                let titles: Vec<String> = chunk
                    .first()
                    .map(|c| c.roles_after.iter().map(|r| r.title.clone()).collect())
                    .unwrap_or_default();
                // Intent first: if we die after sending, the next plan sees
                // `unknown` instead of silently inviting again.
                let sent_at = (self.clock)();
                let start = ledger.invites.len();
                for email in &emails {
                    ledger.invites.push(InviteRecord {
                        id: None,
                        email: email.clone(),
                        role_ids: ids.clone(),
                        role_titles: titles.clone(),
                        sent_at,
                        expires_at: sent_at + Duration::days(INVITE_LIFETIME_DAYS),
                        state: InviteState::Unknown,
                        account_id: None,
                        existing_accounts: existing_accounts.to_vec(),
                        sig: None,
                    });
                }
                if let Err(e) = self.save(ledger) {
                    // Nothing was sent, and the ledger on disk is as it was.
                    ledger.invites.truncate(start);
                    report.error = Some(e.clone());
                    stop = Some(LEDGER_STOP.to_string());
                    for c in chunk {
                        self.record(
                            report,
                            (*c).clone(),
                            Outcome::Failed(format!("not sent: {e}")),
                        );
                    }
                    continue;
                }
                crate::failpoint::crash("after-intent-save");
                self.log.call();
                let result = self.client.bulk_invite(access, &ids, &emails).await;
                crate::failpoint::crash("after-invite-call");
                let outcomes: Vec<Outcome> = match result {
                    Ok(outcome) => {
                        for record in &mut ledger.invites[start..] {
                            if let Some(sent) =
                                outcome.invites.iter().find(|i| i.email == record.email)
                            {
                                record.id = Some(sent.id.clone());
                                record.state = InviteState::Pending;
                                if let Some(t) = sent.sent_at {
                                    record.sent_at = t;
                                }
                                if let Some(t) = sent.expires_at {
                                    record.expires_at = t;
                                }
                            } else if outcome.failed_emails.contains(&record.email) {
                                record.state = InviteState::Failed;
                            }
                        }
                        emails
                            .iter()
                            .map(|email| {
                                let record = ledger.invites[start..].iter().find(|r| &r.email == email);
                                match record.map(|r| r.state) {
                                    Some(InviteState::Pending) => Outcome::Done,
                                    Some(InviteState::Failed) => Outcome::Refused(
                                        "Wix listed the email in failedEmails (often the site's collaborator seat limit)".to_string(),
                                    ),
                                    _ => Outcome::Unknown(
                                        "Wix answered without an invite or a failure for this email".to_string(),
                                    ),
                                }
                            })
                            .collect()
                    }
                    Err(e) if e.outcome_unknown() => {
                        let why = e.to_string();
                        stop = Some(format!("an earlier invite call failed: {why}"));
                        emails
                            .iter()
                            .map(|_| Outcome::Unknown(why.clone()))
                            .collect()
                    }
                    Err(e) => {
                        // Wix refused the call outright: nothing was sent.
                        ledger.invites.truncate(start);
                        let why = e.to_string();
                        stop = Some(format!("an earlier invite call failed: {why}"));
                        emails
                            .iter()
                            .map(|_| Outcome::Failed(why.clone()))
                            .collect()
                    }
                };
                let outcomes = match self.save(ledger) {
                    Ok(()) => outcomes,
                    Err(e) => {
                        // The ledger on disk holds these emails as `unknown`
                        // (written before the call).
                        report.error = Some(e.clone());
                        stop = Some(LEDGER_STOP.to_string());
                        emails
                            .iter()
                            .zip(outcomes)
                            .map(|(email, outcome)| {
                                let sent_id = ledger.invites[start..]
                                    .iter()
                                    .find(|r| &r.email == email)
                                    .and_then(|r| r.id.clone());
                                unrecorded_invite(email, sent_id, outcome, &e)
                            })
                            .collect()
                    }
                };
                for (c, outcome) in chunk.iter().zip(outcomes) {
                    self.record(report, (*c).clone(), outcome);
                }
            }
        }
        match stop {
            Some(why) => Err(why),
            None => Ok(()),
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

fn failure(e: WixError) -> Outcome {
    // Role changes, revokes and removals are safe to repeat: the next plan
    // reads live state and shows whether they took effect.
    Outcome::Failed(e.to_string())
}
