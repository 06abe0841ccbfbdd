//! Signing in: the happy path, wrong credentials, and where the member lands.

use reqwest::StatusCode;
use reqwest::header;

use crate::helpers::{
    HOME, OWNER_EMAIL, PASSWORD, TestResult, browser, encode, header_str, location, spawn_app,
};
use crate::html;

#[tokio::test]
async fn sign_in_page_has_the_form() -> TestResult {
    let app = spawn_app().await?;
    let client = browser();
    let res = app.get(&client, "/login").await?;
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await?;
    assert_eq!(html::h1_texts(&body), ["Sign in"]);
    let form = html::one_with(&body, "form", "action", "/login");
    assert_eq!(form.attr("method"), Some("post"));
    let labels: Vec<String> = form.find("label").iter().map(|l| l.text()).collect();
    assert_eq!(labels, ["Email", "Password"]);
    assert_eq!(
        html::one_with(&form.inner, "input", "name", "password").attr("type"),
        Some("password")
    );
    let buttons: Vec<String> = form.find("button").iter().map(|b| b.text()).collect();
    assert_eq!(buttons, ["Sign in"]);
    assert!(
        html::input_value(&body, "csrf_token").is_some_and(|t| t.len() >= 32),
        "the form carries a CSRF token"
    );
    // No alert before anything was submitted.
    assert!(html::elements_with(&body, "div", "role", "alert").is_empty());
    Ok(())
}

#[tokio::test]
async fn sign_in_lands_on_the_authorization_page() -> TestResult {
    let app = spawn_app().await?;
    let client = browser();
    let csrf = app.login_csrf(&client).await?;
    let res = app
        .post_login(&client, &csrf, OWNER_EMAIL, PASSWORD, None)
        .await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res).as_deref(), Some(HOME));

    let res = app.get(&client, HOME).await?;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        header_str(res.headers(), "cache-control").is_some_and(|v| v.contains("no-store")),
        "signed-in pages are not cached"
    );
    let body = res.text().await?;
    assert!(body.contains("<h1>Authorization</h1>"), "{body}");
    assert_eq!(html::h1_texts(&body), ["Authorization"], "one h1");
    assert!(
        html::text_of(&body).contains(OWNER_EMAIL),
        "shows who is signed in"
    );

    // "Sign out" is a button in a POST form to /logout with the CSRF token.
    let logout = html::one_with(&body, "form", "action", "/logout");
    assert_eq!(logout.attr("method"), Some("post"));
    assert!(
        logout.find("button").iter().any(|b| b.text() == "Sign out"),
        "a Sign out button: {}",
        logout.inner
    );
    assert!(html::input_value(&logout.inner, "csrf_token").is_some_and(|t| !t.is_empty()));

    // The sidebar link to Organization settings.
    let settings_links: Vec<_> = html::elements(&body, "a")
        .into_iter()
        .filter(|a| a.text() == "Organization settings")
        .collect();
    assert_eq!(settings_links.len(), 1, "one Organization settings link");
    assert_eq!(settings_links[0].attr("href"), Some(HOME));

    // The settings navigation marks Authorization as the current page.
    let current = html::one_with(&body, "a", "aria-current", "page");
    assert_eq!(current.text(), "Authorization");
    assert_eq!(current.attr("href"), Some(HOME));
    let audit_links = html::elements_with(&body, "a", "href", "/settings/audit");
    assert_eq!(audit_links.len(), 1);
    assert_eq!(audit_links[0].text(), "Audit log");
    assert_eq!(audit_links[0].attr("aria-current"), None);
    Ok(())
}

#[tokio::test]
async fn audit_log_page_is_the_current_settings_page_there() -> TestResult {
    let app = spawn_app().await?;
    let client = browser();
    app.sign_in(&client, OWNER_EMAIL).await?;
    let res = app.get(&client, "/settings/audit").await?;
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await?;
    assert_eq!(html::h1_texts(&body), ["Audit log"]);
    let current = html::one_with(&body, "a", "aria-current", "page");
    assert_eq!(current.text(), "Audit log");
    Ok(())
}

#[tokio::test]
async fn wrong_password_shows_an_alert_and_keeps_the_email() -> TestResult {
    let app = spawn_app().await?;
    let client = browser();
    let res = app
        .attempt_sign_in(&client, OWNER_EMAIL, "not the password")
        .await?;
    assert!(res.status().is_client_error(), "{}", res.status());
    assert_eq!(location(&res), None, "no redirect on failure");
    let body = res.text().await?;
    let alerts = html::elements_with(&body, "div", "role", "alert");
    assert_eq!(alerts.len(), 1, "{body}");
    assert_eq!(alerts[0].text(), "Invalid email or password");
    let email = html::one_with(&body, "input", "name", "email");
    assert_eq!(email.attr("value"), Some(OWNER_EMAIL));
    // The password is never echoed back.
    assert!(!body.contains("not the password"));
    assert_eq!(
        html::one_with(&body, "input", "name", "password").attr("value"),
        None
    );
    assert!(
        !app.is_signed_in(&client).await?,
        "no member in the session"
    );
    Ok(())
}

