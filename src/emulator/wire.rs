//! JSON shapes the emulator reads and writes on the Wix API paths, written
//! from `wix-api.md` and deliberately *not* shared with the client's wire
//! types: if either side misreads a field name, the two disagree and the
//! provider tests fail instead of both sides agreeing on the same mistake.
//!
//! Request fields are `Option`s so that a missing required field becomes a
//! Wix-shaped validation error naming the field, instead of a serde message.
//! Unknown request fields are ignored, as Wix does.

use serde::{Deserialize, Serialize};
use serde_json::Value;

// ---------------------------------------------------------------- roles

/// `GET /roles-management/roles` response.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetRolesInfoResponse {
    pub predefined_roles: Vec<RoleInfo>,
    pub custom_roles: Vec<RoleInfo>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleInfo {
    pub id: String,
    pub title: String,
    pub description: String,
    /// `NoRestriction` | `Site` | `Account` (PascalCase on the wire).
    pub restrict_from_level: &'static str,
}

// --------------------------------------------------------- contributors

/// `GET /roles-management/v2/contributors/query` response. Wix returns no
/// emails, no roles and no paging here; neither does the emulator.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QuerySiteContributorsResponse {
    pub contributors: Vec<ContributorRef>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContributorRef {
    pub account_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_owner_id: Option<String>,
}

/// `PUT /roles-management/contributor/change/role` request.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeRoleRequest {
    pub account_id: Option<String>,
    pub new_roles: Option<Vec<RoleAssignmentRequest>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignmentRequest {
    pub role_id: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeRoleResponse {
    pub new_assigned_roles: Vec<AssignedRole>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AssignedRole {
    pub role_id: String,
    pub assignment_id: String,
}

/// `POST|DELETE /roles-management/contributor/remove` request.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoveContributorRequest {
    pub account_id: Option<String>,
}

// -------------------------------------------------------------- invites

/// `POST /invites/site-invite/bulk` request.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkInviteRequest {
    pub policy_ids: Option<Vec<String>>,
    pub emails: Option<Vec<String>>,
    // Accepted and ignored: the emulator sends no email.
    #[allow(dead_code)]
    pub invite_purpose: Option<String>,
    #[allow(dead_code)]
    pub default_email_language: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkInviteResponse {
    pub invites: Vec<SiteInvite>,
    pub failed_emails: Vec<String>,
}

/// `POST /invites/site-invite/{id}/resend` optional request body.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResendInviteRequest {
    #[allow(dead_code)]
    pub default_email_language: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResendInviteResponse {
    pub invite: SiteInvite,
}

/// The Site Invite object as Wix serializes it (REST names, `id` not `_id`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SiteInvite {
    pub id: String,
    pub site_id: String,
    pub email: String,
    pub policy_ids: Vec<String>,
    /// Deprecated in Wix in favour of `inviterAccountId`; both are sent.
    pub inviter_id: String,
    pub inviter_account_id: String,
    /// `Pending` | `Used` | `Deleted` | `Declined` | `Expired`.
    pub status: &'static str,
    pub accept_link: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted_by_account_id: Option<String>,
    pub date_created: String,
    pub date_updated: String,
    pub expiration_date: String,
}

/// Empty `{}` response of revoke and remove.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Empty {}

// --------------------------------------------------------------- errors

/// Wix error body. Exactly one of the two detail kinds is present.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorBody {
    pub message: String,
    pub details: ErrorDetails,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ErrorDetails {
    ApplicationError(ApplicationError),
    ValidationError(ValidationError),
}

#[derive(Debug, Clone, Serialize)]
pub struct ApplicationError {
    pub code: String,
    pub description: String,
    pub data: Value,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationError {
    pub field_violations: Vec<FieldViolation>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}
