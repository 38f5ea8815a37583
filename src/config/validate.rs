//! From the parsed document to [`crate::model::Config`], checking what a
//! schema cannot: that every name refers to something defined, that emails
//! and dates are real, that no two people share an email and no two sites a
//! Wix site id, and that `api_key_env` names a variable rather than holding
//! a key.
//!
//! The checks read the document value directly, part by part, so a mistake
//! in one person or grant does not hide the mistakes in the others. Each part
//! is also deserialized into its [`super::raw`] type as a gate: a part that
//! does not deserialize is left out of the model. The schema check has
//! normally reported why; if it has not, a fallback diagnostic says so, so a
//! config with a part missing is never returned as valid.
//!
//! Type errors, unknown keys and "exactly one of" rules are the schema's job
//! ([`super::schema`]); this module does not repeat them.

mod platforms;
mod policies;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value};
use time::Date;
use time::macros::format_description;

use super::Parts;
use super::locate::{Tree, YamlPath};
use super::raw::{RawContact, RawGrant, RawPerson, RawSafety, RawUnmanaged, RawWix};
use super::values::{checked_email, checked_name, is_env_name, looks_like_secret};
use crate::diag::{Diagnostic, did_you_mean};
use crate::model::{
    Config, Contact, Grant, Person, Pos, Principal, RoleName, Safety, Site, Unmanaged, WixSite,
};
use crate::roles::Offline;

/// Where a site's Wix id is found.
const SITE_ID_HINT: &str =
    "a site's id is the UUID in its dashboard's address: manage.wix.com/dashboard/<site id>/…";
/// Where a Wix account id is found.
const ACCOUNT_ID_HINT: &str = "a Wix account id is a UUID; `accessctl plan` lists the site's accounts (`account …`, the owner's too), and `accessctl import` writes collaborators' as `wix_account_id:`";

/// Whether a role name means the owner-side role, which Wix never grants:
/// the title `Owner`/`Site Owner` (any case) or an id naming the owner.
fn is_owner_role(name: &str) -> bool {
    // Without allocating: this runs for every role of every grant.
    let name = name.trim();
    ["owner", "site owner", "wix.platform.roles.owner"]
        .iter()
        .any(|o| o.eq_ignore_ascii_case(name))
}

/// The keys of a site mapping (see [`super::raw::RawSite`]).
/// The warning for a role name that is not predefined: shown once per
/// name, at its first use (a custom role is typically used on many sites).
const NOT_PREDEFINED: &str = "is not a predefined Wix role";

const SITE_KEYS: [&str; 7] = [
    "wix",
    "owner",
    "unmanaged",
    "access",
    "request",
    "ga4",
    "gtm",
];

/// What [`resolve`] found.
pub struct Outcome {
    /// The model, as complete as the document allowed. Only meaningful when
    /// no error was found anywhere.
    pub config: Config,
    pub diagnostics: Vec<Diagnostic>,
    /// Parts that could not be read, for when nothing else explains why.
    pub fallback: Vec<Diagnostic>,
    /// Duplicate keys found in runs of sites (see [`Parts::check_sites`]);
    /// the tree of the rest has its own.
    pub duplicates: Vec<super::locate::Duplicate>,
}

