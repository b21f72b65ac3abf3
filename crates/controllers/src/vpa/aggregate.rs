//! Aggregated usage of a group of containers: CPU usage samples, memory peaks per
//! aggregation interval, OOM bumps, and the confidence of the history.

use kscale_model::SimTime;

use super::histogram::{DecayingHistogram, HistogramOptions};
use super::{ContainerResourcePolicy, ContainerScalingMode, HOUR_MS, ResourceName, scale_resource};

/// Minimal weight of any sample before decay (`minSampleWeight`).
///
/// Upstream: vertical-pod-autoscaler/pkg/recommender/model/aggregations_config.go
pub const MIN_SAMPLE_WEIGHT: f64 = 0.1;
/// Minimal weight kept in histograms: `0.001 * MIN_SAMPLE_WEIGHT`.
///
/// Upstream: vertical-pod-autoscaler/pkg/recommender/model/aggregations_config.go
pub const HISTOGRAM_EPSILON: f64 = 0.001 * MIN_SAMPLE_WEIGHT;

/// Recommender aggregation settings (`AggregationsConfig` and its command-line defaults).
///
/// Upstream: vertical-pod-autoscaler/pkg/recommender/model/aggregations_config.go
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AggregationsConfig {
    /// One memory peak is kept per interval (`--memory-aggregation-interval`, 24h).
    pub memory_aggregation_interval_ms: u64,
    /// Intervals making up the memory window (`--memory-aggregation-interval-count`, 8).
    pub memory_aggregation_interval_count: u64,
    /// Bucket growth (`DefaultHistogramBucketSizeGrowth`, 0.05).
    pub histogram_bucket_size_growth: f64,
    /// Memory histogram half-life (`--memory-histogram-decay-half-life`, 24h).
    pub memory_histogram_decay_half_life_ms: u64,
    /// CPU histogram half-life (`--cpu-histogram-decay-half-life`, 24h).
    pub cpu_histogram_decay_half_life_ms: u64,
    /// Memory bump ratio after an OOM kill (`--oom-bump-up-ratio`, 1.2).
    pub oom_bump_up_ratio: f64,
    /// Minimal memory bump after an OOM kill in bytes (`--oom-min-bump-up-bytes`, 100 MiB).
    pub oom_min_bump_up_bytes: f64,
    /// Weight CPU samples by `max(request in cores, 0.1)` as VPA ≤ 1.3 did; `false` (the
    /// default, VPA ≥ 1.4) weights every sample with [`MIN_SAMPLE_WEIGHT`].
    pub weight_cpu_by_request: bool,
}

impl Default for AggregationsConfig {
    fn default() -> Self {
        AggregationsConfig {
            memory_aggregation_interval_ms: 24 * HOUR_MS,
            memory_aggregation_interval_count: 8,
            histogram_bucket_size_growth: 0.05,
            memory_histogram_decay_half_life_ms: 24 * HOUR_MS,
            cpu_histogram_decay_half_life_ms: 24 * HOUR_MS,
            oom_bump_up_ratio: 1.2,
            oom_min_bump_up_bytes: 100.0 * 1024.0 * 1024.0,
            weight_cpu_by_request: false,
        }
    }
}

impl AggregationsConfig {
    /// CPU histogram buckets in cores: max 1000 cores, first bucket 0.01 core.
    pub fn cpu_histogram_options(&self) -> HistogramOptions {
        HistogramOptions::exponential(
            1000.0,
            0.01,
            1.0 + self.histogram_bucket_size_growth,
            HISTOGRAM_EPSILON,
        )
        .expect("valid CPU histogram options")
    }

    /// Memory histogram buckets in bytes: max 1e12 (1 TB), first bucket 1e7 (10 MB).
    pub fn memory_histogram_options(&self) -> HistogramOptions {
        HistogramOptions::exponential(
            1e12,
            1e7,
            1.0 + self.histogram_bucket_size_growth,
            HISTOGRAM_EPSILON,
        )
        .expect("valid memory histogram options")
    }

    /// Length of the memory history: interval × count (8 days by default).
    pub fn memory_aggregation_window_ms(&self) -> u64 {
        self.memory_aggregation_interval_ms * self.memory_aggregation_interval_count
    }
}

