//! Google Tag Manager (API v2 `accounts.user_permissions`) as a
//! [`Provider`]: one target per GTM account (`accounts/N`), one binding per
//! email, holding the account permission (`user`/`admin`) in
//! [`Access::roles`] and one permission per container
//! (`read`/`edit`/`approve`/`publish`) in [`Access::children`], keyed by
//! the container's public `GTM-XXXX` id.
//!
//! - observe: `accounts.containers.list` (scope `tagmanager.readonly`; maps
//!   public ids to the numeric ids the permissions use) and
//!   `user_permissions.list` (scope `tagmanager.manage.users`), both paged.
//!   `*Unspecified`/`noAccess` values are dropped; a container id with no
//!   known container stays under its numeric id.
//! - apply: Add → `POST` of the whole document, Update → `PUT` of the whole
//!   document (GTM replaces it: a container left out loses access; the diff
//!   keeps containers the config does not manage), Remove → `DELETE`. An
//!   update whose document equals the live one is never sent.
//! - quota: every call waits for the project's sliding window
//!   ([`limiter`]; 25 requests / 100 s unless a [`RateWindow`] says
//!   otherwise, e.g. for a project with a raised quota, or
//!   `ACCESSCTL_GTM_RATE`). A 403 `rateLimitExceeded` anyway holds the
//!   project's window back and the call is retried; transient failures
//!   (429, 5xx, lost connections) are retried with backoff for calls that
//!   may be repeated, and a create only after re-reading whether it took
//!   effect.
//!
//! Answers are size-capped; an answer that is not the JSON expected is a
//! [`ProviderError`] (or a failed change), never a panic. Errors never carry
//! token text.

pub mod limiter;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use backon::BackoffBuilder;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use self::limiter::ProjectLimiter;
pub use self::limiter::RateWindow;
use super::{Bearer, scopes};
use crate::platform::{
    Access, Binding, BoxFuture, Capabilities, Change, ChangeKind, GrantEffect, Lifecycle, Outcome,
    Platform, PrincipalKey, Progress, Provider, ProviderError, Settled, Target, TargetState,
};
use crate::providers::body::BodyError;
use crate::providers::wix::retry::RetryPolicy;

/// Largest answer read (a list page of an account with many users is a few
/// hundred kilobytes at most).
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Most list pages followed for one listing.
const MAX_PAGES: usize = 1000;

pub const ACCOUNT_ROLES: &[&str] = &["user", "admin"];
pub const CONTAINER_ROLES: &[&str] = &["read", "edit", "approve", "publish"];

/// Public id ↔ numeric id of one account's containers.
#[derive(Debug, Clone, Default)]
struct Containers {
    by_public: BTreeMap<String, String>,
    by_numeric: BTreeMap<String, String>,
}

pub struct GtmProvider {
    http: reqwest::Client,
    base: String,
    bearer: Arc<dyn Bearer>,
    limiter: Arc<ProjectLimiter>,
    retry: RetryPolicy,
    caps: Capabilities,
    /// Per account id, from the last containers listing.
    containers: Mutex<HashMap<String, Containers>>,
}

impl std::fmt::Debug for GtmProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GtmProvider")
            .field("base", &self.base)
            .field("project", &self.bearer.project_id())
            .finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------- wire

