//! Format version 2: access levels (`levels:`), a site's `ga4:` and `gtm:`
//! blocks, and the platform part of a grant (`ga4:`, `gtm:`, `level:`),
//! resolved into [`SiteTarget`]s with one [`TargetGrant`] per principal.
//! Role names are checked against each platform's [`Vocabulary`] here, at
//! the place they are written.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::Value;
use time::Date;

use super::super::locate::YamlPath;
use super::super::raw::{RawGa4Site, RawGtmSite, RawUnmanaged};
use super::{Resolver, str_field};
use crate::diag::did_you_mean;
use crate::model::{RoleName, SiteTarget, TargetGrant, Unmanaged};
use crate::platform::{Access, Platform, Target, Vocabulary};

/// What a level, or a grant's own `ga4:`/`gtm:`, gives on each platform.
#[derive(Debug, Clone, Default)]
pub(super) struct PlatformRoles {
    /// Wix roles a level names (checked where the level is defined).
    pub wix: Vec<RoleName>,
    pub ga4: Option<Ga4Roles>,
    pub gtm: Option<GtmPerms>,
}

#[derive(Debug, Clone)]
pub(super) enum Ga4Roles {
    /// On the site's property, else its account.
    Primary(BTreeSet<String>),
    Scoped {
        account: Option<BTreeSet<String>>,
        property: Option<BTreeSet<String>>,
    },
}

#[derive(Debug, Clone)]
pub(super) struct GtmPerms {
    pub account: String,
    pub containers: Containers,
}

#[derive(Debug, Clone)]
pub(super) enum Containers {
    None,
    /// The same permission on every container the site manages.
    All(String),
    /// Per container public id, with where each was written.
    Each(BTreeMap<String, (String, YamlPath)>),
}

/// The levels, by name.
pub(super) type Levels = BTreeMap<String, PlatformRoles>;

/// A site's targets before its grants are known.
pub(super) struct Targets {
    pub ga4_account: Option<usize>,
    pub ga4_property: Option<usize>,
    pub gtm: Option<usize>,
    pub list: Vec<SiteTarget>,
}

impl Targets {
    pub fn ga4_primary(&self) -> Option<usize> {
        self.ga4_property.or(self.ga4_account)
    }
}

fn vocabulary(platform: Platform) -> Vocabulary {
    platform.vocabulary().unwrap_or(Vocabulary {
        roles: &[],
        additive: &[],
        child_roles: &[],
    })
}

fn unmanaged_of(raw: Option<RawUnmanaged>, site: Unmanaged) -> Unmanaged {
    match raw {
        None => site,
        Some(RawUnmanaged::Keep) => Unmanaged::Keep,
        Some(RawUnmanaged::Warn) => Unmanaged::Warn,
        Some(RawUnmanaged::Remove) => Unmanaged::Remove,
    }
}

