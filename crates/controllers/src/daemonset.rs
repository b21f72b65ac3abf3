//! The DaemonSet controller's decisions (kubernetes `pkg/controller/daemon`, v1.37): which
//! nodes should run a daemon pod (`NodeShouldRunDaemonPod`, daemon_controller.go), the
//! tolerations every daemon pod gets (`util.AddOrUpdateDaemonPodTolerations`,
//! daemonset_util.go) and the node affinity that pins a pod to its node
//! (`util.ReplaceDaemonSetPodNodeNameNodeAffinity`); and a daemon pod's place on a node that
//! does not exist yet (the Cluster Autoscaler's template nodes, Karpenter's daemon overhead).

use kscale_model::{NodeSelectorRequirement, SelectorOp, TaintEffect, Toleration, TolerationOp};

use crate::scheduler::{NodeInfo, PlacementConstraints, matches_node_affinity};

/// The label a daemon pod carries with its DaemonSet's template hash
/// (`apps.DefaultDaemonSetUniqueLabelKey`).
pub const REVISION_HASH_LABEL: &str = "controller-revision-hash";
/// The label a daemon pod carries with its DaemonSet's generation
/// (`extensions.DaemonSetTemplateGenerationKey`).
pub const TEMPLATE_GENERATION_LABEL: &str = "pod-template-generation";

/// The tolerations the controller adds to every daemon pod, in upstream's order: not-ready and
/// unreachable (NoExecute), disk, memory and PID pressure and unschedulable (NoSchedule), and
/// network-unavailable (NoSchedule) for a pod on the host network. Each is added unless the
/// pod has an equal one.
pub fn daemon_tolerations(host_network: bool) -> Vec<Toleration> {
    let mut keys = vec![
        ("node.kubernetes.io/not-ready", TaintEffect::NoExecute),
        ("node.kubernetes.io/unreachable", TaintEffect::NoExecute),
        ("node.kubernetes.io/disk-pressure", TaintEffect::NoSchedule),
        (
            "node.kubernetes.io/memory-pressure",
            TaintEffect::NoSchedule,
        ),
        ("node.kubernetes.io/pid-pressure", TaintEffect::NoSchedule),
        ("node.kubernetes.io/unschedulable", TaintEffect::NoSchedule),
    ];
    if host_network {
        keys.push((
            "node.kubernetes.io/network-unavailable",
            TaintEffect::NoSchedule,
        ));
    }
    keys.into_iter()
        .map(|(key, effect)| Toleration {
            key: key.into(),
            op: TolerationOp::Exists,
            value: String::new(),
            effect: Some(effect),
        })
        .collect()
}

/// `tolerations` with the daemon tolerations appended (those not already there).
pub fn with_daemon_tolerations(
    mut tolerations: Vec<Toleration>,
    host_network: bool,
) -> Vec<Toleration> {
    for t in daemon_tolerations(host_network) {
        if !tolerations.contains(&t) {
            tolerations.push(t);
        }
    }
    tolerations
}

/// The node affinity term that pins a daemon pod to `node`: `matchFields` `metadata.name In
/// [node]`, replacing the template's required terms (the controller checked those first).
pub fn pin_to_node(node: &str) -> NodeSelectorRequirement {
    NodeSelectorRequirement {
        key: "metadata.name".into(),
        op: SelectorOp::In,
        values: vec![node.into()],
    }
}

/// Where a DaemonSet stands with a node (`NodeShouldRunDaemonPod`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShouldRun {
    /// A daemon pod should be created there if none exists.
    pub run: bool,
    /// A daemon pod already there may keep running.
    pub keep: bool,
}

/// `NodeShouldRunDaemonPod` for a daemon pod with `constraints` (the template's, the daemon
/// tolerations added; [`with_daemon_tolerations`]) and the template's `spec.nodeName`: a pod
/// runs where its nodeSelector and required node affinity match and every NoSchedule and
/// NoExecute taint is tolerated; where only a NoSchedule taint is untolerated, a running pod
/// stays.
pub fn node_should_run(
    constraints: &PlacementConstraints,
    node_name: Option<&str>,
    node: &NodeInfo,
) -> ShouldRun {
    const NO: ShouldRun = ShouldRun {
        run: false,
        keep: false,
    };
    if node_name.is_some_and(|n| n != &*node.name) {
        return NO;
    }
    if !matches_node_affinity(constraints, node) {
        return NO;
    }
    let untolerated = |effects: &[TaintEffect]| {
        node.taints.iter().any(|t| {
            effects.contains(&t.effect)
                && !constraints.tolerations.iter().any(|tol| tol.tolerates(t))
        })
    };
    if untolerated(&[TaintEffect::NoSchedule, TaintEffect::NoExecute]) {
        return ShouldRun {
            run: false,
            keep: !untolerated(&[TaintEffect::NoExecute]),
        };
    }
    ShouldRun {
        run: true,
        keep: true,
    }
}
