//! The metrics pipeline as the HPA sees it: a metrics-server-like scrape of every pod's CPU and
//! memory every `RESOLUTION_MS`, each sample the average over the window since the previous
//! scrape (metrics-server `--metric-resolution`, default 15 s since v0.6; the kubelet's
//! resource metrics are rates over a similar window). Samples keep their timestamp and window,
//! so consumers see metrics exactly as stale as upstream's.
//!
//! A scrape's cost is proportional to the pods that changed, not to all pods. The ready pods
//! of a workload whose CPU is accumulated per load cohort (`aggregate.rs`) all get the same
//! sample; once such a pod is past the HPA's CPU initialization period and its sample is its
//! load's, it joins a *sample group* (per ReplicaSet view, load and template, counted, not
//! listed): its sample is the load's ([`MetricsApi::sample_of`]) and the scrape no longer
//! visits it. Any mutable access to the pod (the pod table's journal) or its removal takes it
//! out of its group at the next scrape, which then reads it one by one again, like every pod
//! that is in no group ("loose").

use std::collections::BTreeMap;
use std::sync::Arc;

use kscale_model::SimTime;

use kscale_controllers::hpa::PodObs;

use kscale_cluster::{ContainerMetrics, PodMetrics};
use kscale_model::LabelSelector;

use super::model::{ContainerT, Pod, PodPhase, PodTemplate};
use super::{Event, Sim};

/// Scrape period: 15 s (metrics-server default `--metric-resolution`).
pub const RESOLUTION_MS: u64 = 15_000;

pub use super::model::{NO_GROUP, NO_LOAD, PodSample, ScrapeMarks};

/// Pods counted together: same ReplicaSet view, load, template and canonical observation, and
/// their load's sample.
#[derive(Debug, Clone)]
pub struct SampleGroup {
    /// The pods' view (`Pod::view`).
    pub view: u32,
    /// Their load entry.
    pub load: u32,
    /// Their template.
    pub template: Arc<PodTemplate>,
    /// Their canonical HPA observation (`count`: the members).
    pub obs: PodObs,
}

/// A pod-table slot without a new cohort's accumulator in the scrape's per-slot scratch
/// (`cohort_usage`): a NaN whose payload arithmetic never makes, compared by its bits, so the
/// scratch takes 8 bytes a slot instead of an `Option`'s 16.
pub const NO_COHORT: f64 = f64::from_bits(0x7ff8_0000_dead_0001);

/// The resource metrics API (`metrics.k8s.io`) of the twin: the scrape loop's state, the
/// sample groups and the loose pods (the samples themselves are on the pods, `Pod::sample`,
/// or their load's, [`MetricsApi::sample_of`]).
#[derive(Debug, Default, Clone)]
pub struct MetricsApi {
    /// Time of the previous scrape.
    pub last_scrape: SimTime,
    /// The scrape loop is running.
    pub running: bool,
    /// Scratch of the scrape, kept between scrapes (all [`NO_COHORT`]
    /// outside one): per pod-table slot, its cohort's CPU accumulator, and the slots set.
    pub cohort_usage: (Vec<f64>, Vec<usize>),
    /// Sample groups by id (`ScrapeMarks::group`); ids of empty groups are reused.
    pub groups: Vec<SampleGroup>,
    /// Group ids by (view, load, template address): the address is only a lookup key, never
    /// iterated into an output.
    group_index: BTreeMap<(u32, u32, usize), Vec<u32>>,
    /// Ids of the groups with members, per view (in id order).
    pub view_groups: BTreeMap<u32, Vec<u32>>,
    /// The latest sample of each load entry's main cohort (a group's sample).
    load_samples: Vec<Option<PodSample>>,
    /// The pods in no group, in id order (some may be gone).
    loose: Vec<u64>,
    /// Ids of empty groups, for reuse.
    free: Vec<u32>,
    /// What the scrapes did so far (for tests and profiling; not an output).
    pub stats: ScrapeStats,
}

