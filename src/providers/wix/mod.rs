//! The Wix provider: a reqwest (rustls) client for the site-access endpoints.
//!
//! Every path, method and id header is in [`endpoints`], so correcting an
//! unconfirmed API detail is a one-line change there. The client reads live
//! state ([`WixClient::read_site`]) and performs single changes; it never
//! decides what to change. The API key lives in an [`ApiKey`] and is only
//! exposed when the `Authorization` header is built (marked sensitive, so
//! HTTP logging never prints it).
//!
//! [`WixClient::call`] is the one place requests are sent. Every attempt
//! waits for the key's [`limiter`] slot and has a timeout; calls that are
//! safe to repeat ([`endpoints::Repeat`]) are retried on 429, 5xx, timeouts
//! and connection errors as [`retry`] says, and each retry is logged at
//! `-v`. Bulk Invite and Resend are repeated only when Wix certainly did not
//! act (a 429, a connection never made); after any other failure what it
//! means is decided by the apply executor ([`WixError::outcome_unknown`]).
//! Answers are capped in size, and one that is not the JSON expected is a
//! [`ErrorKind::Decode`] error naming the site and the call, never a panic.

pub mod endpoints;
pub mod limiter;
pub mod provider;
mod reach;
pub mod retry;
pub mod wire;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use backon::Retryable as _;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::{Mutex, OnceCell, Semaphore};
use tracing::{Instrument as _, debug, debug_span, info, info_span};

use crate::secret::ApiKey;
use crate::state::{LiveSite, RoleDef, RoleSet};
use endpoints::{Endpoint, IdHeader, Repeat};
use limiter::RateLimiter;
use retry::RetryPolicy;

/// What Wix allows, in the core's terms (`platform::Capabilities`): access
/// is granted by an invitation to an email, which Wix cannot edit (it is
/// revoked and sent again); a collaborator is changed or removed by its
/// account id; Bulk Invite takes up to 50 emails with one role set. Roles
/// are per account and read live, so none is listed here; the site owner,
/// whom nothing changes, stands in for a last-admin guard.
pub const CAPABILITIES: crate::platform::Capabilities = crate::platform::Capabilities {
    effect: crate::platform::GrantEffect::Invitation,
    key: crate::platform::PrincipalKey::PlatformId,
    batch_max: Some(endpoints::MAX_INVITES_PER_CALL),
    requests_per_second: None,
    daily_removals: None,
    invitations_editable: false,
    admin_role: None,
    roles: &[],
    child_roles: &[],
    child_holder_role: None,
    scopes: &[],
};

pub const DEFAULT_API_BASE: &str = "https://www.wixapis.com";
pub const API_BASE_ENV: &str = "ACCESSCTL_WIX_API_BASE";
/// Larger answers are refused: no legitimate response here comes near it.
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Credentials and ids for one site.
#[derive(Debug, Clone)]
pub struct SiteAccess {
    pub site_key: String,
    pub site_id: String,
    pub account_id: String,
    pub key: ApiKey,
    /// `defaultEmailLanguage` for Bulk Invite; `None` leaves it out, so Wix
    /// writes in the site owner's language.
    pub invite_language: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// Wix answered with an error status; `code` is the application error
    /// code of Wix's error body, when it had one.
    Status {
        status: u16,
        detail: String,
        code: Option<String>,
    },
    /// No answer: connection refused, reset, timed out.
    Transport { detail: String, maybe_sent: bool },
    /// An answer that is not the JSON expected.
    Decode { detail: String },
    /// An answer the client cannot read safely under one of the API
    /// details Wix's docs leave open ([`endpoints::UNCONFIRMED`]).
    Unconfirmed {
        detail: &'static endpoints::Detail,
        message: String,
    },
}

/// A failed call, naming the site and the call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{call} on site `{site}` failed: {}", describe(kind))]
pub struct WixError {
    pub call: &'static str,
    pub site: String,
    pub kind: ErrorKind,
}

fn describe(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::Status { status, detail, .. } => {
            let hint = match status {
                401 => {
                    " (hint: check that the site's api_key_env variable holds a valid Wix API key)"
                }
                403 => {
                    " (hint: the key must be created by the account that owns the site, with the Manage Contributors permission)"
                }
                404 => " (hint: check the site's `site_id` and `account_id`)",
                _ => "",
            };
            if detail.is_empty() {
                format!("HTTP {status}{hint}")
            } else {
                format!("HTTP {status}: {detail}{hint}")
            }
        }
        ErrorKind::Transport { detail, .. } => detail.clone(),
        ErrorKind::Decode { detail } => format!("unexpected response: {detail}"),
        ErrorKind::Unconfirmed { detail, message } => format!(
            "{message} (unconfirmed API detail: {}; hint: run `accessctl doctor` and report its summary)",
            detail.name
        ),
    }
}

impl WixError {
    /// True when the request may have reached Wix and been acted on.
    pub fn outcome_unknown(&self) -> bool {
        match &self.kind {
            ErrorKind::Transport { maybe_sent, .. } => *maybe_sent,
            ErrorKind::Status { status, .. } => *status >= 500,
            ErrorKind::Decode { .. } => true,
            ErrorKind::Unconfirmed { .. } => false,
        }
    }

    /// True for a 404 carrying Wix's `NOT_FOUND` error code.
    pub fn is_wix_not_found(&self) -> bool {
        is_wix_not_found(&self.kind)
    }
}

fn is_wix_not_found(kind: &ErrorKind) -> bool {
    matches!(kind, ErrorKind::Status { status: 404, code: Some(code), .. } if code == endpoints::NOT_FOUND_CODE)
}

/// An invite Wix created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentInvite {
    pub id: String,
    pub email: String,
    pub sent_at: Option<OffsetDateTime>,
    pub expires_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BulkOutcome {
    pub invites: Vec<SentInvite>,
    pub failed_emails: Vec<String>,
}

