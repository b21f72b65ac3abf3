//! The VPA updater's decision: which pods of a VPA to evict or resize in place, in what
//! order, within the eviction tolerance and minimum-replica limits.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use kscale_model::SimTime;

use super::capping::cap_for_pod;
use super::{
    ContainerRecommendation, PodContainer, ResourceName, UpdateMode, VpaSpec,
    container_scaling_off, recommendation_for,
};

/// Updater settings and their command-line defaults.
///
/// Upstream: vertical-pod-autoscaler/pkg/updater/config/config.go
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UpdaterConfig {
    /// `--min-replicas` (2): fewer live replicas block evictions (per-VPA `minReplicas` wins).
    pub min_replicas: u32,
    /// `--eviction-tolerance` (0.5): fraction of configured replicas that may be down.
    pub eviction_tolerance: f64,
    /// `--pod-update-threshold` (0.1): minimal summed relative change for in-range pods.
    pub update_threshold: f64,
    /// `--in-recommendation-bounds-eviction-lifetime-threshold` (12h).
    pub pod_lifetime_update_threshold_ms: u64,
    /// `--evict-after-oom-threshold` (10m): an OOM kill this soon after start is a quick OOM.
    pub evict_after_oom_threshold_ms: u64,
    /// `--in-place-skip-disruption-budget` (false). Containers are assumed to have the
    /// `NotRequired` resize policy, so with this set every in-place resize skips the budget.
    pub in_place_skip_disruption_budget: bool,
    /// The updater's alpha `InPlace` feature gate (false): without it, mode `InPlace` does nothing.
    pub in_place_feature_enabled: bool,
}

impl Default for UpdaterConfig {
    fn default() -> Self {
        UpdaterConfig {
            min_replicas: 2,
            eviction_tolerance: 0.5,
            update_threshold: 0.1,
            pod_lifetime_update_threshold_ms: 12 * super::HOUR_MS,
            evict_after_oom_threshold_ms: 10 * 60_000,
            in_place_skip_disruption_budget: false,
            in_place_feature_enabled: false,
        }
    }
}

/// A deferred in-place resize falls back to eviction after 5 minutes.
///
/// Upstream: vertical-pod-autoscaler/pkg/updater/restriction/pods_inplace_restriction.go
pub const DEFERRED_RESIZE_TIMEOUT_MS: u64 = 5 * 60_000;
/// An in-progress in-place resize falls back to eviction after 1 hour.
///
/// Upstream: vertical-pod-autoscaler/pkg/updater/restriction/pods_inplace_restriction.go
pub const IN_PROGRESS_RESIZE_TIMEOUT_MS: u64 = super::HOUR_MS;

/// The controller that created a pod (its replica group).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OwnerRef {
    /// Kind, e.g. `ReplicaSet`, `StatefulSet`, `Job`.
    pub kind: String,
    /// Name.
    pub name: String,
}

/// Pod phase as far as the updater cares.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PodPhase {
    /// Not running yet (always evictable, never resized in place).
    Pending,
    /// Running.
    #[default]
    Running,
}

/// State of an in-place resize (the PodResizePending / PodResizeInProgress conditions).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ResizeStatus {
    /// No resize pending or in progress.
    #[default]
    None,
    /// PodResizePending, reason Deferred.
    Deferred,
    /// PodResizePending, reason Infeasible.
    Infeasible,
    /// PodResizeInProgress without a reason.
    InProgress,
    /// PodResizeInProgress, reason Error.
    Error,
}

/// A container's last termination by the OOM killer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OomKill {
    /// The container.
    pub container: String,
    /// When the terminated run started.
    pub started: SimTime,
    /// When it was killed.
    pub finished: SimTime,
}

/// A live pod controlled by the VPA.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpdaterPod {
    /// Pod name.
    pub name: String,
    /// The controller that owns it (`None`: unmanaged, never updated).
    pub owner: Option<OwnerRef>,
    /// Phase.
    pub phase: PodPhase,
    /// `status.startTime`.
    pub start_time: Option<SimTime>,
    /// Containers with their current requests and limits.
    pub containers: Vec<PodContainer>,
    /// The `vpaObservedContainers` annotation, if present.
    pub observed_containers: Option<String>,
    /// OOM kills of the containers' last terminations.
    pub oom_kills: Vec<OomKill>,
    /// In-place resize state.
    pub resize: ResizeStatus,
    /// When the updater last resized this pod in place (`None`: treated as now).
    pub last_in_place_attempt: Option<SimTime>,
}

