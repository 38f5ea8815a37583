//! `accessctl import` for GA4 and GTM, through the binary against the
//! emulator: the entries it prints, pasted as a site's `access`, plan no
//! GA4/GTM change; hostile emails come out as YAML that reads back as the
//! same email; the service account and the client's owner are left out;
//! containers the site does not manage appear only in a comment.

mod common;

use common::{Harness, stderr, stdout};
use serde_json::Value;

const SA: &str = "accessctl@agency-project.iam.gserviceaccount.com";

/// An email the emulator's seed and the config accept that YAML would
/// misread unquoted: a mapping indicator, a comment sign, flow indicators,
/// quotes and a backslash.
const HOSTILE: &str = "x:y#z,{w}[v]\\\"'&*!|>%@evil.example";

/// One the config refuses (spaces), with a comment start (` #`) and a
/// mapping indicator (`: `): printed as a comment, on one line.
const SPACED: &str = "a: b #c@evil.example";

/// YAML double-quoted.
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The seed; `spaced` adds a binding for [`SPACED`].
fn seed(spaced: bool) -> String {
    let hostile = quoted(HOSTILE);
    let spaced = if spaced {
        format!(
            "\n      - {{ parent: properties/200, user: {}, roles: [predefinedRoles/viewer] }}",
            quoted(SPACED)
        )
    } else {
        String::new()
    };
    let head = common::google::seed_head();
    format!(
        "{head}  ga4:
    accounts:
      - {{ id: \"100\", properties: [\"200\"] }}
    bindings:
      - {{ parent: accounts/100, user: {SA}, roles: [predefinedRoles/admin] }}
      - {{ parent: accounts/100, user: carol@agency.example, roles: [predefinedRoles/viewer] }}
      - {{ parent: properties/200, user: Bob@Agency.example, roles: [predefinedRoles/analyst, predefinedRoles/no-cost-data] }}
      - {{ parent: properties/200, user: carol@agency.example, roles: [predefinedRoles/editor] }}
      - {{ parent: properties/200, user: owner@client.example, roles: [predefinedRoles/admin] }}
      - {{ parent: properties/200, user: {hostile}, roles: [predefinedRoles/viewer] }}{spaced}
  gtm:
    accounts:
      - id: \"6000\"
        containers:
          - {{ container_id: \"31\", public_id: GTM-AAAA111 }}
          - {{ container_id: \"32\", public_id: GTM-BBBB222 }}
          - {{ container_id: \"33\", public_id: GTM-CCCC333 }}
        permissions:
          - {{ email: {SA}, account: admin }}
          - {{ email: owner@client.example, account: admin }}
          - {{ email: bob@agency.example, account: user, containers: {{ GTM-AAAA111: read, GTM-BBBB222: read, GTM-CCCC333: publish }} }}
          - {{ email: carol@agency.example, account: admin, containers: {{ GTM-AAAA111: publish, GTM-BBBB222: edit }} }}
          - {{ email: dave@outside.example, account: user, containers: {{ GTM-CCCC333: edit }} }}
          - {{ email: {hostile}, account: user, containers: {{ GTM-BBBB222: approve }} }}
"
    )
}

/// The site, with `{access}` for its grants.
fn config(access: &str) -> String {
    format!(
        "version: 2
people:
  bob: {{ email: bob@agency.example }}
sites:
  shop:
    wix: {{ site_id: site-1, account_id: acc-1, api_key_env: SHOP_KEY }}
    owner: {{ email: owner@client.example }}
    ga4: {{ account: \"100\", property: \"200\" }}
    gtm: {{ account: \"6000\", containers: [GTM-AAAA111, GTM-BBBB222] }}
    unmanaged: remove
    access:{access}"
    )
}

fn import(h: &Harness) -> String {
    let out = h.cmd(&["import"]).output().expect("runs");
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    stdout(&out)
}

/// The site's `access` entries in the import output.
fn entries(text: &str) -> String {
    let start = text.find("    access:").expect("an access key") + "    access:".len();
    text[start..].to_string()
}

#[test]
fn pasted_import_plans_no_google_change() {
    let h = Harness::new(&seed(false), &config(" []\n"), &[("SHOP_KEY", "emu-key-1")]);
    let before = h.plan();
    let changes: usize = before.sites[0]
        .targets
        .iter()
        .map(|t| t.changes.len())
        .sum();
    assert!(changes > 0, "unmanaged: remove removes them all first");

    let text = import(&h);
    // One entry per email, the GA4 scopes and GTM merged; the list form
    // for the site's primary scope only; one permission for all managed
    // containers where it is the same.
    assert!(
        text.contains(
            "      - { person: bob, ga4: [analyst, no-cost-data], gtm: { account: user, containers: read } }\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "      - { email: carol@agency.example, ga4: { account: [viewer], property: [editor] }, gtm: { account: admin, containers: { GTM-AAAA111: publish, GTM-BBBB222: edit } } }\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("      - { email: dave@outside.example, gtm: { account: user } }\n"),
        "{text}"
    );
    // Unmanaged containers only in comments.
    assert!(
        text.contains(
            "      # bob@agency.example also holds GTM-CCCC333: publish on GTM containers the site's `gtm:` block does not manage (the plan keeps them)\n"
        ),
        "{text}"
    );
    for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
        assert!(!line.contains("GTM-CCCC333"), "{line}");
    }
    // Neither the service account nor the owner.
    assert!(!text.contains(SA), "{text}");
    assert!(!text.contains("owner@client.example"), "{text}");

    let parsed: Value = serde_saphyr::from_str(&text).expect("import output parses as YAML");
    assert!(parsed["sites"]["shop"]["access"].is_array(), "{parsed}");

    h.write_config(&config(&entries(&text)));
    let after = h.plan();
    let shop = &after.sites[0];
    for t in &shop.targets {
        assert!(
            t.changes.is_empty() && t.errors.is_empty() && t.refused.is_empty(),
            "{} {}: {t:#?}\n{text}",
            t.platform,
            t.target
        );
    }
    // Everyone who was there is still there, unmanaged containers kept.
    let out = h.cmd(&["plan"]).output().expect("runs");
    assert!(
        !stdout(&out).contains("not in the config"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_hostile_email_reads_back_as_itself() {
    let h = Harness::new(&seed(true), &config(" []\n"), &[("SHOP_KEY", "emu-key-1")]);
    let text = import(&h);
    let parsed: Value = serde_saphyr::from_str(&text).expect("import output parses as YAML");
    let access = parsed["sites"]["shop"]["access"]
        .as_array()
        .expect("a list");
    let hostile = access
        .iter()
        .find(|e| e["email"] == HOSTILE.to_lowercase())
        .unwrap_or_else(|| panic!("the hostile email as itself:\n{text}"));
    assert_eq!(hostile["ga4"], serde_json::json!(["viewer"]), "{text}");
    assert_eq!(
        hostile["gtm"],
        serde_json::json!({ "account": "user", "containers": { "GTM-BBBB222": "approve" } }),
        "{text}"
    );
    // Every entry is a mapping with one principal; the hostile text added
    // no key or entry of its own.
    assert_eq!(access.len(), 4, "{text}");
    for e in access {
        let keys: Vec<&String> = e.as_object().expect("a mapping").keys().collect();
        assert!(
            keys.iter()
                .all(|k| ["person", "email", "ga4", "gtm"].contains(&k.as_str())),
            "{keys:?}\n{text}"
        );
    }
    // The email the config refuses is a comment, on one line.
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("a: b #c")).collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with(
            "      # \"a: b #c@evil.example\": the config refuses this email (it contains a space)"
        ),
        "{text}"
    );
    assert!(
        lines[1].starts_with("      # - { email: \"a: b #c@evil.example\", ga4: [viewer] }"),
        "{text}"
    );
    // It is accepted by the config, and plans no change; the refused one
    // is not in the config, so `unmanaged: remove` removes it.
    h.write_config(&config(&entries(&text)));
    let plan = h.plan();
    let changes: Vec<(String, String)> = plan.sites[0]
        .targets
        .iter()
        .flat_map(|t| {
            t.changes
                .iter()
                .map(|c| (format!("{:?}", c.kind), c.who.to_string()))
        })
        .collect();
    assert_eq!(
        changes,
        [(String::from("Remove"), SPACED.to_string())],
        "{text}"
    );
}

#[test]
fn a_site_without_a_wix_key_still_gets_its_google_entries() {
    let no_key = config(" []\n").replace(", api_key_env: SHOP_KEY", "");
    let h = Harness::new(&seed(false), &no_key, &[]);
    let out = h.cmd(&["-vvv", "import"]).output().expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("    access:\n      # Wix has no API key: keep the site's Wix entries\n"),
        "{text}"
    );
    assert!(text.contains("      - { person: bob, "), "{text}");
    let _: Value = serde_saphyr::from_str(&text).expect("import output parses as YAML");
    let all = format!("{text}{}", stderr(&out));
    assert!(!all.contains("ya29."), "a token in:\n{all}");
    assert!(!all.contains("PRIVATE KEY"), "the key in:\n{all}");
}

#[test]
fn unreadable_google_targets_fail_the_run_and_keep_the_wix_part() {
    let h = Harness::new(&seed(false), &config(" []\n"), &[("SHOP_KEY", "emu-key-1")]);
    let out = h
        .cmd(&["import"])
        .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("    access:\n      []  # only the owner\n"),
        "{text}"
    );
    assert!(
        text.contains("      # GA4 properties/200 could not be read, so its access is not here\n"),
        "{text}"
    );
    assert!(
        stderr(&out).contains("error: site `shop`, GTM accounts/6000: "),
        "{}",
        stderr(&out)
    );
    let _: Value = serde_saphyr::from_str(&text).expect("import output parses as YAML");
}
