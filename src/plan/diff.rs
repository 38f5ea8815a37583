//! The diff: desired access (config) against observed access (provider and
//! ledger), giving one site's plan.
//!
//! What changes is decided by the platform-neutral [`diff::diff_ending`],
//! as for every platform: the site's collaborators are bindings under
//! their account ids, the ledger's open invites pending bindings under
//! their emails. Around it stays what is Wix's own: resolving role titles,
//! linking new collaborators to the invites they accepted
//! (`platform::identity`), the owner, the ledger's history as reasons, the
//! listings. Request mode (`plan::request`) decides through the core too,
//! over what the owner confirmed granting.
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
use crate::platform::diff::{self, Desired, Note};
use crate::platform::identity::{self, Finding, IdentityBook, Invitation, Known, Stranger};
use crate::platform::{Access, Binding, ChangeKind, Lifecycle, Platform, Target, TargetState, Who};
use crate::providers::wix::CAPABILITIES as WIX;
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
        self.plan_through_core(wants, targets, plan);
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
        self.linked_emails.insert(invite.email.to_lowercase());
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

    /// Decide the site's changes through the platform-neutral diff: the
    /// config's wants against the site's collaborators and the open invites
    /// the ledger holds (Wix cannot list them), then each of the core's
    /// changes and notes in Wix's terms.
    fn plan_through_core<'w>(
        &mut self,
        wants: &'w [Want<'w>],
        targets: Vec<BTreeSet<String>>,
        plan: &mut SitePlan,
    ) {
        let mut wanted = self.wanted(wants, targets, plan);
        let emails: BTreeSet<&str> = wants.iter().filter_map(|w| w.email).collect();
        let ended = self.ended(&emails, &wanted.desired);
        let d = diff::diff_ending(
            &wix_target(&self.site.wix.site_id),
            &WIX,
            &wanted.desired,
            &self.state(&emails),
            self.site.unmanaged,
            &[],
            &ended,
        );
        // An invite revoked and an invite sent to one email: Wix cannot
        // edit an invite, so the core withdraws it to send it again.
        let emails_of = |kind: ChangeKind| -> BTreeSet<String> {
            d.changes
                .iter()
                .filter(|c| c.kind == kind)
                .filter_map(|c| c.who.email().map(str::to_lowercase))
                .collect()
        };
        let added = emails_of(ChangeKind::Add);
        let resent: BTreeSet<String> = emails_of(ChangeKind::Remove)
            .intersection(&added)
            .cloned()
            .collect();
        for change in &d.changes {
            let change = self.wix_change(change, &wanted, &ended, &resent);
            plan.changes.push(change);
        }
        self.word_notes(&d.notes, &mut wanted, plan);
        self.list_pending(&d.waiting, &wanted, plan);
    }

    /// The wants in the core's terms: keyed by account where one is known
    /// (the config's, else this plan's links, else the ledger's), else by
    /// email. The owner is left out, and a collaborator the config knows
    /// that accepted its open invite is linked first.
    fn wanted<'w>(
        &mut self,
        wants: &'w [Want<'w>],
        targets: Vec<BTreeSet<String>>,
        plan: &mut SitePlan,
    ) -> Wanted<'w> {
        let mut wanted = Wanted {
            wants,
            desired: BTreeMap::new(),
            keyed: Vec::new(),
            notes: Vec::new(),
        };
        for (index, (want, target)) in wants.iter().zip(targets).enumerate() {
            let (account, provenance) = match (want.account, want.email) {
                (Some(a), _) => (Some(a.to_string()), Some(Provenance::Config)),
                (None, Some(e)) => (
                    self.identity.id_of(e).map(str::to_string),
                    self.provenance_of(e),
                ),
                (None, None) => (None, None),
            };
            let live = account
                .as_deref()
                .is_some_and(|a| self.live.contributors.contains_key(a));
            if let Some(account) = &account {
                if self.live.owners.contains(account) {
                    wanted.notes.push((
                        index,
                        format!(
                            "`{}` is the site owner; the owner's access is never changed",
                            want.label
                        ),
                    ));
                    continue;
                }
                if live {
                    self.link_accepted(want, account, provenance, plan);
                }
            }
            if !live
                && let (Some(email), Some(owner)) = (want.email, &self.site.owner)
                && owner.email.eq_ignore_ascii_case(email)
            {
                wanted.notes.push((
                    index,
                    format!(
                        "`{}` is the site owner's contact ({email}); the owner's access is never changed",
                        want.label
                    ),
                ));
                continue;
            }
            let who = match (account, want.email) {
                (Some(a), _) => Who::PlatformId(a),
                (None, Some(e)) => Who::Email(e.to_string()),
                (None, None) => {
                    wanted.notes.push((index, no_email(want)));
                    continue;
                }
            };
            let access = Access {
                roles: target,
                children: BTreeMap::new(),
            };
            wanted.add(who, index, provenance, access, live);
        }
        wanted
    }

    /// One of the core's changes as Wix's: an add is an invite, an update a
    /// role change, a removal a collaborator's removal or an invite's
    /// revocation (`resent`: the emails whose invite is revoked to be sent
    /// again with other roles).
    fn wix_change(
        &self,
        change: &crate::platform::Change,
        wanted: &Wanted<'_>,
        ended: &BTreeMap<Who, String>,
        resent: &BTreeSet<String>,
    ) -> Change {
        let roles = |access: &Option<Access>| {
            access
                .as_ref()
                .map(|a| self.roles_of(&a.roles))
                .unwrap_or_default()
        };
        let (roles_before, roles_after) = (roles(&change.from), roles(&change.to));
        let mut wix = Change {
            action: Action::Invite,
            who: String::new(),
            email: None,
            account_id: None,
            invite_id: None,
            roles_before,
            roles_after,
            reason: String::new(),
            identity: None,
        };
        match (change.kind, &change.who) {
            (ChangeKind::Add, who) => {
                let email = who.email().unwrap_or_default();
                let (label, email) = match wanted.by_invitee(email) {
                    Some((_, w)) => (w.label.clone(), w.email.unwrap_or(email)),
                    None => (self.who_for_email(email), email),
                };
                wix.reason = if resent.contains(&email.to_lowercase()) {
                    "re-invited with the roles the config now gives".to_string()
                } else {
                    self.invite_reason(email)
                };
                wix.who = label;
                wix.email = Some(email.to_string());
            }
            (ChangeKind::Update, who) => {
                let (label, email, provenance) = match wanted.of(who) {
                    Some((w, _, p)) => (w.label.clone(), w.email.map(str::to_string), p),
                    None => (who.to_string(), who.email().map(str::to_string), None),
                };
                wix.action = Action::ChangeRole;
                wix.who = label;
                wix.email = email;
                wix.account_id = who.platform_id().map(str::to_string);
                wix.reason = with_source("holds other roles than the config gives", provenance);
                wix.identity = provenance;
            }
            (ChangeKind::Remove, Who::Email(email)) => {
                wix.action = Action::RevokeInvite;
                (wix.who, wix.reason) = if resent.contains(&email.to_lowercase()) {
                    (
                        wanted
                            .by_invitee(email)
                            .map_or_else(|| self.who_for_email(email), |(_, w)| w.label.clone()),
                        "the open invite carries other roles; Wix cannot edit an invite"
                            .to_string(),
                    )
                } else {
                    (
                        self.who_for_email(email),
                        "no grant in the config any more".to_string(),
                    )
                };
                wix.email = Some(email.clone());
                wix.invite_id = change.handle.clone();
            }
            (ChangeKind::Remove, Who::PlatformId(account)) => {
                let identity = self.account_source(account);
                let reason = ended.get(&change.who).map_or(
                    "not in the config, and the site has `unmanaged: remove`",
                    |r| r.as_str(),
                );
                wix.action = Action::Remove;
                wix.who = self.who_for_account(account);
                wix.email = self.email_for_account(account);
                wix.account_id = Some(account.clone());
                wix.reason = with_source(reason, identity);
                wix.identity = identity;
            }
        }
        wix
    }

    /// The core's notes in Wix's words, in the order a reader expects: the
    /// wants' (by label), then unmanaged collaborators (by account), then
    /// stale invites (in the ledger's order).
    fn word_notes(&self, notes: &[Note], wanted: &mut Wanted<'_>, plan: &mut SitePlan) {
        let mut unmanaged = Vec::new();
        let mut stale = Vec::new();
        let mut stale_seen: BTreeSet<&str> = BTreeSet::new();
        for note in notes {
            match note {
                Note::NoEmail { who } => {
                    if let Some((w, i, _)) = wanted.of(who) {
                        wanted.notes.push((i, no_email(w)));
                    }
                }
                Note::Unknown {
                    who: Who::Email(email),
                    wanted: true,
                    ..
                } => {
                    let index = wanted.by_invitee(email).map_or(usize::MAX, |(i, _)| i);
                    if let Some(record) = self.ledger.latest_invite(email) {
                        wanted.notes.push((index, format!(
                            "the invite to {email} sent {} has an unknown outcome (the request failed after it was sent), so it is not sent again; check Settings → Collaborators on the site, then run `accessctl invite-status {} {email} sent` or `… not-sent`",
                            rfc3339(record.sent_at),
                            self.site.key
                        )));
                    }
                }
                Note::Unknown {
                    who: Who::Email(email),
                    wanted: false,
                    ..
                } => {
                    if !stale_seen.insert(email) {
                        continue;
                    }
                    for invite in self
                        .open_invites()
                        .filter(|i| crate::email::same(&i.email, email) && !is_revocable(i))
                    {
                        stale.push(format!(
                            "{} is no longer in the config, but the invite sent to it {} has an unknown outcome; revoke it in Settings → Collaborators if it is there, then run `accessctl invite-status {} {} not-sent`",
                            invite.email,
                            rfc3339(invite.sent_at),
                            self.site.key,
                            invite.email
                        ));
                    }
                }
                Note::Unmanaged {
                    who: Who::PlatformId(account),
                    access,
                } => unmanaged.push(format!(
                    "unmanaged collaborator `{}` ({}) has no grant on this site in the config; add one (see `accessctl import`) or set `unmanaged: remove`",
                    // Wix's words, kept to this line of the warning.
                    crate::escape::text(&self.who_for_account(account)),
                    crate::escape::text(&self.live.titles_joined(access.roles.iter()))
                )),
                // What Wix's state never gives rise to (no children, every
                // binding keyed, no untouchable principal passed, no
                // collaborator in an unknown state), in the core's words.
                other => plan
                    .warnings
                    .push(other.describe(&wix_target(&self.site.wix.site_id))),
            }
        }
        wanted.notes.sort_by_key(|(i, _)| *i);
        plan.warnings.extend(
            std::mem::take(&mut wanted.notes)
                .into_iter()
                .map(|(_, t)| t),
        );
        plan.warnings.extend(unmanaged);
        plan.warnings.extend(stale);
    }

    /// Wants whose open invite already grants what they should, in the
    /// wants' order: nothing to do but wait.
    fn list_pending(&self, waiting: &[Who], wanted: &Wanted<'_>, plan: &mut SitePlan) {
        let mut pending: Vec<(usize, Pending)> = Vec::new();
        for who in waiting {
            let Some((want, index, _)) = wanted.of(who) else {
                continue;
            };
            let Some(email) = want.email else { continue };
            let Some(record) = self.ledger.latest_invite(email) else {
                continue;
            };
            pending.push((
                index,
                Pending {
                    who: want.label.clone(),
                    email: email.to_string(),
                    roles: self.roles_of(&record.role_ids),
                    sent_at: rfc3339(record.sent_at),
                    expires_at: rfc3339(record.expires_at),
                },
            ));
        }
        pending.sort_by_key(|(i, _)| *i);
        plan.pending.extend(pending.into_iter().map(|(_, p)| p));
    }

    /// A contributor the config knows: an invite still open for its email
    /// was evidently accepted (the invite-match step skipped it).
    fn link_accepted(
        &mut self,
        want: &Want,
        account: &str,
        provenance: Option<Provenance>,
        plan: &mut SitePlan,
    ) {
        let Some(email) = want.email else { return };
        if self.linked_emails.contains(email) {
            return;
        }
        let Some(invite) = self.ledger.latest_invite(email) else {
            return;
        };
        if !(invite.is_outstanding(self.now) || invite.state == InviteState::Unknown) {
            return;
        }
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

    /// The site as the core sees it: each collaborator (the owners aside)
    /// by account id, and the invites the ledger holds open — for an email
    /// the config wants, its latest invite alone decides; for any other,
    /// every open one (to be revoked, or warned about when its outcome is
    /// unknown). Invites linked in this plan were accepted: not listed.
    fn state(&self, wanted: &BTreeSet<&str>) -> TargetState {
        let mut bindings = crate::providers::wix::provider::bindings(self.live);
        // A wanted email's open invite without an id (an old record) is
        // still the person's invite; anyone else's can only be warned about.
        let invite = |i: &InviteRecord, wanted: bool| Binding {
            email: Some(i.email.clone()),
            platform_id: None,
            access: Access::roles(i.role_ids.iter().cloned()),
            lifecycle: if is_revocable(i) || (wanted && i.state == InviteState::Pending) {
                Lifecycle::Pending {
                    invitation: i.id.clone(),
                    expires: Some(rfc3339(i.expires_at)),
                }
            } else {
                Lifecycle::Unknown
            },
            handle: i.id.clone(),
        };
        for email in wanted {
            if self.linked_emails.contains(*email) {
                continue;
            }
            if let Some(latest) = self.ledger.latest_invite(email)
                && (latest.is_outstanding(self.now) || latest.state == InviteState::Unknown)
            {
                bindings.push(invite(latest, true));
            }
        }
        for i in self.open_invites() {
            let lower = i.email.to_lowercase();
            if !wanted.contains(lower.as_str()) && !self.linked_emails.contains(&lower) {
                bindings.push(invite(i, false));
            }
        }
        TargetState {
            bindings,
            children: BTreeSet::new(),
        }
    }

    /// Why collaborators and invites the config does not want (`desired`
    /// accounts, `wanted` emails) go whatever `unmanaged` says: accounts the
    /// config names on this site (even through ended grants) or that
    /// accessctl granted, and every invite the ledger holds (accessctl sent
    /// it).
    fn ended(
        &self,
        wanted: &BTreeSet<&str>,
        desired: &BTreeMap<Who, Desired>,
    ) -> BTreeMap<Who, String> {
        // Both in account order: walked together.
        let mut desired = desired.keys().filter_map(Who::platform_id).peekable();
        let today = self.now.date();
        let mut referenced: BTreeMap<&str, Option<time::Date>> = BTreeMap::new();
        for grant in &self.site.grants {
            let (email, account) = self.config.identity_of(&grant.principal);
            let account = account.or_else(|| email.and_then(|e| self.identity.id_of(e)));
            if let Some(account) = account {
                let ended = grant.until.filter(|u| *u < today);
                let entry = referenced.entry(account).or_insert(ended);
                *entry = (*entry).max(ended);
            }
        }
        let mut ended: BTreeMap<Who, String> = BTreeMap::new();
        for account in self.live.contributors.keys() {
            while desired.next_if(|id| *id < account.as_str()).is_some() {}
            if desired.peek() == Some(&account.as_str()) {
                continue;
            }
            let reason = match referenced.get(account.as_str()) {
                Some(Some(day)) => format!("its grant ended on {day} by its `until` date"),
                Some(None) => "no grant in the config any more".to_string(),
                None if self.granted.contains(account) => {
                    "no grant in the config any more".to_string()
                }
                None => continue,
            };
            ended.insert(Who::PlatformId(account.clone()), reason);
        }
        for invite in self.open_invites() {
            let lower = invite.email.to_lowercase();
            if !wanted.contains(lower.as_str()) {
                ended.insert(
                    Who::Email(lower),
                    "no grant in the config any more".to_string(),
                );
            }
        }
        ended
    }

    /// Why an email is invited, from its latest invite.
    fn invite_reason(&self, email: &str) -> String {
        let Some(record) = self.ledger.latest_invite(email) else {
            return "not a collaborator yet".to_string();
        };
        match record.state {
            InviteState::Pending => format!(
                "the invite sent {} expired {}",
                day(record.sent_at),
                day(record.expires_at)
            ),
            InviteState::Accepted => {
                "accepted an earlier invite but is no longer a collaborator".to_string()
            }
            InviteState::Failed => {
                "Wix refused the last invite (seat limit?); trying again".to_string()
            }
            InviteState::Revoked | InviteState::Unknown => "not a collaborator yet".to_string(),
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
        // `concat`, not `format!`: this runs for every collaborator of
        // every site, twice.
        match self.identity.email_of(account) {
            Some(email) => [email, " (account ", account, ")"].concat(),
            None => ["account ", account].concat(),
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
            lines.push(["account ", owner, ": ", &owner_note].concat());
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
            lines.push(
                [
                    &invite.email,
                    " (invited): ",
                    &self.live.titles_joined(&invite.role_ids),
                ]
                .concat(),
            );
        }
        lines.sort();
        plan.before = lines.into();
    }

    /// The access listing as it will be once the changes are made.
    fn describe_after(&self, plan: &mut SitePlan) {
        let mut access: BTreeMap<String, String> = BTreeMap::new();
        let owner_note = self.owner_note();
        for owner in &self.live.owners {
            access.insert(["account ", owner].concat(), owner_note.clone());
        }
        let invited = |email: &str| [email, " (invited)"].concat();
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

/// The config's wants in the core's terms (`Planner::wanted`).
struct Wanted<'w> {
    wants: &'w [Want<'w>],
    desired: BTreeMap<Who, Desired>,
    /// Which want each key stands for (an index into `wants`), and where
    /// its account comes from; looked up only for the few keys a change or
    /// a note names.
    keyed: Vec<(Who, usize, Option<Provenance>)>,
    /// Warnings about wants, each with its want's index: they are shown in
    /// the wants' order.
    notes: Vec<(usize, String)>,
}

impl<'w> Wanted<'w> {
    /// A want under `who` (`live`: an account that is a collaborator, so
    /// no invite is looked for). Two wants that resolve to one account are
    /// one principal holding both's roles, named as the person (the one
    /// with an email), the config naming the account outranking a ledger
    /// record. The core's reasons are not used: Wix's are worded from the
    /// ledger's history.
    fn add(
        &mut self,
        who: Who,
        index: usize,
        provenance: Option<Provenance>,
        access: Access,
        live: bool,
    ) {
        let want = &self.wants[index];
        let invite_email = want.email.filter(|_| !live).map(str::to_string);
        match self.desired.get_mut(&who) {
            Some(d) => {
                d.access.roles.extend(access.roles);
                let Some((_, first, source)) = self.keyed.iter_mut().find(|(w, _, _)| *w == who)
                else {
                    return;
                };
                if self.wants[*first].email.is_none() && want.email.is_some() {
                    *first = index;
                    d.invite_email = invite_email;
                }
                if provenance == Some(Provenance::Config) {
                    *source = provenance;
                }
            }
            None => {
                self.keyed.push((who.clone(), index, provenance));
                self.desired.insert(
                    who,
                    Desired {
                        access,
                        reason: String::new(),
                        invite_email,
                    },
                );
            }
        }
    }

    /// The want a key stands for, its index and its account's provenance.
    fn of(&self, who: &Who) -> Option<(&'w Want<'w>, usize, Option<Provenance>)> {
        let wants = self.wants;
        self.keyed
            .iter()
            .find(|(w, _, _)| w == who)
            .map(|(_, i, p)| (&wants[*i], *i, *p))
    }

    /// The want an invite to `email` is for.
    fn by_invitee(&self, email: &str) -> Option<(usize, &'w Want<'w>)> {
        let wants = self.wants;
        wants
            .iter()
            .enumerate()
            .find(|(_, w)| w.email.is_some_and(|e| e.eq_ignore_ascii_case(email)))
    }
}

/// The warning for a want that is no collaborator and has no email.
fn no_email(want: &Want) -> String {
    format!(
        "`{}` is not a collaborator and no email is known for it, so it cannot be invited: give the person's email in the config",
        want.label
    )
}

/// The site as a core target: its collaborators, nothing nested.
fn wix_target(site_id: &str) -> Target {
    Target {
        platform: Platform::Wix,
        id: site_id.to_string(),
        credentials_env: None,
        managed_children: BTreeSet::new(),
    }
}

/// An invite Wix holds open under an id accessctl knows: one it can revoke.
fn is_revocable(invite: &InviteRecord) -> bool {
    invite.id.is_some() && invite.state == InviteState::Pending
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
