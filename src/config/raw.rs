//! The config file as written: serde types that mirror the YAML one to one.
//!
//! These types exist for two readers. `schemars` turns them (with their doc
//! comments) into the JSON schema that editors use and that
//! [`super::validate`] checks every document against, so the editor and the
//! command line agree on what is allowed. `validate` then deserializes the
//! parts that passed into these types and resolves them into
//! [`crate::model`]. Nothing here checks references, emails or dates; that is
//! `validate`'s job.
//!
//! Constraints that JSON Schema can say (key patterns, `version: 2`,
//! "exactly one of `role`/`roles`") are written here as schema attributes, so
//! the published schema carries them too.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

/// Pattern of people, team and site keys.
pub const KEY_PATTERN: &str = "^[a-z0-9][a-z0-9_-]*$";

/// Pattern of an invite language: ISO-639, optionally with a region.
pub const LANGUAGE_PATTERN: &str = "^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$";

/// Pattern of an environment variable name.
pub const ENV_NAME_PATTERN: &str = "^[A-Z_][A-Z0-9_]*$";

/// Who should hold which role on each client site: the accessctl config file
/// (format version 2).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "accessctl configuration")]
pub struct RawConfig {
    /// Format version of this file. Always `2` (`accessctl migrate` upgrades
    /// a version-1 file).
    #[schemars(extend("const" = 2))]
    pub version: u32,

    /// Directory that holds one ledger file per site (what accessctl has done
    /// and learned). Relative paths are relative to this file's directory.
    /// Default: `<name of this file>.ledger` beside this file.
    #[serde(default)]
    #[schemars(with = "String", length(min = 1))]
    pub ledger_dir: Option<String>,

    /// The people access is granted to, by key (lower-case letters, digits,
    /// `-` and `_`).
    #[serde(default)]
    #[schemars(extend("propertyNames" = { "pattern": KEY_PATTERN }))]
    pub people: BTreeMap<String, RawPerson>,

    /// Named groups of people. A grant to a team grants the same roles to
    /// each member.
    #[serde(default)]
    #[schemars(extend("propertyNames" = { "pattern": KEY_PATTERN }))]
    pub teams: BTreeMap<String, Vec<String>>,

    /// Named access levels, defined once: per platform, what a grant of the
    /// level holds. A grant `level: seo` gives each platform the client
    /// has what the level says for it.
    #[serde(default)]
    #[schemars(extend("propertyNames" = { "pattern": KEY_PATTERN }))]
    pub levels: BTreeMap<String, RawLevel>,

    /// The client sites whose access this file manages, by key.
    #[serde(default)]
    #[schemars(extend("propertyNames" = { "pattern": KEY_PATTERN }))]
    pub sites: BTreeMap<String, RawSite>,

    /// Language of invitation emails for every site that sets none in its
    /// `wix:` block (an ISO-639 code such as `de`, or `pt-BR`). Default: left
    /// out, so Wix writes in each site owner's language.
    #[serde(default)]
    #[schemars(with = "String", pattern(LANGUAGE_PATTERN))]
    pub invite_language: Option<String>,

    /// Limits that stop a mistaken change from removing too many people.
    #[serde(default)]
    pub safety: RawSafety,

    /// How access requests reach the owners of sites without an API key
    /// (request mode): channels, reminders, the message template.
    #[serde(default)]
    #[schemars(with = "RawRequests")]
    pub requests: Option<RawRequests>,

    /// Rules every site's access must follow: who outside the agency may
    /// hold what, for how long, how many agency admins a site has, which
    /// roles only teams may be given. Checked by `validate` against this
    /// file and by `plan`/`report` against what the sites hold.
    #[serde(default)]
    #[schemars(with = "RawPolicies")]
    pub policies: Option<RawPolicies>,
}

/// A person who can be granted access.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPerson {
    /// The email Wix invites are sent to.
    #[schemars(email)]
    pub email: String,

    /// The person's Wix account id, when known (for example after an import).
    #[serde(default)]
    #[schemars(with = "String")]
    pub wix_account_id: Option<String>,
}