/// Usage and settings aggregated over a set of containers (same name, same VPA).
///
/// Upstream: vertical-pod-autoscaler/pkg/recommender/model/aggregate_container_state.go
#[derive(Clone, Debug, PartialEq)]
pub struct AggregateContainerState {
    /// Distribution of CPU usage samples, in cores.
    pub cpu_usage: DecayingHistogram,
    /// Distribution of memory peaks (one per container per interval), in bytes.
    pub memory_peaks: DecayingHistogram,
    /// Start of the first CPU sample.
    pub first_sample_start: Option<SimTime>,
    /// Start of the last CPU sample.
    pub last_sample_start: Option<SimTime>,
    /// Number of CPU samples.
    pub total_samples_count: u64,
    /// When the aggregation was created.
    pub creation_time: SimTime,
    /// Container scaling mode from the policy (`None`: not under a VPA).
    pub scaling_mode: Option<ContainerScalingMode>,
    /// Resources to recommend (`None`: cpu and memory).
    pub controlled_resources: Option<Vec<ResourceName>>,
    /// The settings.
    pub config: AggregationsConfig,
}

impl AggregateContainerState {
    /// An empty aggregation created at `now`.
    pub fn new(config: AggregationsConfig, now: SimTime) -> Self {
        AggregateContainerState {
            cpu_usage: DecayingHistogram::new(
                config.cpu_histogram_options(),
                config.cpu_histogram_decay_half_life_ms,
            ),
            memory_peaks: DecayingHistogram::new(
                config.memory_histogram_options(),
                config.memory_histogram_decay_half_life_ms,
            ),
            first_sample_start: None,
            last_sample_start: None,
            total_samples_count: 0,
            creation_time: now,
            scaling_mode: None,
            controlled_resources: None,
            config,
        }
    }

    /// Adds a CPU usage sample (`usage_milli` millicores averaged from `start`); `request_milli`
    /// only matters with [`AggregationsConfig::weight_cpu_by_request`].
    pub fn add_cpu_sample(&mut self, start: SimTime, usage_milli: i64, request_milli: i64) {
        let weight = if self.config.weight_cpu_by_request {
            (request_milli as f64 / 1000.0).max(MIN_SAMPLE_WEIGHT)
        } else {
            MIN_SAMPLE_WEIGHT
        };
        self.cpu_usage
            .add_sample(usage_milli as f64 / 1000.0, weight, start);
        if self.last_sample_start.is_none_or(|l| start > l) {
            self.last_sample_start = Some(start);
        }
        if self.first_sample_start.is_none_or(|f| start < f) {
            self.first_sample_start = Some(start);
        }
        self.total_samples_count += 1;
    }

    /// Adds a memory peak (bytes) stamped at `time` with weight 1.
    pub fn add_memory_peak(&mut self, time: SimTime, bytes: i64) {
        self.memory_peaks.add_sample(bytes as f64, 1.0, time);
    }

    /// Removes a memory peak previously added with [`Self::add_memory_peak`].
    pub fn subtract_memory_peak(&mut self, time: SimTime, bytes: i64) {
        self.memory_peaks.subtract_sample(bytes as f64, 1.0, time);
    }

    /// Merges `other` into this aggregation (histograms, sample times and count).
    pub fn merge(&mut self, other: &AggregateContainerState) {
        self.cpu_usage.merge(&other.cpu_usage);
        self.memory_peaks.merge(&other.memory_peaks);
        if let Some(o) = other.first_sample_start
            && self.first_sample_start.is_none_or(|f| o < f)
        {
            self.first_sample_start = Some(o);
        }
        if let Some(o) = other.last_sample_start
            && self.last_sample_start.is_none_or(|l| o > l)
        {
            self.last_sample_start = Some(o);
        }
        self.total_samples_count += other.total_samples_count;
    }

    /// True if no CPU sample was aggregated.
    pub fn is_empty(&self) -> bool {
        self.total_samples_count == 0
    }

    /// True once the memory window has passed since the last sample (or since creation if
    /// empty): the recommender then drops the aggregation.
    pub fn is_expired(&self, now: SimTime) -> bool {
        let since = self.last_sample_start.unwrap_or(self.creation_time);
        now.since(since) >= self.config.memory_aggregation_window_ms()
    }

    /// The resources to recommend (cpu and memory unless the policy narrowed them).
    pub fn controlled_resources(&self) -> &[ResourceName] {
        self.controlled_resources
            .as_deref()
            .unwrap_or(&ResourceName::ALL)
    }

