//! The plan as a Markdown pull-request comment.
//!
//! Laid out for a reviewer who has a few seconds: a title with the totals,
//! errors and warnings up front as GitHub alerts, one table row per site that
//! has something to say, then a collapsed section per site with its changes
//! and the before/after access listing, both in `diff` blocks so additions
//! and removals are colored. Sites with nothing to say are only counted, which
//! keeps the comment short on large fleets.
//!
//! Everything taken from the plan is escaped for where it lands (table cell,
//! list item, HTML summary, fenced block), so a site key or a message cannot
//! break the layout or inject markup.

use std::fmt::Write as _;

use super::{access_diff, changes, describe, mode_name, sites, sites_with_errors, subject};
use crate::escape;
use crate::plan::{Action, Plan, RequestPreview, SitePlan};

/// GitHub refuses comments longer than this many characters.
pub const COMMENT_LIMIT: usize = 65_536;

/// Between parts when `--split` is given: a line a workflow can split on.
pub const PART_SEPARATOR: &str = "<!-- accessctl: next part -->\n";

/// Renders the plan as a pull-request comment; see the module documentation.
pub fn render_markdown(plan: &Plan) -> String {
    let (head, sections, foot) = blocks(plan);
    let mut out = head;
    for section in &sections {
        out.push_str(section);
    }
    out.push_str(&foot);
    out
}

/// The comment, at most `limit` bytes (GitHub counts characters; bytes are
/// never fewer). Too long a plan is cut with a note saying what was left
/// out, or — with `split` — spread over numbered parts, each within the limit.
pub fn render_markdown_limited(plan: &Plan, limit: usize, split: bool) -> Vec<String> {
    let full = render_markdown(plan);
    if full.len() <= limit {
        return vec![full];
    }
    let (head, sections, foot) = blocks(plan);
    // Room kept for a part header or the truncation note.
    const RESERVE: usize = 600;
    let budget = limit.saturating_sub(RESERVE);
    let head = cut(&head, budget / 2);
    let sections: Vec<String> = sections.iter().map(|s| cut(s, budget)).collect();
    if !split {
        let mut out = head;
        let shown = append_while_fits(&mut out, &sections, foot.len(), budget);
        let with_changes = sections.len();
        out.push_str(&format!(
            "> [!NOTE]\n> **Plan cut to fit one comment** ({} characters in full): details of {} of {} sites with changes are shown. Run `accessctl plan` for the whole plan, or `accessctl plan --format markdown --split` for numbered parts.\n\n",
            full.chars().count(),
            shown,
            with_changes
        ));
        out.push_str(&foot);
        return vec![out];
    }
    let mut parts: Vec<String> = vec![head];
    for section in sections {
        let last = parts.len() - 1;
        if parts[last].len() + section.len() + foot.len() > budget {
            parts.push(String::new());
        }
        let last = parts.len() - 1;
        parts[last].push_str(&section);
    }
    let n = parts.len();
    parts
        .into_iter()
        .enumerate()
        .map(|(i, body)| format!("**accessctl plan, part {} of {n}**\n\n{body}{foot}", i + 1))
        .collect()
}

/// Append whole sections to `out`, in order, while it stays within
/// `budget` bytes with `tail` more after it; how many were appended.
pub(crate) fn append_while_fits(
    out: &mut String,
    sections: &[String],
    tail: usize,
    budget: usize,
) -> usize {
    let mut shown = 0;
    for section in sections {
        if out.len() + section.len() + tail > budget {
            break;
        }
        out.push_str(section);
        shown += 1;
    }
    shown
}

/// Head (title, alerts, table), one section per site with changes, footer.
fn blocks(plan: &Plan) -> (String, Vec<String>, String) {
    let mut head = String::new();
    title(plan, &mut head);
    alerts(plan, &mut head);
    table(plan, &mut head);
    let sections = plan
        .sites
        .iter()
        .filter(|s| !s.changes.is_empty() || s.targets.iter().any(|t| !t.changes.is_empty()))
        .map(|site| {
            let mut out = String::new();
            details(site, &mut out);
            out
        })
        .collect();
    // The digest is hex today; escaping keeps that an assumption, not a risk.
    let digest: String = plan.config_digest.chars().take(12).collect();
    let foot = format!(
        "<sub>planned for {} from config sha256 {} · plan format {}</sub>\n",
        html(&plan.today),
        html(&digest),
        plan.format_version
    );
    (head, sections, foot)
}

