//! Sending an access request as email over SMTP, with lettre.
//!
//! The server comes from `requests.email.smtp`; its credentials, and its
//! host when credentials are used, from environment variables read here, at
//! send time, so `plan` never needs them. STARTTLS is required when asked
//! for (lettre refuses to go on in plain text), `tls` speaks TLS from the
//! first byte, and `none` is refused for anything but a loopback host. The
//! body is plain UTF-8 text, quoted-printable encoded. A reminder refers to
//! the first message (`In-Reply-To`, `References`), so mail clients thread
//! them.

use std::time::{Duration, SystemTime};

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Mailbox, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use time::OffsetDateTime;

use crate::model::Contact;
use crate::model::requests::{Security, SmtpHost, SmtpSettings, is_loopback_host};
use crate::secret::ApiKey;

/// The server to send through, with credentials read from the environment.
pub struct Server {
    pub host: String,
    pub port: u16,
    pub security: Security,
    credentials: Option<(String, ApiKey)>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

impl Server {
    /// Reads what the settings name from the environment, and checks that
    /// an unencrypted connection goes to this machine only.
    pub fn resolve(settings: &SmtpSettings) -> Result<Server, String> {
        let host = match &settings.host {
            SmtpHost::Named(h) => h.clone(),
            SmtpHost::Env(var) => read_env(var)?.expose().to_string(),
        };
        if host.contains(char::is_whitespace) || host.contains('/') || host.is_empty() {
            return Err("the SMTP host is not a host name".to_string());
        }
        if settings.security == Security::None && !is_loopback_host(&host) {
            return Err(format!(
                "refusing to send mail unencrypted to `{host}`: `security: none` is allowed only for loopback hosts"
            ));
        }
        let credentials = match (&settings.username_env, &settings.password_env) {
            (Some(user), Some(password)) => {
                Some((read_env(user)?.expose().to_string(), read_env(password)?))
            }
            _ => None,
        };
        Ok(Server {
            host,
            port: settings.port,
            security: settings.security,
            credentials,
        })
    }
}

fn read_env(var: &str) -> Result<ApiKey, String> {
    ApiKey::from_env(var)
}

/// One email.
#[derive(Debug, Clone, Copy)]
pub struct Mail<'a> {
    pub from: &'a Contact,
    pub reply_to: Option<&'a str>,
    pub to: &'a Contact,
    pub subject: &'a str,
    pub body: &'a str,
    pub date: OffsetDateTime,
    /// Without the angle brackets.
    pub message_id: &'a str,
    /// The first request's Message-ID, for a reminder.
    pub in_reply_to: Option<&'a str>,
}

/// Builds the message; an address lettre cannot read is an error, and so
/// is a control character in any header value (lettre panics on a CR in a
/// mailbox name) or in the body (line breaks and tabs aside). The config
/// check refuses them first; this is defence in depth.
pub fn build(mail: &Mail<'_>) -> Result<Message, String> {
    let headers = [
        ("sender name", mail.from.name.as_deref()),
        ("sender address", Some(mail.from.email.as_str())),
        ("recipient name", mail.to.name.as_deref()),
        ("recipient address", Some(mail.to.email.as_str())),
        ("reply-to address", mail.reply_to),
        ("subject", Some(mail.subject)),
        ("message id", Some(mail.message_id)),
        ("first message id", mail.in_reply_to),
    ];
    for (what, value) in headers {
        if let Some(problem) = value.and_then(crate::escape::smtp_problem) {
            return Err(format!("cannot build the email: the {what}: {problem}"));
        }
    }
    if let Some(c) = mail
        .body
        .chars()
        .find(|&c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(format!(
            "cannot build the email: the body contains the control character `{}`",
            crate::escape::text(&c.to_string())
        ));
    }
    let mut builder = Message::builder()
        .from(mailbox(mail.from)?)
        .to(mailbox(mail.to)?)
        .subject(mail.subject)
        .date(SystemTime::from(mail.date))
        .message_id(Some(format!("<{}>", mail.message_id)))
        .user_agent(format!("accessctl/{}", env!("CARGO_PKG_VERSION")));
    if let Some(reply_to) = mail.reply_to {
        builder = builder.reply_to(Mailbox::new(None, address(reply_to)?));
    }
    if let Some(first) = mail.in_reply_to {
        builder = builder
            .in_reply_to(format!("<{first}>"))
            .references(format!("<{first}>"));
    }
    builder
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .header(ContentTransferEncoding::QuotedPrintable)
                .body(mail.body.to_string()),
        )
        .map_err(|e| format!("cannot build the email: {e}"))
}

/// Sends one email. The error says what the server or the connection said;
/// it never holds the credentials.
pub async fn send(server: &Server, mail: &Mail<'_>, timeout: Duration) -> Result<(), String> {
    let message = build(mail)?;
    let builder = match server.security {
        Security::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&server.host)
            .map_err(|e| format!("cannot set up TLS for `{}`: {e}", server.host))?,
        Security::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&server.host)
            .map_err(|e| format!("cannot set up TLS for `{}`: {e}", server.host))?,
        Security::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&server.host),
    };
    let mut builder = builder.port(server.port).timeout(Some(timeout));
    if let Some((user, password)) = &server.credentials {
        builder = builder.credentials(Credentials::new(
            user.clone(),
            password.expose().to_string(),
        ));
    }
    let transport = builder.build();
    tracing::debug!(host = %server.host, port = server.port, "sending the request by SMTP");
    transport
        .send(message)
        .await
        .map(|_| ())
        .map_err(|e| format!("SMTP server {}:{}: {e}", server.host, server.port))
}

fn mailbox(contact: &Contact) -> Result<Mailbox, String> {
    Ok(Mailbox::new(contact.name.clone(), address(&contact.email)?))
}

fn address(email: &str) -> Result<Address, String> {
    email
        .parse::<Address>()
        .map_err(|e| format!("`{email}` is not an address the mailer accepts: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(name: &str, email: &str) -> Contact {
        Contact {
            name: Some(name.to_string()),
            email: email.to_string(),
        }
    }

    fn mail<'a>(from: &'a Contact, to: &'a Contact, subject: &'a str) -> Mail<'a> {
        Mail {
            from,
            reply_to: None,
            to,
            subject,
            body: "Hello,\nplease add us.\n",
            date: OffsetDateTime::UNIX_EPOCH,
            message_id: "1@agency.example",
            in_reply_to: None,
        }
    }

    #[test]
    fn a_control_character_in_a_header_is_an_error_not_a_panic() {
        // Hole 8: a CR in a name panicked inside lettre at apply.
        let agency = contact("Agency", "access@agency.example");
        let owner = contact("Jane\rBcc: x@evil.example", "jane@shop.example");
        let err = build(&mail(&agency, &owner, "Access")).expect_err("refused");
        assert_eq!(
            err,
            "cannot build the email: the recipient name: it contains the control character `\\r`"
        );
        let sender = contact("Agency\n::add-mask::x", "access@agency.example");
        let jane = contact("Jane", "jane@shop.example");
        assert!(build(&mail(&sender, &jane, "Access")).is_err());
        assert!(build(&mail(&agency, &jane, "Access\r\nBcc: x@evil.example")).is_err());
        assert!(build(&mail(&agency, &jane, "Access")).is_ok());
    }
}
