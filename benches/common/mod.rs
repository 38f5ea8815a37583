//! Shared by the benchmarks: a deterministic agency of client sites, as the
//! three views a benchmark needs — the access config (YAML text), the Wix
//! emulator's seed (what the sites hold today) and the same live state as
//! [`LiveSite`]s for the in-memory engine benchmark — plus an independent
//! oracle for the fewest writes an apply needs, and small helpers (timing,
//! peak memory, environment knobs).
//!
//! The agency: a staff pool with known Wix account ids, five teams with one
//! role each, and per site two teams, a few staff with individual (often
//! multi-role) grants and a few of the client's own accounts. Most client
//! accounts own one site; some own two or three (one API key per account,
//! as Wix keys are account-level), and a fifth define custom roles. A few
//! sites drift from the config (an extra role, a missing member, an
//! unmanaged account) so plans are not empty. Everything comes from a
//! SplitMix64 generator with a fixed seed: same shape, same agency.

#![allow(dead_code, reason = "each benchmark uses its own part of this module")]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::Duration;

use accessctl::emulator::Seed;
use accessctl::emulator::seed::{
    RestrictFromLevel, SeedAccount, SeedContributor, SeedRole, SeedSite, default_predefined_roles,
};
use accessctl::state::{LiveSite, RoleDef};

/// The allocator the binary uses (`src/main.rs`), so what a benchmark times
/// in its own process (the engine, the report) is what `accessctl` does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod harness;

/// The pinned clock for every run, so `until` dates compare the same way.
pub const NOW: &str = "2026-06-01T12:00:00Z";

/// An `until` date long past: the grant has ended.
pub const ENDED: &str = "2020-01-31";

// ------------------------------------------------------------------ rng

/// SplitMix64: tiny and deterministic.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn between(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 > 1.0 - p
    }

    /// One of `items`, by weight.
    pub fn weighted<T: Copy>(&mut self, items: &[(u32, T)]) -> T {
        let total: u32 = items.iter().map(|(w, _)| w).sum();
        let mut pick = self.below(total as usize) as u32;
        for (w, item) in items {
            if pick < *w {
                return *item;
            }
            pick -= w;
        }
        items[items.len() - 1].1
    }
}

// ---------------------------------------------------------------- shape

/// How big the agency is and what each site holds.
#[derive(Debug, Clone)]
pub struct Shape {
    pub sites: usize,
    /// Staff with known account ids; the first 17 form the teams.
    pub staff: usize,
    /// Team grants per site (each a different team).
    pub teams_per_site: usize,
    /// Individual staff grants per site, `lo..=hi`.
    pub staff_grants: (usize, usize),
    /// Grants to the client's own accounts per site, `lo..=hi`.
    pub client_grants: (usize, usize),
    /// Grants by email to people with no known account (freelancers).
    pub email_grants: usize,
    /// Whether some accounts own two or three sites.
    pub shared_accounts: bool,
    /// Whether a few sites drift from the config.
    pub drift: bool,
}

impl Shape {
    /// The agency of the plan and request-economy benchmarks: about ten
    /// collaborators per site.
    pub fn agency(sites: usize) -> Self {
        Shape {
            sites,
            staff: 40,
            teams_per_site: 2,
            staff_grants: (1, 2),
            client_grants: (1, 2),
            email_grants: 0,
            shared_accounts: true,
            drift: true,
        }
    }
}

// ---------------------------------------------------------------- model

const TEAMS: &[(&str, usize, &str)] = &[
    // name, members, role
    ("seo", 4, "Marketing Manager"),
    ("design", 3, "Website Designer"),
    ("content", 4, "Blog Editor"),
    ("dev", 3, "Website Manager"),
    ("support", 3, "Customer Relations Manager"),
];

/// Members of all teams together; staff after these hold individual grants.
const TEAM_STAFF: usize = 17;

const STAFF_ROLES: &[(u32, &[&str])] = &[
    (10, &["Admin (Co-Owner)"]),
    (30, &["Website Designer", "Blog Editor"]),
    (20, &["Content Manager"]),
    (15, &["Back Office Manager"]),
    (10, &["Billing Manager"]),
    (10, &["Blog Writer"]),
    (5, &["Marketing Manager", "Customer Relations Manager"]),
];

