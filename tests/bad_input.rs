//! The bad-input corpus: malformed configs and ledgers, each run through
//! the real binary — `validate` for configs (`tests/bad_input/config/`),
//! `plan` against the emulator for ledgers (`tests/bad_input/ledger/`, put
//! in place as a site's ledger) and for role names only the live site can
//! refute (`tests/bad_input/roles/`). Plus inputs too big to commit,
//! generated here: a 50 MB config and ledger (over their size caps), a
//! 12 MB ledger (under its cap, over the parser's budget), and nesting
//! thousands of levels deep.
//!
//! Every case must exit 1 within 10 s, under a 1.5 GiB address-space limit,
//! without a panic, with at least one message located as `file:line:col`,
//! and for the reason it is named for: [`REASONS`] gives, per case, text its
//! message must hold (a case without a line there fails), so a case that
//! stops at an earlier, unrelated check fails instead of passing. The whole
//! message is snapshot-tested (`tests/snapshots/bad_input__*`), with
//! temporary paths replaced by `[TMP]`.

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
const CONFIG: &str = "version: 2
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

/// Why each case must fail: text its message holds (all of it), by
/// `kind/name`. Where the message alone is shared by several mistakes (a
/// type error), the quoted source line says which value it is about.
const REASONS: &[(&str, &[&str])] = &[
    (
        "config/alias-bomb-maps",
        &["the file expands to too much data"],
    ),
    ("config/alias-self-merge", &["recursive references"]),
    ("config/binary-junk", &["the file is not valid UTF-8"]),
    (
        "config/date-impossible-day",
        &["`2027-02-30`", "there is no such day"],
    ),
    (
        "config/date-wrong-format",
        &["invalid date `01/02/2027` in `until`"],
    ),
    (
        "config/duplicate-key-in-flow-map",
        &["duplicate key `email` in `people.bob`"],
    ),
    (
        "config/duplicate-person",
        &["duplicate key `alice` in `people`"],
    ),
    (
        "config/duplicate-site",
        &["duplicate key `shop` in `sites`"],
    ),
    ("config/duplicate-team", &["duplicate key `web` in `teams`"]),
    (
        "config/email-in-grant-invalid",
        &["invalid email `writer@@freelance.example` for grant 1"],
    ),
    (
        "config/wix-ids-leaving-their-path",
        &[
            "`wix_account_id` `../../roles-management/contributor/remove` is not a Wix id",
            "`site_id` `site-shop?redirect=x` is not a Wix id",
            "`account_id` `acc-1/..` is not a Wix id",
            "`wix_account_id` `acct%2F..%2F` is not a Wix id",
        ],
    ),
    (
        "config/email-with-space",
        &["invalid email", "it contains a space"],
    ),
    (
        "config/email-without-at",
        &["invalid email", "it has no `@`"],
    ),
    ("config/empty", &["the file is empty"]),
    ("config/encoding-latin1", &["the file is not valid UTF-8"]),
    ("config/encoding-utf16", &["the file is not valid UTF-8"]),
    (
        "config/generated-50mb",
        &["the file is too large to be a config (50 MiB"],
    ),
    ("config/generated-deep-block", &["nested too deeply"]),
    ("config/generated-deep-flow", &["nested too deeply"]),
    (
        "config/list-document",
        &["wrong type for the file", "found a list"],
    ),
    ("config/missing-wix", &["missing `wix` in site `shop`"]),
    ("config/null-document", &["the file is empty", "1 | ~"]),
    (
        "config/policy-huge-numbers",
        &[
            "`outside_max_days` is too large: expected at most 3650",
            "`min` is too large: expected at most 1000, found 5000000000",
            "`max` is too small: expected at least 1, found -1",
        ],
    ),
    (
        "config/policy-unknown-keys-and-code",
        &[
            "unknown key `when` in rule 1 of `policies`",
            "wrong type for `outside_max_days`: expected a whole number, found a string",
        ],
    ),
    (
        "config/policy-unknown-roles",
        &[
            "unknown Wix role `Admn (Co-Owner)` in rule 1 of `policies`",
            "did you mean `Admin (Co-Owner)`?",
            "unknown Wix role `Blog Editor\\u{1b}[2J`",
            "unknown Google Tag Manager role `publish` in rule 2 of `policies`",
            "unknown value `facebook` for `platform`",
        ],
    ),
    (
        "config/scalar-document",
        &["wrong type for the file", "found a string"],
    ),
    (
        "config/secret-as-unknown-key",
        &["unknown key `api_key` in `wix`"],
    ),
    (
        "config/secret-in-api-key-env-jwt",
        &["`api_key_env` of site `shop` looks like an API key"],
    ),
    ("config/secret-in-email", &["invalid email `[redacted]`"]),
    (
        "config/secret-lowercase-value",
        &["`api_key_env` of site `shop` looks like an API key"],
    ),
    ("config/syntax-bad-escape", &["unknown escape character"]),
    (
        "config/syntax-bad-indentation",
        &["invalid YAML", "did not find expected key"],
    ),
    // Tags are not followed: the tagged value is the string it holds.
    (
        "config/syntax-include-tag",
        &["wrong type for `teams`", "found a string", "!include"],
    ),
    (
        "config/syntax-nested-mapping-on-one-line",
        &["mapping values are not allowed"],
    ),
    (
        "config/syntax-nul-byte",
        &["invalid YAML: unexpected character"],
    ),
    (
        "config/syntax-sequence-in-mapping",
        &["invalid YAML", "did not find expected key"],
    ),
    ("config/syntax-tab-before-value", &["tabs disallowed"]),
    (
        "config/syntax-two-documents",
        &["more than one YAML document"],
    ),
    (
        "config/syntax-unclosed-flow-map",
        &["while parsing a flow mapping"],
    ),
    ("config/syntax-unclosed-quote", &["unclosed quote"]),
    (
        "config/syntax-undefined-alias",
        &["alias references unknown anchor"],
    ),
    (
        "config/type-access-map",
        &["wrong type for `access`", "found a mapping"],
    ),
    (
        "config/type-ledger-dir-list",
        &["wrong type for `ledger_dir`", "found a list"],
    ),
    (
        "config/type-people-list",
        &["wrong type for `people`", "found a list"],
    ),
    (
        "config/type-safety-string",
        &["wrong type for `max_removals_total`", "found a string"],
    ),
    (
        "config/type-sites-scalar",
        &["wrong type for `sites`", "found a string"],
    ),
    (
        "config/type-team-member-map",
        &["wrong type for `web[0]`", "found a mapping"],
    ),
    (
        "config/type-unmanaged-bool",
        &["wrong type for `unmanaged`"],
    ),
    (
        "config/type-until-number",
        &["wrong type for `until`", "found a number"],
    ),
    (
        "config/type-version-string",
        &["wrong type for `version`", "found a string"],
    ),
    (
        "config/undefined-person-in-protect",
        &["unknown person `dave` in `safety.protect`"],
    ),
    (
        "config/undefined-person-in-team",
        &["unknown person `carol` in team `web`"],
    ),
    (
        "config/undefined-team-in-grant",
        &["unknown team `designers` in grant 1"],
    ),
    (
        "config/unknown-grant-key",
        &["unknown key `roel` in grant 1"],
    ),
    (
        "config/unknown-person-key",
        &["unknown key `phone` in person `bob`"],
    ),
    (
        "config/unknown-top-level-key",
        &["unknown key `saftey` at the top level"],
    ),
    ("config/unknown-wix-key", &["unknown key `siteid` in `wix`"]),
    ("config/whitespace-only", &["the file is empty"]),
    // The budget's alias check: a plain 10,000-entry ledger is valid.
    (
        "ledger/alias-bomb",
        &["too large or too deeply nested to be a ledger"],
    ),
    ("ledger/duplicate-key", &["duplicate mapping key: site"]),
    ("ledger/empty", &["the ledger file is empty"]),
    ("ledger/encoding-latin1", &["the ledger is not valid UTF-8"]),
    (
        "ledger/generated-50mb",
        &["the ledger file is larger than 32768 KiB"],
    ),
    (
        "ledger/generated-budget",
        &["too large or too deeply nested to be a ledger"],
    ),
    ("ledger/generated-deep-flow", &["recursion limit exceeded"]),
    (
        "ledger/granted-not-a-list",
        &["expected sequence start", "| granted: acct-alice"],
    ),
    ("ledger/identity-bad-source", &["unknown variant `guess`"]),
    (
        "ledger/invites-as-map",
        &["expected sequence start", "|   alice: pending"],
    ),
    (
        "ledger/merge-conflict-markers",
        &["invalid ledger", "| <<<<<<< HEAD"],
    ),
    ("ledger/missing-email", &["missing field `email`"]),
    (
        "ledger/role-ids-scalar",
        &["expected sequence start", "role_ids: role-blog-editor"],
    ),
    ("ledger/state-unknown-value", &["unknown variant `sent`"]),
    ("ledger/state-wrong-case", &["unknown variant `Pending`"]),
    ("ledger/syntax-error", &["invalid ledger: unclosed quote"]),
    ("ledger/tabs", &["tabs disallowed"]),
    ("ledger/timestamp-not-a-date", &["timestamps look like"]),
    (
        "ledger/timestamp-without-zone",
        &["invalid ledger", "expires_at: 2026-02-04 10:00"],
    ),
    ("ledger/unknown-key-in-invite", &["unknown field `colour`"]),
    ("ledger/unknown-top-level-key", &["unknown field `notes`"]),
    (
        "ledger/wrong-site-id",
        &["written for site id `site-other`"],
    ),
    (
        "ledger/wrong-site-key",
        &["belongs to site `cafe`, not `shop`"],
    ),
    ("ledger/wrong-version", &["unsupported ledger version 7"]),
    (
        "roles/role-one-of-several-unknown",
        &["unknown role `Chief Everything Officer`"],
    ),
    (
        "roles/role-site-restricted",
        &["grants `Site Owner`, which no one can be given"],
    ),
    (
        "roles/role-typo",
        &["unknown role `Blog Edtor`; did you mean `Blog Editor`?"],
    ),
    (
        "roles/role-unknown-id",
        &["unknown role `role-does-not-exist`"],
    ),
];

