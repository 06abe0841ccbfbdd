//! Suspending and resuming a token: 401 on the very next request while
//! suspended, the same secret working again after, through the API and the
//! pages (with and without htmx), audited, and only for those who may
//! delete the token.

use latchkey::domain::token::{TokenKind, TokenRole};
use reqwest::StatusCode;

use crate::api_helpers::{UNKNOWN_ID, sid, spawn_api};
use crate::helpers::{HOME, TestResult, browser, location};
use crate::html;
use crate::token_support::{
    ADMIN_EMAIL, TOKENS_URL, WRITER_EMAIL, count_audit, create, expect_row_changed,
    identity_status, page_csrf, post_form, post_htmx, spawn_team,
};

#[tokio::test]
async fn a_suspended_token_is_refused_at_once_and_works_again_on_resume() -> TestResult {
    let (app, m) = spawn_api().await?;
    let (admin, _) = sid(&app
        .issue(&m.admin, "admin", TokenKind::Personal, TokenRole::Admin)
        .await?);
    let (target, id) = sid(&app
        .issue(&m.writer, "deploys", TokenKind::Personal, TokenRole::Writer)
        .await?);
    app.identity(&target).await?;

    let path = format!("tokens/{id}/suspend");
    let suspended = app.post(&path, &admin).await?.expect(StatusCode::OK)?;
    assert!(suspended["suspended"].is_i64(), "{suspended}");
    app.get("caller-identity", &target)
        .await?
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized")?;
    // Twice is still suspended, and audited once.
    app.post(&path, &admin).await?.expect(StatusCode::OK)?;
    assert_eq!(count_audit(&app.db, "token_suspended").await?, 1);
    // The list shows it.
    let got = app
        .get(&format!("tokens/{id}"), &admin)
        .await?
        .expect(StatusCode::OK)?;
    assert_eq!(got["suspended"], suspended["suspended"]);

    let resumed = app
        .post(&format!("tokens/{id}/resume"), &admin)
        .await?
        .expect(StatusCode::OK)?;
    assert!(resumed["suspended"].is_null());
    assert_eq!(app.identity(&target).await?["tokenId"], id.as_str());
    assert_eq!(count_audit(&app.db, "token_resumed").await?, 1);

    // A Writer token reads but does not manage; unknown ids are 404.
    let (writer, _) = sid(&app
        .issue(&m.writer, "w", TokenKind::Personal, TokenRole::Writer)
        .await?);
    app.post(&path, &writer)
        .await?
        .expect_error(StatusCode::FORBIDDEN, "forbidden")?;
    app.post(&format!("tokens/{UNKNOWN_ID}/suspend"), &admin)
        .await?
        .expect_error(StatusCode::NOT_FOUND, "not_found")?;
    // A suspended token cannot suspend or resume itself, or do anything.
    app.post(&path, &admin).await?.expect(StatusCode::OK)?;
    let (other_admin, _) = sid(&app
        .issue(&m.other, "other", TokenKind::Personal, TokenRole::Admin)
        .await?);
    let own = app
        .issue(&m.other, "self", TokenKind::Personal, TokenRole::Admin)
        .await?;
    app.post(&format!("tokens/{}/suspend", own.token.id), &other_admin)
        .await?
        .expect(StatusCode::OK)?;
    app.post(&format!("tokens/{}/resume", own.token.id), &own.secret)
        .await?
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized")?;
    Ok(())
}

#[tokio::test]
async fn the_row_menu_suspends_and_resumes_with_and_without_htmx() -> TestResult {
    let (app, team) = spawn_team().await?;
    let issued = create(
        &app.store,
        &team.writer,
        "nightly",
        TokenKind::Personal,
        TokenRole::Writer,
    )
    .await?;
    let client = browser();
    app.sign_in(&client, WRITER_EMAIL).await?;
    let body = app.get(&client, HOME).await?.text().await?;
    let csrf = page_csrf(&body)?;
    let row = html::one_with(&body, "tr", "id", &format!("row-{}", issued.token.id));
    assert!(row.text().contains("Suspend token"), "{}", row.inner);

    // Without JavaScript: a form post, then the list with the message.
    let suspend = format!("{TOKENS_URL}/{}/suspend", issued.token.id);
    let res = post_form(&app, &client, &suspend, &[("csrf_token", &csrf)]).await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res).as_deref(), Some(HOME));
    let body = app.get(&client, HOME).await?.text().await?;
    assert!(body.contains("Suspended nightly: API calls with it return 401 Unauthorized"));
    let row = html::one_with(&body, "tr", "id", &format!("row-{}", issued.token.id));
    assert!(row.text().contains("Suspended"), "the badge: {}", row.inner);
    assert!(row.text().contains("Resume token") && !row.text().contains("Suspend token"));
    let status = identity_status(&app.url(""), &reqwest::Client::new(), &issued.secret).await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // With htmx: the row comes back changed, out of band, and is announced.
    let resume = format!("{TOKENS_URL}/{}/resume", issued.token.id);
    let res = post_htmx(&app, &client, &resume, &csrf, &[]).await?;
    let fragment = expect_row_changed(
        res,
        &issued.token.id,
        "Resumed nightly: its secret works again",
    )
    .await?;
    assert!(!fragment.contains("badge-warning"), "{fragment}");
    let status = identity_status(&app.url(""), &reqwest::Client::new(), &issued.secret).await?;
    assert_eq!(status, StatusCode::OK);

    // Another Writer may not suspend it; an Admin may.
    let other = create(
        &app.store,
        &team.admin,
        "admin's",
        TokenKind::Personal,
        TokenRole::Reader,
    )
    .await?;
    let path = format!("{TOKENS_URL}/{}/suspend", other.token.id);
    let res = post_form(&app, &client, &path, &[("csrf_token", &csrf)]).await?;
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "not even visible to the writer"
    );
    let admin = browser();
    app.sign_in(&admin, ADMIN_EMAIL).await?;
    let admin_csrf = page_csrf(&app.get(&admin, HOME).await?.text().await?)?;
    let res = post_form(&app, &admin, &suspend, &[("csrf_token", &admin_csrf)]).await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(count_audit(&app.store, "token_suspended").await?, 2);
    Ok(())
}