/// The HTTP client, shared by all sites of a run.
#[derive(Debug, Clone)]
pub struct WixClient {
    http: reqwest::Client,
    base: String,
    roles: RoleCache,
    limiter: Arc<RateLimiter>,
    retry: RetryPolicy,
    /// Requests in flight at once, across all keys and sites.
    in_flight: Arc<Semaphore>,
    /// Set when a call ran out of attempts without ever connecting (refused,
    /// DNS failure, connect timeout): every later call of the run fails at
    /// once with the same cause instead of retrying on its own, so an
    /// unreachable API ends a run of many sites in about one call's backoff.
    reach: Arc<reach::Reachability>,
    /// After this, calls not yet sent fail instead of being sent (the
    /// command's `--deadline`).
    deadline: Option<tokio::time::Instant>,
}

/// What to do when the API cannot be reached, after the cause.
pub const UNREACHABLE_HINT: &str = "check the network, or set ACCESSCTL_WIX_API_BASE (or --wix-api-base); for a dry run without Wix, start `accessctl emulator --seed examples/agency.seed.yaml --listen 127.0.0.1:8787` and pass --wix-api-base http://127.0.0.1:8787";

/// Requests in flight at once unless [`WixClient::with_concurrency`] says
/// otherwise (the CLI passes `--parallelism`).
pub const DEFAULT_CONCURRENCY: usize = 32;

/// A 2xx answer's body.
struct Answer {
    body: Vec<u8>,
}

/// Why one attempt failed, and whether another may help.
#[derive(Debug)]
struct AttemptError {
    kind: ErrorKind,
    /// 429, 5xx, timeouts and connection errors.
    transient: bool,
    retry_after: Option<Duration>,
    /// No connection was made: refused, DNS failure, connect timeout.
    never_connected: bool,
}

impl AttemptError {
    fn outcome_unknown(&self) -> bool {
        match &self.kind {
            ErrorKind::Transport { maybe_sent, .. } => *maybe_sent,
            ErrorKind::Status { status, .. } => *status >= 500,
            ErrorKind::Decode { .. } => true,
            ErrorKind::Unconfirmed { .. } => false,
        }
    }
}

/// A call's result after all attempts, and whether an earlier attempt may
/// have taken effect (so a later 404 can mean "already done").
struct Sent {
    result: Result<Answer, ErrorKind>,
    earlier_maybe_applied: bool,
}

/// An account's roles and the id header Get Roles Info took.
#[derive(Debug, Clone)]
pub struct RolesInfo {
    pub roles: Arc<Vec<RoleDef>>,
    pub header: IdHeader,
}

/// A site's answers as Wix gave them, before they are believed.
#[derive(Debug, Clone)]
pub struct RawRead {
    pub roles: Arc<Vec<RoleDef>>,
    pub roles_header: IdHeader,
    /// The unfiltered Query Site Contributors rows.
    pub all: Vec<wire::Contributor>,
    /// Role id → accounts its filtered query returned; empty when nobody
    /// but the owner was listed (no per-role query is needed then).
    pub per_role: BTreeMap<String, BTreeSet<String>>,
    /// When every per-role query returned every contributor (which is also
    /// what a site whose contributors all hold every role looks like): the
    /// accounts a query filtered on a role id that does not exist returned.
    /// `None` when not needed, or when Wix refused that id with a 400 (a
    /// filter it validates is one it reads).
    pub probe: Option<BTreeSet<String>>,
}

impl RawRead {
    /// Whether the configured owning account appears in the unfiltered answer.
    pub fn owner_listed(&self, site: &SiteAccess) -> bool {
        self.all
            .iter()
            .any(|c| c.account_id.as_deref() == Some(site.account_id.as_str()))
    }

    /// The distinct `accountOwnerId` values, and how many rows left it out.
    pub fn account_owner_ids(&self) -> (BTreeSet<String>, usize) {
        let ids = self
            .all
            .iter()
            .filter_map(|c| c.account_owner_id.clone())
            .collect();
        let missing = self
            .all
            .iter()
            .filter(|c| c.account_owner_id.is_none())
            .count();
        (ids, missing)
    }

    /// Non-owner accounts of the unfiltered answer.
    fn others(&self, site: &SiteAccess) -> BTreeSet<String> {
        self.all
            .iter()
            .filter_map(|c| c.account_id.clone())
            .filter(|a| *a != site.account_id)
            .collect()
    }

    /// Whether the per-role queries all returned every contributor.
    fn all_queries_return_everyone(&self, site: &SiteAccess) -> bool {
        let others = self.others(site);
        !others.is_empty()
            && self.per_role.len() >= 2
            && self
                .per_role
                .values()
                .all(|held| others.iter().all(|a| held.contains(a)))
    }

    /// Whether Wix honours the role filter: `None` when it cannot be told
    /// (fewer than two roles, or nobody but the owner). When every per-role
    /// query returned everyone, the query on a role id that does not exist
    /// decides: it returns contributors only if the filter is ignored.
    pub fn filter_narrows(&self, site: &SiteAccess) -> Option<bool> {
        if self.others(site).is_empty() || self.per_role.len() < 2 {
            return None;
        }
        if !self.all_queries_return_everyone(site) {
            return Some(true);
        }
        match &self.probe {
            Some(held) => Some(!held.iter().any(|a| *a != site.account_id)),
            None => Some(true),
        }
    }