    /// Applies a container policy: scaling mode (default Auto) and controlled resources.
    ///
    /// Upstream: aggregate_container_state.go (`UpdateFromPolicy`, without the PerVPAConfig
    /// alpha fields)
    pub fn update_from_policy(&mut self, policy: Option<&ContainerResourcePolicy>) {
        self.scaling_mode = Some(policy.and_then(|p| p.mode).unwrap_or_default());
        self.controlled_resources = Some(
            policy
                .and_then(|p| p.controlled_resources.clone())
                .unwrap_or_else(|| ResourceName::ALL.to_vec()),
        );
    }

    /// A heuristic of how much history there is: for one sample per minute over N days it is
    /// N. `min(lifespan / interval, samples / minutes-per-interval)`.
    ///
    /// Upstream: vertical-pod-autoscaler/pkg/recommender/logic/estimator.go (`getConfidence`)
    pub fn confidence(&self, confidence_interval_ms: u64) -> f64 {
        let lifespan = match (self.first_sample_start, self.last_sample_start) {
            (Some(f), Some(l)) => l.as_millis() as f64 - f.as_millis() as f64,
            _ => 0.0,
        };
        let lifespan_intervals = lifespan / confidence_interval_ms as f64;
        let minutes = confidence_interval_ms as f64 / 60_000.0;
        let samples = self.total_samples_count as f64 / minutes;
        lifespan_intervals.min(samples)
    }
}

/// The state of one running container: its request, and the memory peak of the current
/// aggregation interval, feeding an [`AggregateContainerState`].
///
/// Upstream: vertical-pod-autoscaler/pkg/recommender/model/container.go (`ContainerState`)
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerState {
    /// Current CPU request in millicores.
    pub request_cpu_milli: i64,
    /// Current memory request in bytes.
    pub request_memory: i64,
    /// Start of the last aggregated CPU sample.
    pub last_cpu_sample_start: Option<SimTime>,
    memory_peak: i64,
    oom_peak: i64,
    /// End (exclusive) of the current memory aggregation interval.
    pub window_end: Option<SimTime>,
    last_memory_sample_start: Option<SimTime>,
}

/// Why an OOM was not recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OomError {
    /// The OOM is older than one interval before the latest memory sample.
    TooOld,
    /// The OOM sample was rejected.
    Rejected,
}

impl ContainerState {
    /// A container with the given requests and no samples.
    pub fn new(request_cpu_milli: i64, request_memory: i64) -> Self {
        ContainerState {
            request_cpu_milli,
            request_memory,
            ..Default::default()
        }
    }

    /// The largest memory peak of the current interval, OOM estimates included.
    pub fn max_memory_peak(&self) -> i64 {
        self.memory_peak.max(self.oom_peak)
    }

    /// Adds a CPU sample; duplicate or out-of-order ones (start not after the last) and
    /// negative ones are discarded. Returns whether it was aggregated.
    ///
    /// Upstream: container.go (`addCPUSample`)
    pub fn add_cpu_sample(
        &mut self,
        agg: &mut AggregateContainerState,
        start: SimTime,
        usage_milli: i64,
    ) -> bool {
        if usage_milli < 0 || self.last_cpu_sample_start.is_some_and(|l| start <= l) {
            return false;
        }
        agg.add_cpu_sample(start, usage_milli, self.request_cpu_milli);
        self.last_cpu_sample_start = Some(start);
        true
    }

    /// Adds a memory usage sample: one peak per interval is kept in `agg`, stamped with the
    /// interval's end; a larger sample within the interval replaces the peak.
    ///
    /// Upstream: container.go (`addMemorySample`)
    pub fn add_memory_sample(
        &mut self,
        agg: &mut AggregateContainerState,
        start: SimTime,
        bytes: i64,
    ) -> bool {
        self.add_memory(agg, start, bytes, false)
    }

