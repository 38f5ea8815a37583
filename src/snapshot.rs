//! Snapshots: the observed state of every selected site, saved as a
//! versioned JSON document (`accessctl snapshot`), and read back instead of
//! the network (`plan --observed`, `who --observed`).
//!
//! A snapshot holds exactly what [`crate::observe::build_plan`] needs from
//! the outside world — each site's Wix reading (or why there was none), its
//! ledger as the file held it, and each GA4/GTM target's bindings (or why
//! they could not be read) — with the time, the tool's version, the
//! config's digest and each site's and target's fingerprint. It holds no
//! secret: no API key, token or key file, no ledger key (ledger records
//! carry their signatures, which are public).
//!
//! A snapshot is untrusted input (anyone can hand one over): it is read
//! size-capped, parse errors are located (`file:line:col`), and nothing in
//! it is believed beyond what a live read would be. Its ledgers are checked
//! with the reading job's ledger key, exactly as ledger files are; its
//! fingerprints are recomputed and a mismatch is a warning.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::diag::{Diagnostic, Report};
use crate::ledger::{self, SiteLedger};
use crate::model::{Config, Pos, Site};
use crate::observe::Observed;
use crate::plan::{self, Observation};
use crate::platform::{Platform, TargetState};
use crate::providers::google::gtm::limiter::RateWindow;
use crate::state::LiveSite;

mod pieces;

/// Bumped when the JSON shape changes incompatibly.
pub const SNAPSHOT_VERSION: u32 = 1;

/// Largest snapshot read: a 10,000-site agency's is tens of MiB.
pub const SNAPSHOT_CAP: u64 = 256 * 1024 * 1024;

/// The document `accessctl snapshot` writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// Version of this JSON format.
    pub snapshot_version: u32,
    /// The accessctl version that took it.
    pub tool_version: String,
    /// When the sites were read (RFC 3339, UTC).
    pub taken_at: String,
    /// SHA-256 of the config file the sites were selected from.
    pub config_digest: String,
    /// Whether the job that took it could verify the ledgers' signatures
    /// (informational: whoever reads the snapshot checks them again).
    pub ledger_check: plan::LedgerCheck,
    /// One entry per site, sorted by site key.
    pub sites: Vec<SiteSnapshot>,
}

/// One site as it was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteSnapshot {
    /// The site's key in the config.
    pub site: String,
    /// The Wix site id the config gave when it was read.
    pub site_id: String,
    /// What `plan` shows as the site's fingerprint (its Wix reading and
    /// ledger); absent when the site could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// The Wix reading.
    pub wix: WixRead,
    /// The site's ledger as its file held it (every record, none checked);
    /// null when the file could not be read (`wix` then says why).
    pub ledger: Option<SiteLedger>,
    /// The site's targets on other platforms, in the config's order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<TargetSnapshot>,
}

/// What reading a Wix site gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum WixRead {
    /// Read over the API: roles, owners, contributors.
    Live(LiveSite),
    /// No API key (request mode): nothing could be read.
    RequestMode,
    /// Reading failed.
    Failed {
        /// Why.
        error: String,
    },
}

/// [`WixRead`] as serde derives it for a tagged enum: the whole object
/// buffered, then read by its `status`. Used only when `status` is not the
/// object's first key, which it always is in a snapshot accessctl wrote.
#[derive(Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
enum WixReadBuffered {
    Live(LiveSite),
    RequestMode,
    Failed { error: String },
}

impl From<WixReadBuffered> for WixRead {
    fn from(read: WixReadBuffered) -> WixRead {
        match read {
            WixReadBuffered::Live(live) => WixRead::Live(live),
            WixReadBuffered::RequestMode => WixRead::RequestMode,
            WixReadBuffered::Failed { error } => WixRead::Failed { error },
        }
    }
}

/// Reads a [`WixRead`] without buffering it when `status` comes first: the
/// site's roles and contributors (the bulk of a snapshot) go straight into
/// their types rather than through serde's generic content first, which
/// halves the allocations of a large snapshot's load. Accepts exactly what
/// the derived reading ([`WixReadBuffered`]) accepts.
impl<'de> Deserialize<'de> for WixRead {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::{self, IgnoredAny, MapAccess, value::MapAccessDeserializer};

