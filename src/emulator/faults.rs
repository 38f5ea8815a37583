//! Fault injection on the Wix API paths, set per run (seed `faults:`) or at
//! any time through `PUT /_emulator/faults`, and the emulator's own rate
//! limiter. Never applied to the `/_emulator/…` controls.
//!
//! ```json
//! { "seed": 42,
//!   "rules": [
//!     { "endpoint": "bulkInvite", "latencyMs": 200 },
//!     { "endpoint": "*", "errorRate": 0.2, "status": 503 },
//!     { "endpoint": "changeRole", "drop": "before", "rate": 0.5 },
//!     { "endpoint": "bulkInvite", "drop": "after", "times": 1 },
//!     { "endpoint": "querySiteContributors", "stallMs": 40000, "rate": 0.1 },
//!     { "endpoint": "bulkInvite", "stallMs": 40000, "when": "after", "times": 1 },
//!     { "endpoint": "changeRole", "status": 503, "when": "after", "times": 1 } ],
//!   "rateLimit": { "perMinute": 200, "scope": "site" } }
//! ```
//!
//! Rules:
//! - `endpoint`: a request-log endpoint name (`getRolesInfo`,
//!   `querySiteContributors` — `queryContributors` is accepted and stored
//!   as that —, `bulkInvite`, `resendInvite`, `revokeInvite`, `changeRole`,
//!   `removeContributor`), a GA4 one (`ga4.list`, `ga4.create`,
//!   `ga4.patch`, `ga4.delete`, `ga4.batchCreate`, `ga4.batchUpdate`,
//!   `ga4.batchDelete`; see `google/ga4.rs`), a GTM one (`gtm.containers`,
//!   `gtm.list`, `gtm.get`, `gtm.create`, `gtm.update`, `gtm.delete`), the
//!   token endpoint (`google.token`) or `*` (every path, unknown
//!   ones included).
//! - exactly one action per rule: `latencyMs` (delay, then handle),
//!   `stallMs` (the same, meant to outlast the client's timeout),
//!   `errorRate`/`status` (answer `status`, default 500, in the Wix error
//!   shape without performing the operation), or `drop`: `"before"` (cut
//!   the connection without performing the operation) or `"after"` (perform
//!   it, state changes included, then cut the connection instead of
//!   answering). See `conn.rs` for how a cut works.
//! - `when` (latency, stall and error rules): `"before"` (default) acts as
//!   above; `"after"` performs the operation first, state changes included,
//!   and then waits (`latencyMs`, `stallMs`: a stall past the client's
//!   timeout leaves an operation done whose answer never arrived) or
//!   answers `status` instead of the real answer. So each of "done, then
//!   the connection dropped", "done, then stalled past the timeout" and
//!   "done, then a 5xx" can be asked for, per endpoint, at a rate or for
//!   exactly the next `times` requests. The log names them `drop-after`,
//!   `stall-after`, `latency-after` and `error-after`, with the status the
//!   operation produced in `handledStatus`.
//! - `rate` (default 1.0) is the probability the rule fires; for error
//!   rules `errorRate` says the same (give one of them). `times` caps how
//!   often the rule fires in total.
//!
//! Per request, in this order: the rate limiter (a 429 ends it); then every
//! rule matching the endpoint is considered in list order: delays of firing
//! latency/stall rules add up, and the first firing error/drop rule decides
//! the outcome (later error/drop rules are then not rolled and do not use up
//! their `times`). Randomness comes from a SplitMix64 generator seeded with
//! `seed` (default 0), so a given sequence of requests always sees the same
//! faults. Replacing or clearing the configuration resets the generator,
//! the `times` counters and the rate-limit windows.
//!
//! `rateLimit` (absent = off): at most `perMinute` (default 200) requests in
//! any sliding 60-second window per bucket; `scope` `"site"` (default)
//! buckets by `wix-site-id`, falling back to `wix-account-id`; `"key"`
//! buckets by a hash of the `Authorization` header (the key itself is never
//! kept). Refused requests do not count. The window runs on tokio's
//! monotonic clock, so a paused test clock drives it too. A refusal is a 429
//! with `Retry-After` (whole seconds until the oldest counted request leaves
//! the window, at least 1) and code `RESOURCE_EXHAUSTED`.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::BuildHasher;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// Endpoint names a rule may name (those of the request log).
pub const ENDPOINTS: &[&str] = &[
    "getRolesInfo",
    "querySiteContributors",
    "bulkInvite",
    "resendInvite",
    "revokeInvite",
    "changeRole",
    "removeContributor",
];

