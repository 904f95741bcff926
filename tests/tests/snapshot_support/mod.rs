//! What `cli_snapshots.rs` and `json_shapes.rs` share: transcripts of
//! command runs compared with snapshot files, and the JSON shapes of
//! `--json` outputs compared with expected-shape files.
//!
//! Both kinds of file live under `tests/cmd/`. With `SNAPSHOTS=overwrite`
//! in the environment, a file that does not match is rewritten from what
//! the commands printed; read every changed line before committing it.
#![allow(
    dead_code,
    reason = "shared by several test files, each of which uses only part of it"
)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use confrere_tests::Outcome;
use serde_json::{Map, Value};

/// `tests/cmd/` of this crate.
pub(crate) fn cmd_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("cmd")
}

/// Whether snapshots are to be rewritten (`SNAPSHOTS=overwrite`).
pub(crate) fn overwrite() -> bool {
    std::env::var("SNAPSHOTS").is_ok_and(|v| v == "overwrite")
}

// ---------------------------------------------------------------------------
// Transcripts
// ---------------------------------------------------------------------------

/// The runs of a series of commands, as a person would read them in a
/// terminal: the command line, the exit code when it is not 0, then what
/// it printed (standard output, then standard error). Paths, ids and times
/// that change from run to run are replaced by names in brackets.
#[derive(Debug, Default)]
pub(crate) struct Transcript {
    text: String,
    redactions: Vec<(String, String)>,
}

impl Transcript {
    /// An empty transcript.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Writes `placeholder` (like `[GP_HOME]`) wherever `value` appears.
    /// Longer values are replaced first.
    pub(crate) fn redact(&mut self, value: impl Into<String>, placeholder: &str) {
        let value = value.into();
        if value.is_empty() {
            return;
        }
        self.redactions.push((value, placeholder.to_owned()));
        self.redactions
            .sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
    }

    /// Text with every redaction applied, and RFC 3339 instants of this
    /// century written `[TIME]`.
    pub(crate) fn clean(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (value, placeholder) in &self.redactions {
            out = out.replace(value.as_str(), placeholder);
        }
        redact_times(&out)
    }

    /// A comment line (`# …`) between runs.
    pub(crate) fn note(&mut self, text: &str) {
        let _ = writeln!(self.text, "# {text}");
    }

    /// `confrere ARGS` as a shell line, redacted.
    pub(crate) fn command_line(&self, args: &[&str]) -> String {
        let shown: Vec<String> = args.iter().map(|a| shell_word(a)).collect();
        self.clean(&format!("confrere {}", shown.join(" ")))
    }

    /// Records a run of `confrere ARGS`; `env` is shown before it, as a
    /// shell would take it.
    pub(crate) fn record(&mut self, env: &str, args: &[&str], out: &Outcome) {
        let line = format!("{env}{}", self.command_line(args));
        let _ = writeln!(self.text, "$ {line}");
        match out.code {
            Some(0) => {}
            Some(c) => {
                let _ = writeln!(self.text, "? {c}");
            }
            None => {
                let _ = writeln!(self.text, "? killed");
            }
        }
        for stream in [&out.stdout, &out.stderr] {
            let cleaned = self.clean(stream);
            self.text.push_str(&cleaned);
            if !cleaned.is_empty() && !cleaned.ends_with('\n') {
                self.text.push('\n');
            }
        }
        self.text.push('\n');
    }

    /// The transcript so far.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// Compares the transcript with `tests/cmd/FILE`; see [`check_text`].
    pub(crate) fn check(&self, file: &str) -> Result<(), String> {
        check_text(file, &self.text)
    }
}

/// Compares `actual` with `tests/cmd/FILE` (`[..]` in the file matches
/// anything within a line, `...` alone on a line any lines). Returns what
/// differs.
pub(crate) fn check_text(file: &str, actual: &str) -> Result<(), String> {
    let path = cmd_dir().join(file);
    let expected = snapbox::Data::read_from(&path, None);
    // Backslashes are kept: a document name like `..\\x.pdf`, or a line
    // continuation in a help text, must show as it is.
    snapbox::Assert::new()
        .action_env("SNAPSHOTS")
        .normalize_paths(false)
        .try_eq(
            Some(&path.display()),
            snapbox::Data::text(actual.to_owned()),
            expected,
        )
        .map_err(|e| format!("{file}: {e}"))
}

