//! The ledger: what accessctl did and learned that Wix will not tell it again.
//!
//! Wix cannot list pending invites nor say which account accepted one, so the
//! tool records every invite it sends, every email ↔ account link it learns,
//! and every account it granted. One plain YAML file per site, in the ledger
//! directory beside the config, meant to be committed. Files are written
//! atomically (temp file, fsync, rename) after every successful change, so an
//! interrupted apply loses nothing it did. Loading a corrupt or hand-edited
//! file gives a located diagnostic, never a panic.
//!
//! Request mode adds the access requests sent to site owners and the grants
//! marked as done by hand ([`requests`]).
//!
//! This module only stores and reads; deciding what a record means is the plan
//! engine's job.

mod requests;

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::diag::{Diagnostic, Report};
use crate::model::Pos;

pub use requests::{OwnerGrant, ReminderRecord, RequestRecord, RequestState, RequestedGrant};

/// Wix invites expire 30 days after they are sent.
pub const INVITE_LIFETIME_DAYS: i64 = 30;

pub const LEDGER_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteLedger {
    pub version: u32,
    pub site: String,
    pub site_id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub invites: Vec<InviteRecord>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identities: Vec<Identity>,
    /// Accounts this tool granted access to; removed when no longer desired.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub granted: Vec<String>,
    /// Access requests sent to the site's owner (request mode).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<RequestRecord>,
    /// Grants a person confirmed the owner made (`accessctl request done`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub granted_by_owner: Vec<OwnerGrant>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InviteState {
    /// Sent; nobody has been seen accepting it yet.
    Pending,
    /// A contributor was linked to it.
    Accepted,
    /// Revoked by this tool.
    Revoked,
    /// Wix refused the email (`failedEmails`).
    Failed,
    /// The Bulk Invite call's outcome is unknown (timeout or reset after
    /// sending). Never re-sent without a person's decision.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InviteRecord {
    /// Wix's invite id; absent when the outcome is unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub email: String,
    pub role_ids: Vec<String>,
    pub role_titles: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub sent_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub state: InviteState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// Collaborators the site already had when the invite was sent; none of
    /// them can be the person who accepts it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub existing_accounts: Vec<String>,
}

impl InviteRecord {
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        now >= self.expires_at
    }

    /// Pending and not yet expired: Wix still holds it open.
    pub fn is_outstanding(&self, now: OffsetDateTime) -> bool {
        self.state == InviteState::Pending && !self.is_expired(now)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdentitySource {
    /// The config names the account id.
    Config,
    /// A new contributor matched exactly one outstanding invite.
    InviteMatch,
    /// A person linked them with `accessctl link`.
    Manual,
    /// Recorded by `accessctl import`.
    Import,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    pub email: String,
    pub account_id: String,
    pub source: IdentitySource,
    #[serde(with = "time::serde::rfc3339")]
    pub learned_at: OffsetDateTime,
}

impl SiteLedger {
    pub fn new(site: &str, site_id: &str) -> Self {
        SiteLedger {
            version: LEDGER_VERSION,
            site: site.to_string(),
            site_id: site_id.to_string(),
            invites: Vec::new(),
            identities: Vec::new(),
            granted: Vec::new(),
            requests: Vec::new(),
            granted_by_owner: Vec::new(),
        }
    }

    /// The request still waiting for the owner, if any.
    pub fn open_request(&self) -> Option<&RequestRecord> {
        self.requests
            .iter()
            .rev()
            .find(|r| r.state == RequestState::Open)
    }

    pub fn open_request_mut(&mut self) -> Option<&mut RequestRecord> {
        self.requests
            .iter_mut()
            .rev()
            .find(|r| r.state == RequestState::Open)
    }

    /// The most recent invite record for an email, if any.
    pub fn latest_invite(&self, email: &str) -> Option<&InviteRecord> {
        self.invites.iter().rev().find(|i| i.email == email)
    }

    pub fn latest_invite_mut(&mut self, email: &str) -> Option<&mut InviteRecord> {
        self.invites.iter_mut().rev().find(|i| i.email == email)
    }

    pub fn account_for(&self, email: &str) -> Option<&str> {
        self.identities
            .iter()
            .rev()
            .find(|i| i.email == email)
            .map(|i| i.account_id.as_str())
    }

    pub fn email_for(&self, account_id: &str) -> Option<&str> {
        self.identities
            .iter()
            .rev()
            .find(|i| i.account_id == account_id)
            .map(|i| i.email.as_str())
    }

    /// Record an identity, replacing any earlier link of the same email or account.
    pub fn learn(&mut self, identity: Identity) {
        self.identities
            .retain(|i| i.email != identity.email && i.account_id != identity.account_id);
        self.identities.push(identity);
        self.identities.sort_by(|a, b| a.email.cmp(&b.email));
    }

    pub fn mark_granted(&mut self, account_id: &str) {
        if !self.granted.iter().any(|a| a == account_id) {
            self.granted.push(account_id.to_string());
            self.granted.sort();
        }
    }

    pub fn forget_granted(&mut self, account_id: &str) {
        self.granted.retain(|a| a != account_id);
    }
}

/// Where the ledger file of a site lives.
pub fn path_for(dir: &Path, site: &str) -> PathBuf {
    dir.join(format!("{site}.yaml"))
}

/// Load a site's ledger; a missing file is an empty ledger.
pub fn load(dir: &Path, site: &str, site_id: &str) -> Result<SiteLedger, Report> {
    let path = path_for(dir, site);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(SiteLedger::new(site, site_id));
        }
        Err(e) => {
            return Err(single(Diagnostic::error(
                &path,
                None,
                format!("cannot read the ledger: {e}"),
            )));
        }
    };
    parse(&path, &bytes, site, site_id)
}

