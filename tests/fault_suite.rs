//! The fault suite: a 20-site change applied through the real binary while
//! the emulator misbehaves, one fault profile per test — added latency, a
//! share of 5xx answers, 429s (the emulator's own rate limit per site and
//! per key, plus injected ones), connections dropped before or after the
//! request is processed, and stalls longer than the client's timeout.
//!
//! For every profile: `apply` is repeated until `plan` shows no changes,
//! which must take at most 3 applies (an invite whose outcome is unknown is
//! reported by the plan and settled as a person would — see
//! `common::settle_unknown` — and does not count as an apply); no email is
//! ever invited twice for one grant (every invite the emulator ever made,
//! replaced ones included, and every Bulk Invite it acted on in its log);
//! every ledger file parses after every run; and the live state at the end
//! is exactly the desired one.
//!
//! A profile cannot pass without meeting its faults: besides its random
//! rules it forces (`times: 1`) the dangerous ones on the write endpoints —
//! a Bulk Invite processed and then dropped, answered with a 5xx or stalled
//! past the timeout; role changes, removals and revokes dropped before and
//! after — and asserts from the emulator's log that each of them happened,
//! on which endpoint, and whether Wix had acted (`handledStatus`).
//!
//! The scenario per site: a first, fault-free apply sends two invites; then
//! the config changes so that the faulted applies must revoke one of them
//! and invite again with other roles, invite three more people in two role
//! sets, change a collaborator's role and remove one. The emulator's own
//! 429s are covered at scale (hundreds of requests on one key) on a paused
//! clock in `tests/wix_client.rs`; here the rate limiter runs as configured
//! for real (`--rate-limit`), against the emulator's documented limit.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use accessctl::plan::Plan;
use common::{Harness, Live, settle_unknown, stderr, stdout};
use serde_json::{Value, json};

const SITES: usize = 20;
/// Sites per account (one API key per account).
const SITES_PER_KEY: usize = 2;

fn seed() -> String {
    let mut s = String::from("accounts:\n");
    for a in 0..SITES / SITES_PER_KEY {
        s.push_str(&format!(
            "  - {{ id: acc-{a}, api_keys: [key-{a}-SECRET] }}\n"
        ));
    }
    s.push_str("sites:\n");
    for i in 0..SITES {
        s.push_str(&format!(
            "  - id: site-{i}\n    account: acc-{}\n    contributors:\n      - {{ account_id: acct-bob, roles: [Blog Editor] }}\n      - {{ account_id: acct-old, roles: [Website Designer] }}\n",
            i / SITES_PER_KEY
        ));
    }
    s
}

/// Who should hold what, per person: (person, role) before and after the
/// config change. `bob` is a known account; the others are invited.
const BEFORE: &[(&str, &str)] = &[
    ("bob", "Blog Editor"),
    ("ann", "Blog Writer"),
    ("cat", "Blog Writer"),
];
const AFTER: &[(&str, &str)] = &[
    ("bob", "Website Manager"),
    ("ann", "Blog Writer"),
    ("cat", "Marketing Manager"),
    ("dee", "Blog Writer"),
    ("eve", "Marketing Manager"),
    ("fay", "Blog Writer"),
];

fn role_id(title: &str) -> String {
    format!("role-{}", title.to_lowercase().replace(' ', "-"))
}

fn config(grants: &[(&str, &str)], unmanaged: &str) -> String {
    let mut s = String::from(
        "version: 2\npeople:\n  bob: { email: bob@agency.example, wix_account_id: acct-bob }\n",
    );
    for p in ["ann", "cat", "dee", "eve", "fay"] {
        s.push_str(&format!("  {p}: {{ email: {p}@agency.example }}\n"));
    }
    s.push_str("sites:\n");
    for i in 0..SITES {
        s.push_str(&format!(
            "  site{i:02}:\n    wix: {{ site_id: site-{i}, account_id: acc-{}, api_key_env: KEY_{} }}\n    unmanaged: {unmanaged}\n    access:\n",
            i / SITES_PER_KEY,
            i / SITES_PER_KEY
        ));
        for (person, role) in grants {
            s.push_str(&format!("      - {{ person: {person}, role: {role} }}\n"));
        }
    }
    s
}

