//! `kscale export parquet`: the long-form Parquet file read back with the `parquet` crate holds
//! exactly the non-empty cells of `timeseries.csv` (and, when Python with DuckDB, pandas +
//! pyarrow or Polars is importable, reads the same there); bad input exits 2 naming the file
//! and line, write failures exit 1, and the file is written whole or not at all.

mod common;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{kscale, text};
use parquet::basic::Compression;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::RowAccessor;

/// 2026-12-01T00:00:00Z in Unix milliseconds.
const START_MS: i64 = 1_796_083_200_000;

/// One long-form row: time, timestamp (ms), series, object, labels, csv_column, value.
type Row = (f64, i64, String, String, String, String, f64);

/// Runs the example `name` into `dir/name` and returns the run directory.
fn run_example(dir: &Path, name: &str) -> PathBuf {
    let out = dir.join(name);
    let o = kscale()
        .args(["run", "-q", "--out"])
        .arg(&out)
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../examples")
                .join(name)
                .join("scenario.yaml"),
        )
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    out
}

/// The non-empty cells of a `timeseries.csv`: (time, column) → value text.
fn csv_cells(run: &Path) -> BTreeMap<(u64, String), String> {
    let csv = std::fs::read_to_string(run.join("timeseries.csv")).unwrap();
    assert!(!csv.contains('"'), "the test splits on commas");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header[0], "time_s");
    let mut cells = BTreeMap::new();
    for line in lines {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields.len(), header.len(), "{line}");
        let t: f64 = fields[0].parse().unwrap();
        for (name, v) in header.iter().zip(&fields).skip(1) {
            if !v.is_empty() {
                let old = cells.insert((t.to_bits(), name.to_string()), v.to_string());
                assert!(old.is_none(), "duplicate cell {t} {name}");
            }
        }
    }
    cells
}

/// Every row of a long-form Parquet file, read with the `parquet` crate.
fn parquet_rows(file: &Path) -> Vec<Row> {
    let reader = SerializedFileReader::new(std::fs::File::open(file).unwrap()).unwrap();
    let names: Vec<String> = reader
        .metadata()
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "time",
            "timestamp",
            "series",
            "object",
            "labels",
            "csv_column",
            "value"
        ]
    );
    reader
        .get_row_iter(None)
        .unwrap()
        .map(|r| {
            let r = r.unwrap();
            (
                r.get_double(0).unwrap(),
                r.get_timestamp_millis(1).unwrap(),
                r.get_string(2).unwrap().clone(),
                r.get_string(3).unwrap().clone(),
                r.get_string(4).unwrap().clone(),
                r.get_string(5).unwrap().clone(),
                r.get_double(6).unwrap(),
            )
        })
        .collect()
}

/// Exports `run` with `--start` 2026-12-01 and extra `args`.
fn export(run: &Path, args: &[&str]) -> std::process::Output {
    kscale()
        .args(["export", "parquet"])
        .arg(run)
        .args(["--start", "2026-12-01T00:00:00Z"])
        .args(args)
        .output()
        .unwrap()
}

/// Checks that `rows` are exactly the CSV's non-empty cells, with equal values.
fn assert_same_cells(rows: &[Row], cells: &BTreeMap<(u64, String), String>) {
    assert_eq!(rows.len(), cells.len(), "one row per non-empty cell");
    let mut seen = BTreeMap::new();
    for (time, stamp, _, _, _, column, value) in rows {
        let key = (time.to_bits(), column.clone());
        let text = cells
            .get(&key)
            .unwrap_or_else(|| panic!("{time} {column} is not a CSV cell"));
        let expected: f64 = text.parse().unwrap();
        assert_eq!(
            value.to_bits(),
            expected.to_bits(),
            "{time} {column}: {value} vs {text}"
        );
        assert_eq!(*stamp, START_MS + (time * 1000.0).round() as i64);
        assert!(seen.insert(key, ()).is_none(), "{time} {column} twice");
    }
}

