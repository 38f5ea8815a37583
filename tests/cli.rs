//! The binary end to end against the emulator on loopback: what a user sees,
//! exit codes, and errors at the edges.

mod common;

use std::path::Path;

use common::{Harness, agency_keys, stderr, stdout};

fn example(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(name),
    )
    .expect("example file")
}

fn agency() -> Harness {
    Harness::new(
        &example("agency.seed.yaml"),
        &example("agency.yaml"),
        &agency_keys(),
    )
}

#[test]
fn plan_on_the_agency_example() {
    let h = agency();
    let out = h.cmd(&["plan"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for expected in [
        "+ invite alice (alice@northwind.example): Marketing Manager",
        "~ change-role bob (bob@northwind.example): Blog Editor → Website Manager",
        "- remove account acct-former-intern: Website Designer",
        "warning: unmanaged collaborator `account acct-old-agency`",
        "? request alice (alice@northwind.example): Marketing Manager, Website Manager",
        "its grant ended on 2026-10-31",
        "+ invite alice (alice@northwind.example): SEO Reviewer, Website Manager",
        "site granite-law: no changes",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(!text.contains("\x1b["), "no color when piped");
    insta::assert_snapshot!("plan_agency_text", text);
}

/// The Markdown comment groups each client's changes by platform: the Wix
/// site's, then its GA4 property's and GTM account's, counted per platform
/// in the title.
#[test]
fn plan_on_the_agency_example_as_markdown() {
    let h = agency();
    let out = h
        .cmd(&["plan", "--format", "markdown"])
        .output()
        .expect("runs");
    let md = stdout(&out);
    assert!(
        md.contains("### accessctl plan: Wix: 11 to invite, 1 to change, 2 to remove, 2 to request; GA4: 1 to add, 1 to update; GTM: 2 to add, 1 to update"),
        "{md}"
    );
    let acme = md
        .find("<details><summary>acme-bakery")
        .expect("acme section");
    let ga4 = md[acme..].find("**GA4 properties/200**").expect("GA4 part");
    let gtm = md[acme..].find("**GTM accounts/6000**").expect("GTM part");
    assert!(ga4 < gtm, "Wix, then GA4, then GTM");
    insta::assert_snapshot!("plan_agency_markdown", md);
}

#[test]
fn detailed_exitcode_says_changes_are_pending() {
    let h = agency();
    let out = h
        .cmd(&["plan", "--detailed-exitcode", "--site", "granite-law"])
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "granite-law is in sync: {}",
        stdout(&out)
    );
    let out = h
        .cmd(&["plan", "--detailed-exitcode"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn markdown_plan_for_pull_requests() {
    let h = agency();
    let out = h
        .cmd(&["plan", "--format", "markdown"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let md = stdout(&out);
    assert!(md.contains("| acme-bakery |"), "{md}");
    assert!(md.contains("<details>"), "{md}");
}

#[test]
fn ten_mistakes_are_all_reported_with_locations() {
    let out = common::accessctl()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["validate", "-c", "tests/fixtures/config/ten-mistakes.yaml"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).is_empty(), "errors go to stderr");
    let err = stderr(&out);
    let located = err
        .lines()
        .filter(|l| {
            l.trim_start()
                .starts_with("--> tests/fixtures/config/ten-mistakes.yaml:")
        })
        .count();
    assert_eq!(located, 10, "{err}");
    assert!(err.contains("10 errors"), "{err}");
    assert!(
        !err.contains("abcdefghijklmnopqrstuvwxyz0123456789"),
        "the inline secret leaked:\n{err}"
    );
}

#[test]
fn unknown_site_gets_a_suggestion() {
    let h = agency();
    let out = h
        .cmd(&["plan", "--site", "acme-bakry"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("did you mean `acme-bakery`?"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn missing_key_variable_fails_that_site_only() {
    let h = agency();
    let out = h
        .cmd(&["plan", "--format", "json"])
        .env_remove("ACME_WIX_API_KEY")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let plan: accessctl::plan::Plan = serde_json::from_slice(&out.stdout).expect("JSON");
    let acme = plan
        .sites
        .iter()
        .find(|s| s.site == "acme-bakery")
        .expect("acme");
    assert!(
        acme.errors[0].contains("`ACME_WIX_API_KEY` is not set"),
        "{:?}",
        acme.errors
    );
    let cedar = plan
        .sites
        .iter()
        .find(|s| s.site == "cedar-yoga")
        .expect("cedar");
    assert!(cedar.errors.is_empty() && !cedar.changes.is_empty());
}

#[test]
fn wrong_key_is_reported_with_a_hint_and_never_printed() {
    let h = agency();
    let out = h
        .cmd(&["-vvv", "plan", "--site", "acme-bakery"])
        .env("ACME_WIX_API_KEY", "wrong-key-0123456789")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(all.contains("HTTP 401"), "{all}");
    assert!(
        all.contains("hint: check that the site's api_key_env variable"),
        "{all}"
    );
    assert!(
        !all.contains("wrong-key-0123456789"),
        "the key leaked:\n{all}"
    );
}

#[test]
fn keys_are_never_printed_even_when_tracing() {
    let h = agency();
    let out = h.cmd(&["-vvv", "plan"]).output().expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        all.contains("path=/roles-management/roles"),
        "-vvv logs requests: {all}"
    );
    for (_, key) in agency_keys() {
        assert!(!all.contains(key), "key {key} leaked");
    }
}

#[test]
fn plain_http_base_is_refused_unless_loopback() {
    let h = agency();
    let out = h
        .cmd(&["plan", "--wix-api-base", "http://wix.example.com"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("only sent over https"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn import_prints_access_entries_and_records_identities() {
    let h = agency();
    let out = h
        .cmd(&[
            "import",
            "--site",
            "blue-harbor-dental",
            "--site",
            "granite-law",
        ])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("  blue-harbor-dental:\n    access:\n"),
        "{text}"
    );
    assert!(
        text.contains("      - person: bob\n        roles: [Blog Editor]"),
        "{text}"
    );
    assert!(
        text.contains(
            "      - wix_account_id: acct-former-intern\n        roles: [Website Designer]"
        ),
        "{text}"
    );
    // The output is valid YAML.
    let _: serde_json::Value = serde_saphyr::from_str(&text).expect("import output parses as YAML");
    let ledger =
        std::fs::read_to_string(h.ledger_dir().join("granite-law.yaml")).expect("ledger written");
    assert!(
        ledger.contains("account_id: acct-erin") && ledger.contains("source: import"),
        "{ledger}"
    );
}

#[test]
fn emulator_refuses_non_loopback() {
    let out = common::accessctl()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "emulator",
            "--seed",
            "examples/agency.seed.yaml",
            "--listen",
            "0.0.0.0:0",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("loopback only"));
}

/// The harness pins both clocks: the binary's (`today` in the plan) and the
/// emulator's (Wix's timestamps). If it stopped, the snapshots above would
/// change with the day the suite runs; this says why at once.
#[test]
fn the_harness_pins_both_clocks() {
    let h = agency();
    assert_eq!(h.plan().today, common::TODAY);
    assert_eq!(h.get("/_emulator/clock")["now"], common::NOW);
}

/// `accessctl demo` runs the example end to end through child processes of
/// itself; they inherit the pinned clock and the demo freezes its emulator
/// at the same instant, so everything it prints to stdout (every plan and
/// apply report) is the same on every day.
#[test]
fn demo_prints_the_same_on_every_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = common::accessctl()
        .env_remove("RUST_LOG")
        .args(["demo", "--workdir"])
        .arg(dir.path())
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out).replace(&dir.path().display().to_string(), "[WORKDIR]");
    assert!(
        text.contains("invited 2026-11-15, expires 2026-12-15"),
        "{text}"
    );
    insta::assert_snapshot!("demo_stdout", text);
}
