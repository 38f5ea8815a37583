//! Policy rules (`policies:`) evaluated over who holds which role on which
//! site: one pure evaluation, fed either by the config (`validate`,
//! `apply`'s refusal) or by what was observed (`plan`, `report`).
//!
//! Both sources are first reduced to the same neutral view, a [`Holding`]
//! per principal, platform and role, with what the config says of it
//! (`until`, whether a team gives it); [`evaluate`] then knows nothing of
//! where the view came from. The live view is built where observations
//! are (`observe::policy`): this module names neither `observe` nor `plan`. The rules are data checked when the config
//! loads (`config::validate`); nothing here runs code from the file.
//!
//! Who is "outside the agency": an email whose domain is not one of
//! `agency_domains`, and anyone whose email is unknown (a Wix account that
//! neither the config nor the ledger ties to an email). The site's owner
//! contact (`owner:`) is the client, never outside. Ended grants (`until`
//! passed) are not held in the config's view: the next apply removes them.
//! Request-mode sites have no live Wix state, so only the config's view
//! of them is checked.

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use time::{Date, Duration};

use crate::diag::{Diagnostic, Pos};
use crate::model::policy::{Policies, PolicyRole, Rule, RuleKind, Severity};
use crate::model::{Config, Site};
use crate::platform::Platform;
use crate::roles::slug;

/// One principal holding one role on one platform of a site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    pub platform: Platform,
    /// Who, as shown: a person's key, an email, `account <id>`.
    pub who: String,
    /// Lower-cased; `None` when unknown (a Wix account nothing ties).
    pub email: Option<String>,
    /// The role as compared: a Wix title's slug, a GA4/GTM role.
    pub role: String,
    /// The role as shown.
    pub title: String,
    /// Whether the config grants it (always, in the config's view).
    pub in_config: bool,
    /// The config's last day for it; `None` when open-ended or not granted.
    pub until: Option<Date>,
    /// Whether a `team:` grant gives it.
    pub via_team: bool,
    /// Where the config grants it (the config's view only).
    pub pos: Option<Pos>,
}

/// A site as the rules see it.
#[derive(Debug, Clone, Default)]
pub struct SiteView {
    pub site: String,
    /// The client's contact, who is never outside the agency.
    pub owner_email: Option<String>,
    /// Where the site is in the config.
    pub pos: Pos,
    /// Platforms whose holdings are all known (a platform that could not be
    /// read is left out, so no admin count is made from half of it).
    pub platforms: BTreeSet<Platform>,
    pub holdings: Vec<Holding>,
}

impl SiteView {
    /// `site`'s view holding `holdings`, those of `platforms` complete.
    pub fn of(site: &Site, platforms: BTreeSet<Platform>, holdings: Vec<Holding>) -> Self {
        SiteView {
            site: site.key.clone(),
            owner_email: site.owner.as_ref().map(|o| o.email.clone()),
            pos: site.pos,
            platforms,
            holdings,
        }
    }
}

/// A rule broken on a site. Also the plan's JSON for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Violation {
    pub severity: Severity,
    /// The rule's kind: `forbid_outside`, `outside_max_days`,
    /// `agency_admins` or `team_only`.
    pub rule: String,
    /// The line of the config where the rule is written.
    pub rule_line: usize,
    pub site: String,
    pub platform: Platform,
    /// Who breaks it (a person's key, an email, `account <id>`); absent
    /// for a rule on the site as a whole (`agency_admins`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub who: Option<String>,
    pub message: String,
    pub hint: String,
    /// Where the config breaks it; `None` for live state.
    #[serde(skip)]
    #[schemars(skip)]
    pub pos: Option<Pos>,
}

