//! `accessctl report`: the access review — every principal on every
//! selected site and platform, each grant marked managed, expiring,
//! drifted, unmanaged or ended (or owner), as Markdown (one GitHub comment),
//! CSV (RFC 4180, safe to open in a spreadsheet) or JSON (`report_version`
//! 1, schema in `schemas/report.schema.json`).
//!
//! The classification is the one `accessctl who` uses ([`crate::access`]),
//! applied to everyone found on each site: Wix owners and contributors,
//! open Wix invites, request-mode sites' requested and owner-granted access
//! (from the ledger), and every GA4/GTM binding.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use schemars::JsonSchema;
use serde::Serialize;
use time::OffsetDateTime;

use crate::access::{Entry, Found, Subject, Unreadable, resolve, target_entries, wix_entries};
use crate::ledger::SiteLedger;
use crate::model::{Config, Site};
use crate::observe::Observed;
use crate::plan::Observation;
use crate::platform::Platform;
use crate::render::{COMMENT_LIMIT, markdown_cell as cell};

/// The version of the JSON document; raised when a field changes meaning.
pub const REPORT_VERSION: u32 = 1;

/// The access review (`--format json`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Report {
    /// Always 1 for this layout.
    #[schemars(range(min = 1, max = 1))]
    pub report_version: u32,
    /// `live`, or the snapshot file read.
    pub observed: String,
    /// The day `until` dates were compared against (UTC).
    pub today: String,
    /// A managed grant whose `until` is at most this many days away is
    /// `expiring` (`safety.expiry_warning_days`).
    pub expiry_warning_days: u32,
    pub summary: Summary,
    /// The sites reported on, sorted, with how each is run.
    pub sites: Vec<SiteInfo>,
    /// One row per site, platform, scope and principal holding access, an
    /// invite or a request; sorted.
    pub rows: Vec<Row>,
    /// Sites and targets that could not be read: the report may miss their
    /// access.
    pub unreadable: Vec<Unreadable>,
    /// The config's policy rules (`policies:`) that live access breaks;
    /// absent when none is broken.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policy: Vec<crate::policy::Violation>,
}

/// Counts at the top of the report.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct Summary {
    pub sites: usize,
    /// Sites without an API key, whose owner grants access by hand.
    pub request_mode_sites: usize,
    /// Rows, owners included.
    pub rows: usize,
    /// Rows per status (`owner`, `managed`, ...); every status is present.
    pub by_status: BTreeMap<String, usize>,
    /// Rows per platform (`wix`, `ga4`, `gtm`) and status.
    pub by_platform: BTreeMap<String, BTreeMap<String, usize>>,
    /// Sites and targets that could not be read.
    pub unreadable: usize,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SiteInfo {
    pub site: String,
    /// `api-key` (read and changed through the Wix API), `request` (the
    /// owner grants access on request) or `unreadable`.
    pub mode: &'static str,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Row {
    pub site: String,
    pub platform: Platform,
    /// Wix: the site id; GA4/GTM: `properties/200`, `accounts/6000`.
    pub scope: String,
    /// The person's key when the config or the ledger ties the access to
    /// one, else the email, else the Wix account id.
    pub principal: String,
    pub person: Option<String>,
    pub email: Option<String>,
    /// Wix: the account holding it.
    pub account_id: Option<String>,
    /// Roles held (Wix titles; GA4/GTM roles, GTM containers as
    /// `GTM-XXXX: role`); `Owner` for owners.
    pub roles: Vec<String>,
    /// `active`, `invited`, `owner`, `requested` (request mode, open),
    /// `granted-by-owner` (request mode, marked done), `removal-requested`
    /// or `change-requested` (request mode: marked done, and the open
    /// request asks the owner to remove it or change its roles) or
    /// `unknown`.
    pub state: &'static str,
    pub status: Status,
    /// Since when (RFC 3339), from the ledger; absent when it has no record.
    pub since: Option<String>,
    /// The config's `until` for it (the last day), when it has one.
    pub until: Option<String>,
    /// The roles the config gives here, as written.
    pub wanted: Vec<String>,
}

