//! `accessctl migrate`: upgrade a config file to the current format
//! version in place. Version 2 reads every version-1 document unchanged, so
//! the upgrade rewrites the `version:` line and nothing else: comments,
//! order and formatting stay as they are.

use std::path::Path;

use super::{Exit, load_config, print_report};

/// The config format version this accessctl reads.
pub const CURRENT: u32 = 2;

pub fn run(path: &Path) -> Exit {
    // Read as every command reads the config: inside its directory, capped.
    let text = match crate::config::read_text(path) {
        Ok(text) => text,
        Err(report) => {
            print_report(&report);
            return Exit::Error;
        }
    };
    match upgrade(&text) {
        Upgrade::Current => {
            println!(
                "{} is already version {CURRENT}; nothing to do",
                path.display()
            );
            Exit::Ok
        }
        Upgrade::Unknown => {
            eprintln!(
                "error: {}: no top-level `version: 1` line to upgrade",
                path.display()
            );
            eprintln!(
                "  = hint: `migrate` rewrites a plain `version: 1` line; edit the version by hand to `{CURRENT}` \
                 (nothing else in a version-1 file needs to change), then run `accessctl validate`"
            );
            Exit::Error
        }
        Upgrade::Rewritten(new) => {
            // Through a new temp file beside it (never a name a link could
            // be planted at), keeping the file's permissions.
            let permissions = std::fs::metadata(path).map(|m| m.permissions());
            let written = super::plan::save_atomically(path, |file| {
                if let Ok(permissions) = permissions {
                    file.set_permissions(permissions)?;
                }
                std::io::Write::write_all(file, new.as_bytes())
            });
            if let Err(e) = written {
                eprintln!("error: cannot write {}: {e}", path.display());
                return Exit::Error;
            }
            println!(
                "{}: upgraded from version 1 to {CURRENT} (only the `version:` line changed)",
                path.display()
            );
            match load_config(path) {
                Some(_) => Exit::Ok,
                None => Exit::Error,
            }
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Upgrade {
    Current,
    Unknown,
    Rewritten(String),
}

/// The text with its top-level `version: 1` line set to the current
/// version, keeping any comment on the line and the line ending.
fn upgrade(text: &str) -> Upgrade {
    let mut out = String::with_capacity(text.len());
    let mut found = None;
    for line in text.split_inclusive('\n') {
        if found.is_none()
            && let Some(rest) = line.strip_prefix("version:")
        {
            let value = rest.split('#').next().unwrap_or_default().trim();
            found = Some(value.to_string());
            if value == "1" {
                out.push_str(&line.replacen('1', &CURRENT.to_string(), 1));
                continue;
            }
        }
        out.push_str(line);
    }
    match found.as_deref() {
        Some("1") => Upgrade::Rewritten(out),
        Some(v) if v == CURRENT.to_string() => Upgrade::Current,
        _ => Upgrade::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_version_line_changes() {
        let text = "# agency\nversion: 1   # format\r\npeople: {}\n# version: 1 in a comment\n";
        let Upgrade::Rewritten(new) = upgrade(text) else {
            panic!("not rewritten")
        };
        assert_eq!(
            new,
            "# agency\nversion: 2   # format\r\npeople: {}\n# version: 1 in a comment\n"
        );
    }

    #[test]
    fn current_and_unknown_versions_are_left_alone() {
        assert_eq!(upgrade("version: 2\n"), Upgrade::Current);
        assert_eq!(upgrade("{version: 1}\n"), Upgrade::Unknown);
        assert_eq!(upgrade("version: 7\n"), Upgrade::Unknown);
        assert_eq!(upgrade("people: {}\n"), Upgrade::Unknown);
    }
}
