//! The binpacking estimator: how many new nodes of a group's template the pending pods need.
//!
//! Follows kubernetes/autoscaler `cluster-autoscaler/estimator/binpacking_estimator.go` with the
//! `decreasing_pod_orderer.go` processor: pods are sorted by `cpu/allocatable + memory/allocatable`
//! of the template, descending; each pod goes to the first new node it fits on; otherwise, if the
//! last added node is still empty (the pod could not even use a fresh node) estimation stops,
//! else a new template node is added (while the limiter allows: `--max-nodes-per-scaleup`, the
//! group's and cluster's remaining room) and the pod is tried there. The result counts the new
//! nodes that received pods. Predicates are the scheduler's own ([`crate::scheduler::fits`]).

use crate::scheduler::{NodeInfo, PodInfo, fits};

/// Result of one estimation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Estimate {
    /// New nodes needed (nodes that received at least one pod).
    pub node_count: u32,
    /// Ids of the pods placed on them, in placement order.
    pub pods: Vec<u64>,
}

fn score(p: &PodInfo, template: &NodeInfo) -> f64 {
    let f = |r: i64, a: i64| if a > 0 { r as f64 / a as f64 } else { 0.0 };
    f(p.requests.cpu_milli, template.allocatable.cpu_milli)
        + f(p.requests.memory, template.allocatable.memory)
}

/// Estimates the new nodes of `template` needed for `pods`, adding at most `max_nodes` nodes
/// (0 = no limit).
pub fn estimate(pods: &[PodInfo], template: &NodeInfo, max_nodes: u32) -> Estimate {
    let mut order: Vec<&PodInfo> = pods.iter().collect();
    // Stable sort: equal scores keep their input order, as upstream's sort.Slice on a group list.
    order.sort_by(|a, b| score(b, template).total_cmp(&score(a, template)));
    let mut nodes: Vec<NodeInfo> = vec![];
    let mut out = Estimate::default();
    let mut i = 0;
    while i < order.len() {
        // One equivalence group: consecutive pods with the same requests and constraints. A
        // `break` below ends this group only, as upstream's per-group loop.
        let mut end = i + 1;
        while end < order.len()
            && order[end].requests == order[i].requests
            && order[end].constraints == order[i].constraints
        {
            end += 1;
        }
        for pod in &order[i..end] {
            if let Some(n) = nodes.iter_mut().find(|n| fits(pod, n).is_ok()) {
                n.requested += pod.requests;
                n.pods.push((*pod).clone());
                out.pods.push(pod.id);
                continue;
            }
            if nodes.last().is_some_and(|n| n.pods.is_empty()) {
                break;
            }
            if max_nodes > 0 && nodes.len() as u32 >= max_nodes {
                break;
            }
            let mut n = template.clone();
            n.name = format!("template-node-for-{}-{}", template.name, nodes.len()).into();
            if fits(pod, &n).is_ok() {
                n.requested += pod.requests;
                n.pods.push((*pod).clone());
                out.pods.push(pod.id);
            }
            nodes.push(n);
        }
        i = end;
    }
    out.node_count = nodes.iter().filter(|n| !n.pods.is_empty()).count() as u32;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use kscale_model::{Resources, SimTime};
    use std::sync::Arc;

    const MIB: i64 = 1024 * 1024;

    pub(crate) fn pod(id: u64, cpu: i64, mem_mib: i64) -> PodInfo {
        PodInfo {
            id,
            namespace: "universe".into(),
            name: format!("estimatee-{id}").into(),
            labels: Arc::new(Default::default()),
            requests: Resources {
                cpu_milli: cpu,
                memory: mem_mib * MIB,
                pods: 1,
            },
            priority: 0,
            start_time: SimTime::ZERO,
            terminating: false,
            constraints: Arc::new(Default::default()),
            default_selector: None,
        }
    }

    pub(crate) fn node(name: &str, cpu: i64, mem_mib: i64, pods: i64) -> NodeInfo {
        NodeInfo {
            name: name.into(),
            labels: Default::default(),
            taints: Default::default(),
            unschedulable: false,
            ready: true,
            allocatable: Resources {
                cpu_milli: cpu,
                memory: mem_mib * MIB,
                pods,
            },
            requested: Resources::ZERO,
            pods: vec![],
            nominated: vec![],
        }
    }

    fn group(first_id: u64, n: u64, cpu: i64, mem: i64) -> Vec<PodInfo> {
        (0..n).map(|i| pod(first_id + i, cpu, mem)).collect()
    }

    // estimator/binpacking_estimator_test.go TestBinpackingEstimate (the cases without host
    // ports or topology spreading, which kscale does not model).
    #[test]
    fn simple_resource_based_binpacking() {
        let e = estimate(
            &group(0, 10, 350, 1000),
            &node("template", 350 * 3 - 50, 2 * 1000, 10),
            0,
        );
        assert_eq!((e.node_count, e.pods.len()), (5, 10));
    }

    #[test]
    fn pods_per_node_bound_binpacking() {
        let e = estimate(
            &group(0, 20, 10, 100),
            &node("template", 10000, 20000, 10),
            0,
        );
        assert_eq!((e.node_count, e.pods.len()), (2, 20));
    }

    #[test]
    fn limiter_cuts_binpacking() {
        let e = estimate(
            &group(0, 20, 500, 1000),
            &node("template", 1000, 5000, 10),
            5,
        );
        assert_eq!((e.node_count, e.pods.len()), (5, 10));
    }

    #[test]
    fn decreasing_ordered_pods_are_processed_first() {
        let mut pods = group(0, 10, 50, 1000);
        pods.extend(group(100, 10, 500, 1000));
        let e = estimate(&pods, &node("template", 1000, 5000, 10), 5);
        assert_eq!((e.node_count, e.pods.len()), (5, 10));
        assert_eq!(
            e.pods,
            (100..110).collect::<Vec<_>>(),
            "only the high-resource pods"
        );
    }

    #[test]
    fn a_pod_too_big_for_the_template_stops_estimation() {
        let mut pods = group(0, 1, 5000, 10);
        pods.extend(group(10, 2, 100, 10));
        let e = estimate(&pods, &node("template", 1000, 5000, 10), 0);
        // The big pod is first (highest score) and fits no fresh node; the small pods' group
        // then uses that still-empty node, and needs no second one.
        assert_eq!((e.node_count, e.pods.len()), (1, 2));
        assert_eq!(e.pods, [10, 11]);
    }
}
