//! A run's time series as Parquet in long form, for DuckDB, pandas, Polars and Spark:
//! `kscale export parquet` writes `timeseries.parquet` from `timeseries.csv`.
//!
//! One row per non-empty cell of `timeseries.csv` (empty cells, where a series has no value,
//! are left out), with the columns
//!
//! | column | Parquet type | what |
//! |---|---|---|
//! | `time` | `DOUBLE` | seconds since the run's start (`time_s`) |
//! | `timestamp` | `INT64` `TIMESTAMP(MILLIS, UTC)` | wall-clock time: the run's t = 0 plus `time` |
//! | `series` | `BYTE_ARRAY` `STRING` | the metric, e.g. `ready`, `served_rps`, `nodes` |
//! | `object` | `BYTE_ARRAY` `STRING` | e.g. `deployment/default/web`; empty for cluster-wide series |
//! | `labels` | `BYTE_ARRAY` `STRING` (JSON) | a JSON object, e.g. `{"namespace":"default","name":"web"}` |
//! | `csv_column` | `BYTE_ARRAY` `STRING` | the `timeseries.csv` column, for a lossless round trip (not `column`: a reserved word in SQL) |
//! | `value` | `DOUBLE` | the cell's value |
//!
//! `series`, `object` and `labels` come from the column name as for the OpenMetrics export
//! (the table in `columns.rs`): `labels` holds what OpenMetrics puts in a sample's labels.
//! Rows come in row groups of about [`ROW_GROUP_ROWS`] rows, each holding the CSV rows of a
//! stretch of time ordered by CSV column, then time: a run of under a million cells is one
//! group sorted by (column, time), a series' values are together and the string columns are
//! long runs of one dictionary entry. Pages are Snappy-compressed; the string columns and
//! `value` are dictionary-encoded, `time` is `BYTE_STREAM_SPLIT` and `timestamp`
//! `DELTA_BINARY_PACKED` (both read by DuckDB, pyarrow and Polars). The file's key-value
//! metadata records `kscale.start_unix_ms`. The same CSV and start give the same bytes.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ::parquet::basic::{Compression, Encoding};
use ::parquet::data_type::{ByteArray, ByteArrayType, DataType, DoubleType, Int64Type};
use ::parquet::errors::ParquetError;
use ::parquet::file::metadata::KeyValue;
use ::parquet::file::properties::WriterProperties;
use ::parquet::file::writer::{SerializedFileWriter, SerializedRowGroupWriter};
use ::parquet::schema::parser::parse_message_type;
use ::parquet::schema::types::ColumnPath;

use crate::columns::{CsvCells, describe};

/// The file `kscale export parquet` writes into a run directory by default. A run directory
/// holding it is still kscale's own: a later run into the directory replaces it.
pub const TIMESERIES_PARQUET: &str = "timeseries.parquet";

/// Rows of a row group: a group ends with the CSV row that brings it to this many rows (or
/// with the last row).
pub const ROW_GROUP_ROWS: usize = 1 << 20;

/// Rows handed to a string column's writer at once (bounds the memory of a row group's
/// strings).
const STRING_BATCH: usize = 1 << 14;

/// The Parquet schema (in Parquet's message-type syntax).
const SCHEMA: &str = "
message kscale_timeseries {
  REQUIRED DOUBLE time;
  REQUIRED INT64 timestamp (TIMESTAMP(MILLIS,true));
  REQUIRED BYTE_ARRAY series (STRING);
  REQUIRED BYTE_ARRAY object (STRING);
  REQUIRED BYTE_ARRAY labels (STRING);
  REQUIRED BYTE_ARRAY csv_column (STRING);
  REQUIRED DOUBLE value;
}
";

/// Why a Parquet export failed.
#[derive(Debug, thiserror::Error)]
pub enum ParquetExportError {
    /// The input is not a run's time series: no run directory, `timeseries.csv` missing,
    /// unreadable or malformed (the message names the file and line).
    #[error("{0}")]
    Input(String),
    /// Writing the Parquet file failed (the message names the file).
    #[error("{0}")]
    Write(String),
}

/// What a Parquet export wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParquetStats {
    /// Rows (non-empty cells of `timeseries.csv`).
    pub rows: u64,
    /// Row groups.
    pub row_groups: usize,
}

