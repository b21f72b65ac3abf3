//! Builders shared by the consolidation unit tests.

use std::collections::BTreeSet;
use std::sync::Arc;

use kscale_model::labels::Labels;
use kscale_model::{Resources, SimTime};

use super::{Candidate, CandidatePods, Cluster, eviction_cost};
use crate::karpenter::{Offering, Pool};
use crate::scheduler::{NodeInfo, PlacementConstraints, PodInfo};

pub(super) fn offering(name: &str, cap: &str, cpu: i64, price: f64) -> Offering {
    let mut labels = Labels::new();
    labels.insert("node.kubernetes.io/instance-type".into(), name.into());
    labels.insert("karpenter.sh/capacity-type".into(), cap.into());
    let r = Resources {
        cpu_milli: cpu,
        memory: 64 << 30,
        pods: 110,
    };
    Offering {
        instance_type: name.into(),
        capacity_type: cap.into(),
        zone: "z1".into(),
        capacity: r,
        allocatable: r,
        price,
        labels,
    }
}

/// m5 prices (us-east-1 on-demand; spot at 30%, an assumption for the test).
pub(super) fn catalog() -> Vec<Offering> {
    vec![
        offering("m5.large", "on-demand", 2000, 0.096),
        offering("m5.xlarge", "on-demand", 4000, 0.192),
        offering("m5.2xlarge", "on-demand", 8000, 0.384),
        offering("m5.large", "spot", 2000, 0.029),
        offering("m5.xlarge", "spot", 4000, 0.058),
        offering("m5.2xlarge", "spot", 8000, 0.115),
    ]
}

pub(super) fn pod(id: u64, cpu: i64) -> PodInfo {
    PodInfo {
        id,
        namespace: Arc::from("default"),
        name: Arc::from(format!("p{id}").as_str()),
        labels: Arc::new(Labels::new()),
        requests: Resources {
            cpu_milli: cpu,
            memory: 1 << 30,
            pods: 1,
        },
        priority: 0,
        start_time: SimTime(id),
        terminating: false,
        constraints: Arc::new(PlacementConstraints::default()),
        default_selector: None,
    }
}

pub(super) fn node(name: &str, o: &Offering, pods: Vec<PodInfo>) -> NodeInfo {
    let requested = pods.iter().fold(Resources::ZERO, |a, p| a + p.requests);
    NodeInfo {
        name: Arc::from(name),
        labels: o.labels.clone().into(),
        taints: Default::default(),
        unschedulable: false,
        ready: true,
        allocatable: o.allocatable,
        requested,
        pods,
        nominated: vec![],
    }
}

pub(super) fn candidate<'a>(n: &'a NodeInfo, o: &'a Offering) -> Candidate<'a> {
    let costs: Vec<f64> = n
        .pods
        .iter()
        .map(|p| eviction_cost(0.0, p.priority))
        .collect();
    Candidate {
        node: &n.name,
        pool: 0,
        instance_type: &o.instance_type,
        capacity_type: &o.capacity_type,
        price: o.price,
        capacity: o.capacity,
        pods: CandidatePods::all(&n.pods),
        disruption_cost: costs.iter().sum(),
        reschedule_cost: 1.0 + costs.iter().map(|c| c.max(0.0)).sum::<f64>(),
        destination: None,
    }
}

pub(super) fn pool(capacity_types: &[&str], limit_cpu: Option<i64>) -> Pool {
    Pool {
        name: "default".into(),
        weight: 0,
        requirements: vec![kscale_model::NodeSelectorRequirement {
            key: "karpenter.sh/capacity-type".into(),
            op: kscale_model::SelectorOp::In,
            values: capacity_types.iter().map(|s| s.to_string()).collect(),
        }],
        taints: vec![],
        labels: Labels::new(),
        limits: limit_cpu.map(|c| Resources {
            cpu_milli: c,
            memory: 0,
            pods: 0,
        }),
        usage: Resources::ZERO,
        daemon_overhead: Resources::ZERO,
    }
}

/// `n` on-demand xlarge nodes (of `catalog()`) with one pod of `cpu` milli-CPU each, all
/// candidates: `f` of the cluster and the candidates.
pub(super) fn in_row<R>(cpu: i64, n: u64, f: impl FnOnce(&Cluster, &[Candidate]) -> R) -> R {
    let cat = catalog();
    let none = BTreeSet::new();
    let pools = [pool(&["on-demand"], None)];
    let ns: Vec<NodeInfo> = (0..n)
        .map(|i| node(&format!("n{i}"), &cat[1], vec![pod(i, cpu)]))
        .collect();
    let refs: Vec<&NodeInfo> = ns.iter().collect();
    let cl = Cluster {
        nodes: &refs,
        pools: &pools,
        offerings: &cat,
        spot_to_spot: false,
        pending: &[],
        uninitialized: &none,
    };
    let cands: Vec<Candidate> = ns.iter().map(|n| candidate(n, &cat[1])).collect();
    f(&cl, &cands)
}

/// Nodes `(offering, pods of 100m, _)` named by `name(index)`: node `i`'s pods have ids
/// `10 i ..`.
pub(super) fn node_infos<T>(
    cat: &[Offering],
    nodes: &[(usize, usize, T)],
    name: impl Fn(usize) -> String,
) -> Vec<NodeInfo> {
    nodes
        .iter()
        .enumerate()
        .map(|(i, (o, n, _))| {
            let pods = (0..*n as u64)
                .map(|k| pod(i as u64 * 10 + k, 100))
                .collect();
            node(&name(i), &cat[*o], pods)
        })
        .collect()
}

/// Names in name order, for [`sort_name_ordered_candidates`].
pub(super) const NAMES: [&str; 40] = [
    "a00", "a01", "a02", "a03", "a04", "a05", "a06", "a07", "a08", "a09", "a10", "a11", "a12",
    "a13", "a14", "a15", "a16", "a17", "a18", "a19", "a20", "a21", "a22", "a23", "a24", "a25",
    "a26", "a27", "a28", "a29", "a30", "a31", "a32", "a33", "a34", "a35", "a36", "a37", "a38",
    "a39",
];
