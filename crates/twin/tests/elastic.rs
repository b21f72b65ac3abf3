//! Elastic Pods (seed 000): every replication phase transition, in the twin.

use std::path::Path;
use std::sync::Arc;

use kscale_twin::scenario::Scenario;
use kscale_twin::sim::Sim;
use serde_json::Value;

fn run(path: &Path) -> Sim {
    let mut sim = Sim::new(Arc::new(Scenario::load(path).unwrap())).unwrap();
    sim.run_checked().unwrap();
    sim
}

fn example() -> Sim {
    run(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/elastic-pods/scenario.yaml"))
}

/// Events of one pod with a reason, as (time, message).
fn events(sim: &Sim, pod: &str, reason: &str) -> Vec<(f64, String)> {
    sim.recorder
        .events()
        .iter()
        .filter(|e| e.involved_object.name == pod && e.reason == reason)
        .map(|e| (e.time, e.message.clone()))
        .collect()
}

/// The transcript entry of the step at `at` seconds whose command contains `needle`.
fn step<'a>(sim: &'a Sim, at: f64, needle: &str) -> &'a kscale_report::TranscriptEntry {
    sim.recorder
        .transcript()
        .iter()
        .find(|t| t.at == at && t.command.contains(needle))
        .unwrap_or_else(|| panic!("no step at {at} with {needle}"))
}

fn statuses(pod: &Value) -> Vec<(String, i64)> {
    pod["status"]["containerStatuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["restartCount"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// Writes a scenario with one m5.large node and the given pod manifests and steps.
fn scenario(dir: &Path, extra_spec: &str, manifests: &str, steps: &str) -> std::path::PathBuf {
    std::fs::write(dir.join("m.yaml"), manifests).unwrap();
    let path = dir.join("s.yaml");
    std::fs::write(
        &path,
        format!(
            "apiVersion: kscale.io/v1alpha1\nkind: Scenario\nmetadata: {{name: t}}\nspec:\n  duration: 3m\n{extra_spec}  nodes: [{{name: node, instanceType: m5.large}}]\n  manifests: [m.yaml]\n  steps:\n{steps}"
        ),
    )
    .unwrap();
    path
}

const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: app}\nspec:\n  containers:\n  - name: app\n    image: debian:11\n    resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {cpu: 100m, memory: 64Mi}}\n";

#[test]
fn proposed_in_progress_unset_without_restart() {
    let sim = example();
    let proposed = events(&sim, "1pod", "ReplicationProposed");
    assert_eq!(
        proposed[0],
        (60.0, "Replication proposed: stress 1 -> 2".into())
    );
    let in_progress = events(&sim, "1pod", "ReplicationInProgress");
    assert!((in_progress[0].0 - 60.06).abs() < 1e-9, "{in_progress:?}");
    let done = events(&sim, "1pod", "Replicated");
    // Container start 0.3 s + PLEG relist (≤ 1 s) after the kubelet sees InProgress.
    assert!(done[0].0 > 60.4 && done[0].0 < 61.5, "{done:?}");
    let started = events(&sim, "1pod", "Started");
    assert!(
        started
            .iter()
            .any(|(t, m)| *t == done[0].0 && m == "Started container stress-1")
    );
    // `kubectl get` at 65 s: two instances ready, no restart.
    let get = step(&sim, 65.0, "get pod 1pod");
    assert!(
        get.stdout.contains("1pod   2/2     Running   0"),
        "{}",
        get.stdout
    );
    // 2pod: uid unchanged over scaling, injection and image swap; only the swapped
    // container counts a restart.
    let before: Value = serde_json::from_str(&step(&sim, 170.0, "get pod 2pod").stdout).unwrap();
    let after: Value = serde_json::from_str(&step(&sim, 660.0, "get pod 2pod").stdout).unwrap();
    assert_eq!(before["metadata"]["uid"], after["metadata"]["uid"]);
    assert_eq!(
        statuses(&before),
        vec![("stress".into(), 0), ("helper".into(), 0)]
    );
    assert_eq!(
        statuses(&after),
        vec![
            ("stress".into(), 0),
            ("stress-1".into(), 0),
            ("helper".into(), 1),
            ("helper-1".into(), 1),
            ("dpi".into(), 0)
        ]
    );
    assert_eq!(after["status"]["replicationPhase"], "Unset");
    let describe = step(&sim, 660.0, "describe pod 2pod");
    let field = |label: &str| -> Option<String> {
        describe
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix(label))
            .map(|v| v.trim().to_string())
    };
    assert_eq!(
        (field("Replication:"), field("Instances:")),
        (
            Some("Unset".into()),
            Some("stress, stress-1, helper, helper-1, dpi".into())
        ),
        "{}",
        describe.stdout
    );
    // The stress containers started once and were never stopped.
    let stress_started = events(&sim, "2pod", "Started")
        .into_iter()
        .filter(|(_, m)| m == "Started container stress")
        .count();
    assert_eq!(stress_started, 1);
    assert!(
        events(&sim, "2pod", "Killing")
            .iter()
            .all(|(_, m)| m.contains("helper")),
        "only the swapped container was stopped"
    );
}

