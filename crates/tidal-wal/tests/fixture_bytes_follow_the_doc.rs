//! The committed format-1 fixtures (keyed signal events, tag 7, included)
//! decoded by hand, field by field, as
//! docs/wal-format.md lays them out — without the crate's decoder, so a
//! codec change that moves a byte fails here even if it still reads its
//! own output. If this test and the doc disagree, the bytes are the format:
//! fix the doc.

#![allow(clippy::unwrap_used)] // Reason: test helpers fail the test by panicking, with the error shown.

use std::path::{Path, PathBuf};

fn fixture(name: &str) -> Vec<u8> {
    let dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    std::fs::read(dir.join(name)).unwrap()
}

/// A signal or edge-type id as the doc derives it: BLAKE3 of the domain, a
/// zero byte and the name, its first four bytes read big-endian.
fn name_id(domain: &str, name: &str) -> u32 {
    let [a, b, c, d, ..] = *blake3::hash(&[domain.as_bytes(), &[0], name.as_bytes()].concat()).as_bytes();
    u32::from_be_bytes([a, b, c, d])
}

/// 2023-11-14 in ns since the epoch: every timestamp in the fixtures is
/// later, which tells nanoseconds from seconds or microseconds.
const NS_2023: u64 = 1_700_000_000 * 1_000_000_000;

/// Reads little-endian fields from the front of a byte slice.
struct Fields<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Fields<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0 }
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let field = &self.bytes[self.at..self.at + n];
        self.at += n;
        field
    }

    fn u8(&mut self) -> u8 {
        self.take(1)[0]
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.take(2).try_into().unwrap())
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take(4).try_into().unwrap())
    }

    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take(8).try_into().unwrap())
    }

    fn rest(&mut self) -> &'a [u8] {
        self.take(self.bytes.len() - self.at)
    }

    fn is_done(&self) -> bool {
        self.at == self.bytes.len()
    }
}

/// A record as the doc's "Record" and body tables describe it.
#[derive(Debug, PartialEq)]
enum Body {
    /// Tag 1.
    Signal { signal: u32, item: u64, has_user: u8, user: u64, weight: f64, timestamp: u64 },
    /// Tag 2.
    EntityWrite { kind: u8, id: u64, fields: Vec<u8> },
    /// Tag 3.
    EntityDelete { kind: u8, id: u64 },
    /// Tag 4.
    EdgeWrite { edge: u32, from: u64, to: u64, weight: f64, timestamp: u64 },
    /// Tag 5.
    EdgeDelete { edge: u32, from: u64, to: u64, timestamp: u64 },
    /// Tag 6.
    SchemaChange { version: u64, schema: Vec<u8> },
    /// Tag 7: the fields of tag 1, then the key (its `u8` length 1..=128, then the bytes).
    KeyedSignal { signal: u32, item: u64, has_user: u8, user: u64, weight: f64, timestamp: u64, key: Vec<u8> },
    /// Tag 8: the id, then the entity key (the rest: 1..=512 bytes of UTF-8).
    KeyName { id: u64, name: String },
}

