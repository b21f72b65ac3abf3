//! Writing a run directory through a staging directory.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use crate::compression::{COMPRESSIBLE_FILES, Compression, OutputFile};
use crate::html::{EventsPage, write_html_with};
use crate::interactive::{ChartRows, Reduced, chart_figure_of};
use crate::render::{
    StreamError, write_events_jsonl, write_jsonl, write_spilled_csv, write_timeseries_csv,
};
use crate::spill::SpillReader;
use crate::{
    RenderError, ReportError, ReportErrorKind, RunOutput, TIMESERIES_PARQUET, render_summary_json,
};

/// The marker file in every run directory kscale writes: a directory holding it (and nothing
/// but [`OUTPUT_FILES`] and `kscale export parquet`'s [`TIMESERIES_PARQUET`]) is an earlier run that a new one may replace. Its content is fixed,
/// so a run directory stays a pure function of the inputs.
pub const MARKER: &str = ".kscale-run";

/// What [`MARKER`] holds.
const MARKER_TEXT: &str =
    "This directory was written by kscale; a later run into it replaces it.\n";

/// How a run directory is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// Replace an existing directory even if kscale did not make it (`--force`): whatever it
    /// holds is deleted once the new run is in place. A symbolic link or a plain file is still
    /// refused.
    pub force: bool,
    /// The budget of `report.html`'s event table: bytes of event data before compression
    /// (`None`: [`crate::MAX_HTML_EVENT_BYTES`]); the events beyond it are only in
    /// `events.jsonl`.
    pub html_event_bytes: Option<usize>,
    /// When `events.jsonl`, `transcript.jsonl` and `timeseries.csv` are written
    /// gzip-compressed as `NAME.gz` (default: once one passes 64 MiB).
    pub compression: Compression,
}

impl WriteOptions {
    /// [`WriteOptions::html_event_bytes`] or its default.
    pub(crate) fn event_budget(&self) -> usize {
        self.html_event_bytes.unwrap_or(crate::MAX_HTML_EVENT_BYTES)
    }
}

/// The files of a run directory, in the order they are written (besides [`MARKER`]).
pub const OUTPUT_FILES: [&str; 5] = [
    "summary.json",
    "events.jsonl",
    "transcript.jsonl",
    "timeseries.csv",
    "report.html",
];

/// Whether `name` is a file kscale writes into a run directory: one of [`OUTPUT_FILES`], a
/// compressed data file (`events.jsonl.gz`, ...) or `kscale export parquet`'s
/// [`TIMESERIES_PARQUET`].
pub fn is_output_name(name: &str) -> bool {
    OUTPUT_FILES.contains(&name)
        || name == TIMESERIES_PARQUET
        || name
            .strip_suffix(".gz")
            .is_some_and(|plain| COMPRESSIBLE_FILES.contains(&plain))
}

/// Distinguishes staging directories of concurrent calls within one process.
static SEQ: AtomicU64 = AtomicU64::new(0);

/// Writes the run directory `dir`: `summary.json`, `events.jsonl`, `transcript.jsonl`,
/// `timeseries.csv` and `report.html`.
///
/// Everything is written into a hidden staging directory next to `dir`
/// (`.NAME.partial-PID-N`) and moved into place when complete. A missing `dir` (and missing
/// parents) is created; an empty `dir` or an earlier kscale run (one holding [`MARKER`] and
/// nothing but [`OUTPUT_FILES`] and [`TIMESERIES_PARQUET`]) is replaced; anything else (user files, a directory without
/// the marker, a plain file, a symbolic link) is refused and left untouched. On error the
/// staging directory is removed and `dir` is as it was. Staging directories that a killed
/// run left next to `dir` are removed first.
pub fn write_outputs(dir: &Path, out: &RunOutput) -> Result<(), ReportError> {
    write_outputs_with(dir, out, WriteOptions::default())
}

/// [`write_outputs`] with options (`force`: replace whatever directory is at `dir`).
pub fn write_outputs_with(
    dir: &Path,
    out: &RunOutput,
    options: WriteOptions,
) -> Result<(), ReportError> {
    let mut started = Started::start(dir, options)?;
    let fail = |kind| ReportError {
        dir: dir.to_path_buf(),
        kind,
    };
    write_files(&started.staging.path, out, options).map_err(fail)?;
    started.install()
}