/// How urgent a pod's update is.
///
/// Upstream: vertical-pod-autoscaler/pkg/updater/priority/update_priority_calculator.go (`PodPriority`)
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PodPriority {
    /// Some container's request is outside [lowerBound, upperBound] (or unset).
    pub outside_recommended_range: bool,
    /// Some container's target is above its request.
    pub scale_up: bool,
    /// Σ over resources of |total request − total target| / total request.
    pub resource_diff: f64,
}

impl PodPriority {
    /// Higher priority first: scale-ups, then larger `resource_diff`.
    fn cmp_desc(&self, other: &PodPriority) -> Ordering {
        other.scale_up.cmp(&self.scale_up).then(
            other
                .resource_diff
                .partial_cmp(&self.resource_diff)
                .unwrap_or(Ordering::Equal),
        )
    }
}

/// Why a pod is left alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// Update mode Off or Initial.
    UpdateModeDoesNotUpdate,
    /// Mode InPlace without the InPlace feature gate.
    InPlaceFeatureDisabled,
    /// Not evictable at the start of the loop: unmanaged, unknown replica count, too few
    /// replicas, or the group has no eviction budget.
    NotEvictable,
    /// The eviction budget of its group was used up by pods evicted earlier in this loop.
    EvictionBudgetExhausted,
    /// In-place resize not possible now (pending pod, resize in progress, no budget, no
    /// recommendation).
    InPlaceDeferred,
    /// In range and `status.startTime` unset.
    NoStartTime,
    /// In range and younger than the lifetime threshold (12h).
    ShortLived,
    /// In range and the relative change is below the update threshold (0.1).
    ChangeTooSmall,
    /// Quick OOM, but the recommendation equals the requests.
    QuickOomNoChange,
}

/// What the updater does with a pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateAction {
    /// Evict it (the admission controller sets the new resources on its replacement).
    Evict,
    /// Patch its resources through the `resize` subresource.
    ResizeInPlace,
    /// Leave it.
    Skip(SkipReason),
}

/// One pod's decision.
#[derive(Clone, Debug, PartialEq)]
pub struct UpdateDecision {
    /// Pod name.
    pub pod: String,
    /// The action.
    pub action: UpdateAction,
    /// The priority, for pods that reached the priority calculator.
    pub priority: Option<PodPriority>,
}

/// Eviction bookkeeping of one replica group.
///
/// Upstream: vertical-pod-autoscaler/pkg/updater/restriction/pods_restriction_factory.go (`singleGroupStats`)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupStats {
    /// Configured replicas.
    pub configured: i64,
    /// Pending pods.
    pub pending: i64,
    /// Non-pending pods.
    pub running: i64,
    /// `floor(configured * eviction_tolerance)`.
    pub eviction_tolerance: i64,
    /// Pods evicted in this loop.
    pub evicted: i64,
    /// Pods resized in place in this loop.
    pub in_place_initiated: i64,
    /// Below minReplicas but let through for in-place updates.
    pub below_min_replicas: bool,
}

impl GroupStats {
    /// True if one more pod of the group may be disrupted.
    ///
    /// Upstream: pods_restriction_factory.go (`isPodDisruptable`)
    pub fn is_pod_disruptable(&self) -> bool {
        let should_be_alive = self.configured - self.eviction_tolerance;
        let actually_alive = self.running - (self.evicted + self.in_place_initiated);
        actually_alive > should_be_alive
            || (self.configured == self.running
                && self.eviction_tolerance == 0
                && self.evicted == 0
                && self.in_place_initiated == 0)
    }
}

