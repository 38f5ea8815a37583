//! Untrusted text is neutralised where it is printed, tested as an attacker
//! would: through the real binary, over loopback against the emulator.
//!
//! `plan` runs in GitHub Actions on every pull request, and the runner
//! executes any line of stdout or stderr that starts (after spaces) with
//! `::` as a workflow command (`::add-mask::`, `::error`,
//! `::stop-commands::`); the Markdown plan is posted as a comment. The
//! config is written by pull requests and Wix's answers (role titles) are
//! not ours either. So:
//!
//! - no payload carried by a config key, an owner name or a live role
//!   title ever starts a line with `::`, with or without
//!   `GITHUB_ACTIONS=true`, in `validate`, `plan` (text and Markdown) and
//!   `apply`; the only such lines are accessctl's own annotations, well
//!   formed, with the payload `%0A`-escaped inside them;
//! - `@org/team` in a name pings nobody in the Markdown, HTML and link
//!   syntax are escaped, and backticks cannot close a code span or fence;
//! - a CR in an owner, sender or agency name is a located validation
//!   error, never a panic in the mailer.

mod common;

use common::{Harness, stderr, stdout};

const NOW: &str = "2026-10-01T09:00:00Z";

/// A role title Wix (the emulator's seed) returns with a line of its own.
const EVIL_TITLE: &str = "Evil\n::stop-commands::tok";

/// A managed site whose collaborators hold a role with [`EVIL_TITLE`]:
/// bob (known to the config, to be moved to Blog Editor) and an account
/// the config does not know (warned about).
const SEED: &str = r#"
accounts:
  - id: acc-1
    api_keys: [key-one]
    custom_roles:
      - { id: custom-evil, title: "Evil\n::stop-commands::tok", description: x }
sites:
  - id: site-one
    account: acc-1
    contributors:
      - { account_id: acct-bob, roles: [custom-evil] }
      - { account_id: acct-stranger, roles: [custom-evil] }
  - id: site-shop
    account: acc-1
"#;

const LIVE_TITLE_CONFIG: &str = "version: 2
people:
  bob: { email: bob@agency.example, wix_account_id: acct-bob }
sites:
  one:
    wix: { site_id: site-one, account_id: acc-1, api_key_env: KEY_ONE }
    unmanaged: warn
    access:
      - { person: bob, role: Blog Editor }
";

fn harness(config: &str) -> Harness {
    Harness::new(SEED, config, &[("KEY_ONE", "key-one")])
}

/// Runs `args` with the clock pinned, as in CI (`gha`) or not.
fn run(h: &Harness, args: &[&str], gha: bool) -> std::process::Output {
    let mut cmd = h.cmd(args);
    cmd.env("ACCESSCTL_NOW", NOW)
        .env_remove("GITHUB_STEP_SUMMARY");
    if gha {
        cmd.env("GITHUB_ACTIONS", "true");
    } else {
        cmd.env_remove("GITHUB_ACTIONS");
    }
    cmd.output().expect("runs")
}

/// No line of `out` reads as a workflow command unless it is one of
/// accessctl's own annotations (only with `gha`), and those are well formed:
/// `::error`/`::warning`, known properties without a raw `:`, and no raw
/// line break (each is one line by construction). The legacy `##[` marker
/// appears nowhere. Returns the annotations.
fn assert_no_injected_commands(out: &std::process::Output, gha: bool) -> Vec<String> {
    let text = format!("{}{}", stdout(out), stderr(out));
    assert!(!text.contains("panicked"), "{text}");
    assert!(!text.contains("##["), "legacy command marker:\n{text}");
    let mut annotations = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if !trimmed.starts_with("::") {
            continue;
        }
        assert!(gha, "a line reads as a workflow command: {line:?}\n{text}");
        let (command, rest) = trimmed[2..]
            .split_once("::")
            .unwrap_or_else(|| panic!("not an annotation: {line:?}"));
        let (name, props) = command.split_once(' ').unwrap_or((command, ""));
        assert!(
            name == "error" || name == "warning",
            "accessctl emits only error and warning annotations: {line:?}"
        );
        for prop in props.split(',').filter(|p| !p.is_empty()) {
            let (key, value) = prop
                .split_once('=')
                .unwrap_or_else(|| panic!("malformed property in {line:?}"));
            assert!(
                ["file", "line", "col", "title"].contains(&key),
                "unknown property `{key}` in {line:?}"
            );
            assert!(!value.contains(':'), "unescaped `:` in {line:?}");
        }
        assert!(!rest.contains('\r'), "raw CR in {line:?}");
        annotations.push(trimmed.to_string());
    }
    annotations
}

