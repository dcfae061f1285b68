//! [`ItemColumns`]: the items' ranking-relevant fields — references,
//! keywords, integers, floats, timestamps and booleans — in compact
//! in-memory columns, as Vespa's attributes and tantivy's fast fields keep
//! them, so that a query reads no document to filter or rank (DESIGN.md
//! §5, "read no more than needed"). Text, tags and vectors stay in the
//! entity store, read for the page a query returns.
//!
//! It is a view like every other: entity writes and deletes are applied in
//! log order, a checkpoint holds the columns, and recovery replays the log
//! after it. Its checkpoint names the columns it holds; when they no longer
//! match the schema (a field added, retyped or removed), or there is no
//! checkpoint, the columns are rebuilt from the entity store after recovery
//! (the store then reflects every record).
//!
//! Layout: an id → row map (one hash entry per item), and per column one
//! value per row — 8 bytes for numbers, timestamps and references with a
//! presence bit, 4 for a keyword's code into the column's dictionary, 1 for
//! a boolean. A deleted item's row is reused by the next new item. Reads
//! take a shared lock for a whole query's candidates; the writer takes it
//! exclusively once per batch of records.

use std::collections::HashMap;

use foldhash::fast::RandomState;
use parking_lot::{RwLock, RwLockReadGuard};
use tidal_schema::codec::{ByteReader, ByteWriter, DecodeError, Sink, StreamWriter};
use tidal_schema::{EntityId, EntityKind, FieldType, FieldValue, Fields, Schema, Timestamp};
use tidal_storage::{EntityStore, decode_fields};
use tidal_wal::{Record, RecordBody};

use crate::error::{MaterializeError, Result};
use crate::materializer::{Materializer, Scope, collect_checkpoint, stream_checkpoint};

/// The checkpoint format's version byte.
const VERSION: u8 = 1;
/// A keyword cell with no value.
const NO_CODE: u32 = u32::MAX;
/// A boolean cell with no value.
const NO_BOOL: u8 = 2;

/// What a column holds, by the schema type of its field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Keyword,
    Integer,
    Float,
    Timestamp,
    Bool,
    Reference,
}

impl Kind {
    fn of(t: &FieldType) -> Option<Kind> {
        Some(match t {
            FieldType::Keyword => Kind::Keyword,
            FieldType::Integer => Kind::Integer,
            FieldType::Float => Kind::Float,
            FieldType::Timestamp => Kind::Timestamp,
            FieldType::Bool => Kind::Bool,
            FieldType::Reference { .. } => Kind::Reference,
            _ => return None,
        })
    }

    const fn tag(self) -> u8 {
        match self {
            Kind::Keyword => 1,
            Kind::Integer => 2,
            Kind::Float => 3,
            Kind::Timestamp => 4,
            Kind::Bool => 5,
            Kind::Reference => 6,
        }
    }
}

/// One column's values, one per row.
#[derive(Debug)]
enum Values {
    /// Codes into `dict`; [`NO_CODE`] for none.
    Keyword { codes: Vec<u32>, dict: Vec<String>, lookup: HashMap<String, u32, RandomState> },
    /// 8-byte values (an `i64`, an `f64`'s bits, nanoseconds, an id) and a
    /// presence bit per row.
    Word { words: Vec<u64>, present: Vec<u64> },
    /// 0, 1, or [`NO_BOOL`].
    Bool(Vec<u8>),
}

#[derive(Debug)]
struct Column {
    name: String,
    kind: Kind,
    values: Values,
}

impl Column {
    fn new(name: String, kind: Kind) -> Self {
        let values = match kind {
            Kind::Keyword => Values::Keyword { codes: Vec::new(), dict: Vec::new(), lookup: HashMap::default() },
            Kind::Bool => Values::Bool(Vec::new()),
            _ => Values::Word { words: Vec::new(), present: Vec::new() },
        };
        Self { name, kind, values }
    }

    /// Grows to `rows` rows, new ones empty.
    fn grow(&mut self, rows: usize) {
        match &mut self.values {
            Values::Keyword { codes, .. } => codes.resize(rows, NO_CODE),
            Values::Word { words, present } => {
                words.resize(rows, 0);
                present.resize(rows.div_ceil(64), 0);
            }
            Values::Bool(b) => b.resize(rows, NO_BOOL),
        }
    }

