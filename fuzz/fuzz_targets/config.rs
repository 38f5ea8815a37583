//! Config loading must never panic, hang or blow up, whatever the bytes:
//! every input ends as a validated config or a report of located errors.
//! And it ends the same way when the text is cut into runs of sites, the
//! path a config takes from 512 KiB on: here every input takes it (split
//! size 0), so inputs of a few KiB exercise it.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::path::Path::new("fuzz.yaml");
    let one = accessctl::config::load_str(path, data);
    let split = accessctl::config::load_str_split_from(path, data, 0);
    if let Err(report) = &one {
        // Rendering reads the positions back against the source.
        let _ = report.render();
    }
    assert_eq!(
        format!("{one:?}"),
        format!("{split:?}"),
        "runs of sites read differently"
    );
});
