//! Histograms of usage samples: bucket schemes, the plain histogram and the decaying one.

use kscale_model::SimTime;

/// How values map to buckets.
///
/// Upstream: vertical-pod-autoscaler/pkg/recommender/util/histogram_options.go
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum HistogramOptions {
    /// Buckets of equal size: bucket `i` starts at `i * bucket_size`.
    Linear {
        /// Number of buckets.
        num_buckets: usize,
        /// Size of every bucket.
        bucket_size: f64,
        /// Weights below this count as zero.
        epsilon: f64,
    },
    /// Each bucket `ratio` times larger than the previous one; bucket 1 starts at
    /// `first_bucket_size`.
    Exponential {
        /// Number of buckets.
        num_buckets: usize,
        /// Size of bucket 0.
        first_bucket_size: f64,
        /// Growth ratio (> 1).
        ratio: f64,
        /// Weights below this count as zero.
        epsilon: f64,
    },
}

/// Invalid histogram options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidOptions;

impl HistogramOptions {
    /// Linear buckets covering `[0, max_value]`.
    ///
    /// Upstream: histogram_options.go (`NewLinearHistogramOptions`)
    pub fn linear(max_value: f64, bucket_size: f64, epsilon: f64) -> Result<Self, InvalidOptions> {
        if max_value <= 0.0 || bucket_size <= 0.0 || epsilon <= 0.0 {
            return Err(InvalidOptions);
        }
        Ok(HistogramOptions::Linear {
            num_buckets: (max_value / bucket_size).ceil() as usize + 1,
            bucket_size,
            epsilon,
        })
    }

    /// Exponential buckets covering `[0, max_value]`.
    ///
    /// Upstream: histogram_options.go (`NewExponentialHistogramOptions`)
    pub fn exponential(
        max_value: f64,
        first_bucket_size: f64,
        ratio: f64,
        epsilon: f64,
    ) -> Result<Self, InvalidOptions> {
        if max_value <= 0.0 || first_bucket_size <= 0.0 || ratio <= 1.0 || epsilon <= 0.0 {
            return Err(InvalidOptions);
        }
        let n = log(ratio, max_value * (ratio - 1.0) / first_bucket_size + 1.0).ceil() as usize + 1;
        Ok(HistogramOptions::Exponential {
            num_buckets: n,
            first_bucket_size,
            ratio,
            epsilon,
        })
    }

    /// Number of buckets.
    pub fn num_buckets(&self) -> usize {
        match *self {
            HistogramOptions::Linear { num_buckets, .. }
            | HistogramOptions::Exponential { num_buckets, .. } => num_buckets,
        }
    }

    /// The minimal weight a bucket must hold to count as non-empty.
    pub fn epsilon(&self) -> f64 {
        match *self {
            HistogramOptions::Linear { epsilon, .. }
            | HistogramOptions::Exponential { epsilon, .. } => epsilon,
        }
    }

    /// The bucket holding `value` (clamped to the first and last bucket).
    pub fn find_bucket(&self, value: f64) -> usize {
        match *self {
            HistogramOptions::Linear {
                num_buckets,
                bucket_size,
                ..
            } => {
                let b = (value / bucket_size) as i64;
                b.clamp(0, num_buckets as i64 - 1) as usize
            }
            HistogramOptions::Exponential {
                num_buckets,
                first_bucket_size,
                ratio,
                ..
            } => {
                if value < first_bucket_size {
                    return 0;
                }
                let b = log(ratio, value * (ratio - 1.0) / first_bucket_size + 1.0) as usize;
                b.min(num_buckets - 1)
            }
        }
    }

    /// The smallest value of `bucket`. Panics if out of range, like upstream.
    pub fn bucket_start(&self, bucket: usize) -> f64 {
        assert!(
            bucket < self.num_buckets(),
            "index {bucket} out of range [0..{}]",
            self.num_buckets() - 1
        );
        match *self {
            HistogramOptions::Linear { bucket_size, .. } => bucket as f64 * bucket_size,
            HistogramOptions::Exponential {
                first_bucket_size,
                ratio,
                ..
            } => {
                if bucket == 0 {
                    0.0
                } else {
                    first_bucket_size * (ratio.powf(bucket as f64) - 1.0) / (ratio - 1.0)
                }
            }
        }
    }
}

