//! Karpenter in the twin: provisioning from `karpenter.sh/v1alpha5` Provisioners and
//! `karpenter.sh/v1` NodePools, and disruption of empty / underutilized nodes.
//!
//! Provisioning is the component both backends run
//! ([`kscale_components::karpenter::provisioning`]): the scheduler's failed cycles open or
//! extend its batch ([`Sim::karpenter_pod_pending`]), a closed batch is planned and launched
//! with the twin as its backend (names from the `names` stream; capacity errors, addresses and
//! latencies from the cloud), and a launched NodeClaim registers as a node after the cloud's
//! provisioning latency. Disruption polls every 10 s (pkg/controllers/disruption): a
//! Provisioner's `ttlSecondsAfterEmpty` removes empty nodes and `consolidation.enabled` also a
//! node whose pods all fit on the other nodes, one node per poll. NodePools are disrupted as
//! Karpenter v1 does — emptiness, multi- and single-node consolidation with replacement by a
//! cheaper node, under disruption budgets — in [`super::karpenter_disruption`].

use std::collections::BTreeMap;
use std::sync::Arc;

use kscale_cluster::Cluster;
use kscale_components::karpenter::provisioner::{self, ProvisionerDisruption};
use kscale_components::karpenter::provisioning::{
    Batch, InFlight, Provisioning, ProvisioningBackend, registered_message,
};
pub use kscale_components::karpenter::{
    BATCH_IDLE_MS, BATCH_MAX_MS, DISRUPTION_POLL_MS, DecisionRecord, ICE_TTL_MS,
    MAX_CONSOLIDATION_CANDIDATES, PoolApi, PoolConfig, pool_configs, pool_label,
};
use kscale_controllers::karpenter::{self, Offering};
use kscale_controllers::scheduler::NodeInfo;
use kscale_model::{Resources, SimTime};

use super::changes::Topic;
use super::cluster_api::SimCluster;
use super::{Event, Sim};
use crate::cloud;

/// The twin as Karpenter provisioning's backend: NodeClaim names from the run's `names`
/// stream, capacity errors, addresses and latencies from its cloud, events into its recorder.
struct TwinProvisioning<'a>(&'a mut Sim);

impl ProvisioningBackend for TwinProvisioning<'_> {
    fn claim_name(&mut self, pool: &str) -> String {
        format!("{pool}-{}", self.0.rng.names.name_suffix(5))
    }

    fn launch_fails(&mut self, now_ms: u64, o: &Offering) -> bool {
        self.0
            .cloud
            .launch_fails_at(now_ms, None, &o.instance_type, &o.capacity_type)
    }

    fn new_instance(&mut self, _in_flight: &[InFlight]) -> (String, String) {
        let (a, b) = self.0.cloud.address();
        let region = self.0.region();
        (
            format!("ip-192-168-{a}-{b}.{region}.compute.internal"),
            format!("192.168.{a}.{b}"),
        )
    }

    fn provisioning_latency_ms(&mut self) -> u64 {
        self.0.cloud.provisioning_latency_ms()
    }

    fn event(&mut self, e: kscale_cluster::Event) {
        SimCluster(self.0).event(e);
    }
}

/// Karpenter's state in the twin.
#[derive(Debug, Default)]
pub struct KarpenterState {
    /// Provisioning: the batch, the claims in flight and the pods nominated to them, the
    /// offerings skipped after a capacity error.
    pub provisioning: Provisioning,
    /// v1alpha5 Provisioners' disruption: when their nodes became empty, the last
    /// consolidation that found nothing.
    pub provisioners: ProvisionerDisruption,
    /// Disruption polling is scheduled.
    pub polling: bool,
    /// The nodes' summed capacity per pool label and pool name, and the
    /// [`Sim::node_labels_epoch`] it was summed at (the nodes' share of the pools' usage).
    node_usage: Option<(u64, NodeUsage)>,
}

/// Σ capacity of the nodes, per pool label (`karpenter.sh/nodepool`,
/// `karpenter.sh/provisioner-name`) and value.
type NodeUsage = BTreeMap<&'static str, BTreeMap<String, Resources>>;

/// Adds (`add`) or subtracts a node's capacity to the usage of the pools its labels name.
fn count_node(usage: &mut NodeUsage, n: &super::model::Node, add: bool) {
    for label in [
        pool_label(&PoolApi::Provisioner),
        pool_label(&PoolApi::NodePool),
    ] {
        if let Some(v) = n.info.labels.get(label) {
            let sum = usage
                .entry(label)
                .or_default()
                .entry(v.clone())
                .or_insert(Resources::ZERO);
            if add {
                *sum += n.capacity;
            } else {
                *sum -= n.capacity;
            }
        }
    }
}

