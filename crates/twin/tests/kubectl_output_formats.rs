//! `kubectl get -o jsonpath=...` and `-o custom-columns=...` in steps: over the listed objects
//! (one `List`, or the one named object), printed as kubectl prints them.

mod common;

use kscale_twin::scenario::Scenario;

const MANIFESTS: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: app, image: nginx, resources: {requests: {cpu: 100m, memory: 64Mi}}}
";

/// The scenario's spec besides its duration and manifests.
const SPEC: &str = r#"  nodes: [{name: n, instanceType: m5.large, count: 1}]
  steps:
    - {at: 30s, run: "kubectl get deployment web -o jsonpath='{.status.readyReplicas}'"}
    - {at: 30s, run: "kubectl get pods -o jsonpath='{range .items[*]}{.spec.nodeName}{\"\\n\"}{end}'"}
    - {at: 30s, run: "kubectl get pods -o jsonpath='{.items[?(@.status.phase==\"Running\")].kind}'"}
    - {at: 30s, run: "kubectl get deploy,nodes -o custom-columns=KIND:.kind,NAME:.metadata.name,REPLICAS:.spec.replicas"}
    - {at: 30s, run: "kubectl get deployment web -o jsonpath='{.status.nope.x}'"}
    - {at: 30s, run: "kubectl get deploy,nodes -o json"}
    - {at: 30s, run: "kubectl get deploy,nodes -o yaml"}
"#;

#[test]
fn jsonpath_and_custom_columns() {
    let (_dir, mut sim) = common::twin_with_spec("1m", SPEC, MANIFESTS);
    sim.run_checked().unwrap();
    let t = sim.recorder.transcript();
    for s in t {
        eprintln!(
            "$ {} ({})\n{:?}\n{}",
            s.command, s.exit_code, s.stdout, s.stderr
        );
    }
    // No newline of its own.
    assert_eq!((t[0].exit_code, t[0].stdout.as_str()), (0, "2"));
    assert_eq!(t[1].stdout, "n\nn\n");
    assert_eq!(t[2].stdout, "Pod Pod");
    assert_eq!(
        t[3].stdout,
        "KIND         NAME   REPLICAS\nDeployment   web    2\nNode         n      <none>\n"
    );
    // A missing key prints nothing (kubectl allows missing keys).
    assert_eq!((t[4].exit_code, t[4].stdout.as_str()), (0, ""));
    // Several kinds as JSON or YAML: one List over all of them, keys in kubectl's (sorted)
    // order.
    let list: serde_json::Value = serde_json::from_str(&t[5].stdout).unwrap();
    let kinds: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        (list["kind"].as_str(), kinds),
        (Some("List"), vec!["Deployment", "Node"])
    );
    assert!(
        t[5].stdout
            .starts_with("{\n    \"apiVersion\": \"v1\",\n    \"items\": [\n"),
        "{}",
        t[5].stdout
    );
    assert!(
        t[5].stdout.ends_with(
            "    \"kind\": \"List\",\n    \"metadata\": {\n        \"resourceVersion\": \"\"\n    }\n}\n"
        ),
        "{}",
        t[5].stdout
    );
    assert!(
        t[6].stdout.starts_with("apiVersion: v1\nitems:\n"),
        "{}",
        t[6].stdout
    );
    assert!(
        t[6].stdout
            .ends_with("kind: List\nmetadata:\n  resourceVersion: \"\"\n"),
        "{}",
        t[6].stdout
    );
}

#[test]
fn a_malformed_template_is_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.yaml"), MANIFESTS).unwrap();
    let bad = SPEC.replace("{.status.nope.x}", "{.status.readyReplicas");
    std::fs::write(
        dir.path().join("s.yaml"),
        format!("apiVersion: kscale.io/v1alpha1\nkind: Scenario\nmetadata: {{name: t}}\nspec:\n  duration: 1m\n{bad}  manifests: [m.yaml]\n"),
    )
    .unwrap();
    let e = Scenario::load(&dir.path().join("s.yaml"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("spec.steps[4].run") && e.contains("unclosed action"),
        "{e}"
    );
}
