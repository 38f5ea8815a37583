//! GA4 Admin API access bindings (`/v1alpha/{accounts|properties}/{id}/accessBindings…`),
//! with Google's rules as far as they are documented (other-platforms.md §1
//! and its corrections):
//!
//! - list: `pageSize` default 200, at most 500 (larger is coerced), and a
//!   later page must repeat the first call's `pageSize` (else 400);
//! - create: 409 `ALREADY_EXISTS` when the parent already has a binding for
//!   that (lower-cased) email; 400 for an email that is not a Google Account
//!   (seed `not_google_accounts`) or an unknown role;
//! - patch replaces `roles`; empty `roles` deletes the binding;
//! - `:batchCreate` is transactional (one bad item: nothing created, 400
//!   naming the item); `:batchUpdate` and `:batchDelete` are **not**: items
//!   before the bad one take effect, then the error;
//! - deletions per parent per emulator day (the Wix clock's UTC date) are
//!   capped at `deletions_per_day` (Google: 500 per property); past it a
//!   deletion is refused with 429 `RESOURCE_EXHAUSTED`, reason
//!   `dailyLimitExceeded` (Google's quota answers are 403 or 429; a daily
//!   cap is not worth retrying, so the reason says so);
//! - every call needs a token with the read-only or the full scope (writes:
//!   the full scope only) whose service account holds `predefinedRoles/admin`
//!   on the parent or, for a property, on its account.
//!
//! The test control `GET /_emulator/google/ga4` lists every binding.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::Date;

use super::super::Shared;
use super::{GoogleError, error};
use crate::providers::google::scopes;

/// Endpoint names for fault rules and stats.
pub const ENDPOINTS: &[&str] = &[
    "ga4.list",
    "ga4.create",
    "ga4.patch",
    "ga4.delete",
    "ga4.batchCreate",
    "ga4.batchUpdate",
    "ga4.batchDelete",
];

/// Google's documented roles.
pub const PREDEFINED_ROLES: &[&str] = &[
    "predefinedRoles/viewer",
    "predefinedRoles/analyst",
    "predefinedRoles/editor",
    "predefinedRoles/admin",
    "predefinedRoles/no-cost-data",
    "predefinedRoles/no-revenue-data",
];

const ADMIN: &str = "predefinedRoles/admin";
const DEFAULT_PAGE_SIZE: usize = 200;
const MAX_PAGE_SIZE: usize = 500;
const MAX_BATCH: usize = 1000;
const DEFAULT_DELETIONS_PER_DAY: u32 = 500;

// ----------------------------------------------------------------- seed

/// The seed's `google.ga4` block.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    #[serde(default)]
    pub accounts: Vec<SeedAccount>,
    #[serde(default)]
    pub bindings: Vec<SeedBinding>,
    /// Emails refused as "not a Google Account".
    #[serde(default)]
    pub not_google_accounts: Vec<String>,
    /// Deletions a parent takes per emulator day (default 500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletions_per_day: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedAccount {
    pub id: String,
    #[serde(default)]
    pub properties: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedBinding {
    /// `accounts/100` or `properties/200`.
    pub parent: String,
    pub user: String,
    /// `predefinedRoles/…`, or a custom role name (anything containing
    /// `/roles/`), kept verbatim.
    pub roles: Vec<String>,
}

// ---------------------------------------------------------------- state

#[derive(Debug, Clone)]
struct Binding {
    /// The opaque id (last segment of the name).
    id: String,
    user: String,
    roles: Vec<String>,
}

#[derive(Debug, Default)]
pub struct State {
    /// Account id → its property ids.
    accounts: BTreeMap<String, BTreeSet<String>>,
    /// Property id → its account id.
    property_account: BTreeMap<String, String>,
    /// Parent (`accounts/1`, `properties/2`) → bindings in creation order.
    bindings: BTreeMap<String, Vec<Binding>>,
    not_google: BTreeSet<String>,
    deletions_per_day: u32,
    /// (parent, day) → deletions so far.
    deletions: BTreeMap<(String, Date), u32>,
    next: u64,
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

impl State {
    fn new_id(&mut self) -> String {
        self.next += 1;
        format!("{:x}", self.next.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 8)
    }

