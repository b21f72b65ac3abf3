//! Multi-node consolidation (karpenter
//! pkg/controllers/disruption/multinodeconsolidation.go): `firstNConsolidationOption`'s binary
//! search for the largest consolidatable prefix of the candidates, and
//! `filterOutSameInstanceType`.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use super::compute::{cheaper_than, savings, simulate};
use super::simulation::{NO_ROOM, PlacementKey, Simulations, max_each, placement_key};
use super::types::{Candidate, CandidatePods, Cluster, Command, Decision, Outcome, Replacement};
use crate::karpenter::Offering;
use crate::scheduler::PodInfo;

/// Candidates multi-node consolidation considers at once.
pub const MAX_MULTI_NODE_CANDIDATES: usize = 100;

/// Multi-node consolidation: the largest prefix of the budget-filtered candidates (at most
/// 100) that can be deleted or replaced by one cheaper node of another type, by binary search.
pub fn multi_node(cluster: &Cluster, cands: &[Candidate<'_>], budget: &[u64]) -> Outcome {
    multi_node_in(cluster, &Simulations::new(cluster), cands, budget)
}

/// The candidates a multi-node search may take, in order: those the pools' disruption budgets
/// allow (`out.constrained_by_budgets` when one was left out), with the index in them of the
/// largest probe's last candidate (at most [`MAX_MULTI_NODE_CANDIDATES`], and not all of
/// them); None below two candidates.
pub(super) fn multi_node_probes(
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
    use crate::karpenter::consolidation::testing::*;
    use crate::karpenter::consolidation::{compute, sort_candidates};
    use crate::scheduler::NodeInfo;
    use kscale_model::Resources;
    use std::collections::BTreeSet;
    use std::sync::Arc;

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

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

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
