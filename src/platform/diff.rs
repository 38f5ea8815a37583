//! The platform-neutral diff: desired bindings against a target's live
//! state, under the target's unmanaged policy and the lock-out guards. Pure:
//! no I/O, no clock.

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Unmanaged;
use super::{
    Access, Capabilities, Change, ChangeKind, GrantEffect, Lifecycle, Target, TargetState,
};

/// What the config wants one principal to hold on a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    pub access: Access,
    /// The config entries behind it (`person alice`, `team seo (level
    /// analytics)`), for the plan's reason column.
    pub reason: String,
}

/// A change the guards held back, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Refused {
    pub change: Change,
    pub reason: String,
}

/// The diff of one target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetDiff {
    pub changes: Vec<Change>,
    pub refused: Vec<Refused>,
    pub warnings: Vec<String>,
}

/// Diff `desired` (by lower-cased email) against `state`.
///
/// - A binding's permissions on children the target does not manage are
///   kept as they are live (GTM containers the config does not name).
/// - Bindings whose grants all ended (`ended`: email → why) are removed.
/// - Bindings the config does not name follow `unmanaged`; the provider's
///   own principal (`self_email`) is never changed or removed.
/// - A change that would leave the target without any holder of the
///   admin role is refused, not planned.
/// - Lifecycles (platforms with invitations): a pending invitation is the
///   principal's binding — not sent again when it grants what the config
///   wants, updated or withdrawn like an active binding otherwise — but its
///   roles are not held yet, so it never counts as the last admin; on an
///   invitation platform, a principal added or not yet active holds nothing
///   until it accepts. A binding in an unknown state is never changed or
///   removed, and the config's grant to it waits until it is known.
///   Providers report open invitations only (an expired one is no binding).
pub fn diff(
    target: &Target,
    caps: &Capabilities,
    desired: &BTreeMap<String, Desired>,
    state: &TargetState,
    unmanaged: Unmanaged,
    self_email: Option<&str>,
) -> TargetDiff {
    let keep: Vec<&str> = self_email.into_iter().collect();
    diff_ending(
        target,
        caps,
        desired,
        state,
        unmanaged,
        &keep,
        &BTreeMap::new(),
    )
}

/// [`diff`], where the bindings in `ended` (email → why) go whatever
/// `unmanaged` says (their grants ended, `until`), and the principals in
/// `untouchable` (the provider's own account, the client's owner) are
/// never changed or removed.
pub fn diff_ending(
    target: &Target,
    caps: &Capabilities,
    desired: &BTreeMap<String, Desired>,
    state: &TargetState,
    unmanaged: Unmanaged,
    untouchable: &[&str],
    ended: &BTreeMap<String, String>,
) -> TargetDiff {
    let mut out = TargetDiff::default();
    let is_self = |email: &str| untouchable.iter().any(|s| s.eq_ignore_ascii_case(email));

    for child in &target.managed_children {
        if !state.children.contains(child) {
            out.warnings.push(format!(
                "{} {} has no {child}; grants on it are left out of the plan",
                target.platform.title(),
                target.id
            ));
        }
    }

    let mut live: BTreeMap<String, &super::Binding> = BTreeMap::new();
    let mut unknown: BTreeSet<String> = BTreeSet::new();
    for binding in &state.bindings {
        match &binding.email {
            Some(email) if binding.lifecycle == Lifecycle::Unknown => {
                let email = email.to_lowercase();
                out.warnings.push(format!(
                    "{email}'s access ({}) is in a state the platform does not tell; it is left alone, and the config's grant to it waits until it is known",
                    binding.access.describe()
                ));
                unknown.insert(email);
            }
            Some(email) => {
                live.insert(email.to_lowercase(), binding);
            }
            None => out.warnings.push(format!(
                "a binding with no email ({}) is left alone",
                binding
                    .platform_id
                    .as_deref()
                    .or(binding.handle.as_deref())
                    .unwrap_or("no id")
            )),
        }
    }

    for (email, want) in desired {
        if unknown.contains(email) {
            continue;
        }
        if is_self(email) {
            out.warnings.push(format!(
                "{email} is the account accessctl acts as, or the client's owner; the config's grant to it is not planned"
            ));
            continue;
        }
        let current = live.get(email.as_str());
        let mut access = want.access.clone();
        access
            .children
            .retain(|child, _| state.children.contains(child));
        if let Some(binding) = current {
            for (child, roles) in &binding.access.children {
                if !target.managed_children.contains(child) {
                    access.children.insert(child.clone(), roles.clone());
                }
            }
        }
        match current {
            None => out.changes.push(Change {
                kind: ChangeKind::Add,
                email: email.clone(),
                from: None,
                to: Some(access),
                handle: None,
                reason: want.reason.clone(),
            }),
            Some(binding) if binding.access != access => out.changes.push(Change {
                kind: ChangeKind::Update,
                email: email.clone(),
                from: Some(binding.access.clone()),
                to: Some(access),
                handle: binding.handle.clone(),
                reason: want.reason.clone(),
            }),
            Some(_) => {}
        }
    }

    for (email, binding) in &live {
        if desired.contains_key(email.as_str()) || is_self(email) {
            continue;
        }
        if let Some(reason) = ended.get(email.as_str()) {
            removal(target, caps, email, binding, reason, true, &mut out);
            continue;
        }
        match unmanaged {
            Unmanaged::Keep => {}
            Unmanaged::Warn => out.warnings.push(format!(
                "{email} holds {} and is not in the config (unmanaged: warn)",
                binding.access.describe()
            )),
            Unmanaged::Remove => removal(
                target,
                caps,
                email,
                binding,
                "not in the config (unmanaged: remove)",
                false,
                &mut out,
            ),
        }
    }

    if let Some(admin) = caps.admin_role {
        guard_last_admin(admin, caps.effect, &live, &mut out);
    }
    out
}

