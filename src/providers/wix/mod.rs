//! The Wix provider: a reqwest (rustls) client for the site-access endpoints.
//!
//! Every path, method and id header is in [`endpoints`], so correcting an
//! unconfirmed API detail is a one-line change there. The client reads live
//! state ([`WixClient::read_site`]) and performs single changes; it never
//! decides what to change. The API key lives in an [`ApiKey`] and is only
//! exposed when the `Authorization` header is built.

pub mod endpoints;
pub mod wire;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::{Mutex, OnceCell};
use tracing::{Instrument as _, debug, debug_span, info_span};

use crate::secret::ApiKey;
use crate::state::{LiveSite, RoleDef};
use endpoints::{Endpoint, IdHeader};

pub const DEFAULT_API_BASE: &str = "https://www.wixapis.com";
pub const API_BASE_ENV: &str = "ACCESSCTL_WIX_API_BASE";
/// Larger answers are refused: no legitimate response here comes near it.
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Credentials and ids for one site.
#[derive(Debug, Clone)]
pub struct SiteAccess {
    pub site_key: String,
    pub site_id: String,
    pub account_id: String,
    pub key: ApiKey,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// Wix answered with an error status.
    Status { status: u16, detail: String },
    /// No answer: connection refused, reset, timed out.
    Transport { detail: String, maybe_sent: bool },
    /// An answer that is not the JSON expected.
    Decode { detail: String },
}

/// A failed call, naming the site and the call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{call} on site `{site}` failed: {}", describe(kind))]
pub struct WixError {
    pub call: &'static str,
    pub site: String,
    pub kind: ErrorKind,
}

fn describe(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::Status { status, detail } => {
            let hint = match status {
                401 => {
                    " (hint: check that the site's api_key_env variable holds a valid Wix API key)"
                }
                403 => {
                    " (hint: the key must be created by the account that owns the site, with the Manage Contributors permission)"
                }
                404 => " (hint: check the site's `site_id` and `account_id`)",
                _ => "",
            };
            if detail.is_empty() {
                format!("HTTP {status}{hint}")
            } else {
                format!("HTTP {status}: {detail}{hint}")
            }
        }
        ErrorKind::Transport { detail, .. } => detail.clone(),
        ErrorKind::Decode { detail } => format!("unexpected response: {detail}"),
    }
}

impl WixError {
    /// True when the request may have reached Wix and been acted on.
    pub fn outcome_unknown(&self) -> bool {
        match &self.kind {
            ErrorKind::Transport { maybe_sent, .. } => *maybe_sent,
            ErrorKind::Status { status, .. } => *status >= 500,
            ErrorKind::Decode { .. } => true,
        }
    }
}

/// An invite Wix created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentInvite {
    pub id: String,
    pub email: String,
    pub sent_at: Option<OffsetDateTime>,
    pub expires_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BulkOutcome {
    pub invites: Vec<SentInvite>,
    pub failed_emails: Vec<String>,
}

/// The HTTP client, shared by all sites of a run.
#[derive(Debug, Clone)]
pub struct WixClient {
    http: reqwest::Client,
    base: String,
    roles: RoleCache,
}

/// Roles per account id, each fetched at most once per run even when several
/// sites of one account are read at the same time.
type RoleCache = Arc<Mutex<BTreeMap<String, Arc<OnceCell<Vec<RoleDef>>>>>>;

/// reqwest is built without a default TLS crypto provider (ring is much
/// cheaper to compile than aws-lc); every HTTP client needs it installed
/// first. Installing it twice is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Keys travel only over TLS, except to a loopback address (the emulator).
pub fn check_base_url(base: &str) -> Result<String, String> {
    let url =
        reqwest::Url::parse(base).map_err(|e| format!("invalid Wix API base URL `{base}`: {e}"))?;
    match url.scheme() {
        "https" => {}
        "http" => {
            let host = url.host_str().unwrap_or("");
            let loopback = host == "localhost"
                || host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if !loopback {
                return Err(format!(
                    "refusing Wix API base URL `{base}`: API keys are only sent over https (plain http is allowed for loopback addresses only)"
                ));
            }
        }
        other => {
            return Err(format!(
                "unsupported scheme `{other}` in Wix API base URL `{base}`"
            ));
        }
    }
    Ok(base.trim_end_matches('/').to_string())
}

