//! Elastic Pods in the twin: container replicas inside a running pod, through the replication
//! phases of seed 000 (decisions in [`kscale_controllers::elastic`]).
//!
//! Flow of one request (each delay from [`crate::latency::Latencies`]):
//! 1. **API server** (`kubectl patch` / `apply` of a pod): the new containers are validated
//!    (`replica` in `0..=spec.elastic.maxReplicas`, unknown containers need an image); the pod's
//!    spec takes the new containers and `status.replicationPhase` becomes `Proposed`. A request
//!    overrides any earlier one in any phase (the kubelet abandons work it had not finished).
//! 2. **Scheduler** (watch + queue, `controllerReaction` + `scheduleDelay`): `Infeasible` if the
//!    pod's new request exceeds the node's allocatable; `InProgress` if the node has room now
//!    (the pod then holds max(old, new) on the node); otherwise it stays `Proposed` and is
//!    checked again whenever room is freed on its node.
//! 3. **Kubelet** (`bindToKubelet` after InProgress): starts and stops only the changed
//!    containers inside the existing sandbox — image pull only for images the node lacks,
//!    `containerStart` for the first new instance plus `elasticContainerStagger` per further
//!    one (plus the load entry's `startupTime`, as for a new pod), `shutdown` for stopped
//!    ones — then reports every change at its next PLEG relist in
//!    **one** status write (user story 4) and sets `Unset`. No pod restart: same uid, other
//!    containers untouched. If that takes longer than `spec.elastic.timeout` the kubelet gives
//!    up: `Timeout`, the old containers keep running.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use kscale_controllers::elastic::{
    self, Admission, ContainerChange, ContainerSpec, FieldError, Phase,
};
use kscale_model::{Resources, SimTime};
use serde::Serialize;
use serde_json::{Value, json};

use super::changes::Topic;
use super::model::{PodPhase, PodTemplate};
use super::{Event, Sim};

/// A step of a replication request (pod id, request number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElasticEvent {
    /// The scheduler looks at a `Proposed` request.
    Check(u64, u32),
    /// The kubelet sees `InProgress` and starts/stops containers.
    KubeletSync(u64, u32),
    /// The kubelet's changes are done and reported at its PLEG relist.
    Done(u64, u32),
    /// The replication timeout of an `InProgress` request.
    Timeout(u64, u32),
    /// The elastic autoscalers sync (see `elastic_autoscaler.rs`).
    ScalerSync,
}

/// Replication state of one pod.
#[derive(Debug, Clone)]
pub struct Replication {
    /// Current phase.
    pub phase: Phase,
    /// The pod spec after the latest accepted patch (what the API shows in `spec`).
    pub desired: Arc<PodTemplate>,
    /// Number of the latest request; events of older requests are ignored.
    pub request: u32,
    /// When the latest request was accepted.
    pub proposed_at: SimTime,
    /// Why the phase is `Infeasible` or `Timeout`.
    pub message: Option<String>,
    /// The waiting-for-room event was emitted for this request.
    pub waited: bool,
}

/// One finished replication (for reports and the scaling-latency measurement).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationRecord {
    /// `namespace/name` of the pod.
    pub pod: String,
    /// When the request was accepted (s).
    pub proposed_at: f64,
    /// When the kubelet reported it done (s), or gave up.
    pub finished_at: f64,
    /// Final phase: `Unset` (done) or `Timeout`.
    pub outcome: &'static str,
    /// Container instances started.
    pub started: u32,
    /// Container instances stopped.
    pub stopped: u32,
}

/// Elastic Pods state of the twin.
#[derive(Debug, Default, Clone)]
pub struct ElasticState {
    /// Largest `replica` the API server accepts.
    pub max_replicas: u32,
    /// Pods with a replication request, by pod id.
    pub pods: BTreeMap<u64, Replication>,
    /// Pods whose request waits in `Proposed` for room on their node.
    pub waiting: BTreeSet<u64>,
    /// Start time and extra restarts of instances started by a replication, by (pod, name).
    pub instances: BTreeMap<(u64, String), (SimTime, u32)>,
    /// Finished replications, in order.
    pub records: Vec<ReplicationRecord>,
    /// Status writes the kubelet made for replications (one per relist).
    pub status_writes: u64,
    /// Status writes it would have made without consolidation (one per container change).
    pub status_writes_unconsolidated: u64,
}