    /// Sets row `row` from `value` (`None`, or a value of another type,
    /// clears it: the schema check upstream refuses those).
    fn set(&mut self, row: usize, value: Option<&FieldValue>) {
        match &mut self.values {
            Values::Keyword { codes, dict, lookup } => {
                codes[row] = match value {
                    Some(FieldValue::Keyword(s)) => {
                        if let Some(&c) = lookup.get(s.as_str()) {
                            c
                        } else {
                            let c = u32::try_from(dict.len()).unwrap_or(NO_CODE - 1);
                            dict.push(s.clone());
                            lookup.insert(s.clone(), c);
                            c
                        }
                    }
                    _ => NO_CODE,
                }
            }
            Values::Bool(b) => {
                b[row] = match value {
                    Some(FieldValue::Bool(v)) => u8::from(*v),
                    _ => NO_BOOL,
                }
            }
            Values::Word { words, present } => {
                let word = match (self.kind, value) {
                    (Kind::Integer, Some(FieldValue::Integer(v))) => Some(v.cast_unsigned()),
                    (Kind::Float, Some(FieldValue::Float(v))) => Some(v.to_bits()),
                    (Kind::Timestamp, Some(FieldValue::Timestamp(t))) => Some(t.as_nanos()),
                    (Kind::Reference, Some(FieldValue::Reference(id))) => Some(id.0),
                    _ => None,
                };
                words[row] = word.unwrap_or(0);
                let bit = 1u64 << (row % 64);
                if word.is_some() {
                    present[row / 64] |= bit;
                } else {
                    present[row / 64] &= !bit;
                }
            }
        }
    }

    fn get(&self, row: usize) -> Option<FieldValue> {
        match &self.values {
            Values::Keyword { codes, dict, .. } => {
                dict.get(usize::try_from(codes[row]).ok()?).map(|s| FieldValue::Keyword(s.clone()))
            }
            Values::Bool(b) => (b[row] != NO_BOOL).then(|| FieldValue::Bool(b[row] == 1)),
            Values::Word { words, present } => {
                if present[row / 64] & (1u64 << (row % 64)) == 0 {
                    return None;
                }
                let w = words[row];
                Some(match self.kind {
                    Kind::Integer => FieldValue::Integer(w.cast_signed()),
                    Kind::Float => FieldValue::Float(f64::from_bits(w)),
                    Kind::Timestamp => FieldValue::Timestamp(Timestamp::from_nanos(w)),
                    _ => FieldValue::Reference(EntityId(w)),
                })
            }
        }
    }

    fn bytes(&self) -> usize {
        match &self.values {
            Values::Keyword { codes, dict, .. } => {
                codes.capacity() * 4 + dict.iter().map(|s| 2 * s.len() + 64).sum::<usize>()
            }
            Values::Word { words, present } => (words.capacity() + present.capacity()) * 8,
            Values::Bool(b) => b.capacity(),
        }
    }
}

#[derive(Debug, Default)]
struct Table {
    /// Item id → row.
    rows: HashMap<u64, u32, RandomState>,
    /// Row → item id (meaningless for a free row).
    ids: Vec<u64>,
    /// Rows of deleted items, reused first.
    free: Vec<u32>,
    columns: Vec<Column>,
}

impl Table {
    fn put(&mut self, id: EntityId, fields: &Fields) {
        let row = if let Some(&row) = self.rows.get(&id.0) {
            row as usize
        } else {
            let row = if let Some(r) = self.free.pop() {
                r as usize
            } else {
                self.ids.push(id.0);
                let n = self.ids.len();
                for c in &mut self.columns {
                    c.grow(n);
                }
                n - 1
            };
            self.ids[row] = id.0;
            self.rows.insert(id.0, u32::try_from(row).unwrap_or(u32::MAX));
            row
        };
        for c in &mut self.columns {
            c.set(row, fields.get(&c.name));
        }
    }

    fn delete(&mut self, id: EntityId) {
        if let Some(row) = self.rows.remove(&id.0) {
            for c in &mut self.columns {
                c.set(row as usize, None);
            }
            self.free.push(row);
        }
    }
}

/// The items' ranking-relevant fields in memory (see the module docs).
#[derive(Debug)]
pub struct ItemColumns {
    table: RwLock<Table>,
}

