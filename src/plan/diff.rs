//! The diff: desired access (config) against observed access (provider and
//! ledger), giving one site's plan.
//!
//! Pure and deterministic: no I/O, no clock reads (the caller passes `now`),
//! and every collection that reaches the output is sorted. The rules are
//! DESIGN.md's "Plan semantics per target"; each is commented where it is
//! applied.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::hex::encode as hex;
use crate::ledger::{InviteRecord, InviteState, SiteLedger, Trust};
use crate::model::{Config, PeopleIndex, Principal, RoleName, Site};
use crate::plan::request;
use crate::plan::{Action, Change, Listing, Mode, Pending, Provenance, Role, SitePlan, rfc3339};
use crate::platform::identity::{self, Finding, IdentityBook, Invitation, Known, Stranger};
use crate::roles;
use crate::state::LiveSite;

/// What the provider could tell about a site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    /// Read over the API.
    Live(LiveSite),
    /// No API key: nothing can be read; the owner is asked instead.
    RequestMode,
    /// Reading failed; the message says why.
    Failed(String),
}

/// One desired principal after merging all its grants on the site.
#[derive(Debug, Clone)]
struct Want<'a> {
    label: String,
    email: Option<&'a str>,
    account: Option<&'a str>,
    roles: Vec<RoleName>,
}

pub fn plan_site(
    config: &Config,
    site: &Site,
    observation: &Observation,
    ledger: &SiteLedger,
    now: OffsetDateTime,
) -> SitePlan {
    let mut plan = SitePlan {
        site: site.key.clone(),
        site_id: site.wix.site_id.clone(),
        mode: if site.is_request_mode() {
            Mode::Request
        } else {
            Mode::Managed
        },
        fingerprint: None,
        collaborators: 0,
        changes: Vec::new(),
        pending: Vec::new(),
        warnings: Vec::new(),
        errors: Vec::new(),
        before: Default::default(),
        after: Default::default(),
        request: None,
        targets: Vec::new(),
    };
    let wants = desired(config, site, now);
    warn_expiring(config, site, now, &mut plan);
    match observation {
        Observation::Failed(message) => plan.errors.push(message.clone()),
        Observation::RequestMode => plan_requests(config, site, &wants, ledger, now, &mut plan),
        Observation::Live(live) => {
            plan.fingerprint = Some(fingerprint(live, ledger));
            plan.collaborators = live.contributors.len();
            Planner::new(config, site, live, ledger, now).run(&wants, &mut plan);
        }
    }
    for record in ledger.untrusted.describe() {
        plan.warnings.push(format!(
            "ledger record not used: {record}: its signature does not verify with this job's ledger key, so it was not written by accessctl's apply or was edited since; if it is right, name the account in the config (`wix_account_id`), or have a maintainer re-sign reviewed records with `accessctl ledger-sign {}`; otherwise delete it from the ledger",
            site.key
        ));
    }
    plan.changes
        .sort_by(|a, b| (a.action, &a.who).cmp(&(b.action, &b.who)));
    plan
}

/// Grants that end within `safety.expiry_warning_days` are worth a look
/// before they lapse.
fn warn_expiring(config: &Config, site: &Site, now: OffsetDateTime, plan: &mut SitePlan) {
    let today = now.date();
    let window = i64::from(config.safety.expiry_warning_days);
    for grant in &site.grants {
        let Some(until) = grant.until else { continue };
        let days = (until - today).whole_days();
        if (0..=window).contains(&days) {
            let roles: Vec<&str> = grant.roles.iter().map(|r| &*r.name).collect();
            let when = match days {
                0 => "today".to_string(),
                1 => "tomorrow".to_string(),
                n => format!("in {n} days"),
            };
            plan.warnings.push(format!(
                "the grant of {} to `{}` ends on {until} ({when}); extend `until` to keep it",
                roles.join(", "),
                config.label_of(&grant.principal)
            ));
        }
    }
}

