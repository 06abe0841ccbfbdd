//! Abuse resistance (issue 10): whose address counts, oversized request
//! heads, and 503 with Retry-After under overload or slowness.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::db::TestDb;
use crate::helpers::{
    OWNER_EMAIL, READER_EMAIL, TestApp, TestResult, bare_client, launch_configured,
    parse_raw_response,
};
use latchkey::domain::MemberRole;

const MEMBERS: &[(&str, MemberRole)] = &[
    (OWNER_EMAIL, MemberRole::Owner),
    (READER_EMAIL, MemberRole::Reader),
];

async fn launch(configure: impl FnOnce(&mut latchkey::config::Config)) -> anyhow::Result<TestApp> {
    launch_configured(Arc::new(TestDb::new().await?), MEMBERS, configure).await
}

/// A browser that says, through `X-Forwarded-For`, that it is `forwarded`.
fn browser_claiming(forwarded: &str) -> reqwest::Client {
    let mut headers = HeaderMap::new();
    headers.insert("x-forwarded-for", HeaderValue::from_str(forwarded).unwrap());
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .default_headers(headers)
        .build()
        .unwrap()
}

async fn sign_in_ips(app: &TestApp) -> anyhow::Result<Vec<Option<String>>> {
    Ok(
        sqlx::query_scalar("SELECT client_ip FROM audit_events WHERE action = 'sign_in'")
            .fetch_all(app.store.sql())
            .await?,
    )
}

#[tokio::test]
async fn x_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() -> TestResult {
    // Not trusted (the default): the socket's address, whatever the header says.
    let app = launch(|_| {}).await?;
    app.sign_in(&browser_claiming("203.0.113.9"), OWNER_EMAIL)
        .await?;
    assert_eq!(sign_in_ips(&app).await?, [Some("127.0.0.1".to_string())]);

    // Trusted: the client the proxy saw, past the proxies it trusts.
    let app = launch(|c| c.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()]).await?;
    app.sign_in(
        &browser_claiming("6.6.6.6, 203.0.113.9, 127.0.0.5"),
        OWNER_EMAIL,
    )
    .await?;
    assert_eq!(sign_in_ips(&app).await?, [Some("203.0.113.9".to_string())]);

    // A trusted proxy does not make the sign-in throttle forgeable from
    // elsewhere: a client outside the trusted range is its own address.
    let app = launch(|c| c.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap()]).await?;
    app.sign_in(&browser_claiming("203.0.113.9"), OWNER_EMAIL)
        .await?;
    assert_eq!(sign_in_ips(&app).await?, [Some("127.0.0.1".to_string())]);
    Ok(())
}

#[tokio::test]
async fn oversized_addresses_and_headers_are_refused_in_each_front_doors_words() -> TestResult {
    let app = launch(|_| {}).await?;
    let client = bare_client();
    let long = "a".repeat(9 * 1024);

    let res = client
        .get(app.url(&format!("/settings/authorization?q={long}")))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::URI_TOO_LONG);
    assert!(
        res.headers()["content-type"]
            .to_str()?
            .starts_with("text/html")
    );
    assert!(res.text().await?.contains("That request was too large"));

    let res = client
        .get(app.url(&format!("/api/v2/tokens?x={long}")))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::URI_TOO_LONG);
    let body: serde_json::Value = res.json().await?;
    assert_eq!(body["code"], "uri_too_long", "{body}");

    let big = "b".repeat(33 * 1024);
    let res = client
        .get(app.url("/api/v2/caller-identity"))
        .header("x-padding", &big)
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    let body: serde_json::Value = res.json().await?;
    assert_eq!(body["code"], "headers_too_large", "{body}");

    let res = client
        .get(app.url("/login"))
        .header("x-padding", &big)
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);

    // Just under the limits, the same requests are served.
    let res = client
        .get(app.url(&format!("/login?q={}", "a".repeat(4000))))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    Ok(())
}

