//! kscale's custom and external metrics APIs (`custom.metrics.k8s.io/v1beta2`,
//! `external.metrics.k8s.io/v1beta1`): what prometheus-adapter and KEDA serve, from kscale's
//! load model, as aggregated APIs of a real control plane, so that a real HPA's `Pods`,
//! `Object` and `External` metrics read what the twin's would.
//!
//! One HTTPS server on 127.0.0.1 serves both groups behind the `ExternalName` Service
//! `kube-system/kscale-custom-metrics`, registered as the APIServices
//! `v1beta2.custom.metrics.k8s.io` and `v1beta1.external.metrics.k8s.io` (see `aggregated`).
//! The requests are those of the HPA controller's clients (k8s.io/metrics
//! `pkg/client/custom_metrics/versioned_client.go`, `pkg/client/external_metrics/client.go`):
//!
//! - `GET /apis/custom.metrics.k8s.io/v1beta2/namespaces/{ns}/pods/*/{metric}?labelSelector=…
//!   &metricLabelSelector=…`: a `MetricValueList`, one item per selected pod that has the
//!   metric (a Pods metric);
//! - `GET …/namespaces/{ns}/{resource}/{name}/{metric}` (`deployments.apps`, …): a list of one
//!   item (an Object metric); `pods/{name}` works the same way;
//! - `GET /apis/external.metrics.k8s.io/v1beta1/namespaces/{ns}/{metric}?labelSelector=…`: an
//!   `ExternalMetricValueList`, one item per matching series.
//!
//! The shapes are k8s.io/metrics `pkg/apis/custom_metrics/v1beta2/types.go` and
//! `pkg/apis/external_metrics/v1beta1/types.go`. Values are quantities as adapters write them
//! (`resource.NewMilliQuantity(v, DecimalSI)`: `1500m`, `20`, `2k`), rounded to the milli-unit as
//! the twin reads them. An unknown metric name or an object without the metric is a 404 `Status`
//! with the custom-metrics-apiserver library's wording (`pkg/provider/errors.go`: `the server
//! could not find the metric requests_per_second for deployments.apps web`); a known metric
//! that no pod or series has yet is an empty list (the HPA's "no metrics returned").

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use kscale_cluster::ApiError;
use kscale_model::LabelSelector;
use kscale_model::labels::SelectorOp;
use serde_json::{Value, json};

use crate::KubeCluster;
use crate::aggregated::{
    TlsServer, api_service_name, group_served, register_api_service, register_service, status,
};

/// The custom metrics API's group.
pub const CUSTOM_GROUP: &str = "custom.metrics.k8s.io";
/// The version served (the HPA controller's preferred one).
pub const CUSTOM_VERSION: &str = "v1beta2";
/// The external metrics API's group.
pub const EXTERNAL_GROUP: &str = "external.metrics.k8s.io";
/// Its version.
pub const EXTERNAL_VERSION: &str = "v1beta1";
/// The Service behind both APIServices (`kube-system/kscale-custom-metrics`).
pub const SERVICE: &str = "kscale-custom-metrics";

/// Labels (ordered).
pub type Labels = BTreeMap<String, String>;

/// The metric names served, per kind of object; a name outside these lists is a 404.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalog {
    /// Per-pod metrics (`Pods` metrics).
    pub pod_metrics: Vec<String>,
    /// Per-workload metrics (`Object` metrics on a workload).
    pub object_metrics: Vec<String>,
    /// External metrics.
    pub external_metrics: Vec<String>,
}

/// One pod's custom metrics at a sample.
#[derive(Debug, Clone, PartialEq)]
pub struct PodValues {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The pod's labels (the request's `labelSelector` selects by them).
    pub labels: Labels,
    /// The series' labels (`metricLabelSelector` is matched against them).
    pub series_labels: Labels,
    /// Metric name → value.
    pub values: BTreeMap<String, f64>,
}

