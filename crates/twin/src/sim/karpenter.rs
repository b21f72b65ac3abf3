//! Karpenter emulation: provisioning from `karpenter.sh/v1alpha5` Provisioners and
//! `karpenter.sh/v1` NodePools, and disruption of empty / underutilized nodes.
//!
//! Upstream (kubernetes-sigs/karpenter): pending pods are batched — the batch closes after 1 s
//! without new pods or 10 s in all (`BATCH_IDLE_DURATION`, `BATCH_MAX_DURATION`,
//! pkg/controllers/provisioning/batcher.go) — then solved by the pure planner in
//! [`kscale_controllers::karpenter`]. A launched NodeClaim registers as a node after the cloud's
//! provisioning latency. Disruption polls every 10 s (pkg/controllers/disruption): a
//! Provisioner's `ttlSecondsAfterEmpty` removes empty nodes and `consolidation.enabled` also a
//! node whose pods all fit on the other nodes, one node per poll. NodePools are disrupted as
//! Karpenter v1 does — emptiness, multi- and single-node consolidation with replacement by a
//! cheaper node, under disruption budgets — in [`super::karpenter_disruption`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use kscale_controllers::karpenter::budget::Budget;
use kscale_controllers::karpenter::{self, Offering, Pool};
use kscale_controllers::scheduler::{NodeInfo, fits, fits_with_extra};
use kscale_model::{NodeSelectorRequirement, Resources, SelectorOp, SimTime};
use serde_json::Value;

use super::changes::Topic;
use super::model::{quantity, requirements, str_map as labels, taints};
use super::{Event, Sim};
use crate::cloud;

/// Batch idle time (1 s) and maximum length (10 s).
pub const BATCH_IDLE_MS: u64 = 1_000;
/// Maximum batch length.
pub const BATCH_MAX_MS: u64 = 10_000;
/// Candidates simulated per disruption poll (bounds the work of one poll).
pub const MAX_CONSOLIDATION_CANDIDATES: usize = 10;
/// Disruption poll period (10 s).
pub const DISRUPTION_POLL_MS: u64 = 10_000;
/// How long an offering that failed with insufficient capacity is skipped: 3 minutes
/// (pkg/cache/unavailableofferings.go `UnavailableOfferingsTTL`).
pub const ICE_TTL_MS: u64 = 180_000;

/// Which API a pool came from.
#[derive(Debug, Clone, PartialEq)]
pub enum PoolApi {
    /// `karpenter.sh/v1alpha5` Provisioner.
    Provisioner,
    /// `karpenter.sh/v1` (or v1beta1) NodePool.
    NodePool,
}

/// A pool with its disruption settings.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Provisioning view.
    pub pool: Pool,
    /// Origin API.
    pub api: PoolApi,
    /// Remove empty nodes after this long (ms), if set.
    pub empty_after_ms: Option<u64>,
    /// Also consolidate underutilized nodes.
    pub underutilized: bool,
    /// `disruption.budgets` (NodePools; default `[{nodes: "10%"}]`).
    pub budgets: Vec<Budget>,
    /// `template.spec.expireAfter` in ms (default 720h; `None` for `Never`).
    pub expire_after_ms: Option<u64>,
}

/// A launched NodeClaim waiting for its node.
#[derive(Debug, Clone)]
pub struct InFlight {
    /// NodeClaim name.
    pub claim: String,
    /// Node name it will register as.
    pub node: String,
    /// Pool name.
    pub pool: String,
    /// The offering launched.
    pub offering: Offering,
    /// Requests already planned onto it.
    pub planned: Resources,
    /// When it was launched.
    pub launched: SimTime,
}

impl InFlight {
    /// The scheduler's view of the node this claim will become, named `name`: its pool's
    /// labels and taints, the offering's allocatable and the requests planned onto it.
    pub fn node_view(&self, c: &PoolConfig, name: Arc<str>) -> NodeInfo {
        NodeInfo {
            name,
            labels: karpenter::node_labels(&c.pool, &self.offering).into(),
            taints: c.pool.taints.clone().into(),
            unschedulable: false,
            ready: true,
            allocatable: self.offering.allocatable,
            requested: self.planned,
            pods: vec![],
            nominated: vec![],
        }
    }
}

