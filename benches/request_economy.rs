//! Benchmark 2, request economy: how many calls `plan` and `apply` send,
//! against the fewest that can do the job.
//!
//! Plan: the agency of `plan_at_scale` (same generator, same seed), no added
//! latency. Per site, accessctl may send one unfiltered Query Site
//! Contributors and, when the site has collaborators besides the owner, one
//! filtered query per role the site's account defines; plus one Get Roles
//! Info per account per run. The figures come from the emulator's request
//! log.
//!
//! Apply: the same agency with a scenario on every tenth site — three new
//! people invited by email with two distinct role sets, a client account's
//! role changed, a staff member's grant ended (`until` passed) and
//! `unmanaged: remove` — on top of the drift some sites already have. The
//! minimum is worked out from the desired and live state directly (one Bulk
//! Invite per distinct role set per site, one Change Role per changed
//! person, one Remove per removal), compared with the plan's own changes,
//! then with the writes the emulator received. A plan after the apply must
//! find nothing left to do.
//!
//! `cargo bench --bench request_economy`; `ACCESSCTL_BENCH_SITES` (1000).

mod common;

use std::collections::{BTreeMap, BTreeSet};

use accessctl::plan::{Action, Plan};
use common::harness::{self, Emulator, Stats};
use common::{Agency, ENDED, Grant, Principal, Shape, Writes, env_or, machine, secs, thousands};