/// Parse ledger bytes; `path` is used in messages.
pub fn parse(path: &Path, bytes: &[u8], site: &str, site_id: &str) -> Result<SiteLedger, Report> {
    let hint = "the ledger is written by accessctl; fix the file by hand, or restore it from git (`git checkout -- <file>`)";
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let pos = pos_of_offset(bytes, e.valid_up_to());
            return Err(single(
                Diagnostic::error(path, Some(pos), "the ledger is not valid UTF-8").with_hint(hint),
            ));
        }
    };
    if text.trim().is_empty() {
        return Err(single(
            Diagnostic::error(path, Some(Pos { line: 1, col: 1 }), "the ledger file is empty")
                .with_hint("delete the file to start from an empty ledger, or restore it from git (`git checkout -- <file>`)"),
        ));
    }
    let ledger: SiteLedger = match serde_saphyr::from_str(text) {
        Ok(l) => l,
        Err(e) => {
            let pos = e.location().map(|l| Pos {
                line: usize::try_from(l.line()).unwrap_or(usize::MAX),
                col: usize::try_from(l.column()).unwrap_or(usize::MAX).max(1),
            });
            let message = ledger_message(&e);
            let mut report = single(
                Diagnostic::error(path, pos, format!("invalid ledger: {message}")).with_hint(hint),
            );
            report.source = Some(text.to_string());
            return Err(report);
        }
    };
    let mut problems = Vec::new();
    if ledger.version != LEDGER_VERSION {
        problems.push((
            "version",
            format!(
                "unsupported ledger version {} (this accessctl reads version {LEDGER_VERSION})",
                ledger.version
            ),
        ));
    }
    if ledger.site != site {
        problems.push((
            "site",
            format!("the ledger belongs to site `{}`, not `{site}`", ledger.site),
        ));
    }
    if ledger.site_id != site_id {
        problems.push((
            "site_id",
            format!(
                "the ledger was written for site id `{}`, but the config says `{site_id}`",
                ledger.site_id
            ),
        ));
    }
    if problems.is_empty() {
        return Ok(ledger);
    }
    let diagnostics = problems
        .into_iter()
        .map(|(key, p)| {
            Diagnostic::error(path, Some(key_pos(text, key)), p).with_hint(
                "if the site moved, move or delete this ledger file; otherwise restore it from git",
            )
        })
        .collect();
    Err(Report {
        diagnostics,
        source: Some(text.to_string()),
    })
}

