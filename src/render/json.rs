//! The plan as JSON: the versioned format that `apply` reads back.
//!
//! This is the serde serialization of [`Plan`] and nothing more, so the
//! schema generated from the same types (`schemas/plan.schema.json`)
//! describes it exactly. Changing its shape means bumping
//! [`crate::plan::FORMAT_VERSION`], which is `plan`'s business, not this
//! module's.

use crate::plan::Plan;

use std::io::Write;

/// Pretty-printed JSON with a trailing newline.
pub fn render_json(plan: &Plan) -> String {
    let mut text = Vec::new();
    // Writing to memory cannot fail, and a plan holds only strings,
    // numbers, enums and lists, which always serialize.
    let _ = write_json(plan, &mut text);
    String::from_utf8(text).unwrap_or_default()
}

/// [`render_json`] written straight to `out`, as `plan` prints it and saves
/// it: the JSON of a large plan is never held in memory whole.
pub fn write_json(plan: &Plan, out: impl Write) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(out);
    serde_json::to_writer_pretty(&mut out, plan)?;
    out.write_all(b"\n")?;
    out.flush()
}
