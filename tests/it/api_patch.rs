//! `PATCH /api/v2/tokens/{id}`: JSON Patch on every editable field, the
//! fields that cannot be patched, malformed patches (400), patches that break
//! a rule (422), content types, and edit conflicts (409).

use std::time::Duration;

use latchkey::action::ActionError;
use latchkey::domain::token::{TokenKind, TokenRole};
use latchkey::tokens::EditRequest;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::api_helpers::{ApiApp, UNKNOWN_ID, caller, spawn_api};
use crate::helpers::TestResult;

/// An admin token and a target token to patch.
struct Fixture {
    app: ApiApp,
    admin: String,
    path: String,
    target_secret: String,
}

async fn fixture(
    kind: TokenKind,
    role: TokenRole,
) -> anyhow::Result<(Fixture, crate::api_helpers::Members)> {
    let (app, m) = spawn_api().await?;
    let admin = app
        .issue(&m.owner, "admin", TokenKind::Personal, TokenRole::Admin)
        .await?;
    let target = app.issue(&m.other, "Target", kind, role).await?;
    Ok((
        Fixture {
            path: format!("tokens/{}", target.token.id),
            admin: admin.secret,
            target_secret: target.secret,
            app,
        },
        m,
    ))
}

impl Fixture {
    async fn patch(&self, ops: Value) -> anyhow::Result<crate::api_helpers::Reply> {
        self.app.patch(&self.path, &self.admin, &ops).await
    }

    async fn current(&self) -> anyhow::Result<Value> {
        self.app
            .get(&self.path, &self.admin)
            .await?
            .expect(StatusCode::OK)
    }

    /// The patch is refused with `status`/`code` and the token is unchanged.
    async fn refused(&self, ops: Value, status: StatusCode, code: &str) -> anyhow::Result<()> {
        let before = self.current().await?;
        self.patch(ops.clone())
            .await?
            .expect_error(status, code)
            .map_err(|e| e.context(format!("patch {ops}")))?;
        let after = self.current().await?;
        assert_eq!(before, after, "a refused patch changed the token: {ops}");
        Ok(())
    }
}

fn replace(path: &str, value: Value) -> Value {
    json!([{"op": "replace", "path": path, "value": value}])
}

#[tokio::test]
async fn patch_accepts_both_json_content_types() -> TestResult {
    let (f, _) = fixture(TokenKind::Personal, TokenRole::Reader).await?;
    for (i, ct) in [
        "application/json",
        "application/json-patch+json",
        "application/json; charset=utf-8",
        "Application/JSON-Patch+JSON",
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("Named {i}");
        let body = f
            .app
            .call(Method::PATCH, &f.path)
            .auth(&f.admin)
            .body(ct, replace("/name", json!(name)).to_string())
            .send()
            .await?
            .expect(StatusCode::OK)
            .map_err(|e| e.context(ct))?;
        assert_eq!(body["name"], name.as_str(), "{ct}");
    }
    for ct in [
        "text/plain",
        "application/merge-patch+json",
        "application/x-www-form-urlencoded",
    ] {
        f.app
            .call(Method::PATCH, &f.path)
            .auth(&f.admin)
            .body(ct, replace("/name", json!("nope")).to_string())
            .send()
            .await?
            .expect_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            .map_err(|e| e.context(ct))?;
    }
    f.app
        .call(Method::PATCH, &f.path)
        .auth(&f.admin)
        .untyped_body(replace("/name", json!("nope")).to_string())
        .send()
        .await?
        .expect_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")?;
    assert_eq!(f.current().await?["name"], "Named 3");
    Ok(())
}

