//! Google service-account credentials, the Google way: a JSON key file found
//! through Application Default Credentials (`GOOGLE_APPLICATION_CREDENTIALS`,
//! or the variable a target names), exchanged for OAuth access tokens with
//! the JWT-bearer grant (RFC 7523) at the key file's `token_uri`.
//!
//! **Why hand-written (ring + reqwest), not a crate.** The exchange is one
//! RS256 signature and one form POST; what matters is where the assertion
//! goes and what reaches the output. The maintained crates were weighed
//! against that: `gcp_auth` (0.12) and `yup-oauth2` (12) both do the
//! service-account flow and read `token_uri`, but each brings its own HTTP
//! stack (hyper-rustls, with `rustls-native-certs` by default, plus `chrono`,
//! `async-trait`, `rustls-pemfile`, `url`, a second `base64` and `thiserror`
//! 1; yup-oauth2 also hyper-util's server side and the interactive flows)
//! beside the reqwest client accessctl already has, so our policy — https
//! only except to loopback, no redirects, a capped answer, timeouts — would
//! have to be re-established in their client builders, and their errors
//! (which carry the endpoint's answer) would need re-wrapping to keep
//! token text out. `jsonwebtoken` only signs, and its current major makes
//! the caller choose a second crypto backend (aws-lc-rs or RustCrypto)
//! beside the `ring` that rustls already builds. Hand-written, the exchange
//! adds no crate (`base64` and `libc` were already compiled) and every byte
//! that can reach a message is decided here.
//!
//! What is enforced:
//! - The key file is read only if it is a regular file (a FIFO or device is
//!   refused before opening, and opened non-blocking in case it is swapped),
//!   of at most [`MAX_KEY_FILE_BYTES`]; errors about malformed JSON name the
//!   line and column, never the text.
//! - `token_uri` is https, or plain http to a loopback host only (the
//!   emulator); a key file pointing tokens elsewhere is refused. Redirects
//!   are not followed.
//! - The private key lives only as a parsed [`ring::rsa::KeyPair`] behind a
//!   redacting wrapper; assertions and tokens are [`ApiKey`]s. No `Debug`,
//!   `Display` or error contains their text; the token endpoint's error
//!   answer is shown only as its `error`/`error_description`, escaped,
//!   truncated and with anything token-shaped redacted.
//! - Tokens are cached per scope set and exchanged again shortly before they
//!   expire (60 s, or half the lifetime if that is shorter); one exchange
//!   runs at a time.
//!
//! Time: assertions use the system clock (not `ACCESSCTL_NOW`), since the
//! token endpoint judges `iat`/`exp` against real time.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde::Deserialize;
use serde_json::json;

use super::Bearer;
use crate::platform::{BoxFuture, ProviderError};
use crate::secret::{ApiKey, redact_api_keys};

/// The variable Application Default Credentials read.
pub const DEFAULT_ENV: &str = "GOOGLE_APPLICATION_CREDENTIALS";
/// A real key file is about 2.3 KiB.
pub const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;
/// Largest token endpoint answer read.
pub const MAX_TOKEN_RESPONSE_BYTES: usize = 64 * 1024;
/// Google's token endpoint, for key files without `token_uri`.
pub const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// Assertion lifetime; Google accepts at most one hour.
const ASSERTION_SECONDS: u64 = 3600;
const REFRESH_MARGIN: Duration = Duration::from_secs(60);
const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const KEY_HINT: &str = "use the JSON key file Google made for the service account (IAM & Admin → Service accounts → Keys → Add key → JSON), unmodified";

/// A service account's credentials, handing out cached access tokens.
pub struct ServiceAccount {
    client_email: String,
    project_id: String,
    private_key_id: String,
    /// As written in the key file (the assertion's `aud`).
    token_uri: String,
    token_url: reqwest::Url,
    key: SigningKey,
    http: reqwest::Client,
    /// Sorted, deduplicated scopes → token. Held across an exchange, so one
    /// exchange runs at a time.
    cache: tokio::sync::Mutex<HashMap<Vec<String>, Cached>>,
}

/// The private key; never formatted.
struct SigningKey(Arc<RsaKeyPair>);

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

