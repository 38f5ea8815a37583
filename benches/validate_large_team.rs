//! Benchmark 4, bounded work in `validate` (hole 10): `accessctl validate`
//! run as a user runs it (the whole release process) on configs that are
//! large in one direction —
//!
//! - one team of 100,000 members (and one member listed twice), granted on
//!   one site: the case that took 20 s when duplicate members were found by
//!   scanning the members so far;
//! - one site with 100,000 individual grants;
//! - one team of 1,000 members granted on each of 1,000 sites (1,000,000
//!   grants once teams are expanded).
//!
//! Prints the median wall time of three runs of each, and the time per
//! member or grant, so a quadratic step shows as a figure that grows with
//! the size. `cargo bench --bench validate_large_team`;
//! `ACCESSCTL_BENCH_TEAM` (100000) sets the large sizes.

mod common;

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use common::harness::accessctl;
use common::{machine, ms, thousands};

fn people(y: &mut String, n: usize) {
    y.push_str("version: 2\npeople:\n");
    for i in 0..n {
        let _ = writeln!(y, "  p{i}: {{ email: p{i}@agency.example }}");
    }
}

fn site_head(y: &mut String, i: usize) {
    let _ = writeln!(
        y,
        "  site{i}:\n    wix: {{ site_id: site-{i}, account_id: acc-{i}, api_key_env: KEY_{i} }}\n    access:"
    );
}

/// A team of `n` members (the eighth one listed twice) on one site.
fn large_team(n: usize) -> String {
    let mut y = String::new();
    people(&mut y, n);
    y.push_str("teams:\n  staff:\n");
    for i in 0..n {
        let _ = writeln!(y, "    - p{i}");
    }
    y.push_str("    - p7\nsites:\n");
    site_head(&mut y, 0);
    y.push_str("      - { team: staff, role: Website Manager }\n");
    y
}

/// One site granting each of `n` people.
fn large_site(n: usize) -> String {
    let mut y = String::new();
    people(&mut y, n);
    y.push_str("sites:\n");
    site_head(&mut y, 0);
    for i in 0..n {
        let _ = writeln!(y, "      - {{ person: p{i}, role: Website Manager }}");
    }
    y
}

/// A team of `members` granted on each of `sites` sites.
fn shared_team(members: usize, sites: usize) -> String {
    let mut y = String::new();
    people(&mut y, members);
    y.push_str("teams:\n  staff:\n");
    for i in 0..members {
        let _ = writeln!(y, "    - p{i}");
    }
    y.push_str("sites:\n");
    for s in 0..sites {
        site_head(&mut y, s);
        y.push_str("      - { team: staff, role: Website Manager }\n");
    }
    y
}

/// The median wall time of three runs of `accessctl validate`.
fn time_validate(dir: &Path, name: &str, yaml: &str) -> Duration {
    let path = dir.join(name);
    std::fs::write(&path, yaml).expect("write config");
    let mut times: Vec<Duration> = (0..3)
        .map(|_| {
            let run = accessctl(&path, "http://127.0.0.1:9", &[], &["validate"]);
            assert_eq!(run.code, Some(0), "validate {name}: {}", run.stderr);
            run.wall
        })
        .collect();
    times.sort();
    times[1]
}

fn main() {
    let n: usize = common::env_or("ACCESSCTL_BENCH_TEAM", 100_000);
    let dir = tempfile::tempdir().expect("tempdir");
    println!("validate at scale, on {}", machine());
    let cases = [
        (
            format!("one team of {} members, one site", thousands(n as u64)),
            large_team(n),
            n,
        ),
        (
            format!("one site with {} grants", thousands(n as u64)),
            large_site(n),
            n,
        ),
        (
            "a team of 1,000 members on 1,000 sites".to_string(),
            shared_team(1_000, 1_000),
            1_000_000,
        ),
    ];
    for (i, (what, yaml, grants)) in cases.iter().enumerate() {
        let t = time_validate(dir.path(), &format!("case{i}.yaml"), yaml);
        println!(
            "  {what:<45} {:>10}   ({:.2} µs per grant, {:.1} MiB of YAML)",
            ms(t),
            t.as_secs_f64() * 1e6 / *grants as f64,
            yaml.len() as f64 / (1024.0 * 1024.0)
        );
    }
}
