//! `-o yaml` as kubectl prints it: block style, as sigs.k8s.io/yaml + go-yaml v2 print it
//! (k8s.io/cli-runtime/pkg/printers/yaml.go).

use std::fmt::Write as _;

use serde_json::Value;

use super::json::sorted;

/// `-o yaml` as kubectl prints it: keys sorted, block style, sequences not indented under
/// their key, strings quoted only when go-yaml would (`""`, `"true"`, `"123"`, timestamps
/// double-quoted; indicator-led strings single-quoted), multi-line strings as `|` blocks.
/// Unlike go-yaml, long strings are not folded at 80 columns.
pub fn to_yaml(v: &Value) -> String {
    let v = sorted(v);
    let mut out = String::new();
    let lines = match &v {
        Value::Object(m) if !m.is_empty() => yaml_block(&v),
        Value::Array(a) if !a.is_empty() => yaml_block(&v),
        other => vec![yaml_inline(other)],
    };
    for l in lines {
        out.push_str(&l);
        out.push('\n');
    }
    out
}

fn is_block(v: &Value) -> bool {
    match v {
        Value::Object(m) => !m.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::String(s) => s.contains('\n'),
        _ => false,
    }
}

/// Lines of a block value at column 0. For a multi-line string the first line is the
/// `|`/`|-` header and the rest is the content (unindented).
fn yaml_block(v: &Value) -> Vec<String> {
    match v {
        Value::Object(m) => {
            let mut lines = Vec::new();
            for (k, val) in m {
                let key = yaml_string(k);
                if let Value::String(s) = val
                    && s.contains('\n')
                {
                    let mut sub = literal_block(s);
                    lines.push(format!("{key}: {}", sub.remove(0)));
                    lines.extend(sub.into_iter().map(|l| indent(&l, 2)));
                } else if is_block(val) {
                    lines.push(format!("{key}:"));
                    let sub = yaml_block(val);
                    let extra = if val.is_array() { 0 } else { 2 };
                    lines.extend(sub.into_iter().map(|l| indent(&l, extra)));
                } else {
                    lines.push(format!("{key}: {}", yaml_inline(val)));
                }
            }
            lines
        }
        Value::Array(a) => {
            let mut lines = Vec::new();
            for item in a {
                let sub = if is_block(item) {
                    match item {
                        Value::String(s) => literal_block(s),
                        _ => yaml_block(item),
                    }
                } else {
                    vec![yaml_inline(item)]
                };
                for (i, l) in sub.into_iter().enumerate() {
                    if i == 0 {
                        lines.push(format!("- {l}"));
                    } else {
                        lines.push(indent(&l, 2));
                    }
                }
            }
            lines
        }
        Value::String(s) if s.contains('\n') => literal_block(s),
        other => vec![yaml_inline(other)],
    }
}

fn indent(l: &str, n: usize) -> String {
    if l.is_empty() {
        String::new()
    } else {
        format!("{}{l}", " ".repeat(n))
    }
}

fn literal_block(s: &str) -> Vec<String> {
    let (header, body) = match s.strip_suffix('\n') {
        Some(b) if !b.ends_with('\n') => ("|", b),
        Some(_) => ("|+", s.strip_suffix('\n').unwrap_or(s)),
        None => ("|-", s),
    };
    let mut out = vec![header.to_string()];
    out.extend(body.split('\n').map(str::to_string));
    out
}

fn yaml_inline(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => yaml_string(s),
        Value::Array(_) => "[]".to_string(),
        Value::Object(_) => "{}".to_string(),
    }
}

