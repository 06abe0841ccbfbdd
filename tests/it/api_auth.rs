//! `/api/v2` authentication: who is calling, the one 401 for every bad
//! secret, revocation on the very next request, effective roles that follow
//! the member, the failed-authentication limit, and "last used".

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use latchkey::domain::MemberRole;
use latchkey::domain::secret::NewSecret;
use latchkey::domain::token::{TokenKind, TokenRole};
use reqwest::header::{HeaderValue, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::api_helpers::{Reply, caller, create_request, keys, set, sid, spawn_api};
use crate::helpers::{TestResult, browser_from};

#[tokio::test]
async fn caller_identity_describes_the_calling_token() -> TestResult {
    let (app, m) = spawn_api().await?;
    let personal = app
        .issue(
            &m.admin,
            "CI writer",
            TokenKind::Personal,
            TokenRole::Writer,
        )
        .await?;
    let id = app.identity(&personal.secret).await?;
    assert_eq!(
        keys(&id),
        set(&["tokenId", "tokenName", "memberId", "serviceToken", "role"]),
        "{id}"
    );
    assert_eq!(id["tokenId"], personal.token.id);
    assert_eq!(id["tokenName"], "CI writer");
    assert_eq!(id["memberId"], m.admin.id);
    assert_eq!(id["serviceToken"], false);
    assert_eq!(id["role"], "writer");

    let service = app
        .issue(&m.owner, "Deployer", TokenKind::Service, TokenRole::Admin)
        .await?;
    let id = app.identity(&service.secret).await?;
    assert_eq!(id["tokenId"], service.token.id);
    assert_eq!(id["tokenName"], "Deployer");
    assert_eq!(id["memberId"], m.owner.id);
    assert_eq!(id["serviceToken"], true);
    assert_eq!(id["role"], "admin");

    // A personal token acts with the lower of its role and its member's.
    let reader_of_owner = app
        .issue(
            &m.owner,
            "Owner's reader",
            TokenKind::Personal,
            TokenRole::Reader,
        )
        .await?;
    assert_eq!(
        app.identity(&reader_of_owner.secret).await?["role"],
        "reader"
    );
    Ok(())
}

#[tokio::test]
async fn raw_and_bearer_secrets_are_both_accepted() -> TestResult {
    let (app, m) = spawn_api().await?;
    let issued = app
        .issue(&m.writer, "bearer", TokenKind::Personal, TokenRole::Reader)
        .await?;
    let s = &issued.secret;
    for value in [
        s.clone(),
        format!("Bearer {s}"),
        format!("bearer  {s} "),
        format!("BEARER {s}"),
    ] {
        let reply = app
            .call(Method::GET, "caller-identity")
            .raw_auth(&value)
            .send()
            .await?;
        let body = reply.expect(StatusCode::OK)?;
        assert_eq!(body["tokenId"], issued.token.id, "with {value:?}");
    }
    Ok(())
}

#[tokio::test]
async fn every_bad_secret_gets_the_same_401() -> TestResult {
    let (app, m) = spawn_api().await?;
    let admin = app
        .issue(&m.owner, "admin", TokenKind::Personal, TokenRole::Admin)
        .await?;

    // Secrets that stop working later in the test.
    let deleted = app
        .issue(&m.admin, "to delete", TokenKind::Service, TokenRole::Reader)
        .await?;
    let reset_now = app
        .issue(&m.admin, "reset now", TokenKind::Service, TokenRole::Reader)
        .await?;
    let grace_until = app.now_ms() + 3_000;
    let expiring = app
        .issue_with(
            &m.admin,
            latchkey::tokens::CreateRequest {
                expires_at: Some(grace_until),
                ..create_request("expiring", TokenKind::Service, TokenRole::Reader)
            },
        )
        .await?;
    let reset_later = app
        .issue(
            &m.admin,
            "reset later",
            TokenKind::Service,
            TokenRole::Reader,
        )
        .await?;
    let demoted = app
        .issue(&m.reader, "demoted", TokenKind::Personal, TokenRole::Reader)
        .await?;
    for secret in [
        &deleted.secret,
        &reset_now.secret,
        &expiring.secret,
        &reset_later.secret,
        &demoted.secret,
    ] {
        app.identity(secret).await?;
    }
    app.delete(&format!("tokens/{}", deleted.token.id), &admin.secret)
        .await?
        .expect(StatusCode::NO_CONTENT)?;
    app.post(
        &format!("tokens/{}/reset", reset_now.token.id),
        &admin.secret,
    )
    .await?
    .expect(StatusCode::OK)?;
    app.post(
        &format!("tokens/{}/reset?expiry={grace_until}", reset_later.token.id),
        &admin.secret,
    )
    .await?
    .expect(StatusCode::OK)?;
    // Within its grace period the replaced secret still works.
    app.identity(&reset_later.secret).await?;
    app.store()
        .set_member_role(&m.reader.id, MemberRole::NoAccess, None)
        .await?;
    app.advance(Duration::from_millis(3_001));

    let good = &admin.secret;
    let mut typo = good.clone().into_bytes();
    typo[12] = if typo[12] == b'a' { b'b' } else { b'a' };
    let typo = String::from_utf8(typo)?;
    let unknown = NewSecret::generate(TokenKind::Personal).into_exposed();
    let unknown_service = NewSecret::generate(TokenKind::Service).into_exposed();

    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing header", None),
        ("empty header", Some(String::new())),
        ("Bearer alone", Some("Bearer".into())),
        ("Bearer and nothing", Some("Bearer ".into())),
        ("not a secret", Some("hunter2".into())),
        ("Basic credentials", Some("Basic YWRtaW46YWRtaW4=".into())),
        ("truncated secret", Some(good[..good.len() - 1].to_string())),
        ("bad checksum", Some(typo)),
        ("wrong prefix", Some(good.replace("lk_pat_", "lk_xyz_"))),
        ("unknown secret", Some(unknown.clone())),
        (
            "unknown Bearer secret",
            Some(format!("Bearer {unknown_service}")),
        ),
        ("deleted token", Some(deleted.secret.clone())),
        ("reset immediately", Some(reset_now.secret.clone())),
        ("expired token", Some(expiring.secret.clone())),
        ("reset, grace over", Some(reset_later.secret.clone())),
        ("member has No access", Some(demoted.secret.clone())),
    ];
    let mut first: Option<Reply> = None;
    for (what, auth) in cases {
        let mut call = app.call(Method::GET, "caller-identity");
        if let Some(auth) = &auth {
            call = call.raw_auth(auth);
        }
        let reply = call.send().await?;
        reply
            .expect_error(StatusCode::UNAUTHORIZED, "unauthorized")
            .map_err(|e| e.context(what))?;
        let challenge = reply.header(WWW_AUTHENTICATE.as_str());
        assert!(
            challenge.is_some_and(|c| !c.is_empty()),
            "{what}: 401 without WWW-Authenticate"
        );
        match &first {
            None => first = Some(reply),
            Some(first) => {
                assert_eq!(reply.body, first.body, "{what}: the 401 body differs");
                assert_eq!(
                    challenge,
                    first.header(WWW_AUTHENTICATE.as_str()),
                    "{what}: WWW-Authenticate differs"
                );
            }
        }
    }

    // Not valid UTF-8 in the header at all.
    let reply = app
        .client
        .get(app.url("/api/v2/caller-identity"))
        .header(
            "authorization",
            HeaderValue::from_bytes(b"lk_pat_\xff\xfe")?,
        )
        .send()
        .await?;
    assert_eq!(reply.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.bytes().await?.to_vec(),
        first.expect("a first 401").body
    );

    // The same 401 on every endpoint, mutations included.
    for (method, path) in [
        (Method::GET, "tokens".to_string()),
        (Method::POST, "tokens".to_string()),
        (Method::GET, format!("tokens/{}", admin.token.id)),
        (Method::PATCH, format!("tokens/{}", admin.token.id)),
        (Method::DELETE, format!("tokens/{}", admin.token.id)),
        (Method::POST, format!("tokens/{}/reset", admin.token.id)),
        (Method::POST, format!("tokens/{}/clone", admin.token.id)),
    ] {
        let reply = app
            .call(method.clone(), &path)
            .raw_auth(&deleted.secret)
            .json(&json!([]))
            .send()
            .await?;
        reply
            .expect_error(StatusCode::UNAUTHORIZED, "unauthorized")
            .map_err(|e| e.context(format!("{method} {path}")))?;
        assert!(reply.header(WWW_AUTHENTICATE.as_str()).is_some());
    }
    // The admin token itself was never touched.
    app.identity(&admin.secret).await?;
    Ok(())
}

