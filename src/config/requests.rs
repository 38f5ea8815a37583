//! The `requests:` block and the per-site `request:` overrides: their raw
//! types ([`super::raw::RawRequests`], [`super::raw::RawSiteRequest`]) resolved
//! into [`crate::model::requests::Settings`] and
//! [`crate::model::requests::SiteRequest`].
//!
//! The rules that keep secrets safe are checked here, where a mistake can be
//! placed in the file: credentials and the webhook URL are only ever named
//! by environment variables (`*_env`), a value that looks like a secret
//! itself is an error whose line is never shown, and SMTP credentials are
//! only sent to a host that also comes from the environment, so a change to
//! the file cannot redirect them. The message template the block names is
//! read and checked here too, so a typo in a placeholder fails `validate`,
//! not a delivery.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::locate::{Tree, YamlPath};
use super::raw::{RawChannel, RawContact, RawEmail, RawRequests, RawSecurity, RawSiteRequest};
use super::values::{checked_email, checked_name, is_env_name, looks_like_secret};
use crate::diag::Diagnostic;
use crate::model::requests::{
    Channel, DEFAULT_MAX_REMINDERS, DEFAULT_REMINDER_AFTER_DAYS, EmailSettings, Security, Settings,
    SiteRequest, SmtpHost, SmtpSettings, WebhookSettings, is_loopback_host,
};
use crate::model::{Contact, Pos};
use crate::template;

/// What resolving found.
#[derive(Debug, Default)]
pub struct Resolved<T> {
    pub value: Option<T>,
    pub diagnostics: Vec<Diagnostic>,
    /// Parts that did not deserialize, for when the schema said nothing.
    pub fallback: Vec<Diagnostic>,
}

struct Ctx<'a> {
    tree: &'a Tree<'a>,
    file: &'a Path,
    diagnostics: Vec<Diagnostic>,
    fallback: Vec<Diagnostic>,
}

impl Ctx<'_> {
    fn error(&mut self, pos: Pos, message: String, hint: Option<String>) {
        let mut d = Diagnostic::error(self.file, Some(pos), message);
        if let Some(hint) = hint {
            d = d.with_hint(hint);
        }
        self.diagnostics.push(d);
    }

    fn gate<'v, T: Deserialize<'v>>(&mut self, value: &'v Value, path: &YamlPath) -> Option<T> {
        match T::deserialize(value) {
            Ok(t) => Some(t),
            Err(e) => {
                // The message may quote a value; `*_env` values may be secrets.
                let d = Diagnostic::error(
                    self.file,
                    Some(self.tree.value_pos(path)),
                    format!("cannot read `{}`: {e}", path.name()),
                )
                .redacted();
                self.fallback.push(d);
                None
            }
        }
    }

    /// `*_env` must name a variable; the value is never repeated and its
    /// line never shown.
    fn env_name(&mut self, value: Option<&str>, path: &YamlPath, example: &str) -> bool {
        let Some(name) = value else { return true };
        if is_env_name(name) {
            return true;
        }
        let key = path.last_key().unwrap_or("value").to_string();
        let pos = self.tree.value_pos(path);
        let d = if looks_like_secret(name) {
            Diagnostic::error(
                self.file,
                Some(pos),
                format!("`{}` looks like a secret itself", path),
            )
            .with_hint(format!(
                "put the value in an environment variable and write its name here, e.g. `{key}: {example}`; if a secret was committed, revoke it"
            ))
        } else {
            Diagnostic::error(
                self.file,
                Some(pos),
                format!(
                    "`{}` must name an environment variable (upper-case letters, digits and `_`)",
                    path
                ),
            )
            .with_hint(format!(
                "e.g. `{key}: {example}`; the value itself goes in that variable"
            ))
        };
        self.diagnostics.push(d.redacted());
        false
    }

    fn email(&mut self, email: &str, path: &YamlPath, whose: &str) -> Option<String> {
        checked_email(self.file, self.tree, email, path, whose)
            .map_err(|d| self.diagnostics.push(d))
            .ok()
    }

    /// A name with a control character is an error ([`checked_name`]);
    /// `allow_newline` only for prose that goes into a message body.
    fn name(&mut self, value: &str, path: &YamlPath, what: &str, allow_newline: bool) -> bool {
        match checked_name(self.file, self.tree, value, path, what, allow_newline) {
            Some(d) => {
                self.diagnostics.push(d);
                false
            }
            None => true,
        }
    }

    fn contact(&mut self, raw: &RawContact, path: &YamlPath, whose: &str) -> Option<Contact> {
        let name_ok = raw.name.as_deref().is_none_or(|n| {
            self.name(n, &path.key("name"), &format!("the name of {whose}"), false)
        });
        let email = self.email(&raw.email, &path.key("email"), whose)?;
        if !name_ok {
            return None;
        }
        Some(Contact {
            name: raw
                .name
                .as_ref()
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty()),
            email,
        })
    }
}