fn log(base: f64, x: f64) -> f64 {
    x.ln() / base.ln()
}

/// A histogram of weighted samples.
///
/// Upstream: vertical-pod-autoscaler/pkg/recommender/util/histogram.go
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    options: HistogramOptions,
    bucket_weight: Vec<f64>,
    total_weight: f64,
    min_bucket: usize,
    max_bucket: usize,
}

impl Histogram {
    /// An empty histogram.
    pub fn new(options: HistogramOptions) -> Self {
        let n = options.num_buckets();
        Histogram {
            options,
            bucket_weight: vec![0.0; n],
            total_weight: 0.0,
            min_bucket: n - 1,
            max_bucket: 0,
        }
    }

    /// The bucket scheme.
    pub fn options(&self) -> &HistogramOptions {
        &self.options
    }

    /// Sum of all weights.
    pub fn total_weight(&self) -> f64 {
        self.total_weight
    }

    /// Adds `weight` (≥ 0) to the bucket of `value`.
    pub fn add_sample(&mut self, value: f64, weight: f64) {
        assert!(weight >= 0.0, "sample weight must be non-negative");
        let b = self.options.find_bucket(value);
        let eps = self.options.epsilon();
        self.bucket_weight[b] += weight;
        self.total_weight += weight;
        if b < self.min_bucket && self.bucket_weight[b] >= eps {
            self.min_bucket = b;
        }
        if b > self.max_bucket && self.bucket_weight[b] >= eps {
            self.max_bucket = b;
        }
    }

    /// Removes `weight` from the bucket of `value` (weights below epsilon become 0).
    pub fn subtract_sample(&mut self, value: f64, weight: f64) {
        assert!(weight >= 0.0, "sample weight must be non-negative");
        let b = self.options.find_bucket(value);
        let eps = self.options.epsilon();
        self.total_weight = safe_subtract(self.total_weight, weight, eps);
        self.bucket_weight[b] = safe_subtract(self.bucket_weight[b], weight, eps);
        self.update_min_max();
    }

    /// Adds every bucket of `other` (same options) to this histogram.
    pub fn merge(&mut self, other: &Histogram) {
        assert!(
            self.options == other.options,
            "can't merge histograms with different options"
        );
        for b in other.min_bucket..=other.max_bucket {
            self.bucket_weight[b] += other.bucket_weight[b];
        }
        self.total_weight += other.total_weight;
        self.min_bucket = self.min_bucket.min(other.min_bucket);
        self.max_bucket = self.max_bucket.max(other.max_bucket);
    }

    /// The start of the bucket after the one where the cumulative weight reaches
    /// `percentile * total` (the last bucket's own start); 0 if empty.
    pub fn percentile(&self, percentile: f64) -> f64 {
        if self.is_empty() {
            return 0.0;
        }
        let threshold = percentile * self.total_weight;
        let mut partial = 0.0;
        let mut b = self.min_bucket;
        while b < self.max_bucket {
            partial += self.bucket_weight[b];
            if partial >= threshold {
                break;
            }
            b += 1;
        }
        if b < self.options.num_buckets() - 1 {
            self.options.bucket_start(b + 1)
        } else {
            self.options.bucket_start(b)
        }
    }

    /// True if the smallest tracked bucket holds less than epsilon.
    pub fn is_empty(&self) -> bool {
        self.bucket_weight[self.min_bucket] < self.options.epsilon()
    }

    /// Same options, same min/max buckets and weights equal within 1e-15 (upstream `Equals`).
    pub fn equals(&self, other: &Histogram) -> bool {
        if self.options != other.options
            || self.min_bucket != other.min_bucket
            || self.max_bucket != other.max_bucket
        {
            return false;
        }
        (self.min_bucket..=self.max_bucket)
            .all(|b| (self.bucket_weight[b] - other.bucket_weight[b]).abs() <= 1e-15)
    }