    fn add_memory(
        &mut self,
        agg: &mut AggregateContainerState,
        ts: SimTime,
        bytes: i64,
        is_oom: bool,
    ) -> bool {
        if bytes < 0 || (!is_oom && self.last_memory_sample_start.is_some_and(|l| ts < l)) {
            return false;
        }
        self.last_memory_sample_start = Some(ts);
        let window_end = *self.window_end.get_or_insert(ts);
        let mut add_new_peak = false;
        if ts < window_end {
            let old = self.max_memory_peak();
            if old != 0 && bytes > old {
                agg.subtract_memory_peak(window_end, old);
                add_new_peak = true;
            }
        } else {
            let interval = agg.config.memory_aggregation_interval_ms;
            let shift = ts.since(window_end) / interval * interval + interval;
            self.window_end = Some(window_end.plus_millis(shift));
            self.memory_peak = 0;
            self.oom_peak = 0;
            add_new_peak = true;
        }
        if add_new_peak {
            agg.add_memory_peak(self.window_end.expect("set above"), bytes);
            if is_oom {
                self.oom_peak = bytes;
            } else {
                self.memory_peak = bytes;
            }
        }
        true
    }

    /// Records an OOM kill at `time` as a memory sample of
    /// `max(used + oom_min_bump_up, used * oom_bump_up_ratio)` where `used` is
    /// `max(memory request, current usage peak)`.
    ///
    /// Upstream: container.go (`RecordOOM`)
    pub fn record_oom(
        &mut self,
        agg: &mut AggregateContainerState,
        time: SimTime,
    ) -> Result<(), OomError> {
        let interval = agg.config.memory_aggregation_interval_ms;
        if let Some(last) = self.last_memory_sample_start
            && time.as_millis() < last.as_millis().saturating_sub(interval)
        {
            return Err(OomError::TooOld);
        }
        let used = self.request_memory.max(self.memory_peak);
        let bumped = super::resource_amount_from_f64(agg.config.oom_min_bump_up_bytes);
        let needed = (used + bumped).max(scale_resource(used, agg.config.oom_bump_up_ratio));
        if self.add_memory(agg, time, needed, true) {
            Ok(())
        } else {
            Err(OomError::Rejected)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: i64 = 1024 * 1024;

    fn agg() -> AggregateContainerState {
        AggregateContainerState::new(AggregationsConfig::default(), SimTime::ZERO)
    }

    #[test]
    fn defaults_match_upstream() {
        let c = AggregationsConfig::default();
        assert_eq!(c.memory_aggregation_interval_ms, 86_400_000);
        assert_eq!(c.memory_aggregation_window_ms(), 8 * 86_400_000);
        assert_eq!(c.oom_bump_up_ratio, 1.2);
        assert_eq!(c.oom_min_bump_up_bytes, 104_857_600.0);
        assert_eq!(HISTOGRAM_EPSILON, 0.0001);
    }

    #[test]
    fn cpu_samples_track_times_and_count() {
        let mut a = agg();
        let mut c = ContainerState::new(1000, 0);
        let t = SimTime::from_secs(1000);
        assert!(c.add_cpu_sample(&mut a, t, 500));
        assert!(!c.add_cpu_sample(&mut a, t, 500), "duplicate discarded");
        assert!(
            !c.add_cpu_sample(&mut a, t.plus_millis(60_000), -1),
            "negative"
        );
        assert!(c.add_cpu_sample(&mut a, t.plus_millis(60_000), 700));
        assert_eq!(a.total_samples_count, 2);
        assert_eq!(a.first_sample_start, Some(t));
        assert_eq!(a.last_sample_start, Some(t.plus_millis(60_000)));
        // Constant weight 0.1 per sample (VPA >= 1.4), decayed against a reference at 0.
        let f = |s: f64| (s / 86_400.0).exp2();
        let expected = 0.1 * f(1000.0) + 0.1 * f(1060.0);
        assert!((a.cpu_usage.histogram().total_weight() - expected).abs() < 1e-12);
    }

    #[test]
    fn cpu_weight_by_request_when_enabled() {
        let cfg = AggregationsConfig {
            weight_cpu_by_request: true,
            ..Default::default()
        };
        let mut a = AggregateContainerState::new(cfg, SimTime::ZERO);
        a.add_cpu_sample(SimTime::ZERO, 100, 2000);
        a.add_cpu_sample(SimTime::ZERO, 100, 10);
        // 2.0 cores, then max(0.01, 0.1) = 0.1.
        assert!((a.cpu_usage.histogram().total_weight() - 2.1).abs() < 1e-12);
    }

    // container_test.go: TestAggregateContainerUsageSamples-like memory peak behaviour.
    #[test]
    fn memory_peak_per_interval() {
        let mut a = agg();
        let mut c = ContainerState::new(0, 0);
        let day = 86_400_000;
        let t0 = SimTime::from_millis(10 * day);
        assert!(c.add_memory_sample(&mut a, t0, 100 * MB));
        assert_eq!(c.window_end, Some(t0.plus_millis(day)));
        // Larger sample within the interval replaces the peak: still one peak of weight 1.
        assert!(c.add_memory_sample(&mut a, t0.plus_millis(1000), 300 * MB));
        assert!((a.memory_peaks.histogram().total_weight() - 1.0).abs() < 1e-9);
        // Smaller sample changes nothing.
        assert!(c.add_memory_sample(&mut a, t0.plus_millis(2000), 200 * MB));
        assert_eq!(c.max_memory_peak(), 300 * MB);
        // Out-of-order sample discarded.
        assert!(!c.add_memory_sample(&mut a, t0, 900 * MB));
        // Next interval: a new peak; the window jumps by whole intervals.
        assert!(c.add_memory_sample(&mut a, t0.plus_millis(3 * day + 5), 50 * MB));
        assert_eq!(c.window_end, Some(t0.plus_millis(4 * day)));
        assert_eq!(c.max_memory_peak(), 50 * MB);
        assert!(a.memory_peaks.histogram().total_weight() > 1.0);
        let p = a.memory_peaks.percentile(1.0);
        assert!(p > 300.0 * MB as f64 && p < 1.1 * 300.0 * MB as f64, "{p}");
    }

    #[test]
    fn oom_bump() {
        let mut a = agg();
        // Small usage: the 100 MiB minimum wins.
        let mut c = ContainerState::new(0, 200 * MB);
        let t = SimTime::from_secs(100);
        c.add_memory_sample(&mut a, t, 150 * MB);
        c.record_oom(&mut a, t.plus_millis(1000)).unwrap();
        assert_eq!(c.max_memory_peak(), 300 * MB);
        // Large request: the 1.2 ratio wins.
        let mut a2 = agg();
        let mut c2 = ContainerState::new(0, 1000 * MB);
        c2.record_oom(&mut a2, t).unwrap();
        assert_eq!(c2.max_memory_peak(), 1200 * MB);
        // A later OOM within the interval uses the usage peak, not the OOM peak.
        c2.record_oom(&mut a2, t.plus_millis(1)).unwrap();
        assert_eq!(c2.max_memory_peak(), 1200 * MB);
    }

    #[test]
    fn old_oom_discarded() {
        let mut a = agg();
        let mut c = ContainerState::new(0, 100 * MB);
        let day = 86_400_000;
        c.add_memory_sample(&mut a, SimTime::from_millis(10 * day), 100 * MB);
        assert_eq!(
            c.record_oom(&mut a, SimTime::from_millis(8 * day)),
            Err(OomError::TooOld)
        );
        assert!(c.record_oom(&mut a, SimTime::from_millis(9 * day)).is_ok());
    }

    #[test]
    fn confidence_and_expiry() {
        let mut a = agg();
        let mut t = SimTime::ZERO;
        for _ in 0..9 {
            a.add_cpu_sample(t, 1000, 0);
            t = t.plus_millis(120_000);
        }
        // estimator_test.go: 9 samples / 1440 minutes.
        assert_eq!(a.confidence(86_400_000), 0.00625);
        assert_eq!(a.confidence(18 * 60_000), 0.5);
        assert!(!a.is_expired(SimTime::from_millis(8 * 86_400_000)));
        assert!(a.is_expired(SimTime::from_millis(16 * 60_000 + 8 * 86_400_000)));
    }

    #[test]
    fn merge_combines_histograms_and_times() {
        let mut a = agg();
        let mut b = agg();
        a.add_cpu_sample(SimTime::from_secs(100), 1000, 0);
        b.add_cpu_sample(SimTime::from_secs(50), 3000, 0);
        b.add_cpu_sample(SimTime::from_secs(200), 3000, 0);
        a.merge(&b);
        assert_eq!(a.total_samples_count, 3);
        assert_eq!(a.first_sample_start, Some(SimTime::from_secs(50)));
        assert_eq!(a.last_sample_start, Some(SimTime::from_secs(200)));
        assert!(a.cpu_usage.percentile(0.9) > 3.0);
    }
}
