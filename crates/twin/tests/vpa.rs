//! The Vertical Pod Autoscaler in the twin: the recommender's status, the updater's
//! evictions and the admission controller's requests on the replacements.

mod common;

use k8s_openapi::api::core::v1::Pod;
use kscale_cluster::Cluster;
use kscale_components::vpa::VerticalPodAutoscaler;
use kscale_model::{Quantity, SimTime};
use kscale_twin::sim::cluster_api::SimCluster;

const WEB: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 4\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers:\n      - {name: app, image: app, resources: {requests: {cpu: 50m, memory: 300Mi}, limits: {cpu: 100m}}}\n";

fn vpa(mode: &str) -> String {
    format!(
        "apiVersion: autoscaling.k8s.io/v1\nkind: VerticalPodAutoscaler\nmetadata: {{name: web}}\nspec:\n  targetRef: {{apiVersion: apps/v1, kind: Deployment, name: web}}\n  updatePolicy: {{updateMode: {mode}}}\n"
    )
}

/// The scenario: `web` under 40 requests/s of 10m each (100m per pod, twice its request).
fn twin(mode: &str) -> (tempfile::TempDir, kscale_twin::sim::Sim) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("m.yaml"),
        format!("{WEB}---\n{}", vpa(mode)),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("s.yaml"),
        "apiVersion: kscale.io/v1alpha1\nkind: Scenario\nmetadata: {name: vpa}\nspec:\n  duration: 20m\n  nodes: [{name: n, instanceType: m5.xlarge, count: 2}]\n  manifests: [m.yaml]\n  load:\n  - {target: deployment/web, requestsPerSecond: {steps: [{at: 0s, value: 40}]}, cpuPerRequest: 10m}\n",
    )
    .unwrap();
    let sim = kscale_twin::sim::Sim::new(std::sync::Arc::new(
        kscale_twin::scenario::Scenario::load(&dir.path().join("s.yaml")).unwrap(),
    ))
    .unwrap();
    (dir, sim)
}

fn cpu_requests(sim: &mut kscale_twin::sim::Sim) -> Vec<i64> {
    SimCluster(sim)
        .list::<Pod>(Some("default"), "app=web")
        .unwrap()
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .map(|p| {
            let r = p.spec.as_ref().unwrap().containers[0]
                .resources
                .as_ref()
                .unwrap();
            Quantity::parse(&r.requests.as_ref().unwrap()["cpu"].0)
                .unwrap()
                .milli()
        })
        .collect()
}

#[test]
fn under_requested_pods_are_evicted_and_come_back_with_the_recommendation() {
    let (_dir, mut sim) = twin("Recreate");
    sim.run_until(SimTime::from_secs(150));
    let v: VerticalPodAutoscaler = SimCluster(&mut sim).get("default", "web").unwrap().unwrap();
    let status = v.status.clone().unwrap();
    let rec = &status.recommendation.unwrap().container_recommendations[0];
    assert_eq!(rec.container_name, "app");
    let target = Quantity::parse(&rec.target["cpu"].0).unwrap().milli();
    // 100m used per pod, +15% margin, on histogram buckets 5% apart.
    assert!((110..=130).contains(&target), "target {target}m");
    // With two minutes of history the confidence is low: the bounds are wide.
    let lower = |v: VerticalPodAutoscaler| {
        let s = v.status.unwrap().recommendation.unwrap();
        Quantity::parse(&s.container_recommendations[0].lower_bound.as_ref().unwrap()["cpu"].0)
            .unwrap()
            .milli()
    };
    assert!(
        lower(v.clone()) <= 50,
        "the 50m request is within the bounds at first"
    );
    assert_eq!(sim.vpa.as_ref().unwrap().evictions, 0);
    sim.run_until(SimTime::from_secs(6 * 60));
    let v: VerticalPodAutoscaler = SimCluster(&mut sim).get("default", "web").unwrap().unwrap();
    let l = lower(v);
    assert!(l > 50, "the 50m request is below the lower bound {l}m");

    sim.run_until(SimTime::from_secs(20 * 60));
    let requests = cpu_requests(&mut sim);
    assert_eq!(requests.len(), 4, "{requests:?}");
    assert!(
        requests.iter().all(|r| *r > 50),
        "every pod was replaced with the recommendation: {requests:?}"
    );
    let vpa = sim.vpa.as_ref().unwrap();
    assert!(vpa.evictions >= 4, "{}", vpa.evictions);
    let pods = SimCluster(&mut sim)
        .list::<Pod>(Some("default"), "app=web")
        .unwrap();
    let p = pods
        .iter()
        .find(|p| p.metadata.deletion_timestamp.is_none())
        .unwrap();
    let annotations = p.metadata.annotations.as_ref().unwrap();
    assert_eq!(annotations["vpaObservedContainers"], "app");
    assert!(
        annotations["vpaUpdates"].starts_with("Pod resources updated by web: container 0:"),
        "{annotations:?}"
    );
    // The limit keeps its ratio to the request (100m / 50m).
    let r = p.spec.as_ref().unwrap().containers[0]
        .resources
        .as_ref()
        .unwrap();
    let req = Quantity::parse(&r.requests.as_ref().unwrap()["cpu"].0)
        .unwrap()
        .milli();
    let lim = Quantity::parse(&r.limits.as_ref().unwrap()["cpu"].0)
        .unwrap()
        .milli();
    assert_eq!(lim, 2 * req);
}

