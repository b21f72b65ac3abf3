//! `kscale run SCENARIO --cluster`: the quickstart's story (a kubectl scale step, the real
//! scheduler preempting a placeholder pod) on a real control plane in real time, with the
//! twin's run directory; and a cluster brought with `--kubeconfig`, whose foreign nodes are
//! respected and which is left as it was found.
//!
//! Needs `KSCALE_CONTROLPLANE_BIN` (`.ci/run` sets it); skipped with a message without it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{kscale, real_bin, run_cluster, running_with, temp_dirs, text};

fn quickstart_manifests() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/quickstart/manifests")
        .canonicalize()
        .unwrap()
}

/// The quickstart, compressed to under a minute: web scaled 2 → 5 (one placeholder is
/// preempted) and back to 2.
fn scenario(dir: &Path, duration: &str, steps: &str) -> PathBuf {
    let s = format!(
        "apiVersion: kscale.io/v1alpha1
kind: Scenario
metadata: {{name: quick-cluster}}
spec:
  duration: {duration}
  seed: 7
  nodes:
    - {{name: system, instanceType: m5.large, count: 1, taints: [{{key: CriticalAddonsOnly, value: \"true\", effect: NoSchedule}}]}}
    - {{name: worker, instanceType: m5.large, count: 2}}
  manifests: [{}]
  steps:
{steps}",
        quickstart_manifests().display()
    );
    let p = dir.join("scenario.yaml");
    std::fs::write(&p, s).unwrap();
    p
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn the_quickstart_scale_step_and_its_preemption_run_on_a_real_control_plane() {
    let Some(bin) =
        real_bin("the_quickstart_scale_step_and_its_preemption_run_on_a_real_control_plane")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let started_at = std::time::SystemTime::now();
    let s = scenario(
        tmp.path(),
        "45s",
        "    - {at: 10s, run: kubectl scale deployment web --replicas=5}
    - {at: 25s, run: kubectl get deployment web -o json}
    - {at: 26s, run: kubectl get pods -l app=placeholder -o name}
    - {at: 30s, run: kubectl scale deployment web --replicas=2}
    - {at: 40s, run: kubectl get nodes}
    - {at: 41s, run: kubectl get deployment nosuch}
",
    );
    let out = tmp.path().join("out");
    let run = run_cluster(&bin, &s, &out);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    for f in [
        "summary.json",
        "events.jsonl",
        "transcript.jsonl",
        "timeseries.csv",
        "report.html",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let summary = json(&out.join("summary.json"));
    assert_eq!(summary["backend"], "cluster");
    assert!(
        summary["controlPlane"]["version"]
            .as_str()
            .unwrap()
            .starts_with("v1."),
        "{summary}"
    );
    assert_eq!(summary["pods"]["preempted"], 1, "{summary}");
    assert_eq!(summary["nodes"]["created"], 3);
    let t = lines(&out.join("transcript.jsonl"));
    assert_eq!(t.len(), 6);
    assert_eq!(t[0]["stdout"], "deployment.apps/web scaled\n");
    let web: serde_json::Value = serde_json::from_str(t[1]["stdout"].as_str().unwrap()).unwrap();
    assert_eq!(
        web["status"]["readyReplicas"], 5,
        "every web pod became ready: {web}"
    );
    // One placeholder was preempted and its replacement stays Pending: two pods remain.
    assert_eq!(
        t[2]["stdout"].as_str().unwrap().lines().count(),
        2,
        "{}",
        t[2]
    );
    assert_eq!(
        t[4]["stdout"].as_str().unwrap().lines().count(),
        4,
        "a header and 3 nodes"
    );
    assert!(
        t[4]["stdout"].as_str().unwrap().contains(" Ready "),
        "{}",
        t[4]
    );
    // The real kubectl's own error and exit code.
    assert_eq!(t[5]["exitCode"], 1);
    assert!(
        t[5]["stderr"]
            .as_str()
            .unwrap()
            .contains("deployments.apps \"nosuch\" not found"),
        "{}",
        t[5]
    );
    let events = lines(&out.join("events.jsonl"));
    let preempted: Vec<_> = events
        .iter()
        .filter(|e| e["reason"] == "Preempted")
        .collect();
    assert_eq!(preempted.len(), 1);
    assert_eq!(preempted[0]["source"], "default-scheduler");
    assert!(
        events
            .iter()
            .any(|e| e["reason"] == "Started" && e["source"] == "kubelet")
    );
    let ts = std::fs::read_to_string(out.join("timeseries.csv")).unwrap();
    assert!(ts.starts_with("time_s,nodes,nodes_ready,pods,"), "{ts}");
    assert!(
        ts.lines()
            .next()
            .unwrap()
            .contains("deploy/default/web/ready")
    );
    // Nothing of the control plane is left: no live process started for this run (their
    // command lines name its directory, kscale-quick-cluster-*) and no directory.
    let marker = "kscale-quick-cluster-";
    assert!(!running_with(marker), "processes left running");
    assert!(
        temp_dirs(marker, started_at).is_empty(),
        "left behind: {:?}",
        temp_dirs(marker, started_at)
    );
}

#[test]
fn a_brought_cluster_keeps_its_nodes_and_is_left_as_found() {
    let Some(bin) = real_bin("a_brought_cluster_keeps_its_nodes_and_is_left_as_found") else {
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
    let kubeconfig = cp.join("kubeconfig");
    let kubectl = |args: &[&str]| {
        Command::new(bin.join("kubectl"))
            .arg(format!("--kubeconfig={}", kubeconfig.display()))
            .args(args)
            .output()
            .unwrap()
    };
    let foreign = tmp.path().join("foreign.yaml");
    std::fs::write(
        &foreign,
        "apiVersion: v1\nkind: Node\nmetadata: {name: theirs}\n",
    )
    .unwrap();
    let created = kubectl(&["create", "-f", &foreign.display().to_string()]);
    // A cluster that already serves metrics.k8s.io (as metrics-server registers it): the
    // registration stays the cluster's, before, during and after kscale's runs.
    let theirs_api = tmp.path().join("apiservice.yaml");
    std::fs::write(
        &theirs_api,
        "apiVersion: apiregistration.k8s.io/v1\nkind: APIService\nmetadata: {name: v1beta1.metrics.k8s.io}\nspec: {service: {name: metrics-server, namespace: kube-system}, group: metrics.k8s.io, version: v1beta1, insecureSkipTLSVerify: true, groupPriorityMinimum: 100, versionPriority: 100}\n",
    )
    .unwrap();
    let api_created = kubectl(&["create", "-f", &theirs_api.display().to_string()]);
    // A user holding only deploy/cluster-run-rbac.yaml's roles (the admin impersonating it).
    let rbac = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/cluster-run-rbac.yaml");
    let rbac_applied = kubectl(&["apply", "-f", &rbac.display().to_string()]);
    let bound = [
        kubectl(&[
            "create",
            "clusterrolebinding",
            "runner",
            "--clusterrole=kscale-cluster-run",
            "--user=runner",
        ]),
        kubectl(&[
            "create",
            "clusterrolebinding",
            "runner-scenario",
            "--clusterrole=kscale-cluster-run-scenario",
            "--user=runner",
        ]),
    ];
    let s = scenario(
        tmp.path(),
        "8s",
        "    - {at: 1s, run: kubectl get nodes -o name}\n",
    );
    let run = |extra: &[&str]| {
        kscale()
            .args(["run", "--cluster", "-q", "--kubeconfig"])
            .arg(&kubeconfig)
            .args(extra)
            .arg("--out")
            .arg(tmp.path().join("out"))
            .arg(&s)
            .env("KSCALE_CONTROLPLANE_BIN", &bin)
            .output()
            .unwrap()
    };
    let refused = run(&[]);
    let allowed = run(&["--allow-existing-nodes"]);
    // A user without RBAC permissions (the admin impersonating "nobody"): the refusal names
    // the verb, the resource and the user.
    let nobody = tmp.path().join("nobody.kubeconfig");
    std::fs::write(
        &nobody,
        std::fs::read_to_string(&kubeconfig).unwrap().replacen(
            "  user:\n",
            "  user:\n    as: nobody\n",
            1,
        ),
    )
    .unwrap();
    let forbidden = kscale()
        .args(["run", "--cluster", "-q", "--kubeconfig"])
        .arg(&nobody)
        .arg("--out")
        .arg(tmp.path().join("out-nobody"))
        .arg(&s)
        .output()
        .unwrap();
    let runner = tmp.path().join("runner.kubeconfig");
    std::fs::write(
        &runner,
        std::fs::read_to_string(&kubeconfig).unwrap().replacen(
            "  user:\n",
            "  user:\n    as: runner\n",
            1,
        ),
    )
    .unwrap();
    // With a kubeconfig path relative to the working directory (not to the scenario's
    // folder, where kubectl steps run).
    let cwd = tmp.path().join("cwd");
    std::fs::create_dir_all(&cwd).unwrap();
    let least = kscale()
        .args([
            "run",
            "--cluster",
            "-q",
            "--allow-existing-nodes",
            "--kubeconfig",
        ])
        .arg("../runner.kubeconfig")
        .arg("--out")
        .arg(tmp.path().join("out-runner"))
        .arg(&s)
        .current_dir(&cwd)
        .output()
        .unwrap();
    let api_after = kubectl(&[
        "get",
        "apiservice",
        "v1beta1.metrics.k8s.io",
        "-o",
        "jsonpath={.spec.service.name}",
    ]);
    let nodes_after = kubectl(&["get", "nodes", "-o", "name"]);
    let priority_classes_after = kubectl(&["get", "priorityclasses", "-o", "name"]);
    let deployments_after = kubectl(&["get", "deployments", "-o", "name"]);
    let down = kscale()
        .args(["control-plane", "down", "--dir"])
        .arg(&cp)
        .output()
        .unwrap();

    assert!(created.status.success(), "{}", text(&created));
    assert!(api_created.status.success(), "{}", text(&api_created));
    assert!(rbac_applied.status.success(), "{}", text(&rbac_applied));
    for b in &bound {
        assert!(b.status.success(), "{}", text(b));
    }
    assert_eq!(least.status.code(), Some(0), "{}", text(&least));
    let steps = lines(&tmp.path().join("out-runner/transcript.jsonl"));
    assert_eq!(steps[0]["exitCode"], 0, "{}", steps[0]);
    assert!(
        !text(&least).to_lowercase().contains("forbidden"),
        "a call the least-privilege roles do not allow:\n{}",
        text(&least)
    );
    assert_eq!(
        String::from_utf8_lossy(&api_after.stdout),
        "metrics-server",
        "the cluster's metrics APIService is kept"
    );
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        text(&refused).contains("nodes kscale did not create (theirs)"),
        "{}",
        text(&refused)
    );
    assert_eq!(allowed.status.code(), Some(0), "{}", text(&allowed));
    let t = lines(&tmp.path().join("out/transcript.jsonl"));
    assert!(
        t[0]["stdout"].as_str().unwrap().contains("node/worker-1"),
        "{}",
        t[0]
    );
    assert_eq!(
        String::from_utf8_lossy(&nodes_after.stdout).trim(),
        "node/theirs",
        "the run's nodes are deleted, the foreign one kept"
    );
    assert_eq!(
        String::from_utf8_lossy(&deployments_after.stdout).trim(),
        ""
    );
    // The manifests' other objects (the quickstart's PriorityClasses) are gone too.
    let pcs = String::from_utf8_lossy(&priority_classes_after.stdout);
    assert!(
        pcs.contains("system-node-critical")
            && !pcs.contains("high-priority")
            && !pcs.contains("low-priority"),
        "{pcs}"
    );
    assert_eq!(forbidden.status.code(), Some(1), "{}", text(&forbidden));
    let f = text(&forbidden);
    assert!(
        f.contains("forbidden") && f.contains("\"nobody\"") && f.contains("nodes"),
        "{f}"
    );
    assert_eq!(down.status.code(), Some(0), "{}", text(&down));
}

#[test]
fn seed_002_the_real_hpa_reads_kscales_metrics_and_scales_1_to_2() {
    let Some(bin) = real_bin("seed_002_the_real_hpa_reads_kscales_metrics_and_scales_1_to_2")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let manifests = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/seed002/manifests")
        .canonicalize()
        .unwrap();
    // Seed 002 compressed: one pod at 90% of its 200m request, `kubectl autoscale` at 50%.
    let s = tmp.path().join("scenario.yaml");
    std::fs::write(
        &s,
        format!(
            "apiVersion: kscale.io/v1alpha1
kind: Scenario
metadata: {{name: seed002-cluster}}
spec:
  duration: 115s
  seed: 2
  nodes:
    - {{name: worker, instanceType: m5.large, count: 2}}
  manifests: [{}]
  load:
    - target: deployment/web
      requestsPerSecond: {{constant: 18}}
      cpuPerRequest: 10m
  steps:
    - {{at: 5s, run: kubectl autoscale deployment web --cpu-percent=50 --min=1 --max=5}}
    - {{at: 110s, run: kubectl get hpa}}
    - {{at: 111s, run: kubectl get hpa web -o json}}
",
            manifests.display()
        ),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let run = run_cluster(&bin, &s, &out);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let t = lines(&out.join("transcript.jsonl"));
    let table = t[1]["stdout"].as_str().unwrap();
    let row = table.lines().nth(1).unwrap_or_default();
    let cols: Vec<&str> = row.split_whitespace().collect();
    // NAME REFERENCE TARGETS(cpu: N%/50%) MINPODS MAXPODS REPLICAS AGE
    assert_eq!(
        cols.get(6),
        Some(&"2"),
        "the HPA took web from 1 to 2: {table}"
    );
    let target = cols.get(3).unwrap_or(&"");
    let pct: u32 = target
        .trim_end_matches("%/50%")
        .parse()
        .unwrap_or_else(|_| panic!("{table}"));
    assert!(
        (44..=46).contains(&pct),
        "90% spread over 2 pods is 45%: {table}"
    );
    let hpa: serde_json::Value = serde_json::from_str(t[2]["stdout"].as_str().unwrap()).unwrap();
    assert_eq!(hpa["status"]["desiredReplicas"], 2, "{hpa}");
    let events = lines(&out.join("events.jsonl"));
    let rescale: Vec<_> = events
        .iter()
        .filter(|e| e["reason"] == "SuccessfulRescale")
        .collect();
    assert_eq!(rescale.len(), 1, "{rescale:?}");
    assert!(
        rescale[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("New size: 2; reason: cpu resource utilization"),
        "{}",
        rescale[0]
    );
    assert_eq!(rescale[0]["source"], "horizontal-pod-autoscaler");
}

#[test]
fn an_unreachable_api_server_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let kubeconfig = tmp.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: 'https://127.0.0.1:{port}', insecure-skip-tls-verify: true}}}}]
users: [{{name: u, user: {{token: t}}}}]
contexts: [{{name: x, context: {{cluster: c, user: u}}}}]
current-context: x
"
        ),
    )
    .unwrap();
    let s = scenario(
        tmp.path(),
        "10s",
        "    - {at: 1s, run: kubectl get nodes}\n",
    );
    let out = kscale()
        .args(["run", "--cluster", "--kubeconfig"])
        .arg(&kubeconfig)
        .arg("--out")
        .arg(tmp.path().join("out"))
        .arg(&s)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("reaching the API server https://127.0.0.1:{port}")),
        "{}",
        text(&out)
    );
    let missing = kscale()
        .args(["run", "--cluster", "--kubeconfig"])
        .arg(tmp.path().join("nosuch"))
        .arg(&s)
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1), "{}", text(&missing));
    assert!(text(&missing).contains("nosuch"), "{}", text(&missing));
}

