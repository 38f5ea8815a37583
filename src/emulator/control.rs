//! Test controls under `/_emulator/…`: things that happen outside the API in
//! real life (an invitee accepting, an invite expiring, someone changing
//! roles in the dashboard) plus read access to the state and request log.
//! No authentication, and none of these are part of Wix.
//!
//! - `GET /_emulator/state` – all sites, contributors, invites, seat use
//! - `GET /_emulator/invites` – every invite ever made, site by site, oldest
//!   first, whatever became of it: `siteId`, the invite, and `replacedBy`
//!   (the invite that replaced it under `duplicate_invites: replace`).
//!   Tests read "was an email invited twice" from here, not from the live
//!   state alone
//! - `GET|DELETE /_emulator/log` – the Wix request log / clear it
//! - `POST /_emulator/invites/accept` `{siteId, email, accountId}` or `{inviteId, accountId}`
//! - `POST /_emulator/invites/decline` `{siteId, email}` or `{inviteId}`
//! - `POST /_emulator/invites/expire` `{siteId, email?}` or `{inviteId}`
//! - `PUT /_emulator/contributors` `{siteId, accountId, roleIds}` (ids or titles)
//! - `DELETE /_emulator/contributors` `{siteId, accountId}`
//! - `GET|PUT /_emulator/clock` `{now}` – read or freeze the clock (RFC 3339)
//! - `GET|PUT|DELETE /_emulator/faults` – read, replace (answers the stored
//!   form) or clear the fault rules and rate limit (see `faults.rs`); a PUT
//!   also restarts the random generator, `times` counters and windows
//! - `GET|DELETE /_emulator/stats` – requests per endpoint, 429s sent,
//!   faults fired (per kind and per rule) / reset the counters

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::Shared;
use super::api::require_body;
use super::error::ApiError;
use super::faults::{FaultConfig, StatsView};
use super::log::LogEntry;
use super::state::{Assignment, Clock, Invite, InviteSelector, Settle, Site, State, timestamp};
use super::wire::FieldViolation;

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_emulator/state", get(get_state))
        .route("/_emulator/invites", get(get_invites))
        .route("/_emulator/log", get(get_log).delete(clear_log))
        .route("/_emulator/invites/accept", post(accept))
        .route("/_emulator/invites/decline", post(decline))
        .route("/_emulator/invites/expire", post(expire))
        .route(
            "/_emulator/contributors",
            put(put_contributor).delete(delete_contributor),
        )
        .route("/_emulator/clock", get(get_clock).put(put_clock))
        .route(
            "/_emulator/faults",
            get(get_faults).put(put_faults).delete(clear_faults),
        )
        .route("/_emulator/stats", get(get_stats).delete(clear_stats))
}

