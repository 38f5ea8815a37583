//! The JSON schema of the config file, and checking a document against it.
//!
//! The schema is generated from [`super::raw`] and published (committed under
//! `schemas/`) for editors. The command line validates every document against
//! the very same schema with `jsonschema`, so a file the editor accepts is a
//! file the tool accepts, and the other way round. This module then turns
//! jsonschema's errors, which carry JSON pointers and terse wording, into
//! located diagnostics in plain words ("wrong type for `roles`: expected a
//! list of role names, found a string"), with "did you mean" for unknown keys.
//!
//! Values are never copied from jsonschema's own messages, so a secret pasted
//! into the wrong place cannot leak through them. Checks on `api_key_env` and
//! the other `*_env` names are left to [`super::validate`] and
//! [`super::requests`], which know how to talk about secrets.

use std::collections::HashSet;
use std::path::Path;
use std::sync::OnceLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::LocationSegment;
use jsonschema::{JsonType, ValidationError, Validator};
use schemars::generate::SchemaSettings;
use schemars::transform::RecursiveTransform;
use serde_json::Value;

use super::locate::{Seg, Tree, YamlPath};
use super::raw::RawConfig;
use crate::diag::{Diagnostic, did_you_mean};

/// The schema as a JSON value.
pub fn schema_value() -> Value {
    let settings = SchemaSettings::draft2020_12().with_transform(RecursiveTransform(
        |schema: &mut schemars::Schema| {
            // Optional fields are `Option`s whose serde default is `None`;
            // schemars writes that as `"default": null`, which would tell an
            // editor that `null` is a fine value. It is not.
            if let Some(obj) = schema.as_object_mut()
                && obj.get("default") == Some(&Value::Null)
            {
                obj.remove("default");
            }
        },
    ));
    settings
        .into_generator()
        .into_root_schema_for::<RawConfig>()
        .to_value()
}

/// Pretty JSON of the schema with a trailing newline. Deterministic: object
/// keys are sorted.
pub fn schema_json() -> String {
    let mut text = serde_json::to_string_pretty(&schema_value()).unwrap_or_default();
    text.push('\n');
    text
}

struct Compiled {
    schema: Value,
    validator: Result<Validator, String>,
}

fn compiled() -> &'static Compiled {
    static COMPILED: OnceLock<Compiled> = OnceLock::new();
    COMPILED.get_or_init(|| {
        let schema = schema_value();
        let validator = jsonschema::validator_for(&schema).map_err(|e| e.to_string());
        Compiled { schema, validator }
    })
}

/// Checks `doc` against the schema. Returns one diagnostic per problem, each
/// placed with `tree`.
pub fn check(doc: &Value, tree: &Tree, file: &Path) -> Vec<Diagnostic> {
    let compiled = compiled();
    let validator = match &compiled.validator {
        Ok(v) => v,
        Err(e) => {
            return vec![Diagnostic::error(
                file,
                None,
                format!("internal error: the config schema does not compile: {e}"),
            )];
        }
    };
    // Most documents are valid, and asking only that is several times
    // faster than collecting errors.
    if validator.is_valid(doc) {
        return Vec::new();
    }
    let errors: Vec<ValidationError<'_>> = validator.iter_errors(doc).collect();
    // A value of the wrong type also fails every other rule at its place
    // (`required` passes on a string, so a string grant "matches" both
    // principals). The type error says it all.
    let mistyped: HashSet<&str> = errors
        .iter()
        .filter(|e| matches!(e.kind(), ValidationErrorKind::Type { .. }))
        .map(|e| e.instance_path().as_str())
        .collect();
    let mut out = Vec::new();
    for error in &errors {
        let is_type = matches!(error.kind(), ValidationErrorKind::Type { .. });
        if !is_type && mistyped.contains(error.instance_path().as_str()) {
            continue;
        }
        let before = out.len();
        explain(error, &compiled.schema, doc, tree, file, &mut out);
        // Whatever is wrong with `api_key_env` (or any `*_env`), its line
        // may hold a key.
        if error.instance_path().as_str().ends_with("_env") {
            for d in out.iter_mut().skip(before) {
                d.redact_source = true;
            }
        }
    }
    out
}

fn path_of(error: &ValidationError<'_>) -> YamlPath {
    YamlPath(
        error
            .instance_path()
            .segments()
            .map(|s| match s {
                LocationSegment::Property(p) => Seg::Key(p.into_owned()),
                LocationSegment::Index(i) => Seg::Index(i),
            })
            .collect(),
    )
}