/// One client site and who should have access to it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSite {
    /// How to reach the site on Wix.
    pub wix: RawWix,

    /// The client's Google Analytics 4 account and/or property.
    #[serde(default)]
    #[schemars(with = "RawGa4Site")]
    pub ga4: Option<RawGa4Site>,

    /// The client's Google Tag Manager account and the containers managed.
    #[serde(default)]
    #[schemars(with = "RawGtmSite")]
    pub gtm: Option<RawGtmSite>,

    /// The client contact who owns the site. Access requests go to this
    /// address when the agency holds no API key for the site.
    #[serde(default)]
    #[schemars(with = "RawContact")]
    pub owner: Option<RawContact>,

    /// What to do with collaborators this file does not mention. Default:
    /// `warn`.
    #[serde(default)]
    #[schemars(extend("default" = "warn"))]
    pub unmanaged: RawUnmanaged,

    /// The grants: who gets which roles on this site.
    #[serde(default)]
    pub access: Vec<RawGrant>,

    /// Request mode only: how this site's access request is sent, when not
    /// as the top-level `requests:` block says.
    #[serde(default)]
    #[schemars(with = "RawSiteRequest")]
    pub request: Option<RawSiteRequest>,
}

/// The Wix ids of a site and where its API key comes from.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawWix {
    /// The Wix site id (a UUID, from the site's dashboard URL).
    pub site_id: String,

    /// The Wix account that owns the site.
    pub account_id: String,

    /// Name of the environment variable that holds the Wix API key for this
    /// site, e.g. `ACME_WIX_API_KEY`. Never the key itself. Leave it out to
    /// run the site in request mode: accessctl then asks the owner to grant
    /// access instead of granting it.
    #[serde(default)]
    #[schemars(with = "String", pattern(ENV_NAME_PATTERN))]
    pub api_key_env: Option<String>,

    /// Language of the invitation emails Wix sends for this site (an
    /// ISO-639 code such as `de`, or with a region, `pt-BR`). It only
    /// affects invitees without a Wix account yet. Default: the top-level
    /// `invite_language`, else left out so Wix writes in the site owner's
    /// language.
    #[serde(default)]
    #[schemars(with = "String", pattern(LANGUAGE_PATTERN))]
    pub invite_language: Option<String>,
}

/// A client's Google Analytics 4 scopes. Account-level and property-level
/// access are separate: each named here is managed on its own.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("anyOf" = [ { "required": ["account"] }, { "required": ["property"] } ]))]
pub struct RawGa4Site {
    /// The GA4 account id (digits). Grants reach it through
    /// `ga4: { account: [...] }`, or `ga4: [...]` when no property is named.
    #[serde(default)]
    #[schemars(with = "String", pattern("^[0-9]{1,20}$"))]
    pub account: Option<String>,

    /// The GA4 property id (digits). `ga4: [...]` grants land here.
    #[serde(default)]
    #[schemars(with = "String", pattern("^[0-9]{1,20}$"))]
    pub property: Option<String>,

    /// Name of the environment variable naming the service-account key
    /// file. Default: `GOOGLE_APPLICATION_CREDENTIALS`.
    #[serde(default)]
    #[schemars(with = "String", pattern(ENV_NAME_PATTERN))]
    pub credentials_env: Option<String>,

    /// What to do with users this file does not mention. Default: the
    /// site's `unmanaged`.
    #[serde(default)]
    #[schemars(with = "RawUnmanaged")]
    pub unmanaged: Option<RawUnmanaged>,
}

/// A client's Google Tag Manager account.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawGtmSite {
    /// The GTM account id (digits).
    #[schemars(pattern("^[0-9]{1,20}$"))]
    pub account: String,

    /// The containers whose permissions this file manages, by public id
    /// (`GTM-XXXXXXX`). Permissions on other containers are kept as they
    /// are.
    #[serde(default)]
    #[schemars(with = "Vec<String>", extend("items" = { "type": "string", "pattern": "^GTM-[A-Z0-9]{4,12}$" }))]
    pub containers: Vec<String>,

    /// Name of the environment variable naming the service-account key
    /// file. Default: `GOOGLE_APPLICATION_CREDENTIALS`.
    #[serde(default)]
    #[schemars(with = "String", pattern(ENV_NAME_PATTERN))]
    pub credentials_env: Option<String>,

    /// What to do with users this file does not mention. Default: the
    /// site's `unmanaged`.
    #[serde(default)]
    #[schemars(with = "RawUnmanaged")]
    pub unmanaged: Option<RawUnmanaged>,
}

/// An access level: what a grant of it holds on each platform.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLevel {
    /// Wix roles, by title or slug.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub wix: Option<Vec<String>>,

    /// GA4 roles: `viewer`, `analyst`, `editor`, `admin`, plus the
    /// restrictions `no-cost-data` and `no-revenue-data`.
    #[serde(default)]
    #[schemars(with = "RawGa4Grant")]
    pub ga4: Option<RawGa4Grant>,

    /// GTM permissions.
    #[serde(default)]
    #[schemars(with = "RawGtmGrant")]
    pub gtm: Option<RawGtmGrant>,
}

