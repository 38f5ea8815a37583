//! The Wix client's network behaviour, in process: retries only for calls
//! that are safe to repeat, `Retry-After`, the per-key rate limiter against
//! the emulator's own limiter (on a paused clock, so minutes of traffic take
//! milliseconds), and clear errors — never panics — for answers that are not
//! the JSON expected.
//!
//! Most tests talk to a scripted server that answers each request with the
//! next canned response; the rate-limit and drop tests use the emulator.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use accessctl::emulator;
use accessctl::providers::wix::retry::RetryPolicy;
use accessctl::providers::wix::{SiteAccess, WixClient, WixError};
use accessctl::secret::ApiKey;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{Request, Response};
use serde_json::{Value, json};

// ------------------------------------------------------ scripted server

#[derive(Clone)]
struct Canned {
    status: u16,
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
    delay: Duration,
}

fn canned(status: u16, body: impl Into<Vec<u8>>) -> Canned {
    Canned {
        status,
        body: body.into(),
        headers: vec![("content-type", "application/json".to_string())],
        delay: Duration::ZERO,
    }
}

impl Canned {
    fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_string()));
        self
    }

    fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

#[derive(Default)]
struct Script {
    answers: Mutex<VecDeque<Canned>>,
    /// (method, path) of every request received.
    seen: Mutex<Vec<(String, String)>>,
}

async fn answer(State(script): State<Arc<Script>>, req: Request<Body>) -> Response<Body> {
    script
        .seen
        .lock()
        .expect("lock")
        .push((req.method().to_string(), req.uri().path().to_string()));
    let next = script.answers.lock().expect("lock").pop_front();
    let c = next.unwrap_or_else(|| canned(200, "{}"));
    if !c.delay.is_zero() {
        tokio::time::sleep(c.delay).await;
    }
    let mut response = Response::builder().status(c.status);
    for (name, value) in &c.headers {
        response = response.header(*name, value);
    }
    response.body(Body::from(c.body)).expect("response")
}

struct Scripted {
    base: String,
    script: Arc<Script>,
    _server: tokio::task::JoinHandle<()>,
}

impl Scripted {
    async fn start(answers: Vec<Canned>) -> Scripted {
        let script = Arc::new(Script {
            answers: Mutex::new(answers.into()),
            seen: Mutex::default(),
        });
        let app = Router::new().fallback(answer).with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Scripted {
            base,
            script,
            _server: server,
        }
    }

    fn requests(&self) -> usize {
        self.script.seen.lock().expect("lock").len()
    }
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        base: Duration::from_millis(5),
        ..RetryPolicy::default()
    }
}

fn client(base: &str) -> WixClient {
    WixClient::new(base, Duration::from_secs(5))
        .expect("client")
        .with_retry(fast_retries())
}

fn site() -> SiteAccess {
    SiteAccess {
        site_key: "acme".to_string(),
        site_id: "site-1".to_string(),
        account_id: "acc-1".to_string(),
        key: ApiKey::new("test-key-SECRET"),
        invite_language: None,
    }
}

const ROLES: &str = r#"{"predefinedRoles":[{"id":"role-a","title":"Role A"}]}"#;
const UNAVAILABLE: &str = r#"{"message":"unavailable"}"#;

// --------------------------------------------------------------- retries

#[tokio::test]
async fn reads_are_retried_on_5xx_and_429() {
    let s = Scripted::start(vec![
        canned(503, UNAVAILABLE),
        canned(429, "{}"),
        canned(502, "<html><body>Bad gateway</body></html>"),
        canned(200, ROLES),
    ])
    .await;
    let roles = client(&s.base).roles(&site()).await.expect("roles");
    assert_eq!(roles.len(), 1);
    assert_eq!(s.requests(), 4);
}

