//! `/api/v2/tokens`: the Token JSON, list (pagination, visibility, showAll),
//! create, get, delete (also racing), reset, clone, what each token role may
//! do on each endpoint, and the OpenAPI document.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::anyhow;
use latchkey::domain::token::{TokenKind, TokenRole};
use latchkey::tokens::CreateRequest;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::api_helpers::{ApiApp, UNKNOWN_ID, create_request, keys, set, sid, spawn_api};
use crate::helpers::TestResult;

const TOKEN_FIELDS: [&str; 17] = [
    "_id",
    "name",
    "description",
    "role",
    "serviceToken",
    "memberId",
    "_member",
    "defaultApiVersion",
    "creationDate",
    "lastModified",
    "lastUsed",
    "expires",
    "suspended",
    "oldSecretValidUntil",
    "oldSecretLastUsed",
    "token",
    "_links",
];

/// Checks the shape every Token JSON has: exactly the documented fields,
/// of the documented types, links that point at the token.
fn assert_token_shape(v: &Value) {
    assert_eq!(keys(v), set(&TOKEN_FIELDS), "Token JSON fields: {v}");
    let id = v["_id"].as_str().expect("_id is a string");
    assert!(
        id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "_id {id:?}"
    );
    assert!(v["name"].is_string() && v["description"].is_string(), "{v}");
    assert!(
        ["reader", "writer", "admin"].contains(&v["role"].as_str().unwrap_or("")),
        "role must be lowercase: {v}"
    );
    assert!(v["serviceToken"].is_boolean(), "{v}");
    assert_eq!(v["memberId"], v["_member"]["_id"], "{v}");
    assert_eq!(keys(&v["_member"]), set(&["_id", "email", "role"]), "{v}");
    assert!(
        ["owner", "admin", "writer", "reader", "no_access"]
            .contains(&v["_member"]["role"].as_str().unwrap_or("")),
        "member role must be lowercase: {v}"
    );
    assert!(v["defaultApiVersion"].is_i64(), "{v}");
    for time in ["creationDate", "lastModified"] {
        let ms = v[time].as_i64().unwrap_or(0);
        // Unix milliseconds: after 2020, not in seconds or microseconds.
        assert!(
            (1_577_836_800_000..4_102_444_800_000).contains(&ms),
            "{time} is not Unix ms: {v}"
        );
    }
    assert!(v["lastUsed"].is_null() || v["lastUsed"].is_i64(), "{v}");
    assert!(v["expires"].is_null() || v["expires"].is_i64(), "{v}");
    assert!(v["suspended"].is_null() || v["suspended"].is_i64(), "{v}");
    for time in ["oldSecretValidUntil", "oldSecretLastUsed"] {
        assert!(v[time].is_null() || v[time].is_i64(), "{time}: {v}");
    }
    assert!(
        v["oldSecretLastUsed"].is_null() || v["oldSecretValidUntil"].is_i64(),
        "an old secret's last use only while it works: {v}"
    );
    assert!(v["token"].is_string(), "{v}");
    assert_eq!(keys(&v["_links"]), set(&["self", "parent"]), "{v}");
    assert_eq!(
        v["_links"]["self"],
        json!({"href": format!("/api/v2/tokens/{id}"), "type": "application/json"})
    );
    assert_eq!(
        v["_links"]["parent"],
        json!({"href": "/api/v2/tokens", "type": "application/json"})
    );
}

fn assert_full_secret(v: &Value, prefix: &str) -> String {
    let secret = v["token"].as_str().unwrap_or_default().to_string();
    assert!(
        secret.starts_with(prefix) && secret.len() == 43,
        "expected a full {prefix} secret in `token`: {v}"
    );
    secret
}

fn items(list: &Value) -> Vec<Value> {
    list["items"].as_array().cloned().unwrap_or_default()
}

