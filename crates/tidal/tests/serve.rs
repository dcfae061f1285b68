//! `tidal serve` end to end: the real binary on a free loopback port, a real
//! HTTP client. Every endpoint, every error status the server can reach,
//! auth, limits, overload, the OpenAPI document, and a SIGTERM in the middle
//! of a write load that must lose no acknowledged write.
#![allow(clippy::unwrap_used, clippy::float_cmp, clippy::cast_precision_loss)] // Reason: tests fail loudly; counts are small and exact.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::{Value, json};

/// A running server; killed on drop if still running.
struct Server {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Server {
    /// Starts `tidal serve --dir dir --addr 127.0.0.1:0 extra...` and waits
    /// for its `listening on` line.
    fn start(dir: &Path, extra: &[&str]) -> Self {
        let log = dir.with_extension(format!("log{}", COUNTER.fetch_add(1, Ordering::Relaxed)));
        let mut child = Command::new(env!("CARGO_BIN_EXE_tidal"))
            .args(["serve", "--dir"])
            .arg(dir)
            .args(["--addr", "127.0.0.1:0"])
            .args(extra)
            .env_remove("TIDAL_TOKEN")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("no listening line: {line:?}; log: {}", std::fs::read_to_string(&log).unwrap()))
            .to_owned();
        Self { child, base, log }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends SIGTERM and waits for a clean exit; returns the log.
    fn stop(self) -> String {
        self.stop_with("-TERM")
    }

