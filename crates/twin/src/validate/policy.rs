//! PodDisruptionBudgets as the API server validates them
//! (`pkg/apis/policy/validation/validation.go`, v1.37.2; `policy/v1` has no defaults and no
//! declarative checks of the spec).

use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::apps::{not_more_than_100_percent, positive_int_or_percent};
use super::autoscaling::go_json_string;
use super::field::{self, BadValue, ErrorList, Path};
use super::meta;

/// `supportedUnhealthyPodEvictionPolicies` (sorted).
const UNHEALTHY_POD_EVICTION_POLICIES: [&str; 2] = ["AlwaysAllow", "IfHealthyBudget"];

/// `ValidatePodDisruptionBudget` / `ValidatePodDisruptionBudgetSpec` (spec only; metadata is
/// checked by the caller): not both `minAvailable` and `maxUnavailable`, each a non-negative
/// integer or a percentage up to 100%, the selector, and the unhealthy-pod eviction policy.
pub(super) fn pdb(p: &PodDisruptionBudget) -> ErrorList {
    let spec = p.spec.clone().unwrap_or_default();
    let path = Path::new("spec");
    let mut errs = ErrorList::new();
    if spec.min_available.is_some() && spec.max_unavailable.is_some() {
        errs.push(field::invalid(
            &path,
            BadValue::Json(spec_json(&spec)),
            "minAvailable and maxUnavailable cannot be both set",
        ));
    }
    for (name, v) in [
        ("minAvailable", &spec.min_available),
        ("maxUnavailable", &spec.max_unavailable),
    ] {
        if let Some(v) = v {
            let fp = path.child(name);
            errs.extend(positive_int_or_percent(v, &fp));
            errs.extend(not_more_than_100_percent(v, &fp));
        }
    }
    if let Some(sel) = &spec.selector {
        errs.extend(meta::label_selector(sel, &path.child("selector")));
    }
    if let Some(pol) = &spec.unhealthy_pod_eviction_policy
        && !UNHEALTHY_POD_EVICTION_POLICIES.contains(&pol.as_str())
    {
        errs.push(field::not_supported(
            &path.child("unhealthyPodEvictionPolicy"),
            BadValue::Json(go_json_string(pol)),
            &UNHEALTHY_POD_EVICTION_POLICIES,
        ));
    }
    errs
}

/// An IntOrString as `json.Marshal` prints it.
fn int_or_string_json(v: &IntOrString) -> String {
    match v {
        IntOrString::Int(i) => i.to_string(),
        IntOrString::String(s) => go_json_string(s),
    }
}

/// The internal `PodDisruptionBudgetSpec` as `json.Marshal` prints it (the bad value of the
/// both-set error): Go field names, no tags, in declaration order.
fn spec_json(s: &PodDisruptionBudgetSpec) -> String {
    let opt = |v: &Option<IntOrString>| v.as_ref().map_or("null".into(), int_or_string_json);
    let policy = s
        .unhealthy_pod_eviction_policy
        .as_deref()
        .map_or("null".into(), go_json_string);
    format!(
        "{{\"MinAvailable\":{},\"Selector\":{},\"MaxUnavailable\":{},\"UnhealthyPodEvictionPolicy\":{}}}",
        opt(&s.min_available),
        s.selector.as_ref().map_or("null".into(), selector_json),
        opt(&s.max_unavailable),
        policy
    )
}