#[test]
fn modes_off_and_initial_never_evict() {
    for mode in ["Off", "Initial"] {
        let (_dir, mut sim) = twin(mode);
        sim.run_until(SimTime::from_secs(10 * 60));
        assert_eq!(sim.vpa.as_ref().unwrap().evictions, 0, "{mode}");
        assert_eq!(cpu_requests(&mut sim), [50, 50, 50, 50], "{mode}");
        let v: VerticalPodAutoscaler = SimCluster(&mut sim).get("default", "web").unwrap().unwrap();
        assert!(
            v.status.unwrap().recommendation.is_some(),
            "{mode} recommends"
        );
    }
}

#[test]
fn a_vpa_run_is_deterministic() {
    let run = || {
        let (_dir, mut sim) = twin("Recreate");
        sim.run_until(SimTime::from_secs(15 * 60));
        let v: VerticalPodAutoscaler = SimCluster(&mut sim).get("default", "web").unwrap().unwrap();
        (
            cpu_requests(&mut sim),
            serde_json::to_string(&v.status).unwrap(),
        )
    };
    assert_eq!(run(), run());
}

#[test]
fn a_vpa_and_an_hpa_on_the_same_cpu_are_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let hpa = "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: web}\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n  minReplicas: 1\n  maxReplicas: 8\n  metrics:\n  - type: Resource\n    resource: {name: cpu, target: {type: Utilization, averageUtilization: 60}}\n";
    for (mode, warned) in [("Recreate", true), ("Off", false)] {
        std::fs::write(
            dir.path().join("m.yaml"),
            format!("{WEB}---\n{hpa}---\n{}", vpa(mode)),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("s.yaml"),
            "apiVersion: kscale.io/v1alpha1\nkind: Scenario\nmetadata: {name: vpa}\nspec:\n  duration: 5m\n  nodes: [{name: n, instanceType: m5.xlarge, count: 2}]\n  manifests: [m.yaml]\n",
        )
        .unwrap();
        let sim = kscale_twin::sim::Sim::new(std::sync::Arc::new(
            kscale_twin::scenario::Scenario::load(&dir.path().join("s.yaml")).unwrap(),
        ))
        .unwrap();
        let w: Vec<_> = sim
            .warnings
            .iter()
            .filter(|w| w.message.contains("both act on the cpu of Deployment web"))
            .collect();
        assert_eq!(w.len(), usize::from(warned), "{mode}: {:?}", sim.warnings);
        if warned {
            assert_eq!(
                w[0].line,
                Some(24),
                "the VPA document starts at line 24: {:?}",
                w[0]
            );
        }
    }
}

#[test]
fn kubectl_shows_the_recommendation() {
    let (_dir, mut sim) = twin("Off");
    sim.run_until(SimTime::from_secs(150));
    let inv = kscale_twin::sim::kubectl::parse_line("kubectl get vpa").unwrap();
    let out = sim.exec(&inv).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["NAME", "MODE", "CPU", "MEM", "PROVIDED", "AGE"]
    );
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!((row[0], row[1], row[4]), ("web", "Off", "True"));
    assert!(row[2].ends_with('m'), "{row:?}");
}

