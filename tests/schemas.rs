//! Generated files stay in step with the code, and what the tool prints
//! follows its own schemas.

mod common;

use std::path::Path;

const REGENERATE: &str = "regenerate with: cargo run -- schema > schemas/accessctl.schema.json && cargo run -- schema --plan > schemas/plan.schema.json && cargo run -- schema --snapshot > schemas/snapshot.schema.json && cargo run -- schema --report > schemas/report.schema.json";

fn committed(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("schemas")
            .join(name),
    )
    .unwrap_or_else(|e| panic!("schemas/{name} is missing ({e}); {REGENERATE}"))
}

#[test]
fn config_schema_is_fresh() {
    assert!(
        committed("accessctl.schema.json") == accessctl::config::schema_json(),
        "schemas/accessctl.schema.json is stale; {REGENERATE}"
    );
}

#[test]
fn plan_schema_is_fresh() {
    assert!(
        committed("plan.schema.json") == accessctl::plan::schema_json(),
        "schemas/plan.schema.json is stale; {REGENERATE}"
    );
}

#[test]
fn snapshot_schema_is_fresh() {
    assert!(
        committed("snapshot.schema.json") == accessctl::snapshot::schema_json(),
        "schemas/snapshot.schema.json is stale; {REGENERATE}"
    );
}

#[test]
fn report_schema_is_fresh() {
    assert!(
        committed("report.schema.json") == accessctl::report::schema_json(),
        "schemas/report.schema.json is stale; {REGENERATE}"
    );
    let out = common::accessctl()
        .args(["schema", "--report"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        committed("report.schema.json")
    );
}

#[test]
fn schema_command_prints_the_committed_schemas() {
    let out = common::accessctl().arg("schema").output().expect("runs");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        committed("accessctl.schema.json")
    );
}

#[test]
fn every_example_config_validates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("examples/") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if !name.ends_with(".yaml") || name.ends_with(".seed.yaml") {
            continue;
        }
        let loaded = accessctl::config::load(&path)
            .unwrap_or_else(|report| panic!("{name} does not validate:\n{}", report.render()));
        assert!(!loaded.config.sites.is_empty(), "{name} has no sites");
        checked += 1;
    }
    assert!(
        checked >= 2,
        "expected the agency and starter configs, found {checked}"
    );
}

#[test]
fn every_example_seed_loads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("examples/") {
        let path = entry.expect("entry").path();
        if path.to_string_lossy().ends_with(".seed.yaml") {
            accessctl::emulator::load_seed(&path)
                .unwrap_or_else(|e| panic!("{} does not load: {e}", path.display()));
            checked += 1;
        }
    }
    assert!(checked >= 1);
}

/// The example config against its seed: the JSON plan validates against
/// the committed plan schema.
#[test]
fn json_plan_validates_against_its_schema() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let seed = std::fs::read_to_string(root.join("agency.seed.yaml")).expect("seed");
    let config = std::fs::read_to_string(root.join("agency.yaml")).expect("config");
    let h = common::Harness::new(&seed, &config, &common::agency_keys());
    let out = h.cmd(&["plan", "--format", "json"]).output().expect("runs");
    assert!(out.status.success(), "{}", common::stderr(&out));
    let instance: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let schema: serde_json::Value =
        serde_json::from_str(&committed("plan.schema.json")).expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "plan JSON does not match its schema: {errors:#?}"
    );
    assert!(instance["sites"].as_array().is_some_and(|s| s.len() == 8));
}
