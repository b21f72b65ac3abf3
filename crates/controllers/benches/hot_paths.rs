//! Micro-benchmarks of the controllers' hot paths at the scale of the benchmark scenario
//! (`kscale bench-scenario`): a burst of pending pods scheduled onto 1,000 nodes, an HPA sync
//! over 300 workloads of 100 pods, and a Karpenter provisioning pass for 3,000 pending pods.
//!
//! Run with `cargo bench -p kscale-controllers`.

// criterion_group! generates an undocumented function.
#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use kscale_controllers::hpa::{
    self, HpaSpec, HpaState, MetricInput, MetricSpec, Observed, PodObs, PodValue, ResourceMetric,
    ResourceName, Sample, Target,
};
use kscale_controllers::karpenter::{self, Offering, Pool};
use kscale_controllers::scheduler::{Decision, NodeInfo, PlacementConstraints, PodInfo, Scheduler};
use kscale_model::{NodeSelectorRequirement, Resources, SelectorOp, SimTime};

/// An m5.4xlarge as EKS reports it: 15,890m CPU, about 57 GiB, 234 pods.
fn m5_4xlarge() -> Resources {
    Resources {
        cpu_milli: 15_890,
        memory: 57 * (1 << 30),
        pods: 234,
    }
}

fn pod(id: u64, constraints: &Arc<PlacementConstraints>) -> PodInfo {
    PodInfo {
        id,
        namespace: "default".into(),
        name: format!("app-{id}").into(),
        labels: Arc::new(BTreeMap::new()),
        requests: Resources {
            cpu_milli: 500,
            memory: 1 << 30,
            pods: 1,
        },
        priority: 0,
        start_time: SimTime::ZERO,
        terminating: false,
        constraints: constraints.clone(),
        default_selector: None,
    }
}

fn nodes(n: usize) -> Vec<NodeInfo> {
    (0..n)
        .map(|i| NodeInfo {
            name: format!("node-{i:04}").into(),
            labels: Default::default(),
            taints: Default::default(),
            unschedulable: false,
            ready: true,
            allocatable: m5_4xlarge(),
            requested: Resources::ZERO,
            pods: vec![],
            nominated: vec![],
        })
        .collect()
}

/// 1,000 pending pods onto 1,000 half-full nodes, binding each decision (the scheduler's
/// per-pod work is bounded by percentageOfNodesToScore: 42% of 1,000 nodes).
fn scheduling_burst(c: &mut Criterion) {
    let constraints = Arc::new(PlacementConstraints::default());
    let mut cluster = nodes(1000);
    let mut id = 0;
    for n in &mut cluster {
        for _ in 0..15 {
            id += 1;
            let p = pod(id, &constraints);
            n.requested += p.requests;
            n.pods.push(p);
        }
    }
    let pending: Vec<PodInfo> = (0..1000).map(|k| pod(100_000 + k, &constraints)).collect();
    c.bench_function("scheduler: 1,000 pending pods onto 1,000 nodes", |b| {
        b.iter_batched(
            || cluster.clone(),
            |mut cluster| {
                let mut s = Scheduler::new(None);
                let mut seed = 1u64;
                for p in &pending {
                    let refs: Vec<&NodeInfo> = cluster.iter().collect();
                    let d = s.schedule(p, &refs, &[], &mut |n| {
                        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                        (seed >> 33) as usize % n
                    });
                    if let Decision::Bind { node } = d {
                        cluster[node].requested += p.requests;
                        cluster[node].pods.push(p.clone());
                    }
                }
                cluster
            },
            BatchSize::LargeInput,
        )
    });
}

/// One HPA sync over 300 workloads of 100 ready pods with fresh CPU samples.
fn hpa_sync(c: &mut Criterion) {
    let spec = HpaSpec {
        min: 10,
        max: 200,
        metrics: vec![MetricSpec::Resource(ResourceMetric {
            name: ResourceName::Cpu,
            target: Target::Utilization(60),
        })],
        behavior: None,
    };
    let now = SimTime::from_millis(3_600_000);
    let pods: Vec<PodObs> = (0..100)
        .map(|_| PodObs {
            pending: false,
            ignored: false,
            ready: Some(true),
            ready_transition: SimTime::from_millis(60_000),
            start: Some(SimTime::from_millis(30_000)),
            count: 1,
        })
        .collect();
    let inputs: Vec<Vec<MetricInput>> = (0..300)
        .map(|w| {
            vec![Ok(Observed::PerPod(
                (0..100)
                    .map(|k| PodValue {
                        request: Ok(500),
                        sample: Some(Sample {
                            milli: 250 + ((w * 7 + k) % 100) as i64,
                            timestamp: SimTime::from_millis(3_590_000),
                            window_ms: 15_000,
                        }),
                    })
                    .collect(),
            ))]
        })
        .collect();
    c.bench_function("hpa: one sync of 300 HPAs x 100 pods", |b| {
        b.iter_batched(
            || vec![HpaState::default(); inputs.len()],
            |mut states| {
                let mut total = 0;
                for (state, input) in states.iter_mut().zip(&inputs) {
                    total += hpa::reconcile(state, &spec, 100, 100, &pods, input, now).desired;
                }
                total
            },
            BatchSize::SmallInput,
        )
    });
}

/// Karpenter plans NodeClaims for 3,000 pending pods (about 100 m5.4xlarge nodes).
fn karpenter_scale_up(c: &mut Criterion) {
    let constraints = Arc::new(PlacementConstraints::default());
    let pending: Vec<PodInfo> = (0..3000).map(|k| pod(k, &constraints)).collect();
    let offerings: Vec<Offering> = ["us-east-1a", "us-east-1b", "us-east-1c"]
        .iter()
        .map(|zone| {
            let mut labels = BTreeMap::new();
            labels.insert(
                "node.kubernetes.io/instance-type".to_string(),
                "m5.4xlarge".to_string(),
            );
            labels.insert(
                "karpenter.sh/capacity-type".to_string(),
                "on-demand".to_string(),
            );
            labels.insert("topology.kubernetes.io/zone".to_string(), zone.to_string());
            Offering {
                instance_type: "m5.4xlarge".into(),
                capacity_type: "on-demand".into(),
                zone: zone.to_string(),
                capacity: Resources {
                    cpu_milli: 16_000,
                    memory: 64 * (1 << 30),
                    pods: 234,
                },
                allocatable: m5_4xlarge(),
                price: 0.768,
                labels,
            }
        })
        .collect();
    let pools = vec![Pool {
        name: "general".into(),
        weight: 0,
        requirements: vec![NodeSelectorRequirement {
            key: "node.kubernetes.io/instance-type".into(),
            op: SelectorOp::In,
            values: vec!["m5.4xlarge".into()],
        }],
        taints: vec![],
        labels: BTreeMap::new(),
        limits: None,
        usage: Resources::ZERO,
        daemon_overhead: Resources::ZERO,
    }];
    c.bench_function("karpenter: plan 3,000 pending pods", |b| {
        b.iter(|| karpenter::plan(&pending, &pools, &offerings).claims.len())
    });
}

criterion_group!(benches, scheduling_burst, hpa_sync, karpenter_scale_up);
criterion_main!(benches);
