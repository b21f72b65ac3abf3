//! Load traces from CSV files.
//!
//! Format: one header line; the first column is the time, either an offset in seconds from the
//! start of the run, or an RFC 3339 timestamp (then offsets are taken from the first row, so
//! public traces such as those in `../shared/traces/` can be used as they are); the value column
//! is the second one unless `column` names another. Values are requests per second, multiplied
//! by `scale`. Every error names the file, line and column.

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

/// Reads a trace into sorted `(offset ms, value)` points.
pub fn read_trace(
    file: &Path,
    column: Option<&str>,
    scale: f64,
) -> Result<Vec<(u64, f64)>, InputError> {
    let text = read_bounded(file)?;
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| InputError::at(file, 1, None, format!("cannot read CSV header: {e}")))?
        .clone();
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
        Some(name) => headers
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| {
                InputError::at(
                    file,
                    1,
                    None,
                    format!(
                        "no column named {name:?} (columns: {})",
                        headers.iter().collect::<Vec<_>>().join(", ")
                    ),
                )
            })?,
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
        let v_raw = rec.get(col).unwrap_or("").trim();
        let v: f64 = v_raw.parse().map_err(|_| {
            InputError::at(
                file,
                line,
                Some(col as u64 + 1),
                format!(
                    "bad value {v_raw:?} in column {:?}: expected a number",
                    headers.get(col).unwrap_or("")
                ),
            )
        })?;
        if !(v.is_finite() && v >= 0.0) {
            return Err(InputError::at(
                file,
                line,
                Some(col as u64 + 1),
                format!("bad value {v_raw:?}: rates must be non-negative"),
            ));
        }
        points.push((offset_ms, v * scale));
    }
    if points.is_empty() {
        return Err(InputError::file(file, "trace has no data rows"));
    }
    points.sort_by_key(|p| p.0);
    Ok(points)
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
