//! kubectl's JSONPath templates (`-o jsonpath=...`, the cells of `-o custom-columns=...`),
//! ported from k8s.io/client-go/util/jsonpath (v0.37.2): parser.go, node.go, jsonpath.go.
//!
//! A template is text with actions in braces: `{.metadata.name}`, `{.items[*].spec.nodeName}`,
//! `{range .items[*]}{.metadata.name}{"\n"}{end}`. Inside an action: fields `.a.b` and
//! `['a']`, indexes and slices `[0]`, `[-1]`, `[1:3]`, `[::2]`, `[*]`, wildcards `.*`,
//! recursive descent `..`, unions `[0,2]`, filters `[?(@.type=="Ready")]` (`==`, `!=`, `<`,
//! `>`, `<=`, `>=`, or existence `[?(@.x)]`), string literals `"..."` / `'...'`, numbers,
//! `true`/`false`, `@` or `$` for the current object, and the keywords `range` and `end`.
//! (`{.}` is a field with an empty name, as upstream parses it: it prints nothing.)
//!
//! Output is what kubectl's `JSONPathPrinter` writes: each run of a node prints its values
//! separated by one space, strings as they are, numbers as Go's `fmt` does (`1e+06`), maps
//! and arrays as compact JSON (`json.Marshal`: keys sorted, `<>&` escaped), a `null`
//! value as `null`; nothing is added at the end.
//!
//! Differences from upstream: Go visits a map's entries (`.*`, `..`) in random order, this
//! port in key order; where upstream panics (indexing or ranging over the invalid value a
//! `range` makes of a `null` item or of no items), this port returns an error or goes on.
//! Bytes that a `\x` or octal escape makes invalid UTF-8 are printed as U+FFFD.

#[cfg(test)]
pub(crate) mod conformance;
mod eval;
mod gofmt;
mod parser;
#[cfg(test)]
mod tests;

use std::fmt;

use serde_json::Value;

use eval::{Executor, Item};
use parser::Node;

/// A JSONPath error in upstream's words (parse errors such as `unclosed action`, execution
/// errors such as `array index out of bounds: index 5, length 2`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPathError {
    /// The message.
    pub message: String,
}

impl fmt::Display for JsonPathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for JsonPathError {}

fn error(message: impl Into<String>) -> JsonPathError {
    JsonPathError {
        message: message.into(),
    }
}

/// A parsed template (client-go `jsonpath.JSONPath`), missing keys allowed as kubectl
/// sets them (`--allow-missing-template-keys` defaults to true).
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath {
    nodes: Vec<Node>,
    allow_missing_keys: bool,
}

impl JsonPath {
    /// Parses `template` (`jsonpath.Parse`).
    pub fn parse(template: &str) -> Result<JsonPath, JsonPathError> {
        Ok(JsonPath {
            nodes: parser::parse(template).map_err(error)?,
            allow_missing_keys: true,
        })
    }

    /// Whether a missing field prints nothing (true, kubectl's default) or fails with
    /// `NAME is not found` (`AllowMissingKeys`).
    pub fn allow_missing_keys(mut self, allow: bool) -> JsonPath {
        self.allow_missing_keys = allow;
        self
    }

