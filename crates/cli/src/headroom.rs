//! `kscale headroom`: the over-provisioning trade-off, run in parallel across cores.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};
use kscale_report::{ChartSpec, RunOutput, TimeSeries};
use kscale_twin::headroom::{HeadroomRow, Source, cheapest_meeting, run_variant};
use rayon::prelude::*;
use serde_json::json;

use crate::object_ref;

/// Kinds accepted for a Deployment reference.
const DEPLOYMENT: &[&str] = &["deployment", "deployments", "deploy"];

/// Options of `kscale headroom`.
pub struct Options<'a> {
    /// The scenario.
    pub scenario: &'a Path,
    /// `--pause deployment/NAME`.
    pub pause: Option<&'a str>,
    /// `--buffer capacitybuffer/NAME`.
    pub buffer: Option<&'a str>,
    /// `--workload deployment/NAME`.
    pub workload: &'a str,
    /// Replica counts to try.
    pub replicas: &'a [i64],
    /// Start-up p99 target (Go duration).
    pub max_p99: &'a str,
    /// Most SLO violation time a setting may have (Go duration), if any.
    pub max_slo_violation: Option<&'a str>,
    /// Count pods created from then on.
    pub from: Option<&'a str>,
    /// Output directory.
    pub out: Option<PathBuf>,
}

/// Runs the sweep and writes its report; exit code 2 on bad input.
pub fn run(o: Options) -> ExitCode {
    let Options {
        scenario,
        pause,
        buffer,
        workload,
        replicas,
        max_p99,
        max_slo_violation,
        from,
        out,
    } = o;
    let parsed = (|| -> Result<_, String> {
        let pause =
            match (pause, buffer) {
                (Some(p), None) => {
                    let (ns, n) = object_ref(p, DEPLOYMENT, "pause")?;
                    Source::PausePods(ns, n)
                }
                (None, Some(b)) => {
                    let (ns, n) = object_ref(b, &["capacitybuffer", "capacitybuffers"], "buffer")?;
                    Source::Buffer(ns, n)
                }
                _ => return Err(
                    "give exactly one of --pause deployment/NAME and --buffer capacitybuffer/NAME"
                        .into(),
                ),
            };
        let (wns, wname) = object_ref(workload, DEPLOYMENT, "workload")?;
        let max_ms =
            kscale_model::parse_duration(max_p99).map_err(|e| format!("--max-p99: {e}"))?;
        if replicas.is_empty() || replicas.iter().any(|r| *r < 0) {
            return Err("--replicas: give non-negative counts, e.g. 0,1,2".into());
        }
        // A replica count is an int32 in the API; each pause pod is simulated.
        const MAX_REPLICAS: i64 = 100_000;
        if let Some(r) = replicas.iter().find(|r| **r > MAX_REPLICAS) {
            return Err(format!(
                "--replicas: {r} pause pods cannot be simulated on this machine; the limit is {MAX_REPLICAS}"
            ));
        }
        let from = from
            .map(kscale_model::parse_duration)
            .transpose()
            .map_err(|e| format!("--from: {e}"))?;
        let max_slo = max_slo_violation
            .map(kscale_model::parse_duration)
            .transpose()
            .map_err(|e| format!("--max-slo-violation: {e}"))?
            .map(|ms| ms as f64 / 1000.0);
        Ok((
            pause,
            format!("{wns}/deployment/{wname}"),
            max_ms as f64 / 1000.0,
            from,
            max_slo,
        ))
    })();
    let (pause, workload, max_s, from, max_slo) = match parsed {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    // Validate once up front, so a bad scenario reports one error rather than one per run,
    // and a swept or measured object that does not exist is an error, not identical rows.
    let name = match kscale_twin::scenario::Scenario::load(scenario) {
        Ok(s) => s.name().to_string(),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = kscale_twin::headroom::check_targets(scenario, &pause, &workload) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
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
    let best = cheapest_meeting(&rows, max_s, max_slo);
    let target = match max_slo_violation {
        Some(m) => format!("p99 <= {max_p99} and SLO violation <= {m}"),
        None => format!("p99 <= {max_p99}"),
    };
    let base = rows
        .iter()
        .find(|r| r.replicas == 0)
        .map(|r| r.cost_per_day_usd)
        .unwrap_or(rows[0].cost_per_day_usd);
    println!(
        "      replicas   pods started   p50 start (s)   p99 start (s)   SLO violation (s)   failed requests   cost/day (USD)   added/day (USD)"
    );
    for (i, r) in rows.iter().enumerate() {
        let mark = if Some(i) == best {
            format!("  <- cheapest with {target}")
        } else {
            String::new()
        };
        let slo = r
            .slo_violation_seconds
            .map_or("-".to_string(), |s| format!("{s:.0}"));
        println!(
            "{:>14}   {:>12}   {:>13.1}   {:>13.1}   {:>17}   {:>15.0}   {:>14.2}   {:>15.2}{mark}",
            r.replicas,
            r.pods_started,
            r.p50_seconds,
            r.p99_seconds,
            slo,
            r.failed_requests,
            r.cost_per_day_usd,
            r.cost_per_day_usd - base
        );
    }
    if best.is_none() {
        println!("no setting meets {target}");
    }
    let verdict = match best {
        Some(i) => json!({"ok": true, "headline": format!(
            "OK: {} replicas of {} is the cheapest setting with {target} (+{:.2} USD per day)",
            rows[i].replicas, pause.describe(), rows[i].cost_per_day_usd - base)}),
        None => json!({"ok": false, "headline": format!("FAIL: no setting tried meets {target}")}),
    };
    let output = RunOutput {
        name: format!("{name} headroom"),
        summary: json!({
            "verdict": verdict,
            "scenario": name, "pause": pause.describe(), "workload": workload,
            "maxP99Seconds": max_s, "maxSloViolationSeconds": max_slo, "cheapestMeetingTarget": best.map(|i| rows[i].replicas), "rows": rows,
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
                "slo_violation_s",
                "failed_requests",
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
                        r.slo_violation_seconds.unwrap_or(0.0),
                        r.failed_requests,
                    ]
                })
                .collect(),
            x_label: Some(format!("replicas of {}", pause.describe())),
        },
        charts: vec![
            ChartSpec {
                guides: vec![kscale_report::Guide {
                    label: format!("target p99 {max_p99}"),
                    value: max_s,
                }],
                title: format!("Start-up latency of {workload}"),
                y_label: "seconds".into(),
                series: vec![
                    "p50_start_s".into(),
                    "p99_start_s".into(),
                    "max_start_s".into(),
                ],
            },
            ChartSpec {
                guides: max_slo
                    .map(|m| kscale_report::Guide {
                        label: "most SLO violation allowed".into(),
                        value: m,
                    })
                    .into_iter()
                    .collect(),
                title: format!("SLO violation of {workload}"),
                y_label: "seconds".into(),
                series: vec!["slo_violation_s".into()],
            },
            ChartSpec {
                guides: vec![],
                title: format!("Failed requests of {workload}"),
                y_label: "requests".into(),
                series: vec!["failed_requests".into()],
            },
            ChartSpec {
                guides: vec![],
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
