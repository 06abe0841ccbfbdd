//! Request body limits that clients actually get to see.

use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;

/// Bodies above this are refused with 413 (PRODUCT.md §5).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// How much of an oversized body we read and discard so the client sees the
/// 413 instead of a connection reset.
const DRAIN_LIMIT_BYTES: usize = 16 * 1024 * 1024;
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// How a front door words this module's refusals (an HTML page, a JSON
/// error).
pub trait BodyRefusal: IntoResponse {
    /// 413: the body is over `MAX_BODY_BYTES`.
    fn too_large() -> Self;
    /// 400: the body broke off or could not be read.
    fn unreadable() -> Self;
}

/// Refuses bodies over the limit, in `E`'s words. Answering while the client is still
/// sending and then closing the socket makes many clients report a reset
/// instead of the status, so the rest of the body is drained first (up to a
/// bound). A body without a declared length (chunked) is read here, up to the
/// limit, so the same holds for it.
pub async fn refuse_oversized_bodies<E: BodyRefusal>(req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(len) if len > MAX_BODY_BYTES as u64 => {
            drain(req.into_body()).await;
            E::too_large().into_response()
        }
        Some(_) => next.run(req).await,
        None if req.headers().contains_key(header::TRANSFER_ENCODING) => {
            let (parts, mut body) = req.into_parts();
            let mut buffered = Vec::new();
            while let Some(frame) = body.frame().await {
                let Ok(frame) = frame else {
                    return E::unreadable().into_response();
                };
                if let Some(data) = frame.data_ref() {
                    buffered.extend_from_slice(data);
                    if buffered.len() > MAX_BODY_BYTES {
                        drain(body).await;
                        return E::too_large().into_response();
                    }
                }
            }
            next.run(Request::from_parts(parts, Body::from(buffered)))
                .await
        }
        None => next.run(req).await,
    }
}

async fn drain(mut body: Body) {
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        let mut seen = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            if let Some(data) = frame.data_ref() {
                seen += data.len();
                if seen > DRAIN_LIMIT_BYTES {
                    break;
                }
            }
        }
    })
    .await;
    if drained.is_err() {
        tracing::debug!("gave up draining an oversized request body");
    }
}

/// Longest request target (path and query) served; longer gets 414.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Most header bytes (names and values) a request may carry; more gets 431.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Refuses request targets and header sets no page or API call needs, before
/// any handler, session or database sees them.
pub async fn refuse_oversized_heads(req: Request, next: Next) -> Response {
    let uri_len = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if uri_len > MAX_URI_BYTES {
        return refusal(
            req.uri().path(),
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            "The address is too long.",
        );
    }
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return refusal(
            req.uri().path(),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            "The request's headers are too large.",
        );
    }
    next.run(req).await
}

/// Whether `path` is the API's (JSON answers) rather than a page's.
fn is_api(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// A refusal in the words of the front door `path` belongs to: the API's
/// JSON (`code`, `message`), or the error page, which words it for people.
fn refusal(path: &str, status: StatusCode, code: &'static str, message: &str) -> Response {
    if is_api(path) {
        crate::api::error::ApiError::new(status, code, message).into_response()
    } else {
        crate::web::error::PageError::HeadTooLarge(status).into_response()
    }
}

/// What the overload and timeout layers report, as a response: 503 with
/// `Retry-After`, as JSON for the API and as a page otherwise. The server
/// sheds a request rather than queueing it without bound.
pub async fn overloaded(uri: axum::http::Uri, err: tower::BoxError) -> Response {
    let why = if err.is::<tower::load_shed::error::Overloaded>() {
        "the server is busy"
    } else if err.is::<tower::timeout::error::Elapsed>() {
        "the request took too long"
    } else {
        tracing::error!(error = %err, "a request failed in the serving layers");
        "the server could not serve the request"
    };
    if is_api(uri.path()) {
        crate::api::error::ApiError::busy(why).into_response()
    } else {
        crate::web::error::PageError::Busy(why.to_string()).into_response()
    }
}
