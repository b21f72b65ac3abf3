//! NodeResourcesBalancedAllocation score
//! (`pkg/scheduler/framework/plugins/noderesources/balanced_allocation.go`).

use kscale_model::Resources;

use crate::scheduler::types::MAX_NODE_SCORE;

/// NodeResourcesBalancedAllocation score (`balancedResourceScorer`,
/// plugins/noderesources/balanced_allocation.go) for cpu and memory; `requested` already includes
/// the incoming pod (plain requests, not non-zero defaults: upstream `useRequested: true`).
pub fn balanced_allocation_score(requested: &Resources, allocatable: &Resources) -> i64 {
    let mut fractions = [0.0f64; 2];
    let mut n = 0;
    for (req, cap) in [
        (requested.cpu_milli, allocatable.cpu_milli),
        (requested.memory, allocatable.memory),
    ] {
        if cap == 0 {
            continue;
        }
        fractions[n] = (req as f64 / cap as f64).min(1.0);
        n += 1;
    }
    let std = if n == 2 {
        ((fractions[0] - fractions[1]) / 2.0).abs()
    } else {
        0.0
    };
    ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    // ---- noderesources/balanced_allocation_test.go (TestNodeResourcesBalancedAllocation) ----

    #[test]
    fn balanced_allocation_scores() {
        let r = |c, m| Resources::new(c, m);
        // "nothing scheduled, resources requested, differently sized nodes": (1-0.125)*100
        assert_eq!(
            balanced_allocation_score(&r(3000, 5000), &r(4000, 10000)),
            87
        );
        assert_eq!(
            balanced_allocation_score(&r(3000, 5000), &r(6000, 10000)),
            100
        );
        // "resources requested, pods scheduled with resources": (1-0.175)*100, (1-0.05)*100
        assert_eq!(
            balanced_allocation_score(&r(6000, 5000), &r(10000, 20000)),
            82
        );
        assert_eq!(
            balanced_allocation_score(&r(6000, 10000), &r(10000, 20000)),
            95
        );
        // Fractions are capped at 1; a resource with zero allocatable is skipped.
        assert_eq!(balanced_allocation_score(&r(8000, 0), &r(4000, 10000)), 50);
        assert_eq!(balanced_allocation_score(&r(8000, 0), &r(4000, 0)), 100);
    }
}
