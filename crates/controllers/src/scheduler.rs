//! kube-scheduler decision logic: filter, score, and DefaultPreemption.
//!
//! Types in this file are the contract between the twin (which keeps one [`NodeInfo`] per node,
//! updated incrementally, like upstream's scheduler cache) and the pure algorithms.
//!
//! Upstream sources followed (kubernetes/kubernetes):
//! - `pkg/scheduler/schedule_one.go`: `schedulePod`, `findNodesThatFitPod`,
//!   `findNodesThatPassFilters`, `numFeasibleNodesToFind`, `prioritizeNodes`, `selectHost`.
//! - `pkg/scheduler/framework/runtime/framework.go`: `RunFilterPluginsWithNominatedPods`,
//!   `addGENominatedPods`.
//! - `pkg/scheduler/framework/plugins/nodeunschedulable/node_unschedulable.go`,
//!   `.../tainttoleration/taint_toleration.go`, `.../nodeaffinity/node_affinity.go`,
//!   `.../noderesources/{fit.go,least_allocated.go,balanced_allocation.go,resource_allocation.go}`.
//! - `pkg/scheduler/framework/plugins/defaultpreemption/default_preemption.go` and
//!   `pkg/scheduler/framework/preemption/preemption.go` (DefaultPreemption PostFilter).
//! - `pkg/scheduler/framework/types.go`: `FitError.Error` (the FailedScheduling message).
//!
//! Everything here is pure: no I/O, no clock, no global RNG. Random choices go through the
//! `tie_break` callback given to [`Scheduler::schedule`].

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

use kscale_model::labels::Labels;
use kscale_model::{
    LabelSelector, NodeSelectorRequirement, NodeSelectorTerm, Resources, SelectorOp, SimTime,
    TaintEffect, Toleration, TolerationOp,
};

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
}

/// A node as the scheduler sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeInfo {
    /// Node name.
    pub name: Arc<str>,
    /// Node labels.
    pub labels: Labels,
    /// Node taints.
    pub taints: Vec<kscale_model::Taint>,
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
        /// Index into the `nodes` slice given to [`Scheduler::schedule`].
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
    /// [`Scheduler::last_overrides_nomination`] tells whether upstream would clear the pod's
    /// nominated node now.
    Unschedulable {
        /// e.g. `0/3 nodes are available: 3 Insufficient cpu. preemption: ...`.
        message: String,
    },
}

// ---------------------------------------------------------------------------------------------
// Constants (upstream values).
// ---------------------------------------------------------------------------------------------

/// `schedutil.DefaultMilliCPURequest`: CPU assumed for scoring when a pod requests none.
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// `schedutil.DefaultMemoryRequest`: memory assumed for scoring when a pod requests none (200MiB).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;
/// `framework.MaxNodeScore`.
pub const MAX_NODE_SCORE: i64 = 100;
/// Taint the node lifecycle controller puts on not-ready nodes (`v1.TaintNodeNotReady`).
pub const TAINT_NODE_NOT_READY: &str = "node.kubernetes.io/not-ready";
/// Taint key a pod must tolerate (effect NoSchedule) to land on a cordoned node
/// (`v1.TaintNodeUnschedulable`).
pub const TAINT_NODE_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";

/// `minFeasibleNodesToFind` (schedule_one.go).
const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// `minFeasibleNodesPercentageToFind` (schedule_one.go).
const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND: usize = 5;
/// `DefaultPreemptionArgs.MinCandidateNodesPercentage` default.
const MIN_CANDIDATE_NODES_PERCENTAGE: usize = 10;
/// `DefaultPreemptionArgs.MinCandidateNodesAbsolute` default.
const MIN_CANDIDATE_NODES_ABSOLUTE: usize = 100;
/// Default plugin weights (`pkg/scheduler/apis/config/v1/default_plugins.go`).
const WEIGHT_TAINT_TOLERATION: i64 = 3;
const WEIGHT_NODE_RESOURCES_FIT: i64 = 1;
const WEIGHT_BALANCED_ALLOCATION: i64 = 1;

const MSG_UNSCHEDULABLE: &str = "node(s) were unschedulable";
const MSG_NODE_AFFINITY: &str = "node(s) didn't match Pod's node affinity/selector";
const MSG_TOO_MANY_PODS: &str = "Too many pods";
const MSG_INSUFFICIENT_CPU: &str = "Insufficient cpu";
const MSG_INSUFFICIENT_MEMORY: &str = "Insufficient memory";
/// tainttoleration `Filter` (v1.37: taints are no longer named in the message).
const MSG_UNTOLERATED_TAINT: &str = "node(s) had untolerated taint(s)";
const MSG_NO_VICTIMS: &str = "No preemption victims found for incoming pod";
const MSG_NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
const MSG_NO_NODES: &str = "no nodes available to schedule pods";

// ---------------------------------------------------------------------------------------------
// Filter statuses.
// ---------------------------------------------------------------------------------------------

/// Which resources `NodeResourcesFit` found insufficient (upstream `InsufficientResource` list).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InsufficientResources {
    /// `Too many pods`: the node already holds `allocatable.pods` pods.
    pub pods: bool,
    /// `Insufficient cpu`.
    pub cpu: bool,
    /// `Insufficient memory`.
    pub memory: bool,
    /// The pod's cpu or memory request alone exceeds the node's allocatable, so removing pods
    /// cannot help (upstream status `UnschedulableAndUnresolvable`).
    pub unresolvable: bool,
}

/// Why a pod does not fit a node: the status of the first failing filter plugin, in upstream
/// plugin order (NodeUnschedulable, TaintToleration, NodeAffinity, NodeResourcesFit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unfit {
    /// The node is cordoned and the pod does not tolerate
    /// `node.kubernetes.io/unschedulable:NoSchedule` (`node(s) were unschedulable`).
    Unschedulable,
    /// The node is not ready and the pod does not tolerate the
    /// `node.kubernetes.io/not-ready:NoSchedule` taint the node lifecycle controller adds.
    NotReady,
    /// The node has an untolerated NoSchedule/NoExecute taint: index into `NodeInfo::taints`.
    UntoleratedTaint(usize),
    /// `nodeSelector` or required node affinity does not match.
    NodeAffinity,
    /// Not enough resources.
    Resources(InsufficientResources),
}

impl Unfit {
    /// True for upstream code `Unschedulable` (preemption may help), false for
    /// `UnschedulableAndUnresolvable` (the node is never a preemption candidate).
    pub fn is_resolvable(&self) -> bool {
        matches!(self, Unfit::Resources(r) if !r.unresolvable)
    }

    /// The upstream reason strings of this status, in upstream order (e.g. `Too many pods`,
    /// `Insufficient cpu`, `node(s) had untolerated taint(s)`).
    pub fn reasons(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.for_each_reason(|r| out.push(r.to_string()));
        out
    }

    fn for_each_reason(&self, mut f: impl FnMut(ReasonKey<'static>)) {
        match *self {
            Unfit::Unschedulable => f(ReasonKey::Static(MSG_UNSCHEDULABLE)),
            // A NotReady node carries the not-ready taint: the same reason.
            Unfit::NotReady | Unfit::UntoleratedTaint(_) => {
                f(ReasonKey::Static(MSG_UNTOLERATED_TAINT))
            }
            Unfit::NodeAffinity => f(ReasonKey::Static(MSG_NODE_AFFINITY)),
            Unfit::Resources(r) => {
                if r.pods {
                    f(ReasonKey::Static(MSG_TOO_MANY_PODS));
                }
                if r.cpu {
                    f(ReasonKey::Static(MSG_INSUFFICIENT_CPU));
                }
                if r.memory {
                    f(ReasonKey::Static(MSG_INSUFFICIENT_MEMORY));
                }
            }
        }
    }
}

/// One failure reason, formatted lazily (keeps the message path allocation-light).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum ReasonKey<'a> {
    Static(&'a str),
}

impl std::fmt::Display for ReasonKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReasonKey::Static(s) => f.write_str(s),
        }
    }
}

/// Adds `c` to the count of `r` in a short list of reason counts.
fn add_reason<'a>(keyed: &mut Vec<(ReasonKey<'a>, usize)>, r: ReasonKey<'a>, c: usize) {
    match keyed.iter_mut().find(|(k, _)| *k == r) {
        Some((_, n)) => *n += c,
        None => keyed.push((r, c)),
    }
}

/// Reason histogram rendered as upstream `FitError.Error()` does (pkg/scheduler/framework/types.go):
/// `0/N nodes are available: <count reason>, ... .` with the `"%v %v"` strings sorted as strings.
fn fit_error_message(num_all_nodes: usize, counts: &BTreeMap<String, usize>) -> String {
    let mut parts: Vec<String> = counts.iter().map(|(r, c)| format!("{c} {r}")).collect();
    parts.sort();
    let mut msg = format!("0/{num_all_nodes} nodes are available:");
    if !parts.is_empty() {
        msg.push(' ');
        msg.push_str(&parts.join(", "));
        msg.push('.');
    }
    msg
}

// ---------------------------------------------------------------------------------------------
// Filters.
// ---------------------------------------------------------------------------------------------

/// The resources a pod consumes on a node: its requests, with `pods` = 1.
fn pod_usage(p: &PodInfo) -> Resources {
    Resources {
        cpu_milli: p.requests.cpu_milli,
        memory: p.requests.memory,
        pods: 1,
    }
}

/// What the node's bound pods use: `requested` cpu/memory and the number of pods
/// (upstream counts `len(nodeInfo.Pods)`).
fn node_used(node: &NodeInfo) -> Resources {
    Resources {
        cpu_milli: node.requested.cpu_milli,
        memory: node.requested.memory,
        pods: node.pods.len() as i64,
    }
}

/// Sum of the node's nominated pods that upstream `addGENominatedPods` adds when filtering `pod`:
/// priority >= the pod's priority, and not the pod itself.
fn nominated_usage(pod: &PodInfo, node: &NodeInfo) -> Resources {
    let mut r = Resources::ZERO;
    for p in &node.nominated {
        if p.priority >= pod.priority && p.id != pod.id {
            r += pod_usage(p);
        }
    }
    r
}

/// `v1helper.TolerationsTolerateTaint` for a taint given by parts (no allocation).
fn tolerated(tols: &[Toleration], key: &str, value: &str, effect: TaintEffect) -> bool {
    tols.iter().any(|t| {
        t.effect.is_none_or(|e| e == effect)
            && (t.key.is_empty() || t.key == key)
            && match t.op {
                TolerationOp::Exists => true,
                TolerationOp::Equal => t.value == value,
            }
    })
}

/// One `matchFields` requirement against the node name (only `metadata.name` is supported
/// upstream; other keys never match).
fn field_matches(r: &NodeSelectorRequirement, node_name: &str) -> bool {
    if r.key != "metadata.name" {
        return false;
    }
    match r.op {
        SelectorOp::In => r.values.iter().any(|v| v == node_name),
        SelectorOp::NotIn => !r.values.iter().any(|v| v == node_name),
        _ => false,
    }
}

/// `nodeaffinity` term match, like [`NodeSelectorTerm::matches`] but without allocating.
fn term_matches(term: &NodeSelectorTerm, labels: &Labels, node_name: &str) -> bool {
    if term.match_expressions.is_empty() && term.match_fields.is_empty() {
        return false;
    }
    term.match_expressions.iter().all(|r| r.matches(labels))
        && term
            .match_fields
            .iter()
            .all(|r| field_matches(r, node_name))
}

/// The non-resource filters: NodeUnschedulable, TaintToleration (incl. not-ready), NodeAffinity.
fn filter_static(pod: &PodInfo, node: &NodeInfo) -> Result<(), Unfit> {
    let c = &*pod.constraints;
    // NodeUnschedulable (plugins/nodeunschedulable/node_unschedulable.go).
    if node.unschedulable
        && !tolerated(
            &c.tolerations,
            TAINT_NODE_UNSCHEDULABLE,
            "",
            TaintEffect::NoSchedule,
        )
    {
        return Err(Unfit::Unschedulable);
    }
    // TaintToleration filter (plugins/tainttoleration/taint_toleration.go): the first
    // NoSchedule/NoExecute taint that no toleration tolerates.
    for (i, t) in node.taints.iter().enumerate() {
        if t.effect != TaintEffect::PreferNoSchedule
            && !c.tolerations.iter().any(|tol| tol.tolerates(t))
        {
            return Err(Unfit::UntoleratedTaint(i));
        }
    }
    if !node.ready
        && !node.taints.iter().any(|t| t.key == TAINT_NODE_NOT_READY)
        && !tolerated(
            &c.tolerations,
            TAINT_NODE_NOT_READY,
            "",
            TaintEffect::NoSchedule,
        )
    {
        return Err(Unfit::NotReady);
    }
    // NodeAffinity (plugins/nodeaffinity/node_affinity.go): nodeSelector, then required terms.
    if !c
        .node_selector
        .iter()
        .all(|(k, v)| node.labels.get(k) == Some(v))
    {
        return Err(Unfit::NodeAffinity);
    }
    if !c.required_node_affinity.is_empty()
        && !c
            .required_node_affinity
            .iter()
            .any(|t| term_matches(t, &node.labels, &node.name))
    {
        return Err(Unfit::NodeAffinity);
    }
    Ok(())
}

/// NodeResourcesFit filter (`fitsRequest` in plugins/noderesources/fit.go) given what is already
/// in use on the node (`used.pods` = number of pods).
fn filter_resources(req: &Resources, used: &Resources, alloc: &Resources) -> Result<(), Unfit> {
    let mut r = InsufficientResources::default();
    if used.pods + 1 > alloc.pods {
        r.pods = true;
    }
    if req.cpu_milli != 0 || req.memory != 0 {
        if req.cpu_milli > 0 && req.cpu_milli > alloc.cpu_milli - used.cpu_milli {
            r.cpu = true;
            r.unresolvable |= req.cpu_milli > alloc.cpu_milli;
        }
        if req.memory > 0 && req.memory > alloc.memory - used.memory {
            r.memory = true;
            r.unresolvable |= req.memory > alloc.memory;
        }
    }
    if r.pods || r.cpu || r.memory {
        Err(Unfit::Resources(r))
    } else {
        Ok(())
    }
}

/// All filters with an explicit view of the node's used resources.
fn filter_with_used(pod: &PodInfo, node: &NodeInfo, used: &Resources) -> Result<(), Unfit> {
    filter_static(pod, node)?;
    filter_resources(&pod.requests, used, &node.allocatable)
}

/// Runs the default filter plugins for `pod` on `node` as they are (bound pods only; nominated
/// pods ignored), like upstream `RunFilterPlugins`. Returns the first failing plugin's status.
///
/// Plugins, in upstream order: NodeUnschedulable, TaintToleration (NoSchedule/NoExecute taints,
/// plus the not-ready taint for nodes with `ready == false`), NodeAffinity (nodeSelector and
/// required terms), NodeResourcesFit (`pods`, `cpu`, `memory`).
pub fn fits(pod: &PodInfo, node: &NodeInfo) -> Result<(), Unfit> {
    filter_with_used(pod, node, &node_used(node))
}

/// Like [`fits`], with `extra` CPU and memory added to the node's requests (its pod count
/// unchanged): the trial placements of a simulation, without copying the node.
pub fn fits_with_extra(pod: &PodInfo, node: &NodeInfo, extra: &Resources) -> Result<(), Unfit> {
    let mut used = node_used(node);
    used.cpu_milli += extra.cpu_milli;
    used.memory += extra.memory;
    filter_with_used(pod, node, &used)
}

