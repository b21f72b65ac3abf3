//! kscale's kubelets on a real control plane: the nodes kscale registers, their Lease
//! heartbeats, and the life of the pods the real scheduler binds to them.
//!
//! A pod bound to one of these nodes starts after the twin's start-up chain (bind seen by the
//! kubelet, sandbox, image pull unless the node has the image, container start: the same
//! defaults and scenario overrides as `kscale_twin::latency::Latencies`), then reports
//! `Running` and `Ready` with container statuses, as the kubelet's status manager writes them.
//! A pod marked for deletion (scale-down, preemption, eviction) is removed with a final
//! zero-grace delete once its containers have stopped (the shutdown delay, capped by the
//! grace period), as the kubelet confirms a graceful deletion. Leases are renewed every 10 s
//! (kubelet `nodeLeaseDurationSeconds` 40 × `renewIntervalFraction` 0.25), so the
//! node-lifecycle controller keeps the nodes Ready.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference};
use kscale_cluster::{ApiError, Cluster, Event, EventType};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};

use crate::KubeCluster;

/// Lease renewal period: 10 s (kubelet: 40 s lease × 0.25).
pub const LEASE_RENEW_MS: u64 = 10_000;
/// Lease duration written into each Lease: 40 s (kubelet `nodeLeaseDurationSeconds`).
pub const LEASE_DURATION_S: i32 = 40;
/// CrashLoopBackOff's first back-off: 10 s (kubelet `backOffPeriod`,
/// `pkg/kubelet/kubelet.go`), doubling per restart.
pub const BACKOFF_INITIAL_MS: u64 = 10_000;
/// CrashLoopBackOff's longest back-off: 5 min (`MaxContainerBackOff`).
pub const BACKOFF_MAX_MS: u64 = 300_000;

/// The start-up and shutdown delays applied to pods, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PodLatency {
    /// Bind API call + kubelet watch delivery.
    pub bind_to_kubelet_ms: u64,
    /// Sandbox creation + CNI.
    pub sandbox_ms: u64,
    /// Image pull when the node does not have the image yet.
    pub image_pull_ms: u64,
    /// Container create + start.
    pub container_start_ms: u64,
    /// Time a container takes to exit after SIGTERM (capped by the grace period).
    pub shutdown_ms: u64,
}

#[derive(Debug, Clone)]
struct NodeState {
    index: u32,
    images: BTreeSet<String>,
    lease_renewed_ms: Option<u64>,
}

#[derive(Debug, Clone)]
struct PodState {
    ready_at_ms: u64,
    started: bool,
    deleting_since_ms: Option<u64>,
    /// Namespace, name and container names, for the `Killing` events of a pod removed from
    /// the API without a graceful deletion (grace period 0: the kubelet still stops it).
    ns: String,
    name: String,
    containers: Vec<String>,
    /// The largest `readinessProbe.initialDelaySeconds` of its containers, in ms: the pod
    /// turns Ready that long after its containers start (as in the twin).
    ready_delay_ms: u64,
    /// When its containers started (run-clock ms), while it is not yet Ready.
    not_ready_since: Option<u64>,
    /// Restarts of its first container (OOM kills).
    restarts: u32,
    /// While in CrashLoopBackOff: when the container runs again (back-off + start).
    restart_at_ms: Option<u64>,
    /// Evicted ([`Kubelets::evict`]): its containers are stopped for good.
    evicted: bool,
    /// Its number among the pods these kubelets saw (the OOM killer's victim pid).
    number: u64,
}

/// What the kubelets did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KubeletStats {
    /// Pods started (reported Running and Ready).
    pub started: u64,
    /// Pods whose graceful deletion was completed.
    pub deleted: u64,
    /// Nodes registered.
    pub nodes_registered: u64,
    /// Nodes removed ([`Kubelets::deregister`]).
    pub nodes_removed: u64,
    /// Containers OOM-killed ([`Kubelets::oom_kill`]).
    pub oom_kills: u64,
    /// Pods evicted for memory pressure ([`Kubelets::evict`]).
    pub evictions: u64,
}

