//! The pod recommender: target, lower and upper bound per container, with upstream's
//! default percentiles, safety margin, confidence multipliers and pod minimums.

use std::collections::BTreeMap;

use super::aggregate::AggregateContainerState;
use super::estimator::Estimator;
use super::{
    PodResourcePolicy, ResourceList, ResourceName, container_policy, container_scaling_off,
    resource_amount_from_f64, scale_resource,
};

/// Recommender settings (`RecommendationConfig` and the recommender's flag defaults).
///
/// Upstream: vertical-pod-autoscaler/pkg/recommender/logic/recommender.go and
/// pkg/recommender/config/config.go (`DefaultRecommenderConfig`)
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RecommendationConfig {
    /// `--recommendation-margin-fraction` (0.15).
    pub safety_margin_fraction: f64,
    /// `--pod-recommendation-min-cpu-millicores` (25).
    pub pod_min_cpu_millicores: f64,
    /// `--pod-recommendation-min-memory-mb` (250, in MiB).
    pub pod_min_memory_mb: f64,
    /// `--target-cpu-percentile` (0.9).
    pub target_cpu_percentile: f64,
    /// `--recommendation-lower-bound-cpu-percentile` (0.5).
    pub lower_bound_cpu_percentile: f64,
    /// `--recommendation-upper-bound-cpu-percentile` (0.95).
    pub upper_bound_cpu_percentile: f64,
    /// `--confidence-interval-cpu` (24h).
    pub confidence_interval_cpu_ms: u64,
    /// `--target-memory-percentile` (0.9).
    pub target_memory_percentile: f64,
    /// `--recommendation-lower-bound-memory-percentile` (0.5).
    pub lower_bound_memory_percentile: f64,
    /// `--recommendation-upper-bound-memory-percentile` (0.95).
    pub upper_bound_memory_percentile: f64,
    /// `--confidence-interval-memory` (24h).
    pub confidence_interval_memory_ms: u64,
}

impl Default for RecommendationConfig {
    fn default() -> Self {
        RecommendationConfig {
            safety_margin_fraction: 0.15,
            pod_min_cpu_millicores: 25.0,
            pod_min_memory_mb: 250.0,
            target_cpu_percentile: 0.9,
            lower_bound_cpu_percentile: 0.5,
            upper_bound_cpu_percentile: 0.95,
            confidence_interval_cpu_ms: 24 * super::HOUR_MS,
            target_memory_percentile: 0.9,
            lower_bound_memory_percentile: 0.5,
            upper_bound_memory_percentile: 0.95,
            confidence_interval_memory_ms: 24 * super::HOUR_MS,
        }
    }
}

/// Upper-bound confidence multiplier and exponent: `(1 + 1/confidence)^1`.
pub const UPPER_BOUND_CONFIDENCE: (f64, f64) = (1.0, 1.0);
/// Lower-bound confidence multiplier and exponent: `(1 + 0.001/confidence)^-2`.
pub const LOWER_BOUND_CONFIDENCE: (f64, f64) = (0.001, -2.0);

/// Recommended resources of one container (model units, before policy capping).
///
/// Upstream: recommender.go (`RecommendedContainerResources`)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecommendedContainerResources {
    /// Recommended request.
    pub target: ResourceList,
    /// Minimum recommended request.
    pub lower_bound: ResourceList,
    /// Maximum recommended request.
    pub upper_bound: ResourceList,
}

/// The recommender: six estimators plus the pod-wide minimums.
///
/// Upstream: vertical-pod-autoscaler/pkg/recommender/logic/recommender.go (`podResourceRecommender`)
#[derive(Clone, Debug, PartialEq)]
pub struct PodResourceRecommender {
    /// Target CPU estimator.
    pub target_cpu: Estimator,
    /// Target memory estimator.
    pub target_memory: Estimator,
    /// Lower-bound CPU estimator.
    pub lower_bound_cpu: Estimator,
    /// Lower-bound memory estimator.
    pub lower_bound_memory: Estimator,
    /// Upper-bound CPU estimator.
    pub upper_bound_cpu: Estimator,
    /// Upper-bound memory estimator.
    pub upper_bound_memory: Estimator,
    /// Pod-wide minimum CPU (millicores), split evenly across containers.
    pub min_cpu_millicores: f64,
    /// Pod-wide minimum memory (MiB), split evenly across containers.
    pub min_memory_mb: f64,
}

