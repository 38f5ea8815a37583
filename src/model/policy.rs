//! The validated `policies:` block: the agency's email domains and the
//! rules, roles already checked against each platform's names and reduced
//! to the keys live state is compared by. `crate::policy` evaluates them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::diag::Pos;
use crate::platform::Platform;

/// The rules and whom they call the agency. Empty when the config has no
/// `policies:` block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policies {
    /// Lower-case email domains of the agency.
    pub agency_domains: Vec<String>,
    pub rules: Vec<Rule>,
}

impl Policies {
    /// Whether an email belongs to the agency: its domain is one of
    /// `agency_domains`, exactly. An unknown email is outside.
    pub fn is_agency(&self, email: Option<&str>) -> bool {
        email
            .and_then(|e| e.rsplit_once('@'))
            .is_some_and(|(_, domain)| {
                self.agency_domains
                    .iter()
                    .any(|d| d.eq_ignore_ascii_case(domain))
            })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub kind: RuleKind,
    /// The platform the rule concerns; `None` only for `outside_max_days`
    /// without `platform:` (every platform).
    pub platform: Option<Platform>,
    pub severity: Severity,
    /// Where the rule is written.
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleKind {
    /// No one outside the agency may hold these roles.
    ForbidOutside { roles: Vec<PolicyRole> },
    /// Outside the agency, access ends within this many days.
    OutsideMaxDays { days: u32 },
    /// Agency holders of `role` per site: at least `min`, at most `max`.
    AgencyAdmins {
        role: PolicyRole,
        min: u32,
        max: Option<u32>,
    },
    /// These roles only through a team grant.
    TeamOnly { roles: Vec<PolicyRole> },
}

impl RuleKind {
    /// The key the rule is written with.
    pub fn name(&self) -> &'static str {
        match self {
            RuleKind::ForbidOutside { .. } => "forbid_outside",
            RuleKind::OutsideMaxDays { .. } => "outside_max_days",
            RuleKind::AgencyAdmins { .. } => "agency_admins",
            RuleKind::TeamOnly { .. } => "team_only",
        }
    }
}

/// A role a rule names: as written (for messages) and as compared (a Wix
/// title's slug, a GA4/GTM role in lower case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRole {
    pub name: String,
    pub key: String,
}

/// How serious a violation of a rule is (also the plan's JSON for it).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Fails `validate` and refuses `apply`.
    Error,
    /// Reported only.
    Warn,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_agency_is_its_domains_exactly() {
        let p = Policies {
            agency_domains: vec!["agency.example".into()],
            rules: Vec::new(),
        };
        assert!(p.is_agency(Some("alice@agency.example")));
        assert!(p.is_agency(Some("alice@AGENCY.example")));
        // Not a subdomain, a look-alike or a suffix; the last `@` decides.
        assert!(!p.is_agency(Some("x@sub.agency.example")));
        assert!(!p.is_agency(Some("x@agency.example.evil.example")));
        assert!(!p.is_agency(Some("x@evilagency.example")));
        assert!(!p.is_agency(Some("agency.example@evil.example")));
        assert!(!p.is_agency(Some("x@agency.example@evil.example")));
        assert!(!p.is_agency(Some("no-at-sign")));
        // Unknown is outside.
        assert!(!p.is_agency(None));
    }
}
