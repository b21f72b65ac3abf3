//! DefaultPreemption (`pkg/scheduler/framework/plugins/defaultpreemption/default_preemption.go`):
//! `SelectVictimsOnNode` and `filterPodsWithPDBViolation`; the PostFilter's evaluation over all
//! nodes is in `preemption.rs`.

use std::cmp::Ordering;

use kscale_model::Resources;

use crate::scheduler::diagnosis::Unfit;
use crate::scheduler::framework::CycleState;
use crate::scheduler::framework::{filter_all, nominated_usage};
use crate::scheduler::types::{NodeInfo, PdbInfo, PodInfo, node_used, pod_usage};

/// Dry-run status of a node without lower-priority pods.
pub(crate) const MSG_NO_VICTIMS: &str = "No preemption victims found for incoming pod";

/// `util.MoreImportantPod`: higher priority first, then the earlier start time.
fn more_important(a: &PodInfo, b: &PodInfo) -> Ordering {
    b.priority
        .cmp(&a.priority)
        .then(a.start_time.cmp(&b.start_time))
}

/// `filterPodsWithPDBViolation` (default_preemption.go): splits the (sorted) pods into the ones
/// whose eviction would push a matching PDB's allowed disruptions below zero and the others.
fn split_by_pdb_violation<'a>(
    pods: &[&'a PodInfo],
    pdbs: &[PdbInfo],
) -> (Vec<&'a PodInfo>, Vec<&'a PodInfo>) {
    let mut allowed: Vec<i32> = pdbs.iter().map(|p| p.disruptions_allowed).collect();
    let mut violating = Vec::new();
    let mut non_violating = Vec::new();
    for &p in pods {
        let mut violated = false;
        if !p.labels.is_empty() {
            for (i, pdb) in pdbs.iter().enumerate() {
                if pdb.namespace != *p.namespace {
                    continue;
                }
                // A PDB with an empty selector matches nothing.
                if pdb.selector.is_empty() || !pdb.selector.matches(&p.labels) {
                    continue;
                }
                allowed[i] -= 1;
                if allowed[i] < 0 {
                    violated = true;
                }
            }
        }
        if violated {
            violating.push(p);
        } else {
            non_violating.push(p);
        }
    }
    (violating, non_violating)
}

/// A preemption candidate: a node and the pods to evict there.
#[derive(Clone, Debug)]
pub(crate) struct Candidate<'a> {
    pub(crate) node: usize,
    /// Most important first.
    pub(crate) victims: Vec<&'a PodInfo>,
    pub(crate) num_pdb_violations: usize,
}

/// Why a node is not a preemption candidate (dry-run status).
pub(crate) enum DryRunFailure {
    /// `No preemption victims found for incoming pod`.
    NoVictims,
    /// Even without lower-priority pods the filters fail.
    Unfit(Unfit),
    /// Upstream's internal error `expected at least one victim pod on node %q`.
    NoVictimNeeded,
}

