//! `offboard --write` against configs written by an attacker: a pull request
//! that wants the edit to remove the wrong lines, or to leave a grant of the
//! person behind. The person's key or email also appears in comments, in
//! other people's keys and emails, in a team's name, in quoted strings and
//! block scalars; the file has CRLF line breaks, tabs, a byte-order mark,
//! flow collections holding several people on one line, anchors, aliases
//! and merge keys, very long lines, no line break at its end.
//!
//! Each case either edits correctly or is refused. Correct means: the
//! edited text loads as a config through the real loader, no grant or team
//! names the person (by key, email or Wix account, as the loader resolves
//! them), and everything else of the loaded model is what it was. A refusal
//! is checked through the binary too: a clear message, and the file byte
//! for byte as it was.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use accessctl::config::offboard::{Offboarding, offboard};
use accessctl::model::{Config, Grant, Principal, Site};
use common::{accessctl, stderr};

/// A valid config: bob is in two teams and has direct grants by key, by
/// email (another case) and by Wix account; his key and email appear in
/// comments, in another person's key and email, in a team's name, in a
/// custom role and in a block scalar.
const BASE: &str = "\
version: 2
# bob: offboard bob@x.example when he leaves
people:
  alice: { email: alice@x.example }   # works with bob
  bob: { email: bob@x.example, wix_account_id: acct-bob }
  bobby: { email: bob@x.example.org, wix_account_id: acct-bobby }   # not bob
  carol:
    email: carol@x.example
    wix_account_id: acct-carol   # bob's old account was acct-bob
teams:
  bob: [bobby, alice]   # a team named bob
  seo: [alice, bob, bobby]
  ops:
    - carol
    - bob   # bob: on call
