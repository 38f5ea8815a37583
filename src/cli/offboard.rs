//! `accessctl offboard PERSON`: what removing a person would revoke across
//! every client, and with `--write`, the config edited in place to remove
//! them (their entry, their team memberships and their direct grants,
//! touching only those lines: see `config::offboard`).
//!
//! The plan shown is the plan of the edited config (in memory, loaded and
//! validated by the real loader), restricted to the changes and warnings
//! that concern the person's email and Wix account: exactly what `apply`
//! would do about them once the edit is merged, and what it would not (a
//! site that leaves unmanaged collaborators alone).

use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;

use super::{Exit, GuardArgs, RemoteArgs, fail, load_config_with_text, print_report, runtime};
use crate::config::offboard::{Offboarding, Removed};
use crate::platform::{ChangeKind, Platform};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OffboardFormat {
    /// For people.
    #[default]
    Text,
    /// For programs.
    Json,
}

#[derive(Debug, Args)]
pub struct OffboardArgs {
    /// The person's key in `people:`.
    #[arg(value_name = "PERSON")]
    pub person: String,

    /// Edit the config in place: remove the person, their team memberships
    /// and their direct grants, touching only those lines. Written only when
    /// the edited config validates.
    #[arg(long)]
    pub write: bool,

    /// Plan from a snapshot (`accessctl snapshot`) instead of reading the
    /// sites: offline, no API key or Google credentials needed.
    #[arg(long, value_name = "SNAPSHOT")]
    pub observed: Option<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: OffboardFormat,

    #[command(flatten)]
    pub remote: RemoteArgs,

    #[command(flatten)]
    pub guards: GuardArgs,
}

/// The whole answer (`--format json`).
#[derive(Debug, Serialize)]
pub struct OffboardReport {
    pub person: String,
    pub email: String,
    pub wix_account_id: Option<String>,
    /// `live`, or the snapshot file read.
    pub observed: String,
    /// Whether the config file was rewritten (`--write`).
    pub written: bool,
    /// What the edit takes out of the config, by path and line.
    pub config: Vec<ConfigEntry>,
    /// What `apply` of the edited config would do about the person.
    pub revokes: Vec<Revoke>,
    /// Access `apply` would leave in place, with why (a site that keeps
    /// unmanaged collaborators, a guard).
    pub not_revoked: Vec<Note>,
    /// Removals the config as it is would make (an `until` passed) that the
    /// edited one would not: the site keeps unmanaged collaborators, so
    /// without the person's grant their access stays. Apply the current
    /// config first, or set `unmanaged: remove` on those sites.
    pub lost: Vec<Revoke>,
    /// Where the edited config still names the person's email or account
    /// (a reply-to address, a site owner): not edited, for a person to
    /// look at.
    pub still_named: Vec<String>,
    /// Safety guards the plan of the edited config breaks: `apply` stops
    /// at them until overridden (each names its flag).
    pub refusals: Vec<String>,
    /// Sites and targets that could not be read: the answer may miss them.
    pub unreadable: Vec<Note>,
    /// Request-mode sites whose owner is (or, once applied, will be) asked
    /// to remove the person or change their roles, not yet confirmed: the
    /// offboarding is not complete until `accessctl request done SITE`
    /// records each.
    pub awaiting_owners: Vec<Note>,
}

#[derive(Debug, Serialize)]
pub struct ConfigEntry {
    pub path: String,
    pub line: usize,
}

#[derive(Debug, Serialize)]
pub struct Revoke {
    pub site: String,
    pub platform: Platform,
    /// Wix: the site id; GA4/GTM: `properties/200`, `accounts/6000`.
    pub scope: String,
    /// Wix: `remove`, `revoke-invite`, `change-role`, …; GA4/GTM: `remove`,
    /// `update`, `add`.
    pub action: String,
    pub who: String,
    pub before: String,
    pub after: String,
    pub reason: String,
}

#[derive(Debug, Serialize)]
pub struct Note {
    pub site: String,
    pub platform: Platform,
    pub note: String,
}