/// One row group's rows, buffered until it is written.
#[derive(Default)]
struct Buffer {
    /// `time` of each row.
    time: Vec<f64>,
    /// Index of each row's CSV column among the series.
    column: Vec<usize>,
    /// `value` of each row.
    value: Vec<f64>,
}

/// The wall-clock time in Unix milliseconds of `time` seconds after `start_unix_ms` (as the
/// OpenMetrics export stamps samples).
fn timestamp_ms(start_unix_ms: i64, time: f64) -> i64 {
    start_unix_ms.saturating_add((time * 1000.0).round() as i64)
}

/// Writes the time series of `timeseries.csv` text read from `csv` to `out` as long-form
/// Parquet (see the module docs), with timestamps from `start_unix_ms` (t = 0); returns `out`
/// (flushed) and what was written. [`ParquetExportError::Input`] names the CSV's line;
/// `out` then holds a partial file.
pub fn timeseries_to_parquet<R: Read, W: Write + Send>(
    csv: R,
    start_unix_ms: i64,
    out: W,
) -> Result<(W, ParquetStats), ParquetExportError> {
    write_parquet(csv, start_unix_ms, out, ROW_GROUP_ROWS)
}

/// [`timeseries_to_parquet`] with row groups of `row_group_rows`.
fn write_parquet<R: Read, W: Write + Send>(
    csv: R,
    start_unix_ms: i64,
    out: W,
    row_group_rows: usize,
) -> Result<(W, ParquetStats), ParquetExportError> {
    let write_err = |e: ParquetError| ParquetExportError::Write(e.to_string());
    let mut rows = CsvCells::new(csv).map_err(ParquetExportError::Input)?;
    // series, object, labels and csv_column, each by CSV column: cloning a ByteArray shares
    // its bytes.
    let mut strings: [Vec<ByteArray>; 4] = Default::default();
    for name in rows.columns() {
        let d = describe(name);
        let labels: serde_json::Map<String, serde_json::Value> = d
            .labels
            .into_iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::String(v)))
            .collect();
        let labels = serde_json::Value::Object(labels).to_string();
        for (to, s) in strings
            .iter_mut()
            .zip([d.series, d.object, labels, name.to_string()])
        {
            to.push(ByteArray::from(s.into_bytes()));
        }
    }
    let schema = parse_message_type(SCHEMA).map_err(write_err)?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_dictionary_enabled(true)
        .set_column_dictionary_enabled(ColumnPath::from("timestamp"), false)
        .set_column_encoding(ColumnPath::from("timestamp"), Encoding::DELTA_BINARY_PACKED)
        .set_column_dictionary_enabled(ColumnPath::from("time"), false)
        .set_column_encoding(ColumnPath::from("time"), Encoding::BYTE_STREAM_SPLIT)
        .set_key_value_metadata(Some(vec![KeyValue::new(
            "kscale.start_unix_ms".to_string(),
            start_unix_ms.to_string(),
        )]))
        .build();
    let mut writer =
        SerializedFileWriter::new(out, Arc::new(schema), Arc::new(props)).map_err(write_err)?;
    let mut stats = ParquetStats {
        rows: 0,
        row_groups: 0,
    };
    let mut buf = Buffer::default();
    while let Some(row) = rows.next_row().map_err(ParquetExportError::Input)? {
        for (i, _, v) in row.cells() {
            buf.time.push(row.time);
            buf.column.push(i);
            buf.value.push(v);
        }
        if buf.time.len() >= row_group_rows {
            write_row_group(&mut writer, &buf, &strings, start_unix_ms).map_err(write_err)?;
            stats.rows += buf.time.len() as u64;
            stats.row_groups += 1;
            buf.time.clear();
            buf.column.clear();
            buf.value.clear();
        }
    }
    if !buf.time.is_empty() {
        write_row_group(&mut writer, &buf, &strings, start_unix_ms).map_err(write_err)?;
        stats.rows += buf.time.len() as u64;
        stats.row_groups += 1;
    }
    let mut out = writer.into_inner().map_err(write_err)?;
    out.flush()
        .map_err(|e| ParquetExportError::Write(e.to_string()))?;
    Ok((out, stats))
}

