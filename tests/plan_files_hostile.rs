//! Plan files written by someone else: `plan merge FILE...` reads the shard
//! plans of other jobs, `apply FILE` a saved plan. Each is hostile input:
//! not JSON, cut short, a string holding terminal escapes that serde_json
//! quotes in its error (an unknown `action`), a file far larger than any
//! plan, a directory, a FIFO, a device. Each is a clear, located error with
//! a hint; no raw ESC byte reaches stdout or stderr; nothing hangs and
//! nothing large is read into memory.

mod common;

use std::path::Path;

use common::{Harness, stderr, stdout};

const SEED: &str = r#"
accounts:
  - { id: acc-a, api_keys: [key-a] }
sites:
  - { id: site-01, account: acc-a }
  - { id: site-02, account: acc-a }
"#;

const CONFIG: &str = r#"
version: 2
people:
  alice: { email: alice@agency.example }
sites:
  s01:
    wix: { site_id: site-01, account_id: acc-a, api_key_env: KEY_A }
    access:
      - person: alice
        role: Website Manager
  s02:
    wix: { site_id: site-02, account_id: acc-a, api_key_env: KEY_A }
    access:
      - person: alice
        role: Blog Editor
"#;

fn harness() -> Harness {
    Harness::new(SEED, CONFIG, &[("KEY_A", "key-a")])
}