const CLIENT_ROLES: &[(u32, &[&str])] = &[
    (40, &["Back Office Manager"]),
    (20, &["Billing Manager"]),
    (15, &["Payments Admin"]),
    (15, &["Content Manager", "Blog Writer"]),
    (10, &["Domain Manager"]),
];

const CUSTOM_ROLES: &[&str] = &["SEO Reviewer", "Shop Assistant"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Team(usize),
    Staff(usize),
    /// A client-side Wix account id.
    Account(String),
    Email(String),
}

#[derive(Debug, Clone)]
pub struct Grant {
    pub principal: Principal,
    /// Role titles.
    pub roles: Vec<String>,
    pub until: Option<&'static str>,
}

#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub key: String,
    pub env_var: String,
    /// `(id, title)`.
    pub custom_roles: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct Site {
    pub key: String,
    pub id: String,
    pub account: usize,
    pub unmanaged: Option<&'static str>,
    pub grants: Vec<Grant>,
    /// Live contributors besides the owner: account id → role ids.
    pub live: BTreeMap<String, BTreeSet<String>>,
}

#[derive(Debug, Clone)]
pub struct Agency {
    pub staff: usize,
    pub accounts: Vec<Account>,
    pub sites: Vec<Site>,
    /// Title (lowercase) → id of the predefined roles.
    predefined: BTreeMap<String, String>,
    /// Each account's role list, made once and shared by its sites, as the
    /// Wix client does.
    roles: std::cell::RefCell<BTreeMap<usize, std::sync::Arc<Vec<RoleDef>>>>,
    /// One copy of each role id for every live site, as a reader of many
    /// sites keeps them (`accessctl::state::RoleIds`).
    role_ids: std::cell::RefCell<accessctl::state::RoleIds>,
}

pub fn staff_key(i: usize) -> String {
    format!("p{i:03}")
}

pub fn staff_email(i: usize) -> String {
    format!("{}@agency.example", staff_key(i))
}

pub fn staff_account(i: usize) -> String {
    format!("acct-staff-{i:03}")
}

fn team_members(team: usize) -> std::ops::Range<usize> {
    let start: usize = TEAMS[..team].iter().map(|t| t.1).sum();
    start..start + TEAMS[team].1
}

fn titles(roles: &[&str]) -> Vec<String> {
    roles.iter().map(|r| (*r).to_string()).collect()
}

impl Agency {
    pub fn generate(shape: &Shape) -> Agency {
        let mut sites = Vec::with_capacity(shape.sites);
        let mut agency = Agency::generate_each(shape, |_, site| sites.push(site));
        agency.sites = sites;
        agency
    }

    /// The agency without its sites, each handed to `each` as it is made
    /// (so a large one need not be held in memory twice).
    pub fn generate_each(shape: &Shape, mut each: impl FnMut(&Agency, Site)) -> Agency {
        assert!(shape.staff > TEAM_STAFF + 4, "need staff beyond the teams");
        let predefined = default_predefined_roles()
            .into_iter()
            .map(|r| (r.title.to_lowercase(), r.id))
            .collect();
        let mut rng = Rng::new(0xACCE55);
        let mut agency = Agency {
            staff: shape.staff,
            accounts: Vec::new(),
            sites: Vec::new(),
            predefined,
            roles: Default::default(),
            role_ids: Default::default(),
        };
        // Accounts first: most own one site, some two or three, and sites of
        // one account sit next to each other (as "acme-bakery" and
        // "acme-catering" would).
        let mut owners = Vec::with_capacity(shape.sites);
        while owners.len() < shape.sites {
            let a = agency.accounts.len();
            let sites = if shape.shared_accounts {
                rng.weighted(&[(85, 1), (10, 2), (5, 3)])
            } else {
                1
            };
            let customs = rng.weighted(&[(80, 0), (15, 1), (5, 2)]);
            agency.accounts.push(Account {
                id: format!("ac{a:06}-0000-4000-8000-{a:012}"),
                key: format!("emu-bench-key-{a:06}"),
                env_var: format!("BENCH_WIX_KEY_{a:06}"),
                custom_roles: CUSTOM_ROLES[..customs]
                    .iter()
                    .map(|t| {
                        let slug = t.to_lowercase().replace(' ', "-");
                        (format!("custom-{slug}-{a:06}"), (*t).to_string())
                    })
                    .collect(),
            });
            for _ in 0..sites {
                if owners.len() < shape.sites {
                    owners.push(a);
                }
            }
        }
        for (i, &a) in owners.iter().enumerate() {
            let site = agency.generate_site(shape, &mut rng, i, a);
            each(&agency, site);
        }
        agency
    }

