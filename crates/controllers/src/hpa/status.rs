//! What an HPA sync writes to the object's status: its conditions, current and desired
//! replicas, current metrics and lastScaleTime, and whether the write is needed at all.
//!
//! Follows kubernetes/kubernetes `pkg/controller/podautoscaler/horizontal.go` (v1.37):
//! `reconcileAutoscaler` (which conditions a sync sets and when), `setCondition` /
//! `setConditionInList` (a condition keeps its lastTransitionTime while its status holds),
//! `setCurrentReplicasAndMetricsInStatus` (a metrics failure keeps the last desired count),
//! `setStatus` and `updateStatusIfNeeded` (a status showing what the last one showed is not
//! written). Pure: the backend renders the status into its object and records the events.

use kscale_model::SimTime;

use super::{Decision, Limit, MetricError, MetricSpec, Proposal, Stabilized};

/// The state of the AbleToScale condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Able {
    /// `SucceededGetScale`: the target's scale was read.
    GotScale,
    /// `FailedGetScale`, with the error.
    NoScale(String),
    /// `ScaleUpStabilized` / `ScaleDownStabilized`.
    Stabilized(Stabilized),
    /// `ReadyForNewScale`.
    Ready,
    /// `SucceededRescale`, to this many replicas.
    Rescaled(i32),
}

/// The state of the ScalingActive condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Active {
    /// `ScalingDisabled`: the target has zero replicas.
    Disabled,
    /// The metrics failed: the first failing metric's reason and error.
    Failed {
        /// `FailedGetResourceMetric`, ...
        reason: &'static str,
        /// The error.
        message: String,
    },
    /// `ValidMetricFound`: the metric the count came from, by index (None, or one without a
    /// display name: the first metric's display name).
    Valid {
        /// Its index in the effective metrics.
        from: Option<usize>,
    },
}

/// One status condition of an HPA.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// AbleToScale.
    Able(Able),
    /// ScalingActive.
    Active(Active),
    /// ScalingLimited, and why (None: `DesiredWithinRange`).
    Limited(Option<Limit>),
    /// ScaledToZero (v1.37, set at every rescale): whether the rescale went to zero.
    ScaledToZero(bool),
}

impl Condition {
    /// The condition's `type`.
    pub fn type_(&self) -> &'static str {
        match self {
            Condition::Able(_) => "AbleToScale",
            Condition::Active(_) => "ScalingActive",
            Condition::Limited(_) => "ScalingLimited",
            Condition::ScaledToZero(_) => "ScaledToZero",
        }
    }

    /// Its `status`: true for `True`.
    pub fn status(&self) -> bool {
        match self {
            Condition::Able(a) => !matches!(a, Able::NoScale(_)),
            Condition::Active(a) => matches!(a, Active::Valid { .. }),
            Condition::Limited(l) => l.is_some(),
            Condition::ScaledToZero(z) => *z,
        }
    }

    /// Reason and message, worded as horizontal.go; `metrics` are the effective metrics
    /// (ValidMetricFound names one).
    pub fn reason_message(&self, metrics: &[MetricSpec]) -> (&'static str, String) {
        match self {
            Condition::Able(Able::GotScale) => (
                "SucceededGetScale",
                "the HPA controller was able to get the target's current scale".into(),
            ),
            Condition::Able(Able::NoScale(e)) => (
                "FailedGetScale",
                format!("the HPA controller was unable to get the target's current scale: {e}"),
            ),
            Condition::Able(Able::Stabilized(s)) => {
                let (r, m) = s.reason_message();
                (r, m.into())
            }
            Condition::Able(Able::Ready) => (
                "ReadyForNewScale",
                "recommended size matches current size".into(),
            ),
            Condition::Able(Able::Rescaled(n)) => (
                "SucceededRescale",
                format!("the HPA controller was able to update the target scale to {n}"),
            ),
            Condition::Active(Active::Disabled) => (
                "ScalingDisabled",
                "scaling is disabled since the replica count of the target is zero".into(),
            ),
            Condition::Active(Active::Failed { reason, message }) => (
                reason,
                format!("the HPA was unable to compute the replica count: {message}"),
            ),
            Condition::Active(Active::Valid { from }) => {
                let named = from
                    .and_then(|i| metrics.get(i))
                    .map(MetricSpec::display_name)
                    .filter(|n| !n.is_empty());
                let from = named
                    .or_else(|| metrics.first().map(MetricSpec::display_name))
                    .unwrap_or_default();
                (
                    "ValidMetricFound",
                    format!(
                        "the HPA was able to successfully calculate a replica count from {from}"
                    ),
                )
            }
            Condition::Limited(Some(l)) => {
                let (r, m) = l.reason_message();
                (r, m.into())
            }
            Condition::Limited(None) => (
                "DesiredWithinRange",
                "the desired count is within the acceptable range".into(),
            ),
            Condition::ScaledToZero(true) => (
                "ScaledToZero",
                "the HPA controller scaled the workload to zero".into(),
            ),
            Condition::ScaledToZero(false) => (
                "NotScaledToZero",
                "the HPA controller did not scale the workload to zero".into(),
            ),
        }
    }
}