    fn parent_exists(&self, parent: &str) -> bool {
        match parent.split_once('/') {
            Some(("accounts", id)) => self.accounts.contains_key(id),
            Some(("properties", id)) => self.property_account.contains_key(id),
            _ => false,
        }
    }

    fn holds_admin(&self, parent: &str, email: &str) -> bool {
        self.bindings.get(parent).is_some_and(|list| {
            list.iter()
                .any(|b| b.user.eq_ignore_ascii_case(email) && b.roles.iter().any(|r| r == ADMIN))
        })
    }

    /// The caller may manage `parent`: admin on it or on its account.
    fn may_manage(&self, parent: &str, email: &str) -> bool {
        if self.holds_admin(parent, email) {
            return true;
        }
        match parent.split_once('/') {
            Some(("properties", id)) => self
                .property_account
                .get(id)
                .is_some_and(|account| self.holds_admin(&format!("accounts/{account}"), email)),
            _ => false,
        }
    }

    fn find(&self, parent: &str, email: &str) -> Option<&Binding> {
        self.bindings
            .get(parent)?
            .iter()
            .find(|b| b.user.eq_ignore_ascii_case(email))
    }

    fn deletions_today(&self, parent: &str, day: Date) -> u32 {
        self.deletions
            .get(&(parent.to_string(), day))
            .copied()
            .unwrap_or(0)
    }
}

pub(super) fn build(seed: &Seed, problems: &mut Vec<String>) -> State {
    let mut state = State {
        deletions_per_day: seed.deletions_per_day.unwrap_or(DEFAULT_DELETIONS_PER_DAY),
        ..State::default()
    };
    for (i, account) in seed.accounts.iter().enumerate() {
        if !digits(&account.id) {
            problems.push(format!(
                "ga4.accounts[{i}].id: `{}` is not a numeric id",
                account.id
            ));
        }
        if state.accounts.contains_key(&account.id) {
            problems.push(format!(
                "ga4.accounts[{i}].id: account {} is listed twice",
                account.id
            ));
        }
        let mut props = BTreeSet::new();
        for (j, p) in account.properties.iter().enumerate() {
            if !digits(p) {
                problems.push(format!(
                    "ga4.accounts[{i}].properties[{j}]: `{p}` is not a numeric id"
                ));
            }
            if let Some(other) = state.property_account.insert(p.clone(), account.id.clone()) {
                problems.push(format!(
                    "ga4.accounts[{i}].properties[{j}]: property {p} already belongs to account {other}"
                ));
            }
            props.insert(p.clone());
        }
        state.accounts.insert(account.id.clone(), props);
    }
    for (i, b) in seed.bindings.iter().enumerate() {
        let at = format!("ga4.bindings[{i}]");
        if !state.parent_exists(&b.parent) {
            problems.push(format!(
                "{at}.parent: `{}` is not a seeded `accounts/ID` or `properties/ID`",
                b.parent
            ));
        }
        if !b.user.contains('@') {
            problems.push(format!("{at}.user: `{}` is not an email", b.user));
        }
        if b.roles.is_empty() {
            problems.push(format!("{at}.roles: a binding holds at least one role"));
        }
        for r in &b.roles {
            if !PREDEFINED_ROLES.contains(&r.as_str()) && !r.contains("/roles/") {
                problems.push(format!(
                    "{at}.roles: `{r}` is neither one of {} nor a custom role (`…/roles/…`)",
                    PREDEFINED_ROLES.join(", ")
                ));
            }
        }
        if state.find(&b.parent, &b.user).is_some() {
            problems.push(format!(
                "{at}: {} already has a binding on {}",
                b.user, b.parent
            ));
        }
        let id = state.new_id();
        state
            .bindings
            .entry(b.parent.clone())
            .or_default()
            .push(Binding {
                id,
                user: b.user.clone(),
                roles: b.roles.clone(),
            });
    }
    state.not_google = seed
        .not_google_accounts
        .iter()
        .map(|e| e.to_lowercase())
        .collect();
    state
}

// --------------------------------------------------------------- routes

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new().route("/v1alpha/{*rest}", any(dispatch))
}

pub(super) fn controls() -> Router<Arc<Shared>> {
    Router::new().route("/_emulator/google/ga4", get(control_list))
}

