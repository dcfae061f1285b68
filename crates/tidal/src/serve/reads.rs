//! The read handlers: `POST /v1/query`, `POST /v1/explain`,
//! `GET /v1/{kind}/{key}`, `GET /v1/stats`, `GET /healthz` and
//! `GET /metrics`; and how pages and explanations are rendered as JSON.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State as Extract};
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use tidal::{Explained, Page, QueryOutput, Statement, TidalDB};

use super::State;
use super::api::{
    EntityOut, ExplainIn, ExplainOut, Health, HitOut, JsonBody, PageOut, QueryIn, QueryOut, SignalViewOut, StageOut,
    StatsOut, WindowOut, blocking,
};
use super::error::{ApiError, ErrorBody};
use super::names::{key_of, name_json};
use super::writes::entity_path;

/// Runs one statement of the query language: `RETRIEVE` gives a page
/// (pass its `next` back as `cursor` for the following one), `EXPLAIN` a
/// plan, `SIGNAL` a write's acknowledgement.
#[utoipa::path(post, path = "/v1/query", tag = "reads",
    request_body = QueryIn,
    responses(
        (status = 200, description = "The statement's output", body = QueryOut),
        (status = 400, description = "A statement that does not parse or fit the schema; a bad cursor", body = ErrorBody),
        (status = 413, description = "A statement over 64 KiB", body = ErrorBody),
        (status = 501, description = "A statement this version cannot run (SEARCH, SUGGEST)", body = ErrorBody),
    ))]
pub(crate) async fn query(
    Extract(state): Extract<State>,
    JsonBody(q): JsonBody<QueryIn>,
) -> Result<Json<QueryOut>, ApiError> {
    let mut statement = parse(&q.statement)?;
    if let Some(cursor) = q.cursor {
        let target = match &mut statement {
            Statement::Explain { statement, .. } => statement.as_mut(),
            other => other,
        };
        match target {
            Statement::Retrieve(r) => r.cursor = Some(cursor),
            _ => return Err(ApiError::bad_request("invalid_argument", "`cursor` applies to RETRIEVE statements")),
        }
    }
    let db = Arc::clone(&state.db);
    blocking(move || {
        let out = db.execute(&statement)?;
        Ok(Json(match out {
            QueryOutput::Page(p) => QueryOut::Page(page_json(&db, &p)),
            QueryOutput::Explained(e) => QueryOut::Explained(explained_json(&db, &e)),
            QueryOutput::Signal(ack) => QueryOut::Signal(ack.into()),
            _ => return Err(ApiError::internal("the statement produced an output this server cannot render")),
        }))
    })
    .await
}

/// The plan of a `RETRIEVE` statement; with `analyze`, also runs it.
#[utoipa::path(post, path = "/v1/explain", tag = "reads",
    request_body = ExplainIn,
    responses(
        (status = 200, description = "The plan (and with analyze, the run)", body = ExplainOut),
        (status = 400, description = "A statement that does not parse or fit the schema", body = ErrorBody),
        (status = 413, description = "A statement over 64 KiB", body = ErrorBody),
        (status = 501, description = "A statement this version cannot run", body = ErrorBody),
    ))]
pub(crate) async fn explain(
    Extract(state): Extract<State>,
    JsonBody(q): JsonBody<ExplainIn>,
) -> Result<Json<ExplainOut>, ApiError> {
    let statement = match parse(&q.statement)? {
        Statement::Explain { analyze, statement } => Statement::Explain { analyze: analyze || q.analyze, statement },
        other => Statement::Explain { analyze: q.analyze, statement: Box::new(other) },
    };
    let db = Arc::clone(&state.db);
    blocking(move || match db.execute(&statement)? {
        QueryOutput::Explained(e) => Ok(Json(explained_json(&db, &e))),
        _ => Err(ApiError::internal("EXPLAIN produced no plan")),
    })
    .await
}

/// Parses a statement, refusing one over the size limit with 413 before
/// the parser sees it.
fn parse(text: &str) -> Result<Statement, ApiError> {
    if text.len() > tidal_query::MAX_STATEMENT_BYTES {
        return Err(ApiError::too_large(
            "statement_too_large",
            format!("the statement is {} bytes; at most {}", text.len(), tidal_query::MAX_STATEMENT_BYTES),
        ));
    }
    tidal_query::parse(text).map_err(|e| ApiError::from(tidal::Error::from(tidal::QueryError::from(e))))
}

