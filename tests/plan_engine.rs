//! Data-driven tests of the plan engine, `plan::plan_site`.
//!
//! Each test gives a config file, what the provider observed (a small text
//! format, see [`live_site`]), the site's ledger (see [`site_ledger`]), the
//! time of planning, and the plan it expects, written in a compact text form
//! (see [`render`]). [`check`] plans the site twice, checks the invariants
//! every plan must hold, and compares the rendered plan with the expectation.
//!
//! An expected `warning:` or `error:` line that ends with `…` matches any
//! actual line that starts with the text before the `…`.

use std::path::Path;

use accessctl::config;
use accessctl::ledger::{INVITE_LIFETIME_DAYS, Identity, IdentitySource, InviteRecord};
use accessctl::ledger::{InviteState, SiteLedger};
use accessctl::plan::{Action, Change, Mode, Observation, Role, SitePlan, plan_site};
use accessctl::state::{LiveSite, RoleDef};
use time::macros::{datetime, format_description};
use time::{Date, Duration, OffsetDateTime};

/// The key and id every test site has, so ledgers need not repeat them.
const SITE: &str = "acme";
const SITE_ID: &str = "site-1";

/// The default time of planning: `until` dates compare against 2026-06-01.
const NOW: OffsetDateTime = datetime!(2026-06-01 12:00 UTC);

/// One planning scenario.
struct Case<'a> {
    /// The whole config file, indented as the test likes.
    config: &'a str,
    /// What the provider reported.
    observed: Observed<'a>,
    /// The site's ledger in the line format of [`site_ledger`].
    ledger: &'a str,
    now: OffsetDateTime,
    /// Also render the before and after listings.
    listings: bool,
    /// The plan, as [`render`] writes it.
    expect: &'a str,
}

impl Default for Case<'_> {
    fn default() -> Self {
        Case {
            config: "",
            observed: Observed::Live(""),
            ledger: "",
            now: NOW,
            listings: false,
            expect: "",
        }
    }
}

enum Observed<'a> {
    /// The site as read over the API, in the line format of [`live_site`].
    Live(&'a str),
    RequestMode,
    Failed(&'a str),
}

use Observed::{Failed, Live, RequestMode};

fn check(case: Case<'_>) {
    let config_text = format!("{}\n", trim_indent(case.config));
    let loaded = match config::load_str(Path::new("access.yaml"), config_text.as_bytes()) {
        Ok(loaded) => loaded,
        Err(report) => panic!("the test config is invalid: {report:?}\n{config_text}"),
    };
    let config = loaded.config;
    assert_eq!(config.sites.len(), 1, "a case has exactly one site");
    let site = config.sites.values().next().expect("one site");
    assert_eq!(site.key, SITE);
    assert_eq!(site.wix.site_id, SITE_ID);
    let observation = match case.observed {
        Live(text) => Observation::Live(live_site(text)),
        RequestMode => Observation::RequestMode,
        Failed(message) => Observation::Failed(message.to_string()),
    };
    let ledger = site_ledger(case.ledger);

    let plan = plan_site(&config, site, &observation, &ledger, case.now);

    // Same inputs, byte-identical plan.
    let again = plan_site(&config, site, &observation, &ledger, case.now);
    assert_eq!(
        serde_json::to_string(&plan).expect("serializes"),
        serde_json::to_string(&again).expect("serializes"),
        "planning twice gave different plans"
    );
    invariants(&plan, &observation, site.is_request_mode());

    let expected = trim_indent(case.expect);
    let actual = abbreviate(&render(&plan, case.listings), &expected);
    assert_eq!(
        actual, expected,
        "\n--- actual plan ---\n{actual}\n--- expected ---\n{expected}\n"
    );
}

/// What every plan must satisfy, whatever the scenario.
fn invariants(plan: &SitePlan, observation: &Observation, request_mode: bool) {
    assert_eq!(plan.site, SITE);
    assert_eq!(plan.site_id, SITE_ID);
    let mode = if request_mode {
        Mode::Request
    } else {
        Mode::Managed
    };
    assert_eq!(plan.mode, mode);
    assert_eq!(
        plan.fingerprint.is_some(),
        matches!(observation, Observation::Live(_) | Observation::RequestMode),
        "a fingerprint exactly when the site was read, or is in request mode (its ledger)"
    );
    if !plan.errors.is_empty() {
        assert!(plan.changes.is_empty(), "a site with errors has no changes");
        assert_eq!(plan.before, plan.after, "a site with errors stays as it is");
    }
    let order: Vec<(Action, &str)> = plan
        .changes
        .iter()
        .map(|c| (c.action, c.who.as_str()))
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted, "changes are in apply order");
    for change in &plan.changes {
        for role in change.roles_before.iter().chain(&change.roles_after) {
            assert_eq!(
                role.id.is_some(),
                mode == Mode::Managed,
                "role ids exactly in managed mode: {change:?}"
            );
        }
        assert!(
            is_sorted_by_title(&change.roles_before) && is_sorted_by_title(&change.roles_after),
            "roles sorted by title: {change:?}"
        );
        match change.action {
            Action::Link | Action::ChangeRole | Action::Remove => {
                assert!(change.account_id.is_some(), "{change:?}");
            }
            Action::Invite | Action::RevokeInvite => {
                assert!(change.email.is_some(), "{change:?}");
            }
            Action::Request | Action::RequestChange | Action::RequestRemoval => {}
        }
        if change.action == Action::RevokeInvite {
            assert!(change.invite_id.is_some(), "{change:?}");
        }
    }
    let before: Vec<&str> = plan.before.lines().collect();
    assert!(
        before.is_sorted(),
        "the before listing is sorted: {before:?}"
    );
    let after: Vec<&str> = plan.after.lines().collect();
    assert!(after.is_sorted(), "the after listing is sorted: {after:?}");
}

fn is_sorted_by_title(roles: &[Role]) -> bool {
    roles.windows(2).all(|w| w[0].title <= w[1].title)
}

/// The compact text form of a site plan: one line per change, then pending
/// invites, warnings and errors, then (on request) the listings.
///
/// ```text
/// mode: request                               (request mode only)
/// link dave = acct-dave (inv-1)
/// revoke-invite carol (inv-1)
/// invite alice: Blog Editor, Website Manager
/// change-role bob: Blog Writer -> Website Manager
/// remove bob (acct-bob): <reason>
/// request alice: Website Manager
/// pending alice: Website Manager
/// warning: <text>
/// error: <text>
/// no changes                                   (when there is nothing above)
/// before:
///   <line>
/// after:
///   <line>
/// ```
fn render(plan: &SitePlan, listings: bool) -> String {
    let mut out = Vec::new();
    if plan.mode == Mode::Request {
        out.push("mode: request".to_string());
    }
    out.extend(plan.changes.iter().map(render_change));
    for p in &plan.pending {
        out.push(format!("pending {}: {}", p.who, titles(&p.roles)));
    }
    out.extend(plan.warnings.iter().map(|w| format!("warning: {w}")));
    out.extend(plan.errors.iter().map(|e| format!("error: {e}")));
    if plan.changes.is_empty()
        && plan.pending.is_empty()
        && plan.warnings.is_empty()
        && plan.errors.is_empty()
    {
        out.push("no changes".to_string());
    }
    if listings {
        out.push("before:".to_string());
        out.extend(plan.before.lines().map(|l| format!("  {l}")));
        out.push("after:".to_string());
        out.extend(plan.after.lines().map(|l| format!("  {l}")));
    }
    out.join("\n")
}

