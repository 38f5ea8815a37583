//! `accessctl validate`: check the config without touching the network.

use std::path::Path;

use super::{Exit, load_config};

pub fn run(path: &Path) -> Exit {
    match load_config(path) {
        Some(loaded) => {
            let c = &loaded.config;
            if super::print_policy(c) {
                eprintln!(
                    "error: {} breaks its policy rules (above)",
                    crate::escape::line(&path.display().to_string())
                );
                eprintln!(
                    "  = hint: change the grants they point at, or mark a rule `severity: warn` to only report it"
                );
                return Exit::Error;
            }
            let grants: usize = c.sites.values().map(|s| s.grants.len()).sum();
            let targets: usize = c.sites.values().map(|s| s.targets.len()).sum();
            use crate::render::count;
            let google = if targets > 0 {
                format!(", {}", count(targets, "GA4/GTM target", "GA4/GTM targets"))
            } else {
                String::new()
            };
            let rules = c.policies.rules.len();
            let policies = if rules > 0 {
                format!(", {}", count(rules, "policy rule", "policy rules"))
            } else {
                String::new()
            };
            println!(
                "{} is valid: {}, {}, {}, {}{google}{policies}",
                path.display(),
                count(c.people.len(), "person", "people"),
                count(c.teams.len(), "team", "teams"),
                count(c.sites.len(), "site", "sites"),
                count(grants, "grant", "grants")
            );
            Exit::Ok
        }
        None => Exit::Error,
    }
}
