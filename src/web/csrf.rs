//! CSRF protection in two layers: tower-http's Sec-Fetch-Site/Origin check,
//! and a per-session token that every state-changing request must present,
//! in the `csrf_token` form field or, from htmx, the `X-CSRF-Token` header.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, header, request::Parts};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;
use tower_http::csrf::ProtectionError;
use tower_sessions::Session;

use super::error::PageError;
use super::session::{CSRF_TOKEN, MEMBER_ID, sign_in_redirect};
use crate::http::limits::MAX_BODY_BYTES;

pub const FORM_FIELD: &str = "csrf_token";
pub const HEADER: &str = "x-csrf-token";

/// Checks the per-session token on every unsafe request. The form body is
/// buffered (it is small: bodies are capped) and handed on untouched.
pub async fn verify_token(session: Session, req: Request, next: Next) -> Response {
    if req.method().is_safe() {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let session_data = async {
        let expected = session.get::<String>(CSRF_TOKEN).await?;
        let member = session.get::<String>(MEMBER_ID).await?;
        Ok::<_, tower_sessions::session::Error>((expected, member))
    }
    .await;
    let (expected, member) = match session_data {
        Ok(data) => data,
        Err(e) => return PageError::from(e).into_response(),
    };
    // A signed-out visitor posting anywhere but the sign-in form has an
    // expired session: send them to sign in and back, nothing changes.
    if member.is_none() && parts.uri.path() != "/login" {
        return sign_in_redirect(&parts.method, &parts.uri, &parts.headers);
    }

    let (presented, body) = match header_token(&parts.headers) {
        Some(token) => (Some(token), body),
        None if is_form(&parts.headers) => {
            let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
                Ok(bytes) => bytes,
                Err(_) => return PageError::PayloadTooLarge.into_response(),
            };
            (form_token(&bytes), Body::from(bytes))
        }
        None => (None, body),
    };
    let valid = matches!((&expected, &presented),
        (Some(e), Some(p)) if bool::from(e.as_bytes().ct_eq(p.as_bytes())));
    if !valid {
        tracing::info!(path = %parts.uri.path(), "refused a request with a missing or stale CSRF token");
        return stale_form_page(&parts);
    }
    next.run(Request::from_parts(parts, body)).await
}

fn header_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"))
}

fn form_token(body: &Bytes) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(key, _)| key == FORM_FIELD)
        .map(|(_, value)| value.into_owned())
}

/// 403 for a stale or missing token: explains and offers a fresh copy of the
/// page the form came from (htmx shows the same in the dialog).
fn stale_form_page(parts: &Parts) -> Response {
    let back = parts
        .headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.split_once("://").map(|(_, rest)| rest))
        .and_then(|rest| rest.find('/').map(|i| rest[i..].to_string()))
        .and_then(|p| crate::domain::redirect::safe_local_path(&p).map(str::to_string))
        // Without a Referer, a page that can always be loaded: the form's own
        // address may accept only POST.
        .unwrap_or_else(|| {
            if parts.uri.path() == "/login" {
                "/login".to_string()
            } else {
                crate::domain::redirect::HOME.to_string()
            }
        });
    PageError::StaleForm { back }.into_response()
}

/// The response tower-http's origin check gives a cross-site request.
pub fn cross_origin_rejected(_error: ProtectionError) -> Response<Body> {
    PageError::CrossOrigin.into_response()
}
