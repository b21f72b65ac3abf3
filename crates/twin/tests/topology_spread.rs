//! kube-scheduler's system default topology spreading (PodTopologySpread with
//! `DefaultingType: System`): a Deployment's pods, which have no `topologySpreadConstraints`,
//! are spread over nodes (maxSkew 3) and zones (maxSkew 5) by their ReplicaSet's selector.

mod common;

use std::collections::BTreeMap;

use kscale_twin::sim::Sim;

use kscale_model::{NodeSelectorRequirement, SelectorOp};

const WEB: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 6
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: c, image: nginx, resources: {requests: {cpu: 100m, memory: 128Mi}}}
";

/// Six equally free nodes: four in zone a, one each in zones b and c.
const NODES: &str = "[{name: a1, instanceType: m5.2xlarge, zone: us-east-1a}, {name: a2, instanceType: m5.2xlarge, zone: us-east-1a}, {name: a3, instanceType: m5.2xlarge, zone: us-east-1a}, {name: a4, instanceType: m5.2xlarge, zone: us-east-1a}, {name: b1, instanceType: m5.2xlarge, zone: us-east-1b}, {name: c1, instanceType: m5.2xlarge, zone: us-east-1c}]";

/// A two-minute twin of [`NODES`] and `manifests`, seeded with `seed` (its tie-breaks).
fn twin_seeded(seed: u64, manifests: &str) -> (tempfile::TempDir, Sim) {
    common::twin_with_spec(
        "2m",
        &format!("  seed: {seed}\n  nodes: {NODES}\n"),
        manifests,
    )
}

/// The six replicas land as the real scheduler places them, whatever its tie-breaks. With
/// weights ln(6 + 2) per matching pod on the node and ln(3 + 2) per matching pod in the zone
/// (`topologyNormalizingWeight`), PodTopologySpread (weight 2) outweighs the resource scores'
/// preference for empty nodes: after one pod in each zone and one more on an empty node of
/// zone a, the third pod of zone a goes to another empty node of it (raw 9 against 10 for the
/// single nodes of zones b and c), and the sixth to zone b or c (10 against 11 for the last
/// empty node of zone a). Without the zone constraint the pods would take one node each, four
/// of them in zone a.
#[test]
fn replicas_spread_over_nodes_and_zones() {
    for seed in 1..=5 {
        let (_dir, mut sim) = twin_seeded(seed, WEB);
        sim.run_checked().unwrap();
        let mut per_node: BTreeMap<String, usize> = BTreeMap::new();
        for p in sim.pods.values() {
            let node = p.node.as_deref().expect("every replica is bound");
            *per_node.entry(node.to_string()).or_default() += 1;
        }
        let zone = |z: char| -> usize {
            (per_node.iter())
                .filter(|(n, _)| n.starts_with(z))
                .map(|(_, c)| *c)
                .sum()
        };
        assert_eq!(per_node.values().sum::<usize>(), 6, "{per_node:?}");
        // Three pods in zone a, one on each of three of its nodes.
        assert_eq!(zone('a'), 3, "seed {seed}: {per_node:?}");
        assert!(
            (per_node.iter()).all(|(n, c)| !n.starts_with('a') || *c == 1),
            "seed {seed}: {per_node:?}"
        );
        // The other three in zones b and c: two on one of their nodes, one on the other.
        let mut bc = [zone('b'), zone('c')];
        bc.sort();
        assert_eq!(bc, [1, 2], "seed {seed}: {per_node:?}");
    }
}

/// `helper.DefaultSelector`: the selectors of the Services that select the pod (one without a
/// selector, or selecting other pods, adds nothing), ANDed with its ReplicaSet's.
#[test]
fn default_selector_of_services_and_replica_set() {
    let manifests = format!(
        "{WEB}---
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  selector: {{app: web}}
  ports: [{{port: 80}}]
---
apiVersion: v1
kind: Service
metadata: {{name: other}}
spec:
  selector: {{app: other}}
  ports: [{{port: 80}}]
---
apiVersion: v1
kind: Service
metadata: {{name: external}}
spec:
  type: ExternalName
  externalName: example.com
"
    );
    let (_dir, mut sim) = twin_seeded(1, &manifests);
    sim.run_checked().unwrap();
    let pod = sim.pods.values().next().expect("a replica");
    let hash = pod.labels["pod-template-hash"].clone();
    let sel = sim.default_selector(pod).expect("selected");
    assert_eq!(
        sel.match_labels,
        [("app".to_string(), "web".to_string())].into()
    );
    let req = |k: &str, v: &str| NodeSelectorRequirement {
        key: k.into(),
        op: SelectorOp::In,
        values: vec![v.into()],
    };
    assert_eq!(
        sel.match_expressions,
        [req("app", "web"), req("pod-template-hash", &hash)]
    );
}
