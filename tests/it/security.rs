//! Cross-site request forgery defences, security headers and the health check.

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};

use crate::helpers::{
    HOME, OWNER_EMAIL, PASSWORD, TestResult, browser, header_str, location, set_cookies, spawn_app,
};
use crate::html;

#[tokio::test]
async fn cross_site_post_is_refused_and_changes_nothing() -> TestResult {
    let app = spawn_app().await?;
    let client = browser();
    let csrf = app.sign_in(&client, OWNER_EMAIL).await?;

    // Even with the right CSRF token, a browser-declared cross-site post fails.
    let res = client
        .post(app.url("/logout"))
        .header("Origin", "https://evil.example")
        .header("Sec-Fetch-Site", "cross-site")
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let body = res.text().await?;
    assert_eq!(html::h1_texts(&body), ["Request refused"]);
    assert!(app.is_signed_in(&client).await?, "still signed in");

    // An old browser without Sec-Fetch-Site: the Origin decides.
    let res = client
        .post(app.url("/logout"))
        .header("Origin", "https://evil.example")
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(app.is_signed_in(&client).await?, "still signed in");

    // Same-site but not same-origin is not good enough either.
    let res = client
        .post(app.url("/logout"))
        .header("Sec-Fetch-Site", "same-site")
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(app.is_signed_in(&client).await?, "still signed in");

    // A cross-site sign-in attempt (login CSRF) is refused too.
    let other = browser();
    let login_csrf = app.login_csrf(&other).await?;
    let res = other
        .post(app.url("/login"))
        .header("Origin", "https://evil.example")
        .header("Sec-Fetch-Site", "cross-site")
        .form(&[
            ("email", OWNER_EMAIL),
            ("password", PASSWORD),
            ("csrf_token", login_csrf.as_str()),
        ])
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(!app.is_signed_in(&other).await?);
    Ok(())
}

#[tokio::test]
async fn same_origin_browser_post_is_accepted() -> TestResult {
    let app = spawn_app().await?;
    let client = browser();
    let csrf = app.sign_in(&client, OWNER_EMAIL).await?;
    // What Chromium sends for a same-origin form post (Referrer-Policy
    // same-origin keeps Origin from being "null").
    let origin = format!("http://{}", app.addr);
    let res = client
        .post(app.url("/logout"))
        .header("Origin", &origin)
        .header("Sec-Fetch-Site", "same-origin")
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(!app.is_signed_in(&client).await?, "signed out");
    Ok(())
}

#[tokio::test]
async fn htmx_csrf_header_is_accepted() -> TestResult {
    let app = spawn_app().await?;
    let client = browser();
    let csrf = app.sign_in(&client, OWNER_EMAIL).await?;
    let res = client
        .post(app.url("/logout"))
        .header("X-CSRF-Token", "not-the-token")
        .header("HX-Request", "true")
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(app.is_signed_in(&client).await?);
    let res = client
        .post(app.url("/logout"))
        .header("X-CSRF-Token", &csrf)
        .send()
        .await?;
    assert!(res.status().is_redirection(), "{}", res.status());
    assert!(!app.is_signed_in(&client).await?);
    Ok(())
}

