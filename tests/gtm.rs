//! Google Tag Manager end to end: the emulator over loopback, the real
//! [`GtmProvider`], tokens minted by the emulator's test control
//! ([`MintedBearer`]) and the platform-neutral diff deciding the changes.
//! Each test uses its own Cloud project, so the process-wide limiter does
//! not pace one test by another's calls.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use accessctl::emulator::{self, RunningEmulator};
use accessctl::model::Unmanaged;
use accessctl::platform::diff::{Desired, diff};
use accessctl::platform::{
    Access, BoxFuture, Change, ChangeKind, Outcome, Platform, Provider, ProviderError, Target,
    TargetState, Who,
};
use accessctl::providers::google::gtm::{GtmProvider, RateWindow};
use accessctl::providers::google::{Bearer, scopes};
use accessctl::providers::wix::retry::RetryPolicy;
use accessctl::secret::ApiKey;
use common::google::MintedBearer;
use serde_json::Value;

const SA: &str = "accessctl@agency-project.iam.gserviceaccount.com";

fn seed(rate: &str) -> String {
    format!(
        r#"
google:
  gtm:
    rate: {rate}
    page_size: 2
    accounts:
      - id: "6000"
        containers:
          - {{ container_id: "31", public_id: GTM-AAAA111, name: Main site }}
          - {{ container_id: "32", public_id: GTM-BBBB222, name: Shop }}
          - {{ container_id: "33", public_id: GTM-CCCC333, name: Not managed }}
        permissions:
          - {{ email: {SA}, account: admin }}
          - email: alice@example.com
            account: user
            containers: {{ GTM-AAAA111: read, GTM-BBBB222: read, GTM-CCCC333: edit }}
          - email: bob@example.com
            account: user
            containers: {{ GTM-AAAA111: edit }}
          - email: carol@example.com
            account: user
            containers: {{ GTM-BBBB222: read }}
"#
    )
}

async fn start(seed: &str) -> RunningEmulator {
    let seed = emulator::parse_seed(seed).expect("valid seed");
    emulator::spawn(seed, ([127, 0, 0, 1], 0).into())
        .await
        .expect("emulator starts")
}

fn quick_retry() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        base: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        ..RetryPolicy::default()
    }
}

fn bearer(base: &str, project: &str) -> Arc<MintedBearer> {
    let mut b = MintedBearer::new(base);
    b.project_id = project.to_owned();
    Arc::new(b)
}

fn provider(emu: &RunningEmulator, project: &str, rate: RateWindow) -> GtmProvider {
    GtmProvider::new(
        &emu.base_url(),
        bearer(&emu.base_url(), project),
        Duration::from_secs(10),
        rate,
    )
    .expect("provider")
    .with_retry(quick_retry())
}

fn target(managed: &[&str]) -> Target {
    Target {
        platform: Platform::Gtm,
        id: "accounts/6000".to_owned(),
        credentials_env: None,
        managed_children: managed.iter().map(|s| (*s).to_owned()).collect(),
    }
}

fn access(role: &str, children: &[(&str, &str)]) -> Access {
    let mut a = Access::roles([role]);
    for (child, perm) in children {
        a.children
            .insert((*child).to_owned(), BTreeSet::from([(*perm).to_owned()]));
    }
    a
}

fn desired(entries: &[(&str, Access)]) -> BTreeMap<Who, Desired> {
    entries
        .iter()
        .map(|(email, access)| {
            (
                Who::Email((*email).to_owned()),
                Desired::new(access.clone(), format!("person {email}")),
            )
        })
        .collect()
}

async fn get(base: &str, path: &str) -> Value {
    reqwest::get(format!("{base}{path}"))
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON")
}

async fn gtm_state(emu: &RunningEmulator) -> Value {
    get(&emu.base_url(), "/_emulator/google/gtm").await
}

