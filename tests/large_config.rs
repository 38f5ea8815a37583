//! Configs large in one direction are checked with the same diagnostics as
//! small ones (hole 10: a 100,000-member team took 20 s to validate, from a
//! scan per member for duplicates). Not timed here: the figure is printed
//! by `cargo bench --bench validate_large_team` (README, "Performance").

mod common;

use std::fmt::Write as _;

const MEMBERS: usize = 100_000;

/// A team of 100,000 members, the eighth listed a second time at the end,
/// granted on one site.
fn large_team() -> String {
    let mut y = String::from("version: 2\npeople:\n");
    for i in 0..MEMBERS {
        let _ = writeln!(y, "  p{i}: {{ email: p{i}@agency.example }}");
    }
    y.push_str("teams:\n  staff:\n");
    for i in 0..MEMBERS {
        let _ = writeln!(y, "    - p{i}");
    }
    y.push_str("    - p7\n");
    y.push_str("sites:\n  shop:\n    wix: { site_id: site-1, account_id: acc-1, api_key_env: SHOP_KEY }\n    access:\n      - { team: staff, role: Website Manager }\n");
    y
}

#[test]
fn team_of_100000_with_one_duplicate_warns_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("access.yaml");
    std::fs::write(&path, large_team()).expect("write config");
    let out = common::accessctl()
        .env("NO_COLOR", "1")
        .arg("-c")
        .arg(&path)
        .arg("validate")
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("is valid: 100000 people, 1 team, 1 site, 100000 grants"),
        "{stdout}"
    );
    assert_eq!(stderr.matches("is listed twice").count(), 1, "{stderr}");
    // The second `- p7`: after the people (1 + 1 + 100,000 lines), the
    // `teams:` and `staff:` lines and the 100,000 members.
    let line = 2 + MEMBERS + 2 + MEMBERS + 1;
    assert!(
        stderr.contains(&format!(
            "warning: `p7` is listed twice in team `staff`\n  --> {}:{line}:7",
            path.display()
        )),
        "{stderr}"
    );
}
