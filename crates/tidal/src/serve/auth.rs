//! Bearer-token auth: every request but `/healthz` must carry
//! `Authorization: Bearer <token>`. Tokens are compared by their BLAKE3
//! hashes, whose equality is constant-time, so a reply's timing tells
//! nothing about how much of a guess was right (nor its length).

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// The server's token, kept only as its hash.
#[derive(Clone, Debug)]
pub(crate) struct Token(blake3::Hash);

impl Token {
    pub(crate) fn new(token: &str) -> Self {
        Self(blake3::hash(token.as_bytes()))
    }

    /// Whether `given` is the token (constant-time in its content).
    fn matches(&self, given: &[u8]) -> bool {
        // `blake3::Hash`'s `==` is constant-time.
        blake3::hash(given) == self.0
    }
}

/// Refuses a request without the right bearer token (401).
pub(crate) async fn require(State(token): State<Token>, request: Request, next: Next) -> Response {
    let Some(value) = request.headers().get(AUTHORIZATION) else {
        return ApiError::unauthorized("this server requires `Authorization: Bearer <token>`").into_response();
    };
    let bytes = value.as_bytes();
    let given = bytes.strip_prefix(b"Bearer ").or_else(|| bytes.strip_prefix(b"bearer "));
    match given {
        Some(given) if token.matches(given) => next.run(request).await,
        Some(_) => ApiError::unauthorized("wrong bearer token").into_response(),
        None => ApiError::unauthorized("the Authorization header must be `Bearer <token>`").into_response(),
    }
}
