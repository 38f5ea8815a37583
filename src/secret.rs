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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_formats_the_key() {
        let key = ApiKey::new("IST.super-secret");
        assert!(!format!("{key:?} {key}").contains("super-secret"));
        assert_eq!(key.expose(), "IST.super-secret");
    }
}
