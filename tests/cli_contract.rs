//! The command line's contract with pipelines: exit codes and clean logs.
//!
//! `--detailed-exitcode` makes 2 mean "changes pending", which CI reads as
//! success; a usage error must never look like it.

mod common;

use assert_cmd::Command;

fn bin() -> Command {
    let mut cmd = common::accessctl();
    cmd.env_remove("RUST_LOG").env_remove("NO_COLOR");
    cmd
}

/// Every class of clap error exits 1, with clap's message on stderr;
/// `--help` and `--version` exit 0.
#[test]
fn usage_errors_exit_1_never_2() {
    let cases: [(&str, &[&str]); 7] = [
        (
            "unknown flag",
            &["plan", "--detailed-exitcode", "--sitez", "x"],
        ),
        ("invalid value", &["plan", "--format", "xml"]),
        ("value out of range", &["plan", "--parallelism", "0"]),
        ("unknown subcommand", &["plna"]),
        (
            "missing argument",
            &["link", "shop", "--email", "a@b.example"],
        ),
        ("missing subcommand", &[]),
        ("unexpected value", &["validate", "extra"]),
    ];
    for (what, args) in cases {
        let out = bin().args(args).output().expect("runs");
        assert_eq!(
            out.status.code(),
            Some(1),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("error:") || stderr.contains("Usage:"),
            "{what}: clap's message is shown:\n{stderr}"
        );
    }
    for args in [&["--help"][..], &["--version"][..], &["plan", "--help"][..]] {
        let out = bin().args(args).output().expect("runs");
        assert_eq!(out.status.code(), Some(0), "{args:?}");
    }
}

/// Logs on a stderr that is not a terminal carry no colour codes.
#[test]
fn logs_carry_no_escape_bytes_off_a_terminal() {
    let h = common::Harness::new(
        "accounts:\n  - { id: acc-1, api_keys: [key-1] }\nsites:\n  - { id: site-1, account: acc-1 }\n",
        "version: 2\npeople:\n  alice: { email: alice@agency.example }\nsites:\n  shop:\n    wix: { site_id: site-1, account_id: acc-1, api_key_env: KEY }\n    access:\n      - { person: alice, role: Website Manager }\n",
        &[("KEY", "key-1")],
    );
    let out = h
        .cmd(&["-vv", "plan"])
        .env_remove("NO_COLOR")
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("DEBUG"), "-vv logged nothing:\n{stderr}");
    assert!(!stderr.contains('\u{1b}'), "escape bytes in:\n{stderr:?}");
}

/// `accessctl emulator` says how to point accessctl at it: the base URL and
/// the key variable of every site of the config, with the seed's key.
#[test]
fn the_emulator_prints_the_exports_for_the_config() {
    use std::io::BufRead as _;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut child = common::accessctl_process()
        .arg("-c")
        .arg(root.join("examples/agency.yaml"))
        .args(["emulator", "--listen", "127.0.0.1:0", "--seed"])
        .arg(root.join("examples/agency.seed.yaml"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starts");
    let stdout = child.stdout.take().expect("stdout");
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if send.send(line).is_err() {
                return;
            }
        }
    });
    let mut lines = Vec::new();
    while let Ok(line) = receive.recv_timeout(std::time::Duration::from_secs(10)) {
        let done = line.contains("ACME_WIX_API_KEY");
        lines.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        lines[0].starts_with("export ACCESSCTL_WIX_API_BASE=http://127.0.0.1:"),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l == "export ACME_WIX_API_KEY=emu-key-acme"),
        "{lines:?}"
    );
}

/// A saved plan applied a second time is recognised as already applied,
/// not reported as a site that "changed since the plan".
#[test]
fn a_saved_plan_applied_twice_says_so() {
    let h = common::Harness::new(
        "accounts:\n  - { id: acc-1, api_keys: [key-1] }\nsites:\n  - id: site-1\n    account: acc-1\n    contributors:\n      - { account_id: acct-bob, roles: [Blog Writer] }\n",
        "version: 2\npeople:\n  alice: { email: alice@agency.example }\n  bob: { email: bob@agency.example, wix_account_id: acct-bob }\nsites:\n  shop:\n    wix: { site_id: site-1, account_id: acc-1, api_key_env: KEY }\n    access:\n      - { person: alice, role: Website Manager }\n      - { person: bob, role: Blog Editor }\n",
        &[("KEY", "key-1")],
    );
    let file = h.dir.path().join("plan.json");
    let file = file.to_str().expect("utf-8");
    let out = h.cmd(&["plan", "--out", file]).output().expect("runs");
    assert!(out.status.success(), "{}", common::stderr(&out));
    let out = h.cmd(&["apply", file]).output().expect("runs");
    assert!(out.status.success(), "{}", common::stderr(&out));
    let out = h.cmd(&["apply", file]).output().expect("runs");
    let stderr = common::stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("this plan was already applied"), "{stderr}");
    assert!(!stderr.contains("changed since the plan"), "{stderr}");
}

