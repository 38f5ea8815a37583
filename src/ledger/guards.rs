//! The safety guards in force at the last successful apply, kept in the
//! ledger directory (`_guards.yaml`) so that a pull request cannot weaken a
//! guard in the same change that needs it weakened.
//!
//! `plan::safety` takes the stricter of these and the config's guards;
//! a config that is weaker is a *safety change*, refused until a maintainer
//! passes `--allow-safety-change`. The record is signed like the ledger's
//! records ([`Auth`]). Editing it can only make guards stricter, since the
//! stricter of both is in force; deleting it is the one way to drop it, so
//! when ledgers are authenticated a missing record beside existing ledger
//! files counts as a safety change too. The file name starts with `_`,
//! which no site key can, so it never collides with a site's ledger.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::Auth;
use crate::confine::{FollowLinks, Refusal};
use crate::model::Safety;

pub const GUARDS_FILE: &str = "_guards.yaml";

/// The guards as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardRecord {
    pub version: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub recorded_at: OffsetDateTime,
    #[serde(default)]
    pub max_removals_per_site: Option<u32>,
    #[serde(default)]
    pub max_removals_total: Option<u32>,
    #[serde(default)]
    pub max_removal_percent: Option<u8>,
    #[serde(default)]
    pub protect: Vec<String>,
    #[serde(default, rename = "self")]
    pub self_person: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sig: Option<String>,
}

impl GuardRecord {
    /// The same guards, whenever and however signed.
    pub fn same_guards(&self, other: &GuardRecord) -> bool {
        let bare = |r: &GuardRecord| GuardRecord {
            recorded_at: OffsetDateTime::UNIX_EPOCH,
            sig: None,
            ..r.clone()
        };
        bare(self) == bare(other)
    }

    pub fn of(safety: &Safety, now: OffsetDateTime) -> Self {
        let mut protect = safety.protect.clone();
        protect.sort();
        protect.dedup();
        GuardRecord {
            version: 1,
            recorded_at: now,
            max_removals_per_site: safety.max_removals_per_site,
            max_removals_total: safety.max_removals_total,
            max_removal_percent: safety.max_removal_percent,
            protect,
            self_person: safety.self_person.clone(),
            sig: None,
        }
    }
}

/// What the ledger directory says about the guards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// No apply has recorded guards yet.
    None,
    /// Ledger files exist and are authenticated, but the record is gone.
    Missing,
    /// The record, and whether its signature verified (always false
    /// without a key).
    Found { record: GuardRecord, verified: bool },
}

pub fn path(dir: &Path) -> PathBuf {
    dir.join(GUARDS_FILE)
}

/// Reads the record; a malformed one is an error (message, no contents).
pub fn load(dir: &Path, auth: &Auth) -> Result<Recorded, String> {
    let file = path(dir);
    let bytes = match crate::confine::read_regular(&file, FollowLinks::No, 64 * 1024) {
        Ok(b) => b,
        Err(Refusal::Missing) => {
            let others = auth.public_key().is_some() && has_site_ledgers(dir);
            return Ok(if others {
                Recorded::Missing
            } else {
                Recorded::None
            });
        }
        Err(refusal) => return Err(format!("{}: the file {refusal}", file.display())),
    };
    let text =
        String::from_utf8(bytes).map_err(|_| format!("{}: not valid UTF-8", file.display()))?;
    let record: GuardRecord = serde_saphyr::from_str(&text).map_err(|e| {
        let at = e
            .location()
            .map(|l| format!(":{}:{}", l.line(), l.column()))
            .unwrap_or_default();
        format!(
            "{}{at}: not a guards record written by accessctl",
            file.display()
        )
    })?;
    // The record is untrusted text that reaches refusal messages: its
    // person keys must look like the config's keys.
    let key_like = |k: &str| {
        k.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && k.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    };
    if !record
        .protect
        .iter()
        .chain(&record.self_person)
        .all(|k| key_like(k))
    {
        return Err(format!(
            "{}: a person key in the guards record is not a config key",
            file.display()
        ));
    }
    let verified = auth.verify_guards(&record);
    Ok(Recorded::Found { record, verified })
}

/// Writes the record atomically, signed when `auth` can.
pub fn save(dir: &Path, record: &GuardRecord, auth: &Auth) -> std::io::Result<()> {
    let mut record = record.clone();
    record.sig = auth.sign_guards(&record);
    let body = serde_saphyr::to_string(&record).map_err(std::io::Error::other)?;
    let text = format!(
        "# accessctl: the safety guards in force at the last successful apply; a config\n# that weakens them needs `apply --allow-safety-change`. Commit it with the ledger.\n{body}"
    );
    super::write_atomically(dir, GUARDS_FILE, &text)
}

fn has_site_ledgers(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.filter_map(Result::ok).any(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.ends_with(".yaml") && !name.starts_with(['_', '.'])
        })
    })
}
