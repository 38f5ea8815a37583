//! The plan as JSON: the versioned format that `apply` reads back.
//!
//! This is the serde serialization of [`Plan`] and nothing more, so the
//! schema generated from the same types (`schemas/plan.schema.json`)
//! describes it exactly. Changing its shape means bumping
//! [`crate::plan::FORMAT_VERSION`], which is `plan`'s business, not this
//! module's.

use crate::plan::Plan;

/// Pretty-printed JSON with a trailing newline.
pub fn render_json(plan: &Plan) -> String {
    // A plan holds only strings, numbers, enums and lists, which always
    // serialize, so the error branch is unreachable in practice.
    let mut text = serde_json::to_string_pretty(plan).unwrap_or_default();
    text.push('\n');
    text
}
