//! The plan as JSON: the versioned format that `apply` reads back.
//!
//! This is the serde serialization of [`Plan`] and nothing more, so the
//! schema generated from the same types (`schemas/plan.schema.json`)
//! describes it exactly. Changing its shape means bumping
//! [`crate::plan::FORMAT_VERSION`], which is `plan`'s business, not this
//! module's.

use crate::plan::{Plan, SitePlan};

use std::io::Write;

/// Pretty-printed JSON with a trailing newline.
pub fn render_json(plan: &Plan) -> String {
    let mut text = Vec::new();
    // Writing to memory cannot fail, and a plan holds only strings,
    // numbers, enums and lists, which always serialize.
    let _ = write_json(plan, &mut text);
    String::from_utf8(text).unwrap_or_default()
}

/// Sites rendered at a time, on all cores, before they are written.
const BATCH: usize = 1024;

/// [`render_json`] written straight to `out`, as `plan` prints it and saves
/// it: the JSON of a large plan is never held in memory whole. The bytes are
/// exactly `serde_json::to_writer_pretty`'s (a test holds them equal), but
/// the sites, nearly all of a plan, are rendered on all cores a batch at a
/// time and placed where the plan without them has `"sites": []`.
pub fn write_json(plan: &Plan, out: impl Write) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(out);
    // Every field but the sites (a literal, so a new field cannot be
    // missed here).
    let envelope = Plan {
        format_version: plan.format_version,
        config_digest: plan.config_digest.clone(),
        today: plan.today.clone(),
        sites: Vec::new(),
        refusals: plan.refusals.clone(),
        ledger: plan.ledger,
        skipped: plan.skipped.clone(),
        shard: plan.shard,
        policy: plan.policy.clone(),
    };
    let envelope = serde_json::to_vec_pretty(&envelope)?;
    // A key of the plan itself, one level in; a string holding these bytes
    // would be escaped (`\"`), so this is the only place they occur.
    const EMPTY: &[u8] = b"\n  \"sites\": []";
    if plan.sites.is_empty() {
        out.write_all(&envelope)?;
        out.write_all(b"\n")?;
        return out.flush();
    }
    let Some(at) = envelope.windows(EMPTY.len()).position(|w| w == EMPTY) else {
        // The sites' key is not where this expects it (a renamed field):
        // serde_json's own writer, never a plan without its sites.
        serde_json::to_writer_pretty(&mut out, plan)?;
        out.write_all(b"\n")?;
        return out.flush();
    };
    let (head, tail) = envelope.split_at(at + EMPTY.len() - 1);
    out.write_all(head)?;
    for (i, batch) in plan.sites.chunks(BATCH).enumerate() {
        let rendered =
            crate::parallel::ordered_flat_map(batch, BATCH / 4, |site| Some(site_json(site)));
        for (j, site) in rendered.into_iter().enumerate() {
            out.write_all(if i == 0 && j == 0 {
                b"\n    "
            } else {
                b",\n    "
            })?;
            out.write_all(&site?)?;
        }
    }
    out.write_all(b"\n  ")?;
    out.write_all(tail)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// One site as pretty JSON, indented as an element of the plan's `sites`:
/// every line after the first moved in by two levels. JSON strings hold no
/// raw line break, so each one is the layout's.
fn site_json(site: &SitePlan) -> std::io::Result<Vec<u8>> {
    let text = serde_json::to_vec_pretty(site)?;
    let mut out = Vec::with_capacity(text.len() + text.len() / 8);
    for (i, line) in text.split(|b| *b == b'\n').enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\n    ");
        }
        out.extend_from_slice(line);
    }
    Ok(out)
}
