//! Reading every selected site, concurrently, and planning each one.
//!
//! This is the I/O shell around the pure plan engine: it loads each site's
//! ledger, reads live state through the provider (sites run concurrently;
//! the client keeps at most `parallelism` requests in flight), then calls
//! [`plan::plan_site`] for each.

pub mod policy;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use time::OffsetDateTime;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::ledger::{self, SiteLedger};
use crate::model::{Config, Principal, Site};
use crate::plan::{self, Observation, Plan, safety};
use crate::providers::wix::{SiteAccess, WixClient};
use crate::secret::ApiKey;

/// What one run knows about a site before planning it.
#[derive(Debug, Clone)]
pub struct Observed {
    pub observation: Observation,
    /// `None` when the ledger could not be read; the observation then says why.
    pub ledger: Option<SiteLedger>,
    /// The site's targets on other platforms, in `Site::targets` order:
    /// what each provider saw, or why it could not read.
    pub targets: Vec<Result<plan::targets::Seen, String>>,
}

/// Credentials for a managed site, or why there are none.
pub fn site_access(site: &Site) -> Option<Result<SiteAccess, String>> {
    let var = site.wix.api_key_env.as_ref()?;
    Some(ApiKey::from_env(var).map(|key| SiteAccess {
        site_key: site.key.clone(),
        site_id: site.wix.site_id.clone(),
        account_id: site.wix.account_id.clone(),
        key,
        invite_language: site.wix.invite_language.clone(),
    }))
}

/// Accounts that should be on the site, by the ledger (accounts this tool
/// granted and has not removed) and by the config (people granted here with a
/// `wix_account_id`, bare account grants). An answer that lists nobody
/// while these exist is refused rather than planned on.
fn known_accounts(config: &Config, site: &Site, ledger: &SiteLedger) -> BTreeSet<String> {
    let mut known: BTreeSet<String> = ledger
        .granted
        .iter()
        .map(|g| g.account_id.clone())
        .collect();
    for grant in &site.grants {
        match &grant.principal {
            Principal::Person(key) => {
                if let Some(account) = config
                    .people
                    .get(key.as_ref())
                    .and_then(|p| p.wix_account_id.clone())
                {
                    known.insert(account);
                }
            }
            Principal::Account(account) => {
                known.insert(account.to_string());
            }
            Principal::Email(_) => {}
        }
    }
    known.remove(&site.wix.account_id);
    known
}

/// Below this many sites, planning stays on one thread.
const PARALLEL_PLAN_ABOVE: usize = 256;

/// Sites read at once per request the client may have in flight.
const SITES_PER_REQUEST_SLOT: usize = 4;

