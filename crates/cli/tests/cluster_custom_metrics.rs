//! `kscale run SCENARIO --cluster` with HPAs on custom and external metrics: the real HPA
//! reads kscale's `custom.metrics.k8s.io` and `external.metrics.k8s.io` APIs (served from the
//! load model) through the real API server's aggregator, and decides as the twin's does; on a
//! brought cluster that already serves one of the groups, that group is left to it.
//!
//! Needs `KSCALE_CONTROLPLANE_BIN` (`.ci/run` sets it); skipped with a message without it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{kscale, real_bin, run_cluster, text};

/// Three Deployments (1 replica, 200m CPU limits except api's 1 CPU; 10m per request: web
/// serves at most 20 req/s per pod).
const APPS: &str = "
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: app, image: nginx:1.27, resources: {requests: {cpu: 200m, memory: 64Mi}, limits: {cpu: 200m, memory: 64Mi}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: worker}
spec:
  replicas: 1
  selector: {matchLabels: {app: worker}}
  template:
    metadata: {labels: {app: worker}}
    spec:
      containers:
      - {name: app, image: nginx:1.27, resources: {requests: {cpu: 200m, memory: 64Mi}, limits: {cpu: 200m, memory: 64Mi}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  replicas: 1
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
      - {name: app, image: nginx:1.27, resources: {requests: {cpu: 200m, memory: 64Mi}, limits: {cpu: '1', memory: 64Mi}}}
";

/// worker on an External metric (40 req/s offered to queue=orders, 10 per pod: 4 replicas),
/// api on an Object metric of its Deployment (20 req/s offered, 10 per pod: 2 replicas).
const HPAS: &str = "
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: worker}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: worker}
  minReplicas: 1
  maxReplicas: 4
  metrics:
  - type: External
    external:
      metric:
        name: offered_requests_per_second
        selector: {matchLabels: {queue: orders}}
      target: {type: AverageValue, averageValue: '10'}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: api}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: api}
  minReplicas: 1
  maxReplicas: 2
  metrics:
  - type: Object
    object:
      describedObject: {apiVersion: apps/v1, kind: Deployment, name: api}
      metric: {name: offered_requests_per_second}
      target: {type: AverageValue, averageValue: '10'}
";

/// web on a Pods metric: requests each pod served per second, 10 per pod.
const WEB_HPA: &str = "
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 2
  metrics:
  - type: Pods
    pods:
      metric: {name: requests_per_second}
      target: {type: AverageValue, averageValue: '10'}
";

fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `kubectl get hpa`'s REPLICAS column per HPA.
fn hpa_replicas(table: &str) -> Vec<(String, String)> {
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            Some((cols.first()?.to_string(), cols.get(5)?.to_string()))
        })
        .collect()
}

