//! The HPA in the twin, replaying seed 002 and a scale-down after the load falls.

use std::path::Path;
use std::sync::Arc;

use kscale_twin::scenario::Scenario;
use kscale_twin::sim::Sim;

#[test]
fn seed002_autoscale_one_pod_at_90_percent_gives_two() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/seed002/scenario.yaml");
    let mut sim = Sim::new(Arc::new(Scenario::load(&path).unwrap())).unwrap();
    sim.run_checked().unwrap();
    let rescales: Vec<_> = sim
        .recorder
        .events()
        .iter()
        .filter(|e| e.reason == "SuccessfulRescale")
        .collect();
    assert_eq!(rescales.len(), 1, "{rescales:?}");
    assert_eq!(
        rescales[0].message,
        "New size: 2; reason: cpu resource utilization (percentage of request) above target"
    );
    // v1.37 horizontal.go `enqueueHPA`: a new HPA is processed at once (measured on a real
    // v1.37.2 control plane with `kscale run --cluster`: the rescale within a second).
    assert!(
        rescales[0].time > 120.0 && rescales[0].time < 121.0,
        "at once after the autoscale step: {}",
        rescales[0].time
    );
    let hpa = &sim.recorder.transcript()[1];
    assert!(hpa.stdout.contains("cpu: 45%/50%"), "{}", hpa.stdout);
    assert_eq!(sim.pods.values().filter(|p| p.is_ready()).count(), 2);
}

#[test]
fn scales_down_after_the_stabilization_window() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("m.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers:\n      - {name: c, image: app, resources: {requests: {cpu: 100m}, limits: {cpu: '1'}}}\n---\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: web}\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n  minReplicas: 1\n  maxReplicas: 10\n  metrics:\n  - type: Resource\n    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("s.yaml"),
        "apiVersion: kscale.io/v1alpha1\nkind: Scenario\nmetadata: {name: hpa}\nspec:\n  duration: 30m\n  nodes: [{name: n, instanceType: m5.xlarge, count: 2}]\n  manifests: [m.yaml]\n  load:\n    - target: deployment/web\n      requestsPerSecond: {steps: [{at: 0s, value: 20}, {at: 10m, value: 2}]}\n      cpuPerRequest: 10m\n",
    )
    .unwrap();
    let mut sim = Sim::new(Arc::new(
        Scenario::load(&dir.path().join("s.yaml")).unwrap(),
    ))
    .unwrap();
    sim.run_checked().unwrap();
    let ts = sim.timeseries();
    let col = ts.column("deploy/default/web/desired").unwrap();
    let at = |s: f64| ts.rows.iter().find(|r| r[0] >= s).unwrap()[col];
    // 20 req/s × 10m = 200m over a 100m request = 200% → 4 replicas (legacy cap max(2·1, 4)).
    assert_eq!(at(300.0), 4.0);
    // Load drops at 10 min; the 5-minute downscale stabilization keeps 4 until ~15 min.
    assert_eq!(at(780.0), 4.0);
    assert_eq!(at(1500.0), 1.0, "scaled down to min after the window");
}

#[test]
fn a_new_hpa_holds_a_scale_down_for_its_stabilization_window() {
    // horizontal.go recordInitialRecommendation: the first sync records the current count (5),
    // so although 2 req/s of 10m over 5 × 100m asks for 1 replica at once, the HPA keeps 5
    // for the 5-minute downscale window and only then scales down.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("m.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 5\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers:\n      - {name: c, image: app, resources: {requests: {cpu: 100m}}}\n---\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: web}\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n  minReplicas: 1\n  maxReplicas: 10\n  metrics:\n  - type: Resource\n    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("s.yaml"),
        "apiVersion: kscale.io/v1alpha1\nkind: Scenario\nmetadata: {name: hpa}\nspec:\n  duration: 15m\n  nodes: [{name: n, instanceType: m5.xlarge, count: 2}]\n  manifests: [m.yaml]\n  load:\n    - target: deployment/web\n      requestsPerSecond: {steps: [{at: 0s, value: 2}]}\n      cpuPerRequest: 10m\n",
    )
    .unwrap();
    let mut sim = Sim::new(Arc::new(
        Scenario::load(&dir.path().join("s.yaml")).unwrap(),
    ))
    .unwrap();
    sim.run_checked().unwrap();
    let (t, size) = first_rescale(&sim);
    assert_eq!(size, 1, "scaled down to min");
    assert!(
        (300.0..=330.0).contains(&t),
        "not before the window from the first sync: {t}"
    );
}

