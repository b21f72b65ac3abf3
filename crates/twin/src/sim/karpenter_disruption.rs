//! Karpenter disruption of `karpenter.sh/v1` NodePool nodes: emptiness, multi-node and
//! single-node consolidation (delete, or replace with one cheaper node), under the pools'
//! disruption budgets.
//!
//! Follows kubernetes-sigs/karpenter pkg/controllers/disruption: `controller.go` (a poll every
//! 10 s tries Emptiness → multi-node → single-node consolidation, the first method with a
//! command wins and the loop runs again at once; drift is not emulated), `helpers.go`
//! (`BuildDisruptionBudgetMapping`: initialized pool nodes count, NotReady and disrupting
//! nodes use up the budget, `DisruptionBlocked` on a pool whose budget is 0),
//! `validation.go` (a command is re-validated after 15 s: candidates still candidates,
//! budgets, same simulation result — else `ConsolidationRejected`), `queue.go`
//! (`StartCommand`: candidates get the `karpenter.sh/disrupted:NoSchedule` taint, the
//! replacement is launched, and only once it is initialized are the candidates' NodeClaims
//! deleted, which drains and terminates them) and `events/events.go` for the wording. The
//! decisions themselves are in [`kscale_controllers::karpenter`]: [`candidates`] (which nodes are
//! candidates, for which method), [`budget`], [`emptiness`], [`consolidation`] and
//! [`validation`]; this module gathers their inputs from the twin's state and applies the
//! commands.
//!
//! [`emptiness`]: kscale_controllers::karpenter::emptiness
//! [`validation`]: kscale_controllers::karpenter::validation
//!
//! Per-poll cost: nothing is computed while no pod or node changed since a poll that found
//! nothing (upstream `IsConsolidated`), unless a node's `consolidateAfter` elapses or a
//! scheduled budget may change; single-node consolidation simulates at most
//! [`MAX_SINGLE_NODE_CANDIDATES`] candidates per poll, multi-node at most 100. What a node means
//! to disruption is cached per node (`NodeEntry`) and read again only when the node's
//! `pods_stamp` or the revision of `Topic::NodeMetadata` changed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use kscale_controllers::karpenter::budget::{self, Reason};
use kscale_controllers::karpenter::candidates::{
    self, NODEPOOL_LABEL, NodeFacts, PodFacts, PodsSummary,
};
use kscale_controllers::karpenter::consolidation::Candidate;
use kscale_controllers::karpenter::validation::Rejection;
use kscale_controllers::karpenter::{Offering, Pool, compatibility};
use kscale_controllers::scheduler::{NodeInfo, PodInfo};
use kscale_model::labels::{Labels, NodeSelectorRequirement};
use kscale_model::{Resources, SimTime, Taint, TaintEffect};
use serde_json::Value;

use kscale_cluster::ChangeType;

use super::changes::Topic;
use super::karpenter::PoolConfig;
use super::model::Node;
use super::{Event, Sim};

use kscale_components::karpenter::Dedupe;
use kscale_components::karpenter::dedupe::{BLOCKED_DEDUPE_MS, UNCONSOLIDATABLE_DEDUPE_MS};
use kscale_components::karpenter::disruption::{self, Gathered, Poll, Simulated};
pub use kscale_components::karpenter::{
    Command, DISRUPTED_TAINT, DecisionRecord, MAX_SINGLE_NODE_CANDIDATES, PlannedReplacement,
    TERMINATION_POLL_MS, VALIDATION_DELAY_MS, summary_json,
};

/// Disruption state of the twin's Karpenter.
#[derive(Debug, Default)]
pub struct DisruptionState {
    /// The command waiting for its 15-second validation.
    pub validating: Option<Command>,
    /// Commands started (waiting for the replacement, or draining).
    pub running: Vec<Command>,
    /// Nodes marked for disruption.
    pub disrupting: BTreeSet<String>,
    /// (revisions of `Topic::PodPlacement` and `Topic::Capacity`, valid until) of the last poll that found nothing to do.
    pub consolidated: Option<(u64, u64, SimTime)>,
    /// Decisions taken.
    pub decisions: Vec<DecisionRecord>,
    /// Commands rejected at validation.
    pub rejected: u64,
    /// Node → its NodeClaim's name.
    pub claims: BTreeMap<String, String>,
    /// Last emission of a deduplicated event (reason, object) → time.
    dedupe: Dedupe,
    /// Node → what disruption reads of it, kept while it is unchanged.
    node_pods: BTreeMap<Arc<str>, NodeEntry>,
    /// The NodePool names of [`NodeEntry::nodepool`], one allocation per name.
    pool_names: BTreeSet<Arc<str>>,
    /// The pools' compatibility with the offerings, kept while both are unchanged.
    compat: Option<Compat>,
}