#[tokio::test]
async fn retries_stop_after_the_policys_attempts() {
    let s = Scripted::start(vec![canned(500, UNAVAILABLE); 10]).await;
    let err = client(&s.base).roles(&site()).await.expect_err("fails");
    assert_eq!(s.requests(), 5);
    assert_eq!(
        err.to_string(),
        "Get Roles Info on site `acme` failed: HTTP 500: unavailable"
    );
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let s = Scripted::start(vec![canned(401, r#"{"message":"no"}"#), canned(200, ROLES)]).await;
    let err = client(&s.base).roles(&site()).await.expect_err("fails");
    assert_eq!(s.requests(), 1);
    assert!(err.to_string().contains("HTTP 401: no"), "{err}");
}

/// Which id header Get Roles Info wants is unconfirmed: a 403 (or 400) for
/// `wix-account-id` is answered by one call with `wix-site-id`, not a retry;
/// when both are refused the error names the detail and both answers.
#[tokio::test]
async fn get_roles_info_tries_the_other_id_header_once() {
    let s = Scripted::start(vec![canned(403, r#"{"message":"no"}"#), canned(200, ROLES)]).await;
    let info = client(&s.base)
        .roles_info(&site())
        .await
        .expect("second header works");
    assert_eq!(s.requests(), 2);
    assert_eq!(info.header.name(), "wix-site-id");

    let s = Scripted::start(vec![
        canned(403, r#"{"message":"no"}"#),
        canned(400, r#"{"message":"missing wix-account-id header"}"#),
        canned(200, ROLES),
    ])
    .await;
    let err = client(&s.base)
        .roles(&site())
        .await
        .expect_err("both refused");
    assert_eq!(s.requests(), 2);
    assert_eq!(
        err.to_string(),
        "Get Roles Info on site `acme` failed: refused with wix-account-id (HTTP 403: no (hint: the key must be created by the account that owns the site, with the Manage Contributors permission)) and with wix-site-id (HTTP 400: missing wix-account-id header) (unconfirmed API detail: Get Roles Info id header; hint: run `accessctl doctor` and report its summary)"
    );
}

#[tokio::test]
async fn bulk_invite_and_resend_are_not_repeated_once_wix_may_have_acted() {
    let s = Scripted::start(vec![canned(503, UNAVAILABLE); 4]).await;
    let c = client(&s.base);
    let err = c
        .bulk_invite(&site(), &["role-a".into()], &["ann@example.com".into()])
        .await
        .expect_err("fails");
    assert!(err.outcome_unknown());
    assert_eq!(s.requests(), 1);
    let err = c.resend_invite(&site(), "inv-1").await.expect_err("fails");
    assert!(err.outcome_unknown());
    assert_eq!(s.requests(), 2);
    // A 429 is answered before Wix acts, so sending again cannot send an
    // email twice: the client does.
    let s = Scripted::start(vec![
        canned(429, "{}").header("retry-after", "0"),
        canned(200, r#"{"invites":[]}"#),
    ])
    .await;
    client(&s.base)
        .bulk_invite(&site(), &["role-a".into()], &["ann@example.com".into()])
        .await
        .expect("sent on the second attempt");
    assert_eq!(s.requests(), 2);
}

#[tokio::test]
async fn writes_that_are_safe_to_repeat_are_retried() {
    let s = Scripted::start(vec![
        canned(500, UNAVAILABLE),
        canned(200, "{}"),
        canned(503, UNAVAILABLE),
        canned(200, "{}"),
        canned(504, UNAVAILABLE),
        canned(200, "{}"),
    ])
    .await;
    let c = client(&s.base);
    c.change_role(&site(), "acct-1", &["role-a".into()])
        .await
        .expect("change role");
    c.revoke_invite(&site(), "inv-1").await.expect("revoke");
    c.remove_contributor(&site(), "acct-1")
        .await
        .expect("remove");
    assert_eq!(s.requests(), 6);
}

#[tokio::test]
async fn timeouts_are_retried_for_reads() {
    let s = Scripted::start(vec![
        canned(200, ROLES).after(Duration::from_secs(3)),
        canned(200, ROLES),
    ])
    .await;
    let c = WixClient::new(&s.base, Duration::from_millis(300))
        .expect("client")
        .with_retry(fast_retries());
    let started = std::time::Instant::now();
    c.roles(&site()).await.expect("roles");
    assert_eq!(s.requests(), 2);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_timed_out_bulk_invite_is_not_retried_and_its_outcome_is_unknown() {
    let s = Scripted::start(vec![canned(200, "{}").after(Duration::from_secs(3))]).await;
    let c = WixClient::new(&s.base, Duration::from_millis(300))
        .expect("client")
        .with_retry(fast_retries());
    let err = c
        .bulk_invite(&site(), &["role-a".into()], &["ann@example.com".into()])
        .await
        .expect_err("times out");
    assert!(err.outcome_unknown());
    assert_eq!(
        err.to_string(),
        "Bulk Invite on site `acme` failed: the request timed out"
    );
    assert_eq!(s.requests(), 1);
}

/// The client's `request` events (one per attempt, `attempt=N`) while `f`
/// runs on this thread: a refused connection leaves no trace at a server,
/// so the client's own log is what counts its attempts.
async fn attempts_logged<T>(f: impl std::future::Future<Output = T>) -> (T, Vec<u32>) {
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let out = f.await;
    let text = String::from_utf8(buffer.0.lock().expect("lock").clone()).expect("UTF-8 log");
    let attempts = text
        .lines()
        .filter(|l| l.contains(" request "))
        .filter_map(|l| {
            l.split("attempt=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .collect();
    (out, attempts)
}

/// A port nothing listens on.
fn refusing_base() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    format!("http://127.0.0.1:{}", l.local_addr().expect("addr").port())
}

#[tokio::test]
async fn connection_refused_is_retried_then_reported() {
    let base = refusing_base();
    let c = client(&base);
    let (result, attempts) = attempts_logged(c.roles(&site())).await;
    let err = result.expect_err("refused");
    assert_eq!(
        attempts,
        (1..=fast_retries().attempts).collect::<Vec<_>>(),
        "every attempt the policy allows"
    );
    assert!(!err.outcome_unknown(), "nothing reached Wix");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "Get Roles Info on site `acme` failed: could not connect to the Wix API at {base}: "
        )),
        "{text}"
    );
    assert!(text.contains("accessctl emulator --seed"), "{text}");
}

/// Bulk Invite is never repeated when it may have reached Wix, but a
/// refused connection certainly did not: it is retried like a read.
#[tokio::test]
async fn connection_refused_is_retried_even_for_bulk_invite() {
    let c = client(&refusing_base());
    let (result, attempts) =
        attempts_logged(c.bulk_invite(&site(), &["role-a".into()], &["ann@example.com".into()]))
            .await;
    let err = result.expect_err("refused");
    assert_eq!(attempts, (1..=fast_retries().attempts).collect::<Vec<_>>());
    assert!(!err.outcome_unknown(), "nothing reached Wix");
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let s = Scripted::start(vec![
        canned(429, r#"{"message":"slow down"}"#).header("retry-after", "1"),
        canned(200, ROLES),
    ])
    .await;
    let started = std::time::Instant::now();
    client(&s.base).roles(&site()).await.expect("roles");
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(s.requests(), 2);
}

#[tokio::test]
async fn too_long_a_retry_after_fails_the_call_at_once() {
    let s = Scripted::start(vec![
        canned(429, r#"{"message":"come back tomorrow"}"#).header("retry-after", "86400"),
        canned(200, ROLES),
    ])
    .await;
    let started = std::time::Instant::now();
    let err = client(&s.base).roles(&site()).await.expect_err("fails");
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(s.requests(), 1);
    assert_eq!(
        err.to_string(),
        "Get Roles Info on site `acme` failed: HTTP 429: come back tomorrow"
    );
}

// ---------------------------------------------------- unexpected answers

/// What reading a site makes of these answers (Get Roles Info first, then
/// Query Site Contributors): the contributors, or the error.
async fn read_with(answers: Vec<Canned>) -> String {
    let s = Scripted::start(answers).await;
    match client(&s.base).read_site(&site()).await {
        Ok(live) => format!(
            "ok: roles {:?}, contributors {:?}",
            live.roles.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            live.contributors
        ),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn unexpected_json_gives_a_clear_error_naming_site_and_call() {
    let roles = || canned(200, ROLES);
    let cases: Vec<(&str, Vec<Canned>)> = vec![
        (
            "missing fields are tolerated",
            vec![
                canned(
                    200,
                    r#"{"predefinedRoles":[{"title":"no id"},{"id":"role-a"}]}"#,
                ),
                canned(200, r#"{"contributors":[{},{"accountId":"acct-1"}]}"#),
                canned(200, r#"{"contributors":[{"accountId":"acct-1"},{}]}"#),
            ],
        ),
        (
            "unknown fields and enum values are tolerated",
            vec![
                canned(
                    200,
                    r#"{"predefinedRoles":[{"id":"role-a","restrictFromLevel":"Galaxy","colour":"red"}],"next":{}}"#,
                ),
                canned(
                    200,
                    r#"{"contributors":[{"accountId":"acct-1","status":"GALACTIC","new":1}]}"#,
                ),
                canned(200, r#"{"contributors":[{"accountId":"acct-1"}]}"#),
            ],
        ),
        (
            "an empty answer reads as no contributors",
            vec![roles(), canned(200, "")],
        ),
        (
            "wrong type",
            vec![roles(), canned(200, r#"{"contributors":"everyone"}"#)],
        ),
        (
            "wrong type deeper down",
            vec![
                roles(),
                canned(200, r#"{"contributors":[{"accountId":42}]}"#),
            ],
        ),
        (
            "wrong type in the roles",
            vec![canned(
                200,
                r#"{"predefinedRoles":[{"id":"r","title":["A"]}]}"#,
            )],
        ),
        ("not an object", vec![roles(), canned(200, r#"[1, 2, 3]"#)]),
        ("null", vec![roles(), canned(200, "null")]),
        (
            "truncated",
            vec![roles(), canned(200, r#"{"contributors":[{"accountId":"a"#)],
        ),
        (
            "an HTML page with 200",
            vec![
                roles(),
                canned(
                    200,
                    "<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>Please sign in</body></html>",
                ),
            ],
        ),
        (
            "an HTML error page",
            vec![canned(
                404,
                "<html><head><title>404 Not Found</title></head></html>",
            )],
        ),
        (
            "binary junk",
            vec![roles(), canned(200, vec![0xff, 0xfe, 0x00, 0x01, 0x1b])],
        ),
    ];
    let mut report = String::new();
    for (name, answers) in cases {
        report.push_str(&format!("{name}:\n  {}\n", read_with(answers).await));
    }
    insta::assert_snapshot!(report);
}

#[tokio::test]
async fn an_oversized_answer_is_refused_and_not_retried() {
    let huge = format!(
        r#"{{"contributors":[{}]}}"#,
        vec![r#"{"accountId":"acct-0000000000"}"#; 300_000].join(",")
    );
    let s = Scripted::start(vec![canned(200, huge.clone()); 3]).await;
    let err = client(&s.base).roles(&site()).await.expect_err("too big");
    assert_eq!(s.requests(), 1);
    assert_eq!(
        err.to_string(),
        "Get Roles Info on site `acme` failed: response larger than 8 MiB"
    );
}

#[tokio::test]
async fn an_unexpected_bulk_invite_answer_is_an_unknown_outcome() {
    let s = Scripted::start(vec![canned(200, r#"{"invites":{"id":"x"}}"#)]).await;
    let err = client(&s.base)
        .bulk_invite(&site(), &["role-a".into()], &["ann@example.com".into()])
        .await
        .expect_err("bad answer");
    assert!(err.outcome_unknown(), "Wix answered 200: it may have sent");
    assert!(
        err.to_string().starts_with(
            "Bulk Invite on site `acme` failed: unexpected response: JSON of an unexpected shape"
        ),
        "{err}"
    );
}

// ------------------------------------------------------ with the emulator

const ACCOUNT: &str = "acc-1";
const KEY: &str = "key-shared";

/// `sites` sites of one account (one shared key), each with two
/// contributors, and `faults` installed.
fn emulator_seed(sites: usize, faults: &str) -> String {
    let mut s = format!("accounts:\n  - {{ id: {ACCOUNT}, api_keys: [{KEY}] }}\nsites:\n");
    for i in 0..sites {
        s.push_str(&format!(
            "  - id: site-{i}\n    account: {ACCOUNT}\n    contributors:\n      - {{ account_id: acct-a, roles: [Blog Editor] }}\n      - {{ account_id: acct-b, roles: [Blog Writer, Website Designer] }}\n"
        ));
    }
    s.push_str(faults);
    s
}

fn emulator_site(i: usize) -> SiteAccess {
    SiteAccess {
        site_key: format!("site{i}"),
        site_id: format!("site-{i}"),
        account_id: ACCOUNT.to_string(),
        key: ApiKey::new(KEY),
        invite_language: None,
    }
}

async fn stats(base: &str) -> Value {
    reqwest::get(format!("{base}/_emulator/stats"))
        .await
        .expect("stats")
        .json()
        .await
        .expect("json")
}

/// Read `sites` sites at once through `client`; every read must succeed.
async fn read_all(client: &WixClient, sites: usize) {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..sites {
        let client = client.clone();
        tasks.spawn(async move { client.read_site(&emulator_site(i)).await });
    }
    for result in tasks.join_all().await {
        let live = result.expect("site read");
        assert_eq!(live.contributors.len(), 2);
    }
}

/// 20 sites on one key need ~340 reads, far over the emulator's 200 per
/// minute; the limiter spreads them so not one is refused.
async fn limiter_avoids_throttling(scope: &str) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let seed = emulator_seed(
        20,
        &format!("faults:\n  rateLimit: {{ perMinute: 200, scope: {scope} }}\n"),
    );
    let emu = emulator::spawn(
        emulator::parse_seed(&seed).expect("seed"),
        "127.0.0.1:0".parse().expect("addr"),
    )
    .await
    .expect("emulator");
    let base = emu.base_url();
    let client = WixClient::new(&base, Duration::from_secs(30)).expect("client");
    let started = tokio::time::Instant::now();
    read_all(&client, 20).await;
    let s = stats(&base).await;
    assert_eq!(s["rateLimited"], 0, "{s}");
    assert!(s["total"].as_u64().expect("total") > 300, "{s}");
    // ~340 requests at 150 a minute: three windows' worth, so the last
    // third went two minutes after the first.
    assert!(
        started.elapsed() >= Duration::from_secs(120),
        "{:?}",
        started.elapsed()
    );
    emu.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn the_limiter_keeps_a_shared_key_under_a_per_key_limit() {
    limiter_avoids_throttling("key").await;
}

#[tokio::test(start_paused = true)]
async fn the_limiter_keeps_every_site_under_a_per_site_limit() {
    limiter_avoids_throttling("site").await;
}

/// With the limiter set above the emulator's limit, the emulator answers
/// 429 with Retry-After; the client waits as told and every read succeeds.
#[tokio::test(start_paused = true)]
async fn throttled_reads_wait_for_retry_after_and_succeed() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let seed = emulator_seed(20, "faults:\n  rateLimit: { perMinute: 120, scope: key }\n");
    let emu = emulator::spawn(
        emulator::parse_seed(&seed).expect("seed"),
        "127.0.0.1:0".parse().expect("addr"),
    )
    .await
    .expect("emulator");
    let base = emu.base_url();
    let client = WixClient::new(&base, Duration::from_secs(30))
        .expect("client")
        .with_rate_limit(10_000);
    read_all(&client, 20).await;
    let s = stats(&base).await;
    assert!(s["rateLimited"].as_u64().expect("n") > 0, "{s}");
    emu.shutdown().await;
}

async fn emulator_with_faults(faults: Value) -> emulator::RunningEmulator {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let emu = emulator::spawn(
        emulator::parse_seed(&emulator_seed(1, "")).expect("seed"),
        "127.0.0.1:0".parse().expect("addr"),
    )
    .await
    .expect("emulator");
    let r = reqwest::Client::new()
        .put(format!("{}/_emulator/faults", emu.base_url()))
        .json(&faults)
        .send()
        .await
        .expect("faults");
    assert!(r.status().is_success());
    emu
}

#[tokio::test]
async fn a_remove_whose_answer_was_lost_is_done_when_the_retry_finds_nobody() {
    let emu = emulator_with_faults(json!({ "rules": [
        { "endpoint": "removeContributor", "drop": "after", "times": 1 }
    ] }))
    .await;
    let c = client(&emu.base_url());
    c.remove_contributor(&emulator_site(0), "acct-a")
        .await
        .expect("removed");
    // Removing someone who is not there is still an error.
    let err: WixError = c
        .remove_contributor(&emulator_site(0), "acct-a")
        .await
        .expect_err("not a contributor");
    assert_eq!(
        err.to_string(),
        "Remove Contributor on site `site0` failed: HTTP 404: account \"acct-a\" is not a contributor of site \"site-0\"; code NOT_FOUND (hint: check the site's `site_id` and `account_id`)"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn dropped_connections_are_retried_for_role_changes() {
    let emu = emulator_with_faults(json!({ "rules": [
        { "endpoint": "changeRole", "drop": "before", "times": 1 },
        { "endpoint": "changeRole", "drop": "after", "times": 1 },
    ] }))
    .await;
    let c = client(&emu.base_url());
    c.change_role(&emulator_site(0), "acct-a", &["role-blog-writer".into()])
        .await
        .expect("first: dropped before, then done");
    c.change_role(
        &emulator_site(0),
        "acct-a",
        &["role-website-manager".into()],
    )
    .await
    .expect("second: done, answer lost, done again");
    let live = c.read_site(&emulator_site(0)).await.expect("read");
    assert_eq!(
        live.contributors["acct-a"].iter().collect::<Vec<_>>(),
        ["role-website-manager"]
    );
    emu.shutdown().await;
}

/// The command's deadline: a call still waiting for its rate-limit slot
/// when it passes fails as not sent, at the deadline, not a minute later.
#[tokio::test]
async fn a_call_waiting_past_the_deadline_fails_as_not_sent() {
    let s = Scripted::start(vec![canned(200, ROLES); 4]).await;
    let c = client(&s.base)
        .with_rate_limit(1)
        .with_deadline(Duration::from_millis(800));
    c.roles(&site()).await.expect("the first call has its slot");
    let started = std::time::Instant::now();
    let other = SiteAccess {
        account_id: "acc-2".to_string(),
        ..site()
    };
    let err = c
        .roles(&other)
        .await
        .expect_err("no slot before the deadline");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(!err.outcome_unknown());
    assert!(err.to_string().contains("deadline passed"), "{err}");
    assert_eq!(s.requests(), 1);
}

/// Regression (found by `plan_properties`): contributors who all hold
/// every role make every per-role query return everyone, as an ignored
/// filter would. A query on a role id that does not exist tells them apart:
/// the site is read, and only an ignored filter is refused.
#[tokio::test]
async fn contributors_holding_every_role_are_not_taken_for_an_ignored_filter() {
    for (quirks, refused) in [("", false), ("quirks: { role_filter: ignored }\n", true)] {
        let seed = format!(
            "{quirks}predefined_roles:\n  - {{ id: role-a, title: A }}\n  - {{ id: role-b, title: B }}\naccounts:\n  - {{ id: {ACCOUNT}, api_keys: [{KEY}] }}\nsites:\n  - id: site-0\n    account: {ACCOUNT}\n    contributors:\n      - {{ account_id: acct-x, roles: [role-a, role-b] }}\n"
        );
        let emu = emulator::spawn(
            emulator::parse_seed(&seed).expect("seed"),
            ([127, 0, 0, 1], 0).into(),
        )
        .await
        .expect("emulator");
        let result = client(&emu.base_url()).read_site(&emulator_site(0)).await;
        match (result, refused) {
            (Ok(live), false) => {
                let roles: Vec<&str> = live.contributors["acct-x"].iter().collect();
                assert_eq!(roles, ["role-a", "role-b"]);
            }
            (Err(e), true) => assert!(e.to_string().contains("filter seems to be ignored"), "{e}"),
            (other, _) => panic!("{quirks:?}: {other:?}"),
        }
        emu.shutdown().await;
    }
}

/// Written as an attacker who controls Wix's answer (or a ledger): an
/// invite id that would leave its path segment is taken as what Wix said,
/// but a call naming it is refused before anything is sent, so it cannot
/// point the site's key at another endpoint.
#[tokio::test]
async fn an_invite_id_that_would_leave_its_path_is_never_sent() {
    let hostile = "../../roles-management/contributor/remove?x=";
    let answer = format!(
        r#"{{"invites":[{{"id":"{hostile}","email":"ann@example.com"}}],"failedEmails":[]}}"#
    );
    let s = Scripted::start(vec![canned(200, answer)]).await;
    let c = client(&s.base);
    let sent = c
        .bulk_invite(&site(), &["role-a".into()], &["ann@example.com".into()])
        .await
        .expect("answered");
    assert_eq!(sent.invites[0].id, hostile);
    for id in [hostile, "..", "a/b", "a%2Fb", "", "id with space"] {
        let err = c.revoke_invite(&site(), id).await.expect_err("refused");
        assert!(!err.outcome_unknown(), "nothing was sent");
        assert!(err.to_string().contains("is not a Wix id"), "{id:?}: {err}");
    }
    assert_eq!(s.requests(), 1, "only the Bulk Invite reached the server");
    // A real id is sent as it is.
    let _ = c
        .revoke_invite(&site(), "1a7e0000-0000-4000-8000-000000000001")
        .await;
    assert_eq!(s.requests(), 2);
}
