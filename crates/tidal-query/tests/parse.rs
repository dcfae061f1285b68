//! Snapshot tests of the parser: parse trees (as `Debug` and as canonical
//! text), error messages with their caret excerpts, and the limits, each at
//! N and N + 1.

#![allow(clippy::unwrap_used)] // Reason: test helpers fail the test by panicking, with the error shown.

use tidal_query::{MAX_LIMIT, MAX_NESTING, MAX_STATEMENT_BYTES, parse};

/// Parses `input` and compares the canonical print with `expect`.
fn check(input: &str, expect: &str) {
    let stmt = parse(input).unwrap_or_else(|e| panic!("{input:?} did not parse:\n{e}"));
    assert_eq!(stmt.to_string(), expect, "canonical form of {input:?}");
    assert_eq!(parse(&stmt.to_string()).unwrap(), stmt, "the canonical form parses to the same tree");
}

/// Parses `input`, expecting the error `expect` (message, excerpt, caret).
fn check_error(input: &str, expect: &str) {
    match parse(input) {
        Ok(s) => panic!("{input:?} parsed as {s}"),
        Err(e) => assert_eq!(e.to_string(), expect, "error for {input:?}"),
    }
}

#[test]
fn the_seed_query_as_a_tree() {
    let stmt = parse(
        "RETRIEVE items FOR USER 'u_123' USING PROFILE for_you FILTER unseen \
         DIVERSITY max_per_creator:2 LIMIT 50",
    )
    .unwrap();
    assert_eq!(
        format!("{stmt:#?}"),
        r#"Retrieve(
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
)"#
    );
}

#[test]
fn a_predicate_as_a_tree() {
    let stmt = parse("RETRIEVE items WHERE NOT (a = 1 OR b IN ('x', 'y')) AND tags CONTAINS 'jazz'").unwrap();
    let tidal_query::Statement::Retrieve(r) = stmt else { panic!("not a retrieve") };
    assert_eq!(
        format!("{:?}", r.predicate.unwrap()),
        "And(Not(Or(Compare { field: \"a\", op: Eq, value: Int(1) }, \
         In { field: \"b\", values: [Str(\"x\"), Str(\"y\")], negated: false })), \
         Contains { field: \"tags\", value: Str(\"jazz\") })"
    );
}

#[test]
fn canonical_forms() {
    check("retrieve ITEMS sort by Trending window 1h;", "RETRIEVE items SORT BY trending:1d WINDOW 1h");
    check("RETRIEVE items SORT BY top_week", "RETRIEVE items SORT BY top_week");
    check("RETRIEVE items SORT BY decayed(like) LIMIT 5", "RETRIEVE items SORT BY decayed(like) LIMIT 5");
    check("RETRIEVE items SORT BY trending:1h", "RETRIEVE items SORT BY trending:1h");
    check(
        "RETRIEVE items LIMIT 10 FOR USER 42 CONTEXT device:\"mobile\", hour:9, beta:true",
        "RETRIEVE items FOR USER 42 CONTEXT device:'mobile', hour:9, beta:true LIMIT 10",
    );
    check(
        "RETRIEVE items WHERE (a = 1 OR b = 2) AND NOT c >= 2.5 OR d <> 'it''s'",
        "RETRIEVE items WHERE (a = 1 OR b = 2) AND NOT c >= 2.5 OR d != 'it''s'",
    );
    check("RETRIEVE items WHERE a = 1 AND (b = 2 AND c = 3)", "RETRIEVE items WHERE a = 1 AND (b = 2 AND c = 3)");
    check(
        "RETRIEVE items WHERE published_at > 24h AGO AND format NOT IN ('a', 'b')",
        "RETRIEVE items WHERE published_at > 1d AGO AND format NOT IN ('a', 'b')",
    );
    check(
        "RETRIEVE items FILTER unseen, not_hidden, following WITHIN TRENDING WINDOW 1h \
         DIVERSITY max_per_creator:2, format_mix:format",
        "RETRIEVE items FILTER unseen, not_hidden, following WITHIN TRENDING WINDOW 1h \
         DIVERSITY max_per_creator:2, format_mix:format",
    );
    check(
        "RETRIEVE items WITHIN TRENDING COHORT region:eu, age:'18-24'",
        "RETRIEVE items WITHIN TRENDING COHORT region:'eu', age:'18-24'",
    );
    check(
        "RETRIEVE items SEED 7 AT 1700000000.25 CURSOR 'c2abc'",
        "RETRIEVE items SEED 7 AT 1700000000.25 CURSOR 'c2abc'",
    );
    check("RETRIEVE items AT 5m AGO", "RETRIEVE items AT 5m AGO");
    check(
        "SEARCH items QUERY \"jazz piano\" NEAR [0.5, -1, 2e-3] FOR USER 'ada' LIMIT 5",
        "SEARCH items QUERY 'jazz piano' NEAR [0.5, -1.0, 0.002] FOR USER 'ada' LIMIT 5",
    );
    check("SEARCH items QUERY 'x' LIKE 'video-1'", "SEARCH items QUERY 'x' LIKE 'video-1'");
    check("SUGGEST items PREFIX 'ja' LIMIT 5", "SUGGEST items PREFIX 'ja' LIMIT 5");
    check(
        "SIGNAL like ITEM 'video-1' USER 'ada' WEIGHT 2 AT 1700000000",
        "SIGNAL like ITEM 'video-1' USER 'ada' WEIGHT 2.0 AT 1700000000",
    );
    check(
        "EXPLAIN ANALYZE RETRIEVE items -- a comment\n USING PROFILE 'for_you'",
        "EXPLAIN ANALYZE RETRIEVE items USING PROFILE for_you",
    );
    check("RETRIEVE items WHERE 'not' = 1", "RETRIEVE items WHERE 'not' = 1");
}

