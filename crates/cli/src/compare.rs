//! `kscale compare RUN_DIR... [--out DIR]`: runs side by side — their verdicts as one table
//! (terminal and `report.html`), and the same charts with every run's line overlaid (nodes,
//! pending pods, cost rate, each Deployment's ready replicas, each load's served and failed
//! requests and p99 latency, each HPA's desired replicas). Writes `compare.json` and
//! `report.html` to `--out` (default `kscale-out/compare-<run>-vs-<run>...`).
//!
//! Exit codes: 0 written, 2 bad input (fewer than two runs, a directory that is not a run).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use kscale_report::{ChartSpec, Mark, TimeSeries, Verdict};
use serde_json::json;

use crate::diff::html::esc;
use crate::diff::run_dir::{self, RunDir};

/// Most charts on the page.
const MAX_CHARTS: usize = 40;

/// `kscale compare` flags.
pub struct Options {
    /// The run directories.
    pub runs: Vec<PathBuf>,
    /// Output directory.
    pub out: Option<PathBuf>,
}

/// Names for the runs: scenario names, else (when two share one) directory names, numbered
/// if still equal.
fn labels(runs: &[RunDir]) -> Vec<String> {
    let scen: Vec<String> = runs
        .iter()
        .map(|r| match r.scenario() {
            "" => r.name(),
            s => s.to_string(),
        })
        .collect();
    let unique = |v: &[String]| v.iter().collect::<BTreeSet<_>>().len() == v.len();
    if unique(&scen) {
        return scen;
    }
    let dirs: Vec<String> = runs.iter().map(RunDir::name).collect();
    if unique(&dirs) {
        return dirs;
    }
    dirs.iter()
        .enumerate()
        .map(|(i, d)| format!("{d} ({})", i + 1))
        .collect()
}

