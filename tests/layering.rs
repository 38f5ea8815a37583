//! The module layering: which module may depend on which.
//!
//! Reads the sources and lists every module path each file names in code
//! (`use` lines and fully-qualified paths alike; `crate::…` and `super::…`,
//! groups expanded), leaving out comments, literals and `#[cfg(test)]`
//! modules. A lower module naming a higher one fails the test, so
//! the circular imports issue 15 removed cannot come back:
//!
//! - `request` uses `model`; `model` (with `model::requests`, the request-mode
//!   settings it holds) never names `request`, `config` or `plan`;
//! - `template` is a leaf: it uses `diag` only;
//! - `diag` (which owns `Pos`) never names `model`; `ledger` never names
//!   `request`;
//! - in `config`: `validate` uses `requests`, both use `values`, and all
//!   three use `raw`; never the reverse;
//! - in `plan`: `diff` hands request-mode sites to `request`; `request`
//!   never names `diff`, and what both need (`rfc3339`) is in `plan/mod.rs`;
//!   `plan` never names `render` nor `request` (`request` delivers what the
//!   plan composed with the `message` module);
//! - in the emulator: `seed` builds `state`, never the reverse;
//! - neither the ledger nor the emulator names `config` (the email check
//!   they share with it is the leaf `email`).
//!
//! - the apply executor never names Wix's endpoints: Wix's changes are
//!   made by its provider.
//!
//! And only a platform's own modules name it (`PLATFORM_HOMES`): the engine
//! goes through `Platform` and `Capabilities`.

use std::path::{Path, PathBuf};

/// A rule: code in `from` (a module and its submodules) must not name
/// `to` (a module, its submodules or items).
struct Rule {
    from: &'static str,
    to: &'static str,
    why: &'static str,
}

const RULES: &[Rule] = &[
    Rule {
        from: "platform",
        to: "model",
        why: "the platform-neutral core is below the model: the model holds `platform::Target`/`Access`, and what both need (`Unmanaged`) is defined in `platform`",
    },
    Rule {
        from: "platform",
        to: "providers",
        why: "providers implement `platform::Provider`; the core never names a provider",
    },
    Rule {
        from: "model",
        to: "request",
        why: "`request` may use `model`, never the reverse: the request-mode settings the model holds live in `model::requests`",
    },
    Rule {
        from: "model",
        to: "config",
        why: "`config` builds the model; the model never names `config`",
    },
    Rule {
        from: "model",
        to: "plan",
        why: "`plan` reads the model; the model never names `plan`",
    },
    Rule {
        from: "template",
        to: "model",
        why: "`template` is a leaf (it may use `diag` only); `model::requests` holds a `Template`",
    },
    Rule {
        from: "template",
        to: "request",
        why: "`template` is a leaf (it may use `diag` only); `message` renders it",
    },
    Rule {
        from: "template",
        to: "config",
        why: "`template` is a leaf (it may use `diag` only); `config::requests` parses it",
    },
    Rule {
        from: "diag",
        to: "model",
        why: "`model` may use `diag` (`Pos` lives in `diag`), never the reverse",
    },
    Rule {
        from: "ledger",
        to: "request",
        why: "`request` may use `ledger` (it records deliveries), never the reverse: `Channel` is in `model::requests`",
    },
    Rule {
        from: "config::requests",
        to: "config::validate",
        why: "`config::validate` may use `config::requests`, never the reverse: the checks both need are in `config::values`",
    },
    Rule {
        from: "config::values",
        to: "config::validate",
        why: "`config::values` is a leaf of `config`: `validate` and `requests` use it",
    },
    Rule {
        from: "config::values",
        to: "config::requests",
        why: "`config::values` is a leaf of `config`: `validate` and `requests` use it",
    },
    Rule {
        from: "config::raw",
        to: "config::requests",
        why: "`config::requests` may use `config::raw` (the raw types of `requests:` live there), never the reverse",
    },
    Rule {
        from: "config::raw",
        to: "config::validate",
        why: "`config::validate` may use `config::raw`, never the reverse",
    },
    Rule {
        from: "plan::request",
        to: "plan::diff",
        why: "`plan::diff` may use `plan::request`, never the reverse: what both need is in `plan/mod.rs`",
    },
    // `plan/mod.rs` re-exports these from `diff`.
    Rule {
        from: "plan::request",
        to: "plan::plan_site",
        why: "`plan::diff` may use `plan::request`, never the reverse (`plan::plan_site` is `diff`'s)",
    },
    Rule {
        from: "plan::request",
        to: "plan::Observation",
        why: "`plan::diff` may use `plan::request`, never the reverse (`plan::Observation` is `diff`'s)",
    },
    Rule {
        from: "policy",
        to: "observe",
        why: "`policy` evaluates a neutral view; the live view is built in `observe::policy`, which uses `policy`",
    },
    Rule {
        from: "policy",
        to: "plan",
        why: "`plan` holds `policy::Violation`s; `policy` never names `plan`",
    },
    Rule {
        from: "config",
        to: "plan",
        why: "`plan` reads the config's model; the config never names `plan` (the Wix role names both check are the leaf-ward `roles`)",
    },
    Rule {
        from: "scope",
        to: "plan",
        why: "`plan` uses `scope` (a shard); `scope` never names `plan`",
    },
    Rule {
        from: "plan",
        to: "request",
        why: "`request` delivers what the plan composed and uses `plan`; the plan never names it (the message it composes is the leaf-ward `message`)",
    },
    Rule {
        from: "plan",
        to: "render",
        why: "`render` shows plans; the plan never names `render` (its notes are worded where they are made)",
    },
    Rule {
        from: "ledger",
        to: "config",
        why: "`config` may read ledger settings, the ledger never names `config`: the email check both need is the leaf `email`",
    },
    Rule {
        from: "emulator",
        to: "config",
        why: "the emulator stands in for Wix and Google and knows nothing of the config; the email check is the leaf `email`",
    },
    Rule {
        from: "apply",
        to: "providers::wix::endpoints",
        why: "Wix's changes are made by its provider (`Provider::apply`): the executor never batches or sends Wix calls itself",
    },
    Rule {
        from: "emulator::state",
        to: "emulator::seed",
        why: "`emulator::seed` builds the state; what both need (`DuplicateInvites`) lives in `state`",
    },
];

