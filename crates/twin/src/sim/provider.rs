//! The twin applying what its cloud provider ([`crate::cloud_provider`]) decides: node
//! groups' nodes added to its tables, spot interruptions delivered as events (the notice
//! cordons and drains the node, the termination removes it).

use kscale_model::SimTime;

use super::{Event, Sim};

pub use crate::cloud_provider::{NODE_GROUP_LABEL, SPOT_NOTICE_MS};

impl Sim {
    /// Creates the `desired` nodes of every node group at t=0.
    pub fn create_node_group_nodes(&mut self) {
        let groups = self.scenario.doc.spec.cloud.node_groups.clone();
        for g in groups {
            for _ in 0..g.desired.unwrap_or(g.min) {
                self.add_group_node(&g.name);
            }
        }
    }

    /// Adds one Ready node to a node group (used at t=0 and when a scale-up completes): the
    /// node the cloud launches for it ([`crate::cloud_provider::CloudProvider::group_node`]).
    pub fn add_group_node(&mut self, group: &str) -> Option<String> {
        let members = self
            .nodes
            .values()
            .filter(|n| n.info.labels.get(NODE_GROUP_LABEL).map(String::as_str) == Some(group))
            .count();
        let nodes = &self.nodes;
        let n = self
            .cloud
            .group_node(group, members, |name| nodes.contains_key(name))?;
        self.add_node(
            &n.name,
            n.shape,
            &n.capacity_type,
            &n.zone,
            n.labels,
            n.taints,
        );
        Some(n.name)
    }

    /// Schedules the spot interruption of a new spot node, if the scenario models them.
    pub fn arm_spot_interruption(&mut self, node: &str) {
        let Some(at) = self.cloud.interruption_at(self.now.as_millis()) else {
            return;
        };
        let uid = self
            .nodes
            .get(node)
            .map(|n| n.uid.clone())
            .unwrap_or_default();
        self.queue
            .push(SimTime(at), Event::SpotInterruption(node.to_string(), uid));
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
