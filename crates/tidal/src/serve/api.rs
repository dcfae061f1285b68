//! The `/v1` API's shapes: request and reply bodies (with their OpenAPI
//! schemas), the JSON body extractor that answers malformed bodies in the
//! server's error shape, and the route table that the OpenAPI document is
//! generated from — a route is served only if it is documented.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::openapi::OpenApi;
use utoipa::{OpenApi as _, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody};
use super::{State, reads, writes};

/// The OpenAPI document's frame; the paths come from [`routes`].
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "tidalDB",
        description = "The HTTP/JSON API of `tidal serve` (docs/server.md): entity, relationship and signal \
                       writes, queries in the tidalDB query language, entity reads and statistics.",
        license(name = "MIT OR Apache-2.0")
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
struct Doc;

/// Declares the bearer-token scheme.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The `/v1` routes, each with its documentation.
pub(crate) fn routes() -> OpenApiRouter<State> {
    OpenApiRouter::with_openapi(Doc::openapi())
        .routes(routes!(writes::put_entity, writes::delete_entity, reads::get_entity))
        .routes(routes!(writes::relationships))
        .routes(routes!(writes::signals))
        .routes(routes!(reads::query))
        .routes(routes!(reads::explain))
        .routes(routes!(reads::stats))
}

/// The documentation of the routes served outside the `/v1` router's
/// layers (`/healthz` without auth, `/metrics`, and this document); the
/// router made alongside is dropped: [`super::router`] serves the same
/// handlers.
pub(crate) fn outside_routes_doc() -> OpenApi {
    let (_, doc) = OpenApiRouter::<State>::new()
        .routes(routes!(reads::healthz))
        .routes(routes!(reads::metrics))
        .routes(routes!(openapi_doc))
        .split_for_parts();
    doc
}

/// `GET /v1/openapi.json`: this document.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
#[allow(clippy::unused_async)] // Reason: documents the route; the router serves `openapi_json`.
async fn openapi_doc() -> StatusCode {
    StatusCode::NOT_FOUND
}

/// Serves the document, serialized once at start.
#[allow(clippy::unused_async)] // Reason: axum handlers are async functions.
pub(crate) async fn openapi_json(doc: Bytes) -> impl axum::response::IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], doc)
}

/// A JSON body, read whatever its content type; a body over the limit is
/// 413 `body_too_large`, one that is not JSON of the expected shape is 400
/// `bad_json` with serde's reason (line, column, field).
#[derive(Debug)]
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let RawBody(bytes) = RawBody::from_request(request, state).await?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::bad_request("bad_json", format!("the body is not the JSON this route takes: {e}")))
    }
}

/// A request body's bytes, within `--max-body` (over it: 413
/// `body_too_large`).
#[derive(Debug)]
pub(crate) struct RawBody(pub(crate) Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        Bytes::from_request(request, state).await.map(RawBody).map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::too_large("body_too_large", "the request body is larger than the server's --max-body")
            } else {
                ApiError::bad_request("bad_body", e.body_text())
            }
        })
    }
}

/// What a write became.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WriteAck {
    /// Records written durably.
    pub(crate) written: usize,
    /// Signal events dropped as duplicates of events already written.
    pub(crate) duplicates: usize,
    /// Which events those were: positions in the request's array (0 for a single event).
    pub(crate) duplicate_indexes: Vec<usize>,
    /// The last log sequence number written (0 if none).
    pub(crate) last_seq: u64,
}

impl From<tidal::Ack> for WriteAck {
    fn from(a: tidal::Ack) -> Self {
        Self {
            written: a.written,
            duplicates: a.duplicates,
            duplicate_indexes: a.duplicate_indexes,
            last_seq: a.last_seq,
        }
    }
}