fn main() {
    let sites: usize = env_or("ACCESSCTL_BENCH_SITES", 1000);
    let agency = Agency::generate(&Shape::agency(sites));
    let dir = tempfile::tempdir().expect("temp dir");
    let (config, env) = agency.write_config(dir.path());

    println!("request economy — {}", machine());
    println!("  {}", agency.summary());

    let emulator = Emulator::start(agency.seed());
    emulator.set_faults(serde_json::json!({
        "rateLimit": { "perMinute": 200, "scope": "site" }
    }));

    // ------------------------------------------------------------ plan
    emulator.clear();
    let run = harness::accessctl(&config, &emulator.base, &env, &["plan"]);
    assert_eq!(run.code, Some(0), "plan failed:\n{}", run.stderr);
    let stats = emulator.stats();
    let log = emulator.log();
    let mut queries_per_site: BTreeMap<String, u64> = BTreeMap::new();
    let mut roles_per_account: BTreeMap<String, u64> = BTreeMap::new();
    for e in &log {
        match e["endpoint"].as_str() {
            Some("querySiteContributors") => {
                *queries_per_site
                    .entry(e["siteId"].as_str().unwrap_or("?").to_string())
                    .or_default() += 1;
            }
            Some("getRolesInfo") => {
                *roles_per_account
                    .entry(e["accountId"].as_str().unwrap_or("?").to_string())
                    .or_default() += 1;
            }
            other => panic!("plan sent a {other:?} request"),
        }
    }
    let mut allowed_total = 0u64;
    let mut worst_ratio = 0.0f64;
    let mut over = 0usize;
    for site in &agency.sites {
        let allowed = if site.live.is_empty() {
            1
        } else {
            1 + agency.role_count(site.account) as u64
        };
        allowed_total += allowed;
        let sent = queries_per_site.get(&site.id).copied().unwrap_or(0);
        worst_ratio = worst_ratio.max(sent as f64 / allowed as f64);
        over += usize::from(sent > allowed);
    }
    let accounts = agency.accounts_used() as u64;
    let repeated_lookups = roles_per_account.values().filter(|n| **n > 1).count();
    allowed_total += accounts;
    let per_site = stats.total as f64 / sites as f64;
    println!();
    println!("  plan ({} wall, no added latency):", secs(run.wall));
    println!(
        "    requests         {} = {per_site:.2} per site (Query Site Contributors {}, Get Roles Info {})",
        thousands(stats.total),
        thousands(stats.queries),
        thousands(stats.roles)
    );
    println!(
        "    allowed          {} = Σ(1 + roles of the site's account) + 1 per account ({} accounts)",
        thousands(allowed_total),
        accounts
    );
    println!(
        "    ratio            {:.3} of the allowed   (target ≤ 1: {}); worst site {:.3}, sites over {over}; accounts looked up more than once {repeated_lookups}",
        stats.total as f64 / allowed_total as f64,
        common::verdict(stats.total <= allowed_total && over == 0 && repeated_lookups == 0),
        worst_ratio
    );

    let busiest = (0..agency.accounts.len())
        .map(|a| {
            let sites = agency.sites.iter().filter(|s| s.account == a).count() as u64;
            sites * (1 + agency.role_count(a) as u64) + 1
        })
        .max()
        .unwrap_or(0);
    // The client's limiter lets a key send 150 at once, then one for each
    // that leaves its 62-second window.
    let windows = busiest.saturating_sub(1) / 150;
    println!(
        "    wall time        the busiest API key needs {busiest} requests: {} of the client's 62-second windows \
         of 150, so the limiter holds it back {} s",
        windows + 1,
        windows * 62
    );

    // ----------------------------------------------------------- apply
    let mut scenario = agency.clone();
    for (i, site) in scenario.sites.iter_mut().enumerate() {
        if !i.is_multiple_of(10) {
            continue;
        }
        for (n, roles) in [
            (0, vec!["Blog Writer"]),
            (1, vec!["Blog Writer"]),
            (2, vec!["Website Designer", "Blog Editor"]),
        ] {
            site.grants.push(Grant {
                principal: Principal::Email(format!("new{n}-{i:06}@freelance.example")),
                roles: roles.into_iter().map(String::from).collect(),
                until: None,
            });
        }
        if let Some(g) = site
            .grants
            .iter_mut()
            .find(|g| matches!(g.principal, Principal::Account(_)))
        {
            g.roles = if g.roles == ["Billing Manager"] {
                vec!["Back Office Manager".into()]
            } else {
                vec!["Billing Manager".into()]
            };
        }
        if let Some(g) = site
            .grants
            .iter_mut()
            .rev()
            .find(|g| matches!(g.principal, Principal::Staff(_)))
        {
            g.until = Some(ENDED);
        }
        site.unmanaged = Some("remove");
    }
    let mut minimum = Writes::default();
    for site in &scenario.sites {
        minimum += scenario.minimum_writes(site);
    }
    let scenario_config = dir.path().join("scenario.yaml");
    let mut text = scenario.config_yaml();
    // Far more removals than the default safety caps allow, on purpose.
    text.push_str("\nsafety:\n  max_removals_per_site: 10\n  max_removals_total: 100000\n");
    std::fs::write(&scenario_config, text).expect("write scenario");

    let planned = harness::accessctl(
        &scenario_config,
        &emulator.base,
        &env,
        &["plan", "--format", "json"],
    );
    assert_eq!(planned.code, Some(0), "plan failed:\n{}", planned.stderr);
    let plan: Plan = serde_json::from_str(&planned.stdout).expect("plan JSON");
    let in_plan = writes_in_plan(&plan);

    emulator.clear();
    let applied = harness::accessctl(
        &scenario_config,
        &emulator.base,
        &env,
        &["apply", "--auto-approve"],
    );
    assert_eq!(
        applied.code,
        Some(0),
        "apply failed:\n{}",
        tail(&applied.stderr)
    );
    let sent: Stats = emulator.stats();
    let emails_sent: usize = emulator
        .log()
        .iter()
        .filter(|e| e["endpoint"] == "bulkInvite")
        .map(|e| e["requestBody"]["emails"].as_array().map_or(0, Vec::len))
        .sum();
    let again = harness::accessctl(
        &scenario_config,
        &emulator.base,
        &env,
        &["plan", "--detailed-exitcode"],
    );

    println!();
    println!(
        "  apply of the scenario ({} wall; {} of the {} sites changed):",
        secs(applied.wall),
        scenario.sites.len().div_ceil(10),
        sites
    );
    println!(
        "    {:<16} {:>8} {:>8} {:>8}",
        "", "minimum", "planned", "sent"
    );
    let rows = [
        (
            "Bulk Invite",
            minimum.bulk_invite,
            in_plan.bulk_invite,
            sent.bulk_invite,
        ),
        (
            "  (emails)",
            minimum.invited,
            in_plan.invited,
            emails_sent as u64,
        ),
        (
            "Change Role",
            minimum.change_role,
            in_plan.change_role,
            sent.change_role,
        ),
        ("Remove", minimum.remove, in_plan.remove, sent.remove),
        ("Revoke / Resend", 0, 0, sent.revoke + sent.resend),
    ];
    let mut writes_ok = true;
    for (name, min, planned, sent) in rows {
        writes_ok &= planned == min && sent == min as u64;
        println!("    {name:<16} {min:>8} {planned:>8} {sent:>8}");
    }
    let total_min = minimum.bulk_invite + minimum.change_role + minimum.remove;
    let total_sent = sent.bulk_invite + sent.change_role + sent.remove + sent.revoke + sent.resend;
    println!(
        "    writes           {total_sent} sent for a minimum of {total_min}: ratio {:.3}   (target 1: {})",
        total_sent as f64 / total_min.max(1) as f64,
        common::verdict(writes_ok)
    );
    println!(
        "    reads            {} (the apply's own plan: Get Roles Info {}, Query Site Contributors {})",
        thousands(sent.roles + sent.queries),
        sent.roles,
        sent.queries
    );
    println!(
        "    plan afterwards  exit {:?} ({})",
        again.code,
        if again.code == Some(0) {
            "nothing left to do"
        } else {
            "changes left — see the plan"
        }
    );
}

/// What the plan asks for, as writes: invites grouped per site by role
/// set (50 emails per Bulk Invite), one Change Role or Remove per change.
fn writes_in_plan(plan: &Plan) -> Writes {
    let mut w = Writes::default();
    for site in &plan.sites {
        let mut sets: BTreeMap<BTreeSet<String>, usize> = BTreeMap::new();
        for c in &site.changes {
            match c.action {
                Action::Invite => {
                    let ids = c.roles_after.iter().filter_map(|r| r.id.clone()).collect();
                    *sets.entry(ids).or_default() += 1;
                }
                Action::ChangeRole => w.change_role += 1,
                Action::Remove => w.remove += 1,
                _ => {}
            }
        }
        w.bulk_invite += sets.values().map(|n| n.div_ceil(50)).sum::<usize>();
        w.invited += sets.values().sum::<usize>();
    }
    w
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