/// The body table: layout by tag, with the fixed lengths the doc states.
fn body(tag: u8, bytes: &[u8]) -> Body {
    let fixed = match tag {
        1 => Some(37),
        3 => Some(9),
        4 => Some(36),
        5 => Some(28),
        _ => None,
    };
    if let Some(len) = fixed {
        assert_eq!(bytes.len(), len, "body of tag {tag}");
    }
    let mut f = Fields::new(bytes);
    let decoded = match tag {
        1 => Body::Signal {
            signal: f.u32(),
            item: f.u64(),
            has_user: f.u8(),
            user: f.u64(),
            weight: f64::from_bits(f.u64()),
            timestamp: f.u64(),
        },
        2 => Body::EntityWrite { kind: f.u8(), id: f.u64(), fields: f.rest().to_vec() },
        3 => Body::EntityDelete { kind: f.u8(), id: f.u64() },
        4 => Body::EdgeWrite {
            edge: f.u32(),
            from: f.u64(),
            to: f.u64(),
            weight: f64::from_bits(f.u64()),
            timestamp: f.u64(),
        },
        5 => Body::EdgeDelete { edge: f.u32(), from: f.u64(), to: f.u64(), timestamp: f.u64() },
        6 => Body::SchemaChange { version: f.u64(), schema: f.rest().to_vec() },
        7 => {
            let (signal, item, has_user, user) = (f.u32(), f.u64(), f.u8(), f.u64());
            let (weight, timestamp) = (f64::from_bits(f.u64()), f.u64());
            let key_len = usize::from(f.u8());
            assert!((1..=128).contains(&key_len), "key length {key_len}");
            assert_eq!(bytes.len(), 37 + 1 + key_len, "body of tag 7: 38 bytes plus the key");
            Body::KeyedSignal { signal, item, has_user, user, weight, timestamp, key: f.take(key_len).to_vec() }
        }
        8 => {
            let id = f.u64();
            let name = f.rest();
            assert!((1..=512).contains(&name.len()), "entity key length {}", name.len());
            Body::KeyName { id, name: String::from_utf8(name.to_vec()).unwrap() }
        }
        other => panic!("tag {other} is not in the doc's table"),
    };
    assert!(f.is_done(), "tag {tag}: {} bytes left over", bytes.len() - f.at);
    decoded
}

/// One batch as the doc's "Batch" table describes it.
#[derive(Debug)]
struct Batch {
    offset: usize,
    first_seq: u64,
    timestamp: u64,
    /// (partition key, body) of each record.
    records: Vec<(u64, Body)>,
}

/// Splits a segment into batches: no segment header, batches back to back.
fn batches(segment: &[u8]) -> Vec<Batch> {
    let mut out = Vec::new();
    let mut offset = 0;
    while offset < segment.len() {
        let mut h = Fields::new(&segment[offset..offset + 64]);
        assert_eq!(h.take(4), b"TDWL", "magic at {offset}");
        assert_eq!(h.u16(), 1, "batch format version at {offset}");
        assert_eq!(h.u16(), 0, "reserved bytes at {offset}");
        let first_seq = h.u64();
        let count = h.u32();
        let payload_len = usize::try_from(h.u32()).unwrap();
        let timestamp = h.u64();
        let checksum = h.take(32);
        assert!(count >= 1, "record count at {offset}");
        let payload = &segment[offset + 64..offset + 64 + payload_len];
        let mut hasher = blake3::Hasher::new();
        hasher.update(&segment[offset..offset + 32]);
        hasher.update(payload);
        assert_eq!(checksum, hasher.finalize().as_bytes(), "checksum of the batch at {offset}");

        let mut p = Fields::new(payload);
        let mut records = Vec::new();
        for _ in 0..count {
            let tag = p.u8();
            assert_eq!(p.u8(), 1, "record format version in the batch at {offset}");
            let partition = p.u64();
            let len = usize::try_from(p.u32()).unwrap();
            records.push((partition, body(tag, p.take(len))));
        }
        assert!(p.is_done(), "the payload holds exactly `count` records");
        out.push(Batch { offset, first_seq, timestamp, records });
        offset += 64 + payload_len;
    }
    assert_eq!(offset, segment.len(), "nothing follows the last batch");
    out
}