/// Counts of the scrapes' work (see [`MetricsApi::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScrapeStats {
    /// Scrapes.
    pub scrapes: u64,
    /// Pods read one by one.
    pub visited: u64,
    /// Pods sampled as members of a group, without a visit.
    pub grouped: u64,
}

/// Equal observations, whatever their counts.
fn same_obs(a: &PodObs, b: &PodObs) -> bool {
    a == &PodObs {
        count: a.count,
        ..b.clone()
    }
}

impl MetricsApi {
    /// A pod's latest sample: its own, or its group's.
    pub fn sample_of(&self, p: &Pod) -> Option<PodSample> {
        match p.marks.group {
            NO_GROUP => p.sample,
            g => self.group_sample(g),
        }
    }

    /// The sample of group `g`'s members (their load's).
    fn group_sample(&self, g: u32) -> Option<PodSample> {
        self.load_sample(self.groups[g as usize].load)
    }

    /// One member less in group `g`.
    fn leave(&mut self, g: u32) {
        let grp = &mut self.groups[g as usize];
        grp.obs.count -= 1;
        if grp.obs.count == 0 {
            let key = (grp.view, grp.load, Arc::as_ptr(&grp.template) as usize);
            if let Some(ids) = self.group_index.get_mut(&key) {
                ids.retain(|i| *i != g);
                if ids.is_empty() {
                    self.group_index.remove(&key);
                }
            }
            if let Some(ids) = self.view_groups.get_mut(&grp.view) {
                ids.retain(|i| *i != g);
                if ids.is_empty() {
                    self.view_groups.remove(&grp.view);
                }
            }
            self.free.push(g);
        }
    }

    /// `p` (canonical observation `obs`) joins the group of its view, load and template.
    fn join(&mut self, p: &Pod, load: u32, obs: PodObs) -> u32 {
        let key = (p.view, load, Arc::as_ptr(&p.template) as usize);
        let ids = self.group_index.entry(key).or_default();
        for &g in ids.iter() {
            let grp = &mut self.groups[g as usize];
            if Arc::ptr_eq(&grp.template, &p.template) && same_obs(&grp.obs, &obs) {
                grp.obs.count += 1;
                return g;
            }
        }
        let grp = SampleGroup {
            view: p.view,
            load,
            template: p.template.clone(),
            obs: PodObs { count: 1, ..obs },
        };
        let g = match self.free.pop() {
            Some(g) => {
                self.groups[g as usize] = grp;
                g
            }
            None => {
                self.groups.push(grp);
                u32::try_from(self.groups.len() - 1).expect("fewer than 2^32 groups")
            }
        };
        ids.push(g);
        let v = self.view_groups.entry(p.view).or_default();
        let at = v.partition_point(|i| *i < g);
        v.insert(at, g);
        g
    }

    /// The latest sample of load entry `load`'s main cohort.
    pub fn load_sample(&self, load: u32) -> Option<PodSample> {
        self.load_samples.get(load as usize).copied().flatten()
    }
}

