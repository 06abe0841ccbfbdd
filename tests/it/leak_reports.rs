//! `POST /api/v2/credentials/revoke`: leaked secrets reported without a
//! token. Every live one stops working on the very next request, each
//! revocation is audited with the reporter's address and never the secret,
//! and the answer is the same whatever was reported.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use anyhow::{Context, anyhow, ensure};
use latchkey::domain::MemberRole;
use latchkey::domain::secret::NewSecret;
use latchkey::domain::token::{TokenKind, TokenRole};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use crate::api_helpers::{ApiApp, Reply, caller, create_request, spawn_api, spawn_api_configured};
use crate::helpers::{OWNER_EMAIL, TestResult, bare_client, browser, browser_from, spawn_app};
use crate::token_support::{audit_for_token, create};

const REVOKE: &str = "credentials/revoke";

fn from(last: u8) -> Client {
    browser_from(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
}

async fn report(app: &ApiApp, client: &Client, secrets: &[&str]) -> anyhow::Result<Reply> {
    app.call(Method::POST, REVOKE)
        .via(client)
        .json(&json!({ "secrets": secrets }))
        .send()
        .await
}

/// Whether `secret` still opens a token, through caller-identity and
/// auth/verify (which must agree).
async fn works(app: &ApiApp, secret: &str) -> anyhow::Result<bool> {
    let identity = app.get("caller-identity", secret).await?;
    let verify = app.get("auth/verify", secret).await?;
    ensure!(
        identity.status == verify.status,
        "caller-identity {} and auth/verify {} disagree",
        identity.status,
        verify.status
    );
    match identity.status {
        StatusCode::OK => Ok(true),
        StatusCode::UNAUTHORIZED => Ok(false),
        other => Err(anyhow!(
            "caller-identity answered {other}: {}",
            identity.text()
        )),
    }
}

/// What of an answer a reporter could tell apart: status, body and every
/// header but the date.
fn observable(reply: &Reply) -> (StatusCode, Vec<u8>, Vec<(String, String)>) {
    let mut headers: Vec<(String, String)> = reply
        .headers
        .iter()
        .filter(|(name, _)| *name != "date")
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("?").to_string()))
        .collect();
    headers.sort();
    (reply.status, reply.body.clone(), headers)
}

