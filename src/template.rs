//! Message templates: plain text with `{{placeholder}}`s.
//!
//! A template is the text of the message, optionally led by a
//! `Subject: …` line and a blank line. Placeholders are a fixed set of names
//! ([`PLACEHOLDERS`]); an unknown name, an unclosed `{{`, or a many-line
//! value in the subject is an error found when the config is loaded, so a
//! typo never reaches a client. Rendering is pure and total: every
//! placeholder always has a value.
//!
//! This module knows nothing of sites or grants; the request message
//! (`request::message`) supplies the values.

use std::collections::BTreeMap;

use crate::diag::did_you_mean;

/// Every placeholder a template may use, with what it becomes.
pub const PLACEHOLDERS: [(&str, &str); 10] = [
    ("agency", "the agency's name (`requests.agency`)"),
    ("dashboard_url", "the site's Wix dashboard address"),
    ("grants", "the list of people and their roles, one per line"),
    ("owner_email", "the recipient's email"),
    (
        "owner_name",
        "the recipient's name, or `there` when unknown",
    ),
    ("purpose", "what the agency will do with the access"),
    (
        "reminder",
        "empty in a first request; in a reminder, a sentence saying when the request was first sent, and a blank line",
    ),
    ("site", "the site's key in the config"),
    ("site_id", "the Wix site id"),
    ("steps", "numbered steps in the Wix dashboard"),
];

/// Placeholders whose value spans lines; they cannot be in the subject.
const MULTI_LINE: [&str; 4] = ["grants", "steps", "reminder", "purpose"];

/// Largest template accepted.
const MAX_BYTES: usize = 64 * 1024;

/// The built-in template; see README.md ("Request mode").
pub const BUILTIN: &str = "\
Subject: Access request from {{agency}} for your Wix site {{site}}

Hello {{owner_name}},

{{reminder}}{{agency}} looks after your Wix site {{site}}. For that work,
the people below need access to the site, and only you, as its owner,
can give it. It takes a few minutes.

Please add:

{{grants}}

How to do it in your Wix dashboard:

{{steps}}

What we will do with this access: {{purpose}}

You can see or remove this access at any time under Settings → Roles &
Permissions. If anything is unclear, just reply to this message.

Thank you,
{{agency}}
";

/// The built-in template of a request that also changes or removes access
/// the owner gave earlier; see README.md ("Request mode"). Its `{{grants}}`
/// is the whole list in sections (add, change, remove). A custom template
/// words grant requests only; requests that change or remove use this one.
pub const BUILTIN_CHANGES: &str = "\
Subject: Access changes from {{agency}} for your Wix site {{site}}

Hello {{owner_name}},

{{reminder}}{{agency}} looks after your Wix site {{site}}. The access our
people need there has changed, and only you, as its owner, can make the
changes below. It takes a few minutes.

{{grants}}

How to do it in your Wix dashboard:

{{steps}}

If anything is unclear, just reply to this message.

Thank you,
{{agency}}
";

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    subject: Vec<Piece>,
    body: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Field(&'static str),
}

/// A problem in a template, at a 1-based line and column of its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub line: usize,
    pub col: usize,
    pub message: String,
    pub hint: Option<String>,
}

impl Template {
    /// The built-in template.
    pub fn builtin() -> Template {
        // The built-in text is checked by a test; should it ever fail to
        // parse, its plain text is still a usable message.
        parse(BUILTIN).unwrap_or_else(|_| Template {
            subject: vec![Piece::Text("Access request".to_string())],
            body: vec![Piece::Text(BUILTIN.to_string())],
        })
    }

    /// The built-in template of requests that change or remove access.
    pub fn builtin_changes() -> Template {
        parse(BUILTIN_CHANGES).unwrap_or_else(|_| Template {
            subject: vec![Piece::Text("Access changes".to_string())],
            body: vec![Piece::Text(BUILTIN_CHANGES.to_string())],
        })
    }

