//! Loading the config file: bytes in, a validated [`crate::model::Config`]
//! out, or every problem in the file at once, each with file, line and
//! column.
//!
//! The stages, in order:
//!
//! 1. bytes: readable, not empty, UTF-8;
//! 2. YAML: one pass of serde-saphyr's parser builds [`locate::Tree`], the
//!    position and value of every node, within the same limits as
//!    serde-saphyr (size, depth, alias expansion). A document that uses
//!    only what configs are made of is read from the tree; anything else,
//!    and every syntax or limit error, goes through serde-saphyr into a
//!    JSON value, which is the only stage that stops at its first error.
//!    Duplicate keys are tolerated here and reported in stage 3. A large
//!    text is cut into runs of sites, parsed and checked a run at a time on
//!    all cores ([`locate::Runs`]);
//! 3. duplicate keys (found by the tree);
//! 4. the JSON schema generated from [`raw`] ([`schema`]), checked on the
//!    root without the sites and then on each site: types, unknown keys,
//!    required keys, "exactly one of";
//! 5. meaning ([`validate`]): references, emails, dates, secrets, and the
//!    model itself.
//!
//! Stages 3–5 all run, and their diagnostics are reported together, sorted
//! by position. Role names are not checked here: they are resolved against
//! the site's live role list at plan time.

pub mod locate;
pub mod offboard;
mod parts;
pub mod raw;
pub mod requests;
pub mod schema;
pub mod validate;
pub mod values;

use std::path::Path;

use serde_json::Value;
use serde_saphyr::{DuplicateKeyPolicy, MessageFormatter};
use sha2::{Digest, Sha256};

use crate::diag::{Diagnostic, Report, Severity};
use crate::model::{Config, Pos};

pub use parts::{Checked, Parts};
pub use schema::schema_json;

/// A config that passed every check, with the warnings found on the way.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Report,
}

/// Deepest nesting a config may have. Real configs need about 6 levels.
const MAX_DEPTH: usize = 32;

/// Most YAML nodes a config may have: 10,000 sites with 20 grants each are
/// about 1.3 million.
const MAX_NODES: usize = 3_000_000;

/// Texts from this size on are parsed in parts on all cores, when they have
/// the shape for it (see `locate::split`).
const SPLIT_FROM: usize = 512 * 1024;

/// Runs of sites per core: enough that a core never waits long for the
/// last run, few enough that each is worth a thread's start.
const RUNS_PER_THREAD: usize = 8;

/// Largest config file accepted. 2,000 sites with 20 grants each take
/// about 3 MiB; a bigger file is refused before it is parsed, so a huge one
/// fails in well under a second.
pub const MAX_BYTES: usize = 16 * 1024 * 1024;

/// Reads and validates the config file at `path`. The file is as
/// untrusted as its contents (a pull request can commit it as a symlink):
/// it must be a regular file that resolves inside its own directory, and
/// no more than [`MAX_BYTES`] and one byte of it are ever read.
pub fn load(path: &Path) -> Result<Loaded, Report> {
    let text = read(path)?;
    // The text is moved into the report, not copied (14 MiB for 10,000
    // sites), when the report shows lines of it.
    check_text(path, &text, Split::auto()).with_text(|| into_string(text))
}

/// [`load`], with the text that was read and checked: a command that edits
/// the file (`offboard`) edits exactly what was checked, read once.
pub fn load_with_text(path: &Path) -> Result<(Loaded, String), Report> {
    let text = read(path)?;
    let loaded = check_text(path, &text, Split::auto())
        .with_text(|| String::from_utf8_lossy(&text).into_owned())?;
    // A config that loaded is UTF-8: this moves the bytes, copying nothing.
    Ok((loaded, into_string(text)))
}

/// The config file's text, read as [`load`] reads it (confined, capped),
/// not checked beyond being UTF-8: for `migrate`, which rewrites it (so
/// nothing may be replaced on the way), and for the lines a diagnostic
/// shows.
pub fn read_text(path: &Path) -> Result<String, Report> {
    String::from_utf8(read(path)?).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        report(vec![not_utf8(path, e.as_bytes(), at)], None)
    })
}

/// `text` stops being UTF-8 at byte `at`.
fn not_utf8(path: &Path, text: &[u8], at: usize) -> Diagnostic {
    Diagnostic::error(
        path,
        Some(pos_of_byte(text, at)),
        "the file is not valid UTF-8",
    )
    .with_hint("save the file as UTF-8")
}

