//! RFC 3339 date-times (`1997-11-23T00:00:00Z`, `2024-02-29T12:30:00.25+02:00`)
//! to [`Timestamp`]s, for `AT '<time>'`.
//!
//! The grammar is RFC 3339's `date-time`: `YYYY-MM-DD`, `T` (or `t`, or a
//! space, which the RFC allows for readability), `hh:mm:ss`, an optional
//! fraction of 1 to 9 digits (nanoseconds, the resolution of a
//! [`Timestamp`]), and a zone: `Z` (or `z`) or `+hh:mm` / `-hh:mm`
//! (`-00:00` reads as UTC). Every field is range-checked: month 1–12, the
//! day against its month (29 February only in leap years), hour 0–23,
//! minute and second 0–59, offsets up to ±23:59. Leap seconds (`:60`) are
//! refused: a [`Timestamp`] counts seconds without them, as Unix time does.
//! The instant must lie between the epoch and [`Timestamp::MAX`]
//! (2554-07-21T23:34:33.709551615Z).

use std::ops::Range;

use tidal_schema::Timestamp;

/// Why a time does not parse: the byte range of the text at fault and a
/// message naming what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TimeError {
    /// Bytes of the time text the error is about.
    pub(crate) at: Range<usize>,
    /// What is wrong.
    pub(crate) message: String,
}

const NANOS_PER_SEC: i128 = 1_000_000_000;

/// Parses an RFC 3339 date-time to the instant it names.
pub(crate) fn parse_rfc3339(text: &str) -> Result<Timestamp, TimeError> {
    let mut c = Cursor { text, pos: 0 };
    let year = c.digits(4, "a four-digit year")?;
    c.punct(b'-', "`-` after the year")?;
    let month_at = c.pos;
    let month = c.digits(2, "a two-digit month")?;
    if !(1..=12).contains(&month) {
        return Err(c.error_at(month_at, format!("month {month:02} is outside 01..=12")));
    }
    c.punct(b'-', "`-` after the month")?;
    let day_at = c.pos;
    let day = c.digits(2, "a two-digit day")?;
    let last = days_in_month(year, month);
    if !(1..=last).contains(&day) {
        return Err(c.error_at(day_at, format!("day {day:02} is outside {year:04}-{month:02} (01..={last})")));
    }
    match c.peek() {
        Some(b'T' | b't' | b' ') => c.pos += 1,
        None => return Err(c.error_here("a time after the date, such as T00:00:00Z")),
        Some(_) => return Err(c.error_here("`T` between the date and the time")),
    }
    let hour_at = c.pos;
    let hour = c.digits(2, "a two-digit hour")?;
    if hour > 23 {
        return Err(c.error_at(hour_at, format!("hour {hour:02} is outside 00..=23")));
    }
    c.punct(b':', "`:` after the hour")?;
    let minute_at = c.pos;
    let minute = c.digits(2, "two-digit minutes")?;
    if minute > 59 {
        return Err(c.error_at(minute_at, format!("minute {minute:02} is outside 00..=59")));
    }
    c.punct(b':', "`:` after the minutes (seconds are required)")?;
    let second_at = c.pos;
    let second = c.digits(2, "two-digit seconds")?;
    if second == 60 {
        return Err(
            c.error_at(second_at, "leap second 60 is not supported: times count seconds as Unix time does".into())
        );
    }
    if second > 59 {
        return Err(c.error_at(second_at, format!("second {second:02} is outside 00..=59")));
    }
    let mut nanos: i128 = 0;
    if c.peek() == Some(b'.') {
        c.pos += 1;
        let start = c.pos;
        while c.peek().is_some_and(|b| b.is_ascii_digit()) {
            c.pos += 1;
        }
        let frac = &text[start..c.pos];
        if frac.is_empty() {
            return Err(c.error_here("digits after the decimal point"));
        }
        if frac.len() > 9 {
            return Err(TimeError {
                at: start..c.pos,
                message: "at most 9 fractional digits (nanoseconds) are kept".into(),
            });
        }
        nanos = format!("{frac:0<9}").parse().unwrap_or(0);
    }
    let zone_at = c.pos;
    let offset_secs: i128 = match c.peek() {
        Some(b'Z' | b'z') => {
            c.pos += 1;
            0
        }
        Some(sign @ (b'+' | b'-')) => {
            c.pos += 1;
            let h = c.digits(2, "a two-digit offset hour")?;
            c.punct(b':', "`:` in the offset (+hh:mm)")?;
            let m = c.digits(2, "two-digit offset minutes")?;
            if h > 23 || m > 59 {
                return Err(c.error_at(zone_at, format!("offset {}{h:02}:{m:02} is outside ±23:59", sign as char)));
            }
            let secs = i128::from(h * 3600 + m * 60);
            if sign == b'-' { -secs } else { secs }
        }
        None => {
            return Err(c.error_here("a time zone: Z for UTC or an offset such as +02:00"));
        }
        Some(_) => return Err(c.error_here("a time zone (Z, or an offset such as +02:00)")),
    };
    if c.pos < text.len() {
        return Err(TimeError { at: c.pos..text.len(), message: "unexpected text after the time zone".into() });
    }
    let local = i128::from(days_from_civil(year, month, day)) * 86_400 + i128::from(hour * 3600 + minute * 60 + second);
    let total = (local - offset_secs) * NANOS_PER_SEC + nanos;
    let whole = 0..text.len();
    if total < 0 {
        return Err(TimeError {
            at: whole,
            message: "time before 1970-01-01T00:00:00Z: tidalDB keeps no earlier times".into(),
        });
    }
    u64::try_from(total).map(Timestamp::from_nanos).map_err(|_| TimeError {
        at: whole,
        message: "time after 2554-07-21T23:34:33.709551615Z, the latest tidalDB keeps".into(),
    })
}

struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    /// Exactly `n` ASCII digits, as a number.
    fn digits(&mut self, n: usize, what: &str) -> Result<u32, TimeError> {
        let bytes = self.text.as_bytes();
        let end = self.pos + n;
        if end > bytes.len() || !bytes[self.pos..end].iter().all(u8::is_ascii_digit) {
            return Err(self.error_here(what));
        }
        let value = self.text[self.pos..end].parse().unwrap_or(0);
        self.pos = end;
        Ok(value)
    }

    fn punct(&mut self, byte: u8, what: &str) -> Result<(), TimeError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error_here(what))
        }
    }

    /// "expected <what>", at the character at the cursor (or the end).
    fn error_here(&self, what: &str) -> TimeError {
        let width = self.text[self.pos..].chars().next().map_or(0, char::len_utf8);
        TimeError { at: self.pos..self.pos + width, message: format!("expected {what}") }
    }

    /// A range error about the two-digit field at `start`.
    fn error_at(&self, start: usize, message: String) -> TimeError {
        TimeError { at: start..self.pos.max(start + 2).min(self.text.len()), message }
    }
}

const fn is_leap(year: u32) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

const fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (negative
/// before it): Howard Hinnant's `days_from_civil`.
fn days_from_civil(year: u32, month: u32, day: u32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Reason: test code fails loudly.
mod tests {
    use super::*;

    proptest::proptest! {
        /// `Timestamp::rfc3339` (tidal-schema) and this parser are written
        /// independently; each is the other's oracle.
        #[test]
        fn printed_times_parse_back(nanos in 0..=u64::MAX) {
            let t = Timestamp::from_nanos(nanos);
            proptest::prop_assert_eq!(parse_rfc3339(&t.rfc3339()).ok(), Some(t), "{}", t.rfc3339());
        }
    }

    fn secs(text: &str) -> u64 {
        parse_rfc3339(text).unwrap_or_else(|e| panic!("{text}: {e:?}")).as_nanos() / 1_000_000_000
    }

    #[test]
    fn known_instants() {
        assert_eq!(secs("1970-01-01T00:00:00Z"), 0);
        assert_eq!(secs("1997-11-23T00:00:00Z"), 880_243_200);
        assert_eq!(secs("2023-11-14T22:13:20Z"), 1_700_000_000);
        assert_eq!(secs("2023-11-15T00:13:20+02:00"), 1_700_000_000);
        assert_eq!(secs("2023-11-14T17:13:20-05:00"), 1_700_000_000);
        assert_eq!(secs("2023-11-14t22:13:20z"), 1_700_000_000);
        assert_eq!(secs("2023-11-14 22:13:20-00:00"), 1_700_000_000);
        assert_eq!(secs("2000-02-29T00:00:00Z"), 951_782_400);
        assert_eq!(secs("2024-02-29T00:00:00Z"), 1_709_164_800);
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00.5Z").unwrap().as_nanos(), 500_000_000);
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00.000000001Z").unwrap().as_nanos(), 1);
        assert_eq!(parse_rfc3339("2554-07-21T23:34:33.709551615Z").unwrap(), Timestamp::MAX);
        // The offset moves the instant across the epoch.
        assert_eq!(secs("1970-01-01T01:00:00+01:00"), 0);
    }

    #[test]
    fn every_day_agrees_with_counting() {
        // Walk 1970..2400 day by day: the closed form matches a running count.
        let mut n = 0i64;
        for year in 1970..2400 {
            for month in 1..=12 {
                for day in 1..=days_in_month(year, month) {
                    assert_eq!(days_from_civil(year, month, day), n, "{year}-{month}-{day}");
                    n += 1;
                }
            }
        }
    }

    #[test]
    fn bad_fields_are_refused_with_their_position() {
        for (text, at, message) in [
            ("1997-02-30T00:00:00Z", 8..10, "day 30 is outside 1997-02 (01..=28)"),
            ("1900-02-29T00:00:00Z", 8..10, "day 29 is outside 1900-02 (01..=28)"),
            ("1997-13-01T00:00:00Z", 5..7, "month 13 is outside 01..=12"),
            ("1997-00-01T00:00:00Z", 5..7, "month 00 is outside 01..=12"),
            ("1997-04-31T00:00:00Z", 8..10, "day 31 is outside 1997-04 (01..=30)"),
            ("1997-11-23T24:00:00Z", 11..13, "hour 24 is outside 00..=23"),
            ("1997-11-23T00:60:00Z", 14..16, "minute 60 is outside 00..=59"),
            ("1997-11-23T00:00:61Z", 17..19, "second 61 is outside 00..=59"),
            ("1998-12-31T23:59:60Z", 17..19, "leap second 60 is not supported: times count seconds as Unix time does"),
            ("1997-11-23T00:00:00", 19..19, "expected a time zone: Z for UTC or an offset such as +02:00"),
            ("1997-11-23", 10..10, "expected a time after the date, such as T00:00:00Z"),
            ("1997-11-23T00:00Z", 16..17, "expected `:` after the minutes (seconds are required)"),
            ("1997-11-23T00:00:00.Z", 20..21, "expected digits after the decimal point"),
            ("1997-11-23T00:00:00.1234567891Z", 20..30, "at most 9 fractional digits (nanoseconds) are kept"),
            ("1997-11-23T00:00:00+2:00", 20..21, "expected a two-digit offset hour"),
            ("1997-11-23T00:00:00+24:00", 19..25, "offset +24:00 is outside ±23:59"),
            ("1997-11-23T00:00:00Z junk", 20..25, "unexpected text after the time zone"),
            ("97-11-23T00:00:00Z", 0..1, "expected a four-digit year"),
            ("yesterday", 0..1, "expected a four-digit year"),
            ("1969-12-31T23:59:59Z", 0..20, "time before 1970-01-01T00:00:00Z: tidalDB keeps no earlier times"),
            ("1970-01-01T00:30:00+01:00", 0..25, "time before 1970-01-01T00:00:00Z: tidalDB keeps no earlier times"),
            (
                "2554-07-21T23:34:33.709551616Z",
                0..30,
                "time after 2554-07-21T23:34:33.709551615Z, the latest tidalDB keeps",
            ),
            ("9999-12-31T23:59:59Z", 0..20, "time after 2554-07-21T23:34:33.709551615Z, the latest tidalDB keeps"),
        ] {
            let e = parse_rfc3339(text).unwrap_err();
            assert_eq!((e.at, e.message.as_str()), (at, message), "{text}");
        }
    }
}
