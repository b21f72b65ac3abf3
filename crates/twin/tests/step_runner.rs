//! Steps that last: `kubectl rollout status` (kubectl's status lines as the rollout
//! progresses, the final line, errors and timeouts) and `kubectl wait`; steps due meanwhile
//! run after them, in order.

mod common;

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
    let (_dir, mut sim) = common::twin_with_spec(
        "3m",
        &format!("  nodes: [{{name: n, instanceType: m5.large, count: 2}}]\n  steps:\n{steps}"),
        MANIFESTS,
    );
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

#[test]
fn wait_for_conditions_deletion_and_timeouts() {
    let sim = run(
        "    - {at: 1s, run: kubectl wait --for=condition=Ready pod -l app=web --timeout=60s}
    - {at: 1s, run: kubectl get deployment web}
    - {at: 1m, run: kubectl wait deployment/web --for=condition=Available}
    - {at: 1m, run: kubectl wait --for=condition=Ready pod -l app=nope}
    - {at: 1m, run: kubectl scale deployment web --replicas=5}
    - {at: 61s, run: kubectl wait --for=condition=Ready pod -l app=web --timeout=2s}
    - {at: 2m, run: kubectl wait --for=condition=Ready pod -l app=web --timeout=0}
    - {at: 2m, run: kubectl scale deployment web --replicas=0}
    - {at: 2m, run: kubectl wait --for=delete pod -l app=web}
    - {at: 2m30s, run: kubectl wait --for=delete pod/gone}
    - {at: 2m40s, run: kubectl scale deployment web --replicas=2}
    - {at: 2m40s, run: \"kubectl wait deploy/web --for=jsonpath='{.status.readyReplicas}'=2\"}
",
    );
    let t = sim.recorder.transcript();
    for s in t {
        eprintln!(
            "{} $ {} ({})\n{}{}",
            s.at, s.command, s.exit_code, s.stdout, s.stderr
        );
    }
    // Three pods, each ready 5 s after its start: a line per pod, by name.
    let ready = &t[0];
    assert_eq!(ready.exit_code, 0, "{}", ready.stderr);
    let lines: Vec<&str> = ready.stdout.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("pod/web-") && l.ends_with(" condition met"))
    );
    // The get waited for it.
    assert!(t[1].at > 5.0, "{}", t[1].at);
    assert_eq!(t[2].stdout, "deployment.apps/web condition met\n");
    assert_eq!(
        (t[3].exit_code, t[3].stderr.as_str()),
        (1, "error: no matching resources found\n")
    );
    // Two new pods are not ready within 2 s.
    let timeout = &t[5];
    assert_eq!(timeout.exit_code, 1);
    assert!(
        timeout
            .stderr
            .starts_with("error: timed out waiting for the condition on pods/web-"),
        "{}",
        timeout.stderr
    );
    assert_eq!(t[6].exit_code, 0, "{}", t[6].stderr);
    let deleted = &t[8];
    assert_eq!(deleted.exit_code, 0, "{}", deleted.stderr);
    assert_eq!(deleted.stdout.lines().count(), 5, "{}", deleted.stdout);
    assert!(deleted.at == 120.0);
    // Nothing to wait for.
    assert_eq!((t[9].exit_code, t[9].stdout.as_str()), (0, ""));
    let jp = &t[11];
    assert_eq!(
        (jp.exit_code, jp.stdout.as_str()),
        (0, "deployment.apps/web condition met\n"),
        "{}",
        jp.stderr
    );
}
