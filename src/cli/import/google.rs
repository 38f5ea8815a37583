//! The GA4 and GTM part of `accessctl import`: a site's live bindings on
//! its `ga4:` and `gtm:` targets as grant entries, one per email, in the
//! config's own forms (src/config/validate/platforms.rs):
//!
//! - GA4: `ga4: [..]` when only the site's primary scope is involved (its
//!   property when it names one, else its account), else
//!   `ga4: { account: [..], property: [..] }`.
//! - GTM: `gtm: { account: user|admin, containers: .. }` where `containers`
//!   is one permission when the binding holds the same one on every managed
//!   container that exists, else a map. Containers the site's `gtm:` block
//!   does not manage never appear in a grant (the plan keeps what they
//!   have); a comment says what they hold.
//!
//! The service account (the provider's `self_email`) and the site's owner
//! are left out, as the plan never touches them. What the config cannot say
//! (custom roles, two exclusive roles at once, a GTM binding without an
//! account permission) is left out of the entry and told in a comment.
//!
//! Everything the platform returned is untrusted: scalars go through
//! [`scalar`], comment text through [`crate::escape::text`], so the output
//! is valid YAML that means what it says and each datum stays on its line.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::model::{Config, Site};
use crate::plan::targets::Seen;
use crate::platform::{Access, Platform};

/// Indentation of an entry under `access:`.
const INDENT: &str = "      ";

/// A site's Google entries, ready to print under its `access:`.
#[derive(Debug, Default)]
pub(super) struct Section {
    /// Lines (entries and comments), indented, each ending in a newline.
    pub text: String,
    /// Whether any line is an entry (else only comments).
    pub has_entries: bool,
    /// A target could not be read (already reported on stderr).
    pub failed: bool,
}

/// What one email holds across the site's targets.
#[derive(Debug, Default)]
struct Held {
    ga4_account: Option<BTreeSet<String>>,
    ga4_property: Option<BTreeSet<String>>,
    gtm: Option<Access>,
}

/// The GTM target's facts an entry needs.
struct GtmScope<'a> {
    managed: &'a BTreeSet<String>,
    /// Managed containers that exist live.
    existing: BTreeSet<String>,
}