/// The kubelets of every node kscale registered.
#[derive(Debug)]
pub struct Kubelets {
    nodes: BTreeMap<String, NodeState>,
    pods: BTreeMap<String, PodState>,
    lat: PodLatency,
    next_ip: u32,
    stats: KubeletStats,
    /// Pods seen so far (numbers them).
    seen: u64,
    /// Application start-up time (ms) per workload (namespace, lower-case kind, name): added to
    /// its pods' readiness delay ([`Kubelets::set_startup_delays`]).
    startup: BTreeMap<(String, String, String), u64>,
}

/// The wall clock as the API's `Time` fields carry it (RFC 3339, whole seconds).
fn now_rfc3339() -> String {
    let now = jiff::Timestamp::now();
    now.round(jiff::Unit::Second).unwrap_or(now).to_string()
}

/// The workload a pod belongs to, as (namespace, lower-case kind, name): a ReplicaSet's pod
/// counts for its Deployment (the ReplicaSet is named `<deployment>-<pod-template-hash>`), any
/// other controller's for that controller, a bare pod for itself (the twin's `workload_parts`).
pub fn workload_of(pod: &Pod) -> Option<(String, String, String)> {
    let ns = pod
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let owner = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true));
    Some(match owner {
        Some(o) if o.kind == "ReplicaSet" => {
            let hash = pod
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("pod-template-hash"));
            match hash.and_then(|h| o.name.strip_suffix(h.as_str())?.strip_suffix('-')) {
                Some(d) => (ns, "deployment".into(), d.to_string()),
                None => (ns, "replicaset".into(), o.name.clone()),
            }
        }
        Some(o) => (ns, o.kind.to_ascii_lowercase(), o.name.clone()),
        None => (ns, "pod".into(), pod.metadata.name.clone()?),
    })
}

/// An Event the kubelet records about a pod (source `kubelet`, upstream's wording).
fn kubelet_event(ns: &str, pod: &str, reason: &str, message: String) -> Event {
    Event {
        type_: EventType::Normal,
        reason: reason.into(),
        kind: "Pod".into(),
        namespace: ns.into(),
        name: pod.into(),
        message,
        source: "kubelet".into(),
    }
}

impl Kubelets {
    /// Kubelets with these delays and no node yet.
    pub fn new(lat: PodLatency) -> Self {
        Kubelets {
            nodes: BTreeMap::new(),
            pods: BTreeMap::new(),
            lat,
            next_ip: 2,
            stats: KubeletStats::default(),
            seen: 0,
            startup: BTreeMap::new(),
        }
    }

    /// The application start-up time of each workload's pods, in ms, keyed by (namespace,
    /// lower-case kind: `deployment`, `statefulset`, `replicaset`, ..., name): a started pod
    /// turns Ready that much later than its readiness probe alone says (after every restart
    /// too), as in the twin (the load entries' `startupTime`).
    pub fn set_startup_delays(&mut self, delays: BTreeMap<(String, String, String), u64>) {
        self.startup = delays;
    }

    /// What they did so far.
    pub fn stats(&self) -> KubeletStats {
        self.stats
    }

    /// The names of the nodes kscale registered.
    pub fn node_names(&self) -> impl Iterator<Item = &str> {
        self.nodes.keys().map(String::as_str)
    }

    /// Registers a node (its status as given: capacity, allocatable, Ready) and its Lease.
    pub fn register(&mut self, kc: &mut KubeCluster, node: &Node) -> Result<(), ApiError> {
        let mut node = node.clone();
        let name = node.metadata.name.clone().unwrap_or_default();
        node.metadata = ObjectMeta {
            name: Some(name.clone()),
            labels: node.metadata.labels.take(),
            annotations: node.metadata.annotations.take(),
            ..Default::default()
        };
        kc.create(&node)?;
        self.stats.nodes_registered += 1;
        // A node's pod subnet (10.244.<index>.0/24): the registration order, never reused.
        let index = (self.stats.nodes_registered - 1) as u32;
        self.nodes.insert(
            name.clone(),
            NodeState {
                index,
                images: BTreeSet::new(),
                lease_renewed_ms: None,
            },
        );
        self.renew_lease(kc, &name)
    }

