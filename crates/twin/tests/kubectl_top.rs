//! `kubectl top pod|node` steps: the resource metrics API's usage printed as kubectl prints it,
//! and kubectl's errors before metrics exist.

mod common;

use kscale_twin::sim::Sim;

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
      - {name: app, image: nginx, resources: {requests: {cpu: 500m, memory: 256Mi}}}
";

/// The scenario's spec besides its duration and manifests.
const SPEC: &str = "  nodes: [{name: n, instanceType: m5.large, count: 1}]
  load:
    - target: deployment/web
      requestsPerSecond: {constant: 20}
      cpuPerRequest: 10m
      memory: {base: 100Mi}
  steps:
    - {at: 5s, run: kubectl top pods}
    - {at: 6s, run: kubectl top pods -l app=none}
    - {at: 2m, run: kubectl top pods}
    - {at: 2m, run: kubectl top pods --sum --no-headers}
    - {at: 2m, run: kubectl top nodes}
    - {at: 2m, run: kubectl top pod nope}
    - {at: 2m, run: kubectl top pod -A --containers}
";

fn run() -> Sim {
    let (_dir, mut sim) = common::twin_with_spec("3m", SPEC, MANIFESTS);
    sim.run_checked().unwrap();
    sim
}

#[test]
fn top_prints_usage_and_kubectls_errors() {
    let sim = run();
    let t = sim.recorder.transcript();
    for s in t {
        eprintln!(
            "$ {}\n{}{}(exit {})",
            s.command, s.stdout, s.stderr, s.exit_code
        );
    }
    // Before the first scrape: no metrics yet.
    assert_eq!(t[0].exit_code, 1);
    assert_eq!(t[0].stderr, "error: metrics not available yet\n");
    assert_eq!(t[1].exit_code, 0);
    assert_eq!(t[1].stderr, "No resources found in default namespace.\n");
    // 20 requests/s of 10m over two pods: 100m each; 100Mi each.
    let lines: Vec<&str> = t[2].stdout.lines().collect();
    assert_eq!(
        lines[0],
        "NAME                   CPU(cores)   MEMORY(bytes)   "
    );
    assert_eq!(lines.len(), 3, "{}", t[2].stdout);
    for l in &lines[1..] {
        let cells: Vec<&str> = l.split_whitespace().collect();
        assert!(cells[0].starts_with("web-"), "{l}");
        assert_eq!(&cells[1..], ["100m", "100Mi"], "{l}");
    }
    let sum: Vec<&str> = t[3].stdout.lines().collect();
    assert_eq!(sum.len(), 4, "{}", t[3].stdout);
    assert_eq!(
        sum[3].split_whitespace().collect::<Vec<_>>(),
        ["200m", "200Mi"]
    );
    let nodes: Vec<&str> = t[4].stdout.lines().collect();
    assert!(nodes[0].starts_with("NAME "), "{}", t[4].stdout);
    assert!(nodes[0].contains("CPU(%)") && nodes[0].contains("MEMORY(%)"));
    let cells: Vec<&str> = nodes[1].split_whitespace().collect();
    assert_eq!(&cells[1..2], ["200m"], "{}", nodes[1]);
    assert_eq!(t[5].exit_code, 1);
    assert_eq!(
        t[5].stderr,
        "Error from server (NotFound): pods \"nope\" not found\n"
    );
    let c: Vec<&str> = t[6].stdout.lines().collect();
    assert_eq!(
        c[0].split_whitespace().collect::<Vec<_>>(),
        ["NAMESPACE", "POD", "NAME", "CPU(cores)", "MEMORY(bytes)"]
    );
    assert!(c[1].starts_with("default "), "{}", c[1]);
}
