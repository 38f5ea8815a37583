//! Plans of part of the sites, through the binary over loopback:
//! `plan --changed-from BASE` plans exactly the sites a change affects and
//! names the others; `--shard K/N` slices the sites (disjoint, covering,
//! key groups together), for `plan` and `snapshot` alike; `plan merge`
//! joins shard plans into exactly the unsharded plan.

mod common;

use std::collections::BTreeSet;

use accessctl::plan::Plan;
use common::{Harness, stderr, stdout};

const SEED: &str = r#"
accounts:
  - { id: acc-a, api_keys: [key-a] }
  - { id: acc-b, api_keys: [key-b] }
  - { id: acc-c, api_keys: [key-c] }
  - { id: acc-d, api_keys: [key-d] }
  - { id: acc-r, api_keys: [key-r] }
sites:
  - id: site-01
    account: acc-a
    contributors:
      - { account_id: acct-bob, roles: [Blog Editor] }
      - { account_id: acct-old, roles: [Website Designer] }
  - { id: site-02, account: acc-a }
  - { id: site-03, account: acc-a }
  - { id: site-04, account: acc-b }
  - id: site-05
    account: acc-b
    contributors:
      - { account_id: acct-gone, roles: [Blog Writer] }
  - { id: site-06, account: acc-c }
  - { id: site-07, account: acc-d }
  - { id: site-08, account: acc-r }
  - { id: site-09, account: acc-r }
  - { id: site-10, account: acc-d }
"#;

const CONFIG: &str = r#"
version: 2
people:
  alice: { email: alice@agency.example }
  bob:   { email: bob@agency.example, wix_account_id: acct-bob }
  carol: { email: carol@agency.example }
  dave:  { email: dave@agency.example }
teams:
  design: [carol, dave]
levels:
  editor:
    wix: [Blog Editor]
sites:
  s01:
    wix: { site_id: site-01, account_id: acc-a, api_key_env: KEY_A }
    unmanaged: remove
    access:
      - person: alice
        role: Website Manager
  s02:
    wix: { site_id: site-02, account_id: acc-a, api_key_env: KEY_A }
    access:
      - team: design
        role: Website Designer
  s03:
    wix: { site_id: site-03, account_id: acc-a, api_key_env: KEY_A }
    access:
      - person: bob
        level: editor
  s04:
    wix: { site_id: site-04, account_id: acc-b, api_key_env: KEY_B }
    access:
      - person: alice
        level: editor
  s05:
    wix: { site_id: site-05, account_id: acc-b, api_key_env: KEY_B }
    unmanaged: remove
    access:
      - email: writer@freelance.example
        role: Blog Writer
  s06:
    wix: { site_id: site-06, account_id: acc-c, api_key_env: KEY_C }
    access:
      - person: carol
        role: Blog Writer
  s07:
    wix: { site_id: site-07, account_id: acc-d, api_key_env: KEY_D }
    access:
      - team: design
        role: Blog Writer
  s08:
    wix: { site_id: site-08, account_id: acc-r }
    owner: { email: owner8@client.example }
    access:
      - person: dave
        role: Website Manager
  s09:
    wix: { site_id: site-09, account_id: acc-r }
    owner: { email: owner9@client.example }
    access:
      - person: alice
        role: Website Manager
requests:
  agency: Agency
  channel: webhook
  webhook:
    url_env: AGENCY_WEBHOOK_URL
    secret_env: AGENCY_WEBHOOK_SECRET
safety:
  max_removals_total: 1
"#;

const ALL: [&str; 9] = [
    "s01", "s02", "s03", "s04", "s05", "s06", "s07", "s08", "s09",
];

fn harness() -> Harness {
    Harness::new(
        SEED,
        CONFIG,
        &[
            ("KEY_A", "key-a"),
            ("KEY_B", "key-b"),
            ("KEY_C", "key-c"),
            ("KEY_D", "key-d"),
        ],
    )
}

