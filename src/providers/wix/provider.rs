//! One Wix site behind the core's [`Provider`]: it reads the site's
//! collaborators as bindings and carries out the core's changes as Wix
//! calls. An add is an invite (Bulk Invite, one call per role set and at
//! most [`MAX_INVITES_PER_CALL`] emails), an update replaces a
//! collaborator's role set, a removal removes a collaborator (by account
//! id) or revokes an invite (by email, the invite's id as its handle).
//!
//! Wix cannot list the invites it holds, so what an invite call did must be
//! recorded by the caller: the [`Journal`] hears each batch before it is
//! sent (`intend`) and how it ended, with each invite's id and dates as a
//! [`Receipt`]. The site stops at its first failed call (a revoke that
//! failed must not be followed by the re-invite); the changes after it are
//! skipped.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::endpoints::MAX_INVITES_PER_CALL;
use super::{CAPABILITIES, SiteAccess, WixClient};
use crate::email;
use crate::platform::{
    Access, Binding, BoxFuture, Capabilities, Change, ChangeKind, Journal, Lifecycle, Outcome,
    Platform, Provider, ProviderError, Receipt, Settled, Target, TargetState, Who,
};
use crate::state::LiveSite;

/// A Wix site, its key, and the run's shared client.
pub struct WixProvider {
    client: WixClient,
    access: SiteAccess,
    /// Calls made to Wix, for the apply report.
    calls: Arc<AtomicUsize>,
}

impl WixProvider {
    pub fn new(client: WixClient, access: SiteAccess) -> Self {
        WixProvider {
            client,
            access,
            calls: Arc::default(),
        }
    }

    /// Counts its calls in `calls` (shared with the caller).
    pub fn counting(mut self, calls: Arc<AtomicUsize>) -> Self {
        self.calls = calls;
        self
    }

    fn call(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }

    fn check(&self, target: &Target) -> Result<(), String> {
        if target.platform == Platform::Wix && target.id == self.access.site_id {
            Ok(())
        } else {
            Err(format!(
                "internal: the provider for Wix site {} was given {} {}",
                self.access.site_key, target.platform, target.id
            ))
        }
    }

    /// Carries out `changes` in order, invites batched.
    async fn apply_site(&self, changes: &[Change], journal: &dyn Journal) -> Vec<Outcome> {
        let mut run = Run {
            changes,
            journal,
            outcomes: vec![None; changes.len()],
            stopped: None,
        };
        let mut i = 0;
        while i < changes.len() {
            if changes[i].kind == ChangeKind::Add {
                let end = changes[i..]
                    .iter()
                    .position(|c| c.kind != ChangeKind::Add)
                    .map_or(changes.len(), |p| i + p);
                self.invite(i..end, &mut run).await;
                i = end;
                continue;
            }
            let outcome = match &run.stopped {
                Some(why) => Outcome::Skipped(why.clone()),
                None => self.single(&changes[i]).await,
            };
            if let Outcome::Failed(why) | Outcome::Unknown(why) = &outcome {
                run.stop(format!("an earlier change failed: {why}"));
            }
            run.settle(vec![(i, outcome, None)]);
            i += 1;
        }
        run.outcomes
            .into_iter()
            .map(|o| o.unwrap_or_else(|| Outcome::Skipped("internal: never settled".into())))
            .collect()
    }