/// Grants still in force, merged per principal. A person and a bare
/// `email:`/`wix_account_id:` grant naming the same identity become one.
fn desired<'a>(config: &'a Config, site: &'a Site, now: OffsetDateTime) -> Vec<Want<'a>> {
    let today = now.date();
    let mut by_principal: BTreeMap<Principal, Want> = BTreeMap::new();
    for grant in &site.grants {
        // `until` is the last day of access: expired once today is past it.
        if grant.until.is_some_and(|until| until < today) {
            continue;
        }
        let (email, account) = config.identity_of(&grant.principal);
        let want = by_principal
            .entry(grant.principal.clone())
            .or_insert_with(|| Want {
                label: config.label_of(&grant.principal),
                email,
                account,
                roles: Vec::new(),
            });
        want.roles.extend(grant.roles.iter().cloned());
    }
    let mut merged: Vec<Want> = Vec::new();
    for want in by_principal.into_values() {
        let same = merged.iter_mut().find(|m| {
            (want.email.is_some() && m.email == want.email)
                || (want.account.is_some() && m.account == want.account)
        });
        match same {
            Some(m) => {
                m.roles.extend(want.roles);
                m.email = m.email.take().or(want.email);
                m.account = m.account.take().or(want.account);
            }
            None => merged.push(want),
        }
    }
    merged.sort_by(|a, b| a.label.cmp(&b.label));
    merged
}

/// Request mode: see `plan::request`.
fn plan_requests(
    config: &Config,
    site: &Site,
    wants: &[Want],
    ledger: &SiteLedger,
    now: OffsetDateTime,
    plan: &mut SitePlan,
) {
    let wanted: Vec<request::Wanted<'_>> = wants
        .iter()
        .map(|w| request::Wanted {
            label: &w.label,
            email: w.email,
            account: w.account,
            roles: &w.roles,
        })
        .collect();
    request::plan_requests(config, site, &wanted, ledger, now, plan);
}

struct Planner<'a> {
    config: &'a Config,
    site: &'a Site,
    live: &'a LiveSite,
    ledger: &'a SiteLedger,
    now: OffsetDateTime,
    /// email → account id: links made in this plan, else the config, else
    /// the ledger's identities.
    identity: IdentityBook<'a>,
    /// What the ledger's identities are worth: verified or not.
    ledger_provenance: Provenance,
    /// Contributors already accounted for by a desired principal.
    handled: BTreeSet<String>,
    /// Accounts this tool granted (ledger) or links in this plan.
    granted: BTreeSet<String>,
    /// Emails whose invite was linked to a contributor in this plan.
    linked_emails: BTreeSet<String>,
}

/// Wix's declared ids: each person's `wix_account_id`.
impl identity::Declared for PeopleIndex {
    fn id_of_email(&self, email: &str) -> Option<&str> {
        self.account_of_email(email)
    }

    fn emails_of_id(&self, id: &str) -> &[String] {
        self.emails_of_account(id)
    }
}

impl<'a> Planner<'a> {
    fn new(
        config: &'a Config,
        site: &'a Site,
        live: &'a LiveSite,
        ledger: &'a SiteLedger,
        now: OffsetDateTime,
    ) -> Self {
        let identity = IdentityBook::new(
            config.people_index(),
            ledger
                .identities
                .iter()
                .map(|i| (i.email.as_str(), i.account_id.as_str())),
        );
        Planner {
            config,
            site,
            live,
            ledger,
            now,
            identity,
            ledger_provenance: match ledger.trust {
                Trust::Verified => Provenance::LedgerVerified,
                Trust::Unchecked => Provenance::LedgerUnverified,
            },
            handled: BTreeSet::new(),
            granted: ledger
                .granted
                .iter()
                .map(|g| g.account_id.clone())
                .collect(),
            linked_emails: BTreeSet::new(),
        }
    }

    fn run(mut self, wants: &[Want], plan: &mut SitePlan) {
        // Resolve every role first; a site with an unknown role is not planned
        // at all, so a typo can never turn into a removal.
        let mut targets: Vec<BTreeSet<String>> = Vec::new();
        for want in wants {
            let mut ids = BTreeSet::new();
            for role in &want.roles {
                match roles::resolve(&role.name, &self.live.roles) {
                    Ok(def) => {
                        ids.insert(def.id.clone());
                    }
                    Err(message) => plan.errors.push(format!(
                        "{}:{}:{}: {message}",
                        self.config.path.display(),
                        role.pos.line,
                        role.pos.col
                    )),
                }
            }
            targets.push(ids);
        }
        if !plan.errors.is_empty() {
            self.describe_before(plan);
            plan.errors.sort();
            plan.errors.dedup();
            plan.after = plan.before.clone();
            return;
        }
        self.learn_identities(plan);
        // After the links: a collaborator this plan links is listed under
        // the email it accepted with, so the listing's diff shows the invite
        // consumed, not an account removed and another added.
        self.describe_before(plan);
        for (want, target) in wants.iter().zip(&targets) {
            self.plan_want(want, target, plan);
        }
        self.plan_leftover_contributors(wants, plan);
        self.plan_leftover_invites(wants, plan);
        self.describe_after(plan);
    }

