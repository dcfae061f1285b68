//! The write handlers: entities (`PUT`/`DELETE /v1/{kind}/{key}`),
//! relationship edges (`POST /v1/relationships`) and signal events
//! (`POST /v1/signals`). Every reply is sent after the write is durable.

use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State as Extract};
use serde_json::Value;
use serde_json::value::RawValue;
use tidal::{Event, Key};

use super::State;
use super::api::{JsonBody, RawBody, RelationshipIn, SignalIn, SignalsIn, WriteAck, blocking, kind_from_path};
use super::error::{ApiError, ErrorBody};

/// The most events one `POST /v1/signals` may carry (more: 413).
pub(crate) const MAX_EVENTS_PER_REQUEST: usize = 100_000;

/// The `{kind}/{key}` of an entity path, or the error reply.
pub(crate) fn entity_path(
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<(tidal::EntityKind, String), ApiError> {
    let Path((kind, key)) = path.map_err(|e| ApiError::bad_request("bad_path", e.body_text()))?;
    Ok((kind_from_path(&kind)?, key))
}

/// Writes (or replaces) an entity with the fields in the body.
#[utoipa::path(put, path = "/v1/{kind}/{key}", tag = "writes",
    params(
        ("kind" = String, Path, description = "`items`, `users` or `creators`"),
        ("key" = String, Path, description = "The entity's key"),
    ),
    request_body(content = Object, description = "The entity's fields as the schema declares them \
        (docs/server.md: strings, numbers, RFC 3339 times, arrays; references by key)"),
    responses(
        (status = 200, description = "Written durably", body = WriteAck),
        (status = 400, description = "Fields that do not fit the schema, malformed JSON", body = ErrorBody),
        (status = 404, description = "Unknown kind", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
    ))]
pub(crate) async fn put_entity(
    Extract(state): Extract<State>,
    path: Result<Path<(String, String)>, PathRejection>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<WriteAck>, ApiError> {
    let (kind, key) = entity_path(path)?;
    let def = state.db.schema().entity(kind);
    let fields = tidal::json::fields_from_json(def, &body)?;
    // Entities named only by reference (`"creator": "creator-3"`) get their
    // keys stored in the same append, so replies show them by key.
    let refs = tidal::json::reference_keys(def, &body);
    let db = std::sync::Arc::clone(&state.db);
    let ack = blocking(move || Ok(db.put_batch_referring(vec![(kind, tidal::Key::from(key), fields)], &refs)?)).await?;
    state.metrics.entities_put.fetch_add(1, Ordering::Relaxed);
    Ok(Json(ack.into()))
}

/// Deletes an entity (its signals stay).
#[utoipa::path(delete, path = "/v1/{kind}/{key}", tag = "writes",
    params(
        ("kind" = String, Path, description = "`items`, `users` or `creators`"),
        ("key" = String, Path, description = "The entity's key"),
    ),
    responses(
        (status = 200, description = "Deleted durably (also when it did not exist)", body = WriteAck),
        (status = 404, description = "Unknown kind", body = ErrorBody),
    ))]
pub(crate) async fn delete_entity(
    Extract(state): Extract<State>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<WriteAck>, ApiError> {
    let (kind, key) = entity_path(path)?;
    let db = std::sync::Arc::clone(&state.db);
    let ack = blocking(move || Ok(db.delete(kind, key.as_str())?)).await?;
    state.metrics.entities_deleted.fetch_add(1, Ordering::Relaxed);
    Ok(Json(ack.into()))
}

/// Writes (or re-weights) a relationship edge, or removes it with `"remove": true`.
#[utoipa::path(post, path = "/v1/relationships", tag = "writes",
    request_body = RelationshipIn,
    responses(
        (status = 200, description = "Written durably", body = WriteAck),
        (status = 400, description = "Unknown relationship type, invalid weight, malformed JSON", body = ErrorBody),
    ))]
pub(crate) async fn relationships(
    Extract(state): Extract<State>,
    JsonBody(edge): JsonBody<RelationshipIn>,
) -> Result<Json<WriteAck>, ApiError> {
    let db = std::sync::Arc::clone(&state.db);
    let ack = blocking(move || {
        let RelationshipIn { relationship, from, to, weight, remove } = edge;
        let (from, to) = (Key::from(from), Key::from(to));
        Ok(if remove {
            db.unrelate(&relationship, from, to)?
        } else {
            db.relate(&relationship, from, to, weight.unwrap_or(1.0))?
        })
    })
    .await?;
    state.metrics.relationships_written.fetch_add(ack.written as u64, Ordering::Relaxed);
    Ok(Json(ack.into()))
}

/// Records one signal event or an array of them. Bad input in any event
/// refuses the whole request (nothing written); duplicates are reported by
/// position. Concurrent requests share one log append.
#[utoipa::path(post, path = "/v1/signals", tag = "writes",
    request_body = SignalsIn,
    responses(
        (status = 200, description = "Written durably", body = WriteAck),
        (status = 400, description = "Unknown signal, invalid weight or time, malformed JSON", body = ErrorBody),
        (status = 413, description = "Body too large or too many events", body = ErrorBody),
    ))]
pub(crate) async fn signals(
    Extract(state): Extract<State>,
    RawBody(body): RawBody,
) -> Result<Json<WriteAck>, ApiError> {
    let events = parse_events(&body)?;
    let ack = state.batcher.submit(events).await?;
    state.metrics.signals_written.fetch_add(ack.written as u64, Ordering::Relaxed);
    state.metrics.signals_duplicate.fetch_add(ack.duplicates as u64, Ordering::Relaxed);
    Ok(Json(ack.into()))
}

/// The events of a `POST /v1/signals` body: one object, or an array split
/// into its elements' raw text first (no tree of the whole body is built),
/// each then read on its own so an error names its index.
fn parse_events(body: &[u8]) -> Result<Vec<Event>, ApiError> {
    let shape = |e: &serde_json::Error, at: &str| {
        if e.is_data() {
            ApiError::bad_request("bad_event", format!("{at}{e}"))
        } else {
            ApiError::bad_request("bad_json", format!("the body is not JSON: {e}"))
        }
    };
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => {
            let raw: Vec<&RawValue> = serde_json::from_slice(body).map_err(|e| shape(&e, ""))?;
            if raw.len() > MAX_EVENTS_PER_REQUEST {
                return Err(ApiError::too_large(
                    "too_many_events",
                    format!("{} events in one request; at most {MAX_EVENTS_PER_REQUEST}", raw.len()),
                ));
            }
            raw.iter()
                .enumerate()
                .map(|(i, r)| {
                    let s: SignalIn = serde_json::from_str(r.get()).map_err(|e| shape(&e, &format!("event {i}: ")))?;
                    event(s).map_err(|m| ApiError::bad_request("bad_event", format!("event {i}: {m}")))
                })
                .collect()
        }
        Some(b'{') => {
            let s: SignalIn = serde_json::from_slice(body).map_err(|e| shape(&e, ""))?;
            Ok(vec![event(s).map_err(|m| ApiError::bad_request("bad_event", m))?])
        }
        _ => Err(ApiError::bad_request("bad_event", "the body must be a signal event object or an array of them")),
    }
}

/// One event; the error says what is wrong with its time.
fn event(s: SignalIn) -> Result<Event, String> {
    let mut e = Event::new(s.signal, s.target);
    e.user = s.user.map(Key::from);
    e.weight = s.weight;
    e.at = s.at.as_ref().map(tidal::json::time_from_json).transpose().map_err(|m| format!("`at`: {m}"))?;
    e.idempotency_key = s.idempotency_key;
    Ok(e)
}
