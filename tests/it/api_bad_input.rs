//! What bad input gets from `/api/v2`: bodies that are not a token (400),
//! content types that are not JSON (415), oversize bodies (413, which the
//! client must actually receive), unknown paths and ids (404), wrong methods
//! (405) — always a `{"code","message"}` body and never a 500.

use latchkey::domain::token::{TokenKind, TokenRole};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::api_helpers::{ApiApp, UNKNOWN_ID, spawn_api};
use crate::helpers::{TestResult, raw_request};

async fn admin_app() -> anyhow::Result<(ApiApp, String, String)> {
    let (app, m) = spawn_api().await?;
    let admin = app
        .issue(&m.owner, "admin", TokenKind::Personal, TokenRole::Admin)
        .await?;
    Ok((app, admin.secret, admin.token.id))
}

#[tokio::test]
async fn create_bodies_that_are_not_a_valid_token_are_400() -> TestResult {
    let (app, admin, _) = admin_app().await?;
    let past = app.now_ms() - 1000;
    let long_name = "n".repeat(257);
    let long_description = "d".repeat(1001);
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("empty", b"".to_vec()),
        ("whitespace", b"   ".to_vec()),
        ("null", b"null".to_vec()),
        ("array", b"[]".to_vec()),
        ("string", b"\"name\"".to_vec()),
        ("number", b"5".to_vec()),
        ("empty object", b"{}".to_vec()),
        ("truncated", b"{\"name\":".to_vec()),
        ("trailing garbage", b"{\"name\":\"x\"} x".to_vec()),
        ("name number", json!({"name": 5}).to_string().into()),
        ("name null", json!({"name": null}).to_string().into()),
        ("name empty", json!({"name": ""}).to_string().into()),
        ("name blank", json!({"name": "   "}).to_string().into()),
        (
            "name too long",
            json!({"name": long_name}).to_string().into(),
        ),
        (
            "name line break",
            json!({"name": "a\nb"}).to_string().into(),
        ),
        (
            "description too long",
            json!({"name": "x", "description": long_description})
                .to_string()
                .into(),
        ),
        (
            "description number",
            json!({"name": "x", "description": 1}).to_string().into(),
        ),
        (
            "unknown role",
            json!({"name": "x", "role": "owner"}).to_string().into(),
        ),
        (
            "capitalized role",
            json!({"name": "x", "role": "Admin"}).to_string().into(),
        ),
        (
            "role number",
            json!({"name": "x", "role": 3}).to_string().into(),
        ),
        (
            "serviceToken string",
            json!({"name": "x", "serviceToken": "yes"})
                .to_string()
                .into(),
        ),
        (
            "api version string",
            json!({"name": "x", "defaultApiVersion": "20240415"})
                .to_string()
                .into(),
        ),
        (
            "unknown api version",
            json!({"name": "x", "defaultApiVersion": 1})
                .to_string()
                .into(),
        ),
        (
            "api version overflow",
            b"{\"name\":\"x\",\"defaultApiVersion\":1e400}".to_vec(),
        ),
        (
            "expires float",
            json!({"name": "x", "expires": 1.5e12}).to_string().into(),
        ),
        (
            "expires string",
            json!({"name": "x", "expires": "tomorrow"})
                .to_string()
                .into(),
        ),
        (
            "expires past",
            json!({"name": "x", "expires": past}).to_string().into(),
        ),
        (
            "unknown field",
            json!({"name": "x", "bogus": 1}).to_string().into(),
        ),
        (
            "read-only field",
            json!({"name": "x", "_id": UNKNOWN_ID}).to_string().into(),
        ),
        (
            "secret field",
            json!({"name": "x", "token": "lk_pat_x"}).to_string().into(),
        ),
        (
            "duplicate name",
            b"{\"name\":\"a\",\"name\":\"b\"}".to_vec(),
        ),
        ("lone surrogate", b"{\"name\":\"\\ud800\"}".to_vec()),
        ("lone low surrogate", b"{\"name\":\"x\\udc00y\"}".to_vec()),
        ("invalid UTF-8", b"{\"name\":\"\xff\xfe\"}".to_vec()),
        ("NUL escape", b"{\"name\":\"a\\u0000b\"}".to_vec()),
        (
            "deep nesting",
            format!("{}{}", "[".repeat(5000), "]".repeat(5000)).into(),
        ),
    ];
    let before = app.count_tokens().await?;
    for (what, body) in bodies {
        let reply = app
            .call(Method::POST, "tokens")
            .auth(&admin)
            .body("application/json", body)
            .send()
            .await?;
        reply
            .expect_error(StatusCode::BAD_REQUEST, "invalid_request")
            .map_err(|e| e.context(what))?;
    }
    assert_eq!(
        app.count_tokens().await?,
        before,
        "a refused body stored a token"
    );
    Ok(())
}