fn keys() -> Vec<(String, String)> {
    (0..SITES / SITES_PER_KEY)
        .map(|a| (format!("KEY_{a}"), format!("key-{a}-SECRET")))
        .collect()
}

struct Profile {
    name: &'static str,
    faults: Value,
    /// Faults the log must show: (endpoint, fault kind, whether Wix acted).
    expect: &'static [(&'static str, &'static str, bool)],
    /// Extra arguments for every plan and apply.
    args: &'static [&'static str],
}

#[derive(Debug, Default)]
struct Outcome {
    applies: usize,
    settled: usize,
    elapsed: Duration,
    stats: Value,
}

fn run(h: &Harness, command: &[&str], args: &[&str]) -> std::process::Output {
    let mut all: Vec<&str> = command.to_vec();
    all.extend_from_slice(args);
    h.cmd(&all).output().expect("runs")
}

/// `plan --format json`; `None` when the plan could not be made (a site
/// could not be read even after retries), which counts as not converged.
fn plan(h: &Harness, args: &[&str]) -> Option<Plan> {
    let out = run(h, &["plan", "--format", "json"], args);
    let plan: Option<Plan> = serde_json::from_slice(&out.stdout).ok();
    match plan {
        Some(p) if !p.has_errors() => Some(p),
        _ => {
            eprintln!("plan failed:\n{}", stderr(&out));
            None
        }
    }
}

/// Every ledger file parses, as `plan` would read it.
fn assert_ledgers_parse(h: &Harness, when: &str) {
    let dir = h.ledger_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        if path.file_name() == Some(std::ffi::OsStr::new(accessctl::ledger::guards::GUARDS_FILE)) {
            // The guards record, not a site's ledger.
            continue;
        }
        let site = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("name")
            .to_string();
        let i: usize = site
            .trim_start_matches("site")
            .parse()
            .expect("site number");
        let bytes = std::fs::read(&path).expect("read ledger");
        if let Err(report) = accessctl::ledger::parse(&path, &bytes, &site, &format!("site-{i}")) {
            panic!(
                "{when}: {} does not parse:\n{}",
                path.display(),
                report.render()
            );
        }
    }
}

fn unknown_outcomes(plan: &Plan) -> usize {
    plan.sites
        .iter()
        .flat_map(|s| &s.warnings)
        .filter(|w| w.contains("unknown outcome"))
        .count()
}

fn desired_state() -> Live {
    (0..SITES)
        .map(|i| {
            let mut contributors = BTreeMap::new();
            let mut pending = BTreeMap::new();
            for (person, role) in AFTER {
                if *person == "bob" {
                    contributors.insert("acct-bob".to_string(), vec![role_id(role)]);
                } else {
                    pending.insert(format!("{person}@agency.example"), vec![role_id(role)]);
                }
            }
            (format!("site-{i}"), (contributors, pending))
        })
        .collect()
}

