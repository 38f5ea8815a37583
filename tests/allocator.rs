//! `main.rs` sets mimalloc's purge delay by its number in mimalloc.h's
//! `mi_option_e` (the Rust bindings name no such constant). The number is
//! checked here against the header of the libmimalloc-sys that Cargo.lock
//! pins, so an upgrade that moves the option fails this test rather than
//! setting some other option.

use std::path::PathBuf;

/// The header the build compiles: libmimalloc-sys builds mimalloc v3
/// unless its `v2` feature is on, which this package does not turn on.
fn mimalloc_header() -> String {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let manifest = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["name"] == "libmimalloc-sys")
        .and_then(|p| p["manifest_path"].as_str())
        .expect("libmimalloc-sys is a dependency");
    let dir = PathBuf::from(manifest)
        .parent()
        .expect("its directory")
        .to_path_buf();
    std::fs::read_to_string(dir.join("c_src/mimalloc/v3/include/mimalloc.h")).expect("mimalloc.h")
}

/// Each enumerator of `mi_option_e` numbered as C numbers it (none before
/// `_mi_option_last` is given a value; aliases after it are).
fn options(header: &str) -> Vec<String> {
    let body = header
        .split("typedef enum mi_option_e {")
        .nth(1)
        .and_then(|rest| rest.split('}').next())
        .expect("the mi_option_e enum");
    body.lines()
        .map(|line| line.split("//").next().unwrap_or_default().trim())
        .filter(|line| !line.is_empty())
        .map_while(|line| {
            let name = line.trim_end_matches(',').trim();
            (!name.contains('=')).then(|| name.to_string())
        })
        .collect()
}

#[test]
fn the_option_main_sets_is_mimallocs_purge_delay() {
    let main = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/main.rs"))
        .expect("main.rs");
    let set: usize = main
        .split("const PURGE_DELAY: c_int = ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .and_then(|n| n.trim().parse().ok())
        .expect("main.rs names PURGE_DELAY");
    let options = options(&mimalloc_header());
    assert_eq!(
        options.first().map(String::as_str),
        Some("mi_option_show_errors")
    );
    assert_eq!(
        options.get(set).map(String::as_str),
        Some("mi_option_purge_delay"),
        "option {set} of {options:?}"
    );
}
