//! The platform-neutral core: *targets* (a scope on one platform, such as a
//! GA4 property or a GTM account) hold *bindings* (a principal, its
//! [`Access`] and a [`Lifecycle`]); a [`Provider`] reads a target and
//! carries out changes, declaring what it can do in [`Capabilities`];
//! [`diff`] decides what to change, knowing nothing of any one platform.
//!
//! GA4 and GTM plan and apply through this core. Wix's plans are decided by
//! [`diff`] too: `plan::diff` gives it the site's collaborators by account
//! id and the invites its ledger holds (Wix cannot list them), and words
//! the result as Wix's actions; its changes are made by its provider's
//! [`Provider::apply`], the ledger kept through the [`Journal`].

pub mod diff;
pub mod identity;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::future::Future;
use std::pin::Pin;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A boxed future, so [`Provider`] can be used as `dyn Provider`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Whether `id` is a plain id: 1 to 128 ASCII letters, digits, `-` and `_`
/// (Wix's UUIDs, Google's numeric ids, the emulator's names). Ids from a
/// config, a ledger or a platform's answer that go into a URL path or a
/// header must be: nothing in one can leave its path segment (`../`, `/`,
/// `?`, `%`) or its header line.
pub fn is_plain_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The platforms accessctl knows.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Wix,
    Ga4,
    Gtm,
}

impl Platform {
    /// Every platform, in the order output lists them.
    pub const ALL: [Platform; 3] = [Platform::Wix, Platform::Ga4, Platform::Gtm];

    /// The name used in config keys, plan JSON and output.
    pub fn name(self) -> &'static str {
        match self {
            Platform::Wix => "wix",
            Platform::Ga4 => "ga4",
            Platform::Gtm => "gtm",
        }
    }

    /// The name people know it by.
    pub fn title(self) -> &'static str {
        match self {
            Platform::Wix => "Wix",
            Platform::Ga4 => "Google Analytics 4",
            Platform::Gtm => "Google Tag Manager",
        }
    }

    /// The short name tables and plan lines use: `Wix`, `GA4`, `GTM`.
    pub fn short_title(self) -> &'static str {
        match self {
            Platform::Wix => "Wix",
            Platform::Ga4 => "GA4",
            Platform::Gtm => "GTM",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The roles a platform knows, static so the config can be checked without
/// reaching the platform. Exclusive roles are ranked lowest first: a
/// principal granted two of them (by two teams, say) holds the higher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vocabulary {
    /// Roles on the target itself, exclusive, lowest first.
    pub roles: &'static [&'static str],
    /// Roles added on top of the exclusive one (GA4's data restrictions).
    pub additive: &'static [&'static str],
    /// Roles on a child scope, exclusive, lowest first (GTM containers).
    pub child_roles: &'static [&'static str],
}

impl Platform {
    /// The roles a config may name for this platform; `None` for Wix,
    /// whose roles are per account and read live.
    pub fn vocabulary(self) -> Option<Vocabulary> {
        match self {
            Platform::Wix => None,
            Platform::Ga4 => Some(Vocabulary {
                roles: &["viewer", "analyst", "editor", "admin"],
                additive: &["no-cost-data", "no-revenue-data"],
                child_roles: &[],
            }),
            Platform::Gtm => Some(Vocabulary {
                roles: &["user", "admin"],
                additive: &[],
                child_roles: &["read", "edit", "approve", "publish"],
            }),
        }
    }
}

impl Vocabulary {
    /// `a` and `b` together: the higher exclusive role, every additive one,
    /// per child the higher role.
    pub fn merge(&self, a: &Access, b: &Access) -> Access {
        let rank = |list: &[&str], r: &str| list.iter().position(|x| *x == r);
        let top = |set: &mut BTreeSet<String>, list: &[&str], additive: &[&str]| {
            let best = set
                .iter()
                .filter(|r| !additive.contains(&r.as_str()))
                .max_by_key(|r| rank(list, r))
                .cloned();
            set.retain(|r| additive.contains(&r.as_str()) || Some(r) == best.as_ref());
        };
        let mut out = a.clone();
        out.roles.extend(b.roles.iter().cloned());
        top(&mut out.roles, self.roles, self.additive);
        for (child, roles) in &b.children {
            let set = out.children.entry(child.clone()).or_default();
            set.extend(roles.iter().cloned());
            top(set, self.child_roles, &[]);
        }
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unmanaged {
    /// Leave principals the config does not mention alone, silently.
    Keep,
    /// Leave them, but list them as warnings in the plan.
    #[default]
    Warn,
    /// Remove them.
    Remove,
}

/// One scope on one platform whose bindings the config manages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub platform: Platform,
    /// The platform's own name for the scope: `accounts/100` or
    /// `properties/200` (GA4), `accounts/6000` (GTM).
    pub id: String,
    /// Name of the environment variable naming the credentials (for Google,
    /// the path of a service-account key file); `None` means the platform's
    /// default (`GOOGLE_APPLICATION_CREDENTIALS`).
    pub credentials_env: Option<String>,
    /// Child scopes the config manages (GTM: containers, by public
    /// `GTM-XXXX` id). A binding's permissions on other children are kept
    /// as they are.
    pub managed_children: BTreeSet<String>,
}

/// What a principal holds on a target: a set of roles, and for platforms
/// with nested scopes one role set per child (GTM: the account permission
/// in `roles`, one permission per container in `children`, keyed by the
/// container's public id). Sets, so comparison ignores order.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub struct Access {
    pub roles: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub children: BTreeMap<String, BTreeSet<String>>,
}

