//! Cluster Autoscaler decision logic: scale-up (estimator + expanders), scale-down, backoff.
//!
//! Follows kubernetes/autoscaler `cluster-autoscaler` (flags and defaults:
//! `config/flags/flags.go`, `config/const.go`; the loop: `core/static_autoscaler.go`; scale-up:
//! `core/scaleup/orchestrator/orchestrator.go`; pod list processing:
//! `core/podlistprocessor/filter_out_expendable.go`, `filter_out_schedulable.go`; backoff:
//! `utils/backoff/exponential_backoff.go`; expendable pods: `core/utils/expendable.go`).
//!
//! Everything here is pure: observed state and the current virtual time in, decisions out. The
//! memory between loops (backoff, unneeded-since timers, last scale-up/down times) lives in
//! [`State`], owned by the caller.
//!
//! - [`expander`]: random, most-pods, least-waste, least-nodes, price, priority, and chains.
//! - [`estimator`]: the binpacking estimator.
//! - [`scale_down`]: utilization, drainability rules, removable nodes, deletion selection.
//! - [`capacity_buffer`]: how many virtual pods a CapacityBuffer asks for.
//! - [`status`]: the `cluster-autoscaler-status` ConfigMap's status document.
//! - [`events`]: the reasons and messages of the Events it records.
//! - [`decisions`]: its decisions as a run records them, and the summary section.
//!
//! What the twin (`kscale-twin`, `sim/cluster_autoscaler.rs`) and the live component
//! (`kscale-components`, `cluster_autoscaler`) share beyond the decisions is here too: which
//! Deployments run it ([`is_ca_image`]), the node groups it manages
//! ([`Config::managed_groups`] over the cloud's [`CloudNodeGroup`]s) and the pod prices of the
//! price expander ([`pod_price`]).

pub mod capacity_buffer;
pub mod decisions;
pub mod estimator;
pub mod events;
pub mod expander;
pub mod scale_down;
pub mod status;

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::sync::Arc;

use kscale_model::goflag::{self, FlagKind, FlagSet, ignored_warning as flag_warning};
use kscale_model::{Resources, SimTime};

use crate::scheduler::{NodeInfo, PodInfo, fits};
use expander::{ExpanderContext, ExpanderName, ExpanderWarning, ExpansionOption};

/// Event source of the Cluster Autoscaler.
pub const SOURCE: &str = "cluster-autoscaler";
/// The priority expander's ConfigMap (in `--namespace`).
pub const PRIORITY_CONFIGMAP: &str = "cluster-autoscaler-priority-expander";
/// The status ConfigMap (kube-system) the Cluster Autoscaler records its cluster-wide events on.
pub const STATUS_CONFIGMAP: &str = "cluster-autoscaler-status";
/// Taint put on nodes being removed (`utils/taints/taints.go` `ToBeDeletedTaint`).
pub const TO_BE_DELETED_TAINT: &str = "ToBeDeletedByClusterAutoscaler";
/// GCE's on-demand prices per core-hour and GiB-hour, used for pod prices by the price expander
/// (kubernetes/autoscaler `cloudprovider/gce/gce_price_model.go`; an *assumption* for AWS,
/// whose provider implements no pricing model).
pub const POD_PRICE_PER_CORE_HOUR: f64 = 0.033174;
/// See [`POD_PRICE_PER_CORE_HOUR`].
pub const POD_PRICE_PER_GIB_HOUR: f64 = 0.004446;

/// The price of a pod for an hour from its requests (the price expander's pod price).
pub fn pod_price(r: &Resources) -> f64 {
    r.cpu_milli as f64 / 1000.0 * POD_PRICE_PER_CORE_HOUR
        + r.memory as f64 / (1u64 << 30) as f64 * POD_PRICE_PER_GIB_HOUR
}

/// Whether a container image is the Cluster Autoscaler's: its last path segment is
/// `cluster-autoscaler` or `cluster-autoscaler-<arch>` (any registry, tag or digest).
pub fn is_ca_image(image: &str) -> bool {
    let name = image.rsplit('/').next().unwrap_or(image);
    let name = name.split(['@', ':']).next().unwrap_or(name);
    // Older multi-arch tags name the image per architecture.
    name == "cluster-autoscaler"
        || name
            .strip_prefix("cluster-autoscaler-")
            .is_some_and(|a| matches!(a, "amd64" | "arm64" | "arm" | "ppc64le" | "s390x"))
}

/// Default `--expendable-pods-priority-cutoff` (−10).
pub const DEFAULT_EXPENDABLE_PODS_PRIORITY_CUTOFF: i32 = -10;

/// Upstream `IsExpendable`: priority strictly below the cutoff (a pod without priority never
/// is; the twin always resolves a priority, 0 by default).
pub fn is_expendable(priority: i32, cutoff: i32) -> bool {
    priority < cutoff
}

/// A `--nodes=min:max:name` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeGroupSpec {
    /// Minimum size.
    pub min: u32,
    /// Maximum size.
    pub max: u32,
    /// Group name.
    pub name: String,
}

/// Cluster Autoscaler configuration: the container's flags with upstream defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// `--scan-interval` (10 s).
    pub scan_interval_ms: u64,
    /// `--expander` chain (default `least-waste`, upstream's default since January 2025;
    /// it was `random` before).
    pub expander: Vec<ExpanderName>,
    /// `--max-nodes-total` (0 = no limit).
    pub max_nodes_total: u32,
    /// `--max-node-provision-time` (15 min).
    pub max_node_provision_time_ms: u64,
    /// `--expendable-pods-priority-cutoff` (−10).
    pub expendable_pods_priority_cutoff: i32,
    /// `--scale-down-enabled` (true).
    pub scale_down_enabled: bool,
    /// `--scale-down-delay-after-add` (10 min).
    pub scale_down_delay_after_add_ms: u64,
    /// `--scale-down-delay-after-delete` (0).
    pub scale_down_delay_after_delete_ms: u64,
    /// `--scale-down-delay-after-failure` (3 min).
    pub scale_down_delay_after_failure_ms: u64,
    /// Scale-down thresholds and drain rules.
    pub scale_down: scale_down::ScaleDownOptions,
    /// `--max-graceful-termination-sec` (600).
    pub max_graceful_termination_ms: u64,
    /// `--balance-similar-node-groups` (false).
    pub balance_similar_node_groups: bool,
    /// `--max-nodes-per-scaleup` (1000).
    pub max_nodes_per_scaleup: u32,
    /// `--new-pod-scale-up-delay` (0).
    pub new_pod_scale_up_delay_ms: u64,
    /// `--initial-node-group-backoff-duration` (5 min).
    pub initial_backoff_ms: u64,
    /// `--max-node-group-backoff-duration` (30 min).
    pub max_backoff_ms: u64,
    /// `--node-group-backoff-reset-timeout` (3 h).
    pub backoff_reset_ms: u64,
    /// `--nodes` entries.
    pub nodes: Vec<NodeGroupSpec>,
    /// `--node-group-auto-discovery` values.
    pub auto_discovery: Vec<String>,
    /// `--namespace` (kube-system): where the priority-expander ConfigMap is read.
    pub namespace: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            scan_interval_ms: 10_000,
            expander: vec![ExpanderName::LeastWaste],
            max_nodes_total: 0,
            max_node_provision_time_ms: 900_000,
            expendable_pods_priority_cutoff: DEFAULT_EXPENDABLE_PODS_PRIORITY_CUTOFF,
            scale_down_enabled: true,
            scale_down_delay_after_add_ms: 600_000,
            scale_down_delay_after_delete_ms: 0,
            scale_down_delay_after_failure_ms: 180_000,
            scale_down: Default::default(),
            max_graceful_termination_ms: 600_000,
            balance_similar_node_groups: false,
            max_nodes_per_scaleup: 1000,
            new_pod_scale_up_delay_ms: 0,
            initial_backoff_ms: 300_000,
            max_backoff_ms: 1_800_000,
            backoff_reset_ms: 3 * 3_600_000,
            nodes: vec![],
            auto_discovery: vec![],
            namespace: "kube-system".into(),
        }
    }
}

