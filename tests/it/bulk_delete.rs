//! Deleting many tokens at once: all or none, one audit event each, every
//! secret 401 at once; through the API and the page (confirmation first,
//! with and without htmx).

use latchkey::domain::token::{TokenKind, TokenRole};
use reqwest::StatusCode;
use serde_json::json;

use crate::api_helpers::{UNKNOWN_ID, sid, spawn_api};
use crate::helpers::{HOME, TestResult, browser, location};
use crate::html;
use crate::token_support::{
    ADMIN_EMAIL, TOKENS_URL, count_audit, count_tokens, create, page_csrf, post_htmx, spawn_team,
};

#[tokio::test]
async fn five_hundred_tokens_go_together_or_not_at_all() -> TestResult {
    let (app, m) = spawn_api().await?;
    let (admin, admin_id) = sid(&app
        .issue(&m.admin, "admin", TokenKind::Personal, TokenRole::Admin)
        .await?);
    let mut ids = Vec::new();
    let mut secrets = Vec::new();
    for i in 0..500 {
        let (secret, id) = sid(&app
            .issue(
                &m.writer,
                &format!("bulk {i}"),
                TokenKind::Personal,
                TokenRole::Reader,
            )
            .await?);
        ids.push(id);
        secrets.push(secret);
    }
    let before = app.count_tokens().await?;

    // One unknown id among them: nothing is deleted, and it is named.
    let mut with_unknown = ids.clone();
    with_unknown.push(UNKNOWN_ID.to_string());
    let reply = app
        .post_json(
            "tokens/bulk-delete",
            &admin,
            &json!({ "ids": with_unknown }),
        )
        .await?;
    reply.expect_error(StatusCode::BAD_REQUEST, "invalid_request")?;
    assert!(reply.text().contains(UNKNOWN_ID), "{}", reply.text());
    assert_eq!(app.count_tokens().await?, before);
    app.identity(&secrets[0]).await?;

    let deleted = app
        .post_json("tokens/bulk-delete", &admin, &json!({ "ids": ids }))
        .await?
        .expect(StatusCode::OK)?;
    assert_eq!(deleted["deleted"].as_array().map(Vec::len), Some(500));
    assert_eq!(app.count_tokens().await?, before - 500);
    assert_eq!(count_audit(&app.db, "token_deleted").await?, 500);
    for secret in [&secrets[0], &secrets[250], &secrets[499]] {
        app.get("caller-identity", secret)
            .await?
            .expect_error(StatusCode::UNAUTHORIZED, "unauthorized")?;
    }
    app.identity(&admin).await?;
    assert!(!admin_id.is_empty());
    Ok(())
}

#[tokio::test]
async fn bulk_delete_refuses_what_the_caller_may_not_delete() -> TestResult {
    let (app, m) = spawn_api().await?;
    let (writer_admin, _) = sid(&app
        .issue(&m.admin, "mine", TokenKind::Personal, TokenRole::Admin)
        .await?);
    let (_, theirs) = sid(&app
        .issue(&m.other, "theirs", TokenKind::Personal, TokenRole::Reader)
        .await?);
    let (_, mine) = sid(&app
        .issue(&m.admin, "mine too", TokenKind::Personal, TokenRole::Reader)
        .await?);
    // An Admin may delete another member's token: both go.
    app.post_json(
        "tokens/bulk-delete",
        &writer_admin,
        &json!({ "ids": [theirs, mine] }),
    )
    .await?
    .expect(StatusCode::OK)?;

    // A Writer's token manages nothing; an empty or oversized list, a
    // malformed id or body: 400, nothing deleted.
    let (writer, _) = sid(&app
        .issue(&m.writer, "w", TokenKind::Personal, TokenRole::Writer)
        .await?);
    let (_, keep) = sid(&app
        .issue(&m.writer, "keep", TokenKind::Personal, TokenRole::Reader)
        .await?);
    app.post_json("tokens/bulk-delete", &writer, &json!({ "ids": [keep] }))
        .await?
        .expect_error(StatusCode::FORBIDDEN, "forbidden")?;
    let too_many: Vec<String> = (0..1001).map(|i| format!("{i:024x}")).collect();
    for body in [
        json!({ "ids": [] }),
        json!({ "ids": too_many }),
        json!({ "ids": ["not-an-id"] }),
        json!({ "ids": "x" }),
        json!({ "tokens": [keep] }),
    ] {
        app.post_json("tokens/bulk-delete", &writer_admin, &body)
            .await?
            .expect_error(StatusCode::BAD_REQUEST, "invalid_request")?;
    }
    app.get(&format!("tokens/{keep}"), &writer_admin)
        .await?
        .expect(StatusCode::OK)?;
    Ok(())
}

#[tokio::test]
async fn the_page_confirms_then_deletes_the_selected_tokens() -> TestResult {
    let (app, team) = spawn_team().await?;
    let a = create(
        &app.store,
        &team.admin,
        "alpha",
        TokenKind::Personal,
        TokenRole::Reader,
    )
    .await?;
    let b = create(
        &app.store,
        &team.admin,
        "beta",
        TokenKind::Personal,
        TokenRole::Reader,
    )
    .await?;
    let c = create(
        &app.store,
        &team.admin,
        "gamma",
        TokenKind::Personal,
        TokenRole::Reader,
    )
    .await?;
    let client = browser();
    app.sign_in(&client, ADMIN_EMAIL).await?;
    let body = app.get(&client, HOME).await?.text().await?;
    let csrf = page_csrf(&body)?;
    // Each row has its labelled checkbox, tied to the bulk form.
    let boxes = html::elements_with(&body, "input", "name", "ids");
    assert!(boxes.iter().any(|i| i.attr("aria-label") == Some("Select alpha") && i.attr("form") == Some("bulk")));

    let confirm = format!(
        "{TOKENS_URL}/bulk-delete?ids={}&ids={}",
        a.token.id, b.token.id
    );
    let res = app.get(&client, &confirm).await?;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await?;
    assert_eq!(html::h1_texts(&page), ["Delete 2 tokens?"]);
    let text = html::text_of(&page);
    assert!(
        text.contains("alpha") && text.contains("beta") && !text.contains("gamma"),
        "{text}"
    );
    assert!(text.contains("401 Unauthorized"));
    // Nothing selected: said, not a 500 and not an empty dialog.
    let res = app
        .get(&client, &format!("{TOKENS_URL}/bulk-delete"))
        .await?;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await?.contains("No tokens are selected"));

    // Without JavaScript: the confirmation's form, then the list.
    let res = client
        .post(app.url(&format!("{TOKENS_URL}/bulk-delete")))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("ids", &a.token.id),
            ("ids", &b.token.id),
        ])
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res).as_deref(), Some(HOME));
    let body = app.get(&client, HOME).await?.text().await?;
    assert!(body.contains("Deleted 2 tokens"));
    assert_eq!(count_tokens(&app.store).await?, 1);

    // With htmx: the row leaves out of band, announced.
    let res = post_htmx(
        &app,
        &client,
        &format!("{TOKENS_URL}/bulk-delete"),
        &csrf,
        &[("ids", &c.token.id)],
    )
    .await?;
    assert_eq!(res.status(), StatusCode::OK);
    let fragment = res.text().await?;
    assert!(
        fragment.contains(&format!(r#"id="row-{}" hx-swap-oob="delete""#, c.token.id)),
        "{fragment}"
    );
    assert!(fragment.contains("Deleted gamma"));
    assert_eq!(count_tokens(&app.store).await?, 0);
    Ok(())
}
