//! Files a config names stay inside the config's directory tree.
//!
//! The config, the message template it names and the ledger directory are
//! all changed by pull requests, and `plan` runs on every pull request with
//! the job's secrets in its environment. So a path written in the config is
//! relative, never leaves the directory the config is in (no `..` out of it,
//! no symlink leading out), names a regular file (not `/dev/zero`, a FIFO or
//! a directory) and is read with a size cap. This module decides that and
//! nothing else: callers turn its refusals into located diagnostics.

use std::fs;
use std::io::Read as _;
use std::path::{Component, Path, PathBuf};

/// A message template may be at most this large.
pub const TEMPLATE_CAP: u64 = 64 * 1024;

/// A ledger file may be at most this large (a site's ledger with thousands
/// of invites is well under a megabyte).
pub const LEDGER_CAP: u64 = 32 * 1024 * 1024;

/// Why a path named by the config is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Absolute, or with a drive or root.
    Absolute,
    /// Its `..` components climb out of the config's directory.
    Climbs,
    /// A component is hidden (`.git`, `.env`): where checkouts keep
    /// credentials, never where a template or ledger belongs.
    Hidden,
    /// It resolves (through a symlink) outside the config's directory.
    LeadsOut,
    /// It is a symlink where a plain file is wanted.
    Symlink,
    /// Not a regular file (a device, FIFO, socket or directory).
    NotRegular,
    /// Larger than the cap.
    TooLarge(u64),
    /// It does not exist.
    Missing,
    /// Any other I/O error, lower-cased.
    Io(String),
}

/// "larger than N MiB" (KiB, or bytes, when not a whole number of MiB):
/// the size limit of a file or an answer, as messages state it.
pub fn larger_than(cap: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if cap.is_multiple_of(MIB) {
        format!("larger than {} MiB", cap / MIB)
    } else if cap.is_multiple_of(1024) {
        format!("larger than {} KiB", cap / 1024)
    } else {
        format!("larger than {cap} bytes")
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Absolute => f.write_str("is an absolute path"),
            Refusal::Climbs => f.write_str("leads out of the config's directory (`..`)"),
            Refusal::Hidden => {
                f.write_str("is or is inside a hidden file or directory (`.git`, `.env`, …)")
            }
            Refusal::LeadsOut => {
                f.write_str("resolves outside the config's directory (through a symlink)")
            }
            Refusal::Symlink => f.write_str("is a symlink"),
            Refusal::NotRegular => f.write_str("is not a regular file"),
            Refusal::TooLarge(cap) => write!(f, "is larger than {} KiB", cap / 1024),
            Refusal::Missing => f.write_str("does not exist"),
            Refusal::Io(e) => f.write_str(e),
        }
    }
}

impl Refusal {
    /// What to do about it, for a `hint:` line.
    pub fn hint(&self) -> &'static str {
        match self {
            Refusal::Hidden => {
                "keep templates and ledgers in plain (not dot-named) files and directories"
            }
            Refusal::Absolute | Refusal::Climbs | Refusal::LeadsOut => {
                "paths in the config are relative to the config file and stay inside its directory; move the file there"
            }
            Refusal::Symlink | Refusal::NotRegular => {
                "replace it with a plain file inside the config's directory"
            }
            Refusal::TooLarge(_) => "shorten the file",
            Refusal::Missing | Refusal::Io(_) => "the path is relative to the config file",
        }
    }
}