/// Whether the config wants the access a row shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Owns the site (Wix); never managed by accessctl.
    Owner,
    /// The config gives exactly this.
    Managed,
    /// Managed, and the config's `until` is within `expiry_warning_days`.
    Expiring,
    /// The config gives other roles here.
    Drifted,
    /// The config gives nothing here.
    Unmanaged,
    /// The config's grant ended (`until` passed) but the access is held.
    Ended,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Owner,
        Status::Managed,
        Status::Expiring,
        Status::Drifted,
        Status::Unmanaged,
        Status::Ended,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Status::Owner => "owner",
            Status::Managed => "managed",
            Status::Expiring => "expiring",
            Status::Drifted => "drifted",
            Status::Unmanaged => "unmanaged",
            Status::Ended => "ended",
        }
    }
}

/// The JSON schema of `report --format json`.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(Report);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// The report, from what was observed. Pure.
pub fn build(
    config: &Config,
    observed: &BTreeMap<String, Observed>,
    now: OffsetDateTime,
    source: String,
) -> Report {
    let warn_days = config.safety.expiry_warning_days;
    let mut rows = Vec::new();
    let mut unreadable = Vec::new();
    let mut sites = Vec::new();
    for (key, o) in observed {
        let Some(site) = config.sites.get(key) else {
            continue;
        };
        let mode = match (&o.observation, &o.ledger) {
            (Observation::Failed(_), _) | (_, None) => "unreadable",
            (Observation::RequestMode, _) => "request",
            (Observation::Live(_), _) => "api-key",
        };
        sites.push(SiteInfo {
            site: key.clone(),
            mode,
        });
        let mut found = Found::default();
        wix_site(config, site, o, now, &mut found, &mut rows);
        target_entries(site, o, |_| true, now, &mut found);
        for e in found.access {
            let subject = subject_for_email(config, o.ledger.as_ref(), &e.holder);
            rows.push(row(&subject, e, now, warn_days));
        }
        unreadable.extend(found.unreadable);
    }
    rows.sort_by(|a, b| {
        (
            &a.site,
            a.platform,
            &a.scope,
            a.status != Status::Owner,
            &a.principal,
            a.state,
        )
            .cmp(&(
                &b.site,
                b.platform,
                &b.scope,
                b.status != Status::Owner,
                &b.principal,
                b.state,
            ))
    });
    let mut summary = Summary {
        sites: sites.len(),
        request_mode_sites: sites.iter().filter(|s| s.mode == "request").count(),
        rows: rows.len(),
        unreadable: unreadable.len(),
        ..Summary::default()
    };
    for p in Platform::ALL {
        let counts = Status::ALL
            .iter()
            .map(|s| (s.name().to_string(), 0))
            .collect();
        summary.by_platform.insert(p.name().to_string(), counts);
    }
    summary.by_status = Status::ALL
        .iter()
        .map(|s| (s.name().to_string(), 0))
        .collect();
    for r in &rows {
        *summary.by_status.entry(r.status.name().into()).or_default() += 1;
        *summary
            .by_platform
            .entry(r.platform.name().to_string())
            .or_default()
            .entry(r.status.name().into())
            .or_default() += 1;
    }
    Report {
        report_version: REPORT_VERSION,
        observed: source,
        today: now.date().to_string(),
        expiry_warning_days: warn_days,
        summary,
        sites,
        rows,
        unreadable,
        policy: crate::observe::policy::check_live(config, observed, now.date()),
    }
}

/// Who an email (or a platform id) is: a person of the config, or the
/// email itself, with the Wix account the ledger ties to it.
fn subject_for_email(config: &Config, ledger: Option<&SiteLedger>, email: &str) -> Subject {
    if !email.contains('@') {
        return Subject::default();
    }
    let mut s = resolve(config, email);
    if s.account.is_none() {
        s.account = ledger
            .and_then(|l| l.account_for(s.email.as_deref().unwrap_or(email)))
            .map(str::to_string);
    }
    s
}

/// Who a Wix account is: the person the config names it for, else the
/// email the site's ledger ties to it, else just the account.
fn subject_for_account(config: &Config, ledger: &SiteLedger, account: &str) -> Subject {
    let s = resolve(config, account);
    if s.person.is_some() {
        return s;
    }
    match ledger.email_for(account) {
        Some(email) => {
            let mut s = resolve(config, email);
            s.account = Some(account.to_string());
            s
        }
        None => s,
    }
}

