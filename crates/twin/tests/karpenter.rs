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
    sim.recorder
        .events()
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
    for e in sim
        .recorder
        .events()
        .iter()
        .filter(|e| e.reason == "SpotInterrupted")
    {
        assert!(
            !sim.nodes.contains_key(e.involved_object.name.as_str()),
            "interrupted nodes are gone"
        );
    }
    // Pods were evicted and came back on replacement nodes.
    assert!(sim.summary(None)["pods"]["created"].as_u64().unwrap() > 2);
    assert!(sim.recorder.counter("karpenterLaunches") > 2);
}

#[test]
fn limits_cap_the_pool() {
    // Each m5.large has 2 vCPU of capacity; a 4-CPU limit allows two nodes, and m5.large fits
    // one 1-CPU pod (1930m allocatable), so two of five pods run.
    let sim = run("", "  limits: {cpu: 4}", 5, "[]", "10m");
    assert_eq!(sim.nodes.len(), 2);
    assert_eq!(sim.pods.values().filter(|p| p.is_ready()).count(), 2);
    assert!(
        sim.recorder
            .events()
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
        sim.recorder
            .events()
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

// Node annotations and labels change while consolidation runs: its per-node cache (pool label,
// `do-not-disrupt`) and the pools' usage follow them (`run_checked` compares both with a
// recomputation after every event), and a `do-not-disrupt` node is not consolidated.
#[test]
fn node_annotations_and_labels_reach_the_disruption_cache() {
    let sim = run(
        "",
        "  disruption: {consolidationPolicy: WhenEmptyOrUnderutilized, consolidateAfter: 30s}",
        4,
        "[{at: 9m, run: kubectl annotate nodes --all karpenter.sh/do-not-disrupt=true},
          {at: 10m, run: kubectl scale deployment web --replicas=1},
          {at: 15m, run: kubectl label nodes --all team=a},
          {at: 16m, run: kubectl annotate nodes --all --overwrite karpenter.sh/do-not-disrupt=false}]",
        "30m",
    );
    let ts = sim.timeseries();
    let t = ts.columns.iter().position(|c| c == "time_s").unwrap();
    let col = ts.columns.iter().position(|c| c == "nodes").unwrap();
    let at = |secs: f64| ts.rows.iter().find(|r| r[t] >= secs).unwrap()[col];
    assert_eq!(at(9.0 * 60.0), 4.0);
    assert_eq!(at(15.5 * 60.0), 4.0, "do-not-disrupt nodes stay");
    assert_eq!(
        sim.nodes.len(),
        1,
        "consolidated once the annotation is gone"
    );
    let first = sim
        .recorder
        .events()
        .iter()
        .find(|e| e.reason == "DisruptionTerminating")
        .expect("a disruption");
    assert!(first.time >= 16.0 * 60.0, "{}", first.time);
}

/// Runs examples/karpenter-consolidation with its budget line replaced by `budgets`.
fn run_example(budgets: Option<&str>) -> Sim {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/karpenter-consolidation");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("manifests")).unwrap();
    for f in [
        "scenario.yaml",
        "manifests/10-nodepool.yaml",
        "manifests/20-web.yaml",
    ] {
        let mut text = std::fs::read_to_string(src.join(f)).unwrap();
        if let Some(b) = budgets {
            text = text.replace("      - nodes: \"1\"\n", b);
        }
        std::fs::write(dir.path().join(f), text).unwrap();
    }
    let mut sim = Sim::new(Arc::new(
        Scenario::load(&dir.path().join("scenario.yaml")).unwrap(),
    ))
    .unwrap();
    sim.run_checked().unwrap();
    sim
}

fn column(sim: &Sim, name: &str) -> Vec<(f64, f64)> {
    let ts = sim.timeseries();
    let c = ts.columns.iter().position(|c| c == name).unwrap();
    ts.rows.iter().map(|r| (r[0], r[c])).collect()
}

/// "type capacity-type" → on-demand or spot price of the catalog.
fn price(s: &str) -> f64 {
    let (t, ct) = s.split_once(' ').unwrap();
    kscale_twin::cloud::instance_type(t)
        .unwrap()
        .hourly_price(ct.trim_end_matches(')'))
}

#[test]
fn example_consolidates_and_replaces_with_cheaper_nodes() {
    let sim = run_example(None);
    let nodes = column(&sim, "nodes");
    let peak = nodes.iter().map(|x| x.1).fold(0.0, f64::max);
    assert!(peak >= 5.0, "Karpenter added nodes under load: {peak}");
    // After load falls: the system node and one node for the two remaining pods.
    assert_eq!(sim.nodes.len(), 2);
    assert_eq!(sim.pods.values().filter(|p| p.is_ready()).count(), 2);
    // Every replacement is cheaper than the node(s) it replaces.
    let d = &sim.karpenter_disruption.decisions;
    let replaced: Vec<_> = d.iter().filter(|r| r.decision == "replace").collect();
    assert!(!replaced.is_empty(), "{d:?}");
    for r in &replaced {
        let old: f64 = r
            .nodes
            .iter()
            .map(|n| price(n.split_once(" (").unwrap().1))
            .sum();
        let new = price(r.replacement.as_deref().unwrap());
        assert!(new < old, "{r:?}: {new} >= {old}");
        assert!((r.savings - (old - new)).abs() < 1e-9);
    }
    assert!(
        d.iter()
            .any(|r| r.decision == "delete" && r.reason == "Empty")
    );
    assert!(
        d.iter()
            .any(|r| r.decision == "delete" && r.reason == "Underutilized")
    );
    // The cost rate falls from the peak to less than a third of it.
    let rate = column(&sim, "cost_rate_usd_per_hour");
    let peak_rate = rate.iter().map(|x| x.1).fold(0.0, f64::max);
    let end_rate = rate.last().unwrap().1;
    assert!(end_rate < peak_rate / 3.0, "{end_rate} vs {peak_rate}");
    // Budget `nodes: "1"`: never more than one node disrupting at once.
    let disrupting = column(&sim, "karpenter/disrupting_nodes");
    assert_eq!(disrupting.iter().map(|x| x.1).fold(0.0, f64::max), 1.0);
    assert!(d.iter().all(|r| r.nodes.len() == 1));
    let s = sim.summary(None);
    assert_eq!(
        s["karpenter"]["commands"]["byDecision"]["replace"].as_u64(),
        Some(replaced.len() as u64)
    );
    // Replacement is launched first; the old node drains only after the new one registered.
    let ev = |reason: &str, kind: &str| {
        sim.recorder
            .events()
            .iter()
            .filter(|e| e.reason == reason && e.involved_object.kind == kind)
            .map(|e| e.time)
            .collect::<Vec<_>>()
    };
    let launching = ev("DisruptionLaunching", "NodeClaim");
    assert_eq!(launching.len(), replaced.len());
    let first_replace_drain = sim
        .recorder
        .events()
        .iter()
        .find(|e| {
            e.reason == "DisruptionTerminating"
                && e.involved_object.kind == "Node"
                && replaced[0].nodes[0].starts_with(&e.involved_object.name)
        })
        .unwrap()
        .time;
    assert!(
        first_replace_drain >= launching[0] + 60.0,
        "waits for the replacement"
    );
}

#[test]
fn a_wider_budget_disrupts_several_nodes_at_once() {
    let sim = run_example(Some("      - nodes: \"100%\"\n"));
    let disrupting = column(&sim, "karpenter/disrupting_nodes");
    let max = disrupting.iter().map(|x| x.1).fold(0.0, f64::max);
    assert!(max >= 2.0, "{max}");
    assert!(
        sim.karpenter_disruption
            .decisions
            .iter()
            .any(|r| r.nodes.len() >= 2)
    );
    assert_eq!(sim.nodes.len(), 2);
}

#[test]
fn zero_budget_blocks_disruption() {
    let sim = run_example(Some("      - nodes: \"0\"\n"));
    assert!(sim.karpenter_disruption.decisions.is_empty());
    assert!(sim.recorder.events().iter().any(|e| e.reason == "DisruptionBlocked"
        && e.message
            == "No allowed disruptions for disruption reason Underutilized due to blocking budget"));
    assert!(sim.nodes.len() >= 5, "nothing removed");
}

#[test]
fn scheduled_budget_freezes_consolidation_until_its_window_ends() {
    // A daily window from 00:00 UTC (t = 0: the default startTime is 2026-01-01T00:00:00Z) for
    // 28 minutes allows no Underutilized disruption; Empty nodes may still go.
    let sim = run_example(Some(
        "      - nodes: \"1\"\n      - nodes: \"0\"\n        reasons: [Underutilized]\n        schedule: \"0 0 * * *\"\n        duration: 28m\n",
    ));
    let d = &sim.karpenter_disruption.decisions;
    let under: Vec<f64> = d
        .iter()
        .filter(|r| r.reason == "Underutilized")
        .map(|r| r.time)
        .collect();
    assert!(!under.is_empty(), "{d:?}");
    assert!(under.iter().all(|t| *t >= 28.0 * 60.0), "{under:?}");
    assert!(
        sim.recorder
            .events()
            .iter()
            .any(|e| e.reason == "DisruptionBlocked"
                && e.time < 28.0 * 60.0
                && e.message.contains("Underutilized"))
    );
    // The two remaining 1-CPU pods may end on two m5.large nodes: one m5.xlarge for both
    // costs the same, so that is not consolidated (not cheaper).
    assert!(sim.nodes.len() <= 3, "{}", sim.nodes.len());
}
