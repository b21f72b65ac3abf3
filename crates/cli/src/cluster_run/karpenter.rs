//! Karpenter on a `--cluster` run: the provisioning component the twin runs
//! ([`kscale_components::karpenter::provisioning`]: batching, planning over the scenario's
//! instance catalog, in-flight NodeClaims, capacity errors) against the real scheduler's
//! unschedulable pods, launching nodes kscale registers after the cloud's provisioning latency.
//!
//! Pods the scheduler marked `PodScheduled=False, reason Unschedulable` extend the batch when
//! one of them is new; pods nominated to a NodeClaim stay so until 30 s after its node
//! registered (the real scheduler binds them in that time; in the twin it does at once).
//! Karpenter's CRDs are installed (schemaless) so the manifests' NodePools, Provisioners and
//! node classes can be created; pools are read as typed objects
//! ([`kscale_components::karpenter::NodePool`]). Disruption (NodePools' emptiness, multi- and
//! single-node consolidation under their budgets; Provisioners' `ttlSecondsAfterEmpty` and
//! consolidation) is the [`disruption`] module. Spot interruptions are the cloud's
//! (`spot.rs`). Not live yet: expiry, drift.

mod disruption;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod};
use kscale_cluster::{ApiError, Cluster, Event, EventType};
use kscale_controllers::karpenter::{self, Offering};
use kscale_controllers::scheduler::PodInfo;
use kscale_kube::KubeCluster;
use kscale_kube::kubelet::Kubelets;

use super::crds::{self, Crd};
use kscale_components::cluster_autoscaler::adapt;
use kscale_components::karpenter::provisioning::{
    Batch, InFlight, Provisioning, ProvisioningBackend, registered_message,
};
use kscale_components::karpenter::{NodePool, PoolConfig, Provisioner, pool_label};
use kscale_model::quantity::{format_bytes, format_cpu_milli};
use kscale_model::{Resources, SimTime};
use kscale_twin::sim::Sim;
use serde_json::{Value, json};

/// How long pods stay nominated to a registered claim's node before they may be planned
/// again (the scheduler binds them within seconds). *Assumption*: 30 s.
const NOMINATION_GRACE_MS: u64 = 30_000;

/// The CRDs Karpenter's objects need (cluster-scoped).
pub const CRDS: &[Crd] = &[
    crd("karpenter.sh", &["v1"], "NodePool", "nodepools"),
    crd("karpenter.sh", &["v1"], "NodeClaim", "nodeclaims"),
    crd("karpenter.sh", &["v1alpha5"], "Provisioner", "provisioners"),
    crd(
        "karpenter.k8s.aws",
        &["v1"],
        "EC2NodeClass",
        "ec2nodeclasses",
    ),
    crd(
        "karpenter.k8s.aws",
        &["v1alpha1"],
        "AWSNodeTemplate",
        "awsnodetemplates",
    ),
];

const fn crd(
    group: &'static str,
    versions: &'static [&'static str],
    kind: &'static str,
    plural: &'static str,
) -> Crd {
    Crd {
        group,
        versions,
        kind,
        plural,
        namespaced: false,
        short_names: &[],
        columns: &[],
    }
}

/// Whether the manifests hold Karpenter objects (then the CRDs are installed).
pub fn wanted(objects: &[kscale_twin::manifest::ManifestObject]) -> bool {
    crds::wanted(objects, &["karpenter.sh", "karpenter.k8s.aws"])
}

/// Taints a node carries until it is up (karpenter pkg/scheduling/taints.go
/// `KnownEphemeralTaints`).
const EPHEMERAL_TAINTS: &[&str] = &[
    "node.kubernetes.io/not-ready",
    "node.kubernetes.io/unreachable",
    "node.kubernetes.io/network-unavailable",
    "node.cloudprovider.kubernetes.io/uninitialized",
];

/// Whether a node is initialized as Karpenter judges it: Ready and none of
/// [`EPHEMERAL_TAINTS`].
fn node_initialized(n: &Node) -> bool {
    kscale_cluster::node_ready(n)
        && n.spec
            .as_ref()
            .and_then(|s| s.taints.as_ref())
            .is_none_or(|ts| {
                ts.iter()
                    .all(|t| !EPHEMERAL_TAINTS.contains(&t.key.as_str()))
            })
}

