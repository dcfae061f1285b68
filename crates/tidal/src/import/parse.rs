//! The parse side of an import: reads one input (JSON Lines or CSV),
//! turns each record into a checked row, and sends batches of rows, with
//! the bad rows found on the way, to the writer over a bounded channel, so
//! reading and parsing overlap the writes.

use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_channel::Sender;
use serde_json::{Map, Value};
use tidal::schema::{EntityKind, Fields};
use tidal::{Event, Key};

use super::input::{Capped, Line, Lines, RecordTooLong};
use super::rows::{self, Kind, Row, Rules};

/// Rows of one class, in file order, written with one facade call.
#[derive(Debug)]
pub(crate) enum Batch {
    /// `put_batch_referring`, with each row's reference keys.
    Entities(Vec<(EntityKind, Key, Fields)>, Vec<Vec<Key>>),
    /// `relate_batch` of one relationship type.
    Edges(String, Vec<(Key, Key, f64)>),
    /// `signal_batch`.
    Signals(Vec<Event>),
}

/// A bad row: its line and why.
#[derive(Clone, Debug)]
pub(crate) struct Bad {
    pub(crate) line: u64,
    pub(crate) reason: String,
}

/// The longest reason kept for a bad row, in bytes: reasons quote the
/// input (an unknown signal's name, a bad time), which may be huge.
const MAX_REASON: usize = 300;

/// `reason`, cut to [`MAX_REASON`] bytes (at a character boundary).
pub(crate) fn clip(mut reason: String) -> String {
    if reason.len() > MAX_REASON {
        let mut end = MAX_REASON;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
        reason.push('…');
    }
    reason
}

/// A run of consecutive lines: the rows to write (with the line of each),
/// the bad rows among them, and how far the input has been read.
#[derive(Debug)]
pub(crate) struct Chunk {
    pub(crate) batch: Option<Batch>,
    pub(crate) lines: Vec<u64>,
    pub(crate) rejected: Vec<Bad>,
    /// Every line up to this one is in this chunk or an earlier one.
    pub(crate) through: u64,
    /// Bytes of the file read so far.
    pub(crate) read: u64,
}

/// What the parse side sends.
#[derive(Debug)]
pub(crate) enum Msg {
    Chunk(Chunk),
    /// The input cannot be read on (corrupt compression, an I/O error, an
    /// unusable CSV header or an over-long CSV record): the message, naming
    /// the file.
    Failed(String),
}

/// How one input is parsed.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) name: String,
    pub(crate) rules: Rules,
    /// Rows per batch.
    pub(crate) batch_rows: usize,
    /// The longest line or record, in bytes.
    pub(crate) max_record: usize,
    /// Lines up to this one were imported by an earlier run: skipped.
    pub(crate) skip_through: u64,
    /// Bytes of the file read (shared with the reader that counts them).
    pub(crate) read: Arc<AtomicU64>,
}

/// The receiver has gone: the writer stopped.
struct Gone;

/// Collects rows into chunks and sends them.
struct Builder<'a> {
    job: &'a Job,
    tx: &'a Sender<Msg>,
    batch: Option<Batch>,
    lines: Vec<u64>,
    rejected: Vec<Bad>,
    through: u64,
    /// Input bytes of the rows collected so far.
    bytes: usize,
}

/// Input bytes after which a chunk is sent whatever its row count, so
/// rows of large entities cannot pile up without bound.
const CHUNK_BYTES: usize = 64 << 20;

impl Builder<'_> {
    /// Adds a row read from `bytes` bytes of input.
    fn push(&mut self, line: u64, row: Row, bytes: usize) -> Result<(), Gone> {
        let same = matches!(
            (&self.batch, &row),
            (Some(Batch::Entities(..)), Row::Entity(..)) | (Some(Batch::Signals(_)), Row::Signal(_))
        ) || matches!((&self.batch, &row), (Some(Batch::Edges(a, _)), Row::Edge(b, ..)) if a == b);
        if !same && self.batch.is_some() {
            self.flush()?;
        }
        match (&mut self.batch, row) {
            (Some(Batch::Entities(v, refs)), Row::Entity(k, key, f, r)) => {
                v.push((k, key, f));
                refs.push(r);
            }
            (Some(Batch::Signals(v)), Row::Signal(e)) => v.push(e),
            (Some(Batch::Edges(_, v)), Row::Edge(_, from, to, w)) => v.push((from, to, w)),
            (slot, Row::Entity(k, key, f, r)) => *slot = Some(Batch::Entities(vec![(k, key, f)], vec![r])),
            (slot, Row::Signal(e)) => *slot = Some(Batch::Signals(vec![e])),
            (slot, Row::Edge(ty, from, to, w)) => *slot = Some(Batch::Edges(ty, vec![(from, to, w)])),
        }
        self.lines.push(line);
        self.bytes += bytes;
        self.advance(line)
    }

    fn reject(&mut self, line: u64, reason: String) -> Result<(), Gone> {
        self.rejected.push(Bad { line, reason: clip(reason) });
        self.advance(line)
    }

    fn advance(&mut self, line: u64) -> Result<(), Gone> {
        self.through = line;
        if self.lines.len() + self.rejected.len() >= self.job.batch_rows || self.bytes >= CHUNK_BYTES {
            self.flush()
        } else {
            Ok(())
        }
    }

    fn flush(&mut self) -> Result<(), Gone> {
        self.bytes = 0;
        let chunk = Chunk {
            batch: self.batch.take(),
            lines: std::mem::take(&mut self.lines),
            rejected: std::mem::take(&mut self.rejected),
            through: self.through,
            read: self.job.read.load(Ordering::Relaxed),
        };
        if chunk.batch.is_none() && chunk.rejected.is_empty() && chunk.through == 0 {
            return Ok(());
        }
        self.tx.send(Msg::Chunk(chunk)).map_err(|_| Gone)
    }

    fn fail(&mut self, message: String) {
        // Rows before the failure are still written.
        if self.flush().is_ok() {
            let _ = self.tx.send(Msg::Failed(message));
        }
    }
}

