//! `/api/v2/members` and `/api/v2/auditlog`: Admin tokens only, the member
//! rules through the API (an API token acts as Admin at most, so Owners are
//! out of its reach), and the audit log's filters.

use latchkey::domain::MemberRole;
use latchkey::domain::token::{TokenKind, TokenRole};
use reqwest::StatusCode;
use serde_json::json;

use crate::api_helpers::{UNKNOWN_ID, sid, spawn_api};
use crate::helpers::TestResult;

fn role_patch(role: &str) -> serde_json::Value {
    json!([{ "op": "replace", "path": "/role", "value": role }])
}

#[tokio::test]
async fn only_admin_tokens_manage_members() -> TestResult {
    let (app, m) = spawn_api().await?;
    let (admin, _) = sid(&app
        .issue(&m.admin, "admin", TokenKind::Personal, TokenRole::Admin)
        .await?);
    let (writer, _) = sid(&app
        .issue(&m.admin, "writer", TokenKind::Personal, TokenRole::Writer)
        .await?);
    // A Writer token of an Admin acts as Writer: not enough.
    app.get("members", &writer)
        .await?
        .expect_error(StatusCode::FORBIDDEN, "forbidden")?;
    app.patch(
        &format!("members/{}", m.reader.id),
        &writer,
        &role_patch("writer"),
    )
    .await?
    .expect_error(StatusCode::FORBIDDEN, "forbidden")?;
    app.delete(&format!("members/{}", m.reader.id), &writer)
        .await?
        .expect_error(StatusCode::FORBIDDEN, "forbidden")?;
    app.get("auditlog", &writer)
        .await?
        .expect_error(StatusCode::FORBIDDEN, "forbidden")?;

    let list = app.get("members", &admin).await?.expect(StatusCode::OK)?;
    assert_eq!(list["totalCount"], 5);
    let reader = list["items"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["_id"] == m.reader.id.as_str()))
        .cloned()
        .expect("the reader is listed");
    assert_eq!(reader["role"], "reader");
    assert_eq!(reader["email"], m.reader.email.as_str());
    assert_eq!(reader["personalTokenCount"], 0);
    assert!(reader["lastSignIn"].is_null());
    Ok(())
}

#[tokio::test]
async fn patch_changes_a_role_and_the_members_tokens_follow() -> TestResult {
    let (app, m) = spawn_api().await?;
    let (admin, _) = sid(&app
        .issue(&m.admin, "admin", TokenKind::Personal, TokenRole::Admin)
        .await?);
    let (theirs, _) = sid(&app
        .issue(&m.writer, "theirs", TokenKind::Personal, TokenRole::Writer)
        .await?);
    assert_eq!(app.identity(&theirs).await?["role"], "writer");

    let path = format!("members/{}", m.writer.id);
    let changed = app
        .patch(&path, &admin, &role_patch("reader"))
        .await?
        .expect(StatusCode::OK)?;
    assert_eq!(changed["role"], "reader");
    assert_eq!(changed["personalTokenCount"], 1);
    assert_eq!(app.identity(&theirs).await?["role"], "reader");
    app.patch(&path, &admin, &role_patch("no_access"))
        .await?
        .expect(StatusCode::OK)?;
    app.get("caller-identity", &theirs)
        .await?
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized")?;

    // Bad patches: another field, an unknown role, not a patch at all.
    app.patch(
        &path,
        &admin,
        &json!([{ "op": "replace", "path": "/email", "value": "x@y.z" }]),
    )
    .await?
    .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable_entity")?;
    app.patch(&path, &admin, &role_patch("superuser"))
        .await?
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable_entity")?;
    app.patch(&path, &admin, &json!({ "role": "reader" }))
        .await?
        .expect_error(StatusCode::BAD_REQUEST, "invalid_request")?;
    app.patch(
        &format!("members/{UNKNOWN_ID}"),
        &admin,
        &role_patch("reader"),
    )
    .await?
    .expect_error(StatusCode::NOT_FOUND, "not_found")?;
    app.patch("members/not-an-id", &admin, &role_patch("reader"))
        .await?
        .expect_error(StatusCode::NOT_FOUND, "not_found")?;
    Ok(())
}

#[tokio::test]
async fn api_tokens_cannot_touch_owners() -> TestResult {
    let (app, m) = spawn_api().await?;
    // Even the Owner's own Admin token acts as Admin.
    let (owners, _) = sid(&app
        .issue(&m.owner, "owner's", TokenKind::Personal, TokenRole::Admin)
        .await?);
    let owner_path = format!("members/{}", m.owner.id);
    app.patch(&owner_path, &owners, &role_patch("admin"))
        .await?
        .expect_error(StatusCode::FORBIDDEN, "forbidden")?;
    app.delete(&owner_path, &owners)
        .await?
        .expect_error(StatusCode::FORBIDDEN, "forbidden")?;
    app.patch(
        &format!("members/{}", m.writer.id),
        &owners,
        &role_patch("owner"),
    )
    .await?
    .expect_error(StatusCode::FORBIDDEN, "forbidden")?;
    assert_eq!(
        app.store().find_member(&m.owner.id).await?.map(|x| x.role),
        Some(MemberRole::Owner)
    );
    Ok(())
}

