//! Snapshot tests of the parser: parse trees (as `Debug` and as canonical
//! text), error messages with their caret excerpts, the sort-mode window
//! rule, and the limits, each at N and N + 1.
//!
//! The snapshots are `expect-test` literals: when an output changes on
//! purpose, `UPDATE_EXPECT=1 cargo test -p tidal-query --test parse`
//! rewrites them in place, and the diff shows what changed.

#![allow(clippy::unwrap_used)] // Reason: test helpers fail the test by panicking, with the error shown.
#![allow(clippy::needless_raw_string_hashes)] // Reason: expect-test writes snapshots as r#"..."#, and re-blessing rewrites them so.

use expect_test::{Expect, expect};
use tidal_query::{MAX_LIMIT, MAX_NESTING, MAX_STATEMENT_BYTES, Retrieve, Statement, parse};
use tidal_schema::Window;

/// Parses `input`, compares the canonical print with `expect`, and checks
/// that the canonical form parses back to the same tree.
fn check(input: &str, expect: &Expect) {
    let stmt = parse(input).unwrap_or_else(|e| panic!("{input:?} did not parse:\n{e}"));
    expect.assert_eq(&stmt.to_string());
    assert_eq!(parse(&stmt.to_string()).unwrap(), stmt, "the canonical form parses to the same tree");
}

/// Parses `input`, expecting the error `expect` (message, excerpt, caret).
fn check_error(input: &str, expect: &Expect) {
    match parse(input) {
        Ok(s) => panic!("{input:?} parsed as {s}"),
        Err(e) => expect.assert_eq(&e.to_string()),
    }
}