/// One object's (a workload's) custom metrics at a sample.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectValues {
    /// Namespace.
    pub namespace: String,
    /// Group-qualified resource, as the HPA's client asks for it (`deployments.apps`).
    pub resource: String,
    /// Kind (`Deployment`).
    pub kind: String,
    /// API version (`apps/v1`).
    pub api_version: String,
    /// Name.
    pub name: String,
    /// The object's labels (for a `*` request's `labelSelector`).
    pub labels: Labels,
    /// The series' labels.
    pub series_labels: Labels,
    /// Metric name → value.
    pub values: BTreeMap<String, f64>,
}

/// What the custom metrics API serves until the next sample.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomSample {
    /// When sampled.
    pub timestamp: jiff::Timestamp,
    /// The window rates are averaged over (seconds).
    pub window_s: i64,
    /// Pods.
    pub pods: Vec<PodValues>,
    /// Objects.
    pub objects: Vec<ObjectValues>,
}

/// One external series.
#[derive(Debug, Clone, PartialEq)]
pub struct ExternalSeries {
    /// The namespace it is served in (an HPA reads the series of its own namespace).
    pub namespace: String,
    /// Its labels (`metricLabels`; the request's `labelSelector` is matched against them).
    pub labels: Labels,
    /// Metric name → value.
    pub values: BTreeMap<String, f64>,
}

/// What the external metrics API serves until the next poll.
#[derive(Debug, Clone, PartialEq)]
pub struct ExternalSample {
    /// When polled.
    pub timestamp: jiff::Timestamp,
    /// The series.
    pub series: Vec<ExternalSeries>,
}

#[derive(Debug, Default)]
struct Served {
    catalog: Catalog,
    custom: Option<CustomSample>,
    external: Option<ExternalSample>,
}

type Shared = Arc<RwLock<Served>>;
type Params = Query<HashMap<String, String>>;

/// What [`CustomMetricsServer::register`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Registration {
    /// The APIServices it created.
    pub registered: Vec<String>,
    /// Why a group was not registered (the cluster serves it already, ...).
    pub warnings: Vec<String>,
}

/// A running custom and external metrics server; stops when dropped.
pub struct CustomMetricsServer {
    server: TlsServer,
    state: Shared,
}

/// A value as a quantity, the way adapters write it: `NewMilliQuantity(round(v × 1000),
/// DecimalSI)` (`1500m`, `20`, `2k`); NaN reads 0 and the infinities saturate.
pub fn quantity(v: f64) -> String {
    kscale_model::quantity::format_decimal_milli((v * 1000.0).round() as i64)
}

/// A parsed selector as a `metav1.LabelSelector` (null when empty, as adapters echo an empty
/// `metricLabelSelector`).
fn selector_json(s: &LabelSelector) -> Value {
    if s.is_empty() {
        return Value::Null;
    }
    let mut v = json!({});
    if !s.match_labels.is_empty() {
        v["matchLabels"] = json!(s.match_labels);
    }
    if !s.match_expressions.is_empty() {
        v["matchExpressions"] = s
            .match_expressions
            .iter()
            .map(|r| {
                let op = match r.op {
                    SelectorOp::In => "In",
                    SelectorOp::NotIn => "NotIn",
                    SelectorOp::Exists => "Exists",
                    SelectorOp::DoesNotExist => "DoesNotExist",
                    SelectorOp::Gt => "Gt",
                    SelectorOp::Lt => "Lt",
                };
                let mut e = json!({"key": r.key, "operator": op});
                if !r.values.is_empty() {
                    e["values"] = json!(r.values);
                }
                e
            })
            .collect();
    }
    v
}

fn timestamp(t: jiff::Timestamp) -> String {
    t.round(jiff::Unit::Second).unwrap_or(t).to_string()
}

