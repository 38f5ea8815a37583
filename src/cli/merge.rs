//! `accessctl plan merge`: join the plans of N shards into the plan an
//! unsharded run would have made.
//!
//! Each shard plan records its `K/N`. The merge refuses plans of another
//! config or day, a shard twice or missing, and a site in a shard the config
//! does not put it in. Sites are sorted as a plan sorts them; the safety
//! guards are checked again over the whole plan (a cap on removals across
//! all sites spans shards), with the config, the guards recorded by the last
//! apply and the guard flags given here, exactly as `plan` checks them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::plan::{MergeArgs, Output, emit};
use super::{Exit, fail, load_config};
use crate::plan::{LedgerCheck, Plan};

pub fn run(path: &Path, args: &MergeArgs) -> Exit {
    let Some(loaded) = load_config(path) else {
        return Exit::Error;
    };
    let config = loaded.config;
    let mut shards = Vec::new();
    for file in &args.files {
        match read(file) {
            Ok(plan) => shards.push((file.as_path(), plan)),
            Err(exit) => return exit,
        }
    }
    let mut plan = match merge(&config, shards) {
        Ok(plan) => plan,
        Err(message) => {
            return fail(
                message,
                Some(
                    "merge the JSON plans (`plan --shard K/N --format json` or `--out`) of all N shards of one run, made from this config on the same day",
                ),
            );
        }
    };
    let auth = match super::ledger_auth() {
        Ok(auth) => auth,
        Err(exit) => return exit,
    };
    let recorded = match super::recorded_guards(&config, &auth) {
        Ok(r) => r,
        Err(exit) => return exit,
    };
    plan.refusals = crate::plan::safety::check(&plan, &config, &recorded, args.guards.overrides());
    emit(
        &plan,
        &Output {
            format: args.format,
            split: args.split,
            out: args.out.as_deref(),
            detailed_exitcode: args.detailed_exitcode,
        },
    )
}

fn read(file: &Path) -> Result<Plan, Exit> {
    let hint = "save each shard's plan with `accessctl plan --shard K/N --format json > FILE` (or `--out FILE`)";
    let bytes = super::plan::read_plan_file(file, "the shard plan", hint)?;
    serde_json::from_slice(&bytes).map_err(|e| {
        fail(
            format!(
                "{}:{}:{}: not an accessctl plan: {e}",
                file.display(),
                e.line(),
                e.column()
            ),
            Some(hint),
        )
    })
}

/// The shard plans as one plan, without its refusals (the caller checks
/// the guards over the whole); the message says why they do not join.
pub fn merge(config: &crate::model::Config, shards: Vec<(&Path, Plan)>) -> Result<Plan, String> {
    let Some((first_file, first)) = shards.first() else {
        return Err("no shard plans to merge".to_string());
    };
    let (first_file, today) = (first_file.display().to_string(), first.today.clone());
    let mut count = None;
    let mut by_index: BTreeMap<u32, &Path> = BTreeMap::new();
    for (file, plan) in &shards {
        let file_name = file.display();
        if plan.format_version != crate::plan::FORMAT_VERSION {
            return Err(format!(
                "{file_name} has plan format version {}, this accessctl reads {}",
                plan.format_version,
                crate::plan::FORMAT_VERSION
            ));
        }
        if plan.config_digest != config.digest {
            return Err(format!(
                "{file_name} was made from another config than {} (digest {}, not {})",
                config.path.display(),
                plan.config_digest,
                config.digest
            ));
        }
        if plan.today != today {
            return Err(format!(
                "{file_name} was made for {}, {first_file} for {today}: plans of different days do not join",
                plan.today
            ));
        }
        let Some(shard) = plan.shard else {
            return Err(format!(
                "{file_name} is not a shard plan (it has no `shard`): it was made without --shard"
            ));
        };
        match count {
            None => count = Some(shard.count),
            Some(n) if n != shard.count => {
                return Err(format!(
                    "{file_name} is shard {shard}, but {first_file} is one of {n} shards"
                ));
            }
            Some(_) => {}
        }
        if let Some(other) = by_index.insert(shard.index, file) {
            return Err(format!(
                "{file_name} and {} are both shard {shard}",
                other.display()
            ));
        }
    }
    let count = count.unwrap_or(1);
    let missing: Vec<String> = (1..=count)
        .filter(|k| !by_index.contains_key(k))
        .map(|k| format!("{k}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "shard {} missing: a merged plan must cover every site",
            missing.join(", ")
        ));
    }
    let assigned = crate::scope::assign(config, count);
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut sites = Vec::new();
    let mut skipped = Vec::new();
    let mut policy = Vec::new();
    let mut verified = 0usize;
    let mut unverified = 0usize;
    for (file, plan) in shards {
        let shard = plan
            .shard
            .unwrap_or(crate::scope::Shard { index: 1, count });
        for key in plan.sites.iter().map(|s| &s.site).chain(&plan.skipped) {
            if !seen.insert(key.clone()) {
                return Err(format!(
                    "site `{key}` is in more than one shard plan (again in {})",
                    file.display()
                ));
            }
            match assigned.get(key) {
                None => {
                    return Err(format!(
                        "{} plans site `{key}`, which is not in {}",
                        file.display(),
                        config.path.display()
                    ));
                }
                Some(k) if *k != shard.index => {
                    return Err(format!(
                        "{} (shard {shard}) holds site `{key}`, which is in shard {k}/{count}",
                        file.display()
                    ));
                }
                Some(_) => {}
            }
        }
        if !plan.sites.is_empty() {
            match plan.ledger {
                LedgerCheck::Verified => verified += 1,
                LedgerCheck::Unverified => unverified += 1,
            }
        }
        sites.extend(plan.sites);
        skipped.extend(plan.skipped);
        policy.extend(plan.policy);
    }
    sites.sort_by(|a, b| a.site.cmp(&b.site));
    skipped.sort();
    // Each shard's violations are its sites'; in site order, as one run.
    policy.sort_by(|a, b| a.site.cmp(&b.site));
    // As one run: verified when every shard that read a ledger verified it.
    let ledger = if verified > 0 && unverified == 0 {
        LedgerCheck::Verified
    } else {
        LedgerCheck::Unverified
    };
    Ok(Plan {
        format_version: crate::plan::FORMAT_VERSION,
        config_digest: config.digest.clone(),
        today,
        sites,
        refusals: Vec::new(),
        ledger,
        skipped,
        shard: None,
        policy,
    })
}