/// Set up the scenario, apply it under `profile` until it converges, and
/// check every guarantee.
fn check_profile(profile: &Profile) -> Outcome {
    let started = Instant::now();
    let keys = keys();
    let key_refs: Vec<(&str, &str)> = keys.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let h = Harness::new(&seed(), &config(BEFORE, "keep"), &key_refs);

    // The starting point, without faults: two invites per site.
    let out = run(&h, &["apply", "--auto-approve"], &[]);
    assert!(out.status.success(), "setup apply: {}", stderr(&out));

    h.write_config(&config(AFTER, "remove"));
    let mut faults = profile.faults.clone();
    // To explore other fault sequences: FAULT_SUITE_SEED=n cargo test …
    if let Some(seed) = std::env::var("FAULT_SUITE_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        faults["seed"] = json!(seed);
    }
    h.set_faults(faults);
    let mut outcome = Outcome::default();
    let mut converged = false;
    while outcome.applies < 3 {
        outcome.applies += 1;
        let out = run(&h, &["apply", "--auto-approve"], profile.args);
        let code = out.status.code();
        assert!(
            matches!(code, Some(0 | 1)),
            "{}: apply {} ended with {code:?}:\n{}\n{}",
            profile.name,
            outcome.applies,
            stdout(&out),
            stderr(&out)
        );
        assert!(
            !stderr(&out).contains("panicked"),
            "{}: {}",
            profile.name,
            stderr(&out)
        );
        assert_ledgers_parse(&h, profile.name);
        // A stalled call may still be running in the emulator; let it end
        // before anyone looks at the site.
        h.quiesce(Duration::from_secs(5));
        h.assert_no_duplicate_invites(&format!("{}, apply {}", profile.name, outcome.applies));
        let Some(mut p) = plan(&h, profile.args) else {
            continue;
        };
        if unknown_outcomes(&p) > 0 {
            outcome.settled += unknown_outcomes(&p);
            settle_unknown(&h, &p);
            assert_ledgers_parse(&h, profile.name);
            match plan(&h, profile.args) {
                Some(again) => p = again,
                None => continue,
            }
        }
        if p.change_count() == 0 {
            converged = true;
            break;
        }
    }
    assert!(
        converged,
        "{}: not converged after {} applies",
        profile.name, outcome.applies
    );

    assert_faults_met(&h, profile);
    // No email was invited twice for one grant: every invite the emulator
    // made, and every Bulk Invite it acted on.
    h.assert_no_duplicate_invites(profile.name);
    let invited = h.invited();
    let unique: BTreeSet<_> = invited.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        invited.len(),
        "{}: an email was invited twice for one grant: {invited:?}",
        profile.name
    );
    // The live state is exactly the desired state.
    h.quiesce(Duration::from_secs(5));
    assert_eq!(h.live_state(), desired_state(), "{}", profile.name);

    outcome.stats = h.get("/_emulator/stats");
    outcome.elapsed = started.elapsed();
    eprintln!(
        "{}: converged in {} applies ({} unknown invites settled) in {:.1?}; emulator: {} requests, faults {}",
        profile.name,
        outcome.applies,
        outcome.settled,
        outcome.elapsed,
        outcome.stats["total"],
        outcome.stats["faults"]
    );
    outcome
}

/// Each fault `profile.expect` names is in the emulator's log at least once:
/// on that endpoint, with that fault kind, and with Wix having acted on the
/// call (a 2xx `handledStatus`) or not (no `handledStatus`, no 2xx).
fn assert_faults_met(h: &Harness, profile: &Profile) {
    let log = h.log();
    for (endpoint, kind, acted) in profile.expect {
        let met = log.iter().any(|e| {
            let fault = e["fault"].as_str().unwrap_or("");
            let handled = e.get("handledStatus").and_then(Value::as_u64);
            let did = match handled {
                Some(s) => (200..300).contains(&s),
                None => e["status"]
                    .as_u64()
                    .is_some_and(|s| (200..300).contains(&s)),
            };
            e["endpoint"] == *endpoint && fault.split('+').any(|f| f == *kind) && did == *acted
        });
        assert!(
            met,
            "{}: no {endpoint} call met `{kind}` ({}): the profile did not test what it claims",
            profile.name,
            if *acted {
                "after Wix acted"
            } else {
                "before Wix acted"
            }
        );
    }
}

/// `times: 1` rules, put first, so each profile's dangerous faults happen
/// whatever its random ones do.
fn forced(rules: &[Value], faults: Value) -> Value {
    let mut faults = faults;
    let random = faults["rules"].as_array().cloned().unwrap_or_default();
    faults["rules"] = Value::Array(rules.iter().cloned().chain(random).collect());
    faults
}

/// Fault rates (2.5–5% of requests) are kept low enough that three applies
/// converge with near certainty: a fault on a Bulk Invite needs a person and
/// a further apply, while every other call recovers by retrying within the
/// same apply. Over 36 runs with other seeds at slightly higher rates, 2
/// needed a third apply and none a fourth. Each profile's emulator seed
/// fixes which requests fail for a given order of requests
/// (`FAULT_SUITE_SEED` overrides it).
const PARALLEL: &[&str] = &["--parallelism", "4"];