struct Cached {
    token: ApiKey,
    refresh_at: Instant,
}

impl fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .field("project_id", &self.project_id)
            .field("private_key_id", &self.private_key_id)
            .field("token_uri", &self.token_uri)
            .field("private_key", &self.key)
            .finish_non_exhaustive()
    }
}

/// The fields of a key file accessctl reads (others are ignored).
#[derive(Deserialize)]
struct KeyFile {
    #[serde(rename = "type")]
    kind: Option<String>,
    project_id: Option<String>,
    private_key_id: Option<String>,
    private_key: Option<String>,
    client_email: Option<String>,
    token_uri: Option<String>,
}

impl ServiceAccount {
    /// Application Default Credentials: the key file named by the variable
    /// `var`, else by `GOOGLE_APPLICATION_CREDENTIALS`.
    pub fn from_env(var: Option<&str>) -> Result<Self, ProviderError> {
        let var = var.unwrap_or(DEFAULT_ENV);
        let path = credentials_path(var, std::env::var_os(var))?;
        // The config chooses the variable, so its value may be any secret
        // in the environment: messages name the variable, never the value.
        let shown = format!("named by `{var}`");
        let text = read_key_file(&path, &shown)?;
        Self::from_json(&text, &shown)
    }

    /// Read a key file.
    pub fn from_file(path: &Path) -> Result<Self, ProviderError> {
        let shown = shown_path(path);
        let text = read_key_file(path, &shown)?;
        Self::from_json(&text, &shown)
    }