sites:
  s1:
    wix: { site_id: site-1, account_id: acc-1, api_key_env: KEY_1 }
    owner: { name: \"Bob's boss\", email: owner@client.example }
    access:
      # person: bob
      - team: bob
        role: Blog Writer
      - person: bob
        role: Admin
      - email: BOB@X.example
        role: Blog Writer
      - email: bob@x.example.org
        role: Blog Editor
  s2:
    wix: { site_id: site-2, account_id: acc-2, api_key_env: KEY_2 }
    access:
      - team: seo
        role: Website Manager
      - wix_account_id: acct-bob
        role: Blog Editor
      - wix_account_id: acct-bobby
        role: Blog Editor
      - person: carol
        role: \"bob\"   # a custom role named bob
requests:
  agency: Agency
  channel: webhook
  webhook: { url_env: AGENCY_WEBHOOK_URL, secret_env: AGENCY_WEBHOOK_SECRET }
  purpose: |
    - person: bob
      role: Admin
    bob@x.example, acct-bob
";

/// The loaded model with positions in the file cleared: what `plan` sees.
#[derive(Debug, PartialEq)]
struct Model {
    people: BTreeMap<String, (String, Option<String>)>,
    teams: BTreeMap<String, Vec<String>>,
    sites: BTreeMap<String, Site>,
    safety: String,
    requests: String,
    policies: String,
}

fn load(text: &str) -> Result<Config, String> {
    accessctl::config::load_str(Path::new("access.yaml"), text.as_bytes())
        .map(|l| l.config)
        .map_err(|r| r.render())
}

fn model(c: &Config) -> Model {
    Model {
        people: c
            .people
            .iter()
            .map(|(k, p)| (k.clone(), (p.email.clone(), p.wix_account_id.clone())))
            .collect(),
        teams: c.teams.clone(),
        sites: c
            .sites
            .iter()
            .map(|(k, s)| (k.clone(), s.without_positions()))
            .collect(),
        safety: format!("{:?}", c.safety),
        requests: format!("{:?}", c.requests),
        policies: format!("{:?}", c.policies),
    }
}

/// Whether a grant is `person`'s, as the loaded model says (key, email,
/// or Wix account).
fn is_theirs(g: &Grant, key: &str, email: &str, account: Option<&str>) -> bool {
    match &g.principal {
        Principal::Person(k) => &**k == key,
        Principal::Email(e) => &**e == email,
        Principal::Account(a) => Some(&**a) == account,
    }
}

/// The model of `before` with `key` taken out: what a correct edit loads as.
fn without(before: &Config, key: &str) -> Model {
    let person = &before.people[key];
    let (email, account) = (person.email.as_str(), person.wix_account_id.as_deref());
    let mut m = model(before);
    m.people.remove(key);
    for members in m.teams.values_mut() {
        members.retain(|p| p != key);
    }
    for site in m.sites.values_mut() {
        site.grants.retain(|g| !is_theirs(g, key, email, account));
        for t in &mut site.targets {
            t.grants.retain(|g| &*g.email != email);
        }
    }
    m
}

/// Checks an edit: it loads, the person is gone from every team and grant,
/// and the rest of the model is unchanged. Returns the edited text.
fn check_edit(case: &str, text: &str, key: &str, done: &Offboarding) -> String {
    let before = load(text).unwrap_or_else(|e| panic!("{case}: the crafted config loads:\n{e}"));
    let after = load(&done.text)
        .unwrap_or_else(|e| panic!("{case}: the edited config loads:\n{e}\n{}", done.text));
    let person = &before.people[key];
    assert!(!after.people.contains_key(key), "{case}");
    for (team, members) in &after.teams {
        assert!(
            !members.iter().any(|m| m == key),
            "{case}: team {team} still has {key}"
        );
    }
    for (name, site) in &after.sites {
        for g in &site.grants {
            assert!(
                !is_theirs(g, key, &person.email, person.wix_account_id.as_deref()),
                "{case}: site {name} still grants {key}: {g:?}\n{}",
                done.text
            );
        }
        for t in &site.targets {
            assert!(
                !t.grants.iter().any(|g| *g.email == person.email),
                "{case}: site {name} still grants {key} on {:?}",
                t.target
            );
        }
    }
    assert_eq!(
        model(&after),
        without(&before, key),
        "{case}: everything but {key} is as it was:\n{}",
        done.text
    );
    done.text.clone()
}

/// What a case must come to.
enum Want {
    /// A correct edit whose text holds each of these.
    Edit(&'static [&'static str]),
    /// A refusal whose message holds this.
    Refused(&'static str),
}

/// `BASE` with `from` replaced by `to`; `from` must occur exactly once.
fn with(from: &str, to: &str) -> String {
    edited(BASE, from, to)
}

fn edited(text: &str, from: &str, to: &str) -> String {
    assert_eq!(text.matches(from).count(), 1, "{from:?}");
    text.replacen(from, to, 1)
}

/// `BASE` without its `requests:` block (which ends the file).
fn without_requests() -> String {
    BASE.split_once("requests:\n")
        .expect("requests")
        .0
        .to_string()
}

fn cases() -> Vec<(&'static str, String, &'static str, Want)> {
    // A team of 5,000 generated people with bob last, on one line.
    let mut many_people = String::new();
    let mut many_names = Vec::new();
    for i in 0..5000 {
        many_people.push_str(&format!("  p{i}: {{ email: p{i}@x.example }}\n"));
        many_names.push(format!("p{i}"));
    }
    let long_team = format!("  big: [{}, bob]\n", many_names.join(", "));
    let long = with("people:\n", &format!("people:\n{many_people}"));
    let long = edited(&long, "teams:\n", &format!("teams:\n{long_team}"));
    let long = edited(
        &long,
        "# bob: offboard",
        &format!("# {} bob: offboard", "x".repeat(200_000)),
    );

    vec![
        (
            "names in comments, other keys, a team's name, a role and a block scalar",
            BASE.to_string(),
            "bob",
            Want::Edit(&[
                "# bob: offboard bob@x.example when he leaves\n",
                "  alice: { email: alice@x.example }   # works with bob\n",
                "  bobby: { email: bob@x.example.org, wix_account_id: acct-bobby }   # not bob\n",
                "    wix_account_id: acct-carol   # bob's old account was acct-bob\n",
                "  bob: [bobby, alice]   # a team named bob\n",
                "  seo: [alice, bobby]\n",
                "  ops:\n    - carol\nsites:",
                "      # person: bob\n      - team: bob\n",
                "      - email: bob@x.example.org\n",
                "      - wix_account_id: acct-bobby\n",
                "        role: \"bob\"   # a custom role named bob\n",
                "  purpose: |\n    - person: bob\n      role: Admin\n    bob@x.example, acct-bob\n",
            ]),
        ),
        (
            "bobby, whose key and email start with bob's",
            BASE.to_string(),
            "bobby",
            Want::Edit(&[
                "  bob: { email: bob@x.example, wix_account_id: acct-bob }\n",
                "  bob: [alice]   # a team named bob\n",
                "  seo: [alice, bob]\n",
                "      - email: BOB@X.example\n",
                "      - wix_account_id: acct-bob\n",
            ]),
        ),
        (
            "CRLF line breaks",
            BASE.replace('\n', "\r\n"),
            "bob",
            Want::Edit(&[
                "  seo: [alice, bobby]\r\n",
                "  ops:\r\n    - carol\r\nsites:\r\n",
                "      - team: bob\r\n        role: Blog Writer\r\n      - email: bob@x.example.org\r\n",
            ]),
        ),
        (
            "CRLF line breaks and no line break at the end",
            BASE.replace('\n', "\r\n").trim_end().to_string(),
            "bob",
            Want::Edit(&["    bob@x.example, acct-bob"]),
        ),
        (
            "tabs between tokens",
            with(
                "  bob: { email: bob@x.example, wix_account_id: acct-bob }\n",
                "  bob:\t{\temail: bob@x.example,\twix_account_id: acct-bob }\t# tab\n",
            )
            .replace("  seo: [alice, bob, bobby]", "  seo: [alice,\tbob,\tbobby]"),
            "bob",
            Want::Edit(&["  seo: [alice,\tbobby]\n"]),
        ),
        (
            "quoted names in a team and a grant",
            with("  seo: [alice, bob, bobby]", "  seo: [alice, \"bob\", 'bobby']")
                .replace("      - person: bob\n", "      - person: 'bob'\n")
                .replace("    - bob   # bob: on call", "    - \"bob\"   # bob: on call"),
            "bob",
            Want::Edit(&["  seo: [alice, 'bobby']\n", "    - carol\nsites:"]),
        ),
        (
            "a quoted name with escapes",
            with("  seo: [alice, bob, bobby]", "  seo: [\"al\\x69ce\", bob, \"b\\u006fbby\"]"),
            "bob",
            Want::Edit(&["  seo: [\"al\\x69ce\", \"b\\u006fbby\"]\n"]),
        ),
        (
            "teams as one flow mapping, several people on one line",
            with(
                "  bob: [bobby, alice]   # a team named bob\n  seo: [alice, bob, bobby]\n  ops:\n    - carol\n    - bob   # bob: on call\n",
                "  { bob: [bobby, bob, alice], seo: [bob, bobby, bob], ops: [carol, bob] }\n",
            )
            .replace("teams:\n", "teams:"),
            "bob",
            Want::Edit(&["teams:  { bob: [bobby, alice], seo: [bobby], ops: [carol] }\n"]),
        ),
        (
            "people as one flow mapping",
            {
                let (head, rest) = BASE.split_once("people:\n").expect("people");
                let tail = rest.split_once("teams:\n").expect("teams").1;
                format!(
                    "{head}people: {{ alice: {{ email: alice@x.example }}, bob: {{ email: bob@x.example, wix_account_id: acct-bob }},\n  bobby: {{ email: bob@x.example.org, wix_account_id: acct-bobby }}, carol: {{ email: carol@x.example }} }}\nteams:\n{tail}"
                )
            },
            "bob",
            Want::Refused("flow mapping"),
        ),
        (
            "a team as a flow list over two lines",
            with("  seo: [alice, bob, bobby]", "  seo: [alice,\n    bob, bobby]"),
            "bob",
            Want::Edit(&["  seo: [alice,\n    bobby]\n"]),
        ),
        (
            "a team as a flow list over two lines, bob last",
            with("  seo: [alice, bob, bobby]", "  seo: [alice, bobby,\n    bob]"),
            "bob",
            Want::Refused("in place"),
        ),
        (
            "bob twice in a team",
            with("  seo: [alice, bob, bobby]", "  seo: [bob, alice, bob, bobby, bob]"),
            "bob",
            Want::Edit(&["  seo: [alice, bobby]\n"]),
        ),
        (
            "a team list anchored and aliased by another team",
            with("  seo: [alice, bob, bobby]", "  seo: &core [alice, bob, bobby]").replace(
                "  ops:\n    - carol\n    - bob   # bob: on call\n",
                "  ops: *core\n",
            ),
            "bob",
            Want::Refused(""),
        ),
        (
            "an anchor on another person, aliased by nobody",
            with("  alice: {", "  alice: &a {"),
            "bob",
            Want::Edit(&["  alice: &a { email: alice@x.example }"]),
        ),
        (
            "bob's grant anchored, its role aliased by another grant",
            with("      - person: bob\n        role: Admin\n", "      - person: bob\n        role: &r Admin\n")
                .replace("        role: Blog Editor\n  s2:", "        role: *r\n  s2:"),
            "bob",
            Want::Refused("anchor"),
        ),
        (
            "bob's email anchored on another value, aliased by his grant",
            with("email: owner@client.example", "email: &e bob@x.example")
                .replace("      - email: BOB@X.example\n", "      - email: *e\n"),
            "bob",
            Want::Refused("alias"),
        ),
        (
            "bob's grant anchors his email, another site's owner aliases it",
            with("      - email: BOB@X.example\n", "      - email: &e BOB@X.example\n").replace(
                "    wix: { site_id: site-2, account_id: acc-2, api_key_env: KEY_2 }\n",
                "    wix: { site_id: site-2, account_id: acc-2, api_key_env: KEY_2 }\n    owner: { email: *e }\n",
            ),
            "bob",
            Want::Refused("anchor"),
        ),
        (
            "a merge key",
            with(
                "    wix: { site_id: site-2, account_id: acc-2, api_key_env: KEY_2 }\n",
                "    <<: { wix: { site_id: site-2, account_id: acc-2, api_key_env: KEY_2 } }\n",
            ),
            "bob",
            Want::Refused("merge keys"),
        ),
        (
            "a grant by Wix account with spaces around it (the loader trims them)",
            with("      - wix_account_id: acct-bob\n", "      - wix_account_id: \" acct-bob \"\n"),
            "bob",
            Want::Edit(&["      - wix_account_id: acct-bobby\n"]),
        ),
        (
            "a grant by email that is bob's in other letters' case",
            with("      - email: BOB@X.example\n", "      - email: \"Bob@X.EXAMPLE\"\n"),
            "bob",
            Want::Edit(&["      - email: bob@x.example.org\n"]),
        ),
        (
            "bob only through a team, the site's grants a flow list",
            with(
                "      - team: seo\n        role: Website Manager\n      - wix_account_id: acct-bob\n        role: Blog Editor\n",
                "",
            )
            .replace(
                "    access:\n      - wix_account_id: acct-bobby\n        role: Blog Editor\n      - person: carol\n        role: \"bob\"   # a custom role named bob\n",
                "    access: [{ team: seo, role: Website Manager }, { person: carol, role: \"bob\" }]\n",
            ),
            "bob",
            Want::Edit(&[
                "    access: [{ team: seo, role: Website Manager }, { person: carol, role: \"bob\" }]\n",
            ]),
        ),
        (
            "a direct grant in a flow list",
            with(
                "    access:\n      - team: seo\n        role: Website Manager\n      - wix_account_id: acct-bob\n",
                "    access: [{ team: seo, role: Website Manager }, { wix_account_id: acct-bob, role: Blog Editor }]\n    x-access:\n      - wix_account_id: acct-bob\n",
            )
            .replace("    x-access:\n      - wix_account_id: acct-bob\n        role: Blog Editor\n      - wix_account_id: acct-bobby\n        role: Blog Editor\n      - person: carol\n        role: \"bob\"   # a custom role named bob\n", ""),
            "bob",
            Want::Refused("not a block list item"),
        ),
        (
            "every grant of a site is bob's, the file ends without a line break",
            format!(
                "{}  s3:\n    wix: {{ site_id: site-3, account_id: acc-3, api_key_env: KEY_3 }}\n    access:   # bob's\n      - person: bob\n        role: Admin",
                without_requests()
            ),
            "bob",
            Want::Edit(&["    access: []   # bob's\n"]),
        ),
        (
            "bob is the last person, at the end of a file without a line break",
            {
                let text = without_requests();
                let (head, rest) = text.split_once("people:\n").expect("people");
                let (people, tail) = rest.split_once("teams:\n").expect("teams");
                let people = people.replace(
                    "  bob: { email: bob@x.example, wix_account_id: acct-bob }\n",
                    "",
                );
                format!(
                    "{head}teams:\n{tail}people:\n{people}  bob: {{ email: bob@x.example, wix_account_id: acct-bob }}"
                )
            },
            "bob",
            Want::Edit(&["    wix_account_id: acct-carol   # bob's old account was acct-bob\n"]),
        ),
        (
            "grants as an indentless sequence, all of a site's bob's",
            with(
                "    access:\n      # person: bob\n      - team: bob\n        role: Blog Writer\n      - person: bob\n        role: Admin\n      - email: BOB@X.example\n        role: Blog Writer\n      - email: bob@x.example.org\n        role: Blog Editor\n",
                "    access:\n    - person: bob\n      role: Admin\n    # bob's\n    - email: BOB@X.example\n      role: Blog Writer\n    owner: { email: owner@client.example }\n",
            )
            .replace("    owner: { name: \"Bob's boss\", email: owner@client.example }\n", ""),
            "bob",
            Want::Edit(&["    access: []\n    # bob's\n    owner: { email: owner@client.example }\n"]),
        ),
        (
            "a comment at the first column inside bob's block entry",
            with(
                "  bob: { email: bob@x.example, wix_account_id: acct-bob }\n",
                "  bob:\n    email: bob@x.example\n# bob's account, below\n    wix_account_id: acct-bob\n",
            ),
            "bob",
            Want::Edit(&["  alice: { email: alice@x.example }   # works with bob\n  bobby:"]),
        ),
        (
            "a document start marker and a block scalar with `>`",
            format!("---\n{}", with("  purpose: |\n", "  purpose: >\n")),
            "bob",
            Want::Edit(&["---\nversion: 2\n", "  purpose: >\n    - person: bob\n"]),
        ),
        (
            "a second document",
            format!("{BASE}---\npeople: {{}}\n"),
            "bob",
            Want::Refused("several documents"),
        ),
        (
            "a byte-order mark before a one-line flow mapping",
            format!(
                "\u{feff}teams: {{ bob: [bobby, alice], seo: [alice, bob, bobby], ops: [carol, bob] }}\n{}",
                with(
                    "teams:\n  bob: [bobby, alice]   # a team named bob\n  seo: [alice, bob, bobby]\n  ops:\n    - carol\n    - bob   # bob: on call\n",
                    "",
                )
            ),
            "bob",
            Want::Edit(&[
                "\u{feff}teams: { bob: [bobby, alice], seo: [alice, bobby], ops: [carol] }\n",
            ]),
        ),
        (
            "very long lines and 5,000 people",
            long,
            "bob",
            Want::Edit(&["p4999]\n", "  seo: [alice, bobby]\n"]),
        ),
        (
            "a duplicate person key",
            with(
                "  bobby: {",
                "  bob: { email: bob2@x.example }\n  bobby: {",
            ),
            "bob",
            Want::Refused(""),
        ),
    ]
}

#[test]
fn crafted_configs_are_edited_correctly_or_refused() {
    let mut failed = Vec::new();
    for (case, text, person, want) in cases() {
        // Every case is tried; the failures are named together.
        let tried = std::panic::catch_unwind(|| {
            let got = offboard(&text, person);
            match (want, got) {
                (Want::Edit(holds), Ok(done)) => {
                    let out = check_edit(case, &text, person, &done);
                    for h in holds {
                        assert!(out.contains(h), "{case}: {h:?} in:\n{out}");
                    }
                }
                (Want::Edit(_), Err(e)) => panic!("{case}: refused: {e:?}"),
                (Want::Refused(says), Err(e)) => {
                    assert!(e.message.contains(says), "{case}: {e:?}");
                    assert!(e.hint.is_some(), "{case}: a refusal says what to do: {e:?}");
                }
                (Want::Refused(_), Ok(done)) => {
                    // An edit where a refusal was expected must still be right.
                    check_edit(case, &text, person, &done);
                    panic!(
                        "{case}: edited where a refusal was expected:\n{}",
                        done.text
                    );
                }
            }
        });
        if tried.is_err() {
            failed.push(case);
        }
    }
    assert!(failed.is_empty(), "failed: {failed:#?}");
}

/// Multi-byte text before the person's name on its line (possible only in
/// text the loader would refuse; the edit works on the YAML alone): the
/// cut is made at the name, by characters, not bytes.
#[test]
fn multi_byte_text_before_the_cut_is_cut_at_the_name() {
    let text = "people:\n  alice: { email: a@x.example }\n  bob: { email: b@x.example }\nteams:\n  \"zo\u{eb}\u{1f600}\": [\"\u{1f600}\u{e9}\u{e9}\", bob, \"\u{e9}\"]\n  ops: [\"\u{1f600}\", bob]\n";
    let done = offboard(text, "bob").expect("edits");
    assert_eq!(
        done.text,
        "people:\n  alice: { email: a@x.example }\nteams:\n  \"zo\u{eb}\u{1f600}\": [\"\u{1f600}\u{e9}\u{e9}\", \"\u{e9}\"]\n  ops: [\"\u{1f600}\"]\n"
    );
}

/// Through the binary: every refused case fails with the reason and a hint
/// (or, where the loader refuses the config first, with its errors), and
/// the file is byte for byte as it was.
#[test]
fn refusals_through_the_binary_leave_the_file_byte_identical() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("access.yaml");
    let mut refused = 0;
    for (case, text, person, want) in cases() {
        let Want::Refused(_) = want else { continue };
        refused += 1;
        std::fs::write(&path, &text).expect("write");
        let out = accessctl()
            .current_dir(dir.path())
            .arg("-c")
            .arg(&path)
            .args(["offboard", person, "--write"])
            .output()
            .expect("runs");
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{case}: {err}");
        assert!(err.contains("error"), "{case}: {err}");
        assert!(!err.contains("panicked"), "{case}: {err}");
        if accessctl::config::load_str(&path, text.as_bytes()).is_ok() {
            assert!(err.contains("cannot offboard `bob`"), "{case}: {err}");
            assert!(err.contains("is unchanged"), "{case}: {err}");
            assert!(err.contains("hint"), "{case}: {err}");
        }
        assert_eq!(
            std::fs::read(&path).expect("read"),
            text.as_bytes(),
            "{case}"
        );
    }
    assert!(refused >= 6, "{refused}");
}

