//! The write side of an import: each chunk's rows go to the facade in one
//! batch; a refused batch (the facade writes nothing when any row is
//! invalid) is split in halves and written recursively, so each bad row
//! costs O(log batch) appends and is reported with its line. Bad rows are
//! counted in file order, and the one past `--max-errors` stops the import
//! with every row before it written. Before every append the input's
//! progress record is rewritten (see `resume.rs`).

use tidal::{Ack, EntityId, Error, Key, RecordBody, TidalDB};

use super::parse::{Bad, Batch, Chunk};
use super::resume::{InFlight, Progress, Record};

/// Totals over an import.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Totals {
    /// Records written.
    pub(crate) written: u64,
    /// Signal events dropped as duplicates of ones already written.
    pub(crate) duplicates: u64,
    /// Bad rows reported.
    pub(crate) rejected: u64,
    /// Log appends made.
    pub(crate) appends: u64,
}

/// Writes one input's chunks.
pub(crate) struct Writer<'a> {
    pub(crate) db: &'a TidalDB,
    pub(crate) record: &'a Record,
    pub(crate) progress: Progress,
    pub(crate) max_errors: u64,
    /// Check rows, write nothing: rows that would be written count as written.
    pub(crate) dry_run: bool,
    /// The log's last sequence number as far as this import knows.
    pub(crate) last_seq: u64,
    pub(crate) totals: &'a mut Totals,
    /// Prints one bad row's reason (with its line).
    pub(crate) report: &'a dyn Fn(&Bad),
}

impl std::fmt::Debug for Writer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").field("progress", &self.progress).finish_non_exhaustive()
    }
}

/// A failure of the import itself (not of a row).
#[derive(Debug)]
pub(crate) enum Failure {
    /// The database failed (I/O, a poisoned log): stop.
    Db(Error),
    /// The progress record could not be written.
    Record(std::io::Error),
}

impl Writer<'_> {
    /// Writes one chunk; `Some(line)` when the bad row at `line` was one
    /// too many and the import must stop.
    pub(crate) fn chunk(&mut self, chunk: Chunk) -> Result<Option<u64>, Failure> {
        let before = self.totals.rejected;
        let mut found = Vec::new();
        let mut span = Span { lines: &chunk.lines, parse_bad: &chunk.rejected, before, found: &mut found };
        let mut stop = match &chunk.batch {
            Some(batch) => self.range(batch, &mut span, 0, chunk.lines.len())?,
            None => None,
        };
        if stop.is_none() {
            stop = self.cut(&span);
        }
        let mut bad: Vec<Bad> =
            chunk.rejected.into_iter().chain(found).filter(|b| stop.is_none_or(|s| b.line <= s)).collect();
        bad.sort_by_key(|b| b.line);
        for b in &bad {
            (self.report)(b);
        }
        self.totals.rejected += bad.len() as u64;
        if stop.is_none() {
            self.progress.done_through = self.progress.done_through.max(chunk.through);
        }
        Ok(stop)
    }

    /// The line of the chunk's bad row from parsing that is one too many,
    /// given the bad rows found so far: no row from there on is written.
    fn cut(&self, span: &Span<'_>) -> Option<u64> {
        let seen = span.before + span.found.len() as u64;
        let allowed = usize::try_from(self.max_errors.checked_sub(seen)?).unwrap_or(usize::MAX);
        span.parse_bad.get(allowed).map(|b| b.line)
    }

    /// Writes rows `lo..hi` of a span, halving on refusal.
    fn range(&mut self, batch: &Batch, span: &mut Span<'_>, lo: usize, hi: usize) -> Result<Option<u64>, Failure> {
        // Bad rows are counted in file order: rows past the one that is one
        // too many are never written.
        let hi = match self.cut(span) {
            Some(cut) => lo + span.lines[lo..hi].partition_point(|&l| l < cut),
            None => hi,
        };
        if lo >= hi {
            return Ok(None);
        }
        let last_line = span.lines[hi - 1];
        if self.dry_run {
            self.totals.written += (hi - lo) as u64;
            return Ok(None);
        }
        self.totals.appends += 1;
        let marks = marks_of_rows(self.db, batch, lo, hi);
        self.progress.in_flight = Some(InFlight { last_line, seq_before: self.last_seq, marks });
        self.record.store(&self.progress).map_err(Failure::Record)?;
        // Keys named by reference fields go in the same append as the rows.
        let written = write(self.db, batch, lo, hi);
        match written {
            Ok(ack) => {
                self.totals.written += ack.written as u64;
                self.totals.duplicates += ack.duplicates as u64;
                // The log's own figure: an ack's `last_seq` counts only the
                // rows, not the key records logged with them.
                self.last_seq = self.db.stats().map_err(Failure::Db)?.last_seq;
                self.progress.in_flight = None;
                self.progress.done_through = last_line;
                Ok(None)
            }
            Err(e) if refused(&e) => {
                // Nothing was written; the record must not keep a batch in
                // flight while key records may move the log on.
                if self.progress.in_flight.take().is_some() {
                    self.record.store(&self.progress).map_err(Failure::Record)?;
                }
                if hi - lo == 1 {
                    span.found.push(Bad { line: last_line, reason: super::parse::clip(e.to_string()) });
                    let earlier = span.parse_bad.iter().filter(|b| b.line < last_line).count();
                    let count = span.before + (span.found.len() + earlier) as u64;
                    if count > self.max_errors {
                        return Ok(Some(last_line));
                    }
                    self.progress.done_through = last_line;
                    return Ok(None);
                }
                let mid = lo + (hi - lo) / 2;
                if let Some(stop) = self.range(batch, span, lo, mid)? {
                    return Ok(Some(stop));
                }
                self.range(batch, span, mid, hi)
            }
            Err(e) => Err(Failure::Db(e)),
        }
    }
}

