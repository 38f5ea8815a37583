//! The GA4 provider against the emulator over loopback (real reqwest
//! client, tokens minted by the emulator's control): observe → diff →
//! apply → observe converges, batch failures are isolated or re-read, the
//! daily deletion cap and quota answers skip what is left, pages are
//! followed, the read-only scope reads but cannot write, and hostile
//! answers are errors, not panics.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use accessctl::emulator::{self, RunningEmulator};
use accessctl::model::Unmanaged;
use accessctl::platform::diff::{Desired, diff};
use accessctl::platform::{
    Access, BoxFuture, Change, ChangeKind, Outcome, Platform, Provider, ProviderError, Target, Who,
};
use accessctl::providers::google::ga4::Ga4Provider;
use accessctl::providers::google::{Bearer, scopes};
use accessctl::providers::wix::retry::RetryPolicy;
use accessctl::secret::ApiKey;
use common::google::MintedBearer;
use serde_json::{Value, json};

const SA: &str = "accessctl@agency-project.iam.gserviceaccount.com";

async fn start(ga4: Value) -> RunningEmulator {
    accessctl::providers::wix::install_crypto_provider();
    let seed = json!({ "clock": "2026-11-15T10:00:00Z", "google": { "ga4": ga4 } });
    let seed = emulator::parse_seed(&seed.to_string()).expect("seed");
    emulator::spawn(seed, "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("emulator")
}

fn fast() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        base: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        max_retry_after: Duration::from_secs(2),
    }
}

fn provider_with(em: &RunningEmulator, bearer: Arc<dyn Bearer>) -> Ga4Provider {
    Ga4Provider::new(&em.base_url(), bearer, Duration::from_secs(10))
        .expect("provider")
        .with_retry(fast())
}

fn provider(em: &RunningEmulator) -> Ga4Provider {
    provider_with(em, Arc::new(MintedBearer::new(&em.base_url())))
}

fn target(id: &str) -> Target {
    Target {
        platform: Platform::Ga4,
        id: id.to_string(),
        credentials_env: None,
        managed_children: BTreeSet::new(),
    }
}

fn want(entries: &[(&str, &[&str])]) -> BTreeMap<Who, Desired> {
    entries
        .iter()
        .map(|(email, roles)| {
            (
                Who::Email(email.to_string()),
                Desired::new(
                    Access::roles(roles.iter().copied()),
                    format!("person {email}"),
                ),
            )
        })
        .collect()
}

async fn plan(
    p: &Ga4Provider,
    t: &Target,
    desired: &BTreeMap<Who, Desired>,
    unmanaged: Unmanaged,
) -> Vec<Change> {
    let state = p.observe(t).await.expect("observe");
    let d = diff(
        t,
        p.capabilities(),
        desired,
        &state,
        unmanaged,
        p.self_email(),
    );
    assert!(d.refused.is_empty(), "refused: {:?}", d.refused);
    d.changes
}

async fn apply(p: &Ga4Provider, t: &Target, changes: &[Change]) -> Vec<Outcome> {
    let heard = Mutex::new(Vec::new());
    let progress =
        |c: &Change, o: &Outcome| heard.lock().unwrap().push((c.who.to_string(), o.clone()));
    let outcomes = p.apply(t, changes, &progress).await;
    assert_eq!(outcomes.len(), changes.len());
    assert_eq!(
        heard.lock().unwrap().len(),
        changes.len(),
        "progress hears each"
    );
    outcomes
}

async fn control(em: &RunningEmulator) -> Vec<Value> {
    let v: Value = reqwest::get(format!("{}/_emulator/google/ga4", em.base_url()))
        .await
        .expect("control")
        .json()
        .await
        .expect("json");
    v["bindings"].as_array().cloned().unwrap_or_default()
}

async fn log(em: &RunningEmulator) -> Vec<Value> {
    let v: Value = reqwest::get(format!("{}/_emulator/log", em.base_url()))
        .await
        .expect("log")
        .json()
        .await
        .expect("json");
    v.as_array()
        .cloned()
        .or_else(|| v["entries"].as_array().cloned())
        .unwrap_or_default()
}

async fn calls(em: &RunningEmulator, endpoint: &str) -> usize {
    log(em)
        .await
        .iter()
        .filter(|e| e["endpoint"] == endpoint)
        .count()
}

