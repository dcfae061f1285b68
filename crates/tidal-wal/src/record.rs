//! Log records: what the log stores, and their byte encoding.
//!
//! Each record is `tag u8 | version u8 | partition u64 | body_len u32 | body`,
//! little-endian; the body layout per tag is in `docs/wal-format.md`. Decoding
//! is strict: an unknown tag or version, a wrong body length or a
//! non-canonical byte is an error, never a guess.

use tidal_schema::{EdgeTypeId, EntityId, EntityKind, SignalId, Timestamp};

use crate::error::{Result, WalError};

/// Bytes before a record's body.
pub const RECORD_HEADER_LEN: usize = 14;
/// The record format version this build writes and reads.
pub const RECORD_VERSION: u8 = 1;

const TAG_SIGNAL: u8 = 1;
const TAG_ENTITY_WRITE: u8 = 2;
const TAG_ENTITY_DELETE: u8 = 3;
const TAG_EDGE_WRITE: u8 = 4;
const TAG_EDGE_DELETE: u8 = 5;
const TAG_SCHEMA: u8 = 6;

const SIGNAL_BODY: usize = 4 + 8 + 1 + 8 + 8 + 8;
const ENTITY_DELETE_BODY: usize = 1 + 8;
const EDGE_WRITE_BODY: usize = 4 + 8 + 8 + 8 + 8;
const EDGE_DELETE_BODY: usize = 4 + 8 + 8 + 8;

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
    /// A new schema version (encoded by the caller, e.g. as JSON).
    SchemaChange {
        /// The schema's version number.
        version: u64,
        /// The encoded schema.
        schema: Vec<u8>,
    },
}

/// A log record: a body and the partition key it is routed by.
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
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// Shard-routing key.
    pub partition: PartitionKey,
    /// The content.
    pub body: RecordBody,
}

impl Record {
    /// A signal event, partitioned by its item.
    pub fn signal(event: SignalEvent) -> Self {
        Self { partition: PartitionKey(event.item.0), body: RecordBody::Signal(event) }
    }

    /// An entity write, partitioned by the entity.
    pub fn entity_write(kind: EntityKind, id: EntityId, fields: Vec<u8>) -> Self {
        Self { partition: PartitionKey(id.0), body: RecordBody::EntityWrite { kind, id, fields } }
    }

    /// An entity delete, partitioned by the entity.
    pub fn entity_delete(kind: EntityKind, id: EntityId) -> Self {
        Self { partition: PartitionKey(id.0), body: RecordBody::EntityDelete { kind, id } }
    }

    /// An edge write, partitioned by its source.
    pub fn edge_write(edge: EdgeTypeId, from: EntityId, to: EntityId, weight: f64, timestamp: Timestamp) -> Self {
        Self { partition: PartitionKey(from.0), body: RecordBody::EdgeWrite { edge, from, to, weight, timestamp } }
    }

    /// An edge delete, partitioned by its source.
    pub fn edge_delete(edge: EdgeTypeId, from: EntityId, to: EntityId, timestamp: Timestamp) -> Self {
        Self { partition: PartitionKey(from.0), body: RecordBody::EdgeDelete { edge, from, to, timestamp } }
    }

    /// A schema change, on partition 0 (every shard needs it).
    pub fn schema_change(version: u64, schema: Vec<u8>) -> Self {
        Self { partition: PartitionKey(0), body: RecordBody::SchemaChange { version, schema } }
    }

    /// The same record routed by `partition` instead.
    #[must_use]
    pub fn with_partition(mut self, partition: PartitionKey) -> Self {
        self.partition = partition;
        self
    }

    /// The encoded length in bytes.
    pub fn encoded_len(&self) -> usize {
        RECORD_HEADER_LEN + self.body_len()
    }

    fn body_len(&self) -> usize {
        match &self.body {
            RecordBody::Signal(_) => SIGNAL_BODY,
            RecordBody::EntityWrite { fields, .. } => ENTITY_DELETE_BODY + fields.len(),
            RecordBody::EntityDelete { .. } => ENTITY_DELETE_BODY,
            RecordBody::EdgeWrite { .. } => EDGE_WRITE_BODY,
            RecordBody::EdgeDelete { .. } => EDGE_DELETE_BODY,
            RecordBody::SchemaChange { schema, .. } => 8 + schema.len(),
        }
    }

