//! `kscale snapshot`: the quickstart applied to a real control plane is read back, under the
//! least-privilege ServiceAccount of `deploy/snapshot-rbac.yaml`, into a scenario that makes
//! the same decisions as the original (checked with `kscale diff`); a missing permission is
//! named; load comes from a Prometheus-compatible range-query API. Bad input without a
//! cluster: exit 2 before connecting, an unreachable cluster exit 1.
//!
//! The live test needs `KSCALE_CONTROLPLANE_BIN` (`.ci/run` sets it); skipped with a message
//! without it.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{ControlPlane, kscale, kubectl, real_bin, text};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .canonicalize()
        .unwrap()
}

/// The nodes of an example scenario as the twin makes them (as `kscale run --cluster`
/// registers them), written as a List ready to be created on a real API server.
fn twin_nodes(scenario: &Path, dir: &Path) -> PathBuf {
    use kscale_cluster::Cluster as _;
    let s = kscale_twin::scenario::Scenario::load(scenario).unwrap();
    let mut sim = kscale_twin::sim::Sim::new(std::sync::Arc::new(s)).unwrap();
    let nodes: Vec<k8s_openapi::api::core::v1::Node> =
        kscale_twin::sim::cluster_api::SimCluster(&mut sim)
            .list(None, "")
            .unwrap();
    let mut items = Vec::new();
    for n in nodes {
        let mut v = serde_json::to_value(&n).unwrap();
        let meta = v["metadata"].as_object_mut().unwrap();
        for k in ["uid", "resourceVersion", "creationTimestamp"] {
            meta.remove(k);
        }
        v["apiVersion"] = "v1".into();
        v["kind"] = "Node".into();
        items.push(v);
    }
    let p = dir.join("nodes.json");
    std::fs::write(
        &p,
        serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string(),
    )
    .unwrap();
    p
}

/// The snapshot at `snap` with the original scenario's duration, seed, load, steps and SLOs
/// (and the original folder's other folders, which steps may apply): `snap/replay.yaml`.
fn replay(original: &Path, snap: &Path) -> PathBuf {
    let yaml = |p: &Path| -> serde_json::Value {
        serde_saphyr::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    let o = yaml(original);
    let mut r = yaml(&snap.join("scenario.yaml"));
    for k in ["duration", "seed", "load", "steps", "slos"] {
        match o["spec"].get(k) {
            Some(v) => r["spec"][k] = v.clone(),
            None => {
                r["spec"].as_object_mut().unwrap().remove(k);
            }
        }
    }
    let dir = original.parent().unwrap();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name();
        if e.path().is_dir() && name != "manifests" {
            let to = snap.join(&name);
            std::fs::create_dir_all(&to).unwrap();
            for f in std::fs::read_dir(e.path()).unwrap().flatten() {
                std::fs::copy(f.path(), to.join(f.file_name())).unwrap();
            }
        }
    }
    let p = snap.join("replay.yaml");
    // JSON is YAML.
    std::fs::write(&p, r.to_string()).unwrap();
    p
}

/// Runs both scenarios on the twin and `kscale diff`s them.
fn same_decisions(a: &Path, b: &Path, tmp: &Path) -> Output {
    for (s, out) in [(a, "run-a"), (b, "run-b")] {
        let _ = std::fs::remove_dir_all(tmp.join(out));
        let o = kscale()
            .args(["run", "-q", "--out"])
            .arg(tmp.join(out))
            .arg(s)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}: {}", s.display(), text(&o));
    }
    kscale()
        .arg("diff")
        .arg(tmp.join("run-a"))
        .arg(tmp.join("run-b"))
        .arg("--out")
        .arg(tmp.join("diff"))
        .output()
        .unwrap()
}

/// Serves `/api/v1/query_range` on loopback in Prometheus's response format: CPU usage of
/// `web` (0.02 core-seconds per request) and its request rate; nothing for other queries.
/// Returns the base URL; the thread ends with the test process.
fn fake_prometheus() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
            }
            let query = line.split_whitespace().nth(1).unwrap_or("").to_string();
            let rates = [10.0, 20.0, 40.0, 50.0, 30.0];
            let series = |f: &dyn Fn(f64) -> f64| {
                let values: Vec<serde_json::Value> = rates
                    .iter()
                    .enumerate()
                    .map(|(i, r)| {
                        serde_json::json!([1_765_000_000 + 60 * i as i64, format!("{}", f(*r))])
                    })
                    .collect();
                serde_json::json!([{"metric": {}, "values": values}])
            };
            let result =
                if query.contains("container_cpu_usage_seconds_total") && query.contains("web") {
                    series(&|r| r * 0.02)
                } else if query.contains("http_requests_total") {
                    series(&|r| r)
                } else {
                    serde_json::json!([])
                };
            let body = serde_json::json!({"status": "success", "data": {"resultType": "matrix", "result": result}}).to_string();
            let mut s = stream;
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

