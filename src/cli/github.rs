//! GitHub Actions integration, active when `GITHUB_ACTIONS=true`.
//!
//! Config errors and warnings are also printed as workflow commands
//! (`::error file=…,line=…,col=…::…`) so GitHub shows them on the pull
//! request's diff; the runner reads these from stderr as well as stdout,
//! which keeps stdout for data. The Markdown plan is appended to the file
//! named by `GITHUB_STEP_SUMMARY`. Every property and message goes through
//! `escape::workflow_property`/`workflow_data`, so data cannot end a command
//! early or start another.

use std::io::Write as _;

use crate::diag::{Report, Severity};
use crate::escape::{workflow_data as escape_data, workflow_property as escape_property};
use crate::plan::Plan;

pub fn active() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

/// One `::error`/`::warning` line per diagnostic.
pub fn annotate_report(report: &Report) {
    if !active() {
        return;
    }
    for d in &report.diagnostics {
        let level = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut props = vec![format!(
            "file={}",
            escape_property(&d.file.display().to_string())
        )];
        if let Some(pos) = d.pos {
            props.push(format!("line={}", pos.line));
            props.push(format!("col={}", pos.col));
        }
        let mut message = crate::secret::redact_api_keys(&d.message).to_string();
        if let Some(hint) = &d.hint {
            message.push_str(&format!("\nhint: {}", crate::secret::redact_api_keys(hint)));
        }
        eprintln!("::{level} {}::{}", props.join(","), escape_data(&message));
    }
}

/// Site errors, live policy violations and refusals as annotations, and
/// the plan in the job summary.
pub fn report_plan(plan: &Plan) {
    if !active() {
        return;
    }
    for site in &plan.sites {
        for e in &site.errors {
            eprintln!(
                "::error title={}::{}",
                escape_property(&format!("accessctl: site {}", site.site)),
                escape_data(e)
            );
        }
        for t in &site.targets {
            for e in &t.errors {
                eprintln!(
                    "::error title={}::{}",
                    escape_property(&format!(
                        "accessctl: site {}, {} {}",
                        site.site,
                        t.platform.title(),
                        t.target
                    )),
                    escape_data(e)
                );
            }
        }
    }
    for v in &plan.policy {
        let level = match v.severity {
            crate::model::policy::Severity::Error => "error",
            crate::model::policy::Severity::Warn => "warning",
        };
        eprintln!(
            "::{level} title={}::{}",
            escape_property(&format!(
                "accessctl: policy {} on site {} ({})",
                v.rule, v.site, v.platform
            )),
            escape_data(&format!("{}\nhint: {}", v.message, v.hint))
        );
    }
    for r in &plan.refusals {
        eprintln!(
            "::error title={}::{}",
            escape_property("accessctl: refused"),
            escape_data(r)
        );
    }
    let Ok(path) = std::env::var("GITHUB_STEP_SUMMARY") else {
        return;
    };
    // The summary holds up to 1 MiB per step; stay well inside it.
    let parts = crate::render::render_markdown_limited(plan, 512 * 1024, false);
    let appended = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(parts.concat().as_bytes()));
    if let Err(e) = appended {
        eprintln!("warning: cannot append the plan to GITHUB_STEP_SUMMARY ({path}): {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_the_runner_would_misread() {
        assert_eq!(escape_data("50%\nnext"), "50%25%0Anext");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
        assert_eq!(
            escape_property("accessctl: site x\n::add-mask::y"),
            "accessctl%3A site x%0A%3A%3Aadd-mask%3A%3Ay"
        );
    }
}