/// Like [`fits`], but also counts the node's nominated pods with priority >= the pod's (other
/// than the pod itself) as if bound: upstream `RunFilterPluginsWithNominatedPods`, which is
/// what [`Scheduler::schedule`] uses.
pub fn fits_with_nominated(pod: &PodInfo, node: &NodeInfo) -> Result<(), Unfit> {
    let used = node_used(node) + nominated_usage(pod, node);
    filter_with_used(pod, node, &used)
}

/// Whether `pod` would fit `node` if every bound pod with a strictly lower priority were gone
/// (nominated pods of priority >= the pod's still count): the first check of upstream
/// `SelectVictimsOnNode`, also what autoscalers use to decide if a pod needs new capacity.
pub fn fits_ignoring_lower_priority(pod: &PodInfo, node: &NodeInfo) -> Result<(), Unfit> {
    let mut used = node_used(node) + nominated_usage(pod, node);
    for p in &node.pods {
        if p.priority < pod.priority {
            used -= pod_usage(p);
        }
    }
    filter_with_used(pod, node, &used)
}

// ---------------------------------------------------------------------------------------------
// Scores.
// ---------------------------------------------------------------------------------------------

/// The pod's requests with upstream's non-zero defaults (100m CPU / 200MiB) for unset values.
fn non_zero(r: &Resources) -> Resources {
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
fn node_non_zero_requested(node: &NodeInfo) -> Resources {
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

/// `leastRequestedScore` (plugins/noderesources/least_allocated.go).
fn least_requested_score(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 || requested > capacity {
        return 0;
    }
    (capacity - requested) * MAX_NODE_SCORE / capacity
}

/// NodeResourcesFit `LeastAllocated` score with cpu and memory weight 1; `requested` already
/// includes the incoming pod. Resources with zero allocatable are skipped, as upstream.
pub fn least_allocated_score(requested: &Resources, allocatable: &Resources) -> i64 {
    let mut score = 0;
    let mut weights = 0;
    for (req, cap) in [
        (requested.cpu_milli, allocatable.cpu_milli),
        (requested.memory, allocatable.memory),
    ] {
        if cap == 0 {
            continue;
        }
        score += least_requested_score(req, cap);
        weights += 1;
    }
    if weights == 0 { 0 } else { score / weights }
}

/// NodeResourcesBalancedAllocation score (`balancedResourceScorer`,
/// plugins/noderesources/balanced_allocation.go) for cpu and memory; `requested` already includes
/// the incoming pod (plain requests, not non-zero defaults: upstream `useRequested: true`).
pub fn balanced_allocation_score(requested: &Resources, allocatable: &Resources) -> i64 {
    let mut fractions = [0.0f64; 2];
    let mut n = 0;
    for (req, cap) in [
        (requested.cpu_milli, allocatable.cpu_milli),
        (requested.memory, allocatable.memory),
    ] {
        if cap == 0 {
            continue;
        }
        fractions[n] = (req as f64 / cap as f64).min(1.0);
        n += 1;
    }
    let std = if n == 2 {
        ((fractions[0] - fractions[1]) / 2.0).abs()
    } else {
        0.0
    };
    ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
}

/// TaintToleration raw score: the number of PreferNoSchedule taints not tolerated by the pod's
/// tolerations whose effect is empty or PreferNoSchedule (`countIntolerableTaintsPreferNoSchedule`).
fn intolerable_prefer_no_schedule(tols: &[Toleration], node: &NodeInfo) -> i64 {
    node.taints
        .iter()
        .filter(|t| t.effect == TaintEffect::PreferNoSchedule)
        .filter(|t| {
            !tols.iter().any(|tol| {
                tol.effect
                    .is_none_or(|e| e == TaintEffect::PreferNoSchedule)
                    && tol.tolerates(t)
            })
        })
        .count() as i64
}

/// `helper.DefaultNormalizeScore(MaxNodeScore, reverse=true, ...)` for one raw score.
fn normalize_reversed(raw: i64, max: i64) -> i64 {
    if max == 0 {
        MAX_NODE_SCORE
    } else {
        MAX_NODE_SCORE - MAX_NODE_SCORE * raw / max
    }
}

// ---------------------------------------------------------------------------------------------
// Preemption helpers.
// ---------------------------------------------------------------------------------------------

/// `util.MoreImportantPod`: higher priority first, then the earlier start time.
fn more_important(a: &PodInfo, b: &PodInfo) -> Ordering {
    b.priority
        .cmp(&a.priority)
        .then(a.start_time.cmp(&b.start_time))
}

/// `filterPodsWithPDBViolation` (default_preemption.go): splits the (sorted) pods into the ones
/// whose eviction would push a matching PDB's allowed disruptions below zero and the others.
fn split_by_pdb_violation<'a>(
    pods: &[&'a PodInfo],
    pdbs: &[PdbInfo],
) -> (Vec<&'a PodInfo>, Vec<&'a PodInfo>) {
    let mut allowed: Vec<i32> = pdbs.iter().map(|p| p.disruptions_allowed).collect();
    let mut violating = Vec::new();
    let mut non_violating = Vec::new();
    for &p in pods {
        let mut violated = false;
        if !p.labels.is_empty() {
            for (i, pdb) in pdbs.iter().enumerate() {
                if pdb.namespace != *p.namespace {
                    continue;
                }
                // A PDB with an empty selector matches nothing.
                if pdb.selector.is_empty() || !pdb.selector.matches(&p.labels) {
                    continue;
                }
                allowed[i] -= 1;
                if allowed[i] < 0 {
                    violated = true;
                }
            }
        }
        if violated {
            violating.push(p);
        } else {
            non_violating.push(p);
        }
    }
    (violating, non_violating)
}

/// A preemption candidate: a node and the pods to evict there.
#[derive(Clone, Debug)]
struct Candidate<'a> {
    node: usize,
    /// Most important first.
    victims: Vec<&'a PodInfo>,
    num_pdb_violations: usize,
}

/// Why a node is not a preemption candidate (dry-run status).
enum DryRunFailure {
    /// `No preemption victims found for incoming pod`.
    NoVictims,
    /// Even without lower-priority pods the filters fail.
    Unfit(Unfit),
    /// Upstream's internal error `expected at least one victim pod on node %q`.
    NoVictimNeeded,
}

/// `SelectVictimsOnNode` (default_preemption.go) for resource-only filtering.
fn select_victims_on_node<'a>(
    pod: &PodInfo,
    node: &'a NodeInfo,
    pdbs: &[PdbInfo],
) -> Result<Candidate<'a>, DryRunFailure> {
    // Checked before collecting: on most nodes no pod has a lower priority.
    if !node.pods.iter().any(|p| p.priority < pod.priority) {
        return Err(DryRunFailure::NoVictims);
    }
    let mut potential: Vec<&PodInfo> = node
        .pods
        .iter()
        .filter(|p| p.priority < pod.priority)
        .collect();
    let mut used = node_used(node) + nominated_usage(pod, node);
    for p in &potential {
        used -= pod_usage(p);
    }
    filter_with_used(pod, node, &used).map_err(DryRunFailure::Unfit)?;
    potential.sort_by(|a, b| more_important(a, b));
    let (violating, non_violating) = split_by_pdb_violation(&potential, pdbs);
    let mut victims = Vec::new();
    let mut num_pdb_violations = 0;
    let reprieve = |p: &'a PodInfo, used: &mut Resources, victims: &mut Vec<&'a PodInfo>| {
        *used += pod_usage(p);
        if filter_with_used(pod, node, used).is_ok() {
            true
        } else {
            *used -= pod_usage(p);
            victims.push(p);
            false
        }
    };
    for &p in &violating {
        if !reprieve(p, &mut used, &mut victims) {
            num_pdb_violations += 1;
        }
    }
    for &p in &non_violating {
        reprieve(p, &mut used, &mut victims);
    }
    if !violating.is_empty() && !non_violating.is_empty() {
        victims.sort_by(|a, b| more_important(a, b));
    }
    if victims.is_empty() {
        return Err(DryRunFailure::NoVictimNeeded);
    }
    Ok(Candidate {
        node: 0,
        victims,
        num_pdb_violations,
    })
}

/// `util.GetEarliestPodStartTime`: earliest start among the highest-priority victims.
fn earliest_start_of_highest_priority(victims: &[&PodInfo]) -> SimTime {
    let mut max_prio = victims[0].priority;
    let mut earliest = victims[0].start_time;
    for v in victims {
        if v.priority == max_prio {
            earliest = earliest.min(v.start_time);
        } else if v.priority > max_prio {
            max_prio = v.priority;
            earliest = v.start_time;
        }
    }
    earliest
}

/// `pickOneNodeForPreemption` (preemption.go) with the default ordered score functions; returns
/// an index into `candidates`. Remaining ties go to the first candidate in dry-run order.
fn pick_one_node_for_preemption(candidates: &[Candidate<'_>]) -> usize {
    let score_fns: [&dyn Fn(&Candidate<'_>) -> i64; 5] = [
        // Fewest PDB violations.
        &|c| -(c.num_pdb_violations as i64),
        // Lowest highest-priority victim.
        &|c| -(c.victims[0].priority as i64),
        // Smallest sum of (priority + MaxInt32 + 1).
        &|c| {
            -c.victims
                .iter()
                .map(|v| v.priority as i64 + i32::MAX as i64 + 1)
                .sum::<i64>()
        },
        // Fewest victims.
        &|c| -(c.victims.len() as i64),
        // Latest earliest start time among the highest-priority victims.
        &|c| earliest_start_of_highest_priority(&c.victims).as_millis() as i64,
    ];
    let mut all: Vec<usize> = (0..candidates.len()).collect();
    for f in score_fns {
        let mut selected = Vec::new();
        let mut max = i64::MIN;
        for &i in &all {
            let s = f(&candidates[i]);
            if s > max {
                max = s;
                selected.clear();
            }
            if s == max {
                selected.push(i);
            }
        }
        if selected.len() == 1 {
            return selected[0];
        }
        all = selected;
    }
    all[0]
}

/// Outcome of the PostFilter step.
enum PostFilter {
    Preempt {
        node: usize,
        victims: Vec<u64>,
        /// The victims, terminating ones included (the PostFilter message counts them all).
        all_victims: usize,
    },
    /// `preemption: ...` message; `clears` = upstream returns a result that clears the pod's
    /// nominated node name (no candidate found), vs. a nil result that keeps it.
    Fail { msg: String, clears: bool },
}

// ---------------------------------------------------------------------------------------------
// Scheduler.
// ---------------------------------------------------------------------------------------------

/// Nodes per block of [`NodeTable`].
const TABLE_BLOCK: usize = 32;

/// Blocks per super-block of [`NodeTable`] (a super-block spans `TABLE_BLOCK * SUPER_BLOCK`
/// nodes).
const SUPER_BLOCK: usize = 32;

/// What the filters read of each node of a node list, kept by the caller between
/// [`Scheduler::schedule_in`] calls over the same list (like upstream's scheduler cache
/// snapshot): a "plain" node (schedulable, ready, no NoSchedule/NoExecute taint, no nominated
/// pods) passes the non-resource filters for any pod without a nodeSelector or required node
/// affinity, so its filter result is its resources' alone. The filter pass then reads this
/// table instead of the nodes: it passes over a block (or a super-block of blocks) whose plain
/// nodes' largest free room cannot hold the pod, reading only its nodes that are not plain,
/// and in a block it reads, reads only the plain nodes that hold the request (a mask kept for
/// the block's last request until the block changes); scoring reads a plain node's row; a
/// pass that finds no node counts the reasons of a block of plain nodes once per request
/// (kept until the block changes). The decisions are those of [`Scheduler::schedule`].
#[derive(Clone, Debug, Default)]
pub struct NodeTable {
    /// Per node: what the filters and scores read of a plain node.
    rows: Vec<Option<Row>>,
    /// Per block: the component-wise largest free room of its plain nodes.
    blocks: Vec<Resources>,
    /// Per block: a bit per node that is not plain (bit `k`: the block's `k`-th node).
    irregular: Vec<u32>,
    /// Per super-block: the same as `blocks` over its blocks.
    supers: Vec<Resources>,
    /// Per block of plain nodes: the reasons its nodes fail the last request counted there.
    diagnosed: Vec<Option<Diagnosis>>,
    /// Per block: (the last request read there, a bit per plain node that holds it), kept
    /// until the block changes.
    fitting: Vec<Option<(Resources, u32)>>,
    /// The nodes with nominated pods, in list order.
    nominated: Vec<usize>,
}

/// A plain node's row of a [`NodeTable`].
#[derive(Clone, Copy, Debug, PartialEq)]
struct Row {
    allocatable: Resources,
    /// Requested CPU and memory, and the pod count.
    used: Resources,
    /// Requested CPU and memory with the scoring defaults for pods that request none.
    non_zero: Resources,
    /// The node has PreferNoSchedule taints (scoring reads them from the node).
    prefer_taints: bool,
}

/// How the nodes of a block of plain nodes fail a request: counts of nodes with each reason
/// and of nodes preemption may help on.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Diagnosis {
    request: Resources,
    pods: u32,
    cpu: u32,
    memory: u32,
    resolvable: u32,
}

/// Tables are equal when their nodes' rows are (what was diagnosed is a cache).
impl PartialEq for NodeTable {
    fn eq(&self, o: &Self) -> bool {
        self.rows == o.rows
            && self.blocks == o.blocks
            && self.irregular == o.irregular
            && self.supers == o.supers
            && self.nominated == o.nominated
    }
}

/// Room no request fits.
const NO_FREE: Resources = Resources {
    cpu_milli: i64::MIN,
    memory: i64::MIN,
    pods: i64::MIN,
};

/// The nodes an attempt reads, by position (their order: the twin's is by name). A slice of
/// references is one; a source that looks a node up when asked saves listing them all for an
/// attempt that reads only a few (with a [`NodeTable`], a pod without node selection reads only
/// the nodes the table does not hold).
pub trait NodeList<'a> {
    /// How many nodes there are.
    fn len(&self) -> usize;
    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Node `i` (below [`NodeList::len`]).
    fn node(&self, i: usize) -> &'a NodeInfo;
}

impl<'a> NodeList<'a> for [&'a NodeInfo] {
    fn len(&self) -> usize {
        <[&NodeInfo]>::len(self)
    }
    fn node(&self, i: usize) -> &'a NodeInfo {
        self[i]
    }
}

impl NodeTable {
    /// The table of `nodes`.
    pub fn new(nodes: &[&NodeInfo]) -> NodeTable {
        NodeTable::of(nodes)
    }

    /// The table of a [`NodeList`].
    pub fn of<'a, N: NodeList<'a> + ?Sized>(nodes: &N) -> NodeTable {
        NodeTable::default().remap((0..nodes.len()).map(|i| Err(nodes.node(i))))
    }