/// The columns' names and types under `schema`, in declaration order.
fn spec(schema: &Schema) -> Vec<(String, Kind)> {
    schema.entity(EntityKind::Item).fields.iter().filter_map(|f| Kind::of(&f.ty).map(|k| (f.name.clone(), k))).collect()
}

impl ItemColumns {
    /// The view's name, under which its checkpoint is stored.
    pub const NAME: &'static str = "item_columns";

    /// Empty columns for `schema`'s item fields.
    pub fn new(schema: &Schema) -> Self {
        let columns = spec(schema).into_iter().map(|(name, kind)| Column::new(name, kind)).collect();
        Self { table: RwLock::new(Table { columns, ..Table::default() }) }
    }

    /// Columns filled from every item in `store`.
    ///
    /// # Errors
    /// The store failed to read.
    pub fn build(schema: &Schema, store: &EntityStore) -> Result<Self> {
        let columns = Self::new(schema);
        {
            let mut table = columns.table.write();
            for row in store.scan(EntityKind::Item)? {
                let (id, fields) = row?;
                table.put(id, &fields);
            }
        }
        Ok(columns)
    }

    /// Whether a checkpoint (its bytes after the 8-byte sequence header)
    /// can be restored under `schema` rather than rebuilt: it decodes, and
    /// no field it holds has changed type. Columns of fields added since
    /// start empty (stored items were written without them); those of
    /// fields removed are dropped.
    pub fn checkpoint_fits(schema: &Schema, bytes: &[u8]) -> bool {
        let mut r = ByteReader::new(bytes);
        let now = spec(schema);
        read_spec(&mut r)
            .is_ok_and(|held| held.iter().all(|(name, kind)| now.iter().all(|(n, k)| n != name || k == kind)))
    }

    /// Sets item `id`'s columns from `fields`, as applying its logged
    /// write does: for tools and tests that write an entity store directly.
    pub fn put(&self, id: EntityId, fields: &Fields) {
        self.table.write().put(id, fields);
    }

    /// Removes item `id`, as applying its logged delete does.
    pub fn delete(&self, id: EntityId) {
        self.table.write().delete(id);
    }

    /// A shared read of the columns, for one query's candidates.
    pub fn read(&self) -> ColumnsRead<'_> {
        ColumnsRead { table: self.table.read() }
    }

    /// Items held.
    pub fn len(&self) -> usize {
        self.table.read().rows.len()
    }

    /// Whether no item is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Approximate heap bytes.
    pub fn bytes(&self) -> usize {
        let t = self.table.read();
        t.rows.capacity() * 13
            + t.ids.capacity() * 8
            + t.free.capacity() * 4
            + t.columns.iter().map(Column::bytes).sum::<usize>()
    }
}

/// A shared read of [`ItemColumns`].
#[derive(Debug)]
pub struct ColumnsRead<'a> {
    table: RwLockReadGuard<'a, Table>,
}

impl ColumnsRead<'_> {
    /// Whether `name` is held in a column.
    pub fn holds(&self, name: &str) -> bool {
        self.table.columns.iter().any(|c| c.name == name)
    }

    /// Whether item `id` exists.
    pub fn contains(&self, id: EntityId) -> bool {
        self.table.rows.contains_key(&id.0)
    }

    /// The named fields of item `id` that have values (names not held in a
    /// column are left out); `None` if the item does not exist.
    pub fn fields(&self, id: EntityId, names: &[&str]) -> Option<Fields> {
        let row = *self.table.rows.get(&id.0)? as usize;
        let mut out = Fields::new();
        for c in &self.table.columns {
            if names.contains(&c.name.as_str())
                && let Some(v) = c.get(row)
            {
                out.insert(c.name.clone(), v);
            }
        }
        Some(out)
    }
}

/// A length past its field's width: a name or keyword longer than the
/// schema and input bounds allow, so never met in practice.
fn too_long(e: &impl std::fmt::Display) -> MaterializeError {
    MaterializeError::corrupt_checkpoint(ItemColumns::NAME, DecodeError::new(0, format!("cannot encode: {e}")))
}

fn write_spec(w: &mut ByteWriter<'_>, columns: &[Column]) -> Result<()> {
    w.len_u16(columns.len()).map_err(|e| too_long(&e))?;
    for c in columns {
        w.u8(c.kind.tag());
        w.len_u16(c.name.len()).map_err(|e| too_long(&e))?;
        w.bytes(c.name.as_bytes());
    }
    Ok(())
}