    /// The subject and body with every placeholder replaced. Missing values
    /// are empty. The subject is one line; the body has no trailing spaces,
    /// at most one blank line in a row, and ends with one newline.
    pub fn render(&self, values: &BTreeMap<&str, String>) -> (String, String) {
        let fill = |pieces: &[Piece]| -> String {
            pieces
                .iter()
                .map(|p| match p {
                    Piece::Text(t) => t.as_str(),
                    Piece::Field(name) => values.get(name).map_or("", String::as_str),
                })
                .collect()
        };
        let subject = fill(&self.subject)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        (subject, tidy(&fill(&self.body)))
    }
}

/// Parses a template. Every problem is reported, not just the first.
pub fn parse(text: &str) -> Result<Template, Vec<TemplateError>> {
    if text.len() > MAX_BYTES {
        return Err(vec![TemplateError {
            line: 1,
            col: 1,
            message: format!(
                "the template is too large ({} KiB; the limit is {} KiB)",
                text.len() / 1024,
                MAX_BYTES / 1024
            ),
            hint: None,
        }]);
    }
    let text = text.replace("\r\n", "\n");
    if text.trim().is_empty() {
        return Err(vec![TemplateError {
            line: 1,
            col: 1,
            message: "the template is empty".to_string(),
            hint: Some(
                "write the message text, optionally led by a `Subject: …` line and a blank line"
                    .to_string(),
            ),
        }]);
    }
    let mut errors = Vec::new();
    let first = text.lines().next().unwrap_or("");
    let (subject, body, body_line) = match strip_subject(first) {
        Some((offset, subject)) => {
            let rest = text.split_once('\n').map_or("", |(_, r)| r);
            let (rest, skipped) = match rest.split_once('\n') {
                Some((blank, r)) if blank.trim().is_empty() => (r, 2),
                _ => (rest, 1),
            };
            let pieces = pieces(subject, 1, offset + 1, &mut errors);
            for p in &pieces {
                if let Piece::Field(name) = p
                    && MULTI_LINE.contains(name)
                {
                    let col = subject.find(&format!("{{{{{name}")).map_or(1, |c| c + 1);
                    errors.push(TemplateError {
                        line: 1,
                        col: offset + col,
                        message: format!(
                            "`{{{{{name}}}}}` spans several lines and cannot be in the subject"
                        ),
                        hint: Some("move it into the body".to_string()),
                    });
                }
            }
            if subject.trim().is_empty() {
                errors.push(TemplateError {
                    line: 1,
                    col: offset + 1,
                    message: "the `Subject:` line is empty".to_string(),
                    hint: Some("write a subject after `Subject:`, or remove the line to use the built-in subject".to_string()),
                });
            }
            (Some(pieces), rest.to_string(), 1 + skipped)
        }
        None => (None, text.clone(), 1),
    };
    let body_pieces = pieces(&body, body_line, 1, &mut errors);
    if !errors.is_empty() {
        errors.sort_by_key(|e| (e.line, e.col));
        return Err(errors);
    }
    let subject = match subject {
        Some(s) => s,
        None => Template::builtin().subject,
    };
    Ok(Template {
        subject,
        body: body_pieces,
    })
}

/// `Subject: text` → (byte offset of the text, the text).
fn strip_subject(line: &str) -> Option<(usize, &str)> {
    let head = line.get(..8)?;
    if !head.eq_ignore_ascii_case("subject:") {
        return None;
    }
    let rest = &line[8..];
    let trimmed = rest.trim_start();
    Some((8 + rest.len() - trimmed.len(), trimmed.trim_end()))
}