/// The value at `path` in `doc`.
fn value_at<'v>(doc: &'v Value, path: &YamlPath) -> Option<&'v Value> {
    let mut cur = doc;
    for seg in path.segs() {
        cur = match (cur, seg) {
            (Value::Object(m), Seg::Key(k)) => m.get(k)?,
            // JSON pointers cannot tell the key `7` from the index 7.
            (Value::Object(m), Seg::Index(i)) => m.get(&i.to_string())?,
            (Value::Array(a), Seg::Index(i)) => a.get(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// The schema object holding the keyword an error came from: the error's
/// schema path is a JSON pointer into the root schema ending in the keyword.
fn keyword_parent<'s>(schema: &'s Value, error: &ValidationError<'_>) -> Option<&'s Value> {
    let pointer = error.schema_path().as_str();
    let parent = pointer.rsplit_once('/').map_or("", |(head, _)| head);
    schema.pointer(parent)
}

/// Resolves a local `$ref` (`#/$defs/Name`), once per call; schemars only
/// writes refs to definitions, which are never refs themselves.
fn deref<'s>(root: &'s Value, node: &'s Value) -> &'s Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(r) => r
            .strip_prefix('#')
            .and_then(|p| root.pointer(p))
            .unwrap_or(node),
        None => node,
    }
}

/// The schema node that describes the value at `path`, following
/// `properties`, `additionalProperties`, `items` and `$ref`s.
pub(crate) fn schema_at<'s>(root: &'s Value, path: &YamlPath) -> Option<&'s Value> {
    let mut node = deref(root, root);
    for seg in path.segs() {
        let next = match seg {
            Seg::Key(k) => node
                .get("properties")
                .and_then(|p| p.get(k))
                .or_else(|| node.get("additionalProperties").filter(|a| a.is_object())),
            Seg::Index(_) => node.get("items"),
        }?;
        node = deref(root, next);
    }
    Some(node)
}

/// Names of the keys allowed in the mapping described by `node`.
fn allowed_keys(node: &Value) -> Vec<&str> {
    node.get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

/// `a`, `a` or `b`, `a`, `b` or `c` (each in backticks).
pub(crate) fn either(items: &[&str], last: &str) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("`{i}`")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((only, [])) => only.clone(),
        Some((tail, head)) => format!("{} {last} {tail}", head.join(", ")),
    }
}

/// The path with mapping keys chosen by the user (people, team and site
/// keys) and list indexes replaced by `*`: `sites.*.access.*.roles`.
fn shape(path: &YamlPath) -> String {
    let mut parts: Vec<&str> = Vec::new();
    let mut user_key_next = false;
    for seg in path.segs() {
        match seg {
            Seg::Index(_) => parts.push("*"),
            Seg::Key(_) if user_key_next => parts.push("*"),
            Seg::Key(k) => parts.push(k),
        }
        user_key_next =
            parts.len() == 1 && matches!(parts.first(), Some(&"people" | &"teams" | &"sites"));
    }
    parts.join(".")
}

