//! The elastic autoscaler (`ElasticPodAutoscaler`, `kscale.io/v1alpha1`): an HPA over
//! container instances that meets a surge first with container replicas inside the running
//! pods of a Deployment (no pod cold start: no scheduling, sandbox, network set-up or image
//! pull) and adds pods only when the pods it has are full (per-pod limit or node room).
//!
//! ```yaml
//! apiVersion: kscale.io/v1alpha1
//! kind: ElasticPodAutoscaler
//! metadata: {name: fn}
//! spec:
//!   scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: fn}
//!   container: fn                     # the elastic container (default: the first one)
//!   minInstances: 1                   # default 1
//!   maxInstances: 40                  # required
//!   maxReplicasPerPod: 4              # default spec.elastic.maxReplicas (10)
//!   minPods: 1                        # default 1
//!   targetCPUUtilizationPercentage: 50  # default 80, as the HPA's
//! ```
//!
//! Every 15 s (the HPA's sync period) it reads the metrics pipeline, computes the desired
//! number of instances with the HPA formula (`ceil(current × utilization / target)`, tolerance
//! 0.1; [`kscale_controllers::elastic::desired_instances`]), keeps the highest recommendation of
//! the last 5 minutes for scale-down (the HPA's downscale stabilization) and caps a scale-up at
//! `max(2 × current, 4)` per sync (the HPA's legacy limit), then spreads the instances over the
//! pods ([`kscale_controllers::elastic::distribute`]): `replica` patches through the
//! replication phases, and a Deployment scale for what does not fit.

use kscale_controllers::elastic::{
    ElasticDecision, ElasticPodObs, ElasticScalerSpec, desired_instances, distribute,
};
use kscale_model::SimTime;
use serde_json::{Value, json};

use super::elastic::ElasticEvent;
use super::model::PodPhase;
use super::store::ObjKey;
use super::{Event, Sim};

/// Sync period: 15 s, as the HPA's (`--horizontal-pod-autoscaler-sync-period`).
pub const SYNC_PERIOD_MS: u64 = 15_000;
/// Downscale stabilization: 5 minutes, as the HPA's default.
pub const STABILIZATION_MS: u64 = 300_000;

/// A parsed `ElasticPodAutoscaler`.
#[derive(Debug, Clone, PartialEq)]
pub struct ElasticScaler {
    /// Target Deployment name.
    pub target: String,
    /// The elastic container (`None`: the first).
    pub container: Option<String>,
    /// Limits and target.
    pub spec: ElasticScalerSpec,
}

/// Reads and validates an `ElasticPodAutoscaler` object; errors name the field.
pub fn parse(v: &Value, max_replicas: u32) -> Result<ElasticScaler, String> {
    let spec = v.get("spec").ok_or("spec: Required value")?;
    let kind = spec
        .pointer("/scaleTargetRef/kind")
        .and_then(Value::as_str)
        .unwrap_or("Deployment");
    if kind != "Deployment" {
        return Err(format!(
            "spec.scaleTargetRef.kind: Unsupported value: {kind:?}: only Deployment"
        ));
    }
    let target = spec
        .pointer("/scaleTargetRef/name")
        .and_then(Value::as_str)
        .ok_or("spec.scaleTargetRef.name: Required value")?
        .to_string();
    let int = |f: &str, default: Option<u64>| -> Result<u32, String> {
        match spec.get(f) {
            None => default
                .map(|d| d as u32)
                .ok_or(format!("spec.{f}: Required value")),
            Some(x) => x
                .as_u64()
                .filter(|n| *n <= u32::MAX as u64)
                .map(|n| n as u32)
                .ok_or(format!(
                    "spec.{f}: Invalid value: {x}: must be a non-negative integer"
                )),
        }
    };
    let s = ElasticScalerSpec {
        min_instances: int("minInstances", Some(1))?,
        max_instances: int("maxInstances", None)?,
        max_per_pod: int("maxReplicasPerPod", Some(max_replicas as u64))?,
        min_pods: int("minPods", Some(1))?,
        target_utilization: int("targetCPUUtilizationPercentage", Some(80))?,
    };
    if s.max_instances < s.min_instances.max(1) {
        return Err(format!(
            "spec.maxInstances: Invalid value: {}: must be at least minInstances ({}) and 1",
            s.max_instances, s.min_instances
        ));
    }
    if s.max_per_pod == 0 || s.max_per_pod > max_replicas {
        return Err(format!(
            "spec.maxReplicasPerPod: Invalid value: {}: must be between 1 and {max_replicas} (spec.elastic.maxReplicas)",
            s.max_per_pod
        ));
    }
    if s.target_utilization == 0 {
        return Err(
            "spec.targetCPUUtilizationPercentage: Invalid value: 0: must be greater than 0".into(),
        );
    }
    Ok(ElasticScaler {
        target,
        container: spec
            .get("container")
            .and_then(Value::as_str)
            .map(str::to_string),
        spec: s,
    })
}

