//! Snapshots and `who`, through the binary against the emulator (Wix, GA4
//! and GTM on loopback): a snapshot plans exactly as the live sites do,
//! offline and without credentials; `who` lists exactly where a person
//! holds access, the same from a snapshot as live; a snapshot holds no
//! secret; and a snapshot written by an attacker is refused with a located
//! error, never a panic.

mod common;

use std::path::{Path, PathBuf};

use common::{Harness, agency_keys, stderr, stdout};
use serde_json::Value;

fn agency() -> Harness {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let seed = std::fs::read_to_string(root.join("agency.seed.yaml")).expect("seed");
    let config = std::fs::read_to_string(root.join("agency.yaml")).expect("config");
    Harness::new(&seed, &config, &agency_keys())
}

/// Take a snapshot into the harness's directory; its path.
fn snapshot(h: &Harness) -> PathBuf {
    let path = h.dir.path().join("snap.json");
    let out = h
        .cmd(&["snapshot", "--out", path.to_str().expect("utf-8")])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("saved a snapshot of 8 sites"),
        "{}",
        stderr(&out)
    );
    path
}

/// The binary with no way to reach anything and no credentials: no Wix
/// keys, no Google key file, API bases pointing at a closed port.
fn offline(h: &Harness, args: &[&str]) -> std::process::Output {
    let mut cmd = h.cmd(args);
    for (k, _) in agency_keys() {
        cmd.env_remove(k);
    }
    cmd.env_remove("GOOGLE_APPLICATION_CREDENTIALS")
        .env("ACCESSCTL_WIX_API_BASE", "http://127.0.0.1:9")
        .env("ACCESSCTL_GA4_API_BASE", "http://127.0.0.1:9")
        .env("ACCESSCTL_GTM_API_BASE", "http://127.0.0.1:9");
    cmd.output().expect("runs")
}

#[test]
fn a_snapshot_plans_exactly_as_the_live_sites_offline_and_without_credentials() {
    let h = agency();
    let snap = snapshot(&h);
    let calls_before = h.log().len();
    let live = h.cmd(&["plan", "--format", "json"]).output().expect("runs");
    let observed = offline(
        &h,
        &[
            "plan",
            "--format",
            "json",
            "--observed",
            snap.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(
        stdout(&live),
        stdout(&observed),
        "live:\n{}\nobserved:\n{}",
        stderr(&live),
        stderr(&observed)
    );
    assert_eq!(live.status.code(), observed.status.code());
    assert!(
        stderr(&observed).contains("not the live sites"),
        "{}",
        stderr(&observed)
    );
    // The offline plan sent nothing (only the live one did).
    let live_calls = h.log().len() - calls_before;
    let plan_again = h.cmd(&["plan", "--format", "json"]).output().expect("runs");
    assert_eq!(stdout(&plan_again), stdout(&live));
    assert_eq!(h.log().len() - calls_before, 2 * live_calls);

    // The text plan too.
    let live = h.cmd(&["plan"]).output().expect("runs");
    let observed = offline(&h, &["plan", "--observed", snap.to_str().expect("utf-8")]);
    assert_eq!(stdout(&live), stdout(&observed));
}

#[test]
fn a_snapshot_is_versioned_validates_against_its_schema_and_holds_no_secret() {
    let h = agency();
    let snap = snapshot(&h);
    let text = std::fs::read_to_string(&snap).expect("snapshot");
    let doc: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(doc["snapshot_version"], 1);
    assert_eq!(doc["taken_at"], common::NOW);
    assert_eq!(doc["tool_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(doc["config_digest"].as_str().map(str::len), Some(64));
    let sites = doc["sites"].as_array().expect("sites");
    assert_eq!(sites.len(), 8);
    let acme = &sites[0];
    assert_eq!(acme["site"], "acme-bakery");
    assert_eq!(acme["wix"]["status"], "live");
    assert_eq!(acme["fingerprint"].as_str().map(str::len), Some(64));
    assert_eq!(acme["targets"][0]["platform"], "ga4");
    assert!(acme["targets"][0]["fingerprint"].is_string());
    let delta = sites
        .iter()
        .find(|s| s["site"] == "delta-plumbing")
        .expect("delta");
    assert_eq!(delta["wix"]["status"], "request-mode");

    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/snapshot.schema.json"),
        )
        .expect("schema"),
    )
    .expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");

    // No API key, no Google key or token, no ledger key.
    for (_, key) in agency_keys() {
        assert!(!text.contains(key), "API key {key} in the snapshot");
    }
    assert!(
        !text.contains("PRIVATE KEY"),
        "a private key in the snapshot"
    );
    assert!(!text.contains("ya29."), "a Google token in the snapshot");
    assert!(
        !text.to_lowercase().contains("bearer"),
        "a token in the snapshot"
    );
}

#[test]
fn ledger_keys_never_reach_a_snapshot_and_its_records_are_checked_by_the_reader() {
    let h = agency();
    let keys = h
        .cmd(&["ledger-keygen", "--private-key-file", "ledger.key"])
        .output();
    let keys = keys.expect("runs");
    assert!(keys.status.success(), "{}", stderr(&keys));
    let private = std::fs::read_to_string(h.dir.path().join("ledger.key")).expect("key");
    let private = private.trim().to_string();
    let public = stdout(&keys)
        .trim()
        .rsplit('=')
        .next()
        .unwrap_or_default()
        .to_string();
    let signed = |args: &[&str]| {
        h.cmd(args)
            .env("ACCESSCTL_LEDGER_KEY", &private)
            .env("ACCESSCTL_LEDGER_PUBLIC_KEY", &public)
            .output()
            .expect("runs")
    };
    let out = signed(&["apply", "--auto-approve"]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    let path = h.dir.path().join("signed.json");
    let out = signed(&["snapshot", "--out", path.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&path).expect("snapshot");
    assert!(
        !private.is_empty() && !text.contains(&private),
        "the ledger's private key"
    );
    assert!(text.contains("\"sig\""), "records keep their signatures");
    assert!(text.contains("\"ledger_check\": \"verified\""), "{text}");
    // Read with the key, the plan is the live one.
    let live = signed(&["plan", "--format", "json"]);
    let observed = signed(&[
        "plan",
        "--format",
        "json",
        "--observed",
        path.to_str().expect("utf-8"),
    ]);
    assert_eq!(stdout(&live), stdout(&observed), "{}", stderr(&observed));
}

fn who_json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("who JSON ({e}):\n{}\n{}", stdout(out), stderr(out)))
}

/// (site, platform, scope, state, roles, config) of each entry.
fn entries(who: &Value) -> Vec<(String, String, String, String, String, String)> {
    who["access"]
        .as_array()
        .expect("access")
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            let roles: Vec<&str> = e["roles"]
                .as_array()
                .expect("roles")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            (
                s("site"),
                s("platform"),
                s("scope"),
                s("state"),
                roles.join(", "),
                s("config"),
            )
        })
        .collect()
}

