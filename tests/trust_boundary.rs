//! What a pull request can make accessctl do, tried as an attacker would.
//!
//! A pull request controls the config, the files it names and the ledger;
//! `plan` runs on it with the job's secrets in the environment, and `apply`
//! runs after merge. Each test pins one hole of the security issue through
//! the real binary, over loopback, and checks that no secret reaches any
//! output. (Workflow-command and Markdown injection: `tests/escape.rs`.)

mod common;

use std::process::Output;

use accessctl::plan::{Action, Plan};
use common::{Harness, stderr, stdout};

const SEED: &str = r#"
accounts:
  - { id: acc-1, api_keys: [key-shop] }
sites:
  - id: site-shop
    account: acc-1
    contributors:
      - { account_id: acct-bob, roles: [Blog Editor] }
      - { account_id: acct-stranger, roles: [Blog Writer] }
"#;

const CONFIG: &str = r#"
version: 2
people:
  alice: { email: alice@agency.example }
  bob:   { email: bob@agency.example, wix_account_id: acct-bob }
  carol: { email: carol@agency.example }
sites:
  shop:
    wix: { site_id: site-shop, account_id: acc-1, api_key_env: SHOP_KEY }
    unmanaged: keep
    access:
      - person: alice
        role: Admin (Co-Owner)
      - person: bob
        role: Blog Editor
"#;

/// A secret in the job's environment that must never be printed.
const SECRET: &str = "s3cr3t-job-token-0123456789";

/// A fixed ledger key pair (test only): seed 0x07 × 32.
const PRIVATE_KEY: &str = "0707070707070707070707070707070707070707070707070707070707070707";

fn harness(config: &str) -> Harness {
    let mut h = Harness::new(SEED, config, &[("SHOP_KEY", "key-shop")]);
    h.env.push(("JOB_SECRET".into(), SECRET.into()));
    h
}

fn with_key(mut h: Harness) -> Harness {
    h.env
        .push(("ACCESSCTL_LEDGER_KEY".into(), PRIVATE_KEY.into()));
    h
}

fn run(h: &Harness, args: &[&str]) -> Output {
    h.cmd(args).output().expect("runs")
}

fn all_output(out: &Output) -> String {
    format!("{}{}", stdout(out), stderr(out))
}

fn assert_no_secret(out: &Output) {
    let text = all_output(out);
    assert!(!text.contains(SECRET), "the secret leaked:\n{text}");
    assert!(!text.contains("key-shop"), "the API key leaked:\n{text}");
}

fn request_config(template: &str) -> String {
    format!(
        r#"
version: 2
people:
  alice: {{ email: alice@agency.example }}
sites:
  shop:
    wix: {{ site_id: site-shop, account_id: acc-1 }}
    owner: {{ name: Jane, email: jane@shop.example }}
    access:
      - person: alice
        role: Website Manager
requests:
  agency: Test Agency
  template: {template}
  webhook: {{ url_env: HOOK_URL, secret_env: HOOK_SECRET }}
"#
    )
}

/// Hole 1: `requests.template` named a file outside the repository (or its
/// credentials inside it) and `plan` printed it into the pull-request
/// comment. Every such path is now a located error at `validate`, and
/// nothing of the file is printed.
#[test]
fn a_template_outside_the_repository_is_refused_without_reading_it() {
    let outside = tempfile::tempdir().expect("tempdir");
    let secret_file = outside.path().join("secret.txt");
    std::fs::write(&secret_file, SECRET).expect("write");
    let h = harness(CONFIG);
    std::fs::create_dir(h.dir.path().join(".git")).expect("mkdir");
    std::fs::write(h.dir.path().join(".git/config"), SECRET).expect("write");
    std::fs::write(h.dir.path().join(".env"), SECRET).expect("write");
    #[cfg(unix)]
    std::os::unix::fs::symlink(&secret_file, h.dir.path().join("link.txt")).expect("symlink");
    let cases = [
        ("/proc/self/environ", "is an absolute path"),
        (secret_file.to_str().expect("utf-8"), "is an absolute path"),
        ("../secret.txt", "leads out of the config's directory"),
        (".git/config", "hidden"),
        (".env", "hidden"),
        ("link.txt", "resolves outside the config's directory"),
    ];
    for (template, why) in cases {
        h.write_config(&request_config(template));
        for command in [&["validate"][..], &["plan"][..]] {
            let out = run(&h, command);
            let text = all_output(&out);
            assert_eq!(out.status.code(), Some(1), "{template}: {text}");
            assert!(
                text.contains(why),
                "{template}: expected `{why}` in:\n{text}"
            );
            assert!(
                text.contains("access.yaml:14:13"),
                "{template}: located:\n{text}"
            );
            assert!(text.contains("hint:"), "{template}:\n{text}");
            assert_no_secret(&out);
        }
    }
}

