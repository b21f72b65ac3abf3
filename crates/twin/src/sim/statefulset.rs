//! The StatefulSet controller (kubernetes `pkg/controller/statefulset`, v1.37) in the twin: the
//! decisions of [`kscale_controllers::statefulset`] applied to the set's pods. Pods are named
//! `<set>-<ordinal>` and carry the `statefulset.kubernetes.io/pod-name`,
//! `apps.kubernetes.io/pod-index` and `controller-revision-hash` labels, `hostname` (the pod's
//! name) and `subdomain` (`spec.serviceName`), as `newVersionedStatefulSetPod` makes them. The
//! revision is `<set>-<hash of the pod template>`; the current revision (the one an update
//! started from) is remembered until the update completes, so that pods below a `partition`
//! are created again from it.
//!
//! A set's pods are a workload's pods like a Deployment's: an HPA can scale the set, a load can
//! aim at it (`statefulset/<name>`), and the metrics pipeline and the HPA read them through one
//! [`RsCache`] per set (the shared view entry of the HPA's pod views).
//!
//! Syncs run with the other workload controllers' reconcile when the set changes or one of its
//! pods does, and again when a Ready pod is due to become available (`minReadySeconds`). Not
//! modelled: `volumeClaimTemplates` (no PersistentVolumeClaims are created; the pods start as
//! if their volumes were bound), ControllerRevision objects, adoption of orphaned pods.

use std::collections::BTreeMap;
use std::sync::Arc;

use kscale_controllers::statefulset::{
    self as sts, Action, DeleteReason, MaxUnavailable, PodManagement, Replica, SetSpec,
    UpdateStrategy,
};
use serde_json::{Value, json};

use super::changes::Topic;
use super::model::{Owner, PodPhase, PodTemplate};
use super::store::ObjKey;
use super::workloads::{IdSet, RsCache, requirements_of, selector_of, template_hash};
use super::{Event, Sim};

/// The StatefulSet controller's state: per set, its revisions and pods.
#[derive(Debug, Default, Clone)]
pub struct StatefulSets {
    sets: BTreeMap<ObjKey, SetState>,
}

/// What the controller remembers of one set.
#[derive(Debug, Clone)]
struct SetState {
    uid: String,
    /// The stored set's `metadata.generation` that `spec`, `service` and `update` were read
    /// from (they change only with the spec, which bumps it).
    generation: i64,
    /// The spec as the controller reads it.
    spec: SetSpec,
    /// `spec.serviceName`.
    service: Option<String>,
    /// `status.currentRevision` and its pod template.
    current: (String, Value),
    /// The update revision (`status.updateRevision`) and its pod template, as of the last sync.
    update: (String, Value),
    /// Its pods by ordinal.
    pods: BTreeMap<i64, u64>,
    /// Its pods as the HPA, the loads and the metrics pipeline read a workload's (the
    /// template is the update revision's).
    cache: RsCache,
}

impl StatefulSets {
    /// The pods of a set as a workload's pods ([`Sim::target_replicasets`]).
    pub fn cache(&self, key: &ObjKey) -> Option<&RsCache> {
        self.sets.get(key).map(|s| &s.cache)
    }

    /// A pod of the set is gone.
    pub(crate) fn forget_pod(&mut self, key: &ObjKey, id: u64) {
        if let Some(s) = self.sets.get_mut(key) {
            s.pods.retain(|_, p| *p != id);
            s.cache.pods.remove(&id);
        }
    }
}

/// What the status shows of a set (`StatefulSetStatus`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StsStatus {
    /// The counts.
    pub counts: sts::Counts,
    /// `currentRevision`.
    pub current_revision: String,
    /// `updateRevision`.
    pub update_revision: String,
}

/// The controller's reading of a stored StatefulSet (defaults as `SetDefaults_StatefulSet`).
fn spec_of(v: &Value) -> SetSpec {
    let int = |p: &str| v.pointer(p).and_then(Value::as_i64);
    let rolling = v.pointer("/spec/updateStrategy/rollingUpdate");
    let strategy = match v
        .pointer("/spec/updateStrategy/type")
        .and_then(Value::as_str)
    {
        Some("OnDelete") => UpdateStrategy::OnDelete,
        Some("Recreate") => UpdateStrategy::Recreate,
        Some(_) if rolling.is_none() => UpdateStrategy::RollingUpdateUnset,
        _ => UpdateStrategy::RollingUpdate {
            partition: int("/spec/updateStrategy/rollingUpdate/partition").unwrap_or(0),
            max_unavailable: match v.pointer("/spec/updateStrategy/rollingUpdate/maxUnavailable") {
                Some(Value::Number(n)) => n.as_i64().map(MaxUnavailable::Count),
                Some(Value::String(s)) => s
                    .strip_suffix('%')
                    .and_then(|p| p.parse().ok())
                    .map(MaxUnavailable::Percent)
                    .or_else(|| s.parse().ok().map(MaxUnavailable::Count)),
                _ => None,
            },
        },
    };
    SetSpec {
        replicas: int("/spec/replicas").unwrap_or(1),
        start_ordinal: int("/spec/ordinals/start").unwrap_or(0),
        pod_management: match v
            .pointer("/spec/podManagementPolicy")
            .and_then(Value::as_str)
        {
            Some("Parallel") => PodManagement::Parallel,
            _ => PodManagement::OrderedReady,
        },
        strategy,
        min_ready_ms: int("/spec/minReadySeconds").unwrap_or(0).max(0) as u64 * 1000,
    }
}