/// Checks a parsed document against the schema and resolves it: the root
/// first, then the sites, on all cores for a large config, each site's
/// value made, checked and dropped in turn.
/// `None` when a run of sites cannot be read on its own (the caller then
/// reads the whole text in one pass).
pub fn resolve(parts: &Parts<'_>, tree: &Tree<'_>, file: &Path, digest: String) -> Option<Outcome> {
    let empty = Map::new();
    let root = parts.root.as_object().unwrap_or(&empty);
    let person_keys = key_set(root.get("people"));
    let team_keys = key_set(root.get("teams"));
    let no_people = BTreeMap::new();
    let no_levels = platforms::Levels::new();
    let keys = (&person_keys, &team_keys);
    let mut r = Resolver::new(file, tree, keys, &no_people, &no_levels);
    // Without the sites, which are checked one by one below.
    r.diagnostics = super::schema::check(&parts.root, tree, file);
    let people = r.people(root.get("people"));
    let levels = r.levels(root.get("levels"));
    let level_custom_roles = std::mem::take(&mut r.custom_roles);
    let teams = r.teams(root.get("teams"));
    let safety = r.safety(root.get("safety"));
    let written_ledger_dir = root.get("ledger_dir").and_then(Value::as_str);
    let ledger_dir = ledger_dir(file, written_ledger_dir);
    if let Some(d) = confine_ledger_dir(file, tree, written_ledger_dir, &ledger_dir) {
        r.diagnostics.push(d);
    }
    let requests = super::requests::resolve(root.get("requests"), tree, file);
    r.diagnostics.extend(requests.diagnostics);
    r.fallback.extend(requests.fallback);
    let Resolver {
        mut diagnostics,
        mut fallback,
        ..
    } = r;

    let emails: HashMap<&str, &str> = people
        .values()
        .map(|p| (p.email.as_str(), p.key.as_str()))
        .collect();
    let checked = parts.check_sites(|tree, key, body| {
        let mut r = Resolver::new(file, tree, keys, &people, &levels);
        // The site alone, at its place in a document, against the whole
        // schema: every error path is the one it has in the file.
        // Built by moving the body in (`json!` would copy it).
        let mut doc = Value::Object(Map::from_iter([
            ("version".to_string(), Value::from(2)),
            (
                "sites".to_string(),
                Value::Object(Map::from_iter([(key.to_string(), body)])),
            ),
        ]));
        r.diagnostics.extend(super::schema::check(&doc, tree, file));
        let body = doc
            .get_mut("sites")
            .and_then(|s| s.get_mut(key))
            .map(Value::take)
            .unwrap_or_default();
        let (site, site_id) = r.site(key, &body, &teams, &emails);
        let site = site.map(|mut site| {
            let resolved = super::requests::resolve_site(
                key,
                body.get("request"),
                site.is_request_mode(),
                root.get("requests"),
                tree,
                file,
            );
            r.diagnostics.extend(resolved.diagnostics);
            r.fallback.extend(resolved.fallback);
            site.request = resolved.value.unwrap_or_default();
            site
        });
        SiteOutcome {
            site,
            site_id,
            diagnostics: r.diagnostics,
            fallback: r.fallback,
            custom_roles: r.custom_roles,
        }
    })?;

    // Across sites, in the order written: no two share a Wix site id.
    let mut site_ids: HashMap<String, String> = HashMap::new();
    let mut sites = BTreeMap::new();
    let order: Vec<String> = checked.sites.iter().map(|(k, _)| k.clone()).collect();
    let mut warned: HashSet<Arc<str>> = HashSet::new();
    for (name, pos, close) in level_custom_roles {
        if warned.insert(name.clone()) {
            diagnostics.push(not_predefined(file, &name, pos, close));
        }
    }
    for (key, outcome) in checked.sites {
        diagnostics.extend(outcome.diagnostics);
        for (name, pos, close) in outcome.custom_roles {
            if warned.insert(name.clone()) {
                diagnostics.push(not_predefined(file, &name, pos, close));
            }
        }
        fallback.extend(outcome.fallback);
        if let Some((id, pos)) = outcome.site_id {
            let normal = id.trim().to_lowercase();
            match site_ids.get(&normal) {
                Some(first) => diagnostics.push(
                    Diagnostic::error(
                        file,
                        Some(pos),
                        format!("sites `{first}` and `{key}` have the same `site_id` `{id}`"),
                    )
                    .with_hint("each site needs its own Wix site id; remove or fix one of them"),
                ),
                None => {
                    site_ids.insert(normal, key.clone());
                }
            }
        }
        if let Some(site) = outcome.site {
            sites.insert(key, site);
        }
    }
    if root.get("requests").is_none() {
        diagnostics.extend(unrequestable(file, &order, &sites));
    }
    // Rules name custom Wix roles only as the grants and levels do.
    let custom: BTreeSet<String> = warned.iter().map(|name| crate::roles::slug(name)).collect();
    let mut r = Resolver::new(file, tree, keys, &people, &levels);
    let policies = r.policies(root.get("policies"), &custom);
    diagnostics.extend(r.diagnostics);
    fallback.extend(r.fallback);
    // The file's `invite_language` holds for every site that sets none.
    if let Some(language) = root.get("invite_language").and_then(Value::as_str) {
        for site in sites.values_mut() {
            let wix: &mut WixSite = &mut site.wix;
            wix.invite_language
                .get_or_insert_with(|| language.to_string());
        }
    }
    let config = Config {
        path: file.to_path_buf(),
        digest,
        people,
        teams,
        sites,
        safety,
        ledger_dir,
        requests: requests.value,
        policies,
        people_index: Default::default(),
    };
    Some(Outcome {
        config,
        diagnostics,
        fallback,
        duplicates: checked.duplicates,
    })
}

/// Sites without an API key are in request mode, which needs `requests:`
/// to send anything: one warning, at the first of them, naming them all.
fn unrequestable(
    file: &Path,
    order: &[String],
    sites: &BTreeMap<String, Site>,
) -> Option<Diagnostic> {
    let found: Vec<&Site> = order
        .iter()
        .filter_map(|k| sites.get(k))
        .filter(|s| s.is_request_mode())
        .collect();
    let first = found.first()?;
    let mut names: Vec<String> = found
        .iter()
        .take(5)
        .map(|s| format!("`{}`", s.key))
        .collect();
    if found.len() > 5 {
        names.push(format!("and {} more", found.len() - 5));
    }
    let names = names.join(", ");
    let (message, them) = if found.len() == 1 {
        (
            format!("site {names} has no `api_key_env`, so access is requested from its owner"),
            "it",
        )
    } else {
        (
            format!(
                "sites {names} have no `api_key_env`, so access is requested from their owners"
            ),
            "them",
        )
    };
    Some(
        Diagnostic::warning(
            file,
            Some(first.pos),
            format!("{message}, but the config has no `requests:` block to send requests with"),
        )
        .with_hint(format!(
            "add a top-level `requests:` block (email or webhook; see the README, \
             \"Request mode\"), or give {them} an `api_key_env`; until then `apply` fails for {them}"
        )),
    )
}

