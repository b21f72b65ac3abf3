//! The Cluster Autoscaler component (`kscale_components::cluster_autoscaler`) over the twin's
//! cluster API (`SimCluster`) and a cloud of the scenario's node groups: the real scheduling
//! of the twin makes pods unschedulable, the component asks the cloud for nodes, and its
//! decision is the one the twin's own Cluster Autoscaler makes in the same situation.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
use kscale_cluster::Cluster;
use kscale_components::cluster_autoscaler::capacity_buffer::CapacityBuffer;
use kscale_components::cluster_autoscaler::{ClusterAutoscaler, NodeGroups, Scan};
use kscale_controllers::cluster_autoscaler::{CloudNodeGroup, Config, GroupIncrease};
use kscale_model::SimTime;
use kscale_twin::scenario::Scenario;
use kscale_twin::sim::Sim;
use kscale_twin::sim::cluster_api::SimCluster;
use kscale_twin::sim::provider::NODE_GROUP_LABEL;

const FLAGS: &[&str] = &[
    "--nodes=0:4:small",
    "--nodes=0:4:large",
    "--expander=least-waste",
];

/// Two groups (m5.large, m5.2xlarge) and a tainted system node; `web`: five 600m pods.
fn twin(dir: &Path, with_ca: bool) -> Sim {
    twin_with(dir, with_ca, "")
}