/// Resolves the top-level `requests:` block. `file` places the template.
pub fn resolve(value: Option<&Value>, tree: &Tree, file: &Path) -> Resolved<Settings> {
    let mut ctx = Ctx {
        tree,
        file,
        diagnostics: Vec::new(),
        fallback: Vec::new(),
    };
    let value = value.and_then(|v| resolve_settings(&mut ctx, v));
    Resolved {
        value,
        diagnostics: ctx.diagnostics,
        fallback: ctx.fallback,
    }
}

fn resolve_settings(ctx: &mut Ctx<'_>, v: &Value) -> Option<Settings> {
    let path = YamlPath::root().key("requests");
    // Secrets first: these checks do not need the rest to be readable.
    let smtp_path = path.key("email").key("smtp");
    let webhook_path = path.key("webhook");
    let smtp = v.get("email").and_then(|e| e.get("smtp"));
    let webhook = v.get("webhook");
    let str_at = |parent: Option<&Value>, key: &str| -> Option<String> {
        parent
            .and_then(|p| p.get(key))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let mut ok = true;
    for (key, example) in [
        ("host_env", "SMTP_HOST"),
        ("username_env", "SMTP_USERNAME"),
        ("password_env", "SMTP_PASSWORD"),
    ] {
        ok &= ctx.env_name(str_at(smtp, key).as_deref(), &smtp_path.key(key), example);
    }
    for (key, example) in [
        ("url_env", "ACCESS_REQUEST_WEBHOOK_URL"),
        ("secret_env", "ACCESS_REQUEST_WEBHOOK_SECRET"),
    ] {
        ok &= ctx.env_name(
            str_at(webhook, key).as_deref(),
            &webhook_path.key(key),
            example,
        );
    }
    let raw = ctx.gate::<RawRequests>(v, &path)?;

    if raw.agency.trim().is_empty() {
        let pos = ctx.tree.value_pos(&path.key("agency"));
        ctx.error(pos, "`requests.agency` is empty".to_string(), None);
        ok = false;
    }
    ok &= ctx.name(&raw.agency, &path.key("agency"), "`requests.agency`", false);
    if let Some(purpose) = &raw.purpose {
        ok &= ctx.name(purpose, &path.key("purpose"), "`requests.purpose`", true);
    }
    let email = match &raw.email {
        Some(e) => resolve_email(ctx, e, &path.key("email")),
        None => Some(None),
    };
    let webhook = raw.webhook.as_ref().map(|w| WebhookSettings {
        url_env: w.url_env.clone(),
        secret_env: w.secret_env.clone(),
    });
    if raw.email.is_none() && webhook.is_none() {
        let pos = ctx.tree.key_pos(&path);
        ctx.error(
            pos,
            "`requests` configures no channel, so no request can be sent".to_string(),
            Some(
                "add `email: { from: …, smtp: … }` or `webhook: { url_env: …, secret_env: … }`"
                    .to_string(),
            ),
        );
        ok = false;
    }
    let channel = raw.channel.map(channel_of);
    if let Some(c) = channel
        && !configured(c, raw.email.is_some(), webhook.is_some())
    {
        let pos = ctx.tree.value_pos(&path.key("channel"));
        ctx.error(
            pos,
            format!(
                "`requests.channel` is `{}`, but `requests.{}` is not configured",
                c.name(),
                c.name()
            ),
            Some(format!(
                "configure `requests.{}`, or choose the other channel",
                c.name()
            )),
        );
        ok = false;
    }
    let template = match &raw.template {
        Some(name) => read_template(ctx, name, &path.key("template")),
        None => Some(None),
    };
    let (Some(email), Some(template), true) = (email, template, ok) else {
        return None;
    };
    Some(Settings {
        agency: raw.agency.trim().to_string(),
        purpose: raw
            .purpose
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty()),
        channel,
        email,
        webhook,
        reminder_after_days: raw
            .reminder_after_days
            .unwrap_or(DEFAULT_REMINDER_AFTER_DAYS),
        max_reminders: raw.max_reminders.unwrap_or(DEFAULT_MAX_REMINDERS),
        template,
    })
}

