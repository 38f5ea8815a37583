//! Composing the access request a site's owner receives.
//!
//! Pure: the same settings, site, recipient, grants and kind give the same
//! subject and body, byte for byte, so `plan` can show exactly what `apply`
//! will send and the ledger can record its digest. The wording of the
//! built-in message is in [`crate::template::BUILTIN`]; the pieces that
//! depend on the grants (the list, the dashboard steps) are written here.

use std::collections::BTreeMap;

use sha2::{Digest as _, Sha256};
use time::Date;
use time::macros::format_description;

use crate::model::requests::{Settings, SiteRequest};
use crate::model::{Contact, Site};
use crate::template::Template;

/// Where a site's Wix dashboard is; the site id follows.
pub const DASHBOARD_BASE: &str = "https://manage.wix.com/dashboard/";

/// One person to add, and the role titles to give them (sorted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub email: String,
    pub roles: Vec<String>,
}

/// A person whose roles the owner is asked to change: from the roles the
/// owner gave (`from`) to `roles` (both sorted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleChange {
    pub email: String,
    pub from: Vec<String>,
    pub roles: Vec<String>,
}

/// A first request, or a reminder of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Request,
    /// `first_sent` is the day the request was first sent.
    Reminder {
        first_sent: Date,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub subject: String,
    pub body: String,
}

impl Message {
    /// SHA-256 (hex) of the subject and body; recorded in the ledger.
    pub fn digest(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.subject.as_bytes());
        hasher.update(b"\n\n");
        hasher.update(self.body.as_bytes());
        crate::hex::encode(&hasher.finalize())
    }
}

/// Everything a message depends on.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The config's `requests:` block, if it has one.
    pub settings: Option<&'a Settings>,
    pub site: &'a Site,
    pub site_request: &'a SiteRequest,
    pub to: Option<&'a Contact>,
    pub grants: &'a [Grant],
    /// People whose roles to change (access the owner gave earlier).
    pub changes: &'a [RoleChange],
    /// People to remove, with the roles the owner gave them.
    pub removals: &'a [Grant],
    pub kind: Kind,
}

impl Context<'_> {
    /// Whether the message asks to change or remove access, not only to
    /// add it: then it is worded by [`Template::builtin_changes`].
    pub fn changes_access(&self) -> bool {
        !self.changes.is_empty() || !self.removals.is_empty()
    }
}

/// The agency's name when the config gives none.
const NO_AGENCY: &str = "Your web agency";

/// Writes the message.
pub fn compose(ctx: &Context<'_>) -> Message {
    let agency = ctx
        .settings
        .map_or(NO_AGENCY, |s| s.agency.as_str())
        .to_string();
    let purpose = ctx
        .site_request
        .purpose
        .as_deref()
        .or(ctx.settings.and_then(|s| s.purpose.as_deref()))
        .map_or_else(default_purpose, |p| p.trim().to_string());
    let reminder = match ctx.kind {
        Kind::Request => String::new(),
        Kind::Reminder { first_sent } => format!(
            "We wrote to you about this on {}, and the access is not in\nplace yet, so here is our request again. If you have already done it,\nthank you, and please let us know.\n\n",
            long_date(first_sent)
        ),
    };
    let mut values: BTreeMap<&str, String> = BTreeMap::new();
    values.insert("agency", agency);
    values.insert("dashboard_url", dashboard_url(&ctx.site.wix.site_id));
    let changing = ctx.changes_access();
    values.insert(
        "grants",
        if changing {
            sections(ctx)
        } else {
            grant_list(ctx.grants)
        },
    );
    values.insert(
        "owner_email",
        ctx.to.map(|c| c.email.clone()).unwrap_or_default(),
    );
    values.insert(
        "owner_name",
        ctx.to
            .and_then(|c| c.name.clone())
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| "there".to_string()),
    );
    values.insert("purpose", purpose);
    values.insert("reminder", reminder);
    values.insert("site", ctx.site.key.clone());
    values.insert("site_id", ctx.site.wix.site_id.clone());
    values.insert(
        "steps",
        if changing {
            change_steps(ctx)
        } else {
            steps(&ctx.site.wix.site_id, ctx.grants)
        },
    );
    let builtin;
    // A custom template words grant requests; one that changes or removes
    // access is always worded by the built-in text, whose list and steps
    // cover every kind of change.
    let template = match ctx.settings.and_then(|s| s.template.as_ref()) {
        Some(t) if !changing => t,
        _ => {
            builtin = if changing {
                Template::builtin_changes()
            } else {
                Template::builtin()
            };
            &builtin
        }
    };
    let (mut subject, body) = template.render(&values);
    if let Kind::Reminder { .. } = ctx.kind {
        subject = format!("Reminder: {subject}");
    }
    Message { subject, body }
}

