//! The events as `report.html` embeds them for its event table: dictionary-encoded,
//! column-wise JSON in chunks of [`EVENT_CHUNK`] events, each chunk gzip-compressed and in
//! base64 (decoded in the page with the browser's `DecompressionStream`).
//!
//! A chunk is one JSON object:
//!
//! ```text
//! {"types":[..],"reasons":[..],"kinds":[..],"namespaces":[..],"names":[..],"messages":[..],
//!  "time":[..],"type":[..],"reason":[..],"kind":[..],"namespace":[..],"name":[..],"message":[..]}
//! ```
//!
//! The first six lists are the distinct strings of each field in this chunk, numbered from 0
//! in order of first appearance (each chunk has dictionaries of its own, so memory holds one
//! chunk's strings, not every distinct message of a long run); the last seven are the chunk's
//! events column by column: `time` in milliseconds, the first event's as it is and
//! each other's as the difference to the one before; `type`, `reason`, `kind` and `namespace`
//! the string's number; `name` and `message` the number of the chunk's strings of the field
//! seen before the event minus the string's number (0: a string first seen here, 1: the last
//! one before, ...).
//!
//! The chunks are compressed on a thread of their own while the run goes on (a chunk is handed
//! over when full), so the page's writer only waits for the last ones. The output is the
//! same however the events arrive: a chunk's bytes depend on the events only. A streamed run
//! ([`EventData::spilling`]) keeps its compressed chunks in a file until the page is written,
//! so a long run's memory does not hold the page's events (some 20 MB for a week of the
//! 1,000-node benchmark).

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read as _, Write as _};
use std::path::PathBuf;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

use base64::Engine as _;
use flate2::Compression;
use flate2::write::GzEncoder;

use crate::EventRecord;

/// Events in one chunk of the embedded events (the last chunk holds the rest).
pub(crate) const EVENT_CHUNK: usize = 32_768;

/// The gzip level of data embedded in a page (zlib's default; with zlib-rs, on the 1,000-node
/// benchmark day's events 7 % smaller than level 4 and a third smaller than level 1, for some
/// 0.2 s of a thread of its own).
const GZIP_LEVEL: u32 = 6;

/// Full chunks queued for the compressing thread at most (the producer waits beyond).
const QUEUED_CHUNKS: usize = 4;

/// `bytes` gzip-compressed (deterministic: no file name, no time) and in base64 (standard
/// alphabet, padded): text safe anywhere in a page.
pub(crate) fn gzip_base64(bytes: &[u8]) -> String {
    let mut gz = GzEncoder::new(
        Vec::with_capacity(bytes.len() / 4 + 64),
        Compression::new(GZIP_LEVEL),
    );
    // Writing into a `Vec` cannot fail.
    let _ = gz.write_all(bytes);
    let packed = gz.finish().unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(packed)
}

/// The strings of one field, numbered in order of first appearance (foldhash: a fast hash, and
/// the map is never iterated, so its seed does not matter).
#[derive(Debug, Default)]
struct Dictionary {
    index: HashMap<Box<str>, u32, foldhash::fast::RandomState>,
}

impl Dictionary {
    fn get(&self, s: &str) -> Option<u32> {
        self.index.get(s).copied()
    }

    fn len(&self) -> u32 {
        self.index.len() as u32
    }

    fn insert(&mut self, s: &str) -> u32 {
        let id = self.len();
        self.index.insert(s.into(), id);
        id
    }
}

/// Names of the fields: of the lists of new strings, then of the columns.
const NEW_STRINGS: [&str; 6] = [
    "types",
    "reasons",
    "kinds",
    "namespaces",
    "names",
    "messages",
];
const COLUMNS: [&str; 6] = ["type", "reason", "kind", "namespace", "name", "message"];
/// The fields numbered relative to the strings seen so far (see the module).
const RELATIVE: [bool; 6] = [false, false, false, false, true, true];

/// The chunk being filled.
#[derive(Debug, Default)]
struct Chunk {
    events: usize,
    /// The last event's time in milliseconds.
    last_ms: i64,
    /// The `time` column's numbers, comma-separated.
    time: Vec<u8>,
    /// Per field: the column's numbers, comma-separated.
    columns: [Vec<u8>; 6],
    /// Per field: the strings first seen in this chunk, as JSON strings, comma-separated.
    new: [Vec<u8>; 6],
}

impl Chunk {
    /// The chunk's JSON text.
    fn json(&self) -> Vec<u8> {
        let len = self.time.len()
            + self.columns.iter().map(Vec::len).sum::<usize>()
            + self.new.iter().map(Vec::len).sum::<usize>()
            + 256;
        let mut j = Vec::with_capacity(len);
        j.push(b'{');
        for (name, list) in NEW_STRINGS.iter().zip(&self.new) {
            push_list(&mut j, name, list);
            j.push(b',');
        }
        push_list(&mut j, "time", &self.time);
        for (name, list) in COLUMNS.iter().zip(&self.columns) {
            j.push(b',');
            push_list(&mut j, name, list);
        }
        j.push(b'}');
        j
    }
}

