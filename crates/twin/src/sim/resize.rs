//! In-place pod resize (KEP-1287 as released: the pod `resize` subresource, GA in v1.35): the
//! API server's validation, then the kubelet's allocation decision and actuation.
//!
//! - API server (`pkg/apis/core/validation` `ValidatePodResize`): only containers' cpu and
//!   memory resources may change, and the pod's QoS class may not; the spec changes at once
//!   and the scheduler counts the larger of the old and the new requests while the resize is
//!   pending (the node holds max(old, new)).
//! - kubelet (`pkg/kubelet/allocation/allocation_manager.go` `handlePodResourcesResize`): when
//!   it sees the change, the resize is admitted if the node's allocatable holds the other
//!   pods' allocated requests plus the new ones; then `PodResizeInProgress` and the
//!   `ResizeStarted` event, and once the runtime has applied it `ResizeCompleted`. Otherwise
//!   `PodResizePending` with reason `Deferred` and the predicate's message (`Node didn't have
//!   enough resource: cpu, requested: …, used: …, capacity: …`) and a `ResizeDeferred`
//!   warning; deferred resizes are retried when pods leave the node
//!   (`RetryPendingResizes`, trigger `pods_removed`).
//!
//! *Assumptions*: the runtime applies an admitted resize 1 s after the kubelet admits it
//! ([`ACTUATION_MS`]); a container whose `resizePolicy` says `RestartContainer` for a changed
//! resource counts one restart and is not shown unready meanwhile.

use std::collections::BTreeMap;
use std::sync::Arc;

use kscale_model::{Resources, SimTime};
use serde_json::{Value, json};

use kscale_controllers::kubelet;

use super::model::{PodPhase, PodTemplate};
use super::{Event, Sim};

/// Time from the kubelet's admission of a resize to the runtime having applied it.
/// *Assumption*: 1 s (a pod worker sync and a CRI `UpdateContainerResources` call).
pub const ACTUATION_MS: u64 = 1_000;

/// Where a pod's resize stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResizeState {
    /// Accepted by the API server; the kubelet has not seen it yet.
    Proposed,
    /// The kubelet could not admit it (`PodResizePending`, reason `Deferred`).
    Deferred(String),
    /// Admitted; the runtime is applying it (`PodResizeInProgress`).
    InProgress,
}

/// A pod's pending resize.
#[derive(Debug, Clone)]
pub struct Resize {
    /// The template with the new resources (what the API shows as the spec).
    pub desired: Arc<PodTemplate>,
    /// The pod's `metadata.generation` for this resize (1 + resizes so far).
    pub generation: u64,
    /// Where it stands.
    pub state: ResizeState,
    /// When it entered its state (the conditions' `lastTransitionTime`).
    pub since: SimTime,
}

/// The resizes of all pods.
#[derive(Debug, Clone, Default)]
pub struct Resizes {
    /// Pending resizes by pod id.
    pub pods: BTreeMap<u64, Resize>,
    /// Resizes accepted by the API server so far, per pod (its generation is 1 + this).
    pub generations: BTreeMap<u64, u64>,
    /// Resizes completed.
    pub completed: u64,
    /// Times a resize was deferred.
    pub deferred: u64,
}

/// The `resources` of every container of a spec, in order (for the events' summaries).
fn container_resources(spec: &Value) -> Vec<Value> {
    spec.get("containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| {
            let mut resources = serde_json::Map::new();
            for k in ["limits", "requests"] {
                if let Some(v) = c.pointer(&format!("/resources/{k}")) {
                    resources.insert(k.into(), v.clone());
                }
            }
            json!({"name": c.get("name"), "resources": resources})
        })
        .collect()
}

/// The kubelet's event message for `spec` ([`kubelet::resize_message`]).
fn resize_message(prefix: &str, spec: &Value, generation: u64, error: Option<&str>) -> String {
    kubelet::resize_message(prefix, container_resources(spec), generation, error)
}

/// A spec with every container's `resources` taken from `from` (same containers in order).
fn with_resources_of(spec: &Value, from: &Value) -> Value {
    let mut out = spec.clone();
    if let (Some(cs), Some(fs)) = (
        out.get_mut("containers").and_then(Value::as_array_mut),
        from.get("containers").and_then(Value::as_array),
    ) {
        for (c, f) in cs.iter_mut().zip(fs) {
            if let Some(o) = c.as_object_mut() {
                match f.get("resources") {
                    Some(r) => o.insert("resources".into(), r.clone()),
                    None => o.remove("resources"),
                };
            }
        }
    }
    out
}