/// The columns charted, in page order: cluster-wide first, then per object.
fn chart_columns(runs: &[RunDir]) -> Vec<(String, String)> {
    let mut all: BTreeSet<&str> = BTreeSet::new();
    for r in runs {
        all.extend(r.series.columns.iter().map(String::as_str));
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for (c, y) in [
        ("nodes", "nodes"),
        ("pods_pending", "pods"),
        ("cost_rate_usd_per_hour", "USD per hour"),
    ] {
        if all.contains(c) {
            out.push((c.to_string(), y.to_string()));
        }
    }
    for (suffix, y) in [
        ("/served_rps", "requests/s"),
        ("/failed_rps", "requests/s"),
        ("/latency_p99_ms", "ms"),
    ] {
        for c in all
            .iter()
            .filter(|c| c.starts_with("load/") && c.ends_with(suffix))
        {
            out.push((c.to_string(), y.to_string()));
        }
    }
    for c in all
        .iter()
        .filter(|c| c.starts_with("deploy/") && c.ends_with("/ready"))
    {
        out.push((c.to_string(), "replicas".into()));
    }
    for c in all
        .iter()
        .filter(|c| c.starts_with("hpa/") && c.ends_with("/desired"))
    {
        out.push((c.to_string(), "replicas".into()));
    }
    out.truncate(MAX_CHARTS);
    out
}

/// One time series with `column` of every run as `LABEL: column` (times merged; a run
/// without a sample at a time has a gap there).
fn overlay(runs: &[RunDir], names: &[String], column: &str) -> TimeSeries {
    let mut times: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
    for (i, r) in runs.iter().enumerate() {
        for (t, v) in r.series.samples(column) {
            times
                .entry((t * 1000.0).round() as u64)
                .or_insert_with(|| vec![f64::NAN; runs.len()])[i] = v;
        }
    }
    let mut columns = vec!["time_s".to_string()];
    columns.extend(names.iter().map(|n| format!("{n}: {column}")));
    TimeSeries {
        columns,
        rows: times
            .into_iter()
            .map(|(t, vals)| {
                let mut row = vec![t as f64 / 1000.0];
                row.extend(vals);
                row
            })
            .collect(),
        x_label: None,
    }
}

/// The verdicts as rows: (label, one cell per run).
fn table(verdicts: &[Verdict]) -> Vec<(String, Vec<(String, Mark)>)> {
    let mut order: Vec<&'static str> = Vec::new();
    for v in verdicts {
        for f in &v.facts {
            if !order.contains(&f.label) {
                order.push(f.label);
            }
        }
    }
    let mut rows = vec![(
        "verdict".to_string(),
        verdicts
            .iter()
            .map(|v| {
                if v.ok {
                    ("OK".to_string(), Mark::Good)
                } else {
                    ("FAIL".to_string(), Mark::Bad)
                }
            })
            .collect(),
    )];
    for label in order {
        rows.push((
            label.to_string(),
            verdicts
                .iter()
                .map(|v| {
                    v.facts
                        .iter()
                        .find(|f| f.label == label)
                        .map_or(("-".to_string(), Mark::Info), |f| (f.text.clone(), f.mark))
                })
                .collect(),
        ));
    }
    rows
}

/// Runs `kscale compare`.
pub fn run(o: Options) -> ExitCode {
    if o.runs.len() < 2 {
        eprintln!("error: give at least two run directories to compare");
        return ExitCode::from(2);
    }
    let mut runs = Vec::new();
    for p in &o.runs {
        match run_dir::load(p) {
            Ok(r) => runs.push(r),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let names = labels(&runs);
    let verdicts: Vec<Verdict> = runs
        .iter()
        .map(|r| kscale_report::verdict(&r.summary))
        .collect();
    let rows = table(&verdicts);

    // Terminal: one column per run.
    let w0 = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..runs.len())
        .map(|i| {
            rows.iter()
                .map(|r| r.1[i].0.chars().count())
                .chain([names[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut head = format!("{:w0$}", "");
    for (n, w) in names.iter().zip(&widths) {
        let _ = write!(head, "  {n:<w$}");
    }
    println!("{}", head.trim_end());
    for (label, cells) in &rows {
        let mut line = format!("{label:<w0$}");
        for ((text, _), w) in cells.iter().zip(&widths) {
            let _ = write!(line, "  {text:<w$}");
        }
        println!("{}", line.trim_end());
    }
    println!();
    for (n, v) in names.iter().zip(&verdicts) {
        println!("{n}: {}", v.headline);
    }

    let dir = o.out.unwrap_or_else(|| {
        let mut joined = names
            .iter()
            .map(|n| {
                n.chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '-' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("-vs-");
        joined.truncate(120);
        PathBuf::from("kscale-out").join(format!("compare-{joined}"))
    });
    let report = json!({
        "runs": runs.iter().zip(&names).zip(&verdicts).map(|((r, n), v)| json!({
            "name": n,
            "dir": r.path.display().to_string(),
            "ok": v.ok,
            "headline": v.headline,
            "facts": v.facts.iter().map(|f| json!({"label": f.label, "text": f.text, "value": f.value, "problem": f.mark == Mark::Bad})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    let mut html = String::new();
    let title = esc(&names.join(" vs "));
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title} · kscale compare</title>\n<style>\n\
         body{{font-family:system-ui,sans-serif;color:#1f2328;max-width:1180px;margin:1.5rem auto;padding:0 1rem}}\n\
         table{{border-collapse:collapse;font-size:.9rem}}th,td{{border:1px solid #d0d7de;padding:.25rem .55rem;text-align:left}}\n\
         thead th{{background:#f6f8fa}}td.bad{{color:#cf222e;font-weight:600}}td.good{{color:#1a7f37}}\n\
         .muted{{color:#656d76}}\n\
         </style>\n{}</head>\n<body>\n<h1>{title}</h1>\n<p>kscale compare of {} runs</p>\n<section id=\"verdict\">\n<h2>Verdicts</h2>\n<table class=\"verdicts\">\n<thead><tr><th></th>",
        kscale_report::page_assets(),
        runs.len()
    );
    for (n, r) in names.iter().zip(&runs) {
        let _ = write!(
            html,
            "<th>{}<br><small>{}</small></th>",
            esc(n),
            esc(&r.path.display().to_string())
        );
    }
    html.push_str("</tr></thead>\n<tbody>\n");
    for (label, cells) in &rows {
        let _ = write!(html, "<tr><th>{}</th>", esc(label));
        for (text, mark) in cells {
            let class = match mark {
                Mark::Bad => " class=\"bad\"",
                Mark::Good => " class=\"good\"",
                Mark::Info => "",
            };
            let _ = write!(html, "<td{class}>{}</td>", esc(text));
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody>\n</table>\n<ul>\n");
    for (n, v) in names.iter().zip(&verdicts) {
        let _ = writeln!(html, "<li><b>{}</b>: {}</li>", esc(n), esc(&v.headline));
    }
    html.push_str(
        "</ul>\n</section>\n<section id=\"charts\">\n<h2>Charts</h2>\n<p class=\"muted\">Every run's line overlaid. \
         Drag across a chart to zoom (all charts follow; double-click to zoom out), hover for values, click a \
         legend entry to hide or show its line. Markers: every run's kubectl steps and key events, \
         named by run.</p>\n<div class=\"ktools\" id=\"chart-tools\"></div>\n",
    );
    // Every run's steps and key events, each named by its run.
    let steps: Vec<(f64, String)> = runs
        .iter()
        .zip(&names)
        .flat_map(|(r, n)| {
            r.steps.iter().map(move |s| {
                (
                    s.at,
                    format!("{n}: $ {} (exit code {})", s.command, s.exit_code),
                )
            })
        })
        .collect();
    let events: Vec<(f64, &str, String)> = runs
        .iter()
        .zip(&names)
        .flat_map(|(r, n)| {
            r.events
                .iter()
                .filter(|e| kscale_report::is_marker_reason(&e.reason))
                .map(move |e| {
                    let mut text =
                        format!("{n}: {} {}/{}: {}", e.reason, e.kind, e.name, e.message);
                    if let Some((cut, _)) = text.char_indices().nth(160) {
                        text.truncate(cut);
                        text.push('…');
                    }
                    (e.time, e.reason.as_str(), text)
                })
        })
        .collect();
    html.push_str(&kscale_report::markers_script(&steps, &events));
    for (column, y) in chart_columns(&runs) {
        let ts = overlay(&runs, &names, &column);
        let spec = ChartSpec {
            guides: vec![],
            title: column.clone(),
            y_label: y,
            series: ts.columns[1..].to_vec(),
        };
        match kscale_report::chart_figure(&ts, &spec) {
            Ok(figure) => html.push_str(&figure),
            Err(e) => {
                eprintln!("error: chart {column}: {e}");
                return ExitCode::from(1);
            }
        }
    }
    html.push_str("</section>\n");
    html.push_str(&kscale_report::page_scripts());
    html.push_str("</body>\n</html>\n");
    let written = std::fs::create_dir_all(&dir)
        .and_then(|_| {
            std::fs::write(
                dir.join("compare.json"),
                serde_json::to_string_pretty(&report).unwrap_or_default() + "\n",
            )
        })
        .and_then(|_| std::fs::write(dir.join("report.html"), html));
    if let Err(e) = written {
        eprintln!("error: --out {}: cannot write: {e}", dir.display());
        return ExitCode::from(1);
    }
    println!("output: {}", dir.display());
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(name: &str, dir: &str, cols: &[&str], rows: Vec<Vec<f64>>) -> RunDir {
        RunDir {
            path: PathBuf::from(dir),
            summary: json!({"scenario": name}),
            events: vec![],
            steps: vec![],
            series: run_dir::Series {
                columns: cols.iter().map(|c| c.to_string()).collect(),
                rows,
            },
        }
    }

    #[test]
    fn names_are_unique_and_lines_overlay_on_merged_times() {
        let a = run(
            "s",
            "out/a",
            &["time_s", "nodes"],
            vec![vec![0.0, 1.0], vec![10.0, 2.0]],
        );
        let b = run(
            "s",
            "out/b",
            &["time_s", "nodes"],
            vec![vec![0.0, 3.0], vec![5.0, 4.0]],
        );
        let names = labels(&[a.clone(), b.clone()]);
        assert_eq!(names, ["a", "b"]);
        let ts = overlay(&[a, b], &names, "nodes");
        assert_eq!(ts.columns, ["time_s", "a: nodes", "b: nodes"]);
        assert_eq!(ts.rows.len(), 3);
        assert_eq!(&ts.rows[0], &[0.0, 1.0, 3.0]);
        assert!(ts.rows[1][1].is_nan() && ts.rows[1][2] == 4.0);
    }
}
