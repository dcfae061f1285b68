//! Batches: the unit of durability. A 64-byte header, then the records.
//!
//! ```text
//! 0..4   magic "TDWL"          4..6   format version (u16)   6..8 reserved, zero
//! 8..16  first sequence number 16..20 record count (u32)     20..24 payload length (u32)
//! 24..32 batch timestamp (ns)  32..64 BLAKE3(header[0..32] ‖ payload)
//! ```
//!
//! All integers little-endian. A batch is valid only if its magic, version,
//! reserved bytes and checksum match and its payload decodes into exactly
//! `count` records. The header layout and checksum rule are the same in
//! every format version, so a reader can tell a batch written by a newer
//! version (checksum matches, version unknown: refuse to open) from a
//! damaged one (checksum fails).

use tidal_schema::Timestamp;
use tidal_schema::codec::{ByteReader, DecodeError};

use crate::error::{Result, WalError};
use crate::record::Record;

/// The four bytes every batch starts with.
pub const BATCH_MAGIC: [u8; 4] = *b"TDWL";
/// The batch format version this build writes and reads.
pub const BATCH_VERSION: u16 = 1;
/// Bytes in a batch header.
pub const BATCH_HEADER_LEN: usize = 64;
/// The largest sequence number a log may reach (half of `u64`, so no
/// arithmetic on sequence numbers can overflow).
pub const MAX_SEQ: u64 = u64::MAX / 2;

/// A parsed batch header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchHeader {
    /// Format version of the payload.
    pub version: u16,
    /// Sequence number of the first record.
    pub first_seq: u64,
    /// Number of records.
    pub count: u32,
    /// Bytes of payload after the header.
    pub payload_len: u32,
    /// When the batch was written (wall clock).
    pub timestamp: Timestamp,
    /// BLAKE3 over the first 32 header bytes and the payload.
    pub checksum: [u8; 32],
}

impl BatchHeader {
    /// Sequence number after the last record.
    pub const fn end_seq(&self) -> u64 {
        self.first_seq + self.count as u64
    }

    /// Header plus payload.
    pub const fn total_len(&self) -> u64 {
        BATCH_HEADER_LEN as u64 + self.payload_len as u64
    }
}

/// Why a header did not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum HeaderError {
    /// Fewer than 64 bytes left.
    Short,
    /// Not a batch header at all (torn or garbage).
    Garbage(&'static str),
}

/// Builds the header for `payload`.
pub(crate) fn encode_header(
    first_seq: u64,
    count: u32,
    timestamp: Timestamp,
    payload: &[u8],
) -> [u8; BATCH_HEADER_LEN] {
    let mut h = [0u8; BATCH_HEADER_LEN];
    h[0..4].copy_from_slice(&BATCH_MAGIC);
    h[4..6].copy_from_slice(&BATCH_VERSION.to_le_bytes());
    h[8..16].copy_from_slice(&first_seq.to_le_bytes());
    h[16..20].copy_from_slice(&count.to_le_bytes());
    // Payloads are capped far below 4 GiB by the writer (`MAX_BATCH_PAYLOAD`).
    h[20..24].copy_from_slice(&u32::try_from(payload.len()).unwrap_or(u32::MAX).to_le_bytes());
    h[24..32].copy_from_slice(&timestamp.as_nanos().to_le_bytes());
    let sum = checksum(&h[0..32], payload);
    h[32..64].copy_from_slice(&sum);
    h
}

fn checksum(prefix: &[u8], payload: &[u8]) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(prefix);
    hasher.update(payload);
    *hasher.finalize().as_bytes()
}

/// Parses the header at the front of `bytes` (structure only, not the checksum).
pub(crate) fn parse_header(bytes: &[u8]) -> Result<BatchHeader, HeaderError> {
    // Past this length check no read can fail.
    if bytes.len() < BATCH_HEADER_LEN {
        return Err(HeaderError::Short);
    }
    let (magic, reserved, header) = read_header(&mut ByteReader::new(bytes)).map_err(|_| HeaderError::Short)?;
    if magic != BATCH_MAGIC {
        return Err(HeaderError::Garbage("bad magic"));
    }
    if reserved != [0, 0] {
        return Err(HeaderError::Garbage("reserved bytes are not zero"));
    }
    if header.count == 0 {
        return Err(HeaderError::Garbage("empty batch"));
    }
    if header.first_seq == 0 || header.first_seq > MAX_SEQ - u64::from(header.count) {
        return Err(HeaderError::Garbage("sequence number out of range"));
    }
    Ok(header)
}