/// The directory holding `config_file` (`.` for a bare file name).
pub fn base_of(config_file: &Path) -> &Path {
    match config_file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// `written` joined to `base`, refused when it is absolute, its `..`
/// components climb out of `base`, or a component is hidden (`.git/config`
/// and `.env` are inside the tree but hold the checkout's credentials).
/// Purely lexical: symlinks are checked by [`check_inside`] once the path
/// exists.
pub fn join(base: &Path, written: &str) -> Result<PathBuf, Refusal> {
    let relative = Path::new(written);
    let mut depth = 0usize;
    for component in relative.components() {
        match component {
            Component::Prefix(_) | Component::RootDir => return Err(Refusal::Absolute),
            Component::ParentDir => {
                depth = depth.checked_sub(1).ok_or(Refusal::Climbs)?;
            }
            Component::Normal(name) => {
                if name.to_string_lossy().starts_with('.') {
                    return Err(Refusal::Hidden);
                }
                depth += 1;
            }
            Component::CurDir => {}
        }
    }
    Ok(base.join(relative))
}

/// Refuses `path` when it, or the nearest ancestor of it that exists,
/// resolves outside `base` (a symlink leading out). A path that does not
/// exist yet is fine as long as where it would be created is inside.
pub fn check_inside(base: &Path, path: &Path) -> Result<(), Refusal> {
    let root = fs::canonicalize(base).map_err(io)?;
    let mut probe = path;
    let resolved = loop {
        match fs::canonicalize(probe) {
            Ok(p) => break p,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => match probe.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => probe = parent,
                _ => return Ok(()),
            },
            Err(e) => return Err(io(e)),
        }
    };
    let Ok(inside) = resolved.strip_prefix(&root) else {
        return Err(Refusal::LeadsOut);
    };
    // A symlink inside may still lead into `.git` or to `.env`.
    if inside
        .components()
        .any(|c| c.as_os_str().to_string_lossy().starts_with('.'))
    {
        return Err(Refusal::Hidden);
    }
    Ok(())
}

/// Reads a file the config names: inside `base` (symlinks included),
/// a regular file, at most `cap` bytes. Reading stops at `cap + 1` bytes,
/// so even a file that grows while read cannot exhaust memory.
pub fn read(base: &Path, written: &str, cap: u64) -> Result<Vec<u8>, Refusal> {
    let path = join(base, written)?;
    match fs::symlink_metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Refusal::Missing),
        Err(e) => return Err(io(e)),
        Ok(_) => {}
    }
    check_inside(base, &path)?;
    read_regular(&path, FollowLinks::Yes, cap)
}

/// Whether [`read_regular`] accepts a symlink as the file itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowLinks {
    /// Read through a symlink (its target was checked to be inside).
    Yes,
    /// Refuse a symlink outright (ledger files: only accessctl writes them).
    No,
}

/// Reads a regular file of at most `cap` bytes; `Missing` when absent.
pub fn read_regular(path: &Path, follow: FollowLinks, cap: u64) -> Result<Vec<u8>, Refusal> {
    let (file, len) = open_regular(path, follow)?;
    if len > cap {
        return Err(Refusal::TooLarge(cap));
    }
    let bytes = read_up_to(file, len, cap + 1)?;
    if bytes.len() as u64 > cap {
        return Err(Refusal::TooLarge(cap));
    }
    Ok(bytes)
}

/// The regular file at `path`, of at most `cap` bytes, to be read as a
/// stream under the checks of [`read_regular`]; reading stops at `cap`
/// bytes even if the file grows meanwhile (a reader then sees it end early).
pub fn open_capped(
    path: &Path,
    follow: FollowLinks,
    cap: u64,
) -> Result<std::io::Take<fs::File>, Refusal> {
    let (file, len) = open_regular(path, follow)?;
    if len > cap {
        return Err(Refusal::TooLarge(cap));
    }
    Ok(file.take(cap))
}

/// The first `limit` bytes of the regular file at `path` (the whole file
/// when it is shorter) and the file's length, under the checks of
/// [`read_regular`]: for a reader that says itself where a file passes its
/// limit (the config).
pub fn read_head(path: &Path, follow: FollowLinks, limit: u64) -> Result<(Vec<u8>, u64), Refusal> {
    let (file, len) = open_regular(path, follow)?;
    Ok((read_up_to(file, len, limit)?, len))
}

fn open_regular(path: &Path, follow: FollowLinks) -> Result<(fs::File, u64), Refusal> {
    let link = fs::symlink_metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Refusal::Missing,
        _ => io(e),
    })?;
    if link.file_type().is_symlink() && follow == FollowLinks::No {
        return Err(Refusal::Symlink);
    }
    // Checked before opening too: opening a FIFO for reading would block.
    if !fs::metadata(path).map_err(io)?.is_file() {
        return Err(Refusal::NotRegular);
    }
    let file = fs::File::open(path).map_err(io)?;
    // The metadata of what was opened, not of the name: a swap between the
    // check and the open cannot slip a device in.
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(Refusal::NotRegular);
    }
    Ok((file, meta.len()))
}