/// GA4 roles: a list (the site's property, else its account), or per scope.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RawGa4Grant {
    Roles(Vec<String>),
    Scoped(RawGa4Scoped),
}

/// GA4 roles per scope.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawGa4Scoped {
    /// Roles on the site's GA4 account.
    #[serde(default)]
    pub account: Option<Vec<String>>,
    /// Roles on the site's GA4 property.
    #[serde(default)]
    pub property: Option<Vec<String>>,
}

/// GTM permissions: the account permission and the containers'.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawGtmGrant {
    /// `user` or `admin`. Default: `user`.
    #[serde(default)]
    #[schemars(with = "String")]
    pub account: Option<String>,

    /// `read`, `edit`, `approve` or `publish` on every managed container,
    /// or a map from container public id to one of them.
    #[serde(default)]
    pub containers: Option<RawContainers>,
}

/// Container permissions: one for all, or one per container.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RawContainers {
    All(String),
    Each(BTreeMap<String, String>),
}

/// A contact: an email and, optionally, a name.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawContact {
    /// How to address the contact in access requests.
    #[serde(default)]
    #[schemars(with = "String")]
    pub name: Option<String>,

    /// The contact's email.
    #[schemars(email)]
    pub email: String,
}

/// What to do with a site's collaborators that this file does not mention.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawUnmanaged {
    /// Leave them alone, silently.
    Keep,
    /// Leave them alone, but list them as warnings in the plan.
    #[default]
    Warn,
    /// Remove them.
    Remove,
}

/// A grant: one principal (`team`, `person`, `email` or `wix_account_id`)
/// and what it should hold: Wix roles (`role` or `roles`), GA4 roles
/// (`ga4`), GTM permissions (`gtm`), or a named `level` for all of them.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("allOf" = [
    { "oneOf": [
        { "required": ["team"] },
        { "required": ["person"] },
        { "required": ["email"] },
        { "required": ["wix_account_id"] },
    ] },
]))]
pub struct RawGrant {
    /// Grant to every member of this team (a key of `teams`).
    #[serde(default)]
    #[schemars(with = "String")]
    pub team: Option<String>,

    /// Grant to this person (a key of `people`).
    #[serde(default)]
    #[schemars(with = "String")]
    pub person: Option<String>,

    /// Grant to this email, for someone not listed in `people`.
    #[serde(default)]
    #[schemars(with = "String", email)]
    pub email: Option<String>,

    /// Grant to this Wix account id, for a collaborator whose email is unknown.
    #[serde(default)]
    #[schemars(with = "String")]
    pub wix_account_id: Option<String>,

    /// One role, by its Wix title (e.g. `Blog Editor`, case-insensitive) or
    /// its kebab-case slug (`blog-editor`).
    #[serde(default)]
    #[schemars(with = "String")]
    pub role: Option<String>,

    /// Several roles, by Wix title or kebab-case slug.
    #[serde(default)]
    #[schemars(with = "Vec<String>", length(min = 1))]
    pub roles: Option<Vec<String>>,

    /// A named access level (a key of `levels`): its roles on every
    /// platform the site has. Not with `role`, `roles`, `ga4` or `gtm`.
    #[serde(default)]
    #[schemars(with = "String")]
    pub level: Option<String>,

    /// GA4 roles, on the site's `ga4:` scopes.
    #[serde(default)]
    #[schemars(with = "RawGa4Grant")]
    pub ga4: Option<RawGa4Grant>,

    /// GTM permissions, on the site's `gtm:` account.
    #[serde(default)]
    #[schemars(with = "RawGtmGrant")]
    pub gtm: Option<RawGtmGrant>,

    /// Last day of the grant (`yyyy-mm-dd`). The first apply after this date
    /// removes the access.
    #[serde(default)]
    #[schemars(with = "String", extend("format" = "date"))]
    pub until: Option<String>,
}

/// Limits on removals, and people that are never removed.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSafety {
    /// Refuse a plan that removes more than this many people from one site
    /// (unless forced).
    #[serde(default)]
    #[schemars(with = "u32", range(max = u32::MAX))]
    pub max_removals_per_site: Option<u32>,

    /// Refuse a plan that removes more than this many people in total
    /// (unless forced).
    #[serde(default)]
    #[schemars(with = "u32", range(max = u32::MAX))]
    pub max_removals_total: Option<u32>,

    /// Refuse a plan that removes more than this share (in percent) of one
    /// site's collaborators, when it removes more than one (unless forced).
    #[serde(default)]
    #[schemars(with = "u8", range(min = 1, max = 100))]
    pub max_removal_percent: Option<u8>,

    /// People (keys of `people`) that are never removed or downgraded.
    #[serde(default)]
    pub protect: Vec<String>,

    /// The person accessctl acts for (whose Wix account holds or uses the
    /// keys): never removed or downgraded, like `protect`.
    #[serde(default, rename = "self")]
    #[schemars(with = "String")]
    pub self_person: Option<String>,

    /// Warn about grants whose `until` date falls within this many days.
    #[serde(default)]
    #[schemars(with = "u32", range(max = 3650))]
    pub expiry_warning_days: Option<u32>,
}

