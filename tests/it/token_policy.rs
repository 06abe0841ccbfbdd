//! The organization's token policy: the Token policy page (Owners change
//! it, Admins read it, everyone else gets 403), and the maximum lifetime it
//! sets binding create, clone and edit, on the pages and through the API,
//! on every instance from the next request on.

use latchkey::domain::MemberRole;
use latchkey::domain::org_policy::TokenPolicy;
use latchkey::domain::token::{TokenKind, TokenRole};
use latchkey::store::{Member, Token};
use latchkey::web::format::datetime_local;
use reqwest::{Client, StatusCode};
use serde_json::json;

use crate::api_helpers::{self, sid};
use crate::helpers::{TestApp, TestResult, browser, location};
use crate::html;
use crate::token_support::{
    TOKENS_URL, caller, count_audit, count_tokens, create, email_for, page_csrf, post_form,
    post_htmx, spawn_team,
};

const POLICY: &str = "/settings/policy";
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Signs in as `role` and opens the Token policy page: the client, the
/// page's status and body.
async fn open_policy(
    app: &TestApp,
    role: MemberRole,
) -> anyhow::Result<(Client, StatusCode, String)> {
    let client = browser();
    app.sign_in(&client, email_for(role)).await?;
    let res = app.get(&client, POLICY).await?;
    let status = res.status();
    Ok((client, status, res.text().await?))
}

async fn stored_policy(app: &TestApp) -> anyhow::Result<TokenPolicy> {
    Ok(app.store.token_policy().await?)
}

/// Sets the policy as an Owner through the operation the page calls.
async fn set_policy(
    store: &latchkey::store::Store,
    owner: &Member,
    days: Option<i64>,
) -> TestResult {
    let wanted = TokenPolicy {
        max_lifetime_days: days,
    };
    latchkey::tokens::set_policy(store, caller(owner), wanted)
        .await
        .map_err(|e| anyhow::anyhow!("setting the policy: {e:?}"))?;
    Ok(())
}

async fn stored_token(app: &TestApp, id: &str) -> anyhow::Result<Token> {
    app.store
        .find_token(id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("token {id} is gone"))
}

/// The option of the lifetime select that is selected.
fn selected_lifetime(body: &str) -> Vec<String> {
    let select = html::one_with(body, "select", "id", "policy-max-lifetime");
    select
        .find("option")
        .iter()
        .filter(|o| o.attr("selected").is_some())
        .map(|o| o.text())
        .collect()
}

fn status_text(body: &str) -> String {
    html::one_with(body, "div", "id", "status").text()
}