        #[derive(Deserialize)]
        #[serde(rename_all = "kebab-case")]
        enum Status {
            Live,
            RequestMode,
            Failed,
        }
        #[derive(Deserialize)]
        struct Failure {
            error: String,
        }
        struct Visitor;
        impl<'de> de::Visitor<'de> for Visitor {
            type Value = WixRead;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a Wix reading: an object with its `status`")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<WixRead, A::Error> {
                let Some(first) = map.next_key::<String>()? else {
                    return Err(de::Error::missing_field("status"));
                };
                if first == "status" {
                    let status: Status = map.next_value()?;
                    let rest = MapAccessDeserializer::new(map);
                    return Ok(match status {
                        Status::Live => WixRead::Live(LiveSite::deserialize(rest)?),
                        Status::RequestMode => {
                            IgnoredAny::deserialize(rest)?;
                            WixRead::RequestMode
                        }
                        Status::Failed => WixRead::Failed {
                            error: Failure::deserialize(rest)?.error,
                        },
                    });
                }
                let mut whole = serde_json::Map::new();
                whole.insert(first, map.next_value()?);
                while let Some((key, value)) = map.next_entry()? {
                    whole.insert(key, value);
                }
                WixReadBuffered::deserialize(serde_json::Value::Object(whole))
                    .map(WixRead::from)
                    .map_err(de::Error::custom)
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

/// One target (GA4 account or property, GTM account) as it was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetSnapshot {
    pub platform: Platform,
    /// The platform's name for the scope: `properties/200`, `accounts/6000`.
    pub target: String,
    /// What `plan` shows as the target's fingerprint; absent when it could
    /// not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// The principal the provider acted as (never changed by a plan).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_email: Option<String>,
    /// The bindings read; absent when reading failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<TargetState>,
    /// Why the target could not be read; absent when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The JSON schema of the snapshot format, pretty-printed with a trailing
/// newline.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(Snapshot);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// The snapshot of what a run observed. `plan` is the plan built from the
/// same observations (for the fingerprints).
pub fn take(
    config: &Config,
    observed: &BTreeMap<String, Observed>,
    plan: &plan::Plan,
    taken_at: time::OffsetDateTime,
) -> Snapshot {
    let planned: HashMap<&str, &plan::SitePlan> =
        plan.sites.iter().map(|s| (s.site.as_str(), s)).collect();
    let sites = observed
        .iter()
        .filter_map(|(key, o)| {
            let site = config.sites.get(key)?;
            let planned = planned.get(key.as_str());
            let wix = match &o.observation {
                Observation::Live(live) => WixRead::Live(live.clone()),
                Observation::RequestMode => WixRead::RequestMode,
                Observation::Failed(error) => WixRead::Failed {
                    error: error.clone(),
                },
            };
            let targets = site
                .targets
                .iter()
                .zip(&o.targets)
                .enumerate()
                .map(|(i, (t, seen))| {
                    let fingerprint = planned
                        .and_then(|p| p.targets.get(i))
                        .and_then(|p| p.fingerprint.clone());
                    let (self_email, state, error) = match seen {
                        Ok(seen) => (seen.self_email.clone(), Some(seen.state.clone()), None),
                        Err(e) => (None, None, Some(e.clone())),
                    };
                    TargetSnapshot {
                        platform: t.target.platform,
                        target: t.target.id.clone(),
                        fingerprint,
                        self_email,
                        state,
                        error,
                    }
                })
                .collect();
            Some(SiteSnapshot {
                site: key.clone(),
                site_id: site.wix.site_id.clone(),
                fingerprint: planned.and_then(|p| p.fingerprint.clone()),
                wix,
                ledger: o.ledger.as_ref().map(SiteLedger::as_written),
                targets,
            })
        })
        .collect();
    Snapshot {
        snapshot_version: SNAPSHOT_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        taken_at: taken_at
            .to_offset(time::UtcOffset::UTC)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        config_digest: config.digest.clone(),
        ledger_check: plan.ledger,
        sites,
    }
}

/// Write `snapshot` as pretty JSON (one field per line: a parse error's
/// line points at something).
pub fn write(snapshot: &Snapshot, out: impl std::io::Write) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(out);
    serde_json::to_writer_pretty(&mut out, snapshot)?;
    use std::io::Write as _;
    out.write_all(b"\n")?;
    out.flush()
}

const HINT: &str = "a snapshot is written by `accessctl snapshot --out FILE`; take a new one";

/// Read a snapshot file: size-capped, version checked first, every error
/// located. Never panics, whatever the bytes.
pub fn load(path: &Path) -> Result<Snapshot, Report> {
    let single = |d: Diagnostic| Report {
        diagnostics: vec![d],
        source: None,
    };
    let whole = Some(Pos { line: 1, col: 1 });
    // Read straight from the file, never held whole as text.
    let open = || {
        crate::confine::open_capped(path, crate::confine::FollowLinks::Yes, SNAPSHOT_CAP)
            .map(|file| std::io::BufReader::with_capacity(1 << 16, file))
            .map_err(|refusal| {
                let hint = match refusal {
                    crate::confine::Refusal::TooLarge(cap) => format!(
                        "a snapshot {} is refused; take one of fewer sites (`--site`)",
                        crate::confine::larger_than(cap)
                    ),
                    _ => HINT.to_string(),
                };
                single(
                    Diagnostic::error(path, None, format!("the snapshot file {refusal}"))
                        .with_hint(hint),
                )
            })
    };
    let located = |e: &serde_json::Error, what: &str| {
        let pos = (e.line() > 0).then(|| Pos {
            line: e.line(),
            col: e.column().max(1),
        });
        // serde_json's message ends with " at line L column C"; the
        // location is given once, in front.
        let text = e.to_string();
        let message = text
            .rsplit_once(" at line ")
            .map_or(text.as_str(), |(m, _)| m);
        single(
            Diagnostic::error(path, pos, format!("{what}: {message}"))
                .with_hint(HINT)
                .redacted(),
        )
    };
    let version = |found: Option<u64>| {
        let (message, hint) = match found {
            Some(v) if v == u64::from(SNAPSHOT_VERSION) => return Ok(()),
            Some(v) => (
                format!(
                    "unsupported snapshot version {v} (this accessctl reads version {})",
                    SNAPSHOT_VERSION
                ),
                "read it with the accessctl version that took it, or take a new one",
            ),
            None => (
                "not a snapshot: no `snapshot_version` number at the top level".to_string(),
                HINT,
            ),
        };
        Err(single(
            Diagnostic::error(path, whole, message).with_hint(hint),
        ))
    };
    // A site at a time when the snapshot is good (contributors' role ids
    // read as one shared copy each). Only when it is not is the file read
    // again, in one pass for serde_json's located error, and then once more
    // for its version alone, so that another version's snapshot, or JSON
    // that is not a snapshot at all, is named as such rather than by the
    // first field this version does not expect.
    let reader = open()?;
    let snapshot = match crate::state::RoleIds::while_reading(|| pieces::read(reader)) {
        Some(snapshot) => Ok(snapshot),
        None => {
            let reader = open()?;
            crate::state::RoleIds::while_reading(|| serde_json::from_reader::<_, Snapshot>(reader))
        }
    };
    let snapshot: Snapshot = match snapshot {
        Ok(snapshot) => {
            version(Some(u64::from(snapshot.snapshot_version)))?;
            snapshot
        }
        Err(e) => {
            #[derive(Deserialize)]
            struct Probe {
                snapshot_version: Option<serde_json::Value>,
            }
            let probe: Probe = serde_json::from_reader(open()?)
                .map_err(|e| located(&e, "not a snapshot (invalid JSON)"))?;
            version(
                probe
                    .snapshot_version
                    .as_ref()
                    .and_then(serde_json::Value::as_u64),
            )?;
            return Err(located(&e, "invalid snapshot"));
        }
    };
    let mut seen = BTreeSet::new();
    for s in &snapshot.sites {
        if !seen.insert(s.site.as_str()) {
            return Err(single(
                Diagnostic::error(
                    path,
                    whole,
                    format!("site `{}` is in the snapshot twice", s.site),
                )
                .with_hint(HINT),
            ));
        }
    }
    Ok(snapshot)
}

/// What a snapshot gives a run: the observations of the selected sites and
/// the warnings to print.
pub struct Restored {
    pub observed: BTreeMap<String, Observed>,
    pub warnings: Vec<String>,
}

/// The observations of the selected sites (all when `selection` is empty)
/// from `snapshot`, as [`crate::observe::observe`] and
/// [`crate::observe::observe_targets`] would have given them when it was
/// taken. A site or target the snapshot lacks, or read under another id, is
/// an error entry like an unreadable site. Ledgers are checked with `auth`.
pub fn restore(
    snapshot: Snapshot,
    config: &Config,
    selection: &[String],
    auth: &ledger::Auth,
    gtm_rate: RateWindow,
) -> Restored {
    let mut warnings = Vec::new();
    if snapshot.config_digest != config.digest {
        warnings.push(format!(
            "the snapshot was taken with another config (digest {}…, this one {}…); it is planned against this config",
            short(&snapshot.config_digest),
            short(&config.digest)
        ));
    }
    let mut by_key: foldhash::HashMap<String, SiteSnapshot> = snapshot
        .sites
        .into_iter()
        .map(|s| (s.site.clone(), s))
        .collect();
    let mut unknown: Vec<&str> = by_key
        .keys()
        .filter(|k| !config.sites.contains_key(*k))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        unknown.sort_unstable();
        warnings.push(format!(
            "the snapshot has {} the config does not ({}); left out",
            crate::render::count(unknown.len(), "site", "sites"),
            unknown.join(", ")
        ));
    }
    let mut missing = Vec::new();
    let found: Vec<(&Site, Option<SiteSnapshot>)> = crate::observe::selected(config, selection)
        .into_iter()
        .map(|site| {
            let s = by_key.remove(&site.key);
            if s.is_none() {
                missing.push(site.key.as_str());
            }
            (site, s)
        })
        .collect();
    // Each site's ledger check and fingerprint stand alone: on all cores.
    let sites =
        crate::parallel::ordered_flat_map_owned(found, RESTORE_PARALLEL_FROM, |(site, s)| {
            let restored = match s {
                Some(s) => restore_site(s, site, auth, gtm_rate),
                None => (not_in_snapshot(site, &snapshot.taken_at), None),
            };
            Some((site.key.clone(), restored))
        });
    // Built in one go from keys in order, not by insertion.
    let observed = sites
        .into_iter()
        .map(|(key, (o, warning))| {
            warnings.extend(warning);
            (key, o)
        })
        .collect();
    if !missing.is_empty() {
        warnings.push(format!(
            "the snapshot lacks {} of the config: {}",
            crate::render::count(missing.len(), "site", "sites"),
            missing.join(", ")
        ));
    }
    Restored { observed, warnings }
}