/// A `metav1.LabelSelector` as `json.Marshal` prints it (empty parts omitted, keys sorted).
fn selector_json(sel: &LabelSelector) -> String {
    let mut parts = Vec::new();
    if let Some(ml) = sel.match_labels.as_ref().filter(|m| !m.is_empty()) {
        let kv: Vec<String> = ml
            .iter()
            .map(|(k, v)| format!("{}:{}", go_json_string(k), go_json_string(v)))
            .collect();
        parts.push(format!("\"matchLabels\":{{{}}}", kv.join(",")));
    }
    if let Some(me) = sel.match_expressions.as_ref().filter(|m| !m.is_empty()) {
        let items: Vec<String> = me
            .iter()
            .map(|r| {
                let mut s = format!(
                    "{{\"key\":{},\"operator\":{}",
                    go_json_string(&r.key),
                    go_json_string(&r.operator)
                );
                if let Some(vs) = r.values.as_ref().filter(|v| !v.is_empty()) {
                    let vs: Vec<String> = vs.iter().map(|v| go_json_string(v)).collect();
                    s.push_str(&format!(",\"values\":[{}]", vs.join(",")));
                }
                s.push('}');
                s
            })
            .collect();
        parts.push(format!("\"matchExpressions\":[{}]", items.join(",")));
    }
    format!("{{{}}}", parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn pdb_errs(spec: Value) -> ErrorList {
        let p: PodDisruptionBudget =
            serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": spec})).unwrap();
        pdb(&p)
    }

    fn msgs(spec: Value) -> Vec<String> {
        pdb_errs(spec).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn valid_budgets() {
        for v in [
            json!("0%"),
            json!("1%"),
            json!("100%"),
            json!(0),
            json!(1),
            json!(100),
        ] {
            assert_eq!(pdb_errs(json!({"minAvailable": v})), vec![], "{v}");
            assert_eq!(pdb_errs(json!({"maxUnavailable": v})), vec![], "{v}");
        }
        assert_eq!(
            pdb_errs(
                json!({"minAvailable": "10%", "selector": {"matchLabels": {"app": "web"}},
                "unhealthyPodEvictionPolicy": "AlwaysAllow"})
            ),
            vec![]
        );
        assert_eq!(
            pdb_errs(json!({"maxUnavailable": 1, "unhealthyPodEvictionPolicy": "IfHealthyBudget"})),
            vec![]
        );
        assert_eq!(pdb_errs(json!({})), vec![]);
    }

    use super::super::apps::PERCENT_MSG;

    #[test]
    fn bad_values() {
        for v in ["1.1%", "nope", "-1%", ""] {
            assert_eq!(
                msgs(json!({"minAvailable": v})),
                [format!(
                    "spec.minAvailable: Invalid value: {v:?}: {PERCENT_MSG}"
                )]
            );
        }
        assert_eq!(
            msgs(json!({"minAvailable": "101%"})),
            ["spec.minAvailable: Invalid value: \"101%\": must not be greater than 100%"]
        );
        assert_eq!(
            msgs(json!({"maxUnavailable": -1})),
            ["spec.maxUnavailable: Invalid value: -1: must be greater than or equal to 0"]
        );
        assert_eq!(
            msgs(json!({"maxUnavailable": "0150%"})),
            ["spec.maxUnavailable: Invalid value: \"0150%\": must not be greater than 100%"]
        );
    }

    #[test]
    fn both_set() {
        assert_eq!(
            msgs(json!({"minAvailable": "10%", "maxUnavailable": 1,
                "selector": {"matchLabels": {"b": "2", "a": "1"}, "matchExpressions": [{"key": "t", "operator": "Exists"}]}})),
            [
                "spec: Invalid value: {\"MinAvailable\":\"10%\",\"Selector\":{\"matchLabels\":{\"a\":\"1\",\"b\":\"2\"},\"matchExpressions\":[{\"key\":\"t\",\"operator\":\"Exists\"}]},\"MaxUnavailable\":1,\"UnhealthyPodEvictionPolicy\":null}: minAvailable and maxUnavailable cannot be both set"
            ]
        );
        // Each value is still checked.
        let e = pdb_errs(json!({"minAvailable": "0%", "maxUnavailable": "110%"}));
        let fields: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["spec", "spec.maxUnavailable"]);
    }

    #[test]
    fn selector_and_policy() {
        let e = pdb_errs(
            json!({"minAvailable": 1, "selector": {"matchLabels": {"app": "a b"},
            "matchExpressions": [{"key": "k", "operator": "In"}]}}),
        );
        let fields: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "spec.selector.matchLabels",
                "spec.selector.matchExpressions[0].values"
            ]
        );
        assert_eq!(
            msgs(json!({"minAvailable": 1, "unhealthyPodEvictionPolicy": "Invalid"})),
            [
                "spec.unhealthyPodEvictionPolicy: Unsupported value: \"Invalid\": supported values: \"AlwaysAllow\", \"IfHealthyBudget\""
            ]
        );
        assert_eq!(
            msgs(json!({"minAvailable": 1, "unhealthyPodEvictionPolicy": ""})),
            [
                "spec.unhealthyPodEvictionPolicy: Unsupported value: \"\": supported values: \"AlwaysAllow\", \"IfHealthyBudget\""
            ]
        );
    }
}