/// Read the given sites (all of them when `selection` is empty).
pub async fn observe(
    config: &Config,
    selection: &[String],
    client: &WixClient,
    parallelism: usize,
    auth: &ledger::Auth,
) -> BTreeMap<String, Observed> {
    // The client keeps `parallelism` requests in flight; more sites than
    // that are read at once so that a site waiting on its key's rate limit,
    // or between its round trips, never leaves the pipe short of requests.
    let semaphore = Arc::new(Semaphore::new(
        parallelism.max(1).saturating_mul(SITES_PER_REQUEST_SLOT),
    ));
    let mut tasks = JoinSet::new();
    let mut out = BTreeMap::new();
    for site in read_order(selected(config, selection)) {
        let ledger = match ledger::load(&config.ledger_dir, &site.key, &site.wix.site_id, auth) {
            Ok(l) => l,
            Err(report) => {
                let observation = Observation::Failed(format!(
                    "the ledger cannot be read:\n{}",
                    report.render().trim_end()
                ));
                out.insert(
                    site.key.clone(),
                    Observed {
                        observation,
                        ledger: None,
                        targets: Vec::new(),
                    },
                );
                continue;
            }
        };
        let access = match site_access(site) {
            None => {
                out.insert(
                    site.key.clone(),
                    Observed {
                        observation: Observation::RequestMode,
                        ledger: Some(ledger),
                        targets: Vec::new(),
                    },
                );
                continue;
            }
            Some(Err(message)) => {
                out.insert(
                    site.key.clone(),
                    Observed {
                        observation: Observation::Failed(format!(
                            "{message}; set it to the site's Wix API key (hint: `export {}=…`)",
                            site.wix.api_key_env.as_deref().unwrap_or_default()
                        )),
                        ledger: Some(ledger),
                        targets: Vec::new(),
                    },
                );
                continue;
            }
            Some(Ok(access)) => access,
        };
        let known = known_accounts(config, site, &ledger);
        let client = client.clone();
        let semaphore = semaphore.clone();
        tasks.spawn(async move {
            let _permit = semaphore.acquire_owned().await;
            let observation = match client.read_site_expecting(&access, &known).await {
                Ok(live) => Observation::Live(live),
                Err(e) => Observation::Failed(e.to_string()),
            };
            (access.site_key, observation, ledger)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((key, observation, ledger)) => {
                out.insert(
                    key,
                    Observed {
                        observation,
                        ledger: Some(ledger),
                        targets: Vec::new(),
                    },
                );
            }
            Err(e) => tracing::error!("a site read task failed: {e}"),
        }
    }
    out
}

/// Targets read at once (each provider keeps its own rate limit).
const TARGETS_AT_ONCE: usize = 8;

/// Read every target of the selected sites through its provider and put
/// what was seen in `observed` (sites not there yet are added).
pub async fn observe_targets(
    config: &Config,
    selection: &[String],
    registry: &crate::providers::registry::Registry,
    observed: &mut BTreeMap<String, Observed>,
) {
    let semaphore = Arc::new(Semaphore::new(TARGETS_AT_ONCE));
    let mut tasks = JoinSet::new();
    for site in selected(config, selection) {
        for (i, t) in site.targets.iter().enumerate() {
            let provider = registry.connect(&t.target);
            let target = t.target.clone();
            let key = site.key.clone();
            let semaphore = semaphore.clone();
            tasks.spawn(async move {
                let _permit = semaphore.acquire_owned().await;
                let seen = match provider {
                    Err(e) => Err(with_hint(&e)),
                    Ok(provider) => match provider.observe(&target).await {
                        Ok(state) => Ok(plan::targets::Seen {
                            state,
                            capabilities: provider.capabilities().clone(),
                            self_email: provider.self_email().map(str::to_string),
                        }),
                        Err(e) => Err(with_hint(&e)),
                    },
                };
                (key, i, seen)
            });
        }
    }
    let mut seen: BTreeMap<String, BTreeMap<usize, Result<plan::targets::Seen, String>>> =
        BTreeMap::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((key, i, s)) => {
                seen.entry(key).or_default().insert(i, s);
            }
            Err(e) => tracing::error!("a target read task failed: {e}"),
        }
    }
    for site in selected(config, selection) {
        let mut by_index = seen.remove(&site.key).unwrap_or_default();
        let targets = (0..site.targets.len())
            .map(|i| {
                by_index
                    .remove(&i)
                    .unwrap_or_else(|| Err("the target could not be read (its task failed)".into()))
            })
            .collect();
        if let Some(o) = observed.get_mut(&site.key) {
            o.targets = targets;
        }
    }
}

fn with_hint(e: &crate::platform::ProviderError) -> String {
    match &e.hint {
        Some(hint) => format!("{} (hint: {hint})", e.message),
        None => e.message.clone(),
    }
}

/// The order in which sites are read. Each account's API key has its own
/// rate limit, so the sites of one account are spread apart in time —
/// round-robin over accounts: every account's first site, then every second
/// site, … — and accounts with more sites go first in each round, so a key
/// that needs more than its minute's worth of requests starts early and its
/// wait overlaps the other sites' reads instead of trailing at the end. The result does not
/// depend on the order.
fn read_order(sites: Vec<&Site>) -> Vec<&Site> {
    let mut per_account: HashMap<&str, usize> = HashMap::new();
    for site in &sites {
        *per_account.entry(site.wix.account_id.as_str()).or_default() += 1;
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut ranked: Vec<(usize, std::cmp::Reverse<usize>, &Site)> = sites
        .into_iter()
        .map(|site| {
            let account = site.wix.account_id.as_str();
            let round = seen.entry(account).or_default();
            *round += 1;
            (*round, std::cmp::Reverse(per_account[account]), site)
        })
        .collect();
    // Stable: otherwise sites keep their key order.
    ranked.sort_by_key(|(round, many, _)| (*round, *many));
    ranked.into_iter().map(|(_, _, site)| site).collect()
}

/// The sites a run concerns, in key order.
pub fn selected<'a>(config: &'a Config, selection: &[String]) -> Vec<&'a Site> {
    config
        .sites
        .values()
        .filter(|s| selection.is_empty() || selection.contains(&s.key))
        .collect()
}

