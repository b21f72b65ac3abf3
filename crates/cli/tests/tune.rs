//! `kscale tune`: the exhaustive search over knobs of the manifests, its recommendation (the
//! cheapest configuration meeting every SLO), its outputs and its input errors.

mod common;

use std::path::Path;

use common::{kscale, text};
use serde_json::{Value, json};

/// A web Deployment under an HPA (2–10 replicas at 60% CPU) on 2 m5.large nodes, plus a node
/// group of m5.large the Cluster Autoscaler grows: load rises to 550 req/s (5.5 cores) at 6m.
const MANIFESTS: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: web:1
        resources: {requests: {cpu: 500m, memory: 256Mi}, limits: {cpu: "1"}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 10
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 60}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: cluster-autoscaler, namespace: kube-system}
spec:
  replicas: 1
  selector: {matchLabels: {app: cluster-autoscaler}}
  template:
    metadata: {labels: {app: cluster-autoscaler}}
    spec:
      priorityClassName: system-cluster-critical
      containers:
      - name: cluster-autoscaler
        image: registry.k8s.io/autoscaling/cluster-autoscaler:v1.32.0
        command: [./cluster-autoscaler, --cloud-provider=aws, "--nodes=0:4:workers"]
        resources: {requests: {cpu: 100m, memory: 300Mi}}
"#;

const SCENARIO: &str = r#"apiVersion: kscale.io/v1alpha1
kind: Scenario
metadata: {name: tune-test}
spec:
  duration: 12m
  seed: 3
  nodes:
    - {name: base, instanceType: m5.large, count: 2}
  cloud:
    provider: aws
    region: us-east-1
    nodeGroups:
      - {name: workers, instanceType: m5.large, min: 0, max: 4}
  manifests: [manifests.yaml]
  load:
    - target: deployment/web
      requestsPerSecond: {steps: [{at: 0s, value: 40}, {at: 2m, value: 120}, {at: 4m, value: 200}, {at: 6m, value: 550}]}
      cpuPerRequest: 10m
      startupTime: 5s
      queueLimit: 100
  slos:
    - {name: latency, target: deployment/web, latencyP99: 500ms}
    - {name: budget, costPerHour: 0.27}
"#;

/// maxReplicas × averageUtilization: the cheap caps fail on latency, the most generous
/// settings on the budget.
const TUNING: &str = r#"apiVersion: kscale.io/v1alpha1
kind: Tuning
metadata: {name: web}
spec:
  knobs:
    - {target: horizontalpodautoscaler/web, path: spec.maxReplicas, values: [4, 6, 8, 10]}
    - {target: default/hpa/web, path: spec.metrics[0].resource.target.averageUtilization, range: {from: 50, to: 80, step: 30}}
"#;

/// Writes the scenario (with `scenario` as its text) and `tuning` into a temporary directory.
fn setup(scenario: &str, tuning: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("manifests.yaml"), MANIFESTS).unwrap();
    std::fs::write(dir.path().join("scenario.yaml"), scenario).unwrap();
    std::fs::write(dir.path().join("tuning.yaml"), tuning).unwrap();
    dir
}

