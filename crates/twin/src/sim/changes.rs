//! The twin's one change-tracking mechanism: a revision sequence, bumped by every change to
//! the cluster's state, and for each thing a cache can depend on the revision of its last
//! change.
//!
//! A cache keeps the revision it was built at and is current while that revision still is
//! the last change of what it read ([`Changes::at`], [`Changes::writes_of`], ...): the
//! informer model (a resourceVersion to resume from) in place of counters bumped by hand in
//! each module. Stored objects report their writes through the [`Store`]; the compact tables
//! (pods on nodes, nodes, ReplicaSet caches) report theirs with [`Changes::record`].
//!
//! The sequence is the twin's own, separate from the `resourceVersion`s objects show: those
//! follow the API server's (one per stored write) and reach outputs.
//!
//! [`Store`]: crate::sim::store::Store

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use kscale_cluster::{Change, ChangeType};

/// How many object changes the change feed keeps: a consumer further behind gets
/// `ApiError::Expired` and lists again, as a watch from a compacted revision gets 410 Gone.
/// kube-apiserver's watch cache keeps up to `defaultUpperBoundCapacity` = 100 × 1024 events
/// per resource (`apiserver/pkg/storage/cacher/watch_cache_history.go`); this feed keeps as
/// many for all kinds together (fewer changes than upstream, so a consumer of a cluster
/// with tens of thousands of pods that follows every ten seconds does not list again).
pub const FEED_CAPACITY: usize = 100 * 1024;

/// One object change kept for the change feed.
#[derive(Debug)]
struct Logged {
    revision: u64,
    type_: ChangeType,
    kind: Arc<str>,
    namespace: Arc<str>,
    name: Arc<str>,
}

/// What caches depend on in the compact state, each with the revision of its last change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    /// A pod was bound to a node, removed from one, or changed what it holds there
    /// (terminating, an elastic resize): the node autoscalers' and the load model's input.
    PodPlacement,
    /// Capacity was added, freed or changed (nodes added, removed, tainted, relabelled; pods
    /// gone): the scheduler's reason to retry unschedulable pods.
    Capacity,
    /// A node's labels or annotations changed (additions and removals are followed by the
    /// caches themselves).
    NodeMetadata,
    /// A ReplicaSet's compiled cache was stored or removed (not when its pods change).
    ReplicaSetCaches,
    /// The pods on one node changed (the revision is kept on the node as its pods stamp).
    NodePods,
}

impl Topic {
    const COUNT: usize = 5;
}

/// A kind's name (shared by its log entries) and last changes.
#[derive(Debug)]
struct KindChanges {
    name: Arc<str>,
    /// The revision of the last change of an object of the kind (create, update, status,
    /// delete).
    writes: u64,
    /// The revision of the last create or delete.
    members: u64,
}

/// The revision sequence and the last change per topic and per kind.
#[derive(Debug, Default)]
pub struct Changes {
    revision: u64,
    topics: [u64; Topic::COUNT],
    /// The latest object changes, oldest first (at most [`FEED_CAPACITY`]).
    log: VecDeque<Logged>,
    /// The revision of the newest change dropped from `log` (0: none dropped): every object
    /// change after it is in `log`.
    compacted: u64,
    /// Per kind: its name and last changes.
    kinds: BTreeMap<String, KindChanges>,
}

impl Changes {
    /// The latest revision (0 before any change).
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Records a change of `topic` and returns its revision.
    pub fn record(&mut self, topic: Topic) -> u64 {
        self.revision += 1;
        self.topics[topic as usize] = self.revision;
        self.revision
    }

    /// The revision of `topic`'s last change (0: none yet).
    pub fn at(&self, topic: Topic) -> u64 {
        self.topics[topic as usize]
    }

    /// Records a change of an object (for the change feed and the kind's last changes:
    /// `Added` and `Deleted` change its membership, every change its writes) and returns its
    /// revision. Stored objects are recorded by the store; the compact tables record pods and
    /// nodes.
    pub fn record_object(
        &mut self,
        kind: &str,
        namespace: &str,
        name: &str,
        type_: ChangeType,
    ) -> u64 {
        self.revision += 1;
        let revision = self.revision;
        let entry = match self.kinds.get_mut(kind) {
            Some(k) => k,
            None => self.kinds.entry(kind.to_string()).or_insert(KindChanges {
                name: Arc::from(kind),
                writes: 0,
                members: 0,
            }),
        };
        entry.writes = revision;
        if type_ != ChangeType::Modified {
            entry.members = revision;
        }
        let kind = Arc::clone(&entry.name);
        if self.log.len() == FEED_CAPACITY
            && let Some(old) = self.log.pop_front()
        {
            self.compacted = old.revision;
        }
        self.log.push_back(Logged {
            revision: self.revision,
            type_,
            kind,
            namespace: Arc::from(namespace),
            name: Arc::from(name),
        });
        self.revision
    }