/// Longest accepted `latencyMs`/`stallMs`: one day.
pub const MAX_DELAY_MS: u64 = 24 * 60 * 60 * 1000;

/// Requests per minute when `rateLimit` is given without `perMinute`.
pub const DEFAULT_PER_MINUTE: u32 = 200;

/// Configuration problems as `(field, description)`, e.g.
/// `("rules[1].rate", "…")`.
pub type Problems = Vec<(String, String)>;

const WINDOW: Duration = Duration::from_secs(60);

/// Buckets kept before idle ones are pruned.
const PRUNE_ABOVE: usize = 4096;

// --------------------------------------------------------------- config

/// The whole fault configuration (`PUT /_emulator/faults`, seed `faults:`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    #[serde(default)]
    pub rules: Vec<FaultRule>,
    #[serde(default, alias = "rate_limit", skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
}

/// One rule; exactly one of `latency_ms`, `stall_ms`, `error_rate`/`status`,
/// `drop` must be set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultRule {
    pub endpoint: String,
    #[serde(default, alias = "latency_ms", skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    #[serde(default, alias = "stall_ms", skip_serializing_if = "Option::is_none")]
    pub stall_ms: Option<u64>,
    #[serde(default, alias = "error_rate", skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop: Option<DropPoint>,
    /// For latency, stall and error rules: before (default) or after the
    /// operation is performed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<DropPoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
}

/// When a fault strikes: before the operation is performed (it is not), or
/// after (it was). Says when a dropped request's connection is cut, and
/// (`when`) when a delay or an error answer comes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DropPoint {
    /// Without performing the operation.
    #[default]
    Before,
    /// After performing it.
    After,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimit {
    #[serde(default = "default_per_minute", alias = "per_minute")]
    pub per_minute: u32,
    #[serde(default)]
    pub scope: LimitScope,
}

fn default_per_minute() -> u32 {
    DEFAULT_PER_MINUTE
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LimitScope {
    /// Per `wix-site-id` (else `wix-account-id`).
    #[default]
    Site,
    /// Per API key (hashed).
    Key,
}

/// What a rule does when it fires.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Action {
    Latency(Duration, DropPoint),
    Stall(Duration, DropPoint),
    Error(StatusCode, DropPoint),
    Drop(DropPoint),
}

#[derive(Debug, Clone)]
struct Compiled {
    /// `None` matches every path.
    endpoint: Option<String>,
    action: Action,
    probability: f64,
    times: Option<u64>,
}

fn canonical_endpoint(name: &str) -> Option<&'static str> {
    if name == "queryContributors" {
        return Some("querySiteContributors");
    }
    ENDPOINTS
        .iter()
        .chain(super::google::ga4::ENDPOINTS)
        .chain(super::google::gtm::ENDPOINTS)
        .chain(&["google.token"])
        .copied()
        .find(|e| *e == name)
}

fn check_probability(v: f64) -> Result<f64, String> {
    if v.is_finite() && (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is not a probability between 0 and 1"))
    }
}

