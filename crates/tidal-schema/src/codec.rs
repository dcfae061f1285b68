//! Little-endian byte encoding shared by every binary format in tidalDB:
//! [`ByteWriter`] appends values to a buffer and [`ByteReader`] reads them
//! back, every read bounds-checked.
//!
//! The log's records, the entity encoding, the signal ledger's checkpoint
//! and the view checkpoints all read through this one reader, so they share
//! its guarantees:
//!
//! - a read past the end is a [`DecodeError`] at the offset where the read
//!   started, never a panic;
//! - a length prefix is refused when its items could not fit in the bytes
//!   that remain ([`ByteReader::len_u32`] and kin), so hostile input can
//!   never make a decoder allocate more than the input's own size;
//! - [`ByteReader::finish`] refuses trailing bytes.
//!
//! Offsets count from the start of the bytes the reader was made over; a
//! reader split off with [`ByteReader::sub`] keeps counting in its parent's
//! offsets. Each crate converts a [`DecodeError`] into its own typed
//! corruption error, adding what only it knows (the segment, the key, the
//! view), so the error type never crosses a crate's public API on its own.
//!
//! ```
//! use tidal_schema::codec::{ByteReader, ByteWriter};
//!
//! let mut bytes = Vec::new();
//! let mut w = ByteWriter::new(&mut bytes);
//! w.u16(7);
//! w.bytes_u32(b"tidal").unwrap();
//! w.f64(0.5);
//!
//! let mut r = ByteReader::new(&bytes);
//! assert_eq!(r.u16().unwrap(), 7);
//! assert_eq!(r.bytes_u32().unwrap(), b"tidal");
//! assert_eq!(r.f64().unwrap(), 0.5);
//! r.finish().unwrap();
//!
//! // Cut short, the same bytes fail where the value that no longer fits starts.
//! let mut r = ByteReader::new(&bytes[..bytes.len() - 1]);
//! r.u16().unwrap();
//! r.bytes_u32().unwrap();
//! assert_eq!(r.f64().unwrap_err().offset, 11);
//! ```

/// Bytes that do not decode: where (`offset`, from the start of the input)
/// and what is wrong.
///
/// Not a crate error of its own: every decoder converts it into its crate's
/// corruption variant (`WalError::Malformed`, `StorageError::Corruption`,
/// `SignalError::CorruptCheckpoint`, `MaterializeError::CorruptCheckpoint`),
/// which keeps the offset and adds the file, key or view.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("at byte {offset}: {reason}")]
pub struct DecodeError {
    /// Byte offset of the problem from the start of the input.
    pub offset: u64,
    /// What is wrong.
    pub reason: String,
}

impl DecodeError {
    /// An error at `offset` (a position taken from [`ByteReader::offset`]).
    pub fn new(offset: usize, reason: impl Into<String>) -> Self {
        Self { offset: offset as u64, reason: reason.into() }
    }
}

/// A length too large for the prefix a format gives it (for example more
/// than 65,535 items behind a `u16` count). Nothing is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("length {len} exceeds the format's limit of {max}")]
pub struct LengthOverflow {
    /// The length asked for.
    pub len: usize,
    /// The largest length the prefix holds.
    pub max: u64,
}

/// Appends little-endian values to a buffer.
#[derive(Debug)]
pub struct ByteWriter<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> ByteWriter<'a> {
    /// A writer appending to `out` (whatever it already holds stays).
    #[inline]
    pub const fn new(out: &'a mut Vec<u8>) -> Self {
        Self { out }
    }

    /// Bytes in the buffer so far, counting what it held before: the
    /// position of the next write.
    #[inline]
    pub const fn position(&self) -> usize {
        self.out.len()
    }

    /// Appends one byte.
    #[inline]
    pub fn u8(&mut self, v: u8) {
        self.out.push(v);
    }

    /// Appends a `u16`.
    #[inline]
    pub fn u16(&mut self, v: u16) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    /// Appends a `u32`.
    #[inline]
    pub fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    /// Appends a `u64`.
    #[inline]
    pub fn u64(&mut self, v: u64) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    /// Appends an `i64`.
    #[inline]
    pub fn i64(&mut self, v: i64) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    /// Appends an `f32`, bit for bit (NaN payloads included).
    #[inline]
    pub fn f32(&mut self, v: f32) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    /// Appends an `f64`, bit for bit (NaN payloads included).
    #[inline]
    pub fn f64(&mut self, v: f64) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    /// Appends raw bytes, with no length prefix.
    #[inline]
    pub fn bytes(&mut self, v: &[u8]) {
        self.out.extend_from_slice(v);
    }

    /// Appends `n` as a one-byte length prefix, or fails (writing nothing)
    /// when it is over 255.
    #[inline]
    pub fn len_u8(&mut self, n: usize) -> Result<(), LengthOverflow> {
        let v = u8::try_from(n).map_err(|_| LengthOverflow { len: n, max: u8::MAX.into() })?;
        self.u8(v);
        Ok(())
    }

    /// Appends `n` as a `u16` length prefix, or fails (writing nothing)
    /// when it is over 65,535.
    #[inline]
    pub fn len_u16(&mut self, n: usize) -> Result<(), LengthOverflow> {
        let v = u16::try_from(n).map_err(|_| LengthOverflow { len: n, max: u16::MAX.into() })?;
        self.u16(v);
        Ok(())
    }

    /// Appends `n` as a `u32` length prefix, or fails (writing nothing)
    /// when it is 4 Gi or more.
    #[inline]
    pub fn len_u32(&mut self, n: usize) -> Result<(), LengthOverflow> {
        let v = u32::try_from(n).map_err(|_| LengthOverflow { len: n, max: u32::MAX.into() })?;
        self.u32(v);
        Ok(())
    }

    /// Appends `n` as a `u32` length prefix, saturating at `u32::MAX`.
    ///
    /// Only for counts bounded far below 4 Gi by construction (schema
    /// limits, chunk sizes, memory). Should one ever saturate, the prefix no
    /// longer matches the items written after it, so the reader refuses the
    /// bytes (as trailing bytes, or as a value that does not decode) rather
    /// than taking a wrapped count for a small one.
    #[inline]
    pub fn len_u32_saturating(&mut self, n: usize) {
        self.u32(u32::try_from(n).unwrap_or(u32::MAX));
    }

    /// Appends `n` as a `u64` length prefix (every `usize` fits).
    #[inline]
    pub fn len_u64(&mut self, n: usize) {
        self.u64(n as u64);
    }

    /// Appends `v` behind a `u32` length prefix, or fails (writing nothing)
    /// when it is 4 GiB or longer. [`ByteReader::bytes_u32`] reads it back.
    #[inline]
    pub fn bytes_u32(&mut self, v: &[u8]) -> Result<(), LengthOverflow> {
        self.len_u32(v.len())?;
        self.bytes(v);
        Ok(())
    }
}