/// What is wrong with `output` as the failure of case `case`: it must say
/// the reason the case is named for.
fn wrong_reason(case: &str, output: &str) -> Option<String> {
    let Some((_, expected)) = REASONS.iter().find(|(name, _)| *name == case) else {
        return Some(format!("{case}: no expected reason in REASONS"));
    };
    let missing: Vec<&&str> = expected.iter().filter(|e| !output.contains(**e)).collect();
    (!missing.is_empty()).then(|| {
        format!("{case} failed for another reason than its name (missing {missing:?}):\n{output}")
    })
}

/// Check the guarantees (returning what is wrong) and snapshot the message.
fn check(kind: &str, name: &str, run: &Run, replace: &[(&str, &str)]) -> Vec<String> {
    let mut problems = Vec::new();
    problems.extend(wrong_reason(&format!("{kind}/{name}"), &run.output));
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
        &fifty_megabytes("version: 2\npeople:\n", |i| {
            format!("  person{i:07}: {{ email: person{i:07}@agency.example }}\n")
        }),
    );
    let mut flow = b"version: 2\npeople: ".to_vec();
    flow.extend(std::iter::repeat_n(b'[', 100_000));
    flow.extend(std::iter::repeat_n(b']', 100_000));
    problems.extend(validate_config("generated-deep-flow", &flow));
    // One space per level keeps 5,000 levels (12 MiB) under the size cap.
    let mut block = String::from("version: 2\nteams:\n");
    for depth in 1..=5_000 {
        block.push_str(&format!("{}k{depth}:\n", " ".repeat(depth)));
    }
    assert!(block.len() < 16 * 1024 * 1024);
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
    // Under the 32 MiB cap, but more values than the parser's budget
    // allows (250,000 nodes).
    let mut budget = String::from("version: 1\nsite: shop\nsite_id: site-shop\ngranted:\n");
    for i in 0..260_000 {
        budget.push_str(&format!("  - acct-{i:012}-aaaaaaaaaaaaaaaaaaaaaaaa\n"));
    }
    assert!(budget.len() < 32 * 1024 * 1024);
    problems.extend(plan_with_ledger(&h, "generated-budget", budget.as_bytes()));
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