#[test]
fn errors_point_at_the_problem() {
    check_error(
        "RETRIEVE items SORT BY hot WINDOW 1h",
        "sort mode hot takes no WINDOW at line 1, column 28\n  RETRIEVE items SORT BY hot WINDOW 1h\n                             ^^^^^^",
    );
    check_error(
        "RETRIEVE items\n  FILTER unseen, unwatched",
        "expected unseen, unliked, not_hidden, unblocked or following, found `unwatched` at line 2, column 18\n    \
         FILTER unseen, unwatched\n                   ^^^^^^^^^",
    );
    check_error(
        "RETRIEVE videos",
        "expected `items` (the entity kind queries return), found `videos` at line 1, column 10\n  \
         RETRIEVE videos\n           ^^^^^^",
    );
    check_error(
        "FETCH items",
        "expected RETRIEVE, SEARCH, SUGGEST, SIGNAL or EXPLAIN, found `FETCH` at line 1, column 1\n  FETCH items\n  ^^^^^",
    );
    check_error(
        "RETRIEVE items WHERE a = ",
        "expected a value (a quoted string, number, true, false or <duration> AGO), found the end of the statement \
         at line 1, column 26\n  RETRIEVE items WHERE a =\n                           ^",
    );
    check_error(
        "RETRIEVE items WHERE (a = 1",
        "expected `)`, found the end of the statement at line 1, column 28\n  RETRIEVE items WHERE (a = 1\n                             ^",
    );
    check_error(
        "RETRIEVE items LIMIT 5 LIMIT 6",
        "LIMIT given twice at line 1, column 24\n  RETRIEVE items LIMIT 5 LIMIT 6\n                         ^^^^^",
    );
    check_error(
        "RETRIEVE items USING PROFILE for_you SORT BY hot",
        "USING PROFILE or SORT BY given twice; choose one order at line 1, column 38\n  \
         RETRIEVE items USING PROFILE for_you SORT BY hot\n                                       ^^^^",
    );
    check_error(
        "RETRIEVE items WHERE a = 'open",
        "unterminated string at line 1, column 26\n  RETRIEVE items WHERE a = 'open\n                           ^^^^^",
    );
    check_error(
        "RETRIEVE items GROUP BY x",
        "expected a clause or the end of the statement, found `GROUP` at line 1, column 16\n  \
         RETRIEVE items GROUP BY x\n                 ^^^^^",
    );
    check_error(
        "EXPLAIN EXPLAIN RETRIEVE items",
        "EXPLAIN cannot explain an EXPLAIN at line 1, column 9\n  EXPLAIN EXPLAIN RETRIEVE items\n          ^^^^^^^",
    );
    check_error(
        "RETRIEVE items DIVERSITY max_per_creator:0",
        "expected a count of at least 1, found number `0` at line 1, column 42\n  \
         RETRIEVE items DIVERSITY max_per_creator:0\n                                           ^",
    );
    check_error(
        "RETRIEVE items WITHIN TRENDING WINDOW 3 parsecs",
        "expected a window such as 1h, 24h, 7d or all, found number `3` at line 1, column 39\n  \
         RETRIEVE items WITHIN TRENDING WINDOW 3 parsecs\n                                        ^",
    );
    check_error(
        "RETRIEVE items FILTER unseen, unseen",
        "filter unseen given twice at line 1, column 31\n  RETRIEVE items FILTER unseen, unseen\n                                ^^^^^^",
    );
    check_error(
        "SIGNAL like ITEM 1 WEIGHT -1",
        "a weight must be a finite, non-negative number at line 1, column 27\n  SIGNAL like ITEM 1 WEIGHT -1\n                            ^^",
    );
}

#[test]
fn limit_is_accepted_at_the_maximum_and_refused_above() {
    assert!(parse(&format!("RETRIEVE items LIMIT {MAX_LIMIT}")).is_ok());
    check_error(
        &format!("RETRIEVE items LIMIT {}", MAX_LIMIT + 1),
        "LIMIT 10001 is above the maximum of 10000 at line 1, column 22\n  RETRIEVE items LIMIT 10001\n                       ^^^^^",
    );
    check_error(
        "RETRIEVE items LIMIT 0",
        "LIMIT must be at least 1 at line 1, column 22\n  RETRIEVE items LIMIT 0\n                       ^",
    );
    assert!(parse("RETRIEVE items LIMIT 99999999999999999999999").is_err());
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
fn errors_on_later_lines_and_wide_characters() {
    let e = parse("RETRIEVE items\nWHERE title = 'café' AND\n  ? = 1").unwrap_err();
    assert_eq!((e.line, e.column), (3, 3));
    let e = parse("RETRIEVE items WHERE title = 'é' LIMIT x").unwrap_err();
    assert_eq!((e.line, e.column), (1, 40));
    assert!(e.to_string().ends_with(&format!("{}^", " ".repeat(2 + 39))));
}