    /// An update or a removal: one call. Safe to repeat, so a failure is a
    /// failure whatever the answer: the next plan reads the site again.
    async fn single(&self, change: &Change) -> Outcome {
        let site = &self.access;
        let result = match (change.kind, &change.who) {
            (ChangeKind::Update, Who::PlatformId(account)) => {
                let ids: Vec<String> = change
                    .to
                    .as_ref()
                    .map(|a| a.roles.iter().cloned().collect())
                    .unwrap_or_default();
                self.call();
                self.client.change_role(site, account, &ids).await.map(drop)
            }
            (ChangeKind::Remove, Who::PlatformId(account)) => {
                self.call();
                self.client
                    .remove_contributor(site, account)
                    .await
                    .map(drop)
            }
            (ChangeKind::Remove, Who::Email(_)) => {
                let Some(id) = &change.handle else {
                    return Outcome::Failed("no invite id recorded".to_string());
                };
                self.call();
                // Revoked now, or Wix's NOT_FOUND: it no longer holds the
                // invite open (accepted, expired or revoked elsewhere);
                // either way it is not pending.
                self.client.revoke_invite(site, id).await.map(drop)
            }
            (ChangeKind::Update, Who::Email(_)) => {
                return Outcome::Failed(
                    "Wix cannot change an invite's roles; it is revoked and sent again".to_string(),
                );
            }
            (ChangeKind::Add, _) => {
                return Outcome::Failed("internal: invites are sent in batches".to_string());
            }
        };
        match result {
            Ok(()) => Outcome::Done,
            Err(e) => Outcome::Failed(e.to_string()),
        }
    }

    /// A block of adds: one Bulk Invite per role set and chunk. The journal
    /// hears each chunk before it is sent; a failed call stops the site.
    async fn invite(&self, block: std::ops::Range<usize>, run: &mut Run<'_>) {
        let changes = run.changes;
        let mut batches: BTreeMap<Vec<String>, Vec<usize>> = BTreeMap::new();
        for i in block {
            let ids = changes[i]
                .to
                .as_ref()
                .map(|a| a.roles.iter().cloned().collect())
                .unwrap_or_default();
            batches.entry(ids).or_default().push(i);
        }
        for (ids, indices) in batches {
            for chunk in indices.chunks(MAX_INVITES_PER_CALL) {
                if let Some(why) = run.stopped.clone() {
                    run.settle(
                        chunk
                            .iter()
                            .map(|&i| (i, Outcome::Skipped(why.clone()), None))
                            .collect(),
                    );
                    continue;
                }
                // The core adds by email on Wix; a principal known by its
                // account id alone has nothing to invite.
                let (chunk, no_email): (Vec<usize>, Vec<usize>) = chunk
                    .iter()
                    .partition(|&&i| changes[i].who.email().is_some());
                if !no_email.is_empty() {
                    let why = "an invite needs an email".to_string();
                    run.settle(
                        no_email
                            .into_iter()
                            .map(|i| (i, Outcome::Failed(why.clone()), None))
                            .collect(),
                    );
                }
                let emails: Vec<String> = chunk
                    .iter()
                    .filter_map(|&i| changes[i].who.email().map(str::to_string))
                    .collect();
                if emails.is_empty() {
                    continue;
                }
                // Intent first: if we die after sending, the next plan sees
                // the invites as `unknown` instead of silently sending again.
                let batch: Vec<(usize, &Change)> =
                    chunk.iter().map(|&i| (i, &changes[i])).collect();
                if let Err(why) = run.journal.intend(&batch) {
                    run.stop(why.clone());
                    run.settle(
                        chunk
                            .iter()
                            .map(|&i| (i, Outcome::Failed(format!("not sent: {why}")), None))
                            .collect(),
                    );
                    continue;
                }
                crate::failpoint::crash("after-intent-save");
                self.call();
                let result = self.client.bulk_invite(&self.access, &ids, &emails).await;
                crate::failpoint::crash("after-invite-call");
                let settled = match result {
                    Ok(answer) => chunk
                        .iter()
                        .zip(&emails)
                        .map(|(&i, address)| {
                            if let Some(sent) =
                                answer.invites.iter().find(|s| email::same(&s.email, address))
                            {
                                let receipt = Receipt {
                                    handle: sent.id.clone(),
                                    sent_at: sent.sent_at,
                                    expires_at: sent.expires_at,
                                };
                                (i, Outcome::Done, Some(receipt))
                            } else if answer.failed_emails.iter().any(|f| email::same(f, address)) {
                                let why = "Wix listed the email in failedEmails (often the site's collaborator seat limit)";
                                (i, Outcome::Refused(why.to_string()), None)
                            } else {
                                let why = "Wix answered without an invite or a failure for this email";
                                (i, Outcome::Unknown(why.to_string()), None)
                            }
                        })
                        .collect(),
                    Err(e) => {
                        let why = e.to_string();
                        run.stop(format!("an earlier invite call failed: {why}"));
                        let outcome = if e.outcome_unknown() {
                            Outcome::Unknown(why)
                        } else {
                            // Wix refused the call outright: nothing was sent.
                            Outcome::Failed(why)
                        };
                        chunk.iter().map(|&i| (i, outcome.clone(), None)).collect()
                    }
                };
                run.settle(settled);
            }
        }
    }
}