#[tokio::test]
async fn owners_change_the_policy_with_a_plain_post_and_a_flash() -> TestResult {
    let (app, _team) = spawn_team().await?;
    let (client, status, body) = open_policy(&app, MemberRole::Owner).await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(html::h1_texts(&body), ["Token policy"]);
    // The settings navigation names the page, between Members and Audit log.
    assert!(body.contains(r#"href="/settings/policy" aria-current="page""#));
    let nav = html::one_with(&body, "nav", "aria-label", "Settings").text();
    assert_eq!(nav, "Authorization Members Token policy Audit log");
    // One labelled control, described by its hint; no limit to start with.
    let label = html::one_with(&body, "label", "for", "policy-max-lifetime");
    assert_eq!(label.text(), "Maximum lifetime for new tokens");
    let select = html::one_with(&body, "select", "id", "policy-max-lifetime");
    assert_eq!(
        select.attr("aria-describedby"),
        Some("policy-max-lifetime-hint")
    );
    let options: Vec<String> = select.find("option").iter().map(|o| o.text()).collect();
    assert_eq!(
        options,
        [
            "No limit", "7 days", "30 days", "60 days", "90 days", "180 days", "1 year"
        ]
    );
    assert_eq!(selected_lifetime(&body), ["No limit"]);
    let buttons: Vec<String> = html::elements(&body, "button")
        .iter()
        .map(|b| b.text())
        .collect();
    assert!(buttons.contains(&"Save".to_string()), "{buttons:?}");

    // Saving: post, redirect, and the message once on the page.
    let csrf = page_csrf(&body)?;
    let res = post_form(
        &app,
        &client,
        POLICY,
        &[("csrf_token", &csrf), ("max_lifetime", "90")],
    )
    .await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res).as_deref(), Some(POLICY));
    assert_eq!(stored_policy(&app).await?, TokenPolicy::with_max_days(90));
    let body = app.get(&client, POLICY).await?.text().await?;
    assert_eq!(
        status_text(&body),
        "Saved: new tokens must now expire within 90 days"
    );
    assert_eq!(selected_lifetime(&body), ["90 days"]);
    let body = app.get(&client, POLICY).await?.text().await?;
    assert_eq!(status_text(&body), "", "the flash is shown once");

    // Audited with the old and new values, once.
    assert_eq!(count_audit(&app.store, "token_policy_changed").await?, 1);
    let (detail, actor): (Option<String>, Option<String>) = sqlx::query_as(
        "SELECT detail, actor_email FROM audit_events WHERE action = 'token_policy_changed'",
    )
    .fetch_one(app.store.sql())
    .await?;
    assert_eq!(
        detail.as_deref(),
        Some("Maximum lifetime for new tokens: No limit → 90 days")
    );
    assert_eq!(actor.as_deref(), Some(crate::helpers::OWNER_EMAIL));
    // The audit log page names it.
    let audit = app.get(&client, "/settings/audit").await?.text().await?;
    assert!(audit.contains("Token policy changed"), "{audit}");

    // Saving what is in force changes and records nothing, and says so.
    let csrf = page_csrf(&body)?;
    post_form(
        &app,
        &client,
        POLICY,
        &[("csrf_token", &csrf), ("max_lifetime", "90")],
    )
    .await?;
    let body = app.get(&client, POLICY).await?.text().await?;
    assert_eq!(
        status_text(&body),
        "The maximum lifetime for new tokens is still 90 days"
    );
    assert_eq!(count_audit(&app.store, "token_policy_changed").await?, 1);

    // With htmx: the announcement alone, no redirect.
    let csrf = page_csrf(&body)?;
    let res = post_htmx(&app, &client, POLICY, &csrf, &[("max_lifetime", "none")]).await?;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(location(&res).is_none());
    let fragment = res.text().await?;
    let status = html::one_with(&fragment, "div", "id", "status");
    assert_eq!(status.attr("hx-swap-oob"), Some("innerHTML"));
    assert_eq!(
        status.text(),
        "Saved: new tokens have no maximum lifetime now"
    );
    assert_eq!(stored_policy(&app).await?, TokenPolicy::default());
    assert_eq!(count_audit(&app.store, "token_policy_changed").await?, 2);

    // A value the select does not offer: refused, said next to the control.
    let res = post_form(
        &app,
        &client,
        POLICY,
        &[("csrf_token", &csrf), ("max_lifetime", "13")],
    )
    .await?;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = res.text().await?;
    let select = html::one_with(&body, "select", "id", "policy-max-lifetime");
    assert_eq!(select.attr("aria-invalid"), Some("true"));
    assert!(
        html::one_with(&body, "p", "id", "policy-max-lifetime-error")
            .text()
            .contains("Choose a maximum lifetime")
    );
    assert_eq!(stored_policy(&app).await?, TokenPolicy::default());
    Ok(())
}