/// Hole 5: a quoted YAML key carrying a line break printed it raw in the
/// diagnostic, so `::error::pwned` reached the runner on a line of its own.
#[test]
fn a_config_key_with_a_line_break_stays_one_line() {
    let config = "version: 2
people:
  alice: { email: alice@agency.example }
  \"x\\n::error::pwned\": { email: x@agency.example }
teams:
  \"t\\n::add-mask::team\": [alice]
sites:
  \"s\\n::stop-commands::site\":
    wix: { site_id: site-one, account_id: acc-1, api_key_env: KEY_ONE }
    access:
      - { person: alice, role: Blog Editor }
";
    let h = harness(config);
    for gha in [false, true] {
        for args in [
            &["validate"][..],
            &["plan"],
            &["plan", "--format", "markdown"],
            &["apply", "--auto-approve"],
        ] {
            let out = run(&h, args, gha);
            assert_eq!(out.status.code(), Some(1), "{args:?}\n{}", stderr(&out));
            let err = stderr(&out);
            assert!(
                err.contains("invalid person key `x\\n::error::pwned`"),
                "{err}"
            );
            let annotations = assert_no_injected_commands(&out, gha);
            if gha {
                // The payload reaches the runner only inside an annotation,
                // its line break percent-encoded.
                assert!(
                    annotations
                        .iter()
                        .any(|a| a.starts_with("::error file=")
                            && a.contains("x%0A::error::pwned")),
                    "{annotations:#?}"
                );
                assert!(
                    annotations
                        .iter()
                        .any(|a| a.contains("t%0A::add-mask::team")),
                    "{annotations:#?}"
                );
            }
        }
    }
}