/// Live Karpenter: the provisioning component ([`Provisioning`], as the twin runs it) and
/// NodePool disruption against the real API server.
pub struct LiveKarpenter {
    offerings: Arc<Vec<Offering>>,
    region: String,
    /// Batching, launched claims, nominations, offerings skipped after a capacity error.
    provisioning: Provisioning,
    /// Unschedulable pods (uids) seen at the last pass: a new one extends the batch.
    seen: BTreeSet<String>,
    /// Pod uid → the id provisioning knows it by (given at first sight; planning breaks ties
    /// by it), while the pod is not bound.
    ids: BTreeMap<String, u64>,
    /// The next pod id to give.
    next_id: u64,
    /// Claims launched so far.
    pub launched: u64,
    /// Registered node → its NodeClaim's name.
    claims: BTreeMap<String, String>,
    /// Registered nodes (by name) not yet initialized: a disruption command waiting for one as
    /// its replacement drains its candidates only once it is.
    uninitialized: BTreeSet<String>,
    /// The scenario's start on the Unix clock (budgets' schedules read it, as in the twin).
    start_unix_ms: i64,
    /// NodePool disruption.
    disruption: disruption::Disruption,
    /// Launches that failed for lack of capacity.
    pub insufficient_capacity_errors: u64,
}

/// The live backend as Karpenter provisioning's: NodeClaim names and the cloud's draws from
/// the run's random streams (as the twin draws them), events to the API server.
struct LiveProvisioning<'a> {
    kc: &'a mut KubeCluster,
    sim: &'a mut Sim,
    region: &'a str,
    /// Registered node → claim (a new instance's name must not be one of them).
    claims: &'a BTreeMap<String, String>,
}

impl ProvisioningBackend for LiveProvisioning<'_> {
    fn claim_name(&mut self, pool: &str) -> String {
        format!("{pool}-{}", self.sim.rng.names.name_suffix(5))
    }

    fn launch_fails(&mut self, now_ms: u64, o: &Offering) -> bool {
        self.sim
            .cloud
            .launch_fails_at(now_ms, None, &o.instance_type, &o.capacity_type)
    }

    /// The instance's address, drawn from the run's `cloud` stream as the twin draws it (so
    /// later draws of that stream, e.g. spot interruptions, line up); a name taken by a node
    /// or claim of this run is drawn again.
    fn new_instance(&mut self, in_flight: &[InFlight]) -> (String, String) {
        let (mut a, mut b) = (0, 0);
        for _ in 0..16 {
            (a, b) = self.sim.cloud.address();
            let name = format!("ip-192-168-{a}-{b}.{}.compute.internal", self.region);
            if !self.claims.contains_key(&name) && !in_flight.iter().any(|c| c.node == name) {
                break;
            }
        }
        (
            format!("ip-192-168-{a}-{b}.{}.compute.internal", self.region),
            format!("192.168.{a}.{b}"),
        )
    }

    fn provisioning_latency_ms(&mut self) -> u64 {
        self.sim.cloud.provisioning_latency_ms()
    }

    fn event(&mut self, e: Event) {
        self.kc.event(e);
    }
}

fn unschedulable(p: &Pod) -> bool {
    p.spec.as_ref().is_some_and(|s| s.node_name.is_none())
        && p.metadata.deletion_timestamp.is_none()
        && p.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .any(|c| {
                c.type_ == "PodScheduled"
                    && c.status == "False"
                    && c.reason.as_deref() == Some("Unschedulable")
            })
}

impl LiveKarpenter {
    /// Karpenter over the scenario's catalog (instance types, capacity types, zones).
    pub fn new(sim: &Sim) -> Self {
        LiveKarpenter {
            offerings: sim.offerings(),
            region: sim.region(),
            provisioning: Provisioning::default(),
            seen: BTreeSet::new(),
            ids: BTreeMap::new(),
            next_id: 0,
            launched: 0,
            claims: BTreeMap::new(),
            uninitialized: BTreeSet::new(),
            start_unix_ms: sim.start_unix_ms,
            disruption: disruption::Disruption::default(),
            insufficient_capacity_errors: 0,
        }
    }