#[test]
fn the_seed_query_as_a_tree() {
    let stmt = parse(
        "RETRIEVE items FOR USER 'u_123' USING PROFILE for_you FILTER unseen \
         DIVERSITY max_per_creator:2 LIMIT 50",
    )
    .unwrap();
    expect![[r#"
        Retrieve(
            Retrieve {
                user: Some(
                    Name(
                        "u_123",
                    ),
                ),
                context: [],
                order: Some(
                    Profile(
                        "for_you",
                    ),
                ),
                predicate: None,
                filters: [
                    Unseen,
                ],
                within: None,
                diversity: [
                    MaxPer {
                        field: "creator",
                        max: 2,
                    },
                ],
                limit: Some(
                    50,
                ),
                cursor: None,
                seed: None,
                at: None,
            },
        )
    "#]]
    .assert_debug_eq(&stmt);
}

#[test]
fn a_predicate_as_a_tree() {
    let stmt = parse("RETRIEVE items WHERE NOT (a = 1 OR b IN ('x', 'y')) AND tags CONTAINS 'jazz'").unwrap();
    let Statement::Retrieve(r) = stmt else { panic!("not a retrieve") };
    expect![[r#"
        And(
            Not(
                Or(
                    Compare {
                        field: "a",
                        op: Eq,
                        value: Int(
                            1,
                        ),
                    },
                    In {
                        field: "b",
                        values: [
                            Str(
                                "x",
                            ),
                            Str(
                                "y",
                            ),
                        ],
                        negated: false,
                    },
                ),
            ),
            Contains {
                field: "tags",
                value: Str(
                    "jazz",
                ),
            },
        )
    "#]]
    .assert_debug_eq(&r.predicate.unwrap());
}

#[test]
fn canonical_forms() {
    check("RETRIEVE items SORT BY top_week", &expect!["RETRIEVE items SORT BY top_week"]);
    check("RETRIEVE items SORT BY decayed(like) LIMIT 5", &expect!["RETRIEVE items SORT BY decayed(like) LIMIT 5"]);
    check("RETRIEVE items SORT BY trending:1h", &expect!["RETRIEVE items SORT BY trending:1h"]);
    check(
        "RETRIEVE items LIMIT 10 FOR USER 42 CONTEXT device:\"mobile\", hour:9, beta:true",
        &expect!["RETRIEVE items FOR USER 42 CONTEXT device:'mobile', hour:9, beta:true LIMIT 10"],
    );
    check(
        "RETRIEVE items WHERE (a = 1 OR b = 2) AND NOT c >= 2.5 OR d <> 'it''s'",
        &expect!["RETRIEVE items WHERE (a = 1 OR b = 2) AND NOT c >= 2.5 OR d != 'it''s'"],
    );
    check(
        "RETRIEVE items WHERE a = 1 AND (b = 2 AND c = 3)",
        &expect!["RETRIEVE items WHERE a = 1 AND (b = 2 AND c = 3)"],
    );
    check(
        "RETRIEVE items WHERE published_at > 24h AGO AND format NOT IN ('a', 'b')",
        &expect!["RETRIEVE items WHERE published_at > 1d AGO AND format NOT IN ('a', 'b')"],
    );
    check(
        "RETRIEVE items FILTER unseen, not_hidden, following WITHIN TRENDING WINDOW 1h \
         DIVERSITY max_per_creator:2, format_mix:format",
        &expect![
            "RETRIEVE items FILTER unseen, not_hidden, following WITHIN TRENDING WINDOW 1h DIVERSITY max_per_creator:2, format_mix:format"
        ],
    );
    check(
        "RETRIEVE items WITHIN TRENDING COHORT region:eu, age:'18-24'",
        &expect!["RETRIEVE items WITHIN TRENDING COHORT region:'eu', age:'18-24'"],
    );
    check(
        "RETRIEVE items SEED 7 AT 1700000000.25 CURSOR 'c2abc'",
        &expect!["RETRIEVE items SEED 7 AT 1700000000.25 CURSOR 'c2abc'"],
    );
    check("RETRIEVE items AT 5m AGO", &expect!["RETRIEVE items AT 5m AGO"]);
    check(
        "SEARCH items QUERY \"jazz piano\" NEAR [0.5, -1, 2e-3] FOR USER 'ada' LIMIT 5",
        &expect!["SEARCH items QUERY 'jazz piano' NEAR [0.5, -1.0, 0.002] FOR USER 'ada' LIMIT 5"],
    );
    check("SEARCH items QUERY 'x' LIKE 'video-1'", &expect!["SEARCH items QUERY 'x' LIKE 'video-1'"]);
    check("SUGGEST items PREFIX 'ja' LIMIT 5", &expect!["SUGGEST items PREFIX 'ja' LIMIT 5"]);
    check(
        "SIGNAL like ITEM 'video-1' USER 'ada' WEIGHT 2 AT 1700000000",
        &expect!["SIGNAL like ITEM 'video-1' USER 'ada' WEIGHT 2.0 AT 1700000000"],
    );
    check(
        "EXPLAIN ANALYZE RETRIEVE items -- a comment\n USING PROFILE 'for_you'",
        &expect!["EXPLAIN ANALYZE RETRIEVE items USING PROFILE for_you"],
    );
    check("RETRIEVE items WHERE 'not' = 1", &expect!["RETRIEVE items WHERE 'not' = 1"]);
}

/// A `WINDOW` clause folds into the mode, so every spelling of one ordering
/// prints the same; a mode that already names its window (`:<window>` or
/// `top_<period>`) accepts only a `WINDOW` clause that agrees with it.
#[test]
fn sort_windows_have_one_canonical_spelling() {
    check("retrieve ITEMS sort by Trending window 1h;", &expect!["RETRIEVE items SORT BY trending:1h"]);
    check("RETRIEVE items SORT BY 'trending:1h'", &expect!["RETRIEVE items SORT BY trending:1h"]);
    check("RETRIEVE items SORT BY trending:1h WINDOW 1h", &expect!["RETRIEVE items SORT BY trending:1h"]);
    check("RETRIEVE items SORT BY trending:24h WINDOW 1d", &expect!["RETRIEVE items SORT BY trending:1d"]);
    check("RETRIEVE items SORT BY trending", &expect!["RETRIEVE items SORT BY trending:1d"]);
    check("RETRIEVE items SORT BY top WINDOW 3d", &expect!["RETRIEVE items SORT BY top:3d"]);
    check("RETRIEVE items SORT BY top WINDOW 1d", &expect!["RETRIEVE items SORT BY top_day"]);
    check("RETRIEVE items SORT BY top_day WINDOW 24h", &expect!["RETRIEVE items SORT BY top_day"]);
    check("RETRIEVE items SORT BY rising WINDOW all", &expect!["RETRIEVE items SORT BY rising:all"]);

    let folded = parse("RETRIEVE items SORT BY trending WINDOW 1h").unwrap();
    assert_eq!(folded, parse("RETRIEVE items SORT BY trending:1h").unwrap());
    assert_ne!(folded, parse("RETRIEVE items SORT BY trending").unwrap(), "the window is not dropped");
    // The builder's window equals the parsed suffix and prints the same way.
    let built = Retrieve::sort_by("trending").unwrap().window(Window::HOUR);
    assert_eq!(Statement::Retrieve(built.clone()), folded);
    assert_eq!(built.to_string(), folded.to_string());
    assert_ne!(Retrieve::sort_by("trending").unwrap().window(Window::DAY), built);
    // A window on a mode that takes none is printed as built, so that
    // parsing it back reports the mistake instead of dropping the window.
    let windowless = Retrieve::sort_by("hot").unwrap().window(Window::HOUR);
    assert!(parse(&windowless.to_string()).is_err(), "{windowless}");
}

#[test]
fn a_window_contradicting_the_modes_own_is_refused_at_the_clause() {
    check_error(
        "RETRIEVE items SORT BY trending:1h WINDOW 1d",
        &expect![[r#"
            sort mode trending:1h already names its window; WINDOW 1d contradicts it (write trending:1d) at line 1, column 36
              RETRIEVE items SORT BY trending:1h WINDOW 1d
                                                 ^^^^^^^^^"#]],
    );
    check_error(
        "RETRIEVE items SORT BY 'Trending:1h' WINDOW 7d LIMIT 5",
        &expect![[r#"
            sort mode trending:1h already names its window; WINDOW 1w contradicts it (write trending:1w) at line 1, column 38
              RETRIEVE items SORT BY 'Trending:1h' WINDOW 7d LIMIT 5
                                                   ^^^^^^^^^"#]],
    );
    check_error(
        "RETRIEVE items SORT BY top_day WINDOW 3d",
        &expect![[r#"
            sort mode top_day already names its window; WINDOW 3d contradicts it (write top:3d) at line 1, column 32
              RETRIEVE items SORT BY top_day WINDOW 3d
                                             ^^^^^^^^^"#]],
    );
    check_error(
        "RETRIEVE items SORT BY top_all_time WINDOW 1h",
        &expect![[r#"
            sort mode top_all_time already names its window; WINDOW 1h contradicts it (write top_hour) at line 1, column 37
              RETRIEVE items SORT BY top_all_time WINDOW 1h
                                                  ^^^^^^^^^"#]],
    );
    check_error(
        "RETRIEVE items\n  SORT BY most_liked:1h\n  WINDOW all",
        &expect![[r#"
            sort mode most_liked:1h already names its window; WINDOW all contradicts it (write most_liked:all) at line 3, column 3
                WINDOW all
                ^^^^^^^^^^"#]],
    );
}

#[test]
fn errors_point_at_the_problem() {
    check_error(
        "RETRIEVE items SORT BY hot WINDOW 1h",
        &expect![[r#"
            sort mode hot takes no WINDOW at line 1, column 28
              RETRIEVE items SORT BY hot WINDOW 1h
                                         ^^^^^^"#]],
    );
    check_error(
        "RETRIEVE items\n  FILTER unseen, unwatched",
        &expect![[r#"
            expected unseen, unliked, not_hidden, unblocked or following, found `unwatched` at line 2, column 18
                FILTER unseen, unwatched
                               ^^^^^^^^^"#]],
    );
    check_error(
        "RETRIEVE videos",
        &expect![[r#"
            expected `items` (the entity kind queries return), found `videos` at line 1, column 10
              RETRIEVE videos
                       ^^^^^^"#]],
    );
    check_error(
        "FETCH items",
        &expect![[r#"
            expected RETRIEVE, SEARCH, SUGGEST, SIGNAL or EXPLAIN, found `FETCH` at line 1, column 1
              FETCH items
              ^^^^^"#]],
    );
    check_error(
        "RETRIEVE items WHERE (a = 1",
        &expect![[r#"
            expected `)`, found the end of the statement at line 1, column 28
              RETRIEVE items WHERE (a = 1
                                         ^"#]],
    );
    check_error(
        "RETRIEVE items LIMIT 5 LIMIT 6",
        &expect![[r#"
            LIMIT given twice at line 1, column 24
              RETRIEVE items LIMIT 5 LIMIT 6
                                     ^^^^^"#]],
    );
    check_error(
        "RETRIEVE items USING PROFILE for_you SORT BY hot",
        &expect![[r#"
            USING PROFILE or SORT BY given twice; choose one order at line 1, column 38
              RETRIEVE items USING PROFILE for_you SORT BY hot
                                                   ^^^^"#]],
    );
    check_error(
        "RETRIEVE items GROUP BY x",
        &expect![[r#"
            expected a clause or the end of the statement, found `GROUP` at line 1, column 16
              RETRIEVE items GROUP BY x
                             ^^^^^"#]],
    );
    check_error(
        "EXPLAIN EXPLAIN RETRIEVE items",
        &expect![[r#"
            EXPLAIN cannot explain an EXPLAIN at line 1, column 9
              EXPLAIN EXPLAIN RETRIEVE items
                      ^^^^^^^"#]],
    );
    check_error(
        "RETRIEVE items FILTER unseen, unseen",
        &expect![[r#"
            filter unseen given twice at line 1, column 31
              RETRIEVE items FILTER unseen, unseen
                                            ^^^^^^"#]],
    );
}

#[test]
fn errors_point_at_bad_values() {
    check_error(
        "RETRIEVE items WHERE a = ",
        &expect![[r#"
            expected a value (a quoted string, number, true, false or <duration> AGO), found the end of the statement at line 1, column 26
              RETRIEVE items WHERE a =
                                       ^"#]],
    );
    check_error(
        "RETRIEVE items WHERE a = 'open",
        &expect![[r#"
            unterminated string at line 1, column 26
              RETRIEVE items WHERE a = 'open
                                       ^^^^^"#]],
    );
    check_error(
        "RETRIEVE items DIVERSITY max_per_creator:0",
        &expect![[r#"
            expected a count of at least 1, found number `0` at line 1, column 42
              RETRIEVE items DIVERSITY max_per_creator:0
                                                       ^"#]],
    );
    check_error(
        "RETRIEVE items WITHIN TRENDING WINDOW 3 parsecs",
        &expect![[r#"
            expected a window such as 1h, 24h, 7d or all, found number `3` at line 1, column 39
              RETRIEVE items WITHIN TRENDING WINDOW 3 parsecs
                                                    ^"#]],
    );
    check_error(
        "SIGNAL like ITEM 1 WEIGHT -1",
        &expect![[r#"
            a weight must be a finite, non-negative number at line 1, column 27
              SIGNAL like ITEM 1 WEIGHT -1
                                        ^^"#]],
    );
}

#[test]
fn limit_is_accepted_at_the_maximum_and_refused_above() {
    assert!(parse(&format!("RETRIEVE items LIMIT {MAX_LIMIT}")).is_ok());
    check_error(
        &format!("RETRIEVE items LIMIT {}", MAX_LIMIT + 1),
        &expect![[r#"
            LIMIT 10001 is above the maximum of 10000 at line 1, column 22
              RETRIEVE items LIMIT 10001
                                   ^^^^^"#]],
    );
    check_error(
        "RETRIEVE items LIMIT 0",
        &expect![[r#"
            LIMIT must be at least 1 at line 1, column 22
              RETRIEVE items LIMIT 0
                                   ^"#]],
    );
    assert!(parse("RETRIEVE items LIMIT 99999999999999999999999").is_err());
    // A negative LIMIT is not "above the maximum", however many digits.
    check_error(
        "RETRIEVE items LIMIT -1",
        &expect![[r#"
            LIMIT must be a positive integer, not -1 at line 1, column 22
              RETRIEVE items LIMIT -1
                                   ^^"#]],
    );
    let e = parse("SUGGEST items PREFIX 'ja' LIMIT -99999999999999999999999").unwrap_err();
    assert_eq!(e.message, "LIMIT must be a positive integer, not -99999999999999999999999");
}

#[test]
fn nesting_is_accepted_at_the_maximum_and_refused_above() {
    let nested = |depth: usize| format!("RETRIEVE items WHERE {}a = 1{}", "(".repeat(depth), ")".repeat(depth));
    assert!(parse(&nested(MAX_NESTING)).is_ok());
    let e = parse(&nested(MAX_NESTING + 1)).unwrap_err();
    assert_eq!(e.message, "predicate nested deeper than 64 levels");
    assert_eq!(e.span.start, "RETRIEVE items WHERE ".len() + MAX_NESTING);
    let nots = |depth: usize| format!("RETRIEVE items WHERE {}a = 1", "NOT ".repeat(depth));
    assert!(parse(&nots(MAX_NESTING)).is_ok());
    assert!(parse(&nots(MAX_NESTING + 1)).is_err());
    // Long flat chains are not nesting.
    let flat = format!("RETRIEVE items WHERE a = 1{}", " AND a = 1".repeat(1000));
    assert!(parse(&flat).is_ok());
}

#[test]
fn statement_size_is_accepted_at_the_maximum_and_refused_above() {
    let base = "RETRIEVE items WHERE title = ''";
    let at = |len: usize| format!("RETRIEVE items WHERE title = '{}'", "x".repeat(len - base.len()));
    assert_eq!(at(MAX_STATEMENT_BYTES).len(), MAX_STATEMENT_BYTES);
    assert!(parse(&at(MAX_STATEMENT_BYTES)).is_ok());
    let e = parse(&at(MAX_STATEMENT_BYTES + 1)).unwrap_err();
    assert_eq!(e.message, "statement is 65537 bytes, above the limit of 65536");
    assert_eq!(e.span.start, MAX_STATEMENT_BYTES);
    // The excerpt of a long line is cut around the caret.
    assert!(e.to_string().len() < 400, "{}", e.to_string().len());
}

#[test]
fn errors_never_echo_a_long_statement_whole() {
    // A 10 MiB statement on one line: refused for its size, with a short
    // excerpt around the limit, cut on both sides.
    let huge = format!("RETRIEVE items WHERE title = '{}'", "x".repeat(10 << 20));
    let e = parse(&huge).unwrap_err();
    let shown = e.to_string();
    assert!(shown.len() < 400, "{} bytes:\n{}", shown.len(), &shown[..shown.len().min(400)]);
    assert_eq!(e.column, MAX_STATEMENT_BYTES + 1);
    let excerpt = shown.lines().nth(1).unwrap();
    assert!(excerpt.starts_with("  …") && excerpt.ends_with('…'), "{excerpt}");

    // A 60 KiB word (under the size limit) is quoted in the message, and
    // underlined, only in part.
    let e = parse(&format!("RETRIEVE items SORT BY {}", "y".repeat(60 << 10))).unwrap_err();
    let shown = e.to_string();
    assert!(shown.len() < 1200, "{} bytes", shown.len());
    assert!(shown.starts_with(&format!("unknown sort mode `{}…` (expected one of", "y".repeat(40))), "{shown}");

    // An error inside a long line shows the text either side, cut.
    check_error(
        &format!("RETRIEVE items WHERE {0} AND title LIKE 'b' AND {0}", ["title = 'a'"; 10].join(" AND ")),
        &expect![[r#"
            expected a comparison (=, !=, <, <=, >, >=), IN, NOT IN or CONTAINS, found `LIKE` at line 1, column 188
              …' AND title = 'a' AND title = 'a' AND title = 'a' AND title LIKE 'b' AND title = 'a' AND title = 'a' AND title = 'a' AND tit…
                                                                           ^^^^"#]],
    );
}

#[test]
fn errors_on_later_lines_and_wide_characters() {
    let e = parse("RETRIEVE items\nWHERE title = 'café' AND\n  ? = 1").unwrap_err();
    assert_eq!((e.line, e.column), (3, 3));
    let e = parse("RETRIEVE items WHERE title = 'é' LIMIT x").unwrap_err();
    assert_eq!((e.line, e.column), (1, 40));
    assert!(e.to_string().ends_with(&format!("{}^", " ".repeat(2 + 39))));
}

/// `AT` takes a quoted RFC 3339 date-time besides epoch seconds and
/// `<duration> AGO`; it reads to the same instant and prints as seconds.
#[test]
fn at_accepts_rfc3339_times() {
    check("RETRIEVE items AT '1997-11-23T00:00:00Z'", &expect!["RETRIEVE items AT 880243200"]);
    check(
        "RETRIEVE items SORT BY top_day AT '2023-11-15T00:13:20.25+02:00' LIMIT 3",
        &expect!["RETRIEVE items SORT BY top_day LIMIT 3 AT 1700000000.25"],
    );
    check(
        "SIGNAL like ITEM 'video-1' AT '2023-11-14T17:13:20-05:00'",
        &expect!["SIGNAL like ITEM 'video-1' AT 1700000000"],
    );
    check("RETRIEVE items AT \"2024-02-29 12:00:00.000000001z\"", &expect!["RETRIEVE items AT 1709208000.000000001"]);
    check("RETRIEVE items AT '2554-07-21T23:34:33.709551615Z'", &expect!["RETRIEVE items AT 18446744073.709551615"]);
    assert_eq!(
        parse("RETRIEVE items AT '2023-11-14T22:13:20Z'").unwrap(),
        parse("RETRIEVE items AT 1700000000").unwrap()
    );
    let Statement::Retrieve(r) = parse("RETRIEVE items AT '1970-01-01T00:00:00.5Z'").unwrap() else { panic!() };
    expect![[r#"
        Some(
            At(
                Timestamp(
                    500000000,
                ),
            ),
        )
    "#]]
    .assert_debug_eq(&r.at);
    assert_eq!(
        Retrieve::items().at_rfc3339("2023-11-14T22:13:20Z").unwrap(),
        Retrieve::items().at(tidal_schema::Timestamp::from_secs(1_700_000_000))
    );
    let err = Retrieve::items().at_rfc3339("2023-02-29T00:00:00Z").unwrap_err();
    expect![[r#"invalid query: invalid RFC 3339 time "2023-02-29T00:00:00Z": day 29 is outside 2023-02 (01..=28)"#]]
        .assert_eq(&err.to_string());
}

#[test]
fn bad_rfc3339_times_point_at_the_field() {
    check_error(
        "RETRIEVE items AT '1997-02-30T00:00:00Z'",
        &expect![[r#"
        invalid RFC 3339 time: day 30 is outside 1997-02 (01..=28) at line 1, column 28
          RETRIEVE items AT '1997-02-30T00:00:00Z'
                                     ^^"#]],
    );
    check_error(
        "RETRIEVE items AT '1997-13-01T00:00:00Z'",
        &expect![[r#"
        invalid RFC 3339 time: month 13 is outside 01..=12 at line 1, column 25
          RETRIEVE items AT '1997-13-01T00:00:00Z'
                                  ^^"#]],
    );
    check_error(
        "RETRIEVE items AT '1997-11-23T00:00:00'",
        &expect![[r#"
        invalid RFC 3339 time: expected a time zone: Z for UTC or an offset such as +02:00 at line 1, column 39
          RETRIEVE items AT '1997-11-23T00:00:00'
                                                ^"#]],
    );
    check_error(
        "SIGNAL view ITEM 1 AT '1997-11-23T24:00:00Z'",
        &expect![[r#"
        invalid RFC 3339 time: hour 24 is outside 00..=23 at line 1, column 35
          SIGNAL view ITEM 1 AT '1997-11-23T24:00:00Z'
                                            ^^"#]],
    );
    check_error(
        "RETRIEVE items AT '1998-12-31T23:59:60Z'",
        &expect![[r#"
        invalid RFC 3339 time: leap second 60 is not supported: times count seconds as Unix time does at line 1, column 37
          RETRIEVE items AT '1998-12-31T23:59:60Z'
                                              ^^"#]],
    );
    check_error(
        "RETRIEVE items AT '1969-12-31T23:59:59Z'",
        &expect![[r#"
        invalid RFC 3339 time: time before 1970-01-01T00:00:00Z: tidalDB keeps no earlier times at line 1, column 20
          RETRIEVE items AT '1969-12-31T23:59:59Z'
                             ^^^^^^^^^^^^^^^^^^^^"#]],
    );
    check_error(
        "RETRIEVE items AT '2554-07-21T23:34:34Z'",
        &expect![[r#"
        invalid RFC 3339 time: time after 2554-07-21T23:34:33.709551615Z, the latest tidalDB keeps at line 1, column 20
          RETRIEVE items AT '2554-07-21T23:34:34Z'
                             ^^^^^^^^^^^^^^^^^^^^"#]],
    );
    check_error(
        "RETRIEVE items AT '1997-11-23'",
        &expect![[r#"
        invalid RFC 3339 time: expected a time after the date, such as T00:00:00Z at line 1, column 30
          RETRIEVE items AT '1997-11-23'
                                       ^"#]],
    );
    check_error(
        "RETRIEVE items AT 'tomorrow'",
        &expect![[r#"
        invalid RFC 3339 time: expected a four-digit year at line 1, column 20
          RETRIEVE items AT 'tomorrow'
                             ^"#]],
    );
    // A doubled quote inside: the caret spans the whole string.
    check_error(
        "RETRIEVE items AT '1997-11-23T00:00:00Z''x'",
        &expect![[r#"
        invalid RFC 3339 time: unexpected text after the time zone at line 1, column 19
          RETRIEVE items AT '1997-11-23T00:00:00Z''x'
                            ^^^^^^^^^^^^^^^^^^^^^^^^^"#]],
    );
    check_error(
        "RETRIEVE items AT now",
        &expect![[r#"
        expected a time (seconds since the epoch, a quoted RFC 3339 time such as '2024-01-01T00:00:00Z', or <duration> AGO), found `now` at line 1, column 19
          RETRIEVE items AT now
                            ^^^"#]],
    );
}

/// `count`, `sum`, `velocity` and `acceleration` of any signal by name,
/// with a window as the windowed modes take one.
#[test]
fn sort_modes_name_any_signal() {
    check("RETRIEVE items SORT BY count(comment)", &expect!["RETRIEVE items SORT BY count(comment):1d"]);
    check("RETRIEVE items SORT BY count(comment) WINDOW 7d", &expect!["RETRIEVE items SORT BY count(comment):1w"]);
    check("RETRIEVE items SORT BY count(comment):7d WINDOW 1w", &expect!["RETRIEVE items SORT BY count(comment):1w"]);
    check("RETRIEVE items SORT BY 'count(comment):7d'", &expect!["RETRIEVE items SORT BY count(comment):1w"]);
    check("RETRIEVE items SORT BY COUNT(comment) WINDOW all", &expect!["RETRIEVE items SORT BY count(comment):all"]);
    check("RETRIEVE items SORT BY Sum(share):1h", &expect!["RETRIEVE items SORT BY sum(share):1h"]);
    check("RETRIEVE items SORT BY velocity(view)", &expect!["RETRIEVE items SORT BY velocity(view):1d"]);
    check(
        "RETRIEVE items SORT BY acceleration(view) WINDOW 1d",
        &expect!["RETRIEVE items SORT BY acceleration(view):1d"],
    );
    check("RETRIEVE items SORT BY acceleration('view')", &expect!["RETRIEVE items SORT BY acceleration(view):1h"]);
    // The signal keeps its case, in either spelling.
    check("RETRIEVE items SORT BY Decayed(Like)", &expect!["RETRIEVE items SORT BY decayed(Like)"]);
    check("RETRIEVE items SORT BY 'Decayed(Like)'", &expect!["RETRIEVE items SORT BY decayed(Like)"]);
    assert_eq!(
        parse("RETRIEVE items SORT BY count(comment) WINDOW 7d").unwrap(),
        Statement::Retrieve(Retrieve::sort_by("count(comment)").unwrap().window(Window::WEEK))
    );
    let Statement::Retrieve(r) = parse("RETRIEVE items SORT BY velocity(view):1h").unwrap() else { panic!() };
    expect![[r#"
        Some(
            Sort {
                mode: Signal {
                    stat: Velocity,
                    signal: "view",
                    window: Window {
                        secs: Some(
                            3600,
                        ),
                    },
                },
                window: None,
            },
        )
    "#]]
    .assert_debug_eq(&r.order);
}

#[test]
fn by_name_mode_errors() {
    check_error(
        "RETRIEVE items SORT BY count(comment):1d WINDOW 7d",
        &expect![[r#"
        sort mode count(comment):1d already names its window; WINDOW 1w contradicts it (write count(comment):1w) at line 1, column 42
          RETRIEVE items SORT BY count(comment):1d WINDOW 7d
                                                   ^^^^^^^^^"#]],
    );
    check_error(
        "RETRIEVE items SORT BY decayed(like) WINDOW 1h",
        &expect![[r#"
        sort mode decayed(like) takes no WINDOW at line 1, column 38
          RETRIEVE items SORT BY decayed(like) WINDOW 1h
                                               ^^^^^^"#]],
    );
    check_error(
        "RETRIEVE items SORT BY decayed(like):1h",
        &expect![[r#"
        unknown sort mode `decayed(like):1h` (expected one of top_hour, top_day, top_week, top_month, top_year, top_all_time, best, hidden_gems, new, old, hot, trending, rising, gravity, most_viewed, most_liked, most_shared, most_commented, engagement_rate, completion_rate, decayed(<signal>), count(<signal>), sum(<signal>), velocity(<signal>), acceleration(<signal>), shortest, longest, alphabetical, shuffle, controversial) at line 1, column 24
          RETRIEVE items SORT BY decayed(like):1h
                                 ^^^^^^^^^^^^^^^^"#]],
    );
    check_error(
        "RETRIEVE items SORT BY max(like)",
        &expect![[r#"
        unknown sort mode `max(like)` (expected one of top_hour, top_day, top_week, top_month, top_year, top_all_time, best, hidden_gems, new, old, hot, trending, rising, gravity, most_viewed, most_liked, most_shared, most_commented, engagement_rate, completion_rate, decayed(<signal>), count(<signal>), sum(<signal>), velocity(<signal>), acceleration(<signal>), shortest, longest, alphabetical, shuffle, controversial) at line 1, column 24
          RETRIEVE items SORT BY max(like)
                                 ^^^^^^^^^"#]],
    );
    check_error(
        "RETRIEVE items SORT BY count()",
        &expect![[r#"
        expected a signal name, found `)` at line 1, column 30
          RETRIEVE items SORT BY count()
                                       ^"#]],
    );
    check_error(
        "RETRIEVE items SORT BY count(comment",
        &expect![[r#"
        expected `)`, found the end of the statement at line 1, column 37
          RETRIEVE items SORT BY count(comment
                                              ^"#]],
    );
}