/// `"name":[list]`.
fn push_list(j: &mut Vec<u8>, name: &str, list: &[u8]) {
    j.push(b'"');
    j.extend_from_slice(name.as_bytes());
    j.extend_from_slice(b"\":[");
    j.extend_from_slice(list);
    j.push(b']');
}

/// A number and a comma before it unless it is the first of its list.
fn push_int(list: &mut Vec<u8>, v: i64) {
    if !list.is_empty() {
        list.push(b',');
    }
    list.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Bytes of `s` as a JSON string (serde_json's escapes), quotes included.
fn json_len(s: &str) -> usize {
    2 + s
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..0x20 => 6,
            _ => 1,
        })
        .sum::<usize>()
}

/// Digits (and sign) of `v`.
fn int_len(v: i64) -> usize {
    itoa::Buffer::new().format(v).len()
}

/// The compressing thread and its queue.
#[derive(Debug)]
struct Compressor {
    tx: SyncSender<Vec<u8>>,
    thread: JoinHandle<io::Result<Chunks>>,
}

impl Compressor {
    /// Starts the thread, which keeps the compressed chunks in memory or, given `spill`,
    /// appends them to that file.
    fn start(spill: Option<PathBuf>) -> Self {
        let (tx, rx) = sync_channel::<Vec<u8>>(QUEUED_CHUNKS);
        let thread = std::thread::Builder::new()
            .name("kscale-page-events".to_owned())
            .spawn(move || {
                let mut chunks = Chunks::default();
                let mut file = match &spill {
                    Some(path) => Some((path, BufWriter::new(File::create(path)?))),
                    None => None,
                };
                for json in rx {
                    let packed = gzip_base64(&json);
                    match &mut file {
                        Some((_, w)) => {
                            w.write_all(packed.as_bytes())?;
                            chunks.spilled.push(packed.len());
                        }
                        None => chunks.held.push(packed),
                    }
                }
                if let Some((path, mut w)) = file {
                    w.flush()?;
                    chunks.file = Some(path.clone());
                }
                Ok(chunks)
            })
            .unwrap_or_else(|e| panic!("cannot start a thread to compress the page's events: {e}"));
        Compressor { tx, thread }
    }
}

/// The compressed chunks in base64: first those in `file` (of the lengths in `spilled`), then
/// those `held` in memory.
#[derive(Debug, Default)]
struct Chunks {
    file: Option<PathBuf>,
    spilled: Vec<usize>,
    held: Vec<String>,
}

/// The events of the page's event table, encoded and compressed as they are pushed (see the
/// module), up to a budget of bytes of JSON (before compression).
#[derive(Debug)]
pub(crate) struct EventData {
    /// Bytes of JSON allowed in all (a chunk's text counts whole, framing included).
    budget: usize,
    /// Bytes of JSON of the events so far.
    bytes: usize,
    /// Events encoded.
    embedded: usize,
    /// The budget is spent: no more events are taken.
    full: bool,
    /// The chunk's strings.
    dictionaries: [Dictionary; 6],
    chunk: Chunk,
    /// Started with the first full chunk.
    compressor: Option<Compressor>,
    /// Where the compressing thread keeps the chunks (`None`: in memory).
    spill: Option<PathBuf>,
    /// The compressed chunks, once [`EventData::finish`]ed (or why keeping them failed).
    done: Option<Result<Chunks, io::Error>>,
}

/// Bytes of a chunk's JSON besides its lists' contents: the names, brackets and commas.
const CHUNK_FRAME: usize = 160;

impl EventData {
    /// No events yet, at most `budget` bytes of them.
    pub(crate) fn new(budget: usize) -> Self {
        EventData {
            budget,
            bytes: 0,
            embedded: 0,
            full: false,
            dictionaries: Default::default(),
            chunk: Chunk::default(),
            compressor: None,
            spill: None,
            done: None,
        }
    }

    /// [`EventData::new`], keeping the compressed chunks in the file `spill` (created with the
    /// first full chunk; the caller removes it once the page is written).
    pub(crate) fn spilling(budget: usize, spill: PathBuf) -> Self {
        EventData {
            spill: Some(spill),
            ..EventData::new(budget)
        }
    }

    /// The budget: bytes of JSON taken at most.
    pub(crate) fn budget(&self) -> usize {
        self.budget
    }

    /// Events taken.
    pub(crate) fn embedded(&self) -> usize {
        self.embedded
    }