/// Hole 5: a request-mode owner name with `\n::add-mask::x` was printed raw
/// in the request headline and the message preview. It is now refused at
/// `validate`, with its location, and the refusal stays on its line.
#[test]
fn an_owner_name_with_a_line_break_is_refused_on_one_line() {
    let config = "version: 2
people:
  alice: { email: alice@agency.example }
sites:
  shop:
    wix: { site_id: site-shop, account_id: acc-1 }
    owner: { name: \"Jane\\n::add-mask::x\", email: jane@shop.example }
    access:
      - { person: alice, role: Blog Editor }
requests:
  agency: \"Agency\\n::warning::agency\"
  webhook: { url_env: HOOK_URL, secret_env: HOOK_SECRET }
";
    let h = harness(config);
    for gha in [false, true] {
        for args in [
            &["validate"][..],
            &["plan"],
            &["plan", "--format", "markdown"],
            &["apply", "--auto-approve"],
        ] {
            let out = run(&h, args, gha);
            assert_eq!(out.status.code(), Some(1), "{args:?}\n{}", stderr(&out));
            let err = stderr(&out);
            assert!(
                err.contains(
                    "error: the owner name of site `shop` contains the control character `\\n`"
                ),
                "{err}"
            );
            assert!(err.contains("access.yaml:7:20"), "{err}");
            assert!(err.contains("access.yaml:11:11"), "{err}");
            let annotations = assert_no_injected_commands(&out, gha);
            assert_eq!(
                annotations.len(),
                if gha { 2 } else { 0 },
                "{annotations:#?}"
            );
        }
    }
}

/// Hole 5: a role title from Wix holding `\n::stop-commands::tok` was
/// printed raw in the plan's changes and warnings, the apply report and
/// its progress lines.
#[test]
fn a_live_role_title_with_a_line_break_is_escaped_in_every_sink() {
    let h = harness(LIVE_TITLE_CONFIG);
    for gha in [false, true] {
        for args in [&["plan"][..], &["plan", "--format", "markdown"]] {
            let out = run(&h, args, gha);
            assert_eq!(out.status.code(), Some(0), "{args:?}\n{}", stderr(&out));
            assert!(
                stdout(&out).contains("Evil\\n::stop-commands::tok"),
                "{args:?}\n{}",
                stdout(&out)
            );
            let annotations = assert_no_injected_commands(&out, gha);
            assert!(annotations.is_empty(), "{annotations:#?}");
        }
    }
    // The plan data keeps Wix's words; JSON escapes them itself.
    let json = stdout(&run(&h, &["plan", "--format", "json"], false));
    assert!(
        json.contains(&format!(
            "\"title\": {}",
            serde_json::to_string(EVIL_TITLE).expect("a string")
        )),
        "{json}"
    );
    assert!(
        !json.lines().any(|l| l.trim_start().starts_with("::")),
        "{json}"
    );

    let out = run(&h, &["apply", "--auto-approve"], true);
    assert!(out.status.success(), "{}", stderr(&out));
    let annotations = assert_no_injected_commands(&out, true);
    assert!(annotations.is_empty(), "{annotations:#?}");
    assert!(
        stdout(&out).contains("Evil\\n::stop-commands::tok"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("done  change-role bob"),
        "{}",
        stdout(&out)
    );
}

/// Hole 6: `@org/team` and `@someone` in a name stayed live mentions in the
/// pull-request comment; HTML and link syntax must not render either, and a
/// backtick run must not close a code span or fence.
#[test]
fn markdown_defuses_mentions_html_links_and_backticks() {
    let name = "@org/team @someone <img src=x> [click](https://evil.example) ![i](x) ``` end";
    let config = format!(
        "version: 2
people:
  alice: {{ email: alice@agency.example }}
sites:
  shop:
    wix: {{ site_id: site-shop, account_id: acc-1 }}
    owner: {{ name: \"{name}\", email: jane@shop.example }}
    access:
      - {{ person: alice, role: Blog Editor }}
requests:
  agency: \"@org/agency\"
  webhook: {{ url_env: HOOK_URL, secret_env: HOOK_SECRET }}
"
    );
    let h = harness(&config);
    let out = run(&h, &["plan", "--format", "markdown"], false);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let md = stdout(&out);
    assert_no_injected_commands(&out, false);

    // Outside code blocks, the text GitHub renders as Markdown.
    let mut prose = Vec::new();
    let mut fence: Option<usize> = None;
    let mut fenced_bodies = Vec::new();
    for line in md.lines() {
        let ticks = line.chars().take_while(|c| *c == '`').count();
        match fence {
            None if ticks >= 3 => fence = Some(ticks),
            None => prose.push(line),
            Some(open) if ticks >= open && line[ticks..].trim().is_empty() => fence = None,
            Some(_) => fenced_bodies.push(line),
        }
    }
    assert_eq!(fence, None, "a fence was left open:\n{md}");
    // The name's own ``` is in the message, inside a longer fence.
    assert!(fenced_bodies.iter().any(|l| l.contains("``` end")), "{md}");
    let prose = prose.join("\n");
    assert!(prose.contains("Jane") || prose.contains("org/team"), "{md}");
    for (i, _) in prose.match_indices('@') {
        let before = prose[..i].chars().next_back();
        let after = prose[i + 1..].chars().next();
        let in_word = before.is_some_and(|c| c.is_alphanumeric());
        assert!(
            in_word || after == Some('\u{200b}'),
            "a live mention at {i}:\n{prose}"
        );
    }
    assert!(!prose.contains("<img"), "{prose}");
    assert!(prose.contains("&lt;img src=x&gt;"), "{prose}");
    assert!(!prose.contains("[click]("), "{prose}");
    assert!(
        prose.contains("\\[click\\]\\(https://evil.example\\)"),
        "{prose}"
    );
    assert!(prose.contains("\\!\\[i\\]"), "{prose}");
    assert!(prose.contains("\\`\\`\\` end"), "{prose}");
}

/// Hole 8: a CR in an owner or sender name panicked inside lettre (SMTP) at
/// apply. It is a located validation error, for every name a mail carries.
#[test]
fn a_carriage_return_in_a_name_is_a_located_error_not_a_panic() {
    let config = "version: 2
people:
  alice: { email: alice@agency.example }
sites:
  shop:
    wix: { site_id: site-shop, account_id: acc-1 }
    owner: { name: \"Jane\\rBcc: evil@x.example\", email: jane@shop.example }
    access:
      - { person: alice, role: Blog Editor }
requests:
  agency: \"Agency\\r\"
  email:
    from: { name: \"Test\\r\\nAgency\", email: access@agency.example }
    smtp: { host: 127.0.0.1, port: 2525, security: none }
";
    let h = harness(config);
    for args in [&["validate"][..], &["apply", "--auto-approve"]] {
        let out = run(&h, args, false);
        assert_eq!(out.status.code(), Some(1), "{args:?}\n{}", stderr(&out));
        let err = stderr(&out);
        for (location, message) in [
            (
                "access.yaml:7:20",
                "the owner name of site `shop` contains the control character `\\r`",
            ),
            (
                "access.yaml:11:11",
                "`requests.agency` contains the control character `\\r`",
            ),
            (
                "access.yaml:13:19",
                "the name of `requests.email.from` contains the control character `\\r`",
            ),
        ] {
            let at = location.replace("access.yaml", &h.config_path().display().to_string());
            assert!(
                err.contains(&format!("error: {message}\n  --> {at}\n")),
                "{err}"
            );
        }
        assert!(err.contains("= hint: write it on one line"), "{err}");
        assert!(!err.contains('\r'), "{err:?}");
        assert_no_injected_commands(&out, false);
    }
    // A site's own recipient is checked the same way.
    h.write_config(
        "version: 2
people:
  alice: { email: alice@agency.example }
sites:
  shop:
    wix: { site_id: site-shop, account_id: acc-1 }
    request:
      to: { name: \"Desk\\r\", email: desk@shop.example }
    access:
      - { person: alice, role: Blog Editor }
requests:
  agency: Agency
  email:
    from: { name: Agency, email: access@agency.example }
    smtp: { host: 127.0.0.1, port: 2525, security: none }
",
    );
    let out = run(&h, &["validate"], false);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "error: the name of the request recipient of site `shop` contains the control character `\\r`\n  --> "
        ),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("access.yaml:8:19"),
        "{}",
        stderr(&out)
    );
}

/// Hole 5: `import` printed a live role title inside YAML quotes with its
/// line break raw, so `::stop-commands::tok` began a line of stdout.
#[test]
fn import_keeps_a_live_role_title_on_its_line() {
    let h = harness(LIVE_TITLE_CONFIG);
    for gha in [false, true] {
        let out = run(&h, &["import"], gha);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(assert_no_injected_commands(&out, gha).is_empty());
        assert!(
            stdout(&out).contains(r#"roles: ["Evil\n::stop-commands::tok"]"#),
            "{}",
            stdout(&out)
        );
    }
}
