//! The GA4 provider: access bindings of a GA4 account or property through
//! the Admin API (`/v1alpha/{parent}/accessBindings…`), as a
//! [`Provider`].
//!
//! - `observe` pages through the list with the read-only scope; emails are
//!   lower-cased, `predefinedRoles/x` becomes `x`, any other role (a custom
//!   one) is kept verbatim so the diff sees it.
//! - `apply` batches: adds through `:batchCreate` (transactional; a 4xx
//!   falls back to one create per person, so a bad email fails alone),
//!   updates through `:batchUpdate` and removals through `:batchDelete`
//!   (not transactional: after a failure the parent is read again and each
//!   change is decided from the live state, retried singly if still
//!   needed). Removals past the daily cap (500 per property) are skipped,
//!   and so is the rest once GA4 answers with a quota error.
//! - Calls are rate-limited client-side, retried with backoff
//!   ([`RetryPolicy`], `ACCESSCTL_RETRY_BASE_MS`) on 429, 403
//!   `rateLimitExceeded` and 5xx when repeating them is safe (reads,
//!   patches, batch updates; other calls only when Google certainly did not
//!   act). Answers are size-capped; a malformed one is a [`ProviderError`],
//!   never a panic. The token is only ever in the `Authorization` header.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder as _, ExponentialBuilder};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tracing::debug;

use super::{Bearer, scopes};
use crate::platform::{
    Access, Binding, BoxFuture, Capabilities, Change, ChangeKind, GrantEffect, Lifecycle, Outcome,
    Platform, PrincipalKey, Progress, Provider, ProviderError, Settled, Target, TargetState,
};
use crate::providers::body::BodyError;
use crate::providers::wix::limiter::RateLimiter;
use crate::providers::wix::retry::{RetryPolicy, parse_retry_after};
use crate::secret::ApiKey;

pub const DEFAULT_API_BASE: &str = "https://analyticsadmin.googleapis.com";
/// Larger answers are refused (a 500-binding page is well under 1 MiB).
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
const PAGE_SIZE: usize = 500;
/// Pages read at most per target (500 × 1000 bindings).
const MAX_PAGES: usize = 1000;
const BATCH_MAX: usize = 1000;
const DAILY_REMOVALS: u32 = 500;
const ROLE_PREFIX: &str = "predefinedRoles/";

/// The short role names of `Access.roles`.
pub const ROLES: &[&str] = &[
    "viewer",
    "analyst",
    "editor",
    "admin",
    "no-cost-data",
    "no-revenue-data",
];

pub(crate) fn capabilities() -> Capabilities {
    Capabilities {
        effect: GrantEffect::Immediate,
        key: PrincipalKey::Email,
        batch_max: Some(BATCH_MAX),
        requests_per_second: Some(10.0),
        daily_removals: Some(DAILY_REMOVALS),
        admin_role: Some("admin"),
        roles: ROLES,
        child_roles: &[],
        child_holder_role: None,
        invitations_editable: true,
        scopes: &[super::scopes::GA4_READ, super::scopes::GA4_WRITE],
    }
}