/// Conditions in the order they were first set, each with its lastTransitionTime.
pub type Conditions = Vec<(Condition, SimTime)>;

/// Sets a condition as upstream's `setConditionInList`: a new type is appended; an existing
/// one is replaced, keeping its lastTransitionTime unless its status changes.
pub fn set_condition(list: &mut Conditions, c: Condition, now: SimTime) {
    match list.iter_mut().find(|(x, _)| x.type_() == c.type_()) {
        Some((x, since)) => {
            if x.status() != c.status() {
                *since = now;
            }
            *x = c;
        }
        None => list.push((c, now)),
    }
}

/// A lastScaleTime: a sync's, or the text of a status the object was given.
#[derive(Debug, Clone, PartialEq)]
pub enum LastScale {
    /// Set by a rescale at this time.
    At(SimTime),
    /// As the object showed it.
    Given(String),
}

/// An HPA's status as the controller writes it (before rendering).
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    /// `currentReplicas`: the scale's `spec.replicas` as the sync read it.
    pub replicas: usize,
    /// `desiredReplicas`.
    pub desired: i32,
    /// Per metric its proposal (None: the metric failed); None when the sync read no
    /// metrics (no `currentMetrics`).
    pub metrics: Option<Vec<Option<Proposal>>>,
    /// The conditions.
    pub conditions: Conditions,
    /// `lastScaleTime`.
    pub last_scale: Option<LastScale>,
}

impl Status {
    /// Whether both render the same status (what `updateStatusIfNeeded` compares, for the
    /// same object and metrics): a metric's status shows only its current values, not the
    /// replicas it proposed.
    pub fn shows_same(&self, o: &Status) -> bool {
        let shown = |p: &Option<Proposal>| p.as_ref().map(|p| (p.utilization, p.average));
        let same_metrics = match (&self.metrics, &o.metrics) {
            (None, None) => true,
            (Some(a), Some(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| shown(x) == shown(y))
            }
            _ => false,
        };
        self.replicas == o.replicas
            && self.desired == o.desired
            && same_metrics
            && self.conditions == o.conditions
            && self.last_scale == o.last_scale
    }

    /// What a rescale the backend carried out adds: AbleToScale `SucceededRescale`,
    /// ScaledToZero, lastScaleTime.
    pub fn rescaled(&mut self, rescale: &Rescale, now: SimTime) {
        set_condition(
            &mut self.conditions,
            Condition::Able(Able::Rescaled(rescale.desired)),
            now,
        );
        set_condition(
            &mut self.conditions,
            Condition::ScaledToZero(rescale.to_zero),
            now,
        );
        self.last_scale = Some(LastScale::At(now));
    }
}

/// What a sync carries over from the status the last one wrote (or the object showed).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Previous {
    /// `lastScaleTime`.
    pub last_scale: Option<LastScale>,
    /// `desiredReplicas`.
    pub desired: i32,
    /// `currentReplicas`.
    pub replicas: usize,
    /// The conditions.
    pub conditions: Conditions,
}

/// A rescale a sync decided, for the backend to carry out.
#[derive(Debug, Clone, PartialEq)]
pub struct Rescale {
    /// The new `spec.replicas`.
    pub desired: i32,
    /// The SuccessfulRescale event's message (`New size: N; reason: ...`).
    pub message: String,
    /// A scale to zero in the sense of the ScaledToZero condition.
    pub to_zero: bool,
}

/// What a sync concludes: its warnings, its rescale and the status it writes.
#[derive(Debug, Clone, PartialEq)]
pub struct Concluded {
    /// Warning events (reason, message): one per failing metric, then
    /// `FailedComputeMetricsReplicas` when the metrics could not be used.
    pub warnings: Vec<(String, String)>,
    /// The rescale, if any (its status additions come from [`Status::rescaled`] once done).
    pub rescale: Option<Rescale>,
    /// The status, but for what the rescale adds.
    pub status: Status,
}