    fn update_min_max(&mut self) {
        let eps = self.options.epsilon();
        let last = self.options.num_buckets() - 1;
        while self.bucket_weight[self.min_bucket] < eps && self.min_bucket < last {
            self.min_bucket += 1;
        }
        while self.bucket_weight[self.max_bucket] < eps && self.max_bucket > 0 {
            self.max_bucket -= 1;
        }
    }

    fn scale(&mut self, factor: f64) {
        assert!(factor >= 0.0, "scale factor must be non-negative");
        for b in self.min_bucket..=self.max_bucket {
            self.bucket_weight[b] *= factor;
        }
        self.total_weight *= factor;
        self.update_min_max();
    }
}

fn safe_subtract(value: f64, sub: f64, eps: f64) -> f64 {
    let v = value - sub;
    if v < eps { 0.0 } else { v }
}

/// Decay factors above 2^this trigger a shift of the reference time.
const MAX_DECAY_EXPONENT: u64 = 100;

/// A histogram whose samples lose half their weight every `half_life`: a sample at time `t`
/// is stored with weight `w * 2^((t - reference) / half_life)`.
///
/// Upstream: vertical-pod-autoscaler/pkg/recommender/util/decaying_histogram.go
#[derive(Clone, Debug, PartialEq)]
pub struct DecayingHistogram {
    histogram: Histogram,
    half_life_ms: u64,
    /// `None` is upstream's zero time: the first sample always shifts the reference.
    reference: Option<SimTime>,
}

impl DecayingHistogram {
    /// An empty decaying histogram.
    pub fn new(options: HistogramOptions, half_life_ms: u64) -> Self {
        assert!(half_life_ms > 0, "half life must be positive");
        DecayingHistogram {
            histogram: Histogram::new(options),
            half_life_ms,
            reference: None,
        }
    }

    /// The underlying (scaled) histogram.
    pub fn histogram(&self) -> &Histogram {
        &self.histogram
    }

    /// The reference time (`None` before the first sample).
    pub fn reference(&self) -> Option<SimTime> {
        self.reference
    }

    /// See [`Histogram::percentile`].
    pub fn percentile(&self, percentile: f64) -> f64 {
        self.histogram.percentile(percentile)
    }

    /// See [`Histogram::is_empty`].
    pub fn is_empty(&self) -> bool {
        self.histogram.is_empty()
    }

    /// Adds a sample taken at `time`.
    pub fn add_sample(&mut self, value: f64, weight: f64, time: SimTime) {
        let f = self.decay_factor(time);
        self.histogram.add_sample(value, weight * f);
    }

    /// Subtracts a sample taken at `time`.
    pub fn subtract_sample(&mut self, value: f64, weight: f64, time: SimTime) {
        let f = self.decay_factor(time);
        self.histogram.subtract_sample(value, weight * f);
    }

    /// Merges `other` (same half-life) after aligning both reference times to the later one.
    pub fn merge(&mut self, other: &DecayingHistogram) {
        assert!(
            self.half_life_ms == other.half_life_ms,
            "can't merge decaying histograms with different half life periods"
        );
        let mut o = other.clone();
        match (self.reference, o.reference) {
            (None, Some(r)) => self.shift_reference(r),
            (Some(r), None) => o.shift_reference(r),
            (Some(a), Some(b)) if a < b => self.shift_reference(b),
            (Some(a), Some(b)) if b < a => o.shift_reference(a),
            _ => {}
        }
        self.histogram.merge(&o.histogram);
    }

    /// Same half-life, reference and buckets (upstream `Equals`).
    pub fn equals(&self, other: &DecayingHistogram) -> bool {
        self.half_life_ms == other.half_life_ms
            && self.reference == other.reference
            && self.histogram.equals(&other.histogram)
    }