fn into_string(text: Vec<u8>) -> String {
    String::from_utf8(text).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The bytes of the config file, confined and capped as [`load`] says.
fn read(path: &Path) -> Result<Vec<u8>, Report> {
    use crate::confine::{self, Refusal};
    let read = confine::check_inside(confine::base_of(path), path)
        .and_then(|()| confine::read_head(path, confine::FollowLinks::Yes, MAX_BYTES as u64 + 1));
    match read {
        Ok((text, len)) if len > MAX_BYTES as u64 || text.len() > MAX_BYTES => {
            Err(report(vec![too_large(path, &text, len)], None))
        }
        Ok((text, _)) => Ok(text),
        Err(refusal) => {
            let hint = match refusal {
                Refusal::Missing => {
                    "to start one, copy `examples/starter.yaml` to `access.yaml` (the default path; `-c FILE` names another)"
                }
                Refusal::LeadsOut | Refusal::Hidden | Refusal::NotRegular => {
                    "the config must be a plain file, or a symlink to one in the same directory tree (not hidden)"
                }
                _ => "check the path and the file's permissions",
            };
            let reason = match refusal {
                Refusal::LeadsOut => {
                    "it resolves outside its own directory (through a symlink)".to_string()
                }
                Refusal::Io(e) => e,
                other => format!("it {other}"),
            };
            let d = Diagnostic::error(path, None, format!("cannot read the config file: {reason}"))
                .with_hint(hint);
            Err(report(vec![d], None))
        }
    }
}

/// A file of `len` bytes, `head` its first ones: too large to be a config,
/// located where it passes the limit.
fn too_large(path: &Path, head: &[u8], len: u64) -> Diagnostic {
    Diagnostic::error(
        path,
        Some(pos_of_byte(head, MAX_BYTES)),
        format!(
            "the file is too large to be a config ({} MiB; the limit is {} MiB)",
            len / (1024 * 1024),
            MAX_BYTES / (1024 * 1024)
        ),
    )
    .with_hint("a config for 2,000 sites takes about 3 MiB; check that this is the config file")
}

/// Validates config text. `path` is used for messages and to place the
/// ledger directory; the file itself is not read.
pub fn load_str(path: &Path, text: &[u8]) -> Result<Loaded, Report> {
    load_text(path, text, Split::auto())
}

/// [`load_str`], cutting every text of `split_from` bytes or more into runs
/// of sites, on any number of cores. For the config fuzz target and the
/// unit tests only: real input reaches the run-splitting path from
/// [`SPLIT_FROM`] (512 KiB) on, and only on more than one core, far beyond
/// what a fuzzer grows an input to.
#[doc(hidden)]
pub fn load_str_split_from(path: &Path, text: &[u8], split_from: usize) -> Result<Loaded, Report> {
    load_text(
        path,
        text,
        Split {
            from: split_from,
            parts: 2 * RUNS_PER_THREAD,
        },
    )
}

/// When a text is cut into runs of sites, and into how many.
#[derive(Debug, Clone, Copy)]
struct Split {
    /// Texts from this many bytes on are cut.
    from: usize,
    parts: usize,
}

impl Split {
    /// From [`SPLIT_FROM`], [`RUNS_PER_THREAD`] runs per core, when there is
    /// more than one core to run them on.
    fn auto() -> Split {
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        Split {
            from: if threads > 1 { SPLIT_FROM } else { usize::MAX },
            parts: threads * RUNS_PER_THREAD,
        }
    }

    /// One pass, whatever the size.
    #[cfg(test)]
    const NEVER: Split = Split {
        from: usize::MAX,
        parts: 1,
    };
}

/// [`load_str`], cutting texts as `split` says into runs of sites.
fn load_text(path: &Path, text: &[u8], split: Split) -> Result<Loaded, Report> {
    check_text(path, text, split).with_text(|| String::from_utf8_lossy(text).into_owned())
}

/// What checking a text decided, before the text is attached to the
/// report that shows lines of it: a caller that owns the text moves it in.
struct TextChecked {
    outcome: Result<Loaded, Report>,
    /// The report has diagnostics and shows the lines they point at.
    shows_text: bool,
}

impl TextChecked {
    /// A report that holds what it shows already, or shows no lines.
    fn as_is(outcome: Result<Loaded, Report>) -> TextChecked {
        TextChecked {
            outcome,
            shows_text: false,
        }
    }

    fn with_text(self, text: impl FnOnce() -> String) -> Result<Loaded, Report> {
        match self.outcome {
            Ok(mut loaded) if self.shows_text => {
                loaded.warnings.source = Some(text());
                Ok(loaded)
            }
            Err(mut report) if self.shows_text => {
                report.source = Some(text());
                Err(report)
            }
            outcome => outcome,
        }
    }
}

/// [`load_text`], leaving the text out of the report.
fn check_text(path: &Path, text: &[u8], split: Split) -> TextChecked {
    if text.len() > MAX_BYTES {
        return TextChecked::as_is(Err(report(
            vec![too_large(path, text, text.len() as u64)],
            None,
        )));
    }
    let digest = hex_sha256(text);
    if text.iter().all(u8::is_ascii_whitespace) {
        return TextChecked::as_is(Err(report(vec![empty_file(path)], None)));
    }
    let source = match std::str::from_utf8(text) {
        Ok(s) => s,
        Err(e) => {
            let d = not_utf8(path, text, e.valid_up_to());
            return TextChecked::as_is(Err(report(
                vec![d],
                Some(String::from_utf8_lossy(text).into_owned()),
            )));
        }
    };
    // One pass of the parser builds the tree of positions and values. A
    // document the tree reads exactly as serde-saphyr would (see
    // `Tree::readable`) is read from it, one site at a time; anything else
    // (including every error) goes through serde-saphyr, which is the judge
    // of syntax and limits. A large text is cut at its site keys, and runs
    // of sites are parsed and checked on all cores, a run at a time.
    if source.len() >= split.from
        && let Some(runs) = locate::Runs::cut(source, tree_limits(), split.parts)
        && let Some(outcome) =
            validate::resolve(&Parts::from_runs(&runs), &runs.root, path, digest.clone())
    {
        return finish(path, &runs.root, outcome);
    }
    let (tree, doc) = match locate::Tree::build_within(source, tree_limits()) {
        Some(tree) if tree.readable() => (tree, None),
        built => match serde_saphyr::from_str_with_options::<Value>(source, parse_options()) {
            Ok(doc) => (
                built.unwrap_or_else(|| locate::Tree::build(source)),
                Some(doc),
            ),
            Err(e) => {
                return TextChecked::as_is(Err(report(
                    vec![yaml_error(path, source, &e)],
                    Some(source.into()),
                )));
            }
        },
    };
    let parts = match doc {
        None => Parts::from_tree(&tree),
        Some(doc) => Parts::from_value(doc, &tree),
    };
    if parts.root.is_null() {
        return TextChecked::as_is(Err(report(vec![empty_file(path)], Some(source.into()))));
    }
    match validate::resolve(&parts, &tree, path, digest) {
        Some(outcome) => finish(path, &tree, outcome),
        // Only runs of sites can fail to be read; this document has none.
        None => TextChecked::as_is(Err(report(
            vec![
                Diagnostic::error(path, None, "internal error: the config could not be read")
                    .with_hint("this is a bug in accessctl; please report it"),
            ],
            None,
        ))),
    }
}

/// The report of a checked document: the config when nothing is wrong.
/// The text is attached later (`TextChecked::with_text`).
fn finish(path: &Path, tree: &locate::Tree<'_>, outcome: validate::Outcome) -> TextChecked {
    let mut diagnostics = duplicate_keys(path, tree.duplicates().iter().chain(&outcome.duplicates));
    diagnostics.extend(outcome.diagnostics);
    if !diagnostics.iter().any(|d| d.severity == Severity::Error) {
        diagnostics.extend(outcome.fallback);
    }
    redact_lines(&mut diagnostics);
    // The text is kept only to show the lines diagnostics point at.
    let shows_text = !diagnostics.is_empty();
    let report = report(diagnostics, None);
    let outcome = if report.has_errors() {
        Err(report)
    } else {
        Ok(Loaded {
            config: outcome.config,
            warnings: report,
        })
    };
    TextChecked {
        outcome,
        shows_text,
    }
}

/// The tree's limits, the same as serde-saphyr's (see `parse_options`).
pub(crate) fn tree_limits() -> locate::Limits {
    locate::Limits {
        max_depth: MAX_DEPTH,
        max_nodes: MAX_NODES,
        max_aliases: MAX_ALIASES,
        // An event per scalar, two per collection, as serde-saphyr counts.
        max_replayed: MAX_REPLAYED,
    }
}

/// Aliases a config may use.
const MAX_ALIASES: usize = 100_000;

/// Events aliases may replay in total.
const MAX_REPLAYED: usize = 500_000;

pub(crate) fn parse_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_depth: MAX_DEPTH,
            flow_nesting_limit: MAX_DEPTH,
            max_nodes: MAX_NODES,
            max_events: 8_000_000,
            max_aliases: MAX_ALIASES,
            max_total_scalar_bytes: MAX_BYTES,
            // Sharing one anchored access list across many sites is a
            // legitimate use of aliases; the replay limit below is what
            // stops alias bombs.
            enforce_alias_anchor_ratio: false,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: MAX_REPLAYED,
            max_replay_stack_depth: MAX_DEPTH,
        },
        // Reported with every other problem by `locate`, not as a fatal
        // first error.
        duplicate_keys: DuplicateKeyPolicy::FirstWins,
        with_snippet: false,
    }
}

