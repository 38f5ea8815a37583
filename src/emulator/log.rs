//! The request log: every request to a Wix API path, in arrival order, so
//! tests can assert exactly which calls a client made (and which it did
//! not). Recorded by a middleware around the Wix routes only; the
//! `/_emulator` controls are not logged.
//!
//! The `Authorization` header is never logged: the log keeps the method,
//! path, raw query, the two id headers, the status, the JSON body and the
//! injected fault, if any. (The `key` rate-limit scope hashes the header in
//! `faults.rs`; the hash is neither logged nor exposed.)

use std::sync::Arc;

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

use super::Shared;
use super::conn::ConnHandle;
use super::error::ApiError;
use super::faults::Outcome;

/// Largest request body accepted (Wix bodies here are tiny).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// One logged request. `query` is the raw query string ("" when absent).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    pub seq: u64,
    /// Stable endpoint name (e.g. `bulkInvite`), `null` for unknown paths;
    /// meant as the key for per-endpoint fault rules.
    pub endpoint: Option<&'static str>,
    pub method: String,
    pub path: String,
    pub query: String,
    pub site_id: Option<String>,
    pub account_id: Option<String>,
    /// HTTP status sent; `null` when none was (dropped connection, or the
    /// client went away first).
    pub status: Option<u16>,
    /// Faults that fired, joined with `+` in rule order (e.g. `"error"`,
    /// `"latency+drop-after"`, `"rate-limit"`); absent when none did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    /// For a fault after the operation (`drop-after`, `error-after`,
    /// `stall-after`, `latency-after`): the status the performed operation
    /// produced, recorded before the client hears anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handled_status: Option<u16>,
    /// The client disconnected before the emulator answered.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub client_gone: bool,
    /// Parsed JSON body; `null` when empty; a JSON string holding the text
    /// when the body was not valid JSON.
    pub request_body: Value,
}

#[derive(Debug, Default)]
pub struct RequestLog {
    next_seq: u64,
    entries: Vec<LogEntry>,
}