/// Parses one input, sending chunks to `tx` until it ends, fails, or the
/// writer stops listening.
pub(crate) fn run(job: &Job, input: Box<dyn BufRead + Send>, format: super::input::Format, tx: &Sender<Msg>) {
    let mut b =
        Builder { job, tx, batch: None, lines: Vec::new(), rejected: Vec::new(), through: job.skip_through, bytes: 0 };
    let result = match format {
        super::input::Format::Jsonl => jsonl(&mut b, input),
        super::input::Format::Csv => csv(&mut b, input),
    };
    match result {
        Ok(Ok(())) => {
            let _ = b.flush();
        }
        Ok(Err(message)) => b.fail(message),
        Err(Gone) => {}
    }
}

fn jsonl(b: &mut Builder<'_>, input: Box<dyn BufRead + Send>) -> Result<Result<(), String>, Gone> {
    let job = b.job;
    let mut lines = Lines::new(input, job.max_record);
    loop {
        let line = match lines.next_line() {
            Ok(Some(line)) => line,
            Ok(None) => return Ok(Ok(())),
            Err(e) => return Ok(Err(format!("{}: after line {}: {e}", job.name, lines.number))),
        };
        let n = lines.number;
        if n <= job.skip_through {
            continue;
        }
        match line {
            Line::TooLong => b.reject(n, format!("line longer than {} bytes (--max-record-bytes)", job.max_record))?,
            Line::Text => match job.rules.json(lines.buf.strip_prefix(BOM).filter(|_| n == 1).unwrap_or(&lines.buf)) {
                Ok(Some(row)) => b.push(n, row, lines.buf.len())?,
                Ok(None) => b.advance(n)?,
                Err(reason) => b.reject(n, reason)?,
            },
        }
    }
}

/// The UTF-8 byte-order mark some tools write at the start of a file.
const BOM: &[u8] = b"\xef\xbb\xbf";

/// The CSV reader's buffer.
const CSV_BUFFER: usize = 64 << 10;

/// What the columns of a CSV file are.
enum Columns {
    Signals {
        target: usize,
        user: Option<usize>,
        signal: usize,
        at: Option<usize>,
        weight: Option<usize>,
        key: Option<usize>,
    },
    Edges {
        ty: usize,
        from: usize,
        to: usize,
        weight: Option<usize>,
    },
    Entities {
        kind: EntityKind,
        key: usize,
        fields: Vec<(usize, tidal::schema::FieldDef)>,
    },
}

fn columns(header: &[&str], rules: &Rules) -> Result<Columns, String> {
    let find = |names: &[&str]| header.iter().position(|h| names.contains(h));
    let kind = match rules.default_kind {
        Some(k) => k,
        None if find(&["signal"]).is_some() => Kind::Signal,
        None if find(&["type"]).is_some() && find(&["from"]).is_some() => Kind::Relationship,
        None => {
            return Err(format!("cannot tell the kind of rows from the header ({}): give --kind", header.join(",")));
        }
    };
    let known = |allowed: &[&str]| -> Result<(), String> {
        match header.iter().find(|h| !allowed.contains(h)) {
            Some(h) => Err(format!("unknown column {h:?} for {kind:?} rows (expected {})", allowed.join(", "))),
            None => Ok(()),
        }
    };
    let need = |names: &[&str]| find(names).ok_or_else(|| format!("the header has no {:?} column", names[0]));
    match kind {
        Kind::Signal => {
            known(&["item", "target", "user", "signal", "timestamp", "at", "weight", "idempotency_key"])?;
            Ok(Columns::Signals {
                target: need(&["item", "target"])?,
                user: find(&["user"]),
                signal: need(&["signal"])?,
                at: find(&["timestamp", "at"]),
                weight: find(&["weight"]),
                key: find(&["idempotency_key"]),
            })
        }
        Kind::Relationship => {
            known(&["type", "from", "to", "weight"])?;
            Ok(Columns::Edges {
                ty: need(&["type"])?,
                from: need(&["from"])?,
                to: need(&["to"])?,
                weight: find(&["weight"]),
            })
        }
        Kind::Item | Kind::User | Kind::Creator => {
            let entity = kind.entity().ok_or("not an entity kind")?;
            let def = rules.schema.entity(entity);
            let mut fields = Vec::new();
            for (i, h) in header.iter().enumerate() {
                if *h == "key" {
                    continue;
                }
                let field =
                    def.field(h).ok_or_else(|| format!("column {h:?} is not a field of {entity} in the schema"))?;
                fields.push((i, field.clone()));
            }
            Ok(Columns::Entities { kind: entity, key: need(&["key"])?, fields })
        }
    }
}