/// A command-line word quoted for a POSIX shell when it needs it.
pub(crate) fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(b, b'-' | b'_' | b'.' | b'/' | b':' | b'=' | b',')
                || b == b'['
                || b == b']'
        });
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Replaces `20YY-MM-DDTHH:MM:SSZ` (with or without fractions of a second)
/// by `[TIME]`.
pub(crate) fn redact_times(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i + 20 <= b.len() {
        let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
        let shape = b[i] == b'2'
            && b[i + 1] == b'0'
            && digits(i..i + 4)
            && b[i + 4] == b'-'
            && digits(i + 5..i + 7)
            && b[i + 7] == b'-'
            && digits(i + 8..i + 10)
            && b[i + 10] == b'T'
            && digits(i + 11..i + 13)
            && b[i + 13] == b':'
            && digits(i + 14..i + 16)
            && b[i + 16] == b':'
            && digits(i + 17..i + 19);
        if !shape {
            i += 1;
            continue;
        }
        let mut end = i + 19;
        if b.get(end) == Some(&b'.') {
            end += 1;
            while b.get(end).is_some_and(u8::is_ascii_digit) {
                end += 1;
            }
        }
        if b.get(end) != Some(&b'Z') {
            i += 1;
            continue;
        }
        out.push_str(&text[copied..i]);
        out.push_str("[TIME]");
        i = end + 1;
        copied = i;
    }
    out.push_str(&text[copied..]);
    out
}

// ---------------------------------------------------------------------------
// JSON shapes
// ---------------------------------------------------------------------------
//
// A shape names the JSON type of every field, recursively:
// - `"string"`, `"number"`, `"boolean"`, `"null"`, or a union such as
//   `"string|null"` (a field that may be absent-valued);
// - `{ "field": SHAPE, … }`: an object with exactly these fields;
// - `[SHAPE, …]`: a list whose every element has one of these shapes, each
//   of them seen at least once in the lists at that place of the document
//   (unless they are all empty);
// - `{ "$one_of": [SHAPE, …] }`: a value of one of these shapes (an object
//   or `null`).
//
// A renamed, removed or added field, or a field whose type changes, makes
// the comparison fail.

const ONE_OF: &str = "$one_of";

/// The type name of a JSON value.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The shape of a JSON value (see above).
pub(crate) fn shape_of(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                out.insert(k.clone(), shape_of(v));
            }
            Value::Object(out)
        }
        Value::Array(items) => {
            let mut alternatives: Vec<Value> = Vec::new();
            for item in items {
                let s = shape_of(item);
                match alternatives.iter_mut().find(|a| same_kind(a, &s)) {
                    Some(a) => *a = merge(a, &s),
                    None => alternatives.push(s),
                }
            }
            Value::Array(alternatives)
        }
        other => Value::String(type_name(other).to_owned()),
    }
}

/// Whether two shapes describe values that one shape can cover: objects
/// with the same fields, two lists, two primitives.
fn same_kind(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            !x.contains_key(ONE_OF)
                && !y.contains_key(ONE_OF)
                && x.len() == y.len()
                && x.keys().all(|k| y.contains_key(k))
        }
        (Value::Array(_), Value::Array(_)) | (Value::String(_), Value::String(_)) => true,
        _ => false,
    }
}

/// One shape covering both.
fn merge(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (Value::String(x), Value::String(y)) => {
            let mut types: Vec<&str> = x.split('|').chain(y.split('|')).collect();
            let order = ["string", "number", "boolean", "null"];
            types.sort_by_key(|t| order.iter().position(|o| o == t).unwrap_or(order.len()));
            types.dedup();
            Value::String(types.join("|"))
        }
        (Value::Object(x), Value::Object(y)) if same_kind(a, b) => {
            let mut out = Map::new();
            for (k, v) in x {
                out.insert(k.clone(), merge(v, &y[k]));
            }
            Value::Object(out)
        }
        (Value::Array(x), Value::Array(y)) => {
            let mut alternatives = x.clone();
            for s in y {
                match alternatives.iter_mut().find(|a| same_kind(a, s)) {
                    Some(a) => *a = merge(a, s),
                    None => alternatives.push(s.clone()),
                }
            }
            Value::Array(alternatives)
        }
        _ => {
            let mut options = Vec::new();
            for s in [a, b] {
                match s.get(ONE_OF).and_then(Value::as_array) {
                    Some(inner) => options.extend(inner.iter().cloned()),
                    None => options.push(s.clone()),
                }
            }
            let mut m = Map::new();
            m.insert(ONE_OF.to_owned(), Value::Array(options));
            Value::Object(m)
        }
    }
}

