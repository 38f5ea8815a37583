//! Test harness: a Wix emulator on loopback, a scratch directory holding the
//! config and its ledger, and the real `accessctl` binary run against both.
//!
//! Every run of the binary starts here ([`Harness::cmd`], [`Harness::std_cmd`],
//! [`accessctl`], [`accessctl_under_sh`]), and every one is pinned to [`NOW`]
//! (`ACCESSCTL_NOW`), with the emulator's clock frozen at the same instant: a
//! test never depends on the day it runs. A test that needs another time
//! overrides the variable on its command. `tests/pinned_clock.rs` fails when
//! a test runs the binary any other way.

#![allow(dead_code, reason = "each test binary uses a different part")]

use std::path::PathBuf;

use accessctl::emulator::{self, RunningEmulator};
use accessctl::plan::Plan;
use serde_json::Value;

/// The instant every test runs at unless it says otherwise (RFC 3339). The
/// examples' grants end on 2026-10-31 (ended) and 2027-03-31 (not within the
/// expiry warning): their plan is the same on every day the suite runs.
pub const NOW: &str = "2026-11-15T10:00:00Z";

/// [`NOW`]'s day, as plans print it.
pub const TODAY: &str = "2026-11-15";

pub struct Harness {
    pub rt: tokio::runtime::Runtime,
    pub emulator: Option<RunningEmulator>,
    pub dir: tempfile::TempDir,
    pub env: Vec<(String, String)>,
    pub base: String,
}

