//! Deleting a pod: the kubelet stops its running containers, each with a `Killing` event
//! (`Stopping container NAME`); a pod deleted before its containers started records none, as
//! the kubelet kills only the containers in state running (v1.37
//! pkg/kubelet/container/helpers.go `ConvertPodStatusToRunningPod`).

mod common;

const MANIFESTS: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: app, image: nginx, resources: {requests: {cpu: 100m, memory: 64Mi}}}
      - {name: sidecar, image: envoy, resources: {requests: {cpu: 100m, memory: 64Mi}}}
";

/// Runs the deployment on one node and scales it to 0 at `scale_down_at`.
fn killing_events(scale_down_at: &str) -> (Vec<String>, usize) {
    let (_dir, mut sim) = common::twin_with_spec(
        "2m",
        &format!(
            "  nodes: [{{name: n, instanceType: m5.large, count: 1}}]\n  steps:\n    - {{at: {scale_down_at}, run: kubectl scale deployment web --replicas=0}}\n"
        ),
        MANIFESTS,
    );
    sim.run_checked().unwrap();
    let events = sim.recorder.events();
    let killing = events
        .iter()
        .filter(|e| e.reason == "Killing")
        .map(|e| e.message.clone())
        .collect();
    let started = events.iter().filter(|e| e.reason == "Started").count();
    (killing, started)
}

#[test]
fn running_containers_are_stopped_with_an_event_each() {
    let (mut killing, started) = killing_events("1m");
    assert_eq!(started, 4, "both pods' two containers started");
    killing.sort();
    assert_eq!(
        killing,
        [
            "Stopping container app",
            "Stopping container app",
            "Stopping container sidecar",
            "Stopping container sidecar"
        ]
    );
}

#[test]
fn a_pod_deleted_while_its_image_is_pulled_records_no_killing() {
    // The image pull takes 5 s (an uncached image), so at 1 s no container runs.
    let (killing, started) = killing_events("1s");
    assert_eq!(started, 0);
    assert!(killing.is_empty(), "{killing:?}");
}
