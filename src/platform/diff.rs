//! The platform-neutral diff: desired bindings against a target's live
//! state, under the target's unmanaged policy and the lock-out guards. Pure:
//! no I/O, no clock. It decides; what it finds worth telling comes back as
//! [`Note`]s, which each caller words for its platform ([`Note::describe`]
//! is the neutral wording).

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Unmanaged;
use super::{
    Access, Binding, Capabilities, Change, ChangeKind, GrantEffect, Lifecycle, PrincipalKey,
    Target, TargetState, Who,
};

/// What the config wants one principal to hold on a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    pub access: Access,
    /// The config entries behind it (`person alice`, `team seo (level
    /// analytics)`), for the plan's reason column.
    pub reason: String,
    /// Where an invitation goes when the principal is named by its platform
    /// id and does not hold the target yet; `None` for one named by email.
    pub invite_email: Option<String>,
}

impl Desired {
    pub fn new(access: Access, reason: impl Into<String>) -> Self {
        Desired {
            access,
            reason: reason.into(),
            invite_email: None,
        }
    }
}

/// A change the guards held back, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Refused {
    pub change: Change,
    pub reason: String,
}

/// What the diff found worth telling, beside its changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// The config manages a child scope the target does not have.
    MissingChild { child: String },
    /// A binding that names no principal the platform keys on; left alone.
    NoKey { id: Option<String> },
    /// A binding in a state the platform does not tell: left alone, and the
    /// config's grant to it (`wanted`) waits.
    Unknown {
        who: Who,
        access: Access,
        wanted: bool,
    },
    /// The config grants something to an untouchable principal (the
    /// provider's own account, the client's owner): not planned.
    Untouchable { who: Who },
    /// A principal the config does not name, left under `unmanaged: warn`.
    Unmanaged { who: Who, access: Access },
    /// A binding that goes keeps what it holds on children the config does
    /// not manage, under the least role (GTM).
    Keeps {
        who: Who,
        access: Access,
        reason: String,
    },
    /// The config names a principal by its platform id alone, the platform
    /// does not list it, and access can only be granted by an invitation to
    /// an email.
    NoEmail { who: Who },
}

impl Note {
    /// The neutral wording, as GA4's and GTM's plans show it.
    pub fn describe(&self, target: &Target) -> String {
        match self {
            Note::MissingChild { child } => format!(
                "{} {} has no {child}; grants on it are left out of the plan",
                target.platform.title(),
                target.id
            ),
            Note::NoKey { id } => format!(
                "a binding with no email ({}) is left alone",
                id.as_deref().unwrap_or("no id")
            ),
            Note::Unknown { who, access, .. } => format!(
                "{who}'s access ({}) is in a state the platform does not tell; it is left alone, and the config's grant to it waits until it is known",
                access.describe()
            ),
            Note::Untouchable { who } => format!(
                "{who} is the account accessctl acts as, or the client's owner; the config's grant to it is not planned"
            ),
            Note::Unmanaged { who, access } => format!(
                "{who} holds {} and is not in the config (unmanaged: warn)",
                access.describe()
            ),
            Note::Keeps {
                who,
                access,
                reason,
            } => format!(
                "{who} keeps {} ({reason}, but the config does not manage those containers)",
                access.describe()
            ),
            Note::NoEmail { who } => format!(
                "{who} does not hold access here and no email is known for it, so it cannot be invited"
            ),
        }
    }
}

/// The diff of one target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetDiff {
    pub changes: Vec<Change>,
    pub refused: Vec<Refused>,
    pub notes: Vec<Note>,
    /// Desired principals whose open invitation already grants what the
    /// config wants: nothing to do but wait for them to accept.
    pub waiting: Vec<Who>,
}

impl TargetDiff {
    /// The notes in their neutral wording.
    pub fn warnings(&self, target: &Target) -> Vec<String> {
        self.notes.iter().map(|n| n.describe(target)).collect()
    }
}

