//! The end-to-end trending workload benchmark (`cargo xtask bench
//! workload`), measured as a user meets it: a generated CSV of signal events
//! (`tidal_test_support::workload`: 1 M items, 100 K users with a region,
//! 10 M events over 30 days at full size) loaded through `put_batch` and
//! `signal_batch` in the default durable configuration by one process; the
//! queries read through `TidalDB::query` by another, after a reopen (twice:
//! right after the load, and again once the store has settled); then
//! durable single-event writers, alone and beside query threads, in a third.
//! Every query answer is checked against a brute force over the generated
//! events. Prints each figure as a Markdown table and as one JSON object.
//!
//! `--events N` scales the workload (items N/10, users N/100); `--seconds S`
//! sets each concurrent phase's length; `--dir D` keeps the database there.

// Reason: a report of measured figures; counts stay far below 2^52.
#![allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tidal::schema::{DecaySpec, EntityKind, FieldDef, FieldValue, Fields, Schema, SignalDef, UserState, Window};
use tidal::{Config, EntityId, Event, Key, QueryOutput, TidalDB, Timestamp};
use tidal_test_support::SplitMix64;
use tidal_test_support::workload::{Truth, Workload};

const BATCH: usize = 10_000;
const DAY_MS: u64 = 86_400_000;
const LIKE_HALF_LIFE_MS: u64 = 7 * DAY_MS;
const TOP: usize = 50;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// The workload's schema: the content feed's shape, with likes decaying
/// over a 7-day half-life.
fn schema() -> Res<Schema> {
    let exp = |h: u64| DecaySpec::exponential(Duration::from_secs(h * 3600));
    Ok(Schema::builder()
        .version(1)
        .field(EntityKind::Item, FieldDef::text("title"))
        .field(EntityKind::Item, FieldDef::reference("creator", EntityKind::Creator))
        .field(EntityKind::Item, FieldDef::timestamp("published_at"))
        .field(EntityKind::Item, FieldDef::keyword("format"))
        .field(EntityKind::User, FieldDef::keyword("region"))
        .signal(
            SignalDef::new("view", EntityKind::Item)
                .with_decay(exp(6)?)
                .with_windows([Window::HOUR, Window::DAY, Window::WEEK, Window::ALL_TIME])
                .with_velocity(true)
                .sets(UserState::Seen),
        )
        .signal(
            SignalDef::new("like", EntityKind::Item)
                .with_decay(exp(7 * 24)?)
                .with_windows([Window::DAY, Window::WEEK, Window::ALL_TIME])
                .with_velocity(true)
                .sets(UserState::Liked),
        )
        .signal(
            SignalDef::new("share", EntityKind::Item)
                .with_decay(exp(24)?)
                .with_windows([Window::HOUR, Window::DAY, Window::WEEK])
                .with_velocity(true),
        )
        .build()?)
}

struct Args {
    phase: Option<String>,
    workload: Workload,
    dir: Option<PathBuf>,
    csv: Option<PathBuf>,
    truth: Option<PathBuf>,
    seconds: u64,
}

fn args() -> Res<Args> {
    let mut a = Args { phase: None, workload: Workload::FULL, dir: None, csv: None, truth: None, seconds: 5 };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--phase" => a.phase = Some(value()?),
            "--events" => a.workload = Workload::scaled(value()?.replace('_', "").parse()?),
            "--dir" => a.dir = Some(value()?.into()),
            "--csv" => a.csv = Some(value()?.into()),
            "--truth" => a.truth = Some(value()?.into()),
            "--seconds" => a.seconds = value()?.parse()?,
            other => return Err(format!("unknown option {other:?}").into()),
        }
    }
    Ok(a)
}

