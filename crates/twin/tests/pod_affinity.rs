//! Inter-pod affinity in the twin (kube-scheduler's InterPodAffinity plugin): three replicas
//! with required anti-affinity over `kubernetes.io/hostname` get one node each — the
//! scheduler leaves the extra ones Pending with upstream's message, and the Cluster
//! Autoscaler and Karpenter size their scale-ups for one replica per node.

mod common;

use std::collections::BTreeSet;

use kscale_model::SimTime;
use kscale_twin::sim::Sim;

const WEB: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            - labelSelector: {matchLabels: {app: web}}
              topologyKey: kubernetes.io/hostname
      containers:
        - {name: web, image: nginx, resources: {requests: {cpu: 100m, memory: 100Mi}}}
";

/// A five-minute twin of `spec` (the scenario's nodes or cloud) and `manifests`.
fn twin(spec: &str, manifests: &str) -> (tempfile::TempDir, Sim) {
    common::twin_with_spec("5m", &format!("  seed: 3\n{spec}"), manifests)
}

/// The nodes web's pods are bound to, and how many are bound.
fn web_nodes(sim: &Sim) -> (BTreeSet<String>, usize) {
    let bound: Vec<String> = sim
        .pods
        .values()
        .filter(|p| p.name.starts_with("web-"))
        .filter_map(|p| p.node.as_deref().map(str::to_string))
        .collect();
    (bound.iter().cloned().collect(), bound.len())
}

#[test]
fn one_node_takes_one_replica_and_the_others_stay_pending() {
    let (_d, mut sim) = twin(
        "  nodes: [{name: n, instanceType: m5.large, count: 1}]\n",
        WEB,
    );
    sim.run_until(SimTime::from_millis(60_000));
    assert_eq!(web_nodes(&sim).1, 1);
    let failed = common::messages(&sim, "FailedScheduling");
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(
        failed.iter().all(|m| *m
            == "0/1 nodes are available: 1 node(s) didn't match pod anti-affinity rules. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."),
        "{failed:?}"
    );
}

#[test]
fn the_cluster_autoscaler_adds_a_node_per_replica_in_one_scale_up() {
    let cloud = "  cloud:\n    provider: aws\n    nodeGroups:\n      - {name: system, instanceType: m5.large, min: 1, max: 1, taints: [{key: CriticalAddonsOnly, value: 'true', effect: NoSchedule}]}\n      - {name: g, instanceType: m5.large, min: 1, max: 10}\n";
    let (_d, mut sim) = twin(
        cloud,
        &format!("{WEB}{}", common::cluster_autoscaler("--nodes=1:10:g")),
    );
    sim.run_until(SimTime::from_millis(240_000));
    assert_eq!(
        common::messages(&sim, "ScaledUpGroup"),
        vec!["Scale-up: setting group g size to 3 instead of 1 (max: 10)"]
    );
    let (nodes, bound) = web_nodes(&sim);
    assert_eq!((nodes.len(), bound), (3, 3));
}

#[test]
fn karpenter_plans_a_node_claim_per_replica() {
    let nodes = "  cloud: {provider: aws, region: us-east-1}\n  nodes:\n    - {name: system, instanceType: m5.large, count: 1, taints: [{key: CriticalAddonsOnly, value: \"true\", effect: NoSchedule}]}\n";
    let (_d, mut sim) = twin(nodes, &format!("{WEB}{}", common::NODEPOOL));
    sim.run_until(SimTime::from_millis(240_000));
    let claims: BTreeSet<&str> = common::messages(&sim, "Nominated").into_iter().collect();
    assert_eq!(claims.len(), 3, "one NodeClaim per replica: {claims:?}");
    let (nodes, bound) = web_nodes(&sim);
    assert_eq!((nodes.len(), bound), (3, 3));
}
