//! API-server-style validation of stored objects.
//!
//! Messages follow the API server's `field: Invalid value: X: reason` shape
//! (k8s.io/apimachinery/pkg/util/validation/field), so users recognise them.

use kscale_controllers::karpenter::budget::Budget;
use kscale_model::Quantity;
use serde_json::{Map, Value};

/// A failed validation: (field path, message).
pub type Invalid = (String, String);

fn invalid(field: &str, value: impl std::fmt::Display, reason: &str) -> Invalid {
    (
        field.to_string(),
        format!("{field}: Invalid value: {value}: {reason}"),
    )
}

/// Validates an object; returns the first problem found.
pub fn validate_object(v: &Value) -> Result<(), Invalid> {
    let kind = v.get("kind").and_then(Value::as_str).unwrap_or("");
    let meta = v.get("metadata").and_then(Value::as_object);
    let name = meta
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let generate = meta
        .and_then(|m| m.get("generateName"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if name.is_empty() && generate.is_empty() {
        return Err((
            "metadata.name".into(),
            "metadata.name: Required value: name or generateName is required".into(),
        ));
    }
    if !name.is_empty()
        && !is_dns_subdomain(name)
        && !kind.starts_with("Cluster")
        && kind != "Role"
        && kind != "RoleBinding"
    {
        return Err(invalid(
            "metadata.name",
            format!("{name:?}"),
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
        ));
    }
    let spec = v.get("spec");
    // Custom resources' int32 fields as their CRD schemas declare them (`format: int32`,
    // `minimum: 0`): the API server refuses a value out of range instead of wrapping it.
    let int32_fields: &[&str] = match kind {
        "CapacityBuffer" => &["replicas", "percentage"],
        _ => &[],
    };
    for f in int32_fields {
        if let Some(x) = spec.and_then(|s| s.get(*f)) {
            let ok = x
                .as_i64()
                .is_some_and(|n| (0..=i64::from(i32::MAX)).contains(&n));
            if !ok {
                return Err(invalid(
                    &format!("spec.{f}"),
                    x,
                    "must be an integer between 0 and 2147483647",
                ));
            }
        }
    }
    if kind == "VerticalPodAutoscaler"
        && let Some(m) = spec.and_then(|s| s.pointer("/updatePolicy/minReplicas"))
        && !m
            .as_i64()
            .is_some_and(|n| (1..=i64::from(i32::MAX)).contains(&n))
    {
        return Err(invalid(
            "spec.updatePolicy.minReplicas",
            m,
            "must be an integer between 1 and 2147483647",
        ));
    }
    match kind {
        "Deployment" | "ReplicaSet" | "StatefulSet" => {
            if let Some(r) = spec.and_then(|s| s.get("replicas")).and_then(Value::as_i64)
                && r < 0
            {
                return Err(invalid(
                    "spec.replicas",
                    r,
                    "must be greater than or equal to 0",
                ));
            }
            let selector = spec.and_then(|s| s.get("selector"));
            if selector.is_none() && kind != "ReplicaSet" {
                return Err((
                    "spec.selector".into(),
                    "spec.selector: Required value".into(),
                ));
            }
            let tlabels = spec
                .and_then(|s| s.pointer("/template/metadata/labels"))
                .and_then(Value::as_object);
            if let Some(ml) = selector
                .and_then(|s| s.get("matchLabels"))
                .and_then(Value::as_object)
            {
                let ok = ml
                    .iter()
                    .all(|(k, val)| tlabels.and_then(|t| t.get(k)) == Some(val));
                if !ok {
                    return Err(invalid(
                        "spec.template.metadata.labels",
                        render_map(tlabels),
                        "`selector` does not match template `labels`",
                    ));
                }
            }
            if let Some(ps) = spec.and_then(|s| s.pointer("/template/spec")) {
                validate_pod_spec("spec.template.spec", ps)?;
            } else {
                return Err((
                    "spec.template.spec".into(),
                    "spec.template.spec: Required value".into(),
                ));
            }
        }
        "DaemonSet" => {
            if let Some(ps) = spec.and_then(|s| s.pointer("/template/spec")) {
                validate_pod_spec("spec.template.spec", ps)?;
            }
        }
        "Pod" => {
            if let Some(ps) = spec {
                validate_pod_spec("spec", ps)?;
            } else {
                return Err(("spec".into(), "spec: Required value".into()));
            }
        }
        "HorizontalPodAutoscaler" => {
            let s = spec.ok_or_else(|| ("spec".to_string(), "spec: Required value".to_string()))?;
            let min = s.get("minReplicas").and_then(Value::as_i64).unwrap_or(1);
            let max = s.get("maxReplicas").and_then(Value::as_i64).unwrap_or(0);
            if min < 0 {
                return Err(invalid(
                    "spec.minReplicas",
                    min,
                    "must be greater than or equal to 0",
                ));
            }
            if max < 1 {
                return Err(invalid("spec.maxReplicas", max, "must be greater than 0"));
            }
            if max < min {
                return Err(invalid(
                    "spec.maxReplicas",
                    max,
                    "must be greater than or equal to `minReplicas`",
                ));
            }
        }
        "PriorityClass" => {
            let val = v.get("value").and_then(Value::as_i64).unwrap_or(0);
            if val > 1_000_000_000 && !name.starts_with("system-") {
                return Err(invalid(
                    "value",
                    val,
                    "maximum allowed value of a user defined priority is 1000000000",
                ));
            }
        }
        "NodePool" => validate_nodepool_disruption(spec)?,
        _ => {}
    }
    Ok(())
}

fn render_map(m: Option<&Map<String, Value>>) -> String {
    let inner: Vec<String> = m
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}:{}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    format!("map[string]string{{{}}}", inner.join(", "))
}

fn validate_pod_spec(path: &str, ps: &Value) -> Result<(), Invalid> {
    let containers = ps.get("containers").and_then(Value::as_array);
    if containers.is_none_or(|c| c.is_empty()) {
        return Err((
            format!("{path}.containers"),
            format!("{path}.containers: Required value"),
        ));
    }
    for list in ["initContainers", "containers"] {
        for (i, c) in ps
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let cpath = format!("{path}.{list}[{i}]");
            if c.get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .is_empty()
            {
                return Err((
                    format!("{cpath}.name"),
                    format!("{cpath}.name: Required value"),
                ));
            }
            if let Some(r) = c.get("replica").and_then(Value::as_i64)
                && r < 0
            {
                return Err(invalid(
                    &format!("{cpath}.replica"),
                    r,
                    "must be greater than or equal to 0",
                ));
            }
            let res = c.get("resources");
            for section in ["requests", "limits"] {
                for (rname, q) in res
                    .and_then(|r| r.get(section))
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    let text = match q {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    let field = format!("{cpath}.resources.{section}[{rname}]");
                    let qv = Quantity::parse(&text)
                        .map_err(|e| invalid(&field, format!("{text:?}"), &e.reason))?;
                    if qv.is_negative() {
                        return Err(invalid(
                            &field,
                            format!("{text:?}"),
                            "must be greater than or equal to 0",
                        ));
                    }
                }
            }
            // requests must not exceed limits.
            if let (Some(req), Some(lim)) = (
                res.and_then(|r| r.get("requests"))
                    .and_then(Value::as_object),
                res.and_then(|r| r.get("limits")).and_then(Value::as_object),
            ) {
                for (rname, rq) in req {
                    if let Some(lq) = lim.get(rname) {
                        let (Some(rq), Some(lq)) = (rq.as_str(), lq.as_str()) else {
                            continue;
                        };
                        let (Ok(a), Ok(b)) = (Quantity::parse(rq), Quantity::parse(lq)) else {
                            continue;
                        };
                        if a > b {
                            let field = format!("{cpath}.resources.requests");
                            return Err(invalid(
                                &field,
                                format!("{rq:?}"),
                                &format!("must be less than or equal to {rname} limit of {lq}"),
                            ));
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// The "name part" rule of qualified names and label values: alphanumerics, `-`, `_`, `.`,
/// starting and ending with an alphanumeric.
fn is_name_part(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

const NAME_PART_RULE: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

/// What is wrong with a label or annotation key, in the API server's words
/// (`k8s.io/apimachinery/pkg/util/validation` `IsQualifiedName`, as v1.37 words it); empty
/// when it is valid.
pub fn qualified_name_errors(key: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = key.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else if !is_dns_subdomain(prefix) {
                errs.push("prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".to_string());
            }
            name
        }
        _ => {
            return vec![format!(
                "a valid label key {NAME_PART_RULE} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            )];
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errs.push("name part must be no more than 63 bytes".to_string());
    }
    if !name.is_empty() && !is_name_part(name) {
        errs.push(format!("name part {NAME_PART_RULE}"));
    }
    errs
}

/// What is wrong with a label value (`IsValidLabelValue`); empty when it is valid.
pub fn label_value_errors(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 63 {
        errs.push("must be no more than 63 bytes".to_string());
    }
    if !value.is_empty() && !is_name_part(value) {
        errs.push("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')".to_string());
    }
    errs
}

/// True if `s` is a DNS-1123 subdomain (lower-case alphanumerics, `-`, `.`; ≤ 253 chars).
pub fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// Converts numeric quantities (`cpu: 1`) in well-known places to strings so that JSON input
/// deserializes into `Quantity` fields the way YAML input does.
pub fn normalize_quantities(mut v: Value) -> Value {
    fn is_quantity_map(k: &str) -> bool {
        matches!(
            k,
            "requests" | "limits" | "capacity" | "allocatable" | "hard" | "overhead"
        )
    }
    fn walk(v: &mut Value, in_quantity_map: bool) {
        match v {
            Value::Object(m) => {
                let is_target = m
                    .get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| matches!(t, "Value" | "AverageValue" | "Utilization"));
                for (k, child) in m.iter_mut() {
                    let direct = k == "averageValue" || (is_target && k == "value");
                    if (in_quantity_map || direct) && child.is_number() {
                        *child = Value::String(child.to_string());
                        continue;
                    }
                    walk(
                        child,
                        is_quantity_map(k) || (in_quantity_map && child.is_object()),
                    );
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, false)),
            _ => {}
        }
    }
    walk(&mut v, false);
    v
}

/// A NodePool's `spec.disruption` as the CRD's schema checks it (kubernetes-sigs/karpenter
/// pkg/apis/v1/nodepool.go markers): the policy enum, `consolidateAfter` (`Never` or a
/// duration), at most 50 budgets, each with a valid `nodes`, `reasons`, cron `schedule` and
/// `duration` (set together).
fn validate_nodepool_disruption(spec: Option<&Value>) -> Result<(), Invalid> {
    let Some(d) = spec.and_then(|s| s.get("disruption")) else {
        return Ok(());
    };
    if let Some(p) = d.get("consolidationPolicy") {
        let ok = matches!(
            p.as_str(),
            Some("WhenEmpty" | "WhenEmptyOrUnderutilized" | "Balanced")
        );
        if !ok {
            return Err((
                "spec.disruption.consolidationPolicy".into(),
                format!(
                    "spec.disruption.consolidationPolicy: Unsupported value: {p}: supported values: \"WhenEmpty\", \"WhenEmptyOrUnderutilized\", \"Balanced\""
                ),
            ));
        }
    }
    if let Some(a) = d.get("consolidateAfter") {
        let ok = a
            .as_str()
            .is_some_and(|s| s == "Never" || kscale_model::parse_duration(s).is_ok());
        if !ok {
            return Err(invalid(
                "spec.disruption.consolidateAfter",
                a,
                "should match '^(([0-9]+(s|m|h))+|Never)$'",
            ));
        }
    }
    if let Some(b) = d.get("budgets") {
        let Some(list) = b.as_array() else {
            return Err(invalid("spec.disruption.budgets", b, "must be a list"));
        };
        if list.len() > 50 {
            return Err((
                "spec.disruption.budgets".into(),
                format!(
                    "spec.disruption.budgets: Too many: {}: must have at most 50 items",
                    list.len()
                ),
            ));
        }
        for (i, x) in list.iter().enumerate() {
            if let Err(e) = parse_budget(x) {
                let field = format!("spec.disruption.budgets[{i}]");
                return Err((field.clone(), format!("{field}: Invalid value: {x}: {e}")));
            }
        }
    }
    Ok(())
}

/// Parses one budget object (`nodes`, `reasons`, `schedule`, `duration`).
pub fn parse_budget(b: &Value) -> Result<Budget, String> {
    let nodes = match b.get("nodes") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        None => "10%".to_string(),
        Some(other) => return Err(format!("nodes: invalid value {other}")),
    };
    let reasons: Vec<String> = b
        .get("reasons")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|r| r.as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default();
    let schedule = b.get("schedule").and_then(Value::as_str);
    let duration = match b.get("duration").and_then(Value::as_str) {
        Some(d) => Some(
            kscale_model::parse_duration(d)
                .map_err(|e| format!("duration: invalid value \"{d}\": {e}"))?,
        ),
        None => None,
    };
    Budget::parse(&nodes, &reasons, schedule, duration)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deploy(replicas: i64, cpu: &str) -> Value {
        json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
            "spec":{"replicas":replicas,"selector":{"matchLabels":{"app":"web"}},
            "template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"nginx","resources":{"requests":{"cpu":cpu}}}]}}}})
    }

    #[test]
    fn label_keys_and_values_as_the_api_server_checks_them() {
        // Cases checked against a v1.37.2 API server (kubectl label / annotate).
        assert!(qualified_name_errors("foo.io/bar").is_empty());
        assert!(qualified_name_errors("app").is_empty());
        let e = qualified_name_errors("a b");
        assert_eq!(e.len(), 1);
        assert!(e[0].starts_with("name part must consist of alphanumeric characters"));
        assert!(qualified_name_errors("a/b/c")[0].starts_with("a valid label key must consist"));
        assert!(
            qualified_name_errors("Bad_Prefix/x")[0]
                .starts_with("prefix part a lowercase RFC 1123 subdomain")
        );
        assert_eq!(
            qualified_name_errors(&"a".repeat(64)),
            ["name part must be no more than 63 bytes"]
        );
        assert_eq!(qualified_name_errors("a b/c d").len(), 2);
        assert!(label_value_errors("").is_empty());
        assert!(label_value_errors("v1.2_x").is_empty());
        assert_eq!(
            label_value_errors(&"a".repeat(64)),
            ["must be no more than 63 bytes"]
        );
        assert!(label_value_errors("a b")[0].starts_with("a valid label must be an empty string"));
    }

    #[test]
    fn negative_replicas_and_bad_quantity() {
        assert!(validate_object(&deploy(2, "250m")).is_ok());
        let (f, m) = validate_object(&deploy(-1, "250m")).unwrap_err();
        assert_eq!(f, "spec.replicas");
        assert_eq!(
            m,
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0"
        );
        let (f, m) = validate_object(&deploy(1, "lots")).unwrap_err();
        assert_eq!(
            f,
            "spec.template.spec.containers[0].resources.requests[cpu]"
        );
        assert!(m.contains("Invalid value: \"lots\""), "{m}");
    }

    #[test]
    fn selector_must_match_labels() {
        let mut d = deploy(1, "1");
        d["spec"]["selector"]["matchLabels"]["app"] = json!("other");
        let (f, m) = validate_object(&d).unwrap_err();
        assert_eq!(f, "spec.template.metadata.labels");
        assert!(m.ends_with("`selector` does not match template `labels`"));
    }

    #[test]
    fn names_and_numbers() {
        assert!(is_dns_subdomain("nginx-app.v1"));
        assert!(!is_dns_subdomain("Nginx"));
        let v = normalize_quantities(json!({"resources":{"requests":{"cpu":1,"memory":"1Gi"}}}));
        assert_eq!(v["resources"]["requests"]["cpu"], json!("1"));
    }

    #[test]
    fn nodepool_budgets_are_validated() {
        let np = |d: Value| json!({"apiVersion": "karpenter.sh/v1", "kind": "NodePool", "metadata": {"name": "p"}, "spec": {"disruption": d}});
        assert!(validate_object(&np(json!({"budgets": [{"nodes": "20%", "schedule": "0 9 * * mon-fri", "duration": "8h", "reasons": ["Underutilized"]}]}))).is_ok());
        let (f, m) = validate_object(&np(
            json!({"budgets": [{"nodes": "10%"}, {"nodes": "150%"}]}),
        ))
        .unwrap_err();
        assert_eq!(f, "spec.disruption.budgets[1]");
        assert!(m.contains("150%"), "{m}");
        let (_, m) = validate_object(&np(
            json!({"budgets": [{"nodes": "1", "schedule": "@daily"}]}),
        ))
        .unwrap_err();
        assert!(m.contains("'schedule' must be set with 'duration'"), "{m}");
        let (_, m) = validate_object(&np(
            json!({"budgets": [{"nodes": "1", "schedule": "0 25 * * *", "duration": "1h"}]}),
        ))
        .unwrap_err();
        assert!(m.contains("above maximum"), "{m}");
        let (f, _) = validate_object(&np(json!({"consolidateAfter": "soon"}))).unwrap_err();
        assert_eq!(f, "spec.disruption.consolidateAfter");
        let (f, _) = validate_object(&np(json!({"consolidationPolicy": "Always"}))).unwrap_err();
        assert_eq!(f, "spec.disruption.consolidationPolicy");
    }
}
