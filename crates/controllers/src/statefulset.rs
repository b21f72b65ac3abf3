//! The StatefulSet controller's decisions (kubernetes `pkg/controller/statefulset`, v1.37):
//! one sync of a StatefulSet over its pods (`updateStatefulSet`, stateful_set_control.go) —
//! which ordinals to create (and at which revision, `newVersionedStatefulSetPod`), which pods
//! to delete for a scale-down (`processCondemned`) and for a rolling update
//! (`updateStatefulSetAfterInvariantEstablished`: `MaxUnavailableStatefulSet` is on by default
//! in v1.37), the status counts (`computeReplicaStatus`) and when an update completes
//! (`completeUpdate`, stateful_set_utils.go).
//!
//! `OrderedReady` (the default) is monotonic: an ordinal is created only once every lower one
//! is Running, Ready and available, one at a time, and a scale-down removes the highest
//! ordinal first, one at a time, only while the others are healthy. `Parallel` creates and
//! deletes all at once. Pods that failed or succeeded are deleted and created again.

use kscale_model::SimTime;

/// The label with the pod's name (`apps.StatefulSetPodNameLabel`).
pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
/// The label with the pod's ordinal (`apps.PodIndexLabel`, on by default since v1.28).
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";
/// The label with the pod's revision (`apps.StatefulSetRevisionLabel`).
pub const REVISION_LABEL: &str = "controller-revision-hash";

/// `spec.podManagementPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodManagement {
    /// `OrderedReady` (default): one pod at a time, in ordinal order.
    OrderedReady,
    /// `Parallel`: all pods at once.
    Parallel,
}

/// `spec.updateStrategy.rollingUpdate.maxUnavailable`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaxUnavailable {
    /// A number of pods.
    Count(i64),
    /// A percentage of `spec.replicas`, rounded down.
    Percent(i64),
}

/// `spec.updateStrategy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateStrategy {
    /// `RollingUpdate` (default; the API server defaults `partition` 0 and `maxUnavailable` 1).
    RollingUpdate {
        /// Ordinals (indexes from the start ordinal) below it keep the current revision.
        partition: i64,
        /// Pods the update may take down at once (`None`: 1).
        max_unavailable: Option<MaxUnavailable>,
    },
    /// A `RollingUpdate` strategy without its `rollingUpdate` block (created pods all take the
    /// update revision; at most one pod down at once).
    RollingUpdateUnset,
    /// `OnDelete`: pods are replaced only when deleted by someone else.
    OnDelete,
    /// `Recreate` (alpha, its feature gate off in v1.37): the controller refuses the set.
    Recreate,
}

/// What a sync reads of the StatefulSet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetSpec {
    /// `spec.replicas`.
    pub replicas: i64,
    /// `spec.ordinals.start` (0 when unset).
    pub start_ordinal: i64,
    /// `spec.podManagementPolicy`.
    pub pod_management: PodManagement,
    /// `spec.updateStrategy`.
    pub strategy: UpdateStrategy,
    /// `spec.minReadySeconds` in milliseconds.
    pub min_ready_ms: u64,
}

/// One of the StatefulSet's pods as the controller sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replica {
    /// The ordinal its name ends with.
    pub ordinal: i64,
    /// Its `controller-revision-hash` label.
    pub revision: String,
    /// Phase Failed or Succeeded.
    pub terminal: bool,
    /// Deletion timestamp set.
    pub terminating: bool,
    /// Since when it has been Running and Ready (None while not).
    pub ready_since: Option<SimTime>,
}

impl Replica {
    /// `isRunningAndReady`.
    fn running_and_ready(&self) -> bool {
        self.ready_since.is_some()
    }

    /// `podutil.IsPodAvailable`: Ready for `min_ready_ms`.
    fn available(&self, min_ready_ms: u64, now: SimTime) -> bool {
        self.ready_since
            .is_some_and(|t| min_ready_ms == 0 || t.plus_millis(min_ready_ms) <= now)
    }
}

/// A decision of one sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Create the pod with this ordinal, at the current revision (`true`) or the update
    /// revision.
    Create {
        /// Ordinal.
        ordinal: i64,
        /// At the current revision rather than the update revision.
        current: bool,
    },
    /// Delete the pod with this ordinal.
    Delete {
        /// Ordinal.
        ordinal: i64,
        /// Why.
        reason: DeleteReason,
    },
}

