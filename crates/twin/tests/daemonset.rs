//! DaemonSets in the twin (kube-controller-manager's DaemonSet controller): one daemon pod on
//! every node that should run it, a rolling update one node at a time, and the node
//! autoscalers counting daemon pods on the nodes they add (the Cluster Autoscaler's template
//! nodes, Karpenter's daemon overhead).

mod common;

use kscale_model::SimTime;
use kscale_twin::sim::Sim;
use kscale_twin::sim::store::ObjKey;

/// A DaemonSet `name` requesting `cpu`, with extra pod spec lines `spec` (flow style).
fn daemonset(name: &str, cpu: &str, spec: &str) -> String {
    format!(
        "---
apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: {name}}}
spec:
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      {spec}
      containers:
        - {{name: c, image: busybox, resources: {{requests: {{cpu: {cpu}, memory: 64Mi}}}}}}
"
    )
}

fn counts(sim: &Sim, name: &str) -> (i64, i64, i64) {
    let key = ObjKey::new("DaemonSet", "default", name);
    let v = sim.store.get(&key).unwrap();
    let c = sim.daemonset_counts(&key, v);
    (c.desired, c.current, c.ready)
}

#[test]
fn daemon_pods_go_where_selectors_and_taints_let_them() {
    let manifests = [
        daemonset("logs", "100m", "tolerations: []"),
        daemonset("exporter", "100m", "tolerations: [{operator: Exists}]"),
        daemonset(
            "agent",
            "100m",
            "nodeSelector: {pool: gpu}\n      tolerations: [{key: dedicated, operator: Equal, value: gpu, effect: NoSchedule}]",
        ),
    ]
    .concat();
    let nodes = "[{name: a, instanceType: m5.large, count: 2}, {name: gpu, instanceType: m5.large, count: 1, labels: {pool: gpu}, taints: [{key: dedicated, value: gpu, effect: NoSchedule}]}]";
    let (_d, mut sim) = common::twin_of("2m", nodes, &manifests);
    sim.run_until(SimTime::from_millis(60_000));
    assert_eq!(counts(&sim, "logs"), (2, 2, 2));
    assert_eq!(counts(&sim, "exporter"), (3, 3, 3));
    assert_eq!(counts(&sim, "agent"), (1, 1, 1));
    // Every daemon pod is on its own node, pinned there by node affinity.
    let mut placed: Vec<(String, String)> = sim
        .pods
        .values()
        .map(|p| {
            let app = p.labels["app"].clone();
            (app, p.node.as_deref().unwrap().to_string())
        })
        .collect();
    placed.sort();
    placed.dedup();
    assert_eq!(placed.len(), 6);
    assert!(
        sim.pods
            .values()
            .all(|p| p.labels.contains_key("controller-revision-hash")
                && p.labels["pod-template-generation"] == "1")
    );
}

#[test]
fn a_template_change_replaces_the_pods_one_node_at_a_time() {
    let patch =
        r#"'{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"busybox:1.37"}]}}}}'"#;
    let spec = format!(
        "  nodes: [{{name: a, instanceType: m5.large, count: 3}}]\n  steps:\n    - at: 30s\n      run: >-\n        kubectl patch daemonset logs -p {patch}\n"
    );
    let (_d, mut sim) =
        common::twin_with_spec("3m", &spec, &daemonset("logs", "100m", "tolerations: []"));
    sim.run_until(SimTime::from_millis(170_000));
    assert_eq!(counts(&sim, "logs"), (3, 3, 3));
    // Deleted, then created, node after node: never two nodes without a ready pod.
    let order: Vec<&str> = sim
        .recorder
        .events()
        .iter()
        .filter(|e| e.source == "daemonset-controller" && e.time > 30.0)
        .map(|e| e.reason.as_str())
        .collect();
    assert_eq!(
        order,
        [
            "SuccessfulDelete",
            "SuccessfulCreate",
            "SuccessfulDelete",
            "SuccessfulCreate",
            "SuccessfulDelete",
            "SuccessfulCreate"
        ]
    );
}

