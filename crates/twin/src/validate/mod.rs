//! API-server validation of the objects kscale stores, at load time and on every write a
//! kubectl step makes: upstream's `pkg/apis/*/validation` rules for the kinds the twin
//! simulates, one module per API group, worded as the API server words them
//! ([`field`]). Custom resources get their CRD schemas' checks.

pub mod field;
pub mod meta;

mod apps;
mod autoscaling;
mod pod;
mod policy;
mod scheduling;

use k8s_openapi::Metadata;
use k8s_openapi::api::core;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kscale_components::karpenter::pool::parse_budget;
use serde::de::DeserializeOwned;
use serde_json::Value;

use field::{ErrorList, Path};
use meta::NameRule;

pub use field::{FieldError, invalid_object_message};
pub use meta::{is_dns_subdomain, label_value_errors, qualified_name_errors};

/// A failed validation: (field path, message).
pub type Invalid = (String, String);

/// Validates an object (as canonicalized from its typed form); returns the first problem
/// found.
pub fn validate_object(v: &Value) -> Result<(), Invalid> {
    match validate(v).into_iter().next() {
        None => Ok(()),
        Some(e) => Err((e.field.clone(), e.to_string())),
    }
}

/// Validates an object as the API server does on create and update: every problem, in the
/// order the API server reports them.
pub fn validate(v: &Value) -> ErrorList {
    validate_written(v, v)
}

/// [`validate`] of an object canonicalized through its typed form (`v`), given the object as
/// written (`written`): the typed form cannot tell an absent required field from an empty one.
pub fn validate_written(v: &Value, written: &Value) -> ErrorList {
    let api = v.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = v.get("kind").and_then(Value::as_str).unwrap_or("");
    use NameRule::{Label, PathSegment, Subdomain};
    match (api, kind) {
        ("apps/v1", "Deployment") => {
            missing_selector(written, typed(v, true, Subdomain, apps::deployment), true)
        }
        ("apps/v1", "ReplicaSet") => {
            missing_selector(written, typed(v, true, Subdomain, apps::replica_set), true)
        }
        ("apps/v1", "StatefulSet") => {
            missing_selector(written, typed(v, true, Subdomain, apps::stateful_set), true)
        }
        ("apps/v1", "DaemonSet") => {
            missing_selector(written, typed(v, true, Subdomain, apps::daemon_set), false)
        }
        ("v1", "Pod") => typed(v, true, Subdomain, pod::pod),
        ("v1", "Node") => typed(v, false, Subdomain, pod::node),
        ("v1", "Namespace") => typed(v, false, Label, |_: &core::v1::Namespace| vec![]),
        ("autoscaling/v2", "HorizontalPodAutoscaler") => {
            typed(v, true, Subdomain, autoscaling::hpa_v2)
        }
        ("autoscaling/v1", "HorizontalPodAutoscaler") => {
            typed(v, true, Subdomain, autoscaling::hpa_v1)
        }
        ("policy/v1", "PodDisruptionBudget") => typed(v, true, Subdomain, policy::pdb),
        ("scheduling.k8s.io/v1", "PriorityClass") => {
            typed(v, false, Subdomain, scheduling::priority_class)
        }
        (_, "Role" | "RoleBinding" | "ClusterRole" | "ClusterRoleBinding") => {
            untyped_meta(v, PathSegment)
        }
        _ => custom(v, kind),
    }
}

/// A workload without `spec.selector` (its typed form reads it as empty): upstream reports it
/// `Required` (`required`) and, since a nil selector matches nothing, the template's labels
/// as not matching it.
fn missing_selector(v: &Value, mut errs: ErrorList, required: bool) -> ErrorList {
    if v.pointer("/spec/selector").is_some_and(|s| !s.is_null()) {
        return errs;
    }
    errs.retain(|e| e.field != "spec.selector");
    let mut at = errs
        .iter()
        .position(|e| e.field.starts_with("spec.template"))
        .unwrap_or(errs.len());
    if required {
        errs.insert(at, field::required(&Path::new("spec.selector"), ""));
        at += 1;
    }
    let labels_path = "spec.template.metadata.labels";
    let mismatch = "`selector` does not match template `labels`";
    if !errs
        .iter()
        .any(|e| e.field == labels_path && e.detail == mismatch)
    {
        let labels = v
            .pointer("/spec/template/metadata/labels")
            .cloned()
            .unwrap_or(Value::Null);
        errs.insert(
            at,
            field::invalid(&Path::new(labels_path), &labels, mismatch),
        );
    }
    errs
}