impl Sim {
    /// Provisioners and NodePools in the store.
    pub fn karpenter_pools(&mut self) -> Vec<PoolConfig> {
        let mut out = self.karpenter_pool_specs();
        self.fill_pool_usage(&mut out);
        for c in &mut out {
            c.pool.daemon_overhead = self.daemon_overhead(&c.pool);
        }
        out
    }

    /// The pools' usage (nodes and in-flight NodeClaims labelled with each pool). The nodes'
    /// share follows node additions and removals ([`Sim::karpenter_node_counted`]) and is
    /// summed again only when labels changed ([`Sim::node_labels_epoch`]); capacities never
    /// change.
    fn fill_pool_usage(&mut self, configs: &mut [PoolConfig]) {
        let epoch = self.store.changes().at(Topic::NodeMetadata);
        if self
            .karpenter
            .node_usage
            .as_ref()
            .is_none_or(|(e, _)| *e != epoch)
        {
            self.karpenter.node_usage = Some((epoch, self.node_usage()));
        }
        let (_, nodes) = self.karpenter.node_usage.as_ref().expect("just filled");
        for c in configs {
            let name = c.pool.name.as_str();
            let on_nodes = nodes
                .get(pool_label(&c.api))
                .and_then(|m| m.get(name))
                .copied()
                .unwrap_or(Resources::ZERO);
            let inflight = self
                .karpenter
                .provisioning
                .in_flight()
                .iter()
                .filter(|f| f.pool == name)
                .fold(Resources::ZERO, |a, f| a + f.offering.capacity);
            c.pool.usage = on_nodes + inflight;
        }
    }

    /// Node `name` was just added (`added`) or is about to be removed: the pools' node usage,
    /// if current, follows the change, and disruption forgets what it cached of the name.
    pub(super) fn karpenter_node_counted(&mut self, name: &str, added: bool) {
        self.karpenter_disruption.forget_node(name);
        let Some((epoch, usage)) = &mut self.karpenter.node_usage else {
            return;
        };
        let Some(n) = self
            .nodes
            .get(name)
            .filter(|_| *epoch == self.store.changes().at(Topic::NodeMetadata))
        else {
            return;
        };
        count_node(usage, n, added);
    }

    /// Σ capacity of the nodes per pool label and value, summed now.
    fn node_usage(&self) -> NodeUsage {
        let mut out = NodeUsage::new();
        for n in self.nodes.values() {
            count_node(&mut out, n, true);
        }
        out
    }

    /// Checks Karpenter's incremental state against a recomputation: the nodes' usage per pool
    /// (while its epoch is current), the disruption cache, and that every pod the scheduler
    /// found unschedulable is in `unschedulable_since` (provisioning lists pending pods from it).
    pub fn karpenter_check_invariants(&self) -> Result<(), String> {
        // (Entries whose sum is zero read as absent.)
        let nonzero = |u: &NodeUsage| -> Vec<(&'static str, String, Resources)> {
            u.iter()
                .flat_map(|(l, m)| m.iter().map(|(v, r)| (*l, v.clone(), *r)))
                .filter(|x| x.2 != Resources::ZERO)
                .collect()
        };
        if let Some((e, usage)) = &self.karpenter.node_usage
            && *e == self.store.changes().at(Topic::NodeMetadata)
            && nonzero(usage) != nonzero(&self.node_usage())
        {
            return Err(format!(
                "Karpenter node usage {usage:?} != recomputed {:?}",
                self.node_usage()
            ));
        }
        for p in self.pods.values() {
            if p.unschedulable.is_some()
                && !self.sched_queue.unschedulable_since().contains_key(&p.id)
            {
                return Err(format!(
                    "pod {} is unschedulable but not in unschedulable_since",
                    p.name
                ));
            }
        }
        self.disruption_check_invariants()
    }

    /// [`Sim::karpenter_pools`] with every usage zero (read from the objects only).
    fn karpenter_pool_specs(&self) -> Vec<PoolConfig> {
        pool_configs(
            self.store
                .list("Provisioner", None)
                .chain(self.store.list("NodePool", None))
                .map(|(k, v)| (k.kind.as_str(), k.name.as_str(), v)),
        )
    }

    /// Every offering of the catalog: instance type × capacity type × zone.
    pub fn offerings(&self) -> Arc<Vec<Offering>> {
        // A function of the scenario (catalog, capacity types, zones): built once.
        self.offerings_cache
            .get_or_init(|| Arc::new(self.build_offerings()))
            .clone()
    }