impl Sim {
    /// The API server accepts a resize of pod `id` (`patched` is the whole pod after the
    /// patch): the validation errors are the API server's.
    pub fn propose_resize(&mut self, id: u64, patched: &Value) -> Result<(), String> {
        let p = &self.pods[&id];
        let name = p.name.to_string();
        let invalid = |m: &str| format!("The Pod \"{name}\" is invalid: {m}");
        let current = self.pod_spec_template(id);
        let new_spec = patched.get("spec").cloned().unwrap_or(Value::Null);
        let names = |s: &Value| -> Vec<Value> {
            s.get("containers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|c| c.get("name").cloned().unwrap_or(Value::Null))
                .collect()
        };
        let shown = self.render_pod(p);
        let shown = shown.get("spec").cloned().unwrap_or(Value::Null);
        if names(&new_spec) != names(&current.spec) {
            return Err(invalid(
                "spec.containers: Forbidden: containers may not be added, removed or reordered",
            ));
        }
        if with_resources_of(&new_spec, &shown) != shown {
            return Err(invalid(
                "spec: Forbidden: only cpu and memory resources are mutable",
            ));
        }
        if p.deleting_at.is_some() || matches!(p.phase, PodPhase::Succeeded | PodPhase::Failed) {
            return Err(invalid(
                "spec: Forbidden: the pod is terminating or finished",
            ));
        }
        let meta = json!({"labels": current.labels.as_ref(), "annotations": current.annotations});
        let desired = Arc::new(PodTemplate::compile(
            Some(&meta),
            &with_resources_of(&current.spec, &new_spec),
        ));
        if desired.qos != p.template.qos {
            return Err(invalid(&format!(
                "spec: Invalid value: \"{}\": Pod QOS Class may not change as a result of resizing",
                p.template.qos.as_str()
            )));
        }
        if desired.spec == current.spec {
            return Ok(());
        }
        let generation = {
            let g = self.resizes.generations.entry(id).or_insert(0);
            *g += 1;
            *g + 1
        };
        self.count("apiWritesPodPatch");
        let bound = self.pods[&id].node.is_some();
        if !bound {
            // Not on a node yet: the scheduler and the kubelet see the new resources only.
            self.resizes.pods.remove(&id);
            self.pods.get_mut(&id).expect("exists").template = desired;
            return Ok(());
        }
        let running = self.pods[&id].template.requests;
        self.set_allocation(id, running.max(&desired.requests));
        self.resizes.pods.insert(
            id,
            Resize {
                desired,
                generation,
                state: ResizeState::Proposed,
                since: self.now,
            },
        );
        self.queue.push(
            self.now.plus_millis(self.lat.bind_to_kubelet_ms),
            Event::ResizeSync(id, generation),
        );
        Ok(())
    }

    /// What a pod has allocated on its node as its kubelet counts it.
    fn allocated(&self, id: u64) -> Resources {
        match self.resizes.pods.get(&id) {
            Some(r) if r.state == ResizeState::InProgress => r.desired.requests,
            _ => self
                .pods
                .get(&id)
                .map_or(Resources::ZERO, |p| p.template.requests),
        }
    }

    /// The kubelet's allocation decision for the resize of generation `generation`.
    pub(crate) fn resize_sync(&mut self, id: u64, generation: u64) {
        let Some(r) = self.resizes.pods.get(&id) else {
            return;
        };
        if r.generation != generation || r.state == ResizeState::InProgress {
            return;
        }
        let Some(p) = self.pods.get(&id) else {
            return;
        };
        let Some(node) = p.node.clone() else {
            return;
        };
        let (ns, name) = (p.namespace.to_string(), p.name.to_string());
        let desired = r.desired.clone();
        let Some(n) = self.nodes.get(&node) else {
            return;
        };
        let capacity = n.info.allocatable;
        let others: Vec<u64> = n
            .info
            .pods
            .iter()
            .map(|q| q.id)
            .filter(|q| *q != id)
            .collect();
        let used = others
            .iter()
            .fold(Resources::ZERO, |a, q| a + self.allocated(*q));
        let want = desired.requests;
        if let Err(deferral) = kubelet::admit_resize(capacity, used, want) {
            let r = self.resizes.pods.get_mut(&id).expect("pending");
            // The event is recorded when the resize turns pending, not when only the
            // message changes (`SetPodResizePendingCondition` compares the reason and the
            // generation).
            let newly = !matches!(r.state, ResizeState::Deferred(_));
            r.state = ResizeState::Deferred(deferral.message.clone());
            if newly {
                r.since = self.now;
                self.resizes.deferred += 1;
                self.emit(
                    "Warning",
                    "ResizeDeferred",
                    "Pod",
                    &ns,
                    &name,
                    resize_message(
                        &format!("Pod resize {}", deferral.reason),
                        &desired.spec,
                        generation,
                        Some(&deferral.message),
                    ),
                    "kubelet",
                );
            }
            return;
        }
        let r = self.resizes.pods.get_mut(&id).expect("pending");
        r.state = ResizeState::InProgress;
        r.since = self.now;
        self.set_allocation(id, want);
        self.cluster_changed();
        self.emit(
            "Normal",
            "ResizeStarted",
            "Pod",
            &ns,
            &name,
            resize_message("Pod resize started", &desired.spec, generation, None),
            "kubelet",
        );
        self.queue.push(
            self.now.plus_millis(ACTUATION_MS),
            Event::ResizeDone(id, generation),
        );
    }

    /// The runtime has applied the resize: the pod runs with the new resources.
    pub(crate) fn resize_done(&mut self, id: u64, generation: u64) {
        let Some(r) = self.resizes.pods.get(&id) else {
            return;
        };
        if r.generation != generation || r.state != ResizeState::InProgress {
            return;
        }
        let r = self.resizes.pods.remove(&id).expect("pending");
        let Some(p) = self.pods.get_mut(&id) else {
            return;
        };
        let restart = restart_needed(&p.template, &r.desired);
        p.template = r.desired.clone();
        if restart {
            p.restarts += 1;
        }
        let (ns, name) = (p.namespace.to_string(), p.name.to_string());
        self.pod_changed(id, kscale_cluster::ChangeType::Modified);
        // The pod's capacity changed: its workload's load model and controllers look again.
        self.owner_changed_pub(id);
        self.resizes.completed += 1;
        self.emit(
            "Normal",
            "ResizeCompleted",
            "Pod",
            &ns,
            &name,
            resize_message("Pod resize completed", &r.desired.spec, generation, None),
            "kubelet",
        );
        // A smaller pod leaves room for resizes deferred on its node.
        if let Some(node) = self.pods.get(&id).and_then(|p| p.node.clone()) {
            self.resize_node_freed(&node);
        }
    }

    /// Pods left `node` or shrank: its deferred resizes are tried again.
    pub(crate) fn resize_node_freed(&mut self, node: &str) {
        if self.resizes.pods.is_empty() {
            return;
        }
        let Some(n) = self.nodes.get(node) else {
            return;
        };
        let retry: Vec<(u64, u64)> = n
            .info
            .pods
            .iter()
            .filter_map(|q| {
                let r = self.resizes.pods.get(&q.id)?;
                matches!(r.state, ResizeState::Deferred(_)).then_some((q.id, r.generation))
            })
            .collect();
        for (id, generation) in retry {
            self.resize_sync(id, generation);
        }
    }

    /// A pod is gone: its resize with it.
    pub(crate) fn resize_pod_gone(&mut self, id: u64) {
        self.resizes.pods.remove(&id);
        self.resizes.generations.remove(&id);
    }

    /// The resize conditions the API shows on a pod (`PodResizePending`,
    /// `PodResizeInProgress`).
    pub fn resize_conditions(&self, id: u64) -> Vec<Value> {
        let Some(r) = self.resizes.pods.get(&id) else {
            return vec![];
        };
        let at = self.timestamp(r.since);
        match &r.state {
            ResizeState::Proposed => vec![],
            ResizeState::Deferred(m) => vec![json!({
                "type": "PodResizePending", "status": "True", "lastProbeTime": null,
                "lastTransitionTime": at, "reason": "Deferred", "message": m,
                "observedGeneration": r.generation,
            })],
            ResizeState::InProgress => vec![json!({
                "type": "PodResizeInProgress", "status": "True", "lastProbeTime": null,
                "lastTransitionTime": at, "observedGeneration": r.generation,
            })],
        }
    }
}

/// Whether a container's `resizePolicy` asks for a restart for a resource the resize changes.
fn restart_needed(running: &PodTemplate, desired: &PodTemplate) -> bool {
    let policies = |c: &Value| -> Vec<(String, String)> {
        c.get("resizePolicy")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|p| {
                (
                    p.get("resourceName")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    p.get("restartPolicy")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                )
            })
            .collect()
    };
    let specs = desired
        .spec
        .get("containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    running
        .containers
        .iter()
        .zip(&desired.containers)
        .zip(&specs)
        .any(|((old, new), spec)| {
            policies(spec).iter().any(|(resource, policy)| {
                policy == "RestartContainer"
                    && match resource.as_str() {
                        "cpu" => {
                            old.requests.cpu_milli != new.requests.cpu_milli
                                || old.limits.cpu_milli != new.limits.cpu_milli
                        }
                        "memory" => {
                            old.requests.memory != new.requests.memory
                                || old.limits.memory != new.limits.memory
                        }
                        _ => false,
                    }
            })
        })
}
