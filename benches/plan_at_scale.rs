//! Benchmark 1, plan at scale: `accessctl plan` with its default settings
//! against the Wix emulator seeded with an agency of N client sites (about
//! ten collaborators each) and an added latency L on every Wix call, under
//! the emulator's rate limit of 200 requests per minute per site, then per
//! API key. Prints the wall time, the requests sent, the 429s received, the
//! concurrency the client used, and the ratio to the bound
//! `ceil(requests ÷ concurrency) × L`: the time the same requests take with
//! that many always in flight and no time spent anywhere but waiting for
//! Wix.
//!
//! `cargo bench --bench plan_at_scale`. Knobs (environment):
//! `ACCESSCTL_BENCH_SITES` (1000), `ACCESSCTL_BENCH_LATENCY_MS` (50),
//! `ACCESSCTL_BENCH_WIX_LIMIT` (200 per minute), `ACCESSCTL_BENCH_SCOPES`
//! (`site,key`), `ACCESSCTL_BENCH_ARGS` (extra plan arguments, e.g.
//! `--parallelism 16`; the targets are for the defaults).

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::harness::{self, Emulator};
use common::{Agency, Shape, env_or, machine, secs, thousands, verdict};

/// Targets from issue 7.
const MAX_WALL: Duration = Duration::from_secs(30);
const MAX_RATIO: f64 = 1.2;

fn main() {
    let sites: usize = env_or("ACCESSCTL_BENCH_SITES", 1000);
    let latency_ms: u64 = env_or("ACCESSCTL_BENCH_LATENCY_MS", 50);
    let per_minute: u32 = env_or("ACCESSCTL_BENCH_WIX_LIMIT", 200);
    let scopes = std::env::var("ACCESSCTL_BENCH_SCOPES").unwrap_or_else(|_| "site,key".into());
    let extra = harness::extra_args();
    let latency = Duration::from_millis(latency_ms);

    let agency = Agency::generate(&Shape::agency(sites));
    let dir = tempfile::tempdir().expect("temp dir");
    let (config, env) = agency.write_config(dir.path());

    println!("plan at scale — {}", machine());
    println!("  {}", agency.summary());
    let validate = harness::accessctl(&config, "http://127.0.0.1:9", &env, &["validate"]);
    assert_eq!(validate.code, Some(0), "validate: {}", validate.stderr);
    println!(
        "  accessctl validate on this config: {}",
        secs(validate.wall)
    );
    println!(
        "  accessctl plan {}(defaults otherwise); emulator latency {latency_ms} ms on every Wix call",
        if extra.is_empty() {
            String::new()
        } else {
            format!("{} ", extra.join(" "))
        }
    );

    let emulator = Emulator::start(agency.seed());
    let mut args: Vec<&str> = vec!["plan"];
    args.extend(extra.iter().map(String::as_str));
    let mut missed = false;
    for scope in scopes.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        emulator.clear();
        emulator.set_wix(latency_ms, per_minute, scope);
        let cpu_before = common::cpu_times();
        let run = harness::accessctl(&config, &emulator.base, &env, &args);
        let cpu_after = common::cpu_times();
        let stats = emulator.stats();
        let used = emulator.gauge.read();
        let log = emulator.log();
        assert!(
            run.code == Some(0),
            "plan failed ({:?}):\n{}",
            run.code,
            tail(&run.stderr)
        );

        // Requests per API key: what the client's limiter and a per-key
        // server limit see.
        let account_of_site: BTreeMap<&str, usize> = agency
            .sites
            .iter()
            .map(|s| (s.id.as_str(), s.account))
            .collect();
        let account_index: BTreeMap<&str, usize> = agency
            .accounts
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.as_str(), i))
            .collect();
        let mut per_key: BTreeMap<usize, u64> = BTreeMap::new();
        for e in &log {
            let account = e["siteId"]
                .as_str()
                .and_then(|s| account_of_site.get(s))
                .or_else(|| e["accountId"].as_str().and_then(|a| account_index.get(a)));
            if let Some(a) = account {
                *per_key.entry(*a).or_default() += 1;
            }
        }
        let busiest_key = per_key.values().copied().max().unwrap_or(0);

        let concurrency = used.peak.max(1) as u64;
        let bound = latency * stats.total.div_ceil(concurrency) as u32;
        let ratio = run.wall.as_secs_f64() / bound.as_secs_f64().max(1e-9);
        let wall_ok = run.wall < MAX_WALL;
        let ratio_ok = ratio <= MAX_RATIO;
        let throttled_ok = stats.rate_limited == 0;
        missed |= !(wall_ok && ratio_ok && throttled_ok);

        println!();
        println!("  emulator limit {per_minute}/min per {scope}:");
        println!(
            "    wall time        {}   (target < {} s: {})",
            secs(run.wall),
            MAX_WALL.as_secs(),
            verdict(wall_ok)
        );
        println!(
            "    requests sent    {}   (Get Roles Info {}, Query Site Contributors {}; busiest key {})",
            thousands(stats.total),
            thousands(stats.roles),
            thousands(stats.queries),
            busiest_key
        );
        println!(
            "    429s received    {}   (target 0: {})",
            stats.rate_limited,
            verdict(throttled_ok)
        );
        println!(
            "    concurrency      {} requests in flight at most, {:.1} on average",
            used.peak, used.mean
        );
        println!(
            "    bound            ceil({} / {}) × {} ms = {}",
            stats.total,
            concurrency,
            latency_ms,
            secs(bound)
        );
        println!(
            "    ratio            {ratio:.3} × bound   (target ≤ {MAX_RATIO}: {})",
            verdict(ratio_ok)
        );
        println!(
            "    CPU              accessctl {:.2} s, emulator {:.2} s (of {:.2} s available on {} cores)",
            cpu_after.1 - cpu_before.1,
            cpu_after.0 - cpu_before.0,
            run.wall.as_secs_f64() * common::cores() as f64,
            common::cores()
        );
        println!(
            "    plan             {} lines of output",
            thousands(run.stdout.lines().count() as u64)
        );
    }
    if missed {
        println!("\n  some targets were missed (see above)");
    }
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