/// Write atomically: temp file in the same directory, fsync, rename, fsync dir.
///
/// On any error the temp file is removed again: the ledger directory is
/// committed (the example workflow commits it whole), so a leftover would
/// end up in git.
pub fn save(dir: &Path, ledger: &SiteLedger) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    let path = path_for(dir, &ledger.site);
    let text = to_yaml(ledger).map_err(std::io::Error::other)?;
    let tmp = dir.join(format!(".{}.yaml.tmp-{}", ledger.site, std::process::id()));
    let written = write_synced(&tmp, text.as_bytes()).and_then(|()| fs::rename(&tmp, &path));
    if let Err(e) = written {
        // `remove_file` never removes a directory, so a directory someone
        // put at the temp name stays; anything we created goes.
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    // Make the rename itself durable.
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Create (or truncate) `path`, write `bytes` and fsync.
fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

pub fn to_yaml(ledger: &SiteLedger) -> Result<String, String> {
    let body = serde_saphyr::to_string(ledger).map_err(|e| e.to_string())?;
    Ok(format!(
        "# accessctl ledger for site `{}`: written by `accessctl apply`, commit it with the config.\n{body}",
        ledger.site
    ))
}

fn single(d: Diagnostic) -> Report {
    Report {
        diagnostics: vec![d],
        source: None,
    }
}

/// serde-saphyr's message without its own location prefix (the diagnostic
/// carries the location), in words for the cases people meet.
fn ledger_message(e: &serde_saphyr::Error) -> String {
    use serde_saphyr::MessageFormatter as _;
    let mut inner = e;
    while let serde_saphyr::Error::AliasError { error, .. }
    | serde_saphyr::Error::WithSnippet { error, .. } = inner
    {
        inner = error;
    }
    if matches!(inner, serde_saphyr::Error::Budget { .. }) {
        return "the file is too large or too deeply nested to be a ledger".to_string();
    }
    let text = serde_saphyr::DefaultMessageFormatter.format_message(inner);
    let text = first_line(&text);
    if text.contains("component") || text.contains("invalid format description") {
        // time's RFC 3339 errors name a component ("the 'year' component
        // could not be parsed") but not the format.
        return format!("{text}; timestamps look like `2026-01-05T10:00:00Z`");
    }
    text
}

/// The position of a top-level `key:` line, for problems with its value.
fn key_pos(text: &str, key: &str) -> Pos {
    let prefix = format!("{key}:");
    text.lines()
        .position(|l| l.starts_with(&prefix))
        .map_or(Pos { line: 1, col: 1 }, |i| Pos {
            line: i + 1,
            col: prefix.len() + 2,
        })
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_string()
}

fn pos_of_offset(bytes: &[u8], offset: usize) -> Pos {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let col = before.iter().rev().take_while(|b| **b != b'\n').count() + 1;
    Pos { line, col }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SiteLedger {
        let t = time::macros::datetime!(2026-11-01 10:00 UTC);
        let mut l = SiteLedger::new("acme", "site-1");
        l.invites.push(InviteRecord {
            id: Some("inv-1".into()),
            email: "a@x.example".into(),
            role_ids: vec!["r1".into()],
            role_titles: vec!["Website Manager".into()],
            sent_at: t,
            expires_at: t + time::Duration::days(INVITE_LIFETIME_DAYS),
            state: InviteState::Pending,
            account_id: None,
            existing_accounts: vec!["acct-old".into()],
        });
        l.learn(Identity {
            email: "b@x.example".into(),
            account_id: "acct-b".into(),
            source: IdentitySource::Manual,
            learned_at: t,
        });
        l.mark_granted("acct-b");
        l
    }

    #[test]
    fn round_trips_through_yaml() {
        let l = sample();
        let text = to_yaml(&l).expect("serializes");
        let back = parse(Path::new("l.yaml"), text.as_bytes(), "acme", "site-1").expect("parses");
        assert_eq!(back, l);
    }

    #[test]
    fn save_then_load() {
        let dir = tempfile::tempdir().expect("tempdir");
        let l = sample();
        save(dir.path(), &l).expect("saves");
        assert_eq!(load(dir.path(), "acme", "site-1").expect("loads"), l);
        assert_eq!(
            load(dir.path(), "other", "site-2").expect("missing is empty"),
            SiteLedger::new("other", "site-2")
        );
    }

    /// Files in `dir` whose name marks them as a temp file of `save`.
    fn temp_files(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".yaml.tmp-"))
            .collect()
    }

    /// Hole 9: a failed save left an (often empty) temp file beside the
    /// ledger. The failures are made so that they happen for root too
    /// (tests run as root in CI, and root ignores permission bits).
    #[test]
    fn failed_save_leaves_no_temp_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let l = sample();
        save(dir.path(), &l).expect("first save");
        let before = fs::read(path_for(dir.path(), "acme")).expect("read");

        // Write error: the temp name is a link to /dev/full, so creating it
        // succeeds and writing fails with "no space left on device".
        let tmp = dir
            .path()
            .join(format!(".acme.yaml.tmp-{}", std::process::id()));
        std::os::unix::fs::symlink("/dev/full", &tmp).expect("symlink");
        let err = save(dir.path(), &l).expect_err("writing to /dev/full fails");
        assert_eq!(err.kind(), std::io::ErrorKind::StorageFull, "{err}");
        assert_eq!(temp_files(dir.path()), Vec::<String>::new());
        assert_eq!(
            fs::read(path_for(dir.path(), "acme")).expect("read"),
            before
        );

        // Rename error: a directory stands where the ledger goes.
        let other = SiteLedger::new("other", "site-2");
        fs::create_dir(path_for(dir.path(), "other")).expect("mkdir");
        let err = save(dir.path(), &other).expect_err("renaming over a directory fails");
        assert!(
            err.to_string().to_lowercase().contains("directory"),
            "{err}"
        );
        assert_eq!(temp_files(dir.path()), Vec::<String>::new());
    }

    #[test]
    fn corrupt_ledger_is_located() {
        let text = "version: 1\nsite: acme\nsite_id: site-1\ninvites:\n  - email: [oops\n";
        let err = parse(Path::new("l.yaml"), text.as_bytes(), "acme", "site-1").unwrap_err();
        let d = &err.diagnostics[0];
        assert!(d.pos.is_some(), "{d:?}");
        assert!(d.render(err.source.as_deref()).contains("l.yaml:"));
    }

    #[test]
    fn wrong_site_is_reported() {
        let text = to_yaml(&sample()).expect("serializes");
        let err = parse(Path::new("l.yaml"), text.as_bytes(), "acme", "site-9").unwrap_err();
        assert!(err.diagnostics[0].message.contains("site-9"));
    }
}