/// A chunk being written, with what counting its bad rows needs.
struct Span<'a> {
    lines: &'a [u64],
    /// The chunk's bad rows found while parsing.
    parse_bad: &'a [Bad],
    /// Bad rows before the chunk.
    before: u64,
    /// Bad rows found by writing so far.
    found: &'a mut Vec<Bad>,
}

fn write(db: &TidalDB, batch: &Batch, lo: usize, hi: usize) -> tidal::Result<Ack> {
    match batch {
        Batch::Entities(v, refs) => {
            let keys: Vec<Key> = refs[lo..hi].iter().flatten().cloned().collect();
            db.put_batch_referring(v[lo..hi].to_vec(), &keys)
        }
        Batch::Edges(ty, v) => db.relate_batch(ty, &v[lo..hi]),
        Batch::Signals(v) => db.signal_batch(&v[lo..hi]),
    }
}

/// Rows of a batch whose marks its progress record keeps: enough that one
/// of them is in the log if the batch landed (only a row with an
/// idempotency key can be dropped as a duplicate).
const MARKED_ROWS: usize = 16;

/// A row record's mark: a hash of what the log keeps of it — its kind and
/// ids (and a signal's signal, user and weight; not its time, which the
/// database gives a row without one).
fn mark(parts: &[u64]) -> u64 {
    let mut h = blake3::Hasher::new();
    for p in parts {
        h.update(&p.to_le_bytes());
    }
    let mut first = [0u8; 8];
    first.copy_from_slice(&h.finalize().as_bytes()[..8]);
    u64::from_le_bytes(first)
}

/// The marks of rows `lo..hi` (the first [`MARKED_ROWS`] of them).
fn marks_of_rows(db: &TidalDB, batch: &Batch, lo: usize, hi: usize) -> Vec<u64> {
    let hi = hi.min(lo + MARKED_ROWS);
    let schema = db.schema();
    match batch {
        Batch::Entities(v, _) => {
            v[lo..hi].iter().map(|(kind, key, _)| mark(&[1, kind_tag(*kind), key.id().0])).collect()
        }
        Batch::Edges(ty, v) => {
            let edge = schema.relationship(ty).map_or(0, |r| u64::from(r.id().0));
            v[lo..hi].iter().map(|(from, to, w)| mark(&[2, edge, from.id().0, to.id().0, w.to_bits()])).collect()
        }
        Batch::Signals(v) => v[lo..hi]
            .iter()
            .filter_map(|e| {
                let def = schema.signal(&e.signal)?;
                let user = e.user.as_ref().map_or(u64::MAX, |u| u.id().0);
                let weight = e.weight.unwrap_or(def.default_weight);
                Some(mark(&[3, u64::from(def.id().0), e.target.id().0, user, weight.to_bits()]))
            })
            .collect(),
    }
}

