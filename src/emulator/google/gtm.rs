//! Tag Manager API v2 user permissions (`accounts.user_permissions`) and the
//! containers list, as `other-platforms.md` §2 describes them, with this
//! module's own wire types (camelCase, as Google's).
//!
//! Seed (`google.gtm`):
//!
//! ```yaml
//! gtm:
//!   accounts:
//!     - id: "6000"
//!       containers: [{ container_id: "31", public_id: GTM-AAAA111, name: Site }]
//!       permissions:
//!         - email: accessctl@agency-project.iam.gserviceaccount.com
//!           account: admin                      # user | admin
//!           containers: { GTM-AAAA111: publish }  # read | edit | approve | publish
//!   rate: { requests: 25, window_seconds: 100 }  # per Cloud project, sliding
//!   requests_per_day: 10000                      # per Cloud project
//!   page_size: 100                               # list pages
//! ```
//!
//! Endpoints under `/tagmanager/v2/accounts/{account}`: `GET containers`
//! (scope `tagmanager.readonly` or `tagmanager.edit.containers`; the caller
//! needs some permission on the account), `GET|POST user_permissions` and
//! `GET|PUT|DELETE user_permissions/{id}` (scope `tagmanager.manage.users`
//! only; the caller needs account `admin`). PUT replaces the whole document:
//! containers left out lose access. Unknown enum values, unknown fields and
//! container ids not in the account are refused with 400; a second document
//! for one email with 409.
//!
//! Quota: every authorised call counts against the token's Cloud project,
//! at most `rate.requests` in any sliding `rate.window_seconds` and
//! `requests_per_day` per day; beyond either the answer is 403 with reason
//! `rateLimitExceeded` (`dailyLimitExceeded` for the day), as Google does.
//! Refused calls do not count. The window runs on tokio's clock.
//!
//! Test control (not Google's): `GET /_emulator/google/gtm` answers every
//! account's containers and documents, and the refusal counts.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::super::Shared;
use super::{GoogleError, error};

/// Scopes `accounts.containers.list` accepts.
const CONTAINER_SCOPES: &[&str] = &[
    "https://www.googleapis.com/auth/tagmanager.readonly",
    "https://www.googleapis.com/auth/tagmanager.edit.containers",
];
/// The only scope the `user_permissions` methods accept.
const USERS_SCOPES: &[&str] = &["https://www.googleapis.com/auth/tagmanager.manage.users"];

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

mod paths {
    pub const CONTAINERS: &str = "/tagmanager/v2/accounts/{account}/containers";
    pub const PERMISSIONS: &str = "/tagmanager/v2/accounts/{account}/user_permissions";
    pub const PERMISSION: &str = "/tagmanager/v2/accounts/{account}/user_permissions/{id}";
}

// ---------------------------------------------------------------- seed

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    #[serde(default)]
    pub accounts: Vec<SeedAccount>,
    #[serde(default)]
    pub rate: SeedRate,
    #[serde(default = "default_per_day")]
    pub requests_per_day: u64,
    #[serde(default = "default_page_size")]
    pub page_size: usize,
}

impl Default for Seed {
    fn default() -> Self {
        Seed {
            accounts: Vec::new(),
            rate: SeedRate::default(),
            requests_per_day: default_per_day(),
            page_size: default_page_size(),
        }
    }
}

fn default_per_day() -> u64 {
    10_000
}

fn default_page_size() -> usize {
    100
}

/// Google's documented quota: 0.25 QPS on a 100 s sliding window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedRate {
    pub requests: u32,
    pub window_seconds: u64,
}