/// Groups pods by owner and computes each group's stats; groups below `minReplicas` (unless
/// skipped for in-place) and groups whose replica count is unknown are left out. A `Job`'s
/// configured count is its live pod count.
///
/// Upstream: pods_restriction_factory.go (`GetCreatorMaps`)
pub fn group_stats(
    vpa: &VpaSpec,
    pods: &[UpdaterPod],
    configured_replicas: &BTreeMap<OwnerRef, u32>,
    config: &UpdaterConfig,
) -> BTreeMap<OwnerRef, GroupStats> {
    let mut groups: BTreeMap<&OwnerRef, Vec<&UpdaterPod>> = BTreeMap::new();
    for p in pods {
        if let Some(o) = &p.owner {
            groups.entry(o).or_default().push(p);
        }
    }
    let required = vpa.min_replicas.unwrap_or(config.min_replicas) as usize;
    let in_place_mode = matches!(
        vpa.update_mode,
        UpdateMode::InPlaceOrRecreate | UpdateMode::InPlace
    );
    let skip_replica_check = in_place_mode && config.in_place_skip_disruption_budget;
    let mut out = BTreeMap::new();
    for (owner, replicas) in groups {
        let actual = replicas.len();
        let mut below = false;
        if actual < required {
            if !skip_replica_check {
                continue;
            }
            below = true;
        }
        let configured = if owner.kind == "Job" {
            actual as i64
        } else {
            match configured_replicas.get(owner) {
                Some(&n) => n as i64,
                None => continue,
            }
        };
        let pending = replicas
            .iter()
            .filter(|p| p.phase == PodPhase::Pending)
            .count() as i64;
        out.insert(
            owner.clone(),
            GroupStats {
                configured,
                pending,
                running: actual as i64 - pending,
                eviction_tolerance: (configured as f64 * config.eviction_tolerance) as i64,
                evicted: 0,
                in_place_initiated: 0,
                below_min_replicas: below,
            },
        );
    }
    out
}

fn can_evict_in_placing_pod(pod: &UpdaterPod, stats: &GroupStats, now: SimTime) -> bool {
    if pod.resize == ResizeStatus::None || !stats.is_pod_disruptable() {
        return false;
    }
    let since = now.since(pod.last_in_place_attempt.unwrap_or(now));
    match pod.resize {
        ResizeStatus::Deferred => since > DEFERRED_RESIZE_TIMEOUT_MS,
        ResizeStatus::InProgress => since > IN_PROGRESS_RESIZE_TIMEOUT_MS,
        ResizeStatus::Infeasible | ResizeStatus::Error => true,
        ResizeStatus::None => false,
    }
}

/// Whether the pod may be evicted given its group's stats.
///
/// Upstream: vertical-pod-autoscaler/pkg/updater/restriction/pods_eviction_restriction.go (`CanEvict`)
pub fn can_evict(pod: &UpdaterPod, groups: &BTreeMap<OwnerRef, GroupStats>, now: SimTime) -> bool {
    let Some(stats) = pod.owner.as_ref().and_then(|o| groups.get(o)) else {
        return false;
    };
    if pod.phase == PodPhase::Pending {
        return true;
    }
    if stats.below_min_replicas {
        return false;
    }
    if pod.resize != ResizeStatus::None {
        return can_evict_in_placing_pod(pod, stats, now);
    }
    stats.is_pod_disruptable()
}

/// The in-place restriction's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum InPlaceDecision {
    Approved,
    Deferred,
    Evict,
    Infeasible,
}

/// Upstream: pods_inplace_restriction.go (`CanInPlaceUpdate`, without the infeasible cache)
fn can_in_place_update(
    pod: &UpdaterPod,
    vpa: &VpaSpec,
    groups: &BTreeMap<OwnerRef, GroupStats>,
    config: &UpdaterConfig,
    now: SimTime,
) -> InPlaceDecision {
    let Some(stats) = pod.owner.as_ref().and_then(|o| groups.get(o)) else {
        return InPlaceDecision::Deferred;
    };
    if pod.phase == PodPhase::Pending || vpa.recommendation.is_none() {
        return InPlaceDecision::Deferred;
    }
    if pod.resize != ResizeStatus::None {
        if vpa.update_mode == UpdateMode::InPlace {
            return if pod.resize == ResizeStatus::Infeasible {
                InPlaceDecision::Infeasible
            } else {
                InPlaceDecision::Deferred
            };
        }
        return if can_evict_in_placing_pod(pod, stats, now) {
            InPlaceDecision::Evict
        } else {
            InPlaceDecision::Deferred
        };
    }
    if config.in_place_skip_disruption_budget || stats.is_pod_disruptable() {
        InPlaceDecision::Approved
    } else {
        InPlaceDecision::Deferred
    }
}

/// Parses `vpaObservedContainers`: `None` if absent or malformed (then all containers count).
fn observed_set(pod: &UpdaterPod) -> Option<Vec<&str>> {
    let v = pod.observed_containers.as_deref()?;
    if v.is_empty() {
        return Some(Vec::new());
    }
    let names: Vec<&str> = v.split(", ").collect();
    let dns1123_label = |s: &str| {
        !s.is_empty()
            && s.len() <= 63
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-')
    };
    names.iter().all(|n| dns1123_label(n)).then_some(names)
}

