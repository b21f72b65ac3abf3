//! The HorizontalPodAutoscaler in the twin: every 15 s (the controller's sync period) each HPA
//! reads its scale target, the target's pods and their metrics from the metrics pipeline
//! ([`super::metrics`]), asks the pure controller ([`kscale_controllers::hpa`]) for a
//! decision, scales the target, writes the HPA's status and emits SuccessfulRescale events
//! worded as upstream. autoscaling/v1 objects (`targetCPUUtilizationPercentage`, what
//! `kubectl autoscale` creates in older clients) and autoscaling/v2 Resource metrics are read.

use std::collections::BTreeMap;

use kscale_controllers::hpa::{
    self, Behavior, HpaSpec, HpaState, PodObs, Policy, ResourceMetric, ResourceName, Rules, Sample,
    SelectPolicy, Target,
};
use serde_json::{Value, json};

use super::model::{PodPhase, quantity};
use super::store::ObjKey;
use super::{Event, Sim};

fn rules(v: Option<&Value>, default: Rules) -> Rules {
    let Some(v) = v else { return default };
    let stabilization_s = v
        .get("stabilizationWindowSeconds")
        .and_then(Value::as_u64)
        .unwrap_or(default.stabilization_s);
    let select = match v.get("selectPolicy").and_then(Value::as_str) {
        Some("Min") => SelectPolicy::Min,
        Some("Disabled") => SelectPolicy::Disabled,
        _ => SelectPolicy::Max,
    };
    let policies: Vec<Policy> = v
        .get("policies")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|p| {
                    let value = p.get("value")?.as_i64()? as i32;
                    let period = p.get("periodSeconds")?.as_u64()?;
                    match p.get("type")?.as_str()? {
                        "Pods" => Some(Policy::Pods(value, period)),
                        "Percent" => Some(Policy::Percent(value, period)),
                        _ => None,
                    }
                })
                .collect()
        })
        .unwrap_or_else(|| default.policies.clone());
    Rules {
        stabilization_s,
        select,
        policies,
    }
}

