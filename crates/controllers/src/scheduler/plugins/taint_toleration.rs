//! TaintToleration (`pkg/scheduler/framework/plugins/tainttoleration/taint_toleration.go`): the
//! filter on NoSchedule/NoExecute taints (and on the not-ready taint of not-ready nodes), and
//! the score on PreferNoSchedule taints, normalized by `helper.DefaultNormalizeScore`
//! (`plugins/helper/normalize_score.go`).

use kscale_model::{TaintEffect, Toleration, TolerationOp};

use crate::scheduler::diagnosis::Unfit;
use crate::scheduler::types::{MAX_NODE_SCORE, NodeInfo, PlacementConstraints};

/// Taint the node lifecycle controller puts on not-ready nodes (`v1.TaintNodeNotReady`).
pub const TAINT_NODE_NOT_READY: &str = "node.kubernetes.io/not-ready";

/// tainttoleration `Filter` (v1.37: taints are no longer named in the message).
pub(crate) const MSG_UNTOLERATED_TAINT: &str = "node(s) had untolerated taint(s)";

/// `v1helper.TolerationsTolerateTaint` for a taint given by parts (no allocation).
pub(crate) fn tolerated(tols: &[Toleration], key: &str, value: &str, effect: TaintEffect) -> bool {
    tols.iter().any(|t| {
        t.effect.is_none_or(|e| e == effect)
            && (t.key.is_empty() || t.key == key)
            && match t.op {
                TolerationOp::Exists => true,
                TolerationOp::Equal => t.value == value,
            }
    })
}

/// `Filter`: the first NoSchedule/NoExecute taint no toleration tolerates; then, for a node
/// with `ready == false` not yet carrying it, the not-ready taint.
pub(crate) fn filter(c: &PlacementConstraints, node: &NodeInfo) -> Result<(), Unfit> {
    // TaintToleration filter (plugins/tainttoleration/taint_toleration.go): the first
    // NoSchedule/NoExecute taint that no toleration tolerates.
    for (i, t) in node.taints.iter().enumerate() {
        if t.effect != TaintEffect::PreferNoSchedule
            && !c.tolerations.iter().any(|tol| tol.tolerates(t))
        {
            return Err(Unfit::UntoleratedTaint(i));
        }
    }
    if !node.ready
        && !node.taints.iter().any(|t| t.key == TAINT_NODE_NOT_READY)
        && !tolerated(
            &c.tolerations,
            TAINT_NODE_NOT_READY,
            "",
            TaintEffect::NoSchedule,
        )
    {
        return Err(Unfit::NotReady);
    }
    Ok(())
}

/// TaintToleration raw score: the number of PreferNoSchedule taints not tolerated by the pod's
/// tolerations whose effect is empty or PreferNoSchedule (`countIntolerableTaintsPreferNoSchedule`).
pub(crate) fn intolerable_prefer_no_schedule(tols: &[Toleration], node: &NodeInfo) -> i64 {
    node.taints
        .iter()
        .filter(|t| t.effect == TaintEffect::PreferNoSchedule)
        .filter(|t| {
            !tols.iter().any(|tol| {
                tol.effect
                    .is_none_or(|e| e == TaintEffect::PreferNoSchedule)
                    && tol.tolerates(t)
            })
        })
        .count() as i64
}

