//! The contract every provider keeps, checked the same way for each — Wix,
//! GA4 and GTM — through `dyn Provider`, against one emulator over
//! loopback. A new platform's provider (Google Ads, Meta, TikTok) is added
//! to [`providers`] and must pass it unchanged:
//!
//! - `apply` returns one outcome per change, in the order given, and tells
//!   its journal each change exactly once, with that same outcome;
//! - on a platform that grants by invitation, each add is announced to the
//!   journal (`intend`) before it is settled, and a done add hands back a
//!   receipt (the invitation's id), since the platform may not list it;
//! - what the provider observes afterwards, with those invitations, is what
//!   was asked: the core's diff plans nothing more;
//! - a journal that cannot record stops the run: nothing is settled as
//!   failed or unknown after the refusal but what the same call did, the
//!   rest is skipped with the journal's reason, and the changes not made are
//!   planned again.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use accessctl::emulator::{self, RunningEmulator};
use accessctl::model::Unmanaged;
use accessctl::platform::diff::{Desired, diff};
use accessctl::platform::{
    Access, Binding, Change, ChangeKind, GrantEffect, Lifecycle, Outcome, Platform, Provider,
    Target, TargetState, Who,
};
use accessctl::providers::google::ga4::Ga4Provider;
use accessctl::providers::google::gtm::GtmProvider;
use accessctl::providers::google::gtm::limiter::RateWindow;
use accessctl::providers::wix::provider::WixProvider;
use accessctl::providers::wix::{SiteAccess, WixClient};
use accessctl::secret::ApiKey;
use common::google::{EMULATOR_CLIENT_EMAIL, MintedBearer, seed_head};
use common::journal::{Heard, REFUSAL, Recorder};

