//! `accessctl doctor`: check every site's access to Wix and learn which
//! reading of each unconfirmed API detail (`endpoints::UNCONFIRMED`) this
//! account's Wix gives.
//!
//! Targets on Google platforms are checked too (`doctor_google.rs`).
//!
//! By default only GET calls are made. Per site: is the key variable set,
//! does Wix accept the key, which id header Get Roles Info took, whether
//! the role filter narrows Query Site Contributors, whether the owner is
//! listed and what `accountOwnerId` carries, and whether a plan would
//! accept these answers. With `--probe-writes` it also sends two writes
//! that change nothing: Change Role with a contributor's *current* roles,
//! and Remove Contributor of an account id that does not exist (expecting
//! Wix's NOT_FOUND), to learn which methods Wix takes. It ends with a
//! summary, free of site and account ids, to paste into an issue.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use clap::Args;

use super::{Exit, RemoteArgs, check_selection, fail, load_config, runtime};
use crate::model::Site;
use crate::observe::{selected, site_access};
use crate::providers::wix::{ErrorKind, RawRead, WixClient, WixError};

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub remote: RemoteArgs,

    /// Also learn the write methods, with two calls that change nothing:
    /// Change Role to a contributor's current roles (skipped when the site
    /// has no contributor, or its answers would not be planned on), and
    /// Remove Contributor of a made-up account id, which Wix answers with
    /// NOT_FOUND.
    #[arg(long)]
    pub probe_writes: bool,
}

