//! End-to-end tests of `kscale diff`: hand-made run directories compared with exit codes 0
//! (equal within the tolerance), 1 (different, the difference named) and 2 (bad input, the file
//! and line named); and two twin runs of the quickstart, which are equal.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

fn kscale() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kscale"))
}

/// The files of a hand-made run directory.
#[derive(Clone)]
struct Run {
    events: Vec<Value>,
    steps: Vec<Value>,
    csv: String,
}

fn event(time: f64, reason: &str, kind: &str, name: &str, message: &str) -> Value {
    json!({
        "time": time,
        "type": "Normal",
        "reason": reason,
        "involvedObject": {"kind": kind, "namespace": "default", "name": name},
        "message": message,
        "source": "test",
    })
}

fn step(at: f64, command: &str, exit_code: i32, stdout: &str) -> Value {
    json!({"at": at, "command": command, "exitCode": exit_code, "stdout": stdout, "stderr": ""})
}

/// A small run: an HPA rescale of web at 60 s, its ReplicaSet scaling, a preemption and two
/// kubectl steps; the time series follows.
fn base() -> Run {
    Run {
        events: vec![
            event(
                0.05,
                "ScalingReplicaSet",
                "Deployment",
                "web",
                "Scaled up replica set web-6bff4dcddd from 0 to 2",
            ),
            event(
                60.0,
                "SuccessfulRescale",
                "HorizontalPodAutoscaler",
                "web",
                "New size: 3; reason: cpu resource utilization (percentage of request) above target",
            ),
            event(
                60.05,
                "ScalingReplicaSet",
                "Deployment",
                "web",
                "Scaled up replica set web-6bff4dcddd from 2 to 3",
            ),
            event(
                61.0,
                "Preempted",
                "Pod",
                "placeholder-568968fd89-klhht",
                "Preempted by pod b1b1a9ea-d42f-4081-985f-8aad961f4b4a on node worker-1",
            ),
        ],
        steps: vec![
            step(
                30.0,
                "kubectl get pods -o wide",
                0,
                "NAME                   READY   STATUS    RESTARTS   AGE   IP         NODE\n\
                 web-6bff4dcddd-qjtzd   1/1     Running   0          30s   10.1.0.6   worker-2\n",
            ),
            step(90.0, "kubectl scale deployment web --replicas=4", 0, "deployment.apps/web scaled\n"),
        ],
        csv: "time_s,nodes,pods_pending,deploy/default/web/desired,deploy/default/web/ready,hpa/default/web/desired,cost_usd\n\
              0,2,0,2,0,2,0\n\
              30,2,0,2,2,2,0.1\n\
              60,2,1,3,2,3,0.2\n\
              90,2,0,4,3,3,0.3\n"
            .into(),
    }
}

/// Writes `run` as a run directory `name` under `root`.
fn write(root: &Path, name: &str, run: &Run) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let lines = |v: &[Value]| v.iter().map(|x| format!("{x}\n")).collect::<String>();
    std::fs::write(
        dir.join("summary.json"),
        json!({"scenario": "t", "durationSeconds": 90}).to_string(),
    )
    .unwrap();
    std::fs::write(dir.join("events.jsonl"), lines(&run.events)).unwrap();
    std::fs::write(dir.join("transcript.jsonl"), lines(&run.steps)).unwrap();
    std::fs::write(dir.join("timeseries.csv"), &run.csv).unwrap();
    std::fs::write(dir.join("report.html"), "<html></html>").unwrap();
    dir
}