/// Differences between `actual` and the `expected` shape, one line each,
/// naming the field by its path.
pub(crate) fn shape_errors(expected: &Value, actual: &Value, path: &str) -> Vec<String> {
    let mut cx = Compare::default();
    cx.compare(expected, actual, path, path);
    // Every shape of a list's elements is seen somewhere in the document
    // (in one of the lists at that place, when there are several).
    for (key, (alternatives, seen)) in &cx.coverage {
        for (n, s) in seen.iter().enumerate() {
            if !s {
                cx.errors.push(format!(
                    "{key}: no element has the expected shape #{n} {}",
                    alternatives[n]
                ));
            }
        }
    }
    cx.errors
}

/// What a comparison found: differences, and for each place of a list in
/// the document (its path without indices), which element shapes were seen.
#[derive(Default)]
struct Compare {
    errors: Vec<String>,
    coverage: std::collections::BTreeMap<String, (Vec<Value>, Vec<bool>)>,
}

/// Whether `actual` has the shape `expected`, however often its lists'
/// element shapes are seen.
fn fits(expected: &Value, actual: &Value, path: &str) -> bool {
    let mut cx = Compare::default();
    cx.compare(expected, actual, path, path);
    cx.errors.is_empty()
}

impl Compare {
    /// `path` names the value for messages; `key` is the same without the
    /// list indices.
    fn compare(&mut self, expected: &Value, actual: &Value, path: &str, key: &str) {
        match expected {
            Value::String(types) => {
                let t = type_name(actual);
                if !types.split('|').any(|x| x == t) {
                    self.errors
                        .push(format!("{path}: expected {types}, found {t}: {actual}"));
                }
            }
            Value::Object(m) if m.contains_key(ONE_OF) => {
                let options = m[ONE_OF].as_array().cloned().unwrap_or_default();
                match options.iter().find(|o| fits(o, actual, path)) {
                    Some(o) => self.compare(o, actual, path, key),
                    None => {
                        let shown: Vec<String> = options.iter().map(Value::to_string).collect();
                        self.errors.push(format!(
                            "{path}: {actual} has none of the shapes {}",
                            shown.join(", ")
                        ));
                    }
                }
            }
            Value::Object(fields) => {
                let Value::Object(got) = actual else {
                    self.errors.push(format!(
                        "{path}: expected an object, found {}",
                        type_name(actual)
                    ));
                    return;
                };
                for (k, shape) in fields {
                    match got.get(k) {
                        Some(v) => {
                            self.compare(shape, v, &format!("{path}.{k}"), &format!("{key}.{k}"))
                        }
                        None => self.errors.push(format!("{path}.{k}: missing")),
                    }
                }
                for k in got.keys().filter(|k| !fields.contains_key(*k)) {
                    self.errors.push(format!(
                        "{path}.{k}: a field the expected shape does not have"
                    ));
                }
            }
            Value::Array(alternatives) => {
                let Value::Array(items) = actual else {
                    self.errors.push(format!(
                        "{path}: expected a list, found {}",
                        type_name(actual)
                    ));
                    return;
                };
                let key = format!("{key}[]");
                for (i, item) in items.iter().enumerate() {
                    let here = format!("{path}[{i}]");
                    match alternatives.iter().position(|a| fits(a, item, &here)) {
                        Some(n) => {
                            self.coverage
                                .entry(key.clone())
                                .or_insert_with(|| {
                                    (alternatives.clone(), vec![false; alternatives.len()])
                                })
                                .1[n] = true;
                            self.compare(&alternatives[n], item, &here, &key);
                        }
                        None => {
                            // The differences with the closest alternative.
                            let closest = alternatives
                                .iter()
                                .map(|a| {
                                    let mut cx = Compare::default();
                                    cx.compare(a, item, &here, &key);
                                    cx.errors
                                })
                                .min_by_key(Vec::len)
                                .unwrap_or_else(|| {
                                    vec![format!("{here}: the list should be empty")]
                                });
                            self.errors.extend(closest);
                        }
                    }
                }
            }
            other => self
                .errors
                .push(format!("{path}: unusable expected shape {other}")),
        }
    }
}