fn report(mut diagnostics: Vec<Diagnostic>, source: Option<String>) -> Report {
    // A stable order for equal positions regardless of which stage found
    // them.
    diagnostics.sort_by(|a, b| {
        (a.pos, a.severity, &a.message, &a.hint).cmp(&(b.pos, b.severity, &b.message, &b.hint))
    });
    let mut report = Report {
        diagnostics,
        source,
    };
    report.sort();
    report
}

fn empty_file(path: &Path) -> Diagnostic {
    Diagnostic::error(path, Some(Pos { line: 1, col: 1 }), "the file is empty")
        .with_hint("the smallest valid config is the single line `version: 2`; then add `people`, `teams` and `sites`")
}

fn hex_sha256(bytes: &[u8]) -> String {
    crate::hex::encode(&Sha256::digest(bytes))
}

/// The 1-based line and column (in characters) of byte `offset`, which must
/// follow valid UTF-8.
fn pos_of_byte(text: &[u8], offset: usize) -> Pos {
    let before = text.get(..offset).unwrap_or(text);
    let before = std::str::from_utf8(before).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    Pos { line, col }
}

/// Turns a serde-saphyr error (syntax, budget, alias) into a diagnostic.
fn yaml_error(path: &Path, source: &str, error: &serde_saphyr::Error) -> Diagnostic {
    let pos = error.location().filter(|l| l.line() > 0).map(|l| Pos {
        line: usize::try_from(l.line()).unwrap_or(usize::MAX),
        col: usize::try_from(l.column()).unwrap_or(usize::MAX).max(1),
    });
    let mut inner = error;
    let mut in_alias = false;
    while let serde_saphyr::Error::AliasError { error, .. }
    | serde_saphyr::Error::WithSnippet { error, .. } = inner
    {
        in_alias |= matches!(inner, serde_saphyr::Error::AliasError { .. });
        inner = error;
    }
    let text = serde_saphyr::DefaultMessageFormatter
        .format_message(inner)
        .into_owned();
    let lower = text.to_lowercase();
    let too_deep = matches!(
        inner,
        serde_saphyr::Error::Budget {
            breach: serde_saphyr::budget::BudgetBreach::Depth { .. },
            ..
        } | serde_saphyr::Error::AliasReplayStackDepthExceeded { .. }
    ) || lower.contains("recursion limit");
    let too_big = matches!(
        inner,
        serde_saphyr::Error::Budget { .. }
            | serde_saphyr::Error::AliasReplayLimitExceeded { .. }
            | serde_saphyr::Error::AliasExpansionLimitExceeded { .. }
            | serde_saphyr::Error::AliasReplayCounterOverflow { .. }
    );
    if too_deep {
        return Diagnostic::error(
            path,
            pos,
            format!("the file is nested too deeply (more than {MAX_DEPTH} levels)"),
        )
        .with_hint("a config needs only a few levels; check the indentation and brackets here");
    }
    let from_aliases = in_alias
        || !matches!(
            inner,
            serde_saphyr::Error::Budget {
                breach: serde_saphyr::budget::BudgetBreach::Nodes { .. }
                    | serde_saphyr::budget::BudgetBreach::Events { .. }
                    | serde_saphyr::budget::BudgetBreach::ScalarBytes { .. },
                ..
            }
        );
    if too_big && !from_aliases {
        return Diagnostic::error(path, pos, "the file holds too much data to be a config")
            .with_hint(
                "a config for 2,000 sites takes about 3 MiB; check that this is the config file",
            );
    }
    if too_big {
        return Diagnostic::error(
            path,
            pos,
            "the file expands to too much data to be a config",
        )
        .with_hint(
            "look for aliases (`*name`) that repeat large anchors (`&name`), \
                 possibly inside each other",
        );
    }
    if matches!(inner, serde_saphyr::Error::MultipleDocuments { .. }) {
        return Diagnostic::error(path, pos, "the file holds more than one YAML document")
            .with_hint("a config is a single document; remove the second `---` and what follows, or merge them");
    }
    let mut message = lowercase_first(&text);
    if message.is_empty() {
        message = "syntax error".to_string();
    }
    let d = Diagnostic::error(path, pos, format!("invalid YAML: {message}"));
    if let Some(at) = pos
        && let Some((bracket, open)) = unclosed_bracket(source, at)
        && open.line < at.line
    {
        let close = if bracket == '[' { ']' } else { '}' };
        return d.with_hint(format!(
            "the `{bracket}` at line {}, column {} is never closed; add `{close}`",
            open.line, open.col
        ));
    }
    let tab_on_line = pos
        .and_then(|p| source.lines().nth(p.line.saturating_sub(1)))
        .is_some_and(|l| {
            l.chars()
                .take_while(|c| c.is_whitespace())
                .any(|c| c == '\t')
        });
    if lower.contains("tab") || tab_on_line {
        d.with_hint("indent with spaces: YAML does not allow tabs for indentation")
    } else {
        d
    }
}

