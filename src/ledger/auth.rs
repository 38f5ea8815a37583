//! Ledger authentication: the records that can grant, change or remove
//! access carry an Ed25519 signature made by `apply`.
//!
//! The ledger is committed next to the config, so a pull request can edit
//! it like any other file. Three kinds of record decide access: identities
//! (this email is that account: its roles follow the config), invites (a new
//! collaborator holding an invite's roles is linked to its email) and
//! grants (this account was granted by accessctl: removed when no longer
//! wanted; on GA4 and GTM the same, by email and target). Each is signed over its content, its kind and the site id, with
//! a key from the environment — never from the config, which the pull
//! request controls. A record whose signature does not verify is set aside
//! ([`SiteLedger::untrusted`]) and never used; the plan reports it.
//!
//! Ed25519 rather than HMAC: verifying needs only the public key, so the
//! pull-request job that runs `plan` (public key in a repository variable)
//! holds nothing that can forge a record; only the apply job after merge
//! holds the private key. Request-mode records (requests sent, grants
//! marked done) are not signed: they can only delay or repeat a request to
//! a site's owner, never grant anything.
//!
//! Without either key the ledger is unauthenticated: every record is used,
//! and the plan says so.

use std::sync::Arc;

use ring::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use serde::Serialize;

use super::guards::GuardRecord;
use super::{Granted, Identity, InviteRecord, SiteLedger, TargetGranted};
use crate::hex::encode as hex;

/// Holds the private key (64 hex digits, the Ed25519 seed): in the apply job only.
pub const SIGNING_KEY_ENV: &str = "ACCESSCTL_LEDGER_KEY";
/// Holds the public key (64 hex digits): enough to verify, e.g. in the plan job.
pub const PUBLIC_KEY_ENV: &str = "ACCESSCTL_LEDGER_PUBLIC_KEY";

/// What this process can do with ledger signatures.
#[derive(Clone)]
pub enum Auth {
    /// No key: records are used unchecked.
    Off,
    /// A public key: records are verified, nothing can be signed.
    Verify([u8; 32]),
    /// The private key: records are verified and signed.
    Sign(Arc<Ed25519KeyPair>),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private key; the public key is not a secret.
        match self.public_key() {
            None => f.write_str("Auth::Off"),
            Some(k) => write!(f, "Auth({}, key {})", self.mode_name(), hex(&k)),
        }
    }
}

/// How far a loaded ledger's records could be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Trust {
    /// No key in this job: every record is used as written.
    #[default]
    Unchecked,
    /// Every record in use carries a valid signature.
    Verified,
}

impl Auth {
    /// The keys in the environment. A malformed key is an error (quoting
    /// nothing of it), as are two keys that do not belong together.
    pub fn from_env() -> Result<Auth, String> {
        let read = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let private = read(SIGNING_KEY_ENV);
        let public = read(PUBLIC_KEY_ENV);
        let public = match public {
            Some(text) => Some(decode_32(&text).ok_or_else(|| {
                format!("{PUBLIC_KEY_ENV} is not an Ed25519 public key (64 hex digits)")
            })?),
            None => None,
        };
        let Some(private) = private else {
            return Ok(public.map_or(Auth::Off, Auth::Verify));
        };
        let seed = decode_32(&private).ok_or_else(|| {
            format!("{SIGNING_KEY_ENV} is not an Ed25519 private key (64 hex digits)")
        })?;
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed)
            .map_err(|_| format!("{SIGNING_KEY_ENV} is not a usable Ed25519 private key"))?;
        if let Some(public) = public
            && public.as_slice() != pair.public_key().as_ref()
        {
            return Err(format!(
                "{PUBLIC_KEY_ENV} is not the public key of {SIGNING_KEY_ENV}"
            ));
        }
        Ok(Auth::Sign(Arc::new(pair)))
    }

    /// A new key pair: (private, public), hex.
    pub fn generate() -> Result<(String, String), String> {
        use ring::rand::SecureRandom as _;
        let mut seed = [0u8; 32];
        ring::rand::SystemRandom::new()
            .fill(&mut seed)
            .map_err(|_| "the system's random number generator failed".to_string())?;
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed)
            .map_err(|_| "cannot make a key pair".to_string())?;
        Ok((hex(&seed), hex(pair.public_key().as_ref())))
    }

    pub fn public_key(&self) -> Option<[u8; 32]> {
        match self {
            Auth::Off => None,
            Auth::Verify(k) => Some(*k),
            Auth::Sign(pair) => pair.public_key().as_ref().try_into().ok(),
        }
    }

    /// The public key's first 16 hex digits, to name it in plans.
    pub fn key_id(&self) -> Option<String> {
        self.public_key().map(|k| hex(&k[..8]))
    }

    fn mode_name(&self) -> &'static str {
        match self {
            Auth::Off => "off",
            Auth::Verify(_) => "verify",
            Auth::Sign(_) => "sign",
        }
    }

    /// Commands that create or change signed records need the private key
    /// whenever ledgers are verified, or the next plan would distrust what
    /// they wrote.
    pub fn for_writing(self) -> Result<Auth, String> {
        match self {
            Auth::Verify(_) => Err(format!(
                "{PUBLIC_KEY_ENV} is set but {SIGNING_KEY_ENV} is not: this command writes ledger records and must sign them"
            )),
            auth => Ok(auth),
        }
    }

    /// Sets aside every record whose signature does not verify; without a
    /// key, uses them all unchecked.
    pub fn check(&self, ledger: &mut SiteLedger) {
        let Some(key) = self.public_key() else {
            ledger.trust = Trust::Unchecked;
            return;
        };
        let site_id = ledger.site_id.clone();
        let ok = |kind: &str, content: &[u8], sig: &Option<String>| -> bool {
            let Some(sig) = sig.as_deref().and_then(decode) else {
                return false;
            };
            UnparsedPublicKey::new(&ED25519, key)
                .verify(&message(&site_id, kind, content), &sig)
                .is_ok()
        };
        let (good, bad) = split(std::mem::take(&mut ledger.invites), |r| {
            ok(INVITE, &content(r, |r| r.sig = None), &r.sig)
        });
        ledger.invites = good;
        ledger.untrusted.invites = bad;
        let (good, bad) = split(std::mem::take(&mut ledger.identities), |r| {
            ok(IDENTITY, &content(r, |r| r.sig = None), &r.sig)
        });
        ledger.identities = good;
        ledger.untrusted.identities = bad;
        let (good, bad) = split(std::mem::take(&mut ledger.granted), |r| {
            ok(GRANTED, r.account_id.as_bytes(), &r.sig)
        });
        ledger.granted = good;
        ledger.untrusted.granted = bad;
        let (good, bad) = split(std::mem::take(&mut ledger.target_granted), |r| {
            ok(TARGET_GRANTED, &content(r, |r| r.sig = None), &r.sig)
        });
        ledger.target_granted = good;
        ledger.untrusted.target_granted = bad;
        ledger.trust = Trust::Verified;
    }

    /// Signs every record in use (they are verified or were made by this
    /// process); records set aside keep what they had.
    pub fn sign(&self, ledger: &mut SiteLedger) {
        let Auth::Sign(pair) = self else {
            return;
        };
        let site_id = ledger.site_id.clone();
        let sign = |kind: &str, content: &[u8]| -> Option<String> {
            Some(hex(pair.sign(&message(&site_id, kind, content)).as_ref()))
        };
        for r in &mut ledger.invites {
            r.sig = sign(INVITE, &content(r, |r| r.sig = None));
        }
        for r in &mut ledger.identities {
            r.sig = sign(IDENTITY, &content(r, |r| r.sig = None));
        }
        for r in &mut ledger.granted {
            r.sig = sign(GRANTED, r.account_id.as_bytes());
        }
        for r in &mut ledger.target_granted {
            r.sig = sign(TARGET_GRANTED, &content(r, |r| r.sig = None));
        }
    }
}

