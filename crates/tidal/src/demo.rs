//! `tidal demo`: a realistic content-feed data set — creators of very
//! different sizes, items with titles, tags and formats, users with region,
//! age group and language, follows, and a signal stream with Zipf
//! popularity, a daily cycle and a few items that suddenly take off —
//! ingested through the public API with a progress bar, then the main
//! queries as tables with timings. Deterministic for a `--seed`.

// Reason: synthetic data and display figures; every count is far below 2^52.
#![allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use tidal::schema::{FieldValue, Fields};
use tidal::{Config, EntityKind, Event, Key, Page, Retrieve, TidalDB, Timestamp, Window};

/// `tidal demo` options.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// Data directory (default: a temporary one, removed afterwards).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Random seed: the same seed builds the same data and answers.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Number of items.
    #[arg(long, default_value_t = 20_000)]
    items: usize,
    /// Number of users.
    #[arg(long, default_value_t = 5_000)]
    users: usize,
    /// Number of creators.
    #[arg(long, default_value_t = 300)]
    creators: usize,
    /// Number of signal events.
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
}

/// xorshift64*: small, fast, reproducible.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / 9_007_199_254_740_992.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    /// Zipf(≈1) over `0..n`: index 0 most popular.
    fn zipf(&mut self, n: usize) -> usize {
        (((n as f64 + 1.0).powf(self.unit()) - 1.0) as usize).min(n - 1)
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

const ADJECTIVES: &[&str] = &[
    "Quiet", "Electric", "Hidden", "Golden", "Midnight", "Tiny", "Endless", "Wild", "Broken", "Silver", "Lazy",
    "Burning", "Frozen", "Secret", "Ultimate", "Cozy", "Spicy", "Neon", "Ancient", "Lucky",
];
const NOUNS: &[&str] = &[
    "Kitchen",
    "Mountain",
    "Guitar",
    "Robot",
    "Garden",
    "City",
    "Ocean",
    "Recipe",
    "Workout",
    "Cat",
    "Puzzle",
    "Sunset",
    "Train",
    "Library",
    "Festival",
    "Forest",
    "Camera",
    "Desert",
    "Bicycle",
    "Telescope",
];
const TOPICS: &[&str] =
    &["music", "cooking", "travel", "tech", "fitness", "comedy", "science", "art", "gaming", "pets"];
const FORMATS: &[&str] = &["video", "short", "article", "image"];
const REGIONS: &[&str] = &["eu", "na", "sa", "asia", "africa", "oceania"];
const AGES: &[&str] = &["13-17", "18-24", "25-34", "35-44", "45+"];
const LANGUAGES: &[&str] = &["en", "es", "fr", "de", "pt", "ja", "hi"];

fn text(s: String) -> FieldValue {
    FieldValue::Text(s)
}

#[allow(clippy::too_many_lines)] // Reason: the demo is a script: build, ingest, query, in order.
pub(crate) fn run(args: &Args) -> tidal::Result<()> {
    if args.items == 0 || args.users == 0 || args.creators == 0 {
        return Err(tidal::Error::InvalidArgument("items, users and creators must be at least 1".into()));
    }
    let config = match &args.dir {
        Some(dir) => Config::new(dir),
        None => Config::ephemeral(),
    };
    let started = Instant::now();
    let db = TidalDB::open(config.checkpoint_interval(None))?;
    println!("tidalDB demo — seed {}, data in {}\n", args.seed, db.dir().display());
    let now = Timestamp::now();
    let mut rng = Rng::new(args.seed);

    // Entities.
    let t = Instant::now();
    let mut batch = Vec::new();
    for c in 0..args.creators {
        let mut f = Fields::new();
        f.insert(
            "name".into(),
            text(format!(
                "{} {}",
                rng.pick(ADJECTIVES),
                rng.pick(&["Studio", "Kitchen", "Lab", "Channel", "Club", "Works"])
            )),
        );
        f.insert("verified".into(), FieldValue::Bool(c < args.creators / 10));
        batch.push((EntityKind::Creator, Key::from(format!("creator-{c}")), f));
    }
    let mut creator_of = Vec::with_capacity(args.items);
    for i in 0..args.items {
        // Creator sizes follow Zipf: a few creators publish most items.
        let creator = rng.zipf(args.creators);
        creator_of.push(creator);
        let mut f = Fields::new();
        f.insert("title".into(), text(format!("{} {} #{i}", rng.pick(ADJECTIVES), rng.pick(NOUNS))));
        f.insert("tags".into(), FieldValue::Tags(vec![rng.pick(TOPICS).to_owned(), rng.pick(TOPICS).to_owned()]));
        f.insert("format".into(), FieldValue::Keyword(rng.pick(FORMATS).to_owned()));
        f.insert("duration".into(), FieldValue::Float((rng.unit() * 1200.0).round() + 5.0));
        f.insert("creator".into(), FieldValue::Reference(Key::id_for(&format!("creator-{creator}"))));
        let age = Duration::from_secs((rng.unit() * 14.0 * 86_400.0) as u64);
        f.insert("published_at".into(), FieldValue::Timestamp(now.saturating_sub(age)));
        batch.push((EntityKind::Item, Key::from(format!("item-{i}")), f));
    }
    for u in 0..args.users {
        let mut f = Fields::new();
        f.insert("region".into(), FieldValue::Keyword(rng.pick(REGIONS).to_owned()));
        f.insert("age_group".into(), FieldValue::Keyword(rng.pick(AGES).to_owned()));
        f.insert("language".into(), FieldValue::Keyword(rng.pick(LANGUAGES).to_owned()));
        batch.push((EntityKind::User, Key::from(format!("user-{u}")), f));
    }
    let entity_count = batch.len();
    for chunk in batch.chunks(10_000) {
        db.put_batch(chunk.to_vec())?;
    }
    let mut follows = Vec::with_capacity(args.users * 3);
    for u in 0..args.users {
        for _ in 0..3 {
            let c = rng.zipf(args.creators);
            follows.push((Key::from(format!("user-{u}")), Key::from(format!("creator-{c}")), 1.0));
        }
    }
    for chunk in follows.chunks(10_000) {
        db.relate_batch("follows", chunk)?;
    }
    println!(
        "{entity_count} entities ({} creators, {} items, {} users) and {} follows in {:.2} s",
        args.creators,
        args.items,
        args.users,
        args.users * 3,
        t.elapsed().as_secs_f64()
    );

    // The signal stream: 7 days, Zipf popularity, a daily cycle, and five
    // items that take off in the last two hours.
    let breakout: Vec<usize> = (0..5).map(|_| args.items / 2 + rng.below(args.items / 2)).collect();
    let mix: [(&str, f64); 8] = [
        ("view", 0.70),
        ("completion", 0.08),
        ("like", 0.09),
        ("skip", 0.06),
        ("share", 0.03),
        ("comment", 0.02),
        ("save", 0.015),
        ("hide", 0.005),
    ];
    let bar = ProgressBar::new(args.events as u64);
    bar.set_style(
        ProgressStyle::with_template("ingest {bar:40} {pos}/{len} events  {per_sec}  eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let t = Instant::now();
    let mut duplicates = 0;
    let mut events = Vec::with_capacity(10_000);
    let week = 7.0 * 86_400.0;
    let mut produced = 0;
    while produced < args.events {
        events.clear();
        for _ in 0..10_000.min(args.events - produced) {
            let (item, ago) = if rng.unit() < 0.04 {
                (breakout[rng.below(breakout.len())], rng.unit() * 7200.0)
            } else {
                // Daily cycle: accept an instant with probability following
                // the hour of day (evenings busiest).
                let ago = loop {
                    let ago = rng.unit() * week;
                    let hour = ((ago / 3600.0) % 24.0) / 24.0;
                    if rng.unit() < 0.55 + 0.45 * (std::f64::consts::TAU * hour).cos() {
                        break ago;
                    }
                };
                (rng.zipf(args.items), ago)
            };
            let mut r = rng.unit();
            let signal = mix.iter().find(|(_, p)| {
                r -= p;
                r < 0.0
            });
            let signal = signal.map_or("view", |s| s.0);
            let user = rng.zipf(args.users);
            let at = now.saturating_sub(Duration::from_secs_f64(ago));
            events.push(Event::new(signal, format!("item-{item}").as_str()).by(format!("user-{user}").as_str()).at(at));
        }
        let ack = db.signal_batch(&events)?;
        duplicates += ack.duplicates;
        produced += events.len();
        bar.set_position(produced as u64);
    }
    bar.finish_and_clear();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{} signal events in {secs:.2} s: {:.0} events/s ({duplicates} exact duplicates stored once)\n",
        args.events,
        args.events as f64 / secs
    );

    // The main queries.
    let feed_user = format!("user-{}", rng.below(args.users.min(50)));
    // A back-test: the same trending list as of a whole hour six hours ago,
    // every view read exactly as of then (the ledger where it covers that
    // time, else the hourly rollups).
    let then = Timestamp::from_secs(now.as_secs() - now.as_secs() % 3600 - 6 * 3600);
    let queries: Vec<(String, Retrieve, Timestamp)> = vec![
        ("Trending now (velocity of views, 24h)".into(), Retrieve::sort_by("trending")?.window(Window::DAY), now),
        (
            "Trending as of the whole hour 6 hours ago (AT: a back-test, every view as of then)".to_owned(),
            Retrieve::sort_by("trending")?.window(Window::DAY),
            then,
        ),
        ("Rising (acceleration of views, 1h)".into(), Retrieve::sort_by("rising")?, now),
        ("Hot (Reddit's formula)".into(), Retrieve::sort_by("hot")?, now),
        ("Top this week (likes, 7d)".into(), Retrieve::sort_by("top_week")?, now),
        (
            format!("{feed_user}'s feed (for_you profile, unseen, max 2 per creator)"),
            Retrieve::profile("for_you").for_user(feed_user.as_str()).unseen().max_per_creator(2),
            now,
        ),
    ];
    for (title, q, at) in queries {
        let q = q.limit(10).at(at).seed(args.seed);
        let t = Instant::now();
        let page = db.retrieve(&q)?;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        print_page(&db, &title, &page, ms, at)?;
    }
    let stats = db.stats()?;
    println!(
        "ledger: {} (item, signal) pairs in {:.1} MiB; log: {:.1} MiB; total {:.1} s",
        stats.signal_pairs,
        crate::mib(stats.ledger_bytes),
        crate::mib_u64(stats.log_bytes),
        started.elapsed().as_secs_f64()
    );
    db.shutdown()
}

fn print_page(db: &TidalDB, title: &str, page: &Page, ms: f64, now: Timestamp) -> tidal::Result<()> {
    println!("{title} — {} results from {} candidates in {ms:.2} ms", page.hits.len(), page.candidates);
    println!(
        "  {:>2}  {:<11} {:<32} {:<18} {:>8} {:>9} {:>7}  {:>12}",
        "#", "key", "title", "creator", "format", "views 24h", "likes", "score"
    );
    for (rank, hit) in page.hits.iter().enumerate() {
        let title = match hit.fields.get("title") {
            Some(FieldValue::Text(t)) => t.clone(),
            _ => hit.id.to_string(),
        };
        let creator = match hit.fields.get("creator") {
            Some(FieldValue::Reference(c)) => match db.get(EntityKind::Creator, *c)? {
                Some(f) => match f.get("name") {
                    Some(FieldValue::Text(n)) => n.clone(),
                    _ => c.to_string(),
                },
                None => c.to_string(),
            },
            _ => String::new(),
        };
        let format = match hit.fields.get("format") {
            Some(FieldValue::Keyword(f)) => f.as_str(),
            _ => "",
        };
        let views = db.signal_views_at(EntityKind::Item, hit.id, now)?;
        let day = |name: &str| {
            views
                .iter()
                .find(|v| v.signal == name)
                .and_then(|v| v.windows.iter().find(|w| w.window == Window::DAY))
                .map_or(0.0, |w| w.count)
        };
        let key = hit.key.clone().unwrap_or_else(|| hit.id.to_string());
        println!(
            "  {:>2}  {:<11} {:<32} {:<18} {:>8} {:>9} {:>7}  {:>12.4}",
            rank + 1,
            truncate(&key, 11),
            truncate(&title, 32),
            truncate(&creator, 18),
            format,
            day("view"),
            day("like"),
            hit.score
        );
    }
    println!();
    Ok(())
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_owned() } else { s.chars().take(n - 1).chain(['…']).collect() }
}