#[tokio::test]
async fn admins_read_the_policy_and_others_get_403() -> TestResult {
    let (app, team) = spawn_team().await?;
    set_policy(&app.store, &team.owner, Some(30)).await?;

    let (admin, status, body) = open_policy(&app, MemberRole::Admin).await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(html::h1_texts(&body), ["Token policy"]);
    assert!(html::elements(&body, "select").is_empty(), "read-only");
    let dl = &html::elements(&body, "dl")[0];
    assert_eq!(dl.find("dt")[0].text(), "Maximum lifetime for new tokens");
    assert_eq!(dl.find("dd")[0].text(), "30 days");
    assert!(body.contains("Only Owners can change the token policy."));
    // Nor can an Admin post a change by hand.
    let csrf = page_csrf(&body)?;
    let res = post_form(
        &app,
        &admin,
        POLICY,
        &[("csrf_token", &csrf), ("max_lifetime", "none")],
    )
    .await?;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(
        res.text()
            .await?
            .contains("Only Owners can change the token policy.")
    );
    assert_eq!(stored_policy(&app).await?, TokenPolicy::with_max_days(30));

    for role in [MemberRole::Writer, MemberRole::Reader, MemberRole::NoAccess] {
        let (client, status, body) = open_policy(&app, role).await?;
        assert_eq!(status, StatusCode::FORBIDDEN, "{role:?}");
        assert_eq!(html::h1_texts(&body), ["Token policy"], "{role:?}");
        assert!(
            !body.contains("30 days"),
            "{role:?} is not shown the policy"
        );
        assert!(body.contains("Only Admins and Owners can see the token policy."));
        let csrf = page_csrf(&body)?;
        let res = post_form(
            &app,
            &client,
            POLICY,
            &[("csrf_token", &csrf), ("max_lifetime", "none")],
        )
        .await?;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{role:?}");
    }
    assert_eq!(stored_policy(&app).await?, TokenPolicy::with_max_days(30));
    assert_eq!(count_audit(&app.store, "token_policy_changed").await?, 1);
    Ok(())
}

#[tokio::test]
async fn a_policy_change_needs_the_sessions_csrf_token() -> TestResult {
    let (app, _team) = spawn_team().await?;
    let (owner, _, body) = open_policy(&app, MemberRole::Owner).await?;
    let csrf = page_csrf(&body)?;
    let forged = "0".repeat(128);
    for fields in [
        vec![("max_lifetime", "7")],
        vec![("csrf_token", forged.as_str()), ("max_lifetime", "7")],
    ] {
        let res = post_form(&app, &owner, POLICY, &fields).await?;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{fields:?}");
    }
    // From another site, even with the right token.
    let res = owner
        .post(app.url(POLICY))
        .header("Origin", "https://evil.example")
        .header("Sec-Fetch-Site", "cross-site")
        .form(&[("csrf_token", csrf.as_str()), ("max_lifetime", "7")])
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(stored_policy(&app).await?, TokenPolicy::default());
    assert_eq!(count_audit(&app.store, "token_policy_changed").await?, 0);
    Ok(())
}

/// A valid create form with `expires`.
fn create_fields<'a>(csrf: &'a str, name: &'a str, expires: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf_token", csrf),
        ("name", name),
        ("description", ""),
        ("role", "reader"),
        ("api_version", "20240415"),
        ("expires", expires),
    ]
}

/// The edit form as the page fills it for `token`, with `expires` instead.
fn edit_fields<'a>(
    csrf: &'a str,
    token: &'a Token,
    name: &'a str,
    expires: &'a str,
    version: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf_token", csrf),
        ("name", name),
        ("description", token.description.as_str()),
        ("role", token.role.as_str()),
        ("api_version", "20240415"),
        ("expires", expires),
        ("version", version),
    ]
}

fn expires_error(body: &str) -> String {
    html::one_with(body, "p", "id", "token-expires-error").text()
}

