//! CapacityBuffer (`autoscaling.x-k8s.io/v1alpha1`): how many virtual pods a buffer asks for.
//!
//! Follows kubernetes/autoscaler `cluster-autoscaler/capacitybuffer/translators/replicas.go`
//! (`getBufferNumberOfPods`, as its tests `replicas_test.go` specify it): `replicas` and
//! `percentage` of the scalable object's replicas (rounded up) combine by maximum; `limits`
//! (cpu, memory) cap the result by how many pods of the template fit in them; with none of
//! them resolvable the buffer is not ready for provisioning. The Cluster Autoscaler injects that
//! many fake pods of the buffer's pod template into its unschedulable pods
//! (`processors/capacitybuffer/pod_list_processor.go`): fake pods that fit existing nodes hold
//! that room, the others trigger scale-ups.

use std::collections::BTreeMap;
use std::sync::Arc;

use kscale_model::Resources;

use crate::scheduler::{NodeInfo, PodInfo, fits};

/// The sizing fields of a buffer's spec.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BufferSize {
    /// `spec.replicas`.
    pub replicas: Option<i32>,
    /// `spec.percentage` of the scalable object's replicas.
    pub percentage: Option<i32>,
    /// `spec.limits.cpu` in millicores.
    pub limit_cpu_milli: Option<i64>,
    /// `spec.limits.memory` in bytes.
    pub limit_memory: Option<i64>,
}

/// `percentage`% of `scalable` replicas, rounded up, at least 0.
pub fn replicas_from_percentage(percentage: i32, scalable: i32) -> i32 {
    let p = percentage as i64 * scalable as i64;
    (p.max(0) as f64 / 100.0).ceil() as i32
}

/// How many pods with `requests` fit in the limits (the smallest over the limited resources the
/// pod requests); an error if no limited resource is requested.
pub fn max_pods_from_limits(requests: &Resources, size: &BufferSize) -> Result<i32, String> {
    let mut best: Option<i64> = None;
    for (req, limit) in [
        (requests.cpu_milli, size.limit_cpu_milli),
        (requests.memory, size.limit_memory),
    ] {
        if let (true, Some(l)) = (req > 0, limit) {
            let n = l / req;
            best = Some(best.map_or(n, |b| b.min(n)));
        }
    }
    best.map(|b| b.clamp(0, i32::MAX as i64) as i32)
        .ok_or_else(|| "resources in configured limits not found in the pod template".into())
}

/// The number of fake pods of a buffer. `scalable` is the referenced object's replicas, if the
/// buffer has a `scalableRef`.
pub fn buffer_pods(
    size: &BufferSize,
    requests: &Resources,
    scalable: Option<i32>,
) -> Result<i32, String> {
    let mut n: Option<i32> = size.replicas.map(|r| r.max(0));
    if let (Some(p), Some(s)) = (size.percentage, scalable) {
        let from_pct = replicas_from_percentage(p, s);
        n = Some(n.map_or(from_pct, |r| r.max(from_pct)));
    }
    if size.limit_cpu_milli.is_some() || size.limit_memory.is_some() {
        let cap = max_pods_from_limits(requests, size)?;
        n = Some(n.map_or(cap, |r| r.min(cap)));
    }
    n.ok_or_else(|| "replicas, percentage and limits are not defined".into())
}