    fn generate_site(&self, shape: &Shape, rng: &mut Rng, i: usize, a: usize) -> Site {
        let mut grants = Vec::new();
        let mut teams: Vec<usize> = Vec::new();
        while teams.len() < shape.teams_per_site.min(TEAMS.len()) {
            let t = rng.below(TEAMS.len());
            if !teams.contains(&t) {
                teams.push(t);
            }
        }
        teams.sort();
        for &t in &teams {
            grants.push(Grant {
                principal: Principal::Team(t),
                roles: vec![TEAMS[t].2.to_string()],
                until: None,
            });
        }
        let mut staff: Vec<usize> = Vec::new();
        let n = rng.between(shape.staff_grants.0, shape.staff_grants.1);
        while staff.len() < n {
            let s = TEAM_STAFF + rng.below(shape.staff - TEAM_STAFF);
            if !staff.contains(&s) {
                staff.push(s);
            }
        }
        staff.sort();
        for &s in &staff {
            grants.push(Grant {
                principal: Principal::Staff(s),
                roles: titles(rng.weighted(STAFF_ROLES)),
                until: None,
            });
        }
        let account = &self.accounts[a];
        let n = rng.between(shape.client_grants.0, shape.client_grants.1);
        for c in 0..n {
            let roles = if !account.custom_roles.is_empty() && rng.chance(0.5) {
                vec![
                    account.custom_roles[rng.below(account.custom_roles.len())]
                        .1
                        .clone(),
                ]
            } else {
                titles(rng.weighted(CLIENT_ROLES))
            };
            grants.push(Grant {
                principal: Principal::Account(format!("acct-client-{i:06}-{c}")),
                roles,
                until: None,
            });
        }
        for e in 0..shape.email_grants {
            grants.push(Grant {
                principal: Principal::Email(format!("freelancer{e}-{i:06}@freelance.example")),
                roles: titles(rng.weighted(CLIENT_ROLES)),
                until: None,
            });
        }
        let mut site = Site {
            key: format!("client-{i:06}"),
            id: format!("5e1a{i:04x}-0000-4000-8000-{i:012}"),
            account: a,
            unmanaged: None,
            grants,
            live: BTreeMap::new(),
        };
        // Live state: what the config says (email grants are not there yet:
        // they are invites to send)…
        site.live = self.desired(&site);
        // …except on a few sites that drifted.
        if shape.drift {
            let drift = rng.below(100);
            if drift < 3 {
                // Someone was given an extra role in the dashboard.
                let who = staff_account(staff[0]);
                let extra = self.role_id(a, "Blog Writer");
                site.live.entry(who).or_default().insert(extra);
            } else if drift < 5 {
                // A team member never accepted (or left): invite again.
                let who = staff_account(team_members(teams[0]).start);
                site.live.remove(&who);
            } else if drift < 7 {
                // The client added someone themselves.
                let who = format!("acct-client-own-{i:06}");
                site.live
                    .insert(who, BTreeSet::from([self.role_id(a, "Website Manager")]));
            }
        }
        site
    }

    /// Role id of a title on an account (predefined or custom).
    pub fn role_id(&self, account: usize, title: &str) -> String {
        if let Some(id) = self.predefined.get(&title.to_lowercase()) {
            return id.clone();
        }
        self.accounts[account]
            .custom_roles
            .iter()
            .find(|(_, t)| t == title)
            .map(|(id, _)| id.clone())
            .unwrap_or_else(|| panic!("no role {title:?} on account {account}"))
    }

    /// Role definitions the site's account has (predefined and custom).
    pub fn role_count(&self, account: usize) -> usize {
        self.predefined.len() + self.accounts[account].custom_roles.len()
    }

    /// Account ids a grant names (an email names none).
    fn accounts_of(&self, principal: &Principal) -> Vec<String> {
        match principal {
            Principal::Team(t) => team_members(*t).map(staff_account).collect(),
            Principal::Staff(s) => vec![staff_account(*s)],
            Principal::Account(a) => vec![a.clone()],
            Principal::Email(_) => Vec::new(),
        }
    }

