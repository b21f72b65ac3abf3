//! NodeUnschedulable filter
//! (`pkg/scheduler/framework/plugins/nodeunschedulable/node_unschedulable.go`).

use kscale_model::TaintEffect;

use super::taint_toleration::tolerated;
use crate::scheduler::diagnosis::Unfit;
use crate::scheduler::types::{NodeInfo, PlacementConstraints};

/// Taint key a pod must tolerate (effect NoSchedule) to land on a cordoned node
/// (`v1.TaintNodeUnschedulable`).
pub const TAINT_NODE_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";

/// `ErrReasonUnschedulable`.
pub(crate) const MSG_UNSCHEDULABLE: &str = "node(s) were unschedulable";

/// `Filter`: a cordoned node fails unless the pod tolerates
/// `node.kubernetes.io/unschedulable:NoSchedule`.
pub(crate) fn filter(c: &PlacementConstraints, node: &NodeInfo) -> Result<(), Unfit> {
    // NodeUnschedulable (plugins/nodeunschedulable/node_unschedulable.go).
    if node.unschedulable
        && !tolerated(
            &c.tolerations,
            TAINT_NODE_UNSCHEDULABLE,
            "",
            TaintEffect::NoSchedule,
        )
    {
        return Err(Unfit::Unschedulable);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::testing::*;
    use crate::scheduler::*;
    use kscale_model::TolerationOp;

    // ---- nodeunschedulable/node_unschedulable_test.go + not-ready -------------------------

    // TestNodeUnschedulable.
    #[test]
    fn node_unschedulable_filter() {
        let mut n = node("n", (1000, 1000), 10);
        assert_eq!(fits(&pod(1, 0, (0, 0)), &n), Ok(()));
        n.unschedulable = true;
        let e = fits(&pod(1, 0, (0, 0)), &n).unwrap_err();
        assert_eq!(e.reasons(), vec!["node(s) were unschedulable"]);
        let tolerant = with_constraints(
            pod(1, 0, (0, 0)),
            PlacementConstraints {
                tolerations: vec![tol(
                    TAINT_NODE_UNSCHEDULABLE,
                    TolerationOp::Exists,
                    "",
                    Some(TaintEffect::NoSchedule),
                )],
                ..Default::default()
            },
        );
        assert_eq!(fits(&tolerant, &n), Ok(()));
    }
}
