//! Format version 2: access levels, `ga4:` and `gtm:` blocks, Google roles
//! on grants — what they resolve to, and a located error with a hint for
//! each way to get them wrong.

use std::path::Path;

use accessctl::config;
use accessctl::diag::Severity;
use accessctl::model::Pos;
use accessctl::platform::{Access, Platform};

const BASE: &str = "version: 2
people:
  alice: { email: Alice@Agency.example }
  bob: { email: bob@agency.example }
teams:
  seo: [alice, bob]
levels:
  seo:
    wix: [Marketing Manager]
    ga4: [analyst]
    gtm: { account: user, containers: read }
  analytics-only:
    ga4: [viewer, no-cost-data]
sites:
  acme:
    wix: { site_id: s1, account_id: a1, api_key_env: ACME_KEY }
    ga4: { account: \"100\", property: \"200\" }
    gtm: { account: \"6000\", containers: [GTM-AAAA111, GTM-BBBB222] }
    access:
      - { team: seo, level: seo }
      - { person: alice, ga4: { account: [admin] } }
      - { email: writer@freelance.example, role: Blog Writer, gtm: { containers: { GTM-BBBB222: publish } } }
  plain:
    wix: { site_id: s2, account_id: a2, api_key_env: PLAIN_KEY }
    access:
      - { team: seo, level: seo }
";

/// An error's position, message and hint.
type Located = (Option<Pos>, String, Option<String>);

fn load(text: &str) -> Result<config::Loaded, Vec<Located>> {
    config::load_str(Path::new("access.yaml"), text.as_bytes()).map_err(|report| {
        report
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| (d.pos, d.message.clone(), d.hint.clone()))
            .collect()
    })
}

fn errors(text: &str) -> Vec<Located> {
    match load(text) {
        Ok(_) => panic!("loaded:\n{text}"),
        Err(e) => e,
    }
}

fn at(line: usize, col: usize) -> Option<Pos> {
    Some(Pos { line, col })
}

#[test]
fn levels_expand_to_every_platform_the_site_has() {
    let loaded = load(BASE).expect("valid");
    let acme = &loaded.config.sites["acme"];
    let ids: Vec<(Platform, &str)> = acme
        .targets
        .iter()
        .map(|t| (t.target.platform, t.target.id.as_str()))
        .collect();
    assert_eq!(
        ids,
        [
            (Platform::Ga4, "accounts/100"),
            (Platform::Ga4, "properties/200"),
            (Platform::Gtm, "accounts/6000")
        ]
    );
    // The level's Wix role reaches the Wix grants, one per member.
    let wix: Vec<&str> = acme
        .grants
        .iter()
        .flat_map(|g| g.roles.iter().map(|r| &*r.name))
        .collect();
    assert_eq!(
        wix,
        ["Marketing Manager", "Marketing Manager", "Blog Writer"]
    );
    // `ga4: [analyst]` lands on the property; the scoped grant on the account.
    let property = &acme.targets[1];
    let got: Vec<(&str, &Access)> = property
        .grants
        .iter()
        .map(|g| (&*g.email, &g.access))
        .collect();
    assert_eq!(
        got,
        [
            ("alice@agency.example", &Access::roles(["analyst"])),
            ("bob@agency.example", &Access::roles(["analyst"]))
        ]
    );
    assert_eq!(acme.targets[0].grants.len(), 1);
    assert_eq!(acme.targets[0].grants[0].access, Access::roles(["admin"]));
    assert!(
        property.grants[0].reason.contains("team seo")
            && property.grants[0].reason.contains("level seo")
    );
    // `containers: read` covers every managed container; a map names some.
    let gtm = &acme.targets[2];
    assert_eq!(gtm.grants.len(), 3);
    let alice = &gtm.grants[0].access;
    assert_eq!(alice.roles.iter().collect::<Vec<_>>(), ["user"]);
    assert_eq!(
        alice.children.keys().collect::<Vec<_>>(),
        ["GTM-AAAA111", "GTM-BBBB222"]
    );
    let writer = &gtm.grants[2];
    assert_eq!(&*writer.email, "writer@freelance.example");
    assert_eq!(
        writer.access.children.keys().collect::<Vec<_>>(),
        ["GTM-BBBB222"]
    );
    // A site without Google blocks gets the level's Wix part only.
    let plain = &loaded.config.sites["plain"];
    assert!(plain.targets.is_empty());
    assert_eq!(plain.grants.len(), 2);
}

#[test]
fn a_level_naming_a_role_that_does_not_exist_is_located() {
    let text = BASE.replace("ga4: [analyst]", "ga4: [analist]");
    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs:?}");
    let (pos, message, hint) = &errs[0];
    assert_eq!(*pos, at(10, 11));
    assert_eq!(
        message,
        "unknown Google Analytics 4 role `analist` in level `seo`"
    );
    assert!(
        hint.as_deref()
            .unwrap()
            .starts_with("did you mean `analyst`?"),
        "{hint:?}"
    );

    let text = BASE.replace("containers: read }", "containers: reed }");
    let errs = errors(&text);
    assert_eq!(errs[0].0, at(11, 39));
    assert!(
        errs[0].1.contains("unknown Google Tag Manager role `reed`"),
        "{errs:?}"
    );
}