#[test]
fn the_v1_segment_follows_the_documented_layout() {
    let segment = fixture("v1_segment.wal");
    let batches = batches(&segment);
    let view = name_id("tidal.signal", "view");
    let follows = name_id("tidal.edge", "follows");
    assert_eq!(view, 0xc766_1325, "the doc's example");
    let ns = |secs: u64| secs * 1_000_000_000;

    assert_eq!(batches.len(), 2);
    assert_eq!((batches[0].offset, batches[1].offset), (0, 64 + 167));
    // Sequence numbers start at 1 (the segment's name) and run on without gaps.
    assert_eq!((batches[0].first_seq, batches[1].first_seq), (1, 5));
    for b in &batches {
        assert!(b.timestamp > NS_2023, "batch timestamp in ns: {}", b.timestamp);
    }
    let signal = |has_user, user, weight| Body::Signal {
        signal: view,
        item: 42,
        has_user,
        user,
        weight,
        timestamp: ns(1_700_000_000),
    };
    assert_eq!(
        batches[0].records,
        [
            (42, signal(1, 7, 1.5)),
            // No user: has-user 0 and a zero user id.
            (42, signal(0, 0, -0.0)),
            (42, Body::EntityWrite { kind: 1, id: 42, fields: br#"{"title":"fixture"}"#.to_vec() }),
            (9, Body::EntityDelete { kind: 3, id: 9 }),
        ]
    );
    // The weight is stored as its bits: -0.0 keeps its sign.
    let Body::Signal { weight, .. } = &batches[0].records[1].1 else { unreachable!() };
    assert_eq!(weight.to_bits(), (-0.0f64).to_bits());
    assert_eq!(
        batches[1].records,
        [
            // Edges are routed by their source; a schema change by default
            // goes to partition 0, and this one was routed to 5 on purpose.
            (7, Body::EdgeWrite { edge: follows, from: 7, to: 9, weight: 0.75, timestamp: ns(1_700_000_100) }),
            (7, Body::EdgeDelete { edge: follows, from: 7, to: 9, timestamp: ns(1_700_000_200) }),
            (5, Body::SchemaChange { version: 3, schema: br#"{"version":3}"#.to_vec() }),
        ]
    );
}

#[test]
fn the_v1_keyed_segment_follows_the_documented_layout() {
    let segment = fixture("v1_keyed_signals.wal");
    let batches = batches(&segment);
    let view = name_id("tidal.signal", "view");
    let t = 1_700_000_000 * 1_000_000_000;
    // Records of 14 + 38 + key bytes: 10, 3 and 128 bytes of key.
    assert_eq!(batches.len(), 2);
    assert_eq!((batches[0].offset, batches[1].offset), (0, 64 + (62 + 55 + 51)));
    assert_eq!((batches[0].first_seq, batches[1].first_seq), (1, 4));
    for b in &batches {
        assert!(b.timestamp > NS_2023, "batch timestamp in ns: {}", b.timestamp);
    }
    let keyed = |item, has_user, user, weight, key: &[u8]| Body::KeyedSignal {
        signal: view,
        item,
        has_user,
        user,
        weight,
        timestamp: t,
        key: key.to_vec(),
    };
    assert_eq!(
        batches[0].records,
        [
            (42, keyed(42, 1, 7, 1.5, b"order-1001")),
            (42, keyed(42, 0, 0, 2.0, &[0xff, 0x00, 0x7f])),
            // The same event without a key keeps tag 1 and its 37 bytes.
            (42, Body::Signal { signal: view, item: 42, has_user: 1, user: 7, weight: 1.5, timestamp: t }),
        ]
    );
    assert_eq!(batches[1].records, [(43, keyed(43, 1, 7, 1.5, "0123456789abcdef".repeat(8).as_bytes()))]);
}

#[test]
fn the_v1_checkpoint_follows_the_documented_layout() {
    let bytes = fixture("v1_checkpoint");
    assert_eq!(bytes.len(), 56);
    let mut f = Fields::new(&bytes);
    assert_eq!(f.take(4), b"TDCP");
    assert_eq!(f.u16(), 1, "version");
    assert_eq!(f.u16(), 0, "reserved");
    assert_eq!(f.u64(), 4, "sequence number");
    assert!(f.u64() > NS_2023, "written at, ns");
    assert_eq!(f.take(32), blake3::hash(&bytes[0..24]).as_bytes(), "checksum");
    assert!(f.is_done());
}

#[test]
fn the_v1_key_names_segment_follows_the_documented_layout() {
    let segment = fixture("v1_key_names.wal");
    let batches = batches(&segment);
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].first_seq, 1);
    let name = |id: u64, name: &str| (id, Body::KeyName { id, name: name.to_owned() });
    assert_eq!(
        batches[0].records,
        [
            // Routed by the entity they name.
            name(42, "item-42"),
            name(7, "用户-7 ✓"),
            name(9, &"k".repeat(512)),
            (42, Body::EntityWrite { kind: 1, id: 42, fields: b"{}".to_vec() }),
        ]
    );
}