    /// Parse key-file text; `origin` names it in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<Self, ProviderError> {
        let file: KeyFile = serde_json::from_str(text).map_err(|e| {
            // serde_json's messages can quote the offending value: say
            // where, never what.
            let what = match e.classify() {
                serde_json::error::Category::Io | serde_json::error::Category::Syntax => {
                    "is not valid JSON"
                }
                serde_json::error::Category::Eof => "is not valid JSON (it ends early)",
                serde_json::error::Category::Data => "has a field of the wrong type",
            };
            ProviderError::new(format!(
                "Google key file {origin} {what} (line {}, column {})",
                e.line(),
                e.column()
            ))
            .with_hint(KEY_HINT)
        })?;
        match file.kind.as_deref() {
            Some("service_account") => {}
            Some(other) => {
                let kind = if other.len() <= 40
                    && other.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                {
                    format!("`{other}`")
                } else {
                    "an unknown".to_string()
                };
                return Err(ProviderError::new(format!(
                    "Google key file {origin} is {kind} credential, not a service-account key (`type` must be `service_account`)"
                ))
                .with_hint(
                    "accessctl acts as a service account; user credentials from `gcloud auth application-default login` are not used",
                ));
            }
            None => {
                return Err(missing(origin, "type"));
            }
        }
        let client_email = required(origin, "client_email", file.client_email)?;
        if !plausible_email(&client_email) {
            return Err(ProviderError::new(format!(
                "Google key file {origin}: `client_email` is not an email address"
            ))
            .with_hint(KEY_HINT));
        }
        let project_id = required(origin, "project_id", file.project_id)?;
        if !project_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-:.".contains(c))
        {
            return Err(ProviderError::new(format!(
                "Google key file {origin}: `project_id` is not a Cloud project id"
            ))
            .with_hint(KEY_HINT));
        }
        let private_key_id = file.private_key_id.unwrap_or_default();
        if !private_key_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(ProviderError::new(format!(
                "Google key file {origin}: `private_key_id` is not a key id"
            ))
            .with_hint(KEY_HINT));
        }
        let pem = ApiKey::new(required(origin, "private_key", file.private_key)?);
        let key = parse_private_key(&pem, origin)?;
        let token_uri = file
            .token_uri
            .map(|u| u.trim().to_string())
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| GOOGLE_TOKEN_URI.to_string());
        let token_url = check_token_uri(&token_uri, origin)?;
        crate::providers::wix::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            // A redirect would re-send the assertion somewhere the key file
            // does not name.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("accessctl/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ProviderError::new(format!("cannot build the HTTP client: {e}")))?;
        Ok(ServiceAccount {
            client_email,
            project_id,
            private_key_id,
            token_uri,
            token_url,
            key,
            http,
            cache: tokio::sync::Mutex::new(HashMap::new()),
        })
    }

    /// The token endpoint the key file names.
    pub fn token_uri(&self) -> &str {
        &self.token_uri
    }

    /// A signed assertion for `scopes`, valid from now for an hour.
    fn assertion(&self, scopes: &[String]) -> Result<ApiKey, ProviderError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut header = json!({ "alg": "RS256", "typ": "JWT" });
        if !self.private_key_id.is_empty() {
            header["kid"] = json!(self.private_key_id);
        }
        let claims = json!({
            "iss": self.client_email,
            "scope": scopes.join(" "),
            "aud": self.token_uri,
            "iat": now,
            "exp": now + ASSERTION_SECONDS,
        });
        let mut text = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; self.key.0.public().modulus_len()];
        self.key
            .0
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                text.as_bytes(),
                &mut signature,
            )
            .map_err(|_| ProviderError::new("cannot sign the token request (RS256)"))?;
        text.push('.');
        text.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Ok(ApiKey::new(text))
    }

    /// One JWT-bearer exchange: the token and its lifetime.
    async fn exchange(&self, scopes: &[String]) -> Result<(ApiKey, Duration), ProviderError> {
        let assertion = self.assertion(scopes)?;
        // base64url and dots need no form encoding.
        let body = format!(
            "grant_type={}&assertion={}",
            GRANT_TYPE.replace(':', "%3A"),
            assertion.expose()
        );
        let endpoint = self.endpoint_name();
        let response = self
            .http
            .post(self.token_url.clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| {
                let why = if e.is_timeout() {
                    "timed out"
                } else if e.is_connect() {
                    "could not connect"
                } else {
                    "request failed"
                };
                ProviderError::new(format!(
                    "cannot get a Google access token from {endpoint}: {why}"
                ))
                .with_hint("check the network, or the key file's `token_uri`")
            })?;
        let status = response.status();
        let bytes = read_capped(response, MAX_TOKEN_RESPONSE_BYTES)
            .await
            .map_err(|why| {
                ProviderError::new(format!(
                    "cannot get a Google access token from {endpoint}: {why}"
                ))
            })?;
        if !status.is_success() {
            return Err(token_error(&endpoint, status, &bytes, &assertion));
        }
        #[derive(Deserialize)]
        struct Answer {
            access_token: Option<String>,
            expires_in: Option<u64>,
            token_type: Option<String>,
        }
        let not_a_token = || {
            ProviderError::new(format!(
                "the token endpoint {endpoint} answered HTTP {} without a usable access token",
                status.as_u16()
            ))
        };
        // Never echo this body: it holds the token.
        let answer: Answer = serde_json::from_slice(&bytes).map_err(|_| not_a_token())?;
        let token = answer.access_token.ok_or_else(not_a_token)?;
        if token.is_empty()
            || token.len() > 4096
            || !token.bytes().all(|b| b.is_ascii_graphic())
            || !answer
                .token_type
                .as_deref()
                .is_none_or(|t| t.eq_ignore_ascii_case("bearer"))
        {
            return Err(not_a_token());
        }
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(3600).min(24 * 3600));
        Ok((ApiKey::new(token), lifetime))
    }

    /// The token endpoint as messages name it: scheme, host and port.
    fn endpoint_name(&self) -> String {
        let host = self.token_url.host_str().unwrap_or("?");
        match self.token_url.port() {
            Some(port) => format!("{}://{host}:{port}", self.token_url.scheme()),
            None => format!("{}://{host}", self.token_url.scheme()),
        }
    }
}

impl Bearer for ServiceAccount {
    fn token<'a>(
        &'a self,
        scopes: &'a [&'static str],
    ) -> BoxFuture<'a, Result<ApiKey, ProviderError>> {
        Box::pin(async move {
            let mut set: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
            set.sort();
            set.dedup();
            if set.is_empty() {
                return Err(ProviderError::new(
                    "a Google access token was asked for without scopes",
                ));
            }
            let mut cache = self.cache.lock().await;
            let now = Instant::now();
            if let Some(cached) = cache.get(&set)
                && now < cached.refresh_at
            {
                return Ok(cached.token.clone());
            }
            let (token, lifetime) = self.exchange(&set).await?;
            let margin = REFRESH_MARGIN.min(lifetime / 2);
            cache.insert(
                set,
                Cached {
                    token: token.clone(),
                    refresh_at: now + lifetime - margin,
                },
            );
            Ok(token)
        })
    }

    fn client_email(&self) -> &str {
        &self.client_email
    }

    fn project_id(&self) -> &str {
        &self.project_id
    }
}