/// The header's fields in order: magic, reserved bytes, and the rest.
#[inline]
fn read_header(r: &mut ByteReader<'_>) -> Result<([u8; 4], [u8; 2], BatchHeader), DecodeError> {
    let magic = r.array()?;
    let version = r.u16()?;
    let reserved = r.array()?;
    let header = BatchHeader {
        version,
        first_seq: r.u64()?,
        count: r.u32()?,
        payload_len: r.u32()?,
        timestamp: Timestamp::from_nanos(r.u64()?),
        checksum: r.array()?,
    };
    Ok((magic, reserved, header))
}

/// Whether `payload` matches the header's checksum. `header_bytes` are the
/// raw 64 header bytes.
pub(crate) fn checksum_matches(header_bytes: &[u8], header: &BatchHeader, payload: &[u8]) -> bool {
    checksum(&header_bytes[0..32], payload) == header.checksum
}

/// Decodes a verified payload into exactly `count` records.
pub(crate) fn decode_records(payload: &[u8], count: u32) -> Result<Vec<Record>> {
    let mut out = Vec::with_capacity(usize::try_from(count).unwrap_or(0).min(payload.len() / 14 + 1));
    let mut at = 0;
    while at < payload.len() {
        let (record, used) = Record::decode(&payload[at..]).map_err(|e| e.offset_by(at))?;
        out.push(record);
        at += used;
    }
    if out.len() != count as usize {
        let reason = format!("batch header says {count} records, payload holds {}", out.len());
        return Err(DecodeError::new(payload.len(), reason).into());
    }
    Ok(out)
}

/// Checks that a payload holds exactly `count` well-formed records, without
/// decoding them.
pub(crate) fn check_records(payload: &[u8], count: u32) -> Result<()> {
    let mut at = 0;
    let mut found = 0u64;
    while at < payload.len() {
        at += Record::check_encoded(&payload[at..]).map_err(|e| e.offset_by(at))?;
        found += 1;
    }
    if found != u64::from(count) {
        let reason = format!("batch header says {count} records, payload holds {found}");
        return Err(DecodeError::new(payload.len(), reason).into());
    }
    Ok(())
}

/// The encoded records of a verified payload, one slice each.
pub(crate) fn record_slices(payload: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut at = 0;
    std::iter::from_fn(move || {
        if at >= payload.len() {
            return None;
        }
        // The payload was verified by `check_records`, so this succeeds.
        let len = Record::check_encoded(&payload[at..]).ok()?;
        let slice = &payload[at..at + len];
        at += len;
        Some(slice)
    })
}

/// One batch found by [`scan`]: its header, where it starts, and its payload.
#[derive(Debug)]
pub(crate) struct ScannedBatch<'a> {
    pub(crate) offset: u64,
    pub(crate) header: BatchHeader,
    pub(crate) payload: &'a [u8],
}

/// Why a scan stopped before the end of the bytes.
#[derive(Debug)]
pub(crate) struct ScanStop {
    /// Offset of the first byte not part of a valid batch.
    pub(crate) offset: u64,
    /// What is wrong there.
    pub(crate) reason: String,
    /// Set when the batch's checksum matches but this build cannot read it
    /// (a newer batch or record version, an unknown record type): the
    /// batch was written on purpose, so it is never truncated away.
    pub(crate) unreadable: Option<WalError>,
}

/// Walks valid batches from the start of `bytes`. Returns the batches and,
/// if the walk did not reach the end exactly, where and why it stopped.
pub(crate) fn scan(bytes: &[u8]) -> (Vec<ScannedBatch<'_>>, Option<ScanStop>) {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() {
        match verify_at(bytes, at) {
            Ok((header, payload)) => {
                out.push(ScannedBatch { offset: at as u64, header, payload });
                at += BATCH_HEADER_LEN + payload.len();
            }
            Err(stop) => return (out, Some(stop)),
        }
    }
    (out, None)
}

