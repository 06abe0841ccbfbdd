//! The `{id}` of a token route, for pages and API alike.

use std::marker::PhantomData;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::response::IntoResponse;

/// How a front door answers a token id it cannot read.
pub trait UnknownToken: IntoResponse {
    fn unknown_token() -> Self;
}

/// The `{id}` segment of a token route. Whatever is there (even bytes that
/// are not UTF-8) is at worst an unknown token: `E`'s 404, never a bare 400.
/// Its shape is checked by the token operations, like any other id.
pub struct TokenId<E> {
    pub id: String,
    rejection: PhantomData<fn() -> E>,
}

impl<S: Send + Sync, E: UnknownToken> FromRequestParts<S> for TokenId<E> {
    type Rejection = E;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, E> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(id)| TokenId {
                id,
                rejection: PhantomData,
            })
            .map_err(|_| E::unknown_token())
    }
}
