//! The Cluster Autoscaler as a component: its loop over the cluster API
//! ([`kscale_cluster::Cluster`]) and a cloud's node groups ([`NodeGroups`]), its decisions
//! from [`kscale_controllers::cluster_autoscaler`].
//!
//! A Deployment whose container image is `…/cluster-autoscaler[:tag]`
//! ([`ca::is_ca_image`]) runs it with that container's flags ([`Config::from_args`]); it acts
//! only while one of the Deployment's pods is Ready. Like upstream's `RunOnce`
//! (kubernetes/autoscaler cluster-autoscaler `core/static_autoscaler.go`), each
//! [`ClusterAutoscaler::run_once`] (every `--scan-interval`, 10 s by default):
//!
//! 1. reads nodes, pods and PodDisruptionBudgets through the cluster API into a snapshot
//!    ([`adapt`]: typed objects into the controllers' `NodeInfo` / `PodInfo` / `PdbInfo`);
//! 2. follows the cloud: launches the cloud reports failed and scale-ups whose nodes did not
//!    register within `--max-node-provision-time` back their group off (`ScaleUpFailed`,
//!    `ScaleUpTimedOut`; `clusterstate/clusterstate.go`), and carries on node removals in
//!    progress: evictions refused (HTTP 429, a PodDisruptionBudget) are retried every loop
//!    for up to 2 minutes (`--max-pod-eviction-time`; then the removal is abandoned, the node
//!    untainted, `ScaleDownFailed`), and the node's instance is deleted once its evicted pods
//!    are gone or the wait (the longest grace period plus a minute, as the twin) is over
//!    (`core/scaledown/actuation/drain.go`, `actuator.go`);
//! 3. scale-up (`core/scaleup/orchestrator/orchestrator.go`): unschedulable pods
//!    (`PodScheduled=False`, reason `Unschedulable`, not nominated) that are not expendable and
//!    fit no existing or upcoming node are binpacked onto the managed groups' templates, the
//!    `--expander` chain picks the group, and its size is increased through the cloud, capped
//!    by the group's maximum and `--max-nodes-total` (`ScaledUpGroup` on the status ConfigMap,
//!    `TriggeredScaleUp` / `NotTriggerScaleUp` on pods);
//! 4. scale-down, unless it scaled up (`core/scaledown/planner`, `unneeded`, `actuation`):
//!    nodes of managed groups below `--scale-down-utilization-threshold` whose pods can all
//!    move, and not protected (annotation, blocking pods, PodDisruptionBudgets), are unneeded;
//!    after `--scale-down-unneeded-time`, outside the cooldowns (`--scale-down-delay-after-add`
//!    ...), they are tainted `ToBeDeletedByClusterAutoscaler` and drained through the eviction
//!    subresource ([`Cluster::evict`], grace capped by `--max-graceful-termination-sec`)
//!    (`ScaleDownEmpty` / `ScaleDown` on the status ConfigMap, `ScaleDown` on the node and the
//!    evicted pods);
//! 5. writes the `cluster-autoscaler-status` ConfigMap (kube-system, key `status`) when what it
//!    shows changed ([`ca::status`]).
//!
//! CapacityBuffers ([`capacity_buffer`]): each loop resolves the buffers into their status and
//! adds their fake pods to the scale-up's unschedulable pods; those that fit existing nodes
//! hold that room in the scale-down simulation.
//!
//! Events carry the twin's reasons and messages ([`ca::events`]). Not here (the twin has them):
//! the warnings about expendable workloads.

pub mod adapt;
pub mod capacity_buffer;

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kscale_cluster::{ApiError, Cluster, Event, EventType, Patch};
use kscale_controllers::cluster_autoscaler::{
    self as ca, CloudNodeGroup, Config, GroupIncrease, NodeGroup, STATUS_CONFIGMAP, ScaleUpInput,
    decisions::{Decided, Decision},
    events,
    scale_down::{self, NodeView, PodDrainInfo, Removable, Unremovable},
    status::{self, ClusterAutoscalerStatus, GroupFacts},
};
use kscale_controllers::scheduler::{NodeInfo, PdbInfo, PodInfo};
use kscale_model::SimTime;
use serde_json::json;

pub use kscale_controllers::cluster_autoscaler::{SOURCE, TO_BE_DELETED_TAINT};

/// How long evictions refused by a PodDisruptionBudget are retried before a removal is given
/// up: upstream's `--max-pod-eviction-time` default, 2 minutes.
pub const MAX_POD_EVICTION_MS: u64 = 120_000;
/// How long, past the longest grace period of its evicted pods, a node being removed waits for
/// them to be gone before it is deleted anyway (the twin's wait; upstream waits the grace
/// period plus a 30 s headroom after the evictions).
pub const DRAIN_HEADROOM_MS: u64 = 60_000;
/// The namespace of the status ConfigMap.
pub const STATUS_NAMESPACE: &str = "kube-system";

/// A cloud provider's node groups as the Cluster Autoscaler drives them (upstream
/// `cloudprovider.CloudProvider` and `cloudprovider.NodeGroup`). Sizes are instance counts:
/// the target size counts the group's registered nodes and the instances requested and not
/// registered yet.
pub trait NodeGroups {
    /// The groups, in the provider's order, each with its template node (`NodeGroups`,
    /// `TemplateNodeInfo`).
    fn node_groups(&mut self) -> Vec<CloudNodeGroup>;

