//! The node OOM killer: when the pods on a node use more memory than it has, the kernel kills
//! the container with the highest OOM score at once, before the kubelet's next eviction check.

mod common;

use kscale_model::SimTime;

/// One m5.large; `hog` (Burstable: 256Mi requested, no limit) grows to `hog_gib` GiB under
/// its load; `steady` is Guaranteed (1Gi) and uses 900Mi.
fn twin(hog_gib: u32) -> (tempfile::TempDir, kscale_twin::sim::Sim) {
    let dir = tempfile::tempdir().unwrap();
    let deployment = |name: &str, resources: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}}}\nspec:\n  replicas: 1\n  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec:\n      containers:\n      - {{name: {name}, image: app, resources: {resources}}}\n"
        )
    };
    std::fs::write(
        dir.path().join("m.yaml"),
        format!(
            "{}---\n{}",
            deployment("hog", "{requests: {cpu: 100m, memory: 256Mi}}"),
            deployment(
                "steady",
                "{requests: {cpu: 100m, memory: 1Gi}, limits: {cpu: 100m, memory: 1Gi}}"
            )
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("s.yaml"),
        format!(
            "apiVersion: kscale.io/v1alpha1\nkind: Scenario\nmetadata: {{name: oom}}\nspec:\n  duration: 2m\n  nodes: [{{name: n, instanceType: m5.large, count: 1}}]\n  manifests: [m.yaml]\n  load:\n  - {{target: deployment/hog, requestsPerSecond: {{steps: [{{at: 0s, value: 1}}]}}, cpuPerRequest: 1m, memory: {{base: {hog_gib}Gi}}}}\n  - {{target: deployment/steady, requestsPerSecond: {{steps: [{{at: 0s, value: 1}}]}}, cpuPerRequest: 1m, memory: {{base: 900Mi}}}}\n"
        ),
    )
    .unwrap();
    let sim = kscale_twin::sim::Sim::new(std::sync::Arc::new(
        kscale_twin::scenario::Scenario::load(&dir.path().join("s.yaml")).unwrap(),
    ))
    .unwrap();
    (dir, sim)
}

fn events<'a>(sim: &'a kscale_twin::sim::Sim, reason: &str) -> Vec<(f64, &'a str, &'a str)> {
    sim.recorder
        .events()
        .iter()
        .filter(|e| e.reason == reason)
        .map(|e| (e.time, e.involved_object.name.as_str(), e.message.as_str()))
        .collect()
}

#[test]
fn the_kernel_kills_the_highest_oom_score_at_once() {
    let (_dir, mut sim) = twin(9);
    sim.run_until(SimTime::from_secs(60));
    let system = events(&sim, "SystemOOM");
    assert!(!system.is_empty(), "the node ran out of memory");
    assert!(
        system[0]
            .2
            .starts_with("System OOM encountered, victim process: hog, pid: "),
        "{system:?}"
    );
    let killed = events(&sim, "OOMKilled");
    assert!(
        killed.iter().all(|(_, pod, _)| pod.starts_with("hog-")),
        "{killed:?}"
    );
    assert!(
        killed[0].2.contains("(the node ran out of memory)"),
        "{killed:?}"
    );
    // Killed within a second of running over, before the kubelet's 10 s eviction check.
    let started = sim
        .recorder
        .events()
        .iter()
        .find(|e| e.reason == "Started" && e.involved_object.name.starts_with("hog-"))
        .unwrap()
        .time;
    assert!(
        killed[0].0 - started <= 2.0,
        "{} after {started}",
        killed[0].0
    );
    assert!(
        events(&sim, "Evicted")
            .iter()
            .all(|(t, _, _)| *t > killed[0].0)
    );
}

#[test]
fn pods_that_fit_are_left_alone() {
    let (_dir, mut sim) = twin(4);
    sim.run_until(SimTime::from_secs(100));
    assert!(events(&sim, "SystemOOM").is_empty());
    assert!(events(&sim, "OOMKilled").is_empty());
}
