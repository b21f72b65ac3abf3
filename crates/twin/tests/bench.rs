//! The benchmark scenario (`kscale bench-scenario`) at a small size: the HPAs follow the
//! diurnal trace, Karpenter provisions and consolidates, and the per-workload caches of the
//! load model and the metrics pipeline's sample groups give exactly the outputs of the per-pod
//! computation they replaced.

use std::sync::Arc;

use kscale_twin::bench::{BenchParams, NodeAutoscaler, files};
use kscale_twin::scenario::Scenario;
use kscale_twin::sim::Sim;

fn scenario(peak_nodes: u32, duration: &str) -> (tempfile::TempDir, Arc<Scenario>) {
    with_autoscaler(peak_nodes, duration, NodeAutoscaler::Karpenter)
}

fn with_autoscaler(
    peak_nodes: u32,
    duration: &str,
    autoscaler: NodeAutoscaler,
) -> (tempfile::TempDir, Arc<Scenario>) {
    let dir = tempfile::tempdir().unwrap();
    let params = BenchParams {
        peak_nodes,
        duration: duration.into(),
        autoscaler,
    };
    for (name, text) in files(&params) {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let s = Scenario::load(&dir.path().join("scenario.yaml")).unwrap();
    (dir, Arc::new(s))
}

fn outputs(sim: &Sim) -> (String, String, String) {
    let out = sim.output();
    (
        kscale_report::render_summary_json(&out.summary).unwrap(),
        kscale_report::render_events_jsonl(&out.events).unwrap(),
        kscale_report::render_timeseries_csv(&out.timeseries).unwrap(),
    )
}

#[test]
fn cached_load_model_matches_the_per_pod_computation() {
    let (_dir, s) = scenario(20, "40m");
    let mut cached = Sim::new(s.clone()).unwrap();
    cached.run();
    let mut plain = Sim::new(s).unwrap();
    plain.disable_load_caches();
    plain.run();
    // Most samples came from sample groups (`metrics.rs`), without visiting the pods; the
    // per-pod computation has none.
    let (grouped, plain_stats) = (cached.metrics.stats, plain.metrics.stats);
    assert!(grouped.grouped > 2 * grouped.visited, "{grouped:?}");
    assert_eq!(plain_stats.grouped, 0, "{plain_stats:?}");
    let (a, b) = (outputs(&cached), outputs(&plain));
    assert_eq!(a.0, b.0, "summary.json");
    assert_eq!(a.1, b.1, "events.jsonl");
    assert_eq!(a.2, b.2, "timeseries.csv");
}

#[test]
fn parallel_hpa_syncs_match_one_by_one() {
    // 6 HPAs with distinct targets: prepared in parallel, then applied in order, they give the
    // outputs of syncing one HPA after the other.
    let (_dir, s) = scenario(20, "40m");
    let mut parallel = Sim::new(s.clone()).unwrap();
    parallel.hpa.set_parallel_min(2);
    parallel.run();
    assert_eq!(parallel.hpa.parallel(), Some(true), "the parallel path ran");
    let mut serial = Sim::new(s).unwrap();
    serial.hpa.set_parallel_min(usize::MAX);
    serial.run();
    assert_eq!(serial.hpa.parallel(), Some(false));
    let (a, b) = (outputs(&parallel), outputs(&serial));
    assert_eq!(a.0, b.0, "summary.json");
    assert_eq!(a.1, b.1, "events.jsonl");
    assert_eq!(a.2, b.2, "timeseries.csv");
}

#[test]
fn hpas_and_karpenter_follow_the_diurnal_trace() {
    // 20 peak nodes: 6 Deployments; at midnight the trace is at 32.5% of its peak, falling.
    let (_dir, s) = scenario(20, "1h");
    let mut sim = Sim::new(s).unwrap();
    sim.run_checked().unwrap();
    let rescales = sim
        .recorder
        .events()
        .iter()
        .filter(|e| e.reason == "SuccessfulRescale")
        .count();
    assert!(
        rescales >= 6,
        "every HPA rescales as the load falls: {rescales}"
    );
    let summary = sim.summary(None);
    let created = summary["pods"]["created"].as_u64().unwrap();
    // 6 Deployments start at ceil(peak × 0.325) replicas: 197 pods in all.
    assert!(created >= 197, "{created}");
    let launches = sim.recorder.counter("karpenterLaunches");
    // 197 pods of 500m need 7 m5.4xlarge nodes (31 pods each).
    assert!(launches >= 7, "{launches}");
    let ready = sim.pods.values().filter(|p| p.is_ready()).count();
    assert!(
        (60..197).contains(&ready),
        "scaled down from 197 to {ready}"
    );
}

#[test]
fn the_cluster_autoscaler_day_scales_its_node_group_up_and_down() {
    // The same 20-node day with the Cluster Autoscaler over the `workers` group instead of
    // Karpenter: it adds nodes for the first pods and removes some as the load falls.
    let (_dir, s) = with_autoscaler(20, "1h", NodeAutoscaler::ClusterAutoscaler);
    assert!(s.doc.metadata.name.ends_with("-cluster-autoscaler"));
    let mut sim = Sim::new(s).unwrap();
    sim.run_checked().unwrap();
    let summary = sim.summary(None);
    let ca = &summary["clusterAutoscaler"];
    assert!(ca["scaleUps"].as_u64().unwrap() >= 1, "{ca}");
    // 197 pods of 500m need 7 m5.4xlarge nodes (31 pods each).
    assert!(ca["nodesAdded"].as_u64().unwrap() >= 7, "{ca}");
    assert!(ca["nodesRemoved"].as_u64().unwrap() >= 1, "{ca}");
    assert_eq!(sim.recorder.counter("karpenterLaunches"), 0);
    let ready = sim.pods.values().filter(|p| p.is_ready()).count();
    assert!(
        (60..197).contains(&ready),
        "scaled down from 197 to {ready}"
    );
}

#[test]
fn report_charts_the_busiest_hpas_and_every_deployment_and_load() {
    use kscale_twin::sim::output::MAX_WORKLOAD_CHARTS;
    // 100 peak nodes: 30 Deployments, each with an HPA.
    let (_dir, s) = scenario(100, "2m");
    let mut sim = Sim::new(s).unwrap();
    sim.run();
    let out = sim.output();
    let hpa = |suffix: &str| -> Vec<&str> {
        out.charts
            .iter()
            .map(|c| c.title.as_str())
            .filter(|t| t.starts_with("HPA ") && t.contains(suffix))
            .collect()
    };
    let replicas = hpa(": replicas, desired, ready");
    assert_eq!(replicas.len(), MAX_WORKLOAD_CHARTS, "{replicas:?}");
    assert_eq!(
        hpa(": cpu_utilization vs target").len(),
        MAX_WORKLOAD_CHARTS
    );
    let metric = out
        .charts
        .iter()
        .find(|c| c.title.contains(": cpu_utilization vs target"))
        .unwrap();
    assert_eq!(metric.y_label, "%");
    assert_eq!(metric.series.len(), 2, "{:?}", metric.series);
    // The busiest (largest desired replicas plus the changes of replicas and desired), saying
    // what is left out.
    assert!(
        replicas[0].ends_with("(charts for the 20 busiest of 30 HPAs; all in timeseries.csv)"),
        "{}",
        replicas[0]
    );
    let ts = &out.timeseries;
    let score = |app: &str| -> f64 {
        let (mut peak, mut moved) = (0.0f64, 0.0f64);
        for field in ["replicas", "desired"] {
            let i = ts.column(&format!("hpa/default/{app}/{field}")).unwrap();
            let mut last = None::<f64>;
            for v in ts.rows.iter().map(|r| r[i]).filter(|v| v.is_finite()) {
                if field == "desired" {
                    peak = peak.max(v.abs());
                }
                if let Some(l) = last {
                    moved += (v - l).abs();
                }
                last = Some(v);
            }
        }
        peak + moved
    };
    let charted: Vec<String> = replicas
        .iter()
        .map(|t| t["HPA default/".len()..t.find(':').unwrap()].to_string())
        .collect();
    let least_charted = charted.iter().map(|a| score(a)).fold(f64::MAX, f64::min);
    for app in (0..30).map(|i| format!("app{i}")) {
        if !charted.contains(&app) {
            assert!(
                score(&app) <= least_charted,
                "{app} is busier than a charted HPA"
            );
        }
    }
    let scores: Vec<f64> = charted.iter().map(|a| score(a)).collect();
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "busiest first: {scores:?}"
    );
    // Deployments and loads: all 30 on one chart each (the report shows the busiest and
    // lets the reader pick the others).
    let deploy = out
        .charts
        .iter()
        .find(|c| c.title.starts_with("Deployments"))
        .expect("a Deployments chart");
    assert_eq!(deploy.series.len(), 3 * 30);
    assert_eq!(
        deploy.title,
        "Deployments: desired, pods, ready (30 Deployments)"
    );
    for (title, per_load) in [("Load:", 3), ("Latency", 3)] {
        let chart = out
            .charts
            .iter()
            .find(|c| c.title.starts_with(title))
            .unwrap();
        assert_eq!(chart.series.len(), per_load * 30, "{title}");
        assert!(chart.title.ends_with("(30 loads)"), "{}", chart.title);
        assert!(chart.series.iter().any(|c| c.contains("/app3/")));
    }
    // Every Deployment is still in the time series.
    let columns = &out.timeseries.columns;
    assert_eq!(
        columns.iter().filter(|c| c.starts_with("deploy/")).count(),
        90
    );
    assert!(columns.iter().any(|c| c == "deploy/default/app29/ready"));
}
