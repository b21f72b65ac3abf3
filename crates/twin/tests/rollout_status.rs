//! `kubectl rollout status` steps: kubectl's status lines as the rollout progresses, the
//! final line, errors and timeouts; steps due meanwhile run after it, in order.

use std::sync::Arc;

use kscale_twin::scenario::Scenario;
use kscale_twin::sim::Sim;

const MANIFESTS: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  strategy: {rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: app
        image: nginx:1.27
        resources: {requests: {cpu: 100m, memory: 64Mi}}
        readinessProbe: {httpGet: {path: /, port: 80}, initialDelaySeconds: 5, periodSeconds: 2}
";

fn run(steps: &str) -> Sim {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.yaml"), MANIFESTS).unwrap();
    let scenario = format!(
        "\
apiVersion: kscale.io/v1alpha1
kind: Scenario
metadata: {{name: rollout}}
spec:
  duration: 3m
  nodes: [{{name: n, instanceType: m5.large, count: 2}}]
  manifests: [m.yaml]
  steps:
{steps}"
    );
    std::fs::write(dir.path().join("s.yaml"), scenario).unwrap();
    let mut sim = Sim::new(Arc::new(
        Scenario::load(&dir.path().join("s.yaml")).unwrap(),
    ))
    .unwrap();
    sim.run_checked().unwrap();
    sim
}

#[test]
fn a_rollout_is_watched_to_its_end_and_later_steps_wait_for_it() {
    let sim = run(
        "    - {at: 1m, run: kubectl set image deployment/web app=nginx:1.28}
    - {at: 1m, run: kubectl rollout status deployment/web}
    - {at: 1m, run: kubectl get deployment web}
",
    );
    let t = sim.recorder.transcript();
    for s in t {
        eprintln!("{} $ {}\n{}{}", s.at, s.command, s.stdout, s.stderr);
    }
    assert_eq!(t.len(), 3);
    let status = &t[1];
    assert_eq!(status.command, "kubectl rollout status deployment/web");
    assert_eq!(status.exit_code, 0, "{}{}", status.stdout, status.stderr);
    assert_eq!(status.at, 60.0);
    let lines: Vec<&str> = status.stdout.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some(
            "Waiting for deployment \"web\" rollout to finish: 0 out of 3 new replicas have been updated..."
        ),
        "{}",
        status.stdout
    );
    assert_eq!(
        lines.last().copied(),
        Some("deployment \"web\" successfully rolled out")
    );
    // One new pod at a time (maxSurge 1, maxUnavailable 0): every count on the way.
    for expected in [
        "Waiting for deployment \"web\" rollout to finish: 1 out of 3 new replicas have been updated...",
        "Waiting for deployment \"web\" rollout to finish: 2 out of 3 new replicas have been updated...",
        "Waiting for deployment \"web\" rollout to finish: 1 old replicas are pending termination...",
    ] {
        assert!(lines.contains(&expected), "{expected}\n{}", status.stdout);
    }
    // The get ran when the rollout was done: each new pod takes its 5 s readiness delay.
    let get = &t[2];
    assert!(get.at > 75.0, "{}", get.at);
    assert!(
        get.stdout.contains("web    3/3     3            3"),
        "{}",
        get.stdout
    );
}

#[test]
fn done_at_once_not_found_no_watch_and_timeouts() {
    let sim = run("    - {at: 30s, run: kubectl rollout status deploy/web}
    - {at: 31s, run: kubectl rollout status deploy/nope}
    - {at: 32s, run: kubectl rollout status deploy/web --watch=false}
    - {at: 1m, run: kubectl scale deploy/web --replicas=6}
    - {at: 1m, run: kubectl rollout status deploy/web --timeout=2s}
    - {at: 1m, run: kubectl rollout status rs/web}
");
    let t = sim.recorder.transcript();
    assert_eq!(t[0].stdout, "deployment \"web\" successfully rolled out\n");
    assert_eq!((t[0].exit_code, t[0].at), (0, 30.0));
    assert_eq!(t[1].exit_code, 1);
    assert_eq!(
        t[1].stderr,
        "Error from server (NotFound): deployments.apps \"nope\" not found\n"
    );
    assert_eq!(t[2].stdout, "deployment \"web\" successfully rolled out\n");
    // Scaled up: the new pods are not available within 2 s.
    let timed_out = &t[4];
    assert_eq!(timed_out.exit_code, 1);
    assert_eq!(
        timed_out.stderr,
        "error: timed out waiting for the condition\n"
    );
    assert!(
        timed_out
            .stdout
            .ends_with("Waiting for deployment \"web\" rollout to finish: 3 of 6 updated replicas are available...\n"),
        "{}",
        timed_out.stdout
    );
    // A line per change of the object, not per reading.
    assert!(
        timed_out.stdout.lines().count() <= 3,
        "{}",
        timed_out.stdout
    );
    // The next step ran when the timeout ended the one before.
    assert_eq!(t[5].at, 62.0);
    // kubectl reads the object before it looks for a status viewer.
    assert_eq!(
        t[5].stderr,
        "Error from server (NotFound): replicasets.apps \"web\" not found\n"
    );
}

#[test]
fn a_step_still_watching_at_the_end_is_cut_off() {
    let sim = run(
        "    - {at: 2m59s, run: kubectl scale deploy/web --replicas=5}
    - {at: 2m59s, run: kubectl rollout status deploy/web}
",
    );
    let t = sim.recorder.transcript();
    assert_eq!(t.len(), 2);
    assert_eq!(t[1].exit_code, 1);
    assert_eq!(
        t[1].stderr,
        "error: the run ended before the step finished\n"
    );
}
