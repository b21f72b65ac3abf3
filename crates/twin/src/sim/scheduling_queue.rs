//! The scheduler's queues (upstream `pkg/scheduler/backend/queue/scheduling_queue.go`): the
//! active queue ordered by priority then creation time (`PrioritySort`), the pods that failed
//! an attempt and wait for a cluster change (`unschedulablePods`), when each pending pod was
//! first found unschedulable, and when its last FailedScheduling event was recorded.
//!
//! The twin has no back-off queue of its own: a pod moved back from `unschedulable` is
//! attempted after the scheduler's initial back-off (the caller's delay).

use std::collections::{BTreeMap, BTreeSet};

use kscale_model::SimTime;

/// The scheduling queues of the twin's kube-scheduler.
#[derive(Debug, Default)]
pub struct SchedulingQueue {
    /// Active queue: (−priority, creation time, pod id).
    active: BTreeSet<(i64, SimTime, u64)>,
    /// Pods that failed scheduling and wait for a cluster change.
    unschedulable: BTreeSet<u64>,
    /// A scheduling cycle is queued.
    cycle_pending: bool,
    /// When each pending pod was first found unschedulable (in id order: provisioning lists
    /// pending pods from it).
    unschedulable_since: BTreeMap<u64, SimTime>,
    /// When each pod's last FailedScheduling event was recorded.
    failed_event_at: BTreeMap<u64, SimTime>,
    /// The unschedulable pods that also wait for pods to be bound (required pod affinity, hard
    /// topology spread constraints), by id.
    waiting_for_pods: BTreeSet<u64>,
}

/// The active queue's order: higher priority first, then the older pod.
fn key(priority: i32, created: SimTime, id: u64) -> (i64, SimTime, u64) {
    (-(priority as i64), created, id)
}

impl SchedulingQueue {
    /// Adds a pod to the active queue.
    pub fn add(&mut self, priority: i32, created: SimTime, id: u64) {
        self.active.insert(key(priority, created, id));
    }

    /// Removes a pod from both queues (it was bound or deleted).
    pub fn remove(&mut self, priority: i32, created: SimTime, id: u64) {
        self.active.remove(&key(priority, created, id));
        self.unschedulable.remove(&id);
        self.waiting_for_pods.remove(&id);
    }

    /// The next pod to attempt.
    pub fn pop(&mut self) -> Option<u64> {
        self.active.pop_first().map(|(_, _, id)| id)
    }

    /// Whether no pod waits for an attempt.
    pub fn active_is_empty(&self) -> bool {
        self.active.is_empty()
    }

    /// The pods waiting for an attempt, in queue order.
    pub fn active_ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.active.iter().map(|&(_, _, id)| id)
    }

    /// The pods that failed an attempt and wait for a cluster change, by id.
    pub fn unschedulable_ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.unschedulable.iter().copied()
    }

    /// Whether the pod failed an attempt and waits for a cluster change.
    pub fn is_unschedulable(&self, id: u64) -> bool {
        self.unschedulable.contains(&id)
    }

    /// A failed attempt at `now`: the pod waits for a cluster change (its first failure time
    /// is kept).
    pub fn failed(&mut self, id: u64, now: SimTime) {
        self.unschedulable_since.entry(id).or_insert(now);
        self.unschedulable.insert(id);
    }

    /// The unschedulable pod `id` also waits for pods to be bound.
    pub fn wait_for_pods(&mut self, id: u64) {
        if self.unschedulable.contains(&id) {
            self.waiting_for_pods.insert(id);
        }
    }

    /// Takes the unschedulable pods waiting for pods that `wakes` says a bind may help (the
    /// caller adds them back to the active queue).
    pub fn take_woken_by_bind(&mut self, mut wakes: impl FnMut(u64) -> bool) -> Vec<u64> {
        let unschedulable = &self.unschedulable;
        self.waiting_for_pods
            .retain(|id| unschedulable.contains(id));
        let woken: Vec<u64> = self
            .waiting_for_pods
            .iter()
            .copied()
            .filter(|&id| wakes(id))
            .collect();
        for id in &woken {
            self.waiting_for_pods.remove(id);
            self.unschedulable.remove(id);
        }
        woken
    }

    /// A pod nominated by a preemption waits for the victims to go.
    pub fn park(&mut self, id: u64) {
        self.unschedulable.insert(id);
    }

    /// Takes every pod waiting for a cluster change (the caller adds them back to the active
    /// queue).
    pub fn take_unschedulable(&mut self) -> BTreeSet<u64> {
        self.waiting_for_pods.clear();
        std::mem::take(&mut self.unschedulable)
    }

    /// Asks for a scheduling cycle: true if none was queued (the caller queues it).
    pub fn request_cycle(&mut self) -> bool {
        !std::mem::replace(&mut self.cycle_pending, true)
    }

    /// The queued cycle starts.
    pub fn cycle_started(&mut self) {
        self.cycle_pending = false;
    }

    /// When each pending pod was first found unschedulable, in id order.
    pub fn unschedulable_since(&self) -> &BTreeMap<u64, SimTime> {
        &self.unschedulable_since
    }

    /// The pod started (or is gone): how long it was unschedulable, if it was.
    pub fn resolved(&mut self, id: u64) -> Option<SimTime> {
        self.unschedulable_since.remove(&id)
    }

    /// When the pod's last FailedScheduling event was recorded.
    pub fn failed_event_at(&self, id: u64) -> Option<SimTime> {
        self.failed_event_at.get(&id).copied()
    }

    /// A FailedScheduling event of the pod was recorded at `now`.
    pub fn failed_event(&mut self, id: u64, now: SimTime) {
        self.failed_event_at.insert(id, now);
    }

    /// The pod was bound or is gone: its event history is dropped.
    pub fn forget_events(&mut self, id: u64) {
        self.failed_event_at.remove(&id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn higher_priority_then_older_pods_come_first() {
        let mut q = SchedulingQueue::default();
        q.add(0, SimTime::from_millis(5), 1);
        q.add(100, SimTime::from_millis(9), 2);
        q.add(0, SimTime::from_millis(1), 3);
        assert_eq!(q.active_ids().collect::<Vec<_>>(), [2, 3, 1]);
        q.remove(0, SimTime::from_millis(1), 3);
        assert_eq!(q.pop(), Some(2));
        assert_eq!(q.pop(), Some(1));
        assert!(q.active_is_empty());
    }

    #[test]
    fn failed_pods_keep_their_first_failure_time() {
        let mut q = SchedulingQueue::default();
        q.failed(7, SimTime::from_millis(10));
        q.failed(7, SimTime::from_millis(20));
        assert!(q.is_unschedulable(7));
        assert_eq!(q.unschedulable_since()[&7], SimTime::from_millis(10));
        assert_eq!(q.take_unschedulable().into_iter().collect::<Vec<_>>(), [7]);
        assert!(!q.is_unschedulable(7));
        assert_eq!(q.resolved(7), Some(SimTime::from_millis(10)));
        assert_eq!(q.resolved(7), None);
    }

    #[test]
    fn one_cycle_is_requested_at_a_time() {
        let mut q = SchedulingQueue::default();
        assert!(q.request_cycle());
        assert!(!q.request_cycle());
        q.cycle_started();
        assert!(q.request_cycle());
    }
}
