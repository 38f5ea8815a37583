//! API keys never leak, and never travel anywhere but the Wix API base URL
//! given on the command line or in the environment.
//!
//! - Every command that reads keys — validate, plan (also saved with
//!   `--out`), apply, doctor, import — runs with `-vvv` (and apply once more
//!   with `RUST_LOG=trace`, every crate's every log line) while the emulator
//!   answers with 5xx, 429s, dropped connections and rejected keys; the
//!   keys' text appears in no stdout, no stderr, no ledger file and no plan
//!   file, nor in what the emulator logs of each request (path, query, id
//!   headers, body: all but the Authorization header, which carried them).
//! - The base URL comes only from `--wix-api-base` or
//!   `ACCESSCTL_WIX_API_BASE`; plain `http://` is refused except to
//!   loopback, and so is any other scheme.
//! - The config cannot name a URL that receives credentials: no key of the
//!   config schema may name a URL or host except the SMTP `host` for a relay
//!   without credentials (refused together with credentials) — and a key
//!   that tried would be rejected as unknown.

mod common;

use std::path::Path;

use common::{Harness, stderr, stdout};
use serde_json::json;

/// Keys shaped like Wix's, distinctive enough to search for.
const KEY_A: &str = "IST.eyJraWQiOiJTRUNSRVQtQSJ9.TOPSECRET-alpha-7f3a91";
const KEY_B: &str = "IST.eyJraWQiOiJTRUNSRVQtQiJ9.TOPSECRET-bravo-c2d804";
/// Set for a site whose key Wix does not accept (401).
const KEY_WRONG: &str = "IST.eyJraWQiOiJXUk9ORyJ9.TOPSECRET-wrong-55e1b0";

const SEED: &str = r#"
accounts:
  - { id: acc-a, api_keys: ["IST.eyJraWQiOiJTRUNSRVQtQSJ9.TOPSECRET-alpha-7f3a91"] }
  - { id: acc-b, api_keys: ["IST.eyJraWQiOiJTRUNSRVQtQiJ9.TOPSECRET-bravo-c2d804"] }
  - { id: acc-c, api_keys: ["IST.eyJraWQiOiJSSUdIVCJ9.the-right-key-0000"] }
sites:
  - id: site-a
    account: acc-a
    contributors:
      - { account_id: acct-bob, roles: [Blog Editor] }
      - { account_id: acct-old, roles: [Blog Writer] }
  - id: site-b
    account: acc-b
  - id: site-c
    account: acc-c
"#;

const CONFIG: &str = "version: 2
people:
  alice: { email: alice@agency.example }
  bob: { email: bob@agency.example, wix_account_id: acct-bob }
sites:
  alpha:
    wix: { site_id: site-a, account_id: acc-a, api_key_env: KEY_A }
    unmanaged: remove
    access:
      - { person: alice, role: Blog Writer }
      - { person: bob, role: Website Manager }
  bravo:
    wix: { site_id: site-b, account_id: acc-b, api_key_env: KEY_B }
    access:
      - { person: alice, roles: [Blog Editor, Marketing Manager] }
  charlie:
    wix: { site_id: site-c, account_id: acc-c, api_key_env: KEY_C }
    access:
      - { person: bob, role: Blog Writer }
";

/// The private key that signs the ledger: a secret like the API keys.
const LEDGER_KEY: &str = "5ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2";

fn harness() -> Harness {
    let mut h = Harness::new(
        SEED,
        CONFIG,
        &[("KEY_A", KEY_A), ("KEY_B", KEY_B), ("KEY_C", KEY_WRONG)],
    );
    h.env
        .push(("ACCESSCTL_LEDGER_KEY".into(), LEDGER_KEY.into()));
    h
}

/// The secret part of each key; a key cut short must not leak either.
fn secrets() -> Vec<&'static str> {
    vec![
        KEY_A,
        KEY_B,
        KEY_WRONG,
        "TOPSECRET-alpha",
        "TOPSECRET-bravo",
        "TOPSECRET-wrong",
        LEDGER_KEY,
        &LEDGER_KEY[..16],
    ]
}

fn assert_no_key(what: &str, text: &str) {
    for secret in secrets() {
        assert!(
            !text.contains(secret),
            "{what} contains the key text `{secret}`:\n{text}"
        );
    }
}

/// Every file under `dir` (ledgers, saved plans, the config).
fn assert_no_key_in_files(dir: &Path) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            assert_no_key_in_files(&path);
        } else {
            let text = String::from_utf8_lossy(&std::fs::read(&path).expect("read")).into_owned();
            assert_no_key(&path.display().to_string(), &text);
        }
    }
}

