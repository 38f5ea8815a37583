//! gtm endpoints of the emulator (to be written).

use std::sync::Arc;

use axum::Router;
use serde::{Deserialize, Serialize};

use super::super::Shared;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {}

#[derive(Debug, Default)]
pub struct State {}

pub(super) fn build(_seed: &Seed, _problems: &mut Vec<String>) -> State {
    State {}
}

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
}

pub(super) fn endpoint_of(_method: &str, _path: &str) -> Option<&'static str> {
    None
}
