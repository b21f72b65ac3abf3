//! A kscale run backfilled into a real Prometheus server and read back: `kscale run`,
//! `kscale export openmetrics --start <2 h ago>`, `promtool tsdb create-blocks-from
//! openmetrics`, then `prometheus` on those blocks (loopback, no scrape targets); its
//! `/api/v1/query_range` answers must hold the run's `timeseries.csv` values at the run's
//! timestamps, and `kscale trace from-prometheus` must turn a saved answer back into the
//! run's load column.
//!
//! Needs `KSCALE_PROMETHEUS_BIN`, the folder `prometheus/build.sh` prints (`.ci/run` sets it
//! when the build succeeds); skipped with a message without it.

mod common;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{kscale, text};

/// The scenario backfilled: 45 minutes in which Karpenter takes the nodes from 1 to 6 and
/// back while the load steps, so both series change value at known times.
const SCENARIO: &str = "examples/karpenter-consolidation/scenario.yaml";
const LOAD_COLUMN: &str = "load/default/deployment/web/served_rps";

/// The folder holding `prometheus` and `promtool`, or `None` with a message saying the test
/// is skipped.
fn prometheus_bin(test: &str) -> Option<PathBuf> {
    match std::env::var_os("KSCALE_PROMETHEUS_BIN") {
        Some(d) => Some(PathBuf::from(d)),
        None => {
            eprintln!(
                "skipped {test}: set KSCALE_PROMETHEUS_BIN to the folder `bash prometheus/build.sh` prints"
            );
            None
        }
    }
}

/// A running Prometheus server, killed (and reaped) when dropped, a failed assertion included.
struct Server {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// A loopback port free at the time of asking.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// GET `base` + `path` with `query`: (HTTP status, body); `None` when nothing answers.
fn get(base: &str, path: &str, query: &[(&str, String)]) -> Option<(u16, String)> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut req = agent.get(format!("{base}{path}"));
    for (k, v) in query {
        req = req.query(*k, v);
    }
    let mut resp = req.call().ok()?;
    let status = resp.status().as_u16();
    let body = resp.body_mut().read_to_string().ok()?;
    Some((status, body))
}

/// Starts `prometheus` on the TSDB at `data` and waits until `/-/ready` answers 200. A port
/// taken between asking and binding is retried on another.
fn start_prometheus(bin: &Path, dir: &Path, data: &Path) -> Server {
    let config = dir.join("prometheus.yml");
    // No scrape targets, no rules, no alertmanagers: the server only serves the backfill.
    std::fs::write(
        &config,
        "global:\n  scrape_interval: 1m\nscrape_configs: []\n",
    )
    .unwrap();
    for attempt in 0..3 {
        let port = free_port();
        let log = dir.join(format!("prometheus-{attempt}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(bin.join("prometheus"))
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--storage.tsdb.retention.time=30d")
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.join("prometheus").display()));
        let mut server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = server.child.try_wait().unwrap() {
                let log = server.log_text();
                if log.contains("address already in use") && attempt < 2 {
                    break;
                }
                panic!("prometheus exited ({status}) before it was ready; its log:\n{log}");
            }
            if let Some((200, _)) = get(&server.base, "/-/ready", &[]) {
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "prometheus not ready after 30 s; its log:\n{}",
                server.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    unreachable!("the third attempt panics or returns")
}

/// Exports the run at `run` with t = 0 two hours ago, on a whole minute (inside the default
/// retention and before the head block Prometheus keeps for new samples), and backfills it
/// with promtool into `dir/data`: (t = 0 in Unix seconds, the TSDB folder).
fn backfill(bin: &Path, dir: &Path, run: &Path) -> (i64, PathBuf) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let start = now / 60 * 60 - 2 * 3600;
    let om = dir.join("run.om");
    let o = kscale()
        .args(["export", "openmetrics"])
        .arg(run)
        .arg("--start")
        .arg(jiff::Timestamp::from_second(start).unwrap().to_string())
        .arg("--out")
        .arg(&om)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "kscale export openmetrics: {}",
        text(&o)
    );
    // Backfilled by promtool; Prometheus refuses nothing it accepted.
    let data = dir.join("data");
    let o = Command::new(bin.join("promtool"))
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&om)
        .arg(&data)
        .output()
        .unwrap_or_else(|e| panic!("starting {}: {e}", bin.join("promtool").display()));
    assert!(
        o.status.success(),
        "promtool tsdb create-blocks-from openmetrics: {}",
        text(&o)
    );
    (start, data)
}