/// Reads a spec's containers for validation: `replica` must be an integer when present.
pub fn container_specs(spec: Option<&Value>) -> Result<Vec<ContainerSpec>, FieldError> {
    spec.and_then(|s| s.get("containers"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, c)| {
            let replica = match c.get("replica") {
                None | Some(Value::Null) => None,
                Some(v) => Some(v.as_i64().ok_or_else(|| FieldError {
                    field: format!("spec.containers[{i}].replica"),
                    message: format!("Invalid value: {v}: must be an integer"),
                })?),
            };
            Ok(ContainerSpec {
                name: c
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                image: c.get("image").and_then(Value::as_str).map(str::to_string),
                replica,
            })
        })
        .collect()
}

/// Copies the `replica` fields of `raw` (the object as written) into `canonical` (the object
/// after the typed parse, which drops fields Kubernetes does not know), for a Pod's
/// `spec.containers` and a workload's `spec.template.spec.containers`, validating each value.
pub fn carry_replicas(canonical: &mut Value, raw: &Value, max: u32) -> Result<(), String> {
    for path in ["/spec", "/spec/template/spec"] {
        let Some(raw_spec) = raw.pointer(path) else {
            continue;
        };
        let specs = container_specs(Some(raw_spec)).map_err(|e| e.to_string())?;
        if specs.iter().all(|c| c.replica.is_none()) {
            continue;
        }
        elastic::validate(&specs, &specs, max).map_err(|e| e.to_string())?;
        let Some(cs) = canonical
            .pointer_mut(&format!("{path}/containers"))
            .and_then(Value::as_array_mut)
        else {
            continue;
        };
        for (c, s) in cs.iter_mut().zip(&specs) {
            if let Some(r) = s.replica
                && c.get("name").and_then(Value::as_str) == Some(s.name.as_str())
            {
                c["replica"] = json!(r);
            }
        }
    }
    Ok(())
}

/// True if two pod specs differ only where Elastic Pods allow a running pod to change:
/// containers' `replica` and `image`, and containers added at the end.
pub fn only_elastic_changes(old: &Value, new: &Value) -> bool {
    let strip = |spec: &Value, keep: usize| {
        let mut s = spec.clone();
        if let Some(cs) = s.get_mut("containers").and_then(Value::as_array_mut) {
            cs.truncate(keep);
            for c in cs.iter_mut().filter_map(Value::as_object_mut) {
                c.remove("replica");
                c.remove("image");
            }
        }
        s
    };
    let n = old
        .get("containers")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    strip(old, n) == strip(new, n)
}

impl Sim {
    /// Reads `spec.elastic` of the scenario.
    pub(crate) fn configure_elastic(&mut self) {
        self.elastic.max_replicas = self
            .scenario
            .doc
            .spec
            .elastic
            .max_replicas
            .unwrap_or(elastic::DEFAULT_MAX_REPLICAS);
    }

    /// The pod's replication phase, if it ever had a request.
    pub fn replication_phase(&self, id: u64) -> Option<Phase> {
        self.elastic.pods.get(&id).map(|r| r.phase)
    }

    /// The spec the API shows for a pod: the latest accepted request's, else the running one.
    pub fn pod_spec_template(&self, id: u64) -> Arc<PodTemplate> {
        if let Some(r) = self.resizes.pods.get(&id) {
            return r.desired.clone();
        }
        match self.elastic.pods.get(&id) {
            Some(r) => r.desired.clone(),
            None => self.pods[&id].template.clone(),
        }
    }

