//! Scale-down: which nodes are unneeded, which pods block their removal, which to delete now.
//!
//! Follows kubernetes/autoscaler `cluster-autoscaler`:
//! - `core/scaledown/eligibility/eligibility.go`: a candidate belongs to an autoscaled group, is
//!   not being deleted, has no `cluster-autoscaler.kubernetes.io/scale-down-disabled: "true"`
//!   annotation and its utilization (`simulator/utilization/info.go`: the larger of the CPU and
//!   memory request fractions of allocatable) is below `--scale-down-utilization-threshold`.
//! - `simulator/drain.go` and `simulator/drainability/rules/*`: the drainability rules, first
//!   decisive outcome wins (mirror → skip; long-terminating → skip; DaemonSet → not moved;
//!   `safe-to-evict: "true"` → movable; terminal → not moved; no controller → blocks; kube-system
//!   pod with no matching PDB → blocks; `safe-to-evict: "false"` → blocks; local storage →
//!   blocks; matching PDB with no disruptions left → blocks).
//! - `simulator/cluster.go` `RemovableNodes` / `FindPlaceFor`: every movable pod must fit on the
//!   remaining nodes (scheduler predicates); pods placed for one removable node occupy room for
//!   the next candidate.
//! - `core/scaledown/unneeded/nodes.go` and `core/scaledown/planner`: a node must stay unneeded
//!   for `--scale-down-unneeded-time` (unready: `--scale-down-unready-time`); groups never go
//!   below their minimum; empty nodes are deleted in bulk (`--max-empty-bulk-delete`), nodes
//!   with pods one at a time (`--max-drain-parallelism` 1).
//!
//! Expendable pods (priority below the cutoff) are absent from every simulation: they neither
//! count in utilization nor block removal nor need a place (`core/utils/expendable.go`).

use std::collections::BTreeMap;

use kscale_model::{Resources, SimTime};

use crate::scheduler::{NodeInfo, PdbInfo, PodInfo, fits};

/// Extra time past a pod's grace period after which a terminating pod is ignored
/// (`drain.PodLongTerminatingExtraThreshold`, 30 s).
pub const LONG_TERMINATING_EXTRA_MS: u64 = 30_000;

/// The controller that owns a pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControllerKind {
    /// ReplicaSet (and so Deployment).
    ReplicaSet,
    /// ReplicationController.
    ReplicationController,
    /// StatefulSet.
    StatefulSet,
    /// Job.
    Job,
    /// DaemonSet.
    DaemonSet,
    /// Any other owner (custom controller).
    Other,
}

impl ControllerKind {
    /// The kind of a pod's controller owner reference (`ReplicaSet`, `DaemonSet`, ...).
    pub fn from_kind(kind: &str) -> ControllerKind {
        match kind {
            "ReplicaSet" => ControllerKind::ReplicaSet,
            "ReplicationController" => ControllerKind::ReplicationController,
            "StatefulSet" => ControllerKind::StatefulSet,
            "Job" => ControllerKind::Job,
            "DaemonSet" => ControllerKind::DaemonSet,
            _ => ControllerKind::Other,
        }
    }
}

/// The `cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes` annotation.
pub const SAFE_TO_EVICT_LOCAL_VOLUMES: &str =
    "cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes";

/// Whether a pod uses local storage as the local-storage rule reads it
/// (`simulator/drainability/rules/localstorage`): a volume that is a hostPath or an emptyDir
/// not backed by memory (`(name, is_local)` per volume), unless named in the
/// [`SAFE_TO_EVICT_LOCAL_VOLUMES`] annotation (comma-separated).
pub fn uses_local_storage<'a>(
    volumes: impl IntoIterator<Item = (&'a str, bool)>,
    safe_annotation: Option<&str>,
) -> bool {
    let safe: std::collections::BTreeSet<&str> = safe_annotation
        .map(|v| v.split(',').map(str::trim).collect())
        .unwrap_or_default();
    volumes
        .into_iter()
        .any(|(name, local)| local && !safe.contains(name))
}

/// What the drainability rules need to know about a pod besides [`PodInfo`].
#[derive(Clone, Debug, PartialEq)]
pub struct PodDrainInfo {
    /// Controller owner, if any.
    pub controller: Option<ControllerKind>,
    /// Static (mirror) pod.
    pub mirror: bool,
    /// `cluster-autoscaler.kubernetes.io/safe-to-evict`: `Some(true)` / `Some(false)`.
    pub safe_to_evict: Option<bool>,
    /// Uses local storage (hostPath, or a non-memory emptyDir not listed in
    /// `cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes`).
    pub local_storage: bool,
    /// Succeeded or Failed.
    pub terminal: bool,
    /// Deletion timestamp and grace period (ms), if terminating.
    pub deleting: Option<(SimTime, u64)>,
}

