//! Load traces from CSV files.
//!
//! Format: one header line; the first column is the time, either an offset in seconds from the
//! start of the run, or an RFC 3339 timestamp (then offsets are taken from the first row, so
//! public traces such as those in `../shared/traces/` can be used as they are); the value column
//! is the second one unless `column` names another. Values are requests per second, multiplied
//! by `scale`. Every error names the file, line and column.
//!
//! [`TraceSelect`] picks part of a longer trace: `from` starts the run at a point inside it (a
//! match day of an 88-day trace), and `row` reads a *wide* trace, one row per series and one
//! column per minute, as the Azure Functions 2019 dataset is published.

use std::path::Path;

use crate::error::InputError;

/// The largest trace file read: 1 GiB (the largest public trace in `../shared/traces/` is a few
/// hundred MiB); a longer file, or one that never ends (a device, a pipe), is refused rather
/// than read until memory runs out.
pub const MAX_TRACE_BYTES: u64 = 1 << 30;

/// Reads a file of at most [`MAX_TRACE_BYTES`] as text.
fn read_bounded(file: &Path) -> Result<String, InputError> {
    use std::io::Read as _;
    let f = std::fs::File::open(file)
        .map_err(|e| InputError::file(file, format!("cannot read trace: {e}")))?;
    let mut bytes = Vec::new();
    f.take(MAX_TRACE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| InputError::file(file, format!("cannot read trace: {e}")))?;
    if bytes.len() as u64 > MAX_TRACE_BYTES {
        return Err(InputError::file(
            file,
            format!(
                "trace is longer than {} MiB, the limit kscale reads",
                MAX_TRACE_BYTES >> 20
            ),
        ));
    }
    String::from_utf8(bytes)
        .map_err(|e| InputError::file(file, format!("cannot read trace: not UTF-8 text ({e})")))
}

/// A trace's `(offset ms, value)` points.
type Points = Vec<(u64, f64)>;

/// Which part of a trace file a load reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct TraceSelect {
    /// The value column (default: the second one).
    pub column: Option<String>,
    /// Where the run starts in the trace.
    pub from: Option<TraceFrom>,
    /// A wide trace's rows to read (cells that must equal these values); their per-minute
    /// columns are summed.
    pub row: Option<Vec<(String, String)>>,
}

/// Where a run starts in a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TraceFrom {
    /// An RFC 3339 time of a timestamped trace (milliseconds since the epoch).
    Time(i64),
    /// An offset from the trace's first row (milliseconds).
    Offset(u64),
}

impl TraceFrom {
    /// Reads `from`: an RFC 3339 timestamp, or a duration (`36h`) from the first row.
    pub fn parse(s: &str) -> Result<TraceFrom, String> {
        if let Ok(t) = parse_timestamp(s) {
            return Ok(TraceFrom::Time(t));
        }
        kscale_model::parse_duration(s).map(TraceFrom::Offset).map_err(|_| {
            format!("from {s:?} is neither an RFC 3339 time (1998-06-25T12:00:00Z) nor a duration (36h)")
        })
    }
}

/// Reads a trace into sorted `(offset ms, value)` points.
pub fn read_trace(
    file: &Path,
    column: Option<&str>,
    scale: f64,
) -> Result<Vec<(u64, f64)>, InputError> {
    read_trace_select(
        file,
        &TraceSelect {
            column: column.map(str::to_string),
            ..TraceSelect::default()
        },
        scale,
    )
}

/// Reads the part of a trace that `select` picks into sorted `(offset ms, value)` points,
/// offsets counted from the run's start.
pub fn read_trace_select(
    file: &Path,
    select: &TraceSelect,
    scale: f64,
) -> Result<Vec<(u64, f64)>, InputError> {
    let text = read_bounded(file)?;
    let (points, first_ts) = match &select.row {
        Some(row) => (read_wide(file, &text, row, scale)?, None),
        None => read_long(file, &text, select.column.as_deref(), scale)?,
    };
    match select.from {
        None => Ok(points),
        Some(from) => window(file, points, first_ts, from),
    }
}