/// The mark of a log record, if it is a row record ([`marks_of_rows`]).
fn mark_of_record(body: &RecordBody) -> Option<u64> {
    match body {
        RecordBody::EntityWrite { kind, id, .. } => Some(mark(&[1, kind_tag(*kind), id.0])),
        RecordBody::EdgeWrite { edge, from, to, weight, .. } => {
            Some(mark(&[2, u64::from(edge.0), from.0, to.0, weight.to_bits()]))
        }
        RecordBody::Signal(e) => Some(mark(&[
            3,
            u64::from(e.signal.0),
            e.item.0,
            e.user.map_or(u64::MAX, |u: EntityId| u.0),
            e.weight.to_bits(),
        ])),
        _ => None,
    }
}

fn kind_tag(kind: tidal::EntityKind) -> u64 {
    u64::from(kind.tag())
}

/// Whether the in-flight batch `f` landed: the log's first row record after
/// `f.seq_before` is the batch's own (its first rows' marks) exactly when
/// it did — the directory was locked from `seq_before` to the append, so
/// any other writer's records come after the batch's.
///
/// # Errors
/// The log no longer holds the records after `seq_before` (a checkpoint
/// truncated it), so whether the batch landed cannot be told.
pub(crate) fn landed(db: &TidalDB, f: &InFlight) -> Result<bool, String> {
    let mut from = f.seq_before + 1;
    let last = db.stats().map_err(|e| e.to_string())?.last_seq;
    while from <= last {
        let records = db.read_log(from, 1024).map_err(|e| e.to_string())?;
        let Some(&(first, _)) = records.first() else { break };
        if first > from {
            return Err(format!(
                "the log no longer holds record {from} (it starts at {first}): whether the batch of lines through \
                 {} landed cannot be told; check the data and import the rest with --again on a file holding it",
                f.last_line
            ));
        }
        for (seq, record) in &records {
            if let Some(m) = mark_of_record(&record.body) {
                return Ok(f.marks.contains(&m));
            }
            from = seq + 1;
        }
    }
    Ok(false)
}

