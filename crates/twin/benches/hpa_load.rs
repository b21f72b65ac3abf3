#![allow(missing_docs)] // criterion_group!/criterion_main! generate undocumented functions
//! Cost of the HPA and the load model per simulated hour on a mid-size scenario: 20
//! Deployments (10 on CPU utilization, 5 on a Pods rate metric, 5 on an External queue-length
//! metric), each with a diurnal load entry (Poisson arrivals, memory model), on 12 m5.4xlarge
//! nodes; one iteration is one simulated hour.
//!
//! `cargo bench -p kscale-twin --bench hpa_load`

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use kscale_twin::scenario::Scenario;
use kscale_twin::sim::Sim;

const DEPLOYMENTS: usize = 20;

fn write_scenario(dir: &Path) -> std::path::PathBuf {
    let mut m = String::new();
    for i in 0..DEPLOYMENTS {
        writeln!(
            m,
            "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: app{i}}}\nspec:\n  replicas: 2\n  selector: {{matchLabels: {{app: app{i}}}}}\n  template:\n    metadata: {{labels: {{app: app{i}}}}}\n    spec:\n      containers:\n      - {{name: app, image: app{i}, resources: {{requests: {{cpu: 250m, memory: 512Mi}}, limits: {{cpu: 500m, memory: 1Gi}}}}}}"
        )
        .unwrap();
        let metric = match i % 4 {
            0 | 1 => "  - type: Resource\n    resource: {name: cpu, target: {type: Utilization, averageUtilization: 60}}".to_string(),
            2 => "  - type: Pods\n    pods: {metric: {name: requests_per_second}, target: {type: AverageValue, averageValue: \"6\"}}".to_string(),
            _ => format!("  - type: External\n    external: {{metric: {{name: queue_length, selector: {{matchLabels: {{workload: app{i}}}}}}}, target: {{type: AverageValue, averageValue: \"20\"}}}}"),
        };
        writeln!(
            m,
            "---\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {{name: app{i}}}\nspec:\n  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: app{i}}}\n  minReplicas: 2\n  maxReplicas: 12\n  metrics:\n{metric}"
        )
        .unwrap();
    }
    std::fs::write(dir.join("m.yaml"), m).unwrap();
    let mut s = String::from(
        "apiVersion: kscale.io/v1alpha1\nkind: Scenario\nmetadata: {name: bench}\nspec:\n  duration: 1h\n  seed: 3\n  sampleInterval: 30s\n  nodes: [{name: n, instanceType: m5.4xlarge, count: 12}]\n  manifests: [m.yaml]\n  load:\n",
    );
    for i in 0..DEPLOYMENTS {
        writeln!(
            s,
            "    - target: deployment/app{i}\n      requestsPerSecond: {{diurnal: {{mean: {}, amplitude: {}, period: 1h, phase: {}m}}, poisson: true}}\n      cpuPerRequest: 20m\n      memory: {{base: 300Mi, perRequest: 1Mi}}",
            20 + 5 * (i % 5),
            15 + 5 * (i % 3),
            3 * i
        )
        .unwrap();
    }
    let p = dir.join("s.yaml");
    std::fs::write(&p, s).unwrap();
    p
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let scenario = Arc::new(Scenario::load(&write_scenario(dir.path())).unwrap());
    let mut g = c.benchmark_group("hpa_load");
    g.sample_size(10);
    g.bench_function("20_hpas_20_loads_one_simulated_hour", |b| {
        b.iter(|| {
            let mut sim = Sim::new(scenario.clone()).unwrap();
            sim.run();
            assert!(
                sim.recorder
                    .events()
                    .iter()
                    .any(|e| e.reason == "SuccessfulRescale")
            );
            sim.recorder.events().len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
