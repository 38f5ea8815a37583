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
    let mut text = String::from("version: 1\npeople:\n");
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
        "sites:\n  {SITE}:\n    wix: {{ site_id: {SITE_ID}, account_id: acc-1, api_key_env: SHOP_KEY }}\n    unmanaged: {unmanaged}\n    access:{access}\n"
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
            Action::Request => panic!("a managed site planned a request"),
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
        carry_out(&first, &mut live, &mut ledger);
        check_desired_state(&s, &before, &live, &ledger)?;
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