/// Keep whole lines up to `max` bytes, closing an open fence or `<details>`
/// so the Markdown stays well formed, and say how much was left out.
fn cut(block: &str, max: usize) -> String {
    if block.len() <= max {
        return block.to_string();
    }
    let mut out = String::new();
    let mut fence: Option<String> = None;
    let mut details_open = false;
    let mut kept = 0;
    let lines: Vec<&str> = block.lines().collect();
    for line in &lines {
        if out.len() + line.len() + 200 > max {
            break;
        }
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            let ticks: String = trimmed.chars().take_while(|c| *c == '`').collect();
            fence = match fence {
                Some(open) if ticks.len() >= open.len() && trimmed == ticks => None,
                Some(open) => Some(open),
                None => Some(ticks),
            };
        }
        if trimmed.starts_with("<details>") {
            details_open = true;
        }
        if trimmed.starts_with("</details>") {
            details_open = false;
        }
        out.push_str(line);
        out.push('\n');
        kept += 1;
    }
    if let Some(open) = fence {
        out.push_str(&open);
        out.push('\n');
    }
    out.push_str(&format!(
        "\n*… {} more lines not shown.*\n\n",
        lines.len() - kept
    ));
    if details_open {
        out.push_str("</details>\n\n");
    }
    out
}

fn title(plan: &Plan, out: &mut String) {
    let parts = super::total_parts(plan);
    let errors = sites_with_errors(plan);
    let mut line = if parts.is_empty() {
        "### accessctl plan: no changes".to_string()
    } else {
        format!("### accessctl plan: {}", parts.join(", "))
    };
    if errors > 0 {
        line.push_str(&format!(" · {} with errors", sites(errors)));
    }
    out.push_str(&line);
    out.push_str("\n\n");
    if let Some(note) = plan.unverified_note() {
        out.push_str(&format!("> [!WARNING]\n> {note}\n\n"));
    }
    if let Some(note) = super::scope_note(plan) {
        out.push_str(&format!(
            "> [!NOTE]\n> {}\n\n",
            inline(&escape::text(&note))
        ));
    }
    if parts.is_empty() && errors == 0 {
        out.push_str("Live access matches the config.\n\n");
    }
}

/// Refusals, errors and warnings of every site, before anything else.
fn alerts(plan: &Plan, out: &mut String) {
    if !plan.refusals.is_empty() {
        out.push_str("> [!CAUTION]\n");
        out.push_str(
            "> **Refused by the safety guards**; `apply` will not run this plan as it is:\n",
        );
        for refusal in &plan.refusals {
            out.push_str(&format!("> - {}\n", inline(&escape::text(refusal))));
        }
        out.push('\n');
    }
    if !plan.policy.is_empty() {
        let errors = crate::policy::has_errors(&plan.policy);
        out.push_str(if errors {
            "> [!CAUTION]\n"
        } else {
            "> [!WARNING]\n"
        });
        out.push_str("> **Policy rules broken by live access** (`policies:` in the config):\n");
        for v in &plan.policy {
            let severity = match v.severity {
                crate::model::policy::Severity::Error => "error",
                crate::model::policy::Severity::Warn => "warning",
            };
            alert_item(
                &format!("{} ({})", v.site, v.platform),
                &format!("{severity}: {}\nhint: {}", v.message, v.hint),
                out,
            );
        }
        out.push('\n');
    }
    let errors: Vec<(String, &String)> = plan
        .sites
        .iter()
        .flat_map(|s| {
            s.errors
                .iter()
                .map(move |e| (s.site.clone(), e))
                .chain(s.targets.iter().flat_map(move |t| {
                    t.errors
                        .iter()
                        .map(move |e| (format!("{} ({})", s.site, super::target_label(t)), e))
                }))
        })
        .collect();
    if !errors.is_empty() {
        let failed = sites_with_errors(plan);
        out.push_str("> [!CAUTION]\n");
        out.push_str(&format!(
            "> {} could not be planned; nothing will change there until this is fixed:\n",
            sites(failed)
        ));
        for (site, error) in &errors {
            alert_item(site, error, out);
        }
        out.push('\n');
    }
    let warnings: Vec<(String, &String)> =
        plan.sites
            .iter()
            .flat_map(|s| {
                s.warnings.iter().map(move |w| (s.site.clone(), w)).chain(
                    s.targets.iter().flat_map(move |t| {
                        t.warnings
                            .iter()
                            .map(move |w| (format!("{} ({})", s.site, super::target_label(t)), w))
                    }),
                )
            })
            .collect();
    if !warnings.is_empty() {
        out.push_str("> [!WARNING]\n");
        for (site, warning) in &warnings {
            alert_item(site, warning, out);
        }
        out.push('\n');
    }
}

fn alert_item(site: &str, message: &str, out: &mut String) {
    // Later lines of a message (a `hint:`, say) stay inside the list item,
    // each on a line of its own.
    let lines: Vec<String> = message
        .trim_end()
        .lines()
        .map(|l| inline(&escape::text(l.trim())))
        .collect();
    out.push_str(&format!(
        "> - **{}**: {}\n",
        inline_plain(site),
        lines.join("\\\n>   ")
    ));
}

