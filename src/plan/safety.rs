//! Safety guards: refuse plans that remove too much or touch guarded people.
//!
//! Checked on every plan, before anything is applied. Each refusal states
//! the numbers and the flag that overrides it. Wix sites have few
//! collaborators, so the absolute caps (per site, per run) carry most of the
//! weight; the percentage cap only applies when a site loses more than one
//! collaborator, where a percentage means something. Pure: it reads the plan
//! the config and the guards recorded by the last apply, nothing else.
//!
//! The guards in force are the stricter of the config's and those recorded
//! by the last successful apply (`ledger::guards`): a pull request that
//! raises a cap, drops a protected person or `self` in the same change that
//! needs it gets a *safety change* refusal instead, until a maintainer
//! passes `--allow-safety-change`.

use std::collections::BTreeSet;

use crate::ledger::guards::{GuardRecord, Recorded};
use crate::model::{Config, Safety};
use crate::plan::{Action, Change, Plan};

/// Flags that let a run go past a guard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--allow-removals`: past the removal caps.
    pub allow_removals: bool,
    /// `--allow-protected-changes`: remove or downgrade protected people.
    pub allow_protected: bool,
    /// `--allow-safety-change`: the config's guards replace the recorded
    /// ones even where they are weaker.
    pub allow_safety_change: bool,
    /// `--max-removals-per-site`: a cap for this run; only ever tightens.
    pub max_removals_per_site: Option<u32>,
    /// `--max-removals-total`: a cap for this run; only ever tightens.
    pub max_removals_total: Option<u32>,
}

pub const ALLOW_REMOVALS_FLAG: &str = "--allow-removals";
pub const ALLOW_PROTECTED_FLAG: &str = "--allow-protected-changes";
pub const ALLOW_SAFETY_CHANGE_FLAG: &str = "--allow-safety-change";