async fn set_faults(em: &RunningEmulator, faults: Value) {
    let status = reqwest::Client::new()
        .put(format!("{}/_emulator/faults", em.base_url()))
        .json(&faults)
        .send()
        .await
        .expect("faults")
        .status();
    assert_eq!(status, 200);
}

fn admin_seed(extra: Vec<Value>) -> Value {
    let mut bindings = vec![json!({
        "parent": "accounts/100", "user": SA, "roles": ["predefinedRoles/admin"]
    })];
    bindings.extend(extra);
    json!({
        "accounts": [{ "id": "100", "properties": ["200"] }],
        "bindings": bindings,
        "not_google_accounts": ["nope@x.test"],
    })
}

fn b(parent: &str, user: &str, roles: &[&str]) -> Value {
    json!({ "parent": parent, "user": user, "roles": roles })
}

#[tokio::test]
async fn account_and_property_converge_separately() {
    let em = start(admin_seed(vec![
        b(
            "accounts/100",
            "carol@x.test",
            &["accounts/100/roles/custom-1"],
        ),
        b("accounts/100", "dave@x.test", &["predefinedRoles/viewer"]),
        b(
            "properties/200",
            "Alice@X.test",
            &["predefinedRoles/viewer"],
        ),
    ]))
    .await;
    let p = provider(&em);

    // Property: account-level bindings are not in its list.
    let prop = target("properties/200");
    let state = p.observe(&prop).await.expect("observe");
    let emails: Vec<_> = state
        .bindings
        .iter()
        .filter_map(|b| b.email.clone())
        .collect();
    assert_eq!(emails, ["alice@x.test"]);

    let prop_want = want(&[
        ("alice@x.test", &["viewer", "no-cost-data"]),
        ("erin@x.test", &["analyst"]),
    ]);
    let changes = plan(&p, &prop, &prop_want, Unmanaged::Remove).await;
    assert_eq!(changes.len(), 2, "{changes:?}");
    let outcomes = apply(&p, &prop, &changes).await;
    assert!(outcomes.iter().all(|o| *o == Outcome::Done), "{outcomes:?}");
    assert!(
        plan(&p, &prop, &prop_want, Unmanaged::Remove)
            .await
            .is_empty()
    );

    // Account: a custom role is seen verbatim, so the diff replaces it.
    let acct = target("accounts/100");
    let state = p.observe(&acct).await.expect("observe");
    let carol = state
        .bindings
        .iter()
        .find(|b| b.email.as_deref() == Some("carol@x.test"))
        .expect("carol");
    assert_eq!(carol.access, Access::roles(["accounts/100/roles/custom-1"]));

    let acct_want = want(&[("bob@x.test", &["editor"]), ("carol@x.test", &["viewer"])]);
    let changes = plan(&p, &acct, &acct_want, Unmanaged::Remove).await;
    let kinds: Vec<_> = changes
        .iter()
        .map(|c| (c.kind, c.who.email().unwrap_or_default()))
        .collect();
    assert_eq!(
        kinds,
        [
            (ChangeKind::Add, "bob@x.test"),
            (ChangeKind::Update, "carol@x.test"),
            (ChangeKind::Remove, "dave@x.test"),
        ]
    );
    let outcomes = apply(&p, &acct, &changes).await;
    assert!(outcomes.iter().all(|o| *o == Outcome::Done), "{outcomes:?}");
    assert!(
        plan(&p, &acct, &acct_want, Unmanaged::Remove)
            .await
            .is_empty()
    );
    // The property still holds only its own bindings.
    assert!(
        plan(&p, &prop, &prop_want, Unmanaged::Remove)
            .await
            .is_empty()
    );

    let all = control(&em).await;
    assert_eq!(all.len(), 5, "{all:#?}");
    assert!(all.iter().any(|b| b["user"] == "bob@x.test"
        && b["parent"] == "accounts/100"
        && b["roles"] == json!(["predefinedRoles/editor"])));
    assert_eq!(calls(&em, "ga4.batchCreate").await, 2);
    assert_eq!(calls(&em, "ga4.batchUpdate").await, 2);
    assert_eq!(calls(&em, "ga4.batchDelete").await, 1);
}