/// Sites from which restoring is spread over the cores.
const RESTORE_PARALLEL_FROM: usize = 256;

/// A selected site the snapshot holds no reading of: an error entry, as an
/// unreadable site is.
fn not_in_snapshot(site: &Site, taken_at: &str) -> Observed {
    Observed {
        observation: Observation::Failed(format!(
            "the snapshot (taken {taken_at}) has no reading of this site; take a new one with `accessctl snapshot`"
        )),
        ledger: None,
        targets: site
            .targets
            .iter()
            .map(|_| Err("the snapshot has no reading of this target".to_string()))
            .collect(),
    }
}

fn short(digest: &str) -> &str {
    digest.get(..12).unwrap_or(digest)
}

/// One site's observation, and the warning its fingerprint gives.
fn restore_site(
    s: SiteSnapshot,
    site: &Site,
    auth: &ledger::Auth,
    gtm_rate: RateWindow,
) -> (Observed, Option<String>) {
    let targets = restore_targets(&s.targets, site, gtm_rate);
    let failed = |message: String, ledger: Option<SiteLedger>| {
        let observed = Observed {
            observation: Observation::Failed(message),
            ledger,
            targets: targets.clone(),
        };
        (observed, None)
    };
    if s.site_id != site.wix.site_id {
        return failed(
            format!(
                "the snapshot read site id `{}`, but the config says `{}`; take a new snapshot",
                s.site_id, site.wix.site_id
            ),
            None,
        );
    }
    let ledger = match s.ledger {
        None => None,
        Some(mut l) => {
            let mut problems = Vec::new();
            if l.version != ledger::LEDGER_VERSION {
                problems.push(format!("unsupported ledger version {}", l.version));
            }
            problems.extend(l.request_problems().into_iter().map(|(_, p)| p));
            if l.site != site.key || l.site_id != site.wix.site_id {
                problems.push(format!(
                    "its ledger is of site `{}` (id `{}`)",
                    l.site, l.site_id
                ));
            }
            if !problems.is_empty() {
                return failed(
                    format!(
                        "the snapshot's ledger cannot be used: {}",
                        problems.join("; ")
                    ),
                    None,
                );
            }
            // Whatever the snapshot says, records are trusted only as far
            // as this job's key verifies them.
            l.untrusted = Default::default();
            l.trust = Default::default();
            auth.check(&mut l);
            Some(l)
        }
    };
    let observation = match (s.wix, ledger.is_some()) {
        (WixRead::Failed { error }, _) => Observation::Failed(error),
        (_, false) => Observation::Failed(
            "the snapshot holds no ledger for this site, so it cannot be planned".into(),
        ),
        // The config now says request mode: nothing would be read live.
        (_, true) if site.is_request_mode() => Observation::RequestMode,
        (WixRead::RequestMode, true) => Observation::Failed(
            "the site was in request mode (no API key) when the snapshot was taken, so it holds no reading of it; take a new one".into(),
        ),
        // Sites of one account share their list of roles (`load` reads
        // one copy of each).
        (WixRead::Live(live), true) => Observation::Live(live),
    };
    let warning = match (&observation, &ledger, &s.fingerprint) {
        (Observation::Live(live), Some(l), Some(recorded))
            if plan::diff::fingerprint(live, l) != *recorded =>
        {
            Some(format!(
                "site `{}`: the snapshot's fingerprint does not match what it holds (edited since, or taken with another ledger key)",
                site.key
            ))
        }
        _ => None,
    };
    let observed = Observed {
        observation,
        ledger,
        targets,
    };
    (observed, warning)
}

