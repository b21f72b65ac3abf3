//! `kscale bench-curve`: the twin's scaling curve. For each size it writes the scale benchmark
//! (`bench-scenario --peak-nodes N`), runs it in a child process of this binary (`run
//! --timings`, so each size's peak memory is its own), and reads the run's `summary.json`:
//! wall time by phase, peak memory, events per second, and the decisions the simulated
//! controllers made (scheduling attempts, HPA syncs, Deployment and ReplicaSet syncs, the
//! autoscalers' loops) with the wall time each cost. The table is printed and, with `--doc`,
//! written into a Markdown file between two marker lines (replacing the previous curve).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::Value;

/// The line before the curve in a `--doc` file.
pub const BEGIN_MARKER: &str =
    "<!-- kscale bench-curve: begin (generated, replaced by the next run) -->";
/// The line after the curve in a `--doc` file.
pub const END_MARKER: &str = "<!-- kscale bench-curve: end -->";

/// The summary counters that count one decision each (see [`decisions`]).
pub const DECISION_COUNTERS: &[&str] = &[
    "podsScheduled",
    "failedScheduling",
    "hpaSyncs",
    "workloadSyncs",
    "autoscalerLoops",
];

/// What `kscale bench-curve` was asked.
pub struct Options {
    /// Peak node counts, in any order (measured from the smallest).
    pub nodes: Vec<u32>,
    /// Simulated duration of each run (Go duration).
    pub duration: String,
    /// The benchmark's node autoscaler.
    pub autoscaler: kscale_twin::bench::NodeAutoscaler,
    /// Where the scenarios and run directories go (kept); default a temporary folder, removed.
    pub work: Option<PathBuf>,
    /// A Markdown file to write the curve into.
    pub doc: Option<PathBuf>,
}

/// One measured size.
#[derive(Debug, Clone, PartialEq)]
struct Point {
    peak_nodes: u32,
    nodes_max: f64,
    pods_created: u64,
    events: u64,
    decisions: u64,
    simulated_s: f64,
    wall_s: f64,
    write_s: f64,
    peak_bytes: Option<u64>,
}

/// Runs the command; exit 2 for bad input, 1 when a run fails or a file cannot be written.
pub fn run(o: Options) -> ExitCode {
    let mut nodes = o.nodes.clone();
    nodes.sort_unstable();
    nodes.dedup();
    if nodes.is_empty() {
        eprintln!("error: --nodes: give at least one size");
        return ExitCode::from(2);
    }
    if nodes[0] == 0 {
        eprintln!("error: --nodes: every size must be at least 1 node");
        return ExitCode::from(2);
    }
    let (work, temporary) = match &o.work {
        Some(w) => (w.clone(), false),
        None => (
            std::env::temp_dir().join(format!("kscale-bench-curve-{}", std::process::id())),
            true,
        ),
    };
    // Every size's scenario is written (and so checked) before the first run.
    for &n in &nodes {
        if let Err((code, message)) = crate::write_bench_scenario(
            n,
            &o.duration,
            o.autoscaler,
            &work.join(format!("nodes-{n}")),
        ) {
            eprintln!("error: {message}");
            if temporary {
                let _ = std::fs::remove_dir_all(&work);
            }
            return ExitCode::from(code);
        }
    }
    let measured = measure_all(&nodes, &work);
    if temporary {
        let _ = std::fs::remove_dir_all(&work);
    }
    let points = match measured {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let text = render(&points, &o.duration, o.autoscaler);
    print!("{text}");
    if let Some(doc) = &o.doc
        && let Err(e) = write_into_doc(doc, &text)
    {
        eprintln!("error: writing {}: {e}", doc.display());
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

/// Runs every size in turn, smallest first.
fn measure_all(nodes: &[u32], work: &Path) -> Result<Vec<Point>, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    let mut points = Vec::new();
    for &n in nodes {
        let dir = work.join(format!("nodes-{n}"));
        let timings = dir.join("timings.json");
        let out = dir.join("out");
        eprintln!("bench-curve: running {n} nodes ...");
        let status = std::process::Command::new(&exe)
            .arg("run")
            .arg(dir.join("scenario.yaml"))
            .arg("--out")
            .arg(&out)
            .arg("--force")
            .arg("--quiet")
            .arg("--timings")
            .arg(&timings)
            .status()
            .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
        if !status.success() {
            return Err(format!(
                "the {n}-node run failed ({status}); its scenario is {}",
                dir.join("scenario.yaml").display()
            ));
        }
        let read = |p: &Path| -> Result<Value, String> {
            let text = std::fs::read_to_string(p)
                .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))
        };
        let point = point(n, &read(&timings)?, &read(&out.join("summary.json"))?)
            .ok_or_else(|| format!("the {n}-node run's outputs lack a field bench-curve reads"))?;
        eprintln!(
            "bench-curve: {n} nodes: {:.2} s wall, {}",
            point.wall_s,
            point.peak_bytes.map_or("-".into(), mib)
        );
        points.push(point);
    }
    Ok(points)
}