/// What a hostile plan file does to `plan merge` and to `apply`: the exit,
/// stderr, and that no ESC byte reached either stream.
fn read_by_both(h: &Harness, file: &Path, what: &str) -> [(String, &'static str); 2] {
    let name = file.to_str().expect("utf-8");
    let merge = h.cmd(&["plan", "merge", name]).output().expect("runs");
    let apply = h
        .cmd(&["apply", name, "--auto-approve"])
        .output()
        .expect("runs");
    let mut errs = Vec::new();
    for (out, command) in [(merge, "plan merge"), (apply, "apply")] {
        assert_eq!(
            out.status.code(),
            Some(1),
            "{what}, {command}: {}\n{}",
            stdout(&out),
            stderr(&out)
        );
        assert!(
            !out.stdout.contains(&0x1b) && !out.stderr.contains(&0x1b),
            "{what}, {command}: a raw ESC byte reached the output:\n{}",
            stderr(&out)
        );
        let err = stderr(&out);
        assert!(!err.contains("panicked"), "{what}, {command}: {err}");
        assert!(err.contains("hint: "), "{what}, {command}: {err}");
        errs.push((err, command));
    }
    let mut errs = errs.into_iter();
    [errs.next().expect("merge"), errs.next().expect("apply")]
}

#[test]
fn hostile_plan_files_are_located_escaped_errors() {
    let h = harness();
    let dir = h.dir.path();
    // A real plan to tamper with: it has changes (two invites).
    let real = dir.join("real.json");
    let out = h
        .cmd(&["plan", "--out", real.to_str().expect("utf-8")])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&real).expect("read");
    assert!(text.contains("\"action\": \"invite\""), "{text}");
    let file = dir.join("hostile.json");
    let name = file.display().to_string();

    // Not JSON.
    std::fs::write(&file, "plan: yes\n").expect("write");
    for (err, command) in read_by_both(&h, &file, "not JSON") {
        assert!(
            err.contains(&format!("{name}:1:1: not ")),
            "{command}: {err}"
        );
    }

    // Cut short in the middle of a site.
    std::fs::write(&file, &text[..text.len() / 2]).expect("write");
    let lines = text[..text.len() / 2].lines().count();
    for (err, command) in read_by_both(&h, &file, "truncated") {
        assert!(
            err.contains(&format!("{name}:{lines}:")),
            "{command}: {err}"
        );
        assert!(err.contains("EOF"), "{command}: {err}");
    }

    // An unknown action whose name is terminal escapes (a hyperlink, a
    // screen clear, a window title): serde_json quotes it in its error.
    let evil = text.replacen(
        "\"action\": \"invite\"",
        "\"action\": \"\\u001b]8;;https://evil.example\\u0007click\\u001b]8;;\\u0007\\u001b[2J\\u001b]0;pwned\\u0007\"",
        1,
    );
    let line = evil
        .lines()
        .position(|l| l.contains("evil.example"))
        .expect("the line")
        + 1;
    std::fs::write(&file, &evil).expect("write");
    for (err, command) in read_by_both(&h, &file, "escapes in an action") {
        assert!(err.contains(&format!("{name}:{line}:")), "{command}: {err}");
        assert!(err.contains("unknown variant"), "{command}: {err}");
        assert!(err.contains("evil.example"), "{command}: {err}");
    }

    // A raw control byte in a string (not valid JSON either).
    std::fs::write(&file, text.replacen("invite", "inv\u{1b}[2Jite", 1)).expect("write");
    for (err, command) in read_by_both(&h, &file, "a raw ESC byte") {
        assert!(err.contains("control character"), "{command}: {err}");
    }

    // Far larger than any plan (sparse: nothing is written, nothing read).
    let big = std::fs::File::create(&file).expect("create");
    big.set_len(600 * 1024 * 1024).expect("set_len");
    drop(big);
    for (err, command) in read_by_both(&h, &file, "600 MiB") {
        assert!(err.contains("larger than 512 MiB"), "{command}: {err}");
    }
    std::fs::remove_file(&file).expect("remove");

    // A directory.
    std::fs::create_dir(&file).expect("mkdir");
    for (err, command) in read_by_both(&h, &file, "a directory") {
        assert!(err.contains("is not a regular file"), "{command}: {err}");
    }
    std::fs::remove_dir(&file).expect("rmdir");

    #[cfg(unix)]
    {
        // A FIFO nobody writes to: opening it would block for ever.
        let made = std::process::Command::new("mkfifo")
            .arg(&file)
            .status()
            .expect("mkfifo runs");
        assert!(made.success());
        let started = std::time::Instant::now();
        for (err, command) in read_by_both(&h, &file, "a FIFO") {
            assert!(err.contains("is not a regular file"), "{command}: {err}");
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
        std::fs::remove_file(&file).expect("remove");

        // A device that never ends.
        std::os::unix::fs::symlink("/dev/zero", &file).expect("symlink");
        for (err, command) in read_by_both(&h, &file, "/dev/zero") {
            assert!(err.contains("is not a regular file"), "{command}: {err}");
        }
        std::fs::remove_file(&file).expect("remove");

        // A symlink to the real plan is read through.
        std::os::unix::fs::symlink(&real, &file).expect("symlink");
        let out = h
            .cmd(&["apply", &name, "--auto-approve"])
            .output()
            .expect("runs");
        assert!(out.status.success(), "{}", stderr(&out));
    }
}

/// A shard plan is another job's output, not checked beyond its shard,
/// config and day: the strings in it (reasons, names, role titles, the
/// access listings) reach the merged plan's text, Markdown and JSON only
/// escaped: no raw ESC byte, no line the Actions runner would execute.
#[test]
fn strings_in_a_shard_plan_reach_the_merged_plan_escaped() {
    const EVIL: &str = "\u{1b}]8;;https://evil.example\u{7}x\u{1b}[2J\n::stop-commands::tok\n";
    fn poison(v: &mut serde_json::Value, key: Option<&str>) {
        match v {
            serde_json::Value::String(s)
                if matches!(key, Some("reason" | "who" | "title" | "before" | "after")) =>
            {
                s.push_str(EVIL);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(|i| poison(i, key)),
            serde_json::Value::Object(map) => {
                for (k, inner) in map.iter_mut() {
                    poison(inner, Some(k));
                }
            }
            _ => {}
        }
    }
    let h = harness();
    let file = h.dir.path().join("shard.json");
    let name = file.to_str().expect("utf-8");
    let out = h
        .cmd(&["plan", "--shard", "1/1", "--out", name])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let mut plan: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("json");
    poison(&mut plan, None);
    let poisoned = serde_json::to_string_pretty(&plan).expect("json");
    assert!(poisoned.contains("evil.example"), "{poisoned}");
    std::fs::write(&file, poisoned).expect("write");
    for format in ["text", "markdown", "json"] {
        let out = h
            .cmd(&["plan", "merge", name, "--format", format])
            .output()
            .expect("runs");
        let text = format!("{}{}", stdout(&out), stderr(&out));
        assert!(out.status.success(), "{format}: {text}");
        assert!(
            text.contains("evil.example"),
            "{format}: the strings are shown: {text}"
        );
        assert!(
            !out.stdout.contains(&0x1b) && !out.stderr.contains(&0x1b),
            "{format}: a raw ESC byte reached the output:\n{text}"
        );
        assert!(
            !text.lines().any(|l| l.trim_start().starts_with("::")),
            "{format}: a line reads as a workflow command:\n{text}"
        );
    }
}
