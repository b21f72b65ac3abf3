//! Deployment and ReplicaSet controllers.
//!
//! Follows kubernetes/kubernetes pkg/controller/deployment (rolling.go, sync.go, recreate.go)
//! and pkg/controller/replicaset/replica_set.go:
//! - a Deployment owns one ReplicaSet per pod-template hash (`pod-template-hash` label, name
//!   `<deployment>-<hash>`); scaling a settled Deployment scales its ReplicaSet directly;
//!   a template change rolls out with `maxSurge` (default 25%, rounded up) and
//!   `maxUnavailable` (default 25%, rounded down) or, with `Recreate`, scales old to zero first;
//! - a ReplicaSet creates at most 500 pods per sync (`BurstReplicas`) through the
//!   controller-manager's rate-limited client (20 QPS, burst 30), with expectations so a sync
//!   never double-creates, and deletes surplus pods in upstream's rank order
//!   (pkg/controller/controller_utils.go `ActivePodsWithRanks`).
//!
//! Simplifications (documented in ARCHITECTURE.md): proportional scaling during a rollout gives
//! the whole change to the newest ReplicaSet; `revisionHistoryLimit` clean-up is not done.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use kscale_model::{LabelSelector, SimTime};
use serde_json::{Value, json};

use super::changes::Topic;
use super::model::{Owner, Pod, PodPhase, PodTemplate};
use super::store::{JsonPath, ObjKey};
use super::{Event, Sim};

/// Upstream `BurstReplicas`: max pods created or deleted per ReplicaSet sync.
pub const BURST_REPLICAS: i64 = 500;

/// Back-off before a ReplicaSet whose creates failed is synced again. Upstream's work queue
/// backs off exponentially from 5 ms to 1000 s; the twin uses a fixed 10 s (*assumption*).
pub const RETRY_BACKOFF_MS: u64 = 10_000;

/// `pod-template-hash` of a template: FNV-32a of its canonical JSON, encoded like upstream's
/// `rand.SafeEncodeString(fmt.Sprint(hash))` (pkg/controller/controller_utils.go ComputeHash).
pub fn template_hash(template: &Value) -> String {
    let text = serde_json::to_string(template).unwrap_or_default();
    let mut h: u32 = 0x811c9dc5;
    for b in text.bytes() {
        h ^= b as u32;
        h = h.wrapping_mul(0x01000193);
    }
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    h.to_string()
        .bytes()
        .map(|b| ALPHANUMS[b as usize % ALPHANUMS.len()] as char)
        .collect()
}

/// Resolves an int-or-percent against `total` (percent rounded up or down).
pub fn int_or_percent(v: Option<&Value>, default: &str, total: i64, round_up: bool) -> i64 {
    let s = match v {
        Some(Value::Number(n)) => return n.as_i64().unwrap_or(0),
        Some(Value::String(s)) => s.clone(),
        _ => default.to_string(),
    };
    match s.strip_suffix('%').and_then(|p| p.parse::<i64>().ok()) {
        Some(p) => {
            let x = p * total;
            if round_up { (x + 99) / 100 } else { x / 100 }
        }
        None => s.parse().unwrap_or(0),
    }
}

/// Sort key of a pod for deletion (smaller is deleted first); see [`Sim::rank_for_deletion`].
type DeletionRank<'a> = (i64, i64, i64, i64, i64, i64, i64, &'a str);

/// What a Deployment's sync read when it ended with its current template's ReplicaSet as the
/// only one it owns (and nothing left to do): the Deployment's last update version, the
/// ReplicaSets' membership count and the update version of every ReplicaSet in the
/// Deployment's name range. While all of these are the same, another sync would read exactly
/// the same fields (it reads no pods without old ReplicaSets) and do nothing, so it is skipped;
/// debug builds run it anyway and check that it changes nothing.
#[derive(Debug, Clone)]
pub struct DeploymentMemo {
    d_updated: u64,
    rs_members: u64,
    range: Vec<(ObjKey, u64)>,
}

/// [`DeploymentMemo`]s by Deployment (lookups only, never iterated).
pub type DeploymentMemos =
    std::collections::HashMap<ObjKey, DeploymentMemo, foldhash::fast::FixedState>;