/// Opens a connection and sends a request whose chunked body never
/// finishes (the body limit reads chunked bodies before anything else), so
/// it stays in flight until the connection closes.
async fn stalled_request(app: &TestApp, path: &str) -> anyhow::Result<tokio::net::TcpStream> {
    let mut stream = tokio::net::TcpStream::connect(app.addr).await?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\n\r\n8\r\n{{\"name\":\r\n"
    );
    stream.write_all(head.as_bytes()).await?;
    Ok(stream)
}

#[tokio::test]
async fn overload_answers_503_with_retry_after_at_once() -> TestResult {
    let app = launch(|c| c.max_concurrent_requests = 1).await?;
    let stalled = stalled_request(&app, "/api/v2/tokens").await?;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let started = Instant::now();
    let res = bare_client()
        .get(app.url("/api/v2/caller-identity"))
        .send()
        .await?;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "shed at once, not queued"
    );
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.headers().contains_key("retry-after"));
    let body: serde_json::Value = res.json().await?;
    assert_eq!(body["code"], "busy", "{body}");

    let res = bare_client().get(app.url("/login")).send().await?;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.text().await?.contains("Latchkey is busy"));

    // Once the stalled request is gone, the server serves again.
    drop(stalled);
    let mut ok = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if bare_client().get(app.url("/login")).send().await?.status() == StatusCode::OK {
            ok = true;
            break;
        }
    }
    assert!(ok, "served again after the overload");
    Ok(())
}

#[tokio::test]
async fn a_request_that_takes_too_long_gets_503() -> TestResult {
    let app = launch(|c| c.request_timeout = Duration::from_millis(500)).await?;
    let mut stalled = stalled_request(&app, "/api/v2/tokens").await?;
    let started = Instant::now();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), async {
        let mut chunk = [0u8; 4096];
        loop {
            let n = stalled.read(&mut chunk).await?;
            buf.extend_from_slice(&chunk[..n]);
            if n == 0 || buf.windows(4).any(|w| w == b"\r\n\r\n") {
                return std::io::Result::Ok(());
            }
        }
    })
    .await??;
    assert!(started.elapsed() >= Duration::from_millis(450));
    let res = parse_raw_response(&buf)?;
    assert_eq!(res.status, 503, "{}", res.head);
    assert!(
        res.head.to_ascii_lowercase().contains("retry-after"),
        "{}",
        res.head
    );
    Ok(())
}

/// The `Set-Cookie` line of the session cookie named `name`.
fn session_line(res: &reqwest::Response, name: &str) -> Option<String> {
    crate::helpers::set_cookies(res.headers())
        .into_iter()
        .find(|c| c.starts_with(&format!("{name}=")))
}

#[tokio::test]
async fn secure_cookies_use_the_host_prefix_and_send_hsts() -> TestResult {
    let app = launch(|c| c.secure_cookies = true).await?;
    let client = bare_client();
    let res = client.get(app.url("/login")).send().await?;
    assert_eq!(
        res.headers()
            .get("strict-transport-security")
            .and_then(|v| v.to_str().ok()),
        Some("max-age=63072000; includeSubDomains")
    );
    let line = session_line(&res, "__Host-latchkey_session").expect("the __Host- cookie");
    let attributes: Vec<String> = line
        .split(';')
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    for wanted in ["secure", "httponly", "path=/", "samesite=lax"] {
        assert!(attributes.iter().any(|a| a == wanted), "{wanted} in {line}");
    }
    assert!(
        !attributes.iter().any(|a| a.starts_with("domain")),
        "no Domain: {line}"
    );
    assert!(session_line(&res, "latchkey_session").is_none());

    // Signing in works with it, and replaces it (no fixation).
    let cookie = line.split(';').next().unwrap_or_default().to_string();
    let body = res.text().await?;
    let csrf = crate::html::input_value(&body, "csrf_token").unwrap_or_default();
    let res = client
        .post(app.url("/login"))
        .header("cookie", &cookie)
        .form(&[
            ("email", OWNER_EMAIL),
            ("password", crate::helpers::PASSWORD),
            ("csrf_token", &csrf),
        ])
        .send()
        .await?;
    assert_eq!(res.status(), reqwest::StatusCode::SEE_OTHER);
    let rotated = session_line(&res, "__Host-latchkey_session").expect("a new session cookie");
    assert_ne!(rotated.split(';').next(), Some(cookie.as_str()));

    // Without the flag: the plain name, no HSTS (it would lock local HTTP out).
    let plain = launch(|_| {}).await?;
    let res = bare_client().get(plain.url("/login")).send().await?;
    assert!(res.headers().get("strict-transport-security").is_none());
    assert!(session_line(&res, "latchkey_session").is_some());
    Ok(())
}
