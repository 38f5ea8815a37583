//! The emulator's in-memory world: accounts with their keys and custom
//! roles, sites with contributors and invites, and the rules Wix applies to
//! them (seat limit, 30-day invite expiry, full-replacement role changes).
//!
//! Every operation here is synchronous and runs under one lock held by the
//! caller, so each HTTP request sees and leaves a consistent state. Handlers
//! (in `api.rs` and `control.rs`) only translate HTTP to these calls.
//! `State` deliberately has no `Debug`: it holds API keys.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::error::ApiError;
use super::wire::{
    AssignedRole, BulkInviteRequest, BulkInviteResponse, ChangeRoleRequest, ChangeRoleResponse,
    ContributorRef, FieldViolation, GetRolesInfoResponse, QuerySiteContributorsResponse, RoleInfo,
    SiteInvite,
};

/// What Bulk Invite does for an email that already has a pending invite on
/// the site (Wix's behaviour is unconfirmed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DuplicateInvites {
    /// A second, separate pending invite.
    #[default]
    Keep,
    /// The earlier one is deleted and a new one sent in its seat.
    Replace,
}

/// Invitation emails are valid for 30 days (Wix support article).
pub const INVITE_VALIDITY: Duration = Duration::days(30);

/// Emails per Bulk Invite call. Wix's limit for site invites is unconfirmed;
/// 50 is the documented cap of the account-level Create Invite, and holding
/// the client to it keeps its batching honest.
pub const MAX_EMAILS_PER_CALL: usize = 50;

/// `restrictFromLevel` of a role: where it can *not* be granted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum RestrictFromLevel {
    #[default]
    NoRestriction,
    Site,
    Account,
}

impl RestrictFromLevel {
    pub fn as_wire(self) -> &'static str {
        match self {
            RestrictFromLevel::NoRestriction => "NoRestriction",
            RestrictFromLevel::Site => "Site",
            RestrictFromLevel::Account => "Account",
        }
    }
}

/// Invite status with Wix's PascalCase wire strings; accepted is `Used`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum InviteStatus {
    #[default]
    Pending,
    Used,
    Deleted,
    Declined,
    Expired,
}

impl InviteStatus {
    pub fn as_wire(self) -> &'static str {
        match self {
            InviteStatus::Pending => "Pending",
            InviteStatus::Used => "Used",
            InviteStatus::Deleted => "Deleted",
            InviteStatus::Declined => "Declined",
            InviteStatus::Expired => "Expired",
        }
    }
}

/// The emulator's notion of "now": real time, or frozen for reproducible
/// timestamps (seed `clock`, or the `/_emulator/clock` control).
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    System,
    Fixed(OffsetDateTime),
}

#[derive(Debug, Clone)]
pub struct Role {
    pub id: String,
    pub title: String,
    pub description: String,
    pub restrict: RestrictFromLevel,
}

#[derive(Debug, Clone)]
pub struct Invite {
    pub id: String,
    pub email: String,
    pub policy_ids: Vec<String>,
    pub status: InviteStatus,
    pub accepted_by: Option<String>,
    /// The invite that replaced this one (`duplicate_invites: replace`).
    pub replaced_by: Option<String>,
    pub created: OffsetDateTime,
    pub updated: OffsetDateTime,
    pub expires: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub role_id: String,
    pub assignment_id: String,
}

#[derive(Debug, Clone)]
pub struct Site {
    pub id: String,
    /// Owning account; also the owner contributor's `accountId`.
    pub owner: String,
    pub seat_limit: u32,
    /// Non-owner contributors: accountId → role assignments (never empty).
    pub contributors: BTreeMap<String, Vec<Assignment>>,
    /// All invites ever sent, oldest first (Wix keeps revoked ones too).
    pub invites: Vec<Invite>,
}

impl Site {
    pub fn new(id: String, owner: String, seat_limit: u32) -> Self {
        Site {
            id,
            owner,
            seat_limit,
            contributors: BTreeMap::new(),
            invites: Vec::new(),
        }
    }