/// Hole 4: `template: /dev/zero` read without bound until the process was
/// killed. A device, a FIFO and an oversized file are refused at once —
/// the FIFO without being opened (opening it would block forever).
#[cfg(unix)]
#[test]
fn endless_or_huge_templates_are_refused_at_once() {
    let h = harness(CONFIG);
    std::os::unix::fs::symlink("/dev/zero", h.dir.path().join("zero.txt")).expect("symlink");
    std::fs::write(h.dir.path().join("big.txt"), vec![b'a'; 64 * 1024 + 1]).expect("write");
    let fifo = h.dir.path().join("fifo.txt");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    let mut cases = vec![
        ("/dev/zero", "is an absolute path"),
        ("zero.txt", "resolves outside the config's directory"),
        ("big.txt", "is larger than 64 KiB"),
    ];
    if made {
        cases.push(("fifo.txt", "is not a regular file"));
    }
    for (template, why) in cases {
        h.write_config(&request_config(template));
        let out = h
            .cmd(&["validate"])
            .timeout(std::time::Duration::from_secs(20))
            .output()
            .expect("runs");
        let text = all_output(&out);
        assert_eq!(out.status.code(), Some(1), "{template}: {text}");
        assert!(
            text.contains(why),
            "{template}: expected `{why}` in:\n{text}"
        );
    }
}

/// The config file itself is in the pull request: committed as a symlink
/// to a secret outside the checkout, its first line came back in the parse
/// error; as a symlink to `/dev/zero` or as a FIFO, every command read
/// until memory ran out or hung. It is refused before a byte is read,
/// unless it resolves to a regular file inside its own directory.
#[cfg(unix)]
#[test]
fn the_config_file_itself_is_read_as_untrusted() {
    let outside = tempfile::tempdir().expect("tempdir");
    let secret_file = outside.path().join("secret.yaml");
    std::fs::write(&secret_file, format!("token: [{SECRET}\n")).expect("write");
    let h = harness(CONFIG);
    let config = h.config_path();
    let replace = |make: &dyn Fn(&std::path::Path)| {
        std::fs::remove_file(&config).expect("remove the config");
        make(&config);
    };
    let symlink = |to: std::path::PathBuf| {
        move |at: &std::path::Path| std::os::unix::fs::symlink(&to, at).expect("symlink")
    };
    type Make = Box<dyn Fn(&std::path::Path)>;
    let mut cases: Vec<(&str, Make, &str)> = vec![
        (
            "a symlink to a secret outside",
            Box::new(symlink(secret_file.clone())),
            "resolves outside its own directory",
        ),
        (
            "a symlink to /dev/zero",
            Box::new(symlink("/dev/zero".into())),
            "resolves outside its own directory",
        ),
        (
            "a directory",
            Box::new(|at: &std::path::Path| std::fs::create_dir(at).expect("mkdir")),
            "is not a regular file",
        ),
    ];
    cases.push((
        "a FIFO",
        Box::new(|at: &std::path::Path| {
            let made = std::process::Command::new("mkfifo").arg(at).status();
            assert!(made.is_ok_and(|s| s.success()), "mkfifo");
        }),
        "is not a regular file",
    ));
    for (what, make, why) in &cases {
        replace(make.as_ref());
        for command in [&["validate"][..], &["plan"][..]] {
            let out = h
                .cmd(command)
                .timeout(std::time::Duration::from_secs(20))
                .output()
                .expect("runs");
            let text = all_output(&out);
            assert_eq!(out.status.code(), Some(1), "{what}: {text}");
            assert!(
                text.contains("cannot read the config file"),
                "{what}: {text}"
            );
            assert!(text.contains(why), "{what}: expected `{why}` in:\n{text}");
            assert!(text.contains("hint:"), "{what}: {text}");
            assert_no_secret(&out);
        }
        if config.is_dir() {
            std::fs::remove_dir(&config).expect("rmdir");
            std::fs::write(&config, "").expect("placeholder");
        }
    }
    // A symlink to a config in a subdirectory is the config.
    std::fs::create_dir(h.dir.path().join("configs")).expect("mkdir");
    std::fs::write(h.dir.path().join("configs/access.yaml"), CONFIG).expect("write");
    replace(&symlink(h.dir.path().join("configs/access.yaml")));
    let out = run(&h, &["validate"]);
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
}

