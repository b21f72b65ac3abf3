//! Karpenter provisioning on a `--cluster` run: the twin's decisions
//! (`kscale_controllers::karpenter::plan` over the scenario's instance catalog) against the
//! real scheduler's unschedulable pods, launching nodes kscale registers after the cloud's
//! provisioning latency.
//!
//! As upstream (kubernetes-sigs/karpenter `pkg/controllers/provisioning`): pods the scheduler
//! marked `PodScheduled=False, reason Unschedulable` open a batch that closes after 1 s without
//! a new pod or 10 s in all; each closed batch is planned onto the highest-weight compatible
//! NodePool / Provisioner and the cheapest offering; pods planned onto a launched NodeClaim
//! are nominated to it and not planned again until its node registered. Karpenter's CRDs are
//! installed (schemaless) so the manifests' NodePools, Provisioners and node classes can be
//! created. Disruption (NodePools' emptiness, multi- and single-node consolidation under their
//! budgets; Provisioners' `ttlSecondsAfterEmpty` and consolidation) is the [`disruption`]
//! module. A launch the scenario's cloud refuses (`spec.cloud.insufficientCapacity`) records
//! `InsufficientCapacityError`, skips the offering for 3 minutes and re-plans its pods (e.g.
//! on-demand after spot), as in the twin; spot interruptions are the cloud's (`spot.rs`). Not
//! live yet: expiry, drift.

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
use kscale_model::quantity::{format_bytes, format_cpu_milli};
use kscale_model::{Resources, SimTime};
use kscale_twin::sim::Sim;
use kscale_twin::sim::karpenter::{ICE_TTL_MS, PoolConfig, pool_configs, pool_label};
use kscale_twin::sim::model::PodTemplate;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use serde_json::{Value, json};

/// Batch idle time (1 s) and maximum length (10 s), upstream's `BATCH_IDLE_DURATION` and
/// `BATCH_MAX_DURATION` defaults.
const BATCH_IDLE_MS: u64 = 1_000;
const BATCH_MAX_MS: u64 = 10_000;
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