/// Checks that `dir` may be written as [`write_outputs_with`] would, without writing: for a
/// run that takes long (real time) to fail before it starts rather than at its end.
pub fn check_output_dir(dir: &Path, options: WriteOptions) -> Result<(), ReportError> {
    let target = match (dir.parent(), dir.file_name()) {
        (Some(p), Some(n)) if !p.as_os_str().is_empty() => p.join(n),
        _ => dir.to_path_buf(),
    };
    inspect_target(&target, options.force)
        .map(|_| ())
        .map_err(|kind| ReportError {
            dir: dir.to_path_buf(),
            kind,
        })
}

/// A run directory being written: the target checked, its staging directory made.
pub(crate) struct Started {
    /// The run directory as given (for errors).
    pub(crate) dir: PathBuf,
    /// `PARENT/NAME`.
    target: PathBuf,
    parent: PathBuf,
    name: std::ffi::OsString,
    /// Where the files are written.
    pub(crate) staging: Staging,
    options: WriteOptions,
}

impl Started {
    /// Checks that `dir` may be (re)placed and makes the staging directory next to it.
    pub(crate) fn start(dir: &Path, options: WriteOptions) -> Result<Self, ReportError> {
        let fail = |kind| ReportError {
            dir: dir.to_path_buf(),
            kind,
        };
        let name = dir.file_name().ok_or_else(|| {
            fail(ReportErrorKind::Refused {
                reason: "the path does not end in a directory name".to_owned(),
            })
        })?;
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };

        // `PARENT/NAME` rather than `dir` itself: no trailing slash or `.` for rename to trip on.
        let target = parent.join(name);

        // Fail fast, before rendering anything, when the target cannot be replaced.
        inspect_target(&target, options.force).map_err(fail)?;
        fs::create_dir_all(&parent).map_err(|e| fail(io_err("create directory", &parent, e)))?;
        remove_stale_siblings(&parent, name);

        let staging = Staging::create(&parent, name).map_err(fail)?;
        let marker = staging.path.join(MARKER);
        fs::write(&marker, MARKER_TEXT).map_err(|e| fail(io_err("write", &marker, e)))?;
        Ok(Started {
            dir: dir.to_path_buf(),
            target,
            parent,
            name: name.to_os_string(),
            staging,
            options,
        })
    }

    /// The options it is written with.
    pub(crate) fn options(&self) -> WriteOptions {
        self.options
    }

    /// The error `kind` of writing this run directory.
    pub(crate) fn fail(&self, kind: ReportErrorKind) -> ReportError {
        ReportError {
            dir: self.dir.clone(),
            kind,
        }
    }

    /// Moves the complete staging directory into place.
    pub(crate) fn install(&mut self) -> Result<(), ReportError> {
        install(
            &self.staging.path,
            &self.target,
            &self.parent,
            &self.name,
            self.options.force,
        )
        .map_err(|k| self.fail(k))?;
        self.staging.installed = true;
        Ok(())
    }
}

pub(crate) fn io_err(op: impl Into<String>, path: &Path, error: io::Error) -> ReportErrorKind {
    ReportErrorKind::Io {
        op: op.into(),
        path: path.to_path_buf(),
        error,
    }
}

/// Renders and writes the files on two threads, each streamed through a buffer (no file is
/// ever whole in memory): this thread writes `summary.json`, `transcript.jsonl` and
/// `report.html`, a second one `events.jsonl` and `timeseries.csv` and then helps render the
/// report's charts (each chart's data is the same whichever thread renders it; the page takes them
/// in order). The page's event table takes `event_budget` bytes of the events at most (see
/// [`crate::MAX_HTML_EVENT_BYTES`]). On failure the error of the first failing file in
/// [`OUTPUT_FILES`] order is returned.
pub(crate) fn write_files(
    staging: &Path,
    out: &RunOutput,
    options: WriteOptions,
) -> Result<(), ReportErrorKind> {
    write_files_ranked(
        staging,
        out,
        Events::Held(options.event_budget()),
        Spilled::No,
        options.compression,
    )
    .map_err(|(_, e)| e)
}

/// Where the events come from.
pub(crate) enum Events<'a> {
    /// `out.events` (all of them), the page's event table taking this many bytes at most.
    Held(usize),
    /// Already written into `events.jsonl` (by [`crate::RunWriter`]) under the name given
    /// (`events.jsonl.gz` when compressed); the page shows these ([`EventsPage::finish`]ed),
    /// not `out.events`.
    Streamed(&'a EventsPage, &'a str),
}