#[tokio::test]
async fn the_pages_follow_the_limit_on_create_clone_and_edit() -> TestResult {
    let (app, team) = spawn_team().await?;
    // Made before the policy: one never expires, one in 200 days.
    let legacy = create(
        &app.store,
        &team.owner,
        "legacy",
        TokenKind::Personal,
        TokenRole::Reader,
    )
    .await?
    .token;
    let mut long_request =
        crate::token_support::request("long", TokenKind::Personal, TokenRole::Reader);
    long_request.expires_at = Some(app.state.clock.now_ms() + 200 * DAY_MS);
    let long = latchkey::tokens::create(&app.store, caller(&team.owner), long_request)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?
        .token;
    set_policy(&app.store, &team.owner, Some(90)).await?;

    let client = browser();
    let csrf = app.sign_in(&client, email_for(MemberRole::Owner)).await?;

    // The create form says the limit and suggests the latest expiry it
    // allows, to the minute.
    let before = app.state.clock.now_ms();
    let body = app
        .get(&client, &format!("{TOKENS_URL}/new"))
        .await?
        .text()
        .await?;
    let latest = {
        let ms = before + 90 * DAY_MS;
        ms - ms.rem_euclid(60_000)
    };
    let input = html::one_with(&body, "input", "id", "token-expires");
    let suggested = input.attr("value").unwrap_or_default().to_string();
    // (The clock may have passed a minute between reading it and the page.)
    assert!(
        [datetime_local(latest), datetime_local(latest + 60_000)].contains(&suggested),
        "{suggested}"
    );
    assert_eq!(input.attr("max"), Some(suggested.as_str()));
    let hint = html::one_with(&body, "p", "id", "token-expires-hint").text();
    assert!(
        hint.contains("Your organization allows at most 90 days"),
        "{hint}"
    );
    let label = html::one_with(&body, "label", "for", "token-expires").text();
    assert_eq!(label, "Expires", "no longer optional");

    // Never expiring, or past the limit: refused, nothing stored.
    let tokens_before = count_tokens(&app.store).await?;
    let too_late = datetime_local(app.state.clock.now_ms() + 91 * DAY_MS);
    for expires in ["", too_late.as_str()] {
        let res = post_form(
            &app,
            &client,
            TOKENS_URL,
            &create_fields(&csrf, "ci", expires),
        )
        .await?;
        assert_eq!(
            res.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{expires:?}"
        );
        let body = res.text().await?;
        let error = expires_error(&body);
        assert!(
            error.contains("90 days"),
            "the message names the limit: {error}"
        );
        let input = html::one_with(&body, "input", "id", "token-expires");
        assert_eq!(input.attr("aria-invalid"), Some("true"));
        assert_eq!(input.attr("value"), Some(expires), "what was typed stays");
    }
    // With another field wrong too, both are said at once.
    let res = post_form(&app, &client, TOKENS_URL, &create_fields(&csrf, " ", "")).await?;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = res.text().await?;
    assert!(
        html::one_with(&body, "p", "id", "token-name-error")
            .text()
            .contains("Enter a name")
    );
    assert!(expires_error(&body).contains("90 days"));
    assert_eq!(count_tokens(&app.store).await?, tokens_before);

    // The suggested expiry is accepted.
    let res = post_form(
        &app,
        &client,
        TOKENS_URL,
        &create_fields(&csrf, "ci", &suggested),
    )
    .await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(count_tokens(&app.store).await?, tokens_before + 1);

    // A clone of the never-expiring token lives as long as allowed.
    let before = app.state.clock.now_ms();
    let res = post_form(
        &app,
        &client,
        &format!("{TOKENS_URL}/{}/clone", legacy.id),
        &[("csrf_token", &csrf)],
    )
    .await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let after = app.state.clock.now_ms();
    let body = app.get(&client, crate::helpers::HOME).await?.text().await?;
    let message = status_text(&body);
    assert!(
        message.starts_with("Cloned token as legacy (copy).")
            && message.contains("your organization's token policy allows"),
        "{message}"
    );
    let clone_id: String = sqlx::query_scalar("SELECT id FROM tokens WHERE name = 'legacy (copy)'")
        .fetch_one(app.store.sql())
        .await?;
    let clone = stored_token(&app, &clone_id).await?;
    let expires = clone.expires_at.expect("the clone expires");
    assert!(
        (before + 90 * DAY_MS..=after + 90 * DAY_MS).contains(&expires),
        "{expires}"
    );

    // Editing what predates the policy: an unchanged expiry (never, or 200
    // days away) stays; a new one must fit, and clearing one is refused.
    let edit = |id: &str| format!("{TOKENS_URL}/{id}/edit");
    let version = legacy.version.to_string();
    let res = post_form(
        &app,
        &client,
        &edit(&legacy.id),
        &edit_fields(&csrf, &legacy, "legacy 2", "", &version),
    )
    .await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let legacy = stored_token(&app, &legacy.id).await?;
    assert_eq!(
        (legacy.name.as_str(), legacy.expires_at),
        ("legacy 2", None)
    );

    let shown = datetime_local(long.expires_at.expect("long expires"));
    let version = long.version.to_string();
    let res = post_form(
        &app,
        &client,
        &edit(&long.id),
        &edit_fields(&csrf, &long, "long 2", &shown, &version),
    )
    .await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let long = stored_token(&app, &long.id).await?;
    assert_eq!(long.name, "long 2");
    assert!(
        long.expires_at
            .is_some_and(|t| t > app.state.clock.now_ms() + 199 * DAY_MS)
    );

    let version = long.version.to_string();
    let res = post_form(
        &app,
        &client,
        &edit(&long.id),
        &edit_fields(&csrf, &long, "long 2", "", &version),
    )
    .await?;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = res.text().await?;
    assert!(expires_error(&body).contains("90 days"));
    // The edit form says the limit, and that an earlier expiry may stay.
    let hint = html::one_with(&body, "p", "id", "token-expires-hint").text();
    assert!(
        hint.contains("An expiry set before can stay as it is"),
        "{hint}"
    );

    let version = legacy.version.to_string();
    let res = post_form(
        &app,
        &client,
        &edit(&legacy.id),
        &edit_fields(&csrf, &legacy, "legacy 2", &too_late, &version),
    )
    .await?;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(expires_error(&res.text().await?).contains("90 days"));
    assert_eq!(stored_token(&app, &legacy.id).await?.expires_at, None);

    let in_a_month = datetime_local(app.state.clock.now_ms() + 30 * DAY_MS);
    let res = post_form(
        &app,
        &client,
        &edit(&legacy.id),
        &edit_fields(&csrf, &legacy, "legacy 2", &in_a_month, &version),
    )
    .await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(stored_token(&app, &legacy.id).await?.expires_at.is_some());

    // Back to no limit: never expiring is fine again, and clones never
    // expire.
    set_policy(&app.store, &team.owner, None).await?;
    let res = post_form(
        &app,
        &client,
        TOKENS_URL,
        &create_fields(&csrf, "forever", ""),
    )
    .await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let body = app
        .get(&client, &format!("{TOKENS_URL}/new"))
        .await?
        .text()
        .await?;
    let input = html::one_with(&body, "input", "id", "token-expires");
    assert_eq!(input.attr("value"), Some(""));
    assert_eq!(input.attr("max"), None);
    let clone = latchkey::tokens::clone(&app.store, caller(&team.owner), &clone_id)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    assert_eq!(clone.token.expires_at, None);
    Ok(())
}

