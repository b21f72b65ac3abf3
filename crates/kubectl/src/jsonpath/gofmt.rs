//! How Go prints the values kubectl's JSONPath engine works on: `fmt`'s `%v` and `%#v`,
//! `encoding/json`'s `Marshal` and `MarshalIndent`, and `strconv.FormatFloat` with the
//! shortest precision.
//!
//! kubectl hands the engine unstructured content: objects are `map[string]interface{}`,
//! arrays `[]interface{}`, integers `int64`, other numbers `float64` (an integer beyond
//! `int64` too), `null` a nil interface.

use serde_json::{Map, Number, Value};

/// A JSON number as unstructured content holds it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum GoNumber {
    /// `int64`.
    Int(i64),
    /// `float64`.
    Float(f64),
}

pub(super) fn go_number(n: &Number) -> GoNumber {
    match n.as_i64() {
        Some(i) => GoNumber::Int(i),
        None => GoNumber::Float(n.as_f64().unwrap_or(0.0)),
    }
}

/// The shortest decimal digits of `|f|` and the decimal point position: `f = 0.d1d2... *
/// 10^dp` (Go's `decimalSlice`; no digits for zero).
fn shortest_digits(f: f64) -> (Vec<u8>, i32) {
    if f == 0.0 {
        return (vec![], 0);
    }
    // Rust's `{:e}` without a precision prints the shortest digits that read back as `f`,
    // as Go's Ryū-based shortest formatting does.
    let text = format!("{:e}", f.abs());
    let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
    let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    (digits, exp + 1)
}

/// `strconv.FormatFloat(f, 'e', -1, 64)`.
fn fmt_e(neg: bool, d: &[u8], dp: i32) -> String {
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    out.push(d.first().map_or('0', |c| *c as char));
    if d.len() > 1 {
        out.push('.');
        out.extend(d[1..].iter().map(|c| *c as char));
    }
    let exp = if d.is_empty() { 0 } else { dp - 1 };
    out.push('e');
    out.push(if exp < 0 { '-' } else { '+' });
    let exp = exp.unsigned_abs();
    if exp < 10 {
        out.push('0');
    }
    out.push_str(&exp.to_string());
    out
}

/// `strconv.FormatFloat(f, 'f', -1, 64)`.
fn fmt_f(neg: bool, d: &[u8], dp: i32) -> String {
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    let digit = |i: i32| -> char {
        usize::try_from(i)
            .ok()
            .and_then(|i| d.get(i))
            .map_or('0', |c| *c as char)
    };
    if dp > 0 {
        for i in 0..dp {
            out.push(digit(i));
        }
    } else {
        out.push('0');
    }
    let prec = (d.len() as i32 - dp).max(0);
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            out.push(digit(dp + i - 1));
        }
    }
    out
}

/// `fmt.Sprint(f)` for a `float64`: `strconv.FormatFloat(f, 'g', -1, 64)`, with an exponent
/// below 1e-4 and from 1e6 (`1e+06`).
pub(super) fn float_v(f: f64) -> String {
    let (d, dp) = shortest_digits(f);
    let neg = f.is_sign_negative();
    let exp = dp - 1;
    if !d.is_empty() && !(-4..6).contains(&exp) {
        fmt_e(neg, &d, dp)
    } else {
        fmt_f(neg, &d, dp)
    }
}

/// `encoding/json`'s float encoding: `'f'` unless below 1e-6 or from 1e21, then `'e'`
/// with a one-digit negative exponent (`1e-7`).
fn float_json(f: f64) -> String {
    let (d, dp) = shortest_digits(f);
    let neg = f.is_sign_negative();
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Cleaned up from `e-09` to `e-9`.
        let s = fmt_e(neg, &d, dp);
        let n = s.len();
        if s.as_bytes()[n - 4..n - 1] == *b"e-0" {
            format!("{}{}", &s[..n - 2], &s[n - 1..])
        } else {
            s
        }
    } else {
        fmt_f(neg, &d, dp)
    }
}

/// `fmt.Sprint` of a number of unstructured content.
pub(super) fn number_v(n: GoNumber) -> String {
    match n {
        GoNumber::Int(i) => i.to_string(),
        GoNumber::Float(f) => float_v(f),
    }
}

/// `fmt.Sprint(v)` (`%v`) of unstructured content: maps as `map[k:v ...]` sorted by key,
/// slices as `[a b]`, nil as `<nil>`.
pub(super) fn value_v(v: &Value) -> String {
    let mut out = String::new();
    write_v(v, &mut out);
    out
}

fn write_v(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number_v(go_number(n))),
        Value::String(s) => out.push_str(s),
        Value::Array(a) => {
            out.push('[');
            for (i, e) in a.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_v(e, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push_str("map[");
            for (i, (k, e)) in sorted(m).into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_v(e, out);
            }
            out.push(']');
        }
    }
}