impl PodDrainInfo {
    /// A pod owned by a ReplicaSet with nothing special.
    pub fn replicated() -> Self {
        PodDrainInfo {
            controller: Some(ControllerKind::ReplicaSet),
            mirror: false,
            safe_to_evict: None,
            local_storage: false,
            terminal: false,
            deleting: None,
        }
    }
}

/// Why a pod blocks its node's removal (upstream `drain.BlockingPodReason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum BlockingReason {
    /// No controller (or, with `--skip-nodes-with-custom-controller-pods`, not a built-in one).
    NotReplicated,
    /// A kube-system pod with no matching PodDisruptionBudget.
    UnmovableKubeSystemPod,
    /// `safe-to-evict: "false"`.
    NotSafeToEvictAnnotation,
    /// Local storage.
    LocalStorageRequested,
    /// A matching PDB allows no more disruptions.
    NotEnoughPdb,
}

impl BlockingReason {
    /// Upstream name.
    pub fn as_str(&self) -> &'static str {
        match self {
            BlockingReason::NotReplicated => "NotReplicated",
            BlockingReason::UnmovableKubeSystemPod => "UnmovableKubeSystemPod",
            BlockingReason::NotSafeToEvictAnnotation => "NotSafeToEvictAnnotation",
            BlockingReason::LocalStorageRequested => "LocalStorageRequested",
            BlockingReason::NotEnoughPdb => "NotEnoughPdb",
        }
    }
}

/// Outcome of the drainability rules for one pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drainability {
    /// Evicted and must find a place elsewhere.
    Move,
    /// Does not need a place (DaemonSet, mirror, terminal, long-terminating pods).
    Skip,
    /// Blocks the node's removal.
    Block(BlockingReason),
}

/// Drain options (`--skip-nodes-with-*`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DrainOptions {
    /// `--skip-nodes-with-system-pods` (default true).
    pub skip_nodes_with_system_pods: bool,
    /// `--skip-nodes-with-local-storage` (default true).
    pub skip_nodes_with_local_storage: bool,
    /// `--skip-nodes-with-custom-controller-pods` (default true).
    pub skip_nodes_with_custom_controller_pods: bool,
}

impl Default for DrainOptions {
    fn default() -> Self {
        DrainOptions {
            skip_nodes_with_system_pods: true,
            skip_nodes_with_local_storage: true,
            skip_nodes_with_custom_controller_pods: true,
        }
    }
}

/// Applies the drainability rules to one pod. `pdbs` carry their remaining disruptions.
pub fn drainability(
    pod: &PodInfo,
    d: &PodDrainInfo,
    pdbs: &[PdbInfo],
    opts: &DrainOptions,
    now: SimTime,
) -> Drainability {
    if d.mirror {
        return Drainability::Skip;
    }
    if let Some((at, grace)) = d.deleting
        && now.since(at) > grace + LONG_TERMINATING_EXTRA_MS
    {
        return Drainability::Skip;
    }
    if d.controller == Some(ControllerKind::DaemonSet) {
        return Drainability::Skip;
    }
    if d.safe_to_evict == Some(true) {
        return Drainability::Move;
    }
    if d.terminal {
        return Drainability::Skip;
    }
    let replicated = match d.controller {
        None => false,
        Some(ControllerKind::Other) => !opts.skip_nodes_with_custom_controller_pods,
        Some(_) => true,
    };
    if !replicated {
        return Drainability::Block(BlockingReason::NotReplicated);
    }
    let matching: Vec<&PdbInfo> = pdbs
        .iter()
        .filter(|p| *p.namespace == *pod.namespace && p.selector.matches(&pod.labels))
        .collect();
    if opts.skip_nodes_with_system_pods && &*pod.namespace == "kube-system" && matching.is_empty() {
        return Drainability::Block(BlockingReason::UnmovableKubeSystemPod);
    }
    if d.safe_to_evict == Some(false) {
        return Drainability::Block(BlockingReason::NotSafeToEvictAnnotation);
    }
    if opts.skip_nodes_with_local_storage && d.local_storage {
        return Drainability::Block(BlockingReason::LocalStorageRequested);
    }
    if matching.iter().any(|p| p.disruptions_allowed < 1) {
        return Drainability::Block(BlockingReason::NotEnoughPdb);
    }
    Drainability::Move
}

