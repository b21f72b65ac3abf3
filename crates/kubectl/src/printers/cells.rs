//! Reading fields of API objects as JSON and formatting the cells several kinds share
//! (`labels.FormatLabels`, `metav1.FormatLabelSelector`, container names and images).

use serde_json::Value;

pub(super) fn s<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = v;
    for p in path {
        cur = cur.get(*p)?;
    }
    Some(cur)
}

pub(super) fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    s(v, path).and_then(Value::as_str).unwrap_or("")
}

pub(super) fn int_at(v: &Value, path: &[&str]) -> i64 {
    s(v, path).and_then(Value::as_i64).unwrap_or(0)
}

pub(super) fn arr_at<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    s(v, path)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

pub(super) fn or_none(x: &str) -> String {
    if x.is_empty() {
        "<none>".to_string()
    } else {
        x.to_string()
    }
}

pub(super) fn int_or_string(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// A quantity in Go's canonical form (`resource.Quantity.String()`, as the API server
/// stores it): binary-suffixed amounts (`Ki`, `Mi`, ...) with the largest power of 1024 that
/// divides them, others with the largest SI suffix of a power of 1000 (`1000m` → `1`, `0.5` →
/// `500m`, `2000` → `2k`). Exponent forms and unparsable text stay as written.
pub(super) fn canonical_quantity(text: &str) -> String {
    let Ok(q) = kscale_model::Quantity::parse(text) else {
        return text.to_string();
    };
    if text.contains(['e', 'E']) {
        return text.to_string();
    }
    let nanos = q.nanos();
    let binary = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
        .iter()
        .any(|b| text.ends_with(b));
    const NANO: i128 = 1_000_000_000;
    if binary && nanos % NANO == 0 {
        let mut v = nanos / NANO;
        let mut unit = 0;
        while unit < 6 && v != 0 && v % 1024 == 0 {
            v /= 1024;
            unit += 1;
        }
        return format!("{v}{}", ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][unit]);
    }
    // Decimal SI: nanos are 10^-9; step up by 1000 while the amount stays whole.
    let suffixes = ["n", "u", "m", "", "k", "M", "G", "T", "P", "E"];
    let mut v = nanos;
    let mut unit = 0;
    while unit + 1 < suffixes.len() && v != 0 && v % 1000 == 0 {
        v /= 1000;
        unit += 1;
    }
    if v == 0 {
        return "0".to_string();
    }
    format!("{v}{}", suffixes[unit])
}

/// `labels.FormatLabels`: `k=v,k2=v2` sorted by key, `<none>` when empty.
pub(super) fn format_labels(m: Option<&Value>) -> String {
    let Some(Value::Object(m)) = m else {
        return "<none>".to_string();
    };
    if m.is_empty() {
        return "<none>".to_string();
    }
    let mut kv: Vec<(&String, &Value)> = m.iter().collect();
    kv.sort_by(|a, b| a.0.cmp(b.0));
    kv.iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect::<Vec<_>>()
        .join(",")
}

/// `metav1.FormatLabelSelector`: matchLabels and matchExpressions, `<none>` when empty.
pub(super) fn format_selector(sel: Option<&Value>) -> String {
    let Some(sel) = sel else {
        return "<none>".to_string();
    };
    let mut parts: Vec<String> = Vec::new();
    if let Some(Value::Object(ml)) = sel.get("matchLabels") {
        let mut kv: Vec<(&String, &Value)> = ml.iter().collect();
        kv.sort_by(|a, b| a.0.cmp(b.0));
        parts.extend(
            kv.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())),
        );
    }
    for e in arr_at(sel, &["matchExpressions"]) {
        let key = str_at(e, &["key"]);
        let vals: Vec<&str> = arr_at(e, &["values"])
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let part = match str_at(e, &["operator"]) {
            "In" => format!("{key} in ({})", vals.join(",")),
            "NotIn" => format!("{key} notin ({})", vals.join(",")),
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            op => format!("{key} {op} ({})", vals.join(",")),
        };
        parts.push(part);
    }
    if parts.is_empty() {
        "<none>".to_string()
    } else {
        parts.join(",")
    }
}

pub(super) fn containers_cells(obj: &Value) -> (String, String) {
    let cs = arr_at(obj, &["spec", "template", "spec", "containers"]);
    let names: Vec<&str> = cs.iter().map(|c| str_at(c, &["name"])).collect();
    let images: Vec<&str> = cs.iter().map(|c| str_at(c, &["image"])).collect();
    (names.join(","), images.join(","))
}

pub(super) fn condition_status<'a>(obj: &'a Value, ty: &str) -> Option<&'a str> {
    arr_at(obj, &["status", "conditions"])
        .iter()
        .find(|c| str_at(c, &["type"]) == ty)
        .map(|c| str_at(c, &["status"]))
}

pub(super) fn name_of(o: &Value) -> String {
    str_at(o, &["metadata", "name"]).to_string()
}

#[cfg(test)]
mod tests {
    use super::canonical_quantity;

    /// Cases of k8s.io/apimachinery `resource/quantity_test.go` (`TestQuantityString`,
    /// canonical forms).
    #[test]
    fn quantities_print_in_canonical_form() {
        for (input, want) in [
            ("1000m", "1"),
            ("0.5", "500m"),
            ("100m", "100m"),
            ("2000", "2k"),
            ("1500", "1500"),
            ("1024Mi", "1Gi"),
            ("1536Mi", "1536Mi"),
            ("1.5Gi", "1536Mi"),
            ("1Gi", "1Gi"),
            ("128974848", "128974848"),
            ("0", "0"),
            ("129e6", "129e6"),
        ] {
            assert_eq!(canonical_quantity(input), want, "{input}");
        }
    }
}
