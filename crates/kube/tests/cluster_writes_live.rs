//! The cluster API's writes (patch, status, delete, evict, bind) against a real API server:
//! the same calls the twin answers in `crates/twin/tests/cluster_writes.rs`, answered by
//! kube-apiserver and its controllers (the disruption controller's budgets for evictions).
//!
//! Needs `KSCALE_CONTROLPLANE_BIN` (`.ci/run` sets it); skipped with a message without it.

mod common;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kscale_cluster::{ApiError, Cluster, Patch};
use serde_json::json;

#[test]
fn writes_are_answered_by_a_real_api_server_as_by_the_twin() {
    let Some((_running, mut kc)) = common::start(
        "writes_are_answered_by_a_real_api_server_as_by_the_twin",
        "writes-live",
    ) else {
        return;
    };

    common::create_node(&mut kc, "node-0");

    // Patches of each content type return the object as stored.
    kc.create::<ConfigMap>(&common::object(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "default"}, "data": {"a": "1"}
    })))
    .unwrap();
    let cm: ConfigMap = kc
        .patch(
            "default",
            "settings",
            &Patch::Json(json!([{"op": "add", "path": "/data/b", "value": "2"}])),
        )
        .unwrap();
    assert_eq!(cm.data.unwrap().len(), 2);
    let cm: ConfigMap = kc
        .patch(
            "default",
            "settings",
            &Patch::Merge(json!({"data": {"a": null}})),
        )
        .unwrap();
    assert_eq!(cm.data.unwrap().keys().collect::<Vec<_>>(), ["b"]);
    let r = kc.patch::<ConfigMap>("default", "nope", &Patch::Merge(json!({})));
    assert!(matches!(r, Err(ApiError::NotFound { .. })), "{r:?}");

    // A status patch of a node (what a kubelet reports) leaves its spec alone.
    let n: Node = kc
        .patch_status(
            "",
            "node-0",
            &Patch::Merge(json!({"status": {"allocatable": {"pods": "100"}}, "spec": {"unschedulable": true}})),
        )
        .unwrap();
    assert_eq!(n.status.unwrap().allocatable.unwrap()["pods"].0, "100");
    assert_ne!(n.spec.unwrap().unschedulable, Some(true));

    // Evictions through the disruption budget the real disruption controller keeps.
    kc.create::<Deployment>(&common::object(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10",
                                         "resources": {"requests": {"cpu": "10m"}}}]}
            }
        }
    })))
    .unwrap();
    kc.create::<PodDisruptionBudget>(&common::object(json!({
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "web"}}}
    })))
    .unwrap();
    let pods: Vec<String> = common::wait_for("two bound pods", || {
        let pods = kc.list::<Pod>(Some("default"), "app=web").unwrap();
        let bound = pods
            .iter()
            .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some())
            .count();
        (bound == 2).then(|| pods.into_iter().map(|p| p.metadata.name.unwrap()).collect())
    });
    let ready = json!({"status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True"}, {"type": "ContainersReady", "status": "True"}]}});
    for p in &pods {
        let pod: Pod = kc
            .patch_status("default", p, &Patch::Merge(ready.clone()))
            .unwrap();
        assert!(kscale_cluster::pod_ready(&pod));
    }
    common::wait_for("the budget to allow one disruption", || {
        let pdb = kc.get::<PodDisruptionBudget>("default", "web").unwrap()?;
        (pdb.status?.disruptions_allowed == 1).then_some(())
    });
    kc.evict("default", &pods[0], None).unwrap();
    let r = kc.evict("default", &pods[1], None);
    assert!(matches!(r, Err(ApiError::TooManyRequests(_))), "{r:?}");
    let r = kc.evict("default", "nope", None);
    assert!(matches!(r, Err(ApiError::NotFound { .. })), "{r:?}");

    // A pod for another scheduler waits until something binds it.
    kc.create::<Pod>(&common::object(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "manual", "namespace": "default"},
        "spec": {"schedulerName": "kscale-test", "containers": [
            {"name": "c", "image": "registry.k8s.io/pause:3.10"}]}
    })))
    .unwrap();
    kc.bind("default", "manual", "node-0").unwrap();
    let p: Pod = kc.get("default", "manual").unwrap().unwrap();
    assert_eq!(p.spec.unwrap().node_name.as_deref(), Some("node-0"));
    let r = kc.bind("default", "manual", "node-0");
    assert!(r.is_err(), "bound once: {r:?}");

    // Deletes.
    kc.delete::<ConfigMap>("default", "settings", None).unwrap();
    assert!(
        kc.get::<ConfigMap>("default", "settings")
            .unwrap()
            .is_none()
    );
    let r = kc.delete::<ConfigMap>("default", "settings", None);
    assert!(matches!(r, Err(ApiError::NotFound { .. })), "{r:?}");
    kc.delete::<Pod>("default", "manual", Some(0)).unwrap();
    common::wait_for("the pod deleted at once", || {
        kc.get::<Pod>("default", "manual")
            .unwrap()
            .is_none()
            .then_some(())
    });
}