impl WixClient {
    pub fn new(base: &str, timeout: Duration) -> Result<Self, String> {
        let base = check_base_url(base)?;
        install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("accessctl/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(WixClient {
            http,
            base,
            roles: Arc::default(),
        })
    }

    async fn call<B: Serialize, R: DeserializeOwned>(
        &self,
        endpoint: &Endpoint,
        method: &Method,
        site: &SiteAccess,
        path_arg: Option<&str>,
        query: &[(&str, &str)],
        body: Option<&B>,
    ) -> Result<R, WixError> {
        let fail = |kind| WixError {
            call: endpoint.name,
            site: site.site_key.clone(),
            kind,
        };
        let path = match path_arg {
            Some(arg) => endpoint.path.replace("{id}", arg),
            None => endpoint.path.to_string(),
        };
        let url = format!("{}{}", self.base, path);
        let mut request = self
            .http
            .request(method.clone(), &url)
            .header("Authorization", site.key.expose())
            .query(query);
        request = match endpoint.id_header {
            IdHeader::Site => request.header("wix-site-id", &site.site_id),
            IdHeader::Account => request.header("wix-account-id", &site.account_id),
        };
        if let Some(body) = body {
            request = request.json(body);
        }
        let span = debug_span!("wix", call = endpoint.name, site = %site.site_key);
        let (status, bytes) = async {
            debug!(%method, %path, "request");
            let response = request.send().await.map_err(|e| ErrorKind::Transport {
                detail: transport_detail(&e),
                // A connect failure never reached Wix; anything later may have.
                maybe_sent: !e.is_connect(),
            })?;
            let status = response.status();
            let bytes = read_capped(response)
                .await
                .map_err(|detail| ErrorKind::Transport {
                    detail,
                    maybe_sent: true,
                })?;
            debug!(status = status.as_u16(), bytes = bytes.len(), "response");
            Ok((status, bytes))
        }
        .instrument(span)
        .await
        .map_err(fail)?;
        if !status.is_success() {
            return Err(fail(ErrorKind::Status {
                status: status.as_u16(),
                detail: error_detail(status, &bytes),
            }));
        }
        let text = if bytes.is_empty() {
            &b"{}"[..]
        } else {
            &bytes[..]
        };
        serde_json::from_slice(text).map_err(|e| {
            fail(ErrorKind::Decode {
                detail: format!("{e} (body starts: {})", preview(&bytes)),
            })
        })
    }

    /// Roles of an account, fetched once per account per run.
    pub async fn roles(&self, site: &SiteAccess) -> Result<Vec<RoleDef>, WixError> {
        let cell = {
            let mut map = self.roles.lock().await;
            map.entry(site.account_id.clone()).or_default().clone()
        };
        cell.get_or_try_init(|| async {
            let e = &endpoints::GET_ROLES_INFO;
            let response: wire::GetRolesInfoResponse = self
                .call(
                    e,
                    &e.method,
                    site,
                    None,
                    &[("locale", "en"), ("filter.roleLevel", "SITE_LEVEL")],
                    None::<&()>,
                )
                .await?;
            Ok(roles_from_wire(response))
        })
        .await
        .cloned()
    }

    /// Contributor account ids, optionally only those holding `role_id`.
    async fn query_contributors(
        &self,
        site: &SiteAccess,
        role_id: Option<&str>,
    ) -> Result<Vec<wire::Contributor>, WixError> {
        let e = &endpoints::QUERY_CONTRIBUTORS;
        let query: Vec<(&str, &str)> = role_id
            .map(|r| ("filter.policyIds", r))
            .into_iter()
            .collect();
        let response: wire::QuerySiteContributorsResponse = self
            .call(e, &e.method, site, None, &query, None::<&()>)
            .await?;
        Ok(response.contributors)
    }

    /// Everything the plan needs about a site: its roles, its owner and each
    /// contributor's role set (learned by one query per role, since Wix
    /// cannot return a contributor's roles directly).
    pub async fn read_site(&self, site: &SiteAccess) -> Result<LiveSite, WixError> {
        let span = info_span!("read_site", site = %site.site_key);
        async {
            let roles = self.roles(site).await?;
            let all = self.query_contributors(site, None).await?;
            let mut owners: BTreeSet<String> = BTreeSet::from([site.account_id.clone()]);
            owners.extend(all.iter().filter_map(|c| c.account_owner_id.clone()));
            let mut contributors: BTreeMap<String, BTreeSet<String>> = all
                .iter()
                .filter_map(|c| c.account_id.clone())
                .filter(|a| !owners.contains(a))
                .map(|a| (a, BTreeSet::new()))
                .collect();
            // Only the owner: no need to ask who holds which role.
            if !contributors.is_empty() {
                for role in &roles {
                    for c in self.query_contributors(site, Some(&role.id)).await? {
                        if let Some(roles) = c.account_id.and_then(|a| contributors.get_mut(&a)) {
                            roles.insert(role.id.clone());
                        }
                    }
                }
            }
            Ok(LiveSite {
                roles,
                owners,
                contributors,
            })
        }
        .instrument(span)
        .await
    }

    /// Bulk Invite: one role set, up to [`endpoints::MAX_INVITES_PER_CALL`] emails.
    pub async fn bulk_invite(
        &self,
        site: &SiteAccess,
        role_ids: &[String],
        emails: &[String],
    ) -> Result<BulkOutcome, WixError> {
        let e = &endpoints::BULK_INVITE;
        let body = wire::BulkSiteInviteRequest {
            policy_ids: role_ids,
            emails,
            default_email_language: "en",
        };
        let response: wire::BulkSiteInviteResponse = self
            .call(e, &e.method, site, None, &[], Some(&body))
            .await?;
        let invites = response
            .invites
            .into_iter()
            .filter_map(|i| {
                Some(SentInvite {
                    id: i.id?,
                    email: i.email?.to_lowercase(),
                    sent_at: i.date_created.as_deref().and_then(parse_time),
                    expires_at: i.expiration_date.as_deref().and_then(parse_time),
                })
            })
            .collect();
        Ok(BulkOutcome {
            invites,
            failed_emails: response
                .failed_emails
                .into_iter()
                .map(|e| e.to_lowercase())
                .collect(),
        })
    }

    pub async fn resend_invite(&self, site: &SiteAccess, invite_id: &str) -> Result<(), WixError> {
        let e = &endpoints::RESEND_INVITE;
        let _: wire::SiteInviteResponse = self
            .call(
                e,
                &e.method,
                site,
                Some(invite_id),
                &[],
                Some(&serde_json::json!({})),
            )
            .await?;
        Ok(())
    }

    pub async fn revoke_invite(&self, site: &SiteAccess, invite_id: &str) -> Result<(), WixError> {
        let e = &endpoints::REVOKE_INVITE;
        let _: serde_json::Value = self
            .call(e, &e.method, site, Some(invite_id), &[], None::<&()>)
            .await?;
        Ok(())
    }

    /// Replace a contributor's whole role set. Never called with an empty set:
    /// removal is [`WixClient::remove_contributor`].
    pub async fn change_role(
        &self,
        site: &SiteAccess,
        account_id: &str,
        role_ids: &[String],
    ) -> Result<(), WixError> {
        let e = &endpoints::CHANGE_ROLE;
        if role_ids.is_empty() {
            return Err(WixError {
                call: e.name,
                site: site.site_key.clone(),
                kind: ErrorKind::Status {
                    status: 400,
                    detail: "refusing to send an empty role set; remove the contributor instead"
                        .to_string(),
                },
            });
        }
        let body = wire::ChangeContributorRoleRequest {
            account_id,
            new_roles: role_ids
                .iter()
                .map(|r| wire::RoleRef { role_id: r })
                .collect(),
        };
        let _: serde_json::Value = self
            .call(e, &e.method, site, None, &[], Some(&body))
            .await?;
        Ok(())
    }

    /// Remove a contributor. The docs disagree on the method (POST or
    /// DELETE); on 404/405 for the first, the other is tried.
    pub async fn remove_contributor(
        &self,
        site: &SiteAccess,
        account_id: &str,
    ) -> Result<(), WixError> {
        let e = &endpoints::REMOVE_CONTRIBUTOR;
        let body = wire::RemoveContributorRequest { account_id };
        let first: Result<serde_json::Value, WixError> =
            self.call(e, &e.method, site, None, &[], Some(&body)).await;
        match first {
            Err(WixError {
                kind:
                    ErrorKind::Status {
                        status: 404 | 405, ..
                    },
                ..
            }) => {
                let _: serde_json::Value = self
                    .call(
                        e,
                        &endpoints::REMOVE_FALLBACK_METHOD,
                        site,
                        None,
                        &[],
                        Some(&body),
                    )
                    .await?;
                Ok(())
            }
            other => other.map(|_| ()),
        }
    }
}