/// `timeseries.csv`'s `time_s` and `column`, as numbers (empty cells left out).
fn column(run: &Path, name: &str) -> Vec<(i64, f64)> {
    let csv = std::fs::read_to_string(run.join("timeseries.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header[0], "time_s");
    let i = header
        .iter()
        .position(|h| *h == name)
        .unwrap_or_else(|| panic!("timeseries.csv has no column {name}: {header:?}"));
    lines
        .filter_map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            let t: f64 = cells[0].parse().unwrap();
            let v = cells.get(i).filter(|v| !v.is_empty())?;
            Some((t.round() as i64, v.parse().unwrap()))
        })
        .collect()
}

/// The time between samples, checked to be the same throughout (a range query at that step
/// then lands on every sample).
fn step_of(samples: &[(i64, f64)]) -> i64 {
    let step = samples[1].0 - samples[0].0;
    assert!(step > 0);
    for w in samples.windows(2) {
        assert_eq!(
            w[1].0 - w[0].0,
            step,
            "timeseries.csv is not evenly spaced at {w:?}"
        );
    }
    step
}

/// A range query's single series: its labels and (Unix seconds, value) samples.
fn single_series(body: &str) -> (BTreeMap<String, String>, Vec<(i64, f64)>) {
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["status"], "success", "{body}");
    assert_eq!(v["data"]["resultType"], "matrix", "{body}");
    let result = v["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 1, "expected one series: {body}");
    let labels = result[0]["metric"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    let values = result[0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let t = p[0].as_f64().unwrap();
            assert_eq!(t.fract(), 0.0, "a sample off the whole second: {p}");
            (t as i64, p[1].as_str().unwrap().parse().unwrap())
        })
        .collect();
    (labels, values)
}

/// The run's samples shifted to wall-clock seconds from `start`.
fn at(start: i64, samples: &[(i64, f64)]) -> Vec<(i64, f64)> {
    samples.iter().map(|&(t, v)| (start + t, v)).collect()
}

