//! HorizontalPodAutoscaler decision logic (autoscaling/v2: Resource, ContainerResource, Pods,
//! Object and External metrics).
//!
//! Follows kubernetes/kubernetes `pkg/controller/podautoscaler/replica_calculator.go`
//! (pod grouping, utilization with the missing/unready rebalancing, plain per-pod metrics,
//! object and external Value/AverageValue, per-HPA tolerances of KEP-4951) and
//! `horizontal.go` (multiple metrics → the largest proposal, `normalizeDesiredReplicas` without
//! `behavior`, `normalizeDesiredReplicasWithBehaviors` with stabilization windows and rate
//! policies). Defaults from `pkg/controller/podautoscaler/config/v1alpha1/defaults.go` and
//! `pkg/apis/autoscaling/v2/defaults.go`. Pure: the backend passes the observed pods, samples
//! and the time; per-HPA memory (recommendations, scale events) lives in [`HpaState`].

use std::borrow::Cow;

pub mod status;

use kscale_model::SimTime;
use kscale_model::labels::LabelSelector;

/// Cluster-wide tolerance: 0.1 (`--horizontal-pod-autoscaler-tolerance`).
pub const TOLERANCE: f64 = 0.1;
/// CPU initialization period: 5 minutes.
pub const CPU_INITIALIZATION_PERIOD_MS: u64 = 300_000;
/// Initial readiness delay: 30 seconds.
pub const INITIAL_READINESS_DELAY_MS: u64 = 30_000;
/// Downscale stabilization window without `behavior`: 5 minutes.
pub const DOWNSCALE_STABILIZATION_MS: u64 = 300_000;
/// Sync period: 15 seconds.
pub const SYNC_PERIOD_MS: u64 = 15_000;

/// Which resource a metric measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceName {
    /// CPU (milli-cores).
    Cpu,
    /// Memory (bytes; samples and requests in milli-bytes like upstream `MilliValue`).
    Memory,
}

impl ResourceName {
    /// `cpu` or `memory`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ResourceName::Cpu => "cpu",
            ResourceName::Memory => "memory",
        }
    }
}

/// A metric target (`spec.metrics[].*.target`), values in milli-units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Target {
    /// Average utilization in percent of the request (Resource, ContainerResource).
    Utilization(i32),
    /// Average value per pod (Resource, ContainerResource, Pods, Object, External).
    AverageValue(i64),
    /// Total value (Object, External).
    Value(i64),
}

/// A Resource metric of the spec.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceMetric {
    /// The resource.
    pub name: ResourceName,
    /// Its target.
    pub target: Target,
}

/// The metric of a Pods, Object or External source (`metric: {name, selector}`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetricId {
    /// Metric name.
    pub name: String,
    /// Metric selector (`None`: not set).
    pub selector: Option<LabelSelector>,
}

/// The object an Object metric describes (`describedObject`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectRef {
    /// Kind, e.g. `Deployment`.
    pub kind: String,
    /// Name.
    pub name: String,
    /// API version, e.g. `apps/v1`.
    pub api_version: String,
}

/// One entry of `spec.metrics` (autoscaling/v2 `MetricSpec`).
#[derive(Clone, Debug, PartialEq)]
pub enum MetricSpec {
    /// `type: Resource`: cpu or memory of the whole pod.
    Resource(ResourceMetric),
    /// `type: ContainerResource`: cpu or memory of one named container.
    ContainerResource {
        /// The resource and target.
        metric: ResourceMetric,
        /// The container's name.
        container: String,
    },
    /// `type: Pods`: a per-pod custom metric averaged over the pods (AverageValue target).
    Pods {
        /// The metric.
        metric: MetricId,
        /// The per-pod target (milli).
        average: i64,
    },
    /// `type: Object`: a metric of one object (Value or AverageValue target).
    Object {
        /// The described object.
        object: ObjectRef,
        /// The metric.
        metric: MetricId,
        /// The target.
        target: Target,
    },
    /// `type: External`: the sum of the matching external series (Value or AverageValue).
    External {
        /// The metric.
        metric: MetricId,
        /// The target.
        target: Target,
    },
    /// A spec the controller cannot use: unknown type or a target that is not set. Always an
    /// invalid metric (reason, message).
    Invalid {
        /// Condition reason (`InvalidMetricSourceType`, `FailedGetPodsMetric`, ...).
        reason: &'static str,
        /// The error.
        message: String,
    },
}

impl MetricSpec {
    /// Condition reason for a failure to compute this metric (horizontal.go).
    pub fn failure_reason(&self) -> &'static str {
        match self {
            MetricSpec::Resource(_) => "FailedGetResourceMetric",
            MetricSpec::ContainerResource { .. } => "FailedGetContainerResourceMetric",
            MetricSpec::Pods { .. } => "FailedGetPodsMetric",
            MetricSpec::Object { .. } => "FailedGetObjectMetric",
            MetricSpec::External { .. } => "FailedGetExternalMetric",
            MetricSpec::Invalid { reason, .. } => reason,
        }
    }

    /// An error of this metric as `computeReplicasForMetric` wraps it.
    pub fn wrap_error(&self, e: &str) -> String {
        match self {
            MetricSpec::Resource(m) => {
                format!(
                    "failed to get {} resource metric value: {e}",
                    m.name.as_str()
                )
            }
            // horizontal.go names the container here, not the resource.
            MetricSpec::ContainerResource { container, .. } => {
                format!("failed to get {container} container metric value: {e}")
            }
            MetricSpec::Pods { .. } => format!("failed to get pods metric value: {e}"),
            // horizontal.go `computeStatusForObjectMetric` wraps an AverageValue target's
            // error once more.
            MetricSpec::Object {
                metric,
                target: Target::AverageValue(_),
                ..
            } => format!(
                "failed to get object metric value: failed to get {} object metric: {e}",
                metric.name
            ),
            MetricSpec::Object { .. } => format!("failed to get object metric value: {e}"),
            // horizontal.go `computeReplicasForMetric` around `computeStatusForExternalMetric`'s
            // own wrapping, which depends on the target's type.
            MetricSpec::External {
                metric,
                target: Target::AverageValue(_),
            } => format!(
                "failed to get {0} external metric value: failed to get {0} external metric: {e}",
                metric.name
            ),
            MetricSpec::External { metric, .. } => format!(
                "failed to get {0} external metric value: failed to get external metric {0}: {e}",
                metric.name
            ),
            MetricSpec::Invalid { .. } => e.to_string(),
        }
    }

    /// The metric's name as horizontal.go words it in conditions and rescale reasons
    /// (`cpu resource utilization (percentage of request)`, `pods metric rps`, ...).
    pub fn display_name(&self) -> String {
        match self {
            MetricSpec::Resource(m) => match m.target {
                Target::Utilization(_) => format!(
                    "{} resource utilization (percentage of request)",
                    m.name.as_str()
                ),
                _ => format!("{} resource", m.name.as_str()),
            },
            MetricSpec::ContainerResource { metric: m, .. } => match m.target {
                Target::Utilization(_) => format!(
                    "{} container resource utilization (percentage of request)",
                    m.name.as_str()
                ),
                _ => format!("{} container resource", m.name.as_str()),
            },
            MetricSpec::Pods { metric, .. } => format!("pods metric {}", metric.name),
            // horizontal.go `computeStatusForObjectMetric` names an AverageValue target's
            // metric as an external one (as v1.37.2 does).
            MetricSpec::Object {
                metric,
                target: Target::AverageValue(_),
                ..
            } => format!(
                "external metric {}({})",
                metric.name,
                go_selector_string(metric.selector.as_ref())
            ),
            MetricSpec::Object { object, metric, .. } => {
                format!("{} metric {}", object.kind, metric.name)
            }
            MetricSpec::External { metric, .. } => format!(
                "external metric {}({})",
                metric.name,
                go_selector_string(metric.selector.as_ref())
            ),
            MetricSpec::Invalid { .. } => String::new(),
        }
    }
}

/// A `*metav1.LabelSelector` as Go's `%+v` prints it (its generated `String()`), for the
/// external metric's name in messages: `nil` (the generated `String()` of a nil pointer,
/// apimachinery `pkg/apis/meta/v1/generated.pb.go`) or
/// `&LabelSelector{MatchLabels:map[string]string{queue: orders,},MatchExpressions:[]LabelSelectorRequirement{},}`.
pub fn go_selector_string(s: Option<&LabelSelector>) -> String {
    let Some(s) = s else {
        return "nil".into();
    };
    let labels: String = s
        .match_labels
        .iter()
        .map(|(k, v)| format!("{k}: {v},"))
        .collect();
    let exprs: String = s
        .match_expressions
        .iter()
        .map(|r| {
            format!(
                "LabelSelectorRequirement{{Key:{},Operator:{:?},Values:[{}],}},",
                r.key,
                r.op,
                r.values.join(" ")
            )
        })
        .collect();
    format!(
        "&LabelSelector{{MatchLabels:map[string]string{{{labels}}},MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},}}"
    )
}

/// `selectPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelectPolicy {
    /// The policy allowing the largest change.
    Max,
    /// The policy allowing the smallest change.
    Min,
    /// No scaling in this direction.
    Disabled,
}

/// A scaling policy.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Policy {
    /// At most this many pods per period (seconds).
    Pods(i32, u64),
    /// At most this percent per period (seconds).
    Percent(i32, u64),
}

impl Policy {
    fn period_ms(&self) -> u64 {
        match self {
            Policy::Pods(_, p) | Policy::Percent(_, p) => p * 1000,
        }
    }
}

/// Scaling rules of one direction.
#[derive(Clone, Debug, PartialEq)]
pub struct Rules {
    /// Stabilization window (seconds).
    pub stabilization_s: u64,
    /// Policy selection.
    pub select: SelectPolicy,
    /// Policies.
    pub policies: Vec<Policy>,
    /// Per-HPA tolerance of this direction (KEP-4951 `tolerance`, gate
    /// `HPAConfigurableTolerance`, beta and on in 1.35); `None`: the cluster's [`TOLERANCE`].
    pub tolerance: Option<f64>,
}

