//! One scheduling cycle (`pkg/scheduler/schedule_one.go`): `schedulePod`,
//! `findNodesThatFitPod`, `findNodesThatPassFilters`, `numFeasibleNodesToFind`,
//! `prioritizeNodes` and `selectHost`, with the nominated node tried first
//! (`evaluateNominatedNode`) and DefaultPreemption as the PostFilter.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::diagnosis::{ReasonKey, Unfit, add_reason, fit_error_message};
use super::framework::{CycleState, fits_in_cycle};
use super::node_table::{NodeList, NodeTable, TABLE_BLOCK, bit_range};
use super::plugins::inter_pod_affinity::scoring as affinity_scoring;
use super::plugins::noderesources::{
    MSG_INSUFFICIENT_CPU, MSG_INSUFFICIENT_MEMORY, MSG_TOO_MANY_PODS, balanced_allocation_score,
    filter_resources, least_allocated_score,
};
use super::plugins::pod_topology_spread::counts::SpreadCounts;
use super::plugins::pod_topology_spread::scoring as spread_scoring;
use super::plugins::taint_toleration::{intolerable_prefer_no_schedule, normalize_reversed};
use super::preemption::{PostFilter, preempt};
use super::types::{Decision, NodeInfo, PdbInfo, PodInfo, node_non_zero_requested, non_zero};

/// `minFeasibleNodesToFind` (schedule_one.go).
const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;

/// `minFeasibleNodesPercentageToFind` (schedule_one.go).
const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND: usize = 5;

/// Default plugin weights (`pkg/scheduler/apis/config/v1/default_plugins.go`).
const WEIGHT_TAINT_TOLERATION: i64 = 3;
const WEIGHT_NODE_RESOURCES_FIT: i64 = 1;
const WEIGHT_BALANCED_ALLOCATION: i64 = 1;
const WEIGHT_POD_TOPOLOGY_SPREAD: i64 = 2;
const WEIGHT_INTER_POD_AFFINITY: i64 = 2;

/// `ErrNoNodesAvailable`.
const MSG_NO_NODES: &str = "no nodes available to schedule pods";

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
        // The PreFilters of PodTopologySpread (hard constraints only) and InterPodAffinity.
        let with_affinity = table.as_deref().map(|t| &t.affinity[..]);
        let state = CycleState::pre_filter(pod, nodes, with_affinity);
        let state = state.as_ref();

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
            match fits_in_cycle(pod, nodes.node(i), state) {
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
            && pod.constraints.required_node_affinity.is_empty()
            && pod.constraints.topology_spread.is_empty()
            && state.is_none_or(|s| s.affinity.is_none());
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
                            fits_in_cycle(pod, nodes.node(j), None).is_ok()
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
                match fits_in_cycle(pod, nodes.node(idx), state) {
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
                    node: self.select_host(
                        pod,
                        nodes,
                        plain,
                        table.as_deref().map(|t| (&t.spread, &t.affinity[..])),
                        tie_break,
                    ),
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
                        None => fits_in_cycle(pod, node, None),
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
            state,
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

    /// prioritizeNodes + selectHost over `self.feasible` (at least two nodes); `table` for a
    /// pod without node selection, `counts` the node table's spreading counts and nodes with
    /// pods with affinity terms, for any pod.
    fn select_host<'a, N: NodeList<'a> + ?Sized>(
        &mut self,
        pod: &PodInfo,
        nodes: &N,
        table: Option<&NodeTable>,
        counts: Option<(&SpreadCounts, &[usize])>,
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
        // PodTopologySpread: the pod's soft constraints, or the system defaults for a pod
        // without constraints that has a default selector (none: the plugin scores nothing).
        let spread = spread_scoring::scores(pod, &self.feasible, nodes, counts.map(|c| c.0));
        // InterPodAffinity: preferred terms of the pod, and existing pods' terms for it.
        let affinity = affinity_scoring::scores(pod, &self.feasible, nodes, counts.map(|c| c.1));
        // selectHost: reservoir sampling among the max-score nodes.
        let mut selected = self.scores[0].0;
        let mut max_score = i64::MIN;
        let mut count = 0usize;
        for (k, &(idx, base, taints)) in self.scores.iter().enumerate() {
            let mut total = base + WEIGHT_TAINT_TOLERATION * normalize_reversed(taints, max_taints);
            if let Some(s) = &spread {
                total += WEIGHT_POD_TOPOLOGY_SPREAD * s[k];
            }
            if let Some(s) = &affinity {
                total += WEIGHT_INTER_POD_AFFINITY * s[k];
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::testing::*;
    use crate::scheduler::types::{node_used, pod_usage};
    use crate::scheduler::*;
    use proptest::prelude::*;

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

    /// Required anti-affinity over hostnames (InterPodAffinity): one pod per node, then the
    /// FailedScheduling message; a pod of higher priority preempts the pod whose presence
    /// blocks it (anti-affinity is Unschedulable: preemption may help).
    #[test]
    fn pod_anti_affinity_places_one_pod_per_node_and_preempts() {
        let web = |id: u64, priority: i32| {
            let mut c = PlacementConstraints::default();
            c.pod_affinity.required_anti_affinity = vec![AffinityTerm {
                selector: Some(kscale_model::LabelSelector::from_labels(
                    [("app".to_string(), "web".to_string())].into(),
                )),
                namespaces: vec![],
                namespace_selector: None,
                topology_key: LABEL_HOSTNAME.into(),
            }];
            with_constraints(labeled(pod(id, priority, (100, 100)), "app", "web"), c)
        };
        let mut nodes: Vec<NodeInfo> = ["n1", "n2"]
            .iter()
            .map(|name| {
                let mut n = node(name, (1000, 1000), 10);
                std::sync::Arc::make_mut(&mut n.labels)
                    .insert(LABEL_HOSTNAME.into(), name.to_string());
                n
            })
            .collect();
        let mut s = Scheduler::new(None);
        let mut bound = vec![];
        for id in [1, 2] {
            let p = web(id, LOW);
            let Decision::Bind { node } = run_with(&mut s, &p, &nodes, &[], 0) else {
                panic!("pod {id} binds")
            };
            nodes[node] = with_pods(nodes[node].clone(), vec![p]);
            bound.push(node);
        }
        assert_ne!(bound[0], bound[1], "one pod per node");
        assert_eq!(
            run_with(&mut s, &web(3, LOW), &nodes, &[], 0),
            unschedulable(
                "0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."
            )
        );
        // A plain pod the others' anti-affinity selects is kept off both nodes too.
        let plain = labeled(pod(4, LOW, (100, 100)), "app", "web");
        assert_eq!(
            run_with(&mut s, &plain, &nodes, &[], 0),
            unschedulable(
                "0/2 nodes are available: 2 node(s) didn't satisfy existing pods anti-affinity rules. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."
            )
        );
        match run_with(&mut s, &web(5, HIGH), &nodes, &[], 0) {
            Decision::Preempt { node, victims } => {
                assert_eq!(victims, vec![nodes[node].pods[0].id]);
            }
            d => panic!("{d:?}"),
        }
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