/// Why a pod is deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteReason {
    /// It failed or succeeded: it is created again once gone.
    Terminal,
    /// Its ordinal is beyond `spec.replicas` (scale-down).
    Condemned,
    /// It runs an old revision (rolling update).
    Update,
}

/// The status counts (`computeReplicaStatus`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// `replicas`: pods created.
    pub replicas: i64,
    /// `readyReplicas`: Running and Ready.
    pub ready: i64,
    /// `availableReplicas`: Ready for `minReadySeconds`.
    pub available: i64,
    /// `currentReplicas`: not terminating, at the current revision.
    pub current: i64,
    /// `updatedReplicas`: not terminating, at the update revision.
    pub updated: i64,
}

/// What one sync decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sync {
    /// Creations and deletions, in the order the controller makes them.
    pub actions: Vec<Action>,
    /// The status counts the sync read.
    pub counts: Counts,
    /// Whether the update is complete (`completeUpdate`): the current revision becomes the
    /// update revision.
    pub update_complete: bool,
    /// When to sync again to see a Ready pod become available (`minReadySeconds`).
    pub next_check_ms: Option<u64>,
    /// A Warning event's message when the controller refuses the set (`UnknownStrategy`).
    pub refused: Option<String>,
}

/// The counts of `pods` (`computeReplicaStatus`).
pub fn counts(
    pods: &[Replica],
    min_ready_ms: u64,
    current: &str,
    update: &str,
    now: SimTime,
) -> Counts {
    let mut c = Counts::default();
    for p in pods {
        c.replicas += 1;
        if p.running_and_ready() {
            c.ready += 1;
            c.available += i64::from(p.available(min_ready_ms, now));
        }
        if !p.terminating {
            c.current += i64::from(p.revision == current);
            c.updated += i64::from(p.revision == update);
        }
    }
    c
}

/// `getStatefulSetMaxUnavailable`: at least 1.
fn max_unavailable(m: Option<MaxUnavailable>, replicas: i64) -> i64 {
    match m {
        None => 1,
        Some(MaxUnavailable::Count(n)) => n,
        Some(MaxUnavailable::Percent(p)) => p * replicas / 100,
    }
    .max(1)
}

/// A slot of the sync: an existing pod or one the sync creates (`newVersionedStatefulSetPod`,
/// which is not created in the API's sense until the next sync sees it).
#[derive(Clone, Copy)]
enum Slot<'a> {
    Pod(&'a Replica),
    New { current: bool },
}

impl Slot<'_> {
    fn unavailable(&self, min_ready_ms: u64, now: SimTime) -> bool {
        match self {
            Slot::Pod(p) => !p.available(min_ready_ms, now) || p.terminating,
            Slot::New { .. } => true,
        }
    }

    fn is_update(&self, current: &str, update: &str) -> bool {
        match self {
            Slot::Pod(p) => p.revision == update,
            Slot::New { current: c } => !*c || current == update,
        }
    }

    fn terminating(&self) -> bool {
        matches!(self, Slot::Pod(p) if p.terminating)
    }
}

