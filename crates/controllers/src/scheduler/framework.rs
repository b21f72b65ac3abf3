//! Running the filter plugins for a pod on one node, as upstream's framework runtime does
//! (`pkg/scheduler/framework/runtime/framework.go`: `RunFilterPlugins`,
//! `RunFilterPluginsWithNominatedPods`, `addGENominatedPods`), in the default plugin order:
//! NodeUnschedulable, TaintToleration, NodeAffinity, NodeResourcesFit, PodTopologySpread,
//! InterPodAffinity.
//!
//! The public `fits*` functions are what the node autoscalers' simulations run: every plugin
//! but PodTopologySpread, whose PreFilter state only a scheduling cycle computes, and of
//! InterPodAffinity the terms over `kubernetes.io/hostname`, checked against the node's own
//! pods.

use kscale_model::Resources;

use super::diagnosis::Unfit;
use super::node_table::NodeList;
use super::plugins::inter_pod_affinity::filtering as affinity;
use super::plugins::noderesources::filter_resources;
use super::plugins::pod_topology_spread::filtering::{self as spread, PreFilterState};
use super::plugins::{node_affinity, node_unschedulable, taint_toleration};
use super::types::{NodeInfo, PlacementConstraints, PodInfo, node_used, pod_usage};

/// Sum of the node's nominated pods that upstream `addGENominatedPods` adds when filtering `pod`:
/// priority >= the pod's priority, and not the pod itself.
pub(crate) fn nominated_usage(pod: &PodInfo, node: &NodeInfo) -> Resources {
    let mut r = Resources::ZERO;
    for p in &node.nominated {
        if p.priority >= pod.priority && p.id != pod.id {
            r += pod_usage(p);
        }
    }
    r
}

/// The non-resource filters: NodeUnschedulable, TaintToleration (incl. not-ready), NodeAffinity.
fn filter_static(pod: &PodInfo, node: &NodeInfo) -> Result<(), Unfit> {
    let c = &*pod.constraints;
    node_unschedulable::filter(c, node)?;
    taint_toleration::filter(c, node)?;
    node_affinity::filter(c, node)
}

/// All filters with an explicit view of the node's used resources.
pub(crate) fn filter_with_used(
    pod: &PodInfo,
    node: &NodeInfo,
    used: &Resources,
) -> Result<(), Unfit> {
    filter_static(pod, node)?;
    filter_resources(&pod.requests, used, &node.allocatable)
}

/// The PreFilter states of one scheduling cycle (upstream's `CycleState`) of the plugins that
/// keep one: PodTopologySpread (a pod with hard constraints) and InterPodAffinity (a pod with
/// required terms, or one that existing pods' anti-affinity selects).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct CycleState<'n> {
    pub(crate) spread: Option<PreFilterState<'n>>,
    pub(crate) affinity: Option<affinity::PreFilterState<'n>>,
}

impl<'n> CycleState<'n> {
    /// Both plugins' PreFilter; `None` when both are skipped. `with_anti_affinity`: the nodes
    /// holding pods with required anti-affinity, when the caller keeps that list.
    pub(crate) fn pre_filter<N: NodeList<'n> + ?Sized>(
        pod: &PodInfo,
        nodes: &N,
        with_anti_affinity: Option<&[usize]>,
    ) -> Option<CycleState<'n>> {
        let s = CycleState {
            spread: spread::pre_filter(pod, nodes),
            affinity: affinity::pre_filter(pod, nodes, with_anti_affinity),
        };
        (s.spread.is_some() || s.affinity.is_some()).then_some(s)
    }

    /// AddPod (`delta` 1) / RemovePod (-1) of both plugins: `updated`, on `node`, joins or
    /// leaves the cycle of `pod`.
    pub(crate) fn update_with_pod(
        &mut self,
        updated: &PodInfo,
        pod: &PodInfo,
        node: &'n NodeInfo,
        delta: i64,
    ) {
        if let Some(s) = self.spread.as_mut() {
            s.update_with_pod(updated, pod, node, delta);
        }
        if let Some(s) = self.affinity.as_mut() {
            s.update_with_pod(updated, pod, node, delta);
        }
    }

    /// The plugins' filters, in upstream order.
    fn filter(&self, pod: &PodInfo, node: &NodeInfo) -> Result<(), Unfit> {
        if let Some(s) = &self.spread {
            spread::filter(pod, node, s)?;
        }
        if let Some(s) = &self.affinity {
            affinity::filter(pod, node, s)?;
        }
        Ok(())
    }
}

