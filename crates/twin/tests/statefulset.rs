//! StatefulSets in the twin (kube-controller-manager's StatefulSet controller): ordered
//! creation and scale-down, Parallel pod management, rolling updates from the highest
//! ordinal, garbage collection, and an HPA scaling a set that a load aims at.

mod common;

use kscale_model::SimTime;
use kscale_twin::sim::Sim;
use kscale_twin::sim::store::ObjKey;
use serde_json::Value;

/// A StatefulSet `web` of `replicas` pods requesting 200m CPU, with extra spec lines `spec`
/// (indented two spaces, each ending in a newline).
fn statefulset(replicas: u32, spec: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: web}}
spec:
  serviceName: web
  replicas: {replicas}
{spec}  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
        - {{name: c, image: nginx, resources: {{requests: {{cpu: 200m, memory: 64Mi}}}}}}
"
    )
}

const NODES: &str = "  nodes: [{name: a, instanceType: m5.xlarge, count: 2}]\n";

/// The controller's events in order: (time in s, reason, message).
fn controller_events(sim: &Sim) -> Vec<(f64, String, String)> {
    sim.recorder
        .events()
        .iter()
        .filter(|e| e.source == "statefulset-controller")
        .map(|e| (e.time, e.reason.clone(), e.message.clone()))
        .collect()
}

/// The set's rendered status.
fn status(sim: &Sim) -> Value {
    let key = ObjKey::new("StatefulSet", "default", "web");
    let v = sim.store.get(&key).unwrap().clone();
    sim.render_stored(&key, &v)["status"].clone()
}

/// When each pod of the set became Ready, by name.
fn ready_at(sim: &Sim) -> Vec<(String, Option<SimTime>)> {
    let mut pods: Vec<(String, Option<SimTime>)> = sim
        .pods
        .values()
        .filter(|p| p.deleting_at.is_none())
        .map(|p| (p.name.to_string(), p.ready_at))
        .collect();
    pods.sort();
    pods
}

#[test]
fn ordered_ready_creates_each_pod_once_its_predecessor_is_ready() {
    let (_d, mut sim) = common::twin_with_spec("2m", NODES, &statefulset(3, ""));
    sim.run_until(SimTime::from_millis(110_000));
    let pods = ready_at(&sim);
    assert_eq!(
        pods.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["web-0", "web-1", "web-2"]
    );
    let events = controller_events(&sim);
    let created: Vec<(f64, &str)> = events
        .iter()
        .filter(|e| e.1 == "SuccessfulCreate")
        .map(|e| (e.0, e.2.as_str()))
        .collect();
    assert_eq!(
        created.iter().map(|c| c.1).collect::<Vec<_>>(),
        [
            "Create Pod web-0 in StatefulSet web successful",
            "Create Pod web-1 in StatefulSet web successful",
            "Create Pod web-2 in StatefulSet web successful"
        ]
    );
    // Each pod is created only after its predecessor became Ready.
    for i in 1..3 {
        let before = pods[i - 1].1.expect("ready").as_millis() as f64 / 1000.0;
        assert!(
            created[i].0 >= before,
            "web-{i} created at {} before web-{} was ready at {before}",
            created[i].0,
            i - 1
        );
    }
    let st = status(&sim);
    assert_eq!(st["replicas"], 3);
    assert_eq!(st["readyReplicas"], 3);
    assert_eq!(st["availableReplicas"], 3);
    assert_eq!(st["currentRevision"], st["updateRevision"]);
    // The identity the controller gives each pod.
    let pod = sim
        .pods
        .values()
        .find(|p| &*p.name == "web-1")
        .map(|p| sim.render_pod(p))
        .expect("web-1");
    let labels = &pod["metadata"]["labels"];
    assert_eq!(labels["statefulset.kubernetes.io/pod-name"], "web-1");
    assert_eq!(labels["apps.kubernetes.io/pod-index"], "1");
    assert_eq!(labels["controller-revision-hash"], st["updateRevision"]);
    assert_eq!(pod["spec"]["hostname"], "web-1");
    assert_eq!(pod["spec"]["subdomain"], "web");
    assert_eq!(pod["metadata"]["ownerReferences"][0]["kind"], "StatefulSet");
    assert!(pod["metadata"].get("generateName").is_none());
}

#[test]
fn parallel_creates_every_pod_at_once() {
    let (_d, mut sim) = common::twin_with_spec(
        "1m",
        NODES,
        &statefulset(3, "  podManagementPolicy: Parallel\n"),
    );
    sim.run_until(SimTime::from_millis(50_000));
    let created: Vec<f64> = controller_events(&sim)
        .iter()
        .filter(|e| e.1 == "SuccessfulCreate")
        .map(|e| e.0)
        .collect();
    assert_eq!(created.len(), 3);
    assert!(created.iter().all(|t| *t == created[0]), "{created:?}");
    assert_eq!(status(&sim)["readyReplicas"], 3);
}

