//! Contents of the data files, rendered in memory.

use std::io;

use serde::Serialize;

use crate::format::format_number;
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
    to_string(|w| write_jsonl(events, w), RenderError::Json)
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

/// Contents of `timeseries.csv`: a header of column names, then one line per row with numbers
/// formatted by [`format_number`] (non-finite values give empty cells).
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
    cw.write_record(&ts.columns).map_err(csv_err)?;
    for row in &ts.rows {
        cw.write_record(row.iter().map(|v| format_number(*v)))
            .map_err(csv_err)?;
    }
    cw.flush()?;
    Ok(())
}
