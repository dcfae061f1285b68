//! The progress record that makes an interrupted import exact to rerun:
//! one small JSON file per input in `<dir>/import/`, named by the input's
//! fingerprint (its path, size and a BLAKE3 of its first MiB), rewritten
//! atomically before every log append. It says which lines are done and
//! which batch is in flight with the log's last sequence number before it;
//! a log batch is atomic and the data directory is locked while an import
//! runs, so the record right after `seq_before` in the log is the in-flight
//! batch's own if it landed, and another writer's (a later run, a server)
//! if it did not: the next run reads it and compares it with the marks of
//! the batch's first rows, exactly. See docs/import.md.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// Bytes of the input hashed into its fingerprint.
const HEAD_BYTES: u64 = 1 << 20;

/// Where an input stands.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Progress {
    /// Every line up to this one has been written or reported bad.
    pub(crate) done_through: u64,
    /// The whole input has been imported.
    pub(crate) complete: bool,
    /// The batch being appended, if one may be.
    pub(crate) in_flight: Option<InFlight>,
}

/// A batch sent to the log but not known to be acknowledged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct InFlight {
    /// The batch's last line: every line up to it is done once it lands.
    pub(crate) last_line: u64,
    /// The log's last sequence number before the batch.
    pub(crate) seq_before: u64,
    /// The marks of the batch's first rows (see `write::mark_of_row`): the
    /// first row record the log holds after `seq_before` carries one of
    /// them exactly when the batch landed.
    pub(crate) marks: Vec<u64>,
}

impl Progress {
    /// Resolves an in-flight batch: `landed` tells from the log whether it
    /// landed, and if so its lines are done. Returns whether it landed.
    ///
    /// # Errors
    /// What `landed` says when the log cannot tell (it was truncated past
    /// the batch).
    pub(crate) fn settle(&mut self, landed: impl FnOnce(&InFlight) -> Result<bool, String>) -> Result<bool, String> {
        let Some(f) = self.in_flight.take() else { return Ok(false) };
        match landed(&f) {
            Ok(true) => {
                self.done_through = self.done_through.max(f.last_line);
                Ok(true)
            }
            Ok(false) => Ok(false),
            Err(e) => {
                self.in_flight = Some(f);
                Err(e)
            }
        }
    }
}

/// One input's progress record on disk.
#[derive(Debug)]
pub(crate) struct Record {
    path: PathBuf,
    input: String,
    size: u64,
    head: String,
}

impl Record {
    /// The record of `input` in the data directory `dir`.
    pub(crate) fn for_input(dir: &Path, input: &Path) -> std::io::Result<Self> {
        let absolute = fs::canonicalize(input)?;
        let size = fs::metadata(&absolute)?.len();
        let mut head = Vec::new();
        File::open(&absolute)?.take(HEAD_BYTES).read_to_end(&mut head)?;
        let head = blake3::hash(&head).to_hex().to_string();
        let shown = absolute.display().to_string();
        let mut id = blake3::Hasher::new();
        id.update(shown.as_bytes());
        id.update(&size.to_le_bytes());
        id.update(head.as_bytes());
        let name = format!("{}.json", &id.finalize().to_hex()[..32]);
        Ok(Self { path: dir.join("import").join(name), input: shown, size, head })
    }

    /// The record's file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The stored progress (none yet: from the start).
    pub(crate) fn load(&self) -> Result<Progress, String> {
        let text = match fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Progress::default()),
            Err(e) => return Err(format!("{}: {e}", self.path.display())),
        };
        let damaged =
            || format!("{}: not an import progress record (delete it to import the file anew)", self.path.display());
        let v: Value = serde_json::from_str(&text).map_err(|_| damaged())?;
        let u = |name: &str| v.get(name).and_then(Value::as_u64);
        let in_flight = match v.get("in_flight") {
            None | Some(Value::Null) => None,
            Some(f) => Some(InFlight {
                last_line: f.get("last_line").and_then(Value::as_u64).ok_or_else(damaged)?,
                seq_before: f.get("seq_before").and_then(Value::as_u64).ok_or_else(damaged)?,
                marks: f
                    .get("marks")
                    .and_then(Value::as_array)
                    .ok_or_else(damaged)?
                    .iter()
                    .map(|m| m.as_u64().ok_or_else(damaged))
                    .collect::<Result<_, _>>()?,
            }),
        };
        Ok(Progress {
            done_through: u("done_through").ok_or_else(damaged)?,
            complete: v.get("complete").and_then(Value::as_bool).ok_or_else(damaged)?,
            in_flight,
        })
    }

    /// Writes `progress` atomically and durably: a temporary file, synced,
    /// renamed over the record, and the directory synced.
    pub(crate) fn store(&self, progress: &Progress) -> std::io::Result<()> {
        let dir = self.path.parent().unwrap_or_else(|| Path::new("."));
        fs::create_dir_all(dir)?;
        let value = json!({
            "input": self.input,
            "size": self.size,
            "head_blake3": self.head,
            "done_through": progress.done_through,
            "complete": progress.complete,
            "in_flight": progress.in_flight.as_ref().map(|f| json!({
                "last_line": f.last_line, "seq_before": f.seq_before, "marks": f.marks,
            })),
        });
        let temp = self.path.with_extension("json.tmp");
        let mut file = File::create(&temp)?;
        file.write_all(value.to_string().as_bytes())?;
        file.sync_all()?;
        fs::rename(&temp, &self.path)?;
        File::open(dir)?.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_and_settles() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.jsonl");
        fs::write(&input, "{}\n").unwrap();
        let record = Record::for_input(dir.path(), &input).unwrap();
        assert_eq!(record.load().unwrap(), Progress::default());
        let flight = InFlight { last_line: 9, seq_before: 40, marks: vec![u64::MAX, 3] };
        let p = Progress { done_through: 7, complete: false, in_flight: Some(flight) };
        record.store(&p).unwrap();
        let mut back = record.load().unwrap();
        assert_eq!(back, p);
        let mut not = back.clone();
        assert_eq!(not.settle(|_| Ok(false)), Ok(false));
        assert_eq!((not.done_through, not.in_flight), (7, None));
        let mut unknown = back.clone();
        assert!(unknown.settle(|_| Err("truncated".into())).is_err());
        assert_eq!(unknown, p, "an unsettled batch stays in flight");
        assert_eq!(back.settle(|f| Ok(f.marks == [u64::MAX, 3])), Ok(true));
        assert_eq!((back.done_through, back.in_flight), (9, None));
        fs::write(&input, "{}\n{}\n").unwrap();
        assert_ne!(
            Record::for_input(dir.path(), &input).unwrap().path(),
            record.path(),
            "a changed file is another input"
        );
    }
}
