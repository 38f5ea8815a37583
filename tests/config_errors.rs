//! What users see when their config is wrong: one fixture per mistake under
//! `tests/fixtures/config/`, and a snapshot of the rendered report for each.
//! Plus the model a valid config resolves to, and a file with ten mistakes
//! that must all be reported in one run.

use std::path::{Path, PathBuf};

use accessctl::config::{self, Loaded};
use accessctl::diag::{Report, Severity};
use accessctl::model::{Pos, Principal, Unmanaged};

fn fixture(name: &str) -> PathBuf {
    Path::new("tests/fixtures/config").join(name)
}

fn load(name: &str) -> Result<Loaded, Report> {
    config::load(&fixture(name))
}

/// The rendered report of a fixture that must fail.
fn errors(name: &str) -> String {
    match load(name) {
        Ok(_) => panic!("{name} loaded, but it has mistakes"),
        Err(report) => report.render(),
    }
}

fn pos(line: usize, col: usize) -> Option<Pos> {
    Some(Pos { line, col })
}

macro_rules! snapshot_errors {
    ($($test:ident => $file:literal),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                insta::assert_snapshot!(stringify!($test), errors($file));
            }
        )*
    };
}

snapshot_errors! {
    empty_file => "empty.yaml",
    comments_only => "comments-only.yaml",
    not_utf8 => "not-utf8.yaml",
    syntax_error => "syntax-error.yaml",
    tabs => "tabs.yaml",
    duplicate_keys => "duplicate-keys.yaml",
    duplicate_email => "duplicate-email.yaml",
    duplicate_site_id => "duplicate-site-id.yaml",
    unknown_keys => "unknown-keys.yaml",
    wrong_types => "wrong-types.yaml",
    version_1 => "version-1.yaml",
    missing_version => "missing-version.yaml",
    undefined_references => "undefined-references.yaml",
    invalid_emails => "invalid-emails.yaml",
    invalid_dates => "invalid-dates.yaml",
    grant_principals => "grant-principals.yaml",
    grant_roles => "grant-roles.yaml",
    api_key_env_not_a_name => "api-key-env-not-a-name.yaml",
    bad_keys => "bad-keys.yaml",
    unmanaged_typo => "unmanaged-typo.yaml",
    owner_role_and_language => "owner-role-and-language.yaml",
    billion_laughs => "billion-laughs.yaml",
    ten_mistakes => "ten-mistakes.yaml",
}

#[test]
fn unreadable_file() {
    let report = match config::load(Path::new("tests/fixtures/config/no-such-file.yaml")) {
        Ok(_) => panic!("a missing file loaded"),
        Err(report) => report,
    };
    assert_eq!(report.errors(), 1);
    let text = report.render();
    assert!(
        text.starts_with("error: cannot read the config file: "),
        "{text}"
    );
    assert!(
        text.contains("  --> tests/fixtures/config/no-such-file.yaml\n"),
        "{text}"
    );
}

#[test]
fn secret_in_api_key_env_is_never_shown() {
    let secret = "IST.eyJraWQiOiJQb3pIX2FDMiIsImFsZyI6IlJTMjU2In0.c2VjcmV0LXNlY3JldA";
    let text = errors("secret-in-api-key-env.yaml");
    assert!(!text.contains(secret), "{text}");
    assert!(!text.contains("IST."), "{text}");
    assert!(!text.contains("eyJ"), "{text}");
    assert!(text.contains("looks like an API key itself"), "{text}");
    insta::assert_snapshot!("secret_in_api_key_env", text);
}

#[test]
fn secret_is_hidden_from_other_diagnostics_on_its_line() {
    let text = "version: 2\nsites:\n  acme:\n    wix: { site_id: s, account_id: a, api_key_env: IST.abc123.xyz, colour: 1 }\n";
    let report = match config::load_str(Path::new("c.yaml"), text.as_bytes()) {
        Ok(_) => panic!("loaded"),
        Err(report) => report,
    };
    let rendered = report.render();
    assert_eq!(report.errors(), 2, "{rendered}");
    assert!(!rendered.contains("IST.abc123.xyz"), "{rendered}");
}

#[test]
fn warnings_do_not_stop_loading() {
    let loaded = match load("warnings.yaml") {
        Ok(loaded) => loaded,
        Err(report) => panic!("{}", report.render()),
    };
    assert!(!loaded.warnings.has_errors());
    insta::assert_snapshot!("warnings", loaded.warnings.render());
}