/// `Some(None)`: nothing to resolve; `None`: an error was reported.
fn resolve_email(
    ctx: &mut Ctx<'_>,
    raw: &RawEmail,
    path: &YamlPath,
) -> Option<Option<EmailSettings>> {
    let from = ctx.contact(&raw.from, &path.key("from"), "`requests.email.from`");
    let reply_to = match &raw.reply_to {
        Some(r) => Some(ctx.email(r, &path.key("reply_to"), "`requests.email.reply_to`")?),
        None => None,
    };
    let spath = path.key("smtp");
    let s = &raw.smtp;
    let security = match s.security.unwrap_or(RawSecurity::Starttls) {
        RawSecurity::Starttls => Security::StartTls,
        RawSecurity::Tls => Security::Tls,
        RawSecurity::None => Security::None,
    };
    let mut ok = true;
    let host = match (&s.host, &s.host_env) {
        (Some(host), None) => {
            let host = host.trim();
            if host.is_empty()
                || host.contains("://")
                || host.contains(char::is_whitespace)
                || host.contains('/')
            {
                let pos = ctx.tree.value_pos(&spath.key("host"));
                ctx.error(
                    pos,
                    format!("`requests.email.smtp.host` must be a host name, not `{host}`"),
                    Some("write the name only, e.g. `host: smtp.example.com`, and the port under `port`".to_string()),
                );
                ok = false;
            }
            if s.username_env.is_some() || s.password_env.is_some() {
                let pos = ctx.tree.value_pos(&spath.key("host"));
                ctx.error(
                    pos,
                    "the SMTP credentials would be sent to `requests.email.smtp.host`, which this file names: a change to the file could send them elsewhere".to_string(),
                    Some("name the host through an environment variable instead: `host_env: SMTP_HOST`".to_string()),
                );
                ok = false;
            }
            if security == Security::None && !is_loopback_host(host) {
                let pos = ctx.tree.value_pos(&spath.key("security"));
                ctx.error(
                    pos,
                    format!("`security: none` sends mail unencrypted, which is allowed only to a loopback host, not `{host}`"),
                    Some("use `security: starttls` (port 587) or `security: tls` (port 465)".to_string()),
                );
                ok = false;
            }
            SmtpHost::Named(host.to_string())
        }
        (None, Some(var)) => SmtpHost::Env(var.clone()),
        // The schema reports "exactly one of".
        _ => return None,
    };
    if s.username_env.is_some() != s.password_env.is_some() {
        let (given, missing) = if s.username_env.is_some() {
            ("username_env", "password_env")
        } else {
            ("password_env", "username_env")
        };
        let pos = ctx.tree.key_pos(&spath.key(given));
        ctx.error(
            pos,
            format!("`requests.email.smtp` has `{given}` but no `{missing}`"),
            Some("give both, or neither for a server that needs no login".to_string()),
        );
        ok = false;
    }
    let from = from?;
    if !ok {
        return None;
    }
    Some(Some(EmailSettings {
        from,
        reply_to,
        smtp: SmtpSettings {
            host,
            port: s.port.unwrap_or(security.default_port()),
            security,
            username_env: s.username_env.clone(),
            password_env: s.password_env.clone(),
        },
    }))
}