/// [`compatibility`] of the pools with an offerings list, with what it was computed from: the
/// list (held, so its address is not reused while kept) and what the matching reads of each
/// pool (requirements and template labels).
#[derive(Debug)]
struct Compat {
    offerings: Arc<Vec<Offering>>,
    pools: Vec<(Vec<NodeSelectorRequirement>, Labels)>,
    compatible: Arc<Vec<Vec<usize>>>,
}

impl Compat {
    fn matches(&self, pools: &[Pool], offerings: &Arc<Vec<Offering>>) -> bool {
        Arc::ptr_eq(&self.offerings, offerings)
            && self.pools.len() == pools.len()
            && self
                .pools
                .iter()
                .zip(pools)
                .all(|((r, l), p)| *r == p.requirements && *l == p.labels)
    }
}

impl DisruptionState {
    /// A node of this name was added or is removed: its cache entry (of an earlier node of the
    /// same name, or its own) goes.
    pub fn forget_node(&mut self, name: &str) {
        self.node_pods.remove(name);
    }

    /// A pod's annotations changed: the cached per-node entries may be stale.
    pub fn pod_annotations_changed(&mut self) {
        self.node_pods.clear();
        self.pool_names.clear();
    }
}

/// What disruption reads of a node: its pool label and `do-not-disrupt` annotation (valid while
/// [`Sim::node_labels_epoch`] is `meta_epoch`: labels and annotations only change with it) and, for
/// NodePool nodes, what its pods mean.
#[derive(Debug, Default)]
struct NodeEntry {
    /// The [`Sim::node_labels_epoch`] `nodepool` and `do_not_disrupt` were read at.
    meta_epoch: Option<u64>,
    /// Its `karpenter.sh/nodepool` label (interned: the entries of one pool share it).
    nodepool: Option<Arc<str>>,
    /// Its `karpenter.sh/do-not-disrupt` annotation is `"true"`.
    do_not_disrupt: bool,
    /// Its pods, for a NodePool node.
    pods: Option<NodePods>,
}

/// What a node's pods mean to disruption ([`PodsSummary`]), kept while the node's pods (ids, in
/// order, and their terminating flags) are the same, since a pod's owner, priority and template
/// only change with a `kubectl annotate` ([`DisruptionState::pod_annotations_changed`]). The
/// node's [`Node::pods_stamp`] changes with any of those, so an unchanged stamp proves the
/// signature unchanged without reading the pods (`Sim::check_invariants` verifies it).
#[derive(Debug, Default)]
struct NodePods {
    /// The node's [`Node::pods_stamp`] when last found current.
    stamp: u64,
    /// (id, terminating) of the node's pods when computed.
    signature: Vec<(u64, bool)>,
    /// What the pods mean (their placement order read the requests, which change with a new
    /// stamp too).
    summary: PodsSummary,
}

impl NodePods {
    /// Current for the node: its stamp is unchanged (its pods, their order and requests too).
    fn current(&self, n: &Node) -> bool {
        self.stamp == n.pods_stamp
    }

    fn same_pods(&self, pods: &[PodInfo]) -> bool {
        self.signature.len() == pods.len()
            && self
                .signature
                .iter()
                .zip(pods)
                .all(|(s, p)| s.0 == p.id && s.1 == p.terminating)
    }
}

/// Same key of the node map and of a cache in name order: the cache's keys are clones of the
/// node map's, so the pointers are compared before the names.
fn same_name(a: &Arc<str>, b: &Arc<str>) -> bool {
    Arc::ptr_eq(a, b) || a == b
}

/// `a` sorts before `b` (and is not the same key).
fn before(a: &Arc<str>, b: &Arc<str>) -> bool {
    !Arc::ptr_eq(a, b) && a < b
}

/// The node has `karpenter.sh/do-not-disrupt: "true"`.
fn do_not_disrupt(n: &Node) -> bool {
    candidates::do_not_disrupt(&n.annotations)
}