// --------------------------------------------------------------- views

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StateView {
    pub now: String,
    pub sites: Vec<SiteView>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SiteView {
    pub id: String,
    pub owner_account_id: String,
    pub seat_limit: u32,
    pub seats_used: usize,
    /// Non-owner contributors, sorted by account id.
    pub contributors: Vec<ContributorView>,
    /// Every invite ever made on the site, oldest first.
    pub invites: Vec<InviteView>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContributorView {
    pub account_id: String,
    pub role_ids: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InviteView {
    pub id: String,
    pub email: String,
    pub policy_ids: Vec<String>,
    pub status: &'static str,
    pub accepted_by_account_id: Option<String>,
    pub date_created: String,
    pub expiration_date: String,
}

/// One entry of `GET /_emulator/invites`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InviteRecordView {
    pub site_id: String,
    #[serde(flatten)]
    pub invite: InviteView,
    pub replaced_by: Option<String>,
}

fn contributor_view(account_id: &str, roles: &[Assignment]) -> ContributorView {
    ContributorView {
        account_id: account_id.to_owned(),
        role_ids: roles.iter().map(|a| a.role_id.clone()).collect(),
    }
}

fn invite_view(inv: &Invite) -> InviteView {
    InviteView {
        id: inv.id.clone(),
        email: inv.email.clone(),
        policy_ids: inv.policy_ids.clone(),
        status: inv.status.as_wire(),
        accepted_by_account_id: inv.accepted_by.clone(),
        date_created: timestamp(inv.created),
        expiration_date: timestamp(inv.expires),
    }
}

fn site_view(site: &Site) -> SiteView {
    SiteView {
        id: site.id.clone(),
        owner_account_id: site.owner.clone(),
        seat_limit: site.seat_limit,
        seats_used: site.seats_used(),
        contributors: site
            .contributors
            .iter()
            .map(|(id, roles)| contributor_view(id, roles))
            .collect(),
        invites: site.invites.iter().map(invite_view).collect(),
    }
}

pub fn state_view(st: &State) -> StateView {
    StateView {
        now: timestamp(st.now()),
        sites: st.sites.values().map(site_view).collect(),
    }
}

// ------------------------------------------------------------- requests

/// Which invite: `inviteId`, or `siteId` + `email`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SettleRequest {
    invite_id: Option<String>,
    site_id: Option<String>,
    email: Option<String>,
    account_id: Option<String>,
}

impl SettleRequest {
    fn selector(&self) -> Result<InviteSelector, ApiError> {
        match (&self.invite_id, &self.site_id, &self.email) {
            (Some(id), _, _) => Ok(InviteSelector::ById(id.clone())),
            (None, Some(site_id), Some(email)) => Ok(InviteSelector::BySiteEmail {
                site_id: site_id.clone(),
                email: email.clone(),
            }),
            _ => Err(ApiError::invalid_argument(
                "give inviteId, or siteId and email",
            )),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ExpireRequest {
    invite_id: Option<String>,
    site_id: Option<String>,
    email: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PutContributorRequest {
    site_id: String,
    account_id: String,
    role_ids: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DeleteContributorRequest {
    site_id: String,
    account_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ClockRequest {
    now: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SettleResponse {
    site_id: String,
    invite: InviteView,
    #[serde(skip_serializing_if = "Option::is_none")]
    contributor: Option<ContributorView>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ExpireResponse {
    expired: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ClockResponse {
    now: String,
}

// ------------------------------------------------------------- handlers

/// The views of every site expire what is due everywhere first (expiry is
/// otherwise swept per site, when a request touches it).
async fn get_state(AxState(shared): AxState<Arc<Shared>>) -> Json<StateView> {
    let mut st = shared.state();
    st.sweep_all_expired();
    Json(state_view(&st))
}

async fn get_invites(AxState(shared): AxState<Arc<Shared>>) -> Json<Vec<InviteRecordView>> {
    let mut st = shared.state();
    st.sweep_all_expired();
    let all = st
        .sites
        .values()
        .flat_map(|site| {
            site.invites.iter().map(|inv| InviteRecordView {
                site_id: site.id.clone(),
                invite: invite_view(inv),
                replaced_by: inv.replaced_by.clone(),
            })
        })
        .collect();
    Json(all)
}

async fn get_log(AxState(shared): AxState<Arc<Shared>>) -> Json<Vec<LogEntry>> {
    Json(shared.log().entries())
}

async fn clear_log(AxState(shared): AxState<Arc<Shared>>) -> Json<serde_json::Value> {
    shared.log().clear();
    Json(serde_json::json!({}))
}

async fn accept(
    AxState(shared): AxState<Arc<Shared>>,
    body: Bytes,
) -> Result<Json<SettleResponse>, ApiError> {
    let req: SettleRequest = require_body(&body)?;
    let selector = req.selector()?;
    let Some(account_id) = req.account_id.filter(|a| !a.trim().is_empty()) else {
        return Err(ApiError::violation("accountId", "is required to accept"));
    };
    let mut st = shared.state();
    let (site_id, inv) = st.settle_invite(
        &selector,
        Settle::Accept {
            account_id: account_id.clone(),
        },
    )?;
    let contributor = st
        .sites
        .get(&site_id)
        .and_then(|s| s.contributors.get(&account_id))
        .map(|roles| contributor_view(&account_id, roles));
    Ok(Json(SettleResponse {
        site_id,
        invite: invite_view(&inv),
        contributor,
    }))
}

async fn decline(
    AxState(shared): AxState<Arc<Shared>>,
    body: Bytes,
) -> Result<Json<SettleResponse>, ApiError> {
    let req: SettleRequest = require_body(&body)?;
    let selector = req.selector()?;
    let (site_id, inv) = shared.state().settle_invite(&selector, Settle::Decline)?;
    Ok(Json(SettleResponse {
        site_id,
        invite: invite_view(&inv),
        contributor: None,
    }))
}

async fn expire(
    AxState(shared): AxState<Arc<Shared>>,
    body: Bytes,
) -> Result<Json<ExpireResponse>, ApiError> {
    let req: ExpireRequest = require_body(&body)?;
    let expired = shared.state().expire(
        req.site_id.as_deref(),
        req.email.as_deref(),
        req.invite_id.as_deref(),
    )?;
    Ok(Json(ExpireResponse { expired }))
}

async fn put_contributor(
    AxState(shared): AxState<Arc<Shared>>,
    body: Bytes,
) -> Result<Json<ContributorView>, ApiError> {
    let req: PutContributorRequest = require_body(&body)?;
    let assigned = shared
        .state()
        .put_contributor(&req.site_id, &req.account_id, &req.role_ids)?;
    Ok(Json(contributor_view(&req.account_id, &assigned)))
}

async fn delete_contributor(
    AxState(shared): AxState<Arc<Shared>>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let req: DeleteContributorRequest = require_body(&body)?;
    shared
        .state()
        .delete_contributor(&req.site_id, &req.account_id)?;
    Ok(Json(serde_json::json!({})))
}

async fn get_clock(AxState(shared): AxState<Arc<Shared>>) -> Json<ClockResponse> {
    Json(ClockResponse {
        now: timestamp(shared.state().now()),
    })
}

/// Freeze the clock at an instant. Moving it forward past an invite's
/// expiration date expires the invite on the next request that looks at
/// its site (or at every site).
async fn put_clock(
    AxState(shared): AxState<Arc<Shared>>,
    body: Bytes,
) -> Result<Json<ClockResponse>, ApiError> {
    let req: ClockRequest = require_body(&body)?;
    let t = OffsetDateTime::parse(&req.now, &Rfc3339).map_err(|e| {
        ApiError::violation(
            "now",
            format!("{:?} is not an RFC 3339 timestamp: {e}", req.now),
        )
    })?;
    let mut st = shared.state();
    st.set_clock(Clock::Fixed(t));
    Ok(Json(ClockResponse {
        now: timestamp(st.now()),
    }))
}

async fn get_faults(AxState(shared): AxState<Arc<Shared>>) -> Json<FaultConfig> {
    Json(shared.faults().config().clone())
}

/// Replace the whole fault configuration; every problem is reported as a
/// field violation and leaves the current configuration in place.
async fn put_faults(
    AxState(shared): AxState<Arc<Shared>>,
    body: Bytes,
) -> Result<Json<FaultConfig>, ApiError> {
    let config: FaultConfig = require_body(&body)?;
    let mut faults = shared.faults();
    faults.replace(config).map_err(|problems| {
        ApiError::validation(
            problems
                .into_iter()
                .map(|(field, description)| FieldViolation { field, description })
                .collect(),
        )
    })?;
    Ok(Json(faults.config().clone()))
}

async fn clear_faults(AxState(shared): AxState<Arc<Shared>>) -> Json<FaultConfig> {
    let mut faults = shared.faults();
    // The empty configuration is always valid.
    let _ = faults.replace(FaultConfig::default());
    Json(faults.config().clone())
}

async fn get_stats(AxState(shared): AxState<Arc<Shared>>) -> Json<StatsView> {
    Json(shared.faults().stats())
}

async fn clear_stats(AxState(shared): AxState<Arc<Shared>>) -> Json<StatsView> {
    let mut faults = shared.faults();
    faults.reset_stats();
    Json(faults.stats())
}