/// Reads an HPA object (v1 or v2) into the controller's spec.
pub fn parse_spec(v: &Value) -> HpaSpec {
    let spec = v.get("spec");
    let min = spec
        .and_then(|s| s.get("minReplicas"))
        .and_then(Value::as_i64)
        .unwrap_or(1) as i32;
    let max = spec
        .and_then(|s| s.get("maxReplicas"))
        .and_then(Value::as_i64)
        .unwrap_or(1) as i32;
    let mut metrics = vec![];
    if let Some(t) = spec
        .and_then(|s| s.get("targetCPUUtilizationPercentage"))
        .and_then(Value::as_i64)
    {
        metrics.push(ResourceMetric {
            name: ResourceName::Cpu,
            target: Target::Utilization(t as i32),
        });
    }
    for m in spec
        .and_then(|s| s.get("metrics"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let r = match m.get("type").and_then(Value::as_str) {
            Some("Resource") => m.get("resource"),
            Some("ContainerResource") => m.get("containerResource"),
            _ => None,
        };
        let Some(r) = r else { continue };
        let name = match r.get("name").and_then(Value::as_str) {
            Some("cpu") => ResourceName::Cpu,
            Some("memory") => ResourceName::Memory,
            _ => continue,
        };
        let t = r.get("target");
        let target = match t.and_then(|t| t.get("type")).and_then(Value::as_str) {
            Some("AverageValue") => {
                let q = quantity(t.and_then(|t| t.get("averageValue")))
                    .map(|q| q.milli())
                    .unwrap_or(0);
                Target::AverageValue(q)
            }
            _ => Target::Utilization(
                t.and_then(|t| t.get("averageUtilization"))
                    .and_then(Value::as_i64)
                    .unwrap_or(80) as i32,
            ),
        };
        metrics.push(ResourceMetric { name, target });
    }
    let behavior = spec
        .and_then(|s| s.get("behavior"))
        .filter(|b| !b.is_null())
        .map(|b| Behavior {
            up: rules(b.get("scaleUp"), Rules::default_up()),
            down: rules(b.get("scaleDown"), Rules::default_down()),
        });
    HpaSpec {
        min,
        max,
        metrics,
        behavior,
    }
}

/// What a sync reads of an HPA object: `apiVersion`, `kind`, `spec` and
/// `status.lastScaleTime`. Copying the whole object (metadata, status conditions) for each sync
/// was the largest cost of a sync over hundreds of HPAs.
fn sync_view(v: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for k in ["apiVersion", "kind", "spec"] {
        if let Some(x) = v.get(k) {
            out.insert(k.into(), x.clone());
        }
    }
    if let Some(t) = v.pointer("/status/lastScaleTime") {
        out.insert("status".into(), json!({"lastScaleTime": t}));
    }
    Value::Object(out)
}

impl Sim {
    /// Starts the HPA sync loop (once), when an HPA is created.
    pub fn start_hpa_sync(&mut self) {
        self.start_metrics();
        if !self.hpa_syncing {
            self.hpa_syncing = true;
            self.queue
                .push(self.now.plus_millis(hpa::SYNC_PERIOD_MS), Event::HpaSync);
        }
    }

    /// One sync of every HPA.
    pub fn hpa_sync(&mut self) {
        let hpas: Vec<(ObjKey, Value)> = self
            .store
            .list("HorizontalPodAutoscaler", None)
            .map(|(k, v)| (k.clone(), sync_view(v)))
            .collect();
        if hpas.is_empty() {
            self.hpa_syncing = false;
            return;
        }
        self.queue
            .push(self.now.plus_millis(hpa::SYNC_PERIOD_MS), Event::HpaSync);
        for (key, v) in hpas {
            self.sync_one_hpa(&key, &v);
        }
    }

    fn sync_one_hpa(&mut self, key: &ObjKey, v: &Value) {
        let spec = parse_spec(v);
        let kind = v
            .pointer("/spec/scaleTargetRef/kind")
            .and_then(Value::as_str)
            .unwrap_or("Deployment")
            .to_string();
        let name = v
            .pointer("/spec/scaleTargetRef/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let target_key = ObjKey::new(&kind, &key.namespace, &name);
        let Some(current) = self.store.get(&target_key).map(|t| {
            t.pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(1) as i32
        }) else {
            self.emit(
                "Warning",
                "FailedGetScale",
                "HorizontalPodAutoscaler",
                &key.namespace,
                &key.name,
                format!(
                    "{} \"{name}\" not found",
                    super::kubectl::kind_plural(&kind)
                ),
                "horizontal-pod-autoscaler",
            );
            return;
        };
        let now = self.now;
        let pods: Vec<PodObs> = self
            .target_pods(&key.namespace, &kind.to_ascii_lowercase(), &name)
            .into_iter()
            .map(|p| {
                let sample = self.metrics.pods.get(&p.id);
                let s = |milli: f64| {
                    sample.map(|x| Sample {
                        milli: milli as i64,
                        timestamp: x.timestamp,
                        window_ms: x.window_ms,
                    })
                };
                PodObs {
                    pending: matches!(p.phase, PodPhase::Pending | PodPhase::ContainerCreating),
                    ignored: p.deleting_at.is_some() || p.phase == PodPhase::Failed,
                    ready: p.started_at.map(|_| p.is_ready()),
                    ready_transition: self
                        .ready_changed
                        .get(&p.id)
                        .copied()
                        .or(p.ready_at)
                        .or(p.started_at)
                        .unwrap_or(p.created),
                    start: p.scheduled_at,
                    requests: [
                        p.template.requests.cpu_milli,
                        p.template.requests.memory.saturating_mul(1000),
                    ],
                    samples: [
                        s(sample.map(|x| x.cpu_milli).unwrap_or(0.0)),
                        s(sample.map(|x| x.memory * 1000.0).unwrap_or(0.0)),
                    ],
                }
            })
            .collect();
        let state = self.hpa_state.entry(key.clone()).or_default();
        let d = hpa::reconcile(state, &spec, current, &pods, now);
        let mut rescaled = false;
        if !d.disabled
            && d.desired != current
            && self
                .scale(&kind, &key.namespace, &name, d.desired as i64, None)
                .is_ok()
        {
            rescaled = true;
            self.emit(
                "Normal",
                "SuccessfulRescale",
                "HorizontalPodAutoscaler",
                &key.namespace,
                &key.name,
                format!("New size: {}; reason: {}", d.desired, d.reason),
                "horizontal-pod-autoscaler",
            );
        }
        // Status, as the controller writes it.
        let metrics: Vec<Value> = spec
            .metrics
            .iter()
            .zip(&d.proposals)
            .filter_map(|(m, p)| {
                let p = p.as_ref().ok()?;
                let mut current = json!({"averageValue": match m.name { ResourceName::Cpu => format!("{}m", p.average), ResourceName::Memory => format!("{}", p.average / 1000) }});
                if let Some(u) = p.utilization {
                    current["averageUtilization"] = json!(u);
                }
                Some(json!({"type": "Resource", "resource": {"name": m.name.as_str(), "current": current}}))
            })
            .collect();
        let ts = self.timestamp(now);
        let errors: Vec<String> = d
            .proposals
            .iter()
            .filter_map(|p| p.as_ref().err().cloned())
            .collect();
        let active = if d.disabled {
            json!({"type": "ScalingActive", "status": "False", "reason": "ScalingDisabled", "message": "scaling is disabled since the replica count of the target is zero", "lastTransitionTime": ts})
        } else if let Some(e) = errors.first().filter(|_| metrics.is_empty()) {
            json!({"type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric", "message": format!("the HPA was unable to compute the replica count: {e}"), "lastTransitionTime": ts})
        } else {
            json!({"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound", "message": "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)", "lastTransitionTime": ts})
        };
        let limited = match d.limit {
            Some(l) => {
                let (r, m) = l.reason_message();
                json!({"type": "ScalingLimited", "status": "True", "reason": r, "message": m, "lastTransitionTime": ts})
            }
            None => {
                json!({"type": "ScalingLimited", "status": "False", "reason": "DesiredWithinRange", "message": "the desired count is within the acceptable range", "lastTransitionTime": ts})
            }
        };
        let able = json!({"type": "AbleToScale", "status": "True", "reason": if rescaled { "SucceededRescale" } else { "ReadyForNewScale" }, "message": if rescaled { "the HPA controller was able to update the target scale" } else { "recommended size matches current size" }, "lastTransitionTime": ts});
        let last_scale = if rescaled {
            Some(ts.clone())
        } else {
            v.pointer("/status/lastScaleTime")
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let replicas = self
            .target_pods(&key.namespace, &kind.to_ascii_lowercase(), &name)
            .iter()
            .filter(|p| p.is_active())
            .count();
        let desired = if d.disabled { current } else { d.desired };
        self.store.update(key, |o| {
            let mut status = json!({"currentReplicas": replicas, "desiredReplicas": desired, "currentMetrics": metrics, "conditions": [able, active, limited]});
            if let Some(t) = last_scale {
                status["lastScaleTime"] = json!(t);
            }
            if o.get("apiVersion").and_then(Value::as_str) == Some("autoscaling/v1") {
                status = json!({"currentReplicas": replicas, "desiredReplicas": desired});
                if let Some(u) = d.proposals.first().and_then(|p| p.as_ref().ok()).and_then(|p| p.utilization) {
                    status["currentCPUUtilizationPercentage"] = json!(u);
                }
            }
            o["status"] = status;
        });
    }
}

/// Per-HPA controller memory, by HPA key.
pub type HpaStates = BTreeMap<ObjKey, HpaState>;
