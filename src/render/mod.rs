//! Renderers that turn a [`Plan`] into what people and programs read.
//!
//! Three shapes of the same data: [`render_text`] for a terminal, in the
//! manner of Terraform and octoDNS; [`render_json`], the versioned plan
//! format that `apply` and other tools read back; and [`render_markdown`], a
//! pull-request comment a reviewer can take in at a glance. Every renderer is
//! a pure function of the plan, so the same plan gives the same bytes.
//!
//! This module decides nothing about what changes: that is `plan`'s job. It
//! never writes to stdout itself either; the caller does, and asks
//! [`color_enabled_for_stdout`] whether the text may carry ANSI styles.
//! Meaning never depends on color: every change carries its symbol and name.
//!
//! Everything taken from the plan is untrusted (config, ledger, Wix): the
//! text renderer passes it through [`crate::escape`], the Markdown one
//! through its own escaping; JSON is escaped by serde.

mod json;
mod markdown;
mod request;
mod text;

use std::io::IsTerminal;

use crate::escape;
use std::collections::BTreeMap;

use crate::plan::targets::TargetPlan;
use crate::plan::{Action, Change, Plan, Role, SitePlan};
use crate::platform::{ChangeKind, Platform};

pub use json::{render_json, write_json};
pub use markdown::{COMMENT_LIMIT, PART_SEPARATOR, render_markdown, render_markdown_limited};
pub(crate) use markdown::{append_while_fits, cell as markdown_cell};
pub use text::{render_text, write_text};

/// The output formats `plan` can print.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For people at a terminal.
    #[default]
    Text,
    /// The versioned plan format, for programs and for `apply`.
    Json,
    /// A pull-request comment.
    Markdown,
}

/// How [`render_text`] should look.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TextOptions {
    /// Whether to style the text with ANSI escape codes.
    pub color: bool,
}

/// Renders `plan` in `format`; `text` applies only to [`Format::Text`].
pub fn render(plan: &Plan, format: Format, text: &TextOptions) -> String {
    match format {
        Format::Text => render_text(plan, text),
        Format::Json => render_json(plan),
        Format::Markdown => render_markdown(plan),
    }
}

/// Whether text written to stdout should carry color: only when stdout is a
/// terminal, `NO_COLOR` is unset or empty (<https://no-color.org>), and the
/// terminal is not `TERM=dumb`.
pub fn color_enabled_for_stdout() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
    !no_color && !dumb && std::io::stdout().is_terminal()
}

/// Most skipped sites named in text and Markdown (JSON lists them all).
const SKIPPED_NAMED: usize = 20;

/// What a plan of part of the sites leaves out, in one line: the shard it
/// covers, the sites `--changed-from` skipped.
pub fn scope_note(plan: &Plan) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(shard) = plan.shard {
        parts.push(format!(
            "Shard {shard}: only this shard's sites were planned (join the shards with `accessctl plan merge`)."
        ));
    }
    if !plan.skipped.is_empty() {
        let n = plan.skipped.len();
        let mut names: Vec<String> = plan
            .skipped
            .iter()
            .take(SKIPPED_NAMED)
            .map(|s| format!("`{s}`"))
            .collect();
        if n > SKIPPED_NAMED {
            names.push(format!("and {} more", n - SKIPPED_NAMED));
        }
        parts.push(format!(
            "Skipped {} unchanged from the base config (--changed-from); drift on them is not checked: {}.",
            count(n, "site", "sites"),
            names.join(", ")
        ));
    }
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// The order in which totals are listed, with the verb each one reads as.
const TOTALS: [(Action, &str); 8] = [
    (Action::Invite, "to invite"),
    (Action::ChangeRole, "to change"),
    (Action::Remove, "to remove"),
    (Action::RevokeInvite, "to revoke"),
    (Action::Request, "to request"),
    (Action::RequestChange, "to ask to change"),
    (Action::RequestRemoval, "to ask to remove"),
    (Action::Link, "to link"),
];

/// The non-zero totals of the plan, such as `3 to invite`, in a fixed
/// order; per platform (`Wix: 3 to invite; GA4: 2 to add`) when a platform
/// other than Wix has changes.
fn total_parts(plan: &Plan) -> Vec<String> {
    let counts = plan.counts();
    let wix: Vec<String> = TOTALS
        .iter()
        .filter_map(|(action, verb)| {
            let n = counts.get(action).copied().unwrap_or(0);
            (n > 0).then(|| format!("{n} {verb}"))
        })
        .collect();
    let mut others: BTreeMap<Platform, BTreeMap<ChangeKind, usize>> = BTreeMap::new();
    for t in plan.sites.iter().flat_map(|s| &s.targets) {
        for c in &t.changes {
            *others
                .entry(t.platform)
                .or_default()
                .entry(c.kind)
                .or_insert(0) += 1;
        }
    }
    if others.is_empty() {
        return wix;
    }
    let mut parts = Vec::new();
    if !wix.is_empty() {
        parts.push(format!("Wix: {}", wix.join(", ")));
    }
    for (platform, kinds) in others {
        let kinds: Vec<String> = kinds
            .iter()
            .map(|(kind, n)| format!("{n} {}", kind_verb(*kind)))
            .collect();
        parts.push(format!("{}: {}", platform.short_title(), kinds.join(", ")));
    }
    // One part: callers join parts with ", ", and platforms are told
    // apart by `; `.
    vec![parts.join("; ")]
}

