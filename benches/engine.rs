//! Benchmark 3, the engine: validate + diff + render (text and JSON) for
//! 10,000 sites × 20 grants, from observed state held in memory — no
//! network, no ledger files. Prints the time of each step and the peak
//! memory of the process (VmHWM), against the targets of 1 s and 200 MB.
//! Then the same through the whole release process, as a user runs it:
//! the agency saved as a snapshot, `accessctl plan --observed SNAPSHOT`,
//! its wall time and peak memory against the same targets. Then times
//! `accessctl validate` on `examples/agency.yaml` (the whole process)
//! against its target of 20 ms.
//!
//! `cargo bench --bench engine`; `ACCESSCTL_BENCH_ENGINE_SITES` (10000);
//! `ACCESSCTL_BENCH_ENGINE_KEEP=DIR` keeps the config and the snapshot in
//! `DIR` (created), to profile `plan --observed` on its own.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use accessctl::plan::safety::Overrides;
use accessctl::render::{TextOptions, write_json, write_text};
use common::{env_or, machine, mib, ms, peak_rss, reset_peak_rss, rss, thousands, verdict};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Counts the bytes written to it.
struct Counting(u64);

impl std::io::Write for Counting {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const MAX_TIME: Duration = Duration::from_secs(1);
const MAX_PEAK: u64 = 200 * 1000 * 1000;
const MAX_VALIDATE: Duration = Duration::from_millis(20);

fn main() {
    let sites: usize = env_or("ACCESSCTL_BENCH_ENGINE_SITES", 10_000);
    // Sites are made one at a time straight into the two inputs: the
    // config text and the observed state.
    let (yaml, observed) = common::in_memory(&common::engine_shape(sites));
    let now = OffsetDateTime::parse(common::NOW, &Rfc3339).expect("NOW");
    let grants: usize = yaml.matches("\n      - ").count();
    // The same config as a file, for the whole-process run at the end.
    let dir = tempfile::tempdir().expect("temp dir");
    let config_file = dir.path().join("access.yaml");
    std::fs::write(&config_file, &yaml).expect("write the config");
    let inputs_rss = rss();
    reset_peak_rss();

    println!("engine — {}", machine());
    println!(
        "  {} sites × {} grants ({} grants, config {}), observed state in memory",
        thousands(sites as u64),
        grants / sites.max(1),
        thousands(grants as u64),
        mib(yaml.len() as u64)
    );

    let start = Instant::now();
    let loaded = accessctl::config::load_str(Path::new("access.yaml"), yaml.as_bytes())
        .unwrap_or_else(|r| panic!("config invalid:\n{}", r.render()));
    let t_validate = start.elapsed();
    let (peak_validate, rss_validate) = (peak_rss(), rss());
    // `plan` keeps no copy of the text once the config is loaded, nor the
    // warnings' copy once they are printed.
    let accessctl::config::Loaded { config, warnings } = loaded;
    drop(warnings);
    drop(yaml);

    // The same path `plan` takes once every site is read: `plan_site` per
    // site, each site's reading freed once it is planned, then the safety
    // checks over the whole plan.
    let start = Instant::now();
    let plan = accessctl::observe::build_plan_consuming(
        &config,
        observed,
        now,
        &accessctl::ledger::guards::Recorded::None,
        Overrides::default(),
    );
    let t_diff = start.elapsed();
    let (peak_diff, rss_diff) = (peak_rss(), rss());

    // As `plan` prints text and JSON: streamed, never held whole.
    let start = Instant::now();
    let mut text = Counting(0);
    write_text(&plan, &TextOptions { color: false }, &mut text).expect("text");
    let t_text = start.elapsed();

    let start = Instant::now();
    let mut json = Counting(0);
    write_json(&plan, &mut json).expect("JSON");
    let t_json = start.elapsed();

    let total = t_validate + t_diff + t_text + t_json;
    let peak = peak_rss();
    let changes: usize = plan.sites.iter().map(|s| s.changes.len()).sum();

    println!(
        "    validate         {}   (peak {}, resident after {})",
        ms(t_validate),
        mib(peak_validate),
        mib(rss_validate)
    );
    println!(
        "    diff             {}   ({} changes; peak {}, resident after {})",
        ms(t_diff),
        thousands(changes as u64),
        mib(peak_diff),
        mib(rss_diff)
    );
    println!("    render text      {}   ({})", ms(t_text), mib(text.0));
    println!("    render JSON      {}   ({})", ms(t_json), mib(json.0));
    println!(
        "    total            {}   = {:.3} × the 1 s target: {}",
        ms(total),
        total.as_secs_f64() / MAX_TIME.as_secs_f64(),
        verdict(total < MAX_TIME)
    );
    println!(
        "    peak memory      {}   = {:.3} × the 200 MB target: {}   (of which the inputs, resident before: {})",
        mib(peak),
        peak as f64 / MAX_PEAK as f64,
        verdict(peak < MAX_PEAK),
        mib(inputs_rss)
    );
    drop((text, json, plan));

    // The same, as a user runs it: `accessctl plan --observed SNAPSHOT`, the
    // whole release process (load the config, load and restore the
    // snapshot, plan, print the text plan to a pipe); median of three.
    let snapshot_file = dir.path().join("snapshot.json");
    // The same observed state again (the plan consumed the first).
    let (_, observed) = common::in_memory(&common::engine_shape(sites));
    let size = common::save_snapshot(&config, &observed, &snapshot_file);
    drop((config, observed));
    let snapshot_arg = snapshot_file.to_str().expect("utf-8 temp path");
    if let Ok(keep) = std::env::var("ACCESSCTL_BENCH_ENGINE_KEEP") {
        let keep = Path::new(&keep);
        std::fs::create_dir_all(keep).expect("create the keep directory");
        std::fs::copy(&config_file, keep.join("access.yaml")).expect("keep the config");
        std::fs::copy(&snapshot_file, keep.join("snapshot.json")).expect("keep the snapshot");
    }
    let mut runs: Vec<(Duration, u64)> = (0..3)
        .map(|_| {
            let (run, peak) = common::harness::spawn(
                &config_file,
                "http://127.0.0.1:9",
                &[],
                &["plan", "--observed", snapshot_arg],
            )
            .wait();
            assert!(
                matches!(run.code, Some(0 | 3)),
                "plan --observed failed ({:?}):\n{}",
                run.code,
                run.stderr
            );
            (run.wall, peak)
        })
        .collect();
    runs.sort();
    let (wall, _) = runs[1];
    let peak = runs.iter().map(|r| r.1).max().unwrap_or(0);
    println!();
    println!(
        "  accessctl plan --observed SNAPSHOT ({}), the whole process, median of 3 (min {}, max {}):",
        mib(size),
        ms(runs[0].0),
        ms(runs[2].0)
    );
    println!(
        "    total            {}   = {:.3} × the 1 s target: {}",
        ms(wall),
        wall.as_secs_f64() / MAX_TIME.as_secs_f64(),
        verdict(wall < MAX_TIME)
    );
    println!(
        "    peak memory      {}   = {:.3} × the 200 MB target: {}   (VmHWM of the process, sampled every ms)",
        mib(peak),
        peak as f64 / MAX_PEAK as f64,
        verdict(peak < MAX_PEAK)
    );

    // `accessctl validate` on the example, as a process: the median of 25.
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/agency.yaml");
    let mut times: Vec<Duration> = (0..28)
        .map(|_| {
            let run =
                common::harness::accessctl(&example, "http://127.0.0.1:9", &[], &["validate"]);
            assert_eq!(run.code, Some(0), "validate: {}", run.stderr);
            run.wall
        })
        .skip(3)
        .collect();
    times.sort();
    let median = times[times.len() / 2];
    println!();
    println!(
        "  accessctl validate examples/agency.yaml: median {} (min {}, max {}) of {} runs = {:.3} × the 20 ms target: {}",
        ms(median),
        ms(times[0]),
        ms(times[times.len() - 1]),
        times.len(),
        median.as_secs_f64() / MAX_VALIDATE.as_secs_f64(),
        verdict(median < MAX_VALIDATE)
    );
}