    /// Runs the template over `data` and returns what kubectl prints (`Execute` and
    /// `PrintResults`), with no trailing newline of its own.
    pub fn execute(&self, data: &Value) -> Result<String, JsonPathError> {
        let mut out = String::new();
        for results in self.find_results(data)? {
            for (i, r) in results.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(&print_text(r));
            }
        }
        Ok(out)
    }

    /// Runs the template as `-o jsonpath-as-json` prints it: the values of each run as a
    /// JSON array (`json.MarshalIndent`, 4 spaces), each followed by a newline.
    pub fn execute_as_json(&self, data: &Value) -> Result<String, JsonPathError> {
        let mut out = String::new();
        for results in self.find_results(data)? {
            let array = Value::Array(results.iter().map(Item::to_json).collect());
            out.push_str(&gofmt::marshal(&array, Some("    ")));
            out.push('\n');
        }
        Ok(out)
    }

    /// `kubectl wait --for=jsonpath=...`'s check of one object (wait/json.go
    /// `JSONPathWait.checkCondition`): met when the template finds exactly one value and,
    /// with `expected`, that value printed as `fmt.Sprintf("%v")` equals it (both trimmed).
    /// More than one value, or a map or list, is kubectl's error.
    pub fn wait_condition(
        &self,
        data: &Value,
        expected: Option<&str>,
    ) -> Result<bool, JsonPathError> {
        let results = self.find_results(data)?;
        if results.first().is_none_or(Vec::is_empty) {
            return Ok(false);
        }
        let fail = |m: &str| JsonPathError {
            message: m.to_string(),
        };
        if results.len() > 1 {
            return Err(fail("given jsonpath expression matches more than one list"));
        }
        if results[0].len() > 1 {
            return Err(fail(
                "given jsonpath expression matches more than one value",
            ));
        }
        let Some(expected) = expected else {
            return Ok(true);
        };
        let item = &results[0][0];
        if matches!(item.to_json(), Value::Object(_) | Value::Array(_)) {
            return Err(fail(
                "jsonpath leads to a nested object or list which is not supported",
            ));
        }
        Ok(item.text_v().trim() == expected.trim())
    }

    /// `FindResults` from a fresh state.
    fn find_results<'a>(&self, data: &'a Value) -> Result<Vec<Vec<Item<'a>>>, JsonPathError> {
        Executor::new(&self.nodes, self.allow_missing_keys)
            .find_results(Item::Json(data))
            .map_err(error)
    }

    /// An executor that keeps its state from one object to the next, as kubectl's
    /// custom-columns printer reuses one parser per column.
    pub(crate) fn column(&self) -> Column<'_> {
        Column(Executor::new(&self.nodes, self.allow_missing_keys))
    }
}

/// One custom column's template over the objects of a table (customcolumn.go
/// `printOneObject`).
pub(crate) struct Column<'t>(Executor<'t>);

impl Column<'_> {
    /// The cell of `obj`: the values joined by `,` (each as `fmt.Sprint`), `<none>` when
    /// the template finds nothing.
    pub(crate) fn cell(&mut self, obj: &Value) -> Result<String, JsonPathError> {
        let results = self.0.find_results(Item::Json(obj)).map_err(error)?;
        let mut texts = vec![];
        if results.first().is_none_or(Vec::is_empty) {
            texts.push("<none>".to_string());
        }
        texts.extend(results.iter().flatten().map(Item::text_v));
        Ok(texts.join(","))
    }
}

/// How `PrintResults` writes one value: maps and arrays as compact JSON, anything else as
/// `fmt.Fprint` (`evalToText`).
fn print_text(item: &Item) -> String {
    match item {
        Item::Json(v @ (Value::Object(_) | Value::Array(_))) => gofmt::marshal(v, None),
        Item::Json(Value::Null) => "null".into(),
        Item::Invalid => "<no value>".into(),
        other => other.text_v(),
    }
}

/// `fmt.Sprintf("%#v", v)` of unstructured content, as kubectl's jsonpath printer shows
/// the object in an execution error.
pub(crate) fn go_sharp_v(v: &Value) -> String {
    gofmt::value_sharp_v(v)
}

/// kubectl's `RelaxedJSONPathExpression` (k8s.io/kubectl/pkg/cmd/get/customcolumn.go):
/// `metadata.name`, `.metadata.name`, `{metadata.name}` and `{.metadata.name}` all become
/// `{.metadata.name}`; an empty path stays empty.
pub fn relaxed_json_path_expression(path: &str) -> Result<String, JsonPathError> {
    if path.is_empty() {
        return Ok(String::new());
    }
    // `^\{\.?([^{}]+)\}$|^\.?([^{}]+)$`
    let body = path
        .strip_prefix('{')
        .and_then(|p| p.strip_suffix('}'))
        .unwrap_or(path);
    if body.is_empty() || body.contains(['{', '}']) {
        return Err(error(
            "unexpected path string, expected a 'name1.name2' or '.name1.name2' or '{name1.name2}' or '{.name1.name2}'",
        ));
    }
    let field = body
        .strip_prefix('.')
        .filter(|f| !f.is_empty())
        .unwrap_or(body);
    Ok(format!("{{.{field}}}"))
}
