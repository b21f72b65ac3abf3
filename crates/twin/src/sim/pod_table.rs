//! The twin's pods by id: a dense table instead of a search tree.
//!
//! Pod ids are handed out in creation order (`Sim::next_pod_id`), so a pod's slot is its id
//! minus the table's base: a lookup is one index, not a tree walk (controllers look pods up by
//! id tens of thousands of times per HPA sync, scrape and disruption poll at 1,000 nodes).
//! Iteration is in id order, like the `BTreeMap<u64, Pod>` it replaces, so nothing that reaches
//! the outputs changes order. Slots of removed pods at the front are dropped as soon as the
//! oldest live pod is removed. A slot holds its pod boxed (8 bytes): a pod removed behind a
//! long-lived one keeps its slot until the front is compacted, and over the benchmark's day the
//! oldest pods live throughout, so the table spans every pod ever created (173,000 at 3,000
//! nodes: 109 MiB of mostly empty slots when pods, 416 bytes, were stored in place, grown by
//! copying into fresh memory; 2 MiB boxed). Walks over every pod are for debug checks and the
//! end of the run only (the scrape and the sampler follow journals).

use std::collections::VecDeque;

use super::model::Pod;

/// Pods by id, in id order.
#[derive(Debug, Default, Clone)]
pub struct PodTable {
    /// The id of `slots[0]`.
    base: u64,
    slots: VecDeque<Option<Box<Pod>>>,
    len: usize,
    /// Counts every mutable access (see [`PodTable::mutations`]).
    mutations: u64,
    /// The journal (see [`PodTable::take_journal`]): ids accessed mutably or inserted since it
    /// was last taken, each once (`ScrapeMarks::touched`) ...
    touched: Vec<u64>,
    /// ... and the sample groups of the pods removed since.
    departed: Vec<u32>,
    /// The sampler's journal (see [`PodTable::take_counts_journal`]): ids accessed mutably or
    /// inserted since it was last taken (`ScrapeMarks::count_touched`) ...
    count_touched: Vec<u64>,
    /// ... and the classes (`ScrapeMarks::counted`) of the pods removed since.
    count_departed: Vec<u8>,
}

impl PodTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    fn slot(&self, id: u64) -> Option<usize> {
        let i = id.checked_sub(self.base)?;
        usize::try_from(i).ok().filter(|i| *i < self.slots.len())
    }

    /// The pod with this id.
    pub fn get(&self, id: &u64) -> Option<&Pod> {
        self.slot(*id).and_then(|i| self.slots[i].as_deref())
    }

    /// The pod with this id, mutably.
    pub fn get_mut(&mut self, id: &u64) -> Option<&mut Pod> {
        self.mutations += 1;
        let p = self.slot(*id).and_then(|i| self.slots[i].as_deref_mut())?;
        journal(p, &mut self.touched, &mut self.count_touched);
        Some(p)
    }

    /// Takes the sampler's journal: the ids of the pods accessed mutably or inserted since it
    /// was last taken (each once; some may be gone since), and the classes
    /// (`ScrapeMarks::counted`) of the pods removed since. The caller clears each listed pod's
    /// `ScrapeMarks::count_touched`.
    pub fn take_counts_journal(&mut self) -> (Vec<u64>, Vec<u8>) {
        (
            std::mem::take(&mut self.count_touched),
            std::mem::take(&mut self.count_departed),
        )
    }

    /// The pod with this id, mutably, for the metrics pipeline's own fields (`sample`,
    /// `usage`, `marks`): neither counted nor journaled, since what it changes is not the
    /// pod's state as its controllers and the HPA see it.
    pub fn get_quiet_mut(&mut self, id: u64) -> Option<&mut Pod> {
        self.slot(id).and_then(|i| self.slots[i].as_deref_mut())
    }

    /// Takes the journal: the ids of the pods accessed mutably or inserted since it was last
    /// taken (each once, in the order of their first access; some may be gone since), and the
    /// sample groups (`ScrapeMarks::group`) of the pods removed since. The caller clears each
    /// listed pod's `ScrapeMarks::touched`.
    pub fn take_journal(&mut self) -> (Vec<u64>, Vec<u32>) {
        (
            std::mem::take(&mut self.touched),
            std::mem::take(&mut self.departed),
        )
    }

    /// Stores a pod under `id`, returning the pod it replaces. Ids below the table's base
    /// (older than every stored pod when the front was compacted) are still accepted.
    pub fn insert(&mut self, id: u64, mut pod: Pod) -> Option<Pod> {
        self.mutations += 1;
        journal(&mut pod, &mut self.touched, &mut self.count_touched);
        if self.slots.is_empty() {
            self.base = id;
        }
        while id < self.base {
            self.slots.push_front(None);
            self.base -= 1;
        }
        let i = usize::try_from(id - self.base).expect("pod id range fits in memory");
        if i >= self.slots.len() {
            self.slots.resize_with(i + 1, || None);
        }
        match &mut self.slots[i] {
            Some(b) => Some(std::mem::replace(&mut **b, pod)),
            empty => {
                *empty = Some(Box::new(pod));
                self.len += 1;
                None
            }
        }
    }

    /// Removes and returns the pod with this id.
    pub fn remove(&mut self, id: &u64) -> Option<Pod> {
        self.mutations += 1;
        let i = self.slot(*id)?;
        let pod = *self.slots[i].take()?;
        self.len -= 1;
        if pod.marks.group != super::metrics::NO_GROUP {
            self.departed.push(pod.marks.group);
        }
        if pod.marks.counted != 0 {
            self.count_departed.push(pod.marks.counted);
        }
        while matches!(self.slots.front(), Some(None)) {
            self.slots.pop_front();
            self.base += 1;
        }
        while matches!(self.slots.back(), Some(None)) {
            self.slots.pop_back();
        }
        if self.slots.is_empty() {
            self.base = 0;
        }
        Some(pod)
    }

    /// Number of pods.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if there are no pods.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// (id, pod) in id order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&u64, &Pod)> + '_ {
        self.values().map(|p| (&p.id, p))
    }

    /// Pods in id order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Pod> + '_ {
        self.slots.iter().filter_map(|s| s.as_deref())
    }

    /// Pods in id order, mutably.
    pub fn values_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut Pod> + '_ {
        self.mutations += 1;
        let (touched, counted) = (&mut self.touched, &mut self.count_touched);
        self.slots.iter_mut().filter_map(move |s| {
            let p = s.as_deref_mut()?;
            journal(p, touched, counted);
            Some(p)
        })
    }

    /// The table slot of `id` (stable until a pod is removed), if it is within the table.
    pub fn slot_of(&self, id: u64) -> Option<usize> {
        self.slot(id)
    }

    /// Number of slots (an upper bound of every [`PodTable::slot_of`]).
    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// A count of the mutable accesses so far (`get_mut`, `insert`, `remove`, `values_mut`): while it is the same, no pod changed (what was read of them holds).
    pub fn mutations(&self) -> u64 {
        self.mutations
    }

    /// Ids in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &u64> + '_ {
        self.values().map(|p| &p.id)
    }
}

