//! `accessctl offboard`, through the binary against the emulator (Wix, GA4
//! and GTM on loopback): the dry run shows what removing a person revokes
//! and leaves the file as it was; `--write` removes exactly the person's
//! lines (a byte-level test on the example config), and the result
//! validates and plans those removals; refusals leave the file untouched.

mod common;

use std::path::Path;

use common::{Harness, agency_keys, stderr, stdout};
use serde_json::Value;

fn example() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    std::fs::read_to_string(root.join("agency.yaml")).expect("config")
}

fn harness(config: &str) -> Harness {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let seed = std::fs::read_to_string(root.join("agency.seed.yaml")).expect("seed");
    Harness::new(&seed, config, &agency_keys())
}

/// `text` with `from` replaced by `to`, which must occur exactly once.
fn edit(text: &str, from: &str, to: &str) -> String {
    assert_eq!(text.matches(from).count(), 1, "{from:?}");
    text.replacen(from, to, 1)
}

fn file(h: &Harness) -> Vec<u8> {
    std::fs::read(h.config_path()).expect("read config")
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(out), stderr(out)))
}

/// (site, platform, action, who) of each revoke.
fn revokes(report: &Value) -> Vec<(String, String, String, String)> {
    report["revokes"]
        .as_array()
        .expect("revokes")
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            (s("site"), s("platform"), s("action"), s("who"))
        })
        .collect()
}

fn row(site: &str, platform: &str, action: &str, who: &str) -> (String, String, String, String) {
    (site.into(), platform.into(), action.into(), who.into())
}

/// (site, platform, action, who) of every change in a plan, on every
/// platform, that concerns bob.
fn bobs_plan_changes(plan: &Value) -> Vec<(String, String, String, String)> {
    let mut rows = Vec::new();
    for site in plan["sites"].as_array().expect("sites") {
        let name = site["site"].as_str().unwrap_or_default();
        for c in site["changes"].as_array().expect("changes") {
            if c["account_id"] == "acct-bob" || c["email"] == "bob@northwind.example" {
                let action = c["action"].as_str().unwrap_or_default();
                let who = c["who"].as_str().unwrap_or_default();
                rows.push(row(name, "wix", action, who));
            }
        }
        for t in site["targets"].as_array().into_iter().flatten() {
            for c in t["changes"].as_array().expect("changes") {
                if c["email"] == "bob@northwind.example" {
                    let platform = t["platform"].as_str().unwrap_or_default();
                    let kind = c["kind"].as_str().unwrap_or_default();
                    rows.push(row(name, platform, kind, "bob@northwind.example"));
                }
            }
        }
    }
    rows
}

