//! Benchmark: how `plan` grows with the agency. The agency of
//! `plan_at_scale` at 1,000 and at 10,000 sites, `accessctl plan` (the whole
//! release process, text output) against the Wix emulator with no added
//! latency and no rate limit, so the time is accessctl's and the
//! emulator's own work. Prints each size's wall time (median of three runs)
//! and the peak resident memory of the plan process (its `VmHWM`, sampled
//! every millisecond while it runs), against the targets of issue 17: the
//! 10,000-site plan within 11 × the 1,000-site plan's time, and under
//! 200 MB.
//!
//! `cargo bench --bench plan_growth`. Knobs (environment):
//! `ACCESSCTL_BENCH_SMALL` (1000), `ACCESSCTL_BENCH_LARGE` (10000).

mod common;

use std::time::Duration;

use common::harness::{self, Emulator};
use common::{Agency, Shape, env_or, machine, mib, secs, thousands, verdict};

/// Targets from issue 17.
const MAX_GROWTH: f64 = 11.0;
const MAX_PEAK: u64 = 200 * 1000 * 1000;
const RUNS: usize = 3;

/// One size: the median wall time, the fastest and slowest, the largest
/// peak memory, and the requests of one run.
struct Measured {
    median: Duration,
    min: Duration,
    max: Duration,
    peak: u64,
    requests: u64,
}

fn measure(sites: usize) -> Measured {
    let agency = Agency::generate(&Shape::agency(sites));
    let dir = tempfile::tempdir().expect("temp dir");
    let (config, env) = agency.write_config(dir.path());
    let emulator = Emulator::start(agency.seed());
    drop(agency);
    let mut times = Vec::new();
    let mut peak = 0;
    let mut requests = 0;
    for _ in 0..RUNS {
        emulator.clear();
        let (run, p) = harness::spawn(&config, &emulator.base, &env, &["plan"]).wait();
        assert_eq!(run.code, Some(0), "plan failed:\n{}", run.stderr);
        let stats = emulator.stats();
        assert_eq!(stats.rate_limited, 0, "no limit was set");
        requests = stats.total;
        times.push(run.wall);
        peak = peak.max(p);
    }
    times.sort();
    Measured {
        median: times[RUNS / 2],
        min: times[0],
        max: times[RUNS - 1],
        peak,
        requests,
    }
}

fn main() {
    let small: usize = env_or("ACCESSCTL_BENCH_SMALL", 1000);
    let large: usize = env_or("ACCESSCTL_BENCH_LARGE", 10_000);

    println!("plan growth — {}", machine());
    println!(
        "  accessctl plan (text), the agency of plan_at_scale, no added latency, no rate limit; median of {RUNS} runs"
    );
    let s = measure(small);
    let l = measure(large);
    for (sites, m) in [(small, &s), (large, &l)] {
        println!(
            "    {:>6} sites   {}   (min {}, max {}); {} requests; peak memory {}",
            thousands(sites as u64),
            secs(m.median),
            secs(m.min),
            secs(m.max),
            thousands(m.requests),
            mib(m.peak)
        );
    }
    let growth = l.median.as_secs_f64() / s.median.as_secs_f64();
    let size = large as f64 / small as f64;
    println!(
        "    time growth      {growth:.2} × for {size:.0} × the sites = {:.3} × the {MAX_GROWTH} × target: {}",
        growth / MAX_GROWTH,
        verdict(growth <= MAX_GROWTH)
    );
    println!(
        "    peak memory      {} at {} sites = {:.3} × the 200 MB target: {}",
        mib(l.peak),
        thousands(large as u64),
        l.peak as f64 / MAX_PEAK as f64,
        verdict(l.peak < MAX_PEAK)
    );
}