impl FaultConfig {
    /// Validate and return the stored form (canonical endpoint names) with
    /// the compiled rules; or every problem as `(field, description)`.
    fn compile(mut self) -> Result<(FaultConfig, Vec<Compiled>), Problems> {
        let mut problems = Vec::new();
        let mut compiled = Vec::new();
        for (i, rule) in self.rules.iter_mut().enumerate() {
            let at = |field: &str| format!("rules[{i}].{field}");
            let endpoint = if rule.endpoint == "*" {
                None
            } else if let Some(name) = canonical_endpoint(&rule.endpoint) {
                rule.endpoint = name.to_owned();
                Some(name.to_owned())
            } else {
                problems.push((
                    at("endpoint"),
                    format!(
                        "{:?} is not \"*\" or one of {}",
                        rule.endpoint,
                        ENDPOINTS.join(", ")
                    ),
                ));
                None
            };
            let when = rule.when.unwrap_or_default();
            if rule.when.is_some() && rule.drop.is_some() {
                problems.push((
                    at("when"),
                    "a drop rule says when with `drop` itself".to_owned(),
                ));
            }
            let mut actions = Vec::new();
            for (field, ms) in [("latencyMs", rule.latency_ms), ("stallMs", rule.stall_ms)] {
                if let Some(ms) = ms {
                    if ms > MAX_DELAY_MS {
                        problems.push((at(field), format!("must be at most {MAX_DELAY_MS}")));
                    }
                    let d = Duration::from_millis(ms.min(MAX_DELAY_MS));
                    actions.push(if field == "latencyMs" {
                        Action::Latency(d, when)
                    } else {
                        Action::Stall(d, when)
                    });
                }
            }
            if rule.error_rate.is_some() || rule.status.is_some() {
                let code = rule.status.unwrap_or(500);
                let status = match StatusCode::from_u16(code) {
                    Ok(s) if (400..=599).contains(&code) => s,
                    _ => {
                        problems.push((
                            at("status"),
                            format!("{code} is not an HTTP error status (400-599)"),
                        ));
                        StatusCode::INTERNAL_SERVER_ERROR
                    }
                };
                actions.push(Action::Error(status, when));
            }
            if let Some(point) = rule.drop {
                actions.push(Action::Drop(point));
            }
            let probability = match (rule.error_rate, rule.rate) {
                (Some(_), Some(_)) => {
                    problems.push((at("rate"), "give errorRate or rate, not both".to_owned()));
                    0.0
                }
                (Some(p), None) | (None, Some(p)) => {
                    let field = if rule.error_rate.is_some() {
                        "errorRate"
                    } else {
                        "rate"
                    };
                    check_probability(p).unwrap_or_else(|e| {
                        problems.push((at(field), e));
                        0.0
                    })
                }
                (None, None) => 1.0,
            };
            match actions.as_slice() {
                [action] => compiled.push(Compiled {
                    endpoint,
                    action: *action,
                    probability,
                    times: rule.times,
                }),
                [] => problems.push((
                    format!("rules[{i}]"),
                    "needs one of latencyMs, stallMs, errorRate/status, drop".to_owned(),
                )),
                _ => problems.push((
                    format!("rules[{i}]"),
                    "give only one of latencyMs, stallMs, errorRate/status, drop (use several rules to combine)"
                        .to_owned(),
                )),
            }
        }
        if let Some(rl) = &self.rate_limit
            && rl.per_minute == 0
        {
            problems.push((
                "rateLimit.perMinute".to_owned(),
                "must be at least 1".to_owned(),
            ));
        }
        if problems.is_empty() {
            Ok((self, compiled))
        } else {
            Err(problems)
        }
    }

    /// Problems of this configuration as seed messages (empty when valid).
    pub(super) fn problems(&self) -> Vec<String> {
        match self.clone().compile() {
            Ok(_) => Vec::new(),
            Err(problems) => problems
                .into_iter()
                .map(|(field, description)| format!("faults.{field}: {description}"))
                .collect(),
        }
    }
}

// ------------------------------------------------------------------ rng

/// SplitMix64: tiny, fast, and good enough to decide whether a fault fires.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

// -------------------------------------------------------------- limiter

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Bucket {
    Site(String),
    Account(String),
    /// Hash of the API key; the key itself is never stored.
    Key(u64),
    Anonymous,
}

/// Sliding-window log: arrival times of the counted requests per bucket.
#[derive(Debug, Default)]
struct Limiter {
    windows: HashMap<Bucket, VecDeque<Instant>>,
    /// Prune idle buckets once there are more than this many: twice what
    /// was left after the last prune (at least [`PRUNE_ABOVE`]), so with
    /// 10,000 sites busy at once the walk over every bucket runs once per
    /// doubling, not on every request.
    prune_above: usize,
}