/// `fmt.Sprintf("%#v", v)` of unstructured content held in an `interface{}`:
/// `map[string]interface {}{"k":v, ...}`, `[]interface {}{...}`, `interface {}(nil)`.
pub(super) fn value_sharp_v(v: &Value) -> String {
    let mut out = String::new();
    write_sharp_v(v, &mut out);
    out
}

fn write_sharp_v(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("interface {}(nil)"),
        Value::String(s) => out.push_str(&kscale_model::goflag::quote(s)),
        Value::Bool(_) | Value::Number(_) => write_v(v, out),
        Value::Array(a) => {
            out.push_str("[]interface {}{");
            for (i, e) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_sharp_v(e, out);
            }
            out.push('}');
        }
        Value::Object(m) => {
            out.push_str("map[string]interface {}{");
            for (i, (k, e)) in sorted(m).into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&kscale_model::goflag::quote(k));
                out.push(':');
                write_sharp_v(e, out);
            }
            out.push('}');
        }
    }
}

/// The entries of `m` sorted by key, as Go's `fmt` and `encoding/json` visit a map.
pub(super) fn sorted(m: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<(&String, &Value)> = m.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

/// `json.Marshal(v)` (`indent` `None`) or `json.MarshalIndent(v, "", indent)`: keys sorted,
/// HTML-safe escaping of `<`, `>`, `&`, U+2028 and U+2029, Go's float format.
pub(super) fn marshal(v: &Value, indent: Option<&str>) -> String {
    let mut out = String::new();
    write_json(v, indent, 0, &mut out);
    out
}

fn newline(indent: Option<&str>, depth: usize, out: &mut String) {
    if let Some(ind) = indent {
        out.push('\n');
        for _ in 0..depth {
            out.push_str(ind);
        }
    }
}

fn write_json(v: &Value, indent: Option<&str>, depth: usize, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match go_number(n) {
            GoNumber::Int(i) => out.push_str(&i.to_string()),
            GoNumber::Float(f) => out.push_str(&float_json(f)),
        },
        Value::String(s) => write_json_string(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, e) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(indent, depth + 1, out);
                write_json(e, indent, depth + 1, out);
            }
            if !a.is_empty() {
                newline(indent, depth, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, e)) in sorted(m).into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(indent, depth + 1, out);
                write_json_string(k, out);
                out.push(':');
                if indent.is_some() {
                    out.push(' ');
                }
                write_json(e, indent, depth + 1, out);
            }
            if !m.is_empty() {
                newline(indent, depth, out);
            }
            out.push('}');
        }
    }
}

/// `encoding/json`'s string encoding with `EscapeHTML` on.
fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_as_go_prints_them() {
        for (f, v, j) in [
            (0.0, "0", "0"),
            (-0.0, "-0", "-0"),
            (1.0, "1", "1"),
            (1.5, "1.5", "1.5"),
            (100000.0, "100000", "100000"),
            (1e6, "1e+06", "1000000"),
            (123456789.0, "1.23456789e+08", "123456789"),
            (1e-4, "0.0001", "0.0001"),
            (1e-5, "1e-05", "0.00001"),
            (1e-7, "1e-07", "1e-7"),
            (1.25e-10, "1.25e-10", "1.25e-10"),
            (1e21, "1e+21", "1e+21"),
            (1e100, "1e+100", "1e+100"),
            (-2.5e-7, "-2.5e-07", "-2.5e-7"),
            (0.1 + 0.2, "0.30000000000000004", "0.30000000000000004"),
        ] {
            assert_eq!(float_v(f), v, "%v of {f}");
            assert_eq!(float_json(f), j, "json of {f}");
        }
    }

    #[test]
    fn go_value_formats() {
        let v = json!({"b": [1, null, "x y", 2.5], "a": {"k": true}, "e": {}, "f": []});
        assert_eq!(
            value_v(&v),
            "map[a:map[k:true] b:[1 <nil> x y 2.5] e:map[] f:[]]"
        );
        assert_eq!(
            value_sharp_v(&v),
            r#"map[string]interface {}{"a":map[string]interface {}{"k":true}, "b":[]interface {}{1, interface {}(nil), "x y", 2.5}, "e":map[string]interface {}{}, "f":[]interface {}{}}"#
        );
        assert_eq!(
            marshal(&v, None),
            r#"{"a":{"k":true},"b":[1,null,"x y",2.5],"e":{},"f":[]}"#
        );
        assert_eq!(
            marshal(
                &json!({"b": [1], "a": {}, "s": "<a&b>\u{1}\t"}),
                Some("    ")
            ),
            "{\n    \"a\": {},\n    \"b\": [\n        1\n    ],\n    \"s\": \"\\u003ca\\u0026b\\u003e\\u0001\\t\"\n}"
        );
        // An integer beyond int64 is a float64 in unstructured content.
        let big: Value = serde_json::from_str("18446744073709551615").unwrap();
        assert_eq!(value_v(&big), "1.8446744073709552e+19");
        assert_eq!(marshal(&big, None), "18446744073709552000");
    }
}
