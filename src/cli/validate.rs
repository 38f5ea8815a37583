//! `accessctl validate`: check the config without touching the network.

use std::path::Path;

use super::{Exit, load_config};

pub fn run(path: &Path) -> Exit {
    match load_config(path) {
        Some(loaded) => {
            let c = &loaded.config;
            let grants: usize = c.sites.values().map(|s| s.grants.len()).sum();
            println!(
                "{} is valid: {} people, {} teams, {} sites, {} grants",
                path.display(),
                c.people.len(),
                c.teams.len(),
                c.sites.len(),
                grants
            );
            Exit::Ok
        }
        None => Exit::Error,
    }
}
