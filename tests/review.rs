//! The review workflow: saved plans that refuse a moved world, safety guards
//! with their numbers and overrides, exit codes.

mod common;

use common::{Harness, stderr, stdout};

const SEED: &str = r#"
accounts:
  - { id: acc-1, api_keys: [key-1] }
  - { id: acc-2, api_keys: [key-2] }
sites:
  - id: site-1
    account: acc-1
    contributors:
      - { account_id: acct-a, roles: [Blog Writer] }
      - { account_id: acct-b, roles: [Blog Writer] }
      - { account_id: acct-c, roles: [Blog Writer] }
      - { account_id: acct-alice, roles: [Website Manager, Blog Editor] }
  - id: site-2
    account: acc-2
    contributors:
      - { account_id: acct-d, roles: [Blog Writer] }
      - { account_id: acct-e, roles: [Blog Writer] }
"#;

/// Everyone on both sites is unmanaged and `unmanaged: remove`: 4 removals
/// on site one (of 4 collaborators), 2 on site two.
fn config(safety: &str) -> String {
    format!(
        r#"
version: 2
people:
  alice: {{ email: alice@agency.example, wix_account_id: acct-alice }}
  zed:   {{ email: zed@agency.example }}
sites:
  one:
    wix: {{ site_id: site-1, account_id: acc-1, api_key_env: KEY_1 }}
    unmanaged: remove
    access:
      - person: zed
        role: Blog Writer
  two:
    wix: {{ site_id: site-2, account_id: acc-2, api_key_env: KEY_2 }}
    unmanaged: remove
    access:
      - person: zed
        role: Blog Writer
{safety}
"#
    )
}

fn harness(safety: &str) -> Harness {
    Harness::new(
        SEED,
        &config(safety),
        &[("KEY_1", "key-1"), ("KEY_2", "key-2")],
    )
}

const LOOSE: &str =
    "safety:\n  max_removals_per_site: 10\n  max_removals_total: 10\n  max_removal_percent: 100\n";

fn writes(h: &Harness) -> usize {
    h.log().iter().filter(|e| e["method"] != "GET").count()
}

/// Runs `plan --out` and returns the saved plan's path and the run's stderr.
fn save_plan(h: &Harness) -> (std::path::PathBuf, String) {
    let file = h.dir.path().join("plan.json");
    let out = h
        .cmd(&["plan", "--out", &file.to_string_lossy()])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    (file, stderr(&out))
}

#[test]
fn saved_plan_applies_exactly_then_nothing_is_left() {
    let h = harness(LOOSE);
    let (file, err) = save_plan(&h);
    assert!(err.contains("accessctl apply"), "{err}");
    let saved: accessctl::plan::Plan =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("saved")).expect("plan JSON");
    assert_eq!(saved.change_count(), 8, "2 invites + 6 removals");
    assert!(saved.sites.iter().all(|s| s.fingerprint.is_some()));

    // No confirmation needed: the saved plan is the reviewed one.
    let out = h
        .cmd(&["apply", &file.to_string_lossy()])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(writes(&h), 2 + 6, "one bulk invite per site, six removals");
    assert_eq!(h.plan().change_count(), 0);
}

#[test]
fn saved_plan_is_refused_when_a_site_moved() {
    let h = harness(LOOSE);
    let (file, _) = save_plan(&h);
    // Someone adds a collaborator on site two between plan and apply.
    let (status, _) = h.send(
        reqwest::Method::PUT,
        "/_emulator/contributors",
        serde_json::json!({ "siteId": "site-2", "accountId": "acct-new", "roleIds": ["Website Designer"] }),
    );
    assert_eq!(status, 200);
    let out = h
        .cmd(&["apply", &file.to_string_lossy()])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("site `two` changed since the plan"), "{err}");
    assert!(err.contains("account acct-new: Website Designer"), "{err}");
    assert!(!err.contains("site `one`"), "site one did not move: {err}");
    assert_eq!(writes(&h), 0, "nothing applied");
}

