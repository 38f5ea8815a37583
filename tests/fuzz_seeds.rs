//! The ledger fuzz target's seed corpus (`fuzz/seeds/ledger/`) is valid:
//! every file decodes as the target decodes it (site and site id read from
//! the file), reads back the same once written, and together the files hold
//! every kind of record — so fuzzing starts from ledgers that get past the
//! parser, not from inputs it refuses at the first line.

use std::collections::BTreeSet;
use std::path::Path;

use accessctl::ledger::{self, Auth, SiteLedger};

/// As in `fuzz/fuzz_targets/ledger.rs`.
fn top_level<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(key)?.strip_prefix(':')?.trim();
        Some(value.trim_matches(|c| c == '"' || c == '\''))
    })
}

fn seeds() -> Vec<(String, SiteLedger)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/ledger");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("fuzz/seeds/ledger") {
        let path = entry.expect("entry").path();
        let name = path.display().to_string();
        let text = std::fs::read_to_string(&path).expect("seed");
        let site = top_level(&text, "site").expect("a site line");
        let site_id = top_level(&text, "site_id").expect("a site_id line");
        let parsed = ledger::parse(&path, text.as_bytes(), site, site_id)
            .unwrap_or_else(|r| panic!("{name} does not decode:\n{}", r.render()));
        let written = ledger::to_yaml(&parsed, &Auth::Off).expect("written");
        let again = ledger::parse(&path, written.as_bytes(), site, site_id)
            .unwrap_or_else(|r| panic!("{name} written back does not decode:\n{}", r.render()));
        assert_eq!(again, parsed, "{name} reads back differently:\n{written}");
        out.push((name, parsed));
    }
    out
}

#[test]
fn seed_ledgers_decode_and_hold_every_kind_of_record() {
    let seeds = seeds();
    assert!(seeds.len() >= 5, "{} seeds", seeds.len());
    let mut kinds = BTreeSet::new();
    for (_, l) in &seeds {
        for i in &l.invites {
            kinds.insert(format!("invite {:?}", i.state));
            if i.sig.is_some() {
                kinds.insert("signed invite".into());
            }
        }
        for i in &l.identities {
            kinds.insert(format!("identity {:?}", i.source));
            if i.sig.is_some() {
                kinds.insert("signed identity".into());
            }
        }
        for g in &l.granted {
            kinds.insert(
                if g.sig.is_some() {
                    "granted, signed"
                } else {
                    "granted, plain"
                }
                .into(),
            );
        }
        for r in &l.requests {
            kinds.insert(format!("request {:?}", r.state));
            if !r.reminders.is_empty() {
                kinds.insert("reminder".into());
            }
        }
        if !l.granted_by_owner.is_empty() {
            kinds.insert("granted by owner".into());
        }
    }
    let expected = [
        "invite Pending",
        "invite Accepted",
        "invite Revoked",
        "invite Failed",
        "invite Unknown",
        "signed invite",
        "identity Config",
        "identity InviteMatch",
        "identity Manual",
        "identity Import",
        "signed identity",
        "granted, plain",
        "granted, signed",
        "request Open",
        "request Done",
        "request Superseded",
        "reminder",
        "granted by owner",
    ];
    let missing: Vec<&str> = expected
        .into_iter()
        .filter(|k| !kinds.contains(*k))
        .collect();
    assert!(
        missing.is_empty(),
        "no seed holds {missing:?}; found {kinds:?}"
    );
}
