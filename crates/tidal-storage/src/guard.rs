//! [`PanicGuard`]: the storage boundary's promise that no byte on disk makes
//! tidalDB panic. fjall and redb may panic on some damaged files (redb's
//! B-tree reaches `unreachable!` on a scrambled page); every call into an
//! engine runs inside [`PanicGuard::run`], which turns such a panic into
//! [`StorageError::Damaged`] naming the file and poisons the engine, so every
//! later call fails the same way instead of reading a half-updated
//! structure.
//!
//! This needs `panic = "unwind"` (Rust's default, and this workspace's in
//! every profile); with `abort` a dependency's panic would still end the
//! process.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

use crate::engine::KvIter;
use crate::error::{Result, StorageError};

/// Catches panics from an engine over one file or directory (see the module
/// docs).
#[derive(Debug)]
pub(crate) struct PanicGuard {
    file: PathBuf,
    damaged: Mutex<Option<String>>,
}

/// What a panic payload says.
fn message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

impl PanicGuard {
    pub(crate) fn new(file: &Path) -> Self {
        Self { file: file.to_path_buf(), damaged: Mutex::new(None) }
    }

    /// The file or directory this guard covers.
    pub(crate) fn file(&self) -> &Path {
        &self.file
    }

    /// The error every call returns once the engine is poisoned.
    fn damaged(&self, reason: String) -> StorageError {
        StorageError::Damaged { file: self.file.clone(), reason }
    }

    /// Runs `f`, turning a panic into [`StorageError::Damaged`] and
    /// poisoning the engine; fails at once if it is poisoned already.
    pub(crate) fn run<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        if let Some(reason) = self.damaged.lock().clone() {
            return Err(self.damaged(reason));
        }
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(result) => result,
            Err(payload) => {
                let reason = format!("the storage engine failed reading it ({})", message(payload.as_ref()));
                *self.damaged.lock() = Some(reason.clone());
                Err(self.damaged(reason))
            }
        }
    }

    /// `iter` with every step run through [`run`](Self::run); after a
    /// failure it ends.
    pub(crate) fn iter<'a>(&'a self, mut iter: KvIter<'a>) -> KvIter<'a> {
        let mut done = false;
        Box::new(std::iter::from_fn(move || {
            if done {
                return None;
            }
            match self.run(|| iter.next().transpose()) {
                Ok(item) => item.map(Ok),
                Err(e) => {
                    done = true;
                    Some(Err(e))
                }
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_a_damaged_error_and_poisons() {
        let guard = PanicGuard::new(Path::new("x.redb"));
        let err = guard.run::<()>(|| panic!("internal error: entered unreachable code")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("x.redb") && text.contains("unreachable"), "{text}");
        // Poisoned: even a call that would succeed fails the same way.
        assert!(matches!(guard.run(|| Ok(1)), Err(StorageError::Damaged { .. })));
    }

    #[test]
    fn an_iterator_that_panics_ends_with_the_error() {
        let guard = PanicGuard::new(Path::new("d"));
        let inner: KvIter<'_> =
            Box::new((0..3).map(|i| if i == 1 { panic!("bad page") } else { Ok((vec![i], vec![])) }));
        let got: Vec<_> = guard.iter(inner).collect();
        assert_eq!(got.len(), 2);
        assert!(got[0].is_ok());
        assert!(matches!(&got[1], Err(StorageError::Damaged { .. })));
    }
}