#[test]
fn added_latency() {
    check_profile(&Profile {
        name: "latency",
        faults: json!({ "rules": [ { "endpoint": "*", "latencyMs": 15 } ] }),
        expect: &[
            ("bulkInvite", "latency", true),
            ("revokeInvite", "latency", true),
            ("changeRole", "latency", true),
            ("removeContributor", "latency", true),
        ],
        args: &["--parallelism", "8"],
    });
}

#[test]
fn a_share_of_5xx() {
    let o = check_profile(&Profile {
        name: "5xx",
        faults: forced(
            &[
                json!({ "endpoint": "bulkInvite", "status": 503, "times": 1 }),
                json!({ "endpoint": "bulkInvite", "status": 500, "when": "after", "times": 1 }),
                json!({ "endpoint": "changeRole", "status": 503, "when": "after", "times": 1 }),
                json!({ "endpoint": "removeContributor", "status": 500, "when": "after", "times": 1 }),
                json!({ "endpoint": "revokeInvite", "status": 503, "times": 1 }),
            ],
            json!({ "seed": 5, "rules": [
                { "endpoint": "*", "errorRate": 0.02, "status": 503 },
                { "endpoint": "*", "errorRate": 0.015, "status": 500 }
            ] }),
        ),
        expect: &[
            ("bulkInvite", "error", false),
            ("bulkInvite", "error-after", true),
            ("changeRole", "error-after", true),
            ("removeContributor", "error-after", true),
            ("revokeInvite", "error", false),
        ],
        args: PARALLEL,
    });
    assert!(o.stats["faults"]["error"].as_u64().unwrap_or(0) > 0);
}

/// The emulator limits each site to Wix's documented 200 requests per
/// minute, and also answers a share of requests with an injected 429. The
/// client paces itself (`--rate-limit 150`, the default) and retries the
/// injected 429s.
#[test]
fn rate_limited_per_site() {
    let o = check_profile(&Profile {
        name: "429 per site",
        faults: forced(
            &[
                json!({ "endpoint": "bulkInvite", "status": 429, "times": 1 }),
                json!({ "endpoint": "changeRole", "status": 429, "times": 1 }),
            ],
            json!({ "seed": 429, "rules": [
                { "endpoint": "*", "errorRate": 0.05, "status": 429 }
            ], "rateLimit": { "perMinute": 200, "scope": "site" } }),
        ),
        expect: &[
            ("bulkInvite", "error", false),
            ("changeRole", "error", false),
        ],
        args: &["--parallelism", "4", "--rate-limit", "150"],
    });
    assert_eq!(
        o.stats["rateLimited"], 0,
        "the limiter should keep under 200/min"
    );
}

/// The same, with the emulator counting per API key (two sites share each).
#[test]
fn rate_limited_per_key() {
    let o = check_profile(&Profile {
        name: "429 per key",
        faults: forced(
            &[
                json!({ "endpoint": "bulkInvite", "status": 429, "times": 1 }),
                json!({ "endpoint": "removeContributor", "status": 429, "times": 1 }),
            ],
            json!({ "seed": 430, "rules": [
                { "endpoint": "*", "errorRate": 0.05, "status": 429 }
            ], "rateLimit": { "perMinute": 200, "scope": "key" } }),
        ),
        expect: &[
            ("bulkInvite", "error", false),
            ("removeContributor", "error", false),
        ],
        args: &["--parallelism", "4", "--rate-limit", "150"],
    });
    assert_eq!(
        o.stats["rateLimited"], 0,
        "the limiter should keep under 200/min"
    );
}

