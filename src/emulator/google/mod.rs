//! The Google side of the emulator, served by the same server as Wix from
//! the same seed (its `google:` block), behind the same request log, faults
//! and rate limits: the OAuth 2.0 token endpoint and the token store
//! (`token.rs`), GA4 Admin API access bindings (`ga4.rs`) and Tag Manager
//! user permissions (`gtm.rs`). Each keeps its own wire types.
//!
//! Every Google endpoint wants `Authorization: Bearer <token>` holding a
//! token the token endpoint issued (or the test control
//! `POST /_emulator/google/token` minted) with one of the scopes the real
//! method accepts; errors have Google's JSON shape (see [`error`]).

pub mod ga4;
pub mod gtm;
pub mod token;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Shared;

/// The seed's `google:` block.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    /// Service accounts the token endpoint knows (by their public keys).
    #[serde(default)]
    pub service_accounts: Vec<token::SeedServiceAccount>,
    /// How long issued tokens last (default 3600, as Google's); short in
    /// tests that prove refresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_lifetime_seconds: Option<u64>,
    #[serde(default)]
    pub ga4: ga4::Seed,
    #[serde(default)]
    pub gtm: gtm::Seed,
}

/// The Google world.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub tokens: token::State,
    pub ga4: ga4::State,
    pub gtm: gtm::State,
}

/// Build the Google state from its seed; problems are listed, not the
/// first one only.
pub(crate) fn build(seed: &Seed) -> Result<State, Vec<String>> {
    let mut problems = Vec::new();
    let tokens = token::build(
        &seed.service_accounts,
        seed.token_lifetime_seconds,
        &mut problems,
    );
    let ga4 = ga4::build(&seed.ga4, &mut problems);
    let gtm = gtm::build(&seed.gtm, &mut problems);
    if problems.is_empty() {
        Ok(State { tokens, ga4, gtm })
    } else {
        Err(problems)
    }
}

/// The Google API routes (logged, subject to faults).
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .merge(token::routes())
        .merge(ga4::routes())
        .merge(gtm::routes())
}

/// The Google test controls (neither logged nor faulted):
/// `POST /_emulator/google/token` mints a token without the exchange,
/// `GET /_emulator/google/whoami?scope=…` checks one.
pub(crate) fn controls() -> Router<Arc<Shared>> {
    token::controls()
        .merge(ga4::controls())
        .merge(gtm::controls())
}

/// The endpoint name fault rules and stats use for a Google request.
pub(crate) fn endpoint_of(method: &str, path: &str) -> Option<&'static str> {
    token::endpoint_of(method, path)
        .or_else(|| ga4::endpoint_of(method, path))
        .or_else(|| gtm::endpoint_of(method, path))
}

/// A Google API error; answered as
/// `{"error": {"code", "message", "status", "errors": [{"reason", "message"}]}}`.
#[derive(Debug, Clone)]
pub struct GoogleError {
    pub status: StatusCode,
    pub reason: &'static str,
    pub message: String,
}

pub fn error(status: StatusCode, reason: &'static str, message: impl Into<String>) -> GoogleError {
    GoogleError {
        status,
        reason,
        message: message.into(),
    }
}

impl IntoResponse for GoogleError {
    fn into_response(self) -> Response {
        let canonical = match self.status.as_u16() {
            400 => "INVALID_ARGUMENT",
            401 => "UNAUTHENTICATED",
            403 => "PERMISSION_DENIED",
            404 => "NOT_FOUND",
            409 => "ALREADY_EXISTS",
            429 => "RESOURCE_EXHAUSTED",
            _ => "INTERNAL",
        };
        (
            self.status,
            Json(json!({
                "error": {
                    "code": self.status.as_u16(),
                    "message": self.message,
                    "status": canonical,
                    "errors": [{ "reason": self.reason, "message": self.message, "domain": "global" }],
                }
            })),
        )
            .into_response()
    }
}