#[tokio::test]
async fn post_without_csrf_token_gets_the_expired_form_page() -> TestResult {
    let app = spawn_app().await?;
    let client = browser();
    let csrf = app.sign_in(&client, OWNER_EMAIL).await?;
    let referer = app.url("/settings/audit");
    for body in ["", "csrf_token=", "csrf_token=wrong", "other=1"] {
        let res = client
            .post(app.url("/logout"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Referer", &referer)
            .body(body)
            .send()
            .await?;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "body {body:?}");
        let page = res.text().await?;
        assert_eq!(html::h1_texts(&page), ["This form has expired"]);
        assert!(html::text_of(&page).contains("Nothing was changed"));
        let reload: Vec<_> = html::elements(&page, "a")
            .into_iter()
            .filter(|a| a.text() == "Reload the page")
            .collect();
        assert_eq!(reload.len(), 1, "a reload link: {page}");
        assert_eq!(reload[0].attr("href"), Some("/settings/audit"));
        assert!(!page.contains(&csrf), "the error page leaks no token");
        assert!(app.is_signed_in(&client).await?, "still signed in");
    }
    // Without a form body at all.
    let res = client.post(app.url("/logout")).send().await?;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(app.is_signed_in(&client).await?, "still signed in");
    Ok(())
}

#[tokio::test]
async fn sign_in_with_a_wrong_csrf_token_is_refused() -> TestResult {
    let app = spawn_app().await?;
    let client = browser();
    let csrf = app.login_csrf(&client).await?;
    // Same length, last character changed.
    let last = if csrf.ends_with('0') { '1' } else { '0' };
    let wrong = format!("{}{last}", &csrf[..csrf.len() - 1]);
    for token in [wrong.as_str(), "", "x"] {
        let res = app
            .post_login(&client, token, OWNER_EMAIL, PASSWORD, None)
            .await?;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "token {token:?}");
        assert_eq!(location(&res), None);
        assert!(!app.is_signed_in(&client).await?, "no sign-in happened");
    }
    // Without the field at all.
    let res = client
        .post(app.url("/login"))
        .form(&[("email", OWNER_EMAIL), ("password", PASSWORD)])
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(!app.is_signed_in(&client).await?);
    // A client that never loaded the page (no session) cannot sign in either.
    let res = browser()
        .post(app.url("/login"))
        .form(&[
            ("email", OWNER_EMAIL),
            ("password", PASSWORD),
            ("csrf_token", csrf.as_str()),
        ])
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // The right token still works afterwards.
    let res = app
        .post_login(&client, &csrf, OWNER_EMAIL, PASSWORD, None)
        .await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    Ok(())
}

#[tokio::test]
async fn csrf_token_changes_at_sign_in() -> TestResult {
    let app = spawn_app().await?;
    let client = browser();
    let before = app.login_csrf(&client).await?;
    let after = app.sign_in(&client, OWNER_EMAIL).await?;
    assert_ne!(before, after);
    // The pre-sign-in token no longer works for the signed-in session.
    let res = client
        .post(app.url("/logout"))
        .form(&[("csrf_token", before.as_str())])
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(app.is_signed_in(&client).await?);
    Ok(())
}

#[tokio::test]
async fn healthz_is_ok_without_a_session() -> TestResult {
    let app = spawn_app().await?;
    let client = browser();
    let res = app.get(&client, "/healthz").await?;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(set_cookies(res.headers()).is_empty(), "no cookie");
    assert_eq!(res.text().await?, "ok");
    // HEAD too, for load balancers that use it.
    let res = client.head(app.url("/healthz")).send().await?;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(set_cookies(res.headers()).is_empty(), "no cookie");
    Ok(())
}

fn assert_security_headers(what: &str, headers: &HeaderMap) {
    let csp = header_str(headers, "content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no Content-Security-Policy"));
    let directives: Vec<&str> = csp.split(';').map(str::trim).collect();
    for wanted in [
        "default-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'none'",
    ] {
        assert!(
            directives.contains(&wanted),
            "{what}: CSP {csp:?} lacks {wanted}"
        );
    }
    assert!(
        !csp.contains("unsafe"),
        "{what}: CSP {csp:?} allows unsafe-*"
    );
    assert!(!csp.contains('*'), "{what}: CSP {csp:?} has a wildcard");
    assert_eq!(
        header_str(headers, "x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(
        header_str(headers, "referrer-policy"),
        Some("same-origin"),
        "{what}"
    );
    assert_eq!(
        headers.get_all("content-security-policy").iter().count(),
        1,
        "{what}: one CSP"
    );
}