/// Dependencies that must be found, so that a scanner that stopped seeing
/// paths cannot pass the rules above by seeing nothing.
const EXPECTED: &[(&str, &str)] = &[
    ("request", "model::requests"),
    ("config::validate", "config::requests"),
    ("config::validate", "config::values"),
    ("config::requests", "config::values"),
    ("config::requests", "config::raw"),
    ("plan::diff", "plan::request"),
    ("plan::diff", "plan::rfc3339"),
    ("plan::request", "plan::rfc3339"),
    ("model::requests", "template"),
    ("template", "diag"),
    ("model", "diag::Pos"),
    ("emulator::seed", "emulator::state"),
    ("ledger::requests", "email::problem"),
    ("plan::request", "message"),
    ("config::validate", "roles"),
    ("plan::diff", "roles"),
    ("observe::policy", "policy::evaluate"),
    ("request::deliver", "plan"),
    // Every platform's decisions are the core's (ARCHITECTURE.md,
    // Invariants): each planner goes through `platform::diff`.
    ("plan::diff", "platform::diff"),
    ("plan::request", "platform::diff"),
    ("plan::targets", "platform::diff"),
    // Every platform's changes are made through `Provider::apply`: GA4's
    // and GTM's by `apply::targets`, Wix's by the executor through its
    // provider, the ledger kept by its journal.
    ("apply", "providers::wix::provider::WixProvider"),
    ("apply", "platform::Journal"),
    ("apply::targets", "providers::registry"),
];

/// One named path, where it was named.
struct Use {
    file: PathBuf,
    module: Vec<String>,
    line: usize,
    path: Vec<String>,
}