#[test]
fn valid_config_resolves_to_the_model() {
    let loaded = match load("valid.yaml") {
        Ok(loaded) => loaded,
        Err(report) => panic!("{}", report.render()),
    };
    assert!(
        loaded.warnings.diagnostics.is_empty(),
        "{}",
        loaded.warnings.render()
    );
    let config = loaded.config;

    assert_eq!(config.path, fixture("valid.yaml"));
    assert_eq!(config.ledger_dir, fixture("valid.ledger"));
    assert_eq!(config.digest.len(), 64);
    assert!(config.digest.bytes().all(|b| b.is_ascii_hexdigit()));

    let alice = &config.people["alice"];
    assert_eq!(alice.email, "alice@agency.example");
    assert_eq!(alice.wix_account_id, None);
    assert_eq!(
        config.people["bob"].wix_account_id.as_deref(),
        Some("5f2c0e1a-0000-4000-8000-000000000001")
    );
    assert_eq!(config.teams["seo"], ["alice", "bob"]);

    let site = &config.sites["acme-bakery"];
    assert_eq!(site.key, "acme-bakery");
    assert_eq!(site.pos, Pos { line: 9, col: 3 });
    assert_eq!(site.wix.site_id, "0d6b9a7e-0000-4000-8000-000000000002");
    assert_eq!(site.wix.account_id, "91f0c2d4-0000-4000-8000-000000000003");
    assert_eq!(site.wix.api_key_env.as_deref(), Some("ACME_WIX_API_KEY"));
    assert!(!site.is_request_mode());
    assert_eq!(site.unmanaged, Unmanaged::Remove);
    let owner = site
        .owner
        .as_ref()
        .map(|o| (o.name.as_deref(), o.email.as_str()));
    assert_eq!(owner, Some((Some("Jane"), "jane@acme-bakery.example")));

    // The team grant becomes one grant per member.
    let summary: Vec<(Principal, Vec<&str>, Option<&str>)> = site
        .grants
        .iter()
        .map(|g| {
            (
                g.principal.clone(),
                g.roles.iter().map(|r| &*r.name).collect(),
                g.via_team.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                Principal::Person("alice".into()),
                vec!["Marketing Manager"],
                Some("seo")
            ),
            (
                Principal::Person("bob".into()),
                vec!["Marketing Manager"],
                Some("seo")
            ),
            (
                Principal::Person("alice".into()),
                vec!["Website Designer", "Blog Editor"],
                None
            ),
            (
                Principal::Email("writer@freelance.example".into()),
                vec!["Blog Writer"],
                None
            ),
            (
                Principal::Account("77aa3b0c-0000-4000-8000-000000000004".into()),
                vec!["Back Office Manager"],
                None
            ),
        ]
    );
    let grants = &site.grants;
    assert_eq!(grants[0].pos, Pos { line: 17, col: 9 });
    assert_eq!(grants[1].pos, Pos { line: 17, col: 9 });
    assert_eq!(grants[0].roles[0].pos, Pos { line: 18, col: 15 });
    assert_eq!(grants[2].pos, Pos { line: 19, col: 9 });
    assert_eq!(grants[2].roles[1].pos, Pos { line: 20, col: 35 });
    assert_eq!(grants[2].until, Some(time::macros::date!(2027 - 02 - 01)));
    assert_eq!(grants[0].until, None);

    let shop = &config.sites["corner-shop"];
    assert!(shop.is_request_mode());
    assert_eq!(shop.owner, None);
    assert_eq!(shop.unmanaged, Unmanaged::Warn);

    assert_eq!(config.safety.max_removals_per_site, Some(3));
    assert_eq!(config.safety.max_removals_total, Some(10));
    assert_eq!(config.safety.protect, ["alice"]);
}

/// `invite_language` of a site wins over the file's; without either it is
/// left out (Wix then uses the owner's language).
#[test]
fn invite_language_falls_back_to_the_files_then_to_none() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("access.yaml");
    let text = |top: &str| {
        format!(
            "version: 2\n{top}people:\n  a: {{ email: a@x.example }}\nsites:\n  one:\n    wix: {{ site_id: s1, account_id: acc, api_key_env: K, invite_language: pt-BR }}\n    access: [{{ person: a, role: Blog Writer }}]\n  two:\n    wix: {{ site_id: s2, account_id: acc, api_key_env: K }}\n    access: [{{ person: a, role: Blog Writer }}]\n"
        )
    };
    let languages = |top: &str| {
        std::fs::write(&path, text(top)).expect("write");
        let loaded = config::load(&path).expect("valid");
        loaded
            .config
            .sites
            .values()
            .map(|s| s.wix.invite_language.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        languages("invite_language: de\n"),
        [Some("pt-BR".to_string()), Some("de".to_string())]
    );
    assert_eq!(languages(""), [Some("pt-BR".to_string()), None]);
}

#[test]
fn ledger_dir_is_relative_to_the_config_file() {
    let loaded = match load("ledger-dir.yaml") {
        Ok(loaded) => loaded,
        Err(report) => panic!("{}", report.render()),
    };
    assert_eq!(loaded.config.ledger_dir, fixture("state/ledger"));
    assert!(loaded.config.sites.is_empty());
}

/// The digest (what a saved plan is checked against) is of the bytes: the
/// same bytes read from a file or from memory, under any name, give the
/// same digest; one byte more (a comment) gives another.
#[test]
fn same_bytes_same_digest() {
    let digest = |name: &str, bytes: &[u8]| match config::load_str(Path::new(name), bytes) {
        Ok(loaded) => loaded.config.digest,
        Err(report) => panic!("{}", report.render()),
    };
    let text = std::fs::read(fixture("valid.yaml")).expect("valid.yaml");
    let from_file = match config::load(&fixture("valid.yaml")) {
        Ok(loaded) => loaded.config.digest,
        Err(report) => panic!("{}", report.render()),
    };
    assert_eq!(digest("a.yaml", &text), from_file);
    let mut commented = text.clone();
    commented.extend_from_slice(b"# reviewed\n");
    assert_ne!(digest("a.yaml", &commented), from_file);
}