#[test]
fn ctrl_c_during_a_cluster_run_stops_everything() {
    let Some(bin) = real_bin("ctrl_c_during_a_cluster_run_stops_everything") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let started_at = std::time::SystemTime::now();
    // A scenario of its own name, so its processes are told apart from the other tests'.
    let s = scenario(
        tmp.path(),
        "10m",
        "    - {at: 1s, run: kubectl get nodes}\n",
    )
    .to_string_lossy()
    .into_owned();
    let text_s = std::fs::read_to_string(&s)
        .unwrap()
        .replace("name: quick-cluster", "name: interrupted-run");
    std::fs::write(&s, text_s).unwrap();
    let mut child = kscale()
        .args(["run", "--cluster", "-q", "--out"])
        .arg(tmp.path().join("out"))
        .arg(&s)
        .env("KSCALE_CONTROLPLANE_BIN", &bin)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let marker = "kscale-interrupted-run-";
    let started = std::time::Instant::now();
    // Wait until its control plane runs, then a little into the run.
    while !running_with(marker) {
        assert!(
            started.elapsed().as_secs() < 120,
            "the control plane never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    std::thread::sleep(std::time::Duration::from_secs(12));
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.code();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "kscale did not stop on Ctrl-C"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let out = child.wait_with_output().unwrap();
    assert_eq!(code, Some(130), "{}", text(&out));
    assert!(text(&out).contains("interrupted"), "{}", text(&out));
    assert!(!running_with(marker), "processes left running after Ctrl-C");
    assert!(
        temp_dirs(marker, started_at).is_empty(),
        "left behind: {:?}",
        temp_dirs(marker, started_at)
    );
}

#[test]
fn karpenter_launches_nodes_for_the_real_schedulers_unschedulable_pods() {
    let Some(bin) = real_bin("karpenter_launches_nodes_for_the_real_schedulers_unschedulable_pods")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("m")).unwrap();
    std::fs::write(
        tmp.path().join("m/karpenter.yaml"),
        "apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: general}
spec:
  template:
    spec:
      requirements:
        - {key: karpenter.k8s.aws/instance-family, operator: In, values: [m5]}
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
---
apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata: {name: default}
spec:
  amiSelectorTerms: [{alias: al2023@latest}]
---
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
        - name: web
          image: nginx:1.27
          resources: {requests: {cpu: '1', memory: 1Gi}}
",
    )
    .unwrap();
    let s = tmp.path().join("scenario.yaml");
    std::fs::write(
        &s,
        "apiVersion: kscale.io/v1alpha1
kind: Scenario
metadata: {name: karpenter-live}
spec:
  duration: 50s
  cloud: {provider: aws, region: us-east-1, provisioningLatency: {min: 5s, max: 8s}}
  nodes:
    - {name: system, instanceType: m5.large, count: 1, taints: [{key: CriticalAddonsOnly, value: 'true', effect: NoSchedule}]}
  manifests: [m/]
  steps:
    - {at: 15s, run: kubectl scale deployment web --replicas=4}
    - {at: 45s, run: kubectl get pods -o wide}
    - {at: 46s, run: kubectl get nodes -o json}
",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let run = run_cluster(&bin, &s, &out);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let summary = json(&out.join("summary.json"));
    assert_eq!(summary["karpenter"]["launches"], 2, "{summary}");
    assert_eq!(summary["nodes"]["created"], 3, "{summary}");
    let t = lines(&out.join("transcript.jsonl"));
    let pods = t[1]["stdout"].as_str().unwrap();
    assert_eq!(
        pods.lines().filter(|l| l.contains(" Running ")).count(),
        4,
        "every pod runs on a launched node: {pods}"
    );
    assert!(!pods.contains(" system "), "{pods}");
    let nodes: serde_json::Value = serde_json::from_str(t[2]["stdout"].as_str().unwrap()).unwrap();
    let mut types: Vec<String> = nodes["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["metadata"]["labels"]["karpenter.sh/nodepool"] == "general")
        .map(|n| {
            n["metadata"]["labels"]["node.kubernetes.io/instance-type"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    // The nodes (listed by name, and names are drawn addresses): an m5.large and an m5.xlarge.
    types.sort();
    assert_eq!(types, vec!["m5.large", "m5.xlarge"], "{nodes}");
    let events = lines(&out.join("events.jsonl"));
    // The cheapest m5 for one 1-CPU pod, then for three together, in launch order.
    let launched: Vec<&str> = events
        .iter()
        .filter(|e| e["reason"] == "Launched")
        .filter_map(|e| e["message"].as_str()?.split(" (").nth(1)?.split(' ').next())
        .collect();
    assert_eq!(launched, ["m5.large", "m5.xlarge"], "{events:?}");
    let count = |r: &str| {
        events
            .iter()
            .filter(|e| e["reason"] == r && e["source"] == "karpenter")
            .count()
    };
    assert_eq!(
        (count("Launched"), count("Nominated"), count("Registered")),
        (2, 4, 2)
    );
}

#[test]
fn seed_004_preemption_karpenter_and_the_proportional_autoscaler_run_live() {
    let Some(bin) =
        real_bin("seed_004_preemption_karpenter_and_the_proportional_autoscaler_run_live")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let seed = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/seed004")
        .canonicalize()
        .unwrap();
    // Seed 004 compressed: its manifests and step 7 verbatim, minutes turned into seconds.
    let s = tmp.path().join("scenario.yaml");
    std::fs::write(
        &s,
        format!(
            "apiVersion: kscale.io/v1alpha1
kind: Scenario
metadata: {{name: seed004-cluster}}
spec:
  duration: 150s
  seed: 4
  cloud: {{provider: aws, region: us-west-2, provisioningLatency: {{min: 5s, max: 8s}}}}
  nodes:
    - {{name: system, instanceType: m5.large, count: 1, taints: [{{key: CriticalAddonsOnly, value: 'true', effect: NoSchedule}}]}}
  manifests: [{seed}/manifests/]
  steps:
    - {{at: 35s, run: kubectl scale deployment nginx-app --replicas=2}}
    - {{at: 65s, run: kubectl apply -f {seed}/step7/cpa.yaml}}
    - {{at: 80s, run: kubectl scale deployment nginx-app --replicas=4}}
    - {{at: 145s, run: kubectl get deployment dummy-app -o json}}
    - {{at: 146s, run: kubectl get pods -o wide}}
",
            seed = seed.display()
        ),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let run = run_cluster(&bin, &s, &out);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let t = lines(&out.join("transcript.jsonl"));
    for e in &t {
        assert_eq!(e["exitCode"], 0, "{e}");
    }
    let events = lines(&out.join("events.jsonl"));
    // The nginx pod (priority 1000000) preempts the dummy pod (priority -1).
    let preempted: Vec<_> = events
        .iter()
        .filter(|e| e["reason"] == "Preempted")
        .map(|e| e["involvedObject"]["name"].as_str().unwrap().to_string())
        .collect();
    assert!(!preempted.is_empty(), "no preemption");
    assert!(
        preempted.iter().all(|p| p.starts_with("dummy-app-")),
        "{preempted:?}"
    );
    // The proportional autoscaler, live, grows the dummy Deployment with Karpenter's nodes.
    let scaled: Vec<_> = events
        .iter()
        .filter(|e| {
            e["reason"] == "ScalingTarget" && e["source"] == "cluster-proportional-autoscaler"
        })
        .collect();
    assert!(
        !scaled.is_empty(),
        "the CPA never scaled: {}",
        t[4]["stdout"]
    );
    let dummy: serde_json::Value = serde_json::from_str(t[3]["stdout"].as_str().unwrap()).unwrap();
    assert_eq!(dummy["spec"]["replicas"], 2, "{}", scaled.last().unwrap());
    let summary = json(&out.join("summary.json"));
    assert!(
        summary["karpenter"]["launches"].as_u64().unwrap() >= 5,
        "{summary}"
    );
}

#[test]
fn the_cluster_autoscaler_adds_a_node_for_pending_pods_and_removes_it_when_empty() {
    let Some(bin) =
        real_bin("the_cluster_autoscaler_adds_a_node_for_pending_pods_and_removes_it_when_empty")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let s = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/cluster-autoscaler-live/scenario.yaml")
        .canonicalize()
        .unwrap();
    let out = tmp.path().join("out");
    let run = run_cluster(&bin, &s, &out);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let summary = json(&out.join("summary.json"));
    let ca = &summary["clusterAutoscaler"];
    assert_eq!(
        (
            &ca["scaleUps"],
            &ca["nodesAdded"],
            &ca["scaleDowns"],
            &ca["nodesRemoved"]
        ),
        (&1.into(), &1.into(), &1.into(), &1.into()),
        "{summary}"
    );
    // Its decisions, as the twin's summary lists them.
    let decisions: Vec<(&str, &str)> = ca["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["kind"].as_str().unwrap(), d["group"].as_str().unwrap()))
        .collect();
    assert_eq!(
        decisions,
        [("scaleUp", "workers"), ("scaleDown", "workers")],
        "{summary}"
    );
    assert_eq!(ca["decisions"][0]["detail"]["to"], 1, "{summary}");
    assert_eq!(ca["decisions"][1]["detail"]["empty"], true, "{summary}");
    assert!(ca["unremovableNodes"].is_object(), "{summary}");
    assert_eq!(summary["nodes"]["created"], 2, "{summary}");
    assert_eq!(summary["nodes"]["final"], 1, "{summary}");
    let t = lines(&out.join("transcript.jsonl"));
    for e in &t[..4] {
        assert_eq!(e["exitCode"], 0, "{e}");
    }
    // The pending pods run on the node the Cluster Autoscaler added to `workers`.
    let nodes = t[1]["stdout"].as_str().unwrap();
    let added: Vec<&str> = nodes
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(added.len(), 1, "{nodes}");
    assert!(nodes.contains(" Ready "), "{nodes}");
    let pods = t[0]["stdout"].as_str().unwrap();
    let web: Vec<&str> = pods.lines().filter(|l| l.starts_with("web-")).collect();
    assert_eq!(web.len(), 2, "{pods}");
    for l in &web {
        assert!(l.contains(" Running ") && l.contains(added[0]), "{pods}");
    }
    let status = t[2]["stdout"].as_str().unwrap();
    assert!(
        status.contains("name: cluster-autoscaler-status"),
        "{status}"
    );
    assert!(status.contains("- name: workers"), "{status}");
    assert!(status.contains("cloudProviderTarget: 1"), "{status}");
    // Empty after web went to zero, the node was removed.
    assert!(
        t[4]["stderr"]
            .as_str()
            .unwrap()
            .contains("No resources found"),
        "{}",
        t[4]
    );
    let events = lines(&out.join("events.jsonl"));
    let by = |reason: &str, kind: &str| {
        events
            .iter()
            .filter(|e| {
                e["reason"] == reason
                    && e["source"] == "cluster-autoscaler"
                    && e["involvedObject"]["kind"] == kind
            })
            .count()
    };
    assert_eq!(by("ScaledUpGroup", "ConfigMap"), 1);
    assert_eq!(by("TriggeredScaleUp", "Pod"), 2);
    assert_eq!(by("ScaleDownEmpty", "ConfigMap"), 1);
    assert_eq!(by("ScaleDown", "Node"), 2, "marked, then removed");
}

/// A pod whose memory model is over its limit, on a real control plane: kscale's kubelet
/// OOM-kills its container (`lastState.terminated.reason: OOMKilled`, exit code 137), the pod
/// waits in CrashLoopBackOff (10 s, then 20 s) and runs again, as in the twin; the two
/// backends count the same kills within one.
#[test]
fn an_oom_killed_container_restarts_after_its_back_off_as_in_the_twin() {
    let Some(bin) = real_bin("an_oom_killed_container_restarts_after_its_back_off_as_in_the_twin")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("hog.yaml"),
        "apiVersion: apps/v1
kind: Deployment
metadata: {name: hog, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: hog}}
  template:
    metadata: {labels: {app: hog}}
    spec:
      containers:
        - name: app
          image: registry.k8s.io/pause:3.10
          resources:
            requests: {cpu: 100m, memory: 256Mi}
            limits: {memory: 256Mi}
",
    )
    .unwrap();
    let s = tmp.path().join("scenario.yaml");
    std::fs::write(
        &s,
        "apiVersion: kscale.io/v1alpha1
kind: Scenario
metadata: {name: oom-cluster}
spec:
  duration: 50s
  seed: 3
  nodes:
    - {name: worker, instanceType: m5.large, count: 1}
  manifests: [hog.yaml]
  load:
    - target: deployment/hog
      requestsPerSecond: {constant: 20}
      cpuPerRequest: 1m
      memory: {base: 300Mi, perRequest: 1Mi}
      timeout: 1s
      retries: {attempts: 2, backoff: 1s}
  steps:
    - {at: 45s, run: kubectl get pods -l app=hog -o json}
",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let run = run_cluster(&bin, &s, &out);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let summary = json(&out.join("summary.json"));
    let kills = summary["counters"]["oomKills"].as_u64().unwrap();
    assert!((2..=4).contains(&kills), "{summary}");
    let events = lines(&out.join("events.jsonl"));
    let count = |reason: &str| events.iter().filter(|e| e["reason"] == reason).count();
    assert_eq!(count("OOMKilled") as u64, kills, "{events:?}");
    assert_eq!(count("BackOff") as u64, kills);
    assert!(count("Started") as u64 >= kills, "restarted: {events:?}");
    let t = lines(&out.join("transcript.jsonl"));
    let pods: serde_json::Value = serde_json::from_str(t[0]["stdout"].as_str().unwrap()).unwrap();
    let c = &pods["items"][0]["status"]["containerStatuses"][0];
    assert_eq!(c["lastState"]["terminated"]["reason"], "OOMKilled", "{c}");
    assert_eq!(c["lastState"]["terminated"]["exitCode"], 137, "{c}");
    assert!(c["restartCount"].as_u64().unwrap() >= 2, "{c}");
    // The twin, on the same scenario: the same kills within one.
    let twin_out = tmp.path().join("twin");
    let twin = kscale()
        .args(["run", "-q", "--out"])
        .arg(&twin_out)
        .arg(&s)
        .output()
        .unwrap();
    assert!(twin.status.success(), "{}", text(&twin));
    let twin_kills = json(&twin_out.join("summary.json"))["counters"]["oomKills"]
        .as_u64()
        .unwrap();
    assert!(
        twin_kills.abs_diff(kills) <= 1,
        "twin {twin_kills} kills, cluster {kills}"
    );
    // The load, accounted as in the twin with its client model: the pod serves between its
    // kills, so most user requests fail after their retries; both backends agree on the
    // shares within a few percent.
    let load = |dir: &Path| json(&dir.join("summary.json"))["loads"][0].clone();
    let (live, twin) = (load(&out), load(&twin_out));
    let share = |l: &serde_json::Value, key: &str| {
        l[key].as_f64().unwrap() / l["offeredRequests"].as_f64().unwrap()
    };
    for l in [&live, &twin] {
        assert!(
            l["attempts"].as_f64().unwrap() > l["offeredRequests"].as_f64().unwrap(),
            "{l}"
        );
        assert!(l["retries"].as_f64().unwrap() > 0.0, "{l}");
    }
    // The twin's load columns, sampled from the live load model.
    let csv = std::fs::read_to_string(out.join("timeseries.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let last: Vec<&str> = csv.lines().last().unwrap().split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("{name}: {header:?}"))
    };
    assert_eq!(
        last[col("load/default/deployment/hog/oom_kills")]
            .parse::<f64>()
            .unwrap() as u64,
        kills
    );
    for c in [
        "offered_rps",
        "served_rps",
        "failed_rps",
        "retries_rps",
        "memory_mib",
    ] {
        col(&format!("load/default/deployment/hog/{c}"));
    }
    let offered = live["offeredRequests"].as_f64().unwrap();
    assert!((offered - 20.0 * 50.0).abs() <= 40.0, "{live}");
    // The pod serves only between a start and the next OOM kill, windows of under a second
    // that the backends cut at different phases (the twin's kills fall on its 1 s sampling,
    // the live kubelets' on their own 1 s passes): each window may differ by one pass, that
    // is by the attempts of one second (the twin's attempts over the 50 s run) per kill.
    let per_pass = twin["attempts"].as_f64().unwrap() / 50.0;
    let tolerance = kills.max(twin_kills) as f64 * per_pass / offered;
    assert!(tolerance < 0.25, "a bound that still tells: {tolerance}");
    for key in ["failedRequests", "servedRequests"] {
        let (a, b) = (share(&live, key), share(&twin, key));
        assert!(
            (a - b).abs() <= tolerance,
            "{key} (tolerance {tolerance}): cluster {live}, twin {twin}"
        );
    }
}

/// The kubelets' memory handling beyond a container's limit, on a real control plane and in
/// the twin: on node `pressure` two pods' working sets leave less than 100Mi of its
/// allocatable, and its eviction manager evicts one every 10 s (the pod `Failed` with reason
/// `Evicted`, its ReplicaSet replacing it); on node `oom` they exceed the allocatable plus the
/// threshold, and the kernel's OOM killer kills one container at a time (`SystemOOM`). Both
/// backends count the same evictions and kills within one.
#[test]
fn memory_pressure_evicts_and_the_node_oom_killer_kills_as_in_the_twin() {
    let Some(bin) = real_bin("memory_pressure_evicts_and_the_node_oom_killer_kills_as_in_the_twin")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let deployment = |name: &str, node: &str| {
        format!(
            "apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: default}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      nodeSelector: {{group: {node}}}
      containers:
        - name: app
          image: registry.k8s.io/pause:3.10
          resources:
            requests: {{cpu: 100m, memory: 1Gi}}
"
        )
    };
    std::fs::write(
        tmp.path().join("apps.yaml"),
        format!(
            "{}---\n{}",
            deployment("squeezed", "pressure"),
            deployment("hog", "oom")
        ),
    )
    .unwrap();
    // m5.large: 7518Mi allocatable. Two pods of 3790Mi: 38Mi available (< 100Mi) but within
    // allocatable + 100Mi; two of 3900Mi: over it.
    let s = tmp.path().join("scenario.yaml");
    std::fs::write(
        &s,
        "apiVersion: kscale.io/v1alpha1
kind: Scenario
metadata: {name: memory-cluster}
spec:
  duration: 40s
  seed: 3
  nodes:
    - {name: pressure, instanceType: m5.large, count: 1, labels: {group: pressure}}
    - {name: oom, instanceType: m5.large, count: 1, labels: {group: oom}}
  manifests: [apps.yaml]
  load:
    - target: deployment/squeezed
      requestsPerSecond: {constant: 1}
      cpuPerRequest: 1m
      memory: {base: 3790Mi, perRequest: 1Mi}
    - target: deployment/hog
      requestsPerSecond: {constant: 1}
      cpuPerRequest: 1m
      memory: {base: 3900Mi, perRequest: 1Mi}
  steps:
    - {at: 35s, run: kubectl get pods -l app=squeezed -o json}
",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let run = run_cluster(&bin, &s, &out);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let twin_out = tmp.path().join("twin");
    let twin = kscale()
        .args(["run", "-q", "--out"])
        .arg(&twin_out)
        .arg(&s)
        .output()
        .unwrap();
    assert!(twin.status.success(), "{}", text(&twin));
    let counters = |dir: &Path| json(&dir.join("summary.json"))["counters"].clone();
    let (live, sim) = (counters(&out), counters(&twin_out));
    for key in ["evictions", "oomKills"] {
        let (l, t) = (
            live[key].as_u64().unwrap_or(0),
            sim[key].as_u64().unwrap_or(0),
        );
        assert!(l >= 2 && l.abs_diff(t) <= 1, "{key}: cluster {l}, twin {t}");
    }
    let events = lines(&out.join("events.jsonl"));
    let on = |reason: &str, name_prefix: &str| {
        events
            .iter()
            .filter(|e| {
                e["reason"] == reason
                    && e["involvedObject"]["name"]
                        .as_str()
                        .is_some_and(|n| n.starts_with(name_prefix))
            })
            .count()
    };
    assert!(on("Evicted", "squeezed-") >= 2, "{events:?}");
    assert_eq!(on("Evicted", "hog-"), 0);
    assert!(on("EvictionThresholdMet", "pressure") >= 2);
    assert!(on("SystemOOM", "oom") >= 2);
    assert_eq!(on("OOMKilled", "squeezed-"), 0);
    let evicted = events.iter().find(|e| e["reason"] == "Evicted").unwrap();
    assert!(
        evicted["message"]
            .as_str()
            .unwrap()
            .starts_with("The node was low on resource: memory. Threshold quantity: 100Mi"),
        "{evicted}"
    );
    let t = lines(&out.join("transcript.jsonl"));
    let pods: serde_json::Value = serde_json::from_str(t[0]["stdout"].as_str().unwrap()).unwrap();
    let failed: Vec<_> = pods["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["status"]["phase"] == "Failed")
        .collect();
    assert!(!failed.is_empty(), "{pods}");
    assert_eq!(failed[0]["status"]["reason"], "Evicted");
}

/// A load entry's application start-up time and Poisson arrivals on a real control plane, as
/// in the twin: the pod turns Ready `startupTime` after its container started (so the load is
/// dropped until then), and the offered requests are a Poisson draw around the rate (not the
/// rate × the duration exactly), the same figure as the twin's when the ticks line up.
#[test]
fn startup_time_delays_readiness_and_arrivals_are_poisson_as_in_the_twin() {
    let Some(bin) =
        real_bin("startup_time_delays_readiness_and_arrivals_are_poisson_as_in_the_twin")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("web.yaml"),
        "apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: app
          image: registry.k8s.io/pause:3.10
          resources: {requests: {cpu: 500m, memory: 128Mi}}
",
    )
    .unwrap();
    let s = tmp.path().join("scenario.yaml");
    std::fs::write(
        &s,
        "apiVersion: kscale.io/v1alpha1
kind: Scenario
metadata: {name: startup-cluster}
spec:
  duration: 50s
  seed: 5
  nodes:
    - {name: worker, instanceType: m5.large, count: 1}
  manifests: [web.yaml]
  load:
    - target: deployment/web
      requestsPerSecond: {constant: 40, poisson: true}
      cpuPerRequest: 5m
      startupTime: 25s
  steps:
    - {at: 15s, run: kubectl get pods -l app=web}
    - {at: 45s, run: kubectl get pods -l app=web}
",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let run = run_cluster(&bin, &s, &out);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let twin_out = tmp.path().join("twin");
    let twin = kscale()
        .args(["run", "-q", "--out"])
        .arg(&twin_out)
        .arg(&s)
        .output()
        .unwrap();
    assert!(twin.status.success(), "{}", text(&twin));
    // READY 0/1 at 15 s (started, still starting up), 1/1 at 45 s, on both backends.
    let ready = |dir: &Path| -> Vec<String> {
        lines(&dir.join("transcript.jsonl"))
            .iter()
            .map(|t| {
                let out = t["stdout"].as_str().unwrap();
                out.lines()
                    .nth(1)
                    .unwrap()
                    .split_whitespace()
                    .nth(1)
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    assert_eq!(ready(&out), ["0/1", "1/1"], "cluster");
    assert_eq!(ready(&twin_out), ["0/1", "1/1"], "twin");
    let load = |dir: &Path| json(&dir.join("summary.json"))["loads"][0].clone();
    let (live, twin) = (load(&out), load(&twin_out));
    // Requests before the pod is Ready are dropped: about the first half of the run.
    for l in [&live, &twin] {
        let offered = l["offeredRequests"].as_f64().unwrap();
        let served = l["servedRequests"].as_f64().unwrap();
        assert!(served / offered < 0.7 && served / offered > 0.2, "{l}");
        assert!((offered - 40.0 * 50.0).abs() <= 200.0, "{l}");
    }
    // Poisson: the offered rate varies from tick to tick around 40 (without noise, every
    // sample but the first reads 40 exactly).
    for dir in [&out, &twin_out] {
        let csv = std::fs::read_to_string(dir.join("timeseries.csv")).unwrap();
        let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
        let col = header
            .iter()
            .position(|h| *h == "load/default/deployment/web/offered_rps")
            .unwrap_or_else(|| panic!("{header:?}"));
        let rates: Vec<f64> = csv
            .lines()
            .skip(2)
            .map(|l| l.split(',').nth(col).unwrap().parse().unwrap())
            .collect();
        assert!(rates.len() >= 2, "{csv}");
        assert!(rates.iter().any(|r| (r - 40.0).abs() >= 1.0), "{rates:?}");
        assert!(rates.iter().all(|r| (r - 40.0).abs() <= 30.0), "{rates:?}");
    }
}
