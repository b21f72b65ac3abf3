//! The Cluster Autoscaler on a `--cluster` run: the component
//! (`kscale_components::cluster_autoscaler`, the same loop the twin's decisions come from)
//! against the real API server, and the scenario's node groups (`spec.cloud.nodeGroups`) as
//! its cloud.
//!
//! [`LiveNodeGroups`] is that cloud: a group's size increase launches instances whose nodes
//! register after the cloud's provisioning latency (`spec.cloud.provisioningLatency`), the
//! node the cloud provider (`kscale_twin::cloud_provider::CloudProvider`, the same draws as
//! the twin's) launches for the group (name, instance type capacity and EKS allocatable,
//! zone, the group's labels and taints, `eks.amazonaws.com/nodegroup`), registered through
//! kscale's kubelets; launches matching `spec.cloud.insufficientCapacity` fail as in the twin;
//! deleting a node removes its Node object and its kubelet. Templates are the cloud
//! provider's (`CloudProvider::group_templates`, with the DaemonSets' pods).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Node;
use kscale_cluster::{ApiError, Cluster};
use kscale_components::cluster_autoscaler::{
    ClusterAutoscaler, NodeGroups, Scan, Stats, ca_container,
};
use kscale_controllers::cluster_autoscaler::{CloudNodeGroup, decisions};
use kscale_kube::KubeCluster;
use kscale_kube::kubelet::Kubelets;
use kscale_twin::sim::Sim;
use kscale_twin::sim::cluster_api::SimCluster;
use kscale_twin::sim::provider::NODE_GROUP_LABEL;

/// An instance requested and not registered yet.
#[derive(Debug, Clone)]
struct Launch {
    group: String,
    requested_ms: u64,
    /// When its node registers (drawn at the first pass after the request).
    ready_ms: Option<u64>,
}

/// The scenario's node groups as a live cloud.
#[derive(Debug)]
pub struct LiveNodeGroups {
    groups: Vec<CloudNodeGroup>,
    registered: BTreeMap<String, BTreeSet<String>>,
    launches: Vec<Launch>,
    to_delete: Vec<String>,
    now_ms: u64,
    /// Launches the cloud refused since the autoscaler last asked, per group.
    failed: BTreeMap<String, u32>,
    /// Launches refused for lack of capacity (`spec.cloud.insufficientCapacity`).
    pub insufficient_capacity_errors: u64,
    /// Nodes registered for the autoscaler.
    pub nodes_added: u64,
    /// Nodes deleted for the autoscaler.
    pub nodes_removed: u64,
}

fn group_of(node: &Node) -> Option<String> {
    node.metadata
        .labels
        .as_ref()?
        .get(NODE_GROUP_LABEL)
        .cloned()
}

impl LiveNodeGroups {
    /// The scenario's groups, with their nodes among `nodes` (those registered at the start).
    pub fn new(sim: &Sim, nodes: &[Node]) -> Self {
        let groups = sim.ca_cloud_groups();
        let mut registered: BTreeMap<String, BTreeSet<String>> = groups
            .iter()
            .map(|g| (g.id.clone(), BTreeSet::new()))
            .collect();
        for n in nodes {
            if let (Some(g), Some(name)) = (group_of(n), n.metadata.name.clone()) {
                registered.entry(g).or_default().insert(name);
            }
        }
        LiveNodeGroups {
            groups,
            registered,
            launches: vec![],
            to_delete: vec![],
            now_ms: 0,
            failed: BTreeMap::new(),
            insufficient_capacity_errors: 0,
            nodes_added: 0,
            nodes_removed: 0,
        }
    }