#[test]
fn no_command_prints_or_stores_a_key_even_at_trace_level_under_faults() {
    let h = harness();
    h.set_faults(json!({ "seed": 3, "rules": [
        { "endpoint": "*", "errorRate": 0.15, "status": 503 },
        { "endpoint": "*", "errorRate": 0.1, "status": 429 },
        { "endpoint": "*", "drop": "before", "rate": 0.05 },
        { "endpoint": "bulkInvite", "drop": "after", "rate": 0.3 }
    ] }));
    let plan_file = h.dir.path().join("saved-plan.json");
    let plan_file = plan_file.to_string_lossy().into_owned();
    let runs: Vec<Vec<&str>> = vec![
        vec!["-vvv", "validate"],
        vec!["-vvv", "plan"],
        vec!["-vvv", "plan", "--format", "json"],
        vec!["-vvv", "plan", "--format", "markdown"],
        vec!["-vvv", "plan", "--out", &plan_file],
        vec!["-vvv", "apply", "--auto-approve"],
        vec!["-vvv", "apply", "--auto-approve"],
        vec!["-vvv", "doctor"],
        vec!["-vvv", "import", "--site", "alpha"],
    ];
    let mut commands_that_reached_wix = 0;
    for args in &runs {
        let out = h.cmd(args).output().expect("runs");
        let (o, e) = (stdout(&out), stderr(&out));
        assert!(!e.contains("panicked"), "{args:?}: {e}");
        assert_no_key(&format!("stdout of {args:?}"), &o);
        assert_no_key(&format!("stderr of {args:?}"), &e);
        // -vvv really logged the HTTP traffic, or this proves little.
        if args[1] != "validate" {
            assert!(e.contains("request"), "{args:?} logged no request:\n{e}");
            commands_that_reached_wix += 1;
        }
    }
    assert!(commands_that_reached_wix >= 7);
    // Every crate's every log line, HTTP internals included.
    let out = h
        .cmd(&["apply", "--auto-approve"])
        .env("RUST_LOG", "trace")
        .output()
        .expect("runs");
    assert_no_key("stdout at RUST_LOG=trace", &stdout(&out));
    assert_no_key("stderr at RUST_LOG=trace", &stderr(&out));
    assert!(stderr(&out).len() > 10_000, "trace logging was not on");

    // The rejected key was used and reported, without its text.
    let out = h.cmd(&["plan"]).output().expect("runs");
    assert!(
        stdout(&out).contains("HTTP 401") || stderr(&out).contains("HTTP 401"),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        std::fs::metadata(&plan_file).is_ok(),
        "plan --out wrote no file"
    );
    assert_no_key_in_files(h.dir.path());
    // The ledger was signed with that key, so the check above looked at it.
    let signed = std::fs::read_to_string(h.ledger_dir().join("alpha.yaml")).expect("ledger");
    assert!(signed.contains("sig: "), "{signed}");
    // The emulator checks the Authorization header and never records it;
    // it records everything else a request carried — path, query, the id
    // headers and the body — so the search below covers every other place
    // a key could have travelled. The keys did reach it, as credentials:
    // calls on alpha and bravo were answered, charlie's wrong key refused.
    let entries = h.log();
    // A call names its site or, for the roles, the site's account.
    let answered = |(site, account): (&str, &str), status: u64| {
        entries.iter().any(|e| {
            (e["siteId"] == site || e["accountId"] == account)
                && e["status"].as_u64() == Some(status)
        })
    };
    assert!(answered(("site-a", "acc-a"), 200) && answered(("site-b", "acc-b"), 200));
    assert!(answered(("site-c", "acc-c"), 401));
    assert!(
        entries.iter().any(|e| e["requestBody"]["emails"]
            .as_array()
            .is_some_and(|emails| emails.iter().any(|m| m == "alice@agency.example"))),
        "the log records request bodies"
    );
    assert!(
        entries
            .iter()
            .all(|e| e["path"].is_string() && e["query"].is_string())
    );
    let log = serde_json::to_string(&entries).expect("log");
    assert_no_key("the emulator's request log", &log);
}

#[test]
fn a_key_that_is_not_a_header_value_is_reported_without_its_text() {
    let h = harness();
    let broken = "IST.eyJraWQiOiJTRUNSRVQtQSJ9.TOPSECRET-alpha\n7f3a91";
    let out = h
        .cmd(&["-vvv", "plan", "--site", "alpha"])
        .env("KEY_A", broken)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert_no_key("output", &all);
    assert!(all.contains("not a valid HTTP header value"), "{all}");
}