/// What the Skipped outcome of a removal past the daily cap says.
fn cap_message() -> String {
    format!(
        "GA4 takes {DAILY_REMOVALS} user deletions per property per day; this removal is left for the next run"
    )
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
struct ListAnswer {
    #[serde(default)]
    access_bindings: Vec<WireBinding>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: ErrorInner,
}

#[derive(Debug, Deserialize)]
struct ErrorInner {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    errors: Vec<ErrorItem>,
}

#[derive(Debug, Deserialize)]
struct ErrorItem {
    #[serde(default)]
    reason: Option<String>,
}

fn role_to_wire(role: &str) -> String {
    if role.contains('/') {
        role.to_string()
    } else {
        format!("{ROLE_PREFIX}{role}")
    }
}

fn role_from_wire(role: &str) -> String {
    match role.strip_prefix(ROLE_PREFIX) {
        Some(short) if ROLES.contains(&short) => short.to_string(),
        _ => role.to_string(),
    }
}

fn wire_roles(access: Option<&Access>) -> Vec<String> {
    access
        .map(|a| a.roles.iter().map(|r| role_to_wire(r)).collect())
        .unwrap_or_default()
}

// --------------------------------------------------------------- errors

/// Why a call failed.
#[derive(Debug, Clone)]
enum CallError {
    /// Google answered an error status.
    Status {
        status: u16,
        reason: Option<String>,
        message: String,
    },
    /// No answer (refused, reset, timed out).
    Transport { detail: String, connected: bool },
    /// An answer that is not the JSON expected, or too large.
    Decode(String),
    /// No token.
    Auth(String),
}

impl CallError {
    /// A quota refusal: 429, or 403 with a rate/quota reason.
    fn is_quota(&self) -> bool {
        match self {
            CallError::Status { status: 429, .. } => true,
            CallError::Status {
                status: 403,
                reason: Some(r),
                ..
            } => matches!(
                r.as_str(),
                "rateLimitExceeded"
                    | "userRateLimitExceeded"
                    | "quotaExceeded"
                    | "dailyLimitExceeded"
            ),
            _ => false,
        }
    }

    /// A daily quota: waiting a few seconds will not help.
    fn is_daily(&self) -> bool {
        matches!(self, CallError::Status { reason: Some(r), .. } if r == "dailyLimitExceeded")
    }

    /// Google certainly did not act (quota refusal, never connected).
    fn not_acted(&self) -> bool {
        self.is_quota()
            || matches!(
                self,
                CallError::Transport {
                    connected: false,
                    ..
                }
            )
    }

    /// Whether another attempt may help.
    fn transient(&self) -> bool {
        match self {
            CallError::Status { status, .. } => {
                (self.is_quota() && !self.is_daily()) || *status >= 500
            }
            CallError::Transport { .. } => true,
            CallError::Decode(_) | CallError::Auth(_) => false,
        }
    }

    fn status(&self) -> Option<u16> {
        match self {
            CallError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    fn describe(&self) -> String {
        match self {
            CallError::Status {
                status, message, ..
            } => {
                let hint = match status {
                    401 => " (hint: the service account's token was refused; check its key file)",
                    403 if !self.is_quota() => {
                        " (hint: the service account needs the Administrator role on the account or property, and a token with the analytics.manage.users scope to write)"
                    }
                    404 => " (hint: check the target id, `accounts/N` or `properties/N`)",
                    _ => "",
                };
                if message.is_empty() {
                    format!("HTTP {status}{hint}")
                } else {
                    format!("HTTP {status}: {message}{hint}")
                }
            }
            CallError::Transport { detail, .. } => detail.clone(),
            CallError::Decode(detail) => format!("unexpected response: {detail}"),
            CallError::Auth(detail) => format!("no access token: {detail}"),
        }
    }
}

/// One call's attempt failure, with the wait Google asked for.
struct Failure {
    error: CallError,
    retry_after: Option<Duration>,
}

// ------------------------------------------------------------- provider

/// Reads and writes GA4 access bindings.
pub struct Ga4Provider {
    http: reqwest::Client,
    base: String,
    bearer: Arc<dyn Bearer>,
    caps: Capabilities,
    retry: RetryPolicy,
    limiter: Arc<RateLimiter>,
    /// The limiter's bucket: the Cloud project the quota is counted on.
    bucket: ApiKey,
}

impl std::fmt::Debug for Ga4Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ga4Provider")
            .field("base", &self.base)
            .field("client_email", &self.bearer.client_email())
            .finish_non_exhaustive()
    }
}

fn check_base_url(base: &str) -> Result<String, ProviderError> {
    super::check_base_url(base, "GA4 Admin API")
}

/// `accounts/N` or `properties/N`.
/// Whether `name` is an access binding of `parent`
/// (`{parent}/accessBindings/{id}`), so that a name from an answer or a plan
/// file cannot send a write anywhere else.
fn binding_of(parent: &str, name: &str) -> bool {
    name.strip_prefix(parent)
        .and_then(|rest| rest.strip_prefix("/accessBindings/"))
        .is_some_and(crate::platform::is_plain_id)
}

fn check_target(id: &str) -> Result<(), ProviderError> {
    let ok = id.split_once('/').is_some_and(|(kind, n)| {
        matches!(kind, "accounts" | "properties")
            && !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
    });
    if ok {
        Ok(())
    } else {
        Err(ProviderError::new(format!(
            "`{}` is not a GA4 target: use `accounts/NUMBER` or `properties/NUMBER`",
            crate::escape::text(id)
        )))
    }
}

impl Ga4Provider {
    pub fn new(
        base_url: &str,
        bearer: Arc<dyn Bearer>,
        timeout: Duration,
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
        let bucket = ApiKey::new(bearer.project_id());
        Ok(Ga4Provider {
            http,
            base,
            bearer,
            caps: capabilities(),
            retry,
            // 600 writes per minute per project (reads have twice that).
            limiter: Arc::new(RateLimiter::per_minute(600)),
            bucket,
        })
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::new()
            .with_min_delay(self.retry.base)
            .with_max_delay(self.retry.max_delay.max(self.retry.base))
            .with_factor(2.0)
            .with_max_times(self.retry.attempts.saturating_sub(1) as usize)
            .with_jitter()
    }

    /// Send a call, retrying as the module doc says; the decoded answer.
    async fn call<R: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        scope: &'static str,
        idempotent: bool,
    ) -> Result<R, CallError> {
        let mut waits = self.backoff().build();
        loop {
            match self.attempt(&method, path, query, body, scope).await {
                Ok(bytes) => {
                    return serde_json::from_slice(&bytes)
                        .map_err(|e| CallError::Decode(format!("{method} {path}: {e}")));
                }
                Err(failure) => {
                    let retry =
                        failure.error.transient() && (idempotent || failure.error.not_acted());
                    let wait = if retry {
                        match (waits.next(), failure.retry_after) {
                            (None, _) => None,
                            (Some(_), Some(asked)) if asked > self.retry.max_retry_after => None,
                            (Some(backoff), Some(asked)) => Some(backoff.max(asked)),
                            (Some(backoff), None) => Some(backoff),
                        }
                    } else {
                        None
                    };
                    match wait {
                        Some(wait) => {
                            debug!(
                                call = %format!("{method} {path}"),
                                error = %failure.error.describe(),
                                wait_ms = wait.as_millis() as u64,
                                "ga4: retrying"
                            );
                            tokio::time::sleep(wait).await;
                        }
                        None => return Err(failure.error),
                    }
                }
            }
        }
    }

    async fn attempt(
        &self,
        method: &Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        scope: &'static str,
    ) -> Result<Vec<u8>, Failure> {
        let fail = |error| Failure {
            error,
            retry_after: None,
        };
        let token = self
            .bearer
            .token(&[scope])
            .await
            .map_err(|e| fail(CallError::Auth(e.message)))?;
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
            .map_err(|_| fail(CallError::Auth("the token is not a valid header".into())))?;
        auth.set_sensitive(true);
        self.limiter.acquire(&self.bucket).await;
        let mut request = self
            .http
            .request(method.clone(), format!("{}/v1alpha/{path}", self.base))
            .header(AUTHORIZATION, auth)
            .query(query);
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.map_err(|e| {
            fail(CallError::Transport {
                detail: format!("{method} {path}: {}", without_url(&e)),
                connected: !e.is_connect(),
            })
        })?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, time::OffsetDateTime::now_utc()));
        let bytes = match crate::providers::body::read_capped(response, MAX_BODY_BYTES).await {
            Ok(bytes) => bytes,
            Err(BodyError::TooLarge { cap }) => {
                return Err(fail(CallError::Decode(format!(
                    "{method} {path}: answer {}",
                    BodyError::too_large(cap)
                ))));
            }
            Err(BodyError::Cut(e)) => {
                return Err(fail(CallError::Transport {
                    detail: format!("{method} {path}: answer cut short: {}", without_url(&e)),
                    connected: true,
                }));
            }
        };
        if status.is_success() {
            return Ok(bytes);
        }
        Err(Failure {
            error: status_error(status, &bytes),
            retry_after,
        })
    }

    /// Every binding of `parent`, paged.
    async fn list(&self, parent: &str) -> Result<Vec<WireBinding>, CallError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut query = vec![("pageSize", PAGE_SIZE.to_string())];
            if let Some(t) = &token {
                query.push(("pageToken", t.clone()));
            }
            let page: ListAnswer = self
                .call(
                    Method::GET,
                    &format!("{parent}/accessBindings"),
                    &query,
                    None,
                    scopes::GA4_READ,
                    true,
                )
                .await?;
            out.extend(page.access_bindings);
            match page.next_page_token.filter(|t| !t.is_empty()) {
                Some(next) if Some(&next) == token.as_ref() => {
                    return Err(CallError::Decode(format!(
                        "{parent}: the list repeated its page token"
                    )));
                }
                Some(next) => token = Some(next),
                None => return Ok(out),
            }
        }
        Err(CallError::Decode(format!(
            "{parent}: more than {MAX_PAGES} pages of bindings"
        )))
    }

    /// The live bindings of `parent` by lower-cased email.
    async fn live(&self, parent: &str) -> Result<BTreeMap<String, WireBinding>, CallError> {
        Ok(self
            .list(parent)
            .await?
            .into_iter()
            .filter_map(|b| Some((b.user.clone()?.to_lowercase(), b)))
            .collect())
    }

    async fn create(&self, parent: &str, change: &Change) -> Result<(), CallError> {
        let body = json!({ "user": change.who.email(), "roles": wire_roles(change.to.as_ref()) });
        self.call::<Value>(
            Method::POST,
            &format!("{parent}/accessBindings"),
            &[],
            Some(&body),
            scopes::GA4_WRITE,
            false,
        )
        .await
        .map(drop)
    }

    async fn patch(&self, name: &str, roles: Vec<String>) -> Result<(), CallError> {
        let body = json!({ "name": name, "roles": roles });
        self.call::<Value>(
            Method::PATCH,
            name,
            &[],
            Some(&body),
            scopes::GA4_WRITE,
            true,
        )
        .await
        .map(drop)
    }

    async fn delete(&self, name: &str) -> Result<(), CallError> {
        self.call::<Value>(Method::DELETE, name, &[], None, scopes::GA4_WRITE, false)
            .await
            .map(drop)
    }

    async fn batch(
        &self,
        parent: &str,
        verb: &str,
        requests: Vec<Value>,
        idempotent: bool,
    ) -> Result<(), CallError> {
        self.call::<Value>(
            Method::POST,
            &format!("{parent}/accessBindings:{verb}"),
            &[],
            Some(&json!({ "requests": requests })),
            scopes::GA4_WRITE,
            idempotent,
        )
        .await
        .map(drop)
    }

    async fn observe_target(&self, target: &Target) -> Result<TargetState, ProviderError> {
        check_target(&target.id)?;
        let bindings = self.list(&target.id).await.map_err(|e| {
            ProviderError::new(format!(
                "reading the access bindings of GA4 {} failed: {}",
                target.id,
                e.describe()
            ))
        })?;
        let bindings = bindings
            .into_iter()
            .map(|b| Binding {
                email: b.user.as_deref().map(str::to_lowercase),
                platform_id: None,
                access: Access::roles(b.roles.iter().map(|r| role_from_wire(r))),
                lifecycle: Lifecycle::Active,
                handle: b.name,
            })
            .collect();
        Ok(TargetState {
            bindings,
            children: Default::default(),
        })
    }

    async fn apply_target(
        &self,
        target: &Target,
        changes: &[Change],
        progress: Progress<'_>,
    ) -> Vec<Outcome> {
        let mut run = Run {
            changes,
            outcomes: vec![None; changes.len()],
            progress,
            stopped: None,
        };
        if let Err(e) = check_target(&target.id) {
            for i in 0..changes.len() {
                run.settle(i, Outcome::Failed(e.message.clone()));
            }
            return run.finish();
        }
        let parent = target.id.as_str();
        let of = |kind: ChangeKind| -> Vec<usize> {
            (0..changes.len())
                .filter(|&i| changes[i].kind == kind)
                .collect()
        };
        let adds = of(ChangeKind::Add);
        let updates = of(ChangeKind::Update);
        let mut removes = of(ChangeKind::Remove);

        // Updates and removals need the binding's name; look up the missing.
        let needs_names = updates
            .iter()
            .chain(&removes)
            .any(|&i| changes[i].handle.is_none());
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        if needs_names {
            match self.live(parent).await {
                Ok(live) => {
                    names = live
                        .into_iter()
                        .filter_map(|(email, b)| Some((email, b.name?)))
                        .collect();
                }
                Err(e) => {
                    let why = format!("cannot read {parent}: {}", e.describe());
                    for &i in updates.iter().chain(&removes) {
                        if changes[i].handle.is_none() {
                            run.settle(i, Outcome::Failed(why.clone()));
                        }
                    }
                }
            }
        }
        let name_of = |i: usize| -> Option<String> {
            changes[i]
                .handle
                .clone()
                .or_else(|| names.get(&changes[i].who.to_string()).cloned())
        };

        self.apply_adds(parent, &adds, &mut run).await;
        self.apply_batched(parent, ChangeKind::Update, &updates, &name_of, &mut run)
            .await;

        // The daily cap: removals past it are left for the next run.
        let cap = DAILY_REMOVALS as usize;
        if removes.len() > cap {
            for &i in &removes[cap..] {
                run.settle(i, Outcome::Skipped(cap_message()));
            }
            removes.truncate(cap);
        }
        self.apply_batched(parent, ChangeKind::Remove, &removes, &name_of, &mut run)
            .await;
        run.finish()
    }

    async fn apply_adds(&self, parent: &str, adds: &[usize], run: &mut Run<'_>) {
        let mut quota: Option<String> = None;
        for chunk in adds.chunks(BATCH_MAX) {
            if run.halted(chunk) {
                continue;
            }
            if let Some(why) = &quota {
                for &i in chunk {
                    run.settle(i, Outcome::Skipped(why.clone()));
                }
                continue;
            }
            let requests = chunk
                .iter()
                .map(|&i| {
                    json!({ "parent": parent, "accessBinding": {
                        "user": run.changes[i].who.email(),
                        "roles": wire_roles(run.changes[i].to.as_ref()),
                    }})
                })
                .collect();
            match self.batch(parent, "batchCreate", requests, false).await {
                Ok(()) => {
                    for &i in chunk {
                        run.settle(i, Outcome::Done);
                    }
                }
                Err(e) if e.is_quota() => {
                    let why = quota_message(&e);
                    for &i in chunk {
                        run.settle(i, Outcome::Skipped(why.clone()));
                    }
                    quota = Some(why);
                }
                // Refused as a whole (transactional): one create each, so
                // the bad email(s) fail alone.
                Err(e) if e.status().is_some_and(|s| (400..500).contains(&s)) => {
                    debug!(error = %e.describe(), "ga4: batchCreate refused, creating one by one");
                    for &i in chunk {
                        if run.halted(&[i]) {
                            continue;
                        }
                        let outcome = match self.create(parent, &run.changes[i]).await {
                            Ok(()) => Outcome::Done,
                            Err(e) if e.is_quota() => Outcome::Skipped(quota_message(&e)),
                            Err(e) => Outcome::Failed(e.describe()),
                        };
                        run.settle(i, outcome);
                    }
                }
                // Not known whether it was created: read and decide.
                Err(e) => {
                    self.reconcile(parent, chunk, &e, &|_| None, run).await;
                }
            }
        }
    }

    /// Updates (`batchUpdate`, full role sets) or removals (`batchDelete`) in
    /// chunks of [`BATCH_MAX`]; a failed chunk is settled by reading the
    /// parent again (neither call is documented as transactional), and after
    /// a quota answer the rest is skipped.
    async fn apply_batched(
        &self,
        parent: &str,
        kind: ChangeKind,
        indices: &[usize],
        name_of: &(dyn Fn(usize) -> Option<String> + Sync),
        run: &mut Run<'_>,
    ) {
        let (verb, idempotent) = match kind {
            ChangeKind::Remove => ("batchDelete", false),
            _ => ("batchUpdate", true),
        };
        let pending: Vec<usize> = indices
            .iter()
            .copied()
            .filter(|&i| run.outcomes[i].is_none())
            .collect();
        let mut quota: Option<String> = None;
        for chunk in pending.chunks(BATCH_MAX) {
            if run.halted(chunk) {
                continue;
            }
            if let Some(why) = &quota {
                for &i in chunk {
                    run.settle(i, Outcome::Skipped(why.clone()));
                }
                continue;
            }
            let mut sendable = Vec::new();
            for &i in chunk {
                match name_of(i) {
                    Some(_) => sendable.push(i),
                    // Not there: nothing to remove.
                    None if kind == ChangeKind::Remove => run.settle(i, Outcome::Done),
                    None => run.settle(
                        i,
                        Outcome::Failed(format!(
                            "{} has no binding on {parent} any more",
                            run.changes[i].who
                        )),
                    ),
                }
            }
            if sendable.is_empty() {
                continue;
            }
            let requests = sendable
                .iter()
                .map(|&i| match kind {
                    ChangeKind::Remove => json!({ "name": name_of(i) }),
                    _ => json!({ "accessBinding": {
                        "name": name_of(i),
                        "roles": wire_roles(run.changes[i].to.as_ref()),
                    }}),
                })
                .collect();
            match self.batch(parent, verb, requests, idempotent).await {
                Ok(()) => {
                    for &i in &sendable {
                        run.settle(i, Outcome::Done);
                    }
                }
                Err(e) => {
                    if e.is_quota() {
                        quota = Some(quota_message(&e));
                    }
                    self.reconcile(parent, &sendable, &e, name_of, run).await;
                }
            }
        }
    }

    /// After a batch failed (perhaps part-way): read `parent` again and
    /// decide each change from the live state; what is still to do is
    /// retried singly, unless the failure was a quota (then it is skipped).
    async fn reconcile(
        &self,
        parent: &str,
        indices: &[usize],
        cause: &CallError,
        name_of: &(dyn Fn(usize) -> Option<String> + Sync),
        run: &mut Run<'_>,
    ) {
        debug!(error = %cause.describe(), "ga4: batch failed, reading {parent} again");
        let live = match self.live(parent).await {
            Ok(live) => live,
            Err(read) => {
                let why = format!(
                    "the batch call failed ({}) and {parent} could not be read again ({}); the next plan will tell",
                    cause.describe(),
                    read.describe()
                );
                for &i in indices {
                    run.settle(i, Outcome::Unknown(why.clone()));
                }
                return;
            }
        };
        let mut quota = cause.is_quota().then(|| quota_message(cause));
        for &i in indices {
            let change = &run.changes[i];
            let current = live.get(&change.who.to_string());
            let wanted = wire_roles(change.to.as_ref());
            let done = match change.kind {
                ChangeKind::Remove => current.is_none(),
                ChangeKind::Add | ChangeKind::Update => current.is_some_and(|b| {
                    let mut have = b.roles.clone();
                    have.sort();
                    let mut want = wanted.clone();
                    want.sort();
                    have == want
                }),
            };
            if done {
                run.settle(i, Outcome::Done);
                continue;
            }
            if let Some(why) = &quota {
                run.settle(i, Outcome::Skipped(why.clone()));
                continue;
            }
            let name = current.and_then(|b| b.name.clone()).or_else(|| name_of(i));
            // A name from an answer or a plan file goes into the URL path:
            // it must be one of this parent's bindings.
            if let Some(n) = name.as_deref().filter(|n| !binding_of(parent, n)) {
                run.settle(
                    i,
                    Outcome::Failed(format!(
                        "`{}` is not an access binding of {parent}; nothing was sent (hint: run `accessctl plan`: it reads the bindings again)",
                        crate::escape::text(n)
                    )),
                );
                continue;
            }
            let result = match (change.kind, name) {
                (ChangeKind::Add, _) | (ChangeKind::Update, None) if current.is_none() => {
                    if change.kind == ChangeKind::Add {
                        self.create(parent, change).await
                    } else {
                        Err(CallError::Status {
                            status: 404,
                            reason: None,
                            message: format!("{} has no binding on {parent} any more", change.who),
                        })
                    }
                }
                (ChangeKind::Add | ChangeKind::Update, Some(name)) => {
                    self.patch(&name, wanted).await
                }
                (ChangeKind::Remove, Some(name)) => self.delete(&name).await,
                (_, None) => Ok(()),
            };
            let outcome = match result {
                Ok(()) => Outcome::Done,
                // Already gone.
                Err(CallError::Status { status: 404, .. }) if change.kind == ChangeKind::Remove => {
                    Outcome::Done
                }
                Err(e) if e.is_quota() => {
                    let why = quota_message(&e);
                    quota = Some(why.clone());
                    Outcome::Skipped(why)
                }
                Err(e) => Outcome::Failed(e.describe()),
            };
            run.settle(i, outcome);
        }
    }
}

