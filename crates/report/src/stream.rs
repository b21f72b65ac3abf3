//! Writing a run directory while the run goes on: `events.jsonl` on its own thread.

use std::fs;
use std::io;
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::thread::JoinHandle;

use crate::compression::{Compression, OutputFile};
use crate::event_data::EventData;
use crate::html::EventsPage;
use crate::interactive::{
    Busyness, Reduced, ReducedBuilder, SHOWN_OBJECTS, embedded_series, rank_objects,
};
use crate::render::{StreamError, write_events_jsonl};
use crate::spill::{SPILL_FILE, SpillReader, SpillWriter};
use crate::write::{Events, Spilled, Started, WriteOptions, io_err, write_files_ranked};
use crate::{ChartSpec, EventRecord, ReportError, ReportErrorKind, RunOutput, TimeSeries};
use std::collections::{BTreeSet, HashMap};

/// The file in the staging directory holding the page's compressed event chunks until the
/// page is written (removed before the directory is installed).
pub(crate) const EVENTS_PAGE_SPILL: &str = ".events-page.spill";

/// Batches of events queued for the writer thread at most (the producer waits beyond).
const QUEUED_BATCHES: usize = 4;

/// A writer thread's result: the event table's data and the name `events.jsonl` was written
/// under (`events.jsonl.gz` when compressed), or the failing file and why.
type Written = Result<(EventData, String), (&'static str, ReportErrorKind)>;

/// A run directory written as the run goes on: [`RunWriter::events`] hands over batches of
/// events, in order, which a thread of its own renders into `events.jsonl` and encodes for
/// `report.html`'s event table meanwhile (compressed on a third thread);
/// [`RunWriter::finish`] writes the other files (as [`crate::write_outputs`] does) and moves
/// the directory into place.
///
/// The files are byte for byte those [`crate::write_outputs`] writes for the same run (all the
/// events in `out.events`), however the events were split into batches. The writer keeps
/// only what `report.html` shows of them (their count, the warnings' count and the key events
/// marked on the charts, kept on the caller's thread; the event table's data up to
/// [`crate::MAX_HTML_EVENT_BYTES`], compressed as it fills): each written batch goes back to the caller's thread, which drops
/// its events and records the next ones in it, so the events in memory are a few batches
/// whatever the length of the run, and their strings are freed by the thread that allocated
/// them (whose allocator reuses that memory for the next events).
/// Dropped without [`RunWriter::finish`] (or after an error), the thread is stopped and joined
/// and the staging directory removed: the target is as it was.
pub struct RunWriter {
    started: Started,
    /// To the writer thread; `None` once closed.
    tx: Option<SyncSender<Vec<EventRecord>>>,
    /// The writer thread; `None` once joined.
    thread: Option<JoinHandle<Written>>,
    /// Written batches back from the writer thread, for [`RunWriter::events`] to empty and
    /// hand out.
    spare: Receiver<Vec<EventRecord>>,
    /// What the page shows of the events handed over so far (but the event table's data,
    /// which the writer thread encodes and hands back when it ends).
    page: EventsPage,
    /// Time-series rows handed over by [`RunWriter::samples`]; `None` before the first.
    spill: Option<SpillWriter>,
}

impl RunWriter {
    /// Checks the target `dir` (see [`crate::write_outputs`] for what may be replaced), makes
    /// the staging directory and starts the thread writing `events.jsonl` there.
    pub fn start(dir: &Path) -> Result<Self, ReportError> {
        Self::start_with(dir, WriteOptions::default())
    }

    /// [`RunWriter::start`] with options (`force`: replace whatever directory is at `dir`).
    pub fn start_with(dir: &Path, options: WriteOptions) -> Result<Self, ReportError> {
        let started = Started::start(dir, options)?;
        let path = started.staging.path.clone();
        Self::with_thread(started, path, dir, options)
    }

    /// A writer over `started` (for the target `dir`) whose thread writes the events into
    /// the folder `events_dir` (and encodes `options`' event budget of them at most for the
    /// page).
    fn with_thread(
        started: Started,
        events_dir: std::path::PathBuf,
        dir: &Path,
        options: WriteOptions,
    ) -> Result<Self, ReportError> {
        let (tx, rx) = sync_channel(QUEUED_BATCHES);
        let (spare_tx, spare) = channel();
        let data = EventData::spilling(
            options.event_budget(),
            started.staging.path.join(EVENTS_PAGE_SPILL),
        );
        let compression = options.compression;
        let thread = std::thread::Builder::new()
            .name("kscale-events".to_owned())
            .spawn(move || write_events(&events_dir, compression, rx, spare_tx, data))
            .map_err(|e| started.fail(io_err("start a thread for", dir, e)))?;
        Ok(RunWriter {
            started,
            tx: Some(tx),
            thread: Some(thread),
            spare,
            page: EventsPage::new(options.event_budget()),
            spill: None,
        })
    }

    /// Hands over the next events (following the earlier ones) and returns an empty buffer
    /// to record the following ones in: an earlier batch, written and emptied here (so the
    /// caller's thread frees the events it allocated and does not allocate a buffer afresh),
    /// or a new one. When writing `events.jsonl` failed, returns that error; the writer is then of no
    /// further use (drop it).
    pub fn events(&mut self, batch: Vec<EventRecord>) -> Result<Vec<EventRecord>, ReportError> {
        if batch.is_empty() {
            return Ok(batch);
        }
        for e in &batch {
            self.page.note(e);
        }
        let sent = self.tx.as_ref().is_some_and(|tx| tx.send(batch).is_ok());
        if sent {
            let mut spare = self.spare.try_recv().unwrap_or_default();
            spare.clear();
            return Ok(spare);
        }
        // The thread has stopped: on an error, or because it is gone already.
        self.tx = None;
        let e = match self.thread.is_some().then(|| self.join()) {
            Some(Err((_, kind))) => kind,
            _ => stopped(&self.started.staging.path),
        };
        Err(self.started.fail(e))
    }

    /// Hands over time-series rows (following the earlier ones), which are kept on disk in
    /// the staging directory instead of memory until [`RunWriter::finish_spilled`] writes
    /// `timeseries.csv` from them. A row holds values in the producer's column order (its
    /// length the columns known when it was taken); `finish_spilled` maps them to the output's.
    pub fn samples(&mut self, rows: &[Vec<f64>]) -> Result<(), ReportError> {
        if self.spill.is_none() {
            let path = self.started.staging.path.join(SPILL_FILE);
            let w = SpillWriter::create(&path)
                .map_err(|e| self.started.fail(io_err("write", &path, e)))?;
            self.spill = Some(w);
        }
        let spill = self.spill.as_mut().expect("created above");
        for row in rows {
            if let Err(e) = spill.push(row) {
                let kind = io_err("write", spill.path(), e);
                return Err(self.started.fail(kind));
            }
        }
        Ok(())
    }

    /// [`RunWriter::finish`] for a run whose time-series rows were handed over with
    /// [`RunWriter::samples`]: `out.timeseries` holds the output's column names (and no
    /// rows), and output column `k` is value `order[k]` of each handed-over row (0 where a
    /// row is shorter). The files are byte for byte those [`crate::write_outputs`] writes for
    /// the same rows held in `out.timeseries`. On return `out.timeseries` holds the names of
    /// the columns the charts draw (time first), and no rows: the charts were drawn from
    /// those columns reduced as they were read back ([`Reduced`]), so memory holds what the
    /// page draws, not every sample of a long run.
    pub fn finish_spilled(
        mut self,
        out: &mut RunOutput,
        order: &[usize],
    ) -> Result<(), ReportError> {
        let Some(mut spill) = self.spill.take() else {
            return self.finish(out);
        };
        debug_assert!(out.timeseries.rows.is_empty(), "rows both spilled and held");
        debug_assert_eq!(order.len(), out.timeseries.columns.len());
        let path = spill.path().to_path_buf();
        let rows = spill.rows();
        let fail_io = |e| self.started.fail(io_err("write", &path, e));
        spill.flush().map_err(fail_io)?;
        drop(spill);
        let columns = std::mem::take(&mut out.timeseries.columns);
        let charted = charted_columns(&columns, order, &out.charts, &path, rows)
            .map_err(|e| self.started.fail(io_err("read", &path, e)))?;
        out.timeseries = TimeSeries {
            columns: charted.columns().to_vec(),
            ..TimeSeries::default()
        };
        let spilled = Spilled::Rows {
            path: &path,
            rows,
            columns: &columns,
            order,
            charted: &charted,
        };
        self.finish_with(out, spilled)
    }

    /// Writes the other files of `out` and moves the run directory into place. The events
    /// still in `out.events` are written after those handed over (`out.events` is left
    /// empty). On failure the error of `events.jsonl` if writing it failed, else that of the
    /// first failing file in [`crate::OUTPUT_FILES`] order, is returned.
    pub fn finish(self, out: &mut RunOutput) -> Result<(), ReportError> {
        self.finish_with(out, Spilled::No)
    }

    fn finish_with(mut self, out: &mut RunOutput, spilled: Spilled<'_>) -> Result<(), ReportError> {
        self.events(std::mem::take(&mut out.events))?;
        // The thread ends once it has written what it was handed (a few batches at most).
        self.tx = None;
        let (data, events_file) = match self.thread.is_some().then(|| self.join()) {
            Some(Ok(written)) => written,
            Some(Err((_, kind))) => return Err(self.started.fail(kind)),
            None => return Err(self.started.fail(stopped(&self.started.staging.path))),
        };
        self.page.data = data;
        self.page.finish();
        write_files_ranked(
            &self.started.staging.path,
            out,
            Events::Streamed(&self.page, &events_file),
            spilled,
            self.started.options().compression,
        )
        .map_err(|(_, kind)| self.started.fail(kind))?;
        // The spill files are not outputs.
        if let Spilled::Rows { path, .. } = spilled {
            fs::remove_file(path).map_err(|e| self.started.fail(io_err("remove", path, e)))?;
        }
        let events_spill = self.started.staging.path.join(EVENTS_PAGE_SPILL);
        match fs::remove_file(&events_spill) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(self.started.fail(io_err("remove", &events_spill, e)));
            }
            _ => {}
        }
        self.started.install()
    }

    /// Waits for the writer thread (there must be one); a panic there is resumed here.
    fn join(&mut self) -> Written {
        let thread = self.thread.take().expect("joined once");
        thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }
}