    /// Turn this site's pending invites past their expiration date into
    /// `Expired` (dated at the expiration date, whenever this runs). Expiry
    /// is lazy: it runs on a site when something looks at its invites, so
    /// a request costs the same however many sites there are.
    pub fn sweep_expired(&mut self, now: OffsetDateTime) {
        for inv in &mut self.invites {
            if inv.status == InviteStatus::Pending && inv.expires <= now {
                inv.status = InviteStatus::Expired;
                inv.updated = inv.expires;
            }
        }
    }

    /// Seats in use: non-owner contributors plus pending invites.
    pub fn seats_used(&self) -> usize {
        self.contributors.len()
            + self
                .invites
                .iter()
                .filter(|i| i.status == InviteStatus::Pending)
                .count()
    }
}

/// Which invite a test control means.
#[derive(Debug, Clone)]
pub enum InviteSelector {
    ById(String),
    BySiteEmail { site_id: String, email: String },
}

/// What a test control does to a pending invite.
#[derive(Debug, Clone)]
pub enum Settle {
    Accept { account_id: String },
    Decline,
}

pub struct State {
    clock: Clock,
    pub predefined: Vec<Role>,
    /// accountId → that account's custom roles.
    pub accounts: BTreeMap<String, Vec<Role>>,
    /// API key → accountId. Never printed.
    keys: HashMap<String, String>,
    pub sites: BTreeMap<String, Site>,
    /// Invite id → the site holding it, so finding an invite by id does
    /// not walk every site. Ids are unique across sites.
    invite_sites: HashMap<String, String>,
    /// What Bulk Invite does for an email with a pending invite.
    pub duplicate_invites: DuplicateInvites,
    invite_counter: u64,
    assignment_counter: u64,
}

impl State {
    pub fn new(
        clock: Clock,
        predefined: Vec<Role>,
        accounts: BTreeMap<String, Vec<Role>>,
        keys: HashMap<String, String>,
    ) -> Self {
        State {
            clock,
            predefined,
            accounts,
            keys,
            sites: BTreeMap::new(),
            invite_sites: HashMap::new(),
            duplicate_invites: DuplicateInvites::default(),
            invite_counter: 0,
            assignment_counter: 0,
        }
    }

    pub fn now(&self) -> OffsetDateTime {
        match self.clock {
            Clock::Fixed(t) => t,
            // Millisecond precision keeps timestamps short and Wix-like.
            Clock::System => {
                let t = OffsetDateTime::now_utc();
                t.replace_millisecond(t.millisecond()).unwrap_or(t)
            }
        }
    }

    pub fn account_for_key(&self, key: &str) -> Option<&str> {
        self.keys.get(key).map(String::as_str)
    }

    /// A new invite id for an invite of `site_id`, recorded as taken. Ids
    /// look like GUIDs (as Wix's do) but come from a counter, so runs are
    /// reproducible; one a seed already used is skipped.
    pub fn next_invite_id(&mut self, site_id: &str) -> String {
        loop {
            self.invite_counter += 1;
            let id = format!("1a7e0000-0000-4000-8000-{:012}", self.invite_counter);
            if self.claim_invite_id(&id, site_id) {
                return id;
            }
        }
    }

    /// Record `id` as an invite of `site_id`; false if some invite has it.
    pub fn claim_invite_id(&mut self, id: &str, site_id: &str) -> bool {
        if self.invite_sites.contains_key(id) {
            return false;
        }
        self.invite_sites.insert(id.to_owned(), site_id.to_owned());
        true
    }

    fn next_assignment_id(&mut self) -> String {
        self.assignment_counter += 1;
        format!("a5517000-0000-4000-8000-{:012}", self.assignment_counter)
    }

    /// Assignments for `roles`; a role kept from `previous` keeps its
    /// assignment id so a repeated identical Change Role is a true no-op.
    pub fn assign(&mut self, roles: &[String], previous: Option<&[Assignment]>) -> Vec<Assignment> {
        roles
            .iter()
            .map(|role_id| {
                let kept = previous
                    .and_then(|p| p.iter().find(|a| &a.role_id == role_id))
                    .map(|a| a.assignment_id.clone());
                Assignment {
                    role_id: role_id.clone(),
                    assignment_id: kept.unwrap_or_else(|| self.next_assignment_id()),
                }
            })
            .collect()
    }

