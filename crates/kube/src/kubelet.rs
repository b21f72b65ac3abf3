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
//!
//! In-place resizes (the pod `resize` subresource, KEP-1287) are carried out as the twin's
//! kubelet does (`kscale_twin::sim::resize`): each container's status reports the resources
//! it runs with (`resources`, `allocatedResources`); when the spec asks for others, the
//! kubelet admits the resize if the node's allocatable holds it next to the other pods'
//! allocations ([`kscale_controllers::kubelet::admit_resize`]): `PodResizeInProgress` and a
//! `ResizeStarted` event, then, once the runtime has applied it
//! ([`PodLatency::resize_actuation_ms`]), the new resources in the status and
//! `ResizeCompleted`; otherwise `PodResizePending` (reason `Deferred`) and a `ResizeDeferred`
//! warning, tried again on every pass.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Container, Node, Pod, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference};
use kscale_cluster::{ApiError, Cluster, Event, EventType};
use kscale_controllers::kubelet as decisions;
use kscale_model::Resources;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

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
    /// Time from the kubelet's admission of an in-place resize to the runtime having
    /// applied it (the twin's `sim::resize::ACTUATION_MS`).
    pub resize_actuation_ms: u64,
}

#[derive(Debug, Clone)]
struct NodeState {
    index: u32,
    /// The node's allocatable cpu and memory (what resizes are admitted against).
    allocatable: Resources,
    /// The node's `InternalIP` address (its pods' `hostIP`), if it has one.
    address: Option<String>,
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
    /// Its node.
    node: String,
    /// The resources each container runs with (name, resources), as its status reports them.
    running: Vec<(String, Option<ResourceRequirements>)>,
    /// The requests the kubelet allocated to it on its node (the new ones once a resize is
    /// admitted).
    allocated: Resources,
    /// Its resize not carried out yet.
    resize: Option<LiveResize>,
}

/// A pod's resize as its kubelet handles it.
#[derive(Debug, Clone)]
struct LiveResize {
    /// The resources the spec asks for (name, resources).
    desired: Vec<(String, Option<ResourceRequirements>)>,
    /// The pod's `metadata.generation` of the request.
    generation: u64,
    /// `Some(message)` while deferred; `None` once admitted (in progress).
    deferred: Option<String>,
    /// In progress: when the runtime has applied it (run-clock ms).
    done_at_ms: u64,
    /// When it entered its state (the condition's `lastTransitionTime`).
    since: String,
}

impl LiveResize {
    /// Its condition as the kubelet's status manager writes it (`PodResizePending` with
    /// reason `Deferred`, or `PodResizeInProgress`).
    fn condition(&self) -> Value {
        match &self.deferred {
            Some(m) => json!({"type": "PodResizePending", "status": "True",
                "lastTransitionTime": self.since, "reason": "Deferred", "message": m,
                "observedGeneration": self.generation}),
            None => json!({"type": "PodResizeInProgress", "status": "True",
                "lastTransitionTime": self.since, "observedGeneration": self.generation}),
        }
    }
}

/// The resources each container of `pod`'s spec asks for, as (name, resources).
fn spec_resources(pod: &Pod) -> Vec<(String, Option<ResourceRequirements>)> {
    pod.spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .map(|c| (c.name.clone(), c.resources.clone()))
        .collect()
}

/// The cpu (milli) and memory (bytes) requests of containers' resources; a request defaults
/// to the limit, as the API server defaults it.
fn requests_of(containers: &[(String, Option<ResourceRequirements>)]) -> Resources {
    let get = |r: &ResourceRequirements, name: &str| -> Option<kscale_model::Quantity> {
        let q = r
            .requests
            .as_ref()
            .and_then(|m| m.get(name))
            .or_else(|| r.limits.as_ref().and_then(|m| m.get(name)))?;
        kscale_model::Quantity::parse(&q.0).ok()
    };
    let mut out = Resources::ZERO;
    for r in containers.iter().filter_map(|(_, r)| r.as_ref()) {
        out.cpu_milli += get(r, "cpu").map_or(0, |q| q.milli());
        out.memory += get(r, "memory").map_or(0, |q| q.value());
    }
    out
}

