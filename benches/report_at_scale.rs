//! Benchmark: `accessctl report` over a 10,000-site snapshot. The agency of
//! the engine benchmark (10,000 sites × 20 grants, drifted) is observed in
//! memory, saved as a snapshot file as `accessctl snapshot` saves it, then
//! timed as `report --observed` runs: load and restore the snapshot, build
//! the report (every principal on every site classified), render it as
//! Markdown (one comment), CSV and JSON.
//!
//! Then the policy rules (`policies:`, one rule of each kind) over the
//! same agency, timed apart: against the config (`validate`) and against
//! the observed state (`plan`, `report`).
//!
//! `cargo bench --bench report_at_scale`; `ACCESSCTL_BENCH_REPORT_SITES`
//! (10000).

mod common;

use std::path::Path;
use std::time::Instant;

use common::{env_or, machine, mib, ms, peak_rss, thousands};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

fn main() {
    let sites: usize = env_or("ACCESSCTL_BENCH_REPORT_SITES", 10_000);
    let (yaml, observed) = common::in_memory(&common::engine_shape(sites));
    let now = OffsetDateTime::parse(common::NOW, &Rfc3339).expect("NOW");
    let config = accessctl::config::load_str(Path::new("access.yaml"), yaml.as_bytes())
        .unwrap_or_else(|r| panic!("config invalid:\n{}", r.render()))
        .config;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("snapshot.json");
    let size = common::save_snapshot(&config, &observed, &file);
    drop(observed);

    println!("report — {}", machine());
    println!(
        "  {} sites, snapshot {}",
        thousands(sites as u64),
        mib(size)
    );

    let start = Instant::now();
    let snapshot = accessctl::snapshot::load(&file)
        .unwrap_or_else(|r| panic!("snapshot refused:\n{}", r.render()));
    let auth = accessctl::ledger::Auth::from_env().expect("no ledger key set");
    let restored = accessctl::snapshot::restore(snapshot, &config, &[], &auth, Default::default());
    let t_load = start.elapsed();

    let start = Instant::now();
    let report = accessctl::report::build(&config, &restored.observed, now, "bench".into());
    let t_build = start.elapsed();

    let start = Instant::now();
    let markdown = accessctl::report::render_comment(&report);
    let t_markdown = start.elapsed();
    let start = Instant::now();
    let csv = accessctl::report::render_csv(&report);
    let t_csv = start.elapsed();
    let start = Instant::now();
    let json = serde_json::to_string_pretty(&report).expect("JSON");
    let t_json = start.elapsed();

    println!("    load + restore   {}", ms(t_load));
    println!(
        "    build            {}   ({} rows)",
        ms(t_build),
        thousands(report.rows.len() as u64)
    );
    println!(
        "    render Markdown  {}   ({}, cut to one comment)",
        ms(t_markdown),
        mib(markdown.len() as u64)
    );
    println!(
        "    render CSV       {}   ({})",
        ms(t_csv),
        mib(csv.len() as u64)
    );
    println!(
        "    render JSON      {}   ({})",
        ms(t_json),
        mib(json.len() as u64)
    );
    println!(
        "    total            {}   peak memory {}",
        ms(t_load + t_build + t_markdown + t_csv + t_json),
        mib(peak_rss())
    );
    drop((report, markdown, csv, json));

    // The same agency under one rule of each kind.
    let with_rules = yaml
        + "\npolicies:\n  agency_domains: [agency.example]\n  rules:\n"
        + "    - forbid_outside: [Admin (Co-Owner)]\n"
        + "    - { outside_max_days: 90, severity: warn }\n"
        + "    - { agency_admins: { min: 1, max: 5 }, severity: warn }\n"
        + "    - { team_only: [Billing Manager], severity: warn }\n";
    let config = accessctl::config::load_str(Path::new("access.yaml"), with_rules.as_bytes())
        .unwrap_or_else(|r| panic!("config with rules invalid:\n{}", r.render()))
        .config;
    drop(with_rules);
    let start = Instant::now();
    let in_config = accessctl::policy::check_config(&config, now.date());
    let t_config = start.elapsed();
    let start = Instant::now();
    let live = accessctl::observe::policy::check_live(&config, &restored.observed, now.date());
    let t_live = start.elapsed();
    println!(
        "  policy rules (4): config {}   ({} violations), live {}   ({} violations)",
        ms(t_config),
        thousands(in_config.len() as u64),
        ms(t_live),
        thousands(live.len() as u64)
    );
}