/// How access requests reach the owners of sites without an API key
/// (request mode). Channels are configured once here; a site can choose
/// another with its own `request:` block.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRequests {
    /// The agency's name as clients know it, used in messages
    /// (`{{agency}}`).
    #[schemars(length(min = 1))]
    pub agency: String,

    /// What the agency will do with the access, in a sentence or two
    /// (`{{purpose}}`). A plain default when absent.
    #[serde(default)]
    #[schemars(with = "String", length(min = 1))]
    pub purpose: Option<String>,

    /// The channel used when a site does not choose one. Default: `email`
    /// when it is configured, else `webhook`.
    #[serde(default)]
    #[schemars(with = "RawChannel")]
    pub channel: Option<RawChannel>,

    /// Send requests as email over SMTP.
    #[serde(default)]
    #[schemars(with = "RawEmail")]
    pub email: Option<RawEmail>,

    /// Send requests as a signed JSON POST to the agency's own system
    /// (Slack, Zapier, a helpdesk), which passes them on.
    #[serde(default)]
    #[schemars(with = "RawWebhook")]
    pub webhook: Option<RawWebhook>,

    /// Days without an answer before a reminder is sent. Default: 3.
    #[serde(default)]
    #[schemars(with = "u32", range(min = 1, max = 365), extend("default" = 3))]
    pub reminder_after_days: Option<u32>,

    /// Reminders sent before a request is reported as stalled. Default: 1.
    #[serde(default)]
    #[schemars(with = "u32", range(max = 10), extend("default" = 1))]
    pub max_reminders: Option<u32>,

    /// A message template file (plain text with `{{placeholders}}`, an
    /// optional first line `Subject: …`), relative to this file. Default:
    /// the built-in message.
    #[serde(default)]
    #[schemars(with = "String", length(min = 1))]
    pub template: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawChannel {
    /// Email over SMTP (`requests.email`).
    Email,
    /// A signed JSON POST (`requests.webhook`).
    Webhook,
}

/// The sender and the SMTP server.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEmail {
    /// The sender: `{ name: …, email: … }`.
    pub from: RawContact,

    /// Where the owner's replies go, when not to `from`.
    #[serde(default)]
    #[schemars(with = "String", email)]
    pub reply_to: Option<String>,

    pub smtp: RawSmtp,
}

/// The SMTP server. Credentials are named by environment variables only;
/// when they are used, the host must come from one too.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("oneOf" = [
    { "required": ["host"] },
    { "required": ["host_env"] },
]))]
pub struct RawSmtp {
    /// The server's host name, e.g. `smtp.example.com`. Only without
    /// credentials (a relay that trusts the network); otherwise use
    /// `host_env`.
    #[serde(default)]
    #[schemars(with = "String", length(min = 1))]
    pub host: Option<String>,

    /// Name of the environment variable holding the server's host name.
    #[serde(default)]
    #[schemars(with = "String", pattern(ENV_NAME_PATTERN))]
    pub host_env: Option<String>,

    /// Default: 587 for `starttls`, 465 for `tls`, 25 for `none`.
    #[serde(default)]
    #[schemars(with = "u16", range(min = 1, max = 65535))]
    pub port: Option<u16>,

    /// `starttls` (default): upgrade with STARTTLS, required; `tls`: TLS
    /// from the start; `none`: no encryption, loopback hosts only.
    #[serde(default)]
    #[schemars(with = "RawSecurity", extend("default" = "starttls"))]
    pub security: Option<RawSecurity>,

    /// Name of the environment variable holding the SMTP user name.
    #[serde(default)]
    #[schemars(with = "String", pattern(ENV_NAME_PATTERN))]
    pub username_env: Option<String>,

