//! One NodePool disruption poll's decision, shared by both backends (kubernetes-sigs/karpenter
//! pkg/controllers/disruption/controller.go): Emptiness first (every empty candidate its
//! pool's budget allows, in one command), then multi-node and, only when that finds nothing,
//! single-node consolidation ([`kscale_controllers::karpenter`]'s methods).
//!
//! A backend gathers the candidates from what it sees ([`Gathered`], with
//! [`Gathered::not_a_candidate`] for the others) and [`decide`] returns the command to
//! validate and what the poll's events report ([`Poll`]); the backend emits them and applies the
//! command.

use std::collections::BTreeSet;
use std::sync::Arc;

use kscale_controllers::karpenter::budget::{self, Reason};
use kscale_controllers::karpenter::candidates::Ineligible;
use kscale_controllers::karpenter::consolidation::{self, Candidate, Cluster, Decision};
use kscale_controllers::karpenter::emptiness::emptiness;
use kscale_controllers::karpenter::validation::{self, Rejection};
use kscale_controllers::karpenter::{Offering, Pool, compatibility};
use kscale_controllers::scheduler::{NodeInfo, PodInfo};
use kscale_model::SimTime;

use super::{Command, MAX_SINGLE_NODE_CANDIDATES, PoolConfig};

/// What one pass over the pools' nodes found (borrowing the nodes and their pods).
#[derive(Debug)]
pub struct Gathered<'a> {
    /// The pools, as provisioning sees them (by index of the configs).
    pub pools: Vec<Pool>,
    /// Empty candidates.
    pub empty: Vec<Candidate<'a>>,
    /// Underutilized candidates.
    pub underutilized: Vec<Candidate<'a>>,
    /// Per pool: initialized nodes, disrupting or NotReady nodes.
    pub counts: Vec<(u64, u64)>,
    /// (node, message) for `Unconsolidatable`.
    pub unconsolidatable: Vec<(String, String)>,
    /// Earliest time a node not yet consolidatable becomes so.
    pub next_eligible: Option<SimTime>,
    /// Nodes pods may move to, in name order.
    pub destinations: Vec<&'a NodeInfo>,
}

impl<'a> Gathered<'a> {
    /// Nothing gathered yet, for the pools of `configs`.
    pub fn new(configs: &[PoolConfig]) -> Self {
        Gathered {
            pools: configs.iter().map(|c| c.pool.clone()).collect(),
            empty: vec![],
            underutilized: vec![],
            counts: vec![(0, 0); configs.len()],
            unconsolidatable: vec![],
            next_eligible: None,
            destinations: vec![],
        }
    }

    /// Records why a node of pool `pi` is no candidate: a disrupting or NotReady node counts
    /// against the budget, a node not yet consolidatable sets the next poll, and the reasons
    /// upstream reports get an `Unconsolidatable` event.
    pub fn not_a_candidate(&mut self, pi: usize, node: &str, pool: &str, why: Ineligible) {
        match why {
            Ineligible::Disrupting => self.counts[pi].1 += 1,
            Ineligible::NotConsolidatable(t) => {
                self.next_eligible = Some(self.next_eligible.map_or(t, |x| x.min(t)));
            }
            _ => {
                if let Some(msg) = why.unconsolidatable(pool) {
                    self.unconsolidatable.push((node.to_string(), msg));
                }
            }
        }
    }

    /// Puts the candidates (gathered in name order) in the order the methods try them.
    pub fn order(&mut self) {
        consolidation::sort_name_ordered_candidates(&mut self.empty);
        consolidation::order_name_ordered_candidates(
            &mut self.underutilized,
            consolidation::ordered_per_pool(MAX_SINGLE_NODE_CANDIDATES),
        );
    }

    /// Disruptions each pool still allows for `reason` at `unix_ms`.
    pub fn budgets(&self, configs: &[PoolConfig], reason: Reason, unix_ms: i64) -> Vec<u64> {
        configs
            .iter()
            .zip(&self.counts)
            .map(|(c, (n, d))| budget::remaining(&c.budgets, reason, unix_ms, *n, *d))
            .collect()
    }
}

/// What consolidation simulates beyond the gathered destinations.
#[derive(Debug)]
pub struct Simulated {
    /// The offerings a replacement may launch on (those not skipped after a capacity error).
    pub offerings: Arc<Vec<Offering>>,
    /// Pending pods (not nominated to a NodeClaim): they must still fit.
    pub pending: Vec<PodInfo>,
    /// In-flight NodeClaims as nodes.
    pub in_flight: Vec<NodeInfo>,
    /// Names of nodes not initialized yet.
    pub uninitialized: BTreeSet<Arc<str>>,
    /// The pools' [`compatibility`] with `offerings`, when kept from an earlier poll.
    pub compatible: Option<Arc<Vec<Vec<usize>>>>,
}