#[tokio::test]
async fn the_last_owner_is_kept_whoever_asks() -> TestResult {
    let (app, m) = spawn_api().await?;
    let store = app.store();
    let err = store
        .set_member_role(&m.owner.id, MemberRole::Admin, None)
        .await
        .expect_err("the only Owner stays");
    assert!(err.to_string().contains("only Owner"), "{err}");
    assert!(store.remove_member(&m.owner.id, None).await.is_err());
    // Two Owners: one may go, then the other is the last again.
    store
        .set_member_role(&m.admin.id, MemberRole::Owner, None)
        .await?;
    store
        .set_member_role(&m.owner.id, MemberRole::Admin, None)
        .await?;
    assert!(store.remove_member(&m.admin.id, None).await.is_err());
    Ok(())
}

#[tokio::test]
async fn delete_removes_a_member_and_their_tokens_answer_401() -> TestResult {
    let (app, m) = spawn_api().await?;
    let (admin, _) = sid(&app
        .issue(&m.admin, "admin", TokenKind::Personal, TokenRole::Admin)
        .await?);
    let (theirs, _) = sid(&app
        .issue(&m.writer, "theirs", TokenKind::Personal, TokenRole::Writer)
        .await?);
    // A service token the writer's removal must leave alone.
    let (service, _) = sid(&app
        .issue(&m.admin, "org's", TokenKind::Service, TokenRole::Reader)
        .await?);
    let path = format!("members/{}", m.writer.id);
    app.delete(&path, &admin)
        .await?
        .expect(StatusCode::NO_CONTENT)?;
    app.get("caller-identity", &theirs)
        .await?
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized")?;
    app.identity(&service).await?;
    app.delete(&path, &admin)
        .await?
        .expect_error(StatusCode::NOT_FOUND, "not_found")?;
    let list = app.get("members", &admin).await?.expect(StatusCode::OK)?;
    assert_eq!(list["totalCount"], 4);

    // The audit log, narrowed by action and by who acted, tells it.
    let log = app
        .get(
            &format!("auditlog?action=member_removed&memberId={}", m.admin.id),
            &admin,
        )
        .await?
        .expect(StatusCode::OK)?;
    assert_eq!(log["totalCount"], 1, "{log}");
    let entry = &log["items"][0];
    assert_eq!(entry["action"], "member_removed");
    assert_eq!(entry["actor"]["memberId"], m.admin.id.as_str());
    assert!(
        entry["actor"]["tokenId"].is_string(),
        "through which token: {entry}"
    );
    assert!(
        entry["detail"]
            .as_str()
            .unwrap_or_default()
            .contains(&m.writer.email)
    );
    assert!(entry["clientIp"].is_string());
    // Their token's deletion is there too, filtered by token.
    let by_action = app
        .get("auditlog?action=token_deleted", &admin)
        .await?
        .expect(StatusCode::OK)?;
    assert_eq!(by_action["totalCount"], 1);
    let token_id = by_action["items"][0]["token"]["_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let by_token = app
        .get(&format!("auditlog?tokenId={token_id}"), &admin)
        .await?
        .expect(StatusCode::OK)?;
    let actions: Vec<&str> = by_token["items"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["action"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(actions, ["token_deleted", "token_created"]);
    Ok(())
}

#[tokio::test]
async fn auditlog_pages_and_refuses_bad_parameters() -> TestResult {
    let (app, m) = spawn_api().await?;
    let (admin, _) = sid(&app
        .issue(&m.admin, "admin", TokenKind::Personal, TokenRole::Admin)
        .await?);
    for i in 0..5 {
        app.issue(
            &m.admin,
            &format!("t{i}"),
            TokenKind::Personal,
            TokenRole::Reader,
        )
        .await?;
    }
    let page = app
        .get("auditlog?action=token_created&limit=2&offset=2", &admin)
        .await?
        .expect(StatusCode::OK)?;
    assert_eq!(page["totalCount"], 6);
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2));
    assert!(
        page["_links"]["next"]["href"]
            .as_str()
            .unwrap_or_default()
            .contains("offset=4")
    );
    assert!(
        page["_links"]["prev"]["href"]
            .as_str()
            .unwrap_or_default()
            .contains("offset=0")
    );
    // Newest first.
    let dates: Vec<i64> = page["items"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["date"].as_i64()).collect())
        .unwrap_or_default();
    assert!(dates.windows(2).all(|w| w[0] >= w[1]), "{dates:?}");
    for bad in [
        "action=nope",
        "tokenId=xyz",
        "memberId=1",
        "limit=0",
        "limit=1001",
        "offset=-1",
    ] {
        app.get(&format!("auditlog?{bad}"), &admin)
            .await?
            .expect_error(StatusCode::BAD_REQUEST, "invalid_request")?;
    }
    Ok(())
}
