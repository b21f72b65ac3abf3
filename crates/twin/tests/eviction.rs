//! Node memory pressure: the kubelet evicts the pod most over its memory request, one per 10 s,
//! with upstream's message; the ReplicaSet replaces it; QoS class and oom_score_adj on pods.

use std::sync::Arc;

use kscale_twin::scenario::Scenario;
use kscale_twin::sim::Sim;

const MANIFESTS: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: leaky}
spec:
  replicas: 4
  selector: {matchLabels: {app: leaky}}
  template:
    metadata: {labels: {app: leaky}}
    spec:
      containers:
      - {name: app, image: leaky, resources: {requests: {cpu: 200m, memory: 500Mi}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: steady}
spec:
  replicas: 2
  selector: {matchLabels: {app: steady}}
  template:
    metadata: {labels: {app: steady}}
    spec:
      containers:
      - {name: app, image: steady, resources: {requests: {cpu: 200m, memory: 1Gi}, limits: {cpu: 200m, memory: 1Gi}}}
";

const SCENARIO: &str = "\
apiVersion: kscale.io/v1alpha1
kind: Scenario
metadata: {name: eviction}
spec:
  duration: 305s
  nodes: [{name: n, instanceType: m5.large, count: 1}]
  manifests: [m.yaml]
  load:
    - target: deployment/leaky
      requestsPerSecond: {steps: [{at: 0s, value: 5}, {at: 2m, value: 40}]}
      cpuPerRequest: 50m
      memory: {base: 600Mi, perRequest: 2Mi}
    - target: deployment/steady
      requestsPerSecond: {constant: 2}
      cpuPerRequest: 10m
      memory: {base: 800Mi}
  steps:
    - {at: 1m, run: kubectl describe pod -l app=steady}
    - {at: 4m, run: kubectl get pods -l app=leaky}
";

fn run() -> Sim {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.yaml"), MANIFESTS).unwrap();
    std::fs::write(dir.path().join("s.yaml"), SCENARIO).unwrap();
    let mut sim = Sim::new(Arc::new(
        Scenario::load(&dir.path().join("s.yaml")).unwrap(),
    ))
    .unwrap();
    sim.run_checked().unwrap();
    sim
}

/// `Container app was using 1536808Ki, ...` → bytes.
fn using(message: &str) -> i64 {
    let s = message.split("was using ").nth(1).unwrap();
    s[..s.find("Ki").unwrap()].parse::<i64>().unwrap() * 1024
}

#[test]
fn memory_pressure_evicts_the_largest_consumer_over_request() {
    let sim = run();
    let evicted: Vec<_> = sim
        .recorder
        .events()
        .iter()
        .filter(|e| e.reason == "Evicted")
        .collect();
    // m5.large: 7.5 GiB allocatable... pods at 600Mi + 2Mi per request in flight; at 40 req/s
    // on 4 pods of 4 req/s each, the backlog grows by 24/s and memory follows. No eviction
    // before the surge (2m); then one per 10 s monitoring period.
    assert!(!evicted.is_empty());
    assert!(evicted[0].time > 120.0, "first at {}", evicted[0].time);
    // Evictions happen at monitoring periods only (every 10 s). Between two of them the
    // backlog's memory can outgrow the node: then the kernel's OOM killer acts at once
    // (SystemOOM on the node, the container OOM-killed), which frees memory too.
    for w in evicted.windows(2) {
        let gap = w[1].time - w[0].time;
        assert!(gap >= 10.0 && gap % 10.0 == 0.0, "{gap}");
    }
    let system_oom = sim
        .recorder
        .events()
        .iter()
        .filter(|e| e.reason == "SystemOOM")
        .count();
    let oom_killed: Vec<_> = sim
        .recorder
        .events()
        .iter()
        .filter(|e| e.reason == "OOMKilled")
        .collect();
    assert_eq!(
        system_oom,
        oom_killed.len(),
        "no limit: every OOM kill is the node's"
    );
    assert!(
        oom_killed
            .iter()
            .all(|e| e.message.contains("(the node ran out of memory)")
                && e.involved_object.name.starts_with("leaky-")),
        "the Guaranteed steady pods (oom_score_adj -997) are never chosen"
    );
    for e in &evicted {
        assert!(
            e.involved_object.name.starts_with("leaky-"),
            "{}",
            e.involved_object.name
        );
        assert!(
            e.message.starts_with(
                "The node was low on resource: memory. Threshold quantity: 100Mi, available: "
            ),
            "{}",
            e.message
        );
        assert!(
            e.message
                .ends_with("request is 500Mi, has larger consumption of memory. ")
        );
        assert!(using(&e.message) > 500 << 20);
    }
    // Each eviction is followed by EvictionThresholdMet on the node, and counted.
    let met = sim
        .recorder
        .events()
        .iter()
        .filter(|e| e.reason == "EvictionThresholdMet")
        .count();
    assert_eq!(met, evicted.len());
    let c = sim.eviction.counters()["default/deployment/leaky"];
    assert_eq!(
        (c.evictions, c.oom_kills),
        (evicted.len() as u64, oom_killed.len() as u64)
    );
    assert!(
        !sim.eviction
            .counters()
            .contains_key("default/deployment/steady")
    );
    // The ReplicaSet replaced the evicted pods (the last one, at 300 s, too): 4 active leaky
    // pods, the rest Failed/Evicted.
    let leaky: Vec<_> = sim
        .pods
        .values()
        .filter(|p| p.name.starts_with("leaky-"))
        .collect();
    assert_eq!(leaky.iter().filter(|p| p.is_active()).count(), 4);
    assert_eq!(
        leaky.iter().filter(|p| p.evicted.is_some()).count(),
        evicted.len()
    );
    let summary = sim.summary(None);
    assert_eq!(
        summary["workloads"]["default/deployment/leaky"]["evictions"],
        serde_json::json!(evicted.len())
    );
    // kubectl shows them as Evicted, and describe shows QoS class and oom_score_adj.
    assert!(
        sim.recorder.transcript()[1]
            .stdout
            .contains("0/1     Evicted"),
        "{}",
        sim.recorder.transcript()[1].stdout
    );
    let d = &sim.recorder.transcript()[0].stdout;
    // Compared with runs of spaces collapsed: the alignment is the describer's.
    let words = d.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(words.contains("QoS Class: Guaranteed"), "{d}");
    assert!(
        words.contains("Annotations: kscale.io/oom-score-adj: app=-997"),
        "{d}"
    );
    let p = sim.pods.values().find(|p| p.evicted.is_some()).unwrap();
    let v = sim.render_pod(p);
    assert_eq!(v["status"]["phase"], "Failed");
    assert_eq!(v["status"]["reason"], "Evicted");
    assert_eq!(v["status"]["qosClass"], "Burstable");
    // Burstable, 500Mi of an 8 GiB node: 1000 − 1000·500Mi/8Gi = 939.
    let live = sim
        .pods
        .values()
        .find(|p| p.name.starts_with("leaky-") && p.is_active() && p.node.is_some())
        .unwrap();
    assert_eq!(
        sim.render_pod(live)["metadata"]["annotations"]["kscale.io/oom-score-adj"],
        "app=939"
    );
}
