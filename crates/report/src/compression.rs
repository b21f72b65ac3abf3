//! Gzip-compressed data files of a run directory: which are compressed, the writer that
//! switches to `NAME.gz` once a file grows past [`AUTO_COMPRESS_BYTES`], and the reader that
//! opens either form.
//!
//! A day of a 1,000-node cluster writes some 130 MB of events and 40 MB of time series as
//! text; gzip makes them 5 and 12 MB, and DuckDB (`read_json('events.jsonl.gz')`,
//! `read_csv('timeseries.csv.gz')`), pandas, Polars, `zcat | jq` and kscale's own commands read
//! them as they are. Small runs keep plain files, so scripts over the examples see the names
//! they always did.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

/// A data file passing this many bytes (64 MiB) is written compressed under
/// [`Compression::Auto`].
pub const AUTO_COMPRESS_BYTES: u64 = 64 << 20;

/// The files of a run directory that may be written compressed (`NAME.gz`), each with its
/// gzip level. Events and the transcript are written on their own thread while the run goes
/// on: zlib's default, 6 (a week of the 1,000-node benchmark, 661 MB of events, in 2.2 s of
/// that thread's time, to 29 MB). `timeseries.csv` is written after the run, while the page
/// is: level 2 (that week's 270 MB in 2.1 s to 97 MB; level 6 takes 5.1 s for 82 MB).
/// Measured with flate2's zlib-rs backend on this project's 2-core machine.
const GZIP_LEVELS: [(&str, u32); 3] = [
    ("events.jsonl", 6),
    ("transcript.jsonl", 6),
    ("timeseries.csv", 2),
];

/// The files of a run directory that may be written compressed (`NAME.gz`).
pub const COMPRESSIBLE_FILES: [&str; 3] = [GZIP_LEVELS[0].0, GZIP_LEVELS[1].0, GZIP_LEVELS[2].0];

/// When a run directory's data files ([`COMPRESSIBLE_FILES`]) are written gzip-compressed
/// as `NAME.gz` (`summary.json` and `report.html` never are).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Compression {
    /// A file is compressed once it passes [`AUTO_COMPRESS_BYTES`] (the default).
    #[default]
    Auto,
    /// Every data file is compressed.
    Always,
    /// No file is compressed.
    Never,
}

impl Compression {
    /// Bytes after which a file is compressed: `Some(0)` from the start, `None` never.
    fn threshold(self) -> Option<u64> {
        match self {
            Compression::Auto => Some(AUTO_COMPRESS_BYTES),
            Compression::Always => Some(0),
            Compression::Never => None,
        }
    }
}

/// `NAME.gz`.
pub fn gz_name(name: &str) -> String {
    format!("{name}.gz")
}

/// The gzip level of the data file `name` ([`GZIP_LEVELS`]).
fn level(name: &str) -> flate2::Compression {
    let level = GZIP_LEVELS
        .iter()
        .find(|(file, _)| *file == name)
        .map_or(6, |(_, level)| *level);
    flate2::Compression::new(level)
}

/// One data file of a run directory being written: plain until it passes its compression's
/// threshold, then `NAME.gz` (what was written so far compressed into it, the plain file
/// removed). The gzip header carries no time or name, so the bytes are a function of the
/// content.
pub(crate) struct OutputFile {
    dir: PathBuf,
    name: &'static str,
    threshold: Option<u64>,
    state: State,
}

enum State {
    Plain { w: BufWriter<File>, written: u64 },
    Gz(Box<GzEncoder<BufWriter<File>>>),
}

/// Buffer of each file's writer.
const BUFFER: usize = 1 << 16;

impl OutputFile {
    /// Creates `dir/name` (or `dir/name.gz` when compressed from the start).
    pub(crate) fn create(
        dir: &Path,
        name: &'static str,
        compression: Compression,
    ) -> io::Result<Self> {
        let threshold = compression.threshold();
        let state = if threshold == Some(0) {
            State::Gz(gz_writer(&dir.join(gz_name(name)), name)?)
        } else {
            State::Plain {
                w: BufWriter::with_capacity(BUFFER, File::create(dir.join(name))?),
                written: 0,
            }
        };
        Ok(OutputFile {
            dir: dir.to_path_buf(),
            name,
            threshold,
            state,
        })
    }

    /// The path written to now.
    pub(crate) fn path(&self) -> PathBuf {
        match self.state {
            State::Plain { .. } => self.dir.join(self.name),
            State::Gz(_) => self.dir.join(gz_name(self.name)),
        }
    }

    /// Flushes and closes the file; returns its name in the directory (`NAME` or `NAME.gz`).
    pub(crate) fn finish(self) -> io::Result<String> {
        match self.state {
            State::Plain { mut w, .. } => {
                w.flush()?;
                Ok(self.name.to_owned())
            }
            State::Gz(gz) => {
                gz.finish()?.flush()?;
                Ok(gz_name(self.name))
            }
        }
    }

    /// From plain to compressed: what was written goes into `NAME.gz`, `NAME` is removed.
    fn switch(&mut self) -> io::Result<()> {
        let State::Plain { w, .. } = &mut self.state else {
            return Ok(());
        };
        w.flush()?;
        let plain = self.dir.join(self.name);
        let mut gz = gz_writer(&self.dir.join(gz_name(self.name)), self.name)?;
        io::copy(
            &mut BufReader::with_capacity(BUFFER, File::open(&plain)?),
            &mut gz,
        )?;
        // The plain file's handle closes as the state is replaced.
        self.state = State::Gz(gz);
        fs::remove_file(plain)
    }
}