#[tokio::test]
async fn odd_but_valid_create_bodies_work() -> TestResult {
    let (app, admin, _) = admin_app().await?;
    for (name, expected) in [
        ("\u{1F511} key", "\u{1F511} key"),
        ("<script>alert(1)</script>", "<script>alert(1)</script>"),
        ("é".repeat(256).as_str(), "é".repeat(256).as_str()),
        ("  padded\t", "padded"),
    ] {
        let body = app
            .post_json("tokens", &admin, &json!({"name": name}))
            .await?
            .expect(StatusCode::CREATED)?;
        assert_eq!(body["name"], expected);
    }
    // A surrogate pair (not a lone one) is a valid character.
    let body = app
        .call(Method::POST, "tokens")
        .auth(&admin)
        .body(
            "application/json",
            b"{\"name\":\"\\ud83d\\udd11\"}".to_vec(),
        )
        .send()
        .await?
        .expect(StatusCode::CREATED)?;
    assert_eq!(body["name"], "\u{1F511}");
    // The farthest expiry accepted (the end of year 9999) reads back
    // unchanged; one past it, such as i64::MAX, is refused.
    let farthest = latchkey::domain::token::MAX_EXPIRY_MS;
    app.post_json(
        "tokens",
        &admin,
        &json!({"name": "too far", "expires": i64::MAX}),
    )
    .await?
    .expect_error(StatusCode::BAD_REQUEST, "invalid_request")?;
    let body = app
        .post_json(
            "tokens",
            &admin,
            &json!({"name": "forever", "expires": farthest}),
        )
        .await?
        .expect(StatusCode::CREATED)?;
    let id = body["_id"].as_str().unwrap_or_default().to_string();
    let shown = app
        .get(&format!("tokens/{id}"), &admin)
        .await?
        .expect(StatusCode::OK)?;
    assert_eq!(shown["expires"], farthest);
    app.get("tokens?limit=1000", &admin)
        .await?
        .expect(StatusCode::OK)?;
    Ok(())
}

#[tokio::test]
async fn non_json_content_types_are_415() -> TestResult {
    let (app, admin, _) = admin_app().await?;
    let body = json!({"name": "typed wrong"}).to_string();
    let before = app.count_tokens().await?;
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonx",
        "application/json-patch+json",
        "text/json",
    ] {
        app.call(Method::POST, "tokens")
            .auth(&admin)
            .body(ct, body.clone())
            .send()
            .await?
            .expect_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            .map_err(|e| e.context(ct))?;
    }
    app.call(Method::POST, "tokens")
        .auth(&admin)
        .untyped_body(body.clone())
        .send()
        .await?
        .expect_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")?;
    assert_eq!(app.count_tokens().await?, before);
    // With a charset parameter, JSON is JSON.
    app.call(Method::POST, "tokens")
        .auth(&admin)
        .body("application/json; charset=utf-8", body)
        .send()
        .await?
        .expect(StatusCode::CREATED)?;
    Ok(())
}

