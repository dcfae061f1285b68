//! The checkpoint watermark: "every view has applied the log up to here".
//!
//! One small file, `checkpoint`, written atomically (temp file, fsync,
//! rename, directory fsync):
//!
//! ```text
//! 0..4 magic "TDCP"  4..6 version (u16)  6..8 reserved, zero
//! 8..16 sequence number  16..24 written at (ns)  24..56 BLAKE3 of bytes 0..24
//! ```

use std::io;
use std::path::Path;

use tidal_schema::Timestamp;
use tidal_schema::codec::{ByteReader, DecodeError};

use crate::error::{Result, WalError};
use crate::vfs::Vfs;

/// The checkpoint file's name inside the log directory.
pub(crate) const CHECKPOINT_FILE: &str = "checkpoint";
const MAGIC: [u8; 4] = *b"TDCP";
const VERSION: u16 = 1;
const LEN: usize = 56;

/// A persisted checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// Every record up to and including this sequence number is reflected in the views.
    pub seq: u64,
    /// When it was written.
    pub written_at: Timestamp,
}

pub(crate) fn encode(cp: Checkpoint) -> [u8; LEN] {
    let mut b = [0u8; LEN];
    b[0..4].copy_from_slice(&MAGIC);
    b[4..6].copy_from_slice(&VERSION.to_le_bytes());
    b[8..16].copy_from_slice(&cp.seq.to_le_bytes());
    b[16..24].copy_from_slice(&cp.written_at.as_nanos().to_le_bytes());
    let sum = blake3::hash(&b[0..24]);
    b[24..56].copy_from_slice(sum.as_bytes());
    b
}

pub(crate) fn decode(bytes: &[u8], path: &Path) -> Result<Checkpoint> {
    let corrupt = |offset: u64, reason: String| WalError::Corruption { segment: path.to_path_buf(), offset, reason };
    if bytes.len() != LEN {
        return Err(corrupt(0, format!("checkpoint file has the wrong length ({} bytes, not {LEN})", bytes.len())));
    }
    let (magic, version, reserved, seq, written_at, sum) =
        read_fields(bytes).map_err(|e| corrupt(e.offset, e.reason))?;
    if magic != MAGIC || reserved != [0, 0] {
        return Err(corrupt(0, "bad checkpoint magic".to_owned()));
    }
    if version != VERSION {
        return Err(WalError::UnsupportedVersion { what: "checkpoint", version });
    }
    if blake3::hash(&bytes[0..24]).as_bytes() != &sum {
        return Err(corrupt(24, "checkpoint checksum mismatch".to_owned()));
    }
    Ok(Checkpoint { seq, written_at: Timestamp::from_nanos(written_at) })
}

/// The fields in order: magic, version, reserved bytes, sequence number,
/// time written and checksum.
type Fields = ([u8; 4], u16, [u8; 2], u64, u64, [u8; 32]);

fn read_fields(bytes: &[u8]) -> Result<Fields, DecodeError> {
    let mut r = ByteReader::new(bytes);
    let fields = (r.array()?, r.u16()?, r.array()?, r.u64()?, r.u64()?, r.array()?);
    r.finish()?;
    Ok(fields)
}

/// Reads the checkpoint in `dir`, `None` if there is none yet. A damaged
/// checkpoint is an error, not "no checkpoint": the log before it may
/// already be truncated, so replaying from the start would silently miss
/// records. Delete the file to start over deliberately.
pub(crate) fn read(vfs: &dyn Vfs, dir: &Path) -> Result<Option<Checkpoint>> {
    let path = dir.join(CHECKPOINT_FILE);
    match vfs.read(&path) {
        Ok(bytes) => decode(&bytes, &path).map(Some),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(WalError::io("read checkpoint", path, e)),
    }
}

/// Writes the checkpoint atomically and durably.
pub(crate) fn write(vfs: &dyn Vfs, dir: &Path, cp: Checkpoint) -> Result<()> {
    let path = dir.join(CHECKPOINT_FILE);
    vfs.write_atomic(&path, &encode(cp)).map_err(|e| WalError::io("write checkpoint", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_detects_every_bit_flip() {
        let cp = Checkpoint { seq: 12_345, written_at: Timestamp::from_secs(1_700_000_000) };
        let bytes = encode(cp);
        assert_eq!(decode(&bytes, Path::new("cp")).unwrap(), cp);
        for bit in 0..LEN * 8 {
            let mut damaged = bytes;
            damaged[bit / 8] ^= 1 << (bit % 8);
            assert!(decode(&damaged, Path::new("cp")).is_err(), "bit {bit}");
        }
    }
}
