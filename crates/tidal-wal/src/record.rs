//! Log records: what the log stores, and their byte encoding.
//!
//! Each record is `tag u8 | version u8 | partition u64 | body_len u32 | body`,
//! little-endian; the body layout per tag is in `docs/wal-format.md`. Decoding
//! is strict: an unknown tag or version, a wrong body length or a
//! non-canonical byte is an error, never a guess.
//!
//! A signal event that carries an [`IdempotencyKey`] is written under its own
//! tag (7): the signal body of tag 1 followed by the length-prefixed key, so
//! logs without keys keep their exact bytes. Decoded, it is the same
//! [`RecordBody::Signal`] as an unkeyed event, with [`Record::key`] set:
//! every reader that handles signal events handles keyed ones unchanged.

use std::sync::Arc;

use tidal_schema::codec::{ByteReader, ByteWriter, DecodeError};
use tidal_schema::limits::MAX_KEY_BYTES;
use tidal_schema::{EdgeTypeId, EntityId, EntityKind, SignalId, Timestamp};

use crate::error::{Result, WalError};

/// Bytes before a record's body.
pub const RECORD_HEADER_LEN: usize = 14;
/// The record format version this build writes and reads.
pub const RECORD_VERSION: u8 = 1;
/// Where the body length sits in a record header.
const BODY_LEN_AT: usize = 1 + 1 + 8;

const TAG_SIGNAL: u8 = 1;
const TAG_ENTITY_WRITE: u8 = 2;
const TAG_ENTITY_DELETE: u8 = 3;
const TAG_EDGE_WRITE: u8 = 4;
const TAG_EDGE_DELETE: u8 = 5;
const TAG_SCHEMA: u8 = 6;
/// A signal event with an idempotency key: the tag-1 body, then the key.
const TAG_SIGNAL_KEYED: u8 = 7;
/// An entity's key: the application's string name of an id.
const TAG_KEY_NAME: u8 = 8;

const SIGNAL_BODY: usize = SignalEvent::ENCODED_LEN;
const ENTITY_DELETE_BODY: usize = 1 + 8;
const EDGE_WRITE_BODY: usize = 4 + 8 + 8 + 8 + 8;
const EDGE_DELETE_BODY: usize = 4 + 8 + 8 + 8;

/// The longest [`IdempotencyKey`], in bytes.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 128;

/// A caller's name for one signal event — a Kafka producer's message id, a
/// Stripe-style request key — stored in the log with the event. With
/// [`DedupMode::Key`](crate::DedupMode) or [`DedupMode::Content`](crate::DedupMode),
/// a second event carrying a key already written within the dedup window is
/// a duplicate, whatever its content; past the window the key is no longer
/// recognised. Keys are 1 to [`MAX_IDEMPOTENCY_KEY_LEN`] arbitrary bytes,
/// compared byte for byte, in one namespace across all signals.
///
/// Cloning shares the bytes.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(Arc<[u8]>);

impl IdempotencyKey {
    /// A key of `bytes`; [`WalError::InvalidRecord`] when it is empty or
    /// longer than [`MAX_IDEMPOTENCY_KEY_LEN`].
    pub fn new(bytes: impl AsRef<[u8]>) -> Result<Self> {
        let bytes = bytes.as_ref();
        if bytes.is_empty() || bytes.len() > MAX_IDEMPOTENCY_KEY_LEN {
            return Err(WalError::InvalidRecord {
                reason: format!(
                    "an idempotency key of {} bytes; keys are 1 to {MAX_IDEMPOTENCY_KEY_LEN} bytes",
                    bytes.len()
                ),
            });
        }
        Ok(Self(bytes.into()))
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match std::str::from_utf8(&self.0) {
            Ok(text) => write!(f, "IdempotencyKey({text:?})"),
            Err(_) => write!(f, "IdempotencyKey({:02x?})", &self.0),
        }
    }
}

/// The shard-routing key every record carries. By default it is the id of the
/// entity the record is about (the item of a signal, the source of an edge),
/// so a partitioned log can send all of one entity's records to one shard.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartitionKey(pub u64);

/// One engagement event: `signal` happened to `item`, by `user` if known.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SignalEvent {
    /// Which signal type.
    pub signal: SignalId,
    /// The entity the signal is about (usually an item).
    pub item: EntityId,
    /// Who produced it, if known.
    pub user: Option<EntityId>,
    /// Its weight (finite).
    pub weight: f64,
    /// When it happened.
    pub timestamp: Timestamp,
}

