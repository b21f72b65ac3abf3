//! kscale's `metrics.k8s.io/v1beta1` server: what metrics-server serves, from kscale's load
//! model, as an aggregated API of a real control plane.
//!
//! The server listens on 127.0.0.1 (a free port) with a self-signed certificate. It is
//! registered as the APIService `v1beta1.metrics.k8s.io` behind an `ExternalName` Service
//! (`localhost`), with `insecureSkipTLSVerify` (upstream's metrics-server manifests register it
//! the same way; see `aggregated`), so the real HPA controller and `kubectl top` read kscale's numbers through
//! the API server. Published snapshots carry their timestamp and window (15 s, metrics-server's
//! `--metric-resolution` default), as metrics-server's do.

use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use kscale_cluster::ApiError;
use serde_json::{Value, json};

use crate::KubeCluster;
use crate::aggregated::{TlsServer, register_api_service, register_service};

/// One container's usage.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerUsage {
    /// Container name.
    pub name: String,
    /// CPU in milli-cores.
    pub cpu_milli: f64,
    /// Memory working set in bytes.
    pub memory_bytes: f64,
}

/// One pod's usage.
#[derive(Debug, Clone, PartialEq)]
pub struct PodUsage {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Labels (for `labelSelector`).
    pub labels: std::collections::BTreeMap<String, String>,
    /// Per-container usage.
    pub containers: Vec<ContainerUsage>,
}

/// One node's usage.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeUsage {
    /// Node name.
    pub name: String,
    /// CPU in milli-cores.
    pub cpu_milli: f64,
    /// Memory in bytes.
    pub memory_bytes: f64,
}

/// What the server serves until the next snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// When the usage was measured.
    pub timestamp: jiff::Timestamp,
    /// Over how long (seconds).
    pub window_s: u32,
    /// Pods.
    pub pods: Vec<PodUsage>,
    /// Nodes.
    pub nodes: Vec<NodeUsage>,
    /// Every pod that exists, with usage or not (namespace, name): a `get` of one without
    /// usage is `podmetrics.metrics.k8s.io "NS/NAME" not found`, of one that does not exist
    /// `pods "NAME" not found` (metrics-server pkg/api/pod.go `Get`).
    pub existing_pods: std::collections::BTreeSet<(String, String)>,
}

impl Default for Snapshot {
    fn default() -> Self {
        Snapshot {
            timestamp: jiff::Timestamp::now(),
            window_s: 15,
            pods: vec![],
            nodes: vec![],
            existing_pods: Default::default(),
        }
    }
}

type Shared = Arc<RwLock<Snapshot>>;

/// A running metrics server; stops when dropped.
pub struct MetricsServer {
    server: TlsServer,
    state: Shared,
}

fn cpu(m: f64) -> String {
    format!("{}n", kscale_model::metrics_api::cpu_nanocores(m))
}

fn memory(b: f64) -> String {
    format!("{}Ki", kscale_model::metrics_api::memory_kib(b))
}

fn pod_json(s: &Snapshot, p: &PodUsage) -> Value {
    json!({
        "metadata": {"name": p.name, "namespace": p.namespace, "labels": p.labels,
                     "creationTimestamp": s.timestamp.to_string()},
        "timestamp": s.timestamp.round(jiff::Unit::Second).unwrap_or(s.timestamp).to_string(),
        "window": format!("{}s", s.window_s),
        "containers": p.containers.iter().map(|c| json!({
            "name": c.name, "usage": {"cpu": cpu(c.cpu_milli), "memory": memory(c.memory_bytes)}
        })).collect::<Vec<_>>()
    })
}

fn node_json(s: &Snapshot, n: &NodeUsage) -> Value {
    json!({
        "metadata": {"name": n.name, "creationTimestamp": s.timestamp.to_string()},
        "timestamp": s.timestamp.round(jiff::Unit::Second).unwrap_or(s.timestamp).to_string(),
        "window": format!("{}s", s.window_s),
        "usage": {"cpu": cpu(n.cpu_milli), "memory": memory(n.memory_bytes)}
    })
}

fn list(kind: &str, items: Vec<Value>) -> Response {
    Json(json!({"kind": kind, "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {}, "items": items}))
        .into_response()
}

fn not_found(what: String) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(
            json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                    "message": format!("{what} not found"), "reason": "NotFound", "code": 404}),
        ),
    )
        .into_response()
}

type Params = Query<std::collections::HashMap<String, String>>;

fn selected(params: &Params) -> Result<kscale_model::LabelSelector, String> {
    let s = params
        .get("labelSelector")
        .map(String::as_str)
        .unwrap_or("");
    kscale_model::LabelSelector::parse(s)
}

fn bad_request(message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(
            json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                    "message": message, "reason": "BadRequest", "code": 400}),
        ),
    )
        .into_response()
}

async fn discovery() -> Response {
    Json(json!({
        "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "metrics.k8s.io/v1beta1",
        "resources": [
            {"name": "nodes", "singularName": "", "namespaced": false, "kind": "NodeMetrics", "verbs": ["get", "list"]},
            {"name": "pods", "singularName": "", "namespaced": true, "kind": "PodMetrics", "verbs": ["get", "list"]}
        ]
    }))
    .into_response()
}

