//! PodDisruptionBudget status as the disruption controller writes it
//! (`pkg/controller/disruption/disruption.go`): expected, healthy and desired pods, allowed
//! disruptions and the DisruptionAllowed condition — in `kubectl get pdb`, `-o yaml` and
//! through the cluster API.

mod common;

use serde_json::Value;

const WEB: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: x, resources: {requests: {cpu: 100m}}}]
";

fn status_after_run(pdb_spec: &str) -> Value {
    let manifests = format!(
        "{WEB}---\napiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {{name: web}}\nspec:\n{pdb_spec}  selector: {{matchLabels: {{app: web}}}}\n"
    );
    let (_dir, mut sim) = common::twin_of(
        "2m",
        "[{name: n, instanceType: m5.large, count: 1}]",
        &manifests,
    );
    sim.run_checked().unwrap();
    sim.get_one("PodDisruptionBudget", "default", "web")
        .unwrap()["status"]
        .clone()
}

#[test]
fn min_available_counts_the_matching_pods() {
    let st = status_after_run("  minAvailable: 2\n");
    assert_eq!(st["expectedPods"], 3);
    assert_eq!(st["currentHealthy"], 3);
    assert_eq!(st["desiredHealthy"], 2);
    assert_eq!(st["disruptionsAllowed"], 1);
    assert_eq!(st["conditions"][0]["type"], "DisruptionAllowed");
    assert_eq!(st["conditions"][0]["status"], "True");
    assert_eq!(st["conditions"][0]["reason"], "SufficientPods");
}

#[test]
fn max_unavailable_is_taken_of_the_controllers_scale() {
    // 34% of 3 rounds up to 2 unavailable: 1 desired, 2 allowed.
    let st = status_after_run("  maxUnavailable: 34%\n");
    assert_eq!(st["expectedPods"], 3);
    assert_eq!(st["desiredHealthy"], 1);
    assert_eq!(st["disruptionsAllowed"], 2);
    let st = status_after_run("  minAvailable: 100%\n");
    assert_eq!(st["desiredHealthy"], 3);
    assert_eq!(st["disruptionsAllowed"], 0);
    assert_eq!(st["conditions"][0]["status"], "False");
    assert_eq!(st["conditions"][0]["reason"], "InsufficientPods");
}

#[test]
fn the_cluster_api_serves_the_status() {
    use k8s_openapi::api::policy::v1::PodDisruptionBudget;
    use kscale_cluster::Cluster;
    let manifests = format!(
        "{WEB}---\napiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {{name: web}}\nspec:\n  minAvailable: 1\n  selector: {{matchLabels: {{app: web}}}}\n"
    );
    let (_dir, mut sim) = common::twin_of(
        "2m",
        "[{name: n, instanceType: m5.large, count: 1}]",
        &manifests,
    );
    sim.run();
    let mut api = kscale_twin::sim::cluster_api::SimCluster(&mut sim);
    let pdb = api
        .get::<PodDisruptionBudget>("default", "web")
        .unwrap()
        .unwrap();
    assert_eq!(pdb.status.unwrap().disruptions_allowed, 2);
}
