//! The Members page: who sees it, adding a member, changing a role and
//! removing a member, with every rule (Owners only by Owners, never the
//! last Owner, nobody removes themselves) and what follows at once for the
//! member's tokens and sessions.

use latchkey::domain::MemberRole;
use latchkey::domain::token::{TokenKind, TokenRole};
use reqwest::StatusCode;

use crate::helpers::{OWNER_EMAIL, PASSWORD, TestResult, browser, location};
use crate::html;
use crate::token_support::{
    ADMIN_EMAIL, WRITER_EMAIL, caller, count_audit, page_csrf, post_form, post_htmx, request,
    spawn_team,
};

const MEMBERS: &str = "/settings/members";

/// Signs `email` in and returns the client with the Members page's CSRF
/// token.
async fn signed_in(
    app: &crate::helpers::TestApp,
    email: &str,
) -> anyhow::Result<(reqwest::Client, String)> {
    let client = browser();
    app.sign_in(&client, email).await?;
    let body = app.get(&client, MEMBERS).await?.text().await?;
    let csrf = page_csrf(&body)?;
    Ok((client, csrf))
}

#[tokio::test]
async fn admins_see_every_member_and_others_get_403() -> TestResult {
    let (app, team) = spawn_team().await?;
    create_token(&app, &team.writer, "writer's script").await?;
    let (client, _) = signed_in(&app, ADMIN_EMAIL).await?;
    let res = app.get(&client, MEMBERS).await?;
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await?;
    assert_eq!(html::h1_texts(&body), ["Members"]);
    let table = &html::elements(&body, "table")[0];
    assert_eq!(table.find("caption")[0].text(), "Members");
    let headers: Vec<String> = table.find("th").iter().take(5).map(|t| t.text()).collect();
    assert_eq!(
        headers,
        ["Email", "Role", "Tokens", "Last sign-in", "Actions"]
    );
    // The writer's row: their role and one personal token.
    let row = table
        .find("tr")
        .into_iter()
        .find(|tr| tr.text().contains(WRITER_EMAIL))
        .expect("the writer's row");
    let cells: Vec<String> = row.find("td").iter().map(|td| td.text()).collect();
    assert_eq!(cells[0], "Writer");
    assert!(cells[1].starts_with('1'), "{cells:?}");
    assert!(row.text().contains(&format!("Actions for {WRITER_EMAIL}")));
    // An Admin may not touch the Owner: no menu on that row.
    let owner_row = table
        .find("tr")
        .into_iter()
        .find(|tr| tr.text().contains(OWNER_EMAIL))
        .expect("the owner's row");
    assert!(
        !owner_row.text().contains("Actions for"),
        "{}",
        owner_row.text()
    );
    // The settings navigation names the page.
    assert!(body.contains(r#"href="/settings/members" aria-current="page""#));

    for email in [WRITER_EMAIL, crate::helpers::READER_EMAIL] {
        let client = browser();
        app.sign_in(&client, email).await?;
        let res = app.get(&client, MEMBERS).await?;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{email}");
        let body = res.text().await?;
        assert!(!body.contains(OWNER_EMAIL), "no member list for {email}");
    }
    Ok(())
}

async fn create_token(
    app: &crate::helpers::TestApp,
    member: &latchkey::store::Member,
    name: &str,
) -> anyhow::Result<latchkey::tokens::Issued> {
    latchkey::tokens::create(
        &app.store,
        caller(member),
        request(name, TokenKind::Personal, TokenRole::Writer),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e:?}"))
}

/// The personal token's role as the API sees it now.
async fn api_role(app: &crate::helpers::TestApp, secret: &str) -> anyhow::Result<StatusCode> {
    Ok(reqwest::Client::new()
        .get(app.url("/api/v2/caller-identity"))
        .header("Authorization", secret)
        .send()
        .await?
        .status())
}

async fn identity_role(app: &crate::helpers::TestApp, secret: &str) -> anyhow::Result<String> {
    let v: serde_json::Value = reqwest::Client::new()
        .get(app.url("/api/v2/caller-identity"))
        .header("Authorization", secret)
        .send()
        .await?
        .json()
        .await?;
    Ok(v["role"].as_str().unwrap_or_default().to_string())
}

#[tokio::test]
async fn a_role_change_reaches_the_members_tokens_on_the_next_request() -> TestResult {
    let (app, team) = spawn_team().await?;
    let issued = create_token(&app, &team.writer, "deploys").await?;
    assert_eq!(identity_role(&app, &issued.secret).await?, "writer");
    let (client, csrf) = signed_in(&app, ADMIN_EMAIL).await?;

    // The form: a dialog named for the member, the current role checked.
    let path = format!("{MEMBERS}/{}/role", team.writer.id);
    let body = app.get(&client, &path).await?.text().await?;
    assert_eq!(
        html::h1_texts(&body),
        [format!("Change role for {WRITER_EMAIL}?")]
    );
    let checked: Vec<_> = html::elements(&body, "input")
        .into_iter()
        .filter(|i| i.attr("checked").is_some())
        .collect();
    assert!(
        checked.iter().any(|i| i.attr("value") == Some("writer")),
        "the current role is checked"
    );

    let res = post_form(
        &app,
        &client,
        &path,
        &[("csrf_token", &csrf), ("role", "reader")],
    )
    .await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res).as_deref(), Some(MEMBERS));
    let body = app.get(&client, MEMBERS).await?.text().await?;
    assert!(
        body.contains(&format!("Changed {WRITER_EMAIL} from Writer to Reader")),
        "the flash says what changed"
    );
    // The very next request acts as Reader; No access makes it 401.
    assert_eq!(identity_role(&app, &issued.secret).await?, "reader");
    let res = post_htmx(&app, &client, &path, &csrf, &[("role", "no_access")]).await?;
    assert_eq!(res.status(), StatusCode::OK);
    let fragment = res.text().await?;
    assert!(
        fragment.contains(&format!("row-{}", team.writer.id)),
        "{fragment}"
    );
    assert!(fragment.contains("No access"), "{fragment}");
    assert_eq!(
        api_role(&app, &issued.secret).await?,
        StatusCode::UNAUTHORIZED
    );

    let store = &app.store;
    assert_eq!(count_audit(store, "member_role_changed").await?, 2);
    Ok(())
}

