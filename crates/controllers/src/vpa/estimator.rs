//! Resource estimators: functions from an [`AggregateContainerState`] to an amount, composed
//! as decorators (percentile, safety margin, confidence multiplier, minimum).

use super::aggregate::AggregateContainerState;
use super::{ResourceName, resource_amount_from_f64, scale_resource};

/// An estimator of one resource (millicores for CPU, bytes for memory).
///
/// Upstream: vertical-pod-autoscaler/pkg/recommender/logic/estimator.go
#[derive(Clone, Debug, PartialEq)]
pub enum Estimator {
    /// The given percentile of the CPU usage histogram or the memory peaks histogram.
    Percentile(f64),
    /// A constant amount.
    Const(i64),
    /// `base + base * fraction` (`WithCPUMargin` / `WithMemoryMargin`).
    Margin {
        /// The margin fraction.
        fraction: f64,
        /// The wrapped estimator.
        base: Box<Estimator>,
    },
    /// `base * (1 + multiplier / confidence)^exponent` (`WithCPUConfidenceMultiplier`).
    Confidence {
        /// The multiplier.
        multiplier: f64,
        /// The exponent.
        exponent: f64,
        /// The interval confidence is measured in (24h by default).
        interval_ms: u64,
        /// The wrapped estimator.
        base: Box<Estimator>,
    },
    /// `max(base, min)` (`WithCPUMinResource` / `WithMemoryMinResource`).
    Min {
        /// The minimum amount.
        min: i64,
        /// The wrapped estimator.
        base: Box<Estimator>,
    },
}

impl Estimator {
    /// Wraps `self` with a safety margin.
    pub fn with_margin(self, fraction: f64) -> Self {
        Estimator::Margin {
            fraction,
            base: Box::new(self),
        }
    }

    /// Wraps `self` with a confidence multiplier.
    pub fn with_confidence(self, multiplier: f64, exponent: f64, interval_ms: u64) -> Self {
        Estimator::Confidence {
            multiplier,
            exponent,
            interval_ms,
            base: Box::new(self),
        }
    }

    /// Wraps `self` with a minimum.
    pub fn with_min(self, min: i64) -> Self {
        Estimator::Min {
            min,
            base: Box::new(self),
        }
    }