fn names(list: &Value) -> BTreeSet<String> {
    items(list)
        .iter()
        .map(|t| t["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn create_returns_the_full_token_json_and_a_working_secret() -> TestResult {
    let (app, m) = spawn_api().await?;
    let admin = app
        .issue(&m.owner, "admin", TokenKind::Personal, TokenRole::Admin)
        .await?;
    let expires = app.now_ms() + 3_600_000;
    let before = app.now_ms();
    let reply = app
        .post_json(
            "tokens",
            &admin.secret,
            &json!({
                "name": "  Deploy bot  ",
                "description": "Ships builds",
                "role": "writer",
                "serviceToken": false,
                "defaultApiVersion": 20220603,
                "expires": expires,
            }),
        )
        .await?;
    let after = app.now_ms();
    assert_eq!(
        reply.header("cache-control"),
        Some("no-store"),
        "a response carrying a secret must not be cached"
    );
    let created = reply.expect(StatusCode::CREATED)?;
    assert_token_shape(&created);
    assert_eq!(created["name"], "Deploy bot", "the name is trimmed");
    assert_eq!(created["description"], "Ships builds");
    assert_eq!(created["role"], "writer");
    assert_eq!(created["serviceToken"], false);
    assert_eq!(created["memberId"], m.owner.id);
    assert_eq!(
        created["_member"],
        json!({"_id": m.owner.id, "email": m.owner.email, "role": "owner"})
    );
    assert_eq!(created["defaultApiVersion"], 20220603);
    let created_at = created["creationDate"].as_i64().unwrap_or(0);
    assert!((before..=after).contains(&created_at), "{created}");
    assert_eq!(created["lastModified"], created_at);
    assert!(created["lastUsed"].is_null());
    assert_eq!(created["expires"], expires);
    let secret = assert_full_secret(&created, "lk_pat_");
    let id = created["_id"].as_str().unwrap_or_default().to_string();

    // The secret authenticates, as the token just made.
    let who = app.identity(&secret).await?;
    assert_eq!(who["tokenId"], id.as_str());
    assert_eq!(who["role"], "writer");

    // GET shows the same token with only the last four characters.
    let shown = app
        .get(&format!("tokens/{id}"), &admin.secret)
        .await?
        .expect(StatusCode::OK)?;
    assert_token_shape(&shown);
    assert_eq!(shown["token"], &secret[secret.len() - 4..]);
    for field in TOKEN_FIELDS {
        if field != "token" && field != "lastUsed" {
            assert_eq!(shown[field], created[field], "{field} differs on GET");
        }
    }
    Ok(())
}

#[tokio::test]
async fn create_defaults_and_service_tokens() -> TestResult {
    let (app, m) = spawn_api().await?;
    let admin = app
        .issue(&m.admin, "admin", TokenKind::Personal, TokenRole::Admin)
        .await?;
    let minimal = app
        .post_json("tokens", &admin.secret, &json!({"name": "minimal"}))
        .await?
        .expect(StatusCode::CREATED)?;
    assert_token_shape(&minimal);
    assert_eq!(minimal["role"], "reader");
    assert_eq!(minimal["description"], "");
    assert_eq!(minimal["serviceToken"], false);
    assert_eq!(minimal["defaultApiVersion"], 20240415);
    assert!(minimal["expires"].is_null());
    assert_eq!(minimal["_member"]["role"], "admin");
    assert_full_secret(&minimal, "lk_pat_");

    let service = app
        .post_json(
            "tokens",
            &admin.secret,
            &json!({"name": "svc", "role": "admin", "serviceToken": true, "expires": null}),
        )
        .await?
        .expect(StatusCode::CREATED)?;
    assert_token_shape(&service);
    assert_eq!(service["serviceToken"], true);
    assert_eq!(service["role"], "admin");
    assert_eq!(service["memberId"], m.admin.id);
    let secret = assert_full_secret(&service, "lk_svc_");
    let who = app.identity(&secret).await?;
    assert_eq!(who["serviceToken"], true);
    assert_eq!(who["role"], "admin");
    Ok(())
}

#[tokio::test]
async fn list_paginates_with_default_25_and_at_most_1000() -> TestResult {
    let (app, m) = spawn_api().await?;
    let admin = app
        .issue(&m.owner, "aaa admin", TokenKind::Personal, TokenRole::Admin)
        .await?;
    for i in 0..30 {
        app.issue(
            &m.owner,
            &format!("Token {i:02}"),
            TokenKind::Personal,
            TokenRole::Reader,
        )
        .await?;
    }
    let total = 31;
    let s = &admin.secret;

    let first = app.get("tokens", s).await?.expect(StatusCode::OK)?;
    assert_eq!(
        keys(&first),
        set(&["items", "totalCount", "_links"]),
        "{first}"
    );
    assert_eq!(first["totalCount"], total);
    let page1 = items(&first);
    assert_eq!(page1.len(), 25, "default limit is 25");
    for item in &page1 {
        assert_token_shape(item);
        assert_eq!(item["token"].as_str().map(str::len), Some(4), "{item}");
    }
    assert!(first["_links"]["self"]["href"].is_string(), "{first}");
    assert!(first["_links"]["next"]["href"].is_string(), "{first}");
    assert!(first["_links"].get("prev").is_none(), "{first}");

    // The next link leads to the rest.
    let next = first["_links"]["next"]["href"].as_str().unwrap_or_default();
    let second = app.get(next, s).await?.expect(StatusCode::OK)?;
    let page2 = items(&second);
    assert_eq!(page2.len(), 6);
    assert_eq!(second["totalCount"], total);
    assert!(second["_links"].get("next").is_none(), "{second}");
    assert!(second["_links"]["prev"]["href"].is_string(), "{second}");
    let mut seen: Vec<String> = page1
        .iter()
        .chain(&page2)
        .map(|t| t["_id"].as_str().unwrap_or_default().to_string())
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), total, "the pages overlap or miss tokens");

    // Ordered by name.
    let all = app
        .get("tokens?limit=1000", s)
        .await?
        .expect(StatusCode::OK)?;
    let ordered: Vec<String> = items(&all)
        .iter()
        .map(|t| t["name"].as_str().unwrap_or_default().to_lowercase())
        .collect();
    let mut sorted = ordered.clone();
    sorted.sort();
    assert_eq!(ordered, sorted);
    assert_eq!(ordered.len(), total);

    let some = app
        .get("tokens?limit=5&offset=3", s)
        .await?
        .expect(StatusCode::OK)?;
    assert_eq!(items(&some), items(&all)[3..8].to_vec());
    let beyond = app
        .get("tokens?offset=500", s)
        .await?
        .expect(StatusCode::OK)?;
    assert!(items(&beyond).is_empty());
    assert_eq!(beyond["totalCount"], total);

    for bad in [
        "limit=0",
        "limit=1001",
        "limit=-1",
        "limit=abc",
        "limit=2.5",
        "offset=-1",
        "offset=x",
        "showAll=maybe",
        "limit=1&limit=2",
    ] {
        app.get(&format!("tokens?{bad}"), s)
            .await?
            .expect_error(StatusCode::BAD_REQUEST, "invalid_request")
            .map_err(|e| e.context(bad))?;
    }
    Ok(())
}