/// Every guard the plan breaks, as messages for people.
pub fn check(
    plan: &Plan,
    config: &Config,
    recorded: &Recorded,
    overrides: Overrides,
) -> Vec<String> {
    let (safety, weakened) = in_force(&config.safety, recorded);
    let mut refusals = Vec::new();
    let safety = if overrides.allow_safety_change {
        config.safety.clone()
    } else {
        for w in weakened {
            refusals.push(format!(
                "safety change: {w}; a maintainer passes {ALLOW_SAFETY_CHANGE_FLAG} to apply it"
            ));
        }
        safety
    };
    let mut safety = safety;
    tighten(
        &mut safety.max_removals_per_site,
        overrides.max_removals_per_site,
    );
    tighten(&mut safety.max_removals_total, overrides.max_removals_total);
    let safety = &safety;
    if !overrides.allow_removals {
        let mut total = 0usize;
        for site in &plan.sites {
            // On a request-mode site the owner removes what accessctl asks
            // them to: a removal all the same.
            let removals = site
                .changes
                .iter()
                .filter(|c| matches!(c.action, Action::Remove | Action::RequestRemoval))
                .count();
            total += removals;
            let asked = if site.mode == crate::plan::Mode::Request {
                " (asked of the owner)"
            } else {
                ""
            };
            if let Some(cap) = safety.max_removals_per_site
                && removals > cap as usize
            {
                refusals.push(format!(
                    "site `{}`: {removals} removals{asked}, more than `safety.max_removals_per_site` ({cap}); pass {ALLOW_REMOVALS_FLAG} to apply anyway",
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
        // Each target on another platform is capped like a site.
        for site in &plan.sites {
            for t in &site.targets {
                let removals = t
                    .changes
                    .iter()
                    .filter(|c| c.kind == crate::platform::ChangeKind::Remove)
                    .count();
                total += removals;
                if let Some(cap) = safety.max_removals_per_site
                    && removals > cap as usize
                {
                    refusals.push(format!(
                        "site `{}`, {} {}: {removals} removals, more than `safety.max_removals_per_site` ({cap}); pass {ALLOW_REMOVALS_FLAG} to apply anyway",
                        site.site,
                        t.platform.title(),
                        t.target
                    ));
                }
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
        // On other platforms a guarded person is known by email: removing
        // them, or taking any role from them, is refused.
        for site in &plan.sites {
            for t in &site.targets {
                for change in &t.changes {
                    let Some(key) = safety.guarded_people().find(|k| {
                        config
                            .people
                            .get(*k)
                            .is_some_and(|p| change.who.is_email(&p.email))
                    }) else {
                        continue;
                    };
                    let loses = match (&change.from, &change.to) {
                        (Some(_), None) => true,
                        (Some(from), Some(to)) => {
                            !from.roles.is_subset(&to.roles)
                                || from
                                    .children
                                    .iter()
                                    .any(|(c, r)| to.children.get(c) != Some(r))
                        }
                        _ => false,
                    };
                    if loses {
                        refusals.push(format!(
                            "site `{}`, {} {}: the plan takes access from `{key}`, who is in `safety.protect` or is `safety.self`; pass --allow-protected-changes to apply anyway",
                            site.site,
                            t.platform.title(),
                            t.target
                        ));
                    }
                }
            }
        }
        for site in &plan.sites {
            for change in &site.changes {
                if let Some((key, why)) = guarded_person(config, safety, change)
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
fn guarded_person<'a>(
    config: &'a Config,
    safety: &'a Safety,
    change: &Change,
) -> Option<(&'a str, &'static str)> {
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

/// The guards in force — the stricter of the config's and the recorded
/// ones — and every way the config is weaker than the record.
pub fn in_force(config: &Safety, recorded: &Recorded) -> (Safety, Vec<String>) {
    let record = match recorded {
        Recorded::None => return (config.clone(), Vec::new()),
        Recorded::Missing => {
            return (
                config.clone(),
                vec![format!(
                    "the guards record (`{}`) is missing from the ledger directory, so the guards of the last apply cannot be compared",
                    crate::ledger::guards::GUARDS_FILE
                )],
            );
        }
        Recorded::Found { record, .. } => record,
    };
    let mut weakened = Vec::new();
    let mut safety = config.clone();
    if let Some(w) = tighter(
        "max_removals_per_site",
        record.max_removals_per_site,
        &mut safety.max_removals_per_site,
    ) {
        weakened.push(w);
    }
    if let Some(w) = tighter(
        "max_removals_total",
        record.max_removals_total,
        &mut safety.max_removals_total,
    ) {
        weakened.push(w);
    }
    let mut percent = config.max_removal_percent.map(u32::from);
    if let Some(w) = tighter(
        "max_removal_percent",
        record.max_removal_percent.map(u32::from),
        &mut percent,
    ) {
        weakened.push(w);
    }
    safety.max_removal_percent = percent.and_then(|p| u8::try_from(p).ok());
    for key in &record.protect {
        if !config.protect.contains(key) {
            weakened.push(format!("`{key}` is no longer in `safety.protect`"));
            safety.protect.push(key.clone());
        }
    }
    if let Some(me) = &record.self_person
        && config.self_person.as_ref() != Some(me)
    {
        weakened.push(format!(
            "`safety.self` was `{me}`, now {}",
            config
                .self_person
                .as_ref()
                .map_or_else(|| "unset".to_string(), |s| format!("`{s}`"))
        ));
        if !safety.protect.contains(me) {
            safety.protect.push(me.clone());
        }
    }
    (safety, weakened)
}

/// Keeps the tighter of a recorded cap and the config's in `now`; says how
/// the config's is weaker, if it is.
fn tighter(name: &str, was: Option<u32>, now: &mut Option<u32>) -> Option<String> {
    let was = was?;
    match *now {
        None => {
            *now = Some(was);
            Some(format!("`safety.{name}` was removed (it was {was})"))
        }
        Some(n) if n > was => {
            *now = Some(was);
            Some(format!("`safety.{name}` was raised from {was} to {n}"))
        }
        Some(_) => None,
    }
}

/// A cap from the command line: the lower of it and the cap in force.
fn tighten(cap: &mut Option<u32>, flag: Option<u32>) {
    if let Some(flag) = flag {
        *cap = Some(cap.map_or(flag, |c| c.min(flag)));
    }
}

/// The record a successful apply leaves: the config's guards.
pub fn record(config: &Config, now: time::OffsetDateTime) -> GuardRecord {
    GuardRecord::of(&config.safety, now)
}

/// What a change takes away, if anything.
fn harm(change: &Change) -> Option<&'static str> {
    match change.action {
        Action::Remove => Some("remove"),
        // On a request-mode site the owner does it, at accessctl's request.
        Action::RequestRemoval => Some("ask the owner to remove"),
        Action::ChangeRole | Action::RequestChange => {
            let after: BTreeSet<&str> = change
                .roles_after
                .iter()
                .map(|r| r.title.as_str())
                .collect();
            let lost = change
                .roles_before
                .iter()
                .any(|r| !after.contains(r.title.as_str()));
            match change.action {
                Action::ChangeRole => lost.then_some("downgrade"),
                _ => lost.then_some("ask the owner to downgrade"),
            }
        }
        _ => None,
    }
}
