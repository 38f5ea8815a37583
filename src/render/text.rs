//! The plan as text for a person at a terminal.
//!
//! One block per site: a header, its errors, its warnings, its changes (one
//! line each, led by the action's symbol), its pending invites and a unified
//! diff of the access listing; then a one-line summary. Styles are added only
//! when asked for, and every styled piece also reads the same without them.

use std::fmt::Write as _;
use std::io::Write;

use anstyle::{AnsiColor, Style};

use super::{TextOptions, access_diff, describe, mode_name, sites, sites_with_errors, subject};
use crate::escape;
use crate::plan::targets::TargetPlan;
use crate::plan::{Action, Plan, RequestPreview, SitePlan};
use crate::platform::ChangeKind;

const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();
const GREEN: Style = AnsiColor::Green.on_default();
const YELLOW: Style = AnsiColor::Yellow.on_default();
const RED: Style = AnsiColor::Red.on_default();
const CYAN: Style = AnsiColor::Cyan.on_default();
const BLUE: Style = AnsiColor::Blue.on_default();

/// Renders the plan for a terminal; see the module documentation.
pub fn render_text(plan: &Plan, opts: &TextOptions) -> String {
    let mut out = Vec::new();
    // Writing to memory cannot fail.
    let _ = write_text(plan, opts, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Sites whose text is made at once.
const TEXT_BATCH: usize = 1024;

/// [`render_text`] written straight to `out`, as `plan` prints it: the text
/// of a large plan is never held in memory whole.
pub fn write_text(plan: &Plan, opts: &TextOptions, out: impl Write) -> std::io::Result<()> {
    let painter = Painter { color: opts.color };
    let mut out = std::io::BufWriter::new(out);
    let mut wrote_any = false;
    let mut previous_was_long = false;
    // Blocks are made on all cores a batch at a time (bounded memory) and
    // written in order.
    let blocks = plan.sites.chunks(TEXT_BATCH).flat_map(|batch| {
        crate::parallel::ordered_flat_map(batch, TEXT_BATCH / 4, |site| {
            Some(site_block(site, painter))
        })
    });
    for block in blocks {
        let long = block.len() > 1;
        // One-line blocks ("no changes") stay together so that a plan over
        // many quiet sites does not turn into a column of blank lines.
        if wrote_any && (long || previous_was_long) {
            out.write_all(b"\n")?;
        }
        for line in block {
            out.write_all(line.as_bytes())?;
            out.write_all(b"\n")?;
            wrote_any = true;
        }
        previous_was_long = long;
    }
    if wrote_any {
        out.write_all(b"\n")?;
    }
    for refusal in &plan.refusals {
        writeln!(
            out,
            "{}",
            painter.paint(RED, &format!("refused: {}", continued(refusal)))
        )?;
    }
    for v in &plan.policy {
        let (style, label) = match v.severity {
            crate::model::policy::Severity::Error => (RED, "policy error"),
            crate::model::policy::Severity::Warn => (YELLOW, "policy warning"),
        };
        writeln!(
            out,
            "{}",
            painter.paint(style, &format!("{label}: {}", escape::line(&v.message)))
        )?;
        writeln!(
            out,
            "  = rule `{}` (config line {}); hint: {}",
            v.rule,
            v.rule_line,
            escape::line(&v.hint)
        )?;
    }
    if let Some(note) = plan.unverified_note() {
        writeln!(out, "{}", painter.paint(RED, &format!("warning: {note}")))?;
    }
    if let Some(note) = super::scope_note(plan) {
        writeln!(out, "{}", painter.paint(YELLOW, &escape::text(&note)))?;
    }
    writeln!(out, "{}", painter.paint(BOLD, &summary(plan)))?;
    out.flush()
}

/// The closing line, such as `Plan: 3 to invite, 1 to remove.`
fn summary(plan: &Plan) -> String {
    let parts = super::total_parts(plan);
    let errors = sites_with_errors(plan);
    match (parts.is_empty(), errors) {
        (true, 0) => "No changes. Live access matches the config.".to_string(),
        (true, n) => format!("Plan: no changes; {} with errors.", sites(n)),
        (false, 0) => format!("Plan: {}.", parts.join(", ")),
        (false, n) => format!("Plan: {}; {} with errors.", parts.join(", "), sites(n)),
    }
}

fn site_block(site: &SitePlan, painter: Painter) -> Vec<String> {
    let mut lines = Vec::new();
    let quiet = site.changes.is_empty()
        && site.errors.is_empty()
        && site
            .targets
            .iter()
            .all(|t| t.changes.is_empty() && t.errors.is_empty() && t.refused.is_empty());
    if quiet {
        lines.push(format!(
            "{}: no changes",
            painter.paint(BOLD, &format!("site {}", escape::text(&site.site)))
        ));
    } else {
        lines.push(painter.paint(
            BOLD,
            &format!(
                "site {} ({}, {})",
                escape::text(&site.site),
                escape::text(&site.site_id),
                mode_name(site)
            ),
        ));
    }
    for error in &site.errors {
        lines.push(format!(
            "  {} {}",
            painter.paint(RED.bold(), "error:"),
            continued(error)
        ));
    }
    for warning in &site.warnings {
        lines.push(format!(
            "  {} {}",
            painter.paint(YELLOW.bold(), "warning:"),
            continued(warning)
        ));
    }
    for change in &site.changes {
        let style = action_style(change.action);
        let text = format!("{} {}", change.action.symbol(), describe(change));
        lines.push(format!(
            "  {}  {}",
            painter.paint(style, &text),
            painter.paint(DIM, &format!("({})", escape::text(&change.reason)))
        ));
    }
    for pending in &site.pending {
        lines.push(format!(
            "  {} {}: {}; invited {}, expires {}",
            painter.paint(DIM, "pending:"),
            subject(&pending.who, Some(&pending.email)),
            super::titles(&pending.roles),
            super::day(&pending.sent_at),
            super::day(&pending.expires_at),
        ));
    }
    if !site.changes.is_empty()
        && let Some(diff) = access_diff(site)
    {
        lines.push(String::new());
        for line in diff.lines() {
            let mut text = String::with_capacity(line.len() + 4);
            text.push_str("    ");
            painter.paint_into(&mut text, diff_style(line), line);
            lines.push(text);
        }
    }
    if let Some(request) = &site.request {
        request_lines(request, painter, &mut lines);
    }
    for target in &site.targets {
        target_lines(target, painter, &mut lines);
    }
    lines
}

/// A target on another platform: its problems, changes and the diff of
/// its bindings; nothing when it needs nothing.
fn target_lines(t: &TargetPlan, painter: Painter, lines: &mut Vec<String>) {
    if t.changes.is_empty() && t.errors.is_empty() && t.warnings.is_empty() && t.refused.is_empty()
    {
        return;
    }
    lines.push(String::new());
    let header = if t.changes.is_empty() && t.errors.is_empty() && t.refused.is_empty() {
        format!("{}: no changes", super::target_label(t))
    } else {
        super::target_label(t)
    };
    lines.push(format!("  {}", painter.paint(BOLD, &header)));
    for error in &t.errors {
        lines.push(format!(
            "    {} {}",
            painter.paint(RED.bold(), "error:"),
            continued(error)
        ));
    }
    for warning in &t.warnings {
        lines.push(format!(
            "    {} {}",
            painter.paint(YELLOW.bold(), "warning:"),
            continued(warning)
        ));
    }
    for refused in &t.refused {
        lines.push(format!(
            "    {} {} {}: {}",
            painter.paint(RED.bold(), "refused:"),
            super::kind_verb_bare(refused.change.kind),
            escape::text(&refused.change.who.to_string()),
            continued(&refused.reason)
        ));
    }
    for (change, line) in t.changes.iter().zip(super::target_change_lines(t)) {
        let style = match change.kind {
            ChangeKind::Add => GREEN,
            ChangeKind::Update => YELLOW,
            ChangeKind::Remove => RED,
        };
        lines.push(format!("    {}", painter.paint(style, &line)));
    }
    if let Some(diff) = super::target_diff(t) {
        lines.push(String::new());
        for line in diff.lines() {
            lines.push(format!("      {}", painter.paint(diff_style(line), line)));
        }
    }
}

/// Where the site's access request stands, and the message `apply` sends.
fn request_lines(request: &RequestPreview, painter: Painter, lines: &mut Vec<String>) {
    let message = super::request::message_lines(request);
    if message.is_some() {
        lines.push(String::new());
    }
    lines.push(format!(
        "  {} {}",
        painter.paint(CYAN.bold(), "request:"),
        super::request::headline(request)
    ));
    if let Some(problem) = &request.problem {
        lines.push(format!(
            "  {} {}",
            painter.paint(YELLOW.bold(), "cannot send:"),
            continued(problem)
        ));
    }
    for line in message.into_iter().flatten() {
        let bar = painter.paint(DIM, "|");
        if line.is_empty() {
            lines.push(format!("    {bar}"));
        } else {
            lines.push(format!("    {bar} {line}"));
        }
    }
}

/// Indents the continuation lines of a multi-line message under its first,
/// each line escaped ([`escape::lines`]).
fn continued(message: &str) -> String {
    escape::lines(message, "\n    ")
}

fn action_style(action: Action) -> Style {
    match action {
        Action::Invite => GREEN,
        Action::ChangeRole => YELLOW,
        Action::Remove | Action::RevokeInvite => RED,
        Action::Request | Action::RequestChange | Action::RequestRemoval => CYAN,
        Action::Link => BLUE,
    }
}

fn diff_style(line: &str) -> Style {
    if line.starts_with("+++") || line.starts_with("---") {
        BOLD
    } else if line.starts_with('+') {
        GREEN
    } else if line.starts_with('-') {
        RED
    } else if line.starts_with("@@") {
        CYAN
    } else {
        Style::new()
    }
}

/// Applies styles, or leaves text alone when color is off.
#[derive(Clone, Copy)]
struct Painter {
    color: bool,
}

impl Painter {
    fn paint(self, style: Style, text: &str) -> String {
        let mut out = String::with_capacity(text.len() + 16);
        self.paint_into(&mut out, style, text);
        out
    }

    /// [`Painter::paint`] appended to `out`.
    fn paint_into(self, out: &mut String, style: Style, text: &str) {
        if !self.color || style == Style::new() || text.is_empty() {
            out.push_str(text);
            return;
        }
        // Writing into a String cannot fail.
        let _ = write!(out, "{style}{text}{style:#}");
    }
}
