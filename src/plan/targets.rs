//! Planning a site's targets on platforms other than Wix (GA4, GTM): the
//! config's grants in force, merged per email, against the live bindings,
//! through the platform-neutral [`crate::platform::diff`]. Pure: the same
//! grants, observation and day give the same [`TargetPlan`].

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::Date;

use super::Listing;
use crate::model::SiteTarget;
use crate::platform::diff::{self, Desired, Refused};
use crate::platform::{
    Access, Capabilities, Change, ChangeKind, GrantEffect, Lifecycle, Platform, TargetState, Who,
};

/// What one target needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetPlan {
    pub platform: Platform,
    /// The platform's name for the scope: `properties/200`, `accounts/6000`.
    pub target: String,
    /// SHA-256 over the bindings observed; absent when the target could not
    /// be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Changes in the order `apply` makes them: adds, updates, removals.
    pub changes: Vec<Change>,
    /// Changes a guard held back (the last admin, …), with why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<Refused>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Why the target could not be planned; a target with errors has no
    /// changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// The emails the config gives access here and that hold it once the
    /// changes are made: `apply` records them in the ledger, so that they
    /// are removed when the config drops them, whatever `unmanaged` says.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed: Vec<String>,
    /// Bindings as observed, one line per email, sorted.
    #[schemars(with = "Vec<String>")]
    pub before: Listing,
    /// Bindings after the changes, same format.
    #[schemars(with = "Vec<String>")]
    pub after: Listing,
}

/// What a provider saw on a target, with what the plan needs to know about
/// the provider itself.
#[derive(Debug, Clone)]
pub struct Seen {
    pub state: TargetState,
    pub capabilities: Capabilities,
    /// The principal the provider acts as.
    pub self_email: Option<String>,
}

/// Plan one target. `seen` is the provider's reading, or why there is none.
/// `owner` is the client's contact: like the provider's own account, it is
/// never changed or removed. `granted` are the emails the ledger says
/// accessctl manages here: those the config no longer names are removed.
pub fn plan_target(
    target: &SiteTarget,
    seen: &Result<Seen, String>,
    owner: Option<&str>,
    granted: &BTreeSet<String>,
    today: Date,
    expiry_warning_days: u32,
) -> TargetPlan {
    let mut plan = TargetPlan {
        platform: target.target.platform,
        target: target.target.id.clone(),
        fingerprint: None,
        changes: Vec::new(),
        refused: Vec::new(),
        warnings: Vec::new(),
        errors: Vec::new(),
        managed: Vec::new(),
        before: Listing::default(),
        after: Listing::default(),
    };
    let (desired, mut ended) = desired(target, today, expiry_warning_days, &mut plan.warnings);
    for email in granted {
        let who = Who::Email(email.clone());
        if !desired.contains_key(&who) {
            ended.entry(who).or_insert_with(|| {
                "granted through accessctl; no grant in the config any more".to_string()
            });
        }
    }
    let seen = match seen {
        Ok(seen) => seen,
        Err(message) => {
            plan.errors.push(message.clone());
            return plan;
        }
    };
    let before: BTreeMap<String, Held> = seen
        .state
        .bindings
        .iter()
        .filter_map(|b| {
            let held = Held {
                access: b.access.clone(),
                mark: mark(&b.lifecycle),
            };
            Some((b.email.as_ref()?.to_lowercase(), held))
        })
        .collect();
    plan.before = lines(&before);
    plan.fingerprint = Some(fingerprint(&plan.before));
    let untouchable: Vec<&str> = seen
        .self_email
        .as_deref()
        .into_iter()
        .chain(owner)
        .collect();
    let d = diff::diff_ending(
        &target.target,
        &seen.capabilities,
        &desired,
        &seen.state,
        target.unmanaged,
        &untouchable,
        &ended,
    );
    plan.warnings.extend(d.warnings(&target.target));
    let mut changes = d.changes;
    changes.sort_by(|a, b| (a.kind, &a.who).cmp(&(b.kind, &b.who)));
    let mut after: BTreeMap<String, Held> = before.clone();
    for c in &changes {
        let email = c.who.to_string();
        match (&c.kind, &c.to) {
            (ChangeKind::Remove, _) | (_, None) => {
                after.remove(&email);
            }
            (_, Some(to)) => {
                // An invitation stays one until accepted; on an invitation
                // platform an added principal is invited.
                let mark = match before.get(&email) {
                    Some(held) => held.mark,
                    None if seen.capabilities.effect == GrantEffect::Invitation => INVITED,
                    None => "",
                };
                after.insert(
                    email,
                    Held {
                        access: to.clone(),
                        mark,
                    },
                );
            }
        }
    }
    plan.managed = desired
        .keys()
        .filter_map(Who::email)
        .filter(|email| {
            after.contains_key(*email) && !untouchable.iter().any(|u| u.eq_ignore_ascii_case(email))
        })
        .map(str::to_string)
        .collect();
    plan.after = lines(&after).same_as(&plan.before);
    plan.changes = changes;
    plan.refused = d.refused;
    plan
}