#[tokio::test]
async fn personal_token_role_follows_its_member() -> TestResult {
    let (app, m) = spawn_api().await?;
    let token = app
        .issue(
            &m.admin,
            "admin's admin",
            TokenKind::Personal,
            TokenRole::Admin,
        )
        .await?;
    let s = &token.secret;
    let target = app
        .issue(&m.owner, "target", TokenKind::Service, TokenRole::Reader)
        .await?;
    let target_path = format!("tokens/{}", target.token.id);
    assert_eq!(app.identity(s).await?["role"], "admin");
    app.post_json("tokens", s, &json!({"name": "made as admin"}))
        .await?
        .expect(StatusCode::CREATED)?;

    for (member_role, effective) in [
        (MemberRole::Writer, "writer"),
        (MemberRole::Reader, "reader"),
    ] {
        app.store()
            .set_member_role(&m.admin.id, member_role, None)
            .await?;
        assert_eq!(
            app.identity(s).await?["role"],
            effective,
            "member now {member_role:?}"
        );
        let before = app.count_tokens().await?;
        app.post_json("tokens", s, &json!({"name": "refused"}))
            .await?
            .expect_error(StatusCode::FORBIDDEN, "forbidden")?;
        app.delete(&target_path, s)
            .await?
            .expect_error(StatusCode::FORBIDDEN, "forbidden")?;
        app.patch(
            &target_path,
            s,
            &json!([{"op": "replace", "path": "/name", "value": "renamed"}]),
        )
        .await?
        .expect_error(StatusCode::FORBIDDEN, "forbidden")?;
        app.post(&format!("{target_path}/reset"), s)
            .await?
            .expect_error(StatusCode::FORBIDDEN, "forbidden")?;
        app.post(&format!("{target_path}/clone"), s)
            .await?
            .expect_error(StatusCode::FORBIDDEN, "forbidden")?;
        assert_eq!(app.count_tokens().await?, before, "nothing stored");
        // Reads still work.
        app.get("tokens", s).await?.expect(StatusCode::OK)?;
        app.get(&target_path, s).await?.expect(StatusCode::OK)?;
    }
    // The target survived every refused mutation.
    app.identity(&target.secret).await?;
    let shown = app.get(&target_path, s).await?.expect(StatusCode::OK)?;
    assert_eq!(shown["name"], "target");

    // No access: the personal token answers 401 on everything.
    app.store()
        .set_member_role(&m.admin.id, MemberRole::NoAccess, None)
        .await?;
    for path in ["caller-identity", "tokens", target_path.as_str()] {
        app.get(path, s)
            .await?
            .expect_error(StatusCode::UNAUTHORIZED, "unauthorized")?;
    }

    // Promoted again, the token acts with its own role again.
    app.store()
        .set_member_role(&m.admin.id, MemberRole::Owner, None)
        .await?;
    assert_eq!(app.identity(s).await?["role"], "admin");
    Ok(())
}