#[test]
fn connections_dropped_before_processing() {
    let o = check_profile(&Profile {
        name: "drop before",
        faults: forced(
            &[
                json!({ "endpoint": "bulkInvite", "drop": "before", "times": 1 }),
                json!({ "endpoint": "revokeInvite", "drop": "before", "times": 1 }),
                json!({ "endpoint": "changeRole", "drop": "before", "times": 1 }),
                json!({ "endpoint": "removeContributor", "drop": "before", "times": 1 }),
            ],
            json!({ "seed": 7, "rules": [
                { "endpoint": "*", "drop": "before", "rate": 0.03 }
            ] }),
        ),
        expect: &[
            ("bulkInvite", "drop-before", false),
            ("revokeInvite", "drop-before", false),
            ("changeRole", "drop-before", false),
            ("removeContributor", "drop-before", false),
        ],
        args: PARALLEL,
    });
    assert!(o.stats["faults"]["drop-before"].as_u64().unwrap_or(0) > 0);
}

#[test]
fn connections_dropped_after_processing() {
    let o = check_profile(&Profile {
        name: "drop after",
        faults: forced(
            &[
                json!({ "endpoint": "bulkInvite", "drop": "after", "times": 1 }),
                json!({ "endpoint": "revokeInvite", "drop": "after", "times": 1 }),
                json!({ "endpoint": "changeRole", "drop": "after", "times": 1 }),
                json!({ "endpoint": "removeContributor", "drop": "after", "times": 1 }),
            ],
            json!({ "seed": 8, "rules": [
                { "endpoint": "*", "drop": "after", "rate": 0.03 }
            ] }),
        ),
        expect: &[
            ("bulkInvite", "drop-after", true),
            ("revokeInvite", "drop-after", true),
            ("changeRole", "drop-after", true),
            ("removeContributor", "drop-after", true),
        ],
        args: PARALLEL,
    });
    assert!(o.stats["faults"]["drop-after"].as_u64().unwrap_or(0) > 0);
}

/// Stalls of 1.5 s against a 1 s client timeout, before or after Wix acts.
#[test]
fn stalls_longer_than_the_timeout() {
    let o = check_profile(&Profile {
        name: "stall",
        faults: forced(
            &[
                json!({ "endpoint": "bulkInvite", "stallMs": 1500, "when": "after", "times": 1 }),
                json!({ "endpoint": "changeRole", "stallMs": 1500, "when": "after", "times": 1 }),
                json!({ "endpoint": "removeContributor", "stallMs": 1500, "times": 1 }),
            ],
            json!({ "seed": 9, "rules": [
                { "endpoint": "*", "stallMs": 1500, "rate": 0.025 }
            ] }),
        ),
        expect: &[
            ("bulkInvite", "stall-after", true),
            ("changeRole", "stall-after", true),
            ("removeContributor", "stall", false),
        ],
        args: &["--parallelism", "8", "--timeout", "1"],
    });
    assert!(o.stats["faults"]["stall"].as_u64().unwrap_or(0) > 0);
}

/// Each retry is visible at `-v`, naming the call, the site, the wait and
/// the reason; without `-v` a run that recovered says nothing about it.
#[test]
fn retries_are_logged_at_v() {
    let keys = keys();
    let key_refs: Vec<(&str, &str)> = keys.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let h = Harness::new(&seed(), &config(BEFORE, "keep"), &key_refs);
    h.set_faults(json!({ "rules": [
        { "endpoint": "querySiteContributors", "status": 503, "times": 2 }
    ] }));
    let out = run(&h, &["-v", "plan", "--site", "site00"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let log = stderr(&out);
    let retries: Vec<&str> = log.lines().filter(|l| l.contains("retrying")).collect();
    assert_eq!(retries.len(), 2, "{log}");
    for line in retries {
        assert!(
            line.contains("Query Site Contributors")
                && line.contains("site00")
                && line.contains("wait_ms")
                && line.contains("HTTP 503"),
            "{line}"
        );
    }
    h.set_faults(json!({ "rules": [
        { "endpoint": "querySiteContributors", "status": 503, "times": 2 }
    ] }));
    let out = run(&h, &["plan", "--site", "site00"], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(!stderr(&out).contains("retrying"), "{}", stderr(&out));
}
