//! In-place pod resize in the twin: the API server's validation, the kubelet's admission
//! (started, deferred for lack of room, retried when room frees) and the pod running with
//! the new resources.

mod common;

use k8s_openapi::api::core::v1::{Event, Pod};
use kscale_cluster::{ApiError, Cluster, Patch};
use kscale_model::{Quantity, SimTime};
use kscale_twin::sim::Sim;
use kscale_twin::sim::cluster_api::SimCluster;
use serde_json::json;

/// `web`: `replicas` pods of 500m (limit 1 CPU) on one m5.large (1930m allocatable).
fn twin(replicas: u32, resize_policy: &str) -> (tempfile::TempDir, Sim) {
    common::twin_of(
        "10m",
        "[{name: n, instanceType: m5.large, count: 1}]",
        &format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web}}\nspec:\n  replicas: {replicas}\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec:\n      containers:\n      - name: app\n        image: app\n        resources: {{requests: {{cpu: 500m, memory: 256Mi}}, limits: {{cpu: '1'}}}}\n{resize_policy}"
        ),
    )
}

fn pods(sim: &mut Sim) -> Vec<Pod> {
    SimCluster(sim)
        .list::<Pod>(Some("default"), "app=web")
        .unwrap()
}

fn cpu_request(p: &Pod) -> i64 {
    let r = p.spec.as_ref().unwrap().containers[0]
        .resources
        .as_ref()
        .unwrap();
    Quantity::parse(&r.requests.as_ref().unwrap()["cpu"].0)
        .unwrap()
        .milli()
}

fn condition(p: &Pod, ty: &str) -> Option<(String, String)> {
    let c = p.status.as_ref()?.conditions.as_ref()?;
    c.iter().find(|c| c.type_ == ty).map(|c| {
        (
            c.reason.clone().unwrap_or_default(),
            c.message.clone().unwrap_or_default(),
        )
    })
}

fn resize(cpu: &str) -> Patch {
    Patch::Strategic(json!({"spec": {"containers": [
        {"name": "app", "resources": {"requests": {"cpu": cpu}}}]}}))
}

/// The cpu request the container's status reports as running (`resources`) and as
/// allocated (`allocatedResources`), in milli-CPU.
fn status_cpu(p: &Pod) -> (i64, i64) {
    let s = &p
        .status
        .as_ref()
        .unwrap()
        .container_statuses
        .as_ref()
        .unwrap()[0];
    let milli = |q: &k8s_openapi::apimachinery::pkg::api::resource::Quantity| {
        Quantity::parse(&q.0).unwrap().milli()
    };
    (
        milli(&s.resources.as_ref().unwrap().requests.as_ref().unwrap()["cpu"]),
        milli(&s.allocated_resources.as_ref().unwrap()["cpu"]),
    )
}

fn reasons(sim: &mut Sim) -> Vec<String> {
    SimCluster(sim)
        .list::<Event>(Some("default"), "")
        .unwrap()
        .into_iter()
        .filter_map(|e| e.reason)
        .filter(|r| r.starts_with("Resize"))
        .collect()
}

#[test]
fn a_resize_with_room_is_applied_in_place() {
    let (_dir, mut sim) = twin(1, "");
    sim.run_until(SimTime::from_secs(30));
    let name = pods(&mut sim)[0].metadata.name.clone().unwrap();
    assert_eq!(status_cpu(&pods(&mut sim)[0]), (500, 500));
    // The twin's clock is at its last event: the write happens then.
    let at = sim.now;
    let p = SimCluster(&mut sim)
        .resize("default", &name, &resize("800m"))
        .unwrap();
    assert_eq!(
        cpu_request(&p),
        800,
        "the spec shows the desired resources at once"
    );
    // The kubelet sees it after 100 ms and the runtime applies it 1 s later.
    sim.run_until(at.plus_millis(500));
    let p = &pods(&mut sim)[0];
    assert!(
        condition(p, "PodResizeInProgress").is_some(),
        "{:?}",
        p.status
    );
    // Admitted (allocated) but not applied by the runtime yet.
    assert_eq!(status_cpu(p), (500, 800));
    sim.run_until(at.plus_millis(1_200));
    let p = &pods(&mut sim)[0];
    assert!(condition(p, "PodResizeInProgress").is_none());
    assert_eq!(status_cpu(p), (800, 800));
    assert_eq!(
        p.metadata.name.as_deref(),
        Some(name.as_str()),
        "the same pod"
    );
    let status = p.status.as_ref().unwrap();
    assert_eq!(
        status.container_statuses.as_ref().unwrap()[0].restart_count,
        0
    );
    assert_eq!(reasons(&mut sim), ["ResizeStarted", "ResizeCompleted"]);
}