/// Every violation of the rules in a site's view, in rule order.
pub fn evaluate(policies: &Policies, view: &SiteView, today: Date) -> Vec<Violation> {
    let mut out = Vec::new();
    let outside = |h: &Holding| {
        !policies.is_agency(h.email.as_deref())
            && (h.email.is_none() || h.email != view.owner_email)
    };
    let on = |rule: &Rule, h: &Holding| rule.platform.is_none_or(|p| p == h.platform);
    let names = |roles: &[PolicyRole], h: &Holding| roles.iter().any(|r| r.key == h.role);
    for rule in &policies.rules {
        let violation = |h: Option<&Holding>, platform, message: String, hint: &str| Violation {
            severity: rule.severity,
            rule: rule.kind.name().to_string(),
            rule_line: rule.pos.line,
            site: view.site.clone(),
            platform,
            who: h.map(|h| h.who.clone()),
            message,
            hint: hint.to_string(),
            pos: h.map_or(Some(view.pos), |h| h.pos),
        };
        // One violation per holder and grant, however many roles it names.
        let mut seen: BTreeSet<(Platform, &str, Option<Pos>)> = BTreeSet::new();
        match &rule.kind {
            RuleKind::ForbidOutside { roles } => {
                for h in view.holdings.iter().filter(|h| on(rule, h)) {
                    if names(roles, h) && outside(h) {
                        out.push(violation(
                            Some(h),
                            h.platform,
                            format!(
                                "`{}` holds {} `{}` on site `{}`, but is outside the agency ({})",
                                tick(&h.who),
                                h.platform.title(),
                                tick(&h.title),
                                view.site,
                                policies.agency_domains.join(", ")
                            ),
                            "no one outside the agency may hold this role: give it to someone from the agency, or a lower role to this person",
                        ));
                    }
                }
            }
            RuleKind::OutsideMaxDays { days } => {
                let limit = today.saturating_add(Duration::days(i64::from(*days)));
                for h in view.holdings.iter().filter(|h| on(rule, h) && outside(h)) {
                    let problem = match h.until {
                        Some(u) if u <= limit => continue,
                        Some(u) => format!("until {u}, more than {days} days ahead"),
                        None if h.in_config => "with no `until`".to_string(),
                        None => "without a grant in the config".to_string(),
                    };
                    if !seen.insert((h.platform, &h.who, h.pos)) {
                        continue;
                    }
                    out.push(violation(
                        Some(h),
                        h.platform,
                        format!(
                            "`{}`, outside the agency, holds {} access on site `{}` {problem}",
                            tick(&h.who),
                            h.platform.title(),
                            view.site
                        ),
                        &format!(
                            "access for people outside the agency must end within {days} days: set `until` to {limit} or earlier"
                        ),
                    ));
                }
            }
            RuleKind::AgencyAdmins { role, min, max } => {
                let Some(platform) = rule.platform else {
                    continue;
                };
                if !view.platforms.contains(&platform) {
                    continue;
                }
                let admins: BTreeSet<&str> = view
                    .holdings
                    .iter()
                    .filter(|h| {
                        h.platform == platform
                            && h.role == role.key
                            && policies.is_agency(h.email.as_deref())
                    })
                    .map(|h| h.who.as_str())
                    .collect();
                let n = admins.len();
                let bound = if n < *min as usize {
                    format!("at least {min}")
                } else if max.is_some_and(|m| n > m as usize) {
                    format!("at most {}", max.unwrap_or_default())
                } else {
                    continue;
                };
                let listed = if admins.is_empty() {
                    String::new()
                } else {
                    let names: Vec<String> =
                        admins.iter().map(|a| format!("`{}`", tick(a))).collect();
                    format!(": {}", names.join(", "))
                };
                out.push(violation(
                    None,
                    platform,
                    format!(
                        "site `{}` has {n} {} `{}` from the agency{listed}; the rule wants {bound}",
                        view.site,
                        platform.title(),
                        role.name
                    ),
                    "grant or remove the role so the count fits the rule",
                ));
            }
            RuleKind::TeamOnly { roles } => {
                for h in view.holdings.iter().filter(|h| on(rule, h)) {
                    if names(roles, h) && !h.via_team {
                        let how = if h.in_config {
                            "by a grant to them alone"
                        } else {
                            "without a grant in the config"
                        };
                        out.push(violation(
                            Some(h),
                            h.platform,
                            format!(
                                "`{}` holds {} `{}` on site `{}` {how}; it may be given only through a team",
                                tick(&h.who),
                                h.platform.title(),
                                tick(&h.title),
                                view.site
                            ),
                            "grant the role with `team:` (add the person to a team that holds it)",
                        ));
                    }
                }
            }
        }
    }
    out
}

