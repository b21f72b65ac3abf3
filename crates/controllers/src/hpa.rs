//! HorizontalPodAutoscaler decision logic (autoscaling/v2, Resource metrics).
//!
//! Follows kubernetes/kubernetes `pkg/controller/podautoscaler/replica_calculator.go`
//! (pod grouping, utilization with the missing/unready rebalancing, tolerance) and
//! `horizontal.go` (multiple metrics → the largest proposal, `normalizeDesiredReplicas` without
//! `behavior`, `normalizeDesiredReplicasWithBehaviors` with stabilization windows and rate
//! policies). Defaults from `pkg/controller/podautoscaler/config/v1alpha1/defaults.go` and
//! `pkg/apis/autoscaling/v2/defaults.go`. Pure: the backend passes the observed pods, samples
//! and the time; per-HPA memory (recommendations, scale events) lives in [`HpaState`].

use kscale_model::SimTime;

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

/// A metric target.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Target {
    /// Average utilization in percent of the request.
    Utilization(i32),
    /// Average value per pod (milli-units).
    AverageValue(i64),
}

/// A Resource metric of the spec.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceMetric {
    /// The resource.
    pub name: ResourceName,
    /// Its target.
    pub target: Target,
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
}

impl Rules {
    /// Upstream's default scale-up rules: no window, max of 4 pods / 100% per 15 s.
    pub fn default_up() -> Rules {
        Rules {
            stabilization_s: 0,
            select: SelectPolicy::Max,
            policies: vec![Policy::Pods(4, 15), Policy::Percent(100, 15)],
        }
    }

    /// Upstream's default scale-down rules: 300 s window, 100% per 15 s.
    pub fn default_down() -> Rules {
        Rules {
            stabilization_s: 300,
            select: SelectPolicy::Max,
            policies: vec![Policy::Percent(100, 15)],
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
    /// Metrics (empty → CPU utilization 80%).
    pub metrics: Vec<ResourceMetric>,
    /// `behavior`, if set.
    pub behavior: Option<Behavior>,
}

/// One resource sample of a pod.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// Value in milli-units.
    pub milli: i64,
    /// When it was taken.
    pub timestamp: SimTime,
    /// The window it averages over (ms).
    pub window_ms: u64,
}

/// A pod selected by the scale target.
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
    /// Requests (milli) for cpu and memory.
    pub requests: [i64; 2],
    /// Samples (milli) for cpu and memory.
    pub samples: [Option<Sample>; 2],
}

fn idx(r: ResourceName) -> usize {
    match r {
        ResourceName::Cpu => 0,
        ResourceName::Memory => 1,
    }
}

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