/// A relationship edge to write or remove.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RelationshipIn {
    /// The relationship type the schema declares (e.g. `follows`).
    #[serde(rename = "type")]
    pub(crate) relationship: String,
    /// The key of the entity the edge starts at.
    pub(crate) from: String,
    /// The key of the entity it points to.
    pub(crate) to: String,
    /// The edge's weight (default 1; finite, not negative).
    #[serde(default)]
    pub(crate) weight: Option<f64>,
    /// Remove the edge instead of writing it.
    #[serde(default)]
    pub(crate) remove: bool,
}

/// One signal event.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignalIn {
    /// The signal's name (e.g. `view`).
    pub(crate) signal: String,
    /// The key of the entity it happened to.
    pub(crate) target: String,
    /// The key of the user, if known.
    #[serde(default)]
    pub(crate) user: Option<String>,
    /// The weight (default: the signal's declared default weight).
    #[serde(default)]
    pub(crate) weight: Option<f64>,
    /// When: an RFC 3339 string or Unix seconds (default: on arrival).
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "2026-12-01T03:00:00Z")]
    pub(crate) at: Option<serde_json::Value>,
    /// The producer's name for the event (1 to 128 bytes): a retry with the
    /// same key within the dedup window (60 s) is a duplicate.
    #[serde(default)]
    pub(crate) idempotency_key: Option<String>,
}

/// `POST /v1/signals` takes one event or an array of them.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // Reason: documents the body; the handler reads it as JSON and then per event.
#[serde(untagged)]
pub(crate) enum SignalsIn {
    /// One event.
    One(SignalIn),
    /// Several, written in one log append (all or none, for bad input).
    Many(Vec<SignalIn>),
}

/// A statement to run.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct QueryIn {
    /// A statement of the query language (docs/query-language.md), at most 64 KiB.
    pub(crate) statement: String,
    /// The `next` cursor of the previous page of the same query.
    #[serde(default)]
    pub(crate) cursor: Option<String>,
}

/// A statement to explain.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExplainIn {
    /// A `RETRIEVE` statement (with or without a leading `EXPLAIN`).
    pub(crate) statement: String,
    /// Also run it: rows and time per stage, and each result's ranking contributions.
    #[serde(default)]
    pub(crate) analyze: bool,
}

/// One result.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HitOut {
    /// The item's key (its numeric id, as a string, when no key is known).
    #[schema(value_type = String)]
    pub(crate) key: serde_json::Value,
    /// The item's numeric id, as a decimal string (ids exceed JSON's exact integers).
    pub(crate) id: String,
    /// Its score.
    pub(crate) score: f64,
    /// Its fields (references shown by key).
    #[schema(value_type = Object)]
    pub(crate) fields: serde_json::Value,
    /// Each ranking stage's contribution (with EXPLAIN ANALYZE).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) explanation: Option<String>,
}

/// A page of results.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PageOut {
    /// The results, best first.
    pub(crate) hits: Vec<HitOut>,
    /// The cursor of the next page, if there may be one: pass it as `cursor` with the same statement.
    pub(crate) next: Option<String>,
    /// How many candidates were ranked.
    pub(crate) candidates: usize,
}

/// One stage of an analyzed plan.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StageOut {
    /// The stage.
    pub(crate) stage: String,
    /// Rows out of it.
    pub(crate) rows: usize,
    /// Wall time in microseconds.
    pub(crate) micros: f64,
}

/// An explained query.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ExplainOut {
    /// The plan, one stage a line.
    pub(crate) plan: String,
    /// The rendered report (what `tidal query` prints).
    pub(crate) text: String,
    /// With `analyze`: rows and time per stage.
    pub(crate) stages: Vec<StageOut>,
    /// With `analyze`: the page it produced.
    pub(crate) page: Option<PageOut>,
}

/// What a statement produced: a page (`RETRIEVE`), an explanation
/// (`EXPLAIN`), or a write's acknowledgement (`SIGNAL`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum QueryOut {
    /// `RETRIEVE`.
    Page(PageOut),
    /// `EXPLAIN [ANALYZE]`.
    Explained(ExplainOut),
    /// `SIGNAL`.
    Signal(WriteAck),
}