fn tune(dir: &Path, out: &str) -> std::process::Output {
    kscale()
        .arg("tune")
        .arg(dir.join("scenario.yaml"))
        .arg("--tuning")
        .arg(dir.join("tuning.yaml"))
        .arg("--out")
        .arg(dir.join(out))
        .output()
        .unwrap()
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn recommends_the_cheapest_configuration_that_meets_every_slo() {
    let dir = setup(SCENARIO, TUNING);
    let out = tune(dir.path(), "out");
    let log = text(&out);
    assert_eq!(out.status.code(), Some(0), "{log}");
    // The manifests as written and the recommendation, run in full and compared.
    for run in ["original", "recommended"] {
        let summary = read_json(&dir.path().join("out/runs").join(run).join("summary.json"));
        assert!(summary["costUsd"].as_f64().is_some(), "{run}: {summary}");
    }
    let compare = std::fs::read_to_string(dir.path().join("out/compare/report.html")).unwrap();
    assert!(compare.contains("original") && compare.contains("recommended"));
    assert!(log.contains("side by side, the manifests as written and the recommendation"));
    let doc = read_json(&dir.path().join("out/tune.json"));
    let trials = doc["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 8, "{doc}");
    for (i, t) in trials.iter().enumerate() {
        assert_eq!(t["index"], i, "ordered by configuration index");
        let runs = t["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(t["pass"], runs[0]["pass"]);
        assert_eq!(t["pass"], t["failedSlos"].as_array().unwrap().is_empty());
    }
    // The last knob varies fastest.
    assert_eq!(trials[0]["values"], serde_json::json!([4, 50]));
    assert_eq!(trials[1]["values"], serde_json::json!([4, 80]));
    assert_eq!(trials[7]["values"], serde_json::json!([10, 80]));
    // The expected recommendation, from the trials: the lowest cost among the passing ones
    // (ties: fewest violation seconds, then lowest index).
    let cost = |t: &Value| t["costUsd"].as_f64().unwrap();
    let viol = |t: &Value| t["violationSeconds"].as_f64().unwrap();
    let best = trials
        .iter()
        .filter(|t| t["pass"] == true)
        .min_by(|a, b| {
            cost(a)
                .total_cmp(&cost(b))
                .then(viol(a).total_cmp(&viol(b)))
        })
        .expect("a configuration passes");
    // Cheaper settings exist, and fail.
    assert!(
        trials
            .iter()
            .any(|t| t["pass"] == false && cost(t) < cost(best)),
        "{doc}"
    );
    assert!(trials.iter().any(|t| {
        t["failedSlos"]
            .as_array()
            .unwrap()
            .contains(&"latency".into())
    }));
    assert_eq!(best["values"], serde_json::json!([8, 50]), "{doc}");
    assert_eq!(doc["recommendedIndex"], best["index"]);
    assert_eq!(
        doc["recommended"],
        serde_json::json!([
            {"target": "horizontalpodautoscaler/web", "path": "spec.maxReplicas", "value": 8},
            {"target": "default/hpa/web", "path": "spec.metrics[0].resource.target.averageUtilization", "value": 50},
        ])
    );
    // The Pareto front: every trial on it is undominated, every trial off it dominated.
    let front: Vec<u64> = doc["pareto"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert!(!front.is_empty());
    for t in trials {
        let dominated = trials.iter().any(|o| {
            cost(o) <= cost(t) && viol(o) <= viol(t) && (cost(o) < cost(t) || viol(o) < viol(t))
        });
        assert_eq!(
            front.contains(&t["index"].as_u64().unwrap()),
            !dominated,
            "{t}"
        );
    }
    // The changed object, and the diff.
    let yaml = std::fs::read_to_string(
        dir.path()
            .join("out/recommended/horizontalpodautoscaler-web.yaml"),
    )
    .unwrap();
    assert!(yaml.contains("maxReplicas: 8"), "{yaml}");
    assert!(yaml.contains("averageUtilization: 50"), "{yaml}");
    assert!(yaml.contains("minReplicas: 2"), "{yaml}");
    let diff = std::fs::read_to_string(dir.path().join("out/recommended.diff")).unwrap();
    assert!(
        diff.contains("- spec.maxReplicas: 10\n+ spec.maxReplicas: 8"),
        "{diff}"
    );
    assert!(
        diff.contains("- spec.metrics[0].resource.target.averageUtilization: 60\n+ spec.metrics[0].resource.target.averageUtilization: 50"),
        "{diff}"
    );
    // The table and the recommendation.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("8 configurations x 1 run"), "{stdout}");
    assert!(
        stdout.contains(&format!("recommended: configuration {}", best["index"])),
        "{stdout}"
    );
    assert!(
        stdout.contains("horizontalpodautoscaler/web spec.maxReplicas: 8"),
        "{stdout}"
    );
    let first_row = stdout.lines().nth(2).unwrap();
    assert!(first_row.contains("<- recommended"), "{stdout}");
    // A second run replaces the output directory.
    let again = tune(dir.path(), "out");
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
}

#[test]
fn the_search_is_deterministic() {
    let dir = setup(SCENARIO, TUNING);
    let a = tune(dir.path(), "a");
    let b = tune(dir.path(), "b");
    assert_eq!(a.status.code(), Some(0), "{}", text(&a));
    assert_eq!(b.status.code(), Some(0), "{}", text(&b));
    let read = |d: &str| std::fs::read_to_string(dir.path().join(d).join("tune.json")).unwrap();
    assert_eq!(read("a"), read("b"));
    // The same table and recommendation (the last line names the output directory).
    let table = |o: &std::process::Output| {
        let s = String::from_utf8_lossy(&o.stdout).to_string();
        s.lines()
            .filter(|l| !l.starts_with("output:"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(table(&a), table(&b));
}

#[test]
fn a_knob_that_changes_nothing_exits_2_naming_it() {
    let tuning = r#"apiVersion: kscale.io/v1alpha1
kind: Tuning
metadata: {name: web}
spec:
  knobs:
    - {target: horizontalpodautoscaler/web, path: spec.maxReplicas, values: [4, 10]}
    - {target: deployment/web, path: spec.revisionHistoryLimit, values: [5, 10]}
"#;
    let dir = setup(SCENARIO, tuning);
    let out = tune(dir.path(), "out");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("spec.knobs[1] (deployment/web spec.revisionHistoryLimit) changes nothing: its 2 values gave identical runs"),
        "{err}"
    );
    assert!(!err.contains("spec.knobs[0]"), "{err}");
    assert!(!dir.path().join("out").exists());
}

#[test]
fn nothing_passing_exits_3() {
    let tuning = TUNING.replace("values: [4, 6, 8, 10]", "values: [4, 6]");
    let dir = setup(SCENARIO, &tuning);
    let out = tune(dir.path(), "out");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let doc = read_json(&dir.path().join("out/tune.json"));
    assert_eq!(doc["recommended"], Value::Null);
    assert!(
        doc["trials"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["pass"] == false)
    );
    assert!(!dir.path().join("out/recommended.diff").exists());
    assert!(String::from_utf8_lossy(&out.stdout).contains("no configuration meets every SLO"));
}

#[test]
fn traces_run_every_configuration_again() {
    let tuning = format!("{TUNING}  traces: [heavy.csv]\n");
    let dir = setup(SCENARIO, &tuning);
    std::fs::write(dir.path().join("heavy.csv"), "seconds,rps\n0,40\n120,700\n").unwrap();
    let out = tune(dir.path(), "out");
    let doc = read_json(&dir.path().join("out/tune.json"));
    let trials = doc["trials"].as_array().unwrap();
    for t in trials {
        let runs = t["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 2, "{t}");
        assert_eq!(runs[0]["trace"], Value::Null);
        assert_eq!(runs[1]["trace"], "heavy.csv");
        let all = runs.iter().all(|r| r["pass"] == true);
        assert_eq!(t["pass"], all, "{t}");
    }
    // 700 req/s from 2m on is heavier than the scenario's load: (8, 50) no longer passes.
    assert_eq!(trials[4]["values"], serde_json::json!([8, 50]));
    assert_eq!(trials[4]["runs"][0]["pass"], true);
    assert_eq!(trials[4]["runs"][1]["pass"], false, "{}", trials[4]);
    let code = out.status.code();
    match doc["recommendedIndex"].as_u64() {
        Some(i) => {
            assert_eq!(code, Some(0));
            assert_eq!(trials[i as usize]["pass"], true);
        }
        None => assert_eq!(code, Some(3), "{}", text(&out)),
    }
}

#[test]
fn bad_input_exits_2_naming_the_field() {
    let knob = |k: &str| {
        format!(
            "apiVersion: kscale.io/v1alpha1\nkind: Tuning\nmetadata: {{name: web}}\nspec:\n  knobs:\n    - {k}\n"
        )
    };
    let with_baseline = |b: &str| {
        format!(
            "{}  baselines:\n    - {b}\n",
            knob("{target: hpa/web, path: spec.maxReplicas, values: [4]}")
        )
    };
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            knob("{target: hpa/web, path: spec.maxReplicas, values: [4], colour: red}"),
            vec!["tuning.yaml:6", "colour"],
        ),
        (
            format!(
                "{}  extra: 1\n",
                knob("{target: hpa/web, path: spec.maxReplicas, values: [4]}")
            ),
            vec!["tuning.yaml:7", "extra"],
        ),
        (
            knob(
                "{target: hpa/web, path: spec.maxReplicas, values: [4], range: {from: 1, to: 2, step: 1}}",
            ),
            vec!["tuning.yaml:6", "spec.knobs[0]", "not both"],
        ),
        (
            knob("{target: hpa/web, path: spec.maxReplicas}"),
            vec!["tuning.yaml:6", "spec.knobs[0]", "values"],
        ),
        (
            knob("{target: hpa/web, path: spec.maxReplicas, range: {from: 1, to: 4, step: 0}}"),
            vec!["spec.knobs[0].range", "step 0 must be greater than 0"],
        ),
        (
            knob("{target: hpa/web, path: spec.maxReplicas, range: {from: 5, to: 4, step: 1}}"),
            vec!["spec.knobs[0].range", "from 5 is greater than to 4"],
        ),
        (
            knob("{target: web, path: spec.maxReplicas, values: [4]}"),
            vec!["spec.knobs[0].target", "kind/name or namespace/kind/name"],
        ),
        (
            knob("{target: widget/web, path: spec.maxReplicas, values: [4]}"),
            vec!["spec.knobs[0].target", "unknown kind"],
        ),
        (
            knob("{target: hpa/nope, path: spec.maxReplicas, values: [4]}"),
            vec!["tuning.yaml:6", "spec.knobs[0].target", "no manifest"],
        ),
        (
            knob("{target: prod/hpa/web, path: spec.maxReplicas, values: [4]}"),
            vec!["spec.knobs[0].target", "no manifest"],
        ),
        (
            knob(
                "{target: hpa/web, path: spec.metrics[3].resource.target.averageUtilization, values: [4]}",
            ),
            vec!["spec.knobs[0].path", "does not exist"],
        ),
        (
            knob("{target: hpa/web, path: spec.maxReplica, values: [4]}"),
            vec!["spec.knobs[0].path", "does not exist"],
        ),
        (
            knob("{target: hpa/web, path: spec.maxReplicas, values: [lots]}"),
            vec!["spec.knobs[0].values[0]"],
        ),
        (
            knob(
                "{target: hpa/web, path: spec.minReplicas, range: {from: 1, to: 100, step: 1}}\n    - {target: hpa/web, path: spec.maxReplicas, range: {from: 1, to: 101, step: 1}}",
            ),
            vec![
                "too many configurations: 10100; the limit is 10000",
                "spec.knobs",
            ],
        ),
        (
            format!(
                "{}  traces: [missing.csv]\n",
                knob("{target: hpa/web, path: spec.maxReplicas, values: [4]}")
            ),
            vec!["spec.traces[0]", "missing.csv"],
        ),
        (
            format!(
                "{}  traces: [{{trace: missing.csv, from: soon}}]\n",
                knob("{target: hpa/web, path: spec.maxReplicas, values: [4]}")
            ),
            vec![
                "tuning.yaml:7",
                "spec.traces[0].from",
                "neither an RFC 3339 time",
            ],
        ),
        (
            knob(
                "{target: hpa/web, path: spec.behaviour.scaleDown.stabilizationWindowSeconds, values: [60]}",
            ),
            vec!["spec.knobs[0].path", "does not exist"],
        ),
        (
            with_baseline("{name: b, set: [{target: hpa/nope, path: spec.maxReplicas, value: 4}]}"),
            vec![
                "tuning.yaml:8",
                "spec.baselines[0].set[0].target",
                "no manifest",
            ],
        ),
        (
            with_baseline("{name: b, set: [{target: hpa/web, path: spec.maxReplica, value: 4}]}"),
            vec!["spec.baselines[0].set[0].path", "does not exist"],
        ),
        (
            with_baseline(
                "{name: b, set: [{target: hpa/web, path: spec.maxReplicas, value: lots}]}",
            ),
            vec!["spec.baselines[0].set[0].value", "not valid"],
        ),
        (
            with_baseline("{name: b, set: []}\n    - {name: b, set: []}"),
            vec!["tuning.yaml:9", "spec.baselines[1].name", "taken"],
        ),
        (
            with_baseline("{name: b, sets: []}"),
            vec!["tuning.yaml:8", "sets"],
        ),
    ];
    for (tuning, expected) in cases {
        let dir = setup(SCENARIO, &tuning);
        let out = tune(dir.path(), "out");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{tuning}\n{}", text(&out));
        for e in expected {
            assert!(err.contains(e), "{tuning}\nexpected {e:?} in: {err}");
        }
        assert!(!dir.path().join("out").exists(), "no output on bad input");
    }
    // A scenario without spec.slos.
    let no_slos = SCENARIO.split("  slos:").next().unwrap().to_string();
    let dir = setup(&no_slos, TUNING);
    let out = tune(dir.path(), "out");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("kscale tune needs spec.slos in the scenario to decide what passes"),
        "{}",
        text(&out)
    );
}

/// The manifests as written and each baseline run on the same load beside the recommendation;
/// a baseline equal to a configuration gives that configuration's results.
#[test]
fn baselines_run_beside_the_recommendation() {
    let tuning = format!(
        "{TUNING}  baselines:\n    - {{name: capped, set: [{{target: hpa/web, path: spec.maxReplicas, value: 4}}, {{target: hpa/web, path: 'spec.metrics[0].resource.target.averageUtilization', value: 80}}]}}\n    - {{name: slow-scale-down, set: [{{target: hpa/web, path: spec.behavior.scaleDown.stabilizationWindowSeconds, value: 600}}]}}\n"
    );
    let dir = setup(SCENARIO, &tuning);
    let out = tune(dir.path(), "out");
    let log = text(&out);
    assert_eq!(out.status.code(), Some(0), "{log}");
    let doc = read_json(&dir.path().join("out/tune.json"));
    let rows = doc["comparison"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["original", "capped", "slow-scale-down", "recommended"],
        "{doc}"
    );
    // capped = configuration 1 (maxReplicas 4, 80%).
    let trials = doc["trials"].as_array().unwrap();
    assert_eq!(trials[1]["values"], serde_json::json!([4, 80]));
    assert_eq!(rows[1]["costUsd"], trials[1]["costUsd"]);
    assert_eq!(rows[1]["pass"], trials[1]["pass"]);
    let best = doc["recommendedIndex"].as_u64().unwrap() as usize;
    assert_eq!(rows[3]["costUsd"], trials[best]["costUsd"]);
    assert_eq!(rows[3]["pass"], true);
    // Seconds above the latency bound can remain while the run's p99 meets it.
    assert!(
        rows[3]["violationMinutes"].as_f64().unwrap()
            <= rows[1]["violationMinutes"].as_f64().unwrap(),
        "{rows:?}"
    );
    for r in rows {
        assert!(r["latencyP99Ms"].as_f64().is_some(), "{r}");
        assert_eq!(r["pass"], r["failedSlos"].as_array().unwrap().is_empty());
    }
    // A capped HPA fails on latency: it violates, the recommendation does not.
    assert_eq!(rows[1]["pass"], false, "{doc}");
    assert!(rows[1]["violationMinutes"].as_f64().unwrap() > 0.0);
    // versusBaselines from the rows, worked out here: the cheapest baseline, the cost ratio,
    // zero violation, domination and the goal (zero violation within 15% of the cheapest
    // baseline's cost, or at least as good as every baseline on both).
    let versus = &doc["versusBaselines"];
    let num = |r: &Value, k: &str| r[k].as_f64().unwrap();
    let baselines = &rows[1..3];
    let cheapest = baselines
        .iter()
        .min_by(|a, b| num(a, "costUsd").total_cmp(&num(b, "costUsd")))
        .unwrap();
    assert_eq!(versus["cheapest"], cheapest["name"], "{versus}");
    let ratio = num(&rows[3], "costUsd") / num(cheapest, "costUsd");
    assert!((num(versus, "costRatio") - ratio).abs() < 0.001, "{versus}");
    let zero = num(&rows[3], "violationMinutes") == 0.0;
    let dominates = baselines.iter().all(|b| {
        num(&rows[3], "costUsd") <= num(b, "costUsd")
            && num(&rows[3], "violationMinutes") <= num(b, "violationMinutes")
    });
    assert_eq!(
        (&versus["zeroViolation"], &versus["dominatesAll"]),
        (&json!(zero), &json!(dominates)),
        "{doc}"
    );
    assert_eq!(
        versus["goalMet"],
        json!((zero && ratio <= 1.15) || dominates)
    );
    assert!(log.contains("versus baselines:"), "{log}");
    let html = std::fs::read_to_string(dir.path().join("out/report.html")).unwrap();
    assert!(html.contains("Side by side") && html.contains("slow-scale-down"));
}

/// Successive halving: rounds over longer prefixes of the scenario, the best half continuing;
/// the last round is ranked as an exhaustive search, and the pruned configurations are listed.
#[test]
fn halving_searches_in_rounds() {
    let tuning = format!("{TUNING}  search: {{method: halving, eta: 2, rounds: 2}}\n");
    let dir = setup(SCENARIO, &tuning);
    let out = tune(dir.path(), "out");
    let log = text(&out);
    assert!(log.contains("round 1: 8 configurations over 6m0s"), "{log}");
    assert!(
        log.contains("round 2: 4 configurations over 12m0s (the whole scenario)"),
        "{log}"
    );
    let doc = read_json(&dir.path().join("out/tune.json"));
    let search = &doc["search"];
    assert_eq!(search["method"], "halving");
    assert_eq!(search["rounds"][0]["configurations"], 8);
    assert_eq!(search["rounds"][1]["durationSeconds"], 720.0);
    let pruned = search["pruned"].as_array().unwrap();
    let trials = doc["trials"].as_array().unwrap();
    assert_eq!((pruned.len(), trials.len()), (4, 4), "{doc}");
    let mut all: Vec<u64> = pruned
        .iter()
        .chain(trials)
        .map(|t| t["index"].as_u64().unwrap())
        .collect();
    all.sort();
    assert_eq!(all, (0..8).collect::<Vec<u64>>());
    // The whole-scenario results of the kept configurations are the exhaustive search's.
    let whole = setup(SCENARIO, TUNING);
    assert_eq!(tune(whole.path(), "out").status.code(), Some(0));
    let every = read_json(&whole.path().join("out/tune.json"));
    // The space, what was run and what was ranked, told apart.
    assert_eq!(
        (&doc["space"], &doc["searched"], &doc["configurations"]),
        (&json!(8), &json!(8), &json!(4))
    );
    assert_eq!(
        (
            &every["space"],
            &every["searched"],
            &every["configurations"]
        ),
        (&json!(8), &json!(8), &json!(8))
    );
    for t in trials {
        let i = t["index"].as_u64().unwrap() as usize;
        assert_eq!(t["costUsd"], every["trials"][i]["costUsd"]);
        assert_eq!(t["pass"], every["trials"][i]["pass"]);
    }
    match doc["recommendedIndex"].as_u64() {
        Some(_) => assert_eq!(out.status.code(), Some(0), "{log}"),
        None => assert_eq!(out.status.code(), Some(3), "{log}"),
    }
    // Sharding splits exhaustive searches only.
    let shard = kscale()
        .arg("tune")
        .arg(dir.path().join("scenario.yaml"))
        .arg("--tuning")
        .arg(dir.path().join("tuning.yaml"))
        .args(["--shard", "0/2", "--out", "-"])
        .output()
        .unwrap();
    assert_eq!(shard.status.code(), Some(2), "{}", text(&shard));
    assert!(text(&shard).contains("remove spec.search to shard"));
}

/// Knobs on the scenario's own fields (target `scenario`): the base nodes and the node
/// group's instance type, as `kscale run --set` would set them.
#[test]
fn knobs_set_fields_of_the_scenario() {
    let tuning = "apiVersion: kscale.io/v1alpha1\nkind: Tuning\nmetadata: {name: web}\nspec:\n  knobs:\n    - {target: scenario, path: 'spec.nodes[0].count', values: [1, 3]}\n    - {target: scenario, path: 'spec.cloud.nodeGroups[0].instanceType', values: [m5.large, m5.xlarge]}\n  baselines:\n    - {name: one-base-node, set: [{target: scenario, path: 'spec.nodes[0].count', value: 1}]}\n";
    let dir = setup(SCENARIO, tuning);
    let out = tune(dir.path(), "out");
    let log = text(&out);
    assert_eq!(out.status.code(), Some(0), "{log}");
    let doc = read_json(&dir.path().join("out/tune.json"));
    let trials = doc["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 4, "{log}");
    assert_eq!(trials[0]["values"], serde_json::json!([1, "m5.large"]));
    // Three base nodes cost more than one; one base node and m5.large workers are too slow.
    assert!(trials[2]["costUsd"].as_f64() > trials[0]["costUsd"].as_f64());
    assert_eq!(trials[0]["pass"], false, "{log}");
    let rows = doc["comparison"].as_array().unwrap();
    assert_eq!(rows[1]["name"], "one-base-node");
    assert_eq!(rows[1]["costUsd"], trials[0]["costUsd"], "{doc}");
    let b = doc["recommendedIndex"].as_u64().unwrap() as usize;
    let scenario =
        std::fs::read_to_string(dir.path().join("out/recommended/scenario.yaml")).unwrap();
    let count = trials[b]["values"][0].as_u64().unwrap();
    let kind = trials[b]["values"][1].as_str().unwrap();
    assert!(scenario.contains(&format!("count: {count}")), "{scenario}");
    assert!(
        scenario.contains(&format!("instanceType: {kind}")),
        "{scenario}"
    );
    // A field the format does not have, or a value it refuses, names the knob.
    for (knob, expected) in [
        (
            "{target: scenario, path: 'spec.cloud.nodeGroups[0].maxSize', values: [2]}",
            "spec.knobs[0].values[0]",
        ),
        (
            "{target: scenario, path: spec.duration, values: [soon]}",
            "spec.knobs[0].values[0]",
        ),
    ] {
        let bad = format!(
            "apiVersion: kscale.io/v1alpha1\nkind: Tuning\nmetadata: {{name: web}}\nspec:\n  knobs:\n    - {knob}\n"
        );
        let dir = setup(SCENARIO, &bad);
        let out = tune(dir.path(), "out");
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(text(&out).contains(expected), "{}", text(&out));
    }
}

/// The README's example: examples/ci's tuning finds a passing configuration.
#[test]
fn the_ci_example_recommends_a_configuration() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/ci");
    let out_dir = tempfile::tempdir().unwrap();
    let out = kscale()
        .arg("tune")
        .arg(root.join("scenario.yaml"))
        .arg("--tuning")
        .arg(root.join("tuning.yaml"))
        .arg("--out")
        .arg(out_dir.path().join("out"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let doc = read_json(&out_dir.path().join("out/tune.json"));
    assert_eq!(doc["trials"].as_array().unwrap().len(), 25);
    assert_eq!(doc["recommended"].as_array().unwrap().len(), 2);
}

#[test]
fn shards_merge_into_the_result_of_one_machine() {
    let dir = setup(SCENARIO, TUNING);
    let whole = tune(dir.path(), "whole");
    assert_eq!(whole.status.code(), Some(0), "{}", text(&whole));
    let shard = |spec: &str, env: Option<&str>| {
        let mut c = kscale();
        c.arg("tune")
            .arg(dir.path().join("scenario.yaml"))
            .arg("--tuning")
            .arg(dir.path().join("tuning.yaml"))
            .args(["--shard", spec, "--out"])
            .arg(dir.path().join("shards"));
        if let Some(i) = env {
            c.env("JOB_COMPLETION_INDEX", i);
        }
        c.output().unwrap()
    };
    // Shard 1 the way an Indexed Job's pod runs it.
    for (spec, env) in [("0/3", None), ("3", Some("1")), ("2/3", None)] {
        let o = shard(spec, env);
        assert_eq!(o.status.code(), Some(0), "{spec}: {}", text(&o));
    }
    let merge = |extra: &[&str], out: &str| {
        kscale()
            .args(["tune", "merge"])
            .args(extra)
            .arg("--out")
            .arg(dir.path().join(out))
            .output()
            .unwrap()
    };
    let shards = dir.path().join("shards");
    let merged = merge(&[shards.to_str().unwrap()], "merged");
    assert_eq!(merged.status.code(), Some(0), "{}", text(&merged));
    let read = |d: &str| std::fs::read_to_string(dir.path().join(d).join("tune.json")).unwrap();
    assert_eq!(
        read("whole"),
        read("merged"),
        "byte-identical to the unsharded search"
    );
    let recommended =
        |d: &str| std::fs::read_to_string(dir.path().join(d).join("recommended.diff")).unwrap();
    assert_eq!(recommended("whole"), recommended("merged"));
    // The page: the Pareto chart (a point per configuration) and the ranked table.
    let page = |d: &str| std::fs::read_to_string(dir.path().join(d).join("report.html")).unwrap();
    assert_eq!(page("whole"), page("merged"));
    let html = page("whole");
    let configs = read_json(&dir.path().join("whole/tune.json"))["configurations"]
        .as_u64()
        .unwrap() as usize;
    assert_eq!(
        html.matches("<circle").count(),
        configs + 1,
        "a point each, and the ring"
    );
    assert!(html.contains("Recommended: configuration"));
    // The side-by-side table (a header, the manifests as written, the recommendation) and the
    // ranked one (a header, a row per configuration).
    let side = read_json(&dir.path().join("whole/tune.json"))["comparison"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(side, 2);
    assert_eq!(html.matches("<tr").count(), 1 + side + configs + 1);
    // A missing shard is named; a bad --shard is refused.
    std::fs::remove_file(shards.join("shard-1-of-3.json")).unwrap();
    let partial = merge(&[shards.to_str().unwrap()], "partial");
    assert_eq!(partial.status.code(), Some(2), "{}", text(&partial));
    assert!(
        text(&partial).contains("shards missing: 1 of 3"),
        "{}",
        text(&partial)
    );
    for bad in ["3/3", "x/2", "0/0"] {
        let o = shard(bad, None);
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", text(&o));
    }
    let no_index = kscale()
        .arg("tune")
        .arg(dir.path().join("scenario.yaml"))
        .arg("--tuning")
        .arg(dir.path().join("tuning.yaml"))
        .args(["--shard", "3"])
        .env_remove("JOB_COMPLETION_INDEX")
        .output()
        .unwrap();
    assert_eq!(no_index.status.code(), Some(2));
    assert!(text(&no_index).contains("JOB_COMPLETION_INDEX"));
}

#[test]
fn the_emitted_indexed_job_passes_the_real_api_servers_dry_run() {
    let dir = setup(SCENARIO, TUNING);
    let o = kscale()
        .arg("tune")
        .arg(dir.path().join("scenario.yaml"))
        .arg("--tuning")
        .arg(dir.path().join("tuning.yaml"))
        .args([
            "--emit-job",
            "4",
            "--image",
            "registry.example/kscale:1",
            "--out",
        ])
        .arg(dir.path().join("job"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let job = std::fs::read_to_string(dir.path().join("job/job.yaml")).unwrap();
    for want in [
        "completionMode: Indexed",
        "completions: 4",
        "image: registry.example/kscale:1",
        "- /inputs/scenario.yaml",
        "path: manifests.yaml",
        "path: tuning.yaml",
    ] {
        assert!(job.contains(want), "{want}:\n{job}");
    }
    // A pod of the Job prints its shard: what `--out -` writes is a shard merge reads.
    let pod = kscale()
        .arg("tune")
        .arg(dir.path().join("scenario.yaml"))
        .arg("--tuning")
        .arg(dir.path().join("tuning.yaml"))
        .args(["--shard", "4", "--out", "-"])
        .env("JOB_COMPLETION_INDEX", "2")
        .output()
        .unwrap();
    assert_eq!(pod.status.code(), Some(0), "{}", text(&pod));
    let shard: Value = serde_json::from_slice(&pod.stdout).unwrap();
    assert_eq!(shard["shard"], serde_json::json!({"index": 2, "count": 4}));
    let Some(bin) = common::real_bin("the_emitted_indexed_job_passes_the_real_api_servers_dry_run")
    else {
        return;
    };
    let cp = common::ControlPlane::up(&bin, &dir.path().join("cp"));
    let job = dir.path().join("job/job.yaml");
    let dry = cp.kubectl(&["apply", "--dry-run=server", "-f", job.to_str().unwrap()]);
    let down = cp.down();
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry));
    assert!(
        String::from_utf8_lossy(&dry.stdout)
            .contains("job.batch/kscale-tune-web created (server dry run)"),
        "{}",
        text(&dry)
    );
    assert_eq!(down.status.code(), Some(0));
}