fn row(v: [&str; 6]) -> (String, String, String, String, String, String) {
    let [a, b, c, d, e, f] = v.map(str::to_string);
    (a, b, c, d, e, f)
}

#[test]
fn who_lists_exactly_where_a_person_holds_access_on_every_platform() {
    let h = agency();
    let out = h
        .cmd(&["who", "bob", "--format", "json"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let who = who_json(&out);
    assert_eq!(who["person"], "bob");
    assert_eq!(who["email"], "bob@northwind.example");
    assert_eq!(who["wix_account_id"], "acct-bob");
    assert_eq!(
        entries(&who),
        [
            row([
                "acme-bakery",
                "ga4",
                "properties/200",
                "active",
                "viewer",
                "drifted"
            ]),
            row([
                "acme-bakery",
                "gtm",
                "accounts/6000",
                "active",
                "user, GTM-ACME002: publish",
                "drifted"
            ]),
            row([
                "blue-harbor-dental",
                "wix",
                "5e1a0002-0000-4000-8000-000000000002",
                "active",
                "Blog Editor",
                "drifted"
            ]),
        ],
        "{who:#}"
    );
    let wix = &who["access"][2];
    assert_eq!(wix["account_id"], "acct-bob");
    assert_eq!(wix["tied_by"], "config");
    assert_eq!(wix["wanted"][0], "Website Manager");

    // By email and by account: the same person, the same answer.
    for principal in ["BOB@northwind.example", "acct-bob"] {
        let out = h
            .cmd(&["who", principal, "--format", "json"])
            .output()
            .expect("runs");
        assert_eq!(entries(&who_json(&out)), entries(&who), "{principal}");
    }

    // A misspelt person key is taken as an account, with a suggestion.
    let out = h
        .cmd(&["who", "bobb", "--format", "json"])
        .output()
        .expect("runs");
    let who = who_json(&out);
    assert!(entries(&who).is_empty());
    assert!(
        who["notes"][0]
            .as_str()
            .is_some_and(|n| n.contains("did you mean `bob`?")),
        "{who:#}"
    );

    // An ended grant: dan's contract ended, his Wix access is still there.
    let out = h
        .cmd(&["who", "dan", "--format", "json"])
        .output()
        .expect("runs");
    assert_eq!(
        entries(&who_json(&out)),
        [row([
            "elm-street-books",
            "wix",
            "5e1a0005-0000-4000-8000-000000000005",
            "active",
            "Blog Writer",
            "ended"
        ])]
    );

    // After apply: bob's invites are pending, with since and expiry from
    // the ledger; granite's erin is managed.
    let out = h.apply();
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    let out = h
        .cmd(&["who", "bob", "--format", "json"])
        .output()
        .expect("runs");
    let who = who_json(&out);
    let invited: Vec<_> = who["access"]
        .as_array()
        .expect("access")
        .iter()
        .filter(|e| e["state"] == "invited")
        .collect();
    assert!(!invited.is_empty(), "{who:#}");
    for e in &invited {
        assert_eq!(e["since"], common::NOW, "{e}");
        assert_eq!(e["since_source"], "invite");
        assert!(e["invite_expires"].is_string());
        assert_eq!(e["config"], "managed", "{e}");
    }
    // alice accepts her cedar-yoga invite: until apply links it, the new
    // account is named in a note; after, the ledger ties it to her.
    let cedar = "5e1a0003-0000-4000-8000-000000000003";
    h.accept(cedar, "alice@northwind.example", "acct-alice");
    let out = h
        .cmd(&["who", "alice", "--format", "json"])
        .output()
        .expect("runs");
    let who = who_json(&out);
    assert!(
        who["notes"].as_array().expect("notes").iter().any(|n| n
            .as_str()
            .is_some_and(|n| n.contains("cedar-yoga") && n.contains("acct-alice"))),
        "{who:#}"
    );
    let out = h.apply();
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    let out = h
        .cmd(&["who", "alice", "--format", "json"])
        .output()
        .expect("runs");
    let who = who_json(&out);
    let active: Vec<&Value> = who["access"]
        .as_array()
        .expect("access")
        .iter()
        .filter(|e| e["site"] == "cedar-yoga" && e["state"] == "active")
        .collect();
    assert_eq!(active.len(), 1, "{who:#}");
    assert_eq!(active[0]["account_id"], "acct-alice");
    assert_eq!(active[0]["tied_by"], "ledger");
    assert_eq!(active[0]["since"], common::NOW);
    assert_eq!(active[0]["since_source"], "identity");
    assert_eq!(active[0]["config"], "managed", "{who:#}");

    let out = h.cmd(&["who", "erin"]).output().expect("runs");
    let text = stdout(&out);
    assert!(text.contains("granite-law"), "{text}");
    assert!(text.contains("managed"), "{text}");
    assert!(text.starts_with("erin: person erin"), "{text}");
}

#[test]
fn who_from_a_snapshot_equals_who_live() {
    let h = agency();
    let snap = snapshot(&h);
    for principal in ["bob", "alice", "acct-old-agency", "nobody@else.example"] {
        for format in ["json", "text"] {
            let live = h
                .cmd(&["who", principal, "--format", format])
                .output()
                .expect("runs");
            let observed = offline(
                &h,
                &[
                    "who",
                    principal,
                    "--format",
                    format,
                    "--observed",
                    snap.to_str().expect("utf-8"),
                ],
            );
            let strip = |out: &std::process::Output| {
                let mut v: Value = match format {
                    "json" => who_json(out),
                    _ => Value::String(stdout(out)),
                };
                if let Some(o) = v.as_object_mut() {
                    o.remove("observed");
                }
                let text = v.to_string();
                text.replace(&format!("snapshot {}", snap.display()), "live")
            };
            assert_eq!(strip(&live), strip(&observed), "{principal} {format}");
            assert_eq!(live.status.code(), observed.status.code());
        }
    }
    let out = h
        .cmd(&["who", "acct-old-agency", "--format", "json"])
        .output()
        .expect("runs");
    let who = who_json(&out);
    assert_eq!(entries(&who)[0].5, "unmanaged");
    assert!(
        who["notes"][0]
            .as_str()
            .is_some_and(|n| n.contains("not tied to any person")),
        "{who:#}"
    );
}

/// Write `text` as a snapshot and plan from it.
fn plan_from(h: &Harness, name: &str, text: &[u8]) -> std::process::Output {
    let path = h.dir.path().join(name);
    std::fs::write(&path, text).expect("write");
    offline(h, &["plan", "--observed", path.to_str().expect("utf-8")])
}

#[test]
fn an_attackers_snapshot_is_refused_with_a_located_error_never_a_panic() {
    let h = agency();
    let snap = snapshot(&h);
    let good = std::fs::read_to_string(&snap).expect("snapshot");
    let doc: Value = serde_json::from_str(&good).expect("JSON");
    let refused = |name: &str, text: &[u8], wants: &[&str]| {
        let out = plan_from(&h, name, text);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
        for w in wants {
            assert!(err.contains(w), "{name}: wanted {w:?} in\n{err}");
        }
    };
    // Truncated half-way: located at the end, with a hint.
    let cut = &good.as_bytes()[..good.len() / 2];
    refused(
        "cut.json",
        cut,
        &["cut.json:", "not a snapshot (invalid JSON): EOF", "hint:"],
    );
    // Not JSON at all.
    refused(
        "junk.json",
        b"\xff\xfe\x00garbage",
        &["junk.json:1:", "not a snapshot"],
    );
    refused("empty.json", b"", &["empty.json", "not a snapshot"]);
    // Unknown and missing versions.
    let mut v = doc.clone();
    v["snapshot_version"] = Value::from(99);
    refused(
        "v99.json",
        v.to_string().as_bytes(),
        &["unsupported snapshot version 99", "reads version 1"],
    );
    // Another version's shape: named by its version, not by the first
    // field this version does not know.
    let mut v = doc.clone();
    v["snapshot_version"] = Value::from(2);
    v["clients"] = v["sites"].take();
    refused(
        "v2.json",
        v.to_string().as_bytes(),
        &["unsupported snapshot version 2", "reads version 1"],
    );
    let mut v = doc.clone();
    v.as_object_mut()
        .expect("object")
        .remove("snapshot_version");
    refused(
        "nover.json",
        v.to_string().as_bytes(),
        &["no `snapshot_version`"],
    );
    // Wrong types, pretty-printed so the line points somewhere.
    let mut v = doc.clone();
    v["sites"][0]["wix"]["contributors"] = Value::from("everyone");
    let text = serde_json::to_string_pretty(&v).expect("JSON");
    refused(
        "types.json",
        text.as_bytes(),
        &["types.json:", "invalid type"],
    );
    let mut v = doc.clone();
    v["sites"][0]["extra"] = Value::from(true);
    refused(
        "unknown.json",
        v.to_string().as_bytes(),
        &["unknown field `extra`"],
    );
    // A site twice.
    let mut v = doc.clone();
    let first = v["sites"][0].clone();
    v["sites"].as_array_mut().expect("sites").push(first);
    refused(
        "twice.json",
        v.to_string().as_bytes(),
        &["`acme-bakery` is in the snapshot twice"],
    );
    // A request-mode site's ledger whose records would write lines of the
    // attacker's choosing into a message to the owner: not used.
    let mut v = doc.clone();
    let delta = v["sites"]
        .as_array_mut()
        .expect("sites")
        .iter_mut()
        .find(|s| s["site"] == "delta-plumbing")
        .expect("delta-plumbing");
    delta["ledger"]["granted_by_owner"] = serde_json::json!([{
        "email": "bob@northwind.example\n4. Also invite mallory@evil.example as Owner",
        "roles": ["Website Manager"],
        "marked_at": "2026-10-01T09:00:00Z"
    }]);
    let out = plan_from(&h, "hostile-ledger.json", v.to_string().as_bytes());
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert_ne!(out.status.code(), Some(0), "{all}");
    assert!(
        all.contains("the snapshot's ledger cannot be used: entry 1 of `granted_by_owner` has an email that is not one: it contains a control character"),
        "{all}"
    );
    assert!(!all.contains("\n4. Also invite mallory"), "{all}");
    // Deep nesting: serde_json's recursion limit, not a stack overflow.
    let deep = format!(
        "{{\"snapshot_version\": 1, \"x\": {}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    refused("deep.json", deep.as_bytes(), &["deep.json:1:"]);
    // A directory, a missing file.
    let out = offline(
        &h,
        &["plan", "--observed", h.dir.path().to_str().expect("utf-8")],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not a regular file"),
        "{}",
        stderr(&out)
    );
    let out = offline(&h, &["plan", "--observed", "missing.json"]);
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));

    // A huge string is read (under the cap) and stays data: the site whose
    // reading it replaces fails, by name.
    let mut v = doc.clone();
    v["sites"][0]["wix"] = serde_json::json!({ "status": "failed", "error": "x".repeat(8 << 20) });
    let out = plan_from(&h, "huge.json", v.to_string().as_bytes());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("1 site could not be planned"),
        "{}",
        stderr(&out)
    );

    // Another site's reading under this key, or another config: the site
    // is an error entry, the others plan; the digest is a warning.
    let mut v = doc.clone();
    v["sites"][0]["site_id"] = Value::from("not-this-site");
    v["config_digest"] = Value::from("0".repeat(64));
    let out = plan_from(&h, "moved.json", v.to_string().as_bytes());
    let err = stderr(&out);
    assert!(err.contains("taken with another config"), "{err}");
    assert!(
        stdout(&out).contains("the snapshot read site id `not-this-site`"),
        "{}",
        stdout(&out)
    );
    // Sites the snapshot lacks are named.
    let mut v = doc.clone();
    v["sites"].as_array_mut().expect("sites").remove(1);
    let out = plan_from(&h, "short.json", v.to_string().as_bytes());
    assert!(
        stderr(&out).contains("the snapshot lacks 1 site of the config: blue-harbor-dental"),
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("has no reading of this site"),
        "{}",
        stdout(&out)
    );

    // A saved plan is made from live state only.
    let out = offline(&h, &["plan", "--observed", "x.json", "--out", "plan.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot be used with"),
        "{}",
        stderr(&out)
    );
}

