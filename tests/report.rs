//! `accessctl report`, through the binary against the emulator (Wix, GA4
//! and GTM on loopback): the access review of the agency example in all
//! three formats (snapshot-tested), the CSV parsed back, the JSON validated
//! against its committed schema, the same report from a snapshot as live,
//! and hostile text from a platform kept from injecting Markdown or
//! spreadsheet formulas.

mod common;

use std::path::Path;

use common::{Harness, agency_keys, stderr, stdout};
use serde_json::Value;

fn agency_with(edit: impl Fn(&mut String)) -> Harness {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut seed = std::fs::read_to_string(root.join("agency.seed.yaml")).expect("seed");
    edit(&mut seed);
    let config = std::fs::read_to_string(root.join("agency.yaml")).expect("config");
    Harness::new(&seed, &config, &agency_keys())
}

/// A webhook receiver on loopback that answers every request `200 OK`.
fn webhook_sink() -> String {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            // Headers, then as much body as Content-Length says.
            while let Ok(n) = stream.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&seen).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text[..end]
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if seen.len() >= end + 4 + length {
                        break;
                    }
                }
            }
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    format!("http://127.0.0.1:{port}/hook")
}

/// The agency example with delta-plumbing's (request mode) access requested
/// from its owner, so the report has requested rows too.
fn agency() -> Harness {
    let mut h = agency_with(|_| {});
    h.env
        .push(("NORTHWIND_REQUESTS_WEBHOOK_URL".into(), webhook_sink()));
    h.env.push((
        "NORTHWIND_REQUESTS_WEBHOOK_SECRET".into(),
        "whsec-test-0123456789abcdef".into(),
    ));
    let out = h
        .cmd(&["apply", "--auto-approve", "--site", "delta-plumbing"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    h
}

fn report(h: &Harness, format: &str) -> String {
    let out = h
        .cmd(&["report", "--format", format])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

/// RFC 4180: fields split on commas outside quotes, `""` inside quotes is a
/// quote, records end with CRLF (line breaks inside quotes are data).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' => {
                assert!(
                    field.is_empty(),
                    "a quote inside an unquoted field: {field}"
                );
                quoted = true;
            }
            ',' => record.push(std::mem::take(&mut field)),
            '\r' => {
                assert_eq!(chars.next(), Some('\n'), "a bare CR ends no record");
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            '\n' => panic!("a bare LF ends no record"),
            _ => field.push(c),
        }
    }
    assert!(!quoted, "unterminated quote");
    assert!(
        field.is_empty() && record.is_empty(),
        "the last record has no CRLF"
    );
    records
}

#[test]
fn report_in_three_formats_on_the_agency_example() {
    let h = agency();
    let markdown = report(&h, "markdown");
    insta::assert_snapshot!("report_agency_markdown", markdown);
    let csv = report(&h, "csv");
    insta::assert_snapshot!("report_agency_csv", csv);
    let json = report(&h, "json");
    insta::assert_snapshot!("report_agency_json", json);

    // The CSV parses back, one record per JSON row and unreadable target.
    let records = parse_csv(&csv);
    let doc: Value = serde_json::from_str(&json).expect("JSON");
    let rows = doc["rows"].as_array().expect("rows");
    assert_eq!(records[0][0], "site");
    assert_eq!(
        records.len(),
        1 + rows.len() + doc["unreadable"].as_array().expect("u").len()
    );
    assert!(records.iter().all(|r| r.len() == 14), "{records:?}");
    for (record, row) in records[1..].iter().zip(rows) {
        assert_eq!(record[0], row["site"]);
        assert_eq!(record[3], row["principal"]);
        assert_eq!(record[9], row["status"]);
    }

    // Every kind of row the review needs is there.
    let has = |site: &str, principal: &str, state: &str, status: &str| {
        rows.iter().any(|r| {
            r["site"] == site
                && r["principal"] == principal
                && r["state"] == state
                && r["status"] == status
        })
    };
    assert!(
        has("blue-harbor-dental", "bob", "active", "drifted"),
        "{doc:#}"
    );
    assert!(
        has("acme-bakery", "acct-acme-bookkeeper", "active", "managed"),
        "{doc:#}"
    );
    assert!(has("elm-street-books", "dan", "active", "ended"), "{doc:#}");
    assert!(
        has("delta-plumbing", "alice", "requested", "managed"),
        "{doc:#}"
    );
    assert!(rows.iter().any(|r| r["status"] == "owner"), "{doc:#}");
    assert!(rows.iter().any(|r| r["status"] == "unmanaged"), "{doc:#}");
    assert!(
        rows.iter()
            .any(|r| r["site"] == "delta-plumbing" && r["state"] == "requested"),
        "{doc:#}"
    );
    assert!(rows.iter().any(|r| r["platform"] == "ga4"), "{doc:#}");
    assert!(rows.iter().any(|r| r["platform"] == "gtm"), "{doc:#}");
    assert_eq!(doc["summary"]["rows"], rows.len());
}