    /// Sends `signal` (`-TERM`, `-INT`) and waits for a clean exit.
    fn stop_with(mut self, signal: &str) -> String {
        let status = Command::new("kill").args([signal, &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        let log = std::fs::read_to_string(&self.log).unwrap();
        assert!(exit.success(), "server exited with {exit}; log:\n{log}");
        log
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn client() -> Client {
    Client::builder().timeout(Duration::from_secs(30)).build().unwrap()
}

/// Sends and returns (status, JSON body).
fn send(request: RequestBuilder) -> (StatusCode, Value) {
    let response: Response = request.send().unwrap();
    let status = response.status();
    let text = response.text().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// Asserts an error reply's status and code.
fn assert_error((status, body): (StatusCode, Value), want: StatusCode, code: &str) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
}

/// The log's last sequence number (a new database has written its schema).
fn last_seq(c: &Client, server: &Server) -> u64 {
    let (_, stats) = send(c.get(server.url("/v1/stats")));
    stats["last_seq"].as_u64().unwrap()
}

/// Unix seconds now.
fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

fn all_time(entity: &Value, signal: &str) -> f64 {
    entity["signals"].as_array().unwrap().iter().find(|s| s["signal"] == signal).unwrap()["all_time"].as_f64().unwrap()
}

#[test]
#[allow(clippy::too_many_lines)] // Reason: one scenario in order; the metrics at its end count every step.
fn every_endpoint_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("db"), &[]);
    let c = client();

    let (status, body) = send(c.get(server.url("/healthz")));
    assert_eq!((status, body), (StatusCode::OK, json!({"status": "ok"})));

    // Entities: write, read back, delete.
    let (status, ack) = send(c.put(server.url("/v1/creators/c1")).json(&json!({"name": "Ada", "verified": true})));
    assert_eq!(status, StatusCode::OK, "{ack}");
    assert_eq!(ack["written"], 1);
    send(c.put(server.url("/v1/users/u1")).json(&json!({"region": "eu"})));
    for i in 0..5 {
        let (status, _) = send(c.put(server.url(&format!("/v1/items/item-{i}"))).json(&json!({
            "title": format!("Item {i}"), "creator": "c1", "published_at": "2026-01-01T00:00:00Z"
        })));
        assert_eq!(status, StatusCode::OK);
    }
    let (status, item) = send(c.get(server.url("/v1/items/item-0")));
    assert_eq!(status, StatusCode::OK, "{item}");
    assert_eq!(item["fields"]["title"], "Item 0");
    assert_eq!(item["fields"]["published_at"], "2026-01-01T00:00:00Z");
    assert_eq!(item["kind"], "items");
    // Named by the keys written, the creator (a reference) too.
    assert_eq!(item["key"], "item-0", "{item}");
    assert_eq!(item["fields"]["creator"], "c1", "{item}");
    assert_eq!(item["id"], tidal::Key::id_for("item-0").0.to_string(), "{item}");
    let (_, user) = send(c.get(server.url("/v1/users/u1")));
    assert_eq!(user["fields"]["region"], "eu");

    // Signals: one event, then an array with a retried idempotency key.
    let (status, ack) =
        send(c.post(server.url("/v1/signals")).json(&json!({"signal": "view", "target": "item-0", "user": "u1"})));
    assert_eq!(status, StatusCode::OK, "{ack}");
    assert_eq!((ack["written"].clone(), ack["duplicates"].clone()), (json!(1), json!(0)));
    let mut events = vec![];
    let now = now_secs();
    for i in 0..5 {
        for _ in 0..=i {
            events.push(json!({"signal": "view", "target": format!("item-{i}"), "at": now - 60 + i}));
        }
    }
    events.push(json!({"signal": "like", "target": "item-4", "idempotency_key": "like-1", "weight": 2.0}));
    events.push(json!({"signal": "like", "target": "item-4", "idempotency_key": "like-1", "weight": 2.0}));
    let n = events.len();
    let (status, ack) = send(c.post(server.url("/v1/signals")).json(&events));
    assert_eq!(status, StatusCode::OK, "{ack}");
    // Untimed events are never duplicates; equal timed events within the
    // window are (the default content dedup): per item i, i of its i+1 copies.
    let mut expected_dups: Vec<usize> = vec![];
    let mut at = 0;
    for i in 0..5 {
        expected_dups.extend(at + 1..=at + i);
        at += i + 1;
    }
    expected_dups.push(n - 1);
    assert_eq!(ack["duplicate_indexes"], json!(expected_dups), "{ack}");
    assert_eq!(ack["written"], n - expected_dups.len());
    let (_, item) = send(c.get(server.url("/v1/items/item-4")));
    assert_eq!(all_time(&item, "like"), 1.0);
    assert_eq!(all_time(&item, "view"), 1.0);
    let (_, item) = send(c.get(server.url("/v1/items/item-0")));
    assert_eq!(all_time(&item, "view"), 2.0);

    // An item named only by signals is found; one never named is not.
    send(c.post(server.url("/v1/signals")).json(&json!({"signal": "view", "target": "ghost"})));
    let (status, ghost) = send(c.get(server.url("/v1/items/ghost")));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ghost["fields"], Value::Null);

    // Relationships: write and remove.
    let edge = json!({"type": "follows", "from": "u1", "to": "c1", "weight": 2.5});
    let (status, ack) = send(c.post(server.url("/v1/relationships")).json(&edge));
    assert_eq!((status, ack["written"].clone()), (StatusCode::OK, json!(1)));
    let (status, ack) = send(
        c.post(server.url("/v1/relationships"))
            .json(&json!({"type": "follows", "from": "u1", "to": "c1", "remove": true})),
    );
    assert_eq!((status, ack["written"].clone()), (StatusCode::OK, json!(1)));

    // Query, paged by cursor: pages of two, no repeats, every stored item
    // (the ghost has no fields: results are stored items).
    let statement = "RETRIEVE items SORT BY most_viewed LIMIT 2";
    let (status, page) = send(c.post(server.url("/v1/query")).json(&json!({"statement": statement})));
    assert_eq!(status, StatusCode::OK, "{page}");
    let mut seen: Vec<String> = vec![];
    let mut page = page;
    loop {
        for hit in page["hits"].as_array().unwrap() {
            assert!(hit["score"].is_number() && hit["key"].is_string() && hit["fields"].is_object(), "{hit}");
            seen.push(hit["key"].as_str().unwrap().to_owned());
            assert_eq!(hit["id"], tidal::Key::id_for(seen.last().unwrap()).0.to_string(), "{hit}");
        }
        let Some(next) = page["next"].as_str() else { break };
        let (status, p) = send(c.post(server.url("/v1/query")).json(&json!({"statement": statement, "cursor": next})));
        assert_eq!(status, StatusCode::OK, "{p}");
        page = p;
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (5, 5), "{seen:?}");
    // Most viewed first: item-0 has 2 views, the others 1.
    let (_, first) = send(c.get(server.url("/v1/items/item-0")));
    assert_eq!(seen[0], first["key"].as_str().unwrap());

    // A SIGNAL statement through /v1/query writes.
    let (status, ack) = send(c.post(server.url("/v1/query")).json(&json!({"statement": "SIGNAL like ITEM 'item-1'"})));
    assert_eq!((status, ack["written"].clone()), (StatusCode::OK, json!(1)), "{ack}");

    // Explain, with and without analyze.
    let (status, plan) = send(c.post(server.url("/v1/explain")).json(&json!({"statement": statement})));
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert!(plan["plan"].as_str().unwrap().contains("most_viewed"), "{plan}");
    assert_eq!(plan["page"], Value::Null);
    let (status, run) = send(c.post(server.url("/v1/explain")).json(&json!({"statement": statement, "analyze": true})));
    assert_eq!(status, StatusCode::OK, "{run}");
    assert_eq!(run["page"]["hits"].as_array().unwrap().len(), 2);
    assert!(!run["stages"].as_array().unwrap().is_empty());

    // Delete, then the entity is gone (its signals stay, so an item with
    // none is the one to check).
    let (status, _) = send(c.delete(server.url("/v1/users/u1")));
    assert_eq!(status, StatusCode::OK);
    assert_error(send(c.get(server.url("/v1/users/u1"))), StatusCode::NOT_FOUND, "not_found");

    // Stats and metrics.
    let (status, figures) = send(c.get(server.url("/v1/stats")));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (figures["items"].clone(), figures["creators"].clone(), figures["users"].clone()),
        (json!(5), json!(1), json!(0))
    );
    assert!(figures["last_seq"].as_u64().unwrap() > 10);
    let metrics = c.get(server.url("/metrics")).send().unwrap();
    assert!(metrics.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let metrics = metrics.text().unwrap();
    for line in [
        "tidal_http_requests_total{method=\"PUT\",route=\"/v1/{kind}/{key}\",status=\"200\"} 7",
        "tidal_http_request_duration_seconds_count{method=\"POST\",route=\"/v1/query\",status=\"200\"} 4",
        "tidal_entities_put_total 7",
        "tidal_entities_deleted_total 1",
        "tidal_relationships_written_total 2",
        "tidal_items 5",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} missing from\n{metrics}");
    }
    let written = metrics.lines().find_map(|l| l.strip_prefix("tidal_signals_written_total ")).unwrap();
    assert_eq!(written.parse::<usize>().unwrap(), 1 + (n - expected_dups.len()) + 1);
    let log = server.stop();
    // Every request got a span.
    assert!(log.contains("uri=/v1/stats"), "{log}");
}

#[test]
fn every_error_has_its_status_and_code() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("db"), &[]);
    let c = client();
    let post = |path: &str, body: &Value| send(c.post(server.url(path)).json(body));
    let bad = StatusCode::BAD_REQUEST;
    let seq = last_seq(&c, &server);

    assert_error(send(c.post(server.url("/v1/signals")).body("{not json")), bad, "bad_json");
    assert_error(send(c.put(server.url("/v1/items/a")).body("[1,")), bad, "bad_json");
    assert_error(post("/v1/signals", &json!(3)), bad, "bad_event");
    assert_error(post("/v1/signals", &json!([{"signal": "view"}])), bad, "bad_event");
    assert_error(post("/v1/signals", &json!({"signal": "view", "target": "a", "at": "yesterday"})), bad, "bad_event");
    assert_error(post("/v1/signals", &json!({"signal": "nope", "target": "a"})), bad, "unknown_signal");
    assert_error(post("/v1/signals", &json!({"signal": "view", "target": ""})), bad, "invalid_key");
    assert_error(
        send(c.put(server.url(&format!("/v1/items/{}", "k".repeat(513)))).json(&json!({}))),
        bad,
        "invalid_key",
    );
    assert_error(post("/v1/signals", &json!({"signal": "view", "target": "a", "weight": -1.0})), bad, "invalid_input");
    assert_error(
        post("/v1/signals", &json!({"signal": "view", "target": "a", "idempotency_key": "k".repeat(200)})),
        bad,
        "invalid_record",
    );
    assert_error(
        post("/v1/relationships", &json!({"type": "likes", "from": "a", "to": "b"})),
        bad,
        "unknown_relationship",
    );
    assert_error(post("/v1/relationships", &json!({"type": "follows", "from": "a"})), bad, "bad_json");
    assert_error(send(c.put(server.url("/v1/items/a")).json(&json!({"nope": 1}))), bad, "invalid_argument");
    assert_error(send(c.put(server.url("/v1/items/a")).json(&json!({"title": 3}))), bad, "invalid_argument");
    // Refused by the schema after the reference was read: its key is not written either.
    assert_error(
        send(c.put(server.url("/v1/items/a")).json(&json!({"creator": "c-new", "embedding": [1.0]}))),
        bad,
        "schema_error",
    );
    assert_error(post("/v1/query", &json!({"statement": "RETRIEVE itemz"})), bad, "parse_error");
    assert_error(post("/v1/query", &json!({"statement": "RETRIEVE items USING PROFILE nope"})), bad, "ranking_error");
    assert_error(
        post("/v1/query", &json!({"statement": "RETRIEVE items SORT BY new", "cursor": "garbage"})),
        bad,
        "invalid_cursor",
    );
    assert_error(
        post("/v1/query", &json!({"statement": "SIGNAL view ITEM 'a'", "cursor": "x"})),
        bad,
        "invalid_argument",
    );
    assert_error(
        post("/v1/query", &json!({"statement": "SEARCH items QUERY \"cats\""})),
        StatusCode::NOT_IMPLEMENTED,
        "unsupported",
    );
    assert_error(post("/v1/explain", &json!({"statement": "SIGNAL view ITEM 'a'"})), bad, "invalid_argument");
    let huge = format!("RETRIEVE items /* {} */", "x".repeat(tidal_query::MAX_STATEMENT_BYTES));
    assert_error(post("/v1/query", &json!({"statement": huge})), StatusCode::PAYLOAD_TOO_LARGE, "statement_too_large");
    assert_error(
        post("/v1/explain", &json!({"statement": huge})),
        StatusCode::PAYLOAD_TOO_LARGE,
        "statement_too_large",
    );
    assert_error(send(c.get(server.url("/v1/widgets/a"))), StatusCode::NOT_FOUND, "not_found");
    assert_error(send(c.get(server.url("/v1/items/never"))), StatusCode::NOT_FOUND, "not_found");
    assert_error(send(c.get(server.url("/v2/anything"))), StatusCode::NOT_FOUND, "not_found");
    assert_error(send(c.get(server.url("/v1/signals"))), StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    // Nothing of the refused writes was written.
    let (_, stats) = send(c.get(server.url("/v1/stats")));
    assert_eq!((stats["last_seq"].clone(), stats["items"].clone()), (json!(seq), json!(0)), "{stats}");

    // A second server on the same directory is refused at start.
    let second = Command::new(env!("CARGO_BIN_EXE_tidal"))
        .args(["serve", "--addr", "127.0.0.1:0", "--dir"])
        .arg(dir.path().join("db"))
        .output()
        .unwrap();
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("only one process may open"), "{second:?}");
    server.stop();
}