impl Limiter {
    /// Count the request, or say how long until a slot frees.
    fn admit(&mut self, bucket: Bucket, limit: u32, now: Instant) -> Result<(), Duration> {
        if self.windows.len() > self.prune_above.max(PRUNE_ABOVE) {
            self.windows.retain(|_, q| {
                q.back()
                    .is_some_and(|t| now.saturating_duration_since(*t) < WINDOW)
            });
            self.prune_above = 2 * self.windows.len();
        }
        let q = self.windows.entry(bucket).or_default();
        while q
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= WINDOW)
        {
            q.pop_front();
        }
        if q.len() < limit as usize {
            q.push_back(now);
            return Ok(());
        }
        let oldest = q.front().copied().unwrap_or(now);
        Err(WINDOW.saturating_sub(now.saturating_duration_since(oldest)))
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

// ---------------------------------------------------------------- plans

/// What happens to one request, decided when it arrives.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Handle it normally (after `delay`).
    Handle,
    RateLimited {
        retry_after_secs: u64,
    },
    Error(StatusCode),
    DropBefore,
    DropAfter,
    /// Handle it, then answer this status instead of the real answer.
    ErrorAfter(StatusCode),
}

impl Outcome {
    /// Whether the operation is performed.
    pub fn performs(&self) -> bool {
        matches!(
            self,
            Outcome::Handle | Outcome::DropAfter | Outcome::ErrorAfter(_)
        )
    }
}

#[derive(Debug, Clone)]
pub struct Plan {
    /// Waited before the operation.
    pub delay: Duration,
    /// Waited after the operation, before the answer (or the cut).
    pub delay_after: Duration,
    pub outcome: Outcome,
    /// Names of the faults that fired, in rule order.
    pub fired: Vec<&'static str>,
}

impl Plan {
    /// The log's `fault` text, e.g. `"latency+drop-after"`.
    pub fn label(&self) -> Option<String> {
        (!self.fired.is_empty()).then(|| self.fired.join("+"))
    }
}

// ------------------------------------------------------------- runtime

/// Fault configuration plus its running state and the request counters.
#[derive(Debug)]
pub struct Faults {
    config: FaultConfig,
    rules: Vec<Compiled>,
    rng: SplitMix64,
    fired: Vec<u64>,
    limiter: Limiter,
    key_hasher: RandomState,
    stats: Stats,
}

#[derive(Debug, Default, Clone)]
struct Stats {
    total: u64,
    requests: BTreeMap<String, u64>,
    rate_limited: u64,
    faults: BTreeMap<&'static str, u64>,
}

/// `GET /_emulator/stats`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatsView {
    /// Requests to Wix paths, including refused and faulted ones.
    pub total: u64,
    /// Per endpoint name (`unknown` for other paths).
    pub requests: BTreeMap<String, u64>,
    /// 429s sent by the rate limiter.
    pub rate_limited: u64,
    /// Per fault name (`latency`, `stall`, `error`, `drop-before`,
    /// `drop-after`, `latency-after`, `stall-after`, `error-after`,
    /// `rate-limit`).
    pub faults: BTreeMap<&'static str, u64>,
    /// How often each rule of the current configuration fired, in order.
    pub rules: Vec<RuleStats>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleStats {
    pub endpoint: String,
    pub fired: u64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            config: FaultConfig::default(),
            rules: Vec::new(),
            rng: SplitMix64(0),
            fired: Vec::new(),
            limiter: Limiter::default(),
            key_hasher: RandomState::new(),
            stats: Stats::default(),
        }
    }
}

impl Faults {
    /// Faults from a configuration, or its problems as `(field, description)`.
    pub fn new(config: FaultConfig) -> Result<Faults, Problems> {
        let mut faults = Faults::default();
        faults.replace(config)?;
        Ok(faults)
    }

    pub fn config(&self) -> &FaultConfig {
        &self.config
    }