/// Karpenter's state in the twin.
#[derive(Debug, Default)]
pub struct KarpenterState {
    /// Open batch: (start, last pod seen).
    pub batch: Option<(SimTime, SimTime)>,
    /// Launched claims not registered yet.
    pub in_flight: Vec<InFlight>,
    /// When each pool node became empty.
    pub empty_since: BTreeMap<String, SimTime>,
    /// Disruption polling is scheduled.
    pub polling: bool,
    /// Offerings that failed with insufficient capacity, until when they are skipped.
    pub unavailable: BTreeMap<(String, String, String), SimTime>,
    /// The revision of `Topic::PodPlacement` at the last consolidation check that found no candidate.
    pub consolidation_checked: Option<u64>,
    /// Pods Karpenter nominated to an in-flight NodeClaim (pod id → claim).
    pub nominated: BTreeMap<u64, String>,
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

/// The label a pool stamps on its nodes.
pub fn pool_label(api: &PoolApi) -> &'static str {
    match api {
        PoolApi::Provisioner => "karpenter.sh/provisioner-name",
        PoolApi::NodePool => "karpenter.sh/nodepool",
    }
}

/// The pools of these `Provisioner` / `NodePool` objects `(kind, name, object)`, with their
/// disruption settings and zero usage (the caller adds its nodes' and in-flight claims').
/// Karpenter's defaults apply: capacity type on-demand, `consolidateAfter` 0s, budgets
/// `nodes: 10%`, `expireAfter` 720h.
pub fn pool_configs<'a>(
    objects: impl Iterator<Item = (&'a str, &'a str, &'a Value)>,
) -> Vec<PoolConfig> {
    let mut out = vec![];
    for (kind, name, v) in objects {
        let api = if kind == "Provisioner" {
            PoolApi::Provisioner
        } else {
            PoolApi::NodePool
        };
        let spec = v.get("spec");
        let (reqs, tnts, lbls, limits) = match api {
            PoolApi::Provisioner => (
                requirements(spec.and_then(|s| s.get("requirements"))),
                taints(spec.and_then(|s| s.get("taints"))),
                labels(spec.and_then(|s| s.get("labels"))),
                spec.and_then(|s| s.pointer("/limits/resources")),
            ),
            PoolApi::NodePool => (
                requirements(spec.and_then(|s| s.pointer("/template/spec/requirements"))),
                taints(spec.and_then(|s| s.pointer("/template/spec/taints"))),
                labels(spec.and_then(|s| s.pointer("/template/metadata/labels"))),
                spec.and_then(|s| s.get("limits")),
            ),
        };
        let mut reqs = reqs;
        // Karpenter defaults capacity type to on-demand when no requirement names it.
        if !reqs.iter().any(|r| r.key == "karpenter.sh/capacity-type") {
            reqs.push(NodeSelectorRequirement {
                key: "karpenter.sh/capacity-type".into(),
                op: SelectorOp::In,
                values: vec!["on-demand".into()],
            });
        }
        let limits = limits.map(|l| Resources {
            cpu_milli: quantity(l.get("cpu")).map(|x| x.milli()).unwrap_or(0),
            memory: quantity(l.get("memory")).map(|x| x.value()).unwrap_or(0),
            pods: 0,
        });
        let mut pool_labels = lbls;
        pool_labels.insert(pool_label(&api).into(), name.to_string());
        let (empty_after_ms, underutilized) = match api {
            PoolApi::Provisioner => {
                let consolidation = spec
                    .and_then(|s| s.pointer("/consolidation/enabled"))
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                let ttl = spec
                    .and_then(|s| s.get("ttlSecondsAfterEmpty"))
                    .and_then(Value::as_u64)
                    .map(|s| s * 1000);
                (
                    ttl.or(if consolidation { Some(0) } else { None }),
                    consolidation,
                )
            }
            PoolApi::NodePool => {
                let d = spec.and_then(|s| s.get("disruption"));
                let policy = d
                    .and_then(|d| d.get("consolidationPolicy"))
                    .and_then(Value::as_str)
                    .unwrap_or("WhenEmptyOrUnderutilized");
                let after = d
                    .and_then(|d| d.get("consolidateAfter"))
                    .and_then(Value::as_str)
                    .unwrap_or("0s");
                let after = if after == "Never" {
                    None
                } else {
                    kscale_model::parse_duration(after).ok()
                };
                (after, after.is_some() && policy != "WhenEmpty")
            }
        };
        let (budgets, expire_after_ms) = match api {
            PoolApi::Provisioner => (vec![], None),
            PoolApi::NodePool => (
                nodepool_budgets(spec),
                match spec
                    .and_then(|s| s.pointer("/template/spec/expireAfter"))
                    .and_then(Value::as_str)
                    .unwrap_or("720h")
                {
                    "Never" => None,
                    e => kscale_model::parse_duration(e).ok(),
                },
            ),
        };
        let weight = spec
            .and_then(|s| s.get("weight"))
            .and_then(Value::as_i64)
            .unwrap_or(0) as i32;
        out.push(PoolConfig {
            pool: Pool {
                name: name.to_string(),
                weight,
                requirements: reqs,
                taints: tnts,
                labels: pool_labels,
                limits,
                usage: Resources::ZERO,
                daemon_overhead: Resources::ZERO,
            },
            api,
            empty_after_ms,
            underutilized,
            budgets,
            expire_after_ms,
        });
    }
    out
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
                .in_flight
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
        match &mut self.karpenter.batch {
            Some((_, last)) => *last = now,
            None => {
                self.karpenter.batch = Some((now, now));
                self.queue
                    .push(now.plus_millis(BATCH_IDLE_MS), Event::KarpenterBatch);
            }
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
        let Some((start, last)) = self.karpenter.batch else {
            return;
        };
        let close = (last.as_millis() + BATCH_IDLE_MS).min(start.as_millis() + BATCH_MAX_MS);
        if self.now.as_millis() < close {
            self.queue.push(SimTime(close), Event::KarpenterBatch);
            return;
        }
        self.karpenter.batch = None;
        self.karpenter_provision();
    }

    fn karpenter_provision(&mut self) {
        // Every pod the scheduler found unschedulable is in `unschedulable_since` (in id order,
        // like the pod table; checked by `karpenter_check_invariants`): no walk over all pods.
        let flying: BTreeSet<&str> = self
            .karpenter
            .in_flight
            .iter()
            .map(|f| f.claim.as_str())
            .collect();
        let pending: Vec<u64> = self
            .sched_queue
            .unschedulable_since()
            .keys()
            .filter_map(|id| self.pods.get(id))
            .filter(|p| {
                p.node.is_none()
                    && p.nominated.is_none()
                    && p.deleting_at.is_none()
                    && p.unschedulable.is_some()
            })
            .filter(|p| {
                !self
                    .karpenter
                    .nominated
                    .get(&p.id)
                    .is_some_and(|c| flying.contains(c.as_str()))
            })
            .map(|p| p.id)
            .collect();
        if pending.is_empty() {
            return;
        }
        let configs = self.karpenter_pools();
        let offerings = self.offerings();
        // Pods that fit capacity already launched are left for that capacity. Each in-flight
        // claim's node view is built once per batch; only its planned requests change.
        let mut slots: Vec<Option<NodeInfo>> = self
            .karpenter
            .in_flight
            .iter()
            .map(|f| {
                let c = configs.iter().find(|c| c.pool.name == f.pool)?;
                Some(f.node_view(c, Arc::from(f.node.as_str())))
            })
            .collect();
        let mut remaining = vec![];
        for id in pending {
            let info = self.pods[&id].sched_info();
            // (a pod joining in-flight capacity is nominated to it below)
            let slot = slots
                .iter()
                .position(|n| n.as_ref().is_some_and(|n| fits(&info, n).is_ok()));
            match slot {
                Some(k) => {
                    let f = &mut self.karpenter.in_flight[k];
                    f.planned += info.requests;
                    if let Some(n) = &mut slots[k] {
                        n.requested = f.planned;
                    }
                    let claim = f.claim.clone();
                    self.karpenter.nominated.insert(id, claim);
                }
                None => remaining.push(info),
            }
        }
        let pools: Vec<Pool> = configs.iter().map(|c| c.pool.clone()).collect();
        // Launch; an offering that fails for lack of capacity is cached as unavailable and the
        // affected pods are planned again without it (Karpenter's fallback, e.g. spot → on-demand).
        let mut todo = remaining;
        for _round in 0..8 {
            if todo.is_empty() {
                break;
            }
            let now = self.now;
            self.karpenter.unavailable.retain(|_, until| *until > now);
            // Nothing cached as unavailable: every offering, shared rather than copied.
            let available: Arc<Vec<Offering>> = if self.karpenter.unavailable.is_empty() {
                offerings.clone()
            } else {
                Arc::new(
                    offerings
                        .iter()
                        .filter(|o| {
                            !self.karpenter.unavailable.contains_key(&(
                                o.instance_type.clone(),
                                o.capacity_type.clone(),
                                o.zone.clone(),
                            ))
                        })
                        .cloned()
                        .collect(),
                )
            };
            let plan = karpenter::plan(&todo, &pools, &available);
            let mut retry = vec![];
            for (id, reason) in plan.unschedulable {
                let p = &self.pods[&id];
                let (ns, name) = (p.namespace.to_string(), p.name.to_string());
                self.emit(
                    "Warning",
                    "FailedScheduling",
                    "Pod",
                    &ns,
                    &name,
                    format!("Failed to schedule pod, {reason}"),
                    "karpenter",
                );
            }
            for c in plan.claims {
                let cfg = &configs[c.pool];
                let o = available[c.offering].clone();
                let claim = format!("{}-{}", cfg.pool.name, self.rng.names.name_suffix(5));
                if self.cloud.launch_fails_at(
                    self.now.as_millis(),
                    None,
                    &o.instance_type,
                    &o.capacity_type,
                ) {
                    self.count("insufficientCapacityErrors");
                    self.emit("Warning", "InsufficientCapacityError", "NodeClaim", "", &claim, format!("NodeClaim {claim} event: creating instance, insufficient capacity ({} {} in {})", o.instance_type, o.capacity_type, o.zone), "karpenter");
                    self.karpenter.unavailable.insert(
                        (
                            o.instance_type.clone(),
                            o.capacity_type.clone(),
                            o.zone.clone(),
                        ),
                        now.plus_millis(ICE_TTL_MS),
                    );
                    retry.extend(c.pods.iter().map(|id| self.pods[id].sched_info()));
                    continue;
                }
                self.launch_claim(cfg, claim, o, &c.pods, c.requests);
            }
            todo = retry;
        }
    }

    /// Launches a NodeClaim for `pods` (nominated to it) on offering `o`; it registers after
    /// the provisioning latency.
    pub fn launch_claim(
        &mut self,
        cfg: &PoolConfig,
        claim: String,
        o: Offering,
        pods: &[u64],
        requests: Resources,
    ) {
        let (a, b) = self.cloud.address();
        let region = self.region();
        let node = format!("ip-192-168-{a}-{b}.{region}.compute.internal");
        for id in pods {
            self.karpenter.nominated.insert(*id, claim.clone());
            let p = &self.pods[id];
            let (ns, name) = (p.namespace.to_string(), p.name.to_string());
            self.emit(
                "Normal",
                "Nominated",
                "Pod",
                &ns,
                &name,
                format!("Pod should schedule on: nodeclaim/{claim}"),
                "karpenter",
            );
        }
        self.emit("Normal", "Launched", "NodeClaim", "", &claim, format!("Status condition transitioned, Type: Launched, Status: True, Reason: Launched ({} {} in {})", o.instance_type, o.capacity_type, o.zone), "karpenter");
        self.count("karpenterLaunches");
        let delay = self.cloud.provisioning_latency_ms();
        self.karpenter.in_flight.push(InFlight {
            claim: claim.clone(),
            node,
            pool: cfg.pool.name.clone(),
            offering: o,
            planned: requests,
            launched: self.now,
        });
        self.queue.push(
            self.now.plus_millis(delay),
            Event::KarpenterRegistered(claim),
        );
    }

    /// A launched NodeClaim's node registers and becomes Ready.
    pub fn karpenter_registered(&mut self, claim: &str) {
        let Some(i) = self
            .karpenter
            .in_flight
            .iter()
            .position(|f| f.claim == claim)
        else {
            return;
        };
        let f = self.karpenter.in_flight.remove(i);
        self.karpenter.nominated.retain(|_, c| c != claim);
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
        self.closed_cost += f.offering.price * self.now.since(f.launched) as f64 / 3_600_000.0;
        self.emit("Normal", "Registered", "NodeClaim", "", claim, format!("Status condition transitioned, Type: Registered, Status: True, Reason: Registered (node {})", f.node), "karpenter");
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
    /// node whose pods fit elsewhere with `consolidation.enabled`. True if it removed one.
    fn provisioner_disruption(&mut self, configs: &[PoolConfig]) -> bool {
        let now = self.now;
        let mut victim: Option<(String, &'static str)> = None;
        for cfg in configs.iter().filter(|c| c.api == PoolApi::Provisioner) {
            let label = pool_label(&cfg.api);
            let names: Vec<Arc<str>> = self
                .nodes
                .iter()
                .filter(|(_, n)| n.info.labels.get(label) == Some(&cfg.pool.name))
                .map(|(k, _)| k.clone())
                .collect();
            for name in names {
                let n = &self.nodes[&name];
                let empty = n.info.pods.iter().all(|p| p.terminating);
                if !empty {
                    self.karpenter.empty_since.remove(name.as_ref());
                    continue;
                }
                let since = *self
                    .karpenter
                    .empty_since
                    .entry(name.to_string())
                    .or_insert(now);
                if victim.is_none()
                    && cfg
                        .empty_after_ms
                        .is_some_and(|ttl| now.since(since) >= ttl)
                {
                    victim = Some((name.to_string(), "Empty"));
                }
            }
            if victim.is_none() && cfg.underutilized {
                victim = self
                    .consolidation_candidate(label, &cfg.pool.name)
                    .map(|n| (n, "Underutilized"));
            }
            if victim.is_some() {
                break;
            }
        }
        let Some((node, reason)) = victim else {
            return false;
        };
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
        let record = DecisionRecord {
            time: now.as_secs_f64(),
            decision: "delete",
            reason,
            method: if reason == "Empty" { "empty" } else { "single" },
            nodes: vec![format!("{node} ({} {})", n.instance_type, n.capacity_type)],
            replacement: None,
            savings: n.hourly_price,
        };
        self.karpenter_disruption.decisions.push(record);
        let _ = self.drain(&node, true, None);
        self.karpenter.empty_since.remove(&node);
        self.remove_node(&node);
        true
    }

    /// A node of the pool whose pods all fit on the other nodes (cheapest-to-disrupt first:
    /// fewest pods), if any. At most `MAX_CONSOLIDATION_CANDIDATES` are simulated per poll, and
    /// the simulation is skipped when no pod changed since the last one found nothing (upstream
    /// also re-evaluates consolidation only when cluster state changed).
    fn consolidation_candidate(&mut self, label: &str, pool: &str) -> Option<String> {
        if self.karpenter.consolidation_checked
            == Some(self.store.changes().at(Topic::PodPlacement))
        {
            return None;
        }
        let mut candidates: Vec<(Arc<str>, usize)> = self
            .nodes
            .iter()
            .filter(|(_, n)| {
                n.info.labels.get(label).map(String::as_str) == Some(pool) && !n.info.unschedulable
            })
            .map(|(k, n)| (k.clone(), n.info.pods.len()))
            .filter(|(_, c)| *c > 0)
            .collect();
        candidates.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
        // The schedulable nodes by reference, with the requests of each candidate's trial
        // placements kept beside them (no copy of the cluster per poll).
        let names: Vec<Arc<str>> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.info.ready && !n.info.unschedulable)
            .map(|(k, _)| k.clone())
            .collect();
        let others: Vec<&NodeInfo> = names.iter().map(|k| &self.nodes[k].info).collect();
        let mut extra: Vec<Resources> = vec![Resources::ZERO; others.len()];
        for (name, _) in candidates.into_iter().take(MAX_CONSOLIDATION_CANDIDATES) {
            let mut placed: Vec<(usize, Resources)> = vec![];
            let ok = self.nodes[&name]
                .info
                .pods
                .iter()
                .filter(|p| !p.terminating)
                .all(|p| {
                    let target = others.iter().enumerate().position(|(i, o)| {
                        names[i] != name && fits_with_extra(p, o, &extra[i]).is_ok()
                    });
                    match target {
                        Some(i) => {
                            extra[i] += p.requests;
                            placed.push((i, p.requests));
                            true
                        }
                        None => false,
                    }
                });
            for (i, r) in placed {
                extra[i] -= r;
            }
            if ok {
                return Some(name.to_string());
            }
        }
        self.karpenter.consolidation_checked = Some(self.store.changes().at(Topic::PodPlacement));
        None
    }
}

/// A NodePool's `spec.disruption.budgets` (validated when applied; default `[{nodes: 10%}]`).
pub fn nodepool_budgets(spec: Option<&Value>) -> Vec<Budget> {
    let Some(list) = spec
        .and_then(|s| s.pointer("/disruption/budgets"))
        .and_then(Value::as_array)
    else {
        return vec![Budget::default_budget()];
    };
    list.iter().filter_map(|b| parse_budget(b).ok()).collect()
}

pub use crate::validate::parse_budget;

/// One disruption decision, for summary.json.
#[derive(Debug, Clone)]
pub struct DecisionRecord {
    /// Seconds since the start.
    pub time: f64,
    /// `delete` or `replace`.
    pub decision: &'static str,
    /// `Empty` or `Underutilized`.
    pub reason: &'static str,
    /// `empty`, `multi` or `single`.
    pub method: &'static str,
    /// Nodes disrupted, with their instance and capacity types.
    pub nodes: Vec<String>,
    /// The replacement's instance and capacity type.
    pub replacement: Option<String>,
    /// Hourly savings, USD.
    pub savings: f64,
}
