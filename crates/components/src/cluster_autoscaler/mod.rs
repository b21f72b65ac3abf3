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
mod pod_view;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kscale_cluster::{ApiError, Cluster, Event, EventType, Informer, Patch};
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
    /// The last snapshot build that saw it.
    seen: u64,
}

/// A pod of the snapshot.
#[derive(Debug, Clone)]
struct PodEntry {
    namespace: Arc<str>,
    name: Arc<str>,
    node: Option<Arc<str>>,
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
    pods: Arc<pod_view::PodEntries>,
    pdbs: Vec<PdbInfo>,
    index: BTreeMap<String, usize>,
    /// Which build it is (a kept snapshot keeps its number).
    build: u64,
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
    known: HashMap<String, Known, foldhash::fast::FixedState>,
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
    informers: Option<Box<Informers>>,
    /// Snapshots built so far.
    builds: u64,
    /// The last scale-down simulation and what it was made of: snapshot build, buffer pods,
    /// nodes being removed.
    last_simulation: Option<(SimulationInputs, scale_down::Simulation)>,
}

/// What a scale-down simulation was made of: the snapshot's build, the buffer pods' ids and
/// the nodes being removed.
type SimulationInputs = (u64, Vec<u64>, Vec<String>);

/// The caches a loop reads nodes, pods and budgets from ([`ClusterAutoscaler::with_informers`]).
#[derive(Debug)]
struct Informers {
    nodes: Informer<Node>,
    /// The pods, each adapted once per change.
    pods: Informer<Pod, AdaptedPod>,
    pdbs: Informer<PodDisruptionBudget>,
    deployments: Informer<Deployment>,
    /// Nodes were listed again since the last snapshot was built.
    nodes_relisted: bool,
    /// The nodes that changed since the last snapshot was built.
    nodes_changed: BTreeSet<kscale_cluster::informer::Key>,
    /// Budgets changed since the last snapshot was built.
    pdbs_changed: bool,
    /// The pods were listed again since the last snapshot was built.
    pods_relisted: bool,
    /// The pods that changed since the last snapshot was built.
    pods_changed: BTreeSet<kscale_cluster::informer::Key>,
    /// The pods as the last snapshot placed them.
    view: pod_view::PodView,
    /// The last loop's snapshot, while it holds.
    snapshot: Option<Snapshot>,
}

/// What a loop needs of a pod, adapted once per change of the pod (the per-loop parts,
/// its id, first sighting and deletion time, are set when the snapshot is built).
#[derive(Debug, Clone)]
struct AdaptedPod {
    /// Its uid (or `namespace/name`).
    uid: String,
    terminal: bool,
    deleting: bool,
    info: PodInfo,
    node: Option<Arc<str>>,
    nominated: Option<String>,
    unschedulable: bool,
    grace_s: i64,
    drain: PodDrainInfo,
    /// Its Ready condition (for the autoscaler's own pods).
    ready: bool,
}

impl Default for Informers {
    fn default() -> Self {
        Informers {
            nodes: Informer::new(),
            pods: Informer::transformed(|p| AdaptedPod::of(&p)),
            pdbs: Informer::new(),
            deployments: Informer::new(),
            nodes_relisted: false,
            nodes_changed: BTreeSet::new(),
            pdbs_changed: false,
            pods_relisted: false,
            pods_changed: BTreeSet::new(),
            view: pod_view::PodView::default(),
            snapshot: None,
        }
    }
}

impl AdaptedPod {
    fn of(p: &Pod) -> Self {
        let uid = match &p.metadata.uid {
            Some(u) => u.clone(),
            None => format!(
                "{}/{}",
                p.metadata.namespace.as_deref().unwrap_or(""),
                p.metadata.name.as_deref().unwrap_or("")
            ),
        };
        AdaptedPod {
            uid,
            terminal: adapt::terminal(p),
            deleting: p.metadata.deletion_timestamp.is_some(),
            info: adapt::pod_info(p, 0, SimTime::ZERO),
            node: p
                .spec
                .as_ref()
                .and_then(|s| s.node_name.as_deref())
                .map(Arc::from),
            nominated: adapt::nominated_node(p).map(str::to_string),
            unschedulable: adapt::unschedulable(p),
            grace_s: adapt::grace_seconds(p),
            drain: adapt::drain_info(p, None),
            ready: kscale_cluster::pod_ready(p),
        }
    }
}