#[tokio::test]
async fn unknown_email_and_wrong_password_look_the_same() -> TestResult {
    let app = spawn_app().await?;
    // One client, so both pages carry the same CSRF token (masked afresh
    // on each page, so it is blanked out before comparing).
    let client = browser();
    let csrf = app.login_csrf(&client).await?;
    let unknown = "nobody@example.com";

    let wrong_password = app
        .post_login(&client, &csrf, OWNER_EMAIL, "not the password", None)
        .await?;
    let wrong_status = wrong_password.status();
    let wrong_body = wrong_password.text().await?;

    let unknown_email = app
        .post_login(&client, &csrf, unknown, "not the password", None)
        .await?;
    let unknown_status = unknown_email.status();
    let unknown_body = unknown_email.text().await?;

    assert_eq!(wrong_status, unknown_status);
    assert!(wrong_body.contains("Invalid email or password"));
    // Apart from the echoed email, the pages are byte for byte the same.
    assert_eq!(
        html::without_csrf_tokens(&wrong_body).replace(OWNER_EMAIL, "EMAIL"),
        html::without_csrf_tokens(&unknown_body).replace(unknown, "EMAIL"),
        "the page must not hint whether the email exists"
    );
    assert!(!app.is_signed_in(&client).await?);
    Ok(())
}

#[tokio::test]
async fn email_is_matched_case_insensitively() -> TestResult {
    let app = spawn_app().await?;
    let client = browser();
    let res = app
        .attempt_sign_in(&client, "  Owner@Example.COM ", PASSWORD)
        .await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(app.is_signed_in(&client).await?);
    Ok(())
}

#[tokio::test]
async fn signed_in_member_visiting_sign_in_goes_on() -> TestResult {
    let app = spawn_app().await?;
    let client = browser();
    app.sign_in(&client, OWNER_EMAIL).await?;
    let res = app.get(&client, "/login?next=%2Fsettings%2Faudit").await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res).as_deref(), Some("/settings/audit"));
    Ok(())
}

#[tokio::test]
async fn expired_session_goes_back_to_the_page_after_sign_in() -> TestResult {
    let app = spawn_app().await?;
    let client = browser();
    let res = app.get(&client, "/settings/authorization?x=1").await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let login_url = location(&res).unwrap_or_default();
    assert_eq!(login_url, "/login?next=%2Fsettings%2Fauthorization%3Fx%3D1");

    // The sign-in page carries `next` in its form…
    let res = app.get(&client, &login_url).await?;
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await?;
    let next = html::input_value(&body, "next");
    assert_eq!(next.as_deref(), Some("/settings/authorization?x=1"));
    let csrf = html::input_value(&body, "csrf_token").unwrap_or_default();

    // …and signing in with it lands there.
    let res = app
        .post_login(&client, &csrf, OWNER_EMAIL, PASSWORD, next.as_deref())
        .await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&res).as_deref(),
        Some("/settings/authorization?x=1")
    );
    let res = app.get(&client, "/settings/authorization?x=1").await?;
    assert_eq!(res.status(), StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn htmx_request_without_session_gets_hx_redirect() -> TestResult {
    let app = spawn_app().await?;
    let client = browser();
    let current = app.url("/settings/audit?page=2");
    let res = client
        .get(app.url(HOME))
        .header("HX-Request", "true")
        .header("HX-Current-URL", &current)
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        location(&res),
        None,
        "htmx must not follow a 3xx into a fragment"
    );
    assert_eq!(
        header_str(res.headers(), "hx-redirect"),
        Some("/login?next=%2Fsettings%2Faudit%3Fpage%3D2")
    );

    // A state-changing htmx request without a session is sent the same way.
    let res = client
        .post(app.url("/logout"))
        .header("HX-Request", "true")
        .header("HX-Current-URL", &current)
        .header("X-CSRF-Token", "whatever")
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header_str(res.headers(), "hx-redirect"),
        Some("/login?next=%2Fsettings%2Faudit%3Fpage%3D2")
    );
    Ok(())
}

#[tokio::test]
async fn next_pointing_to_another_site_is_not_followed() -> TestResult {
    let app = spawn_app().await?;
    for evil in [
        "//evil.example",
        "https://evil.example",
        "/\\evil.example",
        "http://evil.example/settings/authorization",
        "///evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "evil.example",
        "/\r\nSet-Cookie: x=y",
    ] {
        let client = browser();
        // The sign-in page does not carry it into its form…
        let res = app
            .get(&client, &format!("/login?next={}", encode(evil)))
            .await?;
        assert_eq!(res.status(), StatusCode::OK, "{evil:?}");
        let body = res.text().await?;
        assert_eq!(
            html::input_value(&body, "next").as_deref(),
            Some(HOME),
            "{evil:?}"
        );
        let csrf = html::input_value(&body, "csrf_token").unwrap_or_default();
        // …and a posted one is ignored.
        let res = app
            .post_login(&client, &csrf, OWNER_EMAIL, PASSWORD, Some(evil))
            .await?;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{evil:?}");
        let to = location(&res).unwrap_or_default();
        assert_eq!(to, HOME, "next={evil:?} redirected to {to:?}");
        assert!(res.headers().get_all(header::LOCATION).iter().count() == 1);
    }
    Ok(())
}
