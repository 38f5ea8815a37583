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
use crate::plan::{Action, Change, Plan, Role, SitePlan};

pub use json::{render_json, write_json};
pub use markdown::{COMMENT_LIMIT, PART_SEPARATOR, render_markdown, render_markdown_limited};
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

/// The order in which totals are listed, with the verb each one reads as.
const TOTALS: [(Action, &str); 6] = [
    (Action::Invite, "to invite"),
    (Action::ChangeRole, "to change"),
    (Action::Remove, "to remove"),
    (Action::RevokeInvite, "to revoke"),
    (Action::Request, "to request"),
    (Action::Link, "to link"),
];

/// The non-zero totals of the plan, such as `3 to invite`, in a fixed order.
fn total_parts(plan: &Plan) -> Vec<String> {
    let counts = plan.counts();
    TOTALS
        .iter()
        .filter_map(|(action, verb)| {
            let n = counts.get(action).copied().unwrap_or(0);
            (n > 0).then(|| format!("{n} {verb}"))
        })
        .collect()
}

/// How many sites could not be planned.
fn sites_with_errors(plan: &Plan) -> usize {
    plan.sites.iter().filter(|s| !s.errors.is_empty()).count()
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
        Action::ChangeRole => format!(
            "{name} {who}: {} → {}",
            titles(&change.roles_before),
            titles(&change.roles_after)
        ),
        Action::Remove | Action::RevokeInvite => {
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
    if site.before == site.after {
        return None;
    }
    let lines = |list: &crate::plan::Listing| {
        list.lines()
            .map(|l| format!("{}\n", escape::line(l)))
            .collect::<String>()
    };
    let (before, after) = (lines(&site.before), lines(&site.after));
    let diff = similar::TextDiff::from_lines(&before, &after)
        .unified_diff()
        .context_radius(3)
        .header("live", "planned")
        .to_string();
    (!diff.is_empty()).then_some(diff)
}