#[test]
fn scale_down_removes_the_highest_ordinal_first_one_at_a_time() {
    let spec = format!(
        "{NODES}  steps:\n    - at: 90s\n      run: kubectl scale statefulset web --replicas=1\n"
    );
    let (_d, mut sim) = common::twin_with_spec("4m", &spec, &statefulset(3, ""));
    sim.run_until(SimTime::from_millis(230_000));
    let deleted: Vec<(f64, String)> = controller_events(&sim)
        .into_iter()
        .filter(|e| e.1 == "SuccessfulDelete")
        .map(|e| (e.0, e.2))
        .collect();
    assert_eq!(
        deleted.iter().map(|d| d.1.as_str()).collect::<Vec<_>>(),
        [
            "Delete Pod web-2 in StatefulSet web successful",
            "Delete Pod web-1 in StatefulSet web successful"
        ]
    );
    // web-1 goes only after web-2 is gone: its graceful termination (30 s at most) separates
    // them.
    assert!(deleted[1].0 > deleted[0].0, "{deleted:?}");
    assert_eq!(
        ready_at(&sim)
            .iter()
            .map(|p| p.0.as_str())
            .collect::<Vec<_>>(),
        ["web-0"]
    );
    assert_eq!(status(&sim)["replicas"], 1);
}

#[test]
fn a_template_change_rolls_from_the_highest_ordinal_and_completes_the_revision() {
    let patch =
        r#"'{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"nginx:1.27"}]}}}}'"#;
    let spec = format!(
        "{NODES}  steps:\n    - at: 90s\n      run: >-\n        kubectl patch statefulset web -p {patch}\n"
    );
    let (_d, mut sim) = common::twin_with_spec("6m", &spec, &statefulset(3, ""));
    sim.run_until(SimTime::from_millis(89_000));
    let before = status(&sim);
    sim.run_until(SimTime::from_millis(350_000));
    let order: Vec<String> = controller_events(&sim)
        .into_iter()
        .filter(|e| e.0 > 90.0)
        .map(|e| e.2)
        .collect();
    assert_eq!(
        order,
        [
            "Delete Pod web-2 in StatefulSet web successful",
            "Create Pod web-2 in StatefulSet web successful",
            "Delete Pod web-1 in StatefulSet web successful",
            "Create Pod web-1 in StatefulSet web successful",
            "Delete Pod web-0 in StatefulSet web successful",
            "Create Pod web-0 in StatefulSet web successful",
        ]
    );
    let after = status(&sim);
    assert_ne!(after["updateRevision"], before["updateRevision"]);
    assert_eq!(after["currentRevision"], after["updateRevision"]);
    assert_eq!(after["updatedReplicas"], 3);
    assert_eq!(after["currentReplicas"], 3);
    assert!(
        sim.pods
            .values()
            .all(|p| p.template.containers[0].image == "nginx:1.27")
    );
}

#[test]
fn deleting_the_set_deletes_its_pods() {
    let spec =
        format!("{NODES}  steps:\n    - at: 60s\n      run: kubectl delete statefulset web\n");
    let (_d, mut sim) = common::twin_with_spec("3m", &spec, &statefulset(2, ""));
    sim.run_until(SimTime::from_millis(170_000));
    assert!(sim.pods.is_empty(), "{:?}", ready_at(&sim));
}

#[test]
fn an_hpa_scales_a_statefulset_under_load() {
    let manifests = format!(
        "{}---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: web}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: StatefulSet, name: web}}
  minReplicas: 1
  maxReplicas: 5
  metrics:
    - type: Resource
      resource: {{name: cpu, target: {{type: Utilization, averageUtilization: 50}}}}
",
        statefulset(1, "")
    );
    let spec = format!(
        "{NODES}  load:\n    - target: statefulset/web\n      requestsPerSecond: {{steps: [{{at: 0s, value: 30}}]}}\n      cpuPerRequest: 10m\n"
    );
    let (_d, mut sim) = common::twin_with_spec("8m", &spec, &manifests);
    sim.run_until(SimTime::from_millis(470_000));
    // 300m of work at a 100m target per pod: three pods, made one after the other.
    let st = status(&sim);
    assert!(
        st["replicas"].as_i64().unwrap() >= 3,
        "{st} {:?}",
        ready_at(&sim)
    );
    let rescales = common::messages(&sim, "SuccessfulRescale");
    assert!(!rescales.is_empty());
    assert!(rescales[0].contains("New size: "), "{rescales:?}");
}
