//! The scheduling queue and cycle (kube-scheduler's SchedulingQueue + scheduleOne).
//!
//! Pods wait in an active queue ordered by priority then creation time (upstream
//! `PrioritySort`). A cycle pops every active pod in order and asks the pure scheduler
//! ([`kscale_controllers::scheduler`]) for a decision. Pods that fail go to the unschedulable
//! set and return to the active queue on the next cluster change (a pod leaving, a node
//! joining, a node changing), after the initial back-off.

use kscale_cluster::ChangeType;
use std::sync::Arc;

use kscale_controllers::scheduler::{
    Decision, NodeInfo, NodeList, NodeTable, PdbInfo, PlacementConstraints, waits_for_pods,
};
use kscale_model::{LabelSelector, Resources};

use super::store::ObjKey;
use super::{Event, Sim};
use serde_json::Value;

/// A failed scheduling attempt of a pod that could not preempt, by what the filters read.
struct Shape {
    requests: Resources,
    priority: i32,
    constraints: Arc<PlacementConstraints>,
    /// The FailedScheduling message.
    message: Arc<str>,
    /// The sizes the attempt drew tie-breaks over, in order.
    draws: Vec<usize>,
}

/// A PodDisruptionBudget's status (see [`Sim::pdb_status`]).
#[derive(Debug, Clone)]
pub struct PdbStatus {
    /// Its selector.
    pub selector: kscale_model::labels::LabelSelector,
    /// `status.expectedPods`.
    pub expected_pods: i64,
    /// `status.currentHealthy`.
    pub current_healthy: i64,
    /// `status.desiredHealthy`.
    pub desired_healthy: i64,
    /// `status.disruptionsAllowed`.
    pub disruptions_allowed: i64,
}

/// Minimum time between two FailedScheduling events of one pod.
pub const FAILED_EVENT_INTERVAL_MS: u64 = 10_000;

impl Sim {
    /// Adds a pod to the active queue and makes sure a cycle is coming.
    pub fn enqueue(&mut self, id: u64) {
        if let Some(p) = self.pods.get(&id) {
            self.sched_queue.add(p.priority, p.created, id);
            self.request_schedule(self.lat.schedule_delay_ms);
        }
    }

    /// Queues a scheduling cycle `delay_ms` from now, unless one is already queued.
    pub fn request_schedule(&mut self, delay_ms: u64) {
        if self.sched_queue.request_cycle() {
            self.queue
                .push(self.now.plus_millis(delay_ms), Event::Schedule);
        }
    }

    /// PodDisruptionBudgets with their current allowed disruptions, as the disruption
    /// controller computes them (upstream `pkg/controller/disruption/disruption.go`
    /// `getExpectedPodCount` and `countHealthyPods`): healthy pods are the ready ones not being
    /// deleted; an integer `minAvailable` is the desired healthy count, while a percentage or a
    /// `maxUnavailable` is taken of the expected count, the scale of the pods' controllers
    /// (a Deployment's for its ReplicaSets' pods), so a pod that is being replaced still
    /// counts as expected.
    pub fn pdb_infos(&self) -> Vec<PdbInfo> {
        self.store
            .list("PodDisruptionBudget", None)
            .map(|(k, v)| {
                let st = self.pdb_status(k, v);
                PdbInfo {
                    namespace: k.namespace.clone(),
                    selector: st.selector,
                    disruptions_allowed: st.disruptions_allowed as i32,
                }
            })
            .collect()
    }

    /// A PodDisruptionBudget's status as the disruption controller writes it
    /// (`pkg/controller/disruption/disruption.go` `trySync`, `getExpectedPodCount`,
    /// `countHealthyPods`, `updatePdbStatus`).
    pub fn pdb_status(&self, k: &ObjKey, v: &Value) -> PdbStatus {
        let selector = super::workloads::selector_of(v.pointer("/spec/selector"));
        let matching: Vec<&super::model::Pod> = self
            .pods
            .values()
            .filter(|p| *p.namespace == *k.namespace && selector.matches(&p.labels))
            .collect();
        let healthy = matching
            .iter()
            .filter(|p| p.deleting_at.is_none() && p.is_ready())
            .count() as i64;
        let spec = v.get("spec");
        let (expected, desired) = if let Some(max) = spec.and_then(|s| s.get("maxUnavailable")) {
            let expected = self.expected_scale(&k.namespace, &matching);
            let max = super::workloads::int_or_percent(Some(max), "0", expected, true);
            (expected, (expected - max).max(0))
        } else if let Some(min) = spec.and_then(|s| s.get("minAvailable")) {
            if min.is_string() {
                let expected = self.expected_scale(&k.namespace, &matching);
                let min = super::workloads::int_or_percent(Some(min), "0", expected, true);
                (expected, min)
            } else {
                (matching.len() as i64, min.as_i64().unwrap_or(0))
            }
        } else {
            (matching.len() as i64, 0)
        };
        let allowed = if expected <= 0 {
            0
        } else {
            (healthy - desired).max(0)
        };
        PdbStatus {
            selector,
            expected_pods: expected,
            current_healthy: healthy,
            desired_healthy: desired,
            disruptions_allowed: allowed,
        }
    }