    /// The group a node belongs to (`NodeGroupForNode`), `None` for nodes of no group.
    fn node_group_of(&self, node: &Node) -> Option<String>;

    /// The group's target size (`TargetSize`).
    fn target_size(&self, group: &str) -> u32;

    /// Requests `delta` more instances (`IncreaseSize`); their nodes register later.
    fn increase_size(&mut self, group: &str, delta: u32) -> Result<(), String>;

    /// Gives up on `delta` requested instances that did not register
    /// (`DecreaseTargetSize`).
    fn decrease_target_size(&mut self, group: &str, delta: u32) -> Result<(), String>;

    /// Terminates a node's instance and lowers the target size by one (`DeleteNodes`).
    fn delete_node(&mut self, group: &str, node: &str) -> Result<(), String>;

    /// Launches that failed since the last call, as `(group, instances)`: the instances are
    /// out of the target size already (the provider's instance error, e.g. AWS
    /// `InsufficientInstanceCapacity`).
    fn failed_launches(&mut self) -> Vec<(String, u32)> {
        vec![]
    }
}

/// What the autoscaler did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Group increases (one per group of a scale-up).
    pub scale_ups: u64,
    /// Nodes requested by those increases.
    pub nodes_requested: u64,
    /// Scale-ups that failed (cloud errors, launch failures, provisioning time-outs).
    pub scale_up_failures: u64,
    /// Node removals started.
    pub scale_downs: u64,
    /// Nodes deleted.
    pub nodes_removed: u64,
    /// `NotTriggerScaleUp` events recorded.
    pub not_trigger_scale_up: u64,
}

/// What one loop did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScanReport {
    /// The group increases of its scale-up.
    pub increases: Vec<GroupIncrease>,
    /// Nodes whose removal it started.
    pub removals_started: Vec<String>,
    /// Nodes it deleted.
    pub nodes_deleted: Vec<String>,
}

/// The outcome of [`ClusterAutoscaler::run_once`].
#[derive(Debug, Clone, PartialEq)]
pub enum Scan {
    /// Its Deployment is gone or runs the image no more: the component stops.
    Gone,
    /// None of its pods is Ready: it did nothing.
    NotRunning,
    /// It ran a loop.
    Ran(ScanReport),
}

/// A node being removed.
#[derive(Debug, Clone)]
struct Removal {
    group: String,
    /// Pods still to evict (a PodDisruptionBudget refused them): id, namespace, name, grace.
    to_evict: Vec<(u64, String, String, i64)>,
    /// Pods evicted, which must leave the node.
    evicted: Vec<u64>,
    /// Retry refused evictions until then.
    eviction_deadline: SimTime,
    /// Delete the node at the latest then.
    deadline: SimTime,
}

/// What it remembers of a pod across loops.
#[derive(Debug, Clone, Copy)]
struct Known {
    id: u64,
    first_seen: SimTime,
    deleting_since: Option<SimTime>,
}

/// A pod of the snapshot.
#[derive(Debug, Clone)]
struct PodEntry {
    namespace: String,
    name: String,
    node: Option<String>,
    grace_s: i64,
    drain: PodDrainInfo,
}

/// One loop's view of the cluster.
#[derive(Debug, Default)]
struct Snapshot {
    nodes: Vec<NodeInfo>,
    objects: Vec<Node>,
    groups: Vec<Option<String>>,
    disabled: Vec<bool>,
    pending: Vec<PodInfo>,
    pods: BTreeMap<u64, PodEntry>,
    pdbs: Vec<PdbInfo>,
    index: BTreeMap<String, usize>,
}

impl Snapshot {
    fn registered(&self, group: &str) -> u32 {
        self.groups
            .iter()
            .filter(|g| g.as_deref() == Some(group))
            .count() as u32
    }

    fn index(&self, node: &str) -> Option<usize> {
        self.index.get(node).copied()
    }

    fn reindex(&mut self) {
        self.index = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.to_string(), i))
            .collect();
    }

    /// Drops a deleted node.
    fn remove(&mut self, i: usize) {
        self.nodes.remove(i);
        self.objects.remove(i);
        self.groups.remove(i);
        self.disabled.remove(i);
        self.reindex();
    }
}

/// The `random` expander's source (splitmix64).
#[derive(Debug, Clone, Copy)]
struct SplitMix(u64);

impl SplitMix {
    fn index(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z % n.max(1) as u64) as usize
    }
}

/// One Cluster Autoscaler: the Deployment that runs it (or a fixed configuration), the
/// controllers' state between loops, and what it is doing (removals in progress).
#[derive(Debug)]
pub struct ClusterAutoscaler {
    deployment: Option<(String, String)>,
    config: Config,
    state: ca::State,
    known: BTreeMap<String, Known>,
    next_id: u64,
    not_triggered: BTreeMap<u64, String>,
    /// Scale-ups waiting for their nodes: group → (nodes, expected by).
    scale_ups: BTreeMap<String, (u32, SimTime)>,
    removing: BTreeMap<String, Removal>,
    last_status: Option<ClusterAutoscalerStatus>,
    warned: BTreeSet<String>,
    warnings: Vec<String>,
    start_unix_ms: i64,
    rng: SplitMix,
    stats: Stats,
    decisions: Vec<Decision>,
    unremovable: Vec<Unremovable>,
}

