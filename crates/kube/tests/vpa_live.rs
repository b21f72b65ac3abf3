//! The Vertical Pod Autoscaler's components, the same code the twin runs, live against a real
//! control plane: the recommender reads kscale's metrics server through the aggregated
//! `metrics.k8s.io` API and writes the VPA's status (a real CustomResourceDefinition with a
//! status subresource), the updater evicts through the real eviction API, and the admission
//! decision reads the recommendation back.
//!
//! Needs `KSCALE_CONTROLPLANE_BIN` (`.ci/run` sets it); skipped with a message without it.

mod common;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Event, Pod};
use kscale_cluster::{Cluster, Patch};
use kscale_components::vpa::{Recommender, Updater, VerticalPodAutoscaler, admit, pod_containers};
use kscale_kube::metrics_server::{ContainerUsage, MetricsServer, PodUsage, Snapshot};
use serde_json::json;

/// The VPA's CustomResourceDefinition, reduced to what the API server needs: the names, a
/// schema that keeps every field and the status subresource.
fn vpa_crd() -> serde_json::Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "verticalpodautoscalers.autoscaling.k8s.io",
                     // As upstream's CRD carries it (a *.k8s.io group needs the approval).
                     "annotations": {"api-approved.kubernetes.io": "https://github.com/kubernetes/kubernetes/pull/63797"}},
        "spec": {
            "group": "autoscaling.k8s.io", "scope": "Namespaced",
            "names": {"kind": "VerticalPodAutoscaler", "listKind": "VerticalPodAutoscalerList",
                      "plural": "verticalpodautoscalers", "singular": "verticalpodautoscaler",
                      "shortNames": ["vpa"]},
            "versions": [{"name": "v1", "served": true, "storage": true,
                          "subresources": {"status": {}},
                          "schema": {"openAPIV3Schema": {"type": "object",
                              "x-kubernetes-preserve-unknown-fields": true}}}]
        }
    })
}

#[test]
fn the_vpa_recommends_and_evicts_on_a_real_control_plane() {
    let Some((_running, mut kc)) = common::start(
        "the_vpa_recommends_and_evicts_on_a_real_control_plane",
        "vpa-live",
    ) else {
        return;
    };

    // Before its CRD, the kind is not served: listing it is NotFound (what components read
    // as "none", e.g. the Cluster Autoscaler's CapacityBuffers).
    let before = kc.list::<VerticalPodAutoscaler>(Some("default"), "");
    assert!(
        matches!(before, Err(kscale_cluster::ApiError::NotFound { .. })),
        "{before:?}"
    );
    kc.create_raw(&vpa_crd()).unwrap();
    common::wait_for("the VPA kind to be served", || {
        kc.list::<VerticalPodAutoscaler>(Some("default"), "").ok()
    });
    common::create_node(&mut kc, "node-0");
    kc.create_raw(&json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 4,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10",
                    "resources": {"requests": {"cpu": "50m", "memory": "300Mi"}}}]}
            }
        }
    }))
    .unwrap();
    kc.create::<VerticalPodAutoscaler>(&common::object(json!({
        "apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                 "updatePolicy": {"updateMode": "Recreate"}}
    })))
    .unwrap();
    let pods: Vec<String> = common::wait_for("four bound pods", || {
        let pods = kc.list::<Pod>(Some("default"), "app=web").unwrap();
        let bound = pods
            .iter()
            .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some())
            .count();
        (bound == 4).then(|| pods.into_iter().map(|p| p.metadata.name.unwrap()).collect())
    });
    let ready = json!({"status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True"}, {"type": "ContainersReady", "status": "True"}]}});
    for p in &pods {
        kc.patch_status::<Pod>("default", p, &Patch::Merge(ready.clone()))
            .unwrap();
    }

    // Ten minutes of usage (100m per pod, twice the request), one sample a minute as the
    // recommender fetches them, served by kscale's metrics server.
    let server = MetricsServer::start().unwrap();
    server.register(&mut kc).unwrap();
    let start = jiff::Timestamp::now();
    let mut recommender = Recommender::new();
    for minute in 0..10 {
        let labels: BTreeMap<String, String> = [("app".to_string(), "web".to_string())].into();
        server.publish(Snapshot {
            timestamp: start + jiff::SignedDuration::from_secs(60 * minute),
            window_s: 15,
            pods: pods
                .iter()
                .map(|p| PodUsage {
                    namespace: "default".into(),
                    name: p.clone(),
                    labels: labels.clone(),
                    containers: vec![ContainerUsage {
                        name: "app".into(),
                        cpu_milli: 100.0,
                        memory_bytes: 200.0 * 1024.0 * 1024.0,
                    }],
                })
                .collect(),
            nodes: vec![],
            existing_pods: Default::default(),
        });
        // The aggregated API answers once the APIService is available.
        let seen = common::wait_for("the published sample", || {
            let m = kc.pod_metrics(Some("default"), "app=web").ok()?;
            (m.len() == 4).then_some(m)
        });
        assert_eq!(seen[0].containers[0].name, "app");
        assert!((seen[0].containers[0].cpu_milli - 100.0).abs() < 1e-6);
        recommender.run_once(&mut kc).unwrap();
    }
    let vpa: VerticalPodAutoscaler = kc.get("default", "web").unwrap().unwrap();
    let rec = &vpa
        .status
        .unwrap()
        .recommendation
        .unwrap()
        .container_recommendations[0];
    let milli = |q: &str| kscale_model::Quantity::parse(q).unwrap().milli();
    let target = milli(&rec.target["cpu"].0);
    assert!((110..=130).contains(&target), "target {target}m");
    assert!(milli(&rec.lower_bound.as_ref().unwrap()["cpu"].0) > 50);

    // The updater evicts half of the replicas (eviction tolerance 0.5) through the API.
    let evicted = Updater::new().run_once(&mut kc).unwrap();
    assert_eq!(evicted.len(), 2, "{evicted:?}");
    let deleting = kc
        .list::<Pod>(Some("default"), "app=web")
        .unwrap()
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_some())
        .count();
    assert_eq!(deleting, 2);
    let events = kc.list::<Event>(Some("default"), "").unwrap();
    let evictions = events
        .iter()
        .filter(|e| e.reason.as_deref() == Some("EvictedByVPA"))
        .count();
    assert_eq!(evictions, 2);

    // The admission decision for a replacement: the recommended requests.
    let pod: Pod = kc.get("default", &pods[0]).unwrap().unwrap();
    let labels = pod.metadata.labels.clone().unwrap();
    let (name, admitted) = admit(&mut kc, "default", &labels, &pod_containers(&pod))
        .unwrap()
        .expect("the VPA controls the pod");
    assert_eq!(name, "web");
    assert_eq!(admitted.containers[0].requests.cpu_milli, Some(target));
}