/// One window of a signal view.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WindowOut {
    /// The window (`1h`, `1d`, ...).
    pub(crate) window: String,
    /// Events in it.
    pub(crate) count: f64,
    /// Their weight sum.
    pub(crate) sum: f64,
    /// Events per second, when tracked.
    pub(crate) velocity: Option<f64>,
    /// Change of velocity, when tracked.
    pub(crate) acceleration: Option<f64>,
}

/// Every view of one signal for one entity.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SignalViewOut {
    /// The signal.
    pub(crate) signal: String,
    /// Decayed score now.
    pub(crate) decayed: f64,
    /// All-time count.
    pub(crate) all_time: f64,
    /// Each window the signal keeps.
    pub(crate) windows: Vec<WindowOut>,
}

/// An entity: its fields and signal views.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EntityOut {
    /// `items`, `users` or `creators`.
    pub(crate) kind: String,
    /// Its key (its numeric id, as a string, when no key is known).
    #[schema(value_type = String)]
    pub(crate) key: serde_json::Value,
    /// Its numeric id, as a decimal string.
    pub(crate) id: String,
    /// Its fields (`null` when only signals name it).
    #[schema(value_type = Option<Object>)]
    pub(crate) fields: Option<serde_json::Value>,
    /// Every signal targeting its kind, now.
    pub(crate) signals: Vec<SignalViewOut>,
}

/// Database statistics.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StatsOut {
    /// Items stored.
    pub(crate) items: u64,
    /// Users stored.
    pub(crate) users: u64,
    /// Creators stored.
    pub(crate) creators: u64,
    /// (entity, signal) pairs in the ledger.
    pub(crate) signal_pairs: usize,
    /// Ledger memory in bytes.
    pub(crate) ledger_bytes: usize,
    /// User-state bitmap memory in bytes.
    pub(crate) user_state_bytes: usize,
    /// Approximate heap bytes of the items' in-memory columns.
    pub(crate) item_columns_bytes: usize,
    /// Identities the log's dedup window holds.
    pub(crate) dedup_entries: u64,
    /// Last sequence number in the log.
    pub(crate) last_seq: u64,
    /// Records appended since the server opened the database.
    pub(crate) records_since_open: u64,
    /// Log bytes on disk.
    pub(crate) log_bytes: u64,
    /// Log segments.
    pub(crate) log_segments: usize,
    /// Sequence number of the last checkpoint, if any.
    pub(crate) last_checkpoint: Option<u64>,
    /// The schema version.
    pub(crate) schema_version: u64,
}

impl From<tidal::Stats> for StatsOut {
    fn from(s: tidal::Stats) -> Self {
        Self {
            items: s.items,
            users: s.users,
            creators: s.creators,
            signal_pairs: s.signal_pairs,
            ledger_bytes: s.ledger_bytes,
            user_state_bytes: s.user_state_bytes,
            item_columns_bytes: s.item_columns_bytes,
            dedup_entries: s.dedup_entries,
            last_seq: s.last_seq,
            records_since_open: s.records_since_open,
            log_bytes: s.log_bytes,
            log_segments: s.log_segments,
            last_checkpoint: s.last_checkpoint,
            schema_version: s.schema_version,
        }
    }
}

/// `GET /healthz`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Health {
    /// `ok`.
    pub(crate) status: &'static str,
}

/// The three entity kinds as they appear in paths.
pub(crate) fn kind_from_path(kind: &str) -> Result<tidal::EntityKind, ApiError> {
    match kind {
        "items" => Ok(tidal::EntityKind::Item),
        "users" => Ok(tidal::EntityKind::User),
        "creators" => Ok(tidal::EntityKind::Creator),
        other => Err(ApiError::not_found(format!("no entity kind {other:?}: use items, users or creators"))),
    }
}

/// Runs a blocking facade call on tokio's blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(ApiError::internal(&format!("the request's task failed: {e}"))))
}
