//! Located diagnostics: what is wrong, where, and what to do about it.
//!
//! Every problem found in a user's file (config or ledger) becomes a
//! [`Diagnostic`]. Loading collects all of them before reporting, so one run
//! shows every mistake. Rendering is plain text in the style of rustc, with
//! an optional source line and caret; it never depends on color, and a
//! diagnostic marked `redact_source` never shows the offending line (it may
//! hold a secret). Whatever the diagnostic, a source line holding something
//! that looks like an API key is never shown and such a token is never
//! repeated in a message ([`crate::secret::contains_api_key`]), and control
//! characters in a shown line are drawn as visible symbols. A message or a
//! hint quotes what the file says (keys, names), so it is printed through
//! [`escape::text`]: one line whatever the file holds.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::escape;

/// A position in a source file, 1-based line and column.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: PathBuf,
    /// `None` when the problem concerns the file as a whole (unreadable, empty).
    pub pos: Option<Pos>,
    /// Lower-case sentence, no trailing period, names in backticks.
    pub message: String,
    pub hint: Option<String>,
    /// Do not print the source line: it may contain a secret.
    pub redact_source: bool,
}

impl Diagnostic {
    pub fn error(file: &Path, pos: Option<Pos>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            file: file.to_path_buf(),
            pos,
            message: message.into(),
            hint: None,
            redact_source: false,
        }
    }

    pub fn warning(file: &Path, pos: Option<Pos>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(file, pos, message)
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn redacted(mut self) -> Self {
        self.redact_source = true;
        self
    }

    /// `file:line:col` (or just `file`).
    pub fn location(&self) -> String {
        match self.pos {
            Some(p) => format!("{}:{}:{}", self.file.display(), p.line, p.col),
            None => self.file.display().to_string(),
        }
    }

    /// Render as plain text; `source` is the file's text, if it was readable.
    pub fn render(&self, source: Option<&str>) -> String {
        let mut out = String::new();
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let _ = writeln!(
            out,
            "{label}: {}",
            escape::text(&crate::secret::redact_api_keys(&self.message))
        );
        let _ = writeln!(out, "  --> {}", self.location());
        if let (Some(pos), Some(src), false) = (self.pos, source, self.redact_source)
            && let Some(line) = src.lines().nth(pos.line.saturating_sub(1))
            && !crate::secret::contains_api_key(line)
        {
            let number = pos.line.to_string();
            let pad = " ".repeat(number.len());
            let shown: String = line.chars().take(200).map(visible).collect();
            let _ = writeln!(out, "{pad} |");
            let _ = writeln!(out, "{number} | {shown}");
            let caret_at = pos.col.saturating_sub(1).min(shown.chars().count());
            let prefix: String = shown
                .chars()
                .take(caret_at)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let _ = writeln!(out, "{pad} | {prefix}^");
        }
        if let Some(hint) = &self.hint {
            let _ = writeln!(
                out,
                "  = hint: {}",
                escape::text(&crate::secret::redact_api_keys(hint))
            );
        }
        out
    }
}

/// A control character as its Unicode "control picture" (`␀`, `␛`, …), so
/// a shown line never sends raw control bytes to a terminal; one character
/// for one, so the caret still lines up. Tabs stay tabs.
fn visible(c: char) -> char {
    match c {
        '\t' => c,
        '\u{0}'..='\u{1f}' => char::from_u32(0x2400 + u32::from(c)).unwrap_or('?'),
        '\u{7f}' => '\u{2421}',
        c if c.is_control() => '\u{fffd}',
        c => c,
    }
}

/// All diagnostics of one load, sorted by position, with the text they refer to.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub diagnostics: Vec<Diagnostic>,
    pub source: Option<String>,
}

impl Report {
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }

    pub fn errors(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    pub fn sort(&mut self) {
        self.diagnostics
            .sort_by(|a, b| (a.pos, a.severity, &a.message).cmp(&(b.pos, b.severity, &b.message)));
        self.diagnostics.dedup();
    }

    /// Everything, one diagnostic after another, then a count line.
    pub fn render(&self) -> String {
        let mut out = self.render_diagnostics();
        let errors = self.errors();
        if errors > 0 {
            let file = self
                .diagnostics
                .first()
                .map(|d| d.file.display().to_string())
                .unwrap_or_default();
            let noun = if errors == 1 { "error" } else { "errors" };
            let _ = writeln!(out, "error: could not load {file}: {errors} {noun}");
        }
        out
    }
}

impl Report {
    /// One diagnostic after another, without the count line (for problems
    /// found in a file that loaded, such as policy violations).
    pub fn render_diagnostics(&self) -> String {
        let mut out = String::new();
        for d in &self.diagnostics {
            out.push_str(&d.render(self.source.as_deref()));
            out.push('\n');
        }
        out
    }
}

/// The closest candidate to `word`, if one is close enough to suggest.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = word.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&lower, &c.to_lowercase()), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_words_only() {
        assert_eq!(did_you_mean("acces", ["access", "owner"]), Some("access"));
        assert_eq!(did_you_mean("zzz", ["access", "owner"]), None);
    }

    #[test]
    fn renders_caret_under_column() {
        let d = Diagnostic::error(Path::new("a.yaml"), Some(Pos { line: 2, col: 3 }), "bad")
            .with_hint("fix it");
        let text = d.render(Some("x: 1\ny: zz\n"));
        assert_eq!(
            text,
            "error: bad\n  --> a.yaml:2:3\n  |\n2 | y: zz\n  |   ^\n  = hint: fix it\n"
        );
    }

    #[test]
    fn a_quoted_key_stays_on_its_line() {
        // Hole 5: a YAML key "x\n::error::pwned" was printed raw.
        let d = Diagnostic::error(
            Path::new("a.yaml"),
            None,
            "invalid person key `x\n::error::pwned`",
        )
        .with_hint("not\r::add-mask::y");
        assert_eq!(
            d.render(None),
            "error: invalid person key `x\\n::error::pwned`\n  --> a.yaml\n  = hint: not\\r::add-mask::y\n"
        );
    }

    #[test]
    fn redacted_hides_the_line() {
        let d = Diagnostic::error(Path::new("a.yaml"), Some(Pos { line: 1, col: 1 }), "secret")
            .redacted();
        assert!(!d.render(Some("key: hunter2\n")).contains("hunter2"));
    }
}
