//! The Wix provider behind the core's `Provider` interface, against the
//! emulator over loopback: it reads a site as bindings by account id (never
//! the owner), carries out the core's changes as Wix calls, tells its
//! journal each invite batch before sending it and each outcome (with the
//! invite's id) after, and stops the site at the first failed call or when
//! the journal cannot record.

mod common;

use std::time::Duration;

use accessctl::emulator;
use accessctl::platform::{
    Access, Change, ChangeKind, Lifecycle, Outcome, Platform, Provider, Target, Who,
};
use accessctl::providers::wix::provider::WixProvider;
use accessctl::providers::wix::{SiteAccess, WixClient};
use accessctl::secret::ApiKey;
use common::journal::{Heard, Recorder};
use serde_json::Value;

const SEED: &str = "accounts:
  - { id: acc-1, api_keys: [key-SECRET-1] }
sites:
  - id: site-1
    account: acc-1
    contributors:
      - { account_id: acct-a, roles: [Blog Editor] }
      - { account_id: acct-b, roles: [Blog Writer, Website Designer] }
";

struct Site {
    emu: emulator::RunningEmulator,
    provider: WixProvider,
    target: Target,
}

async fn site() -> Site {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let emu = emulator::spawn(
        emulator::parse_seed(SEED).expect("seed"),
        "127.0.0.1:0".parse().expect("addr"),
    )
    .await
    .expect("emulator");
    let client = WixClient::new(&emu.base_url(), Duration::from_secs(5)).expect("client");
    let access = SiteAccess {
        site_key: "acme".to_string(),
        site_id: "site-1".to_string(),
        account_id: "acc-1".to_string(),
        key: ApiKey::new("key-SECRET-1"),
        invite_language: None,
    };
    Site {
        emu,
        provider: WixProvider::new(client, access),
        target: Target {
            platform: Platform::Wix,
            id: "site-1".to_string(),
            credentials_env: None,
            managed_children: Default::default(),
        },
    }
}

impl Site {
    async fn log(&self) -> Vec<Value> {
        let log: Value = reqwest::get(format!("{}/_emulator/log", self.emu.base_url()))
            .await
            .expect("log")
            .json()
            .await
            .expect("json");
        log.as_array().expect("array").clone()
    }

    async fn bulk_invites(&self) -> usize {
        self.log()
            .await
            .iter()
            .filter(|e| {
                e["method"] == "POST" && e["path"].as_str().is_some_and(|p| p.contains("bulk"))
            })
            .count()
    }

    /// Account id → role ids, as the provider reads them.
    async fn accounts(&self) -> Vec<(String, Vec<String>)> {
        let state = self.provider.observe(&self.target).await.expect("observe");
        state
            .bindings
            .into_iter()
            .map(|b| {
                assert_eq!(b.email, None, "Wix names collaborators by account id");
                assert_eq!(b.lifecycle, Lifecycle::Active);
                (
                    b.platform_id.expect("account id"),
                    b.access.roles.into_iter().collect(),
                )
            })
            .collect()
    }
}

fn change(kind: ChangeKind, who: Who, to: &[&str]) -> Change {
    let handle = who.platform_id().map(str::to_string);
    Change {
        kind,
        who,
        from: None,
        to: (kind != ChangeKind::Remove).then(|| Access::roles(to.iter().copied())),
        handle,
        reason: "test".to_string(),
    }
}

#[tokio::test]
async fn the_provider_reads_collaborators_by_account_and_never_the_owner() {
    let s = site().await;
    let provider: &dyn Provider = &s.provider;
    assert_eq!(provider.platform(), Platform::Wix);
    assert!(!provider.capabilities().invitations_editable);
    assert_eq!(
        s.accounts().await,
        vec![
            ("acct-a".to_string(), vec!["role-blog-editor".to_string()]),
            (
                "acct-b".to_string(),
                vec![
                    "role-blog-writer".to_string(),
                    "role-website-designer".to_string()
                ]
            ),
        ]
    );
    // A target that is not the provider's site is refused, not read.
    let other = Target {
        id: "site-2".to_string(),
        ..s.target.clone()
    };
    let err = provider.observe(&other).await.expect_err("another site");
    assert!(err.message.contains("site-2"), "{}", err.message);
}

