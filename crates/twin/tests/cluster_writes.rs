//! The cluster API's writes on the twin (patch, status, delete, evict, bind), answered as the
//! API server answers them: the object as stored, or the status reason of a refusal.

mod common;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
use kscale_cluster::{ApiError, Cluster, Patch};
use kscale_model::SimTime;
use kscale_twin::sim::cluster_api::SimCluster;
use serde_json::json;

const WEB: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 3\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers:\n      - {name: c, image: app, resources: {requests: {cpu: 100m}}}\n";

const SETTINGS: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: \"1\"}\n";

fn pod_names(c: &mut SimCluster<'_>) -> Vec<String> {
    c.list::<Pod>(Some("default"), "app=web")
        .unwrap()
        .into_iter()
        .map(|p| p.metadata.name.unwrap())
        .collect()
}

fn terminating(c: &mut SimCluster<'_>) -> usize {
    c.list::<Pod>(Some("default"), "app=web")
        .unwrap()
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_some())
        .count()
}

#[test]
fn patches_of_each_type_return_the_stored_object() {
    let (_dir, mut sim) = common::twin_of(
        "10m",
        "[{name: n, instanceType: m5.xlarge, count: 1}]",
        &format!("{WEB}---\n{SETTINGS}"),
    );
    let mut c = SimCluster(&mut sim);
    let d: Deployment = c
        .patch(
            "default",
            "web",
            &Patch::Merge(json!({"metadata": {"labels": {"team": "a"}}})),
        )
        .unwrap();
    assert_eq!(d.metadata.labels.unwrap()["team"], "a");
    let d: Deployment = c
        .patch(
            "default",
            "web",
            &Patch::Strategic(json!({"spec": {"replicas": 5}})),
        )
        .unwrap();
    assert_eq!(d.spec.unwrap().replicas, Some(5));
    let cm: ConfigMap = c
        .patch(
            "default",
            "settings",
            &Patch::Json(json!([{"op": "add", "path": "/data/b", "value": "2"}])),
        )
        .unwrap();
    let data = cm.data.unwrap();
    assert_eq!((data["a"].as_str(), data["b"].as_str()), ("1", "2"));
    // A later read sees the write.
    let again: ConfigMap = c.get("default", "settings").unwrap().unwrap();
    assert_eq!(again.data.unwrap().len(), 2);

    let missing = c.patch::<ConfigMap>("default", "nope", &Patch::Merge(json!({})));
    assert_eq!(
        missing.unwrap_err(),
        ApiError::NotFound {
            kind: "ConfigMap".into(),
            namespace: "default".into(),
            name: "nope".into()
        }
    );
    let bad = c.patch::<ConfigMap>("default", "settings", &Patch::Json(json!({"op": 1})));
    assert!(matches!(bad, Err(ApiError::Invalid(_))), "{bad:?}");
}

#[test]
fn a_pod_spec_patch_beyond_what_may_change_is_invalid() {
    let (_dir, mut sim) =
        common::twin_of("10m", "[{name: n, instanceType: m5.xlarge, count: 1}]", WEB);
    sim.run_until(SimTime::from_secs(30));
    let mut c = SimCluster(&mut sim);
    let pod = pod_names(&mut c).remove(0);
    let r = c.patch::<Pod>(
        "default",
        &pod,
        &Patch::Strategic(json!({"spec": {"hostname": "x"}})),
    );
    let Err(ApiError::Invalid(m)) = r else {
        panic!("{r:?}")
    };
    assert!(m.contains("pod updates may not change fields"), "{m}");
    // Labels may change.
    let p: Pod = c
        .patch(
            "default",
            &pod,
            &Patch::Merge(json!({"metadata": {"labels": {"debug": "on"}}})),
        )
        .unwrap();
    assert_eq!(p.metadata.labels.unwrap()["debug"], "on");
}

#[test]
fn a_status_patch_changes_the_status_and_leaves_the_spec() {
    let hpa = "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: web}\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n  minReplicas: 1\n  maxReplicas: 4\n";
    let (_dir, mut sim) = common::twin_of(
        "10m",
        "[{name: n, instanceType: m5.xlarge, count: 1}]",
        &format!("{WEB}---\n{hpa}"),
    );
    let mut c = SimCluster(&mut sim);
    let h: HorizontalPodAutoscaler = c
        .patch_status(
            "default",
            "web",
            &Patch::Merge(json!({"status": {"desiredReplicas": 3, "currentReplicas": 2}, "spec": {"maxReplicas": 9}})),
        )
        .unwrap();
    assert_eq!(h.status.unwrap().desired_replicas, 3);
    assert_eq!(h.spec.unwrap().max_replicas, 4, "spec is not the status");
    let r = c.patch_status::<Pod>("default", "x", &Patch::Merge(json!({})));
    assert!(matches!(r, Err(ApiError::Invalid(_))), "{r:?}");
}