#[tokio::test]
async fn visibility_and_show_all() -> TestResult {
    let (app, m) = spawn_api().await?;
    app.issue(
        &m.owner,
        "owner-pat",
        TokenKind::Personal,
        TokenRole::Reader,
    )
    .await?;
    let others = app
        .issue(&m.other, "other-pat", TokenKind::Personal, TokenRole::Admin)
        .await?;
    app.issue(
        &m.writer,
        "writer-pat",
        TokenKind::Personal,
        TokenRole::Reader,
    )
    .await?;
    let service = app
        .issue(
            &m.admin,
            "shared-svc",
            TokenKind::Service,
            TokenRole::Reader,
        )
        .await?;
    let admin_tok = app
        .issue(
            &m.admin,
            "admin-auth",
            TokenKind::Personal,
            TokenRole::Admin,
        )
        .await?;
    let writer_tok = app
        .issue(
            &m.writer,
            "writer-auth",
            TokenKind::Personal,
            TokenRole::Writer,
        )
        .await?;
    let reader_tok = app
        .issue(
            &m.reader,
            "reader-auth",
            TokenKind::Personal,
            TokenRole::Reader,
        )
        .await?;
    // An Owner's token with the Writer role acts as a Writer.
    let owner_writer = app
        .issue(
            &m.owner,
            "owner-writer",
            TokenKind::Personal,
            TokenRole::Writer,
        )
        .await?;
    let everything: BTreeSet<String> = [
        "owner-pat",
        "other-pat",
        "writer-pat",
        "shared-svc",
        "admin-auth",
        "writer-auth",
        "reader-auth",
        "owner-writer",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    let expect =
        |list: &[&str]| -> BTreeSet<String> { list.iter().map(|s| s.to_string()).collect() };

    let cases: [(&str, &str, BTreeSet<String>); 8] = [
        (&admin_tok.secret, "", expect(&["admin-auth", "shared-svc"])),
        (&admin_tok.secret, "?showAll=true", everything.clone()),
        (&admin_tok.secret, "?showAll=1", everything.clone()),
        (
            &admin_tok.secret,
            "?showAll=false",
            expect(&["admin-auth", "shared-svc"]),
        ),
        (
            &writer_tok.secret,
            "?showAll=true",
            expect(&["writer-pat", "writer-auth", "shared-svc"]),
        ),
        (
            &writer_tok.secret,
            "",
            expect(&["writer-pat", "writer-auth", "shared-svc"]),
        ),
        (
            &reader_tok.secret,
            "?showAll=true",
            expect(&["reader-auth", "shared-svc"]),
        ),
        (
            &owner_writer.secret,
            "?showAll=true",
            expect(&["owner-pat", "owner-writer", "shared-svc"]),
        ),
    ];
    for (secret, query, want) in cases {
        let list = app
            .get(&format!("tokens{query}"), secret)
            .await?
            .expect(StatusCode::OK)?;
        let who = app.identity(secret).await?["tokenName"].clone();
        assert_eq!(names(&list), want, "{who} listing tokens{query}");
        assert_eq!(list["totalCount"], want.len(), "{who} tokens{query}");
    }

    // By id: another member's personal token is invisible to non-admins.
    let theirs = format!("tokens/{}", others.token.id);
    for secret in [&writer_tok.secret, &reader_tok.secret, &owner_writer.secret] {
        app.get(&theirs, secret)
            .await?
            .expect_error(StatusCode::NOT_FOUND, "not_found")?;
    }
    app.get(&theirs, &admin_tok.secret)
        .await?
        .expect(StatusCode::OK)?;
    let svc = format!("tokens/{}", service.token.id);
    for secret in [&writer_tok.secret, &reader_tok.secret, &admin_tok.secret] {
        app.get(&svc, secret).await?.expect(StatusCode::OK)?;
    }
    Ok(())
}

#[tokio::test]
async fn get_unknown_or_malformed_ids_is_404() -> TestResult {
    let (app, m) = spawn_api().await?;
    let admin = app
        .issue(&m.owner, "admin", TokenKind::Personal, TokenRole::Admin)
        .await?;
    let id = &admin.token.id;
    for bad in [
        UNKNOWN_ID.to_string(),
        "nope".to_string(),
        id.to_uppercase(),
        format!("{id}0"),
        id[..23].to_string(),
        "%20".to_string(),
        "a".repeat(2000),
        "%C3%A9".repeat(12),
    ] {
        app.get(&format!("tokens/{bad}"), &admin.secret)
            .await?
            .expect_error(StatusCode::NOT_FOUND, "not_found")
            .map_err(|e| e.context(format!("GET tokens/{bad}")))?;
    }
    Ok(())
}

#[tokio::test]
async fn delete_answers_204_then_404() -> TestResult {
    let (app, m) = spawn_api().await?;
    let admin = app
        .issue(&m.owner, "admin", TokenKind::Personal, TokenRole::Admin)
        .await?;
    let (_, id) = sid(&app
        .issue(&m.other, "theirs", TokenKind::Personal, TokenRole::Reader)
        .await?);
    let before = app.count_tokens().await?;
    let reply = app.delete(&format!("tokens/{id}"), &admin.secret).await?;
    reply.expect(StatusCode::NO_CONTENT)?;
    assert!(reply.body.is_empty(), "204 with a body: {}", reply.text());
    assert_eq!(app.count_tokens().await?, before - 1);
    app.get(&format!("tokens/{id}"), &admin.secret)
        .await?
        .expect_error(StatusCode::NOT_FOUND, "not_found")?;
    app.delete(&format!("tokens/{id}"), &admin.secret)
        .await?
        .expect_error(StatusCode::NOT_FOUND, "not_found")?;
    for bad in [UNKNOWN_ID, "nope"] {
        app.delete(&format!("tokens/{bad}"), &admin.secret)
            .await?
            .expect_error(StatusCode::NOT_FOUND, "not_found")?;
    }
    Ok(())
}

#[tokio::test]
async fn concurrent_deletes_succeed_exactly_once() -> TestResult {
    let (app, m) = spawn_api().await?;
    let admin = app
        .issue(&m.owner, "admin", TokenKind::Personal, TokenRole::Admin)
        .await?;
    for round in 0..3 {
        let (victim, id) = sid(&app
            .issue(
                &m.admin,
                &format!("raced {round}"),
                TokenKind::Service,
                TokenRole::Reader,
            )
            .await?);
        let url = app.url(&format!("/api/v2/tokens/{id}"));
        let mut racers = JoinSet::new();
        for _ in 0..8 {
            let client = crate::helpers::bare_client();
            let url = url.clone();
            let secret = admin.secret.clone();
            racers.spawn(async move {
                let res = client
                    .delete(url)
                    .header("authorization", secret)
                    .send()
                    .await?;
                let status = res.status();
                let body = res.text().await?;
                anyhow::Ok((status, body))
            });
        }
        let mut statuses = BTreeMap::<u16, usize>::new();
        while let Some(done) = racers.join_next().await {
            let (status, body) = done??;
            if status == StatusCode::NOT_FOUND {
                let v: Value = serde_json::from_str(&body)?;
                assert_eq!(v["code"], "not_found", "{body}");
            }
            *statuses.entry(status.as_u16()).or_default() += 1;
        }
        assert_eq!(
            statuses,
            BTreeMap::from([(204, 1), (404, 7)]),
            "round {round}: exactly one delete wins"
        );
        app.get("caller-identity", &victim)
            .await?
            .expect_error(StatusCode::UNAUTHORIZED, "unauthorized")?;
    }
    Ok(())
}

#[tokio::test]
async fn reset_keeps_the_old_secret_until_a_future_expiry() -> TestResult {
    let (app, m) = spawn_api().await?;
    let admin = app
        .issue(&m.owner, "admin", TokenKind::Personal, TokenRole::Admin)
        .await?;
    let (old, id) = sid(&app
        .issue(&m.admin, "rotating", TokenKind::Service, TokenRole::Writer)
        .await?);
    let until = app.now_ms() + 3_000;
    let reply = app
        .post(&format!("tokens/{id}/reset?expiry={until}"), &admin.secret)
        .await?;
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let body = reply.expect(StatusCode::OK)?;
    assert_token_shape(&body);
    assert_eq!(body["_id"], id.as_str());
    assert_eq!(body["name"], "rotating");
    let new = assert_full_secret(&body, "lk_svc_");
    assert_ne!(new, old);

    // Both work during the grace period.
    assert_eq!(app.identity(&old).await?["tokenId"], id.as_str());
    assert_eq!(app.identity(&new).await?["tokenId"], id.as_str());
    let shown = app
        .get(&format!("tokens/{id}"), &admin.secret)
        .await?
        .expect(StatusCode::OK)?;
    assert_eq!(shown["token"], &new[new.len() - 4..]);

    app.advance(Duration::from_millis(3_001));
    app.get("caller-identity", &old)
        .await?
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized")?;
    assert_eq!(app.identity(&new).await?["tokenId"], id.as_str());

    // A one-hour grace: the old secret keeps working.
    let (old, id) = sid(&app
        .issue(
            &m.admin,
            "slow rotation",
            TokenKind::Service,
            TokenRole::Reader,
        )
        .await?);
    let reply = app
        .post(
            &format!("tokens/{id}/reset?expiry={}", app.now_ms() + 3_600_000),
            &admin.secret,
        )
        .await?;
    let new = assert_full_secret(&reply.expect(StatusCode::OK)?, "lk_svc_");
    app.identity(&old).await?;
    app.identity(&new).await?;
    Ok(())
}

#[tokio::test]
async fn reset_refuses_a_bad_expiry_and_changes_nothing() -> TestResult {
    let (app, m) = spawn_api().await?;
    let admin = app
        .issue(&m.owner, "admin", TokenKind::Personal, TokenRole::Admin)
        .await?;
    let (old, id) = sid(&app
        .issue(&m.admin, "stable", TokenKind::Service, TokenRole::Reader)
        .await?);
    let two_years = app.now_ms() + 2 * 366 * 24 * 3_600_000;
    for query in [
        "expiry=soon".to_string(),
        "expiry=1.5".to_string(),
        format!("expiry={two_years}"),
        "expiry=99999999999999999999999".to_string(),
    ] {
        app.post(&format!("tokens/{id}/reset?{query}"), &admin.secret)
            .await?
            .expect_error(StatusCode::BAD_REQUEST, "invalid_request")
            .map_err(|e| e.context(query))?;
    }
    app.identity(&old).await?;
    for bad in [UNKNOWN_ID, "nope"] {
        app.post(&format!("tokens/{bad}/reset"), &admin.secret)
            .await?
            .expect_error(StatusCode::NOT_FOUND, "not_found")?;
    }
    // Another member's personal token cannot be reset, even by an Admin.
    let theirs = app
        .issue(&m.other, "theirs", TokenKind::Personal, TokenRole::Reader)
        .await?;
    app.post(&format!("tokens/{}/reset", theirs.token.id), &admin.secret)
        .await?
        .expect_error(StatusCode::FORBIDDEN, "forbidden")?;
    app.identity(&theirs.secret).await?;
    Ok(())
}

#[tokio::test]
async fn clone_makes_a_copy_with_a_fresh_secret() -> TestResult {
    let (app, m) = spawn_api().await?;
    let admin = app
        .issue(&m.owner, "admin", TokenKind::Personal, TokenRole::Admin)
        .await?;
    let expires = app.now_ms() + 86_400_000;
    let source = app
        .issue_with(
            &m.owner,
            CreateRequest {
                description: "builds things".into(),
                api_version: 20210729,
                expires_at: Some(expires),
                ..create_request("Builder", TokenKind::Personal, TokenRole::Writer)
            },
        )
        .await?;
    let before = app.count_tokens().await?;
    let reply = app
        .post(&format!("tokens/{}/clone", source.token.id), &admin.secret)
        .await?;
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let clone = reply.expect(StatusCode::CREATED)?;
    assert_token_shape(&clone);
    assert_ne!(clone["_id"], source.token.id.as_str());
    assert_eq!(clone["name"], "Builder (copy)");
    assert_eq!(clone["description"], "builds things");
    assert_eq!(clone["role"], "writer");
    assert_eq!(clone["serviceToken"], false);
    assert_eq!(clone["defaultApiVersion"], 20210729);
    // PRODUCT.md §3: role, kind, description and API version; not the expiry.
    assert_eq!(clone["expires"], serde_json::Value::Null);
    let _ = expires;
    assert_eq!(clone["memberId"], m.owner.id);
    let secret = assert_full_secret(&clone, "lk_pat_");
    assert_ne!(secret, source.secret);
    assert_eq!(app.count_tokens().await?, before + 1);
    let who = app.identity(&secret).await?;
    assert_eq!(who["tokenId"], clone["_id"]);
    assert_eq!(who["role"], "writer");
    // The source is untouched.
    app.identity(&source.secret).await?;

    // A service token's clone is owned by the actor.
    let service = app
        .issue(&m.admin, "svc", TokenKind::Service, TokenRole::Reader)
        .await?;
    let clone = app
        .post(&format!("tokens/{}/clone", service.token.id), &admin.secret)
        .await?
        .expect(StatusCode::CREATED)?;
    assert_eq!(clone["serviceToken"], true);
    assert_eq!(clone["memberId"], m.owner.id);
    assert_eq!(clone["name"], "svc (copy)");
    assert_full_secret(&clone, "lk_svc_");

    // Another member's personal token cannot be cloned.
    let theirs = app
        .issue(&m.other, "theirs", TokenKind::Personal, TokenRole::Reader)
        .await?;
    let before = app.count_tokens().await?;
    app.post(&format!("tokens/{}/clone", theirs.token.id), &admin.secret)
        .await?
        .expect_error(StatusCode::FORBIDDEN, "forbidden")?;
    for bad in [UNKNOWN_ID, "nope"] {
        app.post(&format!("tokens/{bad}/clone"), &admin.secret)
            .await?
            .expect_error(StatusCode::NOT_FOUND, "not_found")?;
    }
    assert_eq!(app.count_tokens().await?, before);
    Ok(())
}

/// What one token gets on every endpoint. `targets`: three service tokens
/// (read, patched and reset; cloned; deleted).
async fn exercise(
    app: &ApiApp,
    secret: &str,
    targets: &[String; 3],
) -> anyhow::Result<Vec<(&'static str, u16)>> {
    let [first, second, third] = targets;
    let replace = json!([{"op": "replace", "path": "/description", "value": "patched"}]);
    Ok(vec![
        (
            "GET caller-identity",
            app.get("caller-identity", secret).await?.status.as_u16(),
        ),
        (
            "GET tokens",
            app.get("tokens", secret).await?.status.as_u16(),
        ),
        (
            "GET tokens/{id}",
            app.get(&format!("tokens/{first}"), secret)
                .await?
                .status
                .as_u16(),
        ),
        (
            "POST tokens",
            app.post_json("tokens", secret, &json!({"name": "made"}))
                .await?
                .status
                .as_u16(),
        ),
        (
            "PATCH tokens/{id}",
            app.patch(&format!("tokens/{first}"), secret, &replace)
                .await?
                .status
                .as_u16(),
        ),
        (
            "POST tokens/{id}/reset",
            app.post(&format!("tokens/{first}/reset"), secret)
                .await?
                .status
                .as_u16(),
        ),
        (
            "POST tokens/{id}/clone",
            app.post(&format!("tokens/{second}/clone"), secret)
                .await?
                .status
                .as_u16(),
        ),
        (
            "DELETE tokens/{id}",
            app.delete(&format!("tokens/{third}"), secret)
                .await?
                .status
                .as_u16(),
        ),
    ])
}

#[tokio::test]
async fn reader_writer_and_admin_tokens_on_every_endpoint() -> TestResult {
    let (app, m) = spawn_api().await?;
    for (kind, role) in [
        (TokenKind::Personal, TokenRole::Reader),
        (TokenKind::Personal, TokenRole::Writer),
        (TokenKind::Personal, TokenRole::Admin),
        (TokenKind::Service, TokenRole::Reader),
        (TokenKind::Service, TokenRole::Writer),
        (TokenKind::Service, TokenRole::Admin),
    ] {
        let what = format!("{kind:?} {role:?} token");
        // Targets: service tokens, which every role may see.
        let mut targets = Vec::new();
        for i in 0..3 {
            targets.push(
                app.issue(
                    &m.admin,
                    &format!("{what} target {i}"),
                    TokenKind::Service,
                    TokenRole::Reader,
                )
                .await?,
            );
        }
        let ids = [0, 1, 2].map(|i| targets[i].token.id.clone());
        let actor = app.issue(&m.owner, &what, kind, role).await?;
        let before = app.count_tokens().await?;
        let seen = exercise(&app, &actor.secret, &ids).await?;
        let admin = role == TokenRole::Admin;
        let expected = vec![
            ("GET caller-identity", 200),
            ("GET tokens", 200),
            ("GET tokens/{id}", 200),
            // A service token may not mint personal tokens (the body asks for one).
            (
                "POST tokens",
                if admin && kind == TokenKind::Personal {
                    201
                } else {
                    403
                },
            ),
            ("PATCH tokens/{id}", if admin { 200 } else { 403 }),
            ("POST tokens/{id}/reset", if admin { 200 } else { 403 }),
            ("POST tokens/{id}/clone", if admin { 201 } else { 403 }),
            ("DELETE tokens/{id}", if admin { 204 } else { 403 }),
        ];
        assert_eq!(seen, expected, "{what}");
        let patched = app
            .store()
            .find_token(&ids[0])
            .await?
            .ok_or_else(|| anyhow!("{what}: the patched target is gone"))?;
        let deleted = app.store().find_token(&ids[2]).await?.is_none();
        if admin {
            assert_eq!(patched.description, "patched", "{what}");
            assert!(deleted, "{what}: the target was not deleted");
            // Created (personal tokens only) and cloned; deleted one.
            let created = i64::from(kind == TokenKind::Personal);
            assert_eq!(app.count_tokens().await?, before + created, "{what}");
        } else {
            assert_eq!(patched.description, "", "{what}: refused patch applied");
            assert!(!deleted, "{what}: refused delete applied");
            assert_eq!(
                app.count_tokens().await?,
                before,
                "{what}: a refused request stored something"
            );
            // The refused reset left the secret working.
            app.identity(&targets[0].secret).await?;
        }
    }
    Ok(())
}

#[tokio::test]
async fn forbidden_answers_have_the_error_shape() -> TestResult {
    let (app, m) = spawn_api().await?;
    let writer = app
        .issue(&m.writer, "writer", TokenKind::Personal, TokenRole::Writer)
        .await?;
    let target = app
        .issue(&m.admin, "svc", TokenKind::Service, TokenRole::Reader)
        .await?;
    let path = format!("tokens/{}", target.token.id);
    for reply in [
        app.post_json("tokens", &writer.secret, &json!({"name": "x"}))
            .await?,
        app.patch(&path, &writer.secret, &json!([])).await?,
        app.delete(&path, &writer.secret).await?,
        app.post(&format!("{path}/reset"), &writer.secret).await?,
        app.post(&format!("{path}/clone"), &writer.secret).await?,
    ] {
        reply.expect_error(StatusCode::FORBIDDEN, "forbidden")?;
    }
    app.identity(&target.secret).await?;
    Ok(())
}

/// Every operation the router serves under `/api/v2`, besides the document.
const OPERATIONS: [(&str, &str); 19] = [
    ("/api/v2/caller-identity", "get"),
    ("/api/v2/auth/verify", "get"),
    ("/api/v2/credentials/revoke", "post"),
    ("/api/v2/tokens", "get"),
    ("/api/v2/tokens", "post"),
    ("/api/v2/tokens/{id}", "get"),
    ("/api/v2/tokens/{id}", "patch"),
    ("/api/v2/tokens/{id}", "delete"),
    ("/api/v2/tokens/{id}/reset", "post"),
    ("/api/v2/tokens/{id}/clone", "post"),
    ("/api/v2/tokens/bulk-delete", "post"),
    ("/api/v2/tokens/{id}/suspend", "post"),
    ("/api/v2/tokens/{id}/resume", "post"),
    ("/api/v2/tokens/{id}/end-grace", "post"),
    ("/api/v2/tokens/{id}/uses", "get"),
    ("/api/v2/members", "get"),
    ("/api/v2/members/{id}", "patch"),
    ("/api/v2/members/{id}", "delete"),
    ("/api/v2/auditlog", "get"),
];

/// Operations that need no token.
const PUBLIC: [(&str, &str); 1] = [("/api/v2/credentials/revoke", "post")];

async fn openapi(app: &ApiApp) -> anyhow::Result<Value> {
    app.call(Method::GET, "openapi.json")
        .send()
        .await?
        .expect(StatusCode::OK)
}

#[tokio::test]
async fn openapi_document_is_public_and_lists_every_operation() -> TestResult {
    let (app, _) = spawn_api().await?;
    let doc = openapi(&app).await?;
    let version = doc["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3.1."), "openapi {version:?}");
    let paths = doc["paths"]
        .as_object()
        .ok_or_else(|| anyhow!("no paths: {doc}"))?;
    let mut documented = BTreeSet::new();
    for (path, item) in paths {
        for method in [
            "get", "put", "post", "delete", "options", "head", "patch", "trace",
        ] {
            if item.get(method).is_some() {
                documented.insert((path.clone(), method.to_string()));
            }
        }
    }
    let served: BTreeSet<(String, String)> = OPERATIONS
        .iter()
        .map(|(p, m)| (p.to_string(), m.to_string()))
        .collect();
    assert_eq!(documented, served);

    // Each documented operation is served: without a token it gets 401,
    // never 404 or 405, and every 401 it can give is documented. Leak
    // reports are the one operation that needs no token (tested below).
    for (path, method) in &documented {
        if PUBLIC.contains(&(path.as_str(), method.as_str())) {
            continue;
        }
        let concrete = path.replace("{id}", UNKNOWN_ID);
        let method_upper = Method::from_bytes(method.to_uppercase().as_bytes())?;
        let reply = app.call(method_upper, &concrete).send().await?;
        reply
            .expect_error(StatusCode::UNAUTHORIZED, "unauthorized")
            .map_err(|e| e.context(format!("{method} {concrete}")))?;
        let op = &paths[path][method];
        let responses = op["responses"]
            .as_object()
            .ok_or_else(|| anyhow!("{method} {path} has no responses"))?;
        for status in ["401", "429"] {
            assert!(
                responses.contains_key(status),
                "{method} {path} does not document {status}"
            );
        }
        assert!(
            op.get("security").is_some() || doc.get("security").is_some(),
            "{method} {path} does not say it needs a token"
        );
    }
    // The document says the public operation needs no token, and does not
    // claim it can answer 401; it is served without one.
    for (path, method) in PUBLIC {
        let op = &paths[path][method];
        let requirements = op["security"]
            .as_array()
            .ok_or_else(|| anyhow!("{method} {path} says nothing about security: {op}"))?;
        assert!(
            requirements
                .iter()
                .all(|r| r.as_object().is_some_and(|o| o.is_empty())),
            "{method} {path} claims to need a token: {requirements:?}"
        );
        assert!(
            op["responses"].get("401").is_none(),
            "{method} {path} documents 401"
        );
        assert!(
            op["responses"].get("429").is_some(),
            "{method} {path} lacks 429"
        );
    }
    let reply = app
        .call(Method::POST, "credentials/revoke")
        .json(&json!({"secrets": []}))
        .send()
        .await?;
    reply.expect(StatusCode::ACCEPTED)?;
    // Forward authentication documents the headers it answers with.
    let verify_headers = &paths["/api/v2/auth/verify"]["get"]["responses"]["200"]["headers"];
    for header in [
        "X-Latchkey-Token-Id",
        "X-Latchkey-Role",
        "X-Latchkey-Member",
    ] {
        assert!(
            verify_headers.get(header).is_some(),
            "auth/verify does not document {header}: {verify_headers}"
        );
    }
    let successes = [
        ("/api/v2/credentials/revoke", "post", "202"),
        ("/api/v2/tokens", "post", "201"),
        ("/api/v2/tokens/{id}", "delete", "204"),
        ("/api/v2/tokens/{id}", "patch", "200"),
        ("/api/v2/tokens/{id}/reset", "post", "200"),
        ("/api/v2/tokens/{id}/clone", "post", "201"),
    ];
    for (path, method, status) in successes {
        assert!(
            paths[path][method]["responses"].get(status).is_some(),
            "{method} {path} does not document {status}"
        );
    }
    // The query parameters the server reads.
    let param_names = |path: &str, method: &str| -> BTreeSet<String> {
        paths[path][method]["parameters"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .filter(|p| p["in"] == "query")
                    .filter_map(|p| p["name"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(
        param_names("/api/v2/tokens", "get"),
        set(&[
            "showAll",
            "limit",
            "offset",
            "sort",
            "unusedDays",
            "expiringDays"
        ])
    );
    assert_eq!(
        param_names("/api/v2/tokens/{id}/reset", "post"),
        set(&["expiry"])
    );
    assert!(
        doc["components"]["securitySchemes"]
            .as_object()
            .is_some_and(|s| !s.is_empty()),
        "no security scheme"
    );
    for schema in ["TokenJson", "ErrorBody"] {
        assert!(
            doc["components"]["schemas"].get(schema).is_some(),
            "schema {schema} missing"
        );
    }
    Ok(())
}

#[tokio::test]
async fn openapi_documents_both_patch_content_types() -> TestResult {
    let (app, _) = spawn_api().await?;
    let doc = openapi(&app).await?;
    let content = &doc["paths"]["/api/v2/tokens/{id}"]["patch"]["requestBody"]["content"];
    for ct in ["application/json", "application/json-patch+json"] {
        assert!(
            content.get(ct).is_some(),
            "the server accepts PATCH bodies as {ct}, the document does not say so: {content}"
        );
    }
    Ok(())
}

/// Collects every `$ref` in a JSON document.
fn refs(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "$ref"
                    && let Some(r) = v.as_str()
                {
                    out.insert(r.to_string());
                }
                refs(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn openapi_references_all_resolve() -> TestResult {
    let (app, _) = spawn_api().await?;
    let doc = openapi(&app).await?;
    let mut found = BTreeSet::new();
    refs(&doc, &mut found);
    assert!(!found.is_empty(), "the document references no schemas");
    let dangling: Vec<&String> = found
        .iter()
        .filter(|r| {
            r.strip_prefix('#')
                .is_none_or(|pointer| doc.pointer(pointer).is_none())
        })
        .collect();
    assert!(
        dangling.is_empty(),
        "references that resolve to nothing: {dangling:?}"
    );
    Ok(())
}