struct Claim {
    name: String,
    node: String,
    ip: String,
    config: PoolConfig,
    offering: Offering,
    /// Requests planned onto it.
    planned: Resources,
    ready_at: u64,
    /// Its instance's number (the provider ID's `i-…`).
    instance: u64,
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

/// Live Karpenter provisioning.
pub struct LiveKarpenter {
    offerings: Arc<Vec<Offering>>,
    region: String,
    batch: Option<(u64, u64)>,
    seen: BTreeSet<String>,
    in_flight: Vec<Claim>,
    /// Pod uid → until when it is nominated (`u64::MAX` while its claim is in flight).
    nominated: BTreeMap<String, (String, u64)>,
    seq: u64,
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
    /// Offerings that failed for lack of capacity: (instance type, capacity type, zone) →
    /// until when (run ms) they are skipped.
    unavailable: BTreeMap<(String, String, String), u64>,
    /// Launches that failed for lack of capacity.
    pub insufficient_capacity_errors: u64,
}

fn dynamic(
    kc: &KubeCluster,
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
) -> Api<DynamicObject> {
    let ar = ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: format!("{group}/{version}"),
        kind: kind.into(),
        plural: plural.into(),
    };
    Api::all_with(kc.client().clone(), &ar)
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
            batch: None,
            seen: BTreeSet::new(),
            in_flight: vec![],
            nominated: BTreeMap::new(),
            seq: 0,
            launched: 0,
            claims: BTreeMap::new(),
            uninitialized: BTreeSet::new(),
            start_unix_ms: sim.start_unix_ms,
            disruption: disruption::Disruption::default(),
            unavailable: BTreeMap::new(),
            insufficient_capacity_errors: 0,
        }
    }

    /// The `karpenter` section of summary.json, in the twin's form.
    pub fn summary(&self) -> Value {
        self.disruption.summary(self.launched)
    }

    fn pools(&self, kc: &mut KubeCluster) -> Result<Vec<PoolConfig>, ApiError> {
        let mut objects: Vec<(&'static str, String, Value)> = vec![];
        for (kind, api) in [
            (
                "Provisioner",
                dynamic(
                    kc,
                    "karpenter.sh",
                    "v1alpha5",
                    "Provisioner",
                    "provisioners",
                ),
            ),
            (
                "NodePool",
                dynamic(kc, "karpenter.sh", "v1", "NodePool", "nodepools"),
            ),
        ] {
            let list = kc
                .block_on(api.list(&ListParams::default()))
                .map_err(|e| ApiError::Unavailable(format!("listing {kind}s: {e}")))?;
            for o in list.items {
                let name = o.metadata.name.clone().unwrap_or_default();
                let v = serde_json::to_value(&o).map_err(|e| ApiError::Invalid(e.to_string()))?;
                objects.push((kind, name, v));
            }
        }
        let mut configs = pool_configs(objects.iter().map(|(k, n, v)| (*k, n.as_str(), v)));
        // Each pool's daemonOverhead: the DaemonSets' pods its nodes would run.
        let daemons = kscale_components::cluster_autoscaler::adapt::daemon_pods(kc)?;
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
                .in_flight
                .iter()
                .filter(|f| f.config.pool.name == c.pool.name)
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
        // Nodes whose provisioning latency is over register.
        let due: Vec<Claim> = {
            let (due, rest): (Vec<Claim>, Vec<Claim>) = std::mem::take(&mut self.in_flight)
                .into_iter()
                .partition(|c| c.ready_at <= t);
            self.in_flight = rest;
            due
        };
        for c in due {
            self.register(kc, kubelets, &c)?;
            for (_, (claim, until)) in self.nominated.iter_mut() {
                if *claim == c.name {
                    *until = t + NOMINATION_GRACE_MS;
                }
            }
            self.claims.insert(c.node.clone(), c.name.clone());
            self.uninitialized.insert(c.node.clone());
        }
        self.nominated.retain(|_, (_, until)| *until > t);
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
        c: &Claim,
    ) -> Result<(), ApiError> {
        let mut labels = karpenter::node_labels(&c.config.pool, &c.offering);
        labels.insert("kubernetes.io/hostname".into(), c.node.clone());
        labels.insert("karpenter.sh/registered".into(), "true".into());
        labels.insert("karpenter.sh/initialized".into(), "true".into());
        let r = |x: &Resources| json!({"cpu": format_cpu_milli(x.cpu_milli), "memory": format_bytes(x.memory), "pods": x.pods.to_string()});
        let taints: Vec<Value> = c
            .config
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
            name: c.name.clone(),
            message: format!("Status condition transitioned, Type: Registered, Status: True, Reason: Registered (node {})", c.node),
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
        let pending: Vec<&Pod> = pods
            .iter()
            .filter(|p| unschedulable(p))
            .filter(|p| {
                !self
                    .nominated
                    .contains_key(p.metadata.uid.as_deref().unwrap_or(""))
            })
            .collect();
        let live: BTreeSet<String> = pending
            .iter()
            .filter_map(|p| p.metadata.uid.clone())
            .collect();
        if live.iter().any(|u| !self.seen.contains(u)) {
            let start = self.batch.map(|(s, _)| s).unwrap_or(t);
            self.batch = Some((start, t));
            // As in the twin, disruption polls from the first batch on.
            self.disruption.start_polling(t);
        }
        self.seen = live;
        let Some((start, last)) = self.batch else {
            return Ok(());
        };
        if t < last + BATCH_IDLE_MS && t < start + BATCH_MAX_MS {
            return Ok(());
        }
        self.batch = None;
        if pending.is_empty() {
            return Ok(());
        }
        let configs = self.pools(kc)?;
        if configs.is_empty() {
            return Ok(());
        }
        let infos: Vec<PodInfo> = pending
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let meta = serde_json::to_value(&p.metadata).unwrap_or(Value::Null);
                let spec = serde_json::to_value(p.spec.as_ref()).unwrap_or(Value::Null);
                let tpl = PodTemplate::compile(Some(&meta), &spec);
                PodInfo {
                    id: i as u64,
                    namespace: Arc::from(p.metadata.namespace.as_deref().unwrap_or("default")),
                    name: Arc::from(p.metadata.name.as_deref().unwrap_or("")),
                    labels: tpl.labels.clone(),
                    requests: tpl.requests,
                    priority: p.spec.as_ref().and_then(|s| s.priority).unwrap_or(0),
                    start_time: SimTime::ZERO,
                    terminating: false,
                    constraints: tpl.constraints.clone(),
                    default_selector: None,
                }
            })
            .collect();
        let pools: Vec<karpenter::Pool> = configs.iter().map(|c| c.pool.clone()).collect();
        // An offering that fails for lack of capacity is cached as unavailable and its pods are
        // planned again without it (Karpenter's fallback, e.g. spot → on-demand), as in the
        // twin: at most 8 rounds.
        let mut todo = infos;
        for _round in 0..8 {
            if todo.is_empty() {
                break;
            }
            let available = self.available_offerings(t);
            let plan = karpenter::plan(&todo, &pools, &available);
            for (id, reason) in &plan.unschedulable {
                let p = pending[*id as usize];
                kc.event(Event {
                    type_: EventType::Warning,
                    reason: "FailedScheduling".into(),
                    kind: "Pod".into(),
                    namespace: p.metadata.namespace.clone().unwrap_or_default(),
                    name: p.metadata.name.clone().unwrap_or_default(),
                    message: format!("Failed to schedule pod, {reason}"),
                    source: "karpenter".into(),
                });
            }
            let mut retry = vec![];
            for claim in plan.claims {
                let config = configs[claim.pool].clone();
                let offering = available[claim.offering].clone();
                let name = format!("{}-{}", config.pool.name, sim.rng.names.name_suffix(5));
                if self.insufficient_capacity(kc, t, sim, &name, &offering) {
                    let ids: BTreeSet<u64> = claim.pods.iter().copied().collect();
                    retry.extend(todo.iter().filter(|p| ids.contains(&p.id)).cloned());
                    continue;
                }
                let nominated: Vec<&Pod> =
                    claim.pods.iter().map(|id| pending[*id as usize]).collect();
                self.launch(
                    kc,
                    t,
                    sim,
                    name,
                    config,
                    offering,
                    &nominated,
                    claim.requests,
                );
            }
            todo = retry;
        }
        Ok(())
    }

    /// The offerings not cached as unavailable at run time `t`.
    fn available_offerings(&mut self, t: u64) -> Arc<Vec<Offering>> {
        self.unavailable.retain(|_, until| *until > t);
        if self.unavailable.is_empty() {
            return self.offerings.clone();
        }
        Arc::new(
            self.offerings
                .iter()
                .filter(|o| {
                    !self.unavailable.contains_key(&(
                        o.instance_type.clone(),
                        o.capacity_type.clone(),
                        o.zone.clone(),
                    ))
                })
                .cloned()
                .collect(),
        )
    }

    /// Whether the cloud has no capacity for a launch of `offering` now
    /// (`spec.cloud.insufficientCapacity`, the twin's `launch_fails`): then the claim's
    /// `InsufficientCapacityError` is recorded and the offering skipped for `ICE_TTL_MS`.
    fn insufficient_capacity(
        &mut self,
        kc: &mut KubeCluster,
        t: u64,
        sim: &mut Sim,
        claim: &str,
        o: &Offering,
    ) -> bool {
        if !sim
            .cloud
            .launch_fails_at(t, None, &o.instance_type, &o.capacity_type)
        {
            return false;
        }
        self.insufficient_capacity_errors += 1;
        kc.event(Event {
            type_: EventType::Warning,
            reason: "InsufficientCapacityError".into(),
            kind: "NodeClaim".into(),
            namespace: String::new(),
            name: claim.into(),
            message: format!(
                "NodeClaim {claim} event: creating instance, insufficient capacity ({} {} in {})",
                o.instance_type, o.capacity_type, o.zone
            ),
            source: "karpenter".into(),
        });
        self.unavailable.insert(
            (
                o.instance_type.clone(),
                o.capacity_type.clone(),
                o.zone.clone(),
            ),
            t + ICE_TTL_MS,
        );
        true
    }

    /// Launches NodeClaim `name` of `config` on `offering` with `pods` nominated to it; its
    /// node registers after the cloud's provisioning latency. Returns the claim's name.
    #[allow(clippy::too_many_arguments)]
    fn launch(
        &mut self,
        kc: &mut KubeCluster,
        t: u64,
        sim: &mut Sim,
        name: String,
        config: PoolConfig,
        offering: Offering,
        pods: &[&Pod],
        planned: Resources,
    ) -> String {
        self.seq += 1;
        // The instance's address, drawn from the run's `cloud` stream as the twin draws it
        // (so later draws of that stream, e.g. spot interruptions, line up); a name taken by a
        // node or claim of this run is drawn again.
        let (mut a, mut b) = (0, 0);
        for _ in 0..16 {
            (a, b) = sim.cloud.address();
            let name = format!("ip-192-168-{a}-{b}.{}.compute.internal", self.region);
            if !self.claims.contains_key(&name) && !self.in_flight.iter().any(|c| c.node == name) {
                break;
            }
        }
        let node = format!("ip-192-168-{a}-{b}.{}.compute.internal", self.region);
        let ip = format!("192.168.{a}.{b}");
        for p in pods {
            let uid = p.metadata.uid.clone().unwrap_or_default();
            self.nominated.insert(uid, (name.clone(), u64::MAX));
            kc.event(Event {
                type_: EventType::Normal,
                reason: "Nominated".into(),
                kind: "Pod".into(),
                namespace: p.metadata.namespace.clone().unwrap_or_default(),
                name: p.metadata.name.clone().unwrap_or_default(),
                message: format!("Pod should schedule on: nodeclaim/{name}"),
                source: "karpenter".into(),
            });
        }
        kc.event(Event {
            type_: EventType::Normal,
            reason: "Launched".into(),
            kind: "NodeClaim".into(),
            namespace: String::new(),
            name: name.clone(),
            message: format!(
                "Status condition transitioned, Type: Launched, Status: True, Reason: Launched ({} {} in {})",
                offering.instance_type, offering.capacity_type, offering.zone
            ),
            source: "karpenter".into(),
        });
        self.launched += 1;
        let delay = sim.cloud.provisioning_latency_ms();
        self.in_flight.push(Claim {
            name: name.clone(),
            node,
            ip,
            config,
            offering,
            planned,
            ready_at: t + delay,
            instance: self.seq,
        });
        name
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