#[tokio::test]
async fn every_response_carries_the_security_headers() -> TestResult {
    let app = spawn_app().await?;
    let client = browser();
    let anonymous = browser();
    app.sign_in(&client, OWNER_EMAIL).await?;
    let css = {
        let body = app.get(&client, HOME).await?.text().await?;
        html::elements_with(&body, "link", "rel", "stylesheet")
            .first()
            .and_then(|l| l.attr("href").map(str::to_string))
            .unwrap_or_default()
    };
    assert!(css.starts_with("/static/"));

    let cases: Vec<(&str, Method, String, &reqwest::Client, StatusCode)> = vec![
        (
            "sign-in page",
            Method::GET,
            "/login".into(),
            &anonymous,
            StatusCode::OK,
        ),
        (
            "signed-in page",
            Method::GET,
            HOME.into(),
            &client,
            StatusCode::OK,
        ),
        (
            "audit log",
            Method::GET,
            "/settings/audit".into(),
            &client,
            StatusCode::OK,
        ),
        (
            "health check",
            Method::GET,
            "/healthz".into(),
            &anonymous,
            StatusCode::OK,
        ),
        (
            "not found",
            Method::GET,
            "/nope".into(),
            &anonymous,
            StatusCode::NOT_FOUND,
        ),
        (
            "static not found",
            Method::GET,
            "/static/nope.css".into(),
            &anonymous,
            StatusCode::NOT_FOUND,
        ),
        (
            "method not allowed",
            Method::POST,
            "/healthz".into(),
            &anonymous,
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            "redirect",
            Method::GET,
            HOME.into(),
            &anonymous,
            StatusCode::SEE_OTHER,
        ),
        (
            "csrf refusal",
            Method::POST,
            "/logout".into(),
            &client,
            StatusCode::FORBIDDEN,
        ),
        (
            "static asset",
            Method::GET,
            css.clone(),
            &anonymous,
            StatusCode::OK,
        ),
    ];
    for (what, method, path, who, status) in cases {
        let res = who.request(method, app.url(&path)).send().await?;
        assert_eq!(res.status(), status, "{what}");
        assert_security_headers(what, res.headers());
        if path != css {
            assert!(
                header_str(res.headers(), "cache-control").is_some_and(|v| v.contains("no-store")),
                "{what}: Cache-Control no-store"
            );
        }
    }
    Ok(())
}

#[tokio::test]
async fn pages_are_html_with_a_charset() -> TestResult {
    let app = spawn_app().await?;
    let client = browser();
    for path in ["/login", "/nope"] {
        let res = app.get(&client, path).await?;
        let content_type = header_str(res.headers(), "content-type").unwrap_or_default();
        assert!(
            content_type.starts_with("text/html") && content_type.contains("charset=utf-8"),
            "{path}: {content_type}"
        );
        let body = res.text().await?;
        assert!(
            body.to_ascii_lowercase().starts_with("<!doctype html>"),
            "{path}"
        );
        assert!(body.contains("<html lang=\"en\">"), "{path}");
        assert!(body.contains("Skip to main content"), "{path}");
    }
    Ok(())
}

#[tokio::test]
async fn signed_in_pages_have_no_inline_script() -> TestResult {
    let app = spawn_app().await?;
    let client = browser();
    app.sign_in(&client, OWNER_EMAIL).await?;
    for path in [HOME, "/settings/audit", "/nope"] {
        let body = app.get(&client, path).await?.text().await?;
        for script in html::elements(&body, "script") {
            assert!(
                script
                    .attr("src")
                    .is_some_and(|s| s.starts_with("/static/")),
                "{path}: script without our own src: {script:?}"
            );
            assert!(script.inner.trim().is_empty(), "{path}: inline script");
        }
        assert!(!body.contains(" onclick="), "{path}: inline handler");
        assert!(!body.contains(" style="), "{path}: inline style");
    }
    Ok(())
}

#[tokio::test]
async fn expired_form_reload_link_leads_to_a_page() -> TestResult {
    let app = spawn_app().await?;
    let client = browser();
    app.sign_in(&client, OWNER_EMAIL).await?;
    // With a Referer (the usual case) and without one (privacy settings,
    // extensions, or a proxy that strips it).
    for referer in [Some(app.url("/settings/audit")), None] {
        let mut req = client
            .post(app.url("/logout"))
            .form(&[("csrf_token", "stale")]);
        if let Some(referer) = &referer {
            req = req.header("Referer", referer);
        }
        let res = req.send().await?;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        let page = res.text().await?;
        let href = html::elements(&page, "a")
            .into_iter()
            .find(|a| a.text() == "Reload the page")
            .and_then(|a| a.attr("href").map(str::to_string))
            .unwrap_or_else(|| panic!("no reload link: {page}"));
        // Following the link (a GET, as a browser does) shows a page.
        let res = app.get(&client, &href).await?;
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "referer {referer:?}: the reload link {href} answers {}",
            res.status()
        );
    }
    assert!(app.is_signed_in(&client).await?);
    Ok(())
}