/// The resources container `c` of `pod` runs with: what its status reports (the kubelet's
/// `containerStatuses[].resources`, changed when a resize has been applied), else its spec's.
pub fn running_resources<'a>(pod: &'a Pod, c: &'a Container) -> Option<&'a ResourceRequirements> {
    pod.status
        .iter()
        .flat_map(|s| s.container_statuses.iter().flatten())
        .find(|s| s.name == c.name)
        .and_then(|s| s.resources.as_ref())
        .or(c.resources.as_ref())
}

/// A container status's `resources` and `allocatedResources` for `r`.
fn status_resources(v: &mut Value, r: Option<&ResourceRequirements>) {
    let r = r.cloned().unwrap_or_default();
    v["allocatedResources"] = json!(r.requests.clone().unwrap_or_default());
    v["resources"] = json!({"requests": r.requests.unwrap_or_default(),
                            "limits": r.limits.unwrap_or_default()});
}

/// `pod`'s conditions with its resize conditions replaced by `resize`'s (first, as
/// `generateAPIPodStatus` orders them).
fn with_resize_condition(pod: &Pod, resize: Option<&LiveResize>) -> Value {
    let out: Vec<Value> = resize
        .map(LiveResize::condition)
        .into_iter()
        .chain(
            pod.status
                .iter()
                .flat_map(|s| s.conditions.iter().flatten())
                .filter(|c| c.type_ != "PodResizePending" && c.type_ != "PodResizeInProgress")
                .map(|c| serde_json::to_value(c).unwrap_or_default()),
        )
        .collect();
    Value::Array(out)
}

/// The event messages' view of containers' resources: `{"name", "resources"}` each.
fn message_containers(containers: &[(String, Option<ResourceRequirements>)]) -> Vec<Value> {
    containers
        .iter()
        .map(|(name, r)| json!({"name": name, "resources": r.clone().unwrap_or_default()}))
        .collect()
}

