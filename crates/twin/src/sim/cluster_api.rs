//! The twin as a [`Cluster`]: components written against the cluster API read the twin's
//! objects as the API server would show them (the same rendering `kubectl get -o json`
//! prints) and write through the twin's own API paths (apply, scale, events).
//!
//! Reads filter on the twin's tables before rendering (namespace and labels of pods and
//! nodes), so a selective list costs what it returns, not the cluster's size.

use std::sync::Arc;

use kscale_cluster::{ApiError, Changes, Cluster, Event, Object, Patch, PodMetrics, ScaleKind};
use kscale_model::LabelSelector;
use serde_json::Value;

use super::Sim;
use super::api::is_cluster_scoped;
use super::ops::PatchError;
use super::store::ObjKey;

/// A borrowed twin serving the cluster API at its current virtual time.
pub struct SimCluster<'a>(pub &'a mut Sim);

fn decode<K: Object>(v: Value) -> Result<K, ApiError> {
    serde_json::from_value(v).map_err(|e| {
        ApiError::Unavailable(format!(
            "the twin rendered a {} it cannot read: {e}",
            K::KIND
        ))
    })
}

/// A patch's body and the twin's patch type.
fn patch_parts(patch: &Patch) -> (&Value, kscale_kubectl::PatchType) {
    match patch {
        Patch::Merge(v) => (v, kscale_kubectl::PatchType::Merge),
        Patch::Strategic(v) => (v, kscale_kubectl::PatchType::Strategic),
        Patch::Json(v) => (v, kscale_kubectl::PatchType::Json),
    }
}

/// Seconds of grace as the twin's milliseconds (negative: now).
fn grace_ms(grace_seconds: Option<i64>) -> Option<u64> {
    grace_seconds.map(|s| s.max(0) as u64 * 1000)
}

impl SimCluster<'_> {
    /// The pod's id in the twin's table.
    fn pod_id(&self, namespace: &str, name: &str) -> Option<u64> {
        self.0
            .pod_names
            .get(&(Arc::from(namespace), Arc::from(name)))
            .copied()
    }

    fn read_back<K: Object>(&self, namespace: &str, name: &str) -> Result<K, ApiError> {
        self.0
            .get_one(K::KIND, namespace, name)
            .ok_or_else(|| ApiError::not_found::<K>(namespace, name))
            .and_then(decode)
    }
}

