//! `-o yaml` as kubectl prints it: block style, as sigs.k8s.io/yaml + go-yaml v2 print it
//! (k8s.io/cli-runtime/pkg/printers/yaml.go).

use std::fmt::Write as _;

use serde_json::Value;

use super::json::sorted;

/// `-o yaml` as kubectl prints it: keys sorted, block style, sequences not indented under
/// their key, strings quoted only when go-yaml would (`""`, `"true"`, `"123"`, timestamps
/// double-quoted; indicator-led strings single-quoted), multi-line strings as `|` blocks, long
/// scalar values folded at 80 columns ([`fold`]).
pub fn to_yaml(v: &Value) -> String {
    let v = sorted(v);
    let mut out = String::new();
    let lines = match &v {
        Value::Object(m) if !m.is_empty() => yaml_block(&v),
        Value::Array(a) if !a.is_empty() => yaml_block(&v),
        other => vec![yaml_inline(other)],
    };
    for l in fold(lines) {
        out.push_str(&l);
        out.push('\n');
    }
    out
}

/// go-yaml v2's `best_width`: scalars are folded once a line is past this column.
const BEST_WIDTH: usize = 80;

/// Folds long scalar values as go-yaml v2's emitter does (`emitterc.go`
/// `yaml_emitter_write_plain_scalar`, `..._single_quoted_scalar`, `..._double_quoted_scalar`):
/// at a single space met once the line is past column 80 (not the first or last character of
/// a quoted scalar, nor before another space), the line breaks and continues at the
/// scalar's indentation, two columns right of its key or `- `. Keys and `|` blocks are not
/// folded.
fn fold(lines: Vec<String>) -> Vec<String> {
    let mut out = Vec::with_capacity(lines.len());
    // The indentation below which a `|` block's content ends.
    let mut literal_until: Option<usize> = None;
    for line in lines {
        let lead = line.len() - line.trim_start_matches(' ').len();
        if let Some(min) = literal_until {
            if lead >= min && !line.trim().is_empty() || line.is_empty() {
                out.push(line);
                continue;
            }
            literal_until = None;
        }
        // The node's column: past the indentation and any `- ` of sequence items.
        let mut node = lead;
        while line[node..].starts_with("- ") {
            node += 2;
        }
        let rest = &line[node..];
        let (value_at, indent) = match key_end(rest) {
            Some(k) => (node + k + 2, node + 2),
            // A scalar sequence item: `- value`.
            None if node > lead => (node, node),
            None => {
                out.push(line);
                continue;
            }
        };
        let Some(value) = line.get(value_at..).filter(|v| !v.is_empty()) else {
            out.push(line);
            continue;
        };
        if value.starts_with('|') {
            literal_until = Some(indent);
            out.push(line);
            continue;
        }
        if line.chars().count() <= BEST_WIDTH + 1 || !value.contains(' ') {
            out.push(line);
            continue;
        }
        let (quote, body) = match value.chars().next() {
            Some(q @ ('\'' | '"')) => (Some(q), &value[1..]),
            _ => (None, value),
        };
        let mut cur = line[..value_at].to_string();
        let mut column = line[..value_at].chars().count();
        if let Some(q) = quote {
            cur.push(q);
            column += 1;
        }
        let chars: Vec<char> = body.chars().collect();
        // For a quoted scalar the closing quote is not part of the value.
        let len = if quote.is_some() {
            chars.len().saturating_sub(1)
        } else {
            chars.len()
        };
        let mut spaces = false;
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == ' ' && i < len {
                let next_space = chars.get(i + 1) == Some(&' ');
                let allowed = match quote {
                    None => !next_space,
                    Some('\'') => i > 0 && i + 1 < len && !next_space,
                    Some(_) => i > 0 && i + 1 < len,
                };
                if !spaces && column > BEST_WIDTH && allowed {
                    out.push(std::mem::take(&mut cur));
                    cur = " ".repeat(indent);
                    column = indent;
                    if quote == Some('"') && next_space {
                        cur.push('\\');
                        column += 1;
                    }
                    spaces = true;
                    i += 1;
                    continue;
                }
                spaces = true;
            } else {
                spaces = false;
            }
            cur.push(c);
            column += 1;
            i += 1;
        }
        out.push(cur);
    }
    out
}

/// The length of a `key:` at the start of `rest` (`key: value` or `key:` alone), if `rest`
/// starts with a mapping key; quoted keys are skipped whole.
fn key_end(rest: &str) -> Option<usize> {
    let key_len = match rest.chars().next()? {
        '\'' => {
            // `'...'` with `''` escapes.
            let b = rest.as_bytes();
            let mut i = 1;
            loop {
                match b.get(i)? {
                    b'\'' if b.get(i + 1) == Some(&b'\'') => i += 2,
                    b'\'' => break i + 1,
                    _ => i += 1,
                }
            }
        }
        '"' => {
            let b = rest.as_bytes();
            let mut i = 1;
            loop {
                match b.get(i)? {
                    b'\\' => i += 2,
                    b'"' => break i + 1,
                    _ => i += 1,
                }
            }
        }
        _ => rest
            .find(": ")
            .or_else(|| rest.strip_suffix(':').map(str::len))?,
    };
    let after = &rest[key_len..];
    (after.starts_with(": ") || after == ":").then_some(key_len)
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

    /// Long values as the real kubectl v1.37.2 printed them
    /// (`kubectl create configmap cm --from-literal=… --dry-run=client -o yaml` and
    /// `kubectl create deployment web --image=nginx --dry-run=client -o yaml -- sh -c …`).
    #[test]
    fn long_values_fold_at_80_columns_as_go_yaml_does() {
        let long = "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)";
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"},
            "data": {"msg": long, "q": format!("a: {long}"), "short": "x y",
                "dq": "true and a b c d e f g h i j k l m n o p q r s t u v w x y z aa bb cc dd ee ff gg hh ii jj kk ll"}});
        assert_eq!(
            to_yaml(&cm),
            "\
apiVersion: v1
data:
  dq: true and a b c d e f g h i j k l m n o p q r s t u v w x y z aa bb cc dd ee
    ff gg hh ii jj kk ll
  msg: the HPA was able to successfully calculate a replica count from cpu resource
    utilization (percentage of request)
  q: 'a: the HPA was able to successfully calculate a replica count from cpu resource
    utilization (percentage of request)'
  short: x y
kind: ConfigMap
metadata:
  name: cm
"
        );
        let d = json!({"spec": {"template": {"spec": {"containers": [{"command": ["sh", "-c",
            format!("echo {long} and more words here")], "image": "nginx", "name": "nginx",
            "notes": "line one\nline two with a long tail that goes on and on and on past the eightieth column\n"}]}}}});
        assert_eq!(
            to_yaml(&d),
            "\
spec:
  template:
    spec:
      containers:
      - command:
        - sh
        - -c
        - echo the HPA was able to successfully calculate a replica count from cpu
          resource utilization (percentage of request) and more words here
        image: nginx
        name: nginx
        notes: |
          line one
          line two with a long tail that goes on and on and on past the eightieth column
"
        );
    }

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
