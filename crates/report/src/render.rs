//! Contents of the data files, rendered in memory.

use std::io;

use serde::Serialize;

use crate::format::write_number;
use crate::spill::SpillReader;
use crate::{EventRecord, RenderError, TimeSeries, TranscriptEntry};

/// Why writing a file's contents to a stream failed: the contents or the stream.
#[derive(Debug)]
pub(crate) enum StreamError {
    /// The contents could not be produced.
    Render(RenderError),
    /// The stream failed.
    Io(io::Error),
}

impl From<RenderError> for StreamError {
    fn from(e: RenderError) -> Self {
        StreamError::Render(e)
    }
}

impl From<io::Error> for StreamError {
    fn from(e: io::Error) -> Self {
        StreamError::Io(e)
    }
}

/// Renders into memory with a streaming writer (which then cannot fail on I/O).
pub(crate) fn to_string(
    write: impl FnOnce(&mut Vec<u8>) -> Result<(), StreamError>,
    utf8_err: fn(String) -> RenderError,
) -> Result<String, RenderError> {
    let mut buf = Vec::new();
    match write(&mut buf) {
        Ok(()) => String::from_utf8(buf).map_err(|e| utf8_err(e.to_string())),
        Err(StreamError::Render(e)) => Err(e),
        Err(StreamError::Io(e)) => Err(utf8_err(e.to_string())),
    }
}

/// Contents of `summary.json`: pretty-printed JSON (keys in the summary's order) and a newline.
pub fn render_summary_json(summary: &serde_json::Value) -> Result<String, RenderError> {
    let mut text =
        serde_json::to_string_pretty(summary).map_err(|e| RenderError::Json(e.to_string()))?;
    text.push('\n');
    Ok(text)
}

/// Contents of `events.jsonl`: one compact JSON object a line
/// (`time`, `type`, `reason`, `involvedObject` {`kind`, `namespace`, `name`}, `message`, `source`).
pub fn render_events_jsonl(events: &[EventRecord]) -> Result<String, RenderError> {
    to_string(|w| write_events_jsonl(events, w), RenderError::Json)
}

/// Contents of `transcript.jsonl`: one compact JSON object a step
/// (`at`, `command`, `exitCode`, `stdout`, `stderr`).
pub fn render_transcript_jsonl(transcript: &[TranscriptEntry]) -> Result<String, RenderError> {
    to_string(|w| write_jsonl(transcript, w), RenderError::Json)
}

