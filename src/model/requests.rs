//! The config's `requests:` block and a site's `request:` block, validated:
//! how access requests reach the owners of sites without an API key
//! (request mode). `config::requests` builds these; `request` delivers with
//! them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Contact;
use crate::template::Template;

/// Days between a request (or a reminder) and the next reminder, by default.
pub const DEFAULT_REMINDER_AFTER_DAYS: u32 = 3;

/// Reminders sent before a request is reported as stalled, by default.
pub const DEFAULT_MAX_REMINDERS: u32 = 1;

/// How an access request reaches the owner.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// An email over SMTP, to the owner.
    Email,
    /// A signed JSON POST to the agency's own system (Slack, Zapier, a
    /// helpdesk), which passes the request on.
    Webhook,
}

impl Channel {
    pub fn name(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Webhook => "webhook",
        }
    }
}

/// The config's `requests:` block, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The agency's name as the owner knows it (`{{agency}}`).
    pub agency: String,
    /// What the agency will do with the access (`{{purpose}}`); a plain
    /// default when absent.
    pub purpose: Option<String>,
    /// The channel used when a site does not choose one; when absent, email
    /// if it is configured, else the webhook.
    pub channel: Option<Channel>,
    pub email: Option<EmailSettings>,
    pub webhook: Option<WebhookSettings>,
    pub reminder_after_days: u32,
    pub max_reminders: u32,
    /// A message template from a file; the built-in one when absent.
    pub template: Option<Template>,
}

impl Settings {
    /// The channel a site's request goes through, if one is configured.
    pub fn channel_for(&self, site: &SiteRequest) -> Option<Channel> {
        site.channel
            .or(self.channel)
            .or(self.email.as_ref().map(|_| Channel::Email))
            .or(self.webhook.as_ref().map(|_| Channel::Webhook))
    }
}

/// `requests.email`: the sender and the SMTP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailSettings {
    pub from: Contact,
    /// Where the owner's replies go, when not to `from`.
    pub reply_to: Option<String>,
    pub smtp: SmtpSettings,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    pub host: SmtpHost,
    pub port: u16,
    pub security: Security,
    /// Names of the variables holding the credentials; never the values.
    pub username_env: Option<String>,
    pub password_env: Option<String>,
}

/// Where the SMTP server's name comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmtpHost {
    /// Written in the config (allowed only without credentials, so that a
    /// change to the file cannot send them elsewhere).
    Named(String),
    /// Read from this environment variable when sending.
    Env(String),
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: loopback hosts only (a local relay, tests).
    None,
}

impl Security {
    pub fn default_port(self) -> u16 {
        match self {
            Security::StartTls => 587,
            Security::Tls => 465,
            Security::None => 25,
        }
    }
}

/// `requests.webhook`: both values come from the environment, the URL
/// because it may carry a token and receives signed requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    pub url_env: String,
    pub secret_env: String,
}

/// A site's `request:` block: overrides for that site only.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SiteRequest {
    pub channel: Option<Channel>,
    /// Who receives the request instead of the site's `owner`.
    pub to: Option<Contact>,
    pub purpose: Option<String>,
}

/// Whether `host` names this machine: `localhost` or a loopback address.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_loopback_hosts() {
        assert!(is_loopback_host("localhost"));
        assert!(is_loopback_host("127.0.0.1"));
        assert!(is_loopback_host("[::1]"));
        assert!(is_loopback_host("::1"));
        assert!(!is_loopback_host("smtp.example.com"));
        assert!(!is_loopback_host("10.0.0.1"));
    }
}