impl Rules {
    /// Upstream's default scale-up rules: no window, max of 4 pods / 100% per 15 s.
    pub fn default_up() -> Rules {
        Rules {
            stabilization_s: 0,
            select: SelectPolicy::Max,
            policies: vec![Policy::Pods(4, 15), Policy::Percent(100, 15)],
            tolerance: None,
        }
    }

    /// Upstream's default scale-down rules: 300 s window, 100% per 15 s.
    pub fn default_down() -> Rules {
        Rules {
            stabilization_s: 300,
            select: SelectPolicy::Max,
            policies: vec![Policy::Percent(100, 15)],
            tolerance: None,
        }
    }
}

/// `spec.behavior` (both directions filled with defaults where the user left them out).
#[derive(Clone, Debug, PartialEq)]
pub struct Behavior {
    /// Scale-up rules.
    pub up: Rules,
    /// Scale-down rules.
    pub down: Rules,
}

/// The HPA spec as the controller needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct HpaSpec {
    /// `minReplicas` (default 1).
    pub min: i32,
    /// `maxReplicas`.
    pub max: i32,
    /// Metrics (empty → CPU utilization 80%, see [`HpaSpec::effective_metrics`]).
    pub metrics: Vec<MetricSpec>,
    /// `behavior`, if set.
    pub behavior: Option<Behavior>,
}

impl HpaSpec {
    /// The metrics the controller evaluates: `spec.metrics`, or CPU utilization 80% when empty
    /// (pkg/apis/autoscaling/v2/defaults.go).
    pub fn effective_metrics(&self) -> Cow<'_, [MetricSpec]> {
        if self.metrics.is_empty() {
            Cow::Owned(vec![MetricSpec::Resource(ResourceMetric {
                name: ResourceName::Cpu,
                target: Target::Utilization(80),
            })])
        } else {
            Cow::Borrowed(&self.metrics)
        }
    }

    /// Scale-down and scale-up tolerances (horizontal.go `tolerancesForHpa`).
    pub fn tolerances(&self) -> Tolerances {
        let b = self.behavior.as_ref();
        Tolerances {
            down: b.and_then(|b| b.down.tolerance).unwrap_or(TOLERANCE),
            up: b.and_then(|b| b.up.tolerance).unwrap_or(TOLERANCE),
        }
    }
}

/// Tolerances of both directions (replica_calculator.go `Tolerances`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerances {
    /// Scale-down tolerance.
    pub down: f64,
    /// Scale-up tolerance.
    pub up: f64,
}

impl Default for Tolerances {
    fn default() -> Self {
        Tolerances {
            down: TOLERANCE,
            up: TOLERANCE,
        }
    }
}

impl Tolerances {
    /// `isWithin`: `1 − down ≤ ratio ≤ 1 + up` (inclusive).
    pub fn within(&self, r: f64) -> bool {
        (1.0 - self.down) <= r && r <= (1.0 + self.up)
    }
}

/// One sample of a pod's metric.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// Value in milli-units.
    pub milli: i64,
    /// When it was taken.
    pub timestamp: SimTime,
    /// The window it averages over (ms).
    pub window_ms: u64,
}

/// A pod selected by the scale target (`scale.status.selector`), or `count` pods whose
/// observations (this and their [`PodValue`]s) are all equal: every result is the same as for
/// `count` separate entries, since the calculation only counts pods and sums their integer
/// values (a backend merges identical pods to keep a sync's cost proportional to the distinct
/// observations; with negative values saturation could depend on order, so a backend merges
/// only non-negative ones).
#[derive(Clone, Debug, PartialEq)]
pub struct PodObs {
    /// Phase Pending.
    pub pending: bool,
    /// Deleting or phase Failed: ignored.
    pub ignored: bool,
    /// Ready condition (None: no condition yet).
    pub ready: Option<bool>,
    /// Last transition of the Ready condition.
    pub ready_transition: SimTime,
    /// Pod start time.
    pub start: Option<SimTime>,
    /// How many identical pods this entry stands for (1 for a single pod).
    pub count: u32,
}

impl PodObs {
    /// Running and Ready (replica_calculator.go `getReadyPodsCount`).
    pub fn running_ready(&self) -> bool {
        !self.pending && !self.ignored && self.ready == Some(true)
    }

    /// True if [`PodObs::canonical`] gives the same observation at every time from `now` on
    /// (a pod not changed since stays alike to the pods it was merged with): past the CPU
    /// initialization period, or one of the cases whose timestamps never matter.
    pub fn settled(&self, has_sample: bool, now: SimTime) -> bool {
        match (
            self.ignored || self.pending,
            self.ready,
            self.start,
            has_sample,
        ) {
            (false, Some(_), Some(start), true) => {
                now.as_millis() >= start.as_millis() + CPU_INITIALIZATION_PERIOD_MS
            }
            _ => true,
        }
    }

    /// An observation that every calculation of this module treats as `self` at `now`, for a
    /// pod with (`has_sample`) or without a sample of its per-pod metrics: the timestamps that
    /// cannot matter at `now` are replaced by fixed ones, so that a backend can merge pods
    /// whose canonical observations and values are equal into one entry (`count`). Pods past
    /// the CPU initialization period keep only whether `groupPods` counts them as unready.
    pub fn canonical(&self, has_sample: bool, now: SimTime) -> PodObs {
        let fixed = |ready, start| PodObs {
            pending: self.pending,
            ignored: self.ignored,
            ready,
            ready_transition: SimTime::ZERO,
            start,
            count: self.count,
        };
        if self.ignored || self.pending {
            return fixed(None, None);
        }
        let (Some(ready), Some(start), true) = (self.ready, self.start, has_sample) else {
            return fixed(self.ready, None);
        };
        if now.as_millis() < start.as_millis() + CPU_INITIALIZATION_PERIOD_MS {
            return self.clone();
        }
        // Past the initialization period only `!ready && transition < start + delay` counts.
        let unready = !ready
            && self.ready_transition.as_millis() < start.as_millis() + INITIAL_READINESS_DELAY_MS;
        PodObs {
            ready_transition: if unready {
                SimTime::ZERO
            } else {
                SimTime::from_millis(INITIAL_READINESS_DELAY_MS)
            },
            ..fixed(Some(ready), Some(SimTime::ZERO))
        }
    }
}

/// A pod's value for a per-pod metric.
#[derive(Clone, Debug, PartialEq)]
pub struct PodValue {
    /// The pod's request of the resource (milli), or the error for a missing request
    /// (Resource/ContainerResource Utilization only; ignored otherwise).
    pub request: Result<i64, String>,
    /// The pod's sample, if the metrics API returned one.
    pub sample: Option<Sample>,
}

/// What the metrics APIs returned for one metric of the spec.
#[derive(Clone, Debug, PartialEq)]
pub enum Observed {
    /// Resource, ContainerResource, Pods: one value per pod (same order as the pods).
    PerPod(Vec<PodValue>),
    /// Object, External: the metric's value (milli; External: sum of the matching series).
    Value(i64),
}

/// The observation of one metric, or the metrics API's error.
pub type MetricInput = Result<Observed, String>;

/// Pod groups of `groupPods` (replica_calculator.go).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Groups {
    /// Ready pods with a sample: (index, value).
    pub ready: Vec<(usize, i64)>,
    /// Unready pods (index).
    pub unready: Vec<usize>,
    /// Pods without a sample (index).
    pub missing: Vec<usize>,
    /// Ignored pods (index).
    pub ignored: Vec<usize>,
}

/// Groups pods as upstream `groupPods`; readiness is checked only when `cpu` (resource cpu).
pub fn group_pods(pods: &[PodObs], values: &[PodValue], cpu: bool, now: SimTime) -> Groups {
    let mut g = Groups::default();
    for (i, p) in pods.iter().enumerate() {
        if p.ignored {
            g.ignored.push(i);
            continue;
        }
        if p.pending {
            g.unready.push(i);
            continue;
        }
        let Some(s) = values.get(i).and_then(|v| v.sample) else {
            g.missing.push(i);
            continue;
        };
        if cpu {
            let (Some(ready), Some(start)) = (p.ready, p.start) else {
                g.unready.push(i);
                continue;
            };
            let unready = if now.as_millis() < start.as_millis() + CPU_INITIALIZATION_PERIOD_MS {
                !ready || s.timestamp.as_millis() < p.ready_transition.as_millis() + s.window_ms
            } else {
                !ready
                    && p.ready_transition.as_millis()
                        < start.as_millis() + INITIAL_READINESS_DELAY_MS
            };
            if unready {
                g.unready.push(i);
                continue;
            }
        }
        g.ready.push((i, s.milli));
    }
    g
}

/// Outcome of the replica calculation for one metric.
#[derive(Clone, Debug, PartialEq)]
pub struct Proposal {
    /// Proposed replicas.
    pub replicas: i32,
    /// Current utilization (percent) for Utilization targets.
    pub utilization: Option<i32>,
    /// Current value (milli): the raw average per pod for per-pod metrics and AverageValue
    /// targets, the object's or series' total for Value targets.
    pub average: i64,
}

/// A metric that could not be computed: the condition reason and the error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricError {
    /// Condition/event reason (`FailedGetResourceMetric`, ...).
    pub reason: &'static str,
    /// The error of the `computeStatusFor*Metric` step: the ScalingActive condition's and the
    /// `FailedGet*Metric` event's text.
    pub message: String,
    /// The same error as `computeReplicasForMetric` wraps it (`failed to get pods metric
    /// value: …`), for `FailedComputeMetricsReplicas`.
    pub wrapped: String,
}

/// `float → int32` as Go's `int32(math.Ceil(x))` after upstream's overflow guard (saturating).
fn ceil_i32(x: f64) -> i32 {
    x.ceil() as i32
}

