//! Snapshots of every plan renderer on hand-built plans, so a change to what
//! users see shows up in review.

use accessctl::plan::{Action, Change, Mode, Pending, Plan, Role, SitePlan};
use accessctl::render::{TextOptions, render_json, render_markdown, render_text};

fn role(id: &str, title: &str) -> Role {
    Role {
        id: Some(id.to_string()),
        title: title.to_string(),
    }
}

fn titled(title: &str) -> Role {
    Role {
        id: None,
        title: title.to_string(),
    }
}

fn change(action: Action, who: &str, reason: &str) -> Change {
    Change {
        action,
        who: who.to_string(),
        email: None,
        account_id: None,
        invite_id: None,
        roles_before: Vec::new(),
        roles_after: Vec::new(),
        reason: reason.to_string(),
        identity: None,
    }
}

fn lines(list: &[&str]) -> accessctl::plan::Listing {
    list.iter().collect()
}

/// A managed site with one of almost everything.
fn managed_site() -> SitePlan {
    let marketing = role("r-mkt", "Marketing Manager");
    let designer = role("r-des", "Website Designer");
    let blog_editor = role("r-blog", "Blog Editor");
    let site_manager = role("r-site", "Website Manager");
    let back_office = role("r-bo", "Back Office Manager");
    let writer = role("r-wr", "Blog Writer");
    SitePlan {
        collaborators: 3,
        site: "acme-bakery".to_string(),
        site_id: "0d6b9a7e-5c1f-4e57-9a0b-3c2d1e0f9a8b".to_string(),
        mode: Mode::Managed,
        fingerprint: Some("9f86d081884c7d659a2feaa0c55ad015".to_string()),
        changes: vec![
            Change {
                email: Some("dave@agency.example".to_string()),
                account_id: Some("3c1d9e2a-0000-4000-8000-000000000004".to_string()),
                invite_id: Some("inv-dave".to_string()),
                roles_before: vec![writer.clone()],
                roles_after: vec![writer.clone()],
                ..change(
                    Action::Link,
                    "dave",
                    "new collaborator holds exactly the roles of the invite sent to dave@agency.example",
                )
            },
            Change {
                email: Some("erin@agency.example".to_string()),
                invite_id: Some("inv-erin".to_string()),
                roles_before: vec![writer.clone()],
                ..change(
                    Action::RevokeInvite,
                    "erin",
                    "the open invite carries other roles; Wix cannot edit an invite",
                )
            },
            Change {
                email: Some("alice@agency.example".to_string()),
                roles_after: vec![marketing.clone(), designer],
                ..change(Action::Invite, "alice", "not a collaborator yet")
            },
            Change {
                email: Some("erin@agency.example".to_string()),
                roles_after: vec![blog_editor.clone()],
                ..change(
                    Action::Invite,
                    "erin",
                    "re-invited with the roles the config now gives",
                )
            },
            Change {
                email: Some("bob@agency.example".to_string()),
                account_id: Some("5f2c0e1a-0000-4000-8000-000000000002".to_string()),
                roles_before: vec![blog_editor.clone()],
                roles_after: vec![blog_editor, site_manager],
                ..change(
                    Action::ChangeRole,
                    "bob",
                    "holds other roles than the config gives",
                )
            },
            Change {
                account_id: Some("77aa3b0c-0000-4000-8000-000000000007".to_string()),
                roles_before: vec![back_office],
                ..change(
                    Action::Remove,
                    "account 77aa3b0c-0000-4000-8000-000000000007",
                    "no grant in the config any more (or its `until` date has passed)",
                )
            },
        ],
        pending: vec![Pending {
            who: "carol".to_string(),
            email: "carol@agency.example".to_string(),
            roles: vec![marketing],
            sent_at: "2026-11-01T09:30:00Z".to_string(),
            expires_at: "2026-12-01T09:30:00Z".to_string(),
        }],
        warnings: vec![
            "unmanaged collaborator `account 1b2b3c4d` (Billing Manager) is not in the config; add it (see `accessctl import`) or set `unmanaged: remove`".to_string(),
            "`owner_jane` is the site owner; the owner's access is never changed".to_string(),
        ],
        errors: Vec::new(),
        before: lines(&[
            "account 1b2b3c4d: Billing Manager",
            "account 77aa3b0c-0000-4000-8000-000000000007: Back Office Manager",
            "account 91f0c2d4: (owner)",
            "bob@agency.example (account 5f2c0e1a-0000-4000-8000-000000000002): Blog Editor",
            "carol@agency.example (invited): Marketing Manager",
            "dave@agency.example (invited): Blog Writer",
            "erin@agency.example (invited): Blog Writer",
        ]),
        after: lines(&[
            "account 1b2b3c4d: Billing Manager",
            "account 91f0c2d4: (owner)",
            "alice@agency.example (invited): Marketing Manager, Website Designer",
            "bob@agency.example (account 5f2c0e1a-0000-4000-8000-000000000002): Blog Editor, Website Manager",
            "carol@agency.example (invited): Marketing Manager",
            "dave@agency.example (account 3c1d9e2a-0000-4000-8000-000000000004): Blog Writer",
            "erin@agency.example (invited): Blog Editor",
        ]),
        request: None,
        targets: Vec::new(),
    }
}