#[tokio::test]
async fn service_tokens_keep_their_role_whatever_their_creator_becomes() -> TestResult {
    let (app, m) = spawn_api().await?;
    let service = app
        .issue(
            &m.admin,
            "org deployer",
            TokenKind::Service,
            TokenRole::Admin,
        )
        .await?;
    app.store()
        .set_member_role(&m.admin.id, MemberRole::NoAccess, None)
        .await?;
    let id = app.identity(&service.secret).await?;
    assert_eq!(id["role"], "admin");
    assert_eq!(id["serviceToken"], true);
    // It still manages tokens, and shows its creator's role as it is now.
    let shown = app
        .get(&format!("tokens/{}", service.token.id), &service.secret)
        .await?
        .expect(StatusCode::OK)?;
    assert_eq!(
        shown["_member"],
        json!({"_id": m.admin.id, "email": m.admin.email, "role": "no_access"})
    );
    app.post_json(
        "tokens",
        &service.secret,
        &json!({"name": "by the org", "serviceToken": true}),
    )
    .await?
    .expect(StatusCode::CREATED)?;
    Ok(())
}

#[tokio::test]
async fn api_delete_revokes_on_the_very_next_request() -> TestResult {
    let (app, m) = spawn_api().await?;
    let admin = app
        .issue(&m.owner, "admin", TokenKind::Personal, TokenRole::Admin)
        .await?;
    let (victim, victim_id) = sid(&app
        .issue(&m.writer, "victim", TokenKind::Personal, TokenRole::Writer)
        .await?);
    app.identity(&victim).await?;
    app.delete(&format!("tokens/{victim_id}"), &admin.secret)
        .await?
        .expect(StatusCode::NO_CONTENT)?;
    app.get("caller-identity", &victim)
        .await?
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized")?;

    // A token that deletes itself is gone for its own next request.
    let (own, own_id) = sid(&app
        .issue(
            &m.admin,
            "self-destruct",
            TokenKind::Service,
            TokenRole::Admin,
        )
        .await?);
    app.delete(&format!("tokens/{own_id}"), &own)
        .await?
        .expect(StatusCode::NO_CONTENT)?;
    app.get("tokens", &own)
        .await?
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized")?;
    Ok(())
}

