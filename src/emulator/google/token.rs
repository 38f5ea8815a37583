//! The OAuth 2.0 token endpoint (`POST /token`, the `token_uri` of the key
//! files the emulator's service accounts come with) and the store of issued
//! tokens every Google endpoint checks.
//!
//! The endpoint takes the JWT-bearer grant as Google does
//! (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=…`,
//! form-encoded) and checks the assertion: RS256 only, `iss` a seeded
//! service account, its signature against that account's public key, `aud`
//! this endpoint's own URL (`http(s)://<Host>/token`), `exp` in the future
//! and at most an hour after `iat`, at least one scope. It answers
//! `{access_token, expires_in, token_type: "Bearer"}`, or OAuth's
//! `400 {"error": "invalid_grant", "error_description": …}`; descriptions
//! never repeat what the client sent.
//!
//! Public keys are seeded as PKCS#1 PEM (`-----BEGIN RSA PUBLIC KEY-----`,
//! what `openssl rsa -pubin -RSAPublicKey_out` writes): its DER is what ring
//! verifies with, so no ASN.1 parser is needed.
//!
//! Time is the system clock, not the seed's `clock`: the client signs with
//! real time, and Google judges `iat`/`exp` against real time too. Issued
//! tokens (minted ones too) expire after `google.token_lifetime_seconds`
//! (default 3600).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::Router;
use axum::extract::State as AxState;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, body::Bytes};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::super::Shared;

/// Token lifetime without `google.token_lifetime_seconds` (Google's).
pub const DEFAULT_TOKEN_LIFETIME_SECONDS: u64 = 3600;
const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Longest assertion read (a real one is under 1 KiB).
const MAX_ASSERTION_BYTES: usize = 16 * 1024;
/// How far in the future `iat` may be (clock skew).
const SKEW_SECONDS: u64 = 300;

/// A service account the token endpoint accepts assertions from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedServiceAccount {
    pub client_email: String,
    pub project_id: String,
    /// The account's RSA public key, PEM.
    #[serde(default)]
    pub public_key_pem: Option<String>,
}

/// What an issued token stands for.
#[derive(Debug, Clone)]
pub struct Issued {
    pub client_email: String,
    pub project_id: String,
    pub scopes: Vec<String>,
}

#[derive(Debug, Default)]
pub struct State {
    pub accounts: Vec<SeedServiceAccount>,
    /// client_email → PKCS#1 RSAPublicKey DER.
    keys: HashMap<String, Vec<u8>>,
    /// token → what it stands for, and when it expires.
    issued: HashMap<String, (Issued, Instant)>,
    next: u64,
    /// `None`: [`DEFAULT_TOKEN_LIFETIME_SECONDS`].
    lifetime_seconds: Option<u64>,
}

impl State {
    /// How long issued tokens last.
    pub fn lifetime(&self) -> Duration {
        Duration::from_secs(
            self.lifetime_seconds
                .unwrap_or(DEFAULT_TOKEN_LIFETIME_SECONDS),
        )
    }

    /// Issue a token for `issued`, valid for [`State::lifetime`].
    pub fn issue(&mut self, issued: Issued) -> String {
        let now = Instant::now();
        self.issued.retain(|_, (_, expires)| *expires > now);
        self.next += 1;
        let token = format!(
            "ya29.emulator-{:016x}",
            self.next.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        );
        self.issued
            .insert(token.clone(), (issued, now + self.lifetime()));
        token
    }

    /// The token in `Authorization: Bearer …`, if the store issued it and
    /// it carries one of `scopes` (the scopes the method accepts); else the
    /// error Google answers (401 without a valid token, 403 without the
    /// scope).
    pub fn authorize(
        &self,
        headers: &HeaderMap,
        scopes: &[&str],
    ) -> Result<Issued, super::GoogleError> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                super::error(
                    StatusCode::UNAUTHORIZED,
                    "required",
                    "Request is missing required authentication credential.",
                )
            })?;
        let issued = self
            .issued
            .get(token)
            .filter(|(_, expires)| *expires > Instant::now())
            .map(|(issued, _)| issued)
            .ok_or_else(|| {
                super::error(
                    StatusCode::UNAUTHORIZED,
                    "authError",
                    "Request had invalid authentication credentials.",
                )
            })?;
        if !issued.scopes.iter().any(|s| scopes.contains(&s.as_str())) {
            return Err(super::error(
                StatusCode::FORBIDDEN,
                "insufficientPermissions",
                "Request had insufficient authentication scopes.",
            ));
        }
        Ok(issued.clone())
    }
}

