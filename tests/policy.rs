//! Policy rules (`policies:`): each rule kind passing and failing on a
//! config, with located messages; rules written wrong (unknown roles, keys,
//! huge numbers, hostile names) refused where they are written; `validate`
//! failing and `apply` refusing before any call on an error rule; and a
//! live violation by a collaborator the config does not know reported by
//! `plan` and `report` against the emulator, escaped for Markdown.

mod common;

use std::path::Path;

use accessctl::config;
use accessctl::diag::{Diagnostic, Severity};
use common::{Harness, agency_keys, stderr, stdout};
use serde_json::Value;
use time::macros::date;

/// The pinned day of `common::NOW`.
const TODAY: time::Date = date!(2026 - 11 - 15);

const BASE: &str = "version: 2
people:
  alice: { email: alice@agency.example }
  bob: { email: bob@agency.example }
  fred: { email: fred@freelance.example }
teams:
  billing: [alice]
sites:
  acme:
    wix: { site_id: s1, account_id: a1, api_key_env: ACME_KEY }
    ga4: { property: \"200\" }
    owner: { email: jane@acme.example }
    access:
      - { person: alice, role: Admin (Co-Owner), ga4: [admin] }
      - { team: billing, role: Billing Manager }
      - { person: fred, role: Blog Writer, until: 2026-12-01 }
      - { email: jane@acme.example, ga4: [admin] }
#EXTRA
policies:
  agency_domains: [agency.example]
  rules:
";

/// `BASE` with `extra` grants on site `acme` and `rules` under `rules:`.
fn config_with(extra: &str, rules: &str) -> String {
    BASE.replace("#EXTRA\n", extra).to_string() + rules
}

/// The config's policy diagnostics (the config itself must load).
fn violations(text: &str) -> Vec<Diagnostic> {
    let loaded = config::load_str(Path::new("access.yaml"), text.as_bytes())
        .unwrap_or_else(|r| panic!("does not load:\n{}", r.render()));
    let found = accessctl::policy::check_config(&loaded.config, TODAY);
    accessctl::policy::diagnostics(&loaded.config, &found)
}

/// `file:line:col` of `needle` on the first line holding `line_marker`.
fn at(text: &str, line_marker: &str, needle: &str) -> String {
    let (n, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains(line_marker))
        .unwrap_or_else(|| panic!("no line with {line_marker:?}"));
    let col = line.find(needle).expect("needle on the line") + 1;
    format!("access.yaml:{}:{col}", n + 1)
}

/// Each diagnostic as `location: severity: message`.
fn shown(ds: &[Diagnostic]) -> Vec<String> {
    ds.iter()
        .map(|d| {
            let s = match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            format!("{}: {s}: {}", d.location(), d.message)
        })
        .collect()
}

#[test]
fn forbid_outside_passes_for_the_agency_and_the_owner_and_fails_located() {
    let rules = "    - forbid_outside: [Admin (Co-Owner)]\n    - forbid_outside: [admin]\n      platform: ga4\n";
    // alice is the agency's; jane, GA4 admin, is the site's owner.
    assert!(violations(&config_with("", rules)).is_empty());

    let extra = "      - { person: fred, role: admin-co-owner, ga4: [admin], until: 2026-12-01 }\n";
    let text = config_with(extra, rules);
    let found = shown(&violations(&text));
    assert_eq!(
        found,
        // In file order: the grant (GA4 roles are located there), then
        // its Wix role.
        [
            format!(
                "{}: error: policy `forbid_outside` (line 23): `fred` holds Google Analytics 4 `admin` on site `acme`, but is outside the agency (agency.example)",
                at(&text, "person: fred, role: admin", "{ person")
            ),
            format!(
                "{}: error: policy `forbid_outside` (line 22): `fred` holds Wix `admin-co-owner` on site `acme`, but is outside the agency (agency.example)",
                at(&text, "person: fred, role: admin", "admin-co-owner")
            ),
        ]
    );
}

#[test]
fn outside_max_days_passes_within_the_limit_and_fails_past_it_or_without_until() {
    let rules = "    - outside_max_days: 30\n";
    // fred's access ends on 2026-12-01, 16 days after the pinned day.
    assert!(violations(&config_with("", rules)).is_empty());

    let extra = "      - { email: late@other.example, role: Blog Editor, until: 2027-06-01 }\n      - { email: open@other.example, role: Blog Editor }\n";
    let text = config_with(extra, rules);
    let ds = violations(&text);
    assert_eq!(
        shown(&ds),
        [
            format!(
                "{}: error: policy `outside_max_days` (line 23): `late@other.example`, outside the agency, holds Wix access on site `acme` until 2027-06-01, more than 30 days ahead",
                at(&text, "late@other", "Blog Editor")
            ),
            format!(
                "{}: error: policy `outside_max_days` (line 23): `open@other.example`, outside the agency, holds Wix access on site `acme` with no `until`",
                at(&text, "open@other", "Blog Editor")
            ),
        ]
    );
    assert_eq!(
        ds[0].hint.as_deref(),
        Some(
            "access for people outside the agency must end within 30 days: set `until` to 2026-12-15 or earlier"
        )
    );
    // A grant that has ended is not held: the next apply removes it.
    let ended = "      - { email: gone@other.example, role: Blog Editor, until: 2026-11-01 }\n";
    assert!(violations(&config_with(ended, rules)).is_empty());
}

#[test]
fn agency_admins_counts_agency_holders_on_each_platform() {
    let rules = "    - agency_admins: { min: 1, max: 1 }\n    - agency_admins: { min: 1 }\n      platform: ga4\n";
    assert!(violations(&config_with("", rules)).is_empty());

    // Two agency admins on Wix: one too many.
    let text = config_with("      - { person: bob, role: Admin (Co-Owner) }\n", rules);
    assert_eq!(
        shown(&violations(&text)),
        [format!(
            "{}: error: policy `agency_admins` (line 22): site `acme` has 2 Wix `Admin (Co-Owner)` from the agency: `alice`, `bob`; the rule wants at most 1",
            at(&text, "  acme:", "acme")
        )]
    );
    // No agency admin on GA4 (the owner does not count), as a warning.
    let text = config_with(
        "",
        "    - agency_admins: { min: 1 }\n      platform: ga4\n      severity: warn\n",
    )
    .replace(
        "      - { person: alice, role: Admin (Co-Owner), ga4: [admin] }\n",
        "      - { person: alice, role: Admin (Co-Owner), ga4: [viewer] }\n",
    );
    assert_eq!(
        shown(&violations(&text)),
        [format!(
            "{}: warning: policy `agency_admins` (line 21): site `acme` has 0 Google Analytics 4 `admin` from the agency; the rule wants at least 1",
            at(&text, "  acme:", "acme")
        )]
    );
}

#[test]
fn team_only_passes_through_a_team_and_fails_for_a_direct_grant() {
    let rules = "    - team_only: [Billing Manager]\n";
    assert!(violations(&config_with("", rules)).is_empty());

    let text = config_with("      - { person: bob, role: billing-manager }\n", rules);
    assert_eq!(
        shown(&violations(&text)),
        [format!(
            "{}: error: policy `team_only` (line 22): `bob` holds Wix `billing-manager` on site `acme` by a grant to them alone; it may be given only through a team",
            at(&text, "person: bob, role: billing", "billing-manager")
        )]
    );
}

/// The load errors of a config, as `location: message (hint)`.
fn load_errors(text: &str) -> Vec<String> {
    match config::load_str(Path::new("access.yaml"), text.as_bytes()) {
        Ok(_) => panic!("loaded:\n{text}"),
        Err(report) => report
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| {
                format!(
                    "{}: {} ({})",
                    d.location(),
                    d.message,
                    d.hint.as_deref().unwrap_or("")
                )
            })
            .collect(),
    }
}

