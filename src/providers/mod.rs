//! Providers: the only code that talks to a platform.
//!
//! A provider reads a target's live state and carries out changes, batching
//! as its platform allows (`platform::Provider`). It never decides what to
//! change; that is the plan engine's job.

pub mod body;
pub mod google;
pub mod registry;
pub mod wix;
