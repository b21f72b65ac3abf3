//! The twin's in-memory objects: compiled pod templates, pods and nodes.
//!
//! Pods are the hot path (tens of thousands in large runs), so a pod holds only its own state
//! and shares its template (`Arc<PodTemplate>`) with every pod of the same ReplicaSet.

use std::collections::BTreeMap;
use std::sync::Arc;

use kscale_controllers::hpa::PodObs;
use kscale_controllers::scheduler::{
    InclusionPolicy, NodeInfo, PlacementConstraints, PodAffinity, PodInfo, SpreadConstraint,
    WhenUnsatisfiable,
};
use kscale_model::labels::Labels;
use kscale_model::{
    LabelSelector, NodeSelectorRequirement, NodeSelectorTerm, Resources, SimTime, TaintEffect,
    Toleration, TolerationOp,
};
use serde_json::Value;

/// The lenient readers of manifest fields, under the names the twin's parsers use.
pub use kscale_model::labels::{string_map_from_json as str_map, taints_from_json as taints};
pub use kscale_model::quantity::from_json as quantity;

/// One container of a template.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerT {
    /// Container name.
    pub name: String,
    /// Image.
    pub image: String,
    /// Requests (cpu, memory).
    pub requests: Resources,
    /// Limits (cpu, memory); 0 = unset.
    pub limits: Resources,
    /// Elastic Pod `replica`: running instances of this container (default 1, may be 0).
    pub replica: u32,
}

/// QoS class as the kubelet computes it (pkg/apis/core/v1/helper/qos/qos.go).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QosClass {
    /// Every container has cpu and memory limits equal to requests.
    Guaranteed,
    /// Some requests or limits.
    Burstable,
    /// No requests or limits at all.
    BestEffort,
}

impl QosClass {
    /// Name as shown in `status.qosClass`.
    pub fn as_str(&self) -> &'static str {
        match self {
            QosClass::Guaranteed => "Guaranteed",
            QosClass::Burstable => "Burstable",
            QosClass::BestEffort => "BestEffort",
        }
    }
}

/// A compiled pod template (from a Deployment/ReplicaSet template or a bare Pod's spec).
#[derive(Debug, Clone)]
pub struct PodTemplate {
    /// Template labels.
    pub labels: Arc<Labels>,
    /// Template annotations.
    pub annotations: BTreeMap<String, String>,
    /// `spec` as JSON, for rendering.
    pub spec: Value,
    /// Regular containers.
    pub containers: Vec<ContainerT>,
    /// Effective pod request (pods = 1).
    pub requests: Resources,
    /// `priorityClassName`.
    pub priority_class: Option<String>,
    /// Placement constraints for the scheduler.
    pub constraints: Arc<PlacementConstraints>,
    /// `terminationGracePeriodSeconds` in ms (default 30 s).
    pub grace_ms: u64,
    /// Readiness delay after start: `readinessProbe.initialDelaySeconds` (default 0).
    pub readiness_delay_ms: u64,
    /// QoS class.
    pub qos: QosClass,
}

fn res(v: Option<&Value>) -> Resources {
    Resources {
        cpu_milli: quantity(v.and_then(|r| r.get("cpu")))
            .map(|x| x.milli())
            .unwrap_or(0),
        memory: quantity(v.and_then(|r| r.get("memory")))
            .map(|x| x.value())
            .unwrap_or(0),
        pods: 0,
    }
}

/// Node selector requirements (`key`, `operator`, `values`) from JSON; malformed ones are skipped.
pub fn requirements(v: Option<&Value>) -> Vec<NodeSelectorRequirement> {
    NodeSelectorRequirement::list_from_json(v)
}