/// Whether go-yaml would read this plain scalar as something other than a string.
fn resolves_to_non_string(s: &str) -> bool {
    const SPECIAL: &[&str] = &[
        "", "~", "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE",
        "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL",
        ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan",
        ".NaN", ".NAN", "<<",
    ];
    if SPECIAL.contains(&s) {
        return true;
    }
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let clean: String = body.chars().filter(|c| *c != '_').collect();
    let lower = clean.to_ascii_lowercase();
    let is_int = |t: &str, radix: u32| !t.is_empty() && t.chars().all(|c| c.is_digit(radix));
    if is_int(&lower, 10)
        || lower.strip_prefix("0x").is_some_and(|t| is_int(t, 16))
        || lower.strip_prefix("0o").is_some_and(|t| is_int(t, 8))
        || lower.strip_prefix("0b").is_some_and(|t| is_int(t, 2))
    {
        return true;
    }
    // Floats: digits with one dot and/or an exponent.
    let (mant, exp) = match lower.split_once('e') {
        Some((m, e)) => (m, Some(e)),
        None => (lower.as_str(), None),
    };
    let mant_ok = {
        let (a, b) = mant.split_once('.').unwrap_or((mant, ""));
        (mant.contains('.') || exp.is_some())
            && a.chars().all(|c| c.is_ascii_digit())
            && b.chars().all(|c| c.is_ascii_digit())
            && !(a.is_empty() && b.is_empty())
    };
    let exp_ok = exp.is_none_or(|e| is_int(e.strip_prefix(['-', '+']).unwrap_or(e), 10));
    if mant_ok && exp_ok {
        return true;
    }
    // Timestamps (YYYY-M-D, optionally followed by a time).
    let b = s.as_bytes();
    if b.len() >= 8 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' {
        let date_end = s.find(['T', 't', ' ']).unwrap_or(s.len());
        let parts: Vec<&str> = s[..date_end].split('-').collect();
        if parts.len() == 3
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
            && parts[1].len() <= 2
            && parts[2].len() <= 2
        {
            return true;
        }
    }
    false
}

fn plain_allowed(s: &str) -> bool {
    if s.is_empty()
        || s.starts_with([' ', '\t'])
        || s.ends_with([' ', '\t'])
        || s.starts_with("---")
        || s.starts_with("...")
    {
        return false;
    }
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let followed_by_ws = i + 1 >= chars.len() || chars[i + 1] == ' ' || chars[i + 1] == '\t';
        let preceded_by_ws = i > 0 && (chars[i - 1] == ' ' || chars[i - 1] == '\t');
        if (c as u32) < 0x20 || c as u32 == 0x7f {
            return false;
        }
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => return false,
                '?' | ':' | '-' if followed_by_ws => return false,
                _ => {}
            }
        } else {
            match c {
                ':' if followed_by_ws => return false,
                '#' if preceded_by_ws => return false,
                _ => {}
            }
        }
    }
    true
}

fn yaml_string(s: &str) -> String {
    let needs_double = resolves_to_non_string(s)
        || s.chars()
            .any(|c| ((c as u32) < 0x20 && c != '\n') || c as u32 == 0x7f);
    if needs_double {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                    let _ = write!(out, "\\x{:02X}", c as u32);
                }
                c => out.push(c),
            }
        }
        out.push('"');
        return out;
    }
    if plain_allowed(s) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::OutputFormat;
    use crate::kinds::Kind;
    use crate::printers::testing::*;
    use crate::printers::{PrintOptions, print_objects};
    use serde_json::json;

    #[test]
    fn yaml_output() {
        let obj = json!({
            "kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": "p", "creationTimestamp": "2024-05-01T11:55:00Z", "labels": {"app": "web", "on": "yes"},
                "annotations": {"note": "a: b", "json": "{\"a\":1}", "multi": "line1\nline2\n", "empty": ""}},
            "spec": {"containers": [{"name": "c", "image": "nginx:1.25", "args": ["-v", "--port=80", "123"],
                "ports": [{"containerPort": 80}], "env": []}], "nodeSelector": {}},
            "status": {"phase": "Running", "ready": true, "ratio": 0.5, "nothing": null}
        });
        assert_eq!(
            to_yaml(&obj),
            "\
apiVersion: v1
kind: Pod
metadata:
  annotations:
    empty: \"\"
    json: '{\"a\":1}'
    multi: |
      line1
      line2
    note: 'a: b'
  creationTimestamp: \"2024-05-01T11:55:00Z\"
  labels:
    app: web
    \"on\": \"yes\"
  name: p
spec:
  containers:
  - args:
    - -v
    - --port=80
    - \"123\"
    env: []
    image: nginx:1.25
    name: c
    ports:
    - containerPort: 80
  nodeSelector: {}
status:
  nothing: null
  phase: Running
  ratio: 0.5
  ready: true
"
        );
        let list = print_objects(
            Kind::Pod,
            &[],
            &PrintOptions {
                format: Some(OutputFormat::Yaml),
                ..opts()
            },
        );
        assert_eq!(
            list.stdout,
            "apiVersion: v1\nitems: []\nkind: List\nmetadata:\n  resourceVersion: \"\"\n"
        );
    }
}