/// The emulator's document for `email`, container id → permission.
async fn document(
    emu: &RunningEmulator,
    email: &str,
) -> Option<(String, BTreeMap<String, String>)> {
    let state = gtm_state(emu).await;
    let doc = state["accounts"][0]["userPermissions"]
        .as_array()
        .expect("documents")
        .iter()
        .find(|d| d["emailAddress"] == email)?
        .clone();
    let containers = doc["containerAccess"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|c| {
                    (
                        c["containerId"].as_str().unwrap().to_owned(),
                        c["permission"].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Some((
        doc["accountAccess"]["permission"]
            .as_str()
            .unwrap()
            .to_owned(),
        containers,
    ))
}

/// Endpoint names of the emulator's log, in order.
async fn endpoints(emu: &RunningEmulator) -> Vec<(String, String)> {
    get(&emu.base_url(), "/_emulator/log")
        .await
        .as_array()
        .expect("log")
        .iter()
        .map(|e| {
            (
                e["endpoint"].as_str().unwrap_or("?").to_owned(),
                e["path"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

async fn clear_log(emu: &RunningEmulator) {
    reqwest::Client::new()
        .delete(format!("{}/_emulator/log", emu.base_url()))
        .send()
        .await
        .expect("clear log");
}

fn plan(
    provider: &GtmProvider,
    target: &Target,
    want: &BTreeMap<Who, Desired>,
    state: &TargetState,
    unmanaged: Unmanaged,
) -> Vec<Change> {
    let d = diff(
        target,
        provider.capabilities(),
        want,
        state,
        unmanaged,
        provider.self_email(),
    );
    assert!(d.refused.is_empty(), "{:?}", d.refused);
    d.changes
}

async fn apply(provider: &GtmProvider, target: &Target, changes: &[Change]) -> Vec<Outcome> {
    let heard = Mutex::new(Vec::new());
    let progress = |c: &Change, o: &Outcome| heard.lock().unwrap().push((c.clone(), o.clone()));
    let outcomes = provider.apply(target, changes, &progress).await;
    let heard = heard.into_inner().unwrap();
    assert_eq!(heard.len(), changes.len(), "progress hears every outcome");
    assert_eq!(
        heard.iter().map(|(_, o)| o.clone()).collect::<Vec<_>>(),
        outcomes
    );
    outcomes
}

#[tokio::test]
async fn observe_diff_apply_converges_and_keeps_what_is_not_managed() {
    let emu = start(&seed("{ requests: 25, window_seconds: 100 }")).await;
    let gtm = provider(&emu, "converges", RateWindow::default());
    let target = target(&["GTM-AAAA111", "GTM-BBBB222"]);

    let state = gtm.observe(&target).await.expect("observe");
    assert_eq!(
        state.children,
        BTreeSet::from([
            "GTM-AAAA111".to_owned(),
            "GTM-BBBB222".to_owned(),
            "GTM-CCCC333".to_owned()
        ])
    );
    let alice = state
        .bindings
        .iter()
        .find(|b| b.email.as_deref() == Some("alice@example.com"))
        .expect("alice listed (lists are paged by 2)");
    assert_eq!(
        alice.access,
        access(
            "user",
            &[
                ("GTM-AAAA111", "read"),
                ("GTM-BBBB222", "read"),
                ("GTM-CCCC333", "edit")
            ]
        )
    );
    assert_eq!(state.bindings.len(), 4);

    // alice: one managed container changes; bob goes; carol stays; dave
    // arrives.
    let want = desired(&[
        (
            "alice@example.com",
            access(
                "user",
                &[("GTM-AAAA111", "publish"), ("GTM-BBBB222", "read")],
            ),
        ),
        (
            "carol@example.com",
            access("user", &[("GTM-BBBB222", "read")]),
        ),
        (
            "dave@example.com",
            access("user", &[("GTM-AAAA111", "read")]),
        ),
    ]);
    let changes = plan(&gtm, &target, &want, &state, Unmanaged::Remove);
    let kinds: Vec<(ChangeKind, &str)> = changes
        .iter()
        .map(|c| (c.kind, c.who.email().unwrap_or_default()))
        .collect();
    assert_eq!(
        kinds,
        [
            (ChangeKind::Update, "alice@example.com"),
            (ChangeKind::Add, "dave@example.com"),
            (ChangeKind::Remove, "bob@example.com"),
        ]
    );
    clear_log(&emu).await;
    let outcomes = apply(&gtm, &target, &changes).await;
    assert!(outcomes.iter().all(|o| *o == Outcome::Done), "{outcomes:?}");

    // alice's other managed container and her unmanaged one are untouched.
    let (role, containers) = document(&emu, "alice@example.com").await.expect("alice");
    assert_eq!(role, "user");
    assert_eq!(
        containers,
        BTreeMap::from([
            ("31".to_owned(), "publish".to_owned()),
            ("32".to_owned(), "read".to_owned()),
            ("33".to_owned(), "edit".to_owned()),
        ])
    );
    assert_eq!(
        document(&emu, "carol@example.com").await.expect("carol").1,
        BTreeMap::from([("32".to_owned(), "read".to_owned())])
    );
    assert!(document(&emu, "bob@example.com").await.is_none());
    assert_eq!(
        document(&emu, "dave@example.com").await.expect("dave").1,
        BTreeMap::from([("31".to_owned(), "read".to_owned())])
    );
    assert!(document(&emu, SA).await.is_some(), "self is never touched");

    // One PUT (alice's), one POST, and bob's removal is a DELETE of his
    // document.
    let log = endpoints(&emu).await;
    let writes: Vec<&str> = log
        .iter()
        .map(|(e, _)| e.as_str())
        .filter(|e| matches!(*e, "gtm.update" | "gtm.create" | "gtm.delete"))
        .collect();
    assert_eq!(writes, ["gtm.update", "gtm.create", "gtm.delete"]);
    let bob_handle = state
        .bindings
        .iter()
        .find(|b| b.email.as_deref() == Some("bob@example.com"))
        .and_then(|b| b.handle.clone())
        .unwrap();
    assert!(
        log.iter()
            .any(|(e, p)| e == "gtm.delete" && p.ends_with(&bob_handle)),
        "{log:?}"
    );

    // Converged: nothing more to do, and the no-op update is never sent.
    let after = gtm.observe(&target).await.expect("observe again");
    assert!(plan(&gtm, &target, &want, &after, Unmanaged::Remove).is_empty());
    assert_eq!(gtm_state(&emu).await["rateLimitRefusals"], 0);
}

#[tokio::test]
async fn an_unchanged_document_is_never_put() {
    let emu = start(&seed("{ requests: 25, window_seconds: 100 }")).await;
    let gtm = provider(&emu, "no-op-put", RateWindow::default());
    let target = target(&["GTM-AAAA111"]);
    let state = gtm.observe(&target).await.expect("observe");
    let carol = state
        .bindings
        .iter()
        .find(|b| b.email.as_deref() == Some("carol@example.com"))
        .unwrap()
        .clone();
    // The diff plans nothing for a live binding as wanted ...
    let want = desired(&[("carol@example.com", carol.access.clone())]);
    assert!(plan(&gtm, &target, &want, &state, Unmanaged::Keep).is_empty());
    // ... and an update that would change nothing is not sent either.
    clear_log(&emu).await;
    let noop = Change {
        kind: ChangeKind::Update,
        who: Who::Email("carol@example.com".to_owned()),
        from: Some(carol.access.clone()),
        to: Some(carol.access.clone()),
        handle: carol.handle.clone(),
        reason: "test".to_owned(),
    };
    let outcomes = apply(&gtm, &target, &[noop]).await;
    assert_eq!(outcomes, [Outcome::Done]);
    let log = endpoints(&emu).await;
    assert!(!log.iter().any(|(e, _)| e == "gtm.update"), "{log:?}");
}

#[tokio::test]
async fn the_limiter_keeps_the_project_under_the_window() {
    let emu = start(&seed("{ requests: 3, window_seconds: 2 }")).await;
    let rate = RateWindow {
        requests: 3,
        window: Duration::from_secs(2),
    };
    let gtm = provider(&emu, "small-window", rate);
    let target = target(&["GTM-AAAA111", "GTM-BBBB222"]);
    let state = gtm.observe(&target).await.expect("observe");
    let mut entries = Vec::new();
    for i in 0..8 {
        entries.push((
            format!("new{i}@example.com"),
            access("user", &[("GTM-AAAA111", "read")]),
        ));
    }
    let entries: Vec<(&str, Access)> = entries
        .iter()
        .map(|(e, a)| (e.as_str(), a.clone()))
        .collect();
    let want = desired(&entries);
    let changes = plan(&gtm, &target, &want, &state, Unmanaged::Keep);
    assert_eq!(changes.len(), 8);
    // 8 calls at 3 per 2 s: at least two more windows.
    let eta = gtm.eta(changes.len());
    assert!(eta >= Duration::from_secs(4), "{eta:?}");
    let outcomes = apply(&gtm, &target, &changes).await;
    assert!(outcomes.iter().all(|o| *o == Outcome::Done), "{outcomes:?}");
    let after = gtm.observe(&target).await.expect("observe again");
    assert!(plan(&gtm, &target, &want, &after, Unmanaged::Keep).is_empty());
    let state = gtm_state(&emu).await;
    assert_eq!(state["rateLimitRefusals"], 0, "{state}");
    assert_eq!(
        state["accounts"][0]["userPermissions"]
            .as_array()
            .unwrap()
            .len(),
        12
    );
}

#[tokio::test]
async fn the_emulator_refuses_beyond_the_window_with_rate_limit_exceeded() {
    let emu = start(&seed("{ requests: 2, window_seconds: 100 }")).await;
    let b = bearer(&emu.base_url(), "raw-calls");
    let token = b.token(&[scopes::GTM_USERS]).await.unwrap();
    let url = format!(
        "{}/tagmanager/v2/accounts/6000/user_permissions",
        emu.base_url()
    );
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    let mut last = Value::Null;
    for _ in 0..3 {
        let r = client
            .get(&url)
            .bearer_auth(token.expose())
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
        last = r.json().await.unwrap();
    }
    assert_eq!(statuses, [200, 200, 403]);
    assert_eq!(last["error"]["errors"][0]["reason"], "rateLimitExceeded");
    assert_eq!(gtm_state(&emu).await["rateLimitRefusals"], 1);
}

#[tokio::test]
async fn the_emulator_refuses_bad_documents() {
    let emu = start(&seed("{ requests: 25, window_seconds: 100 }")).await;
    let b = bearer(&emu.base_url(), "bad-documents");
    let token = b.token(&[scopes::GTM_USERS]).await.unwrap();
    let url = format!(
        "{}/tagmanager/v2/accounts/6000/user_permissions",
        emu.base_url()
    );
    let client = reqwest::Client::new();
    let post = |body: Value| {
        let (client, url, token) = (client.clone(), url.clone(), token.clone());
        async move {
            client
                .post(&url)
                .bearer_auth(token.expose())
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let doc = |account: &str, container: &str, perm: &str| {
        serde_json::json!({
            "emailAddress": "erin@example.com",
            "accountAccess": { "permission": account },
            "containerAccess": [{ "containerId": container, "permission": perm }],
        })
    };
    assert_eq!(post(doc("owner", "31", "read")).await, 400);
    assert_eq!(post(doc("user", "31", "manage")).await, 400);
    assert_eq!(post(doc("user", "99", "read")).await, 400);
    assert_eq!(post(doc("user", "GTM-AAAA111", "read")).await, 400);
    assert_eq!(post(doc("user", "31", "read")).await, 200);
    assert_eq!(post(doc("user", "31", "read")).await, 409);
}

/// Hands out tokens for `tagmanager.manage.users` only, whatever is asked.
struct UsersOnly(MintedBearer);

impl Bearer for UsersOnly {
    fn token<'a>(
        &'a self,
        _scopes: &'a [&'static str],
    ) -> BoxFuture<'a, Result<ApiKey, ProviderError>> {
        self.0.token(&[scopes::GTM_USERS])
    }
    fn client_email(&self) -> &str {
        self.0.client_email()
    }
    fn project_id(&self) -> &str {
        self.0.project_id()
    }
}

#[tokio::test]
async fn listing_containers_needs_the_readonly_scope() {
    let emu = start(&seed("{ requests: 25, window_seconds: 100 }")).await;
    let mut inner = MintedBearer::new(&emu.base_url());
    inner.project_id = "narrow-scope".to_owned();
    let gtm = GtmProvider::new(
        &emu.base_url(),
        Arc::new(UsersOnly(inner)),
        Duration::from_secs(10),
        RateWindow::default(),
    )
    .unwrap()
    .with_retry(quick_retry());
    let err = gtm.observe(&target(&[])).await.unwrap_err();
    assert!(err.message.contains(scopes::GTM_READONLY), "{err:?}");
    assert!(err.message.contains("insufficientPermissions"), "{err:?}");
}

#[tokio::test]
async fn a_caller_that_is_not_admin_is_told_so() {
    let emu = start(&seed("{ requests: 25, window_seconds: 100 }")).await;
    let mut b = MintedBearer::new(&emu.base_url());
    b.project_id = "not-admin".to_owned();
    b.client_email = "carol@example.com".to_owned();
    let gtm = GtmProvider::new(
        &emu.base_url(),
        Arc::new(b),
        Duration::from_secs(10),
        RateWindow::default(),
    )
    .unwrap()
    .with_retry(quick_retry());
    let err = gtm.observe(&target(&[])).await.unwrap_err();
    assert!(err.message.contains("403"), "{err:?}");
    assert!(err.hint.unwrap_or_default().contains("admin"));
}

#[tokio::test]
async fn injected_faults_are_errors_not_panics() {
    let emu = start(&seed("{ requests: 100, window_seconds: 100 }")).await;
    let gtm = provider(
        &emu,
        "faults",
        RateWindow {
            requests: 100,
            window: Duration::from_secs(100),
        },
    );
    let target = target(&["GTM-AAAA111"]);
    let client = reqwest::Client::new();
    let faults = |rules: Value| {
        let (client, base) = (client.clone(), emu.base_url());
        async move {
            let r = client
                .put(format!("{base}/_emulator/faults"))
                .json(&serde_json::json!({ "rules": rules }))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
    };
    // A permanent error (in Wix's error shape, not Google's).
    faults(serde_json::json!([{ "endpoint": "*", "status": 400 }])).await;
    let err = gtm.observe(&target).await.unwrap_err();
    assert!(err.message.contains("400"), "{err:?}");
    // Connections cut every time: retried, then an error.
    faults(serde_json::json!([{ "endpoint": "*", "drop": "before" }])).await;
    assert!(gtm.observe(&target).await.is_err());
    // A transient 503 once: retried and read.
    faults(serde_json::json!([{ "endpoint": "*", "status": 503, "times": 1 }])).await;
    let state = gtm.observe(&target).await.expect("retried");
    // A write whose answer is lost after it was done: not claimed done
    // blindly, not a panic.
    faults(serde_json::json!([{ "endpoint": "*", "drop": "after", "times": 1 }])).await;
    let want = desired(&[(
        "frank@example.com",
        access("user", &[("GTM-AAAA111", "read")]),
    )]);
    let changes = plan(&gtm, &target, &want, &state, Unmanaged::Keep);
    let outcomes = apply(&gtm, &target, &changes).await;
    // The create took effect; re-reading shows it.
    assert_eq!(outcomes, [Outcome::Done]);
    assert!(document(&emu, "frank@example.com").await.is_some());
    let creates = endpoints(&emu)
        .await
        .iter()
        .filter(|(e, _)| e == "gtm.create")
        .count();
    assert_eq!(creates, 1, "the create is not sent twice");
}

/// A server answering every request with `status` and `body`.
async fn hostile(status: u16, body: Vec<u8>) -> String {
    use axum::http::StatusCode;
    let status = StatusCode::from_u16(status).unwrap();
    let app = axum::Router::new().fallback(move || {
        let body = body.clone();
        async move { (status, body) }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

struct FixedBearer;

const TOKEN_TEXT: &str = "ya29.secret-token-text";

impl Bearer for FixedBearer {
    fn token<'a>(
        &'a self,
        _scopes: &'a [&'static str],
    ) -> BoxFuture<'a, Result<ApiKey, ProviderError>> {
        Box::pin(async { Ok(ApiKey::new(TOKEN_TEXT)) })
    }
    fn client_email(&self) -> &str {
        SA
    }
    fn project_id(&self) -> &str {
        "hostile"
    }
}

#[tokio::test]
async fn hostile_answers_are_errors_without_token_text() {
    let containers = br#"{"container":[{"containerId":"31","publicId":"GTM-AAAA111"}]}"#;
    let cases: Vec<(u16, Vec<u8>)> = vec![
        (200, b"not json at all {{{".to_vec()),
        (200, b"<html><body>Sign in</body></html>".to_vec()),
        (200, br#"{"container": "nope"}"#.to_vec()),
        (200, br#"{"container":[{"containerId":{"x":1}}]}"#.to_vec()),
        (200, br#"{"container":[{"containerId":"../../x"}]}"#.to_vec()),
        (200, vec![b' '; 5 * 1024 * 1024]),
        (200, br#"{"container":[],"nextPageToken":"same"}"#.to_vec()),
        (500, b"\x00\x01\xff garbage".to_vec()),
        // A containers page that also looks like a permissions page whose
        // document points outside the account.
        (
            200,
            br#"{"container":[],"userPermission":[{"path":"accounts/1/user_permissions/../../../x","emailAddress":"a@b.c"}]}"#
                .to_vec(),
        ),
        (200, containers.to_vec()),
    ];
    for (status, body) in cases {
        let base = hostile(status, body.clone()).await;
        let gtm = GtmProvider::new(
            &base,
            Arc::new(FixedBearer),
            Duration::from_secs(5),
            RateWindow {
                requests: 1000,
                window: Duration::from_secs(1),
            },
        )
        .unwrap()
        .with_retry(quick_retry());
        let target = target(&["GTM-AAAA111"]);
        let result = gtm.observe(&target).await;
        let shown = String::from_utf8_lossy(&body[..body.len().min(40)]).into_owned();
        match result {
            Err(e) => {
                assert!(!e.message.contains(TOKEN_TEXT), "{e:?}");
                assert!(!e.hint.unwrap_or_default().contains(TOKEN_TEXT));
            }
            // A well-formed containers page answering every call reads as
            // an account with no users: harmless.
            Ok(state) if body == containers => assert!(state.bindings.is_empty()),
            Ok(state) => panic!("{shown}: a hostile answer was accepted: {state:?}"),
        }
        // Writes against it fail or are unknown, never done and never a
        // panic.
        let change = Change {
            kind: ChangeKind::Update,
            who: Who::Email("a@example.com".to_owned()),
            from: Some(access("user", &[])),
            to: Some(access("admin", &[])),
            handle: Some("accounts/6000/user_permissions/1".to_owned()),
            reason: "test".to_owned(),
        };
        let outcomes = apply(&gtm, &target, &[change]).await;
        assert!(
            !matches!(outcomes[0], Outcome::Done),
            "{shown}: {outcomes:?}"
        );
        if let Outcome::Failed(m) | Outcome::Unknown(m) = &outcomes[0] {
            assert!(!m.contains(TOKEN_TEXT));
        }
    }
}

#[test]
fn base_urls_need_tls_unless_loopback() {
    let new = |base: &str| {
        GtmProvider::new(
            base,
            Arc::new(FixedBearer),
            Duration::from_secs(1),
            RateWindow::default(),
        )
        .map(|_| ())
    };
    assert!(new("https://tagmanager.googleapis.com").is_ok());
    assert!(new("http://127.0.0.1:9").is_ok());
    assert!(new("http://tagmanager.example.com").is_err());
}

#[tokio::test]
async fn a_rate_limit_refusal_anyway_is_waited_out_and_retried() {
    // The client believes it may send 6 per 2 s; the project allows 2.
    let emu = start(&seed("{ requests: 2, window_seconds: 2 }")).await;
    let gtm = provider(
        &emu,
        "optimistic-window",
        RateWindow {
            requests: 6,
            window: Duration::from_secs(2),
        },
    );
    let target = target(&["GTM-AAAA111"]);
    let state = gtm.observe(&target).await.expect("observe, retried");
    let want = desired(&[
        (
            "gina@example.com",
            access("user", &[("GTM-AAAA111", "read")]),
        ),
        ("hal@example.com", access("admin", &[])),
    ]);
    let changes = plan(&gtm, &target, &want, &state, Unmanaged::Keep);
    assert_eq!(changes.len(), 2);
    let outcomes = apply(&gtm, &target, &changes).await;
    assert_eq!(outcomes, [Outcome::Done, Outcome::Done]);
    let emulator = gtm_state(&emu).await;
    assert!(
        emulator["rateLimitRefusals"].as_u64().unwrap() > 0,
        "{emulator}"
    );
    let creates = endpoints(&emu)
        .await
        .iter()
        .filter(|(e, _)| e == "gtm.create")
        .count();
    // Refused creates are sent again; none is doubled.
    assert!(creates >= 2);
    assert_eq!(
        emulator["accounts"][0]["userPermissions"]
            .as_array()
            .unwrap()
            .len(),
        6
    );
}

/// A journal that cannot record stops the run after the change it could
/// not record: nothing more is written, the rest is skipped with its reason.
#[tokio::test]
async fn a_journal_that_cannot_record_stops_the_run() {
    use accessctl::platform::{Journal, Settled};
    struct Refusing;
    impl Journal for Refusing {
        fn settled(&self, _: &[Settled<'_>]) -> Result<(), String> {
            Err("cannot write the ledger".to_string())
        }
    }
    let emu = start(&seed("{ requests: 25, window_seconds: 100 }")).await;
    let gtm = provider(&emu, "stops", RateWindow::default());
    let target = target(&["GTM-AAAA111", "GTM-BBBB222"]);
    let state = gtm.observe(&target).await.expect("observe");
    let want = desired(&[
        (
            "dave@example.com",
            access("user", &[("GTM-AAAA111", "read")]),
        ),
        (
            "erin@example.com",
            access("user", &[("GTM-AAAA111", "read")]),
        ),
    ]);
    let changes = plan(&gtm, &target, &want, &state, Unmanaged::Keep);
    assert_eq!(changes.len(), 2, "{changes:?}");
    clear_log(&emu).await;
    let outcomes = gtm.apply(&target, &changes, &Refusing).await;
    assert_eq!(
        outcomes,
        [
            Outcome::Done,
            Outcome::Skipped("cannot write the ledger".to_string())
        ]
    );
    assert!(document(&emu, "dave@example.com").await.is_some());
    assert!(
        document(&emu, "erin@example.com").await.is_none(),
        "nothing written after the stop"
    );
}