/// Flags accepted and ignored silently: logging, cloud and API plumbing a simulation does not
/// need.
const PLUMBING_FLAGS: &[&str] = &[
    "v",
    "logtostderr",
    "alsologtostderr",
    "stderrthreshold",
    "log-dir",
    "cloud-provider",
    "cloud-config",
    "kubeconfig",
    "kubernetes",
    "aws-use-static-instance-list",
    "leader-elect",
    "leader-elect-resource-lock",
    "write-status-configmap",
    "status-config-map-name",
    "address",
    "cluster-name",
    "profiling",
    "logging-format",
    "record-duplicated-events",
    "kube-client-qps",
    "kube-client-burst",
    "scale-down-simulation-timeout",
    "max-bulk-soft-taint-count",
    "max-bulk-soft-taint-time",
];

/// Flags with an effect kscale does not emulate: accepted with a warning.
const NOT_EMULATED_FLAGS: &[&str] = &[
    "skip-nodes-with-system-pods-namespace",
    "regional",
    "enforce-node-group-min-size",
    "ignore-daemonsets-utilization",
    "ignore-mirror-pods-utilization",
    "scale-down-gpu-utilization-threshold",
    "cores-total",
    "memory-total",
    "max-total-unready-percentage",
    "ok-total-unready-count",
    "scale-up-from-zero",
    "parallel-drain",
    "unremovable-node-recheck-timeout",
    "scale-down-candidates-pool-ratio",
    "scale-down-candidates-pool-min-count",
    "max-node-startup-time",
    "daemonset-eviction-for-empty-nodes",
    "daemonset-eviction-for-occupied-nodes",
    "node-deletion-delay-timeout",
    "scale-down-delay-type-local",
];

fn parse_duration_ms(v: &str) -> Result<u64, String> {
    kscale_model::parse_duration(v).map_err(|e| format!("invalid duration {v:?}: {e}"))
}

/// Flags read into [`Config`] (the arms of `Config::set`).
const EMULATED_FLAGS: &[&str] = &[
    "scan-interval",
    "expander",
    "max-nodes-total",
    "max-node-provision-time",
    "expendable-pods-priority-cutoff",
    "scale-down-enabled",
    "scale-down-delay-after-add",
    "scale-down-delay-after-delete",
    "scale-down-delay-after-failure",
    "scale-down-unneeded-time",
    "scale-down-unready-time",
    "scale-down-utilization-threshold",
    "scale-down-non-empty-candidates-count",
    "max-empty-bulk-delete",
    "max-scale-down-parallelism",
    "max-drain-parallelism",
    "skip-nodes-with-system-pods",
    "skip-nodes-with-local-storage",
    "skip-nodes-with-custom-controller-pods",
    "max-graceful-termination-sec",
    "balance-similar-node-groups",
    "max-nodes-per-scaleup",
    "new-pod-scale-up-delay",
    "initial-node-group-backoff-duration",
    "max-node-group-backoff-duration",
    "node-group-backoff-reset-timeout",
    "namespace",
    "node-group-auto-discovery",
    "nodes",
];

/// The known flags that upstream defines as booleans (`flag.Bool` in
/// `config/flags/flags.go`, klog's, component-base's `--leader-elect`): they take
/// `--flag` or `--flag=<strconv.ParseBool value>`, never the next word.
const BOOL_FLAGS: &[&str] = &[
    "scale-down-enabled",
    "skip-nodes-with-system-pods",
    "skip-nodes-with-local-storage",
    "skip-nodes-with-custom-controller-pods",
    "balance-similar-node-groups",
    "logtostderr",
    "alsologtostderr",
    "aws-use-static-instance-list",
    "leader-elect",
    "write-status-configmap",
    "profiling",
    "record-duplicated-events",
    "regional",
    "enforce-node-group-min-size",
    "ignore-daemonsets-utilization",
    "ignore-mirror-pods-utilization",
    "scale-up-from-zero",
    "parallel-drain",
    "daemonset-eviction-for-empty-nodes",
    "daemonset-eviction-for-occupied-nodes",
    "scale-down-delay-type-local",
];

/// The Cluster Autoscaler's command line as upstream parses it: pflag with the Go flags
/// added (a one-letter Go flag such as klog's `-v` also works as a shorthand) and
/// `WordSepNormalizeFunc` (`--log_dir` is `--log-dir`), via component-base's `InitFlags`.
fn flag_set() -> FlagSet {
    let mut set = FlagSet::new().normalize_word_separators(true);
    for name in EMULATED_FLAGS
        .iter()
        .chain(PLUMBING_FLAGS)
        .chain(NOT_EMULATED_FLAGS)
    {
        let kind = if BOOL_FLAGS.contains(name) {
            FlagKind::Bool
        } else {
            FlagKind::Value
        };
        let mut chars = name.chars();
        let shorthand = match (chars.next(), chars.next()) {
            (Some(c), None) => Some(c),
            _ => None,
        };
        set = set.flag(name, shorthand, kind);
    }
    set
}

impl Config {
    /// Parses the container's `command` + `args` words as upstream's pflag command line
    /// ([`kscale_model::goflag`]): `--flag=value`, `--flag value`, `-v 4`, booleans as
    /// `--flag` or `--flag=<strconv.ParseBool value>` (`1`, `t`, `false`, ...), `--` ends the
    /// flags, other words are ignored. Returns the configuration and warnings: what upstream
    /// would exit on (unknown flags, bad values, single-dash long flags) is ignored, not fatal.
    pub fn from_args(words: &[String]) -> (Config, Vec<String>) {
        let mut c = Config::default();
        let mut warnings = vec![];
        flag_set().parse_lenient(words, |r| {
            let warning = match r {
                Ok((flag, value)) => c.set(&flag.name, value).err(),
                Err(e) => Some(flag_warning(&e)),
            };
            warnings.extend(warning);
        });
        (c, warnings)
    }

