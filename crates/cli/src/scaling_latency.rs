//! `kscale scaling-latency`: time to add N instances as new pods and as Elastic Pod container
//! replicas (seed 000's Figure 8), many seeded runs in parallel.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};
use kscale_report::{ChartSpec, RunOutput, TimeSeries};
use kscale_twin::scaling_latency::{Cell, Measurement, Method, SEED_FIGURE8, Targets, measure};
use rayon::prelude::*;
use serde_json::json;

use crate::object_ref;

/// Options of the command.
pub struct Options<'a> {
    /// The scenario.
    pub scenario: &'a Path,
    /// `deployment/NAME` or `NAMESPACE/deployment/NAME`.
    pub deployment: &'a str,
    /// `pod/NAME` or `NAMESPACE/pod/NAME`.
    pub pod: &'a str,
    /// The elastic container.
    pub container: &'a str,
    /// Largest N.
    pub max: u32,
    /// Runs per cell.
    pub runs: u32,
    /// Time of the scaling step (Go duration).
    pub at: &'a str,
    /// Output directory.
    pub out: Option<PathBuf>,
}

/// Runs the measurement and writes its report; exit code 2 on bad input.
pub fn run(o: Options) -> ExitCode {
    let targets = (|| -> Result<Targets, String> {
        if o.max == 0 || o.runs == 0 {
            return Err("--max and --runs must be at least 1".into());
        }
        Ok(Targets {
            deployment: object_ref(
                o.deployment,
                &["deployment", "deployments", "deploy"],
                "deployment",
            )?,
            pod: object_ref(o.pod, &["pod", "pods", "po"], "pod")?,
            container: o.container.to_string(),
            at_ms: kscale_model::parse_duration(o.at).map_err(|e| format!("--at: {e}"))?,
        })
    })();
    let targets = match targets {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let scenario = match kscale_twin::scenario::Scenario::load(o.scenario) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let (name, base_seed) = (scenario.name().to_string(), scenario.seed());
    if targets.at_ms >= scenario.doc.spec.duration.0 {
        eprintln!("error: --at {} is not before the end of the scenario", o.at);
        return ExitCode::from(2);
    }
    // Check the targets once, so a typo gives one error rather than one per run.
    if let Err(e) = measure(o.scenario, &targets, Method::Elastic, 1, base_seed) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let jobs: Vec<(Method, u32, u32)> = [Method::ReplicaSet, Method::Elastic]
        .into_iter()
        .flat_map(|m| (1..=o.max).flat_map(move |n| (0..o.runs).map(move |r| (m, n, r))))
        .collect();
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("CI").is_none()
    {
        let b = ProgressBar::new(jobs.len() as u64);
        b.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} runs {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let results: Vec<Result<Option<Measurement>, kscale_twin::error::InputError>> = jobs
        .par_iter()
        .map(|(m, n, r)| {
            let x = measure(o.scenario, &targets, *m, *n, base_seed + *r as u64);
            bar.inc(1);
            x
        })
        .collect();
    bar.finish_and_clear();
    let mut cells: Vec<(Method, u32, Vec<f64>, u64)> = vec![];
    for ((m, n, _), r) in jobs.iter().zip(results) {
        let v = match r {
            Ok(Some(v)) => v,
            Ok(None) => {
                eprintln!(
                    "error: {m:?} with N={n}: the instances were not all running by the end of the scenario (lengthen spec.duration, or check node room)"
                );
                return ExitCode::from(2);
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        match cells.iter_mut().find(|c| c.0 == *m && c.1 == *n) {
            Some(c) => {
                c.2.push(v.seconds);
                c.3 += v.api_writes;
            }
            None => cells.push((*m, *n, vec![v.seconds], v.api_writes)),
        }
    }
    let cell = |m: Method, n: u32| {
        let c = cells.iter().find(|c| c.0 == m && c.1 == n);
        let writes = c.map_or(0.0, |c| c.3 as f64 / c.2.len().max(1) as f64);
        (
            Cell::of(&c.map(|c| c.2.clone()).unwrap_or_default()),
            writes,
        )
    };
    type Row = (u32, (Cell, f64), (Cell, f64));
    let rows: Vec<Row> = (1..=o.max)
        .map(|n| (n, cell(Method::ReplicaSet, n), cell(Method::Elastic, n)))
        .collect();
    println!(
        "time to add N instances, mean of {} runs (min-max), seconds",
        o.runs
    );
    println!(
        "  N   ReplicaSet (new pods)    Elastic (container replicas)   reduction   pod API writes (RS / elastic)   seed (RS / elastic)"
    );
    for (n, (rs, rs_w), (el, el_w)) in &rows {
        let seed = SEED_FIGURE8
            .iter()
            .find(|s| s.0 == *n)
            .map(|s| format!("{:.2} / {:.2}", s.1, s.2))
            .unwrap_or_default();
        println!(
            "{n:>3}   {:>5.2} ({:>5.2}-{:>5.2})      {:>5.2} ({:>5.2}-{:>5.2})            {:>5.1}%      {:>12.1} / {:<12.1}    {seed}",
            rs.mean_seconds,
            rs.min_seconds,
            rs.max_seconds,
            el.mean_seconds,
            el.min_seconds,
            el.max_seconds,
            100.0 * (1.0 - el.mean_seconds / rs.mean_seconds),
            rs_w,
            el_w
        );
    }
    // The outcome: whether the elastic path is faster at every N (seed 000's claim).
    let faster = rows
        .iter()
        .filter(|(_, (rs, _), (el, _))| el.mean_seconds < rs.mean_seconds)
        .count();
    let mean_reduction = rows
        .iter()
        .map(|(_, (rs, _), (el, _))| 100.0 * (1.0 - el.mean_seconds / rs.mean_seconds))
        .sum::<f64>()
        / rows.len().max(1) as f64;
    let verdict = json!({
        "ok": faster == rows.len(),
        "headline": format!(
            "{}: elastic scaling faster than the ReplicaSet path at {faster} of {} sizes (mean reduction {mean_reduction:.1}%)",
            if faster == rows.len() { "OK" } else { "FAIL" },
            rows.len()
        ),
    });
    let output = RunOutput {
        name: format!("{name} scaling latency"),
        summary: json!({
            "verdict": verdict,
            "scenario": name,
            "runsPerCell": o.runs,
            "at": o.at,
            "seedFigure8": SEED_FIGURE8.iter().map(|s| json!({"instances": s.0, "replicaSetSeconds": s.1, "elasticSeconds": s.2})).collect::<Vec<_>>(),
            "rows": rows.iter().map(|(n, (rs, rs_w), (el, el_w))| json!({"instances": n, "replicaSet": rs, "elastic": el, "reductionPercent": 100.0 * (1.0 - el.mean_seconds / rs.mean_seconds), "podApiWrites": {"replicaSet": rs_w, "elastic": el_w}})).collect::<Vec<_>>(),
        }),
        events: vec![],
        transcript: vec![],
        timeseries: TimeSeries {
            columns: [
                "instances",
                "replicaset_mean_s",
                "elastic_mean_s",
                "replicaset_max_s",
                "elastic_max_s",
                "replicaset_api_writes",
                "elastic_api_writes",
            ]
            .map(String::from)
            .to_vec(),
            rows: rows
                .iter()
                .map(|(n, (rs, rs_w), (el, el_w))| {
                    vec![
                        *n as f64,
                        rs.mean_seconds,
                        el.mean_seconds,
                        rs.max_seconds,
                        el.max_seconds,
                        *rs_w,
                        *el_w,
                    ]
                })
                .collect(),
            x_label: Some("instances added (N)".into()),
        },
        charts: vec![
            ChartSpec {
                guides: vec![],
                title: "Time to add N instances (seed 000, Figure 8)".into(),
                y_label: "seconds".into(),
                series: vec![
                    "replicaset_mean_s".into(),
                    "elastic_mean_s".into(),
                    "replicaset_max_s".into(),
                    "elastic_max_s".into(),
                ],
            },
            ChartSpec {
                guides: vec![],
                title: "Pod writes to the API server per scale-up".into(),
                y_label: "writes".into(),
                series: vec!["replicaset_api_writes".into(), "elastic_api_writes".into()],
            },
        ],
    };
    let dir = o
        .out
        .unwrap_or_else(|| PathBuf::from("kscale-out").join(format!("{name}-scaling-latency")));
    if let Err(e) = kscale_report::write_outputs(&dir, &output) {
        eprintln!("error: {e}");
        return ExitCode::from(1);
    }
    println!("report: {}", dir.join("report.html").display());
    ExitCode::SUCCESS
}