/// The update revision of a stored set: its name and pod template.
fn update_revision(name: &str, v: &Value) -> (String, Value) {
    let t = v.pointer("/spec/template").cloned().unwrap_or(json!({}));
    (format!("{name}-{}", template_hash(&t)), t)
}

/// The compiled pod template of a revision's template.
fn compiled(t: &Value) -> Arc<PodTemplate> {
    Arc::new(PodTemplate::compile(t.get("metadata"), &t["spec"]))
}

/// The pod `<set>-<ordinal>` of a revision's template (`newStatefulSetPod`, `initIdentity`).
fn pod_template(
    set: &str,
    service: Option<&str>,
    revision: &str,
    t: &Value,
    ordinal: i64,
) -> Value {
    let name = format!("{set}-{ordinal}");
    let mut t = t.clone();
    if !t["metadata"].is_object() {
        t["metadata"] = json!({});
    }
    if !t["metadata"]["labels"].is_object() {
        t["metadata"]["labels"] = json!({});
    }
    let labels = &mut t["metadata"]["labels"];
    labels[sts::POD_NAME_LABEL] = json!(name);
    labels[sts::POD_INDEX_LABEL] = json!(ordinal.to_string());
    labels[sts::REVISION_LABEL] = json!(revision);
    if !t["spec"].is_object() {
        t["spec"] = json!({});
    }
    t["spec"]["hostname"] = json!(name);
    if let Some(s) = service.filter(|s| !s.is_empty()) {
        t["spec"]["subdomain"] = json!(s);
    }
    t
}

impl Sim {
    /// The set's pods as the controller reads them.
    fn sts_replicas(&self, pods: &BTreeMap<i64, u64>) -> Vec<Replica> {
        pods.iter()
            .filter_map(|(&ordinal, id)| {
                let p = self.pods.get(id)?;
                Some(Replica {
                    ordinal,
                    revision: p
                        .labels
                        .get(sts::REVISION_LABEL)
                        .cloned()
                        .unwrap_or_default(),
                    terminal: matches!(p.phase, PodPhase::Failed | PodPhase::Succeeded),
                    terminating: p.deleting_at.is_some(),
                    ready_since: p
                        .ready_at
                        .filter(|_| p.is_ready() && p.phase == PodPhase::Running),
                })
            })
            .collect()
    }

    /// The state of the stored set `key`, made (or made again for a set created again under
    /// the name) or brought up to date with its spec; `false` when the set is not stored.
    fn sts_state(&mut self, key: &ObjKey) -> bool {
        let Some(v) = self.store.get(key) else {
            return false;
        };
        let uid = v
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or("");
        let generation = v
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let known = self.statefulsets.sets.get(key);
        if known.is_some_and(|s| s.uid == uid && s.generation == generation) {
            return true;
        }
        let same_set = known.is_some_and(|s| s.uid == uid);
        let spec = spec_of(v);
        let service = v
            .pointer("/spec/serviceName")
            .and_then(Value::as_str)
            .map(str::to_string);
        let (update, t) = update_revision(&key.name, v);
        if same_set {
            let s = self.statefulsets.sets.get_mut(key).expect("known");
            s.generation = generation;
            s.spec = spec;
            s.service = service;
            if s.update.0 != update {
                s.cache.template = compiled(&t);
                s.update = (update, t);
            }
            return true;
        }
        let uid = uid.to_string();
        let selector = selector_of(v.pointer("/spec/selector"));
        let view = match known {
            Some(s) => s.cache.view,
            None => self.hpa.views_mut().new_view(),
        };
        self.store.record(Topic::ReplicaSetCaches);
        self.statefulsets.sets.insert(
            key.clone(),
            SetState {
                uid: uid.clone(),
                generation,
                spec,
                service,
                current: (update.clone(), t.clone()),
                cache: RsCache {
                    uid,
                    template: compiled(&t),
                    spread_selector: Arc::new(requirements_of(&selector)),
                    selector,
                    pods: IdSet::default(),
                    owner: None,
                    view,
                    sample_counts: Default::default(),
                    replicas: None,
                },
                update: (update, t),
                pods: BTreeMap::new(),
            },
        );
        true
    }