#[test]
fn a_spec_change_syncs_at_once_and_keeps_the_period() {
    // `kubectl patch` of maxReplicas at 5m10s (between two periodic syncs): the HPA syncs at
    // once and caps web at the new maximum, then goes on syncing on its 15 s period.
    let sim = web_with_hpa(
        "{requests: {cpu: 100m}}",
        "    - {at: 5m10s, run: \"kubectl patch hpa web -p '{\\\"spec\\\":{\\\"maxReplicas\\\":2}}'\"}\n",
    );
    assert_eq!(
        sim.recorder.transcript()[0].exit_code,
        0,
        "{}",
        sim.recorder.transcript()[0].stderr
    );
    let down: Vec<_> = sim
        .recorder
        .events()
        .iter()
        .filter(|e| e.reason == "SuccessfulRescale" && e.time > 310.0)
        .collect();
    assert!(!down.is_empty());
    assert!(down[0].time < 311.0, "at once: {}", down[0].time);
    assert!(
        down[0].message.starts_with("New size: 2;"),
        "{}",
        down[0].message
    );
}

/// A twin of a Deployment `web` (1 replica, `requests` as given) with a CPU-utilization HPA,
/// 20 req/s of 10m each and the given kubectl steps.
fn web_with_hpa(requests: &str, steps: &str) -> Sim {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("m.yaml"),
        format!("apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web}}\nspec:\n  replicas: 1\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec:\n      containers:\n      - {{name: c, image: app, resources: {requests}}}\n---\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {{name: web}}\nspec:\n  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: web}}\n  minReplicas: 1\n  maxReplicas: 10\n  metrics:\n  - type: Resource\n    resource: {{name: cpu, target: {{type: Utilization, averageUtilization: 50}}}}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("s.yaml"),
        format!("apiVersion: kscale.io/v1alpha1\nkind: Scenario\nmetadata: {{name: hpa}}\nspec:\n  duration: 20m\n  nodes: [{{name: n, instanceType: m5.4xlarge, count: 2}}]\n  manifests: [m.yaml]\n  load:\n    - target: deployment/web\n      requestsPerSecond: {{steps: [{{at: 0s, value: 20}}]}}\n      cpuPerRequest: 10m\n  steps:\n{steps}"),
    )
    .unwrap();
    let mut sim = Sim::new(Arc::new(
        Scenario::load(&dir.path().join("s.yaml")).unwrap(),
    ))
    .unwrap();
    sim.run_checked().unwrap();
    sim
}

/// `status` of the HPA as the transcript's `kubectl get hpa web -o json` at step `i` shows it.
fn hpa_status(sim: &Sim, i: usize) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(&sim.recorder.transcript()[i].stdout).unwrap();
    v["status"].clone()
}

/// The condition of type `t` in an HPA `status`.
fn condition(status: &serde_json::Value, t: &str) -> serde_json::Value {
    status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == t)
        .cloned()
        .unwrap_or_else(|| panic!("no {t} condition in {status}"))
}

