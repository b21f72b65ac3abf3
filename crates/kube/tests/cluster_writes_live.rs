//! The cluster API's writes (patch, status, delete, evict, bind) against a real API server:
//! the same calls the twin answers in `crates/twin/tests/cluster_writes.rs`, answered by
//! kube-apiserver and its controllers (the disruption controller's budgets for evictions).
//!
//! Needs `KSCALE_CONTROLPLANE_BIN` (`.ci/run` sets it); skipped with a message without it.

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kscale_cluster::{ApiError, Cluster, Patch};
use kscale_controlplane::{Binaries, State, UpOptions};
use kscale_kube::KubeCluster;
use serde_json::json;

/// Stops the control plane when the test ends, passed or not.
struct Running(State);

impl Drop for Running {
    fn drop(&mut self) {
        kscale_controlplane::stop(&self.0);
    }
}

fn object<K: kscale_cluster::Object>(v: serde_json::Value) -> K {
    serde_json::from_value(v).unwrap()
}

/// Polls `f` every 200 ms until it returns Some, for at most 60 s.
fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(t) = f() {
            return t;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn writes_are_answered_by_a_real_api_server_as_by_the_twin() {
    let Some(bin) = std::env::var_os("KSCALE_CONTROLPLANE_BIN") else {
        eprintln!(
            "skipped writes_are_answered_by_a_real_api_server_as_by_the_twin: \
             set KSCALE_CONTROLPLANE_BIN to the folder `kscale control-plane build` prints"
        );
        return;
    };
    let bins = Binaries::check(std::path::Path::new(&bin)).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let state = kscale_controlplane::up(
        &tmp.path().join("cp"),
        &bins,
        &UpOptions::default(),
        &AtomicBool::new(false),
    )
    .unwrap();
    let running = Running(state);
    let mut kc = KubeCluster::connect(&running.0.kubeconfig, "writes-live").unwrap();

    kc.create::<Node>(&object(json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "node-0", "labels": {"kubernetes.io/hostname": "node-0"}},
        "status": {
            "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
            "allocatable": {"cpu": "3920m", "memory": "15Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "kubelet is posting ready status"}]
        }
    })))
    .unwrap();

    // Patches of each content type return the object as stored.
    kc.create::<ConfigMap>(&object(json!({
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
    kc.create::<Deployment>(&object(json!({
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
    kc.create::<PodDisruptionBudget>(&object(json!({
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "web"}}}
    })))
    .unwrap();
    let pods: Vec<String> = wait_for("two bound pods", || {
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
    wait_for("the budget to allow one disruption", || {
        let pdb = kc.get::<PodDisruptionBudget>("default", "web").unwrap()?;
        (pdb.status?.disruptions_allowed == 1).then_some(())
    });
    kc.evict("default", &pods[0], None).unwrap();
    let r = kc.evict("default", &pods[1], None);
    assert!(matches!(r, Err(ApiError::TooManyRequests(_))), "{r:?}");
    let r = kc.evict("default", "nope", None);
    assert!(matches!(r, Err(ApiError::NotFound { .. })), "{r:?}");

    // A pod for another scheduler waits until something binds it.
    kc.create::<Pod>(&object(json!({
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
    wait_for("the pod deleted at once", || {
        kc.get::<Pod>("default", "manual")
            .unwrap()
            .is_none()
            .then_some(())
    });
}