    /// The summed scale of the controllers of `pods` (upstream `getExpectedScale`): each
    /// ReplicaSet counts its Deployment's `spec.replicas` when a Deployment owns it, else its
    /// own; a StatefulSet its own. A pod without a known controller counts as one (upstream
    /// refuses to compute the budget then).
    fn expected_scale(&self, ns: &str, pods: &[&super::model::Pod]) -> i64 {
        let replicas = |kind: &str, name: &str| -> Option<(String, i64)> {
            let v = self.store.get(&ObjKey::new(kind, ns, name))?;
            let owner = v.pointer("/metadata/ownerReferences/0");
            if let Some(d) = owner.filter(|o| o["kind"] == "Deployment")
                && let Some(name) = d["name"].as_str()
                && let Some(dep) = self.store.get(&ObjKey::new("Deployment", ns, name))
            {
                let n = dep.pointer("/spec/replicas").and_then(Value::as_i64);
                return Some((format!("Deployment/{name}"), n.unwrap_or(1)));
            }
            let n = v.pointer("/spec/replicas").and_then(Value::as_i64);
            Some((format!("{kind}/{name}"), n.unwrap_or(1)))
        };
        let mut controllers = std::collections::BTreeMap::new();
        let mut loose = 0;
        for p in pods {
            match p.owner.as_ref().and_then(|o| replicas(o.kind, &o.name)) {
                Some((key, n)) => {
                    controllers.insert(key, n);
                }
                None => loose += 1,
            }
        }
        controllers.values().sum::<i64>() + loose
    }

    /// `helper.DefaultSelector` (`pkg/scheduler/framework/plugins/helper/spread.go`), the
    /// selector PodTopologySpread's system default constraints spread `pod` by: the selectors
    /// of the Services in its namespace that select it (`GetPodServices`; a Service without a
    /// selector selects nothing), merged, and the requirements of its controller's selector
    /// when that is a ReplicaSet or StatefulSet that exists (the twin runs no
    /// ReplicationController). `None` when empty: the plugin then scores nothing.
    pub fn default_selector(&self, pod: &super::model::Pod) -> Option<Arc<LabelSelector>> {
        let mut services = kscale_model::labels::Labels::new();
        // A twin that never had a Service lists none.
        if self.store.membership_of("Service") != 0 {
            for (_, svc) in self.store.list("Service", Some(&pod.namespace)) {
                let Some(s) = svc.pointer("/spec/selector").and_then(Value::as_object) else {
                    continue;
                };
                let value = |v: &Value| v.as_str().unwrap_or("").to_string();
                if s.iter().all(|(k, v)| pod.labels.get(k) == Some(&value(v))) {
                    services.extend(s.iter().map(|(k, v)| (k.clone(), value(v))));
                }
            }
        }
        let rs = pod
            .owner
            .as_ref()
            .and_then(|o| match o.kind {
                "ReplicaSet" => {
                    self.rs_cache
                        .get(&ObjKey::new("ReplicaSet", &pod.namespace, &o.name))
                }
                "StatefulSet" => {
                    self.statefulsets
                        .cache(&ObjKey::new("StatefulSet", &pod.namespace, &o.name))
                }
                _ => None,
            })
            .map(|rs| &rs.spread_selector);
        let sel = match rs {
            Some(rs) if services.is_empty() => rs.clone(),
            _ => {
                // `selector.Add(requirements...)`: the ReplicaSet's requirements ANDed with
                // the Services' labels.
                let mut sel = rs.map(|rs| (**rs).clone()).unwrap_or_default();
                sel.match_labels = services;
                Arc::new(sel)
            }
        };
        (!sel.is_empty()).then_some(sel)
    }