/// One sync (`updateStatefulSet`) of a set with `spec` over its pods (any order; pods whose
/// name carries no ordinal are not passed), the current and update revisions' names, at `now`.
pub fn sync(spec: &SetSpec, current: &str, update: &str, pods: &[Replica], now: SimTime) -> Sync {
    let min_ready = spec.min_ready_ms;
    let counts = counts(pods, min_ready, current, update, now);
    let replicas = spec.replicas;
    let update_complete =
        counts.updated == replicas && counts.ready == replicas && counts.replicas == replicas;
    let next_check_ms = (min_ready > 0 && counts.ready != counts.available).then(|| {
        // `FindMinNextPodAvailabilityCheck`: the first Ready pod to become available.
        pods.iter()
            .filter_map(|p| p.ready_since)
            .map(|t| t.plus_millis(min_ready))
            .filter(|&t| t > now)
            .map(|t| t.as_millis() - now.as_millis())
            .min()
            .unwrap_or(min_ready)
    });
    let mut out = Sync {
        actions: vec![],
        counts,
        update_complete,
        next_check_ms,
        refused: None,
    };
    if spec.strategy == UpdateStrategy::Recreate {
        out.refused = Some(
            "uses Recreate strategy but feature gate StatefulSetRecreateStrategy is disabled"
                .into(),
        );
        return out;
    }
    let start = spec.start_ordinal;
    let n = replicas.max(0) as usize;
    let mut slots: Vec<Option<Slot>> = vec![None; n];
    let mut condemned: Vec<&Replica> = vec![];
    for p in pods {
        if p.ordinal >= start && p.ordinal < start + replicas {
            slots[(p.ordinal - start) as usize] = Some(Slot::Pod(p));
        } else if p.ordinal >= 0 {
            condemned.push(p);
        }
    }
    // `newVersionedStatefulSetPod`: below the partition, the current revision.
    let at_current = |index: i64| match spec.strategy {
        UpdateStrategy::RollingUpdate { partition, .. } => index < partition,
        _ => false,
    };
    let mut slots: Vec<Slot> = slots
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            s.unwrap_or(Slot::New {
                current: at_current(i as i64),
            })
        })
        .collect();
    condemned.sort_by_key(|p| std::cmp::Reverse(p.ordinal));
    // The first unavailable pod: replicas in ordinal order, then the condemned ones from the
    // lowest ordinal.
    let first_unavailable: Option<i64> = slots
        .iter()
        .enumerate()
        .find(|(_, s)| s.unavailable(min_ready, now))
        .map(|(i, _)| start + i as i64)
        .or_else(|| {
            condemned
                .iter()
                .rev()
                .find(|p| Slot::Pod(p).unavailable(min_ready, now))
                .map(|p| p.ordinal)
        });
    let monotonic = spec.pod_management == PodManagement::OrderedReady;
    // processReplica over every slot; monotonic: stop at the first that blocks.
    for (i, slot) in slots.iter_mut().enumerate() {
        let ordinal = start + i as i64;
        let block = match *slot {
            Slot::Pod(p) if p.terminal => {
                if !p.terminating {
                    out.actions.push(Action::Delete {
                        ordinal,
                        reason: DeleteReason::Terminal,
                    });
                }
                true
            }
            Slot::Pod(p) => monotonic && (p.terminating || !p.available(min_ready, now)),
            Slot::New { current } => {
                out.actions.push(Action::Create { ordinal, current });
                monotonic
            }
        };
        if block && monotonic {
            return out;
        }
    }
    // processCondemned, from the highest ordinal.
    for p in &condemned {
        if p.terminating {
            if monotonic {
                return out;
            }
            continue;
        }
        if monotonic && !p.available(min_ready, now) && first_unavailable != Some(p.ordinal) {
            return out;
        }
        out.actions.push(Action::Delete {
            ordinal: p.ordinal,
            reason: DeleteReason::Condemned,
        });
        if monotonic {
            return out;
        }
    }
    let (partition, max) = match spec.strategy {
        UpdateStrategy::RollingUpdate {
            partition,
            max_unavailable: m,
        } => (partition, max_unavailable(m, replicas)),
        UpdateStrategy::RollingUpdateUnset => (0, 1),
        UpdateStrategy::OnDelete | UpdateStrategy::Recreate => return out,
    };
    let update_min = partition.max(0) as usize;
    let mut unavailable = 0;
    let mut unavailable_needing_update = 0;
    for s in &slots {
        if s.unavailable(min_ready, now) {
            unavailable += 1;
            if spec.pod_management == PodManagement::Parallel
                && !s.is_update(current, update)
                && !s.terminating()
            {
                unavailable_needing_update += 1;
            }
        }
    }
    if unavailable >= max && unavailable_needing_update == 0 {
        return out;
    }
    let delete = |index: usize, out: &mut Sync| {
        out.actions.push(Action::Delete {
            ordinal: start + index as i64,
            reason: DeleteReason::Update,
        });
    };
    let targets = (update_min..slots.len()).rev();
    if spec.pod_management == PodManagement::Parallel {
        // Phase 1: old pods already unavailable.
        for t in targets.clone() {
            let s = slots[t];
            let available = matches!(s, Slot::Pod(p) if p.available(min_ready, now));
            if !s.is_update(current, update) && !available && !s.terminating() {
                delete(t, &mut out);
            }
        }
        // Phase 2: available old pods, within what is left of the budget.
        let mut budget = max - unavailable;
        for t in targets {
            if budget <= 0 {
                break;
            }
            let s = slots[t];
            if !s.is_update(current, update) && !s.unavailable(min_ready, now) {
                delete(t, &mut out);
                budget -= 1;
            }
        }
        return out;
    }
    let mut left = max - unavailable;
    for t in targets {
        if left <= 0 {
            break;
        }
        let s = slots[t];
        if !s.is_update(current, update) && !s.terminating() {
            delete(t, &mut out);
            left -= 1;
        }
    }
    out
}