/// Groups pods as upstream `groupPods`: readiness is only checked for CPU.
pub fn group_pods(pods: &[PodObs], resource: ResourceName, now: SimTime) -> Groups {
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
        let Some(s) = p.samples[idx(resource)] else {
            g.missing.push(i);
            continue;
        };
        if resource == ResourceName::Cpu {
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
    /// Current average value (milli).
    pub average: i64,
}

fn within(r: f64) -> bool {
    (r - 1.0).abs() <= TOLERANCE
}

/// The replica calculation for one Resource metric (GetResourceReplicas /
/// GetRawResourceReplicas). Errors: no metrics, or a missing request for utilization.
pub fn resource_replicas(
    current: i32,
    pods: &[PodObs],
    metric: &ResourceMetric,
    now: SimTime,
) -> Result<Proposal, String> {
    let r = idx(metric.name);
    let g = group_pods(pods, metric.name, now);
    if g.ready.is_empty() && g.missing.is_empty() && g.unready.is_empty() {
        return Err("no pods returned by selector while calculating replica count".into());
    }
    if g.ready.is_empty() {
        return Err("did not receive metrics for targeted pods (pods might be unready)".into());
    }
    // usage ratio over a set of (value, request) pairs.
    let ratio = |vals: &[(i64, i64)]| -> Result<(f64, i64, i64), String> {
        let sum: i64 = vals.iter().map(|v| v.0).sum();
        let n = vals.len().max(1) as i64;
        match metric.target {
            Target::Utilization(t) => {
                let req: i64 = vals.iter().map(|v| v.1).sum();
                if req == 0 {
                    return Err(format!("missing request for {}", metric.name.as_str()));
                }
                let util = 100 * sum / req;
                Ok((util as f64 / t as f64, util, sum / n))
            }
            Target::AverageValue(t) => {
                let avg = sum / n;
                Ok((avg as f64 / t as f64, avg, avg))
            }
        }
    };
    let ready_vals: Vec<(i64, i64)> = g
        .ready
        .iter()
        .map(|(i, v)| (*v, pods[*i].requests[r]))
        .collect();
    if matches!(metric.target, Target::Utilization(_))
        && g.ready.iter().any(|(i, _)| pods[*i].requests[r] == 0)
    {
        return Err(format!("missing request for {}", metric.name.as_str()));
    }
    let (usage_ratio, util, avg) = ratio(&ready_vals)?;
    let ready_count = g.ready.len() as f64;
    let scale_up_unready = !g.unready.is_empty() && usage_ratio > 1.0;
    let utilization = matches!(metric.target, Target::Utilization(_)).then_some(util as i32);
    if !scale_up_unready && g.missing.is_empty() {
        let replicas = if within(usage_ratio) {
            current
        } else {
            (usage_ratio * ready_count).ceil() as i32
        };
        return Ok(Proposal {
            replicas,
            utilization,
            average: avg,
        });
    }
    let mut vals = ready_vals.clone();
    for i in &g.missing {
        let req = pods[*i].requests[r];
        let v = if usage_ratio < 1.0 {
            match metric.target {
                Target::Utilization(t) => req * (t.max(100) as i64) / 100,
                Target::AverageValue(t) => t,
            }
        } else {
            0
        };
        vals.push((v, req));
    }
    if scale_up_unready {
        for i in &g.unready {
            vals.push((0, pods[*i].requests[r]));
        }
    }
    let (new_ratio, _, _) = ratio(&vals)?;
    if within(new_ratio)
        || (usage_ratio < 1.0 && new_ratio > 1.0)
        || (usage_ratio > 1.0 && new_ratio < 1.0)
    {
        return Ok(Proposal {
            replicas: current,
            utilization,
            average: avg,
        });
    }
    let n = (new_ratio * vals.len() as f64).ceil() as i32;
    if (new_ratio < 1.0 && n > current) || (new_ratio > 1.0 && n < current) {
        return Ok(Proposal {
            replicas: current,
            utilization,
            average: avg,
        });
    }
    Ok(Proposal {
        replicas: n,
        utilization,
        average: avg,
    })
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

/// Legacy normalization (no `behavior`): 5-minute downscale stabilization, then clamp to
/// `[min, min(max, max(2·current, 4))]` (horizontal.go `normalizeDesiredReplicas`).
pub fn normalize_legacy(
    state: &mut HpaState,
    spec: &HpaSpec,
    current: i32,
    proposed: i32,
    now: SimTime,
) -> (i32, Option<Limit>) {
    let cutoff = now.as_millis().saturating_sub(DOWNSCALE_STABILIZATION_MS);
    let mut stabilized = proposed;
    for (t, r) in &state.recommendations {
        if t.as_millis() > cutoff {
            stabilized = stabilized.max(*r);
        }
    }
    store_recommendation(state, now, proposed, DOWNSCALE_STABILIZATION_MS);
    let scale_up_limit = (2 * current).max(4);
    let max = spec.max.min(scale_up_limit);
    if stabilized > max {
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
) -> (i32, Option<Limit>) {
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
    if desired > spec.max {
        (spec.max, Some(Limit::TooManyReplicas))
    } else if desired < spec.min {
        (spec.min, Some(Limit::TooFewReplicas))
    } else {
        (desired, limit)
    }
}

/// The decision of one sync.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// Desired replicas after normalization.
    pub desired: i32,
    /// Per metric: its proposal (or the error).
    pub proposals: Vec<Result<Proposal, String>>,
    /// ScalingLimited reason, if any.
    pub limit: Option<Limit>,
    /// The SuccessfulRescale reason text, worded as upstream.
    pub reason: String,
    /// Scaling is disabled (current replicas 0 and min > 0).
    pub disabled: bool,
}

/// One sync of an HPA (horizontal.go `reconcileAutoscaler`).
pub fn reconcile(
    state: &mut HpaState,
    spec: &HpaSpec,
    current: i32,
    pods: &[PodObs],
    now: SimTime,
) -> Decision {
    let metrics = if spec.metrics.is_empty() {
        vec![ResourceMetric {
            name: ResourceName::Cpu,
            target: Target::Utilization(80),
        }]
    } else {
        spec.metrics.clone()
    };
    if current == 0 && spec.min != 0 {
        return Decision {
            desired: 0,
            proposals: vec![],
            limit: None,
            reason: String::new(),
            disabled: true,
        };
    }
    if current > spec.max {
        return Decision {
            desired: spec.max,
            proposals: vec![],
            limit: Some(Limit::TooManyReplicas),
            reason: "Current number of replicas above Spec.MaxReplicas".into(),
            disabled: false,
        };
    }
    if current < spec.min {
        return Decision {
            desired: spec.min,
            proposals: vec![],
            limit: Some(Limit::TooFewReplicas),
            reason: "Current number of replicas below Spec.MinReplicas".into(),
            disabled: false,
        };
    }
    let proposals: Vec<Result<Proposal, String>> = metrics
        .iter()
        .map(|m| resource_replicas(current, pods, m, now))
        .collect();
    let mut best: Option<(i32, usize)> = None;
    for (i, p) in proposals.iter().enumerate() {
        if let Ok(p) = p
            && best.is_none_or(|(b, _)| p.replicas > b)
        {
            best = Some((p.replicas, i));
        }
    }
    let invalid = proposals.iter().filter(|p| p.is_err()).count();
    let Some((proposed, which)) = best.filter(|(b, _)| invalid == 0 || *b >= current) else {
        return Decision {
            desired: current,
            proposals,
            limit: None,
            reason: String::new(),
            disabled: false,
        };
    };
    let m = &metrics[which];
    let reason = if proposed > current {
        match m.target {
            Target::Utilization(_) => format!(
                "{} resource utilization (percentage of request) above target",
                m.name.as_str()
            ),
            Target::AverageValue(_) => format!("{} resource above target", m.name.as_str()),
        }
    } else {
        "All metrics below target".to_string()
    };
    let (desired, limit) = match &spec.behavior {
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
        disabled: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(request_cpu: i64, usage: Option<i64>, ready: bool) -> PodObs {
        PodObs {
            pending: false,
            ignored: false,
            ready: Some(ready),
            ready_transition: SimTime::from_secs(30),
            start: Some(SimTime::ZERO),
            requests: [request_cpu, 0],
            samples: [
                usage.map(|m| Sample {
                    milli: m,
                    timestamp: SimTime::from_secs(3600),
                    window_ms: 60_000,
                }),
                None,
            ],
        }
    }

    const NOW: SimTime = SimTime(3_600_000);

    fn cpu(t: i32) -> ResourceMetric {
        ResourceMetric {
            name: ResourceName::Cpu,
            target: Target::Utilization(t),
        }
    }

    #[test]
    fn replica_calc_scale_up() {
        // replica_calculator_test.go TestReplicaCalcScaleUp: 3 pods req 1 CPU, 300/500/700m,
        // target 30% → utilization 50%, 5 replicas.
        let pods = vec![
            pod(1000, Some(300), true),
            pod(1000, Some(500), true),
            pod(1000, Some(700), true),
        ];
        let p = resource_replicas(3, &pods, &cpu(30), NOW).unwrap();
        assert_eq!((p.replicas, p.utilization), (5, Some(50)));
    }

    #[test]
    fn replica_calc_scale_up_unready_less_scale() {
        // TestReplicaCalcScaleUpUnreadyLessScale: pod0 never became ready → 4.
        let mut pods = vec![
            pod(1000, Some(300), false),
            pod(1000, Some(500), true),
            pod(1000, Some(700), true),
        ];
        pods[0].ready_transition = SimTime::from_secs(10);
        let p = resource_replicas(3, &pods, &cpu(30), NOW).unwrap();
        assert_eq!((p.replicas, p.utilization), (4, Some(60)));
    }

    #[test]
    fn replica_calc_scale_down() {
        // TestReplicaCalcScaleDown: 5 pods 100/300/500/250/250m, target 50% → 28%, 3 replicas.
        let pods: Vec<PodObs> = [100, 300, 500, 250, 250]
            .iter()
            .map(|u| pod(1000, Some(*u), true))
            .collect();
        let p = resource_replicas(5, &pods, &cpu(50), NOW).unwrap();
        assert_eq!((p.replicas, p.utilization), (3, Some(28)));
    }

    #[test]
    fn replica_calc_missing_metrics_scale_down() {
        // TestReplicaCalcMissingMetricsUnreadyScaleDown-style: 4 pods (req 1,1,2,2 CPU), pod0
        // not ready, pod3 without metrics, 100/100/100m, target 300% → 2.
        let mut pods = vec![
            pod(1000, Some(100), false),
            pod(1000, Some(100), true),
            pod(2000, Some(100), true),
            pod(2000, None, true),
        ];
        pods[0].ready_transition = SimTime::from_secs(10);
        let p = resource_replicas(4, &pods, &cpu(300), NOW).unwrap();
        assert_eq!(p.replicas, 2);
    }

    #[test]
    fn tolerance_keeps_replicas() {
        // horizontal_test.go TestTolerance: 3 pods req 0.9/1.0/1.1 CPU, 1010/1030/1020m, target
        // 100% → within 10%, stays 3.
        let pods = vec![
            pod(900, Some(1010), true),
            pod(1000, Some(1030), true),
            pod(1100, Some(1020), true),
        ];
        assert_eq!(
            resource_replicas(3, &pods, &cpu(100), NOW)
                .unwrap()
                .replicas,
            3
        );
    }

    #[test]
    fn seed002_one_pod_at_90_percent() {
        // Seed 002: `kubectl autoscale … --cpu-percent=50 --min=1 --max=5`, one pod at 90% → 2.
        let spec = HpaSpec {
            min: 1,
            max: 5,
            metrics: vec![cpu(50)],
            behavior: None,
        };
        let d = reconcile(
            &mut HpaState::default(),
            &spec,
            1,
            &[pod(200, Some(180), true)],
            NOW,
        );
        assert_eq!(d.desired, 2);
        assert_eq!(
            d.reason,
            "cpu resource utilization (percentage of request) above target"
        );
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
        let (d, limit) = normalize_with_behavior(
            &mut HpaState::default(),
            &spec,
            spec.behavior.as_ref().unwrap(),
            10,
            50,
            NOW,
        );
        assert_eq!((d, limit), (20, Some(Limit::ScaleUpLimit)));
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
        let rules = Rules {
            stabilization_s: 0,
            select: SelectPolicy::Max,
            policies: vec![Policy::Pods(150, 120)],
        };
        assert_eq!(scale_up_limit(&state, &rules, 100, NOW), 235);
        // Pods 100/60s + Percent 100/60s from 10 → 110? No prior events: max(10+100, 20) = 110.
        let rules = Rules {
            stabilization_s: 0,
            select: SelectPolicy::Max,
            policies: vec![Policy::Pods(100, 60), Policy::Percent(100, 60)],
        };
        assert_eq!(scale_up_limit(&HpaState::default(), &rules, 10, NOW), 110);
        // scaleDown Pods 5/60s from 10 → 5.
        let rules = Rules {
            stabilization_s: 0,
            select: SelectPolicy::Max,
            policies: vec![Policy::Pods(5, 60)],
        };
        assert_eq!(scale_down_limit(&HpaState::default(), &rules, 10, NOW), 5);
    }

    #[test]
    fn legacy_normalization() {
        // TestNormalizeDesiredReplicas: recommendations {4 @ −2m, 5 @ −1m}, new 3 → 5.
        let mut state = HpaState {
            recommendations: vec![(SimTime(NOW.0 - 120_000), 4), (SimTime(NOW.0 - 60_000), 5)],
            ..Default::default()
        };
        let spec = HpaSpec {
            min: 1,
            max: 10,
            metrics: vec![],
            behavior: None,
        };
        assert_eq!(normalize_legacy(&mut state, &spec, 5, 3, NOW), (5, None));
        // max 10, current 20 → the reconcile clamps to max first (TooManyReplicas).
        let d = reconcile(&mut HpaState::default(), &spec, 20, &[], NOW);
        assert_eq!((d.desired, d.limit), (10, Some(Limit::TooManyReplicas)));
        // Legacy scale-up cap: max(2·current, 4).
        let spec = HpaSpec {
            min: 1,
            max: 100,
            metrics: vec![],
            behavior: None,
        };
        assert_eq!(
            normalize_legacy(&mut HpaState::default(), &spec, 3, 50, NOW),
            (6, Some(Limit::ScaleUpLimit))
        );
    }

    #[test]
    fn scaling_disabled_at_zero() {
        let spec = HpaSpec {
            min: 1,
            max: 5,
            metrics: vec![],
            behavior: None,
        };
        assert!(reconcile(&mut HpaState::default(), &spec, 0, &[], NOW).disabled);
    }
}