/// Metadata and the kind's own rules, on the object's typed form.
fn typed<T: DeserializeOwned + Metadata<Ty = ObjectMeta>>(
    v: &Value,
    namespaced: bool,
    rule: NameRule,
    f: impl Fn(&T) -> ErrorList,
) -> ErrorList {
    let Ok(t) = serde_json::from_value::<T>(normalize_quantities(v.clone())) else {
        return untyped_meta(v, rule);
    };
    let mut errs = meta::object_meta(t.metadata(), namespaced, rule);
    errs.extend(f(&t));
    errs
}

fn untyped_meta(v: &Value, rule: NameRule) -> ErrorList {
    let m: ObjectMeta = v
        .get("metadata")
        .cloned()
        .and_then(|m| serde_json::from_value(m).ok())
        .unwrap_or_default();
    let namespaced = m.namespace.is_some();
    meta::object_meta(&m, namespaced, rule)
}

/// Custom resources kscale simulates: their CRD schemas' checks.
fn custom(v: &Value, kind: &str) -> ErrorList {
    let mut errs = untyped_meta(v, NameRule::Subdomain);
    let spec = v.get("spec");
    // int32 fields as the CRD schemas declare them (`format: int32`, `minimum: 0`): the API
    // server refuses a value out of range instead of wrapping it.
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
                errs.push(field::invalid(
                    &Path::new("spec").child(f),
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
        errs.push(field::invalid(
            &Path::new("spec.updatePolicy.minReplicas"),
            m,
            "must be an integer between 1 and 2147483647",
        ));
    }
    if kind == "NodePool" {
        errs.extend(validate_nodepool_disruption(spec));
    }
    errs
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
fn validate_nodepool_disruption(spec: Option<&Value>) -> ErrorList {
    let mut errs = ErrorList::new();
    let Some(d) = spec.and_then(|s| s.get("disruption")) else {
        return errs;
    };
    let p = Path::new("spec.disruption");
    if let Some(pol) = d.get("consolidationPolicy") {
        let ok = matches!(
            pol.as_str(),
            Some("WhenEmpty" | "WhenEmptyOrUnderutilized" | "Balanced")
        );
        if !ok {
            errs.push(field::not_supported(
                &p.child("consolidationPolicy"),
                pol,
                &["WhenEmpty", "WhenEmptyOrUnderutilized", "Balanced"],
            ));
        }
    }
    if let Some(a) = d.get("consolidateAfter") {
        let ok = a
            .as_str()
            .is_some_and(|s| s == "Never" || kscale_model::parse_duration(s).is_ok());
        if !ok {
            errs.push(field::invalid(
                &p.child("consolidateAfter"),
                a,
                "should match '^(([0-9]+(s|m|h))+|Never)$'",
            ));
        }
    }
    if let Some(b) = d.get("budgets") {
        let Some(list) = b.as_array() else {
            errs.push(field::invalid(&p.child("budgets"), b, "must be a list"));
            return errs;
        };
        if list.len() > 50 {
            errs.push(field::too_many(&p.child("budgets"), list.len(), 50));
        }
        for (i, x) in list.iter().enumerate() {
            if let Err(e) = parse_budget(x) {
                errs.push(field::invalid(&p.child("budgets").index(i), x, e));
            }
        }
    }
    errs
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use serde_json::json;

    /// Every error of `v`, as the API server prints them (for the per-group tests).
    pub(in crate::validate) fn messages(v: &Value) -> Vec<String> {
        validate(v).iter().map(ToString::to_string).collect()
    }

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