/// The key file path from the variable's value.
fn credentials_path(var: &str, value: Option<OsString>) -> Result<PathBuf, ProviderError> {
    let hint = format!(
        "set `{var}` to the path of the service account's JSON key file ({KEY_HINT}); a target can name another variable with `credentials_env`"
    );
    match value {
        None => Err(ProviderError::new(format!(
            "no Google credentials: environment variable `{var}` is not set"
        ))
        .with_hint(hint)),
        Some(v) if v.is_empty() => Err(ProviderError::new(format!(
            "no Google credentials: environment variable `{var}` is empty"
        ))
        .with_hint(hint)),
        Some(v) => {
            let text = v.to_string_lossy();
            if text.trim_start().starts_with('{') {
                // Someone pasted the key itself: say so without repeating it.
                return Err(ProviderError::new(format!(
                    "environment variable `{var}` holds JSON, not a path: it must name the key file"
                ))
                .with_hint(hint));
            }
            Ok(PathBuf::from(v))
        }
    }
}

/// The path as messages show it: quoted, control characters escaped.
fn shown_path(path: &Path) -> String {
    format!("`{}`", path.display().to_string().escape_debug())
}

/// Refuse anything but a regular file of sensible size, before and after
/// opening.
fn read_key_file(path: &Path, shown: &str) -> Result<String, ProviderError> {
    let io_error = |e: std::io::Error| {
        let why = match e.kind() {
            std::io::ErrorKind::NotFound => "does not exist".to_string(),
            std::io::ErrorKind::PermissionDenied => {
                "cannot be read (permission denied)".to_string()
            }
            _ => format!("cannot be read ({})", e.kind()),
        };
        ProviderError::new(format!("Google key file {shown} {why}")).with_hint(
            "the credentials variable must hold the path of the service account's JSON key file",
        )
    };
    let check = |meta: &std::fs::Metadata| -> Result<(), ProviderError> {
        if !meta.is_file() {
            return Err(ProviderError::new(format!(
                "Google key file {shown} is {}, not a regular file",
                file_kind(meta)
            ))
            .with_hint("point the credentials variable at the JSON key file itself"));
        }
        if meta.len() > MAX_KEY_FILE_BYTES {
            return Err(too_large(shown));
        }
        Ok(())
    };
    check(&std::fs::metadata(path).map_err(io_error)?)?;
    let file = open_nonblocking(path).map_err(io_error)?;
    check(&file.metadata().map_err(io_error)?)?;
    let mut bytes = Vec::new();
    file.take(MAX_KEY_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if bytes.len() as u64 > MAX_KEY_FILE_BYTES {
        return Err(too_large(shown));
    }
    String::from_utf8(bytes).map_err(|_| {
        ProviderError::new(format!("Google key file {shown} is not UTF-8 text")).with_hint(KEY_HINT)
    })
}

fn too_large(shown: &str) -> ProviderError {
    ProviderError::new(format!(
        "Google key file {shown} is larger than {} KiB; a service-account key file is about 2 KiB",
        MAX_KEY_FILE_BYTES / 1024
    ))
    .with_hint(KEY_HINT)
}

#[cfg(unix)]
fn open_nonblocking(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::open(path)
}

fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    if meta.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    "not a regular file"
}

fn missing(origin: &str, field: &str) -> ProviderError {
    ProviderError::new(format!(
        "Google key file {origin} has no `{field}`: it is not a service-account key file"
    ))
    .with_hint(KEY_HINT)
}

fn required(origin: &str, field: &str, value: Option<String>) -> Result<String, ProviderError> {
    match value {
        Some(v) if !v.trim().is_empty() => Ok(v.trim().to_string()),
        _ => Err(missing(origin, field)),
    }
}