fn read_spec(r: &mut ByteReader<'_>) -> std::result::Result<Vec<(String, Kind)>, DecodeError> {
    let version = r.u8()?;
    if version != VERSION {
        return Err(r.error(format!("unknown item-columns format {version}")));
    }
    let n = r.u16()?;
    let mut out = Vec::with_capacity(usize::from(n.min(1024)));
    for _ in 0..n {
        let tag = r.u8()?;
        let kind = [Kind::Keyword, Kind::Integer, Kind::Float, Kind::Timestamp, Kind::Bool, Kind::Reference]
            .into_iter()
            .find(|k| k.tag() == tag)
            .ok_or_else(|| r.error(format!("unknown column type {tag}")))?;
        let len = r.u16()?;
        let name = std::str::from_utf8(r.take(usize::from(len))?).map_err(|_| r.error("a column name not UTF-8"))?;
        out.push((name.to_owned(), kind));
    }
    Ok(out)
}

impl Materializer for ItemColumns {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn scope(&self) -> Scope {
        Scope::Entities
    }

    fn on_event(&self, seq: u64, record: &Record) -> Result<()> {
        self.on_batch(&[(seq, record)])
    }

    fn on_batch(&self, records: &[(u64, &Record)]) -> Result<()> {
        // Decode every put first: a bad one changes nothing.
        let mut ops: Vec<(EntityId, Option<Fields>)> = Vec::new();
        for (_, record) in records {
            match &record.body {
                RecordBody::EntityWrite { kind: EntityKind::Item, id, fields } => {
                    ops.push((*id, Some(decode_fields(fields, &id.0.to_be_bytes())?)));
                }
                RecordBody::EntityDelete { kind: EntityKind::Item, id } => ops.push((*id, None)),
                _ => {}
            }
        }
        if ops.is_empty() {
            return Ok(());
        }
        let mut table = self.table.write();
        for (id, fields) in ops {
            match fields {
                Some(f) => table.put(id, &f),
                None => table.delete(id),
            }
        }
        Ok(())
    }

    fn checkpoint(&self) -> Result<Vec<u8>> {
        collect_checkpoint(|sink| self.write_checkpoint(sink))
    }

    fn checkpoint_into(&self, out: &mut dyn std::io::Write) -> Result<()> {
        stream_checkpoint(out, |sink| self.write_checkpoint(sink))
    }

    fn restore(&self, bytes: &[u8]) -> Result<()> {
        self.restore_from(bytes)
    }
}

impl ItemColumns {
    /// The checkpoint's bytes, handed to `sink` a MiB or so at a time.
    fn write_checkpoint(&self, sink: Sink<'_, MaterializeError>) -> Result<()> {
        let t = self.table.read();
        let mut s = StreamWriter::new(sink);
        let mut w = s.writer();
        w.u8(VERSION);
        write_spec(&mut w, &t.columns)?;
        w.len_u64(t.rows.len());
        for (&id, &row) in &t.rows {
            s.flush_if_full()?;
            let mut w = s.writer();
            w.u64(id);
            for c in &t.columns {
                match c.get(row as usize) {
                    // Text, tags and vectors are never held.
                    None | Some(FieldValue::Text(_) | FieldValue::Tags(_) | FieldValue::Vector(_)) => w.u8(0),
                    Some(FieldValue::Keyword(s)) => {
                        w.u8(1);
                        w.bytes_u32(s.as_bytes()).map_err(|e| too_long(&e))?;
                    }
                    Some(FieldValue::Bool(b)) => w.u8(if b { 2 } else { 1 }),
                    Some(FieldValue::Integer(v)) => {
                        w.u8(1);
                        w.i64(v);
                    }
                    Some(FieldValue::Float(v)) => {
                        w.u8(1);
                        w.f64(v);
                    }
                    Some(FieldValue::Timestamp(t)) => {
                        w.u8(1);
                        w.u64(t.as_nanos());
                    }
                    Some(FieldValue::Reference(id)) => {
                        w.u8(1);
                        w.u64(id.0);
                    }
                }
            }
        }
        s.finish()
    }

