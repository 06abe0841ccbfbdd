//! Static assets compiled into the binary: versioned URLs, content types,
//! caching, and nothing outside the asset folder.

use reqwest::StatusCode;

use crate::helpers::{OWNER_EMAIL, TestResult, browser, header_str, raw_request, spawn_app};
use crate::html;

/// The `href`/`src` of every stylesheet and script the page links.
fn linked_assets(body: &str) -> Vec<String> {
    let mut urls: Vec<String> = html::elements_with(body, "link", "rel", "stylesheet")
        .iter()
        .filter_map(|l| l.attr("href").map(str::to_string))
        .collect();
    urls.extend(
        html::elements(body, "script")
            .iter()
            .filter_map(|s| s.attr("src").map(str::to_string)),
    );
    urls
}

#[tokio::test]
async fn linked_assets_are_served_with_types_and_long_caching() -> TestResult {
    let app = spawn_app().await?;
    let client = browser();
    app.sign_in(&client, OWNER_EMAIL).await?;
    let body = app
        .get(&client, "/settings/authorization")
        .await?
        .text()
        .await?;
    let urls = linked_assets(&body);

    let css = urls
        .iter()
        .find(|u| u.starts_with("/static/app.css?v="))
        .unwrap_or_else(|| panic!("no versioned app.css in {urls:?}"));
    let htmx = urls
        .iter()
        .find(|u| u.starts_with("/static/vendor/htmx-2.0.11.min.js?v="))
        .unwrap_or_else(|| panic!("no versioned htmx in {urls:?}"));
    let app_js = urls
        .iter()
        .find(|u| u.starts_with("/static/app.js?v="))
        .unwrap_or_else(|| panic!("no versioned app.js in {urls:?}"));

    for (url, kind) in [
        (css, "text/css"),
        (htmx, "javascript"),
        (app_js, "javascript"),
    ] {
        let res = app.get(&client, url).await?;
        assert_eq!(res.status(), StatusCode::OK, "{url}");
        let content_type = header_str(res.headers(), "content-type").unwrap_or_default();
        assert!(content_type.contains(kind), "{url}: {content_type}");
        let cache = header_str(res.headers(), "cache-control").unwrap_or_default();
        assert!(cache.contains("immutable"), "{url}: {cache}");
        assert!(cache.contains("max-age="), "{url}: {cache}");
        assert!(!cache.contains("no-store"), "{url}: {cache}");
        let etag = header_str(res.headers(), "etag").map(str::to_string);
        assert!(!res.bytes().await?.is_empty(), "{url}: empty");

        // A revalidation with the ETag is answered without a body.
        if let Some(etag) = etag {
            let res = client
                .get(app.url(url))
                .header("If-None-Match", &etag)
                .send()
                .await?;
            assert_eq!(res.status(), StatusCode::NOT_MODIFIED, "{url}");
        }
    }
    Ok(())
}

#[tokio::test]
async fn unversioned_or_stale_asset_urls_are_not_cached_forever() -> TestResult {
    let app = spawn_app().await?;
    let client = browser();
    for url in ["/static/app.css", "/static/app.css?v=000000000000"] {
        let res = app.get(&client, url).await?;
        assert_eq!(res.status(), StatusCode::OK, "{url}");
        let cache = header_str(res.headers(), "cache-control").unwrap_or_default();
        assert!(!cache.contains("immutable"), "{url}: {cache}");
    }
    Ok(())
}

#[tokio::test]
async fn unknown_static_paths_are_404() -> TestResult {
    let app = spawn_app().await?;
    let client = browser();
    for url in [
        "/static/nope.css",
        "/static/vendor/htmx-1.0.0.min.js",
        "/static/vendor/",
        "/static/app.css/",
        "/static/..%2FCargo.toml",
        "/static/..%2F..%2Fetc%2Fpasswd",
    ] {
        let res = app.get(&client, url).await?;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{url}");
        let body = res.text().await?;
        assert!(!body.contains("[package]"), "{url} leaked a file");
        assert!(!body.contains("root:"), "{url} leaked a file");
    }
    Ok(())
}

#[tokio::test]
async fn static_paths_cannot_escape_the_asset_folder() -> TestResult {
    let app = spawn_app().await?;
    // Raw requests: an HTTP client library would normalize the dot segments.
    for path in [
        "/static/../Cargo.toml",
        "/static/../../Cargo.toml",
        "/static/%2e%2e/Cargo.toml",
        "/static/vendor/../../Cargo.toml",
        "/static//etc/passwd",
        "/static/../src/lib.rs",
    ] {
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            app.addr
        );
        let res = raw_request(app.addr, request.as_bytes()).await?;
        let body = String::from_utf8_lossy(&res.body);
        assert!(
            res.status == 404 || res.status == 400,
            "{path}: {}",
            res.head
        );
        assert!(!body.contains("[package]"), "{path} leaked Cargo.toml");
        assert!(!body.contains("root:"), "{path} leaked /etc/passwd");
        assert!(!body.contains("pub mod"), "{path} leaked source");
    }
    Ok(())
}