/// Where a [`StreamWriter`] sends each full piece of an encoding.
pub type Sink<'s, E> = &'s mut dyn FnMut(&[u8]) -> Result<(), E>;

/// Encodes a long run of values in pieces, so a large state streams to a
/// file rather than being held whole: values are written through
/// [`writer`](Self::writer) into a buffer, which goes to the sink whenever
/// [`flush_if_full`](Self::flush_if_full) finds [`STREAM_PIECE`] bytes or
/// more in it, and at [`finish`](Self::finish). The pieces joined are the
/// bytes a single [`ByteWriter`] would have written.
///
/// ```
/// use std::convert::Infallible;
/// use tidal_schema::codec::StreamWriter;
///
/// let mut out = Vec::new();
/// let mut sink = |piece: &[u8]| -> Result<(), Infallible> {
///     out.extend_from_slice(piece);
///     Ok(())
/// };
/// let mut s = StreamWriter::new(&mut sink);
/// for v in 0..3u16 {
///     s.writer().u16(v);
///     let Ok(()) = s.flush_if_full();
/// }
/// let Ok(()) = s.finish();
/// assert_eq!(out, [0, 0, 1, 0, 2, 0]);
/// ```
pub struct StreamWriter<'s, E> {
    buf: Vec<u8>,
    sink: Sink<'s, E>,
}

/// The size of the pieces a [`StreamWriter`] hands its sink (at least).
pub const STREAM_PIECE: usize = 1 << 20;

impl<E> std::fmt::Debug for StreamWriter<'_, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamWriter").field("buffered", &self.buf.len()).finish_non_exhaustive()
    }
}

impl<'s, E> StreamWriter<'s, E> {
    /// A writer handing its pieces to `sink`.
    pub fn new(sink: Sink<'s, E>) -> Self {
        Self { buf: Vec::new(), sink }
    }