    /// Outstanding invites: still open in Wix, or sent with an unknown outcome.
    fn open_invites(&self) -> impl Iterator<Item = &'a InviteRecord> {
        let now = self.now;
        self.ledger
            .invites
            .iter()
            .filter(move |i| i.is_outstanding(now) || i.state == InviteState::Unknown)
    }

    /// Which new collaborators accepted which open invites, by the core's
    /// rule (`platform::identity`): what it concludes is linked, what it
    /// cannot tell is reported, never guessed.
    fn learn_identities(&mut self, plan: &mut SitePlan) {
        let config_accounts: BTreeSet<&str> = self
            .site
            .grants
            .iter()
            .filter_map(|g| self.config.identity_of(&g.principal).1)
            .collect();
        let strangers: Vec<Stranger<'_>> = self
            .live
            .contributors
            .iter()
            .filter(|(a, _)| {
                !self.live.owners.contains(*a)
                    && self.identity.email_of(a).is_none()
                    && !config_accounts.contains(a.as_str())
                    && !self.ledger.is_granted(a)
            })
            .map(|(a, held)| Stranger {
                id: a,
                roles: held.iter().collect(),
            })
            .collect();
        let invites: Vec<&InviteRecord> = self
            .open_invites()
            .filter(|i| self.identity.id_of(&i.email).is_none())
            .collect();
        let invitations: Vec<Invitation<'_>> = invites
            .iter()
            .map(|i| Invitation {
                email: &i.email,
                roles: i.role_ids.iter().map(String::as_str).collect(),
                present_when_sent: &i.existing_accounts,
            })
            .collect();
        let mut links = Vec::new();
        for finding in identity::match_invitations(&strangers, &invitations) {
            match finding {
                Finding::Accepted { id, invitation } => {
                    links.push((id.to_string(), invites[invitation].clone()));
                }
                Finding::OneForSeveral { id, emails } => plan.warnings.push(format!(
                    "new collaborator `account {id}` matches several open invites by role ({}); link it by hand: `accessctl link {} --account {id} --email <EMAIL>`",
                    emails.join(", "),
                    self.site.key
                )),
                Finding::SeveralForOne { email, ids } => plan.warnings.push(format!(
                    "the invite to {email} matches several new collaborators by role ({}); link the right one by hand: `accessctl link {} --email {email} --account <ACCOUNT>`",
                    ids.join(", "),
                    self.site.key,
                )),
            }
        }
        links.sort_by(|a, b| a.0.cmp(&b.0));
        for (account, invite) in links {
            self.link(
                plan,
                &account,
                &invite,
                &self.who_for_email(&invite.email),
                (
                    format!(
                        "new collaborator holds exactly the roles of the invite sent to {}",
                        invite.email
                    ),
                    Provenance::InviteMatch,
                ),
            );
        }
    }

    /// Record in the plan that `account` accepted `invite`.
    fn link(
        &mut self,
        plan: &mut SitePlan,
        account: &str,
        invite: &InviteRecord,
        who: &str,
        (reason, identity): (String, Provenance),
    ) {
        let roles = self.roles_of(&invite.role_ids);
        self.identity.record_match(&invite.email, account);
        self.granted.insert(account.to_string());
        self.linked_emails.insert(invite.email.clone());
        plan.changes.push(Change {
            action: Action::Link,
            who: who.to_string(),
            email: Some(invite.email.clone()),
            account_id: Some(account.to_string()),
            invite_id: invite.id.clone(),
            roles_before: roles.clone(),
            roles_after: roles,
            reason,
            identity: Some(identity),
        });
    }

    fn plan_want(&mut self, want: &Want, target: &BTreeSet<String>, plan: &mut SitePlan) {
        let (account, provenance) = match (want.account, want.email) {
            (Some(a), _) => (Some(a.to_string()), Some(Provenance::Config)),
            (None, Some(e)) => (
                self.identity.id_of(e).map(str::to_string),
                self.provenance_of(e),
            ),
            (None, None) => (None, None),
        };
        if let Some(account) = &account {
            if self.live.owners.contains(account) {
                self.handled.insert(account.clone());
                plan.warnings.push(format!(
                    "`{}` is the site owner; the owner's access is never changed",
                    want.label
                ));
                return;
            }
            if let Some(current) = self.live.contributors.get(account) {
                self.handled.insert(account.clone());
                // Known by the config, so the invite-match step skipped it;
                // an invite still open for its email was evidently accepted.
                if let Some(email) = want.email
                    && !self.linked_emails.contains(email)
                    && let Some(invite) = self.ledger.latest_invite(email)
                    && (invite.is_outstanding(self.now) || invite.state == InviteState::Unknown)
                {
                    let invite = invite.clone();
                    let why = match provenance {
                        Some(Provenance::Config) => "the config names this account",
                        _ => "the ledger links the email to this account",
                    };
                    self.link(
                        plan,
                        account,
                        &invite,
                        &want.label,
                        (
                            format!("accepted the invite: {why}"),
                            provenance.unwrap_or(Provenance::Config),
                        ),
                    );
                }
                if current != target {
                    plan.changes.push(Change {
                        action: Action::ChangeRole,
                        who: want.label.clone(),
                        email: want.email.map(str::to_string),
                        account_id: Some(account.clone()),
                        invite_id: None,
                        roles_before: self.roles_of(current),
                        roles_after: self.roles_of(target),
                        reason: with_source("holds other roles than the config gives", provenance),
                        identity: provenance,
                    });
                }
                return;
            }
        }
        if let (Some(email), Some(owner)) = (want.email, &self.site.owner)
            && owner.email.eq_ignore_ascii_case(email)
        {
            plan.warnings.push(format!(
                "`{}` is the site owner's contact ({email}); the owner's access is never changed",
                want.label
            ));
            return;
        }
        let Some(email) = want.email else {
            plan.warnings.push(format!(
                "`{}` is not a collaborator and no email is known for it, so it cannot be invited: give the person's email in the config",
                want.label
            ));
            return;
        };
        let roles_after = self.roles_of(target);
        let invite = |reason: String| Change {
            action: Action::Invite,
            who: want.label.clone(),
            email: Some(email.to_string()),
            account_id: None,
            invite_id: None,
            roles_before: Vec::new(),
            roles_after: roles_after.clone(),
            reason,
            identity: None,
        };
        let Some(record) = self.ledger.latest_invite(email) else {
            plan.changes
                .push(invite("not a collaborator yet".to_string()));
            return;
        };
        let record_roles: BTreeSet<String> = record.role_ids.iter().cloned().collect();
        match record.state {
            InviteState::Pending if !record.is_expired(self.now) => {
                if &record_roles == target {
                    plan.pending.push(Pending {
                        who: want.label.clone(),
                        email: email.to_string(),
                        roles: self.roles_of(&record.role_ids),
                        sent_at: rfc3339(record.sent_at),
                        expires_at: rfc3339(record.expires_at),
                    });
                } else {
                    plan.changes.push(Change {
                        action: Action::RevokeInvite,
                        who: want.label.clone(),
                        email: Some(email.to_string()),
                        account_id: None,
                        invite_id: record.id.clone(),
                        roles_before: self.roles_of(&record.role_ids),
                        roles_after: Vec::new(),
                        reason: "the open invite carries other roles; Wix cannot edit an invite"
                            .to_string(),
                        identity: None,
                    });
                    plan.changes.push(invite(
                        "re-invited with the roles the config now gives".to_string(),
                    ));
                }
            }
            InviteState::Pending => plan.changes.push(invite(format!(
                "the invite sent {} expired {}",
                day(record.sent_at),
                day(record.expires_at)
            ))),
            InviteState::Unknown => plan.warnings.push(format!(
                "the invite to {email} sent {} has an unknown outcome (the request failed after it was sent), so it is not sent again; check Settings → Collaborators on the site, then run `accessctl invite-status {} {email} sent` or `… not-sent`",
                rfc3339(record.sent_at),
                self.site.key
            )),
            InviteState::Accepted => plan.changes.push(invite(
                "accepted an earlier invite but is no longer a collaborator".to_string(),
            )),
            InviteState::Failed => plan.changes.push(invite(
                "Wix refused the last invite (seat limit?); trying again".to_string(),
            )),
            InviteState::Revoked => plan.changes.push(invite("not a collaborator yet".to_string())),
        }
    }

    /// Contributors no desired principal accounts for.
    fn plan_leftover_contributors(&mut self, wants: &[Want], plan: &mut SitePlan) {
        // Accounts the config names on this site, even through expired grants:
        // their access is managed, so losing the grant means removal.
        // The value is the latest `until` that has passed, if any.
        let mut referenced: BTreeMap<&str, Option<time::Date>> = BTreeMap::new();
        let today = self.now.date();
        for grant in &self.site.grants {
            let (email, account) = self.config.identity_of(&grant.principal);
            let account = account.or_else(|| email.and_then(|e| self.identity.id_of(e)));
            if let Some(account) = account {
                let ended = grant.until.filter(|u| *u < today);
                let entry = referenced.entry(account).or_insert(ended);
                *entry = (*entry).max(ended);
            }
        }
        let desired_accounts: BTreeSet<&str> = wants.iter().filter_map(|w| w.account).collect();
        for (account, roles) in &self.live.contributors {
            if self.live.owners.contains(account)
                || self.handled.contains(account)
                || desired_accounts.contains(account.as_str())
            {
                continue;
            }
            let who = self.who_for_account(account);
            let reason = if let Some(Some(ended)) = referenced.get(account.as_str()) {
                Some(format!("its grant ended on {ended} by its `until` date"))
            } else if self.granted.contains(account) || referenced.contains_key(account.as_str()) {
                Some("no grant in the config any more".to_string())
            } else {
                match self.site.unmanaged {
                    crate::model::Unmanaged::Keep => None,
                    crate::model::Unmanaged::Warn => {
                        plan.warnings.push(format!(
                            "unmanaged collaborator `{}` ({}) has no grant on this site in the config; add one (see `accessctl import`) or set `unmanaged: remove`",
                            // Wix's words, kept to this line of the warning.
                            crate::escape::text(&who),
                            crate::escape::text(&self.live.titles_joined(roles.iter()))
                        ));
                        None
                    }
                    crate::model::Unmanaged::Remove => {
                        Some("not in the config, and the site has `unmanaged: remove`".to_string())
                    }
                }
            };
            if let Some(reason) = reason {
                let identity = self.account_source(account);
                plan.changes.push(Change {
                    action: Action::Remove,
                    who,
                    email: self.email_for_account(account),
                    account_id: Some(account.clone()),
                    invite_id: None,
                    roles_before: self.roles_of(roles),
                    roles_after: Vec::new(),
                    reason: with_source(&reason, identity),
                    identity,
                });
            }
        }
    }

    /// Open invites for people the config no longer wants.
    fn plan_leftover_invites(&self, wants: &[Want], plan: &mut SitePlan) {
        let wanted: BTreeSet<&str> = wants.iter().filter_map(|w| w.email).collect();
        for invite in self.open_invites() {
            if wanted.contains(invite.email.as_str()) || self.linked_emails.contains(&invite.email)
            {
                continue;
            }
            match (&invite.id, invite.state) {
                (Some(id), InviteState::Pending) => plan.changes.push(Change {
                    action: Action::RevokeInvite,
                    who: self.who_for_email(&invite.email),
                    email: Some(invite.email.clone()),
                    account_id: None,
                    invite_id: Some(id.clone()),
                    roles_before: self.roles_of(&invite.role_ids),
                    roles_after: Vec::new(),
                    reason: "no grant in the config any more".to_string(),
                    identity: None,
                }),
                _ => plan.warnings.push(format!(
                    "{} is no longer in the config, but the invite sent to it {} has an unknown outcome; revoke it in Settings → Collaborators if it is there, then run `accessctl invite-status {} {} not-sent`",
                    invite.email,
                    rfc3339(invite.sent_at),
                    self.site.key,
                    invite.email
                )),
            }
        }
    }

    fn roles_of<I: AsRef<str>>(&self, ids: impl IntoIterator<Item = I>) -> Vec<Role> {
        let mut roles: Vec<Role> = ids
            .into_iter()
            .map(|id| {
                let id = id.as_ref();
                Role {
                    id: Some(id.to_string()),
                    title: self.live.title(id).to_string(),
                }
            })
            .collect();
        roles.sort_by(|a, b| a.title.cmp(&b.title));
        roles.dedup();
        roles
    }

    /// Where this account's identity (or its being granted by accessctl)
    /// comes from: this plan's links, the config, else the ledger.
    fn account_source(&self, account: &str) -> Option<Provenance> {
        if self.identity.is_matched_id(account) {
            Some(Provenance::InviteMatch)
        } else if self
            .config
            .people_index()
            .person_with_account(account)
            .is_some()
        {
            Some(Provenance::Config)
        } else if self.ledger.is_granted(account) || self.identity.is_recorded_id(account) {
            Some(self.ledger_provenance)
        } else {
            None
        }
    }

    /// Where the account the plan knows for an email comes from.
    fn provenance_of(&self, email: &str) -> Option<Provenance> {
        self.identity.source(email).map(|known| match known {
            Known::Matched => Provenance::InviteMatch,
            Known::Declared => Provenance::Config,
            Known::Recorded => self.ledger_provenance,
        })
    }

    fn email_for_account(&self, account: &str) -> Option<String> {
        self.identity.email_of(account).map(str::to_string)
    }

    fn who_for_email(&self, email: &str) -> String {
        self.config
            .people_index()
            .person_with_email(email)
            .unwrap_or(email)
            .to_string()
    }

    fn who_for_account(&self, account: &str) -> String {
        if let Some(key) = self.config.people_index().person_with_account(account) {
            return key.to_string();
        }
        match self.email_for_account(account) {
            Some(email) => self.who_for_email(&email),
            None => format!("account {account}"),
        }
    }

    fn access_label(&self, account: &str) -> String {
        match self.identity.email_of(account) {
            Some(email) => format!("{email} (account {account})"),
            None => format!("account {account}"),
        }
    }

    /// `(owner)`, with the name and email the config gives the owner.
    fn owner_note(&self) -> String {
        match &self.site.owner {
            Some(c) => match &c.name {
                Some(name) => format!("(owner: {name}, {})", c.email),
                None => format!("(owner: {})", c.email),
            },
            None => "(owner)".to_string(),
        }
    }

    fn describe_before(&self, plan: &mut SitePlan) {
        let mut lines = Vec::with_capacity(
            self.live.owners.len() + self.live.contributors.len() + self.ledger.invites.len(),
        );
        let owner_note = self.owner_note();
        for owner in &self.live.owners {
            lines.push(format!("account {owner}: {owner_note}"));
        }
        for (account, roles) in &self.live.contributors {
            if self.live.owners.contains(account) {
                continue;
            }
            let mut line = self.access_label(account);
            line.push_str(": ");
            line.push_str(&self.live.titles_joined(roles.iter()));
            lines.push(line);
        }
        for invite in self
            .ledger
            .invites
            .iter()
            .filter(|i| i.is_outstanding(self.now))
        {
            lines.push(format!(
                "{} (invited): {}",
                invite.email,
                self.live.titles_joined(&invite.role_ids)
            ));
        }
        lines.sort();
        plan.before = lines.into();
    }

    /// The access listing as it will be once the changes are made.
    fn describe_after(&self, plan: &mut SitePlan) {
        let mut access: BTreeMap<String, String> = BTreeMap::new();
        let owner_note = self.owner_note();
        for owner in &self.live.owners {
            access.insert(format!("account {owner}"), owner_note.clone());
        }
        let invited = |email: &str| format!("{email} (invited)");
        for (account, roles) in &self.live.contributors {
            if !self.live.owners.contains(account) {
                access.insert(
                    self.access_label(account),
                    self.live.titles_joined(roles.iter()),
                );
            }
        }
        for invite in self
            .ledger
            .invites
            .iter()
            .filter(|i| i.is_outstanding(self.now))
        {
            access.insert(
                invited(&invite.email),
                self.live.titles_joined(&invite.role_ids),
            );
        }
        let titles = |roles: &[Role]| {
            roles
                .iter()
                .map(|r| r.title.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        for change in &plan.changes {
            let email = change.email.as_deref().unwrap_or_default();
            match change.action {
                Action::Link => {
                    access.remove(&invited(email));
                }
                Action::RevokeInvite => {
                    access.remove(&invited(email));
                }
                Action::Invite => {
                    access.insert(invited(email), titles(&change.roles_after));
                }
                Action::ChangeRole => {
                    if let Some(account) = &change.account_id {
                        access.insert(self.access_label(account), titles(&change.roles_after));
                    }
                }
                Action::Remove => {
                    if let Some(account) = &change.account_id {
                        access.remove(&self.access_label(account));
                    }
                }
                Action::Request | Action::RequestChange | Action::RequestRemoval => {}
            }
        }
        plan.after = access
            .into_iter()
            .map(|(mut who, roles)| {
                who.push_str(": ");
                who.push_str(&roles);
                who
            })
            .collect::<Listing>()
            .same_as(&plan.before);
    }
}

/// A digest of everything the plan was computed from on the site's side.
/// This runs for every site of every plan (and again when a snapshot is
/// restored), so the text it hashes is built with plain appends into one
/// buffer, hashed once, not through `format!` machinery.
pub fn fingerprint(live: &LiveSite, ledger: &SiteLedger) -> String {
    use std::fmt::Write;
    let mut text = String::with_capacity(4096);
    for owner in &live.owners {
        line(&mut text, &["owner ", owner]);
    }
    for (account, roles) in &live.contributors {
        text.push_str("contributor ");
        text.push_str(account);
        text.push(' ');
        for (i, role) in roles.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            text.push_str(role);
        }
        text.push('\n');
    }
    for role in live.roles.iter() {
        line(&mut text, &["role ", &role.id, " ", &role.title]);
    }
    // The ledger's order carries no meaning except among one email's
    // invites (the latest counts), so a reordered but equal ledger gives the
    // same fingerprint: invites are sorted by email only (stable), the rest
    // fully.
    let mut invites: Vec<_> = ledger.invites.iter().collect();
    invites.sort_by(|a, b| a.email.cmp(&b.email));
    for invite in invites {
        // Writing to a string cannot fail.
        let _ = writeln!(
            text,
            "invite {} {} {:?} {} {}",
            invite.id.as_deref().unwrap_or("-"),
            invite.email,
            invite.state,
            invite.role_ids.join(","),
            invite.expires_at.unix_timestamp()
        );
    }
    let mut identities: Vec<(&str, &str)> = ledger
        .identities
        .iter()
        .map(|i| (i.email.as_str(), i.account_id.as_str()))
        .collect();
    // Emails and ids hold no character below the space, so this orders the
    // lines as sorting their text would.
    identities.sort_unstable();
    for (email, account) in identities {
        line(&mut text, &["identity ", email, " ", account]);
    }
    let mut granted: Vec<&String> = ledger.granted.iter().map(|g| &g.account_id).collect();
    granted.sort_unstable();
    for account in granted {
        line(&mut text, &["granted ", account]);
    }
    hex(&Sha256::digest(text.as_bytes()))
}