    /// The `karpenter` section of summary.json, in the twin's form.
    pub fn summary(&self) -> Value {
        self.disruption.summary(self.launched)
    }

    /// The pools as their objects define them: Provisioners first, then NodePools, each in
    /// name order (as the twin lists them), with zero usage and daemon overhead.
    fn pool_specs(kc: &mut KubeCluster) -> Result<Vec<PoolConfig>, ApiError> {
        Ok(kc
            .list::<Provisioner>(None, "")?
            .iter()
            .map(Provisioner::config)
            .chain(kc.list::<NodePool>(None, "")?.iter().map(NodePool::config))
            .collect())
    }

    /// The pools with their usage (nodes and in-flight claims) and daemon overhead.
    fn pools(&self, kc: &mut KubeCluster) -> Result<Vec<PoolConfig>, ApiError> {
        let mut configs = Self::pool_specs(kc)?;
        // Each pool's daemonOverhead: the DaemonSets' pods its nodes would run.
        let daemons = adapt::daemon_pods(kc)?;
        for c in &mut configs {
            c.pool.daemon_overhead = kscale_controllers::daemonset::daemon_overhead(
                &daemons,
                &kscale_controllers::daemonset::pool_node(&c.pool),
            );
        }
        // Usage: the pools' nodes and in-flight claims.
        let nodes = kc.list::<Node>(None, "")?;
        for c in &mut configs {
            let label = pool_label(&c.api);
            let mut usage = Resources::ZERO;
            for n in &nodes {
                if n.metadata.labels.as_ref().and_then(|l| l.get(label)) == Some(&c.pool.name)
                    && let Some(o) = self.offering_of(n)
                {
                    usage += o.capacity;
                }
            }
            for f in self
                .provisioning
                .in_flight()
                .iter()
                .filter(|f| f.pool == c.pool.name)
            {
                usage += f.offering.capacity;
            }
            c.pool.usage = usage;
        }
        Ok(configs)
    }

    /// The catalog's offering a node runs on: its instance type, and its capacity type and
    /// zone where labelled (the prices differ).
    fn offering_of(&self, n: &Node) -> Option<&Offering> {
        let l = n.metadata.labels.as_ref()?;
        let it = l.get("node.kubernetes.io/instance-type")?;
        let ct = l.get("karpenter.sh/capacity-type");
        let zone = l.get("topology.kubernetes.io/zone");
        let of_type = || self.offerings.iter().filter(|o| &o.instance_type == it);
        of_type()
            .find(|o| ct.is_none_or(|c| *c == o.capacity_type) && zone.is_none_or(|z| *z == o.zone))
            .or_else(|| of_type().next())
    }

