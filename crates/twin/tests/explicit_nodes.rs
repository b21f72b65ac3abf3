//! Nodes whose instance type is not in the catalog: `spec.nodes[].allocatable` / `capacity`
//! / `hourlyPrice` (as `kscale snapshot` writes nodes of a real cluster).

mod common;

use k8s_openapi::api::core::v1::{Node, Pod};
use kscale_cluster::Cluster;
use kscale_twin::scenario::Scenario;
use kscale_twin::sim::cluster_api::SimCluster;

const WEB: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 5
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: c, image: nginx, resources: {requests: {cpu: '1', memory: 1Gi}}}
";

#[test]
fn explicit_allocatable_sizes_the_node() {
    let (_dir, mut sim) = common::twin_of(
        "2m",
        "[{name: gke-1, instanceType: n2-standard-4, allocatable: {cpu: 3920m, memory: 13Gi, pods: '32'}, capacity: {cpu: '4', memory: 16Gi}, hourlyPrice: 0.19, labels: {cloud.google.com/gke-nodepool: default}}]",
        WEB,
    );
    sim.run();
    let mut c = SimCluster(&mut sim);
    let nodes: Vec<Node> = c.list(None, "").unwrap();
    assert_eq!(nodes.len(), 1);
    let n = &nodes[0];
    let labels = n.metadata.labels.as_ref().unwrap();
    assert_eq!(labels["node.kubernetes.io/instance-type"], "n2-standard-4");
    assert_eq!(labels["cloud.google.com/gke-nodepool"], "default");
    let status = n.status.as_ref().unwrap();
    let alloc = status.allocatable.as_ref().unwrap();
    assert_eq!(alloc["cpu"].0, "3920m");
    assert_eq!(alloc["pods"].0, "32");
    assert_eq!(status.capacity.as_ref().unwrap()["memory"].0, "16Gi");
    // 3920m holds three 1-core pods; two stay pending.
    let pods: Vec<Pod> = c.list(Some("default"), "app=web").unwrap();
    let bound = pods
        .iter()
        .filter(|p| p.spec.as_ref().unwrap().node_name.is_some())
        .count();
    assert_eq!((pods.len(), bound), (5, 3));
    // Two minutes at $0.19 an hour.
    let cost = sim.summary(None)["costUsd"].as_f64().unwrap();
    assert!((cost - 0.19 / 30.0).abs() < 1e-3, "{cost}");
}

fn load_err(nodes: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("s.yaml"),
        format!(
            "apiVersion: kscale.io/v1alpha1\nkind: Scenario\nmetadata: {{name: t}}\nspec:\n  duration: 1m\n  nodes:\n  - {nodes}\n"
        ),
    )
    .unwrap();
    Scenario::load(&dir.path().join("s.yaml"))
        .map(|_| ())
        .unwrap_err()
        .to_string()
}

#[test]
fn bad_explicit_resources_name_the_field() {
    let e = load_err("{name: a, instanceType: x1, allocatable: {cpu: '2'}}");
    assert!(e.contains("spec.nodes[0].allocatable"), "{e}");
    assert!(e.contains("needs memory"), "{e}");
    assert!(e.contains("s.yaml"), "{e}");
    let e = load_err("{name: a, instanceType: x1, allocatable: {cpu: two, memory: 1Gi}}");
    assert!(e.contains("spec.nodes[0].allocatable.cpu"), "{e}");
    let e = load_err("{name: a, instanceType: x1}");
    assert!(e.contains("unknown instance type \"x1\""), "{e}");
    assert!(e.contains("needs `allocatable`"), "{e}");
    let e = load_err(
        "{name: a, instanceType: x1, allocatable: {cpu: '1', memory: 1Gi}, hourlyPrice: -1}",
    );
    assert!(e.contains("hourlyPrice"), "{e}");
    // A catalog type still needs nothing more.
    let e = load_err("{name: a, instanceType: m5.large, capacityType: nope}");
    assert!(e.contains("capacityType"), "{e}");
}
