//! kscale's `metrics.k8s.io/v1beta1` server: what metrics-server serves, from kscale's load
//! model, as an aggregated API of a real control plane.
//!
//! The server listens on 127.0.0.1 (a free port) with a self-signed certificate. It is
//! registered as the APIService `v1beta1.metrics.k8s.io` behind an `ExternalName` Service
//! (`localhost`), with `insecureSkipTLSVerify` (upstream's metrics-server manifests register it
//! the same way), so the real HPA controller and `kubectl top` read kscale's numbers through
//! the API server. Published snapshots carry their timestamp and window (15 s, metrics-server's
//! `--metric-resolution` default), as metrics-server's do.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use kscale_cluster::ApiError;
use serde_json::{Value, json};

use crate::KubeCluster;

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
}

impl Default for Snapshot {
    fn default() -> Self {
        Snapshot {
            timestamp: jiff::Timestamp::now(),
            window_s: 15,
            pods: vec![],
            nodes: vec![],
        }
    }
}

type Shared = Arc<RwLock<Snapshot>>;

/// A running metrics server; stops when dropped.
pub struct MetricsServer {
    /// Runs the serving task; held so that dropping the server ends it.
    _rt: tokio::runtime::Runtime,
    handle: axum_server::Handle<SocketAddr>,
    port: u16,
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

/// Starts the server on 127.0.0.1 at a free port.
impl MetricsServer {
    /// Starts serving an empty snapshot.
    pub fn start() -> Result<MetricsServer, ApiError> {
        let fail = |e: String| ApiError::Unavailable(format!("metrics server: {e}"));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| fail(e.to_string()))?;
        let key = rcgen::KeyPair::generate().map_err(|e| fail(e.to_string()))?;
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .map_err(|e| fail(e.to_string()))?;
        params
            .subject_alt_names
            .push(rcgen::SanType::IpAddress(Ipv4Addr::LOCALHOST.into()));
        let cert = params.self_signed(&key).map_err(|e| fail(e.to_string()))?;
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|e| fail(e.to_string()))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| fail(e.to_string()))?;
        let port = listener
            .local_addr()
            .map_err(|e| fail(e.to_string()))?
            .port();
        let state: Shared = Arc::new(RwLock::new(Snapshot::default()));
        let app = Router::new()
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
                get(|State(st): State<Shared>, Path((ns, name)): Path<(String, String)>| async move {
                    let s = st.read().expect("metrics lock");
                    match s.pods.iter().find(|p| p.namespace == ns && p.name == name) {
                        Some(p) => {
                            let mut v = pod_json(&s, p);
                            v["kind"] = "PodMetrics".into();
                            v["apiVersion"] = "metrics.k8s.io/v1beta1".into();
                            Json(v).into_response()
                        }
                        None => not_found(format!("podmetrics {ns}/{name}")),
                    }
                }),
            )
            .route(
                "/apis/metrics.k8s.io/v1beta1/nodes",
                get(|State(st): State<Shared>| async move {
                    let s = st.read().expect("metrics lock");
                    list("NodeMetricsList", s.nodes.iter().map(|n| node_json(&s, n)).collect())
                }),
            )
            .route(
                "/apis/metrics.k8s.io/v1beta1/nodes/{name}",
                get(|State(st): State<Shared>, Path(name): Path<String>| async move {
                    let s = st.read().expect("metrics lock");
                    match s.nodes.iter().find(|n| n.name == name) {
                        Some(n) => {
                            let mut v = node_json(&s, n);
                            v["kind"] = "NodeMetrics".into();
                            v["apiVersion"] = "metrics.k8s.io/v1beta1".into();
                            Json(v).into_response()
                        }
                        None => not_found(format!("nodemetrics {name}")),
                    }
                }),
            )
            .with_state(state.clone());
        let handle = axum_server::Handle::new();
        let h = handle.clone();
        let (cert_pem, key_pem) = (cert.pem().into_bytes(), key.serialize_pem().into_bytes());
        let started = rt.block_on(async move {
            let config = axum_server::tls_rustls::RustlsConfig::from_pem(cert_pem, key_pem)
                .await
                .map_err(|e| fail(format!("TLS: {e}")))?;
            let server = axum_server::from_tcp_rustls(listener, config)
                .map_err(|e| fail(e.to_string()))?
                .handle(h);
            tokio::spawn(async move {
                let _ = server.serve(app.into_make_service()).await;
            });
            Ok::<_, ApiError>(())
        });
        started?;
        Ok(MetricsServer {
            _rt: rt,
            handle,
            port,
            state,
        })
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves `snapshot` from now on.
    pub fn publish(&self, snapshot: Snapshot) {
        *self.state.write().expect("metrics lock") = snapshot;
    }

    /// Registers it with the cluster: an `ExternalName` Service `kube-system/kscale-metrics`
    /// pointing at localhost, and the APIService `v1beta1.metrics.k8s.io` (replacing none: a
    /// cluster that already serves the group is refused).
    pub fn register(&self, kc: &mut KubeCluster) -> Result<(), ApiError> {
        kc.create_raw(&json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kscale-metrics", "namespace": "kube-system"},
            "spec": {"type": "ExternalName", "externalName": "localhost",
                     "ports": [{"name": "https", "port": self.port}]}
        }))?;
        kc.create_raw(&json!({
            "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
            "metadata": {"name": "v1beta1.metrics.k8s.io"},
            "spec": {"service": {"name": "kscale-metrics", "namespace": "kube-system", "port": self.port},
                     "group": "metrics.k8s.io", "version": "v1beta1", "insecureSkipTLSVerify": true,
                     "groupPriorityMinimum": 100, "versionPriority": 100}
        }))
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        // The runtime (dropped after this) ends the serving task.
        self.handle.shutdown();
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