#[test]
fn requests_sum_over_replicas_and_qos_follows() {
    let sim = example();
    let p = sim.pods.values().find(|p| &*p.name == "1pod").unwrap();
    // Final replica 3 × 200m / 256Mi.
    assert_eq!(p.template.requests.cpu_milli, 600);
    assert_eq!(p.template.requests.memory, 3 * (256 << 20));
    assert_eq!(p.template.qos.as_str(), "Guaranteed");
    let node = &sim.nodes["node"];
    // 1pod 600m + 2pod (2×100 + 2×100 + 50) = 1050m after the filler left.
    assert_eq!(node.info.requested.cpu_milli, 600 + 450);
}

#[test]
fn scale_to_zero_and_back() {
    let sim = example();
    let done = events(&sim, "1pod", "Replicated");
    assert!(done[1].0 > 120.0 && done[1].0 < 122.0);
    assert!(
        done[1].1.contains("0 container(s) started, 2 stopped"),
        "{done:?}"
    );
    assert!(done[2].0 > 150.0 && done[2].0 < 152.0);
    assert!(
        done[2].1.contains("1 container(s) started, 0 stopped"),
        "{done:?}"
    );
    // At zero the pod keeps running (same sandbox) but has nothing to be ready with.
    let get = step(&sim, 130.0, "get pod 1pod");
    assert!(
        get.stdout.contains("1pod   0/0     Running   0"),
        "{}",
        get.stdout
    );
    let killed = events(&sim, "1pod", "Killing");
    assert_eq!(killed.len(), 3, "2 at zero, 1 at 4 -> 3: {killed:?}");
}

#[test]
fn invalid_patches_fail_and_change_nothing() {
    let sim = example();
    let over = step(&sim, 240.0, "\"replica\":11");
    assert_eq!(over.exit_code, 1);
    assert_eq!(
        over.stderr.trim(),
        "The Pod \"1pod\" is invalid: spec.containers[0].replica: Invalid value: 11: must be less than or equal to 10"
    );
    let neg = step(&sim, 240.0, "\"replica\":-1");
    assert!(
        neg.stderr
            .contains("Invalid value: -1: must be greater than or equal to 0")
    );
    let typo = step(&sim, 240.0, "stres\"");
    assert!(
        typo.stderr.contains("Invalid value: \"stres\""),
        "{}",
        typo.stderr
    );
    assert!(
        events(&sim, "1pod", "ReplicationProposed")
            .iter()
            .all(|(t, _)| *t != 240.0),
        "a rejected patch is not proposed"
    );
}

#[test]
fn stays_proposed_until_room_appears() {
    let sim = example();
    let waiting = events(&sim, "1pod", "ReplicationWaiting");
    assert_eq!(waiting.len(), 1);
    assert!((waiting[0].0 - 300.06).abs() < 1e-9);
    assert!(waiting[0].1.contains("cpu 430m"), "{}", waiting[0].1);
    // At 5m30s the API shows the new spec (4), the old containers (1) and Proposed.
    let get: Value = serde_json::from_str(&step(&sim, 330.0, "get pod 1pod").stdout).unwrap();
    assert_eq!(get["status"]["replicationPhase"], "Proposed");
    assert_eq!(get["spec"]["containers"][0]["replica"], 4);
    assert_eq!(statuses(&get).len(), 1);
    // The filler is deleted at 6m; the request proceeds only once it is gone.
    let gone = sim
        .recorder
        .events()
        .iter()
        .find(|e| e.involved_object.name == "filler" && e.reason == "Killing")
        .unwrap()
        .time;
    assert_eq!(gone, 360.0);
    let in_progress = events(&sim, "1pod", "ReplicationInProgress");
    let after_wait: Vec<_> = in_progress
        .iter()
        .filter(|(t, _)| *t > 300.0 && *t < 420.0)
        .collect();
    assert_eq!(after_wait.len(), 1);
    assert!(
        after_wait[0].0 > 360.0 && after_wait[0].0 < 362.0,
        "{after_wait:?}"
    );
}