fn plausible_email(text: &str) -> bool {
    text.len() <= 320
        && text.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && text
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "@._+-".contains(c))
        })
}

/// The PKCS#8 PEM in `private_key` as a signing key. Errors never quote it.
fn parse_private_key(pem: &ApiKey, origin: &str) -> Result<SigningKey, ProviderError> {
    let text = pem.expose();
    let bad = |why: &str| {
        ProviderError::new(format!("Google key file {origin}: `private_key` {why}"))
            .with_hint(KEY_HINT)
    };
    if text.contains("ENCRYPTED PRIVATE KEY") {
        return Err(bad(
            "is encrypted; accessctl needs the unencrypted key Google issues",
        ));
    }
    if text.contains("BEGIN RSA PRIVATE KEY") {
        return Err(bad(
            "is a PKCS#1 RSA key; convert it with `openssl pkcs8 -topk8 -nocrypt` (Google's key files hold PKCS#8)",
        ));
    }
    let body =
        pem_body(text, "PRIVATE KEY").ok_or_else(|| bad("is not a PEM `PRIVATE KEY` block"))?;
    let der = STANDARD
        .decode(body)
        .map_err(|_| bad("is not valid base64 inside its PEM block"))?;
    let pair = RsaKeyPair::from_pkcs8(&der)
        .map_err(|e| bad(&format!("is not a usable RSA key in PKCS#8 form ({e})")))?;
    Ok(SigningKey(Arc::new(pair)))
}

/// The base64 between `-----BEGIN {label}-----` and `-----END {label}-----`,
/// whitespace removed.
pub(crate) fn pem_body(text: &str, label: &str) -> Option<String> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = start + text[start..].find(&end)?;
    Some(
        text[start..stop]
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect(),
    )
}

/// https anywhere, plain http to loopback only, nothing else.
fn check_token_uri(uri: &str, origin: &str) -> Result<reqwest::Url, ProviderError> {
    let hint = "Google's key files name https://oauth2.googleapis.com/token; plain http is allowed only to a loopback address (the emulator)";
    let url = reqwest::Url::parse(uri).map_err(|_| {
        ProviderError::new(format!(
            "Google key file {origin}: `token_uri` is not a URL"
        ))
        .with_hint(hint)
    })?;
    let host = url.host_str().unwrap_or("").to_string();
    let shown = format!("{}://{}", url.scheme(), host.escape_debug());
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ProviderError::new(format!(
            "Google key file {origin}: `token_uri` carries a user name or password"
        ))
        .with_hint(hint));
    }
    match url.scheme() {
        "https" if !host.is_empty() => Ok(url),
        "http" => {
            let loopback = crate::model::requests::is_loopback_host(&host);
            if loopback {
                Ok(url)
            } else {
                Err(ProviderError::new(format!(
                    "refusing Google key file {origin}: its `token_uri` ({shown}) is plain http to a host that is not loopback; the signed token request would travel unencrypted"
                ))
                .with_hint(hint))
            }
        }
        _ => Err(ProviderError::new(format!(
            "refusing Google key file {origin}: `token_uri` ({shown}) is neither https nor loopback http"
        ))
        .with_hint(hint)),
    }
}

/// Read at most `cap` bytes of the body.
async fn read_capped(response: reqwest::Response, cap: usize) -> Result<Vec<u8>, String> {
    use crate::providers::body::{self, BodyError};
    body::read_capped(response, cap).await.map_err(|e| match e {
        BodyError::TooLarge { cap } => format!("the answer is {}", BodyError::too_large(cap)),
        BodyError::Cut(_) => "the answer was cut off".to_string(),
    })
}

