//! The HPA's view of each ReplicaSet's pods, built by the metrics scrape.
//!
//! An HPA sync reads, for every pod of its target, the pod's readiness and times and its latest
//! resource metrics sample. The scrape (every 15 s, like the sync) visits the pods that are in
//! no sample group (`metrics.rs`) to write their samples; while it does, it also files each
//! under its ReplicaSet's view as the HPA will see it: its observation made canonical for the
//! scrape's time ([`PodObs::canonical`]), its template and its new sample. Consecutive pods of
//! a ReplicaSet with equal entries are merged into one entry with a count; each sample group is
//! then filed as one entry (its members are alike by construction), so a sync's cost is the
//! number of distinct entries, not of pods.
//!
//! The views are the pods' state only while nothing changed since the scrape: same simulated
//! time and no mutable access to any pod ([`super::pod_table::PodTable::mutations`]). Otherwise
//! the HPA sync reads the pods themselves, as before; debug builds check the views against
//! that reading on every sync that uses them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use kscale_controllers::hpa::PodObs;
use kscale_model::SimTime;

use super::metrics::{MetricsApi, PodSample};
use super::model::{Pod, PodTemplate};

/// The view index of a pod that has no ReplicaSet.
pub const NO_VIEW: u32 = u32::MAX;

/// Consecutive pods of a ReplicaSet that an HPA sync sees alike.
#[derive(Debug, Clone)]
pub struct ViewEntry {
    /// Their canonical observation; `count` is the number of pods.
    pub obs: PodObs,
    /// Their template (shared).
    pub template: Arc<PodTemplate>,
    /// Their resource metrics sample.
    pub sample: Option<PodSample>,
    /// The first pod's id, for pods filed one by one (None for a sample group).
    pub first: Option<u64>,
}

/// One ReplicaSet's pods as of the last scrape.
#[derive(Debug, Clone, Default)]
pub struct RsView {
    /// Entries in pod id order.
    pub entries: Vec<ViewEntry>,
    /// Pods filed.
    pub pods: usize,
    /// Of them, active (not terminating, not finished).
    pub active: usize,
    /// Of them, Ready.
    pub ready: usize,
}

/// The views of every ReplicaSet (by [`super::workloads::RsCache::view`]).
#[derive(Debug, Clone, Default)]
pub struct HpaViews {
    views: Vec<RsView>,
    /// Views with pods filed since the last [`HpaViews::start`].
    filled: Vec<u32>,
    /// (scrape time, pod mutations after it) of the last complete build.
    built: Option<(SimTime, u64)>,
    /// What the views served so far (see [`HpaViews::served`]).
    served: Served,
}

/// [`ViewsServed`]'s counters: a set per thread of rayon's pool (and one for any other
/// thread), each on its own cache line, since syncs observe in parallel (one shared set was a
/// quarter of `prepare_hpa`'s own time at 3,000 nodes, its line moving between the cores).
#[derive(Debug, Default)]
struct Served([ServedSlot; SERVED_SLOTS]);

/// Counter sets in [`Served`]: a fixed count, not the pool's size (asking for it would start
/// rayon's global pool before the binary configures it); threads beyond it share sets,
/// correctly.
const SERVED_SLOTS: usize = 16;

/// One thread's counters (observations, entries, pods), alone on their cache lines.
#[derive(Debug, Default)]
#[repr(align(128))]
struct ServedSlot([AtomicU64; 3]);

impl Served {
    /// This thread's counters.
    fn slot(&self) -> &ServedSlot {
        let i = rayon::current_thread_index().map_or(0, |i| i + 1);
        &self.0[i % SERVED_SLOTS]
    }

    /// The sums over every thread's counters.
    fn totals(&self) -> [u64; 3] {
        let mut t = [0; 3];
        for s in &self.0 {
            for (t, a) in t.iter_mut().zip(&s.0) {
                *t += a.load(Ordering::Relaxed);
            }
        }
        t
    }
}

