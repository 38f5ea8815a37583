//! Crashes lose nothing.
//!
//! `killed_applies_converge_without_duplicate_invites`: 20 rounds, each an
//! apply SIGKILLed at a random point — after a random number of Wix
//! requests plus a random few milliseconds (so the kill lands between
//! calls or inside one), or after a random delay — chosen from a seed the
//! test prints first (`ACCESSCTL_CRASH_SEED=N` runs the same rounds again).
//! Each round's config is drawn from the seed too: which role each invitee
//! gets on each site. A round counts as a kill that landed only if the
//! process was still running when the signal arrived (it died of SIGKILL);
//! at least 15 of 20 must, and 8 of them after the apply's first write.
//! When a loaded machine lets fewer land (a signal delivered late, the
//! last writes quick), more rounds are drawn from the same seed, four at a
//! time up to 40, until as many have: every one of them must converge too.
//! Every round is checked against the emulator, not
//! against accessctl's own plan: every ledger file parses on its own after
//! the kill and after every apply; every apply's exit status is checked
//! (the first apply after the kill must succeed); no email holds two live
//! invites for one grant (every invite the emulator ever made, replaced
//! ones included, and every Bulk Invite it acted on in its log); and the
//! live state at the end is the desired state worked out here from the
//! config and the seed. Invites whose outcome the kill made unknown are
//! settled as a person would (looking at the site). Rounds run two at a
//! time, each with its own emulator.
//!
//! The failpoint tests stop the binary at an exact step instead
//! (`ACCESSCTL_FAILPOINT`, `src/failpoint.rs`; the process aborts, as a
//! crash would):
//!
//! - `after-invite-call`: the ledger holds the invited emails as `unknown`
//!   (the intent is written before the Bulk Invite), the next plan reports
//!   them for settling, and no apply sends them again. Verified to fail
//!   when the save before the call is removed.
//! - `after-intent-save`: nothing was sent, the ledger says `unknown`, and
//!   the invite goes out once after a person settles it as not sent.
//! - `mid-ledger-write`: a ledger that existed is the previous complete
//!   file afterwards, and the temp file the write left is removed by the
//!   next apply. Verified to fail when the save writes the ledger in place
//!   instead of a temp file and a rename.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;
use std::time::{Duration, Instant};

use accessctl::ledger::InviteState;
use common::{Harness, Live, settle_unknown, stderr, stdout};
use serde_json::Value;

const SITES: usize = 4;
const ROUNDS: usize = 20;
/// Most rounds drawn when a loaded machine lets too few kills land.
const MAX_ROUNDS: usize = 40;
/// Kills that must land while the apply is running.
const MIN_LANDED: usize = 15;
const SIGKILL: i32 = 9;
const SIGABRT: i32 = 6;
/// Of those, kills that must land once the apply has begun writing.
const MIN_MID_WRITES: usize = 8;
const INVITEES: [&str; 6] = ["ann", "cat", "dee", "eve", "fay", "gil"];
/// Roles an invitee may be given (three role sets: up to three Bulk
/// Invites per site).
const ROLES: [&str; 3] = ["Blog Writer", "Marketing Manager", "Blog Editor"];

/// SplitMix64: the kill points and configs of a run come from one seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo).max(1)
    }
}

fn role_id(title: &str) -> String {
    format!("role-{}", title.to_lowercase().replace(' ', "-"))
}

fn seed() -> String {
    let mut s = String::from("accounts:\n");
    for i in 0..SITES {
        s.push_str(&format!("  - {{ id: acc-{i}, api_keys: [key-{i}] }}\n"));
    }
    s.push_str("sites:\n");
    for i in 0..SITES {
        s.push_str(&format!(
            "  - id: site-{i}\n    account: acc-{i}\n    contributors:\n      - {{ account_id: acct-bob, roles: [Blog Editor] }}\n      - {{ account_id: acct-old, roles: [Website Designer] }}\n"
        ));
    }
    s
}