    /// The table of a node list given in order, each node as `Ok(j)`: node `j` of this
    /// table's list, unchanged, or `Err(node)`: a node to read.
    pub fn remap<'n>(&self, from: impl Iterator<Item = Result<usize, &'n NodeInfo>>) -> NodeTable {
        let mut rows = Vec::with_capacity(from.size_hint().0);
        let mut nominated = vec![];
        for (i, f) in from.enumerate() {
            let (row, nominates) = match f {
                Ok(j) => (self.rows[j], self.nominated.binary_search(&j).is_ok()),
                Err(n) => (Self::row(n), !n.nominated.is_empty()),
            };
            rows.push(row);
            if nominates {
                nominated.push(i);
            }
        }
        let blocks = rows.len().div_ceil(TABLE_BLOCK);
        let mut t = NodeTable {
            blocks: vec![NO_FREE; blocks],
            irregular: vec![0; blocks],
            supers: vec![NO_FREE; blocks.div_ceil(SUPER_BLOCK)],
            diagnosed: vec![None; blocks],
            fitting: vec![None; blocks],
            rows,
            nominated,
        };
        for b in 0..t.blocks.len() {
            t.refresh_block(b);
        }
        t
    }

    /// Node `i` of the list changed (its pods, requests, nominated pods, taints or
    /// conditions): its row is read again.
    pub fn refresh(&mut self, i: usize, node: &NodeInfo) {
        self.rows[i] = Self::row(node);
        match (self.nominated.binary_search(&i), node.nominated.is_empty()) {
            (Ok(k), true) => {
                self.nominated.remove(k);
            }
            (Err(k), false) => self.nominated.insert(k, i),
            _ => {}
        }
        self.refresh_block(i / TABLE_BLOCK);
    }

    /// Nodes in the table.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True for a table of no nodes.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Some node has nominated pods.
    pub fn has_nominated(&self) -> bool {
        !self.nominated.is_empty()
    }

    fn row(n: &NodeInfo) -> Option<Row> {
        let plain = !n.unschedulable
            && n.ready
            && n.nominated.is_empty()
            && n.taints
                .iter()
                .all(|t| t.effect == TaintEffect::PreferNoSchedule);
        plain.then(|| Row {
            allocatable: n.allocatable,
            used: node_used(n),
            non_zero: node_non_zero_requested(n),
            prefer_taints: !n.taints.is_empty(),
        })
    }

    fn refresh_block(&mut self, b: usize) {
        let end = ((b + 1) * TABLE_BLOCK).min(self.rows.len());
        let mut max = NO_FREE;
        let mut irregular = 0u32;
        for (k, r) in self.rows[b * TABLE_BLOCK..end].iter().enumerate() {
            match r {
                Some(r) => max = max.max(&(r.allocatable - r.used)),
                None => irregular |= 1 << k,
            }
        }
        self.blocks[b] = max;
        self.irregular[b] = irregular;
        self.diagnosed[b] = None;
        self.fitting[b] = None;
        let s = b / SUPER_BLOCK;
        let end = ((s + 1) * SUPER_BLOCK).min(self.blocks.len());
        self.supers[s] = self.blocks[s * SUPER_BLOCK..end]
            .iter()
            .fold(NO_FREE, |sup, m| sup.max(m));
    }

    /// The end of the run of nodes from position `idx` (below `end`) whose plain nodes are
    /// known to fail `req` by their super-block's or block's largest free room (`idx` itself
    /// when none is): only the nodes of the run that are not plain need reading.
    fn plain_fail_run(&self, idx: usize, end: usize, req: &Resources) -> usize {
        let span = TABLE_BLOCK * SUPER_BLOCK;
        if room_fails(&self.supers[idx / span], req) {
            return end.min((idx / span + 1) * span);
        }
        if room_fails(&self.blocks[idx / TABLE_BLOCK], req) {
            return end.min((idx / TABLE_BLOCK + 1) * TABLE_BLOCK);
        }
        idx
    }

    /// The nodes of block `b` to read for `req`: a bit per plain node that holds it and per
    /// node that is not plain.
    fn candidates(&mut self, b: usize, req: &Resources) -> u32 {
        let fitting = match self.fitting[b] {
            Some((r, bits)) if r == *req => bits,
            _ => {
                let start = b * TABLE_BLOCK;
                let end = (start + TABLE_BLOCK).min(self.rows.len());
                let mut bits = 0u32;
                for (k, row) in self.rows[start..end].iter().enumerate() {
                    if let Some(row) = row
                        && filter_resources(req, &row.used, &row.allocatable).is_ok()
                    {
                        bits |= 1 << k;
                    }
                }
                self.fitting[b] = Some((*req, bits));
                bits
            }
        };
        fitting | self.irregular[b]
    }

    /// The nodes in positions `from..to` that are not plain, in order.
    fn irregular_in(&self, from: usize, to: usize) -> impl Iterator<Item = usize> + '_ {
        let blocks = if from < to {
            from / TABLE_BLOCK..(to - 1) / TABLE_BLOCK + 1
        } else {
            0..0
        };
        blocks.flat_map(move |b| {
            let mut bits = self.irregular[b];
            std::iter::from_fn(move || {
                (bits != 0).then(|| {
                    let k = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    b * TABLE_BLOCK + k
                })
            })
            .filter(move |&i| i >= from && i < to)
        })
    }

    /// How the plain nodes of block `b` (every node of it is plain) fail `req` (none fits):
    /// counted once per request until the block changes.
    fn diagnose_block(&mut self, b: usize, req: &Resources) -> Diagnosis {
        if let Some(d) = self.diagnosed[b].filter(|d| d.request == *req) {
            return d;
        }
        let end = ((b + 1) * TABLE_BLOCK).min(self.rows.len());
        let mut d = Diagnosis {
            request: *req,
            pods: 0,
            cpu: 0,
            memory: 0,
            resolvable: 0,
        };
        for row in &self.rows[b * TABLE_BLOCK..end] {
            let row = row.as_ref().expect("a block of plain nodes");
            let Err(Unfit::Resources(r)) = filter_resources(req, &row.used, &row.allocatable)
            else {
                unreachable!("no node is feasible");
            };
            d.pods += u32::from(r.pods);
            d.cpu += u32::from(r.cpu);
            d.memory += u32::from(r.memory);
            d.resolvable += u32::from(!r.unresolvable);
        }
        self.diagnosed[b] = Some(d);
        d
    }
}

/// The bits `from..to` of a block's mask (`from < to <= 32`).
fn bit_range(from: usize, to: usize) -> u32 {
    (((1u64 << to) - 1) & !((1u64 << from) - 1)) as u32
}

/// The largest free room of plain nodes, none of which holds `req`.
fn room_fails(max: &Resources, req: &Resources) -> bool {
    max.pods < 1
        || (req.cpu_milli > 0 && req.cpu_milli > max.cpu_milli)
        || (req.memory > 0 && req.memory > max.memory)
}

/// The scheduling algorithm of one kube-scheduler profile (default plugins), with the state it
/// keeps between cycles (`nextStartNodeIndex`) and reusable scratch buffers.
#[derive(Clone, Debug, Default)]
pub struct Scheduler {
    /// `percentageOfNodesToScore`; 0 = adaptive.
    percentage_of_nodes_to_score: u32,
    /// Round-robin offset where the next filter pass starts (upstream `nextStartNodeIndex`).
    next_start_node_index: usize,
    /// A floor of the priorities of the pods bound to the nodes given to `schedule` (see
    /// [`Scheduler::set_priority_floor`]).
    priority_floor: Option<i32>,
    /// Scratch: feasible node indices of the current cycle.
    feasible: Vec<usize>,
    /// Scratch: failed nodes (index, status) of the current cycle, in visiting order.
    failed: Vec<(usize, Unfit)>,
    /// Scratch: (node index, weighted resource scores, intolerable PreferNoSchedule taints).
    scores: Vec<(usize, i64, i64)>,
    /// FitError message of the last cycle that did not bind.
    last_fit_error: String,
    /// Whether the last non-binding cycle clears the pod's nomination (upstream semantics).
    last_overrides_nomination_flag: bool,
}

impl Scheduler {
    /// A scheduler with `percentageOfNodesToScore` (`None` or `Some(0)` = adaptive:
    /// `50 - numAllNodes/125`, at least 5%, and at least 100 feasible nodes).
    pub fn new(percentage_of_nodes_to_score: Option<u32>) -> Self {
        Scheduler {
            percentage_of_nodes_to_score: percentage_of_nodes_to_score.unwrap_or(0).min(100),
            ..Default::default()
        }
    }

    /// Tells the next `schedule` calls that no pod bound to their nodes has a priority below
    /// `floor` (`None`: unknown). A pod whose priority is at most the floor cannot preempt
    /// anything, so the preemption dry run knows every node's answer ("No preemption victims
    /// found") without looking at its pods. The caller must keep the floor true; it only
    /// saves work, the decisions are the same.
    pub fn set_priority_floor(&mut self, floor: Option<i32>) {
        self.priority_floor = floor;
    }

    /// Upstream `nextStartNodeIndex`: where the next filter pass starts in the node list.
    pub fn next_start_node_index(&self) -> usize {
        self.next_start_node_index
    }

    /// The FailedScheduling message of the last `schedule` call that did not bind (for a
    /// `Preempt` decision: the filter diagnosis without preemption text, as upstream records it).
    pub fn last_fit_error(&self) -> &str {
        &self.last_fit_error
    }

    /// For the last `schedule` call that returned `Preempt` or `Unschedulable`: true if upstream
    /// would set the pod's `nominatedNodeName` (to the preemption node, or to "" when preemption
    /// found no candidate), false if it keeps the current nomination (not eligible to preempt).
    pub fn last_overrides_nomination(&self) -> bool {
        self.last_overrides_nomination_flag
    }

    /// `numFeasibleNodesToFind` (schedule_one.go): how many feasible nodes to find before
    /// stopping the filter pass.
    pub fn num_feasible_nodes_to_find(&self, num_all_nodes: usize) -> usize {
        if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND {
            return num_all_nodes;
        }
        let mut percentage = self.percentage_of_nodes_to_score as usize;
        if percentage == 0 {
            percentage = 50usize.saturating_sub(num_all_nodes / 125);
            if percentage < MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND {
                percentage = MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND;
            }
        }
        let num = num_all_nodes * percentage / 100;
        num.max(MIN_FEASIBLE_NODES_TO_FIND)
    }

    /// One scheduling cycle for `pod` over all `nodes` (the full node list, in a stable order):
    /// filter (with nominated pods), score, select; if no node fits, DefaultPreemption.
    ///
    /// `tie_break(n)` must return a uniformly random index in `0..n`; it is used for
    /// `selectHost`'s reservoir sampling among max-score nodes and for the random offset of the
    /// preemption dry run.
    pub fn schedule(
        &mut self,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
        pdbs: &[PdbInfo],
        tie_break: &mut dyn FnMut(usize) -> usize,
    ) -> Decision {
        self.schedule_with(pod, nodes, None, pdbs, tie_break)
    }

    /// [`Scheduler::schedule`] reading `table`, the [`NodeTable`] of `nodes` (kept current by
    /// the caller; checked in debug builds): the same decision and state, with less of the
    /// nodes read.
    pub fn schedule_in<'a, N: NodeList<'a> + ?Sized>(
        &mut self,
        pod: &PodInfo,
        nodes: &N,
        table: &mut NodeTable,
        pdbs: &[PdbInfo],
        tie_break: &mut dyn FnMut(usize) -> usize,
    ) -> Decision {
        debug_assert!(
            *table == NodeTable::of(nodes),
            "node table differs from a recount"
        );
        self.schedule_with(pod, nodes, Some(table), pdbs, tie_break)
    }

    fn schedule_with<'a, N: NodeList<'a> + ?Sized>(
        &mut self,
        pod: &PodInfo,
        nodes: &N,
        mut table: Option<&mut NodeTable>,
        pdbs: &[PdbInfo],
        tie_break: &mut dyn FnMut(usize) -> usize,
    ) -> Decision {
        let n = nodes.len();
        if n == 0 {
            self.last_fit_error = MSG_NO_NODES.to_string();
            self.last_overrides_nomination_flag = true;
            return Decision::Unschedulable {
                message: MSG_NO_NODES.to_string(),
            };
        }
        self.feasible.clear();
        self.failed.clear();

        // evaluateNominatedNode: a pod nominated by an earlier preemption tries that node first.
        let is_nominated = |nd: &NodeInfo| nd.nominated.iter().any(|p| p.id == pod.id);
        let nominated_node = match table.as_deref() {
            Some(t) => t
                .nominated
                .iter()
                .copied()
                .find(|&i| is_nominated(nodes.node(i))),
            None => (0..nodes.len()).position(|i| is_nominated(nodes.node(i))),
        };
        let mut nominated_status = None;
        if let Some(i) = nominated_node {
            match fits_with_nominated(pod, nodes.node(i)) {
                Ok(()) => return Decision::Bind { node: i },
                Err(u) => nominated_status = Some(u),
            }
        }

        // findNodesThatPassFilters, sequentially from nextStartNodeIndex.
        let num_to_find = self.num_feasible_nodes_to_find(n);
        let start = self.next_start_node_index % n;
        let mut visited_nominated = false;
        // With a table, for a pod without node selection: plain nodes are read from the
        // table (skipped by blocks that cannot hold the pod), the failed ones not listed (a
        // pass that finds no node visits them all: their statuses are read again below).
        let plain_pod = pod.constraints.node_selector.is_empty()
            && pod.constraints.required_node_affinity.is_empty();
        let mut processed = n;
        if let Some(t) = table.as_deref_mut().filter(|_| plain_pod) {
            // The walk from `start` to the end, then from the beginning to `start`: runs of
            // plain nodes whose (super-)block's free room cannot hold the pod are passed over,
            // reading only their nodes that are not plain.
            let req = &pod.requests;
            let visits = |j: usize| if j >= start { j - start } else { j + n - start };
            'walk: for (lo, hi) in [(start, n), (0, start)] {
                let mut idx = lo;
                while idx < hi {
                    let run = t.plain_fail_run(idx, hi, req);
                    let (stop, mut in_block) = if run > idx {
                        (run, None)
                    } else {
                        let b = idx / TABLE_BLOCK;
                        let stop = hi.min((b + 1) * TABLE_BLOCK);
                        let bits = t.candidates(b, req)
                            & bit_range(idx - b * TABLE_BLOCK, stop - b * TABLE_BLOCK);
                        (stop, Some((b, bits)))
                    };
                    let mut irregular =
                        t.irregular_in(idx, if in_block.is_some() { idx } else { stop });
                    loop {
                        // The next node to read: a plain one that fits (in a block read), or
                        // one that is not plain.
                        let j = match &mut in_block {
                            Some((b, bits)) => {
                                if *bits == 0 {
                                    break;
                                }
                                let k = bits.trailing_zeros() as usize;
                                *bits &= *bits - 1;
                                *b * TABLE_BLOCK + k
                            }
                            None => match irregular.next() {
                                Some(j) => j,
                                None => break,
                            },
                        };
                        let fits = t.rows[j].is_some() || {
                            visited_nominated |= Some(j) == nominated_node;
                            fits_with_nominated(pod, nodes.node(j)).is_ok()
                        };
                        if fits {
                            self.feasible.push(j);
                            if self.feasible.len() >= num_to_find {
                                processed = visits(j) + 1;
                                break 'walk;
                            }
                        }
                    }
                    idx = stop;
                }
            }
        }
        let plain = table.as_deref().filter(|_| plain_pod);
        if plain.is_none() {
            for i in 0..n {
                let idx = (start + i) % n;
                visited_nominated |= Some(idx) == nominated_node;
                match fits_with_nominated(pod, nodes.node(idx)) {
                    Ok(()) => {
                        self.feasible.push(idx);
                        if self.feasible.len() >= num_to_find {
                            break;
                        }
                    }
                    Err(u) => self.failed.push((idx, u)),
                }
            }
        }
        if plain.is_none() {
            processed = self.feasible.len() + self.failed.len();
        }
        if nominated_status.is_some() && !visited_nominated {
            // Its status is in the diagnosis map too.
            processed += 1;
        }
        self.next_start_node_index = (start + processed) % n;

