//! End-to-end tests of the `kscale` binary: bad input is reported with file, line or field and
//! exit code 2; good input produces a complete run directory; runs are byte-for-byte
//! reproducible.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::{kscale, repo_root};

/// Writes a scenario (and extra files) into a temp dir and returns (dir, scenario path).
fn scenario_dir(scenario: &str, files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    let s = dir.path().join("scenario.yaml");
    std::fs::write(&s, scenario).unwrap();
    (dir, s)
}

const DEPLOY: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: c
        image: nginx
        resources:
          requests: {cpu: 250m, memory: 64Mi}
";

fn basic_scenario(extra: &str) -> String {
    format!(
        "apiVersion: kscale.io/v1alpha1
kind: Scenario
metadata: {{name: t}}
spec:
  duration: 5m
  nodes:
    - {{name: n, instanceType: m5.large, count: 2}}
  manifests: [m/]
{extra}"
    )
}

fn run_err(scenario: &str, files: &[(&str, &str)]) -> (i32, String) {
    let (dir, s) = scenario_dir(scenario, files);
    let out = kscale()
        .arg("run")
        .arg(&s)
        .arg("--out")
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert!(
        !dir.path().join("out").exists(),
        "no output directory on bad input"
    );
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn bad_yaml_names_file_and_line() {
    let (code, err) = run_err(
        &basic_scenario(""),
        &[(
            "m/web.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web\n",
        )],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("web.yaml:"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_quantity_names_field() {
    let bad = DEPLOY.replace("cpu: 250m", "cpu: 25x0m");
    let (code, err) = run_err(&basic_scenario(""), &[("m/web.yaml", &bad)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("web.yaml:"), "{err}");
    assert!(err.contains("resources.requests[cpu]"), "{err}");
    assert!(err.contains("\"25x0m\""), "{err}");
}

#[test]
fn negative_replicas_is_rejected_with_line() {
    let bad = DEPLOY.replace("replicas: 2", "replicas: -3");
    let (code, err) = run_err(&basic_scenario(""), &[("m/web.yaml", &bad)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("web.yaml:6:"), "line of spec.replicas: {err}");
    assert!(
        err.contains("spec.replicas: Invalid value: -3: must be greater than or equal to 0"),
        "{err}"
    );
}

#[test]
fn a_scenario_name_cannot_leave_the_output_folder() {
    for name in ["../../x", "/tmp/x", "Web"] {
        let s = basic_scenario("").replace("name: t}", &format!("name: {name:?}}}"));
        let (code, err) = run_err(&s, &[("m/web.yaml", DEPLOY)]);
        assert_eq!(code, 2, "{name}: {err}");
        assert!(err.contains("metadata.name: Invalid value"), "{err}");
    }
}

#[test]
fn a_load_on_a_workload_that_does_not_exist_is_refused() {
    let load = "  load:\n    - {target: deployment/wbe, requestsPerSecond: {constant: 5}, cpuPerRequest: 10m}\n";
    let (code, err) = run_err(&basic_scenario(load), &[("m/web.yaml", DEPLOY)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("spec.load[0].target"), "{err}");
    assert!(
        err.contains("load target default/deployment/wbe does not exist"),
        "{err}"
    );
}

#[test]
fn a_step_after_the_end_is_refused() {
    let s = basic_scenario("  steps:\n    - at: 6m\n      run: kubectl get pods\n");
    let (code, err) = run_err(&s, &[("m/web.yaml", DEPLOY)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("spec.steps[0].at"), "{err}");
    assert!(
        err.contains("step at 6m0s is after the end of the scenario (duration 5m0s)"),
        "{err}"
    );
    // A step at the very end is kept.
    let s = basic_scenario("  steps:\n    - at: 5m\n      run: kubectl get pods\n");
    let (dir, path) = scenario_dir(&s, &[("m/web.yaml", DEPLOY)]);
    let out = kscale().arg("validate").arg(&path).output().unwrap();
    drop(dir);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn unknown_kubectl_verb_names_step() {
    let s =
        basic_scenario("  steps:\n    - at: 1m\n      run: kubectl frobnicate deployment web\n");
    let (code, err) = run_err(&s, &[("m/web.yaml", DEPLOY)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("scenario.yaml:11"), "{err}");
    assert!(err.contains("unknown command \"frobnicate\""), "{err}");
}

#[test]
fn bad_csv_value_names_line_and_column() {
    let s = basic_scenario(
        "  load:\n    - target: deployment/web\n      requestsPerSecond: {trace: rps.csv}\n      cpuPerRequest: 10m\n",
    );
    let (code, err) = run_err(
        &s,
        &[("m/web.yaml", DEPLOY), ("rps.csv", "t,rps\n0,5\n60,five\n")],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("rps.csv:3:2"), "{err}");
    assert!(err.contains("\"five\""), "{err}");
}

#[test]
fn missing_files_are_reported() {
    let (code, err) = run_err(&basic_scenario("").replace("[m/]", "[nope/]"), &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("\"nope/\" does not exist"), "{err}");
    let out = kscale()
        .args(["run", "/definitely/not/here.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read scenario"));
}

#[test]
fn bad_scenario_fields_are_located() {
    let s = basic_scenario("").replace("duration: 5m", "duration: 5 minutes");
    let (code, err) = run_err(&s, &[("m/web.yaml", DEPLOY)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("scenario.yaml:5"), "{err}");
    let s = basic_scenario("  typo: 1\n");
    let (code, err) = run_err(&s, &[("m/web.yaml", DEPLOY)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("typo"), "{err}");
    let s = basic_scenario("").replace("m5.large", "m9.huge");
    let (code, err) = run_err(&s, &[("m/web.yaml", DEPLOY)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unknown instance type \"m9.huge\""), "{err}");
}

#[test]
fn quickstart_runs_and_is_reproducible() {
    let root = repo_root();
    let scenario = root.join("examples/quickstart/scenario.yaml");
    let dir = tempfile::tempdir().unwrap();
    let mut outputs = vec![];
    for i in 0..2 {
        let out_dir = dir.path().join(format!("run{i}"));
        let out = kscale()
            .arg("run")
            .arg(&scenario)
            .arg("--out")
            .arg(&out_dir)
            .arg("--quiet")
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut files = vec![];
        for f in [
            "summary.json",
            "events.jsonl",
            "transcript.jsonl",
            "timeseries.csv",
            "report.html",
        ] {
            let bytes = std::fs::read(out_dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
            assert!(!bytes.is_empty(), "{f} is empty");
            files.push(bytes);
        }
        outputs.push(files);
    }
    assert_eq!(
        outputs[0], outputs[1],
        "same inputs and seed must give byte-identical outputs"
    );
    let events = String::from_utf8(outputs[0][1].clone()).unwrap();
    assert!(events.contains("\"reason\":\"Scheduled\""));
    assert!(
        events.contains("\"reason\":\"Preempted\""),
        "the scale step preempts a placeholder"
    );
    let transcript = String::from_utf8(outputs[0][2].clone()).unwrap();
    assert!(
        transcript.contains("deployment.apps/web scaled"),
        "{transcript}"
    );
    let report = String::from_utf8(outputs[0][4].clone()).unwrap();
    assert!(report.contains("<figure class=\"kchart\""));
}

#[test]
fn headroom_finds_the_cheapest_setting() {
    let root = repo_root();
    let dir = tempfile::tempdir().unwrap();
    let out = kscale()
        .args([
            "headroom",
            "--pause",
            "deployment/dummy-app",
            "--workload",
            "deployment/nginx-app",
            "--replicas",
            "0,3",
            "--max-p99",
            "30s",
            "--out",
        ])
        .arg(dir.path().join("h"))
        .arg(root.join("examples/headroom/scenario.yaml"))
        .env("CI", "true")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("h/summary.json")).unwrap()).unwrap();
    let rows = summary["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    // Without pause pods every surge pod waits for a new node (> 30 s); three pause pods absorb
    // the largest surge (+3) at once, for a higher cost.
    assert!(rows[0]["p99Seconds"].as_f64().unwrap() > 60.0, "{stdout}");
    assert!(rows[1]["p99Seconds"].as_f64().unwrap() < 30.0, "{stdout}");
    assert!(
        rows[1]["costPerDayUsd"].as_f64().unwrap() > rows[0]["costPerDayUsd"].as_f64().unwrap()
    );
    assert_eq!(summary["cheapestMeetingTarget"], 3);
    assert!(stdout.contains("<- cheapest with p99 <= 30s"), "{stdout}");
    // The surge traffic: less SLO violation and fewer failed requests with the headroom.
    let f = |i: usize, k: &str| rows[i][k].as_f64().unwrap();
    assert!(
        f(1, "sloViolationSeconds") < f(0, "sloViolationSeconds") / 2.0,
        "{stdout}"
    );
    assert!(
        f(1, "failedRequests") < f(0, "failedRequests") / 2.0,
        "{stdout}"
    );
    let report = std::fs::read_to_string(dir.path().join("h/report.html")).unwrap();
    // Start-up latency (with the target line), SLO violation, failed requests and cost curves.
    assert_eq!(report.matches("<figure class=\"kchart\"").count(), 4);
    assert!(report.contains("{\"label\":\"target p99 30s\",\"value\":30}"));
    assert!(report.contains("<div class=\"verdict ok\">OK: 3 replicas of"));
    let bad = kscale()
        .args([
            "headroom",
            "--pause",
            "statefulset/x",
            "--workload",
            "deployment/y",
        ])
        .arg(root.join("examples/headroom/scenario.yaml"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

/// Seed 000's Figure 8 as the README runs it: the shape of the table.
#[test]
fn scaling_latency_reproduces_the_shape_of_figure_8() {
    let root = repo_root();
    let dir = tempfile::tempdir().unwrap();
    let out = kscale()
        .args(["scaling-latency", "--out"])
        .arg(dir.path().join("f"))
        .arg(root.join("examples/elastic-vs-replicaset/scenario.yaml"))
        .env("CI", "true")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("ReplicaSet (new pods)"), "{stdout}");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("f/summary.json")).unwrap()).unwrap();
    assert_eq!(summary["runsPerCell"], 30);
    let rows = summary["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 10);
    let mean = |i: usize, m: &str| rows[i][m]["meanSeconds"].as_f64().unwrap();
    // Elastic is flat: every N within 20% of N=1.
    let e1 = mean(0, "elastic");
    for i in 0..10 {
        let e = mean(i, "elastic");
        assert!(
            (e - e1).abs() <= 0.2 * e1,
            "elastic N={} {e} vs {e1}",
            i + 1
        );
    }
    // The ReplicaSet path grows with N.
    for i in 1..10 {
        assert!(
            mean(i, "replicaSet") > mean(i - 1, "replicaSet"),
            "ReplicaSet not growing at N={}",
            i + 1
        );
    }
    // At N=10 elastic is at least 5× faster.
    assert!(
        mean(9, "replicaSet") >= 5.0 * mean(9, "elastic"),
        "{} vs {}",
        mean(9, "replicaSet"),
        mean(9, "elastic")
    );
    // Pod writes: per new pod for the ReplicaSet path, one request's worth for elastic.
    let writes = |i: usize, m: &str| rows[i]["podApiWrites"][m].as_f64().unwrap();
    assert_eq!(writes(9, "replicaSet"), 10.0 * writes(0, "replicaSet"));
    assert_eq!(writes(9, "elastic"), writes(0, "elastic"));
    assert!(dir.path().join("f/report.html").exists());
}

#[test]
fn scaling_latency_bad_targets_exit_2() {
    let root = repo_root();
    let out = kscale()
        .args(["scaling-latency", "--pod", "pod/nope"])
        .arg(root.join("examples/elastic-vs-replicaset/scenario.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no Pod default/nope"), "{err}");
    let out = kscale()
        .args(["scaling-latency", "--deployment", "pod/x"])
        .arg(root.join("examples/elastic-vs-replicaset/scenario.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// Issue 5: the headroom analysis compares pause pods with a CapacityBuffer.
#[test]
fn headroom_sweeps_a_capacity_buffer() {
    let root = repo_root();
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], out: &str| {
        kscale()
            .arg("headroom")
            .args(args)
            .args([
                "--workload",
                "deployment/nginx-app",
                "--replicas",
                "0,2",
                "--max-p99",
                "30s",
                "--out",
            ])
            .arg(dir.path().join(out))
            .env("CI", "true")
            .output()
            .unwrap()
    };
    let out = run(
        &[
            "--buffer",
            "capacitybuffer/spare",
            root.join("examples/headroom/capacity-buffer.yaml")
                .to_str()
                .unwrap(),
        ],
        "b",
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("b/summary.json")).unwrap()).unwrap();
    assert_eq!(summary["pause"], "default/capacitybuffer/spare");
    let rows = summary["rows"].as_array().unwrap();
    let p99 = |i: usize| rows[i]["p99Seconds"].as_f64().unwrap();
    let cost = |i: usize| rows[i]["costPerDayUsd"].as_f64().unwrap();
    // No buffer: surge pods wait for a node; two buffer replicas: they start at once, for the
    // price of the nodes the buffer keeps.
    assert!(p99(0) > 60.0 && p99(1) < 30.0, "{rows:?}");
    assert!(cost(1) > cost(0));
    assert_eq!(summary["cheapestMeetingTarget"], 2);
    // Exactly one of --pause and --buffer.
    let out = run(
        &[
            "--buffer",
            "capacitybuffer/spare",
            "--pause",
            "deployment/dummy-app",
            root.join("examples/headroom/capacity-buffer.yaml")
                .to_str()
                .unwrap(),
        ],
        "x",
    );
    assert_eq!(out.status.code(), Some(2));
    let out = run(
        &[
            "--buffer",
            "deployment/spare",
            root.join("examples/headroom/capacity-buffer.yaml")
                .to_str()
                .unwrap(),
        ],
        "y",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected capacitybuffer/NAME"));
}

/// Every scenario shipped in `examples/` runs (exit 0) and is byte-for-byte reproducible: the
/// README's commands keep working and determinism holds beyond the quickstart.
#[test]
fn every_example_runs_and_is_reproducible() {
    fn scenarios(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                scenarios(&p, out);
            } else if p.extension().is_some_and(|e| e == "yaml")
                && std::fs::read_to_string(&p)
                    .unwrap()
                    .contains("kind: Scenario")
            {
                out.push(p);
            }
        }
    }
    let root = repo_root();
    let mut found = vec![];
    scenarios(&root.join("examples"), &mut found);
    assert!(found.len() >= 15, "{found:?}");
    let dir = tempfile::tempdir().unwrap();
    for (k, scenario) in found.iter().enumerate() {
        let mut outputs = vec![];
        for i in 0..2 {
            let out_dir = dir.path().join(format!("{k}-{i}"));
            let out = kscale()
                .arg("run")
                .arg(scenario)
                .arg("--out")
                .arg(&out_dir)
                .arg("--quiet")
                .output()
                .unwrap();
            assert_eq!(
                out.status.code(),
                Some(0),
                "{}: {}",
                scenario.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            let files: Vec<Vec<u8>> = [
                "summary.json",
                "events.jsonl",
                "transcript.jsonl",
                "timeseries.csv",
                "report.html",
            ]
            .iter()
            .map(|f| std::fs::read(out_dir.join(f)).unwrap())
            .collect();
            outputs.push(files);
        }
        assert!(
            outputs[0] == outputs[1],
            "{}: two runs differ",
            scenario.display()
        );
    }
}

/// A run replaces only what kscale made (the `.kscale-run` marker): a directory of the user's
/// is refused with a hint, kept as it was, and replaced only with `--force`.
#[test]
fn a_run_replaces_only_its_own_directories_unless_forced() {
    let (dir, path) = scenario_dir(&basic_scenario(""), &[("m/web.yaml", DEPLOY)]);
    let out_dir = dir.path().join("out");
    let run = |extra: &[&str]| {
        kscale()
            .arg("run")
            .arg(&path)
            .arg("--out")
            .arg(&out_dir)
            .arg("-q")
            .args(extra)
            .output()
            .unwrap()
    };
    let first = run(&[]);
    assert_eq!(first.status.code(), Some(0));
    assert!(out_dir.join(".kscale-run").is_file());
    assert_eq!(run(&[]).status.code(), Some(0), "its own run is replaced");

    // The user's own report in a directory kscale did not make.
    std::fs::remove_file(out_dir.join(".kscale-run")).unwrap();
    std::fs::write(out_dir.join("report.html"), "mine").unwrap();
    let refused = run(&[]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no .kscale-run marker") && err.contains("pass --force"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(out_dir.join("report.html")).unwrap(),
        "mine"
    );
    let forced = run(&["--force"]);
    assert_eq!(forced.status.code(), Some(0));
    assert_ne!(
        std::fs::read_to_string(out_dir.join("report.html")).unwrap(),
        "mine"
    );
}

/// A typo inside a manifest is an unknown field, as the API server's strict field validation
/// reports it: file, line, field path, exit 2. kscale's own extension (Elastic Pods' container
/// `replica`) is not one.
#[test]
fn an_unknown_manifest_field_is_an_error_with_its_line() {
    let typo = DEPLOY.replace("resources:", "resourcse:");
    let (code, err) = run_err(&basic_scenario(""), &[("m/web.yaml", &typo)]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("web.yaml:16")
            && err.contains("unknown field \"spec.template.spec.containers[0].resourcse\""),
        "{err}"
    );
    let flow = DEPLOY.replace(
        "{app: web}\n  template",
        "{app: web}\n    matchLabelz: {a: b}\n  template",
    );
    let (code, err) = run_err(&basic_scenario(""), &[("m/web.yaml", &flow)]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("unknown field \"spec.selector.matchLabelz\""),
        "{err}"
    );
    let elastic = DEPLOY.replace("image: nginx", "image: nginx\n        replica: 2");
    let (dir, path) = scenario_dir(&basic_scenario(""), &[("m/web.yaml", &elastic)]);
    let out = kscale().arg("validate").arg(&path).output().unwrap();
    drop(dir);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A sweep over an object the scenario does not define would sweep nothing and print
/// identical rows: `--pause`, `--buffer` and `--workload` typos are input errors naming it.
#[test]
fn a_headroom_sweep_over_a_missing_object_is_refused() {
    let scenario = repo_root().join("examples/headroom/scenario.yaml");
    let tmp = tempfile::tempdir().unwrap();
    let sweep = |pause: &str, workload: &str| {
        kscale()
            .args(["headroom"])
            .arg(&scenario)
            .args([
                "--pause",
                pause,
                "--workload",
                workload,
                "--replicas",
                "0,1",
            ])
            .arg("--out")
            .arg(tmp.path().join("out"))
            .output()
            .unwrap()
    };
    for (pause, workload, named) in [
        (
            "deployment/dumm",
            "deployment/nginx-app",
            "--pause: deployment default/dumm",
        ),
        (
            "deployment/dummy-app",
            "deployment/ngnx-app",
            "--workload: deployment default/ngnx-app",
        ),
    ] {
        let out = sweep(pause, workload);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains(named) && err.contains("is not defined by the scenario's manifests"),
            "{err}"
        );
        assert!(!tmp.path().join("out").exists());
    }
}

/// The twin's scheduler runs PodTopologySpread: the calibration scenario `topology-spread`
/// (zone a: two m5.xlarge, zone b: one m5.large holding two 800m pods; maxSkew 1) leaves the
/// sixth pod Pending with kube-scheduler's message, and the manifest gets no warning.
#[test]
fn topology_spread_constraints_leave_the_skewed_pod_pending() {
    let tmp = tempfile::tempdir().unwrap();
    let out = kscale()
        .args(["run", "-q", "--out"])
        .arg(tmp.path().join("run"))
        .arg(repo_root().join("calibration/topology-spread.yaml"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("topologySpreadConstraints"), "{err}");
    let transcript = std::fs::read_to_string(tmp.path().join("run/transcript.jsonl")).unwrap();
    let pods: serde_json::Value = transcript
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|s| s["command"] == "kubectl get pods")
        .unwrap();
    let stdout = pods["stdout"].as_str().unwrap();
    assert_eq!(stdout.matches("Pending").count(), 1, "{stdout}");
    assert_eq!(stdout.matches("Running").count(), 5, "{stdout}");
    let events = std::fs::read_to_string(tmp.path().join("run/events.jsonl")).unwrap();
    assert!(
        events.contains(
            "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match pod topology \
             spread constraints. preemption: 0/3 nodes are available: 3 No preemption victims \
             found for incoming pod."
        ),
        "{events}"
    );
}

/// `kscale run --check` is the CI gate on `spec.slos`: 0 when all pass, 3 when one fails (with
/// `--junit` naming it), 2 for a malformed objective.
#[test]
fn the_slo_gate_passes_the_current_manifests_and_stops_the_change() {
    let root = repo_root();
    let tmp = tempfile::tempdir().unwrap();
    let good = kscale()
        .args(["run", "--check", "-q", "--out"])
        .arg(tmp.path().join("good"))
        .arg("--junit")
        .arg(tmp.path().join("good.xml"))
        .arg(root.join("examples/ci/scenario.yaml"))
        .output()
        .unwrap();
    assert_eq!(good.status.code(), Some(0), "{good:?}");
    let xml = std::fs::read_to_string(tmp.path().join("good.xml")).unwrap();
    assert!(xml.contains("tests=\"6\" failures=\"0\""), "{xml}");
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("good/summary.json")).unwrap(),
    )
    .unwrap();
    let slos = summary["slos"].as_array().unwrap();
    assert_eq!(slos.len(), 6);
    assert!(slos.iter().all(|s| s["pass"] == true), "{slos:?}");

    let bad = kscale()
        .args(["run", "--check", "-q", "--out"])
        .arg(tmp.path().join("bad"))
        .arg("--junit")
        .arg(tmp.path().join("bad.xml"))
        .arg(root.join("examples/ci/change.yaml"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(3), "{bad:?}");
    let xml = std::fs::read_to_string(tmp.path().join("bad.xml")).unwrap();
    assert!(
        xml.contains(
            "<testcase name=\"web-latency\" classname=\"kscale.slo.latencyP99\">\n      <failure"
        ),
        "{xml}"
    );
    assert!(
        xml.contains("<testcase name=\"budget\" classname=\"kscale.slo.costPerHour\"/>"),
        "{xml}"
    );
    // Without --check the run succeeds: the results are only reported.
    let report_only = kscale()
        .args(["run", "-q", "--out"])
        .arg(tmp.path().join("bad2"))
        .arg(root.join("examples/ci/change.yaml"))
        .status()
        .unwrap();
    assert_eq!(report_only.code(), Some(0));
}

/// `from` leaves a warm-up out of an objective: the same run fails on the start-up overload
/// and passes when measured from after it.
#[test]
fn slos_measured_from_a_time_leave_the_warm_up_out() {
    let manifests = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: web, image: web:1, resources: {requests: {cpu: \"1\"}}}]\n---\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: web}\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n  minReplicas: 1\n  maxReplicas: 6\n  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}}]\n";
    let scenario = |from: &str| {
        format!(
            "apiVersion: kscale.io/v1alpha1\nkind: Scenario\nmetadata: {{name: s}}\nspec:\n  duration: 20m\n  nodes: [{{name: n, instanceType: m5.2xlarge, count: 1}}]\n  manifests: [m.yaml]\n  load:\n    - {{target: deployment/web, requestsPerSecond: {{constant: 200}}, cpuPerRequest: 10m, queueLimit: 50, slo: {{latencyP99: 500ms}}}}\n  slos:\n    - {{name: v, target: deployment/web, sloViolationTime: 0s{from}}}\n    - {{name: n, maxNodes: 1{from}}}\n"
        )
    };
    let measure = |from: &str| -> serde_json::Value {
        let (dir, s) = scenario_dir(&scenario(from), &[("m.yaml", manifests)]);
        let out = kscale()
            .args(["run", "-q", "--out"])
            .arg(dir.path().join("out"))
            .arg(&s)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let summary: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("out/summary.json")).unwrap(),
        )
        .unwrap();
        summary["slos"].clone()
    };
    // One pod serves 100 req/s of the 200 offered until the HPA's second pod starts.
    let whole = measure("");
    assert_eq!(whole[0]["pass"], false, "{whole}");
    assert!(
        whole[0]["violations"][0]["fromSeconds"].as_f64().unwrap() < 600.0,
        "{whole}"
    );
    let later = measure(", from: 10m");
    assert_eq!(later[0]["pass"], true, "{later}");
    assert_eq!(later[0]["fromSeconds"], 600.0);
    assert_eq!(later[0]["violations"], serde_json::json!([]));
    assert_eq!(later[1]["pass"], true, "{later}");
}

#[test]
fn malformed_slos_are_input_errors() {
    for (slos, expected) in [
        (
            "  - {name: a, target: deployment/web, latencyP99: 1s, failedRequests: \"1%\"}",
            "has several objectives",
        ),
        ("  - {name: a, latencyP99: 1s}", "needs a target workload"),
        (
            "  - {name: a, target: deployment/web, maxNodes: 3}",
            "remove target",
        ),
        (
            "  - {name: a, target: deployment/web, failedRequests: 1}",
            "give a percentage",
        ),
        (
            "  - {name: a, maxNodes: 3}\n  - {name: a, maxNodes: 4}",
            "duplicate SLO name",
        ),
        (
            "  - {name: a, target: deployment/web, sloViolationTime: 1m}",
            "needs a load entry",
        ),
        (
            "  - {name: a, maxNodes: 3, from: 5m}",
            "measured from 5m0s, but the scenario ends at 5m0s",
        ),
        ("  - {name: a, maxNodes: 3, from: soon}", "from \"soon\""),
    ] {
        let (_dir, s) = scenario_dir(
            &format!(
                "apiVersion: kscale.io/v1alpha1\nkind: Scenario\nmetadata: {{name: s}}\nspec:\n  duration: 5m\n  nodes: [{{name: n, instanceType: m5.large, count: 1}}]\n  slos:\n{slos}\n"
            ),
            &[],
        );
        let out = kscale().arg("validate").arg(&s).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{slos}: {err}");
        assert!(err.contains(expected), "{slos}: {err}");
        assert!(err.contains("spec.slos["), "{err}");
        // The line is the failing entry's: the last one here (`slos:` is line 7).
        let line = 7 + slos.lines().count();
        assert!(
            err.contains(&format!("scenario.yaml:{line}:")),
            "{slos}: {err}"
        );
    }
}

#[test]
fn the_committed_schema_is_what_kscale_schema_prints() {
    let out = kscale().arg("schema").output().unwrap();
    assert!(out.status.success());
    let committed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema/scenario.schema.json"),
    )
    .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        committed,
        "schema/scenario.schema.json is stale: run `kscale schema > schema/scenario.schema.json`"
    );
    let schema: serde_json::Value = serde_json::from_str(&committed).unwrap();
    // Typos are schema errors too: no object of the format takes unknown keys.
    assert_eq!(schema["additionalProperties"], false);
    let spec = &schema["$defs"]["ScenarioSpec"];
    assert_eq!(spec["additionalProperties"], false);
    for field in [
        "duration",
        "nodes",
        "manifests",
        "load",
        "steps",
        "slos",
        "cloud",
    ] {
        assert!(spec["properties"].get(field).is_some(), "{field}");
    }
}

#[test]
fn completions_are_printed_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let out = kscale().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("snapshot") && text.contains("headroom"),
            "{shell}"
        );
    }
    let out = kscale().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn seed_overrides_the_scenarios_seed() {
    let dir = tempfile::tempdir().unwrap();
    let s = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/quickstart/scenario.yaml");
    let run = |extra: &[&str], out: &str| {
        let o = kscale()
            .args(["run", "-q"])
            .args(extra)
            .arg("--out")
            .arg(dir.path().join(out))
            .arg(&s)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let summary: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join(out).join("summary.json")).unwrap(),
        )
        .unwrap();
        let events = std::fs::read_to_string(dir.path().join(out).join("events.jsonl")).unwrap();
        (summary["seed"].clone(), events)
    };
    let (seed7, events7) = run(&[], "a");
    let (seed9, events9) = run(&["--seed", "9"], "b");
    let (seed9b, events9b) = run(&["--seed", "9"], "c");
    assert_eq!((seed7, seed9), (serde_json::json!(7), serde_json::json!(9)));
    assert_eq!((seed9b, &events9b), (serde_json::json!(9), &events9));
    assert_ne!(
        events7, events9,
        "another seed, other pod names and timings"
    );
}

#[test]
fn a_run_exports_as_openmetrics() {
    let dir = tempfile::tempdir().unwrap();
    let s = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/seed002/scenario.yaml");
    let run = kscale()
        .args(["run", "-q", "--out"])
        .arg(dir.path().join("r"))
        .arg(&s)
        .output()
        .unwrap();
    assert!(run.status.success());
    let out = kscale()
        .args(["export", "openmetrics"])
        .arg(dir.path().join("r"))
        .args(["--start", "2026-12-01T00:00:00Z"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let om = String::from_utf8(out.stdout).unwrap();
    assert!(om.ends_with("# EOF\n"));
    // One sample per non-empty cell of timeseries.csv, none lost.
    let csv = std::fs::read_to_string(dir.path().join("r/timeseries.csv")).unwrap();
    let cells: usize = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').skip(1).filter(|c| !c.is_empty()).count())
        .sum();
    let samples = om.lines().filter(|l| !l.starts_with('#')).count();
    assert_eq!(samples, cells);
    // t = 0 at --start; the HPA's replicas as a labelled gauge.
    assert!(
        om.contains("kscale_nodes 2 1796083200.000\n"),
        "{}",
        &om[..400.min(om.len())]
    );
    assert!(om.contains("kscale_hpa_desired{namespace=\"default\",name=\"web\"} 2 "));
    // Every family's samples are together (OpenMetrics requires it).
    let mut seen = std::collections::HashSet::new();
    let mut last = "";
    for l in om.lines().filter(|l| !l.starts_with('#')) {
        let family = l.split(['{', ' ']).next().unwrap();
        if family != last {
            assert!(seen.insert(family), "{family} split");
            last = family;
        }
    }
    let bad = kscale()
        .args(["export", "openmetrics"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a run directory"));
}

#[test]
fn the_outcome_leads_the_terminal_summary_and_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let run = |scenario: &str, out: &str| {
        let o = kscale()
            .arg("run")
            .arg(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../../examples")
                    .join(scenario),
            )
            .arg("--out")
            .arg(dir.path().join(out))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let html = std::fs::read_to_string(dir.path().join(out).join("report.html")).unwrap();
        (String::from_utf8(o.stdout).unwrap(), html)
    };
    let (stdout, html) = run("seed001/domino.yaml", "domino");
    let first = stdout.lines().next().unwrap();
    assert_eq!(
        first,
        "seed001-domino: FAIL: 47.8% of requests lost, 594 s of SLO violation, 25 OOM kills"
    );
    assert!(
        stdout.contains("requests lost              229,820 of 480,480 (47.8%)"),
        "{stdout}"
    );
    // Integers print as integers, pod phases as words.
    assert!(
        stdout.contains("nodes (final / max)        4 / 4\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("pods at end                Running 10\n"),
        "{stdout}"
    );
    assert!(html.contains("<div class=\"verdict fail\">FAIL: 47.8% of requests lost"));
    let verdict_at = html.find("id=\"verdict\"").unwrap();
    assert!(verdict_at < html.find("id=\"summary\"").unwrap());
    let (stdout, html) = run("ci/scenario.yaml", "ci");
    assert!(
        stdout.starts_with("shop-gate: OK: all 6 SLOs met ("),
        "{stdout}"
    );
    assert!(html.contains("<div class=\"verdict ok\">"));
    // A closed pipe ends the output quietly.
    let mut child = kscale()
        .args(["completions", "bash"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn compare_puts_runs_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let ex = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/seed001");
    for (s, out) in [("domino.yaml", "a"), ("fix-lower-target.yaml", "b")] {
        let o = kscale()
            .args(["run", "-q", "--out"])
            .arg(dir.path().join(out))
            .arg(ex.join(s))
            .output()
            .unwrap();
        assert!(o.status.success());
    }
    let o = kscale()
        .arg("compare")
        .arg(dir.path().join("a"))
        .arg(dir.path().join("b"))
        .arg("--out")
        .arg(dir.path().join("c"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].contains("seed001-domino") && lines[0].contains("seed001-fix-lower-target"));
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("OOM kills") && l.contains("25") && l.ends_with('0')),
        "{stdout}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("c/compare.json")).unwrap())
            .unwrap();
    assert_eq!(report["runs"][0]["ok"], false);
    assert_eq!(report["runs"][1]["name"], "seed001-fix-lower-target");
    let html = std::fs::read_to_string(dir.path().join("c/report.html")).unwrap();
    assert!(html.contains("seed001-domino: load/default/deployment/api/served_rps"));
    // Bad input: one run, or a directory that is not a run.
    let one = kscale()
        .arg("compare")
        .arg(dir.path().join("a"))
        .output()
        .unwrap();
    assert_eq!(one.status.code(), Some(2));
    let bad = kscale()
        .arg("compare")
        .arg(dir.path().join("a"))
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a kscale run directory"));
}

#[test]
fn set_changes_scenario_and_manifest_fields_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let s = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/seed002/scenario.yaml");
    let run = |sets: &[&str]| {
        let mut c = kscale();
        c.args(["run", "-q", "--out"])
            .arg(dir.path().join("r"))
            .arg(&s);
        for x in sets {
            c.args(["--set", x]);
        }
        let o = c.output().unwrap();
        let summary = std::fs::read_to_string(dir.path().join("r/summary.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).to_string(),
            summary,
        )
    };
    let (code, err, summary) = run(&[
        "spec.duration=9m30s",
        "spec.load[0].requestsPerSecond.constant=40",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let summary = summary.unwrap();
    assert_eq!(summary["durationSeconds"], 570.0);
    // One-second ticks from t = 0 to the end, both included.
    assert_eq!(summary["loads"][0]["offeredRequests"], 40.0 * 571.0);
    // A manifest field: three replicas from the start.
    let (code, err, summary) = run(&[
        "deployment/web:spec.replicas=3",
        "spec.steps=[]",
        "spec.duration=1m",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(summary.unwrap()["pods"]["created"], 3);
    for (set, want) in [
        (
            "deployment/nope:spec.replicas=3",
            "no manifest of the scenario defines it",
        ),
        ("spec.durationn=3m", "unknown field `durationn`"),
        ("spec.duration=soon", "invalid duration \"soon\""),
        ("duration=3m", "starts with spec. or metadata."),
        ("widget/x:spec.a=1", "unknown kind \"widget\""),
        ("spec.duration", "expected PATH=VALUE"),
    ] {
        let (code, err, _) = run(&[set]);
        assert_eq!(code, Some(2), "{set}: {err}");
        assert!(err.contains(want), "{set}: {err}");
    }
}

#[test]
fn bench_scenario_takes_nodes_as_an_alias_of_peak_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let write = |flag: &str, out: &str| {
        let o = kscale()
            .args(["bench-scenario", flag, "40", "--duration", "1h", "--out"])
            .arg(dir.path().join(out))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::read_to_string(dir.path().join(out).join("manifests.yaml")).unwrap()
    };
    assert_eq!(write("--nodes", "a"), write("--peak-nodes", "b"));
}

/// `bench-scenario --autoscaler cluster-autoscaler` writes the same day with a Cluster
/// Autoscaler and its node group instead of the NodePool; an unknown autoscaler is refused.
#[test]
fn bench_scenario_writes_the_cluster_autoscaler_day() {
    let dir = tempfile::tempdir().unwrap();
    let write = |extra: &[&str], out: &str| {
        let o = kscale()
            .args(["bench-scenario", "--nodes", "40", "--duration", "1h"])
            .args(extra)
            .arg("--out")
            .arg(dir.path().join(out))
            .output()
            .unwrap();
        let read = |f: &str| std::fs::read_to_string(dir.path().join(out).join(f)).ok();
        (o, read("scenario.yaml"), read("manifests.yaml"))
    };
    let (o, scenario, manifests) = write(&["--autoscaler", "cluster-autoscaler"], "ca");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (scenario, manifests) = (scenario.unwrap(), manifests.unwrap());
    assert!(
        scenario
            .contains("nodeGroups: [{name: workers, instanceType: m5.4xlarge, min: 0, max: 80}]"),
        "{scenario}"
    );
    assert!(manifests.contains("--nodes=0:80:workers"), "{manifests}");
    assert!(!manifests.contains("NodePool"));
    let (_, _, karpenter) = write(&[], "k");
    let karpenter = karpenter.unwrap();
    // Everything but the node autoscaler is the Karpenter day's.
    let tail = |m: &str| m.split_once("---\n").unwrap().1.to_string();
    assert_eq!(tail(&manifests), tail(&karpenter));
    let (o, scenario, _) = write(&["--autoscaler", "keda"], "bad");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("possible values: karpenter, cluster-autoscaler")
    );
    assert!(scenario.is_none());
}

/// Ctrl-C while a run writes its outputs: the staging directory is removed by the process
/// itself (exit 130), the target directory is not created.
#[test]
fn ctrl_c_while_writing_leaves_no_staging_directory() {
    let dir = tempfile::tempdir().unwrap();
    let bench = dir.path().join("bench");
    let o = kscale()
        .args([
            "bench-scenario",
            "--nodes",
            "100",
            "--duration",
            "2h",
            "--out",
        ])
        .arg(&bench)
        .output()
        .unwrap();
    assert!(o.status.success());
    let runs = dir.path().join("runs");
    std::fs::create_dir_all(&runs).unwrap();
    let staging = |runs: &Path| {
        std::fs::read_dir(runs)
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(".out.partial-"))
    };
    for _attempt in 0..3 {
        let mut child = kscale()
            .arg("run")
            .arg(bench.join("scenario.yaml"))
            .arg("--out")
            .arg(runs.join("out"))
            .arg("--quiet")
            .spawn()
            .unwrap();
        let seen = loop {
            if staging(&runs) {
                break true;
            }
            if child.try_wait().unwrap().is_some() {
                break false;
            }
            std::thread::sleep(std::time::Duration::from_micros(300));
        };
        if !seen {
            // The write was over before the poll saw it: try again.
            let _ = std::fs::remove_dir_all(runs.join("out"));
            continue;
        }
        let sent = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = child.wait().unwrap();
        if status.success() {
            // Finished between the poll and the signal: try again.
            let _ = std::fs::remove_dir_all(runs.join("out"));
            continue;
        }
        assert_eq!(status.code(), Some(130), "{status:?}");
        assert!(!staging(&runs), "the staging directory was left behind");
        assert!(!runs.join("out").exists());
        return;
    }
    panic!("the write phase was never caught in three runs");
}

/// `bench-scenario` writes only scenarios kscale runs: a zero duration is refused, nothing
/// written.
#[test]
fn bench_scenario_refuses_what_run_would_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b");
    let o = kscale()
        .args(["bench-scenario", "--duration", "0", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("duration must be greater than zero"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!out.exists());
}

/// `bench-curve` runs each size as a child `run --timings`, prints one row per size, and
/// writes the curve into the `--doc` file once (a second run replaces it); its decisions
/// are the run's counted decisions.
#[test]
fn bench_curve_measures_each_size_and_replaces_its_doc_section() {
    let dir = tempfile::tempdir().unwrap();
    let doc = dir.path().join("performance.md");
    std::fs::write(&doc, "# Performance\n\nKept.\n").unwrap();
    let work = dir.path().join("work");
    let curve = |work: &Path| {
        let o = kscale()
            .args([
                "bench-curve",
                "--nodes",
                "12,6",
                "--duration",
                "30m",
                "--doc",
            ])
            .arg(&doc)
            .arg("--work")
            .arg(work)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let printed = curve(&work);
    let rows: Vec<&str> = printed
        .lines()
        .filter(|l| l.starts_with("| 6 |") || l.starts_with("| 12 |"))
        .collect();
    assert_eq!(rows.len(), 2, "{printed}");
    assert!(rows[0].starts_with("| 6 |"), "smallest first: {printed}");
    // The 12-node row's decisions are the run's counters summed.
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(work.join("nodes-12/out/summary.json")).unwrap(),
    )
    .unwrap();
    let counted: u64 = [
        "podsScheduled",
        "failedScheduling",
        "hpaSyncs",
        "workloadSyncs",
        "autoscalerLoops",
    ]
    .iter()
    .filter_map(|c| summary["counters"][c].as_u64())
    .sum();
    assert!(summary["counters"]["hpaSyncs"].as_u64().unwrap() > 0);
    let cells: Vec<&str> = rows[1].split('|').map(str::trim).collect();
    assert_eq!(
        cells[5].replace(',', ""),
        counted.to_string(),
        "{}",
        rows[1]
    );
    let timings: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(work.join("nodes-12/timings.json")).unwrap())
            .unwrap();
    assert!(timings["wallSeconds"].as_f64().unwrap() > 0.0);
    assert!(timings["peakMemoryBytes"].as_u64().unwrap() > 1 << 20);
    let text = std::fs::read_to_string(&doc).unwrap();
    assert!(text.starts_with("# Performance\n\nKept.\n"), "{text}");
    assert!(text.contains(&printed), "{text}");
    // Again (into a temporary work folder, removed): one curve in the file.
    let again = dir.path().join("again");
    curve(&again);
    let text = std::fs::read_to_string(&doc).unwrap();
    assert_eq!(text.matches("## Scaling curve").count(), 1, "{text}");
    assert_eq!(text.matches("<!-- kscale bench-curve: end -->").count(), 1);
}

#[test]
fn bench_curve_refuses_bad_sizes_and_durations() {
    for (args, want) in [
        (["--nodes", "0,10", "--duration", "1h"], "--nodes"),
        (
            ["--nodes", "10", "--duration", "soon"],
            "--duration \"soon\"",
        ),
    ] {
        let o = kscale().arg("bench-curve").args(args).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

/// `--compress always` writes the data files as `.gz`, which the report links and every
/// command that reads a run directory reads as it reads plain files; a later run replaces it.
#[test]
fn compressed_outputs_read_as_plain_ones() {
    let dir = tempfile::tempdir().unwrap();
    let s = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/seed002/scenario.yaml");
    let run = |extra: &[&str], out: &str| {
        let o = kscale()
            .args(["run", "-q", "--out"])
            .arg(dir.path().join(out))
            .args(extra)
            .arg(&s)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    run(&[], "plain");
    run(&["--compress", "always"], "gz");
    let (plain, gz) = (dir.path().join("plain"), dir.path().join("gz"));
    for name in ["events.jsonl", "transcript.jsonl", "timeseries.csv"] {
        assert!(plain.join(name).is_file(), "a small run keeps {name} plain");
        assert!(!gz.join(name).exists());
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(
                std::fs::File::open(gz.join(format!("{name}.gz"))).unwrap(),
            ),
            &mut text,
        )
        .unwrap();
        assert_eq!(
            text,
            std::fs::read_to_string(plain.join(name)).unwrap(),
            "{name}"
        );
    }
    let html = std::fs::read_to_string(gz.join("report.html")).unwrap();
    assert!(html.contains("<a href=\"events.jsonl.gz\">events.jsonl.gz</a>"));
    assert!(html.contains("<a href=\"timeseries.csv.gz\">timeseries.csv.gz</a>"));
    // diff and the exports read the compressed run as the plain one.
    let d = kscale()
        .arg("diff")
        .args([&plain, &gz])
        .arg("--out")
        .arg(dir.path().join("diff"))
        .output()
        .unwrap();
    assert!(d.status.success(), "{}", String::from_utf8_lossy(&d.stderr));
    let diff: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("diff/diff.json")).unwrap())
            .unwrap();
    assert_eq!(diff["equal"], true, "{diff}");
    let om = |run: &Path| {
        let o = kscale()
            .args(["export", "openmetrics"])
            .arg(run)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        o.stdout
    };
    assert_eq!(om(&gz), om(&plain));
    let p = kscale()
        .args(["export", "parquet"])
        .arg(&gz)
        .output()
        .unwrap();
    assert!(p.status.success(), "{}", String::from_utf8_lossy(&p.stderr));
    assert!(gz.join("timeseries.parquet").is_file());
    // A plain run replaces the compressed one (and its parquet export) as an earlier run.
    run(&[], "gz");
    let mut names: Vec<String> = std::fs::read_dir(&gz)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            ".kscale-run",
            "events.jsonl",
            "report.html",
            "summary.json",
            "timeseries.csv",
            "transcript.jsonl"
        ]
    );
}