#[tokio::test]
async fn apply_tells_the_journal_before_an_invite_and_hands_back_its_id() {
    let s = site().await;
    let changes = vec![
        change(
            ChangeKind::Add,
            Who::Email("new@agency.example".into()),
            &["role-blog-writer"],
        ),
        change(
            ChangeKind::Add,
            Who::Email("two@agency.example".into()),
            &["role-blog-writer"],
        ),
        change(
            ChangeKind::Update,
            Who::PlatformId("acct-a".into()),
            &["role-website-manager"],
        ),
        change(ChangeKind::Remove, Who::PlatformId("acct-b".into()), &[]),
    ];
    let journal = Recorder::default();
    let outcomes = s.provider.apply(&s.target, &changes, &journal).await;
    assert_eq!(outcomes, vec![Outcome::Done; 4]);
    let heard = journal.heard();
    // Both invites share a role set: one batch, told before it is sent.
    assert_eq!(heard[0], Heard::Intend(vec![0, 1]));
    assert_eq!(
        s.bulk_invites().await,
        1,
        "one Bulk Invite for one role set"
    );
    for (k, h) in heard[1..3].iter().enumerate() {
        match h {
            Heard::Settled(i, Outcome::Done, Some(id)) => {
                assert_eq!(*i, k);
                assert!(!id.is_empty(), "the invite's id comes back as its receipt");
            }
            other => panic!("expected a sent invite with its id, heard {other:?}"),
        }
    }
    assert_eq!(heard[3], Heard::Settled(2, Outcome::Done, None));
    assert_eq!(heard[4], Heard::Settled(3, Outcome::Done, None));
    assert_eq!(
        s.accounts().await,
        vec![(
            "acct-a".to_string(),
            vec!["role-website-manager".to_string()]
        )]
    );
}

#[tokio::test]
async fn a_failed_call_stops_the_site_and_skips_the_rest() {
    let s = site().await;
    let changes = vec![
        change(
            ChangeKind::Update,
            Who::PlatformId("acct-nobody".into()),
            &["role-blog-writer"],
        ),
        change(ChangeKind::Remove, Who::PlatformId("acct-b".into()), &[]),
        change(
            ChangeKind::Add,
            Who::Email("new@agency.example".into()),
            &["role-blog-writer"],
        ),
    ];
    let journal = Recorder::default();
    let outcomes = s.provider.apply(&s.target, &changes, &journal).await;
    assert!(matches!(&outcomes[0], Outcome::Failed(_)), "{outcomes:?}");
    for o in &outcomes[1..] {
        match o {
            Outcome::Skipped(why) => assert!(why.starts_with("an earlier change failed"), "{why}"),
            other => panic!("expected skipped, got {other:?}"),
        }
    }
    assert_eq!(s.bulk_invites().await, 0, "nothing sent after the failure");
    assert_eq!(s.accounts().await.len(), 2, "acct-b is still there");
    assert!(
        !journal
            .heard()
            .iter()
            .any(|h| matches!(h, Heard::Intend(_))),
        "a skipped invite is never announced"
    );
}

#[tokio::test]
async fn an_invite_whose_intent_cannot_be_recorded_is_never_sent() {
    let s = site().await;
    let changes = vec![
        change(
            ChangeKind::Add,
            Who::Email("new@agency.example".into()),
            &["role-blog-writer"],
        ),
        change(ChangeKind::Remove, Who::PlatformId("acct-b".into()), &[]),
    ];
    let journal = Recorder {
        refuse_intent: true,
        ..Recorder::default()
    };
    let outcomes = s.provider.apply(&s.target, &changes, &journal).await;
    assert_eq!(
        outcomes,
        vec![
            Outcome::Failed("not sent: disk full".to_string()),
            Outcome::Skipped("disk full".to_string()),
        ]
    );
    assert_eq!(s.bulk_invites().await, 0);
    assert_eq!(s.accounts().await.len(), 2);
}

#[tokio::test]
async fn a_journal_that_cannot_record_stops_the_site_after_that_call() {
    let s = site().await;
    let changes = vec![
        change(
            ChangeKind::Update,
            Who::PlatformId("acct-a".into()),
            &["role-blog-writer"],
        ),
        change(ChangeKind::Remove, Who::PlatformId("acct-b".into()), &[]),
    ];
    let journal = Recorder {
        refuse_after: Some(1),
        ..Recorder::default()
    };
    let outcomes = s.provider.apply(&s.target, &changes, &journal).await;
    assert_eq!(
        outcomes,
        vec![
            Outcome::Done,
            Outcome::Skipped("cannot write the ledger".to_string()),
        ]
    );
    // Every outcome, the skipped one too, is told to the journal.
    assert_eq!(journal.heard().len(), 2);
    let accounts = s.accounts().await;
    assert_eq!(accounts.len(), 2, "acct-b was not removed: {accounts:?}");
}

#[tokio::test]
async fn an_invite_revoked_by_email_needs_its_id() {
    let s = site().await;
    let mut revoke = change(
        ChangeKind::Remove,
        Who::Email("gone@agency.example".into()),
        &[],
    );
    revoke.handle = None;
    let journal = Recorder::default();
    let outcomes = s.provider.apply(&s.target, &[revoke], &journal).await;
    assert_eq!(
        outcomes,
        vec![Outcome::Failed("no invite id recorded".to_string())]
    );
    assert!(s.log().await.iter().all(|e| e["method"] != "DELETE"));
}