/// What a path and method ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    List { parent: String },
    Create { parent: String },
    Patch { parent: String, id: String },
    Delete { parent: String, id: String },
    BatchCreate { parent: String },
    BatchUpdate { parent: String },
    BatchDelete { parent: String },
}

impl Call {
    fn endpoint(&self) -> &'static str {
        match self {
            Call::List { .. } => "ga4.list",
            Call::Create { .. } => "ga4.create",
            Call::Patch { .. } => "ga4.patch",
            Call::Delete { .. } => "ga4.delete",
            Call::BatchCreate { .. } => "ga4.batchCreate",
            Call::BatchUpdate { .. } => "ga4.batchUpdate",
            Call::BatchDelete { .. } => "ga4.batchDelete",
        }
    }
}

fn parse_call(method: &str, path: &str) -> Option<Call> {
    let rest = path.strip_prefix("/v1alpha/")?;
    let parts: Vec<&str> = rest.split('/').collect();
    let parent = |kind: &str, id: &str| {
        (matches!(kind, "accounts" | "properties") && digits(id)).then(|| format!("{kind}/{id}"))
    };
    match parts.as_slice() {
        [kind, id, "accessBindings"] => {
            let parent = parent(kind, id)?;
            match method {
                "GET" => Some(Call::List { parent }),
                "POST" => Some(Call::Create { parent }),
                _ => None,
            }
        }
        [kind, id, tail] if method == "POST" => {
            let parent = parent(kind, id)?;
            match *tail {
                "accessBindings:batchCreate" => Some(Call::BatchCreate { parent }),
                "accessBindings:batchUpdate" => Some(Call::BatchUpdate { parent }),
                "accessBindings:batchDelete" => Some(Call::BatchDelete { parent }),
                _ => None,
            }
        }
        [kind, pid, "accessBindings", id] if !id.is_empty() => {
            let parent = parent(kind, pid)?;
            let id = id.to_string();
            match method {
                "PATCH" => Some(Call::Patch { parent, id }),
                "DELETE" => Some(Call::Delete { parent, id }),
                _ => None,
            }
        }
        _ => None,
    }
}

pub(super) fn endpoint_of(method: &str, path: &str) -> Option<&'static str> {
    parse_call(method, path).map(|c| c.endpoint())
}