#[test]
fn in_place_or_recreate_resizes_the_running_pods() {
    let (_dir, mut sim) = twin("InPlaceOrRecreate");
    sim.run_until(SimTime::from_secs(60));
    let names = |sim: &mut kscale_twin::sim::Sim| {
        let mut n: Vec<String> = SimCluster(sim)
            .list::<Pod>(Some("default"), "app=web")
            .unwrap()
            .into_iter()
            .map(|p| p.metadata.name.unwrap())
            .collect();
        n.sort();
        n
    };
    let before = names(&mut sim);
    sim.run_until(SimTime::from_secs(15 * 60));
    assert_eq!(names(&mut sim), before, "the same pods, resized in place");
    let requests = cpu_requests(&mut sim);
    assert!(requests.iter().all(|r| *r > 50), "{requests:?}");
    let vpa = sim.vpa.as_ref().unwrap();
    assert_eq!(vpa.evictions, 0);
    assert!(vpa.resized >= 4, "{}", vpa.resized);
    let reasons: Vec<&str> = sim
        .recorder
        .events()
        .iter()
        .map(|e| e.reason.as_str())
        .collect();
    assert!(reasons.contains(&"InPlaceResizedByVPA"));
    assert!(reasons.contains(&"ResizeCompleted"));
}

#[test]
fn the_time_series_show_recommendation_requests_and_usage() {
    let (_dir, mut sim) = twin("Recreate");
    sim.run_until(SimTime::from_secs(15 * 60));
    let ts = sim.timeseries();
    let col = |name: &str| {
        let i = ts
            .columns
            .iter()
            .position(|c| c == name)
            .unwrap_or_else(|| panic!("no column {name} in {:?}", ts.columns));
        ts.rows.last().unwrap()[i]
    };
    let target = col("vpa/default/web/app/target_cpu_cores");
    let usage = col("vpa/default/web/app/usage_cpu_cores");
    let request = col("vpa/default/web/app/request_cpu_cores");
    // 100m used per pod; the target is 15% above; the pods were re-created with it.
    assert!((usage - 0.1).abs() < 0.02, "usage {usage}");
    assert!(target > usage && target < 0.14, "target {target}");
    assert!(
        (request - target).abs() < 1e-9,
        "requests follow the target: {request}"
    );
    assert!(col("vpa/default/web/app/upper_cpu_cores") >= target);
    assert!(col("vpa/default/web/app/lower_cpu_cores") <= target);
    assert!(
        col("vpa/default/web/app/target_memory_mib") >= 250.0,
        "the 250Mi minimum"
    );
}

/// An HPA and a VPA on the same workload's CPU chase each other: the VPA lowers the requests
/// to what the pods use at the HPA's target, which raises their utilization, so the HPA adds
/// replicas, each of which uses less, and the VPA lowers the requests again.
#[test]
fn an_hpa_and_a_vpa_on_cpu_ratchet_the_replicas_up() {
    let run = |with_vpa: bool| {
        let dir = tempfile::tempdir().unwrap();
        let hpa = "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: web}\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n  minReplicas: 2\n  maxReplicas: 20\n  metrics:\n  - type: Resource\n    resource: {name: cpu, target: {type: Utilization, averageUtilization: 60}}\n";
        let web = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 4\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers:\n      - {name: app, image: app, resources: {requests: {cpu: 100m, memory: 256Mi}}}\n";
        let mut m = format!("{web}---\n{hpa}");
        if with_vpa {
            m.push_str(&format!("---\n{}", vpa("Recreate")));
        }
        std::fs::write(dir.path().join("m.yaml"), m).unwrap();
        std::fs::write(
            dir.path().join("s.yaml"),
            "apiVersion: kscale.io/v1alpha1\nkind: Scenario\nmetadata: {name: osc}\nspec:\n  duration: 2h\n  sampleInterval: 1m\n  nodes: [{name: n, instanceType: m5.2xlarge, count: 3}]\n  manifests: [m.yaml]\n  load:\n  - {target: deployment/web, requestsPerSecond: {steps: [{at: 0s, value: 60}]}, cpuPerRequest: 10m}\n",
        )
        .unwrap();
        let mut sim = kscale_twin::sim::Sim::new(std::sync::Arc::new(
            kscale_twin::scenario::Scenario::load(&dir.path().join("s.yaml")).unwrap(),
        ))
        .unwrap();
        sim.run_until(SimTime::from_secs(2 * 3600));
        let ts = sim.timeseries();
        let i = ts
            .columns
            .iter()
            .position(|c| c == "hpa/default/web/replicas")
            .unwrap();
        ts.rows.last().unwrap()[i]
    };
    let (alone, together) = (run(false), run(true));
    // 600m of CPU at 60% of 100m: the HPA settles at 10 replicas on its own.
    assert_eq!(alone, 10.0);
    assert!(
        together > alone,
        "{together} replicas with the VPA, {alone} without"
    );
}