/// A kubeconfig for the same server with a bearer token instead of the admin's certificate.
fn token_kubeconfig(admin: &Path, token: &str, out: &Path) {
    let s = std::fs::read_to_string(admin).unwrap();
    let mut lines = Vec::new();
    for l in s.lines() {
        if l.trim_start().starts_with("client-certificate-data:") {
            lines.push(format!("    token: {token}"));
        } else if !l.trim_start().starts_with("client-key-data:") {
            lines.push(l.to_string());
        }
    }
    std::fs::write(out, lines.join("\n") + "\n").unwrap();
}

#[test]
fn the_quickstart_is_snapshotted_back_under_least_privilege_and_makes_the_same_decisions() {
    let Some(bin) = real_bin(
        "the_quickstart_is_snapshotted_back_under_least_privilege_and_makes_the_same_decisions",
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let cp = ControlPlane::up(&bin, &tmp.path().join("cp"));
    let admin = cp.kubeconfig();
    // Everything below runs before the control plane is stopped; the assertions come after.
    let quickstart = examples().join("quickstart/scenario.yaml");
    let nodes = twin_nodes(&quickstart, tmp.path());
    let created = kubectl(
        &bin,
        &admin,
        &["create", "-f", &nodes.display().to_string()],
    );
    let applied = kubectl(
        &bin,
        &admin,
        &[
            "apply",
            "-f",
            &examples()
                .join("quickstart/manifests")
                .display()
                .to_string(),
        ],
    );
    let rbac = kubectl(
        &bin,
        &admin,
        &[
            "apply",
            "-f",
            &examples()
                .join("../deploy/snapshot-rbac.yaml")
                .display()
                .to_string(),
        ],
    );
    let token = kubectl(
        &bin,
        &admin,
        &["create", "token", "kscale-snapshot", "-n", "kscale"],
    );
    let sa = tmp.path().join("sa.kubeconfig");
    token_kubeconfig(&admin, String::from_utf8_lossy(&token.stdout).trim(), &sa);
    // The Deployments' ReplicaSets exist before the snapshot (they are skipped, and said so).
    for _ in 0..100 {
        let rs = kubectl(&bin, &admin, &["get", "replicasets", "-o", "name"]);
        if String::from_utf8_lossy(&rs.stdout).lines().count() >= 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let snap = tmp.path().join("snap");
    let snapshot = kscale()
        .args(["snapshot", "--kubeconfig"])
        .arg(&sa)
        .arg("--out")
        .arg(&snap)
        .output()
        .unwrap();
    let prom = fake_prometheus();
    let with_load = tmp.path().join("snap-load");
    let loaded = kscale()
        .args(["snapshot", "-q", "--kubeconfig"])
        .arg(&sa)
        .args(["--prometheus", &prom, "--since", "5m", "--query"])
        .arg("default/deployment/web=sum(rate(http_requests_total{app=\"web\"}[1m]))")
        .arg("--out")
        .arg(&with_load)
        .output()
        .unwrap();
    // Without a rule for PriorityClasses: skipped with a warning naming the resource. Without
    // the nodes rule: fails, naming the permission.
    let without = |rule: usize, out: &str| {
        let patched = kubectl(
            &bin,
            &admin,
            &[
                "patch",
                "clusterrole",
                "kscale-snapshot",
                "--type",
                "json",
                "-p",
                &format!("[{{\"op\": \"remove\", \"path\": \"/rules/{rule}\"}}]"),
            ],
        );
        assert!(patched.status.success(), "{}", text(&patched));
        // RBAC changes reach the authorizer through an informer: retry for a few seconds.
        let mut last = None;
        for _ in 0..50 {
            let o = kscale()
                .args(["snapshot", "--kubeconfig"])
                .arg(&sa)
                .arg("--out")
                .arg(tmp.path().join(out))
                .output()
                .unwrap();
            let changed = text(&o).contains("forbidden");
            last = Some(o);
            if changed {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        last.unwrap()
    };
    let no_priorityclasses = without(5, "snap-2");
    let no_nodes = without(0, "snap-3");
    let down = cp.down();

    assert!(created.status.success(), "{}", text(&created));
    assert!(applied.status.success(), "{}", text(&applied));
    assert!(rbac.status.success(), "{}", text(&rbac));
    assert!(token.status.success(), "{}", text(&token));
    assert_eq!(snapshot.status.code(), Some(0), "{}", text(&snapshot));
    let report = std::fs::read_to_string(snap.join("snapshot.txt")).unwrap();
    assert!(report.contains("ReplicaSets of a Deployment"), "{report}");
    assert!(report.contains("Never read: Secrets"), "{report}");
    let scenario = std::fs::read_to_string(snap.join("scenario.yaml")).unwrap();
    for want in [
        "name: system",
        "name: worker-1",
        "name: worker-2",
        "key: CriticalAddonsOnly",
        "zone: us-east-1c",
    ] {
        assert!(scenario.contains(want), "{want}:\n{scenario}");
    }
    // Load: the request rate as a trace, cpuPerRequest fitted from CPU usage (0.02 s); the
    // placeholder has no CPU usage in Prometheus: no load entry.
    assert_eq!(loaded.status.code(), Some(0), "{}", text(&loaded));
    let loaded_scenario = std::fs::read_to_string(with_load.join("scenario.yaml")).unwrap();
    assert!(
        loaded_scenario.contains("cpuPerRequest: 20m"),
        "{loaded_scenario}"
    );
    assert!(
        loaded_scenario.contains("target: default/deployment/web"),
        "{loaded_scenario}"
    );
    assert!(
        !loaded_scenario.contains("deployment/placeholder"),
        "{loaded_scenario}"
    );
    assert!(
        loaded_scenario.contains("duration: 5m"),
        "{loaded_scenario}"
    );
    let trace =
        std::fs::read_to_string(with_load.join("traces/default-deployment-web.csv")).unwrap();
    assert!(
        trace.starts_with("time,value\n2025-12-06T05:46:40Z,10\n"),
        "{trace}"
    );
    assert!(!snap.join("manifests/13-replicasets.yaml").exists());
    let deployments = std::fs::read_to_string(snap.join("manifests/10-deployments.yaml")).unwrap();
    assert!(
        !deployments.contains("uid:") && !deployments.contains("status:"),
        "{deployments}"
    );
    assert!(
        !deployments.contains("progressDeadlineSeconds"),
        "{deployments}"
    );

    // The snapshot with the quickstart's load, steps, duration and seed decides as the
    // original does, and its kubectl steps print the same.
    let diff = same_decisions(&quickstart, &replay(&quickstart, &snap), tmp.path());
    assert_eq!(diff.status.code(), Some(0), "{}", text(&diff));

    assert_eq!(
        no_priorityclasses.status.code(),
        Some(0),
        "{}",
        text(&no_priorityclasses)
    );
    let w = text(&no_priorityclasses);
    assert!(
        w.contains("priorityclasses skipped") && w.contains("forbidden"),
        "{w}"
    );
    assert_eq!(no_nodes.status.code(), Some(1), "{}", text(&no_nodes));
    let e = text(&no_nodes);
    assert!(
        e.contains("cannot list resource \"nodes\"") && e.contains("kscale-snapshot"),
        "{e}"
    );
    assert!(
        !tmp.path().join("snap-3").exists(),
        "nothing written on failure"
    );
    assert_eq!(down.status.code(), Some(0), "{}", text(&down));
}

#[test]
fn bad_input_is_refused_before_connecting() {
    let tmp = tempfile::tempdir().unwrap();
    let o = kscale()
        .args(["snapshot", "--out"])
        .arg(tmp.path().join("s"))
        .args(["--query", "default/deployment/web=up"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("--query needs --prometheus"),
        "{}",
        text(&o)
    );
    let o = kscale()
        .args([
            "snapshot",
            "--prometheus",
            "http://127.0.0.1:1",
            "--query",
            "web=up",
            "--out",
        ])
        .arg(tmp.path().join("s"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("NAMESPACE/KIND/NAME"), "{}", text(&o));
    // A folder kscale did not write is refused.
    let mine = tmp.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("notes.txt"), "keep").unwrap();
    let o = kscale()
        .args(["snapshot", "--out"])
        .arg(&mine)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--force"), "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(mine.join("notes.txt")).unwrap(),
        "keep"
    );
    // An unreachable cluster: exit 1, naming the server.
    let kubeconfig = tmp.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}\nusers:\n- name: u\n  user: {token: t}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n",
    )
    .unwrap();
    let o = kscale()
        .args(["snapshot", "--kubeconfig"])
        .arg(&kubeconfig)
        .arg("--out")
        .arg(tmp.path().join("s"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("127.0.0.1:1"), "{}", text(&o));
    // An unknown context.
    let o = kscale()
        .args(["snapshot", "--context", "nope", "--kubeconfig"])
        .arg(&kubeconfig)
        .arg("--out")
        .arg(tmp.path().join("s"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("nope"), "{}", text(&o));
}

#[test]
fn a_saved_range_query_response_becomes_a_trace() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("r.json");
    std::fs::write(
        &f,
        r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"pod":"web-1"},"values":[[1765000000,"1.5"],[1765000060,"2"]]},
            {"metric":{"pod":"web-2"},"values":[[1765000000,"0.5"],[1765000060,"NaN"]]}]}}"#,
    )
    .unwrap();
    let o = kscale()
        .args(["trace", "from-prometheus"])
        .arg(&f)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "time,value\n2025-12-06T05:46:40Z,2\n2025-12-06T05:47:40Z,2\n"
    );
    std::fs::write(
        &f,
        r#"{"status":"error","errorType":"bad_data","error":"bad query"}"#,
    )
    .unwrap();
    let o = kscale()
        .args(["trace", "from-prometheus"])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("bad query"), "{}", text(&o));
}