fn render_change(c: &Change) -> String {
    let account = c.account_id.as_deref().unwrap_or("?");
    let invite = c
        .invite_id
        .as_deref()
        .map(|id| format!(" ({id})"))
        .unwrap_or_default();
    match c.action {
        Action::Link => format!("link {} = {account}{invite}", c.who),
        Action::RevokeInvite => format!("revoke-invite {}{invite}", c.who),
        Action::Invite => format!("invite {}: {}", c.who, titles(&c.roles_after)),
        Action::ChangeRole => format!(
            "change-role {}: {} -> {}",
            c.who,
            titles(&c.roles_before),
            titles(&c.roles_after)
        ),
        Action::Remove if c.who == format!("account {account}") => {
            format!("remove {}: {}", c.who, c.reason)
        }
        Action::Remove => format!("remove {} ({account}): {}", c.who, c.reason),
        Action::Request => format!("request {}: {}", c.who, titles(&c.roles_after)),
        Action::RequestChange => format!(
            "request-change {}: {} -> {}",
            c.who,
            titles(&c.roles_before),
            titles(&c.roles_after)
        ),
        Action::RequestRemoval => {
            format!("request-removal {}: {}", c.who, titles(&c.roles_before))
        }
    }
}

fn titles(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.title.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Replaces each actual line that an expected `…` line abbreviates by that
/// expected line, so `assert_eq!` still shows every other difference.
fn abbreviate(actual: &str, expected: &str) -> String {
    let prefixes: Vec<&str> = expected
        .lines()
        .filter_map(|l| l.strip_suffix('…'))
        .collect();
    actual
        .lines()
        .map(|line| {
            match prefixes
                .iter()
                .find(|p| line.starts_with(**p) && line.len() > p.len())
            {
                Some(p) => format!("{p}…"),
                None => line.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The roles every test site offers: Wix's predefined ones the tests use and
/// one custom role.
fn default_roles() -> Vec<RoleDef> {
    [
        ("r-admin", "Admin (Co-Owner)", false),
        ("r-be", "Blog Editor", false),
        ("r-bw", "Blog Writer", false),
        ("r-mm", "Marketing Manager", false),
        ("r-menu", "Menu Curator", true),
        ("r-wd", "Website Designer", false),
        ("r-wm", "Website Manager", false),
    ]
    .into_iter()
    .map(|(id, title, custom)| RoleDef {
        id: id.to_string(),
        title: title.to_string(),
        custom,
    })
    .collect()
}

/// The observed site, one fact a line, on top of [`default_roles`]:
///
/// ```text
/// owner acct-owner            an owning account
/// acct-bob: r-bw, r-be        a contributor and the role ids it holds
/// role r-x: Some Title        one more (custom) role the site offers
/// ```
fn live_site(text: &str) -> LiveSite {
    let mut live = LiveSite {
        roles: default_roles().into(),
        ..LiveSite::default()
    };
    for line in trim_indent(text).lines().map(str::trim) {
        if line.is_empty() {
            continue;
        }
        if let Some(account) = line.strip_prefix("owner ") {
            live.owners.insert(account.trim().to_string());
        } else if let Some(def) = line.strip_prefix("role ") {
            let (id, title) = def.split_once(':').expect("`role <id>: <title>`");
            std::sync::Arc::make_mut(&mut live.roles).push(RoleDef {
                id: id.trim().to_string(),
                title: title.trim().to_string(),
                custom: true,
            });
        } else {
            let (account, roles) = line.split_once(':').expect("`<account>: <role ids>`");
            let roles = roles
                .split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(String::from)
                .collect();
            live.contributors.insert(account.trim().to_string(), roles);
        }
    }
    std::sync::Arc::make_mut(&mut live.roles).sort_by(|a, b| a.title.cmp(&b.title));
    live
}

/// The site's ledger, one record a line:
///
/// ```text
/// invite inv-1 alice@agency.example r-wm,r-be 2026-05-20 pending
/// invite - dave@agency.example r-bw 2026-05-20 unknown
/// identity dave@agency.example acct-dave
/// granted acct-x
/// ```
///
/// An invite is sent at 10:00 UTC on its date and expires
/// [`INVITE_LIFETIME_DAYS`] later; `-` is an invite without an id.
fn site_ledger(text: &str) -> SiteLedger {
    let mut ledger = SiteLedger::new(SITE, SITE_ID);
    let roles = default_roles();
    for line in trim_indent(text).lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [] => {}
            ["invite", id, email, role_ids, sent, state, rest @ ..] => {
                let existing_accounts: Vec<String> = rest
                    .iter()
                    .filter_map(|w| w.strip_prefix("existing="))
                    .flat_map(|list| list.split(',').map(String::from))
                    .collect();
                let role_ids: Vec<String> = role_ids.split(',').map(String::from).collect();
                let role_titles = role_ids
                    .iter()
                    .map(|id| {
                        roles
                            .iter()
                            .find(|r| &r.id == id)
                            .map_or_else(|| id.clone(), |r| r.title.clone())
                    })
                    .collect();
                let sent_at = sent_at(sent);
                ledger.invites.push(InviteRecord {
                    id: (*id != "-").then(|| id.to_string()),
                    email: email.to_string(),
                    role_ids,
                    role_titles,
                    sent_at,
                    expires_at: sent_at + Duration::days(INVITE_LIFETIME_DAYS),
                    state: match *state {
                        "pending" => InviteState::Pending,
                        "accepted" => InviteState::Accepted,
                        "revoked" => InviteState::Revoked,
                        "failed" => InviteState::Failed,
                        "unknown" => InviteState::Unknown,
                        other => panic!("unknown invite state `{other}`"),
                    },
                    account_id: None,
                    existing_accounts,
                    sig: None,
                });
            }
            ["identity", email, account] => ledger.identities.push(Identity {
                email: email.to_string(),
                account_id: account.to_string(),
                source: IdentitySource::Manual,
                learned_at: datetime!(2026-01-01 0:00 UTC),
                sig: None,
            }),
            ["granted", account] => ledger.granted.push((*account).into()),
            _ => panic!("cannot read ledger line `{line}`"),
        }
    }
    ledger
}

fn sent_at(day: &str) -> OffsetDateTime {
    Date::parse(day, format_description!("[year]-[month]-[day]"))
        .expect("a yyyy-mm-dd date")
        .with_hms(10, 0, 0)
        .expect("a valid time")
        .assume_utc()
}

/// Removes the indentation common to all non-blank lines, and the first
/// line if it is empty, so fixtures can be indented with the code.
fn trim_indent(text: &str) -> String {
    let text = text.strip_prefix('\n').unwrap_or(text);
    let indent = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    text.lines()
        .map(|l| l.get(indent..).unwrap_or("").trim_end())
        .collect::<Vec<_>>()
        .join("\n")
        .trim_end()
        .to_string()
}

// ---------------------------------------------------------------------------
// Desired principals against contributors.

#[test]
fn new_person_is_invited() {
    check(Case {
        config: r#"
            version: 2
            people:
              alice: { email: alice@agency.example }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                access:
                  - { person: alice, role: Website Manager }
        "#,
        observed: Live("owner acct-owner"),
        expect: "invite alice: Website Manager",
        ..Case::default()
    });
}

#[test]
fn known_account_holding_other_roles_gets_the_whole_target_set() {
    check(Case {
        config: r#"
            version: 2
            people:
              bob: { email: bob@agency.example, wix_account_id: acct-bob }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                access:
                  - { person: bob, roles: [Website Manager, Blog Editor] }
        "#,
        observed: Live(
            "
            owner acct-owner
            acct-bob: r-bw, r-be
            ",
        ),
        expect: "change-role bob: Blog Editor, Blog Writer -> Blog Editor, Website Manager",
        ..Case::default()
    });
}

#[test]
fn known_account_holding_exactly_its_roles_needs_nothing() {
    check(Case {
        config: r#"
            version: 2
            people:
              bob: { email: bob@agency.example, wix_account_id: acct-bob }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                unmanaged: remove
                access:
                  - { person: bob, roles: [Blog Editor, Website Manager] }
        "#,
        observed: Live("acct-bob: r-wm, r-be"),
        expect: "no changes",
        ..Case::default()
    });
}

#[test]
fn account_known_from_the_ledger_gets_a_role_change() {
    check(Case {
        config: r#"
            version: 2
            people:
              carol: { email: carol@agency.example }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                access:
                  - { person: carol, role: Blog Editor }
        "#,
        observed: Live("acct-carol: r-bw"),
        ledger: "identity carol@agency.example acct-carol",
        expect: "change-role carol: Blog Writer -> Blog Editor",
        ..Case::default()
    });
}

#[test]
fn roles_are_the_union_of_team_and_person_grants() {
    check(Case {
        config: r#"
            version: 2
            people:
              alice: { email: alice@agency.example }
              bob: { email: bob@agency.example, wix_account_id: acct-bob }
            teams:
              seo: [alice, bob]
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                access:
                  - { team: seo, roles: [Marketing Manager, Blog Editor] }
                  - { person: alice, roles: [Website Designer, Blog Editor] }
                  - { person: bob, role: Blog Writer }
        "#,
        observed: Live("acct-bob: r-mm"),
        expect: "
            invite alice: Blog Editor, Marketing Manager, Website Designer
            change-role bob: Marketing Manager -> Blog Editor, Blog Writer, Marketing Manager
        ",
        ..Case::default()
    });
}

#[test]
fn roles_are_named_by_title_in_any_case_by_slug_or_by_id() {
    check(Case {
        config: r#"
            version: 2
            people:
              alice: { email: alice@agency.example }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                access:
                  - person: alice
                    roles: [website-manager, BLOG editor, r-bw, menu-curator, admin-co-owner]
        "#,
        observed: Live(""),
        expect: "invite alice: Admin (Co-Owner), Blog Editor, Blog Writer, Menu Curator, Website Manager",
        ..Case::default()
    });
}

#[test]
fn the_same_role_named_twice_is_granted_once() {
    check(Case {
        config: r#"
            version: 2
            people:
              bob: { email: bob@agency.example, wix_account_id: acct-bob }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                access:
                  - { person: bob, roles: [Blog Editor, blog-editor, r-be] }
        "#,
        observed: Live("acct-bob: r-be"),
        expect: "no changes",
        ..Case::default()
    });
}

#[test]
fn unknown_role_is_a_site_error_and_nothing_changes() {
    check(Case {
        config: r#"
            version: 2
            people:
              alice: { email: alice@agency.example }
              bob: { email: bob@agency.example, wix_account_id: acct-bob }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                unmanaged: remove
                access:
                  - { person: alice, role: Website Mngr }
                  - { person: bob, role: Blog Editor }
        "#,
        observed: Live(
            "
            owner acct-owner
            acct-bob: r-bw
            acct-stranger: r-wm
            ",
        ),
        ledger: "
            invite inv-9 carol@agency.example r-bw 2026-05-20 pending
            granted acct-old
        ",
        listings: true,
        expect: "
            error: access.yaml:10:32: unknown role `Website Mngr`; did you mean `Website Manager`? (the site's roles include: `Website Designer`, `Website Manager`)
            before:
              account acct-owner: (owner)
              account acct-stranger: Website Manager
              bob@agency.example (account acct-bob): Blog Writer
              carol@agency.example (invited): Blog Writer
            after:
              account acct-owner: (owner)
              account acct-stranger: Website Manager
              bob@agency.example (account acct-bob): Blog Writer
              carol@agency.example (invited): Blog Writer
        ",
        ..Case::default()
    });
}

#[test]
fn unknown_role_with_nothing_close_lists_every_role() {
    check(Case {
        config: r#"
            version: 2
            people:
              alice: { email: alice@agency.example }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                access:
                  - { person: alice, role: Janitor }
        "#,
        observed: Live(""),
        expect: "error: access.yaml:8:32: unknown role `Janitor` (the site's roles include: `Admin (Co-Owner)`, `Blog Editor`, `Blog Writer`, `Marketing Manager`, `Menu Curator`, `Website Designer`, `Website Manager`)",
        ..Case::default()
    });
}

#[test]
fn unknown_role_in_a_team_grant_is_reported_once() {
    check(Case {
        config: r#"
            version: 2
            people:
              alice: { email: alice@agency.example }
              bob: { email: bob@agency.example }
            teams:
              seo: [alice, bob]
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                access:
                  - { team: seo, role: Blog Edt }
        "#,
        observed: Live(""),
        expect: "error: access.yaml:11:28: unknown role `Blog Edt`; did you mean `Blog Editor`? …",
        ..Case::default()
    });
}

#[test]
fn the_owner_is_never_touched_even_when_named_in_the_config() {
    check(Case {
        config: r#"
            version: 2
            people:
              jane: { email: jane@acme.example, wix_account_id: acct-owner }
              alice: { email: alice@agency.example }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                unmanaged: remove
                access:
                  - { person: jane, role: Blog Writer }
                  - { person: alice, role: Blog Writer }
        "#,
        observed: Live(
            "
            owner acct-owner
            owner acct-co-owner
            acct-co-owner: r-admin
            ",
        ),
        ledger: "identity alice@agency.example acct-co-owner",
        expect: "
            warning: `alice` is the site owner; the owner's access is never changed
            warning: `jane` is the site owner; the owner's access is never changed
        ",
        ..Case::default()
    });
}

// ---------------------------------------------------------------------------
// Invites remembered in the ledger.

#[test]
fn outstanding_invite_with_the_same_roles_is_pending() {
    check(Case {
        config: r#"
            version: 2
            people:
              alice: { email: alice@agency.example }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                access:
                  - { person: alice, roles: [Blog Editor, Website Manager] }
        "#,
        observed: Live(""),
        ledger: "invite inv-1 alice@agency.example r-wm,r-be 2026-05-20 pending",
        listings: true,
        expect: "
            pending alice: Blog Editor, Website Manager
            before:
              alice@agency.example (invited): Blog Editor, Website Manager
            after:
              alice@agency.example (invited): Blog Editor, Website Manager
        ",
        ..Case::default()
    });
}

#[test]
fn outstanding_invite_with_other_roles_is_revoked_then_sent_again() {
    check(Case {
        config: r#"
            version: 2
            people:
              alice: { email: alice@agency.example }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                access:
                  - { person: alice, role: Blog Editor }
        "#,
        observed: Live(""),
        ledger: "invite inv-1 alice@agency.example r-wm,r-be 2026-05-20 pending",
        listings: true,
        expect: "
            revoke-invite alice (inv-1)
            invite alice: Blog Editor
            before:
              alice@agency.example (invited): Blog Editor, Website Manager
            after:
              alice@agency.example (invited): Blog Editor
        ",
        ..Case::default()
    });
}

/// A person the config names by account too, not a collaborator yet: the
/// account holds nothing, so the invite to the person's email is what they
/// hold — left alone while it grants the config's roles, revoked and sent
/// again when it does not.
#[test]
fn a_named_account_not_yet_on_the_site_is_judged_by_its_open_invite() {
    let config = r#"
            version: 2
            people:
              alice: { email: alice@agency.example, wix_account_id: acct-alice }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                access:
                  - { person: alice, role: Blog Editor }
        "#;
    check(Case {
        config,
        observed: Live(""),
        ledger: "invite inv-1 alice@agency.example r-be 2026-05-20 pending",
        expect: "pending alice: Blog Editor",
        ..Case::default()
    });
    check(Case {
        config,
        observed: Live(""),
        ledger: "invite inv-1 alice@agency.example r-wm 2026-05-20 pending",
        expect: "
            revoke-invite alice (inv-1)
            invite alice: Blog Editor
        ",
        ..Case::default()
    });
}

/// An email is one address whatever its case: an invite the ledger wrote
/// as `ALICE@…` is alice's (config emails are lower-cased) — neither sent
/// again beside it nor revoked as someone else's.
#[test]
fn an_invite_recorded_in_another_case_is_the_persons_invite() {
    let config = r#"
            version: 2
            people:
              alice: { email: alice@agency.example }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                access:
                  - { person: alice, role: Blog Editor }
        "#;
    check(Case {
        config,
        observed: Live(""),
        ledger: "invite inv-1 ALICE@Agency.example r-be 2026-05-20 pending",
        expect: "pending alice: Blog Editor",
        ..Case::default()
    });
    check(Case {
        config,
        observed: Live(""),
        ledger: "invite inv-1 ALICE@Agency.example r-wm 2026-05-20 pending",
        expect: "
            revoke-invite alice (inv-1)
            invite alice: Blog Editor
        ",
        ..Case::default()
    });
}

#[test]
fn invite_at_its_expiry_is_sent_again() {
    check(Case {
        config: r#"
            version: 2
            people:
              alice: { email: alice@agency.example }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                access:
                  - { person: alice, role: Blog Editor }
        "#,
        observed: Live(""),
        // Sent 2026-05-02 10:00, expires exactly now.
        ledger: "invite inv-1 alice@agency.example r-be 2026-05-02 pending",
        now: datetime!(2026-06-01 10:00 UTC),
        listings: true,
        expect: "
            invite alice: Blog Editor
            before:
            after:
              alice@agency.example (invited): Blog Editor
        ",
    });
}

#[test]
fn invite_a_second_before_its_expiry_is_pending() {
    check(Case {
        config: r#"
            version: 2
            people:
              alice: { email: alice@agency.example }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                access:
                  - { person: alice, role: Blog Editor }
        "#,
        observed: Live(""),
        ledger: "invite inv-1 alice@agency.example r-be 2026-05-02 pending",
        now: datetime!(2026-06-01 09:59:59 UTC),
        expect: "pending alice: Blog Editor",
        ..Case::default()
    });
}

#[test]
fn invite_with_an_unknown_outcome_is_never_sent_again() {
    // Not even long after it would have expired.
    for now in [NOW, datetime!(2026-09-01 12:00 UTC)] {
        check(Case {
            config: r#"
                version: 2
                people:
                  alice: { email: alice@agency.example }
                sites:
                  acme:
                    wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                    access:
                      - { person: alice, role: Blog Editor }
            "#,
            observed: Live(""),
            ledger: "invite - alice@agency.example r-be 2026-05-20 unknown",
            now,
            expect: "warning: the invite to alice@agency.example sent 2026-05-20T10:00:00Z has an unknown outcome (the request failed after it was sent), so it is not sent again; check Settings → Collaborators on the site, then run `accessctl invite-status acme alice@agency.example sent` or `… not-sent`",
            ..Case::default()
        });
    }
}

#[test]
fn refused_revoked_and_accepted_invites_are_sent_again() {
    for state in ["failed", "revoked", "accepted"] {
        check(Case {
            config: r#"
                version: 2
                people:
                  alice: { email: alice@agency.example }
                sites:
                  acme:
                    wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                    access:
                      - { person: alice, role: Blog Editor }
            "#,
            observed: Live(""),
            ledger: &format!("invite inv-1 alice@agency.example r-be 2026-05-20 {state}"),
            expect: "invite alice: Blog Editor",
            ..Case::default()
        });
    }
}

#[test]
fn the_latest_invite_record_decides() {
    check(Case {
        config: r#"
            version: 2
            people:
              alice: { email: alice@agency.example }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                access:
                  - { person: alice, role: Blog Editor }
        "#,
        observed: Live(""),
        ledger: "
            invite inv-1 alice@agency.example r-bw 2026-05-10 revoked
            invite inv-2 alice@agency.example r-be 2026-05-11 pending
        ",
        expect: "pending alice: Blog Editor",
        ..Case::default()
    });
}

#[test]
fn invite_for_someone_dropped_from_the_config_is_revoked() {
    check(Case {
        config: r#"
            version: 2
            people:
              alice: { email: alice@agency.example }
              carol: { email: carol@agency.example }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                access:
                  - { person: alice, role: Blog Editor }
        "#,
        observed: Live(""),
        ledger: "
            invite inv-1 alice@agency.example r-be 2026-05-20 pending
            invite inv-3 carol@agency.example r-bw 2026-05-20 pending
            invite inv-4 writer@freelance.example r-bw 2026-05-21 pending
            invite inv-5 gone@freelance.example r-bw 2026-04-01 pending
        ",
        listings: true,
        expect: "
            revoke-invite carol (inv-3)
            revoke-invite writer@freelance.example (inv-4)
            pending alice: Blog Editor
            before:
              alice@agency.example (invited): Blog Editor
              carol@agency.example (invited): Blog Writer
              writer@freelance.example (invited): Blog Writer
            after:
              alice@agency.example (invited): Blog Editor
        ",
        ..Case::default()
    });
}

#[test]
fn unknown_invite_for_someone_dropped_from_the_config_is_a_warning() {
    check(Case {
        config: r#"
            version: 2
            people:
              alice: { email: alice@agency.example }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                access:
                  - { person: alice, role: Blog Editor }
        "#,
        observed: Live("acct-alice: r-be"),
        ledger: "
            identity alice@agency.example acct-alice
            invite - carol@agency.example r-bw 2026-05-20 unknown
        ",
        expect: "warning: carol@agency.example is no longer in the config, but the invite sent to it 2026-05-20T10:00:00Z has an unknown outcome; revoke it in Settings → Collaborators if it is there, then run `accessctl invite-status acme carol@agency.example not-sent`",
        ..Case::default()
    });
}

// ---------------------------------------------------------------------------
// Contributors the config does not account for.

#[test]
fn account_granted_earlier_and_no_longer_desired_is_removed() {
    check(Case {
        config: r#"
            version: 2
            people:
              alice: { email: alice@agency.example }
              dan: { email: dan@agency.example }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                unmanaged: keep
                access:
                  - { person: alice, role: Blog Editor }
        "#,
        observed: Live(
            "
            acct-alice: r-be
            acct-dan: r-bw
            acct-x: r-wm
            acct-kept: r-wm
            ",
        ),
        ledger: "
            identity alice@agency.example acct-alice
            identity dan@agency.example acct-dan
            granted acct-alice
            granted acct-dan
            granted acct-x
        ",
        expect: "
            remove account acct-x: no grant in the config any more; account from the ledger, not verified: no ledger key in this job
            remove dan (acct-dan): no grant in the config any more; account from the ledger, not verified: no ledger key in this job
        ",
        ..Case::default()
    });
}

#[test]
fn account_whose_only_grant_ended_is_removed_naming_the_date() {
    check(Case {
        config: r#"
            version: 2
            people:
              bob: { email: bob@agency.example, wix_account_id: acct-bob }
              carol: { email: carol@agency.example }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                unmanaged: keep
                access:
                  - { person: bob, role: Blog Editor, until: 2026-05-31 }
                  - { person: carol, role: Blog Writer, until: 2026-04-30 }
                  - { person: carol, role: Blog Editor, until: 2026-05-15 }
        "#,
        observed: Live(
            "
            acct-bob: r-be
            acct-carol: r-be, r-bw
            ",
        ),
        ledger: "identity carol@agency.example acct-carol",
        expect: "
            remove bob (acct-bob): its grant ended on 2026-05-31 by its `until` date
            remove carol (acct-carol): its grant ended on 2026-05-15 by its `until` date; account from the ledger, not verified: no ledger key in this job
        ",
        ..Case::default()
    });
}

#[test]
fn until_is_the_last_day_of_access() {
    let config = r#"
        version: 2
        people:
          bob: { email: bob@agency.example, wix_account_id: acct-bob }
        sites:
          acme:
            wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
            access:
              - { person: bob, role: Blog Editor, until: 2026-06-01 }
    "#;
    // The whole of the last day, to its final second.
    for now in [
        datetime!(2026-06-01 00:00 UTC),
        datetime!(2026-06-01 23:59:59 UTC),
    ] {
        check(Case {
            config,
            observed: Live("acct-bob: r-be"),
            now,
            expect: "warning: the grant of Blog Editor to `bob` ends on 2026-06-01 (today); extend `until` to keep it",
            ..Case::default()
        });
    }
    check(Case {
        config,
        observed: Live("acct-bob: r-be"),
        now: datetime!(2026-06-02 00:00 UTC),
        expect: "remove bob (acct-bob): its grant ended on 2026-06-01 by its `until` date",
        ..Case::default()
    });
}

#[test]
fn an_ended_grant_takes_only_its_own_roles_away() {
    check(Case {
        config: r#"
            version: 2
            people:
              bob: { email: bob@agency.example, wix_account_id: acct-bob }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                access:
                  - { person: bob, role: Blog Editor }
                  - { person: bob, role: Website Manager, until: 2026-05-31 }
        "#,
        observed: Live("acct-bob: r-be, r-wm"),
        expect: "change-role bob: Blog Editor, Website Manager -> Blog Editor",
        ..Case::default()
    });
}

#[test]
fn an_ended_grant_revokes_the_open_invite() {
    check(Case {
        config: r#"
            version: 2
            people:
              alice: { email: alice@agency.example }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                access:
                  - { person: alice, role: Blog Editor, until: 2026-05-31 }
        "#,
        observed: Live(""),
        ledger: "invite inv-1 alice@agency.example r-be 2026-05-20 pending",
        expect: "revoke-invite alice (inv-1)",
        ..Case::default()
    });
}

#[test]
fn unmanaged_keep_leaves_strangers_alone_silently() {
    check(Case {
        config: r#"
            version: 2
            people:
              alice: { email: alice@agency.example }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                unmanaged: keep
                access:
                  - { person: alice, role: Blog Editor }
        "#,
        observed: Live(
            "
            owner acct-owner
            acct-u: r-bw, r-gone
            ",
        ),
        expect: "invite alice: Blog Editor",
        ..Case::default()
    });
}

#[test]
fn unmanaged_warn_lists_strangers() {
    check(Case {
        config: r#"
            version: 2
            people:
              alice: { email: alice@agency.example }
              dan: { email: dan@agency.example }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                access:
                  - { person: alice, role: Blog Editor }
        "#,
        // `r-gone` is a role the account no longer defines.
        observed: Live(
            "
            owner acct-owner
            acct-u: r-bw, r-gone
            acct-dan: r-wm
            ",
        ),
        ledger: "identity dan@agency.example acct-dan",
        expect: "
            invite alice: Blog Editor
            warning: unmanaged collaborator `dan` (Website Manager) has no grant on this site in the config; add one (see `accessctl import`) or set `unmanaged: remove`
            warning: unmanaged collaborator `account acct-u` (Blog Writer, r-gone) has no grant on this site in the config; add one (see `accessctl import`) or set `unmanaged: remove`
        ",
        ..Case::default()
    });
}

#[test]
fn unmanaged_remove_removes_strangers_but_not_the_owner() {
    check(Case {
        config: r#"
            version: 2
            people:
              alice: { email: alice@agency.example }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                unmanaged: remove
                access:
                  - { person: alice, role: Blog Editor }
        "#,
        observed: Live(
            "
            owner acct-owner
            acct-owner: r-admin
            acct-u: r-bw
            ",
        ),
        expect: "
            invite alice: Blog Editor
            remove account acct-u: not in the config, and the site has `unmanaged: remove`
        ",
        ..Case::default()
    });
}

/// The engine plans what the config says even for protected people; the
/// safety guards (`plan::safety`, tested in tests/review.rs) refuse the plan.
#[test]
fn protected_person_without_a_grant_is_planned_for_removal_for_the_guard_to_refuse() {
    check(Case {
        config: r#"
            version: 2
            people:
              alice: { email: alice@agency.example, wix_account_id: acct-alice }
              bob: { email: bob@agency.example }
              carol: { email: carol@agency.example }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                unmanaged: remove
                access:
                  - { person: carol, role: Blog Editor }
                  - { person: bob, role: Blog Editor, until: 2026-01-31 }
            safety:
              protect: [alice, bob]
        "#,
        observed: Live(
            "
            acct-alice: r-wm
            acct-bob: r-be
            ",
        ),
        ledger: "
            identity bob@agency.example acct-bob
            granted acct-alice
            granted acct-bob
        ",
        expect: "
            invite carol: Blog Editor
            remove alice (acct-alice): no grant in the config any more
            remove bob (acct-bob): its grant ended on 2026-01-31 by its `until` date; account from the ledger, not verified: no ledger key in this job
        ",
        ..Case::default()
    });
}

#[test]
fn protected_person_downgrade_is_planned_for_the_guard_to_refuse() {
    check(Case {
        config: r#"
            version: 2
            people:
              alice: { email: alice@agency.example, wix_account_id: acct-alice }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                access:
                  - { person: alice, role: Blog Editor }
            safety:
              protect: [alice]
        "#,
        observed: Live("acct-alice: r-be, r-wm"),
        expect: "change-role alice: Blog Editor, Website Manager -> Blog Editor",
        ..Case::default()
    });
}

// ---------------------------------------------------------------------------
// Learning who accepted an invite.

/// A collaborator who was already on the site when the invite went out
/// cannot be its invitee, even with exactly the invite's roles.
#[test]
fn collaborator_present_when_the_invite_was_sent_is_never_linked() {
    check(Case {
        config: r#"
            version: 2
            people:
              dave: { email: dave@agency.example }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                unmanaged: keep
                access:
                  - { person: dave, role: Blog Writer }
        "#,
        observed: Live(
            "
            owner acct-owner
            acct-old: r-bw
            ",
        ),
        ledger: "
            invite inv-4 dave@agency.example r-bw 2026-05-20 pending existing=acct-old
        ",
        expect: "
            pending dave: Blog Writer
        ",
        ..Case::default()
    });
}

#[test]
fn new_contributor_matching_exactly_one_invite_is_linked() {
    check(Case {
        config: r#"
            version: 2
            people:
              dave: { email: dave@agency.example }
              erin: { email: erin@agency.example }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                access:
                  - { person: dave, role: Blog Writer }
                  - { person: erin, role: Blog Editor }
        "#,
        observed: Live(
            "
            owner acct-owner
            acct-new: r-bw
            ",
        ),
        ledger: "
            invite inv-4 dave@agency.example r-bw 2026-05-20 pending
            invite inv-5 erin@agency.example r-be 2026-05-20 pending
        ",
        listings: true,
        expect: "
            link dave = acct-new (inv-4)
            pending erin: Blog Editor
            before:
              account acct-owner: (owner)
              dave@agency.example (account acct-new): Blog Writer
              dave@agency.example (invited): Blog Writer
              erin@agency.example (invited): Blog Editor
            after:
              account acct-owner: (owner)
              dave@agency.example (account acct-new): Blog Writer
              erin@agency.example (invited): Blog Editor
        ",
        ..Case::default()
    });
}

#[test]
fn linked_contributor_whose_roles_changed_since_the_invite_is_linked_then_changed() {
    check(Case {
        config: r#"
            version: 2
            people:
              dave: { email: dave@agency.example }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                access:
                  - { person: dave, role: Blog Editor }
        "#,
        observed: Live("acct-new: r-bw"),
        ledger: "invite inv-4 dave@agency.example r-bw 2026-05-20 pending",
        expect: "
            link dave = acct-new (inv-4)
            change-role dave: Blog Writer -> Blog Editor
        ",
        ..Case::default()
    });
}

#[test]
fn contributor_accepting_the_invite_of_someone_dropped_is_linked_then_removed() {
    check(Case {
        config: r#"
            version: 2
            people:
              alice: { email: alice@agency.example }
              dave: { email: dave@agency.example }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                unmanaged: keep
                access:
                  - { person: alice, role: Blog Editor }
        "#,
        observed: Live("acct-new: r-bw"),
        ledger: "invite inv-4 dave@agency.example r-bw 2026-05-20 pending",
        listings: true,
        expect: "
            link dave = acct-new (inv-4)
            invite alice: Blog Editor
            remove dave (acct-new): no grant in the config any more
            before:
              dave@agency.example (account acct-new): Blog Writer
              dave@agency.example (invited): Blog Writer
            after:
              alice@agency.example (invited): Blog Editor
        ",
        ..Case::default()
    });
}

#[test]
fn unknown_invite_accepted_by_a_new_contributor_is_linked() {
    // The outcome of dave's invite was unknown; a new collaborator with its
    // roles shows it was sent and accepted. dave has since been dropped.
    check(Case {
        config: r#"
            version: 2
            people:
              alice: { email: alice@agency.example }
              dave: { email: dave@agency.example }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                access:
                  - { person: alice, role: Blog Editor }
        "#,
        observed: Live(
            "
            acct-alice: r-be
            acct-new: r-bw
            ",
        ),
        ledger: "
            identity alice@agency.example acct-alice
            invite - dave@agency.example r-bw 2026-05-20 unknown
        ",
        expect: "
            link dave = acct-new
            remove dave (acct-new): no grant in the config any more
        ",
        ..Case::default()
    });
}

#[test]
fn account_named_by_the_config_accepting_its_invite_is_linked() {
    check(Case {
        config: r#"
            version: 2
            people:
              bob: { email: bob@agency.example, wix_account_id: acct-bob }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                access:
                  - { person: bob, role: Blog Editor }
        "#,
        observed: Live("acct-bob: r-be"),
        ledger: "invite inv-2 bob@agency.example r-be 2026-05-20 pending",
        listings: true,
        expect: "
            link bob = acct-bob (inv-2)
            before:
              bob@agency.example (account acct-bob): Blog Editor
              bob@agency.example (invited): Blog Editor
            after:
              bob@agency.example (account acct-bob): Blog Editor
        ",
        ..Case::default()
    });
}

#[test]
fn two_new_contributors_matching_one_invite_are_reported_not_linked() {
    check(Case {
        config: r#"
            version: 2
            people:
              dave: { email: dave@agency.example }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                access:
                  - { person: dave, role: Blog Writer }
        "#,
        observed: Live(
            "
            acct-n1: r-bw
            acct-n2: r-bw
            ",
        ),
        ledger: "invite inv-4 dave@agency.example r-bw 2026-05-20 pending",
        expect: "
            pending dave: Blog Writer
            warning: the invite to dave@agency.example matches several new collaborators by role (acct-n1, acct-n2); link the right one by hand: `accessctl link acme --email dave@agency.example --account <ACCOUNT>`
            warning: unmanaged collaborator `account acct-n1` (Blog Writer) has no grant on this site…
            warning: unmanaged collaborator `account acct-n2` (Blog Writer) has no grant on this site…
        ",
        ..Case::default()
    });
}

#[test]
fn one_new_contributor_matching_two_invites_is_reported_not_linked() {
    check(Case {
        config: r#"
            version: 2
            people:
              dave: { email: dave@agency.example }
              erin: { email: erin@agency.example }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                unmanaged: keep
                access:
                  - { team: writers, role: Blog Writer }
            teams:
              writers: [dave, erin]
        "#,
        observed: Live("acct-n: r-bw"),
        ledger: "
            invite inv-4 dave@agency.example r-bw 2026-05-20 pending
            invite inv-5 erin@agency.example r-bw 2026-05-21 pending
        ",
        expect: "
            pending dave: Blog Writer
            pending erin: Blog Writer
            warning: new collaborator `account acct-n` matches several open invites by role (dave@agency.example, erin@agency.example); link it by hand: `accessctl link acme --account acct-n --email <EMAIL>`
        ",
        ..Case::default()
    });
}

#[test]
fn contributor_with_other_roles_than_any_invite_is_not_linked() {
    check(Case {
        config: r#"
            version: 2
            people:
              dave: { email: dave@agency.example }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                unmanaged: keep
                access:
                  - { person: dave, role: Blog Writer }
        "#,
        observed: Live("acct-n: r-bw, r-be"),
        ledger: "invite inv-4 dave@agency.example r-bw 2026-05-20 pending",
        expect: "pending dave: Blog Writer",
        ..Case::default()
    });
}

#[test]
fn account_granted_earlier_is_not_mistaken_for_a_new_collaborator() {
    // acct-z was granted through a `wix_account_id:` grant that has since been
    // dropped. It is not new, so it cannot be the one who accepted dave's
    // invite: it is removed, and dave's invite stays pending.
    check(Case {
        config: r#"
            version: 2
            people:
              dave: { email: dave@agency.example }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                access:
                  - { person: dave, role: Blog Writer }
        "#,
        observed: Live("acct-z: r-bw"),
        ledger: "
            granted acct-z
            invite inv-4 dave@agency.example r-bw 2026-05-20 pending
        ",
        expect: "
            remove account acct-z: no grant in the config any more; account from the ledger, not verified: no ledger key in this job
            pending dave: Blog Writer
        ",
        ..Case::default()
    });
}

// ---------------------------------------------------------------------------
// Request mode and unreadable sites.

#[test]
fn request_mode_asks_for_every_grant_and_warns_without_an_owner() {
    check(Case {
        config: r#"
            version: 2
            people:
              alice: { email: alice@agency.example }
              bob: { email: bob@agency.example, wix_account_id: acct-bob }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account }
                access:
                  - { person: alice, roles: [Website Manager, Blog Editor] }
                  - { person: bob, role: Blog Writer }
                  - { person: bob, role: Blog Editor, until: 2026-01-31 }
        "#,
        observed: RequestMode,
        listings: true,
        expect: "
            mode: request
            request alice: Blog Editor, Website Manager
            request bob: Blog Writer
            warning: site `acme` has no API key and no `owner` contact: add `owner: { email: … }` so the access request can be sent
            before:
            after:
              alice@agency.example (requested): Blog Editor, Website Manager
              bob@agency.example (requested): Blog Writer
        ",
        ..Case::default()
    });
}

#[test]
fn request_mode_with_an_owner_does_not_warn() {
    check(Case {
        config: r#"
            version: 2
            people:
              alice: { email: alice@agency.example }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account }
                owner: { name: Jane, email: jane@acme.example }
                access:
                  - { person: alice, role: Blog Editor }
        "#,
        observed: RequestMode,
        expect: "
            mode: request
            request alice: Blog Editor
        ",
        ..Case::default()
    });
}

#[test]
fn request_mode_without_grants_in_force_asks_nothing() {
    check(Case {
        config: r#"
            version: 2
            people:
              alice: { email: alice@agency.example }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account }
                access:
                  - { person: alice, role: Blog Editor, until: 2026-01-31 }
        "#,
        observed: RequestMode,
        expect: "
            mode: request
            no changes
        ",
        ..Case::default()
    });
}

#[test]
fn request_mode_shows_roles_as_written() {
    // Nothing can be resolved without a key, so the titles are the config's.
    // Spellings of one role (title, slug) are compared by slug.
    check(Case {
        config: r#"
            version: 2
            people:
              alice: { email: alice@agency.example }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account }
                owner: { email: jane@acme.example }
                access:
                  - { person: alice, role: Blog Editor }
                  - { person: alice, roles: [blog-editor, Blog Editor] }
        "#,
        observed: RequestMode,
        expect: "
            mode: request
            request alice: Blog Editor
        ",
        ..Case::default()
    });
}