    /// Roles that exist for sites of `owner`: predefined plus its custom roles.
    fn roles_for(&self, owner: &str) -> impl Iterator<Item = &Role> {
        self.predefined
            .iter()
            .chain(self.accounts.get(owner).into_iter().flatten())
    }

    /// Check a role id sent on the Wix API (ids only, never titles).
    fn check_site_role(&self, owner: &str, id: &str) -> Result<(), String> {
        match self.roles_for(owner).find(|r| r.id == id) {
            None => Err(format!("unknown role id {id:?}")),
            Some(r) if r.restrict == RestrictFromLevel::Site => {
                Err(format!("role {id:?} cannot be granted on a site"))
            }
            Some(_) => Ok(()),
        }
    }

    /// Resolve a role given by id or by title (case-insensitive), for the
    /// seed and the test controls.
    pub fn resolve_role_token(&self, owner: &str, token: &str) -> Result<String, String> {
        if self.roles_for(owner).any(|r| r.id == token) {
            self.check_site_role(owner, token)?;
            return Ok(token.to_owned());
        }
        let wanted = token.trim().to_lowercase();
        let matches: Vec<&Role> = self
            .roles_for(owner)
            .filter(|r| r.title.to_lowercase() == wanted)
            .collect();
        match matches.as_slice() {
            [] => Err(format!(
                "unknown role {token:?} (neither a role id nor a title)"
            )),
            [one] => {
                self.check_site_role(owner, &one.id)?;
                Ok(one.id.clone())
            }
            many => Err(format!(
                "role title {token:?} is ambiguous: ids {}",
                many.iter()
                    .map(|r| format!("{:?}", r.id))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    /// Expire what is due on every site. Only views of every site (the
    /// `/_emulator/state` and `/_emulator/invites` controls) and a clock
    /// moved backwards need this; requests sweep the one site they touch
    /// ([`State::site_now`]).
    pub fn sweep_all_expired(&mut self) {
        let now = self.now();
        for site in self.sites.values_mut() {
            site.sweep_expired(now);
        }
    }

    /// Set the clock. Expiry is lazy, so before the clock goes back, what
    /// the later time already expired is expired everywhere: an invite
    /// seen expired stays expired, as if every site had been looked at.
    /// Moving it forward costs nothing; sites catch up when looked at.
    pub fn set_clock(&mut self, clock: Clock) {
        let before = self.now();
        let after = match clock {
            Clock::Fixed(t) => t,
            Clock::System => OffsetDateTime::now_utc(),
        };
        if after < before {
            self.sweep_all_expired();
        }
        self.clock = clock;
    }

    pub fn site(&self, site_id: &str) -> Result<&Site, ApiError> {
        self.sites
            .get(site_id)
            .ok_or_else(|| ApiError::not_found(format!("site {site_id:?} not found")))
    }

    fn site_mut(&mut self, site_id: &str) -> Result<&mut Site, ApiError> {
        self.sites
            .get_mut(site_id)
            .ok_or_else(|| ApiError::not_found(format!("site {site_id:?} not found")))
    }

    /// The site with its expiry brought up to now: what every operation
    /// that looks at a site's invites starts with.
    pub fn site_now(&mut self, site_id: &str) -> Result<&mut Site, ApiError> {
        let now = self.now();
        let site = self.site_mut(site_id)?;
        site.sweep_expired(now);
        Ok(site)
    }

    // ------------------------------------------------------------ Wix API

    /// Get Roles Info for `account`. `exclude` drops roles restricted from
    /// that level (`filter.roleLevel=SITE_LEVEL` → exclude `Site`).
    pub fn roles_info(
        &self,
        account: &str,
        exclude: Option<RestrictFromLevel>,
    ) -> GetRolesInfoResponse {
        let view = |r: &Role| RoleInfo {
            id: r.id.clone(),
            title: r.title.clone(),
            description: r.description.clone(),
            restrict_from_level: r.restrict.as_wire(),
        };
        let keep = |r: &&Role| exclude.is_none_or(|level| r.restrict != level);
        GetRolesInfoResponse {
            predefined_roles: self.predefined.iter().filter(keep).map(view).collect(),
            custom_roles: self
                .accounts
                .get(account)
                .into_iter()
                .flatten()
                .filter(keep)
                .map(view)
                .collect(),
        }
    }

    /// Query Site Contributors. No filter: everyone including the owner.
    /// Filter: contributors holding ANY of the ids; the owner never matches.
    pub fn query_contributors(
        &self,
        site_id: &str,
        policy_ids: &[String],
    ) -> Result<QuerySiteContributorsResponse, ApiError> {
        let site = self.site(site_id)?;
        let mut ids: Vec<&str> = if policy_ids.is_empty() {
            std::iter::once(site.owner.as_str())
                .chain(site.contributors.keys().map(String::as_str))
                .collect()
        } else {
            site.contributors
                .iter()
                .filter(|(_, roles)| roles.iter().any(|a| policy_ids.contains(&a.role_id)))
                .map(|(id, _)| id.as_str())
                .collect()
        };
        ids.sort_unstable();
        ids.dedup();
        Ok(QuerySiteContributorsResponse {
            contributors: ids
                .into_iter()
                .map(|id| ContributorRef {
                    account_id: id.to_owned(),
                    account_owner_id: Some(site.owner.clone()),
                })
                .collect(),
        })
    }

    /// Bulk Invite. All field problems come back together as one validation
    /// error. An email with a pending invite on this site gets a second
    /// invite beside it (`duplicate_invites: keep`, the default) or one that
    /// replaces it (`replace`: old → `Deleted`, `replaced_by` set); Wix's
    /// behaviour here is unconfirmed. Emails beyond the seat limit go to
    /// `failedEmails` without an invite.
    pub fn bulk_invite(
        &mut self,
        site_id: &str,
        req: BulkInviteRequest,
    ) -> Result<BulkInviteResponse, ApiError> {
        let owner = self.site_now(site_id)?.owner.clone();
        let mut violations = Vec::new();
        let mut violate = |field: String, description: String| {
            violations.push(FieldViolation { field, description })
        };

        let mut policy_ids: Vec<String> = Vec::new();
        match req.policy_ids {
            None => violate("policyIds".into(), "is required".into()),
            Some(ids) if ids.is_empty() => violate(
                "policyIds".into(),
                "must contain at least one role id".into(),
            ),
            Some(ids) => {
                for (i, id) in ids.into_iter().enumerate() {
                    match self.check_site_role(&owner, &id) {
                        Err(msg) => violate(format!("policyIds[{i}]"), msg),
                        Ok(()) if !policy_ids.contains(&id) => policy_ids.push(id),
                        Ok(()) => {}
                    }
                }
            }
        }
        let mut emails: Vec<String> = Vec::new();
        match req.emails {
            None => violate("emails".into(), "is required".into()),
            Some(list) if list.is_empty() => {
                violate("emails".into(), "must contain at least one email".into())
            }
            Some(list) if list.len() > MAX_EMAILS_PER_CALL => violate(
                "emails".into(),
                format!("at most {MAX_EMAILS_PER_CALL} emails per call"),
            ),
            Some(list) => {
                for (i, email) in list.into_iter().enumerate() {
                    let email = email.trim().to_owned();
                    // The config's check: the emulator refuses what the
                    // config refuses.
                    if crate::email::problem(&email).is_some() {
                        violate(
                            format!("emails[{i}]"),
                            format!("{email:?} is not a valid email address"),
                        );
                    } else if !emails.iter().any(|e| e.eq_ignore_ascii_case(&email)) {
                        emails.push(email);
                    }
                }
            }
        }
        if !violations.is_empty() {
            return Err(ApiError::validation(violations));
        }

        let now = self.now();
        let mut invites = Vec::new();
        let mut failed_emails = Vec::new();
        let replace = self.duplicate_invites == DuplicateInvites::Replace;
        for email in emails {
            let site = self.site_mut(site_id)?;
            let previous = site.invites.iter().position(|i| {
                replace && i.status == InviteStatus::Pending && i.email.eq_ignore_ascii_case(&email)
            });
            // Replacing frees the old invite's seat for the new one.
            if previous.is_none() && site.seats_used() >= site.seat_limit as usize {
                failed_emails.push(email);
                continue;
            }
            let id = self.next_invite_id(site_id);
            let site = self.site_mut(site_id)?;
            if let Some(idx) = previous {
                site.invites[idx].status = InviteStatus::Deleted;
                site.invites[idx].updated = now;
                site.invites[idx].replaced_by = Some(id.clone());
            }
            let invite = Invite {
                id,
                email,
                policy_ids: policy_ids.clone(),
                status: InviteStatus::Pending,
                accepted_by: None,
                replaced_by: None,
                created: now,
                updated: now,
                expires: now + INVITE_VALIDITY,
            };
            let site = self.site_mut(site_id)?;
            invites.push(invite_wire(site, &invite));
            site.invites.push(invite);
        }
        Ok(BulkInviteResponse {
            invites,
            failed_emails,
        })
    }

    /// Resend: only a pending invite of this site. The expiration date is
    /// left alone (whether Wix extends it is unconfirmed).
    pub fn resend(&mut self, site_id: &str, invite_id: &str) -> Result<SiteInvite, ApiError> {
        let now = self.now();
        let site = self.site_now(site_id)?;
        let idx = pending_index(site, invite_id)?;
        site.invites[idx].updated = now;
        Ok(invite_wire(site, &site.invites[idx]))
    }

    /// Revoke: a pending invite of this site becomes `Deleted`.
    pub fn revoke(&mut self, site_id: &str, invite_id: &str) -> Result<(), ApiError> {
        let now = self.now();
        let site = self.site_now(site_id)?;
        let idx = pending_index(site, invite_id)?;
        site.invites[idx].status = InviteStatus::Deleted;
        site.invites[idx].updated = now;
        Ok(())
    }

    /// Change Role: full replacement of a contributor's roles.
    pub fn change_role(
        &mut self,
        site_id: &str,
        req: ChangeRoleRequest,
    ) -> Result<ChangeRoleResponse, ApiError> {
        let site = self.site(site_id)?;
        let owner = site.owner.clone();
        let account_id = required_account_id(req.account_id)?;
        if account_id == owner {
            return Err(ApiError::permission_denied(
                "the site owner's roles cannot be changed",
            ));
        }
        let Some(previous) = site.contributors.get(&account_id).cloned() else {
            return Err(ApiError::not_found(format!(
                "account {account_id:?} is not a contributor of site {site_id:?}"
            )));
        };
        let mut violations = Vec::new();
        let mut roles: Vec<String> = Vec::new();
        match req.new_roles {
            None => violations.push(FieldViolation {
                field: "newRoles".into(),
                description: "is required".into(),
            }),
            Some(list) if list.is_empty() => violations.push(FieldViolation {
                field: "newRoles".into(),
                description: "must contain at least one role (use Remove Contributor to remove)"
                    .into(),
            }),
            Some(list) => {
                for (i, r) in list.into_iter().enumerate() {
                    let field = format!("newRoles[{i}].roleId");
                    match r.role_id {
                        None => violations.push(FieldViolation {
                            field,
                            description: "is required".into(),
                        }),
                        Some(id) => match self.check_site_role(&owner, &id) {
                            Err(description) => {
                                violations.push(FieldViolation { field, description })
                            }
                            Ok(()) if !roles.contains(&id) => roles.push(id),
                            Ok(()) => {}
                        },
                    }
                }
            }
        }
        if !violations.is_empty() {
            return Err(ApiError::validation(violations));
        }
        let assigned = self.assign(&roles, Some(&previous));
        let response = ChangeRoleResponse {
            new_assigned_roles: assigned
                .iter()
                .map(|a| AssignedRole {
                    role_id: a.role_id.clone(),
                    assignment_id: a.assignment_id.clone(),
                })
                .collect(),
        };
        self.site_mut(site_id)?
            .contributors
            .insert(account_id, assigned);
        Ok(response)
    }

    /// Remove Contributor: clears all of the contributor's assignments.
    pub fn remove_contributor(
        &mut self,
        site_id: &str,
        account_id: Option<String>,
    ) -> Result<(), ApiError> {
        let account_id = required_account_id(account_id)?;
        let site = self.site_mut(site_id)?;
        if account_id == site.owner {
            return Err(ApiError::permission_denied(
                "the site owner cannot be removed",
            ));
        }
        match site.contributors.remove(&account_id) {
            Some(_) => Ok(()),
            None => Err(ApiError::not_found(format!(
                "account {account_id:?} is not a contributor of site {site_id:?}"
            ))),
        }
    }

    // ------------------------------------------------------ test controls

    /// Locate the invite a control means: by id, or the pending invite for
    /// an email on a site. 404 when there is none at all, 409 when the only
    /// matching invites are no longer pending.
    fn find_pending(&mut self, sel: &InviteSelector) -> Result<(String, usize), ApiError> {
        match sel {
            InviteSelector::ById(id) => {
                let not_found = || ApiError::not_found(format!("no invite with id {id:?}"));
                let site_id = self.invite_sites.get(id).cloned().ok_or_else(not_found)?;
                let site = self.site_now(&site_id)?;
                let idx = site
                    .invites
                    .iter()
                    .position(|i| &i.id == id)
                    .ok_or_else(not_found)?;
                let status = site.invites[idx].status;
                if status != InviteStatus::Pending {
                    return Err(ApiError::conflict(format!(
                        "invite {id:?} is {}, not Pending",
                        status.as_wire()
                    )));
                }
                Ok((site_id, idx))
            }
            InviteSelector::BySiteEmail { site_id, email } => {
                let site = self.site_now(site_id)?;
                let matching = |i: &&Invite| i.email.eq_ignore_ascii_case(email.trim());
                if let Some(idx) = site
                    .invites
                    .iter()
                    .position(|i| i.status == InviteStatus::Pending && matching(&i))
                {
                    return Ok((site.id.clone(), idx));
                }
                match site.invites.iter().rev().find(matching) {
                    Some(last) => Err(ApiError::conflict(format!(
                        "the latest invite for {email:?} on site {site_id:?} is {}, not Pending",
                        last.status.as_wire()
                    ))),
                    None => Err(ApiError::not_found(format!(
                        "no invite for {email:?} on site {site_id:?}"
                    ))),
                }
            }
        }
    }

    /// Accept or decline a pending invite as if the invitee clicked the link.
    /// Accepting makes the account a contributor with exactly the invite's
    /// roles (replacing any it had). Returns (site id, invite).
    pub fn settle_invite(
        &mut self,
        sel: &InviteSelector,
        settle: Settle,
    ) -> Result<(String, Invite), ApiError> {
        let (site_id, idx) = self.find_pending(sel)?;
        let now = self.now();
        let site = self.site(&site_id)?;
        let invite = site.invites[idx].clone();
        let previous = match &settle {
            Settle::Accept { account_id } if account_id == &site.owner => {
                return Err(ApiError::conflict(
                    "the site owner cannot accept an invite to their own site",
                ));
            }
            Settle::Accept { account_id } => site.contributors.get(account_id).cloned(),
            Settle::Decline => None,
        };
        let assigned = match &settle {
            Settle::Accept { .. } => Some(self.assign(&invite.policy_ids, previous.as_deref())),
            Settle::Decline => None,
        };
        let site = self.site_mut(&site_id)?;
        let inv = &mut site.invites[idx];
        inv.updated = now;
        match settle {
            Settle::Accept { account_id } => {
                inv.status = InviteStatus::Used;
                inv.accepted_by = Some(account_id.clone());
                if let Some(assigned) = assigned {
                    site.contributors.insert(account_id, assigned);
                }
            }
            Settle::Decline => inv.status = InviteStatus::Declined,
        }
        let inv = site.invites[idx].clone();
        Ok((site_id, inv))
    }

    /// Expire pending invites: one by id, those for an email on a site, or
    /// all of a site's. Returns the ids expired (404 if a specific invite or
    /// email had nothing pending).
    pub fn expire(
        &mut self,
        site_id: Option<&str>,
        email: Option<&str>,
        invite_id: Option<&str>,
    ) -> Result<Vec<String>, ApiError> {
        let now = self.now();
        if let Some(id) = invite_id {
            let (site_id, idx) = self.find_pending(&InviteSelector::ById(id.to_owned()))?;
            let inv = &mut self.site_mut(&site_id)?.invites[idx];
            inv.status = InviteStatus::Expired;
            inv.updated = now;
            return Ok(vec![inv.id.clone()]);
        }
        let Some(site_id) = site_id else {
            return Err(ApiError::invalid_argument("give inviteId or siteId"));
        };
        let site = self.site_now(site_id)?;
        let mut expired = Vec::new();
        for inv in &mut site.invites {
            let email_ok = email.is_none_or(|e| inv.email.eq_ignore_ascii_case(e.trim()));
            if inv.status == InviteStatus::Pending && email_ok {
                inv.status = InviteStatus::Expired;
                inv.updated = now;
                expired.push(inv.id.clone());
            }
        }
        if let (Some(e), true) = (email, expired.is_empty()) {
            return Err(ApiError::not_found(format!(
                "no pending invite for {e:?} on site {site_id:?}"
            )));
        }
        Ok(expired)
    }

    /// Set a contributor's roles directly (drift simulation); creates the
    /// contributor if absent. Ignores the seat limit on purpose: drift made
    /// in the dashboard is not bound by this emulator's bookkeeping.
    pub fn put_contributor(
        &mut self,
        site_id: &str,
        account_id: &str,
        role_tokens: &[String],
    ) -> Result<Vec<Assignment>, ApiError> {
        let owner = self.site(site_id)?.owner.clone();
        if account_id.trim().is_empty() {
            return Err(ApiError::violation("accountId", "is required"));
        }
        if account_id == owner {
            return Err(ApiError::conflict("the site owner has no assignable roles"));
        }
        if role_tokens.is_empty() {
            return Err(ApiError::violation(
                "roleIds",
                "must not be empty (DELETE the contributor instead)",
            ));
        }
        let mut roles = Vec::new();
        let mut violations = Vec::new();
        for (i, t) in role_tokens.iter().enumerate() {
            match self.resolve_role_token(&owner, t) {
                Ok(id) if !roles.contains(&id) => roles.push(id),
                Ok(_) => {}
                Err(description) => violations.push(FieldViolation {
                    field: format!("roleIds[{i}]"),
                    description,
                }),
            }
        }
        if !violations.is_empty() {
            return Err(ApiError::validation(violations));
        }
        let previous = self.site(site_id)?.contributors.get(account_id).cloned();
        let assigned = self.assign(&roles, previous.as_deref());
        self.site_mut(site_id)?
            .contributors
            .insert(account_id.to_owned(), assigned.clone());
        Ok(assigned)
    }

    pub fn delete_contributor(&mut self, site_id: &str, account_id: &str) -> Result<(), ApiError> {
        let site = self.site_mut(site_id)?;
        match site.contributors.remove(account_id) {
            Some(_) => Ok(()),
            None => Err(ApiError::not_found(format!(
                "account {account_id:?} is not a contributor of site {site_id:?}"
            ))),
        }
    }
}

fn required_account_id(account_id: Option<String>) -> Result<String, ApiError> {
    match account_id {
        Some(id) if !id.trim().is_empty() => Ok(id),
        _ => Err(ApiError::violation("accountId", "is required")),
    }
}

/// Index of a *pending* invite of this site; anything else is a 404, as an
/// invite of another site must not be reachable through this one.
fn pending_index(site: &Site, invite_id: &str) -> Result<usize, ApiError> {
    site.invites
        .iter()
        .position(|i| i.id == invite_id && i.status == InviteStatus::Pending)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no pending invite {invite_id:?} on site {:?}",
                site.id
            ))
        })
}

pub fn timestamp(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// The Site Invite object as Wix returns it.
pub fn invite_wire(site: &Site, inv: &Invite) -> SiteInvite {
    SiteInvite {
        id: inv.id.clone(),
        site_id: site.id.clone(),
        email: inv.email.clone(),
        policy_ids: inv.policy_ids.clone(),
        inviter_id: site.owner.clone(),
        inviter_account_id: site.owner.clone(),
        status: inv.status.as_wire(),
        // `.invalid` can never resolve, so nothing follows the link by accident.
        accept_link: format!(
            "https://emulator.invalid/site-invite/accept?inviteId={}",
            inv.id
        ),
        accepted_by_account_id: inv.accepted_by.clone(),
        date_created: timestamp(inv.created),
        date_updated: timestamp(inv.updated),
        expiration_date: timestamp(inv.expires),
    }
}