/// The Cluster Autoscaler container of a Deployment, if any.
pub fn ca_container(deploy: &Deployment) -> Option<&Container> {
    deploy
        .spec
        .as_ref()?
        .template
        .spec
        .as_ref()?
        .containers
        .iter()
        .find(|c| c.image.as_deref().is_some_and(ca::is_ca_image))
}

/// A container's `command` and `args` words.
pub fn container_words(c: &Container) -> Vec<String> {
    c.command
        .iter()
        .flatten()
        .chain(c.args.iter().flatten())
        .cloned()
        .collect()
}

fn event(type_: EventType, reason: &str, kind: &str, ns: &str, name: &str, msg: String) -> Event {
    Event {
        type_,
        reason: reason.into(),
        kind: kind.into(),
        namespace: ns.into(),
        name: name.into(),
        message: msg,
        source: SOURCE.into(),
    }
}

impl ClusterAutoscaler {
    /// The autoscaler run by Deployment `namespace/name` (its flags are read at every loop).
    pub fn new(namespace: &str, name: &str) -> Self {
        let mut c = Self::with_config(Config::default());
        c.deployment = Some((namespace.to_string(), name.to_string()));
        c
    }

    /// An autoscaler with a fixed configuration and no Deployment: it always runs (tests,
    /// embedding).
    pub fn with_config(config: Config) -> Self {
        ClusterAutoscaler {
            deployment: None,
            config,
            state: ca::State::default(),
            known: BTreeMap::new(),
            next_id: 1,
            not_triggered: BTreeMap::new(),
            scale_ups: BTreeMap::new(),
            removing: BTreeMap::new(),
            last_status: None,
            warned: BTreeSet::new(),
            warnings: vec![],
            start_unix_ms: 0,
            rng: SplitMix(0),
            stats: Stats::default(),
            decisions: vec![],
            unremovable: vec![],
        }
    }

    /// Sets the wall-clock time (Unix ms) of the cluster clock's zero: timestamps it writes
    /// (the status `time`, the deletion taint's value) are that plus [`Cluster::now_ms`].
    pub fn with_clock_origin(mut self, start_unix_ms: i64) -> Self {
        self.start_unix_ms = start_unix_ms;
        self
    }

