//! Sending an access request as a signed JSON POST.
//!
//! For Slack, Zapier or the agency's own system, which passes the request on
//! to the owner (and can track it). The body is [`Payload`] as JSON; the
//! header `X-Accessctl-Signature: sha256=<hex>` is the HMAC-SHA256 of the
//! exact body bytes under the shared secret, `X-Accessctl-Timestamp` is the
//! send time in Unix seconds (also `sent_at` in the signed body, so a
//! receiver can refuse replays), and `X-Accessctl-Delivery` is an id unique
//! to this delivery, for deduplication. The body's `text` field holds the
//! message, so a Slack incoming webhook shows it as is.
//!
//! The URL and the secret come from environment variables at send time and
//! are held in [`ApiKey`]; errors name the URL's scheme and host only (its
//! path may carry a token). Plain http is accepted for loopback addresses
//! only, and redirects are not followed, so the signed body goes nowhere
//! else.

use std::time::Duration;

use hmac::{Hmac, KeyInit as _, Mac as _};
use serde::Serialize;
use sha2::Sha256;

use crate::model::requests::{WebhookSettings, is_loopback_host};
use crate::secret::ApiKey;

pub const SIGNATURE_HEADER: &str = "X-Accessctl-Signature";
pub const TIMESTAMP_HEADER: &str = "X-Accessctl-Timestamp";
pub const DELIVERY_HEADER: &str = "X-Accessctl-Delivery";

/// The `type` of every payload, versioned by `version`.
pub const PAYLOAD_TYPE: &str = "accessctl.access-request";

/// Where to post, read from the environment.
#[derive(Debug)]
pub struct Endpoint {
    url: ApiKey,
    /// `https://host:port`, safe to print.
    pub origin: String,
    secret: ApiKey,
}

impl Endpoint {
    pub fn resolve(settings: &WebhookSettings) -> Result<Endpoint, String> {
        let url = ApiKey::from_env(&settings.url_env)?;
        let secret = ApiKey::from_env(&settings.secret_env)?;
        let parsed = reqwest::Url::parse(url.expose()).map_err(|_| {
            format!(
                "the webhook URL in `{}` is not a valid URL",
                settings.url_env
            )
        })?;
        let host = parsed.host_str().unwrap_or_default().to_string();
        let origin = match parsed.port() {
            Some(port) => format!("{}://{host}:{port}", parsed.scheme()),
            None => format!("{}://{host}", parsed.scheme()),
        };
        match parsed.scheme() {
            "https" => {}
            "http" if is_loopback_host(&host) => {}
            "http" => {
                return Err(format!(
                    "refusing the webhook URL in `{}` ({origin}): signed requests are only sent over https (plain http is allowed for loopback addresses only)",
                    settings.url_env
                ));
            }
            other => {
                return Err(format!(
                    "unsupported scheme `{other}` in the webhook URL in `{}`",
                    settings.url_env
                ));
            }
        }
        Ok(Endpoint {
            url,
            origin,
            secret,
        })
    }
}

/// The JSON body. Field order is fixed, so the same request gives the same
/// bytes.
#[derive(Debug, Clone, Serialize)]
pub struct Payload<'a> {
    #[serde(rename = "type")]
    pub kind_of: &'static str,
    pub version: u32,
    /// Unique per delivery; also in `X-Accessctl-Delivery`.
    pub id: &'a str,
    /// `request` or `reminder`.
    pub kind: &'static str,
    /// 0 for the request, then 1, 2, … for reminders.
    pub reminder: u32,
    /// RFC 3339.
    pub sent_at: &'a str,
    pub agency: &'a str,
    pub site: &'a str,
    pub site_id: &'a str,
    pub dashboard_url: &'a str,
    pub to: PayloadContact<'a>,
    pub grants: Vec<PayloadGrant<'a>>,
    /// Role changes asked for (access the owner gave earlier); absent when
    /// none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<PayloadChange<'a>>,
    /// People to remove, with the roles they hold; absent when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub removals: Vec<PayloadGrant<'a>>,
    pub subject: &'a str,
    /// The message body, plain text.
    pub text: &'a str,
    /// SHA-256 of the subject and body, as recorded in the ledger.
    pub digest: &'a str,
}

#[derive(Debug, Clone, Serialize)]
pub struct PayloadContact<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    pub email: &'a str,
}

#[derive(Debug, Clone, Serialize)]
pub struct PayloadGrant<'a> {
    pub who: &'a str,
    pub email: &'a str,
    pub roles: &'a [String],
}

#[derive(Debug, Clone, Serialize)]
pub struct PayloadChange<'a> {
    pub who: &'a str,
    pub email: &'a str,
    /// The roles held now.
    pub from: &'a [String],
    /// The roles to hold instead.
    pub roles: &'a [String],
}

/// `sha256=<hex>`: HMAC-SHA256 of `body` under `secret`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes keys of any length; this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    format!("sha256={}", crate::hex::encode(&digest))
}

/// Posts `body`. Any 2xx answer is success; anything else, a redirect
/// included, is a failure whose message names the origin only.
pub async fn send(
    endpoint: &Endpoint,
    body: Vec<u8>,
    timestamp: i64,
    delivery_id: &str,
    timeout: Duration,
) -> Result<(), String> {
    crate::providers::wix::install_crypto_provider();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .user_agent(concat!("accessctl/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {}", e.without_url()))?;
    let signature = signature(endpoint.secret.expose().as_bytes(), &body);
    tracing::debug!(origin = %endpoint.origin, "posting the request to the webhook");
    let response = client
        .post(endpoint.url.expose())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, signature)
        .header(TIMESTAMP_HEADER, timestamp.to_string())
        .header(DELIVERY_HEADER, delivery_id)
        .body(body)
        .send()
        .await
        .map_err(|e| {
            format!(
                "the webhook at {} failed: {}",
                endpoint.origin,
                e.without_url()
            )
        })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let text = response.text().await.unwrap_or_default();
    let said: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(200)
        .collect();
    let said = if said.is_empty() {
        String::new()
    } else {
        format!(": {said}")
    };
    Err(format!(
        "the webhook at {} answered HTTP {}{said}",
        endpoint.origin,
        status.as_u16()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_like_rfc_4231() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
