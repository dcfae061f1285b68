//! Little-endian byte writing and bounds-checked, allocation-bounded reading
//! for the ledger's checkpoint format.

use crate::error::{Result, SignalError};

/// Appends little-endian values to a buffer.
pub(crate) struct Writer<'a>(pub(crate) &'a mut Vec<u8>);

impl Writer<'_> {
    pub(crate) fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub(crate) fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn f64(&mut self, v: f64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    /// A length prefix (`u32`); lengths in a checkpoint are far below 4 Gi.
    pub(crate) fn len(&mut self, n: usize) {
        self.u32(u32::try_from(n).unwrap_or(u32::MAX));
    }
}

/// Reads little-endian values, failing (never panicking) on short input.
pub(crate) struct Reader<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) offset: usize,
}

impl<'a> Reader<'a> {
    pub(crate) const fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, offset: 0 }
    }

    pub(crate) fn corrupt(&self, reason: impl Into<String>) -> SignalError {
        SignalError::CorruptCheckpoint { offset: self.offset as u64, reason: reason.into() }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end =
            self.offset.checked_add(n).filter(|e| *e <= self.bytes.len()).ok_or_else(|| self.corrupt("truncated"))?;
        let slice = &self.bytes[self.offset..end];
        self.offset = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }
    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    pub(crate) fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    pub(crate) fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_le_bytes(self.array()?))
    }

    /// A length prefix for items of at least `item_bytes` each, refused if
    /// the remaining input could not hold that many: a hostile checkpoint
    /// cannot make the decoder allocate more than the file's own size.
    pub(crate) fn len(&mut self, item_bytes: usize) -> Result<usize> {
        let n = self.u32()? as usize;
        let remaining = self.bytes.len() - self.offset;
        if n.saturating_mul(item_bytes.max(1)) > remaining {
            return Err(self.corrupt(format!("length {n} exceeds the remaining {remaining} bytes")));
        }
        Ok(n)
    }

    pub(crate) fn is_done(&self) -> bool {
        self.offset == self.bytes.len()
    }
}
