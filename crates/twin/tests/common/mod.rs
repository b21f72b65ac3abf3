//! Shared set-up of the integration tests.

use std::path::Path;
use std::sync::Arc;

use kscale_twin::scenario::Scenario;
use kscale_twin::sim::Sim;

/// Runs the example scenario at `examples/<rel>` to its end, checking the twin's invariants
/// after every event.
#[allow(dead_code)]
pub fn run_example(rel: &str) -> Sim {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(rel);
    let mut sim = Sim::new(Arc::new(Scenario::load(&path).unwrap())).unwrap();
    sim.run_checked().unwrap();
    sim
}

/// A twin loaded (not run) from a scenario of `duration`, `nodes` (the scenario's
/// `spec.nodes` in flow style) and one manifest file holding `manifests`; the directory
/// must outlive the twin's use of its files.
#[allow(dead_code)]
pub fn twin_of(duration: &str, nodes: &str, manifests: &str) -> (tempfile::TempDir, Sim) {
    twin_with_spec(duration, &format!("  nodes: {nodes}\n"), manifests)
}

/// [`twin_of`] with `spec`: the scenario's spec lines besides its duration and manifests
/// (indented by two spaces, each ending in a newline), e.g. its seed, nodes or cloud.
#[allow(dead_code)]
pub fn twin_with_spec(duration: &str, spec: &str, manifests: &str) -> (tempfile::TempDir, Sim) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.yaml"), manifests).unwrap();
    std::fs::write(
        dir.path().join("s.yaml"),
        format!(
            "apiVersion: kscale.io/v1alpha1\nkind: Scenario\nmetadata: {{name: t}}\nspec:\n  duration: {duration}\n{spec}  manifests: [m.yaml]\n"
        ),
    )
    .unwrap();
    let sim = Sim::new(Arc::new(
        Scenario::load(&dir.path().join("s.yaml")).unwrap(),
    ))
    .unwrap();
    (dir, sim)
}

/// A Karpenter NodePool `general` of on-demand m5 instances and its EC2NodeClass (a manifest
/// document to append).
#[allow(dead_code)]
pub const NODEPOOL: &str = "---
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: general}
spec:
  template:
    spec:
      requirements:
        - {key: karpenter.k8s.aws/instance-family, operator: In, values: [m5]}
        - {key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
---
apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata: {name: default}
spec:
  amiSelectorTerms: [{alias: al2023@latest}]
  role: KarpenterNodeRole-demo
  subnetSelectorTerms: [{tags: {karpenter.sh/discovery: demo}}]
  securityGroupSelectorTerms: [{tags: {karpenter.sh/discovery: demo}}]
";

/// A Cluster Autoscaler Deployment in kube-system (tolerating `CriticalAddonsOnly`) run with
/// `flags` (a manifest document to append).
#[allow(dead_code)]
pub fn cluster_autoscaler(flags: &str) -> String {
    format!(
        "---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: cluster-autoscaler, namespace: kube-system}}
spec:
  selector: {{matchLabels: {{app: ca}}}}
  template:
    metadata: {{labels: {{app: ca}}}}
    spec:
      tolerations: [{{key: CriticalAddonsOnly, operator: Exists}}]
      containers:
        - name: ca
          image: registry.k8s.io/autoscaling/cluster-autoscaler:v1.32.0
          command: [./cluster-autoscaler, {flags}]
          resources: {{requests: {{cpu: 100m, memory: 300Mi}}}}
"
    )
}

/// The messages of the twin's recorded events with `reason`, in order.
#[allow(dead_code)]
pub fn messages<'a>(sim: &'a Sim, reason: &str) -> Vec<&'a str> {
    sim.recorder
        .events()
        .iter()
        .filter(|e| e.reason == reason)
        .map(|e| e.message.as_str())
        .collect()
}
