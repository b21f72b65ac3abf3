//! The Emptiness disruption method: delete every empty candidate the budgets allow, in one
//! command.
//!
//! kubernetes-sigs/karpenter pkg/controllers/disruption/emptiness.go (`ComputeCommand`: the
//! candidates in consolidation order, those with reschedulable pods skipped; a candidate whose
//! NodePool has no disruption left is skipped and marks the pass constrained by budgets, else it
//! joins the command and uses one of its pool's disruptions; no candidate → no command).

use super::consolidation::{Candidate, Command, Decision, Outcome};

/// Emptiness over `candidates` (in consolidation order, see
/// [`super::consolidation::sort_candidates`]) with `budgets` disruptions left per pool: one
/// delete command of every empty candidate the budgets allow (its savings the candidates'
/// summed price), if any.
pub fn emptiness(candidates: &[Candidate<'_>], budgets: &[u64]) -> Outcome {
    let mut left = budgets.to_vec();
    let mut out = Outcome::default();
    let mut empty = vec![];
    for (i, c) in candidates.iter().enumerate() {
        if !c.pods.is_empty() {
            continue;
        }
        if left[c.pool] == 0 {
            out.constrained_by_budgets = true;
            continue;
        }
        left[c.pool] -= 1;
        empty.push(i);
    }
    if !empty.is_empty() {
        let savings = empty.iter().map(|i| candidates[*i].price).sum();
        out.command = Some(Command {
            candidates: empty,
            decision: Decision::Delete,
            savings,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use kscale_model::labels::Labels;
    use kscale_model::{Resources, SimTime};

    use super::*;
    use crate::karpenter::consolidation::CandidatePods;
    use crate::scheduler::{PlacementConstraints, PodInfo};

    fn cand<'a>(node: &'a str, pool: usize, price: f64, pods: &'a [PodInfo]) -> Candidate<'a> {
        Candidate {
            node,
            pool,
            instance_type: "m5.large",
            capacity_type: "on-demand",
            price,
            capacity: Resources::ZERO,
            pods: CandidatePods::all(pods),
            disruption_cost: 0.0,
            reschedule_cost: 1.0,
            destination: None,
        }
    }

    #[test]
    fn deletes_every_empty_candidate_in_one_command() {
        // emptiness_test.go "should delete empty nodes" (several at once).
        let c = [cand("a", 0, 0.1, &[]), cand("b", 0, 0.2, &[])];
        let out = emptiness(&c, &[10]);
        let cmd = out.command.expect("a command");
        assert_eq!(cmd.candidates, vec![0, 1]);
        assert_eq!(cmd.decision, Decision::Delete);
        assert!((cmd.savings - 0.3).abs() < 1e-12);
        assert!(!out.constrained_by_budgets);
        assert!(out.unconsolidatable.is_empty());
    }

    #[test]
    fn budgets_cap_each_pool() {
        // emptiness_test.go "should only allow N empty nodes to be disrupted" per NodePool
        // budget; a pool at 0 marks the pass constrained.
        let c = [
            cand("a", 0, 0.1, &[]),
            cand("b", 0, 0.1, &[]),
            cand("c", 1, 0.1, &[]),
            cand("d", 1, 0.1, &[]),
        ];
        let out = emptiness(&c, &[1, 0]);
        assert_eq!(out.command.expect("a command").candidates, vec![0]);
        assert!(out.constrained_by_budgets);
        let none = emptiness(&c, &[0, 0]);
        assert!(none.command.is_none());
        assert!(none.constrained_by_budgets);
    }

    #[test]
    fn nodes_with_reschedulable_pods_are_not_empty() {
        // emptiness_test.go "should ignore nodes with pods".
        let pods = [PodInfo {
            id: 1,
            namespace: Arc::from("default"),
            name: Arc::from("p1"),
            labels: Arc::new(Labels::new()),
            requests: Resources::ZERO,
            priority: 0,
            start_time: SimTime(0),
            terminating: false,
            constraints: Arc::new(PlacementConstraints::default()),
            default_selector: None,
        }];
        let c = [cand("a", 0, 0.1, &pods)];
        let out = emptiness(&c, &[10]);
        assert!(out.command.is_none());
        assert!(!out.constrained_by_budgets);
        assert_eq!(emptiness(&[], &[]), Outcome::default());
    }
}