/// Parses `spec.topologySpreadConstraints` of a pod labelled `pod_labels` (`matchLabelKeys`
/// merged into the selector as the scheduler does; defaults of the optional fields applied).
pub fn topology_spread(v: Option<&Value>, pod_labels: &Labels) -> Vec<SpreadConstraint> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| {
            let when = match c.get("whenUnsatisfiable")?.as_str()? {
                "DoNotSchedule" => WhenUnsatisfiable::DoNotSchedule,
                "ScheduleAnyway" => WhenUnsatisfiable::ScheduleAnyway,
                _ => return None,
            };
            let selector = c.get("labelSelector").map(LabelSelector::from_json);
            let policy = |k: &str, default| match c.get(k).and_then(Value::as_str) {
                Some("Honor") => InclusionPolicy::Honor,
                Some("Ignore") => InclusionPolicy::Ignore,
                _ => default,
            };
            let keys: Vec<String> = c
                .get("matchLabelKeys")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect();
            let mut sc = SpreadConstraint::new(
                c.get("maxSkew")?.as_i64()? as i32,
                c.get("topologyKey")?.as_str()?,
                when,
                selector,
            );
            sc.min_domains = c
                .get("minDomains")
                .and_then(Value::as_i64)
                .map_or(1, |m| m as i32);
            sc.node_affinity_policy = policy("nodeAffinityPolicy", InclusionPolicy::Honor);
            sc.node_taints_policy = policy("nodeTaintsPolicy", InclusionPolicy::Ignore);
            Some(sc.with_match_label_keys(&keys, pod_labels))
        })
        .collect()
}

/// Parses `spec.tolerations`.
pub fn tolerations(v: Option<&Value>) -> Vec<Toleration> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|t| Toleration {
            key: t
                .get("key")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            op: if t.get("operator").and_then(Value::as_str) == Some("Exists") {
                TolerationOp::Exists
            } else {
                TolerationOp::Equal
            },
            value: t
                .get("value")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            effect: t
                .get("effect")
                .and_then(Value::as_str)
                .and_then(TaintEffect::parse),
        })
        .collect()
}

