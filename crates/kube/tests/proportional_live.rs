//! The cluster-proportional-autoscaler component, the same code the twin runs, live against a
//! real control plane: the real ReplicaSet controller and scheduler place its pod on a node
//! kscale registered, and it grows and shrinks its target with the nodes.
//!
//! Needs `KSCALE_CONTROLPLANE_BIN` (`.ci/run` sets it); skipped with a message without it.

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Node, Pod};
use kscale_cluster::{ChangeType, Cluster};
use kscale_components::proportional::ProportionalAutoscaler;
use kscale_controlplane::{Binaries, State, UpOptions};
use kscale_kube::KubeCluster;
use kube::api::{Api, Patch, PatchParams};

/// Stops the control plane when the test ends, passed or not.
struct Running(State);

impl Drop for Running {
    fn drop(&mut self) {
        kscale_controlplane::stop(&self.0);
    }
}

fn node(name: &str) -> Node {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {
            "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
            "allocatable": {"cpu": "3920m", "memory": "15Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "kubelet is posting ready status"}]
        }
    }))
    .unwrap()
}

fn deployment(name: &str, image: &str, args: &[&str]) -> Deployment {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": image, "args": args,
                                         "resources": {"requests": {"cpu": "10m"}}}]}
            }
        }
    }))
    .unwrap()
}

fn replicas(kc: &mut KubeCluster, name: &str) -> Option<i32> {
    kc.get::<Deployment>("default", name)
        .unwrap()
        .and_then(|d| d.spec?.replicas)
}

#[test]
fn the_proportional_autoscaler_scales_its_target_on_a_real_control_plane() {
    let Some(bin) = std::env::var_os("KSCALE_CONTROLPLANE_BIN") else {
        eprintln!(
            "skipped the_proportional_autoscaler_scales_its_target_on_a_real_control_plane: \
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
    let mut kc = KubeCluster::connect(&running.0.kubeconfig, "cpa-live").unwrap();
    let start = kc.revision().unwrap();

    for i in 0..3 {
        kc.create(&node(&format!("node-{i}"))).unwrap();
    }
    // The change feed (a watch from a revision) shows the nodes just created, each added
    // once; the node controllers' updates that followed are modifications.
    let nodes = kc.changes::<Node>(start).unwrap();
    let added: Vec<&str> = nodes
        .changes
        .iter()
        .filter(|c| c.type_ == ChangeType::Added)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(added, ["node-0", "node-1", "node-2"]);
    assert!(nodes.changes.iter().all(|c| c.type_ != ChangeType::Deleted));
    assert!(nodes.revision > start);
    let again = kc.changes::<Node>(nodes.revision).unwrap();
    assert!(
        again
            .changes
            .iter()
            .all(|c| c.type_ == ChangeType::Modified),
        "nothing but updates since: {:?}",
        again.changes
    );
    kc.create(&deployment("dummy", "registry.k8s.io/pause:3.10", &[]))
        .unwrap();
    kc.create(&deployment(
        "cpa",
        "registry.k8s.io/cpa/cluster-proportional-autoscaler:v1.9.0",
        &[
            "--target=deployment/dummy",
            "--namespace=default",
            "--configmap=dummy-autoscaler",
            r#"--default-params={"linear":{"nodesPerReplica":1,"min":1}}"#,
            "--poll-period-seconds=1",
        ],
    ))
    .unwrap();

    // The real ReplicaSet controller creates the CPA's pod and the real scheduler binds it to
    // one of kscale's nodes; kscale (as its kubelet) reports it Running and Ready.
    let deadline = Instant::now() + Duration::from_secs(60);
    let pod = loop {
        let pods = kc.list::<Pod>(Some("default"), "app=cpa").unwrap();
        if let Some(p) = pods
            .into_iter()
            .find(|p| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some())
        {
            break p;
        }
        assert!(Instant::now() < deadline, "the CPA pod was never scheduled");
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut cpa = ProportionalAutoscaler::new("default", "cpa");
    assert_eq!(cpa.refresh(&mut kc).unwrap(), Some(1000));
    assert_eq!(
        cpa.sync(&mut kc).unwrap(),
        None,
        "it acts only once its pod is Ready"
    );
    let pods: Api<Pod> = Api::namespaced(kc.client().clone(), "default");
    let ready = serde_json::json!({"status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True"}, {"type": "ContainersReady", "status": "True"}]}});
    kc.block_on(pods.patch_status(
        pod.metadata.name.as_deref().unwrap(),
        &PatchParams::default(),
        &Patch::Merge(&ready),
    ))
    .unwrap();

    assert_eq!(cpa.sync(&mut kc).unwrap(), Some(3), "one replica per node");
    assert_eq!(replicas(&mut kc, "dummy"), Some(3));
    let cm = kc
        .get::<ConfigMap>("default", "dummy-autoscaler")
        .unwrap()
        .expect("the ConfigMap is created from --default-params");
    assert!(cm.data.unwrap()["linear"].contains("nodesPerReplica"));

    for i in 3..5 {
        kc.create(&node(&format!("node-{i}"))).unwrap();
    }
    assert_eq!(cpa.sync(&mut kc).unwrap(), Some(5));
    assert_eq!(cpa.sync(&mut kc).unwrap(), None, "nothing to change");

    // A cordoned node is not schedulable: one replica fewer.
    let nodes: Api<Node> = Api::all(kc.client().clone());
    kc.block_on(nodes.patch(
        "node-4",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"spec": {"unschedulable": true}})),
    ))
    .unwrap();
    assert_eq!(cpa.sync(&mut kc).unwrap(), Some(4));
    assert_eq!(replicas(&mut kc, "dummy"), Some(4));

    let events = kc.list::<Event>(Some("default"), "").unwrap();
    let scaling: Vec<_> = events
        .iter()
        .filter(|e| e.reason.as_deref() == Some("ScalingTarget"))
        .filter_map(|e| e.message.clone())
        .collect();
    assert_eq!(scaling.len(), 3, "{scaling:?}");
    assert!(
        scaling[0].contains("updating replicas from 1 to 3"),
        "{scaling:?}"
    );
}
