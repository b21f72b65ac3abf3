//! The simulated cloud provider at run time: node groups, provisioning latency,
//! insufficient-capacity failures and spot interruptions.
//!
//! - Provisioning latency: uniform in `spec.cloud.provisioningLatency` (default 60–120 s,
//!   *assumption* from seed 004's "approximately 1–2 minutes").
//! - Insufficient capacity: a launch matching an `insufficientCapacity` entry (group, instance
//!   type, capacity type, time window) fails with its probability, as EC2's
//!   `InsufficientInstanceCapacity` does; autoscalers then fall back (Karpenter caches the
//!   offering as unavailable for 3 minutes, pkg/cache/unavailableofferings.go; the Cluster
//!   Autoscaler backs the group off).
//! - Spot interruptions: each spot node draws an exponential time to interruption from
//!   `spotInterruptions.ratePerHour`; at that time it gets the 2-minute notice (the node is
//!   cordoned and drained, as the AWS Node Termination Handler or Karpenter's interruption
//!   controller do) and is terminated 2 minutes later.

use std::collections::BTreeMap;

use kscale_model::{SimTime, Taint, TaintEffect};

use super::{Event, Sim};
use crate::cloud;

/// Notice between a spot interruption warning and the termination: 2 minutes (EC2).
pub const SPOT_NOTICE_MS: u64 = 120_000;
/// Label that names a node's group.
pub const NODE_GROUP_LABEL: &str = "eks.amazonaws.com/nodegroup";

impl Sim {
    /// Provisioning latency of one launch, in ms.
    pub fn provisioning_latency_ms(&mut self) -> u64 {
        let (lo, hi) = match self.scenario.doc.spec.cloud.provisioning_latency {
            Some(l) => (l.min.0, l.max.0),
            None => (60_000, 120_000),
        };
        self.rng.cloud.range_u64(lo, hi)
    }

    /// True if a launch of this group / type / capacity type fails for lack of capacity now.
    pub fn launch_fails(
        &mut self,
        group: Option<&str>,
        instance_type: &str,
        capacity_type: &str,
    ) -> bool {
        self.launch_fails_at(self.now.as_millis(), group, instance_type, capacity_type)
    }

    /// [`Sim::launch_fails`] at run time `now` (ms): a backend whose clock is not the twin's
    /// (`--cluster`) asks with its own.
    pub fn launch_fails_at(
        &mut self,
        now: u64,
        group: Option<&str>,
        instance_type: &str,
        capacity_type: &str,
    ) -> bool {
        let end = self.end.as_millis();
        let hit = self
            .scenario
            .doc
            .spec
            .cloud
            .insufficient_capacity
            .iter()
            .find(|c| {
                c.group.as_deref().is_none_or(|g| Some(g) == group)
                    && c.instance_type
                        .as_deref()
                        .is_none_or(|t| t == instance_type)
                    && c.capacity_type
                        .as_deref()
                        .is_none_or(|t| t == capacity_type)
                    && c.from.map(|f| f.0).unwrap_or(0) <= now
                    && now < c.to.map(|t| t.0).unwrap_or(end + 1)
            });
        match hit.map(|c| c.probability.unwrap_or(1.0)) {
            Some(p) if p >= 1.0 => true,
            Some(p) => self.rng.cloud.unit() < p,
            None => false,
        }
    }

    /// Creates the `desired` nodes of every node group at t=0.
    pub fn create_node_group_nodes(&mut self) {
        let groups = self.scenario.doc.spec.cloud.node_groups.clone();
        for g in groups {
            for _ in 0..g.desired.unwrap_or(g.min) {
                self.add_group_node(&g.name);
            }
        }
    }

    /// Adds one Ready node to a node group (used at t=0 and when a scale-up completes).
    pub fn add_group_node(&mut self, group: &str) -> Option<String> {
        let g = self
            .scenario
            .doc
            .spec
            .cloud
            .node_groups
            .iter()
            .find(|g| g.name == group)?
            .clone();
        let it = cloud::instance_type(&g.instance_type)?;
        let zones = if g.zones.is_empty() {
            self.zones()
        } else {
            g.zones.clone()
        };
        let count = self
            .nodes
            .values()
            .filter(|n| n.info.labels.get(NODE_GROUP_LABEL).map(String::as_str) == Some(group))
            .count();
        let zone = zones[count % zones.len()].clone();
        let region = self.region();
        let name = loop {
            let (a, b) = (
                self.rng.cloud.range_u64(1, 254),
                self.rng.cloud.range_u64(1, 254),
            );
            let n = format!("ip-10-0-{a}-{b}.{region}.compute.internal");
            if !self.nodes.contains_key(n.as_str()) {
                break n;
            }
        };
        let mut labels: BTreeMap<String, String> = g.labels.clone();
        labels.insert(NODE_GROUP_LABEL.into(), group.into());
        let taints = g
            .taints
            .iter()
            .filter_map(|t| {
                Some(Taint {
                    key: t.key.clone(),
                    value: t.value.clone().unwrap_or_default(),
                    effect: TaintEffect::parse(&t.effect)?,
                })
            })
            .collect();
        let ct = g.capacity_type.as_deref().unwrap_or("on-demand");
        self.add_node(
            &name,
            cloud::NodeShape::of(it, ct),
            ct,
            &zone,
            labels,
            taints,
        );
        Some(name)
    }

    /// Schedules the spot interruption of a new spot node, if the scenario models them.
    pub fn arm_spot_interruption(&mut self, node: &str) {
        let Some(s) = self.scenario.doc.spec.cloud.spot_interruptions else {
            return;
        };
        if s.rate_per_hour <= 0.0 {
            return;
        }
        let u = self.rng.cloud.unit().max(1e-12);
        let hours = -u.ln() / s.rate_per_hour;
        let at = self.now.as_millis() as f64 + hours * 3_600_000.0;
        if at <= self.end.as_millis() as f64 {
            let uid = self
                .nodes
                .get(node)
                .map(|n| n.uid.clone())
                .unwrap_or_default();
            self.queue.push(
                SimTime(at as u64),
                Event::SpotInterruption(node.to_string(), uid),
            );
        }
    }

    /// The 2-minute notice: cordon and drain, terminate later.
    pub fn spot_interruption(&mut self, node: &str, uid: &str) {
        if self.nodes.get(node).is_none_or(|n| n.uid != uid) {
            return;
        }
        self.count("spotInterruptions");
        self.emit(
            "Warning",
            "SpotInterrupted",
            "Node",
            "",
            node,
            "Spot interruption warning: the instance will be terminated in 2 minutes".into(),
            "cloud-provider",
        );
        let _ = self.drain(node, true, None);
        self.queue.push(
            self.now.plus_millis(SPOT_NOTICE_MS),
            Event::NodeTerminated(node.to_string(), uid.to_string()),
        );
    }

    /// The cloud terminated an instance.
    pub fn node_terminated(&mut self, node: &str, uid: &str) {
        if self.nodes.get(node).is_none_or(|n| n.uid != uid) {
            return;
        }
        self.emit(
            "Normal",
            "InstanceTerminated",
            "Node",
            "",
            node,
            "Instance terminated by the cloud provider".into(),
            "cloud-provider",
        );
        self.remove_node(node);
    }
}
