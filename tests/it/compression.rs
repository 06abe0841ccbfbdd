//! Pages, assets and JSON go out compressed when the client asks; anything
//! that shows a secret goes out as it is (BREACH), with `no-store` still on.

use std::io::Read;

use latchkey::domain::token::{TokenKind, TokenRole};
use reqwest::header::{ACCEPT_ENCODING, AUTHORIZATION};
use reqwest::{Client, Response, StatusCode};

use crate::api_helpers::spawn_api;
use crate::helpers::{HOME, OWNER_EMAIL, TestApp, TestResult, browser, header_str, spawn_app};
use crate::html;
use crate::token_support::{TOKENS_URL, page_csrf, post_form, post_htmx};

/// The body of `res`, decoded as its `Content-Encoding` says.
async fn decoded(res: Response) -> anyhow::Result<String> {
    let encoding = header_str(res.headers(), "content-encoding").map(str::to_string);
    let bytes = res.bytes().await?;
    let mut out = String::new();
    match encoding.as_deref() {
        None => out = String::from_utf8(bytes.to_vec())?,
        Some("gzip") => {
            flate2::read::GzDecoder::new(&bytes[..]).read_to_string(&mut out)?;
        }
        Some("br") => {
            brotli::Decompressor::new(&bytes[..], 4096).read_to_string(&mut out)?;
        }
        Some(other) => anyhow::bail!("unexpected Content-Encoding {other}"),
    }
    Ok(out)
}

async fn get_encoded(
    app: &TestApp,
    client: &Client,
    path: &str,
    accept: &str,
) -> anyhow::Result<Response> {
    Ok(client
        .get(app.url(path))
        .header(ACCEPT_ENCODING, accept)
        .send()
        .await?)
}

fn encoding(res: &Response) -> Option<&str> {
    header_str(res.headers(), "content-encoding")
}

#[tokio::test]
async fn pages_and_assets_are_compressed_as_the_client_asks() -> TestResult {
    let app = spawn_app().await?;
    let client = browser();
    app.sign_in(&client, OWNER_EMAIL).await?;
    let plain = app.get(&client, HOME).await?;
    assert_eq!(encoding(&plain), None, "no Accept-Encoding, no encoding");
    let plain = plain.text().await?;
    assert!(html::text_of(&plain).contains("Access tokens"));

    for accept in ["br", "gzip", "gzip, deflate, br"] {
        let res = get_encoded(&app, &client, HOME, accept).await?;
        assert_eq!(res.status(), StatusCode::OK);
        let expected = if accept.contains("br") { "br" } else { "gzip" };
        assert_eq!(encoding(&res), Some(expected), "page with {accept}");
        assert!(
            header_str(res.headers(), "vary").is_some_and(|v| v.contains("accept-encoding")),
            "Vary: accept-encoding"
        );
        assert!(
            header_str(res.headers(), "cache-control").is_some_and(|v| v.contains("no-store")),
            "pages stay no-store"
        );
        let body = decoded(res).await?;
        // The same page, apart from the CSRF token masked afresh.
        assert_eq!(
            html::without_csrf_tokens(&body),
            html::without_csrf_tokens(&plain)
        );
    }

    // Static assets come precompressed, with an ETag per encoding.
    let css = html::elements(&plain, "link")
        .into_iter()
        .filter_map(|l| l.attr("href").map(str::to_string))
        .find(|h| h.starts_with("/static/app.css?v="))
        .expect("app.css linked");
    let identity = app.get(&client, &css).await?;
    let identity_etag = header_str(identity.headers(), "etag").map(str::to_string);
    let identity = identity.text().await?;
    for accept in ["br", "gzip"] {
        let res = get_encoded(&app, &client, &css, accept).await?;
        assert_eq!(encoding(&res), Some(accept), "app.css with {accept}");
        let etag = header_str(res.headers(), "etag").map(str::to_string);
        assert!(
            etag.is_some() && etag != identity_etag,
            "{accept} ETag {etag:?}"
        );
        assert!(
            header_str(res.headers(), "cache-control").is_some_and(|v| v.contains("immutable"))
        );
        assert_eq!(decoded(res).await?, identity);
    }
    Ok(())
}

