//! Rotation you can watch: after a reset with a grace period, the token
//! says until when its old secret works and when that secret was last used
//! since the reset, the grace period can be ended early (the old secret is
//! 401 from the next request, the new one untouched), and the token's
//! details show where it was used from, keeping only the latest few
//! sources. Through the API and the pages, with and without htmx.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use latchkey::domain::token::{TokenKind, TokenRole};
use latchkey::store::TokenUse;
use reqwest::{Client, StatusCode};

use crate::api_helpers::{ApiApp, UNKNOWN_ID, sid, spawn_api};
use crate::helpers::{HOME, READER_EMAIL, TestApp, TestResult, browser, location};
use crate::html;
use crate::token_support::{
    ADMIN_EMAIL, TOKENS_URL, WRITER_EMAIL, caller, count_audit, create, expect_row_changed,
    identity_status, page_csrf, post_form, post_htmx, spawn_team,
};

const HOUR: Duration = Duration::from_secs(3600);

/// A client whose requests come from 127.0.0.`last` with `user_agent`.
fn client_from(last: u8, user_agent: &str) -> Client {
    Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
        .user_agent(user_agent)
        .no_proxy()
        .build()
        .expect("building a client")
}

/// The token as the API shows it, by the admin token.
async fn shown(app: &ApiApp, admin: &str, id: &str) -> anyhow::Result<serde_json::Value> {
    app.get(&format!("tokens/{id}"), admin)
        .await?
        .expect(StatusCode::OK)
}

#[tokio::test]
async fn the_old_secret_is_watched_and_its_grace_period_ended_early() -> TestResult {
    let (app, m) = spawn_api().await?;
    let (admin, _) = sid(&app
        .issue(&m.admin, "admin", TokenKind::Personal, TokenRole::Admin)
        .await?);
    let (old, id) = sid(&app
        .issue(&m.admin, "deploys", TokenKind::Personal, TokenRole::Writer)
        .await?);
    let until = app.now_ms() + 3_600_000;
    let reset = app
        .post(&format!("tokens/{id}/reset?expiry={until}"), &admin)
        .await?
        .expect(StatusCode::OK)?;
    let new = reset["token"].as_str().unwrap_or_default().to_string();
    assert_eq!(reset["oldSecretValidUntil"], until, "{reset}");
    assert!(reset["oldSecretLastUsed"].is_null(), "{reset}");

    // The new secret's uses say nothing about the old one.
    app.identity(&new).await?;
    app.state.usage.flush(app.store()).await;
    let got = shown(&app, &admin, &id).await?;
    assert!(got["lastUsed"].is_i64(), "{got}");
    assert!(got["oldSecretLastUsed"].is_null(), "{got}");

    // The old secret's do, in the list too.
    app.advance(Duration::from_secs(60));
    let before = app.now_ms();
    app.identity(&old).await?;
    app.state.usage.flush(app.store()).await;
    let got = shown(&app, &admin, &id).await?;
    let old_used = got["oldSecretLastUsed"].as_i64().unwrap_or(0);
    assert!(old_used >= before, "{got}");
    assert_eq!(got["lastUsed"], old_used, "{got}");
    let list = app
        .get("tokens?limit=1000", &admin)
        .await?
        .expect(StatusCode::OK)?;
    let item = list["items"]
        .as_array()
        .and_then(|items| items.iter().find(|t| t["_id"] == id.as_str()))
        .cloned()
        .unwrap_or_default();
    assert_eq!(item["oldSecretLastUsed"], old_used, "{item}");
    assert_eq!(item["oldSecretValidUntil"], until, "{item}");

    // Who may not end it: a Writer token (cannot manage tokens), and no
    // one for a token that does not exist.
    let (writer, _) = sid(&app
        .issue(&m.writer, "w", TokenKind::Personal, TokenRole::Writer)
        .await?);
    let path = format!("tokens/{id}/end-grace");
    app.post(&path, &writer)
        .await?
        .expect_error(StatusCode::FORBIDDEN, "forbidden")?;
    app.post(&format!("tokens/{UNKNOWN_ID}/end-grace"), &admin)
        .await?
        .expect_error(StatusCode::NOT_FOUND, "not_found")?;
    assert_eq!(
        identity_status(&app.url(""), &app.client, &old).await?,
        StatusCode::OK
    );

    // Ended: the old secret is refused on the very next request, the new
    // one works, and it is audited once, with the last use.
    let ended = app.post(&path, &admin).await?.expect(StatusCode::OK)?;
    assert!(ended["oldSecretValidUntil"].is_null(), "{ended}");
    assert!(ended["oldSecretLastUsed"].is_null(), "{ended}");
    app.get("caller-identity", &old)
        .await?
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized")?;
    assert_eq!(app.identity(&new).await?["tokenId"], id.as_str());
    assert_eq!(count_audit(&app.db, "token_grace_ended").await?, 1);
    let detail: String = sqlx::query_scalar(
        "SELECT detail FROM audit_events WHERE action = 'token_grace_ended' AND token_id = $1",
    )
    .bind(&id)
    .fetch_one(app.db.sql())
    .await?;
    assert!(detail.contains("last used"), "{detail}");

    // Nothing left to end: 409, and nothing audited.
    app.post(&path, &admin)
        .await?
        .expect_error(StatusCode::CONFLICT, "conflict")?;
    assert_eq!(count_audit(&app.db, "token_grace_ended").await?, 1);

    // A reset without grace, or a grace period that ran out, has none.
    app.post(&format!("tokens/{id}/reset"), &admin)
        .await?
        .expect(StatusCode::OK)?;
    app.post(&path, &admin)
        .await?
        .expect_error(StatusCode::CONFLICT, "conflict")?;
    let until = app.now_ms() + 3_600_000;
    app.post(&format!("tokens/{id}/reset?expiry={until}"), &admin)
        .await?
        .expect(StatusCode::OK)?;
    assert_eq!(
        shown(&app, &admin, &id).await?["oldSecretValidUntil"],
        until
    );
    app.advance(2 * HOUR);
    assert!(shown(&app, &admin, &id).await?["oldSecretValidUntil"].is_null());
    app.post(&path, &admin)
        .await?
        .expect_error(StatusCode::CONFLICT, "conflict")?;
    Ok(())
}

