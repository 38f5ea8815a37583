//! Benchmark: the plan of a pull request. The agency of `plan_at_scale`
//! (1,000 sites) with one site's block changed (a new grant) against the
//! config on the base branch: `accessctl plan --changed-from base.yaml
//! --format markdown`, the whole release process as the pull-request
//! workflow runs it, against the Wix emulator with 50 ms added to every
//! call and its limit of 200 requests per minute per API key. Prints the
//! wall time (median of five runs) against the target of 2 s, and the full
//! plan of the same config (one run) for comparison.
//!
//! `cargo bench --bench pr_plan`. Knobs (environment):
//! `ACCESSCTL_BENCH_SITES` (1000), `ACCESSCTL_BENCH_LATENCY_MS` (50).

mod common;

use std::time::Duration;

use common::harness::{self, Emulator};
use common::{Agency, Grant, Principal, Shape, env_or, machine, secs, thousands, verdict};

/// Target from issue 17.
const MAX_WALL: Duration = Duration::from_secs(2);
const RUNS: usize = 5;

fn main() {
    let sites: usize = env_or("ACCESSCTL_BENCH_SITES", 1000);
    let latency_ms: u64 = env_or("ACCESSCTL_BENCH_LATENCY_MS", 50);

    let base = Agency::generate(&Shape::agency(sites));
    // The pull request: one more grant on the site in the middle.
    let mut head = base.clone();
    let changed = sites / 2;
    head.sites[changed].grants.push(Grant {
        principal: Principal::Email("new-freelancer@freelance.example".into()),
        roles: vec!["Blog Writer".into()],
        until: None,
    });
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("base.yaml"), base.config_yaml()).expect("write base");
    let (config, env) = head.write_config(dir.path());
    let base_path = dir.path().join("base.yaml");
    let base_arg = base_path.to_str().expect("utf-8 temp path");

    println!("pull-request plan — {}", machine());
    println!("  {}", base.summary());
    println!(
        "  the pull request adds a grant to site {}; emulator latency {latency_ms} ms on every Wix call, 200 requests/min per key",
        head.sites[changed].key
    );

    let emulator = Emulator::start(base.seed());
    emulator.set_wix(latency_ms, 200, "key");

    let args = ["plan", "--changed-from", base_arg, "--format", "markdown"];
    let mut times = Vec::new();
    let mut requests = 0;
    for _ in 0..RUNS {
        emulator.clear();
        let run = harness::accessctl(&config, &emulator.base, &env, &args);
        assert_eq!(run.code, Some(0), "plan failed:\n{}", run.stderr);
        let skipped = format!("Skipped {} sites unchanged from the base config", sites - 1);
        assert!(
            run.stdout.contains(&skipped),
            "the plan does not skip the unchanged sites:\n{}",
            run.stdout
        );
        assert!(
            run.stdout.contains(&head.sites[changed].key),
            "the plan does not show the changed site:\n{}",
            run.stdout
        );
        requests = emulator.stats().total;
        times.push(run.wall);
    }
    times.sort();
    let median = times[RUNS / 2];

    emulator.clear();
    let full = harness::accessctl(
        &config,
        &emulator.base,
        &env,
        &["plan", "--format", "markdown"],
    );
    assert_eq!(full.code, Some(0), "full plan failed:\n{}", full.stderr);
    let full_requests = emulator.stats().total;

    println!();
    println!(
        "    plan --changed-from   {}   median of {RUNS} (min {}, max {}); {} requests = {:.3} × the 2 s target: {}",
        secs(median),
        secs(times[0]),
        secs(times[RUNS - 1]),
        requests,
        median.as_secs_f64() / MAX_WALL.as_secs_f64(),
        verdict(median < MAX_WALL)
    );
    println!(
        "    full plan             {}   one run; {} requests",
        secs(full.wall),
        thousands(full_requests)
    );
    println!(
        "    ratio                 the pull-request plan takes {:.3} × the full plan's time",
        median.as_secs_f64() / full.wall.as_secs_f64()
    );
}
