//! Loading and validating a run directory written by `kscale run` (twin or `--cluster`).
//!
//! Required files: `summary.json` (a JSON object), `events.jsonl` (one event a line),
//! `transcript.jsonl` (one kubectl step a line) and `timeseries.csv` (header `time_s,...`, then
//! numbers; an empty cell is a missing sample). `report.html` is not read. Every error names the
//! file and, for the line-oriented files, the 1-based line.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// One line of `events.jsonl`.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Seconds since the start of the run.
    pub time: f64,
    /// Reason, e.g. `SuccessfulRescale`.
    pub reason: String,
    /// Kind of the involved object.
    pub kind: String,
    /// Namespace of the involved object (empty when cluster-scoped).
    pub namespace: String,
    /// Name of the involved object.
    pub name: String,
    /// Message.
    pub message: String,
    /// Reporting component.
    pub source: String,
}

/// One line of `transcript.jsonl`.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// Seconds since the start of the run.
    pub at: f64,
    /// The command line.
    pub command: String,
    /// Exit code.
    pub exit_code: i64,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// `timeseries.csv`: column names and rows (column 0 is `time_s`; NaN is a missing sample).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    /// Column names, the first being `time_s`.
    pub columns: Vec<String>,
    /// One row per sample, one value per column.
    pub rows: Vec<Vec<f64>>,
}

impl Series {
    /// The (time, value) samples of column `name` that have a value, in file order.
    pub fn samples(&self, name: &str) -> Vec<(f64, f64)> {
        let Some(i) = self.columns.iter().position(|c| c == name) else {
            return vec![];
        };
        self.rows
            .iter()
            .filter(|r| r[i].is_finite() && r[0].is_finite())
            .map(|r| (r[0], r[i]))
            .collect()
    }
}

/// A loaded run directory.
#[derive(Clone, Debug)]
pub struct RunDir {
    /// The directory as given on the command line.
    pub path: PathBuf,
    /// `summary.json`.
    pub summary: Value,
    /// `events.jsonl`.
    pub events: Vec<Event>,
    /// `transcript.jsonl`.
    pub steps: Vec<Step>,
    /// `timeseries.csv`.
    pub series: Series,
}

impl RunDir {
    /// The scenario name from `summary.json`, if any.
    pub fn scenario(&self) -> &str {
        self.summary
            .get("scenario")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// `cluster` for a `--cluster` run, `twin` otherwise.
    pub fn backend(&self) -> &str {
        self.summary
            .get("backend")
            .and_then(Value::as_str)
            .unwrap_or("twin")
    }

    /// A short name for the run: the last component of its path.
    pub fn name(&self) -> String {
        let from = |p: &Path| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .filter(|n| !n.is_empty())
        };
        from(&self.path)
            .or_else(|| self.path.canonicalize().ok().and_then(|p| from(&p)))
            .unwrap_or_else(|| "run".into())
    }
}

/// Reads `file` of `dir`, naming the file when it is missing or unreadable.
fn read(dir: &Path, file: &str) -> Result<String, String> {
    match kscale_report::read_output(dir, file) {
        Ok((_, s)) => Ok(s),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(format!(
            "{}: not a kscale run directory: {file} is missing",
            dir.display()
        )),
        Err(e) => Err(format!("{}: {e}", dir.join(file).display())),
    }
}

/// Loads and validates the run directory `dir`.
pub fn load(dir: &Path) -> Result<RunDir, String> {
    if !dir.is_dir() {
        return Err(format!(
            "{}: not a kscale run directory: no such directory",
            dir.display()
        ));
    }
    let summary_text = read(dir, "summary.json")?;
    let events_text = read(dir, "events.jsonl")?;
    let transcript_text = read(dir, "transcript.jsonl")?;
    let csv_text = read(dir, "timeseries.csv")?;
    let summary: Value = serde_json::from_str(&summary_text)
        .map_err(|e| format!("{}: {e}", dir.join("summary.json").display()))?;
    if !summary.is_object() {
        return Err(format!(
            "{}: expected a JSON object",
            dir.join("summary.json").display()
        ));
    }
    let events = parse_lines(dir, "events.jsonl", &events_text, parse_event)?;
    let steps = parse_lines(dir, "transcript.jsonl", &transcript_text, parse_step)?;
    let series =
        parse_csv(&csv_text).map_err(|e| format!("{}{e}", dir.join("timeseries.csv").display()))?;
    Ok(RunDir {
        path: dir.to_path_buf(),
        summary,
        events,
        steps,
        series,
    })
}

/// Parses a JSON-lines file (blank lines are skipped) with `f`, naming file and line on error.
fn parse_lines<T>(
    dir: &Path,
    file: &str,
    text: &str,
    f: fn(&Value) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    let mut out = vec![];
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = || format!("{} line {}", dir.join(file).display(), i + 1);
        let v: Value = serde_json::from_str(line).map_err(|e| {
            // Each line is one document: its position is a column of the file's line.
            let text = e.to_string();
            let suffix = format!(" at line {} column {}", e.line(), e.column());
            let what = text.strip_suffix(&suffix).unwrap_or(&text);
            format!("{}: {what} at column {}", at(), e.column())
        })?;
        out.push(f(&v).map_err(|e| format!("{}: {e}", at()))?);
    }
    Ok(out)
}

/// A string field of `v` (a missing field is `""` unless `required`).
fn str_field(v: &Value, field: &str, required: bool) -> Result<String, String> {
    match v.get(field) {
        Some(Value::String(s)) => Ok(s.clone()),
        None | Some(Value::Null) if !required => Ok(String::new()),
        None => Err(format!("missing field \"{field}\"")),
        Some(_) => Err(format!("field \"{field}\" is not a string")),
    }
}

