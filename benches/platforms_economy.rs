//! Benchmark 5, platforms economy: how many requests `plan` and `apply`
//! send to Wix, Google Analytics 4 and Google Tag Manager for 100 clients
//! that each have all three, against the fewest that can do the job.
//!
//! The agency (fixed seed): twelve staff, two teams granted through access
//! levels (`seo`: Marketing Manager / analyst / account user + read;
//! `content`: Blog Editor / viewer / account user + edit), one to three
//! direct grants per client, and per client a Wix site (its own account and
//! API key), a GA4 property (every tenth client also manages its GA4
//! account: a staff admin there) and a GTM account with one managed and one
//! unmanaged container. A third of the clients are `unmanaged: remove`, the
//! rest `warn`. The live state drifted on every platform: people missing
//! (adds), roles changed (updates), strays (removals where `remove`),
//! permissions on the unmanaged container changed (nothing to do), emails in
//! another case (nothing to do); one GA4 property lists 526 bindings and one
//! GTM account 126 documents (kept: `unmanaged: keep`), so two listings
//! need a second page.
//!
//! It runs the release binary three times — `plan`, `apply --auto-approve`,
//! `plan --detailed-exitcode` (must find nothing to do) — and counts each
//! run's requests per endpoint from the emulator's request log; token
//! exchanges are attributed to GA4 or GTM by the scopes of their assertion
//! (read by a layer in this process: the log redacts assertions). The
//! minimum is worked out from the generated data, not from accessctl's
//! plan:
//!
//! - Wix: per site one unfiltered Query Site Contributors plus one per role
//!   of the account (14 predefined here), one Get Roles Info per account;
//!   writes: one Bulk Invite per site and distinct role set, one Change Role
//!   per changed person, one Remove per removal.
//! - GA4: one list per parent, one more per 500 bindings; writes: one batch
//!   per parent and kind (create, update, delete) that has work.
//! - GTM: one `user_permissions` list per account (one more per 100
//!   documents, the emulator's page); *and* one containers list per account,
//!   since documents name containers by numeric id and the config by
//!   `GTM-XXXX` — the issue's minimum leaves it out, so both are printed;
//!   writes: one POST, PUT or DELETE per changed user.
//! - Tokens: one exchange per scope set a process needs: GA4 reads
//!   (`analytics.manage.users.readonly`), GA4 writes
//!   (`analytics.manage.users`), GTM's `tagmanager.manage.users` and
//!   `tagmanager.readonly` (containers).
//!
//! GTM's real quota is 25 requests per 100 s per Cloud project. This
//! benchmark counts requests, not time, so it raises the quota on both
//! sides: the emulator's (`google.gtm.rate`) and accessctl's
//! (`ACCESSCTL_GTM_RATE`). Wall times are informational.
//!
//! `cargo bench --bench platforms_economy`; `ACCESSCTL_BENCH_CLIENTS` (100).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use accessctl::emulator::Seed;
use accessctl::emulator::google::{self, ga4, gtm};
use accessctl::emulator::seed::{SeedAccount, SeedContributor, SeedSite, default_predefined_roles};
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::Response;
use base64::Engine as _;
use common::{NOW, Rng, env_or, harness, machine, secs, thousands};
use serde_json::Value;

const SA: &str = "accessctl@agency-project.iam.gserviceaccount.com";
const PUBLIC_KEY: &str = include_str!("../examples/google/emulator-service-account.pub.pem");
const GTM_RATE: u32 = 100_000;

const STAFF: usize = 12;
const SEO: [usize; 3] = [0, 1, 2];
const CONTENT: [usize; 3] = [3, 4, 5];
/// Staff picked for direct grants.
const DIRECT: std::ops::Range<usize> = 6..11;
/// The staff member who is admin of the GA4 accounts that are managed.
const LEAD: usize = 11;

const GA4_PAGE: usize = 500;
const GTM_PAGE: usize = 100;

// ---------------------------------------------------------------- model

#[derive(Clone, Copy)]
struct Level {
    name: &'static str,
    wix: &'static str,
    ga4: &'static str,
    gtm: (&'static str, &'static str),
}

const LEVEL_SEO: Level = Level {
    name: "seo",
    wix: "Marketing Manager",
    ga4: "analyst",
    gtm: ("user", "read"),
};
const LEVEL_CONTENT: Level = Level {
    name: "content",
    wix: "Blog Editor",
    ga4: "viewer",
    gtm: ("user", "edit"),
};

/// A direct grant: Wix roles, a GA4 property role, GTM (account, managed
/// containers).
#[derive(Clone)]
struct Direct {
    staff: usize,
    wix: &'static [&'static str],
    ga4: Option<&'static str>,
    gtm: GtmGrant,
}

/// GTM: (account permission, permission on the managed containers).
type GtmGrant = Option<(&'static str, &'static str)>;

/// A direct grant's kind: Wix roles, GA4 property role, GTM.
type Kind = (&'static [&'static str], Option<&'static str>, GtmGrant);

const DIRECT_KINDS: &[Kind] = &[
    (
        &["Website Designer"],
        Some("editor"),
        Some(("user", "publish")),
    ),
    (&["Content Manager"], Some("analyst"), None),
    (&["Back Office Manager"], None, Some(("user", "approve"))),
    (
        &["Website Designer", "Blog Editor"],
        Some("viewer"),
        Some(("admin", "edit")),
    ),
];

/// A GTM document: account permission, public container id → permission.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Doc {
    account: String,
    containers: BTreeMap<String, String>,
}

struct Client {
    i: usize,
    content_team: bool,
    directs: Vec<Direct>,
    /// The GA4 account is a target too.
    ga4_account: bool,
    unmanaged: &'static str,
    /// `unmanaged: keep` on the GA4 (GTM) target: the big listings.
    ga4_keep: bool,
    gtm_keep: bool,
    /// Account id → Wix role ids.
    wix: BTreeMap<String, BTreeSet<String>>,
    /// Parent → email (as stored) → roles (wire names).
    ga4: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
    /// Email (as stored) → document.
    gtm: BTreeMap<String, Doc>,
}