#[test]
fn unreadable_site_is_an_error_and_nothing_else() {
    check(Case {
        config: r#"
            version: 2
            people:
              alice: { email: alice@agency.example }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                unmanaged: remove
                access:
                  - { person: alice, role: Blog Editor }
        "#,
        observed: Failed("cannot read site `acme`: Wix answered 503"),
        ledger: "
            invite inv-3 carol@agency.example r-bw 2026-05-20 pending
            granted acct-x
        ",
        listings: true,
        expect: "
            error: cannot read site `acme`: Wix answered 503
            before:
            after:
        ",
        ..Case::default()
    });
}

// ---------------------------------------------------------------------------
// Merging principals.

#[test]
fn person_and_email_grant_for_the_same_email_are_one_invite() {
    check(Case {
        config: r#"
            version: 2
            people:
              alice: { email: alice@agency.example }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                access:
                  - { person: alice, role: Website Manager }
                  - { email: Alice@Agency.example, role: Blog Editor }
        "#,
        observed: Live(""),
        listings: true,
        expect: "
            invite alice: Blog Editor, Website Manager
            before:
            after:
              alice@agency.example (invited): Blog Editor, Website Manager
        ",
        ..Case::default()
    });
}

#[test]
fn person_and_account_grant_for_the_same_account_are_one_change() {
    check(Case {
        config: r#"
            version: 2
            people:
              bob: { email: bob@agency.example, wix_account_id: acct-bob }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                access:
                  - { person: bob, role: Website Manager }
                  - { wix_account_id: acct-bob, role: Blog Editor }
        "#,
        observed: Live("acct-bob: r-bw"),
        expect: "change-role bob: Blog Writer -> Blog Editor, Website Manager",
        ..Case::default()
    });
}