/// Outcomes of one apply, told to the journal a call at a time.
struct Run<'a> {
    changes: &'a [Change],
    journal: &'a dyn Journal,
    outcomes: Vec<Option<Outcome>>,
    /// Why the site stopped: every change not yet made is skipped.
    stopped: Option<String>,
}

impl Run<'_> {
    fn stop(&mut self, why: String) {
        self.stopped.get_or_insert(why);
    }

    fn settle(&mut self, results: Vec<(usize, Outcome, Option<Receipt>)>) {
        let told: Vec<Settled<'_>> = results
            .iter()
            .map(|(index, outcome, receipt)| Settled {
                index: *index,
                change: &self.changes[*index],
                outcome: outcome.clone(),
                receipt: receipt.clone(),
            })
            .collect();
        if let Err(why) = self.journal.settled(&told) {
            self.stop(why);
        }
        for (index, outcome, _) in results {
            self.outcomes[index] = Some(outcome);
        }
    }
}

/// The site's collaborators as the core's bindings: each (the owners aside,
/// whom nothing changes) by its account id, holding its role ids. Invites
/// are not among them: Wix cannot list them (the planner adds the ones its
/// ledger holds).
pub fn bindings(live: &LiveSite) -> Vec<Binding> {
    live.contributors
        .iter()
        .filter(|(account, _)| !live.owners.contains(*account))
        .map(|(account, roles)| Binding {
            email: None,
            platform_id: Some(account.clone()),
            access: Access::roles(roles.iter()),
            lifecycle: Lifecycle::Active,
            // Changed and removed by its id, the principal's key.
            handle: None,
        })
        .collect()
}

impl Provider for WixProvider {
    fn platform(&self) -> Platform {
        Platform::Wix
    }

    fn capabilities(&self) -> &Capabilities {
        &CAPABILITIES
    }

    /// An API key acts for its Wix account, which no email names.
    fn self_email(&self) -> Option<&str> {
        None
    }

    fn observe<'a>(
        &'a self,
        target: &'a Target,
    ) -> BoxFuture<'a, Result<TargetState, ProviderError>> {
        Box::pin(async move {
            self.check(target).map_err(ProviderError::new)?;
            let live = self
                .client
                .read_site(&self.access)
                .await
                .map_err(|e| ProviderError::new(e.to_string()))?;
            Ok(TargetState {
                bindings: bindings(&live),
                children: Default::default(),
            })
        })
    }

    fn apply<'a>(
        &'a self,
        target: &'a Target,
        changes: &'a [Change],
        journal: &'a dyn Journal,
    ) -> BoxFuture<'a, Vec<Outcome>> {
        Box::pin(async move {
            if let Err(why) = self.check(target) {
                let results: Vec<Settled<'_>> = changes
                    .iter()
                    .enumerate()
                    .map(|(index, change)| Settled {
                        index,
                        change,
                        outcome: Outcome::Failed(why.clone()),
                        receipt: None,
                    })
                    .collect();
                // Nothing was sent, so nothing follows to stop.
                let _ = journal.settled(&results);
                return results.into_iter().map(|r| r.outcome).collect();
            }
            self.apply_site(changes, journal).await
        })
    }
}
