//! `-o custom-columns`: kubectl's `CustomColumnsPrinter`
//! (k8s.io/kubectl/pkg/cmd/get/customcolumn.go) over the `List` (or bare object) of
//! `printGeneric`.

use serde_json::Value;

use super::Printed;
use super::table::go_tabwrite;
use crate::args::CustomColumn;
use crate::error::{ErrorKind, KubectlError};
use crate::jsonpath::JsonPath;

/// The table: the header line as given, one row per item of a `List` (one row for a bare
/// object), `<none>` for a cell with no value, several values joined by `,`, laid out by
/// `printers.GetNewTabWriter` (minimum width 6, padding 3). A column whose template does
/// not parse or fails on an object stops the table there: what was written is flushed and
/// the error reported, as kubectl does.
pub(super) fn print_custom_columns(columns: &[CustomColumn], data: &Value) -> Printed {
    let mut text = columns
        .iter()
        .map(|c| c.header.as_str())
        .collect::<Vec<_>>()
        .join("\t");
    text.push('\n');
    let error = rows(columns, data, &mut text).err();
    Printed {
        stdout: go_tabwrite(&text, 6, 3),
        stderr: String::new(),
        error,
    }
}

/// Appends a tab-separated line per object to `text`.
fn rows(columns: &[CustomColumn], data: &Value, text: &mut String) -> Result<(), KubectlError> {
    let fail =
        |e: crate::jsonpath::JsonPathError| KubectlError::new(ErrorKind::Template, e.message);
    let parsers = columns
        .iter()
        .map(|c| JsonPath::parse(&c.field_spec))
        .collect::<Result<Vec<_>, _>>()
        .map_err(fail)?;
    let mut cells: Vec<_> = parsers.iter().map(JsonPath::column).collect();
    let objects = match data {
        Value::Object(m) if is_list(m) => m.get("items").and_then(Value::as_array),
        _ => None,
    };
    for obj in objects.map_or(std::slice::from_ref(data), Vec::as_slice) {
        let row = cells
            .iter_mut()
            .map(|c| c.cell(obj).map(|s| escape_terminal(&s)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(fail)?;
        text.push_str(&row.join("\t"));
        text.push('\n');
    }
    Ok(())
}

/// `meta.IsListType` for unstructured content: an `items` array.
fn is_list(m: &serde_json::Map<String, Value>) -> bool {
    matches!(m.get("items"), Some(Value::Array(_)))
}

/// `printers.EscapeTerminal`: ESC as `^[`, carriage return as `\r`.
fn escape_terminal(s: &str) -> String {
    s.replace('\u{1b}', "^[").replace('\r', "\\r")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::OutputFormat;

    fn columns(spec: &str) -> Result<Vec<CustomColumn>, KubectlError> {
        match OutputFormat::parse(&format!("custom-columns={spec}"))? {
            OutputFormat::CustomColumns(c) => Ok(c),
            other => panic!("{other:?}"),
        }
    }

    /// Specs printed by kubectl's printer code over the same data (see
    /// `jsonpath/conformance.rs`): stdout, and the error after it.
    #[test]
    fn conformance() {
        for (data, spec, stdout, error) in crate::jsonpath::conformance::CUSTOM_COLUMNS {
            let data: Value = serde_json::from_str(data).unwrap();
            match columns(spec) {
                Err(e) => {
                    assert_eq!(*stdout, "", "{spec}");
                    assert_eq!(Some(e.detail()), *error, "{spec}");
                }
                Ok(cols) => {
                    let out = print_custom_columns(&cols, &data);
                    assert_eq!(out.stdout, *stdout, "{spec}");
                    assert_eq!(
                        out.error.as_ref().map(KubectlError::detail),
                        *error,
                        "{spec}"
                    );
                }
            }
        }
    }
}