#[tokio::test]
async fn one_megabyte_bodies_get_413() -> TestResult {
    let (app, admin, id) = admin_app().await?;
    let huge = json!({"name": "x", "description": "d".repeat(1024 * 1024)}).to_string();
    let before = app.count_tokens().await?;
    for (method, path) in [
        (Method::POST, "tokens".to_string()),
        (Method::PATCH, format!("tokens/{id}")),
        (Method::POST, format!("tokens/{id}/clone")),
    ] {
        let reply = app
            .call(method.clone(), &path)
            .auth(&admin)
            .body("application/json", huge.clone())
            .send()
            .await
            .map_err(|e| e.context("the client must receive the 413, not a reset"))?;
        reply
            .expect_error(StatusCode::PAYLOAD_TOO_LARGE, "request_too_large")
            .map_err(|e| e.context(format!("{method} {path}")))?;
    }
    // Without a token too: the size is refused before anything else.
    app.call(Method::POST, "tokens")
        .body("application/json", huge.clone())
        .send()
        .await?
        .expect_error(StatusCode::PAYLOAD_TOO_LARGE, "request_too_large")?;

    // Chunked, without a declared length.
    let mut request = format!(
        "POST /api/v2/tokens HTTP/1.1\r\nHost: {}\r\nAuthorization: {admin}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\
         Connection: close\r\n\r\n",
        app.addr
    )
    .into_bytes();
    for chunk in huge.as_bytes().chunks(16 * 1024) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let res = raw_request(app.addr, &request).await?;
    assert_eq!(res.status, 413, "{}", res.head);
    let body: serde_json::Value = serde_json::from_slice(&res.body).or_else(|_| {
        // A chunked response body: take the JSON between the chunk sizes.
        let text = String::from_utf8_lossy(&res.body);
        let start = text.find('{').unwrap_or(0);
        let end = text.rfind('}').map_or(text.len(), |e| e + 1);
        serde_json::from_str(&text[start..end])
    })?;
    assert_eq!(body["code"], "request_too_large", "{body}");
    assert_eq!(app.count_tokens().await?, before);

    // Just under the limit the body is read, and its rules apply.
    let big = json!({"name": "x", "description": "d".repeat(60 * 1024)}).to_string();
    app.call(Method::POST, "tokens")
        .auth(&admin)
        .body("application/json", big)
        .send()
        .await?
        .expect_error(StatusCode::BAD_REQUEST, "invalid_request")?;
    Ok(())
}

#[tokio::test]
async fn unknown_api_paths_are_json_404s() -> TestResult {
    let (app, admin, id) = admin_app().await?;
    let mut wrong = Vec::new();
    for path in [
        "/api/v2/nope".to_string(),
        "/api/v2".to_string(),
        "/api/v2/".to_string(),
        "/api/v2/tokens/".to_string(),
        "/api/v2/token".to_string(),
        "/api/v2/Tokens".to_string(),
        format!("/api/v2/tokens/{id}/"),
        format!("/api/v2/tokens/{id}/nope"),
        format!("/api/v2/tokens/{id}/reset/now"),
        "/api/v2/member".to_string(),
        "/api/v2/members/x/y".to_string(),
        "/api/v2/openapi.yaml".to_string(),
    ] {
        for auth in [None, Some(&admin)] {
            let mut call = app.call(Method::GET, &path);
            if let Some(auth) = auth {
                call = call.auth(auth);
            }
            if let Err(e) = call
                .send()
                .await?
                .expect_error(StatusCode::NOT_FOUND, "not_found")
            {
                let head = e.to_string().chars().take(100).collect::<String>();
                wrong.push(format!("{path} (token: {}): {head}", auth.is_some()));
            }
        }
    }
    assert!(wrong.is_empty(), "not a JSON 404:\n{}", wrong.join("\n"));
    // Outside /api/v2 there is no API, but still a 404.
    for path in ["/api", "/api/v1/tokens", "/api/v3/caller-identity"] {
        let reply = app.call(Method::GET, path).auth(&admin).send().await?;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
    }
    Ok(())
}

#[tokio::test]
async fn malformed_ids_are_404_on_every_token_endpoint() -> TestResult {
    let (app, admin, id) = admin_app().await?;
    let bad_ids = [
        UNKNOWN_ID.to_string(),
        "nope".to_string(),
        id.to_uppercase(),
        format!("{id}0"),
        "a".repeat(1000),
        "%00".to_string(),
        "%C3%A9".repeat(12),
    ];
    let patch = json!([{"op": "replace", "path": "/name", "value": "x"}]);
    for bad in &bad_ids {
        for (method, suffix) in [
            (Method::GET, ""),
            (Method::PATCH, ""),
            (Method::DELETE, ""),
            (Method::POST, "/reset"),
            (Method::POST, "/clone"),
        ] {
            let path = format!("tokens/{bad}{suffix}");
            let mut call = app.call(method.clone(), &path).auth(&admin);
            if method == Method::PATCH {
                call = call.json(&patch);
            }
            call.send()
                .await?
                .expect_error(StatusCode::NOT_FOUND, "not_found")
                .map_err(|e| e.context(format!("{method} {path}")))?;
        }
    }
    app.identity(&admin).await?;
    Ok(())
}

