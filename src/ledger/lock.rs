//! One writer at a time: an exclusive lock on the ledger directory.
//!
//! Two applies on one ledger would both send every Bulk Invite and leave the
//! ledger pointing at invites Wix replaced. Every command that writes the
//! ledger (`apply`, `invite-status`, `request done`/`resend`, `import`)
//! holds this lock from before it reads the ledger until it has written it.
//!
//! The lock is an OS file lock (`flock`) on `.accessctl.lock` in the ledger
//! directory, so it is released when the process ends however it ends, even
//! on `kill -9`: there is no stale lock to clear on a local disk. The file
//! names its holder (host, pid, start time, command) for the refusal the
//! next process prints; it is removed on release. Taking the lock also
//! removes the ledger temp files a writer killed mid-save left behind
//! (`.SITE.yaml.tmp-` and random letters): the ledger itself is whole either way, since it
//! is replaced only by a rename. On a filesystem without
//! working locks (some network mounts) the lock cannot protect anything;
//! CI's concurrency group is the other half of the guarantee (README,
//! "Security model").

use std::fs::{self, File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

/// The lock file's name inside the ledger directory.
pub const LOCK_FILE: &str = ".accessctl.lock";

/// Held while the ledger directory is locked; released (and its file
/// removed) when dropped.
#[derive(Debug)]
pub struct Lock {
    file: Option<File>,
    path: PathBuf,
}

/// Why the lock was not taken.
#[derive(Debug)]
pub enum LockError {
    /// Another process holds it; its own description of itself, if any.
    Held { path: PathBuf, holder: String },
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
}

impl std::fmt::Display for LockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockError::Held { path, holder } => write!(
                f,
                "the ledger is locked by another accessctl process ({holder}): {}",
                path.display()
            ),
            LockError::Io { path, error } => {
                write!(f, "cannot lock the ledger {}: {error}", path.display())
            }
        }
    }
}

impl LockError {
    pub fn hint(&self) -> &'static str {
        match self {
            LockError::Held { .. } => {
                "wait for it to finish and run the command again; the lock is released when that process ends, even if it is killed (only on a network filesystem without locks can it outlive it: then delete the file)"
            }
            LockError::Io { .. } => {
                "the ledger directory must be writable by this user, and `.accessctl.lock` in it a plain file"
            }
        }
    }
}

/// Takes the lock on `dir` (created if missing) for `command`, or says who
/// holds it. Never waits.
pub fn acquire(dir: &Path, command: &str) -> Result<Lock, LockError> {
    let path = dir.join(LOCK_FILE);
    let io = |error| LockError::Io {
        path: path.clone(),
        error,
    };
    fs::create_dir_all(dir).map_err(io)?;
    // A holder removes the file before unlocking it; whoever locked the old
    // file meanwhile sees that the name now points elsewhere and tries
    // again, so two processes never both hold "the" lock.
    for _ in 0..8 {
        if fs::symlink_metadata(&path).is_ok_and(|m| !m.is_file()) {
            return Err(io(std::io::Error::other(
                "the lock file is not a plain file",
            )));
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = std::io::Read::by_ref(&mut file)
                    .take(1024)
                    .read_to_string(&mut holder);
                let holder = holder.trim();
                let holder = if holder.is_empty() {
                    "it has not said who it is yet".to_string()
                } else {
                    // Shown on a terminal: no control characters from the file.
                    holder
                        .chars()
                        .map(|c| if c.is_control() { ' ' } else { c })
                        .collect()
                };
                return Err(LockError::Held { path, holder });
            }
            Err(fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        if !same_file(&file, &path) {
            continue;
        }
        // Who holds it, for the next process's refusal: best effort, the
        // lock itself is the `flock` (a full disk must not stop an apply
        // that can still write its ledger).
        let started = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let _ = file.set_len(0).and_then(|()| {
            writeln!(
                file,
                "host {}, pid {}, started {started}, `accessctl {command}`",
                hostname(),
                std::process::id()
            )
        });
        // Whoever wrote a temp file here died before renaming it (only
        // the lock's holder writes): clear it before it can be committed.
        super::remove_stale_temp_files(dir);
        return Ok(Lock {
            file: Some(file),
            path,
        });
    }
    Err(io(std::io::Error::other(
        "the lock file kept being replaced",
    )))
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Remove the name first, then unlock by closing.
        let _ = fs::remove_file(&self.path);
        drop(self.file.take());
    }
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    match (file.metadata(), fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &File, path: &Path) -> bool {
    path.exists()
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .or_else(|| fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown host".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_the_holder_and_freed_on_drop() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = acquire(dir.path(), "apply").expect("first lock");
        let err = acquire(dir.path(), "apply").expect_err("second lock must fail");
        let text = err.to_string();
        assert!(
            text.contains(&format!("pid {}", std::process::id()))
                && text.contains("accessctl apply"),
            "{text}"
        );
        drop(first);
        assert!(
            !dir.path().join(LOCK_FILE).exists(),
            "the lock file is removed"
        );
        let again = acquire(dir.path(), "apply").expect("free again");
        drop(again);
    }

    #[test]
    fn taking_the_lock_removes_temp_files_of_a_killed_writer_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in [
            ".acme.yaml.tmp-4242",
            ".acme.yaml.tmp-Ab3dE6gH9j",
            "acme.yaml",
            ".acme.yaml.tmp-x",
            "notes.tmp-1",
        ] {
            fs::write(dir.path().join(name), "x").expect("write");
        }
        let lock = acquire(dir.path(), "apply").expect("lock");
        let mut left: Vec<String> = fs::read_dir(dir.path())
            .expect("dir")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n != LOCK_FILE)
            .collect();
        left.sort();
        assert_eq!(left, [".acme.yaml.tmp-x", "acme.yaml", "notes.tmp-1"]);
        drop(lock);
    }

    /// An attacker's pull request commits symlinks at the names of the
    /// temp files `save` writes through, pointing outside the repository:
    /// the lock removes the links before any save, and their target is
    /// untouched.
    #[cfg(unix)]
    #[test]
    fn taking_the_lock_removes_temp_file_symlinks_a_pull_request_planted() {
        let outside = tempfile::tempdir().expect("tempdir");
        let target = outside.path().join("bashrc");
        fs::write(&target, "precious").expect("write");
        let dir = tempfile::tempdir().expect("tempdir");
        let planted = dir
            .path()
            .join(format!(".acme.yaml.tmp-{}", std::process::id()));
        std::os::unix::fs::symlink(&target, &planted).expect("symlink");
        let lock = acquire(dir.path(), "apply").expect("lock");
        assert!(fs::symlink_metadata(&planted).is_err(), "the link is gone");
        let mut ledger = super::super::SiteLedger::new("acme", "site-1");
        ledger.mark_granted("acct-1");
        super::super::save(dir.path(), &ledger, &super::super::Auth::Off).expect("saves");
        assert_eq!(fs::read_to_string(&target).expect("read"), "precious");
        drop(lock);
    }

    #[test]
    fn a_leftover_lock_file_of_a_dead_process_does_not_block() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join(LOCK_FILE), "host x, pid 1, started then").expect("write");
        let lock = acquire(dir.path(), "apply").expect("a file nobody locks is free");
        drop(lock);
    }
}