/// `parts` appended to `text` as one line.
fn line(text: &mut String, parts: &[&str]) {
    for part in parts {
        text.push_str(part);
    }
    text.push('\n');
}

/// A reason, with where its account comes from when that is the ledger:
/// the reviewer sees which changes rest on records only accessctl should
/// have written, and whether they were verified.
fn with_source(reason: &str, source: Option<Provenance>) -> String {
    match source {
        Some(Provenance::LedgerVerified) => format!("{reason}; account from the ledger, verified"),
        Some(Provenance::LedgerUnverified) => {
            format!("{reason}; account from the ledger, not verified: no ledger key in this job")
        }
        _ => reason.to_string(),
    }
}

fn day(t: OffsetDateTime) -> String {
    t.date().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{Identity, IdentitySource};
    use crate::state::RoleDef;

    /// The fingerprint is the SHA-256 of this text; saved plans compare it,
    /// so it must not drift.
    #[test]
    fn fingerprint_hashes_the_documented_lines() {
        let live = LiveSite {
            roles: vec![RoleDef {
                id: "r1".into(),
                title: "Blog Writer".into(),
                custom: false,
            }]
            .into(),
            owners: BTreeSet::from(["own".to_string()]),
            contributors: BTreeMap::from([(
                "acc".to_string(),
                BTreeSet::from(["r1".to_string(), "r2".to_string()]).into(),
            )]),
        };
        let mut ledger = SiteLedger::new("s", "id");
        let identity = |email: &str, account: &str| Identity {
            email: email.into(),
            account_id: account.into(),
            source: IdentitySource::Config,
            learned_at: OffsetDateTime::UNIX_EPOCH,
            sig: None,
        };
        ledger.identities = vec![identity("b@x.example", "2"), identity("a@x.example", "9")];
        ledger.granted = vec!["z".into(), "acc".into()];
        let text = "owner own\ncontributor acc r1,r2\nrole r1 Blog Writer\n\
                    identity a@x.example 9\nidentity b@x.example 2\ngranted acc\ngranted z\n";
        assert_eq!(fingerprint(&live, &ledger), hex(&Sha256::digest(text)));
    }
}