/// The stateful filters as `RunFilterPluginsWithNominatedPods` runs them: with the node's
/// nominated pods of priority >= the pod's added to the states (AddPod), then, if any were,
/// without them.
fn filter_stateful<'n>(pod: &PodInfo, node: &'n NodeInfo, s: &CycleState<'n>) -> Result<(), Unfit> {
    let mut with_nominated: Option<CycleState<'n>> = None;
    for p in &node.nominated {
        if p.priority >= pod.priority && p.id != pod.id {
            with_nominated
                .get_or_insert_with(|| s.clone())
                .update_with_pod(p, pod, node, 1);
        }
    }
    if let Some(w) = &with_nominated {
        w.filter(pod, node)?;
    }
    s.filter(pod, node)
}

/// All filters, the stateful ones included when the cycle has a state, with `used` the
/// node's requests as the caller counts them.
pub(crate) fn filter_all<'n>(
    pod: &PodInfo,
    node: &'n NodeInfo,
    used: &Resources,
    state: Option<&CycleState<'n>>,
) -> Result<(), Unfit> {
    filter_with_used(pod, node, used)?;
    match state {
        Some(s) => filter_stateful(pod, node, s),
        None => Ok(()),
    }
}

/// [`fits_with_nominated`] with the stateful plugins' state of the cycle.
pub(crate) fn fits_in_cycle<'n>(
    pod: &PodInfo,
    node: &'n NodeInfo,
    state: Option<&CycleState<'n>>,
) -> Result<(), Unfit> {
    let used = node_used(node) + nominated_usage(pod, node);
    filter_all(pod, node, &used, state)
}

/// A simulation's filters: all stateless plugins, then InterPodAffinity's terms over
/// `kubernetes.io/hostname` read from the node's own pods
/// ([`affinity::filter_on_node`]).
fn filter_simulated(pod: &PodInfo, node: &NodeInfo, used: &Resources) -> Result<(), Unfit> {
    filter_with_used(pod, node, used)?;
    affinity::filter_on_node(pod, node.pods.iter())
}

/// The queueing hints of PodTopologySpread and InterPodAffinity for an assigned pod's `Add`
/// (v1.37 `isSchedulableAfterAssignedPodChange` of both plugins): whether a pod that failed
/// for want of other pods (`pending`) may now fit because `bound` was bound: `bound` matches
/// all of its required affinity terms, or (in its namespace) one of its topology spread
/// constraints' selectors.
pub fn schedulable_after_pod_bound(pending: &PodInfo, bound: &PodInfo) -> bool {
    let c = &pending.constraints;
    super::plugins::inter_pod_affinity::matches_all(
        &c.pod_affinity.required_affinity,
        &pending.namespace,
        bound,
    ) || (pending.namespace == bound.namespace
        && c.topology_spread.iter().any(|s| s.selects(&bound.labels)))
}

/// Whether a pod's scheduling depends on other pods being bound (required pod affinity, or
/// hard topology spread constraints): such a pod, once unschedulable, waits for
/// [`schedulable_after_pod_bound`] as well as for capacity.
pub fn waits_for_pods(c: &PlacementConstraints) -> bool {
    !c.pod_affinity.required_affinity.is_empty()
        || c.topology_spread
            .iter()
            .any(|s| s.when_unsatisfiable == super::WhenUnsatisfiable::DoNotSchedule)
}

/// Whether a pod with `constraints` may run on `node` as its `nodeSelector` and required node
/// affinity tell (the NodeAffinity plugin's filter).
pub fn matches_node_affinity(constraints: &PlacementConstraints, node: &NodeInfo) -> bool {
    node_affinity::filter(constraints, node).is_ok()
}

