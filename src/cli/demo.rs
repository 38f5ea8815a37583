//! `accessctl demo`: the whole loop against the built-in emulator.
//!
//! Starts the emulator in-process on a free loopback port with the example
//! seed, writes the example config to a scratch directory (so the ledger does
//! not land in `examples/`), then runs the real commands as child processes
//! of this same binary — exactly what a user would type — with the API base
//! and the example keys in their environment: validate, plan, apply, a few
//! invitees accept (through the emulator's test controls), plan, apply, the
//! owner of the request-mode site is recorded as having granted access, plan.
//!
//! The example sends access requests to a webhook; the demo runs a small
//! receiver on loopback that checks each request's signature and prints what
//! arrived, standing in for the agency's helpdesk.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use clap::Args;

use super::{Exit, fail, runtime};
use crate::providers::google;
use crate::providers::wix::API_BASE_ENV;

const EXAMPLE_CONFIG: &str = include_str!("../../examples/agency.yaml");
const EXAMPLE_SEED: &str = include_str!("../../examples/agency.seed.yaml");

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Scratch directory for the config copy and its ledger (default: a new
    /// temporary directory).
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
}

pub fn run(args: &DemoArgs) -> Exit {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(exit) => return exit,
    };
    let mut seed = match crate::emulator::parse_seed(EXAMPLE_SEED) {
        Ok(s) => s,
        Err(e) => return fail(format!("the bundled example seed is invalid: {e}"), None),
    };
    // Wix's timestamps (invite expiry, recorded in the ledger) agree with the
    // commands' clock: pinned by `ACCESSCTL_NOW`, the whole demo is one day.
    if let Ok(now) = super::now().format(&time::format_description::well_known::Rfc3339) {
        seed.clock = Some(now);
    }
    let keys: Vec<(String, String)> = seed
        .accounts
        .iter()
        .filter_map(|a| Some((a.id.clone(), a.api_keys.first()?.clone())))
        .collect();
    let workdir = match prepare_workdir(args.workdir.as_deref()) {
        Ok(d) => d,
        Err(e) => return fail(e, None),
    };
    let config_path = workdir.join("agency.yaml");
    if let Err(e) = std::fs::write(&config_path, EXAMPLE_CONFIG) {
        return fail(format!("cannot write {}: {e}", config_path.display()), None);
    }
    let emulator = match rt.block_on(crate::emulator::spawn(seed, ([127, 0, 0, 1], 0).into())) {
        Ok(e) => e,
        Err(e) => return fail(e, None),
    };
    let base = emulator.base_url();
    let helpdesk = match rt.block_on(spawn_helpdesk()) {
        Ok(h) => h,
        Err(e) => return fail(e, None),
    };
    // The emulator's port changes every run; `-v` shows it.
    tracing::info!("demo emulator listening on {base}");
    eprintln!(
        "accessctl demo: a Wix emulator on loopback, working in {}",
        workdir.display()
    );

    // The example config names a key variable per site; give each the key of
    // the seed account that owns the site.
    // Google's side is served by the same emulator; its service-account
    // key file (emulator-only, public) names the emulator's token endpoint.
    let key_file = workdir.join("service-account.json");
    if let Err(e) = std::fs::write(
        &key_file,
        crate::emulator::google::token::emulator_key_file(&base),
    ) {
        return fail(format!("cannot write {}: {e}", key_file.display()), None);
    }
    let mut env: Vec<(String, String)> = vec![
        (API_BASE_ENV.to_string(), base.clone()),
        (google::GA4_API_BASE_ENV.to_string(), base.clone()),
        (google::GTM_API_BASE_ENV.to_string(), base.clone()),
        (
            google::CREDENTIALS_ENV.to_string(),
            key_file.display().to_string(),
        ),
        (WEBHOOK_URL_ENV.to_string(), helpdesk.url.clone()),
        (WEBHOOK_SECRET_ENV.to_string(), DEMO_SECRET.to_string()),
    ];
    if let Ok(loaded) = crate::config::load(&config_path) {
        for site in loaded.config.sites.values() {
            if let (Some(var), Some((_, key))) = (
                &site.wix.api_key_env,
                keys.iter()
                    .find(|(account, _)| *account == site.wix.account_id),
            ) {
                env.push((var.clone(), key.clone()));
            }
        }
    }
    // The ledger is signed as in a real setup, with a key pair made for
    // this run only (README, "Security model").
    match crate::ledger::Auth::generate() {
        Ok((private, _)) => {
            eprintln!(
                "ledger records are signed with a key made for this demo ({})",
                crate::ledger::SIGNING_KEY_ENV
            );
            env.push((crate::ledger::SIGNING_KEY_ENV.to_string(), private));
        }
        Err(e) => eprintln!("warning: {e}; the demo's ledger is not signed"),
    }
    // Commands run in the working directory and name the config by its
    // file name, so two runs print the same.
    let cfg = "agency.yaml".to_string();
    let steps: [(&str, Vec<&str>); 3] = [
        ("check the config", vec!["validate", "-c", &cfg]),
        ("what would change", vec!["plan", "-c", &cfg]),
        (
            "make the changes",
            vec!["apply", "-c", &cfg, "--auto-approve", "--parallelism", "1"],
        ),
    ];
    let mut ok = true;
    for (title, argv) in &steps {
        ok &= step(title, argv, &env, &workdir);
        helpdesk.report();
    }
    banner("some invitees accept their invites (emulator test control)");
    let site_keys: std::collections::HashMap<String, String> = crate::config::load(&config_path)
        .map(|l| {
            l.config
                .sites
                .values()
                .map(|s| (s.wix.site_id.clone(), s.key.clone()))
                .collect()
        })
        .unwrap_or_default();
    match rt.block_on(accept_some(&base, &site_keys)) {
        Ok(accepted) => {
            for line in accepted {
                eprintln!("  {line}");
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ok = false;
        }
    }
    let steps: [(&str, Vec<&str>); 4] = [
        (
            "plan again: accepted invites are linked, the rest stays pending; the access request was sent",
            vec!["plan", "-c", &cfg],
        ),
        (
            "apply the links",
            vec!["apply", "-c", &cfg, "--auto-approve", "--parallelism", "1"],
        ),
        (
            "the owner of delta-plumbing sent the invites: record it",
            vec!["request", "done", "delta-plumbing", "-c", &cfg],
        ),
        (
            "plan once more: nothing left to do",
            vec!["plan", "-c", &cfg],
        ),
    ];
    for (title, argv) in &steps {
        ok &= step(title, argv, &env, &workdir);
        helpdesk.report();
    }
    rt.block_on(emulator.shutdown());
    helpdesk.task.abort();
    eprintln!(
        "\naccessctl demo: done. The config and ledger are in {}",
        workdir.display()
    );
    if ok { Exit::Ok } else { Exit::Error }
}