    fn set(&mut self, name: &str, v: &str) -> Result<(), String> {
        let bad = |e: String| format!("--{name}={v}: {e}; flag ignored");
        let b = || goflag::parse_bool(v).map_err(|e| bad(e.to_string()));
        let d = || parse_duration_ms(v).map_err(bad);
        let sd = &mut self.scale_down;
        match name {
            "scan-interval" => self.scan_interval_ms = d()?.max(1),
            "expander" => self.expander = expander::parse_chain(v).map_err(bad)?,
            "max-nodes-total" => {
                self.max_nodes_total = v
                    .parse()
                    .map_err(|e: std::num::ParseIntError| bad(e.to_string()))?
            }
            "max-node-provision-time" => self.max_node_provision_time_ms = d()?,
            "expendable-pods-priority-cutoff" => {
                self.expendable_pods_priority_cutoff = v
                    .parse()
                    .map_err(|e: std::num::ParseIntError| bad(e.to_string()))?
            }
            "scale-down-enabled" => self.scale_down_enabled = b()?,
            "scale-down-delay-after-add" => self.scale_down_delay_after_add_ms = d()?,
            "scale-down-delay-after-delete" => self.scale_down_delay_after_delete_ms = d()?,
            "scale-down-delay-after-failure" => self.scale_down_delay_after_failure_ms = d()?,
            "scale-down-unneeded-time" => sd.unneeded_ms = d()?,
            "scale-down-unready-time" => sd.unready_ms = d()?,
            "scale-down-utilization-threshold" => {
                sd.utilization_threshold = v
                    .parse()
                    .map_err(|e: std::num::ParseFloatError| bad(e.to_string()))?
            }
            "scale-down-non-empty-candidates-count" => {
                sd.non_empty_candidates = v
                    .parse()
                    .map_err(|e: std::num::ParseIntError| bad(e.to_string()))?
            }
            "max-empty-bulk-delete" => {
                sd.max_empty_bulk_delete = v
                    .parse()
                    .map_err(|e: std::num::ParseIntError| bad(e.to_string()))?
            }
            "max-scale-down-parallelism" => {
                sd.max_scale_down_parallelism = v
                    .parse()
                    .map_err(|e: std::num::ParseIntError| bad(e.to_string()))?
            }
            "max-drain-parallelism" => {
                sd.max_drain_parallelism = v
                    .parse()
                    .map_err(|e: std::num::ParseIntError| bad(e.to_string()))?
            }
            "skip-nodes-with-system-pods" => sd.drain.skip_nodes_with_system_pods = b()?,
            "skip-nodes-with-local-storage" => sd.drain.skip_nodes_with_local_storage = b()?,
            "skip-nodes-with-custom-controller-pods" => {
                sd.drain.skip_nodes_with_custom_controller_pods = b()?
            }
            "max-graceful-termination-sec" => {
                self.max_graceful_termination_ms =
                    v.parse::<u64>().map_err(|e| bad(e.to_string()))? * 1000
            }
            "balance-similar-node-groups" => self.balance_similar_node_groups = b()?,
            "max-nodes-per-scaleup" => {
                self.max_nodes_per_scaleup = v
                    .parse()
                    .map_err(|e: std::num::ParseIntError| bad(e.to_string()))?
            }
            "new-pod-scale-up-delay" => self.new_pod_scale_up_delay_ms = d()?,
            "initial-node-group-backoff-duration" => self.initial_backoff_ms = d()?,
            "max-node-group-backoff-duration" => self.max_backoff_ms = d()?,
            "node-group-backoff-reset-timeout" => self.backoff_reset_ms = d()?,
            "namespace" => self.namespace = v.to_string(),
            "node-group-auto-discovery" => self.auto_discovery.push(v.to_string()),
            "nodes" => {
                let parts: Vec<&str> = v.splitn(3, ':').collect();
                let [min, max, name] = parts[..] else {
                    return Err(bad("expected min:max:name".into()));
                };
                let min: u32 = min
                    .parse()
                    .map_err(|e: std::num::ParseIntError| bad(e.to_string()))?;
                let max: u32 = max
                    .parse()
                    .map_err(|e: std::num::ParseIntError| bad(e.to_string()))?;
                if min > max {
                    return Err(bad("min must not exceed max".into()));
                }
                self.nodes.push(NodeGroupSpec {
                    min,
                    max,
                    name: name.to_string(),
                });
            }
            n if PLUMBING_FLAGS.contains(&n) => {}
            n if NOT_EMULATED_FLAGS.contains(&n) => {
                return Err(format!(
                    "--{n} is accepted but not emulated (upstream default behaviour)"
                ));
            }
            n => return Err(format!("unknown flag --{n} ignored")),
        }
        self.scale_down.expendable_cutoff = self.expendable_pods_priority_cutoff;
        Ok(())
    }
}

/// A node group as the autoscaler sees it in one loop.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeGroup {
    /// Group id.
    pub id: String,
    /// Minimum size.
    pub min: u32,
    /// Maximum size.
    pub max: u32,
    /// Target size: registered nodes plus nodes still coming up.
    pub target: u32,
    /// A node built from the group's template (labels, taints, allocatable; no pods).
    pub template: NodeInfo,
    /// Capacity of one node (least-waste uses capacity, not allocatable).
    pub capacity: Resources,
    /// Price of one node for an hour, USD.
    pub price_per_hour: f64,
}

/// A node group as the cloud provider describes it (upstream `cloudprovider.NodeGroup`: `Id`,
/// `MinSize`, `MaxSize`, `TemplateNodeInfo`, and the pricing model's node price).
#[derive(Clone, Debug, PartialEq)]
pub struct CloudNodeGroup {
    /// Group id.
    pub id: String,
    /// The cloud's minimum size.
    pub min: u32,
    /// The cloud's maximum size.
    pub max: u32,
    /// A node built from the group's template (labels, taints, allocatable; no pods).
    pub template: NodeInfo,
    /// Capacity of one node.
    pub capacity: Resources,
    /// Price of one node for an hour, USD.
    pub price_per_hour: f64,
}

impl Config {
    /// The bounds this autoscaler gives a cloud group: those of its `--nodes=MIN:MAX:NAME`
    /// entry, else the cloud's own with `--node-group-auto-discovery`; `None` when it does not
    /// manage the group.
    pub fn group_bounds(&self, id: &str, cloud_min: u32, cloud_max: u32) -> Option<(u32, u32)> {
        match self.nodes.iter().find(|s| s.name == id) {
            Some(s) => Some((s.min, s.max)),
            None if !self.auto_discovery.is_empty() => Some((cloud_min, cloud_max)),
            None => None,
        }
    }

    /// The node groups this autoscaler manages, in the cloud's order, with their current
    /// target sizes (`target(id)`).
    pub fn managed_groups(
        &self,
        cloud: &[CloudNodeGroup],
        mut target: impl FnMut(&str) -> u32,
    ) -> Vec<NodeGroup> {
        cloud
            .iter()
            .filter_map(|g| {
                let (min, max) = self.group_bounds(&g.id, g.min, g.max)?;
                Some(NodeGroup {
                    id: g.id.clone(),
                    min,
                    max,
                    target: target(&g.id),
                    template: g.template.clone(),
                    capacity: g.capacity,
                    price_per_hour: g.price_per_hour,
                })
            })
            .collect()
    }
}

/// Exponential node-group backoff (`utils/backoff/exponential_backoff.go`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    /// Backed off until.
    pub until: SimTime,
    /// Current duration.
    pub duration_ms: u64,
    /// Last failure.
    pub last_failure: SimTime,
}