#[test]
fn a_run_backfilled_into_real_prometheus_is_read_back_at_its_timestamps() {
    let Some(bin) =
        prometheus_bin("a_run_backfilled_into_real_prometheus_is_read_back_at_its_timestamps")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");

    // The run.
    let run = dir.join("run");
    let o = kscale()
        .args(["run", "-q", "--out"])
        .arg(&run)
        .arg(root.join(SCENARIO))
        .output()
        .unwrap();
    assert!(o.status.success(), "kscale run: {}", text(&o));
    let nodes = column(&run, "nodes");
    let load = column(&run, LOAD_COLUMN);
    let step = step_of(&nodes);
    let distinct = |s: &[(i64, f64)]| {
        let mut v: Vec<u64> = s.iter().map(|x| x.1.to_bits()).collect();
        v.sort_unstable();
        v.dedup();
        v.len()
    };
    assert!(
        distinct(&nodes) > 2 && distinct(&load) > 2,
        "{SCENARIO} no longer varies its nodes and load: the checks below would prove little"
    );

    let (start, data) = backfill(&bin, dir, &run);

    let server = start_prometheus(&bin, dir, &data);
    let end = start + nodes.last().unwrap().0;
    let range = |query: &str| {
        let q = [
            ("query", query.to_string()),
            ("start", start.to_string()),
            ("end", end.to_string()),
            ("step", step.to_string()),
        ];
        match get(&server.base, "/api/v1/query_range", &q) {
            Some((200, body)) => body,
            other => panic!(
                "query_range {query}: {other:?}; prometheus's log:\n{}",
                server.log_text()
            ),
        }
    };

    // kscale_nodes: the run's value at each of the run's timestamps, nothing else.
    let (labels, got) = single_series(&range("kscale_nodes"));
    assert_eq!(
        labels,
        BTreeMap::from([("__name__".to_string(), "kscale_nodes".to_string())])
    );
    assert_eq!(
        got,
        at(start, &nodes),
        "kscale_nodes read back from Prometheus"
    );
    // Nothing before t = 0: the export's timestamps are not shifted.
    let (status, body) = get(
        &server.base,
        "/api/v1/query",
        &[
            ("query", "kscale_nodes".into()),
            ("time", (start - 1).to_string()),
        ],
    )
    .expect("prometheus answers");
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(r#""result":[]"#),
        "a sample before t = 0: {body}"
    );

    // kscale_load_served_rps{namespace,kind,name}: its labels, and a saved answer turned
    // into a trace by `kscale trace from-prometheus` holds the run's load column.
    let body = range("kscale_load_served_rps");
    let (labels, got) = single_series(&body);
    assert_eq!(
        labels,
        BTreeMap::from(
            [
                ("__name__", "kscale_load_served_rps"),
                ("namespace", "default"),
                ("kind", "deployment"),
                ("name", "web"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        )
    );
    assert_eq!(got, at(start, &load), "kscale_load_served_rps read back");
    let saved = dir.join("served_rps.json");
    std::fs::write(&saved, &body).unwrap();
    let trace = dir.join("trace.csv");
    let o = kscale()
        .args(["trace", "from-prometheus"])
        .arg(&saved)
        .arg("--out")
        .arg(&trace)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "kscale trace from-prometheus: {}",
        text(&o)
    );
    let csv = std::fs::read_to_string(&trace).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("time,value"));
    let traced: Vec<(i64, f64)> = lines
        .map(|l| {
            let (t, v) = l.split_once(',').unwrap();
            (
                t.parse::<jiff::Timestamp>().unwrap().as_second(),
                v.parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(traced, at(start, &load), "the trace of the saved answer");
    drop(server);
}

/// `kscale snapshot --prometheus` against the real server: the quickstart's run backfilled,
/// its Deployments applied to a real control plane, the snapshot takes web's request rate as
/// a trace and fits cpuPerRequest from its CPU usage (the run's 10m per request).
#[test]
fn snapshot_reads_load_from_a_real_prometheus() {
    let test = "snapshot_reads_load_from_a_real_prometheus";
    let Some(bin) = prometheus_bin(test) else {
        return;
    };
    let Some(cp_bin) = common::real_bin(test) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let run = dir.join("run");
    let o = kscale()
        .args(["run", "-q", "--out"])
        .arg(&run)
        .arg(root.join("examples/quickstart/scenario.yaml"))
        .output()
        .unwrap();
    assert!(o.status.success(), "kscale run: {}", text(&o));
    let (start, data) = backfill(&bin, dir, &run);
    let server = start_prometheus(&bin, dir, &data);

    let cp = common::ControlPlane::up(&cp_bin, &dir.join("cp"));
    let node = dir.join("node.json");
    std::fs::write(
        &node,
        r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"worker-1","labels":{"node.kubernetes.io/instance-type":"m5.large","topology.kubernetes.io/zone":"us-east-1a"}}}"#,
    )
    .unwrap();
    let created = cp.kubectl(&["create", "-f", node.to_str().unwrap()]);
    let applied = cp.kubectl(&[
        "apply",
        "-f",
        root.join("examples/quickstart/manifests").to_str().unwrap(),
    ]);
    let snap = dir.join("snap");
    let snapshot = kscale()
        .args(["snapshot", "-q", "--kubeconfig"])
        .arg(cp.kubeconfig())
        .args(["--prometheus", &server.base, "--since", "3h", "--step", "10s"])
        .args([
            "--cpu-query",
            "sum(kscale_load_cpu_cores{namespace=\"$namespace\",name=\"$name\"})",
            "--query",
            "default/deployment/web=sum(kscale_load_served_rps{namespace=\"default\",name=\"web\"})",
        ])
        .arg("--out")
        .arg(&snap)
        .output()
        .unwrap();
    let down = cp.down();
    drop(server);

    assert!(created.status.success(), "{}", text(&created));
    assert!(applied.status.success(), "{}", text(&applied));
    assert_eq!(snapshot.status.code(), Some(0), "{}", text(&snapshot));
    assert_eq!(down.status.code(), Some(0), "{}", text(&down));
    let scenario = std::fs::read_to_string(snap.join("scenario.yaml")).unwrap();
    assert!(
        scenario.contains("target: default/deployment/web"),
        "{scenario}"
    );
    assert!(scenario.contains("cpuPerRequest: 10m"), "{scenario}");
    // The placeholder has no load series: no entry for it.
    assert!(!scenario.contains("deployment/placeholder"), "{scenario}");
    // The trace is the run's served requests at the run's times.
    let trace = std::fs::read_to_string(snap.join("traces/default-deployment-web.csv")).unwrap();
    let served = column(&run, "load/default/deployment/web/served_rps");
    let rows: BTreeMap<i64, f64> = trace
        .lines()
        .skip(1)
        .map(|row| {
            let (time, value) = row.split_once(',').unwrap();
            let ts: jiff::Timestamp = time.parse().unwrap();
            (ts.as_second(), value.parse().unwrap())
        })
        .collect();
    // Range queries are aligned to the step, so every sample of the run is a row (after the
    // run, Prometheus repeats the last value for its 5-minute lookback).
    for (t, v) in &served {
        assert_eq!(rows.get(&(start + t)), Some(v), "t = {t} s:\n{trace}");
    }
    assert_eq!(
        rows.keys().next(),
        Some(&start),
        "nothing before the run:\n{trace}"
    );
}