impl Harness {
    /// Start an emulator from `seed` and write `config` as `access.yaml`.
    /// `keys` maps key variable names to key values.
    pub fn new(seed: &str, config: &str, keys: &[(&str, &str)]) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let mut seed = emulator::parse_seed(seed).expect("valid seed");
        // Wix's timestamps (an invite's expiry, recorded in the ledger) come
        // from the emulator: on the system clock they would drift from the
        // pinned `ACCESSCTL_NOW` by however far today is from it.
        seed.clock.get_or_insert_with(|| NOW.to_string());
        // GTM's quota (25 requests per 100 s per project) counts across
        // processes; a test running the binary many times would wait it
        // out. Tests of the quota set their own rate.
        if seed.google.gtm.rate == Default::default() {
            seed.google.gtm.rate.requests = 100_000;
        }
        let running = rt
            .block_on(emulator::spawn(seed, ([127, 0, 0, 1], 0).into()))
            .expect("emulator starts");
        let base = running.base_url();
        let dir = tempfile::tempdir().expect("tempdir");
        let mut env: Vec<(String, String)> = keys
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.push(("ACCESSCTL_WIX_API_BASE".into(), base.clone()));
        env.push(("NO_COLOR".into(), "1".into()));
        env.push(("ACCESSCTL_NOW".into(), NOW.into()));
        // Short retry waits, and no client-side pacing: tests that exercise
        // the limiter pass `--rate-limit` (which wins over the variable).
        env.push(("ACCESSCTL_RETRY_BASE_MS".into(), "5".into()));
        env.push(("ACCESSCTL_RATE_LIMIT".into(), "100000".into()));
        // Google's side of the same emulator, with the emulator-only key.
        let key_file = dir.path().join("service-account.json");
        std::fs::write(&key_file, emulator::google::token::emulator_key_file(&base))
            .expect("write the key file");
        env.push(("ACCESSCTL_GA4_API_BASE".into(), base.clone()));
        env.push(("ACCESSCTL_GTM_API_BASE".into(), base.clone()));
        env.push(("ACCESSCTL_GTM_RATE".into(), "100000/100s".into()));
        env.push((
            "GOOGLE_APPLICATION_CREDENTIALS".into(),
            key_file.display().to_string(),
        ));
        let h = Harness {
            rt,
            emulator: Some(running),
            dir,
            env,
            base,
        };
        h.write_config(config);
        h
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("access.yaml")
    }

    pub fn ledger_dir(&self) -> PathBuf {
        self.dir.path().join("access.ledger")
    }

    pub fn write_config(&self, config: &str) {
        std::fs::write(self.config_path(), config).expect("write config");
    }

    /// The binary with the config, the API base, the keys and the clock set.
    pub fn cmd(&self, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = accessctl();
        cmd.current_dir(self.dir.path())
            .env_remove("RUST_LOG")
            // Ledger keys come only from a test that sets them.
            .env_remove("ACCESSCTL_LEDGER_KEY")
            .env_remove("ACCESSCTL_LEDGER_PUBLIC_KEY")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .arg("-c")
            .arg(self.config_path())
            .args(args);
        cmd
    }

    /// [`Harness::cmd`] as a `std::process::Command`, for a test that spawns
    /// the binary and acts while it runs.
    pub fn std_cmd(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("accessctl"));
        cmd.current_dir(self.dir.path())
            .env_remove("RUST_LOG")
            .env_remove("ACCESSCTL_LEDGER_KEY")
            .env_remove("ACCESSCTL_LEDGER_PUBLIC_KEY")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .arg("-c")
            .arg(self.config_path())
            .args(args);
        cmd
    }

    /// `plan --format json`, parsed; panics unless it exits 0 or 2.
    pub fn plan(&self) -> Plan {
        let out = self
            .cmd(&["plan", "--format", "json", "--detailed-exitcode"])
            .output()
            .expect("runs");
        let code = out.status.code();
        assert!(
            matches!(code, Some(0 | 2)),
            "plan failed ({code:?}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("plan JSON parses")
    }

    pub fn apply(&self) -> std::process::Output {
        self.cmd(&["apply", "--auto-approve"])
            .output()
            .expect("runs")
    }

    /// `apply --auto-approve` under a file size limit of zero (SIGXFSZ
    /// ignored, so a write fails with EFBIG): the ledger cannot be written,
    /// as on a full disk, in a way that holds for root too.
    pub fn apply_with_unwritable_ledger(&self) -> std::process::Output {
        accessctl_under_sh("trap '' XFSZ; ulimit -f 0; exec \"$0\" \"$@\"")
            .current_dir(self.dir.path())
            .env_remove("RUST_LOG")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .arg("-c")
            .arg(self.config_path())
            .args(["apply", "--auto-approve"])
            .output()
            .expect("runs")
    }

    pub fn get(&self, path: &str) -> Value {
        self.rt.block_on(async {
            reqwest_client()
                .get(format!("{}{path}", self.base))
                .send()
                .await
                .expect("GET")
                .json()
                .await
                .expect("JSON")
        })
    }

    pub fn send(&self, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
        self.rt.block_on(async {
            let r = reqwest_client()
                .request(method, format!("{}{path}", self.base))
                .json(&body)
                .send()
                .await
                .expect("request");
            let status = r.status().as_u16();
            (status, r.json().await.unwrap_or(Value::Null))
        })
    }

    /// The emulator's Wix request log.
    pub fn log(&self) -> Vec<Value> {
        match self.get("/_emulator/log") {
            Value::Array(items) => items,
            other => panic!("log is not an array: {other}"),
        }
    }

    pub fn accept(&self, site_id: &str, email: &str, account: &str) {
        let (status, body) = self.send(
            reqwest::Method::POST,
            "/_emulator/invites/accept",
            serde_json::json!({ "siteId": site_id, "email": email, "accountId": account }),
        );
        assert_eq!(status, 200, "accept failed: {body}");
    }

    /// (site id, email, sorted role ids) of every email a Bulk Invite call
    /// reached Wix with and Wix acted on (answered or not: a fault after
    /// the call leaves `handledStatus`).
    pub fn invited(&self) -> Vec<(String, String, Vec<String>)> {
        let mut out = Vec::new();
        for entry in self.log() {
            let processed = match entry.get("handledStatus") {
                Some(handled) => *handled == 200,
                None => entry["status"] == 200,
            };
            if entry["path"] == "/invites/site-invite/bulk" && processed {
                let site = entry["siteId"].as_str().unwrap_or("").to_string();
                let body = &entry["requestBody"];
                let mut roles: Vec<String> = body["policyIds"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect();
                roles.sort();
                for email in body["emails"].as_array().into_iter().flatten() {
                    out.push((
                        site.clone(),
                        email.as_str().unwrap_or("").to_string(),
                        roles.clone(),
                    ));
                }
            }
        }
        out
    }

    /// Every invite the emulator ever made (`GET /_emulator/invites`).
    pub fn all_invites(&self) -> Vec<Value> {
        match self.get("/_emulator/invites") {
            Value::Array(items) => items,
            other => panic!("invites is not an array: {other}"),
        }
    }

    /// No email holds two live invites for one grant (site, email, roles),
    /// read from every invite the emulator made. Live: pending, accepted,
    /// or replaced by a later one (it was live when the second was sent);
    /// one revoked, declined or expired was ended on purpose or by time.
    pub fn assert_no_duplicate_invites(&self, when: &str) {
        let mut live: std::collections::BTreeMap<(String, String, Vec<String>), Vec<String>> =
            std::collections::BTreeMap::new();
        for invite in self.all_invites() {
            let replaced = !invite["replacedBy"].is_null();
            let status = invite["status"].as_str().unwrap_or("");
            if !(matches!(status, "Pending" | "Used") || replaced) {
                continue;
            }
            let mut roles: Vec<String> = invite["policyIds"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(String::from))
                .collect();
            roles.sort();
            let key = (
                invite["siteId"].as_str().unwrap_or("").to_string(),
                invite["email"].as_str().unwrap_or("").to_lowercase(),
                roles,
            );
            live.entry(key)
                .or_default()
                .push(invite["id"].as_str().unwrap_or("").to_string());
        }
        let twice: Vec<_> = live.iter().filter(|(_, ids)| ids.len() > 1).collect();
        assert!(
            twice.is_empty(),
            "{when}: an email holds two live invites for one grant: {twice:?}"
        );
    }

    pub fn calls(&self, method: &str, path_prefix: &str) -> usize {
        self.log()
            .iter()
            .filter(|e| {
                e["method"] == method
                    && e["path"]
                        .as_str()
                        .is_some_and(|p| p.starts_with(path_prefix))
            })
            .count()
    }
}

impl Harness {
    /// Install a fault configuration (`PUT /_emulator/faults`).
    pub fn set_faults(&self, faults: Value) {
        let (status, body) = self.send(reqwest::Method::PUT, "/_emulator/faults", faults);
        assert_eq!(status, 200, "faults control: {body}");
    }

    /// Wait until every Wix request the emulator received has finished
    /// (a stalled one may still be running after its client gave up), so
    /// the state read next is final. At most `limit`.
    pub fn quiesce(&self, limit: std::time::Duration) {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let received = self.get("/_emulator/stats")["total"].as_u64().unwrap_or(0);
            let finished = self.log().len() as u64;
            if finished >= received || std::time::Instant::now() > deadline {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// Per site id: contributors (account → sorted role ids) and pending
/// invites (email → sorted role ids).
pub type Live = std::collections::BTreeMap<
    String,
    (
        std::collections::BTreeMap<String, Vec<String>>,
        std::collections::BTreeMap<String, Vec<String>>,
    ),
>;

fn sorted_ids(v: &Value) -> Vec<String> {
    let mut ids: Vec<String> = v
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_str().map(String::from))
        .collect();
    ids.sort();
    ids
}

impl Harness {
    /// The emulator's live state; two pending invites for one email fail
    /// here.
    pub fn live_state(&self) -> Live {
        let state = self.get("/_emulator/state");
        let mut live = Live::new();
        for site in state["sites"].as_array().expect("sites") {
            let contributors = site["contributors"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    (
                        c["accountId"].as_str().unwrap_or("").to_string(),
                        sorted_ids(&c["roleIds"]),
                    )
                })
                .collect();
            let mut pending = std::collections::BTreeMap::new();
            for invite in site["invites"].as_array().into_iter().flatten() {
                if invite["status"] == "Pending" {
                    let email = invite["email"].as_str().unwrap_or("").to_string();
                    assert!(
                        pending
                            .insert(email.clone(), sorted_ids(&invite["policyIds"]))
                            .is_none(),
                        "two pending invites for {email} on {}",
                        site["id"]
                    );
                }
            }
            live.insert(
                site["id"].as_str().unwrap_or("").to_string(),
                (contributors, pending),
            );
        }
        live
    }
}

/// Settle every invite the plan reports as unknown, by looking at the site
/// as a person would (`/_emulator/state`), with `accessctl invite-status`.
pub fn settle_unknown(h: &Harness, plan: &Plan) {
    let state = h.get("/_emulator/state");
    for site in &plan.sites {
        for warning in site
            .warnings
            .iter()
            .filter(|w| w.contains("unknown outcome"))
        {
            let email = warning
                .split_whitespace()
                .find(|w| w.contains('@'))
                .expect("warning names the email")
                .to_string();
            let site_id = &site.site_id;
            let exists = state["sites"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|s| s["id"] == site_id.as_str())
                .flat_map(|s| s["invites"].as_array().into_iter().flatten())
                .any(|i| i["email"] == email.as_str() && i["status"] == "Pending");
            let verdict = if exists { "sent" } else { "not-sent" };
            let out = h
                .cmd(&["invite-status", &site.site, &email, verdict])
                .output()
                .expect("runs");
            assert!(out.status.success(), "{}", stderr(&out));
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(e) = self.emulator.take() {
            self.rt.block_on(e.shutdown());
        }
    }
}

/// The binary with the clock pinned at [`NOW`], for a test without an
/// emulator.
pub fn accessctl() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("accessctl").expect("binary");
    cmd.env("ACCESSCTL_NOW", NOW);
    cmd
}

/// The binary as a `std::process::Command` (to `spawn` it), the clock
/// pinned at [`NOW`].
pub fn accessctl_process() -> std::process::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("accessctl"));
    cmd.env("ACCESSCTL_NOW", NOW);
    cmd
}

/// `sh -c script` with the binary as `$0` and the clock pinned at [`NOW`],
/// for limits set with `ulimit` (`script` ends in `exec "$0" "$@"`).
pub fn accessctl_under_sh(script: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg(script)
        .arg(assert_cmd::cargo::cargo_bin("accessctl"))
        .env("ACCESSCTL_NOW", NOW);
    cmd
}

pub fn reqwest_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

pub fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Key variables of examples/agency.yaml and the keys in its seed.
pub fn agency_keys() -> Vec<(&'static str, &'static str)> {
    vec![
        ("ACME_WIX_API_KEY", "emu-key-acme"),
        ("BLUE_HARBOR_WIX_API_KEY", "emu-key-blue-harbor"),
        ("CEDAR_WIX_API_KEY", "emu-key-cedar"),
        ("ELM_WIX_API_KEY", "emu-key-elm"),
        ("FJORD_WIX_API_KEY", "emu-key-fjord"),
        ("GRANITE_WIX_API_KEY", "emu-key-granite"),
        ("HARBOR_WIX_API_KEY", "emu-key-harbor"),
    ]
}
pub mod google;
pub mod journal;