/// `man --dir` writes the page every `SEE ALSO` names, with its options.
#[test]
fn man_writes_a_page_per_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = bin()
        .args(["man", "--dir"])
        .arg(dir.path())
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let main = std::fs::read_to_string(dir.path().join("accessctl.1")).expect("main page");
    assert!(
        main.contains("accessctl\\-plan(1)"),
        "the main page refers to the plan page"
    );
    let plan = std::fs::read_to_string(dir.path().join("accessctl-plan.1")).expect("plan page");
    assert!(plan.contains("detailed\\-exitcode"), "{plan}");
    for page in ["apply", "link", "ledger-keygen", "request-done"] {
        assert!(
            dir.path().join(format!("accessctl-{page}.1")).exists(),
            "{page}"
        );
    }
}

/// `-c` is refused where it means nothing, and each command's help speaks
/// of what that command does with the shared options.
#[test]
fn options_mean_something_where_they_are_accepted() {
    for command in ["schema", "completions", "man", "demo"] {
        let mut args = vec!["-c", "access.yaml", command];
        if command == "completions" {
            args.push("bash");
        }
        let out = bin().args(&args).output().expect("runs");
        assert_eq!(out.status.code(), Some(1), "{command}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("means nothing"),
            "{command}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = bin()
        .args(["schema"])
        .env("ACCESSCTL_CONFIG", "x.yaml")
        .output()
        .expect("runs");
    assert!(out.status.success(), "the variable is not a typed option");
    for command in ["plan", "import", "doctor"] {
        let help = bin().args([command, "--help"]).output().expect("runs");
        let help = String::from_utf8_lossy(&help.stdout);
        assert!(
            !help.contains("SMTP") && !help.contains("`apply` changes"),
            "{command}: {help}"
        );
    }
    let help = bin().args(["apply", "--help"]).output().expect("runs");
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("SMTP") && help.contains("`apply` changes"),
        "{help}"
    );
}

/// `--observed` with `--shard` or `--changed-from` is refused as a usage
/// error, before the config or the snapshot is read (neither exists here).
#[test]
fn observed_with_a_narrowing_flag_is_refused_before_reading_anything() {
    for narrowing in [&["--shard", "1/2"][..], &["--changed-from", "base.yaml"]] {
        let out = bin()
            .args(["-c", "missing.yaml", "plan", "--observed", "missing.json"])
            .args(narrowing)
            .output()
            .expect("runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains("`--observed` cannot be combined with `--shard` or `--changed-from`"),
            "{err}"
        );
        assert!(!err.contains("missing.yaml"), "{err}");
    }
}

/// On a terminal (stdout and stderr the same screen), each refusal is shown
/// once: the plan shows it, and stderr only says that the plan is refused.
#[test]
fn refusals_are_shown_once_on_a_terminal() {
    if !std::path::Path::new("/usr/bin/script").exists() {
        eprintln!("skipped: no `script` to run accessctl on a terminal");
        return;
    }
    let h = common::Harness::new(
        "accounts:\n  - { id: acc-1, api_keys: [key-1] }\nsites:\n  - id: site-1\n    account: acc-1\n    contributors:\n      - { account_id: acct-stranger, roles: [Blog Writer] }\n",
        "version: 2\npeople:\n  alice: { email: alice@agency.example }\nsites:\n  shop:\n    wix: { site_id: site-1, account_id: acc-1, api_key_env: KEY }\n    unmanaged: remove\n    access:\n      - { person: alice, role: Website Manager }\nsafety:\n  max_removals_per_site: 0\n",
        &[("KEY", "key-1")],
    );
    let out = std::process::Command::new("script")
        .arg("-qec")
        .arg(format!(
            "{} -c access.yaml plan",
            assert_cmd::cargo::cargo_bin("accessctl").display()
        ))
        .arg("/dev/null")
        .current_dir(h.dir.path())
        .envs(h.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .expect("runs");
    let screen = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        screen.matches("max_removals_per_site").count(),
        1,
        "the refusal appears once:\n{screen}"
    );
    assert!(
        screen.contains("this plan breaks 1 safety guard"),
        "{screen}"
    );
}

/// `link` with an email the config does not name says so, and prints the
/// person entry to add instead of recording anything.
#[test]
fn link_for_an_email_not_in_the_config_says_so() {
    let h = common::Harness::new(
        "accounts:\n  - { id: acc-1, api_keys: [key-1] }\nsites:\n  - { id: site-1, account: acc-1 }\n",
        "version: 2\npeople:\n  alice: { email: alice@agency.example }\nsites:\n  shop:\n    wix: { site_id: site-1, account_id: acc-1, api_key_env: KEY }\n    access:\n      - { person: alice, role: Website Manager }\n",
        &[("KEY", "key-1")],
    );
    let out = h
        .cmd(&[
            "link",
            "shop",
            "--email",
            "Stranger@Else.example",
            "--account",
            "acct-9",
        ])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(
        common::stderr(&out).contains("no person in")
            && common::stderr(&out).contains("stranger@else.example"),
        "{}",
        common::stderr(&out)
    );
    assert_eq!(
        common::stdout(&out),
        "people:\n  <key>: { email: stranger@else.example, wix_account_id: acct-9 }\n"
    );
    assert!(!h.ledger_dir().exists(), "nothing was recorded");
}