    /// One pass at run time `t_ms`: nodes whose provisioning latency is over register, nodes
    /// deleted go.
    pub fn advance(
        &mut self,
        kc: &mut KubeCluster,
        t_ms: u64,
        sim: &mut Sim,
        kubelets: &mut Kubelets,
    ) -> Result<(), ApiError> {
        self.now_ms = t_ms;
        // Nodes gone otherwise (a spot instance the cloud terminated) leave their group.
        let live: BTreeSet<&str> = kubelets.node_names().collect();
        for nodes in self.registered.values_mut() {
            nodes.retain(|n| live.contains(n.as_str()));
        }
        // A new request fails for lack of capacity (the scenario's `insufficientCapacity` at
        // its request time, as the twin decides it when launching) or gets its latency.
        let mut failed = vec![];
        self.launches.retain_mut(|l| {
            if l.ready_ms.is_some() {
                return true;
            }
            if sim.cloud.group_launch_fails_at(l.requested_ms, &l.group) {
                failed.push(l.group.clone());
                return false;
            }
            l.ready_ms = Some(l.requested_ms + sim.cloud.provisioning_latency_ms());
            true
        });
        for g in failed {
            self.insufficient_capacity_errors += 1;
            *self.failed.entry(g).or_default() += 1;
        }
        let (due, rest): (Vec<Launch>, Vec<Launch>) = std::mem::take(&mut self.launches)
            .into_iter()
            .partition(|l| l.ready_ms.is_some_and(|r| r <= t_ms));
        self.launches = rest;
        for l in due {
            let Some(name) = sim.add_group_node(&l.group) else {
                continue;
            };
            let Some(node) = SimCluster(sim).get::<Node>("", &name)? else {
                continue;
            };
            kubelets.register(kc, &node)?;
            self.registered.entry(l.group).or_default().insert(name);
            self.nodes_added += 1;
        }
        for name in std::mem::take(&mut self.to_delete) {
            kubelets.deregister(kc, &name)?;
            sim.remove_node(&name);
            self.nodes_removed += 1;
        }
        Ok(())
    }

    fn group(&self, id: &str) -> Result<&CloudNodeGroup, String> {
        self.groups
            .iter()
            .find(|g| g.id == id)
            .ok_or_else(|| format!("no node group {id:?}"))
    }
}

impl NodeGroups for LiveNodeGroups {
    fn node_groups(&mut self) -> Vec<CloudNodeGroup> {
        self.groups.clone()
    }

    fn node_group_of(&self, node: &Node) -> Option<String> {
        group_of(node)
    }

    fn target_size(&self, group: &str) -> u32 {
        let registered = self.registered.get(group).map_or(0, BTreeSet::len);
        let launching = self.launches.iter().filter(|l| l.group == group).count();
        (registered + launching) as u32
    }

    fn increase_size(&mut self, group: &str, delta: u32) -> Result<(), String> {
        let max = self.group(group)?.max;
        if self.target_size(group) + delta > max {
            return Err(format!(
                "size increase too large: desired {} max {max}",
                self.target_size(group) + delta
            ));
        }
        for _ in 0..delta {
            self.launches.push(Launch {
                group: group.into(),
                requested_ms: self.now_ms,
                ready_ms: None,
            });
        }
        Ok(())
    }

    fn decrease_target_size(&mut self, group: &str, delta: u32) -> Result<(), String> {
        self.group(group)?;
        for _ in 0..delta {
            // The latest requests go first.
            if let Some(i) = self.launches.iter().rposition(|l| l.group == group) {
                self.launches.remove(i);
            }
        }
        Ok(())
    }

    fn failed_launches(&mut self) -> Vec<(String, u32)> {
        std::mem::take(&mut self.failed).into_iter().collect()
    }

    fn delete_node(&mut self, group: &str, node: &str) -> Result<(), String> {
        let nodes = self.registered.get_mut(group);
        if !nodes.is_some_and(|n| n.remove(node)) {
            return Err(format!("node {node} is not in node group {group}"));
        }
        self.to_delete.push(node.into());
        Ok(())
    }
}

/// The live Cluster Autoscaler of a run: the component run by the scenario's Cluster
/// Autoscaler Deployment (the first found), its loops at `--scan-interval`, and the cloud.
pub struct LiveClusterAutoscaler {
    ca: Option<ClusterAutoscaler>,
    next_ms: u64,
    /// What components that stopped did.
    past: Stats,
    /// Decisions of components that stopped.
    past_decisions: Vec<decisions::Decision>,
    cloud: LiveNodeGroups,
    origin_unix_ms: i64,
    seed: u64,
}