/// What the value at `path` should be, in words.
fn expected(path: &YamlPath, node: Option<&Value>) -> String {
    let known = match shape(path).as_str() {
        "" => "a mapping with `version`, `people`, `teams` and `sites`",
        "version" => "the number `2`",
        "ledger_dir" => "a directory path",
        "people" => "a mapping of person keys to people",
        "people.*" => "a person (a mapping with `email`)",
        "people.*.email" | "sites.*.owner.email" | "sites.*.access.*.email" => "an email address",
        "people.*.wix_account_id" | "sites.*.access.*.wix_account_id" => {
            "a Wix account id (a string)"
        }
        "teams" => "a mapping of team keys to lists of people",
        "teams.*" | "safety.protect" => "a list of people (keys of `people`)",
        "teams.*.*" | "safety.protect.*" | "sites.*.access.*.person" => "a person key",
        "sites" => "a mapping of site keys to sites",
        "sites.*" => "a site (a mapping with `wix` and `access`)",
        "sites.*.wix" => "a mapping with `site_id` and `account_id`",
        "sites.*.wix.site_id" => "a Wix site id (a string)",
        "sites.*.wix.account_id" => "a Wix account id (a string)",
        "sites.*.wix.api_key_env" => "the name of an environment variable",
        "invite_language" | "sites.*.wix.invite_language" => "a language code such as `de`",
        "sites.*.owner" => "a contact (a mapping with `email` and, optionally, `name`)",
        "sites.*.owner.name" => "a name",
        "sites.*.unmanaged" => "`keep`, `warn` or `remove`",
        "sites.*.access" => "a list of grants",
        "sites.*.access.*" => "a grant (a mapping with `role` or `roles` and a principal)",
        "sites.*.access.*.team" => "a team key",
        "sites.*.access.*.role" | "sites.*.access.*.roles.*" => "a role name",
        "sites.*.access.*.roles" => "a list of role names",
        "sites.*.access.*.until" => "a date (yyyy-mm-dd)",
        "safety" => "a mapping with `max_removals_per_site`, `max_removals_total` and `protect`",
        "safety.max_removals_per_site" | "safety.max_removals_total" => "a whole number",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_string();
    }
    let ty = node.and_then(|n| n.get("type")).and_then(Value::as_str);
    match ty {
        Some("string") => "a string",
        Some("integer") => "a whole number",
        Some("number") => "a number",
        Some("boolean") => "`true` or `false`",
        Some("array") => "a list",
        Some("object") => "a mapping",
        _ => "a different value",
    }
    .to_string()
}

/// What a value is, in words.
pub(crate) fn found(value: Option<&Value>) -> &'static str {
    match value {
        None | Some(Value::Null) => "nothing",
        Some(Value::Bool(_)) => "`true`/`false`",
        Some(Value::Number(_)) => "a number",
        Some(Value::String(_)) => "a string",
        Some(Value::Array(_)) => "a list",
        Some(Value::Object(_)) => "a mapping",
    }
}

/// How to refer to the mapping at `path` in a message: "site `acme`",
/// "person `alice`", "`wix` of site `acme`", "grant 2 of site `acme`".
fn describe_mapping(path: &YamlPath) -> String {
    let segs = path.segs();
    match segs {
        [] => "the file".to_string(),
        [Seg::Key(c), Seg::Key(k)] if c == "people" => format!("person `{k}`"),
        [Seg::Key(c), Seg::Key(k)] if c == "sites" => format!("site `{k}`"),
        [Seg::Key(c), Seg::Key(k), Seg::Key(a), Seg::Index(i)] if c == "sites" && a == "access" => {
            format!("grant {} of site `{k}`", i + 1)
        }
        [Seg::Key(c), Seg::Key(k), Seg::Key(f)] if c == "sites" => format!("`{f}` of site `{k}`"),
        [Seg::Key(c), Seg::Key(r), Seg::Index(i)] if c == "policies" && r == "rules" => {
            format!("rule {} of `policies`", i + 1)
        }
        _ => format!("`{}`", path.name()),
    }
}

/// "at the top level" or "in site `acme`".
fn in_mapping(path: &YamlPath) -> String {
    if path.segs().is_empty() {
        "at the top level".to_string()
    } else {
        format!("in {}", describe_mapping(path))
    }
}