fn restore_targets(
    snapshots: &[TargetSnapshot],
    site: &Site,
    gtm_rate: RateWindow,
) -> Vec<Result<plan::targets::Seen, String>> {
    site.targets
        .iter()
        .map(|t| {
            let mut found = snapshots
                .iter()
                .filter(|s| s.platform == t.target.platform && s.target == t.target.id);
            let (Some(s), None) = (found.next(), found.next()) else {
                return Err(format!(
                    "the snapshot has no single reading of {} {}; take a new one",
                    t.target.platform, t.target.id
                ));
            };
            let capabilities =
                crate::providers::registry::capabilities(t.target.platform, gtm_rate);
            match (&s.state, &s.error) {
                (Some(state), None) => Ok(plan::targets::Seen {
                    state: state.clone(),
                    capabilities,
                    self_email: s.self_email.clone(),
                }),
                (None, Some(error)) => Err(error.clone()),
                _ => Err(format!(
                    "the snapshot's reading of {} {} has both or neither of `state` and `error`",
                    t.target.platform, t.target.id
                )),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use crate::ledger::{Granted, Identity, IdentitySource};
    use crate::state::{RoleDef, RoleSet};

    #[test]
    fn a_wix_reading_is_read_whatever_the_order_of_its_keys() {
        let live = LiveSite {
            roles: Arc::new(vec![RoleDef {
                id: "r-1".into(),
                title: "Blog Writer".into(),
                custom: false,
            }]),
            owners: ["owner".to_string()].into(),
            contributors: [("acc-1".to_string(), RoleSet::from(vec!["r-1".to_string()]))].into(),
        };
        for read in [
            WixRead::Live(live),
            WixRead::RequestMode,
            WixRead::Failed {
                error: "HTTP 500".into(),
            },
        ] {
            // As written (`status` first), and with `status` last.
            let written = serde_json::to_value(&read).expect("writes");
            let mut last = written.as_object().expect("an object").clone();
            let status = last.remove("status").expect("has a status");
            last.insert("status".into(), status);
            for json in [written, serde_json::Value::Object(last)] {
                let text = serde_json::to_string(&json).expect("writes");
                let back: WixRead = serde_json::from_str(&text).expect("reads");
                assert_eq!(back, read, "{text}");
            }
        }
        // Odd objects: whatever the order, read as the derived reading
        // reads them, or refused as it refuses them.
        let cases = [
            (r#"{"status": "gone"}"#, false),
            (r#"{"error": "x", "status": "gone"}"#, false),
            (r#"{"status": "failed"}"#, false),
            (r#"{"status": "failed", "error": "x", "extra": 1}"#, true),
            (r#"{"extra": 1, "error": "x", "status": "failed"}"#, true),
            (r#"{"status": "request-mode", "extra": 1}"#, true),
            (r#"{"extra": 1, "status": "request-mode"}"#, true),
            (
                r#"{"status": "live", "roles": [], "owners": [], "contributors": {}, "extra": 1}"#,
                false,
            ),
            (
                r#"{"roles": [], "owners": [], "contributors": {}, "extra": 1, "status": "live"}"#,
                false,
            ),
            (r#"{}"#, false),
            (r#"[]"#, false),
        ];
        for (text, read) in cases {
            let derived = serde_json::from_str::<WixReadBuffered>(text)
                .ok()
                .map(WixRead::from);
            assert_eq!(derived.is_some(), read, "{text}");
            assert_eq!(
                serde_json::from_str::<WixRead>(text).ok(),
                derived,
                "{text}"
            );
        }
    }

    #[test]
    fn role_sets_are_read_back_sorted_and_without_repeats() {
        let set: RoleSet = serde_json::from_str(r#"["b", "a", "b"]"#).expect("reads");
        assert_eq!(set.iter().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(serde_json::to_string(&set).expect("writes"), r#"["a","b"]"#);
    }

    #[test]
    fn a_ledger_is_kept_as_written_and_checked_again_by_the_reader() {
        let mut ledger = SiteLedger::new("shop", "site-1");
        ledger.identities.push(Identity {
            email: "a@x.example".into(),
            account_id: "acc-a".into(),
            source: IdentitySource::Config,
            learned_at: time::OffsetDateTime::UNIX_EPOCH,
            sig: None,
        });
        ledger.untrusted.granted.push(Granted::from("acc-forged"));
        ledger.trust = ledger::Trust::Verified;
        let written = ledger.as_written();
        assert!(written.untrusted.is_empty());
        assert_eq!(written.trust, ledger::Trust::Unchecked);
        assert!(written.is_granted("acc-forged"));
        // Through JSON and back, the same ledger.
        let json = serde_json::to_string(&written).expect("writes");
        let back: SiteLedger = serde_json::from_str(&json).expect("reads");
        assert_eq!(back, written);
        // A reader with a key sets the unsigned records aside again.
        let (_, public) = ledger::Auth::generate().expect("keys");
        let key: [u8; 32] = (0..32)
            .map(|i| u8::from_str_radix(&public[2 * i..2 * i + 2], 16).expect("hex"))
            .collect::<Vec<_>>()
            .try_into()
            .expect("32 bytes");
        let mut checked = back;
        ledger::Auth::Verify(key).check(&mut checked);
        assert!(!checked.is_granted("acc-forged"));
        assert_eq!(checked.untrusted.granted.len(), 1);
        assert_eq!(checked.untrusted.identities.len(), 1);
    }

    /// Above [`RESTORE_PARALLEL_FROM`] sites, restoring runs on all cores.
    /// It gives what restoring each site alone gives, in the config's
    /// order, with the warnings in the same order: a site the snapshot
    /// lacks, one read under another id, an edited fingerprint.
    #[test]
    fn restoring_many_sites_at_once_equals_restoring_each_alone() {
        use std::fmt::Write as _;
        let n = RESTORE_PARALLEL_FROM + 20;
        let mut text = String::from("version: 2\npeople:\n  al: { email: al@a.example }\nsites:\n");
        for i in 0..n {
            let _ = write!(
                text,
                "  s{i:04}:\n    wix: {{ site_id: site-{i:04}, account_id: acc, api_key_env: KEY }}\n    access:\n      - person: al\n        role: Website Manager\n"
            );
        }
        let config = crate::config::load_str(Path::new("access.yaml"), text.as_bytes())
            .expect("loads")
            .config;
        let roles = |i: usize| {
            Arc::new(vec![RoleDef {
                id: format!("role-{}", i % 3),
                title: "Website Manager".into(),
                custom: false,
            }])
        };
        let sites: Vec<SiteSnapshot> = (0..n)
            .filter(|i| i % 97 != 5)
            .map(|i| {
                let live = LiveSite {
                    roles: roles(i),
                    owners: BTreeSet::from([format!("owner-{i}")]),
                    contributors: BTreeMap::new(),
                };
                let ledger = SiteLedger::new(&format!("s{i:04}"), &format!("site-{i:04}"));
                let fingerprint = if i % 89 == 7 {
                    "edited".to_string()
                } else {
                    plan::diff::fingerprint(&live, &ledger)
                };
                let site_id = if i % 101 == 3 {
                    "elsewhere".into()
                } else {
                    format!("site-{i:04}")
                };
                SiteSnapshot {
                    site: format!("s{i:04}"),
                    site_id,
                    fingerprint: Some(fingerprint),
                    wix: WixRead::Live(live),
                    ledger: Some(ledger),
                    targets: Vec::new(),
                }
            })
            .collect();
        let snapshot = Snapshot {
            snapshot_version: SNAPSHOT_VERSION,
            tool_version: "test".into(),
            taken_at: "2026-12-01T00:00:00Z".into(),
            config_digest: config.digest.clone(),
            ledger_check: plan::LedgerCheck::Unverified,
            sites,
        };
        let restore_selected = |selection: &[String]| {
            restore(
                snapshot.clone(),
                &config,
                selection,
                &ledger::Auth::Off,
                RateWindow::default(),
            )
        };
        let all = restore_selected(&[]);
        let mut alone = Restored {
            observed: BTreeMap::new(),
            warnings: Vec::new(),
        };
        for key in config.sites.keys() {
            let one = restore_selected(std::slice::from_ref(key));
            alone.observed.extend(one.observed);
            // Each restore of one site also says that the snapshot lacks
            // it, when it does; all at once, that is said once, last.
            alone.warnings.extend(
                one.warnings
                    .into_iter()
                    .filter(|w| !w.starts_with("the snapshot lacks")),
            );
        }
        alone
            .warnings
            .push("the snapshot lacks 3 sites of the config: s0005, s0102, s0199".into());
        assert_eq!(all.warnings, alone.warnings);
        assert_eq!(
            all.warnings
                .iter()
                .filter(|w| w.contains("fingerprint"))
                .count(),
            4,
            "{:?}",
            all.warnings
        );
        assert_eq!(
            format!("{:?}", all.observed),
            format!("{:?}", alone.observed)
        );
        assert_eq!(all.observed.len(), n);
    }

    #[test]
    fn the_schema_names_every_part_of_the_document() {
        let schema = schema_json();
        for word in [
            "snapshot_version",
            "taken_at",
            "config_digest",
            "contributors",
            "bindings",
            "granted_by_owner",
            "request-mode",
        ] {
            assert!(schema.contains(word), "{word} missing from the schema");
        }
    }
}