/// The ledger ties carol's email to the account the config also grants on
/// its own: one principal, so one role change to what both grants give
/// (not two changes, each undoing the other).
#[test]
fn person_tied_by_the_ledger_and_account_grant_for_the_same_account_are_one_change() {
    check(Case {
        config: r#"
            version: 2
            people:
              carol: { email: carol@agency.example }
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                access:
                  - { person: carol, role: Website Manager }
                  - { wix_account_id: acct-carol, role: Blog Editor }
        "#,
        observed: Live("acct-carol: r-bw"),
        ledger: "identity carol@agency.example acct-carol",
        expect: "change-role carol: Blog Writer -> Blog Editor, Website Manager",
        ..Case::default()
    });
}

#[test]
fn account_grant_that_is_not_a_contributor_cannot_be_invited() {
    check(Case {
        config: r#"
            version: 2
            sites:
              acme:
                wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
                access:
                  - { wix_account_id: acct-z, role: Blog Editor }
                  - { wix_account_id: acct-y, role: Blog Editor }
        "#,
        observed: Live("acct-y: r-bw"),
        expect: "
            change-role account acct-y: Blog Writer -> Blog Editor
            warning: `account acct-z` is not a collaborator and no email is known for it, so it cannot be invited: give the person's email in the config
        ",
        ..Case::default()
    });
}

