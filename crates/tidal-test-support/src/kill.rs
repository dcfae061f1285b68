//! The SIGKILL crash harness: a test re-runs its own binary as a child
//! process that writes and prints an acknowledgement after each write
//! returns; the parent kills it with SIGKILL after a random number of
//! acknowledgements and hands every line the child printed — those read
//! before the kill and those still in the pipe — to the test, which then
//! reopens the store and checks that nothing acknowledged was lost.
//!
//! ```no_run
//! use tidal_test_support::kill::{self, KillTest};
//!
//! // The body of `#[test] fn kill_test()`.
//! let mut harness = KillTest::new("kill_test", "MY_KILL_CHILD").kill_within(400);
//! if let Some(args) = harness.child_args() {
//!     // The child: open the store at `args[0]`, write forever, and
//!     // `kill::report("ACK …\n")` after each write returns (here a
//!     // counter stands in for the writes).
//!     for n in 0u64.. {
//!         kill::report(&format!("ACK {n} in {}\n", args[0]));
//!     }
//! }
//! let dir = tempfile::tempdir().unwrap();
//! for _ in 0..kill::rounds(100, 1000) {
//!     let mut acked = Vec::new();
//!     harness.round(&[&dir.path().display()], |line| {
//!         line.strip_prefix("ACK ").map(|ack| acked.push(ack.to_owned())).is_some()
//!     });
//!     // Reopen the store in `dir` and check every entry of `acked`.
//! }
//! ```

use std::fmt::Display;
use std::io::{BufRead, BufReader, Read, Seek, Write};
use std::process::{Child, Command, Stdio};

use crate::SplitMix64;

/// The environment variable that turns on soak runs (`TIDAL_SOAK=1`).
pub const SOAK_ENV: &str = "TIDAL_SOAK";

/// Separates the child's arguments inside its one environment variable
/// (the ASCII unit separator, which no path or number contains).
const SEPARATOR: char = '\u{1f}';

/// How many rounds to run: `soak` with `TIDAL_SOAK=1`, else `default`.
pub fn rounds(default: u64, soak: u64) -> u64 {
    if std::env::var(SOAK_ENV).is_ok_and(|v| v == "1") { soak } else { default }
}

/// Writes `text` to stdout and flushes it at once, so the parent has read
/// every acknowledgement printed before a kill. Call it only after the
/// write it acknowledges has returned. Concurrent callers' texts never
/// interleave.
///
/// # Panics
///
/// If stdout is closed: the parent is gone, so the child has nothing left
/// to do.
pub fn report(text: &str) {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes()).and_then(|()| out.flush()).expect("the parent closed the child's stdout");
}

/// One kill test: the name of the `#[test]` function to re-run as the
/// child, the environment variable that tells the child it is one, and a
/// seeded choice of kill points.
#[derive(Debug)]
pub struct KillTest {
    test: &'static str,
    env: &'static str,
    max_acks: u64,
    rng: SplitMix64,
    round: u64,
}

impl KillTest {
    /// A harness for the `#[test] fn` named `test`, whose child finds its
    /// arguments in the environment variable `env`. Kills after 1 to 400
    /// acknowledgements, from a fixed seed.
    pub fn new(test: &'static str, env: &'static str) -> Self {
        Self { test, env, max_acks: 400, rng: SplitMix64::new(0x9E37_79B9_7F4A_7C15), round: 0 }
    }

    /// Kills each child after 1 to `max_acks` acknowledgements.
    #[must_use]
    pub fn kill_within(mut self, max_acks: u64) -> Self {
        self.max_acks = max_acks.max(1);
        self
    }

    /// Seeds the choice of kill points.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.rng = SplitMix64::new(seed);
        self
    }

    /// In the child, the arguments the parent passed to
    /// [`round`](Self::round); `None` in the parent. The test must become
    /// the child when it gets `Some` and never return.
    pub fn child_args(&self) -> Option<Vec<String>> {
        let spec = std::env::var(self.env).ok()?;
        Some(spec.split(SEPARATOR).map(str::to_owned).collect())
    }

    /// Runs one round: starts the child with `args` and passes each line it
    /// prints to `on_line`, which says whether the line was an
    /// acknowledgement; after a random number of those (see
    /// [`kill_within`](Self::kill_within)) SIGKILLs the child, then passes
    /// on the lines it had printed before it died, which were acknowledged
    /// too. Returns the number of acknowledgements.
    ///
    /// Lines reach `on_line` without the `test <name> ... ` prefix the test
    /// harness may print before the child's first line.
    ///
    /// # Panics
    ///
    /// If the child cannot be started, or exits before it was killed (it
    /// must write until killed: stopping early means it failed); the panic
    /// shows the child's stderr.
    pub fn round(&mut self, args: &[&dyn Display], mut on_line: impl FnMut(&str) -> bool) -> u64 {
        self.round += 1;
        let kill_after = 1 + self.rng.below(self.max_acks);
        let spec = args.iter().map(ToString::to_string).collect::<Vec<_>>().join(&SEPARATOR.to_string());
        let exe = std::env::current_exe().expect("the path of the running test binary");
        let mut stderr = tempfile::tempfile().expect("a temporary file for the child's stderr");
        let mut child = Reaper(
            Command::new(exe)
                .args(["--exact", self.test, "--nocapture", "--test-threads", "1"])
                .env(self.env, &spec)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(stderr.try_clone().expect("a second handle on the stderr file"))
                .spawn()
                .expect("starting the child test process"),
        );
        let prefix = format!("test {} ... ", self.test);
        let mut lines = BufReader::new(child.0.stdout.take().expect("the child's piped stdout")).lines();
        let mut feed = |line: &str| u64::from(on_line(line.strip_prefix(prefix.as_str()).unwrap_or(line)));
        let mut acks = 0;
        while acks < kill_after {
            let Some(Ok(line)) = lines.next() else { break };
            acks += feed(&line);
        }
        let died_early = acks < kill_after;
        child.0.kill().expect("SIGKILL the child");
        child.0.wait().expect("reaping the child");
        for line in lines.map_while(Result::ok) {
            acks += feed(&line);
        }
        if died_early {
            let mut text = String::new();
            let _ = stderr.rewind().and_then(|()| stderr.read_to_string(&mut text));
            panic!(
                "{} round {} ({spec:?}): the child died after {acks} of {kill_after} acknowledgements; its stderr:\n{text}",
                self.test,
                self.round,
                spec = spec.replace(SEPARATOR, " "),
            );
        }
        acks
    }
}

/// Kills and reaps the child however the round ends, so a failed check in
/// the parent never leaves a child writing.
struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
