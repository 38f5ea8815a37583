//! Switches that make the emulator play one reading of each API detail
//! Wix's docs leave open (`wix-api.md`, UNCONFIRMED), so tests can show the
//! client either works or stops with a precise message under every one.
//!
//! The defaults are the emulator's historical behaviour (and the client's
//! first guess). A seed chooses others under `quirks:` (see `seed.rs`); they
//! hold for the whole run. Fault injection (`faults.rs`) is a separate
//! concern: faults are failures, quirks are answers Wix might legitimately
//! give.

use serde::{Deserialize, Serialize};

/// One run's readings of the unconfirmed details.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Quirks {
    /// Where Remove Contributor reads `accountId`; absent: the body for
    /// POST, the query string for DELETE (a gateway's usual reading).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remove_param: Option<ParamPlace>,
    /// The one method Change Role answers; the other gets 405.
    pub change_role_method: ChangeRoleMethod,
    /// What Revoke Invite answers for an invite that is not pending.
    pub revoke_not_found: NotFoundBody,
    /// What `accountOwnerId` carries on each Query Site Contributors row.
    pub account_owner_id: AccountOwnerId,
    /// Whether the unfiltered Query Site Contributors lists the owner.
    pub owner_listed: OwnerListed,
    /// Whether Query Site Contributors honours `filter.policyIds`.
    pub role_filter: RoleFilter,
    /// Which id header Get Roles Info accepts.
    pub roles_id_header: RolesIdHeader,
    /// Whether Query Site Contributors answers `{}` whatever the site holds.
    pub contributors_answer: ContributorsAnswer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamPlace {
    Body,
    Query,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChangeRoleMethod {
    #[default]
    #[serde(rename = "PUT", alias = "put")]
    Put,
    #[serde(rename = "PATCH", alias = "patch")]
    Patch,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotFoundBody {
    /// 404 with Wix's error body, code `NOT_FOUND`.
    #[default]
    Wix,
    /// 404 with an empty body, as a gateway might send.
    Bare,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountOwnerId {
    /// The site owner's account id on every row.
    #[default]
    SiteAccount,
    /// An id that is not the owning account's (say, the owner's *user* id),
    /// the same on every row.
    OwnerUserId,
    /// Each row's own account id (the owner of the account *it* joined).
    PerContributor,
    /// The field is left out.
    Omitted,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OwnerListed {
    #[default]
    Listed,
    Hidden,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoleFilter {
    #[default]
    Honoured,
    /// Every filtered query answers the unfiltered list.
    Ignored,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RolesIdHeader {
    /// Either header (both are checked when both are sent).
    #[default]
    Either,
    /// Only `wix-account-id`; `wix-site-id` alone is a 400.
    Account,
    /// Only `wix-site-id`; `wix-account-id` alone is a 400.
    Site,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContributorsAnswer {
    #[default]
    Full,
    /// `{}` for every query, whatever the site holds.
    Empty,
}

/// The user id `AccountOwnerId::OwnerUserId` reports for an owning account.
pub fn owner_user_id(account: &str) -> String {
    format!("user-of-{account}")
}