fn main_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/config/validate.rs` → `config::validate`; `src/plan/mod.rs` →
/// `plan`; `src/lib.rs` → the crate root.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).expect("file under src");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("file name");
    let stem = last.trim_end_matches(".rs");
    if !(stem == "mod" || (parts.is_empty() && (stem == "lib" || stem == "main"))) {
        parts.push(stem.to_string());
    }
    parts
}

/// The code of a file: comments and the insides of string and char
/// literals blanked (line breaks kept, so line numbers hold), and every
/// `#[cfg(test)] mod … { … }` removed.
fn code_of(text: &str) -> String {
    let s: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(s.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        let next = s.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < s.len() && s[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < s.len() {
                if s[i] == '/' && s.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if s[i] == '*' && s.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(s[i]));
                    i += 1;
                }
            }
        } else if c == 'r' && matches!(next, Some('"' | '#')) && (i == 0 || !is_ident(s[i - 1])) {
            // A raw string: r"…", r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while s.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if s.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            out.push_str("\"\"");
            j += 1;
            while j < s.len() {
                if s[j] == '"' && (1..=hashes).all(|k| s.get(j + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                out.push(blank(s[j]));
                j += 1;
            }
            i = j;
        } else if c == '"' {
            out.push_str("\"\"");
            i += 1;
            while i < s.len() && s[i] != '"' {
                if s[i] == '\\' {
                    i += 1;
                }
                if let Some(&ch) = s.get(i) {
                    out.push(blank(ch));
                }
                i += 1;
            }
            i += 1;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{…}'), or a lifetime ('a).
            let end = if next == Some('\\') {
                (i + 2..s.len()).find(|&k| s[k] == '\'')
            } else if s.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(e) => {
                    out.push_str("' '");
                    i = e + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    strip_test_modules(&out)
}

/// `code` without its `#[cfg(test)] mod name { … }` blocks (line breaks
/// kept). Literals and comments are already blank, so braces balance.
fn strip_test_modules(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        let after = &rest[at + "#[cfg(test)]".len()..];
        let trimmed = after.trim_start();
        let is_mod = trimmed.starts_with("mod ") || trimmed.starts_with("pub mod ");
        let open = after.find(['{', ';']);
        match (is_mod, open) {
            (true, Some(o)) if after.as_bytes()[o] == b'{' => {
                out.push_str(&rest[..at]);
                let body = &after[o..];
                let mut depth = 0usize;
                let mut end = body.len();
                for (k, ch) in body.char_indices() {
                    match ch {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = k + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                let skipped = &rest[at..at + "#[cfg(test)]".len() + o + end];
                out.extend(skipped.chars().filter(|&c| c == '\n'));
                rest = &rest[at + skipped.len()..];
            }
            _ => {
                out.push_str(&rest[..at + "#[cfg(test)]".len()]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Reads a use tree at `s` (after `crate::` or the `super::`s): segments
/// separated by `::`, a `{…}` group expanded. Pushes every full path.
fn use_tree(s: &[char], mut i: usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) -> usize {
    let mut path = prefix;
    loop {
        while i < s.len() && s[i].is_whitespace() {
            i += 1;
        }
        if i < s.len() && s[i] == '{' {
            i += 1;
            loop {
                while i < s.len() && (s[i].is_whitespace() || s[i] == ',') {
                    i += 1;
                }
                if i >= s.len() || s[i] == '}' {
                    return i + 1;
                }
                let next = use_tree(s, i, path.clone(), out);
                i = next.max(i + 1);
            }
        }
        let start = i;
        while i < s.len() && is_ident(s[i]) {
            i += 1;
        }
        if i > start {
            path.push(s[start..i].iter().collect());
        } else if i < s.len() && s[i] == '*' {
            i += 1;
        }
        if s.get(i) == Some(&':') && s.get(i + 1) == Some(&':') {
            i += 2;
            continue;
        }
        out.push(path);
        // Skip an `as name`, up to the end of this tree.
        while i < s.len() && !matches!(s[i], ',' | '}' | ';' | '(' | ')' | '<' | '>') {
            if !(is_ident(s[i]) || s[i].is_whitespace()) {
                break;
            }
            i += 1;
        }
        return i;
    }
}

/// Every module path a file's code names through `crate::` or `super::`.
fn uses_in(src: &Path, file: &Path) -> Vec<Use> {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let module = module_of(src, file);
    let code: Vec<char> = code_of(&text).chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < code.len() {
        let before_ok = i == 0 || !is_ident(code[i - 1]);
        let at = |w: &str| code[i..].iter().take(w.len()).copied().eq(w.chars());
        let (base, rest) = if before_ok && at("crate::") {
            (Vec::new(), i + "crate::".len())
        } else if before_ok && at("super::") {
            let mut base = module.clone();
            let mut j = i;
            while code[j..].iter().take(7).copied().eq("super::".chars()) {
                base.pop();
                j += 7;
            }
            (base, j)
        } else {
            i += 1;
            continue;
        };
        let line = code[..i].iter().filter(|&&c| c == '\n').count() + 1;
        let mut paths = Vec::new();
        let next = use_tree(&code, rest, base, &mut paths);
        for path in paths {
            out.push(Use {
                file: file.to_path_buf(),
                module: module.clone(),
                line,
                path,
            });
        }
        i = next.max(i + 1);
    }
    out
}

fn all_uses() -> Vec<Use> {
    let src = main_src();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.iter().flat_map(|f| uses_in(&src, f)).collect()
}

fn within(path: &[String], module: &str) -> bool {
    let segs: Vec<&str> = module.split("::").collect();
    path.len() >= segs.len() && path.iter().zip(&segs).all(|(a, b)| a == b)
}

#[test]
fn lower_modules_never_name_higher_ones() {
    let uses = all_uses();
    let mut broken = Vec::new();
    for rule in RULES {
        for u in &uses {
            if within(&u.module, rule.from) && within(&u.path, rule.to) {
                broken.push(format!(
                    "{}:{}: `{}` names `crate::{}`: {}",
                    u.file
                        .strip_prefix(env!("CARGO_MANIFEST_DIR"))
                        .unwrap_or(&u.file)
                        .display(),
                    u.line,
                    rule.from,
                    u.path.join("::"),
                    rule.why
                ));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "the module layering is broken:\n{}",
        broken.join("\n")
    );
}

/// Where a platform other than Wix may be named by its variant: the
/// places adding one touches (issue 15), each with why.
const PLATFORM_HOMES: &[(&str, &str)] = &[
    (
        "platform",
        "the `Platform` enum, its names and each platform's `Vocabulary`",
    ),
    (
        "providers",
        "each provider module, and the registry that builds them",
    ),
    ("emulator", "each platform's emulator module"),
    ("config", "each platform's config block and role checks"),
    (
        "cli::import",
        "each platform's importer writes its own config block",
    ),
    (
        "cli::doctor_google",
        "a GA4 property inherits its account's admins, which doctor accepts",
    ),
];

/// The engine — plan, apply, render, observe, the ledger, reports, guards —
/// works through `Platform` and `Capabilities` alone: naming a Google
/// platform there would mean a new platform has to touch it.
#[test]
fn only_a_platforms_own_modules_name_it() {
    let src = main_src();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut named = Vec::new();
    let mut seen_at_home = 0;
    for file in &files {
        let module = module_of(&src, file);
        let text = std::fs::read_to_string(file).expect("source");
        let code = code_of(&text);
        let at_home = PLATFORM_HOMES.iter().any(|(m, _)| within(&module, m));
        for (i, line) in code.lines().enumerate() {
            for variant in ["Platform::Ga4", "Platform::Gtm"] {
                if line.contains(variant) {
                    if at_home {
                        seen_at_home += 1;
                    } else {
                        named.push(format!(
                            "{}:{}: names `{variant}`",
                            file.strip_prefix(env!("CARGO_MANIFEST_DIR"))
                                .unwrap_or(file)
                                .display(),
                            i + 1
                        ));
                    }
                }
            }
        }
    }
    assert!(
        seen_at_home > 0,
        "the scan saw no platform variant at all, even in providers/; it no longer reads the code"
    );
    assert!(
        named.is_empty(),
        "the engine names a single platform; go through `Platform` or the provider's `Capabilities` instead (or, for a platform's own module, add it to PLATFORM_HOMES with why):\n{}",
        named.join("\n")
    );
}

#[test]
fn the_allowed_directions_are_seen() {
    let uses = all_uses();
    for (from, to) in EXPECTED {
        assert!(
            uses.iter()
                .any(|u| within(&u.module, from) && within(&u.path, to)),
            "expected `{from}` to name `{to}`; the layering scan no longer sees it (update EXPECTED if the code changed)"
        );
    }
}

#[test]
fn the_scanner_reads_groups_super_and_qualified_paths() {
    let dir = std::env::temp_dir().join(format!("accessctl-layering-{}", std::process::id()));
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("plan")).expect("temp dir");
    let file = src.join("plan").join("request.rs");
    std::fs::write(
        &file,
        "// crate::ignored::in_comment\n\
         use super::{diff::Thing, roles};\n\
         use crate::{model::{Config, requests::Channel as C}, request};\n\
         fn f() { let _ = crate::request::message::compose(1); }\n\
         #[cfg(test)]\nmod tests {\n    use crate::plan::diff::x;\n    const B: &str = \"}\";\n}\n\
         /* crate::also::ignored */ const S: &str = \"crate::in::a::string\";\n\
         fn g<'a>(c: char) -> bool { c == '{' || super::super::lib_level::f() }\n",
    )
    .expect("write");
    let paths: Vec<String> = uses_in(&src, &file)
        .iter()
        .map(|u| format!("{}@{}", u.path.join("::"), u.line))
        .collect();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(
        paths,
        [
            "plan::diff::Thing@2",
            "plan::roles@2",
            "model::Config@3",
            "model::requests::Channel@3",
            "request@3",
            "request::message::compose@4",
            "lib_level::f@11",
        ]
    );
}