#[tokio::test]
async fn emails_compare_lower_cased() {
    let em = start(admin_seed(vec![b(
        "properties/200",
        "Alice@X.test",
        &["predefinedRoles/viewer"],
    )]))
    .await;
    let p = provider(&em);
    let changes = plan(
        &p,
        &target("properties/200"),
        &want(&[("alice@x.test", &["viewer"])]),
        Unmanaged::Remove,
    )
    .await;
    assert!(changes.is_empty(), "{changes:?}");
}

#[tokio::test]
async fn a_bad_email_fails_alone_after_the_batch_is_refused() {
    let em = start(admin_seed(vec![])).await;
    let p = provider(&em);
    let t = target("properties/200");
    let desired = want(&[
        ("a@x.test", &["viewer"]),
        ("nope@x.test", &["viewer"]),
        ("z@x.test", &["analyst"]),
    ]);
    let changes = plan(&p, &t, &desired, Unmanaged::Keep).await;
    let outcomes = apply(&p, &t, &changes).await;
    for (c, o) in changes.iter().zip(&outcomes) {
        if c.who.is_email("nope@x.test") {
            match o {
                Outcome::Failed(m) => {
                    assert!(
                        m.contains("nope@x.test") && m.contains("not a Google Account"),
                        "{m}"
                    )
                }
                other => panic!("nope: {other:?}"),
            }
        } else {
            assert_eq!(*o, Outcome::Done, "{}", c.who);
        }
    }
    assert_eq!(calls(&em, "ga4.batchCreate").await, 1);
    assert_eq!(calls(&em, "ga4.create").await, 3);
    let left = plan(&p, &t, &desired, Unmanaged::Keep).await;
    assert_eq!(left.len(), 1);
    assert!(left[0].who.is_email("nope@x.test"));
}

#[tokio::test]
async fn a_partial_batch_update_is_read_again_and_finished() {
    let em = start(admin_seed(vec![
        b("properties/200", "a@x.test", &["predefinedRoles/viewer"]),
        b("properties/200", "b@x.test", &["predefinedRoles/viewer"]),
        b("properties/200", "c@x.test", &["predefinedRoles/viewer"]),
    ]))
    .await;
    let p = provider(&em);
    let t = target("properties/200");
    let desired = want(&[
        ("a@x.test", &["editor"]),
        ("b@x.test", &["editor"]),
        ("c@x.test", &["editor"]),
    ]);
    let changes = plan(&p, &t, &desired, Unmanaged::Keep).await;
    assert_eq!(changes.len(), 3);

    // b's binding goes behind the plan's back: the batch stops at it,
    // after a's update took effect (batchUpdate is not transactional).
    let gone = changes[1].handle.clone().expect("handle");
    let token = MintedBearer::new(&em.base_url())
        .token(&[scopes::GA4_WRITE])
        .await
        .expect("token");
    let status = reqwest::Client::new()
        .delete(format!("{}/v1alpha/{gone}", em.base_url()))
        .bearer_auth(token.expose())
        .send()
        .await
        .expect("delete")
        .status();
    assert_eq!(status, 200);

    let outcomes = apply(&p, &t, &changes).await;
    assert_eq!(outcomes[0], Outcome::Done);
    assert!(
        matches!(&outcomes[1], Outcome::Failed(m) if m.contains("404")),
        "{outcomes:?}"
    );
    assert_eq!(outcomes[2], Outcome::Done);
    assert_eq!(calls(&em, "ga4.batchUpdate").await, 1);
    // Only c was still to do: a was seen done in the re-read.
    assert_eq!(calls(&em, "ga4.patch").await, 2);
    let left = plan(&p, &t, &desired, Unmanaged::Keep).await;
    assert_eq!(left.len(), 1);
    assert_eq!(
        (left[0].kind, left[0].who.email().unwrap_or_default()),
        (ChangeKind::Add, "b@x.test")
    );
}