impl Drop for RunWriter {
    fn drop(&mut self) {
        // Stop and wait for the thread before the staging directory goes.
        self.tx = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The columns of a spilled time series that `report.html` embeds (and the time, first), read
/// from the spill file at `path` (`rows` rows; see [`RunWriter::finish_spilled`] for `order`),
/// in output order and reduced to what the charts draw of them ([`Reduced`]): of a chart with
/// more objects than it embeds, only the busiest ones (a first pass over the file measures
/// every charted column's busyness, as the page ranks them), so memory holds what the page
/// shows, not every charted series of a long run.
fn charted_columns(
    columns: &[String],
    order: &[usize],
    charts: &[ChartSpec],
    path: &Path,
    rows: usize,
) -> io::Result<Reduced> {
    let position: HashMap<&str, usize> = columns
        .iter()
        .enumerate()
        .skip(1)
        .map(|(k, c)| (c.as_str(), k))
        .collect();
    let value = |raw: &[f64], k: usize| raw.get(order[k]).copied().unwrap_or(0.0);
    // Pass 1: the busyness of every column of a chart that ranks its objects.
    let ranked: Vec<usize> = charts
        .iter()
        .filter(|c| c.series.len() > SHOWN_OBJECTS)
        .flat_map(|c| {
            c.series
                .iter()
                .filter_map(|s| position.get(s.as_str()).copied())
        })
        .collect::<BTreeSet<usize>>()
        .into_iter()
        .collect();
    let mut busy: HashMap<usize, Busyness> = HashMap::new();
    let mut raw = Vec::new();
    if !ranked.is_empty() {
        let mut stats = vec![Busyness::default(); ranked.len()];
        let mut reader = SpillReader::open(path, rows)?;
        while reader.next_row(&mut raw)? {
            for (b, &k) in stats.iter_mut().zip(&ranked) {
                b.add(value(&raw, k));
            }
        }
        busy = ranked.into_iter().zip(stats).collect();
    }
    // The columns embedded.
    let mut keep = BTreeSet::from([0usize]);
    for chart in charts {
        let col = |i: usize| position.get(chart.series[i].as_str()).copied();
        let ranking = rank_objects(chart, |i| col(i).map(|k| busy[&k].value()));
        keep.extend(embedded_series(&ranking).filter_map(col));
    }
    let keep: Vec<usize> = keep.into_iter().collect();
    // Pass 2: their values, reduced as they come.
    let mut reader = SpillReader::open(path, rows)?;
    let mut out = ReducedBuilder::new(keep.iter().map(|&k| columns[k].clone()).collect(), rows);
    while reader.next_row(&mut raw)? {
        out.push(|c| value(&raw, keep[c]));
    }
    Ok(out.finish())
}

/// The error of a writer used after its thread failed.
fn stopped(staging: &Path) -> ReportErrorKind {
    io_err(
        "write",
        &staging.join("events.jsonl"),
        io::Error::other("the events writer stopped after an earlier error"),
    )
}

/// The writer thread: renders each batch into `events.jsonl` in `dir` (compressed as
/// `compression` says) and adds it to the page's `data` until the channel closes, sending the
/// written batches back on `spare` (their events are dropped there); returns `data` and the
/// file's name.
fn write_events(
    dir: &Path,
    compression: Compression,
    rx: Receiver<Vec<EventRecord>>,
    spare: Sender<Vec<EventRecord>>,
    mut data: EventData,
) -> Written {
    let file = "events.jsonl";
    let io_fail = |path: &Path, e| (file, io_err("write", path, e));
    let mut w =
        OutputFile::create(dir, file, compression).map_err(|e| io_fail(&dir.join(file), e))?;
    for batch in rx {
        for e in &batch {
            data.push(e);
        }
        match write_events_jsonl(&batch, &mut w) {
            Ok(()) => {}
            Err(StreamError::Render(error)) => {
                return Err((file, ReportErrorKind::Render { file, error }));
            }
            Err(StreamError::Io(e)) => return Err(io_fail(&w.path(), e)),
        }
        // Gone only when the writer is: then the batch is freed here.
        let _ = spare.send(batch);
    }
    let path = w.path();
    let name = w.finish().map_err(|e| io_fail(&path, e))?;
    Ok((data, name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{InvolvedObject, TimeSeries};

    fn event() -> EventRecord {
        EventRecord {
            time: 1.0,
            type_: "Normal".into(),
            reason: "Scheduled".into(),
            involved_object: InvolvedObject {
                kind: "Pod".into(),
                namespace: "default".into(),
                name: "p".into(),
            },
            message: "ok".into(),
            source: "default-scheduler".into(),
        }
    }

    /// A writer whose thread cannot create `events.jsonl` (its folder is missing).
    fn failing(dir: &Path, missing: &Path) -> RunWriter {
        let started = Started::start(dir, WriteOptions::default()).unwrap();
        RunWriter::with_thread(started, missing.to_path_buf(), dir, WriteOptions::default())
            .unwrap()
    }

    fn output() -> RunOutput {
        RunOutput {
            name: "x".into(),
            summary: serde_json::json!({}),
            events: vec![event()],
            transcript: vec![],
            timeseries: TimeSeries::default(),
            charts: vec![],
        }
    }

    #[test]
    fn a_failing_events_file_is_an_error_not_a_hang() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("missing");

        // Seen by `finish`, after the other files were written: nothing installed.
        let dir = tmp.path().join("a");
        let err = failing(&dir, &missing)
            .finish(&mut output())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("events.jsonl") && err.contains("missing"),
            "{err}"
        );
        assert!(!dir.exists());

        // Seen by `events` once the thread has stopped; later calls fail too.
        let dir = tmp.path().join("b");
        let mut w = failing(&dir, &missing);
        let err = (0..10_000)
            .find_map(|_| {
                let r = w.events(vec![event()]).err();
                if r.is_none() {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                r
            })
            .expect("the writer stops")
            .to_string();
        assert!(err.contains("missing/events.jsonl"), "{err}");
        assert!(w.events(vec![event()]).is_err());
        assert!(w.finish(&mut output()).is_err());
        assert!(!dir.exists());
        assert_eq!(
            fs::read_dir(tmp.path()).unwrap().count(),
            0,
            "no staging directory left"
        );
    }

    /// Writes `raw` (rows in the producer's column order `order` maps from) with `charts`
    /// once held in memory and once spilled, asserts that every file is the same, and
    /// returns what the spilled writer left in `out.timeseries`.
    fn held_and_spilled(
        raw: &[Vec<f64>],
        order: &[usize],
        columns: &[&str],
        charts: Vec<ChartSpec>,
    ) -> TimeSeries {
        let tmp = tempfile::tempdir().unwrap();
        let columns: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
        let mut held = output();
        held.charts = charts.clone();
        held.timeseries = TimeSeries {
            columns: columns.clone(),
            rows: raw
                .iter()
                .map(|r| {
                    order
                        .iter()
                        .map(|&i| r.get(i).copied().unwrap_or(0.0))
                        .collect()
                })
                .collect(),
            x_label: None,
        };
        let expected = tmp.path().join("held");
        crate::write_outputs(&expected, &held).unwrap();

        let dir = tmp.path().join("spilled");
        let mut w = RunWriter::start(&dir).unwrap();
        for chunk in raw.chunks(64) {
            w.samples(chunk).unwrap();
        }
        let mut out = output();
        out.charts = charts;
        out.timeseries.columns = columns;
        w.finish_spilled(&mut out, order).unwrap();

        let mut names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert!(!names.iter().any(|n| n == SPILL_FILE), "{names:?}");
        for name in crate::OUTPUT_FILES {
            assert_eq!(
                fs::read(dir.join(name)).unwrap(),
                fs::read(expected.join(name)).unwrap(),
                "{name}"
            );
        }
        out.timeseries
    }

    /// Rows handed over during the run (in a producer's column order, each as wide as the
    /// columns known when it was taken) give the same files as the rows held in memory.
    #[test]
    fn spilled_rows_write_the_same_run_directory() {
        // Producer order: time, b, a (created later), c (created last).
        let raw: Vec<Vec<f64>> = (0..150)
            .map(|i| {
                let t = i as f64 * 15.0;
                match i {
                    0..50 => vec![t, 1.5 * i as f64],
                    50..100 => vec![t, 2.0, -(i as f64)],
                    _ => vec![t, f64::NAN, 0.25, i as f64 * 1e6],
                }
            })
            .collect();
        let charts = vec![ChartSpec {
            title: "B".into(),
            y_label: "b".into(),
            series: vec!["b".into()],
            guides: vec![],
        }];
        let left = held_and_spilled(&raw, &[0, 2, 1, 3], &["time_s", "a", "b", "c"], charts);
        // What is left in memory: the names of the time and the charted column, no rows.
        assert_eq!(left.columns, ["time_s", "b"]);
        assert!(left.rows.is_empty());
    }

    /// A run longer than the page draws in full (its charts bucketed to min/max pairs), with
    /// more objects than a chart embeds: the charts drawn from the rows reduced as they are
    /// read back are the charts of the rows held in memory, byte for byte.
    #[test]
    fn a_long_run_reduced_while_read_back_draws_the_same_charts() {
        let objects = 50;
        let raw: Vec<Vec<f64>> = (0..9_001)
            .map(|i| {
                let mut row = vec![i as f64 * 10.0 + if i % 7 == 0 { 0.5 } else { 0.0 }];
                for o in 0..objects {
                    // Ties, gaps, spikes and steps, differing per object.
                    let v = match (i + o * 13) % 97 {
                        0 => f64::NAN,
                        1 => 1e6,
                        k if k < 30 => (o % 5) as f64,
                        k => ((k * (o + 1)) % 11) as f64 - 3.0,
                    };
                    row.push(v);
                    row.push((i / (o + 1)) as f64);
                }
                row
            })
            .collect();
        let names: Vec<String> = std::iter::once("time_s".to_string())
            .chain((0..objects).flat_map(|o| {
                [
                    format!("deploy/ns/w{o:02}/ready"),
                    format!("deploy/ns/w{o:02}/desired"),
                ]
            }))
            .collect();
        let columns: Vec<&str> = names.iter().map(String::as_str).collect();
        let order: Vec<usize> = (0..columns.len()).collect();
        let charts = vec![
            ChartSpec {
                title: "Replicas".into(),
                y_label: "pods".into(),
                series: names[1..].to_vec(),
                guides: vec![],
            },
            ChartSpec {
                title: "One".into(),
                y_label: "pods".into(),
                series: vec!["deploy/ns/w03/ready".into(), "missing/x".into()],
                guides: vec![],
            },
        ];
        let left = held_and_spilled(&raw, &order, &columns, charts);
        assert!(left.rows.is_empty());
        // The first chart embeds its 40 busiest objects' two series each.
        assert_eq!(
            left.columns.len(),
            1 + 2 * crate::interactive::MAX_CHART_OBJECTS
        );
    }
}
