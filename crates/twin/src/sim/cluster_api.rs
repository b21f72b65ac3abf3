//! The twin as a [`Cluster`]: components written against the cluster API read the twin's
//! objects as the API server would show them (the same rendering `kubectl get -o json`
//! prints) and write through the twin's own API paths (apply, scale, events).
//!
//! Reads filter on the twin's tables before rendering (namespace and labels of pods and
//! nodes), so a selective list costs what it returns, not the cluster's size.

use std::sync::Arc;

use kscale_cluster::{ApiError, Changes, Cluster, Event, Object, ScaleKind};
use kscale_model::LabelSelector;
use serde_json::Value;

use super::Sim;

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