fn quota_message(e: &CallError) -> String {
    format!(
        "GA4 refused with a quota error ({}); GA4 takes {DAILY_REMOVALS} user deletions per property per day and about 600 writes a minute; the rest is left for the next run",
        e.describe()
    )
}

/// A reqwest error's text without the URL (it has no secret, but it is
/// noise next to the call name already given).
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "answer unreadable"
    } else {
        "request failed"
    };
    let mut text = kind.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    crate::escape::text(&text).into_owned()
}

/// A non-2xx answer: Google's error shape when it is one.
fn status_error(status: StatusCode, bytes: &[u8]) -> CallError {
    let parsed: Option<ErrorBody> = serde_json::from_slice(bytes).ok();
    let (message, reason) = match parsed {
        Some(body) => {
            let reason = body.error.errors.iter().find_map(|e| e.reason.clone());
            let mut message = body.error.message.unwrap_or_default();
            if let Some(s) = body.error.status.filter(|s| !message.contains(s.as_str())) {
                message = if message.is_empty() {
                    s
                } else {
                    format!("{s}: {message}")
                };
            }
            (message, reason)
        }
        None => (String::new(), None),
    };
    let mut message: String = crate::escape::text(&message).into_owned();
    if message.chars().count() > 500 {
        message = message.chars().take(500).collect::<String>() + "…";
    }
    CallError::Status {
        status: status.as_u16(),
        reason,
        message,
    }
}

