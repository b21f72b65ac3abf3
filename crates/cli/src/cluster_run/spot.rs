//! Spot interruptions on a `--cluster` run, as the twin's cloud has them (`sim/provider.rs`):
//! each spot node (`karpenter.sh/capacity-type: spot`) draws, when it registers, an exponential
//! time to interruption from `spec.cloud.spotInterruptions.ratePerHour` (the run's `cloud`
//! stream); at that time it gets EC2's 2-minute notice (`SpotInterrupted`; the node is cordoned
//! and drained, as the AWS Node Termination Handler or Karpenter's interruption controller do)
//! and 2 minutes later its instance is terminated (`InstanceTerminated`, the Node deleted).

use std::collections::{BTreeMap, BTreeSet};

use super::drain;
use k8s_openapi::api::core::v1::{Node, Pod};
use kscale_cluster::{ApiError, Cluster, Event, EventType};
use kscale_kube::KubeCluster;
use kscale_kube::kubelet::Kubelets;
use kscale_twin::sim::Sim;
use kscale_twin::sim::provider::SPOT_NOTICE_MS;

/// The spot instances' interruptions.
#[derive(Debug, Default)]
pub struct SpotInterruptions {
    /// Nodes seen so far.
    known: BTreeSet<String>,
    /// Spot node → (uid, when its notice comes).
    armed: BTreeMap<String, (String, u64)>,
    /// Noticed node → (uid, when its instance is terminated).
    noticed: BTreeMap<String, (String, u64)>,
    /// Interruption notices given.
    pub interruptions: u64,
}

fn event(node: &str, type_: EventType, reason: &str, message: &str) -> Event {
    Event {
        type_,
        reason: reason.into(),
        kind: "Node".into(),
        namespace: String::new(),
        name: node.into(),
        message: message.into(),
        source: "cloud-provider".into(),
    }
}

/// The node's uid if it is still `name` (not replaced by a node of the same name).
fn current_uid(kc: &mut KubeCluster, name: &str) -> Result<Option<String>, ApiError> {
    Ok(kc.get::<Node>("", name)?.and_then(|n| n.metadata.uid))
}

impl SpotInterruptions {
    /// One pass at run time `t`: new spot nodes are armed, due notices given, due instances
    /// terminated (interruptions after the run's end are not drawn).
    pub fn advance(
        &mut self,
        kc: &mut KubeCluster,
        t: u64,
        sim: &mut Sim,
        kubelets: &mut Kubelets,
    ) -> Result<(), ApiError> {
        if sim.cloud.interruption_rate_per_hour().is_none() {
            return Ok(());
        }
        let names: BTreeSet<String> = kubelets.node_names().map(String::from).collect();
        for name in names.difference(&self.known) {
            let Some(n) = kc.get::<Node>("", name)? else {
                continue;
            };
            let spot = n
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("karpenter.sh/capacity-type"))
                .is_some_and(|c| c == "spot");
            if !spot {
                continue;
            }
            if let Some(at) = sim.cloud.interruption_at(t) {
                let uid = n.metadata.uid.unwrap_or_default();
                self.armed.insert(name.clone(), (uid, at));
            }
        }
        self.known = names;
        let due: Vec<(String, String)> = self
            .armed
            .iter()
            .filter(|(_, (_, at))| *at <= t)
            .map(|(n, (uid, _))| (n.clone(), uid.clone()))
            .collect();
        for (node, uid) in due {
            self.armed.remove(&node);
            if current_uid(kc, &node)?.as_deref() != Some(uid.as_str()) {
                continue;
            }
            self.notice(kc, &node)?;
            self.noticed.insert(node, (uid, t + SPOT_NOTICE_MS));
        }
        let due: Vec<(String, String)> = self
            .noticed
            .iter()
            .filter(|(_, (_, at))| *at <= t)
            .map(|(n, (uid, _))| (n.clone(), uid.clone()))
            .collect();
        for (node, uid) in due {
            self.noticed.remove(&node);
            if current_uid(kc, &node)?.as_deref() != Some(uid.as_str()) {
                continue;
            }
            kc.event(event(
                &node,
                EventType::Normal,
                "InstanceTerminated",
                "Instance terminated by the cloud provider",
            ));
            kubelets.deregister(kc, &node)?;
        }
        Ok(())
    }

    /// The 2-minute notice: the node is cordoned and its pods evicted, as `kubectl drain
    /// --force` does (DaemonSet and terminating pods stay), as in the twin.
    fn notice(&mut self, kc: &mut KubeCluster, node: &str) -> Result<(), ApiError> {
        self.interruptions += 1;
        kc.event(event(
            node,
            EventType::Warning,
            "SpotInterrupted",
            "Spot interruption warning: the instance will be terminated in 2 minutes",
        ));
        drain::cordon(kc, node)?;
        let pods = kc.list::<Pod>(None, "")?;
        drain::evict_pods(kc, &pods, node, "Evicted by kubectl drain", "kubectl")
    }
}