/// The Wix side of a site: owners, each contributor, open invites; in
/// request mode, what was requested from or granted by the owner.
fn wix_site(
    config: &Config,
    site: &Site,
    o: &Observed,
    now: OffsetDateTime,
    found: &mut Found,
    rows: &mut Vec<Row>,
) {
    let warn_days = config.safety.expiry_warning_days;
    let Some(ledger) = o.ledger.as_ref() else {
        // Listed as unreadable, with the reason.
        wix_entries(config, site, o, &Subject::default(), now, found);
        return;
    };
    let keep = |rows: &mut Vec<Row>, subject: &Subject, f: Found, pick: &dyn Fn(&Entry) -> bool| {
        for e in f.access.into_iter().filter(|e| pick(e)) {
            rows.push(row(subject, e, now, warn_days));
        }
    };
    match &o.observation {
        Observation::Failed(_) => wix_entries(config, site, o, &Subject::default(), now, found),
        Observation::RequestMode => {
            let emails: BTreeSet<&str> = ledger
                .granted_by_owner
                .iter()
                .map(|g| g.email.as_str())
                .chain(
                    ledger
                        .open_request()
                        .into_iter()
                        .flat_map(|r| r.grants.iter().map(|g| g.email.as_str())),
                )
                .collect();
            for email in emails {
                let subject = subject_for_email(config, Some(ledger), email);
                let mut f = Found::default();
                wix_entries(config, site, o, &subject, now, &mut f);
                keep(rows, &subject, f, &|_| true);
            }
            if let Some(owner) = &site.owner {
                let subject = subject_for_email(config, Some(ledger), &owner.email);
                rows.push(owner_row(site, &subject, owner.email.clone()));
            }
        }
        Observation::Live(live) => {
            for account in &live.owners {
                let subject = subject_for_account(config, ledger, account);
                rows.push(owner_row(site, &subject, account.clone()));
            }
            for account in live.contributors.keys() {
                let subject = subject_for_account(config, ledger, account);
                let mut f = Found::default();
                wix_entries(config, site, o, &subject, now, &mut f);
                keep(rows, &subject, f, &|e| {
                    e.account_id.as_deref() == Some(account)
                });
            }
            let invited: BTreeSet<&str> = ledger
                .invites
                .iter()
                .filter(|i| i.is_outstanding(now))
                .map(|i| i.email.as_str())
                .collect();
            for email in invited {
                let subject = subject_for_email(config, Some(ledger), email);
                let mut f = Found::default();
                wix_entries(config, site, o, &subject, now, &mut f);
                keep(rows, &subject, f, &|e| e.state == "invited");
            }
        }
    }
}

fn owner_row(site: &Site, subject: &Subject, who: String) -> Row {
    Row {
        site: site.key.clone(),
        platform: Platform::Wix,
        scope: site.wix.site_id.clone(),
        principal: subject
            .person
            .clone()
            .or_else(|| subject.email.clone())
            .unwrap_or_else(|| who.clone()),
        person: subject.person.clone(),
        email: subject.email.clone(),
        account_id: subject.account.clone().or_else(|| {
            // An owner of a request-mode site is known by email only.
            (!who.contains('@')).then_some(who)
        }),
        roles: vec!["Owner".into()],
        state: "owner",
        status: Status::Owner,
        since: None,
        until: None,
        wanted: Vec::new(),
    }
}

fn row(subject: &Subject, e: Entry, now: OffsetDateTime, warn_days: u32) -> Row {
    let mut status = match e.config {
        "managed" => Status::Managed,
        "drifted" => Status::Drifted,
        "ended" => Status::Ended,
        _ => Status::Unmanaged,
    };
    if status == Status::Managed && expires_soon(e.until.as_deref(), now, warn_days) {
        status = Status::Expiring;
    }
    let email = subject
        .email
        .clone()
        .or_else(|| (e.holder.contains('@')).then(|| e.holder.clone()));
    let account_id = e.account_id.clone().or_else(|| {
        (e.platform == Platform::Wix)
            .then(|| subject.account.clone())
            .flatten()
    });
    let principal = subject
        .person
        .clone()
        .or_else(|| email.clone())
        .or_else(|| account_id.clone())
        .unwrap_or_else(|| e.holder.clone());
    Row {
        site: e.site,
        platform: e.platform,
        scope: e.scope,
        principal,
        person: subject.person.clone(),
        email,
        account_id,
        roles: e.roles,
        state: e.state,
        status,
        since: e.since,
        until: e.until,
        wanted: e.wanted,
    }
}