#[test]
fn rules_naming_unknown_roles_are_refused_with_the_closest_name() {
    let text = config_with(
        "",
        "    - forbid_outside: [Admn (Co-Owner), Biling Manager]\n    - team_only: [admn]\n      platform: ga4\n    - forbid_outside: [SEO Reviewer]\n",
    );
    let errors = load_errors(&text);
    assert_eq!(
        errors,
        [
            format!(
                "{}: unknown Wix role `Admn (Co-Owner)` in rule 1 of `policies` (did you mean `Admin (Co-Owner)`?)",
                at(&text, "Admn", "Admn")
            ),
            format!(
                "{}: unknown Wix role `Biling Manager` in rule 1 of `policies` (did you mean `Billing Manager`?)",
                at(&text, "Admn", "Biling")
            ),
            format!(
                "{}: unknown Google Analytics 4 role `admn` in rule 2 of `policies` (did you mean `admin`? Google Analytics 4 roles: viewer, analyst, editor, admin)",
                at(&text, "team_only: [admn]", "admn")
            ),
            // A custom role only as the file's grants name one.
            format!(
                "{}: unknown Wix role `SEO Reviewer` in rule 3 of `policies` (a rule names a predefined Wix role (`accessctl plan` lists a site's roles) or a custom role a grant or level of this file gives)",
                at(&text, "SEO Reviewer", "SEO")
            ),
        ]
    );
    // Once a grant gives the custom role, a rule may name it.
    let text = config_with(
        "      - { team: billing, role: SEO Reviewer }\n",
        "    - forbid_outside: [seo-reviewer]\n",
    );
    assert!(violations(&text).is_empty());
}

