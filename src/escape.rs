//! Untrusted text made harmless for where it is printed: one function per
//! sink.
//!
//! The config, the files it names and the ledger come from pull requests,
//! and what Wix returns (role titles, account ids, error messages) from
//! outside; `plan` runs in CI on every pull request. So any text taken from
//! them is escaped where it is printed, never trusted to be tame:
//!
//! - [`text`] and [`line`]: human text on stdout/stderr (plan text, apply
//!   report, progress, diagnostics). A datum is always one line segment:
//!   control characters are shown escaped (`\n`, `\u{1b}`), and a line never
//!   reads as a GitHub workflow command (`::cmd::`, or the legacy `##[cmd]`).
//! - [`workflow_data`] and [`workflow_property`]: the two parts of a
//!   workflow command, as the Actions runner unescapes them.
//! - [`smtp_problem`]: what would make a header or a mail line ambiguous.
//!
//! Markdown escaping lives with its renderer (`render::markdown`), which
//! uses [`line`] for its fenced blocks. The plan data itself keeps the raw
//! values, so JSON (escaped by serde) shows exactly what was read.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Characters escaped in human text besides `char::is_control`: line and
/// paragraph separators, and the bidirectional overrides that make a
/// terminal show text in another order than it is.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// A datum for a line of human text: control characters escaped as `\n`,
/// `\r` or `\u{1b}` (a tab stays: it ends no line and styles nothing, and
/// diagnostics line their caret up with it), and the legacy workflow-command
/// marker `##[` broken as `#\u{23}[`, so the datum stays one line segment
/// and cannot style a terminal or command the Actions runner.
pub fn text(s: &str) -> Cow<'_, str> {
    // Printable ASCII and tabs (nearly every datum) need no char decoding.
    let plain = printable_ascii(s.as_bytes()) || !s.chars().any(|c| c != '\t' && is_unsafe(c));
    // `contains('#')` is a quick scan; a substring search is set up only
    // when there is a `#`.
    if plain && !(s.contains('#') && s.contains("##[")) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c != '\t' && is_unsafe(c) => {
                // Writing into a String cannot fail.
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            '#' if out.ends_with('#') && chars.peek() == Some(&'[') => out.push_str("\\u{23}"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Whether every byte is printable ASCII or a tab. Checked a block at a
/// time without stopping early within it, which the compiler turns into
/// vector instructions: this runs for every line of every plan listing.
fn printable_ascii(bytes: &[u8]) -> bool {
    let ok = |b: u8| (b' '..=b'~').contains(&b) | (b == b'\t');
    bytes
        .chunks(32)
        .all(|block| block.iter().fold(true, |all, &b| all & ok(b)))
}

/// A whole line made of data (a line of a message, of a listing): as
/// [`text`], and when it would read as a workflow command (`::` first,
/// after any spaces, as the runner trims them), its first colon is shown
/// as `\u{3a}`.
pub fn line(s: &str) -> Cow<'_, str> {
    let escaped = text(s);
    let trimmed = escaped.trim_start();
    if !trimmed.starts_with("::") {
        return escaped;
    }
    let lead = escaped.len() - trimmed.len();
    Cow::Owned(format!("{}\\u{{3a}}{}", &escaped[..lead], &trimmed[1..]))
}

/// A message that may hold several lines of its own (a ledger error with
/// its diagnostics): each line as [`line`], joined with `sep` (a newline and
/// the indentation that keeps later lines under the first).
pub fn lines(s: &str, sep: &str) -> String {
    s.trim_end()
        .split('\n')
        .map(|l| line(l.strip_suffix('\r').unwrap_or(l)))
        .collect::<Vec<_>>()
        .join(sep)
}

/// The data (message) part of a workflow command, as the runner unescapes
/// it: `%`, CR and LF percent-encoded; other control characters shown as in
/// [`text`], so the annotation cannot style the log either.
pub fn workflow_data(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c if is_unsafe(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// A property value of a workflow command (`file=`, `title=`): as
/// [`workflow_data`], and `:` and `,`, which end a value, percent-encoded.
pub fn workflow_property(s: &str) -> String {
    workflow_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// What makes `s` unfit for a mail header or for a value substituted into a
/// message: any control character (CR and LF would start a header or a
/// line of their own). `None` when it is fit.
pub fn smtp_problem(s: &str) -> Option<String> {
    s.chars().find(|c| c.is_control()).map(|c| {
        format!(
            "it contains the control character `{}`",
            text(&c.to_string())
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_block_check_agrees_with_a_byte_by_byte_one() {
        let one_by_one = |b: &[u8]| b.iter().all(|&c| c == b'\t' || (b' '..=b'~').contains(&c));
        // Every byte, at every place of blocks and their edges.
        for byte in 0..=255u8 {
            for len in [1, 31, 32, 33, 64, 70] {
                for at in [0, len / 2, len - 1] {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = byte;
                    assert_eq!(
                        printable_ascii(&bytes),
                        one_by_one(&bytes),
                        "byte {byte:#x} at {at} of {len}"
                    );
                }
            }
        }
        assert!(printable_ascii(b""));
    }

    #[test]
    fn text_keeps_plain_data_as_it_is() {
        assert!(matches!(text("Blog Editor ünïcode"), Cow::Borrowed(_)));
        assert_eq!(text("a::b"), "a::b");
    }

    #[test]
    fn text_escapes_every_control_character() {
        assert_eq!(
            text("x\n::error::pwned\r\t\u{1b}[31m\u{0}\u{7f}\u{85}"),
            "x\\n::error::pwned\\r\t\\u{1b}[31m\\u{0}\\u{7f}\\u{85}"
        );
        assert_eq!(text("a\u{2028}b\u{202e}c"), "a\\u{2028}b\\u{202e}c");
    }

    #[test]
    fn text_breaks_the_legacy_command_marker() {
        assert_eq!(text("x ##[add-mask]y"), "x #\\u{23}[add-mask]y");
        assert_eq!(text("# [a] #["), "# [a] #[");
    }

    #[test]
    fn line_never_starts_a_workflow_command() {
        assert_eq!(line("::add-mask::x"), "\\u{3a}:add-mask::x");
        assert_eq!(
            line("  \t::stop-commands::tok"),
            "  \t\\u{3a}:stop-commands::tok"
        );
        assert_eq!(line("   ::error::x"), "   \\u{3a}:error::x");
        assert_eq!(line("a ::b"), "a ::b");
    }

    #[test]
    fn lines_guard_each_line() {
        assert_eq!(
            lines("one\n::warning::two\r\nthree\n", "\n    "),
            "one\n    \\u{3a}:warning::two\n    three"
        );
    }

    #[test]
    fn workflow_parts_escape_what_the_runner_reads() {
        assert_eq!(
            workflow_data("50%\nnext\r::x\u{1b}"),
            "50%25%0Anext%0D::x\\u{1b}"
        );
        assert_eq!(workflow_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
    }

    #[test]
    fn smtp_problem_names_the_control_character() {
        assert_eq!(smtp_problem("Jane Baker"), None);
        assert_eq!(
            smtp_problem("Jane\rBcc: x@y.example").as_deref(),
            Some("it contains the control character `\\r`")
        );
        assert!(smtp_problem("a\u{85}b").is_some());
    }
}