    fn build_offerings(&self) -> Vec<Offering> {
        let mut out = vec![];
        for it in cloud::AWS_CATALOG {
            let (family, size) = it.name.split_once('.').unwrap_or((it.name, ""));
            for ct in ["on-demand", "spot"] {
                for zone in self.zones() {
                    let mut l = BTreeMap::new();
                    l.insert(
                        "node.kubernetes.io/instance-type".to_string(),
                        it.name.to_string(),
                    );
                    l.insert("karpenter.sh/capacity-type".into(), ct.into());
                    l.insert("topology.kubernetes.io/zone".into(), zone.clone());
                    l.insert("kubernetes.io/arch".into(), "amd64".into());
                    l.insert("kubernetes.io/os".into(), "linux".into());
                    l.insert("karpenter.k8s.aws/instance-family".into(), family.into());
                    l.insert("karpenter.k8s.aws/instance-size".into(), size.into());
                    l.insert("karpenter.k8s.aws/instance-cpu".into(), it.vcpu.to_string());
                    l.insert(
                        "karpenter.k8s.aws/instance-memory".into(),
                        ((it.memory_gib * 1024.0) as i64).to_string(),
                    );
                    out.push(Offering {
                        instance_type: it.name.into(),
                        capacity_type: ct.into(),
                        zone: zone.clone(),
                        capacity: Resources {
                            cpu_milli: it.cpu_milli(),
                            memory: it.memory_bytes(),
                            pods: it.max_pods as i64,
                        },
                        allocatable: Resources {
                            cpu_milli: it.allocatable_cpu_milli(),
                            memory: it.allocatable_memory(),
                            pods: it.max_pods as i64,
                        },
                        price: it.hourly_price(ct),
                        labels: l,
                    });
                }
            }
        }
        out
    }

    /// A pod failed scheduling: open or extend Karpenter's batch.
    pub fn karpenter_pod_pending(&mut self) {
        if self.store.list("Provisioner", None).next().is_none()
            && self.store.list("NodePool", None).next().is_none()
        {
            return;
        }
        let now = self.now;
        if self.karpenter.provisioning.pods_pending(now.as_millis()) {
            self.queue
                .push(now.plus_millis(BATCH_IDLE_MS), Event::KarpenterBatch);
        }
        if !self.karpenter.polling {
            self.karpenter.polling = true;
            self.queue.push(
                now.plus_millis(DISRUPTION_POLL_MS),
                Event::KarpenterDisruption,
            );
        }
    }

    /// The batch window may have closed: provision.
    pub fn karpenter_batch(&mut self) {
        match self
            .karpenter
            .provisioning
            .take_closed_batch(self.now.as_millis())
        {
            Batch::None => {}
            Batch::OpenUntil(close) => self.queue.push(SimTime(close), Event::KarpenterBatch),
            Batch::Closed => self.karpenter_provision(),
        }
    }

    fn karpenter_provision(&mut self) {
        // Every pod the scheduler found unschedulable is in `unschedulable_since` (in id order,
        // like the pod table; checked by `karpenter_check_invariants`): no walk over all pods.
        let now = self.now.as_millis();
        let k = &self.karpenter.provisioning;
        let pending: Vec<_> = self
            .sched_queue
            .unschedulable_since()
            .keys()
            .filter_map(|id| self.pods.get(id))
            .filter(|p| {
                p.node.is_none()
                    && p.nominated.is_none()
                    && p.deleting_at.is_none()
                    && p.unschedulable.is_some()
                    && !k.is_nominated(p.id, now)
            })
            .map(|p| p.sched_info())
            .collect();
        if pending.is_empty() {
            return;
        }
        let configs = self.karpenter_pools();
        let offerings = self.offerings();
        let mut p = std::mem::take(&mut self.karpenter.provisioning);
        let before = p.in_flight().len();
        let done = p.provision(
            &mut TwinProvisioning(self),
            now,
            pending,
            &configs,
            &offerings,
        );
        for f in &p.in_flight()[before..] {
            self.queue.push(
                SimTime(f.ready_at_ms),
                Event::KarpenterRegistered(f.claim.clone()),
            );
        }
        self.karpenter.provisioning = p;
        for _ in 0..done.insufficient_capacity_errors {
            self.count("insufficientCapacityErrors");
        }
        for _ in 0..done.launches {
            self.count("karpenterLaunches");
        }
    }

    /// Launches NodeClaim `claim` on offering `o` for a disruption's replacement (it registers
    /// after the provisioning latency), unless the cloud has no capacity for it now: then
    /// false.
    pub fn launch_claim(
        &mut self,
        cfg: &PoolConfig,
        claim: String,
        o: Offering,
        requests: Resources,
    ) -> bool {
        let now = self.now.as_millis();
        let mut p = std::mem::take(&mut self.karpenter.provisioning);
        let registers = p
            .try_launch(
                &mut TwinProvisioning(self),
                now,
                cfg,
                claim,
                o,
                &[],
                requests,
            )
            .map(|f| (SimTime(f.ready_at_ms), f.claim.clone()));
        self.karpenter.provisioning = p;
        match registers {
            Some((at, claim)) => {
                self.queue.push(at, Event::KarpenterRegistered(claim));
                self.count("karpenterLaunches");
                true
            }
            None => {
                self.count("insufficientCapacityErrors");
                false
            }
        }
    }

