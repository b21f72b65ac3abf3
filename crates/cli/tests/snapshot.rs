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
use std::process::{Command, Output};

use common::{kscale, real_bin, text};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .canonicalize()
        .unwrap()
}

/// The quickstart's nodes as the twin makes them (`kubectl get nodes -o json` in a 1 s run),
/// ready to be created on a real API server.
fn twin_nodes(dir: &Path) -> PathBuf {
    let s = dir.join("nodes-scenario.yaml");
    std::fs::write(
        &s,
        "apiVersion: kscale.io/v1alpha1
kind: Scenario
metadata: {name: nodes}
spec:
  duration: 1s
  nodes:
    - {name: system, instanceType: m5.large, count: 1, taints: [{key: CriticalAddonsOnly, value: \"true\", effect: NoSchedule}]}
    - {name: worker, instanceType: m5.large, count: 2}
  steps:
    - {at: 0s, run: kubectl get nodes -o json}
",
    )
    .unwrap();
    let out = dir.join("nodes-run");
    let run = kscale()
        .args(["run", "-q", "--out"])
        .arg(&out)
        .arg(&s)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", text(&run));
    let t: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(out.join("transcript.jsonl"))
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    let mut list: serde_json::Value = serde_json::from_str(t["stdout"].as_str().unwrap()).unwrap();
    for n in list["items"].as_array_mut().unwrap() {
        let meta = n["metadata"].as_object_mut().unwrap();
        for k in ["uid", "resourceVersion", "creationTimestamp"] {
            meta.remove(k);
        }
    }
    let p = dir.join("nodes.json");
    std::fs::write(&p, list.to_string()).unwrap();
    p
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

fn kubectl(bin: &Path, kubeconfig: &Path, args: &[&str]) -> Output {
    Command::new(bin.join("kubectl"))
        .arg(format!("--kubeconfig={}", kubeconfig.display()))
        .args(args)
        .output()
        .unwrap()
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
    let cp = tmp.path().join("cp");
    let up = kscale()
        .args(["control-plane", "up", "--dir"])
        .arg(&cp)
        .env("KSCALE_CONTROLPLANE_BIN", &bin)
        .output()
        .unwrap();
    assert_eq!(up.status.code(), Some(0), "{}", text(&up));
    let admin = cp.join("kubeconfig");
    // Everything below runs before the control plane is stopped; the assertions come after.
    let nodes = twin_nodes(tmp.path());
    let created = kubectl(
        &bin,
        &admin,
        &[
            "create",
            "--validate=false",
            "-f",
            &nodes.display().to_string(),
        ],
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
    let down = kscale()
        .args(["control-plane", "down", "--dir"])
        .arg(&cp)
        .output()
        .unwrap();

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
    // original does.
    let quickstart = std::fs::read_to_string(examples().join("quickstart/scenario.yaml")).unwrap();
    let tail = &quickstart[quickstart.find("  load:").unwrap()..];
    let mut replay = String::new();
    for l in scenario.lines() {
        match l {
            "  duration: 1h" => replay.push_str("  duration: 15m\n"),
            "  seed: 1" => replay.push_str("  seed: 7\n"),
            l => {
                replay.push_str(l);
                replay.push('\n');
            }
        }
    }
    replay.push_str(tail);
    std::fs::write(snap.join("replay.yaml"), replay).unwrap();
    let run = |s: &Path, out: &str| {
        let o = kscale()
            .args(["run", "-q", "--out"])
            .arg(tmp.path().join(out))
            .arg(s)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
    };
    run(&examples().join("quickstart/scenario.yaml"), "a");
    run(&snap.join("replay.yaml"), "b");
    let diff = kscale()
        .args(["diff"])
        .arg(tmp.path().join("a"))
        .arg(tmp.path().join("b"))
        .arg("--out")
        .arg(tmp.path().join("d"))
        .output()
        .unwrap();
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