/// The ordinal a pod's name ends with for a set named `set` (`getParentNameAndOrdinal`:
/// `(.*)-([0-9]+)$`), `None` when it has none or belongs to another parent.
pub fn ordinal_of(set: &str, pod: &str) -> Option<i64> {
    let (parent, digits) = pod.rsplit_once('-')?;
    if parent != set || digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<i32>().ok().map(i64::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CUR: &str = "web-aaa";
    const UPD: &str = "web-bbb";

    fn spec(replicas: i64, policy: PodManagement) -> SetSpec {
        SetSpec {
            replicas,
            start_ordinal: 0,
            pod_management: policy,
            strategy: UpdateStrategy::RollingUpdate {
                partition: 0,
                max_unavailable: None,
            },
            min_ready_ms: 0,
        }
    }

    fn ready(ordinal: i64, revision: &str) -> Replica {
        Replica {
            ordinal,
            revision: revision.into(),
            terminal: false,
            terminating: false,
            ready_since: Some(SimTime::ZERO),
        }
    }

    fn pending(ordinal: i64, revision: &str) -> Replica {
        Replica {
            ready_since: None,
            ..ready(ordinal, revision)
        }
    }

    fn create(ordinal: i64) -> Action {
        Action::Create {
            ordinal,
            current: false,
        }
    }

    fn delete(ordinal: i64, reason: DeleteReason) -> Action {
        Action::Delete { ordinal, reason }
    }

    const NOW: SimTime = SimTime(60_000);

    #[test]
    fn ordered_ready_creates_one_pod_at_a_time_after_its_predecessors_are_ready() {
        // TestStatefulSetControlScaleUp / ScaleUpOrderedReady: 0 first, then 1 once 0 is
        // Running and Ready, never two at once.
        let s = spec(3, PodManagement::OrderedReady);
        assert_eq!(sync(&s, UPD, UPD, &[], NOW).actions, [create(0)]);
        let pods = [pending(0, UPD)];
        assert_eq!(sync(&s, UPD, UPD, &pods, NOW).actions, []);
        let pods = [ready(0, UPD)];
        assert_eq!(sync(&s, UPD, UPD, &pods, NOW).actions, [create(1)]);
        let pods = [ready(0, UPD), ready(1, UPD)];
        assert_eq!(sync(&s, UPD, UPD, &pods, NOW).actions, [create(2)]);
        // A hole is filled before anything above it is looked at.
        let pods = [ready(0, UPD), ready(2, UPD)];
        assert_eq!(sync(&s, UPD, UPD, &pods, NOW).actions, [create(1)]);
    }

    #[test]
    fn parallel_creates_and_deletes_every_pod_at_once() {
        let s = spec(3, PodManagement::Parallel);
        assert_eq!(
            sync(&s, UPD, UPD, &[], NOW).actions,
            [create(0), create(1), create(2)]
        );
        let s = spec(1, PodManagement::Parallel);
        let pods = [pending(0, UPD), pending(1, UPD), pending(2, UPD)];
        assert_eq!(
            sync(&s, UPD, UPD, &pods, NOW).actions,
            [
                delete(2, DeleteReason::Condemned),
                delete(1, DeleteReason::Condemned)
            ]
        );
    }

    #[test]
    fn ordered_scale_down_removes_the_highest_ordinal_first_and_waits_for_it() {
        let s = spec(1, PodManagement::OrderedReady);
        let mut pods = vec![ready(0, UPD), ready(1, UPD), ready(2, UPD)];
        assert_eq!(
            sync(&s, UPD, UPD, &pods, NOW).actions,
            [delete(2, DeleteReason::Condemned)]
        );
        // While web-2 terminates, web-1 stays.
        pods[2].terminating = true;
        assert_eq!(sync(&s, UPD, UPD, &pods, NOW).actions, []);
        pods.pop();
        assert_eq!(
            sync(&s, UPD, UPD, &pods, NOW).actions,
            [delete(1, DeleteReason::Condemned)]
        );
    }

    #[test]
    fn ordered_scale_down_waits_for_unhealthy_replicas_except_the_first_unhealthy_pod() {
        // processCondemned: an unready condemned pod blocks unless it is the first unhealthy
        // pod of the set.
        let s = spec(1, PodManagement::OrderedReady);
        let pods = [ready(0, UPD), pending(1, UPD), pending(2, UPD)];
        // web-1 is the first unhealthy pod; web-2 (processed first) is not: blocked.
        assert_eq!(sync(&s, UPD, UPD, &pods, NOW).actions, []);
        let pods = [ready(0, UPD), ready(1, UPD), pending(2, UPD)];
        assert_eq!(
            sync(&s, UPD, UPD, &pods, NOW).actions,
            [delete(2, DeleteReason::Condemned)]
        );
        // An unready replica in range blocks every scale-down.
        let pods = [pending(0, UPD), ready(1, UPD)];
        assert_eq!(sync(&s, UPD, UPD, &pods, NOW).actions, []);
    }

    #[test]
    fn failed_pods_are_deleted_and_created_again() {
        let s = spec(2, PodManagement::OrderedReady);
        let mut failed = ready(0, UPD);
        failed.terminal = true;
        failed.ready_since = None;
        let pods = [failed.clone(), ready(1, UPD)];
        assert_eq!(
            sync(&s, UPD, UPD, &pods, NOW).actions,
            [delete(0, DeleteReason::Terminal)]
        );
        failed.terminating = true;
        let pods = [failed, ready(1, UPD)];
        assert_eq!(sync(&s, UPD, UPD, &pods, NOW).actions, []);
    }

    #[test]
    fn rolling_update_replaces_the_highest_old_ordinal_one_at_a_time() {
        let s = spec(3, PodManagement::OrderedReady);
        let mut pods = vec![ready(0, CUR), ready(1, CUR), ready(2, CUR)];
        assert_eq!(
            sync(&s, CUR, UPD, &pods, NOW).actions,
            [delete(2, DeleteReason::Update)]
        );
        // Deleted, then created again at the update revision, then waited for.
        pods[2].terminating = true;
        assert_eq!(sync(&s, CUR, UPD, &pods, NOW).actions, []);
        pods.pop();
        assert_eq!(
            sync(&s, CUR, UPD, &pods, NOW).actions,
            [Action::Create {
                ordinal: 2,
                current: false
            }]
        );
        pods.push(pending(2, UPD));
        assert_eq!(sync(&s, CUR, UPD, &pods, NOW).actions, []);
        pods[2] = ready(2, UPD);
        assert_eq!(
            sync(&s, CUR, UPD, &pods, NOW).actions,
            [delete(1, DeleteReason::Update)]
        );
        let done = [ready(0, UPD), ready(1, UPD), ready(2, UPD)];
        let r = sync(&s, CUR, UPD, &done, NOW);
        assert!(r.update_complete && r.actions.is_empty());
        assert_eq!(
            r.counts,
            Counts {
                replicas: 3,
                ready: 3,
                available: 3,
                current: 0,
                updated: 3
            }
        );
    }

    #[test]
    fn partition_keeps_lower_ordinals_at_the_current_revision() {
        let mut s = spec(3, PodManagement::OrderedReady);
        s.strategy = UpdateStrategy::RollingUpdate {
            partition: 2,
            max_unavailable: None,
        };
        let pods = [ready(0, CUR), ready(1, CUR), ready(2, UPD)];
        let r = sync(&s, CUR, UPD, &pods, NOW);
        assert!(r.actions.is_empty() && !r.update_complete);
        // A missing pod below the partition is created at the current revision.
        let pods = [ready(1, CUR), ready(2, UPD)];
        assert_eq!(
            sync(&s, CUR, UPD, &pods, NOW).actions,
            [Action::Create {
                ordinal: 0,
                current: true
            }]
        );
    }

    #[test]
    fn max_unavailable_deletes_several_old_pods_at_once() {
        let mut s = spec(4, PodManagement::OrderedReady);
        s.strategy = UpdateStrategy::RollingUpdate {
            partition: 0,
            max_unavailable: Some(MaxUnavailable::Percent(50)),
        };
        let pods: Vec<Replica> = (0..4).map(|i| ready(i, CUR)).collect();
        assert_eq!(
            sync(&s, CUR, UPD, &pods, NOW).actions,
            [
                delete(3, DeleteReason::Update),
                delete(2, DeleteReason::Update)
            ]
        );
        // 10% of 4 rounds down to 0, and at least one goes.
        s.strategy = UpdateStrategy::RollingUpdate {
            partition: 0,
            max_unavailable: Some(MaxUnavailable::Percent(10)),
        };
        assert_eq!(
            sync(&s, CUR, UPD, &pods, NOW).actions,
            [delete(3, DeleteReason::Update)]
        );
    }

    #[test]
    fn parallel_update_deletes_unavailable_old_pods_first() {
        // updateStatefulSetAfterInvariantEstablished, Parallel: phase 1 takes the old pods
        // already down, phase 2 spends what is left of the budget.
        let mut s = spec(3, PodManagement::Parallel);
        s.strategy = UpdateStrategy::RollingUpdate {
            partition: 0,
            max_unavailable: Some(MaxUnavailable::Count(2)),
        };
        let pods = [pending(0, CUR), ready(1, CUR), ready(2, CUR)];
        assert_eq!(
            sync(&s, CUR, UPD, &pods, NOW).actions,
            [
                delete(0, DeleteReason::Update),
                delete(2, DeleteReason::Update)
            ]
        );
    }

    #[test]
    fn on_delete_replaces_nothing() {
        let mut s = spec(2, PodManagement::OrderedReady);
        s.strategy = UpdateStrategy::OnDelete;
        let pods = [ready(0, CUR), ready(1, CUR)];
        assert!(sync(&s, CUR, UPD, &pods, NOW).actions.is_empty());
        // A pod deleted by hand comes back at the update revision.
        let pods = [ready(0, CUR)];
        assert_eq!(sync(&s, CUR, UPD, &pods, NOW).actions, [create(1)]);
    }

    #[test]
    fn min_ready_seconds_gates_progress_and_schedules_the_next_check() {
        let mut s = spec(2, PodManagement::OrderedReady);
        s.min_ready_ms = 10_000;
        let mut p = ready(0, UPD);
        p.ready_since = Some(SimTime(55_000));
        let r = sync(&s, UPD, UPD, std::slice::from_ref(&p), NOW);
        assert!(r.actions.is_empty());
        assert_eq!(r.next_check_ms, Some(5_000));
        assert_eq!((r.counts.ready, r.counts.available), (1, 0));
        p.ready_since = Some(SimTime(50_000));
        let r = sync(&s, UPD, UPD, &[p], NOW);
        assert_eq!(r.actions, [create(1)]);
        assert_eq!(r.next_check_ms, None);
    }

    #[test]
    fn start_ordinal_shifts_the_range() {
        let mut s = spec(2, PodManagement::OrderedReady);
        s.start_ordinal = 5;
        assert_eq!(sync(&s, UPD, UPD, &[], NOW).actions, [create(5)]);
        let pods = [ready(0, UPD)];
        // web-0 is outside 5..7: condemned, but web-5 comes first.
        assert_eq!(sync(&s, UPD, UPD, &pods, NOW).actions, [create(5)]);
    }

    #[test]
    fn recreate_is_refused_with_the_feature_gate_off() {
        let mut s = spec(1, PodManagement::OrderedReady);
        s.strategy = UpdateStrategy::Recreate;
        let r = sync(&s, UPD, UPD, &[], NOW);
        assert!(r.actions.is_empty());
        assert!(r.refused.unwrap().contains("StatefulSetRecreateStrategy"));
    }

    #[test]
    fn ordinals_are_read_from_names_of_the_set() {
        assert_eq!(ordinal_of("web", "web-0"), Some(0));
        assert_eq!(ordinal_of("web", "web-12"), Some(12));
        assert_eq!(ordinal_of("web", "web-x"), None);
        assert_eq!(ordinal_of("web", "db-1"), None);
        assert_eq!(ordinal_of("my-web", "my-web-3"), Some(3));
        assert_eq!(ordinal_of("web", "web-"), None);
    }
}