#[test]
fn each_misuse_is_a_located_error_with_a_hint() {
    let cases: [(&str, &str, Option<Pos>, &str); 6] = [
        (
            "{ team: seo, level: seo }\n      - { person: alice, ga4",
            "{ team: seo, level: soe }\n      - { person: alice, ga4",
            at(20, 29),
            "unknown level `soe` in grant 1 of site `acme`",
        ),
        (
            "PLAIN_KEY }\n    access:\n      - { team: seo, level: seo }\n",
            "PLAIN_KEY }\n    access:\n      - { team: seo, level: seo }\n      - { person: bob, ga4: [viewer] }\n",
            at(27, 24),
            "grant 2 of site `plain` gives GA4 roles, but the site has no `ga4:` block",
        ),
        (
            "{ person: alice, ga4: { account: [admin] } }",
            "{ person: alice, ga4: [admin, viewer] }",
            at(21, 31),
            "grant 2 of site `acme` gives more than one Google Analytics 4 role",
        ),
        (
            "{ person: alice, ga4: { account: [admin] } }",
            "{ wix_account_id: acct-x, ga4: { account: [admin] } }",
            at(21, 9),
            "grant 2 of site `acme` gives Google access to a `wix_account_id`, but Google keys access by email",
        ),
        (
            "GTM-BBBB222: publish",
            "GTM-CCCC333: publish",
            at(22, 84),
            "grant 3 of site `acme` gives a permission on container `GTM-CCCC333`, which the site's `gtm:` block does not manage",
        ),
        (
            "{ team: seo, level: seo }\n      - { person: alice, ga4",
            "{ team: seo, level: seo, role: Blog Writer }\n      - { person: alice, ga4",
            at(20, 34),
            "grant 1 of site `acme` has both `level` and `role`",
        ),
    ];
    for (from, to, pos, message) in cases {
        assert!(BASE.contains(from), "{from}");
        let errs = errors(&BASE.replacen(from, to, 1));
        assert!(
            errs.iter()
                .any(|(p, m, h)| p == &pos && m == message && h.is_some()),
            "want {pos:?} {message:?}, got {errs:?}"
        );
    }
}

#[test]
fn version_one_files_are_refused_with_the_upgrade() {
    let errs = errors("version: 1\npeople: {}\n");
    assert_eq!(errs[0].1, "unsupported `version` `1`: expected `2`");
    assert!(
        errs[0].2.as_deref().unwrap().contains("accessctl migrate"),
        "{errs:?}"
    );
}