/// The reason a pending invitation that cannot be edited is withdrawn
/// before it is sent again.
const WITHDRAWN_TO_RESEND: &str =
    "the open invitation grants other access, and the platform cannot change an invitation";

/// Diff `desired` against `state`.
///
/// - Principals are matched by key: a desired email with the binding of
///   that email, a desired platform id with the binding of that id, or,
///   when the id holds nothing yet, with the open invitation to the
///   desired principal's `invite_email`.
/// - A binding's permissions on children the target does not manage are
///   kept as they are live (GTM containers the config does not name).
/// - Bindings whose grants all ended (`ended`: who → why; a binding is
///   looked up by its platform id, then by its email) are removed.
/// - Bindings the config does not name follow `unmanaged`; the provider's
///   own principal (`self_email`) is never changed or removed.
/// - A change that would leave the target without any holder of the
///   admin role is refused, not planned.
/// - Lifecycles (platforms with invitations): a pending invitation is the
///   principal's binding — not sent again when it grants what the config
///   wants, updated (or, where invitations cannot be edited, withdrawn and
///   sent again) or withdrawn like an active binding otherwise — but its
///   roles are not held yet, so it never counts as the last admin; on an
///   invitation platform, a principal added or not yet active holds nothing
///   until it accepts. A binding in an unknown state is never changed or
///   removed, and the config's grant to it waits until it is known.
///   Providers report open invitations only (an expired one is no binding).
/// - On a platform that keys writes on emails, a binding with no email is
///   left alone; on one that keys them on its ids, it is the principal of
///   its id.
pub fn diff(
    target: &Target,
    caps: &Capabilities,
    desired: &BTreeMap<Who, Desired>,
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

/// One binding the diff works on, under its key.
struct Live<'a> {
    who: Who,
    binding: &'a Binding,
}

impl Live<'_> {
    fn active(&self) -> bool {
        self.binding.lifecycle == Lifecycle::Active
    }
}

