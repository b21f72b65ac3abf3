//! Property tests over generated clusters and step sequences: no node above its allocatable,
//! every pod in exactly one consistent phase, and identical outputs for identical inputs.

use std::fmt::Write as _;
use std::sync::Arc;

use kscale_twin::scenario::Scenario;
use kscale_twin::sim::Sim;
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Workload {
    replicas: u32,
    cpu_m: u32,
    mem_mi: u32,
    priority: i32,
}

#[derive(Debug, Clone)]
struct Gen {
    nodes: Vec<(usize, u32)>,
    workloads: Vec<Workload>,
    steps: Vec<(u32, usize, u32)>,
    seed: u64,
}

const TYPES: &[&str] = &["t3.small", "t3.medium", "m5.large", "c5.xlarge"];

fn cluster() -> impl Strategy<Value = Gen> {
    let node = (0..TYPES.len(), 1u32..4);
    let wl = (
        0u32..8,
        50u32..1500,
        32u32..1500,
        prop_oneof![Just(-10), Just(0), Just(1000)],
    )
        .prop_map(|(replicas, cpu_m, mem_mi, priority)| Workload {
            replicas,
            cpu_m,
            mem_mi,
            priority,
        });
    (
        proptest::collection::vec(node, 1..4),
        proptest::collection::vec(wl, 1..5),
        proptest::collection::vec((1u32..600, 0usize..5, 0u32..12), 0..6),
        0u64..1000,
    )
        .prop_map(|(nodes, workloads, steps, seed)| Gen {
            nodes,
            workloads,
            steps,
            seed,
        })
}

fn write_scenario(g: &Gen, dir: &std::path::Path) -> std::path::PathBuf {
    let mut m = String::new();
    for (i, w) in g.workloads.iter().enumerate() {
        writeln!(m, "---\napiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {{name: p{i}}}\nvalue: {}", w.priority).unwrap();
        writeln!(
            m,
            "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: w{i}}}\nspec:\n  replicas: {}\n  selector: {{matchLabels: {{app: w{i}}}}}\n  template:\n    metadata: {{labels: {{app: w{i}}}}}\n    spec:\n      priorityClassName: p{i}\n      containers:\n      - name: c\n        image: img{i}\n        resources: {{requests: {{cpu: {}m, memory: {}Mi}}}}",
            w.replicas, w.cpu_m, w.mem_mi
        )
        .unwrap();
    }
    std::fs::write(dir.join("m.yaml"), m).unwrap();
    let mut s = format!(
        "apiVersion: kscale.io/v1alpha1\nkind: Scenario\nmetadata: {{name: gen}}\nspec:\n  duration: 15m\n  seed: {}\n  manifests: [m.yaml]\n  nodes:\n",
        g.seed
    );
    for (i, (t, count)) in g.nodes.iter().enumerate() {
        writeln!(
            s,
            "    - {{name: n{i}, instanceType: {}, count: {count}}}",
            TYPES[*t]
        )
        .unwrap();
    }
    s.push_str("  steps:\n");
    for (at, w, replicas) in &g.steps {
        let w = w % g.workloads.len();
        writeln!(
            s,
            "    - {{at: {at}s, run: kubectl scale deployment w{w} --replicas={replicas}}}"
        )
        .unwrap();
    }
    let p = dir.join("scenario.yaml");
    std::fs::write(&p, s).unwrap();
    p
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    #[test]
    fn invariants_hold_and_runs_are_reproducible(g in cluster()) {
        let dir = tempfile::tempdir().unwrap();
        let path = write_scenario(&g, dir.path());
        let scenario = Arc::new(Scenario::load(&path).unwrap());
        let mut sim = Sim::new(scenario.clone()).unwrap();
        sim.run_checked().map_err(TestCaseError::fail)?;
        let a = sim.output();
        let mut again = Sim::new(scenario).unwrap();
        again.run();
        let b = again.output();
        prop_assert_eq!(kscale_report::render_events_jsonl(&a.events).unwrap(), kscale_report::render_events_jsonl(&b.events).unwrap());
        prop_assert_eq!(kscale_report::render_timeseries_csv(&a.timeseries).unwrap(), kscale_report::render_timeseries_csv(&b.timeseries).unwrap());
        prop_assert_eq!(a.summary, b.summary);
    }
}