    /// The API server accepts a change of a running pod's containers (`new_spec` is the whole
    /// patched spec): validation, then `Proposed`. Returns the field error otherwise.
    pub fn propose_replication(&mut self, id: u64, new_spec: &Value) -> Result<(), String> {
        let current = self.pod_spec_template(id);
        let before = container_specs(Some(&current.spec)).map_err(|e| e.to_string())?;
        let after = container_specs(Some(new_spec)).map_err(|e| e.to_string())?;
        elastic::validate(&before, &after, self.elastic.max_replicas).map_err(|e| e.to_string())?;
        let p = &self.pods[&id];
        if p.deleting_at.is_some() || matches!(p.phase, PodPhase::Succeeded | PodPhase::Failed) {
            return Err("spec: Forbidden: the pod is terminating or finished".into());
        }
        let mut spec = current.spec.clone();
        spec["containers"] = new_spec.get("containers").cloned().unwrap_or(json!([]));
        let meta = json!({"labels": current.labels.as_ref(), "annotations": current.annotations});
        let desired = Arc::new(PodTemplate::compile(Some(&meta), &spec));
        let (ns, name) = (p.namespace.to_string(), p.name.to_string());
        let running = p.template.clone();
        let bound = p.node.clone();
        // A request that overrides one InProgress gives back the room it held.
        if self.replication_phase(id) == Some(Phase::InProgress) {
            self.set_allocation(id, running.requests);
        }
        let request = self.elastic.pods.get(&id).map_or(1, |r| r.request + 1);
        self.elastic.pods.insert(
            id,
            Replication {
                phase: Phase::Proposed,
                desired: desired.clone(),
                request,
                proposed_at: self.now,
                message: None,
                waited: false,
            },
        );
        self.elastic.waiting.remove(&id);
        self.count("apiWritesPodPatch");
        self.count("elasticRequests");
        let summary = describe_change(&running, &desired);
        self.emit(
            "Normal",
            "ReplicationProposed",
            "Pod",
            &ns,
            &name,
            format!("Replication proposed: {summary}"),
            "kube-apiserver",
        );
        // A pod not yet on a node starts with the new spec: nothing to replicate.
        if bound.is_none() {
            self.pods.get_mut(&id).expect("exists").template = desired;
            self.finish(id, Phase::Unset, None);
            return Ok(());
        }
        let at = self
            .now
            .plus_millis(self.lat.controller_reaction_ms + self.lat.schedule_delay_ms);
        self.queue
            .push(at, Event::Elastic(ElasticEvent::Check(id, request)));
        Ok(())
    }

    /// Dispatches an elastic event.
    pub(crate) fn elastic_event(&mut self, e: ElasticEvent) {
        match e {
            ElasticEvent::Check(id, r) => self.elastic_check(id, r),
            ElasticEvent::KubeletSync(id, r) => self.elastic_kubelet(id, r),
            ElasticEvent::Done(id, r) => self.elastic_done(id, r),
            ElasticEvent::Timeout(id, r) => self.elastic_timeout(id, r),
            ElasticEvent::ScalerSync => self.elastic_scaler_sync(),
        }
    }

    /// The request `r` is still the pod's latest and in `phase`.
    fn current_request(&self, id: u64, r: u32, phase: Phase) -> bool {
        self.pods.get(&id).is_some_and(|p| p.deleting_at.is_none())
            && self
                .elastic
                .pods
                .get(&id)
                .is_some_and(|x| x.request == r && x.phase == phase)
    }

    /// Sets what a bound pod holds on its node (scheduler accounting).
    pub(crate) fn set_allocation(&mut self, id: u64, to: Resources) {
        let Some(node) = self.pods.get(&id).and_then(|p| p.node.clone()) else {
            return;
        };
        let Some(n) = self.nodes.get_mut(&node) else {
            return;
        };
        if let Some(info) = n.info.pods.iter_mut().find(|p| p.id == id) {
            let to = Resources { pods: 1, ..to };
            n.info.requested -= info.requests;
            n.info.requested += to;
            info.requests = to;
            // Node autoscalers' change detection: what pods hold on nodes changed.
            self.store.record(Topic::PodPlacement);
            n.pods_stamp = self.store.record(Topic::NodePods);
        }
    }