#[test]
fn auth_refuses_missing_and_wrong_tokens_and_logs_json() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("db"), &["--token", "s3cret", "--log-format", "json"]);
    let c = client();
    assert_eq!(send(c.get(server.url("/healthz"))).0, StatusCode::OK);
    for path in ["/v1/stats", "/metrics", "/v1/openapi.json", "/v1/items/a", "/nowhere"] {
        let response = c.get(server.url(path)).send().unwrap();
        assert_eq!(response.headers()["www-authenticate"], "Bearer", "{path}");
        assert_error((response.status(), response.json().unwrap()), StatusCode::UNAUTHORIZED, "unauthorized");
        assert_error(send(c.get(server.url(path)).bearer_auth("s3cre")), StatusCode::UNAUTHORIZED, "unauthorized");
        assert_error(
            send(c.get(server.url(path)).basic_auth("s3cret", None::<&str>)),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        );
    }
    assert_error(
        send(c.post(server.url("/v1/signals")).json(&json!({"signal": "view", "target": "a"}))),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    let (status, before) = send(c.get(server.url("/v1/stats")).bearer_auth("s3cret"));
    assert_eq!(status, StatusCode::OK);
    let seq = before["last_seq"].as_u64().unwrap();
    let (status, ack) =
        send(c.post(server.url("/v1/signals")).bearer_auth("s3cret").json(&json!({"signal": "view", "target": "a"})));
    assert_eq!((status, ack["written"].clone()), (StatusCode::OK, json!(1)));
    let (_, after) = send(c.get(server.url("/v1/stats")).bearer_auth("s3cret"));
    // The event, and the key of its target `a`, new to the database.
    assert_eq!(after["last_seq"], seq + 2, "only the authenticated write was written");
    // Ctrl-C (SIGINT) shuts down as cleanly as SIGTERM.
    let log = server.stop_with("-INT");
    assert!(log.contains("shut down cleanly"), "{log}");
    let lines: Vec<Value> =
        log.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    assert!(lines.iter().any(|l| l["span"]["uri"] == "/v1/stats"), "{log}");
}