/// A number field of `v`.
fn num_field(v: &Value, field: &str) -> Result<f64, String> {
    match v.get(field) {
        Some(Value::Number(n)) => n
            .as_f64()
            .ok_or_else(|| format!("field \"{field}\" is not a number")),
        None => Err(format!("missing field \"{field}\"")),
        Some(_) => Err(format!("field \"{field}\" is not a number")),
    }
}

/// One line of `events.jsonl`, checked.
fn parse_event(v: &Value) -> Result<Event, String> {
    if !v.is_object() {
        return Err("expected a JSON object".into());
    }
    let obj = match v.get("involvedObject") {
        Some(o @ Value::Object(_)) => o,
        None => return Err("missing field \"involvedObject\"".into()),
        Some(_) => return Err("field \"involvedObject\" is not an object".into()),
    };
    let sub = |f: &str| str_field(obj, f, false).map_err(|e| format!("involvedObject: {e}"));
    Ok(Event {
        time: num_field(v, "time")?,
        reason: str_field(v, "reason", true)?,
        kind: sub("kind")?,
        namespace: sub("namespace")?,
        name: sub("name")?,
        message: str_field(v, "message", false)?,
        source: str_field(v, "source", false)?,
    })
}

/// One line of `transcript.jsonl`, checked.
fn parse_step(v: &Value) -> Result<Step, String> {
    if !v.is_object() {
        return Err("expected a JSON object".into());
    }
    let exit_code = match v.get("exitCode") {
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| "field \"exitCode\" is not an integer".to_string())?,
        None => return Err("missing field \"exitCode\"".into()),
        Some(_) => return Err("field \"exitCode\" is not an integer".into()),
    };
    Ok(Step {
        at: num_field(v, "at")?,
        command: str_field(v, "command", true)?,
        exit_code,
        stdout: str_field(v, "stdout", false)?,
        stderr: str_field(v, "stderr", false)?,
    })
}

/// Splits one CSV record (RFC 4180 quoting, as the csv crate writes it).
fn split_csv(line: &str) -> Result<Vec<String>, String> {
    let mut out = vec![];
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    cur.push('"');
                } else {
                    quoted = false;
                }
            } else {
                cur.push(c);
            }
        } else if c == '"' && at_start {
            quoted = true;
            at_start = false;
        } else if c == ',' {
            out.push(std::mem::take(&mut cur));
            at_start = true;
        } else {
            cur.push(c);
            at_start = false;
        }
    }
    if quoted {
        return Err("unterminated quoted field".into());
    }
    out.push(cur);
    Ok(out)
}

/// Parses `timeseries.csv`; errors start with ` line N: ` (to follow the file name).
fn parse_csv(text: &str) -> Result<Series, String> {
    let mut lines = text.lines().enumerate();
    let Some((_, header)) = lines.next() else {
        return Err(": empty file (expected a header starting with time_s)".into());
    };
    let columns = split_csv(header).map_err(|e| format!(" line 1: {e}"))?;
    if columns.first().map(String::as_str) != Some("time_s") {
        return Err(" line 1: the first column must be time_s".into());
    }
    let mut rows = vec![];
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let cells = split_csv(line).map_err(|e| format!(" line {}: {e}", i + 1))?;
        // A row of one column may be written as `""` (one empty field).
        if cells.len() != columns.len() {
            return Err(format!(
                " line {}: {} values, but the header has {} columns",
                i + 1,
                cells.len(),
                columns.len()
            ));
        }
        let mut row = Vec::with_capacity(cells.len());
        for (j, c) in cells.iter().enumerate() {
            let c = c.trim();
            if c.is_empty() {
                row.push(f64::NAN);
                continue;
            }
            match c.parse::<f64>() {
                Ok(x) => row.push(x),
                Err(_) => {
                    return Err(format!(
                        " line {}: column {} ({}): {c:?} is not a number",
                        i + 1,
                        j + 1,
                        columns[j]
                    ));
                }
            }
        }
        rows.push(row);
    }
    Ok(Series { columns, rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_quoted_header_and_empty_cells() {
        let s = parse_csv("time_s,\"a,b\",c\n0,1,\n10,2,3\n").unwrap();
        assert_eq!(s.columns, ["time_s", "a,b", "c"]);
        assert!(s.rows[0][2].is_nan());
        assert_eq!(s.samples("c"), vec![(10.0, 3.0)]);
        assert_eq!(s.samples("a,b"), vec![(0.0, 1.0), (10.0, 2.0)]);
    }

    #[test]
    fn csv_errors_name_the_line() {
        let e = parse_csv("time_s,a\n0,1\n10\n").unwrap_err();
        assert!(e.contains("line 3"), "{e}");
        let e = parse_csv("time_s,a\n0,x\n").unwrap_err();
        assert!(e.contains("line 2") && e.contains("column 2 (a)"), "{e}");
        assert!(parse_csv("").is_err());
        assert!(parse_csv("t,a\n").is_err());
    }

    #[test]
    fn event_fields_are_checked() {
        let v: Value = serde_json::json!({"time": 1.5, "reason": "R", "involvedObject": {"kind": "Pod", "name": "p"}});
        let e = parse_event(&v).unwrap();
        assert_eq!((e.time, e.namespace.as_str()), (1.5, ""));
        let v: Value = serde_json::json!({"reason": "R", "involvedObject": {}});
        assert_eq!(parse_event(&v).unwrap_err(), "missing field \"time\"");
        let v: Value = serde_json::json!({"at": 1, "command": "kubectl get pods", "exitCode": "0"});
        assert!(parse_step(&v).unwrap_err().contains("exitCode"));
    }
}
