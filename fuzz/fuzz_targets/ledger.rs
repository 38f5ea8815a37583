//! Ledger parsing must never panic, whatever a hand edit or a merge left in
//! the file, and a ledger that parses must read back the same once written.
//!
//! The site and site id the parser must find are read from the input itself
//! (its top-level `site:` and `site_id:` lines), so a valid ledger from the
//! seed corpus (`fuzz/seeds/ledger/`) decodes, and mutations explore its
//! records rather than stopping at the site check.

#![no_main]

use libfuzzer_sys::fuzz_target;

/// The plain value of the top-level `key:` line, quotes removed.
fn top_level<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(key)?.strip_prefix(':')?.trim();
        Some(value.trim_matches(|c| c == '"' || c == '\''))
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let site = top_level(&text, "site").unwrap_or("shop");
    let site_id = top_level(&text, "site_id").unwrap_or("site-1");
    let path = std::path::Path::new("shop.yaml");
    match accessctl::ledger::parse(path, data, site, site_id) {
        Err(report) => {
            let _ = report.render();
        }
        Ok(ledger) => {
            // What `apply` would write back (unsigned: no key here).
            let written = accessctl::ledger::to_yaml(&ledger, &accessctl::ledger::Auth::Off)
                .expect("a parsed ledger can be written");
            let again = accessctl::ledger::parse(path, written.as_bytes(), site, site_id)
                .unwrap_or_else(|r| {
                    panic!(
                        "the written ledger does not parse:\n{}\n{written}",
                        r.render()
                    )
                });
            assert_eq!(again, ledger, "{written}");
        }
    }
});