    /// One sync of a StatefulSet (`syncStatefulSet`).
    pub(crate) fn sync_statefulset(&mut self, key: &ObjKey) {
        if !self.sts_state(key) {
            return;
        }
        let state = &self.statefulsets.sets[key];
        let replicas = self.sts_replicas(&state.pods);
        let decided = sts::sync(
            &state.spec,
            &state.current.0,
            &state.update.0,
            &replicas,
            self.now,
        );
        if let Some(msg) = &decided.refused {
            self.emit(
                "Warning",
                "UnknownStrategy",
                "StatefulSet",
                &key.namespace,
                &key.name,
                format!("statefulset {}/{} {msg}", key.namespace, key.name),
                "statefulset-controller",
            );
        }
        for a in decided.actions {
            match a {
                Action::Delete { ordinal, reason } => {
                    let Some(&id) = self.statefulsets.sets[key].pods.get(&ordinal) else {
                        continue;
                    };
                    let name = format!("{}-{ordinal}", key.name);
                    self.delete_pod(id, None);
                    if reason == DeleteReason::Terminal {
                        self.count("statefulSetPodsReplaced");
                    }
                    self.emit(
                        "Normal",
                        "SuccessfulDelete",
                        "StatefulSet",
                        &key.namespace,
                        &key.name,
                        format!("Delete Pod {name} in StatefulSet {} successful", key.name),
                        "statefulset-controller",
                    );
                }
                Action::Create {
                    ordinal,
                    current: at_current,
                } => {
                    let state = &self.statefulsets.sets[key];
                    let (rev, t) = if at_current {
                        (&state.current.0, &state.current.1)
                    } else {
                        (&state.update.0, &state.update.1)
                    };
                    let t = pod_template(&key.name, state.service.as_deref(), rev, t, ordinal);
                    let owner = Owner {
                        kind: "StatefulSet",
                        name: key.name.clone(),
                        uid: state.uid.clone(),
                    };
                    let name = format!("{}-{ordinal}", key.name);
                    match self.create_pod(&key.namespace, &name, compiled(&t), Some(owner)) {
                        Ok(id) => {
                            let s = self.statefulsets.sets.get_mut(key).expect("state");
                            s.pods.insert(ordinal, id);
                            s.cache.pods.insert(id);
                            let view = s.cache.view;
                            if let Some(p) = self.pods.get_mut(&id) {
                                p.view = view;
                            }
                            self.emit(
                                "Normal",
                                "SuccessfulCreate",
                                "StatefulSet",
                                &key.namespace,
                                &key.name,
                                format!("Create Pod {name} in StatefulSet {} successful", key.name),
                                "statefulset-controller",
                            );
                        }
                        Err(msg) => {
                            self.emit(
                                "Warning",
                                "FailedCreate",
                                "StatefulSet",
                                &key.namespace,
                                &key.name,
                                format!(
                                    "Create Pod {name} in StatefulSet {} failed error: {msg}",
                                    key.name
                                ),
                                "statefulset-controller",
                            );
                            let at = self.now.plus_millis(super::workloads::RETRY_BACKOFF_MS);
                            self.queue.push(at, Event::Retry(key.clone()));
                            break;
                        }
                    }
                }
            }
        }
        if decided.update_complete {
            let s = self.statefulsets.sets.get_mut(key).expect("state");
            s.current = s.update.clone();
        }
        if let Some(ms) = decided.next_check_ms {
            self.queue
                .push(self.now.plus_millis(ms.max(1)), Event::Retry(key.clone()));
        }
    }

    /// The status of a stored StatefulSet as its controller last wrote it: the revisions and
    /// `minReadySeconds` of its last sync (before the first, the stored spec's).
    pub fn statefulset_status(&self, key: &ObjKey, v: &Value) -> StsStatus {
        let Some(s) = self.statefulsets.sets.get(key) else {
            let (update, _) = update_revision(&key.name, v);
            return StsStatus {
                current_revision: update.clone(),
                update_revision: update,
                ..StsStatus::default()
            };
        };
        let pods = self.sts_replicas(&s.pods);
        StsStatus {
            counts: sts::counts(
                &pods,
                s.spec.min_ready_ms,
                &s.current.0,
                &s.update.0,
                self.now,
            ),
            current_revision: s.current.0.clone(),
            update_revision: s.update.0.clone(),
        }
    }

    /// A StatefulSet is deleted: its pods go with it (background garbage collection).
    pub(crate) fn statefulset_deleted(&mut self, key: &ObjKey) {
        if let Some(s) = self.statefulsets.sets.remove(key) {
            self.store.record(Topic::ReplicaSetCaches);
            for id in s.pods.into_values() {
                self.delete_pod(id, None);
            }
        }
    }
}