/// Runs `kscale diff A B --out OUT extra...`; returns the output and diff.json (Null if absent).
fn diff(root: &Path, a: &Run, b: &Run, extra: &[&str]) -> (Output, Value) {
    let (pa, pb) = (write(root, "a", a), write(root, "b", b));
    let out = root.join("out");
    let o = kscale()
        .arg("diff")
        .arg(&pa)
        .arg(&pb)
        .arg("--out")
        .arg(&out)
        .args(extra)
        .output()
        .unwrap();
    let json = std::fs::read_to_string(out.join("diff.json"))
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(Value::Null);
    (o, json)
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn identical_runs_are_equal() {
    let t = tempfile::tempdir().unwrap();
    let (o, j) = diff(t.path(), &base(), &base(), &[]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert_eq!(j["equal"], true);
    assert_eq!(j["timeTolerance"], "15s");
    assert_eq!(j["timeToleranceSeconds"], 15.0);
    assert_eq!(j["categories"]["rescales"]["counts"]["matched"], 3);
    assert_eq!(j["categories"]["preemptions"]["counts"]["matched"], 1);
    assert_eq!(j["categories"]["steps"]["counts"]["matched"], 2);
    assert_eq!(j["categories"]["timelines"]["counts"]["matched"], 5);
    assert!(out.contains("equal within 15s"), "{out}");
    let html = std::fs::read_to_string(t.path().join("out/report.html")).unwrap();
    assert!(html.contains("<svg"), "a replica chart");
    for external in ["<script", "<link", " src=", "@import"] {
        assert!(!html.contains(external), "{external}");
    }
}

#[test]
fn generated_names_ages_and_ips_do_not_differ() {
    let t = tempfile::tempdir().unwrap();
    let mut b = base();
    b.events[3]["involvedObject"]["name"] = json!("placeholder-7d4b9c8f5-x2x4z");
    b.events[2]["message"] = json!("Scaled up replica set web-7d4b9c8f5 to 3");
    b.steps[0]["stdout"] = json!(
        "NAME                  READY   STATUS    RESTARTS   AGE     IP            NODE\n\
         web-7d4b9c8f5-zzzzz   1/1     Running   0          5m30s   10.244.0.17   worker-2\n"
    );
    let (o, j) = diff(t.path(), &base(), &b, &[]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert_eq!(j["equal"], true);
}

#[test]
fn a_shift_within_the_tolerance_is_equal_and_reported() {
    let t = tempfile::tempdir().unwrap();
    let mut b = base();
    b.events[1]["time"] = json!(65.0);
    let (o, j) = diff(t.path(), &base(), &b, &[]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    let m = &j["categories"]["rescales"]["matched"];
    let hpa = m
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["reason"] == "SuccessfulRescale")
        .unwrap();
    assert_eq!(hpa["offset"], 5.0);
    assert_eq!(hpa["key"], "HorizontalPodAutoscaler default/web");
    assert_eq!(hpa["value"], "3");
    assert!(out.contains("5s"), "{out}");
}

#[test]
fn a_shift_beyond_the_tolerance_differs() {
    let t = tempfile::tempdir().unwrap();
    let mut b = base();
    b.events[1]["time"] = json!(65.0);
    let (o, j) = diff(t.path(), &base(), &b, &["--time-tolerance", "2s"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert_eq!(j["equal"], false);
    let r = &j["categories"]["rescales"];
    assert_eq!(r["counts"]["onlyInA"], 1);
    assert_eq!(r["counts"]["onlyInB"], 1);
    assert_eq!(r["onlyInA"][0]["time"], 60.0);
    assert_eq!(r["onlyInB"][0]["time"], 65.0);
    assert!(
        out.contains("only in A") && out.contains("only in B"),
        "{out}"
    );
}

#[test]
fn a_missing_decision_is_named() {
    let t = tempfile::tempdir().unwrap();
    let mut b = base();
    b.events.remove(3);
    let (o, j) = diff(t.path(), &base(), &b, &[]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    let p = &j["categories"]["preemptions"];
    assert_eq!(p["onlyInA"][0]["key"], "Pod default/placeholder");
    assert_eq!(
        p["onlyInA"][0]["object"],
        "Pod default/placeholder-568968fd89-klhht"
    );
    assert!(out.contains("Preempted Pod default/placeholder"), "{out}");
    // Also counted by reason.
    assert_eq!(
        j["categories"]["eventsByReason"]["onlyInA"][0]["reason"],
        "Preempted"
    );
}

#[test]
fn value_differences_are_named() {
    let t = tempfile::tempdir().unwrap();
    let mut b = base();
    b.events[1]["message"] = json!("New size: 2; reason: cpu resource utilization");
    b.steps[1]["exitCode"] = json!(1);
    let (o, j) = diff(t.path(), &base(), &b, &[]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    let v = &j["categories"]["rescales"]["valueDifferences"][0];
    assert_eq!(v["key"], "HorizontalPodAutoscaler default/web");
    assert_eq!((&v["valueA"], &v["valueB"]), (&json!("3"), &json!("2")));
    let s = &j["categories"]["steps"]["valueDifferences"][0];
    assert_eq!(s["command"], "kubectl scale deployment web --replicas=4");
    assert_eq!(s["differences"][0]["field"], "exitCode");
    assert!(
        out.contains("3 vs 2") && out.contains("exit code 0 vs 1"),
        "{out}"
    );
}

#[test]
fn timeline_differences_are_reported_per_series() {
    let t = tempfile::tempdir().unwrap();
    let mut b = base();
    // web is ready later and pods_pending stays up; cost (not compared) differs too.
    b.csv = b
        .csv
        .replace("60,2,1,3,2,3,0.2", "60,2,1,3,0,3,9")
        .replace("90,2,0,4,3,3,0.3", "90,2,1,4,0,3,9");
    let (o, j) = diff(t.path(), &base(), &b, &["--time-tolerance", "0s"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    let tl = &j["categories"]["timelines"];
    let series: Vec<&str> = tl["valueDifferences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["series"].as_str().unwrap())
        .collect();
    assert_eq!(series, ["deploy/default/web/ready", "pods_pending"]);
    let ready = &tl["valueDifferences"][0];
    assert_eq!(ready["firstDifferingTime"], 60.0);
    assert_eq!(ready["maxAbsDifference"], 3.0);
}

#[test]
fn not_a_run_directory_is_bad_input() {
    let t = tempfile::tempdir().unwrap();
    let a = write(t.path(), "a", &base());
    let b = write(t.path(), "b", &base());
    std::fs::remove_file(b.join("transcript.jsonl")).unwrap();
    let o = kscale()
        .args(["diff"])
        .arg(&a)
        .arg(&b)
        .arg("--out")
        .arg(t.path().join("out"))
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}{err}");
    assert!(
        err.contains(&format!(
            "{}: not a kscale run directory: transcript.jsonl is missing",
            b.display()
        )),
        "{err}"
    );
    let o = kscale()
        .arg("diff")
        .arg(&a)
        .arg(t.path().join("nope"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("nope: not a kscale run directory"));
}

#[test]
fn a_malformed_events_line_is_named() {
    let t = tempfile::tempdir().unwrap();
    let b = write(t.path(), "b", &base());
    let mut lines: Vec<String> = std::fs::read_to_string(b.join("events.jsonl"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    lines[2] = "{\"time\": 60.05, \"reason\": ".into();
    std::fs::write(b.join("events.jsonl"), lines.join("\n")).unwrap();
    let a = write(t.path(), "a", &base());
    let o = kscale().arg("diff").arg(&a).arg(&b).output().unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}{err}");
    assert!(
        err.contains(&format!("{} line 3: ", b.join("events.jsonl").display())),
        "{err}"
    );
}

#[test]
fn a_bad_tolerance_names_the_flag() {
    let t = tempfile::tempdir().unwrap();
    let a = write(t.path(), "a", &base());
    let o = kscale()
        .arg("diff")
        .arg(&a)
        .arg(&a)
        .args(["--time-tolerance", "soon"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("--time-tolerance"), "{}", text(&o).1);
}

#[test]
fn the_default_output_directory_names_both_runs() {
    let t = tempfile::tempdir().unwrap();
    let a = write(t.path(), "before", &base());
    let b = write(t.path(), "after", &base());
    let o = kscale()
        .current_dir(t.path())
        .arg("diff")
        .arg(&a)
        .arg(&b)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert!(
        t.path()
            .join("kscale-out/diff-before-vs-after/diff.json")
            .is_file()
    );
}

#[test]
fn two_twin_runs_of_the_quickstart_are_equal() {
    let t = tempfile::tempdir().unwrap();
    let scenario =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/quickstart/scenario.yaml");
    for name in ["one", "two"] {
        let o = kscale()
            .arg("run")
            .arg(&scenario)
            .arg("--out")
            .arg(t.path().join(name))
            .arg("--quiet")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    }
    let o = kscale()
        .arg("diff")
        .arg(t.path().join("one"))
        .arg(t.path().join("two"))
        .arg("--out")
        .arg(t.path().join("out"))
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    let j: Value =
        serde_json::from_str(&std::fs::read_to_string(t.path().join("out/diff.json")).unwrap())
            .unwrap();
    assert_eq!(j["equal"], true);
    assert!(j["categories"]["rescales"]["counts"]["matched"].as_u64() > Some(0));
    assert!(j["categories"]["preemptions"]["counts"]["matched"].as_u64() > Some(0));
}

#[test]
fn a_one_sample_blip_between_agreeing_samples_is_transient() {
    let t = tempfile::tempdir().unwrap();
    let mut b = base();
    // B's sample at 30 s caught two pods pending for less than a sampling interval.
    b.csv = b.csv.replace("30,2,0,2,2,2,0.1", "30,2,2,2,2,2,0.1");
    let (o, j) = diff(t.path(), &base(), &b, &["--time-tolerance", "0s"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    let tl = &j["categories"]["timelines"];
    assert_eq!(tl["normalised"], 1);
    let pending = tl["matched"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["series"] == "pods_pending")
        .unwrap();
    assert_eq!(pending["transientSamplesB"], json!([30.0]));
    assert!(
        out.contains("normalised") && out.contains("B 2 at t=30s"),
        "{out}"
    );
    // The same blip in the last sample is a difference: nothing after it agrees again.
    let mut last = base();
    last.csv = last.csv.replace("90,2,0,4,3,3,0.3", "90,2,2,4,3,3,0.3");
    let (o, j) = diff(t.path(), &base(), &last, &["--time-tolerance", "0s"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o).0);
    assert_eq!(
        j["categories"]["timelines"]["valueDifferences"][0]["series"],
        "pods_pending"
    );
    // Two differing samples in a row are not transient either.
    let mut two = base();
    two.csv = two
        .csv
        .replace("30,2,0,2,2,2,0.1", "30,2,2,2,2,2,0.1")
        .replace("60,2,1,3,2,3,0.2", "60,2,3,3,2,3,0.2");
    let (o, _) = diff(t.path(), &base(), &two, &["--time-tolerance", "0s"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o).0);
}

#[test]
fn scheduling_retries_count_per_pod() {
    let t = tempfile::tempdir().unwrap();
    let failed = |time: f64, pod: &str| {
        event(
            time,
            "FailedScheduling",
            "Pod",
            pod,
            "0/2 nodes are available: 2 Insufficient cpu.",
        )
    };
    let mut a = base();
    a.events.push(failed(60.0, "web-6bff4dcddd-aaaaa"));
    let mut b = base();
    // The real scheduler retried the same pod twice more.
    for time in [60.0, 61.0, 75.0] {
        b.events.push(failed(time, "web-7d4b9c8f5-bbbbb"));
    }
    let (o, j) = diff(t.path(), &a, &b, &[]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    let m = &j["categories"]["eventsByReason"]["matched"];
    let fs = m
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["reason"] == "FailedScheduling")
        .unwrap();
    assert_eq!(
        (&fs["countA"], &fs["countB"], &fs["objects"]),
        (&json!(1), &json!(3), &json!(1))
    );
    assert!(out.contains("1 vs 3 attempts, 1 objects each"), "{out}");
    // A second pod failing only in B differs.
    b.events.push(failed(80.0, "web-7d4b9c8f5-ccccc"));
    let (o, j) = diff(t.path(), &a, &b, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o).0);
    let v = &j["categories"]["eventsByReason"]["valueDifferences"][0];
    assert_eq!((&v["objectsA"], &v["objectsB"]), (&json!(1), &json!(2)));
}

/// The HPA's metric failures (one per 15 s sync until the pipeline's first sample) and the
/// disruption controller's `NoPods` (one per sync until pods exist) are compared by the
/// objects they name; a reason outside that list with a differing count still differs.
#[test]
fn hpa_metric_failures_and_no_pods_count_per_object() {
    let t = tempfile::tempdir().unwrap();
    let metric = |time: f64| {
        event(
            time,
            "FailedGetResourceMetric",
            "HorizontalPodAutoscaler",
            "web",
            "failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API",
        )
    };
    let no_pods = |time: f64| {
        event(
            time,
            "NoPods",
            "PodDisruptionBudget",
            "web-pdb",
            "No matching pods found",
        )
    };
    let mut a = base();
    a.events.extend([metric(0.0), metric(15.0), no_pods(0.0)]);
    let mut b = base();
    b.events.extend([
        metric(0.0),
        metric(15.0),
        metric(30.0),
        no_pods(0.0),
        no_pods(30.0),
    ]);
    let (o, j) = diff(t.path(), &a, &b, &[]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    let matched = j["categories"]["eventsByReason"]["matched"]
        .as_array()
        .unwrap()
        .clone();
    let of = |reason: &str| {
        matched
            .iter()
            .find(|x| x["reason"] == reason)
            .unwrap_or_else(|| panic!("{reason} not matched: {matched:?}"))
            .clone()
    };
    let (m, n) = (of("FailedGetResourceMetric"), of("NoPods"));
    assert_eq!(
        (&m["countA"], &m["countB"], &m["objects"]),
        (&json!(2), &json!(3), &json!(1))
    );
    assert_eq!(
        (&n["countA"], &n["countB"], &n["objects"]),
        (&json!(1), &json!(2), &json!(1))
    );
    assert!(
        m["normalised"].as_str().unwrap().starts_with("retried"),
        "{m}"
    );
    // The same warning on a second HPA only in B differs.
    let mut c = b.clone();
    c.events.push(event(
        45.0,
        "FailedGetResourceMetric",
        "HorizontalPodAutoscaler",
        "api",
        "failed to get cpu utilization",
    ));
    let (o, j) = diff(t.path(), &a, &c, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o).0);
    let v = &j["categories"]["eventsByReason"]["valueDifferences"][0];
    assert_eq!(
        (&v["reason"], &v["objectsA"], &v["objectsB"]),
        (&json!("FailedGetResourceMetric"), &json!(1), &json!(2))
    );
    // A reason not retried by attempt is counted as it is.
    let back_off = |time: f64| {
        event(
            time,
            "BackOff",
            "Pod",
            "web-6bff4dcddd-aaaaa",
            "Back-off restarting failed container",
        )
    };
    let mut d = a.clone();
    d.events.push(back_off(70.0));
    let mut e = a.clone();
    e.events.extend([back_off(70.0), back_off(90.0)]);
    let (o, j) = diff(t.path(), &d, &e, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o).0);
    let v = &j["categories"]["eventsByReason"]["valueDifferences"][0];
    assert_eq!(
        (&v["reason"], &v["countA"], &v["countB"]),
        (&json!("BackOff"), &json!(1), &json!(2))
    );
}

#[test]
fn measured_values_in_kubectl_outputs_match_within_the_value_tolerance() {
    let t = tempfile::tempdir().unwrap();
    let hpa = |current: &str, replicas: u32| {
        format!(
            "NAME   REFERENCE        TARGETS              MINPODS   MAXPODS   REPLICAS   AGE\n\
             web    Deployment/web   cpu: {current}/50%   1         10        {replicas}          90s\n"
        )
    };
    let with = |current: &str, replicas: u32| {
        let mut r = base();
        r.steps.push(step(
            95.0,
            "kubectl get hpa web",
            0,
            &hpa(current, replicas),
        ));
        r
    };
    let (o, j) = diff(t.path(), &with("107%", 4), &with("106%", 4), &[]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    let s = &j["categories"]["steps"];
    assert_eq!(s["normalised"], 1);
    let m = s["matched"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["command"] == "kubectl get hpa web")
        .unwrap();
    assert_eq!(m["measuredValues"], json!([{"a": "107%", "b": "106%"}]));
    assert!(out.contains("107% vs 106%"), "{out}");
    // Beyond the tolerance, or a bare number (replicas), they differ.
    let (o, _) = diff(
        t.path(),
        &with("107%", 4),
        &with("106%", 4),
        &["--value-tolerance", "0.5%"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o).0);
    let (o, _) = diff(t.path(), &with("107%", 4), &with("107%", 5), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o).0);
    let (o, _) = diff(t.path(), &with("107%", 4), &with("150%", 4), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o).0);
    // A value that is not a percentage is bad input.
    let (o, _) = diff(t.path(), &base(), &base(), &["--value-tolerance", "2"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}{err}");
    assert!(
        err.contains("--value-tolerance: \"2\" is not a percentage"),
        "{err}"
    );
}

#[test]
fn rollout_status_matches_on_its_final_line() {
    let t = tempfile::tempdir().unwrap();
    let with = |out: &str| {
        let mut r = base();
        r.steps
            .push(step(95.0, "kubectl rollout status deployment/web", 0, out));
        r
    };
    let wait = |n: u32| {
        format!(
            "Waiting for deployment \"web\" rollout to finish: {n} out of 3 new replicas have been updated...\n"
        )
    };
    let done = "deployment \"web\" successfully rolled out\n";
    let a = with(&format!("{}{}{}{done}", wait(0), wait(1), wait(2)));
    let b = with(&format!(
        "{}{}{}{}{done}",
        wait(1),
        wait(1),
        wait(2),
        wait(2)
    ));
    let (o, j) = diff(t.path(), &a, &b, &[]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert_eq!(j["categories"]["steps"]["normalised"], 1);
    assert!(out.contains("the final line matches"), "{out}");
    // A different end differs.
    let failed = with(&format!("{}{}", wait(0), wait(1)));
    let (o, _) = diff(t.path(), &a, &failed, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o).0);
}