/// The token endpoint's refusal: its `error` and `error_description` only,
/// escaped, truncated, token-shaped text redacted.
fn token_error(
    endpoint: &str,
    status: reqwest::StatusCode,
    body: &[u8],
    assertion: &ApiKey,
) -> ProviderError {
    #[derive(Deserialize)]
    struct OAuthError {
        error: Option<serde_json::Value>,
        error_description: Option<serde_json::Value>,
    }
    let parsed: Option<OAuthError> = serde_json::from_slice(body).ok();
    let field = |v: &Option<serde_json::Value>, max: usize| match v {
        Some(serde_json::Value::String(s)) => Some(shown_text(s, max, assertion)),
        // Google's API errors nest `{error: {message}}`; keep the message.
        Some(serde_json::Value::Object(o)) => o
            .get("message")
            .and_then(|m| m.as_str())
            .map(|s| shown_text(s, max, assertion)),
        _ => None,
    };
    let (code, description) = match &parsed {
        Some(e) => (field(&e.error, 40), field(&e.error_description, 200)),
        None => (None, None),
    };
    let told = match (&code, &description) {
        (Some(c), Some(d)) => format!(": {c}: {d}"),
        (Some(c), None) => format!(": {c}"),
        (None, Some(d)) => format!(": {d}"),
        (None, None) => String::new(),
    };
    let message = format!(
        "the Google token endpoint {endpoint} refused the service account (HTTP {}){told}",
        status.as_u16()
    );
    let hint = match code.as_deref() {
        Some("invalid_grant") => {
            "the key may have been deleted or disabled in IAM, the key file may be for another account, or this machine's clock may be wrong"
        }
        Some("invalid_scope") => "a scope accessctl asked for is not accepted",
        Some("unauthorized_client") => "the service account may be disabled",
        _ if status.as_u16() == 429 || status.is_server_error() => {
            "Google's token endpoint is unavailable; try again later"
        }
        _ => KEY_HINT,
    };
    ProviderError::new(message).with_hint(hint)
}

/// `text` safe to print: token-shaped words redacted, control characters
/// escaped, at most `max` characters.
fn shown_text(text: &str, max: usize, assertion: &ApiKey) -> String {
    let mut text = text.replace(assertion.expose(), "[redacted]");
    text = redact_api_keys(&text);
    let words: Vec<String> = text
        .split(' ')
        .map(|w| {
            if w.contains("ya29.")
                || (w.len() >= 40
                    && w.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-+/=".contains(c)))
            {
                "[redacted]".to_string()
            } else {
                w.to_string()
            }
        })
        .collect();
    let text = words.join(" ");
    let mut shown: String = text
        .chars()
        .take(max)
        .collect::<String>()
        .escape_debug()
        .to_string();
    if text.chars().count() > max {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_path_errors_name_the_variable() {
        let e = credentials_path("ACME_GOOGLE", None).unwrap_err();
        assert!(e.message.contains("`ACME_GOOGLE` is not set"), "{e:?}");
        let e = credentials_path("ACME_GOOGLE", Some("".into())).unwrap_err();
        assert!(e.message.contains("is empty"), "{e:?}");
        let e = credentials_path(
            "X",
            Some("{\"type\": \"service_account\", \"private_key\": \"SECRETPEM\"}".into()),
        )
        .unwrap_err();
        assert!(!format!("{e:?}").contains("SECRETPEM"), "{e:?}");
    }

    #[test]
    fn token_uri_policy() {
        assert!(check_token_uri("https://oauth2.googleapis.com/token", "f").is_ok());
        assert!(check_token_uri("http://127.0.0.1:8787/token", "f").is_ok());
        assert!(check_token_uri("http://[::1]:8787/token", "f").is_ok());
        assert!(check_token_uri("http://localhost:8787/token", "f").is_ok());
        for bad in [
            "http://evil.example/token",
            "http://127.0.0.1.evil.example/token",
            "http://10.0.0.1/token",
            "ftp://127.0.0.1/token",
            "file:///etc/passwd",
            "https://user:pw@oauth2.googleapis.com/token",
            "not a url",
        ] {
            assert!(check_token_uri(bad, "f").is_err(), "{bad}");
        }
    }

    #[test]
    fn shown_text_redacts_and_truncates() {
        let assertion = ApiKey::new("eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln");
        let s = shown_text(
            "bad eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln and ya29.abcdef\n\u{1b}[31m",
            200,
            &assertion,
        );
        assert!(!s.contains("eyJ") && !s.contains("ya29.abc"), "{s}");
        assert!(!s.contains('\u{1b}') && !s.contains('\n'), "{s}");
        assert_eq!(shown_text(&"a".repeat(10), 4, &assertion), "aaaa…");
    }
}