#[test]
fn hostile_rules_are_refused_where_they_are_written() {
    // Huge numbers, unknown keys, two kinds in one rule, bounds that
    // contradict, a domain with a line break, the owner's role, an empty
    // domain list: each refused at its place, none panics.
    let cases: [(&str, &str, &str); 9] = [
        (
            "    - outside_max_days: 99999999999999999999\n",
            "99999",
            "`outside_max_days`",
        ),
        (
            "    - agency_admins: { min: 1, max: 4294967296 }\n",
            "4294967296",
            "`max`",
        ),
        (
            "    - forbid_outsid: [Admin (Co-Owner)]\n",
            "forbid_outsid",
            "did you mean `forbid_outside`?",
        ),
        (
            "    - { forbid_outside: [Admin (Co-Owner)], team_only: [Billing Manager] }\n",
            "team_only",
            "rule 1 of `policies` has both `forbid_outside` and `team_only`: a rule is exactly one of them",
        ),
        (
            "    - severity: warn\n",
            "severity",
            "rule 1 of `policies` says no rule: expected `forbid_outside`, `outside_max_days`, `agency_admins` or `team_only`",
        ),
        (
            "    - agency_admins: { min: 3, max: 2 }\n",
            "max: 2",
            "wants at most 2 and at least 3 admins",
        ),
        (
            "    - forbid_outside: [Owner]\n",
            "Owner",
            "which no one can be granted",
        ),
        (
            "    - forbid_outside: [\"Admin\\n::error::pwned\"]\n",
            "Admin",
            "unknown Wix role",
        ),
        (
            "    - { forbid_outside: [Admin (Co-Owner)], severity: fatal }\n",
            "fatal",
            "`severity`",
        ),
    ];
    for (rule, marker, expected) in cases {
        let text = config_with("", rule);
        let errors = load_errors(&text);
        let line = text
            .lines()
            .position(|l| l.contains(rule.trim_end()))
            .expect("rule line")
            + 1;
        assert!(
            errors
                .iter()
                .any(|e| e.contains(expected) && e.starts_with(&format!("access.yaml:{line}:"))),
            "{rule}: {errors:#?} (marker {marker})"
        );
        // A message never carries a raw line break or a workflow command.
        assert!(
            errors
                .iter()
                .all(|e| !e.contains('\n') && !e.contains("\n::error")),
            "{errors:#?}"
        );
    }
    let bad_domain = config_with("", "    - outside_max_days: 30\n").replace(
        "agency_domains: [agency.example]",
        "agency_domains: [\"agency.example\\n\", \"*.evil\"]",
    );
    let errors = load_errors(&bad_domain);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors.iter().all(|e| e.contains("agency_domains")),
        "{errors:#?}"
    );
    let none = config_with("", "    - outside_max_days: 30\n")
        .replace("agency_domains: [agency.example]", "agency_domains: []");
    assert!(
        load_errors(&none)
            .iter()
            .any(|e| e.contains("`agency_domains` is empty")),
        "{:#?}",
        load_errors(&none)
    );
}