/// Runs the binary; panics unless it exits with one of `codes`.
fn run(h: &Harness, args: &[&str], codes: &[i32]) -> std::process::Output {
    let out = h.cmd(args).output().expect("runs");
    let code = out.status.code().unwrap_or(-1);
    assert!(
        codes.contains(&code),
        "{args:?} exited {code}:\n{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

fn json(out: &std::process::Output) -> Plan {
    serde_json::from_slice(&out.stdout).expect("plan JSON parses")
}

fn site_keys(plan: &Plan) -> Vec<String> {
    plan.sites.iter().map(|s| s.site.clone()).collect()
}

fn strings(keys: &[&str]) -> Vec<String> {
    keys.iter().map(|s| s.to_string()).collect()
}

/// `plan --changed-from base.yaml` after the config is edited to `head`:
/// the sites planned and the sites skipped.
fn changed(h: &Harness, head: &str) -> (Vec<String>, Vec<String>, String) {
    changed_between(h, CONFIG, head)
}

/// [`changed`] from another base than `CONFIG`.
fn changed_between(h: &Harness, base: &str, head: &str) -> (Vec<String>, Vec<String>, String) {
    std::fs::write(h.dir.path().join("base.yaml"), base).expect("write base");
    h.write_config(head);
    let out = run(
        h,
        &["plan", "--changed-from", "base.yaml", "--format", "json"],
        &[0, 3],
    );
    let plan = json(&out);
    let text = run(h, &["plan", "--changed-from", "base.yaml"], &[0, 3]);
    (site_keys(&plan), plan.skipped, stdout(&text))
}

fn except(planned: &[&str]) -> Vec<String> {
    ALL.iter()
        .filter(|s| !planned.contains(s))
        .map(|s| s.to_string())
        .collect()
}

#[test]
fn changed_from_plans_exactly_the_sites_a_change_affects() {
    let h = harness();

    // Nothing changed: nothing planned, every site named as skipped.
    let (planned, skipped, text) = changed(&h, CONFIG);
    assert!(planned.is_empty(), "{planned:?}");
    assert_eq!(skipped, strings(&ALL));
    assert!(
        text.contains("Skipped 9 sites unchanged from the base config (--changed-from); drift on them is not checked: `s01`"),
        "{text}"
    );

    // A site's own block; moving lines elsewhere in the file is no change.
    let head = CONFIG
        .replace(
            "      - person: alice\n        role: Website Manager\n  s02:",
            "      - person: alice\n        role: Blog Editor\n  s02:",
        )
        .replace(
            "version: 2\n",
            "version: 2\n\n# a comment moves every line\n",
        );
    let (planned, skipped, text) = changed(&h, &head);
    assert_eq!(planned, ["s01"]);
    assert_eq!(skipped, except(&["s01"]));
    assert!(text.contains("site s01"), "{text}");
    assert!(text.contains("Skipped 8 sites"), "{text}");
    assert!(!text.contains("site s02"), "{text}");

    // `ledger_dir: access.ledger` written out is the default of access.yaml
    // (the base is saved under another name, with another default): no
    // change, in the base, the head or both.
    let explicit = CONFIG.replace("version: 2\n", "version: 2\nledger_dir: access.ledger\n");
    let edit = |c: &str| c.replace("role: Website Manager\n  s02:", "role: Blog Editor\n  s02:");
    for (base, head) in [
        (explicit.clone(), edit(&explicit)),
        (CONFIG.to_string(), edit(&explicit)),
        (explicit.clone(), edit(CONFIG)),
    ] {
        assert_eq!(changed_between(&h, &base, &head).0, ["s01"]);
    }
    // Another ledger directory is a change for every site.
    let moved = CONFIG.replace("version: 2\n", "version: 2\nledger_dir: ledgers\n");
    assert_eq!(changed(&h, &moved).0, strings(&ALL));

    // A person: only the sites granting them (bob is granted on s03 only,
    // though he is a collaborator on site-01's Wix site).
    let head = CONFIG.replace("bob@agency.example", "robert@agency.example");
    let (planned, skipped, _) = changed(&h, &head);
    assert_eq!(planned, ["s03"]);
    assert_eq!(skipped, except(&["s03"]));
    // Their Wix account id too.
    let head = CONFIG.replace("wix_account_id: acct-bob", "wix_account_id: acct-robert");
    assert_eq!(changed(&h, &head).0, ["s03"]);

    // A person in a team: the team's sites and their own.
    let head = CONFIG.replace("carol@agency.example", "caroline@agency.example");
    assert_eq!(changed(&h, &head).0, ["s02", "s06", "s07"]);

    // A team: the sites granting the team (s08 grants dave directly).
    let head = CONFIG.replace("design: [carol, dave]", "design: [carol]");
    assert_eq!(changed(&h, &head).0, ["s02", "s07"]);

    // A level: the sites granting it.
    let head = CONFIG.replace("wix: [Blog Editor]", "wix: [Blog Writer]");
    assert_eq!(changed(&h, &head).0, ["s03", "s04"]);

    // Request settings: request-mode sites only.
    let head = CONFIG.replace("agency: Agency", "agency: The Agency");
    assert_eq!(changed(&h, &head).0, ["s08", "s09"]);

    // A new site is planned; safety changes touch every site.
    let head = CONFIG.replace(
        "  s09:",
        "  s10:\n    wix: { site_id: site-10, account_id: acc-d, api_key_env: KEY_D }\n    access: []\n  s09:",
    );
    assert_eq!(changed(&h, &head).0, ["s10"]);
    let head = CONFIG.replace(
        "max_removals_total: 1",
        "max_removals_total: 1\n  protect: [alice]",
    );
    let (planned, skipped, _) = changed(&h, &head);
    assert_eq!(planned, strings(&ALL));
    assert!(skipped.is_empty());

    // With --site, only the selection is planned or skipped.
    std::fs::write(h.dir.path().join("base.yaml"), CONFIG).expect("write base");
    h.write_config(&CONFIG.replace("bob@agency.example", "robert@agency.example"));
    let plan = json(&run(
        &h,
        &[
            "plan",
            "--changed-from",
            "base.yaml",
            "--site",
            "s03",
            "--site",
            "s04",
            "--format",
            "json",
        ],
        &[0, 3],
    ));
    assert_eq!(site_keys(&plan), ["s03"]);
    assert_eq!(plan.skipped, ["s04"]);

    // Markdown says it too.
    let md = stdout(&run(
        &h,
        &[
            "plan",
            "--changed-from",
            "base.yaml",
            "--format",
            "markdown",
        ],
        &[0, 3],
    ));
    assert!(
        md.contains("> [!NOTE]\n> Skipped 8 sites unchanged from the base config"),
        "{md}"
    );
}

#[test]
fn a_base_config_that_does_not_load_is_an_error() {
    let h = harness();
    std::fs::write(h.dir.path().join("base.yaml"), "version: 2\nsites: [oops\n").expect("write");
    let out = run(&h, &["plan", "--changed-from", "base.yaml"], &[1]);
    let err = stderr(&out);
    assert!(
        err.contains("the base config base.yaml (--changed-from) does not load"),
        "{err}"
    );
    assert!(err.contains("git show origin/main:access.yaml"), "{err}");
    assert!(stdout(&out).is_empty(), "no plan at all: {}", stdout(&out));

    let out = run(&h, &["plan", "--changed-from", "missing.yaml"], &[1]);
    assert!(stderr(&out).contains("does not load"), "{}", stderr(&out));
}

#[test]
fn shards_are_disjoint_cover_every_site_and_keep_key_groups_together() {
    let h = harness();
    for n in 1..=4u32 {
        let mut seen: Vec<String> = Vec::new();
        let mut shard_of = std::collections::BTreeMap::new();
        for k in 1..=n {
            let shard = format!("{k}/{n}");
            let plan = json(&run(
                &h,
                &["plan", "--shard", &shard, "--format", "json"],
                &[0, 3],
            ));
            assert_eq!(
                plan.shard.map(|s| (s.index, s.count)),
                Some((k, n)),
                "records its shard"
            );
            for site in site_keys(&plan) {
                shard_of.insert(site.clone(), k);
                seen.push(site);
            }
        }
        let unique: BTreeSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "disjoint: {seen:?}");
        assert_eq!(
            unique.into_iter().cloned().collect::<Vec<_>>(),
            strings(&ALL),
            "cover"
        );
        assert_eq!(shard_of["s01"], shard_of["s02"], "KEY_A together");
        assert_eq!(shard_of["s01"], shard_of["s03"], "KEY_A together");
        assert_eq!(shard_of["s04"], shard_of["s05"], "KEY_B together");
        if n == 4 {
            // Balanced by requests: the three KEY_A sites (48 requests)
            // alone; KEY_B (32), KEY_C and KEY_D (16 each) spread out.
            let used: BTreeSet<u32> = shard_of.values().copied().collect();
            assert_eq!(used.len(), 4, "{shard_of:?}");
            assert_ne!(shard_of["s01"], shard_of["s04"]);
        }
    }

    // Usage errors name the problem.
    for bad in ["0/4", "5/4", "2", "1/0", "x/y"] {
        let out = run(&h, &["plan", "--shard", bad], &[1, 2]);
        assert!(stderr(&out).contains("--shard"), "{bad}: {}", stderr(&out));
    }
}

/// The site keys a snapshot file holds, in its order.
fn snapshot_sites(path: &std::path::Path) -> Vec<String> {
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("snapshot")).expect("JSON");
    doc["sites"]
        .as_array()
        .expect("sites")
        .iter()
        .map(|s| s["site"].as_str().expect("site key").to_string())
        .collect()
}