/// The example config's webhook variables, and the demo's signing secret.
const WEBHOOK_URL_ENV: &str = "NORTHWIND_REQUESTS_WEBHOOK_URL";
const WEBHOOK_SECRET_ENV: &str = "NORTHWIND_REQUESTS_WEBHOOK_SECRET";
const DEMO_SECRET: &str = "demo-signing-secret";

/// A stand-in for the agency's helpdesk: receives access requests.
struct Helpdesk {
    url: String,
    task: tokio::task::JoinHandle<()>,
    /// What arrived, printed after the step that sent it (not in the
    /// middle of its progress lines).
    received: Arc<Mutex<Vec<String>>>,
}

impl Helpdesk {
    fn report(&self) {
        let lines = std::mem::take(&mut *self.received.lock().unwrap_or_else(|e| e.into_inner()));
        for line in lines {
            eprintln!("  [helpdesk] {line}");
        }
    }
}

async fn spawn_helpdesk() -> Result<Helpdesk, String> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| format!("cannot start the demo webhook receiver: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot start the demo webhook receiver: {e}"))?;
    let received = Arc::new(Mutex::new(Vec::new()));
    let app = axum::Router::new()
        .route("/requests", axum::routing::post(receive))
        .with_state(received.clone());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(Helpdesk {
        url: format!("http://{addr}/requests"),
        task,
        received,
    })
}

