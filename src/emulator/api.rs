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
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use serde::de::DeserializeOwned;

use super::Shared;
use super::error::ApiError;
use super::quirks::{
    self, AccountOwnerId, ContributorsAnswer, NotFoundBody, OwnerListed, ParamPlace, RoleFilter,
    RolesIdHeader,
};
use super::state::{RestrictFromLevel, State};
use super::wire::{
    BulkInviteRequest, BulkInviteResponse, ChangeRoleRequest, ChangeRoleResponse, Empty,
    GetRolesInfoResponse, RemoveContributorRequest, ResendInviteRequest, ResendInviteResponse,
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
/// `application/x-www-form-urlencoded` decoding (`form_urlencoded`): `+` is
/// a space, `%XX` a byte; malformed escapes are kept literally.
pub(super) fn parse_query(raw: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

// ------------------------------------------------------------ handlers

/// `GET /roles-management/roles`. Which id header Wix requires here is
/// unconfirmed: by default either is accepted (both are checked when both
/// are sent); the `roles_id_header` quirk accepts only one.
pub async fn get_roles_info(
    AxState(shared): AxState<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult<GetRolesInfoResponse> {
    let st = shared.state();
    let account = authenticate(&st, &headers)?;
    let mut account_hdr = header_value(&headers, "wix-account-id")?;
    let mut site_hdr = header_value(&headers, "wix-site-id")?;
    match shared.quirks.roles_id_header {
        RolesIdHeader::Either => {}
        // The other header is ignored, as a gateway ignores headers it does
        // not route on.
        RolesIdHeader::Account => site_hdr = None,
        RolesIdHeader::Site => account_hdr = None,
    }
    if account_hdr.is_none() && site_hdr.is_none() {
        return Err(ApiError::invalid_argument(
            match shared.quirks.roles_id_header {
                RolesIdHeader::Either => "missing wix-account-id (or wix-site-id) header",
                RolesIdHeader::Account => "missing wix-account-id header",
                RolesIdHeader::Site => "missing wix-site-id header",
            },
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

/// `GET /roles-management/v2/contributors/query[?filter.policyIds=…]*`,
/// as the quirks read it (`quirks.rs`).
pub async fn query_contributors(
    AxState(shared): AxState<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Json<serde_json::Value>, ApiError> {
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
    let quirks = &shared.quirks;
    if quirks.contributors_answer == ContributorsAnswer::Empty {
        st.site(&site_id)?;
        return Ok(Json(serde_json::json!({})));
    }
    if quirks.role_filter == RoleFilter::Ignored {
        policy_ids.clear();
    }
    let mut answer = st.query_contributors(&site_id, &policy_ids)?;
    let owner = st.site(&site_id)?.owner.clone();
    if quirks.owner_listed == OwnerListed::Hidden {
        answer.contributors.retain(|c| c.account_id != owner);
    }
    for c in &mut answer.contributors {
        c.account_owner_id = match quirks.account_owner_id {
            AccountOwnerId::SiteAccount => Some(owner.clone()),
            AccountOwnerId::OwnerUserId => Some(quirks::owner_user_id(&owner)),
            AccountOwnerId::PerContributor => Some(c.account_id.clone()),
            AccountOwnerId::Omitted => None,
        };
    }
    serde_json::to_value(answer)
        .map(Json)
        .map_err(|e| ApiError::invalid_argument(format!("cannot encode the answer: {e}")))
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
/// An invite that is not pending is a 404 with Wix's `NOT_FOUND` body, or
/// an empty 404 under the `revoke_not_found: bare` quirk.
pub async fn revoke_invite(
    AxState(shared): AxState<Arc<Shared>>,
    Path(invite_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut st = shared.state();
    let site_id = match authorize_site(&st, &headers) {
        Ok(site_id) => site_id,
        Err(e) => return e.into_response(),
    };
    match st.revoke(&site_id, &invite_id) {
        Ok(()) => Json(Empty {}).into_response(),
        Err(e)
            if e.status() == StatusCode::NOT_FOUND
                && shared.quirks.revoke_not_found == NotFoundBody::Bare =>
        {
            StatusCode::NOT_FOUND.into_response()
        }
        Err(e) => e.into_response(),
    }
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
/// seed chose (see `remove_method`); `accountId` is read from the body or
/// the query string as the `remove_param` quirk says.
pub async fn remove_contributor(
    AxState(shared): AxState<Arc<Shared>>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> ApiResult<Empty> {
    let mut st = shared.state();
    let site_id = authorize_site(&st, &headers)?;
    let place = shared
        .quirks
        .remove_param
        .unwrap_or(if method == Method::DELETE {
            ParamPlace::Query
        } else {
            ParamPlace::Body
        });
    let account_id = match place {
        ParamPlace::Body => require_body::<RemoveContributorRequest>(&body)?.account_id,
        ParamPlace::Query => {
            let from_query = parse_query(query.as_deref())
                .into_iter()
                .find(|(k, _)| k == "accountId")
                .map(|(_, v)| v);
            if from_query.is_none() {
                return Err(ApiError::violation(
                    "accountId",
                    "is required (as a query parameter)",
                ));
            }
            from_query
        }
    };
    st.remove_contributor(&site_id, account_id)?;
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

#[cfg(test)]
mod tests {
    use super::parse_query;

    fn pairs(raw: &str) -> Vec<(String, String)> {
        parse_query(Some(raw))
    }

    #[test]
    fn query_strings_decode_as_forms_do() {
        assert_eq!(parse_query(None), []);
        assert_eq!(
            pairs("filter.policyIds=A&&filter.policyIds=B&flag"),
            [
                ("filter.policyIds".into(), "A".into()),
                ("filter.policyIds".into(), "B".into()),
                ("flag".into(), String::new())
            ]
        );
        // `+` is a space, `%2B` a plus; `=` after the first is the value's.
        assert_eq!(
            pairs("q=a+b%2Bc%20d&e=f=g"),
            [("q".into(), "a b+c d".into()), ("e".into(), "f=g".into())]
        );
        // Malformed escapes stay as they are; bytes that are not UTF-8
        // become U+FFFD.
        assert_eq!(
            pairs("a=%zz%4&b=%&c=%C3%A9%FF"),
            [
                ("a".into(), "%zz%4".into()),
                ("b".into(), "%".into()),
                ("c".into(), "é\u{FFFD}".into())
            ]
        );
    }
}