impl SignalEvent {
    /// Bytes of an encoded event.
    pub const ENCODED_LEN: usize = 4 + 8 + 1 + 8 + 8 + 8;

    /// Appends the event: `signal u32 | item u64 | has_user u8 | user u64
    /// (0 when there is none) | weight f64 | timestamp u64`, little-endian.
    /// It is the body of a signal record, and other formats that store
    /// signal events (the event archive) reuse it.
    #[inline]
    pub fn encode(&self, w: &mut ByteWriter<'_>) {
        w.u32(self.signal.0);
        w.u64(self.item.0);
        w.u8(u8::from(self.user.is_some()));
        w.u64(self.user.map_or(0, |u| u.0));
        w.f64(self.weight);
        w.u64(self.timestamp.as_nanos());
    }

    /// Reads an event written by [`encode`](Self::encode), refusing a
    /// non-canonical user field (a flag other than 0 or 1, or a user
    /// without the flag). Allocates nothing.
    #[inline]
    pub fn decode(r: &mut ByteReader<'_>) -> Result<Self, DecodeError> {
        let signal = SignalId(r.u32()?);
        let item = EntityId(r.u64()?);
        let at = r.offset();
        let user = match (r.u8()?, r.u64()?) {
            (0, 0) => None,
            (1, user) => Some(EntityId(user)),
            _ => return Err(DecodeError::new(at, "non-canonical user field")),
        };
        Ok(Self { signal, item, user, weight: r.f64()?, timestamp: Timestamp::from_nanos(r.u64()?) })
    }
}

/// What a record says.
#[derive(Clone, Debug, PartialEq)]
pub enum RecordBody {
    /// An engagement event.
    Signal(SignalEvent),
    /// An entity's fields, encoded by the storage layer, replacing any previous version.
    EntityWrite {
        /// The entity's kind.
        kind: EntityKind,
        /// Its id.
        id: EntityId,
        /// The encoded fields (opaque to the log).
        fields: Vec<u8>,
    },
    /// An entity removed.
    EntityDelete {
        /// The entity's kind.
        kind: EntityKind,
        /// Its id.
        id: EntityId,
    },
    /// A relationship edge added or re-weighted.
    EdgeWrite {
        /// The edge type.
        edge: EdgeTypeId,
        /// Source entity.
        from: EntityId,
        /// Target entity.
        to: EntityId,
        /// Weight (finite).
        weight: f64,
        /// When.
        timestamp: Timestamp,
    },
    /// A relationship edge removed.
    EdgeDelete {
        /// The edge type.
        edge: EdgeTypeId,
        /// Source entity.
        from: EntityId,
        /// Target entity.
        to: EntityId,
        /// When.
        timestamp: Timestamp,
    },
    /// The application's string key of an entity id, written once, with
    /// the first write that names the entity by it.
    KeyName {
        /// The id the key hashes to.
        id: EntityId,
        /// The key: 1 to [`MAX_KEY_BYTES`](tidal_schema::limits::MAX_KEY_BYTES)
        /// bytes of UTF-8.
        name: String,
    },
    /// A new schema version (encoded by the caller, e.g. as JSON).
    SchemaChange {
        /// The schema's version number.
        version: u64,
        /// The encoded schema.
        schema: Vec<u8>,
    },
}

/// A log record: a body, the partition key it is routed by, and for a
/// signal event an optional [`IdempotencyKey`].
///
/// ```
/// use tidal_schema::{EntityId, SignalId, Timestamp};
/// use tidal_wal::{Record, SignalEvent};
///
/// let event = SignalEvent { signal: SignalId::for_name("view"), item: EntityId(7), user: Some(EntityId(3)), weight: 1.0, timestamp: Timestamp::from_secs(1_700_000_000) };
/// let record = Record::signal(event);
/// assert_eq!(record.partition.0, 7); // routed by item
/// let bytes = record.encode_to_vec();
/// let (decoded, used) = Record::decode(&bytes).unwrap();
/// assert_eq!((decoded, used), (record, bytes.len()));
/// ```
#[derive(Clone, Debug)]
pub struct Record {
    /// Shard-routing key.
    pub partition: PartitionKey,
    /// The content.
    pub body: RecordBody,
    /// The signal event's idempotency key. Only [`Record::keyed_signal`]
    /// sets it, so only signal events carry one.
    key: Option<IdempotencyKey>,
    /// Set by [`Record::arrival_signal`]; not stored in the log.
    unique: bool,
}