#[test]
fn shard_snapshots_are_the_plan_shards_disjoint_and_covering() {
    let h = harness();
    let site_id = |key: &str| format!("site-{}", &key[1..]);
    for n in [1u32, 3, 4] {
        let mut seen: Vec<String> = Vec::new();
        for k in 1..=n {
            let shard = format!("{k}/{n}");
            let file = h.dir.path().join(format!("snap-{k}-of-{n}.json"));
            let before = h.log().len();
            let out = run(
                &h,
                &[
                    "snapshot",
                    "--shard",
                    &shard,
                    "--out",
                    file.to_str().expect("utf-8"),
                ],
                &[0],
            );
            let sites = snapshot_sites(&file);
            assert!(
                stderr(&out).contains(&format!("(shard {shard})")),
                "{}",
                stderr(&out)
            );
            // Its own Wix sites were read, and no other (s08 and s09 are in
            // request mode: nothing to read).
            let read: BTreeSet<String> = h.log()[before..]
                .iter()
                .filter_map(|e| e["siteId"].as_str().map(str::to_string))
                .collect();
            let own: BTreeSet<String> = sites
                .iter()
                .filter(|k| !["s08", "s09"].contains(&k.as_str()))
                .map(|k| site_id(k))
                .collect();
            assert_eq!(read, own, "shard {shard}");
            // The same slice `plan --shard` takes.
            let plan = json(&run(
                &h,
                &["plan", "--shard", &shard, "--format", "json"],
                &[0, 3],
            ));
            assert_eq!(sites, site_keys(&plan), "shard {shard}");
            seen.extend(sites);
        }
        let unique: BTreeSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "disjoint: {seen:?}");
        assert_eq!(
            unique.into_iter().cloned().collect::<Vec<_>>(),
            strings(&ALL),
            "cover"
        );
    }

    // A shard with no site saves an empty snapshot: it reads nothing (an
    // empty selection must not become "every site").
    let file = h.dir.path().join("snap-empty.json");
    let before = h.log().len();
    let out = run(
        &h,
        &[
            "snapshot",
            "--shard",
            "20/20",
            "--out",
            file.to_str().expect("utf-8"),
        ],
        &[0],
    );
    assert!(snapshot_sites(&file).is_empty());
    assert_eq!(h.log().len(), before, "no site was read");
    assert!(
        stderr(&out).contains("saved a snapshot of 0 sites (shard 20/20)"),
        "{}",
        stderr(&out)
    );

    // A bad shard is a usage error naming the flag.
    let out = run(
        &h,
        &["snapshot", "--shard", "5/4", "--out", "x.json"],
        &[1, 2],
    );
    assert!(stderr(&out).contains("--shard"), "{}", stderr(&out));
}