    /// The live state, or the reason these answers cannot be planned on:
    /// `accountOwnerId` that is not the configured account, a role filter
    /// that does not narrow, a contributor holding no role, or an answer
    /// listing nobody while `known` accounts should be there.
    pub fn check(self, site: &SiteAccess, known: &BTreeSet<String>) -> Result<LiveSite, WixError> {
        let query = &endpoints::QUERY_CONTRIBUTORS;
        let refuse = |detail: &'static endpoints::Detail, message: String| {
            fail(query, site, ErrorKind::Unconfirmed { detail, message })
        };
        if self.all.is_empty() && !known.is_empty() {
            return Err(refuse(
                &endpoints::DETAIL_EMPTY_ANSWER,
                format!(
                    "Wix listed nobody on the site, not even its owner, but {} account(s) are known to be there ({}); refusing to plan on what may be a misread answer",
                    known.len(),
                    sample(known)
                ),
            ));
        }
        let (owner_ids, _) = self.account_owner_ids();
        if owner_ids.len() > 1 {
            return Err(refuse(
                &endpoints::DETAIL_ACCOUNT_OWNER_ID,
                format!(
                    "accountOwnerId differs between rows ({} values: {}), so it cannot name the site's owner; the plan would treat contributors as owners",
                    owner_ids.len(),
                    sample(&owner_ids)
                ),
            ));
        }
        if let Some(other) = owner_ids.iter().find(|id| **id != site.account_id) {
            return Err(refuse(
                &endpoints::DETAIL_ACCOUNT_OWNER_ID,
                format!(
                    "accountOwnerId is `{}` where the config's account_id is `{}`; check the site's account_id, or accountOwnerId means something else",
                    crate::escape::text(other),
                    crate::escape::text(&site.account_id)
                ),
            ));
        }
        let others = self.others(site);
        if self.filter_narrows(site) == Some(false) {
            return Err(refuse(
                &endpoints::DETAIL_ROLE_FILTER,
                format!(
                    "every one of {} per-role queries returned all {} contributor(s), and so did a query on a role id that does not exist: the `{}` filter seems to be ignored, so roles cannot be told apart",
                    self.per_role.len(),
                    others.len(),
                    endpoints::ROLE_FILTER_PARAM
                ),
            ));
        }
        let mut contributors: BTreeMap<String, RoleSet> =
            others.iter().map(|a| (a.clone(), RoleSet::new())).collect();
        for (role_id, held) in &self.per_role {
            // One copy of the id for every contributor holding the role.
            let role_id: Arc<str> = role_id.as_str().into();
            for account in held {
                if let Some(roles) = contributors.get_mut(account) {
                    roles.insert(role_id.clone());
                }
            }
        }
        let roleless: BTreeSet<String> = contributors
            .iter()
            .filter(|(_, roles)| roles.is_empty())
            .map(|(a, _)| a.clone())
            .collect();
        if !roleless.is_empty() {
            return Err(refuse(
                &endpoints::DETAIL_ROLE_FILTER,
                format!(
                    "{} contributor(s) hold none of the {} site roles by the per-role queries ({}): the `{}` filter is not read as expected, or they hold a role Get Roles Info did not list",
                    roleless.len(),
                    self.roles.len(),
                    sample(&roleless),
                    endpoints::ROLE_FILTER_PARAM
                ),
            ));
        }
        Ok(LiveSite {
            roles: self.roles,
            owners: BTreeSet::from([site.account_id.clone()]),
            contributors,
        })
    }
}

/// Up to three ids, escaped, for a message.
fn sample(ids: &BTreeSet<String>) -> String {
    let mut text: Vec<String> = ids
        .iter()
        .take(3)
        .map(|id| format!("`{}`", crate::escape::text(id)))
        .collect();
    if ids.len() > 3 {
        text.push(format!("and {} more", ids.len() - 3));
    }
    text.join(", ")
}

/// Roles per account id, each fetched at most once per run even when several
/// sites of one account are read at the same time.
type RoleCache = Arc<Mutex<BTreeMap<String, Arc<OnceCell<RolesInfo>>>>>;

/// reqwest is built without a default TLS crypto provider (ring is much
/// cheaper to compile than aws-lc); every HTTP client needs it installed
/// first. Installing it twice is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Keys travel only over TLS, except to a loopback address (the emulator).
pub fn check_base_url(base: &str) -> Result<String, String> {
    let url =
        reqwest::Url::parse(base).map_err(|e| format!("invalid Wix API base URL `{base}`: {e}"))?;
    match url.scheme() {
        "https" => {}
        "http" => {
            let host = url.host_str().unwrap_or("");
            let loopback = crate::model::requests::is_loopback_host(host);
            if !loopback {
                return Err(format!(
                    "refusing Wix API base URL `{base}`: API keys are only sent over https (plain http is allowed for loopback addresses only)"
                ));
            }
        }
        other => {
            return Err(format!(
                "unsupported scheme `{other}` in Wix API base URL `{base}`"
            ));
        }
    }
    Ok(base.trim_end_matches('/').to_string())
}