/// The autoscaler's memory between loops.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct State {
    /// Per group backoff.
    pub backoff: BTreeMap<String, Backoff>,
    /// When each currently unneeded node was first found unneeded.
    pub unneeded_since: BTreeMap<String, SimTime>,
    /// Last scale-up.
    pub last_scale_up: Option<SimTime>,
    /// Last scale-down deletion.
    pub last_scale_down_delete: Option<SimTime>,
    /// Last failed scale-down.
    pub last_scale_down_fail: Option<SimTime>,
}

impl State {
    /// Registers a failed scale-up of a group (cloud error or provisioning timeout): the group
    /// backs off for 5 min, doubling per failure up to 30 min; the duration resets after 3 h
    /// without failures.
    pub fn register_failed_scale_up(&mut self, group: &str, cfg: &Config, now: SimTime) {
        let duration = match self.backoff.get(group) {
            Some(b) if now.since(b.last_failure) < cfg.backoff_reset_ms => {
                (b.duration_ms * 2).min(cfg.max_backoff_ms)
            }
            _ => cfg.initial_backoff_ms,
        };
        self.backoff.insert(
            group.to_string(),
            Backoff {
                until: now.plus_millis(duration),
                duration_ms: duration,
                last_failure: now,
            },
        );
    }

    /// True if the group is backed off now.
    pub fn backed_off(&self, group: &str, now: SimTime) -> bool {
        self.backoff.get(group).is_some_and(|b| now < b.until)
    }

    /// True if scale-down waits now (after a scale-up, a deletion or a failed deletion).
    pub fn scale_down_in_cooldown(&self, cfg: &Config, now: SimTime) -> bool {
        let within = |t: Option<SimTime>, d: u64| t.is_some_and(|t| now < t.plus_millis(d));
        within(self.last_scale_up, cfg.scale_down_delay_after_add_ms)
            || within(
                self.last_scale_down_delete,
                cfg.scale_down_delay_after_delete_ms,
            )
            || within(
                self.last_scale_down_fail,
                cfg.scale_down_delay_after_failure_ms,
            )
    }

    /// Updates the unneeded-since timers from this loop's removable nodes.
    pub fn update_unneeded(&mut self, removable: &[scale_down::Removable], now: SimTime) {
        let mut next = BTreeMap::new();
        for r in removable {
            let since = self.unneeded_since.get(&r.node).copied().unwrap_or(now);
            next.insert(r.node.clone(), since);
        }
        self.unneeded_since = next;
    }
}

/// One group's share of a scale-up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupIncrease {
    /// Group id.
    pub group: String,
    /// Size before.
    pub from: u32,
    /// Size after.
    pub to: u32,
    /// Group maximum.
    pub max: u32,
}

/// The scale-up decision of one loop.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScaleUpResult {
    /// Increases to apply (several with `--balance-similar-node-groups`).
    pub increases: Vec<GroupIncrease>,
    /// Pods the scale-up helps (they get TriggeredScaleUp).
    pub triggered: Vec<u64>,
    /// Pods no option helps, with the NotTriggerScaleUp message.
    pub not_triggered: Vec<(u64, String)>,
    /// Expander warnings (events on the priority ConfigMap).
    pub warnings: Vec<ExpanderWarning>,
    /// Why no scale-up was attempted, if so (e.g. max-nodes-total reached).
    pub skipped: Option<String>,
}

/// Inputs of one scale-up decision.
pub struct ScaleUpInput<'a> {
    /// Unschedulable pods (no node, no nominated node, not deleting).
    pub pending: &'a [PodInfo],
    /// Existing nodes (ready or not) with their pods, plus template nodes for upcoming nodes.
    pub nodes: &'a [&'a NodeInfo],
    /// Node groups.
    pub groups: &'a [NodeGroup],
    /// Number of nodes in the cluster (registered + upcoming), for `--max-nodes-total`.
    pub cluster_nodes: u32,
    /// Price of a pod for an hour from its requests (price expander).
    pub pod_price: &'a dyn Fn(&Resources) -> f64,
    /// Priority-expander configuration, parsed.
    pub priorities: Option<&'a expander::Priorities>,
    /// Random pick among ties, `pick(n) < n`.
    pub pick: &'a mut dyn FnMut(usize) -> usize,
}

/// A copy of a node without its pod lists (its labels and taints shared, allocatable,
/// requested): what a simulation needs to place more pods, without cloning every pod.
pub fn room_view(n: &NodeInfo) -> NodeInfo {
    NodeInfo {
        name: n.name.clone(),
        labels: n.labels.clone(),
        taints: n.taints.clone(),
        unschedulable: n.unschedulable,
        ready: n.ready,
        allocatable: n.allocatable,
        requested: n.requested,
        pods: vec![],
        nominated: vec![],
    }
}

/// Upstream `FilterOutSchedulable`: pods that fit an existing or upcoming node (in priority
/// order, each placement taking room) are left to the scheduler. Expendable pods bound to nodes
/// are not in the snapshot, so their room counts as free. The snapshot keeps the pods that pod
/// (anti-)affinity reads (those with required anti-affinity terms, and every pod when a
/// pending pod has required terms of its own); the others only take room.
pub fn filter_out_schedulable(
    pending: &[PodInfo],
    nodes: &[&NodeInfo],
    cutoff: i32,
) -> Vec<PodInfo> {
    let affinity = pending
        .iter()
        .any(|p| p.constraints.pod_affinity.has_required());
    let kept =
        |p: &PodInfo| affinity || !p.constraints.pod_affinity.required_anti_affinity.is_empty();
    let mut snap: Vec<NodeInfo> = nodes
        .iter()
        .map(|n| {
            let mut s = room_view(n);
            let mut count = 0;
            for p in &n.pods {
                if is_expendable(p.priority, cutoff) {
                    s.requested -= p.requests;
                } else if kept(p) {
                    s.pods.push(p.clone());
                } else {
                    count += 1;
                }
            }
            for p in &n.nominated {
                s.requested += p.requests;
                count += 1;
            }
            s.allocatable.pods -= count;
            s
        })
        .collect();
    let mut order: Vec<&PodInfo> = pending.iter().collect();
    order.sort_by(|a, b| {
        b.priority
            .cmp(&a.priority)
            .then(a.start_time.cmp(&b.start_time))
    });
    let mut out = vec![];
    // Hints, as upstream's hinting simulator keeps them
    // (`simulator/scheduling/hinting_simulator.go`, and `similar_pods.go` for pods like one
    // that fit nowhere): a pod equal in all the filters read to one tried before starts where
    // that one was placed (`snap.len()`: it fit nowhere). Placements only take room, so the
    // nodes before that refuse it too and the result is first-fit's. Not with required pod
    // affinity, which a placement may satisfy.
    let mut hints: HashMap<u64, Vec<(&PodInfo, usize)>> = HashMap::new();
    for p in order {
        let key = filter_key(p);
        let hint = hints
            .get(&key)
            .and_then(|h| h.iter().find(|(q, _)| same_for_filters(q, p)))
            .map_or(0, |(_, at)| *at);
        let start = if affinity { 0 } else { hint };
        let placed = snap[start..]
            .iter()
            .position(|n| fits(p, n).is_ok())
            .map(|i| start + i);
        match placed {
            Some(i) => {
                let n = &mut snap[i];
                n.requested += p.requests;
                if kept(p) {
                    n.pods.push(p.clone());
                } else {
                    n.allocatable.pods -= 1;
                }
            }
            None => out.push(p.clone()),
        }
        if !affinity {
            let at = placed.unwrap_or(snap.len());
            let entries = hints.entry(key).or_default();
            match entries.iter_mut().find(|(q, _)| same_for_filters(q, p)) {
                Some(e) => e.1 = at,
                None => entries.push((p, at)),
            }
        }
    }
    out.sort_by_key(|p| p.id);
    out
}

