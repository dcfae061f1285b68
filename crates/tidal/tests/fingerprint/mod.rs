//! Every file under a directory with the BLAKE3 of its bytes: what tests of
//! "this changes no byte" compare before and after.

#![allow(clippy::unwrap_used, dead_code)] // Reason: test code fails loudly; each test binary uses a part.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every file under `dir` (relative path) with the BLAKE3 of its bytes.
pub(crate) fn fingerprint(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let hash = blake3::hash(&std::fs::read(&p).unwrap()).to_hex().to_string();
                out.insert(p.strip_prefix(dir).unwrap().to_path_buf(), hash);
            }
        }
    }
    out
}