pub(super) fn build(
    accounts: &[SeedServiceAccount],
    lifetime_seconds: Option<u64>,
    problems: &mut Vec<String>,
) -> State {
    let mut keys = HashMap::new();
    for (i, account) in accounts.iter().enumerate() {
        let Some(pem) = &account.public_key_pem else {
            continue;
        };
        match public_key_der(pem) {
            Ok(der) => {
                if keys.insert(account.client_email.clone(), der).is_some() {
                    problems.push(format!(
                        "service_accounts[{i}].client_email: `{}` is listed twice",
                        account.client_email.escape_debug()
                    ));
                }
            }
            Err(why) => problems.push(format!("service_accounts[{i}].public_key_pem: {why}")),
        }
    }
    if let Some(seconds) = lifetime_seconds
        && !(1..=86_400).contains(&seconds)
    {
        problems.push(format!(
            "token_lifetime_seconds: {seconds} is not between 1 and 86400"
        ));
    }
    State {
        accounts: accounts.to_vec(),
        keys,
        lifetime_seconds,
        ..State::default()
    }
}

/// The DER of a PKCS#1 `RSA PUBLIC KEY` PEM block.
fn public_key_der(pem: &str) -> Result<Vec<u8>, String> {
    const BEGIN: &str = "-----BEGIN RSA PUBLIC KEY-----";
    const END: &str = "-----END RSA PUBLIC KEY-----";
    if pem.contains("-----BEGIN PUBLIC KEY-----") {
        return Err(
            "an SPKI `PUBLIC KEY` block; give the PKCS#1 form (`openssl rsa -pubin -RSAPublicKey_out`)"
                .to_string(),
        );
    }
    let start = pem
        .find(BEGIN)
        .map(|i| i + BEGIN.len())
        .ok_or("not a PEM `RSA PUBLIC KEY` block")?;
    let stop = pem[start..]
        .find(END)
        .map(|i| start + i)
        .ok_or("the PEM block has no END line")?;
    let body: String = pem[start..stop]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let der = STANDARD
        .decode(body)
        .map_err(|_| "the PEM block is not valid base64".to_string())?;
    // A DER SEQUENCE of a 2048-bit modulus and an exponent at least.
    if der.first() != Some(&0x30) || der.len() < 256 {
        return Err("the PEM block does not hold a 2048-bit or larger RSA public key".to_string());
    }
    Ok(der)
}

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new().route("/token", post(token))
}

/// What the request log keeps of a token request: the grant type, never
/// the assertion (it can be exchanged for tokens until it expires).
pub(crate) fn loggable(body: &Bytes) -> Value {
    let text = String::from_utf8_lossy(body);
    let mut fields = serde_json::Map::new();
    for pair in text.split('&').filter(|p| !p.is_empty()).take(16) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name: String = name.chars().take(64).collect();
        let value = if name == "grant_type" {
            value.chars().take(128).collect()
        } else {
            "[redacted]".to_string()
        };
        fields.insert(name, Value::String(value));
    }
    Value::Object(fields)
}

#[derive(Deserialize)]
struct TokenRequest {
    #[serde(default)]
    grant_type: String,
    #[serde(default)]
    assertion: String,
}

#[derive(Deserialize)]
struct JwtHeader {
    alg: String,
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    #[serde(default)]
    scope: String,
    aud: String,
    iat: u64,
    exp: u64,
}