#[tokio::test]
async fn operation_delete_revokes_on_the_very_next_request() -> TestResult {
    let (app, m) = spawn_api().await?;
    let (secret, id) = sid(&app
        .issue(&m.writer, "doomed", TokenKind::Personal, TokenRole::Reader)
        .await?);
    app.identity(&secret).await?;
    latchkey::tokens::delete(app.store(), caller(&m.admin), &id)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    app.get("caller-identity", &secret)
        .await?
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized")?;
    Ok(())
}

#[tokio::test]
async fn immediate_reset_revokes_the_old_secret_on_the_next_request() -> TestResult {
    let (app, m) = spawn_api().await?;
    let admin = app
        .issue(&m.owner, "admin", TokenKind::Personal, TokenRole::Admin)
        .await?;
    for query in [
        "",
        "?expiry=0",
        "?expiry=-5",
        &format!("?expiry={}", app.now_ms() - 1),
    ] {
        let (old, id) = sid(&app
            .issue(&m.admin, "rotated", TokenKind::Service, TokenRole::Reader)
            .await?);
        app.identity(&old).await?;
        let reply = app
            .post(&format!("tokens/{id}/reset{query}"), &admin.secret)
            .await?;
        let body = reply.expect(StatusCode::OK)?;
        let new = body["token"].as_str().unwrap_or_default().to_string();
        app.get("caller-identity", &old)
            .await?
            .expect_error(StatusCode::UNAUTHORIZED, "unauthorized")
            .map_err(|e| e.context(format!("old secret after reset{query}")))?;
        assert_eq!(app.identity(&new).await?["tokenId"], id.as_str());
    }

    // The operation, too.
    let (old, id) = sid(&app
        .issue(&m.writer, "mine", TokenKind::Personal, TokenRole::Reader)
        .await?);
    app.identity(&old).await?;
    let issued = latchkey::tokens::reset(app.store(), caller(&m.writer), &id, None)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    app.get("caller-identity", &old)
        .await?
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized")?;
    app.identity(&issued.secret).await?;
    Ok(())
}

