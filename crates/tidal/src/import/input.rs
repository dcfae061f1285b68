//! Opening an import input: the format and compression it is in (by its
//! name, or `--format`), a decompressing reader that counts the compressed
//! bytes read (for the progress bar), and a line reader that never holds
//! more than the record-length cap of one line.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The record format of an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// JSON Lines: one JSON object a line.
    Jsonl,
    /// CSV with a header line naming the columns.
    Csv,
}

/// How an input is compressed, by its last extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip,
    Zstd,
}

/// The compression and record format of `path`: `.gz` and `.zst` are
/// stripped, then `.jsonl`, `.ndjson`, `.json` and `.csv` name the format;
/// `format` overrides the name.
pub(crate) fn kind_of(path: &Path, format: Option<Format>) -> Result<(Compression, Format), String> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_ascii_lowercase();
    let (compression, rest) = if let Some(rest) = name.strip_suffix(".gz") {
        (Compression::Gzip, rest)
    } else if let Some(rest) = name.strip_suffix(".zst") {
        (Compression::Zstd, rest)
    } else {
        (Compression::None, name.as_str())
    };
    // `name` is lowercased above, so the comparison ignores case.
    let by_name = match Path::new(rest).extension().and_then(|e| e.to_str()) {
        Some("jsonl" | "ndjson" | "json") => Some(Format::Jsonl),
        Some("csv") => Some(Format::Csv),
        _ => None,
    };
    match format.or(by_name) {
        Some(f) => Ok((compression, f)),
        None => Err(format!(
            "{}: cannot tell the format from the name (.jsonl, .ndjson, .json, .csv, optionally .gz or .zst); \
             give --format jsonl|csv",
            path.display()
        )),
    }
}

/// A reader that counts the bytes read through it into a shared counter.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Opens `path` for reading, decompressed; `read` counts the bytes read
/// from the file itself (compressed bytes for a compressed input).
pub(crate) fn open(path: &Path, compression: Compression, read: Arc<AtomicU64>) -> io::Result<Box<dyn BufRead + Send>> {
    let file = Counting { inner: File::open(path)?, read };
    Ok(match compression {
        Compression::None => Box::new(BufReader::with_capacity(1 << 20, file)),
        // `MultiGzDecoder`: a concatenation of gzip members (what `cat a.gz
        // b.gz` and parallel compressors write) is one stream.
        Compression::Gzip => Box::new(BufReader::with_capacity(
            1 << 20,
            flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 16, file)),
        )),
        Compression::Zstd => Box::new(BufReader::with_capacity(1 << 20, zstd::stream::read::Decoder::new(file)?)),
    })
}

/// One line of a [`Lines`] reader.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// The line, without its `\n` (or `\r\n`), in the reader's buffer.
    Text,
    /// A line longer than the cap: skipped to its end, not kept.
    TooLong,
}

/// Reads lines of at most `max` bytes; a longer line is skipped without
/// being held in memory.
pub(crate) struct Lines<R> {
    inner: R,
    max: usize,
    /// The number of the line last read (1-based).
    pub(crate) number: u64,
    /// The line last read (valid after [`Line::Text`]).
    pub(crate) buf: Vec<u8>,
}

impl<R: BufRead> Lines<R> {
    pub(crate) fn new(inner: R, max: usize) -> Self {
        Self { inner, max, number: 0, buf: Vec::new() }
    }

    /// The next line, `None` at the end of the input.
    pub(crate) fn next_line(&mut self) -> io::Result<Option<Line>> {
        self.buf.clear();
        let mut too_long = false;
        let mut any = false;
        loop {
            let available = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                break;
            }
            any = true;
            let (take, done) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (i, true),
                None => (available.len(), false),
            };
            if !too_long {
                if self.buf.len() + take > self.max {
                    too_long = true;
                    self.buf.clear();
                } else {
                    self.buf.extend_from_slice(&available[..take]);
                }
            }
            self.inner.consume(if done { take + 1 } else { take });
            if done {
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        self.number += 1;
        if too_long {
            return Ok(Some(Line::TooLong));
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        Ok(Some(Line::Text))
    }
}

/// A reader that fails once more than `max` bytes have passed through it
/// since the position last marked — how a CSV record is capped, since the
/// `csv` crate grows its buffer for any record length.
pub(crate) struct Capped<R> {
    pub(crate) inner: R,
    pub(crate) max: u64,
    pub(crate) passed: u64,
    pub(crate) mark: Arc<AtomicU64>,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.passed.saturating_sub(self.mark.load(Ordering::Relaxed)) > self.max {
            return Err(io::Error::new(io::ErrorKind::InvalidData, RecordTooLong(self.max)));
        }
        let n = self.inner.read(buf)?;
        self.passed += n as u64;
        Ok(n)
    }
}

/// The error a [`Capped`] reader fails with.
#[derive(Debug)]
pub(crate) struct RecordTooLong(pub(crate) u64);

impl std::fmt::Display for RecordTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a record longer than {} bytes (the cap is --max-record-bytes)", self.0)
    }
}

impl std::error::Error for RecordTooLong {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_capped_and_skipped_whole() {
        let text = b"short\r\nthis one is far too long\nok\nlast-without-newline";
        let mut lines = Lines::new(BufReader::with_capacity(4, &text[..]), 8);
        assert_eq!(lines.next_line().unwrap(), Some(Line::Text));
        assert_eq!(lines.buf, b"short");
        assert_eq!(lines.next_line().unwrap(), Some(Line::TooLong));
        assert_eq!(lines.number, 2);
        assert_eq!(lines.next_line().unwrap(), Some(Line::Text));
        assert_eq!(lines.buf, b"ok");
        assert_eq!(lines.next_line().unwrap(), Some(Line::TooLong));
        assert_eq!(lines.next_line().unwrap(), None);
        assert_eq!(lines.number, 4);
    }

    #[test]
    fn names_tell_the_format_and_compression() {
        let k = |name: &str| kind_of(Path::new(name), None);
        assert_eq!(k("a.jsonl.gz"), Ok((Compression::Gzip, Format::Jsonl)));
        assert_eq!(k("a.CSV.zst"), Ok((Compression::Zstd, Format::Csv)));
        assert_eq!(k("a.ndjson"), Ok((Compression::None, Format::Jsonl)));
        assert!(k("a.txt").unwrap_err().contains("--format"));
        assert_eq!(kind_of(Path::new("a.txt.gz"), Some(Format::Csv)), Ok((Compression::Gzip, Format::Csv)));
    }
}
