//! Providers: the only code that talks to a platform.
//!
//! A provider reads a target's live state and performs one change at a time.
//! It never decides what to change; that is the plan engine's job.

pub mod body;
pub mod google;
pub mod registry;
pub mod wix;