pub fn dashboard_url(site_id: &str) -> String {
    format!("{DASHBOARD_BASE}{site_id}")
}

fn default_purpose() -> String {
    "we use it only for the work you have asked us to do on your site,\nand each person gets only the roles listed above.".to_string()
}

/// `- alice@example.com: Blog Editor and Website Manager`, one per line.
fn grant_list(grants: &[Grant]) -> String {
    grants
        .iter()
        .map(|g| format!("- {}: {}", g.email, join_and(&g.roles)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The steps that invite `grants` (none for none), after `steps`: one
/// person named, or several (`one`: which of them, `each`: the repeat).
fn invite_steps(steps: &mut Vec<String>, grants: &[Grant], one: &str, each: &str) {
    if grants.is_empty() {
        return;
    }
    let first = steps.len() + 1;
    steps.push("Click \"Invite People\" (in some dashboards: \"Add Collaborators\").".to_string());
    match grants {
        [only] => {
            steps.push(format!("Enter the email address {}.", only.email));
            let noun = if only.roles.len() == 1 {
                "role"
            } else {
                "roles"
            };
            steps.push(format!("Choose the {noun} {}.", join_and(&only.roles)));
            steps.push("Click \"Send Invite\".".to_string());
        }
        _ => {
            steps.push(format!("Enter the email address of one person {one}."));
            steps.push("Choose the role or roles listed for that person.".to_string());
            steps.push("Click \"Send Invite\".".to_string());
            steps.push(format!(
                "Repeat steps {first} to {} for each person {each}.",
                first + 3
            ));
        }
    }
}

/// The clicks in the Wix dashboard, numbered.
fn steps(site_id: &str, grants: &[Grant]) -> String {
    let mut steps = vec![
        format!(
            "Open your site's dashboard: {}\n   (sign in with the Wix account that owns the site).",
            dashboard_url(site_id)
        ),
        "Go to Settings → Roles & Permissions.".to_string(),
    ];
    invite_steps(&mut steps, grants, "on the list above", "on the list");
    let mut text: Vec<String> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| format!("{}. {s}", i + 1))
        .collect();
    text.push(String::new());
    text.push(
        "Wix then emails each person an invitation to accept. If someone on the\nlist is already a collaborator, change their role to the one listed\ninstead of inviting them again."
            .to_string(),
    );
    text.join("\n")
}

/// The list of a message that changes access: a headed section for each
/// kind of change there is.
fn sections(ctx: &Context<'_>) -> String {
    let mut parts = Vec::new();
    if !ctx.grants.is_empty() {
        parts.push(format!("Please add:\n\n{}", grant_list(ctx.grants)));
    }
    if !ctx.changes.is_empty() {
        let list: Vec<String> = ctx
            .changes
            .iter()
            .map(|c| {
                format!(
                    "- {}: from {} to {}",
                    c.email,
                    join_and(&c.from),
                    join_and(&c.roles)
                )
            })
            .collect();
        parts.push(format!(
            "Please change the roles of:\n\n{}",
            list.join("\n")
        ));
    }
    if !ctx.removals.is_empty() {
        let list: Vec<String> = ctx
            .removals
            .iter()
            .map(|r| format!("- {} (now: {})", r.email, join_and(&r.roles)))
            .collect();
        parts.push(format!(
            "Please remove from the site:\n\n{}",
            list.join("\n")
        ));
    }
    parts.join("\n\n")
}

/// The clicks in the Wix dashboard for a message that changes access:
/// removals, then role changes, one step per person, then the invites.
fn change_steps(ctx: &Context<'_>) -> String {
    let mut steps = vec![
        format!(
            "Open your site's dashboard: {}\n   (sign in with the Wix account that owns the site).",
            dashboard_url(&ctx.site.wix.site_id)
        ),
        "Go to Settings → Roles & Permissions.".to_string(),
    ];
    for r in ctx.removals {
        steps.push(format!(
            "Find {} in the list of collaborators, click the \"⋯\" (More Actions)\n   button on that row, choose \"Remove\", and confirm.",
            r.email
        ));
    }
    for c in ctx.changes {
        let noun = if c.roles.len() == 1 { "role" } else { "roles" };
        steps.push(format!(
            "Find {} in the list of collaborators, click the \"⋯\" (More Actions)\n   button on that row and choose \"Change Role\". Select the {noun} {},\n   clear every other role, and click \"Save\".",
            c.email,
            join_and(&c.roles)
        ));
    }
    invite_steps(&mut steps, ctx.grants, "to add", "to add");
    let mut text: Vec<String> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| format!("{}. {s}", i + 1))
        .collect();
    text.push(String::new());
    text.push(
        "Removing someone takes away their access to this site only; their Wix\naccount and other sites are not affected. If someone to change or\nremove is not on the list any more, there is nothing to do for them."
            .to_string(),
    );
    text.join("\n")
}

/// `A`, `A and B`, `A, B and C`.
fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// `1 October 2026`.
fn long_date(date: Date) -> String {
    date.format(format_description!(
        "[day padding:none] [month repr:long] [year]"
    ))
    .unwrap_or_else(|_| date.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_words_for_reading() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(join_and(&s(&["A"])), "A");
        assert_eq!(join_and(&s(&["A", "B"])), "A and B");
        assert_eq!(join_and(&s(&["A", "B", "C"])), "A, B and C");
    }

    #[test]
    fn invite_steps_number_themselves_after_the_steps_before() {
        let grant = |email: &str, roles: &[&str]| Grant {
            email: email.to_string(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
        };
        let before = |n: usize| vec![String::new(); n];
        let mut none = before(3);
        invite_steps(&mut none, &[], "to add", "to add");
        assert_eq!(none.len(), 3);
        let mut one = before(3);
        invite_steps(
            &mut one,
            &[grant("a@x.example", &["Blog Editor", "SEO"])],
            "to add",
            "to add",
        );
        assert_eq!(
            &one[3..],
            [
                "Click \"Invite People\" (in some dashboards: \"Add Collaborators\").",
                "Enter the email address a@x.example.",
                "Choose the roles Blog Editor and SEO.",
                "Click \"Send Invite\".",
            ]
        );
        let two = [
            grant("a@x.example", &["SEO"]),
            grant("b@x.example", &["SEO"]),
        ];
        let mut several = before(3);
        invite_steps(&mut several, &two, "to add", "to add");
        assert_eq!(several[4], "Enter the email address of one person to add.");
        assert_eq!(several[7], "Repeat steps 4 to 7 for each person to add.");
        let mut listed = before(2);
        invite_steps(&mut listed, &two, "on the list above", "on the list");
        assert_eq!(
            listed[6],
            "Repeat steps 3 to 6 for each person on the list."
        );
    }

    #[test]
    fn writes_dates_in_words() {
        assert_eq!(
            long_date(time::macros::date!(2026 - 10 - 01)),
            "1 October 2026"
        );
    }
}