/// The controller-manager's Deployment and ReplicaSet controllers: what they keep between
/// syncs (upstream `pkg/controller/deployment/`, `pkg/controller/replicaset/`).
#[derive(Debug)]
pub struct WorkloadControllers {
    /// Workload objects to reconcile.
    dirty: BTreeSet<ObjKey>,
    /// A Reconcile event is queued.
    reconcile_pending: bool,
    /// Rate limiter of the controller-manager's client (pod creates/deletes): 20 QPS, burst
    /// 30 (kube-controller-manager `--kube-api-qps` / `--kube-api-burst` defaults).
    cm_client: crate::latency::TokenBucket,
    /// `pod-template-hash` of each Deployment's template, with the uid and
    /// `metadata.generation` it was computed for (the template changes only with the spec).
    template_hashes: BTreeMap<ObjKey, (String, i64, String)>,
    /// Creates in flight per ReplicaSet (upstream "expectations").
    pending_creates: BTreeMap<ObjKey, u32>,
    /// Per Deployment: what its last sync read, when a sync over the same objects finds
    /// nothing to do.
    deployment_memo: DeploymentMemos,
}

impl Default for WorkloadControllers {
    fn default() -> Self {
        Self::new()
    }
}

impl WorkloadControllers {
    /// The controllers before any sync.
    pub fn new() -> Self {
        WorkloadControllers {
            dirty: BTreeSet::new(),
            reconcile_pending: false,
            cm_client: crate::latency::TokenBucket::new(20.0, 30.0),
            template_hashes: BTreeMap::new(),
            pending_creates: BTreeMap::new(),
            deployment_memo: DeploymentMemos::default(),
        }
    }

    /// Marks a workload object for the next reconcile.
    pub fn mark(&mut self, key: ObjKey) {
        self.dirty.insert(key);
    }

    /// Asks for a reconcile: true if none was queued (the caller queues it).
    pub fn request_reconcile(&mut self) -> bool {
        !std::mem::replace(&mut self.reconcile_pending, true)
    }

    /// The queued reconcile starts.
    pub fn reconcile_started(&mut self) {
        self.reconcile_pending = false;
    }

    /// A ReplicaSet is gone: its creates in flight are forgotten.
    pub fn forget_creates(&mut self, key: &ObjKey) {
        self.pending_creates.remove(key);
    }

    /// Whether the Deployment's last sync is memoized.
    pub fn has_memo(&self, key: &ObjKey) -> bool {
        self.deployment_memo.contains_key(key)
    }
}

/// Compiled ReplicaSet state kept beside its stored object.
#[derive(Debug, Clone)]
pub struct RsCache {
    /// UID of the ReplicaSet.
    pub uid: String,
    /// Compiled template (shared by its pods).
    pub template: Arc<PodTemplate>,
    /// Selector.
    pub selector: LabelSelector,
    /// The selector's requirements as the scheduler's default selector ANDs them
    /// (`helper.DefaultSelector`: match labels as `key in (value)`), shared by its pods'
    /// scheduling attempts (see [`super::Sim::default_selector`]).
    pub spread_selector: Arc<LabelSelector>,
    /// Ids of the pods it owns.
    pub pods: IdSet,
    /// Owning Deployment, if any.
    pub owner: Option<ObjKey>,
    /// Its entry in the HPA's pod views (kept while the ReplicaSet's cache is replaced).
    pub view: u32,
    /// Its active and ready pods as last counted: a created pod adds one active, a member's
    /// readiness, deletion and removal move them (`Sim::mark_dirty_owner_by`), and any other
    /// `Sim::mark_dirty` of the ReplicaSet, which every change of a member goes through,
    /// clears them (`Sim::check_invariants` recounts).
    pub sample_counts: CountsMemo,
    /// `spec.replicas` of the stored object, with the update version it was read at
    /// ([`super::store::Store::get_updated`]), for the ReplicaSet's syncs.
    pub replicas: Option<(u64, i64)>,
}

/// A memo of two counts that readers sharing the twin fill in (an atomic cell, so that the
/// twin can be read from several threads at once: the HPA sync observes in parallel).
#[derive(Debug)]
pub struct CountsMemo(AtomicU64);

impl CountsMemo {
    const EMPTY: u64 = u64::MAX;

    /// The counts, if memoized.
    pub fn get(&self) -> Option<(usize, usize)> {
        match self.0.load(Ordering::Relaxed) {
            Self::EMPTY => None,
            v => Some(((v >> 32) as usize, (v & 0xffff_ffff) as usize)),
        }
    }

    /// Memoizes the counts (counts of 2^32 - 1 or more are not memoized).
    pub fn set(&self, v: Option<(usize, usize)>) {
        let packed = v
            .and_then(|(a, b)| Some((u32::try_from(a).ok()?, u32::try_from(b).ok()?)))
            .filter(|&(a, b)| a < u32::MAX && b < u32::MAX)
            .map_or(Self::EMPTY, |(a, b)| (u64::from(a) << 32) | u64::from(b));
        self.0.store(packed, Ordering::Relaxed);
    }
}

