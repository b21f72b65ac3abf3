//! What every aggregated API kscale serves shares: an HTTPS server on 127.0.0.1 (a free port,
//! a self-signed certificate) and its registration with the cluster, an `ExternalName`
//! Service pointing at `localhost` and one APIService per group version, with
//! `insecureSkipTLSVerify` (as upstream's metrics-server manifests and prometheus-adapter's
//! register theirs). The servers themselves are `metrics_server` (resource metrics) and
//! `custom_metrics_server` (custom and external metrics).

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use kscale_cluster::ApiError;
use kube::api::{Api, ApiResource, DynamicObject};
use serde_json::json;

use crate::KubeCluster;

/// The namespace of the Services behind kscale's APIServices.
pub const SERVICE_NAMESPACE: &str = "kube-system";

/// An HTTPS server on a loopback port; stops when dropped.
pub(crate) struct TlsServer {
    /// Runs the serving task; held so that dropping the server ends it.
    _rt: tokio::runtime::Runtime,
    handle: axum_server::Handle<SocketAddr>,
    port: u16,
    /// Its self-signed certificate (PEM), what a client trusts it by.
    cert_pem: String,
}

impl TlsServer {
    /// Serves `app` on 127.0.0.1 at a free port with a fresh self-signed certificate for
    /// `localhost` and 127.0.0.1; `what` names the server in errors.
    pub(crate) fn start(app: Router, what: &str) -> Result<TlsServer, ApiError> {
        let fail = |e: String| ApiError::Unavailable(format!("{what}: {e}"));
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
        let handle = axum_server::Handle::new();
        let h = handle.clone();
        let pem = cert.pem();
        let (cert_pem, key_pem) = (pem.clone().into_bytes(), key.serialize_pem().into_bytes());
        rt.block_on(async move {
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
        })?;
        Ok(TlsServer {
            _rt: rt,
            handle,
            port,
            cert_pem: pem,
        })
    }

    /// The loopback port it listens on.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// Its certificate (PEM).
    pub(crate) fn cert_pem(&self) -> &str {
        &self.cert_pem
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        // The runtime (dropped after this) ends the serving task.
        self.handle.shutdown();
    }
}

/// A `Status` response, as the API server writes one (`reason` e.g. `NotFound`).
pub(crate) fn status(code: StatusCode, reason: &str, message: String) -> Response {
    (
        code,
        Json(
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": message, "reason": reason, "code": code.as_u16()}),
        ),
    )
        .into_response()
}

/// Creates the `ExternalName` Service `kube-system/<name>` pointing at `localhost:port`.
pub(crate) fn register_service(
    kc: &mut KubeCluster,
    name: &str,
    port: u16,
) -> Result<(), ApiError> {
    kc.create_raw(&json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": SERVICE_NAMESPACE},
        "spec": {"type": "ExternalName", "externalName": "localhost",
                 "ports": [{"name": "https", "port": port}]}
    }))
}

/// The name of the APIService of `group` / `version` (`v1beta1.metrics.k8s.io`).
pub fn api_service_name(group: &str, version: &str) -> String {
    format!("{version}.{group}")
}

/// Creates the APIService of `group` / `version` behind the Service `kube-system/<service>`
/// (replacing none: an existing one of the same name is [`ApiError::AlreadyExists`]).
pub(crate) fn register_api_service(
    kc: &mut KubeCluster,
    group: &str,
    version: &str,
    service: &str,
    port: u16,
) -> Result<(), ApiError> {
    kc.create_raw(&json!({
        "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
        "metadata": {"name": api_service_name(group, version)},
        "spec": {"service": {"name": service, "namespace": SERVICE_NAMESPACE, "port": port},
                 "group": group, "version": version, "insecureSkipTLSVerify": true,
                 "groupPriorityMinimum": 100, "versionPriority": 100}
    }))
}

/// Whether the cluster's discovery (`/apis`) lists `group`: some APIService serves it already.
pub(crate) fn group_served(kc: &KubeCluster, group: &str) -> Result<bool, ApiError> {
    let client = kc.client().clone();
    let groups = kc
        .block_on(client.list_api_groups())
        .map_err(|e| crate::api_error(e, "discovery of /apis"))?;
    Ok(groups.groups.iter().any(|g| g.name == group))
}

fn api_services(kc: &KubeCluster) -> Api<DynamicObject> {
    let ar = ApiResource {
        group: "apiregistration.k8s.io".into(),
        version: "v1".into(),
        api_version: "apiregistration.k8s.io/v1".into(),
        kind: "APIService".into(),
        plural: "apiservices".into(),
    };
    Api::all_with(kc.client().clone(), &ar)
}

/// Waits until each of the APIServices `names` has the condition `Available=True` (the
/// aggregator reached the server), at most `timeout`; returns those that did not, each with
/// the condition's last message.
pub fn wait_available(
    kc: &KubeCluster,
    names: &[String],
    timeout: Duration,
) -> Result<Vec<String>, ApiError> {
    let api = api_services(kc);
    let deadline = Instant::now() + timeout;
    let mut pending: Vec<(String, String)> = names
        .iter()
        .map(|n| (n.clone(), "not checked".to_string()))
        .collect();
    loop {
        let mut left = Vec::new();
        for (name, _) in pending {
            let o = kc
                .block_on(api.get(&name))
                .map_err(|e| crate::api_error(e, &format!("get APIService {name}")))?;
            let conditions = o
                .data
                .pointer("/status/conditions")
                .and_then(|c| c.as_array())
                .cloned()
                .unwrap_or_default();
            let available = conditions.iter().find(|c| c["type"] == "Available");
            if available.is_some_and(|c| c["status"] == "True") {
                continue;
            }
            let message = available
                .and_then(|c| c["message"].as_str())
                .unwrap_or("no Available condition yet")
                .to_string();
            left.push((name, message));
        }
        if left.is_empty() || Instant::now() >= deadline {
            return Ok(left
                .into_iter()
                .map(|(n, m)| format!("APIService {n} not available after {timeout:?}: {m}"))
                .collect());
        }
        pending = left;
        std::thread::sleep(Duration::from_millis(200));
    }
}