    fn restore_from(&self, bytes: &[u8]) -> Result<()> {
        let corrupt = |e: DecodeError| MaterializeError::corrupt_checkpoint(Self::NAME, e);
        let mut r = ByteReader::new(bytes);
        let spec = read_spec(&mut r).map_err(corrupt)?;
        // Rows go into this view's own columns (the schema's): a held
        // column the schema dropped is skipped, one it added stays empty.
        let mut table = Table {
            columns: self.table.read().columns.iter().map(|c| Column::new(c.name.clone(), c.kind)).collect(),
            ..Table::default()
        };
        let rows = r.u64().map_err(corrupt)?;
        // Each row takes at least 8 bytes: a count beyond that is damage,
        // not a reason to reserve memory.
        if rows > (r.remaining() / 8) as u64 {
            return Err(corrupt(r.error(format!("{rows} rows in {} bytes", r.remaining()))));
        }
        let n = usize::try_from(rows).unwrap_or(0);
        table.rows.reserve(n);
        table.ids.reserve(n);
        // Where each held column goes in this view's columns (`None`: a
        // field the schema no longer has).
        let to: Vec<Option<usize>> =
            spec.iter().map(|(name, _)| table.columns.iter().position(|c| &c.name == name)).collect();
        for c in &mut table.columns {
            c.grow(n);
        }
        for row in 0..n {
            let id = r.u64().map_err(corrupt)?;
            if table.rows.insert(id, u32::try_from(row).unwrap_or(u32::MAX)).is_some() {
                return Err(corrupt(r.error(format!("item {id} twice"))));
            }
            table.ids.push(id);
            for ((_, kind), to) in spec.iter().zip(&to) {
                let tag = r.u8().map_err(corrupt)?;
                if tag == 0 {
                    continue;
                }
                let value = match kind {
                    Kind::Bool => FieldValue::Bool(tag == 2),
                    Kind::Keyword => {
                        let len = r.u32().map_err(corrupt)?;
                        let s = r.take(len as usize).map_err(corrupt)?;
                        FieldValue::Keyword(
                            std::str::from_utf8(s).map_err(|_| corrupt(r.error("a keyword not UTF-8")))?.to_owned(),
                        )
                    }
                    Kind::Integer => FieldValue::Integer(r.i64().map_err(corrupt)?),
                    Kind::Float => FieldValue::Float(r.f64().map_err(corrupt)?),
                    Kind::Timestamp => FieldValue::Timestamp(Timestamp::from_nanos(r.u64().map_err(corrupt)?)),
                    Kind::Reference => FieldValue::Reference(EntityId(r.u64().map_err(corrupt)?)),
                };
                if let Some(&i) = to.as_ref() {
                    table.columns[i].set(row, Some(&value));
                }
            }
        }
        if r.remaining() != 0 {
            return Err(corrupt(r.error("trailing bytes")));
        }
        *self.table.write() = table;
        Ok(())
    }
}

#[cfg(test)]
// Reason: small whole numbers.
#[allow(clippy::cast_precision_loss, clippy::cast_possible_wrap, clippy::cast_possible_truncation)]
mod tests {
    use tidal_schema::{FieldDef, Schema};

    use super::*;

    fn schema(extra: Option<FieldDef>) -> Schema {
        let mut b = Schema::builder()
            .version(1)
            .field(EntityKind::Item, FieldDef::text("title"))
            .field(EntityKind::Item, FieldDef::keyword("format"))
            .field(EntityKind::Item, FieldDef::reference("creator", EntityKind::Creator))
            .field(EntityKind::Item, FieldDef::timestamp("published_at"))
            .field(EntityKind::Item, FieldDef::float("duration"))
            .field(EntityKind::Item, FieldDef::integer("rank"))
            .field(EntityKind::Item, FieldDef::bool("pinned"));
        if let Some(f) = extra {
            b = b.field(EntityKind::Item, f);
        }
        b.build().unwrap()
    }

    fn item(n: u64) -> Fields {
        let mut f = Fields::new();
        f.insert("title".into(), FieldValue::Text(format!("Item {n}")));
        f.insert("format".into(), FieldValue::Keyword(["short", "long"][(n % 2) as usize].into()));
        if !n.is_multiple_of(3) {
            f.insert("creator".into(), FieldValue::Reference(EntityId(n % 7)));
        }
        f.insert("published_at".into(), FieldValue::Timestamp(Timestamp::from_secs(1_700_000_000 + n)));
        f.insert("duration".into(), FieldValue::Float(n as f64 / 3.0));
        f.insert("rank".into(), FieldValue::Integer(-(n as i64)));
        f.insert("pinned".into(), FieldValue::Bool(n.is_multiple_of(4)));
        f
    }

