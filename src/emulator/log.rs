//! The request log: every request to a Wix API path, in arrival order, so
//! tests can assert exactly which calls a client made (and which it did
//! not). Recorded by a middleware around the Wix routes only; the
//! `/_emulator` controls are not logged.
//!
//! The `Authorization` header is never read here: the log keeps the method,
//! path, raw query, the two id headers, the status and the JSON body.

use std::sync::Arc;

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use super::Shared;
use super::error::ApiError;

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
    pub status: u16,
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

/// Middleware: buffer the body, run the request, record the outcome.
pub async fn record(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    if req.uri().path().starts_with("/_emulator") {
        return next.run(req).await;
    }
    let seq = shared.log().allocate();
    let (parts, body) = req.into_parts();
    let method: Method = parts.method.clone();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or_default().to_owned();
    let site_id = header_text(&parts.headers, "wix-site-id");
    let account_id = header_text(&parts.headers, "wix-account-id");

    let (response, request_body) = match to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => {
            let json = body_json(&bytes);
            let req = Request::from_parts(parts, Body::from(bytes));
            (next.run(req).await, json)
        }
        Err(_) => (
            ApiError::payload_too_large(format!(
                "request body unreadable or larger than {MAX_BODY_BYTES} bytes"
            ))
            .into_response(),
            Value::Null,
        ),
    };
    let status = response.status().as_u16();
    tracing::debug!(seq, %method, path, status, "wix emulator request");
    shared.log().entries.push(LogEntry {
        seq,
        endpoint: endpoint_of(&path),
        method: method.to_string(),
        path,
        query,
        site_id,
        account_id,
        status,
        request_body,
    });
    response
}
