//! Pod lifecycle: creation (API admission), binding, the kubelet's start-up and termination.
//!
//! Start-up path after a bind (see [`crate::latency::Latencies`] for each delay and its source):
//! bind + watch → sandbox + CNI → image pull (skipped when cached on the node; `pause` images
//! are always cached) → container start → PLEG relist (uniform phase within 1 s) → Running;
//! Ready after `readinessProbe.initialDelaySeconds`. Deletion: SIGTERM, exit after
//! min(grace period, shutdown time), PLEG relist, then the pod object is removed and its
//! resources are freed on the node.

use std::borrow::Cow;
use std::sync::Arc;

use kscale_model::SimTime;
use serde_json::Value;

use kscale_cluster::ChangeType;

use super::changes::Topic;
use super::model::{Owner, Pod, PodPhase, PodTemplate};
use super::store::ObjKey;
use super::{Event, Sim};

/// Annotation marking a pod whose image is encrypted and decrypted inside the pod's enclave
/// (confidential containers, seed 000 user story 3).
pub const CONFIDENTIAL_ANNOTATION: &str = "kscale.io/confidential-image";

/// True if the template carries [`CONFIDENTIAL_ANNOTATION`] = `"true"`.
pub fn is_confidential(t: &PodTemplate) -> bool {
    t.annotations
        .get(CONFIDENTIAL_ANNOTATION)
        .map(String::as_str)
        == Some("true")
}

/// Names of the running container instances of a template (`app`, `app-1`, … for a
/// container with `replica` > 1).
pub fn instance_names(t: &PodTemplate) -> Vec<String> {
    t.containers
        .iter()
        .flat_map(|c| {
            (0..c.replica).map(|i| kscale_controllers::elastic::instance_name(&c.name, i))
        })
        .collect()
}

impl Sim {
    /// `namespace/kind/name` of the workload that owns a pod.
    pub fn workload_of(&self, id: u64) -> String {
        let (namespace, kind, name) = self.workload_parts(id);
        format!("{namespace}/{kind}/{name}")
    }

    /// The namespace, kind (lower case) and name that [`Sim::workload_of`] joins.
    pub fn workload_parts(&self, id: u64) -> (&str, Cow<'_, str>, &str) {
        let p = &self.pods[&id];
        match &p.owner {
            Some(o) if o.kind == "ReplicaSet" => {
                let key = ObjKey::new("ReplicaSet", &p.namespace, &o.name);
                match self.rs_cache.get(&key).and_then(|c| c.owner.as_ref()) {
                    Some(d) => (&d.namespace, Cow::Borrowed("deployment"), &d.name),
                    None => (&p.namespace, Cow::Borrowed("replicaset"), &o.name),
                }
            }
            Some(o) => (
                &p.namespace,
                Cow::Owned(o.kind.to_ascii_lowercase()),
                &o.name,
            ),
            None => (&p.namespace, Cow::Borrowed("pod"), &p.name),
        }
    }

    /// Resolves a pod's priority as the Priority admission plugin does.
    pub fn resolve_priority(&self, class: Option<&str>) -> Result<i32, String> {
        self.resolve_priority_class(class).map(|(p, _)| p)
    }

    /// The priority and whether the preemption policy is `Never`, as the Priority admission
    /// plugin resolves them from the pod's PriorityClass, else the global default class, else
    /// 0 and `PreemptLowerPriority` (plugin/pkg/admission/priority/admission.go `admitPod`,
    /// `getDefaultPriority`).
    pub fn resolve_priority_class(&self, class: Option<&str>) -> Result<(i32, bool), String> {
        match class {
            Some(name) => self
                .store
                .get(&ObjKey::new("PriorityClass", "", name))
                .map(class_of)
                .ok_or_else(|| format!("no PriorityClass with name {name} was found")),
            None => {
                // Memoized while no PriorityClass is written (created, changed or deleted).
                let writes = self.store.writes_of("PriorityClass");
                let mut memo = self
                    .default_priority
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if let Some((w, p)) = *memo
                    && w == writes
                {
                    debug_assert_eq!(p, self.global_default_priority(), "default priority memo");
                    return Ok(p);
                }
                let p = self.global_default_priority();
                *memo = Some((writes, p));
                Ok(p)
            }
        }
    }