#[tokio::test]
async fn a_reset_starts_the_old_secret_over_at_not_used() -> TestResult {
    let (app, m) = spawn_api().await?;
    let (admin, _) = sid(&app
        .issue(&m.admin, "admin", TokenKind::Personal, TokenRole::Admin)
        .await?);
    let (_, id) = sid(&app
        .issue(&m.admin, "ci", TokenKind::Personal, TokenRole::Writer)
        .await?);
    let until = app.now_ms() + 3_600_000;
    let reset_at = app.now_ms();
    latchkey::tokens::reset(
        app.store(),
        crate::api_helpers::caller(&m.admin),
        &id,
        Some(until),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;

    // A use with an old secret noted before the reset (a batch written
    // late) is not one of the secret the reset replaced.
    let late = TokenUse {
        old_secret_at: Some(reset_at - 5_000),
        ..TokenUse::at(&id, reset_at - 5_000)
    };
    app.store().record_token_use(&[late]).await?;
    assert!(shown(&app, &admin, &id).await?["oldSecretLastUsed"].is_null());

    let after = app.now_ms() + 1_000;
    let used = TokenUse {
        old_secret_at: Some(after),
        ..TokenUse::at(&id, after)
    };
    app.store().record_token_use(&[used]).await?;
    assert_eq!(shown(&app, &admin, &id).await?["oldSecretLastUsed"], after);

    // The next reset replaces another secret: not used since.
    app.advance(Duration::from_secs(5));
    latchkey::tokens::reset(
        app.store(),
        crate::api_helpers::caller(&m.admin),
        &id,
        Some(app.now_ms() + 3_600_000),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let got = shown(&app, &admin, &id).await?;
    assert!(got["oldSecretLastUsed"].is_null(), "{got}");
    assert!(got["oldSecretValidUntil"].is_i64(), "{got}");
    Ok(())
}

async fn stored_sources(app: &ApiApp, id: &str) -> anyhow::Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM token_uses WHERE token_id = $1")
            .bind(id)
            .fetch_one(app.db.sql())
            .await?,
    )
}

