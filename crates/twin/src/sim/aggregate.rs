//! Per-workload aggregates that keep the load model's cost proportional to change, not to
//! pods × ticks.
//!
//! Every load entry keeps its workload's ready pods and their capacities between ticks and
//! rebuilds them only when something that can change them happened: a pod of the workload (or
//! one of its ReplicaSets) was marked for reconcile — every readiness change, deletion and
//! removal does that — or, for pods whose capacity is a share of their node (no CPU limit),
//! any pod was bound or removed (the revision of `Topic::PodPlacement`). A tick whose inputs (rate, backlog,
//! capacities) are those of the previous tick reuses its result: the model is a pure function
//! of them, so the outputs are the same bytes.
//!
//! CPU usage for the metrics pipeline is accumulated per cohort instead of per pod: every ready
//! pod of a workload gets the same per-pod CPU each tick, so pods that entered the ready set at
//! the same tick with the same accumulated value share one accumulator, updated once per tick
//! with exactly the additions each pod's own accumulator would get. At each scrape every
//! cohort's accumulator is its members' CPU, and the cohorts that formed since the last one
//! merge into the load's *main* cohort (every ready pod, its members marked with
//! `ScrapeMarks::cohort_load`); a pod that leaves the ready set gets the accumulator as its own
//! (`Pod::usage`). Loads with a
//! memory model (per-pod memory and OOM kills) and workloads targeted by several load entries
//! keep per-pod accumulation.

use std::collections::BTreeMap;

use super::Sim;
use super::changes::Topic;
use super::metrics::NO_LOAD;
use super::store::ObjKey;
use super::workloads::RsCache;
use crate::load;
use crate::scenario::Load;

/// Pods that entered a load's ready set together and share one CPU accumulator.
#[derive(Debug, Clone, Default)]
struct Cohort {
    /// CPU milli-core-seconds each member accumulated since the last scrape.
    acc: f64,
    /// Member pod ids.
    members: Vec<u64>,
}

/// Per pod slot, membership stamps for a load cache's rebuild: a slot is in a set when its
/// stamp is the rebuild's (no set is allocated, cleared or dropped per rebuild).
#[derive(Debug, Clone, Default)]
struct SlotMarks {
    /// The pod is in the new ready set.
    ready: Vec<u16>,
    /// The pod was a member of a cohort.
    had: Vec<u16>,
    /// 16 bits: 4 bytes a slot for both sets (the slots span every pod created since the
    /// oldest living one, so this grows with a long run); cleared every 65,535 rebuilds.
    stamp: u16,
}

impl SlotMarks {
    /// Starts a rebuild over `slots` pod slots: returns its stamp.
    fn begin(&mut self, slots: usize) -> u16 {
        self.ready.resize(slots, 0);
        self.had.resize(slots, 0);
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.ready.fill(0);
            self.had.fill(0);
            self.stamp = 1;
        }
        self.stamp
    }
}

/// The last tick's inputs and result.
#[derive(Debug, Clone)]
struct Memo {
    rate: f64,
    backlog: f64,
    tick: load::Tick,
    cpu: f64,
}

/// Cached state of one load entry (see the module documentation).
#[derive(Debug, Clone, Default)]
struct LoadCache {
    /// The cached pods and capacities are current as of `seen_seq`.
    built: bool,
    /// A workload object of this load changed since the cache was built.
    dirty: bool,
    /// The revision of `Topic::PodPlacement` when built, if a capacity depends on its node's other pods.
    node_epoch: Option<u64>,
    /// Ready pods of the workload, in workload order.
    ready: Vec<u64>,
    /// Their capacities (req/s).
    caps: Vec<f64>,
    memo: Option<Memo>,
    /// Every ready pod at the last scrape (still ready), accumulating together.
    main: Cohort,
    /// Rebuilt and recomputed every tick (see [`Sim::disable_load_caches`]).
    uncached: bool,
    /// CPU is accumulated per cohort (else per pod in `Pod::usage`).
    aggregated: bool,
    /// The cohorts that formed since the last scrape.
    cohorts: Vec<Cohort>,
}

