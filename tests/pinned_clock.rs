//! The date guard: no test depends on the day it runs.
//!
//! The binary reads the system clock unless `ACCESSCTL_NOW` pins it, and the
//! examples' grants end on fixed days: a test that runs the binary unpinned
//! passes today and fails on its own some day later (the agency plan's
//! snapshot did, from 2027-03-17, when a grant's expiry warning appears).
//! `tests/common` pins every run it starts (and the emulator's clock);
//! `cli::the_harness_pins_both_clocks` checks that it does. This file checks
//! that no test goes around it, by reading the tests' sources: a run of the
//! binary is one of the `common` helpers, or a chain that takes the
//! harness's environment (`.envs(h.env…)`, which holds the pin); no test
//! removes the pin or clears the environment; no test reads today's date
//! (`common::google::assertion_clock` reads the real clock for hand-made
//! Google token assertions, which the emulator checks against it as Google
//! does; it is time, not a date, and never reaches the binary).
//!
//! Why read the sources rather than run the suite on two dates: the system
//! clock cannot be moved for the child processes without a tool such as
//! libfaketime, which CI does not have, and running only some flows on two
//! dates would say nothing about a new test elsewhere. A source rule fails
//! the moment a new test spawns the binary another way, whatever it runs.

use std::path::Path;

/// Every place in `source` where a test could run unpinned, as
/// `line: reason`.
fn unpinned(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    let line_of = |at: usize| source[..at].matches('\n').count() + 1;
    // Ways to name the binary; each must be followed, within its statement,
    // by the harness's environment.
    for needle in ["cargo_bin(", "CARGO_BIN_EXE", "current_exe("] {
        for (at, _) in source.match_indices(needle) {
            let statement = source[at..].split(';').next().unwrap_or_default();
            if !statement.contains(".envs(h.env") {
                found.push(format!(
                    "{}: runs the binary without the pinned clock; use `common::accessctl`, \
                     `Harness::cmd` or `Harness::std_cmd`",
                    line_of(at)
                ));
            }
        }
    }
    for (needle, why) in [
        ("env_remove(\"ACCESSCTL_NOW\")", "removes the pinned clock"),
        ("env_clear(", "clears the pinned clock with the environment"),
        (
            "now_utc(",
            "reads today's date; derive dates from `common::NOW`",
        ),
        (
            "now_local(",
            "reads today's date; derive dates from `common::NOW`",
        ),
        (
            "SystemTime::now(",
            "reads today's date; derive dates from `common::NOW`",
        ),
    ] {
        for (at, _) in source.match_indices(needle) {
            found.push(format!("{}: {why}", line_of(at)));
        }
    }
    found
}

#[test]
fn no_test_runs_the_binary_on_todays_date() {
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut problems = Vec::new();
    let mut scanned = 0;
    for entry in std::fs::read_dir(&tests).expect("tests/") {
        let path = entry.expect("entry").path();
        // This file names the patterns it looks for; `common` is where the
        // clock is pinned (and `the_harness_pins_both_clocks` checks it).
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.extension().is_none_or(|e| e != "rs") || name == "pinned_clock.rs" {
            continue;
        }
        let source = std::fs::read_to_string(&path).expect("test source");
        scanned += 1;
        problems.extend(
            unpinned(&source)
                .into_iter()
                .map(|p| format!("tests/{name}:{p}")),
        );
    }
    assert!(scanned >= 10, "only {scanned} test files found");
    assert!(
        problems.is_empty(),
        "tests that depend on today's date:\n{}",
        problems.join("\n")
    );
}

/// The rule itself can fail: each way of forgetting the pin is caught, and
/// the harness's ways pass.
#[test]
fn the_guard_flags_each_way_of_forgetting_the_pin() {
    let forgotten = [
        r#"let out = assert_cmd::Command::cargo_bin("accessctl").unwrap().arg("plan").output();"#,
        r#"let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("accessctl")).output();"#,
        r#"let out = std::process::Command::new(env!("CARGO_BIN_EXE_accessctl")).output();"#,
        r#"let out = h.cmd(&["plan"]).env_remove("ACCESSCTL_NOW").output();"#,
        r#"let out = h.cmd(&["plan"]).env_clear().output();"#,
        r#"let soon = time::OffsetDateTime::now_utc().date();"#,
        r#"let t = std::time::SystemTime::now();"#,
    ];
    for source in forgotten {
        assert_eq!(unpinned(source).len(), 1, "not flagged: {source}");
    }
    let pinned = [
        r#"let out = h.cmd(&["plan"]).env("ACCESSCTL_NOW", "2027-01-01T00:00:00Z").output();"#,
        r#"let out = common::accessctl().arg("validate").output();"#,
        r#"let child = h.std_cmd(&["apply"]).spawn();"#,
        r#"let c = std::process::Command::new(assert_cmd::cargo::cargo_bin("accessctl"))
            .envs(h.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .spawn();"#,
        r#"let started = std::time::Instant::now();"#,
    ];
    for source in pinned {
        assert_eq!(unpinned(source), Vec::<String>::new(), "{source}");
    }
}
