//! Named failpoints, for tests only: `ACCESSCTL_FAILPOINT` lists the points
//! that fire in this process, comma-separated (`apply-site-panic:shop`).
//!
//! The variable is read once, on the first check. Unset (as it is outside
//! tests) nothing fires and a check costs one atomic load. The points are
//! for faults a test cannot cause from outside the process, like a panic in
//! a site's task; every point is named where it is checked and listed here:
//!
//! - `apply-site-panic:SITE` — the apply task of site `SITE` panics after
//!   its first change is reported (see `apply`).

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
