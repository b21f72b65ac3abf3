//! Objects the Kubernetes API server refuses are refused at load time too: `kscale validate`
//! and `kscale run` agree, exit 2, name the file, line and field in the API server's words,
//! and write nothing. Cases from the reliability issue's fuzzing list plus upstream's
//! validation rules (`pkg/apis/*/validation`).

mod common;

use std::path::Path;

use common::{kscale, text};

/// A scenario on two nodes whose manifests are `manifest`.
fn scenario(dir: &Path, manifest: &str, nodes: &str) -> std::path::PathBuf {
    std::fs::write(dir.join("m.yaml"), manifest).unwrap();
    let s = dir.join("scenario.yaml");
    std::fs::write(
        &s,
        format!(
            "apiVersion: kscale.io/v1alpha1
kind: Scenario
metadata: {{name: v}}
spec:
  duration: 2m
  nodes:
{nodes}
  manifests: [m.yaml]
"
        ),
    )
    .unwrap();
    s
}

const NODES: &str = "    - {name: worker, instanceType: m5.large, count: 2}";

fn deployment(pod_spec: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
{pod_spec}"
    )
}

/// `kscale run SCENARIO --out OUT`.
fn run(scenario: &Path, out: &Path) -> std::process::Output {
    kscale()
        .arg("run")
        .arg(scenario)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

/// Runs `validate` and `run` on the case; both exit 2 with the same first line naming
/// `expect`, and `run` writes no output directory.
fn refused(manifest: &str, nodes: &str, expect: &str) {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(dir.path(), manifest, nodes);
    let v = kscale().arg("validate").arg(&s).output().unwrap();
    assert_eq!(v.status.code(), Some(2), "validate: {}", text(&v));
    let out = dir.path().join("out");
    let r = run(&s, &out);
    assert_eq!(r.status.code(), Some(2), "run: {}", text(&r));
    let first = |o: &std::process::Output| {
        String::from_utf8_lossy(&o.stderr)
            .lines()
            .next()
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(first(&v), first(&r), "validate and run disagree");
    assert!(
        String::from_utf8_lossy(&v.stderr).contains(expect),
        "expected {expect:?} in:\n{}",
        text(&v)
    );
    assert!(!out.exists(), "a refused run wrote {}", out.display());
}

#[test]
fn workloads_the_api_server_refuses() {
    refused(
        &deployment("      containers:\n      - name: c\n"),
        NODES,
        "m.yaml:13: spec.template.spec.containers[0].image: Required value",
    );
    refused(
        &deployment(
            "      containers:\n      - name: c\n        image: x\n      - name: c\n        image: y\n",
        ),
        NODES,
        "m.yaml:15: spec.template.spec.containers[1].name: Duplicate value: \"c\"",
    );
    refused(
        &deployment(
            "      tolerations:\n      - key: a\n        operator: Bogus\n      containers:\n      - {name: c, image: x}\n",
        ),
        NODES,
        "m.yaml:14: spec.template.spec.tolerations[0].operator: Unsupported value: \"Bogus\": supported values: \"Equal\", \"Exists\"",
    );
    refused(
        "apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: x}]
",
        NODES,
        "spec.selector: Required value",
    );
    refused(
        &deployment(
            "      containers:\n      - name: c\n        image: x\n        resources:\n          requests: {cpu: \"2\"}\n          limits: {cpu: \"1\"}\n",
        ),
        NODES,
        "spec.template.spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1",
    );
}

#[test]
fn autoscalers_and_budgets_the_api_server_refuses() {
    let hpa = |metrics: &str| {
        format!(
            "apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: web}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: web}}
  maxReplicas: 5
  metrics:
{metrics}"
        )
    };
    refused(
        &hpa(
            "  - type: Resource\n    resource:\n      name: cpu\n      target: {type: Utilization, averageUtilization: -50}\n",
        ),
        NODES,
        "spec.metrics[0].resource.target.averageUtilization: Invalid value: -50: must be greater than 0",
    );
    refused(
        &hpa("  - type: Bogus\n"),
        NODES,
        "spec.metrics[0].type: Unsupported value: \"Bogus\"",
    );
    refused(
        "apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec:
  minAvailable: 150%
  selector: {matchLabels: {app: web}}
",
        NODES,
        "spec.minAvailable: Invalid value: \"150%\": must not be greater than 100%",
    );
    refused(
        "apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: system-mine}
value: 10
",
        NODES,
        "metadata.name",
    );
    refused(
        "apiVersion: v1
kind: Namespace
metadata: {name: team.a}
",
        NODES,
        "metadata.name: Invalid value: \"team.a\": must not contain dots",
    );
}

#[test]
fn nodes_the_api_server_refuses() {
    let ns = "apiVersion: v1\nkind: Namespace\nmetadata: {name: ok}\n";
    refused(
        ns,
        "    - {name: w, instanceType: m5.large, count: 2}\n    - {name: w-1, instanceType: m5.large}",
        "spec.nodes[1].name: Duplicate value: \"w-1\"",
    );
    refused(
        ns,
        "    - {name: \"\", instanceType: m5.large}",
        "spec.nodes[0].name: Required value",
    );
    refused(
        ns,
        "    - {name: Worker, instanceType: m5.large}",
        "spec.nodes[0].name: Invalid value: \"Worker\"",
    );
}

#[test]
fn every_error_of_an_object_is_listed_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(
        dir.path(),
        &deployment(
            "      restartPolicy: Never\n      containers:\n      - name: c\n        ports: [{containerPort: 70000}]\n",
        ),
        NODES,
    );
    let v = kscale().arg("validate").arg(&s).output().unwrap();
    assert_eq!(v.status.code(), Some(2));
    let err = String::from_utf8_lossy(&v.stderr);
    for line in [
        "m.yaml:14: spec.template.spec.containers[0].image: Required value",
        "m.yaml:15: spec.template.spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
        "m.yaml:12: spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"",
    ] {
        assert!(err.contains(line), "{line:?} missing from:\n{err}");
    }
}

#[test]
fn a_kubectl_step_the_api_server_refuses_fails_as_that_step() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(
        dir.path(),
        &deployment("      containers:\n      - {name: c, image: x}\n"),
        NODES,
    );
    let text_of = std::fs::read_to_string(&s).unwrap();
    std::fs::write(
        &s,
        format!(
            "{text_of}  steps:
    - at: 30s
      run: kubectl patch deployment web --type=json -p '[{{\"op\":\"replace\",\"path\":\"/spec/template/spec/containers/0/image\",\"value\":\"\"}},{{\"op\":\"add\",\"path\":\"/spec/replicas\",\"value\":-3}}]'
    - at: 40s
      run: kubectl patch node worker-1 -p '{{\"spec\":{{\"taints\":[{{\"key\":\"a\",\"effect\":\"Bogus\"}}]}}}}'
"
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let r = run(&s, &out);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r));
    let steps: Vec<serde_json::Value> = std::fs::read_to_string(out.join("transcript.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let stderr_at = |at: f64| {
        let s = steps.iter().find(|s| s["at"] == at).expect("the step ran");
        assert_eq!(s["exitCode"], 1, "{s}");
        s["stderr"].as_str().unwrap().trim().to_string()
    };
    assert_eq!(
        stderr_at(30.0),
        "The Deployment \"web\" is invalid: \n* spec.replicas: Invalid value: -3: must be greater than or equal to 0\n* spec.template.spec.containers[0].image: Required value"
    );
    assert_eq!(
        stderr_at(40.0),
        "The Node \"worker-1\" is invalid: spec.taints[0].effect: Unsupported value: \"Bogus\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\""
    );
}