/// Whether `until` (the last day, `YYYY-MM-DD`) is at most `days` away.
fn expires_soon(until: Option<&str>, now: OffsetDateTime, days: u32) -> bool {
    let Some(until) = until else { return false };
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let Ok(date) = time::Date::parse(until, &format) else {
        return false;
    };
    (date - now.date()).whole_days() <= i64::from(days)
}

// ---- Markdown ----

/// The report as one GitHub comment, at most `limit` bytes (GitHub counts
/// characters; bytes are never fewer): a summary table, unreadable sites as
/// a warning, then one table per site. Too long a report keeps whole sites
/// while they fit and says how many were left out.
pub fn render_markdown(report: &Report, limit: usize) -> String {
    let head = markdown_head(report);
    // Rows are sorted by site: each site's rows in one pass.
    let mut by_site: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    for r in &report.rows {
        by_site.entry(&r.site).or_default().push(r);
    }
    let sections: Vec<String> = report
        .sites
        .iter()
        .map(|s| {
            markdown_site(
                s,
                by_site.get(s.site.as_str()).map_or(&[][..], Vec::as_slice),
            )
        })
        .collect();
    let foot = format!(
        "<sub>access review of {} on {} · report format {}</sub>\n",
        if report.observed == "live" {
            "the live sites".to_string()
        } else {
            format!("snapshot {}", cell(&report.observed))
        },
        cell(&report.today),
        report.report_version
    );
    let full: usize = head.len() + sections.iter().map(String::len).sum::<usize>() + foot.len();
    if full <= limit {
        return format!("{head}{}{foot}", sections.concat());
    }
    const RESERVE: usize = 600;
    let budget = limit.saturating_sub(RESERVE);
    let mut out = head;
    let shown = crate::render::append_while_fits(&mut out, &sections, foot.len(), budget);
    let _ = write!(
        out,
        "> [!NOTE]\n> **Report cut to fit one comment** ({full} characters in full): {shown} of {} sites are shown. `accessctl report --format csv` or `--format json` has the whole matrix.\n\n",
        sections.len()
    );
    out.push_str(&foot);
    out
}

/// Policy violations shown in the head of the comment; the JSON has all.
const POLICY_SHOWN: usize = 50;

/// The rules live access breaks, as an alert above the matrix.
fn markdown_policy(report: &Report, out: &mut String) {
    if report.policy.is_empty() {
        return;
    }
    let errors = crate::policy::has_errors(&report.policy);
    let _ = writeln!(
        out,
        "> [!{}]\n> **{} broken by live access** (`policies:` in the config):",
        if errors { "CAUTION" } else { "WARNING" },
        crate::render::count(report.policy.len(), "policy rule is", "policy rules are")
    );
    for v in report.policy.iter().take(POLICY_SHOWN) {
        let severity = match v.severity {
            crate::model::policy::Severity::Error => "error",
            crate::model::policy::Severity::Warn => "warning",
        };
        let _ = writeln!(
            out,
            "> - **{severity}** · {} ({}): {}",
            cell(&v.site),
            v.platform.name(),
            cell(&v.message)
        );
    }
    if report.policy.len() > POLICY_SHOWN {
        let _ = writeln!(
            out,
            "> - … {} more (`--format json` lists them all)",
            report.policy.len() - POLICY_SHOWN
        );
    }
    out.push('\n');
}

