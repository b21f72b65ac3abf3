//! The HPA in the twin, replaying seed 002 and a scale-down after the load falls.

use std::path::Path;
use std::sync::Arc;

use kscale_twin::scenario::Scenario;
use kscale_twin::sim::Sim;

#[test]
fn seed002_autoscale_one_pod_at_90_percent_gives_two() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/seed002/scenario.yaml");
    let mut sim = Sim::new(Arc::new(Scenario::load(&path).unwrap())).unwrap();
    sim.run_checked().unwrap();
    let rescales: Vec<_> = sim
        .events
        .iter()
        .filter(|e| e.reason == "SuccessfulRescale")
        .collect();
    assert_eq!(rescales.len(), 1, "{rescales:?}");
    assert_eq!(
        rescales[0].message,
        "New size: 2; reason: cpu resource utilization (percentage of request) above target"
    );
    assert!(
        rescales[0].time > 120.0 && rescales[0].time <= 120.0 + 30.0,
        "within two syncs of the autoscale step"
    );
    let hpa = &sim.transcript[1];
    assert!(hpa.stdout.contains("cpu: 45%/50%"), "{}", hpa.stdout);
    assert_eq!(sim.pods.values().filter(|p| p.is_ready()).count(), 2);
}

#[test]
fn scales_down_after_the_stabilization_window() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("m.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers:\n      - {name: c, image: app, resources: {requests: {cpu: 100m}, limits: {cpu: '1'}}}\n---\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: web}\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n  minReplicas: 1\n  maxReplicas: 10\n  metrics:\n  - type: Resource\n    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("s.yaml"),
        "apiVersion: kscale.io/v1alpha1\nkind: Scenario\nmetadata: {name: hpa}\nspec:\n  duration: 30m\n  nodes: [{name: n, instanceType: m5.xlarge, count: 2}]\n  manifests: [m.yaml]\n  load:\n    - target: deployment/web\n      requestsPerSecond: {steps: [{at: 0s, value: 20}, {at: 10m, value: 2}]}\n      cpuPerRequest: 10m\n",
    )
    .unwrap();
    let mut sim = Sim::new(Arc::new(
        Scenario::load(&dir.path().join("s.yaml")).unwrap(),
    ))
    .unwrap();
    sim.run_checked().unwrap();
    let ts = sim.timeseries();
    let col = ts
        .columns
        .iter()
        .position(|c| c == "deploy/default/web/desired")
        .unwrap();
    let at = |s: f64| ts.rows.iter().find(|r| r[0] >= s).unwrap()[col];
    // 20 req/s × 10m = 200m over a 100m request = 200% → 4 replicas (legacy cap max(2·1, 4)).
    assert_eq!(at(300.0), 4.0);
    // Load drops at 10 min; the 5-minute downscale stabilization keeps 4 until ~15 min.
    assert_eq!(at(780.0), 4.0);
    assert_eq!(at(1500.0), 1.0, "scaled down to min after the window");
}