/// Whether the facade refused the batch for its content (nothing was
/// written), as opposed to failing.
fn refused(e: &Error) -> bool {
    matches!(
        e,
        Error::Schema(_)
            | Error::UnknownSignal(_)
            | Error::UnknownRelationship(_)
            | Error::Input(_)
            | Error::WrongKind { .. }
            | Error::InvalidArgument(_)
            | Error::InvalidKey { .. }
            | Error::KeyCollision { .. }
            | Error::Wal(tidal_wal::WalError::InvalidRecord { .. })
    )
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use tidal::{Config, Event, TidalDB};

    use super::*;

    /// 64 view events, unknown signals at rows 6, 41 and 42 (lines = rows).
    fn chunk() -> Chunk {
        let events = (1..=64u64)
            .map(|line| {
                let signal = if [6, 41, 42].contains(&line) { "zap" } else { "view" };
                Event::new(signal, format!("item-{line}")).at(tidal::Timestamp::from_secs(1_700_000_000 + line))
            })
            .collect();
        Chunk {
            batch: Some(Batch::Signals(events)),
            lines: (1..=64).collect(),
            rejected: Vec::new(),
            through: 64,
            read: 0,
        }
    }

    fn write_chunk(max_errors: u64) -> (Option<u64>, Totals, Vec<u64>, u64) {
        write_chunk_of(chunk(), max_errors)
    }

    fn write_chunk_of(chunk: Chunk, max_errors: u64) -> (Option<u64>, Totals, Vec<u64>, u64) {
        let dir = tempfile::tempdir().unwrap();
        let db = TidalDB::open(Config::new(dir.path().join("db"))).unwrap();
        let input = dir.path().join("in.csv");
        std::fs::write(&input, "x").unwrap();
        let record = Record::for_input(dir.path(), &input).unwrap();
        let reported = RefCell::new(Vec::new());
        let report = |b: &Bad| reported.borrow_mut().push(b.line);
        let mut totals = Totals::default();
        let mut w = Writer {
            db: &db,
            record: &record,
            progress: Progress::default(),
            max_errors,
            dry_run: false,
            last_seq: db.stats().unwrap().last_seq,
            totals: &mut totals,
            report: &report,
        };
        let stop = w.chunk(chunk).unwrap();
        let done = w.progress.done_through;
        (stop, totals, reported.into_inner(), done)
    }

    #[test]
    fn a_batch_in_flight_landed_only_if_the_log_holds_its_rows_right_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = TidalDB::open(Config::new(dir.path().join("db")).checkpoint_interval(None)).unwrap();
        let at = tidal::Timestamp::from_secs(1_700_000_000);
        let ours = Batch::Signals((0..20).map(|i| Event::new("view", format!("ours-{i}")).by("u").at(at)).collect());
        let seq_before = db.stats().unwrap().last_seq;
        let flight = InFlight { last_line: 20, seq_before, marks: marks_of_rows(&db, &ours, 0, 20) };
        assert_eq!(flight.marks.len(), MARKED_ROWS);
        // Nothing after it: not landed.
        assert_eq!(landed(&db, &flight), Ok(false));
        // Another writer's rows (new keys first): not landed, though the log moved.
        db.signal_batch(&[Event::new("view", "theirs").by("v").at(at)]).unwrap();
        assert_eq!(landed(&db, &flight), Ok(false));
        // The batch itself right after `seq_before` (its key records first): landed.
        let dir2 = tempfile::tempdir().unwrap();
        let db2 =
            TidalDB::open(Config::new(dir2.path().join("db")).checkpoint_interval(None).segment_size(4096)).unwrap();
        let seq_before = db2.stats().unwrap().last_seq;
        let flight = InFlight { last_line: 20, seq_before, marks: marks_of_rows(&db2, &ours, 0, 20) };
        let Batch::Signals(events) = &ours else { unreachable!() };
        db2.signal_batch(events).unwrap();
        db2.signal_batch(&[Event::new("view", "theirs").by("v").at(at)]).unwrap();
        assert_eq!(landed(&db2, &flight), Ok(true));
        // Entities and edges are marked too.
        let items = Batch::Entities(
            vec![(tidal::EntityKind::Item, Key::from("i"), tidal::schema::Fields::new())],
            vec![vec![]],
        );
        let seq_before = db2.stats().unwrap().last_seq;
        let flight = InFlight { last_line: 1, seq_before, marks: marks_of_rows(&db2, &items, 0, 1) };
        assert_eq!(landed(&db2, &flight), Ok(false));
        db2.put_batch(vec![(tidal::EntityKind::Item, Key::from("i"), tidal::schema::Fields::new())]).unwrap();
        assert_eq!(landed(&db2, &flight), Ok(true));
        // Truncated past the batch: it cannot be told, and it is not guessed.
        for i in 0..200 {
            db2.signal(Event::new("view", format!("later-{i}")).at(at)).unwrap();
        }
        db2.checkpoint().unwrap();
        assert!(db2.read_log(flight.seq_before + 1, 1).unwrap()[0].0 > flight.seq_before + 1, "not truncated");
        assert!(landed(&db2, &flight).unwrap_err().contains("cannot be told"));
    }

    #[test]
    fn a_refused_batch_is_bisected_down_to_its_bad_rows() {
        let (stop, totals, reported, done) = write_chunk(10);
        assert_eq!(stop, None);
        assert_eq!((totals.written, totals.rejected), (61, 3));
        assert_eq!(reported, vec![6, 41, 42]);
        assert_eq!(done, 64);
        // O(bad · log batch) appends: at most two per level per bad row.
        assert!(totals.appends <= 1 + 2 * 3 * 6, "{} appends", totals.appends);
    }

    #[test]
    fn bad_rows_from_parsing_and_writing_count_together_in_file_order() {
        // Row 6 is refused by the database; lines 20 and 30 were bad when
        // parsed (they carry no row). With one bad row allowed, line 20 is
        // one too many: rows before it are written, none after.
        let mut c = chunk();
        if let Some(Batch::Signals(events)) = &mut c.batch {
            events.remove(29);
            events.remove(19);
        }
        c.lines.retain(|l| ![20, 30].contains(l));
        c.rejected = vec![Bad { line: 20, reason: "parse".into() }, Bad { line: 30, reason: "parse".into() }];
        let (stop, totals, reported, done) = write_chunk_of(c, 1);
        assert_eq!(stop, Some(20));
        assert_eq!((totals.written, totals.rejected), (18, 2), "rows 1..=19 but row 6");
        assert_eq!(reported, vec![6, 20]);
        assert_eq!(done, 19);
    }

    #[test]
    fn the_bad_row_past_the_limit_stops_with_every_row_before_it_written() {
        let (stop, totals, reported, done) = write_chunk(1);
        assert_eq!(stop, Some(41));
        assert_eq!((totals.written, totals.rejected), (39, 2), "rows 1..=40 but row 6");
        assert_eq!(reported, vec![6, 41]);
        assert_eq!(done, 40);
    }
}