/// One site's results; `-` means not checked.
struct Row {
    site: String,
    key: String,
    auth: String,
    roles: String,
    contributors: String,
    /// (label, finding) in print order; the summary counts these.
    findings: Vec<(&'static str, String)>,
    problem: Option<String>,
}

const ROLES_HEADER: &str = "Get Roles Info id header";
const FILTER: &str = "role filter";
const OWNER_LISTED: &str = "owner listed";
const OWNER_ID: &str = "accountOwnerId";
const PLAN: &str = "plan";
const CHANGE_ROLE: &str = "Change Role method";
const REMOVE: &str = "Remove Contributor method";

pub fn run(path: &Path, args: &DoctorArgs) -> Exit {
    let Some(loaded) = load_config(path) else {
        return Exit::Error;
    };
    let config = loaded.config;
    if let Err(exit) = check_selection(&config, &args.remote.sites) {
        return exit;
    }
    let client = match args.remote.client() {
        Ok(c) => c,
        Err(e) => return fail(e, None),
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(exit) => return exit,
    };
    let sites = selected(&config, &args.remote.sites);
    let registry = args.remote.registry();
    let (rows, google): (Vec<Row>, _) = rt.block_on(async {
        let mut rows = Vec::new();
        for site in sites {
            rows.push(check(&client, site, args.probe_writes).await);
        }
        let google = super::doctor_google::check(&config, &args.remote.sites, &registry).await;
        (rows, google)
    });
    print!("{}", table(&rows));
    print!("{}", details(&rows));
    print!(
        "{}",
        summary(&rows, &args.remote.wix_api_base, args.probe_writes)
    );
    print!("{}", super::doctor_google::report(&google));
    let failed = rows.iter().filter(|r| r.problem.is_some()).count();
    let google_failed = google.iter().filter(|r| r.problem.is_some()).count();
    if failed > 0 {
        eprintln!(
            "error: {failed} of {} failed the check",
            crate::render::count(rows.len(), "site", "sites")
        );
    }
    if google_failed > 0 {
        eprintln!(
            "error: {google_failed} of {} failed the check",
            crate::render::count(google.len(), "Google target", "Google targets")
        );
    }
    if failed + google_failed > 0 {
        Exit::Error
    } else {
        Exit::Ok
    }
}

async fn check(client: &WixClient, site: &Site, probe_writes: bool) -> Row {
    let mut row = Row {
        site: site.key.clone(),
        key: "-".into(),
        auth: "-".into(),
        roles: "-".into(),
        contributors: "-".into(),
        findings: Vec::new(),
        problem: None,
    };
    let access = match site_access(site) {
        None => {
            row.key = "none (request mode)".into();
            return row;
        }
        Some(Err(e)) => {
            row.key = "MISSING".into();
            row.problem = Some(e);
            return row;
        }
        Some(Ok(access)) => access,
    };
    row.key = format!(
        "{} set",
        site.wix.api_key_env.as_deref().unwrap_or_default()
    );
    match client.roles_info(&access).await {
        Ok(info) => {
            row.auth = "ok".into();
            let custom = info.roles.iter().filter(|r| r.custom).count();
            row.roles = format!("{} ({custom} custom)", info.roles.len());
            row.findings
                .push((ROLES_HEADER, info.header.name().to_string()));
        }
        Err(e) => {
            row.auth = if is_auth(&e) {
                "FAILED".into()
            } else {
                "?".into()
            };
            row.roles = "FAILED".into();
            row.problem = Some(e.to_string());
            return row;
        }
    }
    let raw = match client.read_raw(&access).await {
        Ok(raw) => raw,
        Err(e) => {
            row.contributors = "FAILED".into();
            row.problem = Some(e.to_string());
            return row;
        }
    };
    read_findings(&mut row, &raw, &access);
    // The plan's own checks, without the ledger's accounts (`plan` adds
    // those: an answer listing nobody is refused when the ledger knows
    // accounts granted on the site).
    let live = match raw.check(&access, &BTreeSet::new()) {
        Ok(live) => {
            row.contributors = format!("{} + owner", live.contributors.len());
            row.findings.push((PLAN, "reads this site".to_string()));
            Some(live)
        }
        Err(e) => {
            row.contributors = "REFUSED".into();
            row.findings
                .push((PLAN, "REFUSES this site (see below)".to_string()));
            row.problem = Some(e.to_string());
            None
        }
    };
    if !probe_writes {
        row.findings
            .push((CHANGE_ROLE, "not probed (pass --probe-writes)".into()));
        row.findings
            .push((REMOVE, "not probed (pass --probe-writes)".into()));
        return row;
    }
    let target = live.as_ref().and_then(|l| {
        l.contributors
            .iter()
            .find(|(_, roles)| !roles.is_empty())
            .map(|(a, roles)| {
                (
                    a.clone(),
                    roles.iter().map(str::to_string).collect::<Vec<_>>(),
                )
            })
    });
    let change = match (&live, target) {
        (None, _) => "not probed (the site's answers are refused)".to_string(),
        (Some(_), None) => "not probed (no contributor to re-send roles for)".to_string(),
        (Some(_), Some((account, roles))) => {
            match client.change_role(&access, &account, &roles).await {
                Ok(method) => format!("{method} (re-sent a contributor's current roles)"),
                Err(e) => {
                    row.problem.get_or_insert(e.to_string());
                    "FAILED".to_string()
                }
            }
        }
    };
    row.findings.push((CHANGE_ROLE, change));
    let absent = absent_account_id();
    let remove = match client.probe_remove(&access, &absent).await {
        Ok(method) => format!("{method} (a made-up account id answered NOT_FOUND)"),
        Err(e) => {
            row.problem.get_or_insert(e.to_string());
            "FAILED".to_string()
        }
    };
    row.findings.push((REMOVE, remove));
    row
}

/// What the unfiltered and per-role answers say about the open details.
fn read_findings(row: &mut Row, raw: &RawRead, access: &crate::providers::wix::SiteAccess) {
    let filter = match raw.filter_narrows(access) {
        Some(true) => format!("narrows ({} per-role queries)", raw.per_role.len()),
        Some(false) => "IGNORED (every per-role query returned everyone)".to_string(),
        None => "untested (needs a contributor besides the owner and two roles)".to_string(),
    };
    row.findings.push((FILTER, filter));
    let listed = if raw.owner_listed(access) {
        "yes"
    } else {
        "no"
    };
    row.findings.push((OWNER_LISTED, listed.to_string()));
    let (ids, missing) = raw.account_owner_ids();
    let owner_id = match (ids.len(), ids.iter().next()) {
        (0, _) if missing == 0 => "untested (no rows)".to_string(),
        (0, _) => "absent".to_string(),
        (1, Some(id)) if *id == access.account_id => "the configured account_id".to_string(),
        (1, Some(_)) => "one id that is NOT the configured account_id".to_string(),
        (n, _) => format!("DIFFERS between rows ({n} values)"),
    };
    let owner_id = if missing > 0 && !ids.is_empty() {
        format!("{owner_id}; absent on {missing} row(s)")
    } else {
        owner_id
    };
    row.findings.push((OWNER_ID, owner_id));
}

/// An account id no site has: the Remove probe must answer NOT_FOUND.
fn absent_account_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "accessctl-doctor-probe-{:x}-{:x}",
        std::process::id(),
        nanos
    )
}