/// The grants in force, merged per email (the higher exclusive role wins),
/// and the emails whose every grant has ended, with why.
fn desired(
    target: &SiteTarget,
    today: Date,
    window: u32,
    warnings: &mut Vec<String>,
) -> (BTreeMap<Who, Desired>, BTreeMap<Who, String>) {
    let vocabulary = target.target.platform.vocabulary();
    let mut wants: BTreeMap<Who, Desired> = BTreeMap::new();
    let mut ended: BTreeMap<Who, String> = BTreeMap::new();
    for grant in &target.grants {
        let email = grant.email.to_string();
        let who = Who::Email(email.clone());
        if let Some(until) = grant.until {
            // `until` is the last day of access.
            if until < today {
                ended
                    .entry(who)
                    .or_insert_with(|| format!("{}: the grant ended on {until}", grant.reason));
                continue;
            }
            let days = (until - today).whole_days();
            if (0..=i64::from(window)).contains(&days) {
                warnings.push(format!(
                    "the grant of {} to `{email}` ends on {until}; extend `until` to keep it",
                    grant.access.describe()
                ));
            }
        }
        match wants.get_mut(&who) {
            Some(want) => {
                if let Some(v) = vocabulary {
                    want.access = v.merge(&want.access, &grant.access);
                }
                if !want.reason.contains(&grant.reason) {
                    want.reason.push_str("; ");
                    want.reason.push_str(&grant.reason);
                }
            }
            None => {
                wants.insert(
                    who,
                    Desired::new(grant.access.clone(), grant.reason.clone()),
                );
            }
        }
    }
    ended.retain(|who, _| !wants.contains_key(who));
    (wants, ended)
}

/// What a principal holds, as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Held {
    access: Access,
    /// After the email: `""` when active, [`INVITED`] while an invitation
    /// is open, `" (state unknown)"` when the platform does not say.
    mark: &'static str,
}

const INVITED: &str = " (invited)";

fn mark(lifecycle: &Lifecycle) -> &'static str {
    match lifecycle {
        Lifecycle::Active => "",
        Lifecycle::Pending { .. } => INVITED,
        Lifecycle::Unknown => " (state unknown)",
    }
}

fn lines(by_email: &BTreeMap<String, Held>) -> Listing {
    by_email
        .iter()
        .map(|(email, held)| format!("{email}{}: {}", held.mark, held.access.describe()))
        .collect()
}