/// Writes `buf` as one row group, its rows ordered by CSV column (stably: each series' rows
/// stay in time order), so the string columns are long runs that compress to almost nothing
/// and a series' values are together.
fn write_row_group<W: Write + Send>(
    writer: &mut SerializedFileWriter<W>,
    buf: &Buffer,
    strings: &[Vec<ByteArray>; 4],
    start_unix_ms: i64,
) -> Result<(), ParquetError> {
    let mut order: Vec<usize> = (0..buf.time.len()).collect();
    order.sort_by_key(|&i| buf.column[i]);
    let time: Vec<f64> = order.iter().map(|&i| buf.time[i]).collect();
    let mut group = writer.next_row_group()?;
    write_column::<DoubleType, W>(&mut group, &time)?;
    let stamps: Vec<i64> = time
        .iter()
        .map(|&t| timestamp_ms(start_unix_ms, t))
        .collect();
    write_column::<Int64Type, W>(&mut group, &stamps)?;
    for by_column in strings {
        let mut column = next_column(&mut group)?;
        for chunk in order.chunks(STRING_BATCH) {
            let values: Vec<ByteArray> = chunk
                .iter()
                .map(|&i| by_column[buf.column[i]].clone())
                .collect();
            column
                .typed::<ByteArrayType>()
                .write_batch(&values, None, None)?;
        }
        column.close()?;
    }
    let value: Vec<f64> = order.iter().map(|&i| buf.value[i]).collect();
    write_column::<DoubleType, W>(&mut group, &value)?;
    group.close()?;
    Ok(())
}

/// The row group's next column writer; an error if the schema has no more columns.
fn next_column<'a, 'b, W: Write + Send>(
    group: &'b mut SerializedRowGroupWriter<'a, W>,
) -> Result<::parquet::file::writer::SerializedColumnWriter<'b>, ParquetError> {
    group
        .next_column()?
        .ok_or_else(|| ParquetError::General("the schema has fewer columns than written".into()))
}

/// Writes the row group's next column, of physical type `T`.
fn write_column<T: DataType, W: Write + Send>(
    group: &mut SerializedRowGroupWriter<'_, W>,
    values: &[T::T],
) -> Result<(), ParquetError> {
    let mut column = next_column(group)?;
    column.typed::<T>().write_batch(values, None, None)?;
    column.close()
}