/// Outcomes of one apply, told to `progress` as they are settled.
struct Run<'a> {
    changes: &'a [Change],
    outcomes: Vec<Option<Outcome>>,
    progress: Progress<'a>,
    /// Why the journal stopped the run: nothing more is sent.
    stopped: Option<String>,
}

impl Run<'_> {
    fn settle(&mut self, i: usize, outcome: Outcome) {
        if self.outcomes[i].is_some() {
            return;
        }
        let told = self.progress.settled(&[Settled {
            index: i,
            change: &self.changes[i],
            outcome: outcome.clone(),
            receipt: None,
        }]);
        if let Err(why) = told {
            self.stopped.get_or_insert(why);
        }
        self.outcomes[i] = Some(outcome);
    }

    /// Settles `chunk` as skipped when the journal stopped the run; whether
    /// it did.
    fn halted(&mut self, chunk: &[usize]) -> bool {
        let Some(why) = self.stopped.clone() else {
            return false;
        };
        for &i in chunk {
            self.settle(i, Outcome::Skipped(why.clone()));
        }
        true
    }

    fn finish(mut self) -> Vec<Outcome> {
        let why = self
            .stopped
            .clone()
            .unwrap_or_else(|| "not attempted (a change GA4 has no call for)".into());
        for i in 0..self.changes.len() {
            if self.outcomes[i].is_none() {
                self.settle(i, Outcome::Skipped(why.clone()));
            }
        }
        self.outcomes.into_iter().flatten().collect()
    }
}

