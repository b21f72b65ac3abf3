//! `kscale headroom`: the over-provisioning trade-off, run in parallel across cores.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};
use kscale_report::{ChartSpec, RunOutput, TimeSeries};
use kscale_twin::headroom::{HeadroomRow, Source, cheapest_meeting, run_variant};
use rayon::prelude::*;
use serde_json::json;

/// Splits `deployment/NAME` or `NAMESPACE/deployment/NAME` into (namespace, name).
fn deployment_ref(s: &str, flag: &str) -> Result<(String, String), String> {
    let parts: Vec<&str> = s.split('/').collect();
    let (ns, kind, name) = match parts.as_slice() {
        [k, n] => ("default", *k, *n),
        [ns, k, n] => (*ns, *k, *n),
        _ => {
            return Err(format!(
                "--{flag} {s:?}: expected deployment/NAME or NAMESPACE/deployment/NAME"
            ));
        }
    };
    if !matches!(kind, "deployment" | "deployments" | "deploy") || name.is_empty() {
        return Err(format!("--{flag} {s:?}: only Deployments are supported"));
    }
    Ok((ns.to_string(), name.to_string()))
}

/// Splits `capacitybuffer/NAME` or `NAMESPACE/capacitybuffer/NAME` into (namespace, name).
fn buffer_ref(s: &str) -> Result<(String, String), String> {
    let parts: Vec<&str> = s.split('/').collect();
    let (ns, kind, name) = match parts.as_slice() {
        [k, n] => ("default", *k, *n),
        [ns, k, n] => (*ns, *k, *n),
        _ => return Err(format!("--buffer {s:?}: expected capacitybuffer/NAME")),
    };
    if !matches!(kind, "capacitybuffer" | "capacitybuffers") || name.is_empty() {
        return Err(format!("--buffer {s:?}: expected capacitybuffer/NAME"));
    }
    Ok((ns.to_string(), name.to_string()))
}

/// Runs the sweep and writes its report; exit code 2 on bad input.
pub fn run(
    scenario: &Path,
    pause: Option<&str>,
    buffer: Option<&str>,
    workload: &str,
    replicas: &[i64],
    max_p99: &str,
    from: Option<&str>,
    out: Option<PathBuf>,
) -> ExitCode {
    let parsed = (|| -> Result<_, String> {
        let pause =
            match (pause, buffer) {
                (Some(p), None) => {
                    let (ns, n) = deployment_ref(p, "pause")?;
                    Source::PausePods(ns, n)
                }
                (None, Some(b)) => {
                    let (ns, n) = buffer_ref(b)?;
                    Source::Buffer(ns, n)
                }
                _ => return Err(
                    "give exactly one of --pause deployment/NAME and --buffer capacitybuffer/NAME"
                        .into(),
                ),
            };
        let (wns, wname) = deployment_ref(workload, "workload")?;
        let max_ms =
            kscale_model::parse_duration(max_p99).map_err(|e| format!("--max-p99: {e}"))?;
        if replicas.is_empty() || replicas.iter().any(|r| *r < 0) {
            return Err("--replicas: give non-negative counts, e.g. 0,1,2".into());
        }
        let from = from
            .map(kscale_model::parse_duration)
            .transpose()
            .map_err(|e| format!("--from: {e}"))?;
        Ok((
            pause,
            format!("{wns}/deployment/{wname}"),
            max_ms as f64 / 1000.0,
            from,
        ))
    })();
    let (pause, workload, max_s, from) = match parsed {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    // Validate once up front, so a bad scenario reports one error rather than one per run.
    let name = match kscale_twin::scenario::Scenario::load(scenario) {
        Ok(s) => s.name().to_string(),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("CI").is_none()
    {
        let b = ProgressBar::new(replicas.len() as u64);
        b.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} runs {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let results: Vec<Result<HeadroomRow, kscale_twin::error::InputError>> = replicas
        .par_iter()
        .map(|r| {
            let row = run_variant(scenario, &pause, &workload, *r, from);
            bar.inc(1);
            row
        })
        .collect();
    bar.finish_and_clear();
    let mut rows = vec![];
    for r in results {
        match r {
            Ok(row) => rows.push(row),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    }
    if rows.iter().all(|r| r.pods_started == 0) {
        eprintln!("error: no pod of {workload} started in any run: check --workload");
        return ExitCode::from(2);
    }
    let best = cheapest_meeting(&rows, max_s);
    let base = rows
        .iter()
        .find(|r| r.replicas == 0)
        .map(|r| r.cost_per_day_usd)
        .unwrap_or(rows[0].cost_per_day_usd);
    println!(
        "      replicas   pods started   p50 start (s)   p99 start (s)   cost/day (USD)   added/day (USD)"
    );
    for (i, r) in rows.iter().enumerate() {
        let mark = if Some(i) == best {
            format!("  <- cheapest with p99 <= {max_p99}")
        } else {
            String::new()
        };
        println!(
            "{:>14}   {:>12}   {:>13.1}   {:>13.1}   {:>14.2}   {:>15.2}{mark}",
            r.replicas,
            r.pods_started,
            r.p50_seconds,
            r.p99_seconds,
            r.cost_per_day_usd,
            r.cost_per_day_usd - base
        );
    }
    if best.is_none() {
        println!("no setting meets p99 <= {max_p99}");
    }
    let output = RunOutput {
        name: format!("{name} headroom"),
        summary: json!({
            "scenario": name, "pause": pause.describe(), "workload": workload,
            "maxP99Seconds": max_s, "cheapestMeetingTarget": best.map(|i| rows[i].replicas), "rows": rows,
        }),
        events: vec![],
        transcript: vec![],
        timeseries: TimeSeries {
            columns: [
                "pause_replicas",
                "p50_start_s",
                "p99_start_s",
                "max_start_s",
                "cost_per_day_usd",
                "added_cost_per_day_usd",
            ]
            .map(String::from)
            .to_vec(),
            rows: rows
                .iter()
                .map(|r| {
                    vec![
                        r.replicas as f64,
                        r.p50_seconds,
                        r.p99_seconds,
                        r.max_seconds,
                        r.cost_per_day_usd,
                        r.cost_per_day_usd - base,
                    ]
                })
                .collect(),
            x_label: Some(format!("replicas of {}", pause.describe())),
        },
        charts: vec![
            ChartSpec {
                title: format!("Start-up latency of {workload}"),
                y_label: "seconds".into(),
                series: vec![
                    "p50_start_s".into(),
                    "p99_start_s".into(),
                    "max_start_s".into(),
                ],
            },
            ChartSpec {
                title: "Cost per day".into(),
                y_label: "USD per day".into(),
                series: vec!["cost_per_day_usd".into(), "added_cost_per_day_usd".into()],
            },
        ],
    };
    let dir = out.unwrap_or_else(|| PathBuf::from("kscale-out").join(format!("{name}-headroom")));
    if let Err(e) = kscale_report::write_outputs(&dir, &output) {
        eprintln!("error: {e}");
        return ExitCode::from(1);
    }
    println!("report: {}", dir.join("report.html").display());
    ExitCode::SUCCESS
}
