//! Google service-account credentials against the emulator, over loopback
//! with the real HTTP client: the JWT-bearer exchange at the key file's
//! `token_uri`, the token cache, refresh, and what happens when a key file,
//! an assertion or a token endpoint is hostile. No secret text (private key,
//! assertion, token) may appear in any `Debug` or error.
//!
//! `tests/fixtures/google/unknown-key.pem` is a second RSA key the emulator
//! does not know (test-only, public).

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use accessctl::emulator::{self, RunningEmulator};
use accessctl::providers::google::auth::ServiceAccount;
use accessctl::providers::google::{Bearer, scopes};
use accessctl::secret::ApiKey;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::google::{self as g, EMULATOR_CLIENT_EMAIL};
use serde_json::{Value, json};

const UNKNOWN_KEY: &str = include_str!("fixtures/google/unknown-key.pem");

struct World {
    emulator: RunningEmulator,
    dir: tempfile::TempDir,
}

impl World {
    async fn new(lifetime: Option<u64>) -> Self {
        let seed = json!({ "google": g::seed_block(lifetime) });
        let seed = emulator::parse_seed(&seed.to_string()).expect("valid seed");
        let emulator = emulator::spawn(seed, ([127, 0, 0, 1], 0).into())
            .await
            .expect("emulator starts");
        World {
            emulator,
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn base(&self) -> String {
        self.emulator.base_url()
    }

    fn account(&self) -> ServiceAccount {
        let path = g::key_file(self.dir.path(), &self.base());
        ServiceAccount::from_file(&path).expect("the emulator key file loads")
    }

    /// A key file from the emulator's, changed by `edit`.
    fn key_file_with(&self, name: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
        let mut key = g::key_json(&self.base());
        edit(&mut key);
        let path = self.dir.path().join(name);
        std::fs::write(&path, key.to_string()).expect("write");
        path
    }

    /// The token endpoint requests the emulator logged.
    async fn token_requests(&self) -> Vec<Value> {
        let log: Vec<Value> = common::reqwest_client()
            .get(format!("{}/_emulator/log", self.base()))
            .send()
            .await
            .expect("log")
            .json()
            .await
            .expect("log JSON");
        log.into_iter()
            .filter(|e| e["endpoint"] == "google.token")
            .collect()
    }

    /// Whom `token` stands for, checked by the emulator's `authorize` for
    /// `scope`: (status, body).
    async fn whoami(&self, token: &ApiKey, scope: &str) -> (u16, Value) {
        let response = common::reqwest_client()
            .get(format!("{}/_emulator/google/whoami", self.base()))
            .query(&[("scope", scope)])
            .bearer_auth(token.expose())
            .send()
            .await
            .expect("whoami");
        let status = response.status().as_u16();
        (status, response.json().await.expect("whoami JSON"))
    }

    /// POST a raw token request; (status, body).
    async fn post_token(&self, body: String) -> (u16, Value) {
        let response = common::reqwest_client()
            .post(format!("{}/token", self.base()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("token request");
        let status = response.status().as_u16();
        (status, response.json().await.expect("token JSON"))
    }
}

/// The base64 lines of a PEM block: any one of them in output is a leak.
fn pem_lines(pem: &str) -> Vec<String> {
    pem.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----"))
        .map(str::to_string)
        .collect()
}

fn emulator_private_key() -> String {
    let key: Value = serde_json::from_str(g::EMULATOR_KEY_FILE).unwrap();
    key["private_key"].as_str().unwrap().to_string()
}

/// `text` holds no private key line, no assertion, no token.
fn assert_clean(text: &str, tokens: &[&ApiKey]) {
    for line in pem_lines(&emulator_private_key())
        .iter()
        .chain(pem_lines(UNKNOWN_KEY).iter())
    {
        assert!(!text.contains(line.as_str()), "private key text in: {text}");
    }
    assert!(!text.contains("PRIVATE KEY"), "PEM in: {text}");
    assert!(!text.contains("eyJ"), "a JWT in: {text}");
    assert!(!text.contains("ya29."), "a token in: {text}");
    for token in tokens {
        assert!(!text.contains(token.expose()), "token text in: {text}");
    }
}

/// An RS256 JWT signed with `pem` (PKCS#8), as an attacker would build one.
fn jwt(pem: &str, header: &Value, claims: &Value) -> String {
    let body: String = pem_lines(pem).concat();
    let der = STANDARD.decode(body).unwrap();
    let pair = ring::signature::RsaKeyPair::from_pkcs8(&der).unwrap();
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut sig = vec![0; pair.public().modulus_len()];
    pair.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn now() -> u64 {
    common::google::assertion_clock()
}

fn claims(base: &str) -> Value {
    json!({
        "iss": EMULATOR_CLIENT_EMAIL,
        "scope": scopes::GA4_READ,
        "aud": format!("{base}/token"),
        "iat": now(),
        "exp": now() + 3600,
    })
}

fn grant(assertion: &str) -> String {
    format!(
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={assertion}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exchange_issues_a_token_the_emulator_accepts_for_its_scopes_only() {
    let w = World::new(None).await;
    let account = w.account();
    assert_eq!(account.client_email(), EMULATOR_CLIENT_EMAIL);
    assert_eq!(account.project_id(), g::EMULATOR_PROJECT_ID);

    let token = account.token(&[scopes::GA4_READ]).await.expect("token");
    let (status, who) = w.whoami(&token, scopes::GA4_READ).await;
    assert_eq!(status, 200, "{who}");
    assert_eq!(who["clientEmail"], EMULATOR_CLIENT_EMAIL);
    assert_eq!(who["projectId"], g::EMULATOR_PROJECT_ID);
    assert_eq!(who["scopes"], json!([scopes::GA4_READ]));
    // The token carries the scopes asked for, nothing more.
    let (status, _) = w.whoami(&token, scopes::GA4_WRITE).await;
    assert_eq!(status, 403);

    let requests = w.token_requests().await;
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0]["method"], "POST");
    assert_eq!(requests[0]["status"], 200);
    // The log keeps the grant type, never the assertion.
    let body = &requests[0]["requestBody"];
    assert_eq!(body["assertion"], "[redacted]", "{body}");
    assert!(body["grant_type"].as_str().unwrap().contains("jwt-bearer"));
    assert_clean(&serde_json::to_string(&requests).unwrap(), &[&token]);
    assert_clean(&format!("{account:?} {token:?} {token}"), &[&token]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scope_set_is_exchanged_once_and_cached_also_under_concurrency() {
    let w = World::new(None).await;
    let account = w.account();
    let first = account
        .token(&[scopes::GTM_USERS, scopes::GTM_READONLY])
        .await
        .unwrap();
    // Same set in another order, with a repeat: the cached token.
    let again = account
        .token(&[scopes::GTM_READONLY, scopes::GTM_USERS, scopes::GTM_USERS])
        .await
        .unwrap();
    assert_eq!(first, again);
    assert_eq!(w.token_requests().await.len(), 1);

    // Callers at once for a new set: one exchange between them.
    let t = || account.token(&[scopes::GA4_WRITE]);
    let (a, b, c, d, e) = tokio::join!(t(), t(), t(), t(), t());
    let tokens = [a.unwrap(), b.unwrap(), c.unwrap(), d.unwrap(), e.unwrap()];
    assert!(tokens.windows(2).all(|w| w[0] == w[1]));
    assert_ne!(tokens[0], first, "another scope set, another token");
    assert_eq!(w.token_requests().await.len(), 2);

    let (status, _) = w.whoami(&tokens[0], scopes::GA4_WRITE).await;
    assert_eq!(status, 200);
    let (status, _) = w.whoami(&first, scopes::GA4_WRITE).await;
    assert_eq!(status, 403, "the GTM token has no GA4 scope");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_exchanged_again_before_it_expires_and_expired_tokens_are_refused() {
    let w = World::new(Some(2)).await;
    let account = w.account();
    let first = account.token(&[scopes::GA4_READ]).await.unwrap();
    let cached = account.token(&[scopes::GA4_READ]).await.unwrap();
    assert_eq!(first, cached);
    assert_eq!(w.token_requests().await.len(), 1);

    // Refreshed half-way through a 2 s lifetime.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let second = account.token(&[scopes::GA4_READ]).await.unwrap();
    assert_ne!(first, second);
    assert_eq!(w.token_requests().await.len(), 2);
    assert_eq!(w.whoami(&second, scopes::GA4_READ).await.0, 200);

    // The first token is past its lifetime now: the emulator refuses it.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let (status, body) = w.whoami(&first, scopes::GA4_READ).await;
    assert_eq!(status, 401, "{body}");
}

/// The error a key file gets from the emulator's token endpoint.
async fn refusal(account: &ServiceAccount) -> String {
    let e = account
        .token(&[scopes::GA4_READ])
        .await
        .expect_err("the token endpoint refuses");
    let text = format!("{e:?} {e}");
    assert_clean(&text, &[]);
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_the_emulator_does_not_know_is_refused() {
    let w = World::new(None).await;
    // An attacker's own key, claiming to be the known service account.
    let forged = w.key_file_with("forged.json", |k| k["private_key"] = json!(UNKNOWN_KEY));
    let account = ServiceAccount::from_file(&forged).unwrap();
    let text = refusal(&account).await;
    assert!(text.contains("HTTP 400"), "{text}");
    assert!(
        text.contains("invalid_grant: Invalid JWT Signature."),
        "{text}"
    );
    assert!(
        text.contains("clock"),
        "the hint names the likely causes: {text}"
    );

    // A service account the emulator has never heard of.
    let stranger = w.key_file_with("stranger.json", |k| {
        k["client_email"] = json!("intruder@elsewhere.iam.gserviceaccount.com");
        k["private_key"] = json!(UNKNOWN_KEY);
    });
    let text = refusal(&ServiceAccount::from_file(&stranger).unwrap()).await;
    assert!(text.contains("account not found"), "{text}");

    let requests = w.token_requests().await;
    assert_eq!(requests.len(), 2);
    assert!(requests.iter().all(|r| r["status"] == 400));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_replayed_assertions_are_refused_without_echo() {
    let w = World::new(None).await;
    let key = emulator_private_key();
    let header = json!({ "alg": "RS256", "typ": "JWT" });
    let good = jwt(&key, &header, &claims(&w.base()));
    assert_eq!(w.post_token(grant(&good)).await.0, 200, "the control works");

    let mut cases: Vec<(&str, String, &str)> = Vec::new();
    // A flipped bit in the signature.
    let (input, sig) = good.rsplit_once('.').unwrap();
    let mut raw = URL_SAFE_NO_PAD.decode(sig).unwrap();
    raw[10] ^= 1;
    cases.push((
        "tampered signature",
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(raw)),
        "Invalid JWT Signature.",
    ));
    // Scopes widened after signing.
    let mut widened = claims(&w.base());
    widened["scope"] = json!(format!("{} {}", scopes::GA4_READ, scopes::GA4_WRITE));
    let (h, _) = good.split_once('.').unwrap();
    cases.push((
        "claims swapped under a valid signature",
        format!(
            "{h}.{}.{}",
            URL_SAFE_NO_PAD.encode(widened.to_string()),
            sig
        ),
        "Invalid JWT Signature.",
    ));
    // `alg: none`, no signature.
    cases.push((
        "alg none",
        format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(json!({"alg": "none"}).to_string()),
            URL_SAFE_NO_PAD.encode(claims(&w.base()).to_string())
        ),
        "RS256",
    ));
    // An assertion made for Google, replayed here.
    let mut for_google = claims(&w.base());
    for_google["aud"] = json!("https://oauth2.googleapis.com/token");
    cases.push((
        "wrong aud",
        jwt(&key, &header, &for_google),
        "Failed audience check",
    ));
    // Another host's /token.
    let mut other_host = claims(&w.base());
    other_host["aud"] = json!("http://127.0.0.2:1/token");
    cases.push((
        "aud of another host",
        jwt(&key, &header, &other_host),
        "Failed audience check",
    ));
    // Expired, and longer than an hour.
    let mut expired = claims(&w.base());
    expired["iat"] = json!(now() - 7200);
    expired["exp"] = json!(now() - 3600);
    cases.push(("expired", jwt(&key, &header, &expired), "short-lived"));
    let mut long = claims(&w.base());
    long["exp"] = json!(now() + 86_400);
    cases.push(("a day long", jwt(&key, &header, &long), "short-lived"));
    // No scope.
    let mut no_scope = claims(&w.base());
    no_scope["scope"] = json!("");
    cases.push((
        "no scope",
        jwt(&key, &header, &no_scope),
        "Invalid OAuth scope",
    ));
    cases.push(("garbage", "not.a.jwt".to_string(), "malformed"));
    cases.push(("huge", "A".repeat(100_000), "malformed"));

    for (name, assertion, expected) in cases {
        let (status, body) = w.post_token(grant(&assertion)).await;
        assert_eq!(status, 400, "{name}: {body}");
        let text = body.to_string();
        assert!(
            text.contains(expected),
            "{name}: expected {expected:?} in {text}"
        );
        assert!(
            body["error"].is_string(),
            "{name}: OAuth's error shape: {text}"
        );
        // Nothing of what was sent comes back.
        assert!(
            !text.contains("eyJ") && !text.contains("AAAAAAAAAA"),
            "{name}: {text}"
        );
    }

    // Not the JWT-bearer grant, or no assertion.
    let (status, body) = w
        .post_token(format!("grant_type=client_credentials&assertion={good}"))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    let (status, body) = w.post_token(grant("")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
}

/// Loading `path` fails; the error text (checked clean).
fn load_error(path: &Path) -> String {
    let e = ServiceAccount::from_file(path).expect_err("refused");
    let text = format!("{e:?} {e}");
    assert_clean(&text, &[]);
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_or_device_in_place_of_the_key_file_is_refused_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("key.json");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(&fifo, &link).unwrap();
    for path in [fifo, link] {
        // Nobody ever writes to the FIFO: opening it for reading would block.
        let text = tokio::time::timeout(
            Duration::from_secs(10),
            tokio::task::spawn_blocking(move || load_error(&path)),
        )
        .await
        .expect("does not hang")
        .unwrap();
        assert!(
            text.contains("a FIFO (named pipe), not a regular file"),
            "{text}"
        );
    }
    let text = load_error(Path::new("/dev/zero"));
    assert!(text.contains("a device, not a regular file"), "{text}");
    let text = load_error(dir.path());
    assert!(text.contains("a directory"), "{text}");
    let text = load_error(&dir.path().join("missing.json"));
    assert!(text.contains("does not exist"), "{text}");
}

#[test]
fn an_oversized_or_malformed_key_file_is_refused_without_quoting_it() {
    let dir = tempfile::tempdir().unwrap();
    let real = g::key_json("http://127.0.0.1:1");

    // A valid key file padded past the cap.
    let big = dir.path().join("big.json");
    std::fs::write(&big, format!("{}{}", real, " ".repeat(70 * 1024))).unwrap();
    let text = load_error(&big);
    assert!(text.contains("larger than 64 KiB"), "{text}");

    // The private key saved on its own instead of the key file.
    let pem = dir.path().join("pem.json");
    std::fs::write(&pem, emulator_private_key()).unwrap();
    let text = load_error(&pem);
    assert!(text.contains("is not valid JSON (line 1, column"), "{text}");

    // The key truncated mid-string: JSON ends inside the key.
    let cut = dir.path().join("cut.json");
    let full = real.to_string();
    std::fs::write(&cut, &full[..full.find("PRIVATE KEY-----").unwrap() + 200]).unwrap();
    let text = load_error(&cut);
    assert!(text.contains("ends early"), "{text}");

    // The key where a string belongs elsewhere: serde would quote it.
    let typed = dir.path().join("typed.json");
    let mut wrong = real.clone();
    wrong["type"] = json!([emulator_private_key()]);
    std::fs::write(&typed, wrong.to_string()).unwrap();
    let text = load_error(&typed);
    assert!(text.contains("has a field of the wrong type"), "{text}");

    // User credentials, not a service account.
    let user = dir.path().join("user.json");
    std::fs::write(
        &user,
        json!({"type": "authorized_user", "client_id": "x", "client_secret": "y", "refresh_token": "1//secret-refresh"}).to_string(),
    )
    .unwrap();
    let text = load_error(&user);
    assert!(
        text.contains("`authorized_user` credential, not a service-account key"),
        "{text}"
    );
    assert!(!text.contains("1//secret-refresh"));

    // The private key pasted into `type`.
    let mut pasted = real.clone();
    pasted["type"] = json!(emulator_private_key());
    let path = dir.path().join("pasted.json");
    std::fs::write(&path, pasted.to_string()).unwrap();
    assert!(load_error(&path).contains("an unknown credential"));

    // A broken key, a PKCS#1 key, an encrypted key.
    for (name, key, expected) in [
        (
            "broken",
            emulator_private_key().replace("MII", "MJJ"),
            "not a usable RSA key",
        ),
        (
            "pkcs1",
            emulator_private_key().replace("PRIVATE KEY", "RSA PRIVATE KEY"),
            "openssl pkcs8 -topk8",
        ),
        (
            "encrypted",
            emulator_private_key().replace("PRIVATE KEY", "ENCRYPTED PRIVATE KEY"),
            "is encrypted",
        ),
        ("empty", String::new(), "has no `private_key`"),
    ] {
        let mut bad = real.clone();
        bad["private_key"] = json!(key);
        let path = dir.path().join(format!("{name}.json"));
        std::fs::write(&path, bad.to_string()).unwrap();
        let text = load_error(&path);
        assert!(text.contains(expected), "{name}: {text}");
    }

    // Not UTF-8.
    let binary = dir.path().join("binary.json");
    std::fs::write(&binary, [0xff, 0xfe, 0x00, 0x7b]).unwrap();
    assert!(load_error(&binary).contains("not UTF-8"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_file_cannot_send_the_assertion_over_plain_http_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    for uri in [
        "http://attacker.example/token".to_string(),
        "http://127.0.0.1.attacker.example/token".to_string(),
        "http://169.254.169.254/token".to_string(),
        "ftp://127.0.0.1/token".to_string(),
        "https://user:hunter2@127.0.0.1:1/token".to_string(),
    ] {
        let mut key = g::key_json("http://127.0.0.1:1");
        key["token_uri"] = json!(uri);
        let path = dir.path().join("key.json");
        std::fs::write(&path, key.to_string()).unwrap();
        let text = load_error(&path);
        assert!(text.contains("token_uri"), "{uri}: {text}");
        assert!(!text.contains("hunter2"), "{uri}: {text}");
    }
    let text = load_error(&{
        let mut key = g::key_json("x");
        key["token_uri"] = json!("http://attacker.example/token");
        let path = dir.path().join("k.json");
        std::fs::write(&path, key.to_string()).unwrap();
        path
    });
    assert!(
        text.contains("plain http to a host that is not loopback"),
        "{text}"
    );
    // https anywhere and loopback http load (Google's own is the default).
    for uri in [
        "https://oauth2.googleapis.com/token",
        "http://localhost:9/token",
        "http://[::1]:9/token",
    ] {
        let mut key = g::key_json("x");
        key["token_uri"] = json!(uri);
        let path = dir.path().join("ok.json");
        std::fs::write(&path, key.to_string()).unwrap();
        let account = ServiceAccount::from_file(&path).expect(uri);
        assert_eq!(account.token_uri(), uri);
    }
}

#[test]
fn unset_credentials_variable_is_named_with_a_hint() {
    let e = ServiceAccount::from_env(Some("ACCESSCTL_TEST_GOOGLE_KEY_NEVER_SET")).unwrap_err();
    assert!(
        e.message
            .contains("environment variable `ACCESSCTL_TEST_GOOGLE_KEY_NEVER_SET` is not set"),
        "{e:?}"
    );
    assert!(e.hint.as_deref().unwrap().contains("credentials_env"));
}

/// A token endpoint run by an attacker (or broken): it echoes the assertion
/// in its error, answers a huge body, or a token with a newline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_token_endpoint_cannot_get_secrets_printed() {
    use axum::routing::post;
    async fn echo(body: String) -> (axum::http::StatusCode, axum::Json<Value>) {
        let assertion = body.split("assertion=").nth(1).unwrap_or("").to_string();
        (
            axum::http::StatusCode::BAD_REQUEST,
            axum::Json(json!({
                "error": "invalid_grant\u{1b}[2J",
                "error_description": format!("bad assertion {assertion}\nya29.stolen-token-text {}", "x".repeat(5000)),
            })),
        )
    }
    async fn huge() -> String {
        "{\"access_token\": \"".to_string() + &"a".repeat(200_000) + "\"}"
    }
    async fn newline() -> axum::Json<Value> {
        axum::Json(
            json!({"access_token": "ya29.abc\r\nX-Injected: 1", "expires_in": 3600, "token_type": "Bearer"}),
        )
    }
    async fn redirect() -> (axum::http::StatusCode, [(&'static str, &'static str); 1]) {
        (
            axum::http::StatusCode::TEMPORARY_REDIRECT,
            [("location", "http://attacker.example/token")],
        )
    }
    let app = axum::Router::new()
        .route("/echo/token", post(echo))
        .route("/huge/token", post(huge))
        .route("/newline/token", post(newline))
        .route("/redirect/token", post(redirect));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir().unwrap();
    for (name, expected) in [
        ("echo", "invalid_grant"),
        ("huge", "larger than 64 KiB"),
        ("newline", "without a usable access token"),
        ("redirect", "HTTP 307"),
    ] {
        let mut key = g::key_json(&format!("{base}/{name}"));
        key["token_uri"] = json!(format!("{base}/{name}/token"));
        let path = dir.path().join(format!("{name}.json"));
        std::fs::write(&path, key.to_string()).unwrap();
        let account = ServiceAccount::from_file(&path).unwrap();
        let e = account.token(&[scopes::GA4_READ]).await.unwrap_err();
        let text = format!("{e:?} {e}");
        assert!(text.contains(expected), "{name}: {text}");
        assert_clean(&text, &[]);
        assert!(!text.contains("stolen-token-text"), "{name}: {text}");
        assert!(
            !text.contains('\u{1b}') && !text.contains("\r\n"),
            "{name}: {text}"
        );
        assert!(text.len() < 2000, "{name}: truncated: {}", text.len());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_refuses_public_keys_it_cannot_verify_with() {
    let spki = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----\n";
    for (pem, lifetime, expected) in [
        (
            spki,
            None,
            "google.service_accounts[0].public_key_pem: an SPKI `PUBLIC KEY` block",
        ),
        ("not a key", None, "not a PEM `RSA PUBLIC KEY` block"),
        (
            g::EMULATOR_PUBLIC_KEY,
            Some(0),
            "google.token_lifetime_seconds: 0 is not between",
        ),
    ] {
        let mut google = g::seed_block(lifetime);
        google["service_accounts"][0]["public_key_pem"] = json!(pem);
        let seed = json!({ "google": google }).to_string();
        let problem = match emulator::parse_seed(&seed) {
            Err(e) => e.to_string(),
            Ok(seed) => emulator::spawn(seed, ([127, 0, 0, 1], 0).into())
                .await
                .expect_err("refused")
                .to_string(),
        };
        assert!(problem.contains(expected), "{problem}");
    }
}