// ---------------------------------------------------------------------------
// Order, listings and determinism.

/// A config and state that need one change of every managed kind, for the
/// order and listing tests.
const EVERYTHING: &str = r#"
    version: 2
    people:
      alice: { email: alice@agency.example }
      bob: { email: bob@agency.example, wix_account_id: acct-bob }
      carol: { email: carol@agency.example }
      dave: { email: dave@agency.example }
      zoe: { email: zoe@agency.example }
    sites:
      acme:
        wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
        owner: { name: Jane, email: jane@acme.example }
        unmanaged: remove
        access:
          - { person: zoe, role: Blog Editor }
          - { person: bob, roles: [Website Manager, Blog Editor] }
          - { person: alice, role: Website Designer }
          - { person: carol, role: Blog Editor }
"#;

const EVERYTHING_LIVE: &str = "
    owner acct-owner
    acct-bob: r-be
    acct-new: r-bw
    acct-x: r-mm
    acct-u: r-wd
";

const EVERYTHING_LEDGER: &str = "
    invite inv-1 carol@agency.example r-bw,r-be 2026-05-20 pending
    invite inv-2 dave@agency.example r-bw 2026-05-20 pending
    invite inv-3 erin@agency.example r-mm,r-wm 2026-05-20 pending
    granted acct-x
