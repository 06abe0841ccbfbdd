//! Request body limits that clients actually get to see.

use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;

use super::error::PageError;

/// Bodies above this are refused with 413 (PRODUCT.md §5).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// How much of an oversized body we read and discard so the client sees the
/// 413 instead of a connection reset.
const DRAIN_LIMIT_BYTES: usize = 16 * 1024 * 1024;
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Refuses bodies over the limit. Answering while the client is still
/// sending and then closing the socket makes many clients report a reset
/// instead of the status, so the rest of the body is drained first (up to a
/// bound). A body without a declared length (chunked) is read here, up to the
/// limit, so the same holds for it.
pub async fn refuse_oversized_bodies(req: Request, next: Next) -> Response {
    let is_api = req.uri().path().starts_with("/api/");
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(len) if len > MAX_BODY_BYTES as u64 => {
            drain(req.into_body()).await;
            too_large(is_api)
        }
        Some(_) => next.run(req).await,
        None if req.headers().contains_key(header::TRANSFER_ENCODING) => {
            let (parts, mut body) = req.into_parts();
            let mut buffered = Vec::new();
            while let Some(frame) = body.frame().await {
                let Ok(frame) = frame else {
                    return PageError::BadRequest("The request body could not be read.".into())
                        .into_response();
                };
                if let Some(data) = frame.data_ref() {
                    buffered.extend_from_slice(data);
                    if buffered.len() > MAX_BODY_BYTES {
                        drain(body).await;
                        return too_large(is_api);
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

fn too_large(is_api: bool) -> Response {
    if is_api {
        let body = serde_json::json!({
            "code": "request_too_large",
            "message": format!("Request bodies are limited to {} KiB", MAX_BODY_BYTES / 1024),
        });
        (axum::http::StatusCode::PAYLOAD_TOO_LARGE, axum::Json(body)).into_response()
    } else {
        PageError::PayloadTooLarge.into_response()
    }
}