/// Load entries by target (namespace, kind, name): a lookup table (never iterated) that is
/// read with borrowed names, without building a key.
#[derive(Debug, Default, Clone)]
struct LoadWatch(std::collections::HashMap<String, Vec<WatchedTarget>, foldhash::fast::FixedState>);

/// A target's namespace and kind, and the load entries on it.
type WatchedTarget = (String, String, Vec<usize>);

impl LoadWatch {
    /// Adds load entry `i` on target (`namespace`, `kind`, `name`).
    pub fn add(&mut self, namespace: &str, kind: &str, name: &str, i: usize) {
        let targets = self.0.entry(name.to_string()).or_default();
        match targets
            .iter_mut()
            .find(|(ns, k, _)| ns == namespace && k == kind)
        {
            Some((_, _, ids)) => ids.push(i),
            None => targets.push((namespace.to_string(), kind.to_string(), vec![i])),
        }
    }

    /// The load entries on a target, in the order they were added (empty if none).
    pub fn get(&self, namespace: &str, kind: &str, name: &str) -> &[usize] {
        self.0
            .get(name)
            .and_then(|targets| {
                targets
                    .iter()
                    .find(|(ns, k, _)| ns == namespace && k == kind)
            })
            .map_or(&[], |(_, _, ids)| ids.as_slice())
    }
}

/// The load model's state at run time (kscale's own model of traffic, see [`crate::load`]; it
/// has no upstream counterpart): per load entry, what it accumulated ([`load::LoadState`]: its
/// counters, clients and last tick) and its cache of ready pods, capacities, last result and
/// CPU cohorts (`LoadCache`); the load entries by target; the scratch marks of the caches'
/// rebuilds. Empty until [`LoadModel::init`], once the scenario's objects exist.
#[derive(Debug, Default)]
pub struct LoadModel {
    /// What each load entry accumulated.
    states: Vec<load::LoadState>,
    /// Each load entry's cache (see the module documentation).
    caches: Vec<LoadCache>,
    /// Load entries by target (namespace, kind, name), for invalidating their caches.
    watch: LoadWatch,
    /// Scratch membership marks for the caches' rebuilds.
    marks: SlotMarks,
}

impl LoadModel {
    /// Fresh state and one cache per load entry of `loads`.
    pub fn init(&mut self, loads: &[Load]) {
        self.states = load::init(loads.len());
        let mut per_target: BTreeMap<(&str, &str, &str), usize> = BTreeMap::new();
        for l in loads {
            *per_target
                .entry((&l.namespace, &l.kind, &l.name))
                .or_default() += 1;
        }
        self.caches = loads
            .iter()
            .map(|l| LoadCache {
                aggregated: l.memory.is_none()
                    && per_target[&(l.namespace.as_str(), l.kind.as_str(), l.name.as_str())] == 1,
                ..Default::default()
            })
            .collect();
        self.watch = LoadWatch::default();
        for (i, l) in loads.iter().enumerate() {
            self.watch.add(&l.namespace, &l.kind, &l.name, i);
        }
    }

    /// What each load entry accumulated, in scenario order.
    pub fn states(&self) -> &[load::LoadState] {
        &self.states
    }

    /// What load entry `i` accumulated.
    pub fn state(&self, i: usize) -> &load::LoadState {
        &self.states[i]
    }

    /// What load entry `i` accumulated, for its tick to add to.
    pub fn state_mut(&mut self, i: usize) -> &mut load::LoadState {
        &mut self.states[i]
    }

    /// The ready pods load entry `i` serves from, as of its current tick, in workload order.
    pub fn ready(&self, i: usize) -> &[u64] {
        &self.caches[i].ready
    }