#[test]
fn deletes_remove_objects_and_pods_terminate_with_the_grace_given() {
    let (_dir, mut sim) = common::twin_of(
        "10m",
        "[{name: n, instanceType: m5.xlarge, count: 1}]",
        &format!("{WEB}---\n{SETTINGS}"),
    );
    sim.run_until(SimTime::from_secs(30));
    let mut c = SimCluster(&mut sim);
    c.delete::<ConfigMap>("default", "settings", None).unwrap();
    assert!(c.get::<ConfigMap>("default", "settings").unwrap().is_none());
    assert!(matches!(
        c.delete::<ConfigMap>("default", "settings", None),
        Err(ApiError::NotFound { .. })
    ));
    let pod = pod_names(&mut c).remove(0);
    c.delete::<Pod>("default", &pod, Some(0)).unwrap();
    sim.run_until(SimTime::from_secs(32));
    let mut c = SimCluster(&mut sim);
    let names = pod_names(&mut c);
    assert!(!names.contains(&pod), "{pod} is gone: {names:?}");
    assert_eq!(names.len(), 3, "its ReplicaSet replaced it");
}

#[test]
fn evictions_respect_the_disruption_budget() {
    let pdb = "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: web}\nspec:\n  maxUnavailable: 1\n  selector: {matchLabels: {app: web}}\n";
    let (_dir, mut sim) = common::twin_of(
        "10m",
        "[{name: n, instanceType: m5.xlarge, count: 1}]",
        &format!("{WEB}---\n{pdb}"),
    );
    sim.run_until(SimTime::from_secs(60));
    let mut c = SimCluster(&mut sim);
    let pods = pod_names(&mut c);
    assert_eq!(pods.len(), 3);
    c.evict("default", &pods[0], None).unwrap();
    assert_eq!(terminating(&mut c), 1);
    // The budget is spent while the first pod terminates.
    let r = c.evict("default", &pods[1], None);
    assert!(matches!(r, Err(ApiError::TooManyRequests(_))), "{r:?}");
    assert_eq!(terminating(&mut c), 1, "a refused eviction deletes nothing");
    // Evicting a pod that is already terminating is accepted.
    c.evict("default", &pods[0], None).unwrap();
    // Once the replacement is ready, the budget allows one more.
    sim.run_until(SimTime::from_secs(120));
    let mut c = SimCluster(&mut sim);
    c.evict("default", &pods[1], None).unwrap();
    assert!(matches!(
        c.evict("default", "nope", None),
        Err(ApiError::NotFound { .. })
    ));
}

#[test]
fn a_bound_pod_starts_on_its_node_and_cannot_be_bound_twice() {
    let (_dir, mut sim) =
        common::twin_of("10m", "[{name: n, instanceType: m5.xlarge, count: 1}]", WEB);
    let mut c = SimCluster(&mut sim);
    let node = c.list::<Node>(None, "").unwrap()[0]
        .metadata
        .name
        .clone()
        .unwrap();
    // Cordoned: the scheduler leaves the pods pending.
    let cordoned: Node = c
        .patch(
            "",
            &node,
            &Patch::Merge(json!({"spec": {"unschedulable": true}})),
        )
        .unwrap();
    assert_eq!(cordoned.spec.unwrap().unschedulable, Some(true));
    sim.run_until(SimTime::from_secs(30));
    let mut c = SimCluster(&mut sim);
    let pods = c.list::<Pod>(Some("default"), "app=web").unwrap();
    assert!(
        pods.iter()
            .all(|p| p.spec.as_ref().unwrap().node_name.is_none())
    );
    let name = pods[0].metadata.name.clone().unwrap();
    c.bind("default", &name, &node).unwrap();
    let r = c.bind("default", &name, &node);
    assert!(matches!(r, Err(ApiError::AlreadyExists(_))), "{r:?}");
    let r = c.bind("default", &pods[1].metadata.name.clone().unwrap(), "n-9");
    assert!(matches!(r, Err(ApiError::NotFound { .. })), "{r:?}");
    sim.run_until(SimTime::from_secs(60));
    let mut c = SimCluster(&mut sim);
    let p: Pod = c.get("default", &name).unwrap().unwrap();
    assert_eq!(p.spec.unwrap().node_name.as_deref(), Some(node.as_str()));
    assert_eq!(p.status.unwrap().phase.as_deref(), Some("Running"));
}