    /// Removes a node kscale registered, as the cloud's node lifecycle does when its instance
    /// is terminated: its kubelet stops (no more Lease renewals or pod updates) and its Node is
    /// deleted (the Lease goes with it, by owner reference; pods still bound to it are the pod
    /// garbage collector's).
    pub fn deregister(&mut self, kc: &mut KubeCluster, name: &str) -> Result<(), ApiError> {
        if self.nodes.remove(name).is_none() {
            return Ok(());
        }
        self.stats.nodes_removed += 1;
        match kc.delete::<Node>("", name, None) {
            Ok(()) | Err(ApiError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn renew_lease(&mut self, kc: &mut KubeCluster, node: &str) -> Result<(), ApiError> {
        let now = MicroTime(jiff::Timestamp::now());
        let leases: Api<Lease> = Api::namespaced(kc.client().clone(), "kube-node-lease");
        let what = format!("renew the Lease of node {node}");
        let first = self
            .nodes
            .get(node)
            .is_none_or(|n| n.lease_renewed_ms.is_none());
        if first {
            let uid = kc
                .get::<Node>("", node)?
                .and_then(|n| n.metadata.uid)
                .unwrap_or_default();
            let lease: Lease = serde_json::from_value(serde_json::json!({
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": node, "namespace": "kube-node-lease",
                             "labels": {crate::RUN_LABEL: kc.run()}},
                "spec": {"holderIdentity": node, "leaseDurationSeconds": LEASE_DURATION_S}
            }))
            .expect("a Lease");
            let mut lease = lease;
            lease.metadata.owner_references = Some(vec![OwnerReference {
                api_version: "v1".into(),
                kind: "Node".into(),
                name: node.into(),
                uid,
                ..Default::default()
            }]);
            lease.spec.get_or_insert_with(Default::default).renew_time = Some(now.clone());
            kc.block_on(leases.create(&PostParams::default(), &lease))
                .map_err(|e| crate::api_error(e, &what))?;
        } else {
            let patch = serde_json::json!({"spec": {"renewTime": now, "holderIdentity": node}});
            kc.block_on(leases.patch(node, &PatchParams::default(), &Patch::Merge(&patch)))
                .map_err(|e| crate::api_error(e, &what))?;
        }
        let now_ms = kc.now_ms();
        if let Some(n) = self.nodes.get_mut(node) {
            n.lease_renewed_ms = Some(now_ms);
        }
        Ok(())
    }

    /// The kernel OOM-kills the first container of pod `ns/name` (its memory went over its
    /// limit): the container is terminated with reason `OOMKilled` (exit code 137), the pod
    /// turns not Ready and waits in `CrashLoopBackOff` for 10 s doubling with each restart up
    /// to 5 min (kubelet `backOffPeriod` / `MaxContainerBackOff`), then runs again. The same
    /// events as the twin's (`OOMKilled`, `BackOff`, then `Started`); `why` says what ran out
    /// (the container's limit, or the node's memory). Returns whether it was killed: a pod not
    /// started, being deleted or already in back-off is left alone.
    pub fn oom_kill(
        &mut self,
        kc: &mut KubeCluster,
        ns: &str,
        name: &str,
        why: &str,
    ) -> Result<bool, ApiError> {
        let Some(state) = self
            .pods
            .values_mut()
            .find(|p| p.ns == ns && p.name == name)
        else {
            return Ok(false);
        };
        if !state.started || state.deleting_since_ms.is_some() || state.restart_at_ms.is_some() {
            return Ok(false);
        }
        let Some(pod) = kc.get::<Pod>(ns, name)? else {
            return Ok(false);
        };
        let now = kc.now_ms();
        let restarts = state.restarts + 1;
        let backoff_ms = (BACKOFF_INITIAL_MS << (restarts - 1).min(10)).min(BACKOFF_MAX_MS);
        let first = state.containers.first().cloned().unwrap_or_default();
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let at = now_rfc3339();
        let containers: Vec<serde_json::Value> = pod
            .status
            .iter()
            .flat_map(|s| s.container_statuses.iter().flatten())
            .map(|c| {
                let mut v = serde_json::to_value(c).unwrap_or_default();
                if c.name == first {
                    let started_at = c
                        .state
                        .as_ref()
                        .and_then(|s| s.running.as_ref())
                        .and_then(|r| r.started_at.clone());
                    v["lastState"] = serde_json::json!({"terminated": {
                        "exitCode": 137, "reason": "OOMKilled", "startedAt": started_at,
                        "finishedAt": at, "containerID": c.container_id}});
                    v["state"] = serde_json::json!({"waiting": {"reason": "CrashLoopBackOff",
                        "message": format!("back-off {}s restarting failed container={first} pod={name}_{ns}({uid})",
                                           backoff_ms / 1000)}});
                    v["restartCount"] = serde_json::json!(restarts);
                    v["ready"] = serde_json::json!(false);
                    v["started"] = serde_json::json!(false);
                }
                v
            })
            .collect();
        let status = serde_json::json!({"status": {
            "conditions": conditions(&at, false, std::slice::from_ref(&first)),
            "containerStatuses": containers
        }});
        if !patch_pod_status(kc, ns, name, &status)? {
            return Ok(false);
        }
        state.restarts = restarts;
        state.not_ready_since = None;
        state.restart_at_ms = Some(now + backoff_ms + self.lat.container_start_ms);
        self.stats.oom_kills += 1;
        let mut warning = kubelet_event(
            ns,
            name,
            "OOMKilled",
            format!("Container {first} was OOM-killed ({why}); restart {restarts}"),
        );
        warning.type_ = EventType::Warning;
        kc.event(warning);
        let mut backoff = kubelet_event(
            ns,
            name,
            "BackOff",
            format!("Back-off restarting failed container {first} in pod {name}"),
        );
        backoff.type_ = EventType::Warning;
        kc.event(backoff);
        Ok(true)
    }

    /// Pod `ns/name`'s number among the pods these kubelets saw (1 for the first).
    pub fn pod_number(&self, ns: &str, name: &str) -> Option<u64> {
        self.pods
            .values()
            .find(|p| p.ns == ns && p.name == name)
            .map(|p| p.number)
    }

    /// Whether pod `ns/name`'s container waits in its restart back-off (no process to kill).
    pub fn in_backoff(&self, ns: &str, name: &str) -> bool {
        self.pods
            .values()
            .any(|p| p.ns == ns && p.name == name && p.restart_at_ms.is_some())
    }

    /// Evicts pod `ns/name` for memory pressure with the eviction manager's `message`: its
    /// containers are killed at once, the pod is `Failed` with reason `Evicted` (it stays, as
    /// the kubelet leaves evicted pods to the pod garbage collector; its ReplicaSet replaces
    /// it), and the `Evicted` Event is recorded. Returns whether it was evicted.
    pub fn evict(
        &mut self,
        kc: &mut KubeCluster,
        ns: &str,
        name: &str,
        message: &str,
    ) -> Result<bool, ApiError> {
        let Some(state) = self
            .pods
            .values_mut()
            .find(|p| p.ns == ns && p.name == name)
        else {
            return Ok(false);
        };
        if state.evicted || state.deleting_since_ms.is_some() {
            return Ok(false);
        }
        let Some(pod) = kc.get::<Pod>(ns, name)? else {
            return Ok(false);
        };
        let at = now_rfc3339();
        let containers: Vec<serde_json::Value> = pod
            .status
            .iter()
            .flat_map(|s| s.container_statuses.iter().flatten())
            .map(|c| {
                let started_at = c
                    .state
                    .as_ref()
                    .and_then(|s| s.running.as_ref())
                    .and_then(|r| r.started_at.clone());
                let mut v = serde_json::to_value(c).unwrap_or_default();
                v["state"] = serde_json::json!({"terminated": {"exitCode": 137,
                    "reason": "ContainerStatusUnknown", "startedAt": started_at, "finishedAt": at,
                    "containerID": c.container_id}});
                v["ready"] = serde_json::json!(false);
                v["started"] = serde_json::json!(false);
                v
            })
            .collect();
        let status = serde_json::json!({"status": {
            "phase": "Failed", "reason": "Evicted", "message": message,
            "conditions": conditions(&at, false, &state.containers),
            "containerStatuses": containers
        }});
        if !patch_pod_status(kc, ns, name, &status)? {
            return Ok(false);
        }
        state.evicted = true;
        state.started = false;
        state.not_ready_since = None;
        state.restart_at_ms = None;
        self.stats.evictions += 1;
        let mut event = kubelet_event(ns, name, "Evicted", message.to_string());
        event.type_ = EventType::Warning;
        kc.event(event);
        Ok(true)
    }

    /// One pass: renews due Leases, starts pods whose start-up time has come, completes
    /// graceful deletions. Returns the number of pods it changed.
    pub fn tick(&mut self, kc: &mut KubeCluster) -> Result<usize, ApiError> {
        let now = kc.now_ms();
        let due: Vec<String> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.lease_renewed_ms.is_none_or(|t| now >= t + LEASE_RENEW_MS))
            .map(|(k, _)| k.clone())
            .collect();
        for node in due {
            self.renew_lease(kc, &node)?;
        }
        let pods = kc.list::<Pod>(None, "")?;
        let mut live = BTreeSet::new();
        let mut changed = 0;
        let mut pulls: Vec<String> = Vec::new();
        for pod in &pods {
            let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.clone()) else {
                continue;
            };
            if !self.nodes.contains_key(&node) {
                continue;
            }
            let uid = pod.metadata.uid.clone().unwrap_or_default();
            live.insert(uid.clone());
            let ns = pod.metadata.namespace.clone().unwrap_or_default();
            let name = pod.metadata.name.clone().unwrap_or_default();
            if pod.metadata.deletion_timestamp.is_some() {
                let state = self.pods.entry(uid.clone()).or_insert(PodState {
                    ready_at_ms: now,
                    started: false,
                    deleting_since_ms: None,
                    ns: ns.clone(),
                    name: name.clone(),
                    containers: vec![],
                    ready_delay_ms: 0,
                    not_ready_since: None,
                    restarts: 0,
                    restart_at_ms: None,
                    evicted: false,
                    number: 0,
                });
                if state.deleting_since_ms.is_none() && state.started {
                    for c in pod.spec.iter().flat_map(|s| s.containers.iter()) {
                        kc.event(kubelet_event(
                            &ns,
                            &name,
                            "Killing",
                            format!("Stopping container {}", c.name),
                        ));
                    }
                }
                let since = *state.deleting_since_ms.get_or_insert(now);
                let grace_ms = pod
                    .metadata
                    .deletion_grace_period_seconds
                    .map(|g| g.max(0) as u64 * 1000)
                    .unwrap_or(30_000);
                let stop_ms = if state.started {
                    self.lat.shutdown_ms.min(grace_ms)
                } else {
                    0
                };
                if now >= since + stop_ms {
                    let api: Api<Pod> = Api::namespaced(kc.client().clone(), &ns);
                    let dp = DeleteParams::default().grace_period(0);
                    match kc.block_on(api.delete(&name, &dp)) {
                        Ok(_) => {
                            self.stats.deleted += 1;
                            changed += 1;
                        }
                        Err(kube::Error::Api(s)) if s.code == 404 => {}
                        Err(e) => {
                            return Err(crate::api_error(e, &format!("delete pod {ns}/{name}")));
                        }
                    }
                }
                continue;
            }
            let running = pod
                .status
                .as_ref()
                .and_then(|s| s.phase.as_deref())
                .is_some_and(|p| p == "Running");
            let lat = self.lat;
            let startup_ms = workload_of(pod)
                .and_then(|k| self.startup.get(&k).copied())
                .unwrap_or(0);
            let node_state = self.nodes.get_mut(&node).expect("our node");
            let seen = &mut self.seen;
            let state = self.pods.entry(uid.clone()).or_insert_with(|| {
                *seen += 1;
                let images: Vec<String> = pod
                    .spec
                    .iter()
                    .flat_map(|s| s.containers.iter())
                    .filter_map(|c| c.image.clone())
                    .collect();
                let missing: Vec<String> = images
                    .iter()
                    .filter(|i| {
                        !node_state.images.contains(*i) && !kscale_model::images::preloaded(i)
                    })
                    .cloned()
                    .collect();
                let pull = !missing.is_empty();
                pulls.extend(missing);
                node_state.images.extend(images);
                PodState {
                    ready_at_ms: now
                        + lat.bind_to_kubelet_ms
                        + lat.sandbox_ms
                        + if pull { lat.image_pull_ms } else { 0 }
                        + lat.container_start_ms,
                    started: running,
                    deleting_since_ms: None,
                    ns: ns.clone(),
                    name: name.clone(),
                    containers: pod
                        .spec
                        .iter()
                        .flat_map(|s| s.containers.iter())
                        .map(|c| c.name.clone())
                        .collect(),
                    ready_delay_ms: pod
                        .spec
                        .iter()
                        .flat_map(|s| s.containers.iter())
                        .filter_map(|c| c.readiness_probe.as_ref()?.initial_delay_seconds)
                        .max()
                        .map_or(0, |d| d.max(0) as u64 * 1000)
                        + startup_ms,
                    not_ready_since: None,
                    restarts: 0,
                    restart_at_ms: None,
                    evicted: false,
                    number: *seen,
                }
            });
            for image in pulls.drain(..) {
                kc.event(kubelet_event(
                    &ns,
                    &name,
                    "Pulling",
                    format!("Pulling image \"{image}\""),
                ));
            }
            if let Some(since) = state.not_ready_since
                && now >= since + state.ready_delay_ms
            {
                // The readiness probe's initial delay has passed: Ready.
                let at = now_rfc3339();
                let containers: Vec<serde_json::Value> = pod
                    .status
                    .iter()
                    .flat_map(|s| s.container_statuses.iter().flatten())
                    .map(|c| {
                        let mut v = serde_json::to_value(c).unwrap_or_default();
                        v["ready"] = serde_json::json!(true);
                        v
                    })
                    .collect();
                let status = serde_json::json!({"status": {
                    "conditions": conditions(&at, true, &[]),
                    "containerStatuses": containers
                }});
                if patch_pod_status(kc, &ns, &name, &status)? {
                    state.not_ready_since = None;
                    changed += 1;
                }
                continue;
            }
            if state.evicted {
                continue;
            }
            if let Some(at) = state.restart_at_ms {
                if now >= at {
                    // The back-off is over: the container runs again, Ready after its
                    // readiness delay (as the twin's `container_restarted`).
                    let ready = state.ready_delay_ms == 0;
                    let started = now_rfc3339();
                    let first = state.containers.first().cloned().unwrap_or_default();
                    let containers: Vec<serde_json::Value> = pod
                        .status
                        .iter()
                        .flat_map(|s| s.container_statuses.iter().flatten())
                        .map(|c| {
                            let mut v = serde_json::to_value(c).unwrap_or_default();
                            if c.name == first {
                                v["state"] = serde_json::json!({"running": {"startedAt": started}});
                                v["started"] = serde_json::json!(true);
                                v["ready"] = serde_json::json!(ready);
                            }
                            v
                        })
                        .collect();
                    let status = serde_json::json!({"status": {
                        "conditions": conditions(&started, ready, &state.containers),
                        "containerStatuses": containers
                    }});
                    if patch_pod_status(kc, &ns, &name, &status)? {
                        state.restart_at_ms = None;
                        if !ready {
                            state.not_ready_since = Some(now);
                        }
                        changed += 1;
                        kc.event(kubelet_event(
                            &ns,
                            &name,
                            "Started",
                            format!("Started container {first}"),
                        ));
                    }
                }
                continue;
            }
            if state.started || now < state.ready_at_ms {
                continue;
            }
            let ready = state.ready_delay_ms == 0;
            let ip = format!("10.244.{}.{}", node_state.index, self.next_ip % 250 + 2);
            self.next_ip += 1;
            let started = now_rfc3339();
            let containers: Vec<serde_json::Value> = pod
                .spec
                .iter()
                .flat_map(|s| s.containers.iter())
                .map(|c| {
                    serde_json::json!({
                        "name": c.name, "image": c.image, "imageID": "",
                        "containerID": format!("containerd://{uid}-{}", c.name),
                        "ready": ready, "started": true, "restartCount": 0,
                        "state": {"running": {"startedAt": started}}
                    })
                })
                .collect();
            let status = serde_json::json!({"status": {
                "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "startTime": started,
                "conditions": conditions(&started, ready, &state.containers),
                "containerStatuses": containers
            }});
            if patch_pod_status(kc, &ns, &name, &status)? {
                state.started = true;
                if !ready {
                    state.not_ready_since = Some(now);
                }
                self.stats.started += 1;
                changed += 1;
                for c in pod.spec.iter().flat_map(|s| s.containers.iter()) {
                    kc.event(kubelet_event(
                        &ns,
                        &name,
                        "Started",
                        format!("Started container {}", c.name),
                    ));
                }
            }
        }
        // A started pod gone from the API without passing through a graceful deletion
        // (deleted with grace period 0, e.g. a preemption victim whose
        // terminationGracePeriodSeconds is 0): the kubelet still stops its containers.
        for (_, gone) in self.pods.extract_if(.., |uid, st: &mut PodState| {
            !live.contains(uid) && st.started && st.deleting_since_ms.is_none()
        }) {
            for c in &gone.containers {
                kc.event(kubelet_event(
                    &gone.ns,
                    &gone.name,
                    "Killing",
                    format!("Stopping container {c}"),
                ));
            }
        }
        self.pods.retain(|uid, _| live.contains(uid));
        Ok(changed)
    }
}

