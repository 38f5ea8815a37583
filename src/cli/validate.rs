//! `accessctl validate`: check the config without touching the network.

use std::path::Path;

use super::{Exit, load_config};

pub fn run(path: &Path) -> Exit {
    match load_config(path) {
        Some(loaded) => {
            let c = &loaded.config;
            let grants: usize = c.sites.values().map(|s| s.grants.len()).sum();
            use crate::render::count;
            println!(
                "{} is valid: {}, {}, {}, {}",
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
