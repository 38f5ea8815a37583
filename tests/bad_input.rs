//! The bad-input corpus: malformed configs and ledgers, each run through
//! the real binary — `validate` for configs (`tests/bad_input/config/`),
//! `plan` against the emulator for ledgers (`tests/bad_input/ledger/`, put
//! in place as a site's ledger) and for role names only the live site can
//! refute (`tests/bad_input/roles/`). Plus inputs too big to commit,
//! generated here: a 50 MB config and ledger, and nesting thousands of
//! levels deep.
//!
//! Every case must exit 1 within 10 s, under a 1.5 GiB address-space limit,
//! without a panic, with at least one message located as `file:line:col`;
//! the whole message is snapshot-tested (`tests/snapshots/bad_input__*`),
//! with temporary paths replaced by `[TMP]`.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::Harness;

/// Address space the binary may use (KiB, for `ulimit -v`).
const MEMORY_LIMIT_KIB: u64 = 1536 * 1024;
const TIME_LIMIT: Duration = Duration::from_secs(10);

const SEED: &str = r#"
accounts:
  - { id: acc-1, api_keys: [key-shop] }
sites:
  - id: site-shop
    account: acc-1
    contributors:
      - { account_id: acct-bob, roles: [Blog Editor] }
"#;

/// A valid config for the ledger cases.
const CONFIG: &str = "version: 1
people:
  alice: { email: alice@agency.example }
sites:
  shop:
    wix: { site_id: site-shop, account_id: acc-1, api_key_env: SHOP_KEY }
    unmanaged: keep
    access:
      - person: alice
        role: Blog Editor
";

struct Run {
    code: Option<i32>,
    /// stdout (`plan` prints a site's errors with the plan), then stderr.
    output: String,
    stderr: String,
    elapsed: Duration,
}

/// Run the binary in `dir` with `args`, under the memory limit.
fn run_bounded(dir: &Path, env: &[(String, String)], args: &[&str]) -> Run {
    let started = Instant::now();
    let out = common::accessctl_under_sh(&format!(
        "ulimit -v {MEMORY_LIMIT_KIB} && exec \"$0\" \"$@\""
    ))
    .args(args)
    .current_dir(dir)
    .env_remove("RUST_LOG")
    .env_remove("ACCESSCTL_CONFIG")
    .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    .env("NO_COLOR", "1")
    .output()
    .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    Run {
        code: out.status.code(),
        output: if stdout.is_empty() {
            stderr.clone()
        } else {
            format!("{stdout}\n--- stderr\n{stderr}")
        },
        stderr,
        elapsed: started.elapsed(),
    }
}

/// Some message is located: `--> FILE:LINE:COL` (config and ledger
/// reports) or `FILE:LINE:COL:` (a site's error in a plan).
fn located(output: &str) -> bool {
    output
        .split(|c: char| c.is_whitespace())
        .map(|token| token.trim_end_matches(':'))
        .any(|token| {
            let mut parts = token.rsplitn(3, ':');
            let col = parts.next().unwrap_or("");
            let line = parts.next().unwrap_or("");
            let file = parts.next().unwrap_or("");
            file.ends_with(".yaml")
                && !line.is_empty()
                && !col.is_empty()
                && line.chars().all(|c| c.is_ascii_digit())
                && col.chars().all(|c| c.is_ascii_digit())
        })
}

/// Check the guarantees (returning what is wrong) and snapshot the message.
fn check(kind: &str, name: &str, run: &Run, replace: &[(&str, &str)]) -> Vec<String> {
    let mut problems = Vec::new();
    if run.stderr.contains("panicked") {
        problems.push(format!("{kind}/{name} panicked:\n{}", run.stderr));
    }
    if run.code != Some(1) {
        problems.push(format!(
            "{kind}/{name}: exit {:?}:\n{}",
            run.code, run.output
        ));
    }
    if run.elapsed >= TIME_LIMIT {
        problems.push(format!("{kind}/{name} took {:?}", run.elapsed));
    }
    if !located(&run.output) {
        problems.push(format!(
            "{kind}/{name}: no file:line:col in:\n{}",
            run.output
        ));
    }
    let mut text = run.output.clone();
    for (from, to) in replace {
        text = text.replace(from, to);
    }
    insta::assert_snapshot!(format!("{kind}__{name}"), text);
    problems
}

/// Fail with every problem found, not only the first.
fn assert_none(problems: Vec<String>) {
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// The corpus files of one kind, sorted.
fn corpus(kind: &str) -> Vec<(String, PathBuf)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/bad_input")
        .join(kind);
    let mut files: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .expect("corpus directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| {
            let name = p
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("name")
                .to_string();
            (name, p)
        })
        .collect();
    files.sort();
    files
}