/// Checks the signature and prints what arrived.
async fn receive(
    axum::extract::State(received): axum::extract::State<Arc<Mutex<Vec<String>>>>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::http::StatusCode {
    let expected = crate::request::webhook::signature(DEMO_SECRET.as_bytes(), &body);
    let given = headers
        .get(crate::request::webhook::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if given != expected {
        received
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push("refused a request with a bad signature".to_string());
        return axum::http::StatusCode::UNAUTHORIZED;
    }
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let people = json["grants"].as_array().map_or(0, Vec::len);
    received
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(format!(
            "received (signature ok): \"{}\" for {}, {}",
            json["subject"].as_str().unwrap_or("?"),
            json["to"]["email"].as_str().unwrap_or("?"),
            crate::render::count(people, "person", "people")
        ));
    axum::http::StatusCode::OK
}

fn prepare_workdir(given: Option<&Path>) -> Result<PathBuf, String> {
    let dir = match given {
        Some(d) => d.to_path_buf(),
        // The same place every run (cleared first), so the output is too.
        None => std::env::temp_dir().join("accessctl-demo"),
    };
    if dir.join("agency.ledger").exists() {
        std::fs::remove_dir_all(dir.join("agency.ledger"))
            .map_err(|e| format!("cannot clear {}: {e}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(dir)
}

fn banner(title: &str) {
    eprintln!("\n==> {title}");
}

/// Run this binary with `argv`; true when it exited 0.
fn step(title: &str, argv: &[&str], env: &[(String, String)], dir: &Path) -> bool {
    banner(title);
    eprintln!("$ accessctl {}", argv.join(" "));
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: cannot find the accessctl executable: {e}");
            return false;
        }
    };
    let status = Command::new(exe)
        .current_dir(dir)
        .args(argv)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("NO_COLOR", "1")
        .status();
    match status {
        Ok(s) if s.success() => true,
        Ok(s) => {
            eprintln!("(exited with {})", s.code().unwrap_or(-1));
            false
        }
        Err(e) => {
            eprintln!("error: cannot run accessctl: {e}");
            false
        }
    }
}

/// Accept every other pending invite, as a made-up account per email.
async fn accept_some(
    base: &str,
    site_keys: &std::collections::HashMap<String, String>,
) -> Result<Vec<String>, String> {
    let http = reqwest::Client::new();
    let state: serde_json::Value = http
        .get(format!("{base}/_emulator/state"))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let mut pending = Vec::new();
    collect_pending(&state, &mut pending);
    pending.sort();
    let mut done = Vec::new();
    for (i, (email, site_id, id)) in pending.iter().enumerate() {
        if i % 2 == 1 {
            continue;
        }
        let account = format!("acct-{}", email.split('@').next().unwrap_or("x"));
        let response = http
            .post(format!("{base}/_emulator/invites/accept"))
            .json(&serde_json::json!({ "inviteId": id, "accountId": account }))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!(
                "accepting the invite to {email} failed: HTTP {}",
                response.status()
            ));
        }
        let site = site_keys
            .get(site_id)
            .map_or(site_id.as_str(), String::as_str);
        done.push(format!(
            "{email} accepted the invite to site `{site}` as Wix account {account}"
        ));
    }
    Ok(done)
}

/// Pending invites as (email, site id, invite id): invite ids follow the
/// order the invites reached the emulator, which varies between runs, so
/// the choice of who accepts (and the demo's output) rests on the site.
fn collect_pending(state: &serde_json::Value, out: &mut Vec<(String, String, String)>) {
    for site in state["sites"].as_array().into_iter().flatten() {
        let site_id = site["id"].as_str().unwrap_or_default();
        for invite in site["invites"].as_array().into_iter().flatten() {
            if let (Some("Pending"), Some(email), Some(id)) = (
                invite["status"].as_str(),
                invite["email"].as_str(),
                invite["id"].as_str(),
            ) {
                out.push((email.to_string(), site_id.to_string(), id.to_string()));
            }
        }
    }
}