impl PartialEq for Record {
    /// Records are equal when they log the same bytes: `unique` is an
    /// instruction to the dedup window, not content.
    fn eq(&self, other: &Self) -> bool {
        self.partition == other.partition && self.body == other.body && self.key == other.key
    }
}

impl Record {
    /// A signal event, partitioned by its item.
    pub fn signal(event: SignalEvent) -> Self {
        Self { partition: PartitionKey(event.item.0), body: RecordBody::Signal(event), key: None, unique: false }
    }

    /// A signal event carrying an idempotency key, partitioned by its item.
    ///
    /// ```
    /// use tidal_schema::{EntityId, SignalId, Timestamp};
    /// use tidal_wal::{IdempotencyKey, Record, SignalEvent};
    ///
    /// let event = SignalEvent { signal: SignalId::for_name("like"), item: EntityId(7), user: None, weight: 1.0, timestamp: Timestamp::from_secs(1_700_000_000) };
    /// let record = Record::keyed_signal(event, IdempotencyKey::new("order-1001").unwrap());
    /// let (decoded, _) = Record::decode(&record.encode_to_vec()).unwrap();
    /// assert_eq!(decoded.key().unwrap().as_bytes(), b"order-1001");
    /// assert_eq!(decoded, record);
    /// ```
    pub fn keyed_signal(event: SignalEvent, key: IdempotencyKey) -> Self {
        Self { key: Some(key), ..Self::signal(event) }
    }

    /// A keyless signal event whose time the caller assigned on arrival,
    /// never the same nanosecond twice: it cannot be a duplicate, so the
    /// dedup window neither checks nor remembers it, keeping the window's
    /// memory for events that can be. Logged exactly as
    /// [`Record::signal`] (after a restart the window, rebuilt from the
    /// log, holds it like any other until it expires).
    pub fn arrival_signal(event: SignalEvent) -> Self {
        Self { unique: true, ..Self::signal(event) }
    }

    /// Whether this is an [`arrival_signal`](Self::arrival_signal).
    pub const fn is_unique(&self) -> bool {
        self.unique
    }

    /// An entity write, partitioned by the entity.
    pub fn entity_write(kind: EntityKind, id: EntityId, fields: Vec<u8>) -> Self {
        Self {
            partition: PartitionKey(id.0),
            body: RecordBody::EntityWrite { kind, id, fields },
            key: None,
            unique: false,
        }
    }

    /// An entity delete, partitioned by the entity.
    pub fn entity_delete(kind: EntityKind, id: EntityId) -> Self {
        Self { partition: PartitionKey(id.0), body: RecordBody::EntityDelete { kind, id }, key: None, unique: false }
    }

    /// An edge write, partitioned by its source.
    pub fn edge_write(edge: EdgeTypeId, from: EntityId, to: EntityId, weight: f64, timestamp: Timestamp) -> Self {
        Self {
            partition: PartitionKey(from.0),
            body: RecordBody::EdgeWrite { edge, from, to, weight, timestamp },
            key: None,
            unique: false,
        }
    }

    /// An edge delete, partitioned by its source.
    pub fn edge_delete(edge: EdgeTypeId, from: EntityId, to: EntityId, timestamp: Timestamp) -> Self {
        Self {
            partition: PartitionKey(from.0),
            body: RecordBody::EdgeDelete { edge, from, to, timestamp },
            key: None,
            unique: false,
        }
    }

    /// An entity's key, partitioned by the entity.
    pub fn key_name(id: EntityId, name: impl Into<String>) -> Self {
        Self {
            partition: PartitionKey(id.0),
            body: RecordBody::KeyName { id, name: name.into() },
            key: None,
            unique: false,
        }
    }

    /// A schema change, on partition 0 (every shard needs it).
    pub fn schema_change(version: u64, schema: Vec<u8>) -> Self {
        Self {
            partition: PartitionKey(0),
            body: RecordBody::SchemaChange { version, schema },
            key: None,
            unique: false,
        }
    }

    /// The same record routed by `partition` instead.
    #[must_use]
    pub fn with_partition(mut self, partition: PartitionKey) -> Self {
        self.partition = partition;
        self
    }

