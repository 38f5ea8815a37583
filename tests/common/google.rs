//! Google test support: a [`Bearer`] whose tokens the emulator's test
//! control `POST /_emulator/google/token` mints, for provider tests that
//! are not about the token exchange itself (`tests/google_auth.rs` is).

use accessctl::platform::{BoxFuture, ProviderError};
use accessctl::providers::google::Bearer;
use accessctl::secret::ApiKey;

pub struct MintedBearer {
    pub base_url: String,
    pub client_email: String,
    pub project_id: String,
}

impl MintedBearer {
    pub fn new(base_url: &str) -> Self {
        MintedBearer {
            base_url: base_url.to_string(),
            client_email: "accessctl@agency-project.iam.gserviceaccount.com".to_string(),
            project_id: "agency-project".to_string(),
        }
    }
}

impl Bearer for MintedBearer {
    fn token<'a>(
        &'a self,
        scopes: &'a [&'static str],
    ) -> BoxFuture<'a, Result<ApiKey, ProviderError>> {
        Box::pin(async move {
            let answer: serde_json::Value = reqwest::Client::new()
                .post(format!("{}/_emulator/google/token", self.base_url))
                .json(&serde_json::json!({
                    "clientEmail": self.client_email,
                    "projectId": self.project_id,
                    "scopes": scopes,
                }))
                .send()
                .await
                .map_err(|e| ProviderError::new(e.to_string()))?
                .json()
                .await
                .map_err(|e| ProviderError::new(e.to_string()))?;
            Ok(ApiKey::new(
                answer["access_token"].as_str().unwrap_or_default(),
            ))
        })
    }

    fn client_email(&self) -> &str {
        &self.client_email
    }

    fn project_id(&self) -> &str {
        &self.project_id
    }
}

/// The emulator-only key file (`examples/google/`); its `token_uri` names
/// the emulator's default address, so tests rewrite it ([`key_file`]).
pub const EMULATOR_KEY_FILE: &str =
    include_str!("../../examples/google/emulator-service-account.json");
/// Its public key (PKCS#1 PEM), as the seed takes it.
pub const EMULATOR_PUBLIC_KEY: &str =
    include_str!("../../examples/google/emulator-service-account.pub.pem");
pub const EMULATOR_CLIENT_EMAIL: &str = "accessctl@agency-project.iam.gserviceaccount.com";
pub const EMULATOR_PROJECT_ID: &str = "agency-project";

/// The emulator key file's JSON with `token_uri` pointing at the emulator
/// at `base_url` (`http://127.0.0.1:PORT`).
pub fn key_json(base_url: &str) -> serde_json::Value {
    let mut key: serde_json::Value =
        serde_json::from_str(EMULATOR_KEY_FILE).expect("the example key file is JSON");
    key["token_uri"] = serde_json::Value::String(format!("{base_url}/token"));
    key
}

/// Write the emulator key file, pointed at the emulator at `base_url`, into
/// `dir`; its path.
pub fn key_file(dir: &std::path::Path, base_url: &str) -> std::path::PathBuf {
    let path = dir.join("service-account.json");
    std::fs::write(&path, key_json(base_url).to_string()).expect("write the key file");
    path
}

/// The seed's `google` block knowing the emulator service account (JSON,
/// which is YAML); `lifetime` sets `token_lifetime_seconds`.
pub fn seed_block(lifetime: Option<u64>) -> serde_json::Value {
    let mut google = serde_json::json!({
        "service_accounts": [{
            "client_email": EMULATOR_CLIENT_EMAIL,
            "project_id": EMULATOR_PROJECT_ID,
            "public_key_pem": EMULATOR_PUBLIC_KEY,
        }],
    });
    if let Some(seconds) = lifetime {
        google["token_lifetime_seconds"] = seconds.into();
    }
    google
}

/// Seconds since the epoch on the real clock, for hand-made JWT
/// assertions: the token endpoint checks `iat`/`exp` against the real
/// clock, as Google's does (a pinned day would make every assertion
/// expired). The one place tests read it; nothing here depends on the date.
pub fn assertion_clock() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The start of a three-platform seed: one Wix site (`site-1`, account
/// `acc-1`, key `emu-key-1`) and the `google:` block's service account;
/// a test appends its `ga4:` and `gtm:` parts (indented two spaces).
pub fn seed_head() -> String {
    let pem: String = EMULATOR_PUBLIC_KEY
        .trim()
        .lines()
        .map(|l| format!("        {l}\n"))
        .collect();
    format!(
        "accounts:
  - {{ id: acc-1, api_keys: [emu-key-1] }}
sites:
  - {{ id: site-1, account: acc-1 }}
google:
  service_accounts:
    - client_email: {EMULATOR_CLIENT_EMAIL}
      project_id: {EMULATOR_PROJECT_ID}
      public_key_pem: |
{pem}"
    )
}