const COLUMNS: [(Action, &str); 6] = [
    (Action::Invite, "invite"),
    (Action::ChangeRole, "change"),
    (Action::Remove, "remove"),
    (Action::RevokeInvite, "revoke"),
    (Action::Request, "request"),
    (Action::Link, "link"),
];

fn table(plan: &Plan, out: &mut String) {
    let shown: Vec<&SitePlan> = plan.sites.iter().filter(|s| !is_quiet(s)).collect();
    let quiet = plan.sites.len() - shown.len();
    if !shown.is_empty() {
        out.push_str("| site | mode |");
        for (_, name) in COLUMNS {
            out.push_str(&format!(" {name} |"));
        }
        out.push_str(" notes |\n| --- | --- |");
        for _ in COLUMNS {
            out.push_str(" ---: |");
        }
        out.push_str(" --- |\n");
        for site in &shown {
            out.push_str(&format!("| {} | {} |", cell(&site.site), mode_name(site)));
            for (action, _) in COLUMNS {
                // The request column counts everything asked of the owner
                // (grants, role changes, removals); the lines below tell
                // them apart.
                let n = site
                    .changes
                    .iter()
                    .filter(|c| {
                        c.action == action || (action == Action::Request && c.action.is_request())
                    })
                    .count();
                // Blank rather than 0, so the numbers that matter stand out.
                if n == 0 {
                    out.push_str(" |");
                } else {
                    out.push_str(&format!(" {n} |"));
                }
            }
            match notes(site) {
                notes if notes.is_empty() => out.push_str(" |\n"),
                notes => out.push_str(&format!(" {notes} |\n")),
            }
        }
        out.push('\n');
    }
    match (quiet, shown.is_empty()) {
        (0, _) => {}
        (1, false) => out.push_str("1 more site with no changes.\n\n"),
        (n, false) => out.push_str(&format!("{n} more sites with no changes.\n\n")),
        (n, true) => out.push_str(&format!("{} checked.\n\n", sites(n))),
    }
}

/// A site that needs no attention: nothing to do, nothing to read.
fn is_quiet(site: &SitePlan) -> bool {
    site.changes.is_empty()
        && site.errors.is_empty()
        && site.warnings.is_empty()
        && site.targets.iter().all(|t| {
            t.changes.is_empty()
                && t.errors.is_empty()
                && t.warnings.is_empty()
                && t.refused.is_empty()
        })
}

fn notes(site: &SitePlan) -> String {
    let mut notes = Vec::new();
    let count = |n: usize, one: &str, many: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {many}")
        }
    };
    if !site.errors.is_empty() {
        notes.push(format!(
            "**{}**",
            count(site.errors.len(), "error", "errors")
        ));
    }
    if !site.warnings.is_empty() {
        notes.push(count(site.warnings.len(), "warning", "warnings"));
    }
    if !site.pending.is_empty() {
        notes.push(count(
            site.pending.len(),
            "pending invite",
            "pending invites",
        ));
    }
    for t in &site.targets {
        let mut parts = Vec::new();
        if !t.changes.is_empty() {
            parts.push(count(t.changes.len(), "change", "changes"));
        }
        if !t.errors.is_empty() {
            parts.push(format!("**{}**", count(t.errors.len(), "error", "errors")));
        }
        if !t.refused.is_empty() {
            parts.push(format!("**{} refused**", t.refused.len()));
        }
        if !parts.is_empty() {
            notes.push(format!(
                "{}: {}",
                cell(&super::target_label(t)),
                parts.join(", ")
            ));
        }
    }
    notes.join(", ")
}

