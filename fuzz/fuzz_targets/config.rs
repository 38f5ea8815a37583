//! Config loading must never panic, hang or blow up, whatever the bytes:
//! every input ends as a validated config or a report of located errors.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::path::Path::new("fuzz.yaml");
    if let Err(report) = accessctl::config::load_str(path, data) {
        // Rendering reads the positions back against the source.
        let _ = report.render();
    }
});