/// The "plain" and utilization replica calculation shared by Resource, ContainerResource and
/// Pods metrics (`GetResourceReplicas`, `GetRawResourceReplicas`, `calcPlainMetricReplicas`):
/// ratio over ready pods, then the missing/unready rebalancing. `target` is Utilization
/// (percent of the requests) or AverageValue (milli per pod).
pub fn per_pod_replicas(
    current: i32,
    pods: &[PodObs],
    values: &[PodValue],
    target: Target,
    cpu: bool,
    tol: Tolerances,
    now: SimTime,
) -> Result<Proposal, String> {
    let g = group_pods(pods, values, cpu, now);
    if pods.is_empty() {
        return Err("no pods returned by selector while calculating replica count".into());
    }
    let utilization_target = match target {
        Target::Utilization(t) => Some(t),
        _ => None,
    };
    if utilization_target.is_some()
        && let Some(Err(e)) = values.iter().map(|v| &v.request).find(|r| r.is_err())
    {
        return Err(e.clone());
    }
    if g.ready.is_empty() {
        return Err("did not receive metrics for targeted pods (pods might be unready)".into());
    }
    let request = |i: usize| -> Result<i64, String> {
        match utilization_target {
            Some(_) => values[i].request.clone(),
            None => Ok(0),
        }
    };
    // The weight (pod count) of entry `i`.
    let weight = |i: usize| i64::from(pods[i].count);
    // Usage ratio over (value, request, pods) triples: sums as over each pod separately.
    let ratio = |vals: &[(i64, i64, i64)]| -> Result<(f64, i64, i64), String> {
        let sum: i64 = vals
            .iter()
            .fold(0i64, |a, v| a.saturating_add(v.0.saturating_mul(v.2)));
        let n = vals.iter().map(|v| v.2).sum::<i64>().max(1);
        match target {
            Target::Utilization(t) => {
                let req: i64 = vals.iter().map(|v| v.1 * v.2).sum();
                if req == 0 {
                    return Err("no metrics returned matched known pods".into());
                }
                let util = (100i128 * sum as i128 / req as i128) as i64;
                Ok((util as f64 / t as f64, util, sum / n))
            }
            Target::AverageValue(t) | Target::Value(t) => {
                let avg = sum / n;
                Ok((avg as f64 / t as f64, avg, avg))
            }
        }
    };
    let pods_in = |vals: &[(i64, i64, i64)]| vals.iter().map(|v| v.2).sum::<i64>() as f64;
    let mut ready_vals = Vec::with_capacity(g.ready.len());
    for (i, v) in &g.ready {
        ready_vals.push((*v, request(*i)?, weight(*i)));
    }
    let (usage_ratio, util, avg) = ratio(&ready_vals)?;
    let utilization = utilization_target.map(|_| util as i32);
    let hold = Proposal {
        replicas: current,
        utilization,
        average: avg,
    };
    let scale_up_unready = !g.unready.is_empty() && usage_ratio > 1.0;
    if !scale_up_unready && g.missing.is_empty() {
        if tol.within(usage_ratio) {
            return Ok(hold);
        }
        return Ok(Proposal {
            replicas: ceil_i32(usage_ratio * pods_in(&ready_vals)),
            ..hold
        });
    }
    let mut vals = ready_vals.clone();
    for i in &g.missing {
        let req = request(*i)?;
        let v = if usage_ratio < 1.0 {
            match target {
                // On a scale-down, missing pods count as using their request
                // (max(100, target) percent of it).
                Target::Utilization(t) => req * (t.max(100) as i64) / 100,
                // ... or exactly the target for plain metrics.
                Target::AverageValue(t) | Target::Value(t) => t,
            }
        } else {
            0
        };
        vals.push((v, req, weight(*i)));
    }
    if scale_up_unready {
        for i in &g.unready {
            vals.push((0, request(*i)?, weight(*i)));
        }
    }
    let (new_ratio, _, _) = ratio(&vals)?;
    if tol.within(new_ratio)
        || (usage_ratio < 1.0 && new_ratio > 1.0)
        || (usage_ratio > 1.0 && new_ratio < 1.0)
    {
        return Ok(hold);
    }
    let n = ceil_i32(new_ratio * pods_in(&vals));
    if (new_ratio < 1.0 && n > current) || (new_ratio > 1.0 && n < current) {
        return Ok(hold);
    }
    Ok(Proposal {
        replicas: n,
        ..hold
    })
}

/// The replica calculation for one Resource metric over the pods' cpu/memory values
/// (GetResourceReplicas / GetRawResourceReplicas) with the cluster tolerance.
pub fn resource_replicas(
    current: i32,
    pods: &[PodObs],
    values: &[PodValue],
    metric: &ResourceMetric,
    now: SimTime,
) -> Result<Proposal, String> {
    per_pod_replicas(
        current,
        pods,
        values,
        metric.target,
        metric.name == ResourceName::Cpu,
        Tolerances::default(),
        now,
    )
}

/// Object and External metrics with a Value target (`GetObjectMetricReplicas`,
/// `GetExternalMetricReplicas`): `ratio = value / target`; with `current > 0`, within
/// tolerance → `current`, else `ceil(ratio · ready pods)` (Running and Ready); with
/// `current == 0` (scale from zero) `ceil(ratio)`.
pub fn value_replicas(
    current: i32,
    pods: &[PodObs],
    value: i64,
    target: i64,
    tol: Tolerances,
) -> Result<Proposal, String> {
    let ratio = value as f64 / target as f64;
    let replicas = if current != 0 {
        if tol.within(ratio) {
            current
        } else {
            if pods.is_empty() {
                return Err(
                    "unable to calculate ready pods: no pods returned by selector while calculating replica count"
                        .into(),
                );
            }
            let ready: u64 = pods
                .iter()
                .filter(|p| p.running_ready())
                .map(|p| u64::from(p.count))
                .sum();
            ceil_i32(ratio * ready as f64)
        }
    } else {
        ceil_i32(ratio)
    };
    Ok(Proposal {
        replicas,
        utilization: None,
        average: value,
    })
}

/// Object and External metrics with an AverageValue target (`GetObjectPerPodMetricReplicas`,
/// `GetExternalPerPodMetricReplicas`): over `status_replicas` (the scale's
/// `status.replicas`), `ratio = value / (target · status_replicas)`; outside tolerance
/// `ceil(value / target)` (saturating at i32::MAX), else `status_replicas`; the reported
/// average is `ceil(value / status_replicas)`.
pub fn average_value_replicas(
    status_replicas: i32,
    value: i64,
    target: i64,
    tol: Tolerances,
) -> Proposal {
    let ratio = value as f64 / (target as f64 * status_replicas as f64);
    let replicas = if tol.within(ratio) {
        status_replicas
    } else {
        ceil_i32(value as f64 / target as f64)
    };
    Proposal {
        replicas,
        utilization: None,
        average: (value as f64 / status_replicas as f64).ceil() as i64,
    }
}

/// The replica proposal for one metric of the spec (horizontal.go `computeReplicasForMetric`
/// with the matching replica_calculator.go function).
pub fn metric_replicas(
    spec_replicas: i32,
    status_replicas: i32,
    pods: &[PodObs],
    metric: &MetricSpec,
    input: &MetricInput,
    tol: Tolerances,
    now: SimTime,
) -> Result<Proposal, MetricError> {
    let fail = |message: String| MetricError {
        reason: metric.failure_reason(),
        wrapped: metric.wrap_error(&message),
        message,
    };
    if let MetricSpec::Invalid { message, .. } = metric {
        return Err(fail(message.clone()));
    }
    let observed = input.as_ref().map_err(|e| fail(e.clone()))?;
    match (metric, observed) {
        (MetricSpec::Resource(m), Observed::PerPod(v))
        | (MetricSpec::ContainerResource { metric: m, .. }, Observed::PerPod(v)) => {
            let what = if matches!(m.target, Target::Utilization(_)) {
                "utilization"
            } else {
                "usage"
            };
            per_pod_replicas(
                spec_replicas,
                pods,
                v,
                m.target,
                m.name == ResourceName::Cpu,
                tol,
                now,
            )
            .map_err(|e| fail(format!("failed to get {} {what}: {e}", m.name.as_str())))
        }
        (MetricSpec::Pods { average, .. }, Observed::PerPod(v)) => per_pod_replicas(
            spec_replicas,
            pods,
            v,
            Target::AverageValue(*average),
            false,
            tol,
            now,
        )
        .map_err(fail),
        (MetricSpec::Object { target, .. }, Observed::Value(v))
        | (MetricSpec::External { target, .. }, Observed::Value(v)) => match target {
            Target::Value(t) => value_replicas(spec_replicas, pods, *v, *t, tol).map_err(fail),
            Target::AverageValue(t) => Ok(average_value_replicas(status_replicas, *v, *t, tol)),
            Target::Utilization(_) => Err(fail(
                "invalid metric source: neither a value target nor an average value target was set"
                    .into(),
            )),
        },
        _ => Err(fail("metrics API returned the wrong kind of metric".into())),
    }
}

/// Per-HPA memory of the controller.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HpaState {
    /// Recommendations (time, replicas), for stabilization.
    pub recommendations: Vec<(SimTime, i32)>,
    /// Scale-up events (time, pods added).
    pub up_events: Vec<(SimTime, i32)>,
    /// Scale-down events (time, pods removed).
    pub down_events: Vec<(SimTime, i32)>,
    /// The controller has an entry for this HPA (upstream: its `recommendations` map entry is
    /// not nil); false until the first sync records the initial recommendation. Upstream's
    /// tests that set `recommendations: []timestampedRecommendation{}` set this.
    pub known: bool,
}

/// A ScalingLimited reason, when normalization changed the proposal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// Above `maxReplicas`.
    TooManyReplicas,
    /// Below `minReplicas`.
    TooFewReplicas,
    /// Capped by the scale-up rate.
    ScaleUpLimit,
    /// Capped by the scale-down rate.
    ScaleDownLimit,
}

impl Limit {
    /// Reason and message of the ScalingLimited condition, worded as upstream.
    pub fn reason_message(&self) -> (&'static str, &'static str) {
        match self {
            Limit::TooManyReplicas => (
                "TooManyReplicas",
                "the desired replica count is more than the maximum replica count",
            ),
            Limit::TooFewReplicas => (
                "TooFewReplicas",
                "the desired replica count is less than the minimum replica count",
            ),
            Limit::ScaleUpLimit => (
                "ScaleUpLimit",
                "the desired replica count is increasing faster than the maximum scale rate",
            ),
            Limit::ScaleDownLimit => (
                "ScaleDownLimit",
                "the desired replica count is decreasing faster than the maximum scale rate",
            ),
        }
    }
}

