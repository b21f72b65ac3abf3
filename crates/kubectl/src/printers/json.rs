//! `-o json` as kubectl prints it (k8s.io/cli-runtime/pkg/printers/json.go).

use serde_json::{Map, Value};

pub(super) fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                out.insert(k.clone(), sorted(&m[k]));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// `-o json` as kubectl prints it: keys sorted, 4-space indent, Go's HTML-safe escaping of
/// `<`, `>`, `&`, newline-terminated.
pub fn to_json(v: &Value) -> String {
    use serde::Serialize;
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    sorted(v)
        .serialize(&mut ser)
        .expect("serializing a Value cannot fail");
    let text = String::from_utf8(buf).expect("serde_json writes UTF-8");
    // These characters only occur inside strings in JSON text, so a global replace is safe.
    let mut out = text
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029");
    out.push('\n');
    out
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
    fn json_output() {
        let cm = json!({"metadata": {"name": "c"}, "kind": "ConfigMap", "apiVersion": "v1", "data": {"x": "<a&b>"}});
        let single = print_objects(
            Kind::ConfigMap,
            std::slice::from_ref(&cm),
            &PrintOptions {
                format: Some(OutputFormat::Json),
                single_object: true,
                ..opts()
            },
        );
        assert_eq!(
            single.stdout,
            "{\n    \"apiVersion\": \"v1\",\n    \"data\": {\n        \"x\": \"\\u003ca\\u0026b\\u003e\"\n    },\n    \"kind\": \"ConfigMap\",\n    \"metadata\": {\n        \"name\": \"c\"\n    }\n}\n"
        );
        let list = print_objects(
            Kind::ConfigMap,
            &[],
            &PrintOptions {
                format: Some(OutputFormat::Json),
                ..opts()
            },
        );
        assert_eq!(
            list.stdout,
            "{\n    \"apiVersion\": \"v1\",\n    \"items\": [],\n    \"kind\": \"List\",\n    \"metadata\": {\n        \"resourceVersion\": \"\"\n    }\n}\n"
        );
        let v: Value = serde_json::from_str(
            &print_objects(
                Kind::ConfigMap,
                &[cm.clone(), cm],
                &PrintOptions {
                    format: Some(OutputFormat::Json),
                    ..opts()
                },
            )
            .stdout,
        )
        .unwrap();
        assert_eq!(v["kind"], "List");
        assert_eq!(v["items"].as_array().unwrap().len(), 2);
    }
}