/// Reads and parses the template; `Some(None)` is never returned.
fn read_template(
    ctx: &mut Ctx<'_>,
    name: &str,
    path: &YamlPath,
) -> Option<Option<template::Template>> {
    let pos = ctx.tree.value_pos(path);
    let base = crate::confine::base_of(ctx.file);
    let file = base.join(name);
    // The template is part of the pull request: it is read only from inside
    // the config's directory, as a regular file, capped, so it can never
    // pull a secret (`/proc/self/environ`, `.git/config`) or an endless
    // stream (`/dev/zero`) into a plan or a message.
    let text = match crate::confine::read(base, name, crate::confine::TEMPLATE_CAP) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(_) => {
                ctx.error(
                    pos,
                    format!("the template {} is not valid UTF-8", file.display()),
                    Some("save it as UTF-8".to_string()),
                );
                return None;
            }
        },
        Err(refusal) => {
            ctx.error(
                pos,
                format!("the template `{name}` {refusal}"),
                Some(refusal.hint().to_string()),
            );
            return None;
        }
    };
    match template::parse(&text) {
        Ok(t) => Some(Some(t)),
        Err(errors) => {
            for e in errors {
                ctx.error(
                    pos,
                    format!("{}:{}:{}: {}", file.display(), e.line, e.col, e.message),
                    e.hint,
                );
            }
            None
        }
    }
}

/// Resolves a site's `request:` block. `settings` is the resolved
/// `requests:` block, `raw_requests` what the file wrote there (so a
/// channel is not reported missing when the block itself had errors).
pub fn resolve_site(
    site: &str,
    value: Option<&Value>,
    request_mode: bool,
    raw_requests: Option<&Value>,
    tree: &Tree,
    file: &Path,
) -> Resolved<SiteRequest> {
    let mut ctx = Ctx {
        tree,
        file,
        diagnostics: Vec::new(),
        fallback: Vec::new(),
    };
    let path = YamlPath::root().key("sites").key(site).key("request");
    let value = match value {
        None => Some(SiteRequest::default()),
        Some(v) => resolve_site_request(&mut ctx, site, v, &path, request_mode, raw_requests),
    };
    Resolved {
        value,
        diagnostics: ctx.diagnostics,
        fallback: ctx.fallback,
    }
}

fn resolve_site_request(
    ctx: &mut Ctx<'_>,
    site: &str,
    v: &Value,
    path: &YamlPath,
    request_mode: bool,
    raw_requests: Option<&Value>,
) -> Option<SiteRequest> {
    let raw = ctx.gate::<RawSiteRequest>(v, path)?;
    let mut ok = true;
    if !request_mode {
        let pos = ctx.tree.key_pos(path);
        ctx.diagnostics.push(
            Diagnostic::warning(
                ctx.file,
                Some(pos),
                format!("site `{site}` has an API key, so its `request` block is not used"),
            )
            .with_hint("remove it, or remove `api_key_env` to ask the owner instead"),
        );
    }
    let channel = raw.channel.map(channel_of);
    if let Some(c) = channel {
        match raw_requests {
            None => {
                let pos = ctx.tree.value_pos(&path.key("channel"));
                ctx.error(
                    pos,
                    format!(
                        "site `{site}` asks for the `{}` channel, but the config has no `requests:` block",
                        c.name()
                    ),
                    Some("add a top-level `requests:` block that configures it".to_string()),
                );
                ok = false;
            }
            Some(r) if r.get(c.name()).is_none() => {
                let pos = ctx.tree.value_pos(&path.key("channel"));
                ctx.error(
                    pos,
                    format!(
                        "site `{site}` asks for the `{}` channel, but `requests.{}` is not configured",
                        c.name(),
                        c.name()
                    ),
                    Some(format!("configure `requests.{}`, or choose the other channel", c.name())),
                );
                ok = false;
            }
            Some(_) => {}
        }
    }
    if let Some(purpose) = &raw.purpose {
        ok &= ctx.name(
            purpose,
            &path.key("purpose"),
            &format!("the request purpose of site `{site}`"),
            true,
        );
    }
    let to = match &raw.to {
        Some(c) => Some(ctx.contact(
            c,
            &path.key("to"),
            &format!("the request recipient of site `{site}`"),
        )?),
        None => None,
    };
    if !ok {
        return None;
    }
    Some(SiteRequest {
        channel,
        to,
        purpose: raw
            .purpose
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty()),
    })
}

fn channel_of(raw: RawChannel) -> Channel {
    match raw {
        RawChannel::Email => Channel::Email,
        RawChannel::Webhook => Channel::Webhook,
    }
}

fn configured(channel: Channel, email: bool, webhook: bool) -> bool {
    match channel {
        Channel::Email => email,
        Channel::Webhook => webhook,
    }
}