/// Hole 1, the ledger: a ledger file that is a symlink to a secret leaked
/// its first bytes through the parse error. It is refused before a byte is
/// read; so is a `ledger_dir` that leads out of the repository.
#[cfg(unix)]
#[test]
fn a_ledger_that_leads_out_of_the_repository_is_refused() {
    let outside = tempfile::tempdir().expect("tempdir");
    let secret_file = outside.path().join("id_rsa");
    std::fs::write(&secret_file, format!("{SECRET}\nmore secret\n")).expect("write");
    let h = harness(CONFIG);
    std::fs::create_dir_all(h.ledger_dir()).expect("mkdir");
    std::os::unix::fs::symlink(&secret_file, h.ledger_dir().join("shop.yaml")).expect("symlink");
    let out = run(&h, &["plan"]);
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("the ledger file is a symlink"), "{text}");
    assert!(text.contains("access.ledger/shop.yaml:1:1"), "{text}");
    assert_no_secret(&out);

    std::fs::remove_file(h.ledger_dir().join("shop.yaml")).expect("rm");
    std::fs::remove_dir(h.ledger_dir()).expect("rmdir");
    std::os::unix::fs::symlink(outside.path(), h.ledger_dir()).expect("symlink");
    let out = run(&h, &["validate"]);
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("resolves outside the config's directory"),
        "{text}"
    );
    std::fs::remove_file(h.ledger_dir()).expect("rm");

    for dir in ["/etc", "../elsewhere", ".git"] {
        h.write_config(&format!("{CONFIG}ledger_dir: {dir}\n"));
        let out = run(&h, &["validate"]);
        let text = all_output(&out);
        assert_eq!(out.status.code(), Some(1), "{dir}: {text}");
        assert!(text.contains("access.yaml:16:13"), "{dir}: {text}");
    }
}

fn plan_json(h: &Harness) -> (Plan, Output) {
    let out = run(h, &["plan", "--format", "json", "--detailed-exitcode"]);
    assert!(
        matches!(out.status.code(), Some(0 | 2)),
        "{}",
        all_output(&out)
    );
    let plan = serde_json::from_slice(&out.stdout).expect("plan JSON");
    (plan, out)
}

/// Hole 2: appending an `identities:` entry that says alice is the
/// stranger's account made the next plan change the stranger's roles to
/// alice's Admin "because the config names this account", and apply
/// granted it. With the ledger key set, the forged record is set aside,
/// reported, and grants nothing; alice is invited by email as before.
#[test]
fn a_ledger_only_identity_edit_grants_nothing() {
    let h = with_key(harness(CONFIG));
    let out = h.apply();
    assert!(out.status.success(), "{}", all_output(&out));
    let ledger_file = h.ledger_dir().join("shop.yaml");
    let signed = std::fs::read_to_string(&ledger_file).expect("ledger");
    assert!(
        signed.contains("sig: "),
        "apply signs its records:\n{signed}"
    );

    // The attacker's pull request: alice is the stranger's account, and
    // accessctl granted it (so it would be removed otherwise).
    let forged = format!(
        "{signed}identities:\n- email: alice@agency.example\n  account_id: acct-stranger\n  source: invite-match\n  learned_at: 2026-11-14T10:00:00Z\n"
    );
    std::fs::write(&ledger_file, forged).expect("write");

    let (plan, out) = plan_json(&h);
    let site = &plan.sites[0];
    assert!(
        site.changes
            .iter()
            .all(|c| c.account_id.as_deref() != Some("acct-stranger")),
        "nothing touches the stranger's account: {:#?}",
        site.changes
    );
    assert!(
        site.warnings
            .iter()
            .any(|w| w.contains("ledger record not used")
                && w.contains("identity alice@agency.example = account acct-stranger")),
        "the forged record is reported: {:?}",
        site.warnings
    );
    assert_eq!(plan.ledger, accessctl::plan::LedgerCheck::Verified);
    assert_no_secret(&out);

    let admin_before = stranger_roles(&h);
    let out = h.apply();
    assert!(out.status.success(), "{}", all_output(&out));
    assert_eq!(
        stranger_roles(&h),
        admin_before,
        "the stranger gained nothing"
    );
    assert_eq!(
        h.calls("PUT", "/roles-management/contributor/change/role"),
        0,
        "no role change was sent"
    );
}

