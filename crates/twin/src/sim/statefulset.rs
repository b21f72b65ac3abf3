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
    /// `status.currentRevision` and its pod template.
    current: (String, Value),
    /// The update revision's name as of the last sync.
    update: String,
    /// Its pods by ordinal.
    pods: BTreeMap<i64, u64>,
    /// Its pods as the HPA, the loads and the metrics pipeline read a workload's.
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

    /// The state of a stored set, made or renewed (a set created again under the name).
    fn sts_state(&mut self, key: &ObjKey, v: &Value) -> &mut SetState {
        let uid = v
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if self.statefulsets.sets.get(key).is_none_or(|s| s.uid != uid) {
            let (name, t) = update_revision(&key.name, v);
            let selector = selector_of(v.pointer("/spec/selector"));
            let view = match self.statefulsets.sets.get(key) {
                Some(s) => s.cache.view,
                None => self.hpa.views_mut().new_view(),
            };
            let template = Arc::new(PodTemplate::compile(t.get("metadata"), &t["spec"]));
            self.store.record(Topic::ReplicaSetCaches);
            self.statefulsets.sets.insert(
                key.clone(),
                SetState {
                    uid: uid.clone(),
                    update: name.clone(),
                    current: (name, t),
                    pods: BTreeMap::new(),
                    cache: RsCache {
                        uid,
                        template,
                        spread_selector: Arc::new(requirements_of(&selector)),
                        selector,
                        pods: IdSet::default(),
                        owner: None,
                        view,
                        sample_counts: Default::default(),
                        replicas: None,
                    },
                },
            );
        }
        self.statefulsets.sets.get_mut(key).expect("just made")
    }

    /// One sync of a StatefulSet (`syncStatefulSet`).
    pub(crate) fn sync_statefulset(&mut self, key: &ObjKey) {
        let Some(v) = self.store.get(key).cloned() else {
            return;
        };
        let spec = spec_of(&v);
        let (update, template) = update_revision(&key.name, &v);
        let service = v
            .pointer("/spec/serviceName")
            .and_then(Value::as_str)
            .map(str::to_string);
        let state = self.sts_state(key, &v);
        state.update = update.clone();
        let (current, pods) = (state.current.0.clone(), state.pods.clone());
        let replicas = self.sts_replicas(&pods);
        let decided = sts::sync(&spec, &current, &update, &replicas, self.now);
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
        let current_template = self.statefulsets.sets[key].current.1.clone();
        for a in decided.actions {
            match a {
                Action::Delete { ordinal, reason } => {
                    let Some(&id) = pods.get(&ordinal) else {
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
                    let (rev, t) = if at_current {
                        (current.as_str(), &current_template)
                    } else {
                        (update.as_str(), &template)
                    };
                    let t = pod_template(&key.name, service.as_deref(), rev, t, ordinal);
                    let compiled = Arc::new(PodTemplate::compile(t.get("metadata"), &t["spec"]));
                    let name = format!("{}-{ordinal}", key.name);
                    let owner = Owner {
                        kind: "StatefulSet",
                        name: key.name.clone(),
                        uid: self.statefulsets.sets[key].uid.clone(),
                    };
                    match self.create_pod(&key.namespace, &name, compiled, Some(owner)) {
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
            s.current = (update, template);
        }
        if let Some(ms) = decided.next_check_ms {
            self.queue
                .push(self.now.plus_millis(ms.max(1)), Event::Retry(key.clone()));
        }
    }

    /// The status of a stored StatefulSet.
    pub fn statefulset_status(&self, key: &ObjKey, v: &Value) -> StsStatus {
        let spec = spec_of(v);
        let (update, _) = update_revision(&key.name, v);
        let Some(s) = self.statefulsets.sets.get(key) else {
            return StsStatus {
                current_revision: update.clone(),
                update_revision: update,
                ..StsStatus::default()
            };
        };
        let pods = self.sts_replicas(&s.pods);
        StsStatus {
            counts: sts::counts(&pods, spec.min_ready_ms, &s.current.0, &update, self.now),
            current_revision: s.current.0.clone(),
            update_revision: update,
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
