//! kscale's kubelets carry out in-place resizes on a real control plane: the pod `resize`
//! subresource of the real API server changes the spec, the kubelet admits the resize against
//! the node's allocatable (`PodResizeInProgress`, `ResizeStarted`, then the new resources in
//! the container statuses and `ResizeCompleted`) or defers it (`PodResizePending`, reason
//! `Deferred`, `ResizeDeferred`) until a pod leaves the node.
//!
//! Needs `KSCALE_CONTROLPLANE_BIN` (`.ci/run` sets it); skipped with a message without it.

mod common;

use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kscale_cluster::Cluster;
use kscale_kube::KubeCluster;
use kscale_kube::kubelet::{Kubelets, PodLatency};
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

const LATENCY: PodLatency = PodLatency {
    bind_to_kubelet_ms: 0,
    sandbox_ms: 0,
    image_pull_ms: 0,
    container_start_ms: 0,
    shutdown_ms: 0,
    resize_actuation_ms: 500,
};

/// A bare pod bound to `node-0` with one container requesting (and limited to) `cpu`.
fn pod(name: &str, cpu: &str) -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"nodeName": "node-0", "containers": [{
            "name": "app", "image": "registry.k8s.io/pause:3.10",
            "resources": {"requests": {"cpu": cpu, "memory": "100Mi"},
                          "limits": {"cpu": cpu, "memory": "100Mi"}}}]}
    })
}

fn resize(kc: &mut KubeCluster, name: &str, cpu: &str) {
    let api: Api<Pod> = Api::namespaced(kc.client().clone(), "default");
    let patch = json!({"spec": {"containers": [{"name": "app", "resources": {
        "requests": {"cpu": cpu}, "limits": {"cpu": cpu}}}]}});
    kc.block_on(api.patch_subresource(
        "resize",
        name,
        &PatchParams::default(),
        &Patch::Strategic(&patch),
    ))
    .unwrap();
}

/// The pod's condition of `type_` as (reason, message), if it has it.
fn condition(kc: &mut KubeCluster, name: &str, type_: &str) -> Option<(String, String)> {
    let pod = kc.get::<Pod>("default", name).unwrap()?;
    pod.status?
        .conditions?
        .into_iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.reason.unwrap_or_default(), c.message.unwrap_or_default()))
}

/// The cpu request the kubelet allocated to the pod's container, as its status reports it.
fn allocated_cpu(kc: &mut KubeCluster, name: &str) -> Option<String> {
    let pod = kc.get::<Pod>("default", name).unwrap()?;
    let s = pod.status?.container_statuses?.into_iter().next()?;
    Some(s.allocated_resources?.get("cpu")?.0.clone())
}

/// The cpu the pod's container runs with, as its status reports it.
fn running_cpu(kc: &mut KubeCluster, name: &str) -> Option<String> {
    let pod = kc.get::<Pod>("default", name).unwrap()?;
    let s = pod.status?.container_statuses?.into_iter().next()?;
    Some(s.resources?.limits?.get("cpu")?.0.clone())
}

fn events(kc: &mut KubeCluster, name: &str, reason: &str) -> Vec<String> {
    kc.list::<Event>(Some("default"), "")
        .unwrap()
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .filter(|e| e.involved_object.name.as_deref() == Some(name))
        .filter_map(|e| e.message)
        .collect()
}

#[test]
fn kscale_kubelets_resize_pods_in_place_on_a_real_control_plane() {
    let Some((_running, mut kc)) = common::start(
        "kscale_kubelets_resize_pods_in_place_on_a_real_control_plane",
        "resize-live",
    ) else {
        return;
    };
    let mut kubelets = Kubelets::new(LATENCY);
    let node: Node = common::object(json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "node-0"},
        "status": {
            "capacity": {"cpu": "1", "memory": "2Gi", "pods": "110"},
            "allocatable": {"cpu": "1", "memory": "2Gi", "pods": "110"},
            "addresses": [{"type": "InternalIP", "address": "10.0.0.10"}],
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]
        }
    }));
    kubelets.register(&mut kc, &node).unwrap();
    kc.create_raw(&pod("a", "400m")).unwrap();
    kc.create_raw(&pod("b", "400m")).unwrap();
    common::wait_for(
        "both pods running with their resources in the status",
        || {
            kubelets.tick(&mut kc).unwrap();
            (running_cpu(&mut kc, "a")? == "400m" && running_cpu(&mut kc, "b")? == "400m")
                .then_some(())
        },
    );

    let a: Pod = kc.get("default", "a").unwrap().unwrap();
    assert_eq!(
        a.status.and_then(|s| s.host_ip).as_deref(),
        Some("10.0.0.10"),
        "the node's InternalIP"
    );

    // 400m → 500m fits next to b's 400m: in progress, then applied.
    resize(&mut kc, "a", "500m");
    common::wait_for("a's resize in progress", || {
        kubelets.tick(&mut kc).unwrap();
        condition(&mut kc, "a", "PodResizeInProgress")
    });
    assert_eq!(running_cpu(&mut kc, "a").as_deref(), Some("400m"));
    assert_eq!(allocated_cpu(&mut kc, "a").as_deref(), Some("500m"));
    common::wait_for("a's resize applied", || {
        kubelets.tick(&mut kc).unwrap();
        (running_cpu(&mut kc, "a")? == "500m").then_some(())
    });
    assert_eq!(condition(&mut kc, "a", "PodResizeInProgress"), None);
    assert_eq!(
        condition(&mut kc, "a", "Ready").map(|c| c.0),
        Some(String::new()),
        "the pod stays Ready"
    );
    let started = common::wait_for("the ResizeStarted and ResizeCompleted events", || {
        let s = events(&mut kc, "a", "ResizeStarted");
        (!s.is_empty() && !events(&mut kc, "a", "ResizeCompleted").is_empty()).then_some(s)
    });
    assert!(
        started[0].starts_with(r#"Pod resize started: {"containers":[{"name":"app","resources":{"limits":{"cpu":"500m","memory":"100Mi"},"requests":{"cpu":"500m","memory":"100Mi"}}}],"generation":2}"#),
        "{started:?}"
    );

    // 400m → 700m does not fit next to a's 500m: deferred with the admission's message.
    resize(&mut kc, "b", "700m");
    let (reason, message) = common::wait_for("b's resize pending", || {
        kubelets.tick(&mut kc).unwrap();
        condition(&mut kc, "b", "PodResizePending")
    });
    assert_eq!(reason, "Deferred");
    assert_eq!(
        message,
        "Node didn't have enough resource: cpu, requested: 700, used: 500, capacity: 1000"
    );
    let deferred = common::wait_for("the ResizeDeferred event", || {
        let d = events(&mut kc, "b", "ResizeDeferred");
        (!d.is_empty()).then_some(d)
    });
    assert!(
        deferred[0].starts_with("Pod resize OutOfcpu: "),
        "{deferred:?}"
    );
    for _ in 0..3 {
        kubelets.tick(&mut kc).unwrap();
    }
    assert_eq!(running_cpu(&mut kc, "b").as_deref(), Some("400m"));

    // a leaves the node: b's resize is admitted and applied.
    kc.delete::<Pod>("default", "a", None).unwrap();
    common::wait_for("b's resize applied once a is gone", || {
        kubelets.tick(&mut kc).unwrap();
        (running_cpu(&mut kc, "b")? == "700m").then_some(())
    });
    assert_eq!(condition(&mut kc, "b", "PodResizePending"), None);
    let stats = kubelets.stats();
    assert_eq!((stats.resizes_completed, stats.resizes_deferred), (2, 1));
}
