//! Filter statuses and the FailedScheduling message: upstream `framework.Status` codes
//! (`Unschedulable` vs. `UnschedulableAndUnresolvable`, `pkg/scheduler/framework/interface.go`)
//! and `FitError.Error` (`pkg/scheduler/framework/types.go`).

use std::collections::BTreeMap;

use super::plugins::inter_pod_affinity::{
    MSG_AFFINITY, MSG_ANTI_AFFINITY, MSG_EXISTING_ANTI_AFFINITY,
};
use super::plugins::node_affinity::MSG_NODE_AFFINITY;
use super::plugins::node_unschedulable::MSG_UNSCHEDULABLE;
use super::plugins::noderesources::{
    InsufficientResources, MSG_INSUFFICIENT_CPU, MSG_INSUFFICIENT_MEMORY, MSG_TOO_MANY_PODS,
};
use super::plugins::pod_topology_spread::{MSG_CONSTRAINTS_NOT_MATCH, MSG_NODE_LABEL_NOT_MATCH};
use super::plugins::taint_toleration::MSG_UNTOLERATED_TAINT;

/// Why a pod does not fit a node: the status of the first failing filter plugin, in upstream
/// plugin order (NodeUnschedulable, TaintToleration, NodeAffinity, NodeResourcesFit,
/// PodTopologySpread, InterPodAffinity).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unfit {
    /// The node is cordoned and the pod does not tolerate
    /// `node.kubernetes.io/unschedulable:NoSchedule` (`node(s) were unschedulable`).
    Unschedulable,
    /// The node is not ready and the pod does not tolerate the
    /// `node.kubernetes.io/not-ready:NoSchedule` taint the node lifecycle controller adds.
    NotReady,
    /// The node has an untolerated NoSchedule/NoExecute taint: index into `NodeInfo::taints`.
    UntoleratedTaint(usize),
    /// `nodeSelector` or required node affinity does not match.
    NodeAffinity,
    /// Not enough resources.
    Resources(InsufficientResources),
    /// A hard topology spread constraint would be broken (PodTopologySpread, Unschedulable).
    TopologySpread,
    /// The node lacks a hard topology spread constraint's key (PodTopologySpread,
    /// UnschedulableAndUnresolvable).
    TopologySpreadMissingLabel,
    /// The pod's required pod affinity is not satisfied (InterPodAffinity,
    /// UnschedulableAndUnresolvable).
    PodAffinity,
    /// The pod's required pod anti-affinity selects pods in the node's domain
    /// (InterPodAffinity, Unschedulable).
    PodAntiAffinity,
    /// A pod in the node's domain has required anti-affinity to the pod (InterPodAffinity,
    /// Unschedulable).
    ExistingPodsAntiAffinity,
}

impl Unfit {
    /// True for upstream code `Unschedulable` (preemption may help), false for
    /// `UnschedulableAndUnresolvable` (the node is never a preemption candidate).
    pub fn is_resolvable(&self) -> bool {
        match self {
            Unfit::Resources(r) => !r.unresolvable,
            Unfit::TopologySpread | Unfit::PodAntiAffinity | Unfit::ExistingPodsAntiAffinity => {
                true
            }
            _ => false,
        }
    }

    /// The upstream reason strings of this status, in upstream order (e.g. `Too many pods`,
    /// `Insufficient cpu`, `node(s) had untolerated taint(s)`).
    pub fn reasons(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.for_each_reason(|r| out.push(r.to_string()));
        out
    }

    pub(crate) fn for_each_reason(&self, mut f: impl FnMut(ReasonKey<'static>)) {
        match *self {
            Unfit::Unschedulable => f(ReasonKey::Static(MSG_UNSCHEDULABLE)),
            // A NotReady node carries the not-ready taint: the same reason.
            Unfit::NotReady | Unfit::UntoleratedTaint(_) => {
                f(ReasonKey::Static(MSG_UNTOLERATED_TAINT))
            }
            Unfit::NodeAffinity => f(ReasonKey::Static(MSG_NODE_AFFINITY)),
            Unfit::TopologySpread => f(ReasonKey::Static(MSG_CONSTRAINTS_NOT_MATCH)),
            Unfit::TopologySpreadMissingLabel => f(ReasonKey::Static(MSG_NODE_LABEL_NOT_MATCH)),
            Unfit::PodAffinity => f(ReasonKey::Static(MSG_AFFINITY)),
            Unfit::PodAntiAffinity => f(ReasonKey::Static(MSG_ANTI_AFFINITY)),
            Unfit::ExistingPodsAntiAffinity => f(ReasonKey::Static(MSG_EXISTING_ANTI_AFFINITY)),
            Unfit::Resources(r) => {
                if r.pods {
                    f(ReasonKey::Static(MSG_TOO_MANY_PODS));
                }
                if r.cpu {
                    f(ReasonKey::Static(MSG_INSUFFICIENT_CPU));
                }
                if r.memory {
                    f(ReasonKey::Static(MSG_INSUFFICIENT_MEMORY));
                }
            }
        }
    }
}

/// One failure reason, formatted lazily (keeps the message path allocation-light).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ReasonKey<'a> {
    Static(&'a str),
}

impl std::fmt::Display for ReasonKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReasonKey::Static(s) => f.write_str(s),
        }
    }
}

/// Adds `c` to the count of `r` in a short list of reason counts.
pub(crate) fn add_reason<'a>(keyed: &mut Vec<(ReasonKey<'a>, usize)>, r: ReasonKey<'a>, c: usize) {
    match keyed.iter_mut().find(|(k, _)| *k == r) {
        Some((_, n)) => *n += c,
        None => keyed.push((r, c)),
    }
}

/// Reason histogram rendered as upstream `FitError.Error()` does (pkg/scheduler/framework/types.go):
/// `0/N nodes are available: <count reason>, ... .` with the `"%v %v"` strings sorted as strings.
pub(crate) fn fit_error_message(num_all_nodes: usize, counts: &BTreeMap<String, usize>) -> String {
    let mut parts: Vec<String> = counts.iter().map(|(r, c)| format!("{c} {r}")).collect();
    parts.sort();
    let mut msg = format!("0/{num_all_nodes} nodes are available:");
    if !parts.is_empty() {
        msg.push(' ');
        msg.push_str(&parts.join(", "));
        msg.push('.');
    }
    msg
}