/// The Google entries of `site` from what its targets' providers saw
/// (`seen`, in `site.targets` order); `None` when it has no targets.
pub(super) fn section(
    config: &Config,
    site: &Site,
    seen: &[Result<Seen, String>],
) -> Option<Section> {
    if site.targets.is_empty() {
        return None;
    }
    let mut out = Section::default();
    let owner = site.owner.as_ref().map(|o| o.email.as_str());
    let names: Vec<String> = site
        .targets
        .iter()
        .map(|t| {
            format!(
                "{} {}",
                t.target.platform.short_title(),
                crate::escape::text(&t.target.id)
            )
        })
        .collect();
    let _ = writeln!(
        out.text,
        "{INDENT}# {}: one entry per email (the service account and the owner left out)",
        names.join(", ")
    );
    let has_property = site
        .targets
        .iter()
        .any(|t| t.target.platform == Platform::Ga4 && t.target.id.starts_with("properties/"));
    let mut held: BTreeMap<String, Held> = BTreeMap::new();
    let mut gtm: Option<GtmScope<'_>> = None;
    let mut notes: Vec<String> = Vec::new();
    for (i, t) in site.targets.iter().enumerate() {
        let target = &t.target;
        let name = format!("{} {}", target.platform.short_title(), target.id);
        let seen = match seen.get(i) {
            Some(Ok(seen)) => seen,
            Some(Err(e)) => {
                eprintln!(
                    "error: site `{}`, {name}: {}",
                    site.key,
                    crate::escape::lines(e, "\n  ")
                );
                notes.push(format!(
                    "{} could not be read, so its access is not here",
                    crate::escape::text(&name)
                ));
                out.failed = true;
                continue;
            }
            None => {
                notes.push(format!(
                    "{} was not read, so its access is not here",
                    crate::escape::text(&name)
                ));
                out.failed = true;
                continue;
            }
        };
        if target.platform == Platform::Gtm {
            gtm = Some(GtmScope {
                managed: &target.managed_children,
                existing: target
                    .managed_children
                    .intersection(&seen.state.children)
                    .cloned()
                    .collect(),
            });
        }
        let untouchable = |email: &str| {
            seen.self_email
                .iter()
                .map(String::as_str)
                .chain(owner)
                .any(|u| u.eq_ignore_ascii_case(email))
        };
        for binding in &seen.state.bindings {
            let Some(email) = &binding.email else {
                let id = binding
                    .platform_id
                    .as_deref()
                    .or(binding.handle.as_deref())
                    .unwrap_or("no id");
                notes.push(format!(
                    "{}: a binding with no email ({}) is left as it is",
                    crate::escape::text(&name),
                    crate::escape::text(id)
                ));
                continue;
            };
            let email = email.to_lowercase();
            if untouchable(&email) {
                continue;
            }
            let h = held.entry(email).or_default();
            match target.platform {
                Platform::Ga4 if target.id.starts_with("properties/") => {
                    h.ga4_property = Some(binding.access.roles.clone());
                }
                Platform::Ga4 => h.ga4_account = Some(binding.access.roles.clone()),
                Platform::Gtm => h.gtm = Some(binding.access.clone()),
                Platform::Wix => {}
            }
        }
    }
    for note in &notes {
        let _ = writeln!(out.text, "{INDENT}# {note}");
    }
    if held.is_empty() && !out.failed {
        let _ = writeln!(out.text, "{INDENT}# nobody else holds access there");
    }
    for (email, h) in &held {
        let mut notes = Vec::new();
        let shown = scalar(email);
        let mut parts: Vec<String> = Vec::new();
        let account = h
            .ga4_account
            .as_ref()
            .and_then(|r| ga4_roles(r, "account", &shown, &mut notes));
        let property = h
            .ga4_property
            .as_ref()
            .and_then(|r| ga4_roles(r, "property", &shown, &mut notes));
        match (account, property) {
            (None, None) => {}
            (Some(list), None) if !has_property => parts.push(format!("ga4: {list}")),
            (None, Some(list)) => parts.push(format!("ga4: {list}")),
            (account, property) => {
                let scoped: Vec<String> = [("account", account), ("property", property)]
                    .into_iter()
                    .filter_map(|(k, v)| Some(format!("{k}: {}", v?)))
                    .collect();
                parts.push(format!("ga4: {{ {} }}", scoped.join(", ")));
            }
        }
        if let (Some(access), Some(scope)) = (&h.gtm, &gtm)
            && let Some(part) = gtm_part(access, scope, &shown, &mut notes)
        {
            parts.push(part);
        }
        for note in &notes {
            let _ = writeln!(out.text, "{INDENT}# {note}");
        }
        if parts.is_empty() {
            let _ = writeln!(
                out.text,
                "{INDENT}# {shown}: nothing the config can express, so no entry"
            );
            continue;
        }
        let (principal, refused) = match config.people.values().find(|p| p.email == *email) {
            Some(p) => (format!("person: {}", scalar(&p.key)), None),
            None => (
                format!("email: {}", scalar(email)),
                crate::email::problem(email),
            ),
        };
        let entry = format!("- {{ {principal}, {} }}", parts.join(", "));
        match refused {
            // Printed as a comment, so the rest pastes; the plan then
            // treats the binding as one the config does not name.
            Some(problem) => {
                let _ = writeln!(
                    out.text,
                    "{INDENT}# {shown}: the config refuses this email ({problem}), so the entry is a comment:\n{INDENT}# {entry}"
                );
            }
            None => {
                let _ = writeln!(out.text, "{INDENT}{entry}");
                out.has_entries = true;
            }
        }
    }
    Some(out)
}

/// A GA4 role set as a flow list, exclusive role first; what the config
/// cannot name is told in `notes`. `None` when nothing is left.
fn ga4_roles(
    roles: &BTreeSet<String>,
    scope: &str,
    who: &str,
    notes: &mut Vec<String>,
) -> Option<String> {
    let vocab = Platform::Ga4.vocabulary()?;
    let exclusive: Vec<&str> = vocab
        .roles
        .iter()
        .copied()
        .filter(|r| roles.contains(*r))
        .collect();
    let unknown: Vec<&str> = roles
        .iter()
        .map(String::as_str)
        .filter(|r| !vocab.roles.contains(r) && !vocab.additive.contains(r))
        .collect();
    if !unknown.is_empty() {
        notes.push(format!(
            "{who} also holds {} on the GA4 {scope}, which the config cannot name (the plan would take it away)",
            quoted_list(&unknown)
        ));
    }
    let mut list: Vec<&str> = exclusive.last().copied().into_iter().collect();
    if exclusive.len() > 1 {
        notes.push(format!(
            "{who} holds {} at once on the GA4 {scope}; the entry keeps the highest",
            exclusive.join(", ")
        ));
    }
    list.extend(
        vocab
            .additive
            .iter()
            .copied()
            .filter(|r| roles.contains(*r)),
    );
    if list.is_empty() {
        notes.push(format!(
            "{who} holds nothing the config can name on the GA4 {scope}"
        ));
        return None;
    }
    Some(format!("[{}]", list.join(", ")))
}

