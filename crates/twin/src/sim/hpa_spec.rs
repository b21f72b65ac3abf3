//! Typed adapters from the k8s-openapi HorizontalPodAutoscaler (autoscaling/v1 and v2) to the
//! controller's [`HpaSpec`]: what an HPA sync reads of its object.
//!
//! Which target fields count follows horizontal.go `computeReplicasForMetric` (v1.37):
//! Resource, ContainerResource and External by field presence (averageValue first), Object by
//! the target's `type`; a metric that cannot be computed becomes [`MetricSpec::Invalid`] with
//! upstream's reason and message, so the sync reports it as the controller does.

use k8s_openapi::api::autoscaling::{v1, v2};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector as K8sLabelSelector;
use kscale_controllers::hpa::{
    Behavior, HpaSpec, MetricId, MetricSpec, ObjectRef, Policy, ResourceMetric, ResourceName,
    Rules, SelectPolicy, Target,
};
use kscale_model::labels::{LabelSelector, NodeSelectorRequirement, SelectorOp};
use kscale_model::quantity::Quantity;
use serde_json::Value;

/// The controller's spec of a stored HPA object (either version). An object that does not
/// read as its version's type (the API server would not have stored it) has one invalid
/// metric naming the problem, so every sync reports it.
pub fn hpa_spec(v: &Value) -> HpaSpec {
    let decoded = match v.get("apiVersion").and_then(Value::as_str) {
        Some("autoscaling/v1") => serde_json::from_value::<v1::HorizontalPodAutoscaler>(v.clone())
            .map(|h| from_v1(&h.spec.unwrap_or_default())),
        _ => serde_json::from_value::<v2::HorizontalPodAutoscaler>(v.clone())
            .map(|h| from_v2(&h.spec.unwrap_or_default())),
    };
    decoded.unwrap_or_else(|e| HpaSpec {
        min: 1,
        max: 1,
        metrics: vec![MetricSpec::Invalid {
            reason: "InvalidMetricSourceType",
            message: format!("the HPA object does not decode: {e}"),
        }],
        behavior: None,
    })
}

/// autoscaling/v1: one CPU utilization target, if set.
pub fn from_v1(s: &v1::HorizontalPodAutoscalerSpec) -> HpaSpec {
    let metrics = s
        .target_cpu_utilization_percentage
        .map(|t| {
            MetricSpec::Resource(ResourceMetric {
                name: ResourceName::Cpu,
                target: Target::Utilization(t),
            })
        })
        .into_iter()
        .collect();
    HpaSpec {
        min: s.min_replicas.unwrap_or(1),
        max: s.max_replicas,
        metrics,
        behavior: None,
    }
}

/// autoscaling/v2: the metrics in order and the behavior (each direction's defaults where
/// it is not given).
pub fn from_v2(s: &v2::HorizontalPodAutoscalerSpec) -> HpaSpec {
    HpaSpec {
        min: s.min_replicas.unwrap_or(1),
        max: s.max_replicas,
        metrics: s.metrics.iter().flatten().map(metric).collect(),
        behavior: s.behavior.as_ref().map(|b| Behavior {
            up: rules(b.scale_up.as_ref(), Rules::default_up()),
            down: rules(b.scale_down.as_ref(), Rules::default_down()),
        }),
    }
}

fn quantity(q: Option<&K8sQuantity>) -> Option<Quantity> {
    Quantity::parse(&q?.0).ok()
}

fn milli(q: Option<&K8sQuantity>) -> Option<i64> {
    quantity(q).map(|q| q.milli())
}

/// One direction's scaling rules; a negative window or period is not one (the defaults hold).
fn rules(r: Option<&v2::HPAScalingRules>, default: Rules) -> Rules {
    let Some(r) = r else { return default };
    let select = match r.select_policy.as_deref() {
        Some("Min") => SelectPolicy::Min,
        Some("Disabled") => SelectPolicy::Disabled,
        _ => SelectPolicy::Max,
    };
    let policies = match &r.policies {
        Some(ps) => ps
            .iter()
            .filter_map(|p| {
                let period = u64::try_from(p.period_seconds).ok()?;
                match p.type_.as_str() {
                    "Pods" => Some(Policy::Pods(p.value, period)),
                    "Percent" => Some(Policy::Percent(p.value, period)),
                    _ => None,
                }
            })
            .collect(),
        None => default.policies.clone(),
    };
    Rules {
        stabilization_s: r
            .stabilization_window_seconds
            .and_then(|s| u64::try_from(s).ok())
            .unwrap_or(default.stabilization_s),
        select,
        policies,
        tolerance: quantity(r.tolerance.as_ref()).map(|q| q.as_f64()),
    }
}

