//! The policy rules' live view: what was observed on a site, as the
//! neutral holdings [`crate::policy::evaluate`] checks, with the config's
//! word on each.

use std::collections::{BTreeMap, BTreeSet};

use time::Date;

use super::Observed;
use crate::model::{Config, Principal, Site};
use crate::plan::Observation;
use crate::platform::Platform;
use crate::policy::{Granted, SiteView, Violation, evaluate, in_force, who_of_email};
use crate::roles::slug;

/// What was observed on a site, as holdings, with the config's word on
/// each.
pub fn live_view(config: &Config, site: &Site, o: &Observed, today: Date) -> SiteView {
    let index = config.people_index();
    let mut holdings = Vec::new();
    let mut platforms = BTreeSet::new();
    if let (Observation::Live(live), Some(ledger)) = (&o.observation, &o.ledger) {
        platforms.insert(Platform::Wix);
        // The grants in force, each with its person and its roles' slugs,
        // worked out once for every collaborator.
        let grants_in_force: Vec<_> = site
            .grants
            .iter()
            .filter(|g| in_force(g.until, today))
            .map(|g| {
                let person = match &g.principal {
                    Principal::Person(key) => config.people.get(&**key),
                    _ => None,
                };
                let slugs: Vec<String> = g.roles.iter().map(|r| slug(&r.name)).collect();
                (g, person, slugs)
            })
            .collect();
        for (account, role_ids) in &live.contributors {
            let email = index
                .emails_of_account(account)
                .first()
                .map(String::as_str)
                .or_else(|| ledger.email_for(account))
                .or_else(|| {
                    ledger
                        .invites
                        .iter()
                        .find(|i| i.account_id.as_deref() == Some(account.as_str()))
                        .map(|i| i.email.as_str())
                });
            let who = index
                .person_with_account(account)
                .or_else(|| email.and_then(|e| index.person_with_email(e)))
                .map(str::to_string)
                .or_else(|| email.map(str::to_string))
                .unwrap_or_else(|| format!("account {account}"));
            let grants: Vec<_> = grants_in_force
                .iter()
                .filter(|(g, person, _)| match &g.principal {
                    Principal::Person(_) => person.is_some_and(|p| {
                        Some(p.email.as_str()) == email
                            || p.wix_account_id.as_deref() == Some(account.as_str())
                    }),
                    Principal::Email(e) => Some(&**e) == email,
                    Principal::Account(a) => **a == **account,
                })
                .collect();
            for id in role_ids {
                let title = live.role(id).map_or(id, |r| r.title.as_str());
                let role = slug(title);
                let mut granted = Granted::new();
                for (g, _, slugs) in &grants {
                    if slugs.contains(&role) {
                        granted.add(g.until, g.via_team.is_some());
                    }
                }
                holdings.push(granted.holding(Platform::Wix, &who, email, &role, title));
            }
        }
    }
    let mut unread = BTreeSet::new();
    for (t, seen) in site.targets.iter().zip(&o.targets) {
        let Ok(seen) = seen else {
            unread.insert(t.target.platform);
            continue;
        };
        platforms.insert(t.target.platform);
        for b in &seen.state.bindings {
            let email = b.email.as_deref().map(str::to_lowercase);
            let who = match &email {
                Some(e) => who_of_email(config, e),
                None => b.platform_id.clone().unwrap_or_default(),
            };
            for role in &b.access.roles {
                let mut granted = Granted::new();
                for g in t.grants.iter().filter(|g| in_force(g.until, today)) {
                    if Some(&*g.email) == email.as_deref() && g.access.roles.contains(role) {
                        granted.add(g.until, g.via_team);
                    }
                }
                holdings.push(granted.holding(
                    t.target.platform,
                    &who,
                    email.as_deref(),
                    role,
                    role,
                ));
            }
        }
    }
    for p in unread {
        platforms.remove(&p);
    }
    SiteView::of(site, platforms, holdings)
}

/// Every observed site's live state, checked. Empty without rules.
pub fn check_live(
    config: &Config,
    observed: &BTreeMap<String, Observed>,
    today: Date,
) -> Vec<Violation> {
    if config.policies.rules.is_empty() {
        return Vec::new();
    }
    observed
        .iter()
        .filter_map(|(key, o)| Some((config.sites.get(key)?, o)))
        .flat_map(|(site, o)| evaluate(&config.policies, &live_view(config, site, o, today), today))
        .collect()
}
