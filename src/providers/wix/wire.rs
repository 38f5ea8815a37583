//! Wix REST wire types, as the client reads and writes them.
//!
//! Written from `shared/reference/wix-api.md`, separate from the emulator's
//! own wire types so a misread field cannot pass on both sides. Every field
//! the client reads is optional and unknown fields are ignored: the docs warn
//! that fields are often left out, and several shapes are unconfirmed.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct RoleInfo {
    pub id: Option<String>,
    pub title: Option<String>,
    #[allow(dead_code, reason = "kept so -vvv logs show the whole role")]
    pub description: Option<String>,
    pub restrict_from_level: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct GetRolesInfoResponse {
    #[serde(default)]
    pub predefined_roles: Vec<RoleInfo>,
    #[serde(default)]
    pub custom_roles: Vec<RoleInfo>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Contributor {
    pub account_id: Option<String>,
    pub account_owner_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct QuerySiteContributorsResponse {
    #[serde(default)]
    pub contributors: Vec<Contributor>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkSiteInviteRequest<'a> {
    pub policy_ids: &'a [String],
    pub emails: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_email_language: Option<&'a str>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct SiteInvite {
    pub id: Option<String>,
    pub email: Option<String>,
    #[serde(default)]
    pub policy_ids: Vec<String>,
    pub status: Option<String>,
    pub date_created: Option<String>,
    pub expiration_date: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct BulkSiteInviteResponse {
    #[serde(default)]
    pub invites: Vec<SiteInvite>,
    #[serde(default)]
    pub failed_emails: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct SiteInviteResponse {
    pub invite: Option<SiteInvite>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleRef<'a> {
    pub role_id: &'a str,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeContributorRoleRequest<'a> {
    pub account_id: &'a str,
    pub new_roles: Vec<RoleRef<'a>>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoveContributorRequest<'a> {
    pub account_id: &'a str,
}

/// The Wix error body; every part optional because gateways send others.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct ErrorBody {
    pub message: Option<String>,
    pub details: Option<ErrorDetails>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetails {
    pub application_error: Option<ApplicationError>,
    pub validation_error: Option<ValidationError>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct ApplicationError {
    pub code: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ValidationError {
    #[serde(default)]
    pub field_violations: Vec<FieldViolation>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct FieldViolation {
    pub field: Option<String>,
    pub description: Option<String>,
}

impl ErrorBody {
    /// One line: the message, the code, and any field violations.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if let Some(m) = &self.message {
            parts.push(m.clone());
        }
        if let Some(d) = &self.details {
            if let Some(a) = &d.application_error {
                if let Some(code) = &a.code {
                    parts.push(format!("code {code}"));
                }
                if let Some(desc) = &a.description
                    && Some(desc) != self.message.as_ref()
                {
                    parts.push(desc.clone());
                }
            }
            if let Some(v) = &d.validation_error {
                for fv in &v.field_violations {
                    parts.push(format!(
                        "{}: {}",
                        fv.field.as_deref().unwrap_or("?"),
                        fv.description.as_deref().unwrap_or("invalid")
                    ));
                }
            }
        }
        parts.join("; ")
    }
}
