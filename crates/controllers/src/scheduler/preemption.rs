//! DefaultPreemption's PostFilter over all nodes (`Evaluator.Preempt` of
//! `pkg/scheduler/framework/preemption/preemption.go`): eligibility, the dry run over the
//! candidate nodes, and `pickOneNodeForPreemption`.

use std::collections::BTreeMap;

use kscale_model::SimTime;

use super::diagnosis::fit_error_message;
use super::framework::CycleState;
use super::node_table::NodeList;
use super::plugins::default_preemption::{
    Candidate, DryRunFailure, MSG_NO_VICTIMS, select_victims_on_node,
};
use super::types::{PdbInfo, PodInfo};

/// `DefaultPreemptionArgs.MinCandidateNodesPercentage` default.
const MIN_CANDIDATE_NODES_PERCENTAGE: usize = 10;

/// `DefaultPreemptionArgs.MinCandidateNodesAbsolute` default.
const MIN_CANDIDATE_NODES_ABSOLUTE: usize = 100;

/// Status of the nodes the dry run did not try.
const MSG_NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";

/// `util.GetEarliestPodStartTime`: earliest start among the highest-priority victims.
fn earliest_start_of_highest_priority(victims: &[&PodInfo]) -> SimTime {
    let mut max_prio = victims[0].priority;
    let mut earliest = victims[0].start_time;
    for v in victims {
        if v.priority == max_prio {
            earliest = earliest.min(v.start_time);
        } else if v.priority > max_prio {
            max_prio = v.priority;
            earliest = v.start_time;
        }
    }
    earliest
}