    /// The value and `Never` policy of the first PriorityClass with `globalDefault: true`,
    /// else (0, false).
    fn global_default_priority(&self) -> (i32, bool) {
        self.store
            .list("PriorityClass", None)
            .find(|(_, v)| v.get("globalDefault").and_then(Value::as_bool) == Some(true))
            .map(|(_, v)| class_of(v))
            .unwrap_or((0, false))
    }

    /// The admission checks of a pod create: namespace exists, PriorityClass exists, the
    /// pod's preemption policy agrees with the class's.
    pub fn admission_check(
        &self,
        namespace: &str,
        template: &Arc<PodTemplate>,
    ) -> Result<i32, String> {
        if self
            .store
            .get(&ObjKey::new("Namespace", "", namespace))
            .is_none()
        {
            return Err(format!("namespaces \"{namespace}\" not found"));
        }
        let (priority, never) = self.resolve_priority_class(template.priority_class.as_deref())?;
        with_preemption_policy(Arc::clone(template), never)?;
        Ok(priority)
    }

    /// Creates a pod object (API admission included) and queues it for scheduling.
    pub fn create_pod(
        &mut self,
        namespace: &str,
        name: &str,
        template: Arc<PodTemplate>,
        owner: Option<Owner>,
    ) -> Result<u64, String> {
        if self
            .store
            .get(&ObjKey::new("Namespace", "", namespace))
            .is_none()
        {
            return Err(format!("namespaces \"{namespace}\" not found"));
        }
        let ns: Arc<str> = Arc::from(namespace);
        let nm: Arc<str> = Arc::from(name);
        if self.pod_names.contains_key(&(ns.clone(), nm.clone())) {
            return Err(format!("pods \"{name}\" already exists"));
        }
        let (priority, never) = self
            .resolve_priority_class(template.priority_class.as_deref())
            .map_err(|m| format!("pods \"{name}\" is forbidden: {m}"))?;
        let template = with_preemption_policy(template, never)
            .map_err(|m| format!("pods \"{name}\" is forbidden: {m}"))?;
        let template = self.vpa_admit(namespace, template);
        let id = self.next_pod_id;
        self.next_pod_id += 1;
        let pod = Pod {
            id,
            namespace: ns.clone(),
            name: nm.clone(),
            uid: self.rng.uids.uuid(),
            created: self.now,
            labels: template.labels.clone(),
            template,
            owner,
            priority,
            node: None,
            nominated: None,
            phase: PodPhase::Pending,
            scheduled_at: None,
            started_at: None,
            ready_at: None,
            deleting_at: None,
            unschedulable: None,
            restarts: 0,
            generation: 0,
            evicted: None,
            ready_changed: None,
            sample: None,
            usage: None,
            view: super::hpa_view::NO_VIEW,
            marks: Default::default(),
        };
        self.store.record_object("Pod", &ns, &nm, ChangeType::Added);
        self.pods.insert(id, pod);
        self.pod_names.insert((ns, nm), id);
        self.count("podsCreated");
        self.count("apiWritesPodCreate");
        self.enqueue(id);
        Ok(id)
    }

    /// Counts a pod bound to a node at `priority` (kept with every `NodeInfo::pods` push).
    pub fn note_bound(&mut self, priority: i32) {
        *self.bound_priorities.entry(priority).or_insert(0) += 1;
    }

    /// Uncounts a pod removed from its node's `NodeInfo::pods`.
    pub fn note_unbound(&mut self, priority: i32) {
        if let Some(c) = self.bound_priorities.get_mut(&priority) {
            *c -= 1;
            if *c == 0 {
                self.bound_priorities.remove(&priority);
            }
        }
    }

