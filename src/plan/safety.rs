//! Safety guards: refuse plans that remove too much or touch guarded people.
//!
//! Checked on every plan, before anything is applied. Each refusal states
//! the numbers and the flag that overrides it. Wix sites have few
//! collaborators, so the absolute caps (per site, per run) carry most of the
//! weight; the percentage cap only applies when a site loses more than one
//! collaborator, where a percentage means something. Pure: it reads the plan
//! and the config and nothing else.

use std::collections::BTreeSet;

use crate::model::Config;
use crate::plan::{Action, Change, Plan};

/// Flags that let a run go past a guard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--allow-removals`: past the removal caps.
    pub allow_removals: bool,
    /// `--allow-protected-changes`: remove or downgrade protected people.
    pub allow_protected: bool,
}

pub const ALLOW_REMOVALS_FLAG: &str = "--allow-removals";
pub const ALLOW_PROTECTED_FLAG: &str = "--allow-protected-changes";

/// Every guard the plan breaks, as messages for people.
pub fn check(plan: &Plan, config: &Config, overrides: Overrides) -> Vec<String> {
    let mut refusals = Vec::new();
    let safety = &config.safety;
    if !overrides.allow_removals {
        let mut total = 0usize;
        for site in &plan.sites {
            let removals = site
                .changes
                .iter()
                .filter(|c| c.action == Action::Remove)
                .count();
            total += removals;
            if let Some(cap) = safety.max_removals_per_site
                && removals > cap as usize
            {
                refusals.push(format!(
                    "site `{}`: {removals} removals, more than `safety.max_removals_per_site` ({cap}); pass {ALLOW_REMOVALS_FLAG} to apply anyway",
                    site.site
                ));
            }
            if let Some(percent) = safety.max_removal_percent
                && removals > 1
                && site.collaborators > 0
                && removals * 100 > usize::from(percent) * site.collaborators
            {
                refusals.push(format!(
                    "site `{}`: {removals} of its {} collaborators ({}%) would be removed, more than `safety.max_removal_percent` ({percent}%); pass {ALLOW_REMOVALS_FLAG} to apply anyway",
                    site.site,
                    site.collaborators,
                    removals * 100 / site.collaborators
                ));
            }
        }
        if let Some(cap) = safety.max_removals_total
            && total > cap as usize
        {
            refusals.push(format!(
                "{total} removals across all sites, more than `safety.max_removals_total` ({cap}); pass {ALLOW_REMOVALS_FLAG} to apply anyway"
            ));
        }
    }
    if !overrides.allow_protected {
        for site in &plan.sites {
            for change in &site.changes {
                if let Some((key, why)) = guarded_person(config, change)
                    && let Some(what) = harm(change)
                {
                    refusals.push(format!(
                        "site `{}`: would {what} `{key}`, who is {why}; pass {ALLOW_PROTECTED_FLAG} to apply anyway",
                        site.site
                    ));
                }
            }
        }
    }
    refusals
}

/// The guarded person a change concerns, and why they are guarded.
fn guarded_person<'a>(config: &'a Config, change: &Change) -> Option<(&'a str, &'static str)> {
    let safety = &config.safety;
    let protected: BTreeSet<&String> = safety.protect.iter().collect();
    safety.guarded_people().find_map(|key| {
        let person = config.people.get(key)?;
        let concerned = change.who == *key
            || change.email.as_deref() == Some(person.email.as_str())
            || (person.wix_account_id.is_some()
                && change.account_id.as_deref() == person.wix_account_id.as_deref());
        let why = if protected.contains(key) {
            "protected (`safety.protect`)"
        } else {
            "the identity accessctl acts for (`safety.self`)"
        };
        concerned.then_some((key.as_str(), why))
    })
}

/// What a change takes away, if anything.
fn harm(change: &Change) -> Option<&'static str> {
    match change.action {
        Action::Remove => Some("remove"),
        Action::ChangeRole => {
            let after: BTreeSet<&str> = change
                .roles_after
                .iter()
                .map(|r| r.title.as_str())
                .collect();
            let lost = change
                .roles_before
                .iter()
                .any(|r| !after.contains(r.title.as_str()));
            lost.then_some("downgrade")
        }
        _ => None,
    }
}