/// Verifies the batch starting at `at`: header, bounds, checksum and records.
pub(crate) fn verify_at(bytes: &[u8], at: usize) -> Result<(BatchHeader, &[u8]), ScanStop> {
    let stop = |reason: String, unreadable: Option<WalError>| ScanStop { offset: at as u64, reason, unreadable };
    let rest = &bytes[at..];
    let header = match parse_header(rest) {
        Ok(h) => h,
        Err(HeaderError::Short) => {
            return Err(stop(format!("{} trailing bytes, shorter than a header", rest.len()), None));
        }
        Err(HeaderError::Garbage(why)) => return Err(stop(why.to_owned(), None)),
    };
    let end = BATCH_HEADER_LEN + header.payload_len as usize;
    if end > rest.len() {
        return Err(stop(format!("payload of {} bytes runs past the end of the file", header.payload_len), None));
    }
    let payload = &rest[BATCH_HEADER_LEN..end];
    if !checksum_matches(rest, &header, payload) {
        return Err(stop("checksum mismatch".to_owned(), None));
    }
    if header.version != BATCH_VERSION {
        let version = header.version;
        return Err(stop(
            format!("batch format version {version}"),
            Some(WalError::UnsupportedVersion { what: "batch", version }),
        ));
    }
    if let Err(e) = check_records(payload, header.count) {
        return Err(stop(format!("checksummed payload does not decode: {e}"), Some(e)));
    }
    Ok((header, payload))
}

/// Whether a batch written on purpose starts anywhere in `bytes` after
/// `from`: the test that separates a torn tail (nothing follows) from damage
/// in the middle of the log (acknowledged data follows). Only headers whose
/// sequence number could follow `expected_seq` are checksummed, so data that
/// merely contains the magic bytes costs little.
pub(crate) fn any_valid_batch_after(bytes: &[u8], from: usize, expected_seq: u64) -> Option<usize> {
    let mut at = from + 1;
    while at + BATCH_HEADER_LEN <= bytes.len() {
        let next = bytes[at..].windows(4).position(|w| w == BATCH_MAGIC)?;
        at += next;
        let plausible = parse_header(&bytes[at..])
            .is_ok_and(|h| h.first_seq > expected_seq && u32::try_from(h.first_seq - expected_seq).is_ok());
        if plausible {
            match verify_at(bytes, at) {
                Ok(_) => return Some(at),
                Err(stop) if stop.unreadable.is_some() => return Some(at),
                Err(_) => {}
            }
        }
        at += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use tidal_schema::{EntityId, EntityKind};

    fn batch(first_seq: u64, n: u32) -> Vec<u8> {
        let mut payload = Vec::new();
        for i in 0..n {
            Record::entity_delete(EntityKind::Item, EntityId(u64::from(i))).encode(&mut payload);
        }
        let mut out = encode_header(first_seq, n, Timestamp::from_secs(1), &payload).to_vec();
        out.extend_from_slice(&payload);
        out
    }

    #[test]
    fn scan_reads_consecutive_batches() {
        let mut bytes = batch(1, 3);
        bytes.extend(batch(4, 2));
        let (batches, stop) = scan(&bytes);
        assert!(stop.is_none());
        assert_eq!(batches.len(), 2);
        assert_eq!(batches[1].header.first_seq, 4);
        assert_eq!(batches[1].header.end_seq(), 6);
    }

    #[test]
    fn damage_in_the_middle_is_distinguished_from_a_torn_tail() {
        let first = batch(1, 3);
        let mut bytes = first.clone();
        bytes.extend(batch(4, 2));
        bytes[BATCH_HEADER_LEN + 2] ^= 1;
        let (batches, stop) = scan(&bytes);
        assert!(batches.is_empty());
        assert_eq!(stop.unwrap().offset, 0);
        assert_eq!(any_valid_batch_after(&bytes, 0, 1), Some(first.len()));

        let mut torn = first.clone();
        torn.extend(&batch(4, 2)[..70]);
        let (batches, stop) = scan(&torn);
        assert_eq!(batches.len(), 1);
        let stop = stop.unwrap();
        assert_eq!(stop.offset, first.len() as u64);
        assert_eq!(any_valid_batch_after(&torn, first.len(), 4), None);
    }

    #[test]
    fn a_newer_version_is_told_apart_from_damage() {
        let mut payload = Vec::new();
        Record::entity_delete(EntityKind::Item, EntityId(1)).encode(&mut payload);
        let mut header = encode_header(1, 1, Timestamp::from_secs(1), &payload);
        header[4] = 9;
        let sum = checksum(&header[0..32], &payload);
        header[32..64].copy_from_slice(&sum);
        let mut newer = header.to_vec();
        newer.extend_from_slice(&payload);
        let stop = scan(&newer).1.unwrap();
        assert!(
            matches!(stop.unreadable, Some(WalError::UnsupportedVersion { version: 9, .. })),
            "checksum matches: a newer writer"
        );

        let mut damaged = batch(1, 1);
        damaged[4] = 9;
        assert!(scan(&damaged).1.unwrap().unreadable.is_none(), "checksum fails: damage");
    }
}
