//! Unit tests of the shared byte codec: round trips of every type, errors
//! at the right offset for every truncation, length prefixes refused before
//! anything is allocated, and trailing bytes refused.

use proptest::prelude::*;

use super::*;

/// One value of every kind the codec writes.
#[derive(Clone, Debug)]
enum Value {
    U8(u8),
    U16(u16),
    U32(u32),
    U64(u64),
    I64(i64),
    F32(f32),
    F64(f64),
    Bytes(Vec<u8>),
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<u8>().prop_map(Value::U8),
        any::<u16>().prop_map(Value::U16),
        any::<u32>().prop_map(Value::U32),
        any::<u64>().prop_map(Value::U64),
        any::<i64>().prop_map(Value::I64),
        any::<u32>().prop_map(|b| Value::F32(f32::from_bits(b))),
        any::<u64>().prop_map(|b| Value::F64(f64::from_bits(b))),
        proptest::collection::vec(any::<u8>(), 0..20).prop_map(Value::Bytes),
    ]
}

/// Writes `values`, returning the bytes and where each value starts.
fn write(values: &[Value]) -> (Vec<u8>, Vec<usize>) {
    let mut out = Vec::new();
    let mut w = ByteWriter::new(&mut out);
    let mut starts = Vec::new();
    for v in values {
        starts.push(w.position());
        match v {
            Value::U8(x) => w.u8(*x),
            Value::U16(x) => w.u16(*x),
            Value::U32(x) => w.u32(*x),
            Value::U64(x) => w.u64(*x),
            Value::I64(x) => w.i64(*x),
            Value::F32(x) => w.f32(*x),
            Value::F64(x) => w.f64(*x),
            Value::Bytes(x) => w.bytes_u32(x).expect("short"),
        }
    }
    (out, starts)
}

/// Reads one value of the same kind as `like`, checking it equals it bit for bit.
fn read_like(r: &mut ByteReader<'_>, like: &Value) -> Result<(), DecodeError> {
    let same = match like {
        Value::U8(x) => r.u8()? == *x,
        Value::U16(x) => r.u16()? == *x,
        Value::U32(x) => r.u32()? == *x,
        Value::U64(x) => r.u64()? == *x,
        Value::I64(x) => r.i64()? == *x,
        Value::F32(x) => r.f32()?.to_bits() == x.to_bits(),
        Value::F64(x) => r.f64()?.to_bits() == x.to_bits(),
        Value::Bytes(x) => r.bytes_u32()? == x.as_slice(),
    };
    assert!(same, "{like:?} did not read back");
    Ok(())
}

proptest! {
    #[test]
    fn every_type_round_trips(values in proptest::collection::vec(value(), 0..40)) {
        let (bytes, starts) = write(&values);
        let mut r = ByteReader::new(&bytes);
        for (v, start) in values.iter().zip(&starts) {
            prop_assert_eq!(r.offset(), *start);
            read_like(&mut r, v).expect("round trip");
        }
        prop_assert!(r.is_empty());
        prop_assert_eq!(r.finish(), Ok(()));
    }

    /// Cut anywhere, the bytes fail at the start of the value that no
    /// longer fits, never earlier and never with a panic.
    #[test]
    fn truncation_at_every_offset_fails_where_the_cut_value_starts(
        values in proptest::collection::vec(value(), 1..20),
    ) {
        let (bytes, starts) = write(&values);
        for cut in 0..bytes.len() {
            let mut r = ByteReader::new(&bytes[..cut]);
            let err = values.iter().try_for_each(|v| read_like(&mut r, v)).expect_err("truncated input decoded");
            let expected = starts.iter().rev().find(|s| **s <= cut).copied().unwrap_or(0);
            prop_assert_eq!(err.offset, expected as u64, "cut at {}: {}", cut, err);
        }
    }

    /// Whatever the prefix says, an accepted count of items fits in what
    /// remains, so sizing an allocation by it is bounded by the input.
    #[test]
    fn accepted_lengths_fit_in_the_input(bytes in proptest::collection::vec(any::<u8>(), 0..64), item in 0usize..64) {
        for read in [ByteReader::len_u16, ByteReader::len_u32, ByteReader::len_u64] {
            let mut r = ByteReader::new(&bytes);
            if let Ok(n) = read(&mut r, item) {
                prop_assert!(n * item.max(1) <= r.remaining());
            }
        }
    }
}

#[test]
fn a_length_larger_than_what_remains_is_refused_at_the_prefix() {
    let mut bytes = vec![0xAA; 3];
    bytes.extend_from_slice(&u32::MAX.to_le_bytes());
    bytes.extend_from_slice(&[0; 10]);
    let mut r = ByteReader::new(&bytes);
    r.take(3).expect("prefix");
    let err = r.len_u32(8).expect_err("4 Gi items of 8 bytes in 10 bytes");
    assert_eq!(err.offset, 3);
    assert!(err.reason.contains("10 left"), "{err}");
    assert_eq!(ByteReader::new(&u64::MAX.to_le_bytes()).len_u64(1).expect_err("huge").offset, 0);
    // Exactly enough is accepted.
    let mut exact = 2u16.to_le_bytes().to_vec();
    exact.extend_from_slice(&[0; 8]);
    assert_eq!(ByteReader::new(&exact).len_u16(4), Ok(2));
    assert!(ByteReader::new(&exact).len_u16(5).is_err());
}

#[test]
fn trailing_bytes_are_refused_where_they_start() {
    let bytes = [1, 0, 9, 9];
    let mut r = ByteReader::new(&bytes);
    assert_eq!(r.u16(), Ok(1));
    let err = r.finish().expect_err("two bytes left");
    assert_eq!((err.offset, err.reason.as_str()), (2, "2 trailing bytes"));
    assert_eq!(err.to_string(), "at byte 2: 2 trailing bytes");
    assert_eq!(r.rest(), &[9, 9]);
    assert_eq!(r.finish(), Ok(()));
}

#[test]
fn a_sub_reader_reports_offsets_in_the_whole_input() {
    let bytes = [0u8; 10];
    let mut r = ByteReader::new(&bytes);
    r.take(2).expect("head");
    let mut body = r.sub(4).expect("body");
    assert_eq!(r.offset(), 6);
    body.u16().expect("u16");
    assert_eq!(body.offset(), 4);
    assert_eq!(body.u32().expect_err("2 left").offset, 4);
    assert_eq!(body.finish().expect_err("2 left").offset, 4);
    assert_eq!(r.sub(5).expect_err("4 left").offset, 6);
}

#[test]
fn text_must_be_utf8_and_the_error_points_at_the_bad_byte() {
    let bytes = b"ab\xffc";
    assert_eq!(ByteReader::new(bytes).str(2), Ok("ab"));
    assert_eq!(ByteReader::new(bytes).str(4).expect_err("not UTF-8").offset, 2);
}

#[test]
fn lengths_that_do_not_fit_their_prefix_write_nothing() {
    let mut out = Vec::new();
    let mut w = ByteWriter::new(&mut out);
    assert_eq!(w.len_u8(256), Err(LengthOverflow { len: 256, max: 255 }));
    assert_eq!(w.len_u16(65_536), Err(LengthOverflow { len: 65_536, max: 65_535 }));
    w.len_u8(255).expect("fits");
    w.len_u16(65_535).expect("fits");
    w.len_u32(7).expect("fits");
    w.len_u64(7);
    assert_eq!(out, [255, 255, 255, 7, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0]);
}
