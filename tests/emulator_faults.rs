//! Fault injection in the Wix emulator over loopback: latency, injected
//! errors, dropped connections (before and after the operation), stalls,
//! `times`, the rate limiter per site and per key, and what the request log
//! and stats record.

use std::time::{Duration, Instant};

use accessctl::emulator::{self, RunningEmulator, Seed};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

const ACME: &str = "91f0c2d4-0000-4000-8000-000000000001";
const OTHER: &str = "91f0c2d4-0000-4000-8000-000000000002";
const SITE: &str = "0d6b9a7e-0000-4000-8000-000000000001";
const SITE2: &str = "0d6b9a7e-0000-4000-8000-000000000003";
const OTHER_SITE: &str = "0d6b9a7e-0000-4000-8000-000000000002";
const KEY: &str = "emu-key-acme-SECRET";
const OTHER_KEY: &str = "emu-key-other-SECRET";

fn seed_yaml(extra_top: &str) -> String {
    format!(
        r#"
{extra_top}
accounts:
  - id: {ACME}
    api_keys: [ "{KEY}" ]
  - id: {OTHER}
    api_keys: [ "{OTHER_KEY}" ]
sites:
  - id: {SITE}
    account: {ACME}
    contributors:
      - {{ account_id: "acct-bob", roles: ["Website Manager"] }}
  - id: {SITE2}
    account: {ACME}
  - id: {OTHER_SITE}
    account: {OTHER}
"#
    )
}

fn client() -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client builds")
}

struct Emu {
    emu: RunningEmulator,
    http: Client,
}

impl Emu {
    async fn start_with(yaml: &str) -> Emu {
        let seed: Seed = emulator::parse_seed(yaml).expect("seed parses");
        let emu = emulator::spawn(seed, "127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("emulator starts");
        Emu {
            emu,
            http: client(),
        }
    }

    /// An emulator with `faults` installed through the control endpoint.
    async fn with_faults(faults: Value) -> Emu {
        let e = Emu::start_with(&seed_yaml("")).await;
        let (status, body) = e.control(Method::PUT, "/_emulator/faults", faults).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        e
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.emu.base_url(), path)
    }

    fn wix(&self, method: Method, path: &str, key: &str, site: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .header("Authorization", key)
            .header("wix-site-id", site)
    }

    fn invite_req(&self, email: &str) -> reqwest::RequestBuilder {
        self.wix(Method::POST, "/invites/site-invite/bulk", KEY, SITE)
            .json(&json!({ "policyIds": ["role-blog-writer"], "emails": [email] }))
    }

    fn query_req(&self, key: &str, site: &str) -> reqwest::RequestBuilder {
        self.wix(
            Method::GET,
            "/roles-management/v2/contributors/query",
            key,
            site,
        )
    }

