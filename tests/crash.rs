//! An apply killed part-way loses nothing: after SIGKILL at 20 varied points
//! (after each of the 16 write calls in turn, at start-up, and after 20, 50
//! and 75 calls of any kind), a normal apply converges, no email is invited twice for one
//! grant, and the ledger always parses. Invites whose outcome the kill made
//! unknown are surfaced by plan and settled the way a person would (checking
//! the site). Rounds run two at a time, each with its own emulator.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use accessctl::plan::Plan;
use common::{Harness, settle_unknown, stderr, stdout};

const SITES: usize = 4;

fn seed() -> String {
    let mut s = String::from("accounts:\n");
    for i in 0..SITES {
        s.push_str(&format!("  - {{ id: acc-{i}, api_keys: [key-{i}] }}\n"));
    }
    s.push_str("sites:\n");
    for i in 0..SITES {
        s.push_str(&format!(
            "  - id: site-{i}\n    account: acc-{i}\n    contributors:\n      - {{ account_id: acct-bob, roles: [Blog Editor] }}\n      - {{ account_id: acct-old, roles: [Website Designer] }}\n"
        ));
    }
    s
}

fn config() -> String {
    let mut s = String::from(
        "version: 1\npeople:\n  bob: { email: bob@agency.example, wix_account_id: acct-bob }\n",
    );
    for p in ["ann", "cat", "dee", "eve", "fay", "gil"] {
        s.push_str(&format!("  {p}: {{ email: {p}@agency.example }}\n"));
    }
    s.push_str("sites:\n");
    for i in 0..SITES {
        s.push_str(&format!(
            "  site{i}:\n    wix: {{ site_id: site-{i}, account_id: acc-{i}, api_key_env: KEY_{i} }}\n    unmanaged: remove\n    access:\n      - person: bob\n        role: Website Manager\n"
        ));
        for (j, p) in ["ann", "cat", "dee", "eve", "fay", "gil"]
            .iter()
            .enumerate()
        {
            let role = if j % 2 == 0 {
                "Blog Writer"
            } else {
                "Marketing Manager"
            };
            s.push_str(&format!("      - person: {p}\n        role: {role}\n"));
        }
    }
    s
}

fn keys() -> Vec<(String, String)> {
    (0..SITES)
        .map(|i| (format!("KEY_{i}"), format!("key-{i}")))
        .collect()
}

/// When an apply is killed.
#[derive(Debug, Clone, Copy)]
enum KillAfter {
    /// Once Wix has seen this many write calls (the kill then lands between
    /// calls or inside the next one).
    Writes(usize),
    /// Once Wix has seen this many calls of any kind (reads included).
    Requests(usize),
    /// This long after the start (before any call).
    Millis(u64),
}

/// Writes one full apply makes: per site two Bulk Invites (one per role
/// set), a role change and a removal.
const WRITES: usize = SITES * 4;

/// Kill an apply at `kill`, then run normal applies; returns whether the
/// kill interrupted the apply part-way through its invites.
fn round(round: usize, kill: KillAfter) -> bool {
    let keys = keys();
    let key_refs: Vec<(&str, &str)> = keys.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let h = Harness::new(&seed(), &config(), &key_refs);
    // Slow every Wix call a little so a kill can land inside a call.
    h.set_faults(serde_json::json!({ "rules": [ { "endpoint": "*", "latencyMs": 5 } ] }));

    let started = std::time::Instant::now();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("accessctl"))
        .current_dir(h.dir.path())
        .envs(h.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .args([
            "-c",
            &h.config_path().to_string_lossy(),
            "apply",
            "--auto-approve",
            "--parallelism",
            "2",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn apply");
    let deadline = started + Duration::from_secs(20);
    loop {
        let due = match kill {
            KillAfter::Writes(n) => h.log().iter().filter(|e| e["method"] != "GET").count() >= n,
            KillAfter::Requests(n) => h.log().len() >= n,
            KillAfter::Millis(ms) => started.elapsed() >= Duration::from_millis(ms),
        };
        let finished = child.try_wait().ok().flatten().is_some();
        if due || finished || std::time::Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
    let sent_before_kill = h.invited().len();
    eprintln!("round {round}: killed at {kill:?} with {sent_before_kill} invites sent");

    // The ledger parses (plan would fail otherwise) and a normal apply runs.
    let out = h.apply();
    let plan = h.plan();
    if plan
        .sites
        .iter()
        .any(|s| s.warnings.iter().any(|w| w.contains("unknown outcome")))
    {
        settle_unknown(&h, &plan);
        let out = h.apply();
        assert!(
            out.status.success(),
            "round {round}: {}\n{}",
            stdout(&out),
            stderr(&out)
        );
    } else {
        assert!(
            out.status.success(),
            "round {round}: {}\n{}",
            stdout(&out),
            stderr(&out)
        );
    }

    let plan: Plan = h.plan();
    assert_eq!(
        plan.change_count(),
        0,
        "round {round}: not converged: {plan:#?}"
    );
    let invited = h.invited();
    let unique: BTreeSet<_> = invited.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        invited.len(),
        "round {round}: duplicate invite: {invited:?}"
    );
    // Every desired invitee was invited exactly once per site.
    assert_eq!(unique.len(), SITES * 6, "round {round}: {unique:?}");
    for site in &plan.sites {
        assert_eq!(
            site.pending.len(),
            6,
            "round {round}: {}: {:?}",
            site.site,
            site.pending
        );
    }
    sent_before_kill > 0 && sent_before_kill < SITES * 6
}

#[test]
fn killed_applies_converge_without_duplicate_invites() {
    let kills: Vec<KillAfter> = (1..=WRITES)
        .map(KillAfter::Writes)
        .chain([
            KillAfter::Millis(5),
            KillAfter::Requests(20),
            KillAfter::Requests(50),
            KillAfter::Requests(75),
        ])
        .collect();
    assert_eq!(kills.len(), 20);
    // Two rounds at a time: each has its own emulator and directory.
    let partial_rounds = std::thread::scope(|scope| {
        let (even, odd): (Vec<_>, Vec<_>) = kills
            .iter()
            .copied()
            .enumerate()
            .partition(|(i, _)| i % 2 == 0);
        let workers: Vec<_> = [even, odd]
            .into_iter()
            .map(|rounds| {
                scope.spawn(move || {
                    rounds
                        .into_iter()
                        .filter(|(i, kill)| round(*i, *kill))
                        .count()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("rounds pass"))
            .sum::<usize>()
    });
    // The kill points must really interrupt apply part-way, or this test
    // proves nothing.
    assert!(
        partial_rounds >= 6,
        "only {partial_rounds} rounds were killed mid-apply"
    );
}