impl Provider for Ga4Provider {
    fn platform(&self) -> Platform {
        Platform::Ga4
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
        Box::pin(self.observe_target(target))
    }

    fn apply<'a>(
        &'a self,
        target: &'a Target,
        changes: &'a [Change],
        progress: Progress<'a>,
    ) -> BoxFuture<'a, Vec<Outcome>> {
        Box::pin(self.apply_target(target, changes, progress))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ga4_roles_map_both_ways_and_custom_roles_stay() {
        assert_eq!(role_to_wire("viewer"), "predefinedRoles/viewer");
        assert_eq!(
            role_from_wire("predefinedRoles/no-cost-data"),
            "no-cost-data"
        );
        assert_eq!(
            role_from_wire("properties/2/roles/custom"),
            "properties/2/roles/custom"
        );
        assert_eq!(
            role_from_wire("predefinedRoles/boss"),
            "predefinedRoles/boss"
        );
        assert_eq!(role_to_wire("predefinedRoles/boss"), "predefinedRoles/boss");
    }

    #[test]
    fn ga4_errors_read_google_shape_and_never_panic() {
        let e = status_error(
            StatusCode::TOO_MANY_REQUESTS,
            br#"{"error":{"code":429,"message":"Quota","status":"RESOURCE_EXHAUSTED","errors":[{"reason":"dailyLimitExceeded"}]}}"#,
        );
        assert!(e.is_quota() && e.is_daily() && !e.transient());
        let e = status_error(
            StatusCode::FORBIDDEN,
            br#"{"error":{"message":"slow down","errors":[{"reason":"rateLimitExceeded"}]}}"#,
        );
        assert!(e.is_quota() && e.transient());
        let e = status_error(StatusCode::BAD_GATEWAY, b"\xff\x00<html>");
        assert!(e.transient());
        assert_eq!(e.describe(), "HTTP 502");
    }

    #[test]
    fn binding_names_stay_in_their_parent() {
        assert!(binding_of(
            "properties/200",
            "properties/200/accessBindings/a-1_B"
        ));
        assert!(!binding_of(
            "properties/200",
            "properties/201/accessBindings/1"
        ));
        assert!(!binding_of(
            "properties/200",
            "properties/2000/accessBindings/1"
        ));
        assert!(!binding_of(
            "properties/200",
            "properties/200/accessBindings/../../accounts/1"
        ));
        assert!(!binding_of(
            "properties/200",
            "properties/200/accessBindings/1?x=y"
        ));
        assert!(!binding_of(
            "properties/200",
            "properties/200/accessBindings/"
        ));
        assert!(!binding_of("properties/200", "properties/200/containers/1"));
    }

    #[test]
    fn ga4_targets_are_accounts_or_properties() {
        assert!(check_target("accounts/1").is_ok());
        assert!(check_target("properties/22").is_ok());
        assert!(check_target("properties/").is_err());
        assert!(check_target("containers/1").is_err());
        assert!(check_target("accounts/1/x").is_err());
    }

    #[test]
    fn ga4_base_urls_need_tls_off_loopback() {
        assert!(check_base_url("https://analyticsadmin.googleapis.com/").is_ok());
        assert!(check_base_url("http://127.0.0.1:9").is_ok());
        assert!(check_base_url("http://example.com").is_err());
    }
}
