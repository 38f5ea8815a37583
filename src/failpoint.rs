//! Named failpoints, for tests only: `ACCESSCTL_FAILPOINT` lists the points
//! that fire in this process, comma-separated (`apply-site-panic:shop`).
//!
//! The variable is read once, on the first check. Unset (as it is outside
//! tests) nothing fires and a check costs one atomic load. The points are
//! for faults a test cannot cause from outside the process, like a panic in
//! a site's task or a crash at an exact step; every point is named where it
//! is checked and listed here:
//!
//! - `apply-site-panic:SITE` — the apply task of site `SITE` panics after
//!   its first change is reported (see `apply`).
//! - `after-intent-save` — [`crash`]: the process aborts after a Bulk
//!   Invite's emails were saved to the ledger as `unknown`, before the call
//!   is sent (see `providers::wix::provider`).
//! - `after-invite-call` — [`crash`]: the process aborts after a Bulk
//!   Invite returned (whatever it answered), before its answer is saved.
//! - `after-target-record` — [`crash`]: the process aborts after a GA4 or
//!   GTM call's outcomes were recorded in the site's ledger, before the
//!   next call (see `apply::targets`).
//! - `mid-ledger-write` — [`crash`]: the process aborts inside a ledger
//!   write once about half the file's bytes are written and synced, at
//!   whatever path the bytes are being written to (see `ledger`), so a
//!   write that is not atomic is caught half-done.
//!
//! A crash point calls [`std::process::abort`]: no destructor runs, no
//! buffer is flushed, no lock is released but by the kernel — as when the
//! process is killed. Each fires at its first pass in the process.

use std::collections::BTreeSet;
use std::sync::OnceLock;

/// The environment variable naming the failpoints that fire.
pub const FAILPOINT_ENV: &str = "ACCESSCTL_FAILPOINT";

/// Whether the failpoint `name` is set to fire in this process.
pub fn failpoint(name: &str) -> bool {
    static ACTIVE: OnceLock<BTreeSet<String>> = OnceLock::new();
    ACTIVE
        .get_or_init(|| parse(std::env::var(FAILPOINT_ENV).ok().as_deref()))
        .contains(name)
}

/// Abort the process, as a crash would, if the failpoint `name` is set.
pub fn crash(name: &str) {
    if failpoint(name) {
        // Unbuffered, so the test's log shows where it stopped.
        eprintln!("failpoint {name}: aborting");
        std::process::abort();
    }
}

fn parse(value: Option<&str>) -> BTreeSet<String> {
    value
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_comma_separated_list() {
        assert!(parse(None).is_empty());
        assert!(parse(Some(" , ")).is_empty());
        let set = parse(Some("apply-site-panic:a, apply-site-panic:b"));
        assert!(set.contains("apply-site-panic:a") && set.contains("apply-site-panic:b"));
        assert_eq!(set.len(), 2);
    }
}