#[test]
fn saved_plan_is_refused_when_the_config_changed() {
    let h = harness(LOOSE);
    let (file, _) = save_plan(&h);
    h.write_config(&config(LOOSE).replace("zed@agency.example", "zed@elsewhere.example"));
    let out = h
        .cmd(&["apply", &file.to_string_lossy()])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("changed since the plan was made"),
        "{}",
        stderr(&out)
    );
    assert_eq!(writes(&h), 0);
}

#[test]
fn garbage_plan_file_is_a_located_error() {
    let h = harness(LOOSE);
    let file = h.dir.path().join("plan.json");
    std::fs::write(&file, "{ \"format_version\": 1,\n  \"oops\": [").expect("write");
    let out = h
        .cmd(&["apply", &file.to_string_lossy()])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("plan.json:2:"), "{}", stderr(&out));
}

/// Each guard refuses with its numbers (exit 3, nothing applied) and passes
/// with its override.
#[test]
fn removal_caps_refuse_with_numbers_and_pass_with_override() {
    let cases = [
        (
            "safety:\n  max_removals_per_site: 3\n  max_removals_total: 10\n  max_removal_percent: 100\n",
            "site `one`: 4 removals, more than `safety.max_removals_per_site` (3)",
        ),
        (
            "safety:\n  max_removals_per_site: 10\n  max_removals_total: 5\n  max_removal_percent: 100\n",
            "6 removals across all sites, more than `safety.max_removals_total` (5)",
        ),
        (
            "safety:\n  max_removals_per_site: 10\n  max_removals_total: 10\n  max_removal_percent: 50\n",
            "site `one`: 4 of its 4 collaborators (100%) would be removed, more than `safety.max_removal_percent` (50%)",
        ),
    ];
    for (safety, message) in cases {
        let h = harness(safety);
        let out = h.cmd(&["plan"]).output().expect("runs");
        assert_eq!(out.status.code(), Some(3), "{safety}: {}", stderr(&out));
        assert!(stderr(&out).contains(message), "{safety}: {}", stderr(&out));
        assert!(stderr(&out).contains("--allow-removals"), "names the flag");
        assert!(
            stdout(&out).contains(message),
            "the plan itself shows the refusal"
        );
        let out = h.cmd(&["apply", "--auto-approve"]).output().expect("runs");
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(writes(&h), 0, "{safety}: refused apply changed something");

        let out = h.cmd(&["plan", "--allow-removals"]).output().expect("runs");
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let out = h
            .cmd(&["apply", "--auto-approve", "--allow-removals"])
            .output()
            .expect("runs");
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(h.plan().change_count(), 0);
    }
}