/// The SHA-256 of the before listing: an invitation accepted (or a state
/// that becomes known) changes it, as a changed role does.
fn fingerprint(before: &Listing) -> String {
    let mut h = Sha256::new();
    for line in before.lines() {
        h.update(line.as_bytes());
        h.update(b"\n");
    }
    crate::hex::encode(&h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{TargetGrant, Unmanaged};
    use crate::platform::{Binding, GrantEffect, Lifecycle, PrincipalKey, Target};

    fn caps() -> Capabilities {
        Capabilities {
            effect: GrantEffect::Immediate,
            key: PrincipalKey::Email,
            batch_max: Some(1000),
            requests_per_second: None,
            daily_removals: Some(500),
            admin_role: Some("admin"),
            roles: &["viewer", "analyst", "editor", "admin"],
            child_roles: &[],
            child_holder_role: None,
            invitations_editable: true,
            scopes: &[],
        }
    }

    fn grant(email: &str, role: &str, until: Option<Date>, reason: &str) -> TargetGrant {
        TargetGrant {
            email: email.into(),
            access: Access::roles([role]),
            until,
            reason: reason.into(),
            via_team: false,
            pos: Default::default(),
        }
    }

    fn site_target(grants: Vec<TargetGrant>, unmanaged: Unmanaged) -> SiteTarget {
        SiteTarget {
            target: Target {
                platform: Platform::Ga4,
                id: "properties/200".into(),
                credentials_env: None,
                managed_children: BTreeSet::new(),
            },
            unmanaged,
            grants,
            pos: Default::default(),
        }
    }

    fn seen(bindings: &[(&str, &str)]) -> Result<Seen, String> {
        Ok(Seen {
            state: TargetState {
                bindings: bindings
                    .iter()
                    .map(|(e, r)| Binding {
                        email: Some(e.to_string()),
                        platform_id: None,
                        access: Access::roles([*r]),
                        lifecycle: Lifecycle::Active,
                        handle: Some(format!("properties/200/accessBindings/{e}")),
                    })
                    .collect(),
                children: BTreeSet::new(),
            },
            capabilities: caps(),
            self_email: Some("robot@p.iam.gserviceaccount.com".into()),
        })
    }

    const TODAY: Date = time::macros::date!(2026 - 11 - 15);

    #[test]
    fn two_grants_merge_to_the_higher_role_and_ended_ones_go() {
        let target = site_target(
            vec![
                grant("a@x.test", "viewer", None, "team seo (person a)"),
                grant("a@x.test", "editor", None, "person a"),
                grant(
                    "old@x.test",
                    "viewer",
                    Some(time::macros::date!(2026 - 11 - 14)),
                    "person old",
                ),
            ],
            Unmanaged::Keep,
        );
        let plan = plan_target(
            &target,
            &seen(&[
                ("a@x.test", "viewer"),
                ("old@x.test", "viewer"),
                ("boss@x.test", "admin"),
            ]),
            None,
            &BTreeSet::new(),
            TODAY,
            14,
        );
        let got: Vec<(ChangeKind, &str)> = plan
            .changes
            .iter()
            .map(|c| (c.kind, c.who.email().unwrap_or_default()))
            .collect();
        assert_eq!(
            got,
            [
                (ChangeKind::Update, "a@x.test"),
                (ChangeKind::Remove, "old@x.test")
            ]
        );
        assert_eq!(plan.changes[0].to, Some(Access::roles(["editor"])));
        assert!(
            plan.changes[1].reason.contains("ended on 2026-11-14"),
            "{plan:?}"
        );
        assert_eq!(
            plan.after.lines().collect::<Vec<_>>(),
            ["a@x.test: editor", "boss@x.test: admin"]
        );
        assert!(plan.fingerprint.is_some());
    }

    #[test]
    fn invitations_are_listed_as_such_and_their_acceptance_changes_the_fingerprint() {
        let target = site_target(
            vec![
                grant("p@x.test", "viewer", None, "person p"),
                grant("new@x.test", "viewer", None, "person new"),
            ],
            Unmanaged::Keep,
        );
        let with = |lifecycle: Lifecycle, effect: GrantEffect| {
            let mut seen = seen(&[("p@x.test", "viewer")]).expect("seen");
            seen.state.bindings[0].lifecycle = lifecycle;
            seen.capabilities.effect = effect;
            plan_target(&target, &Ok(seen), None, &BTreeSet::new(), TODAY, 14)
        };
        let pending = Lifecycle::Pending {
            invitation: Some("inv-1".into()),
            expires: None,
        };
        let invited = with(pending, GrantEffect::Invitation);
        assert_eq!(
            invited.before.lines().collect::<Vec<_>>(),
            ["p@x.test (invited): viewer"]
        );
        assert_eq!(
            invited.after.lines().collect::<Vec<_>>(),
            ["new@x.test (invited): viewer", "p@x.test (invited): viewer"],
            "the open invitation is not sent again; the new grant is an invitation"
        );
        let accepted = with(Lifecycle::Active, GrantEffect::Invitation);
        assert_eq!(
            accepted.before.lines().collect::<Vec<_>>(),
            ["p@x.test: viewer"]
        );
        assert_ne!(invited.fingerprint, accepted.fingerprint);
        // Where grants take effect at once, nothing is marked.
        let immediate = with(Lifecycle::Active, GrantEffect::Immediate);
        assert_eq!(
            immediate.after.lines().collect::<Vec<_>>(),
            ["new@x.test: viewer", "p@x.test: viewer"]
        );
    }

    #[test]
    fn an_unreadable_target_is_an_error_with_no_changes() {
        let target = site_target(
            vec![grant("a@x.test", "viewer", None, "person a")],
            Unmanaged::Warn,
        );
        let plan = plan_target(
            &target,
            &Err("403: no access".into()),
            None,
            &BTreeSet::new(),
            TODAY,
            14,
        );
        assert!(plan.changes.is_empty());
        assert_eq!(plan.errors, ["403: no access"]);
        assert_eq!(plan.fingerprint, None);
    }

    #[test]
    fn a_grant_ending_soon_is_warned_about() {
        let target = site_target(
            vec![grant(
                "a@x.test",
                "viewer",
                Some(time::macros::date!(2026 - 11 - 20)),
                "person a",
            )],
            Unmanaged::Warn,
        );
        let plan = plan_target(
            &target,
            &seen(&[("a@x.test", "viewer")]),
            None,
            &BTreeSet::new(),
            TODAY,
            14,
        );
        assert!(plan.changes.is_empty());
        assert!(plan.warnings[0].contains("ends on 2026-11-20"), "{plan:?}");
    }
}