#[tokio::test]
async fn the_api_follows_the_limit_on_create_clone_and_patch() -> TestResult {
    let (app, members) = api_helpers::spawn_api().await?;
    let (secret, _) = sid(&app
        .issue(
            &members.admin,
            "admin script",
            TokenKind::Service,
            TokenRole::Admin,
        )
        .await?);
    let legacy = app
        .issue(
            &members.admin,
            "legacy",
            TokenKind::Service,
            TokenRole::Reader,
        )
        .await?
        .token;
    set_policy(app.store(), &members.owner, Some(30)).await?;
    let tokens_before = app.count_tokens().await?;

    // 400 on create, naming the limit: no expiry, or past it.
    let past_limit = app.now_ms() + 31 * DAY_MS;
    for body in [
        json!({"name": "ci", "serviceToken": true}),
        json!({"name": "ci", "serviceToken": true, "expires": null}),
        json!({"name": "ci", "serviceToken": true, "expires": past_limit}),
    ] {
        let reply = app.post_json("tokens", &secret, &body).await?;
        reply.expect_error(StatusCode::BAD_REQUEST, "invalid_request")?;
        let message = reply.json()?["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            message.starts_with("expires: ") && message.contains("30 days"),
            "{body}: {message}"
        );
    }
    assert_eq!(app.count_tokens().await?, tokens_before);
    let within = app.now_ms() + 29 * DAY_MS;
    let created = app
        .post_json(
            "tokens",
            &secret,
            &json!({"name": "ci", "serviceToken": true, "expires": within}),
        )
        .await?
        .expect(StatusCode::CREATED)?;
    assert_eq!(created["expires"], within);

    // A clone of a never-expiring token: 201, living the 30 days allowed.
    let before = app.now_ms();
    let clone = app
        .post(&format!("tokens/{}/clone", legacy.id), &secret)
        .await?
        .expect(StatusCode::CREATED)?;
    let expires = clone["expires"].as_i64().expect("the clone expires");
    assert!(
        (before + 30 * DAY_MS..=app.now_ms() + 30 * DAY_MS).contains(&expires),
        "{clone}"
    );

    // PATCH: other fields of a token from before the policy change freely;
    // a new expiry past the limit, or none, is 422 naming the limit.
    let path = format!("tokens/{}", legacy.id);
    let renamed = app
        .patch(
            &path,
            &secret,
            &json!([{"op": "replace", "path": "/name", "value": "legacy 2"}]),
        )
        .await?
        .expect(StatusCode::OK)?;
    assert_eq!(renamed["expires"], serde_json::Value::Null);
    let reply = app
        .patch(
            &path,
            &secret,
            &json!([{"op": "replace", "path": "/expires", "value": past_limit}]),
        )
        .await?;
    reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable_entity")?;
    assert!(reply.text().contains("30 days"), "{}", reply.text());
    let path = format!("tokens/{}", created["_id"].as_str().unwrap_or_default());
    let reply = app
        .patch(
            &path,
            &secret,
            &json!([{"op": "replace", "path": "/expires", "value": null}]),
        )
        .await?;
    reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable_entity")?;
    assert!(reply.text().contains("30 days"), "{}", reply.text());
    let sooner = app.now_ms() + 10 * DAY_MS;
    let patched = app
        .patch(
            &path,
            &secret,
            &json!([{"op": "replace", "path": "/expires", "value": sooner}]),
        )
        .await?
        .expect(StatusCode::OK)?;
    assert_eq!(patched["expires"], sooner);
    Ok(())
}

