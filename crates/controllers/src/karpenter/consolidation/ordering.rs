//! The order consolidation visits candidates in (karpenter
//! pkg/controllers/disruption/consolidation.go `sortCandidates`): savings ratio descending,
//! then disruption cost ascending, then name; and the partial order that is enough for
//! multi- and single-node consolidation.

use super::multi_node::MAX_MULTI_NODE_CANDIDATES;
use super::types::Candidate;

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
///
/// [`multi_node`]: fn@super::multi_node
/// [`single_node`]: fn@super::single_node
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::karpenter::consolidation::multi_node::multi_node_probes;
    use crate::karpenter::consolidation::single_node::single_node_visits;
    use crate::karpenter::consolidation::testing::*;
    use crate::karpenter::consolidation::{Outcome, lifetime_remaining};

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
    }
}