/// A site without an API key: everything is a request to the owner.
fn request_site() -> SitePlan {
    let reason = "no API key for this site: the owner is asked to grant it";
    SitePlan {
        collaborators: 3,
        site: "corner-florist".to_string(),
        site_id: "4e1f0a9b-1111-4222-8333-444455556666".to_string(),
        mode: Mode::Request,
        fingerprint: None,
        changes: vec![
            Change {
                email: Some("alice@agency.example".to_string()),
                roles_after: vec![titled("Marketing Manager")],
                ..change(Action::Request, "alice", reason)
            },
            Change {
                email: Some("writer@freelance.example".to_string()),
                roles_after: vec![titled("Blog Writer")],
                ..change(Action::Request, "writer@freelance.example", reason)
            },
        ],
        pending: Vec::new(),
        warnings: Vec::new(),
        errors: Vec::new(),
        before: Default::default(),
        after: lines(&[
            "alice@agency.example (requested): Marketing Manager",
            "writer@freelance.example (requested): Blog Writer",
        ]),
        request: None,
        targets: Vec::new(),
    }
}

/// A site whose roles could not be resolved.
fn broken_site() -> SitePlan {
    SitePlan {
        collaborators: 3,
        site: "dental|care".to_string(),
        site_id: "7a7a7a7a-2222-4333-8444-555566667777".to_string(),
        mode: Mode::Managed,
        fingerprint: None,
        changes: Vec::new(),
        pending: Vec::new(),
        warnings: Vec::new(),
        errors: vec![
            "unknown role `Blog Edtor` for `alice`\nhint: did you mean `Blog Editor`?".to_string(),
        ],
        before: Default::default(),
        after: Default::default(),
        request: None,
        targets: Vec::new(),
    }
}

/// A site where live access already matches the config.
fn quiet_site(key: &str) -> SitePlan {
    SitePlan {
        collaborators: 3,
        site: key.to_string(),
        site_id: "00000000-3333-4444-8555-666677778888".to_string(),
        mode: Mode::Managed,
        fingerprint: Some("e3b0c44298fc1c149afbf4c8996fb924".to_string()),
        changes: Vec::new(),
        pending: Vec::new(),
        warnings: Vec::new(),
        errors: Vec::new(),
        before: lines(&["account 91f0c2d4: (owner)"]),
        after: lines(&["account 91f0c2d4: (owner)"]),
        request: None,
        targets: Vec::new(),
    }
}

fn plan(sites: Vec<SitePlan>) -> Plan {
    Plan {
        refusals: Vec::new(),
        ledger: Default::default(),
        format_version: 1,
        config_digest: "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
            .to_string(),
        today: "2026-11-15".to_string(),
        sites,
        skipped: Vec::new(),
        shard: None,
        policy: Vec::new(),
    }
}

