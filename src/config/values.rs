//! Checks of single values that both [`super::validate`] and
//! [`super::requests`] make: emails, names that reach headers and logs,
//! environment variable names, and values that look like secrets. Each check
//! reads one value and, when it fails, says where; none knows the rest of
//! the document.

use std::path::Path;

use super::locate::{Tree, YamlPath};
use crate::diag::Diagnostic;

/// An email lower-cased when it is sound, or the diagnostic for the value
/// at `path` saying what is wrong with it (`whose` names its owner).
pub(crate) fn checked_email(
    file: &Path,
    tree: &Tree<'_>,
    email: &str,
    path: &YamlPath,
    whose: &str,
) -> Result<String, Diagnostic> {
    match crate::email::problem(email) {
        None => Ok(email.to_lowercase()),
        Some(problem) => Err(Diagnostic::error(
            file,
            Some(tree.value_pos(path)),
            format!("invalid email `{email}` for {whose}: {problem}"),
        )
        .with_hint("an email looks like `name@example.com`")),
    }
}

/// The diagnostic for a name (`what`, at `path`) that holds a control
/// character, or `None`. Names go into email headers (where CR or LF would
/// start a header of their own), into the request message and into plan
/// output, so each must be one line of plain text. `allow_newline` is for
/// prose that is substituted into a message body only (`purpose`).
pub(crate) fn checked_name(
    file: &Path,
    tree: &Tree<'_>,
    value: &str,
    path: &YamlPath,
    what: &str,
    allow_newline: bool,
) -> Option<Diagnostic> {
    let bad = value
        .chars()
        .find(|&c| c.is_control() && !(allow_newline && (c == '\n' || c == '\t')))?;
    let shown = crate::escape::text(&bad.to_string()).into_owned();
    Some(
        Diagnostic::error(
            file,
            Some(tree.value_pos(path)),
            format!("{what} contains the control character `{shown}`"),
        )
        .with_hint(if allow_newline {
            "remove it: only line breaks and tabs may be written here"
        } else {
            "write it on one line of plain text: a line break or control character here would reach email headers and CI logs"
        }),
    )
}

/// Whether `name` is a plausible environment variable name.
pub(crate) fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_uppercase() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// Whether a string that is not a variable name looks like a credential:
/// a Wix key prefix, a JWT, or long and mixed like generated tokens are.
pub(crate) fn looks_like_secret(value: &str) -> bool {
    const PREFIXES: [&str; 3] = ["IST.", "JWS.", "eyJ"];
    if PREFIXES.iter().any(|p| value.starts_with(p)) {
        return true;
    }
    let len = value.chars().count();
    let lower = value.chars().any(|c| c.is_ascii_lowercase());
    let digit = value.chars().any(|c| c.is_ascii_digit());
    let punct = value
        .chars()
        .any(|c| !c.is_ascii_alphanumeric() && c != '_' && !c.is_whitespace());
    let spaces = value.chars().any(char::is_whitespace);
    (len >= 32 && !spaces) || (lower && digit && punct) || (len >= 20 && digit && (lower || punct))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_emails() {
        assert_eq!(crate::email::problem("a@b.example"), None);
        assert_eq!(crate::email::problem("Alice.Smith+x@mail.b.example"), None);
        assert!(crate::email::problem("a.b.example").is_some());
        assert!(crate::email::problem("a@@b.example").is_some());
        assert!(crate::email::problem("@b.example").is_some());
        assert!(crate::email::problem("a@localhost").is_some());
        assert!(crate::email::problem("a b@c.example").is_some());
        assert!(crate::email::problem("a@b..example").is_some());
        assert!(crate::email::problem("").is_some());
    }

    #[test]
    fn tells_names_from_secrets() {
        assert!(is_env_name("ACME_WIX_API_KEY"));
        assert!(is_env_name("_K1"));
        assert!(!is_env_name("acme_key"));
        assert!(!is_env_name("1KEY"));
        assert!(looks_like_secret(
            "IST.eyJraWQiOiJQb3pIX2FDMiIsImFsZyI6IlJTMjU2In0"
        ));
        assert!(looks_like_secret("a1b2-c3d4"));
        assert!(looks_like_secret("5f2c0e1a9b7d4c3e8f6a2b1c0d9e8f7a"));
        assert!(!looks_like_secret("acme key"));
        assert!(!looks_like_secret("acme_wix_key"));
    }
}