    /// The load entries on a target, in scenario order (empty if none).
    pub fn entries_on(&self, namespace: &str, kind: &str, name: &str) -> &[usize] {
        self.watch.get(namespace, kind, name)
    }

    /// A workload object changed: the caches of the loads on it are rebuilt at their next
    /// tick. `rs` is the ReplicaSet cache of `key` (None for other kinds and for a ReplicaSet
    /// without one): a ReplicaSet counts for its Deployment (by its owner, or by its
    /// `<deployment>-<hash>` name once it is gone); one that cannot be attributed invalidates
    /// every cache.
    pub fn note_target_changed(&mut self, key: &ObjKey, rs: Option<&RsCache>) {
        note_target_changed(&self.watch, &mut self.caches, key, rs);
    }
}

/// [`LoadModel::note_target_changed`] over the fields it uses, given the ReplicaSet cache of `key` (None
/// for other kinds and for a ReplicaSet without one).
fn note_target_changed(
    watch: &LoadWatch,
    caches: &mut [LoadCache],
    key: &ObjKey,
    rs: Option<&RsCache>,
) {
    if caches.is_empty() {
        return;
    }
    let mut mark = |kind: &str, name: &str| {
        for &i in watch.get(&key.namespace, kind, name) {
            caches[i].dirty = true;
        }
    };
    match key.kind.as_str() {
        "Deployment" => mark("deployment", &key.name),
        "StatefulSet" => mark("statefulset", &key.name),
        "ReplicaSet" => {
            mark("replicaset", &key.name);
            match rs.map(|c| c.owner.as_ref()) {
                Some(Some(d)) => mark("deployment", &d.name),
                Some(None) => {}
                None => match key.name.rsplit_once('-') {
                    Some((d, hash)) if hash.chars().all(|c| c.is_ascii_alphanumeric()) => {
                        mark("deployment", d)
                    }
                    _ => caches.iter_mut().for_each(|c| c.dirty = true),
                },
            }
        }
        _ => {}
    }
}

impl Sim {
    /// Records that a workload object changed (called by `mark_dirty`): the caches of the
    /// loads on it are rebuilt at their next tick. A ReplicaSet counts for its Deployment (by
    /// its owner, or by its `<deployment>-<hash>` name once it is gone); a ReplicaSet that
    /// cannot be attributed invalidates every cache.
    pub fn note_changed(&mut self, key: &ObjKey) {
        let rs = match key.kind.as_str() {
            "ReplicaSet" => self.rs_cache.get(key),
            _ => None,
        };
        self.load.note_target_changed(key, rs);
    }

    fn load_cache_stale(&self, i: usize) -> bool {
        let c = &self.load.caches[i];
        !c.built
            || c.dirty
            || c.node_epoch
                .is_some_and(|e| e != self.store.changes().at(Topic::PodPlacement))
            || c.uncached
    }

    /// Turns the caches off: every tick recomputes each load's ready pods, capacities and result
    /// and accumulates CPU per pod, as before the caches existed. For the equivalence test.
    pub fn disable_load_caches(&mut self) {
        for c in &mut self.load.caches {
            c.uncached = true;
            c.aggregated = false;
        }
    }

    /// Brings load `i`'s ready pods, capacities and tick result up to date for this tick
    /// (`rate` req/s offered for `dt` s on top of the load's backlog).
    pub fn load_step(&mut self, i: usize, l: &Load, rate: f64, dt: f64) {
        if self.load_cache_stale(i) {
            let c = &self.load.caches[i];
            if c.built && !c.dirty && !c.uncached {
                // Only a node's other pods changed: same ready pods, new capacities.
                self.refresh_load_caps(i, l);
            } else {
                self.rebuild_load_cache(i, l);
            }
        }
        let backlog = self.load.states[i].backlog;
        let c = &self.load.caches[i];
        if c.memo.as_ref().is_some_and(|m| {
            m.rate.to_bits() == rate.to_bits() && m.backlog.to_bits() == backlog.to_bits()
        }) {
            return;
        }
        let tick = load::tick_with_timeout(
            rate,
            dt,
            backlog,
            &c.caps,
            l.rate_limit,
            l.queue_limit,
            l.cpu_milli_per_request / 1000.0,
            l.timeout_ms.map(|t| t as f64 / 1000.0),
        );
        let cpu: f64 = tick
            .per_pod_rps
            .iter()
            .map(|r| l.idle_cpu_milli + r * l.cpu_milli_per_request)
            .sum();
        self.load.caches[i].memo = Some(Memo {
            rate,
            backlog,
            tick,
            cpu,
        });
    }