#[test]
fn the_real_hpa_scales_on_kscales_pods_object_and_external_metrics_as_the_twin_does() {
    let Some(bin) = real_bin(
        "the_real_hpa_scales_on_kscales_pods_object_and_external_metrics_as_the_twin_does",
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("apps.yaml"), format!("{APPS}{HPAS}")).unwrap();
    std::fs::write(tmp.path().join("hpa-web.yaml"), WEB_HPA).unwrap();
    // The External and Object HPAs exist from the start (the APIs are registered before the
    // manifests); the Pods HPA is created by a step, once web serves its 30 req/s (its one pod
    // serves 20: 2 replicas).
    let s = tmp.path().join("scenario.yaml");
    std::fs::write(
        &s,
        "apiVersion: kscale.io/v1alpha1
kind: Scenario
metadata: {name: custom-metrics}
spec:
  duration: 60s
  seed: 1
  nodes:
    - {name: worker, instanceType: m5.xlarge, count: 2}
  manifests: [apps.yaml]
  metrics: {customInterval: 15s, externalInterval: 15s}
  load:
    - target: deployment/web
      requestsPerSecond: {steps: [{at: 0s, value: 0}, {at: 16s, value: 30}]}
      cpuPerRequest: 10m
    - target: deployment/worker
      requestsPerSecond: {constant: 40}
      cpuPerRequest: 10m
      metricLabels: {queue: orders}
    - target: deployment/api
      requestsPerSecond: {constant: 20}
      cpuPerRequest: 10m
  steps:
    - {at: 20s, run: kubectl apply -f hpa-web.yaml}
    - {at: 55s, run: kubectl get hpa}
",
    )
    .unwrap();
    let (twin, cluster) = (tmp.path().join("twin"), tmp.path().join("cluster"));
    let run = kscale()
        .args(["run", "-q", "--out"])
        .arg(&twin)
        .arg(&s)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let run = run_cluster(&bin, &s, &cluster);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let summary = json(&cluster.join("summary.json"));
    assert_eq!(summary["notOnCluster"], serde_json::json!([]), "{summary}");

    // The real HPAs reached their replicas.
    let t = lines(&cluster.join("transcript.jsonl"));
    let table = t[1]["stdout"].as_str().unwrap();
    assert_eq!(
        hpa_replicas(table),
        [("api", "2"), ("web", "2"), ("worker", "4")].map(|(a, b)| (a.to_string(), b.to_string())),
        "{table}"
    );
    // ... through kscale's values: the Object and External metrics read 10 per pod.
    assert!(table.contains("10/10 (avg)"), "{table}");
    let events = lines(&cluster.join("events.jsonl"));
    let rescale = |hpa: &str| {
        events
            .iter()
            .filter(|e| e["reason"] == "SuccessfulRescale" && e["involvedObject"]["name"] == hpa)
            .map(|e| e["message"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        rescale("web"),
        ["New size: 2; reason: pods metric requests_per_second above target"]
    );
    assert_eq!(
        rescale("worker"),
        [
            "New size: 4; reason: external metric offered_requests_per_second(&LabelSelector{MatchLabels:map[string]string{queue: orders,},MatchExpressions:[]LabelSelectorRequirement{},}) above target"
        ]
    );
    assert_eq!(rescale("api").len(), 1, "{:?}", rescale("api"));

    // Before the first sample both backends' HPAs report the same errors: the External
    // metric's empty list and the Object metric's 404.
    let first_errors = |events: &[serde_json::Value]| {
        let mut v: Vec<(String, String)> = events
            .iter()
            .filter(|e| {
                e["time"].as_f64().unwrap() < 5.0
                    && e["type"] == "Warning"
                    && e["involvedObject"]["kind"] == "HorizontalPodAutoscaler"
            })
            .map(|e| {
                (
                    e["reason"].as_str().unwrap().to_string(),
                    e["message"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let cluster_errors = first_errors(&events);
    assert_eq!(cluster_errors.len(), 4, "{cluster_errors:#?}");
    assert!(
        cluster_errors.iter().any(|(r, m)| r == "FailedGetObjectMetric"
            && m == "unable to get metric offered_requests_per_second on Deployment default/api: unable to fetch metrics from custom metrics API: the server could not find the metric offered_requests_per_second for deployments.apps api"),
        "{cluster_errors:#?}"
    );
    assert_eq!(
        first_errors(&lines(&twin.join("events.jsonl"))),
        cluster_errors
    );

    // kscale diff: every decision matched.
    let diff = kscale()
        .args(["diff"])
        .arg(&twin)
        .arg(&cluster)
        .arg("--out")
        .arg(tmp.path().join("diff"))
        .output()
        .unwrap();
    assert!(matches!(diff.status.code(), Some(0 | 1)), "{}", text(&diff));
    let d = json(&tmp.path().join("diff/diff.json"));
    for c in ["rescales", "scaleUps", "nodeLaunches", "nodeRemovals"] {
        assert_eq!(d["categories"][c]["equal"], true, "{c}: {}", text(&diff));
    }
    let mut hpa_rescales: Vec<String> = d["categories"]["rescales"]["matched"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["reason"] == "SuccessfulRescale")
        .map(|m| {
            format!(
                "{} {}",
                m["key"].as_str().unwrap(),
                m["value"].as_str().unwrap()
            )
        })
        .collect();
    hpa_rescales.sort();
    assert_eq!(
        hpa_rescales,
        [
            "HorizontalPodAutoscaler default/api 2",
            "HorizontalPodAutoscaler default/web 2",
            "HorizontalPodAutoscaler default/worker 4"
        ],
        "{}",
        text(&diff)
    );
}

/// Runs the real kubectl of `bin` against `kubeconfig`.
fn kubectl(bin: &Path, kubeconfig: &Path, args: &[&str]) -> std::process::Output {
    common::kubectl(bin, kubeconfig, args)
}

/// Stops the control plane of `dir` when dropped (a failed assertion included).
struct Down(PathBuf);

impl Drop for Down {
    fn drop(&mut self) {
        let _ = kscale()
            .args(["control-plane", "down", "--dir"])
            .arg(&self.0)
            .output();
    }
}

#[test]
fn a_brought_cluster_serving_external_metrics_keeps_them_and_gets_kscales_custom_metrics() {
    let Some(bin) = real_bin(
        "a_brought_cluster_serving_external_metrics_keeps_them_and_gets_kscales_custom_metrics",
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let cp = tmp.path().join("cp");
    let up = kscale()
        .args(["control-plane", "up", "--dir"])
        .arg(&cp)
        .env("KSCALE_CONTROLPLANE_BIN", &bin)
        .output()
        .unwrap();
    assert_eq!(up.status.code(), Some(0), "{}", text(&up));
    let _down = Down(cp.clone());
    let kubeconfig = cp.join("kubeconfig");
    // KEDA's registration (its server is not running: the group stays the cluster's anyway).
    let theirs = tmp.path().join("keda.yaml");
    std::fs::write(
        &theirs,
        "apiVersion: apiregistration.k8s.io/v1\nkind: APIService\nmetadata: {name: v1beta1.external.metrics.k8s.io}\nspec: {service: {name: keda-operator-metrics-apiserver, namespace: keda}, group: external.metrics.k8s.io, version: v1beta1, insecureSkipTLSVerify: true, groupPriorityMinimum: 100, versionPriority: 100}\n",
    )
    .unwrap();
    let created = kubectl(
        &bin,
        &kubeconfig,
        &["create", "-f", &theirs.display().to_string()],
    );
    assert!(created.status.success(), "{}", text(&created));
    let web = APPS.split("---").next().unwrap();
    std::fs::write(tmp.path().join("web.yaml"), web).unwrap();
    std::fs::write(tmp.path().join("hpa-web.yaml"), WEB_HPA).unwrap();
    // No HPA in the manifests: the custom metrics APIs are registered when the step creates
    // one.
    let s = tmp.path().join("scenario.yaml");
    std::fs::write(
        &s,
        "apiVersion: kscale.io/v1alpha1
kind: Scenario
metadata: {name: custom-metrics-brought}
spec:
  duration: 45s
  seed: 1
  nodes:
    - {name: worker, instanceType: m5.large, count: 1}
  manifests: [web.yaml]
  metrics: {customInterval: 10s, externalInterval: 10s}
  load:
    - target: deployment/web
      requestsPerSecond: {constant: 30}
      cpuPerRequest: 10m
  steps:
    - {at: 10s, run: kubectl apply -f hpa-web.yaml}
    - {at: 42s, run: kubectl get hpa web}
",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let child = kscale()
        .args(["run", "--cluster", "-q", "--kubeconfig"])
        .arg(&kubeconfig)
        .arg("--out")
        .arg(&out)
        .arg(&s)
        .env("KSCALE_CONTROLPLANE_BIN", &bin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // While it runs: the real aggregator serves kscale's custom metrics API.
    let raw = |path: &str| kubectl(&bin, &kubeconfig, &["get", "--raw", path]);
    let pods_path = "/apis/custom.metrics.k8s.io/v1beta2/namespaces/default/pods/*/requests_per_second?labelSelector=app%3Dweb";
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut served = None;
    while Instant::now() < deadline {
        let o = raw(pods_path);
        // (No assertion before the run is waited for: a failure here would leave it running.)
        if let Some(v) = serde_json::from_slice::<serde_json::Value>(&o.stdout)
            .ok()
            .filter(|v| v["items"].as_array().is_some_and(|i| !i.is_empty()))
        {
            served = Some(v);
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let object = raw(
        "/apis/custom.metrics.k8s.io/v1beta2/namespaces/default/deployments.apps/web/offered_requests_per_second",
    );
    let unknown = raw("/apis/custom.metrics.k8s.io/v1beta2/namespaces/default/pods/*/nosuch");
    let run = child.wait_with_output().unwrap();
    let after = |args: &[&str]| kubectl(&bin, &kubeconfig, args);
    let external_after = after(&[
        "get",
        "apiservice",
        "v1beta1.external.metrics.k8s.io",
        "-o",
        "jsonpath={.spec.service.name}",
    ]);
    let custom_after = after(&["get", "apiservice", "v1beta2.custom.metrics.k8s.io"]);
    let service_after = after(&[
        "get",
        "service",
        "-n",
        "kube-system",
        "kscale-custom-metrics",
    ]);

    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let served = served.expect("kscale's custom metrics API served the web pod's value");
    assert_eq!(served["kind"], "MetricValueList", "{served}");
    assert_eq!(served["apiVersion"], "custom.metrics.k8s.io/v1beta2");
    let item = &served["items"][0];
    assert_eq!(item["describedObject"]["kind"], "Pod", "{item}");
    assert_eq!(item["describedObject"]["apiVersion"], "/v1", "{item}");
    assert!(
        item["describedObject"]["name"]
            .as_str()
            .unwrap()
            .starts_with("web-"),
        "{item}"
    );
    assert_eq!(item["metric"]["name"], "requests_per_second");
    assert_eq!(item["windowSeconds"], 10);
    assert!(item["value"].is_string(), "{item}");
    assert!(object.status.success(), "{}", text(&object));
    let object: serde_json::Value = serde_json::from_slice(&object.stdout).unwrap();
    assert_eq!(object["items"][0]["describedObject"]["kind"], "Deployment");
    assert_eq!(object["items"][0]["value"], "30", "{object}");
    assert!(!unknown.status.success());
    assert!(
        text(&unknown).contains("the server could not find the metric nosuch for pods"),
        "{}",
        text(&unknown)
    );
    // The HPA scaled web (one pod serves 20 of the 30 req/s).
    let t = lines(&out.join("transcript.jsonl"));
    let table = t[1]["stdout"].as_str().unwrap();
    let replicas: u32 = table
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().nth(5))
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("{table}"));
    assert!(replicas >= 2, "{table}");
    // KEDA's group was reported and left as it was; kscale's own registration is gone.
    let summary = json(&out.join("summary.json"));
    let warnings = summary["notOnCluster"].to_string();
    assert!(
        warnings.contains("the cluster serves external.metrics.k8s.io already"),
        "{summary}"
    );
    assert_eq!(
        String::from_utf8_lossy(&external_after.stdout),
        "keda-operator-metrics-apiserver"
    );
    assert!(!custom_after.status.success(), "{}", text(&custom_after));
    assert!(
        text(&custom_after).contains("not found"),
        "{}",
        text(&custom_after)
    );
    assert!(!service_after.status.success(), "{}", text(&service_after));
}