        match self.feasible.len() {
            0 => {}
            1 => {
                return Decision::Bind {
                    node: self.feasible[0],
                };
            }
            _ => {
                return Decision::Bind {
                    node: self.select_host(pod, nodes, plain, tie_break),
                };
            }
        }

        // FitError diagnosis: every node failed (all were visited); the reason histogram
        // (few distinct reasons, counted in a short list: the order of counting does not reach
        // the message, whose parts are sorted) and the nodes preemption may help on
        // (Unschedulable, not UnschedulableAndUnresolvable), in node order.
        let mut keyed: Vec<(ReasonKey<'_>, usize)> = Vec::new();
        let count = add_reason;
        let mut potential: Vec<usize> = Vec::new();
        // Preemption only counts the potential nodes of a pod no bound pod has a lower
        // priority than: they are counted, not listed.
        let no_victims = self.priority_floor.is_some_and(|f| pod.priority <= f);
        let mut potential_count = 0usize;
        let mut nominated_unresolvable = None;
        if let Some(t) = table.filter(|_| plain_pod) {
            // Plain nodes fail on resources: their reasons counted here, without the nodes
            // (per block, once per request, when preemption needs no list).
            let (mut pods, mut cpu, mut memory) = (0, 0, 0);
            for b in 0..t.blocks.len() {
                let range = b * TABLE_BLOCK..((b + 1) * TABLE_BLOCK).min(n);
                if no_victims && t.irregular[b] == 0 {
                    let d = t.diagnose_block(b, &pod.requests);
                    pods += d.pods as usize;
                    cpu += d.cpu as usize;
                    memory += d.memory as usize;
                    potential_count += d.resolvable as usize;
                    continue;
                }
                for idx in range {
                    let (row, node) = (&t.rows[idx], nodes.node(idx));
                    let u = match row {
                        Some(r) => filter_resources(&pod.requests, &r.used, &r.allocatable),
                        None => fits_with_nominated(pod, node),
                    }
                    .expect_err("no node is feasible");
                    match (row, u) {
                        (Some(_), Unfit::Resources(r)) => {
                            pods += r.pods as usize;
                            cpu += r.cpu as usize;
                            memory += r.memory as usize;
                        }
                        _ => u.for_each_reason(|r| count(&mut keyed, r, 1)),
                    }
                    if u.is_resolvable() {
                        potential_count += 1;
                        if !no_victims {
                            potential.push(idx);
                        }
                    }
                    if Some(idx) == nominated_node {
                        nominated_unresolvable = Some(!u.is_resolvable());
                    }
                }
            }
            for (msg, c) in [
                (MSG_TOO_MANY_PODS, pods),
                (MSG_INSUFFICIENT_CPU, cpu),
                (MSG_INSUFFICIENT_MEMORY, memory),
            ] {
                if c > 0 {
                    count(&mut keyed, ReasonKey::Static(msg), c);
                }
            }
        } else {
            let mut statuses: Vec<Option<Unfit>> = vec![None; n];
            if let (Some(i), Some(u)) = (nominated_node, nominated_status) {
                statuses[i] = Some(u);
            }
            for &(i, u) in &self.failed {
                statuses[i] = Some(u);
            }
            for (i, s) in statuses.iter().enumerate() {
                if let Some(u) = s {
                    u.for_each_reason(|r| count(&mut keyed, r, 1));
                    if u.is_resolvable() {
                        potential.push(i);
                    }
                }
            }
            nominated_unresolvable =
                nominated_node.map(|i| statuses[i].is_some_and(|u| !u.is_resolvable()));
            potential_count = potential.len();
        }
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for (k, c) in keyed {
            *counts.entry(k.to_string()).or_default() += c;
        }
        let fit_error = fit_error_message(n, &counts);

        match preempt(
            pod,
            nodes,
            (&potential, potential_count),
            nominated_node.zip(nominated_unresolvable),
            pdbs,
            no_victims,
            tie_break,
        ) {
            PostFilter::Preempt {
                node,
                victims,
                all_victims,
            } => {
                // The PostFilter's success message joins the fit error
                // (preemption.go `Preempt`, prefixed by default_preemption.go `PostFilter`;
                // framework/types.go `FitError.Error`).
                self.last_fit_error = format!(
                    "{fit_error} preemption: found a potential placement for pod on node {}, preempting {all_victims} victims",
                    nodes.node(node).name
                );
                self.last_overrides_nomination_flag = true;
                Decision::Preempt { node, victims }
            }
            PostFilter::Fail { msg, clears } => {
                let message = format!("{fit_error} {msg}");
                self.last_fit_error = message.clone();
                self.last_overrides_nomination_flag = clears;
                Decision::Unschedulable { message }
            }
        }
    }

    /// prioritizeNodes + selectHost over `self.feasible` (at least two nodes).
    fn select_host<'a, N: NodeList<'a> + ?Sized>(
        &mut self,
        pod: &PodInfo,
        nodes: &N,
        table: Option<&NodeTable>,
        tie_break: &mut dyn FnMut(usize) -> usize,
    ) -> usize {
        let tols = &pod.constraints.tolerations;
        let pod_nz = non_zero(&pod.requests);
        // BalancedAllocation PreScore skips best-effort pods (no cpu/memory request).
        let best_effort = pod.requests.cpu_milli == 0 && pod.requests.memory == 0;
        self.scores.clear();
        let mut max_taints = 0;
        for &idx in &self.feasible {
            // A plain node's row holds what the scores read, but its PreferNoSchedule taints.
            let row = table.and_then(|t| t.rows[idx].as_ref());
            let (non_zero, requested, allocatable) = match row {
                Some(r) => (r.non_zero, r.used, &r.allocatable),
                None => {
                    let node = nodes.node(idx);
                    (
                        node_non_zero_requested(node),
                        node.requested,
                        &node.allocatable,
                    )
                }
            };
            let nz = non_zero + pod_nz;
            let mut base = WEIGHT_NODE_RESOURCES_FIT * least_allocated_score(&nz, allocatable);
            if !best_effort {
                let req = requested + pod.requests;
                base += WEIGHT_BALANCED_ALLOCATION * balanced_allocation_score(&req, allocatable);
            }
            let taints = if row.is_some_and(|r| !r.prefer_taints) {
                0
            } else {
                intolerable_prefer_no_schedule(tols, nodes.node(idx))
            };
            max_taints = max_taints.max(taints);
            self.scores.push((idx, base, taints));
        }
        // selectHost: reservoir sampling among the max-score nodes.
        let mut selected = self.scores[0].0;
        let mut max_score = i64::MIN;
        let mut count = 0usize;
        for &(idx, base, taints) in &self.scores {
            let total = base + WEIGHT_TAINT_TOLERATION * normalize_reversed(taints, max_taints);
            match total.cmp(&max_score) {
                Ordering::Greater => {
                    max_score = total;
                    selected = idx;
                    count = 1;
                }
                Ordering::Equal => {
                    count += 1;
                    if tie_break(count) == 0 {
                        selected = idx;
                    }
                }
                Ordering::Less => {}
            }
        }
        selected
    }
}

