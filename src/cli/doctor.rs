//! `accessctl doctor`: a read-only check of every site's access to Wix.
//!
//! For each site: is the key variable set, does Wix accept the key, can the
//! roles be read, can the collaborators be read. Only GET calls are made, so
//! it is the safe way to confirm the API details the docs leave open (which
//! id header Get Roles Info wants, how repeated filters are encoded) against
//! a real account before the first `apply`.

use std::fmt::Write as _;
use std::path::Path;

use clap::Args;

use super::{Exit, RemoteArgs, check_selection, fail, load_config, runtime};
use crate::model::Site;
use crate::observe::{selected, site_access};
use crate::providers::wix::{ErrorKind, WixClient, WixError};

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// One site's results; `None` means not checked.
struct Row {
    site: String,
    key: String,
    auth: String,
    roles: String,
    contributors: String,
    problem: Option<String>,
}

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
    let rows: Vec<Row> = rt.block_on(async {
        let mut rows = Vec::new();
        for site in sites {
            rows.push(check(&client, site).await);
        }
        rows
    });
    print!("{}", table(&rows));
    let failed = rows.iter().filter(|r| r.problem.is_some()).count();
    if failed > 0 {
        eprintln!(
            "error: {failed} of {} failed the check",
            crate::render::count(rows.len(), "site", "sites")
        );
        Exit::Error
    } else {
        Exit::Ok
    }
}

async fn check(client: &WixClient, site: &Site) -> Row {
    let mut row = Row {
        site: site.key.clone(),
        key: "-".into(),
        auth: "-".into(),
        roles: "-".into(),
        contributors: "-".into(),
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
    match client.roles(&access).await {
        Ok(roles) => {
            row.auth = "ok".into();
            let custom = roles.iter().filter(|r| r.custom).count();
            row.roles = format!("{} ({custom} custom)", roles.len());
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
    match client.read_site(&access).await {
        Ok(live) => row.contributors = format!("{} + owner", live.contributors.len()),
        Err(e) => {
            row.contributors = "FAILED".into();
            row.problem = Some(e.to_string());
        }
    }
    row
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