";

#[test]
fn changes_come_in_apply_order_with_before_and_after() {
    check(Case {
        config: EVERYTHING,
        observed: Live(EVERYTHING_LIVE),
        ledger: EVERYTHING_LEDGER,
        listings: true,
        expect: "
            link dave = acct-new (inv-2)
            revoke-invite carol (inv-1)
            revoke-invite erin@agency.example (inv-3)
            invite alice: Website Designer
            invite carol: Blog Editor
            invite zoe: Blog Editor
            change-role bob: Blog Editor -> Blog Editor, Website Manager
            remove account acct-u: not in the config, and the site has `unmanaged: remove`
            remove account acct-x: no grant in the config any more; account from the ledger, not verified: no ledger key in this job
            remove dave (acct-new): no grant in the config any more
            before:
              account acct-owner: (owner: Jane, jane@acme.example)
              account acct-u: Website Designer
              account acct-x: Marketing Manager
              bob@agency.example (account acct-bob): Blog Editor
              carol@agency.example (invited): Blog Editor, Blog Writer
              dave@agency.example (account acct-new): Blog Writer
              dave@agency.example (invited): Blog Writer
              erin@agency.example (invited): Marketing Manager, Website Manager
            after:
              account acct-owner: (owner: Jane, jane@acme.example)
              alice@agency.example (invited): Website Designer
              bob@agency.example (account acct-bob): Blog Editor, Website Manager
              carol@agency.example (invited): Blog Editor
              zoe@agency.example (invited): Blog Editor
        ",
        ..Case::default()
    });
}