    /// The estimate of `resource` for `s`.
    pub fn estimate(&self, s: &AggregateContainerState, resource: ResourceName) -> i64 {
        match self {
            Estimator::Percentile(p) => match resource {
                ResourceName::Cpu => resource_amount_from_f64(s.cpu_usage.percentile(*p) * 1000.0),
                ResourceName::Memory => resource_amount_from_f64(s.memory_peaks.percentile(*p)),
            },
            Estimator::Const(v) => *v,
            Estimator::Margin { fraction, base } => {
                let b = base.estimate(s, resource);
                b + scale_resource(b, *fraction)
            }
            Estimator::Confidence {
                multiplier,
                exponent,
                interval_ms,
                base,
            } => {
                let confidence = s.confidence(*interval_ms);
                let b = base.estimate(s, resource);
                scale_resource(b, (1.0 + multiplier / confidence).powf(*exponent))
            }
            Estimator::Min { min, base } => base.estimate(s, resource).max(*min),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vpa::aggregate::AggregationsConfig;
    use crate::vpa::histogram::Histogram;
    use kscale_model::SimTime;

    const DAY: u64 = 86_400_000;

    fn empty() -> AggregateContainerState {
        AggregateContainerState::new(AggregationsConfig::default(), SimTime::ZERO)
    }

    fn cpu_mem(e: &Estimator, s: &AggregateContainerState) -> (i64, i64) {
        (
            e.estimate(s, ResourceName::Cpu),
            e.estimate(s, ResourceName::Memory),
        )
    }

    // estimator_test.go: TestPercentileEstimator
    #[test]
    fn percentile_estimator() {
        let cfg = AggregationsConfig::default();
        let mut s = empty();
        let t = SimTime::from_secs(1);
        for v in [1.0, 2.0, 3.0] {
            s.cpu_usage.add_sample(v, 1.0, t);
            s.memory_peaks.add_sample(v * 1e9, 1.0, t);
        }
        let cpu = Estimator::Percentile(0.2).estimate(&s, ResourceName::Cpu);
        let mem = Estimator::Percentile(0.5).estimate(&s, ResourceName::Memory);
        assert!((cpu as f64 / 1000.0 - 1.0).abs() / 1.0 <= 0.05, "{cpu}");
        assert!((mem as f64 - 2e9).abs() / 2e9 <= 0.05, "{mem}");
        // The plain histogram gives the same answer (weights are scaled uniformly).
        let mut h = Histogram::new(cfg.cpu_histogram_options());
        for v in [1.0, 2.0, 3.0] {
            h.add_sample(v, 1.0);
        }
        assert_eq!(resource_amount_from_f64(h.percentile(0.2) * 1000.0), cpu);
    }

    fn nine_samples_two_minutes_apart() -> AggregateContainerState {
        let mut s = empty();
        let mut t = SimTime::ZERO;
        for _ in 0..9 {
            s.add_cpu_sample(t, 1000, 0);
            t = t.plus_millis(120_000);
        }
        s
    }

    // estimator_test.go: TestConfidenceMultiplier
    #[test]
    fn confidence_multiplier() {
        let base_cpu = Estimator::Const(3140);
        let base_mem = Estimator::Const(3_140_000_000);
        let s = empty();
        let up = base_cpu.clone().with_confidence(1.0, 1.0, DAY);
        let down = base_cpu.clone().with_confidence(1.0, -1.0, DAY);
        assert_eq!(up.estimate(&s, ResourceName::Cpu), 100_000_000_000_000);
        assert_eq!(down.estimate(&s, ResourceName::Cpu), 0);

        let s = nine_samples_two_minutes_apart();
        assert_eq!(s.confidence(DAY), 0.00625);
        let cpu = base_cpu.with_confidence(0.1, 2.0, DAY);
        let mem = base_mem.with_confidence(0.1, 2.0, DAY);
        assert_eq!(cpu.estimate(&s, ResourceName::Cpu), 907_460);
        assert_eq!(mem.estimate(&s, ResourceName::Memory), 907_460_000_000);
    }

    // estimator_test.go: TestConfidenceMultiplierWithCustomInterval
    #[test]
    fn confidence_multiplier_custom_interval() {
        let s = nine_samples_two_minutes_apart();
        let interval = 18 * 60_000;
        assert_eq!(s.confidence(interval), 0.5);
        let cpu = Estimator::Const(3140).with_confidence(0.1, 2.0, interval);
        let mem = Estimator::Const(3_140_000_000).with_confidence(0.1, 2.0, interval);
        assert_eq!(cpu.estimate(&s, ResourceName::Cpu), 4521);
        assert_eq!(mem.estimate(&s, ResourceName::Memory), 4_521_600_000);
    }

    // estimator_test.go: TestConfidenceMultiplierNoHistory
    #[test]
    fn confidence_multiplier_no_history() {
        let e = Estimator::Const(3140).with_confidence(0.1, 2.0, DAY);
        assert_eq!(e.estimate(&empty(), ResourceName::Cpu), 100_000_000_000_000);
    }

    // estimator_test.go: TestMarginEstimator
    #[test]
    fn margin_estimator() {
        let s = empty();
        let cpu = Estimator::Const(3140).with_margin(0.1);
        let mem = Estimator::Const(3_140_000_000).with_margin(0.1);
        assert_eq!(cpu_mem(&cpu, &s).0, 3454);
        assert_eq!(cpu_mem(&mem, &s).1, 3_454_000_000);
    }

    // estimator_test.go: TestMinResourcesEstimator
    #[test]
    fn min_resources_estimator() {
        let s = empty();
        assert_eq!(
            Estimator::Const(3140)
                .with_min(200)
                .estimate(&s, ResourceName::Cpu),
            3140
        );
        assert_eq!(
            Estimator::Const(400_000_000)
                .with_min(20_000_000)
                .estimate(&s, ResourceName::Memory),
            400_000_000
        );
        assert_eq!(
            Estimator::Const(1)
                .with_min(200)
                .estimate(&s, ResourceName::Cpu),
            200
        );
    }
}