/// Take from `binding` what the config manages: remove it, or, when it
/// holds roles on children the config does not manage and the platform
/// keeps those under a least role (GTM: account `user`), keep just those.
/// `managed`: the binding goes because the config managed it (ended or
/// dropped grants), not because of `unmanaged: remove`.
fn removal(
    target: &Target,
    caps: &Capabilities,
    email: &str,
    binding: &super::Binding,
    reason: &str,
    managed: bool,
    out: &mut TargetDiff,
) {
    let kept: BTreeMap<String, BTreeSet<String>> = binding
        .access
        .children
        .iter()
        .filter(|(child, roles)| !target.managed_children.contains(*child) && !roles.is_empty())
        .map(|(c, r)| (c.clone(), r.clone()))
        .collect();
    let change = |kind, to: Option<Access>, reason: String| Change {
        kind,
        email: email.to_string(),
        from: Some(binding.access.clone()),
        to,
        handle: binding.handle.clone(),
        reason,
    };
    match caps.child_holder_role {
        Some(least) if !kept.is_empty() => {
            let to = Access {
                roles: BTreeSet::from([least.to_string()]),
                children: kept,
            };
            // Said when something changes, or when the config managed the
            // binding (an offboarding wants to know what stays).
            if managed || to != binding.access {
                out.warnings.push(format!(
                    "{email} keeps {} ({reason}, but the config does not manage those containers)",
                    to.describe()
                ));
            }
            if to != binding.access {
                out.changes.push(change(
                    ChangeKind::Update,
                    Some(to),
                    format!(
                        "{reason}; what it holds on containers the config does not manage is kept"
                    ),
                ));
            }
        }
        _ => out
            .changes
            .push(change(ChangeKind::Remove, None, reason.to_string())),
    }
}