#[test]
fn write_removes_exactly_the_persons_lines_and_the_result_plans_the_removals() {
    let config = example();
    let h = harness(&config);
    #[cfg(unix)]
    let before_mode = {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(h.config_path())
            .expect("stat")
            .permissions()
            .mode()
    };
    let out = h
        .cmd(&["offboard", "bob", "--write", "--format", "json"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["written"], true);

    // Byte for byte: bob's entry, his name in `seo` and his grant on
    // blue-harbor-dental are gone; every other byte is where it was.
    let want = edit(
        &config,
        "  bob:   { email: bob@northwind.example, wix_account_id: acct-bob }\n",
        "",
    );
    let want = edit(&want, "  seo: [alice, bob]\n", "  seo: [alice]\n");
    let want = edit(
        &want,
        "      - person: bob\n        role: Website Manager             # bob holds Blog Editor today: a role change\n",
        "",
    );
    let got = String::from_utf8(file(&h)).expect("utf-8");
    assert_eq!(got, want);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(h.config_path())
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            before_mode & 0o777,
            "the file keeps its permissions"
        );
    }
    let lines: Vec<(String, u64)> = report["config"]
        .as_array()
        .expect("config")
        .iter()
        .map(|e| {
            (
                e["path"].as_str().unwrap_or_default().to_string(),
                e["line"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("people.bob".to_string(), 10),
            ("teams.seo".to_string(), 16),
            ("sites.blue-harbor-dental.access[1]".to_string(), 62),
        ]
    );
    // What it showed: Wix removes him where the site removes unmanaged
    // collaborators; elsewhere his access stays, and it says so.
    assert_eq!(
        revokes(&report),
        [row(
            "blue-harbor-dental",
            "wix",
            "remove",
            "account acct-bob"
        )]
    );
    let kept: Vec<&str> = report["not_revoked"]
        .as_array()
        .expect("not_revoked")
        .iter()
        .filter_map(|n| n["note"].as_str())
        .collect();
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert!(
        kept.iter().all(|n| n.contains("unmanaged: warn")),
        "{kept:?}"
    );
    // And the guard apply would stop at: bob's removal empties the site.
    let refusals = report["refusals"].to_string();
    assert!(refusals.contains("site `blue-harbor-dental`"), "{refusals}");

    // The result validates, and `plan` plans the same removal of bob.
    let out = h.cmd(&["validate"]).output().expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let out = h
        .cmd(&["plan", "--format", "json", "--allow-removals"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        bobs_plan_changes(&json(&out)),
        [row(
            "blue-harbor-dental",
            "wix",
            "remove",
            "account acct-bob"
        )]
    );
}

#[test]
fn on_a_site_that_removes_unmanaged_access_ga4_and_gtm_are_revoked_too() {
    let config = edit(
        &example(),
        "    unmanaged: warn                       # the old agency's account is listed, not removed\n",
        "    unmanaged: remove\n",
    );
    let h = harness(&config);
    let out = h
        .cmd(&["offboard", "bob", "--format", "json"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let expected = [
        row("acme-bakery", "ga4", "remove", "bob@northwind.example"),
        row("blue-harbor-dental", "wix", "remove", "account acct-bob"),
    ];
    assert_eq!(revokes(&json(&out)), expected);
    // On GTM he holds only a container the config does not manage: kept,
    // and said.
    let kept = json(&out)["not_revoked"].to_string();
    assert!(
        kept.contains("accounts/6000: bob@northwind.example keeps user; GTM-ACME002: publish: the config does not manage it"),
        "{kept}"
    );
    assert_eq!(file(&h), config.as_bytes(), "a dry run writes nothing");

    let out = h
        .cmd(&["offboard", "bob", "--write"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let out = h
        .cmd(&["plan", "--format", "json", "--allow-removals"])
        .output()
        .expect("runs");
    assert!(matches!(out.status.code(), Some(0 | 2)), "{}", stderr(&out));
    assert_eq!(bobs_plan_changes(&json(&out)), expected);
}

#[test]
fn the_dry_run_shows_the_revocations_and_leaves_the_file_byte_identical() {
    let config = example();
    let h = harness(&config);
    let out = h.cmd(&["offboard", "bob"]).output().expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for want in [
        "Offboarding bob (bob@northwind.example, Wix account acct-bob)",
        "would remove 3 entries",
        "people.bob",
        "teams.seo",
        "sites.blue-harbor-dental.access[1]",
        "remove        account acct-bob (Blog Editor)",
        "Not revoked by apply:",
        "accessctl offboard bob --write",
    ] {
        assert!(text.contains(want), "{want:?} in:\n{text}");
    }
    assert_eq!(file(&h), config.as_bytes());
}

#[test]
fn refusals_name_the_reason_and_leave_the_file_untouched() {
    let anchored = edit(
        &example(),
        "  bob:   { email: bob@northwind.example, wix_account_id: acct-bob }",
        "  bob:   &bob { email: bob@northwind.example, wix_account_id: acct-bob }",
    );
    let h = harness(&anchored);
    let cases: [(&str, &str, &str); 4] = [
        (
            "bobb",
            "is not a person in the config",
            "did you mean `bob`?",
        ),
        ("bob", "uses a YAML anchor", "without anchors and aliases"),
        ("alice", "safety.protect", "in a change of its own"),
        (
            "carol",
            "team `design` would be left empty",
            "remove the team",
        ),
    ];
    for (person, message, hint) in cases {
        let out = h
            .cmd(&["offboard", person, "--write"])
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(1), "{person}");
        let err = stderr(&out);
        assert!(err.contains(message), "{person}: {err}");
        assert!(err.contains(hint), "{person}: {err}");
        assert!(err.contains("is unchanged"), "{person}: {err}");
        assert_eq!(file(&h), anchored.as_bytes(), "{person}");
    }
}

#[test]
fn from_a_snapshot_it_shows_what_it_shows_live_without_reading_the_sites() {
    let h = harness(&example());
    let snap = h.dir.path().join("snap.json");
    let out = h
        .cmd(&["snapshot", "--out", snap.to_str().expect("utf-8")])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let live = h
        .cmd(&["offboard", "dan", "--format", "json"])
        .output()
        .expect("runs");
    let calls = h.log().len();
    let observed = h
        .cmd(&[
            "offboard",
            "dan",
            "--format",
            "json",
            "--observed",
            snap.to_str().expect("utf-8"),
        ])
        .output()
        .expect("runs");
    assert!(observed.status.success(), "{}", stderr(&observed));
    assert_eq!(h.log().len(), calls, "no request from --observed");
    let (mut live, mut observed) = (json(&live), json(&observed));
    assert_eq!(observed["observed"], snap.to_str().expect("utf-8"));
    live["observed"] = Value::Null;
    observed["observed"] = Value::Null;
    assert_eq!(live, observed);
    // dan's grant ended, so the config as it is removes him from
    // elm-street-books; without his grant he is an unmanaged collaborator
    // there (`unmanaged: warn`), kept: offboard says so.
    let text = live.to_string();
    assert!(text.contains("sites.elm-street-books.access[1]"), "{text}");
    assert_eq!(live["revokes"], Value::Array(Vec::new()), "{text}");
    let lost = &live["lost"][0];
    assert_eq!(lost["site"], "elm-street-books", "{text}");
    assert_eq!(lost["platform"], "wix", "{text}");
    assert_eq!(lost["action"], "remove", "{text}");
    assert!(
        live["not_revoked"][0]["note"]
            .as_str()
            .is_some_and(|n| n.contains("account acct-dan")),
        "{text}"
    );
}
