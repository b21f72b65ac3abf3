//! The API server's defaulting of stored objects, for the kinds whose defaults users see or
//! controllers read (kubernetes/kubernetes `pkg/apis/autoscaling/v2/defaults.go`,
//! `pkg/apis/autoscaling/v1/defaults.go`, `pkg/apis/scheduling/v1/defaults.go`).
//! Checked against a real v1.37 API server: `kubectl get hpa -o json` of an HPA applied
//! with only `behavior.scaleUp.stabilizationWindowSeconds` shows both rules filled in.

use serde_json::{Value, json};

/// Fills in what the API server defaults on create and update of `v`, a manifest of `kind`
/// at `apiVersion` as written; other kinds are left as they are.
pub fn apply_defaults(v: &mut Value) {
    let kind = v.get("kind").and_then(Value::as_str).unwrap_or("");
    let api = v.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    match (api, kind) {
        ("autoscaling/v2", "HorizontalPodAutoscaler") => hpa_v2(v),
        ("autoscaling/v1", "HorizontalPodAutoscaler") => {
            // v1 leaves targetCPUUtilizationPercentage unset on purpose.
            if let Some(spec) = v.get_mut("spec").and_then(Value::as_object_mut) {
                spec.entry("minReplicas").or_insert(json!(1));
            }
        }
        ("apps/v1", "StatefulSet") => statefulset(v),
        ("scheduling.k8s.io/v1", "PriorityClass") => {
            if let Some(o) = v.as_object_mut() {
                o.entry("preemptionPolicy")
                    .or_insert(json!("PreemptLowerPriority"));
            }
        }
        _ => {}
    }
}

/// `SetDefaults_StatefulSet` (pkg/apis/apps/v1/defaults.go, v1.37; `MaxUnavailableStatefulSet`
/// on by default): `podManagementPolicy` OrderedReady, a RollingUpdate strategy with
/// `partition` 0 and `maxUnavailable` 1, `Retain` claim retention, one replica, a revision
/// history of 10.
fn statefulset(v: &mut Value) {
    let Some(spec) = v.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    spec.entry("podManagementPolicy")
        .or_insert(json!("OrderedReady"));
    let strategy = spec.entry("updateStrategy").or_insert(json!({}));
    if strategy.get("type").is_none() {
        strategy["type"] = json!("RollingUpdate");
        if strategy.get("rollingUpdate").is_none() {
            strategy["rollingUpdate"] = json!({});
        }
    }
    if strategy["type"] == "RollingUpdate"
        && let Some(r) = strategy
            .get_mut("rollingUpdate")
            .and_then(Value::as_object_mut)
    {
        r.entry("partition").or_insert(json!(0));
        r.entry("maxUnavailable").or_insert(json!(1));
    }
    let retention = spec
        .entry("persistentVolumeClaimRetentionPolicy")
        .or_insert(json!({}));
    for field in ["whenDeleted", "whenScaled"] {
        if retention.get(field).is_none() {
            retention[field] = json!("Retain");
        }
    }
    spec.entry("replicas").or_insert(json!(1));
    spec.entry("revisionHistoryLimit").or_insert(json!(10));
}