    async fn send(&self, rb: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let resp = rb.send().await.expect("request sent");
        let status = resp.status();
        let text = resp.text().await.expect("body read");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn control(&self, method: Method, path: &str, body: Value) -> (StatusCode, Value) {
        let rb = self.http.request(method, self.url(path));
        let rb = if body.is_null() { rb } else { rb.json(&body) };
        self.send(rb).await
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.control(Method::GET, path, Value::Null).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    async fn invite_emails(&self) -> Vec<String> {
        let state = self.get("/_emulator/state").await;
        let site = state["sites"]
            .as_array()
            .expect("sites")
            .iter()
            .find(|s| s["id"] == SITE)
            .expect("site")
            .clone();
        site["invites"]
            .as_array()
            .expect("invites")
            .iter()
            .map(|i| i["email"].as_str().expect("email").to_owned())
            .collect()
    }

    async fn log(&self) -> Vec<Value> {
        self.get("/_emulator/log")
            .await
            .as_array()
            .expect("log array")
            .clone()
    }
}

/// The request must fail at the connection level: `send()` itself errors
/// (reset/EOF after the request went out), no HTTP answer at all.
async fn expect_connection_error(rb: reqwest::RequestBuilder) {
    match rb.send().await {
        Ok(resp) => panic!("expected a connection error, got HTTP {}", resp.status()),
        Err(e) => {
            assert!(!e.is_timeout(), "expected a reset/EOF, got a timeout: {e}");
            assert!(e.is_request(), "{e:?}");
            assert!(e.status().is_none(), "{e}");
        }
    }
}

#[tokio::test]
async fn latency_delays_only_its_endpoint() {
    let e = Emu::with_faults(json!({ "rules": [
        { "endpoint": "queryContributors", "latencyMs": 300 }
    ] }))
    .await;
    let t = Instant::now();
    let (status, _) = e.send(e.query_req(KEY, SITE)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );

    let t = Instant::now();
    let (status, _) = e.send(e.invite_req("a@example.com")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        t.elapsed() < Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );

    let log = e.log().await;
    assert_eq!(log[0]["fault"], "latency");
    assert_eq!(log[0]["status"], 200);
    assert!(log[1].get("fault").is_none(), "{}", log[1]);
}

#[tokio::test]
async fn injected_error_answers_without_performing_the_operation() {
    let e = Emu::with_faults(json!({ "rules": [
        { "endpoint": "*", "errorRate": 1.0, "status": 503 }
    ] }))
    .await;
    let (status, body) = e.send(e.invite_req("a@example.com")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["details"]["applicationError"]["code"], "UNAVAILABLE");
    assert!(body["message"].is_string(), "{body}");
    assert!(e.invite_emails().await.is_empty());

    // Controls are never faulted (the state read above already worked).
    let log = e.log().await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["fault"], "error");
    assert_eq!(log[0]["status"], 503);
}

#[tokio::test]
async fn drop_before_fails_the_request_and_changes_nothing() {
    let e = Emu::with_faults(json!({ "rules": [
        { "endpoint": "bulkInvite", "drop": "before" }
    ] }))
    .await;
    expect_connection_error(e.invite_req("a@example.com")).await;
    assert!(e.invite_emails().await.is_empty());
    let log = e.log().await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["fault"], "drop-before");
    assert_eq!(log[0]["status"], Value::Null);
    assert_eq!(log[0]["endpoint"], "bulkInvite");
}

#[tokio::test]
async fn drop_after_fails_the_request_but_the_invite_exists() {
    let e = Emu::with_faults(json!({ "rules": [
        { "endpoint": "bulkInvite", "drop": "after", "rate": 1.0, "times": 1 }
    ] }))
    .await;
    expect_connection_error(e.invite_req("a@example.com")).await;
    assert_eq!(e.invite_emails().await, ["a@example.com"]);

    // `times: 1`: the retry gets through (and finds the invite pending).
    let (status, body) = e.send(e.invite_req("b@example.com")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(e.invite_emails().await, ["a@example.com", "b@example.com"]);

    let log = e.log().await;
    assert_eq!(log[0]["fault"], "drop-after");
    assert_eq!(log[0]["status"], Value::Null);
    assert_eq!(log[0]["handledStatus"], 200);
    assert!(log[1].get("fault").is_none(), "{}", log[1]);
    let stats = e.get("/_emulator/stats").await;
    assert_eq!(stats["rules"][0]["fired"], 1);
    assert_eq!(stats["faults"]["drop-after"], 1);
    assert_eq!(stats["requests"]["bulkInvite"], 2);
}

#[tokio::test]
async fn times_limits_an_error_rule() {
    let e = Emu::with_faults(json!({ "rules": [
        { "endpoint": "querySiteContributors", "status": 500, "times": 1 }
    ] }))
    .await;
    let (s1, _) = e.send(e.query_req(KEY, SITE)).await;
    let (s2, _) = e.send(e.query_req(KEY, SITE)).await;
    let (s3, _) = e.send(e.query_req(KEY, SITE)).await;
    assert_eq!(
        [s1, s2, s3],
        [
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::OK,
            StatusCode::OK
        ]
    );
}

#[tokio::test]
async fn rate_limit_per_site() {
    let e = Emu::with_faults(json!({ "rateLimit": { "perMinute": 5, "scope": "site" } })).await;
    for _ in 0..5 {
        let (status, _) = e.send(e.query_req(KEY, SITE)).await;
        assert_eq!(status, StatusCode::OK);
    }
    let resp = e.query_req(KEY, SITE).send().await.expect("sent");
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = resp
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry), "{retry}");
    let body: Value = resp.json().await.expect("json");
    assert_eq!(
        body["details"]["applicationError"]["code"],
        "RESOURCE_EXHAUSTED"
    );

    // Another site of the same key has its own window.
    let (status, _) = e.send(e.query_req(KEY, SITE2)).await;
    assert_eq!(status, StatusCode::OK);

    let log = e.log().await;
    assert_eq!(log[5]["fault"], "rate-limit");
    assert_eq!(log[5]["status"], 429);
    let stats = e.get("/_emulator/stats").await;
    assert_eq!(stats["rateLimited"], 1);
    assert_eq!(stats["total"], 7);
}