/// `add`, `update`, `remove`.
fn kind_verb_bare(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::Add => "add",
        ChangeKind::Update => "update",
        ChangeKind::Remove => "remove",
    }
}

fn kind_verb(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::Add => "to add",
        ChangeKind::Update => "to update",
        ChangeKind::Remove => "to remove",
    }
}

/// How many sites could not be planned (on any platform).
fn sites_with_errors(plan: &Plan) -> usize {
    plan.sites_with_errors()
}

/// `GA4 properties/200`.
fn target_label(t: &TargetPlan) -> String {
    format!("{} {}", t.platform.short_title(), escape::text(&t.target))
}

/// One line per change of a target, escaped: `+ email: roles  (why)`.
fn target_change_lines(t: &TargetPlan) -> Vec<String> {
    t.changes
        .iter()
        .map(|c| {
            let access = |a: &Option<crate::platform::Access>| {
                a.as_ref().map(|a| a.describe()).unwrap_or_default()
            };
            let (symbol, what) = match c.kind {
                ChangeKind::Add => ("+", access(&c.to)),
                ChangeKind::Update => ("~", format!("{} → {}", access(&c.from), access(&c.to))),
                ChangeKind::Remove => ("-", access(&c.from)),
            };
            format!(
                "{symbol} {}: {}  ({})",
                escape::text(&c.who.to_string()),
                escape::text(&what),
                escape::text(&c.reason)
            )
        })
        .collect()
}

/// A target's bindings, live → planned, as a unified diff.
fn target_diff(t: &TargetPlan) -> Option<String> {
    listing_diff(&t.before, &t.after)
}

/// `1 site` or `2 sites`.
fn sites(n: usize) -> String {
    count(n, "site", "sites")
}

/// `1 change` or `2 changes`.
fn changes(n: usize) -> String {
    count(n, "change", "changes")
}

/// A number and the noun that goes with it: `1 team`, `0 teams`.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn mode_name(site: &SitePlan) -> &'static str {
    match site.mode {
        crate::plan::Mode::Managed => "managed",
        crate::plan::Mode::Request => "request",
    }
}

/// Role titles joined for reading, or `no roles`. Titles come from Wix:
/// each is escaped ([`escape::text`]) to stay one line segment.
fn titles(roles: &[Role]) -> String {
    if roles.is_empty() {
        return "no roles".to_string();
    }
    roles
        .iter()
        .map(|r| escape::text(&r.title))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Who a change concerns, with the email when `who` is not already it;
/// escaped like [`titles`].
fn subject(who: &str, email: Option<&str>) -> String {
    let who = escape::text(who);
    match email {
        Some(email) if email != who => format!("{who} ({})", escape::text(email)),
        _ => who.into_owned(),
    }
}

/// A change as one line without its symbol or reason, such as
/// `change-role bob: Blog Editor → Blog Editor, Website Manager`.
fn describe(change: &Change) -> String {
    let name = change.action.name();
    let who = subject(&change.who, change.email.as_deref());
    match change.action {
        Action::ChangeRole | Action::RequestChange => format!(
            "{name} {who}: {} → {}",
            titles(&change.roles_before),
            titles(&change.roles_after)
        ),
        Action::Remove | Action::RevokeInvite | Action::RequestRemoval => {
            format!("{name} {who}: {}", titles(&change.roles_before))
        }
        Action::Link => {
            let account = change
                .account_id
                .as_deref()
                .map(|a| format!(" to account {}", escape::text(a)))
                .unwrap_or_default();
            format!("{name} {who}{account}: {}", titles(&change.roles_after))
        }
        Action::Invite | Action::Request => {
            format!("{name} {who}: {}", titles(&change.roles_after))
        }
    }
}

/// The calendar day of an RFC 3339 timestamp, or the text itself (escaped)
/// when it does not look like one.
fn day(timestamp: &str) -> std::borrow::Cow<'_, str> {
    match timestamp.split_once('T') {
        Some((date, _)) if date.len() == 10 => escape::text(date),
        _ => escape::text(timestamp),
    }
}

/// A unified diff of the site's access listing, live against planned, or
/// `None` when the two are the same. Each listing line is escaped
/// ([`escape::line`]): it holds emails, account ids and role titles.
fn access_diff(site: &SitePlan) -> Option<String> {
    listing_diff(&site.before, &site.after)
}

fn listing_diff(before: &crate::plan::Listing, after: &crate::plan::Listing) -> Option<String> {
    if before == after {
        return None;
    }
    let lines = |list: &crate::plan::Listing| {
        let mut text = String::with_capacity(list.len() + 64);
        for line in list.lines() {
            text.push_str(&escape::line(line));
            text.push('\n');
        }
        text
    };
    let (before, after) = (lines(before), lines(after));
    let diff = similar::TextDiff::from_lines(&before, &after)
        .unified_diff()
        .context_radius(3)
        .header("live", "planned")
        .to_string();
    (!diff.is_empty()).then_some(diff)
}