impl PodTemplate {
    /// Compiles a template from its labels/annotations and pod `spec` JSON.
    pub fn compile(metadata: Option<&Value>, spec: &Value) -> PodTemplate {
        let containers: Vec<ContainerT> = spec
            .get("containers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|c| {
                let r = c.get("resources");
                let limits = res(r.and_then(|r| r.get("limits")));
                let mut requests = res(r.and_then(|r| r.get("requests")));
                // Upstream defaulting: a limit without a request sets the request to the limit.
                let reqs = r.and_then(|r| r.get("requests"));
                if reqs.and_then(|x| x.get("cpu")).is_none() && limits.cpu_milli > 0 {
                    requests.cpu_milli = limits.cpu_milli;
                }
                if reqs.and_then(|x| x.get("memory")).is_none() && limits.memory > 0 {
                    requests.memory = limits.memory;
                }
                ContainerT {
                    name: c
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    image: c
                        .get("image")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    requests,
                    limits,
                    replica: c
                        .get("replica")
                        .and_then(Value::as_u64)
                        .map_or(1, |r| r.min(u32::MAX as u64) as u32),
                }
            })
            .collect();
        let init: Vec<Resources> = spec
            .get("initContainers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|c| res(c.get("resources").and_then(|r| r.get("requests"))))
            .collect();
        // Effective request: max(sum of containers, each init container) + overhead
        // (pkg/api/v1/resource/helpers.go PodRequests).
        // Elastic Pods: each container counts once per replica (Σ request × replica).
        let mut sum = containers
            .iter()
            .fold(Resources::ZERO, |a, c| a + c.requests.times(c.replica));
        for i in &init {
            sum = sum.max(i);
        }
        sum += res(spec.get("overhead"));
        sum.pods = 1;
        let all_set = |c: &ContainerT| {
            c.limits.cpu_milli > 0
                && c.limits.memory > 0
                && c.requests.cpu_milli == c.limits.cpu_milli
                && c.requests.memory == c.limits.memory
        };
        let any_set = |c: &ContainerT| {
            c.requests.cpu_milli > 0
                || c.requests.memory > 0
                || c.limits.cpu_milli > 0
                || c.limits.memory > 0
        };
        // QoS over the containers that run (replica > 0), or all of them if none runs.
        let running: Vec<ContainerT> = containers
            .iter()
            .filter(|c| c.replica > 0)
            .cloned()
            .collect();
        let qos_of = if running.is_empty() {
            &containers
        } else {
            &running
        };
        let qos = if !qos_of.is_empty() && qos_of.iter().all(all_set) {
            QosClass::Guaranteed
        } else if qos_of.iter().any(any_set) || init.iter().any(|r| r.cpu_milli > 0 || r.memory > 0)
        {
            QosClass::Burstable
        } else {
            QosClass::BestEffort
        };
        let labels = str_map(metadata.and_then(|m| m.get("labels")));
        let terms = spec
            .pointer("/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|t| NodeSelectorTerm { match_expressions: requirements(t.get("matchExpressions")), match_fields: requirements(t.get("matchFields")) })
            .collect();
        let constraints = PlacementConstraints {
            tolerations: tolerations(spec.get("tolerations")),
            node_selector: str_map(spec.get("nodeSelector")),
            required_node_affinity: terms,
            preemption_never: spec.get("preemptionPolicy").and_then(Value::as_str) == Some("Never"),
            topology_spread: topology_spread(spec.get("topologySpreadConstraints"), &labels),
            pod_affinity: PodAffinity::from_json(spec.get("affinity"), &labels),
        };
        let readiness_delay_ms = spec
            .get("containers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| {
                c.pointer("/readinessProbe/initialDelaySeconds")
                    .and_then(Value::as_u64)
            })
            .max()
            .unwrap_or(0)
            * 1000;
        PodTemplate {
            labels: Arc::new(labels),
            annotations: str_map(metadata.and_then(|m| m.get("annotations"))),
            spec: spec.clone(),
            containers,
            requests: sum,
            priority_class: spec
                .get("priorityClassName")
                .and_then(Value::as_str)
                .map(str::to_string),
            constraints: Arc::new(constraints),
            grace_ms: spec
                .get("terminationGracePeriodSeconds")
                .and_then(Value::as_u64)
                .unwrap_or(30)
                * 1000,
            readiness_delay_ms,
            qos,
        }
    }
}

impl PodTemplate {
    /// Running container instances (Σ `replica`; 1 per container without Elastic Pods).
    pub fn instances(&self) -> u32 {
        self.containers.iter().map(|c| c.replica).sum()
    }

    /// Instances of the serving container (the first one, which the load model sends
    /// requests to): 1 without Elastic Pods; a pod whose serving container is at 0 is not
    /// Ready.
    pub fn serving_instances(&self) -> u32 {
        self.containers.first().map_or(0, |c| c.replica)
    }

    /// The name of its first container (the serving container the load model's usage and the
    /// kubelet's OOM kills are attributed to); empty without containers.
    pub fn first_container_name(&self) -> String {
        self.containers
            .first()
            .map(|c| c.name.clone())
            .unwrap_or_default()
    }

    /// Σ limit × replica of one resource over the running containers, if every running
    /// container sets that limit (`None` otherwise: the pod is not limited as a whole).
    pub fn limit_total(&self, of: impl Fn(&Resources) -> i64) -> Option<i64> {
        let mut running = self.containers.iter().filter(|c| c.replica > 0).peekable();
        running.peek()?;
        running.try_fold(0i64, |a, c| {
            let l = of(&c.limits);
            (l > 0).then_some(a + l * c.replica as i64)
        })
    }
}

/// Pod phase, plus the sub-states kubectl shows in its STATUS column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodPhase {
    /// Not yet bound to a node.
    Pending,
    /// Bound; sandbox and containers being created.
    ContainerCreating,
    /// Containers running.
    Running,
    /// Exited successfully (not produced by long-running workloads).
    Succeeded,
    /// Failed (e.g. evicted).
    Failed,
}