impl WixClient {
    /// A client with the default rate limit and retry policy.
    pub fn new(base: &str, timeout: Duration) -> Result<Self, String> {
        let base = check_base_url(base)?;
        install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("accessctl/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(WixClient {
            http,
            base,
            roles: Arc::default(),
            limiter: Arc::new(RateLimiter::per_minute(limiter::DEFAULT_PER_MINUTE)),
            retry: RetryPolicy::default(),
            in_flight: Arc::new(Semaphore::new(DEFAULT_CONCURRENCY)),
            reach: Arc::default(),
            deadline: None,
        })
    }

    /// At most `requests` requests in flight at once (`0` is treated as 1).
    /// A site's per-role queries go out together, so this, not the number
    /// of sites read at once, is what keeps the pipe full.
    pub fn with_concurrency(mut self, requests: usize) -> Self {
        self.in_flight = Arc::new(Semaphore::new(requests.max(1)));
        self
    }

    /// At most `per_minute` requests per API key in any minute.
    pub fn with_rate_limit(mut self, per_minute: u32) -> Self {
        self.limiter = Arc::new(RateLimiter::per_minute(per_minute));
        self
    }

    /// No call is sent once `within` has passed from now; a wait for a
    /// rate-limit slot or a retry that would end later ends the call.
    pub fn with_deadline(mut self, within: Duration) -> Self {
        self.deadline = tokio::time::Instant::now().checked_add(within);
        self
    }

    /// Whether the deadline passed, or will have by `after` from now.
    fn past_deadline(&self, after: Duration) -> bool {
        self.deadline
            .is_some_and(|d| tokio::time::Instant::now() + after >= d)
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Send a call (retrying it if the endpoint allows) and decode the answer.
    async fn call<B: Serialize, R: DeserializeOwned>(
        &self,
        endpoint: &Endpoint,
        method: &Method,
        site: &SiteAccess,
        path_arg: Option<&str>,
        query: &[(&str, &str)],
        body: Option<&B>,
    ) -> Result<R, WixError> {
        let sent = self
            .send(endpoint, method, site, path_arg, query, body)
            .await;
        let answer = sent.result.map_err(|kind| fail(endpoint, site, kind))?;
        decode(&answer.body).map_err(|kind| fail(endpoint, site, kind))
    }

    /// Send a call: one attempt, or several for a [`Repeat::Safe`] endpoint
    /// (and for any endpoint while Wix certainly has not acted on it).
    /// A non-2xx answer is an error.
    async fn send<B: Serialize>(
        &self,
        endpoint: &Endpoint,
        method: &Method,
        site: &SiteAccess,
        path_arg: Option<&str>,
        query: &[(&str, &str)],
        body: Option<&B>,
    ) -> Sent {
        let path = match path_arg {
            Some(arg) if crate::platform::is_plain_id(arg) => endpoint.path.replace("{id}", arg),
            // An id from an answer or a ledger that could leave its path
            // segment (`../`, `?`, `/`): refused before anything is sent.
            Some(arg) => {
                return Sent {
                    result: Err(ErrorKind::Transport {
                        detail: format!(
                            "not sent: `{}` is not a Wix id (letters, digits, `-` and `_`), so it cannot name the {} to act on (hint: an invite id comes from the ledger, which Wix filled in; check that record, and act on the invite in the site's dashboard)",
                            crate::escape::text(arg),
                            endpoint.name
                        ),
                        maybe_sent: false,
                    }),
                    earlier_maybe_applied: false,
                };
            }
            None => endpoint.path.to_string(),
        };
        let body = match body.map(serde_json::to_vec).transpose() {
            Ok(body) => body,
            Err(e) => {
                return Sent {
                    result: Err(ErrorKind::Transport {
                        detail: format!("cannot encode the request: {e}"),
                        maybe_sent: false,
                    }),
                    earlier_maybe_applied: false,
                };
            }
        };
        let span = debug_span!("wix", call = endpoint.name, site = %site.site_key);
        let mut attempt = 0u32;
        let mut earlier_maybe_applied = false;
        let result = (|| {
            attempt += 1;
            self.attempt(
                endpoint,
                method,
                site,
                &path,
                query,
                body.as_deref(),
                attempt,
            )
        })
        .retry(self.retry.backoff())
        // A call that sends email is repeated only when Wix certainly did
        // not act on it: refused with 429, or never connected to.
        .when(|e: &AttemptError| {
            e.transient && (endpoint.repeat == Repeat::Safe || !e.outcome_unknown())
        })
        .adjust(|e, backoff| {
            self.retry
                .wait(backoff, e.retry_after)
                .filter(|wait| !self.past_deadline(*wait))
        })
        .notify(|e, wait| {
            earlier_maybe_applied |= e.outcome_unknown();
            info!(
                call = endpoint.name,
                site = %site.site_key,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                "retrying: {}",
                describe(&e.kind)
            );
        })
        .instrument(span)
        .await;
        if let Err(AttemptError {
            never_connected: true,
            kind: ErrorKind::Transport { detail, .. },
            ..
        }) = &result
        {
            self.reach.trip(detail);
        }
        Sent {
            result: result.map_err(|e| e.kind),
            earlier_maybe_applied,
        }
    }

    /// One attempt: wait for the key's rate-limit slot, send, read the
    /// answer (capped).
    #[allow(clippy::too_many_arguments, reason = "one private call site")]
    async fn attempt(
        &self,
        endpoint: &Endpoint,
        method: &Method,
        site: &SiteAccess,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&[u8]>,
        attempt: u32,
    ) -> Result<Answer, AttemptError> {
        let not_sent = |cause: String| AttemptError {
            kind: ErrorKind::Transport {
                detail: cause,
                maybe_sent: false,
            },
            transient: false,
            retry_after: None,
            never_connected: false,
        };
        if let Some(cause) = self.reach.cause() {
            return Err(not_sent(cause.clone()));
        }
        let deadline_passed = || {
            not_sent(
                "not sent: the command's deadline passed (--deadline; see README, \"Network behaviour\")"
                    .to_string(),
            )
        };
        if self.past_deadline(Duration::ZERO) {
            return Err(deadline_passed());
        }
        let deadline = self
            .deadline
            .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(86400 * 365));
        let mut auth = HeaderValue::from_str(site.key.expose()).map_err(|_| AttemptError {
            kind: ErrorKind::Transport {
                detail: "the site's API key is not a valid HTTP header value; check its api_key_env variable".to_string(),
                maybe_sent: false,
            },
            transient: false,
            retry_after: None,
            never_connected: false,
        })?;
        auth.set_sensitive(true);
        let mut request = self
            .http
            .request(method.clone(), format!("{}{}", self.base, path))
            .header(AUTHORIZATION, auth)
            .query(query);
        request = match endpoint.id_header {
            IdHeader::Site => request.header("wix-site-id", &site.site_id),
            IdHeader::Account => request.header("wix-account-id", &site.account_id),
        };
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_vec());
        }
        // Waiting for a slot ends early when the API is found unreachable.
        let waited = tokio::select! {
            waited = self.limiter.acquire(&site.key) => waited,
            cause = self.reach.tripped(&self.retry) => return Err(not_sent(cause)),
            () = tokio::time::sleep_until(deadline) => return Err(deadline_passed()),
        };
        if !waited.is_zero() {
            debug!(
                waited_ms = u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
                "rate limiter"
            );
        }
        // Taken after the rate-limit wait, so a call held back for its key
        // never keeps another key's call from going out. Never closed.
        let _permit = tokio::select! {
            permit = self.in_flight.acquire() => permit.ok(),
            cause = self.reach.tripped(&self.retry) => return Err(not_sent(cause)),
            () = tokio::time::sleep_until(deadline) => return Err(deadline_passed()),
        };
        if let Some(cause) = self.reach.cause() {
            return Err(not_sent(cause.clone()));
        }
        if self.past_deadline(Duration::ZERO) {
            return Err(deadline_passed());
        }
        debug!(%method, %path, attempt, "request");
        let response = request.send().await;
        match &response {
            Err(e) if e.is_connect() => self.reach.refused(
                &format!(
                    "could not connect to the Wix API at {}: {} (hint: {UNREACHABLE_HINT})",
                    self.base,
                    root_cause(e)
                ),
                &self.retry,
            ),
            Ok(_) => self.reach.connected(),
            // A timeout may have been spent connecting or waiting for Wix:
            // it neither proves nor disproves that the API is reachable.
            Err(_) => {}
        }
        let response = response.map_err(|e| AttemptError {
            kind: ErrorKind::Transport {
                detail: if e.is_connect() {
                    format!(
                        "could not connect to the Wix API at {}: {} (hint: {UNREACHABLE_HINT})",
                        self.base,
                        root_cause(&e)
                    )
                } else {
                    transport_detail(&e)
                },
                // A connect failure never reached Wix; anything later may have.
                maybe_sent: !e.is_connect(),
            },
            transient: e.is_timeout() || e.is_connect() || e.is_request() || e.is_body(),
            retry_after: None,
            never_connected: e.is_connect(),
        })?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry::parse_retry_after(v, OffsetDateTime::now_utc()));
        if let Some(after) = retry_after {
            // Every call on this key waits, not only a retry of this one.
            self.limiter
                .defer(&site.key, tokio::time::Instant::now() + after);
        }
        let body = read_capped(response)
            .await
            .map_err(|(detail, transient)| AttemptError {
                kind: ErrorKind::Transport {
                    detail,
                    maybe_sent: true,
                },
                transient,
                retry_after: None,
                never_connected: false,
            })?;
        debug!(status = status.as_u16(), bytes = body.len(), "response");
        if status.is_success() {
            return Ok(Answer { body });
        }
        Err(AttemptError {
            kind: ErrorKind::Status {
                status: status.as_u16(),
                detail: error_detail(status, &body),
                code: serde_json::from_slice::<wire::ErrorBody>(&body)
                    .ok()
                    .and_then(|b| b.details?.application_error?.code),
            },
            transient: status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error(),
            retry_after,
            never_connected: false,
        })
    }

    /// Roles of an account, fetched once per account per run and shared by
    /// its sites.
    pub async fn roles(&self, site: &SiteAccess) -> Result<Arc<Vec<RoleDef>>, WixError> {
        Ok(self.roles_info(site).await?.roles)
    }

    /// Roles of an account and the id header Get Roles Info took: the
    /// documented `wix-account-id`, or `wix-site-id` when that one is
    /// refused with a 400 or 403 (which one Wix wants is unconfirmed).
    pub async fn roles_info(&self, site: &SiteAccess) -> Result<RolesInfo, WixError> {
        let cell = {
            let mut map = self.roles.lock().await;
            map.entry(site.account_id.clone()).or_default().clone()
        };
        cell.get_or_try_init(|| async {
            let first = &endpoints::GET_ROLES_INFO;
            let query = [("locale", "en"), ("filter.roleLevel", "SITE_LEVEL")];
            let refused = match self
                .call::<(), wire::GetRolesInfoResponse>(
                    first,
                    &first.method,
                    site,
                    None,
                    &query,
                    None,
                )
                .await
            {
                Ok(response) => {
                    return Ok(RolesInfo {
                        roles: Arc::new(roles_from_wire(response)),
                        header: first.id_header,
                    });
                }
                Err(
                    e @ WixError {
                        kind:
                            ErrorKind::Status {
                                status: 400 | 403, ..
                            },
                        ..
                    },
                ) => e,
                Err(e) => return Err(e),
            };
            let other = Endpoint {
                id_header: endpoints::GET_ROLES_INFO_FALLBACK_HEADER,
                ..first.clone()
            };
            match self
                .call::<(), wire::GetRolesInfoResponse>(
                    &other,
                    &other.method,
                    site,
                    None,
                    &query,
                    None,
                )
                .await
            {
                Ok(response) => Ok(RolesInfo {
                    roles: Arc::new(roles_from_wire(response)),
                    header: other.id_header,
                }),
                Err(second) => Err(fail(
                    first,
                    site,
                    ErrorKind::Unconfirmed {
                        detail: &endpoints::DETAIL_ROLES_HEADER,
                        message: format!(
                            "refused with {} ({}) and with {} ({})",
                            first.id_header.name(),
                            describe(&refused.kind),
                            other.id_header.name(),
                            describe(&second.kind)
                        ),
                    },
                )),
            }
        })
        .await
        .cloned()
    }

    /// Contributors as Wix lists them, optionally only those holding
    /// `role_id`.
    async fn query_contributors(
        &self,
        site: &SiteAccess,
        role_id: Option<&str>,
    ) -> Result<Vec<wire::Contributor>, WixError> {
        let e = &endpoints::QUERY_CONTRIBUTORS;
        let query: Vec<(&str, &str)> = role_id
            .map(|r| (endpoints::ROLE_FILTER_PARAM, r))
            .into_iter()
            .collect();
        let response: wire::QuerySiteContributorsResponse = self
            .call(e, &e.method, site, None, &query, None::<&()>)
            .await?;
        Ok(response.contributors)
    }

    /// Everything the plan needs about a site: its roles, its owner and each
    /// contributor's role set (learned by one query per role, since Wix
    /// cannot return a contributor's roles directly). The answers are
    /// checked before they are believed ([`RawRead::check`]).
    pub async fn read_site(&self, site: &SiteAccess) -> Result<LiveSite, WixError> {
        self.read_site_expecting(site, &BTreeSet::new()).await
    }

    /// [`WixClient::read_site`], where `known` are accounts the ledger or
    /// the config says are on the site: an answer listing nobody at all is
    /// then refused rather than read as "no contributors".
    pub async fn read_site_expecting(
        &self,
        site: &SiteAccess,
        known: &BTreeSet<String>,
    ) -> Result<LiveSite, WixError> {
        let raw = self.read_raw(site).await?;
        raw.check(site, known)
    }

    /// Every answer a site read gets, unchecked (for `doctor`, which
    /// reports what Wix said before saying whether a plan accepts it).
    pub async fn read_raw(&self, site: &SiteAccess) -> Result<RawRead, WixError> {
        let span = info_span!("read_site", site = %site.site_key);
        async {
            let info = self.roles_info(site).await?;
            let all = self.query_contributors(site, None).await?;
            let others = all
                .iter()
                .filter_map(|c| c.account_id.as_deref())
                .any(|a| a != site.account_id);
            // Only the owner: no need to ask who holds which role. Else one
            // query per role, all at once: they are independent, and a site
            // then takes three round trips instead of one per role.
            let mut per_role = BTreeMap::new();
            if others {
                let mut queries = tokio::task::JoinSet::new();
                for role in info.roles.iter() {
                    let (client, site, role_id) = (self.clone(), site.clone(), role.id.clone());
                    queries.spawn(
                        async move {
                            let held = client.query_contributors(&site, Some(&role_id)).await;
                            (role_id, held)
                        }
                        .in_current_span(),
                    );
                }
                while let Some(joined) = queries.join_next().await {
                    let (role_id, held) = match joined {
                        Ok(answer) => answer,
                        Err(e) => std::panic::resume_unwind(e.into_panic()),
                    };
                    let held: BTreeSet<String> =
                        held?.into_iter().filter_map(|c| c.account_id).collect();
                    per_role.insert(role_id, held);
                }
            }
            let mut raw = RawRead {
                roles: info.roles,
                roles_header: info.header,
                all,
                per_role,
                probe: None,
            };
            if raw.all_queries_return_everyone(site) {
                raw.probe = match self
                    .query_contributors(site, Some(endpoints::ROLE_FILTER_PROBE_ID))
                    .await
                {
                    Ok(held) => Some(held.into_iter().filter_map(|c| c.account_id).collect()),
                    Err(WixError {
                        kind: ErrorKind::Status { status: 400, .. },
                        ..
                    }) => None,
                    Err(e) => return Err(e),
                };
            }
            Ok(raw)
        }
        .instrument(span)
        .await
    }

    /// Bulk Invite: one role set, up to [`endpoints::MAX_INVITES_PER_CALL`]
    /// emails, in the site's `invite_language` when one is configured.
    pub async fn bulk_invite(
        &self,
        site: &SiteAccess,
        role_ids: &[String],
        emails: &[String],
    ) -> Result<BulkOutcome, WixError> {
        let e = &endpoints::BULK_INVITE;
        // Left out unless configured: Wix then uses the site owner's language.
        let body = wire::BulkSiteInviteRequest {
            policy_ids: role_ids,
            emails,
            default_email_language: site.invite_language.as_deref(),
        };
        let response: wire::BulkSiteInviteResponse = self
            .call(e, &e.method, site, None, &[], Some(&body))
            .await?;
        let invites = response
            .invites
            .into_iter()
            .filter_map(|i| {
                Some(SentInvite {
                    id: i.id?,
                    email: i.email?.to_lowercase(),
                    sent_at: i.date_created.as_deref().and_then(parse_time),
                    expires_at: i.expiration_date.as_deref().and_then(parse_time),
                })
            })
            .collect();
        Ok(BulkOutcome {
            invites,
            failed_emails: response
                .failed_emails
                .into_iter()
                .map(|e| e.to_lowercase())
                .collect(),
        })
    }

    pub async fn resend_invite(&self, site: &SiteAccess, invite_id: &str) -> Result<(), WixError> {
        let e = &endpoints::RESEND_INVITE;
        let _: wire::SiteInviteResponse = self
            .call(
                e,
                &e.method,
                site,
                Some(invite_id),
                &[],
                Some(&serde_json::json!({})),
            )
            .await?;
        Ok(())
    }

    /// Revoke an invite. `Ok(false)` when Wix answered its `NOT_FOUND`: the
    /// invite is no longer open (accepted, expired, revoked elsewhere, or by
    /// our own earlier attempt). Any other 404 — a gateway's, a wrong path's
    /// — is an error: it would otherwise record a live invite as revoked.
    pub async fn revoke_invite(
        &self,
        site: &SiteAccess,
        invite_id: &str,
    ) -> Result<bool, WixError> {
        let e = &endpoints::REVOKE_INVITE;
        let sent = self
            .send(e, &e.method, site, Some(invite_id), &[], None::<&()>)
            .await;
        match sent.result {
            Ok(answer) => decode::<serde_json::Value>(&answer.body)
                .map(|_| true)
                .map_err(|kind| fail(e, site, kind)),
            Err(kind) if is_wix_not_found(&kind) => Ok(false),
            Err(kind @ ErrorKind::Status { status: 404, .. }) => Err(fail(
                e,
                site,
                ErrorKind::Unconfirmed {
                    detail: &endpoints::DETAIL_REVOKE_NOT_FOUND,
                    message: format!(
                        "{} without Wix's NOT_FOUND error body, so it is not taken as \"already revoked\"",
                        describe(&kind)
                    ),
                },
            )),
            Err(kind) => Err(fail(e, site, kind)),
        }
    }

    /// Replace a contributor's whole role set. Never called with an empty set:
    /// removal is [`WixClient::remove_contributor`]. Sent as PUT; a 405 is
    /// answered by PATCH (which one Wix takes is unconfirmed). Returns the
    /// method that worked.
    pub async fn change_role(
        &self,
        site: &SiteAccess,
        account_id: &str,
        role_ids: &[String],
    ) -> Result<Method, WixError> {
        let e = &endpoints::CHANGE_ROLE;
        if role_ids.is_empty() {
            return Err(WixError {
                call: e.name,
                site: site.site_key.clone(),
                kind: ErrorKind::Status {
                    status: 400,
                    detail: "refusing to send an empty role set; remove the contributor instead"
                        .to_string(),
                    code: None,
                },
            });
        }
        let body = wire::ChangeContributorRoleRequest {
            account_id,
            new_roles: role_ids
                .iter()
                .map(|r| wire::RoleRef { role_id: r })
                .collect(),
        };
        let mut refused = None;
        for method in [&e.method, &endpoints::CHANGE_ROLE_FALLBACK_METHOD] {
            let sent = self.send(e, method, site, None, &[], Some(&body)).await;
            match sent.result {
                Ok(answer) => {
                    return decode::<serde_json::Value>(&answer.body)
                        .map(|_| method.clone())
                        .map_err(|kind| fail(e, site, kind));
                }
                Err(kind @ ErrorKind::Status { status: 405, .. }) => refused = Some(kind),
                Err(kind) => return Err(fail(e, site, kind)),
            }
        }
        Err(fail(
            e,
            site,
            ErrorKind::Unconfirmed {
                detail: &endpoints::DETAIL_CHANGE_ROLE_METHOD,
                message: format!(
                    "both {} and {} were refused; the last answer: {}",
                    e.method,
                    endpoints::CHANGE_ROLE_FALLBACK_METHOD,
                    refused.as_ref().map(describe).unwrap_or_default()
                ),
            },
        ))
    }

    /// Learn which Remove Contributor method Wix takes without removing
    /// anyone: remove `absent_id`, an account that is not on the site, and
    /// expect Wix's `NOT_FOUND` — from POST, or from DELETE (id in the query
    /// string) after POST's 405. Returns the method that answered it.
    pub async fn probe_remove(
        &self,
        site: &SiteAccess,
        absent_id: &str,
    ) -> Result<Method, WixError> {
        let e = &endpoints::REMOVE_CONTRIBUTOR;
        let body = wire::RemoveContributorRequest {
            account_id: absent_id,
        };
        let first = self.send(e, &e.method, site, None, &[], Some(&body)).await;
        let first_kind = match first.result {
            Err(kind) if is_wix_not_found(&kind) => return Ok(e.method.clone()),
            Err(
                kind @ ErrorKind::Status {
                    status: 404 | 405, ..
                },
            ) => kind,
            Ok(_) => {
                return Err(fail(
                    e,
                    site,
                    ErrorKind::Unconfirmed {
                        detail: &endpoints::DETAIL_REMOVE_METHOD,
                        message: format!(
                            "removing an account that is not on the site succeeded with {}; expected NOT_FOUND",
                            e.method
                        ),
                    },
                ));
            }
            Err(kind) => return Err(fail(e, site, kind)),
        };
        let fallback = &endpoints::REMOVE_FALLBACK_METHOD;
        let second = self
            .send(
                e,
                fallback,
                site,
                None,
                &[(endpoints::REMOVE_QUERY_PARAM, absent_id)],
                None::<&()>,
            )
            .await;
        match second.result {
            Err(kind) if is_wix_not_found(&kind) => Ok(fallback.clone()),
            Err(ErrorKind::Transport { detail, maybe_sent }) => {
                Err(fail(e, site, ErrorKind::Transport { detail, maybe_sent }))
            }
            other => Err(fail(
                e,
                site,
                ErrorKind::Unconfirmed {
                    detail: &endpoints::DETAIL_REMOVE_METHOD,
                    message: format!(
                        "for an account not on the site, {} answered {} and {fallback} answered {}; expected NOT_FOUND from one of them",
                        e.method,
                        describe(&first_kind),
                        match &other {
                            Ok(_) => "success".to_string(),
                            Err(kind) => describe(kind),
                        }
                    ),
                },
            )),
        }
    }

    /// Remove a contributor. The docs disagree on the method: POST with a
    /// JSON body first; on a 405 (or a 404 that is not Wix's `NOT_FOUND`,
    /// which is what a gateway without the route says), DELETE with the id
    /// in the query string. Wix's `NOT_FOUND` after an attempt that may
    /// have gone through means our own earlier attempt removed them: done.
    /// Returns the method that worked.
    pub async fn remove_contributor(
        &self,
        site: &SiteAccess,
        account_id: &str,
    ) -> Result<Method, WixError> {
        let e = &endpoints::REMOVE_CONTRIBUTOR;
        let body = wire::RemoveContributorRequest { account_id };
        let first = self.send(e, &e.method, site, None, &[], Some(&body)).await;
        let first_error = match first.result {
            Ok(_) => return Ok(e.method.clone()),
            Err(kind) if is_wix_not_found(&kind) && first.earlier_maybe_applied => {
                return Ok(e.method.clone());
            }
            Err(kind) if is_wix_not_found(&kind) => return Err(fail(e, site, kind)),
            Err(
                kind @ ErrorKind::Status {
                    status: 404 | 405, ..
                },
            ) => kind,
            Err(kind) => return Err(fail(e, site, kind)),
        };
        let fallback = &endpoints::REMOVE_FALLBACK_METHOD;
        let second = self
            .send(
                e,
                fallback,
                site,
                None,
                &[(endpoints::REMOVE_QUERY_PARAM, account_id)],
                None::<&()>,
            )
            .await;
        match second.result {
            Ok(_) => Ok(fallback.clone()),
            Err(kind) if is_wix_not_found(&kind) && second.earlier_maybe_applied => {
                Ok(fallback.clone())
            }
            Err(kind) if is_wix_not_found(&kind) => Err(fail(e, site, kind)),
            Err(
                kind @ ErrorKind::Status {
                    status: 400 | 404 | 405,
                    ..
                },
            ) => Err(fail(
                e,
                site,
                ErrorKind::Unconfirmed {
                    detail: &endpoints::DETAIL_REMOVE_METHOD,
                    message: format!(
                        "{} with a JSON body answered {}; {fallback} with `{}` in the query string answered {}",
                        e.method,
                        describe(&first_error),
                        endpoints::REMOVE_QUERY_PARAM,
                        describe(&kind)
                    ),
                },
            )),
            Err(kind) => Err(fail(e, site, kind)),
        }
    }
}

