//! The emulator at the scale of a large agency: a YAML seed of 10,000 sites
//! with 20 contributors each loads (under the seed's size limits, see
//! `emulator::seed::MAX_SEED_NODES`), and requests against it answer as at
//! any size. Expiry is swept per site, lazily; the views of every site
//! still show it.

use std::fmt::Write as _;
use std::time::Instant;

use accessctl::emulator::{self, RunningEmulator};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

const ACCOUNT: &str = "91f0c2d4-0000-4000-8000-000000000001";
const KEY: &str = "emu-key-scale";
const SITES: usize = 10_000;
const CONTRIBUTORS: usize = 20;

/// Roles given by title, as a hand-written seed would.
const ROLES: [&str; 4] = [
    "Website Manager",
    "Blog Editor",
    "Blog Writer",
    "Back Office Manager",
];

fn site_id(i: usize) -> String {
    format!("0d6b9a7e-0000-4000-8000-{i:012}")
}

fn account_id(site: usize, k: usize) -> String {
    format!("acct-{site:05}-{k:02}")
}

/// `sites` × `contributors` in the documented format, with the clock frozen.
fn seed_yaml(sites: usize, contributors: usize) -> String {
    let mut y = String::with_capacity(sites * contributors * 70);
    y.push_str("clock: \"2025-01-01T00:00:00Z\"\n");
    let _ = writeln!(
        y,
        "accounts:\n  - id: {ACCOUNT}\n    api_keys: [ \"{KEY}\" ]\nsites:"
    );
    for i in 0..sites {
        let _ = writeln!(
            y,
            "  - id: {}\n    account: {ACCOUNT}\n    seat_limit: {}\n    contributors:",
            site_id(i),
            contributors + 5
        );
        for k in 0..contributors {
            let _ = writeln!(
                y,
                "      - {{ account_id: \"{}\", roles: [\"{}\"] }}",
                account_id(i, k),
                ROLES[(i + k) % ROLES.len()]
            );
        }
    }
    y
}

