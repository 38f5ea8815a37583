//! Resolving role names from the config against a site's live role list.
//!
//! A role may be named by its Wix title (case-insensitive), by a kebab-case
//! slug of the title (`admin-co-owner`), or by its id. An unknown name is an
//! error that lists the closest titles the site offers.

use crate::diag::did_you_mean;
use crate::state::RoleDef;

/// `Admin (Co-Owner)` → `admin-co-owner`.
pub fn slug(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// Find a role by title, slug or id.
pub fn resolve<'a>(name: &str, roles: &'a [RoleDef]) -> Result<&'a RoleDef, String> {
    let wanted = name.trim();
    let lower = wanted.to_lowercase();
    // Compared without allocating: this runs for every role of every grant.
    let found = roles
        .iter()
        .find(|r| {
            r.title
                .chars()
                .flat_map(char::to_lowercase)
                .eq(lower.chars())
        })
        .or_else(|| roles.iter().find(|r| r.id == wanted))
        .or_else(|| {
            let wanted_slug = slug(wanted);
            roles.iter().find(|r| slug(&r.title) == wanted_slug)
        });
    if let Some(role) = found {
        return Ok(role);
    }
    let mut message = format!("unknown role `{wanted}`");
    let titles: Vec<&str> = roles.iter().map(|r| r.title.as_str()).collect();
    if let Some(best) = did_you_mean(wanted, titles.iter().copied()) {
        message.push_str(&format!("; did you mean `{best}`?"));
    }
    let mut close: Vec<&str> = titles
        .iter()
        .copied()
        .filter(|t| {
            let t = t.to_lowercase();
            lower
                .split_whitespace()
                .any(|w| w.len() > 2 && t.contains(w))
        })
        .collect();
    if close.is_empty() {
        close = titles.clone();
    }
    message.push_str(&format!(
        " (the site's roles include: {})",
        close
            .iter()
            .map(|t| format!("`{t}`"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Err(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles() -> Vec<RoleDef> {
        ["Admin (Co-Owner)", "Website Manager", "Blog Writer"]
            .iter()
            .enumerate()
            .map(|(i, t)| RoleDef {
                id: format!("r{i}"),
                title: t.to_string(),
                custom: false,
            })
            .collect()
    }

    #[test]
    fn resolves_title_slug_and_id() {
        let r = roles();
        assert_eq!(
            resolve("website manager", &r).map(|x| &x.id),
            Ok(&"r1".to_string())
        );
        assert_eq!(
            resolve("admin-co-owner", &r).map(|x| &x.id),
            Ok(&"r0".to_string())
        );
        assert_eq!(resolve("r2", &r).map(|x| &x.id), Ok(&"r2".to_string()));
    }

    #[test]
    fn unknown_role_suggests() {
        let err = resolve("Website Manger", &roles()).unwrap_err();
        assert!(err.contains("did you mean `Website Manager`"), "{err}");
    }
}