#[tokio::test]
async fn patch_name_and_description() -> TestResult {
    let (f, _) = fixture(TokenKind::Personal, TokenRole::Reader).await?;
    let before = f.current().await?;
    f.app.advance(Duration::from_millis(5));
    let body = f
        .patch(json!([
            {"op": "replace", "path": "/name", "value": "  Renamed  "},
            {"op": "replace", "path": "/description", "value": "What it is for"},
        ]))
        .await?
        .expect(StatusCode::OK)?;
    assert_eq!(body["name"], "Renamed", "names are trimmed");
    assert_eq!(body["description"], "What it is for");
    assert_eq!(body["token"].as_str().map(str::len), Some(4), "{body}");
    assert!(
        body["lastModified"].as_i64() > before["lastModified"].as_i64(),
        "lastModified did not move: {body}"
    );
    assert_eq!(body["creationDate"], before["creationDate"]);
    assert_eq!(f.current().await?, body, "GET shows what PATCH returned");
    // caller-identity follows the new name.
    assert_eq!(
        f.app.identity(&f.target_secret).await?["tokenName"],
        "Renamed"
    );

    // `add` on an existing member replaces it too (RFC 6902 §4.1).
    let body = f
        .patch(json!([{"op": "add", "path": "/description", "value": ""}]))
        .await?
        .expect(StatusCode::OK)?;
    assert_eq!(body["description"], "");

    // An empty patch changes nothing.
    let same = f.patch(json!([])).await?.expect(StatusCode::OK)?;
    assert_eq!(same, f.current().await?);
    assert_eq!(same["lastModified"], body["lastModified"]);
    Ok(())
}

#[tokio::test]
async fn patch_role_of_a_personal_token() -> TestResult {
    let (f, _) = fixture(TokenKind::Personal, TokenRole::Reader).await?;
    assert_eq!(f.app.identity(&f.target_secret).await?["role"], "reader");
    let body = f
        .patch(replace("/role", json!("writer")))
        .await?
        .expect(StatusCode::OK)?;
    assert_eq!(body["role"], "writer");
    // The token acts with its new role on the very next request.
    assert_eq!(f.app.identity(&f.target_secret).await?["role"], "writer");
    let body = f
        .patch(replace("/role", json!("admin")))
        .await?
        .expect(StatusCode::OK)?;
    assert_eq!(body["role"], "admin");
    assert_eq!(f.app.identity(&f.target_secret).await?["role"], "admin");

    for bad in [
        json!("owner"),
        json!("no_access"),
        json!(""),
        json!(2),
        json!(null),
    ] {
        f.refused(
            replace("/role", bad),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable_entity",
        )
        .await?;
    }
    Ok(())
}

