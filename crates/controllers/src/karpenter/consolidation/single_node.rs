//! Single-node consolidation (karpenter
//! pkg/controllers/disruption/singlenodeconsolidation.go): candidates one at a time,
//! interleaved across NodePools, the first that can be deleted or replaced wins.

use super::compute::{compute_from, savings};
use super::simulation::Simulations;
use super::types::{Candidate, Cluster, Command, Outcome};

/// Single-node consolidation over `cands` (already sorted by [`sort_candidates`]), interleaved
/// across pools, with `budget[pool]` disruptions allowed. At most `max_evaluated` candidates
/// are simulated (upstream bounds the pass by a 3-minute timeout).
///
/// [`sort_candidates`]: super::sort_candidates
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
pub(super) fn single_node_visits(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::karpenter::consolidation::testing::*;
    use kscale_model::Resources;
    use std::collections::BTreeSet;

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
}
