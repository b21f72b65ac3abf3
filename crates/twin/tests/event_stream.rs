//! Handing the events out during the run (`Sim::run_draining`): the caller gets every event
//! once, in order, and the run's outputs are those of `Sim::run`.

use std::ops::ControlFlow;
use std::sync::Arc;

use kscale_report::{EventRecord, RunOutput};
use kscale_twin::bench::BenchParams;
use kscale_twin::scenario::Scenario;
use kscale_twin::sim::Sim;
use kscale_twin::sim::event_stream::{RunSink, SAMPLE_BATCH, step_reads_events};

/// The benchmark scenario at a small size (no kubectl steps), written to a temporary folder.
fn bench(peak_nodes: u32, duration: &str) -> (tempfile::TempDir, Arc<Scenario>) {
    let dir = tempfile::tempdir().unwrap();
    let params = BenchParams {
        peak_nodes,
        duration: duration.into(),
        ..BenchParams::default()
    };
    for (name, text) in kscale_twin::bench::files(&params) {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let s = Scenario::load(&dir.path().join("scenario.yaml")).unwrap();
    (dir, Arc::new(s))
}

/// The contents of the data files and the charts drawn (NaN cells compare equal here).
fn files(out: &RunOutput) -> [String; 5] {
    [
        kscale_report::render_summary_json(&out.summary).unwrap(),
        kscale_report::render_events_jsonl(&out.events).unwrap(),
        kscale_report::render_transcript_jsonl(&out.transcript).unwrap(),
        kscale_report::render_timeseries_csv(&out.timeseries).unwrap(),
        format!("{:?}", out.charts),
    ]
}

/// Runs with `run_draining`: the batches handed out and the finished simulation.
fn drained(s: &Arc<Scenario>, batch: usize) -> (Vec<Vec<EventRecord>>, Sim) {
    let mut sim = Sim::new(s.clone()).unwrap();
    let mut batches = Vec::new();
    let flow = sim.run_draining(batch, &mut |mut b| {
        let spare = Vec::with_capacity(b.len());
        batches.push(std::mem::replace(&mut b, spare));
        // A used buffer comes back with stale contents: the simulation empties it.
        b.push(batches[0][0].clone());
        ControlFlow::Continue(b)
    });
    assert_eq!(flow, ControlFlow::Continue(()));
    (batches, sim)
}

#[test]
fn drained_events_are_the_run_events_and_the_outputs_unchanged() {
    let (_dir, s) = bench(20, "40m");
    let mut plain = Sim::new(s.clone()).unwrap();
    plain.run();
    let expected = plain.output();
    assert!(expected.events.len() > 1500, "{}", expected.events.len());

    for batch in [1, 97, 500] {
        let (batches, sim) = drained(&s, batch);
        // Handed out after the event (of the queue) that fills a batch: one may record several.
        assert!(
            batches.iter().all(|b| b.len() >= batch),
            "full batches only"
        );
        assert!(
            batches.len() >= 2,
            "batch {batch}: {} batches",
            batches.len()
        );
        assert!(
            sim.recorder.events().len() < batch,
            "the rest stays in the simulation"
        );
        let mut out = sim.into_output();
        let mut all: Vec<EventRecord> = batches.into_iter().flatten().collect();
        all.append(&mut out.events);
        assert_eq!(all, expected.events);
        out.events = all;
        assert_eq!(files(&out), files(&expected), "batch {batch}");
    }
}

#[test]
fn a_sink_that_breaks_stops_the_run() {
    let (_dir, s) = bench(10, "30m");
    let mut sim = Sim::new(s).unwrap();
    let mut calls = 0;
    let flow = sim.run_draining(50, &mut |_| {
        calls += 1;
        ControlFlow::Break(())
    });
    assert_eq!(flow, ControlFlow::Break(()));
    assert_eq!(calls, 1);
    assert!(sim.now < sim.end, "stopped at {} of {}", sim.now, sim.end);
}

#[test]
fn events_stay_when_a_step_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in kscale_twin::bench::files(&BenchParams {
        peak_nodes: 10,
        duration: "10m".into(),
        ..BenchParams::default()
    }) {
        let text = if name == "scenario.yaml" {
            format!("{text}  steps:\n    - {{at: 5m, run: kubectl get events -A}}\n")
        } else {
            text
        };
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let s = Arc::new(Scenario::load(&dir.path().join("scenario.yaml")).unwrap());
    let mut plain = Sim::new(s.clone()).unwrap();
    assert!(!plain.events_drainable());
    plain.run();
    let (batches, sim) = drained(&s, 10);
    assert!(batches.is_empty());
    assert!(sim.recorder.transcript()[0].stdout.contains("Scheduled"));
    assert_eq!(files(&sim.output()), files(&plain.output()));
}

#[test]
fn steps_that_read_events() {
    for line in [
        "kubectl get events",
        "kubectl get ev -A",
        "kubectl get pods",
        "kubectl describe pod web-1",
        "kubectl delete events --all",
        "kubectl delete ev -l app=web",
        "kubectl get widgets",
    ] {
        assert!(step_reads_events(line), "{line}");
    }
    for line in [
        "kubectl scale deployment web --replicas=3",
        "kubectl delete pod web-1",
        "kubectl delete pods --all",
        "kubectl apply -f more.yaml",
        "kubectl cordon node-1",
    ] {
        assert!(!step_reads_events(line), "{line}");
    }
}

/// A sink taking the time-series rows as well as the events.
struct Collect {
    events: usize,
    rows: Vec<Vec<f64>>,
    calls: usize,
}

impl RunSink for Collect {
    fn events(&mut self, batch: Vec<EventRecord>) -> ControlFlow<(), Vec<EventRecord>> {
        self.events += batch.len();
        ControlFlow::Continue(Vec::new())
    }

    fn takes_samples(&self) -> bool {
        true
    }

    fn samples(&mut self, mut rows: Vec<Vec<f64>>) -> ControlFlow<()> {
        assert_eq!(rows.len(), SAMPLE_BATCH);
        self.calls += 1;
        self.rows.append(&mut rows);
        ControlFlow::Continue(())
    }
}

#[test]
fn handed_out_samples_are_the_time_series_and_the_summary_unchanged() {
    // 3 h at one sample a minute: 181 rows, two batches handed out during the run.
    let (_dir, s) = bench(20, "3h");
    let mut plain = Sim::new(s.clone()).unwrap();
    plain.run();
    let expected = plain.output();
    assert_eq!(expected.timeseries.rows.len(), 181);

    let mut sim = Sim::new(s).unwrap();
    let mut sink = Collect {
        events: 0,
        rows: vec![],
        calls: 0,
    };
    assert_eq!(sim.run_streaming(500, &mut sink), ControlFlow::Continue(()));
    assert_eq!(sink.calls, 2);
    assert_eq!(sim.samples_held(), 181 - 2 * SAMPLE_BATCH);
    assert_eq!(sim.samples_taken(), 181);
    sink.rows.extend(sim.drain_samples());
    let order = sim.sample_column_order();
    let out = sim.into_output();
    assert!(out.timeseries.rows.is_empty());
    assert_eq!(out.timeseries.columns, expected.timeseries.columns);
    // The rows handed out, put in the output's column order, are the time series.
    let rows: Vec<Vec<f64>> = sink
        .rows
        .iter()
        .map(|r| {
            order
                .iter()
                .map(|&i| r.get(i).copied().unwrap_or(0.0))
                .collect()
        })
        .collect();
    let ts = kscale_report::TimeSeries {
        rows,
        ..out.timeseries.clone()
    };
    assert_eq!(
        kscale_report::render_timeseries_csv(&ts).unwrap(),
        kscale_report::render_timeseries_csv(&expected.timeseries).unwrap()
    );
    // The summary (its maxima of nodes and pending pods included) does not depend on it.
    assert_eq!(out.summary, expected.summary);
    assert_eq!(out.charts, expected.charts);
}
