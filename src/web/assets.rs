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
    let data = served_content(path, &version, file.data);
    let text = mime.starts_with("text/") || mime.ends_with("javascript") || mime.ends_with("xml");
    // Text is sent compressed when the client takes it; each encoding is
    // its own representation, with its own validator.
    let body = if text {
        preferred_encoding(request_headers)
            .and_then(|e| compressed(path, &version, e, &data).map(|body| (Some(e), body)))
    } else {
        None
    };
    let (encoding, body) = body.unwrap_or((None, data));
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

/// What is sent of a file: our stylesheets and scripts without their
/// comments (they are for the people who edit them, and were a sixth of the
/// first page load), made once and kept; everything else (the vendored,
/// already minified htmx among it) as it is.
fn served_content(path: &str, version: &str, data: std::borrow::Cow<'static, [u8]>) -> Bytes {
    let strip: fn(&[u8]) -> Vec<u8> = if path.ends_with(".css") {
        without_css_comments
    } else if path.ends_with(".js") && !path.ends_with(".min.js") {
        without_js_line_comments
    } else {
        return Bytes::from(data.into_owned());
    };
    static DONE: LazyLock<Mutex<HashMap<String, Bytes>>> = LazyLock::new(Mutex::default);
    let key = format!("{path}?{version}");
    if let Some(done) = DONE.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return done.clone();
    }
    let stripped = Bytes::from(strip(&data));
    DONE.lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key, stripped.clone());
    stripped
}

/// A script without its whole-line `//` comments and blank lines. Such a
/// line is a comment wherever it stands, except inside a string that spans
/// lines: a template literal, or a line continued with a backslash. A
/// script with either is sent as it is.
fn without_js_line_comments(js: &[u8]) -> Vec<u8> {
    let lines: Vec<&[u8]> = js.split(|&b| b == b'\n').collect();
    if js.contains(&b'`')
        || lines
            .iter()
            .any(|line| line.trim_ascii_end().ends_with(b"\\"))
    {
        return js.to_vec();
    }
    let mut kept: Vec<&[u8]> = lines
        .into_iter()
        .filter(|line| {
            let code = line.trim_ascii_start();
            !code.is_empty() && !code.starts_with(b"//")
        })
        .collect();
    kept.push(b"");
    kept.join(&b'\n')
}

/// CSS with its `/* … */` comments removed, and the blank lines they leave;
/// quoted strings are kept whole, whatever they hold.
fn without_css_comments(css: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(css.len());
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < css.len() {
        let c = css[i];
        match quote {
            Some(q) => {
                out.push(c);
                if c == b'\\' && i + 1 < css.len() {
                    out.push(css[i + 1]);
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None if c == b'"' || c == b'\'' => {
                quote = Some(c);
                out.push(c);
            }
            None if c == b'/' && css.get(i + 1) == Some(&b'*') => {
                let end = css[i + 2..]
                    .windows(2)
                    .position(|w| w == b"*/")
                    .map_or(css.len(), |p| i + 2 + p + 2);
                i = end;
                continue;
            }
            None => out.push(c),
        }
        i += 1;
    }
    // Lines left empty (or only indented) by a removed comment.
    let mut lines: Vec<&[u8]> = out
        .split(|&b| b == b'\n')
        .filter(|line| line.iter().any(|b| !b.is_ascii_whitespace()))
        .collect();
    lines.push(b"");
    lines.join(&b'\n')
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

#[cfg(test)]
mod tests {
    use super::{without_css_comments, without_js_line_comments};

    #[test]
    fn js_line_comments_go_unless_a_string_could_span_lines() {
        let js = b"// head\n(function () {\n  // why\n\n  var url = \"http://x\"; // kept: not a whole line\n})();\n";
        let out = String::from_utf8(without_js_line_comments(js)).unwrap();
        assert_eq!(
            out,
            "(function () {\n  var url = \"http://x\"; // kept: not a whole line\n})();\n"
        );
        let template = b"var s = `\n// inside a template literal\n`;\n";
        assert_eq!(without_js_line_comments(template), template);
        let continued = b"var s = \"a\\\n// inside a continued string\";\n";
        assert_eq!(without_js_line_comments(continued), continued);
    }

    #[test]
    fn css_comments_go_and_strings_stay() {
        let css = b"/* head */\na { color: red; } /* why */\n\n  /* indented\n  two lines */\nb::after { content: \"/* not a comment */\"; }\nc { content: '\\'/*'; }\n";
        let out = String::from_utf8(without_css_comments(css)).unwrap();
        assert_eq!(
            out,
            "a { color: red; } \nb::after { content: \"/* not a comment */\"; }\nc { content: '\\'/*'; }\n"
        );
        assert_eq!(without_css_comments(b"a{}/* unterminated"), b"a{}\n");
    }
}
