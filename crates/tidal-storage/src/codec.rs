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

use tidal_schema::codec::{ByteReader, ByteWriter, DecodeError, LengthOverflow};
use tidal_schema::{EntityId, FieldValue, Fields, Timestamp};

use crate::error::{Result, StorageError};

const VERSION: u8 = 1;

/// Encodes fields. Lengths past what the format holds (more than 65,535
/// fields or tags, names over 255 bytes, strings or vectors over 4 Gi) are
/// [`StorageError::InvalidInput`]; fields checked against a schema never are.
pub fn encode_fields(fields: &Fields) -> Result<Vec<u8>> {
    let too_long = |what: &'static str| {
        move |_: LengthOverflow| StorageError::InvalidInput(format!("{what} too long for the entity encoding"))
    };
    let list = too_long("field or tag list");
    let long = too_long("string or vector");
    let mut out = Vec::with_capacity(64);
    let mut w = ByteWriter::new(&mut out);
    w.u8(VERSION);
    // Entities have at most 256 fields (schema limit), names at most 64 bytes.
    w.len_u16(fields.len()).map_err(list)?;
    for (name, value) in fields {
        w.len_u8(name.len()).map_err(too_long("field name"))?;
        w.bytes(name.as_bytes());
        match value {
            FieldValue::Text(s) => {
                w.u8(1);
                w.bytes_u32(s.as_bytes()).map_err(long)?;
            }
            FieldValue::Keyword(s) => {
                w.u8(2);
                w.bytes_u32(s.as_bytes()).map_err(long)?;
            }
            FieldValue::Tags(tags) => {
                w.u8(3);
                w.len_u16(tags.len()).map_err(list)?;
                for t in tags {
                    w.bytes_u32(t.as_bytes()).map_err(long)?;
                }
            }
            FieldValue::Integer(i) => {
                w.u8(4);
                w.i64(*i);
            }
            FieldValue::Float(x) => {
                w.u8(5);
                w.f64(*x);
            }
            FieldValue::Timestamp(t) => {
                w.u8(6);
                w.u64(t.as_nanos());
            }
            FieldValue::Bool(b) => {
                w.u8(7);
                w.u8(u8::from(*b));
            }
            FieldValue::Vector(v) => {
                w.u8(8);
                w.len_u32(v.len()).map_err(long)?;
                for x in v {
                    w.f32(*x);
                }
            }
            FieldValue::Reference(id) => {
                w.u8(9);
                w.u64(id.0);
            }
        }
    }
    Ok(out)
}

/// Decodes fields encoded by [`encode_fields`]. `key` only labels errors.
pub fn decode_fields(bytes: &[u8], key: &[u8]) -> Result<Fields> {
    read_fields(&mut ByteReader::new(bytes)).map_err(|e| StorageError::corrupt_at("entity", key, e))
}

fn read_fields(r: &mut ByteReader<'_>) -> Result<Fields, DecodeError> {
    let version = r.u8()?;
    if version != VERSION {
        return Err(DecodeError::new(0, format!("unknown entity encoding version {version}")));
    }
    let count = r.u16()?;
    let mut fields = Fields::new();
    for _ in 0..count {
        let at = r.offset();
        let name_len = usize::from(r.u8()?);
        let name = r.str(name_len)?.to_owned();
        let value = read_value(r)?;
        // Names are stored in strictly increasing order (the encoding is
        // canonical), which also rules out duplicates.
        if fields.last_key_value().is_some_and(|(last, _)| *last >= name) {
            return Err(DecodeError::new(at, format!("field {name:?} is out of order or repeated")));
        }
        fields.insert(name, value);
    }
    r.finish()?;
    Ok(fields)
}

/// One value: its type byte, then its encoding.
fn read_value(r: &mut ByteReader<'_>) -> Result<FieldValue, DecodeError> {
    let at = r.offset();
    Ok(match r.u8()? {
        1 => FieldValue::Text(read_str(r)?),
        2 => FieldValue::Keyword(read_str(r)?),
        3 => {
            // Each tag takes at least its 4-byte length.
            let n = r.len_u16(4)?;
            let mut tags = Vec::with_capacity(n);
            for _ in 0..n {
                tags.push(read_str(r)?);
            }
            FieldValue::Tags(tags)
        }
        4 => FieldValue::Integer(r.i64()?),
        5 => FieldValue::Float(r.f64()?),
        6 => FieldValue::Timestamp(Timestamp::from_nanos(r.u64()?)),
        7 => match r.u8()? {
            0 => FieldValue::Bool(false),
            1 => FieldValue::Bool(true),
            b => return Err(DecodeError::new(at + 1, format!("bool byte {b}"))),
        },
        8 => {
            let dim = r.len_u32(4)?;
            let mut v = Vec::with_capacity(dim);
            for _ in 0..dim {
                v.push(r.f32()?);
            }
            FieldValue::Vector(v)
        }
        9 => FieldValue::Reference(EntityId(r.u64()?)),
        t => return Err(DecodeError::new(at, format!("unknown value type {t}"))),
    })
}

/// UTF-8 text behind a `u32` length.
fn read_str(r: &mut ByteReader<'_>) -> Result<String, DecodeError> {
    let n = r.len_u32(1)?;
    Ok(r.str(n)?.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Fields {
        let mut f = Fields::new();
        f.insert("a".into(), FieldValue::Tags(vec!["x".into(), "yz".into()]));
        f.insert("b".into(), FieldValue::Bool(true));
        f.insert("c".into(), FieldValue::Vector(vec![1.5, -0.0]));
        f
    }

    fn offset_of(bytes: &[u8]) -> u64 {
        match decode_fields(bytes, b"k") {
            Err(StorageError::Corruption { what: "entity", key, offset, .. }) if key == "6b" => offset,
            other => panic!("expected a corrupt entity, got {other:?}"),
        }
    }

    #[test]
    fn corruption_says_where() {
        let bytes = encode_fields(&fields()).expect("encode");
        assert_eq!(decode_fields(&bytes, b"k").expect("decode"), fields());
        // version u8 | count u16 | name_len u8 | "a" | type 3 | tags u16 | ...
        let mut hostile = bytes.clone();
        hostile[6..8].copy_from_slice(&u16::MAX.to_le_bytes());
        assert_eq!(offset_of(&hostile), 6, "a tag count larger than the value is refused at its prefix");
        let mut bool_byte = bytes.clone();
        let at = bytes.len() - 1 - 4 - 8 - 1 - 1 - 1;
        assert_eq!(bool_byte[at], 1);
        bool_byte[at] = 2;
        assert_eq!(offset_of(&bool_byte), at as u64);
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(offset_of(&trailing), bytes.len() as u64);
        for cut in 0..bytes.len() {
            assert!(offset_of(&bytes[..cut]) <= cut as u64, "cut at {cut}");
        }
    }
}
