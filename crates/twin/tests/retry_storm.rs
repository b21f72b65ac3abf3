//! Client timeouts and retries in the load model (crates/twin/src/load.rs) over a whole run: a
//! retry storm on an overloaded service, the outputs of the client model, and its validation.

use std::sync::Arc;

use kscale_twin::scenario::Scenario;
use kscale_twin::sim::Sim;

const MANIFESTS: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: api}}\n  template:\n    metadata: {labels: {app: api}}\n    spec:\n      containers:\n      - {name: app, image: api, resources: {requests: {cpu: 500m, memory: 256Mi}, limits: {cpu: 500m, memory: 256Mi}}}\n";

/// Writes the scenario: 2 pods of 10 req/s each (500m / 50m), 30 req/s offered for 10 minutes,
/// `extra` appended to the load entry.
fn scenario(dir: &std::path::Path, extra: &str) -> std::path::PathBuf {
    std::fs::write(dir.join("m.yaml"), MANIFESTS).unwrap();
    let s = format!(
        "apiVersion: kscale.io/v1alpha1\nkind: Scenario\nmetadata: {{name: storm}}\nspec:\n  duration: 10m\n  nodes: [{{name: n, instanceType: m5.large, count: 1}}]\n  manifests: [m.yaml]\n  load:\n    - target: deployment/api\n      requestsPerSecond: {{constant: 30}}\n      cpuPerRequest: 50m\n{extra}"
    );
    let p = dir.join("s.yaml");
    std::fs::write(&p, s).unwrap();
    p
}

fn run(extra: &str) -> Sim {
    let dir = tempfile::tempdir().unwrap();
    let mut sim = Sim::new(Arc::new(
        Scenario::load(&scenario(dir.path(), extra)).unwrap(),
    ))
    .unwrap();
    sim.run_checked().unwrap();
    sim
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * (1.0 + a.abs() + b.abs())
}

#[test]
fn retries_on_an_overloaded_service_make_a_retry_storm() {
    let plain = run("      timeout: 2s\n");
    let storm = run("      timeout: 2s\n      retries: {attempts: 3, backoff: 1s}\n");
    let (p, s) = (plain.load.state(0), storm.load.state(0));
    // The same users: retries are not new requests.
    assert_eq!(p.offered, s.offered);
    assert!(p.offered > 17_000.0, "{}", p.offered);
    // Without retries every try is a user request; with them the service sees far more tries
    // (20 req/s of capacity for 30 offered: most failed tries come back, up to 3 times).
    assert_eq!(p.attempts, p.offered);
    assert!(
        s.attempts > 1.5 * s.offered,
        "{} tries for {}",
        s.attempts,
        s.offered
    );
    // ... for no more served requests, and no fewer failed ones: the capacity is the same and
    // the run ends in overload, so a request still waiting for its retry at the end has failed
    // every try so far (counted with the failed ones, as it is not served).
    assert!(s.served <= p.served + 1e-6, "{} vs {}", s.served, p.served);
    assert_eq!(p.clients.retrying(), 0.0);
    let unserved = s.failed + s.clients.retrying();
    assert!(unserved >= p.failed - 1e-6, "{unserved} vs {}", p.failed);
    assert!(s.failed > 0.9 * p.failed, "{} vs {}", s.failed, p.failed);
    assert!(
        s.timed_out > 2.0 * p.timed_out,
        "{} vs {}",
        s.timed_out,
        p.timed_out
    );
    for (sim, x) in [(&plain, p), (&storm, s)] {
        // Per try and per user request, nothing is lost.
        let by_try = x.served + x.dropped + x.rejected + x.timed_out + x.backlog;
        assert!(close(x.attempts, by_try), "{} vs {by_try}", x.attempts);
        let by_request = x.served + x.failed + x.backlog + x.clients.retrying();
        assert!(
            close(x.offered, by_request),
            "{} vs {by_request}",
            x.offered
        );
        // Clients wait 2 s at most: no served request took longer than that and its service.
        let ts = sim.timeseries();
        let col = |c: &str| {
            ts.columns
                .iter()
                .position(|n| n == &format!("load/default/deployment/api/{c}"))
                .unwrap_or_else(|| panic!("no column {c}"))
        };
        let p99 = col("latency_p99_ms");
        assert!(ts.rows.iter().all(|r| r[p99] <= 2050.0 + 1e-9));
        let (attempts, retries, offered) =
            (col("attempts_rps"), col("retries_rps"), col("offered_rps"));
        let last = ts.rows.last().unwrap();
        assert!(close(last[attempts], last[offered] + last[retries]));
    }
    // The storm is visible in the time series: tries per second well above the users'.
    let ts = storm.timeseries();
    let col = |c: &str| {
        ts.columns
            .iter()
            .position(|n| n == &format!("load/default/deployment/api/{c}"))
            .unwrap()
    };
    let last = ts.rows.last().unwrap();
    assert!(
        last[col("attempts_rps")] > 1.5 * last[col("offered_rps")],
        "{} tries/s",
        last[col("attempts_rps")]
    );
    // The summary has the client model's counts.
    let summary = storm.output().summary;
    let load = &summary["loads"][0];
    for key in [
        "timedOutRequests",
        "attempts",
        "retries",
        "failedRequests",
        "retryingAtEnd",
    ] {
        assert!(load.get(key).is_some(), "{key}: {load}");
    }
}

