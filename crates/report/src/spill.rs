//! Time-series rows spilled to disk while a run goes on, so that a long run keeps only a few
//! samples in memory: [`crate::RunWriter::samples`] appends them to a file in the run's
//! staging directory, and [`crate::RunWriter::finish_spilled`] reads them back, once to take
//! the columns `report.html` charts and once to write `timeseries.csv`.
//!
//! The file is private to the writer (removed before the run directory is installed): each
//! row is its length (`u32`, little-endian) and its values (`f64` bits, little-endian), in the
//! producer's column order, which [`crate::RunWriter::finish_spilled`]'s `order` maps to the
//! output's.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// Name of the spill file in the staging directory (a dot file: never an output).
pub(crate) const SPILL_FILE: &str = ".timeseries.rows";

/// Appends rows to the spill file.
pub(crate) struct SpillWriter {
    path: PathBuf,
    w: BufWriter<File>,
    rows: usize,
}

impl SpillWriter {
    /// Creates (truncates) the spill file at `path`.
    pub(crate) fn create(path: &Path) -> io::Result<Self> {
        Ok(SpillWriter {
            path: path.to_path_buf(),
            w: BufWriter::with_capacity(1 << 16, File::create(path)?),
            rows: 0,
        })
    }

    /// The file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one row.
    pub(crate) fn push(&mut self, row: &[f64]) -> io::Result<()> {
        let len = u32::try_from(row.len())
            .map_err(|_| io::Error::other("a time-series row wider than 2^32 columns"))?;
        self.w.write_all(&len.to_le_bytes())?;
        for v in row {
            self.w.write_all(&v.to_bits().to_le_bytes())?;
        }
        self.rows += 1;
        Ok(())
    }

    /// Rows appended so far.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// Flushes the file for reading.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

/// Reads the rows of a spill file back, in order.
pub(crate) struct SpillReader {
    r: BufReader<File>,
    left: usize,
    bytes: Vec<u8>,
}

impl SpillReader {
    /// Opens the spill file at `path`, which holds `rows` rows.
    pub(crate) fn open(path: &Path, rows: usize) -> io::Result<Self> {
        Ok(SpillReader {
            r: BufReader::with_capacity(1 << 16, File::open(path)?),
            left: rows,
            bytes: Vec::new(),
        })
    }

    /// Reads the next row into `row` (replacing its contents); false after the last.
    pub(crate) fn next_row(&mut self, row: &mut Vec<f64>) -> io::Result<bool> {
        if self.left == 0 {
            return Ok(false);
        }
        let mut len = [0u8; 4];
        self.r.read_exact(&mut len)?;
        let n = u32::from_le_bytes(len) as usize;
        self.bytes.resize(n * 8, 0);
        self.r.read_exact(&mut self.bytes)?;
        row.clear();
        row.extend(
            self.bytes
                .chunks_exact(8)
                .map(|b| f64::from_bits(u64::from_le_bytes(b.try_into().expect("8 bytes")))),
        );
        self.left -= 1;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_of_any_width_come_back_bit_for_bit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SPILL_FILE);
        let rows: Vec<Vec<f64>> = vec![
            vec![0.0, 1.5],
            vec![],
            vec![60.0, -0.0, f64::NAN, f64::INFINITY, 1e-300],
            vec![120.0, 3.0, 4.0],
        ];
        let mut w = SpillWriter::create(&path).unwrap();
        for r in &rows {
            w.push(r).unwrap();
        }
        w.flush().unwrap();
        assert_eq!(w.rows(), 4);
        let mut r = SpillReader::open(&path, w.rows()).unwrap();
        let mut row = vec![9.0];
        for want in &rows {
            assert!(r.next_row(&mut row).unwrap());
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&row), bits(want));
        }
        assert!(!r.next_row(&mut row).unwrap());
    }

    #[test]
    fn a_truncated_file_is_an_error_not_a_short_series() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SPILL_FILE);
        let mut w = SpillWriter::create(&path).unwrap();
        w.push(&[1.0, 2.0]).unwrap();
        w.flush().unwrap();
        let mut r = SpillReader::open(&path, 2).unwrap();
        let mut row = vec![];
        assert!(r.next_row(&mut row).unwrap());
        assert!(r.next_row(&mut row).is_err());
    }
}