/// What checking one site found.
struct SiteOutcome {
    site: Option<Site>,
    /// Its Wix site id and where it is written, for the check across sites.
    site_id: Option<(String, Pos)>,
    diagnostics: Vec<Diagnostic>,
    fallback: Vec<Diagnostic>,
    custom_roles: Vec<(Arc<str>, Pos, Option<&'static str>)>,
}

/// `ledger_dir` resolved against the config file's directory; by default
/// `<config file stem>.ledger` beside the config file.
pub fn ledger_dir(file: &Path, written: Option<&str>) -> PathBuf {
    let base = file.parent().unwrap_or(Path::new(""));
    match written {
        Some(dir) => base.join(dir),
        None => {
            let stem = file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "accessctl".to_string());
            base.join(format!("{stem}.ledger"))
        }
    }
}

/// The ledger directory stays inside the config's directory: the ledger is
/// read on every plan and written by apply, so a pull request must not be
/// able to point it (by path or by symlink) at files elsewhere.
fn confine_ledger_dir(
    file: &Path,
    tree: &Tree<'_>,
    written: Option<&str>,
    resolved: &Path,
) -> Option<Diagnostic> {
    let base = crate::confine::base_of(file);
    let checked = match written {
        Some(w) => crate::confine::join(base, w).map(|_| ()),
        None => Ok(()),
    }
    .and_then(|()| crate::confine::check_inside(base, resolved));
    let refusal = checked.err()?;
    let pos = written.map(|_| tree.value_pos(&YamlPath::root().key("ledger_dir")));
    Some(
        Diagnostic::error(
            file,
            pos,
            format!(
                "the ledger directory `{}` {refusal}",
                written.map_or_else(|| resolved.display().to_string(), str::to_string)
            ),
        )
        .with_hint(refusal.hint()),
    )
}

/// The warning for a role name that is not predefined (see
/// `Resolver::custom_roles`).
fn not_predefined(file: &Path, name: &str, pos: Pos, close: Option<&str>) -> Diagnostic {
    let close = close
        .map(|t| format!("; did you mean `{t}`?"))
        .unwrap_or_default();
    Diagnostic::warning(
        file,
        Some(pos),
        format!("role `{name}` {NOT_PREDEFINED}{close}"),
    )
    .with_hint(
        "if it is a custom role of the site's account, `plan` checks it there; otherwise use a predefined title (`accessctl plan` lists the site's roles)",
    )
}

fn key_set(value: Option<&Value>) -> BTreeSet<String> {
    value
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

fn str_field<'v>(obj: &'v Value, key: &str) -> Option<&'v str> {
    obj.get(key).and_then(Value::as_str)
}

struct Resolver<'a> {
    file: &'a Path,
    tree: &'a Tree<'a>,
    diagnostics: Vec<Diagnostic>,
    fallback: Vec<Diagnostic>,
    person_keys: &'a BTreeSet<String>,
    team_keys: &'a BTreeSet<String>,
    /// People, for the emails of a grant's principals on Google platforms.
    people: &'a BTreeMap<String, Person>,
    /// The `levels:` block (empty while it is being read).
    levels: &'a platforms::Levels,
    /// Role names and person keys met so far, each held once (a site names
    /// the same few in grant after grant).
    names: foldhash::HashSet<Arc<str>>,
    /// Role names that are not predefined, where each is used, and the
    /// closest predefined title: warned about once per name across the
    /// config, after the sites are merged in order.
    custom_roles: Vec<(Arc<str>, Pos, Option<&'static str>)>,
}

impl<'a> Resolver<'a> {
    /// A resolver with nothing found yet.
    fn new(
        file: &'a Path,
        tree: &'a Tree<'a>,
        keys: (&'a BTreeSet<String>, &'a BTreeSet<String>),
        people: &'a BTreeMap<String, Person>,
        levels: &'a platforms::Levels,
    ) -> Self {
        Resolver {
            file,
            tree,
            diagnostics: Vec::new(),
            fallback: Vec::new(),
            person_keys: keys.0,
            team_keys: keys.1,
            people,
            levels,
            // A site names a few dozen people and roles; sized so that
            // interning them does not rehash on the way.
            names: foldhash::HashSet::with_capacity_and_hasher(64, Default::default()),
            custom_roles: Vec::new(),
        }
    }
}

