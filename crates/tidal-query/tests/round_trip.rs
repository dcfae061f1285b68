//! Property: printing a statement and parsing the text gives back the same
//! tree, for arbitrary trees of every statement kind.

#![allow(clippy::unwrap_used)] // Reason: test helpers fail the test by panicking, with the error shown.

use std::time::Duration;

use proptest::prelude::*;
use tidal_query::{
    CmpOp, Diversity, Filter, Key, Literal, Near, Order, Predicate, Retrieve, Search, SignalStmt, Statement, Suggest,
    TimeSpec, Within, parse,
};
use tidal_ranking::{MODE_NAMES, SortMode, WindowStat};
use tidal_schema::{EntityId, Timestamp, Window};

fn ident() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_][a-z0-9_]{0,8}",
        // Reserved words and odd names must survive by quoting.
        Just("not".to_owned()),
        Just("AND".to_owned()),
        "[a-z -]{1,6}",
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z '\"]{0,10}", any::<String>().prop_map(|s| s.chars().take(12).collect())]
}

fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        (1u64..100_000).prop_map(Duration::from_secs),
        (1u64..1_000_000).prop_map(Duration::from_millis),
        (1u64..1_000_000_000).prop_map(Duration::from_nanos),
    ]
}

fn window() -> impl Strategy<Value = Window> {
    prop_oneof![
        Just(Window::ALL_TIME),
        Just(Window::HOUR),
        Just(Window::DAY),
        (1u64..100_000).prop_map(|m| Window::custom(Duration::from_secs(m * 60)).unwrap()),
    ]
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        text().prop_map(Literal::Str),
        any::<i64>().prop_map(Literal::Int),
        any::<f64>().prop_filter("finite", |x| x.is_finite()).prop_map(Literal::Float),
        any::<bool>().prop_map(Literal::Bool),
        duration().prop_map(Literal::Ago),
    ]
}

fn key() -> impl Strategy<Value = Key> {
    prop_oneof![any::<u64>().prop_map(|n| Key::Id(EntityId(n))), text().prop_map(Key::Name)]
}

fn time() -> impl Strategy<Value = TimeSpec> {
    prop_oneof![
        (0u64..u64::MAX / 2).prop_map(|n| TimeSpec::At(Timestamp::from_nanos(n))),
        duration().prop_map(TimeSpec::Ago)
    ]
}

fn predicate() -> impl Strategy<Value = Predicate> {
    let op = prop_oneof![
        Just(CmpOp::Eq),
        Just(CmpOp::Ne),
        Just(CmpOp::Lt),
        Just(CmpOp::Le),
        Just(CmpOp::Gt),
        Just(CmpOp::Ge)
    ];
    let leaf = prop_oneof![
        (ident(), op, literal()).prop_map(|(field, op, value)| Predicate::Compare { field, op, value }),
        (ident(), prop::collection::vec(literal(), 1..4), any::<bool>())
            .prop_map(|(field, values, negated)| Predicate::In { field, values, negated }),
        (ident(), literal()).prop_map(|(field, value)| Predicate::Contains { field, value }),
    ];
    leaf.prop_recursive(5, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| a.and(b)),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| a.or(b)),
            inner.prop_map(Predicate::negate),
        ]
    })
}

fn order() -> impl Strategy<Value = Order> {
    let named = prop::sample::select(MODE_NAMES.to_vec())
        .prop_map(|n| n.replace("<signal>", "like"))
        .prop_map(|n| n.parse::<SortMode>().unwrap());
    // Modes that name their signal, with any name (odd ones are quoted).
    let by_name = prop_oneof![
        ident().prop_map(SortMode::Decayed),
        (prop::sample::select(WindowStat::ALL.to_vec()), ident(), window())
            .prop_map(|(stat, signal, window)| SortMode::Signal { stat, signal, window }),
    ];
    prop_oneof![
        ident().prop_map(Order::Profile),
        (prop_oneof![named, by_name], prop::option::of(window())).prop_map(|(mode, window)| {
            let window = window.filter(|w| mode.with_window(*w).is_some());
            Order::Sort { mode, window }
        }),
    ]
}

fn diversity() -> impl Strategy<Value = Diversity> {
    prop_oneof![
        ("[a-z][a-z0-9_]{0,6}", 1u32..100).prop_map(|(field, max)| Diversity::MaxPer { field, max }),
        ident().prop_map(|field| Diversity::Mix { field }),
    ]
}

prop_compose! {
    fn retrieve()(
        user in prop::option::of(key()),
        context in prop::collection::vec((ident(), literal()), 0..3),
        order in prop::option::of(order()),
        predicate in prop::option::of(predicate()),
        filters in prop::sample::subsequence(Filter::ALL.to_vec(), 0..=5).prop_shuffle(),
        within in prop::option::of((prop::collection::vec((ident(), text()), 0..3), prop::option::of(window()))),
        diversity in prop::collection::vec(diversity(), 0..3),
        limit in prop::option::of(1u32..=10_000),
        cursor in prop::option::of(text()),
        seed in prop::option::of(any::<u64>()),
        at in prop::option::of(time()),
    ) -> Retrieve {
        Retrieve {
            user, context, order, predicate, filters,
            within: within.map(|(cohort, window)| Within { cohort, window }),
            diversity, limit, cursor, seed, at,
        }
    }
}

fn statement() -> impl Strategy<Value = Statement> {
    let vector = prop::collection::vec(any::<f32>().prop_filter("finite", |x| x.is_finite()), 1..5);
    let near = prop_oneof![vector.prop_map(Near::Vector), key().prop_map(Near::Like)];
    let base = prop_oneof![
        retrieve().prop_map(Statement::Retrieve),
        (text(), prop::option::of(near), retrieve()).prop_map(|(text, near, clauses)| Statement::Search(Search {
            text,
            near,
            clauses
        })),
        (text(), prop::option::of(1u32..=10_000))
            .prop_map(|(prefix, limit)| Statement::Suggest(Suggest { prefix, limit })),
        (
            ident(),
            key(),
            prop::option::of(key()),
            prop::option::of((0.0f64..1e9).prop_filter("finite", |w| w.is_finite())),
            prop::option::of(time())
        )
            .prop_map(|(signal, item, user, weight, at)| Statement::Signal(SignalStmt {
                signal,
                item,
                user,
                weight,
                at
            })),
    ];
    (base, 0u8..4).prop_map(|(s, e)| match e {
        0 => Statement::Explain { analyze: false, statement: Box::new(s) },
        1 => Statement::Explain { analyze: true, statement: Box::new(s) },
        _ => s,
    })
}

/// Runs on a thread with a large stack: the composed strategies are deep
/// enough to overflow the default test thread's stack in debug builds.
#[test]
fn print_then_parse_is_the_identity() {
    let run = || {
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(1000));
        runner
            .run(&statement(), |stmt| {
                let text = stmt.to_string();
                let parsed = parse(&text).map_err(|e| TestCaseError::fail(format!("{text}\n{e}")))?;
                prop_assert_eq!(parsed, stmt, "{}", text);
                Ok(())
            })
            .unwrap();
    };
    std::thread::Builder::new().stack_size(256 << 20).spawn(run).unwrap().join().unwrap();
}