#[test]
fn validate_fails_on_an_error_rule_and_passes_on_a_warning() {
    let text = config_with(
        "      - { person: bob, role: Billing Manager }\n",
        "    - team_only: [Billing Manager]\n",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("access.yaml");
    std::fs::write(&path, &text).expect("write");
    let out = common::accessctl()
        .arg("-c")
        .arg(&path)
        .arg("validate")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("error: policy `team_only` (line 22): `bob` holds Wix `Billing Manager`"),
        "{err}"
    );
    assert!(
        err.contains("access.yaml:18:30"),
        "located at the role: {err}"
    );
    assert!(err.contains("hint: grant the role with `team:`"), "{err}");

    std::fs::write(
        &path,
        text.replace(
            "Billing Manager]\n",
            "Billing Manager]\n      severity: warn\n",
        ),
    )
    .expect("write");
    let out = common::accessctl()
        .arg("-c")
        .arg(&path)
        .arg("validate")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("warning: policy `team_only`"));
    assert!(stdout(&out).contains("1 policy rule"), "{}", stdout(&out));
}

/// The agency example with `policies` appended.
fn agency_with_policies(policies: &str, seed_edit: impl Fn(&mut String)) -> Harness {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut seed = std::fs::read_to_string(root.join("agency.seed.yaml")).expect("seed");
    seed_edit(&mut seed);
    let config = std::fs::read_to_string(root.join("agency.yaml")).expect("config");
    Harness::new(&seed, &(config + policies), &agency_keys())
}

const AGENCY_POLICIES: &str = "
policies:
  agency_domains: [northwind.example, agency-project.iam.gserviceaccount.com]
  rules:
    - forbid_outside: [Website Manager, Admin (Co-Owner)]
    - forbid_outside: [admin, editor]
      platform: ga4
      severity: warn
";