impl Resolver<'_> {
    fn intern(&mut self, name: &str) -> Arc<str> {
        if let Some(known) = self.names.get(name) {
            return known.clone();
        }
        let name: Arc<str> = name.into();
        self.names.insert(name.clone());
        name
    }

    fn error(&mut self, pos: Pos, message: String, hint: Option<String>) {
        let mut d = Diagnostic::error(self.file, Some(pos), message);
        if let Some(hint) = hint {
            d = d.with_hint(hint);
        }
        self.diagnostics.push(d);
    }

    fn warning(&mut self, pos: Pos, message: String, hint: &str) {
        self.diagnostics
            .push(Diagnostic::warning(self.file, Some(pos), message).with_hint(hint));
    }

    /// Deserializes one part as a gate; records a fallback diagnostic when
    /// it does not deserialize.
    fn gate<'v, T: Deserialize<'v>>(&mut self, value: &'v Value, path: &YamlPath) -> Option<T> {
        match T::deserialize(value) {
            Ok(t) => Some(t),
            Err(e) => {
                let mut d = Diagnostic::error(
                    self.file,
                    Some(self.tree.value_pos(path)),
                    format!("cannot read `{}`: {e}", path.name()),
                );
                if path.segs().iter().any(
                    |s| matches!(s, super::locate::Seg::Key(k) if k == "wix" || k == "api_key_env"),
                ) {
                    d = d.redacted();
                }
                self.fallback.push(d);
                None
            }
        }
    }

    /// Checks an email; returns it lower-cased when it is sound.
    fn email(&mut self, email: &str, path: &YamlPath, whose: &str) -> Option<String> {
        checked_email(self.file, self.tree, email, path, whose)
            .map_err(|d| self.diagnostics.push(d))
            .ok()
    }

    fn unknown_person(&mut self, name: &str, path: &YamlPath, context: &str, in_grant: bool) {
        let hint = if in_grant && self.team_keys.contains(name) {
            format!("`{name}` is a team: write `team: {name}`")
        } else if let Some(close) = did_you_mean(name, self.person_keys.iter().map(String::as_str))
        {
            format!("did you mean `{close}`?")
        } else {
            format!("define `{name}` under `people`, with an `email`")
        };
        let pos = self.tree.value_pos(path);
        self.error(
            pos,
            format!("unknown person `{name}` in {context}"),
            Some(hint),
        );
    }

    /// The entries of the mapping at `path` in the order they are written,
    /// so that "the same as" errors point at the later one.
    fn in_file_order<'v>(
        &self,
        map: &'v Map<String, Value>,
        path: &YamlPath,
    ) -> Vec<(&'v String, &'v Value)> {
        let mut entries: Vec<(Pos, &String, &Value)> = map
            .iter()
            .map(|(k, v)| (self.tree.key_pos(&path.key(k)), k, v))
            .collect();
        entries.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        entries.into_iter().map(|(_, k, v)| (k, v)).collect()
    }

    fn people(&mut self, value: Option<&Value>) -> BTreeMap<String, Person> {
        let mut people = BTreeMap::new();
        let Some(map) = value.and_then(Value::as_object) else {
            return people;
        };
        let mut by_email: HashMap<String, String> = HashMap::new();
        for (key, v) in self.in_file_order(map, &YamlPath::root().key("people")) {
            let path = YamlPath::root().key("people").key(key);
            let gate = self.gate::<RawPerson>(v, &path);
            let email = match str_field(v, "email") {
                Some(e) => self.email(e, &path.key("email"), &format!("person `{key}`")),
                None => None,
            };
            if let Some(email) = &email {
                if let Some(first) = by_email.get(email) {
                    let pos = self.tree.value_pos(&path.key("email"));
                    self.error(
                        pos,
                        format!("people `{first}` and `{key}` have the same email `{email}`"),
                        Some("each person needs their own email; merge the two or fix one".into()),
                    );
                } else {
                    by_email.insert(email.clone(), key.clone());
                }
            }
            let account_ok = str_field(v, "wix_account_id").is_none_or(|id| {
                self.wix_id(
                    id,
                    &path.key("wix_account_id"),
                    "wix_account_id",
                    ACCOUNT_ID_HINT,
                )
            });
            if let (Some(raw), Some(email), true) = (gate, email, account_ok) {
                people.insert(
                    key.clone(),
                    Person {
                        key: key.clone(),
                        email,
                        wix_account_id: raw.wix_account_id,
                    },
                );
            }
        }
        people
    }

    fn teams(&mut self, value: Option<&Value>) -> BTreeMap<String, Vec<String>> {
        let mut teams = BTreeMap::new();
        let Some(map) = value.and_then(Value::as_object) else {
            return teams;
        };
        for (team, v) in map {
            let path = YamlPath::root().key("teams").key(team);
            let Some(items) = v.as_array() else {
                // The schema reports the type; record the gap.
                let _ = self.gate::<Vec<String>>(v, &path);
                continue;
            };
            if items.is_empty() {
                let pos = self.tree.key_pos(&path);
                self.warning(
                    pos,
                    format!("team `{team}` has no members"),
                    "add people to it, or remove it",
                );
            }
            let mut members: Vec<String> = Vec::new();
            // The members so far, for duplicates: a team may have 100,000
            // members, so not a scan of `members` (hole 10).
            let mut seen: HashSet<&str> = HashSet::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let Some(name) = item.as_str() else { continue };
                if seen.contains(name) {
                    let pos = self.tree.value_pos(&path.index(i));
                    self.warning(
                        pos,
                        format!("`{name}` is listed twice in team `{team}`"),
                        "remove one of them",
                    );
                } else if self.person_keys.contains(name) {
                    seen.insert(name);
                    members.push(name.to_string());
                } else {
                    self.unknown_person(name, &path.index(i), &format!("team `{team}`"), false);
                }
            }
            teams.insert(team.clone(), members);
        }
        teams
    }

    /// Checks one site. Returns it when it resolved, and its Wix site id
    /// with where it is written, for the check across sites.
    fn site(
        &mut self,
        key: &str,
        v: &Value,
        teams: &BTreeMap<String, Vec<String>>,
        emails: &HashMap<&str, &str>,
    ) -> (Option<Site>, Option<(String, Pos)>) {
        let path = YamlPath::root().key("sites").key(key);
        if !v.is_object() {
            let _ = self.gate::<Map<String, Value>>(v, &path);
            return (None, None);
        }
        let (wix, site_id) = self.wix(key, v.get("wix"), &path.key("wix"));
        let owner = match v.get("owner") {
            Some(o) => {
                let opath = path.key("owner");
                let mut gate = self.gate::<RawContact>(o, &opath);
                if let Some(name) = gate.as_ref().and_then(|g| g.name.as_deref())
                    && let Some(d) = checked_name(
                        self.file,
                        self.tree,
                        name,
                        &opath.key("name"),
                        &format!("the owner name of site `{key}`"),
                        false,
                    )
                {
                    self.diagnostics.push(d);
                    gate = None;
                }
                let email = str_field(o, "email").and_then(|e| {
                    self.email(
                        e,
                        &opath.key("email"),
                        &format!("the owner of site `{key}`"),
                    )
                });
                match (gate, email) {
                    (Some(raw), Some(email)) => Some(Some(Contact {
                        name: raw.name,
                        email,
                    })),
                    _ => None,
                }
            }
            None => Some(None),
        };
        let unmanaged = match v.get("unmanaged") {
            Some(u) => self
                .gate::<RawUnmanaged>(u, &path.key("unmanaged"))
                .map(|u| match u {
                    RawUnmanaged::Keep => Unmanaged::Keep,
                    RawUnmanaged::Warn => Unmanaged::Warn,
                    RawUnmanaged::Remove => Unmanaged::Remove,
                }),
            None => Some(Unmanaged::default()),
        };
        let mut targets = self.site_targets(key, v, &path, unmanaged.unwrap_or_default());
        let mut no_targets = platforms::Targets {
            ga4_account: None,
            ga4_property: None,
            gtm: None,
            list: Vec::new(),
        };
        let apath = path.key("access");
        let mut grants = Vec::new();
        let mut complete = targets.is_some();
        // A misspelt `access` is reported as an unknown key; do not add
        // "no access entries" to it.
        let misspelt = v
            .as_object()
            .is_some_and(|m| m.keys().any(|k| !SITE_KEYS.contains(&k.as_str())));
        match v.get("access") {
            None if misspelt => {}
            None => self.no_access(key, &path),
            Some(Value::Array(items)) => {
                if items.is_empty() {
                    self.no_access(key, &path);
                }
                // One buffer for every grant's context.
                let mut context = String::new();
                for (i, g) in items.iter().enumerate() {
                    context.clear();
                    // Writing to a String cannot fail.
                    let _ = write!(context, "grant {} of site `{key}`", i + 1);
                    let gpath = apath.index(i);
                    let targets = targets.as_mut().unwrap_or(&mut no_targets);
                    complete &=
                        self.grant(g, &gpath, &context, teams, emails, &mut grants, targets);
                }
            }
            Some(other) => {
                let _ = self.gate::<Vec<Value>>(other, &apath);
                complete = false;
            }
        }
        grants.shrink_to_fit();
        let site = match (wix, owner, unmanaged, complete) {
            (Some(wix), Some(owner), Some(unmanaged), true) => Some(Site {
                key: key.to_string(),
                wix,
                owner,
                unmanaged,
                grants,
                request: crate::model::requests::SiteRequest::default(),
                targets: targets.map(|t| t.list).unwrap_or_default(),
                pos: self.tree.key_pos(&path),
            }),
            _ => None,
        };
        (site, site_id)
    }

    fn no_access(&mut self, key: &str, path: &YamlPath) {
        let pos = self.tree.key_pos(path);
        self.warning(
            pos,
            format!("site `{key}` has no access entries"),
            "add grants under `access`; until then every collaborator on it is unmanaged",
        );
    }

    fn wix(
        &mut self,
        site: &str,
        value: Option<&Value>,
        path: &YamlPath,
    ) -> (Option<WixSite>, Option<(String, Pos)>) {
        let Some(v) = value else {
            // The schema reports the missing key.
            self.fallback.push(Diagnostic::error(
                self.file,
                Some(self.tree.value_pos(path)),
                format!("missing `wix` in site `{site}`"),
            ));
            return (None, None);
        };
        let gate = self.gate::<RawWix>(v, path);
        let key_ok = match str_field(v, "api_key_env") {
            Some(name) => self.api_key_env(site, name, &path.key("api_key_env")),
            None => true,
        };
        let mut site_id = None;
        if let Some(id) = str_field(v, "site_id") {
            let pos = self.tree.value_pos(&path.key("site_id"));
            if id.trim().is_empty() {
                self.error(pos, format!("`site_id` of site `{site}` is empty"), None);
            } else if self.wix_id(id, &path.key("site_id"), "site_id", SITE_ID_HINT) {
                site_id = Some((id.to_string(), pos));
            }
        }
        if let Some(id) = str_field(v, "account_id") {
            if id.trim().is_empty() {
                let pos = self.tree.value_pos(&path.key("account_id"));
                self.error(pos, format!("`account_id` of site `{site}` is empty"), None);
            } else {
                self.wix_id(id, &path.key("account_id"), "account_id", ACCOUNT_ID_HINT);
            }
        }
        let wix = gate.filter(|_| key_ok).map(|raw| WixSite {
            site_id: raw.site_id,
            account_id: raw.account_id,
            api_key_env: raw.api_key_env,
            invite_language: raw.invite_language,
        });
        (wix, site_id)
    }

    /// A Wix id (`site_id`, `account_id`, `wix_account_id`) must be a plain
    /// id: it goes into request headers and the owner's dashboard link.
    /// Whether it is.
    fn wix_id(&mut self, id: &str, path: &YamlPath, field: &str, hint: &str) -> bool {
        // Checked as the loader uses it: trimmed.
        if crate::platform::is_plain_id(id.trim()) {
            return true;
        }
        let pos = self.tree.value_pos(path);
        self.error(
            pos,
            format!(
                "`{field}` `{}` is not a Wix id: Wix ids are letters, digits, `-` and `_`",
                crate::escape::text(id)
            ),
            Some(hint.to_string()),
        );
        false
    }

    /// `api_key_env` must name a variable. Its value is never repeated in a
    /// message, and its line is never shown: it may be the key itself.
    fn api_key_env(&mut self, site: &str, name: &str, path: &YamlPath) -> bool {
        if is_env_name(name) {
            return true;
        }
        let example = format!("{}_WIX_API_KEY", env_stem(site));
        let pos = self.tree.value_pos(path);
        let d = if looks_like_secret(name) {
            Diagnostic::error(
                self.file,
                Some(pos),
                format!("`api_key_env` of site `{site}` looks like an API key itself"),
            )
            .with_hint(format!(
                "put the key in an environment variable and write its name here, \
                 e.g. `api_key_env: {example}`; if the key was committed, revoke it"
            ))
        } else {
            Diagnostic::error(
                self.file,
                Some(pos),
                format!(
                    "`api_key_env` of site `{site}` must name an environment variable \
                     (upper-case letters, digits and `_`)"
                ),
            )
            .with_hint(format!(
                "e.g. `api_key_env: {example}`; the key itself goes in that variable"
            ))
        };
        self.diagnostics.push(d.redacted());
        false
    }

    /// One Wix role name, checked where it is written (`None` after a
    /// located error).
    fn wix_role(&mut self, name: &str, rpath: &YamlPath, context: &str) -> Option<RoleName> {
        let pos = self.tree.value_pos(rpath);
        if name.trim().is_empty() {
            self.error(pos, format!("empty role name in {context}"), None);
            return None;
        }
        if name.contains(char::is_control)
            && let Some(d) = checked_name(
                self.file,
                self.tree,
                name,
                rpath,
                &format!("a role name in {context}"),
                false,
            )
        {
            self.diagnostics.push(d);
            return None;
        }
        if is_owner_role(name) {
            self.error(
                pos,
                format!("{context} grants `{}`, which no one can be given", name.trim()),
                Some(
                    "the site owner's role changes only through a site transfer in Wix; grant `Admin (Co-Owner)` instead".to_string(),
                ),
            );
            return None;
        }
        match crate::roles::check_offline(name) {
            Offline::Predefined => {}
            Offline::Typo(title) => {
                self.error(
                    pos,
                    format!("unknown role `{}`; did you mean `{title}`?", name.trim()),
                    Some(format!(
                        "`{title}` is a predefined Wix role; a custom role needs a name that is not one letter away from it"
                    )),
                );
                return None;
            }
            Offline::Custom(close) => {
                let name = self.intern(name.trim());
                self.custom_roles.push((name, pos, close));
            }
        }
        let name = self.intern(name.trim());
        Some(RoleName { name, pos })
    }

    /// A grant gives something, and says it one way: not `role` with
    /// `roles`, not `level` with roles of its own.
    fn grant_keys(&mut self, g: &Value, path: &YamlPath, context: &str) -> bool {
        let written: Vec<&str> = ["role", "roles", "level", "ga4", "gtm"]
            .into_iter()
            .filter(|k| g.get(*k).is_some())
            .collect();
        let last_of = |this: &Self, keys: &[&str]| {
            keys.iter()
                .map(|k| this.tree.key_pos(&path.key(k)))
                .max()
                .unwrap_or_else(|| this.tree.value_pos(path))
        };
        if written.is_empty() {
            let pos = self.tree.value_pos(path);
            self.error(
                pos,
                format!("{context} has no role"),
                Some("add `role: <role name>` or `roles: [<role name>, ...]` (Wix), `ga4`/`gtm` roles, or a `level: <level>`".into()),
            );
            return false;
        }
        if written.contains(&"role") && written.contains(&"roles") {
            let pos = last_of(self, &["role", "roles"]);
            self.error(
                pos,
                format!("{context} has both `role` and `roles`"),
                Some("use `role: A` for one role or `roles: [A, B]` for several, not both".into()),
            );
            return false;
        }
        if written.contains(&"level") && written.len() > 1 {
            let pos = last_of(self, &written);
            let others: Vec<String> = written
                .iter()
                .filter(|k| **k != "level")
                .map(|k| format!("`{k}`"))
                .collect();
            self.error(
                pos,
                format!("{context} has both `level` and {}", others.join(" and ")),
                Some("a level stands for all of the grant's roles: put these roles in the level, or write them without `level`".into()),
            );
            return false;
        }
        true
    }

    /// Checks one grant and appends its model grants (one per team member
    /// for a team). Returns false when the grant could not be resolved.
    #[allow(
        clippy::too_many_arguments,
        reason = "the grant and the site's parts it reaches"
    )]
    fn grant(
        &mut self,
        g: &Value,
        path: &YamlPath,
        context: &str,
        teams: &BTreeMap<String, Vec<String>>,
        emails: &HashMap<&str, &str>,
        out: &mut Vec<Grant>,
        targets: &mut platforms::Targets,
    ) -> bool {
        let gate = self.gate::<RawGrant>(g, path);
        if !g.is_object() {
            return false;
        }
        let mut ok = gate.is_some() && self.grant_keys(g, path, context);

        // Roles: each name, where it was written.
        let mut roles = Vec::new();
        let mut role_values: Vec<(YamlPath, &str)> = Vec::new();
        if let Some(r) = str_field(g, "role") {
            role_values.push((path.key("role"), r));
        }
        if let Some(list) = g.get("roles").and_then(Value::as_array) {
            for (j, r) in list.iter().enumerate() {
                if let Some(r) = r.as_str() {
                    role_values.push((path.key("roles").index(j), r));
                }
            }
        }
        for (rpath, name) in role_values {
            match self.wix_role(name, &rpath, context) {
                Some(role) => roles.push(role),
                None => ok = false,
            }
        }

        // A level, or the grant's own Google roles.
        let mut platform_roles = platforms::PlatformRoles::default();
        let mut from_level = None;
        if let Some(name) = str_field(g, "level") {
            match self.levels.get(name) {
                Some(level) => {
                    roles.extend(level.wix.iter().cloned());
                    platform_roles = level.clone();
                    from_level = Some(name);
                }
                None => {
                    let lpath = path.key("level");
                    let pos = self.tree.value_pos(&lpath);
                    let hint = match did_you_mean(name, self.levels.keys().map(String::as_str)) {
                        Some(close) => format!("did you mean `{close}`?"),
                        None => format!("define `{name}` under `levels`"),
                    };
                    self.error(
                        pos,
                        format!("unknown level `{name}` in {context}"),
                        Some(hint),
                    );
                    ok = false;
                }
            }
        } else {
            if let Some(v) = g.get("ga4") {
                platform_roles.ga4 = self.ga4_roles(v, &path.key("ga4"), context);
                ok &= platform_roles.ga4.is_some();
            }
            if let Some(v) = g.get("gtm") {
                platform_roles.gtm = self.gtm_perms(v, &path.key("gtm"), context);
                ok &= platform_roles.gtm.is_some();
            }
        }

        let until = match str_field(g, "until") {
            Some(text) => {
                let upath = path.key("until");
                match parse_date(text) {
                    Ok(d) => Some(d),
                    Err(problem) => {
                        let pos = self.tree.value_pos(&upath);
                        self.error(
                            pos,
                            format!("invalid date `{text}` in `until`{problem}"),
                            Some("write the date as `yyyy-mm-dd`, e.g. `2027-02-01`".into()),
                        );
                        ok = false;
                        None
                    }
                }
            }
            None => None,
        };

        // The principal. The schema reports none-or-several; each one
        // written is still checked.
        let mut principals: Vec<(Principal, Option<Arc<str>>)> = Vec::new();
        let mut named = 0;
        if let Some(team) = str_field(g, "team") {
            named += 1;
            match teams.get(team) {
                Some(members) => {
                    // One name, shared by the members' grants.
                    let team: Arc<str> = team.into();
                    principals.extend(
                        members
                            .iter()
                            .map(|m| (Principal::Person(self.intern(m)), Some(team.clone()))),
                    );
                }
                None if self.team_keys.contains(team) => ok = false,
                None => {
                    let hint = if self.person_keys.contains(team) {
                        format!("`{team}` is a person: write `person: {team}`")
                    } else if let Some(c) =
                        did_you_mean(team, self.team_keys.iter().map(String::as_str))
                    {
                        format!("did you mean `{c}`?")
                    } else {
                        format!("define `{team}` under `teams`")
                    };
                    let pos = self.tree.value_pos(&path.key("team"));
                    self.error(
                        pos,
                        format!("unknown team `{team}` in {context}"),
                        Some(hint),
                    );
                    ok = false;
                }
            }
        }
        if let Some(person) = str_field(g, "person") {
            named += 1;
            if self.person_keys.contains(person) {
                principals.push((Principal::Person(self.intern(person)), None));
            } else {
                self.unknown_person(person, &path.key("person"), context, true);
                ok = false;
            }
        }
        if let Some(email) = str_field(g, "email") {
            named += 1;
            let epath = path.key("email");
            match self.email(email, &epath, context) {
                Some(email) => {
                    if let Some(person) = emails.get(email.as_str()) {
                        let pos = self.tree.value_pos(&epath);
                        self.warning(
                            pos,
                            format!("`{email}` in {context} is the email of person `{person}`"),
                            &format!("write `person: {person}` so both grants are one person"),
                        );
                    }
                    principals.push((Principal::Email(email.into()), None));
                }
                None => ok = false,
            }
        }
        if let Some(id) = str_field(g, "wix_account_id") {
            named += 1;
            if id.trim().is_empty() {
                let pos = self.tree.value_pos(&path.key("wix_account_id"));
                self.error(pos, format!("empty `wix_account_id` in {context}"), None);
                ok = false;
            } else if !self.wix_id(
                id,
                &path.key("wix_account_id"),
                "wix_account_id",
                ACCOUNT_ID_HINT,
            ) {
                ok = false;
            } else {
                principals.push((Principal::Account(id.trim().into()), None));
            }
        }
        if !ok || named != 1 {
            return false;
        }
        // Google keys access by email: each principal's, with why it is
        // granted.
        let mut google: Vec<(Arc<str>, String, bool)> = Vec::new();
        // Only grants that give Google roles need them (a Wix-only config
        // of 200,000 grants builds none).
        let gives_google = platform_roles.ga4.is_some() || platform_roles.gtm.is_some();
        for (principal, via_team) in principals.iter().filter(|_| gives_google) {
            let (email, who) = match principal {
                Principal::Person(key) => (
                    self.people
                        .get(&**key)
                        .map(|p| Arc::<str>::from(p.email.as_str())),
                    format!("person {key}"),
                ),
                Principal::Email(email) => (Some(email.clone()), format!("email {email}")),
                Principal::Account(_) => (None, String::new()),
            };
            let Some(email) = email else { continue };
            let mut reason = match via_team {
                Some(team) => format!("team {team} ({who})"),
                None => who,
            };
            if let Some(level) = from_level {
                reason.push_str(&format!(", level {level}"));
            }
            google.push((email, reason, via_team.is_some()));
        }
        if !self.target_grants(
            targets,
            &platform_roles,
            &google,
            until,
            path,
            context,
            from_level.is_none(),
        ) {
            return false;
        }
        if roles.is_empty() {
            return true;
        }
        let pos = self.tree.value_pos(path);
        // Shared by the grants a team grant becomes.
        let roles: Arc<[RoleName]> = roles.into();
        for (principal, via_team) in principals {
            out.push(Grant {
                principal,
                roles: roles.clone(),
                until,
                via_team,
                pos,
            });
        }
        true
    }

    fn safety(&mut self, value: Option<&Value>) -> Safety {
        let Some(v) = value else {
            return Safety::default();
        };
        let path = YamlPath::root().key("safety");
        let ppath = path.key("protect");
        if let Some(list) = v.get("protect").and_then(Value::as_array) {
            for (i, item) in list.iter().enumerate() {
                if let Some(name) = item.as_str()
                    && !self.person_keys.contains(name)
                {
                    self.unknown_person(name, &ppath.index(i), "`safety.protect`", false);
                }
            }
        }
        if let Some(name) = v.get("self").and_then(Value::as_str)
            && !self.person_keys.contains(name)
        {
            self.unknown_person(name, &path.key("self"), "`safety.self`", false);
        }
        let defaults = Safety::default();
        match self.gate::<RawSafety>(v, &path) {
            Some(raw) => Safety {
                max_removals_per_site: raw.max_removals_per_site.or(defaults.max_removals_per_site),
                max_removals_total: raw.max_removals_total.or(defaults.max_removals_total),
                max_removal_percent: raw.max_removal_percent.or(defaults.max_removal_percent),
                protect: raw.protect,
                self_person: raw.self_person,
                expiry_warning_days: raw
                    .expiry_warning_days
                    .unwrap_or(defaults.expiry_warning_days),
            },
            None => defaults,
        }
    }
}