/// Concludes a sync of decision `d`, taken at `current` replicas (the scale's
/// `spec.replicas`) with the HPA's `min` and effective `metrics`, over the previous status.
pub fn conclude(
    prev: Previous,
    d: Decision,
    current: i32,
    min: i32,
    metrics: &[MetricSpec],
    now: SimTime,
) -> Concluded {
    let errors: Vec<&MetricError> = d
        .proposals
        .iter()
        .filter_map(|p| p.as_ref().err())
        .collect();
    let mut warnings: Vec<(String, String)> = errors
        .iter()
        .map(|e| (e.reason.to_string(), e.message.clone()))
        .collect();
    if let Some(f) = &d.failed {
        warnings.push(("FailedComputeMetricsReplicas".into(), f.clone()));
    }
    let rescale = (!d.disabled && d.failed.is_none() && d.desired != current).then(|| {
        // horizontal.go (v1.37, HPAScaleToZero beta): every rescale sets ScaledToZero, True
        // only for a scale to zero allowed by `minReplicas: 0` on an Object or External
        // metric.
        let to_zero = current > 0
            && d.desired == 0
            && min == 0
            && metrics
                .iter()
                .any(|m| matches!(m, MetricSpec::Object { .. } | MetricSpec::External { .. }));
        Rescale {
            desired: d.desired,
            message: format!("New size: {}; reason: {}", d.desired, d.reason),
            to_zero,
        }
    });
    // The conditions as `reconcileAutoscaler` sets them, over the last status's.
    let mut conditions = prev.conditions;
    set_condition(&mut conditions, Condition::Able(Able::GotScale), now);
    if d.disabled {
        set_condition(&mut conditions, Condition::Active(Active::Disabled), now);
    } else if let (Some(_), Some(e)) = (&d.failed, errors.first()) {
        let failed = Active::Failed {
            reason: e.reason,
            message: e.message.clone(),
        };
        set_condition(&mut conditions, Condition::Active(failed), now);
    } else if d.computed {
        let valid = Active::Valid { from: d.metric };
        set_condition(&mut conditions, Condition::Active(valid), now);
        let able = d.stabilized.map_or(Able::Ready, Able::Stabilized);
        set_condition(&mut conditions, Condition::Able(able), now);
        set_condition(&mut conditions, Condition::Limited(d.limit), now);
    }
    // On a metrics failure upstream keeps the previous `desiredReplicas`
    // (`setCurrentReplicasAndMetricsInStatus` writes only the current replicas and metrics);
    // scaling disabled writes the current count.
    let desired = if d.disabled {
        current
    } else if d.failed.is_some() {
        prev.desired
    } else {
        d.desired
    };
    // A sync that read no metrics (scaling disabled, the count out of bounds) writes no
    // `currentMetrics`.
    let computed = d.computed;
    let proposals: Vec<Option<Proposal>> = d.proposals.into_iter().map(Result::ok).collect();
    Concluded {
        warnings,
        rescale,
        status: Status {
            replicas: usize::try_from(current).unwrap_or(0),
            desired,
            metrics: computed.then_some(proposals),
            conditions,
            last_scale: prev.last_scale,
        },
    }
}