    /// Account id → role ids the config wants on the site (grants that have
    /// not ended; email grants have no account yet).
    pub fn desired(&self, site: &Site) -> BTreeMap<String, BTreeSet<String>> {
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for g in site.grants.iter().filter(|g| g.until.is_none()) {
            for account in self.accounts_of(&g.principal) {
                let ids = g.roles.iter().map(|r| self.role_id(site.account, r));
                out.entry(account).or_default().extend(ids);
            }
        }
        out
    }

    /// The fewest writes an apply of the config needs on a site, worked out
    /// from the desired and live state directly (not from accessctl's plan):
    /// one Bulk Invite per distinct role set (50 emails a call), one Change
    /// Role per person whose roles differ, one Remove per account whose
    /// grants have all ended or that is unmanaged under `remove`.
    pub fn minimum_writes(&self, site: &Site) -> Writes {
        let desired = self.desired(site);
        let ended: BTreeSet<String> = site
            .grants
            .iter()
            .filter(|g| g.until.is_some())
            .flat_map(|g| self.accounts_of(&g.principal))
            .filter(|a| !desired.contains_key(a))
            .collect();
        let mut invites: BTreeMap<BTreeSet<String>, usize> = BTreeMap::new();
        let mut writes = Writes::default();
        for (account, roles) in &desired {
            match site.live.get(account) {
                Some(live) if live != roles => writes.change_role += 1,
                Some(_) => {}
                None => *invites.entry(roles.clone()).or_default() += 1,
            }
        }
        for g in site.grants.iter().filter(|g| g.until.is_none()) {
            if let Principal::Email(_) = g.principal {
                let ids = g.roles.iter().map(|r| self.role_id(site.account, r));
                *invites.entry(ids.collect()).or_default() += 1;
            }
        }
        writes.bulk_invite = invites.values().map(|n| n.div_ceil(50)).sum();
        writes.invited = invites.values().sum();
        for account in site.live.keys() {
            if desired.contains_key(account) {
                continue;
            }
            if ended.contains(account) || site.unmanaged == Some("remove") {
                writes.remove += 1;
            }
        }
        writes
    }

    /// The access config, as a person would write it.
    pub fn config_yaml(&self) -> String {
        let mut y = self.header_yaml();
        for site in &self.sites {
            self.site_yaml(site, &mut y);
        }
        y
    }

    /// The config up to its `sites:` key (people and teams).
    pub fn header_yaml(&self) -> String {
        let mut y = String::new();
        y.push_str("version: 2\nledger_dir: access.ledger\n\npeople:\n");
        for s in 0..self.staff {
            let _ = writeln!(
                y,
                "  {}: {{ email: {}, wix_account_id: {} }}",
                staff_key(s),
                staff_email(s),
                staff_account(s)
            );
        }
        y.push_str("\nteams:\n");
        for (t, (name, _, _)) in TEAMS.iter().enumerate() {
            let members: Vec<String> = team_members(t).map(staff_key).collect();
            let _ = writeln!(y, "  {name}: [{}]", members.join(", "));
        }
        y.push_str("\nsites:\n");
        y
    }

    /// One site's entry under `sites:`.
    pub fn site_yaml(&self, site: &Site, y: &mut String) {
        let account = &self.accounts[site.account];
        let _ = writeln!(y, "  {}:", site.key);
        let _ = writeln!(y, "    wix:");
        let _ = writeln!(y, "      site_id: {}", site.id);
        let _ = writeln!(y, "      account_id: {}", account.id);
        let _ = writeln!(y, "      api_key_env: {}", account.env_var);
        if let Some(u) = site.unmanaged {
            let _ = writeln!(y, "    unmanaged: {u}");
        }
        y.push_str("    access:\n");
        for g in &site.grants {
            let _ = match &g.principal {
                Principal::Team(t) => writeln!(y, "      - team: {}", TEAMS[*t].0),
                Principal::Staff(s) => writeln!(y, "      - person: {}", staff_key(*s)),
                Principal::Account(a) => writeln!(y, "      - wix_account_id: {a}"),
                Principal::Email(e) => writeln!(y, "      - email: {e}"),
            };
            let _ = if g.roles.len() == 1 {
                writeln!(y, "        role: {}", g.roles[0])
            } else {
                writeln!(y, "        roles: [{}]", g.roles.join(", "))
            };
            if let Some(until) = g.until {
                let _ = writeln!(y, "        until: {until}");
            }
        }
    }