/// The points from `from` on, offsets counted from it; the value in force at `from` (the
/// last point at or before it) starts the window.
fn window(
    file: &Path,
    points: Vec<(u64, f64)>,
    first_ts: Option<i64>,
    from: TraceFrom,
) -> Result<Vec<(u64, f64)>, InputError> {
    let start = match from {
        TraceFrom::Offset(ms) => ms,
        TraceFrom::Time(t) => {
            let Some(first) = first_ts else {
                return Err(InputError::file(
                    file,
                    "from is a time, but this trace's rows are offsets (give from as a duration)",
                ));
            };
            if t < first {
                return Err(InputError::file(
                    file,
                    format!(
                        "from {} is before the trace's first row ({})",
                        format_ms(t),
                        format_ms(first)
                    ),
                ));
            }
            (t - first) as u64
        }
    };
    let last = points.last().map_or(0, |p| p.0);
    if start > last {
        return Err(InputError::file(
            file,
            format!(
                "from is {} s after the trace's first row, past its last row ({} s)",
                start / 1000,
                last / 1000
            ),
        ));
    }
    let i = points.partition_point(|p| p.0 <= start).saturating_sub(1);
    Ok(points[i..]
        .iter()
        .map(|&(t, v)| (t.saturating_sub(start), v))
        .collect())
}

fn format_ms(t: i64) -> String {
    jiff::Timestamp::from_millisecond(t).map_or_else(|_| t.to_string(), |t| t.to_string())
}

/// The position of the column `name` in `headers` (line 1 of `file`), or an error naming
/// the columns there are, after `context`.
fn column_named(
    file: &Path,
    headers: &csv::StringRecord,
    name: &str,
    context: &str,
) -> Result<usize, InputError> {
    headers
        .iter()
        .position(|h| h.trim() == name)
        .ok_or_else(|| {
            InputError::at(file, 1, None, {
                // A wide trace has a column per minute: the first few say enough.
                const SHOWN: usize = 12;
                let mut shown = headers.iter().take(SHOWN).collect::<Vec<_>>().join(", ");
                if headers.len() > SHOWN {
                    shown.push_str(&format!(", … ({} more)", headers.len() - SHOWN));
                }
                format!("{context}no column named {name:?} (columns: {shown})")
            })
        })
}

/// A wide trace: the rows whose cells equal `row`'s, summed per column; columns named by
/// integers are minutes (offset `(minute − first minute) × 60 s`).
fn read_wide(
    file: &Path,
    text: &str,
    row: &[(String, String)],
    scale: f64,
) -> Result<Vec<(u64, f64)>, InputError> {
    let (mut rdr, headers) = open_csv(file, text)?;
    let mut keys = Vec::new();
    for (name, value) in row {
        let col = column_named(file, &headers, name, &format!("row: to match {value:?}: "))?;
        keys.push((col, value.as_str()));
    }
    let minutes: Vec<(usize, u64)> = headers
        .iter()
        .enumerate()
        .filter_map(|(i, h)| h.trim().parse::<u64>().ok().map(|m| (i, m)))
        .collect();
    let Some(first) = minutes.iter().map(|m| m.1).min() else {
        return Err(InputError::at(
            file,
            1,
            None,
            "row: a wide trace needs columns named by minute numbers (0, 1, 2, ...)",
        ));
    };
    let mut sums = vec![0.0; minutes.len()];
    let mut matched = 0;
    for rec in rdr.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            InputError::at(file, line, None, format!("invalid CSV: {e}"))
        })?;
        if !keys
            .iter()
            .all(|(c, v)| rec.get(*c).map(str::trim) == Some(*v))
        {
            continue;
        }
        matched += 1;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        for (sum, &(col, _)) in sums.iter_mut().zip(&minutes) {
            *sum += cell_value(file, line, &headers, &rec, col)?;
        }
    }
    if matched == 0 {
        let want: Vec<String> = row.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        return Err(InputError::file(
            file,
            format!("row: no row has {}", want.join(" and ")),
        ));
    }
    let mut points: Vec<(u64, f64)> = minutes
        .iter()
        .zip(sums)
        .map(|(&(_, m), v)| ((m - first) * 60_000, v * scale))
        .collect();
    points.sort_by_key(|p| p.0);
    Ok(points)
}

/// A CSV reader over `text` and its header row.
fn open_csv<'a>(
    file: &Path,
    text: &'a str,
) -> Result<(csv::Reader<&'a [u8]>, csv::StringRecord), InputError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| InputError::at(file, 1, None, format!("cannot read CSV header: {e}")))?
        .clone();
    Ok((rdr, headers))
}

/// The rate in column `col` of a row: a non-negative number, else an error naming the file,
/// line and column.
fn cell_value(
    file: &Path,
    line: u64,
    headers: &csv::StringRecord,
    rec: &csv::StringRecord,
    col: usize,
) -> Result<f64, InputError> {
    let raw = rec.get(col).unwrap_or("").trim();
    let at = |m: String| InputError::at(file, line, Some(col as u64 + 1), m);
    let v: f64 = raw.parse().map_err(|_| {
        at(format!(
            "bad value {raw:?} in column {:?}: expected a number",
            headers.get(col).unwrap_or("")
        ))
    })?;
    if !(v.is_finite() && v >= 0.0) {
        return Err(at(format!("bad value {raw:?}: rates must be non-negative")));
    }
    Ok(v)
}