/// Verified when every ledger read was checked against the ledger key.
fn ledger_check(observed: &BTreeMap<String, Observed>) -> plan::LedgerCheck {
    let mut ledgers = observed
        .values()
        .filter_map(|o| o.ledger.as_ref())
        .peekable();
    if ledgers.peek().is_some() && ledgers.all(|l| l.trust == ledger::Trust::Verified) {
        plan::LedgerCheck::Verified
    } else {
        plan::LedgerCheck::Unverified
    }
}

/// Plan every observed site and check the safety guards. Pure.
pub fn build_plan(
    config: &Config,
    observed: &BTreeMap<String, Observed>,
    now: OffsetDateTime,
    recorded: &crate::ledger::guards::Recorded,
    overrides: safety::Overrides,
) -> Plan {
    // Sites are planned independently, so a large run is split over the
    // cores; the chunks are joined in order, so the plan is the same.
    let entries: Vec<(&String, &Observed)> = observed.iter().collect();
    let sites = crate::parallel::ordered_flat_map(&entries, PARALLEL_PLAN_ABOVE, |(key, o)| {
        plan_one(config, key, o, now)
    });
    let whole = Whole {
        ledger: ledger_check(observed),
        policy: policy::check_live(config, observed, now.date()),
    };
    assemble(config, sites, whole, now, recorded, overrides)
}

/// [`build_plan`] for a caller that needs nothing observed afterwards
/// (`plan`): each site's reading is freed as soon as the site is planned,
/// so the readings and the plan are never held whole at once. The same plan.
pub fn build_plan_consuming(
    config: &Config,
    observed: BTreeMap<String, Observed>,
    now: OffsetDateTime,
    recorded: &crate::ledger::guards::Recorded,
    overrides: safety::Overrides,
) -> Plan {
    let whole = Whole {
        ledger: ledger_check(&observed),
        policy: policy::check_live(config, &observed, now.date()),
    };
    let sites = crate::parallel::ordered_flat_map_owned(
        observed.into_iter().collect(),
        PARALLEL_PLAN_ABOVE,
        |(key, o)| plan_one(config, &key, &o, now),
    );
    assemble(config, sites, whole, now, recorded, overrides)
}

/// What a plan says of all the sites read at once.
struct Whole {
    ledger: plan::LedgerCheck,
    policy: Vec<crate::policy::Violation>,
}

fn plan_one(
    config: &Config,
    key: &str,
    o: &Observed,
    now: OffsetDateTime,
) -> Option<plan::SitePlan> {
    let site = config.sites.get(key)?;
    let empty;
    let ledger = match &o.ledger {
        Some(l) => l,
        None => {
            empty = SiteLedger::new(&site.key, &site.wix.site_id);
            &empty
        }
    };
    let mut planned = plan::plan_site(config, site, &o.observation, ledger, now);
    planned.targets = site
        .targets
        .iter()
        .zip(&o.targets)
        .map(|(t, seen)| {
            plan::targets::plan_target(
                t,
                seen,
                site.owner.as_ref().map(|o| o.email.as_str()),
                &ledger.target_granted(t.target.platform, &t.target.id),
                now.date(),
                config.safety.expiry_warning_days,
            )
        })
        .collect();
    Some(planned)
}

fn assemble(
    config: &Config,
    sites: Vec<plan::SitePlan>,
    whole: Whole,
    now: OffsetDateTime,
    recorded: &crate::ledger::guards::Recorded,
    overrides: safety::Overrides,
) -> Plan {
    let mut plan = Plan {
        format_version: plan::FORMAT_VERSION,
        config_digest: config.digest.clone(),
        today: now.date().to_string(),
        sites,
        refusals: Vec::new(),
        ledger: whole.ledger,
        skipped: Vec::new(),
        shard: None,
        policy: whole.policy,
    };
    plan.refusals = safety::check(&plan, config, recorded, overrides);
    plan
}
