//! Service tokens act for the organization, not as the member who created
//! them (PRODUCT.md §2): no access to that member's personal tokens, and no
//! personal tokens of their own making.

use latchkey::domain::token::{TokenKind, TokenRole};
use reqwest::StatusCode;
use serde_json::json;

use crate::api_helpers::spawn_api;
use crate::helpers::TestResult;

#[tokio::test]
async fn a_service_token_cannot_act_as_its_creator() -> TestResult {
    let (app, m) = spawn_api().await?;
    let service = app
        .issue(&m.owner, "org script", TokenKind::Service, TokenRole::Admin)
        .await?;
    let personal = app
        .issue(
            &m.owner,
            "owner laptop",
            TokenKind::Personal,
            TokenRole::Admin,
        )
        .await?;
    let pid = personal.token.id.clone();

    // Without showAll, the creator's personal tokens are not the script's own.
    let list = app
        .get("tokens?limit=1000", &service.secret)
        .await?
        .expect(StatusCode::OK)?;
    let names: Vec<&str> = list["items"]
        .as_array()
        .map(|items| items.iter().filter_map(|t| t["name"].as_str()).collect())
        .unwrap_or_default();
    assert!(names.contains(&"org script"), "{names:?}");
    assert!(!names.contains(&"owner laptop"), "{names:?}");

    // Reset and clone of a personal token belong to its member alone.
    app.post(&format!("tokens/{pid}/reset"), &service.secret)
        .await?
        .expect_error(StatusCode::FORBIDDEN, "forbidden")?;
    app.post(&format!("tokens/{pid}/clone"), &service.secret)
        .await?
        .expect_error(StatusCode::FORBIDDEN, "forbidden")?;
    // The owner's secret still works: nothing was reset.
    assert_eq!(
        app.identity(&personal.secret).await?["tokenId"],
        pid.as_str()
    );

    // It may not mint personal tokens, whose secrets belong to a member…
    let before = app.count_tokens().await?;
    app.post_json(
        "tokens",
        &service.secret,
        &json!({"name": "sneaky", "role": "admin"}),
    )
    .await?
    .expect_error(StatusCode::FORBIDDEN, "forbidden")?;
    assert_eq!(app.count_tokens().await?, before, "nothing stored");
    // …but service tokens, recorded against the member who made the script's token.
    let made = app
        .post_json(
            "tokens",
            &service.secret,
            &json!({"name": "child", "role": "reader", "serviceToken": true}),
        )
        .await?
        .expect(StatusCode::CREATED)?;
    assert_eq!(made["serviceToken"], true);
    assert_eq!(made["memberId"], m.owner.id.as_str());
    Ok(())
}

/// The audit log names the token an API change came through: a service
/// token by its id (it is no member), a personal token with its member.
#[tokio::test]
async fn the_audit_log_names_the_token_that_acted() -> TestResult {
    let (app, m) = spawn_api().await?;
    let service = app
        .issue(&m.owner, "org script", TokenKind::Service, TokenRole::Admin)
        .await?;
    let personal = app
        .issue(
            &m.admin,
            "admin laptop",
            TokenKind::Personal,
            TokenRole::Admin,
        )
        .await?;
    for (secret, name) in [
        (&service.secret, "by script"),
        (&personal.secret, "by laptop"),
    ] {
        app.post_json(
            "tokens",
            secret,
            &json!({"name": name, "role": "reader", "serviceToken": true}),
        )
        .await?
        .expect(StatusCode::CREATED)?;
    }
    let row = |name: &'static str| {
        sqlx::query_as::<_, (Option<String>, Option<String>, Option<String>)>(
            "SELECT actor_member_id, actor_token_id, actor_email FROM audit_events
             WHERE action = 'token_created' AND token_name = $1",
        )
        .bind(name)
        .fetch_one(app.db.sql())
    };
    let (member, token, label) = row("by script").await?;
    assert_eq!(member, None, "a service token is no member");
    assert_eq!(token.as_deref(), Some(service.token.id.as_str()));
    assert_eq!(label.as_deref(), Some("service token org script"));
    let (member, token, label) = row("by laptop").await?;
    assert_eq!(member.as_deref(), Some(m.admin.id.as_str()));
    assert_eq!(token.as_deref(), Some(personal.token.id.as_str()));
    assert_eq!(
        label.as_deref(),
        Some(format!("{} (API token admin laptop)", m.admin.email).as_str())
    );
    Ok(())
}