/// [`diff`], where the bindings in `ended` (who → why) go whatever
/// `unmanaged` says (their grants ended, `until`), and the principals in
/// `untouchable` (the provider's own account, the client's owner, by
/// email) are never changed or removed.
pub fn diff_ending(
    target: &Target,
    caps: &Capabilities,
    desired: &BTreeMap<Who, Desired>,
    state: &TargetState,
    unmanaged: Unmanaged,
    untouchable: &[&str],
    ended: &BTreeMap<Who, String>,
) -> TargetDiff {
    let mut out = TargetDiff::default();
    let is_self = |who: &Who| untouchable.iter().any(|s| who.is_email(s));

    for child in &target.managed_children {
        if !state.children.contains(child) {
            out.notes.push(Note::MissingChild {
                child: child.clone(),
            });
        }
    }

    let mut live: Vec<Live<'_>> = Vec::with_capacity(state.bindings.len());
    for binding in &state.bindings {
        let who = match caps.key {
            PrincipalKey::Email => binding.email.as_ref().map(|e| Who::Email(e.to_lowercase())),
            PrincipalKey::PlatformId => Who::of(binding),
        };
        match who {
            Some(who) => live.push(Live { who, binding }),
            None => out.notes.push(Note::NoKey {
                id: binding
                    .platform_id
                    .clone()
                    .or_else(|| binding.handle.clone()),
            }),
        }
    }
    live.sort_by(|a, b| a.who.cmp(&b.who));
    let mut by_email: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_id: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, l) in live.iter().enumerate() {
        if let Some(email) = &l.binding.email {
            by_email.entry(email.to_lowercase()).or_insert(i);
        }
        if let Some(id) = &l.binding.platform_id {
            by_id.entry(id.as_str()).or_insert(i);
        }
    }
    let unknown = |i: usize| live[i].binding.lifecycle == Lifecycle::Unknown;
    let mut claimed = vec![false; live.len()];

    for (who, want) in desired {
        let found = match who {
            Who::Email(email) => by_email.get(&email.to_lowercase()).copied(),
            Who::PlatformId(id) => by_id.get(id.as_str()).copied().or_else(|| {
                // Not on the target yet: its open invitation, if any.
                let email = want.invite_email.as_ref()?.to_lowercase();
                by_email
                    .get(&email)
                    .copied()
                    .filter(|&i| live[i].binding.platform_id.is_none())
            }),
        };
        if let Some(i) = found {
            claimed[i] = true;
            if unknown(i) {
                continue;
            }
        }
        if is_self(who) {
            out.notes.push(Note::Untouchable { who: who.clone() });
            continue;
        }
        let current = found.map(|i| &live[i]);
        let wait = |out: &mut TargetDiff, l: &Live<'_>| {
            if matches!(l.binding.lifecycle, Lifecycle::Pending { .. }) {
                out.waiting.push(who.clone());
            }
        };
        // Nothing nested on either side (every Wix site, every GA4 target):
        // what the config gives is what the binding must hold, and equal
        // access is the common case, so it is compared before it is copied.
        if let Some(l) = current
            && want.access.children.is_empty()
            && l.binding.access.children.is_empty()
            && l.binding.access == want.access
        {
            wait(&mut out, l);
            continue;
        }
        let mut access = want.access.clone();
        access
            .children
            .retain(|child, _| state.children.contains(child));
        if let Some(l) = current {
            for (child, roles) in &l.binding.access.children {
                if !target.managed_children.contains(child) {
                    access.children.insert(child.clone(), roles.clone());
                }
            }
        }
        let add = |to: Access, reason: String| -> Option<Change> {
            // An invitation goes to an email.
            let invitee = match who {
                Who::Email(_) => who.clone(),
                Who::PlatformId(_) => match &want.invite_email {
                    Some(email) => Who::Email(email.to_lowercase()),
                    None if caps.effect == GrantEffect::Invitation => return None,
                    None => who.clone(),
                },
            };
            Some(Change {
                kind: ChangeKind::Add,
                who: invitee,
                from: None,
                to: Some(to),
                handle: None,
                reason,
            })
        };
        match current {
            None => match add(access, want.reason.clone()) {
                Some(change) => out.changes.push(change),
                None => out.notes.push(Note::NoEmail { who: who.clone() }),
            },
            Some(l) if l.binding.access == access => wait(&mut out, l),
            Some(l)
                if !caps.invitations_editable
                    && matches!(l.binding.lifecycle, Lifecycle::Pending { .. }) =>
            {
                out.changes.push(Change {
                    kind: ChangeKind::Remove,
                    who: l.who.clone(),
                    from: Some(l.binding.access.clone()),
                    to: None,
                    handle: l.binding.handle.clone(),
                    reason: WITHDRAWN_TO_RESEND.to_string(),
                });
                out.changes.extend(add(access, want.reason.clone()));
            }
            Some(l) => out.changes.push(Change {
                kind: ChangeKind::Update,
                who: l.who.clone(),
                from: Some(l.binding.access.clone()),
                to: Some(access),
                handle: l.binding.handle.clone(),
                reason: want.reason.clone(),
            }),
        }
    }

    for (i, l) in live.iter().enumerate() {
        if unknown(i) {
            out.notes.push(Note::Unknown {
                who: l.who.clone(),
                access: l.binding.access.clone(),
                wanted: claimed[i],
            });
            continue;
        }
        if claimed[i] || is_self(&l.who) {
            continue;
        }
        let ended = l
            .binding
            .platform_id
            .as_ref()
            .and_then(|id| ended.get(&Who::PlatformId(id.clone())))
            .or_else(|| {
                let email = l.binding.email.as_ref()?.to_lowercase();
                ended.get(&Who::Email(email))
            });
        if let Some(reason) = ended {
            removal(target, caps, l, reason, true, &mut out);
            continue;
        }
        match unmanaged {
            Unmanaged::Keep => {}
            Unmanaged::Warn => out.notes.push(Note::Unmanaged {
                who: l.who.clone(),
                access: l.binding.access.clone(),
            }),
            Unmanaged::Remove => removal(
                target,
                caps,
                l,
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

/// Take from a binding what the config manages: remove it, or, when it
/// holds roles on children the config does not manage and the platform
/// keeps those under a least role (GTM: account `user`), keep just those.
/// `managed`: the binding goes because the config managed it (ended or
/// dropped grants), not because of `unmanaged: remove`.
fn removal(
    target: &Target,
    caps: &Capabilities,
    live: &Live<'_>,
    reason: &str,
    managed: bool,
    out: &mut TargetDiff,
) {
    let binding = live.binding;
    let kept: BTreeMap<String, BTreeSet<String>> = binding
        .access
        .children
        .iter()
        .filter(|(child, roles)| !target.managed_children.contains(*child) && !roles.is_empty())
        .map(|(c, r)| (c.clone(), r.clone()))
        .collect();
    let change = |kind, to: Option<Access>, reason: String| Change {
        kind,
        who: live.who.clone(),
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
                out.notes.push(Note::Keeps {
                    who: live.who.clone(),
                    access: to.clone(),
                    reason: reason.to_string(),
                });
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
fn guard_last_admin(admin: &str, effect: GrantEffect, live: &[Live<'_>], out: &mut TargetDiff) {
    let holds = |access: Option<&Access>| access.is_some_and(|a| a.roles.contains(admin));
    let active = |who: &Who| live.iter().any(|l| &l.who == who && l.active());
    let mut after: BTreeSet<&Who> = live
        .iter()
        .filter(|l| l.active() && holds(Some(&l.binding.access)))
        .map(|l| &l.who)
        .collect();
    if after.is_empty() {
        return;
    }
    for change in &out.changes {
        let at_once = effect == GrantEffect::Immediate || active(&change.who);
        if holds(change.to.as_ref()) && at_once {
            after.insert(&change.who);
        } else {
            after.remove(&change.who);
        }
    }
    if !after.is_empty() {
        return;
    }
    // What takes the role from an active holder is refused; withdrawing a
    // pending invitation takes nothing anyone holds.
    let (kept, refused): (Vec<Change>, Vec<Change>) = std::mem::take(&mut out.changes)
        .into_iter()
        .partition(|c| !(active(&c.who) && holds(c.from.as_ref())) || holds(c.to.as_ref()));
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
        invitations_editable: true,
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
        Desired::new(a, "person")
    }

    fn email(e: &str) -> Who {
        Who::Email(e.to_string())
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
        let desired = BTreeMap::from([(email("boss@a.test"), want(access(&["admin"], &[])))]);
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
            .map(|c| (c.who.email().unwrap_or_default(), c.kind, c.to.as_ref()))
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
            (email("boss@a.test"), want(access(&["admin"], &[]))),
            (
                email("x@a.test"),
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
        let desired = BTreeMap::from([(email("a@a.test"), want(access(&["viewer"], &[])))]);
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
        let desired = BTreeMap::from([(email("new@a.test"), want(access(&["viewer"], &[])))]);
        let d = removing(&desired, &live);
        assert_eq!(d.changes.len(), 1, "the add stays: {d:?}");
        assert_eq!(d.changes[0].kind, ChangeKind::Add);
        assert_eq!(d.refused.len(), 1);
        assert_eq!(d.refused[0].change.who, email("boss@a.test"));
        assert!(d.refused[0].reason.contains("no one with admin"));
    }

    #[test]
    fn unmanaged_policies() {
        let live = state(vec![binding("stray@b.test", access(&["viewer"], &[]))], &[]);
        let none = BTreeMap::new();
        let keep = diff(&target(&[]), &CAPS, &none, &live, Unmanaged::Keep, None);
        assert!(keep.changes.is_empty() && keep.notes.is_empty());
        let warn = diff(&target(&[]), &CAPS, &none, &live, Unmanaged::Warn, None);
        assert!(warn.changes.is_empty());
        assert!(
            warn.warnings(&target(&[]))[0].contains("stray@b.test"),
            "{warn:?}"
        );
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
            .map(|c| (c.who.email().unwrap_or_default(), c.kind))
            .collect()
    }

    /// The diff of a target that manages no container, under
    /// `unmanaged: remove`, with the default capabilities.
    fn removing(desired: &BTreeMap<Who, Desired>, live: &TargetState) -> TargetDiff {
        diff(&target(&[]), &CAPS, desired, live, Unmanaged::Remove, None)
    }

    #[test]
    fn a_pending_invitation_is_not_sent_again_and_changes_like_a_binding() {
        let live = state(
            vec![in_state("p@a.test", access(&["viewer"], &[]), pending())],
            &[],
        );
        let run = |desired: &BTreeMap<Who, Desired>| removing(desired, &live);
        let same = BTreeMap::from([(email("p@a.test"), want(access(&["viewer"], &[])))]);
        assert!(run(&same).changes.is_empty(), "{:?}", run(&same));
        assert_eq!(run(&same).waiting, [email("p@a.test")]);
        let more = BTreeMap::from([(email("p@a.test"), want(access(&["admin"], &[])))]);
        let d = run(&more);
        assert_eq!(kinds(&d), [("p@a.test", ChangeKind::Update)]);
        assert_eq!(d.changes[0].handle.as_deref(), Some("h/p@a.test"));
        let gone = run(&BTreeMap::new());
        assert_eq!(kinds(&gone), [("p@a.test", ChangeKind::Remove)]);
        assert!(gone.refused.is_empty(), "{gone:?}");
    }

    #[test]
    fn an_invitation_that_cannot_be_edited_is_withdrawn_and_sent_again() {
        let caps = Capabilities {
            effect: GrantEffect::Invitation,
            invitations_editable: false,
            ..CAPS
        };
        let live = state(
            vec![in_state("p@a.test", access(&["viewer"], &[]), pending())],
            &[],
        );
        let more = BTreeMap::from([(email("p@a.test"), want(access(&["admin"], &[])))]);
        let d = diff(&target(&[]), &caps, &more, &live, Unmanaged::Remove, None);
        assert_eq!(
            kinds(&d),
            [
                ("p@a.test", ChangeKind::Remove),
                ("p@a.test", ChangeKind::Add)
            ]
        );
        assert_eq!(d.changes[0].handle.as_deref(), Some("h/p@a.test"));
        assert_eq!(d.changes[0].reason, WITHDRAWN_TO_RESEND);
        assert_eq!(d.changes[1].to, Some(access(&["admin"], &[])));
        assert!(
            d.refused.is_empty(),
            "a withdrawn invitation held nothing: {d:?}"
        );
    }

    /// A platform that names people by its own ids (Wix): a principal is
    /// found by id, and an invitation goes to an email.
    #[test]
    fn principals_named_by_platform_id() {
        let caps = Capabilities {
            effect: GrantEffect::Invitation,
            key: PrincipalKey::PlatformId,
            invitations_editable: false,
            admin_role: None,
            ..CAPS
        };
        let by_id = |id: &str, a: Access| Binding {
            email: None,
            platform_id: Some(id.into()),
            access: a,
            lifecycle: Lifecycle::Active,
            handle: Some(id.into()),
        };
        let live = state(
            vec![
                by_id("acc-1", access(&["viewer"], &[])),
                by_id("acc-stray", access(&["viewer"], &[])),
                by_id("acc-ended", access(&["viewer"], &[])),
                in_state("invited@a.test", access(&["viewer"], &[]), pending()),
            ],
            &[],
        );
        let id = |s: &str| Who::PlatformId(s.to_string());
        let with_email = |a: Access, e: &str| Desired {
            invite_email: Some(e.to_string()),
            ..want(a)
        };
        let desired = BTreeMap::from([
            // Listed under its id: its roles change.
            (id("acc-1"), want(access(&["admin"], &[]))),
            // Not listed; its open invitation grants what it should.
            (
                id("acc-2"),
                with_email(access(&["viewer"], &[]), "Invited@a.test"),
            ),
            // Not listed, no invitation: invited.
            (
                id("acc-3"),
                with_email(access(&["viewer"], &[]), "new@a.test"),
            ),
            // Not listed and no email to invite.
            (id("acc-4"), want(access(&["viewer"], &[]))),
        ]);
        let ended = BTreeMap::from([(id("acc-ended"), "its grant ended".to_string())]);
        let d = diff_ending(
            &target(&[]),
            &caps,
            &desired,
            &live,
            Unmanaged::Warn,
            &[],
            &ended,
        );
        let got: Vec<(ChangeKind, &Who, Option<&str>)> = d
            .changes
            .iter()
            .map(|c| (c.kind, &c.who, c.handle.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                (ChangeKind::Update, &id("acc-1"), Some("acc-1")),
                (ChangeKind::Add, &email("new@a.test"), None),
                (ChangeKind::Remove, &id("acc-ended"), Some("acc-ended")),
            ]
        );
        assert_eq!(
            d.notes,
            [
                Note::NoEmail { who: id("acc-4") },
                Note::Unmanaged {
                    who: id("acc-stray"),
                    access: access(&["viewer"], &[])
                },
            ]
        );
        // On a platform keyed by email, the same bindings with no email are
        // left alone.
        let d = diff(
            &target(&[]),
            &CAPS,
            &BTreeMap::new(),
            &live,
            Unmanaged::Remove,
            None,
        );
        assert_eq!(kinds(&d), [("invited@a.test", ChangeKind::Remove)]);
        assert_eq!(
            d.notes
                .iter()
                .filter(|n| matches!(n, Note::NoKey { .. }))
                .count(),
            3
        );
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
        let wants_admin = BTreeMap::from([(email("u@a.test"), want(access(&["admin"], &[])))]);
        for desired in [wants_admin, BTreeMap::new()] {
            let d = removing(&desired, &live);
            assert!(d.changes.is_empty(), "{d:?}");
            assert!(
                d.warnings(&target(&[]))
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
        let desired = BTreeMap::from([(email("next@a.test"), want(access(&["admin"], &[])))]);
        let d = removing(&desired, &live);
        assert!(d.changes.is_empty(), "{d:?}");
        assert_eq!(d.refused.len(), 1, "{d:?}");
        assert_eq!(d.refused[0].change.who, email("boss@a.test"));
        // Withdrawing the invitation takes nothing anyone holds.
        let desired = BTreeMap::from([(email("boss@a.test"), want(access(&["admin"], &[])))]);
        let d = removing(&desired, &live);
        assert_eq!(kinds(&d), [("next@a.test", ChangeKind::Remove)]);
        assert!(d.refused.is_empty(), "{d:?}");
    }

    #[test]
    fn on_an_invitation_platform_a_new_admin_holds_nothing_until_accepting() {
        let live = state(vec![binding("boss@a.test", access(&["admin"], &[]))], &[]);
        let desired = BTreeMap::from([(email("new@a.test"), want(access(&["admin"], &[])))]);
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
        assert_eq!(d.refused[0].change.who, email("boss@a.test"));
    }

    #[test]
    fn a_missing_container_is_left_out_with_a_warning() {
        let live = state(vec![], &["GTM-A"]);
        let desired = BTreeMap::from([(
            email("x@a.test"),
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
        assert!(
            d.warnings(&target(&["GTM-A", "GTM-Z"]))
                .iter()
                .any(|w| w.contains("GTM-Z")),
            "{d:?}"
        );
    }
}