    /// Bytes of JSON of the events taken (before compression).
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Takes the next event unless the budget is spent (then no later one either).
    pub(crate) fn push(&mut self, e: &EventRecord) {
        debug_assert!(self.done.is_none(), "pushed after finish");
        if self.full {
            return;
        }
        let o = &e.involved_object;
        let fields: [&str; 6] = [
            &e.type_,
            &e.reason,
            &o.kind,
            &o.namespace,
            &o.name,
            &e.message,
        ];
        let mut ids = [None; 6];
        for (k, s) in fields.iter().enumerate() {
            ids[k] = self.dictionaries[k].get(s);
        }
        let ms = if e.time.is_finite() {
            (e.time * 1000.0).round() as i64
        } else {
            0
        };
        let first = self.chunk.events == 0;
        let time = if first { ms } else { ms - self.chunk.last_ms };
        // The bytes this event adds, counted before anything changes.
        let mut need = int_len(time) + 1;
        if first {
            need += CHUNK_FRAME;
        }
        for (k, s) in fields.iter().enumerate() {
            let d = &self.dictionaries[k];
            let v = match ids[k] {
                Some(id) if RELATIVE[k] => i64::from(d.len() - id),
                Some(id) => i64::from(id),
                None => {
                    need += json_len(s) + 1;
                    if RELATIVE[k] { 0 } else { i64::from(d.len()) }
                }
            };
            need += int_len(v) + 1;
        }
        if self.bytes + need > self.budget {
            self.full = true;
            return;
        }
        self.bytes += need;
        let c = &mut self.chunk;
        push_int(&mut c.time, time);
        c.last_ms = ms;
        for (k, s) in fields.iter().enumerate() {
            let d = &mut self.dictionaries[k];
            let v = match ids[k] {
                Some(id) if RELATIVE[k] => i64::from(d.len() - id),
                Some(id) => i64::from(id),
                None => {
                    let id = d.insert(s);
                    let new = &mut c.new[k];
                    if !new.is_empty() {
                        new.push(b',');
                    }
                    crate::interactive::push_str(new, s);
                    if RELATIVE[k] { 0 } else { i64::from(id) }
                }
            };
            push_int(&mut c.columns[k], v);
        }
        c.events += 1;
        self.embedded += 1;
        if c.events == EVENT_CHUNK {
            let json = std::mem::take(&mut self.chunk).json();
            self.dictionaries = Default::default();
            let spill = &self.spill;
            let compressor = self
                .compressor
                .get_or_insert_with(|| Compressor::start(spill.clone()));
            if compressor.tx.send(json).is_err() {
                // The thread is gone: a panic there is resumed here; a failed write of the
                // spill file is kept for the page's writer to report.
                match self.compressor.take().map(|c| c.thread.join()) {
                    Some(Err(panic)) => std::panic::resume_unwind(panic),
                    Some(Ok(result)) => {
                        self.full = true;
                        self.done = Some(result);
                    }
                    None => {}
                }
            }
        }
    }

    /// Compresses what is left and collects the compressed chunks (after this, no more events).
    pub(crate) fn finish(&mut self) {
        if self.done.is_some() {
            return;
        }
        let last = (self.chunk.events > 0).then(|| std::mem::take(&mut self.chunk).json());
        let mut chunks = match self.compressor.take() {
            Some(Compressor { tx, thread }) => {
                drop(tx);
                thread
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            }
            None => Ok(Chunks::default()),
        };
        if let Ok(c) = &mut chunks {
            c.held.extend(last.map(|json| gzip_base64(&json)));
        }
        self.done = Some(chunks);
    }

    /// How many compressed chunks there are (0 before [`EventData::finish`]).
    pub(crate) fn chunk_count(&self) -> usize {
        match &self.done {
            Some(Ok(c)) => c.spilled.len() + c.held.len(),
            _ => 0,
        }
    }

    /// Hands each compressed chunk in base64, in order, to `f` (none before
    /// [`EventData::finish`]); the error of keeping or reading them back, or `f`'s.
    pub(crate) fn for_each_chunk(
        &self,
        mut f: impl FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        let chunks = match &self.done {
            None => return Ok(()),
            Some(Err(e)) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("keeping the page's events: {e}"),
                ));
            }
            Some(Ok(c)) => c,
        };
        if let Some(path) = &chunks.file {
            let fail = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
            let mut r = BufReader::new(File::open(path).map_err(fail)?);
            let mut buf = Vec::new();
            for &len in &chunks.spilled {
                buf.resize(len, 0);
                r.read_exact(&mut buf).map_err(fail)?;
                f(&buf)?;
            }
        }
        chunks.held.iter().try_for_each(|c| f(c.as_bytes()))
    }
}
