//! The one email check, shared by the config, the ledger, importers and the
//! emulator: a leaf, so that none of them depends on another for it.

/// Whether two emails are the same address: compared lower-cased, as the
/// config writes them and the platform-neutral diff compares them.
pub fn same(a: &str, b: &str) -> bool {
    a == b || a.to_lowercase() == b.to_lowercase()
}

/// What is wrong with an email, if anything. A sound, simple check: one
/// `@`, something before it, a domain with a dot after it, no spaces.
pub fn problem(email: &str) -> Option<&'static str> {
    if email.is_empty() {
        return Some("it is empty");
    }
    if email.chars().any(char::is_control) {
        return Some("it contains a control character");
    }
    if email.chars().any(char::is_whitespace) {
        return Some("it contains a space");
    }
    let mut parts = email.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return Some(if email.contains('@') {
            "it has more than one `@`"
        } else {
            "it has no `@`"
        });
    };
    if local.is_empty() {
        return Some("nothing before the `@`");
    }
    if domain.is_empty() {
        return Some("nothing after the `@`");
    }
    if !domain.contains('.') {
        return Some("the domain after the `@` has no dot");
    }
    if domain.split('.').any(str::is_empty) {
        return Some("the domain after the `@` has an empty part");
    }
    if domain
        .chars()
        .any(|c| !(c.is_alphanumeric() || c == '-' || c == '.'))
    {
        return Some("the domain after the `@` has a character domains cannot have");
    }
    None
}
