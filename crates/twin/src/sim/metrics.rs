//! The metrics pipeline as the HPA sees it: a metrics-server-like scrape of every pod's CPU and
//! memory every `RESOLUTION_MS`, each sample the average over the window since the previous
//! scrape (metrics-server `--metric-resolution`, default 15 s since v0.6; the kubelet's
//! resource metrics are rates over a similar window). Samples keep their timestamp and window,
//! so consumers see metrics exactly as stale as upstream's.

use std::collections::BTreeMap;

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

/// The resource metrics API (`metrics.k8s.io`) of the twin.
#[derive(Debug, Default, Clone)]
pub struct MetricsApi {
    /// Latest sample per pod id.
    pub pods: BTreeMap<u64, PodSample>,
    /// Time of the previous scrape.
    pub last_scrape: SimTime,
    /// The scrape loop is running.
    pub running: bool,
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

    /// metrics-server scrapes: every running pod gets a sample; pods that are gone are dropped.
    pub fn metrics_scrape(&mut self) {
        let now = self.now;
        let window = now.since(self.metrics.last_scrape).max(1);
        self.flush_usage_cohorts();
        let acc = std::mem::take(&mut self.usage_acc);
        let old = std::mem::take(&mut self.metrics.pods);
        // The pods, the accumulators and the previous samples are all keyed by pod id: one
        // merged walk in id order instead of two map lookups per pod, and a bulk build of the
        // new map, not one insertion per pod.
        let mut acc = acc.into_iter().peekable();
        let mut old = old.into_iter().peekable();
        let secs = window as f64 / 1000.0;
        let pods: BTreeMap<u64, PodSample> = self
            .pods
            .iter()
            .filter(|(_, p)| p.started_at.is_some() && p.node.is_some())
            .map(|(id, _)| {
                let (cpu_ms, mem) = seek(&mut acc, *id).unwrap_or((0.0, 0.0));
                let previous = seek(&mut old, *id);
                let mem = if mem > 0.0 {
                    mem
                } else {
                    previous.map(|s| s.memory).unwrap_or(0.0)
                };
                (
                    *id,
                    PodSample {
                        cpu_milli: cpu_ms / secs,
                        memory: mem,
                        timestamp: now,
                        window_ms: window,
                    },
                )
            })
            .collect();
        self.metrics.pods = pods;
        self.metrics.last_scrape = now;
        let next = now.plus_millis(RESOLUTION_MS);
        if next <= self.end {
            self.queue.push(next, Event::MetricsScrape);
        }
    }
}

/// The value for `id` in an iterator sorted by id, skipping (and dropping) smaller ids; the
/// walk's ids only grow.
fn seek<V>(it: &mut std::iter::Peekable<impl Iterator<Item = (u64, V)>>, id: u64) -> Option<V> {
    while it.next_if(|(k, _)| *k < id).is_some() {}
    it.next_if(|(k, _)| *k == id).map(|(_, v)| v)
}