#[test]
fn defaults_guard_an_unconfigured_config() {
    // No safety block: defaults are 5 per site, 20 per run, 50 %.
    let h = harness("");
    let out = h.cmd(&["plan"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("`safety.max_removal_percent` (50%)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn protected_and_self_are_never_removed_or_downgraded_without_override() {
    for (safety, why) in [
        (
            "safety:\n  protect: [alice]\n  max_removal_percent: 100\n",
            "protected (`safety.protect`)",
        ),
        (
            "safety:\n  self: alice\n  max_removal_percent: 100\n",
            "the identity accessctl acts for (`safety.self`)",
        ),
    ] {
        // alice loses her grant: she would be removed with the unmanaged.
        let h = harness(safety);
        let out = h.cmd(&["plan", "--site", "one"]).output().expect("runs");
        assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains(&format!("site `one`: would remove `alice`, who is {why}")),
            "{err}"
        );
        assert!(err.contains("--allow-protected-changes"), "{err}");

        // A downgrade is refused too.
        let downgrade = config(safety).replace(
            "      - person: zed\n        role: Blog Writer\n  two:",
            "      - person: zed\n        role: Blog Writer\n      - person: alice\n        role: Blog Editor\n  two:",
        );
        h.write_config(&downgrade);
        let out = h.cmd(&["plan", "--site", "one"]).output().expect("runs");
        assert_eq!(out.status.code(), Some(3));
        assert!(
            stderr(&out).contains("would downgrade `alice`"),
            "{}",
            stderr(&out)
        );
        let out = h
            .cmd(&[
                "apply",
                "--site",
                "one",
                "--auto-approve",
                "--allow-protected-changes",
            ])
            .output()
            .expect("runs");
        assert!(out.status.success(), "{}", stderr(&out));
    }
}

#[test]
fn expiring_grants_are_warned_about() {
    let h = harness(LOOSE);
    let today = time::Date::parse(
        common::TODAY,
        &time::format_description::well_known::Iso8601::DATE,
    )
    .expect("TODAY is a date");
    let soon = (today + time::Duration::days(5)).to_string();
    h.write_config(&config(LOOSE).replace(
        "      - person: zed\n        role: Blog Writer\n  two:",
        &format!("      - person: zed\n        role: Blog Writer\n        until: {soon}\n  two:"),
    ));
    let plan = h.plan();
    let one = plan
        .sites
        .iter()
        .find(|s| s.site == "one")
        .expect("site one");
    assert!(
        one.warnings
            .iter()
            .any(|w| w.contains(&format!("ends on {soon} (in 5 days)"))),
        "{:?}",
        one.warnings
    );
}

#[test]
fn github_actions_gets_annotations_and_a_step_summary() {
    let h = harness(LOOSE);
    let summary = h.dir.path().join("summary.md");
    // A config error is an annotation on the file, line and column.
    std::fs::write(
        h.dir.path().join("broken.yaml"),
        "version: 2\nsites:\n  x:\n    wix: { site_id: s, account_id: a }\n    acess: []\n",
    )
    .expect("write");
    let out = h
        .cmd(&["validate"])
        .arg("-c")
        .arg(h.dir.path().join("broken.yaml"))
        .env("GITHUB_ACTIONS", "true")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    let annotation = err
        .lines()
        .find(|l| l.starts_with("::error file="))
        .unwrap_or_else(|| panic!("no annotation in:\n{err}"));
    assert!(
        annotation.contains("broken.yaml,line=5,col=5::unknown key `acess`"),
        "{annotation}"
    );

    // The plan's Markdown lands in the step summary.
    let out = h
        .cmd(&["plan"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let md = std::fs::read_to_string(&summary).expect("summary written");
    assert!(md.contains("| one |") && md.contains("<details>"), "{md}");

    // Without GITHUB_ACTIONS, nothing of the sort.
    let out = h
        .cmd(&["plan"])
        .env("GITHUB_STEP_SUMMARY", h.dir.path().join("other.md"))
        .output()
        .expect("runs");
    assert!(out.status.success());
    assert!(!h.dir.path().join("other.md").exists());
}

#[test]
fn doctor_reports_each_site_and_fails_on_a_wrong_key() {
    let h = harness(LOOSE);
    let out = h.cmd(&["doctor"]).output().expect("runs");
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let table = stdout(&out);
    assert!(table.starts_with("SITE"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("one") && l.contains(" ok ") && l.contains("4 + owner")),
        "{table}"
    );
    let before = writes(&h);
    let out = h
        .cmd(&["doctor"])
        .env("KEY_2", "not-the-key")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let table = stdout(&out);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("two") && l.contains("FAILED")),
        "{table}"
    );
    assert!(
        table.contains("two: Get Roles Info on site `two` failed: HTTP 401"),
        "{table}"
    );
    assert!(!format!("{table}{}", stderr(&out)).contains("not-the-key"));
    assert_eq!(writes(&h), before, "doctor never writes");
}

#[test]
fn example_workflow_is_valid_and_has_the_jobs() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let text =
        std::fs::read_to_string(root.join("examples/github/accessctl.yml")).expect("workflow");
    let wf: serde_json::Value = serde_saphyr::from_str(&text).expect("valid YAML");
    assert!(
        wf["on"]["pull_request"].is_object() && wf["on"]["push"].is_object(),
        "{wf}"
    );
    let plan = &wf["jobs"]["plan"];
    let apply = &wf["jobs"]["apply"];
    let steps = |job: &serde_json::Value| -> String {
        job["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| format!("{} {}", s["run"], s["with"]))
            .collect()
    };
    // The jobs run accessctl through the action in this repository; what
    // the action runs is in its files.
    let action_steps = |job: &serde_json::Value| -> Vec<serde_json::Value> {
        job["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| s["uses"] == "your-agency/accessctl/action@v1")
            .map(|s| s["with"].clone())
            .collect()
    };
    let commands = |job: &serde_json::Value| -> Vec<String> {
        action_steps(job)
            .iter()
            .map(|w| w["command"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(commands(plan), ["validate", "plan"]);
    assert_eq!(commands(apply), ["apply"]);
    assert!(
        !text.contains("cargo install"),
        "installs the release binary, not from source"
    );
    let action_yml = std::fs::read_to_string(root.join("action/action.yml")).expect("action.yml");
    let action: serde_json::Value = serde_saphyr::from_str(&action_yml).expect("valid YAML");
    let run_sh = std::fs::read_to_string(root.join("action/run.sh")).expect("run.sh");
    assert!(run_sh.contains("accessctl validate -c \"$config\""));
    assert!(run_sh.contains("accessctl plan -c \"$config\" --format markdown --detailed-exitcode"));
    assert!(
        action_yml.contains("updateComment") && action_yml.contains("<!-- accessctl-plan -->"),
        "updates one comment, found by its marker"
    );
    assert!(run_sh.contains("accessctl apply -c \"$config\" --auto-approve"));
    for input in ["command", "config", "args", "version"] {
        assert!(action["inputs"][input].is_object(), "input {input}");
    }
    for output in ["exitcode", "has-changes"] {
        assert!(action["outputs"][output].is_object(), "output {output}");
    }
    assert_eq!(action["runs"]["using"], "composite");
    assert!(
        steps(apply).contains("git add 'access.ledger/*.yaml'"),
        "commits the ledger back, never the lock file"
    );
    assert_eq!(apply["concurrency"]["group"], "accessctl-apply");
    // The private ledger key only where apply runs; plan gets the public key.
    assert_eq!(
        apply["env"]["ACCESSCTL_LEDGER_KEY"],
        "${{ secrets.ACCESSCTL_LEDGER_KEY }}"
    );
    assert!(plan["env"]["ACCESSCTL_LEDGER_KEY"].is_null(), "{plan}");
    assert!(text.matches("secrets.ACCESSCTL_LEDGER_KEY").count() == 1);
    assert!(
        !action_yml.contains("ACCESSCTL_LEDGER_KEY"),
        "the action never names the key"
    );
    assert_eq!(
        plan["env"]["ACCESSCTL_LEDGER_PUBLIC_KEY"],
        "${{ vars.ACCESSCTL_LEDGER_PUBLIC_KEY }}"
    );
    // A weakening of the guards is applied only from a manual run.
    assert!(wf["on"]["workflow_dispatch"]["inputs"]["allow_safety_change"].is_object());
    assert!(!steps(plan).contains("--allow-safety-change"));
    let apply_args = action_steps(apply)[0]["args"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        apply_args.contains("github.event_name == 'workflow_dispatch' && inputs.allow_safety_change && '--allow-safety-change'"),
        "{apply_args}"
    );
}

#[test]
fn completions_and_man_page_come_from_the_cli_definition() {
    let bin = common::accessctl;
    let out = bin().args(["completions", "bash"]).output().expect("runs");
    assert!(out.status.success());
    let bash = stdout(&out);
    assert!(
        bash.contains("accessctl") && bash.contains("--detailed-exitcode"),
        "bash completion knows the flags"
    );
    let out = bin().arg("man").output().expect("runs");
    assert!(out.status.success());
    let man = stdout(&out);
    assert!(
        man.starts_with(".ie") || man.contains(".TH accessctl"),
        "{}",
        &man[..man.len().min(200)]
    );
}
