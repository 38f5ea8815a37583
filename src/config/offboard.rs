//! Removing a person from the config text, touching only their lines
//! (`accessctl offboard --write`).
//!
//! The edit is computed from the positions [`Tree`] knows: the person's
//! entry under `people:`, their name in each team list (a flow item, with
//! its comma, or a block item line) and every grant under a site's
//! `access:` that is theirs (`person:` them, or their email or Wix account
//! written out), as whole lines. Everything else stays byte for byte.
//!
//! Anything it cannot edit safely is refused with a reason rather than
//! guessed at: an anchor or alias in what would be removed, a team or the
//! `people:` block left empty, a person under `safety.protect` or
//! `safety.self`, a flow mapping where a block one is needed. And the
//! result is checked: the edited text, read again, must be exactly the
//! original document with those entries taken out, or nothing is edited.

use serde_json::Value;

use super::locate::{Tree, YamlPath};

/// Why the person cannot be removed by an edit, with what to do instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub message: String,
    pub hint: Option<String>,
}

fn refuse(message: impl Into<String>, hint: Option<&str>) -> Refusal {
    Refusal {
        message: message.into(),
        hint: hint.map(str::to_string),
    }
}

/// One thing the edit removes, for the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    /// `people.bob`, `teams.seo`, `sites.blue-harbor-dental.access[1]`.
    pub path: String,
    /// The line it started on (1-based), in the original text.
    pub line: usize,
}

/// The edited text and what was taken out.
#[derive(Debug, Clone)]
pub struct Offboarding {
    pub person: String,
    /// Lower-cased.
    pub email: String,
    pub wix_account_id: Option<String>,
    pub text: String,
    pub removed: Vec<Removed>,
    /// Where the edited config still names the person's email or Wix
    /// account (`requests.email.reply_to`, a site's owner): left alone, for
    /// a person to look at.
    pub still_named: Vec<String>,
}

/// A byte range of the original text replaced by `with`.
#[derive(Debug, Clone)]
struct Edit {
    start: usize,
    end: usize,
    with: &'static str,
}