/// An entity's fields and every view of the signals targeting its kind.
#[utoipa::path(get, path = "/v1/{kind}/{key}", tag = "reads",
    params(
        ("kind" = String, Path, description = "`items`, `users` or `creators`"),
        ("key" = String, Path, description = "The entity's key"),
    ),
    responses(
        (status = 200, description = "The entity", body = EntityOut),
        (status = 404, description = "No such entity (no fields and no signals), or an unknown kind", body = ErrorBody),
    ))]
pub(crate) async fn get_entity(
    Extract(state): Extract<State>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<EntityOut>, ApiError> {
    let (kind, key) = entity_path(path)?;
    let db = Arc::clone(&state.db);
    blocking(move || {
        let fields = db.get(kind, key.as_str())?;
        let views = db.signal_views(kind, key.as_str())?;
        if fields.is_none() && views.iter().all(|v| v.all_time == 0.0) {
            return Err(ApiError::not_found(format!("no {kind} with key {key:?}")));
        }
        let id = tidal::Key::from(key.as_str()).id();
        Ok(Json(EntityOut {
            kind: format!("{kind}s"),
            key: name_json(&db, id),
            id: id.0.to_string(),
            fields: fields.map(|f| tidal::json::fields_to_json(&f, &|r| key_of(&db, r))),
            signals: views
                .into_iter()
                .map(|v| SignalViewOut {
                    signal: v.signal,
                    decayed: v.decayed,
                    all_time: v.all_time,
                    windows: v
                        .windows
                        .into_iter()
                        .map(|w| WindowOut {
                            window: w.window.to_string(),
                            count: w.count,
                            sum: w.sum,
                            velocity: w.velocity,
                            acceleration: w.acceleration,
                        })
                        .collect(),
                })
                .collect(),
        }))
    })
    .await
}

/// Database statistics.
#[utoipa::path(get, path = "/v1/stats", tag = "reads",
    responses((status = 200, description = "Statistics", body = StatsOut)))]
pub(crate) async fn stats(Extract(state): Extract<State>) -> Result<Json<StatsOut>, ApiError> {
    let db = Arc::clone(&state.db);
    blocking(move || Ok(Json(db.stats()?.into()))).await
}

/// Liveness: answers without auth, outside the concurrency limit.
#[utoipa::path(get, path = "/healthz", tag = "meta", security(()),
    responses((status = 200, description = "The server is up", body = Health)))]
pub(crate) async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Prometheus metrics (text exposition format 0.0.4).
#[utoipa::path(get, path = "/metrics", tag = "meta",
    responses((status = 200, description = "Request counts and latency histograms per route and status, write \
        counts, log, checkpoint and view figures", content_type = "text/plain")))]
pub(crate) async fn metrics(Extract(state): Extract<State>) -> impl IntoResponse {
    let db = Arc::clone(&state.db);
    let figures = tokio::task::spawn_blocking(move || db.stats().ok()).await.ok().flatten();
    let text = state.metrics.render(figures.as_ref(), &state.batcher.counts);
    ([(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text)
}

/// A page as JSON, every item named by [`name_json`].
fn page_json(db: &TidalDB, p: &Page) -> PageOut {
    PageOut {
        hits: p
            .hits
            .iter()
            .map(|h| HitOut {
                // The facade filled in the hit's key; no second read.
                key: h.key.clone().map_or_else(|| name_json(db, h.id), serde_json::Value::String),
                id: h.id.0.to_string(),
                score: h.score,
                fields: tidal::json::fields_to_json(&h.fields, &|r| key_of(db, r)),
                explanation: h.explanation.as_ref().map(ToString::to_string),
            })
            .collect(),
        next: p.next.clone(),
        candidates: p.candidates,
    }
}

fn explained_json(db: &TidalDB, e: &Explained) -> ExplainOut {
    ExplainOut {
        plan: e.plan.to_string(),
        text: e.text.clone(),
        stages: e
            .stages
            .iter()
            .map(|s| StageOut { stage: s.stage.to_owned(), rows: s.rows, micros: s.micros })
            .collect(),
        page: e.page.as_ref().map(|p| page_json(db, p)),
    }
}
