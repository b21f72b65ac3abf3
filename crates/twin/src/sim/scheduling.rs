//! The scheduling queue and cycle (kube-scheduler's SchedulingQueue + scheduleOne).
//!
//! Pods wait in an active queue ordered by priority then creation time (upstream
//! `PrioritySort`). A cycle pops every active pod in order and asks the pure scheduler
//! ([`kscale_controllers::scheduler`]) for a decision. Pods that fail go to the unschedulable
//! set and return to the active queue on the next cluster change (a pod leaving, a node
//! joining, a node changing), after the initial back-off.

use std::sync::Arc;

use kscale_controllers::scheduler::{Decision, NodeInfo, PdbInfo};

use super::{Event, Sim};

impl Sim {
    /// Adds a pod to the active queue and makes sure a cycle is coming.
    pub fn enqueue(&mut self, id: u64) {
        if let Some(p) = self.pods.get(&id) {
            self.active_q.insert((-(p.priority as i64), p.created, id));
            self.request_schedule(self.lat.schedule_delay_ms);
        }
    }

    /// Queues a scheduling cycle `delay_ms` from now, unless one is already queued.
    pub fn request_schedule(&mut self, delay_ms: u64) {
        if !self.schedule_pending {
            self.schedule_pending = true;
            self.queue
                .push(self.now.plus_millis(delay_ms), Event::Schedule);
        }
    }

    /// PodDisruptionBudgets with their current allowed disruptions.
    pub fn pdb_infos(&self) -> Vec<PdbInfo> {
        self.store
            .list("PodDisruptionBudget", None)
            .map(|(k, v)| {
                let selector = super::workloads::selector_of(v.pointer("/spec/selector"));
                let matching: Vec<&super::model::Pod> = self
                    .pods
                    .values()
                    .filter(|p| {
                        *p.namespace == *k.namespace
                            && p.deleting_at.is_none()
                            && selector.matches(&p.labels)
                    })
                    .collect();
                let expected = matching.len() as i64;
                let healthy = matching.iter().filter(|p| p.is_ready()).count() as i64;
                let spec = v.get("spec");
                let allowed = if let Some(min) = spec.and_then(|s| s.get("minAvailable")) {
                    healthy - super::workloads::int_or_percent(Some(min), "0", expected, true)
                } else if let Some(max) = spec.and_then(|s| s.get("maxUnavailable")) {
                    healthy
                        - (expected
                            - super::workloads::int_or_percent(Some(max), "0", expected, true))
                } else {
                    healthy
                };
                PdbInfo {
                    namespace: k.namespace.clone(),
                    selector,
                    disruptions_allowed: allowed.max(0) as i32,
                }
            })
            .collect()
    }

    /// One scheduling cycle over every pod in the active queue.
    pub fn schedule_cycle(&mut self) {
        if self.active_q.is_empty() {
            return;
        }
        let names: Vec<Arc<str>> = self.nodes.keys().cloned().collect();
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
        while let Some(entry) = self.active_q.pop_first() {
            let id = entry.2;
            let Some(pod) = self.pods.get(&id) else {
                continue;
            };
            if pod.node.is_some() || pod.deleting_at.is_some() {
                continue;
            }
            let info = pod.sched_info();
            let decision = {
                let refs: Vec<&NodeInfo> = names
                    .iter()
                    .filter_map(|n| self.nodes.get(n))
                    .map(|n| &n.info)
                    .collect();
                let rng = &mut self.rng.sched;
                self.scheduler
                    .schedule(&info, &refs, &pdbs, &mut |n| rng.index(n))
            };
            let live: Vec<&Arc<str>> = names
                .iter()
                .filter(|n| self.nodes.contains_key(*n))
                .collect();
            match decision {
                Decision::Bind { node } => {
                    let node = live[node].clone();
                    self.bind_pod(id, &node);
                }
                Decision::Preempt { node, victims } => {
                    let node = live[node].clone();
                    let msg = self.scheduler.last_fit_error().to_string();
                    let p = &self.pods[&id];
                    let (ns, name) = (p.namespace.to_string(), p.name.to_string());
                    self.emit(
                        "Warning",
                        "FailedScheduling",
                        "Pod",
                        &ns,
                        &name,
                        msg,
                        "default-scheduler",
                    );
                    self.preempt(id, &node, &victims);
                }
                Decision::Unschedulable { message } => {
                    let p = self.pods.get_mut(&id).expect("exists");
                    p.unschedulable = Some(message.clone());
                    let (ns, name) = (p.namespace.to_string(), p.name.to_string());
                    self.unschedulable_q.insert(id);
                    self.count("failedScheduling");
                    self.emit(
                        "Warning",
                        "FailedScheduling",
                        "Pod",
                        &ns,
                        &name,
                        message,
                        "default-scheduler",
                    );
                    self.karpenter_pod_pending();
                }
            }
        }
    }

    fn preempt(&mut self, id: u64, node: &Arc<str>, victims: &[u64]) {
        let (uid, info) = {
            let p = self.pods.get_mut(&id).expect("preemptor exists");
            p.nominated = Some(node.clone());
            (p.uid.clone(), p.sched_info())
        };
        if let Some(n) = self.nodes.get_mut(node) {
            n.info.nominated.retain(|p| p.id != id);
            n.info.nominated.push(info);
        }
        for v in victims {
            let Some(vp) = self.pods.get(v) else { continue };
            let (ns, name) = (vp.namespace.to_string(), vp.name.to_string());
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
        self.unschedulable_q.insert(id);
    }
}