/// The update priority of a pod against a (capped) recommendation. Amounts are compared in
/// milli-units like upstream (`MilliValue`).
///
/// Upstream: vertical-pod-autoscaler/pkg/updater/priority/priority_processor.go (`GetUpdatePriority`)
pub fn update_priority(
    pod: &UpdaterPod,
    recommendation: &[ContainerRecommendation],
) -> PodPriority {
    let observed = observed_set(pod);
    let mut outside = false;
    let mut scale_up = false;
    let mut total_request: BTreeMap<ResourceName, i128> = BTreeMap::new();
    let mut total_recommended: BTreeMap<ResourceName, i128> = BTreeMap::new();
    let milli = |r: ResourceName, v: i64| match r {
        ResourceName::Cpu => v as i128,
        ResourceName::Memory => v as i128 * 1000,
    };
    for c in &pod.containers {
        if observed
            .as_ref()
            .is_some_and(|o| !o.contains(&c.name.as_str()))
        {
            continue;
        }
        let Some(rec) = recommendation_for(&c.name, recommendation) else {
            continue;
        };
        for (r, target) in rec.target.iter() {
            *total_recommended.entry(r).or_default() += milli(r, target);
            match c.requests.get(r) {
                Some(req) => {
                    *total_request.entry(r).or_default() += milli(r, req);
                    if target > req {
                        scale_up = true;
                    }
                    if rec.lower_bound.get(r).is_some_and(|l| req < l)
                        || rec.upper_bound.get(r).is_some_and(|u| req > u)
                    {
                        outside = true;
                    }
                }
                None => {
                    scale_up = true;
                    outside = true;
                }
            }
        }
    }
    let mut diff = 0.0;
    for (r, rec) in total_recommended {
        let req = (total_request.get(&r).copied().unwrap_or(0) as f64).max(1.0);
        diff += (req - rec as f64).abs() / req;
    }
    PodPriority {
        outside_recommended_range: outside,
        scale_up,
        resource_diff: diff,
    }
}

/// The priority calculator's admission of one pod: its priority if it should be updated.
///
/// Upstream: update_priority_calculator.go (`AddPod`)
fn prioritize(
    pod: &UpdaterPod,
    vpa: &VpaSpec,
    config: &UpdaterConfig,
    now: SimTime,
) -> Result<PodPriority, SkipReason> {
    let policy = vpa.resource_policy.as_ref();
    let recommendation = cap_for_pod(vpa.recommendation.as_deref(), policy, &pod.containers)
        .map(|(r, _)| r)
        .unwrap_or_default();
    let priority = update_priority(pod, &recommendation);
    let observed = observed_set(pod);
    let quick_oom = pod.oom_kills.iter().any(|k| {
        observed
            .as_ref()
            .is_none_or(|o| o.contains(&k.container.as_str()))
            && !container_scaling_off(&k.container, policy)
            && k.finished.since(k.started) < config.evict_after_oom_threshold_ms
            && k.finished >= k.started
    });
    if !priority.outside_recommended_range && !quick_oom {
        let Some(start) = pod.start_time else {
            return Err(SkipReason::NoStartTime);
        };
        if now < start.plus_millis(config.pod_lifetime_update_threshold_ms) {
            return Err(SkipReason::ShortLived);
        }
        if priority.resource_diff < config.update_threshold {
            return Err(SkipReason::ChangeTooSmall);
        }
    }
    if quick_oom && priority.resource_diff == 0.0 {
        return Err(SkipReason::QuickOomNoChange);
    }
    Ok(priority)
}