#[test]
fn merged_shard_plans_equal_the_unsharded_plan() {
    let h = harness();
    let dir = h.dir.path();
    // The safety cap (1 removal in all) is broken only across shards: s01
    // and s05 each remove one collaborator and are in different shards.
    for format in ["json", "text", "markdown"] {
        let whole = run(&h, &["plan", "--format", format], &[3]);
        let mut files = Vec::new();
        for k in 1..=3 {
            let shard = format!("{k}/3");
            let file = dir.join(format!("shard-{k}.json"));
            run(
                &h,
                &[
                    "plan",
                    "--shard",
                    &shard,
                    "--format",
                    "json",
                    "--out",
                    file.to_str().expect("utf-8"),
                ],
                &[0, 3],
            );
            files.push(file.display().to_string());
        }
        let mut args = vec!["plan", "merge", "--format", format];
        // In any order.
        args.extend(files.iter().rev().map(String::as_str));
        let merged = run(&h, &args, &[3]);
        assert_eq!(
            stdout(&merged),
            stdout(&whole),
            "{format}: merged differs from unsharded"
        );
    }

    // With --changed-from too.
    std::fs::write(dir.join("base.yaml"), CONFIG).expect("write base");
    h.write_config(&CONFIG.replace("design: [carol, dave]", "design: [carol]"));
    let whole = run(
        &h,
        &["plan", "--changed-from", "base.yaml", "--format", "json"],
        &[0, 3],
    );
    let mut files = Vec::new();
    for k in 1..=2 {
        let file = dir.join(format!("changed-{k}.json"));
        let shard = format!("{k}/2");
        let out = run(
            &h,
            &[
                "plan",
                "--changed-from",
                "base.yaml",
                "--shard",
                &shard,
                "--format",
                "json",
            ],
            &[0, 3],
        );
        std::fs::write(&file, &out.stdout).expect("write");
        files.push(file.display().to_string());
    }
    let merged = run(
        &h,
        &["plan", "merge", "--format", "json", &files[0], &files[1]],
        &[0, 3],
    );
    assert_eq!(stdout(&merged), stdout(&whole));
}