/// At most `limit` bytes of `file` (of length `len` when opened): a file
/// that grows while read cannot exhaust memory.
fn read_up_to(file: fs::File, len: u64, limit: u64) -> Result<Vec<u8>, Refusal> {
    let mut bytes = Vec::with_capacity(usize::try_from(len.min(limit)).unwrap_or(0));
    file.take(limit).read_to_end(&mut bytes).map_err(io)?;
    Ok(bytes)
}

fn io(e: std::io::Error) -> Refusal {
    Refusal::Io(e.to_string().to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_refuses_absolute_and_climbing_paths() {
        let base = Path::new("repo");
        assert_eq!(join(base, "/etc/passwd"), Err(Refusal::Absolute));
        assert_eq!(join(base, "../secret"), Err(Refusal::Climbs));
        assert_eq!(join(base, "a/../../secret"), Err(Refusal::Climbs));
        assert_eq!(
            join(base, "a/../b.txt"),
            Ok(PathBuf::from("repo/a/../b.txt"))
        );
        assert_eq!(join(base, "./t.txt"), Ok(PathBuf::from("repo/./t.txt")));
        assert_eq!(join(base, ".git/config"), Err(Refusal::Hidden));
        assert_eq!(join(base, "a/.env"), Err(Refusal::Hidden));
    }

    #[cfg(unix)]
    #[test]
    fn read_refuses_symlinks_out_devices_and_large_files() {
        let outside = tempfile::tempdir().expect("tempdir");
        let secret = outside.path().join("secret");
        fs::write(&secret, "TOKEN=abc").expect("write");
        let repo = tempfile::tempdir().expect("tempdir");
        std::os::unix::fs::symlink(&secret, repo.path().join("link")).expect("symlink");
        std::os::unix::fs::symlink("/dev/zero", repo.path().join("zero")).expect("symlink");
        fs::write(repo.path().join("big"), vec![b'a'; 2048]).expect("write");
        fs::write(repo.path().join("ok"), "hello").expect("write");
        fs::create_dir(repo.path().join("dir")).expect("mkdir");
        std::os::unix::fs::symlink("ok", repo.path().join("inner")).expect("symlink");
        fs::create_dir(repo.path().join(".git")).expect("mkdir");
        fs::write(repo.path().join(".git/config"), "token").expect("write");
        std::os::unix::fs::symlink(".git/config", repo.path().join("sneaky")).expect("symlink");

        assert_eq!(read(repo.path(), "link", 1024), Err(Refusal::LeadsOut));
        assert_eq!(read(repo.path(), "zero", 1024), Err(Refusal::LeadsOut));
        assert_eq!(read(repo.path(), "big", 1024), Err(Refusal::TooLarge(1024)));
        assert_eq!(read(repo.path(), "dir", 1024), Err(Refusal::NotRegular));
        assert_eq!(read(repo.path(), "gone", 1024), Err(Refusal::Missing));
        assert_eq!(read(repo.path(), "ok", 1024), Ok(b"hello".to_vec()));
        assert_eq!(read(repo.path(), "inner", 1024), Ok(b"hello".to_vec()));
        assert_eq!(read(repo.path(), "sneaky", 1024), Err(Refusal::Hidden));
        assert_eq!(
            read_regular(&repo.path().join("inner"), FollowLinks::No, 1024),
            Err(Refusal::Symlink)
        );
    }

    #[cfg(unix)]
    #[test]
    fn check_inside_follows_the_nearest_existing_ancestor() {
        let outside = tempfile::tempdir().expect("tempdir");
        let repo = tempfile::tempdir().expect("tempdir");
        std::os::unix::fs::symlink(outside.path(), repo.path().join("out")).expect("symlink");
        assert_eq!(
            check_inside(repo.path(), &repo.path().join("out/ledger")),
            Err(Refusal::LeadsOut)
        );
        assert_eq!(
            check_inside(repo.path(), &repo.path().join("new/ledger")),
            Ok(())
        );
    }
}
