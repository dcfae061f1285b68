//! A query built with the typed builder is held to the rules the parser
//! enforces on text: what the text refuses at parse time, the built query
//! is refused at plan time, with a typed error and without a panic.

#![allow(clippy::unwrap_used)] // Reason: test code fails loudly.

#[path = "../benches/fixture.rs"]
mod fixture;

use tidal_query::{
    FieldFilter, MAX_NESTING, MAX_STATEMENT_BYTES, Predicate, QueryError, Retrieve, Snapshots, execute, parse_retrieve,
    plan, render_explain,
};
use tidal_schema::{EntityId, FieldValue, Fields, Timestamp};

const T0: u64 = 1_700_000_000;

fn plan_error(q: &Retrieve) -> QueryError {
    let fx = fixture::Fixture::new();
    plan(q, &fx.views(), Timestamp::from_secs(T0)).unwrap_err()
}

#[test]
fn a_diversity_count_of_zero_is_refused_built_or_written() {
    let e = parse_retrieve("RETRIEVE items DIVERSITY max_per_creator:0").unwrap_err();
    assert_eq!(e.message, "expected a count of at least 1, found number `0`");

    for q in [Retrieve::items().max_per_creator(0), Retrieve::items().max_per("format", 0)] {
        match plan_error(&q) {
            QueryError::Invalid(m) => assert!(m.contains("needs a count of at least 1, not 0"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
    let fx = fixture::Fixture::new();
    assert!(plan(&Retrieve::items().max_per_creator(1), &fx.views(), Timestamp::from_secs(T0)).is_ok());
}

/// Runs `f` on a thread with the default stack (2 MiB), where recursion
/// once per level of a 100,000-deep tree would overflow and abort.
fn on_a_normal_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::spawn(f).join().unwrap();
}

const DEEP: usize = 100_000;

fn leaf() -> Predicate {
    Predicate::field("format").eq("short")
}

/// `NOT NOT ... format = 'short'` and `a AND (a AND (... (a OR a)))`: each
/// level is a level of nesting (a `NOT` or a pair of parentheses).
fn nested(levels: usize) -> [Predicate; 2] {
    let mut nots = leaf();
    let mut right = leaf().or(leaf());
    for _ in 0..levels {
        nots = nots.negate();
        right = leaf().and(right);
    }
    [nots, right]
}

#[test]
fn a_predicate_nested_100_000_deep_is_refused_when_planned() {
    on_a_normal_stack(|| {
        let fx = fixture::Fixture::new();
        for p in nested(DEEP) {
            assert_eq!(p.nesting(), DEEP);
            assert!(p.depth() > DEEP);
            // Printing, comparing, cloning and debugging do not recurse.
            assert!(p.to_string().len() > DEEP);
            assert_eq!(p.clone(), p);
            assert!(format!("{p:?}").len() > DEEP);
            let q = Retrieve::items().matching(p);
            match plan(&q, &fx.views(), Timestamp::from_secs(T0)).unwrap_err() {
                QueryError::Invalid(m) => {
                    assert_eq!(m, "predicate nested deeper than 64 levels (100000 levels of NOT and parentheses)");
                }
                other => panic!("{other:?}"),
            }
            // And the tree drops without recursing.
            drop(q);
        }
    });
}

#[test]
fn nesting_is_limited_as_the_parser_limits_it() {
    for levels in [MAX_NESTING - 1, MAX_NESTING, MAX_NESTING + 1] {
        for p in nested(levels) {
            assert_eq!(p.nesting(), levels);
            let q = Retrieve::items().matching(p);
            let fx = fixture::Fixture::new();
            let planned = plan(&q, &fx.views(), Timestamp::from_secs(T0));
            let parsed = parse_retrieve(&q.to_string());
            assert_eq!(planned.is_ok(), levels <= MAX_NESTING, "{levels}");
            assert_eq!(parsed.is_ok(), levels <= MAX_NESTING, "{levels}");
        }
    }
}

#[test]
fn a_flat_chain_of_any_length_plans_runs_and_explains() {
    on_a_normal_stack(|| {
        let fx = fixture::Fixture::new();
        let mut fields = Fields::new();
        fields.insert("format".into(), FieldValue::Keyword("short".into()));
        fx.put_item(EntityId(1), &fields);
        let snaps = Snapshots::new();

        // Built: `format = 'short' AND format = 'short' AND ...`, 100,001
        // operands, left-deep, with no nesting at all.
        let mut chain = leaf();
        for _ in 0..DEEP {
            chain = chain.and(leaf());
        }
        assert_eq!((chain.depth(), chain.nesting()), (DEEP + 1, 0));
        let q = Retrieve::sort_by("new").unwrap().matching(chain);
        let p = plan(&q, &fx.views(), Timestamp::from_secs(T0)).unwrap();
        let (page, stats) = execute(&p, &fx.views(), &snaps, true).unwrap();
        assert_eq!(page.hits.len(), 1);
        assert!(render_explain(&p, Some((&page, &stats))).contains("AND format = 'short'"));

        // Parsed: the longest chain a statement can hold.
        let mut text = String::from("RETRIEVE items WHERE format = 'long'");
        while text.len() + 40 < MAX_STATEMENT_BYTES {
            text.push_str(" OR format = 'long' OR format = 'short'");
        }
        let q = Retrieve { order: Retrieve::sort_by("new").unwrap().order, ..parse_retrieve(&text).unwrap() };
        let p = plan(&q, &fx.views(), Timestamp::from_secs(T0)).unwrap();
        assert_eq!(execute(&p, &fx.views(), &snaps, false).unwrap().0.hits.len(), 1);
    });
}

#[test]
fn executing_a_plan_changed_to_a_deeper_predicate_is_refused() {
    on_a_normal_stack(|| {
        let fx = fixture::Fixture::new();
        let mut p = plan(&Retrieve::items(), &fx.views(), Timestamp::from_secs(T0)).unwrap();
        let [deep, _] = nested(DEEP);
        p.field_filters.push(FieldFilter::Where { predicate: deep, keeps: 1.0 });
        let e = execute(&p, &fx.views(), &Snapshots::new(), false).unwrap_err();
        assert!(matches!(&e, QueryError::Invalid(m) if m.starts_with("predicate nested deeper than 64 levels")), "{e}");
    });
}
