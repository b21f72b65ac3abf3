//! What the scheduler sees of pods, nodes and PodDisruptionBudgets, and the outcome of one
//! scheduling attempt: the parts of upstream `pkg/scheduler/framework/types.go` kscale models
//! (`PodInfo`, `NodeInfo`, `NodeInfo.NonZeroRequested`), `framework.MaxNodeScore`
//! (`pkg/scheduler/framework/interface.go`) and the non-zero request defaults of
//! `pkg/scheduler/util/pod_resources.go`.

use std::sync::Arc;

use kscale_model::labels::Labels;
use kscale_model::{LabelSelector, NodeSelectorTerm, Resources, SimTime, Toleration};

use super::plugins::inter_pod_affinity::PodAffinity;
use super::plugins::pod_topology_spread::SpreadConstraint;

/// Placement constraints of a pod, shared by all pods of one template.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlacementConstraints {
    /// `spec.tolerations`.
    pub tolerations: Vec<Toleration>,
    /// `spec.nodeSelector`: every pair must be a node label.
    pub node_selector: Labels,
    /// `requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms` (ORed); empty = none.
    pub required_node_affinity: Vec<NodeSelectorTerm>,
    /// `spec.preemptionPolicy: Never`.
    pub preemption_never: bool,
    /// `spec.topologySpreadConstraints` (the PodTopologySpread plugin).
    pub topology_spread: Vec<SpreadConstraint>,
    /// `spec.affinity.podAffinity` / `podAntiAffinity` (the InterPodAffinity plugin).
    pub pod_affinity: PodAffinity,
}

/// A pod as the scheduler sees it (pending, nominated, or bound to a node).
#[derive(Clone, Debug, PartialEq)]
pub struct PodInfo {
    /// Opaque stable id chosen by the backend; victims are reported by id.
    pub id: u64,
    /// Namespace (PDBs match within a namespace).
    pub namespace: Arc<str>,
    /// Name (for messages).
    pub name: Arc<str>,
    /// Pod labels.
    pub labels: Arc<Labels>,
    /// Effective pod request (max of init / sum of containers, plus overhead); `pods` is 1.
    pub requests: Resources,
    /// Resolved priority (from the PriorityClass, or 0).
    pub priority: i32,
    /// Start time if running, else creation time (preemption breaks ties on it).
    pub start_time: SimTime,
    /// True once the pod has a deletion timestamp (it still holds its resources).
    pub terminating: bool,
    /// Placement constraints.
    pub constraints: Arc<PlacementConstraints>,
    /// `helper.DefaultSelector` (`pkg/scheduler/framework/plugins/helper/spread.go`): the
    /// selectors of the Services, ReplicationControllers, ReplicaSets and StatefulSets that
    /// select the pod, ANDed, which PodTopologySpread's system default constraints spread it
    /// by when it has no constraints of its own. Set by the backend for the pod being
    /// scheduled; `None` (or empty) for none, and for pods only counted or simulated.
    pub default_selector: Option<Arc<LabelSelector>>,
}

/// A node as the scheduler sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeInfo {
    /// Node name.
    pub name: Arc<str>,
    /// Node labels (shared: a simulation's copies of a node share them).
    pub labels: Arc<Labels>,
    /// Node taints (shared as the labels are).
    pub taints: Arc<Vec<kscale_model::Taint>>,
    /// `spec.unschedulable` (cordoned).
    pub unschedulable: bool,
    /// Ready condition; not-ready nodes are filtered out (as by the node.kubernetes.io/not-ready taint).
    pub ready: bool,
    /// `status.allocatable` (cpu, memory, pods).
    pub allocatable: Resources,
    /// Sum of the requests of `pods` (pods component = number of pods).
    pub requested: Resources,
    /// Pods bound to this node, including terminating ones.
    pub pods: Vec<PodInfo>,
    /// Pods nominated to this node by an earlier preemption and not yet bound.
    pub nominated: Vec<PodInfo>,
}

/// A PodDisruptionBudget as preemption needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct PdbInfo {
    /// Namespace of the PDB.
    pub namespace: String,
    /// Its selector.
    pub selector: LabelSelector,
    /// `status.disruptionsAllowed`.
    pub disruptions_allowed: i32,
}

/// Outcome of one scheduling attempt for one pod.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Bind the pod to `nodes[node]`.
    Bind {
        /// Index into the `nodes` slice given to [`Scheduler::schedule`](crate::scheduler::Scheduler::schedule).
        node: usize,
    },
    /// No node fits; preempt `victims` on `nodes[node]` and nominate the pod there.
    Preempt {
        /// Index into the `nodes` slice.
        node: usize,
        /// Ids of the pods to delete.
        victims: Vec<u64>,
    },
    /// The pod stays pending; `message` is the FailedScheduling message, worded as upstream.
    /// [`Scheduler::last_overrides_nomination`](crate::scheduler::Scheduler::last_overrides_nomination) tells whether upstream would clear the pod's
    /// nominated node now.
    Unschedulable {
        /// e.g. `0/3 nodes are available: 3 Insufficient cpu. preemption: ...`.
        message: String,
    },
}

/// `schedutil.DefaultMilliCPURequest`: CPU assumed for scoring when a pod requests none.
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;

/// `schedutil.DefaultMemoryRequest`: memory assumed for scoring when a pod requests none (200MiB).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// `framework.MaxNodeScore`.
pub const MAX_NODE_SCORE: i64 = 100;

/// The resources a pod consumes on a node: its requests, with `pods` = 1.
pub(crate) fn pod_usage(p: &PodInfo) -> Resources {
    Resources {
        cpu_milli: p.requests.cpu_milli,
        memory: p.requests.memory,
        pods: 1,
    }
}

/// What the node's bound pods use: `requested` cpu/memory and the number of pods
/// (upstream counts `len(nodeInfo.Pods)`).
pub(crate) fn node_used(node: &NodeInfo) -> Resources {
    Resources {
        cpu_milli: node.requested.cpu_milli,
        memory: node.requested.memory,
        pods: node.pods.len() as i64,
    }
}

/// The pod's requests with upstream's non-zero defaults (100m CPU / 200MiB) for unset values.
pub(crate) fn non_zero(r: &Resources) -> Resources {
    Resources {
        cpu_milli: if r.cpu_milli == 0 {
            DEFAULT_MILLI_CPU_REQUEST
        } else {
            r.cpu_milli
        },
        memory: if r.memory == 0 {
            DEFAULT_MEMORY_REQUEST
        } else {
            r.memory
        },
        pods: r.pods,
    }
}

/// Upstream `NodeInfo.NonZeroRequested`: the bound pods' requests with non-zero defaults.
pub(crate) fn node_non_zero_requested(node: &NodeInfo) -> Resources {
    let mut r = node.requested;
    for p in &node.pods {
        if p.requests.cpu_milli == 0 {
            r.cpu_milli += DEFAULT_MILLI_CPU_REQUEST;
        }
        if p.requests.memory == 0 {
            r.memory += DEFAULT_MEMORY_REQUEST;
        }
    }
    r
}