// ----------------------------------------------------------------- wire

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireBinding {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateItem {
    #[serde(default)]
    parent: Option<String>,
    access_binding: WireBinding,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateItem {
    access_binding: WireBinding,
}

#[derive(Debug, Deserialize)]
struct DeleteItem {
    name: String,
}

#[derive(Debug, Deserialize)]
struct Batch<T> {
    #[serde(default = "Vec::new")]
    requests: Vec<T>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ListAnswer {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    access_bindings: Vec<WireBinding>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

fn wire(parent: &str, b: &Binding) -> WireBinding {
    WireBinding {
        name: Some(format!("{parent}/accessBindings/{}", b.id)),
        user: Some(b.user.clone()),
        roles: b.roles.clone(),
    }
}

fn bad(message: impl Into<String>) -> GoogleError {
    error(StatusCode::BAD_REQUEST, "invalid", message)
}

fn not_found(message: impl Into<String>) -> GoogleError {
    error(StatusCode::NOT_FOUND, "notFound", message)
}

fn parse_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, GoogleError> {
    serde_json::from_slice(body).map_err(|e| bad(format!("Invalid JSON payload received. {e}")))
}

// ------------------------------------------------------------- handlers

async fn dispatch(
    AxState(shared): AxState<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(call) = parse_call(method.as_str(), uri.path()) else {
        return not_found(format!(
            "Method not found: {} {}",
            method.as_str(),
            uri.path()
        ))
        .into_response();
    };
    // The Wix clock says what day it is (for the deletion cap); taken
    // before the Google lock, so the two locks are never held together.
    let today = shared.state().now().date();
    let mut google = shared.google();
    let read = matches!(call, Call::List { .. });
    let accepted: &[&str] = if read {
        &[scopes::GA4_READ, scopes::GA4_WRITE]
    } else {
        &[scopes::GA4_WRITE]
    };
    let issued = match google.tokens.authorize(&headers, accepted) {
        Ok(issued) => issued,
        Err(e) => return e.into_response(),
    };
    let st = &mut google.ga4;
    let parent = match &call {
        Call::List { parent }
        | Call::Create { parent }
        | Call::Patch { parent, .. }
        | Call::Delete { parent, .. }
        | Call::BatchCreate { parent }
        | Call::BatchUpdate { parent }
        | Call::BatchDelete { parent } => parent.clone(),
    };
    if !st.parent_exists(&parent) {
        return not_found(format!("{parent} was not found.")).into_response();
    }
    if !st.may_manage(&parent, &issued.client_email) {
        return error(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "The caller does not have permission: {} needs the admin role on {parent}",
                issued.client_email
            ),
        )
        .into_response();
    }
    let query = uri.query().unwrap_or_default();
    let result =
        match call {
            Call::List { .. } => list(st, &parent, query),
            Call::Create { .. } => parse_body::<WireBinding>(&body)
                .and_then(|b| create_one(st, &parent, &b, ""))
                .map(|b| json!(b)),
            Call::Patch { id, .. } => parse_body::<WireBinding>(&body)
                .and_then(|b| update_one(st, &parent, &id, &b.roles, today, ""))
                .map(|b| json!(b.unwrap_or_default())),
            Call::Delete { id, .. } => delete_one(st, &parent, &id, today, "").map(|()| json!({})),
            Call::BatchCreate { .. } => {
                parse_body::<Batch<CreateItem>>(&body).and_then(|b| batch_create(st, &parent, b))
            }
            Call::BatchUpdate { .. } => parse_body::<Batch<UpdateItem>>(&body)
                .and_then(|b| batch_update(st, &parent, b, today)),
            Call::BatchDelete { .. } => parse_body::<Batch<DeleteItem>>(&body)
                .and_then(|b| batch_delete(st, &parent, b, today)),
        };
    match result {
        Ok(value) => (StatusCode::OK, Json(value)).into_response(),
        Err(e) => e.into_response(),
    }
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn list(st: &State, parent: &str, query: &str) -> Result<Value, GoogleError> {
    let size = match query_param(query, "pageSize") {
        None | Some("") => DEFAULT_PAGE_SIZE,
        Some(text) => match text.parse::<i64>() {
            Ok(n) if n < 0 => return Err(bad("page_size must be positive")),
            Ok(0) => DEFAULT_PAGE_SIZE,
            Ok(n) => usize::try_from(n)
                .unwrap_or(MAX_PAGE_SIZE)
                .min(MAX_PAGE_SIZE),
            Err(_) => return Err(bad(format!("Invalid value for pageSize: `{text}`"))),
        },
    };
    let offset = match query_param(query, "pageToken") {
        None | Some("") => 0,
        Some(token) => {
            let (offset, first_size) = token
                .strip_prefix("p")
                .and_then(|t| t.split_once('s'))
                .and_then(|(o, s)| Some((o.parse::<usize>().ok()?, s.parse::<usize>().ok()?)))
                .ok_or_else(|| bad("Invalid page token."))?;
            if first_size != size {
                return Err(bad(
                    "The page token does not match the request: later pages must repeat the first call's pageSize.",
                ));
            }
            offset
        }
    };
    let all = st.bindings.get(parent).map(Vec::as_slice).unwrap_or(&[]);
    let page: Vec<WireBinding> = all
        .iter()
        .skip(offset)
        .take(size)
        .map(|b| wire(parent, b))
        .collect();
    let end = offset.saturating_add(size);
    let next_page_token = (end < all.len()).then(|| format!("p{end}s{size}"));
    Ok(json!(ListAnswer {
        access_bindings: page,
        next_page_token,
    }))
}

/// Why `b` cannot be created on `parent` (checked against the state plus
/// `pending` emails of the same batch).
fn check_create(
    st: &State,
    parent: &str,
    b: &WireBinding,
    pending: &BTreeSet<String>,
    at: &str,
) -> Result<(String, Vec<String>), GoogleError> {
    let user = b.user.clone().unwrap_or_default();
    if !user.contains('@') {
        return Err(bad(format!(
            "{at}access_binding.user `{user}` is not a valid email"
        )));
    }
    let lower = user.to_lowercase();
    if st.not_google.contains(&lower) {
        return Err(bad(format!("{at}{user} is not a Google Account.")));
    }
    if b.roles.is_empty() {
        return Err(bad(format!("{at}access_binding.roles must not be empty")));
    }
    if let Some(r) = b
        .roles
        .iter()
        .find(|r| !PREDEFINED_ROLES.contains(&r.as_str()))
    {
        return Err(bad(format!("{at}{r} is not a valid role.")));
    }
    if st.find(parent, &user).is_some() || pending.contains(&lower) {
        return Err(error(
            StatusCode::CONFLICT,
            "alreadyExists",
            format!("{at}{user} already has access to {parent}."),
        ));
    }
    Ok((user, b.roles.clone()))
}

fn insert(st: &mut State, parent: &str, user: String, roles: Vec<String>) -> WireBinding {
    let id = st.new_id();
    let binding = Binding { id, user, roles };
    let out = wire(parent, &binding);
    st.bindings
        .entry(parent.to_string())
        .or_default()
        .push(binding);
    out
}

fn create_one(
    st: &mut State,
    parent: &str,
    b: &WireBinding,
    at: &str,
) -> Result<WireBinding, GoogleError> {
    let (user, roles) = check_create(st, parent, b, &BTreeSet::new(), at)?;
    Ok(insert(st, parent, user, roles))
}

/// The binding id a `name` points at on `parent`.
fn id_of<'a>(parent: &str, name: &'a str, at: &str) -> Result<&'a str, GoogleError> {
    name.strip_prefix(parent)
        .and_then(|r| r.strip_prefix("/accessBindings/"))
        .filter(|id| !id.is_empty() && !id.contains('/'))
        .ok_or_else(|| {
            bad(format!(
                "{at}name `{name}` is not an access binding of {parent}"
            ))
        })
}

fn take_deletion(st: &mut State, parent: &str, today: Date, at: &str) -> Result<(), GoogleError> {
    if st.deletions_today(parent, today) >= st.deletions_per_day {
        return Err(error(
            StatusCode::TOO_MANY_REQUESTS,
            "dailyLimitExceeded",
            format!(
                "{at}Quota exceeded: {parent} takes {} user deletions per day.",
                st.deletions_per_day
            ),
        ));
    }
    *st.deletions.entry((parent.to_string(), today)).or_default() += 1;
    Ok(())
}

/// Replace a binding's roles; empty roles delete it (`None` then).
fn update_one(
    st: &mut State,
    parent: &str,
    id: &str,
    roles: &[String],
    today: Date,
    at: &str,
) -> Result<Option<WireBinding>, GoogleError> {
    let position = st
        .bindings
        .get(parent)
        .and_then(|list| list.iter().position(|b| b.id == id))
        .ok_or_else(|| not_found(format!("{at}{parent}/accessBindings/{id} was not found.")))?;
    if roles.is_empty() {
        take_deletion(st, parent, today, at)?;
        if let Some(list) = st.bindings.get_mut(parent) {
            list.remove(position);
        }
        return Ok(None);
    }
    if let Some(r) = roles
        .iter()
        .find(|r| !PREDEFINED_ROLES.contains(&r.as_str()))
    {
        return Err(bad(format!("{at}{r} is not a valid role.")));
    }
    let list = st
        .bindings
        .get_mut(parent)
        .ok_or_else(|| not_found(format!("{at}{parent} has no bindings.")))?;
    let binding = &mut list[position];
    binding.roles = roles.to_vec();
    let binding = binding.clone();
    Ok(Some(wire(parent, &binding)))
}

fn delete_one(
    st: &mut State,
    parent: &str,
    id: &str,
    today: Date,
    at: &str,
) -> Result<(), GoogleError> {
    let position = st
        .bindings
        .get(parent)
        .and_then(|list| list.iter().position(|b| b.id == id))
        .ok_or_else(|| not_found(format!("{at}{parent}/accessBindings/{id} was not found.")))?;
    take_deletion(st, parent, today, at)?;
    if let Some(list) = st.bindings.get_mut(parent) {
        list.remove(position);
    }
    Ok(())
}

fn check_batch_size(n: usize) -> Result<(), GoogleError> {
    if n > MAX_BATCH {
        return Err(bad(format!(
            "requests: at most {MAX_BATCH} requests per batch, got {n}"
        )));
    }
    Ok(())
}

/// Transactional: every item is checked before any is created.
fn batch_create(
    st: &mut State,
    parent: &str,
    batch: Batch<CreateItem>,
) -> Result<Value, GoogleError> {
    check_batch_size(batch.requests.len())?;
    let mut pending = BTreeSet::new();
    let mut checked = Vec::new();
    for (i, item) in batch.requests.iter().enumerate() {
        let at = format!("requests[{i}]: ");
        if let Some(p) = item.parent.as_deref().filter(|p| !p.is_empty())
            && p != parent
        {
            return Err(bad(format!(
                "{at}parent `{p}` does not match the batch's {parent}"
            )));
        }
        let (user, roles) = check_create(st, parent, &item.access_binding, &pending, &at)?;
        pending.insert(user.to_lowercase());
        checked.push((user, roles));
    }
    let created: Vec<WireBinding> = checked
        .into_iter()
        .map(|(user, roles)| insert(st, parent, user, roles))
        .collect();
    Ok(json!({ "accessBindings": created }))
}

/// Not transactional: items before a bad one stay done.
fn batch_update(
    st: &mut State,
    parent: &str,
    batch: Batch<UpdateItem>,
    today: Date,
) -> Result<Value, GoogleError> {
    check_batch_size(batch.requests.len())?;
    let mut out = Vec::new();
    for (i, item) in batch.requests.iter().enumerate() {
        let at = format!("requests[{i}]: ");
        let name = item.access_binding.name.clone().unwrap_or_default();
        let id = id_of(parent, &name, &at)?;
        if let Some(b) = update_one(st, parent, id, &item.access_binding.roles, today, &at)? {
            out.push(b);
        }
    }
    Ok(json!({ "accessBindings": out }))
}

/// Not transactional: items before a bad one stay done.
fn batch_delete(
    st: &mut State,
    parent: &str,
    batch: Batch<DeleteItem>,
    today: Date,
) -> Result<Value, GoogleError> {
    check_batch_size(batch.requests.len())?;
    for (i, item) in batch.requests.iter().enumerate() {
        let at = format!("requests[{i}]: ");
        let id = id_of(parent, &item.name, &at)?;
        delete_one(st, parent, id, today, &at)?;
    }
    Ok(json!({}))
}

/// Test control: every binding, by parent.
async fn control_list(AxState(shared): AxState<Arc<Shared>>) -> Json<Value> {
    let google = shared.google();
    let st = &google.ga4;
    let bindings: Vec<Value> = st
        .bindings
        .iter()
        .flat_map(|(parent, list)| {
            list.iter().map(move |b| {
                json!({
                    "parent": parent,
                    "name": format!("{parent}/accessBindings/{}", b.id),
                    "user": b.user,
                    "roles": b.roles,
                })
            })
        })
        .collect();
    Json(json!({ "bindings": bindings }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_their_endpoints() {
        let cases = [
            (
                "GET",
                "/v1alpha/accounts/1/accessBindings",
                Some("ga4.list"),
            ),
            (
                "POST",
                "/v1alpha/properties/2/accessBindings",
                Some("ga4.create"),
            ),
            (
                "PATCH",
                "/v1alpha/accounts/1/accessBindings/ab",
                Some("ga4.patch"),
            ),
            (
                "DELETE",
                "/v1alpha/accounts/1/accessBindings/ab",
                Some("ga4.delete"),
            ),
            (
                "POST",
                "/v1alpha/accounts/1/accessBindings:batchCreate",
                Some("ga4.batchCreate"),
            ),
            (
                "POST",
                "/v1alpha/properties/9/accessBindings:batchUpdate",
                Some("ga4.batchUpdate"),
            ),
            (
                "POST",
                "/v1alpha/properties/9/accessBindings:batchDelete",
                Some("ga4.batchDelete"),
            ),
            (
                "POST",
                "/v1alpha/properties/9/accessBindings:batchNope",
                None,
            ),
            ("GET", "/v1alpha/users/1/accessBindings", None),
            ("GET", "/v1alpha/accounts/x/accessBindings", None),
        ];
        for (method, path, want) in cases {
            assert_eq!(endpoint_of(method, path), want, "{method} {path}");
        }
        for name in ENDPOINTS {
            assert!(name.starts_with("ga4."));
        }
    }

    #[test]
    fn seed_problems_are_all_listed() {
        let seed = Seed {
            accounts: vec![SeedAccount {
                id: "x1".into(),
                properties: vec!["2".into()],
            }],
            bindings: vec![
                SeedBinding {
                    parent: "properties/3".into(),
                    user: "nobody".into(),
                    roles: vec!["predefinedRoles/boss".into()],
                },
                SeedBinding {
                    parent: "properties/2".into(),
                    user: "a@x.test".into(),
                    roles: vec![],
                },
            ],
            not_google_accounts: vec![],
            deletions_per_day: None,
        };
        let mut problems = Vec::new();
        build(&seed, &mut problems);
        assert_eq!(problems.len(), 5, "{problems:#?}");
    }

    fn world() -> State {
        let seed = Seed {
            accounts: vec![SeedAccount {
                id: "1".into(),
                properties: vec!["2".into()],
            }],
            bindings: vec![SeedBinding {
                parent: "accounts/1".into(),
                user: "Sa@x.test".into(),
                roles: vec![ADMIN.into()],
            }],
            not_google_accounts: vec!["Bad@x.test".into()],
            deletions_per_day: Some(2),
        };
        let mut problems = Vec::new();
        let st = build(&seed, &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        st
    }

    fn item(user: &str) -> CreateItem {
        CreateItem {
            parent: None,
            access_binding: WireBinding {
                name: None,
                user: Some(user.into()),
                roles: vec!["predefinedRoles/viewer".into()],
            },
        }
    }

    #[test]
    fn admin_on_the_account_manages_its_properties() {
        let st = world();
        assert!(st.may_manage("properties/2", "sa@X.test"));
        assert!(st.may_manage("accounts/1", "sa@x.test"));
        assert!(!st.may_manage("properties/2", "other@x.test"));
    }

    #[test]
    fn batch_create_is_all_or_nothing() {
        let mut st = world();
        let batch = Batch {
            requests: vec![item("a@x.test"), item("bad@x.test"), item("c@x.test")],
        };
        let e = batch_create(&mut st, "properties/2", batch).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(e.message.contains("requests[1]"), "{}", e.message);
        assert!(!st.bindings.contains_key("properties/2"));
        let dup = Batch {
            requests: vec![item("a@x.test"), item("A@x.test")],
        };
        let e = batch_create(&mut st, "properties/2", dup).unwrap_err();
        assert_eq!(e.status, StatusCode::CONFLICT);
    }

    #[test]
    fn batch_delete_is_partial_and_capped_per_day() {
        let mut st = world();
        let batch = Batch {
            requests: vec![item("a@x.test"), item("b@x.test"), item("c@x.test")],
        };
        batch_create(&mut st, "properties/2", batch).expect("created");
        let names: Vec<String> = st.bindings["properties/2"]
            .iter()
            .map(|b| format!("properties/2/accessBindings/{}", b.id))
            .collect();
        let day = time::macros::date!(2025 - 01 - 01);
        let batch = Batch {
            requests: names
                .iter()
                .map(|n| DeleteItem { name: n.clone() })
                .collect(),
        };
        let e = batch_delete(&mut st, "properties/2", batch, day).unwrap_err();
        assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(e.message.contains("requests[2]"), "{}", e.message);
        assert_eq!(st.bindings["properties/2"].len(), 1);
        let next_day = time::macros::date!(2025 - 01 - 02);
        let last = st.bindings["properties/2"][0].id.clone();
        delete_one(&mut st, "properties/2", &last, next_day, "").expect("a new day");
    }

    #[test]
    fn later_pages_repeat_the_page_size() {
        let mut st = world();
        let batch = Batch {
            requests: (0..5).map(|i| item(&format!("u{i}@x.test"))).collect(),
        };
        batch_create(&mut st, "properties/2", batch).expect("created");
        let first = list(&st, "properties/2", "pageSize=2").expect("page 1");
        let token = first["nextPageToken"].as_str().expect("token").to_string();
        assert!(
            list(
                &st,
                "properties/2",
                &format!("pageSize=3&pageToken={token}")
            )
            .is_err()
        );
        let second = list(
            &st,
            "properties/2",
            &format!("pageSize=2&pageToken={token}"),
        )
        .expect("page 2");
        assert_eq!(second["accessBindings"].as_array().map(Vec::len), Some(2));
    }
}