/// `kscale export parquet`: writes `run_dir/timeseries.csv` as long-form Parquet to `out`
/// (default `run_dir/`[`TIMESERIES_PARQUET`]) with timestamps from `start_unix_ms`. The file
/// is written next to `out` under a temporary name and renamed into place only when complete,
/// so `out` is either as it was or the whole new file. Returns where it wrote and what.
pub fn export_timeseries_parquet(
    run_dir: &Path,
    out: Option<&Path>,
    start_unix_ms: i64,
) -> Result<(PathBuf, ParquetStats), ParquetExportError> {
    let input = |m: String| ParquetExportError::Input(m);
    match fs::metadata(run_dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(input(format!("{}: not a directory", run_dir.display()))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(input(format!("{}: no such directory", run_dir.display())));
        }
        Err(e) => return Err(input(format!("{}: {e}", run_dir.display()))),
    }
    let (csv_path, csv) =
        crate::compression::open_output(run_dir, "timeseries.csv").map_err(|e| {
            input(if e.kind() == io::ErrorKind::NotFound {
                format!(
                    "{}: no timeseries.csv: not a kscale run directory",
                    run_dir.display()
                )
            } else {
                format!(
                    "{}: cannot read: {e}",
                    run_dir.join("timeseries.csv").display()
                )
            })
        })?;
    let out = out.map_or_else(|| run_dir.join(TIMESERIES_PARQUET), Path::to_path_buf);
    let Some(file_name) = out.file_name() else {
        return Err(input(format!("{}: not a file name", out.display())));
    };
    if let (Ok(a), Ok(b)) = (fs::canonicalize(&out), fs::canonicalize(&csv_path))
        && a == b
    {
        return Err(input(format!(
            "{}: is the run's timeseries.csv; refusing to replace it",
            out.display()
        )));
    }
    let tmp = out.with_file_name(format!(
        ".{}.tmp-{}",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let write = |what: &str, e: &dyn std::fmt::Display| {
        ParquetExportError::Write(format!("{}: {what} {}: {e}", out.display(), tmp.display()))
    };
    let result = (|| {
        let file = File::create(&tmp).map_err(|e| write("create", &e))?;
        let (file, stats) = timeseries_to_parquet(
            io::BufReader::with_capacity(1 << 16, csv),
            start_unix_ms,
            file,
        )
        .map_err(|e| match e {
            ParquetExportError::Input(m) => {
                ParquetExportError::Input(format!("{}: {m}", csv_path.display()))
            }
            ParquetExportError::Write(m) => write("write", &m),
        })?;
        file.sync_all().map_err(|e| write("sync", &e))?;
        drop(file);
        fs::rename(&tmp, &out).map_err(|e| {
            ParquetExportError::Write(format!(
                "rename {} to {}: {e}",
                tmp.display(),
                out.display()
            ))
        })?;
        Ok(stats)
    })();
    match result {
        Ok(stats) => Ok((out, stats)),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::parquet::file::reader::{FileReader, SerializedFileReader};
    use ::parquet::record::RowAccessor;

    /// A reader of the Parquet file `bytes`.
    fn reader(bytes: Vec<u8>) -> SerializedFileReader<File> {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&bytes).unwrap();
        SerializedFileReader::new(file).unwrap()
    }

    #[test]
    fn cells_become_rows_with_series_object_and_labels() {
        let csv = "time_s,nodes,deploy/shop/web/ready,nodes/type/m5.large\n0,2,1,\n10,3,,2\n";
        let (bytes, stats) = timeseries_to_parquet(csv.as_bytes(), 1_000, Vec::new()).unwrap();
        assert_eq!(
            stats,
            ParquetStats {
                rows: 4,
                row_groups: 1
            }
        );
        let reader = reader(bytes);
        let rows: Vec<_> = reader
            .get_row_iter(None)
            .unwrap()
            .map(|r| {
                let r = r.unwrap();
                (
                    r.get_double(0).unwrap(),
                    r.get_timestamp_millis(1).unwrap(),
                    r.get_string(2).unwrap().clone(),
                    r.get_string(3).unwrap().clone(),
                    r.get_string(4).unwrap().clone(),
                    r.get_string(5).unwrap().clone(),
                    r.get_double(6).unwrap(),
                )
            })
            .collect();
        let row = |t: f64, ts, s: &str, o: &str, l: &str, c: &str, v| {
            (t, ts, s.into(), o.into(), l.into(), c.into(), v)
        };
        assert_eq!(
            rows,
            vec![
                row(0.0, 1_000, "nodes", "", "{}", "nodes", 2.0),
                row(10.0, 11_000, "nodes", "", "{}", "nodes", 3.0),
                row(
                    0.0,
                    1_000,
                    "ready",
                    "deployment/shop/web",
                    r#"{"namespace":"shop","name":"web"}"#,
                    "deploy/shop/web/ready",
                    1.0
                ),
                row(
                    10.0,
                    11_000,
                    "nodes_by_instance_type",
                    "",
                    r#"{"instance_type":"m5.large"}"#,
                    "nodes/type/m5.large",
                    2.0
                ),
            ]
        );
        let meta = reader.metadata();
        let column = meta.row_group(0).column(2);
        assert_eq!(column.compression(), Compression::SNAPPY);
        assert!(column.dictionary_page_offset().is_some());
        let kv = meta.file_metadata().key_value_metadata().unwrap();
        assert_eq!(kv[0].value.as_deref(), Some("1000"));
    }

    #[test]
    fn row_groups_end_at_the_row_that_fills_them() {
        let csv = "time_s,a,b\n0,1,2\n10,3,\n20,5,6\n30,,8\n";
        let (bytes, stats) = write_parquet(csv.as_bytes(), 0, Vec::new(), 2).unwrap();
        assert_eq!(
            stats,
            ParquetStats {
                rows: 6,
                row_groups: 3
            }
        );
        let reader = reader(bytes);
        let sizes: Vec<i64> = reader
            .metadata()
            .row_groups()
            .iter()
            .map(|g| g.num_rows())
            .collect();
        assert_eq!(sizes, [2, 3, 1]);
        let values: Vec<(f64, String, f64)> = reader
            .get_row_iter(None)
            .unwrap()
            .map(|r| {
                let r = r.unwrap();
                let column = r.get_string(5).unwrap().clone();
                (r.get_double(0).unwrap(), column, r.get_double(6).unwrap())
            })
            .collect();
        let v = |t: f64, c: &str, x: f64| (t, c.to_string(), x);
        assert_eq!(
            values,
            [
                v(0.0, "a", 1.0),
                v(0.0, "b", 2.0),
                v(10.0, "a", 3.0),
                v(20.0, "a", 5.0),
                v(20.0, "b", 6.0),
                v(30.0, "b", 8.0)
            ]
        );
    }

    /// (time, CSV column, value) of every row of the Parquet file `bytes`, sorted.
    fn cells_of(bytes: Vec<u8>) -> Vec<(u64, String, u64)> {
        let mut cells: Vec<_> = reader(bytes)
            .get_row_iter(None)
            .unwrap()
            .map(|r| {
                let r = r.unwrap();
                (
                    r.get_double(0).unwrap().to_bits(),
                    r.get_string(5).unwrap().clone(),
                    r.get_double(6).unwrap().to_bits(),
                )
            })
            .collect();
        cells.sort();
        cells
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Whatever the twin's CSV writer writes (odd column names, quoted ones, non-finite
        /// values as empty cells) comes back cell for cell.
        #[test]
        fn the_csv_writers_output_round_trips(
            names in proptest::collection::vec("[a-z/,\" ]{0,12}", 1..6),
            cells in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::prelude::any::<f64>(),
                    -1e6f64..1e6,
                    proptest::prelude::Just(f64::NAN),
                ],
                0..60,
            ),
        ) {
            let width = names.len();
            let mut columns = vec!["time_s".to_string()];
            columns.extend(names);
            let rows: Vec<Vec<f64>> = cells
                .chunks(width)
                .filter(|c| c.len() == width)
                .enumerate()
                .map(|(i, c)| {
                    let mut row = vec![i as f64 * 10.0];
                    row.extend_from_slice(c);
                    row
                })
                .collect();
            let ts = crate::TimeSeries { columns: columns.clone(), rows, x_label: None };
            let csv = crate::render_timeseries_csv(&ts).unwrap();
            let mut expected = Vec::new();
            let mut rdr = csv::Reader::from_reader(csv.as_bytes());
            for record in rdr.records() {
                let record = record.unwrap();
                let t: f64 = record[0].parse().unwrap();
                for (name, v) in columns.iter().zip(record.iter()).skip(1) {
                    if !v.is_empty() {
                        let v: f64 = v.parse().unwrap();
                        expected.push((t.to_bits(), name.clone(), v.to_bits()));
                    }
                }
            }
            expected.sort();
            let finite = ts.rows.iter().flat_map(|r| &r[1..]).filter(|v| v.is_finite()).count();
            proptest::prop_assert_eq!(expected.len(), finite);
            let (bytes, stats) = timeseries_to_parquet(csv.as_bytes(), 0, Vec::new()).unwrap();
            proptest::prop_assert_eq!(stats.rows, finite as u64);
            proptest::prop_assert_eq!(cells_of(bytes), expected);
        }

        /// Arbitrary input is an error or a file, never a panic.
        #[test]
        fn arbitrary_input_never_panics(text in "(time_s)?[a-z0-9,.\"\n/e+-]{0,80}") {
            let _ = timeseries_to_parquet(text.as_bytes(), 0, Vec::new());
        }
    }

    #[test]
    fn an_empty_series_gives_a_valid_empty_file_and_bad_csv_names_the_line() {
        let (bytes, stats) =
            timeseries_to_parquet("time_s,nodes\n".as_bytes(), 0, Vec::new()).unwrap();
        assert_eq!(stats.rows, 0);
        let reader = reader(bytes);
        assert_eq!(reader.metadata().file_metadata().num_rows(), 0);
        assert_eq!(
            reader
                .metadata()
                .file_metadata()
                .schema_descr()
                .num_columns(),
            7
        );
        match timeseries_to_parquet("time_s,x\n0,1\n5,abc\n".as_bytes(), 0, Vec::new()) {
            Err(ParquetExportError::Input(m)) => assert!(m.contains("line 3"), "{m}"),
            other => panic!("{:?}", other.map(|r| r.1)),
        }
    }
}