#[test]
fn merge_refuses_plans_that_do_not_join() {
    let h = harness();
    let dir = h.dir.path();
    let mut files = Vec::new();
    for k in 1..=3 {
        let file = dir.join(format!("shard-{k}.json"));
        let shard = format!("{k}/3");
        run(
            &h,
            &[
                "plan",
                "--shard",
                &shard,
                "--out",
                file.to_str().expect("utf-8"),
            ],
            &[0, 3],
        );
        files.push(file.display().to_string());
    }
    let whole = dir.join("whole.json");
    run(&h, &["plan", "--out", whole.to_str().expect("utf-8")], &[3]);

    let refused = |args: &[&str], says: &str| {
        let mut all = vec!["plan", "merge"];
        all.extend_from_slice(args);
        let out = run(&h, &all, &[1]);
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    };
    refused(&[&files[0], &files[1]], "shard 3/3 missing");
    refused(&[&files[0], &files[0], &files[1]], "are both shard 1/3");
    refused(
        &[&files[0], &files[1], whole.to_str().expect("utf-8")],
        "is not a shard plan",
    );

    // Another config.
    h.write_config(&CONFIG.replace("agency: Agency", "agency: The Agency"));
    refused(
        &[&files[0], &files[1], &files[2]],
        "made from another config",
    );
    h.write_config(CONFIG);

    // Another day.
    let mut plan: Plan =
        serde_json::from_str(&std::fs::read_to_string(&files[2]).expect("read")).expect("parses");
    plan.today = "2026-11-14".into();
    let other_day = dir.join("other-day.json");
    std::fs::write(&other_day, serde_json::to_string(&plan).expect("json")).expect("write");
    refused(
        &[&files[0], &files[1], other_day.to_str().expect("utf-8")],
        "plans of different days do not join",
    );

    // A site moved into the wrong shard.
    let mut one: Plan =
        serde_json::from_str(&std::fs::read_to_string(&files[0]).expect("read")).expect("parses");
    let two: Plan =
        serde_json::from_str(&std::fs::read_to_string(&files[1]).expect("read")).expect("parses");
    one.sites.extend(two.sites.iter().take(1).cloned());
    let overlapping = dir.join("overlapping.json");
    std::fs::write(&overlapping, serde_json::to_string(&one).expect("json")).expect("write");
    refused(
        &[&files[1], &files[2], overlapping.to_str().expect("utf-8")],
        "more than one shard plan",
    );
    refused(
        &[overlapping.to_str().expect("utf-8"), &files[1], &files[2]],
        "which is in shard 2/3",
    );

    // apply refuses a shard plan: its guards saw one shard.
    let out = run(&h, &["apply", &files[0], "--auto-approve"], &[3]);
    assert!(
        stderr(&out).contains("accessctl plan merge"),
        "{}",
        stderr(&out)
    );
    // and --shard needs a plan file.
    let out = run(&h, &["apply", "--shard", "1/2", "--auto-approve"], &[1, 2]);
    assert!(stderr(&out).contains("PLAN_FILE"), "{}", stderr(&out));
}