fn csv(b: &mut Builder<'_>, input: Box<dyn BufRead + Send>) -> Result<Result<(), String>, Gone> {
    let job = b.job;
    let mark = Arc::new(AtomicU64::new(0));
    // The csv reader reads ahead by up to its buffer, so the cap allows
    // that much more: a record longer than the cap always fails, one
    // shorter by the buffer never does.
    let capped = Capped { inner: input, max: (job.max_record + CSV_BUFFER) as u64, passed: 0, mark: Arc::clone(&mark) };
    let mut reader =
        csv::ReaderBuilder::new().has_headers(false).flexible(true).buffer_capacity(CSV_BUFFER).from_reader(capped);
    let mut record = csv::ByteRecord::new();
    let failed = |e: csv::Error, line: u64| -> String {
        let too_long = match e.kind() {
            csv::ErrorKind::Io(io) => {
                io.get_ref().is_some_and(<dyn std::error::Error + Send + Sync>::is::<RecordTooLong>)
            }
            _ => false,
        };
        if too_long {
            format!(
                "{}:{}: a record longer than {} bytes (--max-record-bytes); stopped reading the file",
                job.name, line, job.max_record
            )
        } else {
            format!("{}: after line {line}: {e}", job.name)
        }
    };
    match reader.read_byte_record(&mut record) {
        Ok(true) => {}
        Ok(false) => return Ok(Ok(())),
        Err(e) => return Ok(Err(failed(e, 1))),
    }
    let header = match record.iter().map(std::str::from_utf8).collect::<Result<Vec<_>, _>>() {
        // A byte-order mark before the first name is not part of it.
        Ok(h) => h.iter().map(|s| s.trim_start_matches('\u{feff}').trim().to_owned()).collect::<Vec<_>>(),
        Err(_) => return Ok(Err(format!("{}:1: the header is not valid UTF-8", job.name))),
    };
    let header_refs: Vec<&str> = header.iter().map(String::as_str).collect();
    let columns = match columns(&header_refs, &job.rules) {
        Ok(c) => c,
        Err(e) => return Ok(Err(format!("{}:1: {e}", job.name))),
    };
    loop {
        mark.store(reader.position().byte(), Ordering::Relaxed);
        let line_before = reader.position().line();
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => return Ok(Ok(())),
            Err(e) => return Ok(Err(failed(e, line_before))),
        }
        let n = record.position().map_or(line_before, csv::Position::line);
        if n <= job.skip_through {
            continue;
        }
        if record.len() != header.len() {
            if record.len() == 1 && record.get(0).is_some_and(<[u8]>::is_empty) {
                b.advance(n)?;
                continue;
            }
            b.reject(n, format!("{} columns, but the header has {}", record.len(), header.len()))?;
            continue;
        }
        let mut cells: Vec<&str> = Vec::with_capacity(header.len());
        let mut utf8 = true;
        for (i, cell) in record.iter().enumerate() {
            if let Ok(s) = std::str::from_utf8(cell) {
                cells.push(s);
            } else {
                b.reject(n, format!("column {:?} is not valid UTF-8", header[i]))?;
                utf8 = false;
                break;
            }
        }
        if !utf8 {
            continue;
        }
        match csv_row(&columns, &cells, &job.rules) {
            Ok(row) => b.push(n, row, record.as_slice().len())?,
            Err(reason) => b.reject(n, reason)?,
        }
    }
}

fn csv_row(columns: &Columns, cells: &[&str], rules: &Rules) -> Result<Row, String> {
    let opt = |i: Option<usize>| i.map(|i| cells[i]).filter(|c| !c.is_empty());
    match columns {
        Columns::Signals { target, user, signal, at, weight, key } => {
            let at = opt(*at).map(rows::time_cell).transpose()?;
            let weight = opt(*weight).map(|w| rows::f64_cell(w, "weight")).transpose()?;
            Ok(Row::Signal(rules.signal(cells[*signal], cells[*target], opt(*user), at, weight, opt(*key))?))
        }
        Columns::Edges { ty, from, to, weight } => {
            let weight = opt(*weight).map(|w| rows::f64_cell(w, "weight")).transpose()?;
            rules.edge(cells[*ty], cells[*from], cells[*to], weight)
        }
        Columns::Entities { kind, key, fields } => {
            let mut map = Map::new();
            for (i, field) in fields {
                if !cells[*i].is_empty() {
                    map.insert(field.name.clone(), rows::cell_value(field, cells[*i])?);
                }
            }
            rules.entity(*kind, cells[*key], &Value::Object(map))
        }
    }
}

/// The name shown for an input in messages.
pub(crate) fn shown(path: &Path) -> String {
    path.display().to_string()
}
