//! Secrets that must never be printed.
//!
//! An [`ApiKey`] formats as `[redacted]` under both `Debug` and `Display`, so
//! it cannot reach a log line, an error message, a plan file or a panic by
//! accident. The only way to the text is [`ApiKey::expose`], used in exactly
//! one place: building the `Authorization` header.

use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(text: impl Into<String>) -> Self {
        ApiKey(text.into())
    }

    /// Read the key from the named environment variable.
    pub fn from_env(var: &str) -> Result<Self, String> {
        match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Ok(ApiKey(v.trim().to_string())),
            Ok(_) => Err(format!("environment variable `{var}` is empty")),
            Err(std::env::VarError::NotPresent) => {
                Err(format!("environment variable `{var}` is not set"))
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(format!("environment variable `{var}` is not valid UTF-8"))
            }
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Whether `text` holds something that is unmistakably an API key: a token
/// of at least 20 key characters starting like Wix keys and JWTs do (`IST.`,
/// `JWS.`, `eyJ`). Used to keep keys pasted into the wrong place (any field,
/// a comment, a ledger) out of error messages.
pub fn contains_api_key(text: &str) -> bool {
    key_tokens(text).next().is_some()
}

/// `text` with every such token replaced by `[redacted]`.
pub fn redact_api_keys(text: &str) -> String {
    let mut out = text.to_string();
    for token in key_tokens(text).collect::<Vec<_>>() {
        out = out.replace(token, "[redacted]");
    }
    out
}

fn key_tokens(text: &str) -> impl Iterator<Item = &str> {
    const PREFIXES: [&str; 3] = ["IST.", "JWS.", "eyJ"];
    text.split(|c: char| !(c.is_ascii_alphanumeric() || "._-+/=".contains(c)))
        .filter(|t| t.len() >= 20 && PREFIXES.iter().any(|p| t.starts_with(p)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_formats_the_key() {
        let key = ApiKey::new("IST.super-secret");
        assert!(!format!("{key:?} {key}").contains("super-secret"));
        assert_eq!(key.expose(), "IST.super-secret");
    }

    #[test]
    fn finds_keys_in_text() {
        let key = "IST.eyJraWQiOiJhYmMiLCJhbGciOiJSUzI1NiJ9.c2lnbmF0dXJl";
        let line = format!("    wix: {{ api_key: {key} }}");
        assert!(contains_api_key(&line));
        assert_eq!(redact_api_keys(&line), "    wix: { api_key: [redacted] }");
        assert!(!contains_api_key("api_key_env: ACME_WIX_API_KEY"));
        assert!(!contains_api_key(
            "site_id: 0d6b9a7e-0000-4000-8000-000000000001"
        ));
        assert!(!contains_api_key("email: ist.person@agency.example"));
    }
}
