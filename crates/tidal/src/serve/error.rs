//! [`ApiError`]: every failure as an HTTP status and the JSON body
//! `{"error": {"code": "snake_case_code", "message": "..."}}` — the
//! facade's [`tidal::Error`] variants, malformed bodies, limits, auth.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every error reply.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ErrorBody {
    /// The error.
    pub(crate) error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ErrorDetail {
    /// A stable, machine-readable code in snake case (docs/server.md lists them).
    pub(crate) code: String,
    /// A sentence for people.
    pub(crate) message: String,
}

/// A failed request: its status, code and message.
#[derive(Clone, Debug)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }

    pub(crate) fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub(crate) fn method_not_allowed() -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this route does not take that method")
    }

    pub(crate) fn too_large(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, code, message)
    }

    pub(crate) fn overloaded() -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "overloaded", "too many requests in flight; retry shortly")
    }

    pub(crate) fn timeout() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "the request took longer than the server's timeout; a write may still have been applied \
             (retry signals with an idempotency_key)",
        )
    }

    pub(crate) fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub(crate) fn internal(message: &str) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl From<tidal::Error> for ApiError {
    fn from(e: tidal::Error) -> Self {
        use StatusCode as S;
        use tidal::Error as E;
        let (status, code) = match &e {
            E::Schema(_) => (S::BAD_REQUEST, "schema_error"),
            E::Wal(w) => wal_status(w),
            E::Storage(_) => (S::INTERNAL_SERVER_ERROR, "storage_error"),
            E::Signals(_) => (S::BAD_REQUEST, "signal_error"),
            E::NotExactAt { .. } => (S::BAD_REQUEST, "not_exact_at"),
            E::DataFile { .. } => (S::INTERNAL_SERVER_ERROR, "data_file_damaged"),
            E::Materialize(_) => (S::INTERNAL_SERVER_ERROR, "view_error"),
            E::Parse(_) => (S::BAD_REQUEST, "parse_error"),
            E::Ranking(_) => (S::BAD_REQUEST, "ranking_error"),
            E::Io(_) => (S::INTERNAL_SERVER_ERROR, "io_error"),
            E::UnknownSignal(_) => (S::BAD_REQUEST, "unknown_signal"),
            E::UnknownRelationship(_) => (S::BAD_REQUEST, "unknown_relationship"),
            E::Input(_) => (S::BAD_REQUEST, "invalid_input"),
            E::WrongKind { .. } => (S::BAD_REQUEST, "wrong_kind"),
            E::BreakingSchemaChange(_) => (S::CONFLICT, "breaking_schema_change"),
            E::InvalidCursor(_) => (S::BAD_REQUEST, "invalid_cursor"),
            E::Unsupported(_) => (S::NOT_IMPLEMENTED, "unsupported"),
            E::InvalidArgument(_) => (S::BAD_REQUEST, "invalid_argument"),
            E::InvalidKey { .. } => (S::BAD_REQUEST, "invalid_key"),
            E::KeyCollision { .. } => (S::CONFLICT, "key_collision"),
            E::CheckFailed(_) => (S::INTERNAL_SERVER_ERROR, "check_failed"),
            E::Locked { .. } => (S::CONFLICT, "locked"),
            E::ReadOnly => (S::FORBIDDEN, "read_only"),
            E::Closed => (S::SERVICE_UNAVAILABLE, "closed"),
            E::Poisoned(_) => (S::SERVICE_UNAVAILABLE, "poisoned"),
            // `tidal::Error` is non-exhaustive: a variant added later is a
            // server error until it is given its own status here.
            _ => (S::INTERNAL_SERVER_ERROR, "internal"),
        };
        Self::new(status, code, e.to_string())
    }
}

/// The log's failures: a record the log refuses (an over-long idempotency
/// key) is the caller's; a stopped log is unavailable; the rest are the
/// server's.
fn wal_status(e: &tidal_wal::WalError) -> (StatusCode, &'static str) {
    use tidal_wal::WalError as W;
    match e {
        W::InvalidRecord { .. } => (StatusCode::BAD_REQUEST, "invalid_record"),
        W::Poisoned { .. } => (StatusCode::SERVICE_UNAVAILABLE, "log_poisoned"),
        W::Closed => (StatusCode::SERVICE_UNAVAILABLE, "closed"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "log_error"),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(code = self.code, message = %self.message, "request failed");
        }
        let body = ErrorBody { error: ErrorDetail { code: self.code.to_owned(), message: self.message } };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(axum::http::header::WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Bearer"));
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("1"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The variants an HTTP test cannot provoke on a healthy server.
    #[test]
    fn server_side_failures_map_to_their_statuses() {
        let cases: Vec<(tidal::Error, StatusCode, &str)> = vec![
            (tidal::Error::Closed, StatusCode::SERVICE_UNAVAILABLE, "closed"),
            (tidal::Error::Poisoned("fsync failed".into()), StatusCode::SERVICE_UNAVAILABLE, "poisoned"),
            (tidal::Error::ReadOnly, StatusCode::FORBIDDEN, "read_only"),
            (tidal::Error::Locked { dir: "d".into(), pid: Some(7) }, StatusCode::CONFLICT, "locked"),
            (tidal::Error::BreakingSchemaChange("x".into()), StatusCode::CONFLICT, "breaking_schema_change"),
            (tidal::Error::CheckFailed(2), StatusCode::INTERNAL_SERVER_ERROR, "check_failed"),
            (tidal::Error::Io(std::io::Error::other("disk")), StatusCode::INTERNAL_SERVER_ERROR, "io_error"),
            (
                tidal::Error::DataFile { file: "log".into(), source: "damaged".into() },
                StatusCode::INTERNAL_SERVER_ERROR,
                "data_file_damaged",
            ),
            (tidal::Error::Unsupported("SEARCH".into()), StatusCode::NOT_IMPLEMENTED, "unsupported"),
            (tidal::Error::Wal(tidal_wal::WalError::Closed), StatusCode::SERVICE_UNAVAILABLE, "closed"),
            (
                tidal::Error::KeyCollision { key: "b".into(), existing: "a".into(), id: tidal::EntityId(7) },
                StatusCode::CONFLICT,
                "key_collision",
            ),
        ];
        for (error, status, code) in cases {
            let message = error.to_string();
            let e = ApiError::from(error);
            assert_eq!((e.status, e.code), (status, code), "{message}");
            assert_eq!(e.message, message);
        }
    }
}