#[test]
fn the_order_of_grants_in_the_file_does_not_change_the_plan() {
    let reordered = r#"
        version: 2
        people:
          zoe: { email: zoe@agency.example }
          dave: { email: dave@agency.example }
          carol: { email: carol@agency.example }
          bob: { email: bob@agency.example, wix_account_id: acct-bob }
          alice: { email: alice@agency.example }
        sites:
          acme:
            access:
              - { person: carol, role: Blog Editor }
              - { person: alice, role: Website Designer }
              - { person: bob, roles: [Blog Editor, Website Manager] }
              - { person: zoe, role: Blog Editor }
            unmanaged: remove
            owner: { name: Jane, email: jane@acme.example }
            wix: { site_id: site-1, account_id: owner-account, api_key_env: ACME_KEY }
    "#;
    let plan = |text: &str| {
        let text = format!("{}\n", trim_indent(text));
        let config = config::load_str(Path::new("access.yaml"), text.as_bytes())
            .expect("valid config")
            .config;
        let site = config.sites.get(SITE).expect("the site");
        let observation = Observation::Live(live_site(EVERYTHING_LIVE));
        plan_site(
            &config,
            site,
            &observation,
            &site_ledger(EVERYTHING_LEDGER),
            NOW,
        )
    };
    assert_eq!(plan(EVERYTHING), plan(reordered));
}