#[tokio::test]
async fn recent_uses_keep_only_the_latest_few_sources() -> TestResult {
    let (app, m) = spawn_api().await?;
    let (admin, _) = sid(&app
        .issue(&m.admin, "admin", TokenKind::Personal, TokenRole::Admin)
        .await?);
    let (secret, id) = sid(&app
        .issue(&m.writer, "fleet", TokenKind::Personal, TokenRole::Writer)
        .await?);
    let uses_path = format!("tokens/{id}/uses");
    let none = app.get(&uses_path, &admin).await?.expect(StatusCode::OK)?;
    assert_eq!(none, serde_json::json!({"items": []}));

    // Seven sources in two batches (so both the recorder and the database
    // have to drop the stalest), one of them twice, one with a long agent.
    let long_agent = format!("probe/{}", "x".repeat(400));
    let url = app.url("");
    for (batch, lasts) in [[10u8, 11, 12, 13].as_slice(), &[14, 15, 16, 10]]
        .into_iter()
        .enumerate()
    {
        for &last in lasts {
            app.advance(Duration::from_secs(1));
            let agent = if last == 16 {
                long_agent.clone()
            } else {
                format!("probe/{last}")
            };
            let status = identity_status(&url, &client_from(last, &agent), &secret).await?;
            assert_eq!(status, StatusCode::OK, "batch {batch} from .{last}");
        }
        app.state.usage.flush(app.store()).await;
    }
    let got = app.get(&uses_path, &admin).await?.expect(StatusCode::OK)?;
    let items = got["items"].as_array().cloned().unwrap_or_default();
    let ips: Vec<&str> = items
        .iter()
        .map(|u| u["clientIp"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        ips,
        [
            "127.0.0.10",
            "127.0.0.16",
            "127.0.0.15",
            "127.0.0.14",
            "127.0.0.13"
        ],
        "latest first: {got}"
    );
    assert_eq!(stored_sources(&app, &id).await?, 5, "never more are kept");
    let agent = items[1]["userAgent"].as_str().unwrap_or("");
    assert_eq!(agent.chars().count(), 200, "cut: {agent}");
    assert!(long_agent.starts_with(agent));
    assert_eq!(items[0]["userAgent"], "probe/10");
    for item in &items {
        assert!(item["lastUsed"].is_i64(), "{item}");
    }

    // Visible to whoever sees the token, and to no one else.
    let (other, _) = sid(&app
        .issue(&m.other, "other", TokenKind::Personal, TokenRole::Admin)
        .await?);
    let (reader, _) = sid(&app
        .issue(&m.reader, "r", TokenKind::Personal, TokenRole::Reader)
        .await?);
    app.get(&uses_path, &other).await?.expect(StatusCode::OK)?;
    app.get(&uses_path, &reader)
        .await?
        .expect_error(StatusCode::NOT_FOUND, "not_found")?;

    // Gone with the token; a batch noted before a delete is dropped.
    app.identity(&secret).await?;
    app.delete(&format!("tokens/{id}"), &admin)
        .await?
        .expect(StatusCode::NO_CONTENT)?;
    app.state.usage.flush(app.store()).await;
    assert_eq!(app.state.usage.pending(), 0, "not retried forever");
    assert_eq!(stored_sources(&app, &id).await?, 0);
    Ok(())
}

/// A personal token of `member`'s, straight into the store.
async fn personal(
    app: &TestApp,
    member: &latchkey::store::Member,
    name: &str,
    role: TokenRole,
) -> anyhow::Result<latchkey::tokens::Issued> {
    create(&app.store, member, name, TokenKind::Personal, role).await
}

/// Signed in as `email`, with the page's CSRF token.
async fn signed_in(app: &TestApp, email: &str) -> anyhow::Result<(Client, String)> {
    let client = browser();
    app.sign_in(&client, email).await?;
    let csrf = page_csrf(&app.get(&client, HOME).await?.text().await?)?;
    Ok((client, csrf))
}

fn row_of(body: &str, id: &str) -> html::Element {
    html::one_with(body, "tr", "id", &format!("row-{id}"))
}

#[tokio::test]
async fn the_row_shows_the_grace_period_and_ends_it_with_and_without_htmx() -> TestResult {
    let (app, team) = spawn_team().await?;
    let nightly = personal(&app, &team.writer, "nightly", TokenRole::Writer).await?;
    let steady = personal(&app, &team.writer, "steady", TokenRole::Writer).await?;
    let until = app.state.clock.now_ms() + 3_600_000;
    let mut news = Vec::new();
    for token in [&nightly, &steady] {
        let issued = latchkey::tokens::reset(
            &app.store,
            caller(&team.writer),
            &token.token.id,
            Some(until),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        news.push(issued.secret);
    }
    let (client, csrf) = signed_in(&app, WRITER_EMAIL).await?;
    let body = app.get(&client, HOME).await?.text().await?;
    let row = row_of(&body, &nightly.token.id);
    let text = row.text();
    assert!(text.contains("Old secret valid until"), "{}", row.inner);
    assert!(text.contains("not used since reset"), "{}", row.inner);
    assert!(text.contains("End grace period now"), "{}", row.inner);

    // Used: the row says so.
    let api = Client::new();
    assert_eq!(
        identity_status(&app.url(""), &api, &nightly.secret).await?,
        StatusCode::OK
    );
    app.state.usage.flush(&app.state.store).await;
    let body = app.get(&client, HOME).await?.text().await?;
    let text = row_of(&body, &nightly.token.id).text();
    assert!(text.contains("last used just now"), "{text}");

    // Without JavaScript: the confirmation page, then a form post.
    let page = format!("{TOKENS_URL}/{}/end-grace", nightly.token.id);
    let res = app.get(&client, &page).await?;
    assert_eq!(res.status(), StatusCode::OK);
    let confirm = res.text().await?;
    assert_eq!(html::h1_texts(&confirm), ["End grace period?"]);
    assert!(
        html::text_of(&confirm).contains("The old secret was last used just now"),
        "it warns that something still uses it"
    );
    let res = post_form(&app, &client, &page, &[("csrf_token", &csrf)]).await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res).as_deref(), Some(HOME));
    let body = app.get(&client, HOME).await?.text().await?;
    assert!(body.contains("Ended the grace period of nightly: its old secret no longer works"));
    let text = row_of(&body, &nightly.token.id).text();
    assert!(
        !text.contains("Old secret") && !text.contains("End grace period now"),
        "{text}"
    );
    assert_eq!(
        identity_status(&app.url(""), &api, &nightly.secret).await?,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        identity_status(&app.url(""), &api, &news[0]).await?,
        StatusCode::OK
    );
    // Again: nothing to end, said plainly.
    let res = app.get(&client, &page).await?;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(
        res.text()
            .await?
            .contains("has no old secret that still works")
    );

    // With htmx: the dialog content, then the row back out of band.
    let page = format!("{TOKENS_URL}/{}/end-grace", steady.token.id);
    let dialog = client
        .get(app.url(&page))
        .header("HX-Request", "true")
        .send()
        .await?
        .text()
        .await?;
    assert!(
        dialog.contains(r#"data-dialog-role="alertdialog""#),
        "{dialog}"
    );
    assert!(
        dialog.contains("No use of the old secret has been recorded since the reset"),
        "{dialog}"
    );
    let res = post_htmx(&app, &client, &page, &csrf, &[]).await?;
    let fragment =
        expect_row_changed(res, &steady.token.id, "Ended the grace period of steady").await?;
    assert!(!fragment.contains("grace-line"), "{fragment}");
    assert_eq!(
        identity_status(&app.url(""), &api, &steady.secret).await?,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(count_audit(&app.store, "token_grace_ended").await?, 2);

    // Someone who may not reset the token sees no such item, and is
    // refused: a Reader does not even see the Writer's token.
    let admins = personal(&app, &team.admin, "admin's", TokenRole::Reader).await?;
    latchkey::tokens::reset(
        &app.store,
        caller(&team.admin),
        &admins.token.id,
        Some(until),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let (reader, reader_csrf) = signed_in(&app, READER_EMAIL).await?;
    let path = format!("{TOKENS_URL}/{}/end-grace", admins.token.id);
    let res = post_form(&app, &reader, &path, &[("csrf_token", &reader_csrf)]).await?;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let (admin, admin_csrf) = signed_in(&app, ADMIN_EMAIL).await?;
    let body = app.get(&admin, HOME).await?.text().await?;
    assert!(
        row_of(&body, &admins.token.id)
            .text()
            .contains("End grace period now")
    );
    let res = post_form(&app, &admin, &path, &[("csrf_token", &admin_csrf)]).await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    Ok(())
}

#[tokio::test]
async fn the_details_page_shows_the_token_and_where_it_was_used_from() -> TestResult {
    let (app, team) = spawn_team().await?;
    let issued = personal(&app, &team.writer, "deploy job", TokenRole::Writer).await?;
    let quiet = personal(&app, &team.writer, "quiet", TokenRole::Reader).await?;
    let url = app.url("");
    assert_eq!(
        identity_status(&url, &client_from(21, "deploy-job/1.0"), &issued.secret).await?,
        StatusCode::OK
    );
    assert_eq!(
        identity_status(
            &url,
            &client_from(22, "<script>alert(1)</script>"),
            &issued.secret
        )
        .await?,
        StatusCode::OK
    );
    // An agent with a byte that is not UTF-8 is kept, the byte replaced.
    let latin1 = Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 23)))
        .no_proxy()
        .build()?;
    let status = latin1
        .get(format!("{url}/api/v2/caller-identity"))
        .header("Authorization", &issued.secret)
        .header(
            "User-Agent",
            reqwest::header::HeaderValue::from_bytes(b"caf\xe9-client/1")?,
        )
        .send()
        .await?
        .status();
    assert_eq!(status, StatusCode::OK);
    app.state.usage.flush(&app.state.store).await;

    let (client, _) = signed_in(&app, WRITER_EMAIL).await?;
    let details = format!("{TOKENS_URL}/{}", issued.token.id);
    // The list links the name there.
    let body = app.get(&client, HOME).await?.text().await?;
    let link = row_of(&body, &issued.token.id)
        .find("a")
        .into_iter()
        .find(|a| a.attr("class") == Some("token-title"))
        .ok_or_else(|| anyhow::anyhow!("no name link"))?;
    assert_eq!(link.attr("href"), Some(details.as_str()));

    let res = app.get(&client, &details).await?;
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await?;
    assert_eq!(html::h1_texts(&body), ["deploy job"]);
    let table = html::elements_with(&body, "table", "class", "data-table uses-table");
    let text = table.first().map(html::Element::text).unwrap_or_default();
    assert!(
        text.contains("127.0.0.21") && text.contains("deploy-job/1.0"),
        "{text}"
    );
    assert!(
        text.contains("127.0.0.22") && text.contains("<script>"),
        "{text}"
    );
    assert!(text.contains("caf\u{fffd}-client/1"), "{text}");
    assert!(!body.contains("<script>alert"), "escaped");
    assert!(body.contains("Edit token") && body.contains("Suspend token"));

    let body = app
        .get(&client, &format!("{TOKENS_URL}/{}", quiet.token.id))
        .await?
        .text()
        .await?;
    assert!(body.contains("No uses recorded yet."), "{body}");

    // Unknown, malformed and invisible tokens are all the same 404.
    let admins = personal(&app, &team.admin, "admin's", TokenRole::Reader).await?;
    for id in [UNKNOWN_ID, "nope", admins.token.id.as_str()] {
        let res = app.get(&client, &format!("{TOKENS_URL}/{id}")).await?;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{id}");
    }
    Ok(())
}