fn main() -> Res<()> {
    let a = args()?;
    let out = match a.phase.as_deref() {
        None => return parent(&a),
        Some("csv") => {
            // Only the CSV (or below, the answers), to run one phase alone.
            return write_csv(a.workload, a.csv.as_deref().ok_or("--csv")?);
        }
        Some("truth") => return write_truth(a.workload, a.truth.as_deref().ok_or("--truth")?),
        Some("load") => load(&a)?,
        Some("query") => query(&a)?,
        Some("concurrent") => concurrent(&a)?,
        Some(other) => return Err(format!("unknown phase {other:?}").into()),
    };
    println!("{out}");
    Ok(())
}

/// Runs the phases as child processes and reports.
fn parent(a: &Args) -> Res<()> {
    let w = a.workload;
    let work = tempfile::Builder::new().prefix("tidal-workload-").tempdir()?;
    let dir = a.dir.clone().unwrap_or_else(|| work.path().join("db"));
    let csv = work.path().join("events.csv");
    let t = Instant::now();
    write_csv(w, &csv)?;
    eprintln!("workload: {} events written to CSV in {:.1} s", w.events, t.elapsed().as_secs_f64());
    let mut report = json!({
        "workload": { "items": w.items, "users": w.users, "events": w.events, "days": w.days, "seed": w.seed },
        "csv_bytes": std::fs::metadata(&csv)?.len(),
        "cores": std::thread::available_parallelism().map_or(0, usize::from),
    });
    let events = w.events.to_string();
    let child = |phase: &str, extra: &[&str]| -> Res<Value> {
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.args(["--phase", phase, "--events", &events, "--dir", path(&dir)?, "--seconds", &a.seconds.to_string()]);
        cmd.args(extra);
        let load_before = loadavg();
        let out = cmd.output()?;
        if !out.status.success() {
            return Err(format!("phase {phase} failed: {}", String::from_utf8_lossy(&out.stderr)).into());
        }
        let text = String::from_utf8(out.stdout)?;
        let mut v: Value = serde_json::from_str(text.lines().last().unwrap_or("{}"))?;
        v["loadavg"] = json!([load_before, loadavg()]);
        Ok(v)
    };
    report["load"] = child("load", &["--csv", path(&csv)?])?;
    report["disk_bytes"] = json!(du(&dir));
    eprintln!("workload: loaded; computing the brute-force answers");
    let truth_file = work.path().join("truth.json");
    write_truth(w, &truth_file)?;
    // Queried twice, each by a fresh process: right after the load (the
    // store still compacting what the load wrote), then again once that
    // has settled.
    report["query"] = child("query", &["--truth", path(&truth_file)?])?;
    report["query_settled"] = child("query", &["--truth", path(&truth_file)?])?;
    report["concurrent"] = child("concurrent", &[])?;
    print_table(&report);
    println!("\n```json\n{}\n```", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// The brute-force answers at the benchmark's two times, as JSON.
fn write_truth(w: Workload, file: &Path) -> Res<()> {
    let now = w.now_ms();
    let truths = tidal_test_support::workload::truth(w.events(), &[now, now - 7 * DAY_MS], LIKE_HALF_LIFE_MS);
    std::fs::write(file, serde_json::to_vec(&truths.iter().map(truth_json).collect::<Vec<_>>())?)?;
    Ok(())
}

/// The top 50 and every entry tied with the 50th (the database orders
/// ties by id, a hash of the key; the brute force by item number).
/// The workload's events as CSV: `item,user,signal,at_ms`.
fn write_csv(w: Workload, csv: &Path) -> Res<()> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(csv)?);
    writeln!(out, "item,user,signal,at_ms")?;
    for e in w.events() {
        writeln!(out, "item-{},user-{},{},{}", e.item, e.user, e.signal.name(), e.at_ms)?;
    }
    out.flush()?;
    Ok(())
}

fn truth_json(t: &Truth) -> Value {
    fn top<T: PartialEq + Copy + serde::Serialize>(rows: &[(u64, T)]) -> Vec<(u64, T)> {
        let last = rows.get(TOP - 1).map(|r| r.1);
        rows.iter().enumerate().take_while(|(i, r)| *i < TOP || Some(r.1) == last).map(|(_, r)| *r).collect()
    }
    json!({ "at_ms": t.at_ms, "views_24h": top(&t.views_24h), "decayed_likes": top(&t.decayed_likes) })
}