    /// The signal event's idempotency key, if it carries one.
    pub fn key(&self) -> Option<&IdempotencyKey> {
        // Only `keyed_signal` sets a key, but `body` is public: a key left
        // on a body replaced by another kind is not the record's (and
        // `validate` refuses it).
        self.key.as_ref().filter(|_| matches!(self.body, RecordBody::Signal(_)))
    }

    /// The encoded length in bytes.
    pub fn encoded_len(&self) -> usize {
        RECORD_HEADER_LEN + self.body_len()
    }

    fn body_len(&self) -> usize {
        match &self.body {
            RecordBody::Signal(_) => SIGNAL_BODY + self.key().map_or(0, |k| 1 + k.as_bytes().len()),
            RecordBody::EntityWrite { fields, .. } => ENTITY_DELETE_BODY + fields.len(),
            RecordBody::EntityDelete { .. } => ENTITY_DELETE_BODY,
            RecordBody::EdgeWrite { .. } => EDGE_WRITE_BODY,
            RecordBody::EdgeDelete { .. } => EDGE_DELETE_BODY,
            RecordBody::SchemaChange { schema, .. } => 8 + schema.len(),
            RecordBody::KeyName { name, .. } => 8 + name.len(),
        }
    }

    /// Checks the record can be logged: finite weights, an idempotency key
    /// only on a signal event, at most `max_record_size` encoded bytes.
    pub fn validate(&self, max_record_size: usize) -> Result<()> {
        let invalid = |reason: String| Err(WalError::InvalidRecord { reason });
        if self.key.is_some() && self.key().is_none() {
            return invalid("an idempotency key on a record that is not a signal event".to_owned());
        }
        match &self.body {
            RecordBody::Signal(e) if !e.weight.is_finite() => {
                return invalid(format!("signal weight {} is not finite", e.weight));
            }
            RecordBody::EdgeWrite { weight, .. } if !weight.is_finite() => {
                return invalid(format!("edge weight {weight} is not finite"));
            }
            RecordBody::KeyName { name, .. } if name.is_empty() || name.len() > MAX_KEY_BYTES => {
                return invalid(format!("an entity key of {} bytes; keys are 1 to {MAX_KEY_BYTES} bytes", name.len()));
            }
            _ => {}
        }
        let len = self.encoded_len();
        if len > max_record_size || u32::try_from(self.body_len()).is_err() {
            return invalid(format!("record of {len} bytes exceeds the limit of {max_record_size}"));
        }
        Ok(())
    }