impl PodResourceRecommender {
    /// The recommender upstream builds from `config` (`CreatePodResourceRecommender`):
    /// percentile → margin; bounds additionally get the confidence multipliers.
    pub fn new(config: &RecommendationConfig) -> Self {
        let m = config.safety_margin_fraction;
        let (um, ue) = UPPER_BOUND_CONFIDENCE;
        let (lm, le) = LOWER_BOUND_CONFIDENCE;
        let ci_cpu = config.confidence_interval_cpu_ms;
        let ci_mem = config.confidence_interval_memory_ms;
        PodResourceRecommender {
            target_cpu: Estimator::Percentile(config.target_cpu_percentile).with_margin(m),
            target_memory: Estimator::Percentile(config.target_memory_percentile).with_margin(m),
            lower_bound_cpu: Estimator::Percentile(config.lower_bound_cpu_percentile)
                .with_margin(m)
                .with_confidence(lm, le, ci_cpu),
            lower_bound_memory: Estimator::Percentile(config.lower_bound_memory_percentile)
                .with_margin(m)
                .with_confidence(lm, le, ci_mem),
            upper_bound_cpu: Estimator::Percentile(config.upper_bound_cpu_percentile)
                .with_margin(m)
                .with_confidence(um, ue, ci_cpu),
            upper_bound_memory: Estimator::Percentile(config.upper_bound_memory_percentile)
                .with_margin(m)
                .with_confidence(um, ue, ci_mem),
            min_cpu_millicores: config.pod_min_cpu_millicores,
            min_memory_mb: config.pod_min_memory_mb,
        }
    }

    /// Recommendations for every container of the map; the pod minimums are divided by the
    /// number of containers (`GetRecommendedPodResources`). Only the container's controlled
    /// resources are filled in.
    pub fn recommend(
        &self,
        states: &BTreeMap<String, AggregateContainerState>,
    ) -> BTreeMap<String, RecommendedContainerResources> {
        let mut out = BTreeMap::new();
        if states.is_empty() {
            return out;
        }
        let fraction = 1.0 / states.len() as f64;
        let min_cpu = scale_resource(
            resource_amount_from_f64(self.min_cpu_millicores * 0.001 * 1000.0),
            fraction,
        );
        let min_mem = scale_resource(
            resource_amount_from_f64(self.min_memory_mb * 1024.0 * 1024.0),
            fraction,
        );
        for (name, s) in states {
            let est = |e: &Estimator, r: ResourceName, min: i64| e.estimate(s, r).max(min);
            let mut rec = RecommendedContainerResources::default();
            for &r in s.controlled_resources() {
                let (t, l, u, min) = match r {
                    ResourceName::Cpu => (
                        &self.target_cpu,
                        &self.lower_bound_cpu,
                        &self.upper_bound_cpu,
                        min_cpu,
                    ),
                    ResourceName::Memory => (
                        &self.target_memory,
                        &self.lower_bound_memory,
                        &self.upper_bound_memory,
                        min_mem,
                    ),
                };
                rec.target.set(r, Some(est(t, r, min)));
                rec.lower_bound.set(r, Some(est(l, r, min)));
                rec.upper_bound.set(r, Some(est(u, r, min)));
            }
            out.insert(name.clone(), rec);
        }
        out
    }