fn markdown_head(report: &Report) -> String {
    let s = &report.summary;
    let mut out = format!(
        "## Access review: {} on {}\n\n",
        crate::render::count(s.rows, "grant", "grants"),
        crate::render::count(s.sites, "site", "sites"),
    );
    let _ = writeln!(
        out,
        "{} in request mode (the owner grants access by hand); `expiring`: a managed grant whose `until` is at most {} days away.\n",
        crate::render::count(s.request_mode_sites, "site is", "sites are"),
        report.expiry_warning_days
    );
    out.push_str("| | ");
    for st in Status::ALL {
        let _ = write!(out, "{} | ", st.name());
    }
    out.push_str("total |\n|---|");
    out.push_str(&"---:|".repeat(Status::ALL.len() + 1));
    out.push('\n');
    let line = |label: &str, counts: &BTreeMap<String, usize>, out: &mut String| {
        let _ = write!(out, "| {label} | ");
        for st in Status::ALL {
            let _ = write!(out, "{} | ", counts.get(st.name()).copied().unwrap_or(0));
        }
        let _ = writeln!(out, "{} |", counts.values().sum::<usize>());
    };
    line("**all**", &s.by_status, &mut out);
    for p in Platform::ALL {
        if let Some(counts) = s.by_platform.get(p.name()) {
            line(p.short_title(), counts, &mut out);
        }
    }
    out.push('\n');
    markdown_policy(report, &mut out);
    if !report.unreadable.is_empty() {
        let _ = writeln!(
            out,
            "> [!WARNING]\n> **{} could not be read**; their access is missing from this report:",
            crate::render::count(
                report.unreadable.len(),
                "site or target",
                "sites or targets"
            )
        );
        for u in &report.unreadable {
            let _ = writeln!(
                out,
                "> - {} {} {}: {}",
                cell(&u.site),
                u.platform.short_title(),
                cell(&u.scope),
                cell(&u.error)
            );
        }
        out.push('\n');
    }
    let removals: Vec<&Row> = report
        .rows
        .iter()
        .filter(|r| r.state == "removal-requested")
        .collect();
    if !removals.is_empty() {
        let _ = writeln!(
            out,
            "> [!IMPORTANT]\n> **{} asked of site owners and not confirmed yet** (request mode): the access may still be in place, and offboarding is not complete until the owner has removed it and `accessctl request done SITE` records it:",
            crate::render::count(removals.len(), "removal", "removals")
        );
        for r in removals {
            let _ = writeln!(
                out,
                "> - {}: {} ({})",
                cell(&r.site),
                cell(&r.principal),
                cell(&r.roles.join(", "))
            );
        }
        out.push('\n');
    }
    out
}

fn markdown_site(info: &SiteInfo, rows: &[&Row]) -> String {
    let mut out = format!(
        "### {}{}\n\n",
        cell(&info.site),
        match info.mode {
            "request" => " (request mode)",
            "unreadable" => " (unreadable)",
            _ => "",
        }
    );
    if rows.is_empty() {
        out.push_str("No access found.\n\n");
        return out;
    }
    out.push_str("| Platform | Scope | Principal | Roles | State | Status | Since | Until |\n");
    out.push_str("|---|---|---|---|---|---|---|---|\n");
    let dash = |s: Option<&str>| s.map_or_else(|| "-".to_string(), cell);
    for r in rows {
        let status = match r.status {
            Status::Drifted => format!("**drifted** (config: {})", cell(&r.wanted.join(", "))),
            Status::Expiring | Status::Unmanaged | Status::Ended => {
                format!("**{}**", r.status.name())
            }
            _ => r.status.name().to_string(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            r.platform.short_title(),
            cell(&r.scope),
            cell(&r.principal),
            cell(&r.roles.join(", ")),
            r.state,
            status,
            dash(r.since.as_deref().map(|s| s.get(..10).unwrap_or(s))),
            dash(r.until.as_deref()),
        );
    }
    out.push('\n');
    out
}

/// [`render_markdown`] within GitHub's comment limit.
pub fn render_comment(report: &Report) -> String {
    render_markdown(report, COMMENT_LIMIT)
}

// ---- CSV ----

/// The columns of `--format csv`, in order.
pub const CSV_HEADER: [&str; 14] = [
    "site",
    "platform",
    "scope",
    "principal",
    "person",
    "email",
    "account_id",
    "roles",
    "state",
    "status",
    "since",
    "until",
    "wanted",
    "note",
];

/// The report as CSV (RFC 4180: CRLF line ends, fields with a comma, a
/// quote or a line break quoted, quotes doubled), one row per grant and one
/// per unreadable site or target (status `unreadable`, the error in
/// `note`). Lists (roles, wanted) are joined with `; `. A cell that a
/// spreadsheet would read as a formula (starting with `=`, `+`, `-`, `@`, a
/// tab or a carriage return) gets a leading `'`.
pub fn render_csv(report: &Report) -> String {
    let mut out = String::new();
    csv_line(&CSV_HEADER.map(String::from), &mut out);
    let opt = |s: &Option<String>| s.clone().unwrap_or_default();
    for r in &report.rows {
        csv_line(
            &[
                r.site.clone(),
                r.platform.name().to_string(),
                r.scope.clone(),
                r.principal.clone(),
                opt(&r.person),
                opt(&r.email),
                opt(&r.account_id),
                r.roles.join("; "),
                r.state.to_string(),
                r.status.name().to_string(),
                opt(&r.since),
                opt(&r.until),
                r.wanted.join("; "),
                String::new(),
            ],
            &mut out,
        );
    }
    for u in &report.unreadable {
        let mut cells: [String; 14] = Default::default();
        cells[0] = u.site.clone();
        cells[1] = u.platform.name().to_string();
        cells[2] = u.scope.clone();
        cells[9] = "unreadable".into();
        cells[13] = u.error.clone();
        csv_line(&cells, &mut out);
    }
    out
}

fn csv_line(cells: &[String], out: &mut String) {
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&csv_cell(c));
    }
    out.push_str("\r\n");
}