impl RequestLog {
    fn allocate(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// Entries sorted by arrival (`seq`); they are pushed on completion, so
    /// concurrent requests may finish out of order.
    pub fn entries(&self) -> Vec<LogEntry> {
        let mut out = self.entries.clone();
        out.sort_by_key(|e| e.seq);
        out
    }

    /// Forget all entries; sequence numbers keep increasing.
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

/// Stable names of the emulated endpoints, by path (any method, so a 405 on
/// Remove Contributor is still attributed to it).
pub fn endpoint_of(path: &str) -> Option<&'static str> {
    match path {
        super::paths::ROLES => Some("getRolesInfo"),
        super::paths::QUERY_CONTRIBUTORS => Some("querySiteContributors"),
        super::paths::BULK_INVITE => Some("bulkInvite"),
        super::paths::CHANGE_ROLE => Some("changeRole"),
        super::paths::REMOVE_CONTRIBUTOR => Some("removeContributor"),
        _ => {
            let rest = path.strip_prefix("/invites/site-invite/")?;
            let (id, action) = rest.split_once('/')?;
            match (id.is_empty() || id.contains('/'), action) {
                (false, "resend") => Some("resendInvite"),
                (false, "revoke") => Some("revokeInvite"),
                _ => None,
            }
        }
    }
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

fn body_json(bytes: &Bytes) -> Value {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// An entry being built; logged when dropped unfinished too, so a request
/// whose client went away mid-way (e.g. timed out during a stall, which
/// makes hyper drop the handler) still shows up, with `clientGone`.
struct Pending {
    shared: Arc<Shared>,
    entry: Option<LogEntry>,
}

impl Pending {
    fn entry(&mut self) -> Option<&mut LogEntry> {
        self.entry.as_mut()
    }

    fn finish(mut self, status: Option<u16>) {
        if let Some(mut entry) = self.entry.take() {
            entry.status = status;
            tracing::debug!(
                seq = entry.seq,
                method = entry.method,
                path = entry.path,
                status,
                fault = entry.fault,
                "wix emulator request"
            );
            self.shared.log().entries.push(entry);
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(mut entry) = self.entry.take() {
            entry.client_gone = true;
            tracing::debug!(
                seq = entry.seq,
                path = entry.path,
                "wix emulator request abandoned by client"
            );
            self.shared.log().entries.push(entry);
        }
    }
}

/// Middleware around the Wix routes: buffer the body, apply the rate limit
/// and fault rules (see `faults.rs`), run the request, record the outcome.
pub async fn record(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    if req.uri().path().starts_with("/_emulator") {
        return next.run(req).await;
    }
    let seq = shared.log().allocate();
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    let endpoint =
        endpoint_of(&path).or_else(|| super::google::endpoint_of(parts.method.as_str(), &path));
    // Google's endpoints (named `ga4.…`, `gtm.…`, `google.…`) answer faults
    // in Google's error shape, as the real API would.
    let google = endpoint.is_some_and(|e| e.contains('.'));
    let mut pending = Pending {
        shared: Arc::clone(&shared),
        entry: Some(LogEntry {
            seq,
            endpoint,
            method: parts.method.to_string(),
            query: parts.uri.query().unwrap_or_default().to_owned(),
            path,
            site_id: header_text(&parts.headers, "wix-site-id"),
            account_id: header_text(&parts.headers, "wix-account-id"),
            status: None,
            fault: None,
            handled_status: None,
            client_gone: false,
            request_body: Value::Null,
        }),
    };

    let bytes = match to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            let response = ApiError::payload_too_large(format!(
                "request body unreadable or larger than {MAX_BODY_BYTES} bytes"
            ))
            .into_response();
            pending.finish(Some(response.status().as_u16()));
            return response;
        }
    };
    let plan = shared
        .faults()
        .plan(endpoint, &parts.headers, Instant::now());
    if let Some(entry) = pending.entry() {
        entry.request_body = if endpoint == Some("google.token") {
            super::google::token::loggable(&bytes)
        } else {
            body_json(&bytes)
        };
        entry.fault = plan.label();
    }
    if !plan.delay.is_zero() {
        tokio::time::sleep(plan.delay).await;
    }
    let conn = parts
        .extensions
        .get::<ConnectInfo<ConnHandle>>()
        .map(|c| c.0.clone());
    let req = Request::from_parts(parts, Body::from(bytes));
    let handled = if plan.outcome.performs() {
        let handled = next.run(req).await;
        if plan.outcome != Outcome::Handle || !plan.delay_after.is_zero() {
            // Done, whatever the client hears next: the log says so even
            // if the client gives up during the wait below.
            if let Some(entry) = pending.entry() {
                entry.handled_status = Some(handled.status().as_u16());
            }
        }
        if !plan.delay_after.is_zero() {
            tokio::time::sleep(plan.delay_after).await;
        }
        Some(handled)
    } else {
        None
    };
    let response = match (plan.outcome, handled) {
        (Outcome::Handle, Some(handled)) => handled,
        (Outcome::RateLimited { retry_after_secs }, _) if google => {
            let mut response = super::google::error(
                StatusCode::TOO_MANY_REQUESTS,
                "rateLimitExceeded",
                "Quota exceeded (emulator rate limit).",
            )
            .into_response();
            if let Ok(v) = axum::http::HeaderValue::from_str(&retry_after_secs.to_string()) {
                response
                    .headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, v);
            }
            response
        }
        (Outcome::RateLimited { retry_after_secs }, _) => {
            ApiError::rate_limited(retry_after_secs).into_response()
        }
        (Outcome::Error(status) | Outcome::ErrorAfter(status), _) if google => {
            super::google::error(
                status,
                "backendError",
                format!("injected fault: HTTP {}", status.as_u16()),
            )
            .into_response()
        }
        (Outcome::Error(status) | Outcome::ErrorAfter(status), _) => {
            ApiError::injected(status).into_response()
        }
        (Outcome::DropBefore | Outcome::DropAfter, _) => {
            pending.finish(None);
            return dropped_response(conn);
        }
        (Outcome::Handle, None) => {
            ApiError::injected(StatusCode::INTERNAL_SERVER_ERROR).into_response()
        }
    };
    pending.finish(Some(response.status().as_u16()));
    response
}

/// Cut the request's connection so no response reaches the client (see
/// `conn.rs`); the returned response is never delivered. Without a
/// [`ConnHandle`] (router served by other means) the fallback is a response
/// that announces a body it never sends: hyper aborts the connection when
/// the body ends short, so the client at least fails reading it.
fn dropped_response(conn: Option<ConnHandle>) -> Response {
    match conn {
        Some(conn) => {
            conn.cut();
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        None => {
            // A stream body has no exact size, so hyper keeps the header and
            // aborts when the (empty) stream ends 1024 bytes short.
            let body = Body::from_stream(Body::empty().into_data_stream());
            let mut response = Response::new(body);
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from_static("1024"));
            response
        }
    }
}