pub fn run(path: &Path, args: &OffboardArgs) -> Exit {
    // Read while the config loads and is edited.
    let snapshot = args
        .observed
        .as_deref()
        .map(super::snapshot::SnapshotRead::start);
    // The config as it is must load: the edit is made to a valid config,
    // to the very text that was checked (read once, inside the repository
    // and under the size cap).
    let Some((original, text)) = load_config_with_text(path) else {
        return Exit::Error;
    };
    let done = match crate::config::offboard::offboard(&text, &args.person) {
        Ok(done) => done,
        Err(refusal) => {
            let message = format!(
                "cannot offboard `{}`: {}; {} is unchanged",
                args.person,
                refusal.message,
                path.display()
            );
            return fail(message, refusal.hint.as_deref());
        }
    };
    // The edited text through the real loader, before anything is written.
    let edited = match crate::config::load_str(path, done.text.as_bytes()) {
        Ok(loaded) => loaded,
        Err(report) => {
            print_report(&report);
            return fail(
                format!(
                    "the config without `{}` does not validate; {} is unchanged",
                    args.person,
                    path.display()
                ),
                Some("remove the person by hand, fixing what the errors above name"),
            );
        }
    };
    let auth = match super::ledger_auth() {
        Ok(auth) => auth,
        Err(exit) => return exit,
    };
    let computed = match snapshot {
        Some(read) => super::snapshot::compute_plan_observed(
            &edited.config,
            read,
            &args.remote,
            &args.guards,
            &auth,
            super::Readings::Keep,
        ),
        None => {
            let rt = match runtime() {
                Ok(rt) => rt,
                Err(exit) => return exit,
            };
            super::compute_plan(&edited.config, &args.remote, &args.guards, &auth, &rt)
        }
    };
    let (plan, observed) = match computed {
        Ok(p) => p,
        Err(exit) => return exit,
    };
    // The config as it is, planned against the same reading: what it would
    // revoke that the edited one would not.
    let recorded = match super::recorded_guards(&original.config, &auth) {
        Ok(r) => r,
        Err(exit) => return exit,
    };
    let before = crate::observe::build_plan(
        &original.config,
        &observed,
        super::now(),
        &recorded,
        args.guards.overrides(),
    );
    let source = args
        .observed
        .as_ref()
        .map_or_else(|| "live".to_string(), |p| p.display().to_string());
    let mut report = restrict(&done, &plan, source.clone());
    let current = restrict(&done, &before, source);
    report.lost = current
        .revokes
        .into_iter()
        .filter(|r| r.action == "remove" || r.action == "revoke-invite")
        .filter(|r| {
            !report.revokes.iter().any(|e| {
                (&e.site, e.platform, &e.scope, &e.action)
                    == (&r.site, r.platform, &r.scope, &r.action)
            })
        })
        .collect();

    if args.write {
        // The file keeps its permissions (the temporary file beside it is
        // created private).
        let permissions = std::fs::metadata(path).map(|m| m.permissions());
        let written = super::plan::save_atomically(path, |file| {
            use std::io::Write as _;
            file.write_all(done.text.as_bytes())?;
            file.set_permissions(permissions?)
        });
        if let Err(e) = written {
            return fail(format!("cannot write {}: {e}", path.display()), None);
        }
        report.written = true;
    }

    let printed = match args.format {
        OffboardFormat::Json => serde_json::to_string_pretty(&report)
            .map(|mut t| {
                t.push('\n');
                t
            })
            .map_err(std::io::Error::other),
        OffboardFormat::Text => Ok(render_text(&report, path)),
    };
    match printed {
        Ok(text) => {
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                return fail(format!("cannot print the answer: {e}"), None);
            }
        }
        Err(e) => return fail(format!("cannot print the answer: {e}"), None),
    }
    if report.written {
        eprintln!(
            "edited {}: removed {}; review the change like any other, then `accessctl apply`",
            path.display(),
            crate::render::count(report.config.len(), "entry", "entries")
        );
    }
    if report.unreadable.is_empty() {
        Exit::Ok
    } else {
        eprintln!(
            "error: {} could not be read; the answer may be incomplete",
            crate::render::count(
                report.unreadable.len(),
                "site or target",
                "sites or targets"
            )
        );
        Exit::Error
    }
}