/// Each mistake in `ten-mistakes.yaml`, by where it is and what it says.
#[test]
fn ten_mistakes_are_all_reported() {
    let report = match load("ten-mistakes.yaml") {
        Ok(_) => panic!("ten-mistakes.yaml loaded"),
        Err(report) => report,
    };
    let found: Vec<(Option<Pos>, &str)> = report
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| (d.pos, d.message.as_str()))
        .collect();
    let expected = [
        (pos(1, 10), "unsupported `version` `3`: expected `2`"),
        (pos(4, 3), "duplicate key `bob` in `people`"),
        (
            pos(5, 19),
            "invalid email `carol.agency.example` for person `carol`: it has no `@`",
        ),
        (pos(7, 21), "unknown person `dave` in team `seo`"),
        (
            pos(13, 20),
            "`api_key_env` of site `acme` looks like an API key itself",
        ),
        (pos(14, 5), "unknown key `acess` in site `acme`"),
        (
            pos(21, 16),
            "wrong type for `roles`: expected a list of role names, found a string",
        ),
        (
            pos(22, 16),
            "invalid date `2027-02-30` in `until`: there is no such day",
        ),
        (
            pos(23, 15),
            "unknown team `designers` in grant 2 of site `shop`",
        ),
        (pos(27, 18), "unknown person `zoe` in `safety.protect`"),
    ];
    assert_eq!(found.len(), 10, "{}", report.render());
    assert!(!report.render().contains("IST."), "{}", report.render());
    for (want, got) in expected.iter().zip(&found) {
        assert_eq!(want, got, "{}", report.render());
    }
}

#[test]
fn deep_nesting_fails_fast_with_a_location() {
    let deep = format!(
        "version: 2\nx: {}{}\n",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let block: String = (0..10_000).map(|_| "- ").collect::<String>() + "x\n";
    for text in [deep, block] {
        // Bounded by the parser's depth limit (the message says it fired),
        // not by a clock: speed is the benchmarks' to report.
        let report = match config::load_str(Path::new("deep.yaml"), text.as_bytes()) {
            Ok(_) => panic!("deep nesting loaded"),
            Err(report) => report,
        };
        assert_eq!(report.errors(), 1, "{}", report.render());
        let d = &report.diagnostics[0];
        assert!(d.pos.is_some(), "{}", report.render());
        assert!(
            d.message.contains("nested too deeply"),
            "{}",
            report.render()
        );
    }
}

#[test]
fn billion_laughs_fails_fast() {
    // Bounded by the alias budget (the message says it fired), not by a
    // clock: speed is the benchmarks' to report.
    let report = match load("billion-laughs.yaml") {
        Ok(_) => panic!("billion laughs loaded"),
        Err(report) => report,
    };
    assert!(report.diagnostics[0].pos.is_some());
    assert!(
        report.diagnostics[0]
            .message
            .contains("expands to too much data"),
        "{}",
        report.render()
    );
}

/// The schema describes the config's top level exactly, refuses other
/// keys, and knows a site's `api_key_env` (its drift from the committed
/// file is `tests/schemas.rs`'s).
#[test]
fn schema_lists_the_top_level_keys_and_refuses_others() {
    let text = config::schema_json();
    assert!(text.ends_with('\n'));
    let schema: serde_json::Value = serde_json::from_str(&text).expect("the schema is JSON");
    let keys: Vec<&str> = schema["properties"]
        .as_object()
        .expect("top-level properties")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "invite_language",
            "ledger_dir",
            "levels",
            "people",
            "policies",
            "requests",
            "safety",
            "sites",
            "teams",
            "version"
        ]
    );
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(schema["required"], serde_json::json!(["version"]));
    let defs = schema["$defs"].as_object().expect("$defs");
    assert!(
        defs.values()
            .any(|d| d["properties"]["api_key_env"].is_object()),
        "no definition has `api_key_env`"
    );
}

#[test]
fn hostile_bytes_never_panic() {
    let inputs: [&[u8]; 12] = [
        b"\xef\xbb\xbfversion: 2\n",
        b"---\nversion: 2\n---\nversion: 2\n",
        b"[1, 2, 3]\n",
        b"\"just a string\"\n",
        b"version: 2\nsites: &s { a: *s }\n",
        b"version: 2\npeople: { ? [a]: 1 }\n",
        b"version: 2\n<<: {people: {}}\n",
        b"version: !!str 1\n",
        b"version: 2\nsites: { a: { wix: { site_id: s, account_id: a }, access: [ [], 1, ~ ] } }\n",
        b"version: 2\nsafety: { max_removals_total: 99999999999999999999 }\n",
        b"version: 2\nteams: { t: [1, ~, {}] }\n",
        b"\x00\x01\x02",
    ];
    for input in inputs {
        let _ = config::load_str(Path::new("h.yaml"), input).map_err(|r| r.render());
    }
}
