//! `doctor` against the emulator under each reading of the unconfirmed API
//! details: it reports what it checks — the id header Get Roles Info took,
//! whether the role filter narrows, whether the owner is listed and what
//! `accountOwnerId` carries, and with `--probe-writes` the write methods —
//! and its probes change nothing.

mod common;

use common::{Harness, stderr, stdout};

const SEED: &str = r#"
accounts:
  - { id: acc-1, api_keys: [key-shop] }
sites:
  - id: site-shop
    account: acc-1
    contributors:
      - { account_id: acct-bob, roles: [Blog Editor, Website Manager] }
      - { account_id: acct-stranger, roles: [Website Designer] }
"#;

const CONFIG: &str = r#"
version: 2
people:
  alice: { email: alice@agency.example }
sites:
  shop:
    wix: { site_id: site-shop, account_id: acc-1, api_key_env: SHOP_KEY }
    access:
      - { person: alice, role: Website Manager }
"#;

fn writes(h: &Harness) -> Vec<(String, String)> {
    h.log()
        .iter()
        .filter(|e| e["method"] != "GET")
        .map(|e| {
            (
                e["method"].as_str().unwrap_or("").to_string(),
                e["path"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn contributors(h: &Harness) -> serde_json::Value {
    let state = h.get("/_emulator/state");
    let mut list = state["sites"][0]["contributors"].clone();
    // Assignment ids may be renewed by Change Role; the roles may not change.
    if let Some(items) = list.as_array_mut() {
        for c in items {
            if let Some(roles) = c["roles"].as_array_mut() {
                for r in roles {
                    if let Some(o) = r.as_object_mut() {
                        o.remove("assignmentId");
                    }
                }
            }
        }
    }
    list
}

/// (seed prefix, exit code, lines the summary must hold)
fn cases() -> Vec<(&'static str, i32, Vec<&'static str>)> {
    vec![
        (
            "",
            0,
            vec![
                "Get Roles Info id header: wix-account-id ×1",
                "role filter: narrows ×1",
                "owner listed: yes ×1",
                "accountOwnerId: the configured account_id ×1",
                "plan: reads this site ×1",
                "Change Role method: PUT ×1",
                "Remove Contributor method: POST ×1",
            ],
        ),
        (
            "remove_method: DELETE\nquirks: { change_role_method: PATCH, roles_id_header: site, owner_listed: hidden }\n",
            0,
            vec![
                "Get Roles Info id header: wix-site-id ×1",
                "owner listed: no ×1",
                "Change Role method: PATCH ×1",
                "Remove Contributor method: DELETE ×1",
            ],
        ),
        (
            "quirks: { role_filter: ignored }\n",
            1,
            vec![
                "role filter: IGNORED ×1",
                "plan: REFUSES this site ×1",
                "Change Role method: not probed ×1",
                "Remove Contributor method: POST ×1",
            ],
        ),
        (
            "quirks: { account_owner_id: owner_user_id }\n",
            1,
            vec![
                "accountOwnerId: one id that is NOT the configured account_id ×1",
                "plan: REFUSES this site ×1",
            ],
        ),
        (
            "quirks: { account_owner_id: per_contributor }\n",
            1,
            vec!["accountOwnerId: DIFFERS between rows"],
        ),
        (
            "quirks: { account_owner_id: omitted }\n",
            0,
            vec!["accountOwnerId: absent ×1"],
        ),
        (
            "remove_method: DELETE\nquirks: { remove_param: body }\n",
            1,
            vec!["Remove Contributor method: FAILED ×1"],
        ),
    ]
}

#[test]
fn doctor_reports_the_reading_each_variant_gives_and_changes_nothing() {
    for (quirks, code, expected) in cases() {
        let h = Harness::new(
            &format!("{quirks}{SEED}"),
            CONFIG,
            &[("SHOP_KEY", "key-shop")],
        );
        let ctx = format!("variant {quirks:?}");
        let before = contributors(&h);

        let out = h.cmd(&["doctor"]).output().expect("runs");
        let text = stdout(&out);
        assert!(
            text.contains("Change Role method: not probed ×1"),
            "{ctx}: {text}"
        );
        assert_eq!(writes(&h), vec![], "{ctx}: doctor alone only reads");

        let out = h.cmd(&["doctor", "--probe-writes"]).output().expect("runs");
        let text = stdout(&out);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{ctx}: {text}\n{}",
            stderr(&out)
        );
        let summary = text
            .split("--- accessctl doctor summary")
            .nth(1)
            .unwrap_or_else(|| panic!("{ctx}: no summary in {text}"));
        for line in expected {
            assert!(
                summary.contains(line),
                "{ctx}: {line:?} missing in {summary}"
            );
        }
        assert!(!summary.contains("acct-"), "{ctx}: no ids in the summary");
        assert_eq!(contributors(&h), before, "{ctx}: the probes change nothing");
    }
}