/// Written as an attacker who edits a snapshot in a pull request to hide
/// or invent access: the reading no longer matches the fingerprint taken
/// with it, and the plan says so for that site (and only that site).
#[test]
fn an_edited_snapshot_is_named_by_its_fingerprint() {
    let h = agency();
    let snap = snapshot(&h);
    let mut doc: Value =
        serde_json::from_str(&std::fs::read_to_string(&snap).expect("snapshot")).expect("JSON");
    let contributors = doc["sites"][0]["wix"]["contributors"]
        .as_object_mut()
        .expect("a map of accounts");
    contributors.insert(
        "acct-forged".to_string(),
        Value::from(vec!["role-admin".to_string()]),
    );
    let out = plan_from(&h, "edited.json", doc.to_string().as_bytes());
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains("site `acme-bakery`: the snapshot's fingerprint does not match what it holds"),
        "{err}"
    );
    assert_eq!(
        err.matches("fingerprint does not match").count(),
        1,
        "only the edited site is named: {err}"
    );
    // Unedited, nothing is said.
    let out = plan_from(&h, "kept.json", &std::fs::read(&snap).expect("snapshot"));
    assert!(!stderr(&out).contains("fingerprint does not match"));
}

/// The snapshot is read while the config loads, yet errors come in the
/// order they always did: a config that does not load is all that is
/// reported (nothing of the snapshot, however broken), a `--site` the
/// config lacks comes next, and only then the snapshot's own error. With
/// both sound, the plan is the same as from a snapshot read afterwards.
#[test]
fn the_snapshot_read_beside_the_config_reports_in_order() {
    let h = agency();
    let snap = snapshot(&h);
    let snap = snap.to_str().expect("utf-8");
    let broken = h.dir.path().join("broken.json");
    std::fs::write(&broken, b"{\"snapshot_version\": 1, \"sites\": [").expect("write");
    let broken = broken.to_str().expect("utf-8");

    // A sound config and a broken snapshot: the snapshot's error.
    let out = offline(&h, &["plan", "--observed", broken]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("broken.json"), "{}", stderr(&out));

    // An unknown site: named before the snapshot is looked at.
    let out = offline(&h, &["plan", "--observed", broken, "--site", "nope"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("nope"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("broken.json"), "{}", stderr(&out));

    // A config that does not load: its error alone.
    let config = h.config_path();
    let good = std::fs::read_to_string(&config).expect("config");
    std::fs::write(&config, format!("{good}\nsurprise: [")).expect("write");
    for file in [broken, snap] {
        let out = offline(&h, &["plan", "--observed", file]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("access.yaml:"), "{err}");
        assert!(!err.contains(".json"), "{err}");
        assert!(!err.contains("reading "), "{err}");
    }
    std::fs::write(&config, &good).expect("write");
    let out = offline(&h, &["plan", "--observed", snap, "--format", "json"]);
    assert!(matches!(out.status.code(), Some(0 | 3)), "{}", stderr(&out));
    let plan: Value = serde_json::from_slice(&out.stdout).expect("a JSON plan");
    assert_eq!(plan["sites"].as_array().map(Vec::len), Some(8), "{plan:#}");
}