#[test]
fn apply_one_shard_of_a_merged_plan() {
    let h = harness();
    let dir = h.dir.path();
    let mut files = Vec::new();
    for k in 1..=2 {
        let file = dir.join(format!("shard-{k}.json"));
        let shard = format!("{k}/2");
        run(
            &h,
            &[
                "plan",
                "--shard",
                &shard,
                "--out",
                file.to_str().expect("utf-8"),
                "--allow-removals",
            ],
            &[0],
        );
        files.push(file.display().to_string());
    }
    let merged = dir.join("merged.json");
    run(
        &h,
        &[
            "plan",
            "merge",
            "--allow-removals",
            "--out",
            merged.to_str().expect("utf-8"),
            &files[0],
            &files[1],
        ],
        &[0],
    );
    // Without the flag the merged plan breaks the cap across shards.
    let out = run(
        &h,
        &[
            "apply",
            merged.to_str().expect("utf-8"),
            "--shard",
            "1/2",
            "--auto-approve",
        ],
        &[3],
    );
    assert!(
        stderr(&out).contains("max_removals_total"),
        "{}",
        stderr(&out)
    );

    let out = run(
        &h,
        &[
            "apply",
            merged.to_str().expect("utf-8"),
            "--shard",
            "1/2",
            "--auto-approve",
            "--allow-removals",
        ],
        &[0],
    );
    assert!(
        stderr(&out).contains("applying shard 1/2"),
        "{}",
        stderr(&out)
    );
    // The other shard's sites are untouched: its plan is the same as before.
    let first: Plan =
        serde_json::from_str(&std::fs::read_to_string(&files[0]).expect("read")).expect("parses");
    let second: Plan =
        serde_json::from_str(&std::fs::read_to_string(&files[1]).expect("read")).expect("parses");
    let after = h.plan();
    for site in &after.sites {
        if let Some(then) = second.sites.iter().find(|s| s.site == site.site) {
            assert_eq!(site.changes, then.changes, "{} untouched", site.site);
        } else {
            let then = first
                .sites
                .iter()
                .find(|s| s.site == site.site)
                .expect("in a shard");
            if then.mode == accessctl::plan::Mode::Managed {
                assert!(
                    site.changes.len() < then.changes.len() || then.changes.is_empty(),
                    "{} applied: {:?}",
                    site.site,
                    site.changes
                );
            }
        }
    }
}

#[test]
fn the_matrix_workflow_is_valid_yaml_with_the_jobs_described() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("examples/github/accessctl-sharded.yml"))
        .expect("workflow");
    let wf: serde_json::Value = serde_saphyr::from_str(&text).expect("valid YAML");
    let jobs = &wf["jobs"];
    let runs = |job: &str| -> String {
        jobs[job]["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| format!("{}\n", s["run"].as_str().unwrap_or_default()))
            .collect()
    };
    let shards = |job: &str| jobs[job]["strategy"]["matrix"]["shard"].clone();
    assert_eq!(shards("plan"), serde_json::json!([1, 2, 3, 4]));
    assert_eq!(shards("apply"), shards("plan"));
    assert_eq!(wf["env"]["SHARDS"], 4, "SHARDS matches the matrices");
    assert!(runs("plan").contains("accessctl plan -c access.yaml --shard"));
    assert!(
        runs("plan").contains("$BASE_ARGS"),
        "changed-only on pull requests"
    );
    assert_eq!(jobs["merge"]["needs"], "plan");
    assert!(runs("merge").contains("accessctl plan merge -c access.yaml"));
    assert!(text.contains("updateComment"), "one comment, updated");
    assert_eq!(jobs["apply"]["needs"], "merge");
    assert!(runs("apply").contains("accessctl apply -c access.yaml plan.json --shard"));
    assert!(
        jobs["apply"]["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .any(|s| s["uses"] == "actions/upload-artifact@v4"
                && s["with"]["name"] == "ledger-shard-${{ matrix.shard }}"),
        "each apply shard uploads its ledger files"
    );
    assert_eq!(jobs["commit"]["needs"], "apply");
    assert!(runs("commit").contains("git push"));
    assert!(!runs("apply").contains("git push"), "only one job pushes");
    assert_eq!(
        jobs["apply"]["env"]["ACCESSCTL_LEDGER_KEY"],
        "${{ secrets.ACCESSCTL_LEDGER_KEY }}"
    );
    assert!(jobs["plan"]["env"]["ACCESSCTL_LEDGER_KEY"].is_null());

    // The single-job workflow: changed-only on pull requests, a nightly
    // full plan.
    let text =
        std::fs::read_to_string(root.join("examples/github/accessctl.yml")).expect("workflow");
    let wf: serde_json::Value = serde_saphyr::from_str(&text).expect("valid YAML");
    assert!(wf["on"]["schedule"][0]["cron"].is_string());
    assert!(text.contains("--changed-from $RUNNER_TEMP/base.yaml"));
    assert_eq!(wf["jobs"]["drift"]["if"], "github.event_name == 'schedule'");
}