#[test]
fn infeasible_then_overridden_by_a_new_patch() {
    let sim = example();
    let inf = events(&sim, "1pod", "ReplicationInfeasible");
    assert_eq!(inf.len(), 1);
    assert!((inf[0].0 - 420.06).abs() < 1e-9);
    assert!(inf[0].1.contains("cpu 2, memory 2560Mi"), "{}", inf[0].1);
    // The Infeasible request was not processed: no container started between 7m and 8m.
    assert!(
        events(&sim, "1pod", "Started")
            .iter()
            .all(|(t, _)| !(420.0..480.0).contains(t))
    );
    // The 8m patch (3) goes back to Proposed and completes.
    let done = events(&sim, "1pod", "Replicated");
    let last = done.last().unwrap();
    assert!(last.0 > 480.0 && last.0 < 482.0);
    assert!(
        last.1.contains("0 container(s) started, 1 stopped"),
        "{last:?}"
    );
}

#[test]
fn status_writes_are_consolidated() {
    let sim = example();
    let s = sim.summary(None);
    let e = &s["elastic"];
    assert_eq!(e["completed"], 8, "{e}");
    // One write per replication instead of one per container change.
    assert_eq!(e["statusWrites"], 8);
    let unconsolidated = e["statusWritesWithoutConsolidation"].as_u64().unwrap();
    // 1 + 2 + 1 + 2 + 3 + 1 + 1 + 4 container changes.
    assert_eq!(unconsolidated, 15);
    assert_eq!(e["podsByPhase"]["Unset"], 2);
    // Nine accepted patches (the three rejected ones write nothing).
    assert_eq!(s["apiWrites"]["podPatch"], 9);
}

#[test]
fn timeout_keeps_the_running_containers() {
    let dir = tempfile::tempdir().unwrap();
    // A new sidecar whose image must be pulled (5 s) with a 2 s replication timeout.
    let path = scenario(
        dir.path(),
        "  elastic: {timeout: 2s}\n",
        POD,
        "  - at: 1m\n    run: kubectl patch pod app --patch '{\"spec\":{\"containers\":[{\"name\":\"dpi\",\"image\":\"dpi:1\",\"resources\":{\"requests\":{\"cpu\":\"100m\"}}}]}}'\n  - at: 2m\n    run: kubectl get pod app -o json\n",
    );
    let sim = run(&path);
    let t = events(&sim, "app", "ReplicationTimeout");
    assert_eq!(t.len(), 1);
    assert!((t[0].0 - 62.06).abs() < 1e-9, "{t:?}");
    assert!(events(&sim, "app", "Replicated").is_empty());
    let get: Value = serde_json::from_str(&step(&sim, 120.0, "get pod").stdout).unwrap();
    assert_eq!(get["status"]["replicationPhase"], "Timeout");
    assert_eq!(statuses(&get), vec![("app".into(), 0)]);
    // The room held while InProgress is given back.
    assert_eq!(sim.nodes["node"].info.requested.cpu_milli, 100);
}

#[test]
fn a_new_patch_overrides_one_in_progress() {
    let dir = tempfile::tempdir().unwrap();
    // InProgress at 60.06 s, the kubelet would finish after 60.46 s; the second patch lands at
    // 60.2 s, while the first is InProgress.
    let patch = |at: &str, n: u32| {
        format!(
            "  - at: {at}\n    run: kubectl patch pod app --patch '{{\"spec\":{{\"containers\":[{{\"name\":\"app\",\"replica\":{n}}}]}}}}'\n"
        )
    };
    let path = scenario(dir.path(), "", POD, &(patch("1m", 5) + &patch("60.2s", 2)));
    let sim = run(&path);
    let done = events(&sim, "app", "Replicated");
    assert_eq!(done.len(), 1, "{done:?}");
    assert!(done[0].1.contains("1 container(s) started"), "{done:?}");
    let p = sim.pods.values().next().unwrap();
    assert_eq!(p.template.containers[0].replica, 2);
    assert_eq!(sim.nodes["node"].info.requested.cpu_milli, 200);
    assert_eq!(events(&sim, "app", "ReplicationProposed").len(), 2);
    assert_eq!(sim.replication_phase(p.id).unwrap().as_str(), "Unset");
}

#[test]
fn deployment_template_replicas_start_with_the_pod() {
    let dir = tempfile::tempdir().unwrap();
    let dep = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: fn}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: fn}}\n  template:\n    metadata: {labels: {app: fn}}\n    spec:\n      containers:\n      - name: fn\n        image: fn:1\n        replica: 3\n        resources: {requests: {cpu: 100m, memory: 64Mi}}\n";
    let path = scenario(
        dir.path(),
        "",
        dep,
        "  - at: 1m\n    run: kubectl get pods\n",
    );
    let sim = run(&path);
    assert_eq!(sim.pods.len(), 2);
    for p in sim.pods.values() {
        assert_eq!(p.template.requests.cpu_milli, 300);
        assert_eq!(p.template.instances(), 3);
        let started = events(&sim, &p.name, "Started");
        assert_eq!(
            started.iter().map(|s| s.1.as_str()).collect::<Vec<_>>(),
            [
                "Started container fn",
                "Started container fn-1",
                "Started container fn-2"
            ]
        );
    }
    assert!(
        sim.recorder.transcript()[0]
            .stdout
            .contains("3/3     Running"),
        "{}",
        sim.recorder.transcript()[0].stdout
    );
}