    /// The recommender's per-VPA step: containers whose policy has `mode: Off` are dropped,
    /// the others take their policy's mode and controlled resources, then [`Self::recommend`].
    ///
    /// Upstream: vertical-pod-autoscaler/pkg/recommender/routines/vpa.go
    /// (`GetContainerNameToAggregateStateMap`)
    pub fn recommend_for_vpa(
        &self,
        states: &BTreeMap<String, AggregateContainerState>,
        policy: Option<&PodResourcePolicy>,
    ) -> BTreeMap<String, RecommendedContainerResources> {
        let filtered: BTreeMap<String, AggregateContainerState> = states
            .iter()
            .filter(|(name, _)| !container_scaling_off(name, policy))
            .map(|(name, s)| {
                let mut s = s.clone();
                s.update_from_policy(container_policy(name, policy));
                (name.clone(), s)
            })
            .collect();
        self.recommend(&filtered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vpa::aggregate::{AggregationsConfig, ContainerState};
    use crate::vpa::{ContainerResourcePolicy, ContainerScalingMode};
    use kscale_model::SimTime;

    fn const_recommender(min_cpu: f64, min_mem: f64) -> PodResourceRecommender {
        PodResourceRecommender {
            target_cpu: Estimator::Const(1),
            target_memory: Estimator::Const(1_000_000),
            lower_bound_cpu: Estimator::Const(1),
            lower_bound_memory: Estimator::Const(1_000_000),
            upper_bound_cpu: Estimator::Const(1),
            upper_bound_memory: Estimator::Const(1_000_000),
            min_cpu_millicores: min_cpu,
            min_memory_mb: min_mem,
        }
    }

    fn state() -> AggregateContainerState {
        AggregateContainerState::new(AggregationsConfig::default(), SimTime::ZERO)
    }

    // recommender_test.go: TestMinResourcesApplied
    #[test]
    fn min_resources_applied() {
        let r = const_recommender(25.0, 250.0);
        let states = BTreeMap::from([("container-1".to_string(), state())]);
        let rec = r.recommend(&states);
        assert_eq!(
            rec["container-1"].target,
            ResourceList::new(25, 250 * 1024 * 1024)
        );
    }

    // recommender_test.go: TestMinResourcesSplitAcrossContainers
    #[test]
    fn min_resources_split_across_containers() {
        let r = const_recommender(25.0, 250.0);
        let states = BTreeMap::from([
            ("container-1".to_string(), state()),
            ("container-2".to_string(), state()),
        ]);
        let rec = r.recommend(&states);
        for c in ["container-1", "container-2"] {
            // 0.0125 cores = 12 millicores after truncation, like CPUAmountFromCores.
            assert_eq!(rec[c].target, ResourceList::new(12, 125 * 1024 * 1024));
        }
    }

    // recommender_test.go: TestControlledResourcesFiltered / ...FilteredDefault
    #[test]
    fn controlled_resources_filtered() {
        let r = const_recommender(0.0, 0.0);
        let mut s = state();
        s.controlled_resources = Some(vec![ResourceName::Memory]);
        let rec = r.recommend(&BTreeMap::from([("c".to_string(), s)]));
        for l in [rec["c"].target, rec["c"].lower_bound, rec["c"].upper_bound] {
            assert_eq!(l.cpu_milli, None);
            assert_eq!(l.memory, Some(1_000_000));
        }
        let mut s = state();
        s.controlled_resources = Some(vec![ResourceName::Memory, ResourceName::Cpu]);
        let rec = r.recommend(&BTreeMap::from([("c".to_string(), s)]));
        for l in [rec["c"].target, rec["c"].lower_bound, rec["c"].upper_bound] {
            assert_eq!(l, ResourceList::new(1, 1_000_000));
        }
    }

    #[test]
    fn mode_off_containers_are_dropped_and_not_counted_for_minimums() {
        let r = const_recommender(25.0, 250.0);
        let states = BTreeMap::from([("a".to_string(), state()), ("b".to_string(), state())]);
        let policy = PodResourcePolicy {
            container_policies: vec![ContainerResourcePolicy {
                container_name: "b".into(),
                mode: Some(ContainerScalingMode::Off),
                ..Default::default()
            }],
        };
        let rec = r.recommend_for_vpa(&states, Some(&policy));
        assert_eq!(rec.keys().collect::<Vec<_>>(), vec!["a"]);
        assert_eq!(rec["a"].target.cpu_milli, Some(25));
    }

    #[test]
    fn default_recommender_end_to_end() {
        // One container using 0.5 core and 600 MiB steadily for 8 days, a sample a minute.
        let cfg = AggregationsConfig::default();
        let mut agg = AggregateContainerState::new(cfg, SimTime::ZERO);
        let mut c = ContainerState::new(1000, 1 << 30);
        let mut t = SimTime::ZERO;
        for _ in 0..(8 * 24 * 60) {
            c.add_cpu_sample(&mut agg, t, 500);
            c.add_memory_sample(&mut agg, t, 600 << 20);
            t = t.plus_millis(60_000);
        }
        let r = PodResourceRecommender::new(&RecommendationConfig::default());
        let rec = &r.recommend(&BTreeMap::from([("app".to_string(), agg.clone())]))["app"];
        let cpu = rec.target.cpu_milli.unwrap();
        // The bucket above 0.5 core, plus 15 %.
        assert!(cpu > 575 && cpu < 575 * 106 / 100, "{cpu}");
        let mem = rec.target.memory.unwrap();
        assert!(mem > (690 << 20) && mem < (690 << 20) * 106 / 100, "{mem}");
        // Confidence ~8 days: upper = p95 * 1.15 * (1 + 1/8); lower = p50 * 1.15 * ~1.
        let up = rec.upper_bound.cpu_milli.unwrap();
        assert!(up > cpu * 11 / 10 && up < cpu * 12 / 10, "{up} vs {cpu}");
        let low = rec.lower_bound.cpu_milli.unwrap();
        assert!(low <= cpu && low > cpu * 99 / 100, "{low} vs {cpu}");
        assert!((agg.confidence(86_400_000) - 8.0).abs() < 0.01);
    }
}