/// The innermost flow bracket (`[` or `{`) still open at `until`, if any.
/// A heuristic for hints only: it knows quotes, comments and that a bracket
/// inside a plain word (`a[1]`) is text, and nothing else of YAML.
fn unclosed_bracket(source: &str, until: Pos) -> Option<(char, Pos)> {
    let mut open: Vec<(char, Pos)> = Vec::new();
    for (i, line) in source.lines().enumerate().take(until.line) {
        let mut quote: Option<char> = None;
        let mut escaped = false;
        let mut prev: Option<char> = None; // previous character
        let mut prev_sig: Option<char> = None; // previous non-blank character
        for (j, c) in line.chars().enumerate() {
            let here = Pos {
                line: i + 1,
                col: j + 1,
            };
            if here >= until {
                break;
            }
            if let Some(q) = quote {
                if escaped {
                    escaped = false;
                } else if q == '"' && c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
                prev = Some(c);
                prev_sig = Some(c);
                continue;
            }
            let token_start = matches!(prev_sig, None | Some(':' | '-' | '[' | '{' | ','));
            match c {
                '#' if prev.is_none_or(char::is_whitespace) => break,
                '"' | '\'' if token_start => quote = Some(c),
                '[' | '{' if token_start || !open.is_empty() => open.push((c, here)),
                ']' | '}' if !open.is_empty() => {
                    open.pop();
                }
                _ => {}
            }
            prev = Some(c);
            if !c.is_whitespace() {
                prev_sig = Some(c);
            }
        }
    }
    open.pop()
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        // Keep acronyms ("YAML") as they are.
        Some(c) if chars.clone().next().is_some_and(char::is_lowercase) => {
            c.to_lowercase().chain(chars).collect()
        }
        Some(c) => std::iter::once(c).chain(chars).collect(),
        None => String::new(),
    }
}

