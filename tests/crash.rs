//! An apply killed part-way loses nothing: after SIGKILL at varied points, a
//! normal apply converges, no email is invited twice for one grant, and the
//! ledger always parses. Invites whose outcome the kill made unknown are
//! surfaced by plan and settled the way a person would (checking the site).

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use accessctl::plan::Plan;
use common::{Harness, stderr, stdout};

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

/// Settle every invite the plan reports as unknown, by looking at the site
/// as a person would, then apply again.
fn settle_unknown(h: &Harness, plan: &Plan) {
    let state = h.get("/_emulator/state");
    for site in &plan.sites {
        for warning in site
            .warnings
            .iter()
            .filter(|w| w.contains("unknown outcome"))
        {
            let email = warning
                .split_whitespace()
                .find(|w| w.contains('@'))
                .expect("warning names the email")
                .to_string();
            let site_id = &site.site_id;
            let exists = state["sites"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|s| s["id"] == site_id.as_str())
                .flat_map(|s| s["invites"].as_array().into_iter().flatten())
                .any(|i| i["email"] == email.as_str() && i["status"] == "Pending");
            let verdict = if exists { "sent" } else { "not-sent" };
            let out = h
                .cmd(&["invite-status", &site.site, &email, verdict])
                .output()
                .expect("runs");
            assert!(out.status.success(), "{}", stderr(&out));
        }
    }
}

#[test]
fn killed_applies_converge_without_duplicate_invites() {
    let keys = keys();
    let key_refs: Vec<(&str, &str)> = keys.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut partial_rounds = 0;
    // Kill points: after the k-th write call Wix has answered, for k = 1..8,
    // so the kill lands between calls or inside the next one.
    for round in 0..8usize {
        let h = Harness::new(&seed(), &config(), &key_refs);
        // Slow every Wix call a little so a kill can land inside a call.
        let (status, body) = h.send(
            reqwest::Method::PUT,
            "/_emulator/faults",
            serde_json::json!({ "rules": [ { "endpoint": "*", "latencyMs": 5 } ] }),
        );
        assert_eq!(status, 200, "faults control: {body}");

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
        let writes_before_kill = round + 1;
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let writes = h.log().iter().filter(|e| e["method"] != "GET").count();
            let finished = child.try_wait().ok().flatten().is_some();
            if writes >= writes_before_kill || finished || std::time::Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let sent_before_kill = h.invited().len();
        if sent_before_kill > 0 && sent_before_kill < SITES * 6 {
            partial_rounds += 1;
        }
        eprintln!(
            "round {round}: killed after {writes_before_kill} writes with {sent_before_kill} invites sent"
        );

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

        let plan = h.plan();
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
    }
    // The kill points must really interrupt apply part-way, or this test
    // proves nothing.
    assert!(
        partial_rounds >= 2,
        "only {partial_rounds} rounds were killed mid-apply"
    );
}