fn roles_from_wire(response: wire::GetRolesInfoResponse) -> Vec<RoleDef> {
    let predefined = response.predefined_roles.into_iter().map(|r| (r, false));
    let custom = response.custom_roles.into_iter().map(|r| (r, true));
    let mut roles: Vec<RoleDef> = predefined
        .chain(custom)
        // Roles restricted from the site level cannot be granted on a site.
        .filter(|(r, _)| r.restrict_from_level.as_deref() != Some("Site"))
        .filter_map(|(r, custom)| {
            let id = r.id?;
            Some(RoleDef {
                title: r.title.unwrap_or_else(|| id.clone()),
                id,
                custom,
            })
        })
        .collect();
    roles.sort_by(|a, b| (&a.title, &a.id).cmp(&(&b.title, &b.id)));
    roles.dedup_by(|a, b| a.id == b.id);
    roles
}

fn parse_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("reading the response failed: {}", transport_detail(&e)))?
    {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(format!("response larger than {MAX_BODY_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn error_detail(status: StatusCode, bytes: &[u8]) -> String {
    match serde_json::from_slice::<wire::ErrorBody>(bytes) {
        Ok(body) if !body.summary().is_empty() => body.summary(),
        _ if bytes.is_empty() => status.canonical_reason().unwrap_or("").to_string(),
        _ => format!("non-JSON body: {}", preview(bytes)),
    }
}

fn preview(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    one_line.chars().take(120).collect()
}

fn transport_detail(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "the request timed out".to_string()
    } else if e.is_connect() {
        "could not connect to the Wix API".to_string()
    } else {
        // reqwest's Display names the URL, never headers, so no key leaks.
        let mut text = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            text.push_str(&format!(": {s}"));
            source = s.source();
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_must_be_tls_unless_loopback() {
        assert!(check_base_url("https://www.wixapis.com/").is_ok());
        assert!(check_base_url("http://127.0.0.1:8080").is_ok());
        assert!(check_base_url("http://localhost:1").is_ok());
        assert!(check_base_url("http://[::1]:1").is_ok());
        assert!(check_base_url("http://example.com").is_err());
        assert!(check_base_url("ftp://127.0.0.1").is_err());
    }
}