    /// What the pod holds on its node now.
    fn allocation(&self, id: u64) -> Option<Resources> {
        let node = self.pods.get(&id)?.node.clone()?;
        self.nodes
            .get(&node)?
            .info
            .pods
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.requests)
    }

    fn elastic_check(&mut self, id: u64, r: u32) {
        if !self.current_request(id, r, Phase::Proposed) {
            return;
        }
        let Some(held) = self.allocation(id) else {
            return;
        };
        let p = &self.pods[&id];
        let node_name = p.node.clone().expect("allocation implies a node");
        let node = &self.nodes[&node_name];
        let desired = self.elastic.pods[&id].desired.requests;
        let (ns, name) = (p.namespace.to_string(), p.name.to_string());
        let fmt = |x: &Resources| {
            format!(
                "cpu {}, memory {}",
                kscale_model::quantity::format_cpu_milli(x.cpu_milli),
                kscale_model::quantity::format_bytes(x.memory)
            )
        };
        match elastic::admit(
            &held,
            &desired,
            &node.info.requested,
            &node.info.allocatable,
        ) {
            Admission::Infeasible => {
                let msg = format!(
                    "the pod would request {} but node {node_name} has only {} allocatable",
                    fmt(&desired),
                    fmt(&node.info.allocatable)
                );
                self.elastic.waiting.remove(&id);
                self.set_phase(id, Phase::Infeasible, Some(msg.clone()));
                self.count("apiWritesPodStatus");
                self.emit(
                    "Warning",
                    "ReplicationInfeasible",
                    "Pod",
                    &ns,
                    &name,
                    format!("Replication infeasible: {msg}"),
                    "default-scheduler",
                );
            }
            Admission::Wait => {
                self.elastic.waiting.insert(id);
                let rep = self.elastic.pods.get_mut(&id).expect("checked");
                if !rep.waited {
                    rep.waited = true;
                    let free = node.info.allocatable - node.info.requested;
                    let msg = format!(
                        "Node {node_name} has {} free, the request needs {} more: waiting for room",
                        fmt(&free),
                        fmt(&(desired - held))
                    );
                    self.emit(
                        "Normal",
                        "ReplicationWaiting",
                        "Pod",
                        &ns,
                        &name,
                        msg,
                        "default-scheduler",
                    );
                }
            }
            Admission::Admit => {
                self.elastic.waiting.remove(&id);
                self.set_allocation(id, held.max(&desired));
                self.set_phase(id, Phase::InProgress, None);
                self.count("apiWritesPodStatus");
                self.emit(
                    "Normal",
                    "ReplicationInProgress",
                    "Pod",
                    &ns,
                    &name,
                    format!("Node {node_name} has room for the request"),
                    "default-scheduler",
                );
                let now = self.now;
                self.queue.push(
                    now.plus_millis(self.lat.bind_to_kubelet_ms),
                    Event::Elastic(ElasticEvent::KubeletSync(id, r)),
                );
                self.queue.push(
                    now.plus_millis(self.lat.elastic_timeout_ms),
                    Event::Elastic(ElasticEvent::Timeout(id, r)),
                );
            }
        }
    }

    fn set_phase(&mut self, id: u64, phase: Phase, message: Option<String>) {
        if let Some(rep) = self.elastic.pods.get_mut(&id) {
            rep.phase = phase;
            rep.message = message;
        }
    }

    /// The kubelet acts on `InProgress`: the containers to start and stop, and how long.
    fn elastic_kubelet(&mut self, id: u64, r: u32) {
        if !self.current_request(id, r, Phase::InProgress) {
            return;
        }
        let p = &self.pods[&id];
        let desired = self.elastic.pods[&id].desired.clone();
        let changes = plan_of(&p.template, &desired);
        let starts: u32 = changes.iter().map(ContainerChange::starts).sum();
        let stops: u32 = changes.iter().map(ContainerChange::stops).sum();
        let node_name = p.node.clone().expect("InProgress pods are bound");
        let confidential = super::kubelet::is_confidential(&desired);
        // Images the node lacks: pulled once (a confidential pod's enclave already holds the
        // decrypted images of its containers; a new image must be pulled and decrypted).
        let node = self.nodes.get_mut(&node_name).expect("bound node");
        let mut pull = false;
        for ch in changes.iter().filter(|c| c.starts() > 0) {
            let image = desired
                .containers
                .iter()
                .find(|c| c.name == ch.name)
                .map(|c| c.image.clone())
                .unwrap_or_default();
            let in_pod = p.template.containers.iter().any(|c| c.image == image);
            let cached = node.images.contains(&image) || image.contains("pause");
            if !(cached && (!confidential || in_pod)) {
                pull = true;
                node.images.insert(image);
            }
        }
        let mut start_ms = 0;
        if starts > 0 {
            // New instances serve after the application's start-up time, as new pods do.
            start_ms = self.lat.container_start_ms
                + self.lat.elastic_container_stagger_ms * (starts as u64 - 1)
                + self.startup_delay_ms(id);
            if pull {
                start_ms += self.lat.image_pull_ms;
                if confidential {
                    start_ms += self.lat.image_decrypt_ms;
                }
            }
        }
        let stop_ms = if stops > 0 {
            desired.grace_ms.min(self.lat.shutdown_ms)
        } else {
            0
        };
        let relist = self.rng.kubelet.range_u64(0, self.lat.pleg_relist_ms);
        let at = self.now.plus_millis(start_ms.max(stop_ms) + relist);
        self.queue
            .push(at, Event::Elastic(ElasticEvent::Done(id, r)));
    }

    /// The kubelet reports the replication: one consolidated status write, phase `Unset`.
    fn elastic_done(&mut self, id: u64, r: u32) {
        if !self.current_request(id, r, Phase::InProgress) {
            return;
        }
        let now = self.now;
        let desired = self.elastic.pods[&id].desired.clone();
        let p = self.pods.get_mut(&id).expect("checked");
        let running = std::mem::replace(&mut p.template, desired.clone());
        let (ns, name) = (p.namespace.to_string(), p.name.to_string());
        if running.annotations != desired.annotations {
            self.karpenter_disruption.pod_annotations_changed();
        }
        let changes = plan_of(&running, &desired);
        let (mut started, mut stopped) = (0, 0);
        for ch in &changes {
            // An image swap replaces every instance; otherwise only the difference changes.
            let (stop, start) = if ch.image_swap {
                (0..ch.from, 0..ch.to)
            } else {
                (ch.to..ch.from, ch.from..ch.to)
            };
            let mut swapped = BTreeMap::new();
            for i in stop {
                let inst = elastic::instance_name(&ch.name, i);
                if let Some((_, r)) = self.elastic.instances.remove(&(id, inst.clone())) {
                    swapped.insert(i, r);
                }
                self.emit(
                    "Normal",
                    "Killing",
                    "Pod",
                    &ns,
                    &name,
                    format!("Stopping container {inst}"),
                    "kubelet",
                );
            }
            for i in start {
                let inst = elastic::instance_name(&ch.name, i);
                // A swapped instance counts a restart of that container only.
                let restarts = swapped.get(&i).copied().unwrap_or(0) + u32::from(ch.image_swap);
                self.elastic
                    .instances
                    .insert((id, inst.clone()), (now, restarts));
                self.emit(
                    "Normal",
                    "Started",
                    "Pod",
                    &ns,
                    &name,
                    format!("Started container {inst}"),
                    "kubelet",
                );
            }
            started += ch.starts();
            stopped += ch.stops();
        }
        self.set_allocation(id, desired.requests);
        // The pod's capacity changed: its workload's load model and controllers look again.
        self.owner_changed_pub(id);
        // The relist saw every change; they reach the API in one status write.
        self.elastic.status_writes += 1;
        self.elastic.status_writes_unconsolidated += (started + stopped).max(1) as u64;
        self.count("apiWritesPodStatus");
        // Readiness follows the serving container's instances.
        let p = self.pods.get_mut(&id).expect("checked");
        let serving = desired.serving_instances();
        if serving == 0 && p.ready_at.is_some() {
            p.ready_at = None;
            p.ready_changed = Some(now);
            self.owner_changed_pub(id);
        } else if serving > 0 && p.ready_at.is_none() && p.phase == PodPhase::Running {
            let g = p.generation;
            self.pod_ready(id, g);
        }
        let took = now.since(self.elastic.pods[&id].proposed_at) as f64 / 1000.0;
        self.emit(
            "Normal",
            "Replicated",
            "Pod",
            &ns,
            &name,
            format!(
                "Replication done in {took:.2}s: {started} container(s) started, {stopped} stopped, no pod restart"
            ),
            "kubelet",
        );
        self.record(id, "Unset", started, stopped);
        self.finish(id, Phase::Unset, None);
        self.room_freed(id);
    }

    fn elastic_timeout(&mut self, id: u64, r: u32) {
        if !self.current_request(id, r, Phase::InProgress) {
            return;
        }
        let running = self.pods[&id].template.requests;
        let (ns, name) = (
            self.pods[&id].namespace.to_string(),
            self.pods[&id].name.to_string(),
        );
        self.set_allocation(id, running);
        let secs = self.lat.elastic_timeout_ms as f64 / 1000.0;
        let msg = format!("the kubelet gave up after {secs}s; the running containers are kept");
        self.count("apiWritesPodStatus");
        self.emit(
            "Warning",
            "ReplicationTimeout",
            "Pod",
            &ns,
            &name,
            format!("Replication timed out: {msg}"),
            "kubelet",
        );
        self.record(id, "Timeout", 0, 0);
        self.finish(id, Phase::Timeout, Some(msg));
        self.room_freed(id);
    }

    fn record(&mut self, id: u64, outcome: &'static str, started: u32, stopped: u32) {
        let p = &self.pods[&id];
        let rep = &self.elastic.pods[&id];
        self.elastic.records.push(ReplicationRecord {
            pod: format!("{}/{}", p.namespace, p.name),
            proposed_at: rep.proposed_at.as_secs_f64(),
            finished_at: self.now.as_secs_f64(),
            outcome,
            started,
            stopped,
        });
    }

    fn finish(&mut self, id: u64, phase: Phase, message: Option<String>) {
        self.set_phase(id, phase, message);
        self.elastic.waiting.remove(&id);
    }

    /// Room may have been freed on the pod's node: waiting requests there are checked again.
    fn room_freed(&mut self, id: u64) {
        if let Some(node) = self.pods.get(&id).and_then(|p| p.node.clone()) {
            self.elastic_node_freed(&node);
        }
    }

    /// Room was freed on `node` (a pod left, a replication shrank): the scheduler looks at the
    /// requests waiting there again.
    pub fn elastic_node_freed(&mut self, node: &str) {
        if self.elastic.waiting.is_empty() {
            return;
        }
        let ids: Vec<(u64, u32)> = self
            .elastic
            .waiting
            .iter()
            .filter(|id| {
                self.pods
                    .get(id)
                    .is_some_and(|p| p.node.as_deref() == Some(node))
            })
            .map(|id| (*id, self.elastic.pods[id].request))
            .collect();
        let at = self
            .now
            .plus_millis(self.lat.controller_reaction_ms + self.lat.schedule_delay_ms);
        for (id, r) in ids {
            self.queue
                .push(at, Event::Elastic(ElasticEvent::Check(id, r)));
        }
    }

    /// Forgets a pod's replication state (the pod is gone).
    pub(crate) fn elastic_pod_gone(&mut self, id: u64) {
        if self.elastic.pods.remove(&id).is_some() {
            self.elastic.waiting.remove(&id);
            let keys: Vec<(u64, String)> = self
                .elastic
                .instances
                .range((id, String::new())..(id + 1, String::new()))
                .map(|(k, _)| k.clone())
                .collect();
            for k in keys {
                self.elastic.instances.remove(&k);
            }
        }
    }

    /// `summary.json` section: requests, phases reached, status writes both ways.
    pub fn elastic_summary(&self) -> Value {
        let by_phase = self
            .elastic
            .pods
            .values()
            .fold(BTreeMap::new(), |mut m, r| {
                *m.entry(r.phase.as_str()).or_insert(0u64) += 1;
                m
            });
        json!({
            "requests": self.recorder.counter("elasticRequests"),
            "completed": self.elastic.records.iter().filter(|r| r.outcome == "Unset").count(),
            "timedOut": self.elastic.records.iter().filter(|r| r.outcome == "Timeout").count(),
            "podsByPhase": by_phase,
            "statusWrites": self.elastic.status_writes,
            "statusWritesWithoutConsolidation": self.elastic.status_writes_unconsolidated,
            "replications": self.elastic.records,
        })
    }
}

/// The kubelet's plan from one template to another.
fn plan_of(running: &PodTemplate, desired: &PodTemplate) -> Vec<ContainerChange> {
    let specs = |t: &PodTemplate| -> Vec<ContainerSpec> {
        t.containers
            .iter()
            .map(|c| ContainerSpec {
                name: c.name.clone(),
                image: Some(c.image.clone()),
                replica: Some(c.replica as i64),
            })
            .collect()
    };
    elastic::plan(&specs(running), &specs(desired))
}

/// `app 1 -> 3, dpi +1 (new)` for events.
fn describe_change(running: &PodTemplate, desired: &PodTemplate) -> String {
    let parts: Vec<String> = plan_of(running, desired)
        .iter()
        .map(|c| {
            if c.added {
                format!("{} +{} (new container)", c.name, c.to)
            } else if c.image_swap {
                format!("{} image swap ({} instance(s))", c.name, c.to)
            } else {
                format!("{} {} -> {}", c.name, c.from, c.to)
            }
        })
        .collect();
    if parts.is_empty() {
        "no container change".into()
    } else {
        parts.join(", ")
    }
}