/// Per site, the role each invitee gets.
type Grants = Vec<Vec<&'static str>>;

fn draw_grants(rng: &mut Rng) -> Grants {
    (0..SITES)
        .map(|_| {
            INVITEES
                .iter()
                .map(|_| ROLES[rng.range(0, ROLES.len() as u64) as usize])
                .collect()
        })
        .collect()
}

fn config(grants: &Grants) -> String {
    let mut s = String::from(
        "version: 2\npeople:\n  bob: { email: bob@agency.example, wix_account_id: acct-bob }\n",
    );
    for p in INVITEES {
        s.push_str(&format!("  {p}: {{ email: {p}@agency.example }}\n"));
    }
    s.push_str("sites:\n");
    for (i, roles) in grants.iter().enumerate() {
        s.push_str(&format!(
            "  site{i}:\n    wix: {{ site_id: site-{i}, account_id: acc-{i}, api_key_env: KEY_{i} }}\n    unmanaged: remove\n    access:\n      - person: bob\n        role: Website Manager\n"
        ));
        for (p, role) in INVITEES.iter().zip(roles) {
            s.push_str(&format!("      - person: {p}\n        role: {role}\n"));
        }
    }
    s
}

fn keys() -> Vec<(String, String)> {
    (0..SITES)
        .map(|i| (format!("KEY_{i}"), format!("key-{i}")))
        .collect()
}

/// What the sites must look like, from the config and the seed alone:
/// bob (a known account) holds Website Manager, the seeded `acct-old` is
/// gone (`unmanaged: remove`), and every invitee has one pending invite
/// with their role.
fn desired_state(grants: &Grants) -> Live {
    grants
        .iter()
        .enumerate()
        .map(|(i, roles)| {
            let contributors =
                BTreeMap::from([("acct-bob".to_string(), vec![role_id("Website Manager")])]);
            let pending = INVITEES
                .iter()
                .zip(roles)
                .map(|(p, role)| (format!("{p}@agency.example"), vec![role_id(role)]))
                .collect();
            (format!("site-{i}"), (contributors, pending))
        })
        .collect()
}

/// Every site ledger file parses on its own, as `plan` would read it.
fn assert_ledgers_parse(dir: &Path, when: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("entry").path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(i) = name
            .strip_prefix("site")
            .and_then(|n| n.strip_suffix(".yaml"))
        else {
            continue;
        };
        let bytes = std::fs::read(&path).expect("read ledger");
        if let Err(report) =
            accessctl::ledger::parse(&path, &bytes, &format!("site{i}"), &format!("site-{i}"))
        {
            panic!(
                "{when}: {} does not parse:\n{}",
                path.display(),
                report.render()
            );
        }
    }
}

/// Files a save left behind (`.NAME.yaml.tmp-PID`).
fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.contains(".yaml.tmp-"))
        .collect()
}

fn writes(log: &[Value]) -> usize {
    log.iter().filter(|e| e["method"] != "GET").count()
}

/// When a round's apply is killed.
#[derive(Debug, Clone, Copy)]
enum KillAt {
    /// Once Wix has answered this many requests (reads included), then
    /// this many more ms.
    Requests(usize, u64),
    /// Once Wix has answered this many write calls, then this many more ms
    /// (so the kill lands between writes or inside the next one).
    Writes(usize, u64),
    /// This many ms after the start.
    Millis(u64),
}

/// Requests a full apply of this scenario makes: per site 16 reads (the
/// unfiltered query, 14 role queries, the account's roles) and up to 5
/// writes (three Bulk Invites, a role change, a removal).
const FULL_APPLY_REQUESTS: u64 = SITES as u64 * 21;