    /// The changes of objects of `kind` after revision `since`, oldest first; `Err` with the
    /// oldest revision still followed when `since` is older than that.
    pub fn since(&self, kind: &str, since: u64) -> Result<Vec<Change>, u64> {
        if since < self.compacted {
            return Err(self.compacted);
        }
        // Entries are in revision order: skip to the first one after `since`.
        let start = self.log.partition_point(|l| l.revision <= since);
        Ok(self
            .log
            .range(start..)
            .filter(|l| *l.kind == *kind)
            .map(|l| Change {
                type_: l.type_,
                namespace: l.namespace.to_string(),
                name: l.name.to_string(),
                revision: l.revision,
            })
            .collect())
    }

    /// The revision of the last change of an object of `kind` (a stored object's write, a
    /// pod's or node's change in the compact tables): while it holds, no such object changed
    /// (a cheap check for caches of parsed objects).
    pub fn writes_of(&self, kind: &str) -> u64 {
        self.kinds.get(kind).map_or(0, |k| k.writes)
    }

    /// The revision of the last create or delete of an object of `kind`: while it holds, the
    /// keys of that kind (and their order) are the same.
    pub fn membership_of(&self, kind: &str) -> u64 {
        self.kinds.get(kind).map_or(0, |k| k.members)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_keep_the_revision_of_their_last_change() {
        let mut c = Changes::default();
        assert_eq!((c.revision(), c.at(Topic::PodPlacement)), (0, 0));
        let a = c.record(Topic::PodPlacement);
        let b = c.record(Topic::Capacity);
        assert!(b > a);
        assert_eq!(c.at(Topic::PodPlacement), a);
        assert_eq!(c.at(Topic::Capacity), b);
        assert_eq!(c.at(Topic::NodeMetadata), 0);
        assert_eq!(c.revision(), b);
    }

    #[test]
    fn kinds_track_writes_and_membership_apart() {
        let mut c = Changes::default();
        let created = c.record_object("Deployment", "default", "web", ChangeType::Added);
        let updated = c.record_object("Deployment", "default", "web", ChangeType::Modified);
        assert_eq!(c.writes_of("Deployment"), updated);
        assert_eq!(c.membership_of("Deployment"), created);
        assert_eq!(c.writes_of("ReplicaSet"), 0);
        // Any other change moves the revision on, not the kind's.
        c.record(Topic::NodePods);
        assert_eq!(c.writes_of("Deployment"), updated);
        // The compact tables' kinds count as well.
        let node = c.record_object("Node", "", "n1", ChangeType::Added);
        let tainted = c.record_object("Node", "", "n1", ChangeType::Modified);
        assert_eq!(c.writes_of("Node"), tainted);
        assert_eq!(c.membership_of("Node"), node);
        assert_eq!(c.writes_of("Deployment"), updated);
    }

    #[test]
    fn the_feed_serves_a_kinds_changes_after_a_revision() {
        let mut c = Changes::default();
        let added = c.record_object("Pod", "default", "a", ChangeType::Added);
        c.record_object("Deployment", "default", "web", ChangeType::Added);
        c.record(Topic::PodPlacement);
        let gone = c.record_object("Pod", "default", "a", ChangeType::Deleted);
        let pods = c.since("Pod", 0).unwrap();
        let seen: Vec<_> = pods
            .iter()
            .map(|p| (p.type_, p.name.as_str(), p.revision))
            .collect();
        assert_eq!(
            seen,
            [
                (ChangeType::Added, "a", added),
                (ChangeType::Deleted, "a", gone)
            ]
        );
        assert_eq!(c.since("Pod", added).unwrap().len(), 1);
        assert!(c.since("Pod", gone).unwrap().is_empty());
        assert_eq!(c.since("Deployment", 0).unwrap().len(), 1);
        assert!(c.since("Node", 0).unwrap().is_empty());
    }

    #[test]
    fn a_revision_older_than_the_kept_changes_has_expired() {
        let mut c = Changes::default();
        let first = c.record_object("Pod", "default", "p0", ChangeType::Added);
        for i in 1..=FEED_CAPACITY {
            c.record_object("Pod", "default", &format!("p{i}"), ChangeType::Added);
        }
        // The first change was dropped: following from before it would miss it.
        assert_eq!(c.since("Pod", 0), Err(first));
        let kept = c.since("Pod", first).unwrap();
        assert_eq!(kept.len(), FEED_CAPACITY);
        assert_eq!(kept[0].name, "p1");
    }
}
