//! A mutating admission webhook for pod creations, served by kscale on loopback over HTTPS
//! and registered with the API server as a `MutatingWebhookConfiguration` whose `caBundle` is
//! the server's self-signed certificate. It runs kscale's admission decisions on a real
//! control plane — the Vertical Pod Autoscaler's admission controller is such a webhook
//! upstream (vertical-pod-autoscaler/pkg/admission-controller: `failurePolicy: Ignore`, pods
//! `CREATE`).
//!
//! The decision is a function of the pod and its namespace returning JSON patch operations;
//! it must not block on the cluster (the caller keeps what it needs in memory).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::Json;
use axum::routing::post;
use base64::Engine;
use k8s_openapi::api::core::v1::Pod;
use kscale_cluster::ApiError;
use serde_json::{Value, json};

use crate::KubeCluster;
use crate::aggregated::TlsServer;

/// The mutation: (namespace, pod) → JSON patch operations, or None to admit it unchanged.
pub type Mutate = dyn Fn(&str, &Pod) -> Option<Vec<Value>> + Send + Sync;

/// The path the API server posts AdmissionReviews to.
const PATH: &str = "/mutate-pods";

/// A running webhook; stops when dropped.
pub struct PodWebhook {
    server: TlsServer,
}

/// The AdmissionReview response to `review` (`admission.k8s.io/v1`).
pub fn respond(review: &Value, mutate: &dyn Fn(&str, &Pod) -> Option<Vec<Value>>) -> Value {
    let request = review.get("request").cloned().unwrap_or(Value::Null);
    let uid = request.get("uid").cloned().unwrap_or(json!(""));
    let namespace = request
        .get("namespace")
        .and_then(Value::as_str)
        .unwrap_or("default")
        .to_string();
    let mut response = json!({"uid": uid, "allowed": true});
    let pod = request
        .get("object")
        .cloned()
        .and_then(|o| serde_json::from_value::<Pod>(o).ok());
    if let Some(ops) = pod.and_then(|p| mutate(&namespace, &p))
        && !ops.is_empty()
    {
        let body = serde_json::to_vec(&ops).unwrap_or_default();
        response["patchType"] = json!("JSONPatch");
        response["patch"] = json!(base64::engine::general_purpose::STANDARD.encode(body));
    }
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response})
}

impl PodWebhook {
    /// Starts serving `mutate` on 127.0.0.1 at a free port.
    pub fn start(mutate: Arc<Mutate>) -> Result<PodWebhook, ApiError> {
        let app = Router::new()
            .route(
                PATH,
                post(
                    |State(m): State<Arc<Mutate>>, Json(review): Json<Value>| async move {
                        Json(respond(&review, m.as_ref()))
                    },
                ),
            )
            .with_state(mutate);
        Ok(PodWebhook {
            server: TlsServer::start(app, "admission webhook")?,
        })
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// Registers it as the MutatingWebhookConfiguration `name` (pods, CREATE; failures
    /// ignored, as upstream's VPA webhook is registered; 5 s timeout).
    pub fn register(&self, kc: &mut KubeCluster, name: &str) -> Result<(), ApiError> {
        let ca = base64::engine::general_purpose::STANDARD.encode(self.server.cert_pem());
        kc.create_raw(&json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": name},
            "webhooks": [{
                "name": format!("{name}.kscale.io"),
                "clientConfig": {"url": format!("https://127.0.0.1:{}{PATH}", self.port()),
                                 "caBundle": ca},
                "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                           "resources": ["pods"]}],
                "admissionReviewVersions": ["v1"],
                "sideEffects": "None",
                "failurePolicy": "Ignore",
                "timeoutSeconds": 5
            }]
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_review_is_answered_with_its_uid_and_a_base64_json_patch() {
        let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": "u-1", "namespace": "shop", "operation": "CREATE",
                        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "web-"},
                                   "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
        let seen = std::sync::Mutex::new(String::new());
        let mutate = |ns: &str, _: &Pod| {
            *seen.lock().unwrap() = ns.to_string();
            Some(vec![
                json!({"op": "add", "path": "/metadata/annotations", "value": {"a": "b"}}),
            ])
        };
        let r = respond(&review, &mutate);
        assert_eq!(*seen.lock().unwrap(), "shop");
        assert_eq!(r["response"]["uid"], "u-1");
        assert_eq!(r["response"]["allowed"], true);
        assert_eq!(r["response"]["patchType"], "JSONPatch");
        let patch = base64::engine::general_purpose::STANDARD
            .decode(r["response"]["patch"].as_str().unwrap())
            .unwrap();
        let ops: Value = serde_json::from_slice(&patch).unwrap();
        assert_eq!(ops[0]["path"], "/metadata/annotations");
        // Nothing to change: allowed, no patch.
        let r = respond(&review, &|_: &str, _: &Pod| None);
        assert_eq!(r["response"]["allowed"], true);
        assert!(r["response"].get("patch").is_none());
    }
}