impl Default for SeedRate {
    fn default() -> Self {
        SeedRate {
            requests: 25,
            window_seconds: 100,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedAccount {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub containers: Vec<SeedContainer>,
    #[serde(default)]
    pub permissions: Vec<SeedPermission>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedContainer {
    pub container_id: String,
    pub public_id: String,
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedPermission {
    pub email: String,
    /// `user` or `admin`.
    pub account: String,
    /// Public container id → `read`, `edit`, `approve` or `publish`.
    #[serde(default)]
    pub containers: BTreeMap<String, String>,
}

// ---------------------------------------------------------------- wire

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AccountPermission {
    AccountPermissionUnspecified,
    NoAccess,
    User,
    Admin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ContainerPermission {
    ContainerPermissionUnspecified,
    NoAccess,
    Read,
    Edit,
    Approve,
    Publish,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccountAccess {
    pub permission: AccountPermission,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerAccess {
    pub container_id: String,
    pub permission: ContainerPermission,
}

/// `UserPermission`, as answered and as accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserPermission {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_access: Option<AccountAccess>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub container_access: Vec<ContainerAccess>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct WireContainer {
    path: String,
    account_id: String,
    container_id: String,
    public_id: String,
    name: String,
}

// ---------------------------------------------------------------- state

#[derive(Debug, Clone)]
struct Container {
    container_id: String,
    public_id: String,
    name: String,
}

#[derive(Debug, Clone)]
struct Account {
    name: String,
    containers: Vec<Container>,
    /// By numeric permission id.
    permissions: BTreeMap<u64, UserPermission>,
    next_id: u64,
}

impl Account {
    fn by_email(&self, email: &str) -> Option<&UserPermission> {
        self.permissions.values().find(|p| {
            p.email_address
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(email))
        })
    }
}

#[derive(Debug)]
pub struct State {
    accounts: BTreeMap<String, Account>,
    requests: usize,
    window: Duration,
    per_day: u64,
    page_size: usize,
    /// Per Cloud project: arrival times of the counted calls in the window.
    windows: HashMap<String, VecDeque<Instant>>,
    /// Per Cloud project: the day's start and its count.
    days: HashMap<String, (Instant, u64)>,
    rate_refusals: u64,
    daily_refusals: u64,
}

impl Default for State {
    fn default() -> Self {
        build(&Seed::default(), &mut Vec::new())
    }
}

impl State {
    /// Count a call for `project`, or refuse it as Google does.
    fn admit(&mut self, project: &str, now: Instant) -> Result<(), GoogleError> {
        let window = self.window;
        let sent = self.windows.entry(project.to_owned()).or_default();
        while sent.front().is_some_and(|t| *t + window <= now) {
            sent.pop_front();
        }
        if sent.len() >= self.requests {
            self.rate_refusals += 1;
            return Err(error(
                StatusCode::FORBIDDEN,
                "rateLimitExceeded",
                format!(
                    "Quota exceeded for quota metric 'Queries' and limit 'Queries per {} seconds' of service 'tagmanager.googleapis.com' for consumer 'project:{project}'.",
                    window.as_secs()
                ),
            ));
        }
        let day = self.days.entry(project.to_owned()).or_insert((now, 0));
        if day.0 + DAY <= now {
            *day = (now, 0);
        }
        if day.1 >= self.per_day {
            self.daily_refusals += 1;
            return Err(error(
                StatusCode::FORBIDDEN,
                "dailyLimitExceeded",
                format!("Daily Limit Exceeded for consumer 'project:{project}'."),
            ));
        }
        day.1 += 1;
        sent.push_back(now);
        Ok(())
    }
}

fn numeric(text: &str) -> bool {
    !text.is_empty() && text.len() <= 20 && text.bytes().all(|b| b.is_ascii_digit())
}

pub(super) fn build(seed: &Seed, problems: &mut Vec<String>) -> State {
    let mut accounts = BTreeMap::new();
    if seed.rate.requests == 0 {
        problems.push("gtm.rate.requests: must be at least 1".to_owned());
    }
    if seed.rate.window_seconds == 0 {
        problems.push("gtm.rate.window_seconds: must be at least 1".to_owned());
    }
    if seed.requests_per_day == 0 {
        problems.push("gtm.requests_per_day: must be at least 1".to_owned());
    }
    if seed.page_size == 0 {
        problems.push("gtm.page_size: must be at least 1".to_owned());
    }
    let mut public_ids = BTreeSet::new();
    for (i, a) in seed.accounts.iter().enumerate() {
        let at = format!("gtm.accounts[{i}]");
        if !numeric(&a.id) {
            problems.push(format!("{at}.id: {:?} is not a numeric account id", a.id));
        }
        if accounts.contains_key(&a.id) {
            problems.push(format!("{at}.id: account {:?} is seeded twice", a.id));
        }
        let mut containers: Vec<Container> = Vec::new();
        for (j, c) in a.containers.iter().enumerate() {
            let at = format!("{at}.containers[{j}]");
            if !numeric(&c.container_id) {
                problems.push(format!(
                    "{at}.container_id: {:?} is not a numeric container id",
                    c.container_id
                ));
            }
            if containers.iter().any(|o| o.container_id == c.container_id) {
                problems.push(format!(
                    "{at}.container_id: {:?} appears twice",
                    c.container_id
                ));
            }
            if !c.public_id.starts_with("GTM-") || c.public_id.len() < 5 {
                problems.push(format!(
                    "{at}.public_id: {:?} is not a GTM-XXXX public id",
                    c.public_id
                ));
            }
            if !public_ids.insert(c.public_id.clone()) {
                problems.push(format!("{at}.public_id: {:?} appears twice", c.public_id));
            }
            containers.push(Container {
                container_id: c.container_id.clone(),
                public_id: c.public_id.clone(),
                name: c.name.clone(),
            });
        }
        let mut permissions = BTreeMap::new();
        let mut emails = BTreeSet::new();
        for (j, p) in a.permissions.iter().enumerate() {
            let at = format!("{at}.permissions[{j}]");
            if !p.email.contains('@') {
                problems.push(format!("{at}.email: {:?} is not an email", p.email));
            }
            if !emails.insert(p.email.to_lowercase()) {
                problems.push(format!("{at}.email: {:?} appears twice", p.email));
            }
            let account = match p.account.as_str() {
                "user" => AccountPermission::User,
                "admin" => AccountPermission::Admin,
                other => {
                    problems.push(format!("{at}.account: {other:?} is not one of user, admin"));
                    AccountPermission::User
                }
            };
            let mut access = Vec::new();
            for (public, perm) in &p.containers {
                let Some(c) = containers.iter().find(|c| &c.public_id == public) else {
                    problems.push(format!(
                        "{at}.containers: {public:?} is not a container of account {:?}",
                        a.id
                    ));
                    continue;
                };
                let permission = match perm.as_str() {
                    "read" => ContainerPermission::Read,
                    "edit" => ContainerPermission::Edit,
                    "approve" => ContainerPermission::Approve,
                    "publish" => ContainerPermission::Publish,
                    other => {
                        problems.push(format!(
                            "{at}.containers.{public}: {other:?} is not one of read, edit, approve, publish"
                        ));
                        continue;
                    }
                };
                access.push(ContainerAccess {
                    container_id: c.container_id.clone(),
                    permission,
                });
            }
            let id = j as u64 + 1;
            permissions.insert(
                id,
                UserPermission {
                    path: Some(format!("accounts/{}/user_permissions/{id}", a.id)),
                    account_id: Some(a.id.clone()),
                    email_address: Some(p.email.clone()),
                    account_access: Some(AccountAccess {
                        permission: account,
                    }),
                    container_access: access,
                },
            );
        }
        let next_id = permissions.len() as u64 + 1;
        accounts.insert(
            a.id.clone(),
            Account {
                name: a.name.clone().unwrap_or_default(),
                containers,
                permissions,
                next_id,
            },
        );
    }
    State {
        accounts,
        requests: seed.rate.requests.max(1) as usize,
        window: Duration::from_secs(seed.rate.window_seconds.max(1)),
        per_day: seed.requests_per_day,
        page_size: seed.page_size.max(1),
        windows: HashMap::new(),
        days: HashMap::new(),
        rate_refusals: 0,
        daily_refusals: 0,
    }
}

// ---------------------------------------------------------------- routes

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(paths::CONTAINERS, get(list_containers))
        .route(paths::PERMISSIONS, get(list).post(create))
        .route(paths::PERMISSION, get(get_one).put(update).delete(remove))
}

pub(super) fn controls() -> Router<Arc<Shared>> {
    Router::new().route("/_emulator/google/gtm", get(control))
}

/// `gtm.containers`, `gtm.list`, `gtm.get`, `gtm.create`, `gtm.update`,
/// `gtm.delete`.
/// The endpoint names fault rules and stats use.
pub const ENDPOINTS: &[&str] = &[
    "gtm.containers",
    "gtm.list",
    "gtm.get",
    "gtm.create",
    "gtm.update",
    "gtm.delete",
];

pub(super) fn endpoint_of(method: &str, path: &str) -> Option<&'static str> {
    let rest = path.strip_prefix("/tagmanager/v2/accounts/")?;
    let parts: Vec<&str> = rest.split('/').collect();
    match (method, parts.as_slice()) {
        ("GET", [_, "containers"]) => Some("gtm.containers"),
        ("GET", [_, "user_permissions"]) => Some("gtm.list"),
        ("POST", [_, "user_permissions"]) => Some("gtm.create"),
        ("GET", [_, "user_permissions", _]) => Some("gtm.get"),
        ("PUT", [_, "user_permissions", _]) => Some("gtm.update"),
        ("DELETE", [_, "user_permissions", _]) => Some("gtm.delete"),
        _ => None,
    }
}

type Guard<'a> = std::sync::MutexGuard<'a, super::State>;

/// Authorise the call (token and scope), count it against the project's
/// quota, and check the caller's standing on the account.
fn enter<'a>(
    shared: &'a Shared,
    headers: &HeaderMap,
    account: &str,
    scopes: &[&str],
    admin: bool,
) -> Result<Guard<'a>, GoogleError> {
    let mut google = shared.google();
    let issued = google.tokens.authorize(headers, scopes)?;
    google.gtm.admit(&issued.project_id, Instant::now())?;
    let Some(acct) = google.gtm.accounts.get(account) else {
        return Err(error(
            StatusCode::NOT_FOUND,
            "notFound",
            format!("Not found: account {account}."),
        ));
    };
    let standing = acct
        .by_email(&issued.client_email)
        .and_then(|p| p.account_access.as_ref())
        .map(|a| a.permission);
    let allowed = match standing {
        Some(AccountPermission::Admin) => true,
        Some(AccountPermission::User) => !admin,
        _ => false,
    };
    if !allowed {
        return Err(error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "The caller does not have permission",
        ));
    }
    Ok(google)
}

fn account<'a>(google: &'a mut Guard<'_>, id: &str) -> &'a mut Account {
    google
        .gtm
        .accounts
        .get_mut(id)
        .expect("enter checked the account exists")
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageQuery {
    #[serde(default)]
    page_token: Option<String>,
}

fn page_start(token: Option<&str>) -> Result<usize, GoogleError> {
    match token {
        None | Some("") => Ok(0),
        Some(t) => t
            .strip_prefix("page-")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| error(StatusCode::BAD_REQUEST, "invalid", "Invalid page token.")),
    }
}

fn page<T: Serialize>(
    items: Vec<T>,
    start: usize,
    size: usize,
    field: &str,
) -> serde_json::Map<String, Value> {
    let total = items.len();
    let slice: Vec<T> = items.into_iter().skip(start).take(size).collect();
    let mut out = serde_json::Map::new();
    out.insert(field.to_owned(), json!(slice));
    if start + size < total {
        out.insert(
            "nextPageToken".to_owned(),
            json!(format!("page-{}", start + size)),
        );
    }
    out
}

async fn list_containers(
    AxState(shared): AxState<Arc<Shared>>,
    Path(account_id): Path<String>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Result<Json<Value>, GoogleError> {
    let mut google = enter(&shared, &headers, &account_id, CONTAINER_SCOPES, false)?;
    let start = page_start(q.page_token.as_deref())?;
    let size = google.gtm.page_size;
    let acct = account(&mut google, &account_id);
    let items: Vec<WireContainer> = acct
        .containers
        .iter()
        .map(|c| WireContainer {
            path: format!("accounts/{account_id}/containers/{}", c.container_id),
            account_id: account_id.clone(),
            container_id: c.container_id.clone(),
            public_id: c.public_id.clone(),
            name: c.name.clone(),
        })
        .collect();
    Ok(Json(Value::Object(page(items, start, size, "container"))))
}

async fn list(
    AxState(shared): AxState<Arc<Shared>>,
    Path(account_id): Path<String>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Result<Json<Value>, GoogleError> {
    let mut google = enter(&shared, &headers, &account_id, USERS_SCOPES, true)?;
    let start = page_start(q.page_token.as_deref())?;
    let size = google.gtm.page_size;
    let acct = account(&mut google, &account_id);
    let items: Vec<UserPermission> = acct.permissions.values().cloned().collect();
    Ok(Json(Value::Object(page(
        items,
        start,
        size,
        "userPermission",
    ))))
}

fn not_found(account: &str, id: &str) -> GoogleError {
    error(
        StatusCode::NOT_FOUND,
        "notFound",
        format!("Not found: user permission {id} in account {account}."),
    )
}

async fn get_one(
    AxState(shared): AxState<Arc<Shared>>,
    Path((account_id, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<UserPermission>, GoogleError> {
    let mut google = enter(&shared, &headers, &account_id, USERS_SCOPES, true)?;
    let acct = account(&mut google, &account_id);
    id.parse::<u64>()
        .ok()
        .and_then(|n| acct.permissions.get(&n))
        .cloned()
        .map(Json)
        .ok_or_else(|| not_found(&account_id, &id))
}

fn bad(message: impl Into<String>) -> GoogleError {
    error(StatusCode::BAD_REQUEST, "invalid", message)
}

/// Parse and check a document sent for `account`.
fn parse_document(acct: &Account, bytes: &Bytes) -> Result<UserPermission, GoogleError> {
    let doc: UserPermission = serde_json::from_slice(bytes)
        .map_err(|e| bad(format!("Invalid JSON payload received. {e}")))?;
    if doc.account_access.is_none() {
        return Err(bad("accountAccess is required."));
    }
    let mut seen = BTreeSet::new();
    for access in &doc.container_access {
        if !acct
            .containers
            .iter()
            .any(|c| c.container_id == access.container_id)
        {
            return Err(bad(format!(
                "Invalid containerId: {:?} is not a container of this account.",
                access.container_id
            )));
        }
        if !seen.insert(access.container_id.clone()) {
            return Err(bad(format!(
                "containerId {} appears more than once.",
                access.container_id
            )));
        }
    }
    Ok(doc)
}

async fn create(
    AxState(shared): AxState<Arc<Shared>>,
    Path(account_id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<UserPermission>, GoogleError> {
    let mut google = enter(&shared, &headers, &account_id, USERS_SCOPES, true)?;
    let acct = account(&mut google, &account_id);
    let doc = parse_document(acct, &bytes)?;
    let Some(email) = doc.email_address.clone().filter(|e| e.contains('@')) else {
        return Err(bad(
            "emailAddress is required and must be an email address.",
        ));
    };
    if acct.by_email(&email).is_some() {
        return Err(error(
            StatusCode::CONFLICT,
            "duplicate",
            format!("A user permission for {email} already exists in this account."),
        ));
    }
    let id = acct.next_id;
    acct.next_id += 1;
    let stored = UserPermission {
        path: Some(format!("accounts/{account_id}/user_permissions/{id}")),
        account_id: Some(account_id.clone()),
        email_address: Some(email),
        account_access: doc.account_access,
        container_access: doc.container_access,
    };
    acct.permissions.insert(id, stored.clone());
    Ok(Json(stored))
}

async fn update(
    AxState(shared): AxState<Arc<Shared>>,
    Path((account_id, id)): Path<(String, String)>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<UserPermission>, GoogleError> {
    let mut google = enter(&shared, &headers, &account_id, USERS_SCOPES, true)?;
    let acct = account(&mut google, &account_id);
    let key = id
        .parse::<u64>()
        .ok()
        .filter(|n| acct.permissions.contains_key(n))
        .ok_or_else(|| not_found(&account_id, &id))?;
    let doc = parse_document(acct, &bytes)?;
    let stored = acct.permissions.get_mut(&key).expect("checked above");
    if let Some(email) = &doc.email_address
        && !stored
            .email_address
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case(email))
    {
        return Err(bad("emailAddress cannot be changed."));
    }
    // Full replace: containers left out lose access.
    stored.account_access = doc.account_access;
    stored.container_access = doc.container_access;
    Ok(Json(stored.clone()))
}

async fn remove(
    AxState(shared): AxState<Arc<Shared>>,
    Path((account_id, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, GoogleError> {
    let mut google = enter(&shared, &headers, &account_id, USERS_SCOPES, true)?;
    let acct = account(&mut google, &account_id);
    id.parse::<u64>()
        .ok()
        .and_then(|n| acct.permissions.remove(&n))
        .ok_or_else(|| not_found(&account_id, &id))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Test control: every account's containers and documents, and how many
/// calls the quota refused.
async fn control(AxState(shared): AxState<Arc<Shared>>) -> Json<Value> {
    let google = shared.google();
    let gtm = &google.gtm;
    let accounts: Vec<Value> = gtm
        .accounts
        .iter()
        .map(|(id, a)| {
            json!({
                "accountId": id,
                "name": a.name,
                "containers": a.containers.iter().map(|c| json!({
                    "containerId": c.container_id,
                    "publicId": c.public_id,
                    "name": c.name,
                })).collect::<Vec<_>>(),
                "userPermissions": a.permissions.values().collect::<Vec<_>>(),
            })
        })
        .collect();
    Json(json!({
        "accounts": accounts,
        "rateLimitRefusals": gtm.rate_refusals,
        "dailyLimitRefusals": gtm.daily_refusals,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_names() {
        let p = "/tagmanager/v2/accounts/6000";
        assert_eq!(
            endpoint_of("GET", &format!("{p}/containers")),
            Some("gtm.containers")
        );
        assert_eq!(
            endpoint_of("GET", &format!("{p}/user_permissions")),
            Some("gtm.list")
        );
        assert_eq!(
            endpoint_of("POST", &format!("{p}/user_permissions")),
            Some("gtm.create")
        );
        assert_eq!(
            endpoint_of("PUT", &format!("{p}/user_permissions/3")),
            Some("gtm.update")
        );
        assert_eq!(
            endpoint_of("DELETE", &format!("{p}/user_permissions/3")),
            Some("gtm.delete")
        );
        assert_eq!(
            endpoint_of("GET", &format!("{p}/user_permissions/3")),
            Some("gtm.get")
        );
        assert_eq!(endpoint_of("GET", "/tagmanager/v2/accounts"), None);
    }

    #[test]
    fn seed_problems_are_all_listed() {
        let seed: Seed = serde_json::from_value(json!({
            "accounts": [{
                "id": "x",
                "containers": [{ "container_id": "31", "public_id": "AAAA" }],
                "permissions": [
                    { "email": "a@example.com", "account": "owner",
                      "containers": { "GTM-NOPE": "read" } },
                    { "email": "A@example.com", "account": "user" }
                ]
            }],
            "rate": { "requests": 0, "window_seconds": 100 }
        }))
        .unwrap();
        let mut problems = Vec::new();
        build(&seed, &mut problems);
        assert_eq!(problems.len(), 6, "{problems:#?}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_window_slides_per_project() {
        let seed: Seed = serde_json::from_value(json!({
            "rate": { "requests": 2, "window_seconds": 10 }
        }))
        .unwrap();
        let mut state = build(&seed, &mut Vec::new());
        let t0 = Instant::now();
        assert!(state.admit("p", t0).is_ok());
        assert!(state.admit("p", t0).is_ok());
        assert!(state.admit("q", t0).is_ok());
        let refused = state.admit("p", t0 + Duration::from_secs(9)).unwrap_err();
        assert_eq!(refused.reason, "rateLimitExceeded");
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(state.admit("p", t0 + Duration::from_secs(10)).is_ok());
        assert_eq!(state.rate_refusals, 1);
    }
}
