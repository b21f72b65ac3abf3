//! NodeResourcesFit's `LeastAllocated` scoring strategy
//! (`pkg/scheduler/framework/plugins/noderesources/least_allocated.go`).

use kscale_model::Resources;

use crate::scheduler::types::MAX_NODE_SCORE;

/// `leastRequestedScore` (plugins/noderesources/least_allocated.go).
fn least_requested_score(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 || requested > capacity {
        return 0;
    }
    (capacity - requested) * MAX_NODE_SCORE / capacity
}

/// NodeResourcesFit `LeastAllocated` score with cpu and memory weight 1; `requested` already
/// includes the incoming pod. Resources with zero allocatable are skipped, as upstream.
pub fn least_allocated_score(requested: &Resources, allocatable: &Resources) -> i64 {
    let mut score = 0;
    let mut weights = 0;
    for (req, cap) in [
        (requested.cpu_milli, allocatable.cpu_milli),
        (requested.memory, allocatable.memory),
    ] {
        if cap == 0 {
            continue;
        }
        score += least_requested_score(req, cap);
        weights += 1;
    }
    if weights == 0 { 0 } else { score / weights }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::testing::*;
    use crate::scheduler::types::node_non_zero_requested;
    use crate::scheduler::*;

    // ---- noderesources/least_allocated_test.go (TestLeastAllocatedScoringStrategy) ----------

    #[test]
    fn least_allocated_scores() {
        let r = |c, m| Resources::new(c, m);
        // "nothing scheduled, resources requested, differently sized nodes"
        assert_eq!(least_allocated_score(&r(3000, 5000), &r(4000, 10000)), 37);
        assert_eq!(least_allocated_score(&r(3000, 5000), &r(6000, 10000)), 50);
        // "no resources requested, pods scheduled with resources" (node non-zero requested
        // 6000/0 and 6000/5000, pod without containers).
        assert_eq!(least_allocated_score(&r(6000, 0), &r(10000, 20000)), 70);
        assert_eq!(least_allocated_score(&r(6000, 5000), &r(10000, 20000)), 57);
        // "resources requested, pods scheduled with resources"
        assert_eq!(least_allocated_score(&r(6000, 5000), &r(10000, 20000)), 57);
        assert_eq!(least_allocated_score(&r(6000, 10000), &r(10000, 20000)), 45);
        // "... differently sized nodes"
        assert_eq!(least_allocated_score(&r(6000, 10000), &r(10000, 50000)), 60);
        // "requested resources exceed node capacity"
        assert_eq!(least_allocated_score(&r(6000, 0), &r(4000, 10000)), 50);
        assert_eq!(least_allocated_score(&r(6000, 5000), &r(4000, 10000)), 25);
        // "zero node resources, pods scheduled with resources"
        assert_eq!(least_allocated_score(&r(3000, 0), &r(0, 0)), 0);
    }

    // End to end: the emptier node wins (LeastAllocated + BalancedAllocation).
    #[test]
    fn schedule_prefers_least_allocated() {
        let nodes = [
            with_pods(
                node("n1", (4000, 8 << 30), 110),
                vec![pod(1, 0, (3000, 6 << 30))],
            ),
            with_pods(
                node("n2", (4000, 8 << 30), 110),
                vec![pod(2, 0, (1000, 2 << 30))],
            ),
        ];
        let mut s = Scheduler::new(None);
        assert_eq!(
            run_with(&mut s, &pod(100, 0, (500, 1 << 30)), &nodes, &[], 0),
            Decision::Bind { node: 1 }
        );
        assert_eq!(s.next_start_node_index(), 0);
    }

    // Zero-request pods are scored with 100m / 200MiB (non-zero defaults): a node full of
    // best-effort pods looks busier.
    #[test]
    fn schedule_non_zero_defaults() {
        let mi = 1 << 20;
        let nodes = [
            with_pods(
                node("n1", (1000, 1000 * mi), 110),
                (1..=5).map(|i| pod(i, 0, (0, 0))).collect(),
            ),
            node("n2", (1000, 1000 * mi), 110),
        ];
        assert_eq!(
            node_non_zero_requested(&nodes[0]),
            Resources {
                cpu_milli: 500,
                memory: 1000 * mi,
                pods: 5
            }
        );
        assert_eq!(
            run(&pod(100, 0, (0, 0)), &nodes, &[]),
            Decision::Bind { node: 1 }
        );
    }
}