async fn start(yaml: &str) -> RunningEmulator {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let t = Instant::now();
    let seed = emulator::parse_seed(yaml).expect("the large seed parses");
    eprintln!("parse_seed: {:?}", t.elapsed());
    let t = Instant::now();
    let emu = emulator::spawn(seed, "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("emulator starts");
    eprintln!("spawn (builds the state): {:?}", t.elapsed());
    emu
}

async fn contributors(http: &Client, base: &str, site: &str) -> Vec<String> {
    let resp = http
        .get(format!("{base}/roles-management/v2/contributors/query"))
        .header("Authorization", KEY)
        .header("wix-site-id", site)
        .send()
        .await
        .expect("query sent");
    assert_eq!(resp.status(), StatusCode::OK, "query of {site}");
    let body: Value = resp.json().await.expect("JSON answer");
    body["contributors"]
        .as_array()
        .expect("contributors")
        .iter()
        .map(|c| c["accountId"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn send(rb: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let resp = rb.send().await.expect("request sent");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_emulator_loads_a_10000_by_20_seed() {
    let t = Instant::now();
    let yaml = seed_yaml(SITES, CONTRIBUTORS);
    eprintln!(
        "seed text: {} MiB in {:?}",
        yaml.len() / (1024 * 1024),
        t.elapsed()
    );
    let emu = start(&yaml).await;
    drop(yaml);
    let base = emu.base_url();
    let http = Client::new();

    for i in [0, 1, SITES / 2, SITES - 1] {
        let mut got = contributors(&http, &base, &site_id(i)).await;
        got.sort();
        let mut want: Vec<String> = (0..CONTRIBUTORS).map(|k| account_id(i, k)).collect();
        want.push(ACCOUNT.to_owned());
        want.sort();
        assert_eq!(got, want, "site {i}");
    }
    // A role filter reads the seeded roles (given by title) as ids.
    let resp = http
        .get(format!(
            "{base}/roles-management/v2/contributors/query?filter.policyIds=role-blog-editor"
        ))
        .header("Authorization", KEY)
        .header("wix-site-id", site_id(SITES - 1))
        .send()
        .await
        .expect("query sent");
    let body: Value = resp.json().await.expect("JSON");
    assert_eq!(
        body["contributors"].as_array().map(Vec::len),
        Some(CONTRIBUTORS / ROLES.len())
    );

    // Expiry among 10,000 sites: an invite on the last site expires when
    // the clock passes its date, seen by the site's own requests and by the
    // view of every invite, and stays expired if the clock goes back.
    let last = site_id(SITES - 1);
    let (status, body) = send(
        http.post(format!("{base}/invites/site-invite/bulk"))
            .header("Authorization", KEY)
            .header("wix-site-id", &last)
            .json(&json!({ "emails": ["late@example.com"], "policyIds": ["role-blog-writer"] })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let invite = body["invites"][0]["id"].as_str().expect("id").to_owned();
    let clock = |now: &str| {
        http.put(format!("{base}/_emulator/clock"))
            .json(&json!({ "now": now }))
    };
    assert_eq!(send(clock("2025-02-01T00:00:00Z")).await.0, StatusCode::OK);
    assert_eq!(send(clock("2025-01-02T00:00:00Z")).await.0, StatusCode::OK);
    let (status, _) = send(
        http.post(format!("{base}/invites/site-invite/{invite}/resend"))
            .header("Authorization", KEY)
            .header("wix-site-id", &last),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "an expired invite is not resent"
    );
    let (_, all) = send(http.get(format!("{base}/_emulator/invites"))).await;
    assert_eq!(all.as_array().map(Vec::len), Some(1), "{all}");
    assert_eq!(all[0]["status"], "Expired", "{all}");
    assert_eq!(all[0]["siteId"], last.as_str());

    emu.shutdown().await;
}

/// The seed built in code (no YAML), for the timing below.
fn seed_in_code(sites: usize, contributors: usize) -> emulator::Seed {
    use emulator::seed::{SeedAccount, SeedContributor, SeedSite};
    emulator::Seed {
        clock: Some("2025-01-01T00:00:00Z".into()),
        accounts: vec![SeedAccount {
            id: ACCOUNT.into(),
            api_keys: vec![KEY.into()],
            custom_roles: Vec::new(),
        }],
        sites: (0..sites)
            .map(|i| SeedSite {
                id: site_id(i),
                account: ACCOUNT.into(),
                seat_limit: Some(u32::try_from(contributors + 5).unwrap_or(u32::MAX)),
                contributors: (0..contributors)
                    .map(|k| SeedContributor {
                        account_id: account_id(i, k),
                        roles: vec![ROLES[(i + k) % ROLES.len()].into()],
                    })
                    .collect(),
                invites: Vec::new(),
            })
            .collect(),
        ..emulator::Seed::default()
    }
}

/// Per-request cost at 1,000 and 10,000 sites: the same number of Query
/// Site Contributors requests (one connection, one at a time, spread over
/// the sites) against each; then again under a per-site rate limit (high
/// enough never to refuse) after every site was queried once, so the
/// limiter holds a window per site. A measurement, not a check (timings on
/// a shared machine are noisy):
/// `cargo test --release --test emulator_scale -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run explicitly"]
async fn per_request_cost_at_1000_and_10000_sites() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let requests: usize = std::env::var("EMU_SCALE_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4_000);
    for limited in [false, true] {
        let mut per_request = Vec::new();
        for sites in [1_000, 10_000] {
            let mut seed = seed_in_code(sites, CONTRIBUTORS);
            if limited {
                seed.faults = Some(
                    serde_json::from_value(json!({
                        "rateLimit": { "perMinute": 1_000_000, "scope": "site" }
                    }))
                    .expect("fault config"),
                );
            }
            let emu = emulator::spawn(seed, "127.0.0.1:0".parse().expect("addr"))
                .await
                .expect("emulator starts");
            let base = emu.base_url();
            let http = Client::new();
            // Warm the connection and the allocator (and, when limited,
            // give every site a window).
            let warm = if limited { sites } else { 200 };
            for i in 0..warm {
                contributors(&http, &base, &site_id(i)).await;
            }
            let t = Instant::now();
            for i in 0..requests {
                let got = contributors(&http, &base, &site_id(i * 7919 % sites)).await;
                assert_eq!(got.len(), CONTRIBUTORS + 1);
            }
            let each = t.elapsed() / u32::try_from(requests).unwrap_or(u32::MAX);
            let how = if limited { ", per-site limit" } else { "" };
            eprintln!(
                "{sites:>6} sites × {CONTRIBUTORS}{how}: {requests} queries, {each:?} per request"
            );
            per_request.push(each);
            emu.shutdown().await;
        }
        eprintln!(
            "10,000 ÷ 1,000 sites, per request: {:.2}×",
            per_request[1].as_secs_f64() / per_request[0].as_secs_f64()
        );
    }
}