#[tokio::test]
async fn a_policy_saved_on_one_instance_binds_the_next_create_on_another() -> TestResult {
    let (a, b, members) = crate::instances::two_instances().await?;
    let (secret, _) = sid(&a
        .issue(
            &members.admin,
            "admin script",
            TokenKind::Service,
            TokenRole::Admin,
        )
        .await?);
    let never = json!({"name": "ci", "serviceToken": true});
    b.post_json("tokens", &secret, &never)
        .await?
        .expect(StatusCode::CREATED)?;
    set_policy(a.store(), &members.owner, Some(7)).await?;
    // The very next create through B obeys it, and so does B's clone.
    let reply = b.post_json("tokens", &secret, &never).await?;
    reply.expect_error(StatusCode::BAD_REQUEST, "invalid_request")?;
    assert!(reply.text().contains("7 days"), "{}", reply.text());
    let legacy: String = sqlx::query_scalar("SELECT id FROM tokens WHERE name = 'ci'")
        .fetch_one(b.db.sql())
        .await?;
    let clone = b
        .post(&format!("tokens/{legacy}/clone"), &secret)
        .await?
        .expect(StatusCode::CREATED)?;
    assert!(
        clone["expires"]
            .as_i64()
            .is_some_and(|t| t <= b.now_ms() + 7 * DAY_MS)
    );
    // And lifting it on B frees A at once.
    set_policy(b.store(), &members.owner, None).await?;
    a.post_json("tokens", &secret, &never)
        .await?
        .expect(StatusCode::CREATED)?;
    Ok(())
}
