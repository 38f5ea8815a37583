//! GA4 and GTM through the binary, beside a Wix site, against the one
//! emulator: a three-platform client converges; containers the config does
//! not manage keep what they have; guards and saved plans cover the new
//! targets; no token or key text reaches any output; and what a pull
//! request controls (the config) cannot point the credentials elsewhere.

mod common;

use common::{Harness, stderr, stdout};
use serde_json::Value;

const SA: &str = "accessctl@agency-project.iam.gserviceaccount.com";

fn seed() -> String {
    let head = common::google::seed_head();
    format!(
        "{head}  ga4:
    accounts:
      - {{ id: \"100\", properties: [\"200\"] }}
    bindings:
      - {{ parent: accounts/100, user: {SA}, roles: [predefinedRoles/admin] }}
      - {{ parent: properties/200, user: Bob@Agency.example, roles: [predefinedRoles/viewer] }}
      - {{ parent: properties/200, user: stray@elsewhere.example, roles: [predefinedRoles/editor] }}
  gtm:
    accounts:
      - id: \"6000\"
        containers:
          - {{ container_id: \"31\", public_id: GTM-AAAA111 }}
          - {{ container_id: \"32\", public_id: GTM-BBBB222 }}
          - {{ container_id: \"33\", public_id: GTM-CCCC333 }}
        permissions:
          - {{ email: {SA}, account: admin }}
          - {{ email: bob@agency.example, account: user, containers: {{ GTM-CCCC333: publish }} }}
"
    )
}

const CONFIG: &str = "version: 2
people:
  alice: { email: alice@agency.example }
  bob: { email: bob@agency.example }
teams:
  seo: [alice, bob]
levels:
  seo:
    wix: [Marketing Manager]
    ga4: [analyst]
    gtm: { account: user, containers: read }
sites:
  shop:
    wix: { site_id: site-1, account_id: acc-1, api_key_env: SHOP_KEY }
    ga4: { account: \"100\", property: \"200\" }
    gtm: { account: \"6000\", containers: [GTM-AAAA111, GTM-BBBB222] }
    unmanaged: remove
    access:
      - { team: seo, level: seo }
      - { person: alice, gtm: { containers: { GTM-BBBB222: publish } } }
";

fn harness() -> Harness {
    Harness::new(&seed(), CONFIG, &[("SHOP_KEY", "emu-key-1")])
}

fn ga4_bindings(h: &Harness) -> Vec<(String, String, Vec<String>)> {
    let mut out: Vec<(String, String, Vec<String>)> = h.get("/_emulator/google/ga4")["bindings"]
        .as_array()
        .expect("bindings")
        .iter()
        .map(|b| {
            let roles = b["roles"]
                .as_array()
                .expect("roles")
                .iter()
                .map(|r| r.as_str().unwrap_or_default().to_string())
                .collect();
            (
                b["parent"].as_str().unwrap_or_default().to_string(),
                b["user"].as_str().unwrap_or_default().to_lowercase(),
                roles,
            )
        })
        .collect();
    out.sort();
    out
}

/// A GTM document: email, account permission, (public container id,
/// permission) sorted.
type Document = (String, String, Vec<(String, String)>);

/// The GTM account's documents, sorted.
fn gtm_documents(h: &Harness) -> Vec<Document> {
    let state = h.get("/_emulator/google/gtm");
    let account = &state["accounts"][0];
    let public = |id: &str| -> String {
        account["containers"]
            .as_array()
            .expect("containers")
            .iter()
            .find(|c| c["containerId"] == id)
            .and_then(|c| c["publicId"].as_str())
            .unwrap_or(id)
            .to_string()
    };
    let mut docs: Vec<Document> = account["userPermissions"]
        .as_array()
        .expect("documents")
        .iter()
        .map(|d| {
            let mut containers: Vec<(String, String)> = d["containerAccess"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|c| {
                            (
                                public(c["containerId"].as_str().unwrap_or_default()),
                                c["permission"].as_str().unwrap_or_default().to_string(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            containers.sort();
            (
                d["emailAddress"].as_str().unwrap_or_default().to_string(),
                d["accountAccess"]["permission"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                containers,
            )
        })
        .collect();
    docs.sort();
    docs
}

fn s(v: &str) -> String {
    v.to_string()
}

#[test]
fn a_three_platform_client_converges_and_unmanaged_containers_keep_theirs() {
    let h = harness();
    let plan = h.plan();
    let shop = &plan.sites[0];
    assert_eq!(shop.changes.len(), 2, "two Wix invites: {shop:?}");
    let targets: Vec<(String, usize)> = shop
        .targets
        .iter()
        .map(|t| (format!("{} {}", t.platform, t.target), t.changes.len()))
        .collect();
    assert_eq!(
        targets,
        [
            (s("ga4 accounts/100"), 0),
            (s("ga4 properties/200"), 3),
            (s("gtm accounts/6000"), 2)
        ],
        "{shop:#?}"
    );

    let out = h.apply();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("site shop, GA4 properties/200: 3 done"),
        "{text}"
    );
    assert!(
        text.contains("site shop, GTM accounts/6000: 2 done"),
        "{text}"
    );

    // GA4: analyst for both, the stray editor removed (unmanaged: remove),
    // the service account's account-level admin untouched.
    assert_eq!(
        ga4_bindings(&h),
        [
            (s("accounts/100"), s(SA), vec![s("predefinedRoles/admin")]),
            (
                s("properties/200"),
                s("alice@agency.example"),
                vec![s("predefinedRoles/analyst")]
            ),
            (
                s("properties/200"),
                s("bob@agency.example"),
                vec![s("predefinedRoles/analyst")]
            ),
        ]
    );
    // GTM: bob's publish on the unmanaged GTM-CCCC333 survives his update;
    // alice's own grant raises GTM-BBBB222 to publish over the level's read.
    assert_eq!(
        gtm_documents(&h),
        [
            (s(SA), s("admin"), vec![]),
            (
                s("alice@agency.example"),
                s("user"),
                vec![
                    (s("GTM-AAAA111"), s("read")),
                    (s("GTM-BBBB222"), s("publish"))
                ]
            ),
            (
                s("bob@agency.example"),
                s("user"),
                vec![
                    (s("GTM-AAAA111"), s("read")),
                    (s("GTM-BBBB222"), s("read")),
                    (s("GTM-CCCC333"), s("publish"))
                ]
            ),
        ]
    );
    let again = h.plan();
    let changes: usize = again.sites[0].targets.iter().map(|t| t.changes.len()).sum();
    assert_eq!(changes, 0, "{:#?}", again.sites[0].targets);
    // A no-op plan sends no GTM write.
    let writes = h
        .log()
        .iter()
        .filter(|e| matches!(e["endpoint"].as_str(), Some("gtm.update" | "gtm.create")))
        .count();
    assert_eq!(writes, 2, "one create (alice), one update (bob)");
}

#[test]
fn the_summary_counts_per_platform_and_markdown_groups_by_platform() {
    let h = harness();
    let out = h.cmd(&["plan"]).output().expect("runs");
    let text = stdout(&out);
    assert!(
        text.contains("Plan: Wix: 2 to invite; GA4: 1 to add, 1 to update, 1 to remove; GTM: 1 to add, 1 to update."),
        "{text}"
    );
    let md = stdout(
        &h.cmd(&["plan", "--format", "markdown"])
            .output()
            .expect("runs"),
    );
    assert!(md.contains("**GA4 properties/200**:"), "{md}");
    assert!(md.contains("- stray@elsewhere.example: editor"), "{md}");
    let json: Value = serde_json::from_str(&stdout(
        &h.cmd(&["plan", "--format", "json"]).output().expect("runs"),
    ))
    .expect("json");
    assert_eq!(json["format_version"], 2);
    assert_eq!(json["sites"][0]["targets"][1]["platform"], "ga4");
}

#[test]
fn no_token_or_key_text_in_any_output() {
    let h = harness();
    let key: Value = serde_json::from_str(
        &std::fs::read_to_string(h.dir.path().join("service-account.json")).expect("key file"),
    )
    .expect("json");
    let private = key["private_key"].as_str().expect("private key");
    // A line from the middle of the key's base64.
    let key_line = private.lines().nth(5).expect("key line").to_string();
    let plan_file = h.dir.path().join("saved.json");
    let mut texts = Vec::new();
    for args in [
        vec!["-vv", "plan"],
        vec!["plan", "--format", "json"],
        vec!["plan", "--format", "markdown"],
        vec!["plan", "--out", plan_file.to_str().expect("utf-8")],
        vec!["-vv", "apply", "--auto-approve"],
        vec!["doctor"],
    ] {
        let out = h.cmd(&args).output().expect("runs");
        texts.push(format!("{args:?}\n{}{}", stdout(&out), stderr(&out)));
    }
    texts.push(std::fs::read_to_string(&plan_file).expect("plan file"));
    for entry in std::fs::read_dir(h.ledger_dir())
        .into_iter()
        .flatten()
        .flatten()
    {
        texts.push(std::fs::read_to_string(entry.path()).unwrap_or_default());
    }
    // Every token the emulator issued, from its log of token answers is
    // not kept; the tokens have the `ya29.` prefix Google's have.
    for text in &texts {
        assert!(!text.contains("ya29."), "a token in:\n{text}");
        assert!(!text.contains("PRIVATE KEY"), "the key in:\n{text}");
        assert!(!text.contains(&key_line), "key text in:\n{text}");
        assert!(!text.contains("eyJ"), "a signed assertion in:\n{text}");
    }
}

#[test]
fn missing_credentials_fail_the_targets_with_a_hint_and_leave_wix_planned() {
    let h = harness();
    let out = h
        .cmd(&["plan", "--format", "json"])
        .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let plan: Value = serde_json::from_str(&stdout(&out)).expect("json");
    let shop = &plan["sites"][0];
    assert_eq!(
        shop["changes"].as_array().map(Vec::len),
        Some(2),
        "Wix still planned"
    );
    for t in shop["targets"].as_array().expect("targets") {
        let error = t["errors"][0].as_str().expect("an error");
        assert!(error.contains("GOOGLE_APPLICATION_CREDENTIALS"), "{error}");
        assert!(error.contains("hint:"), "{error}");
        assert_eq!(t["changes"].as_array().map(Vec::len), Some(0));
    }
}

/// The config is pull-request text: the variable it names for credentials
/// may hold a secret that is not a key file path (here the ledger's private
/// key). Its value must not be shown, and nothing is granted.
#[test]
fn a_credentials_variable_naming_another_secret_leaks_nothing() {
    let h = harness();
    h.write_config(&CONFIG.replace(
        "ga4: { account: \"100\", property: \"200\" }",
        "ga4: { account: \"100\", property: \"200\", credentials_env: ACCESSCTL_LEDGER_KEY }",
    ));
    let secret = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
    let out = h
        .cmd(&["plan"])
        .env("ACCESSCTL_LEDGER_KEY", secret)
        .output()
        .expect("runs");
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!all.contains(secret), "{all}");
    assert!(!all.contains(&secret[..16]), "{all}");
    assert!(
        all.contains("ACCESSCTL_LEDGER_KEY"),
        "names the variable: {all}"
    );
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert_eq!(ga4_bindings(&h).len(), 3, "nothing changed");
}

#[test]
fn a_saved_plan_is_refused_when_a_target_moved() {
    let h = harness();
    let plan_file = h.dir.path().join("saved.json");
    let out = h
        .cmd(&["plan", "--out", plan_file.to_str().expect("utf-8")])
        .output()
        .expect("runs");
    assert!(matches!(out.status.code(), Some(0 | 2)), "{}", stderr(&out));
    // Someone grants access in GA4 by hand between plan and apply.
    let (status, token) = h.send(
        reqwest::Method::POST,
        "/_emulator/google/token",
        serde_json::json!({
            "clientEmail": SA,
            "projectId": "agency-project",
            "scopes": ["https://www.googleapis.com/auth/analytics.manage.users"],
        }),
    );
    assert_eq!(status, 200, "{token}");
    let created = h.rt.block_on(async {
        common::reqwest_client()
            .post(format!("{}/v1alpha/properties/200/accessBindings", h.base))
            .bearer_auth(token["access_token"].as_str().unwrap_or_default())
            .json(&serde_json::json!({ "user": "newcomer@agency.example", "roles": ["predefinedRoles/viewer"] }))
            .send()
            .await
            .expect("sent")
            .status()
    });
    assert!(created.is_success(), "{created}");
    let out = h
        .cmd(&[
            "apply",
            plan_file.to_str().expect("utf-8"),
            "--auto-approve",
        ])
        .output()
        .expect("runs");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("site `shop`, Google Analytics 4 properties/200: its bindings changed since the plan was made"),
        "{err}"
    );
    assert_eq!(ga4_bindings(&h).len(), 4, "nothing applied");
}

#[test]
fn a_protected_person_keeps_their_google_roles() {
    let h = harness();
    h.write_config(&format!("{CONFIG}safety:\n  protect: [bob]\n").replace(
        "      - { team: seo, level: seo }\n",
        "      - { person: alice, level: seo }\n",
    ));
    let out = h.cmd(&["plan"]).output().expect("runs");
    let text = stdout(&out);
    assert!(text.contains("refused: site `shop`, Google Analytics 4 properties/200: the plan takes access from `bob`"), "{text}");
    // On GTM bob holds only what the config does not manage (account user,
    // an unnamed container): nothing is planned for him there.
    assert!(!text.contains("- bob@agency.example: user"), "{text}");
    let out = h.cmd(&["apply", "--auto-approve"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        gtm_documents(&h)
            .iter()
            .any(|(e, _, c)| e == "bob@agency.example" && c.len() == 1),
        "bob untouched"
    );
}

#[test]
fn doctor_checks_each_google_target() {
    let h = harness();
    let out = h.cmd(&["doctor"]).output().expect("runs");
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    for row in [
        format!("shop  GA4 accounts/100    {SA}  granted  1 binding   yes"),
        format!("shop  GTM accounts/6000   {SA}  granted  2 bindings  yes"),
    ] {
        assert!(text.contains(&row), "{row}\n{text}");
    }
    // A service account that is not an administrator cannot read GTM's
    // user permissions: doctor says what to do, and fails.
    let h = Harness::new(
        &seed().replace(
            &format!("{{ email: {SA}, account: admin }}"),
            &format!("{{ email: {SA}, account: user }}"),
        ),
        CONFIG,
        &[("SHOP_KEY", "emu-key-1")],
    );
    let out = h.cmd(&["doctor"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("shop GTM accounts/6000:"), "{text}");
    assert!(text.to_lowercase().contains("admin"), "{text}");
    assert!(
        stderr(&out).contains("1 of 3 Google targets failed the check"),
        "{}",
        stderr(&out)
    );
}

/// Under GitHub Actions a target that could not be read is an annotation,
/// its title percent-encoded as a workflow-command property.
#[test]
fn a_target_error_is_an_annotation_under_github_actions() {
    let h = harness();
    let out = h
        .cmd(&["plan"])
        .env("GITHUB_ACTIONS", "true")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
        .output()
        .expect("runs");
    let err = stderr(&out);
    let line = err
        .lines()
        .find(|l| {
            l.starts_with(
                "::error title=accessctl%3A site shop%2C Google Analytics 4 properties/200::",
            )
        })
        .unwrap_or_else(|| panic!("no annotation for the GA4 property in:\n{err}"));
    assert!(line.contains("GOOGLE_APPLICATION_CREDENTIALS"), "{line}");
}

/// The config of [`CONFIG`] with `unmanaged: warn`: people not in the
/// config are only warned about.
fn warn_config() -> String {
    CONFIG.replace("unmanaged: remove", "unmanaged: warn")
}

/// `warn_config` without bob.
fn warn_config_without_bob() -> String {
    warn_config()
        .replace("  bob: { email: bob@agency.example }\n", "")
        .replace("seo: [alice, bob]", "seo: [alice]")
}

/// The ledger's `target_granted:` section (the Wix records above it name
/// the same people).
fn target_granted(h: &Harness) -> String {
    let ledger =
        std::fs::read_to_string(h.ledger_dir().join("shop.yaml")).expect("the ledger exists");
    let at = ledger
        .find("target_granted:")
        .unwrap_or_else(|| panic!("no target_granted section:\n{ledger}"));
    ledger[at..]
        .lines()
        .take_while(|l| {
            !l.is_empty()
                && (l.starts_with(' ') || l.starts_with('-') || l.starts_with("target_granted"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_person_the_config_drops_loses_google_access_even_under_unmanaged_warn() {
    let h = harness();
    h.write_config(&warn_config());
    let out = h.apply();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let ledger = target_granted(&h);
    assert!(
        ledger.contains("email: bob@agency.example")
            && ledger.contains("email: alice@agency.example"),
        "apply records whom it manages:\n{ledger}"
    );
    assert!(
        !ledger.contains("stray@elsewhere.example"),
        "a principal the config does not name is not recorded:\n{ledger}"
    );

    h.write_config(&warn_config_without_bob());
    let plan = h.cmd(&["plan"]).output().expect("runs");
    let text = stdout(&plan);
    assert!(
        text.contains("bob@agency.example")
            && text.contains("granted through accessctl; no grant in the config any more"),
        "{text}"
    );
    assert!(
        text.contains(
            "stray@elsewhere.example holds editor and is not in the config (unmanaged: warn)"
        ),
        "the stray binding is still only warned about: {text}"
    );
    let out = h.apply();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        !ga4_bindings(&h)
            .iter()
            .any(|(_, user, _)| user == "bob@agency.example"),
        "{:?}",
        ga4_bindings(&h)
    );
    // On GTM bob keeps only what he held on the container the config does
    // not manage.
    assert!(
        gtm_documents(&h).contains(&(
            s("bob@agency.example"),
            s("user"),
            vec![(s("GTM-CCCC333"), s("publish"))]
        )),
        "{:?}",
        gtm_documents(&h)
    );
    assert!(
        ga4_bindings(&h)
            .iter()
            .any(|(_, user, _)| user == "stray@elsewhere.example"),
        "unmanaged: warn keeps the stray binding"
    );
    assert!(
        !target_granted(&h).contains("bob@agency.example"),
        "a removal is forgotten:\n{}",
        target_granted(&h)
    );
    let plan = h.plan();
    assert_eq!(plan.change_count(), 0, "{plan:?}");
}

#[test]
fn access_held_before_the_config_named_it_is_recorded_by_an_apply_with_nothing_to_change() {
    let h = harness();
    h.write_config(&warn_config());
    assert_eq!(h.apply().status.code(), Some(0));
    // A fresh ledger, as after an upgrade: every binding already matches.
    std::fs::remove_file(h.ledger_dir().join("shop.yaml")).expect("remove the ledger");
    let out = h.apply();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        target_granted(&h).contains("email: bob@agency.example"),
        "{}",
        target_granted(&h)
    );
}

#[test]
fn a_forged_ledger_record_cannot_make_apply_remove_someone() {
    // The attacker's pull request adds a record naming a principal the
    // agency does not manage, hoping the next apply removes them.
    let mut h = harness();
    h.env.push((
        "ACCESSCTL_LEDGER_KEY".into(),
        "0707070707070707070707070707070707070707070707070707070707070707".into(),
    ));
    h.write_config(&warn_config());
    assert_eq!(h.apply().status.code(), Some(0));
    let path = h.ledger_dir().join("shop.yaml");
    let ledger = std::fs::read_to_string(&path).expect("ledger");
    assert!(ledger.contains("sig:"), "records are signed:\n{ledger}");
    let forged = ledger.replacen(
        "target_granted:\n",
        "target_granted:\n- platform: ga4\n  target: properties/200\n  email: stray@elsewhere.example\n",
        1,
    );
    assert_ne!(forged, ledger, "the record was added");
    std::fs::write(&path, forged).expect("write");
    let out = h.cmd(&["plan"]).output().expect("runs");
    let text = stdout(&out);
    assert!(
        !text.contains("- stray@elsewhere.example"),
        "an unsigned record removes no one:\n{text}"
    );
    assert!(
        format!("{text}{}", stderr(&out))
            .contains("granted stray@elsewhere.example on Google Analytics 4 properties/200"),
        "the plan names the record it set aside:\n{text}\n{}",
        stderr(&out)
    );
    assert_eq!(h.apply().status.code(), Some(0));
    assert!(
        ga4_bindings(&h)
            .iter()
            .any(|(_, user, _)| user == "stray@elsewhere.example"),
        "still there"
    );
}

/// An apply stopped part-way (here, killed right after its first recorded
/// GA4 or GTM call) loses nothing: what that call did is already in the
/// ledger, so a person it granted is someone accessctl manages even if the
/// config drops them before the next apply; the next apply finishes the
/// rest and records it.
#[test]
fn an_apply_killed_after_a_google_call_has_already_recorded_it() {
    let h = harness();
    h.write_config(&warn_config());
    let out = h
        .cmd(&["apply", "--auto-approve"])
        .env("ACCESSCTL_FAILPOINT", "after-target-record")
        .output()
        .expect("runs");
    assert!(
        stderr(&out).contains("failpoint after-target-record: aborting"),
        "{}",
        stderr(&out)
    );
    assert_ne!(out.status.code(), Some(0));
    let recorded = target_granted(&h);
    let emails: Vec<&str> = recorded
        .lines()
        .filter_map(|l| l.trim().strip_prefix("email: "))
        .collect();
    assert!(
        !emails.is_empty(),
        "the first call's grants are recorded:\n{recorded}"
    );
    // Each recorded email holds what the config grants on some target.
    for email in &emails {
        let on_ga4 = ga4_bindings(&h).iter().any(|(parent, user, roles)| {
            user == email
                && parent.starts_with("properties/")
                && roles.iter().any(|r| r.ends_with("analyst"))
        });
        let on_gtm = gtm_documents(&h)
            .iter()
            .any(|(user, role, _)| user == email && role == "user");
        assert!(
            on_ga4 || on_gtm,
            "{email} is recorded but holds nothing:\n{recorded}"
        );
    }
    let out = h.apply();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let recorded = target_granted(&h);
    assert!(
        recorded.matches("email: bob@agency.example").count() >= 2
            && recorded.matches("email: alice@agency.example").count() >= 2,
        "both, on both targets:\n{recorded}"
    );
    assert_eq!(h.plan().change_count(), 0);
}

/// A ledger that cannot be written (a file size limit of zero, which holds
/// for root too) stops each Google target after the call it could not
/// record: that call's change is reported done, the next is not made (bob
/// keeps his old GA4 role), and the exit code is 1.
#[test]
fn an_unwritable_ledger_stops_a_google_target_after_the_call_it_could_not_record() {
    let h = harness();
    h.write_config(&warn_config());
    let out = h.apply_with_unwritable_ledger();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{}\n{err}", stdout(&out));
    // GA4 creates before it updates: alice's binding was created (one
    // call), bob's update never sent.
    assert!(
        err.contains("shop GA4 properties/200: + alice@agency.example: done"),
        "{err}"
    );
    assert!(
        err.contains(
            "shop GA4 properties/200: ~ bob@agency.example: skipped: cannot write the ledger"
        ),
        "{err}"
    );
    assert!(
        err.contains("access this call granted is recorded by the next apply"),
        "{err}"
    );
    assert!(
        ga4_bindings(&h).contains(&(
            s("properties/200"),
            s("bob@agency.example"),
            vec![s("predefinedRoles/viewer")]
        )),
        "{:?}",
        ga4_bindings(&h)
    );
    // Once the ledger can be written, the next apply finishes and records.
    let out = h.apply();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(h.plan().change_count(), 0);
    assert!(target_granted(&h).contains("email: bob@agency.example"));
}