impl Access {
    pub fn roles<I, S>(roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Access {
            roles: roles.into_iter().map(Into::into).collect(),
            children: BTreeMap::new(),
        }
    }

    /// `viewer` or `user; GTM-AAAA: read, GTM-BBBB: edit`.
    pub fn describe(&self) -> String {
        let mut text = self.roles.iter().cloned().collect::<Vec<_>>().join(", ");
        for (child, roles) in &self.children {
            if !text.is_empty() {
                text.push_str("; ");
            }
            text.push_str(child);
            text.push_str(": ");
            text.push_str(&roles.iter().cloned().collect::<Vec<_>>().join(", "));
        }
        text
    }
}

/// Where a binding stands. GA4 and GTM only ever produce `Active`;
/// invitation platforms (Google Ads, Meta, TikTok) add the others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Lifecycle {
    Active,
    Pending {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        invitation: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expires: Option<String>,
    },
    Unknown,
}

/// One principal's access on a target, as the platform reports it. Also a
/// snapshot's record of it (the field names are that JSON format).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Binding {
    /// Lower-cased.
    #[serde(default)]
    pub email: Option<String>,
    /// The platform's id for the person, where it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_id: Option<String>,
    pub access: Access,
    pub lifecycle: Lifecycle,
    /// The platform's name for the binding itself (GA4
    /// `accounts/1/accessBindings/2`, GTM `accounts/1/user_permissions/3`),
    /// needed to change or remove it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle: Option<String>,
}

/// A target's live state (also a snapshot's record of it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetState {
    pub bindings: Vec<Binding>,
    /// Child scopes that exist (GTM containers by public id).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub children: BTreeSet<String>,
}

/// Whether a grant takes effect at once or waits for the person to accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantEffect {
    Immediate,
    Invitation,
}

/// What a platform keys a write on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKey {
    Email,
    PlatformId,
}

/// What a provider can do, declared once; the engine plans around it.
#[derive(Debug, Clone, PartialEq)]
pub struct Capabilities {
    pub effect: GrantEffect,
    pub key: PrincipalKey,
    /// Largest batch of writes one call takes; `None`: one write per call.
    pub batch_max: Option<usize>,
    /// Sustained requests per second the platform allows per project.
    pub requests_per_second: Option<f64>,
    /// Removals a target takes per day, when the platform caps them.
    pub daily_removals: Option<u32>,
    /// Whether a pending invitation's access can be changed. When it cannot
    /// (Wix, Google Ads), an invitation granting other access than the
    /// config's is withdrawn and sent again.
    pub invitations_editable: bool,
    /// The role whose last holder is never removed (lock-out guard).
    pub admin_role: Option<&'static str>,
    /// Every role a binding may hold on the target itself.
    pub roles: &'static [&'static str],
    /// Every role a binding may hold on a child scope.
    pub child_roles: &'static [&'static str],
    /// The least role on the target that holding a child role needs (GTM:
    /// account `user`). When a binding goes but holds roles on children the
    /// config does not manage, it keeps those with this role instead of
    /// being removed; `None`: removed whole.
    pub child_holder_role: Option<&'static str>,
    /// The OAuth scopes the provider's calls use, narrowest first (`doctor`
    /// asks for each); empty when the platform takes no OAuth token.
    pub scopes: &'static [&'static str],
}

/// Who a binding or a change is about: a lower-cased email, or, for a
/// principal the platform names by its own id alone (a Wix collaborator no
/// record ties to an email), that id. In JSON, the field `email` or
/// `platform_id`.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Who {
    Email(String),
    PlatformId(String),
}

impl Who {
    /// The principal's key in a binding: its email (lower-cased), else its
    /// platform id; `None` when it has neither.
    pub fn of(binding: &Binding) -> Option<Who> {
        match (&binding.email, &binding.platform_id) {
            (Some(email), _) => Some(Who::Email(email.to_lowercase())),
            (None, Some(id)) => Some(Who::PlatformId(id.clone())),
            (None, None) => None,
        }
    }

    pub fn email(&self) -> Option<&str> {
        match self {
            Who::Email(e) => Some(e),
            Who::PlatformId(_) => None,
        }
    }

    pub fn platform_id(&self) -> Option<&str> {
        match self {
            Who::Email(_) => None,
            Who::PlatformId(id) => Some(id),
        }
    }