/// `SelectVictimsOnNode` (default_preemption.go): the lower-priority pods leave the node (and,
/// through RemovePod, the stateful plugins' counts), then are reprieved one by one (AddPod)
/// while the pod still fits.
pub(crate) fn select_victims_on_node<'a>(
    pod: &PodInfo,
    node: &'a NodeInfo,
    pdbs: &[PdbInfo],
    state: Option<&CycleState<'a>>,
) -> Result<Candidate<'a>, DryRunFailure> {
    // Checked before collecting: on most nodes no pod has a lower priority.
    if !node.pods.iter().any(|p| p.priority < pod.priority) {
        return Err(DryRunFailure::NoVictims);
    }
    let mut potential: Vec<&PodInfo> = node
        .pods
        .iter()
        .filter(|p| p.priority < pod.priority)
        .collect();
    let mut used = node_used(node) + nominated_usage(pod, node);
    let mut state = state.cloned();
    for p in &potential {
        used -= pod_usage(p);
        if let Some(s) = state.as_mut() {
            s.update_with_pod(p, pod, node, -1);
        }
    }
    filter_all(pod, node, &used, state.as_ref()).map_err(DryRunFailure::Unfit)?;
    potential.sort_by(|a, b| more_important(a, b));
    let (violating, non_violating) = split_by_pdb_violation(&potential, pdbs);
    let mut victims = Vec::new();
    let mut num_pdb_violations = 0;
    let mut reprieve = |p: &'a PodInfo, used: &mut Resources, victims: &mut Vec<&'a PodInfo>| {
        *used += pod_usage(p);
        if let Some(s) = state.as_mut() {
            s.update_with_pod(p, pod, node, 1);
        }
        if filter_all(pod, node, used, state.as_ref()).is_ok() {
            true
        } else {
            *used -= pod_usage(p);
            if let Some(s) = state.as_mut() {
                s.update_with_pod(p, pod, node, -1);
            }
            victims.push(p);
            false
        }
    };
    for &p in &violating {
        if !reprieve(p, &mut used, &mut victims) {
            num_pdb_violations += 1;
        }
    }
    for &p in &non_violating {
        reprieve(p, &mut used, &mut victims);
    }
    if !violating.is_empty() && !non_violating.is_empty() {
        victims.sort_by(|a, b| more_important(a, b));
    }
    if victims.is_empty() {
        return Err(DryRunFailure::NoVictimNeeded);
    }
    Ok(Candidate {
        node: 0,
        victims,
        num_pdb_violations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::testing::*;
    use crate::scheduler::*;
    use kscale_model::{LabelSelector, TaintEffect};

    fn victim_ids(c: &Candidate<'_>) -> Vec<u64> {
        let mut v: Vec<u64> = c.victims.iter().map(|p| p.id).collect();
        v.sort();
        v
    }

    // ---- default_preemption_test.go: TestPostFilter ----------------------------------------

    // TestPostFilter "pod with higher priority can be made schedulable".
    #[test]
    fn post_filter_higher_priority_nominates_node1() {
        let nodes = [with_pods(one_pod_node("node1"), vec![pod(1, LOW, (0, 0))])];
        let mut s = Scheduler::new(None);
        let d = run_with(&mut s, &pod(100, HIGH, (0, 0)), &nodes, &[], 0);
        assert_eq!(
            d,
            Decision::Preempt {
                node: 0,
                victims: vec![1]
            }
        );
        // v1.37: the PostFilter's success message joins the event (preemption.go `Preempt`).
        assert_eq!(
            s.last_fit_error(),
            "0/1 nodes are available: 1 Too many pods. preemption: found a potential placement for pod on node node1, preempting 1 victims"
        );
        assert!(s.last_overrides_nomination());
    }

    // TestPostFilter "pod with tied priority is still unschedulable".
    #[test]
    fn post_filter_tied_priority_no_victims() {
        let nodes = [with_pods(one_pod_node("node1"), vec![pod(1, LOW, (0, 0))])];
        let mut s = Scheduler::new(None);
        assert_eq!(
            run_with(&mut s, &pod(100, LOW, (0, 0)), &nodes, &[], 0),
            unschedulable(
                "0/1 nodes are available: 1 Too many pods. preemption: 0/1 nodes are available: \
                 1 No preemption victims found for incoming pod."
            )
        );
        assert!(s.last_overrides_nomination());
    }

    // TestPostFilter "preemption should respect filteredNodesStatuses" (the node's status is
    // UnschedulableAndUnresolvable: here it is cordoned).
    #[test]
    fn post_filter_unresolvable_node_not_helpful() {
        let mut n1 = with_pods(one_pod_node("node1"), vec![pod(1, LOW, (0, 0))]);
        n1.unschedulable = true;
        assert_eq!(
            run(&pod(100, HIGH, (0, 0)), &[n1], &[]),
            unschedulable(
                "0/1 nodes are available: 1 node(s) were unschedulable. preemption: 0/1 nodes are \
                 available: 1 Preemption is not helpful for scheduling."
            )
        );
    }

    // TestPostFilter "pod can be made schedulable on one node".
    #[test]
    fn post_filter_schedulable_on_one_node() {
        let nodes = [
            with_pods(one_pod_node("node1"), vec![pod(1, HIGH, (0, 0))]),
            with_pods(one_pod_node("node2"), vec![pod(2, LOW, (0, 0))]),
        ];
        assert_eq!(
            run(&pod(100, MID, (0, 0)), &nodes, &[]),
            Decision::Preempt {
                node: 1,
                victims: vec![2]
            }
        );
    }

    // TestPostFilter "pod can be made schedulable on minHighestPriority node" (PDBs).
    #[test]
    fn post_filter_min_highest_priority_node_with_pdbs() {
        let key = "test.kubernetes.io/is-violating-pdb";
        let nodes = [
            with_pods(
                one_pod_node("node1"),
                vec![
                    labeled(pod(1, HIGH, (0, 0)), key, "non-violating"),
                    labeled(pod(2, LOW, (0, 0)), key, "violating"),
                ],
            ),
            with_pods(
                one_pod_node("node2"),
                vec![labeled(pod(3, MID, (0, 0)), key, "violating")],
            ),
        ];
        let pdbs = [
            PdbInfo {
                namespace: "default".into(),
                selector: LabelSelector::from_labels(labels(&[(key, "violating")])),
                disruptions_allowed: 0,
            },
            PdbInfo {
                namespace: "default".into(),
                selector: LabelSelector::from_labels(labels(&[(key, "non-violating")])),
                disruptions_allowed: i32::MAX,
            },
        ];
        assert_eq!(
            run(&pod(100, VERY_HIGH, (0, 0)), &nodes, &pdbs),
            Decision::Preempt {
                node: 1,
                victims: vec![3]
            }
        );
    }

    // TestPostFilter "no candidate nodes found, no enough resource after removing low priority
    // pods". Upstream feeds the statuses in by hand; run end to end, a pod larger than the node
    // is UnschedulableAndUnresolvable (fit.go `Unresolvable`), so preemption is not helpful.
    #[test]
    fn post_filter_pod_larger_than_nodes() {
        let nodes = [
            with_pods(node("node1", (200, 400), 32), vec![pod(1, LOW, (0, 0))]),
            with_pods(node("node2", (200, 400), 32), vec![pod(2, LOW, (0, 0))]),
        ];
        assert_eq!(
            run(&pod(100, HIGH, LARGE), &nodes, &[]),
            unschedulable(
                "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are \
                 available: 2 Preemption is not helpful for scheduling."
            )
        );
    }

    // Same TestPostFilter case with resolvable nodes: removing the low-priority pods is not
    // enough, so the dry run reports the filter reason: "preemption: 0/2 nodes are available:
    // 2 Insufficient cpu."
    #[test]
    fn post_filter_not_enough_after_removing_low_priority() {
        let mk = |name: &str, base: u64| {
            with_pods(
                node(name, (400, 400), 32),
                vec![pod(base, HIGH, (200, 0)), pod(base + 1, LOW, (0, 0))],
            )
        };
        let nodes = [mk("node1", 1), mk("node2", 3)];
        assert_eq!(
            run(&pod(100, HIGH, LARGE), &nodes, &[]),
            unschedulable(
                "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are \
                 available: 2 Insufficient cpu."
            )
        );
    }

    // TestPostFilter "no candidate nodes found with mixed reasons, no lower priority pod and no
    // enough CPU resource".
    #[test]
    fn post_filter_mixed_reasons() {
        let nodes = [
            with_pods(node("node1", (1000, 1000), 1), vec![pod(1, HIGH, (0, 0))]),
            with_pods(
                node("node2", (400, 400), 32),
                vec![pod(2, HIGH, (200, 0)), pod(3, LOW, (0, 0))],
            ),
            with_pods(node("node3", (1000, 1000), 1), vec![pod(4, HIGH, (0, 0))]),
        ];
        assert_eq!(
            run(&pod(100, HIGH, LARGE), &nodes, &[]),
            unschedulable(
                "0/3 nodes are available: 1 Insufficient cpu, 2 Too many pods. preemption: 0/3 \
                 nodes are available: 1 Insufficient cpu, 2 No preemption victims found for \
                 incoming pod."
            )
        );
    }

    // TestPostFilter "no candidate nodes found with mixed reason, 2 UnschedulableAndUnresolvable
    // nodes and 2 nodes don't have enough CPU resource".
    #[test]
    fn post_filter_two_unresolvable_two_insufficient() {
        let mk = |name: &str, base: u64| {
            with_pods(
                node(name, (400, 400), 32),
                vec![pod(base, HIGH, (200, 0)), pod(base + 1, LOW, (0, 0))],
            )
        };
        let mut n3 = node("node3", (400, 400), 32);
        n3.taints = std::sync::Arc::new(vec![taint(
            "CriticalAddonsOnly",
            "true",
            TaintEffect::NoSchedule,
        )]);
        let mut n4 = node("node4", (400, 400), 32);
        n4.unschedulable = true;
        let nodes = [mk("node1", 1), mk("node2", 3), n3, n4];
        assert_eq!(
            run(&pod(100, HIGH, LARGE), &nodes, &[]),
            unschedulable(
                "0/4 nodes are available: 1 node(s) had untolerated taint(s), 1 node(s) were unschedulable, 2 Insufficient cpu. preemption: 0/4 nodes \
                 are available: 2 Insufficient cpu, 2 Preemption is not helpful for scheduling."
            )
        );
    }

    // The example of the task brief: one node short of cpu with no lower-priority pods, two
    // tainted nodes.
    #[test]
    fn post_filter_message_with_taints() {
        let mut tainted = node("n2", (4000, 1 << 30), 110);
        tainted.taints = std::sync::Arc::new(vec![taint(
            "CriticalAddonsOnly",
            "true",
            TaintEffect::NoSchedule,
        )]);
        let nodes = [
            with_pods(
                node("n1", (1000, 1 << 30), 110),
                vec![pod(1, LOW, (900, 0))],
            ),
            tainted.clone(),
            tainted,
        ];
        assert_eq!(
            run(&pod(100, LOW, (500, 0)), &nodes, &[]),
            unschedulable(
                "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint(s). preemption: 0/3 nodes are available: 1 No \
                 preemption victims found for incoming pod, 2 Preemption is not helpful for \
                 scheduling."
            )
        );
    }

    // ---- TestPodEligibleToPreemptOthers -----------------------------------------------------

    // TestPodEligibleToPreemptOthers "Pod with preemptionPolicy=Never".
    #[test]
    fn eligible_preemption_policy_never() {
        let nodes = [with_pods(one_pod_node("node1"), vec![pod(1, LOW, (0, 0))])];
        let never = with_constraints(
            pod(100, HIGH, (0, 0)),
            PlacementConstraints {
                preemption_never: true,
                ..Default::default()
            },
        );
        let mut s = Scheduler::new(None);
        assert_eq!(
            run_with(&mut s, &never, &nodes, &[], 0),
            unschedulable(
                "0/1 nodes are available: 1 Too many pods. preemption: not eligible due to \
                 preemptionPolicy=Never."
            )
        );
        assert!(!s.last_overrides_nomination());
    }

    // TestPodEligibleToPreemptOthers "Pod with nominated node": a lower-priority pod on the
    // nominated node is still terminating, so the pod waits.
    #[test]
    fn eligible_terminating_pod_on_nominated_node() {
        let p = pod(100, HIGH, (0, 0));
        let mut victim = pod(1, LOW, (0, 0));
        victim.terminating = true;
        let mut n1 = with_pods(one_pod_node("node1"), vec![victim]);
        n1.nominated = vec![p.clone()];
        let mut s = Scheduler::new(None);
        assert_eq!(
            run_with(&mut s, &p, &[n1], &[], 0),
            unschedulable(
                "0/1 nodes are available: 1 Too many pods. preemption: not eligible due to a \
                 terminating pod on the nominated node."
            )
        );
        assert!(!s.last_overrides_nomination());
    }

    // TestPodEligibleToPreemptOthers "Pod with nominated node, but the node is
    // UnschedulableAndUnresolvable": eligible again (here no other candidate exists).
    #[test]
    fn eligible_when_nominated_node_unresolvable() {
        let p = pod(100, HIGH, (0, 0));
        let mut victim = pod(1, LOW, (0, 0));
        victim.terminating = true;
        let mut n1 = with_pods(one_pod_node("node1"), vec![victim]);
        n1.nominated = vec![p.clone()];
        n1.unschedulable = true;
        assert_eq!(
            run(&p, &[n1], &[]),
            unschedulable(
                "0/1 nodes are available: 1 node(s) were unschedulable. preemption: 0/1 nodes \
                 are available: 1 Preemption is not helpful for scheduling."
            )
        );
    }

    // Terminating lower-priority pods free room in the dry run but are not deleted again
    // (preemption.go prepareCandidate skips victims with a deletion timestamp).
    #[test]
    fn terminating_victims_are_not_reported() {
        let mut t = pod(1, LOW, (0, 0));
        t.terminating = true;
        let nodes = [with_pods(one_pod_node("node1"), vec![t])];
        assert_eq!(
            run(&pod(100, HIGH, (0, 0)), &nodes, &[]),
            Decision::Preempt {
                node: 0,
                victims: vec![]
            }
        );
    }

    // TestDryRunPreemption "a pod that fits on both nodes when lower priority pods are preempted".
    #[test]
    fn dry_run_fits_on_both_nodes() {
        let p = pod(100, HIGH, LARGE);
        let n1 = vl_node("node1", vec![pod(1, MID, LARGE)]);
        let n2 = vl_node("node2", vec![pod(2, MID, LARGE)]);
        let c1 = select_victims_on_node(&p, &n1, &[], None).ok().unwrap();
        let c2 = select_victims_on_node(&p, &n2, &[], None).ok().unwrap();
        assert_eq!((victim_ids(&c1), c1.num_pdb_violations), (vec![1], 0));
        assert_eq!((victim_ids(&c2), c2.num_pdb_violations), (vec![2], 0));
        // Every criterion ties: the first candidate of the dry run (offset 0) wins.
        assert_eq!(
            run(&p, &[n1, n2], &[]),
            Decision::Preempt {
                node: 0,
                victims: vec![1]
            }
        );
    }

    // TestDryRunPreemption "a pod that would fit on the nodes, but other pods running are higher
    // priority, no preemption would happen".
    #[test]
    fn dry_run_higher_priority_pods_no_preemption() {
        let nodes = [
            vl_node("node1", vec![pod(1, MID, LARGE)]),
            vl_node("node2", vec![pod(2, MID, LARGE)]),
        ];
        assert_eq!(
            run(&pod(100, LOW, LARGE), &nodes, &[]),
            unschedulable(
                "0/2 nodes are available: 2 Insufficient cpu, 2 Insufficient memory. preemption: \
                 0/2 nodes are available: 2 No preemption victims found for incoming pod."
            )
        );
    }

    // TestDryRunPreemption "medium priority pod is preempted, but lower priority one stays as it
    // is small".
    #[test]
    fn dry_run_low_small_reprieved() {
        let p = pod(100, HIGH, LARGE);
        let n1 = vl_node("node1", vec![pod(11, LOW, SMALL), pod(12, MID, LARGE)]);
        let n2 = vl_node("node2", vec![pod(2, MID, LARGE)]);
        assert_eq!(
            victim_ids(&select_victims_on_node(&p, &n1, &[], None).ok().unwrap()),
            vec![12]
        );
        assert_eq!(
            victim_ids(&select_victims_on_node(&p, &n2, &[], None).ok().unwrap()),
            vec![2]
        );
    }

    // TestDryRunPreemption "mixed priority pods are preempted".
    #[test]
    fn dry_run_mixed_priority() {
        let p = pod(100, HIGH, LARGE);
        let n1 = vl_node(
            "node1",
            vec![
                pod(11, MID, SMALL),
                pod(12, LOW, SMALL),
                pod(13, MID, MEDIUM),
                pod(14, HIGH, SMALL),
            ],
        );
        let n2 = vl_node("node2", vec![pod(2, HIGH, LARGE)]);
        assert_eq!(
            victim_ids(&select_victims_on_node(&p, &n1, &[], None).ok().unwrap()),
            vec![12, 13]
        );
        assert!(matches!(
            select_victims_on_node(&p, &n2, &[], None),
            Err(DryRunFailure::NoVictims)
        ));
        assert_eq!(
            run(&p, &[n1, n2], &[]),
            Decision::Preempt {
                node: 0,
                victims: vec![13, 12]
            }
        );
    }

    // TestDryRunPreemption "mixed priority pods are preempted, pick later StartTime one when
    // priorities are equal".
    #[test]
    fn dry_run_later_started_victim_chosen() {
        let p = pod(100, HIGH, LARGE);
        let n1 = vl_node(
            "node1",
            vec![
                started(pod(11, LOW, SMALL), 5),
                started(pod(12, LOW, SMALL), 4),
                started(pod(13, MID, MEDIUM), 3),
                started(pod(14, HIGH, SMALL), 2),
            ],
        );
        let c = select_victims_on_node(&p, &n1, &[], None).ok().unwrap();
        // Most important first.
        assert_eq!(
            c.victims.iter().map(|v| v.id).collect::<Vec<_>>(),
            vec![13, 11]
        );
    }

    // TestDryRunPreemption "preemption with violation of same pdb".
    #[test]
    fn dry_run_pdb_violation() {
        let p = pod(100, HIGH, VERY_LARGE);
        let n1 = vl_node(
            "node1",
            vec![
                labeled(pod(11, MID, MEDIUM), "app", "foo"),
                labeled(pod(12, MID, MEDIUM), "app", "foo"),
            ],
        );
        let pdbs = [PdbInfo {
            namespace: "default".into(),
            selector: LabelSelector::from_labels(labels(&[("app", "foo")])),
            disruptions_allowed: 1,
        }];
        let c = select_victims_on_node(&p, &n1, &pdbs, None).ok().unwrap();
        assert_eq!((victim_ids(&c), c.num_pdb_violations), (vec![11, 12], 1));
        // A PDB in another namespace, or with an empty selector, matches nothing.
        let other = [
            PdbInfo {
                namespace: "kube-system".into(),
                ..pdbs[0].clone()
            },
            PdbInfo {
                selector: LabelSelector::default(),
                ..pdbs[0].clone()
            },
        ];
        let c = select_victims_on_node(&p, &n1, &other, None).ok().unwrap();
        assert_eq!((victim_ids(&c), c.num_pdb_violations), (vec![11, 12], 0));
    }
}