/// Splits text into literal text and placeholders. `line`/`col` place the
/// text's first character, for errors.
fn pieces(text: &str, line: usize, col: usize, errors: &mut Vec<TemplateError>) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut consumed = 0;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            out.push(Piece::Text(rest[..start].to_string()));
        }
        let at = position(text, consumed + start, line, col);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}").filter(|e| !after[..*e].contains('\n')) else {
            errors.push(TemplateError {
                line: at.0,
                col: at.1,
                message: "`{{` is not closed by `}}` on the same line".to_string(),
                hint: Some(format!(
                    "placeholders look like `{{{{site}}}}`; {}",
                    names()
                )),
            });
            return out;
        };
        let name = after[..end].trim();
        match PLACEHOLDERS.iter().find(|(n, _)| *n == name) {
            Some((known, _)) => out.push(Piece::Field(known)),
            None => {
                let hint = match did_you_mean(name, PLACEHOLDERS.iter().map(|(n, _)| *n)) {
                    Some(close) => format!("did you mean `{{{{{close}}}}}`?"),
                    None => names(),
                };
                errors.push(TemplateError {
                    line: at.0,
                    col: at.1,
                    message: format!("unknown placeholder `{{{{{name}}}}}`"),
                    hint: Some(hint),
                });
            }
        }
        let skip = start + 2 + end + 2;
        consumed += skip;
        rest = &rest[skip..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest.to_string()));
    }
    out
}

fn names() -> String {
    let list: Vec<String> = PLACEHOLDERS
        .iter()
        .map(|(n, _)| format!("`{{{{{n}}}}}`"))
        .collect();
    format!("the placeholders are {}", list.join(", "))
}

/// Line and column (in characters) of byte `offset` of `text`, which starts
/// at `line`:`col`.
fn position(text: &str, offset: usize, line: usize, col: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let newlines = before.matches('\n').count();
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let chars = before[line_start..].chars().count();
    if newlines == 0 {
        (line, col + chars)
    } else {
        (line + newlines, chars + 1)
    }
}

/// Trailing spaces off every line, runs of blank lines down to one, no
/// blank lines at the start, exactly one newline at the end.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0;
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank_run += 1;
            if blank_run > 1 || out.is_empty() {
                continue;
            }
        } else {
            blank_run = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> BTreeMap<&'static str, String> {
        PLACEHOLDERS
            .iter()
            .map(|(n, _)| (*n, format!("<{n}>")))
            .collect()
    }

    #[test]
    fn the_builtin_template_parses() {
        assert!(parse(BUILTIN).is_ok());
        assert!(parse(BUILTIN_CHANGES).is_ok());
        let (subject, body) = Template::builtin().render(&values());
        assert_eq!(
            subject,
            "Access request from <agency> for your Wix site <site>"
        );
        assert!(body.starts_with("Hello <owner_name>,\n\n<reminder><agency> looks after"));
        assert!(body.ends_with("Thank you,\n<agency>\n"));
    }

    #[test]
    fn subject_line_is_optional() {
        let t = parse("Hi {{ owner_name }}\n").expect("parses");
        let (subject, body) = t.render(&values());
        assert_eq!(
            subject,
            "Access request from <agency> for your Wix site <site>"
        );
        assert_eq!(body, "Hi <owner_name>\n");
        let t = parse("subject: For {{site}}\n\nBody\n").expect("parses");
        assert_eq!(t.render(&values()).0, "For <site>");
        assert_eq!(t.render(&values()).1, "Body\n");
    }

    #[test]
    fn empty_values_leave_no_holes() {
        let t = parse("Hello,\n\n{{reminder}}\n\n\nText.  \n\n\n").expect("parses");
        let mut v = values();
        v.insert("reminder", String::new());
        assert_eq!(t.render(&v).1, "Hello,\n\nText.\n");
    }

    #[test]
    fn reports_every_problem_with_its_place() {
        let errors = parse("Subject: {{grants}} for {{site}}\n\nHi {{onwer_name}},\nsee {{steps\n")
            .expect_err("invalid");
        let found: Vec<(usize, usize, &str)> = errors
            .iter()
            .map(|e| (e.line, e.col, e.message.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (
                    1,
                    10,
                    "`{{grants}}` spans several lines and cannot be in the subject"
                ),
                (3, 4, "unknown placeholder `{{onwer_name}}`"),
                (4, 5, "`{{` is not closed by `}}` on the same line"),
            ]
        );
        assert_eq!(
            errors[1].hint.as_deref(),
            Some("did you mean `{{owner_name}}`?")
        );
    }

    #[test]
    fn rejects_empty_templates() {
        assert!(parse(" \n\n").is_err());
        assert!(parse("Subject:\n\nBody").is_err());
    }
}