/// One `MetricValue` (custom.metrics.k8s.io/v1beta2).
#[allow(clippy::too_many_arguments)]
fn metric_value(
    kind: &str,
    api_version: &str,
    namespace: &str,
    name: &str,
    metric: &str,
    selector: &LabelSelector,
    sample: &CustomSample,
    value: f64,
) -> Value {
    json!({
        "describedObject": {"kind": kind, "namespace": namespace, "name": name, "apiVersion": api_version},
        "metric": {"name": metric, "selector": selector_json(selector)},
        "timestamp": timestamp(sample.timestamp),
        "windowSeconds": sample.window_s,
        "value": quantity(value),
    })
}

fn custom_list(items: Vec<Value>) -> Response {
    Json(
        json!({"kind": "MetricValueList", "apiVersion": "custom.metrics.k8s.io/v1beta2",
                "metadata": {}, "items": items}),
    )
    .into_response()
}

fn not_found(message: String) -> Response {
    status(StatusCode::NOT_FOUND, "NotFound", message)
}

fn selector(params: &Params, key: &str) -> Result<LabelSelector, String> {
    let s = params.get(key).map(String::as_str).unwrap_or("");
    LabelSelector::parse(s)
}

fn bad_request(message: String) -> Response {
    status(StatusCode::BAD_REQUEST, "BadRequest", message)
}

/// The group-qualified resource of a pod (`pods`).
const PODS: &str = "pods";

fn custom_discovery(st: &Served) -> Response {
    let mut resources = Vec::new();
    for m in &st.catalog.pod_metrics {
        resources.push(format!("{PODS}/{m}"));
    }
    for r in ["deployments.apps", "statefulsets.apps", "replicasets.apps"] {
        for m in &st.catalog.object_metrics {
            resources.push(format!("{r}/{m}"));
        }
    }
    Json(json!({
        "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "custom.metrics.k8s.io/v1beta2",
        "resources": resources.iter().map(|r| json!({
            "name": r, "singularName": "", "namespaced": true, "kind": "MetricValueList", "verbs": ["get"]
        })).collect::<Vec<_>>()
    }))
    .into_response()
}

/// `GET …/namespaces/{ns}/{resource}/{name}/{metric}`: `name` `*` lists every object of
/// the resource selected by `labelSelector`; another name is one object.
fn custom_get(
    st: &Served,
    ns: &str,
    resource: &str,
    name: &str,
    metric: &str,
    params: &Params,
) -> Response {
    let (objects_sel, metric_sel) = match (
        selector(params, "labelSelector"),
        selector(params, "metricLabelSelector"),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return bad_request(e),
    };
    let known = if resource == PODS {
        &st.catalog.pod_metrics
    } else {
        &st.catalog.object_metrics
    };
    let missing = || {
        if name == "*" {
            not_found(format!(
                "the server could not find the metric {metric} for {resource}"
            ))
        } else {
            not_found(format!(
                "the server could not find the metric {metric} for {resource} {name}"
            ))
        }
    };
    if !known.iter().any(|m| m == metric) {
        return missing();
    }
    let Some(sample) = &st.custom else {
        // Nothing sampled yet: no object has the metric.
        return if name == "*" {
            custom_list(vec![])
        } else {
            missing()
        };
    };
    let items: Vec<Value> = if resource == PODS {
        sample
            .pods
            .iter()
            .filter(|p| p.namespace == ns)
            .filter(|p| {
                if name == "*" {
                    objects_sel.matches(&p.labels)
                } else {
                    p.name == name
                }
            })
            .filter(|p| metric_sel.matches(&p.series_labels))
            .filter_map(|p| {
                let v = *p.values.get(metric)?;
                Some(metric_value(
                    "Pod",
                    "/v1",
                    ns,
                    &p.name,
                    metric,
                    &metric_sel,
                    sample,
                    v,
                ))
            })
            .collect()
    } else {
        sample
            .objects
            .iter()
            .filter(|o| o.namespace == ns && o.resource == resource)
            .filter(|o| {
                if name == "*" {
                    objects_sel.matches(&o.labels)
                } else {
                    o.name == name
                }
            })
            .filter(|o| metric_sel.matches(&o.series_labels))
            .filter_map(|o| {
                let v = *o.values.get(metric)?;
                Some(metric_value(
                    &o.kind,
                    &o.api_version,
                    ns,
                    &o.name,
                    metric,
                    &metric_sel,
                    sample,
                    v,
                ))
            })
            .collect()
    };
    if name != "*" && items.is_empty() {
        return missing();
    }
    custom_list(items)
}

