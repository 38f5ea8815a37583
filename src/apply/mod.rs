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

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use time::{Duration, OffsetDateTime};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::ledger::{
    self, INVITE_LIFETIME_DAYS, Identity, IdentitySource, InviteRecord, InviteState, SiteLedger,
};
use crate::plan::{Action, Change, SitePlan};
use crate::providers::wix::endpoints::MAX_INVITES_PER_CALL;
use crate::providers::wix::{ErrorKind, SiteAccess, WixClient, WixError};
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
    /// A problem with the site as a whole (ledger write failed, no key).
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
        for item in work {
            let semaphore = semaphore.clone();
            let site = SiteRun {
                client: self.client.clone(),
                ledger_dir: self.ledger_dir.clone(),
                auth: self.auth.clone(),
                clock: self.clock.clone(),
                progress: self.progress.clone(),
                courier: self.courier.clone(),
            };
            tasks.spawn(async move {
                let _permit = semaphore.acquire_owned().await;
                site.apply(item).await
            });
        }
        let mut reports = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(report) => reports.push(report),
                Err(e) => reports.push(SiteReport {
                    site: "?".to_string(),
                    results: Vec::new(),
                    calls: 0,
                    error: Some(format!("a site task failed: {e}")),
                    notes: Vec::new(),
                }),
            }
        }
        reports.sort_by(|a, b| a.site.cmp(&b.site));
        reports
    }
}

struct SiteRun {
    client: WixClient,
    ledger_dir: PathBuf,
    auth: ledger::Auth,
    clock: Clock,
    progress: Arc<dyn Progress>,
    courier: Arc<Courier>,
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
            if change.action == Action::Request {
                // All requests of the site form the last block of the plan
                // and go out as one message.
                let end = changes[i..]
                    .iter()
                    .position(|c| c.action != Action::Request)
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
            let outcome = self.single(access, change, &mut ledger, &mut report).await;
            if let Err(e) = self.save(&ledger) {
                report.error = Some(e);
                stopped = Some("the ledger could not be written".to_string());
            }
            if let Outcome::Failed(why) | Outcome::Unknown(why) = &outcome {
                stopped = Some(format!("an earlier change failed: {why}"));
            }
            self.record(&mut report, change.clone(), outcome);
            i += 1;
        }
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
                    // It went out but is not recorded: the next apply sends
                    // it again unless the ledger is fixed.
                    report.error = Some(format!(
                        "{e}; the {note}, but it is not recorded, so the next apply sends it again"
                    ));
                    return Outcome::Failed("the ledger could not be written".to_string());
                }
                report.notes.push(note);
                Outcome::Done
            }
            Err(why) => Outcome::Failed(format!("not sent: {why}")),
        }
    }

    fn record(&self, report: &mut SiteReport, change: Change, outcome: Outcome) {
        self.progress.done(&report.site, &change, &outcome);
        report.results.push(ChangeResult { change, outcome });
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
        report: &mut SiteReport,
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
                report.calls += 1;
                match self.client.revoke_invite(access, id).await {
                    // 404: Wix no longer holds it open (accepted, expired or
                    // revoked elsewhere); either way it is not pending.
                    Ok(())
                    | Err(WixError {
                        kind: ErrorKind::Status { status: 404, .. },
                        ..
                    }) => {
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
                report.calls += 1;
                match self.client.change_role(access, account, &ids).await {
                    Ok(()) => Outcome::Done,
                    Err(e) => failure(e),
                }
            }
            Action::Remove => {
                let Some(account) = &change.account_id else {
                    return Outcome::Failed("no account id".to_string());
                };
                report.calls += 1;
                match self.client.remove_contributor(access, account).await {
                    Ok(()) => {
                        ledger.forget_granted(account);
                        Outcome::Done
                    }
                    Err(e) => failure(e),
                }
            }
            Action::Invite | Action::Request => {
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
                self.save(ledger)?;
                report.calls += 1;
                let result = self.client.bulk_invite(access, &ids, &emails).await;
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
                self.save(ledger)?;
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

fn failure(e: WixError) -> Outcome {
    // Role changes, revokes and removals are safe to repeat: the next plan
    // reads live state and shows whether they took effect.
    Outcome::Failed(e.to_string())
}