/// Utilization of a node: the larger of the CPU and memory request fractions of allocatable,
/// over the pods that count (`simulator/utilization/info.go`).
pub fn utilization(allocatable: &Resources, requested: &Resources) -> f64 {
    let f = |r: i64, a: i64| if a > 0 { r as f64 / a as f64 } else { 0.0 };
    f(requested.cpu_milli, allocatable.cpu_milli).max(f(requested.memory, allocatable.memory))
}

/// One node as scale-down sees it.
#[derive(Clone, Copy, Debug)]
pub struct NodeView<'a> {
    /// The scheduler's view (bound pods included).
    pub info: &'a NodeInfo,
    /// Its node group, if autoscaled.
    pub group: Option<&'a str>,
    /// `scale-down-disabled: "true"` annotation.
    pub scale_down_disabled: bool,
    /// Already being deleted (tainted ToBeDeletedByClusterAutoscaler, or cordoned by the cloud).
    pub being_deleted: bool,
}

/// Scale-down settings (flags).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScaleDownOptions {
    /// `--scale-down-utilization-threshold` (0.5).
    pub utilization_threshold: f64,
    /// `--scale-down-unneeded-time` (10 min).
    pub unneeded_ms: u64,
    /// `--scale-down-unready-time` (20 min).
    pub unready_ms: u64,
    /// `--max-empty-bulk-delete` (10).
    pub max_empty_bulk_delete: usize,
    /// `--max-scale-down-parallelism` (10).
    pub max_scale_down_parallelism: usize,
    /// `--max-drain-parallelism` (1).
    pub max_drain_parallelism: usize,
    /// `--scale-down-non-empty-candidates-count` (30).
    pub non_empty_candidates: usize,
    /// `--expendable-pods-priority-cutoff` (−10).
    pub expendable_cutoff: i32,
    /// Drain rules.
    pub drain: DrainOptions,
}

impl Default for ScaleDownOptions {
    fn default() -> Self {
        ScaleDownOptions {
            utilization_threshold: 0.5,
            unneeded_ms: 600_000,
            unready_ms: 1_200_000,
            max_empty_bulk_delete: 10,
            max_scale_down_parallelism: 10,
            max_drain_parallelism: 1,
            non_empty_candidates: 30,
            expendable_cutoff: super::DEFAULT_EXPENDABLE_PODS_PRIORITY_CUTOFF,
            drain: DrainOptions::default(),
        }
    }
}

/// A node found removable now.
#[derive(Clone, Debug, PartialEq)]
pub struct Removable {
    /// Node name.
    pub node: String,
    /// Its group.
    pub group: String,
    /// Utilization (0–1).
    pub utilization: f64,
    /// Pods to evict (movable pods; expendable ones included, they are simply evicted).
    pub evict: Vec<u64>,
    /// No pod needs a new place.
    pub empty: bool,
    /// The node is Ready.
    pub ready: bool,
}

/// A node that cannot be removed, with the upstream-style reason.
#[derive(Clone, Debug, PartialEq)]
pub struct Unremovable {
    /// Node name.
    pub node: String,
    /// e.g. `NotUnderutilized`, `BlockedByPod: default/x NotEnoughPdb`, `NoPlaceToMovePods`.
    pub reason: String,
}

/// Result of [`find_removable`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Simulation {
    /// Removable nodes, in evaluation order.
    pub removable: Vec<Removable>,
    /// Candidates found unremovable (autoscaled nodes only).
    pub unremovable: Vec<Unremovable>,
}

/// Destination capacity in a simulation: a node without its pod list (room counts only).
struct Dest {
    info: NodeInfo,
}

fn counts(p: &PodInfo, cutoff: i32, now: SimTime, drain: &dyn Fn(u64) -> PodDrainInfo) -> bool {
    if super::is_expendable(p.priority, cutoff) {
        return false;
    }
    // Long-terminating pods are skipped by utilization too (`drain.IsPodLongTerminating`
    // reads the deletion timestamp: a pod without one is not asked about).
    if !p.terminating {
        return true;
    }
    let d = drain(p.id);
    d.deleting
        .is_none_or(|(at, g)| now.since(at) <= g + LONG_TERMINATING_EXTRA_MS)
}