fn is_auth(e: &WixError) -> bool {
    matches!(
        e.kind,
        ErrorKind::Status {
            status: 401 | 403,
            ..
        }
    )
}

fn table(rows: &[Row]) -> String {
    let header = ["SITE", "KEY", "AUTH", "ROLES", "CONTRIBUTORS"];
    let cells: Vec<[&str; 5]> = rows
        .iter()
        .map(|r| [r.site.as_str(), &r.key, &r.auth, &r.roles, &r.contributors])
        .collect();
    let widths: Vec<usize> = (0..5)
        .map(|i| {
            cells
                .iter()
                .map(|c| c[i].chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let line = |cols: [&str; 5], out: &mut String| {
        let text: Vec<String> = cols
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", text.join("  ").trim_end());
    };
    line(header, &mut out);
    for c in &cells {
        line(*c, &mut out);
    }
    let problems: Vec<&Row> = rows.iter().filter(|r| r.problem.is_some()).collect();
    if !problems.is_empty() {
        out.push('\n');
        for r in problems {
            let _ = writeln!(
                out,
                "{}: {}",
                crate::escape::text(&r.site),
                // Wix's error may quote what it was sent or said.
                crate::escape::lines(r.problem.as_deref().unwrap_or_default(), "\n  ")
            );
        }
    }
    out
}

/// Each site's findings about the unconfirmed details.
fn details(rows: &[Row]) -> String {
    let mut out = String::new();
    for r in rows.iter().filter(|r| !r.findings.is_empty()) {
        let _ = writeln!(out, "\nsite {}", crate::escape::text(&r.site));
        for (label, finding) in &r.findings {
            let _ = writeln!(out, "  {label:<26} {finding}");
        }
    }
    out
}

/// Counts per finding, without site or account ids, for an issue.
fn summary(rows: &[Row], base: &str, probe_writes: bool) -> String {
    let mut counts: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    for r in rows {
        for (label, finding) in &r.findings {
            *counts
                .entry(label)
                .or_default()
                // The part before any parenthesis: counts like "14 per-role
                // queries" would split one answer into many.
                .entry(finding.split(" (").next().unwrap_or(finding).trim())
                .or_default() += 1;
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n--- accessctl doctor summary (paste into an issue) ---"
    );
    let _ = writeln!(
        out,
        "accessctl {}; API base {}; {} site(s) checked, {} with a problem; writes probed: {}",
        env!("CARGO_PKG_VERSION"),
        if base.trim_end_matches('/') == crate::providers::wix::DEFAULT_API_BASE {
            "Wix"
        } else {
            "not Wix (--wix-api-base)"
        },
        rows.len(),
        rows.iter().filter(|r| r.problem.is_some()).count(),
        if probe_writes { "yes" } else { "no" }
    );
    for label in [
        ROLES_HEADER,
        FILTER,
        OWNER_LISTED,
        OWNER_ID,
        PLAN,
        CHANGE_ROLE,
        REMOVE,
    ] {
        let Some(findings) = counts.get(label) else {
            continue;
        };
        let text: Vec<String> = findings
            .iter()
            .map(|(finding, n)| format!("{finding} ×{n}"))
            .collect();
        let _ = writeln!(out, "{label}: {}", text.join("; "));
    }
    let _ = writeln!(out, "---");
    out
}