#[tokio::test]
async fn every_report_gets_the_same_answer_and_live_secrets_stop_at_once() -> TestResult {
    let (app, m) = spawn_api_configured(|c| c.leak_reports_per_minute = 1000).await?;
    let client = from(5);
    let personal = app
        .issue(&m.writer, "leaky", TokenKind::Personal, TokenRole::Writer)
        .await?;
    let service = app
        .issue(&m.admin, "leaky svc", TokenKind::Service, TokenRole::Admin)
        .await?;
    let mixed = app
        .issue(
            &m.reader,
            "mixed in",
            TokenKind::Personal,
            TokenRole::Reader,
        )
        .await?;
    let bystander = app
        .issue(&m.admin, "bystander", TokenKind::Service, TokenRole::Reader)
        .await?;
    let deleted = app
        .issue(&m.admin, "gone", TokenKind::Service, TokenRole::Reader)
        .await?;
    latchkey::tokens::delete(app.store(), caller(&m.admin), &deleted.token.id)
        .await
        .map_err(|e| anyhow!("{e:?}"))?;
    let reset = app
        .issue(&m.admin, "reset", TokenKind::Service, TokenRole::Reader)
        .await?;
    let fresh = latchkey::tokens::reset(app.store(), caller(&m.admin), &reset.token.id, None)
        .await
        .map_err(|e| anyhow!("{e:?}"))?;
    let unknown = NewSecret::generate(TokenKind::Personal).into_exposed();
    for live in [
        &personal.secret,
        &service.secret,
        &mixed.secret,
        &bystander.secret,
    ] {
        ensure!(works(&app, live).await?, "a fresh token does not work");
    }

    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("a live personal secret", vec![&personal.secret]),
        ("a live service secret", vec![&service.secret]),
        ("a deleted token's secret", vec![&deleted.secret]),
        ("a secret replaced by a reset", vec![&reset.secret]),
        ("an unknown well-formed secret", vec![&unknown]),
        ("garbage", vec!["hunter2", "", "lk_pat_", "  "]),
        ("nothing", vec![]),
        ("one dead secret many times", vec![&deleted.secret; 50]),
        (
            "a live secret among dead ones and repeated",
            vec![&unknown, &mixed.secret, "x", &mixed.secret],
        ),
    ];
    let mut first: Option<(&str, Reply)> = None;
    for (what, secrets) in &cases {
        let reply = report(&app, &client, secrets).await?;
        let body = reply.expect(StatusCode::ACCEPTED).with_context(|| *what)?;
        ensure!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: {body}"
        );
        match &first {
            None => first = Some((what, reply)),
            Some((first_what, first)) => ensure!(
                observable(&reply) == observable(first),
                "{what} and {first_what} are told apart:\n{:?}\n{:?}",
                observable(&reply),
                observable(first)
            ),
        }
    }

    // Revoked on the very next request; nothing else touched.
    for (what, secret) in [
        ("personal", &personal.secret),
        ("service", &service.secret),
        ("mixed in", &mixed.secret),
    ] {
        ensure!(
            !works(&app, secret).await?,
            "the reported {what} secret still works"
        );
    }
    ensure!(
        works(&app, &bystander.secret).await?,
        "an unreported token was revoked"
    );
    ensure!(
        works(&app, &fresh.secret).await?,
        "reporting a replaced secret revoked the new one"
    );
    for id in [&personal.token.id, &service.token.id, &mixed.token.id] {
        ensure!(
            app.store().find_token(id).await?.is_none(),
            "token {id} was not deleted"
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_revocation_is_audited_with_the_reporters_address_and_never_the_secret() -> TestResult {
    let (app, m) = spawn_api().await?;
    let issued = app
        .issue(
            &m.writer,
            "pushed to git",
            TokenKind::Personal,
            TokenRole::Writer,
        )
        .await?;
    let admin = app
        .issue(&m.owner, "auditor", TokenKind::Personal, TokenRole::Admin)
        .await?;
    // No Authorization header at all.
    report(&app, &from(9), &[&issued.secret])
        .await?
        .expect(StatusCode::ACCEPTED)?;

    let rows = audit_for_token(&app.db, &issued.token.id).await?;
    let revoked: Vec<_> = rows
        .iter()
        .filter(|r| r.action == "token_revoked_leaked")
        .collect();
    assert_eq!(revoked.len(), 1, "{rows:?}");
    let event = revoked[0];
    assert_eq!(
        event.client_ip.as_deref(),
        Some("127.0.0.9"),
        "the reporter's address"
    );
    assert_eq!(event.token_name.as_deref(), Some("pushed to git"));
    assert_eq!(event.actor_member_id, None, "nobody signed in reported it");
    assert_eq!(event.actor_email.as_deref(), Some("Leaked-secret report"));

    // The API's audit log tells the owner what happened, and which secret.
    let log = app
        .get("auditlog?action=token_revoked_leaked", &admin.secret)
        .await?
        .expect(StatusCode::OK)?;
    let items = log["items"].as_array().context("items")?;
    assert_eq!(items.len(), 1, "{log}");
    assert_eq!(items[0]["token"]["_id"], issued.token.id.as_str());
    assert_eq!(items[0]["clientIp"], "127.0.0.9");
    let detail = items[0]["detail"].as_str().unwrap_or_default();
    let last_four = &issued.secret[issued.secret.len() - 4..];
    assert!(
        detail.contains("current secret")
            && detail.contains(last_four)
            && detail.contains(&m.writer.email),
        "detail {detail:?}"
    );

    // The secret itself is nowhere in the database (its digest was, as for
    // every token, and a deleted row can linger in SQLite's free pages).
    for (name, bytes) in app.db.stored_bytes().await? {
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(&issued.secret),
            "the secret is stored in {name}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn the_audit_log_page_names_the_revocation() -> TestResult {
    let app = spawn_app().await?;
    let owner = crate::token_support::member(&app.store, OWNER_EMAIL).await?;
    let issued = create(
        &app.store,
        &owner,
        "in a paste",
        TokenKind::Service,
        TokenRole::Reader,
    )
    .await?;
    let res = from(11)
        .post(app.url("/api/v2/credentials/revoke"))
        .json(&json!({ "secrets": [issued.secret] }))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::ACCEPTED);

    let client = browser();
    app.sign_in(&client, OWNER_EMAIL).await?;
    let body = app.get(&client, "/settings/audit").await?.text().await?;
    let rows = crate::audit::audit_rows(&body);
    let row = rows
        .iter()
        .find(|r| r[1] == "Token revoked (reported leaked)")
        .ok_or_else(|| anyhow!("no revocation in the audit log: {rows:?}"))?;
    assert_eq!(row[2], "Leaked-secret report");
    assert!(row[3].contains("in a paste"), "{row:?}");
    assert!(row[4].contains("service token was deleted"), "{row:?}");
    assert_eq!(row[5], "127.0.0.11");
    assert!(!body.contains(&issued.secret));
    // The action filter offers it.
    assert!(
        body.contains("value=\"token_revoked_leaked\""),
        "no filter option"
    );
    Ok(())
}

#[tokio::test]
async fn a_secret_that_could_work_again_is_revoked_one_that_cannot_is_left() -> TestResult {
    let (app, m) = spawn_api_configured(|c| c.leak_reports_per_minute = 1000).await?;
    let client = from(6);
    // Expired: an edit could extend the expiry and bring it back.
    let expired = app
        .issue_with(
            &m.admin,
            latchkey::tokens::CreateRequest {
                expires_at: Some(app.now_ms() + 1_000),
                ..create_request("expired", TokenKind::Service, TokenRole::Reader)
            },
        )
        .await?;
    // Its member has No access now, and could get a role back.
    let dormant = app
        .issue(&m.reader, "dormant", TokenKind::Personal, TokenRole::Reader)
        .await?;
    app.store()
        .set_member_role(&m.reader.id, MemberRole::NoAccess, None)
        .await?;
    // Reset with a grace period: the old secret still works until it ends.
    let graced = app
        .issue(&m.admin, "graced", TokenKind::Service, TokenRole::Reader)
        .await?;
    let grace_end = app.now_ms() + 3_600_000;
    latchkey::tokens::reset(
        app.store(),
        caller(&m.admin),
        &graced.token.id,
        Some(grace_end),
    )
    .await
    .map_err(|e| anyhow!("{e:?}"))?;
    // Reset with a short grace that will have passed: that secret is dead
    // for good, so reporting it must not take the token's new one down.
    let rotated = app
        .issue(&m.admin, "rotated", TokenKind::Service, TokenRole::Reader)
        .await?;
    let rotated_new = latchkey::tokens::reset(
        app.store(),
        caller(&m.admin),
        &rotated.token.id,
        Some(app.now_ms() + 1_000),
    )
    .await
    .map_err(|e| anyhow!("{e:?}"))?;
    app.advance(Duration::from_secs(2));

    report(
        &app,
        &client,
        &[
            &expired.secret,
            &dormant.secret,
            &graced.secret,
            &rotated.secret,
        ],
    )
    .await?
    .expect(StatusCode::ACCEPTED)?;
    for (what, id) in [
        ("expired", &expired.token.id),
        ("dormant", &dormant.token.id),
        ("graced", &graced.token.id),
    ] {
        ensure!(
            app.store().find_token(id).await?.is_none(),
            "the {what} token was kept"
        );
    }
    // The old secret in its grace period was reported: the whole token went.
    let rows = audit_for_token(&app.db, &graced.token.id).await?;
    let detail = sqlx::query_scalar::<_, Option<String>>(
        "SELECT detail FROM audit_events WHERE action = 'token_revoked_leaked' AND token_id = $1",
    )
    .bind(&graced.token.id)
    .fetch_one(app.db.sql())
    .await?
    .unwrap_or_default();
    assert!(
        detail.contains("grace period"),
        "detail {detail:?}, rows {rows:?}"
    );
    ensure!(
        works(&app, &rotated_new.secret).await?,
        "a dead secret's report revoked its token"
    );
    let rotated_events = audit_for_token(&app.db, &rotated.token.id).await?;
    assert!(
        rotated_events
            .iter()
            .all(|r| r.action != "token_revoked_leaked"),
        "{rotated_events:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_thousand_secrets_fit_and_more_are_refused() -> TestResult {
    let (app, m) = spawn_api_configured(|c| c.leak_reports_per_minute = 1000).await?;
    let client = from(7);
    let live = app
        .issue(
            &m.admin,
            "in the batch",
            TokenKind::Service,
            TokenRole::Reader,
        )
        .await?;
    let filler: Vec<String> = (0..1000)
        .map(|_| NewSecret::generate(TokenKind::Personal).into_exposed())
        .collect();

    let mut too_many: Vec<&str> = filler.iter().map(String::as_str).collect();
    too_many.push(&live.secret);
    let reply = report(&app, &client, &too_many).await?;
    reply.expect_error(StatusCode::BAD_REQUEST, "invalid_request")?;
    let message = reply.json()?["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.contains("1000") && message.contains("1001"),
        "{message}"
    );
    ensure!(
        works(&app, &live.secret).await?,
        "a refused report revoked something"
    );

    let mut batch: Vec<&str> = filler[..999].iter().map(String::as_str).collect();
    batch.push(&live.secret);
    let body = json!({ "secrets": batch }).to_string();
    assert!(
        body.len() < 64 * 1024,
        "1,000 secrets take {} bytes",
        body.len()
    );
    report(&app, &client, &batch)
        .await?
        .expect(StatusCode::ACCEPTED)?;
    ensure!(
        !works(&app, &live.secret).await?,
        "the batch's live secret still works"
    );
    Ok(())
}

#[tokio::test]
async fn malformed_reports_are_refused_without_revoking() -> TestResult {
    let (app, m) = spawn_api_configured(|c| c.leak_reports_per_minute = 1000).await?;
    let live = app
        .issue(&m.admin, "kept", TokenKind::Service, TokenRole::Reader)
        .await?;
    let s = live.secret.as_str();
    let bad: Vec<(&str, String)> = vec![
        ("not JSON", "secrets".to_string()),
        ("a bare array", json!([s]).to_string()),
        ("no secrets field", json!({}).to_string()),
        ("secrets not a list", json!({ "secrets": s }).to_string()),
        (
            "a number among the secrets",
            json!({ "secrets": [s, 1] }).to_string(),
        ),
        (
            "an unknown field",
            json!({ "secrets": [s], "source": "x" }).to_string(),
        ),
        ("null", "null".to_string()),
    ];
    for (what, body) in bad {
        app.call(Method::POST, REVOKE)
            .body("application/json", body)
            .send()
            .await?
            .expect_error(StatusCode::BAD_REQUEST, "invalid_request")
            .map_err(|e| e.context(what))?;
    }
    app.call(Method::POST, REVOKE)
        .body("text/plain", json!({ "secrets": [s] }).to_string())
        .send()
        .await?
        .expect_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")?;
    let huge = json!({ "secrets": [s, "x".repeat(70 * 1024)] }).to_string();
    app.call(Method::POST, REVOKE)
        .body("application/json", huge)
        .send()
        .await?
        .expect_error(StatusCode::PAYLOAD_TOO_LARGE, "request_too_large")?;
    // Only POST.
    let reply = app.call(Method::GET, REVOKE).send().await?;
    reply.expect_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")?;
    ensure!(works(&app, s).await?, "a refused report revoked the token");
    Ok(())
}

#[tokio::test]
async fn reports_are_rate_limited_per_client() -> TestResult {
    let (app, m) = spawn_api().await?;
    let limit = latchkey::config::DEFAULT_LEAK_REPORTS_PER_MINUTE;
    let reporter = from(8);
    let live = app
        .issue(&m.admin, "later", TokenKind::Service, TokenRole::Reader)
        .await?;
    // Every report counts, malformed ones too.
    for n in 1..=limit {
        let reply = if n % 3 == 0 {
            app.call(Method::POST, REVOKE)
                .via(&reporter)
                .body("application/json", "{")
                .send()
                .await?
        } else {
            report(&app, &reporter, &["hunter2"]).await?
        };
        ensure!(
            matches!(reply.status, StatusCode::ACCEPTED | StatusCode::BAD_REQUEST),
            "report {n}: {} {}",
            reply.status,
            reply.text()
        );
    }
    let reply = report(&app, &reporter, &[&live.secret]).await?;
    reply.expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited")?;
    let wait: u64 = reply
        .header("retry-after")
        .ok_or_else(|| anyhow!("429 without Retry-After"))?
        .parse()?;
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    let message = reply.json()?["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(message.contains("reports"), "{message}");
    ensure!(
        works(&app, &live.secret).await?,
        "a throttled report revoked the token"
    );
    // It does not touch the API's authentication throttle, nor other clients.
    app.call(Method::GET, "caller-identity")
        .via(&reporter)
        .auth(&live.secret)
        .send()
        .await?
        .expect(StatusCode::OK)?;
    report(&app, &from(10), &["hunter2"])
        .await?
        .expect(StatusCode::ACCEPTED)?;
    // The window passes by itself.
    app.advance(Duration::from_secs(61));
    report(&app, &reporter, &[&live.secret])
        .await?
        .expect(StatusCode::ACCEPTED)?;
    ensure!(
        !works(&app, &live.secret).await?,
        "reported after the window, still works"
    );
    Ok(())
}

#[tokio::test]
async fn a_report_ignores_any_authorization_it_carries() -> TestResult {
    let (app, m) = spawn_api().await?;
    let admin = app
        .issue(&m.owner, "admin", TokenKind::Personal, TokenRole::Admin)
        .await?;
    let victim = app
        .issue(&m.writer, "victim", TokenKind::Personal, TokenRole::Writer)
        .await?;
    // A token in the header is not needed and does not make the report
    // about it: only the body's secrets count.
    let reply = app
        .call(Method::POST, REVOKE)
        .via(&bare_client())
        .raw_auth(&admin.secret)
        .json(&json!({ "secrets": [victim.secret] }))
        .send()
        .await?;
    reply.expect(StatusCode::ACCEPTED)?;
    ensure!(
        works(&app, &admin.secret).await?,
        "the header's token was revoked"
    );
    ensure!(
        !works(&app, &victim.secret).await?,
        "the reported token still works"
    );
    // A bad token in the header is not an authentication failure either.
    let reply = app
        .call(Method::POST, REVOKE)
        .raw_auth("hunter2")
        .json(&json!({ "secrets": [] }))
        .send()
        .await?;
    let body: Value = reply.expect(StatusCode::ACCEPTED)?;
    assert!(body["message"].is_string(), "{body}");
    Ok(())
}