/// The decisions a run's summary counts: every scheduling attempt (bound or failed), HPA
/// sync, Deployment or ReplicaSet sync, and loop of the node and workload autoscalers.
pub fn decisions(summary: &Value) -> u64 {
    DECISION_COUNTERS
        .iter()
        .filter_map(|c| summary.pointer(&format!("/counters/{c}"))?.as_u64())
        .sum()
}

fn point(peak_nodes: u32, timings: &Value, summary: &Value) -> Option<Point> {
    let f = |v: &Value, p: &str| v.pointer(p).and_then(Value::as_f64);
    Some(Point {
        peak_nodes,
        nodes_max: f(summary, "/nodes/max")?,
        pods_created: summary.pointer("/pods/created")?.as_u64()?,
        events: summary.pointer("/events/total")?.as_u64()?,
        decisions: decisions(summary),
        simulated_s: f(summary, "/durationSeconds")?,
        wall_s: f(timings, "/wallSeconds")?,
        write_s: f(timings, "/writeSeconds")?,
        peak_bytes: timings.pointer("/peakMemoryBytes").and_then(Value::as_u64),
    })
}

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1u64 << 20) as f64)
}

/// `n log n` of a size, the growth the issue allows.
fn n_log_n(n: u32) -> f64 {
    let n = f64::from(n.max(2));
    n * n.ln()
}

/// Thousands separated by commas (`59,431`).
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The curve as Markdown: the machine, the table, and the physical-limit estimate.
fn render(
    points: &[Point],
    duration: &str,
    autoscaler: kscale_twin::bench::NodeAutoscaler,
) -> String {
    let flag = match autoscaler {
        kscale_twin::bench::NodeAutoscaler::Karpenter => String::new(),
        other => format!(" --autoscaler {}", other.name()),
    };
    let mut s = String::new();
    s.push_str("## Scaling curve (`kscale bench-curve`)\n\n");
    s.push_str(&format!(
        "Measured {} with kscale {} (release build{}) on {}: `kscale bench-curve --nodes {} \
         --duration {duration}{flag}`, each size a child process run after the previous one.\n\n",
        jiff::Zoned::now().strftime("%Y-%m-%d %H:%M %Z"),
        env!("CARGO_PKG_VERSION"),
        if cfg!(debug_assertions) {
            ": NO, a debug build, figures not comparable"
        } else {
            ""
        },
        machine(),
        points
            .iter()
            .map(|p| p.peak_nodes.to_string())
            .collect::<Vec<_>>()
            .join(","),
    ));
    s.push_str(
        "| peak nodes | nodes at the peak | pods created | events | decisions | wall | write \
         (share) | peak memory | events/s | decisions per simulated day | ns per decision | wall \
         step vs n log n |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let mut prev: Option<&Point> = None;
    for p in points {
        let per_day = p.decisions as f64 * 86_400.0 / p.simulated_s.max(1e-9);
        let ns = p.wall_s * 1e9 / (p.decisions.max(1) as f64);
        let step = prev.map_or("—".to_string(), |q| {
            format!(
                "{:.2}× vs {:.2}×",
                p.wall_s / q.wall_s.max(1e-9),
                n_log_n(p.peak_nodes) / n_log_n(q.peak_nodes)
            )
        });
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {:.2} s | {:.2} s ({:.0}%) | {} | {} | {} | {} | {} |\n",
            grouped(u64::from(p.peak_nodes)),
            grouped(p.nodes_max as u64),
            grouped(p.pods_created),
            grouped(p.events),
            grouped(p.decisions),
            p.wall_s,
            p.write_s,
            100.0 * p.write_s / p.wall_s.max(1e-9),
            p.peak_bytes.map_or("-".into(), mib),
            grouped((p.events as f64 / p.wall_s.max(1e-9)) as u64),
            grouped(per_day as u64),
            grouped(ns.round() as u64),
            step,
        ));
        prev = Some(p);
    }
    if let Some(last) = points.last() {
        let per_day = last.decisions as f64 * 86_400.0 / last.simulated_s.max(1e-9);
        s.push_str(&format!(
            "\nDecisions are scheduling attempts (bound or failed), HPA syncs, Deployment and \
             ReplicaSet syncs and the autoscalers' loops (summary.json `counters`: {}). \
             Physical-limit estimate: a simulated day at {} peak nodes takes {} decisions, so \
             the twin's wall time for it is that count times its cost per decision; a 60-second \
             day at this size needs at most {} ns per decision (measured: {} ns).\n",
            DECISION_COUNTERS
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", "),
            grouped(u64::from(last.peak_nodes)),
            grouped(per_day as u64),
            grouped((60e9 / per_day.max(1.0)).round() as u64),
            grouped((last.wall_s * 1e9 / (last.decisions.max(1) as f64)).round() as u64),
        ));
    }
    s
}