fn fail(endpoint: &Endpoint, site: &SiteAccess, kind: ErrorKind) -> WixError {
    WixError {
        call: endpoint.name,
        site: site.site_key.clone(),
        kind,
    }
}

/// Decode a 2xx body; an empty one counts as `{}`. Every answer the client
/// reads is a JSON object; anything else is named for what it is.
fn decode<R: DeserializeOwned>(bytes: &[u8]) -> Result<R, ErrorKind> {
    let start = bytes.trim_ascii_start();
    if start.is_empty() {
        return serde_json::from_slice(b"{}").map_err(|e| ErrorKind::Decode {
            detail: format!("an empty answer ({e})"),
        });
    }
    let what = if looks_like_html(bytes) {
        "an HTML page instead of JSON".to_string()
    } else {
        match serde_json::from_slice::<serde_json::Value>(bytes) {
            Err(e) => format!("not valid JSON ({e})"),
            Ok(serde_json::Value::Object(_)) => match serde_json::from_slice(bytes) {
                Ok(decoded) => return Ok(decoded),
                Err(e) => format!("JSON of an unexpected shape ({e})"),
            },
            Ok(other) => format!("{} where a JSON object was expected", json_kind(&other)),
        }
    };
    Err(ErrorKind::Decode {
        detail: format!("{what}; body starts: {}", preview(bytes)),
    })
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

fn looks_like_html(bytes: &[u8]) -> bool {
    let start = bytes.trim_ascii_start();
    start.first() == Some(&b'<')
}

fn roles_from_wire(response: wire::GetRolesInfoResponse) -> Vec<RoleDef> {
    let predefined = response.predefined_roles.into_iter().map(|r| (r, false));
    let custom = response.custom_roles.into_iter().map(|r| (r, true));
    let mut roles: Vec<RoleDef> = predefined
        .chain(custom)
        // Roles restricted from the site level cannot be granted on a site.
        .filter(|(r, _)| r.restrict_from_level.as_deref() != Some("Site"))
        .filter_map(|(r, custom)| {
            let id = r.id?;
            Some(RoleDef {
                title: r.title.unwrap_or_else(|| id.clone()),
                id,
                custom,
            })
        })
        .collect();
    roles.sort_by(|a, b| (&a.title, &a.id).cmp(&(&b.title, &b.id)));
    roles.dedup_by(|a, b| a.id == b.id);
    roles
}

fn parse_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

/// The body, refused beyond [`MAX_BODY_BYTES`]; the error says whether
/// trying again may help.
async fn read_capped(response: reqwest::Response) -> Result<Vec<u8>, (String, bool)> {
    use crate::providers::body::{self, BodyError};
    body::read_capped(response, MAX_BODY_BYTES)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge { cap } => {
                (format!("response {}", BodyError::too_large(cap)), false)
            }
            BodyError::Cut(e) => (
                format!("reading the response failed: {}", transport_detail(&e)),
                true,
            ),
        })
}

