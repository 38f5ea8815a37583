//! The GitHub Action's scripts (`action/`), run against a fake release on
//! disk: a binary whose checksum matches is installed, one that does not is
//! refused, a release without this platform's binary falls back to `cargo
//! install --locked` (a stand-in cargo here) with a warning, and the run
//! script turns accessctl's exit code into the step's outputs. The release
//! workflow, the install script and the binstall metadata name the archives
//! alike.
//!
//! The scripts need `bash`, `tar` and `sha256sum`; where one is missing the
//! tests say so and pass without checking anything.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::{Digest, Sha256};

const TAG: &str = "v9.9.9";
const TARGET: &str = "x86_64-unknown-linux-musl";

fn action_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("action")
}

fn tools_present() -> bool {
    let missing: Vec<&str> = ["bash", "tar", "sha256sum"]
        .into_iter()
        .filter(|tool| {
            Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .map_or(true, |o| !o.status.success())
        })
        .collect();
    if !missing.is_empty() {
        eprintln!("skipped: {} not installed", missing.join(", "));
    }
    missing.is_empty()
}

fn write_executable(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::write(path, text).expect("write script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// A release directory `TAG/` holding this target's archive and
/// `SHA256SUMS`; `sums` edits the checksum file's text before it is written.
fn fake_release(root: &Path, sums: impl Fn(String) -> String) -> PathBuf {
    let base = root.join("release");
    let tag_dir = base.join(TAG);
    let stage = root.join("stage");
    let inner = format!("accessctl-{TAG}-{TARGET}");
    std::fs::create_dir_all(stage.join(&inner)).expect("stage");
    std::fs::create_dir_all(&tag_dir).expect("release dir");
    write_executable(
        &stage.join(&inner).join("accessctl"),
        "#!/bin/sh\necho fake accessctl \"$@\"\n",
    );
    let asset = format!("{inner}.tar.gz");
    let tar = Command::new("tar")
        .arg("-czf")
        .arg(tag_dir.join(&asset))
        .arg("-C")
        .arg(&stage)
        .arg(&inner)
        .status()
        .expect("tar runs");
    assert!(tar.success());
    let bytes = std::fs::read(tag_dir.join(&asset)).expect("archive");
    let digest: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let text = format!(
        "{}  accessctl-{TAG}-aarch64-apple-darwin.tar.gz\n{digest}  {asset}\n",
        "0".repeat(64)
    );
    std::fs::write(tag_dir.join("SHA256SUMS"), sums(text)).expect("sums");
    base
}

/// `install.sh ARGS` reading releases from `base`, installing into
/// `root/bin`; `extra` adds or overrides variables.
fn install(root: &Path, base: &Path, args: &[&str], extra: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg(action_dir().join("install.sh"))
        .args(args)
        .env(
            "ACCESSCTL_RELEASE_BASE",
            format!("file://{}", base.display()),
        )
        .env("ACCESSCTL_VERSION", "9.9.9")
        .env("ACCESSCTL_TARGET", TARGET)
        .env("ACCESSCTL_INSTALL_DIR", root.join("bin"))
        .env("ACCESSCTL_FALLBACK", "none")
        .env("ACCESSCTL_REPOSITORY", "example/accessctl")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_ACTION_PATH")
        .env_remove("GITHUB_PATH");
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.output().expect("bash runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_binary_whose_checksum_matches_is_installed() {
    if !tools_present() {
        return;
    }
    let root = tempfile::tempdir().expect("tempdir");
    let base = fake_release(root.path(), |s| s);
    let out = install(root.path(), &base, &[], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let bin_dir = root.path().join("bin");
    assert_eq!(text(&out.stdout).trim(), bin_dir.display().to_string());
    assert!(
        text(&out.stderr).contains("checksum ok"),
        "{}",
        text(&out.stderr)
    );
    let ran = Command::new(bin_dir.join("accessctl"))
        .arg("--version")
        .output()
        .expect("installed binary runs");
    assert_eq!(text(&ran.stdout), "fake accessctl --version\n");
    assert_eq!(
        std::fs::read_to_string(bin_dir.join(".accessctl-version")).expect("version file"),
        format!("{TAG}\n")
    );

    // Installed once, the same version is not fetched again (the action's
    // cache restores the directory): the release may be gone.
    std::fs::remove_dir_all(&base).expect("remove release");
    let again = install(root.path(), &base, &[], &[]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert!(text(&again.stderr).contains("already installed"));
}

#[test]
fn a_checksum_mismatch_is_refused_and_installs_nothing() {
    if !tools_present() {
        return;
    }
    let root = tempfile::tempdir().expect("tempdir");
    // The archive's own line gets another digest.
    let base = fake_release(root.path(), |s| {
        s.lines()
            .map(|l| {
                if l.ends_with(&format!("{TARGET}.tar.gz")) {
                    format!("{}  {}", "ab".repeat(32), l.split_once("  ").unwrap().1)
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    let out = install(root.path(), &base, &[], &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "checksum mismatch for accessctl-{TAG}-{TARGET}.tar.gz: SHA256SUMS says {}",
            "ab".repeat(32)
        )) && stderr.contains("refusing to install"),
        "{stderr}"
    );
    assert!(!root.path().join("bin").join("accessctl").exists());

    // A mismatch never falls back to building from source either.
    let cargo = root.path().join("cargo");
    write_executable(&cargo, "#!/bin/sh\necho built >&2\nexit 0\n");
    let out = install(
        root.path(),
        &base,
        &[],
        &[
            ("ACCESSCTL_FALLBACK", "cargo"),
            ("CARGO", cargo.to_str().unwrap()),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(!text(&out.stderr).contains("built"));
}

#[test]
fn without_a_binary_for_the_platform_it_builds_with_cargo_and_warns() {
    if !tools_present() {
        return;
    }
    let root = tempfile::tempdir().expect("tempdir");
    let base = fake_release(root.path(), |s| s);
    // A stand-in cargo: records its arguments, "builds" into --root/bin.
    let cargo = root.path().join("cargo");
    let args_file = root.path().join("cargo-args");
    write_executable(
        &cargo,
        &format!(
            "#!/bin/sh\necho \"$@\" > '{}'\nroot=$4\nmkdir -p \"$root/bin\"\nprintf '#!/bin/sh\\n' > \"$root/bin/accessctl\"\nchmod +x \"$root/bin/accessctl\"\n",
            args_file.display()
        ),
    );
    let target = "riscv64gc-unknown-linux-gnu";
    let fallback = [
        ("ACCESSCTL_TARGET", target),
        ("ACCESSCTL_FALLBACK", "cargo"),
        ("CARGO", cargo.to_str().unwrap()),
    ];
    let out = install(root.path(), &base, &[], &fallback);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "warning: release {TAG} has no binary for {target}"
        )) && stderr.contains("cargo install --locked"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&args_file).expect("cargo ran"),
        format!(
            "install --locked --root {} --git https://github.com/example/accessctl --tag {TAG} accessctl\n",
            root.path().display()
        )
    );
    assert!(root.path().join("bin").join("accessctl").exists());

    // In the action, the repository is the action's own when not given.
    std::fs::remove_dir_all(root.path().join("bin")).expect("clean");
    let action_path = "/home/runner/work/_actions/acme/accessctl/v1/action";
    let out = install(
        root.path(),
        &base,
        &[],
        &[
            fallback[0],
            fallback[1],
            fallback[2],
            ("ACCESSCTL_REPOSITORY", ""),
            ("GITHUB_ACTION_PATH", action_path),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        std::fs::read_to_string(&args_file)
            .expect("cargo ran")
            .contains(" --git https://github.com/acme/accessctl "),
    );

    // With the fallback off, the same release is an error that says why.
    let root = tempfile::tempdir().expect("tempdir");
    let base = fake_release(root.path(), |s| s);
    let out = install(root.path(), &base, &[], &[("ACCESSCTL_TARGET", target)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("not building from source (ACCESSCTL_FALLBACK=none)"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn versions_are_resolved_and_checked() {
    if !tools_present() {
        return;
    }
    let root = tempfile::tempdir().expect("tempdir");
    let base = fake_release(root.path(), |s| s);
    std::fs::write(base.join("LATEST"), format!("{TAG}\n")).expect("LATEST");
    let resolve = |version: &str| {
        install(
            root.path(),
            &base,
            &["--resolve"],
            &[("ACCESSCTL_VERSION", version)],
        )
    };
    for (given, tag) in [("latest", TAG), ("1.2.3", "v1.2.3"), ("v1.2.3", "v1.2.3")] {
        let out = resolve(given);
        assert!(out.status.success(), "{given}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), format!("{tag}\n"));
    }
    for bad in ["main", "v1.2.3/../x", "1.2;rm"] {
        let out = resolve(bad);
        assert_eq!(out.status.code(), Some(1), "{bad}");
        assert!(
            text(&out.stderr).contains("not a version"),
            "{bad}: {}",
            text(&out.stderr)
        );
    }
    // Only https:// and file:// release bases.
    let out = install(
        root.path(),
        &base,
        &[],
        &[("ACCESSCTL_RELEASE_BASE", "http://mirror.example/releases")],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("must start with https:// or file://"));
}

/// `run.sh` with a stand-in accessctl that exits `code`; returns the step
/// outputs it wrote and the arguments accessctl got.
fn run_step(command: &str, args: &str, code: i32) -> (String, String) {
    let root = tempfile::tempdir().expect("tempdir");
    let bin = root.path().join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let seen = root.path().join("seen");
    write_executable(
        &bin.join("accessctl"),
        &format!(
            "#!/bin/sh\nprintf '%s|' \"$@\" > '{}'\necho '## plan'\nexit {code}\n",
            seen.display()
        ),
    );
    let outputs = root.path().join("outputs");
    // The install step's directory goes first on PATH.
    let out = Command::new("bash")
        .arg(action_dir().join("run.sh"))
        .env("ACCESSCTL_INSTALL_DIR", &bin)
        .env("ACCESSCTL_COMMAND", command)
        .env("ACCESSCTL_CONFIG_FILE", "site access.yaml")
        .env("ACCESSCTL_ARGS", args)
        .env("GITHUB_OUTPUT", &outputs)
        .env("RUNNER_TEMP", root.path())
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .expect("bash runs");
    assert!(out.status.success(), "run.sh never fails itself");
    (
        std::fs::read_to_string(&outputs).unwrap_or_default(),
        std::fs::read_to_string(&seen).unwrap_or_default(),
    )
}

#[test]
fn the_run_step_reports_the_exit_code_and_pending_changes() {
    if !tools_present() {
        return;
    }
    let (outputs, seen) = run_step("plan", "--site  acme *", 2);
    assert!(
        outputs.contains("exitcode=2\n") && outputs.contains("has-changes=true\n"),
        "{outputs}"
    );
    assert!(outputs.contains("plan-file="), "{outputs}");
    // The config path stays one argument; extra arguments are split on
    // whitespace and never globbed or evaluated.
    assert_eq!(
        seen,
        "plan|-c|site access.yaml|--format|markdown|--detailed-exitcode|--site|acme|*|"
    );

    let (outputs, _) = run_step("plan", "", 0);
    assert!(outputs.contains("exitcode=0\n") && outputs.contains("has-changes=false\n"));
    let (outputs, _) = run_step("plan", "", 3);
    assert!(outputs.contains("exitcode=3\n") && outputs.contains("has-changes=false\n"));

    let (outputs, seen) = run_step("apply", "--allow-safety-change", 0);
    assert!(outputs.contains("exitcode=0\n"), "{outputs}");
    assert_eq!(
        seen,
        "apply|-c|site access.yaml|--auto-approve|--allow-safety-change|"
    );

    let (outputs, seen) = run_step("destroy", "", 0);
    assert!(outputs.contains("exitcode=1\n"), "{outputs}");
    assert!(seen.is_empty(), "an unknown command runs nothing");
}

/// The release workflow, the install script and `cargo binstall` agree on
/// the archive names and the targets.
#[test]
fn release_assets_are_named_alike_everywhere() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |p: &str| std::fs::read_to_string(root.join(p)).expect(p);
    let release: serde_json::Value =
        serde_saphyr::from_str(&read(".github/workflows/release.yml")).expect("release.yml");
    let targets: Vec<&str> = release["jobs"]["build"]["strategy"]["matrix"]["include"]
        .as_array()
        .expect("matrix")
        .iter()
        .map(|t| t["target"].as_str().expect("target"))
        .collect();
    let install = read("action/install.sh");
    for target in [
        "x86_64-unknown-linux-musl",
        "aarch64-unknown-linux-musl",
        "x86_64-apple-darwin",
        "aarch64-apple-darwin",
    ] {
        assert!(targets.contains(&target), "release builds {target}");
    }
    // install.sh builds the triple from the architecture and these suffixes.
    assert!(
        install.contains("\"$arch-unknown-linux-musl\"")
            && install.contains("\"$arch-apple-darwin\"")
    );
    assert!(install.contains("asset=\"accessctl-$tag-$target.tar.gz\""));
    assert!(install.contains("\"$tmp/accessctl-$tag-$target\""));
    let workflow = read(".github/workflows/release.yml");
    assert!(workflow.contains("name=\"accessctl-${GITHUB_REF_NAME}-${{ matrix.target }}\""));
    assert!(workflow.contains("tar -C dist -czf \"dist/$name.tar.gz\" \"$name\""));
    assert!(workflow.contains("sha256sum accessctl-*.tar.gz > SHA256SUMS"));
    let manifest = read("Cargo.toml");
    assert!(manifest.contains(
        "pkg-url = \"{ repo }/releases/download/v{ version }/{ name }-v{ version }-{ target }{ archive-suffix }\""
    ));
    assert!(
        manifest.contains("bin-dir = \"{ name }-v{ version }-{ target }/{ bin }{ binary-ext }\"")
    );
    // The action runs the scripts this file tests.
    let action = read("action/action.yml");
    assert!(action.contains("bash \"$GITHUB_ACTION_PATH/install.sh\""));
    assert!(action.contains("bash \"$GITHUB_ACTION_PATH/run.sh\""));
}