/// `helper.DefaultNormalizeScore(MaxNodeScore, reverse=true, ...)` for one raw score.
pub(crate) fn normalize_reversed(raw: i64, max: i64) -> i64 {
    if max == 0 {
        MAX_NODE_SCORE
    } else {
        MAX_NODE_SCORE - MAX_NODE_SCORE * raw / max
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::testing::*;
    use crate::scheduler::*;
    use kscale_model::TaintEffect;

    // ---- tainttoleration/taint_toleration_test.go -------------------------------------------

    // TestTaintTolerationFilter.
    #[test]
    fn taint_toleration_filter() {
        let dedicated = |v: &str, e| {
            let mut n = node("n", (1000, 1000), 10);
            n.taints = std::sync::Arc::new(vec![taint("dedicated", v, e)]);
            n
        };
        let p = |tols: Vec<Toleration>| {
            with_constraints(
                pod(100, 0, (0, 0)),
                PlacementConstraints {
                    tolerations: tols,
                    ..Default::default()
                },
            )
        };
        let n = dedicated("user1", TaintEffect::NoSchedule);
        // "A pod having no tolerations can't be scheduled onto a node with nonempty taints"
        let e = fits(&p(vec![]), &n).unwrap_err();
        assert_eq!(e, Unfit::UntoleratedTaint(0));
        assert!(!e.is_resolvable());
        assert_eq!(e.reasons(), vec!["node(s) had untolerated taint(s)"]);
        // "A pod which can be scheduled on a dedicated node assigned to user1 with effect NoSchedule"
        let t1 = tol(
            "dedicated",
            TolerationOp::Equal,
            "user1",
            Some(TaintEffect::NoSchedule),
        );
        assert_eq!(fits(&p(vec![t1]), &n), Ok(()));
        // "A pod which can't be scheduled on a dedicated node assigned to user2 with effect NoSchedule"
        let t2 = tol(
            "dedicated",
            TolerationOp::Equal,
            "user2",
            Some(TaintEffect::NoSchedule),
        );
        assert!(fits(&p(vec![t2]), &n).is_err());
        // "A pod can be scheduled onto the node, with a toleration uses operator Exists that
        // tolerates the taints on the node"
        let ex = tol(
            "dedicated",
            TolerationOp::Exists,
            "",
            Some(TaintEffect::NoSchedule),
        );
        assert_eq!(fits(&p(vec![ex]), &n), Ok(()));
        // "... keys and values match the taint on the node, but (non-empty) effect doesn't match"
        let pe = tol(
            "dedicated",
            TolerationOp::Equal,
            "user1",
            Some(TaintEffect::PreferNoSchedule),
        );
        assert!(fits(&p(vec![pe]), &n).is_err());
        // "... the effect of toleration is empty, and the effect of taint is NoSchedule"
        let any = tol("dedicated", TolerationOp::Equal, "user1", None);
        assert_eq!(fits(&p(vec![any]), &n), Ok(()));
        // "... the effect of taint is PreferNoSchedule" (not a filter)
        assert_eq!(
            fits(
                &p(vec![]),
                &dedicated("user1", TaintEffect::PreferNoSchedule)
            ),
            Ok(())
        );
        // NoExecute taints are filtered too.
        assert!(fits(&p(vec![]), &dedicated("user1", TaintEffect::NoExecute)).is_err());
    }

    // TestTaintTolerationScore "the more intolerable taints a node has, the lower score it
    // gets" and "only taints and tolerations that have effect PreferNoSchedule are checked".
    #[test]
    fn taint_toleration_score() {
        let mut n1 = node("n1", (1000, 1000), 10);
        let mut n2 = n1.clone();
        let mut n3 = n1.clone();
        n2.taints = std::sync::Arc::new(vec![taint("foo", "bar", TaintEffect::PreferNoSchedule)]);
        n3.taints = std::sync::Arc::new(vec![
            taint("foo", "bar", TaintEffect::PreferNoSchedule),
            taint("cpu-type", "arm64", TaintEffect::PreferNoSchedule),
        ]);
        let raw: Vec<i64> = [&n1, &n2, &n3]
            .iter()
            .map(|n| intolerable_prefer_no_schedule(&[], n))
            .collect();
        assert_eq!(raw, vec![0, 1, 2]);
        let norm: Vec<i64> = raw.iter().map(|&r| normalize_reversed(r, 2)).collect();
        assert_eq!(norm, vec![100, 50, 0]);
        assert_eq!(normalize_reversed(0, 0), 100);
        // A NoSchedule toleration does not tolerate a PreferNoSchedule taint for scoring.
        let ns = tol(
            "foo",
            TolerationOp::Equal,
            "bar",
            Some(TaintEffect::NoSchedule),
        );
        assert_eq!(
            intolerable_prefer_no_schedule(std::slice::from_ref(&ns), &n2),
            1
        );
        let pns = tol(
            "foo",
            TolerationOp::Equal,
            "bar",
            Some(TaintEffect::PreferNoSchedule),
        );
        assert_eq!(intolerable_prefer_no_schedule(&[pns], &n2), 0);
        // End to end: the untainted node wins despite being a bit fuller.
        n1 = with_pods(n1, vec![pod(1, 0, (100, 100))]);
        assert_eq!(
            run(&pod(100, 0, (10, 10)), &[n2, n1, n3], &[]),
            Decision::Bind { node: 1 }
        );
    }

    #[test]
    fn not_ready_node_filtered() {
        let mut n = node("n", (1000, 1000), 10);
        n.ready = false;
        let e = fits(&pod(1, 0, (0, 0)), &n).unwrap_err();
        assert_eq!(e, Unfit::NotReady);
        assert_eq!(e.reasons(), vec!["node(s) had untolerated taint(s)"]);
        let tolerant = with_constraints(
            pod(1, 0, (0, 0)),
            PlacementConstraints {
                tolerations: vec![tol("", TolerationOp::Exists, "", None)],
                ..Default::default()
            },
        );
        assert_eq!(fits(&tolerant, &n), Ok(()));
    }
}