impl Default for CountsMemo {
    fn default() -> Self {
        CountsMemo(AtomicU64::new(Self::EMPTY))
    }
}

impl Clone for CountsMemo {
    fn clone(&self) -> Self {
        CountsMemo(AtomicU64::new(self.0.load(Ordering::Relaxed)))
    }
}

/// A set of pod ids kept as a sorted vector: iterating it (every HPA sync walks its
/// workload's pods) is a slice walk, and inserts come in increasing id order (new pods get
/// larger ids), so they append.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdSet(Vec<u64>);

impl IdSet {
    /// Adds `id`; false if it was there.
    pub fn insert(&mut self, id: u64) -> bool {
        match self.0.last() {
            Some(&last) if last < id => {
                self.0.push(id);
                true
            }
            None => {
                self.0.push(id);
                true
            }
            _ => match self.0.binary_search(&id) {
                Ok(_) => false,
                Err(i) => {
                    self.0.insert(i, id);
                    true
                }
            },
        }
    }

    /// Removes `id`; false if it was not there.
    pub fn remove(&mut self, id: &u64) -> bool {
        match self.0.binary_search(id) {
            Ok(i) => {
                self.0.remove(i);
                true
            }
            Err(_) => false,
        }
    }

    /// True if `id` is in the set.
    pub fn contains(&self, id: &u64) -> bool {
        self.0.binary_search(id).is_ok()
    }

