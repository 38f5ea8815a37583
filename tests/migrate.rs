//! `accessctl migrate` through the binary: a version-1 file is upgraded in
//! place (its `version:` line alone), and, as an attacker would try, the
//! file it reads and the file it writes are the config's own: a config that
//! leads out of its directory or is too large is refused before anything is
//! written, and a link planted beside the config is never written through.

mod common;

use std::fs;
use std::os::unix::fs::{PermissionsExt as _, symlink};
use std::path::Path;

use common::{accessctl, stderr, stdout};

const VERSION_1: &str = "# the agency's access\nversion: 1  # format\npeople:\n  alice: { email: alice@agency.example }\nsites: {}\n";

fn migrate(dir: &Path, config: &str) -> std::process::Output {
    accessctl()
        .current_dir(dir)
        .args(["--config", config, "migrate"])
        .output()
        .expect("runs")
}

/// `migrate` refused: exit 1, every one of `says` on stderr, and a hint.
fn assert_refused(out: &std::process::Output, says: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    for said in says {
        assert!(err.contains(said), "{said:?} in:\n{err}");
    }
    assert!(err.contains("hint:"), "{err}");
}

#[test]
fn a_version_one_file_is_upgraded_in_place_keeping_its_permissions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("access.yaml");
    fs::write(&config, VERSION_1).expect("write");
    fs::set_permissions(&config, fs::Permissions::from_mode(0o640)).expect("chmod");
    let out = migrate(dir.path(), "access.yaml");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("upgraded from version 1 to 2"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        fs::read_to_string(&config).expect("read"),
        VERSION_1.replace("version: 1", "version: 2"),
        "only the version line changes"
    );
    let mode = fs::metadata(&config).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o640, "permissions kept");
    // Nothing left beside it.
    let names: Vec<String> = fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["access.yaml"]);
    // A second run has nothing to do.
    let again = migrate(dir.path(), "access.yaml");
    assert_eq!(again.status.code(), Some(0));
    assert!(
        stdout(&again).contains("already version 2"),
        "{}",
        stdout(&again)
    );
}

#[test]
fn a_link_planted_beside_the_config_is_never_written_through() {
    let dir = tempfile::tempdir().expect("temp dir");
    let outside = tempfile::tempdir().expect("temp dir");
    let precious = outside.path().join("precious");
    fs::write(&precious, "precious").expect("write");
    fs::write(dir.path().join("access.yaml"), VERSION_1).expect("write");
    // Where migrate once wrote its temp file, a committed link to a file
    // outside the repository.
    symlink(&precious, dir.path().join("access.migrate.tmp")).expect("link");
    let out = migrate(dir.path(), "access.yaml");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(fs::read_to_string(&precious).expect("read"), "precious");
    assert!(
        fs::read_to_string(dir.path().join("access.yaml"))
            .expect("read")
            .contains("version: 2")
    );
}

#[test]
fn a_file_that_is_not_utf8_is_refused_byte_for_byte_unchanged() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("access.yaml");
    let mut bytes = VERSION_1.as_bytes().to_vec();
    bytes.extend_from_slice(b"# caf\xe9 in Latin-1\n");
    fs::write(&config, &bytes).expect("write");
    let out = migrate(dir.path(), "access.yaml");
    assert_refused(
        &out,
        &[
            "error: the file is not valid UTF-8\n  --> access.yaml:6:6",
            "hint: save the file as UTF-8",
        ],
    );
    assert_eq!(fs::read(&config).expect("read"), bytes, "left as it was");
}

#[test]
fn a_config_leading_out_or_too_large_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().expect("temp dir");
    let outside = tempfile::tempdir().expect("temp dir");
    let theirs = outside.path().join("theirs.yaml");
    fs::write(&theirs, VERSION_1).expect("write");
    symlink(&theirs, dir.path().join("access.yaml")).expect("link");
    let out = migrate(dir.path(), "access.yaml");
    assert_refused(&out, &["resolves outside its own directory"]);
    assert_eq!(fs::read_to_string(&theirs).expect("read"), VERSION_1);

    // 17 MiB of a version-1 file: refused by its size, before it is read
    // whole, and left as it was.
    let big = dir.path().join("big.yaml");
    let mut text = VERSION_1.to_string();
    text.push_str(&format!("# {}\n", "x".repeat(17 * 1024 * 1024)));
    fs::write(&big, &text).expect("write");
    let out = migrate(dir.path(), "big.yaml");
    assert_refused(&out, &["too large"]);
    assert_eq!(fs::metadata(&big).expect("meta").len(), text.len() as u64);
    assert!(
        fs::read_to_string(&big)
            .expect("read")
            .starts_with("# the agency's access\nversion: 1")
    );
}
