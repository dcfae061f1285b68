//! Segment files: the log is a directory of `<first-seq>.wal` files, each a
//! run of batches. A segment is named by the first sequence number it holds
//! (or, while empty, the next one it will hold), so an empty log still
//! remembers where its sequence numbers continue.

use std::path::{Path, PathBuf};

use crate::error::{Result, WalError};
use crate::vfs::Vfs;

const EXT: &str = ".wal";

/// The file name of the segment starting at `first_seq`.
pub(crate) fn segment_name(first_seq: u64) -> String {
    format!("{first_seq:020}{EXT}")
}

/// The first sequence number a segment file name stands for, if it is one.
pub(crate) fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(EXT)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// A segment on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Segment {
    /// The sequence number in its name.
    pub(crate) first_seq: u64,
    /// Its path.
    pub(crate) path: PathBuf,
}

/// The segments in `dir`, ordered by first sequence number. Other files are ignored.
pub(crate) fn list_segments(vfs: &dyn Vfs, dir: &Path) -> Result<Vec<Segment>> {
    let names = vfs.list(dir).map_err(|e| WalError::io("list log directory", dir, e))?;
    let mut segments: Vec<Segment> = names
        .iter()
        .filter_map(|name| parse_segment_name(name).map(|first_seq| Segment { first_seq, path: dir.join(name) }))
        .collect();
    segments.sort_by_key(|s| s.first_seq);
    Ok(segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sort_numerically() {
        for seq in [0, 1, 42, u64::MAX] {
            assert_eq!(parse_segment_name(&segment_name(seq)), Some(seq));
        }
        assert!(segment_name(9) < segment_name(10));
        for bad in ["checkpoint", "1.wal", "0000000000000000000a.wal", "00000000000000000001.wal.tmp"] {
            assert_eq!(parse_segment_name(bad), None, "{bad}");
        }
    }
}