/// [`twin`] with `extra` manifests.
fn twin_with(dir: &Path, with_ca: bool, extra: &str) -> Sim {
    let ca = if with_ca {
        common::cluster_autoscaler(&FLAGS.join(", "))
    } else {
        String::new()
    };
    std::fs::write(
        dir.join("m.yaml"),
        format!(
            "apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: 5
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
        - {{name: web, image: nginx, resources: {{requests: {{cpu: 600m, memory: 1Gi}}}}}}
{ca}{extra}"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("s.yaml"),
        "apiVersion: kscale.io/v1alpha1
kind: Scenario
metadata: {name: t}
spec:
  duration: 10m
  seed: 11
  cloud:
    provider: aws
    provisioningLatency: {min: 30s, max: 30s}
    nodeGroups:
      - {name: system, instanceType: m5.large, min: 1, max: 1, taints: [{key: CriticalAddonsOnly, value: 'true', effect: NoSchedule}]}
      - {name: small, instanceType: m5.large, min: 0, max: 4}
      - {name: large, instanceType: m5.2xlarge, min: 0, max: 4}
  manifests: [m.yaml]
",
    )
    .unwrap();
    Sim::new(Arc::new(Scenario::load(&dir.join("s.yaml")).unwrap())).unwrap()
}

/// The scenario's node groups as a cloud whose requested nodes the test registers.
struct TwinCloud {
    groups: Vec<CloudNodeGroup>,
    target: BTreeMap<String, u32>,
    requested: Vec<String>,
}

impl TwinCloud {
    fn new(sim: &Sim) -> Self {
        let mut target: BTreeMap<String, u32> = BTreeMap::new();
        for n in sim.nodes.values() {
            if let Some(g) = n.info.labels.get(NODE_GROUP_LABEL) {
                *target.entry(g.clone()).or_default() += 1;
            }
        }
        TwinCloud {
            groups: sim.ca_cloud_groups(),
            target,
            requested: vec![],
        }
    }

    /// The requested nodes register.
    fn launch(&mut self, sim: &mut Sim) {
        for g in self.requested.drain(..) {
            sim.add_group_node(&g).unwrap();
        }
    }
}

impl NodeGroups for TwinCloud {
    fn node_groups(&mut self) -> Vec<CloudNodeGroup> {
        self.groups.clone()
    }

    fn node_group_of(&self, node: &Node) -> Option<String> {
        node.metadata
            .labels
            .as_ref()?
            .get(NODE_GROUP_LABEL)
            .cloned()
    }

    fn target_size(&self, group: &str) -> u32 {
        self.target.get(group).copied().unwrap_or(0)
    }

    fn increase_size(&mut self, group: &str, delta: u32) -> Result<(), String> {
        *self.target.entry(group.into()).or_default() += delta;
        for _ in 0..delta {
            self.requested.push(group.into());
        }
        Ok(())
    }

    fn decrease_target_size(&mut self, _: &str, _: u32) -> Result<(), String> {
        Err("not in this test".into())
    }

    fn delete_node(&mut self, _: &str, _: &str) -> Result<(), String> {
        Err("not in this test".into())
    }
}

/// The first scale-up the twin's own Cluster Autoscaler decided (groups of max 4).
fn first_scale_up(sim: &Sim) -> GroupIncrease {
    let summary = sim.ca_summary().unwrap();
    let d = &summary["decisions"][0];
    GroupIncrease {
        group: d["group"].as_str().unwrap().into(),
        from: d["detail"]["from"].as_u64().unwrap() as u32,
        to: d["detail"]["to"].as_u64().unwrap() as u32,
        max: 4,
    }
}

fn words(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

#[test]
fn the_component_scales_up_as_the_twins_cluster_autoscaler_does_and_the_pods_run() {
    // The twin's own Cluster Autoscaler, run from its Deployment.
    let dir = tempfile::tempdir().unwrap();
    let mut own = twin(dir.path(), true);
    own.run_until(SimTime(25_000));
    let expected = first_scale_up(&own);

    // The component, on a twin without that Deployment.
    let dir = tempfile::tempdir().unwrap();
    let mut sim = twin(dir.path(), false);
    sim.run_until(SimTime(5_000));
    let mut cloud = TwinCloud::new(&sim);
    let (cfg, warnings) = Config::from_args(&words(FLAGS));
    assert!(warnings.is_empty());
    let mut ca = ClusterAutoscaler::with_config(cfg).with_clock_origin(sim.start_unix_ms);
    let Scan::Ran(r) = ca.run_once(&mut SimCluster(&mut sim), &mut cloud).unwrap() else {
        panic!("it runs")
    };
    assert_eq!(r.increases, vec![expected.clone()]);
    // The same decision as summary.json records it (but the time, and the pods' generated
    // names: the twin with the autoscaler's Deployment drew other names).
    let own_summary = own.ca_summary().unwrap();
    let own_decision = &own_summary["decisions"][0];
    let mine = ca.decisions()[0].to_json();
    assert_eq!(mine["kind"], own_decision["kind"]);
    assert_eq!(mine["group"], own_decision["group"]);
    for k in ["from", "to", "max", "pods", "expander", "reason"] {
        assert_eq!(mine["detail"][k], own_decision["detail"][k], "{k}");
    }
    let by = mine["detail"]["triggeredBy"].as_array().unwrap();
    assert_eq!(by.len(), 5);
    assert!(
        by.iter()
            .all(|n| n.as_str().unwrap().starts_with("default/web-")),
        "{by:?}"
    );
    // least-waste: five 600m pods (3 CPU) waste less of two m5.large (2 × 2 CPU) than of one
    // m5.2xlarge (8 CPU).
    assert_eq!((expected.group.as_str(), expected.to), ("small", 2));
    let mut c = SimCluster(&mut sim);
    let status: ConfigMap = c
        .get("kube-system", "cluster-autoscaler-status")
        .unwrap()
        .unwrap();
    assert!(status.data.unwrap()["status"].contains("- name: small\n"));
    // A loop before the node registers asks for nothing more.
    sim.run_until(SimTime(15_000));
    let Scan::Ran(r) = ca.run_once(&mut SimCluster(&mut sim), &mut cloud).unwrap() else {
        panic!("it runs")
    };
    assert!(r.increases.is_empty());
    cloud.launch(&mut sim);
    sim.run_until(SimTime(60_000));
    let pods: Vec<Pod> = SimCluster(&mut sim)
        .list(Some("default"), "app=web")
        .unwrap();
    let running = pods
        .iter()
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        .count();
    assert_eq!(running, 5);
    let triggered = sim
        .recorder
        .events()
        .iter()
        .filter(|e| e.reason == "TriggeredScaleUp")
        .count();
    assert_eq!(
        triggered, 5,
        "one TriggeredScaleUp per pod, through the cluster API"
    );
}

/// A CapacityBuffer of three 1500m pods besides `web`.
const BUFFER: &str = "---
apiVersion: v1
kind: PodTemplate
metadata: {name: spare}
template:
  metadata: {labels: {app: spare}}
  spec:
    containers:
      - {name: pause, image: registry.k8s.io/pause, resources: {requests: {cpu: 1500m, memory: 1Gi}}}
---
apiVersion: autoscaling.x-k8s.io/v1alpha1
kind: CapacityBuffer
metadata: {name: spare}
spec:
  podTemplateRef: {name: spare}
  replicas: 3
";

#[test]
fn the_component_scales_up_for_a_capacity_buffer_as_the_twins_cluster_autoscaler_does() {
    let dir = tempfile::tempdir().unwrap();
    let mut own = twin_with(dir.path(), true, BUFFER);
    own.run_until(SimTime(25_000));
    let expected = first_scale_up(&own);
    let own_status = SimCluster(&mut own)
        .get::<CapacityBuffer>("default", "spare")
        .unwrap()
        .unwrap()
        .status;

    let dir = tempfile::tempdir().unwrap();
    let mut sim = twin_with(dir.path(), false, BUFFER);
    sim.run_until(SimTime(5_000));
    let mut cloud = TwinCloud::new(&sim);
    let (cfg, _) = Config::from_args(&words(FLAGS));
    let mut ca = ClusterAutoscaler::with_config(cfg).with_clock_origin(sim.start_unix_ms);
    let Scan::Ran(r) = ca.run_once(&mut SimCluster(&mut sim), &mut cloud).unwrap() else {
        panic!("it runs")
    };
    assert_eq!(r.increases, vec![expected.clone()]);
    assert_ne!(
        (expected.group.as_str(), expected.to),
        ("small", 2),
        "the buffer's pods count: without them, two m5.large"
    );
    let status = SimCluster(&mut sim)
        .get::<CapacityBuffer>("default", "spare")
        .unwrap()
        .unwrap()
        .status;
    assert_eq!(status, own_status);
    assert_eq!(status.unwrap()["replicas"], 3);
}
