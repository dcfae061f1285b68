//! The kill harness against a toy child: every acknowledgement reaches the
//! parent in order (the first one too, behind the test harness's own
//! words), the child's arguments arrive intact, and a child that stops
//! before it is killed fails the round with its stderr shown.

#![allow(clippy::unwrap_used)] // Reason: test code fails loudly.

use std::panic::{AssertUnwindSafe, catch_unwind};

use tidal_test_support::kill::{self, KillTest};

const CHILD_ENV: &str = "TIDAL_TEST_SUPPORT_KILL_CHILD";

/// Acknowledges `ACK 0`, `ACK 1`, … until killed, or gives up at once.
fn child(args: &[String]) -> ! {
    match args {
        [mode, extra] if mode == "forever" && extra == "two words: a/b" => {
            for i in 0u64.. {
                kill::report(&format!("ACK {i}\n"));
            }
            unreachable!("acknowledges until killed")
        }
        [mode] if mode == "quit" => {
            eprintln!("giving up on purpose");
            std::process::exit(0)
        }
        _ => {
            eprintln!("unexpected arguments {args:?}");
            std::process::exit(2)
        }
    }
}

#[test]
fn every_acknowledgement_arrives_in_order() {
    let mut harness = KillTest::new("every_acknowledgement_arrives_in_order", CHILD_ENV).kill_within(50).seed(1);
    if let Some(args) = harness.child_args() {
        child(&args);
    }
    for _ in 0..5 {
        let mut seen = Vec::new();
        let acks = harness.round(&[&"forever", &"two words: a/b"], |line| {
            line.strip_prefix("ACK ").map(|n| seen.push(n.parse::<u64>().unwrap())).is_some()
        });
        assert!(acks >= 1);
        assert_eq!(seen, (0..acks).collect::<Vec<_>>(), "acknowledgements lost, repeated or reordered");
    }
}

#[test]
fn a_child_that_stops_early_fails_the_round() {
    let mut harness = KillTest::new("a_child_that_stops_early_fails_the_round", CHILD_ENV);
    if let Some(args) = harness.child_args() {
        child(&args);
    }
    let panic =
        catch_unwind(AssertUnwindSafe(|| harness.round(&[&"quit"], |line| line.starts_with("ACK ")))).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains("the child died after 0 of"), "{message}");
    assert!(message.contains("giving up on purpose"), "the child's stderr is shown: {message}");
}

#[test]
fn soak_rounds_need_the_variable() {
    let expected = if std::env::var(kill::SOAK_ENV).is_ok_and(|v| v == "1") { 10 } else { 1 };
    assert_eq!(kill::rounds(1, 10), expected);
}