    /// One pass at run time `t`: registers claims whose node is up, batches unschedulable
    /// pods and launches claims for a closed batch, then runs disruption.
    pub fn advance(
        &mut self,
        kc: &mut KubeCluster,
        t: u64,
        sim: &mut Sim,
        kubelets: &mut Kubelets,
    ) -> Result<(), ApiError> {
        // Nodes whose provisioning latency is over register (the claim of a pool deleted
        // meanwhile does not, as in the twin).
        let due = self.provisioning.due(t);
        let specs = if due.is_empty() {
            vec![]
        } else {
            Self::pool_specs(kc)?
        };
        for claim in due {
            let Some(f) = self.provisioning.registered(&claim, t, NOMINATION_GRACE_MS) else {
                continue;
            };
            let Some(cfg) = specs.iter().find(|c| c.pool.name == f.pool) else {
                continue;
            };
            self.register(kc, kubelets, &f, cfg)?;
            self.claims.insert(f.node.clone(), f.claim.clone());
            self.uninitialized.insert(f.node.clone());
        }
        let mut nodes = kc.list::<Node>(None, "")?;
        nodes.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        self.claims.retain(|n, _| {
            nodes
                .iter()
                .any(|x| x.metadata.name.as_deref() == Some(n.as_str()))
        });
        let pods = kc.list::<Pod>(None, "")?;
        self.provision(kc, t, sim, &pods)?;
        // A replacement counts once its node is initialized: Ready, with the known ephemeral
        // taints (`node.kubernetes.io/not-ready`, which the node lifecycle controller removes
        // once it sees Ready, ...) gone (karpenter pkg/controllers/nodeclaim/lifecycle/
        // initialization.go, pkg/scheduling/taints.go `KnownEphemeralTaints`); draining its
        // candidates before would send their pods to a node they cannot schedule on yet.
        let initialized: Vec<String> = self
            .uninitialized
            .iter()
            .filter(|name| {
                nodes
                    .iter()
                    .find(|n| n.metadata.name.as_deref() == Some(name.as_str()))
                    .is_some_and(node_initialized)
            })
            .cloned()
            .collect();
        self.uninitialized
            .retain(|n| self.claims.contains_key(n) && !initialized.contains(n));
        for node in initialized {
            if let Some(claim) = self.claims.get(&node).cloned() {
                self.replacement_ready(kc, t, &claim, &pods)?;
            }
        }
        self.disrupt(kc, t, sim, kubelets, &nodes, &pods)
    }