impl PodPhase {
    /// The API `status.phase` value.
    pub fn api_phase(&self) -> &'static str {
        match self {
            PodPhase::Pending | PodPhase::ContainerCreating => "Pending",
            PodPhase::Running => "Running",
            PodPhase::Succeeded => "Succeeded",
            PodPhase::Failed => "Failed",
        }
    }
}

/// Owner of a pod or ReplicaSet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// `ReplicaSet`, `Deployment`, ...
    pub kind: &'static str,
    /// Owner name.
    pub name: String,
    /// Owner uid.
    pub uid: String,
}

/// A pod in the twin. `repr(C)` keeps the fields the HPA sync and the scrape read of every
/// pod (phase, times, template, sample) together at the front, in one or two cache lines.
#[derive(Debug, Clone)]
#[repr(C)]
pub struct Pod {
    /// Twin-internal id (creation order).
    pub id: u64,
    /// Phase.
    pub phase: PodPhase,
    /// Its ReplicaSet's entry in the HPA's pod views ([`super::hpa_view::HpaViews`]), or
    /// [`super::hpa_view::NO_VIEW`]. Next to the phase: the scrape's walk reads both, and
    /// every field up to `node`, in the pod's first three cache lines.
    pub view: u32,
    /// The metrics pipeline's bookkeeping (journal flag, sample group, load cohort).
    pub marks: ScrapeMarks,
    /// Deletion timestamp (graceful deletion in progress).
    pub deleting_at: Option<SimTime>,
    /// When containers started.
    pub started_at: Option<SimTime>,
    /// When it became Ready (None while not ready).
    pub ready_at: Option<SimTime>,
    /// Last transition of the Ready condition (set when it becomes ready or unready).
    pub ready_changed: Option<SimTime>,
    /// When bound.
    pub scheduled_at: Option<SimTime>,
    /// Creation time.
    pub created: SimTime,
    /// The compiled template (shared).
    pub template: Arc<PodTemplate>,
    /// Its latest resource metrics sample (the metrics API's answer, see `metrics.rs`) while
    /// it is in no sample group; read it with [`super::metrics::MetricsApi::sample_of`].
    pub sample: Option<PodSample>,
    /// Its own usage accumulator since the last scrape: (CPU milli-core-seconds, memory
    /// bytes); pods whose CPU is accumulated per cohort have none (see `aggregate.rs`).
    pub usage: Option<(f64, f64)>,
    /// Bound node.
    pub node: Option<Arc<str>>,
    /// Namespace.
    pub namespace: Arc<str>,
    /// Name.
    pub name: Arc<str>,
    /// UID.
    pub uid: String,
    /// Labels (template labels plus `pod-template-hash`).
    pub labels: Arc<Labels>,
    /// Controller owner.
    pub owner: Option<Owner>,
    /// Resolved priority.
    pub priority: i32,
    /// `status.nominatedNodeName`.
    pub nominated: Option<Arc<str>>,
    /// Last FailedScheduling message, while pending.
    pub unschedulable: Option<String>,
    /// Container restarts.
    pub restarts: u32,
    /// Lifecycle generation: stale kubelet events for an older generation are ignored.
    pub generation: u32,
    /// Set when the kubelet evicted the pod: `status.message` (reason `Evicted`).
    pub evicted: Option<String>,
}

impl Pod {
    /// The scheduler's view of this pod.
    pub fn sched_info(&self) -> PodInfo {
        PodInfo {
            id: self.id,
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            labels: self.labels.clone(),
            requests: self.template.requests,
            priority: self.priority,
            start_time: self.started_at.unwrap_or(self.created),
            terminating: self.deleting_at.is_some(),
            constraints: self.template.constraints.clone(),
            default_selector: None,
        }
    }