/// The Cluster Autoscaler sizes a scale-up with the daemon pods of the new nodes: m5.large
/// nodes (1930m allocatable) that each run a 1-CPU daemon pod hold one 600m web pod, not
/// three. (The first node to register may take all three web pods before its daemon pod
/// exists — the race of a real cluster too — which leaves that daemon pod Pending: the
/// autoscaler does not scale up for it.)
#[test]
fn the_cluster_autoscaler_counts_daemon_pods_on_its_template_nodes() {
    let cloud = "  cloud:\n    provider: aws\n    nodeGroups:\n      - {name: system, instanceType: m5.large, min: 1, max: 1, taints: [{key: CriticalAddonsOnly, value: 'true', effect: NoSchedule}]}\n      - {name: g, instanceType: m5.large, min: 0, max: 10}\n";
    let manifests = format!(
        "{WEB_ONLY}{}{}",
        common::cluster_autoscaler("--nodes=0:10:g"),
        daemonset("logs", "1", "tolerations: []")
    );
    let (_d, mut sim) = common::twin_with_spec("4m", cloud, &manifests);
    sim.run_until(SimTime::from_millis(200_000));
    assert_eq!(
        common::messages(&sim, "ScaledUpGroup"),
        ["Scale-up: setting group g size to 3 instead of 0 (max: 10)"]
    );
    assert_eq!(counts(&sim, "logs").0, 3);
    assert!(common::messages(&sim, "NotTriggerScaleUp").is_empty());
    let running = sim
        .pods
        .values()
        .filter(|p| p.name.starts_with("web-") && p.node.is_some())
        .count();
    assert_eq!(running, 3);
}

const WEB_ONLY: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - {name: web, image: nginx, resources: {requests: {cpu: 600m, memory: 256Mi}}}
";

/// Karpenter sizes a NodeClaim with the daemon pods its node will run (`daemonOverhead`):
/// three 600m pods and a 1-CPU daemon pod need more than an m5.large.
#[test]
fn karpenter_adds_the_daemon_overhead_to_its_node_claims() {
    let spec = "  cloud: {provider: aws, region: us-east-1}\n  nodes:\n    - {name: system, instanceType: m5.large, count: 1, taints: [{key: CriticalAddonsOnly, value: \"true\", effect: NoSchedule}]}\n";
    let instance_types = |with_daemon: bool| {
        let ds = if with_daemon {
            daemonset("logs", "1", "tolerations: []")
        } else {
            String::new()
        };
        let (_d, mut sim) =
            common::twin_with_spec("3m", spec, &format!("{WEB_ONLY}{}{ds}", common::NODEPOOL));
        sim.run_until(SimTime::from_millis(150_000));
        let mut types: Vec<String> = sim
            .nodes
            .values()
            .filter(|n| n.info.labels.contains_key("karpenter.sh/nodepool"))
            .map(|n| n.instance_type.clone())
            .collect();
        types.sort();
        (types, sim)
    };
    let (without, _) = instance_types(false);
    assert_eq!(without, ["m5.large"]);
    let (with, sim) = instance_types(true);
    assert_eq!(with, ["m5.xlarge"]);
    assert_eq!(counts(&sim, "logs"), (1, 1, 1));
}

/// A node tainted NoSchedule after its daemon pod started keeps the pod, which the status
/// counts as misscheduled, not current (`updateDaemonSetStatus` counts by
/// `nodeShouldRunDaemonPod`'s shouldRun).
#[test]
fn a_pod_kept_on_a_node_that_should_not_run_it_is_misscheduled() {
    let spec = "  nodes: [{name: a, instanceType: m5.large, count: 2}]\n  steps:\n    - {at: 30s, run: kubectl taint nodes a-1 k=v:NoSchedule}\n";
    let (_d, mut sim) =
        common::twin_with_spec("2m", spec, &daemonset("logs", "100m", "tolerations: []"));
    sim.run_until(SimTime::from_millis(25_000));
    let key = ObjKey::new("DaemonSet", "default", "logs");
    let c = sim.daemonset_counts(&key, &sim.store.get(&key).unwrap().clone());
    assert_eq!(
        (c.desired, c.current, c.ready, c.misscheduled),
        (2, 2, 2, 0)
    );
    sim.run_until(SimTime::from_millis(60_000));
    let c = sim.daemonset_counts(&key, &sim.store.get(&key).unwrap().clone());
    assert_eq!(
        (c.desired, c.current, c.ready, c.misscheduled),
        (1, 1, 1, 1)
    );
    // The pod stays: NoSchedule evicts nothing.
    assert_eq!(sim.pods.len(), 2);
}
