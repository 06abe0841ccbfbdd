//! Sign-in throttling: five failures a minute per client IP or per email.

use std::net::{IpAddr, Ipv4Addr};

use reqwest::{Response, StatusCode};

use crate::helpers::{
    OWNER_EMAIL, PASSWORD, READER_EMAIL, TestResult, browser, browser_from, header_str, spawn_app,
};
use crate::html;

const THROTTLED: &str = "Too many sign-in attempts, try again in";

async fn assert_throttled(res: Response) -> TestResult {
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = header_str(res.headers(), "retry-after")
        .and_then(|v| v.parse().ok())
        .expect("a numeric Retry-After header");
    assert!(
        (1..=60).contains(&retry_after),
        "Retry-After {retry_after} within the one-minute window"
    );
    let body = res.text().await?;
    let alert = html::elements_with(&body, "div", "role", "alert");
    assert_eq!(alert.len(), 1, "{body}");
    let text = alert[0].text();
    assert!(text.starts_with(THROTTLED), "{text}");
    assert!(
        text.ends_with(&format!("{retry_after} s")),
        "the message and Retry-After agree: {text} vs {retry_after}"
    );
    Ok(())
}

#[tokio::test]
async fn sixth_attempt_after_five_failures_is_throttled() -> TestResult {
    let app = spawn_app().await?;
    let client = browser();
    let csrf = app.login_csrf(&client).await?;
    for attempt in 1..=5 {
        let res = app
            .post_login(&client, &csrf, OWNER_EMAIL, "wrong password", None)
            .await?;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "attempt {attempt}");
        assert!(res.text().await?.contains("Invalid email or password"));
    }
    // Even the right password is refused now…
    let res = app
        .post_login(&client, &csrf, OWNER_EMAIL, PASSWORD, None)
        .await?;
    assert_throttled(res).await?;
    assert!(!app.is_signed_in(&client).await?, "no sign-in happened");
    // …and so is another member from the same address.
    let res = app
        .post_login(&client, &csrf, READER_EMAIL, PASSWORD, None)
        .await?;
    assert_throttled(res).await?;
    assert!(!app.is_signed_in(&client).await?);
    Ok(())
}

#[tokio::test]
async fn successful_sign_ins_do_not_count() -> TestResult {
    let app = spawn_app().await?;
    for _ in 0..7 {
        let client = browser();
        app.sign_in(&client, OWNER_EMAIL).await?;
    }
    Ok(())
}

#[tokio::test]
async fn failures_for_one_email_throttle_it_from_every_address() -> TestResult {
    let app = spawn_app().await?;
    let attacker = browser_from(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));
    let csrf = app.login_csrf(&attacker).await?;
    for attempt in 1..=5 {
        let res = app
            .post_login(&attacker, &csrf, OWNER_EMAIL, "guess", None)
            .await?;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }

    let elsewhere = browser_from(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)));
    let csrf = app.login_csrf(&elsewhere).await?;
    // The attacked email is throttled from a fresh address…
    let res = app
        .post_login(&elsewhere, &csrf, OWNER_EMAIL, PASSWORD, None)
        .await?;
    assert_throttled(res).await?;
    // …also written differently…
    let res = app
        .post_login(&elsewhere, &csrf, " OWNER@example.com", PASSWORD, None)
        .await?;
    assert_throttled(res).await?;
    // …while another member at that address is not.
    let res = app
        .post_login(&elsewhere, &csrf, READER_EMAIL, PASSWORD, None)
        .await?;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    Ok(())
}

/// Guesses sent all at once are counted before any password is checked, so
/// no more than five of them are ever tried.
#[tokio::test]
async fn parallel_guesses_cannot_slip_past_the_limit() -> TestResult {
    let app = spawn_app().await?;
    let client = browser();
    let csrf = app.login_csrf(&client).await?;
    let url = app.url("/login");
    let mut guesses = tokio::task::JoinSet::new();
    for i in 0..20 {
        let (client, url, csrf) = (client.clone(), url.clone(), csrf.clone());
        guesses.spawn(async move {
            let password = format!("guess {i}");
            client
                .post(&url)
                .form(&[
                    ("email", OWNER_EMAIL),
                    ("password", password.as_str()),
                    ("csrf_token", csrf.as_str()),
                    ("next", ""),
                ])
                .send()
                .await
                .map(|res| res.status())
        });
    }
    let mut statuses = Vec::new();
    while let Some(joined) = guesses.join_next().await {
        statuses.push(joined??);
    }
    let tried = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(tried + refused, 20, "{statuses:?}");
    assert!(tried <= 5, "{tried} guesses were checked: {statuses:?}");
    Ok(())
}
