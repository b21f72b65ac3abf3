//! `examples/queue-worker`: an HPA on an External metric (queue length per worker) and a Pods
//! metric (jobs/s per worker) fed by the load model's custom and external metrics pipeline.

mod common;

use kscale_twin::scenario::Scenario;
use kscale_twin::sim::Sim;

fn run() -> Sim {
    common::run_example("queue-worker/scenario.yaml")
}

#[test]
fn scales_on_queue_length_then_on_the_rate() {
    let sim = run();
    let rescales: Vec<(f64, &str)> = sim
        .recorder
        .events()
        .iter()
        .filter(|e| e.reason == "SuccessfulRescale")
        .map(|e| (e.time, e.message.as_str()))
        .collect();
    let ext = "external metric queue_length(&LabelSelector{MatchLabels:map[string]string{queue: orders,},MatchExpressions:[]LabelSelectorRequirement{},}) above target";
    assert_eq!(
        rescales,
        vec![
            // 20 jobs/s on 2 workers of 10 jobs/s: 10/s each vs 8 → ceil(1.25 · 2) = 3.
            (
                60.0,
                "New size: 3; reason: pods metric requests_per_second above target"
            ),
            // 60 jobs/s from 5m: the queue grows by 30/s; the first poll after it (330 s) sees
            // ~150 per worker vs 20 → 23, capped at max(2·3, 4) = 6, then 10 (maxReplicas).
            (330.0, &format!("New size: 6; reason: {ext}")),
            (345.0, &format!("New size: 10; reason: {ext}")),
            // Queue drained, 6 jobs/s per worker → ceil(0.75 · 10) = 8 after the 5-minute
            // downscale stabilization; 7.5/8 is then within the 10% tolerance.
            (705.0, "New size: 8; reason: All metrics below target"),
            // 10 jobs/s from 15m: 1.25 per worker → ceil(0.156 · 8) = 2, five minutes later.
            (1215.0, "New size: 2; reason: All metrics below target"),
        ]
    );
    let ts = sim.timeseries();
    let col = |name: &str| ts.columns.iter().position(|c| c == name).unwrap();
    let at = |t: f64, c: usize| ts.rows.iter().find(|r| r[0] >= t).unwrap()[c];
    let backlog = col("load/default/deployment/worker/backlog");
    let ready = col("hpa/default/worker/ready");
    let queue = col("hpa/default/worker/external_queue_length/current");
    let peak = ts.rows.iter().map(|r| r[backlog]).fold(0.0, f64::max);
    assert!((1000.0..2000.0).contains(&peak), "peak backlog {peak}");
    assert_eq!(at(420.0, backlog), 0.0, "10 workers drain the queue");
    assert_eq!(at(420.0, ready), 10.0);
    assert_eq!(
        at(360.0, queue),
        119.0,
        "queue length per worker the HPA saw"
    );
    // kubectl's TARGETS column for an External AverageValue and a Pods metric.
    assert!(
        sim.recorder.transcript()[0]
            .stdout
            .contains("150/20 (avg), 10/8"),
        "{}",
        sim.recorder.transcript()[0].stdout
    );
    assert!(
        sim.recorder.transcript()[1]
            .stdout
            .contains("0/20 (avg), 7500m/8")
    );
    // Nothing is lost but the 17 s × 20 jobs/s offered before the first worker was ready (the
    // queue limit is large): a queue consumer trades latency for drops.
    let s = sim.load.state(0);
    assert_eq!((s.dropped, s.rejected), (340.0, 0.0));
}

#[test]
fn metrics_section_is_validated() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = |metrics: &str| {
        format!(
            "apiVersion: kscale.io/v1alpha1\nkind: Scenario\nmetadata: {{name: m}}\nspec:\n  duration: 1m\n  metrics: {metrics}\n"
        )
    };
    let p = dir.path().join("s.yaml");
    std::fs::write(&p, scenario("{customIntervall: 30s}")).unwrap();
    let e = Scenario::load(&p).unwrap_err().to_string();
    assert!(e.contains("customIntervall"), "{e}");
    std::fs::write(&p, scenario("{externalInterval: 500ms}")).unwrap();
    let e = Scenario::load(&p).unwrap_err().to_string();
    assert!(
        e.contains("spec.metrics.externalInterval") && e.contains("at least 1s"),
        "{e}"
    );
    std::fs::write(&p, scenario("{customInterval: 1m}")).unwrap();
    assert_eq!(
        Scenario::load(&p).unwrap().metrics.custom_interval_ms,
        60_000
    );
}

#[test]
fn custom_and_external_metrics_are_deterministic() {
    let (a, b) = (run().output(), run().output());
    assert_eq!(
        kscale_report::render_timeseries_csv(&a.timeseries).unwrap(),
        kscale_report::render_timeseries_csv(&b.timeseries).unwrap()
    );
    assert_eq!(
        kscale_report::render_events_jsonl(&a.events).unwrap(),
        kscale_report::render_events_jsonl(&b.events).unwrap()
    );
    assert_eq!(a.summary, b.summary);
}