fn id_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Text(String),
        Number(u64),
    }
    Ok(match Id::deserialize(d)? {
        Id::Text(t) => t,
        Id::Number(n) => n.to_string(),
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContainerList {
    #[serde(default)]
    container: Vec<WireContainer>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireContainer {
    #[serde(deserialize_with = "id_text")]
    container_id: String,
    #[serde(default)]
    public_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PermissionList {
    #[serde(default)]
    user_permission: Vec<WirePermission>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WirePermission {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    account_access: Option<WireAccountAccess>,
    #[serde(default)]
    container_access: Vec<WireContainerAccess>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireAccountAccess {
    #[serde(default)]
    permission: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireContainerAccess {
    #[serde(deserialize_with = "id_text")]
    container_id: String,
    #[serde(default)]
    permission: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: ErrorDetail,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    message: String,
    #[serde(default)]
    errors: Vec<ErrorItem>,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorItem {
    #[serde(default)]
    reason: String,
}

// ---------------------------------------------------------------- calls

/// How one call failed.
#[derive(Debug, Clone)]
enum Failure {
    /// The API answered an error.
    Status {
        status: StatusCode,
        reason: String,
        message: String,
    },
    /// No usable answer: the request may or may not have been acted on.
    Lost(String),
    /// The answer was unusable (too large, not the JSON expected).
    Answer(String),
    /// No token (the bearer's own error).
    Token(ProviderError),
}

impl Failure {
    fn rate_limited(&self) -> bool {
        matches!(self, Failure::Status { status, reason, .. }
            if *status == StatusCode::FORBIDDEN
                && matches!(reason.as_str(), "rateLimitExceeded" | "userRateLimitExceeded"))
    }

    /// Worth sending again (after a wait): Google did not act, or may not
    /// have, and says nothing permanent.
    fn transient(&self) -> bool {
        match self {
            Failure::Status { status, .. } => {
                self.rate_limited()
                    || *status == StatusCode::TOO_MANY_REQUESTS
                    || status.is_server_error()
            }
            Failure::Lost(_) => true,
            Failure::Answer(_) | Failure::Token(_) => false,
        }
    }

    fn describe(&self) -> String {
        match self {
            Failure::Status {
                status,
                reason,
                message,
            } => {
                let mut text = status.as_u16().to_string();
                if !reason.is_empty() {
                    text.push(' ');
                    text.push_str(reason);
                }
                if !message.is_empty() {
                    text.push_str(": ");
                    text.push_str(message);
                }
                text
            }
            Failure::Lost(m) | Failure::Answer(m) => m.clone(),
            Failure::Token(e) => e.message.clone(),
        }
    }
}

/// One line of at most 200 characters, control characters escaped.
fn preview(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]);
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    one_line
        .chars()
        .take(200)
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

fn transport(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "the request timed out".to_owned()
    } else if e.is_connect() {
        "could not connect to the Tag Manager API".to_owned()
    } else {
        // reqwest's Display names the URL, never headers: no token leaks.
        let mut text = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            text.push_str(&format!(": {s}"));
            source = s.source();
        }
        text
    }
}

fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, Failure> {
    serde_json::from_slice(bytes).map_err(|e| {
        Failure::Answer(format!(
            "the answer to {what} is not the JSON expected ({e}): {}",
            preview(bytes)
        ))
    })
}

fn numeric(text: &str) -> bool {
    !text.is_empty() && text.len() <= 20 && text.bytes().all(|b| b.is_ascii_digit())
}

/// The account number of a target id `accounts/N`.
fn account_of(target: &Target) -> Result<&str, ProviderError> {
    target
        .id
        .strip_prefix("accounts/")
        .filter(|n| numeric(n))
        .ok_or_else(|| {
            ProviderError::new(format!(
                "`{}` is not a Tag Manager account (expected accounts/NUMBER)",
                crate::escape::text(&target.id)
            ))
        })
}

/// A permission path must name a document of `account`; anything else in
/// an answer is refused rather than used in a later request's URL.
fn valid_handle(account: &str, path: &str) -> bool {
    path.strip_prefix("accounts/")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(acct, rest)| {
            acct == account
                && rest
                    .strip_prefix("user_permissions/")
                    .is_some_and(crate::platform::is_plain_id)
        })
}

fn check_base_url(base: &str) -> Result<String, ProviderError> {
    super::check_base_url(base, "Tag Manager API")
}

/// The canonical access of one document.
fn access_of(doc: &WirePermission, containers: &Containers) -> Access {
    let mut access = Access::default();
    if let Some(p) = doc
        .account_access
        .as_ref()
        .and_then(|a| a.permission.as_deref())
        && !matches!(p, "accountPermissionUnspecified" | "noAccess" | "")
    {
        access.roles.insert(p.to_owned());
    }
    for c in &doc.container_access {
        let Some(p) = c.permission.as_deref() else {
            continue;
        };
        if matches!(p, "containerPermissionUnspecified" | "noAccess" | "") {
            continue;
        }
        let child = containers
            .by_numeric
            .get(&c.container_id)
            .cloned()
            .unwrap_or_else(|| c.container_id.clone());
        access
            .children
            .entry(child)
            .or_default()
            .insert(p.to_owned());
    }
    access
}

/// The whole document `access` stands for.
fn document(
    account: &str,
    email: &str,
    access: &Access,
    containers: &Containers,
) -> Result<WirePermission, String> {
    let account_permission = match access.roles.iter().collect::<Vec<_>>().as_slice() {
        [role] if ACCOUNT_ROLES.contains(&role.as_str()) => (*role).clone(),
        _ => {
            return Err(format!(
                "Tag Manager takes exactly one account permission (user or admin), not `{}`",
                crate::escape::text(&access.describe())
            ));
        }
    };
    let mut container_access = Vec::new();
    for (child, roles) in &access.children {
        let container_id = match containers.by_public.get(child) {
            Some(id) => id.clone(),
            None if numeric(child) => child.clone(),
            None => {
                return Err(format!(
                    "accounts/{account} has no container {}",
                    crate::escape::text(child)
                ));
            }
        };
        let permission = match roles.iter().collect::<Vec<_>>().as_slice() {
            [role] if CONTAINER_ROLES.contains(&role.as_str()) => (*role).clone(),
            _ => {
                return Err(format!(
                    "Tag Manager takes exactly one permission per container (read, edit, approve or publish), not `{}` on {}",
                    crate::escape::text(&roles.iter().cloned().collect::<Vec<_>>().join(", ")),
                    crate::escape::text(child)
                ));
            }
        };
        container_access.push(WireContainerAccess {
            container_id,
            permission: Some(permission),
        });
    }
    Ok(WirePermission {
        path: None,
        account_id: Some(account.to_owned()),
        email_address: Some(email.to_owned()),
        account_access: Some(WireAccountAccess {
            permission: Some(account_permission),
        }),
        container_access,
    })
}

/// A write's answer is the document as stored: it must be the one sent
/// (same email, same permissions), else what happened is not known.
fn confirm(answer: &WirePermission, sent: Option<&WirePermission>) -> Outcome {
    let Some(sent) = sent else {
        return Outcome::Done;
    };
    let same_email = match (&answer.email_address, &sent.email_address) {
        (Some(a), Some(s)) => a.eq_ignore_ascii_case(s),
        _ => false,
    };
    let none = Containers::default();
    if same_email && access_of(answer, &none) == access_of(sent, &none) {
        Outcome::Done
    } else {
        Outcome::Unknown(
            "Tag Manager answered with a document other than the one sent; the next plan reads the account again"
                .to_owned(),
        )
    }
}

/// What GTM can do, at `rate` requests per window for the project.
pub(crate) fn capabilities(rate: RateWindow) -> Capabilities {
    Capabilities {
        effect: GrantEffect::Immediate,
        key: PrincipalKey::Email,
        batch_max: None,
        requests_per_second: Some(rate.per_second()),
        daily_removals: None,
        admin_role: Some("admin"),
        roles: ACCOUNT_ROLES,
        child_roles: CONTAINER_ROLES,
        child_holder_role: Some("user"),
        invitations_editable: true,
        scopes: &[super::scopes::GTM_USERS, super::scopes::GTM_READONLY],
    }
}

impl GtmProvider {
    /// A provider calling `base_url` (`https://tagmanager.googleapis.com`;
    /// `/tagmanager/v2/…` is appended) with `bearer`'s tokens, each call
    /// waiting at most `timeout`, the project's quota kept under `rate`.
    pub fn new(
        base_url: &str,
        bearer: Arc<dyn Bearer>,
        timeout: Duration,
        rate: RateWindow,
    ) -> Result<Self, ProviderError> {
        let base = check_base_url(base_url)?;
        crate::providers::wix::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("accessctl/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ProviderError::new(format!("cannot build the HTTP client: {e}")))?;
        let retry = RetryPolicy::from_env().map_err(ProviderError::new)?;
        let limiter = limiter::for_project(bearer.project_id(), rate);
        Ok(GtmProvider {
            http,
            base,
            bearer,
            limiter,
            retry,
            caps: capabilities(rate),
            containers: Mutex::default(),
        })
    }

    /// Replace the retry policy (tests shorten the waits).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// How long `requests` calls take from now under the project's quota
    /// (apply prints it before it starts).
    pub fn eta(&self, requests: usize) -> Duration {
        self.limiter.eta(requests)
    }

    fn url(&self, path: &str) -> String {
        format!("{}/tagmanager/v2/{path}", self.base)
    }

    /// One call: token, quota, request, capped answer.
    async fn once(
        &self,
        method: Method,
        url: &str,
        scope: &'static str,
        query: &[(&str, &str)],
        body: Option<&WirePermission>,
    ) -> Result<Vec<u8>, Failure> {
        let token = self.bearer.token(&[scope]).await.map_err(Failure::Token)?;
        let permit = self.limiter.acquire().await;
        let mut request = self
            .http
            .request(method, url)
            .bearer_auth(token.expose())
            .query(query);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| Failure::Lost(transport(&e)))?;
        let status = response.status();
        let bytes = match crate::providers::body::read_capped(response, MAX_BODY_BYTES).await {
            Ok(bytes) => bytes,
            Err(BodyError::TooLarge { cap }) => {
                return Err(Failure::Answer(format!(
                    "the answer is {}",
                    BodyError::too_large(cap)
                )));
            }
            Err(BodyError::Cut(e)) => {
                return Err(Failure::Lost(format!(
                    "reading the answer failed: {}",
                    transport(&e)
                )));
            }
        };
        drop(permit);
        if status.is_success() {
            return Ok(bytes);
        }
        let detail = serde_json::from_slice::<ErrorBody>(&bytes).unwrap_or_default();
        let message = if detail.error.message.is_empty() {
            if bytes.is_empty() {
                status.canonical_reason().unwrap_or("").to_owned()
            } else {
                format!("non-JSON body: {}", preview(&bytes))
            }
        } else {
            preview(detail.error.message.as_bytes())
        };
        Err(Failure::Status {
            status,
            reason: detail
                .error
                .errors
                .first()
                .map(|e| preview(e.reason.as_bytes()))
                .unwrap_or_default(),
            message,
        })
    }

    fn backoff(&self) -> impl Iterator<Item = Duration> {
        backon::ExponentialBuilder::new()
            .with_min_delay(self.retry.base)
            .with_max_delay(self.retry.max_delay.max(self.retry.base))
            .with_factor(2.0)
            .with_max_times(self.retry.attempts.saturating_sub(1) as usize)
            .with_jitter()
            .build()
    }

    /// Wait before another attempt after `failure`; `false` when no more
    /// attempts are left.
    async fn pause(&self, failure: &Failure, waits: &mut impl Iterator<Item = Duration>) -> bool {
        let Some(wait) = waits.next() else {
            return false;
        };
        if failure.rate_limited() {
            // The limiter's window now holds the next call back.
            self.limiter.defer();
        } else {
            tokio::time::sleep(wait).await;
        }
        true
    }

    /// A call that may be repeated, retried after transient failures.
    async fn idempotent(
        &self,
        method: Method,
        url: &str,
        scope: &'static str,
        query: &[(&str, &str)],
        body: Option<&WirePermission>,
    ) -> Result<Vec<u8>, Failure> {
        let mut waits = self.backoff();
        loop {
            match self.once(method.clone(), url, scope, query, body).await {
                Ok(bytes) => return Ok(bytes),
                Err(f) if f.transient() && self.pause(&f, &mut waits).await => {}
                Err(f) => return Err(f),
            }
        }
    }

    /// Every page of a listing.
    async fn pages<T: DeserializeOwned>(
        &self,
        url: &str,
        scope: &'static str,
        what: &str,
        next: impl Fn(&T) -> Option<String>,
    ) -> Result<Vec<T>, Failure> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        let mut seen = BTreeSet::new();
        loop {
            let query: Vec<(&str, &str)> = token
                .as_deref()
                .map(|t| vec![("pageToken", t)])
                .unwrap_or_default();
            let bytes = self
                .idempotent(Method::GET, url, scope, &query, None)
                .await?;
            let page: T = decode(&bytes, what)?;
            let following = next(&page).filter(|t| !t.is_empty());
            out.push(page);
            match following {
                None => return Ok(out),
                Some(t) if !seen.insert(t.clone()) || out.len() >= MAX_PAGES => {
                    return Err(Failure::Answer(format!(
                        "{what} does not end (page token repeated or more than {MAX_PAGES} pages)"
                    )));
                }
                Some(t) => token = Some(t),
            }
        }
    }

    async fn list_containers(&self, account: &str) -> Result<Containers, ProviderError> {
        let url = self.url(&format!("accounts/{account}/containers"));
        let pages: Vec<ContainerList> = self
            .pages(
                &url,
                scopes::GTM_READONLY,
                "the containers list",
                |p: &ContainerList| p.next_page_token.clone(),
            )
            .await
            .map_err(|f| self.read_error(&f, account, "listing the containers of"))?;
        let mut map = Containers::default();
        for c in pages.into_iter().flat_map(|p| p.container) {
            if !numeric(&c.container_id) {
                return Err(ProviderError::new(format!(
                    "Tag Manager listed a container with id `{}` in accounts/{account}, which is not numeric",
                    crate::escape::text(&c.container_id)
                )));
            }
            if let Some(public) = c.public_id.filter(|p| !p.is_empty()) {
                map.by_public.insert(public.clone(), c.container_id.clone());
                map.by_numeric.insert(c.container_id, public);
            }
        }
        self.containers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(account.to_owned(), map.clone());
        Ok(map)
    }

    async fn container_map(&self, account: &str) -> Result<Containers, ProviderError> {
        let cached = self
            .containers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(account)
            .cloned();
        match cached {
            Some(map) => Ok(map),
            None => self.list_containers(account).await,
        }
    }

    async fn list_permissions(&self, account: &str) -> Result<Vec<WirePermission>, Failure> {
        let url = self.url(&format!("accounts/{account}/user_permissions"));
        let pages: Vec<PermissionList> = self
            .pages(
                &url,
                scopes::GTM_USERS,
                "the user permissions list",
                |p: &PermissionList| p.next_page_token.clone(),
            )
            .await?;
        let docs: Vec<WirePermission> = pages.into_iter().flat_map(|p| p.user_permission).collect();
        for doc in &docs {
            match &doc.path {
                Some(path) if valid_handle(account, path) => {}
                other => {
                    return Err(Failure::Answer(format!(
                        "Tag Manager listed a user permission whose path `{}` is not one of accounts/{account}",
                        crate::escape::text(other.as_deref().unwrap_or(""))
                    )));
                }
            }
        }
        Ok(docs)
    }

    fn read_error(&self, failure: &Failure, account: &str, doing: &str) -> ProviderError {
        let base = format!(
            "Tag Manager: {doing} accounts/{account} failed: {}",
            failure.describe()
        );
        match failure {
            Failure::Status { status, reason, .. }
                if *status == StatusCode::FORBIDDEN && reason == "insufficientPermissions" =>
            {
                let scope = if doing.contains("containers") {
                    scopes::GTM_READONLY
                } else {
                    scopes::GTM_USERS
                };
                ProviderError::new(format!(
                    "{base} (the token lacks the scope {scope}, which this call needs)"
                ))
                .with_hint(format!(
                    "the credentials must be able to obtain tokens with {} and {}",
                    scopes::GTM_READONLY,
                    scopes::GTM_USERS
                ))
            }
            Failure::Status { status, .. } if *status == StatusCode::FORBIDDEN => {
                ProviderError::new(base).with_hint(format!(
                    "the service account {} must be an admin of the GTM account, and the Tag Manager API enabled in project {}",
                    crate::escape::text(self.bearer.client_email()),
                    crate::escape::text(self.bearer.project_id())
                ))
            }
            _ => ProviderError::new(base),
        }
    }

    /// The live document of `email`, if any.
    async fn find(&self, account: &str, email: &str) -> Result<Option<WirePermission>, Failure> {
        Ok(self.list_permissions(account).await?.into_iter().find(|d| {
            d.email_address
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(email))
        }))
    }

    async fn create(&self, account: &str, doc: &WirePermission, want: &Access) -> Outcome {
        let url = self.url(&format!("accounts/{account}/user_permissions"));
        let email = doc.email_address.as_deref().unwrap_or_default();
        let mut waits = self.backoff();
        let mut retried = false;
        loop {
            let failure = match self
                .once(Method::POST, &url, scopes::GTM_USERS, &[], Some(doc))
                .await
            {
                Ok(bytes) => {
                    return match decode::<WirePermission>(&bytes, "a create") {
                        Ok(answer) => confirm(&answer, Some(doc)),
                        Err(f) => Outcome::Unknown(f.describe()),
                    };
                }
                Err(f) => f,
            };
            let conflict = matches!(&failure, Failure::Status { status, .. } if *status == StatusCode::CONFLICT);
            if !(failure.transient() || (retried && conflict)) {
                return Outcome::Failed(failure.describe());
            }
            // Did it take effect? Read before sending it again.
            if !failure.rate_limited() {
                let containers = self.container_map(account).await.unwrap_or_default();
                match self.find(account, email).await {
                    Ok(Some(live)) if access_of(&live, &containers) == *want => {
                        return Outcome::Done;
                    }
                    Ok(Some(_)) => {
                        return Outcome::Unknown(format!(
                            "{}; {email} now holds a permission that differs from the one sent",
                            failure.describe()
                        ));
                    }
                    Ok(None) => {}
                    Err(f) => {
                        return Outcome::Unknown(format!(
                            "{}; re-reading failed: {}",
                            failure.describe(),
                            f.describe()
                        ));
                    }
                }
            }
            if !self.pause(&failure, &mut waits).await {
                return if matches!(failure, Failure::Lost(_)) || failure.rate_limited() {
                    Outcome::Failed(failure.describe())
                } else {
                    Outcome::Unknown(failure.describe())
                };
            }
            retried = true;
        }
    }

    async fn write(
        &self,
        method: Method,
        path: &str,
        doc: Option<&WirePermission>,
        what: &str,
    ) -> Outcome {
        let url = self.url(path);
        match self
            .idempotent(method.clone(), &url, scopes::GTM_USERS, &[], doc)
            .await
        {
            Ok(bytes) if method == Method::PUT => match decode::<WirePermission>(&bytes, what) {
                Ok(answer) => confirm(&answer, doc),
                Err(f) => Outcome::Unknown(f.describe()),
            },
            Ok(_) => Outcome::Done,
            // Already gone (a retried DELETE, or someone else).
            Err(Failure::Status { status, .. })
                if method == Method::DELETE && status == StatusCode::NOT_FOUND =>
            {
                Outcome::Done
            }
            Err(f @ (Failure::Lost(_) | Failure::Answer(_))) => Outcome::Unknown(f.describe()),
            Err(f @ Failure::Status { .. }) if f.transient() && !f.rate_limited() => {
                Outcome::Unknown(f.describe())
            }
            Err(f) => Outcome::Failed(f.describe()),
        }
    }

    async fn handle_of(&self, account: &str, change: &Change) -> Result<String, String> {
        let handle = match &change.handle {
            Some(h) => h.clone(),
            None => match self.find(account, &change.who.to_string()).await {
                Ok(Some(doc)) => doc.path.unwrap_or_default(),
                Ok(None) => return Err(format!("{} has no user permission", change.who)),
                Err(f) => return Err(f.describe()),
            },
        };
        if valid_handle(account, &handle) {
            Ok(handle)
        } else {
            Err(format!(
                "`{}` is not a user permission of accounts/{account}",
                crate::escape::text(&handle)
            ))
        }
    }

    async fn apply_one(&self, account: &str, change: &Change) -> Outcome {
        let needs_map = change.kind != ChangeKind::Remove;
        let containers = if needs_map {
            match self.container_map(account).await {
                Ok(map) => map,
                Err(e) => return Outcome::Failed(e.message),
            }
        } else {
            Containers::default()
        };
        match change.kind {
            ChangeKind::Add => {
                let Some(to) = &change.to else {
                    return Outcome::Failed("an add without the access to grant".to_owned());
                };
                match document(account, &change.who.to_string(), to, &containers) {
                    Ok(doc) => self.create(account, &doc, to).await,
                    Err(e) => Outcome::Failed(e),
                }
            }
            ChangeKind::Update => {
                let Some(to) = &change.to else {
                    return Outcome::Failed("an update without the access to set".to_owned());
                };
                // Never a PUT that changes nothing.
                if change.from.as_ref() == Some(to) {
                    return Outcome::Done;
                }
                let doc = match document(account, &change.who.to_string(), to, &containers) {
                    Ok(doc) => doc,
                    Err(e) => return Outcome::Failed(e),
                };
                match self.handle_of(account, change).await {
                    Ok(path) => {
                        let doc = WirePermission {
                            path: Some(path.clone()),
                            ..doc
                        };
                        self.write(Method::PUT, &path, Some(&doc), "an update")
                            .await
                    }
                    Err(e) => Outcome::Failed(e),
                }
            }
            ChangeKind::Remove => match self.handle_of(account, change).await {
                Ok(path) => self.write(Method::DELETE, &path, None, "a removal").await,
                Err(e) => Outcome::Failed(e),
            },
        }
    }
}

impl Provider for GtmProvider {
    fn platform(&self) -> Platform {
        Platform::Gtm
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn self_email(&self) -> Option<&str> {
        Some(self.bearer.client_email())
    }

    fn observe<'a>(
        &'a self,
        target: &'a Target,
    ) -> BoxFuture<'a, Result<TargetState, ProviderError>> {
        Box::pin(async move {
            let account = account_of(target)?;
            let containers = self.list_containers(account).await?;
            let docs = self
                .list_permissions(account)
                .await
                .map_err(|f| self.read_error(&f, account, "listing the user permissions of"))?;
            let mut bindings = Vec::new();
            for doc in docs {
                let handle = doc.path.clone();
                bindings.push(Binding {
                    email: doc.email_address.as_ref().map(|e| e.to_lowercase()),
                    platform_id: handle
                        .as_deref()
                        .and_then(|h| h.rsplit('/').next())
                        .map(str::to_owned),
                    access: access_of(&doc, &containers),
                    lifecycle: Lifecycle::Active,
                    handle,
                });
            }
            Ok(TargetState {
                bindings,
                children: containers.by_public.keys().cloned().collect(),
            })
        })
    }

    fn eta(&self, requests: usize) -> Option<Duration> {
        Some(GtmProvider::eta(self, requests))
    }

    fn apply<'a>(
        &'a self,
        target: &'a Target,
        changes: &'a [Change],
        progress: Progress<'a>,
    ) -> BoxFuture<'a, Vec<Outcome>> {
        Box::pin(async move {
            let mut outcomes = Vec::with_capacity(changes.len());
            let account = account_of(target);
            // Why the journal stopped the run: nothing more is sent.
            let mut stopped: Option<String> = None;
            for (index, change) in changes.iter().enumerate() {
                let outcome = match (&account, &stopped) {
                    (Err(e), _) => Outcome::Failed(e.message.clone()),
                    (_, Some(why)) => Outcome::Skipped(why.clone()),
                    (Ok(account), None) => self.apply_one(account, change).await,
                };
                let told = progress.settled(&[Settled {
                    index,
                    change,
                    outcome: outcome.clone(),
                    receipt: None,
                }]);
                if let Err(why) = told {
                    stopped.get_or_insert(why);
                }
                outcomes.push(outcome);
            }
            outcomes
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn containers() -> Containers {
        let mut c = Containers::default();
        c.by_public.insert("GTM-AAAA111".into(), "31".into());
        c.by_numeric.insert("31".into(), "GTM-AAAA111".into());
        c
    }

    #[test]
    fn canonical_access_drops_no_access_and_keeps_unknown_containers() {
        let doc: WirePermission = serde_json::from_value(serde_json::json!({
            "path": "accounts/6000/user_permissions/1",
            "emailAddress": "A@Example.com",
            "accountAccess": { "permission": "user" },
            "containerAccess": [
                { "containerId": "31", "permission": "edit" },
                { "containerId": 99, "permission": "read" },
                { "containerId": "32", "permission": "noAccess" },
                { "containerId": "33", "permission": "containerPermissionUnspecified" }
            ]
        }))
        .unwrap();
        let access = access_of(&doc, &containers());
        assert_eq!(access.describe(), "user; 99: read; GTM-AAAA111: edit");
        let none: WirePermission = serde_json::from_value(serde_json::json!({
            "accountAccess": { "permission": "noAccess" }
        }))
        .unwrap();
        assert!(access_of(&none, &containers()).roles.is_empty());
    }

    #[test]
    fn documents_map_public_ids_back() {
        let mut access = Access::roles(["admin"]);
        access
            .children
            .insert("GTM-AAAA111".into(), ["publish".to_owned()].into());
        access
            .children
            .insert("99".into(), ["read".to_owned()].into());
        let doc = document("6000", "a@example.com", &access, &containers()).unwrap();
        let ids: Vec<_> = doc
            .container_access
            .iter()
            .map(|c| c.container_id.as_str())
            .collect();
        assert_eq!(ids, ["99", "31"]);
        assert_eq!(access_of(&doc, &containers()), access);
        access
            .children
            .insert("GTM-NOPE".into(), ["read".to_owned()].into());
        assert!(document("6000", "a@example.com", &access, &containers()).is_err());
        assert!(
            document(
                "6000",
                "a",
                &Access::roles(["user", "admin"]),
                &containers()
            )
            .is_err()
        );
    }

    #[test]
    fn handles_must_stay_in_the_account() {
        assert!(valid_handle("6000", "accounts/6000/user_permissions/12"));
        assert!(!valid_handle("6000", "accounts/6001/user_permissions/12"));
        assert!(!valid_handle(
            "6000",
            "accounts/6000/user_permissions/../../x"
        ));
        assert!(!valid_handle("6000", "accounts/6000/containers/1"));
        assert!(!valid_handle("6000", "accounts/6000/user_permissions/"));
    }
}