fn details(site: &SitePlan, out: &mut String) {
    out.push_str(&format!(
        "<details><summary>{} — {}</summary>\n\n",
        html(&site.site),
        changes(site.changes.len() + site.targets.iter().map(|t| t.changes.len()).sum::<usize>())
    ));
    out.push_str(&format!(
        "Site `{}` ({}).\n\n",
        code_text(&site.site_id),
        mode_name(site)
    ));
    let lines: Vec<String> = site
        .changes
        .iter()
        .map(|c| {
            format!(
                "{} {}  ({})",
                c.action.symbol(),
                describe(c),
                escape::text(&c.reason)
            )
        })
        .collect();
    fenced("diff", &lines.join("\n"), out);
    if !site.pending.is_empty() {
        out.push_str("Invites already open, nothing to do:\n\n");
        for p in &site.pending {
            out.push_str(&format!(
                "- {}: {}; invited {}, expires {}\n",
                inline_plain(&subject(&p.who, Some(&p.email))),
                inline_plain(&super::titles(&p.roles)),
                inline_plain(&super::day(&p.sent_at)),
                inline_plain(&super::day(&p.expires_at)),
            ));
        }
        out.push('\n');
    }
    if let Some(diff) = access_diff(site) {
        out.push_str("Access, live → planned:\n\n");
        fenced("diff", diff.trim_end(), out);
    }
    if let Some(request) = &site.request {
        request_section(request, out);
    }
    for t in site
        .targets
        .iter()
        .filter(|t| !t.changes.is_empty() || !t.refused.is_empty())
    {
        out.push_str(&format!(
            "**{}**:\n\n",
            inline_plain(&super::target_label(t))
        ));
        let mut lines = super::target_change_lines(t);
        for r in &t.refused {
            lines.push(format!(
                "! refused: {} {}: {}",
                super::kind_verb_bare(r.change.kind),
                escape::text(&r.change.who.to_string()),
                escape::text(&r.reason)
            ));
        }
        fenced("diff", &lines.join("\n"), out);
    }
    out.push_str("</details>\n\n");
}

/// The site's access request: where it stands and the exact message.
fn request_section(request: &RequestPreview, out: &mut String) {
    let headline = super::request::headline(request);
    out.push_str(&format!("**Request:** {}\n\n", inline_plain(&headline)));
    if let Some(problem) = &request.problem {
        out.push_str(&format!(
            "**Cannot send:** {}\n\n",
            inline(&escape::text(problem))
        ));
    }
    if let Some(lines) = super::request::message_lines(request) {
        fenced("text", &lines.join("\n"), out);
    }
}

/// A fenced block whose fence is longer than any run of backticks inside,
/// so the content cannot close it early. Each line is escaped
/// ([`escape::line`]): the comment is also printed to stdout in CI, where a
/// line must not read as a workflow command.
fn fenced(info: &str, body: &str, out: &mut String) {
    let body = body
        .split('\n')
        .map(escape::line)
        .collect::<Vec<_>>()
        .join("\n");
    let longest = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    let _ = writeln!(out, "{fence}{info}\n{body}\n{fence}\n");
}

/// Text for a table cell: every Markdown and HTML character escaped, pipes
/// included, on one line.
pub(crate) fn cell(text: &str) -> String {
    inline_plain(&text.replace(['\n', '\r'], " "))
}

/// Text for a code span; backticks cannot be escaped there, so they become
/// a look-alike, and control characters are shown escaped.
fn code_text(text: &str) -> String {
    escape::text(text).replace('`', "'")
}

/// Text for inline Markdown that keeps the message's own `code spans` (the
/// plan's messages quote commands and names that way) and escapes the rest.
/// Unbalanced backticks are escaped like any other character.
fn inline(text: &str) -> String {
    let pieces: Vec<&str> = text.split('`').collect();
    let balanced = pieces.len() % 2 == 1;
    let spans_ok = pieces.iter().skip(1).step_by(2).all(|p| !p.is_empty());
    if !balanced || !spans_ok {
        return inline_plain(text);
    }
    pieces
        .iter()
        .enumerate()
        .map(|(i, piece)| {
            if i % 2 == 1 {
                format!("`{piece}`")
            } else {
                inline_plain(piece)
            }
        })
        .collect()
}

/// Text for inline Markdown with every special character escaped: HTML,
/// emphasis, links and images, code, table pipes, a leading list or
/// heading marker, and mentions ([`unmention`]). A line break inside would
/// start a new block, so control characters are shown escaped first.
fn inline_plain(text: &str) -> String {
    let text = escape::text(text);
    let mut out = String::with_capacity(text.len());
    let mut previous: Option<char> = None;
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '@' => unmention(previous, &mut out),
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '|' | '~' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '-' | '+' | '=' if previous.is_none() => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
        previous = Some(c);
    }
    out
}

/// An `@` that GitHub would read as a mention (`@someone`, `@org/team`:
/// one not preceded by a letter or digit, as in an email) is followed by a
/// zero-width space, so it shows as `@` but pings nobody.
fn unmention(previous: Option<char>, out: &mut String) {
    out.push('@');
    if !previous.is_some_and(|p| p.is_alphanumeric() || p == '_') {
        out.push('\u{200b}');
    }
}

/// Text inside an HTML element: escaped for HTML, with mentions defused
/// and control characters shown escaped.
fn html(text: &str) -> String {
    let text = escape::text(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    let mut out = String::with_capacity(text.len());
    let mut previous = None;
    for c in text.chars() {
        if c == '@' {
            unmention(previous, &mut out);
        } else {
            out.push(c);
        }
        previous = Some(c);
    }
    out
}