    /// Name of the environment variable holding the SMTP password.
    #[serde(default)]
    #[schemars(with = "String", pattern(ENV_NAME_PATTERN))]
    pub password_env: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawSecurity {
    /// Connect in plain text, then require STARTTLS (usually port 587).
    Starttls,
    /// TLS from the first byte (usually port 465).
    Tls,
    /// No encryption; allowed only for loopback hosts.
    None,
}

/// The webhook: both the URL and the signing secret come from environment
/// variables, since the URL may carry a token and receives signed requests.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawWebhook {
    /// Name of the environment variable holding the URL (https, or http to a
    /// loopback address).
    #[schemars(pattern(ENV_NAME_PATTERN))]
    pub url_env: String,

    /// Name of the environment variable holding the secret that signs each
    /// body (HMAC-SHA256, header `X-Accessctl-Signature`).
    #[schemars(pattern(ENV_NAME_PATTERN))]
    pub secret_env: String,
}

/// How this site's access request is sent, when not as `requests:` says.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSiteRequest {
    /// The channel for this site.
    #[serde(default)]
    #[schemars(with = "RawChannel")]
    pub channel: Option<RawChannel>,

    /// Who receives the request instead of the site's `owner`.
    #[serde(default)]
    #[schemars(with = "RawContact")]
    pub to: Option<RawContact>,

    /// What the agency will do with the access on this site.
    #[serde(default)]
    #[schemars(with = "String", length(min = 1))]
    pub purpose: Option<String>,
}

/// The `policies:` block: the agency's email domains and the rules.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPolicies {
    /// Email domains of the agency's people (`example-agency.com`). Anyone
    /// else — and a Wix account whose email nothing tells — is outside the
    /// agency. A domain matches exactly, not its subdomains.
    #[schemars(length(min = 1, max = 100), extend("items" = { "type": "string", "pattern": DOMAIN_PATTERN }))]
    pub agency_domains: Vec<String>,

    /// The rules, checked in order; every violation is reported.
    #[serde(default)]
    #[schemars(length(max = 1000))]
    pub rules: Vec<RawRule>,
}

/// Pattern of an agency email domain: lower-case labels of letters,
/// digits and `-`, separated by dots.
pub const DOMAIN_PATTERN: &str =
    "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$";

/// One policy rule: exactly one of `forbid_outside`, `outside_max_days`,
/// `agency_admins` or `team_only`, optionally with the `platform` its roles
/// are on and its `severity`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("oneOf" = [
    { "required": ["forbid_outside"] },
    { "required": ["outside_max_days"] },
    { "required": ["agency_admins"] },
    { "required": ["team_only"] },
]))]
pub struct RawRule {
    /// No one outside the agency may hold these roles.
    #[serde(default)]
    #[schemars(with = "Vec<String>", length(min = 1, max = 100))]
    pub forbid_outside: Option<Vec<String>>,

    /// Access for someone outside the agency must end (`until`) within this
    /// many days from today.
    #[serde(default)]
    #[schemars(with = "u32", range(max = 3650))]
    pub outside_max_days: Option<u32>,

    /// How many people from the agency must hold the admin role on each
    /// site.
    #[serde(default)]
    #[schemars(with = "RawAdminCount")]
    pub agency_admins: Option<RawAdminCount>,

    /// These roles may be granted only through a team (`team:` grants).
    #[serde(default)]
    #[schemars(with = "Vec<String>", length(min = 1, max = 100))]
    pub team_only: Option<Vec<String>>,

    /// The platform whose roles the rule names: `wix` (default), `ga4` or
    /// `gtm` (the account permission). For `outside_max_days`, the
    /// platform it is limited to; default: every platform.
    #[serde(default)]
    #[schemars(with = "RawPlatform")]
    pub platform: Option<RawPlatform>,

    /// `error` (default: fails `validate` and refuses `apply`) or `warn`.
    #[serde(default)]
    #[schemars(extend("default" = "error"))]
    pub severity: RawSeverity,
}

/// The bounds of `agency_admins`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAdminCount {
    /// At least this many. Default: 1.
    #[serde(default)]
    #[schemars(with = "u32", range(max = 1000))]
    pub min: Option<u32>,

    /// At most this many. Default: no limit.
    #[serde(default)]
    #[schemars(with = "u32", range(min = 1, max = 1000))]
    pub max: Option<u32>,

    /// The role that counts as admin. Default: `Admin (Co-Owner)` on Wix,
    /// `admin` on GA4 and GTM.
    #[serde(default)]
    #[schemars(with = "String")]
    pub role: Option<String>,
}

/// A platform a policy rule concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawPlatform {
    Wix,
    Ga4,
    Gtm,
}

/// How serious a policy violation is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawSeverity {
    /// Fails `validate` and refuses `apply`.
    #[default]
    Error,
    /// Reported only.
    Warn,
}