/// The status of a sync that could not read its target's scale: AbleToScale False
/// (`FailedGetScale`), everything else as it was (`metrics`: what the last status showed).
pub fn failed_get_scale(
    prev: Previous,
    metrics: Option<Vec<Option<Proposal>>>,
    error: &str,
    now: SimTime,
) -> Status {
    let mut conditions = prev.conditions;
    set_condition(
        &mut conditions,
        Condition::Able(Able::NoScale(error.to_string())),
        now,
    );
    Status {
        replicas: prev.replicas,
        desired: prev.desired,
        metrics,
        conditions,
        last_scale: prev.last_scale,
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    fn decision(desired: i32) -> Decision {
        Decision {
            desired,
            proposals: vec![Ok(Proposal {
                replicas: desired,
                utilization: Some(90),
                average: 450,
            })],
            limit: None,
            reason: Cow::Borrowed("cpu resource utilization (percentage of request) above target"),
            metric: Some(0),
            disabled: false,
            computed: true,
            stabilized: None,
            failed: None,
        }
    }

    fn types(s: &Status) -> Vec<(&'static str, bool)> {
        s.conditions
            .iter()
            .map(|(c, _)| (c.type_(), c.status()))
            .collect()
    }

    #[test]
    fn a_first_sync_sets_the_three_conditions_in_upstream_order() {
        let c = conclude(Previous::default(), decision(4), 2, 1, &[], SimTime::ZERO);
        assert_eq!(
            types(&c.status),
            [
                ("AbleToScale", true),
                ("ScalingActive", true),
                ("ScalingLimited", false)
            ]
        );
        let r = c.rescale.expect("2 → 4 is a rescale");
        assert_eq!(r.desired, 4);
        assert!(r.message.starts_with("New size: 4; reason: cpu resource"));
        assert!(!r.to_zero);
        assert_eq!((c.status.replicas, c.status.desired), (2, 4));
        let mut s = c.status;
        s.rescaled(&r, SimTime::from_secs(15));
        let (reason, message) = s.conditions[0].0.reason_message(&[]);
        assert_eq!(reason, "SucceededRescale");
        assert_eq!(
            message,
            "the HPA controller was able to update the target scale to 4"
        );
        assert_eq!(s.conditions.last().unwrap().0.type_(), "ScaledToZero");
        assert_eq!(s.last_scale, Some(LastScale::At(SimTime::from_secs(15))));
    }

    #[test]
    fn a_condition_keeps_its_transition_time_while_its_status_holds() {
        let mut list = Conditions::new();
        let t0 = SimTime::from_secs(0);
        let t1 = SimTime::from_secs(30);
        let t2 = SimTime::from_secs(60);
        set_condition(&mut list, Condition::Able(Able::Ready), t0);
        set_condition(&mut list, Condition::Able(Able::Rescaled(3)), t1);
        assert_eq!(list, [(Condition::Able(Able::Rescaled(3)), t0)]);
        set_condition(&mut list, Condition::Able(Able::NoScale("gone".into())), t2);
        assert_eq!(list[0].1, t2, "True → False is a transition");
    }

    #[test]
    fn a_metrics_failure_keeps_the_last_desired_count_and_warns() {
        let prev = Previous {
            desired: 7,
            replicas: 5,
            ..Previous::default()
        };
        let mut d = decision(5);
        d.proposals = vec![Err(MetricError {
            reason: "FailedGetResourceMetric",
            message: "no metrics returned".into(),
            wrapped: "failed to get cpu utilization: no metrics returned".into(),
        })];
        d.failed = Some("invalid metrics (1 invalid out of 1)".into());
        d.computed = false;
        let c = conclude(prev, d, 5, 1, &[], SimTime::ZERO);
        assert_eq!(c.rescale, None);
        assert_eq!(c.status.desired, 7);
        assert_eq!(
            c.warnings,
            [
                (
                    "FailedGetResourceMetric".into(),
                    "no metrics returned".into()
                ),
                (
                    "FailedComputeMetricsReplicas".into(),
                    "invalid metrics (1 invalid out of 1)".into()
                )
            ]
        );
        let active = &c.status.conditions[1].0;
        assert_eq!(
            active.reason_message(&[]),
            (
                "FailedGetResourceMetric",
                "the HPA was unable to compute the replica count: no metrics returned".into()
            )
        );
        assert!(!active.status());
    }

    #[test]
    fn scaling_disabled_writes_the_current_count_and_no_metrics() {
        let mut d = decision(0);
        d.disabled = true;
        d.computed = false;
        let c = conclude(Previous::default(), d, 0, 1, &[], SimTime::ZERO);
        assert_eq!((c.status.desired, c.status.metrics.as_ref()), (0, None));
        assert_eq!(c.rescale, None);
        assert_eq!(
            c.status.conditions[1].0.reason_message(&[]).0,
            "ScalingDisabled"
        );
    }

    #[test]
    fn the_same_status_is_not_written_again_but_a_new_value_is() {
        let a = conclude(Previous::default(), decision(3), 3, 1, &[], SimTime::ZERO).status;
        let mut b = a.clone();
        // Another proposal with the same current values shows the same status.
        if let Some(Some(p)) = b.metrics.as_mut().and_then(|m| m.get_mut(0)) {
            p.replicas = 9;
        }
        assert!(a.shows_same(&b));
        if let Some(Some(p)) = b.metrics.as_mut().and_then(|m| m.get_mut(0)) {
            p.average = 451;
        }
        assert!(!a.shows_same(&b));
    }

    #[test]
    fn a_failed_get_scale_keeps_the_rest_of_the_status() {
        let prev = Previous {
            desired: 4,
            replicas: 4,
            last_scale: Some(LastScale::Given("2026-01-01T00:00:00Z".into())),
            conditions: vec![(Condition::Able(Able::Ready), SimTime::ZERO)],
        };
        let s = failed_get_scale(
            prev,
            None,
            "deployments.apps \"web\" not found",
            SimTime::from_secs(30),
        );
        assert_eq!((s.replicas, s.desired), (4, 4));
        assert_eq!(
            s.conditions[0].0.reason_message(&[]).1,
            "the HPA controller was unable to get the target's current scale: deployments.apps \"web\" not found"
        );
        assert_eq!(s.conditions[0].1, SimTime::from_secs(30));
        assert!(s.last_scale.is_some());
    }
}