impl Sim {
    /// The resource metrics API (`metrics.k8s.io` PodMetrics): the metrics pipeline's latest
    /// sample of each running pod in `namespace` (all when `None`) matching `sel`, split across its containers in proportion to their requests (*assumption*: the twin models
    /// usage per pod; a one-container pod's is exact), evenly when nothing is requested.
    pub fn resource_metrics_pods(
        &self,
        namespace: Option<&str>,
        sel: &LabelSelector,
    ) -> Vec<PodMetrics> {
        let sim = self;
        let mut out: Vec<PodMetrics> = sim
            .pods
            .values()
            .filter(|p| namespace.is_none_or(|n| *p.namespace == *n))
            .filter(|p| p.phase == PodPhase::Running && sel.matches(&p.labels))
            .filter_map(|p| {
                let sample = sim.metrics.sample_of(p)?;
                let running: Vec<_> = p
                    .template
                    .containers
                    .iter()
                    .filter(|c| c.replica > 0)
                    .collect();
                let share = |of: fn(&kscale_model::Resources) -> i64, c: &ContainerT| {
                    let total: i64 = running
                        .iter()
                        .map(|c| of(&c.requests) * c.replica as i64)
                        .sum();
                    if total > 0 {
                        (of(&c.requests) * c.replica as i64) as f64 / total as f64
                    } else {
                        1.0 / running.len() as f64
                    }
                };
                Some(PodMetrics {
                    namespace: p.namespace.to_string(),
                    name: p.name.to_string(),
                    timestamp_ms: sample.timestamp.0,
                    window_ms: sample.window_ms,
                    containers: running
                        .iter()
                        .map(|c| ContainerMetrics {
                            name: c.name.clone(),
                            cpu_milli: sample.cpu_milli * share(|r| r.cpu_milli, c),
                            memory_bytes: sample.memory * share(|r| r.memory, c),
                        })
                        .collect(),
                })
            })
            .collect();
        out.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        out
    }

    /// Starts the scrape loop (once).
    pub fn start_metrics(&mut self) {
        if !self.metrics.running {
            self.metrics.running = true;
            self.queue
                .push(self.now.plus_millis(RESOLUTION_MS), Event::MetricsScrape);
        }
    }

    /// metrics-server scrapes: every running pod gets a sample (on the pod, or its group's);
    /// pods that are not running lose theirs. Only the loose pods and those changed since the
    /// last scrape are visited (see the module documentation).
    pub fn metrics_scrape(&mut self) {
        let now = self.now;
        let window = now.since(self.metrics.last_scrape).max(1);
        let secs = window as f64 / 1000.0;
        // Pods changed since the last scrape leave their groups, keeping the group's sample
        // as their own (the previous sample's memory is read below).
        let (mut touched, departed) = self.pods.take_journal();
        for g in departed {
            self.metrics.leave(g);
        }
        for &id in &touched {
            let Some(p) = self.pods.get_quiet_mut(id) else {
                continue;
            };
            p.marks.touched = false;
            if p.marks.group != NO_GROUP {
                let g = std::mem::replace(&mut p.marks.group, NO_GROUP);
                p.sample = self.metrics.group_sample(g);
                self.metrics.leave(g);
            }
        }
        let (mut cohort, mut written) = std::mem::take(&mut self.metrics.cohort_usage);
        let main = self.take_cohort_usage(&mut cohort, &mut written);
        // A main cohort member's sample (every group member's).
        self.metrics.load_samples = main
            .iter()
            .map(|acc| {
                acc.map(|acc| PodSample {
                    cpu_milli: acc / secs,
                    memory: 0.0,
                    timestamp: now,
                    window_ms: window,
                })
            })
            .collect();
        // The HPA's views are filed in the same walk, while the HPA syncs.
        let syncing = self.hpa.syncing();
        if syncing {
            self.hpa.views_mut().start();
        }
        touched.sort_unstable();
        let old = std::mem::take(&mut self.metrics.loose);
        let mut loose = Vec::with_capacity(old.len() + touched.len());
        let mut visited = 0;
        let (mut a, mut b) = (old.into_iter().peekable(), touched.into_iter().peekable());
        loop {
            // The next id of either sorted list (each once).
            let id = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x <= y => a.next(),
                (Some(_), Some(_)) | (None, Some(_)) => b.next(),
                (Some(_), None) => a.next(),
                (None, None) => break,
            }
            .expect("peeked");
            while a.next_if_eq(&id).is_some() {}
            while b.next_if_eq(&id).is_some() {}
            visited += 1;
            let slot = self.pods.slot_of(id);
            let Some(p) = self.pods.get_quiet_mut(id) else {
                continue;
            };
            if p.marks.group != NO_GROUP {
                // Joined a group earlier in this walk (listed twice).
                continue;
            }
            let own = p.usage.take();
            // A cohort member's accumulator is its cohort's (it replaces the pod's own).
            let load = p.marks.cohort_load;
            let of_cohort = slot
                .and_then(|i| cohort.get(i).copied())
                .filter(|acc| acc.to_bits() != NO_COHORT.to_bits());
            let (cpu_ms, mem) = match of_cohort {
                Some(acc) => (acc, 0.0),
                None => match main.get(load as usize).copied().flatten() {
                    Some(acc) => (acc, 0.0),
                    None => own.unwrap_or((0.0, 0.0)),
                },
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
            // Settled members of a load's main cohort, with its sample, join a group.
            if load != NO_LOAD
                && p.sample.is_some()
                && p.sample == self.metrics.load_sample(load)
                && p.is_active()
                && p.is_ready()
            {
                let obs = p.hpa_obs();
                if obs.running_ready() && obs.settled(true, now) {
                    p.marks.group = self.metrics.join(p, load, obs.canonical(true, now));
                    continue;
                }
            }
            loose.push(id);
            if syncing {
                self.hpa.views_mut().add(p, now);
            }
        }
        self.metrics.loose = loose;
        let members: u64 = self
            .metrics
            .view_groups
            .values()
            .flatten()
            .map(|g| u64::from(self.metrics.groups[*g as usize].obs.count))
            .sum();
        let stats = &mut self.metrics.stats;
        stats.scrapes += 1;
        stats.visited += visited;
        stats.grouped += members;
        #[cfg(debug_assertions)]
        self.check_groups();
        if syncing {
            self.hpa.views_mut().add_groups(&self.metrics);
            self.hpa.views_mut().finish(now, self.pods.mutations());
        }
        for i in written.drain(..) {
            cohort[i] = NO_COHORT;
        }
        self.metrics.cohort_usage = (cohort, written);
        self.metrics.last_scrape = now;
        let next = now.plus_millis(RESOLUTION_MS);
        if next <= self.end {
            self.queue.push(next, Event::MetricsScrape);
        }
    }