#[tokio::test]
async fn a_batch_update_error_after_it_took_effect_is_settled_by_reading() {
    let em = start(admin_seed(vec![
        b("properties/200", "a@x.test", &["predefinedRoles/viewer"]),
        b("properties/200", "b@x.test", &["predefinedRoles/viewer"]),
    ]))
    .await;
    set_faults(
        &em,
        json!({ "rules": [
            { "endpoint": "ga4.batchUpdate", "status": 400, "when": "after", "times": 1 }
        ]}),
    )
    .await;
    let p = provider(&em);
    let t = target("properties/200");
    let desired = want(&[("a@x.test", &["analyst"]), ("b@x.test", &["editor"])]);
    let changes = plan(&p, &t, &desired, Unmanaged::Keep).await;
    let outcomes = apply(&p, &t, &changes).await;
    assert_eq!(outcomes, [Outcome::Done, Outcome::Done]);
    assert_eq!(
        calls(&em, "ga4.patch").await,
        0,
        "both seen done when read again"
    );
    assert!(plan(&p, &t, &desired, Unmanaged::Keep).await.is_empty());
}

#[tokio::test]
async fn removals_past_the_daily_cap_are_skipped() {
    let extra = (0..501)
        .map(|i| {
            b(
                "properties/200",
                &format!("u{i:03}@x.test"),
                &["predefinedRoles/viewer"],
            )
        })
        .collect();
    let em = start(admin_seed(extra)).await;
    let p = provider(&em);
    let t = target("properties/200");
    let changes = plan(&p, &t, &BTreeMap::new(), Unmanaged::Remove).await;
    assert_eq!(changes.len(), 501);
    let outcomes = apply(&p, &t, &changes).await;
    let done = outcomes.iter().filter(|o| **o == Outcome::Done).count();
    let skipped: Vec<_> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Skipped(m) => Some(m.clone()),
            _ => None,
        })
        .collect();
    assert_eq!((done, skipped.len()), (500, 1), "{skipped:?}");
    assert!(
        skipped[0].contains("500") && skipped[0].contains("next run"),
        "{}",
        skipped[0]
    );
    assert_eq!(control(&em).await.len(), 2, "the admin and one left");
}

#[tokio::test]
async fn a_quota_answer_mid_batch_skips_the_rest() {
    let mut seed = admin_seed(
        (0..5)
            .map(|i| {
                b(
                    "properties/200",
                    &format!("u{i}@x.test"),
                    &["predefinedRoles/viewer"],
                )
            })
            .collect(),
    );
    seed["deletions_per_day"] = json!(3);
    let em = start(seed).await;
    let p = provider(&em);
    let t = target("properties/200");
    let changes = plan(&p, &t, &BTreeMap::new(), Unmanaged::Remove).await;
    assert_eq!(changes.len(), 5);
    let outcomes = apply(&p, &t, &changes).await;
    let done = outcomes.iter().filter(|o| **o == Outcome::Done).count();
    assert_eq!(done, 3, "{outcomes:?}");
    for o in outcomes.iter().filter(|o| **o != Outcome::Done) {
        assert!(
            matches!(o, Outcome::Skipped(m) if m.contains("quota") && m.contains("500")),
            "{o:?}"
        );
    }
    // A daily quota is not retried.
    assert_eq!(calls(&em, "ga4.batchDelete").await, 1);
    assert_eq!(calls(&em, "ga4.delete").await, 0);
}

#[tokio::test]
async fn more_than_a_page_is_followed() {
    let extra = (0..1203)
        .map(|i| {
            b(
                "properties/200",
                &format!("p{i:04}@x.test"),
                &["predefinedRoles/viewer"],
            )
        })
        .collect();
    let em = start(admin_seed(extra)).await;
    let p = provider(&em);
    let state = p.observe(&target("properties/200")).await.expect("observe");
    assert_eq!(state.bindings.len(), 1203);
    let distinct: BTreeSet<_> = state.bindings.iter().map(|b| b.email.clone()).collect();
    assert_eq!(distinct.len(), 1203);
    assert_eq!(calls(&em, "ga4.list").await, 3);
}

/// Mints tokens with at most the `allowed` scopes and records what was asked.
struct Restricted {
    inner: MintedBearer,
    allowed: Vec<&'static str>,
    asked: Mutex<Vec<Vec<&'static str>>>,
}