/// One field: defused against formula injection, then quoted if needed.
pub fn csv_cell(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(rows: usize, hostile: &str) -> Report {
        let row = |i: usize| Row {
            site: format!("site-{:05}", i / 10),
            platform: Platform::Wix,
            scope: "5e1a".into(),
            principal: format!("{hostile}{i}"),
            person: None,
            email: None,
            account_id: Some(format!("acct-{i}")),
            roles: vec!["Admin".into()],
            state: "active",
            status: Status::Unmanaged,
            since: None,
            until: None,
            wanted: vec![],
        };
        let rows: Vec<Row> = (0..rows).map(row).collect();
        let sites: BTreeSet<String> = rows.iter().map(|r| r.site.clone()).collect();
        Report {
            report_version: 1,
            observed: "live".into(),
            today: "2026-12-01".into(),
            expiry_warning_days: 14,
            summary: Summary {
                sites: sites.len(),
                rows: rows.len(),
                ..Summary::default()
            },
            sites: sites
                .into_iter()
                .map(|site| SiteInfo {
                    site,
                    mode: "api-key",
                })
                .collect(),
            rows,
            unreadable: vec![],
            policy: vec![],
        }
    }

    #[test]
    fn a_large_report_is_cut_to_one_comment_with_a_note() {
        let report = sample(5_000, "person ");
        let text = render_comment(&report);
        assert!(text.len() <= COMMENT_LIMIT, "{}", text.len());
        assert!(text.contains("**Report cut to fit one comment**"), "{text}");
        assert!(text.contains(" of 500 sites are shown"));
        assert!(text.ends_with("report format 1</sub>\n"));
        let small = render_comment(&sample(20, "p"));
        assert!(!small.contains("cut to fit"));
    }

    #[test]
    fn hostile_principals_cannot_break_the_markdown_table_or_mention() {
        let report = sample(1, "@org/team | <img src=x> [x](http://e) ");
        let text = render_comment(&report);
        assert!(!text.contains("<img"), "{text}");
        assert!(!text.contains("| <"), "{text}");
        assert!(!text.contains("@org/team"), "a mention: {text}");
        assert!(text.contains("\\|"), "{text}");
    }

    #[test]
    fn csv_cells_are_quoted_and_defused() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("+1"), "'+1");
        assert_eq!(csv_cell("-2+3"), "'-2+3");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("\tx"), "'\tx");
        assert_eq!(csv_cell("\rx"), "\"'\rx\"");
        assert_eq!(csv_cell("a\nb"), "\"a\nb\"");
        assert_eq!(csv_cell("bob@northwind.example"), "bob@northwind.example");
    }

    #[test]
    fn expiring_is_within_the_warning_days() {
        let now = time::macros::datetime!(2026-12-01 12:00 UTC);
        assert!(expires_soon(Some("2026-12-15"), now, 14));
        assert!(!expires_soon(Some("2026-12-16"), now, 14));
        assert!(!expires_soon(None, now, 14));
    }
}