impl Sim {
    fn unix_ms(&self) -> i64 {
        self.start_unix_ms + self.now.as_millis() as i64
    }

    fn dedupe(&mut self, reason: &'static str, object: &str, window_ms: u64) -> bool {
        let now = self.now.as_millis();
        self.karpenter_disruption
            .dedupe
            .publish(reason, object, now, window_ms)
    }

    /// Offerings that can be launched now (not cached as unavailable).
    fn available_offerings(&self) -> Arc<Vec<Offering>> {
        self.karpenter
            .provisioning
            .available(&self.offerings(), self.now.as_millis())
    }

    /// Keeps [`DisruptionState::compat`] for the pools of `configs` and the offerings available
    /// now (before a [`Sim::decide`] or [`Sim::revalidate`]).
    fn refresh_compat(&mut self, configs: &[PoolConfig]) {
        let offerings = self.available_offerings();
        let pools: Vec<Pool> = configs.iter().map(|c| c.pool.clone()).collect();
        let state = &mut self.karpenter_disruption;
        if state
            .compat
            .as_ref()
            .is_some_and(|c| c.matches(&pools, &offerings))
        {
            return;
        }
        state.compat = Some(Compat {
            compatible: Arc::new(compatibility(&pools, &offerings)),
            pools: pools
                .into_iter()
                .map(|p| (p.requirements, p.labels))
                .collect(),
            offerings,
        });
    }

    /// The kept compatibility of `pools` with `offerings`, when it is for these.
    fn kept_compatibility(
        &self,
        pools: &[Pool],
        offerings: &Arc<Vec<Offering>>,
    ) -> Option<Arc<Vec<Vec<usize>>>> {
        match &self.karpenter_disruption.compat {
            Some(c) if c.matches(pools, offerings) => Some(c.compatible.clone()),
            _ => None,
        }
    }