/// A hash of what [`same_for_filters`] compares first (requests, namespace, labels).
fn filter_key(p: &PodInfo) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    p.requests.hash(&mut h);
    p.namespace.hash(&mut h);
    p.labels.hash(&mut h);
    h.finish()
}

/// Whether two pods are the same to the scheduler's filters: requests, namespace, labels and
/// placement constraints (pods of one template, in practice).
fn same_for_filters(a: &PodInfo, b: &PodInfo) -> bool {
    a.requests == b.requests
        && a.namespace == b.namespace
        && (Arc::ptr_eq(&a.constraints, &b.constraints) || a.constraints == b.constraints)
        && a.labels == b.labels
        && a.default_selector == b.default_selector
}

/// Labels that may differ between similar node groups (`processors/nodegroupset/compare_nodegroups.go`).
const IGNORED_LABELS: &[&str] = &[
    "kubernetes.io/hostname",
    "topology.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/zone",
    "topology.ebs.csi.aws.com/zone",
    "eks.amazonaws.com/nodegroup",
    "alpha.eksctl.io/nodegroup-name",
    "eks.amazonaws.com/sourceLaunchTemplateId",
];

fn similar(a: &NodeGroup, b: &NodeGroup) -> bool {
    let strip = |n: &NodeInfo| {
        n.labels
            .iter()
            .filter(|(k, _)| !IGNORED_LABELS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<BTreeMap<_, _>>()
    };
    a.template.allocatable == b.template.allocatable
        && a.capacity == b.capacity
        && a.template.taints == b.template.taints
        && strip(&a.template) == strip(&b.template)
}

/// One scale-up decision (`ScaleUpOrchestrator.ScaleUp`): drop expendable pods, drop pods that
/// fit existing or upcoming nodes, estimate each valid group, let the expander chain choose, and
/// cap by the group maximum and `--max-nodes-total`.
pub fn scale_up(input: ScaleUpInput, state: &State, cfg: &Config, now: SimTime) -> ScaleUpResult {
    let mut out = ScaleUpResult::default();
    let cutoff = cfg.expendable_pods_priority_cutoff;
    let pending: Vec<PodInfo> = input
        .pending
        .iter()
        .filter(|p| !is_expendable(p.priority, cutoff))
        .filter(|p| now.since(p.start_time) >= cfg.new_pod_scale_up_delay_ms)
        .cloned()
        .collect();
    let pending = filter_out_schedulable(&pending, input.nodes, cutoff);
    if pending.is_empty() {
        return out;
    }
    if cfg.max_nodes_total > 0 && input.cluster_nodes >= cfg.max_nodes_total {
        out.skipped = Some(format!(
            "Max total nodes in cluster reached: {}",
            cfg.max_nodes_total
        ));
        for p in &pending {
            out.not_triggered.push((
                p.id,
                format!(
                    "pod didn't trigger scale-up: max total nodes in cluster reached: {}",
                    cfg.max_nodes_total
                ),
            ));
        }
        return out;
    }
    let mut options: Vec<ExpansionOption> = vec![];
    // Per pod: reason counts from groups that could not take it.
    let mut reasons: BTreeMap<u64, BTreeMap<String, usize>> = BTreeMap::new();
    let mut note = |pods: &[PodInfo], r: &str| {
        for p in pods {
            *reasons
                .entry(p.id)
                .or_default()
                .entry(r.to_string())
                .or_insert(0) += 1;
        }
    };
    for g in input.groups {
        if g.target >= g.max {
            note(&pending, "max node group size reached");
            continue;
        }
        if state.backed_off(&g.id, now) {
            note(&pending, "in backoff after failed scale-up");
            continue;
        }
        let (fit, unfit): (Vec<PodInfo>, Vec<PodInfo>) = pending
            .iter()
            .cloned()
            .partition(|p| fits(p, &g.template).is_ok());
        for p in &unfit {
            let why = fits(p, &g.template)
                .err()
                .map(|e| e.reasons().join(", "))
                .unwrap_or_default();
            note(std::slice::from_ref(p), &why);
        }
        if fit.is_empty() {
            continue;
        }
        let mut limit = (g.max - g.target).min(cfg.max_nodes_per_scaleup);
        if cfg.max_nodes_total > 0 {
            limit = limit.min(cfg.max_nodes_total - input.cluster_nodes);
        }
        let est = estimator::estimate(&fit, &g.template, limit);
        if est.node_count == 0 {
            continue;
        }
        let req = fit
            .iter()
            .filter(|p| est.pods.contains(&p.id))
            .fold(Resources::ZERO, |a, p| a + p.requests);
        let pods_price = fit
            .iter()
            .filter(|p| est.pods.contains(&p.id))
            .map(|p| (input.pod_price)(&p.requests))
            .sum();
        options.push(ExpansionOption {
            group: g.id.clone(),
            node_count: est.node_count,
            pods: est.pods,
            pod_requests: req,
            node_capacity: g.capacity,
            node_price: Some(g.price_per_hour),
            pods_price: Some(pods_price),
            exists: true,
            gpu: false,
        });
    }
    let ctx = ExpanderContext {
        priorities: input.priorities,
        preferred_cpu_milli: expander::preferred_cpu_milli(input.cluster_nodes as usize),
        stabilization_price: (input.pod_price)(&Resources {
            cpu_milli: 500,
            memory: 500 * 1024 * 1024,
            pods: 1,
        }),
    };
    let chosen = if options.is_empty() {
        None
    } else {
        expander::choose(&cfg.expander, &options, &ctx, &mut out.warnings, input.pick)
    };
    let helped: Vec<u64> = chosen.as_ref().map(|c| c.pods.clone()).unwrap_or_default();
    // Pods some option could take are awaiting evaluation, not "remaining unschedulable": only
    // pods in no option get NotTriggerScaleUp (orchestrator.go `PodsRemainUnschedulable`).
    let in_any: std::collections::BTreeSet<u64> = options
        .iter()
        .flat_map(|o| o.pods.iter().copied())
        .collect();
    for p in &pending {
        if in_any.contains(&p.id) {
            continue;
        }
        let mut parts: Vec<String> = reasons
            .get(&p.id)
            .into_iter()
            .flatten()
            .map(|(r, c)| format!("{c} {r}"))
            .collect();
        parts.sort();
        let msg = if parts.is_empty() {
            if !options.is_empty() {
                continue; // fits a group's nodes beyond this loop's limits; no event now
            }
            // No group to consider at all: upstream's message then has no reasons.
            "pod didn't trigger scale-up:".to_string()
        } else {
            format!("pod didn't trigger scale-up: {}", parts.join(", "))
        };
        out.not_triggered.push((p.id, msg));
    }
    let Some(best) = chosen else {
        return out;
    };
    let mut new = best.node_count;
    if cfg.max_nodes_total > 0 {
        new = new.min(cfg.max_nodes_total - input.cluster_nodes);
    }
    let group = input
        .groups
        .iter()
        .find(|g| g.id == best.group)
        .expect("option group");
    // Similar groups that can take the same pods share the increase, smallest first
    // (`processors/nodegroupset/balancing_processor.go`).
    let mut targets: Vec<(String, u32, u32, u32)> =
        vec![(group.id.clone(), group.target, group.target, group.max)];
    if cfg.balance_similar_node_groups {
        for g in input.groups {
            if g.id != group.id
                && similar(g, group)
                && g.target < g.max
                && !state.backed_off(&g.id, now)
                && options.iter().any(|o| o.group == g.id)
            {
                targets.push((g.id.clone(), g.target, g.target, g.max));
            }
        }
    }
    for _ in 0..new {
        let Some(t) = targets
            .iter_mut()
            .filter(|t| t.2 < t.3)
            .min_by(|a, b| (a.2, &a.0).cmp(&(b.2, &b.0)))
        else {
            break;
        };
        t.2 += 1;
    }
    for (g, from, to, max) in targets {
        if to > from {
            out.increases.push(GroupIncrease {
                group: g,
                from,
                to,
                max,
            });
        }
    }
    out.triggered = helped;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const GIB: i64 = 1 << 30;

    fn pod(id: u64, cpu: i64, priority: i32) -> PodInfo {
        PodInfo {
            id,
            namespace: "default".into(),
            name: format!("p{id}").into(),
            labels: Arc::new(Default::default()),
            requests: Resources {
                cpu_milli: cpu,
                memory: GIB / 4,
                pods: 1,
            },
            priority,
            start_time: SimTime::ZERO,
            terminating: false,
            constraints: Arc::new(Default::default()),
            default_selector: None,
        }
    }

    fn template(name: &str, cpu: i64, label: (&str, &str)) -> NodeInfo {
        NodeInfo {
            name: name.into(),
            labels: std::sync::Arc::new([(label.0.to_string(), label.1.to_string())].into()),
            taints: Default::default(),
            unschedulable: false,
            ready: true,
            allocatable: Resources {
                cpu_milli: cpu,
                memory: 8 * GIB,
                pods: 110,
            },
            requested: Resources::ZERO,
            pods: vec![],
            nominated: vec![],
        }
    }

    fn group(id: &str, cpu: i64, target: u32, max: u32) -> NodeGroup {
        NodeGroup {
            id: id.into(),
            min: 0,
            max,
            target,
            template: template(&format!("{id}-template"), cpu, ("pool", "general")),
            capacity: Resources {
                cpu_milli: cpu,
                memory: 8 * GIB,
                pods: 110,
            },
            price_per_hour: cpu as f64 / 10_000.0,
        }
    }

    fn run(
        pending: &[PodInfo],
        nodes: &[NodeInfo],
        groups: &[NodeGroup],
        state: &State,
        cfg: &Config,
    ) -> ScaleUpResult {
        let mut pick = |_n: usize| 0;
        let nodes: Vec<&NodeInfo> = nodes.iter().collect();
        scale_up(
            ScaleUpInput {
                pending,
                nodes: &nodes,
                groups,
                cluster_nodes: nodes.len() as u32,
                pod_price: &|r| r.cpu_milli as f64 / 20_000.0,
                priorities: None,
                pick: &mut pick,
            },
            state,
            cfg,
            SimTime(60_000),
        )
    }

    // core/utils/expendable_test.go: equal priority is not expendable, lower is.
    fn words(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn managed_groups_take_the_nodes_bounds_or_all_groups_with_auto_discovery() {
        let cloud: Vec<CloudNodeGroup> = ["a", "b", "c"]
            .iter()
            .map(|id| {
                let g = group(id, 2000, 0, 5);
                CloudNodeGroup {
                    id: g.id,
                    min: 1,
                    max: 5,
                    template: g.template,
                    capacity: g.capacity,
                    price_per_hour: g.price_per_hour,
                }
            })
            .collect();
        let sizes = |g: &str| if g == "b" { 3 } else { 0 };
        let (named, _) =
            Config::from_args(&words(&["--nodes=0:9:c", "--nodes=2:4:b", "--nodes=0:1:z"]));
        let got: Vec<(String, u32, u32, u32)> = named
            .managed_groups(&cloud, sizes)
            .into_iter()
            .map(|g| (g.id, g.min, g.max, g.target))
            .collect();
        assert_eq!(
            got,
            [("b".into(), 2, 4, 3), ("c".into(), 0, 9, 0)],
            "the cloud's order, the flags' bounds, unknown names ignored"
        );
        let (auto, _) = Config::from_args(&words(&[
            "--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled",
            "--nodes=0:2:a",
        ]));
        let got: Vec<(String, u32, u32)> = auto
            .managed_groups(&cloud, sizes)
            .into_iter()
            .map(|g| (g.id, g.min, g.max))
            .collect();
        assert_eq!(
            got,
            [("a".into(), 0, 2), ("b".into(), 1, 5), ("c".into(), 1, 5)]
        );
        assert!(Config::default().managed_groups(&cloud, sizes).is_empty());
    }

    #[test]
    fn ca_images_are_recognised_by_their_last_path_segment() {
        for i in [
            "registry.k8s.io/autoscaling/cluster-autoscaler:v1.32.0",
            "k8s.gcr.io/autoscaling/cluster-autoscaler-amd64:v1.21.0",
            "cluster-autoscaler@sha256:0123",
        ] {
            assert!(is_ca_image(i), "{i}");
        }
        for i in [
            "registry.k8s.io/cpa/cluster-proportional-autoscaler:v1.8.9",
            "example.com/cluster-autoscaler-ui:1",
        ] {
            assert!(!is_ca_image(i), "{i}");
        }
    }

    #[test]
    fn expendable_is_strictly_below_the_cutoff() {
        assert!(!is_expendable(-10, -10));
        assert!(is_expendable(-11, -10));
        assert!(!is_expendable(-1, -10));
        assert!(is_expendable(-1000, -10));
        assert!(!is_expendable(0, -10));
        assert!(is_expendable(-1, 0), "before CA 1.12 the cutoff was 0");
    }

    // core/podlistprocessor/filter_out_expendable_test.go + the scale-up half of issue 5.
    #[test]
    fn expendable_pods_never_trigger_scale_up() {
        let groups = [group("ng", 2000, 1, 5)];
        let cfg = Config::default();
        let r = run(
            &[pod(1, 1000, -1000)],
            &[],
            &groups,
            &State::default(),
            &cfg,
        );
        assert!(r.increases.is_empty() && r.not_triggered.is_empty());
        let r = run(&[pod(1, 1000, -1)], &[], &groups, &State::default(), &cfg);
        assert_eq!(
            r.increases,
            [GroupIncrease {
                group: "ng".into(),
                from: 1,
                to: 2,
                max: 5
            }]
        );
        assert_eq!(r.triggered, [1]);
    }

    #[test]
    fn pods_like_one_that_fit_nowhere_are_left_pending_and_others_still_tried() {
        // Three 1-CPU nodes: five 600m pods of one template, then a 300m pod and a 600m pod
        // of another namespace. Three 600m pods fit (one per node); the other two do not and
        // are not tried on every node again; the 300m pod still fits in a node's rest.
        let nodes: Vec<NodeInfo> = (0..3)
            .map(|i| template(&format!("n{i}"), 1000, ("pool", "general")))
            .collect();
        let refs: Vec<&NodeInfo> = nodes.iter().collect();
        let mut pending: Vec<PodInfo> = (1..=5).map(|i| pod(i, 600, 0)).collect();
        pending.push(pod(6, 300, 0));
        let mut other = pod(7, 600, 0);
        other.namespace = "other".into();
        pending.push(other);
        let out: Vec<u64> = filter_out_schedulable(&pending, &refs, -10)
            .iter()
            .map(|p| p.id)
            .collect();
        assert_eq!(out, [4, 5, 7]);
        assert!(!same_for_filters(&pending[0], &pending[5]));
        assert!(!same_for_filters(&pending[0], &pending[6]));
        assert!(same_for_filters(&pending[0], &pending[4]));
    }

    proptest::proptest! {
        /// The hints change nothing: the pods left pending are first-fit's, every pod tried
        /// from the first node.
        #[test]
        fn hints_leave_the_pods_first_fit_leaves(
            rooms in proptest::collection::vec(0i64..4000, 1..8),
            kinds in proptest::collection::vec(0usize..4, 0..40),
        ) {
            let nodes: Vec<NodeInfo> = rooms
                .iter()
                .enumerate()
                .map(|(i, cpu)| template(&format!("n{i}"), *cpu, ("pool", "general")))
                .collect();
            let refs: Vec<&NodeInfo> = nodes.iter().collect();
            let pending: Vec<PodInfo> = kinds
                .iter()
                .enumerate()
                .map(|(i, k)| {
                    let mut p = pod(i as u64 + 1, [300, 600, 900, 600][*k], 0);
                    if *k == 3 {
                        p.namespace = "other".into();
                    }
                    p
                })
                .collect();
            // First fit, in the same order (all pods have one priority and start time).
            let mut room: Vec<i64> = rooms.clone();
            let mut expected = vec![];
            for p in &pending {
                match room.iter_mut().find(|r| **r >= p.requests.cpu_milli) {
                    Some(r) => *r -= p.requests.cpu_milli,
                    None => expected.push(p.id),
                }
            }
            let out: Vec<u64> = filter_out_schedulable(&pending, &refs, -10)
                .iter()
                .map(|p| p.id)
                .collect();
            proptest::prop_assert_eq!(out, expected);
        }
    }

    #[test]
    fn room_held_by_expendable_pods_is_free_for_pending_pods() {
        let mut n = template("n1", 2000, ("pool", "general"));
        let pause = pod(9, 1800, -1000);
        n.requested += pause.requests;
        n.pods.push(pause);
        let out = filter_out_schedulable(&[pod(1, 1500, 0)], &[&n], -10);
        assert!(
            out.is_empty(),
            "the scheduler will preempt the expendable pod"
        );
        let out = filter_out_schedulable(&[pod(1, 1500, 0)], &[&n], -1000);
        assert_eq!(
            out.len(),
            1,
            "with cutoff -1000 the pause pod is not expendable"
        );
    }

    #[test]
    fn pods_are_binpacked_and_capped_by_group_max_and_max_nodes_total() {
        let pending: Vec<PodInfo> = (1..=7).map(|i| pod(i, 1000, 0)).collect();
        // 2 pods per 2-CPU node → 4 nodes, but the group has room for 3.
        let r = run(
            &pending,
            &[],
            &[group("ng", 2000, 2, 5)],
            &State::default(),
            &Config::default(),
        );
        assert_eq!(
            r.increases,
            [GroupIncrease {
                group: "ng".into(),
                from: 2,
                to: 5,
                max: 5
            }]
        );
        assert_eq!(r.triggered.len(), 6);
        assert_eq!(
            r.not_triggered.len(),
            0,
            "the 7th pod fits a later node; no event this loop"
        );
        let cfg = Config {
            max_nodes_total: 1,
            ..Default::default()
        };
        let r = run(
            &pending,
            &[],
            &[group("ng", 2000, 0, 5)],
            &State::default(),
            &cfg,
        );
        assert_eq!(r.increases[0].to, 1);
        let r = run(
            &pending,
            &[template("x", 100, ("a", "b"))],
            &[group("ng", 2000, 0, 5)],
            &State::default(),
            &cfg,
        );
        assert!(r.increases.is_empty());
        assert_eq!(
            r.skipped.as_deref(),
            Some("Max total nodes in cluster reached: 1")
        );
    }

    #[test]
    fn default_expander_is_least_waste_and_full_groups_explain_themselves() {
        let pending = [pod(1, 1500, 0)];
        let groups = [
            group("big", 8000, 0, 5),
            group("small", 2000, 0, 5),
            group("full", 2000, 3, 3),
        ];
        let r = run(
            &pending,
            &[],
            &groups,
            &State::default(),
            &Config::default(),
        );
        assert_eq!(r.increases[0].group, "small");
        let r = run(&pending, &[], &[], &State::default(), &Config::default());
        assert_eq!(
            r.not_triggered,
            [(1, "pod didn't trigger scale-up:".to_string())]
        );
        let r = run(
            &[pod(2, 3000, 0)],
            &[],
            &[group("small", 2000, 0, 5)],
            &State::default(),
            &Config::default(),
        );
        assert_eq!(
            r.not_triggered,
            [(
                2,
                "pod didn't trigger scale-up: 1 Insufficient cpu".to_string()
            )]
        );
        let groups = [group("full", 2000, 3, 3)];
        let r = run(
            &pending,
            &[],
            &groups,
            &State::default(),
            &Config::default(),
        );
        assert_eq!(
            r.not_triggered,
            [(
                1,
                "pod didn't trigger scale-up: 1 max node group size reached".to_string()
            )]
        );
    }

    #[test]
    fn pods_of_options_not_chosen_await_the_next_loop() {
        // Pod 1 fits only "general" nodes, pod 2 only "other" nodes; most-pods ties, random
        // (pick 0) takes the first option: pod 2 gets no NotTriggerScaleUp, it is another
        // group's option.
        let mut p2 = pod(2, 500, 0);
        p2.constraints = Arc::new(crate::scheduler::PlacementConstraints {
            node_selector: [("pool".to_string(), "other".to_string())].into(),
            ..Default::default()
        });
        let mut p1 = pod(1, 500, 0);
        p1.constraints = Arc::new(crate::scheduler::PlacementConstraints {
            node_selector: [("pool".to_string(), "general".to_string())].into(),
            ..Default::default()
        });
        let mut other = group("other", 2000, 0, 5);
        Arc::make_mut(&mut other.template.labels).insert("pool".into(), "other".into());
        let cfg = Config {
            expander: vec![ExpanderName::MostPods],
            ..Default::default()
        };
        let r = run(
            &[p1, p2],
            &[],
            &[group("general", 2000, 0, 5), other],
            &State::default(),
            &cfg,
        );
        assert_eq!(r.increases.len(), 1);
        assert_eq!(r.triggered.len(), 1);
        assert!(r.not_triggered.is_empty(), "{:?}", r.not_triggered);
    }

    #[test]
    fn backoff_doubles_up_to_the_max_and_resets() {
        let cfg = Config::default();
        let mut s = State::default();
        s.register_failed_scale_up("spot", &cfg, SimTime(0));
        assert!(s.backed_off("spot", SimTime(299_999)) && !s.backed_off("spot", SimTime(300_000)));
        for t in 1..=5 {
            s.register_failed_scale_up("spot", &cfg, SimTime(t * 1000));
        }
        assert_eq!(
            s.backoff["spot"].duration_ms, 1_800_000,
            "5 → 10 → 20 → 30 (capped) min"
        );
        s.register_failed_scale_up("spot", &cfg, SimTime(5000 + 3 * 3_600_000));
        assert_eq!(
            s.backoff["spot"].duration_ms, 300_000,
            "reset after 3 h without failures"
        );
        // A backed-off group is no option: the pod goes to the other group.
        let mut st = State::default();
        st.register_failed_scale_up("a", &cfg, SimTime(0));
        let r = run(
            &[pod(1, 1000, 0)],
            &[],
            &[group("a", 2000, 0, 5), group("b", 4000, 0, 5)],
            &st,
            &cfg,
        );
        assert_eq!(r.increases[0].group, "b");
    }

    #[test]
    fn balance_similar_node_groups_splits_the_increase() {
        let pending: Vec<PodInfo> = (1..=6).map(|i| pod(i, 1000, 0)).collect();
        let mut a = group("ng-a", 2000, 1, 10);
        Arc::make_mut(&mut a.template.labels)
            .insert("topology.kubernetes.io/zone".into(), "us-east-1a".into());
        let mut b = group("ng-b", 2000, 0, 10);
        Arc::make_mut(&mut b.template.labels)
            .insert("topology.kubernetes.io/zone".into(), "us-east-1b".into());
        let cfg = Config {
            balance_similar_node_groups: true,
            ..Default::default()
        };
        let r = run(
            &pending,
            &[],
            &[a.clone(), b.clone()],
            &State::default(),
            &cfg,
        );
        // 3 new nodes: b 0→2, a 1→2.
        assert_eq!(
            r.increases,
            [
                GroupIncrease {
                    group: "ng-a".into(),
                    from: 1,
                    to: 2,
                    max: 10
                },
                GroupIncrease {
                    group: "ng-b".into(),
                    from: 0,
                    to: 2,
                    max: 10
                },
            ]
        );
        let r = run(
            &pending,
            &[],
            &[a, b],
            &State::default(),
            &Config::default(),
        );
        assert_eq!(r.increases.len(), 1);
    }

    /// Upstream parses its flags with pflag: booleans take any `strconv.ParseBool` spelling
    /// and never the next word, value flags always take it, `_` reads as `-`, and a
    /// single-dash long flag is a group of unknown shorthands.
    #[test]
    fn flags_follow_pflag_syntax() {
        let w = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        for (v, want) in [
            ("1", true),
            ("t", true),
            ("T", true),
            ("TRUE", true),
            ("True", true),
            ("true", true),
            ("0", false),
            ("f", false),
            ("F", false),
            ("FALSE", false),
            ("False", false),
            ("false", false),
        ] {
            let (c, warn) = Config::from_args(&w(&format!(
                "--scale-down-enabled={v} --balance-similar-node-groups={v}"
            )));
            assert_eq!(c.scale_down_enabled, want, "{v}");
            assert_eq!(c.balance_similar_node_groups, want, "{v}");
            assert!(warn.is_empty(), "{warn:?}");
        }
        let (c, warn) = Config::from_args(&w(
            "./cluster-autoscaler -v 4 --balance-similar-node-groups false --expendable-pods-priority-cutoff -100 --log_dir=/x --skip_nodes_with_local_storage=false -scale-down-enabled=false --scale-down-enabled=maybe -- --max-nodes-total=3",
        ));
        assert!(
            c.balance_similar_node_groups,
            "a boolean never takes the next word"
        );
        assert_eq!(c.expendable_pods_priority_cutoff, -100);
        assert!(!c.scale_down.drain.skip_nodes_with_local_storage);
        assert!(c.scale_down_enabled);
        assert_eq!(c.max_nodes_total, 0, "flags end at --");
        assert_eq!(
            warn,
            [
                "unknown shorthand flag: 's' in -scale-down-enabled=false; flag ignored",
                r#"invalid argument "maybe" for "--scale-down-enabled" flag: strconv.ParseBool: parsing "maybe": invalid syntax; flag ignored"#,
            ]
        );
        let (_, warn) = Config::from_args(&w("--nodes"));
        assert_eq!(warn, ["flag needs an argument: --nodes; flag ignored"]);
        // Every emulated flag reaches `Config::set`.
        for name in EMULATED_FLAGS {
            let e = Config::default()
                .set(name, "1:2:x")
                .err()
                .unwrap_or_default();
            assert!(!e.contains("unknown flag"), "{name}: {e}");
        }
    }

    #[test]
    fn flags_parse_with_defaults_and_warnings() {
        let w = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        let (c, warn) = Config::from_args(&w(
            "./cluster-autoscaler --v=4 --cloud-provider=aws --expander=priority,least-waste --nodes=1:5:spot --nodes 0:3:on-demand --scale-down-unneeded-time=5m --skip-nodes-with-local-storage=false --balance-similar-node-groups --expendable-pods-priority-cutoff=-100 --frobnicate=1 --scan-interval=bogus",
        ));
        assert_eq!(
            c.expander,
            [ExpanderName::Priority, ExpanderName::LeastWaste]
        );
        assert_eq!(
            c.nodes,
            [
                NodeGroupSpec {
                    min: 1,
                    max: 5,
                    name: "spot".into()
                },
                NodeGroupSpec {
                    min: 0,
                    max: 3,
                    name: "on-demand".into()
                }
            ]
        );
        assert_eq!(c.scale_down.unneeded_ms, 300_000);
        assert!(!c.scale_down.drain.skip_nodes_with_local_storage);
        assert!(c.balance_similar_node_groups);
        assert_eq!(c.scale_down.expendable_cutoff, -100);
        assert_eq!(c.scan_interval_ms, 10_000, "bad value ignored");
        assert_eq!(warn.len(), 2, "{warn:?}");
        assert!(warn[0].contains("unknown flag --frobnicate"), "{warn:?}");
        let (_, warn) = Config::from_args(&w("--cores-total=0:100 --kubeconfig=/x"));
        assert_eq!(
            warn,
            ["--cores-total is accepted but not emulated (upstream default behaviour)"]
        );
        let d = Config::default();
        assert_eq!(
            (
                d.scan_interval_ms,
                d.scale_down.utilization_threshold,
                d.expendable_pods_priority_cutoff,
                d.max_node_provision_time_ms
            ),
            (10_000, 0.5, -10, 900_000)
        );
        assert_eq!(d.expander, [ExpanderName::LeastWaste]);
    }
}