fn explain(
    error: &ValidationError<'_>,
    schema: &Value,
    doc: &Value,
    tree: &Tree,
    file: &Path,
    out: &mut Vec<Diagnostic>,
) {
    let path = path_of(error);
    let instance = value_at(doc, &path);
    let name = path.name();
    let at_value = Some(tree.value_pos(&path));
    let at_key = Some(tree.key_pos(&path));
    match error.kind() {
        ValidationErrorKind::Type { kind } => {
            let node = schema_at(schema, &path);
            let want = expected(&path, node);
            let what = if path.segs().is_empty() {
                "wrong type for the file".to_string()
            } else {
                format!("wrong type for `{name}`")
            };
            let mut d = Diagnostic::error(
                file,
                at_value,
                format!("{what}: expected {want}, found {}", found(instance)),
            );
            if let Some(hint) = type_hint(&path, kind, instance, node) {
                d = d.with_hint(hint);
            }
            out.push(d);
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let node = keyword_parent(schema, error).or_else(|| schema_at(schema, &path));
            let allowed = node.map(allowed_keys).unwrap_or_default();
            for key in unexpected {
                let where_ = in_mapping(&path);
                let mut d = Diagnostic::error(
                    file,
                    Some(tree.key_pos(&path.key(key))),
                    format!("unknown key `{key}` {where_}"),
                );
                if let Some(close) = did_you_mean(key, allowed.iter().copied()) {
                    d = d.with_hint(format!("did you mean `{close}`?"));
                } else if !allowed.is_empty() {
                    d = d.with_hint(format!("expected {}", either(&allowed, "or")));
                }
                out.push(d);
            }
        }
        ValidationErrorKind::Required { property } => {
            let key = property.as_str().unwrap_or_default();
            let d = if path.segs().is_empty() && key == "version" {
                Diagnostic::error(file, Some(tree.value_pos(&path)), "missing `version`")
                    .with_hint("add `version: 2` as the first line")
            } else {
                Diagnostic::error(
                    file,
                    at_value,
                    format!("missing `{key}` {}", in_mapping(&path)),
                )
            };
            out.push(d);
        }
        ValidationErrorKind::Constant { expected_value } => {
            let want = expected_value.to_string();
            let got = match instance {
                Some(Value::Number(n)) => format!(" `{n}`"),
                _ => String::new(),
            };
            let mut d = Diagnostic::error(
                file,
                at_value,
                format!("unsupported `{name}`{got}: expected `{want}`"),
            );
            if path.last_key() == Some("version") {
                d = d.with_hint(if got == " `1`" {
                    format!(
                        "version {want} reads every version-1 file unchanged and adds `levels`, `ga4` and `gtm`; \
                         run `accessctl migrate {}` to upgrade it in place",
                        file.display()
                    )
                } else {
                    format!("this accessctl reads `version: {want}` files; check that it is up to date")
                });
            }
            out.push(d);
        }
        ValidationErrorKind::Enum { options } => {
            let opts: Vec<&str> = options
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            out.push(bad_choice(file, at_value, &name, instance, &opts));
        }
        ValidationErrorKind::OneOfNotValid { .. }
        | ValidationErrorKind::OneOfMultipleValid { .. } => {
            let multiple = matches!(error.kind(), ValidationErrorKind::OneOfMultipleValid { .. });
            let branches = schema
                .pointer(error.schema_path().as_str())
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let required: Vec<&str> = branches
                .iter()
                .filter_map(|b| b.get("required")?.as_array()?.first()?.as_str())
                .collect();
            let consts: Vec<&str> = branches
                .iter()
                .filter_map(|b| b.get("const")?.as_str())
                .collect();
            if !required.is_empty() && required.len() == branches.len() {
                out.push(exactly_one(
                    file, tree, &path, instance, &required, multiple,
                ));
            } else if !consts.is_empty() && consts.len() == branches.len() {
                out.push(bad_choice(file, at_value, &name, instance, &consts));
            } else {
                out.push(Diagnostic::error(
                    file,
                    at_value,
                    format!("invalid `{name}`: {}", error.masked()),
                ));
            }
        }
        ValidationErrorKind::MinItems { limit } => {
            let mut d = if *limit == 1 {
                Diagnostic::error(file, at_value, format!("`{name}` is empty"))
            } else {
                Diagnostic::error(
                    file,
                    at_value,
                    format!("`{name}` needs at least {limit} items"),
                )
            };
            if path.last_key() == Some("roles") {
                d = d.with_hint("list at least one role, e.g. `roles: [Blog Editor]`");
            }
            out.push(d);
        }
        ValidationErrorKind::MinLength { .. } => {
            out.push(Diagnostic::error(
                file,
                at_value,
                format!("`{name}` is empty"),
            ));
        }
        ValidationErrorKind::Minimum { limit }
        | ValidationErrorKind::ExclusiveMinimum { limit } => {
            out.push(
                Diagnostic::error(
                    file,
                    at_value,
                    format!(
                        "`{name}` is too small: expected at least {limit}{}",
                        number_suffix(instance)
                    ),
                )
                .with_hint(format!("set `{name}` to {limit} or more")),
            );
        }
        ValidationErrorKind::Maximum { limit }
        | ValidationErrorKind::ExclusiveMaximum { limit } => {
            out.push(
                Diagnostic::error(
                    file,
                    at_value,
                    format!(
                        "`{name}` is too large: expected at most {limit}{}",
                        number_suffix(instance)
                    ),
                )
                .with_hint(format!("set `{name}` to {limit} or less")),
            );
        }
        ValidationErrorKind::Pattern { .. }
            if path.last_key().is_some_and(|k| k.ends_with("_env")) =>
        {
            // Reported by `validate`, which never repeats the value.
        }
        ValidationErrorKind::Pattern { pattern } => {
            let mut d = Diagnostic::error(
                file,
                at_value,
                format!("`{name}` does not match the pattern `{pattern}`"),
            );
            if path.last_key() == Some("invite_language") {
                d = d.with_hint(
                    "an ISO-639 language code such as `de`, or with a region, `pt-BR`; leave it out to let Wix use the site owner's language",
                );
            }
            if path.name().starts_with("agency_domains[") {
                d = d.with_hint(
                    "an email domain in lower case, such as `example-agency.com`: the part after `@` (no wildcards; subdomains are listed one by one)",
                );
            }
            out.push(d);
        }
        ValidationErrorKind::PropertyNames { error: inner } => {
            let key = inner.instance().as_str().unwrap_or_default();
            let what = match path.last_key() {
                Some("people") => "person key",
                Some("teams") => "team key",
                Some("sites") => "site key",
                _ => "key",
            };
            out.push(
                Diagnostic::error(
                    file,
                    Some(tree.key_pos(&path.key(key))),
                    format!("invalid {what} `{key}`"),
                )
                .with_hint(key_hint(key)),
            );
        }
        ValidationErrorKind::Format { .. } => {
            // Formats are annotations for editors; `validate` checks emails
            // and dates with better messages.
        }
        _ => {
            out.push(Diagnostic::error(
                file,
                at_key,
                format!("invalid `{name}`: {}", error.masked()),
            ));
        }
    }
}