    /// Candidates of every NodePool, budgets' inputs and the simulation's destinations. With
    /// `ordered`, the candidates in consolidation order (else in name order: revalidation finds
    /// them by name).
    fn gather(&self, configs: &[PoolConfig], ordered: bool) -> Gathered<'_> {
        let mut g = Gathered::new(configs);
        let now = self.now;
        let state = &self.karpenter_disruption;
        // The cache and the nodes are both in name order: walked side by side.
        let mut cached = state.node_pods.iter().peekable();
        let mut last_pool: Option<(&str, Option<usize>)> = None;
        // The disrupting nodes, in name order as the walk meets them: matched by address
        // instead of looking each node's name up in the set.
        let disrupting_nodes: Vec<&Node> = state
            .disrupting
            .iter()
            .filter_map(|d| self.nodes.get(d.as_str()))
            .collect();
        let mut next_disrupting = disrupting_nodes.iter().peekable();
        for (name, n) in &self.nodes {
            while cached.next_if(|(k, _)| before(k, name)).is_some() {}
            let entry = cached
                .next_if(|(k, _)| same_name(k, name))
                .map(|(_, c)| c)
                .filter(|e| e.meta_epoch == Some(self.store.changes().at(Topic::NodeMetadata)));
            let cache = entry.and_then(|e| e.pods.as_ref());
            let disrupting = next_disrupting.next_if(|d| std::ptr::eq(**d, n)).is_some();
            let mut destination = None;
            if n.info.ready && !n.info.unschedulable && !disrupting {
                destination = Some(g.destinations.len());
                g.destinations.push(&n.info);
            }
            let (nodepool, do_not_disrupt) = match entry {
                Some(e) => (e.nodepool.as_deref(), e.do_not_disrupt),
                None => (
                    n.info.labels.get(NODEPOOL_LABEL).map(String::as_str),
                    do_not_disrupt(n),
                ),
            };
            // (Consecutive nodes of one pool share the interned name: its index is kept.)
            let pi = match nodepool {
                Some(p) if last_pool.is_some_and(|(q, _)| std::ptr::eq(q, p)) => {
                    last_pool.expect("checked").1
                }
                Some(p) => {
                    let i = configs
                        .iter()
                        .position(|c| c.is_nodepool() && c.pool.name == p);
                    last_pool = Some((p, i));
                    i
                }
                None => None,
            };
            let Some(pi) = pi else {
                continue;
            };
            let cfg = &configs[pi];
            g.counts[pi].0 += 1;
            let facts = NodeFacts {
                ready: n.info.ready,
                disrupting,
                do_not_disrupt,
                last_pod_event: n.last_pod_event,
            };
            let policy = cfg.disruption();
            if let Err(why) = candidates::screen_node(&facts, &policy, now) {
                g.not_a_candidate(pi, name, &cfg.pool.name, why);
                continue;
            }
            let age = now.since(n.created);
            // (The cache is refreshed before every gathering: `fresh` is for safety only.)
            let screened = match cache.filter(|c| c.current(n)) {
                Some(np) => candidates::screen_pods(&np.summary, &policy).map(|r| {
                    let s = &np.summary;
                    let cost = s.candidate_disruption_cost(age, cfg.expire_after_ms);
                    (r, s.candidate_pods(&n.info.pods), cost, s.reschedule_cost)
                }),
                None => {
                    let fresh = self.node_pods(n).summary;
                    candidates::screen_pods(&fresh, &policy).map(|r| {
                        let cost = fresh.candidate_disruption_cost(age, cfg.expire_after_ms);
                        let reschedule_cost = fresh.reschedule_cost;
                        (
                            r,
                            fresh.into_candidate_pods(&n.info.pods),
                            cost,
                            reschedule_cost,
                        )
                    })
                }
            };
            let (reason, pods, disruption_cost, reschedule_cost) = match screened {
                Ok(s) => s,
                Err(why) => {
                    g.not_a_candidate(pi, name, &cfg.pool.name, why);
                    continue;
                }
            };
            let c = Candidate {
                node: name,
                pool: pi,
                instance_type: &n.instance_type,
                capacity_type: &n.capacity_type,
                price: n.hourly_price,
                capacity: n.capacity,
                pods,
                disruption_cost,
                reschedule_cost,
                destination,
            };
            match reason {
                Reason::Empty => g.empty.push(c),
                _ => g.underutilized.push(c),
            }
        }
        // (Gathered from the nodes in name order; revalidation finds candidates by name.)
        if ordered {
            g.order();
        }
        g
    }

    /// What a node's pods mean to disruption ([`PodsSummary::of`] its pods' facts).
    fn node_pods(&self, n: &Node) -> NodePods {
        let pods = &n.info.pods;
        NodePods {
            stamp: n.pods_stamp,
            signature: pods.iter().map(|p| (p.id, p.terminating)).collect(),
            summary: PodsSummary::of(pods, |p| {
                let pod = self.pods.get(&p.id)?;
                Some(PodFacts {
                    daemon_set: pod.owner.as_ref().is_some_and(|o| o.kind == "DaemonSet"),
                    terminating: pod.deleting_at.is_some(),
                    annotations: &pod.template.annotations,
                    priority: pod.priority,
                })
            }),
        }
    }

    /// Brings the cached [`NodeEntry`]s up to date with the nodes (before a [`Sim::gather`]):
    /// in place, a node's pods read only when its stamp changed.
    fn refresh_node_pods(&mut self) {
        let epoch = self.store.changes().at(Topic::NodeMetadata);
        let mut cache = std::mem::take(&mut self.karpenter_disruption.node_pods);
        let mut names = std::mem::take(&mut self.karpenter_disruption.pool_names);
        let mut missing = vec![];
        let mut matched = 0;
        {
            // Both maps are in name order: walk them side by side (no lookup by name).
            let mut old = cache.iter_mut().peekable();
            for (name, n) in &self.nodes {
                while old.next_if(|(k, _)| before(k, name)).is_some() {}
                match old.next_if(|(k, _)| same_name(k, name)) {
                    Some((_, e)) => {
                        matched += 1;
                        self.refresh_entry(e, n, epoch, &mut names);
                    }
                    None => missing.push(name.clone()),
                }
            }
        }
        if matched < cache.len() {
            cache.retain(|k, _| self.nodes.contains_key(k));
        }
        for name in missing {
            let mut e = NodeEntry::default();
            self.refresh_entry(&mut e, &self.nodes[&name], epoch, &mut names);
            cache.insert(name, e);
        }
        self.karpenter_disruption.node_pods = cache;
        self.karpenter_disruption.pool_names = names;
    }

    fn refresh_entry(
        &self,
        e: &mut NodeEntry,
        n: &Node,
        epoch: u64,
        names: &mut BTreeSet<Arc<str>>,
    ) {
        if e.meta_epoch != Some(epoch) {
            e.meta_epoch = Some(epoch);
            e.nodepool = n.info.labels.get(NODEPOOL_LABEL).map(|p| {
                if let Some(a) = names.get(p.as_str()) {
                    return a.clone();
                }
                let a: Arc<str> = Arc::from(p.as_str());
                names.insert(a.clone());
                a
            });
            e.do_not_disrupt = do_not_disrupt(n);
        }
        if e.nodepool.is_none() {
            return;
        }
        match &mut e.pods {
            Some(c) if c.stamp == n.pods_stamp => {}
            Some(c) if c.same_pods(&n.info.pods) => {
                // Same pods (what they mean to disruption is kept), maybe new requests.
                c.stamp = n.pods_stamp;
                c.summary.order(&n.info.pods);
            }
            _ => e.pods = Some(self.node_pods(n)),
        }
    }

    /// The disruption cache agrees with the nodes: an entry whose stamp is its node's has the
    /// node's pods (ids, order, terminating flags).
    pub(super) fn disruption_check_invariants(&self) -> Result<(), String> {
        if let Some(c) = &self.karpenter_disruption.compat {
            let pools: Vec<Pool> = c
                .pools
                .iter()
                .map(|(r, l)| Pool {
                    name: String::new(),
                    weight: 0,
                    requirements: r.clone(),
                    taints: vec![],
                    labels: l.clone(),
                    limits: None,
                    usage: Resources::ZERO,
                    daemon_overhead: Resources::ZERO,
                })
                .collect();
            if *c.compatible != compatibility(&pools, &c.offerings) {
                return Err("kept pool compatibility differs from a recount".into());
            }
        }
        for (name, e) in &self.karpenter_disruption.node_pods {
            let Some(n) = self.nodes.get(name) else {
                continue;
            };
            if let Some(c) = &e.pods
                && c.stamp == n.pods_stamp
                && (!c.same_pods(&n.info.pods) || {
                    let mut again = c.summary.clone();
                    again.order(&n.info.pods);
                    again != c.summary
                })
            {
                return Err(format!(
                    "node {name}: pods changed without a new pods_stamp ({})",
                    n.pods_stamp
                ));
            }
            if e.meta_epoch == Some(self.store.changes().at(Topic::NodeMetadata))
                && (e.nodepool.as_deref() != n.info.labels.get(NODEPOOL_LABEL).map(String::as_str)
                    || e.do_not_disrupt != do_not_disrupt(n))
            {
                return Err(format!(
                    "node {name}: labels or annotations changed without a new Topic::NodeMetadata change"
                ));
            }
        }
        Ok(())
    }

    /// What the consolidation simulation adds to the nodes: the pending pods (not nominated to
    /// in-flight capacity) and the in-flight NodeClaims as uninitialized nodes.
    fn simulation_extras(
        &self,
        configs: &[PoolConfig],
    ) -> (Vec<PodInfo>, Vec<NodeInfo>, BTreeSet<Arc<str>>) {
        let k = &self.karpenter.provisioning;
        let now = self.now.as_millis();
        let pending = self
            .sched_queue
            .unschedulable_since()
            .keys()
            .filter_map(|id| self.pods.get(id))
            .filter(|p| {
                p.node.is_none()
                    && p.deleting_at.is_none()
                    && p.unschedulable.is_some()
                    && !k.is_nominated(p.id, now)
            })
            .map(|p| p.sched_info())
            .collect();
        let mut names = BTreeSet::new();
        let in_flight = k
            .in_flight()
            .iter()
            .filter_map(|f| {
                let c = configs.iter().find(|c| c.pool.name == f.pool)?;
                let name: Arc<str> = Arc::from(f.claim.as_str());
                names.insert(name.clone());
                Some(f.node_view(c, name))
            })
            .collect();
        (pending, in_flight, names)
    }

    fn emit_blocked(&mut self, configs: &[PoolConfig], counts: &[(u64, u64)], reason: Reason) {
        let unix = self.unix_ms();
        for (c, (n, _)) in configs.iter().zip(counts) {
            if *n > 0
                && budget::allowed_by_reason(&c.budgets, reason, unix, *n) == 0
                && self.dedupe(
                    "DisruptionBlocked",
                    &format!("{}/{reason:?}", c.pool.name),
                    BLOCKED_DEDUPE_MS,
                )
            {
                self.emit(
                    "Normal",
                    "DisruptionBlocked",
                    "NodePool",
                    "",
                    &c.pool.name,
                    format!(
                        "No allowed disruptions for disruption reason {} due to blocking budget",
                        reason.as_str()
                    ),
                    "karpenter",
                );
            }
        }
    }

    /// A NodePool disruption pass would do nothing: no NodePool, or no pod or node changed
    /// since a poll that found nothing (and nothing it waited for is due).
    pub fn nodepools_consolidated(&self, configs: &[PoolConfig]) -> bool {
        !configs.iter().any(PoolConfig::is_nodepool)
            || self
                .karpenter_disruption
                .consolidated
                .is_some_and(|(pe, ne, until)| {
                    pe == self.store.changes().at(Topic::PodPlacement)
                        && ne == self.store.changes().at(Topic::Capacity)
                        && self.now < until
                })
    }

    /// One NodePool disruption pass. Returns when to poll next (`None`: a command is
    /// validating, and its validation polls again).
    pub fn nodepool_disruption(&mut self, configs: &[PoolConfig]) -> Option<u64> {
        use super::karpenter::DISRUPTION_POLL_MS;
        if self.nodepools_consolidated(configs) {
            return Some(DISRUPTION_POLL_MS);
        }
        self.refresh_node_pods();
        self.refresh_compat(configs);
        let poll = self.decide(configs);
        for (node, msg) in poll.unconsolidatable {
            self.unconsolidatable(&node, msg);
        }
        for reason in poll.blocked {
            self.emit_blocked(configs, &poll.counts, reason);
        }
        for (node, msg) in poll.rejected {
            self.unconsolidatable(&node, msg);
        }
        if let Some(cmd) = poll.command {
            if cmd.replacement.is_some() {
                for (node, ..) in &cmd.nodes {
                    let msg = format!(
                        "Consolidation candidate: {} (savings: ${:.2})",
                        cmd.describe(),
                        cmd.savings
                    );
                    self.emit_node_and_claim("ConsolidationCandidate", node, msg);
                }
            }
            return self.validate_later(cmd);
        }
        if !poll.constrained {
            let mut until = poll.next_eligible.unwrap_or(SimTime(u64::MAX));
            if configs
                .iter()
                .any(|c| c.budgets.iter().any(|b| b.schedule.is_some()))
            {
                // A scheduled budget may change at the next minute.
                until = until.min(SimTime((self.now.as_millis() / 60_000 + 1) * 60_000));
            }
            self.karpenter_disruption.consolidated = Some((
                self.store.changes().at(Topic::PodPlacement),
                self.store.changes().at(Topic::Capacity),
                until,
            ));
        }
        Some(DISRUPTION_POLL_MS)
    }

    /// The decisions of a poll over the current state (emptiness, then multi-node, then
    /// single-node consolidation); [`Sim::nodepool_disruption`] emits its events.
    fn decide(&self, configs: &[PoolConfig]) -> Poll {
        let g = self.gather(configs, true);
        disruption::decide(
            configs,
            &g,
            self.unix_ms(),
            || self.simulated(&g.pools, configs),
            |node| self.nodes[node].uid.clone(),
        )
    }

    /// What consolidation simulates beyond the gathered destinations of `pools`, with the
    /// kept compatibility when it is for these pools and the offerings available now.
    fn simulated(&self, pools: &[Pool], configs: &[PoolConfig]) -> Simulated {
        let offerings = self.available_offerings();
        let (pending, in_flight, uninitialized) = self.simulation_extras(configs);
        let compatible = self.kept_compatibility(pools, &offerings);
        Simulated {
            offerings,
            pending,
            in_flight,
            uninitialized,
            compatible,
        }
    }

    fn unconsolidatable(&mut self, node: &str, msg: String) {
        if self.dedupe("Unconsolidatable", node, UNCONSOLIDATABLE_DEDUPE_MS) {
            self.emit_node_and_claim("Unconsolidatable", node, msg);
        }
    }

    /// Emits an event on a node and on its NodeClaim, as upstream's disruption events do.
    fn emit_node_and_claim(&mut self, reason: &str, node: &str, msg: String) {
        self.emit("Normal", reason, "Node", "", node, msg.clone(), "karpenter");
        if let Some(claim) = self.karpenter_disruption.claims.get(node).cloned() {
            self.emit("Normal", reason, "NodeClaim", "", &claim, msg, "karpenter");
        }
    }

    fn validate_later(&mut self, cmd: Command) -> Option<u64> {
        self.karpenter_disruption.validating = Some(cmd);
        self.queue.push(
            self.now.plus_millis(VALIDATION_DELAY_MS),
            Event::KarpenterValidate,
        );
        None
    }

    /// The 15-second re-validation of the pending command; starts it or rejects it.
    pub fn karpenter_validate(&mut self) {
        use super::karpenter::DISRUPTION_POLL_MS;
        let Some(cmd) = self.karpenter_disruption.validating.take() else {
            return;
        };
        let configs = self.karpenter_pools();
        self.refresh_node_pods();
        self.refresh_compat(&configs);
        match self.revalidate(&configs, &cmd) {
            Ok(()) => {
                self.start_command(&configs, cmd);
                self.queue.push(self.now, Event::KarpenterDisruption);
            }
            Err(why) => {
                self.karpenter_disruption.rejected += 1;
                if cmd.reason == Reason::Underutilized {
                    for (node, ..) in &cmd.nodes {
                        let msg = format!(
                            "Consolidation rejected: {}, reason: {} (savings: ${:.2})",
                            cmd.describe(),
                            why.as_str(),
                            cmd.savings
                        );
                        self.emit_node_and_claim("ConsolidationRejected", node, msg);
                    }
                }
                self.queue.push(
                    self.now.plus_millis(DISRUPTION_POLL_MS),
                    Event::KarpenterDisruption,
                );
            }
        }
    }

    /// The command's [`validation`] over the current state.
    fn revalidate(&self, configs: &[PoolConfig], cmd: &Command) -> Result<(), Rejection> {
        let g = self.gather(configs, false);
        disruption::revalidate(
            configs,
            &g,
            cmd,
            self.unix_ms(),
            |name, uid| self.nodes[name].uid == uid,
            || self.simulated(&g.pools, configs),
        )
    }

    fn start_command(&mut self, configs: &[PoolConfig], mut cmd: Command) {
        for (node, ..) in &cmd.nodes {
            self.karpenter_disruption.disrupting.insert(node.clone());
            if let Some(n) = self.nodes.get_mut(node.as_str()) {
                Arc::make_mut(&mut n.info.taints).push(Taint {
                    key: DISRUPTED_TAINT.into(),
                    value: String::new(),
                    effect: TaintEffect::NoSchedule,
                });
                self.store
                    .record_object("Node", "", node, ChangeType::Modified);
            }
        }
        self.store.record(Topic::Capacity);
        let reason = cmd.reason.as_str();
        let record = DecisionRecord {
            time: self.now.as_secs_f64(),
            decision: cmd.decision(),
            reason,
            method: cmd.method,
            nodes: cmd
                .nodes
                .iter()
                .map(|n| format!("{} ({} {})", n.0, n.2, n.3))
                .collect(),
            replacement: cmd
                .replacement
                .as_ref()
                .map(|r| format!("{} {}", r.offering.instance_type, r.offering.capacity_type)),
            savings: cmd.savings,
        };
        if let Some(r) = cmd.replacement.clone() {
            let Some(cfg) = configs.iter().find(|c| c.pool.name == r.pool).cloned() else {
                self.abort_command(&cmd);
                return;
            };
            let claim = format!("{}-{}", r.pool, self.rng.names.name_suffix(5));
            if !self.launch_claim(&cfg, claim.clone(), r.offering.clone(), r.requests) {
                self.abort_command(&cmd);
                return;
            }
            self.emit(
                "Normal",
                "DisruptionLaunching",
                "NodeClaim",
                "",
                &claim,
                format!("Launching NodeClaim: {reason}"),
                "karpenter",
            );
            self.emit(
                "Normal",
                "DisruptionWaitingReadiness",
                "NodeClaim",
                "",
                &claim,
                "Waiting on readiness to continue disruption".into(),
                "karpenter",
            );
            cmd.claim = Some(claim);
            self.karpenter_disruption.decisions.push(record);
            self.karpenter_disruption.running.push(cmd);
        } else {
            self.karpenter_disruption.decisions.push(record);
            self.terminate_candidates(&cmd);
            self.karpenter_disruption.running.push(cmd);
        }
    }

    /// Un-marks a command's nodes (its replacement could not be launched).
    fn abort_command(&mut self, cmd: &Command) {
        for (node, ..) in &cmd.nodes {
            self.karpenter_disruption.disrupting.remove(node);
            if let Some(n) = self.nodes.get_mut(node.as_str()) {
                Arc::make_mut(&mut n.info.taints).retain(|t| t.key != DISRUPTED_TAINT);
                self.store
                    .record_object("Node", "", node, ChangeType::Modified);
            }
        }
        self.cluster_changed();
    }

    /// A NodeClaim registered and initialized: a command waiting for it as its replacement
    /// terminates its candidates.
    pub fn karpenter_replacement_ready(&mut self, claim: &str) {
        let Some(cmd) = self
            .karpenter_disruption
            .running
            .iter()
            .find(|c| c.claim.as_deref() == Some(claim))
            .cloned()
        else {
            return;
        };
        self.terminate_candidates(&cmd);
    }

    /// Deletes the candidates' NodeClaims: events, eviction of their pods, then termination
    /// once the pods are gone.
    fn terminate_candidates(&mut self, cmd: &Command) {
        let reason = cmd.reason.as_str();
        for (node, uid, ..) in &cmd.nodes {
            if self.nodes.get(node.as_str()).is_none_or(|n| n.uid != *uid) {
                self.karpenter_disruption.disrupting.remove(node);
                continue;
            }
            self.emit(
                "Normal",
                "DisruptionTerminating",
                "Node",
                "",
                node,
                format!("Disrupting Node: {reason}"),
                "karpenter",
            );
            if let Some(claim) = self.karpenter_disruption.claims.get(node).cloned() {
                self.emit(
                    "Normal",
                    "DisruptionTerminating",
                    "NodeClaim",
                    "",
                    &claim,
                    format!("Disrupting NodeClaim: {reason}"),
                    "karpenter",
                );
            }
            self.count("karpenterDisruptions");
            let ids: Vec<u64> = self.nodes[node.as_str()]
                .info
                .pods
                .iter()
                .map(|p| p.id)
                .collect();
            for id in ids {
                let Some(p) = self.pods.get(&id) else {
                    continue;
                };
                if p.owner.as_ref().is_some_and(|o| o.kind == "DaemonSet")
                    || p.deleting_at.is_some()
                {
                    continue;
                }
                let (ns, name) = (p.namespace.to_string(), p.name.to_string());
                self.emit(
                    "Normal",
                    "Evicted",
                    "Pod",
                    &ns,
                    &name,
                    format!("Evicted pod: {reason}"),
                    "karpenter",
                );
                self.delete_pod(id, None);
            }
            self.queue.push(
                self.now,
                Event::KarpenterTerminate(node.clone(), uid.clone()),
            );
        }
    }

    /// A disrupted node whose pods are gone is terminated.
    pub fn karpenter_terminate(&mut self, node: &str, uid: &str) {
        let Some(n) = self.nodes.get(node).filter(|n| n.uid == uid) else {
            self.node_disrupted(node);
            return;
        };
        let busy = n.info.pods.iter().any(|p| {
            self.pods.get(&p.id).is_some_and(|x| {
                x.owner.as_ref().is_none_or(|o| o.kind != "DaemonSet") && x.deleting_at.is_some()
            })
        });
        if busy {
            self.queue.push(
                self.now.plus_millis(TERMINATION_POLL_MS),
                Event::KarpenterTerminate(node.to_string(), uid.to_string()),
            );
            return;
        }
        self.remove_node(node);
        self.node_disrupted(node);
    }

    fn node_disrupted(&mut self, node: &str) {
        let d = &mut self.karpenter_disruption;
        d.disrupting.remove(node);
        d.claims.remove(node);
        let disrupting = &d.disrupting;
        d.running
            .retain(|c| c.nodes.iter().any(|(n, ..)| disrupting.contains(n)));
    }

    /// The `karpenter` section of summary.json (absent without Provisioners or NodePools).
    pub fn karpenter_summary(&self) -> Option<Value> {
        if self.store.list("Provisioner", None).next().is_none()
            && self.store.list("NodePool", None).next().is_none()
        {
            return None;
        }
        let d = &self.karpenter_disruption;
        let c = |k: &str| self.recorder.counter(k);
        Some(summary_json(
            c("karpenterLaunches"),
            c("karpenterDisruptions"),
            &d.decisions,
            d.rejected,
        ))
    }
}