    /// Install a new configuration (validated first; on error nothing
    /// changes), resetting the generator, `times` counters and windows.
    /// Request statistics are kept.
    pub fn replace(&mut self, config: FaultConfig) -> Result<(), Problems> {
        let (config, rules) = config.compile()?;
        self.rng = SplitMix64(config.seed.unwrap_or(0));
        self.fired = vec![0; rules.len()];
        self.rules = rules;
        self.config = config;
        self.limiter = Limiter::default();
        Ok(())
    }

    pub fn stats(&self) -> StatsView {
        let s = &self.stats;
        StatsView {
            total: s.total,
            requests: s.requests.clone(),
            rate_limited: s.rate_limited,
            faults: s.faults.clone(),
            rules: self
                .config
                .rules
                .iter()
                .zip(&self.fired)
                .map(|(r, n)| RuleStats {
                    endpoint: r.endpoint.clone(),
                    fired: *n,
                })
                .collect(),
        }
    }

    pub fn reset_stats(&mut self) {
        self.stats = Stats::default();
    }

    fn bucket(&self, scope: LimitScope, headers: &HeaderMap) -> Bucket {
        match scope {
            LimitScope::Site => {
                if let Some(site) = header_str(headers, "wix-site-id") {
                    Bucket::Site(site.to_owned())
                } else if let Some(account) = header_str(headers, "wix-account-id") {
                    Bucket::Account(account.to_owned())
                } else {
                    Bucket::Anonymous
                }
            }
            LimitScope::Key => match headers.get(header::AUTHORIZATION) {
                Some(v) => Bucket::Key(self.key_hasher.hash_one(v.as_bytes().trim_ascii())),
                None => Bucket::Anonymous,
            },
        }
    }

    /// Whether rule `i` fires now (counts it if so).
    fn fires(&mut self, i: usize) -> bool {
        let Some(rule) = self.rules.get(i) else {
            return false;
        };
        let count = self.fired.get(i).copied().unwrap_or(0);
        if rule.times.is_some_and(|t| count >= t) {
            return false;
        }
        let p = rule.probability;
        let hit = p >= 1.0 || (p > 0.0 && self.rng.next_f64() < p);
        if hit && let Some(n) = self.fired.get_mut(i) {
            *n += 1;
        }
        hit
    }

