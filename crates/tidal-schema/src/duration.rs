//! Human-readable durations (`90s`, `6h`, `7d`) for schema files and queries.
//!
//! The grammar is one or more `<integer><unit>` terms, e.g. `1h30m`, with units
//! `ns`, `us`, `ms`, `s`, `m`, `h`, `d` (24 h) and `w` (7 d). Formatting picks the
//! largest unit that divides the value exactly, so `format(parse(s))` is a
//! canonical spelling and `parse(format(d)) == d` for every `Duration`.

use std::time::Duration;

use crate::error::SchemaError;

const UNITS: [(&str, u128); 8] = [
    ("w", 7 * 86_400 * NANOS_PER_SEC),
    ("d", 86_400 * NANOS_PER_SEC),
    ("h", 3_600 * NANOS_PER_SEC),
    ("m", 60 * NANOS_PER_SEC),
    ("s", NANOS_PER_SEC),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
];

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// Longest input [`parse_duration`] accepts; longer strings are rejected
/// before any work is done.
pub(crate) const MAX_DURATION_TEXT: usize = 64;

/// Parses a duration such as `24h`, `90s` or `1h30m`.
///
/// ```
/// use std::time::Duration;
/// use tidal_schema::parse_duration;
///
/// assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
/// assert!(parse_duration("3 parsecs").is_err());
/// ```
pub fn parse_duration(input: &str) -> Result<Duration, SchemaError> {
    let fail = |reason: &'static str| SchemaError::InvalidDuration { input: truncate(input), reason };
    if input.is_empty() {
        return Err(fail("empty"));
    }
    if input.len() > MAX_DURATION_TEXT {
        return Err(fail("too long"));
    }
    let mut rest = input;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(fail("expected a number"));
        }
        let (number, tail) = rest.split_at(digits);
        let value: u128 = number.parse().map_err(|_| fail("number too large"))?;
        let unit_len = tail.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, tail) = tail.split_at(unit_len);
        let scale = UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|(_, scale)| *scale)
            .ok_or_else(|| fail("unknown unit (use ns, us, ms, s, m, h, d or w)"))?;
        total = value.checked_mul(scale).and_then(|term| total.checked_add(term)).ok_or_else(|| fail("too large"))?;
        rest = tail;
    }
    let secs = u64::try_from(total / NANOS_PER_SEC).map_err(|_| fail("too large"))?;
    // The remainder of a division by 1e9 always fits in a u32.
    let nanos = u32::try_from(total % NANOS_PER_SEC).map_err(|_| fail("too large"))?;
    Ok(Duration::new(secs, nanos))
}

/// Formats a duration in the largest unit that divides it exactly (`0s` for zero).
///
/// ```
/// use std::time::Duration;
/// use tidal_schema::format_duration;
///
/// assert_eq!(format_duration(Duration::from_secs(86_400)), "1d");
/// assert_eq!(format_duration(Duration::from_secs(5400)), "90m");
/// ```
pub fn format_duration(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    let (unit, scale) = UNITS.iter().find(|(_, scale)| nanos.is_multiple_of(*scale)).copied().unwrap_or(("ns", 1));
    format!("{}{unit}", nanos / scale)
}

fn truncate(input: &str) -> String {
    input.chars().take(MAX_DURATION_TEXT).collect()
}

/// Serde adapter writing a `Duration` as its [`format_duration`] string.
pub(crate) mod serde_text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub(crate) fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::format_duration(*value))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::parse_duration(&text).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_every_unit_and_compound_terms() {
        let cases = [
            ("5ns", Duration::from_nanos(5)),
            ("7us", Duration::from_micros(7)),
            ("250ms", Duration::from_millis(250)),
            ("90s", Duration::from_secs(90)),
            ("15m", Duration::from_secs(900)),
            ("6h", Duration::from_secs(21_600)),
            ("7d", Duration::from_secs(604_800)),
            ("2w", Duration::from_secs(1_209_600)),
            ("1h30m", Duration::from_secs(5_400)),
            ("1d1ns", Duration::new(86_400, 1)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_duration(text).unwrap(), expected, "{text}");
        }
    }

    #[test]
    fn rejects_malformed_input() {
        for bad in ["", "h", "10", "10x", "1.5h", "-1h", "1h 30m", "99999999999999999999999999999999999999999w"] {
            assert!(matches!(parse_duration(bad), Err(SchemaError::InvalidDuration { .. })), "{bad:?} was accepted");
        }
        assert!(parse_duration(&"1".repeat(MAX_DURATION_TEXT + 1)).is_err());
    }

    #[test]
    fn formats_in_the_largest_exact_unit() {
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_duration(Duration::from_secs(3600)), "1h");
        assert_eq!(format_duration(Duration::from_secs(604_800)), "1w");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
    }

    proptest! {
        #[test]
        fn format_then_parse_is_identity(secs in 0u64..u64::MAX / 2, nanos in 0u32..1_000_000_000) {
            let d = Duration::new(secs, nanos);
            prop_assert_eq!(parse_duration(&format_duration(d)).unwrap(), d);
        }

        #[test]
        fn parse_never_panics(text in "\\PC{0,80}") {
            let _ = parse_duration(&text);
        }
    }
}