/// A pod's five conditions as the kubelet's status manager writes them: Ready and
/// ContainersReady as `ready` says (else `ContainersNotReady` naming `unready`).
fn conditions(at: &str, ready: bool, unready: &[String]) -> serde_json::Value {
    let cond = |t: &str| serde_json::json!({"type": t, "status": "True", "lastTransitionTime": at});
    let readiness = |t: &str| {
        if ready {
            cond(t)
        } else {
            serde_json::json!({"type": t, "status": "False", "lastTransitionTime": at,
                "reason": "ContainersNotReady",
                "message": format!("containers with unready status: [{}]", unready.join(" "))})
        }
    };
    serde_json::json!([
        cond("PodReadyToStartContainers"),
        cond("Initialized"),
        readiness("ContainersReady"),
        readiness("Ready"),
        cond("PodScheduled")
    ])
}

/// Merge-patches a pod's status: Ok(true) when written, Ok(false) when the pod is gone or
/// changed meanwhile (the next tick sees it again).
fn patch_pod_status(
    kc: &mut KubeCluster,
    ns: &str,
    name: &str,
    status: &serde_json::Value,
) -> Result<bool, ApiError> {
    let api: Api<Pod> = Api::namespaced(kc.client().clone(), ns);
    match kc.block_on(api.patch_status(name, &PatchParams::default(), &Patch::Merge(status))) {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(false),
        Err(e) => Err(crate::api_error(
            e,
            &format!("update pod {ns}/{name} status"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(owner: Option<(&str, &str)>, hash: Option<&str>) -> Pod {
        let mut v = serde_json::json!({"metadata": {"name": "p", "namespace": "shop"}});
        if let Some((kind, name)) = owner {
            v["metadata"]["ownerReferences"] = serde_json::json!([{"apiVersion": "apps/v1",
                "kind": kind, "name": name, "uid": "u", "controller": true}]);
        }
        if let Some(h) = hash {
            v["metadata"]["labels"] = serde_json::json!({"pod-template-hash": h});
        }
        serde_json::from_value(v).unwrap()
    }

    fn key(ns: &str, kind: &str, name: &str) -> Option<(String, String, String)> {
        Some((ns.into(), kind.into(), name.into()))
    }

    /// A pod's workload, as the twin's `workload_parts` names it.
    #[test]
    fn a_pods_workload_is_its_deployment_or_its_controller() {
        let rs = Some(("ReplicaSet", "web-7d4b9c"));
        assert_eq!(
            workload_of(&pod(rs, Some("7d4b9c"))),
            key("shop", "deployment", "web")
        );
        // A ReplicaSet whose name does not end in the pod's hash is its own workload.
        assert_eq!(
            workload_of(&pod(rs, Some("other"))),
            key("shop", "replicaset", "web-7d4b9c")
        );
        assert_eq!(
            workload_of(&pod(rs, None)),
            key("shop", "replicaset", "web-7d4b9c")
        );
        assert_eq!(
            workload_of(&pod(Some(("StatefulSet", "db")), None)),
            key("shop", "statefulset", "db")
        );
        assert_eq!(workload_of(&pod(None, None)), key("shop", "pod", "p"));
    }
}