fn staff_email(s: usize) -> String {
    format!("p{s:02}@agency.example")
}

fn staff_account(s: usize) -> String {
    format!("acct-staff-{s:02}")
}

fn wire(role: &str) -> String {
    format!("predefinedRoles/{role}")
}

impl Client {
    fn site_id(&self) -> String {
        format!("5e1a{:04x}-0000-4000-8000-{:012}", self.i, self.i)
    }
    fn wix_account(&self) -> String {
        format!("ac{:06}-0000-4000-8000-{:012}", self.i, self.i)
    }
    fn key_var(&self) -> String {
        format!("BENCH_WIX_KEY_{:06}", self.i)
    }
    fn key(&self) -> String {
        format!("emu-bench-key-{:06}", self.i)
    }
    fn ga4_account_id(&self) -> String {
        format!("{}", 100_000 + self.i)
    }
    fn property(&self) -> String {
        format!("properties/{}", 300_000 + self.i)
    }
    fn account_parent(&self) -> String {
        format!("accounts/{}", self.ga4_account_id())
    }
    fn gtm_account(&self) -> String {
        format!("{}", 6_000_000 + self.i)
    }
    fn managed(&self) -> String {
        format!("GTM-M{:05}", self.i)
    }
    fn unmanaged_container(&self) -> String {
        format!("GTM-U{:05}", self.i)
    }
    fn removes(&self, keep: bool) -> bool {
        !keep && self.unmanaged == "remove"
    }

    fn levels(&self) -> Vec<(Level, [usize; 3])> {
        let mut out = vec![(LEVEL_SEO, SEO)];
        if self.content_team {
            out.push((LEVEL_CONTENT, CONTENT));
        }
        out
    }

    /// Account id → role ids the config wants on the Wix site.
    fn desired_wix(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (level, members) in self.levels() {
            for s in members {
                out.entry(staff_account(s))
                    .or_default()
                    .insert(role_id(level.wix));
            }
        }
        for d in self.directs.iter().filter(|d| !d.wix.is_empty()) {
            out.entry(staff_account(d.staff))
                .or_default()
                .extend(d.wix.iter().map(|r| role_id(r)));
        }
        out
    }

    /// Parent → email → role (the higher, when grants overlap).
    fn desired_ga4(&self) -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
        let mut property: BTreeMap<String, &str> = BTreeMap::new();
        let mut grant = |email: String, role: &'static str| {
            let e = property.entry(email).or_insert(role);
            if rank(&["viewer", "analyst", "editor", "admin"], role)
                > rank(&["viewer", "analyst", "editor", "admin"], e)
            {
                *e = role;
            }
        };
        for (level, members) in self.levels() {
            for s in members {
                grant(staff_email(s), level.ga4);
            }
        }
        for d in &self.directs {
            if let Some(r) = d.ga4 {
                grant(staff_email(d.staff), r);
            }
        }
        let mut out = BTreeMap::new();
        out.insert(
            self.property(),
            property
                .into_iter()
                .map(|(e, r)| (e, BTreeSet::from([wire(r)])))
                .collect(),
        );
        if self.ga4_account {
            out.insert(
                self.account_parent(),
                BTreeMap::from([(staff_email(LEAD), BTreeSet::from([wire("admin")]))]),
            );
        }
        out
    }

    /// Email → (account permission, permission on the managed container).
    fn desired_gtm(&self) -> BTreeMap<String, (&'static str, &'static str)> {
        let mut out: BTreeMap<String, (&'static str, &'static str)> = BTreeMap::new();
        let mut grant = |email: String, (a, c): (&'static str, &'static str)| {
            let e = out.entry(email).or_insert((a, c));
            if rank(&["user", "admin"], a) > rank(&["user", "admin"], e.0) {
                e.0 = a;
            }
            let perms = ["read", "edit", "approve", "publish"];
            if rank(&perms, c) > rank(&perms, e.1) {
                e.1 = c;
            }
        };
        for (level, members) in self.levels() {
            for s in members {
                grant(staff_email(s), level.gtm);
            }
        }
        for d in &self.directs {
            if let Some(g) = d.gtm {
                grant(staff_email(d.staff), g);
            }
        }
        out
    }

    /// GA4 parents that are targets, with whether their unmanaged policy
    /// removes.
    fn ga4_targets(&self) -> Vec<(String, bool)> {
        let mut out = vec![(self.property(), self.removes(self.ga4_keep))];
        if self.ga4_account {
            out.push((self.account_parent(), self.removes(false)));
        }
        out
    }
}

fn rank(order: &[&str], x: &str) -> usize {
    order.iter().position(|o| *o == x).unwrap_or(0)
}

fn role_id(title: &str) -> String {
    default_predefined_roles()
        .into_iter()
        .find(|r| r.title == title)
        .unwrap_or_else(|| panic!("no predefined role {title:?}"))
        .id
}

fn generate(clients: usize) -> Vec<Client> {
    let mut rng = Rng::new(0x6A4_67A);
    let mut out = Vec::with_capacity(clients);
    for i in 0..clients {
        let mut directs: Vec<Direct> = Vec::new();
        let n = rng.between(1, 3);
        while directs.len() < n {
            let staff = DIRECT.start + rng.below(DIRECT.len());
            if directs.iter().any(|d| d.staff == staff) {
                continue;
            }
            let (wix, ga4, gtm) = DIRECT_KINDS[rng.below(DIRECT_KINDS.len())];
            directs.push(Direct {
                staff,
                wix,
                ga4,
                gtm,
            });
        }
        directs.sort_by_key(|d| d.staff);
        let mut c = Client {
            i,
            content_team: rng.chance(0.6),
            directs,
            ga4_account: i.is_multiple_of(10),
            unmanaged: if i.is_multiple_of(3) {
                "remove"
            } else {
                "warn"
            },
            ga4_keep: i == 4,
            gtm_keep: i == 5,
            wix: BTreeMap::new(),
            ga4: BTreeMap::new(),
            gtm: BTreeMap::new(),
        };
        drift(&mut c, &mut rng);
        out.push(c);
    }
    out
}