fn external_discovery(st: &Served) -> Response {
    Json(json!({
        "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "external.metrics.k8s.io/v1beta1",
        "resources": st.catalog.external_metrics.iter().map(|m| json!({
            "name": m, "singularName": "", "namespaced": true, "kind": "ExternalMetricValueList", "verbs": ["get"]
        })).collect::<Vec<_>>()
    }))
    .into_response()
}

/// `GET /apis/external.metrics.k8s.io/v1beta1/namespaces/{ns}/{metric}`: every series of the
/// namespace whose labels match `labelSelector`.
fn external_get(st: &Served, ns: &str, metric: &str, params: &Params) -> Response {
    let sel = match selector(params, "labelSelector") {
        Ok(s) => s,
        Err(e) => return bad_request(e),
    };
    if !st.catalog.external_metrics.iter().any(|m| m == metric) {
        return not_found(format!(
            "the server could not find the metric {metric} for provided labels"
        ));
    }
    let items: Vec<Value> = st
        .external
        .iter()
        .flat_map(|s| s.series.iter().map(move |x| (s, x)))
        .filter(|(_, x)| x.namespace == ns && sel.matches(&x.labels))
        .filter_map(|(s, x)| {
            let v = *x.values.get(metric)?;
            Some(json!({
                "metricName": metric,
                "metricLabels": x.labels,
                "timestamp": timestamp(s.timestamp),
                "value": quantity(v),
            }))
        })
        .collect();
    Json(
        json!({"kind": "ExternalMetricValueList", "apiVersion": "external.metrics.k8s.io/v1beta1",
                "metadata": {}, "items": items}),
    )
    .into_response()
}

/// The served state, read (a poisoned lock still holds the last complete write).
fn read(st: &Shared) -> std::sync::RwLockReadGuard<'_, Served> {
    st.read().unwrap_or_else(|e| e.into_inner())
}

fn router(state: Shared) -> Router {
    let custom = "/apis/custom.metrics.k8s.io/v1beta2";
    let external = "/apis/external.metrics.k8s.io/v1beta1";
    Router::new()
        .route(
            custom,
            get(move |State(st): State<Shared>| async move { custom_discovery(&read(&st)) }),
        )
        .route(
            &format!("{custom}/namespaces/{{ns}}/{{resource}}/{{name}}/{{metric}}"),
            get(
                move |State(st): State<Shared>,
                      Path((ns, resource, name, metric)): Path<(
                    String,
                    String,
                    String,
                    String,
                )>,
                      q: Params| async move {
                    custom_get(&read(&st), &ns, &resource, &name, &metric, &q)
                },
            ),
        )
        .route(
            external,
            get(move |State(st): State<Shared>| async move { external_discovery(&read(&st)) }),
        )
        .route(
            &format!("{external}/namespaces/{{ns}}/{{metric}}"),
            get(
                move |State(st): State<Shared>,
                      Path((ns, metric)): Path<(String, String)>,
                      q: Params| async move {
                    external_get(&read(&st), &ns, &metric, &q)
                },
            ),
        )
        .fallback(|| async {
            not_found("the server could not find the requested resource".to_string())
        })
        .with_state(state)
}