impl Clone for Served {
    fn clone(&self) -> Self {
        let copy = Served::default();
        for (c, t) in copy.slot().0.iter().zip(self.totals()) {
            c.store(t, Ordering::Relaxed);
        }
        copy
    }
}

/// How much of the HPA's reading the views served (for tests and profiling; not an output).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ViewsServed {
    /// Observations of an HPA target answered from the views.
    pub observations: u64,
    /// Entries read for them.
    pub entries: u64,
    /// Pods those entries stand for.
    pub pods: u64,
}

impl HpaViews {
    /// A new, empty view for a ReplicaSet.
    pub fn new_view(&mut self) -> u32 {
        self.views.push(RsView::default());
        u32::try_from(self.views.len() - 1).expect("fewer than 2^32 ReplicaSets")
    }

    /// Starts a build (at a scrape): every view is emptied.
    pub fn start(&mut self) {
        for v in self.filled.drain(..) {
            let v = &mut self.views[v as usize];
            v.entries.clear();
            (v.pods, v.active, v.ready) = (0, 0, 0);
        }
        self.built = None;
    }

    /// Files `p` (with its new sample) under its ReplicaSet's view, as the HPA sees it at `now`.
    pub fn add(&mut self, p: &Pod, now: SimTime) {
        if p.view == NO_VIEW {
            return;
        }
        let v = &mut self.views[p.view as usize];
        if v.pods == 0 {
            self.filled.push(p.view);
        }
        v.pods += 1;
        v.active += usize::from(p.is_active());
        v.ready += usize::from(p.is_ready());
        let mut obs = p.hpa_obs().canonical(p.sample.is_some(), now);
        if let Some(last) = v.entries.last_mut() {
            obs.count = last.obs.count;
            if obs == last.obs
                && Arc::ptr_eq(&last.template, &p.template)
                && last.sample == p.sample
            {
                last.obs.count += 1;
                return;
            }
            obs.count = 1;
        }
        v.entries.push(ViewEntry {
            obs,
            template: p.template.clone(),
            sample: p.sample,
            first: Some(p.id),
        });
    }

    /// Files the sample groups (`metrics.rs`) under their views, after the loose pods: one
    /// entry per group, standing for its members (all active and Ready, with their load's
    /// sample).
    pub fn add_groups(&mut self, metrics: &MetricsApi) {
        for (&view, ids) in &metrics.view_groups {
            if view == NO_VIEW {
                continue;
            }
            let v = &mut self.views[view as usize];
            for &g in ids {
                let grp = &metrics.groups[g as usize];
                let n = grp.obs.count as usize;
                if v.pods == 0 {
                    self.filled.push(view);
                }
                v.pods += n;
                v.active += n;
                v.ready += n;
                v.entries.push(ViewEntry {
                    obs: grp.obs.clone(),
                    template: grp.template.clone(),
                    sample: metrics.load_sample(grp.load),
                    first: None,
                });
            }
        }
    }

    /// Ends a build at `now`, with the pod table's mutation count after it.
    pub fn finish(&mut self, now: SimTime, mutations: u64) {
        self.built = Some((now, mutations));
    }

    /// True if the views are the pods' state: built at `now`, and no pod changed since.
    pub fn current(&self, now: SimTime, mutations: u64) -> bool {
        self.built == Some((now, mutations))
    }

    /// The view with index `i`.
    pub fn view(&self, i: u32) -> Option<&RsView> {
        self.views.get(i as usize)
    }

    /// Records one observation answered from `entries` entries standing for `pods` pods.
    pub fn note_served(&self, entries: usize, pods: usize) {
        let [o, e, p] = &self.served.slot().0;
        o.fetch_add(1, Ordering::Relaxed);
        e.fetch_add(entries as u64, Ordering::Relaxed);
        p.fetch_add(pods as u64, Ordering::Relaxed);
    }

    /// What the views served so far.
    pub fn served(&self) -> ViewsServed {
        let [observations, entries, pods] = self.served.totals();
        ViewsServed {
            observations,
            entries,
            pods,
        }
    }
}