/// What a disruption poll decided, before its events are emitted.
#[derive(Debug)]
pub struct Poll {
    /// Per pool: initialized nodes, disrupting or NotReady nodes.
    pub counts: Vec<(u64, u64)>,
    /// (node, message) for `Unconsolidatable`, from the candidates' gathering.
    pub unconsolidatable: Vec<(String, String)>,
    /// Earliest time a node not yet consolidatable becomes so.
    pub next_eligible: Option<SimTime>,
    /// Reasons whose `DisruptionBlocked` is checked, in order.
    pub blocked: Vec<Reason>,
    /// (node, message) for `Unconsolidatable`, from the consolidation simulation.
    pub rejected: Vec<(String, String)>,
    /// The command to validate.
    pub command: Option<Command>,
    /// Some candidate was skipped for its pool's budget.
    pub constrained: bool,
}

/// The poll's decision over `g` at `unix_ms` (budgets' schedules read it): `simulated` is
/// asked only when there are underutilized candidates, `uid` gives a candidate node's uid.
pub fn decide(
    configs: &[PoolConfig],
    g: &Gathered<'_>,
    unix_ms: i64,
    simulated: impl FnOnce() -> Simulated,
    uid: impl Fn(&str) -> String,
) -> Poll {
    let mut poll = Poll {
        counts: g.counts.clone(),
        unconsolidatable: g.unconsolidatable.clone(),
        next_eligible: g.next_eligible,
        blocked: vec![],
        rejected: vec![],
        command: None,
        constrained: false,
    };
    let command = |cands: &[Candidate<'_>],
                   idx: &[usize],
                   d: &Decision,
                   offerings: &[Offering],
                   reason,
                   method,
                   savings| {
        Command::chosen(
            cands,
            idx,
            d,
            (&g.pools, offerings),
            (reason, method, savings),
            &uid,
        )
    };
    // Emptiness: every empty candidate the budgets allow, in one command.
    if !g.empty.is_empty() {
        let budget = g.budgets(configs, Reason::Empty, unix_ms);
        poll.blocked.push(Reason::Empty);
        let empty = emptiness(&g.empty, &budget);
        poll.constrained |= empty.constrained_by_budgets;
        if let Some(c) = empty.command {
            poll.command = Some(command(
                &g.empty,
                &c.candidates,
                &c.decision,
                &[],
                Reason::Empty,
                "empty",
                c.savings,
            ));
            return poll;
        }
    }
    if g.underutilized.is_empty() {
        return poll;
    }
    let budget = g.budgets(configs, Reason::Underutilized, unix_ms);
    poll.blocked.push(Reason::Underutilized);
    let s = simulated();
    let (multi, single) = with_simulations(g, &s, |cluster, base| {
        // Upstream tries single-node consolidation only when multi-node finds nothing. Both
        // searches are pure: the single-node one runs beside the multi-node one (on the pool's
        // other worker, with its own working copies) and is used only then.
        let forked = base.fork();
        let (under, budget) = (&g.underutilized, &budget);
        rayon::join(
            move || consolidation::multi_node_in(cluster, &base, under, budget),
            move || {
                consolidation::single_node_in(
                    cluster,
                    &forked,
                    under,
                    budget,
                    MAX_SINGLE_NODE_CANDIDATES,
                )
            },
        )
    });
    poll.constrained |= multi.constrained_by_budgets;
    let (found, method, unconsolidatable) = match multi.command {
        Some(c) => (Some(c), "multi", vec![]),
        None => {
            poll.constrained |= single.constrained_by_budgets;
            (single.command, "single", single.unconsolidatable)
        }
    };
    poll.command = found.map(|c| {
        command(
            &g.underutilized,
            &c.candidates,
            &c.decision,
            &s.offerings,
            Reason::Underutilized,
            method,
            c.savings,
        )
    });
    poll.rejected = unconsolidatable
        .into_iter()
        .map(|(i, m)| (g.underutilized[i].node.to_string(), m))
        .collect();
    poll
}

/// Whether command `cmd`, decided 15 s ago, still holds over `g` (gathered again, in name
/// order) at `unix_ms` (pkg/controllers/disruption/validation.go): its candidates are still
/// candidates for its reason (`same_node(name, uid)`: the node of that name is still the
/// same), the budgets still allow them, and a consolidation's simulation still finds the same
/// decision.
pub fn revalidate(
    configs: &[PoolConfig],
    g: &Gathered<'_>,
    cmd: &Command,
    unix_ms: i64,
    same_node: impl Fn(&str, &str) -> bool,
    simulated: impl FnOnce() -> Simulated,
) -> Result<(), Rejection> {
    let list = match cmd.reason {
        Reason::Empty => &g.empty,
        _ => &g.underutilized,
    };
    let found = cmd.nodes.iter().map(|(name, uid, ..)| {
        list.iter()
            .position(|c| c.node == name)
            .filter(|_| same_node(name, uid))
    });
    let budgets = g.budgets(configs, cmd.reason, unix_ms);
    let idx = validation::validate_candidates(found, list, &budgets)?;
    if cmd.reason == Reason::Empty {
        return Ok(());
    }
    let s = simulated();
    let set: Vec<&Candidate> = idx.iter().map(|i| &list[*i]).collect();
    let computed = with_simulations(g, &s, |cluster, base| {
        consolidation::compute_in(cluster, &base, &set)
    });
    validation::validate_command(
        &computed,
        cmd.replacement.as_ref().map(|r| &r.offering),
        &s.offerings,
    )
}

/// Runs `f` over the cluster consolidation simulates (`g`'s destinations, in name order, then
/// `s`'s in-flight claims) and its simulations' base (with `s`'s kept compatibility, if any).
fn with_simulations<R>(
    g: &Gathered<'_>,
    s: &Simulated,
    f: impl FnOnce(&Cluster<'_>, consolidation::Simulations<'_>) -> R,
) -> R {
    let dest: Vec<&NodeInfo> = g
        .destinations
        .iter()
        .copied()
        .chain(s.in_flight.iter())
        .collect();
    let cluster = Cluster {
        nodes: &dest,
        pools: &g.pools,
        offerings: &s.offerings,
        spot_to_spot: false,
        pending: &s.pending,
        uninitialized: &s.uninitialized,
    };
    // The destinations' free room and the pools' compatible offerings, once.
    let compatible = s
        .compatible
        .clone()
        .unwrap_or_else(|| Arc::new(compatibility(&g.pools, &s.offerings)));
    let base = consolidation::Simulations::prepared(&cluster, g.destinations.len(), compatible);
    f(&cluster, base)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::karpenter::pool_configs;
    use kscale_controllers::karpenter::consolidation::CandidatePods;
    use kscale_model::Resources;
    use serde_json::json;

    fn empty(node: &str) -> Candidate<'_> {
        Candidate {
            node,
            pool: 0,
            instance_type: "m5.large",
            capacity_type: "on-demand",
            price: 0.096,
            capacity: Resources::ZERO,
            pods: CandidatePods::all(&[]),
            disruption_cost: 0.0,
            reschedule_cost: 1.0,
            destination: None,
        }
    }

    fn pools(budget: &str) -> Vec<PoolConfig> {
        let np = json!({"spec": {"disruption": {"budgets": [{"nodes": budget}]}}});
        pool_configs([("NodePool", "general", &np)].into_iter())
    }

    fn never() -> Simulated {
        panic!("no underutilized candidate: nothing to simulate")
    }

    #[test]
    fn empty_candidates_the_budget_allows_go_in_one_command() {
        let configs = pools("2");
        let mut g = Gathered::new(&configs);
        g.counts[0] = (3, 0);
        g.empty = vec![empty("a"), empty("b"), empty("c")];
        let poll = decide(&configs, &g, 0, never, |n| format!("uid-{n}"));
        assert_eq!(poll.blocked, [Reason::Empty]);
        assert!(poll.constrained, "the third empty node is over the budget");
        let cmd = poll.command.unwrap();
        assert_eq!((cmd.method, cmd.decision()), ("empty", "delete"));
        let nodes: Vec<(&str, &str)> = cmd
            .nodes
            .iter()
            .map(|n| (n.0.as_str(), n.1.as_str()))
            .collect();
        assert_eq!(nodes, [("a", "uid-a"), ("b", "uid-b")]);
        assert_eq!(poll.counts, [(3, 0)]);
    }

    #[test]
    fn a_zero_budget_blocks_and_ineligible_nodes_are_reported() {
        let configs = pools("0");
        let mut g = Gathered::new(&configs);
        g.counts[0] = (2, 0);
        g.empty = vec![empty("a")];
        g.not_a_candidate(0, "b", "general", Ineligible::Disrupting);
        g.not_a_candidate(
            0,
            "c",
            "general",
            Ineligible::NotConsolidatable(SimTime(90_000)),
        );
        g.not_a_candidate(
            0,
            "d",
            "general",
            Ineligible::NotConsolidatable(SimTime(60_000)),
        );
        let poll = decide(&configs, &g, 0, never, |_| String::new());
        assert!(poll.command.is_none());
        assert!(poll.constrained);
        assert_eq!(poll.blocked, [Reason::Empty]);
        assert_eq!(
            poll.counts,
            [(2, 1)],
            "a disrupting node uses up the budget"
        );
        assert_eq!(poll.next_eligible, Some(SimTime(60_000)));
        assert_eq!(g.budgets(&configs, Reason::Empty, 0), [0]);
    }
}