    /// A launched NodeClaim's node registers and becomes Ready.
    pub fn karpenter_registered(&mut self, claim: &str) {
        // The pods nominated to it are no longer (the scheduler sees the node at once).
        let Some(f) = self
            .karpenter
            .provisioning
            .registered(claim, self.now.as_millis(), 0)
        else {
            return;
        };
        let configs = self.karpenter_pools();
        let Some(cfg) = configs.iter().find(|c| c.pool.name == f.pool) else {
            return;
        };
        let mut node_labels = karpenter::node_labels(&cfg.pool, &f.offering);
        node_labels.insert("karpenter.sh/initialized".into(), "true".into());
        node_labels.insert("karpenter.sh/registered".into(), "true".into());
        let it = cloud::instance_type(&f.offering.instance_type)
            .expect("offerings come from the catalog");
        // The instance is billed from launch, not from registration.
        self.closed_cost +=
            f.offering.price * self.now.since(SimTime(f.launched_ms)) as f64 / 3_600_000.0;
        self.emit(
            "Normal",
            "Registered",
            "NodeClaim",
            "",
            claim,
            registered_message(&f.node),
            "karpenter",
        );
        self.karpenter_disruption
            .claims
            .insert(f.node.clone(), claim.to_string());
        self.add_node(
            &f.node,
            cloud::NodeShape::of(it, &f.offering.capacity_type),
            &f.offering.capacity_type,
            &f.offering.zone,
            node_labels,
            cfg.pool.taints.clone(),
        );
        self.karpenter_replacement_ready(claim);
    }

    /// Disruption poll: Provisioners' empty-node TTL and consolidation, then NodePools'
    /// disruption ([`Sim::nodepool_disruption`]).
    pub fn karpenter_disruption(&mut self) {
        let mut configs = self.karpenter_pool_specs();
        if configs.is_empty() {
            self.karpenter.polling = false;
            return;
        }
        if self.karpenter_disruption.validating.is_some() {
            // The pending command's validation polls again.
            return;
        }
        if !configs.iter().any(|c| c.api == PoolApi::Provisioner)
            && self.nodepools_consolidated(&configs)
        {
            // Nothing to do: the pools' usage is not needed.
            self.queue.push(
                self.now.plus_millis(DISRUPTION_POLL_MS),
                Event::KarpenterDisruption,
            );
            return;
        }
        self.fill_pool_usage(&mut configs);
        if self.provisioner_disruption(&configs) {
            self.queue.push(
                self.now.plus_millis(DISRUPTION_POLL_MS),
                Event::KarpenterDisruption,
            );
            return;
        }
        if let Some(ms) = self.nodepool_disruption(&configs) {
            self.queue
                .push(self.now.plus_millis(ms), Event::KarpenterDisruption);
        }
    }

    /// v1alpha5 Provisioners: removes one empty node past its `ttlSecondsAfterEmpty`, or one
    /// node whose pods fit elsewhere with `consolidation.enabled`
    /// ([`kscale_components::karpenter::provisioner`]). True if it removed one.
    fn provisioner_disruption(&mut self, configs: &[PoolConfig]) -> bool {
        if !configs.iter().any(|c| c.api == PoolApi::Provisioner) {
            return false;
        }
        let now = self.now;
        let placement = self.store.changes().at(Topic::PodPlacement);
        let nodes: Vec<&NodeInfo> = self.nodes.values().map(|n| &n.info).collect();
        let Some((node, reason)) =
            self.karpenter
                .provisioners
                .victim(now.as_millis(), configs, &nodes, placement)
        else {
            return false;
        };
        let node = node.name.to_string();
        self.emit(
            "Normal",
            "DisruptionTerminating",
            "Node",
            "",
            &node,
            format!("Disrupting Node: {reason}/Delete"),
            "karpenter",
        );
        self.count("karpenterDisruptions");
        let n = &self.nodes[node.as_str()];
        let record = provisioner::decision(
            now.as_secs_f64(),
            reason,
            (&node, &n.instance_type, &n.capacity_type, n.hourly_price),
        );
        self.karpenter_disruption.decisions.push(record);
        let _ = self.drain(&node, true, None);
        self.karpenter.provisioners.removed(&node);
        self.remove_node(&node);
        true
    }
}