#[test]
fn entries_without_a_client_model_keep_their_outputs() {
    let sim = run("");
    let s = sim.load.state(0);
    assert_eq!((s.timed_out, s.attempts, s.failed), (0.0, 0.0, 0.0));
    let out = sim.output();
    let load = out.summary["loads"][0].as_object().unwrap();
    assert_eq!(
        load.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "target",
            "offeredRequests",
            "servedRequests",
            "droppedRequests",
            "rejectedRequests",
            "queuedAtEnd",
            "sloViolationSeconds"
        ]
    );
    let ts = sim.timeseries();
    assert!(!ts.columns.iter().any(|c| c.ends_with("/attempts_rps")
        || c.ends_with("/retries_rps")
        || c.ends_with("/timed_out_rps")));
    // A timeout alone adds the columns (and no retries).
    let sim = run("      timeout: 2s\n");
    let summary = sim.output().summary;
    assert_eq!(summary["loads"][0]["retryingAtEnd"].to_string(), "0.0");
    assert!(
        sim.timeseries()
            .columns
            .iter()
            .any(|c| c.ends_with("/timed_out_rps"))
    );
    assert_eq!(sim.load.state(0).clients.retrying(), 0.0);
}

#[test]
fn timeouts_and_retries_are_validated() {
    let dir = tempfile::tempdir().unwrap();
    let err = |extra: &str| {
        Scenario::load(&scenario(dir.path(), extra))
            .unwrap_err()
            .to_string()
    };
    let e = err("      timeout: 0s\n");
    assert!(
        e.contains("spec.load[0].timeout") && e.contains("s.yaml:12"),
        "{e}"
    );
    let e = err("      retries: {attempts: 11}\n");
    assert!(
        e.contains("spec.load[0].retries.attempts") && e.contains("between 0 and 10"),
        "{e}"
    );
    let e = err("      retries: {attempts: -1}\n");
    assert!(e.contains("spec.load[0].retries.attempts"), "{e}");
    // As every duration field: the parse error at the field's line and column.
    let e = err("      retries: {backoff: -1s}\n");
    assert!(e.contains("s.yaml:12:26") && e.contains("negative"), "{e}");
    let e = err("      retries: {attempts: 2, backof: 1s}\n");
    assert!(e.contains("backof"), "{e}");
    let e = err("      timeout: soon\n");
    assert!(
        e.contains("s.yaml:12:16") && e.contains("invalid duration"),
        "{e}"
    );
    // Defaults: no retries, no back-off.
    let s = Scenario::load(&scenario(
        dir.path(),
        "      retries: {}\n      timeout: 1500ms\n",
    ))
    .unwrap();
    assert_eq!(
        s.loads[0].retries,
        Some(kscale_twin::load::RetryPolicy {
            attempts: 0,
            backoff_ms: 0
        })
    );
    assert_eq!(s.loads[0].timeout_ms, Some(1500));
}