/// Finds the nodes that could be removed now: underutilized, every pod drainable and placeable
/// on the remaining nodes. `previously_unneeded` nodes are evaluated first (as upstream keeps
/// its unneeded list stable). `drain(id)` describes a pod; `pdbs` carry remaining disruptions.
pub fn find_removable(
    nodes: &[NodeView],
    drain: &dyn Fn(u64) -> PodDrainInfo,
    pdbs: &[PdbInfo],
    previously_unneeded: &BTreeMap<String, SimTime>,
    opts: &ScaleDownOptions,
    now: SimTime,
) -> Simulation {
    let cutoff = opts.expendable_cutoff;
    let mut sim = Simulation::default();
    // Room per node for placements, expendable pods removed.
    let mut dests: Vec<Option<Dest>> = nodes
        .iter()
        .map(|n| {
            if !n.info.ready || n.info.unschedulable || n.being_deleted {
                return None;
            }
            let mut info = super::room_view(n.info);
            let mut count = 0;
            for p in &n.info.pods {
                if super::is_expendable(p.priority, cutoff) {
                    info.requested -= p.requests;
                } else {
                    count += 1;
                }
            }
            for p in &n.info.nominated {
                info.requested += p.requests;
                count += 1;
            }
            info.allocatable.pods -= count;
            Some(Dest { info })
        })
        .collect();
    // Candidates with their utilization.
    let mut cands: Vec<(usize, f64)> = vec![];
    for (i, n) in nodes.iter().enumerate() {
        let Some(_) = n.group else { continue };
        if n.being_deleted || n.scale_down_disabled {
            continue;
        }
        let req = n
            .info
            .pods
            .iter()
            .filter(|p| counts(p, cutoff, now, drain))
            .fold(Resources::ZERO, |a, p| a + p.requests);
        let u = utilization(&n.info.allocatable, &req);
        // eligibility.go `isNodeBelowUtilizationThreshold`: `Utilization >= threshold` is not
        // underutilized, so a node at exactly the threshold stays.
        if u >= opts.utilization_threshold {
            sim.unremovable.push(Unremovable {
                node: n.info.name.to_string(),
                reason: "NotUnderutilized".into(),
            });
            continue;
        }
        cands.push((i, u));
    }
    cands.sort_by(|a, b| {
        let pa = previously_unneeded.get(&*nodes[a.0].info.name);
        let pb = previously_unneeded.get(&*nodes[b.0].info.name);
        (pa.is_none(), pa, a.1)
            .partial_cmp(&(pb.is_none(), pb, b.1))
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| nodes[a.0].info.name.cmp(&nodes[b.0].info.name))
    });
    let mut non_empty_found = 0;
    // Bounded simulation work per loop: at most the non-empty candidates wanted plus a pool of
    // max(50, 10% of the nodes) more (`--scale-down-candidates-pool-ratio` 0.1,
    // `--scale-down-candidates-pool-min-count` 50).
    let pool = opts.non_empty_candidates + (nodes.len().div_ceil(10)).max(50);
    let mut non_empty_simulated = 0;
    for (i, u) in cands {
        let n = &nodes[i];
        let mut to_move: Vec<&PodInfo> = vec![];
        let mut evict: Vec<u64> = vec![];
        let mut blocked: Option<String> = None;
        for p in &n.info.pods {
            if super::is_expendable(p.priority, cutoff) {
                evict.push(p.id);
                continue;
            }
            match drainability(p, &drain(p.id), pdbs, &opts.drain, now) {
                Drainability::Skip => {}
                Drainability::Move => {
                    to_move.push(p);
                    evict.push(p.id);
                }
                Drainability::Block(r) => {
                    blocked = Some(format!(
                        "BlockedByPod: {}/{} {}",
                        p.namespace,
                        p.name,
                        r.as_str()
                    ));
                    break;
                }
            }
        }
        if let Some(reason) = blocked {
            sim.unremovable.push(Unremovable {
                node: n.info.name.to_string(),
                reason,
            });
            continue;
        }
        let empty = to_move.is_empty();
        if !empty && (non_empty_found >= opts.non_empty_candidates || non_empty_simulated >= pool) {
            continue;
        }
        if !empty {
            non_empty_simulated += 1;
        }
        // Place every pod elsewhere; undo on failure.
        let own = dests[i].take();
        let mut placed: Vec<(usize, Resources)> = vec![];
        let mut ok = true;
        for p in &to_move {
            let target = dests
                .iter()
                .position(|d| d.as_ref().is_some_and(|d| fits(p, &d.info).is_ok()));
            match target {
                Some(t) => {
                    let d = dests[t].as_mut().expect("found");
                    d.info.requested += p.requests;
                    d.info.allocatable.pods -= 1;
                    placed.push((t, p.requests));
                }
                None => {
                    ok = false;
                    break;
                }
            }
        }
        if !ok {
            for (t, r) in placed {
                let d = dests[t].as_mut().expect("placed");
                d.info.requested -= r;
                d.info.allocatable.pods += 1;
            }
            dests[i] = own;
            sim.unremovable.push(Unremovable {
                node: n.info.name.to_string(),
                reason: "NoPlaceToMovePods".into(),
            });
            continue;
        }
        if !empty {
            non_empty_found += 1;
        }
        sim.removable.push(Removable {
            node: n.info.name.to_string(),
            group: n.group.unwrap_or_default().to_string(),
            utilization: u,
            evict,
            empty,
            ready: n.info.ready,
        });
    }
    sim
}

