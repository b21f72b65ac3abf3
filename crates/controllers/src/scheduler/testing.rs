//! Builders shared by the scheduler's unit tests (in the spirit of upstream's
//! `pkg/scheduler/testing` wrappers).

use std::sync::Arc;

use kscale_model::labels::Labels;
use kscale_model::{
    NodeSelectorRequirement, Resources, SelectorOp, SimTime, Taint, TaintEffect, Toleration,
    TolerationOp,
};

use super::types::pod_usage;
use super::{Decision, NodeInfo, PdbInfo, PlacementConstraints, PodInfo, Scheduler};

pub(crate) const NEG: i32 = -100;

pub(crate) const LOW: i32 = 0;

pub(crate) const MID: i32 = 100;

pub(crate) const HIGH: i32 = 1000;

pub(crate) const VERY_HIGH: i32 = 10000;

// default_preemption_test.go resource sizes (cpu milli, memory bytes).
pub(crate) const SMALL: (i64, i64) = (100, 100);

pub(crate) const MEDIUM: (i64, i64) = (200, 200);

pub(crate) const LARGE: (i64, i64) = (300, 300);

pub(crate) const VERY_LARGE: (i64, i64) = (500, 500);

pub(crate) fn pod(id: u64, priority: i32, (cpu, mem): (i64, i64)) -> PodInfo {
    PodInfo {
        id,
        namespace: "default".into(),
        name: format!("p{id}").into(),
        labels: Arc::new(Labels::new()),
        requests: Resources {
            cpu_milli: cpu,
            memory: mem,
            pods: 1,
        },
        priority,
        start_time: SimTime::ZERO,
        terminating: false,
        constraints: Arc::new(PlacementConstraints::default()),
        default_selector: None,
    }
}

pub(crate) fn started(mut p: PodInfo, ms: u64) -> PodInfo {
    p.start_time = SimTime::from_millis(ms);
    p
}

pub(crate) fn labeled(mut p: PodInfo, k: &str, v: &str) -> PodInfo {
    Arc::make_mut(&mut p.labels).insert(k.into(), v.into());
    p
}

pub(crate) fn with_constraints(mut p: PodInfo, c: PlacementConstraints) -> PodInfo {
    p.constraints = Arc::new(c);
    p
}

pub(crate) fn node(name: &str, (cpu, mem): (i64, i64), pods: i64) -> NodeInfo {
    NodeInfo {
        name: name.into(),
        labels: Labels::new().into(),
        taints: Default::default(),
        unschedulable: false,
        ready: true,
        allocatable: Resources {
            cpu_milli: cpu,
            memory: mem,
            pods,
        },
        requested: Resources::ZERO,
        pods: vec![],
        nominated: vec![],
    }
}

pub(crate) fn with_pods(mut n: NodeInfo, pods: Vec<PodInfo>) -> NodeInfo {
    for p in pods {
        n.requested += pod_usage(&p);
        n.pods.push(p);
    }
    n
}

pub(crate) fn taint(k: &str, v: &str, effect: TaintEffect) -> Taint {
    Taint {
        key: k.into(),
        value: v.into(),
        effect,
    }
}

pub(crate) fn tol(k: &str, op: TolerationOp, v: &str, effect: Option<TaintEffect>) -> Toleration {
    Toleration {
        key: k.into(),
        op,
        value: v.into(),
        effect,
    }
}

pub(crate) fn req(k: &str, op: SelectorOp, values: &[&str]) -> NodeSelectorRequirement {
    NodeSelectorRequirement {
        key: k.into(),
        op,
        values: values.iter().map(|s| s.to_string()).collect(),
    }
}

pub(crate) fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Runs one cycle with a tie-break that always answers `pick`.
pub(crate) fn run_with(
    s: &mut Scheduler,
    p: &PodInfo,
    nodes: &[NodeInfo],
    pdbs: &[PdbInfo],
    pick: usize,
) -> Decision {
    let refs: Vec<&NodeInfo> = nodes.iter().collect();
    s.schedule(p, &refs, pdbs, &mut |n| pick.min(n - 1))
}

pub(crate) fn run(p: &PodInfo, nodes: &[NodeInfo], pdbs: &[PdbInfo]) -> Decision {
    run_with(&mut Scheduler::new(None), p, nodes, pdbs, 0)
}

pub(crate) fn unschedulable(msg: &str) -> Decision {
    Decision::Unschedulable {
        message: msg.into(),
    }
}

pub(crate) fn one_pod_node(name: &str) -> NodeInfo {
    // st.MakeNode().Capacity(onePodRes): pods 1, no cpu/memory.
    node(name, (0, 0), 1)
}

// ---- TestDryRunPreemption (nodes of veryLargeRes: 500m / 500 / 32 pods) -----------------

pub(crate) fn vl_node(name: &str, pods: Vec<PodInfo>) -> NodeInfo {
    with_pods(node(name, VERY_LARGE, 32), pods)
}