    /// Count a request to `endpoint` and decide its faults.
    pub fn plan(&mut self, endpoint: Option<&str>, headers: &HeaderMap, now: Instant) -> Plan {
        let stats = &mut self.stats;
        stats.total += 1;
        *stats
            .requests
            .entry(endpoint.unwrap_or("unknown").to_owned())
            .or_default() += 1;

        let mut plan = Plan {
            delay: Duration::ZERO,
            delay_after: Duration::ZERO,
            outcome: Outcome::Handle,
            fired: Vec::new(),
        };
        if let Some(rl) = self.config.rate_limit.clone() {
            let bucket = self.bucket(rl.scope, headers);
            if let Err(wait) = self.limiter.admit(bucket, rl.per_minute, now) {
                let secs = wait.as_millis().div_ceil(1000).max(1);
                plan.outcome = Outcome::RateLimited {
                    retry_after_secs: u64::try_from(secs).unwrap_or(u64::MAX),
                };
                plan.fired.push("rate-limit");
                self.stats.rate_limited += 1;
                *self.stats.faults.entry("rate-limit").or_default() += 1;
                return plan;
            }
        }
        for i in 0..self.rules.len() {
            let Some(rule) = self.rules.get(i) else { break };
            if rule
                .endpoint
                .as_deref()
                .is_some_and(|e| Some(e) != endpoint)
            {
                continue;
            }
            let action = rule.action;
            let decides = matches!(action, Action::Error(..) | Action::Drop(_));
            if decides && plan.outcome != Outcome::Handle {
                continue;
            }
            if !self.fires(i) {
                continue;
            }
            let name = match action {
                Action::Latency(d, DropPoint::Before) => {
                    plan.delay = plan.delay.saturating_add(d);
                    "latency"
                }
                Action::Latency(d, DropPoint::After) => {
                    plan.delay_after = plan.delay_after.saturating_add(d);
                    "latency-after"
                }
                Action::Stall(d, DropPoint::Before) => {
                    plan.delay = plan.delay.saturating_add(d);
                    "stall"
                }
                Action::Stall(d, DropPoint::After) => {
                    plan.delay_after = plan.delay_after.saturating_add(d);
                    "stall-after"
                }
                Action::Error(status, DropPoint::Before) => {
                    plan.outcome = Outcome::Error(status);
                    "error"
                }
                Action::Error(status, DropPoint::After) => {
                    plan.outcome = Outcome::ErrorAfter(status);
                    "error-after"
                }
                Action::Drop(DropPoint::Before) => {
                    plan.outcome = Outcome::DropBefore;
                    "drop-before"
                }
                Action::Drop(DropPoint::After) => {
                    plan.outcome = Outcome::DropAfter;
                    "drop-after"
                }
            };
            plan.fired.push(name);
            *self.stats.faults.entry(name).or_default() += 1;
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn config(json: serde_json::Value) -> FaultConfig {
        serde_json::from_value(json).expect("config parses")
    }

    fn site(id: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("wix-site-id", HeaderValue::from_str(id).expect("header"));
        h
    }

    #[test]
    fn the_brief_example_is_valid() {
        let c = config(serde_json::json!({ "seed": 42, "rules": [
            { "endpoint": "bulkInvite", "latencyMs": 200 },
            { "endpoint": "*", "errorRate": 0.2, "status": 503 },
            { "endpoint": "changeRole", "drop": "before", "rate": 0.5 },
            { "endpoint": "bulkInvite", "drop": "after", "rate": 1.0, "times": 1 },
            { "endpoint": "queryContributors", "stallMs": 40000, "rate": 0.1 }
        ], "rateLimit": { "perMinute": 200, "scope": "site" } }));
        let f = Faults::new(c).expect("valid");
        assert_eq!(f.config().rules[4].endpoint, "querySiteContributors");
    }

    #[test]
    fn problems_are_all_reported() {
        let c = config(serde_json::json!({ "rules": [
            { "endpoint": "nope", "latencyMs": 1 },
            { "endpoint": "*" },
            { "endpoint": "*", "latencyMs": 1, "drop": "before" },
            { "endpoint": "*", "errorRate": 1.5 },
            { "endpoint": "*", "status": 200 },
            { "endpoint": "*", "errorRate": 0.5, "rate": 0.5 },
            { "endpoint": "*", "stallMs": MAX_DELAY_MS + 1 },
            { "endpoint": "*", "drop": "after", "rate": f64::MAX },
        ], "rateLimit": { "perMinute": 0 } }));
        let problems = c.problems();
        assert_eq!(problems.len(), 9, "{problems:#?}");
        assert!(problems[0].starts_with("faults.rules[0].endpoint"));
    }

    #[test]
    fn same_seed_same_faults() {
        let c = config(serde_json::json!({ "seed": 7, "rules": [
            { "endpoint": "*", "errorRate": 0.5 }
        ] }));
        let run = || {
            let mut f = Faults::new(c.clone()).expect("valid");
            let now = Instant::now();
            (0..64)
                .map(|_| f.plan(Some("bulkInvite"), &HeaderMap::new(), now).outcome)
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        let errors = a.iter().filter(|o| **o != Outcome::Handle).count();
        assert!((10..54).contains(&errors), "{errors} of 64");
    }

    #[test]
    fn times_caps_and_first_decisive_rule_wins() {
        let c = config(serde_json::json!({ "rules": [
            { "endpoint": "bulkInvite", "latencyMs": 5 },
            { "endpoint": "bulkInvite", "drop": "after", "times": 1 },
            { "endpoint": "*", "status": 503, "times": 1 },
        ] }));
        let mut f = Faults::new(c).expect("valid");
        let now = Instant::now();
        let h = HeaderMap::new();
        let p = f.plan(Some("bulkInvite"), &h, now);
        assert_eq!(p.outcome, Outcome::DropAfter);
        assert_eq!(p.delay, Duration::from_millis(5));
        assert_eq!(p.label().as_deref(), Some("latency+drop-after"));
        // The 503 rule was not used up by the first request.
        let p = f.plan(Some("bulkInvite"), &h, now);
        assert_eq!(p.outcome, Outcome::Error(StatusCode::SERVICE_UNAVAILABLE));
        let p = f.plan(Some("bulkInvite"), &h, now);
        assert_eq!(p.outcome, Outcome::Handle);
        assert_eq!(p.label().as_deref(), Some("latency"));
        let p = f.plan(Some("changeRole"), &h, now);
        assert_eq!(p.label(), None);
    }

    #[test]
    fn when_after_performs_first() {
        let c = config(serde_json::json!({ "rules": [
            { "endpoint": "bulkInvite", "stallMs": 50, "when": "after", "times": 1 },
            { "endpoint": "bulkInvite", "status": 503, "when": "after", "times": 1 },
            { "endpoint": "changeRole", "latencyMs": 5, "when": "before" },
        ] }));
        let mut f = Faults::new(c).expect("valid");
        let now = Instant::now();
        let h = HeaderMap::new();
        let p = f.plan(Some("bulkInvite"), &h, now);
        assert_eq!(
            p.outcome,
            Outcome::ErrorAfter(StatusCode::SERVICE_UNAVAILABLE)
        );
        assert!(p.outcome.performs());
        assert_eq!(
            (p.delay, p.delay_after),
            (Duration::ZERO, Duration::from_millis(50))
        );
        assert_eq!(p.label().as_deref(), Some("stall-after+error-after"));
        let p = f.plan(Some("changeRole"), &h, now);
        assert_eq!(p.delay, Duration::from_millis(5));
        assert_eq!(p.label().as_deref(), Some("latency"));
        let bad = config(serde_json::json!({ "rules": [
            { "endpoint": "*", "drop": "after", "when": "after" }
        ] }));
        assert_eq!(bad.problems().len(), 1);
    }

    #[test]
    fn sliding_window_frees_slots_as_requests_age() {
        let c = config(serde_json::json!({ "rateLimit": { "perMinute": 2 } }));
        let mut f = Faults::new(c).expect("valid");
        let t0 = Instant::now();
        let a = site("a");
        assert_eq!(f.plan(None, &a, t0).outcome, Outcome::Handle);
        let t1 = t0 + Duration::from_secs(10);
        assert_eq!(f.plan(None, &a, t1).outcome, Outcome::Handle);
        assert_eq!(
            f.plan(None, &a, t1).outcome,
            Outcome::RateLimited {
                retry_after_secs: 50
            }
        );
        assert_eq!(f.plan(None, &site("b"), t1).outcome, Outcome::Handle);
        let t2 = t0 + Duration::from_millis(59_500);
        assert_eq!(
            f.plan(None, &a, t2).outcome,
            Outcome::RateLimited {
                retry_after_secs: 1
            }
        );
        let t3 = t0 + WINDOW;
        assert_eq!(f.plan(None, &a, t3).outcome, Outcome::Handle);
        assert_eq!(f.stats().rate_limited, 2);
        assert_eq!(f.stats().total, 6);
    }

    #[test]
    fn idle_buckets_are_pruned_without_a_walk_per_request() {
        let mut l = Limiter::default();
        let t0 = Instant::now();
        for i in 0..=PRUNE_ABOVE as u64 {
            assert!(l.admit(Bucket::Key(i), 1, t0).is_ok());
        }
        // Over the threshold, all busy: nothing pruned, and the next prune
        // waits until the map has doubled.
        assert!(l.admit(Bucket::Key(u64::MAX), 1, t0).is_ok());
        assert_eq!(l.windows.len(), PRUNE_ABOVE + 2);
        assert_eq!(l.prune_above, 2 * (PRUNE_ABOVE + 1));
        // A minute later the idle buckets go at the next prune.
        let t1 = t0 + WINDOW;
        for i in 0..=(2 * PRUNE_ABOVE as u64) {
            assert!(l.admit(Bucket::Key(1_000_000 + i), 1, t1).is_ok());
        }
        assert!(
            l.windows.len() <= 2 * PRUNE_ABOVE + 2,
            "{}",
            l.windows.len()
        );
        // The old requests no longer count.
        assert!(l.admit(Bucket::Key(0), 1, t1).is_ok());
    }
}
