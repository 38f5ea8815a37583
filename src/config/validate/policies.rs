//! The `policies:` block: each rule's roles checked against its platform's
//! names where they are written — Wix's predefined titles and the custom
//! roles this file grants, GA4's and GTM's vocabularies — and bounds that
//! contradict each other reported. Types, ranges and unknown keys are the
//! schema's ([`super::super::raw::RawPolicies`]).

use std::collections::BTreeSet;

use serde_json::Value;

use super::super::locate::YamlPath;
use super::super::raw::{RawPlatform, RawRule, RawSeverity};
use super::{Resolver, is_owner_role};
use crate::diag::did_you_mean;
use crate::model::policy::{Policies, PolicyRole, Rule, RuleKind, Severity};
use crate::platform::Platform;
use crate::roles::{Offline, PREDEFINED, check_offline, slug};

impl Resolver<'_> {
    /// The `policies:` block; `custom` holds the slugs of the custom Wix
    /// roles the file's grants and levels name.
    pub(super) fn policies(
        &mut self,
        value: Option<&Value>,
        custom: &BTreeSet<String>,
    ) -> Policies {
        let Some(v) = value else {
            return Policies::default();
        };
        let path = YamlPath::root().key("policies");
        // Each part on its own, so a broken rule hides nothing in the others.
        let domains = v
            .get("agency_domains")
            .and_then(|d| self.gate::<Vec<String>>(d, &path.key("agency_domains")))
            .unwrap_or_default();
        let mut policies = Policies {
            agency_domains: domains.iter().map(|d| d.trim().to_lowercase()).collect(),
            rules: Vec::new(),
        };
        let rpath = path.key("rules");
        let written: &[Value] = v
            .get("rules")
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice);
        let rules: Vec<(usize, RawRule)> = written
            .iter()
            .enumerate()
            .filter_map(|(i, r)| Some((i, self.gate::<RawRule>(r, &rpath.index(i))?)))
            .collect();
        for (i, rule) in &rules {
            let i = *i;
            let at = rpath.index(i);
            let context = format!("rule {} of `policies`", i + 1);
            let written = [
                rule.forbid_outside.is_some(),
                rule.outside_max_days.is_some(),
                rule.agency_admins.is_some(),
                rule.team_only.is_some(),
            ];
            // The schema reports none or several.
            if written.iter().filter(|w| **w).count() != 1 {
                continue;
            }
            let platform = rule.platform.map(|p| match p {
                RawPlatform::Wix => Platform::Wix,
                RawPlatform::Ga4 => Platform::Ga4,
                RawPlatform::Gtm => Platform::Gtm,
            });
            let on = platform.unwrap_or(Platform::Wix);
            let roles = |this: &mut Self, key: &str, names: &[String]| -> Option<Vec<PolicyRole>> {
                let mut out = Vec::new();
                let mut ok = true;
                for (j, name) in names.iter().enumerate() {
                    match this.policy_role(on, name, &at.key(key).index(j), &context, custom) {
                        Some(r) => out.push(r),
                        None => ok = false,
                    }
                }
                ok.then_some(out)
            };
            let kind = if let Some(names) = &rule.forbid_outside {
                roles(self, "forbid_outside", names).map(|roles| RuleKind::ForbidOutside { roles })
            } else if let Some(names) = &rule.team_only {
                roles(self, "team_only", names).map(|roles| RuleKind::TeamOnly { roles })
            } else if let Some(days) = rule.outside_max_days {
                Some(RuleKind::OutsideMaxDays { days })
            } else if let Some(count) = &rule.agency_admins {
                let cpath = at.key("agency_admins");
                let role = match &count.role {
                    Some(name) => self.policy_role(on, name, &cpath.key("role"), &context, custom),
                    None => {
                        let name = match on {
                            Platform::Wix => "Admin (Co-Owner)",
                            Platform::Ga4 | Platform::Gtm => "admin",
                        };
                        Some(PolicyRole {
                            name: name.to_string(),
                            key: slug(name),
                        })
                    }
                };
                let min = count.min.unwrap_or(1);
                if let Some(max) = count.max
                    && max < min
                {
                    let pos = self.tree.value_pos(&cpath.key("max"));
                    self.error(
                        pos,
                        format!("{context} wants at most {max} and at least {min} admins"),
                        Some("`max` must be at least `min` (default 1)".into()),
                    );
                    continue;
                }
                role.map(|role| RuleKind::AgencyAdmins {
                    role,
                    min,
                    max: count.max,
                })
            } else {
                None
            };
            let Some(kind) = kind else { continue };
            let platform = match kind {
                RuleKind::OutsideMaxDays { .. } => platform,
                _ => Some(on),
            };
            policies.rules.push(Rule {
                kind,
                platform,
                severity: match rule.severity {
                    RawSeverity::Error => Severity::Error,
                    RawSeverity::Warn => Severity::Warn,
                },
                pos: self.tree.value_pos(&at),
            });
        }
        policies
    }

    /// One role a rule names, on `platform`, or a located error with the
    /// closest known name.
    fn policy_role(
        &mut self,
        platform: Platform,
        name: &str,
        path: &YamlPath,
        context: &str,
        custom: &BTreeSet<String>,
    ) -> Option<PolicyRole> {
        let Some(vocab) = platform.vocabulary() else {
            return self.policy_wix_role(name, path, context, custom);
        };
        let role = self.platform_role(platform, vocab.roles, name, path, context)?;
        Some(PolicyRole {
            name: role.clone(),
            key: role,
        })
    }

    fn policy_wix_role(
        &mut self,
        name: &str,
        path: &YamlPath,
        context: &str,
        custom: &BTreeSet<String>,
    ) -> Option<PolicyRole> {
        let pos = self.tree.value_pos(path);
        let shown = crate::escape::line(name.trim());
        if name.trim().is_empty() || is_owner_role(name) {
            self.error(
                pos,
                format!("{context} names `{shown}`, which no one can be granted"),
                Some("name a Wix role a grant can give, e.g. `Admin (Co-Owner)`".into()),
            );
            return None;
        }
        let key = slug(name);
        let known = match check_offline(name) {
            Offline::Predefined => true,
            Offline::Typo(_) => false,
            Offline::Custom(_) => custom.contains(&key),
        };
        if known {
            return Some(PolicyRole {
                name: name.trim().to_string(),
                key,
            });
        }
        let customs: Vec<&str> = custom.iter().map(String::as_str).collect();
        let close = did_you_mean(name.trim(), PREDEFINED.iter().copied())
            .or_else(|| did_you_mean(&key, customs.iter().copied()));
        let hint = match close {
            Some(c) => format!("did you mean `{c}`?"),
            None => "a rule names a predefined Wix role (`accessctl plan` lists a site's roles) or a custom role a grant or level of this file gives".into(),
        };
        self.error(
            pos,
            format!("unknown Wix role `{shown}` in {context}"),
            Some(hint),
        );
        None
    }
}
