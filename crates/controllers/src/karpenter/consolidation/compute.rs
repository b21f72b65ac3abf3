//! `computeConsolidation` (karpenter pkg/controllers/disruption/consolidation.go): simulate
//! removing a set of candidates, then delete, replace with one cheaper node, or neither.

use std::collections::{BTreeMap, BTreeSet};

use kscale_model::Resources;

use super::simulation::{Simulations, placement_key};
use super::types::{Candidate, Cluster, Decision, Replacement};
use crate::karpenter::{Offering, plan_cached};
use crate::scheduler::{PodInfo, fits};

/// Minimum number of cheaper instance types for single-node spot-to-spot consolidation.
pub const MIN_SPOT_TO_SPOT_TYPES: usize = 15;

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

/// [`compute`] from the destinations' free room computed once for several simulations.
pub(super) fn compute_from(
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
///
/// [`FreeRoom::indices_of`]: super::simulation::FreeRoom::indices_of
pub(super) fn simulate<'p>(
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
pub(super) fn cheaper_than(
    options: &[usize],
    offerings: &[Offering],
    max_price: f64,
) -> Vec<usize> {
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

/// Hourly savings of `d` over removing `cands`, USD.
pub(super) fn savings(cands: &[&Candidate<'_>], d: &Decision, offerings: &[Offering]) -> f64 {
    let price: f64 = cands.iter().map(|c| c.price).sum();
    match d {
        Decision::Delete => price,
        Decision::Replace(r) => price - offerings[r.offering()].price,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::karpenter::consolidation::single_node;
    use crate::karpenter::consolidation::testing::*;
    use std::sync::Arc;

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
}
