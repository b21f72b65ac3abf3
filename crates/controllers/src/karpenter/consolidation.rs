//! Karpenter consolidation decisions: which candidate nodes to delete, or to replace with one
//! cheaper node.
//!
//! kubernetes-sigs/karpenter (v1.14): pkg/controllers/disruption/consolidation.go
//! (`computeConsolidation`: re-schedule the candidates' pods; any unschedulable → no action;
//! no new NodeClaim → delete; more than one → no action; exactly one → replace only with
//! instance types whose worst launch price is below the candidates' summed price, pinned to spot
//! when it may be spot or on-demand; spot-to-spot behind the `SpotToSpotConsolidation` gate,
//! off by default, with 15 cheaper types required for a single node),
//! singlenodeconsolidation.go (candidates one at a time, interleaved across NodePools),
//! multinodeconsolidation.go (`firstNConsolidationOption`: binary search for the largest
//! consolidatable prefix of at most 100 budget-filtered candidates; `filterOutSameInstanceType`),
//! types.go (`SavingsRatio`: candidates ordered by price per unit of disruption, highest first)
//! and pkg/utils/disruption/disruption.go (`EvictionCost`, `LifetimeRemaining`).
//!
//! The simulation (`SimulateScheduling`, helpers.go) takes the candidates' pods and the pending
//! pods, places each (CPU then memory descending) on the first other node that passes the
//! scheduler's filters with room left, then plans the rest with [`super::plan`] as
//! provisioning would; a candidate's pod that lands on an uninitialized node or fits nowhere
//! blocks the move, pending pods that fit nowhere do not.

use std::borrow::Cow;
use std::cell::{RefCell, RefMut};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::sync::Arc;

use kscale_model::Resources;

use super::{HypotheticalNodes, Offering, Pool, compatibility, plan_cached};
use crate::scheduler::{NodeInfo, PodInfo, fits};

/// A node consolidation may remove; its pods are borrowed from the observed node.
#[derive(Clone, Debug)]
pub struct Candidate<'a> {
    /// Node name.
    pub node: &'a str,
    /// Index of its pool in [`Cluster::pools`].
    pub pool: usize,
    /// Instance type.
    pub instance_type: &'a str,
    /// `spot` or `on-demand`.
    pub capacity_type: &'a str,
    /// Price of its offering, USD per hour.
    pub price: f64,
    /// Capacity (counted against the pool's limits).
    pub capacity: Resources,
    /// Its reschedulable pods (not DaemonSet pods, not terminating).
    pub pods: CandidatePods<'a>,
    /// Σ [`eviction_cost`] of its pods × [`lifetime_remaining`] (`DisruptionCost`).
    pub disruption_cost: f64,
    /// 1 + Σ max(0, [`eviction_cost`]) of its reschedulable pods (`RescheduleDisruptionCost`).
    pub reschedule_cost: f64,
    /// Where its node is in [`Cluster::nodes`], if the caller knows: a hint, used only when
    /// that node has the candidate's name and is among the nodes given in name order (see
    /// [`Simulations::prepared`]), so the node is not looked up by name.
    pub destination: Option<usize>,
}

/// A candidate's reschedulable pods, borrowed from its node: all of the node's pods, or those
/// at the given indices (no list of references built per candidate and poll).
#[derive(Clone, Debug)]
pub struct CandidatePods<'a> {
    /// The node's pods.
    all: &'a [PodInfo],
    /// Indices into `all` of the reschedulable ones (`None`: every pod).
    index: Option<Cow<'a, [u32]>>,
    /// `Some(non_negative)`: the pods are listed in [`placement_key`] order, and whether none
    /// requests a negative CPU or memory (multi-node consolidation then merges the candidates'
    /// lists instead of sorting their pods).
    placement: Option<bool>,
}

impl<'a> CandidatePods<'a> {
    /// Every pod of `all`.
    pub fn all(all: &'a [PodInfo]) -> Self {
        CandidatePods {
            all,
            index: None,
            placement: None,
        }
    }

    /// The pods of `all` at `index` (in that order).
    pub fn subset(all: &'a [PodInfo], index: Cow<'a, [u32]>) -> Self {
        CandidatePods {
            all,
            index: Some(index),
            placement: None,
        }
    }

    /// The pods of `all` at `index`, which lists them in [`placement_key`] order;
    /// `non_negative` says that none of them requests a negative CPU or memory.
    pub fn in_placement_order(
        all: &'a [PodInfo],
        index: Cow<'a, [u32]>,
        non_negative: bool,
    ) -> Self {
        CandidatePods {
            all,
            index: Some(index),
            placement: Some(non_negative),
        }
    }

    /// The pods, in order.
    pub fn iter(&self) -> impl Iterator<Item = &'a PodInfo> + '_ {
        let all = self.all;
        let (every, some) = match &self.index {
            None => (Some(all.iter()), None),
            Some(ix) => (None, Some(ix.iter().map(move |i| &all[*i as usize]))),
        };
        every
            .into_iter()
            .flatten()
            .chain(some.into_iter().flatten())
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.index.as_ref().map_or(self.all.len(), |ix| ix.len())
    }

    /// True if there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Candidate<'_> {
    /// Price per unit of disruption (`SavingsRatio`): higher is disrupted first.
    pub fn savings_ratio(&self) -> f64 {
        self.price / self.reschedule_cost
    }
}

/// Cost of evicting one pod: `1 + deletionCost/2^27 + priority/2^25`, clamped to [−10, 10].
pub fn eviction_cost(deletion_cost: f64, priority: i32) -> f64 {
    (1.0 + deletion_cost / 2f64.powi(27) + priority as f64 / 2f64.powi(25)).clamp(-10.0, 10.0)
}

/// Fraction of the node's lifetime left, in [0, 1] (1 without `expireAfter`).
pub fn lifetime_remaining(age_ms: u64, expire_after_ms: Option<u64>) -> f64 {
    match expire_after_ms {
        Some(e) if e > 0 => ((e as f64 - age_ms as f64) / e as f64).clamp(0.0, 1.0),
        _ => 1.0,
    }
}