fn path(p: &Path) -> Res<&str> {
    Ok(p.to_str().ok_or("a path that is not UTF-8")?)
}

fn loadavg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|x| x.parse().ok()))
        .unwrap_or(f64::NAN)
}

/// A `/proc/self/status` figure in MiB (`VmHWM`: peak resident; `VmRSS`: now).
fn status_mib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn du(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => du(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort_by(f64::total_cmp);
    samples[((samples.len() - 1) as f64 * p).round() as usize]
}

fn open(dir: &Path) -> Res<TidalDB> {
    Ok(Config::new(dir).schema(schema()?).open()?)
}

/// Phase 1: users and items by `put_batch`, the CSV's events by
/// `signal_batch`, a clean shutdown.
fn load(a: &Args) -> Res<Value> {
    let w = a.workload;
    let dir = a.dir.as_deref().ok_or("--dir")?;
    let started = Instant::now();
    let db = open(dir)?;
    let mut batch = Vec::with_capacity(BATCH);
    for u in 0..w.users {
        let mut f = Fields::new();
        f.insert("region".into(), FieldValue::Keyword(w.region_of(u).into()));
        batch.push((EntityKind::User, Key::Name(format!("user-{u}")), f));
        if batch.len() == BATCH || u + 1 == w.users {
            db.put_batch(std::mem::take(&mut batch))?;
        }
    }
    for i in 0..w.items {
        let mut f = Fields::new();
        f.insert("title".into(), FieldValue::Text(format!("Item {i}")));
        f.insert("creator".into(), FieldValue::Reference(EntityId(w.creator_of(i))));
        f.insert("published_at".into(), FieldValue::Timestamp(Timestamp::from_millis(w.published_ms(i))));
        f.insert("format".into(), FieldValue::Keyword(w.format_of(i).into()));
        batch.push((EntityKind::Item, Key::Name(format!("item-{i}")), f));
        if batch.len() == BATCH || i + 1 == w.items {
            db.put_batch(std::mem::take(&mut batch))?;
        }
    }
    let entities = started.elapsed();
    let ingest_started = Instant::now();
    let mut lines = BufReader::with_capacity(1 << 20, File::open(a.csv.as_deref().ok_or("--csv")?)?).lines();
    lines.next();
    let mut events = Vec::with_capacity(BATCH);
    let mut batch_ms = Vec::new();
    let mut total = 0u64;
    let mut flush = |events: &mut Vec<Event>, batch_ms: &mut Vec<f64>| -> Res<()> {
        let t = Instant::now();
        let ack = db.signal_batch(events)?;
        batch_ms.push(t.elapsed().as_secs_f64() * 1e3);
        if ack.duplicates > 0 {
            return Err(format!("{} events were taken for duplicates", ack.duplicates).into());
        }
        total += events.len() as u64;
        events.clear();
        Ok(())
    };
    for line in lines {
        let line = line?;
        let mut cols = line.split(',');
        let (Some(item), Some(user), Some(signal), Some(at)) = (cols.next(), cols.next(), cols.next(), cols.next())
        else {
            return Err(format!("a bad CSV row {line:?}").into());
        };
        events.push(
            Event::new(signal, Key::Name(item.to_owned()))
                .by(Key::Name(user.to_owned()))
                .at(Timestamp::from_millis(at.parse()?)),
        );
        if events.len() == BATCH {
            flush(&mut events, &mut batch_ms)?;
        }
    }
    if !events.is_empty() {
        flush(&mut events, &mut batch_ms)?;
    }
    let ingest = ingest_started.elapsed();
    let queryable = started.elapsed();
    let stats = db.stats()?;
    let t = Instant::now();
    db.shutdown()?;
    let shutdown = t.elapsed();
    drop(db);
    let (p50, p99) = (percentile(&mut batch_ms, 0.5), percentile(&mut batch_ms, 0.99));
    Ok(json!({
        "entities_s": entities.as_secs_f64(),
        "events": total,
        "ingest_s": ingest.as_secs_f64(),
        "events_per_s": total as f64 / ingest.as_secs_f64(),
        "batch_ms": { "p50": p50, "p99": p99, "max": batch_ms.last().copied().unwrap_or(f64::NAN) },
        "queryable_s": queryable.as_secs_f64(),
        "shutdown_s": shutdown.as_secs_f64(),
        "peak_rss_mib": status_mib("VmHWM:"),
        "signal_pairs": stats.signal_pairs,
        "ledger_bytes": stats.ledger_bytes,
        "user_state_bytes": stats.user_state_bytes,
        "item_columns_bytes": stats.item_columns_bytes,
    }))
}

/// The benchmark's three queries at `at_ms`: views in the last 24 h, likes
/// decayed over 7 days, and views in the 24 h before a past time.
fn texts(now_ms: u64, past_ms: u64) -> [(&'static str, String); 3] {
    [
        ("trending_24h", format!("RETRIEVE items SORT BY most_viewed WINDOW 24h LIMIT {TOP} AT {}", now_ms / 1000)),
        ("decayed_likes", format!("RETRIEVE items SORT BY decayed(like) LIMIT {TOP} AT {}", now_ms / 1000)),
        (
            "trending_24h_past",
            format!("RETRIEVE items SORT BY most_viewed WINDOW 24h LIMIT {TOP} AT {}", past_ms / 1000),
        ),
    ]
}

fn item_of(key: Option<&str>) -> Res<u64> {
    Ok(key.and_then(|k| k.strip_prefix("item-")).ok_or("a hit without its item key")?.parse()?)
}

/// Checks a page against the brute force: the top-50 ids, and the exact
/// count (or the decayed score within 1e-9 relative).
fn check(name: &str, page: &tidal::Page, want: &[Value]) -> Res<()> {
    if page.hits.len() != TOP.min(want.len()) {
        // `want` holds ties beyond the 50th; a short answer is wrong.
        return Err(format!("{name}: {} hits, the brute force has {}", page.hits.len(), want.len()).into());
    }
    for (rank, (hit, w)) in page.hits.iter().zip(want).enumerate() {
        let item = item_of(hit.key.as_deref())?;
        let (want_item, want_value) = (w[0].as_u64().ok_or("truth")?, w[1].as_f64().ok_or("truth")?);
        let close = (hit.score - want_value).abs() <= 1e-9 * want_value.abs().max(1e-300);
        if !close {
            return Err(format!(
                "{name}: rank {rank}: item-{item} scored {} where the brute force has item-{want_item} at {want_value}",
                hit.score
            )
            .into());
        }
        // Equal values may come in either order only if the brute force
        // ties them too; the order among ties is by id in both.
        if item != want_item {
            let tied = want.iter().any(|x| x[0].as_u64() == Some(item) && x[1].as_f64() == Some(want_value));
            if !tied {
                return Err(format!("{name}: rank {rank}: item-{item}, the brute force has item-{want_item}").into());
            }
        }
    }
    Ok(())
}

/// Phase 2: open after a clean shutdown, then each query once cold and 100
/// times warm (10 for the read at a past time), every answer checked.
fn query(a: &Args) -> Res<Value> {
    let w = a.workload;
    let dir = a.dir.as_deref().ok_or("--dir")?;
    let truths: Vec<Value> = serde_json::from_slice(&std::fs::read(a.truth.as_deref().ok_or("--truth")?)?)?;
    let started = Instant::now();
    let db = open(dir)?;
    let open_s = started.elapsed().as_secs_f64();
    let rss_open = status_mib("VmRSS:");
    let now = w.now_ms();
    let mut out = json!({ "open_s": open_s, "rss_after_open_mib": rss_open, "replayed": db.open_report().replayed });
    for (name, text) in texts(now, now - 7 * DAY_MS) {
        let truth = if name == "trending_24h_past" { &truths[1] } else { &truths[0] };
        let want =
            truth[if name == "decayed_likes" { "decayed_likes" } else { "views_24h" }].as_array().ok_or("truth")?;
        let mut runs = Vec::new();
        // The past read scans every pair (seconds at full size): fewer runs.
        let repeat = if name == "trending_24h_past" { 11 } else { 101 };
        for _ in 0..repeat {
            let t = Instant::now();
            let QueryOutput::Page(page) = db.query(&text)? else { return Err("not a page".into()) };
            runs.push(t.elapsed().as_secs_f64() * 1e3);
            check(name, &page, want)?;
        }
        let cold = runs.remove(0);
        out[name] = json!({
            "query": text, "cold_ms": cold,
            "p50_ms": percentile(&mut runs, 0.5), "p99_ms": percentile(&mut runs, 0.99), "checked": true,
        });
    }
    out["rss_after_queries_mib"] = json!(status_mib("VmRSS:"));
    db.shutdown()?;
    Ok(out)
}

/// `threads` writers of one durable event each call, for `secs`, beside
/// `readers` threads running the trending query; acknowledgements per
/// second, their p99, and queries per second.
fn writers(db: &Arc<TidalDB>, w: Workload, threads: u64, readers: u64, secs: u64) -> Res<Value> {
    let stop = Arc::new(AtomicBool::new(false));
    let now = w.now_ms();
    let text = texts(now, now)[0].1.clone();
    let mut handles = Vec::new();
    for t in 0..threads {
        let (db, stop) = (Arc::clone(db), Arc::clone(&stop));
        handles.push(std::thread::spawn(move || -> Result<Vec<f64>, String> {
            let mut rng = SplitMix64::new(t + 1);
            let mut lat = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let e = Event::new("view", Key::Name(format!("item-{}", rng.zipf(w.items))))
                    .by(Key::Name(format!("user-{}", rng.below(w.users))))
                    .at(Timestamp::from_millis(now - 1 - rng.below(3_600_000)));
                let s = Instant::now();
                db.signal(e).map_err(|e| e.to_string())?;
                lat.push(s.elapsed().as_secs_f64() * 1e3);
            }
            Ok(lat)
        }));
    }
    let mut queries = Vec::new();
    for _ in 0..readers {
        let (db, stop, text) = (Arc::clone(db), Arc::clone(&stop), text.clone());
        queries.push(std::thread::spawn(move || -> Result<u64, String> {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                db.query(&text).map_err(|e| e.to_string())?;
                n += 1;
            }
            Ok(n)
        }));
    }
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    let mut lat = Vec::new();
    for h in handles {
        lat.extend(h.join().map_err(|_| "a writer panicked")??);
    }
    let mut q = 0;
    for h in queries {
        q += h.join().map_err(|_| "a reader panicked")??;
    }
    let took = started.elapsed().as_secs_f64();
    Ok(json!({
        "writers": threads, "readers": readers, "writes_per_s": lat.len() as f64 / took,
        "p50_ms": percentile(&mut lat, 0.5), "p99_ms": percentile(&mut lat, 0.99), "queries_per_s": q as f64 / took,
    }))
}

