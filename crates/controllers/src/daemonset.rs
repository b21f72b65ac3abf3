//! The DaemonSet controller's decisions (kubernetes `pkg/controller/daemon`, v1.37): which
//! nodes should run a daemon pod (`NodeShouldRunDaemonPod`, daemon_controller.go), the
//! tolerations every daemon pod gets (`util.AddOrUpdateDaemonPodTolerations`,
//! daemonset_util.go) and the node affinity that pins a pod to its node
//! (`util.ReplaceDaemonSetPodNodeNameNodeAffinity`); and a daemon pod's place on a node that
//! does not exist yet (the Cluster Autoscaler's template nodes, Karpenter's daemon overhead).

use std::sync::Arc;

use kscale_model::labels::Labels;
use kscale_model::{
    NodeSelectorRequirement, Resources, SelectorOp, SimTime, TaintEffect, Toleration, TolerationOp,
};

use crate::scheduler::{NodeInfo, PlacementConstraints, PodInfo, matches_node_affinity};

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

/// A DaemonSet's pod as the node autoscalers place it on a node that does not exist yet.
#[derive(Clone, Debug, PartialEq)]
pub struct DaemonPod {
    /// The DaemonSet's namespace.
    pub namespace: Arc<str>,
    /// The DaemonSet's name.
    pub name: Arc<str>,
    /// The pod template's labels.
    pub labels: Arc<Labels>,
    /// The pod's requests.
    pub requests: Resources,
    /// The pod's priority.
    pub priority: i32,
    /// The template's placement constraints, the daemon tolerations included
    /// ([`with_daemon_tolerations`]).
    pub constraints: Arc<PlacementConstraints>,
    /// The template's `spec.nodeName`.
    pub node_name: Option<String>,
}

/// The daemon pods that would run on `node` (`daemonset.GetDaemonSetPodsForNode`, which the
/// Cluster Autoscaler's template nodes carry): one per DaemonSet whose placement admits the
/// node ([`node_should_run`]), as the scheduler sees pods (ids counting down from
/// `u64::MAX`, names `<daemonset>-<node>`).
pub fn daemon_pods_for(daemons: &[DaemonPod], node: &NodeInfo) -> Vec<PodInfo> {
    daemons
        .iter()
        .enumerate()
        .filter(|(_, d)| node_should_run(&d.constraints, d.node_name.as_deref(), node).run)
        .map(|(i, d)| PodInfo {
            id: u64::MAX - i as u64,
            namespace: d.namespace.clone(),
            name: Arc::from(format!("{}-{}", d.name, node.name).as_str()),
            labels: d.labels.clone(),
            requests: d.requests,
            priority: d.priority,
            start_time: SimTime::ZERO,
            terminating: false,
            constraints: d.constraints.clone(),
            default_selector: None,
        })
        .collect()
}

/// `node` with the daemon pods that would run on it ([`daemon_pods_for`]).
pub fn with_daemon_pods(mut node: NodeInfo, daemons: &[DaemonPod]) -> NodeInfo {
    for p in daemon_pods_for(daemons, &node) {
        node.requested += p.requests;
        node.pods.push(p);
    }
    node
}

/// The requests of the daemon pods that would run on `node` (Karpenter's `daemonOverhead`).
pub fn daemon_overhead(daemons: &[DaemonPod], node: &NodeInfo) -> Resources {
    daemon_pods_for(daemons, node)
        .iter()
        .fold(Resources::ZERO, |a, p| a + p.requests)
}