/// Picks the nodes to delete now from the removable ones: unneeded long enough, groups kept at
/// their minimum (`group_room[g]` = how many nodes the group may still lose), empty nodes in bulk
/// and at most `max_drain_parallelism − drains_in_progress` drained nodes.
pub fn select_deletions(
    removable: &[Removable],
    unneeded_since: &BTreeMap<String, SimTime>,
    group_room: &mut BTreeMap<String, u32>,
    drains_in_progress: usize,
    deletions_in_progress: usize,
    opts: &ScaleDownOptions,
    now: SimTime,
) -> Vec<Removable> {
    let mut out: Vec<Removable> = vec![];
    let mut empty = 0;
    let mut drains = drains_in_progress;
    let mut total = deletions_in_progress;
    for r in removable {
        let Some(since) = unneeded_since.get(&r.node) else {
            continue;
        };
        let wait = if r.ready {
            opts.unneeded_ms
        } else {
            opts.unready_ms
        };
        if now.since(*since) < wait || total >= opts.max_scale_down_parallelism {
            continue;
        }
        if r.empty && empty >= opts.max_empty_bulk_delete {
            continue;
        }
        if !r.empty && drains >= opts.max_drain_parallelism {
            continue;
        }
        let room = group_room.entry(r.group.clone()).or_insert(0);
        if *room == 0 {
            continue;
        }
        *room -= 1;
        total += 1;
        if r.empty {
            empty += 1;
        } else {
            drains += 1;
        }
        out.push(r.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use kscale_model::LabelSelector;
    use std::sync::Arc;

    const GIB: i64 = 1 << 30;

    fn pod(id: u64, ns: &str, cpu: i64, priority: i32, app: &str) -> PodInfo {
        PodInfo {
            id,
            namespace: ns.into(),
            name: format!("p{id}").into(),
            labels: Arc::new([("app".to_string(), app.to_string())].into()),
            requests: Resources {
                cpu_milli: cpu,
                memory: 0,
                pods: 1,
            },
            priority,
            start_time: SimTime::ZERO,
            terminating: false,
            constraints: Arc::new(Default::default()),
            default_selector: None,
        }
    }

    fn node(name: &str, cpu: i64, pods: Vec<PodInfo>) -> NodeInfo {
        let requested = pods.iter().fold(Resources::ZERO, |a, p| a + p.requests);
        NodeInfo {
            name: name.into(),
            labels: Default::default(),
            taints: Default::default(),
            unschedulable: false,
            ready: true,
            allocatable: Resources {
                cpu_milli: cpu,
                memory: 4 * GIB,
                pods: 110,
            },
            requested,
            pods,
            nominated: vec![],
        }
    }

    fn pdb(ns: &str, app: &str, allowed: i32) -> PdbInfo {
        PdbInfo {
            namespace: ns.into(),
            selector: LabelSelector::from_labels([("app".to_string(), app.to_string())].into()),
            disruptions_allowed: allowed,
        }
    }

    fn rule(p: &PodInfo, d: PodDrainInfo, pdbs: &[PdbInfo]) -> Drainability {
        drainability(p, &d, pdbs, &DrainOptions::default(), SimTime(3_600_000))
    }

    // simulator/drain_test.go TestGetPodsToMove and drainability/rules/*_test.go cases.
    #[test]
    fn local_storage_is_a_local_volume_not_listed_safe() {
        assert!(!uses_local_storage([("cache", false)], None));
        assert!(uses_local_storage([("cache", true)], None));
        assert!(!uses_local_storage([("cache", true)], Some("tmp, cache")));
        assert!(uses_local_storage(
            [("cache", true), ("data", true)],
            Some("cache")
        ));
        assert_eq!(
            ControllerKind::from_kind("DaemonSet"),
            ControllerKind::DaemonSet
        );
        assert_eq!(ControllerKind::from_kind("Rollout"), ControllerKind::Other);
    }

    #[test]
    fn drainability_rules() {
        let rs = pod(1, "default", 100, 0, "web");
        use BlockingReason::*;
        assert_eq!(
            rule(&rs, PodDrainInfo::replicated(), &[]),
            Drainability::Move,
            "Replicated pod"
        );
        let bare = PodDrainInfo {
            controller: None,
            ..PodDrainInfo::replicated()
        };
        assert_eq!(
            rule(&rs, bare.clone(), &[]),
            Drainability::Block(NotReplicated),
            "Unreplicated pod"
        );
        let safe = PodDrainInfo {
            safe_to_evict: Some(true),
            ..bare.clone()
        };
        assert_eq!(
            rule(&rs, safe, &[]),
            Drainability::Move,
            "safe-to-evict overrides no controller"
        );
        let mirror = PodDrainInfo {
            mirror: true,
            ..bare.clone()
        };
        assert_eq!(rule(&rs, mirror, &[]), Drainability::Skip, "Manifest pod");
        let ds = PodDrainInfo {
            controller: Some(ControllerKind::DaemonSet),
            ..bare.clone()
        };
        assert_eq!(rule(&rs, ds, &[]), Drainability::Skip, "DaemonSet pod");
        let sys = pod(2, "kube-system", 100, 0, "coredns");
        assert_eq!(
            rule(&sys, PodDrainInfo::replicated(), &[]),
            Drainability::Block(UnmovableKubeSystemPod),
            "Kube-system"
        );
        assert_eq!(
            rule(
                &sys,
                PodDrainInfo::replicated(),
                &[pdb("kube-system", "coredns", 1)]
            ),
            Drainability::Move,
            "kube-system PDB with matching kube-system pod"
        );
        assert_eq!(
            rule(
                &sys,
                PodDrainInfo::replicated(),
                &[pdb("kube-system", "other", 1)]
            ),
            Drainability::Block(UnmovableKubeSystemPod),
            "kube-system PDB with non-matching kube-system pod"
        );
        assert_eq!(
            rule(
                &sys,
                PodDrainInfo::replicated(),
                &[pdb("default", "coredns", 1)]
            ),
            Drainability::Block(UnmovableKubeSystemPod),
            "default namespace PDB with matching labels kube-system pod"
        );
        assert_eq!(
            rule(
                &rs,
                PodDrainInfo::replicated(),
                &[pdb("kube-system", "web", 0)]
            ),
            Drainability::Move,
            "kube-system PDB with default namespace pod"
        );
        let local = PodDrainInfo {
            local_storage: true,
            ..PodDrainInfo::replicated()
        };
        assert_eq!(
            rule(&rs, local.clone(), &[]),
            Drainability::Block(LocalStorageRequested),
            "Local storage"
        );
        let opts = DrainOptions {
            skip_nodes_with_local_storage: false,
            ..Default::default()
        };
        assert_eq!(
            drainability(&rs, &local, &[], &opts, SimTime::ZERO),
            Drainability::Move
        );
        let not_safe = PodDrainInfo {
            safe_to_evict: Some(false),
            ..PodDrainInfo::replicated()
        };
        assert_eq!(
            rule(&rs, not_safe, &[]),
            Drainability::Block(NotSafeToEvictAnnotation)
        );
        assert_eq!(
            rule(&rs, PodDrainInfo::replicated(), &[pdb("default", "web", 0)]),
            Drainability::Block(NotEnoughPdb),
            "Pdb blocking"
        );
        assert_eq!(
            rule(&rs, PodDrainInfo::replicated(), &[pdb("default", "web", 1)]),
            Drainability::Move,
            "Pdb allowing"
        );
        let terminal = PodDrainInfo {
            terminal: true,
            ..bare.clone()
        };
        assert_eq!(rule(&rs, terminal, &[]), Drainability::Skip, "terminal pod");
        // Long-terminating: deleted 2 min ago with a 30 s grace period (> grace + 30 s).
        let long = PodDrainInfo {
            deleting: Some((SimTime(3_480_000), 30_000)),
            ..bare.clone()
        };
        assert_eq!(rule(&rs, long, &[]), Drainability::Skip);
        let recent = PodDrainInfo {
            deleting: Some((SimTime(3_580_000), 30_000)),
            ..bare
        };
        assert_eq!(rule(&rs, recent, &[]), Drainability::Block(NotReplicated));
        let custom = PodDrainInfo {
            controller: Some(ControllerKind::Other),
            ..PodDrainInfo::replicated()
        };
        assert_eq!(
            rule(&rs, custom.clone(), &[]),
            Drainability::Block(NotReplicated)
        );
        let opts = DrainOptions {
            skip_nodes_with_custom_controller_pods: false,
            ..Default::default()
        };
        assert_eq!(
            drainability(&rs, &custom, &[], &opts, SimTime::ZERO),
            Drainability::Move
        );
    }

    fn views<'a>(nodes: &'a [NodeInfo]) -> Vec<NodeView<'a>> {
        nodes
            .iter()
            .map(|n| NodeView {
                info: n,
                group: Some("ng"),
                scale_down_disabled: false,
                being_deleted: false,
            })
            .collect()
    }

    #[test]
    fn underutilized_node_moves_its_pods_when_they_fit() {
        // n1 at 20% (one 400m pod), n2 at 60%: n1's pod fits n2, n2 is not underutilized.
        let nodes = [
            node("n1", 2000, vec![pod(1, "default", 400, 0, "web")]),
            node("n2", 2000, vec![pod(2, "default", 1200, 0, "web")]),
        ];
        let s = find_removable(
            &views(&nodes),
            &|_| PodDrainInfo::replicated(),
            &[],
            &BTreeMap::new(),
            &ScaleDownOptions::default(),
            SimTime::ZERO,
        );
        assert_eq!(s.removable.len(), 1);
        assert_eq!(s.removable[0].node, "n1");
        assert!((s.removable[0].utilization - 0.2).abs() < 1e-9);
        assert_eq!(s.removable[0].evict, [1]);
        assert_eq!(
            s.unremovable,
            [Unremovable {
                node: "n2".into(),
                reason: "NotUnderutilized".into()
            }]
        );
    }

    #[test]
    fn a_node_at_exactly_the_threshold_is_not_underutilized() {
        // eligibility.go isNodeBelowUtilizationThreshold: `>= threshold` keeps the node. n1 at
        // exactly 50% stays although its pod would fit n2 (25%), which is removable.
        let nodes = [
            node("n1", 2000, vec![pod(1, "default", 1000, 0, "web")]),
            node("n2", 4000, vec![pod(2, "default", 1000, 0, "web")]),
        ];
        let s = find_removable(
            &views(&nodes),
            &|_| PodDrainInfo::replicated(),
            &[],
            &BTreeMap::new(),
            &ScaleDownOptions::default(),
            SimTime::ZERO,
        );
        assert_eq!(
            s.unremovable,
            [Unremovable {
                node: "n1".into(),
                reason: "NotUnderutilized".into()
            }]
        );
        assert_eq!(s.removable.len(), 1);
        assert_eq!(s.removable[0].node, "n2");
    }

    #[test]
    fn two_underutilized_nodes_cannot_both_move_onto_each_other() {
        // Both at 45%: the first can move onto the second (90%), then the second has no place.
        let nodes = [
            node("a", 2000, vec![pod(1, "default", 900, 0, "web")]),
            node("b", 2000, vec![pod(2, "default", 900, 0, "web")]),
        ];
        let s = find_removable(
            &views(&nodes),
            &|_| PodDrainInfo::replicated(),
            &[],
            &BTreeMap::new(),
            &ScaleDownOptions::default(),
            SimTime::ZERO,
        );
        assert_eq!(
            s.removable
                .iter()
                .map(|r| r.node.as_str())
                .collect::<Vec<_>>(),
            ["a"]
        );
        assert_eq!(
            s.unremovable,
            [Unremovable {
                node: "b".into(),
                reason: "NoPlaceToMovePods".into()
            }]
        );
    }

    // core/utils/expendable_test.go and the scale-down half of issue 5: expendable pods neither
    // count in utilization nor block nor need a place.
    #[test]
    fn expendable_pods_are_invisible_to_scale_down() {
        // n1 holds only a big -1000 pause pod (80% of CPU): utilization 0, it is empty.
        let nodes = [
            node("n1", 2000, vec![pod(1, "default", 1600, -1000, "pause")]),
            node("n2", 2000, vec![pod(2, "default", 1900, 0, "web")]),
        ];
        let bare = |_| PodDrainInfo {
            controller: None,
            ..PodDrainInfo::replicated()
        };
        let s = find_removable(
            &views(&nodes),
            &bare,
            &[],
            &BTreeMap::new(),
            &ScaleDownOptions::default(),
            SimTime::ZERO,
        );
        assert_eq!(s.removable.len(), 1);
        assert!(s.removable[0].empty && s.removable[0].utilization == 0.0);
        // The same pod at -10 (not expendable) counts: 80% > 50%.
        let nodes = [node(
            "n1",
            2000,
            vec![pod(1, "default", 1600, -10, "pause")],
        )];
        let s = find_removable(
            &views(&nodes),
            &bare,
            &[],
            &BTreeMap::new(),
            &ScaleDownOptions::default(),
            SimTime::ZERO,
        );
        assert!(s.removable.is_empty());
        assert_eq!(s.unremovable[0].reason, "NotUnderutilized");
    }

    #[test]
    fn simulation_work_per_loop_is_bounded() {
        // 100 underutilized nodes whose pods are pinned to them (node selector on the
        // hostname): 30 wanted + a pool of max(50, 10) are simulated, the rest wait.
        let nodes: Vec<NodeInfo> = (0..100)
            .map(|i| {
                let name = format!("n{i:03}");
                let mut p = pod(i, "default", 100, 0, "web");
                p.constraints = Arc::new(crate::scheduler::PlacementConstraints {
                    node_selector: [("kubernetes.io/hostname".to_string(), name.clone())].into(),
                    ..Default::default()
                });
                let mut n = node(&name, 2000, vec![p]);
                Arc::make_mut(&mut n.labels).insert("kubernetes.io/hostname".into(), name);
                n
            })
            .collect();
        let s = find_removable(
            &views(&nodes),
            &|_| PodDrainInfo::replicated(),
            &[],
            &BTreeMap::new(),
            &ScaleDownOptions::default(),
            SimTime::ZERO,
        );
        assert!(s.removable.is_empty());
        assert_eq!(s.unremovable.len(), 80);
        assert!(
            s.unremovable
                .iter()
                .all(|u| u.reason == "NoPlaceToMovePods")
        );
    }

    #[test]
    fn blockers_are_reported() {
        let nodes = [
            node("n1", 2000, vec![pod(1, "default", 100, 0, "web")]),
            node("n2", 2000, vec![]),
        ];
        let s = find_removable(
            &views(&nodes),
            &|_| PodDrainInfo::replicated(),
            &[pdb("default", "web", 0)],
            &BTreeMap::new(),
            &ScaleDownOptions::default(),
            SimTime::ZERO,
        );
        assert_eq!(
            s.unremovable,
            [Unremovable {
                node: "n1".into(),
                reason: "BlockedByPod: default/p1 NotEnoughPdb".into()
            }]
        );
        assert_eq!(
            s.removable
                .iter()
                .map(|r| r.node.as_str())
                .collect::<Vec<_>>(),
            ["n2"]
        );
    }

    #[test]
    fn deletions_wait_for_unneeded_time_and_respect_min_size() {
        let r = |n: &str, empty: bool| Removable {
            node: n.into(),
            group: "ng".into(),
            utilization: 0.1,
            evict: vec![],
            empty,
            ready: true,
        };
        let removable = [r("a", true), r("b", true), r("c", false), r("d", false)];
        let since: BTreeMap<String, SimTime> = ["a", "b", "c", "d"]
            .iter()
            .map(|n| (n.to_string(), SimTime::ZERO))
            .collect();
        let opts = ScaleDownOptions::default();
        let mut room = BTreeMap::from([("ng".to_string(), 10)]);
        assert!(
            select_deletions(&removable, &since, &mut room, 0, 0, &opts, SimTime(599_999))
                .is_empty()
        );
        let d = select_deletions(&removable, &since, &mut room, 0, 0, &opts, SimTime(600_000));
        assert_eq!(
            d.iter().map(|r| r.node.as_str()).collect::<Vec<_>>(),
            ["a", "b", "c"],
            "empty in bulk, one drain"
        );
        let mut room = BTreeMap::from([("ng".to_string(), 1)]);
        let d = select_deletions(&removable, &since, &mut room, 0, 0, &opts, SimTime(600_000));
        assert_eq!(d.len(), 1, "the group is at min + 1");
        let mut room = BTreeMap::from([("ng".to_string(), 10)]);
        let d = select_deletions(&removable, &since, &mut room, 1, 1, &opts, SimTime(600_000));
        assert_eq!(
            d.iter().map(|r| r.node.as_str()).collect::<Vec<_>>(),
            ["a", "b"],
            "a drain is in progress"
        );
    }
}