    /// Creates the Node of a claim whose instance is up and starts its kubelet.
    fn register(
        &mut self,
        kc: &mut KubeCluster,
        kubelets: &mut Kubelets,
        c: &InFlight,
        cfg: &PoolConfig,
    ) -> Result<(), ApiError> {
        let mut labels = karpenter::node_labels(&cfg.pool, &c.offering);
        labels.insert("kubernetes.io/hostname".into(), c.node.clone());
        labels.insert("karpenter.sh/registered".into(), "true".into());
        labels.insert("karpenter.sh/initialized".into(), "true".into());
        let r = |x: &Resources| json!({"cpu": format_cpu_milli(x.cpu_milli), "memory": format_bytes(x.memory), "pods": x.pods.to_string()});
        let taints: Vec<Value> = cfg
            .pool
            .taints
            .iter()
            .map(|t| {
                let mut v = json!({"key": t.key, "effect": t.effect.as_str()});
                if !t.value.is_empty() {
                    v["value"] = json!(t.value);
                }
                v
            })
            .collect();
        let node: Node = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": c.node, "labels": labels},
            "spec": {"providerID": format!("aws:///{}/i-{:017x}", c.offering.zone, c.instance), "taints": taints},
            "status": {"capacity": r(&c.offering.capacity), "allocatable": r(&c.offering.allocatable),
                       "addresses": [{"type": "InternalIP", "address": c.ip}, {"type": "Hostname", "address": c.node}],
                       "nodeInfo": {"kubeletVersion": "v1.32.0-eks", "kubeProxyVersion": "v1.32.0-eks",
                                    "osImage": "Amazon Linux 2023", "kernelVersion": "6.1.0",
                                    "containerRuntimeVersion": "containerd://1.7.20",
                                    "operatingSystem": "linux", "architecture": "amd64",
                                    "machineID": "", "systemUUID": "", "bootID": ""},
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                       "message": "kubelet is posting ready status"}]}
        }))
        .map_err(|e| ApiError::Invalid(e.to_string()))?;
        kubelets.register(kc, &node)?;
        kc.event(Event {
            type_: EventType::Normal,
            reason: "Registered".into(),
            kind: "NodeClaim".into(),
            namespace: String::new(),
            name: c.claim.clone(),
            message: registered_message(&c.node),
            source: "karpenter".into(),
        });
        Ok(())
    }

    /// Provisioning: batches unschedulable pods and launches claims for a closed batch.
    fn provision(
        &mut self,
        kc: &mut KubeCluster,
        t: u64,
        sim: &mut Sim,
        pods: &[Pod],
    ) -> Result<(), ApiError> {
        // Pods bound since the last pass free the room held for them on an in-flight claim;
        // ids are kept only for pods not bound yet.
        let mut unbound = BTreeSet::new();
        for p in pods {
            let Some(uid) = p.metadata.uid.as_deref() else {
                continue;
            };
            if p.spec.as_ref().is_some_and(|s| s.node_name.is_some()) {
                if let Some(id) = self.ids.remove(uid) {
                    self.provisioning.pod_bound(id, adapt::pod_requests_of(p));
                }
            } else {
                unbound.insert(uid);
            }
        }
        self.ids.retain(|uid, _| unbound.contains(uid.as_str()));
        let mut pending = vec![];
        for p in pods.iter().filter(|p| unschedulable(p)) {
            let uid = p.metadata.uid.clone().unwrap_or_default();
            let id = match self.ids.get(&uid) {
                Some(id) => *id,
                None => {
                    self.next_id += 1;
                    self.ids.insert(uid.clone(), self.next_id);
                    self.next_id
                }
            };
            if !self.provisioning.is_nominated(id, t) {
                pending.push((uid, adapt::pod_info(p, id, SimTime::ZERO)));
            }
        }
        let live: BTreeSet<String> = pending.iter().map(|(uid, _)| uid.clone()).collect();
        if live.iter().any(|u| !self.seen.contains(u)) {
            self.provisioning.pods_pending(t);
            // As in the twin, disruption polls from the first batch on.
            self.disruption.start_polling(t);
        }
        self.seen = live;
        if self.provisioning.take_closed_batch(t) != Batch::Closed || pending.is_empty() {
            return Ok(());
        }
        let configs = self.pools(kc)?;
        if configs.is_empty() {
            return Ok(());
        }
        let mut infos: Vec<PodInfo> = pending.into_iter().map(|(_, info)| info).collect();
        // In the order provisioning knows them (first sight), as the twin's pod ids.
        infos.sort_by_key(|p| p.id);
        let offerings = self.offerings.clone();
        let mut backend = LiveProvisioning {
            kc,
            sim,
            region: &self.region,
            claims: &self.claims,
        };
        let done = self
            .provisioning
            .provision(&mut backend, t, infos, &configs, &offerings);
        self.launched += done.launches;
        self.insufficient_capacity_errors += done.insufficient_capacity_errors;
        Ok(())
    }

    /// Launches NodeClaim `claim` of `cfg` on `offering` for a disruption's replacement, unless
    /// the cloud has no capacity for it now (then false).
    #[allow(clippy::too_many_arguments)]
    fn launch(
        &mut self,
        kc: &mut KubeCluster,
        t: u64,
        sim: &mut Sim,
        claim: String,
        cfg: &PoolConfig,
        offering: Offering,
        requests: Resources,
    ) -> bool {
        let mut backend = LiveProvisioning {
            kc,
            sim,
            region: &self.region,
            claims: &self.claims,
        };
        let launched = self
            .provisioning
            .try_launch(&mut backend, t, cfg, claim, offering, &[], requests)
            .is_some();
        if launched {
            self.launched += 1;
        } else {
            self.insufficient_capacity_errors += 1;
        }
        launched
    }

    /// The offerings not cached as unavailable at run time `t`.
    fn available_offerings(&self, t: u64) -> Arc<Vec<Offering>> {
        self.provisioning.available(&self.offerings, t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(ready: bool, taints: &[&str]) -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": "n"},
            "spec": {"taints": taints.iter().map(|k| json!({"key": k, "effect": "NoSchedule"})).collect::<Vec<_>>()},
            "status": {"conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]},
        }))
        .unwrap()
    }

    #[test]
    fn a_node_is_initialized_once_ready_without_ephemeral_taints() {
        assert!(node_initialized(&node(true, &[])));
        // A NodePool's own taints stay: they are not ephemeral.
        assert!(node_initialized(&node(true, &["dedicated"])));
        assert!(!node_initialized(&node(false, &[])));
        assert!(!node_initialized(&node(
            true,
            &["node.kubernetes.io/not-ready"]
        )));
        assert!(!node_initialized(&node(
            true,
            &["node.cloudprovider.kubernetes.io/uninitialized"]
        )));
    }
}
