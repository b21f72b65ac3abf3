//! Shared set-up of the live tests: a real control plane started for one test and stopped
//! when it ends, a connection to it, a Ready node, and polling.

// Each test binary compiles this module and uses part of it.
#![allow(dead_code)]

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Node;
use kscale_cluster::Cluster;
use kscale_controlplane::{Binaries, State, UpOptions};
use kscale_kube::KubeCluster;

/// A started control plane, stopped when dropped (passed or not), and its directory.
pub struct Running {
    state: State,
    _dir: tempfile::TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        kscale_controlplane::stop(&self.state);
    }
}

/// Starts a control plane from `KSCALE_CONTROLPLANE_BIN` and connects as run `run`; None (with
/// a message naming `test`) when the variable is unset.
pub fn start(test: &str, run: &str) -> Option<(Running, KubeCluster)> {
    let Some(bin) = std::env::var_os("KSCALE_CONTROLPLANE_BIN") else {
        eprintln!(
            "skipped {test}: set KSCALE_CONTROLPLANE_BIN to the folder `kscale control-plane build` prints"
        );
        return None;
    };
    let bins = Binaries::check(std::path::Path::new(&bin)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let state = kscale_controlplane::up(
        &dir.path().join("cp"),
        &bins,
        &UpOptions::default(),
        &AtomicBool::new(false),
    )
    .unwrap();
    let running = Running { state, _dir: dir };
    let kc = KubeCluster::connect(&running.state.kubeconfig, run).unwrap();
    Some((running, kc))
}

/// A typed object from JSON.
pub fn object<K: kscale_cluster::Object>(v: serde_json::Value) -> K {
    serde_json::from_value(v).unwrap()
}

/// Registers a Ready 4-CPU node named `name`.
pub fn create_node(kc: &mut KubeCluster, name: &str) {
    kc.create::<Node>(&object(serde_json::json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {
            "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
            "allocatable": {"cpu": "3920m", "memory": "15Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "kubelet is posting ready status"}]
        }
    })))
    .unwrap();
}

/// Polls `f` every 200 ms until it returns Some, for at most 60 s.
pub fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(t) = f() {
            return t;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}