fn full_plan() -> Plan {
    plan(vec![
        managed_site(),
        quiet_site("bright-smiles"),
        request_site(),
        broken_site(),
        quiet_site("zeta-gym"),
    ])
}

fn empty_plan() -> Plan {
    plan(vec![quiet_site("bright-smiles"), quiet_site("zeta-gym")])
}

const PLAIN: TextOptions = TextOptions { color: false };
const COLOR: TextOptions = TextOptions { color: true };

#[test]
fn text_full_plan() {
    insta::assert_snapshot!(render_text(&full_plan(), &PLAIN));
}

#[test]
fn text_empty_plan() {
    insta::assert_snapshot!(render_text(&empty_plan(), &PLAIN));
}

#[test]
fn text_plan_without_sites() {
    assert_eq!(
        render_text(&plan(Vec::new()), &PLAIN),
        "No changes. Live access matches the config.\n"
    );
}

#[test]
fn text_only_errors_says_so() {
    let text = render_text(&plan(vec![broken_site()]), &PLAIN);
    assert!(
        text.ends_with("Plan: no changes; 1 site with errors.\n"),
        "{text}"
    );
}

#[test]
fn text_without_color_has_no_escape_codes() {
    for plan in [full_plan(), empty_plan()] {
        assert!(!render_text(&plan, &PLAIN).contains('\x1b'));
    }
}

#[test]
fn text_with_color_has_escape_codes_and_the_same_words() {
    let colored = render_text(&full_plan(), &COLOR);
    assert!(colored.contains("\x1b["));
    assert_eq!(strip_ansi(&colored), render_text(&full_plan(), &PLAIN));
}

#[test]
fn markdown_full_plan() {
    insta::assert_snapshot!(render_markdown(&full_plan()));
}

#[test]
fn markdown_empty_plan() {
    insta::assert_snapshot!(render_markdown(&empty_plan()));
}

#[test]
fn markdown_escapes_what_it_quotes() {
    let mut site = quiet_site("a|b`c<img>");
    site.warnings = vec!["watch <script> and [links](x) but keep `code`".to_string()];
    let md = render_markdown(&plan(vec![site]));
    assert!(md.contains("| a\\|b\\`c&lt;img&gt; |"), "{md}");
    assert!(
        md.contains("watch &lt;script&gt; and \\[links\\]\\(x\\) but keep `code`"),
        "{md}"
    );
    assert!(!md.contains("<img>") && !md.contains("<script>"), "{md}");
}

#[test]
fn markdown_fence_outlasts_backticks_in_reasons() {
    let mut site = request_site();
    site.changes[0].reason = "odd ``` reason".to_string();
    let md = render_markdown(&plan(vec![site]));
    assert!(md.contains("````diff\n"), "{md}");
}

/// A render depends on the plan's value alone: an equal plan rebuilt from
/// its JSON, on other threads (fresh allocations, fresh hash seeds), renders
/// to the same bytes. (The snapshots above pin what those bytes are.)
#[test]
fn renderers_depend_only_on_the_plan() {
    let plan = full_plan();
    let expected = (
        render_text(&plan, &PLAIN),
        render_markdown(&plan),
        render_json(&plan),
    );
    let json = render_json(&plan);
    let renders: Vec<_> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    let copy: Plan =
                        serde_json::from_str(&json).expect("the plan JSON parses back");
                    (
                        render_text(&copy, &PLAIN),
                        render_markdown(&copy),
                        render_json(&copy),
                    )
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("render"))
            .collect()
    });
    for render in renders {
        assert_eq!(render, expected);
    }
}

#[test]
fn json_full_plan() {
    insta::assert_snapshot!(render_json(&full_plan()));
}