/// How a stabilization window changed a proposal: the AbleToScale condition's reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stabilized {
    /// Lower recent recommendations held a scale-up back (`ScaleUpStabilized`).
    Up,
    /// Higher recent recommendations held a scale-down back (`ScaleDownStabilized`).
    Down,
}

impl Stabilized {
    /// Reason and message of the AbleToScale condition, worded as upstream
    /// (horizontal.go `stabilizeRecommendationWithBehaviors`).
    pub fn reason_message(&self) -> (&'static str, &'static str) {
        match self {
            Stabilized::Up => (
                "ScaleUpStabilized",
                "recent recommendations were lower than current one, applying the lowest recent recommendation",
            ),
            Stabilized::Down => (
                "ScaleDownStabilized",
                "recent recommendations were higher than current one, applying the highest recent recommendation",
            ),
        }
    }
}

/// A proposal after normalization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Normalized {
    /// The desired replicas.
    pub desired: i32,
    /// Why the rate or the bounds changed the stabilized recommendation (ScalingLimited).
    pub limit: Option<Limit>,
    /// Whether the stabilization window changed the proposal (AbleToScale).
    pub stabilized: Option<Stabilized>,
}

/// Legacy normalization (no `behavior`): 5-minute downscale stabilization, then clamp to
/// `[min, min(max, max(2·current, 4))]` (horizontal.go `normalizeDesiredReplicas`).
pub fn normalize_legacy(
    state: &mut HpaState,
    spec: &HpaSpec,
    current: i32,
    proposed: i32,
    now: SimTime,
) -> Normalized {
    let cutoff = now.as_millis().saturating_sub(DOWNSCALE_STABILIZATION_MS);
    let mut stabilized = proposed;
    for (t, r) in &state.recommendations {
        if t.as_millis() > cutoff {
            stabilized = stabilized.max(*r);
        }
    }
    store_recommendation(state, now, proposed, DOWNSCALE_STABILIZATION_MS);
    // Only the downscale window exists here, so a change is always ScaleDownStabilized.
    let held = (stabilized != proposed).then_some(Stabilized::Down);
    let scale_up_limit = (2 * current).max(4);
    let max = spec.max.min(scale_up_limit);
    let (desired, limit) = if stabilized > max {
        let limit = if max == spec.max {
            Limit::TooManyReplicas
        } else {
            Limit::ScaleUpLimit
        };
        (max, Some(limit))
    } else if stabilized < spec.min {
        (spec.min, Some(Limit::TooFewReplicas))
    } else {
        (stabilized, None)
    };
    Normalized {
        desired,
        limit,
        stabilized: held,
    }
}

fn store_recommendation(state: &mut HpaState, now: SimTime, r: i32, keep_ms: u64) {
    let cutoff = now.as_millis().saturating_sub(keep_ms);
    state
        .recommendations
        .retain(|(t, _)| t.as_millis() >= cutoff);
    state.recommendations.push((now, r));
}

/// Replicas added (or removed) within the last `period_ms`.
fn changed_in(events: &[(SimTime, i32)], now: SimTime, period_ms: u64) -> i32 {
    let cutoff = now.as_millis().saturating_sub(period_ms);
    events
        .iter()
        .filter(|(t, _)| t.as_millis() > cutoff)
        .map(|(_, d)| d)
        .sum()
}

/// Upper bound of a scale-up under `rules` (`calculateScaleUpLimitWithScalingRules`).
pub fn scale_up_limit(state: &HpaState, rules: &Rules, current: i32, now: SimTime) -> i32 {
    if rules.select == SelectPolicy::Disabled {
        return current;
    }
    let mut result = if rules.select == SelectPolicy::Max {
        i32::MIN
    } else {
        i32::MAX
    };
    for p in &rules.policies {
        let added = changed_in(&state.up_events, now, p.period_ms());
        let removed = changed_in(&state.down_events, now, p.period_ms());
        let start = current - added + removed;
        let limit = match p {
            Policy::Pods(v, _) => start + v,
            Policy::Percent(v, _) => (start as f64 * (1.0 + *v as f64 / 100.0)).ceil() as i32,
        };
        result = if rules.select == SelectPolicy::Max {
            result.max(limit)
        } else {
            result.min(limit)
        };
    }
    result
}

/// Lower bound of a scale-down under `rules` (`calculateScaleDownLimitWithBehaviors`).
pub fn scale_down_limit(state: &HpaState, rules: &Rules, current: i32, now: SimTime) -> i32 {
    if rules.select == SelectPolicy::Disabled {
        return current;
    }
    let mut result = if rules.select == SelectPolicy::Max {
        i32::MAX
    } else {
        i32::MIN
    };
    for p in &rules.policies {
        let added = changed_in(&state.up_events, now, p.period_ms());
        let removed = changed_in(&state.down_events, now, p.period_ms());
        let start = current - added + removed;
        let limit = match p {
            Policy::Pods(v, _) => start - v,
            Policy::Percent(v, _) => (start as f64 * (1.0 - *v as f64 / 100.0)) as i32,
        };
        result = if rules.select == SelectPolicy::Max {
            result.min(limit)
        } else {
            result.max(limit)
        };
    }
    result
}

/// Normalization with `behavior` (`normalizeDesiredReplicasWithBehaviors`): stabilization over
/// both windows, then the rate limits, then `[min, max]`.
pub fn normalize_with_behavior(
    state: &mut HpaState,
    spec: &HpaSpec,
    b: &Behavior,
    current: i32,
    proposed: i32,
    now: SimTime,
) -> Normalized {
    let up_cut = now.as_millis().saturating_sub(b.up.stabilization_s * 1000);
    let down_cut = now
        .as_millis()
        .saturating_sub(b.down.stabilization_s * 1000);
    let mut up = proposed;
    let mut down = proposed;
    for (t, r) in &state.recommendations {
        if t.as_millis() > up_cut {
            up = up.min(*r);
        }
        if t.as_millis() > down_cut {
            down = down.max(*r);
        }
    }
    let stabilized = current.max(up).min(down);
    // Upstream names the direction by the proposal against the current count.
    let held = (stabilized != proposed).then_some(if proposed >= current {
        Stabilized::Up
    } else {
        Stabilized::Down
    });
    let keep = b.up.stabilization_s.max(b.down.stabilization_s) * 1000;
    store_recommendation(state, now, proposed, keep);
    let (mut desired, mut limit) = (stabilized, None);
    if stabilized > current {
        let cap = scale_up_limit(state, &b.up, current, now).max(current);
        let upper = cap.min(spec.max);
        if stabilized > upper {
            desired = upper;
            limit = Some(if upper == spec.max && cap >= spec.max {
                Limit::TooManyReplicas
            } else {
                Limit::ScaleUpLimit
            });
        }
    } else if stabilized < current {
        let floor = scale_down_limit(state, &b.down, current, now).min(current);
        let lower = floor.max(spec.min);
        if stabilized < lower {
            desired = lower;
            limit = Some(if lower == spec.min && floor <= spec.min {
                Limit::TooFewReplicas
            } else {
                Limit::ScaleDownLimit
            });
        }
    }
    let (desired, limit) = if desired > spec.max {
        (spec.max, Some(Limit::TooManyReplicas))
    } else if desired < spec.min {
        (spec.min, Some(Limit::TooFewReplicas))
    } else {
        (desired, limit)
    };
    Normalized {
        desired,
        limit,
        stabilized: held,
    }
}

/// The decision of one sync.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// Desired replicas after normalization.
    pub desired: i32,
    /// Per metric of [`HpaSpec::effective_metrics`]: its proposal (or the error).
    pub proposals: Vec<Result<Proposal, MetricError>>,
    /// ScalingLimited reason, if any.
    pub limit: Option<Limit>,
    /// The SuccessfulRescale reason text, worded as upstream.
    pub reason: Cow<'static, str>,
    /// The metric the replica count came from (its index in
    /// [`HpaSpec::effective_metrics`]), for the ScalingActive condition's message (see
    /// [`Decision::metric_name`]).
    pub metric: Option<usize>,
    /// Scaling is disabled (current replicas 0 and min > 0).
    pub disabled: bool,
    /// The count came from the metrics (false: scaling is disabled, or the current count is
    /// outside `[min, max]` and goes to the bound without reading them).
    pub computed: bool,
    /// Whether a stabilization window changed the metrics' proposal.
    pub stabilized: Option<Stabilized>,
    /// The metrics could not be used (all invalid, or some invalid and the valid ones would
    /// scale down): the FailedComputeMetricsReplicas message; no scaling.
    pub failed: Option<String>,
}

impl Decision {
    /// The `display_name` of the metric the count came from (empty when none did), as
    /// upstream's ScalingActive message names it; `spec` is the spec decided on.
    pub fn metric_name(&self, spec: &HpaSpec) -> String {
        self.metric
            .and_then(|i| {
                spec.effective_metrics()
                    .get(i)
                    .map(MetricSpec::display_name)
            })
            .unwrap_or_default()
    }

    fn fixed(desired: i32, limit: Option<Limit>, reason: &'static str) -> Decision {
        Decision {
            desired,
            proposals: vec![],
            limit,
            reason: Cow::Borrowed(reason),
            metric: None,
            disabled: false,
            computed: false,
            stabilized: None,
            failed: None,
        }
    }
}

/// At an HPA's first sync, its current replica count becomes its first recommendation
/// (horizontal.go `recordInitialRecommendation`), so a new HPA holds a scale-down until its
/// downscale stabilization window has passed instead of scaling down at once.
pub fn record_initial_recommendation(state: &mut HpaState, current: i32, now: SimTime) {
    if !state.known {
        state.known = true;
        state.recommendations.push((now, current));
    }
}