/// The node a Karpenter pool's NodeClaims would become, as far as daemon pods tell: the
/// pool's labels and single-valued `In` requirements as labels, its taints.
pub fn pool_node(pool: &crate::karpenter::Pool) -> NodeInfo {
    let mut labels = pool.labels.clone();
    for r in &pool.requirements {
        if r.op == SelectorOp::In && r.values.len() == 1 {
            labels.insert(r.key.clone(), r.values[0].clone());
        }
    }
    NodeInfo {
        name: Arc::from(format!("{}-node", pool.name).as_str()),
        labels: labels.into(),
        taints: pool.taints.clone().into(),
        unschedulable: false,
        ready: true,
        allocatable: Resources::ZERO,
        requested: Resources::ZERO,
        pods: vec![],
        nominated: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::testing::{labels, node, taint};

    fn daemon(c: PlacementConstraints) -> DaemonPod {
        DaemonPod {
            namespace: "kube-system".into(),
            name: "logs".into(),
            labels: Arc::new(Labels::new()),
            requests: Resources {
                cpu_milli: 200,
                memory: 1 << 28,
                pods: 1,
            },
            priority: 2_000_001_000,
            constraints: Arc::new(c),
            node_name: None,
        }
    }

    /// `TestNodeShouldRunDaemonPod` (daemon_controller_test.go) cases: node selector, taints
    /// NoSchedule (not run, keep) and NoExecute (neither), tolerated taints, `nodeName`.
    #[test]
    fn should_run_follows_selectors_taints_and_node_name() {
        let run = ShouldRun {
            run: true,
            keep: true,
        };
        let mut n = node("n1", (4000, 1 << 33), 110);
        n.labels = Arc::new(labels(&[("pool", "a")]));
        let plain = PlacementConstraints {
            tolerations: with_daemon_tolerations(vec![], false),
            ..Default::default()
        };
        assert_eq!(node_should_run(&plain, None, &n), run);
        let mut selecting = plain.clone();
        selecting.node_selector = labels(&[("pool", "b")]);
        assert_eq!(
            node_should_run(&selecting, None, &n),
            ShouldRun {
                run: false,
                keep: false
            }
        );
        assert_eq!(
            node_should_run(&plain, Some("n2"), &n),
            ShouldRun {
                run: false,
                keep: false
            }
        );
        n.taints = Arc::new(vec![taint("dedicated", "x", TaintEffect::NoSchedule)]);
        assert_eq!(
            node_should_run(&plain, None, &n),
            ShouldRun {
                run: false,
                keep: true
            }
        );
        n.taints = Arc::new(vec![taint("dedicated", "x", TaintEffect::NoExecute)]);
        assert_eq!(
            node_should_run(&plain, None, &n),
            ShouldRun {
                run: false,
                keep: false
            }
        );
        // The daemon tolerations cover a cordoned node and the node conditions' taints.
        n.taints = Arc::new(vec![
            taint(
                "node.kubernetes.io/unschedulable",
                "",
                TaintEffect::NoSchedule,
            ),
            taint(
                "node.kubernetes.io/memory-pressure",
                "",
                TaintEffect::NoSchedule,
            ),
        ]);
        assert_eq!(node_should_run(&plain, None, &n), run);
        let mut tolerating = plain.clone();
        tolerating.tolerations.push(Toleration {
            key: String::new(),
            op: TolerationOp::Exists,
            value: String::new(),
            effect: None,
        });
        n.taints = Arc::new(vec![taint("dedicated", "x", TaintEffect::NoExecute)]);
        assert_eq!(node_should_run(&tolerating, None, &n), run);
    }

    #[test]
    fn daemon_tolerations_are_added_once_in_upstream_order() {
        let keys: Vec<String> =
            with_daemon_tolerations(daemon_tolerations(false)[..2].to_vec(), true)
                .into_iter()
                .map(|t| t.key)
                .collect();
        assert_eq!(
            keys,
            [
                "node.kubernetes.io/not-ready",
                "node.kubernetes.io/unreachable",
                "node.kubernetes.io/disk-pressure",
                "node.kubernetes.io/memory-pressure",
                "node.kubernetes.io/pid-pressure",
                "node.kubernetes.io/unschedulable",
                "node.kubernetes.io/network-unavailable"
            ]
        );
    }

    #[test]
    fn template_nodes_carry_the_daemon_pods_that_would_run_there() {
        let d = daemon(PlacementConstraints {
            tolerations: with_daemon_tolerations(vec![], false),
            ..Default::default()
        });
        let n = node("template", (2000, 1 << 33), 110);
        let t = with_daemon_pods(n.clone(), std::slice::from_ref(&d));
        assert_eq!(t.pods.len(), 1);
        assert_eq!(t.requested.cpu_milli, 200);
        assert_eq!(daemon_overhead(std::slice::from_ref(&d), &n).cpu_milli, 200);
        let mut tainted = n;
        tainted.taints = Arc::new(vec![taint("gpu", "", TaintEffect::NoSchedule)]);
        assert!(
            with_daemon_pods(tainted.clone(), std::slice::from_ref(&d))
                .pods
                .is_empty()
        );
        assert_eq!(daemon_overhead(&[d], &tainted), Resources::ZERO);
    }
}
