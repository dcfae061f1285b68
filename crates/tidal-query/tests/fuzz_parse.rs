//! Fuzz targets for the parser. Under `cargo test` they run briefly on
//! random inputs; `cargo bolero test fuzz_parse::<name>` runs them under a
//! coverage-guided fuzzer.
//!
//! Properties: parsing never panics; no input takes over 100 ms (the
//! parser is linear, so this catches a runaway loop or backtracking, not
//! slowness); whatever parses prints to a canonical form that parses back
//! to the same tree; every error points inside the input.

#![allow(clippy::unwrap_used)] // Reason: test helpers fail the test by panicking, with the error shown.

use std::time::{Duration, Instant};

use tidal_query::parse;

/// Fragments that make random inputs reach deep into the grammar.
const WORDS: [&str; 40] = [
    "RETRIEVE ",
    "items ",
    "SEARCH ",
    "QUERY ",
    "SUGGEST ",
    "PREFIX ",
    "SIGNAL ",
    "ITEM ",
    "USER ",
    "WEIGHT ",
    "EXPLAIN ",
    "ANALYZE ",
    "FOR ",
    "CONTEXT ",
    "USING ",
    "PROFILE ",
    "SORT ",
    "BY ",
    "WINDOW ",
    "WHERE ",
    "FILTER ",
    "WITHIN ",
    "TRENDING ",
    "COHORT ",
    "DIVERSITY ",
    "LIMIT ",
    "CURSOR ",
    "SEED ",
    "AT ",
    "AGO ",
    "AND ",
    "OR ",
    "NOT ",
    "IN ",
    "CONTAINS ",
    "max_per_creator:2 ",
    "24h ",
    "'x' ",
    "( ",
    ") ",
];

fn check(input: &str) {
    let start = Instant::now();
    let result = parse(input);
    let took = start.elapsed();
    assert!(took < Duration::from_millis(100), "{} bytes took {took:?}", input.len());
    match result {
        Ok(stmt) => {
            let text = stmt.to_string();
            assert_eq!(parse(&text).unwrap(), stmt, "canonical form {text:?} of {input:?}");
        }
        Err(e) => {
            assert!(e.span.start <= input.len() && e.span.end <= input.len(), "{e:?}");
            assert!(e.line >= 1 && e.column >= 1);
            let _ = e.to_string();
        }
    }
}

#[test]
fn parser_never_panics_on_raw_text() {
    bolero::check!().with_type::<String>().for_each(|s| check(s));
}

#[test]
fn parser_never_panics_on_keyword_soup() {
    bolero::check!().with_type::<Vec<(u8, u8)>>().for_each(|picks| {
        let mut s = String::new();
        for (word, noise) in picks {
            s.push_str(WORDS[usize::from(*word) % WORDS.len()]);
            match noise % 8 {
                0 => s.push_str(", "),
                1 => s.push_str("= 1 "),
                2 => s.push(':'),
                3 => s.push_str(&noise.to_string()),
                _ => {}
            }
        }
        check(&s);
    });
}

#[test]
fn worst_case_inputs_stay_fast() {
    let max = tidal_query::MAX_STATEMENT_BYTES;
    let cases = [
        "(".repeat(max),
        "NOT ".repeat(max / 4),
        format!("RETRIEVE items WHERE {}", "a = 1 AND ".repeat((max - 40) / 10)),
        format!("RETRIEVE items WHERE a IN ({}1)", "1, ".repeat((max - 40) / 3)),
        format!("'{}", "''".repeat(max / 2 - 1)),
        "-".repeat(max),
        "\n".repeat(max),
        "é".repeat(max / 2),
    ];
    for case in cases {
        check(&case);
    }
}