    /// The ids in increasing order.
    pub fn iter(&self) -> std::slice::Iter<'_, u64> {
        self.0.iter()
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl IntoIterator for IdSet {
    type Item = u64;
    type IntoIter = std::vec::IntoIter<u64>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

fn replicas_of(v: &Value) -> i64 {
    v.at("/spec/replicas").and_then(Value::as_i64).unwrap_or(1)
}

/// `spec.replicas` of ReplicaSet `v` (last created or updated at version `updated`), read
/// again only after it was.
fn rs_replicas(c: &mut RsCache, v: &Value, updated: u64) -> i64 {
    match c.replicas {
        Some((u, r)) if u == updated => {
            debug_assert_eq!(r, replicas_of(v), "replicas memo");
            r
        }
        _ => {
            let r = replicas_of(v);
            c.replicas = Some((updated, r));
            r
        }
    }
}

/// A ReplicaSet's (active, ready) pods: its memo ([`RsCache::sample_counts`], which
/// `Sim::check_invariants` recounts) if set, else counted and memoized.
fn rs_counts(pods: &super::pod_table::PodTable, c: &RsCache) -> (usize, usize) {
    if let Some(counts) = c.sample_counts.get() {
        return counts;
    }
    let (mut active, mut ready) = (0, 0);
    for p in c.pods.iter().filter_map(|id| pods.get(id)) {
        active += usize::from(p.is_active());
        ready += usize::from(p.is_ready());
    }
    c.sample_counts.set(Some((active, ready)));
    (active, ready)
}

/// `selector`'s requirements as `labels.Selector.Add` ANDs them to another selector: its
/// match labels as `key in (value)`, then its expressions.
pub fn requirements_of(selector: &LabelSelector) -> LabelSelector {
    LabelSelector {
        match_labels: Default::default(),
        match_expressions: (selector.match_labels.iter())
            .map(|(k, v)| kscale_model::NodeSelectorRequirement {
                key: k.clone(),
                op: kscale_model::SelectorOp::In,
                values: vec![v.clone()],
            })
            .chain(selector.match_expressions.iter().cloned())
            .collect(),
    }
}

/// Converts a JSON `LabelSelector` to the model type.
pub fn selector_of(v: Option<&Value>) -> LabelSelector {
    let mut s = LabelSelector::default();
    if let Some(ml) = v
        .and_then(|x| x.get("matchLabels"))
        .and_then(Value::as_object)
    {
        for (k, val) in ml {
            s.match_labels
                .insert(k.clone(), val.as_str().unwrap_or("").to_string());
        }
    }
    for e in v
        .and_then(|x| x.get("matchExpressions"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let (Some(k), Some(op)) = (
            e.get("key").and_then(Value::as_str),
            e.get("operator")
                .and_then(Value::as_str)
                .and_then(kscale_model::SelectorOp::parse),
        ) {
            let values = e
                .get("values")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            s.match_expressions
                .push(kscale_model::NodeSelectorRequirement {
                    key: k.into(),
                    op,
                    values,
                });
        }
    }
    s
}

impl Sim {
    /// Runs the Deployment, ReplicaSet, DaemonSet and StatefulSet controllers over every dirty
    /// object.
    pub fn reconcile(&mut self) {
        // Deployments may dirty ReplicaSets, which are then synced in the same pass.
        for _round in 0..4 {
            let dirty = std::mem::take(&mut self.workloads.dirty);
            if dirty.is_empty() {
                break;
            }
            let mut synced = 0;
            for key in dirty.iter().filter(|k| k.kind == "Deployment") {
                self.sync_deployment(key);
                synced += 1;
            }
            let rs_keys: Vec<ObjKey> = dirty
                .iter()
                .filter(|k| k.kind == "ReplicaSet")
                .cloned()
                .chain(
                    std::mem::take(&mut self.workloads.dirty)
                        .into_iter()
                        .filter(|k| k.kind == "ReplicaSet"),
                )
                .collect();
            let mut seen = std::collections::BTreeSet::new();
            for key in rs_keys {
                if seen.insert(key.clone()) {
                    self.sync_replicaset(&key);
                    synced += 1;
                }
            }
            for key in dirty.iter().filter(|k| k.kind == "DaemonSet") {
                self.sync_daemonset(key);
                synced += 1;
            }
            for key in dirty.iter().filter(|k| k.kind == "StatefulSet") {
                self.sync_statefulset(key);
                synced += 1;
            }
            self.recorder.count("workloadSyncs", synced);
        }
    }

    /// Checks every cached template hash of a current Deployment (same uid and generation)
    /// against its template hashed again.
    pub(crate) fn template_hashes_check(&self) -> Result<(), String> {
        let empty = json!({});
        for (key, (uid, generation, hash)) in &self.workloads.template_hashes {
            let Some(d) = self.store.get(key) else {
                continue;
            };
            if d.at("/metadata/uid").and_then(Value::as_str) == Some(uid.as_str())
                && d.at("/metadata/generation").and_then(Value::as_i64) == Some(*generation)
            {
                let fresh = template_hash(d.at("/spec/template").unwrap_or(&empty));
                if fresh != *hash {
                    return Err(format!(
                        "Deployment {}/{}: cached template hash {hash} != {fresh} at generation {generation}",
                        key.namespace, key.name
                    ));
                }
            }
        }
        Ok(())
    }

    /// The ReplicaSets in a Deployment's name range (see [`Sim::owned_replicasets`]).
    fn replicaset_range(&self, d: &ObjKey) -> impl Iterator<Item = (&ObjKey, &Value)> {
        let lo = ObjKey::new("ReplicaSet", &d.namespace, &format!("{}-", d.name));
        let hi = ObjKey::new("ReplicaSet", &d.namespace, &format!("{}.", d.name));
        self.store.range(lo, hi)
    }

    fn owned_replicasets(&self, d: &ObjKey, uid: &str) -> Vec<ObjKey> {
        // ReplicaSets the controller creates are named `<deployment>-<hash>`; adopting others
        // by selector is not modelled, so only that name range is scanned.
        self.replicaset_range(d)
            .filter(|(_, v)| {
                v.at("/metadata/ownerReferences/0/uid")
                    .and_then(Value::as_str)
                    == Some(uid)
            })
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// True if `key`'s [`DeploymentMemo`] holds: a sync now would do nothing.
    fn deployment_memo_holds(&self, key: &ObjKey) -> bool {
        let updated = |k: &ObjKey| self.store.get_updated(k).map(|(_, u)| u);
        self.workloads.deployment_memo.get(key).is_some_and(|m| {
            updated(key) == Some(m.d_updated)
                && self.store.membership_of("ReplicaSet") == m.rs_members
                && m.range.iter().all(|(k, u)| updated(k) == Some(*u))
        })
    }

    fn sync_deployment(&mut self, key: &ObjKey) {
        if self.deployment_memo_holds(key) {
            #[cfg(debug_assertions)]
            {
                let (rv, events) = (self.store.resource_version(), self.recorder.events().len());
                self.sync_deployment_now(key);
                assert!(
                    self.store.resource_version() == rv && self.recorder.events().len() == events,
                    "Deployment {}/{}: a sync skipped by its memo changed something",
                    key.namespace,
                    key.name
                );
            }
            return;
        }
        if self.sync_deployment_now(key) {
            let Some((_, d_updated)) = self.store.get_updated(key) else {
                return;
            };
            let range = self
                .replicaset_range(key)
                .map(|(k, _)| {
                    let u = self.store.get_updated(k).map_or(0, |(_, u)| u);
                    (k.clone(), u)
                })
                .collect();
            let memo = DeploymentMemo {
                d_updated,
                rs_members: self.store.membership_of("ReplicaSet"),
                range,
            };
            self.workloads.deployment_memo.insert(key.clone(), memo);
        } else {
            self.workloads.deployment_memo.remove(key);
        }
    }

    /// Syncs a Deployment; true if it ended with its current template's ReplicaSet as the
    /// only one it owns (when a [`DeploymentMemo`] of what it read may skip the next sync).
    fn sync_deployment_now(&mut self, key: &ObjKey) -> bool {
        // Only the fields the sync reads are taken from the stored object; it is copied (with
        // its template) only when a new ReplicaSet has to be created.
        let Some(d) = self.store.get(key) else {
            return false;
        };
        let uid = d
            .at("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let replicas = replicas_of(d);
        let empty = json!({});
        // Hashed again only when the spec changed (a new generation) or the object is new.
        let generation = d.at("/metadata/generation").and_then(Value::as_i64);
        let hash = match self.workloads.template_hashes.get(key) {
            Some((u, g, h)) if *u == uid && Some(*g) == generation => h.clone(),
            _ => {
                let h = template_hash(d.at("/spec/template").unwrap_or(&empty));
                if let Some(g) = generation {
                    self.workloads
                        .template_hashes
                        .insert(key.clone(), (uid.clone(), g, h.clone()));
                }
                h
            }
        };
        let paused = d
            .at("/spec/paused")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let recreate = d.at("/spec/strategy/type").and_then(Value::as_str) == Some("Recreate");
        let ru = d.at("/spec/strategy/rollingUpdate");
        let (max_surge, max_unavailable) = (
            ru.and_then(|r| r.get("maxSurge")).cloned(),
            ru.and_then(|r| r.get("maxUnavailable")).cloned(),
        );
        let rs_list = self.owned_replicasets(key, &uid);
        let new_key = rs_list.iter().find(|k| {
            self.store
                .get(k)
                .and_then(|v| v.at("/metadata/labels/pod-template-hash"))
                .and_then(Value::as_str)
                == Some(hash.as_str())
        });
        let old: Vec<ObjKey> = rs_list
            .iter()
            .filter(|k| Some(*k) != new_key)
            .cloned()
            .collect();
        let old_pods: i64 = old.iter().map(|k| self.rs_active_pods(k) as i64).sum();
        let old_replicas: i64 = old
            .iter()
            .map(|k| self.store.get(k).map(replicas_of).unwrap_or(0))
            .sum();
        let settled = new_key.is_some() && old.is_empty();
        let new_key = match new_key {
            Some(k) => {
                // A template that returns to an older ReplicaSet's (a rollback) makes it the
                // newest revision (deploymentutil.SetNewReplicaSetAnnotations).
                let newest_old = old.iter().map(|o| self.revision_of(o)).max().unwrap_or(0);
                if !paused && self.revision_of(k) <= newest_old {
                    let k = k.clone();
                    self.store.update(&k, |v| {
                        v["metadata"]["annotations"]["deployment.kubernetes.io/revision"] =
                            json!((newest_old + 1).to_string());
                    });
                    k
                } else {
                    k.clone()
                }
            }
            None => {
                if paused {
                    return false;
                }
                // The first ReplicaSet starts at full size; later ones start at zero and grow
                // by the rollout rules below.
                let start = if old_replicas == 0 && old_pods == 0 {
                    replicas
                } else {
                    0
                };
                let d = self.store.get(key).cloned().expect("read above");
                let mut template = d.at("/spec/template").cloned().unwrap_or(json!({}));
                template["metadata"]["labels"]["pod-template-hash"] = json!(hash);
                self.create_replicaset(key, &d, &template, &hash, start)
            }
        };
        if paused {
            return settled;
        }
        let new_replicas = self.store.get(&new_key).map(replicas_of).unwrap_or(0);
        if old_replicas == 0 && old_pods == 0 {
            if new_replicas != replicas {
                self.scale_rs(key, &new_key, replicas);
            }
            return settled;
        }
        if recreate {
            for k in &old {
                self.scale_rs(key, k, 0);
            }
            if old_pods == 0 && new_replicas != replicas {
                self.scale_rs(key, &new_key, replicas);
            }
            return false;
        }
        let max_surge = int_or_percent(max_surge.as_ref(), "25%", replicas, true);
        let mut max_unavailable = int_or_percent(max_unavailable.as_ref(), "25%", replicas, false);
        if max_surge == 0 && max_unavailable == 0 {
            max_unavailable = 1;
        }
        // Scale up the new ReplicaSet within maxSurge (rolling.go reconcileNewReplicaSet).
        let total = old_replicas + new_replicas;
        if new_replicas < replicas {
            let up = (replicas + max_surge - total).min(replicas - new_replicas);
            if up > 0 {
                self.scale_rs(key, &new_key, new_replicas + up);
            }
        } else if new_replicas > replicas {
            self.scale_rs(key, &new_key, replicas);
        }
        // Scale down old ReplicaSets within maxUnavailable (reconcileOldReplicaSets).
        let new_replicas = self.store.get(&new_key).map(replicas_of).unwrap_or(0);
        let new_available = self.rs_ready_pods(&new_key) as i64;
        let all = old_replicas + new_replicas;
        let min_available = replicas - max_unavailable;
        let new_unavailable = new_replicas - new_available;
        let mut budget = all - min_available - new_unavailable;
        let mut old_sorted = old.clone();
        old_sorted.sort_by_key(|k| {
            self.store.get(k).and_then(|v| {
                v.at("/metadata/creationTimestamp")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
        });
        // First remove unhealthy old replicas, which costs no availability.
        for k in &old_sorted {
            let r = self.store.get(k).map(replicas_of).unwrap_or(0);
            let unhealthy = r - self.rs_ready_pods(k) as i64;
            if r > 0 && unhealthy > 0 {
                self.scale_rs(key, k, r - unhealthy);
            }
        }
        for k in &old_sorted {
            if budget <= 0 {
                break;
            }
            let r = self.store.get(k).map(replicas_of).unwrap_or(0);
            let down = r.min(budget);
            if down > 0 {
                self.scale_rs(key, k, r - down);
                budget -= down;
            }
        }
        false
    }

    /// `deployment.kubernetes.io/revision` of a ReplicaSet (0 when unset).
    fn revision_of(&self, key: &ObjKey) -> i64 {
        self.store
            .get(key)
            .and_then(|v| v.at("/metadata/annotations/deployment.kubernetes.io~1revision"))
            .and_then(Value::as_str)
            .and_then(|r| r.parse().ok())
            .unwrap_or(0)
    }

    /// `deploymentutil.MaxSurge`: the surge a RollingUpdate Deployment allows (0 otherwise).
    fn max_surge_of(d: &Value) -> i64 {
        if d.at("/spec/strategy/type").and_then(Value::as_str) == Some("Recreate") {
            return 0;
        }
        let replicas = replicas_of(d);
        int_or_percent(
            d.at("/spec/strategy/rollingUpdate/maxSurge"),
            "25%",
            replicas,
            true,
        )
    }

    fn create_replicaset(
        &mut self,
        dkey: &ObjKey,
        d: &Value,
        template: &Value,
        hash: &str,
        replicas: i64,
    ) -> ObjKey {
        let name = format!("{}-{}", dkey.name, hash);
        // deploymentutil.SetNewReplicaSetAnnotations: the revision after the owned ones';
        // SetReplicasAnnotations: desired and max (desired + maxSurge) replicas.
        let uid = d
            .at("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let revision = self
            .owned_replicasets(dkey, &uid)
            .iter()
            .map(|k| self.revision_of(k))
            .max()
            .unwrap_or(0)
            + 1;
        let max_replicas = replicas_of(d) + Self::max_surge_of(d);
        let mut labels = template
            .at("/metadata/labels")
            .cloned()
            .unwrap_or(json!({}));
        labels["pod-template-hash"] = json!(hash);
        let mut selector = d.at("/spec/selector").cloned().unwrap_or(json!({}));
        selector["matchLabels"]["pod-template-hash"] = json!(hash);
        let rs = json!({
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": name,
                "namespace": dkey.namespace,
                "labels": labels,
                "annotations": {
                    "deployment.kubernetes.io/desired-replicas": replicas_of(d).to_string(),
                    "deployment.kubernetes.io/max-replicas": max_replicas.to_string(),
                    "deployment.kubernetes.io/revision": revision.to_string(),
                },
                "ownerReferences": [{
                    "apiVersion": "apps/v1", "kind": "Deployment", "name": dkey.name,
                    "uid": d.at("/metadata/uid").cloned().unwrap_or(Value::Null),
                    "controller": true, "blockOwnerDeletion": true
                }]
            },
            "spec": {"replicas": replicas, "selector": selector, "template": template, "minReadySeconds": d.at("/spec/minReadySeconds").cloned().unwrap_or(json!(0))}
        });
        let key = ObjKey::new("ReplicaSet", &dkey.namespace, &name);
        self.put_replicaset(key.clone(), rs, Some(dkey.clone()));
        if replicas > 0 {
            self.emit(
                "Normal",
                "ScalingReplicaSet",
                "Deployment",
                &dkey.namespace,
                &dkey.name,
                format!("Scaled up replica set {name} from 0 to {replicas}"),
                "deployment-controller",
            );
        }
        key
    }

    /// Stores a ReplicaSet and compiles its template.
    pub fn put_replicaset(&mut self, key: ObjKey, rs: Value, owner: Option<ObjKey>) {
        let created = self.timestamp(self.now);
        let uids = &mut self.rng.uids;
        self.store.put(key.clone(), rs, || uids.uuid(), created);
        let v = self.store.get(&key).expect("just stored");
        let template = Arc::new(PodTemplate::compile(
            v.at("/spec/template/metadata"),
            v.at("/spec/template/spec").unwrap_or(&Value::Null),
        ));
        let selector = selector_of(v.at("/spec/selector"));
        let uid = v
            .at("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let (pods, view) = match self.rs_cache.get(&key) {
            Some(c) => (c.pods.clone(), c.view),
            None => (IdSet::default(), self.hpa.views_mut().new_view()),
        };
        self.store.record(Topic::ReplicaSetCaches);
        self.rs_cache.insert(
            key.clone(),
            RsCache {
                uid,
                template,
                spread_selector: Arc::new(requirements_of(&selector)),
                selector,
                pods,
                owner,
                view,
                sample_counts: Default::default(),
                replicas: None,
            },
        );
        self.mark_dirty(key);
    }

    fn scale_rs(&mut self, dkey: &ObjKey, key: &ObjKey, to: i64) {
        let from = self.store.get(key).map(replicas_of).unwrap_or(0);
        if from == to {
            return;
        }
        let d = self.store.get(dkey);
        let d_replicas = d.map(replicas_of).unwrap_or(0);
        let max_replicas = d_replicas + d.map(Self::max_surge_of).unwrap_or(0);
        self.store.update_replicas(key, to, |v| {
            let a = &mut v["metadata"]["annotations"];
            a["deployment.kubernetes.io/desired-replicas"] = json!(d_replicas.to_string());
            a["deployment.kubernetes.io/max-replicas"] = json!(max_replicas.to_string());
        });
        let dir = if to > from { "up" } else { "down" };
        self.emit(
            "Normal",
            "ScalingReplicaSet",
            "Deployment",
            &dkey.namespace,
            &dkey.name,
            format!("Scaled {dir} replica set {} from {from} to {to}", key.name),
            "deployment-controller",
        );
        self.mark_dirty(key.clone());
    }

    /// Active (non-terminating) pods of a ReplicaSet.
    pub fn rs_active_pods(&self, key: &ObjKey) -> usize {
        self.rs_cache
            .get(key)
            .map(|c| rs_counts(&self.pods, c).0)
            .unwrap_or(0)
    }

    /// Ready pods of a ReplicaSet.
    pub fn rs_ready_pods(&self, key: &ObjKey) -> usize {
        self.rs_cache
            .get(key)
            .map(|c| rs_counts(&self.pods, c).1)
            .unwrap_or(0)
    }

    fn sync_replicaset(&mut self, key: &ObjKey) {
        let Some((v, updated)) = self.store.get_updated(key) else {
            return;
        };
        let Some(cache) = self.rs_cache.get_mut(key) else {
            return;
        };
        let replicas = rs_replicas(cache, v, updated);
        let cache = &*cache;
        // Counted first (or memoized): the pods themselves are listed only to delete some.
        let active = rs_counts(&self.pods, cache).0;
        let pending = *self.workloads.pending_creates.get(key).unwrap_or(&0) as i64;
        let diff = active as i64 + pending - replicas;
        if diff < 0 {
            // Slow start (controller_utils.go slowStartBatch): the first batch is one pod; if it
            // fails, nothing else is created this sync and the key is retried with back-off.
            // Admission failures are known up front in the twin, so the failing batch of one is
            // evaluated synchronously.
            let template = Arc::clone(&cache.template);
            if let Err(msg) = self.admission_check(&key.namespace, &template) {
                self.emit(
                    "Warning",
                    "FailedCreate",
                    "ReplicaSet",
                    &key.namespace,
                    &key.name,
                    format!("Error creating: pods \"{}-\" is forbidden: {msg}", key.name),
                    "replicaset-controller",
                );
                let at = self.now.plus_millis(RETRY_BACKOFF_MS);
                self.queue.push(at, Event::Retry(key.clone()));
                return;
            }
            let n = (-diff).min(BURST_REPLICAS);
            for _ in 0..n {
                let at = self.workloads.cm_client.take(self.now.as_millis());
                self.queue.push(SimTime(at), Event::PodCreate(key.clone()));
            }
            *self
                .workloads
                .pending_creates
                .entry(key.clone())
                .or_insert(0) += n as u32;
        } else if diff > 0 {
            let active: Vec<u64> = cache
                .pods
                .iter()
                .copied()
                .filter(|id| self.pods.get(id).is_some_and(Pod::is_active))
                .collect();
            let n = diff.min(BURST_REPLICAS).min(active.len() as i64) as usize;
            let victims = self.rank_for_deletion(&active, n);
            for id in victims {
                let name = self.pods[&id].name.to_string();
                self.delete_pod(id, None);
                self.emit(
                    "Normal",
                    "SuccessfulDelete",
                    "ReplicaSet",
                    &key.namespace,
                    &key.name,
                    format!("Deleted pod: {name}"),
                    "replicaset-controller",
                );
            }
        }
    }

    /// Picks `n` pods to delete, most deletable first (controller_utils.go ActivePodsWithRanks
    /// with LogarithmicScaleDown): unassigned before assigned, Pending before Running, not ready
    /// before ready, more replicas on the same node first, more recently ready first (log₂
    /// buckets), more restarts first, newer first (log₂ buckets), then by name.
    ///
    /// Only the first `n` are put in order (a selection, then a sort of those): every key is
    /// distinct (ties broken by position in `active`), so they are the `n` that sorting the
    /// whole list stably would put first, in the same order.
    pub fn rank_for_deletion(&self, active: &[u64], n: usize) -> Vec<u64> {
        if n == 0 {
            return Vec::new();
        }
        let now = self.now;
        // Pods per node (lookups only).
        let mut per_node: std::collections::HashMap<&str, i64, foldhash::fast::FixedState> =
            Default::default();
        for id in active {
            if let Some(node) = self.pods[id].node.as_deref() {
                *per_node.entry(node).or_insert(0) += 1;
            }
        }
        // floor(log2(age in ns)): pods whose ages fall in the same power-of-two bucket tie.
        let age_bucket =
            |t: SimTime| -> i64 { ((now.since(t).max(1) as f64) * 1e6).log2().floor() as i64 };
        let mut ranked: Vec<(DeletionRank<'_>, usize, u64)> = active
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let p = &self.pods[id];
                let phase_rank = match p.phase {
                    PodPhase::Pending | PodPhase::ContainerCreating => 0,
                    _ => 2,
                };
                let key = (
                    p.node.is_some() as i64,
                    phase_rank,
                    p.is_ready() as i64,
                    -p.node.as_deref().map(|n| per_node[n]).unwrap_or(0),
                    p.ready_at
                        .filter(|_| p.is_ready())
                        .map(age_bucket)
                        .unwrap_or(0),
                    -(p.restarts as i64),
                    age_bucket(p.created),
                    &*p.name,
                );
                (key, i, *id)
            })
            .collect();
        if n < ranked.len() {
            ranked.select_nth_unstable(n - 1);
            ranked.truncate(n);
        }
        ranked.sort_unstable();
        ranked.into_iter().map(|(_, _, id)| id).collect()
    }

    pub(crate) fn pod_create_lands(&mut self, key: ObjKey) {
        if let Some(p) = self.workloads.pending_creates.get_mut(&key) {
            *p = p.saturating_sub(1);
        }
        let Some((v, updated)) = self.store.get_updated(&key) else {
            return;
        };
        let Some(c) = self.rs_cache.get_mut(&key) else {
            assert!(replicas_of(v) <= 0, "cache of stored ReplicaSet");
            return;
        };
        let replicas = rs_replicas(c, v, updated);
        if rs_counts(&self.pods, c).0 as i64 >= replicas {
            return;
        }
        // The owner's uid and the shared template, not a copy of the cache and its pod set.
        let (uid, template) = (c.uid.clone(), c.template.clone());
        let name = format!("{}-{}", key.name, self.rng.names.name_suffix(5));
        let owner = Owner {
            kind: "ReplicaSet",
            name: key.name.clone(),
            uid,
        };
        match self.create_pod(&key.namespace, &name, template, Some(owner)) {
            Ok(id) => {
                let c = self.rs_cache.get_mut(&key).expect("cache");
                // A new pod is active (Pending) and not ready: the memoized counts follow.
                let joined = c.pods.insert(id);
                let counts = c.sample_counts.get().filter(|_| joined);
                c.sample_counts
                    .set(counts.map(|(active, ready)| (active + 1, ready)));
                let view = c.view;
                if let Some(p) = self.pods.get_mut(&id) {
                    p.view = view;
                }
                self.emit(
                    "Normal",
                    "SuccessfulCreate",
                    "ReplicaSet",
                    &key.namespace,
                    &key.name,
                    format!("Created pod: {name}"),
                    "replicaset-controller",
                );
            }
            Err(msg) => {
                self.emit(
                    "Warning",
                    "FailedCreate",
                    "ReplicaSet",
                    &key.namespace,
                    &key.name,
                    format!("Error creating: {msg}"),
                    "replicaset-controller",
                );
            }
        }
    }
}