    /// Appends the encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let key = self.key();
        let tag = match &self.body {
            RecordBody::Signal(_) if key.is_some() => TAG_SIGNAL_KEYED,
            RecordBody::Signal(_) => TAG_SIGNAL,
            RecordBody::EntityWrite { .. } => TAG_ENTITY_WRITE,
            RecordBody::EntityDelete { .. } => TAG_ENTITY_DELETE,
            RecordBody::EdgeWrite { .. } => TAG_EDGE_WRITE,
            RecordBody::EdgeDelete { .. } => TAG_EDGE_DELETE,
            RecordBody::SchemaChange { .. } => TAG_SCHEMA,
            RecordBody::KeyName { .. } => TAG_KEY_NAME,
        };
        out.reserve(self.encoded_len());
        let mut w = ByteWriter::new(out);
        w.u8(tag);
        w.u8(RECORD_VERSION);
        w.u64(self.partition.0);
        // Bodies over 4 GiB are rejected by `validate`; saturating keeps an
        // unvalidated giant record undecodable rather than silently wrapped.
        w.len_u32_saturating(self.body_len());
        match &self.body {
            RecordBody::Signal(e) => {
                e.encode(&mut w);
                if let Some(key) = key {
                    // At most MAX_IDEMPOTENCY_KEY_LEN (128) bytes, by construction.
                    w.u8(u8::try_from(key.as_bytes().len()).unwrap_or(u8::MAX));
                    w.bytes(key.as_bytes());
                }
            }
            RecordBody::EntityWrite { kind, id, fields } => {
                w.u8(kind.tag());
                w.u64(id.0);
                w.bytes(fields);
            }
            RecordBody::EntityDelete { kind, id } => {
                w.u8(kind.tag());
                w.u64(id.0);
            }
            RecordBody::EdgeWrite { edge, from, to, weight, timestamp } => {
                w.u32(edge.0);
                w.u64(from.0);
                w.u64(to.0);
                w.f64(*weight);
                w.u64(timestamp.as_nanos());
            }
            RecordBody::EdgeDelete { edge, from, to, timestamp } => {
                w.u32(edge.0);
                w.u64(from.0);
                w.u64(to.0);
                w.u64(timestamp.as_nanos());
            }
            RecordBody::SchemaChange { version, schema } => {
                w.u64(*version);
                w.bytes(schema);
            }
            RecordBody::KeyName { id, name } => {
                w.u64(id.0);
                w.bytes(name.as_bytes());
            }
        }
    }

    /// The encoding as a new vector.
    pub fn encode_to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out
    }

    /// Checks that the front of `bytes` holds one well-formed record, with
    /// exactly the rules of [`decode`](Self::decode) but without building
    /// it, and returns its length. Recovery uses this to verify whole logs
    /// without allocating.
    pub fn check_encoded(bytes: &[u8]) -> Result<usize> {
        let mut r = ByteReader::new(bytes);
        let tag = r.u8()?;
        let version = r.u8()?;
        r.u64()?;
        let body_len = r.u32()? as usize;
        if !(TAG_SIGNAL..=TAG_KEY_NAME).contains(&tag) {
            return Err(WalError::UnknownRecordType { tag });
        }
        if version != RECORD_VERSION {
            return Err(WalError::UnsupportedVersion { what: "record", version: version.into() });
        }
        let mut body = r.sub(body_len)?;
        let expect = |expected: usize| {
            if body_len == expected {
                Ok(())
            } else {
                let reason = format!("record type {tag} has a {body_len}-byte body, expected {expected}");
                Err(DecodeError::new(BODY_LEN_AT, reason))
            }
        };
        match tag {
            TAG_SIGNAL => {
                expect(SIGNAL_BODY)?;
                SignalEvent::decode(&mut body)?;
            }
            TAG_SIGNAL_KEYED => {
                SignalEvent::decode(&mut body)?;
                // The key's own length prefix fixes the body's length.
                let key = key_bytes(&mut body)?;
                expect(SIGNAL_BODY + 1 + key.len())?;
            }
            TAG_ENTITY_WRITE | TAG_ENTITY_DELETE => {
                if tag == TAG_ENTITY_DELETE {
                    expect(ENTITY_DELETE_BODY)?;
                }
                kind(&mut body)?;
                body.u64()?;
            }
            TAG_EDGE_WRITE => expect(EDGE_WRITE_BODY)?,
            TAG_EDGE_DELETE => expect(EDGE_DELETE_BODY)?,
            TAG_KEY_NAME => {
                body.u64()?;
                key_name(&mut body)?;
            }
            _ => {
                body.u64()?;
            }
        }
        Ok(RECORD_HEADER_LEN + body_len)
    }

    /// Decodes one record from the front of `bytes`, returning it and the
    /// number of bytes it used.
    pub fn decode(bytes: &[u8]) -> Result<(Self, usize)> {
        // One set of rules: `check_encoded` validates, then the fields are read.
        let len = Self::check_encoded(bytes)?;
        let mut r = ByteReader::new(&bytes[..len]);
        let tag = r.u8()?;
        r.u8()?;
        let partition = PartitionKey(r.u64()?);
        r.u32()?;
        let mut key = None;
        let body = match tag {
            TAG_SIGNAL => RecordBody::Signal(SignalEvent::decode(&mut r)?),
            TAG_SIGNAL_KEYED => {
                let event = SignalEvent::decode(&mut r)?;
                key = Some(IdempotencyKey(key_bytes(&mut r)?.into()));
                RecordBody::Signal(event)
            }
            TAG_ENTITY_WRITE => {
                let kind = kind(&mut r)?;
                let id = EntityId(r.u64()?);
                RecordBody::EntityWrite { kind, id, fields: r.rest().to_vec() }
            }
            TAG_ENTITY_DELETE => RecordBody::EntityDelete { kind: kind(&mut r)?, id: EntityId(r.u64()?) },
            TAG_EDGE_WRITE => RecordBody::EdgeWrite {
                edge: EdgeTypeId(r.u32()?),
                from: EntityId(r.u64()?),
                to: EntityId(r.u64()?),
                weight: r.f64()?,
                timestamp: Timestamp::from_nanos(r.u64()?),
            },
            TAG_EDGE_DELETE => RecordBody::EdgeDelete {
                edge: EdgeTypeId(r.u32()?),
                from: EntityId(r.u64()?),
                to: EntityId(r.u64()?),
                timestamp: Timestamp::from_nanos(r.u64()?),
            },
            TAG_KEY_NAME => RecordBody::KeyName { id: EntityId(r.u64()?), name: key_name(&mut r)?.to_owned() },
            _ => RecordBody::SchemaChange { version: r.u64()?, schema: r.rest().to_vec() },
        };
        Ok((Self { partition, body, key, unique: false }, len))
    }
}