fn number_suffix(instance: Option<&Value>) -> String {
    match instance {
        Some(Value::Number(n)) => format!(", found {n}"),
        _ => String::new(),
    }
}

/// The hint for a key that breaks the key pattern: the nearest valid key.
pub(crate) fn key_hint(key: &str) -> String {
    let mut fixed = String::new();
    for c in key.trim().chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            fixed.push(c.to_ascii_lowercase());
        } else if c.is_whitespace() || c == '.' {
            fixed.push('-');
        }
    }
    let fixed = fixed.trim_start_matches(['-', '_']).to_string();
    let rule = "keys use lower-case letters, digits, `-` and `_`, and start with a letter or digit";
    if fixed.is_empty() || fixed == key {
        rule.to_string()
    } else {
        format!("{rule}; e.g. `{fixed}`")
    }
}

/// A value that must be one of a few words.
fn bad_choice(
    file: &Path,
    pos: Option<crate::model::Pos>,
    name: &str,
    instance: Option<&Value>,
    options: &[&str],
) -> Diagnostic {
    let allowed = either(options, "or");
    match instance.and_then(Value::as_str) {
        Some(got) => {
            let d = Diagnostic::error(
                file,
                pos,
                format!("unknown value `{got}` for `{name}`: expected {allowed}"),
            );
            match did_you_mean(got, options.iter().copied()) {
                Some(close) => d.with_hint(format!("did you mean `{close}`?")),
                None => d,
            }
        }
        None => Diagnostic::error(
            file,
            pos,
            format!(
                "wrong type for `{name}`: expected {allowed}, found {}",
                found(instance)
            ),
        ),
    }
}

/// A grant that names none or several of a set of keys.
fn exactly_one(
    file: &Path,
    tree: &Tree,
    path: &YamlPath,
    instance: Option<&Value>,
    keys: &[&str],
    multiple: bool,
) -> Diagnostic {
    let is_role = keys.contains(&"role");
    let is_rule = keys.contains(&"forbid_outside");
    let what = describe_mapping(path);
    if multiple {
        let present: Vec<&str> = keys
            .iter()
            .copied()
            .filter(|k| instance.and_then(|i| i.get(*k)).is_some())
            .collect();
        // Point at the key written last: the one that made it too many.
        let pos = present
            .iter()
            .map(|k| tree.key_pos(&path.key(k)))
            .max()
            .unwrap_or_else(|| tree.value_pos(path));
        if present.len() < 2 {
            return Diagnostic::error(
                file,
                Some(pos),
                format!("{what} must have exactly one of {}", either(keys, "or")),
            );
        }
        let both = if present.len() == 2 { "both " } else { "" };
        let listed = either(&present, "and");
        if is_role {
            Diagnostic::error(file, Some(pos), format!("{what} has {both}{listed}"))
                .with_hint("use `role: A` for one role or `roles: [A, B]` for several, not both")
        } else if is_rule {
            Diagnostic::error(
                file,
                Some(pos),
                format!("{what} has {both}{listed}: a rule is exactly one of them"),
            )
            .with_hint("write one rule per kind, each its own list item")
        } else {
            Diagnostic::error(
                file,
                Some(pos),
                format!("{what} names {both}{listed}: a grant is for exactly one of them"),
            )
            .with_hint("write one grant per principal")
        }
    } else {
        let pos = Some(tree.value_pos(path));
        if is_role {
            Diagnostic::error(file, pos, format!("{what} has no role"))
                .with_hint("add `role: <role name>` or `roles: [<role name>, ...]`")
        } else if is_rule {
            Diagnostic::error(
                file,
                pos,
                format!("{what} says no rule: expected {}", either(keys, "or")),
            )
            .with_hint("README, \"Policy rules\", shows each kind with an example")
        } else {
            Diagnostic::error(
                file,
                pos,
                format!("{what} names no one: expected {}", either(keys, "or")),
            )
        }
    }
}

