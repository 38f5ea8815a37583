//! accessctl: manage who can access client websites as code.
//!
//! The crate is split so that only `providers` and `emulator` do network I/O;
//! `config`, `plan` and `render` are synchronous and pure. See ARCHITECTURE.md.

#![forbid(unsafe_code)]

pub mod access;
pub mod apply;
pub mod cli;
pub mod config;
pub mod confine;
pub mod diag;
pub mod email;
pub mod emulator;
pub mod escape;
pub mod failpoint;
pub mod hex;
pub mod ledger;
pub mod message;
pub mod model;
pub mod observe;
pub mod parallel;
pub mod plan;
pub mod platform;
pub mod policy;
pub mod providers;
pub mod render;
pub mod report;
pub mod request;
pub mod roles;
pub mod scope;
pub mod secret;
pub mod snapshot;
pub mod state;
pub mod template;