/// Karpenter's v1alpha5 Provisioner and AWSNodeTemplate as schemaless CRDs (seed 004 applies
/// them).
const PROVISIONER_CRD: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: provisioners.karpenter.sh}
spec:
  group: karpenter.sh
  names: {kind: Provisioner, plural: provisioners, singular: provisioner, listKind: ProvisionerList}
  scope: Cluster
  versions:
  - name: v1alpha5
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: awsnodetemplates.karpenter.k8s.aws}
spec:
  group: karpenter.k8s.aws
  names: {kind: AWSNodeTemplate, plural: awsnodetemplates, singular: awsnodetemplate, listKind: AWSNodeTemplateList}
  scope: Cluster
  versions:
  - name: v1alpha1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
";

#[test]
fn seeds_002_and_004_are_snapshotted_back_and_make_the_same_decisions() {
    let Some(bin) = real_bin("seeds_002_and_004_are_snapshotted_back_and_make_the_same_decisions")
    else {
        return;
    };
    for seed in ["seed002", "seed004"] {
        let tmp = tempfile::tempdir().unwrap();
        let original = examples().join(seed).join("scenario.yaml");
        let cp = ControlPlane::up(&bin, &tmp.path().join("cp"));
        let admin = cp.kubeconfig();
        let nodes = twin_nodes(&original, tmp.path());
        let crd = tmp.path().join("crd.yaml");
        std::fs::write(&crd, PROVISIONER_CRD).unwrap();
        let setup = [
            kubectl(
                &bin,
                &admin,
                &["create", "-f", &nodes.display().to_string()],
            ),
            kubectl(&bin, &admin, &["apply", "-f", &crd.display().to_string()]),
            kubectl(
                &bin,
                &admin,
                &[
                    "wait",
                    "--for",
                    "condition=established",
                    "--timeout=60s",
                    "crd/provisioners.karpenter.sh",
                    "crd/awsnodetemplates.karpenter.k8s.aws",
                ],
            ),
            kubectl(
                &bin,
                &admin,
                &[
                    "apply",
                    "-f",
                    &examples()
                        .join(seed)
                        .join("manifests")
                        .display()
                        .to_string(),
                ],
            ),
        ];
        let snap = tmp.path().join("snap");
        let snapshot = kscale()
            .args(["snapshot", "-q", "--kubeconfig"])
            .arg(&admin)
            .arg("--out")
            .arg(&snap)
            .output()
            .unwrap();
        let down = cp.down();

        for o in &setup {
            assert!(o.status.success(), "{seed}: {}", text(o));
        }
        assert_eq!(
            snapshot.status.code(),
            Some(0),
            "{seed}: {}",
            text(&snapshot)
        );
        assert_eq!(down.status.code(), Some(0), "{}", text(&down));
        if seed == "seed004" {
            let k = std::fs::read_to_string(snap.join("manifests/03-karpenter.yaml")).unwrap();
            assert!(
                k.contains("kind: Provisioner") && k.contains("t3.small"),
                "{k}"
            );
        }
        let diff = same_decisions(&original, &replay(&original, &snap), tmp.path());
        assert_eq!(diff.status.code(), Some(0), "{seed}: {}", text(&diff));
    }
}