#[test]
fn report_json_validates_against_the_committed_schema() {
    let h = agency();
    let json = report(&h, "json");
    let doc: Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(doc["report_version"], 1);
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/report.schema.json"),
        )
        .expect("schemas/report.schema.json"),
    )
    .expect("schema JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // And the schema is strict enough to mean something.
    let mut bad = doc.clone();
    bad["rows"][0]["status"] = Value::from("fine");
    assert!(!validator.is_valid(&bad));
    bad = doc;
    bad["report_version"] = Value::from(2);
    assert!(!validator.is_valid(&bad));
}

#[test]
fn report_from_a_snapshot_equals_the_live_report_and_out_writes_a_file() {
    let h = agency();
    let snap = h.dir.path().join("snap.json");
    let out = h
        .cmd(&["snapshot", "--out", snap.to_str().expect("utf-8")])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let live = report(&h, "csv");
    let file = h.dir.path().join("review.csv");
    let out = h
        .cmd(&[
            "report",
            "--format",
            "csv",
            "--observed",
            snap.to_str().expect("utf-8"),
            "--out",
            file.to_str().expect("utf-8"),
        ])
        .env("ACCESSCTL_WIX_API_BASE", "http://127.0.0.1:9")
        .env("ACCESSCTL_GA4_API_BASE", "http://127.0.0.1:9")
        .env("ACCESSCTL_GTM_API_BASE", "http://127.0.0.1:9")
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
    assert!(
        stderr(&out).contains("wrote the access review of 8 sites"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&file).expect("written"), live);

    // --site narrows it.
    let out = h
        .cmd(&["report", "--format", "json", "--site", "cedar-yoga"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(doc["summary"]["sites"], 1);
    assert!(
        doc["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .all(|r| r["site"] == "cedar-yoga"),
        "{doc:#}"
    );
}

/// An attacker who can name a GA4 user (any email Google accepts) or a Wix
/// account tries to run a formula in the auditor's spreadsheet and to
/// inject markup into the GitHub comment.
#[test]
fn hostile_platform_text_is_defused_in_csv_and_markdown() {
    let h = agency_with(|seed| {
        *seed = seed.replace(
            "acct-old-agency",
            "'=HYPERLINK(\"http://evil.example\",\"x\")'",
        );
        *seed = seed.replace("seo@old-agency.example", "-2+3+cmd@evil.example");
    });
    let csv = report(&h, "csv");
    let records = parse_csv(&csv);
    let cells: Vec<&String> = records.iter().flatten().collect();
    assert!(
        cells.iter().any(|c| c.starts_with("'=HYPERLINK")),
        "the hostile account must be listed, defused:\n{csv}"
    );
    assert!(
        cells.iter().any(|c| *c == "'-2+3+cmd@evil.example"),
        "the hostile GA4 user must be listed, defused:\n{csv}"
    );
    for c in &cells {
        assert!(
            !c.starts_with(['=', '+', '-', '@', '\t', '\r']),
            "a formula cell: {c:?}"
        );
    }
    let markdown = report(&h, "markdown");
    assert!(!markdown.contains("HYPERLINK("), "{markdown}");
    assert!(
        markdown.contains("| \\=HYPERLINK\\(\"http://evil.example\",\"x\"\\) |"),
        "{markdown}"
    );
    assert!(
        markdown.contains("| \\-2+3+cmd@evil.example |"),
        "{markdown}"
    );
}

#[test]
fn a_managed_grant_ending_within_the_warning_days_is_expiring() {
    let h = agency_with(|_| {});
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let config = std::fs::read_to_string(root.join("agency.yaml")).expect("config");
    // Today is 2026-11-15; `safety.expiry_warning_days` defaults to 14.
    let config = config.replace(
        "        role: Billing Manager             # already in place: no changes here",
        "        role: Billing Manager\n        until: 2026-11-29",
    );
    h.write_config(&config);
    let doc: Value = serde_json::from_str(&report(&h, "json")).expect("JSON");
    let erin: Vec<&Value> = doc["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r["principal"] == "erin")
        .collect();
    assert_eq!(erin.len(), 1, "{doc:#}");
    assert_eq!(erin[0]["status"], "expiring");
    assert_eq!(erin[0]["until"], "2026-11-29");
    assert_eq!(doc["summary"]["by_status"]["expiring"], 1);
    let markdown = report(&h, "markdown");
    assert!(
        markdown.contains("| erin | Billing Manager | active | **expiring** | - | 2026-11-29 |"),
        "{markdown}"
    );
    // A day later it is still managed: beyond the window.
    h.write_config(&config.replace("until: 2026-11-29", "until: 2026-11-30"));
    let doc: Value = serde_json::from_str(&report(&h, "json")).expect("JSON");
    assert_eq!(doc["summary"]["by_status"]["expiring"], 0, "{doc:#}");
}

#[test]
fn the_access_review_workflow_is_valid_and_runs_report_from_one_snapshot() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text =
        std::fs::read_to_string(root.join("examples/github/access-review.yml")).expect("workflow");
    let wf: Value = serde_saphyr::from_str(&text).expect("valid YAML");
    assert!(wf["on"]["schedule"][0]["cron"].is_string(), "{wf}");
    assert!(wf["on"]["workflow_dispatch"].is_null() || wf["on"]["workflow_dispatch"].is_object());
    let job = &wf["jobs"]["review"];
    assert_eq!(job["permissions"]["issues"], "write");
    assert_eq!(job["permissions"]["contents"], "read");
    let steps = job["steps"].as_array().expect("steps");
    let runs: String = steps
        .iter()
        .map(|s| format!("{}\n", s["run"].as_str().unwrap_or_default()))
        .collect();
    assert!(runs.contains("accessctl snapshot -c access.yaml --out snapshot.json"));
    assert!(runs.contains("accessctl report -c access.yaml --observed snapshot.json"));
    assert!(runs.contains("GITHUB_STEP_SUMMARY"));
    assert!(
        steps.iter().any(|s| s["uses"] == "actions/github-script@v7"
            && s["with"]["script"]
                .as_str()
                .is_some_and(|t| t.contains("issues.create"))),
        "the review is opened as an issue"
    );
    // The flags it uses are the binary's.
    let help = common::accessctl()
        .args(["report", "--help"])
        .output()
        .expect("runs");
    let help = stdout(&help);
    for flag in ["--observed", "--format", "--out", "--site"] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
    for format in ["markdown", "csv", "json"] {
        assert!(runs.contains(format) && help.contains(format), "{format}");
    }
}

#[test]
fn an_unreadable_site_is_listed_and_fails_the_run_after_printing() {
    let h = agency_with(|_| {});
    let run = |format: &str| {
        h.cmd(&["report", "--format", format])
            .env("CEDAR_WIX_API_KEY", "not-the-key")
            .output()
            .expect("runs")
    };
    let out = run("markdown");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("1 site or target could not be read; the report is incomplete"));
    let markdown = stdout(&out);
    assert!(
        markdown.contains("> [!WARNING]\n> **1 site or target could not be read**"),
        "{markdown}"
    );
    assert!(
        markdown.contains("### cedar-yoga (unreadable)"),
        "{markdown}"
    );
    assert!(!format!("{markdown}{}", stderr(&out)).contains("not-the-key"));
    let csv = stdout(&run("csv"));
    let records = parse_csv(&csv);
    let cedar: Vec<&Vec<String>> = records.iter().filter(|r| r[0] == "cedar-yoga").collect();
    assert_eq!(cedar.len(), 1, "{csv}");
    assert_eq!(cedar[0][9], "unreadable");
    assert!(!cedar[0][13].is_empty());
    let doc: Value = serde_json::from_str(&stdout(&run("json"))).expect("JSON");
    assert_eq!(doc["summary"]["unreadable"], 1);
    assert_eq!(doc["unreadable"][0]["site"], "cedar-yoga");
}