    /// The result of load `i`'s current tick: the model's outcome and the CPU used (milli-cores).
    pub fn load_result(&self, i: usize) -> (&load::Tick, f64) {
        let m = self.load.caches[i].memo.as_ref().expect("load_step ran");
        (&m.tick, m.cpu)
    }

    /// Served requests per second of each ready pod of load `i` in its current tick.
    pub fn load_per_pod_rps(&self, i: usize) -> &[f64] {
        &self.load_result(i).0.per_pod_rps
    }

    /// Adds `inc` CPU milli-core-seconds to every ready pod of load `i`.
    pub fn accumulate_usage(&mut self, i: usize, inc: f64) {
        let c = &mut self.load.caches[i];
        if c.aggregated {
            c.main.acc += inc;
            for co in &mut c.cohorts {
                co.acc += inc;
            }
        } else {
            for id in &c.ready {
                if let Some(p) = self.pods.get_mut(id) {
                    p.usage.get_or_insert((0.0, 0.0)).0 += inc;
                }
            }
        }
    }

    /// The serving capacities (req/s) of `ready` under load `l`, and whether any depends on its
    /// node's other pods.
    fn load_caps(&self, l: &Load, ready: &[u64]) -> (Vec<f64>, bool) {
        let mut node_dependent = false;
        let caps: Vec<f64> = ready
            .iter()
            .map(|id| {
                let (capacity, shared) = self.pod_cpu_capacity_and_kind(*id);
                node_dependent |= shared;
                let cpu = (capacity - l.idle_cpu_milli).max(0.0);
                if l.cpu_milli_per_request > 0.0 {
                    cpu / l.cpu_milli_per_request
                } else {
                    f64::INFINITY
                }
            })
            .collect();
        (caps, node_dependent)
    }

    /// The ready pods of load `l`'s workload, in workload order.
    fn load_ready(&self, l: &Load) -> Vec<u64> {
        // As `target_pods`, without collecting every pod first.
        let mut out = Vec::new();
        for c in self.target_replicasets(&l.namespace, &l.kind, &l.name) {
            out.extend(
                c.pods
                    .iter()
                    .filter_map(|id| self.pods.get(id))
                    .filter(|p| p.is_ready())
                    .map(|p| p.id),
            );
        }
        out
    }

    /// Recomputes load `i`'s capacities for its cached ready pods (nothing of its workload
    /// changed, only pods elsewhere on their nodes).
    fn refresh_load_caps(&mut self, i: usize, l: &Load) {
        debug_assert_eq!(
            self.load_ready(l),
            self.load.caches[i].ready,
            "load {i}: ready pods changed without a workload change"
        );
        let (caps, node_dependent) = self.load_caps(l, &self.load.caches[i].ready);
        let node_epoch = node_dependent.then_some(self.store.changes().at(Topic::PodPlacement));
        let c = &mut self.load.caches[i];
        if c.caps != caps {
            c.memo = None;
        }
        c.caps = caps;
        c.node_epoch = node_epoch;
    }