    /// Binds a pod to a node and starts the kubelet's start-up sequence.
    pub fn bind_pod(&mut self, id: u64, node_name: &Arc<str>) {
        let now = self.now;
        let pod = self.pods.get_mut(&id).expect("bound pod exists");
        if let Some(nom) = pod.nominated.take()
            && let Some(n) = self.nodes.get_mut(&nom)
        {
            n.info.nominated.retain(|p| p.id != id);
        }
        pod.node = Some(node_name.clone());
        let requests = pod.template.requests;
        // A pod Karpenter planned onto an in-flight NodeClaim no longer needs that room.
        self.karpenter.provisioning.pod_bound(id, requests);
        let pod = self.pods.get_mut(&id).expect("bound pod exists");
        pod.phase = PodPhase::ContainerCreating;
        pod.scheduled_at = Some(now);
        pod.unschedulable = None;
        self.sched_queue.forget_events(id);
        let info = pod.sched_info();
        let template = pod.template.clone();
        let (ns, name) = (pod.namespace.to_string(), pod.name.to_string());
        let generation = pod.generation;
        self.wake_after_bind(&info);
        let node = self.nodes.get_mut(node_name).expect("bind target exists");
        node.info.requested += info.requests;
        let priority = info.priority;
        node.info.pods.push(info);
        node.last_pod_event = now;
        node.pods_stamp = self.store.record(Topic::NodePods);
        // The kubelet sees the bind, then sets up the sandbox; the runtime's per-node lock
        // (if modelled) serialises part of that set-up across the node's pods.
        let arrive = now.plus_millis(self.lat.bind_to_kubelet_ms);
        let sandbox_start = if self.lat.sandbox_lock_ms > 0 {
            let s = arrive.max(node.sandbox_free_at);
            node.sandbox_free_at = s.plus_millis(self.lat.sandbox_lock_ms);
            s
        } else {
            arrive
        };
        let mut delay = sandbox_start.since(now) + self.lat.sandbox_ms;
        // A confidential pod pulls and decrypts its image into its own enclave: never cached.
        let confidential = is_confidential(&template);
        let mut pulled = vec![];
        for c in template.containers.iter().filter(|c| c.replica > 0) {
            let cached =
                node.images.contains(&c.image) || kscale_model::images::preloaded(&c.image);
            if !cached || confidential {
                pulled.push(c.image.clone());
                node.images.insert(c.image.clone());
            }
        }
        if !pulled.is_empty() {
            delay += self.lat.image_pull_ms;
        }
        if confidential {
            delay += self.lat.image_decrypt_ms;
        }
        delay +=
            self.lat.container_start_ms + self.rng.kubelet.range_u64(0, self.lat.pleg_relist_ms);
        self.note_bound(priority);
        self.count("podsScheduled");
        // The binding, then the kubelet's first status (PodScheduled, ContainerCreating).
        self.count("apiWritesPodBinding");
        self.count("apiWritesPodStatus");
        self.store.record(Topic::PodPlacement);
        self.pod_changed(id, ChangeType::Modified);
        self.emit(
            "Normal",
            "Scheduled",
            "Pod",
            &ns,
            &name,
            format!("Successfully assigned {ns}/{name} to {node_name}"),
            "default-scheduler",
        );
        for img in pulled {
            self.emit(
                "Normal",
                "Pulling",
                "Pod",
                &ns,
                &name,
                format!("Pulling image \"{img}\""),
                "kubelet",
            );
        }
        self.queue.push(
            now.plus_millis(delay),
            Event::ContainersStarted(id, generation),
        );
    }