    /// The emulator's seed: accounts with their keys and custom roles, and
    /// each site's live contributors.
    pub fn seed(&self) -> Seed {
        Seed {
            clock: Some(NOW.to_string()),
            accounts: self
                .accounts
                .iter()
                .map(|a| SeedAccount {
                    id: a.id.clone(),
                    api_keys: vec![a.key.clone()],
                    custom_roles: a
                        .custom_roles
                        .iter()
                        .map(|(id, title)| SeedRole {
                            id: id.clone(),
                            title: title.clone(),
                            description: String::new(),
                            restrict_from_level: RestrictFromLevel::NoRestriction,
                        })
                        .collect(),
                })
                .collect(),
            sites: self
                .sites
                .iter()
                .map(|s| SeedSite {
                    id: s.id.clone(),
                    account: self.accounts[s.account].id.clone(),
                    seat_limit: Some(100),
                    contributors: s
                        .live
                        .iter()
                        .map(|(account_id, roles)| SeedContributor {
                            account_id: account_id.clone(),
                            roles: roles.iter().cloned().collect(),
                        })
                        .collect(),
                    invites: Vec::new(),
                })
                .collect(),
            ..Seed::default()
        }
    }

    /// What a read of the site returns, as the provider builds it.
    fn account_roles(&self, account: usize) -> Vec<RoleDef> {
        let mut roles: Vec<RoleDef> = default_predefined_roles()
            .into_iter()
            .map(|r| RoleDef {
                id: r.id,
                title: r.title,
                custom: false,
            })
            .chain(
                self.accounts[account]
                    .custom_roles
                    .iter()
                    .map(|(id, title)| RoleDef {
                        id: id.clone(),
                        title: title.clone(),
                        custom: true,
                    }),
            )
            .collect();
        roles.sort_by(|a, b| (&a.title, &a.id).cmp(&(&b.title, &b.id)));
        roles
    }

    pub fn live_site(&self, site: &Site) -> LiveSite {
        let roles = self
            .roles
            .borrow_mut()
            .entry(site.account)
            .or_insert_with(|| std::sync::Arc::new(self.account_roles(site.account)))
            .clone();
        let mut ids = self.role_ids.borrow_mut();
        LiveSite {
            roles,
            owners: BTreeSet::from([self.accounts[site.account].id.clone()]),
            contributors: site
                .live
                .iter()
                .map(|(account, roles)| {
                    (
                        account.clone(),
                        roles.iter().map(|id| ids.get(id)).collect(),
                    )
                })
                .collect(),
        }
    }

    /// `VAR=key` for every account, for the accessctl process.
    pub fn env(&self) -> Vec<(String, String)> {
        self.accounts
            .iter()
            .map(|a| (a.env_var.clone(), a.key.clone()))
            .collect()
    }

    /// Writes the config into `dir` as `access.yaml`; returns its path and
    /// the environment that holds the keys.
    pub fn write_config(
        &self,
        dir: &std::path::Path,
    ) -> (std::path::PathBuf, Vec<(String, String)>) {
        let config = dir.join("access.yaml");
        std::fs::write(&config, self.config_yaml()).expect("write config");
        (config, self.env())
    }

    /// The agency in a line, for a benchmark's heading.
    pub fn summary(&self) -> String {
        format!(
            "agency: {} sites, {} accounts (API keys), {:.1} collaborators per site besides the owner",
            thousands(self.sites.len() as u64),
            thousands(self.accounts_used() as u64),
            self.mean_collaborators()
        )
    }

    /// Mean contributors per site besides the owner.
    pub fn mean_collaborators(&self) -> f64 {
        let total: usize = self.sites.iter().map(|s| s.live.len()).sum();
        total as f64 / self.sites.len().max(1) as f64
    }

    /// Accounts that own at least one site.
    pub fn accounts_used(&self) -> usize {
        self.sites
            .iter()
            .map(|s| s.account)
            .collect::<BTreeSet<_>>()
            .len()
    }
}