/// Orders candidates for consolidation: savings ratio descending (ties: disruption cost
/// ascending, then name, for determinism).
pub fn sort_candidates(c: &mut [Candidate<'_>]) {
    sort_by_keys(c, true);
}

/// [`sort_candidates`] for candidates already in name order (as gathered from the nodes by
/// name): a stable sort by ratio and cost keeps ties in name order, so names are not compared.
pub fn sort_name_ordered_candidates(c: &mut [Candidate<'_>]) {
    debug_assert!(
        c.windows(2).all(|w| w[0].node < w[1].node),
        "not in name order"
    );
    sort_by_keys(c, false);
}

/// Candidates multi- and single-node consolidation read the order of in each pool (at most
/// [`MAX_MULTI_NODE_CANDIDATES`] + 1 probed, and single-node simulating at most `max_evaluated`
/// of them): see [`order_name_ordered_candidates`].
pub fn ordered_per_pool(max_evaluated: usize) -> usize {
    (MAX_MULTI_NODE_CANDIDATES + 1).max(max_evaluated)
}

/// [`sort_name_ordered_candidates`] where only the first `k` candidates of each pool need
/// their order: each pool's best `k` come first, in the order of a full sort, then the others in
/// name order. For `k` = [`ordered_per_pool`]`(max_evaluated)`, [`multi_node`] and
/// [`single_node`] (simulating at most `max_evaluated`) give the same outcome as after a full
/// sort: a probe's candidates are among their pools' first `k` (a candidate's rank in its
/// pool is at most its rank among the probed), only how many candidates each pool has beyond
/// those counts (for the budgets), and single-node visits a pool's candidates in rounds of
/// one per pool, the pools in the order of their best, reaching a pool's `k`-th only after
/// `max_evaluated` simulations or where that pool's budget is 0 (a candidate only counted).
/// A selection, not a sort, of a pool's candidates beyond `k`.
pub fn order_name_ordered_candidates(c: &mut [Candidate<'_>], k: usize) {
    let k = k.max(1);
    let pools = c.iter().map(|x| x.pool + 1).max().unwrap_or(0);
    let mut per_pool = vec![0usize; pools];
    for x in c.iter() {
        per_pool[x.pool] += 1;
    }
    if per_pool.iter().all(|n| *n <= k) {
        sort_name_ordered_candidates(c);
        return;
    }
    debug_assert!(
        c.windows(2).all(|w| w[0].node < w[1].node),
        "not in name order"
    );
    let keys = index_keys(c);
    // Each crowded pool's k-th best key: its candidates up to it are ordered.
    let mut worst_ordered: Vec<Option<(u64, u64, usize)>> = vec![None; pools];
    for (p, n) in per_pool.iter().enumerate() {
        if *n > k {
            let mut own: Vec<(u64, u64, usize)> =
                keys.iter().copied().filter(|x| c[x.2].pool == p).collect();
            let (_, kth, _) = own.select_nth_unstable(k - 1);
            worst_ordered[p] = Some(*kth);
        }
    }
    let ordered = |x: &(u64, u64, usize)| worst_ordered[c[x.2].pool].is_none_or(|w| *x <= w);
    let mut best: Vec<(u64, u64, usize)> = keys.iter().copied().filter(ordered).collect();
    best.sort_unstable();
    let order: Vec<usize> = best
        .into_iter()
        .chain(keys.iter().copied().filter(|x| !ordered(x)))
        .map(|x| x.2)
        .collect();
    permute(c, &order);
}

/// The (ratio descending, cost ascending, index) keys of candidates in name order: distinct,
/// and ordered as the stable sort by ratio and cost.
fn index_keys(c: &[Candidate<'_>]) -> Vec<(u64, u64, usize)> {
    c.iter()
        .enumerate()
        .map(|(i, x)| {
            (
                !total_order_key(x.savings_ratio()),
                total_order_key(x.disruption_cost),
                i,
            )
        })
        .collect()
}

fn sort_by_keys(c: &mut [Candidate<'_>], names: bool) {
    // Sorted as (ratio, cost, index) keys, then moved once: the same stable order as sorting
    // the candidates themselves, without moving them at every step.
    let order: Vec<usize> = if names {
        let keys: Vec<(f64, f64)> = c
            .iter()
            .map(|x| (x.savings_ratio(), x.disruption_cost))
            .collect();
        let mut order: Vec<usize> = (0..c.len()).collect();
        order.sort_by(|&i, &j| {
            keys[j]
                .0
                .total_cmp(&keys[i].0)
                .then(keys[i].1.total_cmp(&keys[j].1))
                .then_with(|| c[i].node.cmp(c[j].node))
        });
        order
    } else {
        // Ties keep the (name) order: the index is the last key, so the keys are distinct and
        // an unstable sort of plain integers gives the stable order.
        let mut keys = index_keys(c);
        keys.sort_unstable();
        keys.into_iter().map(|k| k.2).collect()
    };
    permute(c, &order);
}

/// Puts the candidate at `order[k]` at position `k`.
fn permute(c: &mut [Candidate<'_>], order: &[usize]) {
    // Position k takes the candidate at `order[k]`: follow each cycle of the permutation.
    let mut done = vec![false; c.len()];
    for start in 0..c.len() {
        if done[start] {
            continue;
        }
        let mut k = start;
        loop {
            done[k] = true;
            let from = order[k];
            if from == start {
                break;
            }
            c.swap(k, from);
            k = from;
        }
    }
}

/// An integer whose order is [`f64::total_cmp`]'s.
fn total_order_key(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 1 { !b } else { b | 1 << 63 }
}

/// What the simulation sees.
pub struct Cluster<'a> {
    /// Nodes pods may move to (ready, schedulable, not being disrupted); candidates among them
    /// are skipped when they are the ones removed.
    pub nodes: &'a [&'a NodeInfo],
    /// Pools (usage includes the candidates).
    pub pools: &'a [Pool],
    /// Offerings that can be launched now.
    pub offerings: &'a [Offering],
    /// The `SpotToSpotConsolidation` feature gate (default false).
    pub spot_to_spot: bool,
    /// Pending pods (not nominated to in-flight capacity): simulated too, as upstream's
    /// `SimulateScheduling` does, but their failing to schedule blocks nothing.
    pub pending: &'a [PodInfo],
    /// Nodes of `nodes` that are not initialized yet (in-flight NodeClaims): a candidate's pod
    /// may not rely on them.
    pub uninitialized: &'a BTreeSet<Arc<str>>,
}

/// The one node that replaces the candidates.
#[derive(Clone, Debug, PartialEq)]
pub struct Replacement {
    /// Pool index.
    pub pool: usize,
    /// Offerings it may launch as (cheapest first, all cheaper than the candidates).
    pub options: Vec<usize>,
    /// Pods planned onto it.
    pub pods: Vec<u64>,
    /// Their requests.
    pub requests: Resources,
}

impl Replacement {
    /// The offering launched: the cheapest option.
    pub fn offering(&self) -> usize {
        self.options[0]
    }
}

/// A consolidation decision.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Delete the candidates; their pods fit the other nodes.
    Delete,
    /// Replace them with one cheaper node.
    Replace(Replacement),
}

/// A consolidation command.
#[derive(Clone, Debug, PartialEq)]
pub struct Command {
    /// Indices into the candidate slice.
    pub candidates: Vec<usize>,
    /// Delete or replace.
    pub decision: Decision,
    /// Hourly savings, USD (candidates' price minus the replacement's).
    pub savings: f64,
}

/// Minimum number of cheaper instance types for single-node spot-to-spot consolidation.
pub const MIN_SPOT_TO_SPOT_TYPES: usize = 15;
/// Candidates multi-node consolidation considers at once.
pub const MAX_MULTI_NODE_CANDIDATES: usize = 100;

/// `computeConsolidation` for a set of candidates: the decision, or why there is none (the
/// `Unconsolidatable` message).
pub fn compute(cluster: &Cluster, cands: &[&Candidate<'_>]) -> Result<Decision, String> {
    let base = Simulations::new(cluster);
    compute_from(cluster, &base, cands)
}

/// [`compute`] from `base` (a [`Simulations`] of `cluster`).
pub fn compute_in(
    cluster: &Cluster,
    base: &Simulations<'_>,
    cands: &[&Candidate<'_>],
) -> Result<Decision, String> {
    compute_from(cluster, base, cands)
}

/// What every simulation over one [`Cluster`] starts from: the destinations' free room and the
/// pools' compatible offerings (built once for multi- and single-node consolidation).
pub struct Simulations<'a> {
    room: FreeRoom<'a>,
    /// A copy of `room`'s table, which each simulation changes and restores ([`Trial`]).
    work: RefCell<FirstFit>,
    compatible: Arc<Vec<Vec<usize>>>,
    /// The plans' hypothetical nodes, built once for every simulation over `cluster`.
    hypothetical: RefCell<HypotheticalNodes>,
}

impl<'a> Simulations<'a> {
    /// The start of every simulation over `cluster`.
    pub fn new(cluster: &Cluster<'a>) -> Simulations<'a> {
        Simulations::prepared(
            cluster,
            0,
            Arc::new(compatibility(cluster.pools, cluster.offerings)),
        )
    }

    /// [`Simulations::new`] from what the caller already knows: the first `named_in_order` of
    /// `cluster.nodes` are in strictly increasing name order (their name index is not sorted
    /// again; checked in debug builds), and `compatible` is
    /// [`compatibility`]`(cluster.pools, cluster.offerings)` (kept by the caller while the
    /// pools' requirements and the offerings are unchanged).
    pub fn prepared(
        cluster: &Cluster<'a>,
        named_in_order: usize,
        compatible: Arc<Vec<Vec<usize>>>,
    ) -> Simulations<'a> {
        debug_assert!(*compatible == compatibility(cluster.pools, cluster.offerings));
        let room = FreeRoom::new(cluster.nodes, named_in_order);
        Simulations {
            work: RefCell::new(room.fit.clone()),
            room,
            compatible,
            hypothetical: RefCell::default(),
        }
    }

    /// Another start of the same simulations, with its own working copies: for a search that
    /// runs on another thread beside this one's (a simulation gives the same result from
    /// either).
    pub fn fork(&self) -> Simulations<'a> {
        Simulations {
            work: RefCell::new(self.room.fit.clone()),
            room: self.room.clone(),
            compatible: self.compatible.clone(),
            hypothetical: RefCell::default(),
        }
    }
}

/// [`placement_key`]: (CPU descending, memory descending, id).
pub type PlacementKey = (Reverse<i64>, Reverse<i64>, u64);

/// The order the simulation places pods in: CPU, then memory descending, then id (a total
/// order: a subset of a sorted list is sorted). As a key, so a sort does not read the pods.
pub fn placement_key(p: &PodInfo) -> PlacementKey {
    (
        Reverse(p.requests.cpu_milli),
        Reverse(p.requests.memory),
        p.id,
    )
}

/// [`compute`] from the destinations' free room computed once for several simulations.
fn compute_from(
    cluster: &Cluster,
    base: &Simulations<'_>,
    cands: &[&Candidate<'_>],
) -> Result<Decision, String> {
    // (pod, moving): the candidates' pods move, the pending pods are simulated too.
    let mut pods: Vec<(_, &PodInfo, bool)> = cands
        .iter()
        .flat_map(|c| c.pods.iter().map(|p| (placement_key(p), p, true)))
        .chain(cluster.pending.iter().map(|p| (placement_key(p), p, false)))
        .collect();
    pods.sort_by_key(|a| a.0);
    simulate(
        cluster,
        base,
        cands,
        None,
        pods.into_iter().map(|(_, p, m)| (p, m)),
        None,
    )
}

/// The simulation of removing `cands`, over `pods` (the candidates' pods, `true`, and the
/// pending pods, `false`) in the order of [`placement_key`].
///
/// With `bound` (the component-wise maximum allocatable of the offerings, given only when no
/// pod requests a negative amount) it stops with an empty error as soon as the candidates' pods
/// that fit no existing node request more CPU or memory than any one offering holds: [`plan`]
/// would then find one of them unschedulable or need several NodeClaims, an error either way
/// (a NodeClaim's requests never exceed the allocatable of the types it keeps). Only the
/// error's message would differ, which multi-node consolidation does not use.
///
/// `removed`, when given, lists the indices in `cluster.nodes` of the nodes named by `cands`
/// (from [`FreeRoom::indices_of`]), so they are not looked up by name again.
fn simulate<'p>(
    cluster: &Cluster,
    base: &Simulations<'_>,
    cands: &[&Candidate<'_>],
    removed: Option<&[usize]>,
    pods: impl Iterator<Item = (&'p PodInfo, bool)>,
    bound: Option<Resources>,
) -> Result<Decision, String> {
    // Existing nodes first: each pod on the first node (in order) not removed whose free room
    // holds it and that passes the filters. [`FirstFit`] skips blocks of nodes whose largest
    // free CPU, memory or pod room is too small, so it finds the same node as a linear scan.
    let mut gone = vec![];
    let removed = match removed {
        Some(ix) => ix,
        None => {
            for c in cands {
                base.room.candidate_indices(cluster.nodes, c, &mut gone);
            }
            &gone
        }
    };
    let mut free = base.room.trial_at(&base.work, removed.iter().copied());
    let mut rest: Vec<&PodInfo> = vec![];
    // The candidates' pods among `rest` (ids), and their requests.
    let mut moving = vec![];
    let mut unplaced = Resources::ZERO;
    for (p, is_moving) in pods {
        let target = free.first(p.requests, |i| fits(p, cluster.nodes[i]).is_ok());
        match target {
            Some(i) => {
                let n = cluster.nodes[i];
                if is_moving && cluster.uninitialized.contains(&n.name) {
                    return Err(format!(
                        "Pod {}/{} would schedule against uninitialized nodeclaim/{}",
                        p.namespace, p.name, n.name
                    ));
                }
                free.take(i, p.requests);
            }
            None => {
                if is_moving {
                    moving.push(p.id);
                    if let Some(max) = &bound {
                        unplaced += p.requests;
                        if unplaced.cpu_milli > max.cpu_milli || unplaced.memory > max.memory {
                            return Err(String::new());
                        }
                    }
                }
                rest.push(p);
            }
        }
    }
    if rest.is_empty() {
        return Ok(Decision::Delete);
    }
    moving.sort_unstable();
    // The rest on new NodeClaims; the candidates' capacity leaves their pools.
    let mut pools = cluster.pools.to_vec();
    for c in cands {
        pools[c.pool].usage -= c.capacity;
    }
    let p = plan_cached(
        &rest,
        &pools,
        cluster.offerings,
        &base.compatible,
        &mut base.hypothetical.borrow_mut(),
    );
    if let Some((id, reason)) = p
        .unschedulable
        .iter()
        .find(|(id, _)| moving.binary_search(id).is_ok())
    {
        let pod = rest.iter().find(|x| x.id == *id).expect("planned pod");
        return Err(format!(
            "Pod {}/{} would not schedule: {reason}",
            pod.namespace, pod.name
        ));
    }
    if p.claims.is_empty() {
        return Ok(Decision::Delete);
    }
    if p.claims.len() != 1 {
        return Err(format!(
            "Can't remove without creating {} candidates",
            p.claims.len()
        ));
    }
    let claim = &p.claims[0];
    let offerings = cluster.offerings;
    let candidate_price: f64 = cands.iter().map(|c| c.price).sum();
    let mut options = claim.options.clone();
    options.sort_by(|a, b| {
        let (x, y) = (&offerings[*a], &offerings[*b]);
        x.price
            .total_cmp(&y.price)
            .then_with(|| x.instance_type.cmp(&y.instance_type))
            .then_with(|| x.zone.cmp(&y.zone))
    });
    let all_spot = cands.iter().all(|c| c.capacity_type == "spot");
    let may_spot = options
        .iter()
        .any(|o| offerings[*o].capacity_type == "spot");
    if all_spot && may_spot {
        if !cluster.spot_to_spot {
            return Err(
                "SpotToSpotConsolidation is disabled, can't replace a spot node with a spot node"
                    .into(),
            );
        }
        options.retain(|o| offerings[*o].capacity_type == "spot");
        options = cheaper_than(&options, offerings, candidate_price);
        if options.is_empty() {
            return Err("Can't replace with a cheaper node".into());
        }
        if cands.len() == 1 {
            let types = type_order(&options, offerings);
            if types.len() < MIN_SPOT_TO_SPOT_TYPES {
                return Err(format!(
                    "SpotToSpotConsolidation requires {MIN_SPOT_TO_SPOT_TYPES} cheaper instance type options than the current candidate to consolidate, got {}",
                    types.len()
                ));
            }
            let keep: BTreeSet<&str> = types[..MIN_SPOT_TO_SPOT_TYPES].iter().copied().collect();
            options.retain(|o| keep.contains(offerings[*o].instance_type.as_str()));
        }
    } else {
        options = cheaper_than(&options, offerings, candidate_price);
        if options.is_empty() {
            return Err("Can't replace with a cheaper node".into());
        }
        // Filtered assuming spot launches: pin it, so a spot shortage fails the launch
        // instead of launching a dearer on-demand node.
        let spot = options
            .iter()
            .any(|o| offerings[*o].capacity_type == "spot");
        let od = options
            .iter()
            .any(|o| offerings[*o].capacity_type == "on-demand");
        if spot && od {
            options.retain(|o| offerings[*o].capacity_type == "spot");
        }
    }
    Ok(Decision::Replace(Replacement {
        pool: claim.pool,
        options,
        pods: claim.pods.clone(),
        requests: claim.requests,
    }))
}

/// Nodes per block of [`FirstFit`].
const FIT_BLOCK: usize = 32;

/// The free room (allocatable − requests − the simulation's placements, the pod count as
/// `pods`) of every destination node, with each block's component-wise maximum: the first node
/// whose room holds a request is found by skipping the blocks that cannot hold it.
#[derive(Clone)]
struct FirstFit {
    free: Vec<Resources>,
    block_max: Vec<Resources>,
}

/// Room no request fits (a removed node).
const NO_ROOM: Resources = Resources {
    cpu_milli: i64::MIN,
    memory: i64::MIN,
    pods: i64::MIN,
};

fn max_each(a: Resources, b: &Resources) -> Resources {
    Resources {
        cpu_milli: a.cpu_milli.max(b.cpu_milli),
        memory: a.memory.max(b.memory),
        pods: a.pods.max(b.pods),
    }
}

/// The destinations' free room before any simulation, with each node's index by name: a
/// simulation's [`FirstFit`] is a copy with its removed nodes' room taken away, the same table
/// as one built from scratch without them.
#[derive(Clone)]
struct FreeRoom<'a> {
    fit: FirstFit,
    /// (name, index) sorted by name.
    index: Vec<(&'a str, usize)>,
    /// The nodes known to be in strictly increasing name order (a prefix of the nodes).
    named_in_order: usize,
    /// (name, index) of the other nodes, sorted by name.
    tail: Vec<(&'a str, usize)>,
}

impl<'a> FreeRoom<'a> {
    fn new(nodes: &[&'a NodeInfo], named_in_order: usize) -> FreeRoom<'a> {
        let free: Vec<Resources> = nodes
            .iter()
            .map(|n| Resources {
                cpu_milli: n.allocatable.cpu_milli - n.requested.cpu_milli,
                memory: n.allocatable.memory - n.requested.memory,
                pods: n.allocatable.pods - n.pods.len() as i64,
            })
            .collect();
        let block_max = free
            .chunks(FIT_BLOCK)
            .map(|b| b.iter().fold(NO_ROOM, max_each))
            .collect();
        let mut index: Vec<(&str, usize)> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.as_ref(), i))
            .collect();
        // (Usually the nodes in name order, then in-flight NodeClaims.) The pairs are distinct,
        // so any sort gives this order: the prefix known to be in name order is kept, the rest
        // sorted and each of its entries placed by binary search (no pass comparing the names
        // of the whole prefix).
        let k = named_in_order.min(index.len());
        debug_assert!(index[..k].windows(2).all(|w| w[0].0 < w[1].0));
        let mut tail = vec![];
        if k < index.len() {
            tail = index.split_off(k);
            tail.sort();
            let prefix = index;
            index = Vec::with_capacity(prefix.len() + tail.len());
            let mut from = 0;
            for t in &tail {
                let at = from + prefix[from..].partition_point(|x| x < t);
                index.extend_from_slice(&prefix[from..at]);
                index.push(*t);
                from = at;
            }
            index.extend_from_slice(&prefix[from..]);
        }
        FreeRoom {
            fit: FirstFit { free, block_max },
            index,
            named_in_order: k,
            tail,
        }
    }

    /// Appends to `out` the indices of the nodes named `c.node`, in increasing order (those of
    /// [`FreeRoom::indices_of`]): with a [`Candidate::destination`] that names a node of the
    /// name-ordered prefix, that node (the only one of its name there) and those of the other
    /// nodes, without a search of the prefix.
    /// `nodes` are the nodes the room was built from.
    fn candidate_indices(&self, nodes: &[&NodeInfo], c: &Candidate<'_>, out: &mut Vec<usize>) {
        match c.destination {
            Some(i) if i < self.named_in_order && nodes[i].name.as_ref() == c.node => {
                out.push(i);
                let from = self.tail.partition_point(|(n, _)| *n < c.node);
                out.extend(
                    self.tail[from..]
                        .iter()
                        .take_while(|(n, _)| *n == c.node)
                        .map(|&(_, i)| i),
                );
            }
            _ => out.extend(self.indices_of(c.node)),
        }
        debug_assert!(out.ends_with(&self.indices_of(c.node).collect::<Vec<_>>()));
    }

    /// The indices of the nodes named `name`.
    fn indices_of<'s>(&'s self, name: &'s str) -> impl Iterator<Item = usize> + 's {
        let from = self.index.partition_point(|(n, _)| *n < name);
        self.index[from..]
            .iter()
            .take_while(move |(n, _)| *n == name)
            .map(|&(_, i)| i)
    }

    /// A trial on `work` (a copy of this table between trials) with the nodes at `removed`
    /// (distinct indices) holding nothing: the same table as a copy of this one without them,
    /// and `work` is this table again once the trial ends.
    fn trial_at<'w>(
        &self,
        work: &'w RefCell<FirstFit>,
        removed: impl Iterator<Item = usize>,
    ) -> Trial<'w> {
        let mut t = Trial {
            fit: work.borrow_mut(),
            free_log: vec![],
            block_log: vec![],
        };
        debug_assert!(t.fit.free == self.fit.free && t.fit.block_max == self.fit.block_max);
        let mut blocks = vec![];
        for i in removed {
            t.set_free(i, NO_ROOM);
            blocks.push(i / FIT_BLOCK);
        }
        blocks.sort_unstable();
        blocks.dedup();
        for b in blocks {
            t.refresh_block(b);
        }
        t
    }
}

/// One simulation's first-fit table: changes are made in place and logged, and undone (in
/// reverse) when it is dropped, instead of copying the table per simulation.
struct Trial<'w> {
    fit: RefMut<'w, FirstFit>,
    /// (node, free room before a change).
    free_log: Vec<(usize, Resources)>,
    /// (block, maximum before a change).
    block_log: Vec<(usize, Resources)>,
}

impl Trial<'_> {
    fn set_free(&mut self, i: usize, r: Resources) {
        self.free_log.push((i, self.fit.free[i]));
        self.fit.free[i] = r;
    }

    fn refresh_block(&mut self, b: usize) {
        self.block_log.push((b, self.fit.block_max[b]));
        self.fit.refresh_block(b);
    }

    /// [`FirstFit::first`].
    fn first(&self, req: Resources, filter: impl FnMut(usize) -> bool) -> Option<usize> {
        self.fit.first(req, filter)
    }

    /// [`FirstFit::take`], logged.
    fn take(&mut self, i: usize, req: Resources) {
        let mut f = self.fit.free[i];
        f.cpu_milli -= req.cpu_milli;
        f.memory -= req.memory;
        f.pods -= req.pods;
        self.set_free(i, f);
        self.refresh_block(i / FIT_BLOCK);
    }
}

impl Drop for Trial<'_> {
    fn drop(&mut self) {
        while let Some((i, r)) = self.free_log.pop() {
            self.fit.free[i] = r;
        }
        while let Some((b, m)) = self.block_log.pop() {
            self.fit.block_max[b] = m;
        }
    }
}

impl FirstFit {
    /// Recomputes block `b`'s maximum.
    fn refresh_block(&mut self, b: usize) {
        let end = ((b + 1) * FIT_BLOCK).min(self.free.len());
        self.block_max[b] = self.free[b * FIT_BLOCK..end].iter().fold(NO_ROOM, max_each);
    }

    /// The first node whose room holds `req` and that passes `filter`.
    fn first(&self, req: Resources, mut filter: impl FnMut(usize) -> bool) -> Option<usize> {
        for (b, max) in self.block_max.iter().enumerate() {
            if !req.fits_in(max) {
                continue;
            }
            let start = b * FIT_BLOCK;
            let end = (start + FIT_BLOCK).min(self.free.len());
            for i in start..end {
                if req.fits_in(&self.free[i]) && filter(i) {
                    return Some(i);
                }
            }
        }
        None
    }
}

/// Instance-type names of `options` in price order (first appearance).
fn type_order<'o>(options: &[usize], offerings: &'o [Offering]) -> Vec<&'o str> {
    let mut seen = BTreeSet::new();
    options
        .iter()
        .map(|o| offerings[*o].instance_type.as_str())
        .filter(|t| seen.insert(*t))
        .collect()
}