/// The live state: what the config wants, drifted.
fn drift(c: &mut Client, rng: &mut Rng) {
    let i = c.i;
    // ---- Wix
    c.wix = c.desired_wix();
    if rng.chance(0.15) {
        // A team member left: invited again.
        c.wix.remove(&staff_account(SEO[rng.below(3)]));
    }
    if rng.chance(0.15) {
        // Someone was given an extra role in the dashboard.
        let who = staff_account(c.directs[0].staff);
        c.wix.entry(who).or_default().insert(role_id("Blog Writer"));
    }
    if rng.chance(0.2) {
        // The client added someone themselves.
        c.wix.insert(
            format!("acct-stray-{i:03}"),
            BTreeSet::from([role_id("Website Manager")]),
        );
    }

    // ---- GA4
    let odd_case = i.is_multiple_of(7);
    let stored = |email: &str| -> String {
        if odd_case {
            let mut e = email.to_string();
            e[..1].make_ascii_uppercase();
            e.replace("agency.example", "Agency.Example")
        } else {
            email.to_string()
        }
    };
    let desired = c.desired_ga4();
    let property = c.property();
    let mut prop: BTreeMap<String, BTreeSet<String>> = desired[&property]
        .iter()
        .map(|(e, r)| (stored(e), r.clone()))
        .collect();
    if rng.chance(0.2) {
        // Missing: an add.
        let k = prop.keys().nth(rng.below(prop.len())).cloned();
        if let Some(k) = k {
            prop.remove(&k);
        }
    }
    if rng.chance(0.2) {
        // Another role: an update.
        let k = prop.keys().nth(rng.below(prop.len())).cloned();
        if let Some(k) = k {
            let now = prop[&k].iter().next().cloned().unwrap_or_default();
            let other = if now == wire("editor") {
                wire("viewer")
            } else {
                wire("editor")
            };
            prop.insert(k, BTreeSet::from([other]));
        }
    }
    if rng.chance(0.25) {
        prop.insert(
            format!("old-agency-{i:03}@elsewhere.example"),
            BTreeSet::from([wire("editor")]),
        );
    }
    if c.ga4_keep {
        for n in 0..520 {
            prop.insert(
                format!("reader{n:03}-{i:03}@client.example"),
                BTreeSet::from([wire("viewer")]),
            );
        }
    }
    c.ga4.insert(property, prop);
    // The account: the service account is its admin (always; not a target
    // unless `ga4_account`).
    let mut account = BTreeMap::from([(SA.to_string(), BTreeSet::from([wire("admin")]))]);
    if c.ga4_account {
        if rng.chance(0.5) {
            account.insert(staff_email(LEAD), BTreeSet::from([wire("admin")]));
        }
        if rng.chance(0.5) {
            account.insert(
                format!("former-{i:03}@elsewhere.example"),
                BTreeSet::from([wire("viewer")]),
            );
        }
    }
    c.ga4.insert(c.account_parent(), account);

    // ---- GTM
    let managed = c.managed();
    let unmanaged = c.unmanaged_container();
    let mut docs: BTreeMap<String, Doc> = BTreeMap::new();
    docs.insert(
        SA.to_string(),
        Doc {
            account: "admin".into(),
            containers: BTreeMap::new(),
        },
    );
    for (email, (a, p)) in c.desired_gtm() {
        let mut containers = BTreeMap::from([(managed.clone(), p.to_string())]);
        if rng.chance(0.3) {
            containers.insert(unmanaged.clone(), "read".into());
        }
        docs.insert(
            email,
            Doc {
                account: a.into(),
                containers,
            },
        );
    }
    let people: Vec<String> = docs.keys().filter(|e| *e != SA).cloned().collect();
    if rng.chance(0.2) {
        // Missing: a POST.
        docs.remove(&people[rng.below(people.len())]);
    }
    if rng.chance(0.2) {
        // Another permission on the managed container: a PUT.
        let who = &people[rng.below(people.len())];
        if let Some(doc) = docs.get_mut(who) {
            let now = doc.containers.get(&managed).cloned().unwrap_or_default();
            let other = if now == "publish" { "read" } else { "publish" };
            doc.containers.insert(managed.clone(), other.into());
        }
    }
    if rng.chance(0.15) {
        // Only the unmanaged container differs: nothing to do.
        let who = &people[rng.below(people.len())];
        if let Some(doc) = docs.get_mut(who) {
            let now = doc.containers.get(&unmanaged).cloned();
            let other = if now.as_deref() == Some("edit") {
                "publish"
            } else {
                "edit"
            };
            doc.containers.insert(unmanaged.clone(), other.into());
        }
    }
    if rng.chance(0.25) {
        docs.insert(
            format!("old-agency-{i:03}@elsewhere.example"),
            Doc {
                account: "user".into(),
                containers: BTreeMap::from([(managed.clone(), "edit".into())]),
            },
        );
    }
    if c.gtm_keep {
        for n in 0..120 {
            docs.insert(
                format!("viewer{n:03}-{i:03}@client.example"),
                Doc {
                    account: "user".into(),
                    containers: BTreeMap::from([(unmanaged.clone(), "read".into())]),
                },
            );
        }
    }
    c.gtm = docs;
}

// ----------------------------------------------------------- the config