impl Auth {
    /// Whether the guards record carries a valid signature.
    pub fn verify_guards(&self, record: &GuardRecord) -> bool {
        let Some(key) = self.public_key() else {
            return false;
        };
        let Some(sig) = record.sig.as_deref().and_then(decode) else {
            return false;
        };
        UnparsedPublicKey::new(&ED25519, key)
            .verify(
                &message("", GUARDS, &content(record, |r| r.sig = None)),
                &sig,
            )
            .is_ok()
    }

    /// The guards record's signature, when this process can sign.
    pub fn sign_guards(&self, record: &GuardRecord) -> Option<String> {
        let Auth::Sign(pair) = self else {
            return None;
        };
        let m = message("", GUARDS, &content(record, |r| r.sig = None));
        Some(hex(pair.sign(&m).as_ref()))
    }
}

const GUARDS: &str = "guards";
const INVITE: &str = "invite";
const IDENTITY: &str = "identity";
const GRANTED: &str = "granted";
const TARGET_GRANTED: &str = "target-granted";

/// What is signed: a domain tag, the record's kind, the site id and the
/// record (JSON, its signature left out). The site id binds a record to its
/// site: a grant copied from another site's ledger does not verify.
fn message(site_id: &str, kind: &str, content: &[u8]) -> Vec<u8> {
    let mut m = format!("accessctl ledger record v1\n{kind}\n{site_id}\n").into_bytes();
    m.extend_from_slice(content);
    m
}

fn content<T: Serialize + Clone>(record: &T, unsign: impl Fn(&mut T)) -> Vec<u8> {
    let mut r = record.clone();
    unsign(&mut r);
    serde_json::to_vec(&r).unwrap_or_default()
}

fn split<T>(records: Vec<T>, keep: impl Fn(&T) -> bool) -> (Vec<T>, Vec<T>) {
    records.into_iter().partition(|r| keep(r))
}

/// Records set aside because their signature did not verify.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Untrusted {
    pub invites: Vec<InviteRecord>,
    pub identities: Vec<Identity>,
    pub granted: Vec<Granted>,
    pub target_granted: Vec<TargetGranted>,
}

impl Untrusted {
    pub fn is_empty(&self) -> bool {
        self.invites.is_empty()
            && self.identities.is_empty()
            && self.granted.is_empty()
            && self.target_granted.is_empty()
    }

    /// One line per record, for the plan.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for i in &self.identities {
            lines.push(format!("identity {} = account {}", i.email, i.account_id));
        }
        for i in &self.invites {
            lines.push(format!(
                "invite to {} ({}, {:?})",
                i.email,
                i.role_titles.join(", "),
                i.state
            ));
        }
        for g in &self.granted {
            lines.push(format!("granted account {}", g.account_id));
        }
        for g in &self.target_granted {
            lines.push(format!(
                "granted {} on {} {}",
                g.email,
                g.platform.title(),
                g.target
            ));
        }
        lines
    }
}

fn decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

fn decode_32(text: &str) -> Option<[u8; 32]> {
    decode(text)?.try_into().ok()
}