/// One sync of an HPA (horizontal.go `reconcileAutoscaler` and `computeReplicasForMetrics`):
/// `current` is the scale's `spec.replicas`, `status_replicas` its `status.replicas`;
/// `inputs[i]` is what the metrics APIs returned for `spec.effective_metrics()[i]`. Every
/// metric proposes a replica count and the largest wins; if all metrics are invalid, or some
/// are and the largest valid proposal is below `current`, nothing scales.
pub fn reconcile(
    state: &mut HpaState,
    spec: &HpaSpec,
    current: i32,
    status_replicas: i32,
    pods: &[PodObs],
    inputs: &[MetricInput],
    now: SimTime,
) -> Decision {
    record_initial_recommendation(state, current, now);
    let metrics = spec.effective_metrics();
    if current == 0 && spec.min != 0 {
        return Decision {
            disabled: true,
            ..Decision::fixed(0, None, "")
        };
    }
    if current > spec.max {
        return Decision::fixed(
            spec.max,
            Some(Limit::TooManyReplicas),
            "Current number of replicas above Spec.MaxReplicas",
        );
    }
    if current < spec.min {
        return Decision::fixed(
            spec.min,
            Some(Limit::TooFewReplicas),
            "Current number of replicas below Spec.MinReplicas",
        );
    }
    let tol = spec.tolerances();
    let missing: MetricInput = Err("no metrics returned".into());
    let proposals: Vec<Result<Proposal, MetricError>> = metrics
        .iter()
        .enumerate()
        .map(|(i, m)| {
            metric_replicas(
                current,
                status_replicas,
                pods,
                m,
                inputs.get(i).unwrap_or(&missing),
                tol,
                now,
            )
        })
        .collect();
    let mut best: Option<(i32, usize)> = None;
    for (i, p) in proposals.iter().enumerate() {
        if let Ok(p) = p
            && best.is_none_or(|(b, _)| b == 0 || p.replicas > b)
        {
            best = Some((p.replicas, i));
        }
    }
    let invalid: Vec<&MetricError> = proposals.iter().filter_map(|p| p.as_ref().err()).collect();
    let Some((proposed, which)) = best.filter(|(b, _)| invalid.is_empty() || *b >= current) else {
        let failed = invalid.first().map(|e| {
            format!(
                "invalid metrics ({} invalid out of {}), first error is: {}",
                invalid.len(),
                metrics.len(),
                e.wrapped
            )
        });
        return Decision {
            proposals,
            failed,
            computed: true,
            ..Decision::fixed(current, None, "")
        };
    };
    // The reason is worded only when it names the metric (a scale up): most syncs hold.
    let reason = if proposed > current {
        Cow::Owned(format!("{} above target", metrics[which].display_name()))
    } else {
        Cow::Borrowed("All metrics below target")
    };
    let Normalized {
        desired,
        limit,
        stabilized,
    } = match &spec.behavior {
        None => normalize_legacy(state, spec, current, proposed, now),
        Some(b) => normalize_with_behavior(state, spec, b, current, proposed, now),
    };
    if desired > current {
        state.up_events.push((now, desired - current));
    } else if desired < current {
        state.down_events.push((now, current - desired));
    }
    let keep = 3_600_000;
    let cutoff = now.as_millis().saturating_sub(keep);
    state.up_events.retain(|(t, _)| t.as_millis() > cutoff);
    state.down_events.retain(|(t, _)| t.as_millis() > cutoff);
    Decision {
        desired,
        proposals,
        limit,
        reason,
        metric: Some(which),
        disabled: false,
        computed: true,
        stabilized,
        failed: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: SimTime = SimTime(3_600_000);

    /// (test name, levels, readiness, target, current, expected replicas, usage, tolerances).
    type PodsCase = (
        &'static str,
        &'static [i64],
        &'static [bool],
        i64,
        i32,
        i32,
        i64,
        Tolerances,
    );
    /// (test name, metric, value, readiness, current, expected replicas, usage, tolerances).
    type ValueCase = (
        &'static str,
        MetricSpec,
        i64,
        Vec<bool>,
        i32,
        i32,
        i64,
        Tolerances,
    );

    fn ready_pod(ready: bool) -> PodObs {
        PodObs {
            pending: false,
            ignored: false,
            ready: Some(ready),
            ready_transition: SimTime::from_secs(30),
            start: Some(SimTime::ZERO),
            count: 1,
        }
    }

    fn val(request: i64, usage: Option<i64>) -> PodValue {
        PodValue {
            request: Ok(request),
            sample: usage.map(|m| Sample {
                milli: m,
                timestamp: SimTime::from_secs(3600),
                window_ms: 60_000,
            }),
        }
    }

    /// Pods with CPU requests and usages; `ready[i]` false → NotReady (never became ready).
    fn cpu_pods(
        req: &[i64],
        usage: &[Option<i64>],
        ready: &[bool],
    ) -> (Vec<PodObs>, Vec<PodValue>) {
        let pods = ready
            .iter()
            .map(|r| {
                let mut p = ready_pod(*r);
                if !r {
                    p.ready_transition = SimTime::from_secs(10);
                }
                p
            })
            .collect();
        let vals = req.iter().zip(usage).map(|(r, u)| val(*r, *u)).collect();
        (pods, vals)
    }

    fn cpu(t: i32) -> ResourceMetric {
        ResourceMetric {
            name: ResourceName::Cpu,
            target: Target::Utilization(t),
        }
    }

    fn tol(down: f64, up: f64) -> Tolerances {
        Tolerances { down, up }
    }

    #[test]
    fn replica_calc_scale_up() {
        // replica_calculator_test.go TestReplicaCalcScaleUp: 3 pods req 1 CPU, 300/500/700m,
        // target 30% → utilization 50%, 5 replicas.
        let (pods, v) = cpu_pods(&[1000; 3], &[Some(300), Some(500), Some(700)], &[true; 3]);
        let p = resource_replicas(3, &pods, &v, &cpu(30), NOW).unwrap();
        assert_eq!((p.replicas, p.utilization, p.average), (5, Some(50), 500));
    }

    #[test]
    fn replica_calc_scale_up_unready_less_scale() {
        // TestReplicaCalcScaleUpUnreadyLessScale: pod0 never became ready → 4.
        let (pods, v) = cpu_pods(
            &[1000; 3],
            &[Some(300), Some(500), Some(700)],
            &[false, true, true],
        );
        let p = resource_replicas(3, &pods, &v, &cpu(30), NOW).unwrap();
        assert_eq!((p.replicas, p.utilization), (4, Some(60)));
    }

    #[test]
    fn replica_calc_scale_down() {
        // TestReplicaCalcScaleDown: 5 pods 100/300/500/250/250m, target 50% → 28%, 3 replicas.
        let u: Vec<Option<i64>> = [100, 300, 500, 250, 250].iter().map(|x| Some(*x)).collect();
        let (pods, v) = cpu_pods(&[1000; 5], &u, &[true; 5]);
        let p = resource_replicas(5, &pods, &v, &cpu(50), NOW).unwrap();
        assert_eq!((p.replicas, p.utilization), (3, Some(28)));
    }

    #[test]
    fn replica_calc_missing_metrics_scale_down() {
        // TestReplicaCalcMissingMetricsUnreadyScaleDown-style: 4 pods (req 1,1,2,2 CPU), pod0
        // not ready, pod3 without metrics, 100/100/100m, target 300% → 2.
        let (pods, v) = cpu_pods(
            &[1000, 1000, 2000, 2000],
            &[Some(100), Some(100), Some(100), None],
            &[false, true, true, true],
        );
        let p = resource_replicas(4, &pods, &v, &cpu(300), NOW).unwrap();
        assert_eq!(p.replicas, 2);
    }

    #[test]
    fn replica_calc_missing_request_and_disjoint_metrics() {
        // calculatePodRequests: any pod without a request fails a Utilization target.
        let (pods, mut v) = cpu_pods(&[1000, 1000], &[Some(100), Some(100)], &[true, true]);
        v[1].request = Err("missing request for cpu in container c of Pod p1".into());
        assert_eq!(
            resource_replicas(2, &pods, &v, &cpu(50), NOW).unwrap_err(),
            "missing request for cpu in container c of Pod p1"
        );
        // ... but not an AverageValue target.
        let avg = ResourceMetric {
            name: ResourceName::Cpu,
            target: Target::AverageValue(100),
        };
        assert_eq!(
            resource_replicas(2, &pods, &v, &avg, NOW).unwrap().replicas,
            2
        );
        // TestReplicaCalcDisjointResourcesMetrics: requests summing to 0.
        let (pods, v) = cpu_pods(&[0], &[Some(100)], &[true]);
        assert_eq!(
            resource_replicas(1, &pods, &v, &cpu(100), NOW).unwrap_err(),
            "no metrics returned matched known pods"
        );
    }

    #[test]
    fn tolerance_keeps_replicas() {
        // horizontal_test.go TestTolerance / replica_calculator_test.go TestReplicaCalcTolerance:
        // 3 pods req 0.9/1.0/1.1 CPU, 1010/1030/1020m, target 100% → 102%, within 10%, stays 3.
        let (pods, v) = cpu_pods(
            &[900, 1000, 1100],
            &[Some(1010), Some(1030), Some(1020)],
            &[true; 3],
        );
        let p = resource_replicas(3, &pods, &v, &cpu(100), NOW).unwrap();
        assert_eq!((p.replicas, p.utilization), (3, Some(102)));
    }

    #[test]
    fn configurable_tolerance() {
        // replica_calculator_test.go TestReplicaCalcConfigurableTolerance (req 0.9/1.0/1.1, target
        // 100%): (tolerances, usages, expected replicas, expected utilization).
        let cases = [
            (
                "Outside of a 0% tolerance",
                tol(0.0, 0.0),
                [909, 1010, 1111],
                4,
                101,
            ),
            (
                "Within a 200% scale-up tolerance",
                tol(0.1, 2.0),
                [1890, 1910, 1900],
                3,
                190,
            ),
            (
                "Outside 8% scale-up tolerance",
                tol(2.0, 0.08),
                [1100, 1080, 1090],
                4,
                109,
            ),
            (
                "Within a 36% scale-down tolerance",
                tol(0.36, 0.1),
                [660, 640, 650],
                3,
                65,
            ),
            (
                "Outside a 34% scale-down tolerance",
                tol(0.34, 0.1),
                [660, 640, 650],
                2,
                65,
            ),
        ];
        for (name, t, u, want, util) in cases {
            let usage: Vec<Option<i64>> = u.iter().map(|x| Some(*x)).collect();
            let (pods, v) = cpu_pods(&[900, 1000, 1100], &usage, &[true; 3]);
            let p = per_pod_replicas(3, &pods, &v, Target::Utilization(100), true, t, NOW).unwrap();
            assert_eq!((p.replicas, p.utilization), (want, Some(util)), "{name}");
        }
    }

    /// Pods metric ("qps") with values per pod, all ready.
    fn pods_metric(levels: &[i64], ready: &[bool]) -> (Vec<PodObs>, Vec<PodValue>) {
        let pods = ready.iter().map(|r| ready_pod(*r)).collect();
        (pods, levels.iter().map(|l| val(0, Some(*l))).collect())
    }

    #[test]
    fn pods_metric_cases() {
        // replica_calculator_test.go (levels, readiness, target, current, expected, usage):
        let cases: [PodsCase; 6] = [
            (
                "TestReplicaCalcScaleUpCM",
                &[20000, 10000, 30000],
                &[true; 3],
                15000,
                3,
                4,
                20000,
                Tolerances::default(),
            ),
            // Readiness is not checked for Pods metrics: the unready pod's value counts.
            (
                "TestReplicaCalcScaleUpCMUnreadyHotCpuNoLessScale",
                &[50000, 10000, 30000],
                &[true, true, false],
                15000,
                3,
                6,
                30000,
                Tolerances::default(),
            ),
            (
                "TestReplicaCalcScaleUpCMUnreadyHotCpuScaleWouldScaleDown",
                &[50000, 15000, 30000],
                &[false, true, false],
                15000,
                3,
                7,
                31666,
                Tolerances::default(),
            ),
            (
                "TestReplicaCalcScaleDownCM",
                &[12000; 5],
                &[true; 5],
                20000,
                5,
                3,
                12000,
                Tolerances::default(),
            ),
            (
                "TestReplicaCalcToleranceCM",
                &[20000, 21000, 21000],
                &[true; 3],
                20000,
                3,
                3,
                20666,
                Tolerances::default(),
            ),
            (
                "TestReplicaCalcConfigurableToleranceCM",
                &[20000, 21000, 21000],
                &[true; 3],
                20000,
                3,
                4,
                20666,
                tol(0.1, 0.01),
            ),
        ];
        for (name, levels, ready, target, current, want, usage, t) in cases {
            let (pods, v) = pods_metric(levels, ready);
            let m = MetricSpec::Pods {
                metric: MetricId {
                    name: "qps".into(),
                    selector: None,
                },
                average: target,
            };
            let p = metric_replicas(
                current,
                current,
                &pods,
                &m,
                &Ok(Observed::PerPod(v)),
                t,
                NOW,
            )
            .unwrap();
            assert_eq!((p.replicas, p.average), (want, usage), "{name}");
        }
    }

    #[test]
    fn pods_metric_missing_pods_on_scale_down_count_as_target() {
        // calcPlainMetricReplicas: 4 pods at 5000 with target 10000 → ratio 0.5; a fifth pod with
        // no metric counts as exactly the target: (4·5000 + 10000) / 5 = 6000 → ceil(0.6 · 5) = 3.
        let (mut pods, mut v) = pods_metric(&[5000; 4], &[true; 4]);
        pods.push(ready_pod(true));
        v.push(val(0, None));
        let p = per_pod_replicas(
            5,
            &pods,
            &v,
            Target::AverageValue(10000),
            false,
            Tolerances::default(),
            NOW,
        )
        .unwrap();
        assert_eq!((p.replicas, p.average), (3, 5000));
    }

    fn object(target: Target) -> MetricSpec {
        MetricSpec::Object {
            object: ObjectRef {
                kind: "Deployment".into(),
                name: "some-deployment".into(),
                api_version: "apps/v1".into(),
            },
            metric: MetricId {
                name: "qps".into(),
                selector: None,
            },
            target,
        }
    }

    fn external(target: Target) -> MetricSpec {
        let sel = LabelSelector::from_labels([("label".to_string(), "value".to_string())].into());
        MetricSpec::External {
            metric: MetricId {
                name: "qps".into(),
                selector: Some(sel),
            },
            target,
        }
    }

    #[test]
    fn object_and_external_cases() {
        // replica_calculator_test.go: (name, metric, value, readiness, current, expected, usage).
        let t = Tolerances::default();
        let cases: Vec<ValueCase> = vec![
            (
                "TestReplicaCalcScaleUpCMObject",
                object(Target::Value(15000)),
                20000,
                vec![true; 3],
                3,
                4,
                20000,
                t,
            ),
            (
                "TestReplicaCalcScaleUpCMPerPodObject",
                object(Target::AverageValue(5000)),
                20000,
                vec![true; 3],
                3,
                4,
                6667,
                t,
            ),
            // If unready pods counted, 15.
            (
                "TestReplicaCalcScaleUpCMObjectIgnoresUnreadyPods",
                object(Target::Value(10000)),
                50000,
                vec![false, true, false],
                3,
                5,
                50000,
                t,
            ),
            // Would be 6 if unready pods counted.
            (
                "TestReplicaCalcScaleUpCMExternalIgnoresUnreadyPods",
                external(Target::Value(4400)),
                8600,
                vec![false, true, false],
                3,
                2,
                8600,
                t,
            ),
            (
                "TestReplicaCalcScaleUpPerPodCMExternal",
                external(Target::AverageValue(2150)),
                8600,
                vec![true; 3],
                3,
                4,
                2867,
                t,
            ),
            (
                "TestReplicaCalcScaleDownPerPodCMObject",
                object(Target::AverageValue(2000)),
                6000,
                vec![true; 5],
                5,
                3,
                1200,
                t,
            ),
            (
                "TestReplicaCalcScaleDownCMObject",
                object(Target::Value(20000)),
                12000,
                vec![true; 5],
                5,
                3,
                12000,
                t,
            ),
            (
                "TestReplicaCalcScaleDownCMExternal",
                external(Target::Value(14334)),
                8600,
                vec![true; 5],
                5,
                3,
                8600,
                t,
            ),
            (
                "TestReplicaCalcScaleDownPerPodCMExternal",
                external(Target::AverageValue(2867)),
                8600,
                vec![true; 5],
                5,
                3,
                1720,
                t,
            ),
            (
                "TestReplicaCalcToleranceCMObject",
                object(Target::Value(20000)),
                20666,
                vec![true; 3],
                3,
                3,
                20666,
                t,
            ),
            (
                "TestReplicaCalcTolerancePerPodCMObject",
                object(Target::AverageValue(5000)),
                20166,
                vec![true; 4],
                4,
                4,
                5042,
                t,
            ),
            (
                "TestReplicaCalcToleranceCMExternal",
                external(Target::Value(8888)),
                8600,
                vec![true; 3],
                3,
                3,
                8600,
                t,
            ),
            (
                "TestReplicaCalcTolerancePerPodCMExternal",
                external(Target::AverageValue(2900)),
                8600,
                vec![true; 3],
                3,
                3,
                2867,
                t,
            ),
            (
                "TestReplicaCalcConfigurableToleranceCMObject",
                object(Target::Value(20000)),
                20666,
                vec![true; 3],
                3,
                4,
                20666,
                tol(0.1, 0.01),
            ),
            (
                "TestReplicaCalcConfigurableTolerancePerPodCMObject",
                object(Target::AverageValue(5000)),
                20208,
                vec![true; 4],
                4,
                5,
                5052,
                tol(0.1, 0.01),
            ),
            (
                "TestReplicaCalcConfigurableToleranceCMExternal",
                external(Target::Value(8800)),
                8900,
                vec![true; 3],
                3,
                4,
                8900,
                tol(0.1, 0.01),
            ),
            (
                "TestReplicaCalcConfigurableTolerancePerPodCMExternal",
                external(Target::AverageValue(2800)),
                8600,
                vec![true; 3],
                3,
                4,
                2867,
                tol(0.1, 0.01),
            ),
            (
                "TestReplicaCalcScaleUpOverflow",
                object(Target::Value(1)),
                i64::MAX,
                vec![true; 3],
                3,
                i32::MAX,
                i64::MAX,
                t,
            ),
            (
                "TestExternalPerPodMetricReplicaOverflow",
                external(Target::AverageValue(1)),
                i64::MAX,
                vec![true],
                1,
                i32::MAX,
                i64::MAX,
                t,
            ),
            (
                "TestExternalPerPodMetricUsageOverflow",
                external(Target::AverageValue(i64::MAX)),
                i64::MAX,
                vec![true],
                1,
                1,
                i64::MAX,
                t,
            ),
        ];
        for (name, m, value, ready, current, want, usage, t) in cases {
            let pods: Vec<PodObs> = ready.iter().map(|r| ready_pod(*r)).collect();
            let p = metric_replicas(
                current,
                current,
                &pods,
                &m,
                &Ok(Observed::Value(value)),
                t,
                NOW,
            )
            .unwrap();
            assert_eq!((p.replicas, p.average), (want, usage), "{name}");
        }
    }

    #[test]
    fn metric_names_as_upstream() {
        assert_eq!(
            object(Target::Value(1)).display_name(),
            "Deployment metric qps"
        );
        assert_eq!(
            external(Target::Value(1)).display_name(),
            "external metric qps(&LabelSelector{MatchLabels:map[string]string{label: value,},MatchExpressions:[]LabelSelectorRequirement{},})"
        );
        let m = MetricSpec::External {
            metric: MetricId {
                name: "queue".into(),
                selector: None,
            },
            target: Target::Value(1),
        };
        assert_eq!(m.display_name(), "external metric queue(nil)");
        // An Object metric with an AverageValue target is named as an external one.
        assert_eq!(
            object(Target::AverageValue(1)).display_name(),
            "external metric qps(nil)"
        );
        assert_eq!(
            object(Target::AverageValue(1)).wrap_error("e"),
            "failed to get object metric value: failed to get qps object metric: e"
        );
        assert_eq!(
            object(Target::Value(1)).wrap_error("e"),
            "failed to get object metric value: e"
        );
        assert_eq!(
            external(Target::AverageValue(1)).wrap_error("e"),
            "failed to get qps external metric value: failed to get qps external metric: e"
        );
        assert_eq!(
            MetricSpec::ContainerResource {
                metric: cpu(50),
                container: "app".into(),
            }
            .wrap_error("e"),
            "failed to get app container metric value: e"
        );
        let c = MetricSpec::ContainerResource {
            metric: cpu(50),
            container: "app".into(),
        };
        assert_eq!(
            c.display_name(),
            "cpu container resource utilization (percentage of request)"
        );
    }

    fn spec(min: i32, max: i32, metrics: Vec<MetricSpec>) -> HpaSpec {
        HpaSpec {
            min,
            max,
            metrics,
            behavior: None,
        }
    }

    /// Upstream's test setting `recommendations: []timestampedRecommendation{}`: an entry
    /// exists, so no initial recommendation is recorded.
    fn known() -> HpaState {
        HpaState {
            known: true,
            ..HpaState::default()
        }
    }

    #[test]
    fn first_sync_records_the_current_count_and_holds_a_scale_down() {
        // horizontal.go recordInitialRecommendation: a new HPA on 5 replicas whose metric asks
        // for 3 keeps 5 (ScaleDownStabilized) until the 5-minute window has passed.
        let pods = vec![ready_pod(true); 5];
        let s = spec(1, 6, vec![MetricSpec::Resource(cpu(50))]);
        let inputs = [cpu_input(&[100, 300, 500, 250, 250])];
        let mut st = HpaState::default();
        let d = reconcile(&mut st, &s, 5, 5, &pods, &inputs, NOW);
        assert_eq!((d.desired, d.stabilized), (5, Some(Stabilized::Down)));
        assert!(st.known);
        let later = SimTime(NOW.0 + 285_000);
        let d = reconcile(&mut st, &s, 5, 5, &pods, &inputs, later);
        assert_eq!(d.desired, 5, "still inside the window");
        let after = SimTime(NOW.0 + 300_000);
        let d = reconcile(&mut st, &s, 5, 5, &pods, &inputs, after);
        assert_eq!(
            d.desired, 3,
            "the initial recommendation has left the window"
        );
        // A scale-up is not held (no scale-up window without behavior).
        let inputs = [cpu_input(&[900; 5])];
        let d = reconcile(&mut HpaState::default(), &s, 5, 5, &pods, &inputs, NOW);
        assert_eq!(d.desired, 6);
        // An entry that already exists (upstream: empty, non-nil) records nothing.
        let inputs = [cpu_input(&[100, 300, 500, 250, 250])];
        let d = reconcile(&mut known(), &s, 5, 5, &pods, &inputs, NOW);
        assert_eq!(d.desired, 3);
    }

    fn cpu_input(levels: &[i64]) -> MetricInput {
        Ok(Observed::PerPod(
            levels.iter().map(|l| val(1000, Some(*l))).collect(),
        ))
    }

    #[test]
    fn multiple_metrics_take_the_largest_proposal() {
        // CPU 300/400/500m at 30% → 4; pods metric qps 12/12/12 vs 20 → 2: the largest, 4, wins.
        let pods = vec![ready_pod(true); 3];
        let qps = MetricSpec::Pods {
            metric: MetricId {
                name: "qps".into(),
                selector: None,
            },
            average: 20000,
        };
        let s = spec(2, 6, vec![MetricSpec::Resource(cpu(30)), qps.clone()]);
        let inputs = [
            cpu_input(&[300, 400, 500]),
            Ok(Observed::PerPod(vec![val(0, Some(12000)); 3])),
        ];
        let d = reconcile(&mut HpaState::default(), &s, 3, 3, &pods, &inputs, NOW);
        assert_eq!(
            (d.desired, &*d.reason),
            (
                4,
                "cpu resource utilization (percentage of request) above target"
            )
        );
        // With qps 60 per pod, qps proposes 9 → capped by max 6 (TooManyReplicas).
        let inputs = [
            cpu_input(&[300, 400, 500]),
            Ok(Observed::PerPod(vec![val(0, Some(60000)); 3])),
        ];
        let d = reconcile(&mut HpaState::default(), &s, 3, 3, &pods, &inputs, NOW);
        assert_eq!(
            (d.desired, d.limit, &*d.reason),
            (
                6,
                Some(Limit::TooManyReplicas),
                "pods metric qps above target"
            )
        );
    }

    #[test]
    fn invalid_metric_rules() {
        // horizontal_test.go TestScaleUpOneMetricInvalid: CPU 300/400/500 at 30% → 4 with an
        // invalid second metric: scale up on the valid one.
        let pods = vec![ready_pod(true); 3];
        let bad = MetricSpec::Invalid {
            reason: "InvalidMetricSourceType",
            message: "unknown metric source type \"CheddarCheese\"".into(),
        };
        let s = spec(2, 6, vec![MetricSpec::Resource(cpu(30)), bad.clone()]);
        let d = reconcile(
            &mut HpaState::default(),
            &s,
            3,
            3,
            &pods,
            &[cpu_input(&[300, 400, 500]), Err(String::new())],
            NOW,
        );
        assert_eq!((d.desired, d.failed), (4, None));
        // TestScaleUpBothMetricsEmpty: only invalid metrics → no scaling, the first error reported.
        let s = spec(2, 6, vec![bad.clone()]);
        let d = reconcile(
            &mut HpaState::default(),
            &s,
            3,
            3,
            &pods,
            &[Err(String::new())],
            NOW,
        );
        assert_eq!(d.desired, 3);
        assert_eq!(
            d.failed.as_deref(),
            Some(
                "invalid metrics (1 invalid out of 1), first error is: unknown metric source type \"CheddarCheese\""
            )
        );
        assert_eq!(
            d.proposals[0].as_ref().unwrap_err().reason,
            "InvalidMetricSourceType"
        );
        // TestScaleDownOneMetricInvalid: 5 pods at 100/300/500/250/250 (50% → 3) with an invalid
        // metric: no scale-down.
        let pods = vec![ready_pod(true); 5];
        let s = spec(2, 6, vec![MetricSpec::Resource(cpu(50)), bad]);
        let d = reconcile(
            &mut HpaState::default(),
            &s,
            5,
            5,
            &pods,
            &[cpu_input(&[100, 300, 500, 250, 250]), Err(String::new())],
            NOW,
        );
        assert_eq!(d.desired, 5);
        assert!(d.failed.is_some());
    }

    #[test]
    fn metric_errors_are_worded_and_wrapped_as_upstream() {
        // All pods never became ready: the condition/event says why, FailedComputeMetricsReplicas
        // wraps it.
        let (pods, _) = cpu_pods(&[1000; 2], &[Some(100); 2], &[false; 2]);
        let s = spec(1, 6, vec![MetricSpec::Resource(cpu(50))]);
        let d = reconcile(
            &mut HpaState::default(),
            &s,
            2,
            2,
            &pods,
            &[cpu_input(&[100, 100])],
            NOW,
        );
        let e = d.proposals[0].as_ref().unwrap_err();
        assert_eq!(e.reason, "FailedGetResourceMetric");
        assert_eq!(
            e.message,
            "failed to get cpu utilization: did not receive metrics for targeted pods (pods might be unready)"
        );
        assert_eq!(
            d.failed.as_deref(),
            Some(
                "invalid metrics (1 invalid out of 1), first error is: failed to get cpu resource metric value: failed to get cpu utilization: did not receive metrics for targeted pods (pods might be unready)"
            )
        );
        let ext = MetricSpec::External {
            metric: MetricId {
                name: "queue".into(),
                selector: None,
            },
            target: Target::Value(1),
        };
        let s = spec(1, 6, vec![ext]);
        let d = reconcile(&mut HpaState::default(), &s, 2, 2, &pods, &[Err("unable to get external metric default/queue/nil: no metrics returned from external metrics API".into())], NOW);
        let e = d.proposals[0].as_ref().unwrap_err();
        assert_eq!(
            (e.reason, e.wrapped.as_str()),
            (
                "FailedGetExternalMetric",
                "failed to get queue external metric value: failed to get external metric queue: unable to get external metric default/queue/nil: no metrics returned from external metrics API"
            )
        );
    }

    #[test]
    fn scale_down_to_zero_and_from_zero() {
        // horizontal_test.go TestScaleDownToZeroCMObject: min 0, object value 0 → 0.
        let pods = vec![ready_pod(true); 5];
        let s = spec(0, 6, vec![object(Target::Value(20000))]);
        let d = reconcile(
            &mut known(),
            &s,
            5,
            5,
            &pods,
            &[Ok(Observed::Value(0))],
            NOW,
        );
        assert_eq!(d.desired, 0);
        // From zero (HPAScaleToZero): ceil(ratio) = ceil(50000 / 20000) = 3, legacy cap max(2·0, 4).
        let d = reconcile(
            &mut HpaState::default(),
            &s,
            0,
            0,
            &[],
            &[Ok(Observed::Value(50000))],
            NOW,
        );
        assert_eq!(d.desired, 3);
    }

    #[test]
    fn seed002_one_pod_at_90_percent() {
        // Seed 002: `kubectl autoscale … --cpu-percent=50 --min=1 --max=5`, one pod at 90% → 2.
        let s = spec(1, 5, vec![MetricSpec::Resource(cpu(50))]);
        let inputs = [Ok(Observed::PerPod(vec![val(200, Some(180))]))];
        let d = reconcile(
            &mut HpaState::default(),
            &s,
            1,
            1,
            &[ready_pod(true)],
            &inputs,
            NOW,
        );
        assert_eq!(d.desired, 2);
        assert_eq!(
            d.reason,
            "cpu resource utilization (percentage of request) above target"
        );
        assert_eq!(
            d.metric_name(&s),
            "cpu resource utilization (percentage of request)"
        );
    }

    #[test]
    fn per_hpa_tolerance_from_behavior() {
        // KEP-4951: behavior.scaleUp.tolerance 0.5 keeps 3 pods at 140% of a 100% target.
        let mut s = spec(1, 10, vec![MetricSpec::Resource(cpu(100))]);
        let mut up = Rules::default_up();
        up.tolerance = Some(0.5);
        s.behavior = Some(Behavior {
            up,
            down: Rules::default_down(),
        });
        assert_eq!(s.tolerances(), tol(0.1, 0.5));
        let pods = vec![ready_pod(true); 3];
        let d = reconcile(
            &mut HpaState::default(),
            &s,
            3,
            3,
            &pods,
            &[cpu_input(&[1400; 3])],
            NOW,
        );
        assert_eq!(d.desired, 3);
        // Without it: ceil(1.4 · 3) = 5 (default behavior allows +4 per 15 s).
        s.behavior.as_mut().unwrap().up.tolerance = None;
        let d = reconcile(
            &mut HpaState::default(),
            &s,
            3,
            3,
            &pods,
            &[cpu_input(&[1400; 3])],
            NOW,
        );
        assert_eq!(d.desired, 5);
    }

    #[test]
    fn default_behavior_limits_scale_up() {
        // horizontal_test.go (behavior defaults): current 10, desired 50 → 20 (ScaleUpLimit: max
        // of +4 pods and +100% per 15 s).
        let spec = HpaSpec {
            min: 1,
            max: 100,
            metrics: vec![],
            behavior: Some(Behavior {
                up: Rules::default_up(),
                down: Rules::default_down(),
            }),
        };
        let n = normalize_with_behavior(
            &mut HpaState::default(),
            &spec,
            spec.behavior.as_ref().unwrap(),
            10,
            50,
            NOW,
        );
        assert_eq!((n.desired, n.limit), (20, Some(Limit::ScaleUpLimit)));
        assert_eq!(n.stabilized, None, "no recent recommendations");
    }

    #[test]
    fn stabilization_names_its_direction() {
        // stabilizeRecommendationWithBehaviors: a 60 s scale-up window holding 5 from 30 s ago
        // keeps a proposal of 8 at the current 5 (ScaleUpStabilized); the default 300 s
        // scale-down window holding 9 keeps a proposal of 3 at 9 (ScaleDownStabilized).
        let mut up = Rules::default_up();
        up.stabilization_s = 60;
        let b = Behavior {
            up,
            down: Rules::default_down(),
        };
        let spec = HpaSpec {
            min: 1,
            max: 20,
            metrics: vec![],
            behavior: Some(b.clone()),
        };
        let mut state = HpaState {
            recommendations: vec![(SimTime(NOW.0 - 30_000), 5)],
            ..Default::default()
        };
        let n = normalize_with_behavior(&mut state, &spec, &b, 5, 8, NOW);
        assert_eq!((n.desired, n.stabilized), (5, Some(Stabilized::Up)));
        let mut state = HpaState {
            recommendations: vec![(SimTime(NOW.0 - 30_000), 9)],
            ..Default::default()
        };
        let n = normalize_with_behavior(&mut state, &spec, &b, 9, 3, NOW);
        assert_eq!((n.desired, n.stabilized), (9, Some(Stabilized::Down)));
        assert_eq!(Stabilized::Down.reason_message().0, "ScaleDownStabilized");
        // Nothing recent: the proposal passes unchanged.
        let n = normalize_with_behavior(&mut HpaState::default(), &spec, &b, 9, 3, NOW);
        assert_eq!((n.desired, n.stabilized), (3, None));
    }

    #[test]
    fn scale_up_limit_with_prior_events() {
        // TestCalculateScaleUpLimitWithScalingRules: events {1,5,9} within 120 s, Pods 150/120s,
        // current 100 → start 85 → 235.
        let state = HpaState {
            up_events: vec![
                (SimTime(NOW.0 - 10_000), 1),
                (SimTime(NOW.0 - 20_000), 5),
                (SimTime(NOW.0 - 30_000), 9),
            ],
            ..Default::default()
        };
        let rules = |policies| Rules {
            stabilization_s: 0,
            select: SelectPolicy::Max,
            policies,
            tolerance: None,
        };
        assert_eq!(
            scale_up_limit(&state, &rules(vec![Policy::Pods(150, 120)]), 100, NOW),
            235
        );
        // Pods 100/60s + Percent 100/60s from 10, no prior events: max(10+100, 20) = 110.
        let r = rules(vec![Policy::Pods(100, 60), Policy::Percent(100, 60)]);
        assert_eq!(scale_up_limit(&HpaState::default(), &r, 10, NOW), 110);
        // scaleDown Pods 5/60s from 10 → 5.
        let r = rules(vec![Policy::Pods(5, 60)]);
        assert_eq!(scale_down_limit(&HpaState::default(), &r, 10, NOW), 5);
    }

    #[test]
    fn legacy_normalization() {
        // TestNormalizeDesiredReplicas: recommendations {4 @ −2m, 5 @ −1m}, new 3 → 5.
        let mut state = HpaState {
            recommendations: vec![(SimTime(NOW.0 - 120_000), 4), (SimTime(NOW.0 - 60_000), 5)],
            ..Default::default()
        };
        let s = spec(1, 10, vec![]);
        let n = normalize_legacy(&mut state, &s, 5, 3, NOW);
        assert_eq!((n.desired, n.limit), (5, None));
        assert_eq!(n.stabilized, Some(Stabilized::Down));
        // max 10, current 20 → the reconcile clamps to max first (TooManyReplicas).
        let d = reconcile(&mut HpaState::default(), &s, 20, 20, &[], &[], NOW);
        assert_eq!((d.desired, d.limit), (10, Some(Limit::TooManyReplicas)));
        // Legacy scale-up cap: max(2·current, 4).
        let s = spec(1, 100, vec![]);
        let n = normalize_legacy(&mut HpaState::default(), &s, 3, 50, NOW);
        assert_eq!((n.desired, n.limit), (6, Some(Limit::ScaleUpLimit)));
        assert_eq!(n.stabilized, None);
    }

    #[test]
    fn scaling_disabled_at_zero() {
        let s = spec(1, 5, vec![]);
        assert!(reconcile(&mut HpaState::default(), &s, 0, 0, &[], &[], NOW).disabled);
    }
}

/// Merged entries (`PodObs::count`) give the same results as the pods one by one.
#[cfg(test)]
mod weighted_tests {
    use super::*;
    use proptest::prelude::*;

    /// One kind of pod: (pending, ignored, ready, transition s, start s, request, sample).
    type Kind = (
        bool,
        bool,
        Option<bool>,
        u64,
        Option<u64>,
        i64,
        Option<(i64, u64)>,
    );

    fn kind() -> impl Strategy<Value = Kind> {
        (
            prop::bool::weighted(0.1),
            prop::bool::weighted(0.1),
            prop::option::weighted(0.9, prop::bool::weighted(0.8)),
            0u64..3_600,
            prop::option::weighted(0.9, 0u64..3_600),
            prop_oneof![Just(100i64), Just(250), Just(500)],
            prop::option::weighted(0.85, (0i64..2_000, 3_500u64..3_600)),
        )
    }

    fn entry(k: &Kind, count: u32) -> (PodObs, PodValue) {
        let (pending, ignored, ready, transition, start, request, sample) = *k;
        (
            PodObs {
                pending,
                ignored,
                ready,
                ready_transition: SimTime::from_secs(transition),
                start: start.map(SimTime::from_secs),
                count,
            },
            PodValue {
                request: Ok(request),
                sample: sample.map(|(milli, at)| Sample {
                    milli,
                    timestamp: SimTime::from_secs(at),
                    window_ms: 15_000,
                }),
            },
        )
    }

    proptest! {
        #[test]
        fn canonical_observations_are_grouped_alike(
            k in kind(),
            now in 0u64..4_000,
        ) {
            let now = SimTime::from_secs(now);
            let (p, v) = entry(&k, 1);
            let c = p.canonical(v.sample.is_some(), now);
            for cpu in [false, true] {
                let a = group_pods(std::slice::from_ref(&p), std::slice::from_ref(&v), cpu, now);
                let b = group_pods(std::slice::from_ref(&c), std::slice::from_ref(&v), cpu, now);
                prop_assert_eq!(a, b);
            }
            prop_assert_eq!(p.running_ready(), c.running_ready());
        }

        #[test]
        fn settled_observations_stay_canonical(
            k in kind(),
            now in 0u64..4_000,
            later in 0u64..4_000,
        ) {
            let (p, v) = entry(&k, 1);
            let has = v.sample.is_some();
            let (t0, t1) = (SimTime::from_secs(now), SimTime::from_secs(now + later));
            if p.settled(has, t0) {
                prop_assert!(p.settled(has, t1));
                prop_assert_eq!(p.canonical(has, t0), p.canonical(has, t1));
            }
        }

        #[test]
        fn merged_pods_give_the_same_proposal(
            kinds in prop::collection::vec((kind(), 1u32..6), 1..8),
            target in prop_oneof![
                (1i32..150).prop_map(Target::Utilization),
                (1i64..1_500).prop_map(Target::AverageValue),
            ],
            cpu in any::<bool>(),
            current in 1i32..40,
        ) {
            let now = SimTime::from_secs(3_600);
            let (mut one_pods, mut one_vals, mut merged_pods, mut merged_vals) =
                (vec![], vec![], vec![], vec![]);
            for (k, n) in &kinds {
                for _ in 0..*n {
                    let (p, v) = entry(k, 1);
                    one_pods.push(p);
                    one_vals.push(v);
                }
                let (p, v) = entry(k, *n);
                merged_pods.push(p);
                merged_vals.push(v);
            }
            let tol = Tolerances::default();
            let one = per_pod_replicas(current, &one_pods, &one_vals, target, cpu, tol, now);
            let merged =
                per_pod_replicas(current, &merged_pods, &merged_vals, target, cpu, tol, now);
            prop_assert_eq!(&one, &merged);
            let ready = |pods: &[PodObs]| value_replicas(current, pods, 1_700, 1_000, tol);
            prop_assert_eq!(ready(&one_pods), ready(&merged_pods));
            // The order of the entries does not matter either (a backend files merged groups
            // after the pods it reads one by one).
            merged_pods.reverse();
            merged_vals.reverse();
            let reversed =
                per_pod_replicas(current, &merged_pods, &merged_vals, target, cpu, tol, now);
            prop_assert_eq!(&one, &reversed);
            prop_assert_eq!(ready(&one_pods), ready(&merged_pods));
        }
    }
}