/// Whether a container's `resizePolicy` asks for a restart for a resource that changes
/// between `old` and `new` (the twin's `restart_needed`).
fn restart_needed(
    c: &Container,
    old: Option<&ResourceRequirements>,
    new: Option<&ResourceRequirements>,
) -> bool {
    c.resize_policy.iter().flatten().any(|p| {
        p.restart_policy == "RestartContainer" && {
            let milli = |m: Option<
                &BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
            >| {
                m.and_then(|m| m.get(&p.resource_name))
                    .and_then(|q| kscale_model::Quantity::parse(&q.0).ok())
                    .map(|q| q.milli())
            };
            let pick = |r: Option<&ResourceRequirements>| {
                (
                    milli(r.and_then(|r| r.requests.as_ref())),
                    milli(r.and_then(|r| r.limits.as_ref())),
                )
            };
            pick(old) != pick(new)
        }
    })
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
    /// In-place resizes the runtime applied.
    pub resizes_completed: u64,
    /// Times a resize turned pending (`ResizeDeferred`).
    pub resizes_deferred: u64,
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
        let allocatable = node.status.as_ref().and_then(|s| s.allocatable.as_ref());
        let quantity = |k: &str| {
            allocatable
                .and_then(|a| a.get(k))
                .and_then(|q| kscale_model::Quantity::parse(&q.0).ok())
        };
        let allocatable = Resources {
            cpu_milli: quantity("cpu").map_or(0, |q| q.milli()),
            memory: quantity("memory").map_or(0, |q| q.value()),
            pods: 0,
        };
        let address = node
            .status
            .iter()
            .flat_map(|s| s.addresses.iter().flatten())
            .find(|a| a.type_ == "InternalIP")
            .map(|a| a.address.clone());
        self.nodes.insert(
            name.clone(),
            NodeState {
                index,
                allocatable,
                address,
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
            "conditions": plus_resize(conditions(&at, false, std::slice::from_ref(&first)), state.resize.as_ref()),
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

    /// The kubelet's handling of pod `uid`'s resources (`handlePodResourcesResize`): starts,
    /// defers, completes or drops its resize. Returns whether it wrote the pod's status (the
    /// pod's other transitions wait for the next pass, which reads the new status).
    fn resize_step(
        &mut self,
        kc: &mut KubeCluster,
        pod: &Pod,
        uid: &str,
        now: u64,
    ) -> Result<bool, ApiError> {
        let desired = spec_resources(pod);
        let state = &self.pods[uid];
        let (ns, name) = (state.ns.clone(), state.name.clone());
        let generation = pod.metadata.generation.unwrap_or(1).max(1) as u64;
        if let Some(r) = state.resize.as_ref().filter(|r| r.deferred.is_none()) {
            if now < r.done_at_ms {
                return Ok(false);
            }
            // The runtime has applied it: the status reports the new resources.
            let applied = r.desired.clone();
            let applied_generation = r.generation;
            let specs: BTreeMap<&str, &Container> = pod
                .spec
                .iter()
                .flat_map(|s| s.containers.iter())
                .map(|c| (c.name.as_str(), c))
                .collect();
            let containers: Vec<Value> = pod
                .status
                .iter()
                .flat_map(|s| s.container_statuses.iter().flatten())
                .map(|c| {
                    let mut v = serde_json::to_value(c).unwrap_or_default();
                    let new = applied
                        .iter()
                        .find(|(n, _)| *n == c.name)
                        .and_then(|(_, r)| r.as_ref());
                    let old = state
                        .running
                        .iter()
                        .find(|(n, _)| *n == c.name)
                        .and_then(|(_, r)| r.as_ref());
                    if specs
                        .get(c.name.as_str())
                        .is_some_and(|spec| restart_needed(spec, old, new))
                    {
                        v["restartCount"] = json!(c.restart_count + 1);
                    }
                    status_resources(&mut v, new);
                    v
                })
                .collect();
            let status = json!({"status": {
                "conditions": with_resize_condition(pod, None),
                "containerStatuses": containers
            }});
            if !patch_pod_status(kc, &ns, &name, &status)? {
                return Ok(false);
            }
            let state = self.pods.get_mut(uid).expect("seen");
            state.allocated = requests_of(&applied);
            state.running = applied.clone();
            state.resize = None;
            self.stats.resizes_completed += 1;
            kc.event(kubelet_event(
                &ns,
                &name,
                "ResizeCompleted",
                decisions::resize_message(
                    "Pod resize completed",
                    message_containers(&applied),
                    applied_generation,
                    None,
                ),
            ));
            return Ok(true);
        }
        if desired == state.running {
            // Nothing to do, or the spec went back to what runs (the pending resize is void).
            if state.resize.is_none() {
                return Ok(false);
            }
            let status = json!({"status": {"conditions": with_resize_condition(pod, None)}});
            if !patch_pod_status(kc, &ns, &name, &status)? {
                return Ok(false);
            }
            self.pods.get_mut(uid).expect("seen").resize = None;
            return Ok(true);
        }
        let node = state.node.clone();
        let allocatable = self
            .nodes
            .get(&node)
            .map_or(Resources::ZERO, |n| n.allocatable);
        let others = self
            .pods
            .iter()
            .filter(|(u, p)| u.as_str() != uid && p.node == node)
            .fold(Resources::ZERO, |a, (_, p)| a + p.allocated);
        let want = requests_of(&desired);
        let at = now_rfc3339();
        match decisions::admit_resize(allocatable, others, want) {
            Ok(()) => {
                let resize = LiveResize {
                    desired: desired.clone(),
                    generation,
                    deferred: None,
                    done_at_ms: now + self.lat.resize_actuation_ms,
                    since: at,
                };
                // Admitted: the allocation is the new one; the runtime still runs the old.
                let containers: Vec<Value> = pod
                    .status
                    .iter()
                    .flat_map(|s| s.container_statuses.iter().flatten())
                    .map(|c| {
                        let mut v = serde_json::to_value(c).unwrap_or_default();
                        let new = desired
                            .iter()
                            .find(|(n, _)| *n == c.name)
                            .and_then(|(_, r)| r.as_ref());
                        v["allocatedResources"] =
                            json!(new.and_then(|r| r.requests.clone()).unwrap_or_default());
                        v
                    })
                    .collect();
                let status = json!({"status": {
                    "conditions": with_resize_condition(pod, Some(&resize)),
                    "containerStatuses": containers
                }});
                if !patch_pod_status(kc, &ns, &name, &status)? {
                    return Ok(false);
                }
                let state = self.pods.get_mut(uid).expect("seen");
                state.allocated = want;
                state.resize = Some(resize);
                kc.event(kubelet_event(
                    &ns,
                    &name,
                    "ResizeStarted",
                    decisions::resize_message(
                        "Pod resize started",
                        message_containers(&desired),
                        generation,
                        None,
                    ),
                ));
                Ok(true)
            }
            Err(deferral) => {
                // The event when it turns pending or is a new request; the condition's
                // message follows the node (`SetPodResizePendingCondition`).
                let previous = state.resize.as_ref();
                let newly =
                    previous.is_none_or(|r| r.generation != generation || r.desired != desired);
                if !newly
                    && previous.and_then(|r| r.deferred.as_deref())
                        == Some(deferral.message.as_str())
                {
                    return Ok(false);
                }
                let resize = LiveResize {
                    desired: desired.clone(),
                    generation,
                    deferred: Some(deferral.message.clone()),
                    done_at_ms: 0,
                    since: if newly {
                        at
                    } else {
                        previous.map(|r| r.since.clone()).unwrap_or(at)
                    },
                };
                let status =
                    json!({"status": {"conditions": with_resize_condition(pod, Some(&resize))}});
                if !patch_pod_status(kc, &ns, &name, &status)? {
                    return Ok(false);
                }
                self.pods.get_mut(uid).expect("seen").resize = Some(resize);
                if newly {
                    self.stats.resizes_deferred += 1;
                    let mut event = kubelet_event(
                        &ns,
                        &name,
                        "ResizeDeferred",
                        decisions::resize_message(
                            &format!("Pod resize {}", deferral.reason),
                            message_containers(&desired),
                            generation,
                            Some(&deferral.message),
                        ),
                    );
                    event.type_ = EventType::Warning;
                    kc.event(event);
                }
                Ok(true)
            }
        }
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
                    node: node.clone(),
                    running: vec![],
                    allocated: requests_of(&spec_resources(pod)),
                    resize: None,
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
                    node: node.clone(),
                    running: spec_resources(pod),
                    allocated: requests_of(&spec_resources(pod)),
                    resize: None,
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
            if state.started && !state.evicted && self.resize_step(kc, pod, &uid, now)? {
                changed += 1;
                continue;
            }
            let state = self.pods.get_mut(&uid).expect("seen");
            let node_state = self.nodes.get_mut(&node).expect("our node");
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
                    "conditions": plus_resize(conditions(&at, true, &[]), state.resize.as_ref()),
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
                        "conditions": plus_resize(conditions(&started, ready, &state.containers), state.resize.as_ref()),
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
                    let mut v = serde_json::json!({
                        "name": c.name, "image": c.image, "imageID": "",
                        "containerID": format!("containerd://{uid}-{}", c.name),
                        "ready": ready, "started": true, "restartCount": 0,
                        "state": {"running": {"startedAt": started}}
                    });
                    status_resources(&mut v, c.resources.as_ref());
                    v
                })
                .collect();
            let mut status = serde_json::json!({"status": {
                "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "startTime": started,
                "conditions": conditions(&started, ready, &state.containers),
                "containerStatuses": containers
            }});
            if let Some(host) = &node_state.address {
                status["status"]["hostIP"] = json!(host);
                status["status"]["hostIPs"] = json!([{"ip": host}]);
            }
            if patch_pod_status(kc, &ns, &name, &status)? {
                state.started = true;
                // The containers start with the spec's resources of now (a resize accepted
                // before the start is no resize for the runtime).
                state.running = spec_resources(pod);
                state.allocated = requests_of(&state.running);
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

/// A pod's five conditions in the order the kubelet writes them (`kubelet_pods.go`
/// `generateAPIPodStatus`): Ready and ContainersReady as `ready` says (else
/// `ContainersNotReady` naming `unready`).
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
        readiness("Ready"),
        readiness("ContainersReady"),
        cond("PodScheduled")
    ])
}

/// `conditions` with the resize's condition, if any, first (`generateAPIPodStatus` adds the
/// resize conditions before the ones it generates).
fn plus_resize(mut conditions: Value, resize: Option<&LiveResize>) -> Value {
    if let (Some(list), Some(r)) = (conditions.as_array_mut(), resize) {
        list.insert(0, r.condition());
    }
    conditions
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