impl LiveClusterAutoscaler {
    /// A live autoscaler over the scenario's node groups (`nodes`: those registered at the
    /// start); none runs until [`LiveClusterAutoscaler::discover`] finds its Deployment.
    /// `origin_unix_ms` is the wall-clock time of the cluster clock's zero.
    pub fn new(sim: &Sim, nodes: &[Node], origin_unix_ms: i64) -> Self {
        LiveClusterAutoscaler {
            ca: None,
            next_ms: 0,
            past: Stats::default(),
            past_decisions: vec![],
            cloud: LiveNodeGroups::new(sim, nodes),
            origin_unix_ms,
            seed: sim.scenario.seed(),
        }
    }

    /// Starts the component for a Deployment running the Cluster Autoscaler image, unless one
    /// runs already.
    pub fn discover(&mut self, d: &Deployment) {
        if self.ca.is_some() || ca_container(d).is_none() {
            return;
        }
        let ns = d.metadata.namespace.as_deref().unwrap_or("default");
        let name = d.metadata.name.as_deref().unwrap_or("");
        self.ca = Some(
            ClusterAutoscaler::new(ns, name)
                .with_clock_origin(self.origin_unix_ms)
                .with_seed(self.seed),
        );
    }

    /// Whether a component ran at some point.
    pub fn started(&self) -> bool {
        self.ca.is_some() || self.past != Stats::default()
    }

    /// One pass at run time `t_ms`: the cloud's launches and deletions, and a loop when due.
    /// Returns the component's new warnings.
    pub fn advance(
        &mut self,
        kc: &mut KubeCluster,
        t_ms: u64,
        sim: &mut Sim,
        kubelets: &mut Kubelets,
    ) -> Result<Vec<String>, ApiError> {
        self.cloud.advance(kc, t_ms, sim, kubelets)?;
        let Some(ca) = self.ca.as_mut() else {
            return Ok(vec![]);
        };
        if t_ms < self.next_ms {
            return Ok(vec![]);
        }
        let scan = ca.run_once(kc, &mut self.cloud);
        let warnings = ca.take_warnings();
        match scan {
            Ok(Scan::Gone) => {
                let s = ca.stats();
                self.past = add(self.past, s);
                self.past_decisions.extend_from_slice(ca.decisions());
                self.ca = None;
            }
            Ok(_) => self.next_ms = t_ms + ca.scan_interval_ms(),
            Err(e) => {
                self.next_ms = t_ms + ca.scan_interval_ms();
                return Err(e);
            }
        }
        Ok(warnings)
    }

    /// Launches the cloud refused for lack of capacity.
    pub fn insufficient_capacity_errors(&self) -> u64 {
        self.cloud.insufficient_capacity_errors
    }

    /// The `clusterAutoscaler` section of `summary.json`, as the twin writes it: the counts,
    /// every decision, and the nodes the last scale-down simulation found unremovable.
    pub fn summary(&self) -> serde_json::Value {
        let s = add(
            self.past,
            self.ca.as_ref().map(|c| c.stats()).unwrap_or_default(),
        );
        let counts = decisions::Counts {
            scale_ups: s.scale_ups,
            scale_up_failures: s.scale_up_failures,
            scale_downs: s.scale_downs,
            nodes_added: self.cloud.nodes_added,
            nodes_removed: self.cloud.nodes_removed,
            not_trigger_scale_up: s.not_trigger_scale_up,
        };
        let current = self.ca.iter().flat_map(|c| c.decisions());
        let all: Vec<decisions::Decision> =
            self.past_decisions.iter().chain(current).cloned().collect();
        let unremovable = self.ca.iter().flat_map(|c| c.unremovable());
        decisions::summary(&counts, &all, unremovable)
    }
}

fn add(a: Stats, b: Stats) -> Stats {
    Stats {
        scale_ups: a.scale_ups + b.scale_ups,
        nodes_requested: a.nodes_requested + b.nodes_requested,
        scale_up_failures: a.scale_up_failures + b.scale_up_failures,
        scale_downs: a.scale_downs + b.scale_downs,
        nodes_removed: a.nodes_removed + b.nodes_removed,
        not_trigger_scale_up: a.not_trigger_scale_up + b.not_trigger_scale_up,
    }
}