/// Recommendation history per autoscaler, for the downscale stabilization.
pub type ScalerHistory = std::collections::BTreeMap<ObjKey, Vec<(SimTime, u32)>>;

/// What the elastic autoscaler keeps between syncs.
#[derive(Debug, Default)]
pub struct ElasticScalerState {
    /// Its sync loop is running.
    pub running: bool,
    /// Recommendations per elastic autoscaler (downscale stabilization).
    pub history: ScalerHistory,
}

impl Sim {
    /// Starts the sync loop (once) when an `ElasticPodAutoscaler` is stored.
    pub fn start_elastic_autoscaler(&mut self) {
        if !self.elastic_scaler.running {
            self.elastic_scaler.running = true;
            self.start_metrics();
            self.queue.push(
                self.now.plus_millis(SYNC_PERIOD_MS),
                Event::Elastic(ElasticEvent::ScalerSync),
            );
        }
    }

    /// One sync of every `ElasticPodAutoscaler`.
    pub(crate) fn elastic_scaler_sync(&mut self) {
        let scalers: Vec<(ObjKey, Value)> = self
            .store
            .list("ElasticPodAutoscaler", None)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (key, v) in scalers {
            self.sync_one_elastic_scaler(&key, &v);
        }
        let next = self.now.plus_millis(SYNC_PERIOD_MS);
        if next <= self.end
            && self
                .store
                .list("ElasticPodAutoscaler", None)
                .next()
                .is_some()
        {
            self.queue
                .push(next, Event::Elastic(ElasticEvent::ScalerSync));
        } else {
            self.elastic_scaler.running = false;
        }
    }

