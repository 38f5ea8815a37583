//! An unreachable Wix API fails a run fast: a bounded number of attempts,
//! then every site fails with the URL and the cause, and the message says
//! how to point at the emulator instead.

mod common;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// `plan` of many sites against a closed port ends in about one call's
/// backoff (the default policy: five attempts, 0.5 s doubling with jitter),
/// not a backoff per site.
#[test]
fn plan_against_a_closed_port_fails_fast_with_the_url() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config =
        String::from("version: 2\npeople:\n  alice: { email: alice@agency.example }\nsites:\n");
    const SITES: usize = 300;
    for i in 0..SITES {
        // Each site its own account: nothing is shared through the role cache.
        let _ = write!(
            config,
            "  s{i}:\n    wix: {{ site_id: site-{i}, account_id: acc-{i}, api_key_env: KEY }}\n    access:\n      - {{ person: alice, role: Website Manager }}\n"
        );
    }
    std::fs::write(dir.path().join("access.yaml"), config).expect("write");
    let base = format!("http://127.0.0.1:{}", closed_port());
    let started = Instant::now();
    let out = common::accessctl()
        .current_dir(dir.path())
        .env("KEY", "some-key")
        .env("ACCESSCTL_WIX_API_BASE", &base)
        .env("NO_COLOR", "1")
        .env_remove("ACCESSCTL_RETRY_BASE_MS")
        .args(["-c", "access.yaml", "plan", "--timeout", "5"])
        .timeout(Duration::from_secs(120))
        .output()
        .expect("runs");
    let took = started.elapsed();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("plan of {SITES} sites against a closed port took {took:?}");
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        took < Duration::from_secs(40),
        "took {took:?}; the backoff alone is at most 15 s"
    );
    let expected = format!("could not connect to the Wix API at {base}: ");
    assert!(text.contains(&expected), "{text}");
    assert!(text.contains("Connection refused"), "{text}");
    assert!(text.contains("accessctl emulator --seed"), "{text}");
    assert!(
        text.matches(&expected).count() >= SITES,
        "every site fails with the cause"
    );
}