    /// Whether this is the email `email`, compared without case.
    pub fn is_email(&self, email: &str) -> bool {
        self.email().is_some_and(|e| e.eq_ignore_ascii_case(email))
    }
}

impl fmt::Display for Who {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Who::Email(e) => f.write_str(e),
            Who::PlatformId(id) => write!(f, "platform id {id}"),
        }
    }
}

/// What a change does.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Add,
    Update,
    Remove,
}

/// One change to one binding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Change {
    pub kind: ChangeKind,
    /// The principal: `email` (lower-cased), or `platform_id` when the
    /// platform names it by its id alone.
    #[serde(flatten)]
    pub who: Who,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Access>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Access>,
    /// The binding's platform name (for updates and removals: GA4's
    /// binding name, Wix's account id or, for an invitation, its id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle: Option<String>,
    /// Why: the config entries behind an add or update, or why a binding
    /// goes.
    pub reason: String,
}

/// How one change ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "detail", rename_all = "snake_case")]
pub enum Outcome {
    Done,
    /// Refused by the platform; nothing changed.
    Failed(String),
    /// The platform took the call but refused this principal (one entry of
    /// a batch: Wix's `failedEmails`); nothing changed for it.
    Refused(String),
    /// Not known whether it took effect (a batch that may have been
    /// partial, a lost answer); the next plan reads the target again.
    Unknown(String),
    /// Not attempted (a quota reached, the run stopped).
    Skipped(String),
}

/// A provider's failure to read or reach a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderError {
    pub message: String,
    pub hint: Option<String>,
}

impl ProviderError {
    pub fn new(message: impl Into<String>) -> Self {
        ProviderError {
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ProviderError {}

/// What a write created that the platform may not list later: an
/// invitation's id and dates (Wix cannot list its invites).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The platform's name for it (Wix's invite id).
    pub handle: String,
    pub sent_at: Option<time::OffsetDateTime>,
    pub expires_at: Option<time::OffsetDateTime>,
}

/// How one change ended, told to a [`Journal`]: its place in the slice
/// given to [`Provider::apply`], the change, its outcome and, for a write
/// that created something, the receipt.
#[derive(Debug, Clone)]
pub struct Settled<'a> {
    pub index: usize,
    pub change: &'a Change,
    pub outcome: Outcome,
    pub receipt: Option<Receipt>,
}

/// Hears an apply as it goes. A provider tells it, before a call whose
/// effect a later read may not show (an invitation), which changes it is
/// about to send ([`Journal::intend`]); and after each call, how its
/// changes ended ([`Journal::settled`]), once per call. Wix's executor
/// keeps its ledger through it (intent first, so a crash mid-call leaves a
/// record); GA4 and GTM print progress.
///
/// An `Err` from either means what follows could not be recorded: the
/// provider sends nothing more, reports the batch `intend` refused as
/// failed (`not sent: …`) and settles every change not yet made as
/// [`Outcome::Skipped`] with that reason.
pub trait Journal: Send + Sync {
    /// Before a call that sends `batch` (indices into the applied slice).
    fn intend(&self, _batch: &[(usize, &Change)]) -> Result<(), String> {
        Ok(())
    }

    /// After a call: how each of its changes ended.
    fn settled(&self, results: &[Settled<'_>]) -> Result<(), String>;
}

/// A closure hears each outcome and records nothing (progress lines).
impl<F: Fn(&Change, &Outcome) + Send + Sync> Journal for F {
    fn settled(&self, results: &[Settled<'_>]) -> Result<(), String> {
        for r in results {
            self(r.change, &r.outcome);
        }
        Ok(())
    }
}

/// The journal an apply is told.
pub type Progress<'a> = &'a dyn Journal;

/// A platform. It reads targets and carries out changes; it never decides
/// what to change. Implementations hold their credentials and rate limiter.
pub trait Provider: Send + Sync {
    fn platform(&self) -> Platform;

    fn capabilities(&self) -> &Capabilities;

    /// The principal the provider acts as (a service account's email); the
    /// plan never changes or removes it.
    fn self_email(&self) -> Option<&str>;

    /// Read a target's bindings, canonicalised: emails lower-cased, child
    /// scopes by the config's ids, `*Unspecified`/`noAccess` values dropped.
    fn observe<'a>(
        &'a self,
        target: &'a Target,
    ) -> BoxFuture<'a, Result<TargetState, ProviderError>>;

    /// Carry out `changes` on `target`, batching as the platform allows;
    /// one outcome per change, in order. `progress` hears each outcome as it
    /// is known, and may stop the run ([`Journal`]).
    fn apply<'a>(
        &'a self,
        target: &'a Target,
        changes: &'a [Change],
        progress: Progress<'a>,
    ) -> BoxFuture<'a, Vec<Outcome>>;

    /// How long `requests` calls will take from now under the platform's
    /// quota, when that is worth telling (GTM's 0.25 per second); `None`
    /// when the quota does not slow a run down noticeably.
    fn eta(&self, _requests: usize) -> Option<std::time::Duration> {
        None
    }
}