    pub(crate) fn containers_started(&mut self, id: u64, generation: u32) {
        let now = self.now;
        let Some(pod) = self.pods.get_mut(&id) else {
            return;
        };
        if pod.generation != generation || pod.deleting_at.is_some() {
            return;
        }
        pod.phase = PodPhase::Running;
        pod.started_at = Some(now);
        let created = pod.created;
        self.pod_changed(id, ChangeType::Modified);
        if let Some(t) = self.sched_queue.resolved(id) {
            self.recorder.unschedulable_to_running(now.since(t));
        }
        // The workload once, for the record and for its start-up time.
        let (workload, startup_ms) = {
            let (ns, kind, name) = self.workload_parts(id);
            (
                format!("{ns}/{kind}/{name}"),
                self.load_startup_ms(ns, &kind, name),
            )
        };
        self.recorder
            .startup(&workload, created, now.since(created));
        let delay = self.pods[&id].template.readiness_delay_ms + startup_ms;
        let (ns, name) = (
            self.pods[&id].namespace.to_string(),
            self.pods[&id].name.to_string(),
        );
        let containers = instance_names(&self.pods[&id].template);
        for c in containers {
            self.emit(
                "Normal",
                "Started",
                "Pod",
                &ns,
                &name,
                format!("Started container {c}"),
                "kubelet",
            );
        }
        // The relist that saw the containers start reports them (and readiness, without a
        // readiness delay) in one status write.
        self.count("apiWritesPodStatus");
        if delay == 0 {
            self.pod_ready(id, generation);
        } else {
            self.count("apiWritesPodStatus");
            self.queue
                .push(now.plus_millis(delay), Event::PodReady(id, generation));
        }
    }

    pub(crate) fn pod_ready(&mut self, id: u64, generation: u32) {
        let now = self.now;
        let Some(pod) = self.pods.get_mut(&id) else {
            return;
        };
        // A pod whose serving container is scaled to zero (Elastic Pods) has nothing to be
        // ready with.
        if pod.generation != generation
            || pod.deleting_at.is_some()
            || pod.template.serving_instances() == 0
        {
            return;
        }
        let before = counted(pod);
        pod.ready_at = Some(now);
        pod.ready_changed = Some(now);
        let moved = counts_moved(before, counted(pod));
        self.pod_changed(id, ChangeType::Modified);
        self.owner_changed_by(id, Some(moved));
    }

    /// Marks the pod's ReplicaSet (and its Deployment) for reconcile (for other modules).
    pub fn owner_changed_pub(&mut self, id: u64) {
        self.owner_changed(id);
    }

    /// Marks the pod's ReplicaSet (and its Deployment) for reconcile.
    fn owner_changed(&mut self, id: u64) {
        self.owner_changed_by(id, None);
    }

    /// [`Sim::owner_changed`] after a change that moved the pod's counts (active, ready) by
    /// `moved` (see [`Sim::mark_dirty_owner_by`]; None: unknown).
    fn owner_changed_by(&mut self, id: u64, moved: Option<(isize, isize)>) {
        let Some(pod) = self.pods.get(&id) else {
            return;
        };
        if let Some(o) = &pod.owner
            && matches!(o.kind, "DaemonSet" | "StatefulSet")
        {
            let key = ObjKey::new(o.kind, &pod.namespace, &o.name);
            self.mark_dirty(key);
            return;
        }
        if let Some(o) = &pod.owner
            && o.kind == "ReplicaSet"
        {
            let key = ObjKey::new("ReplicaSet", &pod.namespace, &o.name);
            // Only a member moves the counts (a ReplicaSet recreated under the name may not
            // count this pod).
            let member = |c: &super::workloads::RsCache| c.pods.contains(&id);
            let moved = moved.filter(|_| self.rs_cache.get(&key).is_some_and(member));
            self.mark_dirty_owner_by(key, true, moved);
        }
    }