    /// Debug builds: the groups are what recounting the pods gives, each member is what the
    /// scrape would have grouped (unchanged since), and every pod is loose or grouped.
    #[cfg(debug_assertions)]
    fn check_groups(&self) {
        let m = &self.metrics;
        let mut counts = vec![0u32; m.groups.len()];
        let loose: std::collections::BTreeSet<u64> = m.loose.iter().copied().collect();
        for p in self.pods.values() {
            assert!(
                !p.marks.touched,
                "pod {} still journaled after a scrape",
                p.id
            );
            if p.marks.group == NO_GROUP {
                assert!(
                    loose.contains(&p.id),
                    "pod {} neither grouped nor loose",
                    p.id
                );
                continue;
            }
            assert!(!loose.contains(&p.id), "pod {} grouped and loose", p.id);
            let g = &m.groups[p.marks.group as usize];
            counts[p.marks.group as usize] += 1;
            let obs = p.hpa_obs();
            assert!(
                p.view == g.view
                    && p.marks.cohort_load == g.load
                    && Arc::ptr_eq(&p.template, &g.template)
                    && same_obs(&obs.canonical(true, self.now), &g.obs)
                    && obs.settled(true, self.now)
                    && p.is_active()
                    && p.is_ready()
                    && p.usage.is_none()
                    && p.started_at.is_some()
                    && p.node.is_some(),
                "pod {} does not belong to its group {g:?}",
                p.id
            );
        }
        for (g, grp) in m.groups.iter().enumerate() {
            let listed = m
                .view_groups
                .get(&grp.view)
                .is_some_and(|v| v.contains(&(g as u32)));
            if m.free.contains(&(g as u32)) {
                assert_eq!(counts[g], 0, "free group {g} has members");
            } else {
                assert_eq!(counts[g], grp.obs.count, "group {g}: members");
                assert!(listed, "group {g} not listed under its view");
            }
        }
    }
}
