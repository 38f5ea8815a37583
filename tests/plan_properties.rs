//! Properties of the plan engine (`plan::plan_site`), over generated sites:
//! a config (people with and without known accounts, a team, a bare email,
//! grants that ended or not, any `unmanaged` policy), what Wix shows
//! (known, linked, unknown and new collaborators with any roles) and a
//! ledger (open, expired and accepted invites, learned identities, granted
//! accounts).
//!
//! 1. Carrying the plan out — each change's effect simulated on the live
//!    site and the ledger, as `apply` records it — reaches the desired
//!    state: every principal granted access holds exactly its roles or has
//!    an open invite for exactly them; no invite is open for anyone else;
//!    no account accessctl granted is left without a grant; with
//!    `unmanaged: remove`, nobody else is left.
//! 2. Planning again after that finds nothing to change.
//! 3. Plans are deterministic: the same inputs give byte-identical plans,
//!    and so do the same config, site and ledger written in another order.
//! 4. Nothing is over-removed, whatever the `unmanaged` policy and whether
//!    or not every wanted principal's account is known: the owner and
//!    accounts known to be wanted are never removed; with `keep` or `warn`
//!    only accounts accessctl granted (ledger) or the site's grants name
//!    are.
//!
//! Properties 1, 2 and 4 are checked twice: on a model of `apply` (many
//! cases, fast), and with the real binary's `apply` against the emulator
//! over loopback (fewer cases), reading the outcome from the emulator's own
//! state and the ledger file `apply` wrote.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use accessctl::config;
use accessctl::ledger::{
    INVITE_LIFETIME_DAYS, Identity, IdentitySource, InviteRecord, InviteState, SiteLedger,
};
use accessctl::plan::{Action, Observation, SitePlan, plan_site};
use accessctl::state::{LiveSite, RoleDef};
use proptest::prelude::*;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-06-01 12:00 UTC);
const SITE: &str = "shop";
const SITE_ID: &str = "site-1";
const OWNER: &str = "acct-owner";
const ROLES: [(&str, &str); 5] = [
    ("role-blog-editor", "Blog Editor"),
    ("role-blog-writer", "Blog Writer"),
    ("role-marketing", "Marketing Manager"),
    ("role-designer", "Website Designer"),
    ("role-manager", "Website Manager"),
];

/// A non-empty role set as a bit mask over [`ROLES`].
fn role_set() -> impl Strategy<Value = u8> {
    1u8..32
}

fn ids(mask: u8) -> BTreeSet<String> {
    ROLES
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, (id, _))| id.to_string())
        .collect()
}

fn titles(mask: u8) -> Vec<&'static str> {
    ROLES
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, (_, title))| *title)
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Until {
    None,
    Ended,
    Later,
}

#[derive(Debug, Clone)]
struct Person {
    /// The config gives the account id.
    account_in_config: bool,
    /// The ledger learned the account id.
    identity_in_ledger: bool,
    /// Holds these roles on the site now (under `acct-p<i>`).
    holds: Option<u8>,
    /// Granted these roles, directly (or through the team).
    grant: Option<(u8, Until, bool)>,
    /// The ledger has an invite for the person's email: roles, expired,
    /// accepted.
    invite: Option<(u8, bool, bool)>,
    /// accessctl granted the account earlier.
    granted: bool,
}

#[derive(Debug, Clone)]
struct Scenario {
    people: Vec<Person>,
    /// Collaborators the config does not name: roles, and whether
    /// accessctl granted them.
    strangers: Vec<(u8, bool)>,
    /// A grant to a bare email, and an open invite for it.
    email_grant: Option<(u8, Option<u8>)>,
    unmanaged: usize,
    /// Orders used for the shuffled copy.
    order_seed: u64,
}