/// A `metav1.LabelSelector`; requirements with an unknown operator are skipped.
fn label_selector(s: Option<&K8sLabelSelector>) -> Option<LabelSelector> {
    let s = s?;
    Some(LabelSelector {
        match_labels: s.match_labels.clone().unwrap_or_default(),
        match_expressions: s
            .match_expressions
            .iter()
            .flatten()
            .filter_map(|r| {
                Some(NodeSelectorRequirement {
                    key: r.key.clone(),
                    op: SelectorOp::parse(&r.operator)?,
                    values: r.values.clone().unwrap_or_default(),
                })
            })
            .collect(),
    })
}

fn metric_id(m: &v2::MetricIdentifier) -> MetricId {
    MetricId {
        name: m.name.clone(),
        selector: label_selector(m.selector.as_ref()),
    }
}

/// One `spec.metrics` entry.
fn metric(m: &v2::MetricSpec) -> MetricSpec {
    let invalid = |reason: &'static str, message: String| MetricSpec::Invalid { reason, message };
    match m.type_.as_str() {
        ty @ ("Resource" | "ContainerResource") => {
            let (name, target, container) = if ty == "Resource" {
                match &m.resource {
                    Some(r) => (r.name.as_str(), Some(&r.target), None),
                    None => ("", None, None),
                }
            } else {
                match &m.container_resource {
                    Some(r) => (r.name.as_str(), Some(&r.target), Some(r.container.clone())),
                    None => ("", None, Some(String::new())),
                }
            };
            let reason = if ty == "Resource" {
                "FailedGetResourceMetric"
            } else {
                "FailedGetContainerResourceMetric"
            };
            let resource = match name {
                "cpu" => ResourceName::Cpu,
                "memory" => ResourceName::Memory,
                n => {
                    return invalid(
                        reason,
                        format!(
                            "failed to get {n} utilization: resource {n} is not emulated (cpu and memory are)"
                        ),
                    );
                }
            };
            let target = if let Some(a) = milli(target.and_then(|t| t.average_value.as_ref())) {
                Target::AverageValue(a)
            } else if let Some(u) = target.and_then(|t| t.average_utilization) {
                Target::Utilization(u)
            } else {
                return invalid(
                    reason,
                    "invalid resource metric source: neither an average utilization target nor an average value (usage) target was set".into(),
                );
            };
            let metric = ResourceMetric {
                name: resource,
                target,
            };
            match container {
                None => MetricSpec::Resource(metric),
                Some(container) => MetricSpec::ContainerResource { metric, container },
            }
        }
        "Pods" => {
            let p = m.pods.as_ref();
            match milli(p.and_then(|p| p.target.average_value.as_ref())) {
                Some(average) => MetricSpec::Pods {
                    metric: p.map(|p| metric_id(&p.metric)).unwrap_or(MetricId {
                        name: String::new(),
                        selector: None,
                    }),
                    average,
                },
                None => invalid(
                    "FailedGetPodsMetric",
                    "invalid pods metric source: no average value target was set".into(),
                ),
            }
        }
        "Object" => {
            let o = m.object.as_ref();
            let t = o.map(|o| &o.target);
            let target = match (
                t.map(|t| t.type_.as_str()),
                milli(t.and_then(|t| t.value.as_ref())),
                milli(t.and_then(|t| t.average_value.as_ref())),
            ) {
                (Some("Value"), Some(v), _) => Target::Value(v),
                (Some("AverageValue"), _, Some(a)) => Target::AverageValue(a),
                _ => {
                    return invalid(
                        "FailedGetObjectMetric",
                        "invalid object metric source: neither a value target nor an average value target was set".into(),
                    );
                }
            };
            let o = o.expect("a target was read from it");
            MetricSpec::Object {
                object: ObjectRef {
                    kind: o.described_object.kind.clone(),
                    name: o.described_object.name.clone(),
                    api_version: o.described_object.api_version.clone().unwrap_or_default(),
                },
                metric: metric_id(&o.metric),
                target,
            }
        }
        "External" => {
            let e = m.external.as_ref();
            let t = e.map(|e| &e.target);
            let target = if let Some(a) = milli(t.and_then(|t| t.average_value.as_ref())) {
                Target::AverageValue(a)
            } else if let Some(v) = milli(t.and_then(|t| t.value.as_ref())) {
                Target::Value(v)
            } else {
                return invalid(
                    "FailedGetExternalMetric",
                    "invalid external metric source: neither a value target nor an average value target was set".into(),
                );
            };
            let e = e.expect("a target was read from it");
            MetricSpec::External {
                metric: metric_id(&e.metric),
                target,
            }
        }
        other => invalid(
            "InvalidMetricSourceType",
            format!("unknown metric source type \"{other}\""),
        ),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn v2(spec: Value) -> Value {
        json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
               "metadata": {"name": "h"}, "spec": spec})
    }

    #[test]
    fn v1_reads_its_cpu_target() {
        let s = hpa_spec(
            &json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "h"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"},
                     "maxReplicas": 5, "targetCPUUtilizationPercentage": 60}}),
        );
        assert_eq!((s.min, s.max), (1, 5));
        assert_eq!(
            s.metrics,
            [MetricSpec::Resource(ResourceMetric {
                name: ResourceName::Cpu,
                target: Target::Utilization(60)
            })]
        );
    }

    #[test]
    fn v2_metrics_and_behavior() {
        let s = hpa_spec(&v2(json!({
            "scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "minReplicas": 2, "maxReplicas": 9,
            "metrics": [
                {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "512Mi"}}},
                {"type": "External", "external": {"metric": {"name": "queue", "selector": {"matchExpressions": [{"key": "q", "operator": "In", "values": ["a"]}]}},
                                                   "target": {"type": "Value", "value": "30"}}},
                {"type": "Object", "object": {"describedObject": {"apiVersion": "v1", "kind": "Service", "name": "s"},
                                               "metric": {"name": "rps"}, "target": {"type": "Value", "averageValue": "5"}}},
                {"type": "Resource", "resource": {"name": "gpu", "target": {"type": "Utilization", "averageUtilization": 50}}}
            ],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60,
                                        "policies": [{"type": "Pods", "value": 1, "periodSeconds": 30}],
                                        "selectPolicy": "Min"}}
        })));
        assert_eq!((s.min, s.max), (2, 9));
        assert_eq!(
            s.metrics[0],
            MetricSpec::Resource(ResourceMetric {
                name: ResourceName::Memory,
                target: Target::AverageValue(512 * 1024 * 1024 * 1000)
            })
        );
        match &s.metrics[1] {
            MetricSpec::External { metric, target } => {
                assert_eq!(*target, Target::Value(30_000));
                let sel = metric.selector.as_ref().unwrap();
                assert_eq!(sel.match_expressions[0].values, ["a"]);
            }
            other => panic!("{other:?}"),
        }
        // An Object target of type Value without a value cannot be computed.
        assert!(matches!(
            &s.metrics[2],
            MetricSpec::Invalid {
                reason: "FailedGetObjectMetric",
                ..
            }
        ));
        assert!(matches!(
            &s.metrics[3],
            MetricSpec::Invalid { reason: "FailedGetResourceMetric", message }
                if message.contains("resource gpu is not emulated")
        ));
        let b = s.behavior.unwrap();
        assert_eq!(b.down.stabilization_s, 60);
        assert_eq!(b.down.select, SelectPolicy::Min);
        assert_eq!(b.down.policies, [Policy::Pods(1, 30)]);
        assert_eq!(b.up, Rules::default_up());
    }

    #[test]
    fn an_unknown_metric_type_is_invalid() {
        let s = hpa_spec(&v2(json!({
            "scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 3,
            "metrics": [{"type": "Bogus"}]
        })));
        assert!(matches!(
            &s.metrics[0],
            MetricSpec::Invalid { reason: "InvalidMetricSourceType", message }
                if message == "unknown metric source type \"Bogus\""
        ));
    }
}