/// The CPU model and core count, where the platform says.
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "an unknown CPU".into());
    format!("{cores} cores of {model}")
}

/// Puts `text` between the markers of `doc` (replacing what was there), or appends it with
/// the markers; the file is replaced at once (written beside it, then renamed).
fn write_into_doc(doc: &Path, text: &str) -> std::io::Result<()> {
    let old = match std::fs::read_to_string(doc) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    let section = format!("{BEGIN_MARKER}\n{text}{END_MARKER}\n");
    let new = match (old.find(BEGIN_MARKER), old.find(END_MARKER)) {
        (Some(b), Some(e)) if b < e => {
            let after = old[e + END_MARKER.len()..].trim_start_matches('\n');
            format!("{}{section}{after}", &old[..b])
        }
        _ if old.is_empty() => section,
        _ => format!("{}\n\n{section}", old.trim_end_matches('\n')),
    };
    let tmp = doc.with_extension("md.kscale-tmp");
    std::fs::write(&tmp, new)?;
    std::fs::rename(&tmp, doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(n: u32, wall: f64) -> Point {
        Point {
            peak_nodes: n,
            nodes_max: f64::from(n),
            pods_created: 30 * u64::from(n),
            events: 460 * u64::from(n),
            decisions: 2_000 * u64::from(n),
            simulated_s: 86_400.0,
            wall_s: wall,
            write_s: wall / 20.0,
            peak_bytes: Some(150 << 20),
        }
    }

    #[test]
    fn the_table_has_a_row_per_size_and_the_step_against_n_log_n() {
        let text = render(
            &[p(100, 1.0), p(1000, 10.0)],
            "24h",
            kscale_twin::bench::NodeAutoscaler::Karpenter,
        );
        let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("| 1")).collect();
        assert_eq!(rows.len(), 2, "{text}");
        assert!(rows[0].starts_with("| 100 | 100 | 3,000 | 46,000 | 200,000 | 1.00 s"));
        // 10 s / 1 s, against (1000 ln 1000) / (100 ln 100) = 15.
        assert!(rows[1].ends_with("| 10.00× vs 15.00× |"), "{}", rows[1]);
        // 10 s over 2,000,000 decisions: 5,000 ns each; a 60 s day allows 30,000.
        assert!(rows[1].contains("| 5,000 |"), "{}", rows[1]);
        assert!(text.contains("at most 30,000 ns per decision (measured: 5,000 ns)"));
    }

    #[test]
    fn decisions_sum_the_counters_present() {
        let s = serde_json::json!({"counters": {"podsScheduled": 10, "failedScheduling": 5,
            "hpaSyncs": 100, "apiWritesPodCreate": 7}});
        assert_eq!(decisions(&s), 115);
    }

    #[test]
    fn the_doc_section_is_replaced_not_repeated() {
        let dir = tempfile::tempdir().unwrap();
        let doc = dir.path().join("perf.md");
        std::fs::write(&doc, "# Performance\n\nBefore.\n").unwrap();
        write_into_doc(&doc, "first\n").unwrap();
        let once = std::fs::read_to_string(&doc).unwrap();
        assert!(once.starts_with("# Performance\n\nBefore.\n\n"), "{once}");
        assert!(once.ends_with(&format!("{BEGIN_MARKER}\nfirst\n{END_MARKER}\n")));
        std::fs::write(&doc, format!("{once}\n## After\n")).unwrap();
        write_into_doc(&doc, "second\n").unwrap();
        let twice = std::fs::read_to_string(&doc).unwrap();
        assert!(!twice.contains("first"), "{twice}");
        assert_eq!(twice.matches(BEGIN_MARKER).count(), 1);
        assert!(twice.contains(&format!("{BEGIN_MARKER}\nsecond\n{END_MARKER}\n## After\n")));
    }
}