/// Writes one compact JSON object a line.
pub(crate) fn write_jsonl<T: Serialize, W: io::Write>(
    items: &[T],
    w: &mut W,
) -> Result<(), StreamError> {
    for item in items {
        serde_json::to_writer(&mut *w, item).map_err(|e| {
            if e.is_io() {
                StreamError::Io(e.into())
            } else {
                StreamError::Render(RenderError::Json(e.to_string()))
            }
        })?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

/// Writes `events.jsonl`: the bytes [`write_jsonl`] gives (serde's field order and escaping,
/// property-tested), with each line assembled in one buffer and strings that need no escape
/// (nearly all) copied as they are.
pub(crate) fn write_events_jsonl<W: io::Write>(
    events: &[EventRecord],
    w: &mut W,
) -> Result<(), StreamError> {
    let mut line = Vec::with_capacity(512);
    for e in events {
        line.clear();
        line.extend_from_slice(b"{\"time\":");
        json_value(&mut line, &e.time)?;
        line.extend_from_slice(b",\"type\":");
        json_str(&mut line, &e.type_)?;
        line.extend_from_slice(b",\"reason\":");
        json_str(&mut line, &e.reason)?;
        line.extend_from_slice(b",\"involvedObject\":{\"kind\":");
        let o = &e.involved_object;
        json_str(&mut line, &o.kind)?;
        line.extend_from_slice(b",\"namespace\":");
        json_str(&mut line, &o.namespace)?;
        line.extend_from_slice(b",\"name\":");
        json_str(&mut line, &o.name)?;
        line.extend_from_slice(b"},\"message\":");
        json_str(&mut line, &e.message)?;
        line.extend_from_slice(b",\"source\":");
        json_str(&mut line, &e.source)?;
        line.extend_from_slice(b"}\n");
        w.write_all(&line)?;
    }
    Ok(())
}

/// Appends a JSON string: as it is between quotes when no byte needs an escape (`"`, `\\`,
/// control characters: what serde_json escapes), else through serde_json.
fn json_str(out: &mut Vec<u8>, s: &str) -> Result<(), StreamError> {
    // A fold without early exit, which the compiler vectorizes.
    let escape = s.bytes().fold(false, |acc, b| {
        acc | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if escape {
        return json_value(out, s);
    }
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
    Ok(())
}

/// Appends a value as serde_json writes it.
fn json_value<T: Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) -> Result<(), StreamError> {
    serde_json::to_writer(out, v).map_err(|e| StreamError::Render(RenderError::Json(e.to_string())))
}

/// Contents of `timeseries.csv`: a header of column names, then one line per row with numbers
/// formatted by [`crate::format_number`] (non-finite values give empty cells).
///
/// Empty when there are no columns; fails when a row does not have one value per column.
pub fn render_timeseries_csv(ts: &TimeSeries) -> Result<String, RenderError> {
    to_string(|w| write_timeseries_csv(ts, w), RenderError::Csv)
}

/// Writes `timeseries.csv` (see [`render_timeseries_csv`]); the rows are checked before
/// anything is written.
pub(crate) fn write_timeseries_csv<W: io::Write>(
    ts: &TimeSeries,
    w: &mut W,
) -> Result<(), StreamError> {
    if let Some(row) = ts.rows.iter().position(|r| r.len() != ts.columns.len()) {
        return Err(RenderError::RaggedRow {
            row,
            len: ts.rows[row].len(),
            expected: ts.columns.len(),
        }
        .into());
    }
    if ts.columns.is_empty() {
        return Ok(());
    }
    write_csv_header(&ts.columns, w)?;
    let mut line = Vec::with_capacity(16 * ts.columns.len());
    for row in &ts.rows {
        write_csv_line(&mut line, row, w)?;
    }
    Ok(())
}

/// Writes `timeseries.csv` from rows spilled to disk (see [`crate::spill`]): output column
/// `k` is value `order[k]` of a spilled row (0 where the row is shorter), as
/// [`write_timeseries_csv`] writes the same rows held in memory.
pub(crate) fn write_spilled_csv<W: io::Write>(
    columns: &[String],
    order: &[usize],
    rows: &mut SpillReader,
    w: &mut W,
) -> Result<(), StreamError> {
    if columns.is_empty() {
        return Ok(());
    }
    write_csv_header(columns, w)?;
    let mut line = Vec::with_capacity(16 * columns.len());
    let mut raw = Vec::new();
    let mut ordered = Vec::with_capacity(order.len());
    while rows.next_row(&mut raw)? {
        ordered.clear();
        ordered.extend(order.iter().map(|&i| raw.get(i).copied().unwrap_or(0.0)));
        write_csv_line(&mut line, &ordered, w)?;
    }
    Ok(())
}

/// The header line of `timeseries.csv`.
fn write_csv_header<W: io::Write>(columns: &[String], w: &mut W) -> Result<(), StreamError> {
    let csv_err = |e: csv::Error| {
        if !e.is_io_error() {
            return StreamError::Render(RenderError::Csv(e.to_string()));
        }
        match e.into_kind() {
            csv::ErrorKind::Io(e) => StreamError::Io(e),
            other => StreamError::Render(RenderError::Csv(format!("{other:?}"))),
        }
    };
    let mut cw = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(&mut *w);
    cw.write_record(columns).map_err(csv_err)?;
    cw.flush()?;
    Ok(())
}

/// One row of `timeseries.csv`, formatted into `line` (no allocation per cell) as the csv
/// writer would write it: the rows hold numbers only, which never need quoting.
fn write_csv_line<W: io::Write>(
    line: &mut Vec<u8>,
    row: &[f64],
    w: &mut W,
) -> Result<(), StreamError> {
    line.clear();
    for (i, v) in row.iter().enumerate() {
        if i > 0 {
            line.push(b',');
        }
        write_number(line, *v);
    }
    if line.is_empty() {
        // A record of one empty field, quoted as the csv writer does.
        line.extend_from_slice(b"\"\"");
    }
    line.push(b'\n');
    w.write_all(line)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InvolvedObject;
    use proptest::prelude::*;

    /// `timeseries.csv` as written through the csv crate for every row.
    fn csv_reference(ts: &TimeSeries) -> String {
        let mut cw = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(vec![]);
        cw.write_record(&ts.columns).unwrap();
        for row in &ts.rows {
            cw.write_record(row.iter().map(|v| crate::format_number(*v)))
                .unwrap();
        }
        String::from_utf8(cw.into_inner().unwrap()).unwrap()
    }

    fn cell() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>(),
            (-1e6f64..1e6),
            (0u32..5000).prop_map(f64::from),
            Just(f64::NAN),
            Just(0.0),
            Just(-0.0),
        ]
    }

    proptest! {
        #[test]
        fn csv_rows_match_the_csv_writer(
            width in 1usize..6,
            cells in proptest::collection::vec(cell(), 0..40),
        ) {
            let columns: Vec<String> = (0..width).map(|i| format!("c{i},\"{i}\"")).collect();
            let rows: Vec<Vec<f64>> = cells.chunks(width).filter(|c| c.len() == width)
                .map(<[f64]>::to_vec).collect();
            let ts = TimeSeries { columns, rows, x_label: None };
            prop_assert_eq!(render_timeseries_csv(&ts).unwrap(), csv_reference(&ts));
        }

        #[test]
        fn events_match_serde(
            time in prop_oneof![any::<f64>(), (0u32..100_000).prop_map(|t| f64::from(t) / 20.0)],
            texts in proptest::collection::vec(
                prop_oneof![any::<String>(), "[a-zA-Z0-9 /:.-]{0,40}", "[\"\\\\\n\t\u{1}\u{7f}é<>]{0,8}"],
                6,
            ),
        ) {
            let e = EventRecord {
                time,
                type_: texts[0].clone(),
                reason: texts[1].clone(),
                involved_object: InvolvedObject {
                    kind: texts[2].clone(),
                    namespace: texts[3].clone(),
                    name: texts[4].clone(),
                },
                message: texts[5].clone(),
                source: "default-scheduler".into(),
            };
            let events = vec![e.clone(), e];
            let reference = to_string(|w| write_jsonl(&events, w), RenderError::Json).unwrap();
            prop_assert_eq!(render_events_jsonl(&events).unwrap(), reference);
        }
    }

    #[test]
    fn one_column_nan_row_is_quoted_like_csv() {
        let ts = TimeSeries {
            columns: vec!["x".into()],
            rows: vec![vec![f64::NAN], vec![1.5]],
            x_label: None,
        };
        assert_eq!(render_timeseries_csv(&ts).unwrap(), "x\n\"\"\n1.5\n");
        assert_eq!(render_timeseries_csv(&ts).unwrap(), csv_reference(&ts));
    }
}
