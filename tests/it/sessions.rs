//! The session cookie: its attributes, its replacement at sign-in (no
//! fixation), and its invalidation on the server at sign-out.

use reqwest::StatusCode;
use reqwest::header;

use crate::helpers::{
    HOME, OWNER_EMAIL, PASSWORD, SESSION_COOKIE, TestApp, TestResult, bare_client, browser,
    location, session_cookie_value, session_set_cookie, set_cookies, spawn_app,
};
use crate::html;

/// Requests `HOME` with only the given session cookie value.
async fn get_home_with_cookie(app: &TestApp, value: &str) -> anyhow::Result<reqwest::Response> {
    Ok(bare_client()
        .get(app.url(HOME))
        .header(header::COOKIE, format!("{SESSION_COOKIE}={value}"))
        .send()
        .await?)
}

fn assert_cookie_attributes(line: &str) {
    let attrs: Vec<String> = line
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    assert!(attrs.iter().any(|a| a == "httponly"), "HttpOnly: {line}");
    assert!(
        attrs
            .iter()
            .any(|a| a == "samesite=lax" || a == "samesite=strict"),
        "SameSite=Lax or Strict: {line}"
    );
    assert!(
        attrs.iter().any(|a| a == "samesite=lax"),
        "SameSite=Lax: {line}"
    );
    assert!(attrs.iter().any(|a| a == "path=/"), "Path=/: {line}");
}

#[tokio::test]
async fn session_cookie_is_replaced_at_sign_in() -> TestResult {
    let app = spawn_app().await?;
    let client = browser();

    let res = app.get(&client, "/login").await?;
    assert_eq!(res.status(), StatusCode::OK);
    let before_line = session_set_cookie(res.headers()).expect("GET /login starts a session");
    assert_cookie_attributes(&before_line);
    let before = session_cookie_value(res.headers()).unwrap_or_default();
    assert!(!before.is_empty());
    assert_eq!(
        set_cookies(res.headers()).len(),
        1,
        "only the session cookie"
    );
    let body = res.text().await?;
    let csrf = html::input_value(&body, "csrf_token").unwrap_or_default();
    assert!(
        !before_line.contains(&csrf),
        "the CSRF token never travels in a cookie"
    );

    let res = app
        .post_login(&client, &csrf, OWNER_EMAIL, PASSWORD, None)
        .await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let after_line = session_set_cookie(res.headers()).expect("sign-in sets the session cookie");
    assert_cookie_attributes(&after_line);
    let after = session_cookie_value(res.headers()).unwrap_or_default();
    assert!(!after.is_empty());
    assert_ne!(before, after, "the session id changes at sign-in");
    for line in set_cookies(res.headers()) {
        assert!(
            line.starts_with(&format!("{SESSION_COOKIE}=")),
            "unexpected cookie {line}"
        );
    }

    // The new cookie alone is a signed-in session…
    let res = get_home_with_cookie(&app, &after).await?;
    assert_eq!(res.status(), StatusCode::OK);
    // …and the one from before sign-in is not (no session fixation).
    let res = get_home_with_cookie(&app, &before).await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).unwrap_or_default().starts_with("/login"));
    Ok(())
}

#[tokio::test]
async fn sign_out_makes_the_old_cookie_useless() -> TestResult {
    let app = spawn_app().await?;
    let client = browser();
    let csrf = app.login_csrf(&client).await?;
    let res = app
        .post_login(&client, &csrf, OWNER_EMAIL, PASSWORD, None)
        .await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let cookie = session_cookie_value(res.headers()).expect("sign-in sets the session cookie");
    let res = app.get(&client, HOME).await?;
    let body = res.text().await?;
    let csrf = html::input_value(&body, "csrf_token").unwrap_or_default();

    // Before signing out the copied cookie works, so the check below means
    // something.
    assert_eq!(
        get_home_with_cookie(&app, &cookie).await?.status(),
        StatusCode::OK
    );

    let res = client
        .post(app.url("/logout"))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res).as_deref(), Some("/login?signed_out=1"));
    let res = app.get(&client, "/login?signed_out=1").await?;
    let body = res.text().await?;
    let status = html::elements_with(&body, "div", "role", "status");
    assert_eq!(status.len(), 1);
    assert_eq!(status[0].text(), "You have signed out.");

    // The old cookie, replayed by someone else, is worthless now.
    let res = get_home_with_cookie(&app, &cookie).await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&res).as_deref(),
        Some("/login?next=%2Fsettings%2Fauthorization")
    );
    // Also for a state-changing request with the old CSRF token.
    let res = bare_client()
        .post(app.url("/logout"))
        .header(header::COOKIE, format!("{SESSION_COOKIE}={cookie}"))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).unwrap_or_default().starts_with("/login"));
    assert!(!app.is_signed_in(&client).await?);
    Ok(())
}

#[tokio::test]
async fn garbage_session_cookies_are_treated_as_signed_out() -> TestResult {
    let app = spawn_app().await?;
    for value in [
        "",
        "x",
        "%%%",
        "AAAAAAAAAAAAAAAAAAAAAA",
        "\"quoted\"",
        &"A".repeat(4000),
    ] {
        let res = get_home_with_cookie(&app, value).await?;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "cookie {value:?}");
        assert!(location(&res).unwrap_or_default().starts_with("/login"));
    }
    Ok(())
}

/// The database keeps a session under the SHA-256 of its id, never the id
/// (the cookie) itself: a copy of the database signs nobody in.
#[tokio::test]
async fn the_database_never_holds_a_session_cookie() -> TestResult {
    let app = spawn_app().await?;
    let client = bare_client();
    let csrf = {
        let res = client.get(app.url("/login")).send().await?;
        let cookie = session_cookie_value(res.headers()).expect("a session for the form");
        let body = res.text().await?;
        (
            cookie,
            html::input_value(&body, "csrf_token").unwrap_or_default(),
        )
    };
    let res = client
        .post(app.url("/login"))
        .header(header::COOKIE, format!("{SESSION_COOKIE}={}", csrf.0))
        .form(&[
            ("email", OWNER_EMAIL),
            ("password", PASSWORD),
            ("csrf_token", csrf.1.as_str()),
        ])
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let cookie = session_cookie_value(res.headers()).expect("a new session at sign-in");
    assert_eq!(
        get_home_with_cookie(&app, &cookie).await?.status(),
        StatusCode::OK
    );
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT id, data FROM sessions")
        .fetch_all(app.store.sql())
        .await?;
    assert!(!rows.is_empty(), "the session is stored");
    for (id, data) in &rows {
        assert!(
            !id.contains(&cookie) && !data.contains(&cookie),
            "{id} {data}"
        );
        assert_eq!(id.len(), 64, "a SHA-256 digest: {id}");
    }
    Ok(())
}

/// A session ended elsewhere (signed out on another instance, the member
/// removed) stays ended, even when a request still in flight with it saves
/// a change afterwards.
#[tokio::test]
async fn a_save_does_not_bring_back_an_ended_session() -> TestResult {
    use tower_sessions::SessionStore;
    use tower_sessions::session::{Id, Record};
    let app = spawn_app().await?;
    let sessions = app.state.store.sessions();
    let mut record = Record {
        id: Id::default(),
        data: Default::default(),
        expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
    };
    sessions.create(&mut record).await?;
    assert!(sessions.load(&record.id).await?.is_some());
    sessions.delete(&record.id).await?;
    record
        .data
        .insert("flash".into(), serde_json::json!("saved late"));
    sessions.save(&record).await?;
    assert!(
        sessions.load(&record.id).await?.is_none(),
        "the ended session came back"
    );
    Ok(())
}