    /// Starts graceful deletion of a pod (`grace_ms` overrides the pod's grace period).
    pub fn delete_pod(&mut self, id: u64, grace_ms: Option<u64>) {
        let now = self.now;
        let Some(pod) = self.pods.get_mut(&id) else {
            return;
        };
        if pod.deleting_at.is_some() {
            return;
        }
        let before = counted(pod);
        pod.deleting_at = Some(now);
        let moved = Some(counts_moved(before, counted(pod)));
        self.store
            .record_object("Pod", &pod.namespace, &pod.name, ChangeType::Modified);
        self.recorder.count("apiWritesPodDelete", 1);
        self.sched_queue.remove(pod.priority, pod.created, id);
        let Some(node_name) = pod.node.clone() else {
            // Never bound: the API server removes it at once.
            let generation = pod.generation;
            self.owner_changed_by(id, moved);
            self.pod_gone(id, generation);
            return;
        };
        let grace = grace_ms.unwrap_or(pod.template.grace_ms);
        let generation = pod.generation;
        let (ns, name) = (pod.namespace.to_string(), pod.name.to_string());
        // Only running containers are stopped, each with a `Killing` event: the kubelet kills
        // the pod's running pod, which holds the containers in state running (v1.37
        // pkg/kubelet/container/helpers.go `ConvertPodStatusToRunningPod`), so a pod deleted
        // while its image is pulled records none.
        let containers = if pod.started_at.is_some() {
            instance_names(&pod.template)
        } else {
            vec![]
        };
        if let Some(n) = self.nodes.get_mut(&node_name)
            && let Some(p) = n.info.pods.iter_mut().find(|p| p.id == id)
        {
            p.terminating = true;
            n.last_pod_event = now;
            n.pods_stamp = self.store.record(Topic::NodePods);
        }
        for c in containers {
            self.emit(
                "Normal",
                "Killing",
                "Pod",
                &ns,
                &name,
                format!("Stopping container {c}"),
                "kubelet",
            );
        }
        let exit = grace.min(self.lat.shutdown_ms)
            + self.rng.kubelet.range_u64(0, self.lat.pleg_relist_ms);
        self.queue
            .push(now.plus_millis(exit), Event::PodGone(id, generation));
        self.owner_changed_by(id, moved);
    }

    /// The pod object is gone: free its node resources and tell its controller.
    pub(crate) fn pod_gone(&mut self, id: u64, generation: u32) {
        let Some(pod) = self.pods.get(&id) else {
            return;
        };
        if pod.generation != generation {
            return;
        }
        self.pod_changed(id, ChangeType::Deleted);
        let pod = self.pods.remove(&id).expect("checked");
        self.pod_names
            .remove(&(pod.namespace.clone(), pod.name.clone()));
        if let Some(nom) = &pod.nominated
            && let Some(n) = self.nodes.get_mut(nom)
        {
            n.info.nominated.retain(|p| p.id != id);
        }
        if let Some(node_name) = &pod.node
            && let Some(n) = self.nodes.get_mut(node_name)
            && let Some(i) = n.info.pods.iter().position(|p| p.id == id)
        {
            let p = n.info.pods.swap_remove(i);
            n.info.requested -= p.requests;
            n.last_pod_event = self.now;
            n.pods_stamp = self.store.record(Topic::NodePods);
            self.note_unbound(p.priority);
        }
        if let Some(o) = &pod.owner {
            let key = ObjKey::new(o.kind, &pod.namespace, &o.name);
            // The counts lose what the pod counted in (a terminating pod, nothing), unless
            // it was not one of the ReplicaSet's.
            let (active, ready) = counted(&pod);
            let mut moved = Some((-active, -ready));
            if let Some(c) = self.rs_cache.get_mut(&key)
                && !c.pods.remove(&id)
            {
                moved = None;
            }
            if o.kind == "StatefulSet" {
                self.statefulsets.forget_pod(&key, id);
            }
            self.mark_dirty_owner_by(key, true, moved);
        }
        self.count("podsDeleted");
        self.elastic_pod_gone(id);
        self.resize_pod_gone(id);
        if let Some(node_name) = &pod.node {
            self.elastic_node_freed(node_name);
            self.resize_node_freed(node_name);
        }
        self.sched_queue.resolved(id);
        self.eviction.pod_gone(id);
        self.sched_queue.forget_events(id);
        self.store.record(Topic::PodPlacement);
        self.cluster_changed();
    }

    /// Records a change of pod `id` in the change feed (see [`super::changes`]).
    pub fn pod_changed(&mut self, id: u64, type_: ChangeType) {
        if let Some(p) = self.pods.get(&id) {
            self.store
                .record_object("Pod", &p.namespace, &p.name, type_);
        }
    }