fn duplicate_keys<'d>(
    path: &Path,
    duplicates: impl Iterator<Item = &'d locate::Duplicate>,
) -> Vec<Diagnostic> {
    duplicates
        .map(|dup| {
            let place = if dup.parent.segs().is_empty() {
                "at the top level".to_string()
            } else {
                format!("in `{}`", dup.parent)
            };
            Diagnostic::error(
                path,
                Some(dup.second),
                format!("duplicate key `{}` {place}", dup.key),
            )
            .with_hint(format!(
                "`{}` is already defined at line {}, column {}; keep one of them",
                dup.key, dup.first.line, dup.first.col
            ))
        })
        .collect()
}

/// A line that holds a secret is never shown, whichever diagnostic points
/// at it.
fn redact_lines(diagnostics: &mut [Diagnostic]) {
    let secret_lines: Vec<usize> = diagnostics
        .iter()
        .filter(|d| d.redact_source)
        .filter_map(|d| d.pos.map(|p| p.line))
        .collect();
    for d in diagnostics.iter_mut() {
        if d.pos.is_some_and(|p| secret_lines.contains(&p.line)) {
            d.redact_source = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_position_of_a_byte() {
        assert_eq!(pos_of_byte(b"ab\ncd\xff", 5), Pos { line: 2, col: 3 });
        assert_eq!(
            pos_of_byte("é\u{e9}x".as_bytes(), 4),
            Pos { line: 1, col: 3 }
        );
        assert_eq!(pos_of_byte(b"", 9), Pos { line: 1, col: 1 });
    }

    #[test]
    fn digests_are_hex_sha256() {
        assert_eq!(
            hex_sha256(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    fn errors_of(text: &str) -> Vec<(Option<Pos>, String)> {
        match load_str(Path::new("t.yaml"), text.as_bytes()) {
            Ok(_) => Vec::new(),
            Err(r) => r
                .diagnostics
                .into_iter()
                .map(|d| (d.pos, d.message))
                .collect(),
        }
    }

    #[test]
    fn numeric_keys_are_located() {
        let found = errors_of("version: 2\npeople:\n  7: { email: 5 }\n");
        assert_eq!(
            found,
            [(
                Some(Pos { line: 3, col: 15 }),
                "wrong type for `email`: expected an email address, found a number".to_string()
            )]
        );
    }

    #[test]
    fn every_diagnostic_on_a_secret_line_is_redacted() {
        let text = "version: 2\nsites: {a: {wix: {site_id: s, account_id: a, api_key_env: x-1.y}, bogus: 1}}\n";
        let report = match load_str(Path::new("t.yaml"), text.as_bytes()) {
            Ok(_) => Report::default(),
            Err(r) => r,
        };
        assert_eq!(report.errors(), 2);
        assert!(report.diagnostics.iter().all(|d| d.redact_source));
        assert!(!report.render().contains("x-1.y"));
    }

    /// Checking runs of sites finds what checking one tree finds: the same
    /// config, or the same diagnostics (duplicate sites across runs
    /// included).
    #[test]
    fn runs_of_sites_check_as_one_pass_does() {
        let mut text = "version: 2\npeople:\n  a: {email: a@x.example}\n  b: {email: b@x.example}\nteams:\n  t: [a, b]\nsites:\n".to_string();
        for i in 0..40 {
            text.push_str(&format!(
                "  s{i}:\n    wix: {{site_id: id-{i}, account_id: acc, api_key_env: K}}\n    access:\n      - team: t\n        role: Blog Writer\n      - person: a\n        roles: [Admin, \"Website Manager\"]\n"
            ));
        }
        text.push_str("safety:\n  max_removals_total: 9\n");
        let both = |text: &str| {
            let split = load_str_split_from(Path::new("t.yaml"), text.as_bytes(), 0);
            let one = load_text(Path::new("t.yaml"), text.as_bytes(), Split::NEVER);
            (format!("{split:?}"), format!("{one:?}"))
        };
        let runs = locate::Runs::cut(&text, tree_limits(), 4).expect("cut");
        assert!(
            (0..runs.len()).all(|i| runs.tree(i).is_some()),
            "every run reads"
        );
        let (split, one) = both(&text);
        assert!(split.starts_with("Ok("), "{split}");
        assert_eq!(split, one);
        // Mistakes in several runs, a site key twice (in different runs), a
        // site id twice, a request-mode site.
        let broken = text
            .replace(
                "  s3:\n    wix: {site_id: id-3",
                "  s3:\n    wix: {site_id: id-1",
            )
            .replace("  s30:\n", "  s2:\n")
            .replace(
                "  s7:\n    wix: {site_id: id-7, account_id: acc, api_key_env: K}",
                "  s7:\n    wix: {site_id: id-7, account_id: acc}",
            )
            .replacen("person: a\n", "person: zed\n", 1)
            .replace(
                "  s20:\n    wix: {site_id: id-20, account_id: acc, api_key_env: K}\n    access",
                "  s20:\n    wix: {site_id: id-20, account_id: acc, api_key_env: K}\n    acess",
            );
        let (split, one) = both(&broken);
        assert!(split.contains("duplicate key `s2`"), "{split}");
        assert!(split.contains("same `site_id`"), "{split}");
        assert!(split.contains("unknown person `zed`"), "{split}");
        assert!(split.contains("unknown key `acess`"), "{split}");
        assert_eq!(split, one);
    }

    /// The fuzz target's entry reaches the run-splitting path on a small
    /// text, and reads the examples as one pass does.
    #[test]
    fn split_from_entry_cuts_small_texts() {
        let agency = include_str!("../../examples/agency.yaml");
        let runs = locate::Runs::cut(agency, tree_limits(), 2 * RUNS_PER_THREAD)
            .expect("the agency example has the shape for runs");
        assert!(runs.len() > 1);
        assert!((0..runs.len()).all(|i| runs.tree(i).is_some()));
        // The starter's single site is one run, or read in one pass.
        for example in [agency, include_str!("../../examples/starter.yaml")] {
            let path = Path::new("examples/x.yaml");
            let split = load_str_split_from(path, example.as_bytes(), 0);
            let one = load_text(path, example.as_bytes(), Split::NEVER);
            assert!(split.is_ok(), "{split:?}");
            assert_eq!(format!("{split:?}"), format!("{one:?}"));
        }
    }

    /// Mangled configs read the same in runs as in one pass: same config or
    /// same diagnostics, whatever the mangling.
    #[test]
    fn mangled_runs_check_as_one_pass_does() {
        let mut text = "version: 2\npeople:\n  a: {email: a@x.example}\nteams:\n  t: [a]\nsites:\n"
            .to_string();
        for i in 0..12 {
            text.push_str(&format!(
                "  s{i}:\n    wix: {{site_id: id-{i}, account_id: acc, api_key_env: K}}\n    access:\n      - team: t\n        role: Blog Writer # c\n      - email: 'b@x.example'\n        roles: [Admin, \"Website Manager\"]\n"
            ));
        }
        text.push_str("safety:\n  max_removals_total: 9\n");
        let pieces = [
            " ", "\n", "  ", ":", "- ", "'", "\"", "&a ", "*a", "!!str ", "[", "}", "#", "\t",
            "s1:", "---\n", "~", "<<: ", "é",
        ];
        // A fixed xorshift, so a failure can be replayed.
        let mut state: u64 = 0x5eed;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let mut in_runs = 0;
        for round in 0..400 {
            let mut t = text.clone();
            for _ in 0..1 + next(3) {
                let at = (0..t.len())
                    .filter(|i| t.is_char_boundary(*i))
                    .nth(next(t.len()))
                    .unwrap_or(0);
                match next(3) {
                    0 => t.insert_str(at, pieces[next(pieces.len())]),
                    1 => {
                        let end = (at + 1 + next(6)).min(t.len());
                        if t.is_char_boundary(end) {
                            t.replace_range(at..end, "");
                        }
                    }
                    _ => {
                        let end = t.len().min(at + next(40));
                        if let Some(copy) = t.get(at..end).map(str::to_owned) {
                            t.insert_str(at, &copy);
                        }
                    }
                }
            }
            let split = format!(
                "{:?}",
                load_str_split_from(Path::new("t.yaml"), t.as_bytes(), 0)
            );
            let one = format!(
                "{:?}",
                load_text(Path::new("t.yaml"), t.as_bytes(), Split::NEVER)
            );
            assert_eq!(split, one, "round {round}:\n{t}");
            in_runs += usize::from(
                locate::Runs::cut(&t, tree_limits(), 2 * RUNS_PER_THREAD)
                    .is_some_and(|r| (0..r.len()).all(|i| r.tree(i).is_some())),
            );
        }
        // Most manglings leave runs that read on their own.
        assert!(
            in_runs > 100 && in_runs < 400,
            "{in_runs} of 400 read in runs"
        );
    }

    #[test]
    fn finds_unclosed_brackets() {
        let text = "a: [x, y\nb: {c: '[', d: \"]\"}\nc: z[1] # [\n";
        let end = Pos { line: 9, col: 1 };
        assert_eq!(
            unclosed_bracket(text, end),
            Some(('[', Pos { line: 1, col: 4 }))
        );
        assert_eq!(unclosed_bracket("a: [x]\nb: c\n", end), None);
    }

    #[test]
    fn lowercases_words_not_acronyms() {
        assert_eq!(lowercase_first("Unclosed bracket"), "unclosed bracket");
        assert_eq!(lowercase_first("YAML error"), "YAML error");
    }
}
