//! gzip and brotli for pages, CSS, JS and JSON — except responses that
//! hold a secret.
//!
//! Compression turns content into length, and a page's length is visible to
//! anyone watching the wire. When a response reflects something an attacker
//! chose (a search query) beside something secret, the attacker can guess
//! the secret a character at a time by watching the length shrink (BREACH).
//! So a response carrying a token's secret is marked [`HoldsSecret`] and goes
//! out uncompressed, and the CSRF token is masked afresh on every page
//! (`web::csrf::mask`) so it never repeats.
//!
//! Why not tower-http's `CompressionLayer`: it streams, so its brotli
//! encoder always opens the default 4 MiB window, and one compressed page
//! held 11 MiB of memory (measured: RSS before and after one request). Every
//! response here is rendered whole before it is sent, so its size is known
//! and the window can fit it: the same ratio for a fraction of the memory.

use std::io::Write;

use axum::Extension;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Response extension: this response shows a secret, send it as it is.
#[derive(Clone, Copy, Debug)]
pub struct HoldsSecret;

/// Put it in a handler's response tuple: `(status, holds_secret(), body)`.
pub fn holds_secret() -> Extension<HoldsSecret> {
    Extension(HoldsSecret)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    Brotli,
    Gzip,
}

impl Encoding {
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Brotli => "br",
            Encoding::Gzip => "gzip",
        }
    }
}

/// How hard to squeeze: once for a static file, or on every request.
#[derive(Debug, Clone, Copy)]
pub enum Effort {
    Best,
    /// brotli quality 3, gzip level 6: near gzip-9's ratio at a small part
    /// of its CPU, which matters because pages are rendered per request.
    /// (On the Authorization page of 50 rows, 90 KB: quality 3 takes 0.3 ms
    /// and 0.9 MiB at its peak, quality 4 0.95 ms and 1.8 MiB for 4 % less;
    /// measured with the crate alone, release build.)
    PerRequest,
}

/// Brotli when the client takes it, else gzip, else none (an encoding
/// listed with `q=0` is refused).
pub fn preferred_encoding(headers: &HeaderMap) -> Option<Encoding> {
    let accepted = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|item| {
            let mut parts = item.split(';').map(str::trim);
            let name = parts.next()?.to_ascii_lowercase();
            let refused =
                parts.any(|p| p.replace(' ', "") == "q=0" || p.replace(' ', "") == "q=0.0");
            (!refused).then_some(name)
        })
        .collect::<Vec<_>>();
    if accepted.iter().any(|e| e == "br") {
        Some(Encoding::Brotli)
    } else if accepted.iter().any(|e| e == "gzip") {
        Some(Encoding::Gzip)
    } else {
        None
    }
}

/// `data` compressed with `encoding`; `None` if the encoder failed.
pub fn compress(encoding: Encoding, effort: Effort, data: &[u8]) -> Option<Vec<u8>> {
    match encoding {
        Encoding::Brotli => {
            let mut out = Vec::with_capacity(data.len() / 4);
            // The window no larger than the data (at least 1 KiB): the same
            // ratio, and the encoder's memory follows the window.
            let lgwin = (usize::BITS - data.len().max(1024).leading_zeros()).clamp(10, 24);
            let params = brotli::enc::BrotliEncoderParams {
                quality: match effort {
                    Effort::Best => 11,
                    Effort::PerRequest => 3,
                },
                lgwin: lgwin as i32,
                size_hint: data.len(),
                ..Default::default()
            };
            brotli::BrotliCompress(&mut &data[..], &mut out, &params).ok()?;
            Some(out)
        }
        Encoding::Gzip => {
            let level = match effort {
                Effort::Best => flate2::Compression::best(),
                Effort::PerRequest => flate2::Compression::new(6),
            };
            let mut gz = flate2::write::GzEncoder::new(Vec::with_capacity(data.len() / 4), level);
            gz.write_all(data).and_then(|()| gz.finish()).ok()
        }
    }
}

/// Below this, the headers cost more than compression saves.
const MIN_BYTES: u64 = 256;
/// Above this, a body is sent as it is rather than held twice in memory.
const MAX_BYTES: u64 = 4 * 1024 * 1024;

/// Whether a response of this type is text that compresses.
fn compressible_type(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mime = ct.split(';').next().unwrap_or_default().trim();
    (mime.starts_with("text/") && mime != "text/event-stream")
        || mime == "application/json"
        || mime.ends_with("+json")
        || mime.ends_with("javascript")
        || mime == "image/svg+xml"
}

/// Middleware: compresses what the client accepts and may be compressed.
pub async fn compress_responses(req: Request, next: Next) -> Response {
    let encoding = preferred_encoding(req.headers());
    let res = next.run(req).await;
    if !compressible_type(res.headers())
        || res.headers().contains_key(header::CONTENT_ENCODING)
        || res.extensions().get::<HoldsSecret>().is_some()
    {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    // The response differs by Accept-Encoding, compressed or not this time.
    parts
        .headers
        .append(header::VARY, HeaderValue::from_static("accept-encoding"));
    // Only bodies already whole in memory (an exact size): a stream is
    // passed on as it comes.
    let size = HttpBody::size_hint(&body).exact();
    let (Some(encoding), Some(size)) = (encoding, size) else {
        return Response::from_parts(parts, body);
    };
    if !(MIN_BYTES..=MAX_BYTES).contains(&size) {
        return Response::from_parts(parts, body);
    }
    let bytes: Bytes = match axum::body::to_bytes(body, MAX_BYTES as usize).await {
        Ok(b) => b,
        // A whole body cannot fail to be read; if it ever did, say so
        // rather than send half of it.
        Err(e) => {
            tracing::error!(error = %e, "reading a response body to compress it failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
        }
    };
    match compress(encoding, Effort::PerRequest, &bytes) {
        Some(squeezed) => {
            parts.headers.remove(header::CONTENT_LENGTH);
            parts.headers.insert(
                header::CONTENT_ENCODING,
                HeaderValue::from_static(encoding.name()),
            );
            Response::from_parts(parts, Body::from(squeezed))
        }
        None => Response::from_parts(parts, Body::from(bytes)),
    }
}