/// Through the binary, against the emulator: the example config with CRLF
/// line breaks loses exactly bob's lines, and keeps its CRLFs.
#[test]
fn write_on_a_crlf_config_removes_exactly_the_persons_lines() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let config = std::fs::read_to_string(root.join("agency.yaml"))
        .expect("config")
        .replace('\n', "\r\n");
    let seed = std::fs::read_to_string(root.join("agency.seed.yaml")).expect("seed");
    let h = common::Harness::new(&seed, &config, &common::agency_keys());
    let out = h
        .cmd(&["offboard", "bob", "--write", "--format", "json"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let want = edited(
        &config,
        "  bob:   { email: bob@northwind.example, wix_account_id: acct-bob }\r\n",
        "",
    );
    let want = edited(&want, "  seo: [alice, bob]\r\n", "  seo: [alice]\r\n");
    let want = edited(
        &want,
        "      - person: bob\r\n        role: Website Manager             # bob holds Blog Editor today: a role change\r\n",
        "",
    );
    let got = std::fs::read_to_string(h.config_path()).expect("read");
    assert_eq!(got, want);
    let out = h.cmd(&["validate"]).output().expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
}

/// What Wix returns is hostile too: a custom role title holding a line
/// break, a workflow command and terminal escapes, held by the person
/// offboarded, reaches the revocation listing only escaped: no raw ESC
/// byte, no line of its own that the Actions runner would execute.
#[test]
fn a_live_role_title_is_escaped_in_the_offboard_listing() {
    let seed = r#"
accounts:
  - id: acc-1
    api_keys: [key-one]
    custom_roles:
      - { id: custom-evil, title: "Evil\n::stop-commands::tok\e]8;;https://evil.example\a\e[2J", description: x }
sites:
  - id: site-one
    account: acc-1
    contributors:
      - { account_id: acct-bob, roles: [custom-evil] }
"#;
    let config = "version: 2
people:
  alice: { email: alice@agency.example }
  bob: { email: bob@agency.example, wix_account_id: acct-bob }
sites:
  one:
    wix: { site_id: site-one, account_id: acc-1, api_key_env: KEY_ONE }
    unmanaged: remove
    access:
      - { person: alice, role: Blog Editor }
      - person: bob
        role: Blog Editor
";
    let h = common::Harness::new(seed, config, &[("KEY_ONE", "key-one")]);
    for args in [
        &["offboard", "bob"][..],
        &["offboard", "bob", "--write"][..],
    ] {
        h.write_config(config);
        let out = h.cmd(args).output().expect("runs");
        let text = format!("{}{}", common::stdout(&out), stderr(&out));
        assert!(out.status.success(), "{args:?}: {text}");
        assert!(
            !out.stdout.contains(&0x1b) && !out.stderr.contains(&0x1b),
            "{args:?}: a raw ESC byte reached the output:\n{text}"
        );
        assert!(
            !text.lines().any(|l| l.trim_start().starts_with("::")),
            "{args:?}: a line reads as a workflow command:\n{text}"
        );
        // The revocation is listed, with the title shown escaped.
        assert!(text.contains("account acct-bob"), "{args:?}: {text}");
        assert!(text.contains("Evil\\n"), "{args:?}: {text}");
    }
}

/// Where the edited config still names the person's email, in another
/// case (non-ASCII letters too, as the loader lower-cases them), it says
/// so: a reply-to address in upper case is not missed.
#[test]
fn still_named_finds_the_email_in_any_case() {
    let text = "people:\n  alice: { email: a@x.example }\n  asa: { email: \"\u{c5}sa@x.example\" }\nrequests:\n  email:\n    reply_to: \"\u{c5}SA@X.EXAMPLE\"\n    from: { email: \"\u{e5}sa@x.example\" }\n";
    let done = offboard(text, "asa").expect("edits");
    assert_eq!(
        done.still_named,
        ["requests.email.from.email", "requests.email.reply_to"]
    );
}

/// A config built from `choices`: people, teams and grants written in every
/// style offboard edits (flow and block entries and lists, quoted and
/// plain names, names in comments, tabs between flow items, grants by key,
/// by email in another case and by Wix account with spaces), with CRLF
/// line breaks or not and a final line break or not. Always valid; a team
/// may have one member.
fn generated(choices: &[u8]) -> String {
    let mut at = 0usize;
    let mut pick = |n: usize| {
        let c = choices[at % choices.len()] as usize;
        at += 1;
        c % n
    };
    let people = 3 + pick(4);
    let name = |i: usize, quoted: usize| match quoted {
        0 => format!("p{i}"),
        1 => format!("\"p{i}\""),
        _ => format!("'p{i}'"),
    };
    let mut t = String::from("version: 2\n# p0 p1 p2: people\npeople:\n");
    for i in 0..people {
        match pick(3) {
            0 => t.push_str(&format!(
                "  p{i}: {{ email: p{i}@x.example, wix_account_id: acct-p{i} }}   # p{}\n",
                (i + 1) % people
            )),
            1 => t.push_str(&format!(
                "  p{i}:\n    email: p{i}@x.example\n    # p{i}'s account\n    wix_account_id: acct-p{i}\n"
            )),
            _ => t.push_str(&format!("  p{i}: {{email: p{i}@x.example}}\n")),
        }
    }
    t.push_str("teams:\n");
    let teams = 1 + pick(3);
    for k in 0..teams {
        let mut members: Vec<usize> = (0..people).filter(|_| pick(2) == 0).collect();
        if members.is_empty() {
            members = vec![k % people];
        }
        let names: Vec<String> = members.iter().map(|m| name(*m, pick(3))).collect();
        match pick(3) {
            0 => t.push_str(&format!("  t{k}: [{}]   # p0\n", names.join(", "))),
            1 => t.push_str(&format!("  t{k}: [ {} ]\n", names.join(",\t"))),
            _ => {
                t.push_str(&format!("  t{k}:\n"));
                for n in &names {
                    t.push_str(&format!("    - {n}   # {n}\n"));
                }
            }
        }
    }
    t.push_str("sites:\n");
    for s in 0..1 + pick(3) {
        t.push_str(&format!(
            "  s{s}:\n    wix: {{ site_id: site-{s}, account_id: acc-{s}, api_key_env: KEY_{s} }}\n    access:{}\n",
            if pick(2) == 0 { "   # p1's too" } else { "" }
        ));
        for _ in 0..1 + pick(4) {
            let who = pick(people);
            let principal = match pick(5) {
                0 => format!("team: t{}", pick(teams)),
                1 => format!("email: P{who}@X.example"),
                2 => format!("wix_account_id: \" acct-p{who}\""),
                3 => format!("person: {}", name(who, pick(3))),
                _ => format!("person: p{who}"),
            };
            match pick(3) {
                0 => t.push_str(&format!("      - {{ {principal}, role: Blog Writer }}\n")),
                1 => t.push_str(&format!(
                    "      # p{who}\n      - {principal}\n        role: Blog Writer   # p{who}\n"
                )),
                _ => t.push_str(&format!("      - {principal}\n        role: Blog Editor\n")),
            }
        }
    }
    if pick(2) == 0 {
        t = t.replace('\n', "\r\n");
    }
    if pick(2) == 0 {
        t = t.trim_end().to_string();
    }
    t
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..proptest::prelude::ProptestConfig::default()
    })]

    /// On generated configs, offboarding anyone is a correct edit, or the
    /// one refusal the config calls for (a team left empty); never a
    /// refusal of the way it is written, which offboard handles.
    #[test]
    fn generated_configs_are_edited_correctly(
        choices in proptest::collection::vec(proptest::prelude::any::<u8>(), 64),
        who in 0usize..6,
    ) {
        let text = generated(&choices);
        let before = load(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let key = format!("p{}", who % before.people.len());
        match offboard(&text, &key) {
            Ok(done) => {
                check_edit("generated", &text, &key, &done);
            }
            Err(e) => {
                let lonely = before.teams.values().any(|m| m.len() == 1 && m[0] == key);
                proptest::prop_assert!(
                    lonely && e.message.contains("would be left empty"),
                    "{e:?}\n{text}"
                );
            }
        }
    }
}
