//! Ledger parsing must never panic, whatever a hand edit or a merge left in
//! the file.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::path::Path::new("shop.yaml");
    if let Err(report) = accessctl::ledger::parse(path, data, "shop", "site-1") {
        let _ = report.render();
    }
});