#[tokio::test]
async fn rate_limit_per_key_spans_sites() {
    let e = Emu::with_faults(json!({ "rateLimit": { "perMinute": 3, "scope": "key" } })).await;
    let sites = [SITE, SITE2, SITE];
    for site in sites {
        let (status, _) = e.send(e.query_req(KEY, site)).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, _) = e.send(e.query_req(KEY, SITE2)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let (status, _) = e.send(e.query_req(OTHER_KEY, OTHER_SITE)).await;
    assert_eq!(status, StatusCode::OK);

    // Neither the log nor the stats nor the fault config ever hold a key.
    for path in ["/_emulator/log", "/_emulator/stats", "/_emulator/faults"] {
        let text = e.get(path).await.to_string();
        assert!(!text.contains(KEY) && !text.contains(OTHER_KEY), "{text}");
        assert!(!text.contains("SECRET"), "{text}");
    }
}

#[tokio::test]
async fn stall_outlasts_a_client_timeout_and_is_logged() {
    let e = Emu::with_faults(json!({ "rules": [
        { "endpoint": "queryContributors", "stallMs": 40000 }
    ] }))
    .await;
    let t = Instant::now();
    let err = e
        .query_req(KEY, SITE)
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .expect_err("stalled");
    assert!(err.is_timeout(), "{err}");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());

    // The emulator notices the client is gone and logs the request.
    let mut entry = Value::Null;
    for _ in 0..50 {
        if let Some(first) = e.log().await.first() {
            entry = first.clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(entry["fault"], "stall", "{entry}");
    assert_eq!(entry["status"], Value::Null);
    assert_eq!(entry["clientGone"], true);
}

/// `when: "after"`: the invite is made, then the client waits past its
/// timeout; the log says it was handled (200) though no answer was sent.
#[tokio::test]
async fn stall_after_performs_the_call_then_outlasts_the_timeout() {
    let e = Emu::with_faults(json!({ "rules": [
        { "endpoint": "bulkInvite", "stallMs": 40000, "when": "after", "times": 1 }
    ] }))
    .await;
    let err = e
        .invite_req("a@example.com")
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .expect_err("stalled");
    assert!(err.is_timeout(), "{err}");
    assert_eq!(e.invite_emails().await, ["a@example.com"]);
    let mut entry = Value::Null;
    for _ in 0..50 {
        if let Some(first) = e.log().await.first() {
            entry = first.clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(entry["fault"], "stall-after", "{entry}");
    assert_eq!(entry["handledStatus"], 200, "{entry}");
    assert_eq!(entry["status"], Value::Null);
    assert_eq!(entry["clientGone"], true);
}

/// `when: "after"` on an error rule: the invite is made, the client hears
/// a 503.
#[tokio::test]
async fn error_after_performs_the_call_then_answers_5xx() {
    let e = Emu::with_faults(json!({ "rules": [
        { "endpoint": "bulkInvite", "status": 503, "when": "after", "times": 1 }
    ] }))
    .await;
    let (status, _) = e.send(e.invite_req("a@example.com")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(e.invite_emails().await, ["a@example.com"]);
    let log = e.log().await;
    assert_eq!(log[0]["fault"], "error-after");
    assert_eq!(log[0]["status"], 503);
    assert_eq!(log[0]["handledStatus"], 200);
    assert_eq!(e.get("/_emulator/stats").await["faults"]["error-after"], 1);
    // A rule before the operation still changes nothing.
    let (status, body) = e
        .control(
            Method::PUT,
            "/_emulator/faults",
            json!({ "rules": [ { "endpoint": "bulkInvite", "status": 503, "when": "before" } ] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = e.send(e.invite_req("b@example.com")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(e.invite_emails().await, ["a@example.com"]);
}

#[tokio::test]
async fn fault_control_reads_replaces_validates_and_clears() {
    let e = Emu::start_with(&seed_yaml("")).await;
    assert_eq!(e.get("/_emulator/faults").await, json!({ "rules": [] }));

    let config = json!({ "seed": 42, "rules": [
        { "endpoint": "bulkInvite", "latencyMs": 200 },
        { "endpoint": "*", "errorRate": 0.2, "status": 503 },
        { "endpoint": "changeRole", "drop": "before", "rate": 0.5 },
        { "endpoint": "bulkInvite", "drop": "after", "rate": 1.0, "times": 1 },
        { "endpoint": "queryContributors", "stallMs": 40000, "rate": 0.1 }
    ], "rateLimit": { "scope": "site" } });
    let (status, stored) = e.control(Method::PUT, "/_emulator/faults", config).await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    assert_eq!(stored["rules"][4]["endpoint"], "querySiteContributors");
    assert_eq!(stored["rateLimit"]["perMinute"], 200);
    assert_eq!(e.get("/_emulator/faults").await, stored);

    let bad = json!({ "rules": [
        { "endpoint": "nope", "latencyMs": 1 },
        { "endpoint": "*", "errorRate": 2 }
    ] });
    let (status, body) = e.control(Method::PUT, "/_emulator/faults", bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let violations = body["details"]["validationError"]["fieldViolations"]
        .as_array()
        .expect("violations");
    let fields: Vec<&str> = violations
        .iter()
        .map(|v| v["field"].as_str().expect("field"))
        .collect();
    assert_eq!(fields, ["rules[0].endpoint", "rules[1].errorRate"]);
    // A rejected PUT keeps the previous configuration.
    assert_eq!(e.get("/_emulator/faults").await, stored);

    let (status, body) = e
        .control(
            Method::PUT,
            "/_emulator/faults",
            json!({ "rules": [{ "endpoint": "*", "latencyMs": 1, "typo": 1 }] }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let (status, body) = e
        .control(Method::DELETE, "/_emulator/faults", Value::Null)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({ "rules": [] }));
    let (status, _) = e.send(e.invite_req("a@example.com")).await;
    assert_eq!(status, StatusCode::OK);

    let (status, stats) = e
        .control(Method::DELETE, "/_emulator/stats", Value::Null)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stats["total"], 0);
}

#[tokio::test]
async fn seed_faults_apply_from_the_start() {
    let yaml = seed_yaml(
        r#"
faults:
  seed: 1
  rules:
    - { endpoint: "getRolesInfo", status: 502 }
  rate_limit: { per_minute: 2 }
"#,
    );
    let e = Emu::start_with(&yaml).await;
    let roles = || e.wix(Method::GET, "/roles-management/roles", KEY, SITE);
    let (status, body) = e.send(roles()).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    let (status, _) = e.send(roles()).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    let (status, _) = e.send(roles()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);

    let err = emulator::parse_seed(&seed_yaml(
        "faults: { rules: [ { endpoint: \"*\", rate: 0.5 } ] }",
    ))
    .expect_err("a rule without action is invalid");
    assert!(err.to_string().contains("faults.rules[0]"), "{err}");
}

/// Served by plain `axum::serve` (no connection handle), a drop still
/// makes the client fail, if only while reading the body.
#[tokio::test]
async fn drop_without_the_emulator_listener_still_fails_the_client() {
    let yaml = seed_yaml("faults: { rules: [ { endpoint: \"*\", drop: after } ] }");
    let app = emulator::router(emulator::parse_seed(&yaml).expect("seed")).expect("router");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let http = client();
    let rb = http
        .get(format!("http://{addr}/roles-management/roles"))
        .header("Authorization", KEY)
        .header("wix-site-id", SITE);
    // The status line may arrive, but the promised body never does.
    match rb.send().await {
        Ok(resp) => assert!(resp.text().await.is_err(), "body should fail"),
        Err(e) => assert!(!e.is_timeout(), "{e}"),
    }
    server.abort();
}