#[test]
fn parquet_holds_every_non_empty_cell_of_the_csv() {
    let dir = tempfile::tempdir().unwrap();
    // queue-worker has empty cells (the external metric before its first poll) and HPA
    // metric columns; karpenter-consolidation a two-part column; vpa containers and node
    // groups.
    for example in ["queue-worker", "karpenter-consolidation", "vpa"] {
        let run = run_example(dir.path(), example);
        let o = export(&run, &[]);
        assert!(o.status.success(), "{}", text(&o));
        assert!(text(&o).contains("timeseries.parquet ("), "{}", text(&o));
        let file = run.join("timeseries.parquet");
        let cells = csv_cells(&run);
        let rows = parquet_rows(&file);
        assert_same_cells(&rows, &cells);
        if example == "queue-worker" {
            let csv = std::fs::read_to_string(run.join("timeseries.csv")).unwrap();
            assert!(
                csv.lines().any(|l| l.contains(",,") || l.ends_with(',')),
                "the example no longer has empty cells"
            );
        }

        // Series, object and labels as the OpenMetrics export derives them.
        let find = |column: &str| {
            rows.iter()
                .find(|r| r.5 == column)
                .unwrap_or_else(|| panic!("no {column} in {example}"))
        };
        let meaning = |column: &str| {
            let r = find(column);
            (r.2.as_str(), r.3.as_str(), r.4.as_str())
        };
        assert_eq!(meaning("nodes"), ("nodes", "", "{}"));
        match example {
            "queue-worker" => {
                assert_eq!(
                    meaning("deploy/default/worker/ready"),
                    (
                        "ready",
                        "deployment/default/worker",
                        r#"{"namespace":"default","name":"worker"}"#
                    )
                );
                assert_eq!(
                    meaning("hpa/default/worker/external_queue_length/current"),
                    (
                        "metric_current",
                        "hpa/default/worker",
                        r#"{"namespace":"default","name":"worker","metric":"external_queue_length"}"#
                    )
                );
                assert_eq!(
                    meaning("load/default/deployment/worker/served_rps"),
                    (
                        "served_rps",
                        "deployment/default/worker",
                        r#"{"namespace":"default","kind":"deployment","name":"worker"}"#
                    )
                );
            }
            "karpenter-consolidation" => {
                assert_eq!(
                    meaning("karpenter/disrupting_nodes"),
                    ("karpenter_disrupting_nodes", "", "{}")
                );
            }
            _ => {
                let r = rows
                    .iter()
                    .find(|r| r.5.starts_with("vpa/") && r.5.ends_with("/target_cpu_cores"))
                    .expect("a VPA column");
                assert_eq!(r.2, "target_cpu_cores");
                assert!(r.3.starts_with("vpa/"), "{}", r.3);
                assert!(r.4.contains(r#""container":"#), "{}", r.4);
                let group = rows
                    .iter()
                    .find(|r| r.5.starts_with("nodes/group/"))
                    .expect("a node group column");
                assert_eq!(group.2, "nodes_by_group");
                assert_eq!(
                    group.4,
                    format!(r#"{{"group":"{}"}}"#, &group.5["nodes/group/".len()..])
                );
            }
        }

        // Snappy pages, dictionary-encoded strings.
        let reader = SerializedFileReader::new(std::fs::File::open(&file).unwrap()).unwrap();
        for g in reader.metadata().row_groups() {
            for c in g.columns() {
                assert_eq!(c.compression(), Compression::SNAPPY);
            }
            for i in 2..6 {
                assert!(g.column(i).dictionary_page_offset().is_some());
            }
        }

        // Deterministic: the same run and start give the same bytes; --out elsewhere.
        let other = dir.path().join(format!("{example}.parquet"));
        let o = export(&run, &["--out", other.to_str().unwrap()]);
        assert!(o.status.success(), "{}", text(&o));
        assert_eq!(
            std::fs::read(&other).unwrap(),
            std::fs::read(&file).unwrap()
        );

        python_reads_the_same(&file, &cells);
    }

    // A run directory holding the export is still kscale's: a new run replaces it.
    let run = dir.path().join("vpa");
    let o = kscale()
        .args(["run", "-q", "--out"])
        .arg(&run)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/quickstart/scenario.yaml"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(!run.join("timeseries.parquet").exists());
}

/// The cells `python` reads from `file` with the first of DuckDB, pandas (with pyarrow) and
/// Polars that it can import (its name, then `time,csv_column,value` lines); the reason when
/// none can be imported.
fn python_cells(python: &str, file: &Path) -> Result<(String, String), String> {
    const SCRIPT: &str = r#"
import sys
path = sys.argv[1]
rows = None
for lib in ("duckdb", "pandas", "polars"):
    try:
        if lib == "duckdb":
            import duckdb
            rows = duckdb.sql(f"SELECT time, csv_column, value FROM read_parquet('{path}')").fetchall()
        elif lib == "pandas":
            import pandas, pyarrow  # noqa: F401
            df = pandas.read_parquet(path)
            rows = list(zip(df["time"], df["csv_column"], df["value"]))
        else:
            import polars
            df = polars.read_parquet(path)
            rows = list(zip(df["time"], df["csv_column"], df["value"]))
        break
    except ImportError:
        continue
if rows is None:
    print("none of duckdb, pandas + pyarrow, polars is importable")
    sys.exit(3)
print(lib)
for t, c, v in rows:
    print(f"{float(t)!r},{c},{float(v)!r}")
"#;
    let o = Command::new(python)
        .args(["-c", SCRIPT])
        .arg(file)
        .output()
        .map_err(|e| format!("cannot run {python}: {e}"))?;
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    match o.status.code() {
        Some(0) => {
            let (lib, rest) = out.split_once('\n').unwrap_or((&out, ""));
            Ok((lib.to_string(), rest.to_string()))
        }
        Some(3) => Err(out.trim().to_string()),
        _ => panic!(
            "{python} failed reading {}: {}{}",
            file.display(),
            out,
            String::from_utf8_lossy(&o.stderr)
        ),
    }
}

/// Reads `file` with Python's DuckDB, pandas or Polars (the interpreter `KSCALE_PYTHON`, default
/// `python3`) and checks it holds `cells`; skipped with a message on the terminal when none is
/// importable.
fn python_reads_the_same(file: &Path, cells: &BTreeMap<(u64, String), String>) {
    let python = std::env::var("KSCALE_PYTHON").unwrap_or_else(|_| "python3".into());
    let (lib, lines) = match python_cells(&python, file) {
        Ok(x) => x,
        Err(why) => {
            // Straight to stderr: the test harness captures eprintln!.
            let _ = writeln!(
                std::io::stderr(),
                "skipped reading Parquet from Python ({why}); set KSCALE_PYTHON to an \
                 interpreter with duckdb, pandas + pyarrow or polars"
            );
            return;
        }
    };
    let mut n = 0;
    for line in lines.lines() {
        let mut f = line.splitn(3, ',');
        let (t, c, v) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
        let t: f64 = t.parse().unwrap();
        let v: f64 = v.parse().unwrap();
        let expected: f64 = cells
            .get(&(t.to_bits(), c.to_string()))
            .unwrap_or_else(|| panic!("{lib}: {t} {c} is not a CSV cell"))
            .parse()
            .unwrap();
        assert_eq!(v.to_bits(), expected.to_bits(), "{lib}: {t} {c}");
        n += 1;
    }
    assert_eq!(n, cells.len(), "{lib}: rows");
    let _ = writeln!(
        std::io::stderr(),
        "read {} with Python's {lib}: {n} rows equal to the CSV's",
        file.display()
    );
}

#[test]
fn bad_input_exits_2_and_write_failures_exit_1_leaving_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let fails = |run: &Path, args: &[&str], code: i32, needles: &[&str]| {
        let o = export(run, args);
        assert_eq!(o.status.code(), Some(code), "{}", text(&o));
        let msg = text(&o);
        for n in needles {
            assert!(msg.contains(n), "{n:?} not in {msg}");
        }
        assert!(!msg.contains("panicked"), "{msg}");
    };
    // Not a directory; no timeseries.csv.
    let file = dir.path().join("plain");
    std::fs::write(&file, "x").unwrap();
    fails(&file, &[], 2, &["not a directory"]);
    fails(
        &dir.path().join("missing"),
        &[],
        2,
        &["missing: no such directory"],
    );
    fails(dir.path(), &[], 2, &["not a kscale run directory"]);

    // Malformed timeseries.csv: the file, the line and what is wrong; an existing output is
    // left as it was and no temporary file remains.
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    let out = run.join("timeseries.parquet");
    std::fs::write(&out, "old").unwrap();
    for (csv, needles) in [
        ("", &["timeseries.csv", "line 1", "empty"][..]),
        ("t,nodes\n0,1\n", &["timeseries.csv", "line 1", "time_s"]),
        (
            "time_s,nodes\n0,1\n10,many\n",
            &["timeseries.csv", "line 3", "column nodes", "\"many\""],
        ),
        ("time_s,nodes\n0,1\n10,1,2\n", &["timeseries.csv", "line 3"]),
        (
            "time_s,nodes\n0,1\nsoon,1\n",
            &["timeseries.csv", "line 3", "\"soon\""],
        ),
    ] {
        std::fs::write(run.join("timeseries.csv"), csv).unwrap();
        fails(&run, &[], 2, needles);
        assert_eq!(std::fs::read(&out).unwrap(), b"old");
        let entries: Vec<_> = std::fs::read_dir(&run)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(entries.len(), 2, "{entries:?}");
    }

    // A bad --start.
    std::fs::write(run.join("timeseries.csv"), "time_s,nodes\n0,1\n").unwrap();
    let o = kscale()
        .args(["export", "parquet"])
        .arg(&run)
        .args(["--start", "yesterday"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--start"), "{}", text(&o));

    // --out naming the CSV itself, or no file.
    fails(
        &run,
        &["--out", run.join("timeseries.csv").to_str().unwrap()],
        2,
        &["refusing to replace it"],
    );
    assert_eq!(
        std::fs::read_to_string(run.join("timeseries.csv")).unwrap(),
        "time_s,nodes\n0,1\n"
    );
    fails(&run, &["--out", "/"], 2, &["not a file name"]);

    // Write failures: a missing folder, a directory in the way.
    let nowhere = dir.path().join("no/such/dir/ts.parquet");
    fails(
        &run,
        &["--out", nowhere.to_str().unwrap()],
        1,
        &["no/such/dir"],
    );
    let in_the_way = dir.path().join("in-the-way");
    std::fs::create_dir(&in_the_way).unwrap();
    fails(
        &run,
        &["--out", in_the_way.to_str().unwrap()],
        1,
        &["in-the-way"],
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);

    // And then a good one replaces the old file.
    let o = export(&run, &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(parquet_rows(&out).len(), 1);
}