/// The first SuccessfulRescale event's time and new size.
fn first_rescale(sim: &Sim) -> (f64, i64) {
    let e = sim
        .recorder
        .events()
        .iter()
        .find(|e| e.reason == "SuccessfulRescale")
        .expect("the HPA scaled up");
    let size = e
        .message
        .strip_prefix("New size: ")
        .and_then(|m| m.split(';').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{}", e.message));
    (e.time, size)
}

/// When the metrics fail, the status keeps its previous desiredReplicas, as upstream's
/// `setCurrentReplicasAndMetricsInStatus` writes only the current replicas and metrics: 0 for
/// an HPA that never computed one (its pods request no CPU: every sync fails). The current
/// replicas are the target's `spec.replicas`.
#[test]
fn failed_metrics_keep_the_previous_desired_replicas() {
    let sim = web_with_hpa("{}", "    - {at: 5m, run: kubectl get hpa web -o json}\n");
    assert!(
        sim.recorder
            .events()
            .iter()
            .any(|e| e.reason == "FailedComputeMetricsReplicas"),
        "the metrics fail"
    );
    let status = hpa_status(&sim, 0);
    assert_eq!(status["currentReplicas"], 1, "{status}");
    assert_eq!(status["desiredReplicas"], 0, "{status}");
    let ts = sim.timeseries();
    let col = ts.column("hpa/default/web/desired").unwrap();
    assert!(ts.rows.iter().all(|r| r[col] == 0.0));

    // An HPA that scaled to 4 and then loses its metrics (every pod replaced while the
    // Deployment is scaled to 7 by hand) keeps 4 until it computes again.
    let sim = web_with_hpa(
        "{requests: {cpu: 100m}}",
        "    - {at: 10m, run: kubectl scale deployment web --replicas=7}\n    - {at: 10m, run: kubectl delete pods -l app=web}\n    - {at: 10m1s, run: kubectl get hpa web -o json}\n    - {at: 10m20s, run: kubectl get hpa web -o json}\n",
    );
    let before = hpa_status(&sim, 2);
    assert_eq!(before["desiredReplicas"], 4, "{before}");
    // currentReplicas is the scale's spec.replicas the sync read, not the pods (none yet).
    assert_eq!(before["currentReplicas"], 7, "{before}");
    let failed = hpa_status(&sim, 3);
    assert_eq!(failed["currentReplicas"], 7, "{failed}");
    assert_eq!(failed["desiredReplicas"], 4, "{failed}");
}

/// The conditions as upstream's `setConditionInList` keeps them: a condition's
/// lastTransitionTime moves only when its status changes; a rescale's AbleToScale message names
/// the new size; a status that would show nothing new is not written again
/// (`updateStatusIfNeeded`), so the object's resourceVersion holds.
#[test]
fn conditions_keep_their_transition_time_while_their_status_holds() {
    let sim = web_with_hpa(
        "{requests: {cpu: 100m}}",
        "    - {at: 8m, run: kubectl get hpa web -o json}\n    - {at: 12m, run: kubectl get hpa web -o json}\n",
    );
    let json = |i: usize| -> serde_json::Value {
        serde_json::from_str(&sim.recorder.transcript()[i].stdout).unwrap()
    };
    let (a, b) = (json(0), json(1));
    let cond = |v: &serde_json::Value, t: &str| condition(&v["status"], t);
    let types: Vec<&str> = a["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    // In upstream's order, as a real v1.37.2 controller lists them.
    assert_eq!(
        types,
        [
            "AbleToScale",
            "ScalingActive",
            "ScalingLimited",
            "ScaledToZero"
        ]
    );
    for t in [
        "AbleToScale",
        "ScalingActive",
        "ScalingLimited",
        "ScaledToZero",
    ] {
        let (x, y) = (cond(&a, t), cond(&b, t));
        assert_eq!(x["status"], y["status"], "{t}");
        assert_eq!(
            x["lastTransitionTime"], y["lastTransitionTime"],
            "{t}: the status held from 8 to 12 minutes"
        );
    }
    // The first valid metrics came at a sync after the start, so ScalingActive turned True
    // later than the conditions were first set.
    let start = cond(&a, "AbleToScale")["lastTransitionTime"].clone();
    assert!(
        cond(&a, "ScalingActive")["lastTransitionTime"].as_str() >= start.as_str(),
        "{a}"
    );
    let (_, size) = first_rescale(&sim);
    assert_eq!(a["status"]["desiredReplicas"], size);
    // At steady load nothing the status shows changes between 8 and 12 minutes.
    assert_eq!(cond(&b, "AbleToScale")["reason"], "ReadyForNewScale");
    assert_eq!(
        a["metadata"]["resourceVersion"], b["metadata"]["resourceVersion"],
        "an unchanged status is not written again"
    );
}

/// The AbleToScale condition right after a rescale names the new size, as upstream words it;
/// the next syncs, holding the size, say ReadyForNewScale without a new transition time.
#[test]
fn a_rescale_names_its_size_in_able_to_scale() {
    let (time, size) = first_rescale(&web_with_hpa("{requests: {cpu: 100m}}", "    []\n"));
    // The same run (a read changes nothing) with the object read 1 s after that sync and
    // again at 19 minutes.
    let at = time + 1.0;
    let sim = web_with_hpa(
        "{requests: {cpu: 100m}}",
        &format!(
            "    - {{at: {at}s, run: kubectl get hpa web -o json}}\n    - {{at: 19m, run: kubectl get hpa web -o json}}\n"
        ),
    );
    let able = |i: usize| condition(&hpa_status(&sim, i), "AbleToScale");
    let (just, later) = (able(0), able(1));
    assert_eq!(just["reason"], "SucceededRescale", "{just}");
    assert_eq!(
        just["message"],
        format!("the HPA controller was able to update the target scale to {size}")
    );
    assert_eq!(later["reason"], "ReadyForNewScale", "{later}");
    assert_eq!(later["lastTransitionTime"], just["lastTransitionTime"]);
    // v1.37 (as a real v1.37.2 controller writes it): every rescale sets ScaledToZero, and
    // the status names the generation it observed.
    let zero = condition(&hpa_status(&sim, 0), "ScaledToZero");
    assert_eq!(
        (&zero["status"], &zero["reason"], &zero["message"]),
        (
            &serde_json::json!("False"),
            &serde_json::json!("NotScaledToZero"),
            &serde_json::json!("the HPA controller did not scale the workload to zero")
        )
    );
    assert_eq!(hpa_status(&sim, 1)["observedGeneration"], 1);
}

/// A target that is gone: AbleToScale turns False with upstream's FailedGetScale wording, at
/// the first sync after the deletion, and the rest of the status stays as it was.
#[test]
fn a_missing_target_turns_able_to_scale_false() {
    let sim = web_with_hpa(
        "{requests: {cpu: 100m}}",
        "    - {at: 5m, run: kubectl get hpa web -o json}\n    - {at: 5m, run: kubectl delete deployment web}\n    - {at: 6m, run: kubectl get hpa web -o json}\n",
    );
    let (before, after) = (hpa_status(&sim, 0), hpa_status(&sim, 2));
    let able = condition(&after, "AbleToScale");
    assert_eq!(able["status"], "False", "{after}");
    assert_eq!(able["reason"], "FailedGetScale");
    assert!(
        able["message"]
            .as_str()
            .unwrap()
            .starts_with("the HPA controller was unable to get the target's current scale: "),
        "{able}"
    );
    let was = condition(&before, "AbleToScale")["lastTransitionTime"].clone();
    assert!(
        able["lastTransitionTime"].as_str() > was.as_str(),
        "the status changed, so did its transition time: {able} after {was}"
    );
    assert_eq!(after["desiredReplicas"], before["desiredReplicas"]);
    assert_eq!(after["currentMetrics"], before["currentMetrics"]);
    assert!(
        sim.recorder
            .events()
            .iter()
            .any(|e| e.reason == "FailedGetScale")
    );
}
