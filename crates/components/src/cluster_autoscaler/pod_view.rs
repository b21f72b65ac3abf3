//! The pods of a loop's snapshot kept up to date pod by pod: which node each runs on or is
//! nominated to, which are pending, and each pod's entry by id.
//!
//! Upstream's Cluster Autoscaler rebuilds its `ClusterSnapshot` from the informers' listers at
//! every loop (`core/static_autoscaler.go`, `RunOnce`); the result is the same here, but a
//! component reading through informers places only the pods that changed since the last
//! snapshot, so a loop of a cluster with many pods and few changes costs what changed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use foldhash::fast::FixedState;
use kscale_cluster::informer::Key;
use kscale_controllers::scheduler::{NodeInfo, PodInfo};
use kscale_model::Resources;

use super::{AdaptedPod, PodEntry};

/// Pods' entries by id (looked up per pod of every node a loop simulates removing).
pub(super) type PodEntries = HashMap<u64, PodEntry, FixedState>;

/// Where a pod counts in the snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Place {
    /// Bound to the node.
    Node(Arc<str>),
    /// Nominated to the node by a preemption, not bound yet.
    Nominated(Arc<str>),
    /// Unschedulable: a candidate for a scale-up.
    Pending,
    /// Neither (not yet tried by the scheduler, or terminating without a node).
    Nowhere,
}

impl Place {
    /// Where the adapted pod counts.
    pub(super) fn of(a: &AdaptedPod) -> Place {
        match (&a.node, &a.nominated) {
            (Some(n), _) => Place::Node(Arc::clone(n)),
            (None, Some(n)) if !a.deleting => Place::Nominated(Arc::from(n.as_str())),
            _ if a.unschedulable => Place::Pending,
            _ => Place::Nowhere,
        }
    }
}

/// A placed pod: its uid, id and place.
#[derive(Debug, Clone)]
pub(super) struct Placed {
    pub(super) uid: String,
    pub(super) id: u64,
    place: Place,
}

/// The snapshot's pods, by node and by id.
#[derive(Debug, Default)]
pub(super) struct PodView {
    placed: HashMap<Key, Placed, FixedState>,
    on_node: HashMap<Arc<str>, BTreeMap<Key, PodInfo>, FixedState>,
    nominated: HashMap<Arc<str>, BTreeMap<Key, PodInfo>, FixedState>,
    pending: BTreeMap<Key, PodInfo>,
    /// Every placed pod's entry, by id (shared with the snapshots built from the view).
    pub(super) pods: Arc<PodEntries>,
    /// Nodes whose pods changed since [`PodView::take_dirty`].
    dirty: BTreeSet<Arc<str>>,
    /// The pending pods changed since [`PodView::take_dirty`].
    pending_dirty: bool,
}

impl PodView {
    /// Takes `key` out of the view; returns what it was.
    pub(super) fn remove(&mut self, key: &Key) -> Option<Placed> {
        let old = self.placed.remove(key)?;
        match &old.place {
            Place::Node(n) => {
                if let Some(m) = self.on_node.get_mut(n) {
                    m.remove(key);
                    if m.is_empty() {
                        self.on_node.remove(n);
                    }
                }
                self.dirty.insert(Arc::clone(n));
            }
            Place::Nominated(n) => {
                if let Some(m) = self.nominated.get_mut(n) {
                    m.remove(key);
                    if m.is_empty() {
                        self.nominated.remove(n);
                    }
                }
                self.dirty.insert(Arc::clone(n));
            }
            Place::Pending => {
                self.pending.remove(key);
                self.pending_dirty = true;
            }
            Place::Nowhere => {}
        }
        Arc::make_mut(&mut self.pods).remove(&old.id);
        Some(old)
    }

    /// Puts the pod `key` (`info` with its id set) where `place` says, with its `entry`.
    pub(super) fn insert(
        &mut self,
        key: &Key,
        uid: &str,
        place: Place,
        info: PodInfo,
        entry: PodEntry,
    ) {
        let id = info.id;
        match &place {
            Place::Node(n) => {
                self.on_node
                    .entry(Arc::clone(n))
                    .or_default()
                    .insert(key.clone(), info);
                self.dirty.insert(Arc::clone(n));
            }
            Place::Nominated(n) => {
                self.nominated
                    .entry(Arc::clone(n))
                    .or_default()
                    .insert(key.clone(), info);
                self.dirty.insert(Arc::clone(n));
            }
            Place::Pending => {
                self.pending.insert(key.clone(), info);
                self.pending_dirty = true;
            }
            Place::Nowhere => {}
        }
        Arc::make_mut(&mut self.pods).insert(id, entry);
        self.placed.insert(
            key.clone(),
            Placed {
                uid: uid.to_string(),
                id,
                place,
            },
        );
    }

    /// Sets `node`'s pods, nominated pods and requests from the view.
    pub(super) fn fill(&self, node: &mut NodeInfo) {
        node.pods = self
            .on_node
            .get(&node.name)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        node.requested = node
            .pods
            .iter()
            .fold(Resources::ZERO, |sum, p| sum + p.requests);
        node.nominated = self
            .nominated
            .get(&node.name)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
    }

    /// The pending pods, in key order.
    pub(super) fn pending(&self) -> Vec<PodInfo> {
        self.pending.values().cloned().collect()
    }

    /// The nodes whose pods changed and whether the pending pods did, since the last call.
    pub(super) fn take_dirty(&mut self) -> (BTreeSet<Arc<str>>, bool) {
        (
            std::mem::take(&mut self.dirty),
            std::mem::take(&mut self.pending_dirty),
        )
    }
}
