//! Karpenter emulation: spot fallback on insufficient capacity, spot interruptions, limits and
//! consolidation after load falls.

use std::sync::Arc;

use kscale_twin::scenario::Scenario;
use kscale_twin::sim::Sim;

fn run(cloud_extra: &str, nodepool_extra: &str, replicas: u32, steps: &str, duration: &str) -> Sim {
    let dir = tempfile::tempdir().unwrap();
    let manifests = format!(
        "apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {{name: general}}
spec:
  template:
    spec:
      requirements:
        - {{key: node.kubernetes.io/instance-type, operator: In, values: [m5.large]}}
        - {{key: karpenter.sh/capacity-type, operator: In, values: [spot, on-demand]}}
      nodeClassRef: {{group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}}
{nodepool_extra}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
      - {{name: app, image: app, resources: {{requests: {{cpu: '1', memory: 1Gi}}}}}}
"
    );
    std::fs::write(dir.path().join("m.yaml"), manifests).unwrap();
    let s = format!(
        "apiVersion: kscale.io/v1alpha1
kind: Scenario
metadata: {{name: k}}
spec:
  duration: {duration}
  seed: 3
  cloud:
    provider: aws
{cloud_extra}
  manifests: [m.yaml]
  steps: {steps}
"
    );
    std::fs::write(dir.path().join("s.yaml"), s).unwrap();
    let mut sim = Sim::new(Arc::new(
        Scenario::load(&dir.path().join("s.yaml")).unwrap(),
    ))
    .unwrap();
    sim.run_checked().unwrap();
    sim
}

fn reasons(sim: &Sim, reason: &str) -> Vec<String> {
    sim.events
        .iter()
        .filter(|e| e.reason == reason)
        .map(|e| e.message.clone())
        .collect()
}

#[test]
fn spot_shortage_falls_back_to_on_demand() {
    let sim = run(
        "    insufficientCapacity:\n      - {capacityType: spot, from: 0s, to: 1h}\n",
        "",
        3,
        "[]",
        "10m",
    );
    let ice = reasons(&sim, "InsufficientCapacityError");
    assert!(!ice.is_empty(), "spot launch failed first");
    assert!(ice.iter().all(|m| m.contains("m5.large spot")));
    let launched = reasons(&sim, "Launched");
    assert!(
        !launched.is_empty() && launched.iter().all(|m| m.contains("m5.large on-demand")),
        "{launched:?}"
    );
    assert!(sim.nodes.values().all(|n| n.capacity_type == "on-demand"));
    assert_eq!(sim.pods.values().filter(|p| p.is_ready()).count(), 3);
}

#[test]
fn spot_is_preferred_when_available() {
    let sim = run("", "", 3, "[]", "10m");
    assert!(
        sim.nodes.values().all(|n| n.capacity_type == "spot"),
        "spot is the cheapest offering"
    );
    assert_eq!(sim.pods.values().filter(|p| p.is_ready()).count(), 3);
}

#[test]
fn spot_interruptions_drain_and_replace_nodes() {
    let sim = run(
        "    spotInterruptions: {ratePerHour: 3}\n",
        "",
        2,
        "[]",
        "2h",
    );
    let interrupted = reasons(&sim, "SpotInterrupted");
    assert!(interrupted.len() >= 2, "{interrupted:?}");
    for e in sim.events.iter().filter(|e| e.reason == "SpotInterrupted") {
        assert!(
            !sim.nodes.contains_key(e.involved_object.name.as_str()),
            "interrupted nodes are gone"
        );
    }
    // Pods were evicted and came back on replacement nodes.
    assert!(sim.summary(None)["pods"]["created"].as_u64().unwrap() > 2);
    assert!(sim.counters["karpenterLaunches"] > 2);
}

#[test]
fn limits_cap_the_pool() {
    // Each m5.large has 2 vCPU of capacity; a 4-CPU limit allows two nodes, and m5.large fits
    // one 1-CPU pod (1930m allocatable), so two of five pods run.
    let sim = run("", "  limits: {cpu: 4}", 5, "[]", "10m");
    assert_eq!(sim.nodes.len(), 2);
    assert_eq!(sim.pods.values().filter(|p| p.is_ready()).count(), 2);
    assert!(
        sim.events
            .iter()
            .any(|e| e.source == "karpenter" && e.message.contains("exceed limits"))
    );
}

#[test]
fn consolidates_after_load_falls() {
    let sim = run(
        "",
        "  disruption: {consolidationPolicy: WhenEmptyOrUnderutilized, consolidateAfter: 30s}",
        4,
        "[{at: 10m, run: kubectl scale deployment web --replicas=1}]",
        "20m",
    );
    assert!(
        sim.events
            .iter()
            .any(|e| e.reason == "DisruptionTerminating")
    );
    assert_eq!(sim.nodes.len(), 1, "one node left for one pod");
    assert_eq!(sim.pods.values().filter(|p| p.is_ready()).count(), 1);
    let ts = sim.timeseries();
    let col = ts.columns.iter().position(|c| c == "nodes").unwrap();
    let max = ts.rows.iter().map(|r| r[col]).fold(0.0, f64::max);
    assert_eq!(max, 4.0);
}