    /// One scheduling cycle over every pod in the active queue.
    pub fn schedule_cycle(&mut self) {
        if self.sched_queue.active_is_empty() {
            return;
        }
        let pdbs = if self
            .store
            .list("PodDisruptionBudget", None)
            .next()
            .is_some()
        {
            self.pdb_infos()
        } else {
            vec![]
        };
        // Pods of one template and priority that failed since the last bind or preemption of
        // this cycle fail the same way: their attempt is answered without rerunning the filters
        // (the cluster did not change in between). Keyed by the shared template's address,
        // which never reaches the output.
        let mut failed: std::collections::BTreeMap<(usize, i32), Arc<str>> = Default::default();
        // Failed attempts, added to the summary counter once at the end of the cycle.
        let mut failures = 0u64;
        // Karpenter hears of pending pods once per cycle: later calls at the same instant
        // change nothing.
        let mut karpenter_told = false;
        // The filters' table of the nodes (in key order): built at the cycle's first attempt,
        // a bound node's row read again, built anew after anything else changes nodes (a
        // preemption, a bind that drops a nomination). The node set is the same all cycle.
        // Kept between cycles (`NodeMap` journals the nodes that changed in between).
        let mut table: Option<NodeTable> = self.nodes.take_table();
        // No node is added or removed during the cycle: the attempts read them by position.
        self.nodes.index_names();
        // Failed attempts since the last bind or preemption of pods that cannot preempt (their
        // priority is at most every bound pod's) and with no node holding a nominated pod, by
        // what the filters read of a pod (requests, priority, placement constraints): a pod of
        // another template with the same answers fails the same way, with the same message and
        // the same tie-break draws (the preemption dry run's random offset, over the same
        // nodes), which are drawn again without rerunning the filters.
        let mut shapes: Vec<Shape> = vec![];
        while let Some(id) = self.sched_queue.pop() {
            let Some(pod) = self.pods.get(&id) else {
                continue;
            };
            if pod.node.is_some() || pod.deleting_at.is_some() {
                continue;
            }
            let class = (Arc::as_ptr(&pod.template) as usize, pod.priority);
            let (decision, node_name) = match failed.get(&class) {
                Some(message) => (None, message.clone()),
                None => {
                    let mut info = pod.sched_info();
                    if info.constraints.topology_spread.is_empty() {
                        info.default_selector = self.default_selector(pod);
                    }
                    let floor = self.bound_priorities.keys().next().copied();
                    let no_victims = info.priority <= floor.unwrap_or(i32::MAX);
                    let no_nominated = table.as_ref().is_some_and(|t| !t.has_nominated());
                    // A pod with topology spread constraints or pod affinity terms depends on
                    // its labels too, and so does any pod while pods with such terms (an
                    // anti-affinity may select it by its labels) are bound.
                    let shaped = info.constraints.topology_spread.is_empty()
                        && info.constraints.pod_affinity.is_empty()
                        && table.as_ref().is_some_and(|t| !t.has_affinity_pods());
                    let seen = shapes.iter().find(|s| {
                        no_victims
                            && no_nominated
                            && shaped
                            && s.requests == info.requests
                            && s.priority == info.priority
                            && *s.constraints == *info.constraints
                    });
                    match seen {
                        Some(s) => {
                            let drawn: Vec<usize> =
                                s.draws.iter().map(|n| self.rng.sched.index(*n)).collect();
                            #[cfg(debug_assertions)]
                            {
                                // Recount: the attempt run for real (on a copy of the
                                // scheduler, given the same draws) answers the same.
                                let refs: Vec<&NodeInfo> =
                                    self.nodes.values().map(|n| &n.info).collect();
                                let mut again = self.scheduler.clone();
                                again.set_priority_floor(Some(floor.unwrap_or(i32::MAX)));
                                let mut sizes = vec![];
                                let mut t = table.clone().expect("kept with the shapes");
                                let d =
                                    again.schedule_in(&info, &refs[..], &mut t, &pdbs, &mut |n| {
                                        sizes.push(n);
                                        drawn.get(sizes.len() - 1).copied().unwrap_or(0)
                                    });
                                assert!(
                                    matches!(&d, Decision::Unschedulable { message }
                                        if **message == *s.message)
                                        && sizes == s.draws
                                        && again.next_start_node_index()
                                            == self.scheduler.next_start_node_index(),
                                    "pod {id}: a failure of its shape answered differently ({d:?})"
                                );
                            }
                            let _ = drawn;
                            let message = String::new();
                            (Some(Decision::Unschedulable { message }), s.message.clone())
                        }
                        None => {
                            // The nodes in key order, by position (they change only between
                            // cycles).
                            let nodes = self.nodes.by_position().expect("indexed this cycle");
                            self.scheduler
                                .set_priority_floor(Some(floor.unwrap_or(i32::MAX)));
                            let t = table.get_or_insert_with(|| {
                                let refs: Vec<&NodeInfo> =
                                    self.nodes.values().map(|n| &n.info).collect();
                                NodeTable::new(&refs)
                            });
                            let no_nominated = !t.has_nominated();
                            let rng = &mut self.rng.sched;
                            let mut draws = vec![];
                            let d = self
                                .scheduler
                                .schedule_in(&info, &nodes, t, &pdbs, &mut |n| {
                                    draws.push(n);
                                    rng.index(n)
                                });
                            // The chosen node's name (a node's `info.name` is its key in `nodes`).
                            let name = match &d {
                                Decision::Bind { node } | Decision::Preempt { node, .. } => {
                                    nodes.node(*node).name.clone()
                                }
                                Decision::Unschedulable { message } => {
                                    let message: Arc<str> = Arc::from(message.as_str());
                                    if no_victims && no_nominated && shaped {
                                        shapes.push(Shape {
                                            requests: info.requests,
                                            priority: info.priority,
                                            constraints: info.constraints.clone(),
                                            message: message.clone(),
                                            draws,
                                        });
                                    }
                                    message
                                }
                            };
                            (Some(d), name)
                        }
                    }
                }
            };
            match decision {
                Some(Decision::Bind { node }) => {
                    failed.clear();
                    shapes.clear();
                    debug_assert!(self.nodes.contains_key(&node_name));
                    let nominated = self.pods[&id].nominated.is_some();
                    self.bind_pod(id, &node_name);
                    match &mut table {
                        Some(t) if !nominated => t.refresh(node, &self.nodes[&node_name].info),
                        _ => table = None,
                    }
                }
                Some(Decision::Preempt { victims, .. }) => {
                    failed.clear();
                    shapes.clear();
                    table = None;
                    let msg = self.scheduler.last_fit_error().to_string();
                    let p = &self.pods[&id];
                    let (ns, name) = (p.namespace.clone(), p.name.clone());
                    self.emit(
                        "Warning",
                        "FailedScheduling",
                        "Pod",
                        &ns,
                        &name,
                        msg,
                        "default-scheduler",
                    );
                    self.preempt(id, &node_name, &victims);
                }
                Some(Decision::Unschedulable { .. }) | None => {
                    let message = node_name;
                    if decision.is_some() {
                        failed.insert(class, message.clone());
                    }
                    let now = self.now;
                    let p = self.pods.get_mut(&id).expect("exists");
                    // Like the event recorder's correlator, a repeat of the same message on
                    // the same pod is not a new event.
                    // Attempts of one pod are at least 10 s apart upstream (podMaxBackoffDuration),
                    // so at most one FailedScheduling event per pod per 10 s is recorded.
                    let recent = self
                        .sched_queue
                        .failed_event_at(id)
                        .is_some_and(|t| now.since(t) < FAILED_EVENT_INTERVAL_MS);
                    let same = p.unschedulable.as_deref() == Some(&*message);
                    if !same {
                        p.unschedulable = Some(message.to_string());
                    }
                    let repeat = recent || same;
                    self.sched_queue.failed(id, now);
                    if waits_for_pods(&p.template.constraints) {
                        self.sched_queue.wait_for_pods(id);
                    }
                    failures += 1;
                    if !repeat {
                        let (ns, name) = (p.namespace.clone(), p.name.clone());
                        self.sched_queue.failed_event(id, now);
                        self.emit(
                            "Warning",
                            "FailedScheduling",
                            "Pod",
                            &ns,
                            &name,
                            message.to_string(),
                            "default-scheduler",
                        );
                    }
                    if !karpenter_told {
                        karpenter_told = true;
                        self.karpenter_pod_pending();
                    }
                }
            }
        }
        if failures > 0 {
            self.recorder.count("failedScheduling", failures);
        }
        if let Some(t) = table {
            self.nodes.keep_table(t);
        }
    }

    fn preempt(&mut self, id: u64, node: &Arc<str>, victims: &[u64]) {
        let (uid, info) = {
            let p = self.pods.get_mut(&id).expect("preemptor exists");
            p.nominated = Some(node.clone());
            (p.uid.clone(), p.sched_info())
        };
        self.pod_changed(id, ChangeType::Modified);
        if let Some(n) = self.nodes.get_mut(node) {
            n.info.nominated.retain(|p| p.id != id);
            n.info.nominated.push(info);
        }
        for v in victims {
            let Some(vp) = self.pods.get(v) else { continue };
            let (ns, name) = (vp.namespace.clone(), vp.name.clone());
            self.count("preemptions");
            self.emit(
                "Normal",
                "Preempted",
                "Pod",
                &ns,
                &name,
                format!("Preempted by pod {uid} on node {node}"),
                "default-scheduler",
            );
            self.delete_pod(*v, None);
        }
        self.sched_queue.park(id);
    }
}