fn type_hint(
    path: &YamlPath,
    kind: &TypeKind,
    instance: Option<&Value>,
    node: Option<&Value>,
) -> Option<String> {
    let wants = |t: JsonType| match kind {
        TypeKind::Single(s) => *s == t,
        TypeKind::Multiple(set) => set.contains(t),
    };
    let last = path.last_key();
    match instance {
        None | Some(Value::Null) => {
            // `{}` is no use where keys are required.
            let has_required =
                node.is_some_and(|n| n.get("required").is_some() || n.get("allOf").is_some());
            let remove = match path.segs().last() {
                Some(Seg::Index(_)) => "remove the empty item",
                _ => "remove the key",
            };
            if wants(JsonType::Array) {
                Some(format!("list the items, write `[]` for none, or {remove}"))
            } else if wants(JsonType::Object) && !has_required {
                Some(format!("add its keys, write `{{}}` for none, or {remove}"))
            } else if wants(JsonType::Object) {
                Some(format!("add its keys, or {remove}"))
            } else {
                Some(format!("write a value, or {remove}"))
            }
        }
        Some(Value::Number(_) | Value::Bool(_)) if wants(JsonType::String) => {
            Some("put the value in quotes so that YAML reads it as text".to_string())
        }
        Some(Value::String(s)) if wants(JsonType::Array) => {
            let item = if s.chars().count() <= 40 {
                s.as_str()
            } else {
                "..."
            };
            if last == Some("roles") {
                Some(format!(
                    "write `roles: [{item}]`, or use `role:` for a single role"
                ))
            } else {
                Some(format!("write a list, e.g. `[{item}]`"))
            }
        }
        Some(Value::Array(_)) if last == Some("role") => {
            Some("use `roles:` for a list of roles".to_string())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_is_deterministic_and_compiles() {
        assert_eq!(schema_json(), schema_json());
        assert!(schema_json().ends_with("}\n"));
        assert!(compiled().validator.is_ok());
    }

    #[test]
    fn schema_has_no_null_defaults() {
        assert!(!schema_json().contains("\"default\": null"));
    }

    #[test]
    fn walks_the_schema_through_refs() {
        let schema = schema_value();
        let path = YamlPath::root()
            .key("sites")
            .key("x")
            .key("access")
            .index(0);
        let node = schema_at(&schema, &path);
        let keys = node.map(allowed_keys).unwrap_or_default();
        assert!(keys.contains(&"roles"), "{keys:?}");
    }

    #[test]
    fn shapes_paths() {
        let path = YamlPath::root()
            .key("sites")
            .key("acme")
            .key("access")
            .index(2)
            .key("roles");
        assert_eq!(shape(&path), "sites.*.access.*.roles");
        assert_eq!(
            shape(&YamlPath::root().key("safety").key("protect")),
            "safety.protect"
        );
    }

    #[test]
    fn lists_choices() {
        assert_eq!(either(&["a"], "or"), "`a`");
        assert_eq!(either(&["a", "b"], "or"), "`a` or `b`");
        assert_eq!(either(&["a", "b", "c"], "and"), "`a`, `b` and `c`");
    }

    #[test]
    fn suggests_valid_keys() {
        assert_eq!(
            key_hint("Acme Bakery"),
            "keys use lower-case letters, digits, `-` and `_`, and start with a letter or digit; e.g. `acme-bakery`"
        );
    }
}