impl Bearer for Restricted {
    fn token<'a>(
        &'a self,
        scopes: &'a [&'static str],
    ) -> BoxFuture<'a, Result<ApiKey, ProviderError>> {
        self.asked.lock().unwrap().push(scopes.to_vec());
        Box::pin(async move {
            let granted: Vec<&'static str> = scopes
                .iter()
                .copied()
                .filter(|s| self.allowed.contains(s))
                .collect();
            self.inner.token(&granted).await
        })
    }

    fn client_email(&self) -> &str {
        self.inner.client_email()
    }

    fn project_id(&self) -> &str {
        self.inner.project_id()
    }
}

#[tokio::test]
async fn reading_takes_only_the_read_only_scope_and_writing_needs_more() {
    let em = start(admin_seed(vec![b(
        "properties/200",
        "a@x.test",
        &["predefinedRoles/viewer"],
    )]))
    .await;
    let bearer = Arc::new(Restricted {
        inner: MintedBearer::new(&em.base_url()),
        allowed: vec![scopes::GA4_READ],
        asked: Mutex::new(Vec::new()),
    });
    let p = provider_with(&em, bearer.clone());
    let t = target("properties/200");
    let changes = plan(&p, &t, &want(&[("b@x.test", &["viewer"])]), Unmanaged::Keep).await;
    assert!(
        bearer
            .asked
            .lock()
            .unwrap()
            .iter()
            .all(|s| *s == [scopes::GA4_READ]),
        "observe asks for the read-only scope only"
    );
    let outcomes = apply(&p, &t, &changes).await;
    match &outcomes[0] {
        Outcome::Failed(m) => {
            assert!(m.contains("403") && m.contains("scope"), "{m}");
            assert!(!m.contains("ya29"), "no token text: {m}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_caller_without_admin_is_refused() {
    let em = start(json!({
        "accounts": [{ "id": "100", "properties": ["200"] }],
        "bindings": [b("properties/200", SA, &["predefinedRoles/editor"])],
    }))
    .await;
    let p = provider(&em);
    let e = p
        .observe(&target("properties/200"))
        .await
        .expect_err("no admin");
    assert!(
        e.message.contains("403") && e.message.contains("admin"),
        "{}",
        e.message
    );
}

/// A bearer that hands out one fixed token (for the hostile server).
struct Fixed;

impl Bearer for Fixed {
    fn token<'a>(&'a self, _: &'a [&'static str]) -> BoxFuture<'a, Result<ApiKey, ProviderError>> {
        Box::pin(async { Ok(ApiKey::new("ya29.secret-token-text")) })
    }
    fn client_email(&self) -> &str {
        SA
    }
    fn project_id(&self) -> &str {
        "agency-project"
    }
}