struct Lines<'a> {
    text: &'a str,
    /// Byte offset of each line's start.
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        if starts.last() == Some(&text.len()) && !text.is_empty() {
            starts.pop();
        }
        Lines { text, starts }
    }

    /// Line `i` (0-based) without its line break.
    fn line(&self, i: usize) -> &'a str {
        let start = self.starts[i];
        let end = self.starts.get(i + 1).copied().unwrap_or(self.text.len());
        self.text[start..end]
            .trim_end_matches('\n')
            .trim_end_matches('\r')
    }

    /// Byte offset just past line `i`, its line break included.
    fn end(&self, i: usize) -> usize {
        self.starts.get(i + 1).copied().unwrap_or(self.text.len())
    }

    /// Byte offset of a 1-based line and character column.
    fn offset(&self, line: usize, col: usize) -> Option<usize> {
        let i = line.checked_sub(1)?;
        if i >= self.starts.len() {
            return None;
        }
        let mut text = self.line(i);
        let mut skipped = 0;
        if i == 0 {
            // The parser does not count a byte-order mark as a column.
            if let Some(rest) = text.strip_prefix('\u{feff}') {
                skipped = text.len() - rest.len();
                text = rest;
            }
        }
        let within = text
            .char_indices()
            .nth(col.checked_sub(1)?)
            .map(|(b, _)| b)
            .unwrap_or(text.len());
        Some(self.starts[i] + skipped + within)
    }

    /// The line holding byte offset `at`.
    fn line_of(&self, at: usize) -> usize {
        self.starts.partition_point(|s| *s <= at) - 1
    }

    /// Lines from `first` that belong to a block starting there at
    /// indentation `indent`: every following line indented deeper, with
    /// blank and comment lines between them (not those after the last).
    fn block(&self, first: usize, indent: usize) -> (usize, usize) {
        let mut last = first;
        let mut next = first + 1;
        while next < self.starts.len() {
            let line = self.line(next);
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                next += 1;
                continue;
            }
            if line.len() - trimmed.len() > indent {
                last = next;
                next += 1;
            } else {
                break;
            }
        }
        (self.starts[first], self.end(last))
    }
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// Remove `person` (a key of `people`) from the config `text`.
pub fn offboard(text: &str, person: &str) -> Result<Offboarding, Refusal> {
    let tree = Tree::build(text);
    if !tree.readable() {
        return Err(refuse(
            "the config uses YAML that offboard does not edit (tags, merge keys, several documents) or does not parse",
            Some("run `accessctl validate`; remove the person by hand"),
        ));
    }
    let root = YamlPath::root();
    let Some(mut expected) = tree.value(&root) else {
        return Err(refuse("the config is empty", None));
    };
    let people_path = root.key("people");
    let people = tree.keys(&people_path).unwrap_or_default();
    if !people.contains(&person) {
        let hint = crate::diag::did_you_mean(person, people.iter().copied())
            .map(|close| format!("did you mean `{close}`?"))
            .unwrap_or_else(|| {
                "offboard takes a key of `people:`; `accessctl who EMAIL` finds access held by someone the config does not name".to_string()
            });
        return Err(refuse(
            format!("`{person}` is not a person in the config"),
            Some(&hint),
        ));
    }
    if people.len() == 1 {
        return Err(refuse(
            format!("`{person}` is the only person in the config"),
            Some("remove the person by hand"),
        ));
    }
    let person_value = tree.value(&people_path.key(person)).unwrap_or(Value::Null);
    let email = person_value
        .get("email")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_lowercase();
    let account = person_value
        .get("wix_account_id")
        .and_then(Value::as_str)
        .map(str::to_string);
    // The loader trims a grant's `wix_account_id` (` acct-bob ` is acct-bob):
    // compared the same way, or a grant written with spaces would stay.
    let trimmed_account = account.as_deref().map(str::trim).filter(|a| !a.is_empty());

    // The guards: a protected person is removed only on purpose.
    let safety = expected.get("safety");
    let named = |v: Option<&Value>| v.and_then(Value::as_str) == Some(person);
    if named(safety.and_then(|s| s.get("self"))) {
        return Err(refuse(
            format!("`{person}` is `safety.self`: accessctl acts for them"),
            Some(
                "choose who accessctl acts for instead (`safety.self`) in a change of its own, then offboard",
            ),
        ));
    }
    if safety
        .and_then(|s| s.get("protect"))
        .and_then(Value::as_array)
        .is_some_and(|p| p.iter().any(|v| v.as_str() == Some(person)))
    {
        return Err(refuse(
            format!("`{person}` is listed in `safety.protect`: protected people are never removed"),
            Some(
                "take them out of `safety.protect` in a change of its own (it is reviewed on its own), then offboard",
            ),
        ));
    }

    let lines = Lines::new(text);
    let mut edits = Vec::new();
    let mut removed = Vec::new();

    // The person's entry.
    let key = tree.key_pos(&people_path.key(person));
    let start = lines
        .offset(key.line, key.col)
        .ok_or_else(|| refuse("cannot locate the person's entry", None))?;
    let first = lines.line_of(start);
    let line = lines.line(first);
    let before = &text[lines.starts[first]..start];
    if !before.chars().all(|c| c == ' ') {
        return Err(refuse(
            format!(
                "`people:` is written as a flow mapping (`{{ … }}`) at line {}",
                first + 1
            ),
            Some("write `people:` in block style, one person per line, then offboard"),
        ));
    }
    let (s, e) = lines.block(first, indent_of(line));
    edits.push(Edit {
        start: s,
        end: e,
        with: "",
    });
    removed.push(Removed {
        path: format!("people.{person}"),
        line: first + 1,
    });
    if let Some(Value::Object(p)) = expected.get_mut("people") {
        p.remove(person);
    }

    // Team memberships.
    let teams_path = root.key("teams");
    for team in tree.keys(&teams_path).unwrap_or_default() {
        let team_path = teams_path.key(team);
        let Some(Value::Array(members)) = tree.value(&team_path) else {
            continue;
        };
        let hits: Vec<usize> = (0..members.len())
            .filter(|i| members[*i].as_str() == Some(person))
            .collect();
        if hits.is_empty() {
            continue;
        }
        if hits.len() == members.len() {
            return Err(refuse(
                format!("team `{team}` would be left empty: `{person}` is its only member"),
                Some(
                    "remove the team and its grants, or add its new member, in a change of its own; then offboard",
                ),
            ));
        }
        for i in hits.iter().rev() {
            let item = team_path.index(*i);
            edits.push(list_item(&tree, &lines, &item)?);
            let pos = tree.value_pos(&item);
            removed.push(Removed {
                path: format!("teams.{team}"),
                line: pos.line,
            });
        }
        if let Some(Value::Array(list)) = expected.get_mut("teams").and_then(|t| t.get_mut(team)) {
            list.retain(|v| v.as_str() != Some(person));
        }
    }

    // Direct grants: by person key, or their email or account written out.
    let sites_path = root.key("sites");
    let theirs = |grant: &Value| {
        grant.get("person").and_then(Value::as_str) == Some(person)
            || (!email.is_empty()
                && grant
                    .get("email")
                    .and_then(Value::as_str)
                    .is_some_and(|e| e.to_lowercase() == email))
            || (trimmed_account.is_some()
                && grant
                    .get("wix_account_id")
                    .and_then(Value::as_str)
                    .map(str::trim)
                    == trimmed_account)
    };
    for site in tree.keys(&sites_path).unwrap_or_default() {
        let access_path = sites_path.key(site).key("access");
        let Some(Value::Array(grants)) = tree.value(&access_path) else {
            continue;
        };
        let hits: Vec<usize> = (0..grants.len()).filter(|i| theirs(&grants[*i])).collect();
        if hits.is_empty() {
            continue;
        }
        let all = hits.len() == grants.len();
        for i in &hits {
            let item = access_path.index(*i);
            let (s, e) = block_item(&tree, &lines, &item)?;
            edits.push(Edit {
                start: s,
                end: e,
                with: "",
            });
            removed.push(Removed {
                path: format!("sites.{site}.access[{i}]"),
                line: lines.line_of(s) + 1,
            });
        }
        if all {
            // `access:` with nothing under it would be null: `access: []`.
            let key = tree.key_pos(&access_path);
            let at = lines
                .offset(key.line, key.col)
                .ok_or_else(|| refuse("cannot locate `access:`", None))?;
            let rest = &text[at..lines.end(lines.line_of(at))];
            let Some(colon) = rest.strip_prefix("access").and_then(|r| {
                let spaces = r.len() - r.trim_start_matches(' ').len();
                r[spaces..].starts_with(':').then_some(6 + spaces + 1)
            }) else {
                return Err(refuse(
                    format!("cannot edit `access:` of site `{site}`"),
                    Some("remove the grants by hand"),
                ));
            };
            edits.push(Edit {
                start: at + colon,
                end: at + colon,
                with: " []",
            });
        }
        if let Some(Value::Array(list)) = expected
            .get_mut("sites")
            .and_then(|s| s.get_mut(site))
            .and_then(|s| s.get_mut("access"))
        {
            list.retain(|g| !theirs(g));
        }
    }

    edits.sort_by_key(|e| (e.start, e.end));
    for pair in edits.windows(2) {
        if pair[0].end > pair[1].start {
            return Err(refuse(
                "the person's entries overlap in the text",
                Some("remove the person by hand"),
            ));
        }
    }
    for edit in &edits {
        if let Some(found) = anchor_or_alias(&text[edit.start..edit.end]) {
            return Err(refuse(
                format!(
                    "line {} uses a YAML {found}; removing it could change other entries",
                    lines.line_of(edit.start) + 1
                ),
                Some("write the person's entries out without anchors and aliases, then offboard"),
            ));
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for edit in &edits {
        out.push_str(&text[at..edit.start]);
        out.push_str(edit.with);
        at = edit.end;
    }
    out.push_str(&text[at..]);

    // The result must be the document with exactly these entries gone.
    let again = Tree::build(&out);
    if !again.readable() || again.value(&root).as_ref() != Some(&expected) {
        return Err(refuse(
            "removing the person's lines would change more than their entries (a flow mapping over several lines, an alias, or the like)",
            Some("remove the person by hand"),
        ));
    }
    removed.sort_by_key(|r| r.line);
    let mut still_named = Vec::new();
    named_in(
        &expected,
        &YamlPath::root(),
        &email,
        account.as_deref(),
        &mut still_named,
    );
    Ok(Offboarding {
        person: person.to_string(),
        email,
        wix_account_id: account,
        text: out,
        removed,
        still_named,
    })
}

/// Paths of the strings in `value` that are `email` (lower-cased; in any
/// case, as the loader lower-cases, non-ASCII letters too) or `account`.
fn named_in(
    value: &Value,
    path: &YamlPath,
    email: &str,
    account: Option<&str>,
    out: &mut Vec<String>,
) {
    match value {
        Value::String(s)
            if (!email.is_empty() && s.to_lowercase() == email) || Some(s.as_str()) == account =>
        {
            out.push(path.to_string());
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                named_in(v, &path.index(i), email, account, out);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                named_in(v, &path.key(k), email, account, out);
            }
        }
        _ => {}
    }
}

/// The byte range of a block list item (`- …` and its deeper lines).
fn block_item(
    tree: &Tree<'_>,
    lines: &Lines<'_>,
    item: &YamlPath,
) -> Result<(usize, usize), Refusal> {
    let pos = tree.value_pos(item);
    let at = lines
        .offset(pos.line, pos.col)
        .ok_or_else(|| refuse(format!("cannot locate {item}"), None))?;
    let first = lines.line_of(at);
    let before = &lines.text[lines.starts[first]..at];
    let dash = before.trim_end_matches(' ');
    if !(dash.ends_with('-') && dash[..dash.len() - 1].chars().all(|c| c == ' ')) {
        return Err(refuse(
            format!("{item} (line {}) is not a block list item", first + 1),
            Some("write the list in block style, one `- ` item per entry, then offboard"),
        ));
    }
    Ok(lines.block(first, dash.len() - 1))
}

/// The edit removing `name` from a list of names: a block item's line, or a
/// flow item with the comma and space that separate it.
fn list_item(tree: &Tree<'_>, lines: &Lines<'_>, item: &YamlPath) -> Result<Edit, Refusal> {
    let pos = tree.value_pos(item);
    let text = lines.text;
    let at = lines
        .offset(pos.line, pos.col)
        .ok_or_else(|| refuse(format!("cannot locate {item}"), None))?;
    let first = lines.line_of(at);
    let line_end = lines.starts[first] + lines.line(first).len();
    let before = &text[lines.starts[first]..at];
    let token_end = token_end(text, at, line_end);
    let after = &text[token_end..line_end];
    let dash = before.trim_end_matches(' ');
    if dash.ends_with('-') && dash[..dash.len() - 1].chars().all(|c| c == ' ') {
        let rest = after.trim_start();
        if rest.is_empty() || rest.starts_with('#') {
            return Ok(Edit {
                start: lines.starts[first],
                end: lines.end(first),
                with: "",
            });
        }
    }
    // Spaces and tabs both separate flow items.
    let blank = [' ', '\t'];
    let prev = before.trim_end_matches(blank);
    let next = after.trim_start_matches(blank);
    let unlocatable = || {
        refuse(
            format!("cannot edit {item} (line {}) in place", first + 1),
            Some("write the list on one line (`[a, b]`) or one `- ` item per line, then offboard"),
        )
    };
    if let Some(rest) = next.strip_prefix(',') {
        // Not the last: take it, the comma and the spaces after.
        let spaces = rest.len() - rest.trim_start_matches(blank).len();
        if rest.trim_start().is_empty() {
            return Err(unlocatable());
        }
        let end = line_end - next.len() + 1 + spaces;
        return Ok(Edit {
            start: at,
            end,
            with: "",
        });
    }
    if next.starts_with(']') && prev.ends_with(',') {
        // The last: take the comma before it and what follows it.
        let prev_item = prev[..prev.len() - 1].trim_end_matches(blank);
        return Ok(Edit {
            start: lines.starts[first] + prev_item.len(),
            end: token_end,
            with: "",
        });
    }
    Err(unlocatable())
}

/// Where a flow scalar starting at `at` ends: after its closing quote, or
/// before the `,`, `]`, `}` or ` #` that ends a plain one.
fn token_end(text: &str, at: usize, line_end: usize) -> usize {
    let s = &text[at..line_end];
    let mut chars = s.char_indices();
    match chars.next() {
        Some((_, q @ ('"' | '\''))) => {
            let mut escaped = false;
            for (i, c) in chars {
                if escaped {
                    escaped = false;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q {
                    return at + i + 1;
                }
            }
            line_end
        }
        _ => {
            let end = s
                .find([',', ']', '}'])
                .or_else(|| s.find(" #"))
                .unwrap_or(s.len());
            at + s[..end].trim_end().len()
        }
    }
}

/// An anchor (`&a`) or alias (`*a`) in YAML text outside comments and
/// quotes.
fn anchor_or_alias(text: &str) -> Option<&'static str> {
    for line in text.lines() {
        let mut quote = None;
        let mut prev = ' ';
        for c in line.chars() {
            match quote {
                Some(q) => {
                    if c == q {
                        quote = None;
                    }
                }
                None => {
                    let at_token = matches!(prev, ' ' | '[' | '{' | ',' | ':' | '-' | '?');
                    match c {
                        '#' if prev == ' ' => break,
                        '"' | '\'' if at_token => quote = Some(c),
                        '&' if at_token => return Some("anchor (`&`)"),
                        '*' if at_token => return Some("alias (`*`)"),
                        _ => {}
                    }
                }
            }
            prev = c;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "\
people:
  alice: { email: alice@x.example }   # lead
  bob:   { email: bob@x.example, wix_account_id: acct-bob }
  carol:
    email: carol@x.example
    # contractor
    wix_account_id: acct-carol

teams:
  seo: [alice, bob]
  ops: [bob, carol]
  design:
    - carol
    - bob   # temp

sites:
  a:
    access:
      - team: seo
      - person: bob
        role: Admin
      # the writer
      - email: BOB@x.example
        role: Blog Writer
  b:
    access:   # only bob
      - { person: bob, role: Admin }
";

    #[test]
    fn removes_exactly_the_persons_lines() {
        let done = offboard(CONFIG, "bob").expect("edits");
        let want = "\
people:
  alice: { email: alice@x.example }   # lead
  carol:
    email: carol@x.example
    # contractor
    wix_account_id: acct-carol

teams:
  seo: [alice]
  ops: [carol]
  design:
    - carol

sites:
  a:
    access:
      - team: seo
      # the writer
  b:
    access: []   # only bob
";
        assert_eq!(done.text, want);
        assert!(done.still_named.is_empty(), "{:?}", done.still_named);
        assert_eq!(
            done.removed.iter().map(|r| r.line).collect::<Vec<_>>(),
            [3, 10, 11, 14, 20, 23, 27]
        );
    }

    #[test]
    fn a_block_person_and_a_middle_flow_item() {
        let text = format!("{CONFIG}requests:\n  email:\n    reply_to: Carol@x.example\n");
        let done = offboard(&text, "carol").expect("edits");
        assert_eq!(done.still_named, ["requests.email.reply_to"]);
        assert!(!done.text.contains("carol"), "{}", done.text);
        assert!(done.text.contains("  ops: [bob]\n"), "{}", done.text);
        assert!(done.text.contains("  design:\n    - bob   # temp\n"));
    }

    #[test]
    fn a_flow_mapping_over_several_lines_goes_whole() {
        let text = CONFIG.replace(
            "      - { person: bob, role: Admin }\n",
            "      - { person: bob,\n          role: Admin }\n      - team: seo\n",
        );
        let done = offboard(&text, "bob").expect("edits");
        assert!(
            done.text
                .ends_with("    access:   # only bob\n      - team: seo\n"),
            "{}",
            done.text
        );
    }

    #[test]
    fn every_person_of_the_example_is_removed_validly_or_refused() {
        let text = include_str!("../../examples/agency.yaml");
        let path = std::path::Path::new("agency.yaml");
        let mut outcomes = Vec::new();
        for person in ["alice", "bob", "carol", "dan", "erin"] {
            match offboard(text, person) {
                Ok(done) => {
                    let loaded = crate::config::load_str(path, done.text.as_bytes())
                        .unwrap_or_else(|r| panic!("{person}: {}", r.render()));
                    assert!(!loaded.config.people.contains_key(person));
                    outcomes.push((person, done.removed.len()));
                }
                Err(_) => outcomes.push((person, 0)),
            }
        }
        assert_eq!(
            outcomes,
            [
                ("alice", 0),
                ("bob", 3),
                ("carol", 0),
                ("dan", 3),
                ("erin", 2)
            ]
        );
        // erin's only grant goes: the site keeps an empty list.
        let done = offboard(text, "erin").expect("edits");
        assert!(
            done.text.contains("    access: []\n\n  harbor-cafe:\n"),
            "{}",
            done.text
        );
    }

    #[test]
    fn refusals() {
        let e = offboard(CONFIG, "bobb").unwrap_err();
        assert!(e.hint.unwrap().contains("did you mean `bob`?"));
        let anchored = CONFIG.replace("bob:   {", "bob: &b {");
        let e = offboard(&anchored, "bob").unwrap_err();
        assert!(e.message.contains("anchor"), "{e:?}");
        let protected = format!("{CONFIG}safety:\n  protect: [bob]\n");
        let e = offboard(&protected, "bob").unwrap_err();
        assert!(e.message.contains("safety.protect"), "{e:?}");
        let lonely = CONFIG.replace("ops: [bob, carol]", "ops: [bob]");
        let e = offboard(&lonely, "bob").unwrap_err();
        assert!(e.message.contains("team `ops`"), "{e:?}");
        let aliased = format!("extra: &g {{ person: bob, role: Admin }}\n{CONFIG}")
            .replace("      - { person: bob, role: Admin }\n", "      - *g\n");
        let e = offboard(&aliased, "bob").unwrap_err();
        assert!(e.message.contains("alias"), "{e:?}");
        let flow_access = CONFIG.replace(
            "      - { person: bob, role: Admin }\n",
            "      [{ person: bob, role: Admin }, { team: seo }]\n",
        );
        let e = offboard(&flow_access, "bob").unwrap_err();
        assert!(e.message.contains("not a block list item"), "{e:?}");
        let flow = "people: { alice: { email: a@x.example }, bob: { email: b@x.example } }\n";
        let e = offboard(flow, "bob").unwrap_err();
        assert!(e.message.contains("flow mapping"), "{e:?}");
    }
}
