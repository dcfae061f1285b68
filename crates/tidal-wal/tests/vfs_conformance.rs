//! One conformance suite for the [`Vfs`] boundary, run against the real file
//! system and against [`MemFs`], so tests on `MemFs` mean something for disks.

#![allow(clippy::unwrap_used)] // Reason: test helpers fail the test by panicking, with the error shown.

use std::io::ErrorKind;
use std::path::Path;

use tidal_test_support::MemFs;
use tidal_wal::{StdFs, Vfs};

fn conformance(fs: &dyn Vfs, root: &Path) {
    let dir = root.join("a/b");
    fs.create_dir_all(&dir).unwrap();
    fs.create_dir_all(&dir).unwrap(); // idempotent
    assert!(fs.list(&dir).unwrap().is_empty());

    // Appends accumulate; a reopened file appends at its end.
    let file = dir.join("seg");
    let mut f = fs.open_append(&file).unwrap();
    f.append(b"hello").unwrap();
    f.append(b" world").unwrap();
    f.sync_data().unwrap();
    drop(f);
    let mut f = fs.open_append(&file).unwrap();
    f.append(b"!").unwrap();
    drop(f);
    assert_eq!(fs.read(&file).unwrap(), b"hello world!");
    fs.sync_dir(&dir).unwrap();

    // Truncation shortens; it never lengthens.
    fs.truncate(&file, 5).unwrap();
    assert_eq!(fs.read(&file).unwrap(), b"hello");

    // Listing shows files by name, without directories.
    fs.create_dir_all(&dir.join("sub")).unwrap();
    let mut names = fs.list(&dir).unwrap();
    names.sort();
    assert_eq!(names, vec!["seg".to_owned()]);

    // Rename replaces the target.
    let other = dir.join("other");
    fs.open_append(&other).unwrap().append(b"old").unwrap();
    fs.rename(&file, &other).unwrap();
    assert_eq!(fs.read(&other).unwrap(), b"hello");
    assert_eq!(fs.read(&file).unwrap_err().kind(), ErrorKind::NotFound);

    // Atomic writes replace whole contents, twice over, leaving no temp file.
    let cp = dir.join("checkpoint");
    fs.write_atomic(&cp, b"first").unwrap();
    fs.write_atomic(&cp, b"second").unwrap();
    assert_eq!(fs.read(&cp).unwrap(), b"second");
    let mut names = fs.list(&dir).unwrap();
    names.sort();
    assert_eq!(names, vec!["checkpoint".to_owned(), "other".to_owned()]);

    // Removal, and the errors for missing things.
    fs.remove(&other).unwrap();
    assert_eq!(fs.remove(&other).unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(fs.read(&other).unwrap_err().kind(), ErrorKind::NotFound);
    assert!(fs.list(&root.join("missing")).is_err());
}

#[test]
fn std_fs_conforms() {
    let tmp = tempfile::tempdir().unwrap();
    conformance(&StdFs, tmp.path());
}

#[test]
fn mem_fs_conforms() {
    conformance(&MemFs::new(), Path::new("/root"));
}
