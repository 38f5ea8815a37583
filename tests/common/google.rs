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