    /// Moves the reference to `new_ref` rounded to a multiple of the half-life (halves round
    /// up, like Go's `Time.Round`) and rescales stored weights by `2^(old - new)`.
    fn shift_reference(&mut self, new_ref: SimTime) {
        let hl = self.half_life_ms;
        let rounded = SimTime::from_millis((new_ref.as_millis() + hl / 2) / hl * hl);
        match self.reference {
            // From the zero time the factor underflows to 0: only an empty histogram can get
            // here (every sample sets the reference).
            None => self.histogram.scale(0.0),
            Some(old) => {
                let exp = ((old.as_millis() as f64 - rounded.as_millis() as f64) / hl as f64 + 0.5)
                    .floor();
                self.histogram.scale(2f64.powi(exp as i32));
            }
        }
        self.reference = Some(rounded);
    }

    fn decay_factor(&mut self, t: SimTime) -> f64 {
        let too_late = match self.reference {
            None => true,
            Some(r) => t > r.plus_millis(self.half_life_ms.saturating_mul(MAX_DECAY_EXPONENT)),
        };
        if too_late {
            self.shift_reference(t);
        }
        let r = self.reference.expect("set above");
        ((t.as_millis() as f64 - r.as_millis() as f64) / self.half_life_ms as f64).exp2()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALUE_EPS: f64 = 1e-15;
    const WEIGHT_EPS: f64 = 1e-15;
    const HOUR: u64 = 3_600_000;

    fn test_options() -> HistogramOptions {
        HistogramOptions::linear(10.0, 1.0, WEIGHT_EPS).unwrap()
    }

    fn in_epsilon(expected: f64, actual: f64, eps: f64) {
        let rel = ((expected - actual) / expected).abs();
        assert!(rel <= eps, "expected {expected}, got {actual}");
    }

    // histogram_options_test.go
    #[test]
    fn linear_histogram_options() {
        let o = HistogramOptions::linear(5.0, 0.3, 0.001).unwrap();
        assert_eq!(o.epsilon(), 0.001);
        assert_eq!(o.num_buckets(), 18);
        assert_eq!(o.bucket_start(0), 0.0);
        assert_eq!(o.bucket_start(17), 5.1);
        assert_eq!(o.find_bucket(-1.0), 0);
        assert_eq!(o.find_bucket(0.0), 0);
        assert_eq!(o.find_bucket(1.3), 4);
        assert_eq!(o.find_bucket(100.0), 17);
    }

    #[test]
    fn exponential_histogram_options() {
        let o = HistogramOptions::exponential(500.0, 40.0, 1.5, 0.001).unwrap();
        assert_eq!(o.epsilon(), 0.001);
        assert_eq!(o.num_buckets(), 6);
        for (b, v) in [
            (0, 0.0),
            (1, 40.0),
            (2, 100.0),
            (3, 190.0),
            (4, 325.0),
            (5, 527.5),
        ] {
            assert_eq!(o.bucket_start(b), v, "bucket {b}");
        }
        assert_eq!(o.find_bucket(-1.0), 0);
        assert_eq!(o.find_bucket(39.99), 0);
        assert_eq!(o.find_bucket(40.0), 1);
        assert_eq!(o.find_bucket(100.0), 2);
        assert_eq!(o.find_bucket(900.0), 5);
    }

    #[test]
    fn invalid_options_rejected() {
        assert!(HistogramOptions::exponential(1.0, 0.1, 1.0, 0.1).is_err());
        assert!(HistogramOptions::linear(0.0, 0.1, 0.1).is_err());
    }

    // histogram_test.go
    #[test]
    fn percentiles_empty_histogram() {
        let h = Histogram::new(test_options());
        for p in [-0.5, 0.0, 0.5, 1.0, 1.5] {
            assert_eq!(h.percentile(p), 0.0);
        }
    }

    #[test]
    fn percentiles() {
        let mut h = Histogram::new(test_options());
        for i in 1..=4 {
            h.add_sample(i as f64, i as f64);
        }
        let table = [
            (0.0, 2.0),
            (0.1, 2.0),
            (0.2, 3.0),
            (0.3, 3.0),
            (0.4, 4.0),
            (0.5, 4.0),
            (0.6, 4.0),
            (0.7, 5.0),
            (0.8, 5.0),
            (0.9, 5.0),
            (1.0, 5.0),
        ];
        for (p, v) in table {
            in_epsilon(v, h.percentile(p), VALUE_EPS);
        }
    }

    #[test]
    fn percentile_out_of_bounds() {
        let o = HistogramOptions::linear(1.0, 0.1, WEIGHT_EPS).unwrap();
        let mut h = Histogram::new(o);
        h.add_sample(0.1, 0.1);
        h.add_sample(0.2, 0.2);
        in_epsilon(0.2, h.percentile(-0.1), VALUE_EPS);
        in_epsilon(0.3, h.percentile(1.1), VALUE_EPS);
        h.add_sample(0.0, 0.1);
        h.add_sample(1.0, 0.2);
        in_epsilon(0.1, h.percentile(-0.1), VALUE_EPS);
        in_epsilon(1.0, h.percentile(1.1), VALUE_EPS);
    }

    #[test]
    fn empty_histogram() {
        let o = HistogramOptions::linear(1.0, 0.1, WEIGHT_EPS).unwrap();
        let mut h = Histogram::new(o);
        assert!(h.is_empty());
        h.add_sample(0.1, WEIGHT_EPS * 2.5);
        assert!(!h.is_empty());
        h.subtract_sample(0.1, WEIGHT_EPS);
        assert!(!h.is_empty());
        h.subtract_sample(0.1, WEIGHT_EPS);
        assert!(h.is_empty());
    }

    #[test]
    fn non_empty_on_epsilon_addition() {
        let o = HistogramOptions::linear(1.0, 0.1, WEIGHT_EPS).unwrap();
        let mut h = Histogram::new(o);
        assert!(h.is_empty());
        h.add_sample(9.9, WEIGHT_EPS * 3.0);
        assert!(!h.is_empty());
        h.add_sample(0.1, WEIGHT_EPS * 0.3);
        assert!(!h.is_empty());
        h.add_sample(999.9, WEIGHT_EPS * 0.3);
        assert!(!h.is_empty());
    }

    #[test]
    fn histogram_merge() {
        let mut h1 = Histogram::new(test_options());
        h1.add_sample(1.0, 1.0);
        h1.add_sample(2.0, 1.0);
        let mut h2 = Histogram::new(test_options());
        h2.add_sample(2.0, 1.0);
        h2.add_sample(3.0, 1.0);
        let mut expected = Histogram::new(test_options());
        for v in [1.0, 2.0, 2.0, 3.0] {
            expected.add_sample(v, 1.0);
        }
        assert!(!h1.equals(&expected));
        h1.merge(&h2);
        assert!(h1.equals(&expected));
    }

    // decaying_histogram_test.go
    fn start() -> SimTime {
        SimTime::from_secs(1_234_567_890)
    }

    #[test]
    fn percentiles_empty_decaying_histogram() {
        let h = DecayingHistogram::new(test_options(), HOUR);
        for p in [-0.5, 0.0, 0.5, 1.0, 1.5] {
            assert_eq!(h.percentile(p), 0.0);
        }
    }

    #[test]
    fn simple_decay() {
        let mut h = DecayingHistogram::new(test_options(), HOUR);
        h.add_sample(2.0, 1000.0, start());
        h.add_sample(1.0, 1.0, start().plus_millis(20 * HOUR));
        in_epsilon(2.0, h.percentile(0.999), VALUE_EPS);
        in_epsilon(3.0, h.percentile(1.0), VALUE_EPS);
    }

    #[test]
    fn longterm_decay() {
        let mut h = DecayingHistogram::new(test_options(), HOUR);
        h.add_sample(2.0, 1.0, start());
        h.add_sample(1.0, 1.0, start().plus_millis(101 * HOUR));
        in_epsilon(2.0, h.percentile(1.0), VALUE_EPS);
    }

    #[test]
    fn decaying_histogram_percentiles() {
        let mut h = DecayingHistogram::new(test_options(), HOUR);
        let mut t = start();
        for i in 1..=4 {
            h.add_sample(i as f64, i as f64, t);
            t = t.plus_millis(HOUR);
        }
        let table = [
            (0.00, 2.0),
            (0.02, 2.0),
            (0.03, 3.0),
            (0.10, 3.0),
            (0.11, 4.0),
            (0.34, 4.0),
            (0.35, 5.0),
            (1.00, 5.0),
        ];
        for (p, v) in table {
            in_epsilon(v, h.percentile(p), VALUE_EPS);
        }
    }

    #[test]
    fn no_decay() {
        let mut h = DecayingHistogram::new(test_options(), HOUR);
        for i in 1..=4 {
            h.add_sample(i as f64, i as f64, start());
        }
        let table = [
            (0.0, 2.0),
            (0.2, 3.0),
            (0.1, 2.0),
            (0.3, 3.0),
            (0.4, 4.0),
            (0.5, 4.0),
            (0.6, 4.0),
            (0.7, 5.0),
            (0.8, 5.0),
            (0.9, 5.0),
            (1.0, 5.0),
        ];
        for (p, v) in table {
            in_epsilon(v, h.percentile(p), VALUE_EPS);
        }
    }

    #[test]
    fn decaying_histogram_merge() {
        let mut h1 = DecayingHistogram::new(test_options(), HOUR);
        h1.add_sample(1.0, 1.0, start());
        h1.add_sample(2.0, 1.0, start().plus_millis(HOUR));
        let mut h2 = DecayingHistogram::new(test_options(), HOUR);
        h2.add_sample(2.0, 1.0, start().plus_millis(2 * HOUR));
        h2.add_sample(3.0, 1.0, start().plus_millis(HOUR));
        let mut expected = DecayingHistogram::new(test_options(), HOUR);
        expected.add_sample(2.0, 1.0, start().plus_millis(2 * HOUR));
        expected.add_sample(2.0, 1.0, start().plus_millis(HOUR));
        expected.add_sample(3.0, 1.0, start().plus_millis(HOUR));
        expected.add_sample(1.0, 1.0, start());
        h1.merge(&h2);
        assert!(h1.equals(&expected));
    }

    #[test]
    fn reference_is_rounded_to_half_life_and_shifts_after_100_half_lives() {
        let mut h = DecayingHistogram::new(test_options(), HOUR);
        // 1890 s past a whole hour: Go's Round goes up.
        h.add_sample(2.0, 1.0, start());
        let r0 = h.reference().unwrap();
        assert_eq!(r0.as_millis() % HOUR, 0);
        assert_eq!(r0.as_millis(), start().as_millis() + (3600 - 1890) * 1000);
        h.add_sample(2.0, 1.0, r0.plus_millis(100 * HOUR));
        assert_eq!(
            h.reference(),
            Some(r0),
            "exactly 100 half-lives does not shift"
        );
        h.add_sample(2.0, 1.0, r0.plus_millis(101 * HOUR));
        assert_eq!(h.reference(), Some(r0.plus_millis(101 * HOUR)));
        // Weights were rescaled by 2^-101: the first sample (weight ~1) fell under epsilon and
        // was dropped, the one at +100 half-lives (2^100) now weighs 0.5; the new one 1.
        assert!((h.histogram().total_weight() - 1.5).abs() < 1e-9);
    }

    #[test]
    fn vpa_default_bucket_counts() {
        // aggregations_config.go: CPU 1000 cores / 0.01, memory 1e12 / 1e7, ratio 1.05.
        let cpu = HistogramOptions::exponential(1000.0, 0.01, 1.05, 0.0001).unwrap();
        let mem = HistogramOptions::exponential(1e12, 1e7, 1.05, 0.0001).unwrap();
        assert_eq!(cpu.num_buckets(), 176);
        assert_eq!(mem.num_buckets(), 176);
        assert_eq!(cpu.find_bucket(0.005), 0);
        assert!((cpu.bucket_start(1) - 0.01).abs() < 1e-12);
        assert!((cpu.bucket_start(2) - 0.0205).abs() < 1e-12);
    }
}