impl Informers {
    fn sync<C: Cluster>(&mut self, api: &mut C) -> Result<(), ApiError> {
        let nodes = self.nodes.sync(api)?;
        self.nodes_relisted |= nodes.relisted;
        self.nodes_changed.extend(nodes.changed);
        let pods = self.pods.sync(api)?;
        if pods.relisted {
            self.pods_relisted = true;
            self.pods_changed.clear();
        } else if !self.pods_relisted {
            self.pods_changed.extend(pods.changed);
        }
        self.pdbs_changed |= self.pdbs.sync(api)?.any();
        self.deployments.sync(api)?;
        Ok(())
    }
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
            known: HashMap::default(),
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
            informers: None,
            builds: 0,
            last_simulation: None,
        }
    }

    /// Sets the wall-clock time (Unix ms) of the cluster clock's zero: timestamps it writes
    /// (the status `time`, the deletion taint's value) are that plus [`Cluster::now_ms`].
    pub fn with_clock_origin(mut self, start_unix_ms: i64) -> Self {
        self.start_unix_ms = start_unix_ms;
        self
    }

    /// Reads nodes, pods, PodDisruptionBudgets and its own Deployment through informers
    /// ([`Informer`]: listed once, then only what changed) instead of listing them at every
    /// loop: for a backend whose change feed is cheap (the twin).
    pub fn with_informers(mut self) -> Self {
        let mut informers = Box::<Informers>::default();
        if let Some((ns, name)) = &self.deployment {
            // Only its own Deployment is read: a cache of that one.
            informers.deployments = Informer::new().for_object(ns, name);
        }
        self.informers = Some(informers);
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
        let Some(d) = self.deployment_object(api, &ns, &name)? else {
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
        let Some(d) = self.deployment_object(api, ns, name)? else {
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
        if let Some(i) = self.informers.as_deref() {
            let sel = kscale_model::LabelSelector::parse(&sel).map_err(ApiError::Invalid)?;
            return Ok(i
                .pods
                .in_namespace(ns)
                .any(|(_, p)| sel.matches(&p.info.labels) && p.ready));
        }
        let pods = api.list::<Pod>(Some(ns), &sel)?;
        Ok(pods.iter().any(kscale_cluster::pod_ready))
    }

    /// The Deployment `ns/name`, from the informer's cache when it reads through informers.
    fn deployment_object<C: Cluster>(
        &self,
        api: &mut C,
        ns: &str,
        name: &str,
    ) -> Result<Option<Deployment>, ApiError> {
        match self.informers.as_deref() {
            Some(i) => Ok(i.deployments.get(ns, name).cloned()),
            None => api.get::<Deployment>(ns, name),
        }
    }

    /// Brings the informers (if it reads through them) up to date.
    fn sync_informers<C: Cluster>(&mut self, api: &mut C) -> Result<(), ApiError> {
        match self.informers.as_deref_mut() {
            Some(i) => i.sync(api),
            None => Ok(()),
        }
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
        let mut rng = self.rng;
        let scan = self.run_once_with(api, cloud, &mut |n| rng.index(n));
        self.rng = rng;
        scan
    }

    /// [`ClusterAutoscaler::run_once`] with the `random` expander's choices from `pick` (an
    /// index below its argument): a backend with random streams of its own passes one.
    pub fn run_once_with<C: Cluster, G: NodeGroups>(
        &mut self,
        api: &mut C,
        cloud: &mut G,
        pick: &mut dyn FnMut(usize) -> usize,
    ) -> Result<Scan, ApiError> {
        self.sync_informers(api)?;
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
        let scaled_up = self.scale_up(
            api,
            cloud,
            &snap,
            &buffer_pods,
            &groups,
            now,
            pick,
            &mut report,
        )?;
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
        self.keep_snapshot(snap);
        Ok(Scan::Ran(report))
    }

    /// Carries on the node removals in progress between loops (upstream drains and deletes
    /// nodes asynchronously, polling for the evicted pods to be gone): refused evictions are
    /// retried and nodes whose pods are gone are deleted. Nothing to do without a removal.
    pub fn progress<C: Cluster, G: NodeGroups>(
        &mut self,
        api: &mut C,
        cloud: &mut G,
    ) -> Result<ScanReport, ApiError> {
        let mut report = ScanReport::default();
        if self.removing.is_empty() {
            return Ok(report);
        }
        let now = SimTime(api.now_ms());
        self.sync_informers(api)?;
        let mut snap = self.snapshot(api, cloud, now)?;
        let removing: Vec<String> = self.removing.keys().cloned().collect();
        self.progress_removals(api, cloud, &mut snap, &removing, now, &mut report)?;
        self.keep_snapshot(snap);
        Ok(report)
    }

    /// Keeps a loop's snapshot for the next one (read through informers, while nothing
    /// changes it is the same; a node it dropped is read again while the API still shows it).
    fn keep_snapshot(&mut self, snap: Snapshot) {
        if let Some(i) = self.informers.as_deref_mut() {
            i.snapshot = Some(snap);
        }
    }

    /// Reads nodes, pods and budgets into the loop's snapshot: from the informers' caches
    /// when it reads through them (the last snapshot again when nothing changed, with only
    /// the changed pods placed again when only pods changed), listed otherwise.
    fn snapshot<C: Cluster, G: NodeGroups>(
        &mut self,
        api: &mut C,
        cloud: &G,
        now: SimTime,
    ) -> Result<Snapshot, ApiError> {
        let Some(mut informers) = self.informers.take() else {
            return self.listed_snapshot(api, cloud, now);
        };
        let snap = self.informed_snapshot(&mut informers, cloud, now);
        self.informers = Some(informers);
        Ok(snap)
    }

    /// A snapshot from what the API lists now.
    fn listed_snapshot<C: Cluster, G: NodeGroups>(
        &mut self,
        api: &mut C,
        cloud: &G,
        now: SimTime,
    ) -> Result<Snapshot, ApiError> {
        let nodes = api.list::<Node>(None, "")?;
        let pods: Vec<AdaptedPod> = api
            .list::<Pod>(None, "")?
            .iter()
            .map(AdaptedPod::of)
            .collect();
        let pdbs = api.list::<PodDisruptionBudget>(None, "")?;
        self.builds += 1;
        let build = self.builds;
        let mut view = pod_view::PodView::default();
        for a in &pods {
            let key = (a.info.namespace.to_string(), a.info.name.to_string());
            self.place_pod(&mut view, &key, Some(a), now, build);
        }
        self.known.retain(|_, k| k.seen == build);
        let nodes: Vec<&Node> = nodes.iter().collect();
        let pdbs: Vec<&PodDisruptionBudget> = pdbs.iter().collect();
        Ok(self.node_snapshot(&nodes, &pdbs, cloud, &view, build))
    }

    /// A snapshot from the informers' caches.
    fn informed_snapshot<G: NodeGroups>(
        &mut self,
        i: &mut Informers,
        cloud: &G,
        now: SimTime,
    ) -> Snapshot {
        let nodes_relisted = std::mem::take(&mut i.nodes_relisted);
        let nodes_changed = std::mem::take(&mut i.nodes_changed);
        let pdbs_changed = std::mem::take(&mut i.pdbs_changed);
        let relisted = std::mem::take(&mut i.pods_relisted);
        let changed = std::mem::take(&mut i.pods_changed);
        let mut kept = i.snapshot.take();
        if !nodes_relisted
            && nodes_changed.is_empty()
            && !pdbs_changed
            && !relisted
            && changed.is_empty()
            && let Some(snap) = kept.take_if(|s| s.nodes.len() == i.nodes.len())
        {
            // Nothing changed since the last loop's snapshot (and it dropped no node the API
            // still shows): it holds.
            return snap;
        }
        self.builds += 1;
        let build = self.builds;
        if let Some(k) = kept.as_mut() {
            // The view's pods are changed in place, not copied.
            k.pods = Arc::default();
        }
        if relisted {
            i.view = pod_view::PodView::default();
            for (key, a) in i.pods.iter() {
                self.place_pod(&mut i.view, key, Some(a), now, build);
            }
            self.known.retain(|_, k| k.seen == build);
        } else {
            for key in &changed {
                self.place_pod(&mut i.view, key, i.pods.get(&key.0, &key.1), now, build);
            }
        }
        let (dirty, pending_dirty) = i.view.take_dirty();
        let snap = match kept {
            Some(mut snap) if !nodes_relisted && !relisted => {
                // Nodes that changed are read again (added in their place in name order,
                // deleted ones dropped), the others are kept; only the pods that changed are
                // placed again.
                for (_, name) in &nodes_changed {
                    match (snap.index(name), i.nodes.get("", name)) {
                        (Some(ix), Some(n)) => {
                            snap.nodes[ix] = adapt::node_info(n);
                            snap.groups[ix] = cloud.node_group_of(n);
                            snap.disabled[ix] = adapt::scale_down_disabled(n);
                            snap.objects[ix] = n.clone();
                            i.view.fill(&mut snap.nodes[ix]);
                        }
                        (None, Some(n)) => {
                            let ix = snap.nodes.partition_point(|o| *o.name < **name);
                            snap.nodes.insert(ix, adapt::node_info(n));
                            snap.groups.insert(ix, cloud.node_group_of(n));
                            snap.disabled.insert(ix, adapt::scale_down_disabled(n));
                            snap.objects.insert(ix, n.clone());
                            i.view.fill(&mut snap.nodes[ix]);
                            snap.reindex();
                        }
                        (Some(ix), None) => snap.remove(ix),
                        (None, None) => {}
                    }
                }
                if pdbs_changed {
                    snap.pdbs = i.pdbs.iter().map(|(_, p)| adapt::pdb_info(p)).collect();
                }
                for n in &dirty {
                    if let Some(ix) = snap.index(n) {
                        i.view.fill(&mut snap.nodes[ix]);
                    }
                }
                if pending_dirty {
                    snap.pending = i.view.pending();
                }
                // A node the loop dropped (its deletion under way) while the API still shows
                // it: the nodes are read again.
                (snap.nodes.len() == i.nodes.len()).then_some(snap)
            }
            _ => None,
        };
        let mut snap = match snap {
            Some(snap) => snap,
            None => {
                let nodes: Vec<&Node> = i.nodes.iter().map(|(_, o)| o).collect();
                let pdbs: Vec<&PodDisruptionBudget> = i.pdbs.iter().map(|(_, o)| o).collect();
                self.node_snapshot(&nodes, &pdbs, cloud, &i.view, build)
            }
        };
        snap.build = build;
        snap.pods = Arc::clone(&i.view.pods);
        self.not_triggered
            .retain(|id, _| snap.pods.contains_key(id));
        snap
    }

    /// A snapshot of `nodes` with the pods of `view` on them.
    fn node_snapshot<G: NodeGroups>(
        &mut self,
        nodes: &[&Node],
        pdbs: &[&PodDisruptionBudget],
        cloud: &G,
        view: &pod_view::PodView,
        build: u64,
    ) -> Snapshot {
        let mut snap = Snapshot {
            build,
            nodes: nodes.iter().map(|n| adapt::node_info(n)).collect(),
            groups: nodes.iter().map(|n| cloud.node_group_of(n)).collect(),
            disabled: nodes
                .iter()
                .map(|n| adapt::scale_down_disabled(n))
                .collect(),
            objects: nodes.iter().map(|n| (*n).clone()).collect(),
            pdbs: pdbs.iter().map(|p| adapt::pdb_info(p)).collect(),
            pending: view.pending(),
            pods: Arc::clone(&view.pods),
            ..Snapshot::default()
        };
        snap.reindex();
        for n in &mut snap.nodes {
            view.fill(n);
        }
        self.not_triggered
            .retain(|id, _| snap.pods.contains_key(id));
        snap
    }

    /// Places the pod `key` (`a`: as it is now, `None` once deleted) in `view` again: a pod
    /// gets its id and first sighting (its start time) when first seen, and its deletion
    /// time when first seen terminating; a terminal or deleted pod leaves the view.
    fn place_pod(
        &mut self,
        view: &mut pod_view::PodView,
        key: &kscale_cluster::informer::Key,
        a: Option<&AdaptedPod>,
        now: SimTime,
        build: u64,
    ) {
        let old = view.remove(key);
        let a = a.filter(|a| !a.terminal);
        if let Some(old) = &old
            && a.is_none_or(|a| a.uid != old.uid)
        {
            self.known.remove(&old.uid);
        }
        let Some(a) = a else { return };
        if !self.known.contains_key(a.uid.as_str()) {
            self.known.insert(
                a.uid.clone(),
                Known {
                    id: self.next_id,
                    first_seen: now,
                    deleting_since: None,
                    seen: build,
                },
            );
            self.next_id += 1;
        }
        let k = self.known.get_mut(a.uid.as_str()).expect("inserted");
        if a.deleting && k.deleting_since.is_none() {
            k.deleting_since = Some(now);
        }
        k.seen = build;
        let k = *k;
        let mut info = a.info.clone();
        info.id = k.id;
        info.start_time = k.first_seen;
        let mut drain = a.drain.clone();
        drain.deleting = k
            .deleting_since
            .map(|t| (t, a.grace_s.max(0) as u64 * 1000));
        let entry = PodEntry {
            namespace: Arc::clone(&info.namespace),
            name: Arc::clone(&info.name),
            node: a.node.clone(),
            grace_s: a.grace_s,
            drain,
        };
        view.insert(key, &a.uid, pod_view::Place::of(a), info, entry);
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
        pick: &mut dyn FnMut(usize) -> usize,
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
        let result = ca::scale_up(
            ScaleUpInput {
                pending,
                nodes: &nodes,
                groups,
                cluster_nodes,
                pod_price: &ca::pod_price,
                priorities: priorities.as_ref(),
                pick,
            },
            &self.state,
            &cfg,
            now,
        );
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
        // The same snapshot, buffers and removals as the last loop's: the same simulation
        // (with informers only; a listed snapshot is new at every loop).
        let made_of = (
            snap.build,
            buffer_pods.iter().map(|p| p.id).collect::<Vec<_>>(),
            self.removing.keys().cloned().collect::<Vec<_>>(),
        );
        let kept = self
            .last_simulation
            .as_ref()
            .filter(|(m, _)| self.informers.is_some() && *m == made_of)
            .map(|(_, s)| s.clone());
        let sim = match kept {
            Some(s) => s,
            None => {
                let managed: BTreeSet<&str> = groups.iter().map(|g| g.id.as_str()).collect();
                let held = ca::capacity_buffer::hold_room(
                    snap.nodes.iter().filter(|n| {
                        n.ready && !n.unschedulable && !self.removing.contains_key(&*n.name)
                    }),
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
                let s = scale_down::find_removable(
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
                self.last_simulation = Some((made_of, s.clone()));
                s
            }
        };
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
                .push((*id, p.namespace.to_string(), p.name.to_string(), grace));
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