    /// Records a change of node `name` in the change feed (see [`super::changes`]); the
    /// DaemonSets sync.
    pub fn node_changed(&mut self, name: &str, type_: ChangeType) {
        self.store.record_object("Node", "", name, type_);
        self.daemonsets_dirty();
    }

    /// A pod was bound: the unschedulable pods waiting for such a pod (required pod affinity
    /// it matches, topology spread constraints that select it;
    /// [`kscale_controllers::scheduler::schedulable_after_pod_bound`]) get another attempt after
    /// the scheduler's initial back-off, as upstream's queueing hints for an assigned pod's Add
    /// move them.
    fn wake_after_bind(&mut self, bound: &kscale_controllers::scheduler::PodInfo) {
        let pods = &self.pods;
        let woken = self.sched_queue.take_woken_by_bind(|id| {
            pods.get(&id).is_some_and(|p| {
                kscale_controllers::scheduler::schedulable_after_pod_bound(&p.sched_info(), bound)
            })
        });
        if woken.is_empty() {
            return;
        }
        for id in woken {
            if let Some(p) = self.pods.get(&id) {
                self.sched_queue.add(p.priority, p.created, id);
            }
        }
        self.request_schedule(self.lat.unschedulable_backoff_ms);
    }

    /// Something freed or added capacity: unschedulable pods get another attempt after the
    /// scheduler's initial back-off.
    pub fn cluster_changed(&mut self) {
        self.store.record(Topic::Capacity);
        let ids = self.sched_queue.take_unschedulable();
        if ids.is_empty() {
            return;
        }
        for id in ids {
            if let Some(p) = self.pods.get(&id) {
                self.sched_queue.add(p.priority, p.created, id);
            }
        }
        self.request_schedule(self.lat.unschedulable_backoff_ms);
    }

    /// Time a pod spent between creation and Running, if it started.
    pub fn startup_latency(p: &Pod) -> Option<u64> {
        p.started_at.map(|s| s.since(p.created))
    }

    /// Current virtual time (helper for closures).
    pub fn time(&self) -> SimTime {
        self.now
    }
}

/// A pod's contribution to its ReplicaSet's (active, ready) counts.
fn counted(p: &Pod) -> (isize, isize) {
    (isize::from(p.is_active()), isize::from(p.is_ready()))
}

/// How the counts moved from `before` to `after`.
fn counts_moved(before: (isize, isize), after: (isize, isize)) -> (isize, isize) {
    (after.0 - before.0, after.1 - before.1)
}

/// A PriorityClass's value and whether its `preemptionPolicy` is `Never` (the API server
/// defaults it to `PreemptLowerPriority`).
fn class_of(v: &Value) -> (i32, bool) {
    (
        v.get("value").and_then(Value::as_i64).unwrap_or(0) as i32,
        v.get("preemptionPolicy").and_then(Value::as_str) == Some("Never"),
    )
}

/// The Priority admission plugin's copy of the class's preemption policy into the pod
/// (admission.go `admitPod`): a pod whose spec names a different policy is refused; a pod
/// without one gets the class's. Templates are shared, so only a pod that must change gets
/// its own copy.
fn with_preemption_policy(
    template: Arc<PodTemplate>,
    never: bool,
) -> Result<Arc<PodTemplate>, String> {
    let name = |n: bool| if n { "Never" } else { "PreemptLowerPriority" };
    match template
        .spec
        .get("preemptionPolicy")
        .and_then(Value::as_str)
    {
        Some(given) if given != name(never) => Err(format!(
            "the string value of PreemptionPolicy ({given}) must not be provided in pod spec; priority admission controller computed {} from the given PriorityClass name",
            name(never)
        )),
        _ if template.constraints.preemption_never == never => Ok(template),
        _ => {
            let mut t = (*template).clone();
            t.spec["preemptionPolicy"] = Value::from(name(never));
            Arc::make_mut(&mut t.constraints).preemption_never = never;
            Ok(Arc::new(t))
        }
    }
}