/// Where the rows of `timeseries.csv` come from.
#[derive(Clone, Copy)]
pub(crate) enum Spilled<'a> {
    /// `out.timeseries` (all of it).
    No,
    /// A spill file (see [`crate::spill`]) of `rows` rows in the producer's column order;
    /// output column `k` (named `columns[k]`) is value `order[k]` of each. `out.timeseries`
    /// then holds only the columns the charts draw.
    Rows {
        path: &'a Path,
        rows: usize,
        columns: &'a [String],
        order: &'a [usize],
        /// The columns the charts draw, reduced as they were read back.
        charted: &'a Reduced,
    },
}

/// [`write_files`], with the failing file.
pub(crate) fn write_files_ranked(
    staging: &Path,
    out: &RunOutput,
    events: Events<'_>,
    spilled: Spilled<'_>,
    compression: Compression,
) -> Result<(), (&'static str, ReportErrorKind)> {
    let (charts, samples) = match spilled {
        Spilled::No => (ChartRows::Full(&out.timeseries), out.timeseries.rows.len()),
        Spilled::Rows { charted, .. } => (ChartRows::Reduced(charted), charted.rows()),
    };
    let pool = ChartPool::new(out, charts);
    let own;
    // The names the data files were written under, as the page links them: the helper's
    // files come through `names` once written.
    let mut file_names: BTreeMap<&'static str, String> = BTreeMap::new();
    let (events, streamed) = match events {
        Events::Streamed(page, name) => {
            file_names.insert("events.jsonl", name.to_owned());
            (page, true)
        }
        Events::Held(budget) => {
            own = EventsPage::of(&out.events, budget);
            (&own, false)
        }
    };
    let (names, named) = std::sync::mpsc::channel::<(&'static str, String)>();
    let (mine, theirs) = std::thread::scope(|s| {
        let helper = s.spawn(|| {
            let _gone = HelperGone(&pool);
            let written = (|| {
                if !streamed {
                    let name = write_file(staging, "events.jsonl", compression, |w| {
                        write_events_jsonl(&out.events, w)
                    })?;
                    let _ = names.send(("events.jsonl", name));
                }
                let name = write_file(staging, "timeseries.csv", compression, |w| match spilled {
                    Spilled::No => write_timeseries_csv(&out.timeseries, w),
                    Spilled::Rows {
                        path,
                        rows,
                        columns,
                        order,
                        ..
                    } => {
                        let mut reader = SpillReader::open(path, rows)?;
                        write_spilled_csv(columns, order, &mut reader, w)
                    }
                })?;
                let _ = names.send(("timeseries.csv", name));
                Ok(())
            })();
            // The page waits for no more names.
            drop(names);
            pool.help();
            written
        });
        let mine = (|| {
            write_file(staging, "summary.json", Compression::Never, |w| {
                w.write_all(render_summary_json(&out.summary)?.as_bytes())?;
                Ok(())
            })?;
            let name = write_file(staging, "transcript.jsonl", compression, |w| {
                write_jsonl(&out.transcript, w)
            })?;
            file_names.insert("transcript.jsonl", name);
            // A data file's name once the helper has written it (as it is when writing failed).
            let mut file = |base: &'static str| {
                while !file_names.contains_key(base) {
                    let Ok((b, n)) = named.recv() else { break };
                    file_names.insert(b, n);
                }
                file_names
                    .get(base)
                    .cloned()
                    .unwrap_or_else(|| base.to_owned())
            };
            write_file(staging, "report.html", Compression::Never, |w| {
                write_html_with(out, events, samples, w, &mut |i| pool.take(i), &mut file)
            })
            .map(|_| ())
        })();
        if mine.is_err() {
            pool.stop();
        }
        let theirs = helper
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (mine, theirs)
    });
    first_failure(mine, theirs)
}