#[test]
fn a_resize_without_room_is_deferred_until_room_frees() {
    let (_dir, mut sim) = twin(3, "");
    sim.run_until(SimTime::from_secs(30));
    let all = pods(&mut sim);
    let running: Vec<Pod> = all
        .into_iter()
        .filter(|p| p.spec.as_ref().unwrap().node_name.is_some())
        .collect();
    assert_eq!(running.len(), 3);
    let name = running[0].metadata.name.clone().unwrap();
    // 500m × 2 others + 1200m > 1930m.
    SimCluster(&mut sim)
        .resize("default", &name, &resize("1200m"))
        .unwrap();
    sim.run_until(SimTime::from_secs(32));
    let p: Pod = SimCluster(&mut sim).get("default", &name).unwrap().unwrap();
    let (reason, message) = condition(&p, "PodResizePending").expect("pending");
    assert_eq!(reason, "Deferred");
    assert_eq!(
        message,
        "Node didn't have enough resource: cpu, requested: 1200, used: 1000, capacity: 1930"
    );
    assert_eq!(reasons(&mut sim), ["ResizeDeferred"]);
    // One of the others goes away: the kubelet retries and admits it (its replacement
    // finds no room: 1200m + 500m are held).
    let other = running[1].metadata.name.clone().unwrap();
    SimCluster(&mut sim)
        .delete::<Pod>("default", &other, Some(0))
        .unwrap();
    sim.run_until(SimTime::from_secs(90));
    let p: Pod = SimCluster(&mut sim).get("default", &name).unwrap().unwrap();
    assert!(
        condition(&p, "PodResizePending").is_none(),
        "{:?}",
        p.status
    );
    assert_eq!(cpu_request(&p), 1200);
    assert_eq!(
        reasons(&mut sim),
        ["ResizeDeferred", "ResizeStarted", "ResizeCompleted"]
    );
}

#[test]
fn only_cpu_and_memory_may_change_and_the_qos_class_stays() {
    let (_dir, mut sim) = twin(1, "");
    sim.run_until(SimTime::from_secs(30));
    let name = pods(&mut sim)[0].metadata.name.clone().unwrap();
    let mut c = SimCluster(&mut sim);
    let image =
        Patch::Strategic(json!({"spec": {"containers": [{"name": "app", "image": "app:2"}]}}));
    let Err(ApiError::Invalid(m)) = c.resize("default", &name, &image) else {
        panic!("an image change is refused")
    };
    assert_eq!(
        m,
        format!(
            "The Pod \"{name}\" is invalid: spec: Forbidden: only cpu and memory resources are mutable"
        )
    );
    // Limits equal to requests would make the Burstable pod Guaranteed.
    let guaranteed = Patch::Strategic(
        json!({"spec": {"containers": [{"name": "app", "resources": {
        "requests": {"cpu": "1", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "256Mi"}}}]}}),
    );
    let Err(ApiError::Invalid(m)) = c.resize("default", &name, &guaranteed) else {
        panic!("a QoS change is refused")
    };
    assert!(
        m.ends_with("spec: Invalid value: \"Burstable\": Pod QOS Class may not change as a result of resizing"),
        "{m}"
    );
}

#[test]
fn a_restart_policy_for_the_resource_restarts_the_container() {
    let (_dir, mut sim) = twin(
        1,
        "        resizePolicy: [{resourceName: cpu, restartPolicy: RestartContainer}]\n",
    );
    sim.run_until(SimTime::from_secs(30));
    let name = pods(&mut sim)[0].metadata.name.clone().unwrap();
    SimCluster(&mut sim)
        .resize("default", &name, &resize("700m"))
        .unwrap();
    sim.run_until(SimTime::from_secs(35));
    let p = &pods(&mut sim)[0];
    let status = p.status.as_ref().unwrap();
    assert_eq!(
        status.container_statuses.as_ref().unwrap()[0].restart_count,
        1
    );
}

#[test]
fn kubectl_patch_resize_is_a_step() {
    let (_dir, mut sim) = twin(1, "");
    sim.run_until(SimTime::from_secs(30));
    let name = pods(&mut sim)[0].metadata.name.clone().unwrap();
    let line = format!(
        r#"kubectl patch pod {name} --subresource resize -p '{{"spec":{{"containers":[{{"name":"app","resources":{{"requests":{{"cpu":"600m"}}}}}}]}}}}'"#
    );
    let inv = kscale_twin::sim::kubectl::parse_line(&line).unwrap();
    assert_eq!(sim.exec(&inv).unwrap(), format!("pod/{name} patched"));
    let inv = kscale_twin::sim::kubectl::parse_line(
        r#"kubectl patch deployment web --subresource resize -p '{}'"#,
    )
    .unwrap();
    assert!(
        sim.exec(&inv).is_err(),
        "only pods have a resize subresource"
    );
    sim.run_until(SimTime::from_secs(35));
    assert_eq!(cpu_request(&pods(&mut sim)[0]), 600);
}
