//! Google platforms: service-account credentials and OAuth tokens
//! (`auth.rs`), GA4 Admin API access bindings (`ga4.rs`) and Tag Manager
//! user permissions (`gtm.rs`). GA4 and GTM implement
//! [`crate::platform::Provider`].

pub mod auth;
pub mod ga4;

use crate::platform::{BoxFuture, ProviderError};
use crate::secret::ApiKey;

/// Environment variables naming the API base URLs (never the config).
pub const GA4_API_BASE_ENV: &str = "ACCESSCTL_GA4_API_BASE";
pub const GTM_API_BASE_ENV: &str = "ACCESSCTL_GTM_API_BASE";
/// Application Default Credentials: the key file's path.
pub const CREDENTIALS_ENV: &str = "GOOGLE_APPLICATION_CREDENTIALS";

/// OAuth scopes, the narrowest each call takes.
pub mod gtm;

pub mod scopes {
    pub const GA4_READ: &str = "https://www.googleapis.com/auth/analytics.manage.users.readonly";
    pub const GA4_WRITE: &str = "https://www.googleapis.com/auth/analytics.manage.users";
    /// Every `user_permissions` method, reads included.
    pub const GTM_USERS: &str = "https://www.googleapis.com/auth/tagmanager.manage.users";
    /// `accounts.containers.list` (public id → numeric id).
    pub const GTM_READONLY: &str = "https://www.googleapis.com/auth/tagmanager.readonly";
}

/// A Google API base URL (from a flag or the environment, never the
/// config), without its trailing `/`: tokens go only over https, or plain
/// http to a loopback address (the emulator). `api` names it in errors.
pub fn check_base_url(base: &str, api: &str) -> Result<String, ProviderError> {
    let shown = crate::escape::text(base);
    let url = reqwest::Url::parse(base)
        .map_err(|e| ProviderError::new(format!("invalid {api} base URL `{shown}`: {e}")))?;
    let ok = match url.scheme() {
        "https" => true,
        "http" => crate::model::requests::is_loopback_host(url.host_str().unwrap_or("")),
        _ => false,
    };
    if !ok {
        return Err(ProviderError::new(format!(
            "refusing {api} base URL `{shown}`: tokens are only sent over https (plain http only to a loopback address)"
        )));
    }
    Ok(base.trim_end_matches('/').to_string())
}

/// Something that hands out OAuth access tokens for a service account:
/// cached per scope set and refreshed before they expire.
pub trait Bearer: Send + Sync {
    /// A token carrying `scopes`.
    fn token<'a>(
        &'a self,
        scopes: &'a [&'static str],
    ) -> BoxFuture<'a, Result<ApiKey, ProviderError>>;

    /// The service account's email (the principal the provider acts as).
    fn client_email(&self) -> &str;

    /// The Cloud project the quotas are counted against.
    fn project_id(&self) -> &str;
}