#[tokio::test]
async fn owners_are_changed_only_by_owners_and_the_last_one_stays() -> TestResult {
    let (app, team) = spawn_team().await?;
    let (admin, admin_csrf) = signed_in(&app, ADMIN_EMAIL).await?;
    let owner_path = format!("{MEMBERS}/{}/role", team.owner.id);
    // An Admin can neither open nor post a change to the Owner…
    assert_eq!(
        app.get(&admin, &owner_path).await?.status(),
        StatusCode::FORBIDDEN
    );
    let res = post_form(
        &app,
        &admin,
        &owner_path,
        &[("csrf_token", &admin_csrf), ("role", "reader")],
    )
    .await?;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text()
            .await?
            .contains("Only Owners can change an Owner")
    );
    // …nor make anyone an Owner, nor remove the Owner.
    let writer_path = format!("{MEMBERS}/{}/role", team.writer.id);
    let res = post_form(
        &app,
        &admin,
        &writer_path,
        &[("csrf_token", &admin_csrf), ("role", "owner")],
    )
    .await?;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text()
            .await?
            .contains("Only Owners can make a member an Owner")
    );
    let res = post_form(
        &app,
        &admin,
        &format!("{MEMBERS}/{}/remove", team.owner.id),
        &[("csrf_token", &admin_csrf)],
    )
    .await?;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.store.find_member(&team.owner.id).await?.map(|m| m.role),
        Some(MemberRole::Owner)
    );

    // The only Owner cannot step down or be removed, even by themselves.
    let (owner, csrf) = signed_in(&app, OWNER_EMAIL).await?;
    let res = post_form(
        &app,
        &owner,
        &owner_path,
        &[("csrf_token", &csrf), ("role", "admin")],
    )
    .await?;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await?.contains("only Owner"));
    assert_eq!(
        app.store.find_member(&team.owner.id).await?.map(|m| m.role),
        Some(MemberRole::Owner)
    );
    // With a second Owner, the first may step down.
    let res = post_form(
        &app,
        &owner,
        &writer_path,
        &[("csrf_token", &csrf), ("role", "owner")],
    )
    .await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = post_form(
        &app,
        &owner,
        &owner_path,
        &[("csrf_token", &csrf), ("role", "admin")],
    )
    .await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.store.find_member(&team.owner.id).await?.map(|m| m.role),
        Some(MemberRole::Admin)
    );
    Ok(())
}