/// A server that answers every request with `answer` and closes.
async fn hostile(answer: Vec<u8>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let _ = sock.read(&mut buf).await;
                let _ = sock.write_all(&answer).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn hostile_answers_are_errors_not_panics() {
    let huge_len = 9 * 1024 * 1024;
    let mut huge = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{\"accessBindings\":[".to_vec();
    huge.resize(huge.len() + huge_len, b' ');
    let answers: Vec<(Vec<u8>, &str)> = vec![
        (
            b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\nconnection: close\r\n\r\n{garbage!".to_vec(),
            "unexpected response",
        ),
        (
            b"HTTP/1.1 200 OK\r\ncontent-length: 27\r\nconnection: close\r\n\r\n{\"accessBindings\": \"nope\"}\n"
                .to_vec(),
            "unexpected response",
        ),
        (huge, "larger than"),
        (
            format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                u64::MAX / 2
            )
            .into_bytes(),
            "larger than",
        ),
        (
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 5\r\nconnection: close\r\n\r\n\xff\xfe\x00[["
                .to_vec(),
            "HTTP 400",
        ),
    ];
    for (answer, says) in answers {
        let base = hostile(answer).await;
        let p = Ga4Provider::new(&base, Arc::new(Fixed), Duration::from_secs(5))
            .expect("provider")
            .with_retry(fast());
        let e = p
            .observe(&target("properties/200"))
            .await
            .expect_err("hostile answer");
        assert!(e.message.contains(says), "{says}: {}", e.message);
        assert!(!e.message.contains("secret-token-text"), "{}", e.message);
    }
}

#[tokio::test]
async fn bad_targets_and_bases_are_refused() {
    assert!(
        Ga4Provider::new(
            "http://example.com",
            Arc::new(Fixed),
            Duration::from_secs(1)
        )
        .is_err()
    );
    let em = start(admin_seed(vec![])).await;
    let p = provider(&em);
    let e = p
        .observe(&target("containers/1"))
        .await
        .expect_err("bad id");
    assert!(e.message.contains("accounts/NUMBER"), "{}", e.message);
}

#[tokio::test]
async fn only_safe_calls_are_repeated_after_an_error() {
    let em = start(admin_seed(vec![b(
        "properties/200",
        "a@x.test",
        &["predefinedRoles/viewer"],
    )]))
    .await;
    set_faults(
        &em,
        json!({ "rules": [
            // A read is repeated after a 503.
            { "endpoint": "ga4.list", "status": 503, "times": 1 },
            // A create is repeated after a 429 (Google did not act) ...
            { "endpoint": "ga4.batchCreate", "status": 429, "times": 1 },
            // ... but not after a 500 or a dropped answer: the target is
            // read again instead and what was done is not done twice.
            { "endpoint": "ga4.batchCreate", "status": 500, "when": "after", "times": 1 },
            { "endpoint": "ga4.batchDelete", "drop": "after", "times": 1 },
        ]}),
    )
    .await;
    let p = provider(&em);
    let t = target("properties/200");
    let desired = want(&[("b@x.test", &["viewer"])]);
    let changes = plan(&p, &t, &desired, Unmanaged::Remove).await;
    assert_eq!(calls(&em, "ga4.list").await, 2);
    assert_eq!(changes.len(), 2, "{changes:?}");
    let outcomes = apply(&p, &t, &changes).await;
    assert_eq!(outcomes, [Outcome::Done, Outcome::Done]);
    // 429, then 500-after-creating; then a read settles it.
    assert_eq!(calls(&em, "ga4.batchCreate").await, 2);
    assert_eq!(calls(&em, "ga4.create").await, 0);
    assert_eq!(calls(&em, "ga4.batchDelete").await, 1);
    assert_eq!(calls(&em, "ga4.delete").await, 0);
    assert!(plan(&p, &t, &desired, Unmanaged::Remove).await.is_empty());
}

/// A journal that cannot record stops the run: what is not yet sent is
/// skipped with its reason, and no further batch goes out.
#[tokio::test]
async fn a_journal_that_cannot_record_stops_the_run() {
    use accessctl::platform::{Journal, Settled};
    struct Refusing(Mutex<Vec<Outcome>>);
    impl Journal for Refusing {
        fn settled(&self, results: &[Settled<'_>]) -> Result<(), String> {
            let mut heard = self.0.lock().unwrap();
            heard.extend(results.iter().map(|r| r.outcome.clone()));
            Err("cannot write the ledger".to_string())
        }
    }
    let em = start(admin_seed(vec![b(
        "properties/200",
        "dave@x.test",
        &["predefinedRoles/viewer"],
    )]))
    .await;
    let p = provider(&em);
    let prop = target("properties/200");
    let changes = plan(
        &p,
        &prop,
        &want(&[("erin@x.test", &["analyst"])]),
        Unmanaged::Remove,
    )
    .await;
    let kinds: Vec<ChangeKind> = changes.iter().map(|c| c.kind).collect();
    assert_eq!(kinds, [ChangeKind::Add, ChangeKind::Remove]);
    let journal = Refusing(Mutex::default());
    let outcomes = p.apply(&prop, &changes, &journal).await;
    assert_eq!(
        outcomes,
        [
            Outcome::Done,
            Outcome::Skipped("cannot write the ledger".to_string())
        ]
    );
    assert_eq!(
        journal.0.lock().unwrap().clone(),
        outcomes,
        "every outcome told"
    );
    assert_eq!(calls(&em, "ga4.batchCreate").await, 1);
    assert_eq!(
        calls(&em, "ga4.batchDelete").await,
        0,
        "nothing sent after the stop"
    );
    let users: Vec<Value> = control(&em)
        .await
        .iter()
        .map(|b| b["user"].clone())
        .collect();
    assert!(users.contains(&json!("dave@x.test")), "{users:?}");
}