/// A name for a `code span` of a message: what a platform or the ledger
/// says may hold a backtick, which would end the span early in Markdown,
/// or a line break, which would split the message; control characters are
/// shown escaped (the `who` field keeps the name as read).
fn tick(name: &str) -> String {
    crate::escape::text(name).replace('`', "'")
}

/// The config's own view of every site, checked. Empty without rules.
pub fn check_config(config: &Config, today: Date) -> Vec<Violation> {
    if config.policies.rules.is_empty() {
        return Vec::new();
    }
    config
        .sites
        .values()
        .flat_map(|site| evaluate(&config.policies, &config_view(config, site, today), today))
        .collect()
}

/// [`check_config`] as located diagnostics, in file order.
pub fn diagnostics(config: &Config, violations: &[Violation]) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = violations
        .iter()
        .map(|v| {
            let message = format!("policy `{}` (line {}): {}", v.rule, v.rule_line, v.message);
            let d = match v.severity {
                Severity::Error => Diagnostic::error(&config.path, v.pos, message),
                Severity::Warn => Diagnostic::warning(&config.path, v.pos, message),
            };
            d.with_hint(v.hint.clone())
        })
        .collect();
    out.sort_by(|a, b| (a.pos, &a.message).cmp(&(b.pos, &b.message)));
    out
}

pub(crate) fn in_force(until: Option<Date>, today: Date) -> bool {
    until.is_none_or(|u| u >= today)
}

/// Who an email is, as shown: the person's key, else the email.
pub(crate) fn who_of_email(config: &Config, email: &str) -> String {
    config
        .people_index()
        .person_with_email(email)
        .map_or_else(|| email.to_string(), str::to_string)
}

/// What the config grants on a site, as holdings.
pub fn config_view(config: &Config, site: &Site, today: Date) -> SiteView {
    let mut holdings = Vec::new();
    for g in site.grants.iter().filter(|g| in_force(g.until, today)) {
        let (email, _) = config.identity_of(&g.principal);
        for role in g.roles.iter() {
            holdings.push(Holding {
                platform: Platform::Wix,
                who: config.label_of(&g.principal),
                email: email.map(str::to_string),
                role: slug(&role.name),
                title: role.name.to_string(),
                in_config: true,
                until: g.until,
                via_team: g.via_team.is_some(),
                pos: Some(role.pos),
            });
        }
    }
    let mut platforms = BTreeSet::from([Platform::Wix]);
    for t in &site.targets {
        platforms.insert(t.target.platform);
        for g in t.grants.iter().filter(|g| in_force(g.until, today)) {
            for role in &g.access.roles {
                holdings.push(Holding {
                    platform: t.target.platform,
                    who: who_of_email(config, &g.email),
                    email: Some(g.email.to_string()),
                    role: role.clone(),
                    title: role.clone(),
                    in_config: true,
                    until: g.until,
                    via_team: g.via_team,
                    pos: Some(g.pos),
                });
            }
        }
    }
    SiteView::of(site, platforms, holdings)
}

/// What the config says of a role a live holder has: whether any grant in
/// force gives it, the last `until` (none if one is open-ended), and
/// whether a team gives it.
pub(crate) struct Granted {
    any: bool,
    until: Option<Date>,
    open: bool,
    via_team: bool,
}

impl Granted {
    pub(crate) fn new() -> Self {
        Granted {
            any: false,
            until: None,
            open: false,
            via_team: false,
        }
    }

    pub(crate) fn add(&mut self, until: Option<Date>, via_team: bool) {
        self.any = true;
        self.via_team |= via_team;
        match until {
            None => self.open = true,
            Some(u) => self.until = Some(self.until.map_or(u, |x| x.max(u))),
        }
    }

    pub(crate) fn holding(
        self,
        platform: Platform,
        who: &str,
        email: Option<&str>,
        role: &str,
        title: &str,
    ) -> Holding {
        Holding {
            platform,
            who: who.to_string(),
            email: email.map(str::to_string),
            role: role.to_string(),
            title: title.to_string(),
            in_config: self.any,
            until: if self.open { None } else { self.until },
            via_team: self.via_team,
            pos: None,
        }
    }
}

/// Whether any violation is an error.
pub fn has_errors(violations: &[Violation]) -> bool {
    violations.iter().any(|v| v.severity == Severity::Error)
}