    fn sync_one_elastic_scaler(&mut self, key: &ObjKey, v: &Value) {
        let Ok(s) = parse(v, self.elastic.max_replicas) else {
            return;
        };
        let dep_key = ObjKey::new("Deployment", &key.namespace, &s.target);
        let Some(dep) = self.store.get(&dep_key) else {
            return;
        };
        let dep_replicas = dep
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1) as u32;
        let pods: Vec<u64> = self
            .target_pods(&key.namespace, "deployment", &s.target)
            .iter()
            .filter(|p| p.is_active())
            .map(|p| p.id)
            .collect();
        // The elastic container: named, else the first.
        let index = |t: &super::model::PodTemplate| match &s.container {
            Some(n) => t.containers.iter().position(|c| &c.name == n),
            None => (!t.containers.is_empty()).then_some(0),
        };
        let (mut usage, mut request, mut current) = (0.0, 0.0, 0u32);
        let mut obs = vec![];
        let mut pending = 0u32;
        for id in &pods {
            let p = &self.pods[id];
            let Some(ci) = index(&p.template) else {
                continue;
            };
            if p.phase != PodPhase::Running {
                pending += 1;
                continue;
            }
            let c = &p.template.containers[ci];
            let desired = self.pod_spec_template(*id);
            let want = desired.containers.get(ci).map_or(c.replica, |d| d.replica);
            // Room on the node for more instances of this container now.
            let room = p
                .node
                .as_ref()
                .and_then(|n| self.nodes.get(n))
                .map_or(0, |n| {
                    let free = n.info.allocatable - n.info.requested;
                    let by = |f: i64, r: i64| if r > 0 { (f / r).max(0) } else { i64::MAX };
                    by(free.cpu_milli, c.requests.cpu_milli)
                        .min(by(free.memory, c.requests.memory))
                        .min(u32::MAX as i64) as u32
                });
            obs.push(ElasticPodObs {
                id: *id,
                replicas: want,
                room,
            });
            if p.is_ready()
                && let Some(sample) = &self.metrics.sample_of(p)
            {
                usage += sample.cpu_milli;
                request += p.template.requests.cpu_milli as f64;
                current += c.replica;
            }
        }
        if request <= 0.0 || current == 0 {
            return;
        }
        let utilization = 100.0 * usage / request;
        let proposal = desired_instances(&s.spec, current, utilization);
        // Downscale stabilization: the highest recommendation of the last 5 minutes.
        let now = self.now;
        let hist = self.elastic_scaler.history.entry(key.clone()).or_default();
        hist.retain(|(t, _)| now.since(*t) <= STABILIZATION_MS);
        hist.push((now, proposal));
        let stabilized = hist.iter().map(|h| h.1).max().unwrap_or(proposal);
        let total: u32 = obs.iter().map(|o| o.replicas).sum::<u32>() + pending;
        // Legacy HPA scale-up limit, in instances: max(2 × current, 4).
        let desired = stabilized.min(total.max(1).saturating_mul(2).max(4));
        let decision = distribute(&s.spec, &obs, pending, desired);
        self.apply_elastic_decision(key, &s, index, &decision, dep_replicas, utilization, total);
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_elastic_decision(
        &mut self,
        key: &ObjKey,
        s: &ElasticScaler,
        index: impl Fn(&super::model::PodTemplate) -> Option<usize>,
        d: &ElasticDecision,
        dep_replicas: u32,
        utilization: f64,
        total: u32,
    ) {
        let mut patched = 0;
        for (id, r) in &d.set_replicas {
            let t = self.pod_spec_template(*id);
            let Some(ci) = index(&t) else { continue };
            let mut spec = t.spec.clone();
            spec["containers"][ci]["replica"] = json!(r);
            if self.propose_replication(*id, &spec).is_ok() {
                patched += 1;
            }
        }
        let mut pods_to = None;
        if let Some(n) = d.set_pods
            && n != dep_replicas
        {
            let dep_key = ObjKey::new("Deployment", &key.namespace, &s.target);
            self.store
                .update(&dep_key, |v| v["spec"]["replicas"] = json!(n));
            self.mark_dirty(dep_key);
            pods_to = Some(n);
        }
        let changed = patched > 0 || pods_to.is_some();
        let now = self.timestamp(self.now);
        self.store.update(key, |v| {
            v["status"] = json!({
                "currentInstances": total,
                "desiredInstances": d.desired_instances,
                "currentCPUUtilizationPercentage": utilization.round() as i64,
            });
            if changed {
                v["status"]["lastScaleTime"] = json!(now);
            } else if let Some(t) = v.pointer("/status/lastScaleTime").cloned() {
                v["status"]["lastScaleTime"] = t;
            }
        });
        if changed {
            let dir = if d.desired_instances > total {
                "above"
            } else {
                "below"
            };
            let pods = pods_to
                .map(|n| format!(", Deployment {} to {n} pods", s.target))
                .unwrap_or_default();
            self.count("elasticRescales");
            self.emit(
                "Normal",
                "SuccessfulRescale",
                "ElasticPodAutoscaler",
                &key.namespace,
                &key.name,
                format!(
                    "New size: {} instances ({patched} pod(s) patched{pods}); reason: cpu utilization {dir} target",
                    d.desired_instances
                ),
                "elastic-pod-autoscaler",
            );
        }
    }
}