#[test]
fn plan_and_report_show_live_violations_by_unmanaged_collaborators() {
    let h = agency_with_policies(AGENCY_POLICIES, |_| {});
    // The config itself keeps the rules.
    let out = h.cmd(&["validate"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("2 policy rules"), "{}", stdout(&out));

    let plan = h.plan();
    let found: Vec<(String, String, Option<String>, String)> = plan
        .policy
        .iter()
        .map(|v| {
            (
                v.site.clone(),
                v.platform.to_string(),
                v.who.clone(),
                serde_json::to_value(v.severity).expect("json").to_string(),
            )
        })
        .collect();
    // The old agency's Wix account (seeded, not in the config, its email
    // unknown) and its GA4 user; the owner's GA4 admin is the client's.
    assert_eq!(
        found,
        [
            (
                "acme-bakery".to_string(),
                "wix".to_string(),
                Some("account acct-old-agency".to_string()),
                "\"error\"".to_string()
            ),
            (
                "acme-bakery".to_string(),
                "ga4".to_string(),
                Some("seo@old-agency.example".to_string()),
                "\"warn\"".to_string()
            ),
        ]
    );
    assert_eq!(
        plan.policy[0].message,
        "`account acct-old-agency` holds Wix `Website Manager` on site `acme-bakery`, but is outside the agency (northwind.example, agency-project.iam.gserviceaccount.com)"
    );
    assert_eq!(
        plan.policy[0].rule_line,
        std::fs::read_to_string(h.config_path())
            .expect("config")
            .lines()
            .position(|l| l.contains("- forbid_outside: [Website"))
            .expect("rule")
            + 1
    );

    let text = stdout(&h.cmd(&["plan"]).output().expect("runs"));
    assert!(
        text.contains("policy error: `account acct-old-agency` holds Wix `Website Manager` on site `acme-bakery`"),
        "{text}"
    );
    let markdown = stdout(
        &h.cmd(&["plan", "--format", "markdown"])
            .output()
            .expect("runs"),
    );
    assert!(
        markdown.contains("> [!CAUTION]\n> **Policy rules broken by live access**"),
        "{markdown}"
    );
    assert!(markdown.contains("> - **acme-bakery \\(wix\\)**: error: `account acct-old-agency` holds Wix `Website Manager`"), "{markdown}");

    // The live violation is reported, not refused: apply may be what
    // fixes it (here `unmanaged: warn` keeps the account).
    let out = h.cmd(&["plan", "--format", "json"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // `report` lists the same violations, in JSON and Markdown.
    let json: Value = serde_json::from_str(&stdout(
        &h.cmd(&["report", "--format", "json"])
            .output()
            .expect("runs"),
    ))
    .expect("report JSON");
    let policy = json["policy"].as_array().expect("policy list");
    assert_eq!(policy.len(), 2, "{json:#}");
    assert_eq!(policy[0]["who"], "account acct-old-agency");
    assert_eq!(policy[1]["severity"], "warn");
    let markdown = stdout(&h.cmd(&["report"]).output().expect("runs"));
    assert!(
        markdown.contains("> **2 policy rules are broken by live access**"),
        "{markdown}"
    );
}

#[test]
fn apply_refuses_a_config_that_breaks_an_error_rule_before_any_call() {
    let h = agency_with_policies(
        "
policies:
  agency_domains: [northwind.example]
  rules:
    - forbid_outside: [Blog Writer]
",
        |_| {},
    );
    let before = h.log().len();
    let out = h.apply();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("error: policy `forbid_outside` (line"),
        "{err}"
    );
    assert!(
        err.contains("`writer@freelance.example` holds Wix `Blog Writer` on site `acme-bakery`"),
        "{err}"
    );
    assert!(
        err.contains(
            "error: the config breaks policy rules of severity `error` (above); nothing was changed"
        ),
        "{err}"
    );
    assert!(
        err.contains("hint: change the grants the errors point at"),
        "{err}"
    );
    // Not one request reached the platform.
    assert_eq!(h.log().len(), before, "{:#?}", h.log());
}

#[test]
fn hostile_names_from_a_platform_are_escaped_in_plan_output() {
    // A collaborator whose account id carries Markdown, HTML, a mention
    // and a terminal escape.
    let hostile = "acct-x`</details><img src=x>[click](https://evil.example) @org/team \u{1b}[31m\n::warning::forged";
    let h = agency_with_policies(AGENCY_POLICIES, |seed| {
        *seed = seed.replace(
            "{ account_id: acct-old-agency, roles: [Website Manager] }",
            &format!(
                "{{ account_id: {}, roles: [Website Manager] }}",
                serde_json::to_string(hostile).expect("json")
            ),
        );
    });
    let plan = h.plan();
    assert_eq!(
        plan.policy[0].who.as_deref(),
        Some(format!("account {hostile}").as_str())
    );
    let markdown = stdout(
        &h.cmd(&["plan", "--format", "markdown"])
            .output()
            .expect("runs"),
    );
    let item = markdown
        .lines()
        .find(|l| l.contains("acct-x"))
        .expect("the violation is listed");
    // The whole name sits in one code span, where Markdown reads no HTML,
    // link or mention: its own backtick, which would end the span early,
    // is a look-alike, and the escape character is shown, not sent.
    assert!(
        item.contains(
            "error: `account acct-x'</details><img src=x>[click](https://evil.example) @org/team \\u{1b}[31m\\n::warning::forged` holds Wix"
        ),
        "{item}"
    );
    assert_eq!(item.matches('`').count() % 2, 0, "{item}");
    assert!(!item.contains('\u{1b}'), "{item}");
    let text = stdout(&h.cmd(&["plan"]).output().expect("runs"));
    assert!(!text.contains('\u{1b}'), "{text}");
    assert!(text.contains("\\u{1b}[31m\\n::warning::forged"), "{text}");
    assert!(!text.lines().any(|l| l.starts_with("::")), "{text}");

    // Under GitHub Actions each violation is one annotation; the name
    // cannot end it early or start another.
    let out = h
        .cmd(&["plan"])
        .env("GITHUB_ACTIONS", "true")
        .output()
        .expect("runs");
    let err = stderr(&out);
    let annotations: Vec<&str> = err.lines().filter(|l| l.starts_with("::")).collect();
    assert!(
        annotations.iter().any(|l| l.starts_with(
            "::error title=accessctl%3A policy forbid_outside on site acme-bakery (wix)::`account acct-x"
        ) && l.contains("\\n::warning::forged` holds Wix")),
        "{err}"
    );
    assert!(
        !annotations
            .iter()
            .any(|l| l.starts_with("::warning::forged")),
        "{err}"
    );
}

/// The README's example block, appended to the agency example, loads; its
/// rules find what the example's grants break.
#[test]
fn the_readme_example_loads_and_is_checked() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README");
    let section = readme
        .split("### Policy rules\n")
        .nth(1)
        .expect("a Policy rules section");
    let block = section
        .split("```yaml\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a yaml block");
    let config = std::fs::read_to_string(root.join("examples/agency.yaml")).expect("config");
    let text = config + "\n" + block;
    let loaded = config::load_str(Path::new("access.yaml"), text.as_bytes())
        .unwrap_or_else(|r| panic!("does not load:\n{}", r.render()));
    assert_eq!(loaded.config.policies.rules.len(), 5);
    let found = accessctl::policy::check_config(&loaded.config, TODAY);
    let kinds: std::collections::BTreeSet<&str> = found.iter().map(|v| v.rule.as_str()).collect();
    // erin's Billing Manager is hers alone; the freelance writer's access
    // has no end; most sites have no agency admin.
    assert_eq!(
        kinds,
        ["agency_admins", "outside_max_days", "team_only"]
            .into_iter()
            .collect()
    );
    assert!(
        found
            .iter()
            .any(|v| v.rule == "team_only" && v.who.as_deref() == Some("erin")),
        "{found:#?}"
    );
}

/// Shard plans carry their sites' violations; merged, they are the whole
/// plan's.
#[test]
fn merged_shard_plans_carry_the_whole_plans_violations() {
    let policies = format!(
        "{AGENCY_POLICIES}    - forbid_outside: [Website Designer, Content Manager]\n      severity: warn\n"
    );
    let h = agency_with_policies(&policies, |_| {});
    let whole = h.cmd(&["plan", "--format", "json"]).output().expect("runs");
    let whole_plan: Value = serde_json::from_slice(&whole.stdout).expect("plan JSON");
    let sites: std::collections::BTreeSet<&str> = whole_plan["policy"]
        .as_array()
        .expect("policy")
        .iter()
        .filter_map(|v| v["site"].as_str())
        .collect();
    // The old agency (acme-bakery), the former intern (blue-harbor-dental),
    // the owner's nephew (harbor-cafe).
    assert_eq!(
        sites,
        ["acme-bakery", "blue-harbor-dental", "harbor-cafe"]
            .into_iter()
            .collect()
    );
    let mut files = Vec::new();
    for k in 1..=2 {
        let file = h.dir.path().join(format!("shard-{k}.json"));
        let out = h
            .cmd(&["plan", "--shard", &format!("{k}/2"), "--format", "json"])
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let shard: Value = serde_json::from_slice(&out.stdout).expect("shard JSON");
        // Each shard has some of them.
        assert!(
            shard["policy"].as_array().is_some_and(|p| !p.is_empty()),
            "{shard:#}"
        );
        std::fs::write(&file, &out.stdout).expect("write");
        files.push(file.display().to_string());
    }
    let merged = h
        .cmd(&["plan", "merge", "--format", "json", &files[1], &files[0]])
        .output()
        .expect("runs");
    assert_eq!(stdout(&merged), stdout(&whole), "{}", stderr(&merged));
}