/// `write_json` renders the sites on all cores and splices them in; the
/// bytes must be serde_json's own pretty printing, for every shape of plan:
/// no sites, a few, and more than a batch (with the plan-level fields set,
/// so they surround the sites).
#[test]
fn json_is_serde_json_pretty_printed() {
    let mut large = full_plan();
    for i in 0..2500 {
        large.sites.push(quiet_site(&format!("site-{i:04}")));
    }
    large.sites.push(managed_site());
    large.refusals = vec!["removals: 7 on site `acme`, over the cap of 5".to_string()];
    large.skipped = vec!["unchanged-site".to_string()];
    for plan in [plan(Vec::new()), empty_plan(), full_plan(), large] {
        let expected = serde_json::to_string_pretty(&plan).expect("a plan serializes") + "\n";
        assert_eq!(render_json(&plan), expected);
    }
}

#[test]
fn json_round_trips() {
    for plan in [full_plan(), empty_plan()] {
        let json = render_json(&plan);
        assert!(json.ends_with("}\n"));
        let back: Plan = serde_json::from_str(&json).expect("the plan JSON parses back");
        assert_eq!(back, plan);
    }
}

/// Removes CSI escape sequences, enough for what anstyle writes.
fn strip_ansi(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `sites` sites with `per_site` invites each.
fn big_plan(sites: usize, per_site: usize) -> Plan {
    let all = (0..sites)
        .map(|i| {
            let mut site = quiet_site(&format!("client-site-{i:04}"));
            let mut after: Vec<String> = site.after.lines().map(String::from).collect();
            for j in 0..per_site {
                let mut c = change(
                    Action::Invite,
                    &format!("person-{j:04}"),
                    "not a collaborator yet",
                );
                c.email = Some(format!("person-{j:04}@agency.example"));
                c.roles_after = vec![role("r-wm", "Website Manager"), role("r-be", "Blog Editor")];
                after.push(format!(
                    "person-{j:04}@agency.example (invited): Blog Editor, Website Manager"
                ));
                site.changes.push(c);
            }
            site.after = after.into();
            site
        })
        .collect();
    plan(all)
}

#[test]
fn a_3000_change_plan_fits_one_github_comment() {
    use accessctl::render::{COMMENT_LIMIT, render_markdown_limited};
    for p in [big_plan(300, 10), big_plan(1, 3000), big_plan(3000, 1)] {
        assert_eq!(p.change_count(), 3000);
        assert!(
            render_markdown(&p).len() > COMMENT_LIMIT,
            "the test needs a plan too long to fit"
        );
        let parts = render_markdown_limited(&p, COMMENT_LIMIT, false);
        assert_eq!(parts.len(), 1);
        let comment = &parts[0];
        assert!(
            comment.chars().count() <= COMMENT_LIMIT,
            "{} characters",
            comment.chars().count()
        );
        assert!(
            comment.contains("Plan cut to fit one comment"),
            "says it was cut"
        );
        assert!(
            comment.contains("3000 to invite"),
            "the totals survive the cut"
        );
        // Fences stay balanced, so the rest of the comment renders.
        assert_eq!(
            comment.matches("<details>").count(),
            comment.matches("</details>").count()
        );
    }
}

#[test]
fn split_parts_each_fit_and_together_hold_every_site() {
    use accessctl::render::{COMMENT_LIMIT, render_markdown_limited};
    let p = big_plan(300, 10);
    let parts = render_markdown_limited(&p, COMMENT_LIMIT, true);
    assert!(parts.len() > 1);
    for (i, part) in parts.iter().enumerate() {
        assert!(
            part.len() <= COMMENT_LIMIT,
            "part {i} is {} bytes",
            part.len()
        );
        assert!(part.starts_with(&format!(
            "**accessctl plan, part {} of {}**",
            i + 1,
            parts.len()
        )));
    }
    let all = parts.concat();
    for i in 0..300 {
        assert!(
            all.contains(&format!(
                "<summary>client-site-{i:04} — 10 changes</summary>"
            )),
            "site {i} missing"
        );
    }
}

#[test]
fn a_short_plan_is_not_cut() {
    use accessctl::render::{COMMENT_LIMIT, render_markdown_limited};
    let p = full_plan();
    assert_eq!(
        render_markdown_limited(&p, COMMENT_LIMIT, true),
        vec![render_markdown(&p)]
    );
}