#[test]
fn off_loopback_without_a_token_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tidal"))
        .args(["serve", "--addr", "0.0.0.0:0", "--dir"])
        .arg(dir.path().join("db"))
        .env_remove("TIDAL_TOKEN")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("without a token"), "{stderr}");
    assert!(out.stdout.is_empty(), "it must not have listened");
    assert!(!dir.path().join("db").exists(), "nothing created");
}

#[test]
fn limits_answer_413_and_503() {
    let dir = tempfile::tempdir().unwrap();
    let c = client();
    // Body limit.
    let server = Server::start(&dir.path().join("a"), &["--max-body", "1024"]);
    let big = json!({"title": "x".repeat(2000)});
    assert_error(send(c.put(server.url("/v1/items/a")).json(&big)), StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
    assert_eq!(send(c.put(server.url("/v1/items/a")).json(&json!({"title": "small"}))).0, StatusCode::OK);
    server.stop();

    // Timeout: a query over 20,000 items' signals takes milliseconds; the
    // limit is a microsecond. (A read with a small body: the reply cannot
    // come before the client has sent it all.)
    let server = Server::start(&dir.path().join("b"), &[]);
    let events: Vec<Value> = (0..20_000).map(|i| json!({"signal": "view", "target": format!("i{i}")})).collect();
    assert_eq!(send(c.post(server.url("/v1/signals")).json(&events)).0, StatusCode::OK);
    server.stop();
    let server = Server::start(&dir.path().join("b"), &["--timeout", "0.000001"]);
    let query = json!({"statement": "EXPLAIN ANALYZE RETRIEVE items SORT BY trending LIMIT 10"});
    assert_error(send(c.post(server.url("/v1/query")).json(&query)), StatusCode::SERVICE_UNAVAILABLE, "timeout");
    assert_eq!(send(client().get(server.url("/healthz"))).0, StatusCode::OK, "health is outside the limits");
    server.stop();

    // Overload: one request at a time; concurrent ones are shed at once.
    let events: Vec<Value> = (0..2000).map(|i| json!({"signal": "view", "target": format!("i{i}")})).collect();
    let server = Arc::new(Server::start(&dir.path().join("c"), &["--max-concurrency", "1"]));
    // Name every target and user first, so the requests below log only their events.
    let prime: Vec<Value> = (0..2000)
        .map(|i| json!({"signal": "view", "target": format!("i{i}"), "user": format!("u{}", i % 24)}))
        .collect();
    assert_eq!(send(client().post(server.url("/v1/signals")).json(&prime)).0, StatusCode::OK);
    let seq = last_seq(&client(), &server);
    let barrier = Arc::new(Barrier::new(24));
    let outcomes: Vec<(StatusCode, Value)> = (0..24)
        .map(|t| {
            let (server, barrier, events) = (Arc::clone(&server), Arc::clone(&barrier), events.clone());
            std::thread::spawn(move || {
                let c = client();
                let events: Vec<Value> = events
                    .into_iter()
                    .map(|mut e| {
                        e["user"] = json!(format!("u{t}"));
                        e
                    })
                    .collect();
                barrier.wait();
                send(c.post(server.url("/v1/signals")).json(&events))
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    let ok = outcomes.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    let shed: Vec<_> = outcomes.iter().filter(|(s, _)| *s == StatusCode::SERVICE_UNAVAILABLE).collect();
    assert!(ok >= 1 && !shed.is_empty() && ok + shed.len() == 24, "{outcomes:?}");
    for (_, body) in shed {
        assert_eq!(body["error"]["code"], "overloaded");
    }
    let c = client();
    let (_, stats) = send(c.get(server.url("/v1/stats")));
    assert_eq!(stats["last_seq"], seq + ok as u64 * 2000, "exactly the accepted requests were written");
    Arc::into_inner(server).unwrap().stop();
}

#[test]
fn concurrent_signal_requests_each_get_their_own_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let server = Arc::new(Server::start(&dir.path().join("db"), &[]));
    let threads = 16;
    // Name every target first, so the requests below log only their events.
    for t in 0..threads {
        assert_eq!(send(client().put(server.url(&format!("/v1/items/item-{t}"))).json(&json!({}))).0, StatusCode::OK);
    }
    let seq = last_seq(&client(), &server);
    let barrier = Arc::new(Barrier::new(threads));
    let outcomes: Vec<(usize, StatusCode, Value)> = (0..threads)
        .map(|t| {
            let (server, barrier) = (Arc::clone(&server), Arc::clone(&barrier));
            std::thread::spawn(move || {
                let c = client();
                let mut out = vec![];
                for round in 0..20 {
                    // Thread t sends t+1 events, its last a retry of its first;
                    // thread 0 sends a bad event every other round.
                    let key = format!("t{t}-r{round}");
                    let mut events: Vec<Value> = (0..=t)
                        .map(|i| json!({"signal": "view", "target": format!("item-{t}"), "idempotency_key": format!("{key}-{i}")}))
                        .collect();
                    events.push(json!({"signal": "view", "target": format!("item-{t}"), "idempotency_key": format!("{key}-0")}));
                    if t == 0 && round % 2 == 0 {
                        events.push(json!({"signal": "view", "target": "x", "weight": -5.0}));
                    }
                    if round == 0 {
                        barrier.wait();
                    }
                    let (status, body) = send(c.post(server.url("/v1/signals")).json(&events));
                    out.push((t, status, body));
                }
                out
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let mut written = 0;
    for (t, status, body) in &outcomes {
        if *t == 0 && body["error"].is_object() {
            assert_error((*status, body.clone()), StatusCode::BAD_REQUEST, "invalid_input");
            continue;
        }
        assert_eq!(*status, StatusCode::OK, "thread {t}: {body}");
        assert_eq!(body["duplicate_indexes"], json!([t + 1]), "thread {t}: {body}");
        assert_eq!(body["written"], t + 1, "thread {t}: {body}");
        written += t + 1;
    }
    assert_eq!(outcomes.iter().filter(|(t, s, _)| *t == 0 && *s == StatusCode::BAD_REQUEST).count(), 10);
    let c = client();
    let (_, stats) = send(c.get(server.url("/v1/stats")));
    assert_eq!(stats["last_seq"], seq + written as u64);
    for t in 0..threads {
        let (_, item) = send(c.get(server.url(&format!("/v1/items/item-{t}"))));
        let want = if t == 0 { 10 } else { 20 * (t + 1) };
        assert_eq!(all_time(&item, "view"), want as f64, "item-{t}");
    }
    Arc::into_inner(server).unwrap().stop();
}

#[test]
fn sigterm_mid_load_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let server = Server::start(&db, &[]);
    let writers = 8;
    let acked: Arc<Vec<AtomicU64>> = Arc::new((0..writers).map(|_| AtomicU64::new(0)).collect());
    let sent: Arc<Vec<AtomicU64>> = Arc::new((0..writers).map(|_| AtomicU64::new(0)).collect());
    let handles: Vec<_> = (0..writers)
        .map(|w| {
            let (url, acked, sent) = (server.url("/v1/signals"), Arc::clone(&acked), Arc::clone(&sent));
            std::thread::spawn(move || {
                let c = client();
                loop {
                    sent[w].fetch_add(1, Ordering::SeqCst);
                    let body = json!({"signal": "view", "target": format!("w{w}"), "user": format!("u{w}")});
                    match c.post(&url).json(&body).send() {
                        Ok(r) if r.status() == StatusCode::OK => {
                            let ack: Value = r.json().unwrap();
                            assert_eq!(ack["written"], 1);
                            acked[w].fetch_add(1, Ordering::SeqCst);
                        }
                        // Refused while shutting down, or the connection closed.
                        _ => return,
                    }
                }
            })
        })
        .collect();
    // SIGTERM once some load is acknowledged, while it goes on.
    while acked.iter().map(|a| a.load(Ordering::SeqCst)).sum::<u64>() < 300 {
        std::thread::yield_now();
    }
    let log = server.stop();
    assert!(log.contains("shut down cleanly"), "{log}");
    for h in handles {
        h.join().unwrap();
    }
    let server = Server::start(&db, &[]);
    let c = client();
    for w in 0..writers {
        let (status, item) = send(c.get(server.url(&format!("/v1/items/w{w}"))));
        assert_eq!(status, StatusCode::OK);
        let count = all_time(&item, "view");
        let (acked, sent) = (acked[w].load(Ordering::SeqCst) as f64, sent[w].load(Ordering::SeqCst) as f64);
        assert!(count >= acked && count <= sent, "writer {w}: {count} counted, {acked} acknowledged, {sent} sent");
    }
    server.stop();
}

#[test]
fn openapi_document_is_valid_and_covers_every_route() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("db"), &[]);
    let c = client();
    let text = c.get(server.url("/v1/openapi.json")).send().unwrap().text().unwrap();
    let spec = oas3::from_json(&text).unwrap();
    assert_eq!(spec.validate_version().unwrap().major, 3);
    // Every schema reference resolves.
    for (path, method, op) in spec.operations() {
        if let Some(body) = &op.request_body {
            let body = body.resolve(&spec).unwrap_or_else(|e| panic!("{method} {path}: {e}"));
            for media in body.content.values() {
                if let Some(schema) = &media.schema {
                    schema.resolve(&spec).unwrap_or_else(|e| panic!("{method} {path}: {e}"));
                }
            }
        }
        for response in op.responses.iter().flat_map(|r| r.values()) {
            let response = response.resolve(&spec).unwrap_or_else(|e| panic!("{method} {path}: {e}"));
            for media in response.content.values() {
                if let Some(schema) = &media.schema {
                    schema.resolve(&spec).unwrap_or_else(|e| panic!("{method} {path}: {e}"));
                }
            }
        }
    }
    // The signals body is one event or an array of them, as the handler
    // reads it (not an externally tagged enum).
    let raw: Value = serde_json::from_str(&text).unwrap();
    let signals_in = &raw["components"]["schemas"]["SignalsIn"];
    let variants = signals_in["oneOf"].as_array().unwrap_or_else(|| panic!("{signals_in}"));
    assert_eq!(variants.len(), 2, "{signals_in}");
    assert!(variants.iter().any(|v| v["type"] == "array"), "{signals_in}");
    assert!(variants.iter().all(|v| v.get("One").is_none() && v["properties"].get("One").is_none()), "{signals_in}");
    // The routes the server serves, all documented ...
    let routes = [
        ("GET", "/healthz"),
        ("GET", "/metrics"),
        ("GET", "/v1/openapi.json"),
        ("GET", "/v1/stats"),
        ("POST", "/v1/query"),
        ("POST", "/v1/explain"),
        ("POST", "/v1/signals"),
        ("POST", "/v1/relationships"),
        ("GET", "/v1/{kind}/{key}"),
        ("PUT", "/v1/{kind}/{key}"),
        ("DELETE", "/v1/{kind}/{key}"),
    ];
    let mut documented: Vec<(String, String)> =
        spec.operations().map(|(path, method, _)| (method.as_str().to_owned(), path)).collect();
    documented.sort();
    let mut want: Vec<(String, String)> = routes.iter().map(|(m, p)| ((*m).to_owned(), (*p).to_owned())).collect();
    want.sort();
    assert_eq!(documented, want);
    // ... and every documented route served (no unmatched 404 or 405).
    for (method, path) in &documented {
        let url = server.url(&path.replace("{kind}", "items").replace("{key}", "k"));
        let request = c.request(method.parse().unwrap(), url).json(&json!({}));
        let (status, body) = send(request);
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert!(
            !body["error"]["message"].as_str().is_some_and(|m| m.starts_with("no such route")),
            "{method} {path}: {body}"
        );
    }
    server.stop();
}
