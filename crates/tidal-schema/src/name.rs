//! Identifier rules shared by every named thing in a schema.

use crate::error::Problem;
use crate::limits::MAX_NAME_LEN;

/// Checks that `name` is an identifier: 1 to 64 bytes of `[a-z0-9_]`, starting
/// with a letter. Lower case only, so names are unambiguous in queries and keys.
pub(crate) fn check_name(at: &str, name: &str, problems: &mut Vec<Problem>) -> bool {
    let reason = if name.is_empty() {
        Some("empty")
    } else if name.len() > MAX_NAME_LEN {
        Some("longer than 64 bytes")
    } else if !name.as_bytes()[0].is_ascii_lowercase() {
        Some("must start with a lower-case letter")
    } else if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
        Some("only a-z, 0-9 and _ are allowed")
    } else {
        None
    };
    if let Some(reason) = reason {
        let shown: String = name.chars().take(MAX_NAME_LEN + 8).collect();
        problems.push(Problem::InvalidName { at: at.to_owned(), name: shown, reason });
    }
    reason.is_none()
}

/// The smallest positive `f64` (a subnormal), for ranges open at zero.
pub(crate) const SMALLEST_POSITIVE: f64 = 5e-324;

/// Checks a weight-like number: finite and within `[min, MAX_WEIGHT]`.
pub(crate) fn check_range(
    at: &str,
    what: &'static str,
    value: f64,
    min: f64,
    max: f64,
    expected: &'static str,
    problems: &mut Vec<Problem>,
) -> bool {
    let ok = value.is_finite() && value >= min && value <= max;
    if !ok {
        problems.push(Problem::OutOfRange { at: at.to_owned(), what, value: format!("{value:?}"), expected });
    }
    ok
}

/// Checks that a list is no longer than `max`.
pub(crate) fn check_len(at: &str, what: &'static str, count: usize, max: usize, problems: &mut Vec<Problem>) {
    if count > max {
        problems.push(Problem::TooMany { at: at.to_owned(), what, count, max });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_identifiers_and_rejects_the_rest() {
        let mut problems = Vec::new();
        for good in ["a", "view", "age_group", "x9", &"a".repeat(MAX_NAME_LEN)] {
            assert!(check_name("t", good, &mut problems), "{good}");
        }
        assert!(problems.is_empty());
        for bad in ["", "View", "9a", "_a", "a-b", "a b", "é", &"a".repeat(MAX_NAME_LEN + 1)] {
            assert!(!check_name("t", bad, &mut problems), "{bad}");
        }
        assert_eq!(problems.len(), 8);
    }
}