#[tokio::test]
async fn roles_in_a_patch_are_lowercase() -> TestResult {
    let (f, _) = fixture(TokenKind::Personal, TokenRole::Reader).await?;
    // PRODUCT.md §5: roles are lowercase in JSON, in requests too (create
    // refuses "Writer"; PATCH must not accept it either).
    for bad in ["Writer", "ADMIN", " writer "] {
        f.refused(
            replace("/role", json!(bad)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable_entity",
        )
        .await?;
    }
    Ok(())
}

#[tokio::test]
async fn a_service_tokens_role_cannot_be_patched() -> TestResult {
    let (f, _) = fixture(TokenKind::Service, TokenRole::Writer).await?;
    for role in ["admin", "reader"] {
        f.refused(
            replace("/role", json!(role)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable_entity",
        )
        .await?;
    }
    assert_eq!(f.app.identity(&f.target_secret).await?["role"], "writer");
    // Restating the same role is no change, and the rest of the patch applies.
    let body = f
        .patch(json!([
            {"op": "replace", "path": "/role", "value": "writer"},
            {"op": "replace", "path": "/name", "value": "Still a writer"},
        ]))
        .await?
        .expect(StatusCode::OK)?;
    assert_eq!(body["role"], "writer");
    assert_eq!(body["name"], "Still a writer");
    Ok(())
}

#[tokio::test]
async fn patch_default_api_version() -> TestResult {
    let (f, _) = fixture(TokenKind::Personal, TokenRole::Reader).await?;
    for version in [20220603, 20210729, 20240415] {
        let body = f
            .patch(replace("/defaultApiVersion", json!(version)))
            .await?
            .expect(StatusCode::OK)?;
        assert_eq!(body["defaultApiVersion"], version);
    }
    for bad in [
        json!(12345),
        json!(0),
        json!(-20240415),
        json!("20220603"),
        json!(20220603.5),
        json!(null),
    ] {
        f.refused(
            replace("/defaultApiVersion", bad),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable_entity",
        )
        .await?;
    }
    Ok(())
}

#[tokio::test]
async fn patch_expires() -> TestResult {
    let (f, _) = fixture(TokenKind::Personal, TokenRole::Reader).await?;
    let later = f.app.now_ms() + 86_400_000;
    let body = f
        .patch(replace("/expires", json!(later)))
        .await?
        .expect(StatusCode::OK)?;
    assert_eq!(body["expires"], later);
    f.app.identity(&f.target_secret).await?;

    let body = f
        .patch(replace("/expires", Value::Null))
        .await?
        .expect(StatusCode::OK)?;
    assert!(body["expires"].is_null(), "{body}");

    for bad in [
        json!(f.app.now_ms() - 60_000),
        json!(0),
        json!("tomorrow"),
        json!(1.5e12),
        json!(true),
    ] {
        f.refused(
            replace("/expires", bad),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable_entity",
        )
        .await?;
    }

    // An expiry set by PATCH takes effect for authentication.
    let soon = f.app.now_ms() + 2_500;
    f.patch(replace("/expires", json!(soon)))
        .await?
        .expect(StatusCode::OK)?;
    f.app.identity(&f.target_secret).await?;
    f.app.advance(Duration::from_millis(2_501));
    f.app
        .get("caller-identity", &f.target_secret)
        .await?
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized")?;
    // The passed expiry may stay while another field changes.
    let body = f
        .patch(replace("/name", json!("Expired but renamed")))
        .await?
        .expect(StatusCode::OK)?;
    assert_eq!(body["expires"], soon);
    Ok(())
}

#[tokio::test]
async fn fields_outside_the_editable_five_are_422() -> TestResult {
    let (f, m) = fixture(TokenKind::Personal, TokenRole::Reader).await?;
    for (path, value) in [
        ("/_id", json!("0123456789abcdef01234567")),
        ("/token", json!("abcd")),
        ("/serviceToken", json!(true)),
        ("/memberId", json!(m.owner.id)),
        ("/_member", json!({"_id": m.owner.id})),
        ("/_member/role", json!("owner")),
        ("/creationDate", json!(0)),
        ("/lastModified", json!(0)),
        ("/lastUsed", json!(0)),
        ("/_links", json!({})),
        ("/secret", json!("x")),
        ("", json!({"name": "whole"})),
    ] {
        for op in ["replace", "add"] {
            f.refused(
                json!([{"op": op, "path": path, "value": value}]),
                StatusCode::UNPROCESSABLE_ENTITY,
                "unprocessable_entity",
            )
            .await?;
        }
    }
    for ops in [
        json!([{"op": "remove", "path": "/_id"}]),
        json!([{"op": "remove", "path": "/serviceToken"}]),
        json!([{"op": "move", "from": "/memberId", "path": "/name"}]),
        json!([{"op": "copy", "from": "/token", "path": "/description"}]),
        json!([{"op": "copy", "from": "/_id", "path": "/name"}]),
        // A patchable first step does not smuggle in a forbidden second.
        json!([
            {"op": "replace", "path": "/name", "value": "ok"},
            {"op": "replace", "path": "/memberId", "value": m.owner.id},
        ]),
    ] {
        f.refused(
            ops,
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable_entity",
        )
        .await?;
    }
    let body = f.current().await?;
    assert_eq!(body["memberId"], m.other.id);
    assert_eq!(body["serviceToken"], false);
    Ok(())
}

#[tokio::test]
async fn malformed_patches_are_400() -> TestResult {
    let (f, _) = fixture(TokenKind::Personal, TokenRole::Reader).await?;
    for ops in [
        json!({"op": "replace", "path": "/name", "value": "not in an array"}),
        json!(null),
        json!("replace"),
        json!(42),
        json!([{"op": "frobnicate", "path": "/name", "value": "x"}]),
        json!([{"op": "REPLACE", "path": "/name", "value": "x"}]),
        json!([{"path": "/name", "value": "x"}]),
        json!([{"op": "replace", "value": "x"}]),
        json!([{"op": "replace", "path": "/name"}]),
        json!([{"op": "replace", "path": "name", "value": "x"}]),
        json!([{"op": "replace", "path": "/name~2", "value": "x"}]),
        json!([{"op": "replace", "path": 7, "value": "x"}]),
        json!([{"op": "move", "path": "/name"}]),
        json!(["replace"]),
        json!([null]),
    ] {
        f.refused(ops, StatusCode::BAD_REQUEST, "invalid_request")
            .await?;
    }
    for raw in [
        "",
        "[",
        "[{\"op\": \"replace\", \"path\": \"/name\", \"value\": \"x\"}",
        "[{\"op\": \"replace\", \"path\": \"/name\", \"value\": \"\\ud800\"}]",
        "not json",
    ] {
        let reply = f
            .app
            .call(Method::PATCH, &f.path)
            .auth(&f.admin)
            .body("application/json-patch+json", raw)
            .send()
            .await?;
        reply
            .expect_error(StatusCode::BAD_REQUEST, "invalid_request")
            .map_err(|e| e.context(format!("raw body {raw:?}")))?;
    }
    let reply = f
        .app
        .call(Method::PATCH, &f.path)
        .auth(&f.admin)
        .body(
            "application/json",
            b"[{\"op\":\"replace\",\"path\":\"/name\",\"value\":\"\xff\xfe\"}]".to_vec(),
        )
        .send()
        .await?;
    reply.expect_error(StatusCode::BAD_REQUEST, "invalid_request")?;
    assert_eq!(f.current().await?["name"], "Target");
    Ok(())
}

#[tokio::test]
async fn a_failing_test_op_is_422_and_changes_nothing() -> TestResult {
    let (f, _) = fixture(TokenKind::Personal, TokenRole::Reader).await?;
    f.refused(
        json!([
            {"op": "test", "path": "/name", "value": "Not the name"},
            {"op": "replace", "path": "/name", "value": "Changed"},
        ]),
        StatusCode::UNPROCESSABLE_ENTITY,
        "unprocessable_entity",
    )
    .await?;
    // Even when the failing test comes after the change.
    f.refused(
        json!([
            {"op": "replace", "path": "/name", "value": "Changed"},
            {"op": "test", "path": "/role", "value": "admin"},
        ]),
        StatusCode::UNPROCESSABLE_ENTITY,
        "unprocessable_entity",
    )
    .await?;
    // A passing test lets the patch through.
    let body = f
        .patch(json!([
            {"op": "test", "path": "/name", "value": "Target"},
            {"op": "test", "path": "/role", "value": "reader"},
            {"op": "replace", "path": "/name", "value": "Changed"},
        ]))
        .await?
        .expect(StatusCode::OK)?;
    assert_eq!(body["name"], "Changed");
    Ok(())
}

#[tokio::test]
async fn patches_that_break_a_rule_are_422() -> TestResult {
    let (f, _) = fixture(TokenKind::Personal, TokenRole::Reader).await?;
    for ops in [
        replace("/name", json!("")),
        replace("/name", json!("   ")),
        replace("/name", json!("x".repeat(257))),
        replace("/name", json!("two\nlines")),
        replace("/name", json!(5)),
        replace("/name", Value::Null),
        replace("/description", json!("d".repeat(1001))),
        replace("/description", json!(["list"])),
        json!([{"op": "remove", "path": "/name"}]),
        json!([{"op": "remove", "path": "/role"}]),
        json!([{"op": "replace", "path": "/name/0", "value": "x"}]),
        json!([{"op": "remove", "path": "/nonexistent"}]),
        json!([{"op": "move", "from": "/name", "path": "/description"}]),
    ] {
        f.refused(
            ops,
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable_entity",
        )
        .await?;
    }
    // Limits are inclusive.
    let body = f
        .patch(json!([
            {"op": "replace", "path": "/name", "value": "n".repeat(256)},
            {"op": "replace", "path": "/description", "value": "d".repeat(1000)},
        ]))
        .await?
        .expect(StatusCode::OK)?;
    assert_eq!(body["name"].as_str().map(str::len), Some(256));
    Ok(())
}

#[tokio::test]
async fn patch_needs_an_admin_token_and_a_visible_token() -> TestResult {
    let (f, m) = fixture(TokenKind::Personal, TokenRole::Reader).await?;
    let writer = f
        .app
        .issue(&m.writer, "writer", TokenKind::Personal, TokenRole::Writer)
        .await?;
    let before = f.current().await?;
    f.app
        .patch(
            &f.path,
            &writer.secret,
            &replace("/name", json!("by writer")),
        )
        .await?
        .expect_error(StatusCode::FORBIDDEN, "forbidden")?;
    // Even on the writer's own token.
    f.app
        .patch(
            &format!("tokens/{}", writer.token.id),
            &writer.secret,
            &replace("/name", json!("mine")),
        )
        .await?
        .expect_error(StatusCode::FORBIDDEN, "forbidden")?;
    assert_eq!(f.current().await?, before);
    for bad in [UNKNOWN_ID, "nope"] {
        f.app
            .patch(
                &format!("tokens/{bad}"),
                &f.admin,
                &replace("/name", json!("x")),
            )
            .await?
            .expect_error(StatusCode::NOT_FOUND, "not_found")?;
    }
    Ok(())
}

#[tokio::test]
async fn an_edit_with_a_stale_version_is_a_conflict() -> TestResult {
    let (app, m) = spawn_api().await?;
    let issued = app
        .issue(&m.admin, "Versioned", TokenKind::Service, TokenRole::Reader)
        .await?;
    let read = latchkey::tokens::get(app.store(), caller(&m.admin), &issued.token.id)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let request = |name: &str| EditRequest {
        name: name.to_string(),
        description: read.description.clone(),
        role: read.role,
        api_version: read.api_version,
        expires_at: read.expires_at,
    };
    // Someone else edits first...
    latchkey::tokens::edit(
        app.store(),
        caller(&m.owner),
        &read.id,
        request("First"),
        Some(read.version),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    // ...so an edit based on the old version is refused.
    let stale = latchkey::tokens::edit(
        app.store(),
        caller(&m.admin),
        &read.id,
        request("Second"),
        Some(read.version),
    )
    .await;
    assert!(
        matches!(stale, Err(ActionError::Conflict(_))),
        "expected a conflict, got {:?}",
        stale.map(|t| t.name)
    );
    let now = app
        .store()
        .find_token(&read.id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("token gone"))?;
    assert_eq!(now.name, "First");
    // The HTTP mapping of that error.
    let api = latchkey::api::error::ApiError::from(ActionError::Conflict("changed".into()));
    assert_eq!(api.status, StatusCode::CONFLICT);
    assert_eq!(api.code, "conflict");
    Ok(())
}

#[tokio::test]
async fn concurrent_patches_get_200_or_409_never_a_lost_update() -> TestResult {
    let (f, _) = fixture(TokenKind::Personal, TokenRole::Reader).await?;
    for round in 0..3 {
        let mut racers = JoinSet::new();
        for i in 0..8 {
            let client = crate::helpers::bare_client();
            let url = f.app.url(&format!("/api/v2/{}", f.path));
            let secret = f.admin.clone();
            let name = format!("Round {round} writer {i}");
            racers.spawn(async move {
                let res = client
                    .patch(url)
                    .header("authorization", secret)
                    .header("content-type", "application/json-patch+json")
                    .body(replace("/name", json!(name)).to_string())
                    .send()
                    .await?;
                let status = res.status();
                let body: Value = res.json().await?;
                anyhow::Ok((name, status, body))
            });
        }
        let mut winners = Vec::new();
        while let Some(done) = racers.join_next().await {
            let (name, status, body) = done??;
            match status {
                StatusCode::OK => {
                    assert_eq!(body["name"], name.as_str(), "200 must show its own change");
                    winners.push(name);
                }
                StatusCode::CONFLICT => assert_eq!(body["code"], "conflict", "{body}"),
                other => panic!("concurrent PATCH answered {other}: {body}"),
            }
        }
        assert!(!winners.is_empty(), "round {round}: no PATCH succeeded");
        let stored = f.current().await?;
        let stored_name = stored["name"].as_str().unwrap_or_default().to_string();
        assert!(
            winners.contains(&stored_name),
            "round {round}: stored name {stored_name:?} is from no successful PATCH"
        );
        // Every successful PATCH is audited; none of the refused ones.
        let audited: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_events WHERE action = 'token_updated' AND token_name LIKE $1",
        )
        .bind(format!("Round {round} %"))
        .fetch_one(f.app.db.sql())
        .await?;
        assert_eq!(audited, winners.len() as i64, "round {round}");
    }
    Ok(())
}