/// Checks the shape of the JSON a command printed against
/// `tests/cmd/json/NAME.json`, which holds `{"command": …, "shape": …}`.
/// With `SNAPSHOTS=overwrite`, a file that does not match is rewritten with
/// the shape of `actual`.
pub(crate) fn check_shape(name: &str, command: &str, actual: &Value) -> Result<(), String> {
    let path = cmd_dir().join("json").join(format!("{name}.json"));
    let stored: Option<Value> = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let errors = match &stored {
        Some(file) => shape_errors(&file["shape"], actual, "$"),
        None => vec![format!("{} is missing or not JSON", path.display())],
    };
    if errors.is_empty() {
        return Ok(());
    }
    if overwrite() {
        let mut file = Map::new();
        file.insert("command".into(), Value::String(command.to_owned()));
        file.insert("shape".into(), shape_of(actual));
        let text = serde_json::to_string_pretty(&Value::Object(file)).unwrap() + "\n";
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        return Ok(());
    }
    Err(format!(
        "the JSON of `{command}` does not have the shape in {}:\n  {}\n(the JSON printed: {actual:#})",
        path.display(),
        errors.join("\n  ")
    ))
}

/// Panics with every failure collected, if any.
#[track_caller]
pub(crate) fn assert_no_failures(failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} snapshot(s) differ (rerun with SNAPSHOTS=overwrite to rewrite them, then read the \
         diff):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shapes_name_every_field_and_type() {
        let v = json!({"a": 1, "b": [{"x": "s", "y": null}, {"x": "t", "y": "u"}], "c": null});
        let s = shape_of(&v);
        assert_eq!(
            s,
            json!({"a": "number", "b": [{"x": "string", "y": "string|null"}], "c": "null"})
        );
        assert!(shape_errors(&s, &v, "$").is_empty());
        // A renamed field, a changed type, an added field.
        let renamed = json!({"a": 1, "b": [{"x2": "s", "y": null}], "c": null});
        assert!(!shape_errors(&s, &renamed, "$").is_empty());
        let retyped = json!({"a": "1", "b": [{"x": "s", "y": null}], "c": null});
        assert!(!shape_errors(&s, &retyped, "$").is_empty());
        let added = json!({"a": 1, "b": [{"x": "s", "y": null}], "c": null, "d": 0});
        assert!(!shape_errors(&s, &added, "$").is_empty());
    }

    #[test]
    fn lists_of_several_kinds_and_nullable_objects() {
        let v = json!([{"kind": "a", "n": 1}, {"kind": "b", "m": "x"}]);
        let s = shape_of(&v);
        assert_eq!(s.as_array().map(Vec::len), Some(2));
        assert!(shape_errors(&s, &v, "$").is_empty());
        // Every kind must still be seen, in a list that is not empty.
        assert!(!shape_errors(&s, &json!([{"kind": "a", "n": 1}]), "$").is_empty());
        assert!(shape_errors(&s, &json!([]), "$").is_empty());
        // Nested lists: an element shape seen in one of them is enough.
        let nested = json!([{"l": [{"a": 1}]}, {"l": [{"a": 1}, {"b": 2}]}]);
        let s = shape_of(&nested);
        assert!(shape_errors(&s, &nested, "$").is_empty(), "{s}");
        let only_a = json!([{"l": [{"a": 1}]}]);
        assert!(!shape_errors(&s, &only_a, "$").is_empty());
        let nullable = json!({"p": {"$one_of": ["null", {"code": "string"}]}});
        assert!(shape_errors(&nullable, &json!({"p": null}), "$").is_empty());
        assert!(shape_errors(&nullable, &json!({"p": {"code": "x"}}), "$").is_empty());
        assert!(!shape_errors(&nullable, &json!({"p": {"kode": "x"}}), "$").is_empty());
    }

    #[test]
    fn times_are_redacted() {
        assert_eq!(
            redact_times("at 2026-11-23T18:35:17Z and 2026-11-23T18:35:47.262435Z."),
            "at [TIME] and [TIME]."
        );
        assert_eq!(
            redact_times("1955-08-14 2025-06-01"),
            "1955-08-14 2025-06-01"
        );
    }
}
