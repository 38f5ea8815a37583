//! Wording shared by the renderers for a request-mode site's access request:
//! one line saying where it stands, and the message `apply` would send.

use crate::escape;
use crate::plan::{RequestPreview, RequestStatus};

/// One line: what the request is and what `apply` does with it, such as
/// `access request (new): apply sends it to Sam <sam@example.com> by email`.
pub(super) fn headline(r: &RequestPreview) -> String {
    let to = r.to.as_ref().map_or_else(
        || "nobody (no contact)".to_string(),
        |t| escape::text(&t.display()).into_owned(),
    );
    let by = r.channel.map_or_else(
        || "(no channel configured)".to_string(),
        |c| format!("by {}", c.name()),
    );
    let sent = r.sent_at.as_deref().map_or("?".into(), super::day);
    let noun = r.noun();
    match r.status {
        RequestStatus::New => format!("{noun} (new): apply sends it to {to} {by}"),
        RequestStatus::Reminder => format!(
            "reminder {} of {} (request first sent {sent}): apply sends it to {to} {by}",
            r.reminders_sent + 1,
            r.max_reminders
        ),
        RequestStatus::Sent => {
            let next = match (&r.next_reminder_at, &r.stalls_at) {
                (Some(at), _) => format!("reminder due {}", super::day(at)),
                (None, Some(at)) => format!("no reminder left; stalled from {}", super::day(at)),
                (None, None) => String::new(),
            };
            let reminded = match r.reminders_sent {
                0 => String::new(),
                1 => ", 1 reminder".to_string(),
                n => format!(", {n} reminders"),
            };
            format!("{noun} sent {sent} to {to} {by}{reminded}; no answer yet; {next}")
        }
        RequestStatus::Stalled => format!(
            "{noun} stalled: sent {sent} to {to}, {} reminder(s), no answer; nothing more is sent",
            r.reminders_sent
        ),
    }
}

/// The message as lines: `Subject: …`, a blank line, the body; each line
/// escaped ([`escape::line`]): the template and the values in it come from
/// the config.
pub(super) fn message_lines(r: &RequestPreview) -> Option<Vec<String>> {
    let m = r.message.as_ref()?;
    let mut lines = vec![
        format!("Subject: {}", escape::text(&m.subject)),
        String::new(),
    ];
    lines.extend(m.body.lines().map(|l| escape::line(l).into_owned()));
    Some(lines)
}