/// Whether `pod` may join `pods` on one node as far as InterPodAffinity's terms over
/// `kubernetes.io/hostname` tell (the check of a simulation's [`fits`], for a node that exists
/// only as the pods planned on it, e.g. a Karpenter NodeClaim).
pub fn fits_beside(pod: &PodInfo, pods: &[&PodInfo]) -> Result<(), Unfit> {
    affinity::filter_on_node(pod, pods.iter().copied())
}

/// Runs the default filter plugins for `pod` on `node` as they are (bound pods only; nominated
/// pods ignored), like upstream `RunFilterPlugins`. Returns the first failing plugin's status.
///
/// Plugins, in upstream order: NodeUnschedulable, TaintToleration (NoSchedule/NoExecute taints,
/// plus the not-ready taint for nodes with `ready == false`), NodeAffinity (nodeSelector and
/// required terms), NodeResourcesFit (`pods`, `cpu`, `memory`).
pub fn fits(pod: &PodInfo, node: &NodeInfo) -> Result<(), Unfit> {
    filter_simulated(pod, node, &node_used(node))
}

/// Like [`fits`], with `extra` CPU and memory added to the node's requests (its pod count
/// unchanged): the trial placements of a simulation, without copying the node.
pub fn fits_with_extra(pod: &PodInfo, node: &NodeInfo, extra: &Resources) -> Result<(), Unfit> {
    let mut used = node_used(node);
    used.cpu_milli += extra.cpu_milli;
    used.memory += extra.memory;
    filter_simulated(pod, node, &used)
}

/// Like [`fits`], but also counts the node's nominated pods with priority >= the pod's (other
/// than the pod itself) as if bound: upstream `RunFilterPluginsWithNominatedPods`, which is
/// what [`Scheduler::schedule`](crate::scheduler::Scheduler::schedule) uses.
pub fn fits_with_nominated(pod: &PodInfo, node: &NodeInfo) -> Result<(), Unfit> {
    let used = node_used(node) + nominated_usage(pod, node);
    filter_simulated(pod, node, &used)
}

/// Whether `pod` would fit `node` if every bound pod with a strictly lower priority were gone
/// (nominated pods of priority >= the pod's still count): the first check of upstream
/// `SelectVictimsOnNode`, also what autoscalers use to decide if a pod needs new capacity.
pub fn fits_ignoring_lower_priority(pod: &PodInfo, node: &NodeInfo) -> Result<(), Unfit> {
    let mut used = node_used(node) + nominated_usage(pod, node);
    for p in &node.pods {
        if p.priority < pod.priority {
            used -= pod_usage(p);
        }
    }
    filter_simulated(pod, node, &used)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::testing::*;

    // fits_ignoring_lower_priority: the first SelectVictimsOnNode check.
    #[test]
    fn fits_ignoring_lower_priority_pods() {
        let n = with_pods(
            node("n", (1000, 1000), 32),
            vec![pod(1, HIGH, (500, 0)), pod(2, LOW, (400, 0))],
        );
        assert!(fits(&pod(100, MID, (300, 0)), &n).is_err());
        assert_eq!(
            fits_ignoring_lower_priority(&pod(100, MID, (300, 0)), &n),
            Ok(())
        );
        assert!(fits_ignoring_lower_priority(&pod(100, MID, (600, 0)), &n).is_err());
        assert!(fits_ignoring_lower_priority(&pod(100, LOW, (300, 0)), &n).is_err());
    }

    // ---- nominated pods (framework_test.go TestRunFilterPluginsWithNominatedPods) -----------

    #[test]
    fn nominated_pods_reserve_room() {
        let p = pod(100, MID, (0, 0));
        let mut n = node("node1", (1000, 1000), 1);
        // A nominated pod of equal or higher priority takes the only slot.
        n.nominated = vec![pod(7, MID, (0, 0))];
        assert_eq!(fits(&p, &n), Ok(()));
        assert_eq!(
            fits_with_nominated(&p, &n).unwrap_err().reasons(),
            vec!["Too many pods"]
        );
        // A lower-priority nominated pod does not count.
        n.nominated = vec![pod(7, LOW, (0, 0))];
        assert_eq!(fits_with_nominated(&p, &n), Ok(()));
        // The pod itself does not count.
        n.nominated = vec![p.clone()];
        assert_eq!(fits_with_nominated(&p, &n), Ok(()));
    }
}