/// `validate` on a config file copied into a scratch directory, so the
/// message names it as `NAME.yaml`.
fn validate_config(name: &str, bytes: &[u8]) -> Vec<String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = format!("{name}.yaml");
    std::fs::write(dir.path().join(&file), bytes).expect("write");
    let run = run_bounded(dir.path(), &[], &["-c", &file, "validate"]);
    check("config", name, &run, &[])
}

#[test]
fn malformed_configs() {
    let cases = corpus("config");
    assert!(cases.len() >= 40, "{} config cases", cases.len());
    let mut problems = Vec::new();
    for (name, path) in cases {
        problems.extend(validate_config(&name, &std::fs::read(path).expect("read")));
    }
    assert_none(problems);
}

/// 50 MB: a config of a quarter of a million people.
fn fifty_megabytes(header: &str, line: impl Fn(usize) -> String) -> Vec<u8> {
    let mut text = String::from(header);
    let mut i = 0;
    while text.len() < 50 * 1024 * 1024 {
        text.push_str(&line(i));
        i += 1;
    }
    text.into_bytes()
}

#[test]
fn generated_configs() {
    let mut problems = validate_config(
        "generated-50mb",
        &fifty_megabytes("version: 1\npeople:\n", |i| {
            format!("  person{i:07}: {{ email: person{i:07}@agency.example }}\n")
        }),
    );
    let mut flow = b"version: 1\npeople: ".to_vec();
    flow.extend(std::iter::repeat_n(b'[', 100_000));
    flow.extend(std::iter::repeat_n(b']', 100_000));
    problems.extend(validate_config("generated-deep-flow", &flow));
    let mut block = String::from("version: 1\nteams:\n");
    for depth in 1..=5_000 {
        block.push_str(&format!("{}k{depth}:\n", "  ".repeat(depth)));
    }
    problems.extend(validate_config("generated-deep-block", block.as_bytes()));
    assert_none(problems);
}

fn ledger_harness() -> Harness {
    Harness::new(SEED, CONFIG, &[("SHOP_KEY", "key-shop")])
}

/// `plan` with `bytes` as the site's ledger.
fn plan_with_ledger(h: &Harness, name: &str, bytes: &[u8]) -> Vec<String> {
    std::fs::create_dir_all(h.ledger_dir()).expect("ledger dir");
    std::fs::write(h.ledger_dir().join("shop.yaml"), bytes).expect("write ledger");
    let run = run_bounded(h.dir.path(), &h.env, &["-c", "access.yaml", "plan"]);
    check(
        "ledger",
        name,
        &run,
        &[
            (&h.dir.path().to_string_lossy(), "[TMP]"),
            (&h.base, "[EMULATOR]"),
        ],
    )
}

#[test]
fn malformed_ledgers() {
    let h = ledger_harness();
    let cases = corpus("ledger");
    assert!(cases.len() >= 15, "{} ledger cases", cases.len());
    let mut problems = Vec::new();
    for (name, path) in cases {
        problems.extend(plan_with_ledger(
            &h,
            &name,
            &std::fs::read(path).expect("read"),
        ));
    }
    assert_none(problems);
}

#[test]
fn generated_ledgers() {
    let h = ledger_harness();
    let mut problems = plan_with_ledger(
        &h,
        "generated-50mb",
        &fifty_megabytes(
            "version: 1\nsite: shop\nsite_id: site-shop\ngranted:\n",
            |i| format!("  - acct-{i:012}-aaaaaaaaaaaaaaaaaaaaaaaa\n"),
        ),
    );
    let mut deep = b"version: 1\nsite: shop\nsite_id: site-shop\ngranted: ".to_vec();
    deep.extend(std::iter::repeat_n(b'[', 100_000));
    deep.extend(std::iter::repeat_n(b']', 100_000));
    problems.extend(plan_with_ledger(&h, "generated-deep-flow", &deep));
    assert_none(problems);
}

#[test]
fn role_names_the_site_does_not_have() {
    let cases = corpus("roles");
    let mut problems = Vec::new();
    for (name, path) in cases {
        let h = ledger_harness();
        std::fs::copy(&path, h.config_path()).expect("copy config");
        let run = run_bounded(h.dir.path(), &h.env, &["-c", "access.yaml", "plan"]);
        problems.extend(check(
            "roles",
            &name,
            &run,
            &[
                (&h.dir.path().to_string_lossy(), "[TMP]"),
                (&h.base, "[EMULATOR]"),
            ],
        ));
    }
    assert_none(problems);
}

#[test]
fn the_located_check_itself() {
    assert!(located("error: x\n  --> a.yaml:3:4\n"));
    assert!(located("  error: access.yaml:9:15: unknown role"));
    assert!(!located("error: x\n  --> a.yaml\n"));
    assert!(!located("error: x\n  --> a.yaml:3\n"));
}
