//! Static files compiled into the binary, served with long cache lifetimes
//! under URLs that change whenever the content does, compressed once (at
//! the best ratio brotli and gzip offer) rather than on every request.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

use crate::http::compression::{Effort, Encoding, compress, preferred_encoding};

#[derive(RustEmbed)]
#[folder = "$CARGO_MANIFEST_DIR/static"]
struct StaticFiles;

/// The vendored htmx, pinned: its version is part of its file name.
pub const HTMX: &str = "vendor/htmx-2.0.11.min.js";

/// Versioned URLs of the assets every page links.
pub struct AssetUrls {
    pub css: String,
    pub app_js: String,
    pub htmx: String,
    pub icon: String,
}

pub fn urls() -> &'static AssetUrls {
    static URLS: LazyLock<AssetUrls> = LazyLock::new(|| AssetUrls {
        css: versioned_url("app.css"),
        app_js: versioned_url("app.js"),
        htmx: versioned_url(HTMX),
        icon: versioned_url("icon.svg"),
    });
    &URLS
}

/// The first 12 hex digits of the file's SHA-256.
fn version_of(file: &rust_embed::EmbeddedFile) -> String {
    crate::domain::hex::encode(&file.metadata.sha256_hash()[..6])
}

/// The version of the file at `path`, or `None` when missing.
fn content_version(path: &str) -> Option<String> {
    StaticFiles::get(path).map(|file| version_of(&file))
}

fn versioned_url(path: &str) -> String {
    match content_version(path) {
        Some(v) => format!("/static/{path}?v={v}"),
        None => {
            tracing::error!(path, "static asset missing from the binary");
            format!("/static/{path}")
        }
    }
}

/// The file at `path` (`None` when there is none), cached for ever when
/// `requested_version` names its content, revalidated otherwise.
pub fn response(
    path: &str,
    requested_version: Option<&str>,
    request_headers: &HeaderMap,
) -> Option<Response> {
    let file = StaticFiles::get(path)?;
    let version = version_of(&file);
    let mime = file.metadata.mimetype();
    let text = mime.starts_with("text/") || mime.ends_with("javascript") || mime.ends_with("xml");
    // Text is sent compressed when the client takes it; each encoding is
    // its own representation, with its own validator.
    let body = if text {
        preferred_encoding(request_headers)
            .and_then(|e| compressed(path, &version, e, &file.data).map(|body| (Some(e), body)))
    } else {
        None
    };
    let (encoding, body) = body.unwrap_or_else(|| (None, Bytes::from(file.data.into_owned())));
    let etag = match encoding {
        Some(e) => format!("\"{version}-{}\"", e.name()),
        None => format!("\"{version}\""),
    };
    // Cache forever only under the URL that names this exact content.
    let cache = if requested_version == Some(version.as_str()) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    if text {
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    if request_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag))
    {
        return Some((StatusCode::NOT_MODIFIED, headers).into_response());
    }
    let content_type = if text {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_string()
    };
    if let Ok(value) = HeaderValue::from_str(&content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if let Some(e) = encoding {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(e.name()));
    }
    Some((headers, body).into_response())
}

/// The file compressed with `encoding`, computed on first request and kept.
fn compressed(path: &str, version: &str, encoding: Encoding, data: &[u8]) -> Option<Bytes> {
    static DONE: LazyLock<Mutex<HashMap<(String, Encoding), Bytes>>> =
        LazyLock::new(Mutex::default);
    let key = (format!("{path}?{version}"), encoding);
    if let Some(done) = DONE.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return Some(done.clone());
    }
    let squeezed: Bytes = compress(encoding, Effort::Best, data)?.into();
    DONE.lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key, squeezed.clone());
    Some(squeezed)
}
