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

use axum::Extension;
use axum::http::{Extensions, HeaderMap, StatusCode, Version};
use tower_http::CompressionLevel;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, Predicate};

/// Response extension: this response shows a secret, send it as it is.
#[derive(Clone, Copy, Debug)]
pub struct HoldsSecret;

/// Put it in a handler's response tuple: `(status, holds_secret(), body)`.
pub fn holds_secret() -> Extension<HoldsSecret> {
    Extension(HoldsSecret)
}

fn shows_no_secret(_: StatusCode, _: Version, _: &HeaderMap, ext: &Extensions) -> bool {
    ext.get::<HoldsSecret>().is_none()
}

/// Already-encoded responses (precompressed static assets) pass through
/// untouched, as do images and anything under the default size floor.
/// Level 4: for brotli about gzip-9's ratio at a fraction of its CPU, which
/// matters because pages are rendered per request.
pub fn layer() -> CompressionLayer<impl Predicate> {
    CompressionLayer::new()
        .no_deflate()
        .no_zstd()
        .quality(CompressionLevel::Precise(4))
        .compress_when(DefaultPredicate::new().and(shows_no_secret))
}