/// Every case has a reason, and every reason a case.
#[test]
fn reasons_name_existing_cases() {
    let generated = [
        "config/generated-50mb",
        "config/generated-deep-block",
        "config/generated-deep-flow",
        "ledger/generated-50mb",
        "ledger/generated-budget",
        "ledger/generated-deep-flow",
    ];
    let mut cases: Vec<String> = ["config", "ledger", "roles"]
        .into_iter()
        .flat_map(|kind| {
            corpus(kind)
                .into_iter()
                .map(move |(n, _)| format!("{kind}/{n}"))
        })
        .chain(generated.map(String::from))
        .collect();
    cases.sort();
    let mut named: Vec<String> = REASONS.iter().map(|(n, _)| n.to_string()).collect();
    named.sort();
    assert_eq!(cases, named);
}

#[test]
fn the_reason_check_itself() {
    assert!(wrong_reason("ledger/missing-email", "error: missing field `email`").is_none());
    assert!(wrong_reason("ledger/missing-email", "error: unknown field `x0`").is_some());
    assert!(wrong_reason("ledger/no-such-case", "error: anything").is_some());
}

#[test]
fn the_located_check_itself() {
    assert!(located("error: x\n  --> a.yaml:3:4\n"));
    assert!(located("  error: access.yaml:9:15: unknown role"));
    assert!(!located("error: x\n  --> a.yaml\n"));
    assert!(!located("error: x\n  --> a.yaml:3\n"));
}