/// One updater loop for one VPA: returns a decision for every pod, actions first in the
/// order the updater takes them (highest priority first; in-place resizes before
/// evictions), then the pods left alone in input order.
///
/// `configured_replicas` gives each owner's configured replica count (`spec.replicas`);
/// owners missing from it (other than Jobs) are never updated. Eviction assumes success;
/// rate limits, PodDisruptionBudgets and CPU startup boost are not modelled.
///
/// Upstream: vertical-pod-autoscaler/pkg/updater/logic/updater.go (`RunOnce`),
/// priority/update_priority_calculator.go, restriction/pods_eviction_restriction.go and
/// restriction/pods_inplace_restriction.go
pub fn plan_updates(
    vpa: &VpaSpec,
    pods: &[UpdaterPod],
    configured_replicas: &BTreeMap<OwnerRef, u32>,
    config: &UpdaterConfig,
    now: SimTime,
) -> Vec<UpdateDecision> {
    let skip_all = |reason| {
        pods.iter()
            .map(|p| UpdateDecision {
                pod: p.name.clone(),
                action: UpdateAction::Skip(reason),
                priority: None,
            })
            .collect()
    };
    let in_place = match vpa.update_mode {
        UpdateMode::Off | UpdateMode::Initial => {
            return skip_all(SkipReason::UpdateModeDoesNotUpdate);
        }
        UpdateMode::InPlace if !config.in_place_feature_enabled => {
            return skip_all(SkipReason::InPlaceFeatureDisabled);
        }
        UpdateMode::Recreate | UpdateMode::Auto => false,
        UpdateMode::InPlaceOrRecreate | UpdateMode::InPlace => true,
    };
    let mut groups = group_stats(vpa, pods, configured_replicas, config);
    let mut skipped: Vec<(usize, SkipReason, Option<PodPriority>)> = Vec::new();
    let mut candidates: Vec<(usize, PodPriority)> = Vec::new();
    for (i, p) in pods.iter().enumerate() {
        let eligible = if in_place {
            match can_in_place_update(p, vpa, &groups, config, now) {
                InPlaceDecision::Approved => true,
                InPlaceDecision::Evict => vpa.update_mode == UpdateMode::InPlaceOrRecreate,
                InPlaceDecision::Infeasible | InPlaceDecision::Deferred => {
                    vpa.update_mode == UpdateMode::InPlace
                }
            }
        } else {
            can_evict(p, &groups, now)
        };
        if !eligible {
            let reason = if in_place {
                SkipReason::InPlaceDeferred
            } else {
                SkipReason::NotEvictable
            };
            skipped.push((i, reason, None));
            continue;
        }
        match prioritize(p, vpa, config, now) {
            Ok(prio) => candidates.push((i, prio)),
            Err(reason) => skipped.push((i, reason, None)),
        }
    }
    candidates.sort_by(|a, b| a.1.cmp_desc(&b.1));

    let mut decisions = Vec::new();
    let mut to_evict: Vec<(usize, PodPriority)> = Vec::new();
    if in_place {
        for (i, prio) in candidates {
            let p = &pods[i];
            match can_in_place_update(p, vpa, &groups, config, now) {
                InPlaceDecision::Evict => to_evict.push((i, prio)),
                InPlaceDecision::Deferred => {
                    skipped.push((i, SkipReason::InPlaceDeferred, Some(prio)))
                }
                InPlaceDecision::Approved | InPlaceDecision::Infeasible => {
                    if let Some(g) = p.owner.as_ref().and_then(|o| groups.get_mut(o)) {
                        g.in_place_initiated += 1;
                    }
                    decisions.push(UpdateDecision {
                        pod: p.name.clone(),
                        action: UpdateAction::ResizeInPlace,
                        priority: Some(prio),
                    });
                }
            }
        }
    } else {
        to_evict = candidates;
    }
    for (i, prio) in to_evict {
        let p = &pods[i];
        if !can_evict(p, &groups, now) {
            skipped.push((i, SkipReason::EvictionBudgetExhausted, Some(prio)));
            continue;
        }
        if p.phase != PodPhase::Pending
            && let Some(g) = p.owner.as_ref().and_then(|o| groups.get_mut(o))
        {
            g.evicted += 1;
        }
        decisions.push(UpdateDecision {
            pod: p.name.clone(),
            action: UpdateAction::Evict,
            priority: Some(prio),
        });
    }
    skipped.sort_by_key(|s| s.0);
    decisions.extend(
        skipped
            .into_iter()
            .map(|(i, reason, priority)| UpdateDecision {
                pod: pods[i].name.clone(),
                action: UpdateAction::Skip(reason),
                priority,
            }),
    );
    decisions
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vpa::ResourceList;

    const H: u64 = super::super::HOUR_MS;

    fn owner() -> OwnerRef {
        OwnerRef {
            kind: "ReplicaSet".into(),
            name: "rs".into(),
        }
    }

    fn pod(name: &str, cpu_req: i64, mem_req: i64) -> UpdaterPod {
        UpdaterPod {
            name: name.into(),
            owner: Some(owner()),
            phase: PodPhase::Running,
            start_time: Some(SimTime::ZERO),
            containers: vec![PodContainer {
                name: "app".into(),
                requests: ResourceList::new(cpu_req, mem_req),
                limits: ResourceList::EMPTY,
            }],
            ..Default::default()
        }
    }

    fn vpa(mode: UpdateMode, target: (i64, i64), lower: (i64, i64), upper: (i64, i64)) -> VpaSpec {
        VpaSpec {
            name: "v".into(),
            update_mode: mode,
            min_replicas: None,
            resource_policy: None,
            recommendation: Some(vec![ContainerRecommendation {
                container_name: "app".into(),
                target: ResourceList::new(target.0, target.1),
                lower_bound: ResourceList::new(lower.0, lower.1),
                upper_bound: ResourceList::new(upper.0, upper.1),
                uncapped_target: ResourceList::new(target.0, target.1),
            }]),
        }
    }

    fn replicas(n: u32) -> BTreeMap<OwnerRef, u32> {
        BTreeMap::from([(owner(), n)])
    }

    fn actions(d: &[UpdateDecision]) -> Vec<(&str, UpdateAction)> {
        d.iter().map(|d| (d.pod.as_str(), d.action)).collect()
    }

    fn recreate_in_range() -> VpaSpec {
        vpa(UpdateMode::Recreate, (200, 200), (100, 100), (400, 400))
    }

    #[test]
    fn defaults_match_upstream() {
        let c = UpdaterConfig::default();
        assert_eq!(c.min_replicas, 2);
        assert_eq!(c.eviction_tolerance, 0.5);
        assert_eq!(c.update_threshold, 0.1);
        assert_eq!(c.pod_lifetime_update_threshold_ms, 12 * H);
        assert_eq!(c.evict_after_oom_threshold_ms, 600_000);
    }

    // priority_processor.go: relative diff summed over resources.
    #[test]
    fn priority_calculation() {
        let v = recreate_in_range();
        let p = pod("p", 100, 400);
        let prio = update_priority(&p, v.recommendation.as_deref().unwrap());
        assert!(prio.scale_up);
        assert!(!prio.outside_recommended_range);
        assert!((prio.resource_diff - (1.0 + 0.5)).abs() < 1e-12);
        let p = pod("q", 50, 200);
        let prio = update_priority(&p, v.recommendation.as_deref().unwrap());
        assert!(prio.outside_recommended_range, "cpu 50 < lower bound 100");
        // A container without a request is always outside the range.
        let mut p = pod("r", 200, 200);
        p.containers[0].requests.memory = None;
        let prio = update_priority(&p, v.recommendation.as_deref().unwrap());
        assert!(prio.outside_recommended_range && prio.scale_up);
    }

    #[test]
    fn in_range_pod_waits_for_lifetime_then_needs_ten_percent() {
        let v = recreate_in_range();
        let c = UpdaterConfig::default();
        let pods = [pod("a", 100, 200), pod("b", 190, 200), pod("c", 100, 200)];
        let r = replicas(3);
        let early = plan_updates(&v, &pods, &r, &c, SimTime::from_millis(12 * H - 1));
        assert!(
            early
                .iter()
                .all(|d| d.action == UpdateAction::Skip(SkipReason::ShortLived))
        );
        let later = plan_updates(&v, &pods, &r, &c, SimTime::from_millis(12 * H));
        // b: |190-200|/190 = 0.053 < 0.1. Tolerance floor(3*0.5)=1: one eviction.
        assert_eq!(
            actions(&later),
            vec![
                ("a", UpdateAction::Evict),
                ("b", UpdateAction::Skip(SkipReason::ChangeTooSmall)),
                ("c", UpdateAction::Skip(SkipReason::EvictionBudgetExhausted)),
            ]
        );
    }

    #[test]
    fn outside_bounds_evicted_regardless_of_age_and_threshold() {
        // Request 401 just above the upper bound 400, target 400: a 0.25 % change, and the
        // pod is a minute old, yet it is evicted.
        let v = vpa(UpdateMode::Recreate, (400, 200), (100, 100), (400, 400));
        let p = [pod("a", 401, 200), pod("b", 400, 200)];
        let d = plan_updates(
            &v,
            &p,
            &replicas(2),
            &UpdaterConfig::default(),
            SimTime::from_secs(60),
        );
        assert_eq!(d[0].pod, "a");
        assert_eq!(d[0].action, UpdateAction::Evict);
        assert!(d[0].priority.unwrap().resource_diff < 0.1);
        assert_eq!(d[1].action, UpdateAction::Skip(SkipReason::ShortLived));
    }

    #[test]
    fn priority_order_scale_up_first_then_larger_diff() {
        let v = vpa(
            UpdateMode::Recreate,
            (200, 200),
            (10, 10),
            (100_000, 100_000),
        );
        let pods = [
            pod("down-big", 1000, 200), // diff 0.8, scale down
            pod("up-small", 150, 200),  // diff 0.33, scale up
            pod("up-big", 50, 200),     // diff 3, scale up
        ];
        let c = UpdaterConfig {
            eviction_tolerance: 1.0,
            ..Default::default()
        };
        let d = plan_updates(&v, &pods, &replicas(3), &c, SimTime::from_millis(13 * H));
        let order: Vec<&str> = d.iter().map(|d| d.pod.as_str()).collect();
        assert_eq!(order, vec!["up-big", "up-small", "down-big"]);
        assert!(d.iter().all(|d| d.action == UpdateAction::Evict));
    }

    #[test]
    fn eviction_tolerance_and_min_replicas() {
        let v = vpa(UpdateMode::Recreate, (500, 200), (300, 100), (800, 400));
        let c = UpdaterConfig::default();
        let pods: Vec<UpdaterPod> = (0..4).map(|i| pod(&format!("p{i}"), 100, 200)).collect();
        let d = plan_updates(&v, &pods, &replicas(4), &c, SimTime::ZERO);
        let evicted = d.iter().filter(|d| d.action == UpdateAction::Evict).count();
        assert_eq!(evicted, 2, "floor(4 * 0.5) = 2");
        // A single replica: below --min-replicas 2.
        let d = plan_updates(&v, &pods[..1], &replicas(1), &c, SimTime::ZERO);
        assert_eq!(d[0].action, UpdateAction::Skip(SkipReason::NotEvictable));
        // Per-VPA minReplicas 1: tolerance floor(0.5) = 0 still allows one eviction.
        let mut v1 = v.clone();
        v1.min_replicas = Some(1);
        let d = plan_updates(&v1, &pods[..1], &replicas(1), &c, SimTime::ZERO);
        assert_eq!(d[0].action, UpdateAction::Evict);
        // Unknown owner replica count or no owner: never evicted.
        let d = plan_updates(&v, &pods, &BTreeMap::new(), &c, SimTime::ZERO);
        assert!(
            d.iter()
                .all(|d| d.action == UpdateAction::Skip(SkipReason::NotEvictable))
        );
    }

    #[test]
    fn group_stats_and_disruptable() {
        let v = recreate_in_range();
        let mut pods: Vec<UpdaterPod> = (0..3).map(|i| pod(&format!("p{i}"), 100, 100)).collect();
        pods[2].phase = PodPhase::Pending;
        let g = group_stats(&v, &pods, &replicas(3), &UpdaterConfig::default())[&owner()];
        assert_eq!(
            (g.configured, g.pending, g.running, g.eviction_tolerance),
            (3, 1, 2, 1)
        );
        // 2 running > 3 - 1 is false: nothing may be disrupted while one pod is pending.
        assert!(!g.is_pod_disruptable());
        let job = OwnerRef {
            kind: "Job".into(),
            name: "j".into(),
        };
        for p in &mut pods {
            p.owner = Some(job.clone());
            p.phase = PodPhase::Running;
        }
        let g = group_stats(&v, &pods, &BTreeMap::new(), &UpdaterConfig::default())[&job];
        assert_eq!(g.configured, 3, "a Job's configured count is its live pods");
    }

    #[test]
    fn quick_oom_evicts_in_range_young_pod() {
        let v = recreate_in_range();
        let mut p = pod("a", 190, 200);
        p.oom_kills.push(OomKill {
            container: "app".into(),
            started: SimTime::from_secs(10),
            finished: SimTime::from_secs(100),
        });
        let pods = [p.clone(), pod("b", 200, 200)];
        let d = plan_updates(
            &v,
            &pods,
            &replicas(2),
            &UpdaterConfig::default(),
            SimTime::from_secs(200),
        );
        assert_eq!(d[0].pod, "a");
        assert_eq!(d[0].action, UpdateAction::Evict);
        // Same OOM but the recommendation equals the request: no change to make.
        let mut same = p.clone();
        same.containers[0].requests = ResourceList::new(200, 200);
        let d = plan_updates(
            &v,
            &[same, pod("b", 200, 200)],
            &replicas(2),
            &UpdaterConfig::default(),
            SimTime::from_secs(200),
        );
        assert_eq!(
            d[0].action,
            UpdateAction::Skip(SkipReason::QuickOomNoChange)
        );
        // An OOM after a long run is not quick.
        let mut slow = p;
        slow.oom_kills[0].finished = SimTime::from_secs(10 + 601);
        let d = plan_updates(
            &v,
            &[slow, pod("b", 200, 200)],
            &replicas(2),
            &UpdaterConfig::default(),
            SimTime::from_secs(700),
        );
        assert_eq!(d[0].action, UpdateAction::Skip(SkipReason::ShortLived));
    }

    #[test]
    fn modes_off_initial_and_gated_in_place_do_nothing() {
        let pods = [pod("a", 10, 10), pod("b", 10, 10)];
        for (mode, reason) in [
            (UpdateMode::Off, SkipReason::UpdateModeDoesNotUpdate),
            (UpdateMode::Initial, SkipReason::UpdateModeDoesNotUpdate),
            (UpdateMode::InPlace, SkipReason::InPlaceFeatureDisabled),
        ] {
            let v = vpa(mode, (200, 200), (100, 100), (400, 400));
            let d = plan_updates(
                &v,
                &pods,
                &replicas(2),
                &UpdaterConfig::default(),
                SimTime::ZERO,
            );
            assert!(
                d.iter().all(|d| d.action == UpdateAction::Skip(reason)),
                "{mode:?}"
            );
        }
        // Auto behaves like Recreate.
        let v = vpa(UpdateMode::Auto, (200, 200), (100, 100), (400, 400));
        let d = plan_updates(
            &v,
            &pods,
            &replicas(2),
            &UpdaterConfig::default(),
            SimTime::ZERO,
        );
        assert_eq!(d[0].action, UpdateAction::Evict);
    }

    #[test]
    fn in_place_or_recreate_resizes_and_falls_back_to_eviction() {
        let v = vpa(
            UpdateMode::InPlaceOrRecreate,
            (200, 200),
            (100, 100),
            (400, 400),
        );
        let c = UpdaterConfig::default();
        let pods: Vec<UpdaterPod> = (0..4).map(|i| pod(&format!("p{i}"), 50, 200)).collect();
        let d = plan_updates(&v, &pods, &replicas(4), &c, SimTime::ZERO);
        let resized = d
            .iter()
            .filter(|d| d.action == UpdateAction::ResizeInPlace)
            .count();
        assert_eq!(resized, 2, "in-place resizes share the eviction tolerance");
        assert!(
            d.iter()
                .any(|d| d.action == UpdateAction::Skip(SkipReason::InPlaceDeferred))
        );

        // An infeasible resize falls back to eviction; a recent deferred one waits 5 minutes.
        let mut infeasible = pod("inf", 50, 200);
        infeasible.resize = ResizeStatus::Infeasible;
        let mut deferred = pod("def", 50, 200);
        deferred.resize = ResizeStatus::Deferred;
        deferred.last_in_place_attempt = Some(SimTime::from_secs(100));
        let pods = [
            infeasible,
            deferred.clone(),
            pod("x", 200, 200),
            pod("y", 200, 200),
        ];
        let d = plan_updates(&v, &pods, &replicas(4), &c, SimTime::from_secs(200));
        assert_eq!(d[0].pod, "inf");
        assert_eq!(d[0].action, UpdateAction::Evict);
        assert!(
            d.iter()
                .any(|x| x.pod == "def"
                    && x.action == UpdateAction::Skip(SkipReason::InPlaceDeferred))
        );
        let d = plan_updates(&v, &pods, &replicas(4), &c, SimTime::from_secs(100 + 301));
        assert!(
            d.iter()
                .any(|x| x.pod == "def" && x.action == UpdateAction::Evict)
        );
    }

    #[test]
    fn unobserved_containers_are_ignored() {
        let v = recreate_in_range();
        let mut p = pod("a", 10, 10);
        p.observed_containers = Some("other".into());
        let prio = update_priority(&p, v.recommendation.as_deref().unwrap());
        assert_eq!(prio, PodPriority::default());
        p.observed_containers = Some("app, other".into());
        assert!(
            update_priority(&p, v.recommendation.as_deref().unwrap()).outside_recommended_range
        );
    }

    #[test]
    fn pending_pod_always_evictable() {
        let v = vpa(UpdateMode::Recreate, (200, 200), (100, 100), (400, 400));
        let mut p = pod("a", 10, 10);
        p.phase = PodPhase::Pending;
        // Pending pods do not consume the budget.
        let pods = [p, pod("b", 10, 10), pod("c", 10, 10)];
        let d = plan_updates(
            &v,
            &pods,
            &replicas(2),
            &UpdaterConfig::default(),
            SimTime::ZERO,
        );
        let evicted: Vec<&str> = d
            .iter()
            .filter(|d| d.action == UpdateAction::Evict)
            .map(|d| d.pod.as_str())
            .collect();
        assert_eq!(evicted.len(), 2, "{evicted:?}");
        assert!(evicted.contains(&"a"));
    }
}