/// A long trace: a time column and a value column; also the first row's timestamp (ms since
/// the epoch) when times are timestamps.
fn read_long(
    file: &Path,
    text: &str,
    column: Option<&str>,
    scale: f64,
) -> Result<(Points, Option<i64>), InputError> {
    let (mut rdr, headers) = open_csv(file, text)?;
    if headers.len() < 2 {
        return Err(InputError::at(
            file,
            1,
            None,
            "a trace needs at least two columns: time and value",
        ));
    }
    let col = match column {
        None => 1,
        Some(name) => column_named(file, &headers, name, "")?,
    };
    let mut points = Vec::new();
    let mut first_ts: Option<i64> = None;
    for rec in rdr.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            InputError::at(file, line, None, format!("invalid CSV: {e}"))
        })?;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let t_raw = rec.get(0).unwrap_or("").trim();
        let offset_ms: u64 = if let Ok(secs) = t_raw.parse::<f64>() {
            if !(secs.is_finite() && secs >= 0.0) {
                return Err(InputError::at(
                    file,
                    line,
                    Some(1),
                    format!("time offset {t_raw:?} must be a non-negative number of seconds"),
                ));
            }
            (secs * 1000.0).round() as u64
        } else if let Ok(ts) = parse_timestamp(t_raw) {
            let first = *first_ts.get_or_insert(ts);
            if ts < first {
                return Err(InputError::at(
                    file,
                    line,
                    Some(1),
                    format!("timestamp {t_raw:?} is before the first row"),
                ));
            }
            (ts - first) as u64
        } else {
            return Err(InputError::at(
                file,
                line,
                Some(1),
                format!(
                    "bad time value {t_raw:?}: expected seconds (e.g. 60) or an RFC 3339 timestamp"
                ),
            ));
        };
        let v = cell_value(file, line, &headers, &rec, col)?;
        points.push((offset_ms, v * scale));
    }
    if points.is_empty() {
        return Err(InputError::file(file, "trace has no data rows"));
    }
    points.sort_by_key(|p| p.0);
    Ok((points, first_ts))
}