    /// Checks the record can be logged: finite weights, at most
    /// `max_record_size` encoded bytes.
    pub fn validate(&self, max_record_size: usize) -> Result<()> {
        let invalid = |reason: String| Err(WalError::InvalidRecord { reason });
        match &self.body {
            RecordBody::Signal(e) if !e.weight.is_finite() => {
                return invalid(format!("signal weight {} is not finite", e.weight));
            }
            RecordBody::EdgeWrite { weight, .. } if !weight.is_finite() => {
                return invalid(format!("edge weight {weight} is not finite"));
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
        let tag = match &self.body {
            RecordBody::Signal(_) => TAG_SIGNAL,
            RecordBody::EntityWrite { .. } => TAG_ENTITY_WRITE,
            RecordBody::EntityDelete { .. } => TAG_ENTITY_DELETE,
            RecordBody::EdgeWrite { .. } => TAG_EDGE_WRITE,
            RecordBody::EdgeDelete { .. } => TAG_EDGE_DELETE,
            RecordBody::SchemaChange { .. } => TAG_SCHEMA,
        };
        out.reserve(self.encoded_len());
        out.push(tag);
        out.push(RECORD_VERSION);
        out.extend_from_slice(&self.partition.0.to_le_bytes());
        // Bodies over 4 GiB are rejected by `validate`; saturating keeps an
        // unvalidated giant record undecodable rather than silently wrapped.
        out.extend_from_slice(&u32::try_from(self.body_len()).unwrap_or(u32::MAX).to_le_bytes());
        match &self.body {
            RecordBody::Signal(e) => {
                out.extend_from_slice(&e.signal.0.to_le_bytes());
                out.extend_from_slice(&e.item.0.to_le_bytes());
                out.push(u8::from(e.user.is_some()));
                out.extend_from_slice(&e.user.map_or(0, |u| u.0).to_le_bytes());
                out.extend_from_slice(&e.weight.to_le_bytes());
                out.extend_from_slice(&e.timestamp.as_nanos().to_le_bytes());
            }
            RecordBody::EntityWrite { kind, id, fields } => {
                out.push(kind.tag());
                out.extend_from_slice(&id.0.to_le_bytes());
                out.extend_from_slice(fields);
            }
            RecordBody::EntityDelete { kind, id } => {
                out.push(kind.tag());
                out.extend_from_slice(&id.0.to_le_bytes());
            }
            RecordBody::EdgeWrite { edge, from, to, weight, timestamp } => {
                out.extend_from_slice(&edge.0.to_le_bytes());
                out.extend_from_slice(&from.0.to_le_bytes());
                out.extend_from_slice(&to.0.to_le_bytes());
                out.extend_from_slice(&weight.to_le_bytes());
                out.extend_from_slice(&timestamp.as_nanos().to_le_bytes());
            }
            RecordBody::EdgeDelete { edge, from, to, timestamp } => {
                out.extend_from_slice(&edge.0.to_le_bytes());
                out.extend_from_slice(&from.0.to_le_bytes());
                out.extend_from_slice(&to.0.to_le_bytes());
                out.extend_from_slice(&timestamp.as_nanos().to_le_bytes());
            }
            RecordBody::SchemaChange { version, schema } => {
                out.extend_from_slice(&version.to_le_bytes());
                out.extend_from_slice(schema);
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
        let mut header = Reader(bytes);
        let tag = header.u8()?;
        let version = header.u8()?;
        header.u64()?;
        let body_len = usize::try_from(header.u32()?).map_err(|_| WalError::malformed("body length overflows"))?;
        if !(TAG_SIGNAL..=TAG_SCHEMA).contains(&tag) {
            return Err(WalError::UnknownRecordType { tag });
        }
        if version != RECORD_VERSION {
            return Err(WalError::UnsupportedVersion { what: "record", version: version.into() });
        }
        let body = header.take(body_len)?;
        let expect = |expected: usize| {
            if body_len == expected {
                Ok(())
            } else {
                Err(WalError::malformed(format!("record type {tag} has a {body_len}-byte body, expected {expected}")))
            }
        };
        match tag {
            TAG_SIGNAL => {
                expect(SIGNAL_BODY)?;
                let user = &body[13..21];
                match body[12] {
                    0 if user == [0; 8] => {}
                    1 => {}
                    _ => return Err(WalError::malformed("non-canonical user field")),
                }
            }
            TAG_ENTITY_WRITE | TAG_ENTITY_DELETE => {
                if tag == TAG_ENTITY_DELETE {
                    expect(ENTITY_DELETE_BODY)?;
                }
                Reader(body).kind()?;
                Reader(body).take(ENTITY_DELETE_BODY)?;
            }
            TAG_EDGE_WRITE => expect(EDGE_WRITE_BODY)?,
            TAG_EDGE_DELETE => expect(EDGE_DELETE_BODY)?,
            _ => {
                Reader(body).u64()?;
            }
        }
        Ok(RECORD_HEADER_LEN + body_len)
    }

    /// Decodes one record from the front of `bytes`, returning it and the
    /// number of bytes it used.
    pub fn decode(bytes: &[u8]) -> Result<(Self, usize)> {
        // One set of rules: `check_encoded` validates, then the fields are read.
        let len = Self::check_encoded(bytes)?;
        let mut header = Reader(&bytes[..len]);
        let tag = header.u8()?;
        header.u8()?;
        let partition = PartitionKey(header.u64()?);
        header.u32()?;
        let mut r = header;
        let body = match tag {
            TAG_SIGNAL => {
                let signal = SignalId(r.u32()?);
                let item = EntityId(r.u64()?);
                let has_user = r.u8()?;
                let user = EntityId(r.u64()?);
                RecordBody::Signal(SignalEvent {
                    signal,
                    item,
                    user: (has_user == 1).then_some(user),
                    weight: r.f64()?,
                    timestamp: Timestamp::from_nanos(r.u64()?),
                })
            }
            TAG_ENTITY_WRITE => {
                let kind = r.kind()?;
                let id = EntityId(r.u64()?);
                RecordBody::EntityWrite { kind, id, fields: r.0.to_vec() }
            }
            TAG_ENTITY_DELETE => RecordBody::EntityDelete { kind: r.kind()?, id: EntityId(r.u64()?) },
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
            _ => RecordBody::SchemaChange { version: r.u64()?, schema: r.0.to_vec() },
        };
        Ok((Self { partition, body }, len))
    }
}

/// A bounds-checked little-endian reader over a byte slice.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(WalError::malformed(format!("needed {n} bytes, {} left", self.0.len())));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_le_bytes(self.array()?))
    }

    fn kind(&mut self) -> Result<EntityKind> {
        let tag = self.u8()?;
        EntityKind::from_tag(tag).ok_or_else(|| WalError::malformed(format!("unknown entity kind {tag}")))
    }
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
    fn validation_rejects_bad_weights_and_sizes() {
        let nan = Record::edge_write(EdgeTypeId(1), EntityId(1), EntityId(2), f64::NAN, Timestamp::EPOCH);
        assert!(matches!(nan.validate(1024), Err(WalError::InvalidRecord { .. })));
        let big = Record::entity_write(EntityKind::Item, EntityId(1), vec![0; 2048]);
        assert!(matches!(big.validate(1024), Err(WalError::InvalidRecord { .. })));
        assert!(big.validate(4096).is_ok());
    }

    #[test]
    fn non_canonical_user_is_rejected() {
        let event = SignalEvent {
            signal: SignalId(1),
            item: EntityId(2),
            user: None,
            weight: 1.0,
            timestamp: Timestamp::EPOCH,
        };
        let mut bytes = Record::signal(event).encode_to_vec();
        bytes[RECORD_HEADER_LEN + 12] = 2; // has_user = 2
        assert!(matches!(Record::decode(&bytes), Err(WalError::Malformed { .. })));
    }
}