fn labels_of(v: &Value) -> kscale_model::labels::Labels {
    v.pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

impl Cluster for SimCluster<'_> {
    fn now_ms(&self) -> u64 {
        self.0.now.0
    }

    fn get<K: Object>(&mut self, namespace: &str, name: &str) -> Result<Option<K>, ApiError> {
        self.0
            .get_one(K::KIND, namespace, name)
            .map(decode)
            .transpose()
    }

    fn list<K: Object>(
        &mut self,
        namespace: Option<&str>,
        selector: &str,
    ) -> Result<Vec<K>, ApiError> {
        let sel = LabelSelector::parse(selector).map_err(ApiError::Invalid)?;
        let sim = &*self.0;
        let rendered: Vec<Value> = match K::KIND {
            "Pod" => {
                let mut pods: Vec<_> = sim
                    .pods
                    .values()
                    .filter(|p| namespace.is_none_or(|n| *p.namespace == *n))
                    .filter(|p| sel.matches(&p.labels))
                    .map(|p| ((Arc::clone(&p.namespace), Arc::clone(&p.name)), p))
                    .collect();
                pods.sort_by(|a, b| a.0.cmp(&b.0));
                pods.into_iter().map(|(_, p)| sim.render_pod(p)).collect()
            }
            "Node" => sim
                .nodes
                .values()
                .filter(|n| sel.matches(&n.info.labels))
                .map(|n| sim.render_node(n))
                .collect(),
            kind => sim
                .list_rendered(kind, namespace)
                .into_iter()
                .filter(|v| sel.is_empty() || sel.matches(&labels_of(v)))
                .collect(),
        };
        rendered.into_iter().map(decode).collect()
    }

    fn create<K: Object>(&mut self, obj: &K) -> Result<(), ApiError> {
        let v = serde_json::to_value(obj)
            .map_err(|e| ApiError::Invalid(format!("{} does not serialize: {e}", K::KIND)))?;
        match self.0.apply_value(v, None) {
            Ok(super::api::ApplyOutcome::Created) => Ok(()),
            Ok(_) => Err(ApiError::AlreadyExists(format!(
                "{} {:?}",
                K::KIND,
                obj.metadata().name
            ))),
            Err(e) => Err(ApiError::Invalid(e)),
        }
    }

    fn scale(
        &mut self,
        kind: ScaleKind,
        namespace: &str,
        name: &str,
        replicas: i32,
    ) -> Result<(), ApiError> {
        self.0
            .scale(kind.kind(), namespace, name, replicas as i64, None)
            .map(|_| ())
            .map_err(|e| {
                if e.contains("not found") {
                    ApiError::NotFound {
                        kind: kind.kind().into(),
                        namespace: namespace.into(),
                        name: name.into(),
                    }
                } else {
                    ApiError::Invalid(e)
                }
            })
    }

    fn revision(&mut self) -> Result<u64, ApiError> {
        Ok(self.0.store.changes().revision())
    }

    fn changes<K: Object>(&mut self, since: u64) -> Result<Changes, ApiError> {
        let feed = self.0.store.changes();
        // Every change of the kind up to now is returned: resume from now (as a watch's
        // bookmark moves a consumer on past other kinds' changes).
        match feed.since(K::KIND, since) {
            Ok(changes) => Ok(Changes {
                revision: feed.revision(),
                changes,
            }),
            Err(oldest) => Err(ApiError::Expired(format!(
                "too old resource version: {since} ({oldest})"
            ))),
        }
    }

    fn patch<K: Object>(
        &mut self,
        namespace: &str,
        name: &str,
        patch: &Patch,
    ) -> Result<K, ApiError> {
        let (body, t) = patch_parts(patch);
        match self.0.patch_object(K::KIND, namespace, name, body, t) {
            Ok(_) => self.read_back(namespace, name),
            Err(PatchError::NotFound) => Err(ApiError::not_found::<K>(namespace, name)),
            Err(PatchError::Invalid(m)) => Err(ApiError::Invalid(m)),
        }
    }

    /// Stored kinds only: pods' and nodes' status belongs to the twin's kubelet.
    fn patch_status<K: Object>(
        &mut self,
        namespace: &str,
        name: &str,
        patch: &Patch,
    ) -> Result<K, ApiError> {
        if matches!(K::KIND, "Pod" | "Node") {
            return Err(ApiError::Invalid(format!(
                "{} status is written by the twin's kubelet",
                K::KIND
            )));
        }
        let current = self
            .0
            .get_one(K::KIND, namespace, name)
            .ok_or_else(|| ApiError::not_found::<K>(namespace, name))?;
        let (body, t) = patch_parts(patch);
        let patched = kscale_kubectl::apply_patch_value(&current, body, t)
            .map_err(|e| ApiError::Invalid(e.to_string()))?;
        let status = patched.get("status").cloned();
        if status.as_ref() != current.get("status") {
            let ns = if is_cluster_scoped(K::KIND) {
                ""
            } else {
                namespace
            };
            let key = ObjKey::new(K::KIND, ns, name);
            self.0
                .store
                .update_status(&key, |v| match (status, v.as_object_mut()) {
                    (Some(s), _) => v["status"] = s,
                    (None, Some(o)) => {
                        o.remove("status");
                    }
                    (None, None) => {}
                });
        }
        self.read_back(namespace, name)
    }

    fn resize(
        &mut self,
        namespace: &str,
        name: &str,
        patch: &Patch,
    ) -> Result<k8s_openapi::api::core::v1::Pod, ApiError> {
        use k8s_openapi::api::core::v1::Pod as CorePod;
        let id = self
            .pod_id(namespace, name)
            .ok_or_else(|| ApiError::not_found::<CorePod>(namespace, name))?;
        let current = self
            .0
            .get_one("Pod", namespace, name)
            .ok_or_else(|| ApiError::not_found::<CorePod>(namespace, name))?;
        let (body, t) = patch_parts(patch);
        let patched = kscale_kubectl::apply_patch_value(&current, body, t)
            .map_err(|e| ApiError::Invalid(e.to_string()))?;
        self.0
            .propose_resize(id, &patched)
            .map_err(ApiError::Invalid)?;
        self.read_back(namespace, name)
    }

    fn delete<K: Object>(
        &mut self,
        namespace: &str,
        name: &str,
        grace_seconds: Option<i64>,
    ) -> Result<(), ApiError> {
        if self
            .0
            .delete_object(K::KIND, namespace, name, grace_ms(grace_seconds))
        {
            Ok(())
        } else {
            Err(ApiError::not_found::<K>(namespace, name))
        }
    }

    /// As the eviction subresource decides (upstream
    /// `pkg/registry/core/pod/storage/eviction.go`): a pod that has not started, or is being
    /// deleted already, is deleted without looking at budgets; otherwise the one
    /// PodDisruptionBudget selecting it must allow a disruption (more than one is an error).
    fn evict(
        &mut self,
        namespace: &str,
        name: &str,
        grace_seconds: Option<i64>,
    ) -> Result<(), ApiError> {
        use k8s_openapi::api::core::v1::Pod as CorePod;
        let id = self
            .pod_id(namespace, name)
            .ok_or_else(|| ApiError::not_found::<CorePod>(namespace, name))?;
        let pod = &self.0.pods[&id];
        let started = pod.node.is_some() && pod.phase == super::model::PodPhase::Running;
        if started && pod.deleting_at.is_none() {
            let labels = pod.labels.clone();
            let pdbs: Vec<_> = self
                .0
                .pdb_infos()
                .into_iter()
                .filter(|b| b.namespace == namespace && b.selector.matches(&labels))
                .collect();
            match pdbs.as_slice() {
                [] => {}
                [one] if one.disruptions_allowed > 0 => {}
                [_] => {
                    return Err(ApiError::TooManyRequests(
                        "Cannot evict pod as it would violate the pod's disruption budget.".into(),
                    ));
                }
                _ => {
                    return Err(ApiError::Unavailable(
                        "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.".into(),
                    ));
                }
            }
        }
        self.0.delete_pod(id, grace_ms(grace_seconds));
        Ok(())
    }

    fn bind(&mut self, namespace: &str, name: &str, node: &str) -> Result<(), ApiError> {
        use k8s_openapi::api::core::v1::{Node as CoreNode, Pod as CorePod};
        let id = self
            .pod_id(namespace, name)
            .ok_or_else(|| ApiError::not_found::<CorePod>(namespace, name))?;
        let Some((node_name, _)) = self.0.nodes.get_key_value(node) else {
            return Err(ApiError::not_found::<CoreNode>("", node));
        };
        let node_name = Arc::clone(node_name);
        let pod = &self.0.pods[&id];
        if let Some(on) = &pod.node {
            return Err(ApiError::AlreadyExists(format!(
                "pod {name} is already assigned to node \"{on}\""
            )));
        }
        if pod.deleting_at.is_some() {
            return Err(ApiError::Invalid(format!(
                "pod {name} is being deleted, cannot be assigned to a host"
            )));
        }
        let (priority, created) = (pod.priority, pod.created);
        self.0.sched_queue.remove(priority, created, id);
        self.0.bind_pod(id, &node_name);
        Ok(())
    }

    /// [`Sim::resource_metrics_pods`].
    fn pod_metrics(
        &mut self,
        namespace: Option<&str>,
        selector: &str,
    ) -> Result<Vec<PodMetrics>, ApiError> {
        let sel = LabelSelector::parse(selector).map_err(ApiError::Invalid)?;
        Ok(self.0.resource_metrics_pods(namespace, &sel))
    }

    fn event(&mut self, e: Event) {
        self.0.emit(
            e.type_.as_str(),
            &e.reason,
            &e.kind,
            &e.namespace,
            &e.name,
            e.message,
            &e.source,
        );
    }
}