    /// Seeds the `random` expander's choices.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.rng = SplitMix(seed);
        self
    }

    /// The configuration in force (read from its Deployment at the last loop).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The time between loops (`--scan-interval`).
    pub fn scan_interval_ms(&self) -> u64 {
        self.config.scan_interval_ms
    }

    /// What it did so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Its decisions so far, in time order (the `decisions` of the summary section,
    /// [`kscale_controllers::cluster_autoscaler::decisions::summary`]).
    pub fn decisions(&self) -> &[Decision] {
        &self.decisions
    }

    /// The nodes its last scale-down simulation found unremovable, with the reason.
    pub fn unremovable(&self) -> impl Iterator<Item = (&str, &str)> {
        self.unremovable
            .iter()
            .map(|u| (u.node.as_str(), u.reason.as_str()))
    }

    /// The controllers' state (backoffs, unneeded-since timers, last scale-up and -down).
    pub fn state(&self) -> &ca::State {
        &self.state
    }

    /// Nodes being removed.
    pub fn removing(&self) -> impl Iterator<Item = &str> {
        self.removing.keys().map(String::as_str)
    }

    /// Warnings not taken yet (flags ignored, groups unknown), each given once.
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    fn warn_once(&mut self, key: String, message: String) {
        if self.warned.insert(key) {
            self.warnings.push(message);
        }
    }

    fn who(&self) -> String {
        match &self.deployment {
            Some((ns, name)) => format!("cluster-autoscaler {ns}/{name}"),
            None => "cluster-autoscaler".into(),
        }
    }

    /// Re-reads its Deployment's flags: `false` once the Deployment is gone or runs the image
    /// no more.
    fn refresh<C: Cluster>(&mut self, api: &mut C) -> Result<bool, ApiError> {
        let Some((ns, name)) = self.deployment.clone() else {
            return Ok(true);
        };
        let Some(d) = api.get::<Deployment>(&ns, &name)? else {
            return Ok(false);
        };
        let Some(c) = ca_container(&d) else {
            return Ok(false);
        };
        let (cfg, warnings) = Config::from_args(&container_words(c));
        let who = self.who();
        for w in warnings {
            self.warn_once(format!("flag:{w}"), format!("{who}: {w}"));
        }
        if cfg.nodes.is_empty() && cfg.auto_discovery.is_empty() {
            self.warn_once(
                "no-groups".into(),
                format!("{who}: neither --nodes nor --node-group-auto-discovery is set: it manages no node group"),
            );
        }
        self.config = cfg;
        Ok(true)
    }

    /// Whether one of its Deployment's pods is Ready.
    fn running<C: Cluster>(&self, api: &mut C) -> Result<bool, ApiError> {
        let Some((ns, name)) = &self.deployment else {
            return Ok(true);
        };
        let Some(d) = api.get::<Deployment>(ns, name)? else {
            return Ok(false);
        };
        let Some(sel) = d
            .spec
            .as_ref()
            .map(|s| crate::proportional::selector_string(&s.selector))
        else {
            return Ok(false);
        };
        if sel.is_empty() {
            return Ok(false);
        }
        let pods = api.list::<Pod>(Some(ns), &sel)?;
        Ok(pods.iter().any(kscale_cluster::pod_ready))
    }

    fn timestamp(&self, now: SimTime) -> String {
        let ms = self.start_unix_ms.saturating_add_unsigned(now.as_millis());
        jiff::Timestamp::from_second(ms.div_euclid(1000))
            .map(|t| t.to_string())
            .unwrap_or_default()
    }

    /// One loop of the autoscaler against the cluster `api` and the cloud's node groups.
    pub fn run_once<C: Cluster, G: NodeGroups>(
        &mut self,
        api: &mut C,
        cloud: &mut G,
    ) -> Result<Scan, ApiError> {
        if !self.refresh(api)? {
            return Ok(Scan::Gone);
        }
        if !self.running(api)? {
            return Ok(Scan::NotRunning);
        }
        let now = SimTime(api.now_ms());
        // Template nodes carry the daemon pods that would run on them
        // (`daemonset.GetDaemonSetPodsForNode`).
        let daemons = adapt::daemon_pods(api)?;
        let cloud_groups: Vec<CloudNodeGroup> = cloud
            .node_groups()
            .into_iter()
            .map(|mut g| {
                g.template = kscale_controllers::daemonset::with_daemon_pods(g.template, &daemons);
                g
            })
            .collect();
        for g in &self.config.nodes.clone() {
            if !cloud_groups.iter().any(|c| c.id == g.name) {
                let who = self.who();
                self.warn_once(
                    format!("group:{}", g.name),
                    format!(
                        "{who}: --nodes names {:?}, which is not a node group of the cloud: ignored",
                        g.name
                    ),
                );
            }
        }
        let mut report = ScanReport::default();
        let mut snap = self.snapshot(api, cloud, now)?;
        self.follow_cloud(api, cloud, &snap, now);
        let removing: Vec<String> = self.removing.keys().cloned().collect();
        self.progress_removals(api, cloud, &mut snap, &removing, now, &mut report)?;
        let groups = self
            .config
            .managed_groups(&cloud_groups, |g| cloud.target_size(g));
        let buffer_pods = capacity_buffer::fake_pods(api)?;
        let scaled_up =
            self.scale_up(api, cloud, &snap, &buffer_pods, &groups, now, &mut report)?;
        if self.config.scale_down_enabled && !scaled_up {
            self.scale_down(
                api,
                cloud,
                &mut snap,
                &buffer_pods,
                &groups,
                now,
                &mut report,
            )?;
        }
        let groups = self
            .config
            .managed_groups(&cloud_groups, |g| cloud.target_size(g));
        self.write_status(api, &snap, &groups, now)?;
        Ok(Scan::Ran(report))
    }

    /// Reads nodes, pods and budgets into the loop's snapshot.
    fn snapshot<C: Cluster, G: NodeGroups>(
        &mut self,
        api: &mut C,
        cloud: &G,
        now: SimTime,
    ) -> Result<Snapshot, ApiError> {
        let nodes = api.list::<Node>(None, "")?;
        let pods = api.list::<Pod>(None, "")?;
        let pdbs = api.list::<PodDisruptionBudget>(None, "")?;
        let mut snap = Snapshot {
            nodes: nodes.iter().map(adapt::node_info).collect(),
            groups: nodes.iter().map(|n| cloud.node_group_of(n)).collect(),
            disabled: nodes.iter().map(adapt::scale_down_disabled).collect(),
            objects: nodes,
            pdbs: pdbs.iter().map(adapt::pdb_info).collect(),
            ..Snapshot::default()
        };
        snap.reindex();
        let index = snap.index.clone();
        let mut seen = BTreeSet::new();
        for p in &pods {
            if adapt::terminal(p) {
                continue;
            }
            let key = match &p.metadata.uid {
                Some(u) => u.clone(),
                None => format!(
                    "{}/{}",
                    p.metadata.namespace.as_deref().unwrap_or(""),
                    p.metadata.name.as_deref().unwrap_or("")
                ),
            };
            let next_id = &mut self.next_id;
            let k = self.known.entry(key.clone()).or_insert_with(|| {
                *next_id += 1;
                Known {
                    id: *next_id - 1,
                    first_seen: now,
                    deleting_since: None,
                }
            });
            if p.metadata.deletion_timestamp.is_some() && k.deleting_since.is_none() {
                k.deleting_since = Some(now);
            }
            let k = *k;
            seen.insert(key);
            let info = adapt::pod_info(p, k.id, k.first_seen);
            let node = p.spec.as_ref().and_then(|s| s.node_name.clone());
            snap.pods.insert(
                k.id,
                PodEntry {
                    namespace: info.namespace.to_string(),
                    name: info.name.to_string(),
                    node: node.clone(),
                    grace_s: adapt::grace_seconds(p),
                    drain: adapt::drain_info(p, k.deleting_since),
                },
            );
            match node {
                Some(n) => {
                    if let Some(i) = index.get(&n) {
                        let ni = &mut snap.nodes[*i];
                        ni.requested += info.requests;
                        ni.pods.push(info);
                    }
                }
                None => match adapt::nominated_node(p) {
                    Some(n) if p.metadata.deletion_timestamp.is_none() => {
                        if let Some(i) = index.get(n) {
                            snap.nodes[*i].nominated.push(info);
                        }
                    }
                    _ => {
                        if adapt::unschedulable(p) {
                            snap.pending.push(info);
                        }
                    }
                },
            }
        }
        self.known.retain(|k, _| seen.contains(k));
        let live: BTreeSet<u64> = snap.pods.keys().copied().collect();
        self.not_triggered.retain(|id, _| live.contains(id));
        Ok(snap)
    }

    /// Failed launches and scale-ups not registered in time back their group off.
    fn follow_cloud<C: Cluster, G: NodeGroups>(
        &mut self,
        api: &mut C,
        cloud: &mut G,
        snap: &Snapshot,
        now: SimTime,
    ) {
        let cfg = self.config.clone();
        let mut failed: Vec<(String, u32, &'static str, String)> = cloud
            .failed_launches()
            .into_iter()
            .map(|(g, n)| {
                let msg = events::scale_up_failed(&g, n);
                (g, n, events::SCALE_UP_FAILED, msg)
            })
            .collect();
        let groups: Vec<String> = self.scale_ups.keys().cloned().collect();
        for g in groups {
            let upcoming = cloud.target_size(&g).saturating_sub(snap.registered(&g));
            let (_, by) = self.scale_ups[&g];
            if upcoming == 0 {
                self.scale_ups.remove(&g);
            } else if now >= by {
                self.scale_ups.remove(&g);
                // The instances that never registered are given up.
                let _ = cloud.decrease_target_size(&g, upcoming);
                let msg = events::scale_up_timed_out(&g, cfg.max_node_provision_time_ms);
                failed.push((g, upcoming, events::SCALE_UP_TIMED_OUT, msg));
            }
        }
        for (g, nodes, reason, msg) in failed {
            api.event(event(
                EventType::Warning,
                reason,
                "ConfigMap",
                STATUS_NAMESPACE,
                STATUS_CONFIGMAP,
                msg.clone(),
            ));
            self.scale_up_failed(&g, nodes, reason, msg, now);
        }
    }

    /// A failed scale-up of `nodes` instances of group `g`: the group backs off.
    fn scale_up_failed(
        &mut self,
        g: &str,
        nodes: u32,
        reason: &'static str,
        message: String,
        now: SimTime,
    ) {
        self.state.register_failed_scale_up(g, &self.config, now);
        self.stats.scale_up_failures += 1;
        self.decisions.push(Decision {
            time: now,
            group: g.to_string(),
            decided: Decided::ScaleUpFailed {
                nodes,
                reason,
                message,
                backoff_until: self.state.backoff.get(g).map(|b| b.until),
            },
        });
    }

    /// The priority expander's configuration from its ConfigMap (read at every loop, as
    /// upstream); `None` when missing or unparsable (with a warning Event).
    fn priorities<C: Cluster>(
        &self,
        api: &mut C,
    ) -> Result<Option<ca::expander::Priorities>, ApiError> {
        let cm = api.get::<ConfigMap>(&self.config.namespace, ca::PRIORITY_CONFIGMAP)?;
        let Some(text) = cm
            .and_then(|c| c.data)
            .and_then(|d| d.get("priorities").cloned())
        else {
            return Ok(None);
        };
        match ca::expander::parse_priorities(&text) {
            Ok(p) => Ok(Some(p)),
            Err(e) => {
                api.event(event(
                    EventType::Warning,
                    events::PRIORITY_CONFIGMAP_INVALID,
                    "ConfigMap",
                    &self.config.namespace,
                    ca::PRIORITY_CONFIGMAP,
                    events::priorities_unparsable(e),
                ));
                Ok(None)
            }
        }
    }

    /// Scale-up for the unschedulable pods and the buffers' fake pods; true when it increased
    /// a group.
    #[allow(clippy::too_many_arguments)]
    fn scale_up<C: Cluster, G: NodeGroups>(
        &mut self,
        api: &mut C,
        cloud: &mut G,
        snap: &Snapshot,
        buffer_pods: &[PodInfo],
        groups: &[NodeGroup],
        now: SimTime,
        report: &mut ScanReport,
    ) -> Result<bool, ApiError> {
        let cfg = self.config.clone();
        let cutoff = cfg.expendable_pods_priority_cutoff;
        let with_buffers;
        let pending = if buffer_pods.is_empty() {
            &snap.pending
        } else {
            with_buffers = [snap.pending.as_slice(), buffer_pods].concat();
            &with_buffers
        };
        if !pending
            .iter()
            .any(|p| !ca::is_expendable(p.priority, cutoff))
        {
            return Ok(false);
        }
        let priorities = if cfg.expander.contains(&ca::expander::ExpanderName::Priority) {
            self.priorities(api)?
        } else {
            None
        };
        let mut nodes: Vec<&NodeInfo> = snap
            .nodes
            .iter()
            .filter(|n| !self.removing.contains_key(&*n.name))
            .collect();
        let mut upcoming_total = 0;
        for g in groups {
            let upcoming = g.target.saturating_sub(snap.registered(&g.id));
            upcoming_total += upcoming;
            for _ in 0..upcoming {
                nodes.push(&g.template);
            }
        }
        let cluster_nodes = snap.nodes.len() as u32 + upcoming_total;
        let mut rng = self.rng;
        let mut pick = |n: usize| rng.index(n);
        let result = ca::scale_up(
            ScaleUpInput {
                pending,
                nodes: &nodes,
                groups,
                cluster_nodes,
                pod_price: &ca::pod_price,
                priorities: priorities.as_ref(),
                pick: &mut pick,
            },
            &self.state,
            &cfg,
            now,
        );
        self.rng = rng;
        for w in &result.warnings {
            api.event(event(
                EventType::Warning,
                w.reason,
                "ConfigMap",
                &cfg.namespace,
                ca::PRIORITY_CONFIGMAP,
                w.message.clone(),
            ));
        }
        for (id, msg) in &result.not_triggered {
            if self.not_triggered.get(id) == Some(msg) {
                continue;
            }
            let Some(p) = snap.pods.get(id) else { continue };
            self.not_triggered.insert(*id, msg.clone());
            self.stats.not_trigger_scale_up += 1;
            api.event(event(
                EventType::Normal,
                events::NOT_TRIGGER_SCALE_UP,
                "Pod",
                &p.namespace,
                &p.name,
                msg.clone(),
            ));
        }
        if result.increases.is_empty() {
            return Ok(false);
        }
        let triggered_msg = events::triggered_scale_up(&result.increases);
        let mut increased = vec![];
        for i in &result.increases {
            api.event(event(
                EventType::Normal,
                events::SCALED_UP_GROUP,
                "ConfigMap",
                STATUS_NAMESPACE,
                STATUS_CONFIGMAP,
                events::scaled_up_group(i),
            ));
            let delta = i.to - i.from;
            match cloud.increase_size(&i.group, delta) {
                Ok(()) => {
                    let names = result.triggered.iter().filter_map(|id| {
                        let p = pending.iter().find(|p| p.id == *id)?;
                        Some(format!("{}/{}", p.namespace, p.name))
                    });
                    self.decisions.push(Decision::scale_up(
                        now,
                        i,
                        result.triggered.len(),
                        &cfg.expander,
                        names,
                    ));
                    self.stats.scale_ups += 1;
                    self.stats.nodes_requested += delta as u64;
                    let by = now.plus_millis(cfg.max_node_provision_time_ms);
                    let e = self.scale_ups.entry(i.group.clone()).or_insert((0, by));
                    e.0 += delta;
                    e.1 = by;
                    increased.push(i.clone());
                }
                Err(e) => {
                    // executor.go: the failure is recorded and the group backs off.
                    let msg = format!("Scale-up failed for group {}: {e}", i.group);
                    api.event(event(
                        EventType::Warning,
                        events::FAILED_TO_SCALE_UP_GROUP,
                        "ConfigMap",
                        STATUS_NAMESPACE,
                        STATUS_CONFIGMAP,
                        msg.clone(),
                    ));
                    self.scale_up_failed(
                        &i.group,
                        delta,
                        events::FAILED_TO_SCALE_UP_GROUP,
                        msg,
                        now,
                    );
                }
            }
        }
        if increased.is_empty() {
            return Ok(false);
        }
        for id in &result.triggered {
            let Some(p) = snap.pods.get(id) else { continue };
            self.not_triggered.remove(id);
            api.event(event(
                EventType::Normal,
                events::TRIGGERED_SCALE_UP,
                "Pod",
                &p.namespace,
                &p.name,
                triggered_msg.clone(),
            ));
        }
        self.state.last_scale_up = Some(now);
        report.increases = increased;
        Ok(true)
    }

    /// Scale-down: unneeded nodes (the room buffers' fake pods hold counted as used), and the
    /// removal of those unneeded long enough.
    #[allow(clippy::too_many_arguments)]
    fn scale_down<C: Cluster, G: NodeGroups>(
        &mut self,
        api: &mut C,
        cloud: &mut G,
        snap: &mut Snapshot,
        buffer_pods: &[PodInfo],
        groups: &[NodeGroup],
        now: SimTime,
        report: &mut ScanReport,
    ) -> Result<(), ApiError> {
        let cfg = self.config.clone();
        let managed: BTreeSet<&str> = groups.iter().map(|g| g.id.as_str()).collect();
        let held = ca::capacity_buffer::hold_room(
            snap.nodes
                .iter()
                .filter(|n| n.ready && !n.unschedulable && !self.removing.contains_key(&*n.name)),
            buffer_pods,
        );
        let views: Vec<NodeView> = snap
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| NodeView {
                info: held.get(&n.name).unwrap_or(n),
                group: snap.groups[i].as_deref().filter(|g| managed.contains(g)),
                scale_down_disabled: snap.disabled[i],
                being_deleted: self.removing.contains_key(&*n.name) || n.unschedulable,
            })
            .collect();
        let sim = scale_down::find_removable(
            &views,
            &|id| {
                snap.pods
                    .get(&id)
                    .map_or_else(PodDrainInfo::replicated, |p| p.drain.clone())
            },
            &snap.pdbs,
            &self.state.unneeded_since,
            &cfg.scale_down,
            now,
        );
        self.state.update_unneeded(&sim.removable, now);
        self.unremovable = sim.unremovable;
        if self.state.scale_down_in_cooldown(&cfg, now) {
            return Ok(());
        }
        let mut room: BTreeMap<String, u32> = BTreeMap::new();
        for g in groups {
            let removing = self.removing.values().filter(|r| r.group == g.id).count() as u32;
            room.insert(g.id.clone(), g.target.saturating_sub(removing + g.min));
        }
        let drains = self
            .removing
            .keys()
            .filter(|n| {
                snap.index(n)
                    .is_some_and(|i| !snap.nodes[i].pods.is_empty())
            })
            .count();
        let chosen = scale_down::select_deletions(
            &sim.removable,
            &self.state.unneeded_since,
            &mut room,
            drains,
            self.removing.len(),
            &cfg.scale_down,
            now,
        );
        let mut started = vec![];
        for r in chosen {
            if self.start_removal(api, snap, &r, now)? {
                started.push(r.node.clone());
            }
        }
        // Evictions start now; an empty node goes at once.
        self.progress_removals(api, cloud, snap, &started, now, report)?;
        report.removals_started = started;
        Ok(())
    }

    /// The node's taints with the deletion taint added or removed, as a merge patch.
    fn taint_patch(node: &Node, add: Option<String>) -> Patch {
        let mut taints: Vec<serde_json::Value> = node
            .spec
            .iter()
            .flat_map(|s| s.taints.iter().flatten())
            .filter(|t| t.key != TO_BE_DELETED_TAINT)
            .map(|t| serde_json::to_value(t).unwrap_or_default())
            .collect();
        if let Some(value) = add {
            taints
                .push(json!({"key": TO_BE_DELETED_TAINT, "value": value, "effect": "NoSchedule"}));
        }
        Patch::Merge(json!({"spec": {"taints": taints}}))
    }

    /// Taints a node, records the removal's events and evicts its pods; false when the node
    /// could not be tainted.
    fn start_removal<C: Cluster>(
        &mut self,
        api: &mut C,
        snap: &Snapshot,
        r: &Removable,
        now: SimTime,
    ) -> Result<bool, ApiError> {
        let Some(i) = snap.index(&r.node) else {
            return Ok(false);
        };
        let value =
            (self.start_unix_ms.saturating_add_unsigned(now.as_millis()) / 1000).to_string();
        match api.patch::<Node>(
            "",
            &r.node,
            &Self::taint_patch(&snap.objects[i], Some(value)),
        ) {
            Ok(_) => {}
            Err(ApiError::NotFound { .. }) => return Ok(false),
            Err(e) => return Err(e),
        }
        let pods: Vec<String> = r
            .evict
            .iter()
            .filter_map(|id| snap.pods.get(id))
            .map(|p| format!("{}/{}", p.namespace, p.name))
            .collect();
        let (reason, msg) = events::scale_down(r, &pods);
        api.event(event(
            EventType::Normal,
            reason,
            "ConfigMap",
            STATUS_NAMESPACE,
            STATUS_CONFIGMAP,
            msg,
        ));
        api.event(event(
            EventType::Normal,
            events::SCALE_DOWN,
            "Node",
            "",
            &r.node,
            events::NODE_MARKED.into(),
        ));
        self.stats.scale_downs += 1;
        let since = self.state.unneeded_since.get(&r.node).copied();
        self.decisions
            .push(Decision::scale_down(now, r, since, pods));
        let max_graceful_s = (self.config.max_graceful_termination_ms / 1000) as i64;
        let mut removal = Removal {
            group: r.group.clone(),
            to_evict: vec![],
            evicted: vec![],
            eviction_deadline: now.plus_millis(MAX_POD_EVICTION_MS),
            deadline: now,
        };
        let mut max_grace_ms = 0;
        for id in &r.evict {
            let Some(p) = snap.pods.get(id) else { continue };
            if p.drain.deleting.is_some() {
                continue;
            }
            let grace = p.grace_s.min(max_graceful_s);
            max_grace_ms = max_grace_ms.max(grace as u64 * 1000);
            api.event(event(
                EventType::Normal,
                events::SCALE_DOWN,
                "Pod",
                &p.namespace,
                &p.name,
                events::POD_DELETING.into(),
            ));
            removal
                .to_evict
                .push((*id, p.namespace.clone(), p.name.clone(), grace));
        }
        removal.deadline = now.plus_millis(max_grace_ms + DRAIN_HEADROOM_MS);
        self.state.unneeded_since.remove(&r.node);
        self.state.last_scale_down_delete = Some(now);
        self.removing.insert(r.node.clone(), removal);
        Ok(true)
    }

    /// Carries on the removals of `nodes`: evictions (refused ones retried until the
    /// eviction deadline), then the node's deletion once its evicted pods are gone or its
    /// deadline passed.
    fn progress_removals<C: Cluster, G: NodeGroups>(
        &mut self,
        api: &mut C,
        cloud: &mut G,
        snap: &mut Snapshot,
        nodes: &[String],
        now: SimTime,
        report: &mut ScanReport,
    ) -> Result<(), ApiError> {
        for node in nodes {
            let node = node.clone();
            if !self.removing.contains_key(&node) {
                continue;
            }
            let Some(i) = snap.index(&node) else {
                // Deleted by someone else.
                self.removing.remove(&node);
                continue;
            };
            let mut r = self.removing.remove(&node).expect("listed");
            let mut refused = vec![];
            for (id, ns, name, grace) in std::mem::take(&mut r.to_evict) {
                match api.evict(&ns, &name, Some(grace)) {
                    Ok(()) | Err(ApiError::NotFound { .. }) => r.evicted.push(id),
                    Err(ApiError::TooManyRequests(_)) => refused.push((id, ns, name, grace)),
                    Err(e) => return Err(e),
                }
            }
            if !refused.is_empty() {
                if now < r.eviction_deadline {
                    r.to_evict = refused;
                    self.removing.insert(node, r);
                    continue;
                }
                // drain.go: the eviction failed within the allowed time; the node stays.
                for (_, ns, name, _) in &refused {
                    api.event(event(
                        EventType::Warning,
                        events::SCALE_DOWN_FAILED,
                        "Pod",
                        ns,
                        name,
                        events::POD_EVICTION_FAILED.into(),
                    ));
                }
                self.abandon(api, &snap.objects[i], now)?;
                continue;
            }
            let busy = r.evicted.iter().any(|id| {
                snap.pods
                    .get(id)
                    .is_some_and(|p| p.node.as_deref() == Some(node.as_str()))
            });
            if busy && now < r.deadline {
                self.removing.insert(node, r);
                continue;
            }
            if let Err(e) = cloud.delete_node(&r.group, &node) {
                api.event(event(
                    EventType::Warning,
                    events::SCALE_DOWN_FAILED,
                    "Node",
                    "",
                    &node,
                    format!("failed to delete the node: {e}"),
                ));
                self.abandon(api, &snap.objects[i], now)?;
                continue;
            }
            api.event(event(
                EventType::Normal,
                events::SCALE_DOWN,
                "Node",
                "",
                &node,
                events::NODE_REMOVED.into(),
            ));
            self.stats.nodes_removed += 1;
            report.nodes_deleted.push(node.clone());
            // The node leaves this loop's snapshot.
            snap.remove(i);
        }
        Ok(())
    }

    /// A removal that failed: the node loses the deletion taint, scale-down waits
    /// `--scale-down-delay-after-failure`.
    fn abandon<C: Cluster>(
        &mut self,
        api: &mut C,
        node: &Node,
        now: SimTime,
    ) -> Result<(), ApiError> {
        let name = node.metadata.name.as_deref().unwrap_or("");
        match api.patch::<Node>("", name, &Self::taint_patch(node, None)) {
            Ok(_) | Err(ApiError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        self.state.last_scale_down_fail = Some(now);
        Ok(())
    }

    /// Writes the status ConfigMap when what it shows changed.
    fn write_status<C: Cluster>(
        &mut self,
        api: &mut C,
        snap: &Snapshot,
        groups: &[NodeGroup],
        now: SimTime,
    ) -> Result<(), ApiError> {
        let upcoming: Vec<(&str, u64)> = groups
            .iter()
            .map(|g| {
                (
                    g.id.as_str(),
                    g.target.saturating_sub(snap.registered(&g.id)) as u64,
                )
            })
            .collect();
        let (cluster, per) = status::tally(
            snap.nodes
                .iter()
                .enumerate()
                .map(|(i, n)| (snap.groups[i].as_deref(), n.ready)),
            upcoming,
            self.state
                .unneeded_since
                .keys()
                .map(|n| snap.index(n).and_then(|i| snap.groups[i].as_deref())),
        );
        let facts: Vec<GroupFacts> = groups
            .iter()
            .map(|g| GroupFacts {
                name: &g.id,
                readiness: per.get(g.id.as_str()).copied().unwrap_or_default(),
                target: g.target.into(),
                min: g.min.into(),
                max: g.max.into(),
                backed_off: self.state.backed_off(&g.id, now),
            })
            .collect();
        let doc = status::get_status(String::new(), &cluster, &facts);
        if self.last_status.as_ref() == Some(&doc) {
            return Ok(());
        }
        let time = self.timestamp(now);
        let text = status::render(&ClusterAutoscalerStatus {
            time: time.clone(),
            ..doc.clone()
        });
        let annotations = json!({"cluster-autoscaler.kubernetes.io/last-updated": time});
        if api
            .get::<ConfigMap>(STATUS_NAMESPACE, STATUS_CONFIGMAP)?
            .is_some()
        {
            api.patch::<ConfigMap>(
                STATUS_NAMESPACE,
                STATUS_CONFIGMAP,
                &Patch::Merge(
                    json!({"metadata": {"annotations": annotations}, "data": {"status": text}}),
                ),
            )?;
        } else {
            api.create(&ConfigMap {
                metadata: ObjectMeta {
                    name: Some(STATUS_CONFIGMAP.into()),
                    namespace: Some(STATUS_NAMESPACE.into()),
                    annotations: serde_json::from_value(annotations).ok(),
                    ..Default::default()
                },
                data: Some([("status".to_string(), text)].into()),
                ..Default::default()
            })?;
        }
        self.last_status = Some(doc);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