fn person() -> impl Strategy<Value = Person> {
    (
        any::<bool>(),
        any::<bool>(),
        proptest::option::of(role_set()),
        proptest::option::of((
            role_set(),
            prop_oneof![Just(Until::None), Just(Until::Ended), Just(Until::Later)],
            any::<bool>(),
        )),
        proptest::option::of((role_set(), any::<bool>(), any::<bool>())),
        any::<bool>(),
    )
        .prop_map(
            |(account_in_config, identity_in_ledger, holds, grant, invite, granted)| Person {
                account_in_config,
                identity_in_ledger,
                holds,
                grant,
                invite,
                granted,
            },
        )
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        proptest::collection::vec(person(), 1..6),
        proptest::collection::vec((role_set(), any::<bool>()), 0..3),
        proptest::option::of((role_set(), proptest::option::of(role_set()))),
        0usize..3,
        any::<u64>(),
    )
        .prop_map(
            |(people, strangers, email_grant, unmanaged, order_seed)| Scenario {
                people,
                strangers,
                email_grant,
                unmanaged,
                order_seed,
            },
        )
}

/// A small deterministic shuffle (the order only has to differ).
fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut state = seed | 1;
    for i in (1..items.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let j = (state % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

fn email(i: usize) -> String {
    format!("p{i}@agency.example")
}

fn account(i: usize) -> String {
    format!("acct-p{i}")
}

const FREELANCER: &str = "writer@freelance.example";

/// The config, with people and grants in the given orders.
fn config_text(s: &Scenario, shuffled: bool) -> String {
    let mut people: Vec<usize> = (0..s.people.len()).collect();
    let mut grants: Vec<String> = Vec::new();
    let mut team: Vec<String> = Vec::new();
    for (i, p) in s.people.iter().enumerate() {
        let Some((mask, until, via_team)) = p.grant else {
            continue;
        };
        let until = match until {
            Until::None => String::new(),
            Until::Ended => ", until: 2026-05-01".to_string(),
            Until::Later => ", until: 2027-01-01".to_string(),
        };
        let roles = titles(mask).join(", ");
        if via_team {
            // Team members get the team's grant as well as their own.
            team.push(format!("p{i}"));
        }
        grants.push(format!(
            "      - {{ person: p{i}, roles: [{roles}]{until} }}\n"
        ));
    }
    if !team.is_empty() {
        grants.push("      - { team: crew, role: Blog Writer }\n".to_string());
    }
    if let Some((mask, _)) = s.email_grant {
        grants.push(format!(
            "      - {{ email: {FREELANCER}, roles: [{}] }}\n",
            titles(mask).join(", ")
        ));
    }
    if shuffled {
        shuffle(&mut people, s.order_seed);
        shuffle(&mut grants, s.order_seed.rotate_left(17));
        shuffle(&mut team, s.order_seed.rotate_left(31));
    }
    let mut text = String::from("version: 2\npeople:\n");
    for i in people {
        let p = &s.people[i];
        let id = if p.account_in_config {
            format!(", wix_account_id: {}", account(i))
        } else {
            String::new()
        };
        text.push_str(&format!("  p{i}: {{ email: {}{id} }}\n", email(i)));
    }
    if !team.is_empty() {
        text.push_str(&format!("teams:\n  crew: [{}]\n", team.join(", ")));
    }
    let unmanaged = ["keep", "warn", "remove"][s.unmanaged];
    let access = if grants.is_empty() { " []" } else { "" };
    text.push_str(&format!(
        "sites:\n  {SITE}:\n    wix: {{ site_id: {SITE_ID}, account_id: {OWNER}, api_key_env: SHOP_KEY }}\n    unmanaged: {unmanaged}\n    access:{access}\n"
    ));
    for g in grants {
        text.push_str(&g);
    }
    text
}

fn live_site(s: &Scenario) -> LiveSite {
    let mut contributors = BTreeMap::new();
    for (i, p) in s.people.iter().enumerate() {
        if let Some(mask) = p.holds {
            contributors.insert(account(i), ids(mask).into());
        }
    }
    for (j, (mask, _)) in s.strangers.iter().enumerate() {
        contributors.insert(format!("acct-x{j}"), ids(*mask).into());
    }
    LiveSite {
        roles: ROLES
            .iter()
            .map(|(id, title)| RoleDef {
                id: id.to_string(),
                title: title.to_string(),
                custom: false,
            })
            .collect::<Vec<_>>()
            .into(),
        owners: BTreeSet::from([OWNER.to_string()]),
        contributors,
    }
}

fn invite(email: &str, mask: u8, expired: bool, accepted: Option<&str>, n: usize) -> InviteRecord {
    let sent_at = if expired {
        NOW - Duration::days(INVITE_LIFETIME_DAYS + 5)
    } else {
        NOW - Duration::days(3)
    };
    InviteRecord {
        id: Some(format!("inv-{n}")),
        email: email.to_string(),
        role_ids: ids(mask).into_iter().collect(),
        role_titles: titles(mask).into_iter().map(String::from).collect(),
        sent_at,
        expires_at: sent_at + Duration::days(INVITE_LIFETIME_DAYS),
        state: if accepted.is_some() {
            InviteState::Accepted
        } else {
            InviteState::Pending
        },
        account_id: accepted.map(String::from),
        existing_accounts: Vec::new(),
        sig: None,
    }
}

fn ledger(s: &Scenario, shuffled: bool) -> SiteLedger {
    let mut ledger = SiteLedger::new(SITE, SITE_ID);
    for (i, p) in s.people.iter().enumerate() {
        if let Some((mask, expired, accepted)) = p.invite {
            let by = accepted.then(|| account(i));
            ledger
                .invites
                .push(invite(&email(i), mask, expired, by.as_deref(), i));
        }
        if p.identity_in_ledger {
            ledger.identities.push(Identity {
                email: email(i),
                account_id: account(i),
                source: IdentitySource::InviteMatch,
                learned_at: NOW - Duration::days(2),
                sig: None,
            });
        }
        if p.granted {
            ledger.granted.push(account(i).as_str().into());
        }
    }
    for (j, (_, granted)) in s.strangers.iter().enumerate() {
        if *granted {
            ledger.granted.push(format!("acct-x{j}").as_str().into());
        }
    }
    if let Some((_, Some(mask))) = s.email_grant {
        ledger
            .invites
            .push(invite(FREELANCER, mask, false, None, 99));
    }
    if shuffled {
        // One invite per email, so their order carries no meaning.
        shuffle(&mut ledger.invites, s.order_seed.rotate_left(7));
        shuffle(&mut ledger.identities, s.order_seed.rotate_left(11));
        shuffle(&mut ledger.granted, s.order_seed.rotate_left(23));
    }
    ledger
}

fn plan(config_text: &str, live: &LiveSite, ledger: &SiteLedger) -> SitePlan {
    let loaded =
        config::load_str(Path::new("access.yaml"), config_text.as_bytes()).unwrap_or_else(|r| {
            panic!(
                "generated config is invalid:\n{}\n{config_text}",
                r.render()
            )
        });
    let config = loaded.config;
    let site = config.sites.get(SITE).expect("site");
    plan_site(&config, site, &Observation::Live(live.clone()), ledger, NOW)
}

/// What `apply` does for each change, on the live site and the ledger
/// (see `apply::SiteRun`). Invites are sent but nobody accepts them.
fn carry_out(plan: &SitePlan, live: &mut LiveSite, ledger: &mut SiteLedger) {
    let existing: Vec<String> = live.contributors.keys().cloned().collect();
    for (n, change) in plan.changes.iter().enumerate() {
        let role_ids = change.role_ids_after();
        match change.action {
            Action::Link => {
                let email = change.email.clone().expect("link email");
                let account = change.account_id.clone().expect("link account");
                ledger.learn(Identity {
                    email: email.clone(),
                    account_id: account.clone(),
                    source: IdentitySource::InviteMatch,
                    learned_at: NOW,
                    sig: None,
                });
                if let Some(invite) = ledger
                    .invites
                    .iter_mut()
                    .rev()
                    .find(|i| i.email == email && i.id == change.invite_id)
                {
                    invite.state = InviteState::Accepted;
                    invite.account_id = Some(account.clone());
                }
                ledger.mark_granted(&account);
            }
            Action::RevokeInvite => {
                let id = change.invite_id.clone().expect("revoke id");
                for invite in ledger
                    .invites
                    .iter_mut()
                    .filter(|i| i.id.as_ref() == Some(&id))
                {
                    invite.state = InviteState::Revoked;
                }
            }
            Action::Invite => {
                let email = change.email.clone().expect("invite email");
                ledger.invites.push(InviteRecord {
                    id: Some(format!("new-{n}")),
                    email,
                    role_ids,
                    role_titles: change.roles_after.iter().map(|r| r.title.clone()).collect(),
                    sent_at: NOW,
                    expires_at: NOW + Duration::days(INVITE_LIFETIME_DAYS),
                    state: InviteState::Pending,
                    account_id: None,
                    existing_accounts: existing.clone(),
                    sig: None,
                });
            }
            Action::ChangeRole => {
                let account = change.account_id.clone().expect("account");
                assert!(
                    !role_ids.is_empty(),
                    "a role change to no roles: {change:?}"
                );
                let held = live
                    .contributors
                    .get_mut(&account)
                    .unwrap_or_else(|| panic!("role change for a non-contributor: {change:?}"));
                *held = role_ids.into_iter().collect();
            }
            Action::Remove => {
                let account = change.account_id.clone().expect("account");
                assert!(!live.owners.contains(&account), "the owner removed");
                assert!(
                    live.contributors.remove(&account).is_some(),
                    "removed a non-contributor: {change:?}"
                );
                ledger.forget_granted(&account);
            }
            Action::Request | Action::RequestChange | Action::RequestRemoval => {
                panic!("a managed site planned a request")
            }
        }
    }
}

/// The roles each principal should end with: by email, with the account
/// the principal is known by (config or ledger), if any.
fn desired(s: &Scenario) -> BTreeMap<String, (Option<String>, BTreeSet<String>)> {
    let mut want: BTreeMap<String, (Option<String>, BTreeSet<String>)> = BTreeMap::new();
    for (i, p) in s.people.iter().enumerate() {
        let Some((mask, until, via_team)) = p.grant else {
            continue;
        };
        let mut roles = BTreeSet::new();
        if until != Until::Ended {
            roles.extend(ids(mask));
        }
        // The team's grant has no end.
        if via_team {
            roles.insert("role-blog-writer".to_string());
        }
        if roles.is_empty() {
            continue;
        }
        let known = (p.account_in_config || p.identity_in_ledger).then(|| account(i));
        want.entry(email(i))
            .or_insert((known, BTreeSet::new()))
            .1
            .extend(roles);
    }
    if let Some((mask, _)) = s.email_grant {
        want.insert(FREELANCER.to_string(), (None, ids(mask)));
    }
    want
}

/// Property 1: the state after carrying the plan out is the desired one.
fn check_desired_state(
    s: &Scenario,
    before: &LiveSite,
    live: &LiveSite,
    ledger: &SiteLedger,
) -> Result<(), TestCaseError> {
    let want = desired(s);
    let linked: BTreeMap<&str, &str> = ledger
        .identities
        .iter()
        .map(|i| (i.email.as_str(), i.account_id.as_str()))
        .collect();
    let open: BTreeMap<&str, BTreeSet<String>> = ledger
        .invites
        .iter()
        .filter(|i| i.is_outstanding(NOW))
        .map(|i| (i.email.as_str(), i.role_ids.iter().cloned().collect()))
        .collect();
    let mut desired_accounts = BTreeSet::new();
    for (email, (known, roles)) in &want {
        let account = known
            .clone()
            .or_else(|| linked.get(email.as_str()).map(|a| a.to_string()));
        match account.as_ref().and_then(|a| live.contributors.get(a)) {
            Some(held) => {
                prop_assert_eq!(held, roles, "{} holds other roles", email);
                desired_accounts.insert(account.clone().unwrap_or_default());
            }
            None => prop_assert_eq!(
                open.get(email.as_str()),
                Some(roles),
                "{} neither holds its roles nor has an open invite for them",
                email
            ),
        }
    }
    for email in open.keys() {
        prop_assert!(
            want.contains_key(*email),
            "an invite is open for {}, who is granted nothing",
            email
        );
    }
    for account in live.contributors.keys() {
        if desired_accounts.contains(account) {
            continue;
        }
        prop_assert!(
            !ledger.is_granted(account),
            "{} was granted by accessctl and is no longer wanted, but stays",
            account
        );
        // An account the tool does not know belongs to a wanted person may
        // be theirs (an invite the tool could not match); only the policy
        // decides about everyone else.
        let maybe_wanted = want.values().any(|(known, _)| known.is_none());
        if s.unmanaged == 2 && !maybe_wanted {
            prop_assert!(
                !before.contributors.contains_key(account) || desired_accounts.contains(account),
                "unmanaged: remove left {}",
                account
            );
        }
    }
    Ok(())
}

/// Property 4: the only accounts removed are ones the policy and the
/// records allow to remove.
fn check_no_over_removal(
    s: &Scenario,
    before: &LiveSite,
    after: &LiveSite,
    ledger_before: &SiteLedger,
    plan: &SitePlan,
) -> Result<(), TestCaseError> {
    let want = desired(s);
    let linked: BTreeSet<&str> = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Link)
        .filter_map(|c| c.account_id.as_deref())
        .collect();
    let linked_wanted: BTreeSet<&str> = plan
        .changes
        .iter()
        .filter(|c| {
            c.action == Action::Link && c.email.as_ref().is_some_and(|e| want.contains_key(e))
        })
        .filter_map(|c| c.account_id.as_deref())
        .collect();
    let known_wanted: BTreeSet<String> = want.values().filter_map(|(k, _)| k.clone()).collect();
    // Accounts the site's grants name (ended ones included): managed.
    let named: BTreeSet<String> = s
        .people
        .iter()
        .enumerate()
        .filter(|(_, p)| p.grant.is_some() && (p.account_in_config || p.identity_in_ledger))
        .map(|(i, _)| account(i))
        .collect();
    for account in before.contributors.keys() {
        if after.contributors.contains_key(account) {
            continue;
        }
        prop_assert!(!before.owners.contains(account), "the owner was removed");
        prop_assert!(
            !known_wanted.contains(account) && !linked_wanted.contains(account.as_str()),
            "{} is wanted but was removed",
            account
        );
        let managed = ledger_before.is_granted(account)
            || named.contains(account)
            || linked.contains(account.as_str());
        if s.unmanaged != 2 {
            prop_assert!(
                managed,
                "`unmanaged: {}` removed {}, which accessctl neither granted nor is told about",
                ["keep", "warn", "remove"][s.unmanaged],
                account
            );
        }
    }
    Ok(())
}

fn json(plan: &SitePlan) -> String {
    serde_json::to_string_pretty(plan).expect("serializes")
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn applying_a_plan_reaches_the_desired_state_and_planning_again_finds_nothing(
        s in scenario()
    ) {
        let config = config_text(&s, false);
        let before = live_site(&s);
        let mut live = before.clone();
        let mut ledger = ledger(&s, false);
        let first = plan(&config, &live, &ledger);
        prop_assert!(first.errors.is_empty(), "errors: {:?}", first.errors);
        let ledger_before = ledger.clone();
        carry_out(&first, &mut live, &mut ledger);
        check_desired_state(&s, &before, &live, &ledger)?;
        check_no_over_removal(&s, &before, &live, &ledger_before, &first)?;
        let second = plan(&config, &live, &ledger);
        prop_assert!(
            second.changes.is_empty(),
            "planning again after carrying out\n{}\nfound\n{}",
            json(&first),
            json(&second)
        );
    }

    #[test]
    fn plans_are_deterministic_whatever_the_order_of_the_inputs(s in scenario()) {
        let live = live_site(&s);
        let a = plan(&config_text(&s, false), &live, &ledger(&s, false));
        let again = plan(&config_text(&s, false), &live, &ledger(&s, false));
        prop_assert_eq!(json(&a), json(&again));
        let shuffled = plan(&config_text(&s, true), &live, &ledger(&s, true));
        prop_assert_eq!(json(&a), json(&shuffled));
    }
}

proptest! {
    // 300 sites a case: fewer cases.
    #![proptest_config(ProptestConfig {
        cases: 16,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// `plan` frees each site's reading as it plans it
    /// (`build_plan_consuming`); `apply` keeps them (`build_plan`). Both
    /// must make the same plan — over enough sites (300) that both split
    /// the work over the cores.
    #[test]
    fn a_plan_that_frees_its_readings_is_the_plan_that_keeps_them(s in scenario()) {
        use accessctl::observe::{Observed, build_plan, build_plan_consuming};
        const SITES: usize = 300;
        let one = config_text(&s, false);
        let (head, block) = one.split_once("sites:\n").expect("a sites block");
        let mut text = format!("{head}sites:\n");
        let mut observed = BTreeMap::new();
        for n in 0..SITES {
            let (key, id) = (format!("{SITE}{n:03}"), format!("{SITE_ID}-{n}"));
            text.push_str(
                &block
                    .replacen(&format!("  {SITE}:"), &format!("  {key}:"), 1)
                    .replacen(&format!("site_id: {SITE_ID}"), &format!("site_id: {id}"), 1),
            );
            let mut site_ledger = ledger(&s, n % 2 == 1);
            site_ledger.site = key.clone();
            site_ledger.site_id = id;
            observed.insert(
                key,
                Observed {
                    observation: Observation::Live(live_site(&s)),
                    ledger: Some(site_ledger),
                    targets: Vec::new(),
                },
            );
        }
        let config = config::load_str(Path::new("access.yaml"), text.as_bytes())
            .map_err(|r| TestCaseError::fail(r.render()))?
            .config;
        prop_assert_eq!(config.sites.len(), SITES);
        let none = accessctl::ledger::guards::Recorded::None;
        let kept = build_plan(&config, &observed, NOW, &none, Default::default());
        let freed = build_plan_consuming(&config, observed, NOW, &none, Default::default());
        prop_assert_eq!(kept.sites.len(), SITES);
        prop_assert_eq!(kept, freed);
    }
}

/// The emulator's seed for a scenario: the test's roles as the predefined
/// ones (same ids), the site's collaborators, the ledger's invites as Wix
/// holds them, and the clock frozen at [`NOW`].
fn seed_yaml(s: &Scenario, ledger: &SiteLedger) -> String {
    let mut text = format!("clock: \"{}\"\npredefined_roles:\n", rfc3339(NOW));
    for (id, title) in ROLES {
        text.push_str(&format!("  - {{ id: {id}, title: \"{title}\" }}\n"));
    }
    text.push_str(&format!(
        "accounts:\n  - {{ id: {OWNER}, api_keys: [key-shop] }}\nsites:\n  - id: {SITE_ID}\n    account: {OWNER}\n    seat_limit: 100\n"
    ));
    let contributors: Vec<String> = live_site(s)
        .contributors
        .iter()
        .map(|(account, roles)| {
            let roles: Vec<&str> = roles.iter().collect();
            format!("{{ account_id: {account}, roles: [{}] }}", roles.join(", "))
        })
        .collect();
    text.push_str(&format!(
        "    contributors: [{}]\n",
        contributors.join(", ")
    ));
    let invites: Vec<String> = ledger
        .invites
        .iter()
        .map(|invite| {
            let status = match (invite.state, invite.is_expired(NOW)) {
                (InviteState::Accepted, _) => "Used",
                (_, true) => "Expired",
                _ => "Pending",
            };
            let by = invite
                .account_id
                .as_ref()
                .map(|a| format!(", accepted_by_account_id: {a}"))
                .unwrap_or_default();
            format!(
                "{{ id: {}, email: {}, roles: [{}], status: {status}{by} }}",
                invite.id.as_deref().unwrap_or("none"),
                invite.email,
                invite.role_ids.join(", ")
            )
        })
        .collect();
    text.push_str(&format!("    invites: [{}]\n", invites.join(", ")));
    text
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .expect("formats")
}

/// The site as the emulator holds it now.
fn emulated_site(h: &common::Harness, s: &Scenario) -> LiveSite {
    let state = h.get("/_emulator/state");
    let site = state["sites"]
        .as_array()
        .and_then(|sites| sites.iter().find(|x| x["id"] == SITE_ID))
        .expect("the site")
        .clone();
    let mut live = live_site(s);
    live.contributors = site["contributors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let roles: BTreeSet<String> = c["roleIds"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r.as_str().map(String::from))
                .collect();
            (
                c["accountId"].as_str().unwrap_or_default().to_string(),
                roles.into(),
            )
        })
        .collect();
    live
}