fn gz_writer(path: &Path, name: &str) -> io::Result<Box<GzEncoder<BufWriter<File>>>> {
    let file = BufWriter::with_capacity(BUFFER, File::create(path)?);
    Ok(Box::new(flate2::GzBuilder::new().write(file, level(name))))
}

impl Write for OutputFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.state {
            State::Gz(gz) => gz.write(buf),
            State::Plain { w, written } => {
                let n = w.write(buf)?;
                *written += n as u64;
                if self.threshold.is_some_and(|t| *written > t) {
                    self.switch()?;
                }
                Ok(n)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.state {
            State::Gz(gz) => gz.flush(),
            State::Plain { w, .. } => w.flush(),
        }
    }
}

/// Opens the data file `name` of the run directory `dir`: `dir/name`, or else `dir/name.gz`
/// decompressed as it is read. Returns the path opened. A run directory holding neither
/// gives `NotFound` (for `dir/name`).
pub fn open_output(dir: &Path, name: &str) -> io::Result<(PathBuf, Box<dyn Read + Send>)> {
    let plain = dir.join(name);
    match File::open(&plain) {
        Ok(f) => Ok((plain, Box::new(f))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let gz = dir.join(gz_name(name));
            match File::open(&gz) {
                Ok(f) => Ok((
                    gz,
                    Box::new(MultiGzDecoder::new(BufReader::with_capacity(BUFFER, f))),
                )),
                Err(e2) if e2.kind() == io::ErrorKind::NotFound => Err(e),
                Err(e2) => Err(e2),
            }
        }
        Err(e) => Err(e),
    }
}

/// The whole text of the data file `name` of `dir` ([`open_output`]); the path read.
pub fn read_output(dir: &Path, name: &str) -> io::Result<(PathBuf, String)> {
    let (path, mut r) = open_output(dir, name)?;
    let mut text = String::new();
    match r.read_to_string(&mut text) {
        Ok(_) => Ok((path, text)),
        Err(e) => Err(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_all(
        dir: &Path,
        compression: Compression,
        threshold: Option<u64>,
        text: &[u8],
    ) -> String {
        let mut f = OutputFile::create(dir, "events.jsonl", compression).unwrap();
        f.threshold = threshold.or(f.threshold);
        for chunk in text.chunks(7) {
            f.write_all(chunk).unwrap();
        }
        f.finish().unwrap()
    }

    fn text() -> Vec<u8> {
        (0..2000)
            .flat_map(|i| format!("{{\"line\":{i}}}\n").into_bytes())
            .collect()
    }

    #[test]
    fn a_file_stays_plain_below_the_threshold_and_is_read_back() {
        let d = tempfile::tempdir().unwrap();
        let t = text();
        assert_eq!(
            write_all(d.path(), Compression::Auto, None, &t),
            "events.jsonl"
        );
        assert_eq!(fs::read(d.path().join("events.jsonl")).unwrap(), t);
        let (p, read) = read_output(d.path(), "events.jsonl").unwrap();
        assert_eq!(p, d.path().join("events.jsonl"));
        assert_eq!(read.as_bytes(), t);
    }

    #[test]
    fn a_file_passing_the_threshold_becomes_gzip_with_every_byte() {
        let d = tempfile::tempdir().unwrap();
        let t = text();
        let name = write_all(d.path(), Compression::Auto, Some(1000), &t);
        assert_eq!(name, "events.jsonl.gz");
        assert!(
            !d.path().join("events.jsonl").exists(),
            "the plain file is removed"
        );
        let (p, read) = read_output(d.path(), "events.jsonl").unwrap();
        assert_eq!(p, d.path().join("events.jsonl.gz"));
        assert_eq!(read.as_bytes(), t);
        // Compressed from the start; written twice, the same bytes (no time or name in the
        // header: the gzip MTIME field is 0).
        let d2 = tempfile::tempdir().unwrap();
        assert_eq!(
            write_all(d2.path(), Compression::Always, None, &t),
            "events.jsonl.gz"
        );
        let gz = fs::read(d2.path().join("events.jsonl.gz")).unwrap();
        assert_eq!(gz[4..8], [0, 0, 0, 0]);
        let d3 = tempfile::tempdir().unwrap();
        write_all(d3.path(), Compression::Always, None, &t);
        assert_eq!(fs::read(d3.path().join("events.jsonl.gz")).unwrap(), gz);
        // And a standard gzip reader agrees.
        let mut plain = vec![];
        flate2::read::GzDecoder::new(File::open(d2.path().join("events.jsonl.gz")).unwrap())
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, t);
    }

    #[test]
    fn never_keeps_a_large_file_plain_and_a_missing_file_is_not_found() {
        let d = tempfile::tempdir().unwrap();
        let t = text();
        let mut f = OutputFile::create(d.path(), "events.jsonl", Compression::Never).unwrap();
        f.write_all(&t).unwrap();
        assert_eq!(f.finish().unwrap(), "events.jsonl");
        let e = open_output(d.path(), "timeseries.csv").err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }
}
