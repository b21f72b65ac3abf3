//! The Priority admission plugin in the twin: a PriorityClass's `preemptionPolicy` reaches its
//! pods (plugin/pkg/admission/priority/admission.go `admitPod`), so a pod of a `Never` class
//! waits instead of preempting.

use std::sync::Arc;

use kscale_twin::scenario::Scenario;
use kscale_twin::sim::Sim;
use serde_json::Value;

/// One m5.large filled by a priority-0 pod of 1500m; at 2 min, `urgent` (1000m, of
/// PriorityClass `class`, with `extra` lines in its pod spec) is scaled from 0 to 1.
fn run(class: &str, extra: &str) -> Sim {
    let dir = tempfile::tempdir().unwrap();
    let manifests = format!(
        "apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {{name: never}}
value: 1000
preemptionPolicy: Never
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {{name: high}}
value: 1000
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: filler}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: filler}}}}
  template:
    metadata: {{labels: {{app: filler}}}}
    spec:
      containers: [{{name: c, image: x, resources: {{requests: {{cpu: 1500m}}}}}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: urgent}}
spec:
  replicas: 0
  selector: {{matchLabels: {{app: urgent}}}}
  template:
    metadata: {{labels: {{app: urgent}}}}
    spec:
      priorityClassName: {class}
{extra}      containers: [{{name: c, image: x, resources: {{requests: {{cpu: 1000m}}}}}}]
"
    );
    std::fs::write(dir.path().join("m.yaml"), manifests).unwrap();
    std::fs::write(
        dir.path().join("s.yaml"),
        "apiVersion: kscale.io/v1alpha1\nkind: Scenario\nmetadata: {name: prio}\nspec:\n  duration: 5m\n  manifests: [m.yaml]\n  nodes: [{name: n, instanceType: m5.large, count: 1}]\n  steps:\n    - {at: 2m, run: kubectl scale deployment urgent --replicas=1}\n    - {at: 4m, run: kubectl get pods -l app=urgent -o json}\n    - {at: 4m, run: kubectl get priorityclass high -o json}\n",
    )
    .unwrap();
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

fn urgent_pods(sim: &Sim) -> Vec<Value> {
    let v: Value = serde_json::from_str(&sim.recorder.transcript()[1].stdout).unwrap();
    v["items"].as_array().unwrap().clone()
}

#[test]
fn a_pod_of_a_never_class_waits_instead_of_preempting() {
    let sim = run("never", "");
    assert!(reasons(&sim, "Preempted").is_empty());
    let pods = urgent_pods(&sim);
    assert_eq!(pods.len(), 1);
    assert_eq!(pods[0]["spec"]["preemptionPolicy"], "Never");
    assert_eq!(pods[0]["spec"]["priority"], 1000);
    assert_eq!(pods[0]["status"]["phase"], "Pending");
    // The class's default, as the API server stores it.
    let pc: Value = serde_json::from_str(&sim.recorder.transcript()[2].stdout).unwrap();
    assert_eq!(pc["preemptionPolicy"], "PreemptLowerPriority");
}

#[test]
fn a_pod_of_a_preempting_class_preempts() {
    let sim = run("high", "");
    assert_eq!(reasons(&sim, "Preempted").len(), 1);
    let pods = urgent_pods(&sim);
    assert_eq!(pods[0]["spec"]["preemptionPolicy"], "PreemptLowerPriority");
    assert_eq!(pods[0]["status"]["phase"], "Running");
}

#[test]
fn a_pod_spec_policy_that_contradicts_its_class_is_forbidden() {
    let sim = run("never", "      preemptionPolicy: PreemptLowerPriority\n");
    let failed = reasons(&sim, "FailedCreate");
    assert!(!failed.is_empty());
    assert!(
        failed[0].ends_with("is forbidden: the string value of PreemptionPolicy (PreemptLowerPriority) must not be provided in pod spec; priority admission controller computed Never from the given PriorityClass name"),
        "{}",
        failed[0]
    );
    assert!(urgent_pods(&sim).is_empty());
}