impl CustomMetricsServer {
    /// Starts serving `catalog`'s metrics, none sampled yet, on 127.0.0.1 at a free port.
    pub fn start(catalog: Catalog) -> Result<CustomMetricsServer, ApiError> {
        let state: Shared = Arc::new(RwLock::new(Served {
            catalog,
            custom: None,
            external: None,
        }));
        let server = TlsServer::start(router(state.clone()), "custom metrics server")?;
        Ok(CustomMetricsServer { server, state })
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// Serves `sample` as the custom metrics (Pods and Object metrics) from now on.
    pub fn publish_custom(&self, sample: CustomSample) {
        self.state.write().unwrap_or_else(|e| e.into_inner()).custom = Some(sample);
    }

    /// Serves `sample` as the external metrics from now on.
    pub fn publish_external(&self, sample: ExternalSample) {
        self.state
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .external = Some(sample);
    }

    /// Registers it with the cluster: the Service `kube-system/kscale-custom-metrics` and the
    /// APIServices `v1beta2.custom.metrics.k8s.io` and `v1beta1.external.metrics.k8s.io`. A
    /// group the cluster serves already (prometheus-adapter, KEDA, an earlier run's leftover)
    /// is left to it and reported in [`Registration::warnings`]; the other is still
    /// registered.
    pub fn register(&self, kc: &mut KubeCluster) -> Result<Registration, ApiError> {
        let mut out = Registration::default();
        let mut wanted = Vec::new();
        for (group, version, what) in [
            (CUSTOM_GROUP, CUSTOM_VERSION, "Pods and Object metrics"),
            (EXTERNAL_GROUP, EXTERNAL_VERSION, "External metrics"),
        ] {
            if group_served(kc, group)? {
                out.warnings.push(format!(
                    "the cluster serves {group} already: its HPAs' {what} do not read kscale's load model"
                ));
            } else {
                wanted.push((group, version, what));
            }
        }
        if wanted.is_empty() {
            return Ok(out);
        }
        match register_service(kc, SERVICE, self.port()) {
            Ok(()) => {}
            Err(ApiError::AlreadyExists(e)) => {
                out.warnings.push(format!(
                    "the Service {}/{SERVICE} exists already ({e}): custom and external metrics are not served",
                    crate::aggregated::SERVICE_NAMESPACE
                ));
                return Ok(out);
            }
            Err(e) => return Err(e),
        }
        for (group, version, what) in wanted {
            match register_api_service(kc, group, version, SERVICE, self.port()) {
                Ok(()) => out.registered.push(api_service_name(group, version)),
                Err(ApiError::AlreadyExists(e)) => out.warnings.push(format!(
                    "the cluster serves {group} already ({e}): its HPAs' {what} do not read kscale's load model"
                )),
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(kv: &[(&str, &str)]) -> Labels {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn served() -> Served {
        let series = labels(&[
            ("namespace", "default"),
            ("kind", "deployment"),
            ("workload", "web"),
            ("queue", "orders"),
        ]);
        let values = |a: f64, b: f64| -> BTreeMap<String, f64> {
            [
                ("requests_per_second".to_string(), a),
                ("requests_in_flight".to_string(), b),
            ]
            .into()
        };
        Served {
            catalog: Catalog {
                pod_metrics: vec!["requests_per_second".into(), "requests_in_flight".into()],
                object_metrics: vec!["requests_per_second".into(), "queue_length".into()],
                external_metrics: vec!["queue_length".into()],
            },
            custom: Some(CustomSample {
                timestamp: "2026-01-01T00:00:30.4Z".parse().unwrap(),
                window_s: 30,
                pods: vec![
                    PodValues {
                        namespace: "default".into(),
                        name: "web-1".into(),
                        labels: labels(&[("app", "web")]),
                        series_labels: series.clone(),
                        values: values(1.5, 0.25),
                    },
                    PodValues {
                        namespace: "default".into(),
                        name: "other-1".into(),
                        labels: labels(&[("app", "other")]),
                        series_labels: series.clone(),
                        values: values(7.0, 0.0),
                    },
                ],
                objects: vec![ObjectValues {
                    namespace: "default".into(),
                    resource: "deployments.apps".into(),
                    kind: "Deployment".into(),
                    api_version: "apps/v1".into(),
                    name: "web".into(),
                    labels: labels(&[("tier", "front")]),
                    series_labels: series.clone(),
                    values: [
                        ("requests_per_second".to_string(), 20.0),
                        ("queue_length".to_string(), 2000.0),
                    ]
                    .into(),
                }],
            }),
            external: Some(ExternalSample {
                timestamp: "2026-01-01T00:00:30Z".parse().unwrap(),
                series: vec![
                    ExternalSeries {
                        namespace: "default".into(),
                        labels: series.clone(),
                        values: [("queue_length".to_string(), 12.0)].into(),
                    },
                    ExternalSeries {
                        namespace: "other".into(),
                        labels: series,
                        values: [("queue_length".to_string(), 99.0)].into(),
                    },
                ],
            }),
        }
    }

    fn params(kv: &[(&str, &str)]) -> Params {
        Query(
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    async fn body(r: Response) -> (u16, Value) {
        let code = r.status().as_u16();
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        (code, serde_json::from_slice(&bytes).unwrap())
    }

    fn block<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn quantities_are_written_as_adapters_write_them() {
        assert_eq!(quantity(1.5), "1500m");
        assert_eq!(quantity(20.0), "20");
        assert_eq!(quantity(0.0), "0");
        assert_eq!(quantity(2000.0), "2k");
        assert_eq!(quantity(6.6667), "6667m");
        assert_eq!(quantity(0.0004), "0");
        assert_eq!(quantity(f64::NAN), "0");
        assert!(!quantity(f64::INFINITY).is_empty());
    }

    #[test]
    fn a_pods_metric_lists_the_selected_pods_with_their_values() {
        let (code, v) = block(body(custom_get(
            &served(),
            "default",
            "pods",
            "*",
            "requests_per_second",
            &params(&[("labelSelector", "app=web")]),
        )));
        assert_eq!(code, 200, "{v}");
        assert_eq!(v["kind"], "MetricValueList");
        assert_eq!(v["apiVersion"], "custom.metrics.k8s.io/v1beta2");
        let items = v["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{v}");
        assert_eq!(
            items[0],
            json!({
                "describedObject": {"kind": "Pod", "namespace": "default", "name": "web-1", "apiVersion": "/v1"},
                "metric": {"name": "requests_per_second", "selector": null},
                "timestamp": "2026-01-01T00:00:30Z",
                "windowSeconds": 30,
                "value": "1500m",
            })
        );
    }

    #[test]
    fn a_metric_selector_is_matched_against_the_series_labels_and_echoed() {
        let s = served();
        let get = |sel: &str| {
            block(body(custom_get(
                &s,
                "default",
                "pods",
                "*",
                "requests_in_flight",
                &params(&[("labelSelector", "app=web"), ("metricLabelSelector", sel)]),
            )))
        };
        let (_, v) = get("queue=orders");
        assert_eq!(v["items"][0]["value"], "250m");
        assert_eq!(
            v["items"][0]["metric"]["selector"],
            json!({"matchLabels": {"queue": "orders"}})
        );
        let (code, v) = get("queue in (billing)");
        assert_eq!(code, 200);
        assert_eq!(v["items"], json!([]), "no series matches");
        let (code, v) = get("queue in (");
        assert_eq!(code, 400, "{v}");
        assert_eq!(v["reason"], "BadRequest");
    }

    #[test]
    fn an_object_metric_is_one_item_describing_the_workload() {
        let (code, v) = block(body(custom_get(
            &served(),
            "default",
            "deployments.apps",
            "web",
            "queue_length",
            &params(&[]),
        )));
        assert_eq!(code, 200, "{v}");
        let items = v["items"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(
            items[0]["describedObject"],
            json!({"kind": "Deployment", "namespace": "default", "name": "web", "apiVersion": "apps/v1"})
        );
        assert_eq!(items[0]["value"], "2k");
    }

    #[test]
    fn unknown_metrics_and_objects_are_404_statuses() {
        let s = served();
        let get = |resource: &str, name: &str, metric: &str| {
            block(body(custom_get(
                &s,
                "default",
                resource,
                name,
                metric,
                &params(&[]),
            )))
        };
        let (code, v) = get("pods", "*", "nosuch");
        assert_eq!(code, 404);
        assert_eq!(v["kind"], "Status");
        assert_eq!(v["reason"], "NotFound");
        assert_eq!(
            v["message"],
            "the server could not find the metric nosuch for pods"
        );
        let (code, v) = get("deployments.apps", "api", "requests_per_second");
        assert_eq!(code, 404);
        assert_eq!(
            v["message"],
            "the server could not find the metric requests_per_second for deployments.apps api"
        );
        let (code, v) = get("statefulsets.apps", "web", "requests_per_second");
        assert_eq!(code, 404, "{v}");
        // A pod's metric by name.
        let (code, v) = get("pods", "web-1", "requests_per_second");
        assert_eq!(code, 200);
        assert_eq!(v["items"].as_array().map(Vec::len), Some(1));
        let (code, _) = get("pods", "web-9", "requests_per_second");
        assert_eq!(code, 404);
    }

    #[test]
    fn before_the_first_sample_a_known_pods_metric_is_an_empty_list() {
        let mut s = served();
        s.custom = None;
        let (code, v) = block(body(custom_get(
            &s,
            "default",
            "pods",
            "*",
            "requests_per_second",
            &params(&[]),
        )));
        assert_eq!(code, 200);
        assert_eq!(v["items"], json!([]));
    }

    #[test]
    fn an_external_metric_lists_the_matching_series_of_the_namespace() {
        let s = served();
        let (code, v) = block(body(external_get(
            &s,
            "default",
            "queue_length",
            &params(&[("labelSelector", "queue=orders")]),
        )));
        assert_eq!(code, 200, "{v}");
        assert_eq!(
            v,
            json!({"kind": "ExternalMetricValueList", "apiVersion": "external.metrics.k8s.io/v1beta1",
                   "metadata": {}, "items": [{
                       "metricName": "queue_length",
                       "metricLabels": {"namespace": "default", "kind": "deployment", "workload": "web", "queue": "orders"},
                       "timestamp": "2026-01-01T00:00:30Z",
                       "value": "12"}]})
        );
        let (code, v) = block(body(external_get(
            &s,
            "default",
            "queue_length",
            &params(&[("labelSelector", "queue=billing")]),
        )));
        assert_eq!(code, 200);
        assert_eq!(v["items"], json!([]));
        let (code, v) = block(body(external_get(&s, "default", "nosuch", &params(&[]))));
        assert_eq!(code, 404);
        assert_eq!(
            v["message"],
            "the server could not find the metric nosuch for provided labels"
        );
    }

    #[test]
    fn discovery_lists_the_metrics_as_resources() {
        let s = served();
        let (_, v) = block(body(custom_discovery(&s)));
        assert_eq!(v["groupVersion"], "custom.metrics.k8s.io/v1beta2");
        let names: Vec<&str> = v["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"pods/requests_per_second"), "{names:?}");
        assert!(
            names.contains(&"deployments.apps/queue_length"),
            "{names:?}"
        );
        let (_, v) = block(body(external_discovery(&s)));
        assert_eq!(v["resources"][0]["name"], "queue_length");
        assert_eq!(v["resources"][0]["kind"], "ExternalMetricValueList");
    }

    #[test]
    fn a_started_server_serves_until_dropped() {
        let server = CustomMetricsServer::start(Catalog::default()).unwrap();
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
