//! Running the filter plugins for a pod on one node, as upstream's framework runtime does
//! (`pkg/scheduler/framework/runtime/framework.go`: `RunFilterPlugins`,
//! `RunFilterPluginsWithNominatedPods`, `addGENominatedPods`), in the default plugin order:
//! NodeUnschedulable, TaintToleration, NodeAffinity, NodeResourcesFit, PodTopologySpread.
//!
//! The public `fits*` functions are what the node autoscalers' simulations run: every plugin
//! but PodTopologySpread, whose PreFilter state only a scheduling cycle computes.

use kscale_model::Resources;

use super::diagnosis::Unfit;
use super::plugins::noderesources::filter_resources;
use super::plugins::pod_topology_spread::filtering::{self as spread, PreFilterState};
use super::plugins::{node_affinity, node_unschedulable, taint_toleration};
use super::types::{NodeInfo, PodInfo, node_used, pod_usage};

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

/// PodTopologySpread's filter as `RunFilterPluginsWithNominatedPods` runs it: with the node's
/// nominated pods of priority >= the pod's added to the counts (AddPod), then, if any were,
/// without them.
pub(crate) fn filter_spread<'n>(
    pod: &PodInfo,
    node: &'n NodeInfo,
    s: &PreFilterState<'n>,
) -> Result<(), Unfit> {
    let mut with_nominated: Option<PreFilterState<'n>> = None;
    for p in &node.nominated {
        if p.priority >= pod.priority && p.id != pod.id {
            with_nominated
                .get_or_insert_with(|| s.clone())
                .update_with_pod(p, pod, node, 1);
        }
    }
    if let Some(w) = &with_nominated {
        spread::filter(pod, node, w)?;
    }
    spread::filter(pod, node, s)
}

/// All filters, PodTopologySpread included when the pod has hard constraints (`spread`), with
/// `used` the node's requests as the caller counts them.
pub(crate) fn filter_all<'n>(
    pod: &PodInfo,
    node: &'n NodeInfo,
    used: &Resources,
    spread: Option<&PreFilterState<'n>>,
) -> Result<(), Unfit> {
    filter_with_used(pod, node, used)?;
    match spread {
        Some(s) => filter_spread(pod, node, s),
        None => Ok(()),
    }
}

/// [`fits_with_nominated`] with PodTopologySpread's state of the cycle.
pub(crate) fn fits_in_cycle<'n>(
    pod: &PodInfo,
    node: &'n NodeInfo,
    spread: Option<&PreFilterState<'n>>,
) -> Result<(), Unfit> {
    let used = node_used(node) + nominated_usage(pod, node);
    filter_all(pod, node, &used, spread)
}

/// Runs the default filter plugins for `pod` on `node` as they are (bound pods only; nominated
/// pods ignored), like upstream `RunFilterPlugins`. Returns the first failing plugin's status.
///
/// Plugins, in upstream order: NodeUnschedulable, TaintToleration (NoSchedule/NoExecute taints,
/// plus the not-ready taint for nodes with `ready == false`), NodeAffinity (nodeSelector and
/// required terms), NodeResourcesFit (`pods`, `cpu`, `memory`).
pub fn fits(pod: &PodInfo, node: &NodeInfo) -> Result<(), Unfit> {
    filter_with_used(pod, node, &node_used(node))
}

/// Like [`fits`], with `extra` CPU and memory added to the node's requests (its pod count
/// unchanged): the trial placements of a simulation, without copying the node.
pub fn fits_with_extra(pod: &PodInfo, node: &NodeInfo, extra: &Resources) -> Result<(), Unfit> {
    let mut used = node_used(node);
    used.cpu_milli += extra.cpu_milli;
    used.memory += extra.memory;
    filter_with_used(pod, node, &used)
}

/// Like [`fits`], but also counts the node's nominated pods with priority >= the pod's (other
/// than the pod itself) as if bound: upstream `RunFilterPluginsWithNominatedPods`, which is
/// what [`Scheduler::schedule`](crate::scheduler::Scheduler::schedule) uses.
pub fn fits_with_nominated(pod: &PodInfo, node: &NodeInfo) -> Result<(), Unfit> {
    let used = node_used(node) + nominated_usage(pod, node);
    filter_with_used(pod, node, &used)
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
    filter_with_used(pod, node, &used)
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
