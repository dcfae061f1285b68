//! A cursor whose snapshot is gone (evicted, or another process) re-ranks
//! at the pinned time and resumes after its last (score, id): the pages
//! still join into the one-page answer, and a last item deleted meanwhile
//! is stepped over by score.

#![allow(clippy::unwrap_used, clippy::cast_precision_loss)] // Reason: test code fails loudly; counts are small.

#[path = "../benches/fixture.rs"]
mod fixture;

use tidal_query::{Page, Retrieve, Snapshots, execute, plan};
use tidal_schema::{EntityId, EntityKind, FieldValue, Fields, SignalId, Timestamp};

const T0: u64 = 1_700_000_000;

fn run(fx: &fixture::Fixture, snaps: &Snapshots, q: &Retrieve) -> Page {
    let views = fx.views();
    let p = plan(q, &views, Timestamp::from_secs(T0)).unwrap();
    execute(&p, &views, snaps, false).unwrap().0
}

fn ids(p: &Page) -> Vec<u64> {
    p.hits.iter().map(|h| h.id.0).collect()
}

#[test]
fn pages_resume_by_last_score_and_id_without_their_snapshot() {
    let fx = fixture::Fixture::new();
    let view = SignalId::for_name("view");
    for i in 0..40u64 {
        let mut f = Fields::new();
        f.insert("title".into(), FieldValue::Text(format!("Item {i}")));
        fx.put_item(EntityId(i), &f);
        // Scores 1..=10, four items each: ties are broken by id.
        for _ in 0..=(i % 10) {
            fx.ledger.apply(view, EntityKind::Item, EntityId(i), Timestamp::from_secs(T0 - 10), 1.0).unwrap();
        }
    }
    let snaps = Snapshots::new();
    let q = Retrieve::sort_by("most_viewed").unwrap().at(Timestamp::from_secs(T0));
    let whole = ids(&run(&fx, &snaps, &q.clone().limit(40)));
    assert_eq!(whole.len(), 40);

    // Page through 7 at a time, dropping every snapshot before each page.
    let mut paged = Vec::new();
    let mut page = run(&fx, &snaps, &q.clone().limit(7));
    loop {
        paged.extend(ids(&page));
        let Some(cursor) = page.next.take() else { break };
        snaps.clear();
        page = run(&fx, &snaps, &q.clone().limit(7).after(cursor));
    }
    assert_eq!(paged, whole);

    // The last item of a page is deleted before the next page: the next
    // page starts after its (score, id) all the same.
    let first = run(&fx, &snaps, &q.clone().limit(7));
    let last = first.hits.last().unwrap().id;
    fx.delete_item(last);
    snaps.clear();
    let second = run(&fx, &snaps, &q.clone().limit(7).after(first.next.unwrap()));
    assert_eq!(ids(&second), whole[7..14].to_vec());
}
