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

/// The predefined Wix site roles, titles as the dashboard shows them: known
/// without a network, so `validate` can catch a misspelt one.
pub const PREDEFINED: [&str; 14] = [
    "Admin (Co-Owner)",
    "Website Manager",
    "Website Designer",
    "Back Office Manager",
    "Billing Manager",
    "Domain Manager",
    "Content Manager",
    "Payments Admin",
    "Financial Manager",
    "Marketing Manager",
    "Customer Relations Manager",
    "Blog Editor",
    "Blog Writer",
    "Guest Writer",
];

/// What can be said of a role name without reading a site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offline {
    /// A predefined title or its slug.
    Predefined,
    /// One or two letters away from this predefined title: surely a typo.
    Typo(&'static str),
    /// Not predefined: a custom role (checked at plan), perhaps close to one.
    Custom(Option<&'static str>),
}

/// Checks a role name against [`PREDEFINED`]. A config names few distinct
/// roles many times (200,000 grants, a dozen names), so each thread keeps
/// the answers it has worked out; the answer depends on the name alone.
pub fn check_offline(name: &str) -> Offline {
    thread_local! {
        static KNOWN: std::cell::RefCell<foldhash::HashMap<String, Offline>> =
            std::cell::RefCell::new(foldhash::HashMap::default());
    }
    let wanted = name.trim();
    if let Some(found) = KNOWN.with(|k| k.borrow().get(wanted).copied()) {
        return found;
    }
    let found = work_out(wanted);
    KNOWN.with(|k| k.borrow_mut().insert(wanted.to_string(), found));
    found
}

fn work_out(wanted: &str) -> Offline {
    let lower = wanted.to_lowercase();
    let wanted_slug = slug(wanted);
    if PREDEFINED
        .iter()
        .any(|t| t.to_lowercase() == lower || slug(t) == wanted_slug)
    {
        return Offline::Predefined;
    }
    let typo = PREDEFINED.iter().copied().find(|t| {
        let t = t.to_lowercase();
        strsim::damerau_levenshtein(&t, &lower) <= 2 && t.len().abs_diff(lower.len()) <= 1
    });
    match typo {
        Some(t) => Offline::Typo(t),
        None => Offline::Custom(did_you_mean(wanted, PREDEFINED.iter().copied())),
    }
}

/// Find a role by title, slug or id.
pub fn resolve<'a>(name: &str, roles: &'a [RoleDef]) -> Result<&'a RoleDef, String> {
    let wanted = name.trim();
    // Compared without allocating: this runs for every role of every grant.
    // The lower-cased name is made only when a side is not ASCII.
    let lowered = std::cell::OnceCell::new();
    let lower = || lowered.get_or_init(|| wanted.to_lowercase()).as_str();
    let ascii = wanted.is_ascii();
    let found = roles
        .iter()
        .find(|r| {
            // ASCII on both sides (nearly always): lower-casing keeps the
            // length, so a byte comparison decides.
            if ascii && r.title.is_ascii() {
                return r.title.eq_ignore_ascii_case(wanted);
            }
            r.title
                .chars()
                .flat_map(char::to_lowercase)
                .eq(lower().chars())
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
            lower()
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

    #[test]
    fn offline_check_tells_typos_from_custom_roles() {
        assert_eq!(check_offline("website manager"), Offline::Predefined);
        assert_eq!(check_offline("admin-co-owner"), Offline::Predefined);
        assert_eq!(
            check_offline("Website Manger"),
            Offline::Typo("Website Manager")
        );
        assert_eq!(check_offline("Blog Editr"), Offline::Typo("Blog Editor"));
        assert_eq!(check_offline("SEO Reviewer"), Offline::Custom(None));
        assert_eq!(
            check_offline("Blog Editor (EN)"),
            Offline::Custom(Some("Blog Editor"))
        );
    }

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