    /// `item(n)` as the columns give it back: every field but the text.
    fn held(n: u64) -> Fields {
        let mut f = item(n);
        f.remove("title");
        f
    }

    const ALL: [&str; 7] = ["title", "format", "creator", "published_at", "duration", "rank", "pinned"];

    #[test]
    fn puts_deletes_and_reads_back_every_held_type() {
        let c = ItemColumns::new(&schema(None));
        for n in 0..100 {
            c.put(EntityId(n), &item(n));
        }
        let r = c.read();
        assert!(r.holds("format") && r.holds("creator") && !r.holds("title"));
        for n in 0..100 {
            assert_eq!(r.fields(EntityId(n), &ALL), Some(held(n)), "item {n}");
        }
        assert_eq!(r.fields(EntityId(5), &["format"]).unwrap().len(), 1, "only the names asked for");
        assert_eq!(r.fields(EntityId(1000), &ALL), None);
        drop(r);
        // A put replaces every field: one left out is cleared.
        c.put(EntityId(1), &Fields::new());
        assert_eq!(c.read().fields(EntityId(1), &ALL), Some(Fields::new()));
        // A deleted item is gone, and its row is reused without leaking.
        c.delete(EntityId(2));
        assert!(!c.read().contains(EntityId(2)));
        c.put(EntityId(500), &item(3));
        assert_eq!(c.read().fields(EntityId(500), &ALL), Some(held(3)));
        assert_eq!(c.len(), 100);
        c.delete(EntityId(2));
        assert_eq!(c.len(), 100, "deleting twice changes nothing");
    }

    #[test]
    fn a_checkpoint_restores_the_same_columns_and_fits_a_schema_that_adds_or_drops_fields() {
        let c = ItemColumns::new(&schema(None));
        for n in 0..50 {
            c.put(EntityId(n * 11), &item(n));
        }
        c.delete(EntityId(11));
        let bytes = c.checkpoint().unwrap();
        let back = ItemColumns::new(&schema(None));
        back.restore(&bytes).unwrap();
        assert_eq!(back.len(), 49);
        for n in 2..50 {
            assert_eq!(back.read().fields(EntityId(n * 11), &ALL), Some(held(n)));
        }
        // A field added since starts empty; one dropped is left out.
        let wider = schema(Some(FieldDef::keyword("lang")));
        assert!(ItemColumns::checkpoint_fits(&wider, &bytes));
        let w = ItemColumns::new(&wider);
        w.restore(&bytes).unwrap();
        assert_eq!(w.read().fields(EntityId(22), &ALL), Some(held(2)));
        assert!(w.read().holds("lang"));
        let narrower =
            Schema::builder().version(1).field(EntityKind::Item, FieldDef::keyword("format")).build().unwrap();
        assert!(ItemColumns::checkpoint_fits(&narrower, &bytes));
        let n = ItemColumns::new(&narrower);
        n.restore(&bytes).unwrap();
        assert_eq!(n.read().fields(EntityId(33), &ALL).unwrap().len(), 1);
        // A field whose type changed does not fit: the columns are rebuilt.
        let retyped =
            Schema::builder().version(1).field(EntityKind::Item, FieldDef::integer("format")).build().unwrap();
        assert!(!ItemColumns::checkpoint_fits(&retyped, &bytes));
    }

    #[test]
    fn damaged_checkpoints_are_errors_never_panics_or_huge_allocations() {
        let c = ItemColumns::new(&schema(None));
        for n in 0..20 {
            c.put(EntityId(n), &item(n));
        }
        let bytes = c.checkpoint().unwrap();
        for len in 0..bytes.len() {
            let back = ItemColumns::new(&schema(None));
            assert!(back.restore(&bytes[..len]).is_err(), "a checkpoint cut at {len} bytes");
        }
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x5a;
            // Either an error or some columns: never a panic.
            let _ = ItemColumns::new(&schema(None)).restore(&b);
        }
        // A row count far beyond the bytes is refused before reserving.
        let mut b = bytes.clone();
        let spec_len = {
            let mut r = ByteReader::new(&bytes);
            read_spec(&mut r).unwrap();
            bytes.len() - r.remaining()
        };
        b[spec_len..spec_len + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(ItemColumns::new(&schema(None)).restore(&b).is_err());
        assert!(c.bytes() > 0);
    }
}
