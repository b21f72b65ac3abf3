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
//! [`Store`]: super::store::Store

use std::collections::BTreeMap;

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

/// The revision sequence and the last change per topic and per stored kind.
#[derive(Debug, Default)]
pub struct Changes {
    revision: u64,
    topics: [u64; Topic::COUNT],
    /// Per stored kind: the revision of its last write (create, update, status, delete).
    writes: BTreeMap<String, u64>,
    /// Per stored kind: the revision of its last create or delete.
    members: BTreeMap<String, u64>,
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

    /// Records a write of an object of `kind`; `membership` when it was created or deleted.
    pub fn record_write(&mut self, kind: &str, membership: bool) -> u64 {
        self.revision += 1;
        let rev = self.revision;
        let set = |m: &mut BTreeMap<String, u64>| match m.get_mut(kind) {
            Some(r) => *r = rev,
            None => {
                m.insert(kind.to_string(), rev);
            }
        };
        set(&mut self.writes);
        if membership {
            set(&mut self.members);
        }
        rev
    }

    /// The revision of the last write of an object of `kind`: while it holds, no such object
    /// changed (a cheap check for caches of parsed objects).
    pub fn writes_of(&self, kind: &str) -> u64 {
        self.writes.get(kind).copied().unwrap_or(0)
    }

    /// The revision of the last create or delete of an object of `kind`: while it holds, the
    /// keys of that kind (and their order) are the same.
    pub fn membership_of(&self, kind: &str) -> u64 {
        self.members.get(kind).copied().unwrap_or(0)
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
        let created = c.record_write("Deployment", true);
        let updated = c.record_write("Deployment", false);
        assert_eq!(c.writes_of("Deployment"), updated);
        assert_eq!(c.membership_of("Deployment"), created);
        assert_eq!(c.writes_of("ReplicaSet"), 0);
        // Any other change moves the revision on, not the kind's.
        c.record(Topic::NodePods);
        assert_eq!(c.writes_of("Deployment"), updated);
    }
}