fn seed() -> String {
    let head = seed_head().replace(
        "  - { id: site-1, account: acc-1 }\n",
        "  - id: site-1
    account: acc-1
    contributors:
      - { account_id: acct-a, roles: [Blog Editor] }
      - { account_id: acct-b, roles: [Blog Writer] }
",
    );
    format!(
        "{head}  ga4:
    accounts:
      - {{ id: \"100\", properties: [\"200\"] }}
    bindings:
      - {{ parent: accounts/100, user: {EMULATOR_CLIENT_EMAIL}, roles: [predefinedRoles/admin] }}
      - {{ parent: properties/200, user: a@x.example, roles: [predefinedRoles/viewer] }}
      - {{ parent: properties/200, user: b@x.example, roles: [predefinedRoles/viewer] }}
  gtm:
    accounts:
      - id: \"6000\"
        containers:
          - {{ container_id: \"31\", public_id: GTM-AAAA111 }}
        permissions:
          - {{ email: {EMULATOR_CLIENT_EMAIL}, account: admin }}
          - {{ email: a@x.example, account: user, containers: {{ GTM-AAAA111: read }} }}
          - {{ email: b@x.example, account: user, containers: {{ GTM-AAAA111: read }} }}
"
    )
}

async fn start() -> RunningEmulator {
    accessctl::providers::wix::install_crypto_provider();
    emulator::spawn(
        emulator::parse_seed(&seed()).expect("seed"),
        "127.0.0.1:0".parse().expect("addr"),
    )
    .await
    .expect("emulator")
}

fn target(platform: Platform, id: &str, children: &[&str]) -> Target {
    Target {
        platform,
        id: id.to_string(),
        credentials_env: None,
        managed_children: children.iter().map(|c| c.to_string()).collect(),
    }
}

/// A provider, its target, and what the config wants there.
type Case = (Box<dyn Provider>, Target, BTreeMap<Who, Desired>);

/// Each provider with its target and a wish that needs an add, an update
/// and a removal there.
fn providers(emu: &RunningEmulator) -> Vec<Case> {
    let base = emu.base_url();
    let bearer = Arc::new(MintedBearer::new(&base));
    let want = |entries: Vec<(Who, Access)>| -> BTreeMap<Who, Desired> {
        entries
            .into_iter()
            .map(|(who, access)| (who, Desired::new(access, "contract".to_string())))
            .collect()
    };
    let email = |e: &str| Who::Email(e.to_string());
    let gtm_access = |perm: &str| {
        let mut a = Access::roles(["user"]);
        a.children
            .insert("GTM-AAAA111".to_string(), [perm.to_string()].into());
        a
    };
    let wix = WixProvider::new(
        WixClient::new(&base, Duration::from_secs(10)).expect("client"),
        SiteAccess {
            site_key: "site".to_string(),
            site_id: "site-1".to_string(),
            account_id: "acc-1".to_string(),
            key: ApiKey::new("emu-key-1"),
            invite_language: None,
        },
    );
    vec![
        (
            Box::new(wix),
            target(Platform::Wix, "site-1", &[]),
            // acct-a changes role, acct-b goes, new@ is invited.
            want(vec![
                (
                    Who::PlatformId("acct-a".into()),
                    Access::roles(["role-website-manager"]),
                ),
                (email("new@x.example"), Access::roles(["role-blog-writer"])),
            ]),
        ),
        (
            Box::new(
                Ga4Provider::new(&base, bearer.clone(), Duration::from_secs(10)).expect("ga4"),
            ),
            target(Platform::Ga4, "properties/200", &[]),
            want(vec![
                (email("a@x.example"), Access::roles(["analyst"])),
                (email("new@x.example"), Access::roles(["viewer"])),
            ]),
        ),
        (
            Box::new(
                GtmProvider::new(
                    &base,
                    bearer,
                    Duration::from_secs(10),
                    RateWindow::default(),
                )
                .expect("gtm"),
            ),
            target(Platform::Gtm, "accounts/6000", &["GTM-AAAA111"]),
            want(vec![
                (email("a@x.example"), gtm_access("edit")),
                (email("new@x.example"), gtm_access("read")),
            ]),
        ),
    ]
}

/// The plan for `target`, with the invitations `pending` adds (what a
/// caller records from the receipts, as apply does in the ledger).
async fn plan(
    provider: &dyn Provider,
    target: &Target,
    want: &BTreeMap<Who, Desired>,
    pending: &[Binding],
) -> Vec<Change> {
    let mut state: TargetState = provider.observe(target).await.expect("observe");
    state.bindings.extend(pending.iter().cloned());
    let d = diff(
        target,
        provider.capabilities(),
        want,
        &state,
        Unmanaged::Remove,
        provider.self_email(),
    );
    assert!(d.refused.is_empty(), "{:?}", d.refused);
    d.changes
}

/// The invitations the receipts name, as bindings.
fn invitations(changes: &[Change], heard: &[Heard]) -> Vec<Binding> {
    heard
        .iter()
        .filter_map(|h| match h {
            Heard::Settled(i, Outcome::Done, Some(id)) if changes[*i].kind == ChangeKind::Add => {
                Some(Binding {
                    email: changes[*i].who.email().map(str::to_string),
                    platform_id: None,
                    access: changes[*i].to.clone().unwrap_or_default(),
                    lifecycle: Lifecycle::Pending {
                        invitation: Some(id.clone()),
                        expires: None,
                    },
                    handle: Some(id.clone()),
                })
            }
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn every_provider_keeps_the_apply_contract_and_converges() {
    let emu = start().await;
    for (provider, target, want) in providers(&emu) {
        let provider: &dyn Provider = provider.as_ref();
        let name = provider.platform().name();
        let changes = plan(provider, &target, &want, &[]).await;
        let kinds: Vec<ChangeKind> = changes.iter().map(|c| c.kind).collect();
        for kind in [ChangeKind::Add, ChangeKind::Update, ChangeKind::Remove] {
            assert!(
                kinds.contains(&kind),
                "{name}: the wish needs a {kind:?}: {changes:?}"
            );
        }
        let journal = Recorder::default();
        let outcomes = provider.apply(&target, &changes, &journal).await;
        assert_eq!(
            outcomes.len(),
            changes.len(),
            "{name}: one outcome per change"
        );
        assert!(
            outcomes.iter().all(|o| *o == Outcome::Done),
            "{name}: {outcomes:?}"
        );
        let heard = journal.heard();
        for (i, outcome) in outcomes.iter().enumerate() {
            let told: Vec<&Heard> = heard
                .iter()
                .filter(|h| matches!(h, Heard::Settled(j, ..) if *j == i))
                .collect();
            assert_eq!(told.len(), 1, "{name}: change {i} told once: {heard:?}");
            assert!(
                matches!(told[0], Heard::Settled(_, o, _) if o == outcome),
                "{name}: change {i} told as returned: {heard:?}"
            );
        }
        if provider.capabilities().effect == GrantEffect::Invitation {
            for (i, c) in changes.iter().enumerate() {
                if c.kind != ChangeKind::Add {
                    continue;
                }
                let intended = heard
                    .iter()
                    .position(|h| matches!(h, Heard::Intend(batch) if batch.contains(&i)));
                let settled = heard
                    .iter()
                    .position(|h| matches!(h, Heard::Settled(j, ..) if *j == i));
                assert!(
                    intended.is_some() && intended < settled,
                    "{name}: add {i} announced before it was settled: {heard:?}"
                );
                assert!(
                    heard
                        .iter()
                        .any(|h| matches!(h, Heard::Settled(j, Outcome::Done, Some(_)) if *j == i)),
                    "{name}: a done invitation hands back its id: {heard:?}"
                );
            }
        }
        let pending = invitations(&changes, &heard);
        let again = plan(provider, &target, &want, &pending).await;
        assert!(again.is_empty(), "{name}: converged, but plans {again:?}");
    }
}

#[tokio::test]
async fn a_journal_that_cannot_record_stops_every_provider() {
    let emu = start().await;
    for (provider, target, want) in providers(&emu) {
        let provider: &dyn Provider = provider.as_ref();
        let name = provider.platform().name();
        let changes = plan(provider, &target, &want, &[]).await;
        let journal = Recorder {
            refuse_after: Some(1),
            ..Recorder::default()
        };
        let outcomes = provider.apply(&target, &changes, &journal).await;
        assert_eq!(outcomes.len(), changes.len(), "{name}");
        let skipped = outcomes
            .iter()
            .filter(|o| **o == Outcome::Skipped(REFUSAL.to_string()))
            .count();
        let done = outcomes.iter().filter(|o| **o == Outcome::Done).count();
        assert!(skipped >= 1, "{name}: the rest is skipped: {outcomes:?}");
        assert_eq!(
            done + skipped,
            changes.len(),
            "{name}: only done or skipped: {outcomes:?}"
        );
        // What was skipped is planned again; what was done is not.
        let pending = invitations(&changes, &journal.heard());
        let again = plan(provider, &target, &want, &pending).await;
        assert_eq!(again.len(), skipped, "{name}: {again:?} after {outcomes:?}");
    }
}