async fn pods_in(State(st): State<Shared>, ns: Option<String>, params: Params) -> Response {
    let sel = match selected(&params) {
        Ok(s) => s,
        Err(e) => return bad_request(e),
    };
    let s = st.read().expect("metrics lock");
    let items = s
        .pods
        .iter()
        .filter(|p| ns.as_ref().is_none_or(|n| *n == p.namespace))
        .filter(|p| sel.matches(&p.labels))
        .map(|p| pod_json(&s, p))
        .collect();
    list("PodMetricsList", items)
}

/// The resource metrics API's group.
pub const GROUP: &str = "metrics.k8s.io";
/// Its version.
pub const VERSION: &str = "v1beta1";
/// The Service behind its APIService (`kube-system/kscale-metrics`).
pub const SERVICE: &str = "kscale-metrics";

fn router(state: Shared) -> Router {
    Router::new()
        .route("/apis/metrics.k8s.io/v1beta1", get(discovery))
        .route(
            "/apis/metrics.k8s.io/v1beta1/pods",
            get(|st: State<Shared>, q: Params| pods_in(st, None, q)),
        )
        .route(
            "/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods",
            get(|st: State<Shared>, Path(ns): Path<String>, q: Params| pods_in(st, Some(ns), q)),
        )
        .route(
            "/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods/{name}",
            get(
                |State(st): State<Shared>, Path((ns, name)): Path<(String, String)>| async move {
                    let s = st.read().expect("metrics lock");
                    match s.pods.iter().find(|p| p.namespace == ns && p.name == name) {
                        Some(p) => {
                            let mut v = pod_json(&s, p);
                            v["kind"] = "PodMetrics".into();
                            v["apiVersion"] = "metrics.k8s.io/v1beta1".into();
                            Json(v).into_response()
                        }
                        None if s.existing_pods.contains(&(ns.clone(), name.clone())) => {
                            not_found(format!("podmetrics.metrics.k8s.io \"{ns}/{name}\""))
                        }
                        None => not_found(format!("pods \"{name}\"")),
                    }
                },
            ),
        )
        .route(
            "/apis/metrics.k8s.io/v1beta1/nodes",
            get(|State(st): State<Shared>| async move {
                let s = st.read().expect("metrics lock");
                list(
                    "NodeMetricsList",
                    s.nodes.iter().map(|n| node_json(&s, n)).collect(),
                )
            }),
        )
        .route(
            "/apis/metrics.k8s.io/v1beta1/nodes/{name}",
            get(
                |State(st): State<Shared>, Path(name): Path<String>| async move {
                    let s = st.read().expect("metrics lock");
                    match s.nodes.iter().find(|n| n.name == name) {
                        Some(n) => {
                            let mut v = node_json(&s, n);
                            v["kind"] = "NodeMetrics".into();
                            v["apiVersion"] = "metrics.k8s.io/v1beta1".into();
                            Json(v).into_response()
                        }
                        None => not_found(format!("nodes \"{name}\"")),
                    }
                },
            ),
        )
        .with_state(state)
}

impl MetricsServer {
    /// Starts serving an empty snapshot on 127.0.0.1 at a free port.
    pub fn start() -> Result<MetricsServer, ApiError> {
        let state: Shared = Arc::new(RwLock::new(Snapshot::default()));
        let server = TlsServer::start(router(state.clone()), "metrics server")?;
        Ok(MetricsServer { server, state })
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// Serves `snapshot` from now on.
    pub fn publish(&self, snapshot: Snapshot) {
        *self.state.write().expect("metrics lock") = snapshot;
    }

    /// Registers it with the cluster: an `ExternalName` Service `kube-system/kscale-metrics`
    /// pointing at localhost, and the APIService `v1beta1.metrics.k8s.io` (replacing none: a
    /// cluster that already serves the group is refused, [`ApiError::AlreadyExists`]).
    pub fn register(&self, kc: &mut KubeCluster) -> Result<(), ApiError> {
        register_service(kc, SERVICE, self.port())?;
        register_api_service(kc, GROUP, VERSION, SERVICE, self.port())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_are_written_as_metrics_server_writes_them() {
        assert_eq!(cpu(90.0), "90000000n");
        assert_eq!(cpu(0.5), "500000n");
        assert_eq!(memory(256.0 * 1024.0 * 1024.0), "262144Ki");
    }

    #[test]
    fn pod_metrics_carry_timestamp_window_and_container_usage() {
        let s = Snapshot {
            timestamp: "2026-01-01T00:00:15.4Z".parse().unwrap(),
            window_s: 15,
            pods: vec![],
            nodes: vec![],
            existing_pods: Default::default(),
        };
        let p = PodUsage {
            namespace: "default".into(),
            name: "web-1".into(),
            labels: [("app".to_string(), "web".to_string())].into(),
            containers: vec![ContainerUsage {
                name: "app".into(),
                cpu_milli: 90.0,
                memory_bytes: 0.0,
            }],
        };
        let v = pod_json(&s, &p);
        assert_eq!(v["timestamp"], "2026-01-01T00:00:15Z");
        assert_eq!(v["window"], "15s");
        assert_eq!(v["metadata"]["labels"]["app"], "web");
        assert_eq!(v["containers"][0]["usage"]["cpu"], "90000000n");
    }

    #[test]
    fn a_started_server_serves_until_dropped() {
        let server = MetricsServer::start().unwrap();
        let port = server.port();
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        drop(server);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            assert!(std::time::Instant::now() < deadline, "still listening");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}