    /// True if Ready.
    pub fn is_ready(&self) -> bool {
        self.ready_at.is_some() && self.deleting_at.is_none()
    }

    /// True if counted as an active replica by its controller (not terminating, not finished).
    pub fn is_active(&self) -> bool {
        self.deleting_at.is_none() && !matches!(self.phase, PodPhase::Succeeded | PodPhase::Failed)
    }
}

/// A node in the twin.
#[derive(Debug, Clone)]
pub struct Node {
    /// The scheduler's view (name, labels, taints, allocatable, bound pods), kept up to date
    /// incrementally on every bind and removal.
    pub info: NodeInfo,
    /// UID.
    pub uid: String,
    /// Creation time.
    pub created: SimTime,
    /// Last time a pod was bound to it, started terminating on it or left it (Karpenter's
    /// NodeClaim `status.lastPodEventTime`, which `consolidateAfter` counts from).
    pub last_pod_event: SimTime,
    /// Capacity (cpu, memory, pods).
    pub capacity: Resources,
    /// Instance type name.
    pub instance_type: String,
    /// `on-demand` or `spot`.
    pub capacity_type: String,
    /// Price in USD per hour.
    pub hourly_price: f64,
    /// Images already pulled on this node.
    pub images: std::collections::BTreeSet<String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// When the container runtime's per-node sandbox lock is free again (see
    /// [`crate::latency::Latencies::sandbox_lock_ms`]).
    pub sandbox_free_at: SimTime,
    /// A stamp (the revision of a `Topic::NodePods` change) renewed whenever a pod is added to or removed from
    /// `info.pods` or one of them starts terminating: Karpenter disruption's per-node cache is
    /// current while the stamp is the same.
    pub pods_stamp: u64,
}

/// One pod's resource metrics sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PodSample {
    /// Average CPU over the window (milli-cores).
    pub cpu_milli: f64,
    /// Memory at the scrape (bytes).
    pub memory: f64,
    /// When the sample was taken.
    pub timestamp: SimTime,
    /// Window the CPU average covers (ms).
    pub window_ms: u64,
}

/// [`ScrapeMarks::group`] of a pod in no sample group.
pub const NO_GROUP: u32 = u32::MAX;
/// [`ScrapeMarks::cohort_load`] of a pod in no load's main cohort.
pub const NO_LOAD: u32 = u32::MAX;

/// The metrics pipeline's bookkeeping on a pod (not part of its state as anything else sees
/// it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScrapeMarks {
    /// Listed in the pod table's journal since the last scrape.
    pub touched: bool,
    /// Its sample group ([`NO_GROUP`]: its sample is `Pod::sample`).
    pub group: u32,
    /// The load entry whose main cohort it is a member of (`aggregate.rs`), or [`NO_LOAD`].
    pub cohort_load: u32,
    /// Listed in the sampler's journal since its last sample (`output.rs`).
    pub count_touched: bool,
    /// The pod's class as the sampler last counted it (`output.rs`; 0: counted nowhere).
    pub counted: u8,
}

impl Default for ScrapeMarks {
    fn default() -> Self {
        ScrapeMarks {
            touched: false,
            group: NO_GROUP,
            cohort_load: NO_LOAD,
            count_touched: false,
            counted: 0,
        }
    }
}

impl Pod {
    /// What the HPA observes of the pod (before [`PodObs::canonical`]): the typed adapter
    /// from the twin's pod to the controller's input.
    pub fn hpa_obs(&self) -> PodObs {
        PodObs {
            pending: matches!(self.phase, PodPhase::Pending | PodPhase::ContainerCreating),
            ignored: self.deleting_at.is_some() || self.phase == PodPhase::Failed,
            ready: self.started_at.map(|_| self.is_ready()),
            ready_transition: self
                .ready_changed
                .or(self.ready_at)
                .or(self.started_at)
                .unwrap_or(self.created),
            start: self.scheduled_at,
            count: 1,
        }
    }
}