/// `SetDefaults_HorizontalPodAutoscaler` (autoscaling/v2): `minReplicas` 1, a CPU
/// utilization metric at 80% when none is given, and, when `behavior` is given, every unset
/// field of both rules from `GenerateHPAScaleUpRules` / `GenerateHPAScaleDownRules`. The
/// scale-down stabilization window stays unset: the controller fills it from its
/// `--horizontal-pod-autoscaler-downscale-stabilization` flag.
fn hpa_v2(v: &mut Value) {
    let Some(spec) = v.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    spec.entry("minReplicas").or_insert(json!(1));
    let no_metrics = spec
        .get("metrics")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty);
    if no_metrics {
        spec.insert(
            "metrics".into(),
            json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]),
        );
    }
    let Some(behavior) = spec.get_mut("behavior").and_then(Value::as_object_mut) else {
        return;
    };
    let up = json!({
        "stabilizationWindowSeconds": 0,
        "selectPolicy": "Max",
        "policies": [
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15}
        ]
    });
    let down = json!({
        "selectPolicy": "Max",
        "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]
    });
    for (name, defaults) in [("scaleUp", up), ("scaleDown", down)] {
        let rules = behavior.entry(name).or_insert(json!({}));
        if rules.is_null() {
            *rules = json!({});
        }
        // copyHPAScalingRules: a field given (even an empty policy list) wins.
        if let (Some(r), Value::Object(d)) = (rules.as_object_mut(), defaults) {
            for (k, dv) in d {
                if r.get(&k).is_none_or(Value::is_null) {
                    r.insert(k, dv);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn statefulset_defaults_as_the_api_server() {
        let mut v =
            json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "spec": {"serviceName": "db"}});
        apply_defaults(&mut v);
        assert_eq!(
            v["spec"],
            json!({"serviceName": "db", "podManagementPolicy": "OrderedReady",
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0, "maxUnavailable": 1}},
                "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
                "replicas": 1, "revisionHistoryLimit": 10})
        );
        // OnDelete gets no rollingUpdate block; a given one keeps its values.
        let mut v = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "spec": {"replicas": 3, "updateStrategy": {"type": "OnDelete"}}});
        apply_defaults(&mut v);
        assert_eq!(v["spec"]["updateStrategy"], json!({"type": "OnDelete"}));
        assert_eq!(v["spec"]["replicas"], json!(3));
    }

    use super::*;

    #[test]
    fn hpa_behavior_defaults_fill_both_rules() {
        // Observed on kube-apiserver v1.37.2.
        let mut v = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "spec": {"maxReplicas": 10, "behavior": {"scaleUp": {"stabilizationWindowSeconds": 60}}}});
        apply_defaults(&mut v);
        assert_eq!(
            v["spec"],
            json!({"maxReplicas": 10, "minReplicas": 1,
                "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}],
                "behavior": {
                    "scaleUp": {"stabilizationWindowSeconds": 60, "selectPolicy": "Max", "policies": [
                        {"type": "Pods", "value": 4, "periodSeconds": 15},
                        {"type": "Percent", "value": 100, "periodSeconds": 15}]},
                    "scaleDown": {"selectPolicy": "Max", "policies": [
                        {"type": "Percent", "value": 100, "periodSeconds": 15}]}}})
        );
        let mut v = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "spec": {"maxReplicas": 10, "minReplicas": 2, "metrics": [{"type": "Pods"}],
                "behavior": {"scaleDown": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}}}});
        apply_defaults(&mut v);
        assert_eq!(v["spec"]["minReplicas"], 2);
        assert_eq!(v["spec"]["metrics"], json!([{"type": "Pods"}]));
        assert_eq!(
            v["spec"]["behavior"]["scaleDown"],
            json!({"selectPolicy": "Max", "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]})
        );
        assert_eq!(
            v["spec"]["behavior"]["scaleUp"]["stabilizationWindowSeconds"],
            0
        );
    }

    #[test]
    fn hpa_without_behavior_keeps_none() {
        let mut v = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "spec": {"maxReplicas": 3}});
        apply_defaults(&mut v);
        assert!(v["spec"].get("behavior").is_none());
        let mut v = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "spec": {"maxReplicas": 3}});
        apply_defaults(&mut v);
        assert_eq!(v["spec"], json!({"maxReplicas": 3, "minReplicas": 1}));
    }

    #[test]
    fn priority_class_policy_defaults_to_preempt_lower_priority() {
        let mut v =
            json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "value": 10});
        apply_defaults(&mut v);
        assert_eq!(v["preemptionPolicy"], "PreemptLowerPriority");
        let mut v = json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "value": 10, "preemptionPolicy": "Never"});
        apply_defaults(&mut v);
        assert_eq!(v["preemptionPolicy"], "Never");
    }
}