/// A GTM binding as a grant's `gtm:` part; `None` (with a note) when it has
/// no account permission the config can name.
fn gtm_part(
    access: &Access,
    scope: &GtmScope<'_>,
    who: &str,
    notes: &mut Vec<String>,
) -> Option<String> {
    let vocab = Platform::Gtm.vocabulary()?;
    let account: Vec<&str> = vocab
        .roles
        .iter()
        .copied()
        .filter(|r| access.roles.contains(*r))
        .collect();
    let mut containers: BTreeMap<&str, &str> = BTreeMap::new();
    let mut kept: Vec<String> = Vec::new();
    for (child, perms) in &access.children {
        if !scope.managed.contains(child) {
            let perms: Vec<&str> = perms.iter().map(String::as_str).collect();
            kept.push(format!(
                "{}: {}",
                scalar(child),
                perms
                    .iter()
                    .map(|p| scalar(p))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            continue;
        }
        let known: Vec<&str> = vocab
            .child_roles
            .iter()
            .copied()
            .filter(|r| perms.contains(*r))
            .collect();
        let unknown: Vec<&str> = perms
            .iter()
            .map(String::as_str)
            .filter(|p| !vocab.child_roles.contains(p))
            .collect();
        if !unknown.is_empty() {
            notes.push(format!(
                "{who} holds {} on GTM container {}, which the config cannot name",
                quoted_list(&unknown),
                scalar(child)
            ));
        }
        if known.len() > 1 {
            notes.push(format!(
                "{who} holds {} at once on GTM container {}; the entry keeps the highest",
                known.join(", "),
                scalar(child)
            ));
        }
        if let Some(p) = known.last() {
            containers.insert(child, p);
        }
    }
    if !kept.is_empty() {
        notes.push(format!(
            "{who} also holds {} on GTM containers the site's `gtm:` block does not manage (the plan keeps them)",
            kept.join("; ")
        ));
    }
    let unknown: Vec<&str> = access
        .roles
        .iter()
        .map(String::as_str)
        .filter(|r| !vocab.roles.contains(r))
        .collect();
    if !unknown.is_empty() {
        notes.push(format!(
            "{who} holds the GTM account permission {}, which the config cannot name",
            quoted_list(&unknown)
        ));
    }
    if account.len() > 1 {
        notes.push(format!(
            "{who} holds more than one GTM account permission; the entry keeps the highest"
        ));
    }
    let Some(account) = account.last() else {
        notes.push(format!(
            "{who} holds no GTM account permission (user or admin), so the entry leaves GTM out"
        ));
        return None;
    };
    let mut part = format!("gtm: {{ account: {account}");
    let first = containers.values().next().copied();
    let same_everywhere = first.is_some()
        && containers.values().all(|p| Some(*p) == first)
        && containers
            .keys()
            .copied()
            .eq(scope.existing.iter().map(String::as_str));
    match first {
        Some(p) if same_everywhere => {
            let _ = write!(part, ", containers: {p}");
        }
        Some(_) => {
            let each: Vec<String> = containers
                .iter()
                .map(|(c, p)| format!("{}: {p}", scalar(c)))
                .collect();
            let _ = write!(part, ", containers: {{ {} }}", each.join(", "));
        }
        None => {}
    }
    part.push_str(" }");
    Some(part)
}

/// `a`, `b` as YAML scalars, for a comment.
fn quoted_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| scalar(i))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Plain scalars that YAML would read as something other than a string.
const RESERVED: &[&str] = &[
    "true", "false", "yes", "no", "on", "off", "y", "n", "null", "nan", "inf",
];

/// A YAML scalar for platform text, fit for a flow collection (a key or a
/// value in `{ }`) and for a comment: plain when it is an ordinary word or
/// email that YAML reads as that string, else double-quoted with YAML's
/// escapes, so no character can end the line, the collection or the
/// scalar, and no line can read as a GitHub workflow command.
pub(crate) fn scalar(text: &str) -> String {
    // Inner spaces are plain too (`Blog Editor`): with no `:` or `#`
    // allowed, no space can start a comment or a mapping value.
    let plain = text.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && !text.ends_with(' ')
        && text.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '+' | '-' | '/' | ' ')
        })
        && !RESERVED.iter().any(|r| r.eq_ignore_ascii_case(text));
    if plain {
        return text.to_string();
    }
    let mut out = String::from("\"");
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control()
                || matches!(
                    c,
                    '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}'
                ) =>
            {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            // The legacy workflow-command marker `##[`, broken.
            '#' if out.ends_with('#') && chars.peek() == Some(&'[') => out.push_str("\\x23"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    /// `text` as the config reader reads it.
    fn read(text: &str) -> Value {
        serde_saphyr::from_str_with_options::<Value>(text, crate::config::parse_options())
            .expect("parses")
    }

    use std::path::Path;

    use crate::platform::{
        Binding, Capabilities, GrantEffect, Lifecycle, PrincipalKey, TargetState,
    };

    const SA: &str = "sa@p.iam.gserviceaccount.com";

    /// A binding: email, roles, (child, permission).
    type Row<'a> = (&'a str, &'a [&'a str], &'a [(&'a str, &'a str)]);

    fn config(blocks: &str, access: &str) -> Config {
        let text = format!(
            "version: 2
people:
  bob: {{ email: bob@a.example }}
sites:
  s:
    wix: {{ site_id: w, account_id: a }}
    owner: {{ email: owner@c.example }}
{blocks}
    access:{access}"
        );
        match crate::config::load_str(Path::new("access.yaml"), text.as_bytes()) {
            Ok(loaded) => loaded.config,
            Err(report) => panic!("{}\n{text}", report.render()),
        }
    }

    fn seen(bindings: &[Row<'_>], children: &[&str]) -> Result<Seen, String> {
        Ok(Seen {
            state: TargetState {
                bindings: bindings
                    .iter()
                    .map(|(email, roles, kids)| Binding {
                        email: Some(email.to_string()),
                        platform_id: None,
                        access: Access {
                            roles: roles.iter().map(|r| r.to_string()).collect(),
                            children: kids
                                .iter()
                                .map(|(c, p)| (c.to_string(), BTreeSet::from([p.to_string()])))
                                .collect(),
                        },
                        lifecycle: Lifecycle::Active,
                        handle: None,
                    })
                    .collect(),
                children: children.iter().map(|c| c.to_string()).collect(),
            },
            capabilities: Capabilities {
                effect: GrantEffect::Immediate,
                key: PrincipalKey::Email,
                batch_max: None,
                requests_per_second: None,
                daily_removals: None,
                admin_role: None,
                roles: &[],
                child_roles: &[],
                child_holder_role: None,
                invitations_editable: true,
                scopes: &[],
            },
            self_email: Some(SA.into()),
        })
    }

    /// The section's text, and that it pastes into `blocks`' site as a
    /// config that loads.
    fn import(blocks: &str, seen: &[Result<Seen, String>]) -> Section {
        let c = config(blocks, " []");
        let section = section(&c, &c.sites["s"], seen).expect("the site has targets");
        if section.has_entries {
            config(blocks, &format!("\n{}", section.text));
        }
        section
    }

    #[test]
    fn the_list_form_lands_on_the_account_when_the_site_names_no_property() {
        let s = import(
            "    ga4: { account: \"1\" }",
            &[seen(
                &[("bob@a.example", &["viewer"], &[]), (SA, &["admin"], &[])],
                &[],
            )],
        );
        assert!(
            s.text.contains("      - { person: bob, ga4: [viewer] }\n"),
            "{}",
            s.text
        );
        assert!(!s.text.contains(SA), "{}", s.text);
    }

    #[test]
    fn the_account_alone_is_scoped_when_the_site_names_a_property() {
        let s = import(
            "    ga4: { account: \"1\", property: \"2\" }",
            &[
                seen(&[("x@b.example", &["admin"], &[])], &[]),
                seen(&[], &[]),
            ],
        );
        assert!(
            s.text
                .contains("      - { email: x@b.example, ga4: { account: [admin] } }\n"),
            "{}",
            s.text
        );
    }

    #[test]
    fn what_the_config_cannot_name_is_told_in_a_comment() {
        let s = import(
            "    ga4: { property: \"2\" }
    gtm: { account: \"6\", containers: [GTM-AAAA, GTM-BBBB] }",
            &[
                seen(
                    &[
                        (
                            "x@b.example",
                            &["viewer", "editor", "properties/2/roles/c"],
                            &[],
                        ),
                        ("owner@c.example", &["admin"], &[]),
                    ],
                    &[],
                ),
                seen(
                    &[
                        ("x@b.example", &["user"], &[("GTM-AAAA", "read")]),
                        ("y@b.example", &[], &[("GTM-AAAA", "edit")]),
                    ],
                    &["GTM-AAAA", "GTM-BBBB", "GTM-CCCC"],
                ),
            ],
        );
        let t = &s.text;
        assert!(t.contains("# x@b.example also holds properties/2/roles/c on the GA4 property, which the config cannot name"), "{t}");
        assert!(t.contains("# x@b.example holds viewer, editor at once on the GA4 property; the entry keeps the highest"), "{t}");
        // GTM-BBBB exists and is managed, so `read` is not on every one: a map.
        assert!(
            t.contains("      - { email: x@b.example, ga4: [editor], gtm: { account: user, containers: { GTM-AAAA: read } } }\n"),
            "{t}"
        );
        assert!(t.contains("# y@b.example holds no GTM account permission (user or admin), so the entry leaves GTM out"), "{t}");
        assert!(
            t.contains("# y@b.example: nothing the config can express, so no entry"),
            "{t}"
        );
        assert!(!t.contains("owner@c.example"), "{t}");
    }

    #[test]
    fn one_permission_for_every_managed_container_that_exists() {
        // GTM-BBBB is managed but does not exist: `read` on GTM-AAAA is on all.
        let s = import(
            "    gtm: { account: \"6\", containers: [GTM-AAAA, GTM-BBBB] }",
            &[seen(
                &[("x@b.example", &["admin"], &[("GTM-AAAA", "read")])],
                &["GTM-AAAA"],
            )],
        );
        assert!(
            s.text.contains(
                "      - { email: x@b.example, gtm: { account: admin, containers: read } }\n"
            ),
            "{}",
            s.text
        );
    }

    #[test]
    fn a_target_that_could_not_be_read_is_a_comment_and_a_failure() {
        let s = import(
            "    ga4: { property: \"2\" }",
            &[Err("boom\n::error::x".into())],
        );
        assert!(s.failed && !s.has_entries);
        assert!(
            s.text.contains(
                "      # GA4 properties/2 could not be read, so its access is not here\n"
            ),
            "{}",
            s.text
        );
    }

    #[test]
    fn plain_only_when_yaml_reads_it_back_as_the_same_string() {
        for plain in [
            "bob@agency.example",
            "GTM-ACME001",
            "a.b+c_d@x.example",
            "a b",
            "Blog Editor",
        ] {
            assert_eq!(scalar(plain), plain);
            assert_eq!(read(plain), Value::String(plain.into()));
        }
        for quoted in [
            "",
            "true",
            "No",
            "null",
            "1",
            "31",
            "-a",
            "a ",
            " a",
            "a,b",
            "a{b}",
            "a: b",
            "a #b",
            "é@x",
            "Admin (Co-Owner)",
        ] {
            let q = scalar(quoted);
            assert!(q.starts_with('"'), "{quoted:?} → {q}");
            assert_eq!(read(&q), Value::String(quoted.into()), "{q}");
        }
    }

    #[test]
    fn hostile_text_stays_on_its_line_and_reads_back() {
        let evil = "x\n::stop-commands::t\u{1b}\"\\##[group]\u{2028}\u{202e}@a.example";
        let q = scalar(evil);
        assert!(!q.contains('\n') && !q.contains("##[") && !q.contains('\u{2028}'));
        assert_eq!(read(&q), Value::String(evil.into()));
        let map = read(&format!("{{ {q}: {q} }}"));
        assert_eq!(map[evil], Value::String(evil.into()));
    }
}
