//! The compact, versioned binary form of an entity's fields.
//!
//! ```text
//! version u8 (1) | field count u16 | per field: name_len u8, name, type u8, value
//! text/keyword: len u32, UTF-8 | tags: count u16, then (len u32, UTF-8)*
//! integer i64 | float f64 | timestamp u64 ns | bool u8 (0/1)
//! vector: dimension u32, f32* | reference u64
//! ```
//!
//! Little-endian. Fields are stored by name, in strictly increasing name
//! order (decoding enforces it, so every value has one encoding), which
//! survives schema changes that add, remove or reorder fields. Decoding is
//! strict and allocation-bounded: every length is checked against the bytes
//! that remain before anything is allocated.

use tidal_schema::{EntityId, FieldValue, Fields, Timestamp};

use crate::error::{Result, StorageError};

const VERSION: u8 = 1;

/// Encodes fields. Lengths past what the format holds (more than 65,535
/// fields or tags, names over 255 bytes, strings or vectors over 4 Gi) are
/// [`StorageError::InvalidInput`]; fields checked against a schema never are.
pub fn encode_fields(fields: &Fields) -> Result<Vec<u8>> {
    let too_long = |what: &str| StorageError::InvalidInput(format!("{what} too long for the entity encoding"));
    let len8 = |n: usize| u8::try_from(n).map_err(|_| too_long("field name"));
    let len16 = |n: usize| u16::try_from(n).map_err(|_| too_long("field or tag list"));
    let len32 = |n: usize| u32::try_from(n).map_err(|_| too_long("string or vector"));
    let mut out = Vec::with_capacity(64);
    out.push(VERSION);
    // Entities have at most 256 fields (schema limit), names at most 64 bytes.
    out.extend_from_slice(&len16(fields.len())?.to_le_bytes());
    for (name, value) in fields {
        out.push(len8(name.len())?);
        out.extend_from_slice(name.as_bytes());
        match value {
            FieldValue::Text(s) => put_str(&mut out, 1, s, len32(s.len())?),
            FieldValue::Keyword(s) => put_str(&mut out, 2, s, len32(s.len())?),
            FieldValue::Tags(tags) => {
                out.push(3);
                out.extend_from_slice(&len16(tags.len())?.to_le_bytes());
                for t in tags {
                    out.extend_from_slice(&len32(t.len())?.to_le_bytes());
                    out.extend_from_slice(t.as_bytes());
                }
            }
            FieldValue::Integer(i) => {
                out.push(4);
                out.extend_from_slice(&i.to_le_bytes());
            }
            FieldValue::Float(x) => {
                out.push(5);
                out.extend_from_slice(&x.to_le_bytes());
            }
            FieldValue::Timestamp(t) => {
                out.push(6);
                out.extend_from_slice(&t.as_nanos().to_le_bytes());
            }
            FieldValue::Bool(b) => {
                out.push(7);
                out.push(u8::from(*b));
            }
            FieldValue::Vector(v) => {
                out.push(8);
                out.extend_from_slice(&len32(v.len())?.to_le_bytes());
                for x in v {
                    out.extend_from_slice(&x.to_le_bytes());
                }
            }
            FieldValue::Reference(id) => {
                out.push(9);
                out.extend_from_slice(&id.0.to_le_bytes());
            }
        }
    }
    Ok(out)
}

fn put_str(out: &mut Vec<u8>, tag: u8, s: &str, len: u32) {
    out.push(tag);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// Decodes fields encoded by [`encode_fields`]. `key` only labels errors.
pub fn decode_fields(bytes: &[u8], key: &[u8]) -> Result<Fields> {
    let mut r = Reader { bytes, key };
    let version = r.u8()?;
    if version != VERSION {
        return Err(r.fail(format!("unknown entity encoding version {version}")));
    }
    let count = r.u16()?;
    let mut fields = Fields::new();
    for _ in 0..count {
        let name_len = usize::from(r.u8()?);
        let name = r.string(name_len)?;
        let value = match r.u8()? {
            1 => {
                let n = r.len32()?;
                FieldValue::Text(r.string(n)?)
            }
            2 => {
                let n = r.len32()?;
                FieldValue::Keyword(r.string(n)?)
            }
            3 => {
                let n = usize::from(r.u16()?);
                // Each tag takes at least 4 bytes: bound the allocation by what remains.
                let mut tags = Vec::with_capacity(n.min(r.bytes.len() / 4));
                for _ in 0..n {
                    let len = r.len32()?;
                    tags.push(r.string(len)?);
                }
                FieldValue::Tags(tags)
            }
            4 => FieldValue::Integer(i64::from_le_bytes(r.array()?)),
            5 => FieldValue::Float(f64::from_le_bytes(r.array()?)),
            6 => FieldValue::Timestamp(Timestamp::from_nanos(u64::from_le_bytes(r.array()?))),
            7 => match r.u8()? {
                0 => FieldValue::Bool(false),
                1 => FieldValue::Bool(true),
                b => return Err(r.fail(format!("bool byte {b}"))),
            },
            8 => {
                let dim = r.len32()?;
                let raw = r.take(dim.checked_mul(4).ok_or_else(|| r.fail("vector too long"))?)?;
                FieldValue::Vector(raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
            }
            9 => FieldValue::Reference(EntityId(u64::from_le_bytes(r.array()?))),
            t => return Err(r.fail(format!("unknown value type {t}"))),
        };
        // Names are stored in strictly increasing order (the encoding is
        // canonical), which also rules out duplicates.
        if fields.last_key_value().is_some_and(|(last, _)| *last >= name) {
            return Err(r.fail(format!("field {name:?} is out of order or repeated")));
        }
        fields.insert(name, value);
    }
    if !r.bytes.is_empty() {
        return Err(r.fail(format!("{} trailing bytes", r.bytes.len())));
    }
    Ok(fields)
}

struct Reader<'a> {
    bytes: &'a [u8],
    key: &'a [u8],
}

impl<'a> Reader<'a> {
    fn fail(&self, reason: impl Into<String>) -> StorageError {
        StorageError::corrupt("entity", self.key, reason)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.bytes.len() < n {
            return Err(self.fail(format!("needed {n} bytes, {} left", self.bytes.len())));
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
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

    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    fn len32(&mut self) -> Result<usize> {
        usize::try_from(u32::from_le_bytes(self.array()?)).map_err(|_| self.fail("length overflows"))
    }

    fn string(&mut self, n: usize) -> Result<String> {
        let raw = self.take(n)?;
        String::from_utf8(raw.to_vec()).map_err(|_| self.fail("invalid UTF-8"))
    }
}