/// The event and idempotency key bytes of an encoded signal record (tag 1
/// or 7) that [`Record::check_encoded`] accepted; `None` for any other
/// record. The dedup window is rebuilt through this on open without
/// building whole records.
pub(crate) fn encoded_signal(record: &[u8]) -> Option<(SignalEvent, Option<&[u8]>)> {
    let tag = *record.first()?;
    if tag != TAG_SIGNAL && tag != TAG_SIGNAL_KEYED {
        return None;
    }
    let mut r = ByteReader::new(record.get(RECORD_HEADER_LEN..)?);
    let event = SignalEvent::decode(&mut r).ok()?;
    let key = if tag == TAG_SIGNAL_KEYED { Some(key_bytes(&mut r).ok()?) } else { None };
    Some((event, key))
}

/// A keyed signal's key: its length `u8`, 1 to [`MAX_IDEMPOTENCY_KEY_LEN`],
/// then that many bytes.
#[inline]
fn key_bytes<'a>(r: &mut ByteReader<'a>) -> Result<&'a [u8], DecodeError> {
    let at = r.offset();
    let len = usize::from(r.u8()?);
    if len == 0 || len > MAX_IDEMPOTENCY_KEY_LEN {
        return Err(DecodeError::new(
            at,
            format!("idempotency key length {len}, expected 1 to {MAX_IDEMPOTENCY_KEY_LEN}"),
        ));
    }
    r.take(len)
}

/// An entity key: the rest of the body, 1 to [`MAX_KEY_BYTES`] bytes of
/// UTF-8.
#[inline]
fn key_name<'a>(r: &mut ByteReader<'a>) -> Result<&'a str, DecodeError> {
    let at = r.offset();
    let bytes = r.rest();
    if bytes.is_empty() || bytes.len() > MAX_KEY_BYTES {
        return Err(DecodeError::new(
            at,
            format!("entity key of {} bytes, expected 1 to {MAX_KEY_BYTES}", bytes.len()),
        ));
    }
    std::str::from_utf8(bytes).map_err(|e| DecodeError::new(at + e.valid_up_to(), "entity key is not UTF-8"))
}