/// Half the rounds are killed among the writes, where there is something
/// to lose; a quarter anywhere by request count; a quarter after a delay.
fn draw_kill(round: usize, rng: &mut Rng, grants: &Grants) -> KillAt {
    match round % 4 {
        0 => KillAt::Requests(rng.range(1, FULL_APPLY_REQUESTS) as usize, rng.range(0, 6)),
        // A full apply here takes about half a second; some of these may
        // outlast it, and then the round does not count as a kill that
        // landed.
        1 => KillAt::Millis(rng.range(0, 450)),
        // At least one write answered; the last write or two are often in
        // flight together when the count is seen: stop short of them so the
        // kill lands.
        _ => KillAt::Writes(
            rng.range(1, total_writes(grants) as u64 - 2) as usize,
            rng.range(0, 4),
        ),
    }
}

/// Write calls a full apply makes: per site a Bulk Invite per role set, a
/// role change (bob) and a removal (`acct-old`).
fn total_writes(grants: &Grants) -> usize {
    grants
        .iter()
        .map(|g| g.iter().collect::<BTreeSet<_>>().len() + 2)
        .sum()
}

struct RoundResult {
    /// The process was running when SIGKILL arrived.
    landed: bool,
    /// It landed after the first write call reached Wix.
    mid_writes: bool,
}

fn run_checked(h: &Harness, round: usize, what: &str) {
    let out = h.apply();
    assert!(
        out.status.success(),
        "round {round}: {what} exited {:?}:\n{}\n{}",
        out.status,
        stdout(&out),
        stderr(&out)
    );
    assert_ledgers_parse(&h.ledger_dir(), &format!("round {round}: after {what}"));
}