/// DefaultPreemption PostFilter (`Evaluator.Preempt`, preemption.go).
fn preempt<'a, N: NodeList<'a> + ?Sized>(
    pod: &PodInfo,
    nodes: &N,
    (potential, m): (&[usize], usize),
    nominated_node: Option<(usize, bool)>,
    pdbs: &[PdbInfo],
    no_victims_anywhere: bool,
    tie_break: &mut dyn FnMut(usize) -> usize,
) -> PostFilter {
    // 1) PodEligibleToPreemptOthers.
    if pod.constraints.preemption_never {
        return PostFilter::Fail {
            msg: "preemption: not eligible due to preemptionPolicy=Never.".into(),
            clears: false,
        };
    }
    if let Some((i, unresolvable)) = nominated_node
        && !unresolvable
        && nodes
            .node(i)
            .pods
            .iter()
            .any(|p| p.priority < pod.priority && p.terminating)
    {
        return PostFilter::Fail {
            msg: "preemption: not eligible due to a terminating pod on the nominated node.".into(),
            clears: false,
        };
    }
    let n = nodes.len();
    // 2) findCandidates: `potential`, the nodes whose status is Unschedulable (resolvable),
    // in node order.
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let fail = |counts: &mut BTreeMap<String, usize>, explicit: usize| {
        if explicit < n {
            *counts.entry(MSG_NOT_HELPFUL.to_string()).or_default() += n - explicit;
        }
        PostFilter::Fail {
            msg: format!("preemption: {}", fit_error_message(n, counts)),
            clears: true,
        }
    };
    debug_assert!(potential.len() == m || (no_victims_anywhere && potential.is_empty()));
    if m == 0 {
        return fail(&mut counts, 0);
    }
    let offset = tie_break(m) % m;
    let num_candidates = (m * MIN_CANDIDATE_NODES_PERCENTAGE / 100)
        .max(MIN_CANDIDATE_NODES_ABSOLUTE)
        .min(m);
    // DryRunPreemption (sequential emulation of the parallel loop with early cancel).
    let mut non_violating: Vec<Candidate<'_>> = Vec::new();
    let mut violating: Vec<Candidate<'_>> = Vec::new();
    let mut explicit = 0usize;
    let mut errors: Vec<String> = Vec::new();
    let mut no_victims = 0usize;
    // With no pod of a lower priority anywhere every dry run fails the same way: counted, not
    // run.
    let dry_runs = if no_victims_anywhere {
        explicit = m;
        no_victims = m;
        0
    } else {
        m
    };
    for k in 0..dry_runs {
        let idx = potential[(offset + k) % m];
        match select_victims_on_node(pod, nodes.node(idx), pdbs) {
            Ok(mut c) => {
                c.node = idx;
                if c.num_pdb_violations == 0 {
                    non_violating.push(c);
                } else {
                    violating.push(c);
                }
                if !non_violating.is_empty()
                    && non_violating.len() + violating.len() >= num_candidates
                {
                    break;
                }
            }
            Err(f) => {
                explicit += 1;
                match f {
                    // Counted without a map entry per node (the common case when no pod
                    // has a lower priority); added to `counts` once, below.
                    DryRunFailure::NoVictims => no_victims += 1,
                    DryRunFailure::Unfit(u) => {
                        u.for_each_reason(|r| *counts.entry(r.to_string()).or_default() += 1);
                    }
                    DryRunFailure::NoVictimNeeded => errors.push(format!(
                        "expected at least one victim pod on node {:?}",
                        &*nodes.node(idx).name
                    )),
                }
            }
        }
    }
    if no_victims > 0 {
        *counts.entry(MSG_NO_VICTIMS.to_string()).or_default() += no_victims;
    }
    non_violating.truncate(num_candidates);
    violating.truncate(num_candidates);
    let mut candidates = non_violating;
    candidates.append(&mut violating);
    if candidates.is_empty() {
        if !errors.is_empty() {
            let msg = if errors.len() == 1 {
                errors.remove(0)
            } else {
                format!("[{}]", errors.join(", "))
            };
            return PostFilter::Fail {
                msg: format!("preemption: {msg}"),
                clears: false,
            };
        }
        return fail(&mut counts, explicit);
    }
    // 4) SelectCandidate.
    let best = if candidates.len() == 1 {
        0
    } else {
        pick_one_node_for_preemption(&candidates)
    };
    let c = &candidates[best];
    PostFilter::Preempt {
        node: c.node,
        all_victims: c.victims.len(),
        // Victims already terminating need no deletion (upstream skips the API call for them).
        victims: c
            .victims
            .iter()
            .filter(|v| !v.terminating)
            .map(|v| v.id)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kscale_model::{Taint, TaintEffect};
    use proptest::prelude::*;

    const NEG: i32 = -100;
    const LOW: i32 = 0;
    const MID: i32 = 100;
    const HIGH: i32 = 1000;
    const VERY_HIGH: i32 = 10000;
    // default_preemption_test.go resource sizes (cpu milli, memory bytes).
    const SMALL: (i64, i64) = (100, 100);
    const MEDIUM: (i64, i64) = (200, 200);
    const LARGE: (i64, i64) = (300, 300);
    const VERY_LARGE: (i64, i64) = (500, 500);

    fn pod(id: u64, priority: i32, (cpu, mem): (i64, i64)) -> PodInfo {
        PodInfo {
            id,
            namespace: "default".into(),
            name: format!("p{id}").into(),
            labels: Arc::new(Labels::new()),
            requests: Resources {
                cpu_milli: cpu,
                memory: mem,
                pods: 1,
            },
            priority,
            start_time: SimTime::ZERO,
            terminating: false,
            constraints: Arc::new(PlacementConstraints::default()),
        }
    }

    fn started(mut p: PodInfo, ms: u64) -> PodInfo {
        p.start_time = SimTime::from_millis(ms);
        p
    }

    fn labeled(mut p: PodInfo, k: &str, v: &str) -> PodInfo {
        Arc::make_mut(&mut p.labels).insert(k.into(), v.into());
        p
    }

    fn with_constraints(mut p: PodInfo, c: PlacementConstraints) -> PodInfo {
        p.constraints = Arc::new(c);
        p
    }

    fn node(name: &str, (cpu, mem): (i64, i64), pods: i64) -> NodeInfo {
        NodeInfo {
            name: name.into(),
            labels: Labels::new(),
            taints: vec![],
            unschedulable: false,
            ready: true,
            allocatable: Resources {
                cpu_milli: cpu,
                memory: mem,
                pods,
            },
            requested: Resources::ZERO,
            pods: vec![],
            nominated: vec![],
        }
    }

    fn with_pods(mut n: NodeInfo, pods: Vec<PodInfo>) -> NodeInfo {
        for p in pods {
            n.requested += pod_usage(&p);
            n.pods.push(p);
        }
        n
    }

    fn taint(k: &str, v: &str, effect: TaintEffect) -> Taint {
        Taint {
            key: k.into(),
            value: v.into(),
            effect,
        }
    }

    fn tol(k: &str, op: TolerationOp, v: &str, effect: Option<TaintEffect>) -> Toleration {
        Toleration {
            key: k.into(),
            op,
            value: v.into(),
            effect,
        }
    }

    fn req(k: &str, op: SelectorOp, values: &[&str]) -> NodeSelectorRequirement {
        NodeSelectorRequirement {
            key: k.into(),
            op,
            values: values.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Runs one cycle with a tie-break that always answers `pick`.
    fn run_with(
        s: &mut Scheduler,
        p: &PodInfo,
        nodes: &[NodeInfo],
        pdbs: &[PdbInfo],
        pick: usize,
    ) -> Decision {
        let refs: Vec<&NodeInfo> = nodes.iter().collect();
        s.schedule(p, &refs, pdbs, &mut |n| pick.min(n - 1))
    }

    fn run(p: &PodInfo, nodes: &[NodeInfo], pdbs: &[PdbInfo]) -> Decision {
        run_with(&mut Scheduler::new(None), p, nodes, pdbs, 0)
    }

    fn unschedulable(msg: &str) -> Decision {
        Decision::Unschedulable {
            message: msg.into(),
        }
    }

    fn one_pod_node(name: &str) -> NodeInfo {
        // st.MakeNode().Capacity(onePodRes): pods 1, no cpu/memory.
        node(name, (0, 0), 1)
    }

    fn victim_ids(c: &Candidate<'_>) -> Vec<u64> {
        let mut v: Vec<u64> = c.victims.iter().map(|p| p.id).collect();
        v.sort();
        v
    }

    /// A true priority floor changes no decision: with the floor at the pod's priority the
    /// dry run skips every node, and the FailedScheduling message is the same as when it
    /// looks at each node's pods; a floor below the pod's priority still finds the victim.
    #[test]
    fn priority_floor_gives_the_same_decisions() {
        let full = |name: &str, prio: i32| {
            with_pods(
                node(name, (1000, 1 << 30), 10),
                vec![pod(7, prio, (1000, 0))],
            )
        };
        let nodes = [full("a", LOW), full("b", LOW), full("c", LOW)];
        let p = pod(100, LOW, (500, 0));
        let without = run_with(&mut Scheduler::new(None), &p, &nodes, &[], 1);
        let mut s = Scheduler::new(None);
        s.set_priority_floor(Some(LOW));
        let with = run_with(&mut s, &p, &nodes, &[], 1);
        assert!(
            matches!(without, Decision::Unschedulable { .. }),
            "{without:?}"
        );
        assert_eq!(with, without);
        // A higher-priority pod is above the floor: it preempts as without one.
        let high = pod(101, HIGH, (500, 0));
        let without = run_with(&mut Scheduler::new(None), &high, &nodes, &[], 1);
        let mut s = Scheduler::new(None);
        s.set_priority_floor(Some(LOW));
        assert!(matches!(without, Decision::Preempt { .. }), "{without:?}");
        assert_eq!(run_with(&mut s, &high, &nodes, &[], 1), without);
    }

    /// `schedule_in` over a [`NodeTable`] decides as `schedule` does, with the same
    /// round-robin start, messages and tie-break draws, over 150 nodes (blocks of plain nodes
    /// full, with room, and blocks holding cordoned, tainted, not-ready and nominated nodes)
    /// while binds fill them (the table refreshed at the bound node), for pods with and
    /// without a nodeSelector and above and below the bound pods' priorities.
    #[test]
    fn node_table_gives_the_same_decisions() {
        table_decides_as_schedule(150, 150, 40..110, 17);
    }

    /// The same over 2,500 nodes: special nodes only among the first 300, nodes 1,000..2,300
    /// full (whole blocks and a whole super-block skipped, their failures counted per block).
    #[test]
    fn node_table_skips_super_blocks_with_the_same_decisions() {
        table_decides_as_schedule(2500, 300, 1000..2300, 0);
    }

    /// A block's counted failures are counted again once a node of it changes: the same pod
    /// fails before and after a node of a full block fills up on pods, with the message of a
    /// recount.
    #[test]
    fn node_table_counts_a_changed_block_again() {
        let mut nodes: Vec<NodeInfo> = (0..64)
            .map(|i| {
                let n = node(&format!("n{i:02}"), (4000, 16 << 30), 8);
                with_pods(n, vec![pod(10_000 + i as u64, LOW, (3500, 1 << 30))])
            })
            .collect();
        let mut s = Scheduler::new(None);
        s.set_priority_floor(Some(LOW));
        let big = pod(1, LOW, (1000, 1 << 28));
        let refs: Vec<&NodeInfo> = nodes.iter().collect();
        let mut table = NodeTable::new(&refs);
        let first = s.schedule_in(&big, &refs[..], &mut table, &[], &mut |_| 0);
        let Decision::Unschedulable { message } = first else {
            panic!("{first:?}")
        };
        assert!(message.starts_with("0/64 nodes are available: 64 Insufficient cpu."));
        // Node 5 gets 7 more (best-effort) pods: it is now full on pods too.
        for k in 0..7 {
            nodes[5].pods.push(pod(20_000 + k, LOW, (0, 0)));
        }
        table.refresh(5, &nodes[5]);
        let refs: Vec<&NodeInfo> = nodes.iter().collect();
        let again = s.schedule_in(&big, &refs[..], &mut table, &[], &mut |_| 0);
        let mut fresh = Scheduler::new(None);
        fresh.set_priority_floor(Some(LOW));
        let recount = fresh.schedule(&big, &refs, &[], &mut |_| 0);
        assert_eq!(again, recount);
        let Decision::Unschedulable { message } = again else {
            panic!("{again:?}")
        };
        assert!(
            message.starts_with("0/64 nodes are available: 1 Too many pods, 64 Insufficient cpu."),
            "{message}"
        );
    }

    /// The same over 2,500 nodes with cordoned, tainted, not-ready and nominated nodes
    /// everywhere, nodes 200..2,400 full: the blocks and super-blocks passed over for their
    /// plain nodes still have their other nodes read, in order.
    #[test]
    fn node_table_reads_special_nodes_of_blocks_passed_over() {
        table_decides_as_schedule(2500, 2500, 200..2400, 0);
    }

    /// The same over 300 nodes, all full but the first 40: most failures are counted per
    /// block of plain nodes, binds change the blocks in between.
    #[test]
    fn node_table_counts_failures_per_block_with_the_same_decisions() {
        table_decides_as_schedule(300, 40, 40..300, 0);
    }

    /// Binds and failures of 400 pods over `count` nodes, with `schedule` and with
    /// `schedule_in` over a kept table: nodes in `full` are full on CPU but every
    /// `room_every`-th (0: none), nodes below `special_below` include cordoned, tainted,
    /// not-ready and nominated ones.
    fn table_decides_as_schedule(
        count: usize,
        special_below: usize,
        full: std::ops::Range<usize>,
        room_every: usize,
    ) {
        let mut nodes: Vec<NodeInfo> = (0..count)
            .map(|i| {
                let mut n = node(&format!("n{i:04}"), (4000, 16 << 30), 8);
                // Nodes in `full` full on CPU, a few with room left scattered in.
                let used = if full.contains(&i) && (room_every == 0 || i % room_every != 0) {
                    4000
                } else {
                    1000 * (i % 4) as i64
                };
                n = with_pods(n, vec![pod(10_000 + i as u64, LOW, (used, 1 << 30))]);
                match i % 37 {
                    _ if i >= special_below => {}
                    3 => n.unschedulable = true,
                    5 => n
                        .taints
                        .push(taint("dedicated", "x", TaintEffect::NoSchedule)),
                    7 => n.ready = false,
                    11 => n
                        .taints
                        .push(taint("soft", "y", TaintEffect::PreferNoSchedule)),
                    13 => n.nominated.push(pod(20_000 + i as u64, HIGH, (500, 0))),
                    _ => {}
                }
                if i % 2 == 0 {
                    n.labels.insert("zone".into(), "a".into());
                }
                n
            })
            .collect();
        let mut plain_s = Scheduler::new(None);
        let mut table_s = Scheduler::new(None);
        plain_s.set_priority_floor(Some(LOW));
        table_s.set_priority_floor(Some(LOW));
        let mut seed = 7u64;
        let draws = |n: usize, seed: &mut u64| {
            *seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (*seed >> 33) as usize % n
        };
        let refs: Vec<&NodeInfo> = nodes.iter().collect();
        let mut table = NodeTable::new(&refs);
        let (mut binds, mut fails) = (0, 0);
        for k in 0..400u64 {
            let cpu = [500, 1500, 3000, 5000][(k % 4) as usize];
            let mut p = pod(k, if k % 5 == 0 { HIGH } else { LOW }, (cpu, 1 << 28));
            if k % 7 == 0 {
                let mut c = PlacementConstraints::default();
                c.node_selector.insert("zone".into(), "a".into());
                p = with_constraints(p, c);
            }
            let refs: Vec<&NodeInfo> = nodes.iter().collect();
            let (mut s1, mut s2) = (seed, seed);
            let a = plain_s.schedule(&p, &refs, &[], &mut |n| draws(n, &mut s1));
            let b = table_s.schedule_in(&p, &refs[..], &mut table, &[], &mut |n| draws(n, &mut s2));
            assert_eq!(a, b, "pod {k}");
            assert_eq!(s1, s2, "pod {k}: tie-break draws");
            assert_eq!(
                plain_s.next_start_node_index(),
                table_s.next_start_node_index()
            );
            assert_eq!(
                plain_s.last_fit_error(),
                table_s.last_fit_error(),
                "pod {k}"
            );
            seed = s1;
            match a {
                Decision::Bind { node } => {
                    binds += 1;
                    nodes[node].requested += pod_usage(&p);
                    nodes[node].pods.push(p);
                    table.refresh(node, &nodes[node]);
                }
                _ => fails += 1,
            }
        }
        assert!(binds > 50 && fails > 50, "binds {binds}, fails {fails}");
        let refs: Vec<&NodeInfo> = nodes.iter().collect();
        assert_eq!(table, NodeTable::new(&refs));
    }

    // ---- default_preemption_test.go: TestPostFilter ----------------------------------------

    // TestPostFilter "pod with higher priority can be made schedulable".
    #[test]
    fn post_filter_higher_priority_nominates_node1() {
        let nodes = [with_pods(one_pod_node("node1"), vec![pod(1, LOW, (0, 0))])];
        let mut s = Scheduler::new(None);
        let d = run_with(&mut s, &pod(100, HIGH, (0, 0)), &nodes, &[], 0);
        assert_eq!(
            d,
            Decision::Preempt {
                node: 0,
                victims: vec![1]
            }
        );
        // v1.37: the PostFilter's success message joins the event (preemption.go `Preempt`).
        assert_eq!(
            s.last_fit_error(),
            "0/1 nodes are available: 1 Too many pods. preemption: found a potential placement for pod on node node1, preempting 1 victims"
        );
        assert!(s.last_overrides_nomination());
    }

    // TestPostFilter "pod with tied priority is still unschedulable".
    #[test]
    fn post_filter_tied_priority_no_victims() {
        let nodes = [with_pods(one_pod_node("node1"), vec![pod(1, LOW, (0, 0))])];
        let mut s = Scheduler::new(None);
        assert_eq!(
            run_with(&mut s, &pod(100, LOW, (0, 0)), &nodes, &[], 0),
            unschedulable(
                "0/1 nodes are available: 1 Too many pods. preemption: 0/1 nodes are available: \
                 1 No preemption victims found for incoming pod."
            )
        );
        assert!(s.last_overrides_nomination());
    }

    // TestPostFilter "preemption should respect filteredNodesStatuses" (the node's status is
    // UnschedulableAndUnresolvable: here it is cordoned).
    #[test]
    fn post_filter_unresolvable_node_not_helpful() {
        let mut n1 = with_pods(one_pod_node("node1"), vec![pod(1, LOW, (0, 0))]);
        n1.unschedulable = true;
        assert_eq!(
            run(&pod(100, HIGH, (0, 0)), &[n1], &[]),
            unschedulable(
                "0/1 nodes are available: 1 node(s) were unschedulable. preemption: 0/1 nodes are \
                 available: 1 Preemption is not helpful for scheduling."
            )
        );
    }

    // TestPostFilter "pod can be made schedulable on one node".
    #[test]
    fn post_filter_schedulable_on_one_node() {
        let nodes = [
            with_pods(one_pod_node("node1"), vec![pod(1, HIGH, (0, 0))]),
            with_pods(one_pod_node("node2"), vec![pod(2, LOW, (0, 0))]),
        ];
        assert_eq!(
            run(&pod(100, MID, (0, 0)), &nodes, &[]),
            Decision::Preempt {
                node: 1,
                victims: vec![2]
            }
        );
    }

    // TestPostFilter "pod can be made schedulable on minHighestPriority node" (PDBs).
    #[test]
    fn post_filter_min_highest_priority_node_with_pdbs() {
        let key = "test.kubernetes.io/is-violating-pdb";
        let nodes = [
            with_pods(
                one_pod_node("node1"),
                vec![
                    labeled(pod(1, HIGH, (0, 0)), key, "non-violating"),
                    labeled(pod(2, LOW, (0, 0)), key, "violating"),
                ],
            ),
            with_pods(
                one_pod_node("node2"),
                vec![labeled(pod(3, MID, (0, 0)), key, "violating")],
            ),
        ];
        let pdbs = [
            PdbInfo {
                namespace: "default".into(),
                selector: LabelSelector::from_labels(labels(&[(key, "violating")])),
                disruptions_allowed: 0,
            },
            PdbInfo {
                namespace: "default".into(),
                selector: LabelSelector::from_labels(labels(&[(key, "non-violating")])),
                disruptions_allowed: i32::MAX,
            },
        ];
        assert_eq!(
            run(&pod(100, VERY_HIGH, (0, 0)), &nodes, &pdbs),
            Decision::Preempt {
                node: 1,
                victims: vec![3]
            }
        );
    }

    // TestPostFilter "no candidate nodes found, no enough resource after removing low priority
    // pods". Upstream feeds the statuses in by hand; run end to end, a pod larger than the node
    // is UnschedulableAndUnresolvable (fit.go `Unresolvable`), so preemption is not helpful.
    #[test]
    fn post_filter_pod_larger_than_nodes() {
        let nodes = [
            with_pods(node("node1", (200, 400), 32), vec![pod(1, LOW, (0, 0))]),
            with_pods(node("node2", (200, 400), 32), vec![pod(2, LOW, (0, 0))]),
        ];
        assert_eq!(
            run(&pod(100, HIGH, LARGE), &nodes, &[]),
            unschedulable(
                "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are \
                 available: 2 Preemption is not helpful for scheduling."
            )
        );
    }

    // Same TestPostFilter case with resolvable nodes: removing the low-priority pods is not
    // enough, so the dry run reports the filter reason: "preemption: 0/2 nodes are available:
    // 2 Insufficient cpu."
    #[test]
    fn post_filter_not_enough_after_removing_low_priority() {
        let mk = |name: &str, base: u64| {
            with_pods(
                node(name, (400, 400), 32),
                vec![pod(base, HIGH, (200, 0)), pod(base + 1, LOW, (0, 0))],
            )
        };
        let nodes = [mk("node1", 1), mk("node2", 3)];
        assert_eq!(
            run(&pod(100, HIGH, LARGE), &nodes, &[]),
            unschedulable(
                "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are \
                 available: 2 Insufficient cpu."
            )
        );
    }

    // TestPostFilter "no candidate nodes found with mixed reasons, no lower priority pod and no
    // enough CPU resource".
    #[test]
    fn post_filter_mixed_reasons() {
        let nodes = [
            with_pods(node("node1", (1000, 1000), 1), vec![pod(1, HIGH, (0, 0))]),
            with_pods(
                node("node2", (400, 400), 32),
                vec![pod(2, HIGH, (200, 0)), pod(3, LOW, (0, 0))],
            ),
            with_pods(node("node3", (1000, 1000), 1), vec![pod(4, HIGH, (0, 0))]),
        ];
        assert_eq!(
            run(&pod(100, HIGH, LARGE), &nodes, &[]),
            unschedulable(
                "0/3 nodes are available: 1 Insufficient cpu, 2 Too many pods. preemption: 0/3 \
                 nodes are available: 1 Insufficient cpu, 2 No preemption victims found for \
                 incoming pod."
            )
        );
    }

    // TestPostFilter "no candidate nodes found with mixed reason, 2 UnschedulableAndUnresolvable
    // nodes and 2 nodes don't have enough CPU resource".
    #[test]
    fn post_filter_two_unresolvable_two_insufficient() {
        let mk = |name: &str, base: u64| {
            with_pods(
                node(name, (400, 400), 32),
                vec![pod(base, HIGH, (200, 0)), pod(base + 1, LOW, (0, 0))],
            )
        };
        let mut n3 = node("node3", (400, 400), 32);
        n3.taints = vec![taint("CriticalAddonsOnly", "true", TaintEffect::NoSchedule)];
        let mut n4 = node("node4", (400, 400), 32);
        n4.unschedulable = true;
        let nodes = [mk("node1", 1), mk("node2", 3), n3, n4];
        assert_eq!(
            run(&pod(100, HIGH, LARGE), &nodes, &[]),
            unschedulable(
                "0/4 nodes are available: 1 node(s) had untolerated taint(s), 1 node(s) were unschedulable, 2 Insufficient cpu. preemption: 0/4 nodes \
                 are available: 2 Insufficient cpu, 2 Preemption is not helpful for scheduling."
            )
        );
    }

    // The example of the task brief: one node short of cpu with no lower-priority pods, two
    // tainted nodes.
    #[test]
    fn post_filter_message_with_taints() {
        let mut tainted = node("n2", (4000, 1 << 30), 110);
        tainted.taints = vec![taint("CriticalAddonsOnly", "true", TaintEffect::NoSchedule)];
        let nodes = [
            with_pods(
                node("n1", (1000, 1 << 30), 110),
                vec![pod(1, LOW, (900, 0))],
            ),
            tainted.clone(),
            tainted,
        ];
        assert_eq!(
            run(&pod(100, LOW, (500, 0)), &nodes, &[]),
            unschedulable(
                "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint(s). preemption: 0/3 nodes are available: 1 No \
                 preemption victims found for incoming pod, 2 Preemption is not helpful for \
                 scheduling."
            )
        );
    }

    // ---- TestPodEligibleToPreemptOthers -----------------------------------------------------

    // TestPodEligibleToPreemptOthers "Pod with preemptionPolicy=Never".
    #[test]
    fn eligible_preemption_policy_never() {
        let nodes = [with_pods(one_pod_node("node1"), vec![pod(1, LOW, (0, 0))])];
        let never = with_constraints(
            pod(100, HIGH, (0, 0)),
            PlacementConstraints {
                preemption_never: true,
                ..Default::default()
            },
        );
        let mut s = Scheduler::new(None);
        assert_eq!(
            run_with(&mut s, &never, &nodes, &[], 0),
            unschedulable(
                "0/1 nodes are available: 1 Too many pods. preemption: not eligible due to \
                 preemptionPolicy=Never."
            )
        );
        assert!(!s.last_overrides_nomination());
    }

    // TestPodEligibleToPreemptOthers "Pod with nominated node": a lower-priority pod on the
    // nominated node is still terminating, so the pod waits.
    #[test]
    fn eligible_terminating_pod_on_nominated_node() {
        let p = pod(100, HIGH, (0, 0));
        let mut victim = pod(1, LOW, (0, 0));
        victim.terminating = true;
        let mut n1 = with_pods(one_pod_node("node1"), vec![victim]);
        n1.nominated = vec![p.clone()];
        let mut s = Scheduler::new(None);
        assert_eq!(
            run_with(&mut s, &p, &[n1], &[], 0),
            unschedulable(
                "0/1 nodes are available: 1 Too many pods. preemption: not eligible due to a \
                 terminating pod on the nominated node."
            )
        );
        assert!(!s.last_overrides_nomination());
    }

    // TestPodEligibleToPreemptOthers "Pod with nominated node, but the node is
    // UnschedulableAndUnresolvable": eligible again (here no other candidate exists).
    #[test]
    fn eligible_when_nominated_node_unresolvable() {
        let p = pod(100, HIGH, (0, 0));
        let mut victim = pod(1, LOW, (0, 0));
        victim.terminating = true;
        let mut n1 = with_pods(one_pod_node("node1"), vec![victim]);
        n1.nominated = vec![p.clone()];
        n1.unschedulable = true;
        assert_eq!(
            run(&p, &[n1], &[]),
            unschedulable(
                "0/1 nodes are available: 1 node(s) were unschedulable. preemption: 0/1 nodes \
                 are available: 1 Preemption is not helpful for scheduling."
            )
        );
    }

    // Terminating lower-priority pods free room in the dry run but are not deleted again
    // (preemption.go prepareCandidate skips victims with a deletion timestamp).
    #[test]
    fn terminating_victims_are_not_reported() {
        let mut t = pod(1, LOW, (0, 0));
        t.terminating = true;
        let nodes = [with_pods(one_pod_node("node1"), vec![t])];
        assert_eq!(
            run(&pod(100, HIGH, (0, 0)), &nodes, &[]),
            Decision::Preempt {
                node: 0,
                victims: vec![]
            }
        );
    }

    // ---- TestDryRunPreemption (nodes of veryLargeRes: 500m / 500 / 32 pods) -----------------

    fn vl_node(name: &str, pods: Vec<PodInfo>) -> NodeInfo {
        with_pods(node(name, VERY_LARGE, 32), pods)
    }

    // TestDryRunPreemption "a pod that fits on both nodes when lower priority pods are preempted".
    #[test]
    fn dry_run_fits_on_both_nodes() {
        let p = pod(100, HIGH, LARGE);
        let n1 = vl_node("node1", vec![pod(1, MID, LARGE)]);
        let n2 = vl_node("node2", vec![pod(2, MID, LARGE)]);
        let c1 = select_victims_on_node(&p, &n1, &[]).ok().unwrap();
        let c2 = select_victims_on_node(&p, &n2, &[]).ok().unwrap();
        assert_eq!((victim_ids(&c1), c1.num_pdb_violations), (vec![1], 0));
        assert_eq!((victim_ids(&c2), c2.num_pdb_violations), (vec![2], 0));
        // Every criterion ties: the first candidate of the dry run (offset 0) wins.
        assert_eq!(
            run(&p, &[n1, n2], &[]),
            Decision::Preempt {
                node: 0,
                victims: vec![1]
            }
        );
    }

    // TestDryRunPreemption "a pod that would fit on the nodes, but other pods running are higher
    // priority, no preemption would happen".
    #[test]
    fn dry_run_higher_priority_pods_no_preemption() {
        let nodes = [
            vl_node("node1", vec![pod(1, MID, LARGE)]),
            vl_node("node2", vec![pod(2, MID, LARGE)]),
        ];
        assert_eq!(
            run(&pod(100, LOW, LARGE), &nodes, &[]),
            unschedulable(
                "0/2 nodes are available: 2 Insufficient cpu, 2 Insufficient memory. preemption: \
                 0/2 nodes are available: 2 No preemption victims found for incoming pod."
            )
        );
    }

    // TestDryRunPreemption "medium priority pod is preempted, but lower priority one stays as it
    // is small".
    #[test]
    fn dry_run_low_small_reprieved() {
        let p = pod(100, HIGH, LARGE);
        let n1 = vl_node("node1", vec![pod(11, LOW, SMALL), pod(12, MID, LARGE)]);
        let n2 = vl_node("node2", vec![pod(2, MID, LARGE)]);
        assert_eq!(
            victim_ids(&select_victims_on_node(&p, &n1, &[]).ok().unwrap()),
            vec![12]
        );
        assert_eq!(
            victim_ids(&select_victims_on_node(&p, &n2, &[]).ok().unwrap()),
            vec![2]
        );
    }

    // TestDryRunPreemption "mixed priority pods are preempted".
    #[test]
    fn dry_run_mixed_priority() {
        let p = pod(100, HIGH, LARGE);
        let n1 = vl_node(
            "node1",
            vec![
                pod(11, MID, SMALL),
                pod(12, LOW, SMALL),
                pod(13, MID, MEDIUM),
                pod(14, HIGH, SMALL),
            ],
        );
        let n2 = vl_node("node2", vec![pod(2, HIGH, LARGE)]);
        assert_eq!(
            victim_ids(&select_victims_on_node(&p, &n1, &[]).ok().unwrap()),
            vec![12, 13]
        );
        assert!(matches!(
            select_victims_on_node(&p, &n2, &[]),
            Err(DryRunFailure::NoVictims)
        ));
        assert_eq!(
            run(&p, &[n1, n2], &[]),
            Decision::Preempt {
                node: 0,
                victims: vec![13, 12]
            }
        );
    }

    // TestDryRunPreemption "mixed priority pods are preempted, pick later StartTime one when
    // priorities are equal".
    #[test]
    fn dry_run_later_started_victim_chosen() {
        let p = pod(100, HIGH, LARGE);
        let n1 = vl_node(
            "node1",
            vec![
                started(pod(11, LOW, SMALL), 5),
                started(pod(12, LOW, SMALL), 4),
                started(pod(13, MID, MEDIUM), 3),
                started(pod(14, HIGH, SMALL), 2),
            ],
        );
        let c = select_victims_on_node(&p, &n1, &[]).ok().unwrap();
        // Most important first.
        assert_eq!(
            c.victims.iter().map(|v| v.id).collect::<Vec<_>>(),
            vec![13, 11]
        );
    }

    // TestDryRunPreemption "preemption with violation of same pdb".
    #[test]
    fn dry_run_pdb_violation() {
        let p = pod(100, HIGH, VERY_LARGE);
        let n1 = vl_node(
            "node1",
            vec![
                labeled(pod(11, MID, MEDIUM), "app", "foo"),
                labeled(pod(12, MID, MEDIUM), "app", "foo"),
            ],
        );
        let pdbs = [PdbInfo {
            namespace: "default".into(),
            selector: LabelSelector::from_labels(labels(&[("app", "foo")])),
            disruptions_allowed: 1,
        }];
        let c = select_victims_on_node(&p, &n1, &pdbs).ok().unwrap();
        assert_eq!((victim_ids(&c), c.num_pdb_violations), (vec![11, 12], 1));
        // A PDB in another namespace, or with an empty selector, matches nothing.
        let other = [
            PdbInfo {
                namespace: "kube-system".into(),
                ..pdbs[0].clone()
            },
            PdbInfo {
                selector: LabelSelector::default(),
                ..pdbs[0].clone()
            },
        ];
        let c = select_victims_on_node(&p, &n1, &other).ok().unwrap();
        assert_eq!((victim_ids(&c), c.num_pdb_violations), (vec![11, 12], 0));
    }

    // ---- TestSelectBestCandidate (nodes of veryLargeRes) ------------------------------------

    fn best_node(p: &PodInfo, nodes: &[NodeInfo]) -> String {
        match run(p, nodes, &[]) {
            Decision::Preempt { node, .. } => nodes[node].name.to_string(),
            d => panic!("expected preemption, got {d:?}"),
        }
    }

    // TestSelectBestCandidate "node with min highest priority pod is picked".
    #[test]
    fn select_min_highest_priority() {
        let nodes = [
            vl_node("node1", vec![pod(11, MID, MEDIUM), pod(12, MID, LARGE)]),
            vl_node("node2", vec![pod(21, MID, MEDIUM), pod(22, LOW, MEDIUM)]),
            vl_node("node3", vec![pod(31, LOW, MEDIUM), pod(32, LOW, MEDIUM)]),
        ];
        assert_eq!(best_node(&pod(100, HIGH, VERY_LARGE), &nodes), "node3");
    }

    // TestSelectBestCandidate "when highest priorities are the same, minimum sum of priorities
    // is picked".
    #[test]
    fn select_min_sum_of_priorities() {
        let nodes = [
            vl_node("node1", vec![pod(11, MID, MEDIUM), pod(12, MID, LARGE)]),
            vl_node("node2", vec![pod(21, MID, LARGE), pod(22, LOW, MEDIUM)]),
            vl_node("node3", vec![pod(31, MID, MEDIUM), pod(32, MID, MEDIUM)]),
        ];
        assert_eq!(best_node(&pod(100, HIGH, VERY_LARGE), &nodes), "node2");
    }

    // TestSelectBestCandidate "when highest priority and sum are the same, minimum number of
    // pods is picked".
    #[test]
    fn select_min_number_of_pods() {
        let nodes = [
            vl_node(
                "node1",
                vec![
                    pod(11, MID, SMALL),
                    pod(12, NEG, SMALL),
                    pod(13, MID, SMALL),
                    pod(14, NEG, SMALL),
                ],
            ),
            vl_node("node2", vec![pod(21, MID, LARGE), pod(22, NEG, MEDIUM)]),
            vl_node(
                "node3",
                vec![
                    pod(31, MID, MEDIUM),
                    pod(32, NEG, SMALL),
                    pod(33, LOW, SMALL),
                ],
            ),
        ];
        assert_eq!(best_node(&pod(100, HIGH, VERY_LARGE), &nodes), "node2");
    }

    // TestSelectBestCandidate "sum of adjusted priorities is considered".
    #[test]
    fn select_sum_of_adjusted_priorities() {
        let nodes = [
            vl_node(
                "node1",
                vec![
                    pod(11, MID, SMALL),
                    pod(12, NEG, SMALL),
                    pod(13, NEG, SMALL),
                ],
            ),
            vl_node("node2", vec![pod(21, MID, LARGE), pod(22, NEG, MEDIUM)]),
            vl_node(
                "node3",
                vec![
                    pod(31, MID, MEDIUM),
                    pod(32, NEG, SMALL),
                    pod(33, LOW, SMALL),
                ],
            ),
        ];
        assert_eq!(best_node(&pod(100, HIGH, VERY_LARGE), &nodes), "node2");
    }

    // TestSelectBestCandidate "non-overlapping lowest high priority, sum priorities, and number
    // of pods".
    #[test]
    fn select_non_overlapping_criteria() {
        let nodes = [
            vl_node(
                "node1",
                vec![
                    pod(11, MID, SMALL),
                    pod(12, LOW, SMALL),
                    pod(13, LOW, SMALL),
                ],
            ),
            vl_node("node2", vec![pod(21, HIGH, LARGE)]),
            vl_node(
                "node3",
                vec![
                    pod(31, MID, MEDIUM),
                    pod(32, LOW, SMALL),
                    pod(33, LOW, SMALL),
                    pod(34, LOW, MEDIUM),
                ],
            ),
            vl_node(
                "node4",
                vec![
                    pod(41, MID, MEDIUM),
                    pod(42, MID, SMALL),
                    pod(43, MID, SMALL),
                    pod(44, NEG, SMALL),
                ],
            ),
        ];
        assert_eq!(best_node(&pod(100, VERY_HIGH, VERY_LARGE), &nodes), "node1");
    }

    // TestSelectBestCandidate "same priority, same number of victims, different start time for
    // each node's pod".
    #[test]
    fn select_latest_start_time_per_node() {
        let nodes = [
            vl_node(
                "node1",
                vec![
                    started(pod(11, MID, MEDIUM), 2),
                    started(pod(12, MID, MEDIUM), 2),
                ],
            ),
            vl_node(
                "node2",
                vec![
                    started(pod(21, MID, MEDIUM), 3),
                    started(pod(22, MID, MEDIUM), 3),
                ],
            ),
            vl_node(
                "node3",
                vec![
                    started(pod(31, MID, MEDIUM), 1),
                    started(pod(32, MID, MEDIUM), 1),
                ],
            ),
        ];
        assert_eq!(best_node(&pod(100, HIGH, VERY_LARGE), &nodes), "node2");
    }

    // TestSelectBestCandidate "same priority, same number of victims, different start time for
    // all pods".
    #[test]
    fn select_latest_earliest_start_time() {
        let nodes = [
            vl_node(
                "node1",
                vec![
                    started(pod(11, MID, MEDIUM), 4),
                    started(pod(12, MID, MEDIUM), 2),
                ],
            ),
            vl_node(
                "node2",
                vec![
                    started(pod(21, MID, MEDIUM), 5),
                    started(pod(22, MID, MEDIUM), 1),
                ],
            ),
            vl_node(
                "node3",
                vec![
                    started(pod(31, MID, MEDIUM), 3),
                    started(pod(32, MID, MEDIUM), 6),
                ],
            ),
        ];
        assert_eq!(best_node(&pod(100, HIGH, VERY_LARGE), &nodes), "node3");
    }

    // TestSelectBestCandidate "different priority, same number of victims, different start time
    // for all pods".
    #[test]
    fn select_start_time_of_highest_priority_victims() {
        let nodes = [
            vl_node(
                "node1",
                vec![
                    started(pod(11, LOW, MEDIUM), 4),
                    started(pod(12, MID, MEDIUM), 2),
                ],
            ),
            vl_node(
                "node2",
                vec![
                    started(pod(21, MID, MEDIUM), 6),
                    started(pod(22, LOW, MEDIUM), 1),
                ],
            ),
            vl_node(
                "node3",
                vec![
                    started(pod(31, LOW, MEDIUM), 3),
                    started(pod(32, MID, MEDIUM), 5),
                ],
            ),
        ];
        assert_eq!(best_node(&pod(100, HIGH, VERY_LARGE), &nodes), "node2");
    }

    // Preemption offset: the dry run starts at tie_break(#potential nodes) and the first
    // candidate wins full ties (TestDryRunPreemption uses a seeded getOffsetRand).
    #[test]
    fn preemption_offset_from_tie_break() {
        let p = pod(100, HIGH, LARGE);
        let nodes = [
            vl_node("node1", vec![pod(1, MID, LARGE)]),
            vl_node("node2", vec![pod(2, MID, LARGE)]),
        ];
        let mut s = Scheduler::new(None);
        assert_eq!(
            run_with(&mut s, &p, &nodes, &[], 1),
            Decision::Preempt {
                node: 1,
                victims: vec![2]
            }
        );
    }

    // ---- noderesources/fit_test.go ----------------------------------------------------------

    // TestEnoughRequests: node allocatable cpu 10m, memory 20, pods 32.
    #[test]
    fn fit_enough_requests() {
        let n = |used: (i64, i64)| with_pods(node("n", (10, 20), 32), vec![pod(1, 0, used)]);
        // "no resources requested always fits"
        assert_eq!(fits(&pod(100, 0, (0, 0)), &n((10, 20))), Ok(()));
        // "too many resources fails"
        let e = fits(&pod(100, 0, (1, 1)), &n((10, 20))).unwrap_err();
        assert_eq!(
            e,
            Unfit::Resources(InsufficientResources {
                pods: false,
                cpu: true,
                memory: true,
                unresolvable: false
            })
        );
        assert!(e.is_resolvable());
        assert_eq!(e.reasons(), vec!["Insufficient cpu", "Insufficient memory"]);
        // "one resource memory fits"
        assert_eq!(
            fits(&pod(100, 0, (3, 1)), &n((8, 19)))
                .unwrap_err()
                .reasons(),
            vec!["Insufficient cpu"]
        );
        // "one resource cpu fits"
        assert_eq!(
            fits(&pod(100, 0, (1, 2)), &n((5, 19)))
                .unwrap_err()
                .reasons(),
            vec!["Insufficient memory"]
        );
        // "equal edge case"
        assert_eq!(fits(&pod(100, 0, (5, 1)), &n((5, 19))), Ok(()));
        // Request above allocatable: UnschedulableAndUnresolvable.
        let e = fits(&pod(100, 0, (11, 1)), &n((0, 0))).unwrap_err();
        assert!(!e.is_resolvable());
        assert_eq!(e.reasons(), vec!["Insufficient cpu"]);
    }

    // TestNotEnoughRequests "even without specified resources, predicate fails when there's no
    // space for additional pod".
    #[test]
    fn fit_too_many_pods() {
        let n = with_pods(node("n", (10, 20), 1), vec![pod(1, 0, (0, 0))]);
        let e = fits(&pod(100, 0, (0, 0)), &n).unwrap_err();
        assert_eq!(e.reasons(), vec!["Too many pods"]);
        assert!(e.is_resolvable());
    }

    // fits_ignoring_lower_priority: the first SelectVictimsOnNode check.
    #[test]
    fn fits_ignoring_lower_priority_pods() {
        let n = with_pods(
            node("n", (1000, 1000), 32),
            vec![pod(1, HIGH, (500, 0)), pod(2, LOW, (400, 0))],
        );
        assert!(fits(&pod(100, MID, (300, 0)), &n).is_err());
        assert_eq!(
            fits_ignoring_lower_priority(&pod(100, MID, (300, 0)), &n),
            Ok(())
        );
        assert!(fits_ignoring_lower_priority(&pod(100, MID, (600, 0)), &n).is_err());
        assert!(fits_ignoring_lower_priority(&pod(100, LOW, (300, 0)), &n).is_err());
    }

    // ---- noderesources/least_allocated_test.go (TestLeastAllocatedScoringStrategy) ----------

    #[test]
    fn least_allocated_scores() {
        let r = |c, m| Resources::new(c, m);
        // "nothing scheduled, resources requested, differently sized nodes"
        assert_eq!(least_allocated_score(&r(3000, 5000), &r(4000, 10000)), 37);
        assert_eq!(least_allocated_score(&r(3000, 5000), &r(6000, 10000)), 50);
        // "no resources requested, pods scheduled with resources" (node non-zero requested
        // 6000/0 and 6000/5000, pod without containers).
        assert_eq!(least_allocated_score(&r(6000, 0), &r(10000, 20000)), 70);
        assert_eq!(least_allocated_score(&r(6000, 5000), &r(10000, 20000)), 57);
        // "resources requested, pods scheduled with resources"
        assert_eq!(least_allocated_score(&r(6000, 5000), &r(10000, 20000)), 57);
        assert_eq!(least_allocated_score(&r(6000, 10000), &r(10000, 20000)), 45);
        // "... differently sized nodes"
        assert_eq!(least_allocated_score(&r(6000, 10000), &r(10000, 50000)), 60);
        // "requested resources exceed node capacity"
        assert_eq!(least_allocated_score(&r(6000, 0), &r(4000, 10000)), 50);
        assert_eq!(least_allocated_score(&r(6000, 5000), &r(4000, 10000)), 25);
        // "zero node resources, pods scheduled with resources"
        assert_eq!(least_allocated_score(&r(3000, 0), &r(0, 0)), 0);
    }

    // ---- noderesources/balanced_allocation_test.go (TestNodeResourcesBalancedAllocation) ----

    #[test]
    fn balanced_allocation_scores() {
        let r = |c, m| Resources::new(c, m);
        // "nothing scheduled, resources requested, differently sized nodes": (1-0.125)*100
        assert_eq!(
            balanced_allocation_score(&r(3000, 5000), &r(4000, 10000)),
            87
        );
        assert_eq!(
            balanced_allocation_score(&r(3000, 5000), &r(6000, 10000)),
            100
        );
        // "resources requested, pods scheduled with resources": (1-0.175)*100, (1-0.05)*100
        assert_eq!(
            balanced_allocation_score(&r(6000, 5000), &r(10000, 20000)),
            82
        );
        assert_eq!(
            balanced_allocation_score(&r(6000, 10000), &r(10000, 20000)),
            95
        );
        // Fractions are capped at 1; a resource with zero allocatable is skipped.
        assert_eq!(balanced_allocation_score(&r(8000, 0), &r(4000, 10000)), 50);
        assert_eq!(balanced_allocation_score(&r(8000, 0), &r(4000, 0)), 100);
    }

    // End to end: the emptier node wins (LeastAllocated + BalancedAllocation).
    #[test]
    fn schedule_prefers_least_allocated() {
        let nodes = [
            with_pods(
                node("n1", (4000, 8 << 30), 110),
                vec![pod(1, 0, (3000, 6 << 30))],
            ),
            with_pods(
                node("n2", (4000, 8 << 30), 110),
                vec![pod(2, 0, (1000, 2 << 30))],
            ),
        ];
        let mut s = Scheduler::new(None);
        assert_eq!(
            run_with(&mut s, &pod(100, 0, (500, 1 << 30)), &nodes, &[], 0),
            Decision::Bind { node: 1 }
        );
        assert_eq!(s.next_start_node_index(), 0);
    }

    // Zero-request pods are scored with 100m / 200MiB (non-zero defaults): a node full of
    // best-effort pods looks busier.
    #[test]
    fn schedule_non_zero_defaults() {
        let mi = 1 << 20;
        let nodes = [
            with_pods(
                node("n1", (1000, 1000 * mi), 110),
                (1..=5).map(|i| pod(i, 0, (0, 0))).collect(),
            ),
            node("n2", (1000, 1000 * mi), 110),
        ];
        assert_eq!(
            node_non_zero_requested(&nodes[0]),
            Resources {
                cpu_milli: 500,
                memory: 1000 * mi,
                pods: 5
            }
        );
        assert_eq!(
            run(&pod(100, 0, (0, 0)), &nodes, &[]),
            Decision::Bind { node: 1 }
        );
    }

    // selectHost reservoir sampling: each later tie replaces the pick when tie_break(cnt) == 0.
    #[test]
    fn select_host_ties() {
        let nodes = [
            node("n1", (1000, 1000), 10),
            node("n2", (1000, 1000), 10),
            node("n3", (1000, 1000), 10),
        ];
        let p = pod(100, 0, (100, 100));
        assert_eq!(
            run_with(&mut Scheduler::new(None), &p, &nodes, &[], 0),
            Decision::Bind { node: 2 }
        );
        assert_eq!(
            run_with(&mut Scheduler::new(None), &p, &nodes, &[], 5),
            Decision::Bind { node: 0 }
        );
        let mut calls = vec![];
        let refs: Vec<&NodeInfo> = nodes.iter().collect();
        let d = Scheduler::new(None).schedule(&p, &refs, &[], &mut |n| {
            calls.push(n);
            usize::from(n == 3)
        });
        assert_eq!(d, Decision::Bind { node: 1 });
        assert_eq!(calls, vec![2, 3]);
    }

    // ---- tainttoleration/taint_toleration_test.go -------------------------------------------

    // TestTaintTolerationFilter.
    #[test]
    fn taint_toleration_filter() {
        let dedicated = |v: &str, e| {
            let mut n = node("n", (1000, 1000), 10);
            n.taints = vec![taint("dedicated", v, e)];
            n
        };
        let p = |tols: Vec<Toleration>| {
            with_constraints(
                pod(100, 0, (0, 0)),
                PlacementConstraints {
                    tolerations: tols,
                    ..Default::default()
                },
            )
        };
        let n = dedicated("user1", TaintEffect::NoSchedule);
        // "A pod having no tolerations can't be scheduled onto a node with nonempty taints"
        let e = fits(&p(vec![]), &n).unwrap_err();
        assert_eq!(e, Unfit::UntoleratedTaint(0));
        assert!(!e.is_resolvable());
        assert_eq!(e.reasons(), vec!["node(s) had untolerated taint(s)"]);
        // "A pod which can be scheduled on a dedicated node assigned to user1 with effect NoSchedule"
        let t1 = tol(
            "dedicated",
            TolerationOp::Equal,
            "user1",
            Some(TaintEffect::NoSchedule),
        );
        assert_eq!(fits(&p(vec![t1]), &n), Ok(()));
        // "A pod which can't be scheduled on a dedicated node assigned to user2 with effect NoSchedule"
        let t2 = tol(
            "dedicated",
            TolerationOp::Equal,
            "user2",
            Some(TaintEffect::NoSchedule),
        );
        assert!(fits(&p(vec![t2]), &n).is_err());
        // "A pod can be scheduled onto the node, with a toleration uses operator Exists that
        // tolerates the taints on the node"
        let ex = tol(
            "dedicated",
            TolerationOp::Exists,
            "",
            Some(TaintEffect::NoSchedule),
        );
        assert_eq!(fits(&p(vec![ex]), &n), Ok(()));
        // "... keys and values match the taint on the node, but (non-empty) effect doesn't match"
        let pe = tol(
            "dedicated",
            TolerationOp::Equal,
            "user1",
            Some(TaintEffect::PreferNoSchedule),
        );
        assert!(fits(&p(vec![pe]), &n).is_err());
        // "... the effect of toleration is empty, and the effect of taint is NoSchedule"
        let any = tol("dedicated", TolerationOp::Equal, "user1", None);
        assert_eq!(fits(&p(vec![any]), &n), Ok(()));
        // "... the effect of taint is PreferNoSchedule" (not a filter)
        assert_eq!(
            fits(
                &p(vec![]),
                &dedicated("user1", TaintEffect::PreferNoSchedule)
            ),
            Ok(())
        );
        // NoExecute taints are filtered too.
        assert!(fits(&p(vec![]), &dedicated("user1", TaintEffect::NoExecute)).is_err());
    }

    // TestTaintTolerationScore "the more intolerable taints a node has, the lower score it
    // gets" and "only taints and tolerations that have effect PreferNoSchedule are checked".
    #[test]
    fn taint_toleration_score() {
        let mut n1 = node("n1", (1000, 1000), 10);
        let mut n2 = n1.clone();
        let mut n3 = n1.clone();
        n2.taints = vec![taint("foo", "bar", TaintEffect::PreferNoSchedule)];
        n3.taints = vec![
            taint("foo", "bar", TaintEffect::PreferNoSchedule),
            taint("cpu-type", "arm64", TaintEffect::PreferNoSchedule),
        ];
        let raw: Vec<i64> = [&n1, &n2, &n3]
            .iter()
            .map(|n| intolerable_prefer_no_schedule(&[], n))
            .collect();
        assert_eq!(raw, vec![0, 1, 2]);
        let norm: Vec<i64> = raw.iter().map(|&r| normalize_reversed(r, 2)).collect();
        assert_eq!(norm, vec![100, 50, 0]);
        assert_eq!(normalize_reversed(0, 0), 100);
        // A NoSchedule toleration does not tolerate a PreferNoSchedule taint for scoring.
        let ns = tol(
            "foo",
            TolerationOp::Equal,
            "bar",
            Some(TaintEffect::NoSchedule),
        );
        assert_eq!(
            intolerable_prefer_no_schedule(std::slice::from_ref(&ns), &n2),
            1
        );
        let pns = tol(
            "foo",
            TolerationOp::Equal,
            "bar",
            Some(TaintEffect::PreferNoSchedule),
        );
        assert_eq!(intolerable_prefer_no_schedule(&[pns], &n2), 0);
        // End to end: the untainted node wins despite being a bit fuller.
        n1 = with_pods(n1, vec![pod(1, 0, (100, 100))]);
        assert_eq!(
            run(&pod(100, 0, (10, 10)), &[n2, n1, n3], &[]),
            Decision::Bind { node: 1 }
        );
    }

    // ---- nodeunschedulable/node_unschedulable_test.go + not-ready -------------------------

    // TestNodeUnschedulable.
    #[test]
    fn node_unschedulable_filter() {
        let mut n = node("n", (1000, 1000), 10);
        assert_eq!(fits(&pod(1, 0, (0, 0)), &n), Ok(()));
        n.unschedulable = true;
        let e = fits(&pod(1, 0, (0, 0)), &n).unwrap_err();
        assert_eq!(e.reasons(), vec!["node(s) were unschedulable"]);
        let tolerant = with_constraints(
            pod(1, 0, (0, 0)),
            PlacementConstraints {
                tolerations: vec![tol(
                    TAINT_NODE_UNSCHEDULABLE,
                    TolerationOp::Exists,
                    "",
                    Some(TaintEffect::NoSchedule),
                )],
                ..Default::default()
            },
        );
        assert_eq!(fits(&tolerant, &n), Ok(()));
    }

    #[test]
    fn not_ready_node_filtered() {
        let mut n = node("n", (1000, 1000), 10);
        n.ready = false;
        let e = fits(&pod(1, 0, (0, 0)), &n).unwrap_err();
        assert_eq!(e, Unfit::NotReady);
        assert_eq!(e.reasons(), vec!["node(s) had untolerated taint(s)"]);
        let tolerant = with_constraints(
            pod(1, 0, (0, 0)),
            PlacementConstraints {
                tolerations: vec![tol("", TolerationOp::Exists, "", None)],
                ..Default::default()
            },
        );
        assert_eq!(fits(&tolerant, &n), Ok(()));
    }

    // ---- nodeaffinity/node_affinity_test.go (TestNodeAffinity) ------------------------------

    #[test]
    fn node_affinity_filter() {
        let with_labels = |l: &[(&str, &str)]| {
            let mut n = node("node1", (1000, 1000), 10);
            n.labels = labels(l);
            n
        };
        let sel = |l: &[(&str, &str)]| {
            with_constraints(
                pod(1, 0, (0, 0)),
                PlacementConstraints {
                    node_selector: labels(l),
                    ..Default::default()
                },
            )
        };
        let aff = |terms: Vec<NodeSelectorTerm>| {
            with_constraints(
                pod(1, 0, (0, 0)),
                PlacementConstraints {
                    required_node_affinity: terms,
                    ..Default::default()
                },
            )
        };
        let term = |exprs: Vec<NodeSelectorRequirement>| NodeSelectorTerm {
            match_expressions: exprs,
            match_fields: vec![],
        };
        let foo = with_labels(&[("foo", "bar")]);
        // "no selector"
        assert_eq!(fits(&sel(&[]), &foo), Ok(()));
        // "missing labels"
        let e = fits(&sel(&[("foo", "bar")]), &with_labels(&[])).unwrap_err();
        assert_eq!(
            e.reasons(),
            vec!["node(s) didn't match Pod's node affinity/selector"]
        );
        assert!(!e.is_resolvable());
        // "same labels", "node labels are superset", "node labels are subset"
        assert_eq!(fits(&sel(&[("foo", "bar")]), &foo), Ok(()));
        assert_eq!(
            fits(
                &sel(&[("foo", "bar")]),
                &with_labels(&[("foo", "bar"), ("baz", "blah")])
            ),
            Ok(())
        );
        assert!(fits(&sel(&[("foo", "bar"), ("baz", "blah")]), &foo).is_err());
        // "Pod with matchExpressions using In operator that matches the existing node"
        let p = aff(vec![term(vec![req(
            "foo",
            SelectorOp::In,
            &["bar", "value2"],
        )])]);
        assert_eq!(fits(&p, &foo), Ok(()));
        // "Pod with matchExpressions using Gt operator that matches the existing node"
        let p = aff(vec![term(vec![req(
            "kernel-version",
            SelectorOp::Gt,
            &["0204"],
        )])]);
        assert_eq!(
            fits(&p, &with_labels(&[("kernel-version", "0206")])),
            Ok(())
        );
        // "Pod with matchExpressions using NotIn operator that matches the existing node"
        let p = aff(vec![term(vec![req(
            "mem-type",
            SelectorOp::NotIn,
            &["DDR", "DDR2"],
        )])]);
        assert_eq!(fits(&p, &with_labels(&[("mem-type", "DDR3")])), Ok(()));
        // "Pod with matchExpressions using Exists operator that matches the existing node"
        let p = aff(vec![term(vec![req("GPU", SelectorOp::Exists, &[])])]);
        assert_eq!(fits(&p, &with_labels(&[("GPU", "NVIDIA-GRID-K1")])), Ok(()));
        // "Pod with affinity that don't match node's labels won't schedule onto the node"
        let p = aff(vec![term(vec![req(
            "foo",
            SelectorOp::In,
            &["value1", "value2"],
        )])]);
        assert!(fits(&p, &foo).is_err());
        // "Pod with an empty []NodeSelectorTerm in affinity, can't schedule onto the node"
        assert!(fits(&aff(vec![NodeSelectorTerm::default()]), &foo).is_err());
        // "Pod with multiple NodeSelectorTerms ORed in affinity, matches the node's labels"
        let p = aff(vec![
            term(vec![req("foo", SelectorOp::In, &["bar", "value2"])]),
            term(vec![req("diffkey", SelectorOp::In, &["wrong", "value2"])]),
        ]);
        assert_eq!(fits(&p, &foo), Ok(()));
        // "Pod with matchFields using In operator that matches the existing node" / doesn't.
        let fields = aff(vec![NodeSelectorTerm {
            match_expressions: vec![],
            match_fields: vec![req("metadata.name", SelectorOp::In, &["node1"])],
        }]);
        assert_eq!(fits(&fields, &foo), Ok(()));
        let mut n2 = foo.clone();
        n2.name = "node2".into();
        assert!(fits(&fields, &n2).is_err());
        // "Pod with an Affinity and a PodSpec.NodeSelector(...) both are satisfied" / one isn't.
        let both = |sel: &[(&str, &str)]| {
            with_constraints(
                pod(1, 0, (0, 0)),
                PlacementConstraints {
                    node_selector: labels(sel),
                    required_node_affinity: vec![term(vec![req("foo", SelectorOp::Exists, &[])])],
                    ..Default::default()
                },
            )
        };
        assert_eq!(fits(&both(&[("foo", "bar")]), &foo), Ok(()));
        assert!(fits(&both(&[("foo", "barrrrrr")]), &foo).is_err());
    }

    // ---- nominated pods (framework_test.go TestRunFilterPluginsWithNominatedPods) -----------

    #[test]
    fn nominated_pods_reserve_room() {
        let p = pod(100, MID, (0, 0));
        let mut n = node("node1", (1000, 1000), 1);
        // A nominated pod of equal or higher priority takes the only slot.
        n.nominated = vec![pod(7, MID, (0, 0))];
        assert_eq!(fits(&p, &n), Ok(()));
        assert_eq!(
            fits_with_nominated(&p, &n).unwrap_err().reasons(),
            vec!["Too many pods"]
        );
        // A lower-priority nominated pod does not count.
        n.nominated = vec![pod(7, LOW, (0, 0))];
        assert_eq!(fits_with_nominated(&p, &n), Ok(()));
        // The pod itself does not count.
        n.nominated = vec![p.clone()];
        assert_eq!(fits_with_nominated(&p, &n), Ok(()));
    }

    #[test]
    fn nominated_node_is_tried_first() {
        let p = pod(100, MID, (100, 100));
        let mut nodes: Vec<NodeInfo> = (0..5)
            .map(|i| node(&format!("n{i}"), (1000, 1000), 10))
            .collect();
        // n3 is fuller, so it would lose on score, but the pod is nominated there.
        nodes[3] = with_pods(nodes[3].clone(), vec![pod(1, 0, (800, 800))]);
        nodes[3].nominated = vec![p.clone()];
        let mut s = Scheduler::new(None);
        assert_eq!(
            run_with(&mut s, &p, &nodes, &[], 0),
            Decision::Bind { node: 3 }
        );
        assert_eq!(s.next_start_node_index(), 0);
        // Another pod of the same priority: the nomination (100m) plus the bound 800m leave no
        // room for 150m on n3, so it preempts the priority-0 pod there (the full node holds a
        // higher-priority pod).
        let q = pod(200, MID, (150, 150));
        let full = with_pods(
            node("full", (1000, 1000), 10),
            vec![pod(2, HIGH, (1000, 1000))],
        );
        let only = [nodes[3].clone(), full];
        let mut s = Scheduler::new(None);
        assert_eq!(
            run_with(&mut s, &q, &only, &[], 0),
            Decision::Preempt {
                node: 0,
                victims: vec![1]
            }
        );
        assert_eq!(
            s.last_fit_error(),
            "0/2 nodes are available: 2 Insufficient cpu, 2 Insufficient memory. preemption: found a potential placement for pod on node n3, preempting 1 victims"
        );
    }

    // ---- schedule_one_test.go -------------------------------------------------------------

    // TestNumFeasibleNodesToFind.
    #[test]
    fn num_feasible_nodes_to_find() {
        let adaptive = Scheduler::new(None);
        let forty = Scheduler::new(Some(40));
        // "not set percentageOfNodesToScore and nodes number not more than 50"
        assert_eq!(adaptive.num_feasible_nodes_to_find(10), 10);
        // "set profile percentageOfNodesToScore and nodes number not more than 50"
        assert_eq!(forty.num_feasible_nodes_to_find(10), 10);
        // "not set percentageOfNodesToScore and nodes number more than 50"
        assert_eq!(adaptive.num_feasible_nodes_to_find(1000), 420);
        // "set profile percentageOfNodesToScore and nodes number more than 50"
        assert_eq!(forty.num_feasible_nodes_to_find(1000), 400);
        // "not set percentageOfNodesToScore and nodes number more than 50*125"
        assert_eq!(adaptive.num_feasible_nodes_to_find(6000), 300);
        // "set profile percentageOfNodesToScore and nodes number more than 50*125"
        assert_eq!(forty.num_feasible_nodes_to_find(6000), 2400);
        // The 100-node floor.
        assert_eq!(
            Scheduler::new(Some(1)).num_feasible_nodes_to_find(1000),
            100
        );
        assert_eq!(Scheduler::new(Some(0)).num_feasible_nodes_to_find(150), 100);
    }

    // findNodesThatFitPod: the filter pass stops after numFeasibleNodesToFind feasible nodes and
    // nextStartNodeIndex advances by the processed count.
    #[test]
    fn next_start_node_index_round_robin() {
        let mut nodes: Vec<NodeInfo> = (0..200)
            .map(|i| node(&format!("n{i}"), (1000, 1000), 10))
            .collect();
        // Nodes 0..10 are cordoned: processed but not feasible.
        for n in nodes.iter_mut().take(10) {
            n.unschedulable = true;
        }
        let p = pod(1, 0, (100, 100));
        let mut s = Scheduler::new(None);
        // 200 nodes: 50 - 1 = 49% = 98 -> floor of 100 feasible nodes.
        let d = run_with(&mut s, &p, &nodes, &[], 0);
        // 10 failed + 100 feasible processed; all feasible nodes tie, the last one wins.
        assert_eq!(d, Decision::Bind { node: 109 });
        assert_eq!(s.next_start_node_index(), 110);
        // The next pass starts at 110 and wraps around: 90 feasible, 10 cordoned, 10 feasible.
        let d = run_with(&mut s, &p, &nodes, &[], 0);
        assert_eq!(d, Decision::Bind { node: 19 });
        assert_eq!(s.next_start_node_index(), 20);
    }

    #[test]
    fn no_nodes() {
        assert_eq!(
            run(&pod(1, 0, (0, 0)), &[], &[]),
            unschedulable("no nodes available to schedule pods")
        );
    }

    /// Throughput smoke test (run with `--ignored --nocapture`): 30,000 pods onto 1,000 nodes,
    /// updating the node infos incrementally as a backend would.
    #[test]
    #[ignore]
    fn perf_30k_pods_on_1000_nodes() {
        let mut nodes: Vec<NodeInfo> = (0..1000)
            .map(|i| node(&format!("n{i}"), (16000, 64 << 30), 110))
            .collect();
        let mut s = Scheduler::new(None);
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut rng = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let t = std::time::Instant::now();
        let mut bound = 0;
        for i in 0..30_000u64 {
            let p = pod(i, (i % 3) as i32, (100 + (i % 7) as i64 * 50, 256 << 20));
            let d = {
                let refs: Vec<&NodeInfo> = nodes.iter().collect();
                s.schedule(&p, &refs, &[], &mut rng)
            };
            if let Decision::Bind { node } = d {
                let n = &mut nodes[node];
                n.requested += pod_usage(&p);
                n.pods.push(p);
                bound += 1;
            }
        }
        eprintln!("bound {bound} pods in {:?}", t.elapsed());
        assert_eq!(bound, 30_000);
    }

    // ---- property ------------------------------------------------------------------------

    fn arb_node() -> impl Strategy<Value = NodeInfo> {
        (
            1i64..8000,
            1i64..(16 << 30),
            1i64..20,
            prop::collection::vec((0i64..2000, 0i64..(4 << 30), -10i32..10), 0..15),
            any::<bool>(),
        )
            .prop_map(|(cpu, mem, max_pods, pods, cordoned)| {
                let mut n = node("n", (cpu, mem), max_pods);
                n.unschedulable = cordoned;
                for (i, (c, m, prio)) in pods.into_iter().enumerate() {
                    let p = pod(i as u64 + 1, prio, (c, m));
                    let next = node_used(&n) + pod_usage(&p);
                    if next.fits_in(&n.allocatable) {
                        n = with_pods(n, vec![p]);
                    }
                }
                n
            })
    }

    proptest! {
        /// A pod bound by `Bind` never makes its node exceed allocatable.
        #[test]
        fn bind_never_exceeds_allocatable(
            nodes in prop::collection::vec(arb_node(), 1..12),
            cpu in 0i64..3000,
            mem in 0i64..(6 << 30),
            prio in -10i32..10,
            pick in 0usize..4,
        ) {
            let p = pod(1000, prio, (cpu, mem));
            let refs: Vec<&NodeInfo> = nodes.iter().collect();
            let d = Scheduler::new(None).schedule(&p, &refs, &[], &mut |n| pick % n);
            match d {
                Decision::Bind { node } => {
                    let n = &nodes[node];
                    prop_assert!((node_used(n) + pod_usage(&p)).fits_in(&n.allocatable));
                    prop_assert!(!n.unschedulable);
                }
                Decision::Preempt { node, victims } => {
                    let n = &nodes[node];
                    prop_assert!(victims.iter().all(|v| n.pods.iter().any(|q| q.id == *v && q.priority < prio)));
                    prop_assert!(fits_ignoring_lower_priority(&p, n).is_ok());
                }
                Decision::Unschedulable { message } => {
                    prop_assert!(nodes.iter().all(|n| fits(&p, n).is_err()));
                    let prefix = format!("0/{} nodes are available: ", nodes.len());
                    prop_assert!(message.starts_with(&prefix));
                }
            }
        }
    }
}
