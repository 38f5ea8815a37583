//! `accessctl doctor` for the targets on Google platforms: per target, are
//! the credentials readable, does the token endpoint grant the scopes the
//! calls need, can the target be read, and does the service account hold
//! the admin role that writes need. Read-only.

use std::fmt::Write as _;

use crate::model::Config;
use crate::observe::selected;
use crate::platform::Platform;
use crate::providers::google::Bearer as _;
use crate::providers::registry::Registry;

/// One target's findings.
pub struct GoogleRow {
    pub site: String,
    pub target: String,
    pub credentials: String,
    pub scopes: String,
    pub read: String,
    pub admin: String,
    pub problem: Option<String>,
}

pub async fn check(config: &Config, selection: &[String], registry: &Registry) -> Vec<GoogleRow> {
    let mut rows = Vec::new();
    for site in selected(config, selection) {
        for t in &site.targets {
            let mut row = GoogleRow {
                site: site.key.clone(),
                target: format!("{} {}", t.target.platform.short_title(), t.target.id),
                credentials: "-".into(),
                scopes: "-".into(),
                read: "-".into(),
                admin: "-".into(),
                problem: None,
            };
            let account = match registry.account(t.target.credentials_env.as_deref()) {
                Ok(a) => a,
                Err(e) => {
                    row.credentials = "unreadable".into();
                    row.problem = Some(with_hint(&e));
                    rows.push(row);
                    continue;
                }
            };
            row.credentials = account.client_email().to_string();
            let needed = crate::providers::registry::capabilities(
                t.target.platform,
                registry.endpoints().gtm_rate,
            )
            .scopes;
            let mut granted = Vec::new();
            for scope in needed {
                match account.token(std::slice::from_ref(scope)).await {
                    Ok(_) => granted.push(scope.rsplit('/').next().unwrap_or(scope)),
                    Err(e) => {
                        row.problem.get_or_insert_with(|| with_hint(&e));
                    }
                }
            }
            row.scopes = if granted.len() == needed.len() {
                "granted".into()
            } else {
                format!("only {}", granted.join(", "))
            };
            let provider = match registry.connect(&t.target) {
                Ok(p) => p,
                Err(e) => {
                    row.problem.get_or_insert_with(|| with_hint(&e));
                    rows.push(row);
                    continue;
                }
            };
            match provider.observe(&t.target).await {
                Ok(state) => {
                    row.read = crate::render::count(state.bindings.len(), "binding", "bindings");
                    let me = account.client_email().to_lowercase();
                    let admin = provider.capabilities().admin_role.unwrap_or("admin");
                    let holds = state
                        .bindings
                        .iter()
                        .any(|b| b.email.as_deref() == Some(&me) && b.access.roles.contains(admin));
                    row.admin = if holds {
                        "yes".into()
                    } else if t.target.platform == Platform::Ga4
                        && t.target.id.starts_with("properties/")
                    {
                        // An account-level admin is not listed on the
                        // property, and is enough.
                        "not on the property (an account admin is enough)".into()
                    } else {
                        row.problem.get_or_insert_with(|| {
                            format!(
                                "{me} does not hold `{admin}` here, so every change will be refused (hint: make the service account an administrator of {})",
                                t.target.id
                            )
                        });
                        "no".into()
                    };
                }
                Err(e) => {
                    row.read = "failed".into();
                    row.problem.get_or_insert_with(|| with_hint(&e));
                }
            }
            rows.push(row);
        }
    }
    rows
}

fn with_hint(e: &crate::platform::ProviderError) -> String {
    match &e.hint {
        Some(h) => format!("{} (hint: {h})", e.message),
        None => e.message.clone(),
    }
}

/// The table and each problem in full; empty without targets.
pub fn report(rows: &[GoogleRow]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nGoogle targets:\n");
    let header = [
        "site",
        "target",
        "service account",
        "scopes",
        "read",
        "admin",
    ];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                crate::escape::text(&r.site).into_owned(),
                crate::escape::text(&r.target).into_owned(),
                crate::escape::text(&r.credentials).into_owned(),
                r.scopes.clone(),
                r.read.clone(),
                r.admin.clone(),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..6)
        .map(|i| {
            cells
                .iter()
                .map(|c| c[i].chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |out: &mut String, row: &[&str]| {
        let cols: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "  {}", cols.join("  ").trim_end());
    };
    line(&mut out, &header);
    for c in &cells {
        line(&mut out, &c.iter().map(String::as_str).collect::<Vec<_>>());
    }
    for r in rows {
        if let Some(p) = &r.problem {
            let _ = writeln!(
                out,
                "  {} {}: {}",
                crate::escape::text(&r.site),
                crate::escape::text(&r.target),
                crate::escape::text(p)
            );
        }
    }
    out
}