fn config_yaml(clients: &[Client]) -> String {
    let mut y = String::from("version: 2\nledger_dir: access.ledger\n\npeople:\n");
    for s in 0..STAFF {
        let _ = writeln!(
            y,
            "  p{s:02}: {{ email: {}, wix_account_id: {} }}",
            staff_email(s),
            staff_account(s)
        );
    }
    let team = |m: &[usize]| -> String {
        m.iter()
            .map(|s| format!("p{s:02}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(
        y,
        "\nteams:\n  seo: [{}]\n  content: [{}]\n\nlevels:",
        team(&SEO),
        team(&CONTENT)
    );
    for l in [LEVEL_SEO, LEVEL_CONTENT] {
        let _ = writeln!(
            y,
            "  {}:\n    wix: [{}]\n    ga4: [{}]\n    gtm: {{ account: {}, containers: {} }}",
            l.name, l.wix, l.ga4, l.gtm.0, l.gtm.1
        );
    }
    // Removals across many clients, on purpose.
    y.push_str(
        "\nsafety:\n  max_removals_per_site: 10\n  max_removals_total: 100000\n  max_removal_percent: 100\n",
    );
    y.push_str("\nsites:\n");
    for c in clients {
        let _ = writeln!(y, "  client-{:03}:", c.i);
        let _ = writeln!(
            y,
            "    wix: {{ site_id: {}, account_id: {}, api_key_env: {} }}",
            c.site_id(),
            c.wix_account(),
            c.key_var()
        );
        let mut ga4 = format!("property: \"{}\"", 300_000 + c.i);
        if c.ga4_account {
            ga4 = format!("account: \"{}\", {ga4}", c.ga4_account_id());
        }
        if c.ga4_keep {
            ga4.push_str(", unmanaged: keep");
        }
        let _ = writeln!(y, "    ga4: {{ {ga4} }}");
        let _ = writeln!(
            y,
            "    gtm: {{ account: \"{}\", containers: [{}]{} }}",
            c.gtm_account(),
            c.managed(),
            if c.gtm_keep { ", unmanaged: keep" } else { "" }
        );
        let _ = writeln!(y, "    unmanaged: {}", c.unmanaged);
        y.push_str("    access:\n");
        for (level, _) in c.levels() {
            let _ = writeln!(y, "      - {{ team: {0}, level: {0} }}", level.name);
        }
        for d in &c.directs {
            let mut g = format!("person: p{:02}", d.staff);
            if !d.wix.is_empty() {
                let _ = write!(g, ", roles: [{}]", d.wix.join(", "));
            }
            if let Some(r) = d.ga4 {
                let _ = write!(g, ", ga4: [{r}]");
            }
            if let Some((a, p)) = d.gtm {
                let _ = write!(g, ", gtm: {{ account: {a}, containers: {p} }}");
            }
            let _ = writeln!(y, "      - {{ {g} }}");
        }
        if c.ga4_account {
            let _ = writeln!(
                y,
                "      - {{ person: p{LEAD:02}, ga4: {{ account: [admin] }} }}"
            );
        }
    }
    y
}

// ------------------------------------------------------------- the seed

fn seed(clients: &[Client]) -> Seed {
    let pem = PUBLIC_KEY.to_string();
    let mut g = google::Seed {
        service_accounts: vec![google::token::SeedServiceAccount {
            client_email: SA.into(),
            project_id: "agency-project".into(),
            public_key_pem: Some(pem),
        }],
        ..google::Seed::default()
    };
    // Counts, not time: GTM's 25 requests per 100 s raised (and accessctl's
    // limiter with it, ACCESSCTL_GTM_RATE).
    g.gtm.rate = gtm::SeedRate {
        requests: GTM_RATE,
        window_seconds: 100,
    };
    g.gtm.requests_per_day = 10_000_000;
    g.gtm.page_size = GTM_PAGE;
    for c in clients {
        g.ga4.accounts.push(ga4::SeedAccount {
            id: c.ga4_account_id(),
            properties: vec![format!("{}", 300_000 + c.i)],
        });
        for (parent, bindings) in &c.ga4 {
            for (user, roles) in bindings {
                g.ga4.bindings.push(ga4::SeedBinding {
                    parent: parent.clone(),
                    user: user.clone(),
                    roles: roles.iter().cloned().collect(),
                });
            }
        }
        g.gtm.accounts.push(gtm::SeedAccount {
            id: c.gtm_account(),
            name: Some(format!("Client {:03}", c.i)),
            containers: vec![
                gtm::SeedContainer {
                    container_id: format!("{}", 7_000_000 + 2 * c.i),
                    public_id: c.managed(),
                    name: "Website".into(),
                },
                gtm::SeedContainer {
                    container_id: format!("{}", 7_000_001 + 2 * c.i),
                    public_id: c.unmanaged_container(),
                    name: "Their other site".into(),
                },
            ],
            permissions: c
                .gtm
                .iter()
                .map(|(email, d)| gtm::SeedPermission {
                    email: email.clone(),
                    account: d.account.clone(),
                    containers: d.containers.clone(),
                })
                .collect(),
        });
    }
    Seed {
        clock: Some(NOW.to_string()),
        accounts: clients
            .iter()
            .map(|c| SeedAccount {
                id: c.wix_account(),
                api_keys: vec![c.key()],
                custom_roles: Vec::new(),
            })
            .collect(),
        sites: clients
            .iter()
            .map(|c| SeedSite {
                id: c.site_id(),
                account: c.wix_account(),
                seat_limit: Some(100),
                contributors: c
                    .wix
                    .iter()
                    .map(|(a, roles)| SeedContributor {
                        account_id: a.clone(),
                        roles: roles.iter().cloned().collect(),
                    })
                    .collect(),
                invites: Vec::new(),
            })
            .collect(),
        google: g,
        ..Seed::default()
    }
}

// ----------------------------------------------------------- the oracle

/// Requests by endpoint name (the emulator's; `ga4.token` and `gtm.token`
/// for the exchanges, by scope).
type Counts = BTreeMap<String, u64>;

fn add(c: &mut Counts, endpoint: &str, n: u64) {
    if n > 0 {
        *c.entry(endpoint.to_string()).or_default() += n;
    }
}

/// The fewest reads a plan of `clients` (in their current live state)
/// needs, and the token exchanges of a process that only reads.
fn minimum_reads(clients: &[Client]) -> Counts {
    let mut m = Counts::new();
    let roles = default_predefined_roles().len() as u64;
    for c in clients {
        // Wix: the unfiltered query, one per role when anyone is there, and
        // the account's role list.
        add(&mut m, "querySiteContributors", 1);
        if !c.wix.is_empty() {
            add(&mut m, "querySiteContributors", roles);
        }
        add(&mut m, "getRolesInfo", 1);
        for (parent, _) in c.ga4_targets() {
            let n = c.ga4[&parent].len();
            add(&mut m, "ga4.list", n.div_ceil(GA4_PAGE).max(1) as u64);
        }
        add(
            &mut m,
            "gtm.list",
            c.gtm.len().div_ceil(GTM_PAGE).max(1) as u64,
        );
        add(&mut m, "gtm.containers", 1);
    }
    add(&mut m, "ga4.token", 1);
    add(&mut m, "gtm.token", 2);
    m
}

/// The fewest writes that take each client from its live state to the
/// config; applies them to `clients` (the state afterwards).
fn minimum_writes(clients: &mut [Client]) -> Counts {
    let mut m = Counts::new();
    for c in clients.iter_mut() {
        // Wix.
        let desired = c.desired_wix();
        let mut invites: BTreeMap<BTreeSet<String>, usize> = BTreeMap::new();
        for (account, roles) in &desired {
            match c.wix.get(account) {
                Some(live) if live != roles => add(&mut m, "changeRole", 1),
                Some(_) => {}
                None => *invites.entry(roles.clone()).or_default() += 1,
            }
        }
        add(
            &mut m,
            "bulkInvite",
            invites.values().map(|n| n.div_ceil(50) as u64).sum(),
        );
        let strays = c.wix.keys().filter(|a| !desired.contains_key(*a)).count() as u64;
        if c.unmanaged == "remove" {
            add(&mut m, "removeContributor", strays);
        }
        // Invites stay pending (the ledger knows them); the rest is as
        // wanted.
        let mut after: BTreeMap<String, BTreeSet<String>> = desired
            .into_iter()
            .filter(|(a, _)| c.wix.contains_key(a))
            .collect();
        if c.unmanaged != "remove" {
            for (a, r) in &c.wix {
                after.entry(a.clone()).or_insert_with(|| r.clone());
            }
        }
        c.wix = after;

        // GA4.
        let desired = c.desired_ga4();
        for (parent, removes) in c.ga4_targets() {
            let want = &desired[&parent];
            let live = c.ga4.get_mut(&parent).expect("parent seeded");
            let lower: BTreeMap<String, BTreeSet<String>> = live
                .iter()
                .map(|(e, r)| (e.to_lowercase(), r.clone()))
                .collect();
            let (mut adds, mut updates) = (0, 0);
            for (email, roles) in want {
                match lower.get(email) {
                    None => adds += 1,
                    Some(r) if r != roles => updates += 1,
                    Some(_) => {}
                }
            }
            let gone: Vec<String> = live
                .keys()
                .filter(|e| !want.contains_key(&e.to_lowercase()) && *e != SA)
                .cloned()
                .collect();
            let removed = if removes { gone.len() } else { 0 };
            add(&mut m, "ga4.batchCreate", (adds as u64).div_ceil(1000));
            add(&mut m, "ga4.batchUpdate", (updates as u64).div_ceil(1000));
            add(&mut m, "ga4.batchDelete", (removed as u64).div_ceil(1000));
            // Afterwards: as wanted (emails as accessctl sends them, lower
            // case, for new bindings), strays gone where removed.
            let mut after: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for (e, r) in live.iter() {
                let l = e.to_lowercase();
                if let Some(w) = want.get(&l) {
                    after.insert(e.clone(), w.clone());
                } else if !removes || e == SA {
                    after.insert(e.clone(), r.clone());
                }
            }
            for (e, r) in want {
                if !lower.contains_key(e) {
                    after.insert(e.clone(), r.clone());
                }
            }
            *live = after;
        }

        // GTM.
        let desired = c.desired_gtm();
        let managed = c.managed();
        let removes = c.removes(c.gtm_keep);
        let mut after: BTreeMap<String, Doc> = BTreeMap::new();
        for (email, doc) in &c.gtm {
            match desired.get(&email.to_lowercase()) {
                Some(&(a, p)) => {
                    let mut containers = doc.containers.clone();
                    containers.insert(managed.clone(), p.to_string());
                    let want = Doc {
                        account: a.to_string(),
                        containers,
                    };
                    if want != *doc {
                        add(&mut m, "gtm.update", 1);
                    }
                    after.insert(email.clone(), want);
                }
                None if email == SA || !removes => {
                    after.insert(email.clone(), doc.clone());
                }
                None => add(&mut m, "gtm.delete", 1),
            }
        }
        for (email, &(a, p)) in &desired {
            if !c.gtm.keys().any(|e| e.eq_ignore_ascii_case(email)) {
                add(&mut m, "gtm.create", 1);
                after.insert(
                    email.clone(),
                    Doc {
                        account: a.to_string(),
                        containers: BTreeMap::from([(managed.clone(), p.to_string())]),
                    },
                );
            }
        }
        c.gtm = after;
    }
    if m.keys().any(|k| k.starts_with("ga4.")) {
        add(&mut m, "ga4.token", 1);
    }
    m
}

// ------------------------------------------------------- the emulator

/// Scopes of the token exchanges seen, in order.
type Scopes = Arc<Mutex<Vec<String>>>;

/// Reads the scopes a token request's assertion asks for (the log redacts
/// the assertion), then passes the request on unchanged.
async fn capture_scopes(State(scopes): State<Scopes>, req: Request, next: Next) -> Response {
    if req.uri().path() != "/token" {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, 1 << 20).await.unwrap_or_default();
    let scope = form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == "assertion")
        .and_then(|(_, jwt)| {
            let claims = jwt.split('.').nth(1)?.to_string();
            let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(claims.trim_end_matches('='))
                .ok()?;
            let v: Value = serde_json::from_slice(&json).ok()?;
            v["scope"].as_str().map(str::to_string)
        })
        .unwrap_or_else(|| "?".into());
    scopes
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(scope);
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

struct Emulator {
    base: String,
    scopes: Scopes,
    http: reqwest::Client,
    rt: tokio::runtime::Runtime,
}

impl Emulator {
    fn start(seed: Seed) -> Emulator {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let scopes = Scopes::default();
        let app = accessctl::emulator::router(seed)
            .expect("the generated seed is valid")
            .layer(from_fn_with_state(scopes.clone(), capture_scopes));
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local address");
        rt.spawn(async move { axum::serve(listener, app).await });
        accessctl::providers::wix::install_crypto_provider();
        Emulator {
            base: format!("http://{addr}"),
            scopes,
            http: reqwest::Client::new(),
            rt,
        }
    }

    fn control(&self, method: reqwest::Method, path: &str) -> Value {
        let url = format!("{}/_emulator/{path}", self.base);
        self.rt.block_on(async {
            let resp = self
                .http
                .request(method, &url)
                .send()
                .await
                .expect("emulator control");
            let status = resp.status();
            let value: Value = resp.json().await.unwrap_or(Value::Null);
            assert!(status.is_success(), "{path}: {status} {value}");
            value
        })
    }

    fn clear(&self) {
        self.control(reqwest::Method::DELETE, "log");
        self.control(reqwest::Method::DELETE, "stats");
        self.scopes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Requests since the last clear, by endpoint; token exchanges as
    /// `ga4.token` / `gtm.token` by the scopes asked for. Also the
    /// statuses that were not 2xx.
    fn counts(&self) -> (Counts, Vec<String>) {
        let mut counts = Counts::new();
        let mut failed = Vec::new();
        let log = match self.control(reqwest::Method::GET, "log") {
            Value::Array(entries) => entries,
            other => panic!("unexpected log {other}"),
        };
        for e in &log {
            let endpoint = e["endpoint"].as_str().unwrap_or("unknown");
            if endpoint != "google.token" {
                add(&mut counts, endpoint, 1);
            }
            let status = e["status"].as_u64().unwrap_or(0);
            if !(200..300).contains(&status) {
                failed.push(format!("{endpoint} {} → {status}", e["path"]));
            }
        }
        let tokens = log
            .iter()
            .filter(|e| e["endpoint"] == "google.token")
            .count();
        let scopes = self
            .scopes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        assert_eq!(tokens, scopes.len(), "token requests seen: {scopes:?}");
        for s in &scopes {
            let platform = if s.contains("analytics") {
                "ga4"
            } else if s.contains("tagmanager") {
                "gtm"
            } else {
                "unknown"
            };
            add(&mut counts, &format!("{platform}.token"), 1);
        }
        (counts, failed)
    }

    fn scopes(&self) -> Vec<String> {
        self.scopes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn get(&self, path: &str) -> Value {
        self.control(reqwest::Method::GET, path)
    }
}

// --------------------------------------------------------------- report

const PLATFORMS: &[(&str, &[(&str, &str)])] = &[
    (
        "Wix",
        &[
            ("querySiteContributors", "Query Site Contributors"),
            ("getRolesInfo", "Get Roles Info"),
            ("bulkInvite", "Bulk Invite"),
            ("changeRole", "Change Role"),
            ("removeContributor", "Remove"),
            ("resendInvite", "Resend"),
            ("revokeInvite", "Revoke"),
        ],
    ),
    (
        "GA4",
        &[
            ("ga4.token", "token"),
            ("ga4.list", "list"),
            ("ga4.batchCreate", "batchCreate"),
            ("ga4.batchUpdate", "batchUpdate"),
            ("ga4.batchDelete", "batchDelete"),
            ("ga4.create", "create"),
            ("ga4.patch", "patch"),
            ("ga4.delete", "delete"),
        ],
    ),
    (
        "GTM",
        &[
            ("gtm.token", "token"),
            ("gtm.containers", "containers list"),
            ("gtm.list", "user_permissions list"),
            ("gtm.get", "get"),
            ("gtm.create", "create"),
            ("gtm.update", "PUT"),
            ("gtm.delete", "DELETE"),
        ],
    ),
];

fn platform_of(endpoint: &str) -> &'static str {
    if endpoint.starts_with("ga4.") {
        "GA4"
    } else if endpoint.starts_with("gtm.") {
        "GTM"
    } else {
        "Wix"
    }
}

/// One run's table; true when every endpoint is at its minimum.
fn report(title: &str, wall: std::time::Duration, sent: &Counts, min: &Counts) -> bool {
    println!();
    println!("  {title} ({} wall):", secs(wall));
    println!(
        "    {:<8} {:>8} {:>8} {:>6}   sent / minimum per endpoint",
        "", "requests", "minimum", "ratio"
    );
    let mut all_ok = true;
    let (mut total_sent, mut total_min) = (0, 0);
    for (platform, endpoints) in PLATFORMS {
        let mut parts = Vec::new();
        let (mut s_sum, mut m_sum) = (0, 0);
        for (key, name) in *endpoints {
            let s = sent.get(*key).copied().unwrap_or(0);
            let m = min.get(*key).copied().unwrap_or(0);
            if s == 0 && m == 0 {
                continue;
            }
            s_sum += s;
            m_sum += m;
            let mark = if s == m { "" } else { " (!)" };
            parts.push(format!("{name} {} / {}{mark}", thousands(s), thousands(m)));
        }
        let unknown: u64 = sent
            .iter()
            .filter(|(k, _)| platform_of(k) == *platform && !endpoints.iter().any(|(e, _)| e == k))
            .map(|(_, n)| *n)
            .sum();
        if unknown > 0 {
            parts.push(format!("other {unknown} / 0 (!)"));
            s_sum += unknown;
        }
        all_ok &= s_sum == m_sum && parts.iter().all(|p| !p.ends_with("(!)"));
        total_sent += s_sum;
        total_min += m_sum;
        println!(
            "    {platform:<8} {:>8} {:>8} {:>6.3}   {}",
            thousands(s_sum),
            thousands(m_sum),
            s_sum as f64 / m_sum.max(1) as f64,
            parts.join(", ")
        );
    }
    println!(
        "    {:<8} {:>8} {:>8} {:>6.3}",
        "all",
        thousands(total_sent),
        thousands(total_min),
        total_sent as f64 / total_min.max(1) as f64
    );
    // What went above the minimum, by endpoint.
    let mut above = Vec::new();
    for (platform, endpoints) in PLATFORMS {
        for (key, name) in *endpoints {
            let s = sent.get(*key).copied().unwrap_or(0);
            let m = min.get(*key).copied().unwrap_or(0);
            if s != m {
                above.push(format!("{platform} {name} {:+}", s as i64 - m as i64));
            }
        }
    }
    println!(
        "    off the minimum: {}",
        if above.is_empty() {
            "nothing".to_string()
        } else {
            above.join(", ")
        }
    );
    // The issue's minimum: lists (and their pages) and writes only; no
    // containers list, no token exchanges.
    let google = |c: &Counts, containers: bool| -> u64 {
        c.iter()
            .filter(|(k, _)| {
                platform_of(k) != "Wix"
                    && !k.ends_with(".token")
                    && (containers || *k != "gtm.containers")
            })
            .map(|(_, n)| *n)
            .sum()
    };
    let issue_min = google(min, false);
    let google_sent = google(sent, true);
    println!(
        "    Google, tokens aside, against the issue's minimum (no containers list): {} / {} = {:.3} \
         ({} of them containers lists)",
        thousands(google_sent),
        thousands(issue_min),
        google_sent as f64 / issue_min.max(1) as f64,
        thousands(sent.get("gtm.containers").copied().unwrap_or(0))
    );
    let gtm_sent: u64 = sent
        .iter()
        .filter(|(k, _)| k.starts_with("gtm.") && !k.ends_with(".token"))
        .map(|(_, n)| *n)
        .sum();
    println!(
        "    GTM at Google's quota (25 per 100 s) these {} requests would take {:.1} min",
        thousands(gtm_sent),
        gtm_sent.saturating_sub(25) as f64 * 4.0 / 60.0
    );
    all_ok
}

// ------------------------------------------------------------- checks

/// The emulator's GA4 bindings of the targets: parent → email (lower) →
/// roles.
fn live_ga4(emulator: &Emulator) -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let mut out: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for b in emulator.get("google/ga4")["bindings"]
        .as_array()
        .expect("bindings")
    {
        let roles = b["roles"]
            .as_array()
            .expect("roles")
            .iter()
            .filter_map(|r| r.as_str().map(str::to_string))
            .collect();
        out.entry(b["parent"].as_str().unwrap_or_default().to_string())
            .or_default()
            .insert(b["user"].as_str().unwrap_or_default().to_lowercase(), roles);
    }
    out
}

/// The emulator's GTM documents: account → email (lower) → document.
fn live_gtm(emulator: &Emulator) -> BTreeMap<String, BTreeMap<String, Doc>> {
    let mut out = BTreeMap::new();
    for a in emulator.get("google/gtm")["accounts"]
        .as_array()
        .expect("accounts")
    {
        let public: BTreeMap<&str, &str> = a["containers"]
            .as_array()
            .expect("containers")
            .iter()
            .map(|c| {
                (
                    c["containerId"].as_str().unwrap_or_default(),
                    c["publicId"].as_str().unwrap_or_default(),
                )
            })
            .collect();
        let docs: BTreeMap<String, Doc> = a["userPermissions"]
            .as_array()
            .expect("documents")
            .iter()
            .map(|d| {
                let containers = d["containerAccess"]
                    .as_array()
                    .map(|list| {
                        list.iter()
                            .filter(|c| c["permission"] != "noAccess")
                            .map(|c| {
                                let id = c["containerId"].as_str().unwrap_or_default();
                                (
                                    public.get(id).copied().unwrap_or(id).to_string(),
                                    c["permission"].as_str().unwrap_or_default().to_string(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                (
                    d["emailAddress"]
                        .as_str()
                        .unwrap_or_default()
                        .to_lowercase(),
                    Doc {
                        account: d["accountAccess"]["permission"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                        containers,
                    },
                )
            })
            .collect();
        out.insert(
            a["accountId"].as_str().unwrap_or_default().to_string(),
            docs,
        );
    }
    out
}

/// The Google state after the apply is what the oracle expects.
fn check_google(emulator: &Emulator, after: &[Client]) {
    let ga4 = live_ga4(emulator);
    let gtm = live_gtm(emulator);
    let lower = |m: &BTreeMap<String, BTreeSet<String>>| -> BTreeMap<String, BTreeSet<String>> {
        m.iter()
            .map(|(e, r)| (e.to_lowercase(), r.clone()))
            .collect()
    };
    for c in after {
        for (parent, want) in &c.ga4 {
            let empty = BTreeMap::new();
            let got = ga4.get(parent).unwrap_or(&empty);
            assert_eq!(*got, lower(want), "GA4 {parent} after the apply");
        }
        let want: BTreeMap<String, Doc> = c
            .gtm
            .iter()
            .map(|(e, d)| (e.to_lowercase(), d.clone()))
            .collect();
        assert_eq!(
            gtm[&c.gtm_account()],
            want,
            "GTM accounts/{} after the apply",
            c.gtm_account()
        );
    }
}

fn short_scope(s: &str) -> String {
    s.split_whitespace()
        .map(|s| s.rsplit('/').next().unwrap_or(s))
        .collect::<Vec<_>>()
        .join(" ")
}

fn main() {
    let n: usize = env_or("ACCESSCTL_BENCH_CLIENTS", 100);
    let mut clients = generate(n);
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("access.yaml");
    std::fs::write(&config, config_yaml(&clients)).expect("write config");

    let emulator = Emulator::start(seed(&clients));
    let key_file = dir.path().join("service-account.json");
    std::fs::write(&key_file, google::token::emulator_key_file(&emulator.base))
        .expect("write the key file");
    let mut env: Vec<(String, String)> = clients.iter().map(|c| (c.key_var(), c.key())).collect();
    env.extend(
        [
            ("ACCESSCTL_GA4_API_BASE", emulator.base.clone()),
            ("ACCESSCTL_GTM_API_BASE", emulator.base.clone()),
            ("ACCESSCTL_GTM_RATE", format!("{GTM_RATE}/100s")),
            (
                "GOOGLE_APPLICATION_CREDENTIALS",
                key_file.display().to_string(),
            ),
        ]
        .map(|(k, v)| (k.to_string(), v)),
    );

    let parents: usize = clients.iter().map(|c| c.ga4_targets().len()).sum();
    println!("platforms economy — {}", machine());
    println!(
        "  agency: {n} clients, each a Wix site, a GA4 property and a GTM account (1 managed + 1 unmanaged \
         container); {} GA4 parents ({} accounts managed too); {} clients `unmanaged: remove`, the rest `warn`; \
         {:.1} Wix collaborators, {:.1} GA4 bindings and {:.1} GTM users per client before the apply",
        parents,
        parents - n,
        clients.iter().filter(|c| c.unmanaged == "remove").count(),
        clients.iter().map(|c| c.wix.len()).sum::<usize>() as f64 / n as f64,
        clients
            .iter()
            .flat_map(|c| c.ga4_targets().into_iter().map(|(p, _)| c.ga4[&p].len()))
            .sum::<usize>() as f64
            / n as f64,
        clients.iter().map(|c| c.gtm.len()).sum::<usize>() as f64 / n as f64,
    );
    println!(
        "  largest listings: a GA4 property of {} bindings, a GTM account of {} users (both `unmanaged: keep`)",
        clients
            .iter()
            .flat_map(|c| c.ga4.values().map(BTreeMap::len))
            .max()
            .unwrap_or(0),
        clients.iter().map(|c| c.gtm.len()).max().unwrap_or(0)
    );
    println!(
        "  GTM quota raised on both sides for this benchmark (emulator google.gtm.rate {GTM_RATE} per 100 s, \
         ACCESSCTL_GTM_RATE={GTM_RATE}/100s): it counts requests, not time"
    );

    // ------------------------------------------------------------ plan
    let min_plan = minimum_reads(&clients);
    emulator.clear();
    let plan = harness::accessctl(&config, &emulator.base, &env, &["plan"]);
    assert_eq!(plan.code, Some(0), "plan failed:\n{}", plan.stderr);
    let (sent_plan, failed) = emulator.counts();
    assert!(failed.is_empty(), "plan: refused requests {failed:?}");
    let plan_scopes = emulator.scopes();
    let plan_ok = report("plan", plan.wall, &sent_plan, &min_plan);
    println!(
        "    token exchanges by scope: {}",
        plan_scopes
            .iter()
            .map(|s| short_scope(s))
            .collect::<Vec<_>>()
            .join("; ")
    );

    // ----------------------------------------------------------- apply
    let mut min_apply = minimum_reads(&clients);
    let writes = minimum_writes(&mut clients);
    for (k, v) in &writes {
        add(&mut min_apply, k, *v);
    }
    emulator.clear();
    let apply = harness::accessctl(&config, &emulator.base, &env, &["apply", "--auto-approve"]);
    assert_eq!(
        apply.code,
        Some(0),
        "apply failed:\n{}\n{}",
        apply.stdout,
        apply.stderr
    );
    let (sent_apply, failed) = emulator.counts();
    assert!(failed.is_empty(), "apply: refused requests {failed:?}");
    let apply_scopes = emulator.scopes();
    let apply_ok = report("apply --auto-approve", apply.wall, &sent_apply, &min_apply);
    println!(
        "    token exchanges by scope: {}",
        apply_scopes
            .iter()
            .map(|s| short_scope(s))
            .collect::<Vec<_>>()
            .join("; ")
    );
    let changes = |prefix: &str| -> u64 {
        writes
            .iter()
            .filter(|(k, _)| k.starts_with(prefix) && !k.ends_with(".token"))
            .map(|(_, n)| *n)
            .sum()
    };
    println!(
        "    writes needed: Wix {}, GA4 {} batches, GTM {} calls; the GA4 and GTM state afterwards is the one \
         worked out here (checked)",
        writes
            .iter()
            .filter(|(k, _)| platform_of(k) == "Wix")
            .map(|(_, n)| *n)
            .sum::<u64>(),
        changes("ga4."),
        changes("gtm."),
    );
    check_google(&emulator, &clients);

    // ------------------------------------------------------ plan again
    let min_again = minimum_reads(&clients);
    emulator.clear();
    let again = harness::accessctl(
        &config,
        &emulator.base,
        &env,
        &["plan", "--detailed-exitcode"],
    );
    let (sent_again, failed) = emulator.counts();
    assert!(failed.is_empty(), "plan again: refused requests {failed:?}");
    let again_ok = report("plan after the apply", again.wall, &sent_again, &min_again);
    assert_eq!(
        again.code,
        Some(0),
        "the plan after the apply still has changes:\n{}",
        again.stdout
    );
    println!("    exit 0 with --detailed-exitcode: nothing left to do");

    println!();
    println!(
        "  every run at its minimum: {}",
        common::verdict(plan_ok && apply_ok && again_ok)
    );
}