/// `pickOneNodeForPreemption` (preemption.go) with the default ordered score functions; returns
/// an index into `candidates`. Remaining ties go to the first candidate in dry-run order.
fn pick_one_node_for_preemption(candidates: &[Candidate<'_>]) -> usize {
    let score_fns: [&dyn Fn(&Candidate<'_>) -> i64; 5] = [
        // Fewest PDB violations.
        &|c| -(c.num_pdb_violations as i64),
        // Lowest highest-priority victim.
        &|c| -(c.victims[0].priority as i64),
        // Smallest sum of (priority + MaxInt32 + 1).
        &|c| {
            -c.victims
                .iter()
                .map(|v| v.priority as i64 + i32::MAX as i64 + 1)
                .sum::<i64>()
        },
        // Fewest victims.
        &|c| -(c.victims.len() as i64),
        // Latest earliest start time among the highest-priority victims.
        &|c| earliest_start_of_highest_priority(&c.victims).as_millis() as i64,
    ];
    let mut all: Vec<usize> = (0..candidates.len()).collect();
    for f in score_fns {
        let mut selected = Vec::new();
        let mut max = i64::MIN;
        for &i in &all {
            let s = f(&candidates[i]);
            if s > max {
                max = s;
                selected.clear();
            }
            if s == max {
                selected.push(i);
            }
        }
        if selected.len() == 1 {
            return selected[0];
        }
        all = selected;
    }
    all[0]
}

/// Outcome of the PostFilter step.
pub(crate) enum PostFilter {
    Preempt {
        node: usize,
        victims: Vec<u64>,
        /// The victims, terminating ones included (the PostFilter message counts them all).
        all_victims: usize,
    },
    /// `preemption: ...` message; `clears` = upstream returns a result that clears the pod's
    /// nominated node name (no candidate found), vs. a nil result that keeps it.
    Fail { msg: String, clears: bool },
}

/// DefaultPreemption PostFilter (`Evaluator.Preempt`, preemption.go).
pub(crate) fn preempt<'a, N: NodeList<'a> + ?Sized>(
    pod: &PodInfo,
    nodes: &N,
    (potential, m): (&[usize], usize),
    nominated_node: Option<(usize, bool)>,
    pdbs: &[PdbInfo],
    no_victims_anywhere: bool,
    state: Option<&CycleState<'a>>,
    tie_break: &mut dyn FnMut(usize) -> usize,
) -> PostFilter {
    // 1) PodEligibleToPreemptOthers.
    if pod.constraints.preemption_never {
        return PostFilter::Fail {
            msg: "preemption: not eligible due to preemptionPolicy=Never.".into(),
            clears: false,
        };
    }
    if let Some((i, unresolvable)) = nominated_node
        && !unresolvable
        && nodes
            .node(i)
            .pods
            .iter()
            .any(|p| p.priority < pod.priority && p.terminating)
    {
        return PostFilter::Fail {
            msg: "preemption: not eligible due to a terminating pod on the nominated node.".into(),
            clears: false,
        };
    }
    let n = nodes.len();
    // 2) findCandidates: `potential`, the nodes whose status is Unschedulable (resolvable),
    // in node order.
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let fail = |counts: &mut BTreeMap<String, usize>, explicit: usize| {
        if explicit < n {
            *counts.entry(MSG_NOT_HELPFUL.to_string()).or_default() += n - explicit;
        }
        PostFilter::Fail {
            msg: format!("preemption: {}", fit_error_message(n, counts)),
            clears: true,
        }
    };
    debug_assert!(potential.len() == m || (no_victims_anywhere && potential.is_empty()));
    if m == 0 {
        return fail(&mut counts, 0);
    }
    let offset = tie_break(m) % m;
    let num_candidates = (m * MIN_CANDIDATE_NODES_PERCENTAGE / 100)
        .max(MIN_CANDIDATE_NODES_ABSOLUTE)
        .min(m);
    // DryRunPreemption (sequential emulation of the parallel loop with early cancel).
    let mut non_violating: Vec<Candidate<'_>> = Vec::new();
    let mut violating: Vec<Candidate<'_>> = Vec::new();
    let mut explicit = 0usize;
    let mut errors: Vec<String> = Vec::new();
    let mut no_victims = 0usize;
    // With no pod of a lower priority anywhere every dry run fails the same way: counted, not
    // run.
    let dry_runs = if no_victims_anywhere {
        explicit = m;
        no_victims = m;
        0
    } else {
        m
    };
    for k in 0..dry_runs {
        let idx = potential[(offset + k) % m];
        match select_victims_on_node(pod, nodes.node(idx), pdbs, state) {
            Ok(mut c) => {
                c.node = idx;
                if c.num_pdb_violations == 0 {
                    non_violating.push(c);
                } else {
                    violating.push(c);
                }
                if !non_violating.is_empty()
                    && non_violating.len() + violating.len() >= num_candidates
                {
                    break;
                }
            }
            Err(f) => {
                explicit += 1;
                match f {
                    // Counted without a map entry per node (the common case when no pod
                    // has a lower priority); added to `counts` once, below.
                    DryRunFailure::NoVictims => no_victims += 1,
                    DryRunFailure::Unfit(u) => {
                        u.for_each_reason(|r| *counts.entry(r.to_string()).or_default() += 1);
                    }
                    DryRunFailure::NoVictimNeeded => errors.push(format!(
                        "expected at least one victim pod on node {:?}",
                        &*nodes.node(idx).name
                    )),
                }
            }
        }
    }
    if no_victims > 0 {
        *counts.entry(MSG_NO_VICTIMS.to_string()).or_default() += no_victims;
    }
    non_violating.truncate(num_candidates);
    violating.truncate(num_candidates);
    let mut candidates = non_violating;
    candidates.append(&mut violating);
    if candidates.is_empty() {
        if !errors.is_empty() {
            let msg = if errors.len() == 1 {
                errors.remove(0)
            } else {
                format!("[{}]", errors.join(", "))
            };
            return PostFilter::Fail {
                msg: format!("preemption: {msg}"),
                clears: false,
            };
        }
        return fail(&mut counts, explicit);
    }
    // 4) SelectCandidate.
    let best = if candidates.len() == 1 {
        0
    } else {
        pick_one_node_for_preemption(&candidates)
    };
    let c = &candidates[best];
    PostFilter::Preempt {
        node: c.node,
        all_victims: c.victims.len(),
        // Victims already terminating need no deletion (upstream skips the API call for them).
        victims: c
            .victims
            .iter()
            .filter(|v| !v.terminating)
            .map(|v| v.id)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::testing::*;
    use crate::scheduler::*;

    // ---- TestSelectBestCandidate (nodes of veryLargeRes) ------------------------------------

    fn best_node(p: &PodInfo, nodes: &[NodeInfo]) -> String {
        match run(p, nodes, &[]) {
            Decision::Preempt { node, .. } => nodes[node].name.to_string(),
            d => panic!("expected preemption, got {d:?}"),
        }
    }

    // TestSelectBestCandidate "node with min highest priority pod is picked".
    #[test]
    fn select_min_highest_priority() {
        let nodes = [
            vl_node("node1", vec![pod(11, MID, MEDIUM), pod(12, MID, LARGE)]),
            vl_node("node2", vec![pod(21, MID, MEDIUM), pod(22, LOW, MEDIUM)]),
            vl_node("node3", vec![pod(31, LOW, MEDIUM), pod(32, LOW, MEDIUM)]),
        ];
        assert_eq!(best_node(&pod(100, HIGH, VERY_LARGE), &nodes), "node3");
    }

    // TestSelectBestCandidate "when highest priorities are the same, minimum sum of priorities
    // is picked".
    #[test]
    fn select_min_sum_of_priorities() {
        let nodes = [
            vl_node("node1", vec![pod(11, MID, MEDIUM), pod(12, MID, LARGE)]),
            vl_node("node2", vec![pod(21, MID, LARGE), pod(22, LOW, MEDIUM)]),
            vl_node("node3", vec![pod(31, MID, MEDIUM), pod(32, MID, MEDIUM)]),
        ];
        assert_eq!(best_node(&pod(100, HIGH, VERY_LARGE), &nodes), "node2");
    }

    // TestSelectBestCandidate "when highest priority and sum are the same, minimum number of
    // pods is picked".
    #[test]
    fn select_min_number_of_pods() {
        let nodes = [
            vl_node(
                "node1",
                vec![
                    pod(11, MID, SMALL),
                    pod(12, NEG, SMALL),
                    pod(13, MID, SMALL),
                    pod(14, NEG, SMALL),
                ],
            ),
            vl_node("node2", vec![pod(21, MID, LARGE), pod(22, NEG, MEDIUM)]),
            vl_node(
                "node3",
                vec![
                    pod(31, MID, MEDIUM),
                    pod(32, NEG, SMALL),
                    pod(33, LOW, SMALL),
                ],
            ),
        ];
        assert_eq!(best_node(&pod(100, HIGH, VERY_LARGE), &nodes), "node2");
    }

    // TestSelectBestCandidate "sum of adjusted priorities is considered".
    #[test]
    fn select_sum_of_adjusted_priorities() {
        let nodes = [
            vl_node(
                "node1",
                vec![
                    pod(11, MID, SMALL),
                    pod(12, NEG, SMALL),
                    pod(13, NEG, SMALL),
                ],
            ),
            vl_node("node2", vec![pod(21, MID, LARGE), pod(22, NEG, MEDIUM)]),
            vl_node(
                "node3",
                vec![
                    pod(31, MID, MEDIUM),
                    pod(32, NEG, SMALL),
                    pod(33, LOW, SMALL),
                ],
            ),
        ];
        assert_eq!(best_node(&pod(100, HIGH, VERY_LARGE), &nodes), "node2");
    }

    // TestSelectBestCandidate "non-overlapping lowest high priority, sum priorities, and number
    // of pods".
    #[test]
    fn select_non_overlapping_criteria() {
        let nodes = [
            vl_node(
                "node1",
                vec![
                    pod(11, MID, SMALL),
                    pod(12, LOW, SMALL),
                    pod(13, LOW, SMALL),
                ],
            ),
            vl_node("node2", vec![pod(21, HIGH, LARGE)]),
            vl_node(
                "node3",
                vec![
                    pod(31, MID, MEDIUM),
                    pod(32, LOW, SMALL),
                    pod(33, LOW, SMALL),
                    pod(34, LOW, MEDIUM),
                ],
            ),
            vl_node(
                "node4",
                vec![
                    pod(41, MID, MEDIUM),
                    pod(42, MID, SMALL),
                    pod(43, MID, SMALL),
                    pod(44, NEG, SMALL),
                ],
            ),
        ];
        assert_eq!(best_node(&pod(100, VERY_HIGH, VERY_LARGE), &nodes), "node1");
    }

    // TestSelectBestCandidate "same priority, same number of victims, different start time for
    // each node's pod".
    #[test]
    fn select_latest_start_time_per_node() {
        let nodes = [
            vl_node(
                "node1",
                vec![
                    started(pod(11, MID, MEDIUM), 2),
                    started(pod(12, MID, MEDIUM), 2),
                ],
            ),
            vl_node(
                "node2",
                vec![
                    started(pod(21, MID, MEDIUM), 3),
                    started(pod(22, MID, MEDIUM), 3),
                ],
            ),
            vl_node(
                "node3",
                vec![
                    started(pod(31, MID, MEDIUM), 1),
                    started(pod(32, MID, MEDIUM), 1),
                ],
            ),
        ];
        assert_eq!(best_node(&pod(100, HIGH, VERY_LARGE), &nodes), "node2");
    }

    // TestSelectBestCandidate "same priority, same number of victims, different start time for
    // all pods".
    #[test]
    fn select_latest_earliest_start_time() {
        let nodes = [
            vl_node(
                "node1",
                vec![
                    started(pod(11, MID, MEDIUM), 4),
                    started(pod(12, MID, MEDIUM), 2),
                ],
            ),
            vl_node(
                "node2",
                vec![
                    started(pod(21, MID, MEDIUM), 5),
                    started(pod(22, MID, MEDIUM), 1),
                ],
            ),
            vl_node(
                "node3",
                vec![
                    started(pod(31, MID, MEDIUM), 3),
                    started(pod(32, MID, MEDIUM), 6),
                ],
            ),
        ];
        assert_eq!(best_node(&pod(100, HIGH, VERY_LARGE), &nodes), "node3");
    }

    // TestSelectBestCandidate "different priority, same number of victims, different start time
    // for all pods".
    #[test]
    fn select_start_time_of_highest_priority_victims() {
        let nodes = [
            vl_node(
                "node1",
                vec![
                    started(pod(11, LOW, MEDIUM), 4),
                    started(pod(12, MID, MEDIUM), 2),
                ],
            ),
            vl_node(
                "node2",
                vec![
                    started(pod(21, MID, MEDIUM), 6),
                    started(pod(22, LOW, MEDIUM), 1),
                ],
            ),
            vl_node(
                "node3",
                vec![
                    started(pod(31, LOW, MEDIUM), 3),
                    started(pod(32, MID, MEDIUM), 5),
                ],
            ),
        ];
        assert_eq!(best_node(&pod(100, HIGH, VERY_LARGE), &nodes), "node2");
    }

    // Preemption offset: the dry run starts at tie_break(#potential nodes) and the first
    // candidate wins full ties (TestDryRunPreemption uses a seeded getOffsetRand).
    #[test]
    fn preemption_offset_from_tie_break() {
        let p = pod(100, HIGH, LARGE);
        let nodes = [
            vl_node("node1", vec![pod(1, MID, LARGE)]),
            vl_node("node2", vec![pod(2, MID, LARGE)]),
        ];
        let mut s = Scheduler::new(None);
        assert_eq!(
            run_with(&mut s, &p, &nodes, &[], 1),
            Decision::Preempt {
                node: 1,
                victims: vec![2]
            }
        );
    }
}