#[tokio::test]
async fn failed_authentications_are_rate_limited_but_valid_secrets_never_are() -> TestResult {
    let (app, m) = spawn_api().await?;
    let admin = app
        .issue(&m.owner, "admin", TokenKind::Personal, TokenRole::Admin)
        .await?;
    let attacker = browser_from(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));
    let bystander = browser_from(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)));
    let bad = latchkey::domain::secret::NewSecret::generate(TokenKind::Service).into_exposed();

    let mut first_429 = None;
    for attempt in 1..=45 {
        let reply = app
            .call(Method::GET, "caller-identity")
            .via(&attacker)
            .raw_auth(&bad)
            .send()
            .await?;
        match reply.status {
            StatusCode::UNAUTHORIZED => {
                assert!(
                    first_429.is_none(),
                    "attempt {attempt}: 401 after being throttled"
                );
            }
            StatusCode::TOO_MANY_REQUESTS => {
                first_429.get_or_insert(attempt);
                reply.expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited")?;
                let wait: u64 = reply
                    .header("retry-after")
                    .ok_or_else(|| anyhow::anyhow!("429 without Retry-After"))?
                    .parse()?;
                assert!((1..=60).contains(&wait), "Retry-After {wait}");
            }
            other => panic!("attempt {attempt}: unexpected {other}: {}", reply.text()),
        }
    }
    let first_429 = first_429.expect("45 failed authentications were never throttled");
    assert!(
        (21..=41).contains(&first_429),
        "throttled from attempt {first_429}; the limit is about 30 a minute"
    );

    // Every kind of failure is throttled now, a missing header too.
    app.call(Method::GET, "tokens")
        .via(&attacker)
        .send()
        .await?
        .expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited")?;

    // A valid secret from the same address is never throttled, for reads
    // and mutations alike.
    for _ in 0..5 {
        let reply = app
            .call(Method::GET, "caller-identity")
            .via(&attacker)
            .auth(&admin.secret)
            .send()
            .await?;
        reply.expect(StatusCode::OK)?;
    }
    app.call(Method::POST, "tokens")
        .via(&attacker)
        .auth(&admin.secret)
        .json(&json!({"name": "made while throttled"}))
        .send()
        .await?
        .expect(StatusCode::CREATED)?;
    // ...and it does not lift the limit for the bad secret.
    app.call(Method::GET, "caller-identity")
        .via(&attacker)
        .raw_auth(&bad)
        .send()
        .await?
        .expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited")?;

    // Another client is not affected.
    app.call(Method::GET, "caller-identity")
        .via(&bystander)
        .raw_auth(&bad)
        .send()
        .await?
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized")?;
    // The OpenAPI document needs no authentication and is not throttled.
    let reply = app
        .call(Method::GET, "openapi.json")
        .via(&attacker)
        .send()
        .await?;
    reply.expect(StatusCode::OK)?;
    Ok(())
}

#[tokio::test]
async fn last_used_is_written_when_uses_are_flushed() -> TestResult {
    let (app, m) = spawn_api().await?;
    let admin = app
        .issue(&m.owner, "admin", TokenKind::Personal, TokenRole::Admin)
        .await?;
    let created = app
        .post_json("tokens", &admin.secret, &json!({"name": "used later"}))
        .await?
        .expect(StatusCode::CREATED)?;
    assert!(created["lastUsed"].is_null(), "{created}");
    let secret = created["token"].as_str().unwrap_or_default().to_string();
    let id = created["_id"].as_str().unwrap_or_default().to_string();

    let before = app.now_ms();
    app.identity(&secret).await?;
    app.get("tokens", &secret).await?.expect(StatusCode::OK)?;
    let after = app.now_ms();
    app.state.usage.flush(app.store()).await;

    let shown = app
        .get(&format!("tokens/{id}"), &admin.secret)
        .await?
        .expect(StatusCode::OK)?;
    let last_used = shown["lastUsed"]
        .as_i64()
        .ok_or_else(|| anyhow::anyhow!("lastUsed not set after a flush: {shown}"))?;
    assert!(
        (before..=after).contains(&last_used),
        "lastUsed {last_used} not within [{before}, {after}]"
    );
    // It also shows in the list.
    let list = app
        .get("tokens?limit=1000", &admin.secret)
        .await?
        .expect(StatusCode::OK)?;
    let item = list["items"]
        .as_array()
        .and_then(|items| items.iter().find(|t| t["_id"] == id.as_str()))
        .ok_or_else(|| anyhow::anyhow!("token missing from the list: {list}"))?;
    assert_eq!(item["lastUsed"], last_used);

    Ok(())
}