/// Refuse the changes that would take the admin role from its last holders.
/// Only an active binding holds a role: a pending invitation's do not count,
/// and on an invitation platform neither does what a change gives a
/// principal that is not active yet (it holds it once it accepts).
fn guard_last_admin(
    admin: &str,
    effect: GrantEffect,
    live: &BTreeMap<String, &super::Binding>,
    out: &mut TargetDiff,
) {
    let holds = |access: Option<&Access>| access.is_some_and(|a| a.roles.contains(admin));
    let active = |email: &str| {
        live.get(email)
            .is_some_and(|b| b.lifecycle == Lifecycle::Active)
    };
    let mut after: BTreeSet<&str> = live
        .iter()
        .filter(|(e, b)| active(e) && holds(Some(&b.access)))
        .map(|(e, _)| e.as_str())
        .collect();
    if after.is_empty() {
        return;
    }
    for change in &out.changes {
        let at_once = effect == GrantEffect::Immediate || active(&change.email);
        if holds(change.to.as_ref()) && at_once {
            after.insert(change.email.as_str());
        } else {
            after.remove(change.email.as_str());
        }
    }
    if !after.is_empty() {
        return;
    }
    // What takes the role from an active holder is refused; withdrawing a
    // pending invitation takes nothing anyone holds.
    let (kept, refused): (Vec<Change>, Vec<Change>) = std::mem::take(&mut out.changes)
        .into_iter()
        .partition(|c| !(active(&c.email) && holds(c.from.as_ref())) || holds(c.to.as_ref()));
    out.changes = kept;
    out.refused = refused
        .into_iter()
        .map(|change| Refused {
            change,
            reason: format!("it would leave no one with {admin}; grant {admin} to someone first"),
        })
        .collect();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::{Binding, GrantEffect, Lifecycle, Platform, PrincipalKey};

    const CAPS: Capabilities = Capabilities {
        effect: GrantEffect::Immediate,
        key: PrincipalKey::Email,
        batch_max: None,
        requests_per_second: None,
        daily_removals: None,
        admin_role: Some("admin"),
        roles: &["viewer", "admin"],
        child_roles: &["read", "edit"],
        child_holder_role: None,
        scopes: &[],
    };

    fn target(managed: &[&str]) -> Target {
        Target {
            platform: Platform::Gtm,
            id: "accounts/1".into(),
            credentials_env: None,
            managed_children: managed.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn access(roles: &[&str], children: &[(&str, &str)]) -> Access {
        Access {
            roles: roles.iter().map(|s| s.to_string()).collect(),
            children: children
                .iter()
                .map(|(c, r)| (c.to_string(), BTreeSet::from([r.to_string()])))
                .collect(),
        }
    }

    fn binding(email: &str, a: Access) -> Binding {
        Binding {
            email: Some(email.into()),
            platform_id: None,
            access: a,
            lifecycle: Lifecycle::Active,
            handle: Some(format!("h/{email}")),
        }
    }

    fn want(a: Access) -> Desired {
        Desired {
            access: a,
            reason: "person".into(),
        }
    }

    fn state(bindings: Vec<Binding>, children: &[&str]) -> TargetState {
        TargetState {
            bindings,
            children: children.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn a_binding_that_goes_keeps_what_it_holds_on_unmanaged_containers() {
        let caps = Capabilities {
            child_holder_role: Some("user"),
            scopes: &[],
            ..CAPS
        };
        let live = state(
            vec![
                binding("boss@a.test", access(&["admin"], &[])),
                binding(
                    "gone@a.test",
                    access(&["admin"], &[("GTM-A", "read"), ("GTM-B", "publish")]),
                ),
                binding("only-a@a.test", access(&["user"], &[("GTM-A", "edit")])),
                binding("kept@a.test", access(&["user"], &[("GTM-B", "read")])),
            ],
            &["GTM-A", "GTM-B"],
        );
        let desired = BTreeMap::from([("boss@a.test".to_string(), want(access(&["admin"], &[])))]);
        let d = diff(
            &target(&["GTM-A"]),
            &caps,
            &desired,
            &live,
            Unmanaged::Remove,
            None,
        );
        let got: Vec<(&str, ChangeKind, Option<&Access>)> = d
            .changes
            .iter()
            .map(|c| (c.email.as_str(), c.kind, c.to.as_ref()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "gone@a.test",
                    ChangeKind::Update,
                    Some(&access(&["user"], &[("GTM-B", "publish")]))
                ),
                ("only-a@a.test", ChangeKind::Remove, None),
            ],
            "kept@a.test holds only what the config does not manage: no change"
        );
        // Without a least role to keep them under, a binding goes whole.
        let d = diff(
            &target(&["GTM-A"]),
            &CAPS,
            &desired,
            &live,
            Unmanaged::Remove,
            None,
        );
        assert_eq!(d.changes.len(), 3);
        assert!(d.changes.iter().all(|c| c.kind == ChangeKind::Remove));
    }

    #[test]
    fn unmanaged_containers_keep_what_they_have() {
        let live = state(
            vec![
                binding("boss@a.test", access(&["admin"], &[])),
                binding(
                    "x@a.test",
                    access(&["user"], &[("GTM-A", "read"), ("GTM-B", "publish")]),
                ),
            ],
            &["GTM-A", "GTM-B"],
        );
        let desired = BTreeMap::from([
            ("boss@a.test".to_string(), want(access(&["admin"], &[]))),
            (
                "x@a.test".to_string(),
                want(access(&["user"], &[("GTM-A", "edit")])),
            ),
        ]);
        let d = diff(
            &target(&["GTM-A"]),
            &CAPS,
            &desired,
            &live,
            Unmanaged::Warn,
            None,
        );
        assert_eq!(d.changes.len(), 1);
        let to = d.changes[0].to.as_ref().unwrap();
        assert_eq!(
            to,
            &access(&["user"], &[("GTM-A", "edit"), ("GTM-B", "publish")])
        );
    }

    #[test]
    fn equal_access_plans_nothing_and_self_is_never_touched() {
        let live = state(
            vec![
                binding("a@a.test", access(&["viewer"], &[])),
                binding("robot@p.iam.gserviceaccount.com", access(&["admin"], &[])),
            ],
            &[],
        );
        let desired = BTreeMap::from([("a@a.test".to_string(), want(access(&["viewer"], &[])))]);
        let d = diff(
            &target(&[]),
            &CAPS,
            &desired,
            &live,
            Unmanaged::Remove,
            Some("robot@p.iam.gserviceaccount.com"),
        );
        assert!(d.changes.is_empty(), "{d:?}");
        assert!(d.refused.is_empty());
    }

    #[test]
    fn the_last_admin_is_not_removed() {
        let live = state(vec![binding("boss@a.test", access(&["admin"], &[]))], &[]);
        let desired = BTreeMap::from([("new@a.test".to_string(), want(access(&["viewer"], &[])))]);
        let d = removing(&desired, &live);
        assert_eq!(d.changes.len(), 1, "the add stays: {d:?}");
        assert_eq!(d.changes[0].kind, ChangeKind::Add);
        assert_eq!(d.refused.len(), 1);
        assert_eq!(d.refused[0].change.email, "boss@a.test");
        assert!(d.refused[0].reason.contains("no one with admin"));
    }

    #[test]
    fn unmanaged_policies() {
        let live = state(vec![binding("stray@b.test", access(&["viewer"], &[]))], &[]);
        let none = BTreeMap::new();
        let keep = diff(&target(&[]), &CAPS, &none, &live, Unmanaged::Keep, None);
        assert!(keep.changes.is_empty() && keep.warnings.is_empty());
        let warn = diff(&target(&[]), &CAPS, &none, &live, Unmanaged::Warn, None);
        assert!(warn.changes.is_empty());
        assert!(warn.warnings[0].contains("stray@b.test"), "{warn:?}");
        let remove = diff(&target(&[]), &CAPS, &none, &live, Unmanaged::Remove, None);
        assert_eq!(remove.changes[0].kind, ChangeKind::Remove);
        assert_eq!(remove.changes[0].handle.as_deref(), Some("h/stray@b.test"));
    }

    fn in_state(email: &str, a: Access, lifecycle: Lifecycle) -> Binding {
        Binding {
            lifecycle,
            ..binding(email, a)
        }
    }

    fn pending() -> Lifecycle {
        Lifecycle::Pending {
            invitation: None,
            expires: None,
        }
    }

    fn kinds(d: &TargetDiff) -> Vec<(&str, ChangeKind)> {
        d.changes
            .iter()
            .map(|c| (c.email.as_str(), c.kind))
            .collect()
    }

    /// The diff of a target that manages no container, under
    /// `unmanaged: remove`, with the default capabilities.
    fn removing(desired: &BTreeMap<String, Desired>, live: &TargetState) -> TargetDiff {
        diff(&target(&[]), &CAPS, desired, live, Unmanaged::Remove, None)
    }

    #[test]
    fn a_pending_invitation_is_not_sent_again_and_changes_like_a_binding() {
        let live = state(
            vec![in_state("p@a.test", access(&["viewer"], &[]), pending())],
            &[],
        );
        let run = |desired: &BTreeMap<String, Desired>| removing(desired, &live);
        let same = BTreeMap::from([("p@a.test".to_string(), want(access(&["viewer"], &[])))]);
        assert!(run(&same).changes.is_empty(), "{:?}", run(&same));
        let more = BTreeMap::from([("p@a.test".to_string(), want(access(&["admin"], &[])))]);
        let d = run(&more);
        assert_eq!(kinds(&d), [("p@a.test", ChangeKind::Update)]);
        assert_eq!(d.changes[0].handle.as_deref(), Some("h/p@a.test"));
        let gone = run(&BTreeMap::new());
        assert_eq!(kinds(&gone), [("p@a.test", ChangeKind::Remove)]);
        assert!(gone.refused.is_empty(), "{gone:?}");
    }

    #[test]
    fn a_binding_in_an_unknown_state_is_left_alone() {
        let live = state(
            vec![in_state(
                "u@a.test",
                access(&["viewer"], &[]),
                Lifecycle::Unknown,
            )],
            &[],
        );
        let wants_admin = BTreeMap::from([("u@a.test".to_string(), want(access(&["admin"], &[])))]);
        for desired in [wants_admin, BTreeMap::new()] {
            let d = removing(&desired, &live);
            assert!(d.changes.is_empty(), "{d:?}");
            assert!(
                d.warnings
                    .iter()
                    .any(|w| w.contains("u@a.test") && w.contains("left alone")),
                "{d:?}"
            );
        }
    }

    #[test]
    fn a_pending_admin_is_not_an_admin_yet() {
        let live = state(
            vec![
                binding("boss@a.test", access(&["admin"], &[])),
                in_state("next@a.test", access(&["admin"], &[]), pending()),
            ],
            &[],
        );
        let desired = BTreeMap::from([("next@a.test".to_string(), want(access(&["admin"], &[])))]);
        let d = removing(&desired, &live);
        assert!(d.changes.is_empty(), "{d:?}");
        assert_eq!(d.refused.len(), 1, "{d:?}");
        assert_eq!(d.refused[0].change.email, "boss@a.test");
        // Withdrawing the invitation takes nothing anyone holds.
        let desired = BTreeMap::from([("boss@a.test".to_string(), want(access(&["admin"], &[])))]);
        let d = removing(&desired, &live);
        assert_eq!(kinds(&d), [("next@a.test", ChangeKind::Remove)]);
        assert!(d.refused.is_empty(), "{d:?}");
    }

    #[test]
    fn on_an_invitation_platform_a_new_admin_holds_nothing_until_accepting() {
        let live = state(vec![binding("boss@a.test", access(&["admin"], &[]))], &[]);
        let desired = BTreeMap::from([("new@a.test".to_string(), want(access(&["admin"], &[])))]);
        let run = |caps: &Capabilities| {
            diff(&target(&[]), caps, &desired, &live, Unmanaged::Remove, None)
        };
        // Immediate: the new admin holds the role at once; the old one goes.
        let d = run(&CAPS);
        assert_eq!(
            kinds(&d),
            [
                ("new@a.test", ChangeKind::Add),
                ("boss@a.test", ChangeKind::Remove)
            ]
        );
        assert!(d.refused.is_empty());
        // By invitation: the old admin stays until the new one accepts.
        let invitation = Capabilities {
            effect: GrantEffect::Invitation,
            ..CAPS
        };
        let d = run(&invitation);
        assert_eq!(kinds(&d), [("new@a.test", ChangeKind::Add)]);
        assert_eq!(d.refused.len(), 1);
        assert_eq!(d.refused[0].change.email, "boss@a.test");
    }

    #[test]
    fn a_missing_container_is_left_out_with_a_warning() {
        let live = state(vec![], &["GTM-A"]);
        let desired = BTreeMap::from([(
            "x@a.test".to_string(),
            want(access(&["user"], &[("GTM-A", "read"), ("GTM-Z", "read")])),
        )]);
        let d = diff(
            &target(&["GTM-A", "GTM-Z"]),
            &CAPS,
            &desired,
            &live,
            Unmanaged::Warn,
            None,
        );
        assert_eq!(
            d.changes[0].to,
            Some(access(&["user"], &[("GTM-A", "read")]))
        );
        assert!(d.warnings.iter().any(|w| w.contains("GTM-Z")), "{d:?}");
    }
}