impl Resolver<'_> {
    /// The `levels:` block: each level's roles checked where written.
    pub(super) fn levels(&mut self, value: Option<&Value>) -> Levels {
        let mut levels = Levels::new();
        let Some(map) = value.and_then(Value::as_object) else {
            return levels;
        };
        let root = YamlPath::root().key("levels");
        for (name, body) in map {
            let path = root.key(name);
            let context = format!("level `{name}`");
            let mut roles = PlatformRoles::default();
            if let Some(list) = body.get("wix").and_then(Value::as_array) {
                for (j, r) in list.iter().enumerate() {
                    if let Some(r) = r.as_str()
                        && let Some(role) = self.wix_role(r, &path.key("wix").index(j), &context)
                    {
                        roles.wix.push(role);
                    }
                }
            }
            if let Some(g) = body.get("ga4") {
                roles.ga4 = self.ga4_roles(g, &path.key("ga4"), &context);
            }
            if let Some(g) = body.get("gtm") {
                roles.gtm = self.gtm_perms(g, &path.key("gtm"), &context);
            }
            if roles.wix.is_empty() && roles.ga4.is_none() && roles.gtm.is_none() {
                let pos = self.tree.key_pos(&path);
                self.warning(
                    pos,
                    format!("{context} gives nothing on any platform"),
                    "give it `wix`, `ga4` or `gtm` roles, or remove it",
                );
            }
            levels.insert(name.clone(), roles);
        }
        levels
    }

    /// A list of role names for `platform`, each checked.
    fn role_set(
        &mut self,
        platform: Platform,
        list: &Value,
        path: &YamlPath,
        context: &str,
    ) -> Option<BTreeSet<String>> {
        let items = list.as_array()?;
        let vocab = vocabulary(platform);
        let mut out = BTreeSet::new();
        let mut ok = true;
        for (j, item) in items.iter().enumerate() {
            let Some(name) = item.as_str() else { continue };
            let rpath = path.index(j);
            match self.platform_role(
                platform,
                &vocab
                    .roles
                    .iter()
                    .chain(vocab.additive)
                    .copied()
                    .collect::<Vec<_>>(),
                name,
                &rpath,
                context,
            ) {
                Some(role) => {
                    out.insert(role);
                }
                None => ok = false,
            }
        }
        if ok
            && out
                .iter()
                .filter(|r| !vocab.additive.contains(&r.as_str()))
                .count()
                > 1
        {
            let pos = self.tree.value_pos(path);
            self.error(
                pos,
                format!("{context} gives more than one {} role", platform.title()),
                Some(format!(
                    "a user holds one of {} (plus the restrictions {}); keep the one you mean",
                    vocab.roles.join(", "),
                    vocab.additive.join(", ")
                )),
            );
            ok = false;
        }
        ok.then_some(out)
    }

    /// One role name, lower-cased (GA4's `predefinedRoles/` prefix is
    /// accepted), or a located error with the closest known name.
    pub(super) fn platform_role(
        &mut self,
        platform: Platform,
        known: &[&'static str],
        name: &str,
        path: &YamlPath,
        context: &str,
    ) -> Option<String> {
        let lower = name.trim().to_lowercase();
        let short = lower.strip_prefix("predefinedroles/").unwrap_or(&lower);
        if known.contains(&short) {
            return Some(short.to_string());
        }
        let pos = self.tree.value_pos(path);
        let shown = crate::escape::line(name);
        let hint = match did_you_mean(short, known.iter().copied()) {
            Some(close) => format!(
                "did you mean `{close}`? {} roles: {}",
                platform.title(),
                known.join(", ")
            ),
            None => format!("{} roles: {}", platform.title(), known.join(", ")),
        };
        self.error(
            pos,
            format!("unknown {} role `{shown}` in {context}", platform.title()),
            Some(hint),
        );
        None
    }

    /// A `ga4:` value of a level or grant.
    pub(super) fn ga4_roles(
        &mut self,
        v: &Value,
        path: &YamlPath,
        context: &str,
    ) -> Option<Ga4Roles> {
        if v.is_array() {
            return self
                .role_set(Platform::Ga4, v, path, context)
                .map(Ga4Roles::Primary);
        }
        let map = v.as_object()?;
        let scoped = |key: &str, this: &mut Self| {
            map.get(key)
                .map(|list| this.role_set(Platform::Ga4, list, &path.key(key), context))
        };
        let account = scoped("account", self);
        let property = scoped("property", self);
        if matches!(account, Some(None)) || matches!(property, Some(None)) {
            return None;
        }
        Some(Ga4Roles::Scoped {
            account: account.flatten(),
            property: property.flatten(),
        })
    }

    /// A `gtm:` value of a level or grant.
    pub(super) fn gtm_perms(
        &mut self,
        v: &Value,
        path: &YamlPath,
        context: &str,
    ) -> Option<GtmPerms> {
        let vocab = vocabulary(Platform::Gtm);
        let mut ok = true;
        let account = match str_field(v, "account") {
            Some(name) => {
                let p = self.platform_role(
                    Platform::Gtm,
                    vocab.roles,
                    name,
                    &path.key("account"),
                    context,
                );
                ok &= p.is_some();
                p.unwrap_or_default()
            }
            None => "user".to_string(),
        };
        let cpath = path.key("containers");
        let containers = match v.get("containers") {
            None => Containers::None,
            Some(Value::String(p)) => {
                match self.platform_role(Platform::Gtm, vocab.child_roles, p, &cpath, context) {
                    Some(p) => Containers::All(p),
                    None => {
                        ok = false;
                        Containers::None
                    }
                }
            }
            Some(Value::Object(map)) => {
                let mut each = BTreeMap::new();
                for (id, p) in map {
                    let ipath = cpath.key(id);
                    let Some(p) = p.as_str() else { continue };
                    match self.platform_role(Platform::Gtm, vocab.child_roles, p, &ipath, context) {
                        Some(p) => {
                            each.insert(id.clone(), (p, ipath));
                        }
                        None => ok = false,
                    }
                }
                Containers::Each(each)
            }
            Some(_) => return None,
        };
        ok.then_some(GtmPerms {
            account,
            containers,
        })
    }

    /// A site's `ga4:` and `gtm:` blocks as targets with no grants yet.
    pub(super) fn site_targets(
        &mut self,
        site: &str,
        v: &Value,
        path: &YamlPath,
        unmanaged: Unmanaged,
    ) -> Option<Targets> {
        let mut targets = Targets {
            ga4_account: None,
            ga4_property: None,
            gtm: None,
            list: Vec::new(),
        };
        let mut ok = true;
        if let Some(g) = v.get("ga4") {
            let gpath = path.key("ga4");
            match self.gate::<RawGa4Site>(g, &gpath) {
                Some(raw) => {
                    let pos = self.tree.key_pos(&gpath);
                    let unmanaged = unmanaged_of(raw.unmanaged, unmanaged);
                    let add = |id: String, targets: &mut Targets| {
                        targets.list.push(SiteTarget {
                            target: Target {
                                platform: Platform::Ga4,
                                id,
                                credentials_env: raw.credentials_env.clone(),
                                managed_children: BTreeSet::new(),
                            },
                            unmanaged,
                            grants: Vec::new(),
                            pos,
                        });
                        targets.list.len() - 1
                    };
                    if let Some(a) = &raw.account {
                        targets.ga4_account = Some(add(format!("accounts/{a}"), &mut targets));
                    }
                    if let Some(p) = &raw.property {
                        targets.ga4_property = Some(add(format!("properties/{p}"), &mut targets));
                    }
                }
                None => ok = false,
            }
        }
        if let Some(g) = v.get("gtm") {
            let gpath = path.key("gtm");
            match self.gate::<RawGtmSite>(g, &gpath) {
                Some(raw) => {
                    let mut managed = BTreeSet::new();
                    for (j, id) in raw.containers.iter().enumerate() {
                        if !managed.insert(id.clone()) {
                            let pos = self.tree.value_pos(&gpath.key("containers").index(j));
                            self.error(
                                pos,
                                format!("container `{id}` is listed twice in site `{site}`"),
                                Some("list each container once".into()),
                            );
                            ok = false;
                        }
                    }
                    targets.gtm = Some(targets.list.len());
                    targets.list.push(SiteTarget {
                        target: Target {
                            platform: Platform::Gtm,
                            id: format!("accounts/{}", raw.account),
                            credentials_env: raw.credentials_env,
                            managed_children: managed,
                        },
                        unmanaged: unmanaged_of(raw.unmanaged, unmanaged),
                        grants: Vec::new(),
                        pos: self.tree.key_pos(&gpath),
                    });
                }
                None => ok = false,
            }
        }
        ok.then_some(targets)
    }

    /// Add a grant's platform access to the site's targets, one
    /// [`TargetGrant`] per email. `direct` is false for a level's roles: a
    /// level gives what the site has and skips the rest, while a grant's
    /// own `ga4:`/`gtm:` on a site without that block is an error.
    #[allow(clippy::too_many_arguments, reason = "one grant's parts")]
    pub(super) fn target_grants(
        &mut self,
        targets: &mut Targets,
        roles: &PlatformRoles,
        emails: &[(Arc<str>, String, bool)],
        until: Option<Date>,
        path: &YamlPath,
        context: &str,
        direct: bool,
    ) -> bool {
        let mut wanted: Vec<(usize, Access)> = Vec::new();
        let mut ok = true;
        if let Some(ga4) = &roles.ga4 {
            let has_ga4 = targets.ga4_primary().is_some();
            let mut scope = |index: Option<usize>,
                             set: &BTreeSet<String>,
                             what: &str,
                             this: &mut Self| match index {
                Some(i) => wanted.push((
                    i,
                    Access {
                        roles: set.clone(),
                        children: BTreeMap::new(),
                    },
                )),
                None if direct => {
                    let pos = this.tree.key_pos(&path.key("ga4"));
                    let (message, hint) = if has_ga4 {
                        (
                            format!(
                                "{context} gives GA4 roles on the {what}, but the site's `ga4:` block names no {what}"
                            ),
                            format!(
                                "add `{what}:` to the site's `ga4:` block, or remove these roles"
                            ),
                        )
                    } else {
                        (
                            format!("{context} gives GA4 roles, but the site has no `ga4:` block"),
                            "add `ga4: { property: \"…\" }` to the site, or remove these roles"
                                .to_string(),
                        )
                    };
                    this.error(pos, message, Some(hint));
                    ok = false;
                }
                None => {}
            };
            match ga4 {
                Ga4Roles::Primary(set) => {
                    let primary = targets.ga4_primary();
                    scope(
                        primary,
                        set,
                        if targets.ga4_account.is_some() {
                            "account"
                        } else {
                            "property"
                        },
                        self,
                    );
                }
                Ga4Roles::Scoped { account, property } => {
                    if let Some(set) = account {
                        scope(targets.ga4_account, set, "account", self);
                    }
                    if let Some(set) = property {
                        scope(targets.ga4_property, set, "property", self);
                    }
                }
            }
        }
        if let Some(gtm) = &roles.gtm {
            match targets.gtm {
                Some(i) => {
                    let managed = &targets.list[i].target.managed_children;
                    let mut access = Access::roles([gtm.account.clone()]);
                    match &gtm.containers {
                        Containers::None => {}
                        Containers::All(p) => {
                            for c in managed {
                                access
                                    .children
                                    .insert(c.clone(), BTreeSet::from([p.clone()]));
                            }
                        }
                        Containers::Each(map) => {
                            for (c, (p, cpath)) in map {
                                if managed.contains(c) {
                                    access
                                        .children
                                        .insert(c.clone(), BTreeSet::from([p.clone()]));
                                } else if direct {
                                    let pos = self.tree.key_pos(cpath);
                                    self.error(
                                        pos,
                                        format!("{context} gives a permission on container `{c}`, which the site's `gtm:` block does not manage"),
                                        Some("add it to the site's `gtm: containers:` list".into()),
                                    );
                                    ok = false;
                                }
                            }
                        }
                    }
                    wanted.push((i, access));
                }
                None if direct => {
                    let pos = self.tree.key_pos(&path.key("gtm"));
                    self.error(
                        pos,
                        format!("{context} gives GTM permissions, but the site has no `gtm:` block"),
                        Some("add `gtm: { account: \"…\", containers: [GTM-…] }` to the site, or remove them".into()),
                    );
                    ok = false;
                }
                None => {}
            }
        }
        if !wanted.is_empty() && emails.is_empty() {
            let pos = self.tree.value_pos(path);
            self.error(
                pos,
                format!("{context} gives Google access to a `wix_account_id`, but Google keys access by email"),
                Some("grant to a `person` (with an `email`) or an `email` instead".into()),
            );
            return false;
        }
        if !ok {
            return false;
        }
        let pos = self.tree.value_pos(path);
        for (i, access) in wanted {
            for (email, reason, via_team) in emails {
                targets.list[i].grants.push(TargetGrant {
                    email: email.clone(),
                    access: access.clone(),
                    until,
                    reason: reason.clone(),
                    via_team: *via_team,
                    pos,
                });
            }
        }
        true
    }
}
