//! Writing a run directory while the run goes on: `events.jsonl` on its own thread.

use std::fs;
use std::io::{self, BufWriter, Write as _};
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::thread::JoinHandle;

use crate::html::EventsPage;
use crate::render::{StreamError, write_events_jsonl};
use crate::write::{Started, WriteOptions, first_failure, io_err, write_files_ranked};
use crate::{EventRecord, ReportError, ReportErrorKind, RunOutput};

/// Batches of events queued for the writer thread at most (the producer waits beyond).
const QUEUED_BATCHES: usize = 4;

/// A writer thread's result: done, or the failing file and why.
type Written = Result<(), (&'static str, ReportErrorKind)>;

/// A run directory written as the run goes on: [`RunWriter::events`] hands over batches of
/// events, in order, which a thread of its own renders into `events.jsonl` meanwhile;
/// [`RunWriter::finish`] writes the other files (as [`crate::write_outputs`] does) and moves
/// the directory into place.
///
/// The files are byte for byte those [`crate::write_outputs`] writes for the same run (all the
/// events in `out.events`), however the events were split into batches. The writer keeps
/// only what `report.html` shows of them (their count, the warnings' count, the event
/// table's rows up to [`crate::MAX_HTML_EVENT_BYTES`] and the key events marked on the
/// charts): each written batch goes back to the caller's thread, which drops
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
    /// What the page shows of the events handed over so far.
    page: EventsPage,
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
        let path = started.staging.path.join("events.jsonl");
        Self::with_thread(started, path, dir)
    }

    /// A writer over `started` (for the target `dir`) whose thread writes the events to
    /// `path`.
    fn with_thread(
        started: Started,
        path: std::path::PathBuf,
        dir: &Path,
    ) -> Result<Self, ReportError> {
        let (tx, rx) = sync_channel(QUEUED_BATCHES);
        let (spare_tx, spare) = channel();
        let thread = std::thread::Builder::new()
            .name("kscale-events".to_owned())
            .spawn(move || write_events(&path, rx, spare_tx))
            .map_err(|e| started.fail(io_err("start a thread for", dir, e)))?;
        Ok(RunWriter {
            started,
            tx: Some(tx),
            thread: Some(thread),
            spare,
            page: EventsPage::default(),
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
            self.page.push(e);
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

    /// Writes the other files of `out` and moves the run directory into place. The events
    /// still in `out.events` are written after those handed over (`out.events` is left
    /// empty). On failure the error of the first failing file in
    /// [`crate::OUTPUT_FILES`] order is returned.
    pub fn finish(mut self, out: &mut RunOutput) -> Result<(), ReportError> {
        self.events(std::mem::take(&mut out.events))?;
        // The thread ends once it has written what it was handed.
        self.tx = None;
        let rest = write_files_ranked(&self.started.staging.path, out, Some(&self.page));
        let events = match self.thread.is_some().then(|| self.join()) {
            Some(r) => r,
            None => Err(("events.jsonl", stopped(&self.started.staging.path))),
        };
        first_failure(rest, events).map_err(|(_, kind)| self.started.fail(kind))?;
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

/// The error of a writer used after its thread failed.
fn stopped(staging: &Path) -> ReportErrorKind {
    io_err(
        "write",
        &staging.join("events.jsonl"),
        io::Error::other("the events writer stopped after an earlier error"),
    )
}

/// The writer thread: renders each batch into `path` until the channel closes, sending the
/// written batches back on `spare` (their events are dropped there).
fn write_events(
    path: &Path,
    rx: Receiver<Vec<EventRecord>>,
    spare: Sender<Vec<EventRecord>>,
) -> Written {
    let file = "events.jsonl";
    let io_fail = |e| (file, io_err("write", path, e));
    let mut w = BufWriter::with_capacity(1 << 16, fs::File::create(path).map_err(io_fail)?);
    for batch in rx {
        match write_events_jsonl(&batch, &mut w) {
            Ok(()) => {}
            Err(StreamError::Render(error)) => {
                return Err((file, ReportErrorKind::Render { file, error }));
            }
            Err(StreamError::Io(e)) => return Err(io_fail(e)),
        }
        // Gone only when the writer is: then the batch is freed here.
        let _ = spare.send(batch);
    }
    w.flush().map_err(io_fail)
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
        RunWriter::with_thread(started, missing.join("events.jsonl"), dir).unwrap()
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
}