/// OAuth 2.0's error answer (RFC 6749 §5.2), not Google's API error shape.
fn oauth_error(error: &'static str, description: &'static str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

const SHORT_LIVED: &str = "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.";

/// `POST /token`: the JWT-bearer grant.
async fn token(
    AxState(shared): AxState<Arc<Shared>>,
    headers: HeaderMap,
    form: Result<Form<TokenRequest>, FormRejection>,
) -> Response {
    let Ok(Form(request)) = form else {
        return oauth_error(
            "invalid_request",
            "The request must be application/x-www-form-urlencoded.",
        );
    };
    if request.grant_type != GRANT_TYPE {
        return oauth_error("unsupported_grant_type", "Invalid grant_type.");
    }
    if request.assertion.is_empty() {
        return oauth_error("invalid_request", "Missing required parameter: assertion");
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string);
    let mut google = shared.google();
    let claims = match verify(&google.tokens, &request.assertion, host.as_deref()) {
        Ok(claims) => claims,
        Err((error, description)) => return oauth_error(error, description),
    };
    let Some(account) = google
        .tokens
        .accounts
        .iter()
        .find(|a| a.client_email == claims.iss)
        .cloned()
    else {
        return oauth_error("invalid_grant", "Invalid grant: account not found");
    };
    let lifetime = google.tokens.lifetime();
    let access_token = google.tokens.issue(Issued {
        client_email: account.client_email,
        project_id: account.project_id,
        scopes: claims
            .scope
            .split_whitespace()
            .map(str::to_string)
            .collect(),
    });
    Json(json!({
        "access_token": access_token,
        "expires_in": lifetime.as_secs(),
        "token_type": "Bearer",
    }))
    .into_response()
}

/// Check an assertion; the claims, or OAuth's error code and description.
fn verify(
    state: &State,
    assertion: &str,
    host: Option<&str>,
) -> Result<Claims, (&'static str, &'static str)> {
    const MALFORMED: (&str, &str) = ("invalid_grant", "Invalid JWT: malformed assertion.");
    if assertion.len() > MAX_ASSERTION_BYTES {
        return Err(MALFORMED);
    }
    let mut parts = assertion.split('.');
    let (Some(header), Some(claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(MALFORMED);
    };
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|_| MALFORMED);
    let jwt_header: JwtHeader = serde_json::from_slice(&decode(header)?).map_err(|_| MALFORMED)?;
    if jwt_header.alg != "RS256" {
        return Err(("invalid_grant", "Invalid JWT: the algorithm must be RS256."));
    }
    let claims_value: Claims = serde_json::from_slice(&decode(claims)?).map_err(|_| MALFORMED)?;
    let signature = decode(signature)?;
    let key = state
        .keys
        .get(&claims_value.iss)
        .ok_or(("invalid_grant", "Invalid grant: account not found"))?;
    let signed = &assertion[..header.len() + 1 + claims.len()];
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key)
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| ("invalid_grant", "Invalid JWT Signature."))?;
    let audience_ok = match host {
        Some(host) => {
            claims_value.aud == format!("http://{host}/token")
                || claims_value.aud == format!("https://{host}/token")
        }
        None => claims_value.aud.ends_with("/token"),
    };
    if !audience_ok {
        return Err(("invalid_grant", "Invalid JWT: Failed audience check."));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    if claims_value.exp <= now
        || claims_value.exp <= claims_value.iat
        || claims_value.exp - claims_value.iat > 3600
        || claims_value.iat > now + SKEW_SECONDS
    {
        return Err(("invalid_grant", SHORT_LIVED));
    }
    if claims_value.scope.split_whitespace().next().is_none() {
        return Err((
            "invalid_scope",
            "Invalid OAuth scope or ID token audience provided.",
        ));
    }
    Ok(claims_value)
}

pub(super) fn controls() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_emulator/google/token", post(mint))
        .route("/_emulator/google/whoami", axum::routing::get(whoami))
}

#[derive(Deserialize)]
struct WhoamiQuery {
    scope: String,
}

/// Test control: run `Authorization: Bearer …` through [`State::authorize`]
/// for `?scope=…` and say whom the token stands for (Google's error when it
/// does not pass: unknown or expired, or without the scope).
async fn whoami(
    AxState(shared): AxState<Arc<Shared>>,
    headers: HeaderMap,
    axum::extract::Query(query): axum::extract::Query<WhoamiQuery>,
) -> Response {
    match shared
        .google()
        .tokens
        .authorize(&headers, &[query.scope.as_str()])
    {
        Ok(issued) => Json(json!({
            "clientEmail": issued.client_email,
            "projectId": issued.project_id,
            "scopes": issued.scopes,
        }))
        .into_response(),
        Err(e) => e.into_response(),
    }
}

pub(super) fn endpoint_of(_method: &str, path: &str) -> Option<&'static str> {
    (path == "/token").then_some("google.token")
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MintRequest {
    client_email: String,
    project_id: String,
    scopes: Vec<String>,
}

#[derive(Serialize)]
struct MintResponse {
    access_token: String,
}

/// Test control: a token for `{clientEmail, projectId, scopes}` without
/// the JWT exchange (tests of scope refusals; never part of Google).
async fn mint(
    AxState(shared): AxState<Arc<Shared>>,
    Json(req): Json<MintRequest>,
) -> Json<MintResponse> {
    let access_token = shared.google().tokens.issue(Issued {
        client_email: req.client_email,
        project_id: req.project_id,
        scopes: req.scopes,
    });
    Json(MintResponse { access_token })
}

/// The emulator-only service-account key file (`examples/google/`; its
/// private key is public and known to no Google project).
pub const EMULATOR_KEY_FILE: &str =
    include_str!("../../../examples/google/emulator-service-account.json");

/// [`EMULATOR_KEY_FILE`] with its `token_uri` pointing at the emulator at
/// `base_url` (`http://127.0.0.1:PORT`), as the demo, `accessctl emulator`
/// and the tests write it.
pub fn emulator_key_file(base_url: &str) -> String {
    let mut key: serde_json::Value = serde_json::from_str(EMULATOR_KEY_FILE).unwrap_or_default();
    key["token_uri"] = serde_json::Value::String(format!("{base_url}/token"));
    serde_json::to_string_pretty(&key).unwrap_or_default()
}