#[test]
fn the_base_url_comes_only_from_the_flag_or_the_environment() {
    let h = harness();
    for (flag, env) in [
        (Some("http://example.com"), None),
        (None, Some("http://10.0.0.1:8080")),
        (Some("http://169.254.169.254/"), None),
        (Some("ftp://127.0.0.1:21"), None),
        (None, Some("file:///etc/passwd")),
        (Some("not a url"), None),
    ] {
        let mut cmd = h.cmd(&["plan"]);
        if let Some(flag) = flag {
            cmd.args(["--wix-api-base", flag]);
        }
        if let Some(env) = env {
            cmd.env("ACCESSCTL_WIX_API_BASE", env);
        }
        let out = cmd.output().expect("runs");
        assert_eq!(out.status.code(), Some(1), "{flag:?} {env:?} was accepted");
        let e = stderr(&out);
        assert!(
            e.contains("refusing Wix API base URL")
                || e.contains("unsupported scheme")
                || e.contains("invalid Wix API base URL"),
            "{flag:?} {env:?}: {e}"
        );
        assert_no_key("stderr", &e);
    }
    // Nothing reached the emulator either.
    assert!(h.log().is_empty());

    // The config cannot point the client anywhere: such keys are unknown.
    for (name, extra) in [
        ("top level", "wix_api_base: http://127.0.0.1:9\n"),
        ("site", ""),
    ] {
        let config = if name == "site" {
            CONFIG.replace(
                "api_key_env: KEY_A }",
                "api_key_env: KEY_A, api_base: \"http://127.0.0.1:9\" }",
            )
        } else {
            format!("{CONFIG}{extra}")
        };
        h.write_config(&config);
        let out = h.cmd(&["validate"]).output().expect("runs");
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stderr(&out));
        assert!(stderr(&out).contains("unknown key"), "{}", stderr(&out));
    }
}

/// Every key the config schema allows, with its path (each definition is
/// walked once).
fn schema_keys(
    schema: &serde_json::Value,
    node: &serde_json::Value,
    path: &str,
    seen: &mut std::collections::BTreeSet<String>,
    out: &mut Vec<String>,
) {
    if let Some(reference) = node["$ref"].as_str() {
        let name = reference.trim_start_matches("#/$defs/").to_string();
        if seen.insert(name.clone()) {
            schema_keys(schema, &schema["$defs"][&name], path, seen, out);
        }
        return;
    }
    if let Some(props) = node["properties"].as_object() {
        for (key, value) in props {
            out.push(format!("{path}.{key}"));
            schema_keys(schema, value, &format!("{path}.{key}"), seen, out);
        }
    }
    for child in ["additionalProperties", "items"] {
        if node[child].is_object() {
            schema_keys(schema, &node[child], path, seen, out);
        }
    }
    for combinator in ["allOf", "anyOf", "oneOf"] {
        for sub in node[combinator].as_array().into_iter().flatten() {
            schema_keys(schema, sub, path, seen, out);
        }
    }
}

#[test]
fn the_config_cannot_name_a_url_that_receives_credentials() {
    let schema: serde_json::Value =
        serde_json::from_str(&accessctl::config::schema_json()).expect("schema");
    let mut keys = Vec::new();
    schema_keys(&schema, &schema, "", &mut Default::default(), &mut keys);
    assert!(keys.len() > 20, "{keys:?}");
    assert!(
        keys.iter().any(|k| k == ".requests.webhook.url_env"),
        "{keys:?}"
    );
    let addresses: Vec<&String> = keys
        .iter()
        .filter(|k| {
            let last = k.rsplit('.').next().unwrap_or("");
            last.split('_').any(|word| {
                [
                    "url", "uri", "host", "endpoint", "base", "server", "address", "domain",
                ]
                .contains(&word)
            })
        })
        .filter(|k| !k.ends_with("_env"))
        .collect();
    // The one exception: an SMTP relay that takes no credentials. A new
    // key naming an address must be reviewed here.
    for key in &addresses {
        assert!(
            key.ends_with(".smtp.host"),
            "the config schema lets the file name an address: {key}"
        );
    }

    // And that exception is refused together with credentials.
    let h = harness();
    let config = format!(
        "{CONFIG}requests:
  agency: Northwind
  email:
    from: {{ name: Northwind, email: access@northwind.example }}
    smtp:
      host: smtp.attacker.example
      username_env: SMTP_USER
      password_env: SMTP_PASSWORD
"
    );
    h.write_config(&config);
    let out = h.cmd(&["validate"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("host_env"), "{}", stderr(&out));
    // A webhook URL in the file is not a thing: only `url_env`.
    let config = format!(
        "{CONFIG}requests:
  agency: Northwind
  webhook:
    url: https://attacker.example/collect
    secret_env: HOOK_SECRET
"
    );
    h.write_config(&config);
    let out = h.cmd(&["validate"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("unknown key `url`"),
        "{}",
        stderr(&out)
    );
}