/// Phase 3: durable single-event writers, 10 and 16 alone, 16 beside four
/// query threads.
fn concurrent(a: &Args) -> Res<Value> {
    let db = Arc::new(open(a.dir.as_deref().ok_or("--dir")?)?);
    let w = a.workload;
    let out = json!({
        "w10": writers(&db, w, 10, 0, a.seconds)?,
        "w16": writers(&db, w, 16, 0, a.seconds)?,
        "w16_r4": writers(&db, w, 16, 4, a.seconds)?,
    });
    db.shutdown()?;
    Ok(out)
}

// Reason: the report's sections by their initials, read in one table.
#[allow(clippy::many_single_char_names)]
fn print_table(r: &Value) {
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    let (l, q, c) = (&r["load"], &r["query"], &r["concurrent"]);
    let settled = &r["query_settled"];
    let w = &r["workload"];
    println!(
        "workload: {} events, {} items, {} users, {} days; load average before/after each phase in the JSON\n",
        w["events"], w["items"], w["users"], w["days"]
    );
    println!("| measure | tidalDB | target |\n|---|---|---|");
    println!(
        "| bulk ingest, all views, durable | {:.0} events/s; batch of {BATCH} p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms | ≥ 1,000,000 events/s, p99 ≤ 2× p50 |",
        f(&l["events_per_s"]),
        f(&l["batch_ms"]["p50"]),
        f(&l["batch_ms"]["p99"]),
        f(&l["batch_ms"]["max"])
    );
    println!(
        "| time until queryable (open, {} entities, events from CSV) | {:.1} s ({:.1} s of it entities) | ≤ 15 s |",
        w["items"].as_u64().unwrap_or(0) + w["users"].as_u64().unwrap_or(0),
        f(&l["queryable_s"]),
        f(&l["entities_s"])
    );
    for (name, what, target) in [
        ("trending_24h", "trending top-50 by views in the last 24 h", "≤ 1 ms"),
        ("decayed_likes", "top-50 by decayed likes (half-life 7 d)", "≤ 0.1 ms, exact"),
        ("trending_24h_past", "trending top-50 by views, 24 h before a time 7 days back", "—"),
    ] {
        println!(
            "| {what} (checked against a brute force) | p50 {:.2} ms, p99 {:.2} ms, first after open {:.2} ms; settled: p50 {:.2} ms, p99 {:.2} ms, first {:.2} ms | {target} |",
            f(&q[name]["p50_ms"]),
            f(&q[name]["p99_ms"]),
            f(&q[name]["cold_ms"]),
            f(&settled[name]["p50_ms"]),
            f(&settled[name]["p99_ms"]),
            f(&settled[name]["cold_ms"])
        );
    }
    for (name, what, target) in [
        ("w10", "durable single-event writes, 10 threads", "≥ 100,000/s"),
        ("w16", "durable single-event writes, 16 threads", "—"),
        ("w16_r4", "… 16 threads beside 4 query threads", "≥ 80 % of alone"),
    ] {
        println!(
            "| {what} | {:.0}/s (p50 {:.1} ms, p99 {:.1} ms){} | {target} |",
            f(&c[name]["writes_per_s"]),
            f(&c[name]["p50_ms"]),
            f(&c[name]["p99_ms"]),
            if name == "w16_r4" { format!("; {:.0} queries/s", f(&c[name]["queries_per_s"])) } else { String::new() }
        );
    }
    println!(
        "| open after clean shutdown | {:.2} s right after the load, {:.2} s settled ({} records replayed) | ≤ 1 s |",
        f(&q["open_s"]),
        f(&settled["open_s"]),
        q["replayed"]
    );
    println!(
        "| memory | peak RSS {:.0} MiB (load, incl. final checkpoint); after reopen {:.0} MiB ({:.0} settled), after the queries {:.0} MiB ({:.0}) | peak ≤ 600 MB, ≤ 300 MB after reopen |",
        f(&l["peak_rss_mib"]),
        f(&q["rss_after_open_mib"]),
        f(&settled["rss_after_open_mib"]),
        f(&q["rss_after_queries_mib"]),
        f(&settled["rss_after_queries_mib"])
    );
    println!(
        "| disk | {:.0} MiB ({:.1} B per event; CSV {:.0} MiB) | ≤ 500 MB |",
        f(&r["disk_bytes"]) / 1_048_576.0,
        f(&r["disk_bytes"]) / f(&w["events"]),
        f(&r["csv_bytes"]) / 1_048_576.0
    );
}