/// The same forged record without a key is used (the ledger is then
/// unauthenticated, which apply warns about), but the plan states where the
/// account came from instead of claiming the config names it.
#[test]
fn without_a_key_the_plan_states_an_unverified_provenance() {
    let h = harness(CONFIG);
    std::fs::create_dir_all(h.ledger_dir()).expect("mkdir");
    std::fs::write(
        h.ledger_dir().join("shop.yaml"),
        "version: 1\nsite: shop\nsite_id: site-shop\nidentities:\n- email: alice@agency.example\n  account_id: acct-stranger\n  source: invite-match\n  learned_at: 2026-11-14T10:00:00Z\n",
    )
    .expect("write");
    let (plan, _) = plan_json(&h);
    let change = plan.sites[0]
        .changes
        .iter()
        .find(|c| c.account_id.as_deref() == Some("acct-stranger"))
        .expect("the unverified record is used");
    assert_eq!(change.action, Action::ChangeRole);
    assert_eq!(
        change.identity,
        Some(accessctl::plan::Provenance::LedgerUnverified)
    );
    assert!(
        change.reason.contains("not verified") && !change.reason.contains("config names"),
        "{}",
        change.reason
    );
    let out = run(&h, &["plan"]);
    assert!(
        stdout(&out).contains("on ledger records that were not verified"),
        "{}",
        stdout(&out)
    );
    let out = h.apply();
    assert!(
        stderr(&out).contains("the ledger is not authenticated"),
        "apply warns once: {}",
        stderr(&out)
    );
}

/// The stranger's role ids on the shop; panics when the stranger is not
/// there, so "unchanged" never compares two misses.
fn stranger_roles(h: &Harness) -> serde_json::Value {
    let state = h.get("/_emulator/state");
    let contributor = state["sites"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["id"] == "site-shop")
        .flat_map(|s| s["contributors"].as_array().into_iter().flatten())
        .find(|c| c["accountId"] == "acct-stranger")
        .unwrap_or_else(|| panic!("the stranger is not on site-shop: {state}"));
    let roles = contributor["roleIds"].clone();
    assert!(
        roles.as_array().is_some_and(|r| !r.is_empty()),
        "{contributor}"
    );
    roles
}