/// An id that does not decode to UTF-8 is as malformed as any other: 404
/// with the JSON error body, not the framework's plain-text rejection.
#[tokio::test]
async fn ids_that_are_not_utf8_get_a_json_404() -> TestResult {
    let (app, admin, _) = admin_app().await?;
    for (method, path) in [
        (Method::GET, "tokens/%FF"),
        (Method::DELETE, "tokens/%FF"),
        (Method::POST, "tokens/%C3%28/reset"),
        (Method::POST, "tokens/%FF%FE/clone"),
    ] {
        app.call(method.clone(), path)
            .auth(&admin)
            .send()
            .await?
            .expect_error(StatusCode::NOT_FOUND, "not_found")
            .map_err(|e| e.context(format!("{method} {path}")))?;
    }
    Ok(())
}

#[tokio::test]
async fn wrong_methods_are_405() -> TestResult {
    let (app, admin, id) = admin_app().await?;
    for (method, path) in [
        (Method::PUT, "tokens".to_string()),
        (Method::DELETE, "tokens".to_string()),
        (Method::PATCH, "tokens".to_string()),
        (Method::POST, "caller-identity".to_string()),
        (Method::DELETE, "caller-identity".to_string()),
        (Method::PUT, format!("tokens/{id}")),
        (Method::POST, format!("tokens/{id}")),
        (Method::GET, format!("tokens/{id}/reset")),
        (Method::DELETE, format!("tokens/{id}/clone")),
        (Method::POST, "openapi.json".to_string()),
    ] {
        for auth in [None, Some(&admin)] {
            let mut call = app.call(method.clone(), &path);
            if let Some(auth) = auth {
                call = call.auth(auth);
            }
            let reply = call.send().await?;
            reply
                .expect_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
                .map_err(|e| e.context(format!("{method} {path}")))?;
            // RFC 9110 §15.5.6: a 405 lists the methods the resource has.
            let allow = reply.header("allow").unwrap_or_default().to_string();
            assert!(
                !allow.is_empty() && !allow.contains(method.as_str()),
                "{method} {path}: Allow {allow:?}"
            );
        }
    }
    // The token was not touched by any of it.
    app.get(&format!("tokens/{id}"), &admin)
        .await?
        .expect(StatusCode::OK)?;
    Ok(())
}

#[tokio::test]
async fn hostile_headers_and_queries_never_500() -> TestResult {
    let (app, admin, id) = admin_app().await?;
    // A huge Authorization header.
    let reply = app
        .call(Method::GET, "caller-identity")
        .raw_auth(&"x".repeat(8 * 1024))
        .send()
        .await?;
    assert!(
        [
            StatusCode::UNAUTHORIZED,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            StatusCode::BAD_REQUEST
        ]
        .contains(&reply.status),
        "{}",
        reply.status
    );
    for query in [
        "tokens?limit=%FF",
        "tokens?showAll=%00",
        "tokens?limit=99999999999999999999",
        "tokens?offset=99999999999999999999",
    ] {
        let reply = app.get(query, &admin).await?;
        reply
            .expect_error(StatusCode::BAD_REQUEST, "invalid_request")
            .map_err(|e| e.context(query))?;
    }
    // Unknown query parameters are ignored.
    app.get("tokens?unknown=1", &admin)
        .await?
        .expect(StatusCode::OK)?;
    let reply = app
        .post(&format!("tokens/{id}/reset?expiry=%FF"), &admin)
        .await?;
    reply.expect_error(StatusCode::BAD_REQUEST, "invalid_request")?;
    app.identity(&admin).await?;
    Ok(())
}
