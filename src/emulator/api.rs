//! Handlers for the emulated Wix REST endpoints: authentication and header
//! checks as Wix documents them, then one call into [`State`] under the lock.
//!
//! Checks run in a fixed order so tests can rely on it: API key (401), then
//! id header (400), then site existence (404), then site ownership (403),
//! then the body (400), then the operation's own rules.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as AxState};
use axum::http::{HeaderMap, header};
use serde::de::DeserializeOwned;

use super::Shared;
use super::error::ApiError;
use super::state::{RestrictFromLevel, State};
use super::wire::{
    BulkInviteRequest, BulkInviteResponse, ChangeRoleRequest, ChangeRoleResponse, Empty,
    GetRolesInfoResponse, QuerySiteContributorsResponse, RemoveContributorRequest,
    ResendInviteRequest, ResendInviteResponse,
};

type ApiResult<T> = Result<Json<T>, ApiError>;

// ------------------------------------------------------------- helpers

/// A header as text; `Ok(None)` when absent or blank.
fn header_value<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => match v.to_str() {
            Ok(s) if s.trim().is_empty() => Ok(None),
            Ok(s) => Ok(Some(s.trim())),
            Err(_) => Err(ApiError::invalid_argument(format!(
                "header {name} is not valid text"
            ))),
        },
    }
}

/// The account behind the raw `Authorization` key (no `Bearer` prefix, as
/// Wix documents; a prefixed key is simply an unknown key). Messages never
/// contain the key.
fn authenticate(st: &State, headers: &HeaderMap) -> Result<String, ApiError> {
    let Some(raw) = headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::unauthenticated("missing Authorization header"));
    };
    let key = raw
        .to_str()
        .map_err(|_| ApiError::unauthenticated("Authorization header is not a valid API key"))?
        .trim();
    if key.is_empty() {
        return Err(ApiError::unauthenticated("empty Authorization header"));
    }
    st.account_for_key(key)
        .map(str::to_owned)
        .ok_or_else(|| ApiError::unauthenticated("the API key is not valid"))
}

/// Site-level auth: key, `wix-site-id`, existence, ownership. Only a key of
/// the site-owning account may manage the site (Wix docs).
fn authorize_site(st: &State, headers: &HeaderMap) -> Result<String, ApiError> {
    let account = authenticate(st, headers)?;
    let Some(site_id) = header_value(headers, "wix-site-id")? else {
        return Err(ApiError::invalid_argument("missing wix-site-id header"));
    };
    check_site_owner(st, site_id, &account)?;
    Ok(site_id.to_owned())
}

fn check_site_owner(st: &State, site_id: &str, account: &str) -> Result<(), ApiError> {
    let Some(site) = st.sites.get(site_id) else {
        return Err(ApiError::not_found(format!("site {site_id:?} not found")));
    };
    if site.owner != account {
        return Err(ApiError::permission_denied(format!(
            "this API key belongs to account {account:?}, which does not own site {site_id:?}"
        )));
    }
    Ok(())
}

/// Parse a JSON body into `T`, with Wix-shaped 400s. `None` for an empty
/// body, which the caller accepts only where the body is optional.
pub(super) fn parse_body<T: DeserializeOwned>(body: &Bytes) -> Result<Option<T>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|e| ApiError::invalid_argument(format!("malformed JSON body: {e}")))
}

pub(super) fn require_body<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    parse_body(body)?.ok_or_else(|| ApiError::invalid_argument("a JSON request body is required"))
}