/// `RemoveInstanceTypeOptionsByPriceAndMinValues`: keeps the options whose instance type's
/// worst launch price (among the options) is below `max_price`.
fn cheaper_than(options: &[usize], offerings: &[Offering], max_price: f64) -> Vec<usize> {
    let mut worst: BTreeMap<&str, f64> = BTreeMap::new();
    for o in options {
        let x = &offerings[*o];
        let w = worst.entry(x.instance_type.as_str()).or_insert(x.price);
        *w = w.max(x.price);
    }
    options
        .iter()
        .copied()
        .filter(|o| worst[offerings[*o].instance_type.as_str()] < max_price)
        .collect()
}

fn savings(cands: &[&Candidate<'_>], d: &Decision, offerings: &[Offering]) -> f64 {
    let price: f64 = cands.iter().map(|c| c.price).sum();
    match d {
        Decision::Delete => price,
        Decision::Replace(r) => price - offerings[r.offering()].price,
    }
}

/// Outcome of a consolidation method.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    /// The command to run, if any.
    pub command: Option<Command>,
    /// Candidates (indices) found unconsolidatable, with the reason.
    pub unconsolidatable: Vec<(usize, String)>,
    /// Some candidate was skipped because its pool's budget is used up (then the cluster must
    /// not be marked consolidated).
    pub constrained_by_budgets: bool,
}