/// Lists a pod in both journals (each once until its reader takes the journal).
fn journal(p: &mut Pod, touched: &mut Vec<u64>, counted: &mut Vec<u64>) {
    if !p.marks.touched {
        p.marks.touched = true;
        touched.push(p.id);
    }
    if !p.marks.count_touched {
        p.marks.count_touched = true;
        counted.push(p.id);
    }
}

impl std::ops::Index<&u64> for PodTable {
    type Output = Pod;

    fn index(&self, id: &u64) -> &Pod {
        self.get(id).expect("no pod with this id")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::*;
    use crate::sim::model::{PodPhase, PodTemplate};

    fn pod(id: u64) -> Pod {
        Pod {
            id,
            namespace: Arc::from("default"),
            name: Arc::from(format!("p{id}").as_str()),
            uid: String::new(),
            created: kscale_model::SimTime::ZERO,
            template: Arc::new(PodTemplate::compile(
                None,
                &serde_json::json!({"containers": []}),
            )),
            labels: Arc::new(Default::default()),
            owner: None,
            priority: 0,
            node: None,
            nominated: None,
            phase: PodPhase::Pending,
            scheduled_at: None,
            started_at: None,
            ready_at: None,
            deleting_at: None,
            unschedulable: None,
            restarts: 0,
            generation: 0,
            evicted: None,
            ready_changed: None,
            sample: None,
            usage: None,
            view: crate::sim::hpa_view::NO_VIEW,
            marks: Default::default(),
        }
    }

    proptest! {
        /// Any sequence of inserts and removes leaves the table equal to a `BTreeMap` given the
        /// same operations: same lookups, same length, same iteration order.
        #[test]
        fn behaves_like_a_btreemap(ops in prop::collection::vec((any::<bool>(), 0u64..64), 0..200)) {
            let mut t = PodTable::new();
            let mut m: BTreeMap<u64, ()> = BTreeMap::new();
            for (insert, id) in ops {
                if insert {
                    prop_assert_eq!(t.insert(id, pod(id)).is_some(), m.insert(id, ()).is_some());
                } else {
                    prop_assert_eq!(t.remove(&id).map(|p| p.id), m.remove(&id).map(|_| id));
                }
                prop_assert_eq!(t.len(), m.len());
                let ids: Vec<u64> = t.keys().copied().collect();
                let want: Vec<u64> = m.keys().copied().collect();
                prop_assert_eq!(ids, want);
                for id in 0..64 {
                    prop_assert_eq!(t.get(&id).map(|p| p.id), m.get(&id).map(|_| id));
                }
            }
        }
    }
}