fn error_detail(status: StatusCode, bytes: &[u8]) -> String {
    match serde_json::from_slice::<wire::ErrorBody>(bytes) {
        Ok(body) if !body.summary().is_empty() => body.summary(),
        _ if bytes.is_empty() => status.canonical_reason().unwrap_or("").to_string(),
        _ if looks_like_html(bytes) => format!("an HTML page: {}", preview(bytes)),
        _ => format!("non-JSON body: {}", preview(bytes)),
    }
}

/// The start of a body on one line, control characters escaped, for
/// error messages.
fn preview(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]);
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    one_line
        .chars()
        .take(120)
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

/// The innermost cause of a connect error ("Connection refused (os error
/// 111)", "failed to lookup address information: …"), which is what a
/// person needs; reqwest's own text only says "error sending request".
fn root_cause(e: &reqwest::Error) -> String {
    let mut last: &dyn std::error::Error = e;
    while let Some(source) = last.source() {
        last = source;
    }
    if e.is_timeout() {
        "the connection timed out".to_string()
    } else {
        last.to_string()
    }
}

fn transport_detail(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "the request timed out".to_string()
    } else if e.is_connect() {
        "could not connect to the Wix API".to_string()
    } else {
        // reqwest's Display names the URL, never headers, so no key leaks.
        let mut text = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            text.push_str(&format!(": {s}"));
            source = s.source();
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_must_be_tls_unless_loopback() {
        assert!(check_base_url("https://www.wixapis.com/").is_ok());
        assert!(check_base_url("http://127.0.0.1:8080").is_ok());
        assert!(check_base_url("http://localhost:1").is_ok());
        assert!(check_base_url("http://[::1]:1").is_ok());
        assert!(check_base_url("http://example.com").is_err());
        assert!(check_base_url("ftp://127.0.0.1").is_err());
    }
}