/// Single-node consolidation over `cands` (already sorted by [`sort_candidates`]), interleaved
/// across pools, with `budget[pool]` disruptions allowed. At most `max_evaluated` candidates
/// are simulated (upstream bounds the pass by a 3-minute timeout).
pub fn single_node(
    cluster: &Cluster,
    cands: &[Candidate<'_>],
    budget: &[u64],
    max_evaluated: usize,
) -> Outcome {
    single_node_in(
        cluster,
        &Simulations::new(cluster),
        cands,
        budget,
        max_evaluated,
    )
}

/// [`single_node`] from `base` (the [`Simulations::new`] of `cluster`).
pub fn single_node_in(
    cluster: &Cluster,
    base: &Simulations<'_>,
    cands: &[Candidate<'_>],
    budget: &[u64],
    max_evaluated: usize,
) -> Outcome {
    let mut out = Outcome::default();
    for visit in single_node_visits(cands, budget, max_evaluated) {
        let Some(i) = visit else {
            out.constrained_by_budgets = true;
            continue;
        };
        let c = &cands[i];
        match compute_from(cluster, base, &[c]) {
            Ok(d) => {
                out.command = Some(Command {
                    candidates: vec![i],
                    savings: savings(&[c], &d, cluster.offerings),
                    decision: d,
                });
                return out;
            }
            Err(reason) => out.unconsolidatable.push((i, reason)),
        }
    }
    out
}

/// The candidates single-node consolidation visits, in order: `Some(i)` simulated, `None`
/// skipped for its pool's budget; at most `max_evaluated` simulated.
fn single_node_visits(
    cands: &[Candidate<'_>],
    budget: &[u64],
    max_evaluated: usize,
) -> Vec<Option<usize>> {
    // Interleave by pool, pools in order of their best candidate.
    let mut by_pool: Vec<(usize, Vec<usize>)> = vec![];
    for (i, c) in cands.iter().enumerate() {
        match by_pool.iter_mut().find(|(p, _)| *p == c.pool) {
            Some((_, v)) => v.push(i),
            None => by_pool.push((c.pool, vec![i])),
        }
    }
    let longest = by_pool.iter().map(|(_, v)| v.len()).max().unwrap_or(0);
    let order: Vec<usize> = (0..longest)
        .flat_map(|k| by_pool.iter().filter_map(move |(_, v)| v.get(k).copied()))
        .collect();
    let mut visits = vec![];
    let mut evaluated = 0;
    for i in order {
        if budget[cands[i].pool] == 0 {
            visits.push(None);
            continue;
        }
        if evaluated == max_evaluated {
            break;
        }
        evaluated += 1;
        visits.push(Some(i));
    }
    visits
}

/// Multi-node consolidation: the largest prefix of the budget-filtered candidates (at most
/// 100) that can be deleted or replaced by one cheaper node of another type, by binary search.
pub fn multi_node(cluster: &Cluster, cands: &[Candidate<'_>], budget: &[u64]) -> Outcome {
    multi_node_in(cluster, &Simulations::new(cluster), cands, budget)
}

/// The candidates a multi-node search may take, in order: those the pools' disruption budgets
/// allow (`out.constrained_by_budgets` when one was left out), with the index in them of the
/// largest probe's last candidate (at most [`MAX_MULTI_NODE_CANDIDATES`], and not all of
/// them); None below two candidates.
fn multi_node_probes(
    cands: &[Candidate<'_>],
    budget: &[u64],
    out: &mut Outcome,
) -> Option<(Vec<usize>, usize)> {
    let mut left = budget.to_vec();
    let mut idx = vec![];
    for (i, c) in cands.iter().enumerate() {
        if left[c.pool] == 0 {
            out.constrained_by_budgets = true;
            continue;
        }
        left[c.pool] -= 1;
        idx.push(i);
    }
    if idx.len() < 2 {
        return None;
    }
    let hi = MAX_MULTI_NODE_CANDIDATES.min(idx.len());
    let hi = if idx.len() <= hi { idx.len() - 1 } else { hi };
    Some((idx, hi))
}

/// [`multi_node`] from `base` (the [`Simulations::new`] of `cluster`).
pub fn multi_node_in(
    cluster: &Cluster,
    base: &Simulations<'_>,
    cands: &[Candidate<'_>],
    budget: &[u64],
) -> Outcome {
    let mut out = Outcome::default();
    let Some((idx, mut hi)) = multi_node_probes(cands, budget, &mut out) else {
        return out;
    };
    let mut lo = 1usize;
    if idx[..=hi]
        .iter()
        .all(|i| cands[*i].pods.placement.is_some())
    {
        return search_merged(cluster, base, cands, &idx, hi, out);
    }
    // Every probe is a prefix of `idx[..=hi]`: their pods (with the prefix length that
    // includes each, pending pods in every probe) are sorted once; a probe takes its subset,
    // which is in the same order as sorting it.
    let mut keyed: Vec<(_, &PodInfo, usize)> = idx[..=hi]
        .iter()
        .enumerate()
        .flat_map(|(k, i)| cands[*i].pods.iter().map(move |p| (placement_key(p), p, k)))
        .chain(
            cluster
                .pending
                .iter()
                .map(|p| (placement_key(p), p, usize::MAX)),
        )
        .collect();
    keyed.sort_by_key(|a| a.0);
    let pods: Vec<(&PodInfo, usize)> = keyed.into_iter().map(|(_, p, k)| (p, k)).collect();
    let non_negative = pods
        .iter()
        .all(|(p, _)| p.requests.cpu_milli >= 0 && p.requests.memory >= 0);
    let bound = non_negative.then(|| {
        cluster
            .offerings
            .iter()
            .fold(NO_ROOM, |a, o| max_each(a, &o.allocatable))
    });
    let mut removed = RemovedByPrefix::default();
    while lo <= hi {
        let mid = (lo + hi) / 2;
        let set: Vec<&Candidate> = idx[..=mid].iter().map(|i| &cands[*i]).collect();
        let probe = pods
            .iter()
            .filter(|(_, k)| *k == usize::MAX || *k <= mid)
            .map(|(p, k)| (*p, *k != usize::MAX));
        let gone = Some(removed.upto(cluster, base, cands, &idx, mid));
        let result = simulate(cluster, base, &set, gone, probe, bound);
        match probe_command(cluster, &set, &idx[..=mid], result) {
            Some(c) => {
                out.command = Some(c);
                lo = mid + 1;
            }
            None => hi = mid - 1,
        }
    }
    out
}

/// The destinations' indices of the nodes of the probed candidates, looked up by name once per
/// search and only as far as the largest probe so far (a probe removes a prefix of the
/// candidates; the binary search's probes shrink after a failure).
#[derive(Default)]
struct RemovedByPrefix {
    /// The indices of the nodes of the first `ends.len()` candidates.
    removed: Vec<usize>,
    /// `ends[k]`: how many of `removed` belong to the first `k + 1` candidates.
    ends: Vec<usize>,
}

impl RemovedByPrefix {
    /// The indices of the nodes of `cands` at `idx[..=mid]`.
    fn upto(
        &mut self,
        cluster: &Cluster,
        base: &Simulations<'_>,
        cands: &[Candidate<'_>],
        idx: &[usize],
        mid: usize,
    ) -> &[usize] {
        while self.ends.len() <= mid {
            let i = idx[self.ends.len()];
            base.room
                .candidate_indices(cluster.nodes, &cands[i], &mut self.removed);
            self.ends.push(self.removed.len());
        }
        &self.removed[..self.ends[mid]]
    }
}

/// A multi-node probe's command, if its simulation succeeded with a valid decision (a
/// replacement by the candidates' own instance type is not one).
fn probe_command<E>(
    cluster: &Cluster,
    set: &[&Candidate<'_>],
    candidates: &[usize],
    result: Result<Decision, E>,
) -> Option<Command> {
    let decision = match result {
        Ok(Decision::Delete) => Decision::Delete,
        Ok(Decision::Replace(r)) => filter_out_same_type(r, set, cluster.offerings)?,
        Err(_) => return None,
    };
    Some(Command {
        candidates: candidates.to_vec(),
        savings: savings(set, &decision, cluster.offerings),
        decision,
    })
}

/// The binary search of [`multi_node_in`] when every candidate lists its pods in placement
/// order: a probe merges the lists of its candidates and of the pending pods (a heap of their
/// heads), which gives the order of sorting them all, and reads only as many pods as the
/// simulation places before it ends.
fn search_merged(
    cluster: &Cluster,
    base: &Simulations<'_>,
    cands: &[Candidate<'_>],
    idx: &[usize],
    mut hi: usize,
    mut out: Outcome,
) -> Outcome {
    let mut order: Vec<u32> = (0..cluster.pending.len() as u32).collect();
    order.sort_by_key(|i| placement_key(&cluster.pending[*i as usize]));
    let pending_non_negative = cluster
        .pending
        .iter()
        .all(|p| p.requests.cpu_milli >= 0 && p.requests.memory >= 0);
    let pending =
        CandidatePods::in_placement_order(cluster.pending, Cow::Owned(order), pending_non_negative);
    let non_negative = pending_non_negative
        && idx[..=hi]
            .iter()
            .all(|i| cands[*i].pods.placement == Some(true));
    let bound = non_negative.then(|| {
        cluster
            .offerings
            .iter()
            .fold(NO_ROOM, |a, o| max_each(a, &o.allocatable))
    });
    let mut removed = RemovedByPrefix::default();
    let mut lo = 1usize;
    while lo <= hi {
        let mid = (lo + hi) / 2;
        let set: Vec<&Candidate> = idx[..=mid].iter().map(|i| &cands[*i]).collect();
        let streams = set
            .iter()
            .map(|c| (c.pods.iter(), true))
            .chain(std::iter::once((pending.iter(), false)))
            .collect();
        let gone = Some(removed.upto(cluster, base, cands, idx, mid));
        let result = simulate(cluster, base, &set, gone, Merge::new(streams), bound);
        match probe_command(cluster, &set, &idx[..=mid], result) {
            Some(c) => {
                out.command = Some(c);
                lo = mid + 1;
            }
            None => hi = mid - 1,
        }
    }
    out
}

/// Merges lists of pods each in [`placement_key`] order into one in that order, each pod with
/// its list's flag.
struct Merge<'p, I> {
    streams: Vec<(I, bool)>,
    heads: Vec<Option<&'p PodInfo>>,
    heap: BinaryHeap<Reverse<(PlacementKey, usize)>>,
}

impl<'p, I: Iterator<Item = &'p PodInfo>> Merge<'p, I> {
    fn new(mut streams: Vec<(I, bool)>) -> Self {
        let mut heads = Vec::with_capacity(streams.len());
        let mut heap = BinaryHeap::with_capacity(streams.len());
        for (s, (it, _)) in streams.iter_mut().enumerate() {
            let head = it.next();
            if let Some(p) = head {
                heap.push(Reverse((placement_key(p), s)));
            }
            heads.push(head);
        }
        Merge {
            streams,
            heads,
            heap,
        }
    }
}

impl<'p, I: Iterator<Item = &'p PodInfo>> Iterator for Merge<'p, I> {
    type Item = (&'p PodInfo, bool);

    fn next(&mut self) -> Option<Self::Item> {
        let Reverse((_, s)) = self.heap.pop()?;
        let p = self.heads[s].take()?;
        if let Some(n) = self.streams[s].0.next() {
            self.heads[s] = Some(n);
            self.heap.push(Reverse((placement_key(n), s)));
        }
        Some((p, self.streams[s].1))
    }
}

/// `filterOutSameInstanceType`: if the replacement could be one of the removed types, it must
/// be cheaper than the cheapest removed node of such a type (else deleting the others is the
/// better move).
fn filter_out_same_type(
    mut r: Replacement,
    set: &[&Candidate<'_>],
    offerings: &[Offering],
) -> Option<Decision> {
    let mut price_by_type: BTreeMap<&str, f64> = BTreeMap::new();
    for c in set {
        let p = price_by_type.entry(c.instance_type).or_insert(f64::MAX);
        *p = p.min(c.price);
    }
    let max_price = r
        .options
        .iter()
        .filter_map(|o| price_by_type.get(offerings[*o].instance_type.as_str()))
        .fold(f64::MAX, |a, b| a.min(*b));
    r.options = cheaper_than(&r.options, offerings, max_price);
    (!r.options.is_empty()).then_some(Decision::Replace(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::PlacementConstraints;
    use kscale_model::SimTime;
    use kscale_model::labels::Labels;

    fn offering(name: &str, cap: &str, cpu: i64, price: f64) -> Offering {
        let mut labels = Labels::new();
        labels.insert("node.kubernetes.io/instance-type".into(), name.into());
        labels.insert("karpenter.sh/capacity-type".into(), cap.into());
        let r = Resources {
            cpu_milli: cpu,
            memory: 64 << 30,
            pods: 110,
        };
        Offering {
            instance_type: name.into(),
            capacity_type: cap.into(),
            zone: "z1".into(),
            capacity: r,
            allocatable: r,
            price,
            labels,
        }
    }

    /// m5 prices (us-east-1 on-demand; spot at 30%, an assumption for the test).
    fn catalog() -> Vec<Offering> {
        vec![
            offering("m5.large", "on-demand", 2000, 0.096),
            offering("m5.xlarge", "on-demand", 4000, 0.192),
            offering("m5.2xlarge", "on-demand", 8000, 0.384),
            offering("m5.large", "spot", 2000, 0.029),
            offering("m5.xlarge", "spot", 4000, 0.058),
            offering("m5.2xlarge", "spot", 8000, 0.115),
        ]
    }

    fn pod(id: u64, cpu: i64) -> PodInfo {
        PodInfo {
            id,
            namespace: Arc::from("default"),
            name: Arc::from(format!("p{id}").as_str()),
            labels: Arc::new(Labels::new()),
            requests: Resources {
                cpu_milli: cpu,
                memory: 1 << 30,
                pods: 1,
            },
            priority: 0,
            start_time: SimTime(id),
            terminating: false,
            constraints: Arc::new(PlacementConstraints::default()),
        }
    }

    fn node(name: &str, o: &Offering, pods: Vec<PodInfo>) -> NodeInfo {
        let requested = pods.iter().fold(Resources::ZERO, |a, p| a + p.requests);
        NodeInfo {
            name: Arc::from(name),
            labels: o.labels.clone(),
            taints: vec![],
            unschedulable: false,
            ready: true,
            allocatable: o.allocatable,
            requested,
            pods,
            nominated: vec![],
        }
    }

    fn candidate<'a>(n: &'a NodeInfo, o: &'a Offering) -> Candidate<'a> {
        let costs: Vec<f64> = n
            .pods
            .iter()
            .map(|p| eviction_cost(0.0, p.priority))
            .collect();
        Candidate {
            node: &n.name,
            pool: 0,
            instance_type: &o.instance_type,
            capacity_type: &o.capacity_type,
            price: o.price,
            capacity: o.capacity,
            pods: CandidatePods::all(&n.pods),
            disruption_cost: costs.iter().sum(),
            reschedule_cost: 1.0 + costs.iter().map(|c| c.max(0.0)).sum::<f64>(),
            destination: None,
        }
    }

    fn pool(capacity_types: &[&str], limit_cpu: Option<i64>) -> Pool {
        Pool {
            name: "default".into(),
            weight: 0,
            requirements: vec![kscale_model::NodeSelectorRequirement {
                key: "karpenter.sh/capacity-type".into(),
                op: kscale_model::SelectorOp::In,
                values: capacity_types.iter().map(|s| s.to_string()).collect(),
            }],
            taints: vec![],
            labels: Labels::new(),
            limits: limit_cpu.map(|c| Resources {
                cpu_milli: c,
                memory: 0,
                pods: 0,
            }),
            usage: Resources::ZERO,
        }
    }

    /// A candidate's [`Candidate::destination`] hint finds the indices a search by name finds:
    /// right, wrong, out of range, beyond the name-ordered prefix or absent, with nodes of the
    /// same name after the prefix (an in-flight NodeClaim named like a node).
    #[test]
    fn destination_hint_finds_the_nodes_of_the_name() {
        let cat = catalog();
        let infos: Vec<NodeInfo> = ["a", "b", "c", "b", "a"]
            .iter()
            .map(|n| node(n, &cat[0], vec![]))
            .collect();
        let refs: Vec<&NodeInfo> = infos.iter().collect();
        let room = FreeRoom::new(&refs, 3);
        for (name, hint) in [
            ("a", Some(0)),
            ("b", Some(1)),
            ("c", Some(2)),
            ("b", Some(0)),
            ("b", Some(3)),
            ("a", Some(4)),
            ("c", Some(99)),
            ("a", None),
        ] {
            let c = Candidate {
                node: name,
                destination: hint,
                ..candidate(&infos[0], &cat[0])
            };
            let mut got = vec![7];
            room.candidate_indices(&refs, &c, &mut got);
            let want: Vec<usize> = std::iter::once(7).chain(room.indices_of(name)).collect();
            assert_eq!(got, want, "{name} {hint:?}");
        }
        let mut got = vec![];
        let b = Candidate {
            node: "b",
            destination: Some(1),
            ..candidate(&infos[0], &cat[0])
        };
        room.candidate_indices(&refs, &b, &mut got);
        assert_eq!(got, vec![1, 3]);
    }

    #[test]
    fn eviction_cost_and_lifetime() {
        // pkg/utils/disruption/disruption.go: default 1; priority 2^25 adds 1; clamped at 10.
        assert_eq!(eviction_cost(0.0, 0), 1.0);
        assert_eq!(eviction_cost(0.0, 1 << 25), 2.0);
        assert_eq!(eviction_cost(2f64.powi(27), 0), 2.0);
        assert_eq!(eviction_cost(0.0, 1_000_000_000), 10.0);
        assert_eq!(eviction_cost(-2_147_483_647.0, 0), -10.0);
        assert_eq!(lifetime_remaining(0, None), 1.0);
        assert_eq!(lifetime_remaining(3_600_000, Some(4 * 3_600_000)), 0.75);
        assert_eq!(lifetime_remaining(5 * 3_600_000, Some(4 * 3_600_000)), 0.0);
    }

    // consolidation_test.go "can delete nodes": two nodes, the pods of one fit on the other.
    #[test]
    fn deletes_when_pods_fit_elsewhere() {
        let cat = catalog();
        let none = BTreeSet::new();
        let a = node("a", &cat[1], vec![pod(1, 1000)]);
        let b = node("b", &cat[1], vec![pod(2, 1000)]);
        let nodes = [&a, &b];
        let pools = [pool(&["on-demand"], None)];
        let cl = Cluster {
            nodes: &nodes,
            pools: &pools,
            offerings: &cat,
            spot_to_spot: false,
            pending: &[],
            uninitialized: &none,
        };
        let cands = vec![candidate(&a, &cat[1]), candidate(&b, &cat[1])];
        let out = single_node(&cl, &cands, &[1], 10);
        let cmd = out.command.unwrap();
        assert_eq!(cmd.decision, Decision::Delete);
        assert_eq!(cmd.candidates, vec![0]);
        assert!((cmd.savings - 0.192).abs() < 1e-9);
    }

    // consolidation_test.go "can replace node": a 2xlarge holding one 1-CPU pod is replaced by
    // the cheapest type that holds it (m5.large on-demand).
    #[test]
    fn replaces_with_cheaper_node() {
        let cat = catalog();
        let none = BTreeSet::new();
        let a = node("a", &cat[2], vec![pod(1, 1000)]);
        let nodes = [&a];
        let pools = [pool(&["on-demand"], None)];
        let cl = Cluster {
            nodes: &nodes,
            pools: &pools,
            offerings: &cat,
            spot_to_spot: false,
            pending: &[],
            uninitialized: &none,
        };
        let cands = vec![candidate(&a, &cat[2])];
        let cmd = single_node(&cl, &cands, &[1], 10).command.unwrap();
        let Decision::Replace(r) = &cmd.decision else {
            panic!("{cmd:?}")
        };
        assert_eq!(r.offering(), 0, "m5.large on-demand");
        assert_eq!(
            r.options,
            vec![0, 1],
            "large and xlarge are cheaper than 2xlarge"
        );
        assert!((cmd.savings - (0.384 - 0.096)).abs() < 1e-9);
        // "won't replace on-demand node if on-demand replacement is more expensive": the
        // cheapest node cannot be replaced.
        let b = node("b", &cat[0], vec![pod(2, 1000)]);
        let nodes = [&b];
        let cl = Cluster {
            nodes: &nodes,
            ..cl
        };
        let out = single_node(&cl, &[candidate(&b, &cat[0])], &[1], 10);
        assert!(out.command.is_none());
        assert_eq!(
            out.unconsolidatable[0].1,
            "Can't replace with a cheaper node"
        );
    }

    // "can replace node" for an on-demand node of a spot-or-on-demand pool: the filter uses the
    // worst (on-demand) price, then the replacement is pinned to spot.
    #[test]
    fn on_demand_to_spot_or_on_demand_is_pinned_to_spot() {
        let cat = catalog();
        let none = BTreeSet::new();
        let a = node("a", &cat[1], vec![pod(1, 1000)]);
        let nodes = [&a];
        let pools = [pool(&["spot", "on-demand"], None)];
        let cl = Cluster {
            nodes: &nodes,
            pools: &pools,
            offerings: &cat,
            spot_to_spot: false,
            pending: &[],
            uninitialized: &none,
        };
        let cmd = single_node(&cl, &[candidate(&a, &cat[1])], &[1], 10)
            .command
            .unwrap();
        let Decision::Replace(r) = &cmd.decision else {
            panic!()
        };
        // Only m5.large's worst price (0.096) is below 0.192; pinned to spot.
        assert_eq!(r.options, vec![3]);
    }

    // "cannot replace spot with spot if the spotToSpotConsolidation is disabled" and "cannot
    // replace spot with spot if less than minimum InstanceTypes flexibility".
    #[test]
    fn spot_to_spot_is_gated() {
        let cat = catalog();
        let none = BTreeSet::new();
        let a = node("a", &cat[5], vec![pod(1, 1000)]);
        let nodes = [&a];
        let pools = [pool(&["spot"], None)];
        let mut cl = Cluster {
            nodes: &nodes,
            pools: &pools,
            offerings: &cat,
            spot_to_spot: false,
            pending: &[],
            uninitialized: &none,
        };
        let cands = [candidate(&a, &cat[5])];
        let out = single_node(&cl, &cands, &[1], 10);
        assert!(
            out.unconsolidatable[0]
                .1
                .starts_with("SpotToSpotConsolidation is disabled")
        );
        cl.spot_to_spot = true;
        let out = single_node(&cl, &cands, &[1], 10);
        assert_eq!(
            out.unconsolidatable[0].1,
            "SpotToSpotConsolidation requires 15 cheaper instance type options than the current candidate to consolidate, got 2"
        );
    }

    // "should only allow 3 nodes to be deleted in single node consolidation delete" (budget
    // exhausted → skipped, and the outcome says so); an oversized pod blocks the move.
    #[test]
    fn budget_and_unschedulable_pods_block() {
        let cat = catalog();
        let none = BTreeSet::new();
        let a = node("a", &cat[1], vec![pod(1, 1000)]);
        let b = node("b", &cat[1], vec![pod(2, 1000)]);
        let nodes = [&a, &b];
        let pools = [pool(&["on-demand"], None)];
        let cl = Cluster {
            nodes: &nodes,
            pools: &pools,
            offerings: &cat,
            spot_to_spot: false,
            pending: &[],
            uninitialized: &none,
        };
        let cands = vec![candidate(&a, &cat[1]), candidate(&b, &cat[1])];
        let out = single_node(&cl, &cands, &[0], 10);
        assert!(out.command.is_none() && out.constrained_by_budgets);
        // A 3.5-CPU pod on an xlarge, the other xlarge full: a new node is needed. Usage 8 CPUs,
        // the candidate's 4 leave; a limit of 8 allows an xlarge (not cheaper) but not a
        // 2xlarge; a limit of 4 allows nothing that holds the pod.
        let c = node("c", &cat[1], vec![pod(3, 3500)]);
        let d = node("d", &cat[1], vec![pod(4, 3500)]);
        let nodes = [&c, &d];
        let mut pools = [pool(&["on-demand"], Some(8000))];
        pools[0].usage = cat[1].capacity + cat[1].capacity;
        let cl = Cluster {
            nodes: &nodes,
            pools: &pools,
            offerings: &cat,
            spot_to_spot: false,
            pending: &[],
            uninitialized: &none,
        };
        let out = single_node(&cl, &[candidate(&c, &cat[1])], &[1], 10);
        assert_eq!(
            out.unconsolidatable[0].1,
            "Can't replace with a cheaper node"
        );
        let mut pools4 = pools.clone();
        pools4[0].limits = Some(Resources {
            cpu_milli: 4000,
            memory: 0,
            pods: 0,
        });
        let cl = Cluster {
            pools: &pools4,
            ..cl
        };
        let out = single_node(&cl, &[candidate(&c, &cat[1])], &[1], 10);
        assert!(
            out.unconsolidatable[0].1.contains("would not schedule")
                && out.unconsolidatable[0].1.contains("exceed limits"),
            "{:?}",
            out.unconsolidatable
        );
    }

    /// `n` on-demand xlarge nodes (of `catalog()`) with one pod of `cpu` milli-CPU each, all
    /// candidates: `f` of the cluster and the candidates.
    fn in_row<R>(cpu: i64, n: u64, f: impl FnOnce(&Cluster, &[Candidate]) -> R) -> R {
        let cat = catalog();
        let none = BTreeSet::new();
        let pools = [pool(&["on-demand"], None)];
        let ns: Vec<NodeInfo> = (0..n)
            .map(|i| node(&format!("n{i}"), &cat[1], vec![pod(i, cpu)]))
            .collect();
        let refs: Vec<&NodeInfo> = ns.iter().collect();
        let cl = Cluster {
            nodes: &refs,
            pools: &pools,
            offerings: &cat,
            spot_to_spot: false,
            pending: &[],
            uninitialized: &none,
        };
        let cands: Vec<Candidate> = ns.iter().map(|n| candidate(n, &cat[1])).collect();
        f(&cl, &cands)
    }

    /// A fork of the simulations gives what a fresh start gives, for either search, whether
    /// or not the other search already ran on the original (the twin runs single-node on a
    /// fork beside multi-node).
    #[test]
    fn forked_simulations_decide_as_fresh_ones() {
        for (cpu, n) in [(2500, 4), (1200, 3), (300, 4), (900, 6)] {
            in_row(cpu, n, |cl, cands| {
                let budget = [n];
                let fresh_single = single_node_in(cl, &Simulations::new(cl), cands, &budget, 10);
                let fresh_multi = multi_node_in(cl, &Simulations::new(cl), cands, &budget);
                assert!(fresh_single.command.is_some() || fresh_multi.command.is_some());
                let base = Simulations::new(cl);
                let forked = base.fork();
                assert_eq!(multi_node_in(cl, &base, cands, &budget), fresh_multi);
                assert_eq!(
                    single_node_in(cl, &forked, cands, &budget, 10),
                    fresh_single
                );
                assert_eq!(multi_node_in(cl, &forked, cands, &budget), fresh_multi);
                assert_eq!(
                    single_node_in(cl, &base.fork(), cands, &budget, 10),
                    fresh_single
                );
            });
        }
    }

    // multinodeconsolidation_test / consolidation_test.go "can merge 3 nodes into 1" and "won't
    // merge 2 nodes into 1 of the same type", with the binary search over prefixes.
    #[test]
    fn multi_node_merges_and_binary_searches() {
        let cat = catalog();
        let run = |cpu: i64, n: u64, budget: u64| {
            in_row(cpu, n, |cl, cands| multi_node(cl, cands, &[budget]))
        };
        // Four xlarge nodes with 2.5 CPU each. Prefix 3 (7.5 CPU) fits one 2xlarge, 0.384 <
        // 3 × 0.192: valid; prefix 4 (10 CPU) needs two nodes: invalid. Three merge into one.
        let cmd = run(2500, 4, 4).command.unwrap();
        assert_eq!(cmd.candidates, vec![0, 1, 2]);
        let Decision::Replace(r) = &cmd.decision else {
            panic!("{cmd:?}")
        };
        assert_eq!(cat[r.offering()].instance_type, "m5.2xlarge");
        assert!((cmd.savings - (0.576 - 0.384)).abs() < 1e-9);
        // A budget of 2: the only prefix (5 CPU) needs a 2xlarge at the price of the two
        // xlarge nodes: not cheaper, nothing to do, and the budget constrained the search.
        let out = run(2500, 4, 2);
        assert!(out.command.is_none() && out.constrained_by_budgets);
        // Three nodes of 1.2 CPU: all three would fit one xlarge, the removed type, at a price
        // not below the removed xlarge's (filterOutSameInstanceType) — so the best is deleting
        // two and packing their pods onto the third.
        let cmd = run(1200, 3, 3).command.unwrap();
        assert_eq!(
            (cmd.candidates.len(), &cmd.decision),
            (2, &Decision::Delete)
        );
        // Four nodes of 300m: all four fit one m5.large, cheaper than an xlarge: 4 → 1 large.
        let cmd = run(300, 4, 4).command.unwrap();
        assert_eq!(cmd.candidates, vec![0, 1, 2, 3]);
        let Decision::Replace(r) = &cmd.decision else {
            panic!("{cmd:?}")
        };
        assert_eq!(
            r.options,
            vec![0],
            "only m5.large is cheaper than a removed xlarge"
        );
    }

    #[test]
    fn sort_prefers_savings_per_disruption() {
        let cat = catalog();
        let big = node("big", &cat[2], vec![pod(1, 100), pod(2, 100)]);
        let small = node("small", &cat[0], vec![pod(3, 100)]);
        let mut c = vec![candidate(&small, &cat[0]), candidate(&big, &cat[2])];
        sort_candidates(&mut c);
        // 0.384 / 3 = 0.128 > 0.096 / 2 = 0.048.
        assert_eq!(c[0].node, "big");
    }

    // consolidation_test.go "won't delete node if it would require pods to schedule on an
    // uninitialized node" and "can delete nodes with a permanently pending pod".
    #[test]
    fn uninitialized_destinations_and_pending_pods() {
        let cat = catalog();
        let a = node("a", &cat[1], vec![pod(1, 1000)]);
        let b = node("b", &cat[1], vec![]);
        let nodes = [&a, &b];
        let pools = [pool(&["on-demand"], None)];
        let unready: BTreeSet<Arc<str>> = [Arc::from("b")].into();
        let cl = Cluster {
            nodes: &nodes,
            pools: &pools,
            offerings: &cat,
            spot_to_spot: false,
            pending: &[],
            uninitialized: &unready,
        };
        let c = candidate(&a, &cat[1]);
        let err = compute(&cl, &[&c]).unwrap_err();
        assert!(err.contains("uninitialized nodeclaim/b"), "{err}");
        // Once b is initialized the pod moves there: delete. A pending pod too big for any
        // type does not block it.
        let none = BTreeSet::new();
        let huge = [pod(9, 64_000)];
        let cl = Cluster {
            uninitialized: &none,
            pending: &huge,
            ..cl
        };
        assert_eq!(compute(&cl, &[&c]), Ok(Decision::Delete));
        // A pending pod that needs its own node makes a second NodeClaim: no consolidation of
        // the 2xlarge below, whose pod then needs a new node too.
        let big = node("big", &cat[2], vec![pod(3, 3000)]);
        let nodes = [&big];
        let pend = [pod(8, 3000)];
        let cl = Cluster {
            nodes: &nodes,
            pending: &pend,
            ..cl
        };
        let c = candidate(&big, &cat[2]);
        // Both pods (6 CPU) fit one new 2xlarge: one claim, not cheaper than the candidate.
        assert_eq!(
            compute(&cl, &[&c]).unwrap_err(),
            "Can't replace with a cheaper node"
        );
    }

    /// [`multi_node`] as it was before its shared pod order and early bound: every probe a
    /// full [`compute`].
    fn multi_node_reference(cluster: &Cluster, cands: &[Candidate<'_>], budget: &[u64]) -> Outcome {
        let mut out = Outcome::default();
        let Some((idx, mut hi)) = multi_node_probes(cands, budget, &mut out) else {
            return out;
        };
        let mut lo = 1usize;
        while lo <= hi {
            let mid = (lo + hi) / 2;
            let set: Vec<&Candidate> = idx[..=mid].iter().map(|i| &cands[*i]).collect();
            let valid = match compute(cluster, &set) {
                Ok(Decision::Delete) => Some(Decision::Delete),
                Ok(Decision::Replace(r)) => filter_out_same_type(r, &set, cluster.offerings),
                Err(_) => None,
            };
            match valid {
                Some(d) => {
                    out.command = Some(Command {
                        candidates: idx[..=mid].to_vec(),
                        savings: savings(&set, &d, cluster.offerings),
                        decision: d,
                    });
                    lo = mid + 1;
                }
                None => hi = mid - 1,
            }
        }
        out
    }

    /// Nodes `(offering, pods of 100m, _)` named by `name(index)`: node `i`'s pods have ids
    /// `10 i ..`.
    fn node_infos<T>(
        cat: &[Offering],
        nodes: &[(usize, usize, T)],
        name: impl Fn(usize) -> String,
    ) -> Vec<NodeInfo> {
        nodes
            .iter()
            .enumerate()
            .map(|(i, (o, n, _))| {
                let pods = (0..*n as u64)
                    .map(|k| pod(i as u64 * 10 + k, 100))
                    .collect();
                node(&name(i), &cat[*o], pods)
            })
            .collect()
    }

    /// Names in name order, for [`sort_name_ordered_candidates`].
    const NAMES: [&str; 40] = [
        "a00", "a01", "a02", "a03", "a04", "a05", "a06", "a07", "a08", "a09", "a10", "a11", "a12",
        "a13", "a14", "a15", "a16", "a17", "a18", "a19", "a20", "a21", "a22", "a23", "a24", "a25",
        "a26", "a27", "a28", "a29", "a30", "a31", "a32", "a33", "a34", "a35", "a36", "a37", "a38",
        "a39",
    ];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

        /// Sorting by index gives the order of a stable sort of the candidates themselves
        /// (ties in ratio and cost included: few distinct prices and pod counts).
        #[test]
        fn sort_by_index_is_the_stable_sort(
            nodes in proptest::collection::vec((0usize..3, 0usize..4, 0u8..3), 0..40),
        ) {
            let cat = catalog();
            let infos = node_infos(&cat, &nodes, |i| format!("n{}", i % 7));
            let cands: Vec<Candidate> = infos
                .iter()
                .zip(&nodes)
                .map(|(n, (o, _, age))| {
                    let mut c = candidate(n, &cat[*o]);
                    c.disruption_cost *= lifetime_remaining(*age as u64, Some(4));
                    c
                })
                .collect();
            let mut want = cands.clone();
            want.sort_by(|a, b| {
                b.savings_ratio()
                    .total_cmp(&a.savings_ratio())
                    .then(a.disruption_cost.total_cmp(&b.disruption_cost))
                    .then_with(|| a.node.cmp(b.node))
            });
            let mut got = cands.clone();
            sort_candidates(&mut got);
            let key = |v: &[Candidate]| -> Vec<(String, usize)> {
                v.iter().map(|c| (c.node.to_string(), c.pods.len())).collect()
            };
            proptest::prop_assert_eq!(key(&got), key(&want));
            // Distinct names in name order: the variant that does not compare names.
            let mut named: Vec<Candidate> = cands
                .into_iter()
                .enumerate()
                .map(|(i, c)| Candidate {
                    node: NAMES[i],
                    ..c
                })
                .collect();
            let mut want = named.clone();
            sort_candidates(&mut want);
            sort_name_ordered_candidates(&mut named);
            proptest::prop_assert_eq!(key(&named), key(&want));
        }

        /// Ordering only each pool's best `k` gives multi-node's probes and budget flag and
        /// single-node's visits of a full sort (pools crowded beyond `k` or not, budgets 0,
        /// small or large, ties in ratio and cost).
        #[test]
        fn order_per_pool_is_the_full_sort_for_consolidation(
            nodes in proptest::collection::vec((0usize..3, 0usize..4, 0usize..3), 0..40),
            budget in proptest::collection::vec(proptest::prop_oneof![
                proptest::strategy::Just(0u64), 1u64..5, proptest::strategy::Just(100u64)
            ], 3),
            k in 1usize..12,
            max_evaluated in 1usize..12,
        ) {
            let cat = catalog();
            let infos = node_infos(&cat, &nodes, |i| NAMES[i].to_string());
            let cands: Vec<Candidate> = infos
                .iter()
                .zip(&nodes)
                .map(|(n, (o, _, p))| Candidate { pool: *p, ..candidate(n, &cat[*o]) })
                .collect();
            let k = k.max(max_evaluated);
            let mut full = cands.clone();
            sort_name_ordered_candidates(&mut full);
            let mut part = cands;
            order_name_ordered_candidates(&mut part, k);
            let names = |v: &[Candidate], ix: &[usize]| -> Vec<String> {
                ix.iter().map(|i| v[*i].node.to_string()).collect()
            };
            // Multi-node reads the probes' candidates, up to `k` of them (k stands in for
            // MAX_MULTI_NODE_CANDIDATES + 1 here).
            let probes = |v: &[Candidate]| {
                let mut out = Outcome::default();
                let got = multi_node_probes(v, &budget, &mut out)
                    .map(|(idx, hi)| (idx.len(), names(v, &idx[..=hi.min(k - 1)])));
                (got, out.constrained_by_budgets)
            };
            proptest::prop_assert_eq!(probes(&part), probes(&full));
            let visits = |v: &[Candidate]| -> Vec<Option<String>> {
                single_node_visits(v, &budget, max_evaluated)
                    .into_iter()
                    .map(|x| x.map(|i| v[i].node.to_string()))
                    .collect()
            };
            proptest::prop_assert_eq!(visits(&part), visits(&full));
            // The ordered part is the full sort's, pool by pool.
            for p in 0..3 {
                let first = |v: &[Candidate]| -> Vec<String> {
                    v.iter().filter(|c| c.pool == p).take(k).map(|c| c.node.to_string()).collect()
                };
                proptest::prop_assert_eq!(first(&part), first(&full));
            }
        }

        /// The integer key orders as `f64::total_cmp` (signed zeros, infinities, NaN).
        #[test]
        fn total_order_key_is_total_cmp(
            a in proptest::num::f64::ANY,
            b in proptest::prop_oneof![
                proptest::num::f64::ANY,
                proptest::strategy::Just(0.0),
                proptest::strategy::Just(-0.0),
                proptest::strategy::Just(f64::NAN),
                proptest::strategy::Just(-f64::NAN),
                proptest::strategy::Just(f64::INFINITY),
            ],
        ) {
            proptest::prop_assert_eq!(total_order_key(a).cmp(&total_order_key(b)), a.total_cmp(&b));
            proptest::prop_assert_eq!(total_order_key(b).cmp(&total_order_key(a)), b.total_cmp(&a));
        }

        /// The name index built from a prefix known to be in name order plus an unsorted rest
        /// (duplicate names included) is the index of a full sort.
        #[test]
        fn free_room_index_from_sorted_prefix(
            prefix in proptest::collection::btree_set(0u32..60, 0..30),
            rest in proptest::collection::vec(0u32..70, 0..8),
        ) {
            let cat = catalog();
            let names: Vec<String> = prefix
                .iter()
                .chain(&rest)
                .map(|i| format!("n{i:02}"))
                .collect();
            let infos: Vec<NodeInfo> = names.iter().map(|n| node(n, &cat[0], vec![])).collect();
            let refs: Vec<&NodeInfo> = infos.iter().collect();
            let full = FreeRoom::new(&refs, 0).index;
            for k in [0, prefix.len() / 2, prefix.len()] {
                proptest::prop_assert_eq!(&FreeRoom::new(&refs, k).index, &full);
            }
        }

        /// Multi-node consolidation with its shared pod order and its early bound decides as
        /// a full simulation of every probe does: random nodes of the test catalog with random
        /// pods (CPU and memory), pending pods, an uninitialized node and budgets.
        #[test]
        fn multi_node_matches_full_simulation(
            nodes in proptest::collection::vec(
                (0usize..6, proptest::collection::vec((0usize..7, 0i64..40), 0..12)),
                2..30,
            ),
            pending in proptest::collection::vec((0usize..7, 0i64..40), 0..6),
            budget in 1u64..40,
            uninit in proptest::option::of(0usize..30),
        ) {
            const CPU: [i64; 7] = [0, 100, 300, 500, 1000, 2500, 7000];
            let cat = catalog();
            let mut id = 0;
            let mut mk = |cpu: usize, gib: i64| {
                id += 1;
                let mut p = pod(id, CPU[cpu]);
                p.requests.memory = gib << 30;
                p
            };
            let infos: Vec<NodeInfo> = nodes
                .iter()
                .enumerate()
                .map(|(i, (o, pods))| {
                    let o = &cat[*o];
                    let mut ps = vec![];
                    let mut used = Resources::ZERO;
                    for (c, m) in pods {
                        let p = mk(*c, *m);
                        if (used + p.requests).fits_in(&o.allocatable) {
                            used += p.requests;
                            ps.push(p);
                        }
                    }
                    node(&format!("n{i:02}"), o, ps)
                })
                .collect();
            let pend: Vec<PodInfo> = pending.iter().map(|(c, m)| mk(*c, *m)).collect();
            let refs: Vec<&NodeInfo> = infos.iter().collect();
            let unready: BTreeSet<Arc<str>> = uninit
                .filter(|u| *u < infos.len())
                .map(|u| infos[u].name.clone())
                .into_iter()
                .collect();
            let pools = [pool(&["on-demand", "spot"], None)];
            let cl = Cluster {
                nodes: &refs,
                pools: &pools,
                offerings: &cat,
                spot_to_spot: false,
                pending: &pend,
                uninitialized: &unready,
            };
            let mut cands: Vec<Candidate> = infos
                .iter()
                .zip(&nodes)
                .map(|(n, (o, _))| candidate(n, &cat[*o]))
                .collect();
            sort_candidates(&mut cands);
            let want = multi_node_reference(&cl, &cands, &[budget]);
            proptest::prop_assert_eq!(&multi_node(&cl, &cands, &[budget]), &want);
            // The same candidates listing their pods in placement order: the merged search.
            let merged: Vec<Candidate> = cands
                .iter()
                .map(|c| {
                    let n = infos.iter().find(|n| n.name.as_ref() == c.node).unwrap();
                    let mut ix: Vec<u32> = (0..n.pods.len() as u32).collect();
                    ix.sort_by_key(|i| placement_key(&n.pods[*i as usize]));
                    Candidate {
                        pods: CandidatePods::in_placement_order(&n.pods, Cow::Owned(ix), true),
                        ..c.clone()
                    }
                })
                .collect();
            proptest::prop_assert_eq!(&multi_node(&cl, &merged, &[budget]), &want);
        }
    }
}