/// Split a raw query string into decoded pairs, keeping repeated keys
/// (`filter.policyIds=A&filter.policyIds=B`), which axum's `Query` would not.
pub(super) fn parse_query(raw: Option<&str>) -> Vec<(String, String)> {
    raw.unwrap_or_default()
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a
/// byte; malformed escapes are kept literally.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ------------------------------------------------------------ handlers

/// `GET /roles-management/roles`. Which id header Wix requires here is
/// unconfirmed, so either is accepted (both are checked when both are sent).
pub async fn get_roles_info(
    AxState(shared): AxState<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult<GetRolesInfoResponse> {
    let st = shared.state();
    let account = authenticate(&st, &headers)?;
    let account_hdr = header_value(&headers, "wix-account-id")?;
    let site_hdr = header_value(&headers, "wix-site-id")?;
    if account_hdr.is_none() && site_hdr.is_none() {
        return Err(ApiError::invalid_argument(
            "missing wix-account-id (or wix-site-id) header",
        ));
    }
    if let Some(a) = account_hdr
        && a != account
    {
        return Err(ApiError::permission_denied(format!(
            "this API key does not belong to account {a:?}"
        )));
    }
    if let Some(site_id) = site_hdr {
        check_site_owner(&st, site_id, &account)?;
    }
    let mut exclude = None;
    for (k, v) in parse_query(query.as_deref()) {
        // The snake_case spelling is what one third-party script sends.
        if k == "filter.roleLevel" || k == "filter.role_level" {
            exclude = match v.as_str() {
                "ALL" => None,
                "SITE_LEVEL" => Some(RestrictFromLevel::Site),
                "ACCOUNT_LEVEL" => Some(RestrictFromLevel::Account),
                other => {
                    return Err(ApiError::violation(
                        "filter.roleLevel",
                        format!("{other:?} is not one of ALL, SITE_LEVEL, ACCOUNT_LEVEL"),
                    ));
                }
            };
        }
        // `locale` is accepted and ignored: the emulator's titles are English.
    }
    Ok(Json(st.roles_info(&account, exclude)))
}

/// `GET /roles-management/v2/contributors/query[?filter.policyIds=…]*`.
pub async fn query_contributors(
    AxState(shared): AxState<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult<QuerySiteContributorsResponse> {
    let st = shared.state();
    let site_id = authorize_site(&st, &headers)?;
    let mut policy_ids = Vec::new();
    for (k, v) in parse_query(query.as_deref()) {
        if k == "filter.policyIds" {
            if v.is_empty() {
                return Err(ApiError::violation(
                    "filter.policyIds",
                    "must not be an empty string",
                ));
            }
            policy_ids.push(v);
        }
    }
    Ok(Json(st.query_contributors(&site_id, &policy_ids)?))
}

/// `POST /invites/site-invite/bulk`.
pub async fn bulk_invite(
    AxState(shared): AxState<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<BulkInviteResponse> {
    let mut st = shared.state();
    let site_id = authorize_site(&st, &headers)?;
    let req: BulkInviteRequest = require_body(&body)?;
    Ok(Json(st.bulk_invite(&site_id, req)?))
}

/// `POST /invites/site-invite/{inviteId}/resend` (body optional).
pub async fn resend_invite(
    AxState(shared): AxState<Arc<Shared>>,
    Path(invite_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<ResendInviteResponse> {
    let mut st = shared.state();
    let site_id = authorize_site(&st, &headers)?;
    let _: Option<ResendInviteRequest> = parse_body(&body)?;
    let invite = st.resend(&site_id, &invite_id)?;
    Ok(Json(ResendInviteResponse { invite }))
}

/// `POST /invites/site-invite/{inviteId}/revoke` (no body; any is ignored).
pub async fn revoke_invite(
    AxState(shared): AxState<Arc<Shared>>,
    Path(invite_id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Empty> {
    let mut st = shared.state();
    let site_id = authorize_site(&st, &headers)?;
    st.revoke(&site_id, &invite_id)?;
    Ok(Json(Empty {}))
}

/// `PUT /roles-management/contributor/change/role`.
pub async fn change_role(
    AxState(shared): AxState<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<ChangeRoleResponse> {
    let mut st = shared.state();
    let site_id = authorize_site(&st, &headers)?;
    let req: ChangeRoleRequest = require_body(&body)?;
    Ok(Json(st.change_role(&site_id, req)?))
}

/// `POST` or `DELETE /roles-management/contributor/remove`, whichever the
/// seed chose (see `remove_method`).
pub async fn remove_contributor(
    AxState(shared): AxState<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Empty> {
    let mut st = shared.state();
    let site_id = authorize_site(&st, &headers)?;
    let req: RemoveContributorRequest = require_body(&body)?;
    st.remove_contributor(&site_id, req.account_id)?;
    Ok(Json(Empty {}))
}

/// 405 for any other method on a known Wix path.
pub async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed(None)
}

/// 404 for paths the emulator does not implement. Notably there is no
/// endpoint that lists invites or maps emails to accounts: Wix has none.
pub async fn unknown_endpoint() -> ApiError {
    ApiError::not_found("no such endpoint")
}