/// Parses `yyyy-mm-dd`. The error is a suffix for the message.
pub(crate) fn parse_date(text: &str) -> Result<Date, &'static str> {
    let mut parts = text.split('-');
    let shaped = matches!(
        (parts.next(), parts.next(), parts.next(), parts.next()),
        (Some(y), Some(m), Some(d), None)
            if y.len() == 4 && m.len() == 2 && d.len() == 2
                && [y, m, d].iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()))
    );
    if !shaped {
        return Err("");
    }
    Date::parse(text, format_description!("[year]-[month]-[day]"))
        .map_err(|_| ": there is no such day")
}

/// `acme-bakery` → `ACME_BAKERY`.
fn env_stem(site: &str) -> String {
    site.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dates() {
        assert!(parse_date("2027-02-01").is_ok());
        assert_eq!(parse_date("2027-02-30"), Err(": there is no such day"));
        assert_eq!(parse_date("next week"), Err(""));
        assert_eq!(parse_date("2027-2-1"), Err(""));
        assert_eq!(parse_date("+2027-02-01"), Err(""));
    }

    #[test]
    fn site_keys_match_the_schema() {
        let schema = super::super::schema::schema_value();
        let mut from_schema: Vec<&str> = schema
            .pointer("/$defs/RawSite/properties")
            .and_then(Value::as_object)
            .map(|p| p.keys().map(String::as_str).collect())
            .unwrap_or_default();
        from_schema.sort_unstable();
        let mut ours = SITE_KEYS.to_vec();
        ours.sort_unstable();
        assert_eq!(from_schema, ours);
    }

    #[test]
    fn resolves_ledger_dirs() {
        assert_eq!(
            ledger_dir(Path::new("examples/agency.yaml"), None),
            PathBuf::from("examples/agency.ledger")
        );
        assert_eq!(
            ledger_dir(Path::new("agency.yaml"), None),
            PathBuf::from("agency.ledger")
        );
        assert_eq!(
            ledger_dir(Path::new("examples/agency.yaml"), Some("state")),
            PathBuf::from("examples/state")
        );
        assert_eq!(
            ledger_dir(Path::new("examples/agency.yaml"), Some("/var/l")),
            PathBuf::from("/var/l")
        );
    }
}