proptest! {
    #![proptest_config(ProptestConfig {
        // Each case runs the binary twice against a fresh emulator.
        cases: 24,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Properties 1, 2 and 4 with the real `apply` over loopback: the
    /// emulator's state after apply is the desired one, nothing is
    /// over-removed, and the next plan (by the binary) is empty.
    #[test]
    fn the_real_apply_reaches_the_desired_state_without_over_removing(s in scenario()) {
        let ledger_before = ledger(&s, false);
        let config = config_text(&s, false);
        let mut h = common::Harness::new(&seed_yaml(&s, &ledger_before), &config, &[("SHOP_KEY", "key-shop")]);
        h.env.push(("ACCESSCTL_NOW".into(), rfc3339(NOW)));
        std::fs::create_dir_all(h.ledger_dir()).expect("ledger dir");
        std::fs::write(
            h.ledger_dir().join(format!("{SITE}.yaml")),
            accessctl::ledger::to_yaml(&ledger_before, &accessctl::ledger::Auth::Off).expect("yaml"),
        )
        .expect("ledger");
        let before = emulated_site(&h, &s);
        let first = plan(&config, &before, &ledger_before);
        prop_assert!(first.errors.is_empty(), "errors: {:?}", first.errors);

        let out = h
            .cmd(&["apply", "--auto-approve", "--allow-removals", "--allow-protected-changes"])
            .output()
            .expect("runs");
        prop_assert!(
            out.status.success(),
            "apply failed:\n{}\n{}",
            common::stdout(&out),
            common::stderr(&out)
        );
        let after = emulated_site(&h, &s);
        let ledger_after = accessctl::ledger::load(
            &h.ledger_dir(),
            SITE,
            SITE_ID,
            &accessctl::ledger::Auth::Off,
        )
        .map_err(|r| TestCaseError::fail(r.render()))?;
        check_desired_state(&s, &before, &after, &ledger_after)?;
        check_no_over_removal(&s, &before, &after, &ledger_before, &first)?;
        let again = h.plan();
        prop_assert_eq!(again.change_count(), 0, "planning again found {:#?}", again.sites[0].changes);
    }
}
