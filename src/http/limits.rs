//! Request body limits that clients actually get to see.

use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::header;
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
