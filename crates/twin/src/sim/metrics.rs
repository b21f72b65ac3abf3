//! The metrics pipeline as the HPA sees it: a metrics-server-like scrape of every pod's CPU and
//! memory every `RESOLUTION_MS`, each sample the average over the window since the previous
//! scrape (metrics-server `--metric-resolution`, default 15 s since v0.6; the kubelet's
//! resource metrics are rates over a similar window). Samples keep their timestamp and window,
//! so consumers see metrics exactly as stale as upstream's.

use kscale_model::SimTime;

use super::{Event, Sim};

/// Scrape period: 15 s (metrics-server default `--metric-resolution`).
pub const RESOLUTION_MS: u64 = 15_000;

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

/// The resource metrics API (`metrics.k8s.io`) of the twin: the scrape loop's state (the
/// samples themselves are on the pods, `Pod::sample`).
#[derive(Debug, Default, Clone)]
pub struct MetricsApi {
    /// Time of the previous scrape.
    pub last_scrape: SimTime,
    /// The scrape loop is running.
    pub running: bool,
    /// Scratch of the scrape, kept between scrapes (all `None` outside one): per pod-table
    /// slot, its cohort's CPU accumulator, and the slots set.
    pub cohort_usage: (Vec<Option<f64>>, Vec<usize>),
}

impl Sim {
    /// Starts the scrape loop (once).
    pub fn start_metrics(&mut self) {
        if !self.metrics.running {
            self.metrics.running = true;
            self.queue
                .push(self.now.plus_millis(RESOLUTION_MS), Event::MetricsScrape);
        }
    }

    /// metrics-server scrapes: every running pod gets a sample (kept on the pod, where the HPA
    /// reads it without a lookup); pods that are not running lose theirs.
    pub fn metrics_scrape(&mut self) {
        let now = self.now;
        let window = now.since(self.metrics.last_scrape).max(1);
        let (mut cohort, mut written) = std::mem::take(&mut self.metrics.cohort_usage);
        self.take_cohort_usage(&mut cohort, &mut written);
        let secs = window as f64 / 1000.0;
        // The HPA's views are filed in the same walk, while the HPA syncs.
        let mut views = self.hpa_syncing.then_some(&mut self.hpa_views);
        if let Some(v) = views.as_deref_mut() {
            v.start();
        }
        for (i, p) in self.pods.slots_mut() {
            let own = p.usage.take();
            // A cohort member's accumulator is its cohort's (it replaces the pod's own).
            let (cpu_ms, mem) = match cohort.get(i).copied().flatten() {
                Some(acc) => (acc, 0.0),
                None => own.unwrap_or((0.0, 0.0)),
            };
            p.sample = if p.started_at.is_some() && p.node.is_some() {
                let memory = if mem > 0.0 {
                    mem
                } else {
                    p.sample.map(|s| s.memory).unwrap_or(0.0)
                };
                Some(PodSample {
                    cpu_milli: cpu_ms / secs,
                    memory,
                    timestamp: now,
                    window_ms: window,
                })
            } else {
                None
            };
            if let Some(v) = views.as_deref_mut() {
                v.add(p, now);
            }
        }
        if let Some(v) = views {
            v.finish(now, self.pods.mutations());
        }
        for i in written.drain(..) {
            cohort[i] = None;
        }
        self.metrics.cohort_usage = (cohort, written);
        self.metrics.last_scrape = now;
        let next = now.plus_millis(RESOLUTION_MS);
        if next <= self.end {
            self.queue.push(next, Event::MetricsScrape);
        }
    }
}