    fn rebuild_load_cache(&mut self, i: usize, l: &Load) {
        let ready = self.load_ready(l);
        let (caps, node_dependent) = self.load_caps(l, &ready);
        let node_epoch = node_dependent.then_some(self.store.changes().at(Topic::PodPlacement));
        let c = &mut self.load.caches[i];
        if c.caps != caps || c.ready != ready {
            c.memo = None;
        }
        if c.aggregated && c.ready != ready {
            // Set membership by pod slot (a slot is a present pod's own).
            let marks = &mut self.load.marks;
            let stamp = marks.begin(self.pods.slot_count());
            for id in &ready {
                if let Some(s) = self.pods.slot_of(*id) {
                    marks.ready[s] = stamp;
                }
            }
            let pods = &mut self.pods;
            for co in std::iter::once(&mut c.main).chain(&mut c.cohorts) {
                let acc = co.acc;
                co.members.retain(|id| {
                    let slot = pods.slot_of(*id);
                    if let Some(s) = slot {
                        marks.had[s] = stamp;
                    }
                    let keep = slot.is_some_and(|s| marks.ready[s] == stamp);
                    if !keep && let Some(p) = pods.get_mut(id) {
                        // Left the ready set: its accumulator is its own from now on.
                        p.usage = Some((acc, 0.0));
                        p.marks.cohort_load = NO_LOAD;
                    }
                    keep
                });
            }
            c.cohorts.retain(|co| !co.members.is_empty());
            let mut fresh = Cohort::default();
            for id in &ready {
                if self
                    .pods
                    .slot_of(*id)
                    .is_some_and(|s| self.load.marks.had[s] == stamp)
                {
                    continue;
                }
                match self.pods.get_mut(id).and_then(|p| p.usage.take()) {
                    // Back in the ready set within the same scrape window: carries on from
                    // what it accumulated before.
                    Some((acc, _)) => c.cohorts.push(Cohort {
                        acc,
                        members: vec![*id],
                    }),
                    None => fresh.members.push(*id),
                }
            }
            if !fresh.members.is_empty() {
                c.cohorts.push(fresh);
            }
        }
        c.ready = ready;
        c.caps = caps;
        c.node_epoch = node_epoch;
        c.dirty = false;
        c.built = true;
    }

    /// Hands every cohort's accumulator to its members (before a scrape reads them) and starts
    /// a new window. Returns each load entry's main cohort accumulator (None for loads that
    /// accumulate per pod), its members' CPU; `out[slot]` (by
    /// [`super::pod_table::PodTable::slot_of`]) is the CPU of each member of a cohort formed
    /// since the last scrape, and `written` lists the slots set. Those cohorts then merge into
    /// the main one, all at zero.
    pub fn take_cohort_usage(
        &mut self,
        out: &mut Vec<f64>,
        written: &mut Vec<usize>,
    ) -> Vec<Option<f64>> {
        out.resize(self.pods.slot_count(), super::metrics::NO_COHORT);
        let mut main = Vec::with_capacity(self.load.caches.len());
        for (l, c) in self.load.caches.iter_mut().enumerate() {
            if !c.aggregated {
                main.push(None);
                continue;
            }
            main.push(Some(c.main.acc));
            c.main.acc = 0.0;
            let load = u32::try_from(l).expect("fewer than 2^32 loads");
            for co in c.cohorts.drain(..) {
                for id in co.members {
                    if let Some(i) = self.pods.slot_of(id) {
                        out[i] = co.acc;
                        written.push(i);
                    }
                    if let Some(p) = self.pods.get_quiet_mut(id) {
                        p.marks.cohort_load = load;
                    }
                    c.main.members.push(id);
                }
            }
            #[cfg(debug_assertions)]
            {
                let mut members = c.main.members.clone();
                members.sort_unstable();
                let mut ready = c.ready.clone();
                ready.sort_unstable();
                assert_eq!(
                    members, ready,
                    "load {l}: the main cohort is the ready pods"
                );
                for id in &c.main.members {
                    if let Some(p) = self.pods.get(id) {
                        assert_eq!(p.marks.cohort_load, load, "load {l}: pod {id} marked");
                    }
                }
            }
        }
        main
    }
}