/// Of two writers' results, the error of the file first in [`OUTPUT_FILES`] order.
pub(crate) fn first_failure(
    a: Result<(), (&'static str, ReportErrorKind)>,
    b: Result<(), (&'static str, ReportErrorKind)>,
) -> Result<(), (&'static str, ReportErrorKind)> {
    let rank = |e: &Result<(), (&'static str, ReportErrorKind)>| match e {
        Ok(()) => usize::MAX,
        Err((file, _)) => OUTPUT_FILES.iter().position(|f| f == file).unwrap_or(0),
    };
    if rank(&b) < rank(&a) { b } else { a }
}

/// Creates `staging/file` and streams `write`'s output into it through a buffer, compressed
/// as `compression` says (see [`OutputFile`]); returns the name written (`file` or
/// `file.gz`).
pub(crate) fn write_file(
    staging: &Path,
    file: &'static str,
    compression: Compression,
    write: impl FnOnce(&mut OutputFile) -> Result<(), StreamError>,
) -> Result<String, (&'static str, ReportErrorKind)> {
    debug_assert!(OUTPUT_FILES.contains(&file));
    let mut w = OutputFile::create(staging, file, compression)
        .map_err(|e| (file, io_err("write", &staging.join(file), e)))?;
    // A write error names the file at its current path (`NAME.gz` once compressed).
    let io_fail = |path: &Path, e| (file, io_err("write", path, e));
    match write(&mut w) {
        Ok(()) => {}
        Err(StreamError::Render(error)) => {
            return Err((file, ReportErrorKind::Render { file, error }));
        }
        Err(StreamError::Io(e)) => return Err(io_fail(&w.path(), e)),
    }
    let path = w.path();
    w.finish().map_err(|e| io_fail(&path, e))
}

/// The report's charts, rendered by whichever of the two writer threads is free and handed to
/// the page in order.
struct ChartPool<'a> {
    out: &'a RunOutput,
    rows: ChartRows<'a>,
    /// The next chart nobody has claimed yet.
    next: AtomicUsize,
    state: Mutex<PoolState>,
    /// Signalled when a chart is done or the helper is gone.
    ready: Condvar,
}

/// Charts rendered but not yet written, and whether the helper thread has stopped.
#[derive(Default)]
struct PoolState {
    done: BTreeMap<usize, Result<String, RenderError>>,
    helper_gone: bool,
}

impl<'a> ChartPool<'a> {
    fn new(out: &'a RunOutput, rows: ChartRows<'a>) -> Self {
        ChartPool {
            out,
            rows,
            next: AtomicUsize::new(0),
            state: Mutex::new(PoolState::default()),
            ready: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Claims the next unrendered chart.
    fn claim(&self) -> Option<usize> {
        let i = self.next.fetch_add(1, Ordering::SeqCst);
        (i < self.out.charts.len()).then_some(i)
    }

    fn render(&self, i: usize) -> Result<String, RenderError> {
        chart_figure_of(self.rows, &self.out.charts[i])
    }

    /// Chart `i` for the page (called for 0, 1, 2, ... in turn): rendered here unless the
    /// helper has it; while the helper draws it, this thread draws the next ones.
    fn take(&self, i: usize) -> Result<String, RenderError> {
        loop {
            if let Some(r) = self.lock().done.remove(&i) {
                return r;
            }
            let Some(j) = self.claim() else { break };
            let r = self.render(j);
            if j == i {
                return r;
            }
            self.lock().done.insert(j, r);
        }
        // Every chart is claimed: the helper is drawing `i`.
        let mut st = self.lock();
        loop {
            if let Some(r) = st.done.remove(&i) {
                return r;
            }
            if st.helper_gone {
                drop(st);
                return self.render(i);
            }
            st = self.ready.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// The helper renders unclaimed charts until none is left.
    fn help(&self) {
        while let Some(j) = self.claim() {
            let r = self.render(j);
            self.lock().done.insert(j, r);
            self.ready.notify_all();
        }
    }

    /// No more charts are wanted (the page failed).
    fn stop(&self) {
        self.next.store(self.out.charts.len(), Ordering::SeqCst);
    }
}

/// Marks the helper thread as gone when it ends, normally or by a panic, so the page never
/// waits for a chart the helper will not deliver.
struct HelperGone<'p, 'a>(&'p ChartPool<'a>);

impl Drop for HelperGone<'_, '_> {
    fn drop(&mut self) {
        self.0.lock().helper_gone = true;
        self.0.ready.notify_all();
    }
}

/// What is at the target path.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    Absent,
    EmptyDir,
    PreviousRun,
    /// Anything else, replaced because `--force` says so.
    Forced,
}

/// Classifies the target, refusing anything kscale must not replace.
fn inspect_target(dir: &Path, force: bool) -> Result<Target, ReportErrorKind> {
    let refuse = |reason: &str| ReportErrorKind::Refused {
        reason: format!("{reason}; refusing to replace it"),
    };
    let unless_forced = |reason: &str| ReportErrorKind::Refused {
        reason: format!("{reason}; refusing to replace it (pass --force to replace it anyway)"),
    };
    let meta = match fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Target::Absent),
        Err(e) => return Err(io_err("inspect", dir, e)),
    };
    if meta.file_type().is_symlink() {
        return Err(refuse("it is a symbolic link"));
    }
    if !meta.is_dir() {
        return Err(refuse("it exists and is not a directory"));
    }
    let mut foreign = Vec::new();
    let mut ours = 0usize;
    let mut marked = false;
    for entry in fs::read_dir(dir).map_err(|e| io_err("read directory", dir, e))? {
        let entry = entry.map_err(|e| io_err("read directory", dir, e))?;
        let file_type = entry
            .file_type()
            .map_err(|e| io_err("inspect", &entry.path(), e))?;
        let file_name = entry.file_name();
        match file_name.to_str() {
            Some(n) if file_type.is_file() && is_output_name(n) => ours += 1,
            Some(MARKER) if file_type.is_file() => marked = true,
            _ => foreign.push(file_name.to_string_lossy().into_owned()),
        }
    }
    if force && (ours > 0 || marked || !foreign.is_empty()) {
        return Ok(Target::Forced);
    }
    if !foreign.is_empty() {
        foreign.sort();
        let mut list = foreign
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if foreign.len() > 5 {
            list.push_str(&format!(" and {} more", foreign.len() - 5));
        }
        return Err(unless_forced(&format!(
            "it contains files kscale did not write ({list})"
        )));
    }
    match (ours, marked) {
        (0, false) => Ok(Target::EmptyDir),
        (_, true) => Ok(Target::PreviousRun),
        (_, false) => Err(unless_forced(&format!(
            "it has no {MARKER} marker, so kscale did not make it (or a kscale older than \
             the marker did)"
        ))),
    }
}

/// Removes the staging and aside directories (`.NAME.partial-PID-N`, `.NAME.old-PID-N`) that
/// a run killed before it could clean up left in `parent`: those of processes that no longer
/// run, holding nothing but kscale's own files. Best effort; a failure leaves them.
fn remove_stale_siblings(parent: &Path, name: &OsStr) {
    let Some(name) = name.to_str() else { return };
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(rest) = file_name
            .to_str()
            .and_then(|f| f.strip_prefix('.'))
            .and_then(|f| f.strip_prefix(name))
        else {
            continue;
        };
        let Some(pid) = rest
            .strip_prefix(".partial-")
            .or_else(|| rest.strip_prefix(".old-"))
            .and_then(|r| r.split_once('-'))
            .and_then(|(pid, n)| n.parse::<u64>().ok().and(pid.parse::<u32>().ok()))
        else {
            continue;
        };
        if pid == std::process::id() || process_alive(pid) {
            continue;
        }
        let path = entry.path();
        if only_kscale_files(&path) {
            let _ = fs::remove_dir_all(&path);
        }
    }
}

/// Whether process `pid` runs (Linux: `/proc/PID`; elsewhere assumed to, so nothing of it is
/// removed).
fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

/// The scratch files a streamed run keeps in its staging directory until the outputs are
/// written (the spilled samples, the page's spilled event chunks).
const STAGING_SCRATCH_FILES: [&str; 2] =
    [crate::spill::SPILL_FILE, crate::stream::EVENTS_PAGE_SPILL];

/// Whether `dir` is a directory holding nothing but regular files kscale writes (a staging
/// directory's scratch files included).
fn only_kscale_files(dir: &Path) -> bool {
    let Ok(entries) = fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().all(|e| {
        let name = e.file_name();
        let ours = name.to_str().is_some_and(|n| {
            n == MARKER || is_output_name(n) || STAGING_SCRATCH_FILES.contains(&n)
        });
        ours && e.file_type().is_ok_and(|t| t.is_file())
    })
}

/// Moves the complete staging directory to `dir`, replacing an empty directory or earlier run.
fn install(
    staging: &Path,
    dir: &Path,
    parent: &Path,
    name: &OsStr,
    force: bool,
) -> Result<(), ReportErrorKind> {
    let rename = |from: &Path, to: &Path| {
        fs::rename(from, to).map_err(|e| io_err(format!("rename {} to", from.display()), to, e))
    };
    match inspect_target(dir, force)? {
        Target::Absent => rename(staging, dir),
        Target::EmptyDir => {
            // remove_dir only removes an empty directory: nothing can be lost in a race.
            fs::remove_dir(dir).map_err(|e| io_err("remove empty directory", dir, e))?;
            rename(staging, dir)
        }
        Target::PreviousRun => {
            // Move the old run aside first, so that `dir` is always either the old or the new run.
            let old = unique_sibling(parent, name, "old");
            rename(dir, &old)?;
            if let Err(e) = rename(staging, dir) {
                let _ = fs::rename(&old, dir);
                return Err(e);
            }
            // Delete only our own files; a file that appeared meanwhile keeps the aside directory.
            for entry in fs::read_dir(&old).into_iter().flatten().flatten() {
                let name = entry.file_name();
                if name
                    .to_str()
                    .is_some_and(|n| n == MARKER || is_output_name(n))
                {
                    let _ = fs::remove_file(entry.path());
                }
            }
            let _ = fs::remove_dir(&old);
            Ok(())
        }
        Target::Forced => {
            let old = unique_sibling(parent, name, "forced");
            rename(dir, &old)?;
            if let Err(e) = rename(staging, dir) {
                let _ = fs::rename(&old, dir);
                return Err(e);
            }
            fs::remove_dir_all(&old).map_err(|e| io_err("remove the replaced directory", &old, e))
        }
    }
}

/// `PARENT/.NAME.TAG-PID-N` with a fresh `N`.
fn unique_sibling(parent: &Path, name: &OsStr, tag: &str) -> PathBuf {
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let mut file_name = std::ffi::OsString::from(".");
    file_name.push(name);
    file_name.push(format!(".{tag}-{}-{seq}", std::process::id()));
    parent.join(file_name)
}

/// The staging directory; removed on drop unless it was installed.
pub(crate) struct Staging {
    /// Its path.
    pub(crate) path: PathBuf,
    installed: bool,
    _live: LiveStaging,
}

/// Staging directories this process is writing, for [`remove_live_staging`].
static LIVE_STAGING: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// A staging directory registered as being written by this process (until dropped), so that
/// an interrupt handler can remove it ([`remove_live_staging`]). Run directories register
/// theirs; other writers of staged folders (`kscale tune`, `kscale snapshot`) hold one too.
#[derive(Debug)]
pub struct LiveStaging(PathBuf);

impl LiveStaging {
    /// Registers `path`.
    pub fn register(path: &Path) -> LiveStaging {
        let mut live = LIVE_STAGING.lock().unwrap_or_else(|p| p.into_inner());
        live.push(path.to_path_buf());
        LiveStaging(path.to_path_buf())
    }
}

impl Drop for LiveStaging {
    fn drop(&mut self) {
        let mut live = LIVE_STAGING.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = live.iter().position(|p| *p == self.0) {
            live.swap_remove(i);
        }
    }
}

/// Removes every staging directory this process is writing: for a Ctrl-C or SIGTERM handler,
/// which exits next, so that an interrupted write leaves nothing half-written behind (the
/// directory being replaced is untouched until the staging directory is complete).
pub fn remove_live_staging() {
    let paths = std::mem::take(&mut *LIVE_STAGING.lock().unwrap_or_else(|p| p.into_inner()));
    for p in paths {
        let _ = fs::remove_dir_all(&p);
    }
}

impl Staging {
    fn create(parent: &Path, name: &OsStr) -> Result<Self, ReportErrorKind> {
        loop {
            let path = unique_sibling(parent, name, "partial");
            match fs::create_dir(&path) {
                Ok(()) => {
                    let live = LiveStaging::register(&path);
                    return Ok(Staging {
                        path,
                        installed: false,
                        _live: live,
                    });
                }
                // A leftover of a crashed process that had the same PID: pick the next number.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io_err("create staging directory", &path, e)),
            }
        }
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.installed {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_targets() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("d");
        assert_eq!(inspect_target(&d, false).unwrap(), Target::Absent);
        fs::create_dir(&d).unwrap();
        assert_eq!(inspect_target(&d, false).unwrap(), Target::EmptyDir);
        fs::write(d.join("events.jsonl"), "").unwrap();
        assert!(matches!(
            inspect_target(&d, false),
            Err(ReportErrorKind::Refused { .. })
        ));
        // Files named as ours do not make a run: only the marker does.
        fs::write(d.join("summary.json"), "{}").unwrap();
        let err = inspect_target(&d, false).unwrap_err().to_string();
        assert!(
            err.contains("no .kscale-run marker") && err.contains("--force"),
            "{err}"
        );
        fs::write(d.join(MARKER), MARKER_TEXT).unwrap();
        assert_eq!(inspect_target(&d, false).unwrap(), Target::PreviousRun);
        fs::write(d.join("notes.txt"), "mine").unwrap();
        let err = inspect_target(&d, false).unwrap_err().to_string();
        assert!(err.contains("notes.txt"), "{err}");
        assert_eq!(inspect_target(&d, true).unwrap(), Target::Forced);

        // A directory with one of our names is not ours.
        let e = tmp.path().join("e");
        fs::create_dir_all(e.join("report.html")).unwrap();
        fs::write(e.join("summary.json"), "{}").unwrap();
        fs::write(e.join(MARKER), MARKER_TEXT).unwrap();
        assert!(matches!(
            inspect_target(&e, false),
            Err(ReportErrorKind::Refused { .. })
        ));
    }

    fn empty_output() -> RunOutput {
        crate::RunOutput {
            name: "x".into(),
            summary: serde_json::json!({}),
            events: vec![],
            transcript: vec![],
            timeseries: crate::TimeSeries::default(),
            charts: vec![],
        }
    }

    #[test]
    fn a_run_replaces_its_own_runs_and_force_replaces_anything() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("run");
        write_outputs(&d, &empty_output()).unwrap();
        assert_eq!(fs::read_to_string(d.join(MARKER)).unwrap(), MARKER_TEXT);
        write_outputs(&d, &empty_output()).unwrap();

        let mine = tmp.path().join("mine");
        fs::create_dir(&mine).unwrap();
        fs::write(mine.join("report.html"), "my own report").unwrap();
        let err = write_outputs(&mine, &empty_output()).unwrap_err();
        assert!(err.to_string().contains("--force"), "{err}");
        assert_eq!(
            fs::read_to_string(mine.join("report.html")).unwrap(),
            "my own report"
        );
        write_outputs_with(
            &mine,
            &empty_output(),
            WriteOptions {
                force: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(mine.join(MARKER).is_file());
        assert_ne!(
            fs::read_to_string(mine.join("report.html")).unwrap(),
            "my own report"
        );
        // Nothing is left beside it.
        let names: Vec<String> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn staging_left_by_a_killed_run_is_removed_by_the_next() {
        let tmp = tempfile::tempdir().unwrap();
        // PIDs above the kernel's maximum (4194304) never run.
        let dead = tmp.path().join(".run.partial-4999999-0");
        fs::create_dir(&dead).unwrap();
        fs::write(dead.join("events.jsonl"), "{}\n").unwrap();
        // A streamed run killed before its outputs were written leaves its scratch files.
        for scratch in STAGING_SCRATCH_FILES {
            fs::write(dead.join(scratch), "x").unwrap();
        }
        // A live process's staging (this test's parent, PID 1) and a user's file stay.
        let live = tmp.path().join(".run.partial-1-0");
        fs::create_dir(&live).unwrap();
        let kept = tmp.path().join(".run.old-4999998-3");
        fs::create_dir(&kept).unwrap();
        fs::write(kept.join("notes.txt"), "mine").unwrap();
        let other = tmp.path().join(".other.partial-4999999-0");
        fs::create_dir(&other).unwrap();
        write_outputs(&tmp.path().join("run"), &empty_output()).unwrap();
        assert!(!dead.exists());
        assert!(live.exists() && kept.exists() && other.exists());
    }

    #[cfg(unix)]
    #[test]
    fn refuses_symlink_and_accepts_trailing_slash() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real");
        fs::create_dir(&real).unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let out = empty_output();
        let err = write_outputs(&link, &out).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert!(fs::read_dir(&real).unwrap().next().is_none());

        let slash = tmp.path().join("slash/");
        write_outputs(&slash, &out).unwrap();
        write_outputs(&slash, &out).unwrap();
        assert!(tmp.path().join("slash/report.html").is_file());
    }
}
