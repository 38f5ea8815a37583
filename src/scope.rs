//! Which sites a run covers: a shard of them (`--shard K/N`), and the ones
//! whose desired state changed since a base config (`--changed-from`).
//!
//! Both are pure functions of configs. The shard of a site depends on the
//! config's sites alone, never on `--site` or `--changed-from`: a run takes
//! its shard of the whole config first, then filters it, so the shards of a
//! filtered run are the filtered shards, and merging them gives the
//! unsharded run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::{Config, Person, Pos, Principal, Site};

/// One slice of N: `index` is 1-based (`--shard 2/4`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Shard {
    /// Which shard, from 1.
    pub index: u32,
    /// How many shards there are.
    pub count: u32,
}

/// Most shards a run may be split into.
pub const MAX_SHARDS: u32 = 1024;

impl Shard {
    /// Parses `K/N` (1 ≤ K ≤ N ≤ [`MAX_SHARDS`]); the message says what is
    /// wrong. Used as clap's value parser.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let usage = "expected K/N with 1 ≤ K ≤ N, e.g. `--shard 2/4` for the second of four shards";
        let (k, n) = text
            .split_once('/')
            .ok_or_else(|| format!("`{text}` is not K/N: {usage}"))?;
        let number = |s: &str| s.trim().parse::<u32>().ok();
        let (Some(index), Some(count)) = (number(k), number(n)) else {
            return Err(format!("`{text}` is not K/N: {usage}"));
        };
        if count == 0 || count > MAX_SHARDS {
            return Err(format!(
                "`{text}`: the number of shards must be from 1 to {MAX_SHARDS}"
            ));
        }
        if index == 0 || index > count {
            return Err(format!(
                "`{text}`: shard {index} of {count} does not exist; {usage}"
            ));
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Requests a plan of a site with an API key takes on Wix (roles, contributors,
/// invites, paging): the weight shards are balanced by.
pub const WIX_SITE_REQUESTS: u64 = 16;
/// Requests per GA4 or GTM target.
pub const TARGET_REQUESTS: u64 = 2;

/// The requests a plan of `site` is expected to make.
pub fn estimated_requests(site: &Site) -> u64 {
    let wix = if site.is_request_mode() {
        0
    } else {
        WIX_SITE_REQUESTS
    };
    wix + TARGET_REQUESTS * site.targets.len() as u64
}

/// Every site's shard (1-based) among `count` shards.
///
/// Sites that share an API key variable share its rate limit, so they stay
/// together; a site without a key (request mode) is a group of its own.
/// Groups go, largest estimated request count first (ties by name), to the
/// shard with the least requests so far (ties: fewest sites, then lowest
/// index). Deterministic: a function of the config's sites alone.
pub fn assign(config: &Config, count: u32) -> BTreeMap<String, u32> {
    let count = count.max(1);
    // Group name → (requests, sites). Key groups and single sites cannot
    // collide: the prefixes differ.
    let mut groups: BTreeMap<String, (u64, Vec<&str>)> = BTreeMap::new();
    for site in config.sites.values() {
        let name = match &site.wix.api_key_env {
            Some(var) => format!("key {var}"),
            None => format!("site {}", site.key),
        };
        let group = groups.entry(name).or_default();
        group.0 += estimated_requests(site);
        group.1.push(&site.key);
    }
    let mut ordered: Vec<(&String, &(u64, Vec<&str>))> = groups.iter().collect();
    ordered.sort_by(|a, b| b.1.0.cmp(&a.1.0).then_with(|| a.0.cmp(b.0)));
    // (requests, sites) per shard.
    let mut load = vec![(0u64, 0usize); count as usize];
    let mut out = BTreeMap::new();
    for (_, (requests, sites)) in ordered {
        let (slot, _) = load
            .iter()
            .enumerate()
            .min_by_key(|(i, l)| (l.0, l.1, *i))
            .unwrap_or((0, &(0, 0)));
        load[slot].0 += requests;
        load[slot].1 += sites.len();
        for site in sites {
            out.insert((*site).to_string(), slot as u32 + 1);
        }
    }
    out
}

/// The keys of the sites in `shard`, in key order.
pub fn sites_of(config: &Config, shard: Shard) -> BTreeSet<String> {
    assign(config, shard.count)
        .into_iter()
        .filter(|(_, k)| *k == shard.index)
        .map(|(site, _)| site)
        .collect()
}

/// The sites of `head` whose effective desired state differs from `base`.
///
/// A site counts as changed when it is new, when its resolved model differs
/// (grants with teams and levels expanded, roles, `until`, owner, mode,
/// request overrides, GA4/GTM targets — positions in the file aside), when a
/// person it names (as a person, or by the email or account id of a bare
/// grant) was added, removed or changed, when it is in request mode and the
/// `requests:` block changed, and — for every site — when `safety`,
/// `policies` (positions aside) or the ledger directory changed, or, while
/// there are policy rules, any person changed: the rules are checked
/// against every site's live access, whose holders the people tell inside
/// or outside the agency. Conservative: anything else it depends on is
/// compared as a whole.
pub fn changed_sites(
    base: &Config,
    base_path: &Path,
    head: &Config,
    head_path: &Path,
) -> BTreeSet<String> {
    // The policy rules are checked against every site's live access: a
    // change to them changes what any site's plan reports.
    let everything = base.safety != head.safety
        || unpositioned(&base.policies) != unpositioned(&head.policies)
        || ledger_setting(base, base_path, head_path) != ledger_setting(head, head_path, head_path);
    if everything {
        return head.sites.keys().cloned().collect();
    }
    // People whose entry differs, with every email and account they had or have.
    let mut changed_people: BTreeSet<&str> = BTreeSet::new();
    let mut changed_emails: BTreeSet<&str> = BTreeSet::new();
    let mut changed_accounts: BTreeSet<&str> = BTreeSet::new();
    let keys: BTreeSet<&String> = base.people.keys().chain(head.people.keys()).collect();
    for key in keys {
        let (b, h) = (base.people.get(key), head.people.get(key));
        if b == h {
            continue;
        }
        changed_people.insert(key);
        for p in [b, h].into_iter().flatten() {
            let Person {
                email,
                wix_account_id,
                ..
            } = p;
            changed_emails.insert(email);
            if let Some(a) = wix_account_id {
                changed_accounts.insert(a);
            }
        }
    }
    // With policy rules, every collaborator found on any site is told
    // inside or outside the agency through the people: a person added,
    // removed or changed, granted on a site or not, may change what any
    // site's live access breaks.
    if !changed_people.is_empty() && !head.policies.rules.is_empty() {
        return head.sites.keys().cloned().collect();
    }
    let requests_changed = base.requests != head.requests;
    head.sites
        .values()
        .filter(|site| {
            let Some(was) = base.sites.get(&site.key) else {
                return true;
            };
            if requests_changed && (site.is_request_mode() || was.is_request_mode()) {
                return true;
            }
            if was.without_positions() != site.without_positions() {
                return true;
            }
            let names = |s: &Site| {
                s.grants.iter().any(|g| match &g.principal {
                    Principal::Person(k) => changed_people.contains(&**k),
                    Principal::Email(e) => changed_emails.contains(&**e),
                    Principal::Account(a) => changed_accounts.contains(&**a),
                }) || s
                    .targets
                    .iter()
                    .flat_map(|t| &t.grants)
                    .any(|g| changed_emails.contains(&*g.email))
                    || s.owner
                        .as_ref()
                        .is_some_and(|o| changed_emails.contains(o.email.as_str()))
            };
            names(site) || names(was)
        })
        .map(|s| s.key.clone())
        .collect()
}

/// The policy rules with where each is written cleared.
fn unpositioned(policies: &crate::model::policy::Policies) -> crate::model::policy::Policies {
    let mut p = policies.clone();
    for rule in &mut p.rules {
        rule.pos = Pos::default();
    }
    p
}

/// The ledger directory as the config sets it, relative to the file's
/// directory, so a base written to `base.yaml` compares with `access.yaml`.
/// A config that leaves it unset gets the default of the file it stands for
/// (`named_as`, the head config): the base is the head as it was, and
/// `access.ledger` written out is the same directory as the default of
/// `access.yaml`. (A base that writes out the default of its own temporary
/// name is taken as unset.)
fn ledger_setting(config: &Config, path: &Path, named_as: &Path) -> PathBuf {
    use crate::config::validate::ledger_dir;
    let relative = |dir: &Path, file: &Path| {
        let parent = file.parent().unwrap_or(Path::new(""));
        dir.strip_prefix(parent).unwrap_or(dir).to_path_buf()
    };
    if config.ledger_dir == ledger_dir(path, None) {
        return relative(&ledger_dir(named_as, None), named_as);
    }
    relative(&config.ledger_dir, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(sites: &[(&str, Option<&str>)]) -> Config {
        let mut text = String::from("version: 2\nsites:\n");
        for (i, (key, var)) in sites.iter().enumerate() {
            let var = var.map_or(String::new(), |v| format!(", api_key_env: {v}"));
            text.push_str(&format!(
                "  {key}:\n    wix: {{ site_id: s{i}, account_id: a{i}{var} }}\n    owner: {{ email: o{i}@x.example }}\n    access: []\n"
            ));
        }
        crate::config::load_str(Path::new("access.yaml"), text.as_bytes())
            .expect("valid")
            .config
    }

    #[test]
    fn a_line_added_above_changes_no_site_with_google_grants() {
        let text = "version: 2\npeople:\n  alice: { email: alice@agency.example }\nsites:\n  acme:\n    wix: { site_id: s1, account_id: a1, api_key_env: KEY }\n    ga4: { property: \"200\" }\n    gtm: { account: \"6000\", containers: [GTM-AAAA111] }\n    access:\n      - { person: alice, ga4: [analyst], gtm: { account: user, containers: read } }\n";
        let load = |t: &str| {
            crate::config::load_str(Path::new("access.yaml"), t.as_bytes())
                .expect("valid")
                .config
        };
        let (base, head) = (load(text), load(&format!("# moved down a line\n{text}")));
        assert_ne!(
            base.sites["acme"].targets[0].grants[0].pos,
            head.sites["acme"].targets[0].grants[0].pos
        );
        let path = Path::new("access.yaml");
        assert!(changed_sites(&base, path, &head, path).is_empty());
        // A real change to the Google grant is seen.
        let changed = load(&text.replace("ga4: [analyst]", "ga4: [editor]"));
        assert_eq!(
            changed_sites(&base, path, &changed, path),
            BTreeSet::from(["acme".to_string()])
        );
    }

    #[test]
    fn keeps_key_groups_together_and_balances() {
        let c = config(&[
            ("a1", Some("KEY_A")),
            ("a2", Some("KEY_A")),
            ("a3", Some("KEY_A")),
            ("b1", Some("KEY_B")),
            ("b2", Some("KEY_B")),
            ("c1", Some("KEY_C")),
            ("d1", Some("KEY_D")),
            ("e1", Some("KEY_E")),
            ("r1", None),
            ("r2", None),
            ("r3", None),
        ]);
        let shards = assign(&c, 3);
        assert_eq!(shards, assign(&c, 3), "deterministic");
        assert_eq!(shards.len(), 11, "every site once");
        assert_eq!(shards["a1"], shards["a2"]);
        assert_eq!(shards["a1"], shards["a3"]);
        assert_eq!(shards["b1"], shards["b2"]);
        // KEY_A (48) alone in shard 1; KEY_B (32) in 2; C, D, E (16 each)
        // fill 3, 3 and 2: loads 48, 48, 32; request-mode sites spread by count.
        assert_eq!(shards["a1"], 1);
        assert_eq!(shards["b1"], 2);
        let load = |k: u32| {
            c.sites
                .values()
                .filter(|s| shards[&s.key] == k)
                .map(estimated_requests)
                .sum::<u64>()
        };
        assert_eq!((load(1), load(2), load(3)), (48, 48, 32));
        let requests: Vec<u32> = ["r1", "r2", "r3"].iter().map(|k| shards[*k]).collect();
        assert!(requests.iter().all(|k| *k == 3 || *k == 1 || *k == 2));
        let mut per_shard = [0; 3];
        for k in shards.values() {
            per_shard[*k as usize - 1] += 1;
        }
        assert!(per_shard.iter().all(|n| *n >= 3), "{per_shard:?}");
        // One shard: everything.
        assert!(assign(&c, 1).values().all(|k| *k == 1));
        // More shards than groups: some are empty, none is out of range.
        assert!(assign(&c, 20).values().all(|k| (1..=20).contains(k)));
    }

    #[test]
    fn parses_shards() {
        assert_eq!(Shard::parse("2/4"), Ok(Shard { index: 2, count: 4 }));
        assert_eq!(Shard::parse("1/1"), Ok(Shard { index: 1, count: 1 }));
        for bad in ["0/4", "5/4", "1/0", "4", "a/b", "1/2/3", "", "/", "-1/4"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }
}
