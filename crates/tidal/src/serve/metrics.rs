//! Prometheus metrics: request counts and latency histograms per method,
//! route and status, write counts, and — read at scrape time from
//! [`TidalDB::stats`](tidal::TidalDB::stats) — log, checkpoint and view
//! figures, in the Prometheus text exposition format (version 0.0.4),
//! written by hand: a few dozen lines need no client library.
//!
//! Label cardinality is bounded: routes are the router's templates
//! (`/v1/{kind}/{key}`, never a key), anything unmatched is `unmatched`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use parking_lot::Mutex;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 14] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// One series' latency histogram.
#[derive(Debug, Default)]
struct Histogram {
    /// Observations at or under each bucket's bound (not cumulative here).
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Everything counted.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    /// Per (method, route, status).
    requests: Mutex<BTreeMap<(String, String, u16), Histogram>>,
    /// Signal events written durably.
    pub(crate) signals_written: AtomicU64,
    /// Signal events dropped as duplicates.
    pub(crate) signals_duplicate: AtomicU64,
    /// Entities written.
    pub(crate) entities_put: AtomicU64,
    /// Entities deleted.
    pub(crate) entities_deleted: AtomicU64,
    /// Relationship edges written or removed.
    pub(crate) relationships_written: AtomicU64,
}

impl Metrics {
    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut map = self.requests.lock();
        let h = map.entry((method.to_owned(), route.to_owned(), status)).or_default();
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            h.buckets[i] += 1;
        }
        h.count += 1;
        h.sum += seconds;
    }

    /// The exposition text: the request series and write counters, then
    /// the database's figures.
    pub(crate) fn render(&self, stats: Option<&tidal::Stats>, batches: &super::batcher::BatchCounts) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# HELP tidal_http_requests_total HTTP requests answered, by method, route and status.");
        let _ = writeln!(out, "# TYPE tidal_http_requests_total counter");
        let map = self.requests.lock();
        for ((method, route, status), h) in map.iter() {
            let _ = writeln!(
                out,
                "tidal_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {}",
                escape(route),
                h.count
            );
        }
        let _ =
            writeln!(out, "# HELP tidal_http_request_duration_seconds Time to answer, by method, route and status.");
        let _ = writeln!(out, "# TYPE tidal_http_request_duration_seconds histogram");
        for ((method, route, status), h) in map.iter() {
            let labels = format!("method=\"{method}\",route=\"{}\",status=\"{status}\"", escape(route));
            let mut cumulative = 0;
            for (bound, n) in BUCKETS.iter().zip(h.buckets) {
                cumulative += n;
                let _ =
                    writeln!(out, "tidal_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
            }
            let _ = writeln!(out, "tidal_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(out, "tidal_http_request_duration_seconds_sum{{{labels}}} {}", h.sum);
            let _ = writeln!(out, "tidal_http_request_duration_seconds_count{{{labels}}} {}", h.count);
        }
        drop(map);
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        };
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        counter(&mut out, "tidal_signals_written_total", "Signal events written durably.", load(&self.signals_written));
        counter(
            &mut out,
            "tidal_signals_duplicate_total",
            "Signal events dropped as duplicates.",
            load(&self.signals_duplicate),
        );
        counter(&mut out, "tidal_entities_put_total", "Entities written.", load(&self.entities_put));
        counter(&mut out, "tidal_entities_deleted_total", "Entities deleted.", load(&self.entities_deleted));
        counter(
            &mut out,
            "tidal_relationships_written_total",
            "Relationship edges written or removed.",
            load(&self.relationships_written),
        );
        counter(
            &mut out,
            "tidal_signal_appends_total",
            "Log appends made by the signal batcher.",
            load(&batches.appends),
        );
        counter(
            &mut out,
            "tidal_signal_requests_total",
            "Signal requests the batcher carried (requests per append = batching).",
            load(&batches.requests),
        );
        if let Some(s) = stats {
            let gauge = |out: &mut String, name: &str, help: &str, v: u64| {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
            };
            let us = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
            gauge(&mut out, "tidal_items", "Items stored.", s.items);
            gauge(&mut out, "tidal_users", "Users stored.", s.users);
            gauge(&mut out, "tidal_creators", "Creators stored.", s.creators);
            gauge(&mut out, "tidal_signal_pairs", "(entity, signal) pairs in the ledger.", us(s.signal_pairs));
            gauge(&mut out, "tidal_ledger_bytes", "Signal ledger memory in bytes.", us(s.ledger_bytes));
            gauge(&mut out, "tidal_user_state_bytes", "User-state bitmap memory in bytes.", us(s.user_state_bytes));
            gauge(&mut out, "tidal_item_columns_bytes", "In-memory item column bytes.", us(s.item_columns_bytes));
            gauge(&mut out, "tidal_dedup_entries", "Identities the log's dedup window holds.", s.dedup_entries);
            gauge(&mut out, "tidal_log_last_seq", "Last sequence number in the log.", s.last_seq);
            gauge(&mut out, "tidal_log_records_since_open", "Log records appended since open.", s.records_since_open);
            gauge(&mut out, "tidal_log_bytes", "Log bytes on disk.", s.log_bytes);
            gauge(&mut out, "tidal_log_segments", "Log segment files.", us(s.log_segments));
            gauge(
                &mut out,
                "tidal_last_checkpoint_seq",
                "Sequence number of the last checkpoint (0: none yet).",
                s.last_checkpoint.unwrap_or(0),
            );
            gauge(&mut out, "tidal_schema_version", "The schema version in force.", s.schema_version);
        }
        out
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Middleware: times every request and counts it by route and status.
pub(crate) async fn record(State(state): State<super::State>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    // Only the standard methods get their own series (bounded labels).
    let method = match *request.method() {
        ref m @ (Method::GET
        | Method::PUT
        | Method::POST
        | Method::DELETE
        | Method::HEAD
        | Method::OPTIONS
        | Method::PATCH) => m.as_str().to_owned(),
        _ => "other".to_owned(),
    };
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let response = next.run(request).await;
    state.metrics.observe(&method, &route, response.status().as_u16(), started.elapsed().as_secs_f64());
    response
}