/// The plan of the edited config, restricted to the person.
fn restrict(done: &Offboarding, plan: &crate::plan::Plan, observed: String) -> OffboardReport {
    let email = done.email.as_str();
    let account = done.wix_account_id.as_deref();
    let mentions = |text: &str| {
        (!email.is_empty() && text.to_lowercase().contains(email))
            || account.is_some_and(|a| text.contains(a))
    };
    let titles = |roles: &[crate::plan::Role]| {
        roles
            .iter()
            .map(|r| r.title.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut report = OffboardReport {
        person: done.person.clone(),
        email: done.email.clone(),
        wix_account_id: done.wix_account_id.clone(),
        observed,
        written: false,
        config: done
            .removed
            .iter()
            .map(|Removed { path, line }| ConfigEntry {
                path: path.clone(),
                line: *line,
            })
            .collect(),
        revokes: Vec::new(),
        not_revoked: Vec::new(),
        lost: Vec::new(),
        still_named: done.still_named.clone(),
        refusals: Vec::new(),
        unreadable: Vec::new(),
        awaiting_owners: Vec::new(),
    };
    for site in &plan.sites {
        for e in &site.errors {
            report.unreadable.push(Note {
                site: site.site.clone(),
                platform: Platform::Wix,
                note: e.clone(),
            });
        }
        for c in &site.changes {
            let theirs = c.who == done.person
                || c.email
                    .as_deref()
                    .is_some_and(|e| e.to_lowercase() == email)
                || (account.is_some() && c.account_id.as_deref() == account);
            if theirs {
                report.revokes.push(Revoke {
                    site: site.site.clone(),
                    platform: Platform::Wix,
                    scope: site.site_id.clone(),
                    action: c.action.name().to_string(),
                    who: c.who.clone(),
                    before: titles(&c.roles_before),
                    after: titles(&c.roles_after),
                    reason: c.reason.clone(),
                });
            }
        }
        if let Some(r) = &site.request {
            let asked = r
                .removals
                .iter()
                .map(|g| (&g.email, "remove them"))
                .chain(r.changes.iter().map(|c| (&c.email, "change their roles")));
            for (_, what) in asked.filter(|(e, _)| e.to_lowercase() == email) {
                let when = match (r.status, r.sent_at.as_deref()) {
                    (crate::plan::RequestStatus::New, _) | (_, None) => {
                        "apply asks the owner to".to_string()
                    }
                    (status, Some(sent)) => format!(
                        "the owner was asked on {} ({}) to",
                        sent.split('T').next().unwrap_or(sent),
                        status.name()
                    ),
                };
                report.awaiting_owners.push(Note {
                    site: site.site.clone(),
                    platform: Platform::Wix,
                    note: format!(
                        "{when} {what}; not complete until `accessctl request done {} --email {email}` records that they did",
                        site.site
                    ),
                });
            }
        }
        for w in site.warnings.iter().filter(|w| mentions(w)) {
            report.not_revoked.push(Note {
                site: site.site.clone(),
                platform: Platform::Wix,
                note: w.clone(),
            });
        }
        for t in &site.targets {
            for e in &t.errors {
                report.unreadable.push(Note {
                    site: site.site.clone(),
                    platform: t.platform,
                    note: e.clone(),
                });
            }
            for c in t.changes.iter().filter(|c| c.who.is_email(email)) {
                report.revokes.push(Revoke {
                    site: site.site.clone(),
                    platform: t.platform,
                    scope: t.target.clone(),
                    action: match c.kind {
                        ChangeKind::Add => "add",
                        ChangeKind::Update => "update",
                        ChangeKind::Remove => "remove",
                    }
                    .to_string(),
                    who: c.who.to_string(),
                    before: c.from.as_ref().map(|a| a.describe()).unwrap_or_default(),
                    after: c.to.as_ref().map(|a| a.describe()).unwrap_or_default(),
                    reason: c.reason.clone(),
                });
            }
            let refused = t.refused.iter().filter(|r| r.change.who.is_email(email));
            for r in refused {
                report.not_revoked.push(Note {
                    site: site.site.clone(),
                    platform: t.platform,
                    note: format!("{}: held back: {}", t.target, r.reason),
                });
            }
            let before = report.not_revoked.len();
            for w in t.warnings.iter().filter(|w| mentions(w)) {
                report.not_revoked.push(Note {
                    site: site.site.clone(),
                    platform: t.platform,
                    note: format!("{}: {w}", t.target),
                });
            }
            // Whatever the plan leaves them that no warning or guard
            // explained (GTM containers the config does not manage).
            let prefix = format!("{}: ", email.to_lowercase());
            if report.not_revoked.len() == before
                && !t.refused.iter().any(|r| r.change.who.is_email(email))
                && let Some(kept) = t.after.lines().find_map(|l| l.strip_prefix(&prefix))
            {
                report.not_revoked.push(Note {
                    site: site.site.clone(),
                    platform: t.platform,
                    note: format!(
                        "{}: {email} keeps {kept}: the config does not manage it",
                        t.target
                    ),
                });
            }
        }
    }
    // The guards that concern the person's sites, or the whole plan.
    let sites: std::collections::BTreeSet<String> = report
        .revokes
        .iter()
        .map(|r| format!("site `{}`", r.site))
        .collect();
    report.refusals = plan
        .refusals
        .iter()
        .filter(|r| !r.starts_with("site `") || sites.iter().any(|s| r.starts_with(s.as_str())))
        .cloned()
        .collect();
    report
}

/// One line of the text answer, escaped as [`crate::escape::line`].
fn put(out: &mut String, line: impl AsRef<str>) {
    out.push_str(&crate::escape::line(line.as_ref()));
    out.push('\n');
}

fn render_text(report: &OffboardReport, path: &Path) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    // Every line holds data the config, the ledger or a platform wrote (a
    // live role title, a note quoting Wix): each is one line of text, its
    // control characters escaped and never read as a workflow command.
    let who = match &report.wix_account_id {
        Some(a) => format!("{}, Wix account {a}", report.email),
        None => report.email.clone(),
    };
    put(&mut out, format!("Offboarding {} ({who})", report.person));
    put(&mut out, String::new());
    put(
        &mut out,
        format!(
            "Config: {} {} from {}",
            if report.written {
                "removed"
            } else {
                "would remove"
            },
            crate::render::count(report.config.len(), "entry", "entries"),
            path.display()
        ),
    );
    for entry in &report.config {
        put(&mut out, format!("  line {:<5} {}", entry.line, entry.path));
    }
    put(&mut out, String::new());
    put(
        &mut out,
        format!(
            "Revokes across all clients (observed: {}):",
            report.observed
        ),
    );
    if report.revokes.is_empty() {
        put(
            &mut out,
            "  nothing: they hold no access the config manages",
        );
    }
    let mut last = None;
    for r in &report.revokes {
        if last != Some(&r.site) {
            put(&mut out, format!("  {}", r.site));
            last = Some(&r.site);
        }
        let change = match (r.before.is_empty(), r.after.is_empty()) {
            (false, false) => format!("{} → {}", r.before, r.after),
            (false, true) => r.before.clone(),
            (true, false) => format!("→ {}", r.after),
            (true, true) => String::new(),
        };
        put(
            &mut out,
            format!(
                "    {:<4} {:<15} {:<13} {} ({change})",
                r.platform.short_title(),
                r.scope_short(),
                r.action,
                r.who
            ),
        );
    }
    if !report.not_revoked.is_empty() {
        put(&mut out, String::new());
        put(&mut out, "Not revoked by apply:");
        for n in &report.not_revoked {
            put(
                &mut out,
                format!("  {} {}: {}", n.site, n.platform.short_title(), n.note),
            );
        }
    }
    if !report.lost.is_empty() {
        put(&mut out, String::new());
        put(
            &mut out,
            "Revoked by the config as it is, but not once they are removed (apply it first, or set `unmanaged: remove` on the site):",
        );
        for r in &report.lost {
            put(
                &mut out,
                format!(
                    "  {} {} {} {} ({})",
                    r.site,
                    r.platform.short_title(),
                    r.action,
                    r.who,
                    r.before
                ),
            );
        }
    }
    if !report.awaiting_owners.is_empty() {
        put(&mut out, String::new());
        put(
            &mut out,
            "Offboarding is not complete: site owners must remove the access by hand (request mode):",
        );
        for n in &report.awaiting_owners {
            put(&mut out, format!("  {}: {}", n.site, n.note));
        }
    }
    if !report.still_named.is_empty() {
        put(&mut out, String::new());
        put(
            &mut out,
            format!(
                "Still named in the config (not edited): {}",
                report.still_named.join(", ")
            ),
        );
    }
    if !report.refusals.is_empty() {
        put(&mut out, String::new());
        put(&mut out, "Safety guards apply would stop at:");
        for r in &report.refusals {
            // A guard's message may hold lines of its own: each escaped,
            // the later ones indented under the first.
            let _ = writeln!(out, "  {}", crate::escape::lines(r, "\n    "));
        }
    }
    put(&mut out, String::new());
    put(
        &mut out,
        format!(
            "{}.",
            crate::render::count(report.revokes.len(), "change", "changes")
        ),
    );
    if !report.written {
        put(
            &mut out,
            format!(
                "Run `accessctl offboard {} --write` to edit the config, then review and apply it.",
                report.person
            ),
        );
    }
    out
}

impl Revoke {
    /// The scope as shown in text: a Wix site's id is long and the site's
    /// key is already on the line above.
    fn scope_short(&self) -> &str {
        if self.platform == Platform::Wix {
            ""
        } else {
            &self.scope
        }
    }
}