/// Hole 3: two applies on one ledger both sent every Bulk Invite. The
/// second now refuses on the lock, naming the first, and every invite goes
/// out once.
#[test]
fn two_concurrent_applies_send_each_invite_once() {
    let h = harness(CONFIG);
    // Slow Wix down so the first apply is still running when the second
    // starts.
    h.set_faults(serde_json::json!({ "rules": [ { "endpoint": "*", "latencyMs": 400 } ] }));
    let mut first = h.std_cmd(&["apply", "--auto-approve"]);
    first
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let first = first.spawn().expect("first apply starts");
    let lock = h.ledger_dir().join(accessctl::ledger::LOCK_FILE);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !std::fs::read_to_string(&lock).is_ok_and(|t| t.contains("pid")) {
        assert!(
            std::time::Instant::now() < deadline,
            "the first apply never locked"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let second = h.apply();
    let text = all_output(&second);
    assert_eq!(second.status.code(), Some(3), "{text}");
    assert!(
        text.contains("locked by another accessctl process")
            && text.contains(&format!("pid {}", first.id())),
        "{text}"
    );
    let first = first.wait_with_output().expect("first apply ends");
    assert!(first.status.success(), "{}", all_output(&first));
    assert_eq!(
        h.calls("POST", "/invites/site-invite/bulk"),
        1,
        "alice's invite is sent by the first apply only"
    );
    let invited = h.invited();
    let mut emails: Vec<&str> = invited.iter().map(|(_, e, _)| e.as_str()).collect();
    emails.sort_unstable();
    let before = emails.len();
    emails.dedup();
    assert_eq!(before, emails.len(), "no email invited twice: {invited:?}");
    assert!(!lock.exists(), "the lock file is removed when apply ends");
}

fn guarded_config(protect: &str, bob_grant: bool) -> String {
    let bob = if bob_grant {
        "      - person: bob\n        role: Blog Editor\n"
    } else {
        ""
    };
    format!(
        r#"
version: 2
people:
  alice: {{ email: alice@agency.example }}
  bob:   {{ email: bob@agency.example, wix_account_id: acct-bob }}
sites:
  shop:
    wix: {{ site_id: site-shop, account_id: acc-1, api_key_env: SHOP_KEY }}
    unmanaged: remove
    access:
      - person: alice
        role: Admin (Co-Owner)
{bob}safety:
  max_removals_per_site: 1
{protect}"#
    )
}

/// Hole 7: removing `safety.protect` in the same change that removes the
/// protected person let the removal through. The guards of the last apply
/// stay in force: the plan reports a safety change and apply refuses until
/// a maintainer passes `--allow-safety-change`.
#[test]
fn a_config_cannot_drop_a_guard_in_the_change_that_needs_it() {
    let h = with_key(harness(&guarded_config("  protect: [bob]\n", true)));
    let out = h.apply();
    assert!(out.status.success(), "{}", all_output(&out));
    let record =
        std::fs::read_to_string(h.ledger_dir().join(accessctl::ledger::guards::GUARDS_FILE))
            .expect("the guards are recorded");
    assert!(
        record.contains("bob") && record.contains("sig:"),
        "{record}"
    );

    // The pull request: bob's grant goes, and so does his protection, and
    // the cap is raised.
    h.write_config(
        &guarded_config("", false).replace("max_removals_per_site: 1", "max_removals_per_site: 9"),
    );
    let out = run(&h, &["plan"]);
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains("safety change: `bob` is no longer in `safety.protect`")
            && text.contains("`safety.max_removals_per_site` was raised from 1 to 9")
            && text.contains("--allow-safety-change"),
        "{text}"
    );
    assert!(
        text.contains("would remove `bob`"),
        "bob is still protected: {text}"
    );
    // The first apply removed the unmanaged stranger; nothing more.
    assert_eq!(h.calls("POST", "/roles-management/contributor/remove"), 1);
    let out = h.apply();
    assert_eq!(out.status.code(), Some(3), "{}", all_output(&out));
    assert_eq!(h.calls("POST", "/roles-management/contributor/remove"), 1);

    // Editing the record to weaken it breaks nothing: the stricter wins.
    let guards = h.ledger_dir().join(accessctl::ledger::guards::GUARDS_FILE);
    let edited = std::fs::read_to_string(&guards)
        .expect("read")
        .replace("protect:\n- bob", "protect: []");
    assert!(!edited.contains("bob"), "{edited}");
    std::fs::write(&guards, edited).expect("write");
    let out = h.apply();
    assert_eq!(out.status.code(), Some(3), "{}", all_output(&out));

    // Deleting it is a safety change too, once the ledger is authenticated.
    std::fs::remove_file(&guards).expect("rm");
    let out = run(&h, &["plan"]);
    assert!(
        all_output(&out).contains("the guards record (`_guards.yaml`) is missing"),
        "{}",
        all_output(&out)
    );

    // A maintainer's decision goes through, and becomes the new record.
    let out = run(&h, &["apply", "--auto-approve", "--allow-safety-change"]);
    assert!(out.status.success(), "{}", all_output(&out));
    let record = std::fs::read_to_string(&guards).expect("recorded again");
    assert!(
        !record.contains("bob") && record.contains("max_removals_per_site: 9"),
        "{record}"
    );
    let out = run(&h, &["plan", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
}

/// Command-line caps can only tighten the guards in force: a flag higher
/// than the config's cap changes nothing, a lower one refuses.
#[test]
fn command_line_caps_only_tighten() {
    let h = harness(
        &guarded_config("", true).replace("max_removals_per_site: 1", "max_removals_per_site: 0"),
    );
    // The stranger is unmanaged and `unmanaged: remove`: one removal.
    let out = run(&h, &["plan", "--max-removals-per-site", "99"]);
    assert_eq!(out.status.code(), Some(3), "{}", all_output(&out));
    assert!(
        all_output(&out).contains("more than `safety.max_removals_per_site` (0)"),
        "{}",
        all_output(&out)
    );
    h.write_config(&guarded_config("", true));
    let out = run(&h, &["plan", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(2), "{}", all_output(&out));
    let out = run(&h, &["plan", "--max-removals-total", "0"]);
    assert_eq!(out.status.code(), Some(3), "{}", all_output(&out));
    assert!(
        all_output(&out).contains("more than `safety.max_removals_total` (0)"),
        "{}",
        all_output(&out)
    );
}

/// The guards record is committed like the ledger: a pull request that
/// writes a line break and a workflow command into a protected key gets a
/// refusal to read the record, never a `::` line in the output.
#[test]
fn a_guards_record_cannot_inject_output() {
    let h = harness(CONFIG);
    std::fs::create_dir_all(h.ledger_dir()).expect("mkdir");
    std::fs::write(
        h.ledger_dir().join(accessctl::ledger::guards::GUARDS_FILE),
        "version: 2\nrecorded_at: 2026-11-14T10:00:00Z\nprotect:\n- \"bob\\n::error::pwned\"\n",
    )
    .expect("write");
    let out = h
        .cmd(&["plan"])
        .env("GITHUB_ACTIONS", "true")
        .output()
        .expect("runs");
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("not a config key"), "{text}");
    assert!(
        !text
            .lines()
            .any(|l| l.trim_start().starts_with("::error::pwned")),
        "{text}"
    );
}