    /// A writer appending to the buffer.
    #[inline]
    pub fn writer(&mut self) -> ByteWriter<'_> {
        ByteWriter::new(&mut self.buf)
    }

    /// Hands the buffer to the sink if it holds a piece's worth.
    ///
    /// # Errors
    /// The sink's.
    #[inline]
    pub fn flush_if_full(&mut self) -> Result<(), E> {
        if self.buf.len() >= STREAM_PIECE { self.flush() } else { Ok(()) }
    }

    fn flush(&mut self) -> Result<(), E> {
        if !self.buf.is_empty() {
            (self.sink)(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Hands what is left to the sink.
    ///
    /// # Errors
    /// The sink's.
    pub fn finish(mut self) -> Result<(), E> {
        self.flush()
    }
}

/// Reads little-endian values from a byte slice, failing (never panicking)
/// on short input and allocating nothing itself.
#[derive(Clone, Debug)]
pub struct ByteReader<'a> {
    /// The bytes not read yet.
    rest: &'a [u8],
    /// The offset just past the last byte, so the current offset is
    /// `end - rest.len()`.
    end: usize,
}

impl<'a> ByteReader<'a> {
    /// A reader over `bytes`, at offset 0.
    #[inline]
    pub const fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes, end: bytes.len() }
    }

    /// The offset of the next byte to read.
    #[inline]
    pub const fn offset(&self) -> usize {
        self.end - self.rest.len()
    }

    /// How many bytes are left to read.
    #[inline]
    pub const fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// Whether every byte has been read.
    #[inline]
    pub const fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// An error at the current offset.
    #[cold]
    pub fn error(&self, reason: impl Into<String>) -> DecodeError {
        DecodeError::new(self.offset(), reason)
    }

    #[cold]
    #[inline(never)]
    fn short(&self, n: usize) -> DecodeError {
        self.error(format!("needed {n} bytes, {} left", self.rest.len()))
    }

    /// The next `n` bytes.
    #[inline]
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let Some((head, tail)) = self.rest.split_at_checked(n) else { return Err(self.short(n)) };
        self.rest = tail;
        Ok(head)
    }

    /// The next `N` bytes, as an array.
    #[inline]
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let Some((head, tail)) = self.rest.split_first_chunk::<N>() else { return Err(self.short(N)) };
        self.rest = tail;
        Ok(*head)
    }

    /// Everything not read yet (possibly nothing); the reader is then empty.
    #[inline]
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.rest)
    }

    /// A reader over the next `n` bytes, which this one skips. Its offsets
    /// continue this reader's, so its errors point into the whole input.
    #[inline]
    pub fn sub(&mut self, n: usize) -> Result<Self, DecodeError> {
        let start = self.offset();
        let rest = self.take(n)?;
        Ok(Self { rest, end: start + n })
    }

    /// One byte.
    #[inline]
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        let Some((&first, tail)) = self.rest.split_first() else { return Err(self.short(1)) };
        self.rest = tail;
        Ok(first)
    }

    /// A `u16`.
    #[inline]
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        self.array().map(u16::from_le_bytes)
    }

    /// A `u32`.
    #[inline]
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        self.array().map(u32::from_le_bytes)
    }

    /// A `u64`.
    #[inline]
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        self.array().map(u64::from_le_bytes)
    }

    /// An `i64`.
    #[inline]
    pub fn i64(&mut self) -> Result<i64, DecodeError> {
        self.array().map(i64::from_le_bytes)
    }

    /// An `f32`, bit for bit.
    #[inline]
    pub fn f32(&mut self) -> Result<f32, DecodeError> {
        self.array().map(f32::from_le_bytes)
    }

    /// An `f64`, bit for bit.
    #[inline]
    pub fn f64(&mut self) -> Result<f64, DecodeError> {
        self.array().map(f64::from_le_bytes)
    }

    /// Accepts a count of items that take at least `min_item_bytes` each
    /// (counted as 1 if 0) only if that many could fit in what remains;
    /// `at` is where the prefix started, for the error.
    #[inline]
    fn bounded(&self, at: usize, n: u64, min_item_bytes: usize) -> Result<usize, DecodeError> {
        let need = n.saturating_mul(min_item_bytes.max(1) as u64);
        match usize::try_from(n) {
            Ok(n) if need <= self.rest.len() as u64 => Ok(n),
            _ => Err(DecodeError::new(at, format!("length {n} needs at least {need} bytes, {} left", self.rest.len()))),
        }
    }

    /// A `u16` count of items taking at least `min_item_bytes` each,
    /// refused (before anything is allocated) if the remaining bytes could
    /// not hold that many.
    #[inline]
    pub fn len_u16(&mut self, min_item_bytes: usize) -> Result<usize, DecodeError> {
        let at = self.offset();
        let n = self.u16()?;
        self.bounded(at, n.into(), min_item_bytes)
    }

    /// A `u32` count of items taking at least `min_item_bytes` each,
    /// refused (before anything is allocated) if the remaining bytes could
    /// not hold that many. With `min_item_bytes` 1 it is a byte length.
    #[inline]
    pub fn len_u32(&mut self, min_item_bytes: usize) -> Result<usize, DecodeError> {
        let at = self.offset();
        let n = self.u32()?;
        self.bounded(at, n.into(), min_item_bytes)
    }

    /// A `u64` count of items taking at least `min_item_bytes` each,
    /// refused (before anything is allocated) if the remaining bytes could
    /// not hold that many.
    #[inline]
    pub fn len_u64(&mut self, min_item_bytes: usize) -> Result<usize, DecodeError> {
        let at = self.offset();
        let n = self.u64()?;
        self.bounded(at, n, min_item_bytes)
    }

    /// Bytes behind a `u32` length prefix (as [`ByteWriter::bytes_u32`]
    /// writes them).
    #[inline]
    pub fn bytes_u32(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.len_u32(1)?;
        self.take(n)
    }

    /// The next `n` bytes as UTF-8 text.
    #[inline]
    pub fn str(&mut self, n: usize) -> Result<&'a str, DecodeError> {
        let at = self.offset();
        let raw = self.take(n)?;
        std::str::from_utf8(raw).map_err(|e| DecodeError::new(at + e.valid_up_to(), "invalid UTF-8"))
    }

    /// Checks that every byte has been read.
    #[inline]
    pub fn finish(&self) -> Result<(), DecodeError> {
        if self.rest.is_empty() { Ok(()) } else { Err(self.error(format!("{} trailing bytes", self.rest.len()))) }
    }
}

#[cfg(test)]
mod tests;