/// An entity kind byte.
#[inline]
fn kind(r: &mut ByteReader<'_>) -> Result<EntityKind, DecodeError> {
    let at = r.offset();
    let tag = r.u8()?;
    EntityKind::from_tag(tag).ok_or_else(|| DecodeError::new(at, format!("unknown entity kind {tag}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_tag_and_version_are_typed_errors() {
        let mut bytes = Record::entity_delete(EntityKind::User, EntityId(1)).encode_to_vec();
        bytes[0] = 99;
        assert!(matches!(Record::decode(&bytes), Err(WalError::UnknownRecordType { tag: 99 })));
        bytes[0] = TAG_ENTITY_DELETE;
        bytes[1] = 2;
        assert!(matches!(Record::decode(&bytes), Err(WalError::UnsupportedVersion { what: "record", version: 2 })));
    }

    #[test]
    fn key_names_round_trip_and_bad_ones_are_refused() {
        let record = Record::key_name(EntityId(9), "item-17 ✓");
        assert_eq!(record.partition.0, 9);
        let bytes = record.encode_to_vec();
        assert_eq!(Record::decode(&bytes).unwrap(), (record, bytes.len()));
        assert!(Record::key_name(EntityId(9), "").validate(1 << 20).is_err());
        assert!(Record::key_name(EntityId(9), "k".repeat(513)).validate(1 << 20).is_err());
        assert!(Record::key_name(EntityId(9), "k".repeat(512)).validate(1 << 20).is_ok());
        // Encoded anyway (validation is the writer's), they do not decode.
        for bad in [Record::key_name(EntityId(9), "").encode_to_vec(), {
            let mut b = Record::key_name(EntityId(9), "ab").encode_to_vec();
            let at = b.len() - 1;
            b[at] = 0xff;
            b
        }] {
            assert!(matches!(Record::decode(&bad), Err(WalError::Malformed { .. })), "{bad:?}");
        }
    }

    #[test]
    fn validation_rejects_bad_weights_and_sizes() {
        let nan = Record::edge_write(EdgeTypeId(1), EntityId(1), EntityId(2), f64::NAN, Timestamp::EPOCH);
        assert!(matches!(nan.validate(1024), Err(WalError::InvalidRecord { .. })));
        let big = Record::entity_write(EntityKind::Item, EntityId(1), vec![0; 2048]);
        assert!(matches!(big.validate(1024), Err(WalError::InvalidRecord { .. })));
        assert!(big.validate(4096).is_ok());
    }

    fn event(user: Option<EntityId>, timestamp: Timestamp) -> SignalEvent {
        SignalEvent { signal: SignalId(1), item: EntityId(2), user, weight: 1.0, timestamp }
    }

    #[test]
    fn non_canonical_user_is_rejected() {
        let event = event(None, Timestamp::EPOCH);
        let mut bytes = Record::signal(event).encode_to_vec();
        bytes[RECORD_HEADER_LEN + 12] = 2; // has_user = 2
        assert!(matches!(Record::decode(&bytes), Err(WalError::Malformed { offset: 26, .. })));
    }

    #[test]
    fn keyed_signals_decode_strictly() {
        let event = event(Some(EntityId(3)), Timestamp::from_nanos(4));
        let bytes = Record::keyed_signal(event, IdempotencyKey::new("abc").unwrap()).encode_to_vec();
        let plain = Record::signal(event).encode_to_vec();
        assert_eq!((bytes[0], plain[0]), (TAG_SIGNAL_KEYED, TAG_SIGNAL));
        assert_eq!(bytes.len(), plain.len() + 1 + 3);
        // The body opens with the unkeyed body, then the key length and key.
        assert_eq!(bytes[RECORD_HEADER_LEN..plain.len()], plain[RECORD_HEADER_LEN..]);
        assert_eq!(&bytes[plain.len()..], b"\x03abc");
        let key_len_at = plain.len() as u64;
        for bad_len in [0, 129] {
            let mut b = bytes.clone();
            b[plain.len()] = bad_len;
            assert!(matches!(Record::decode(&b), Err(WalError::Malformed { offset, .. }) if offset == key_len_at));
        }
        // A key length that disagrees with the body length.
        let mut short = bytes.clone();
        short[plain.len()] = 2;
        assert!(matches!(Record::decode(&short), Err(WalError::Malformed { offset: 10, .. })));
        let mut long = bytes;
        long[plain.len()] = 4;
        assert!(matches!(Record::decode(&long), Err(WalError::Malformed { offset, .. }) if offset == key_len_at + 1));
    }

    #[test]
    fn only_signal_events_carry_keys() {
        let key = IdempotencyKey::new("k").unwrap();
        let event = event(None, Timestamp::EPOCH);
        let mut record = Record::keyed_signal(event, key);
        record.body = RecordBody::EntityDelete { kind: EntityKind::Item, id: EntityId(2) };
        assert_eq!(record.key(), None);
        assert!(matches!(record.validate(1024), Err(WalError::InvalidRecord { .. })));
        assert_eq!(record.encode_to_vec(), Record::entity_delete(EntityKind::Item, EntityId(2)).encode_to_vec());
    }

    #[test]
    fn malformed_records_say_where() {
        let bytes = Record::entity_delete(EntityKind::User, EntityId(1)).encode_to_vec();
        // Cut anywhere, the error is at the start of the field that was cut:
        // tag, version, partition, body length, body.
        for cut in 0..bytes.len() {
            let start = [0, 1, 2, 10, RECORD_HEADER_LEN].into_iter().filter(|s| *s <= cut).max().unwrap_or(0);
            let err = Record::check_encoded(&bytes[..cut]).expect_err("truncated");
            assert!(matches!(err, WalError::Malformed { offset, .. } if offset == start as u64), "cut {cut}: {err}");
        }
        let mut kind = bytes.clone();
        kind[RECORD_HEADER_LEN] = 99;
        assert!(matches!(Record::decode(&kind), Err(WalError::Malformed { offset: 14, .. })));
        let mut long = bytes;
        long[10] = 10; // body length 10 for a 9-byte entity delete
        long.push(0);
        assert!(matches!(Record::check_encoded(&long), Err(WalError::Malformed { offset: 10, .. })));
    }
}