/// The room buffer fake pods hold in the scale-down simulation: each fake pod that fits an
/// existing node is placed there, first fit in `nodes` order (as the scale-up's
/// `FilterOutSchedulable` places them), so that removing that node has to find it a place
/// elsewhere too (`processors/capacitybuffer/pod_list_processor.go` injects them into the
/// snapshot). `nodes` are those pods may use (ready, schedulable, not being removed); returns a
/// copy of each node holding some, with them as its pods, by node name.
pub fn hold_room<'a>(
    nodes: impl IntoIterator<Item = &'a NodeInfo>,
    pods: &[PodInfo],
) -> BTreeMap<Arc<str>, NodeInfo> {
    let mut held: BTreeMap<Arc<str>, NodeInfo> = BTreeMap::new();
    if pods.is_empty() {
        return held;
    }
    let nodes: Vec<&NodeInfo> = nodes.into_iter().collect();
    let mut free: Vec<NodeInfo> = nodes
        .iter()
        .map(|n| {
            let mut v = super::room_view(n);
            v.allocatable.pods -= n.pods.len() as i64;
            v
        })
        .collect();
    for p in pods {
        if let Some(i) = free.iter().position(|n| fits(p, n).is_ok()) {
            free[i].requested += p.requests;
            free[i].allocatable.pods -= 1;
            let e = held
                .entry(free[i].name.clone())
                .or_insert_with(|| nodes[i].clone());
            e.requested += p.requests;
            e.pods.push(p.clone());
        }
    }
    held
}

#[cfg(test)]
mod tests {
    use super::*;

    // capacitybuffer/translators/replicas_test.go TestGetBufferNumberOfPods: a 1-CPU template.
    #[test]
    fn buffer_number_of_pods_upstream_cases() {
        let cpu1 = Resources {
            cpu_milli: 1000,
            memory: 0,
            pods: 1,
        };
        let s = |replicas, percentage, limit: Option<i64>| BufferSize {
            replicas,
            percentage,
            limit_cpu_milli: limit,
            limit_memory: None,
        };
        let f = |size: BufferSize, scalable| buffer_pods(&size, &cpu1, scalable);
        assert_eq!(f(s(Some(5), None, None), None), Ok(5), "Only Replicas");
        assert_eq!(
            f(s(None, Some(200), None), Some(10)),
            Ok(20),
            "Only Percentage"
        );
        assert_eq!(
            f(s(None, Some(33), None), Some(10)),
            Ok(4),
            "Only Percentage Rounding Up"
        );
        assert_eq!(
            f(s(Some(25), Some(200), None), Some(10)),
            Ok(25),
            "Replicas larger"
        );
        assert_eq!(
            f(s(Some(15), Some(200), None), Some(10)),
            Ok(20),
            "Percentage larger"
        );
        assert_eq!(
            f(s(Some(25), None, Some(20_000)), None),
            Ok(20),
            "Limits smaller"
        );
        assert_eq!(
            f(s(Some(15), None, Some(20_000)), None),
            Ok(15),
            "Replicas smaller"
        );
        assert_eq!(
            f(s(None, Some(250), Some(20_000)), Some(10)),
            Ok(20),
            "Percentage and Limits"
        );
        assert_eq!(f(s(None, None, Some(20_000)), None), Ok(20), "Only Limits");
        assert!(f(s(None, None, None), None).is_err(), "Nothing specified");
        assert!(
            f(s(None, Some(200), None), None).is_err(),
            "Percentage present but scalableReplicas nil"
        );
    }

    // TestReplicasFromPercentage.
    #[test]
    fn replicas_from_percentage_upstream_cases() {
        assert_eq!(replicas_from_percentage(200, 10), 20);
        assert_eq!(replicas_from_percentage(50, 10), 5);
        assert_eq!(replicas_from_percentage(0, 10), 0);
        assert_eq!(replicas_from_percentage(50, 0), 0);
        assert_eq!(replicas_from_percentage(33, 10), 4);
    }

    // TestCalculateMaxPodsFromLimits: 100m / 200Mi pods in 2 CPU / 2000Mi → min(20, 10).
    #[test]
    fn max_pods_from_limits_upstream_case() {
        let mib = 1 << 20;
        let req = Resources {
            cpu_milli: 100,
            memory: 200 * mib,
            pods: 1,
        };
        let size = BufferSize {
            limit_cpu_milli: Some(2000),
            limit_memory: Some(2000 * mib),
            ..Default::default()
        };
        assert_eq!(max_pods_from_limits(&req, &size), Ok(10));
    }
}