#[test]
fn invalid_replica_in_a_manifest_names_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(
        dir.path(),
        "",
        &POD.replace(
            "    image: debian:11\n",
            "    image: debian:11\n    replica: 12\n",
        ),
        "  - at: 1m\n    run: kubectl get pods\n",
    );
    let err = Sim::new(Arc::new(Scenario::load(&path).unwrap()))
        .err()
        .expect("invalid replica is an input error")
        .to_string();
    assert!(err.contains("m.yaml"), "{err}");
    assert!(
        err.contains(
            "spec.containers[0].replica: Invalid value: 12: must be less than or equal to 10"
        ),
        "{err}"
    );
}

/// Seconds after the spike (at 120 s) until the load is served as offered with no backlog.
fn catch_up_seconds(sim: &Sim) -> f64 {
    let ts = sim.timeseries();
    let col = |name: &str| {
        ts.columns
            .iter()
            .position(|c| c == &format!("load/default/deployment/fn/{name}"))
            .unwrap()
    };
    let (b, s, o) = (col("backlog"), col("served_rps"), col("offered_rps"));
    ts.rows
        .iter()
        .find(|r| r[0] > 120.0 && r[b] < 1.0 && r[s] >= r[o] - 0.01)
        .map(|r| r[0] - 120.0)
        .expect("the load is caught up before the end")
}

#[test]
fn elastic_autoscaler_meets_the_spike_sooner_than_the_hpa() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/elastic-autoscaling");
    let hpa = run(&dir.join("hpa.yaml"));
    let ela = run(&dir.join("elastic.yaml"));
    let (h, e) = (catch_up_seconds(&hpa), catch_up_seconds(&ela));
    assert!(e + 20.0 <= h, "elastic {e}s vs HPA {h}s");
    let slo = |sim: &Sim| {
        sim.summary(None)["loads"][0]["sloViolationSeconds"]
            .as_f64()
            .unwrap()
    };
    assert!(slo(&ela) < slo(&hpa), "{} vs {}", slo(&ela), slo(&hpa));
    // Requests are conserved in both runs.
    for sim in [&hpa, &ela] {
        let l = &sim.summary(None)["loads"][0];
        let f = |k: &str| l[k].as_f64().unwrap();
        let lost = f("offeredRequests")
            - f("servedRequests")
            - f("droppedRequests")
            - f("rejectedRequests")
            - f("queuedAtEnd");
        assert!(lost.abs() < 1e-6, "{l}");
    }
    // The first rescales patch container replicas into the two running pods; pods are added
    // only once those are full (8 instances each).
    let rescales: Vec<_> = ela
        .recorder
        .events()
        .iter()
        .filter(|x| x.reason == "SuccessfulRescale")
        .map(|x| x.message.clone())
        .collect();
    assert!(
        rescales[0].starts_with("New size: 4 instances (1 pod(s) patched)"),
        "{rescales:?}"
    );
    let first_pods = rescales
        .iter()
        .position(|m| m.contains("Deployment fn to"))
        .unwrap();
    assert!(first_pods >= 2, "{rescales:?}");
    assert!(
        ela.summary(None)["pods"]["created"].as_u64().unwrap()
            < hpa.summary(None)["pods"]["created"].as_u64().unwrap()
    );
    // Fewer pod writes to the API server for the same surge.
    let writes = |sim: &Sim| sim.summary(None)["apiWrites"]["total"].as_u64().unwrap();
    assert!(writes(&ela) < writes(&hpa));
}

#[test]
fn elastic_autoscaler_spec_errors_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let bad = format!(
        "{POD}---\napiVersion: kscale.io/v1alpha1\nkind: ElasticPodAutoscaler\nmetadata: {{name: x}}\nspec:\n  scaleTargetRef: {{kind: Deployment, name: app}}\n  maxReplicasPerPod: 50\n  maxInstances: 10\n"
    );
    let path = scenario(
        dir.path(),
        "",
        &bad,
        "  - at: 1m\n    run: kubectl get pods\n",
    );
    let err = Sim::new(Arc::new(Scenario::load(&path).unwrap()))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("m.yaml"), "{err}");
    assert!(
        err.contains("spec.maxReplicasPerPod: Invalid value: 50"),
        "{err}"
    );
}
