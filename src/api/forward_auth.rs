//! `GET /api/v2/auth/verify`: forward authentication, so a reverse proxy
//! (nginx `auth_request`, Traefik `ForwardAuth`, Caddy `forward_auth`) can
//! put Latchkey's tokens in front of other services.
//!
//! The proxy passes the original request's `Authorization` header on (all
//! three do by default), so the secret arrives exactly as for every API
//! call and goes through the same extractor as `caller-identity`
//! ([`ApiCaller`]): the same decision from the in-memory credential index
//! (no database read), the same 401 and failure throttle, and the use noted
//! for "last used". The answer is headers only, never cached.

use axum::http::header::{self, HeaderName, HeaderValue};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::auth::ApiCaller;
use super::error::ApiError;
use crate::domain::token::TokenKind;

pub const TOKEN_ID: HeaderName = HeaderName::from_static("x-latchkey-token-id");
pub const TOKEN_KIND: HeaderName = HeaderName::from_static("x-latchkey-token-kind");
pub const ROLE: HeaderName = HeaderName::from_static("x-latchkey-role");
pub const MEMBER: HeaderName = HeaderName::from_static("x-latchkey-member");

/// `X-Latchkey-Member` of a service token: it acts for the organization,
/// not for the member who created it. Never a member id (those are hex), so
/// a service behind the proxy cannot mistake it for one; and never empty,
/// so the proxy always overwrites a header of that name the client sent.
pub const ORGANIZATION: &str = "organization";

#[utoipa::path(
    get, path = "/api/v2/auth/verify", tag = "auth",
    responses(
        (status = 200, description = "The secret is live. The body is empty; the headers say who is calling.",
         headers(
             ("X-Latchkey-Token-Id" = String, description = "The calling token's id"),
             ("X-Latchkey-Token-Kind" = String, description = "`personal` or `service`"),
             ("X-Latchkey-Role" = String, description = "The role the token acts with now: `reader`, `writer` or `admin` (for a personal token, the lower of its role and its member's)"),
             ("X-Latchkey-Member" = String, description = "The member id for a personal token; `organization` for a service token"),
             ("Cache-Control" = String, description = "`no-store`: a proxy must ask again for every request"),
         )),
    )
)]
pub async fn verify(caller: Result<ApiCaller, ApiError>) -> Response {
    let mut res = match caller {
        Ok(caller) => {
            let member = match caller.token.kind {
                TokenKind::Personal => caller.token.member_id.as_str(),
                TokenKind::Service => ORGANIZATION,
            };
            let values = [
                (TOKEN_ID, caller.token.id.as_str()),
                (TOKEN_KIND, caller.token.kind.as_str()),
                (ROLE, caller.role.as_str()),
                (MEMBER, member),
            ];
            let mut headers = HeaderMap::with_capacity(values.len() + 1);
            for (name, value) in values {
                // Ids are hex and the rest fixed words: always valid.
                match HeaderValue::from_str(value) {
                    Ok(value) => headers.insert(name, value),
                    Err(e) => return ApiError::internal(e).into_response(),
                };
            }
            (StatusCode::OK, headers).into_response()
        }
        Err(refused) => refused.into_response(),
    };
    // Whatever the answer: a proxy that cached a 200 would let a revoked
    // secret through.
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}