#[tokio::test]
async fn removing_a_member_ends_their_tokens_and_sessions_at_once() -> TestResult {
    let (app, team) = spawn_team().await?;
    let first = create_token(&app, &team.writer, "one").await?;
    let second = create_token(&app, &team.writer, "two").await?;
    let writer_browser = browser();
    app.sign_in(&writer_browser, WRITER_EMAIL).await?;
    assert!(app.is_signed_in(&writer_browser).await?);

    let (client, csrf) = signed_in(&app, ADMIN_EMAIL).await?;
    let path = format!("{MEMBERS}/{}/remove", team.writer.id);
    let body = app.get(&client, &path).await?.text().await?;
    assert_eq!(html::h1_texts(&body), [format!("Remove {WRITER_EMAIL}?")]);
    let text = html::text_of(&body);
    assert!(
        text.contains("Their 2 personal tokens will stop working"),
        "the dialog counts the tokens: {text}"
    );

    let res = post_htmx(&app, &client, &path, &csrf, &[]).await?;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()
            .get("hx-retarget")
            .and_then(|v| v.to_str().ok()),
        Some(format!("#row-{}", team.writer.id).as_str())
    );
    let body = res.text().await?;
    assert!(body.contains(&format!(
        "Removed {WRITER_EMAIL}; 2 personal tokens stopped working"
    )));

    for issued in [&first, &second] {
        assert_eq!(
            api_role(&app, &issued.secret).await?,
            StatusCode::UNAUTHORIZED
        );
    }
    assert!(
        !app.is_signed_in(&writer_browser).await?,
        "their session is over"
    );
    let res = app
        .attempt_sign_in(&browser(), WRITER_EMAIL, PASSWORD)
        .await?;
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "and they cannot sign in"
    );
    assert_eq!(count_audit(&app.store, "member_removed").await?, 1);

    // Gone is gone: the dialog and a second removal say so.
    assert_eq!(
        app.get(&client, &path).await?.status(),
        StatusCode::NOT_FOUND
    );
    // Nobody removes themselves.
    let own = format!("{MEMBERS}/{}/remove", team.admin.id);
    assert_eq!(
        app.get(&client, &own).await?.status(),
        StatusCode::FORBIDDEN
    );
    Ok(())
}

#[tokio::test]
async fn adding_a_member_checks_every_field_and_they_can_sign_in() -> TestResult {
    let (app, _team) = spawn_team().await?;
    let (client, csrf) = signed_in(&app, ADMIN_EMAIL).await?;
    let body = app
        .get(&client, "/settings/members/new")
        .await?
        .text()
        .await?;
    assert_eq!(html::h1_texts(&body), ["Add a member"]);
    // An Admin sees Owner offered but disabled, with the reason.
    let owner = html::one_with(&body, "input", "id", "member-role-owner");
    assert!(owner.attr("disabled").is_some());

    let res = post_form(
        &app,
        &client,
        MEMBERS,
        &[
            ("csrf_token", &csrf),
            ("email", "not an email"),
            ("role", "owner"),
            ("password", "short"),
        ],
    )
    .await?;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = res.text().await?;
    for id in ["member-email", "member-password"] {
        let field = html::one_with(&body, "input", "id", id);
        assert_eq!(field.attr("aria-invalid"), Some("true"), "{id}");
        assert!(
            body.contains(&format!(r#"id="{id}-error""#)),
            "{id} error is tied to it"
        );
    }
    assert!(body.contains("Only Owners can make a member an Owner"));
    assert_eq!(app.store.find_member_by_email("not an email").await?, None);

    let res = post_form(
        &app,
        &client,
        MEMBERS,
        &[
            ("csrf_token", &csrf),
            ("email", " New.Person@Example.com "),
            ("role", "writer"),
            ("password", "a long enough password"),
        ],
    )
    .await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let added = app
        .store
        .find_member_by_email("new.person@example.com")
        .await?
        .expect("added");
    assert_eq!(added.role, MemberRole::Writer);
    // The same email again is refused on the form.
    let res = post_form(
        &app,
        &client,
        MEMBERS,
        &[
            ("csrf_token", &csrf),
            ("email", "new.person@example.com"),
            ("role", "reader"),
            ("password", "a long enough password"),
        ],
    )
    .await?;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await?.contains("already a member"));

    let newcomer = browser();
    let res = app
        .attempt_sign_in(
            &newcomer,
            "new.person@example.com",
            "a long enough password",
        )
        .await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // The page shows their sign-in; the password is nowhere in the log.
    let body = app.get(&client, MEMBERS).await?.text().await?;
    let row = html::elements(&body, "tr")
        .into_iter()
        .find(|tr| tr.text().contains("new.person@example.com"))
        .expect("their row");
    assert!(
        row.find("time").len() == 1,
        "a last sign-in time: {}",
        row.text()
    );
    let audit = app.get(&client, "/settings/audit").await?.text().await?;
    assert!(audit.contains("Member added") && !audit.contains("a long enough password"));
    Ok(())
}
