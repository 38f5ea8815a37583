//! The OAuth 2.0 token endpoint (`POST /token`, the `token_uri` of the key
//! files the emulator's service accounts come with) and the store of issued
//! tokens every Google endpoint checks.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use serde::{Deserialize, Serialize};

use super::super::Shared;

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
    issued: HashMap<String, Issued>,
    next: u64,
}

impl State {
    /// Issue a token for `issued`.
    pub fn issue(&mut self, issued: Issued) -> String {
        self.next += 1;
        let token = format!(
            "ya29.emulator-{:016x}",
            self.next.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        );
        self.issued.insert(token.clone(), issued);
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
        let issued = self.issued.get(token).ok_or_else(|| {
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

pub(super) fn build(accounts: &[SeedServiceAccount], _problems: &mut Vec<String>) -> State {
    State {
        accounts: accounts.to_vec(),
        ..State::default()
    }
}

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
}

pub(super) fn controls() -> Router<Arc<Shared>> {
    Router::new().route("/_emulator/google/token", post(mint))
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