#[tokio::test]
async fn pages_showing_a_secret_are_not_compressed() -> TestResult {
    let app = spawn_app().await?;
    let client = browser();
    let csrf = app.sign_in(&client, OWNER_EMAIL).await?;
    let fields = |name: &'static str| {
        vec![
            ("name", name),
            ("description", ""),
            ("role", "reader"),
            ("api_version", "20240415"),
            ("expires", ""),
        ]
    };

    // With htmx: the "Copy your new token" dialog.
    let res = client
        .post(app.url(TOKENS_URL))
        .header(ACCEPT_ENCODING, "gzip, br")
        .header("HX-Request", "true")
        .header("HX-Current-URL", app.url(HOME))
        .header("X-CSRF-Token", &csrf)
        .form(&fields("htmx secret"))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(encoding(&res), None, "the secret dialog is sent as it is");
    assert!(decoded(res).await?.contains("lk_pat_"));

    // Without JavaScript: the list page after the redirect shows it once…
    let res = post_form(
        &app,
        &client,
        TOKENS_URL,
        &[
            &[("csrf_token", csrf.as_str())][..],
            &fields("no-js secret"),
        ]
        .concat(),
    )
    .await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = get_encoded(&app, &client, HOME, "gzip, br").await?;
    assert_eq!(encoding(&res), None, "the page with the secret");
    assert!(header_str(res.headers(), "cache-control").is_some_and(|v| v.contains("no-store")));
    let body = decoded(res).await?;
    assert!(html::text_of(&body).contains("Copy your new token"));

    // …and the next load, without it, is compressed again.
    let res = get_encoded(&app, &client, HOME, "gzip, br").await?;
    assert_eq!(encoding(&res), Some("br"));
    let body = decoded(res).await?;
    assert!(!html::text_of(&body).contains("Copy your new token"));
    // The htmx helper still works for the same session.
    let res = post_htmx(
        &app,
        &client,
        TOKENS_URL,
        &page_csrf(&body)?,
        &fields("again"),
    )
    .await?;
    assert_eq!(res.status(), StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn api_json_is_compressed_except_secrets() -> TestResult {
    let (app, m) = spawn_api().await?;
    let admin = app
        .issue(&m.owner, "admin", TokenKind::Personal, TokenRole::Admin)
        .await?;
    let client = Client::new();
    let send = |method: reqwest::Method, path: &str| {
        client
            .request(method, app.url(path))
            .header(AUTHORIZATION, &admin.secret)
            .header(ACCEPT_ENCODING, "gzip")
    };

    let res = send(reqwest::Method::GET, "/api/v2/tokens?limit=25")
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(encoding(&res), Some("gzip"), "the list");
    let list: serde_json::Value = serde_json::from_str(&decoded(res).await?)?;
    assert!(list["items"].is_array(), "{list}");

    let res = send(reqwest::Method::POST, "/api/v2/tokens")
        .json(&serde_json::json!({"name": "fresh"}))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(encoding(&res), None, "a created token's secret");
    let created: serde_json::Value = serde_json::from_str(&decoded(res).await?)?;
    let id = created["_id"].as_str().expect("an id").to_string();
    assert!(
        created["token"]
            .as_str()
            .is_some_and(|t| t.starts_with("lk_"))
    );

    for path in [
        format!("/api/v2/tokens/{id}/clone"),
        format!("/api/v2/tokens/{id}/reset"),
    ] {
        let res = send(reqwest::Method::POST, &path).send().await?;
        assert!(res.status().is_success(), "{path}: {}", res.status());
        assert_eq!(encoding(&res), None, "{path} shows a secret");
        let body: serde_json::Value = serde_json::from_str(&decoded(res).await?)?;
        assert!(body["token"].as_str().is_some_and(|t| t.starts_with("lk_")));
    }
    Ok(())
}