/// Writes an apply sends, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Writes {
    pub bulk_invite: usize,
    /// Emails across those Bulk Invites.
    pub invited: usize,
    pub change_role: usize,
    pub remove: usize,
}

impl std::ops::AddAssign for Writes {
    fn add_assign(&mut self, o: Writes) {
        self.bulk_invite += o.bulk_invite;
        self.invited += o.invited;
        self.change_role += o.change_role;
        self.remove += o.remove;
    }
}

// -------------------------------------------------------------- helpers

/// A number from the environment, else `default`.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

/// Peak resident memory of this process so far (VmHWM), in bytes.
pub fn peak_rss() -> u64 {
    proc_status_kib("VmHWM:") * 1024
}

/// Start counting the peak (VmHWM) from the current resident memory, so
/// what was resident before (and freed since) does not count.
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Resident memory now (VmRSS), in bytes.
pub fn rss() -> u64 {
    proc_status_kib("VmRSS:") * 1024
}

fn proc_status_kib(field: &str) -> u64 {
    status_kib("/proc/self/status", field)
}

/// A `kB` field of a `/proc/…/status` file; 0 when it cannot be read.
pub fn status_kib(path: &str, field: &str) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU time (user + system) of this process and of its reaped children,
/// from /proc/self/stat, in seconds (clock ticks of 1/100 s).
pub fn cpu_times() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    // utime, stime, cutime, cstime are fields 14-17 of the line, 12-15 here.
    let at = |i: usize| f.get(i).copied().unwrap_or(0.0) / 100.0;
    (at(11) + at(12), at(13) + at(14))
}

pub fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

pub fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// `12,345`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// "ok" or "MISSED", for a figure against its target.
pub fn verdict(ok: bool) -> &'static str {
    if ok { "ok" } else { "MISSED" }
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The machine, for the report.
pub fn machine() -> String {
    let cores = cores();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    format!("{cores} cores, {cpu}")
}

/// The engine benchmark's agency shape: `sites` sites × 20 grants, with
/// shared accounts and drift (`ACCESSCTL_BENCH_STAFF` staff, 200).
pub fn engine_shape(sites: usize) -> Shape {
    Shape {
        sites,
        staff: env_or("ACCESSCTL_BENCH_STAFF", 200),
        teams_per_site: 2,
        staff_grants: (14, 14),
        client_grants: (2, 2),
        email_grants: 2,
        shared_accounts: true,
        drift: true,
    }
}

/// The agency of `shape`, made one site at a time straight into the two
/// inputs of a run: the config text and the observed state (Wix only,
/// empty ledgers).
pub fn in_memory(shape: &Shape) -> (String, BTreeMap<String, accessctl::observe::Observed>) {
    let mut yaml = String::new();
    let mut observed = BTreeMap::new();
    let agency = Agency::generate_each(shape, |agency, site| {
        if yaml.is_empty() {
            yaml = agency.header_yaml();
        }
        agency.site_yaml(&site, &mut yaml);
        let o = accessctl::observe::Observed {
            targets: Vec::new(),
            observation: accessctl::plan::Observation::Live(agency.live_site(&site)),
            ledger: Some(accessctl::ledger::SiteLedger::new(&site.key, &site.id)),
        };
        observed.insert(site.key, o);
    });
    drop(agency);
    yaml.shrink_to_fit();
    (yaml, observed)
}

/// Saves `observed` to `file` as `accessctl snapshot` saves it (with the
/// plan's fingerprints); the file's size.
pub fn save_snapshot(
    config: &accessctl::model::Config,
    observed: &BTreeMap<String, accessctl::observe::Observed>,
    file: &std::path::Path,
) -> u64 {
    use time::format_description::well_known::Rfc3339;
    let now = time::OffsetDateTime::parse(NOW, &Rfc3339).expect("NOW");
    let plan = accessctl::observe::build_plan(
        config,
        observed,
        now,
        &accessctl::ledger::guards::Recorded::None,
        accessctl::plan::safety::Overrides::default(),
    );
    let snapshot = accessctl::snapshot::take(config, observed, &plan, now);
    drop(plan);
    accessctl::snapshot::write(
        &snapshot,
        std::fs::File::create(file).expect("create the snapshot"),
    )
    .expect("write the snapshot");
    std::fs::metadata(file).expect("snapshot").len()
}