/// Kill an apply at `kill`, recover with normal applies, check everything.
fn round(round: usize, kill: KillAt, grants: &Grants) -> RoundResult {
    let keys = keys();
    let key_refs: Vec<(&str, &str)> = keys.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let h = Harness::new(&seed(), &config(grants), &key_refs);
    // Slow every Wix call a little, and the writes a little more, so a
    // kill can land inside a call.
    h.set_faults(serde_json::json!({ "rules": [
        { "endpoint": "*", "latencyMs": 5 },
        { "endpoint": "bulkInvite", "latencyMs": 10 },
        { "endpoint": "changeRole", "latencyMs": 10 },
        { "endpoint": "removeContributor", "latencyMs": 10 }
    ] }));

    let started = Instant::now();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("accessctl"))
        .current_dir(h.dir.path())
        .env_remove("ACCESSCTL_FAILPOINT")
        .envs(h.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .args([
            "-c",
            &h.config_path().to_string_lossy(),
            "apply",
            "--auto-approve",
            "--parallelism",
            "2",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn apply");
    let deadline = started + Duration::from_secs(20);
    loop {
        let due = match kill {
            KillAt::Requests(n, _) => h.log().len() >= n,
            KillAt::Writes(n, _) => writes(&h.log()) >= n,
            KillAt::Millis(ms) => started.elapsed() >= Duration::from_millis(ms),
        };
        let finished = child.try_wait().ok().flatten().is_some();
        if due || finished || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    if let KillAt::Requests(_, extra) | KillAt::Writes(_, extra) = kill {
        std::thread::sleep(Duration::from_millis(extra));
    }
    let _ = child.kill(); // SIGKILL; an error means it had already ended
    let status = child.wait().expect("wait");
    let landed = status.signal() == Some(SIGKILL);
    if !landed {
        assert!(
            status.success(),
            "round {round}: the apply ended on its own with {status:?}"
        );
    }
    // A request the kill cut short may still be running in the emulator.
    h.quiesce(Duration::from_secs(5));
    let log = h.log();
    let written = writes(&log);
    let total_writes = total_writes(grants);
    let mid_writes = landed && written > 0;
    eprintln!(
        "round {round}: kill at {kill:?}: {} ({written} of {total_writes} writes, {} requests)",
        if landed {
            "landed"
        } else {
            "after the apply ended"
        },
        log.len()
    );
    assert_ledgers_parse(&h.ledger_dir(), &format!("round {round}: after the kill"));
    h.assert_no_duplicate_invites(&format!("round {round}: after the kill"));

    // The first apply after the kill must succeed: an `unknown` invite is
    // a warning to settle, never a failure nor a reason to send again.
    run_checked(&h, round, "the first apply after the kill");
    let plan = h.plan();
    if plan
        .sites
        .iter()
        .any(|s| s.warnings.iter().any(|w| w.contains("unknown outcome")))
    {
        settle_unknown(&h, &plan);
        assert_ledgers_parse(&h.ledger_dir(), &format!("round {round}: after settling"));
        run_checked(&h, round, "the apply after settling");
    }
    assert_eq!(
        temp_files(&h.ledger_dir()),
        Vec::<String>::new(),
        "round {round}"
    );

    // Wix's side, not accessctl's: no email invited twice for one grant…
    h.assert_no_duplicate_invites(&format!("round {round}"));
    let invited = h.invited();
    let unique: BTreeSet<_> = invited.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        invited.len(),
        "round {round}: a Bulk Invite named an email twice for one grant: {invited:?}"
    );
    // …and the sites are exactly as the config says.
    assert_eq!(h.live_state(), desired_state(grants), "round {round}");
    // accessctl agrees there is nothing left to do.
    assert_eq!(h.plan().change_count(), 0, "round {round}: not converged");
    RoundResult { landed, mid_writes }
}

/// `rounds`, two at a time: each has its own emulator and directory.
fn run_rounds(rounds: &[(usize, KillAt, Grants)]) -> Vec<RoundResult> {
    std::thread::scope(|scope| {
        let (even, odd): (Vec<_>, Vec<_>) = rounds.iter().partition(|(i, _, _)| i % 2 == 0);
        let workers: Vec<_> = [even, odd]
            .into_iter()
            .map(|rounds| {
                scope.spawn(move || {
                    rounds
                        .into_iter()
                        .map(|(i, kill, grants)| round(*i, *kill, grants))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("rounds pass"))
            .collect()
    })
}

#[test]
fn killed_applies_converge_without_duplicate_invites() {
    let seed = std::env::var("ACCESSCTL_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or_else(|| {
            // A fresh random seed from the OS (not the clock, which the date
            // guard keeps tests from reading).
            use std::hash::{BuildHasher as _, Hasher as _};
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish()
        });
    eprintln!("crash seed {seed} (ACCESSCTL_CRASH_SEED={seed} runs these rounds again)");
    let mut rng = Rng(seed);
    let mut draw = |rounds: std::ops::Range<usize>| -> Vec<(usize, KillAt, Grants)> {
        rounds
            .map(|i| {
                let grants = draw_grants(&mut rng);
                (i, draw_kill(i, &mut rng, &grants), grants)
            })
            .collect()
    };
    let mut results = run_rounds(&draw(0..ROUNDS));
    let count = |results: &[RoundResult]| {
        (
            results.iter().filter(|r| r.landed).count(),
            results.iter().filter(|r| r.mid_writes).count(),
        )
    };
    // On a loaded machine more kills arrive after the apply has ended (a
    // signal is delivered late, the apply's last writes are quick): more
    // rounds, from the same seed, until enough have landed. Every round
    // must converge, however many there are.
    let mut drawn = ROUNDS;
    while drawn < MAX_ROUNDS && {
        let (landed, mid_writes) = count(&results);
        landed < MIN_LANDED || mid_writes < MIN_MID_WRITES
    } {
        results.extend(run_rounds(&draw(drawn..drawn + 4)));
        drawn += 4;
    }
    let (landed, mid_writes) = count(&results);
    eprintln!(
        "crash seed {seed}: {landed} of {drawn} kills landed mid-apply ({mid_writes} after its first write)"
    );
    // The kills must really interrupt applies, or this test proves nothing.
    assert!(
        landed >= MIN_LANDED,
        "crash seed {seed}: only {landed} of {drawn} kills landed mid-apply"
    );
    assert!(
        mid_writes >= MIN_MID_WRITES,
        "crash seed {seed}: only {mid_writes} kills landed among the writes"
    );
}

// ------------------------------------------------------------ failpoints

/// One site, bob known, and `invitees` invited with one role (one Bulk
/// Invite).
fn small_config(invitees: &[&str]) -> String {
    let mut s = String::from(
        "version: 2\npeople:\n  bob: { email: bob@agency.example, wix_account_id: acct-bob }\n",
    );
    for p in INVITEES {
        s.push_str(&format!("  {p}: {{ email: {p}@agency.example }}\n"));
    }
    s.push_str("sites:\n  site0:\n    wix: { site_id: site-0, account_id: acc-0, api_key_env: KEY_0 }\n    access:\n      - person: bob\n        role: Blog Editor\n");
    for p in invitees {
        s.push_str(&format!("      - person: {p}\n        role: Blog Writer\n"));
    }
    s
}

fn small_harness(invitees: &[&str]) -> Harness {
    Harness::new(
        "accounts:\n  - { id: acc-0, api_keys: [key-0] }\nsites:\n  - id: site-0\n    account: acc-0\n    contributors:\n      - { account_id: acct-bob, roles: [Blog Editor] }\n",
        &small_config(invitees),
        &[("KEY_0", "key-0")],
    )
}

/// `apply` with the failpoint set; it must die of SIGABRT.
fn apply_crashing_at(h: &Harness, point: &str) {
    let out = h
        .cmd(&["apply", "--auto-approve"])
        .env("ACCESSCTL_FAILPOINT", point)
        .output()
        .expect("runs");
    assert_eq!(
        out.status.signal(),
        Some(SIGABRT),
        "{point}: the apply did not stop there ({:?}):\n{}",
        out.status,
        stderr(&out)
    );
    assert!(stderr(&out).contains(&format!("failpoint {point}")));
}

fn ledger_invites(h: &Harness) -> Vec<(String, InviteState)> {
    let path = h.ledger_dir().join("site0.yaml");
    let bytes = std::fs::read(&path).expect("the ledger exists");
    let ledger = accessctl::ledger::parse(&path, &bytes, "site0", "site-0")
        .unwrap_or_else(|r| panic!("{}", r.render()));
    ledger
        .invites
        .into_iter()
        .map(|i| (i.email, i.state))
        .collect()
}

fn unknown_warnings(plan: &accessctl::plan::Plan) -> Vec<String> {
    plan.sites
        .iter()
        .flat_map(|s| &s.warnings)
        .filter(|w| w.contains("unknown outcome"))
        .cloned()
        .collect()
}

/// The intent is written before the Bulk Invite: killed after Wix acted
/// and before the answer was saved, the ledger still holds both emails as
/// `unknown`, the plan asks a person to settle them, and nothing sends
/// them again. Checked to fail with the save before the call removed
/// (`if let Err(e) = self.save(ledger)` → `if let Err(e) = Ok::<(), String>(())`
/// in `apply::SiteRun::invite`): the ledger then has no record and the next
/// apply invites both again.
#[test]
fn killed_after_the_invite_call_the_ledger_holds_the_intent() {
    let h = small_harness(&["ann", "cat"]);
    apply_crashing_at(&h, "after-invite-call");
    // Wix acted on the call…
    assert_eq!(h.calls("POST", "/invites/site-invite/bulk"), 1);
    assert_eq!(h.invited().len(), 2);
    // …and the ledger holds what was about to be sent, as unknown.
    assert_eq!(
        ledger_invites(&h),
        [
            ("ann@agency.example".to_string(), InviteState::Unknown),
            ("cat@agency.example".to_string(), InviteState::Unknown)
        ]
    );
    let plan = h.plan();
    let warnings = unknown_warnings(&plan);
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings.iter().all(|w| w.contains("invite-status")),
        "{warnings:?}"
    );
    assert_eq!(plan.change_count(), 0, "{plan:#?}");
    // Applies send nothing for them until a person decides.
    for _ in 0..2 {
        let out = h.apply();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    assert_eq!(h.calls("POST", "/invites/site-invite/bulk"), 1);
    settle_unknown(&h, &h.plan());
    assert!(unknown_warnings(&h.plan()).is_empty());
    assert_eq!(h.plan().change_count(), 0);
    assert_eq!(h.calls("POST", "/invites/site-invite/bulk"), 1);
    h.assert_no_duplicate_invites("after-invite-call");
}

/// Killed after the intent was saved and before the call: nothing reached
/// Wix, the ledger says `unknown`, and once a person settles it as not
/// sent the next apply sends it, once.
#[test]
fn killed_before_the_invite_call_nothing_is_sent_twice() {
    let h = small_harness(&["ann"]);
    apply_crashing_at(&h, "after-intent-save");
    assert_eq!(h.calls("POST", "/invites/site-invite/bulk"), 0);
    assert_eq!(
        ledger_invites(&h),
        [("ann@agency.example".to_string(), InviteState::Unknown)]
    );
    let plan = h.plan();
    assert_eq!(unknown_warnings(&plan).len(), 1);
    assert_eq!(plan.change_count(), 0);
    settle_unknown(&h, &plan);
    let out = h.apply();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(h.calls("POST", "/invites/site-invite/bulk"), 1);
    let records = ledger_invites(&h);
    assert_eq!(
        records.last(),
        Some(&("ann@agency.example".to_string(), InviteState::Pending)),
        "{records:?}"
    );
    assert!(
        !records.iter().any(|(_, s)| *s == InviteState::Unknown),
        "{records:?}"
    );
    assert_eq!(h.plan().change_count(), 0);
    h.assert_no_duplicate_invites("after-intent-save");
}

/// Killed half-way through writing a ledger that exists: the file is the
/// previous complete version and parses; the half-written temp file is
/// removed by the next apply, which then does the work. Checked to fail
/// when `ledger::write_atomically` writes the ledger in place
/// (`write_synced(&tmp, …).and_then(|()| fs::rename(&tmp, &path))` →
/// `write_synced(&path, text.as_bytes())`): the ledger is then cut short.
#[test]
fn killed_mid_ledger_write_the_previous_ledger_is_whole() {
    let h = small_harness(&["ann"]);
    let out = h.apply();
    assert!(out.status.success(), "{}", stderr(&out));
    let path = h.ledger_dir().join("site0.yaml");
    let before = std::fs::read(&path).expect("ledger written");

    h.write_config(&small_config(&["ann", "cat"]));
    apply_crashing_at(&h, "mid-ledger-write");
    let after = std::fs::read(&path).expect("ledger still there");
    assert!(
        after == before,
        "the ledger changed:\n--- before\n{}\n--- after\n{}",
        String::from_utf8_lossy(&before),
        String::from_utf8_lossy(&after)
    );
    assert_ledgers_parse(&h.ledger_dir(), "after the crash");
    // The crash was in the write (the temp file is half of a ledger), and
    // it was the intent save: nothing was sent.
    let temps = temp_files(&h.ledger_dir());
    assert_eq!(temps.len(), 1, "{temps:?}");
    assert_eq!(h.calls("POST", "/invites/site-invite/bulk"), 1);

    // `plan` does not mind it; the next apply removes it and goes on.
    assert_eq!(h.plan().change_count(), 1);
    let out = h.apply();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(temp_files(&h.ledger_dir()), Vec::<String>::new());
    assert_eq!(
        ledger_invites(&h),
        [
            ("ann@agency.example".to_string(), InviteState::Pending),
            ("cat@agency.example".to_string(), InviteState::Pending)
        ]
    );
    assert_eq!(h.plan().change_count(), 0);
}