fn parse_timestamp(s: &str) -> Result<i64, ()> {
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t.as_millisecond());
    }
    // Local date-time without offset: read as UTC.
    if let Ok(dt) = s.parse::<jiff::civil::DateTime>() {
        return dt
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp().as_millisecond())
            .map_err(|_| ());
    }
    Err(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(content: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(content.as_bytes()).unwrap();
        f
    }

    #[test]
    fn reads_offsets_and_scales() {
        let f = write("t,rps\n0,10\n60,20\n30,15\n");
        let p = read_trace(f.path(), None, 2.0).unwrap();
        assert_eq!(p, vec![(0, 20.0), (30_000, 30.0), (60_000, 40.0)]);
    }

    #[test]
    fn reads_timestamps_and_named_columns() {
        let f = write(
            "timestamp,requests,peak\n1998-04-30T21:30:00Z,120,5\n1998-04-30T21:31:00Z,60,4\n",
        );
        let p = read_trace(f.path(), Some("requests"), 1.0 / 60.0).unwrap();
        assert_eq!(p, vec![(0, 2.0), (60_000, 1.0)]);
    }

    fn select(from: Option<&str>, row: Option<&[(&str, &str)]>) -> TraceSelect {
        TraceSelect {
            column: None,
            from: from.map(|f| TraceFrom::parse(f).unwrap()),
            row: row.map(|r| {
                r.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            }),
        }
    }

    #[test]
    fn from_starts_the_run_inside_the_trace() {
        let f = write(
            "timestamp,requests\n1998-06-25T00:00:00Z,60\n1998-06-25T00:01:00Z,120\n1998-06-25T00:02:00Z,180\n",
        );
        // On a row: that row is the run's start.
        let p =
            read_trace_select(f.path(), &select(Some("1998-06-25T00:01:00Z"), None), 1.0).unwrap();
        assert_eq!(p, vec![(0, 120.0), (60_000, 180.0)]);
        // Between rows: the value in force holds until the next row.
        let p = read_trace_select(f.path(), &select(Some("90s"), None), 1.0 / 60.0).unwrap();
        assert_eq!(p, vec![(0, 2.0), (30_000, 3.0)]);
        let e = read_trace_select(f.path(), &select(Some("1998-06-24T00:00:00Z"), None), 1.0)
            .unwrap_err();
        assert!(e.message.contains("before the trace's first row"), "{e}");
        let e = read_trace_select(f.path(), &select(Some("1h"), None), 1.0).unwrap_err();
        assert!(e.message.contains("past its last row"), "{e}");
        let offsets = write("t,rps\n0,1\n60,2\n");
        let e = read_trace_select(
            offsets.path(),
            &select(Some("1998-06-25T00:00:00Z"), None),
            1.0,
        )
        .unwrap_err();
        assert!(e.message.contains("rows are offsets"), "{e}");
        assert!(TraceFrom::parse("soon").is_err());
    }

    #[test]
    fn wide_rows_are_summed_per_minute() {
        let f = write(
            "Owner,Function,Trigger,480,481,482\na,f1,http,1,2,3\na,f2,queue,10,20,30\nb,f3,queue,100,200,300\n",
        );
        let p =
            read_trace_select(f.path(), &select(None, Some(&[("Function", "f2")])), 1.0).unwrap();
        assert_eq!(p, vec![(0, 10.0), (60_000, 20.0), (120_000, 30.0)]);
        let p = read_trace_select(
            f.path(),
            &select(Some("1m"), Some(&[("Trigger", "queue")])),
            1.0 / 60.0,
        )
        .unwrap();
        assert_eq!(p, vec![(0, 220.0 / 60.0), (60_000, 330.0 / 60.0)]);
        let e = read_trace_select(f.path(), &select(None, Some(&[("Function", "f9")])), 1.0)
            .unwrap_err();
        assert!(e.message.contains("no row has Function = f9"), "{e}");
        let e = read_trace_select(f.path(), &select(None, Some(&[("Fn", "f1")])), 1.0).unwrap_err();
        assert!(
            e.message.contains(
                "row: to match \"f1\": no column named \"Fn\" (columns: Owner, Function, Trigger, 480, 481, 482)"
            ),
            "{e}"
        );
        // A trace with a column per minute names the first few.
        let header: Vec<String> = (0..1440).map(|m| m.to_string()).collect();
        let wide = write(&format!(
            "Function,{}\nf1,{}\n",
            header.join(","),
            vec!["1"; 1440].join(",")
        ));
        let e =
            read_trace_select(wide.path(), &select(None, Some(&[("Fn", "f1")])), 1.0).unwrap_err();
        assert!(
            e.message
                .ends_with("(columns: Function, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, … (1429 more))"),
            "{e}"
        );
        let bad = write("Function,480,481\nf1,1,x\n");
        let e = read_trace_select(bad.path(), &select(None, Some(&[("Function", "f1")])), 1.0)
            .unwrap_err();
        assert_eq!((e.line, e.column), (Some(2), Some(3)));
    }

    #[test]
    fn bad_value_names_line_and_column() {
        let f = write("t,rps\n0,10\n60,abc\n");
        let e = read_trace(f.path(), None, 1.0).unwrap_err();
        assert_eq!(e.line, Some(3));
        assert_eq!(e.column, Some(2));
        assert!(e.message.contains("\"abc\""), "{e}");
    }

    #[test]
    fn bad_time_and_negative_values() {
        let f = write("t,rps\nsoon,10\n");
        assert!(
            read_trace(f.path(), None, 1.0)
                .unwrap_err()
                .message
                .contains("bad time value")
        );
        let f = write("t,rps\n0,-1\n");
        assert!(
            read_trace(f.path(), None, 1.0)
                .unwrap_err()
                .message
                .contains("non-negative")
        );
        let f = write("t,rps\n");
        assert!(
            read_trace(f.path(), None, 1.0)
                .unwrap_err()
                .message
                .contains("no data")
        );
        let e = read_trace(Path::new("/nonexistent/x.csv"), None, 1.0).unwrap_err();
        assert!(e.message.contains("cannot read trace"));
    }
}

#[cfg(test)]
mod bounded_tests {
    use super::*;

    #[test]
    fn a_file_that_never_ends_is_refused() {
        // /dev/zero never ends; reading stops one byte past the limit.
        let p = Path::new("/dev/zero");
        if !p.exists() {
            eprintln!("skipped a_file_that_never_ends_is_refused: no /dev/zero");
            return;
        }
        let e = read_trace(p, None, 1.0).unwrap_err();
        assert!(e.to_string().contains("longer than 1024 MiB"), "{e}");
    }
}
